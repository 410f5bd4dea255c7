//! The SQLite file as an implementation of core's storage seam ([`Store`]): each state
//! change is one of [`crate::hold`]'s functions in a `BEGIN IMMEDIATE` transaction on
//! this engine's writer funnel (so the single-writer discipline holds for the seam's
//! callers too), and reads go to the pool. Core's [`flashsale_core::shop::Shop`] runs on
//! it as it runs on PostgreSQL; the race tests run one body on both
//! (`tests/stores.rs`). The file engine's own front door (`Engine::File`) keeps what
//! only a file needs on top: group commit of pay/release/extend, optimistic's coalesced
//! reads, the checkpointer.

use std::sync::Arc;
use std::time::Duration;

use flashsale_core::store::{Batch, Settled, Store, Take, Taken};

use super::FileEngine;
use crate::backoff::Backoff;
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::hold::{
    self, Checkout, ExtendRules, Hold, HoldState, MayReturn, Order, ProductInfo, Returned,
    SaleRules, Stock,
};
use crate::ids::{HoldId, ProductId};
use crate::sql::SqlError;
use crate::strategy::Strategy;

/// Compare-and-set rounds before `optimistic` gives up.
const OPTIMISTIC_RETRIES: u32 = 64;

impl FileEngine {
    /// `f` in one `BEGIN IMMEDIATE` transaction on the writer funnel.
    fn change<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> crate::sql::Result<T> + Send + 'static,
    ) -> Result<T> {
        Ok(self.inner.funnelled(move |tx, _| f(tx))?)
    }

    fn read<T>(&self, f: impl FnOnce(&rusqlite::Connection) -> crate::sql::Result<T>) -> Result<T> {
        let conn = self.inner.store.conn()?;
        Ok(f(&conn)?)
    }
}

impl Store for FileEngine {
    fn describe(&self) -> String {
        self.inner.store.path().display().to_string()
    }

    fn rules(&self) -> Result<SaleRules> {
        self.read(crate::sale::rules)?
            .ok_or_else(|| Error::Usage("the file holds no sale yet; run `flashsale init`".into()))
    }

    fn set_hold_ttl(&self, ttl_ms: Millis) -> Result<()> {
        let ttl = Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0));
        self.change(move |tx| crate::sale::set_hold_ttl(tx, ttl))
    }

    fn products(&self) -> Result<Vec<ProductInfo>> {
        self.read(hold::all_products)
    }

    fn stock(&self) -> Result<Vec<Stock>> {
        self.read(hold::stock)
    }

    fn reserve(&self, strategy: Strategy, take: &Take) -> Result<Taken> {
        let t = take.clone();
        match strategy {
            Strategy::Naive => {
                // Autocommit on a pooled connection: the lost update, on purpose.
                let conn = self.inner.store.conn()?;
                let (available, _) = hold::available(&conn, t.product.id)?;
                if available < t.qty {
                    return Err(hold::sold_out(&t.product, available, t.qty));
                }
                std::thread::sleep(self.inner.config.race_window);
                hold::set_stock(&conn, t.product.id, available - t.qty)?;
                let hold = hold::insert_hold(&conn, &t.product, &t.buyer, t.qty, t.now, t.ttl_ms)?;
                Ok(Taken {
                    hold,
                    returned: Vec::new(),
                })
            }
            Strategy::Optimistic => self.seam_optimistic(take),
            Strategy::Atomic => self.change(move |tx| {
                let mut returned = Vec::new();
                if !hold::take_stock(tx, t.product.id, t.qty)? {
                    returned = hold::expire_product(tx, t.product.id, t.now)?;
                    if returned.is_empty() || !hold::take_stock(tx, t.product.id, t.qty)? {
                        let (available, _) = hold::available(tx, t.product.id)?;
                        return Err(hold::sold_out(&t.product, available, t.qty).into());
                    }
                }
                hold::check_limit(tx, &t.product, &t.buyer, t.qty)?;
                let hold = hold::insert_hold(tx, &t.product, &t.buyer, t.qty, t.now, t.ttl_ms)?;
                Ok(Taken { hold, returned })
            }),
            _ => self.change(move |tx| {
                let (hold, returned) =
                    hold::reserve_locked(tx, &t.product, &t.buyer, t.qty, t.now, t.ttl_ms)?;
                Ok(Taken { hold, returned })
            }),
        }
    }

    /// The group in one transaction, each take in a savepoint of its own: a refusal
    /// undoes only itself.
    fn reserve_batch(&self, takes: &[Take]) -> Result<Batch> {
        let takes = takes.to_vec();
        self.change(move |tx| {
            let mut answers = Vec::with_capacity(takes.len());
            let mut returned = Vec::new();
            for t in &takes {
                tx.execute_batch("SAVEPOINT take")?;
                match hold::reserve_locked(tx, &t.product, &t.buyer, t.qty, t.now, t.ttl_ms) {
                    Ok((hold, back)) => {
                        tx.execute_batch("RELEASE take")?;
                        returned.extend(back);
                        answers.push(Ok(hold));
                    }
                    Err(SqlError(e)) if !e.is_fault() => {
                        tx.execute_batch("ROLLBACK TO take; RELEASE take")?;
                        answers.push(Err(e));
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(Batch { answers, returned })
        })
    }

    fn pay_first(&self, cart: &Hold, now: Millis) -> Result<(Settled, Vec<Returned>)> {
        let product = self.product_by_id(cart.product_id)?;
        let cart = cart.clone();
        self.change(move |tx| {
            Ok(match hold::pay_first(tx, &product, &cart, now)? {
                Ok(order) => (Settled::Paid(order), Vec::new()),
                Err(returned) => (Settled::Refunded, returned),
            })
        })
    }

    fn checkout(&self, id: HoldId, buyer: &str, now: Millis) -> Result<Checkout> {
        let buyer = buyer.to_owned();
        self.change(move |tx| hold::checkout(tx, id, &buyer, now))
    }

    fn release(&self, id: HoldId, buyer: &str, now: Millis) -> Result<Returned> {
        let buyer = buyer.to_owned();
        self.change(move |tx| hold::release(tx, id, &buyer, now))
    }

    fn extend(&self, id: HoldId, buyer: &str, now: Millis, rules: ExtendRules) -> Result<Hold> {
        let buyer = buyer.to_owned();
        self.change(move |tx| hold::extend(tx, id, &buyer, now, rules))
    }

    fn order_of(&self, id: HoldId) -> Result<Order> {
        self.read(|c| hold::order_of(c, id))
    }

    fn hold(&self, id: HoldId, buyer: &str) -> Result<HoldState> {
        self.read(|c| hold::hold_state(c, id, buyer))
    }

    fn expire_due(&self, now: Millis, limit: i64) -> Result<Vec<Returned>> {
        self.change(move |tx| hold::expire_due(tx, now, limit))
    }

    fn next_deadline(&self) -> Result<Option<Millis>> {
        self.read(hold::next_deadline)
    }

    fn units_by_status(&self, product: ProductId, prefix: &str) -> Result<Vec<(String, i64)>> {
        self.read(|c| hold::units_by_status(c, product, prefix))
    }

    fn units_in_play(&self, product: ProductId, qty: i64) -> Result<i64> {
        self.read(|c| hold::units_in_play(c, product, qty))
    }

    fn may_return(&self, product: ProductId) -> Result<MayReturn> {
        self.read(|c| crate::monitor::may_return(c, product))
    }

    fn restock(&self, product: ProductId, available: i64) -> Result<()> {
        self.change(move |tx| hold::restock(tx, product, available))
    }

    fn reset(&self) -> Result<()> {
        self.change(hold::reset)
    }
}

impl FileEngine {
    /// `optimistic` through the seam: read `(stock, version)` without a lock, then a
    /// compare-and-set in its own transaction, retried with jittered backoff.
    fn seam_optimistic(&self, take: &Take) -> Result<Taken> {
        let product = Arc::new(take.product.clone());
        let mut backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(500));
        for attempt in 0..=OPTIMISTIC_RETRIES {
            if attempt > 0 {
                backoff.wait();
            }
            let (available, version) = self.read(|c| hold::available(c, product.id))?;
            if available < take.qty {
                let now = take.now;
                let id = product.id;
                if self
                    .change(move |tx| hold::expire_product(tx, id, now))?
                    .is_empty()
                {
                    return Err(hold::sold_out(&product, available, take.qty));
                }
                continue;
            }
            let (p, t) = (Arc::clone(&product), take.clone());
            let won = self.change(move |tx| {
                if hold::take_stock_at(tx, p.id, t.qty, version)?.is_none() {
                    return Ok(None);
                }
                hold::check_limit(tx, &p, &t.buyer, t.qty)?;
                Ok(Some(hold::insert_hold(
                    tx, &p, &t.buyer, t.qty, t.now, t.ttl_ms,
                )?))
            })?;
            if let Some(hold) = won {
                return Ok(Taken {
                    hold,
                    returned: Vec::new(),
                });
            }
        }
        Err(Error::Conflict {
            product: product.name.clone(),
            retries: OPTIMISTIC_RETRIES,
        })
    }
}
