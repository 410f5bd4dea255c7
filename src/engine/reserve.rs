//! One reservation per strategy. Each says how it keeps two buyers from taking the same
//! unit — or, for `naive`, how it fails to.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{FileEngine, queue};
use crate::backoff::Backoff;
use crate::error::Error;
use crate::gate::Admit;
use crate::hold::{self, Hold, HoldKind, ProductInfo};
use crate::ids::HoldId;
use crate::sql::{Result, SqlError};
use crate::strategy::Strategy;

/// What optimistic's compare-and-set came to.
enum Cas<W> {
    Won(W),
    /// Somebody changed the row first: its committed `(stock, version)` now.
    Lost((i64, i64)),
}

/// Optimistic's pause after a conflict ([`Backoff`]): random up to a ceiling that starts
/// here and doubles, so that thousands of buyers who read the same version do not all
/// try again together. The ceiling must grow to about `buyers × one commit` for the
/// retries to stop colliding: at 20 ms, 1,000 threads never finished (6,022 of 20,000
/// sold in the time limit, 582,000 conflicts).
const BACKOFF_FIRST: Duration = Duration::from_millis(1);
const BACKOFF_MAX: Duration = Duration::from_millis(500);

impl FileEngine {
    pub(super) fn reserve_product(
        &self,
        product: &Arc<ProductInfo>,
        buyer: &str,
        qty: i64,
    ) -> Result<Hold> {
        match self.strategy() {
            Strategy::Naive => self.reserve_naive(product, buyer, qty),
            Strategy::Immediate => self.reserve_immediate(product, buyer, qty),
            Strategy::Optimistic => self.reserve_optimistic(product, buyer, qty),
            Strategy::Atomic => self.reserve_atomic(product, buyer, qty),
            Strategy::Gate => self.reserve_gated(product, buyer, qty),
            Strategy::Queue => queue::reserve(self.inner.funnel()?, product, buyer, qty),
            Strategy::PayFirst => Ok(self.cart(product, buyer, qty)),
        }
    }

    /// UNSAFE on purpose. Autocommit on a pooled connection, no transaction: between the
    /// read and the write another buyer reads the same stock, and both write `stock - 1`.
    fn reserve_naive(&self, product: &ProductInfo, buyer: &str, qty: i64) -> Result<Hold> {
        let result = (|| -> Result<Hold> {
            let conn = self.inner.store.conn()?;
            super::arrival::arrived();
            let now = self.inner.clock.now();
            let (available, _) = hold::available(&conn, product.id)?;
            if available < qty {
                return Err(hold::sold_out(product, available, qty).into());
            }
            let window = self.inner.config.race_window;
            if !window.is_zero() {
                std::thread::sleep(window);
            }
            hold::set_stock(&conn, product.id, available - qty)?;
            hold::insert_hold(&conn, product, buyer, qty, now, self.inner.ttl_ms())
        })();
        if matches!(result, Err(SqlError(Error::Busy))) {
            self.inner.counters.busy.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    /// Pessimistic: the write lock is taken before the stock is read. The transaction
    /// runs on the writer thread, in arrival order, one transaction per hold.
    fn reserve_immediate(&self, product: &Arc<ProductInfo>, buyer: &str, qty: i64) -> Result<Hold> {
        let product = Arc::clone(product);
        let buyer = buyer.to_owned();
        let (hold, returned) = self.inner.funnelled(move |tx, inner| {
            let now = inner.clock.now();
            hold::reserve_locked(tx, &product, &buyer, qty, now, inner.ttl_ms())
        })?;
        self.inner.returned(returned, super::ReturnReason::Expired);
        Ok(hold)
    }

    /// Optimistic: read without a lock, then write only if nobody changed the row since
    /// (its version is the same); otherwise try again with what the failed
    /// compare-and-set found — a committed `(stock, version)` as fresh as a new read, the
    /// way `compare_exchange` returns the current value (and DynamoDB can return the
    /// item on a failed condition) — a bounded number of times. After a conflict a buyer
    /// waits a random, growing moment first, as optimistic clients do: without it ten
    /// thousand buyers who saw the same version all fail together, every round.
    fn reserve_optimistic(
        &self,
        product: &Arc<ProductInfo>,
        buyer: &str,
        qty: i64,
    ) -> Result<Hold> {
        let retries = self.inner.config.optimistic_retries;
        let mut backoff = Backoff::new(BACKOFF_FIRST, BACKOFF_MAX);
        // The read: no lock, a committed state (coalesced with the reads of other buyers
        // waiting at the same moment, see `reader.rs`).
        let mut seen = self.inner.reader()?.stock(product.id)?;
        for attempt in 0..=retries {
            if attempt > 0 {
                self.inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                backoff.wait();
                // What the lost compare-and-set found is old after the pause: read again
                // (a coalesced read, which the writer never sees), or the next try is
                // a conflict already decided.
                seen = self.inner.reader()?.stock(product.id)?;
            }
            let (available, version) = seen;
            if available < qty {
                if self.lazy_expire(product)? {
                    seen = self.inner.reader()?.stock(product.id)?;
                    continue;
                }
                return Err(hold::sold_out(product, available, qty).into());
            }
            match self.compare_and_set(product, buyer, qty, version)? {
                Cas::Won(hold) => return Ok(hold),
                Cas::Lost(current) => {
                    self.inner
                        .counters
                        .conflicts
                        .fetch_add(1, Ordering::Relaxed);
                    seen = current;
                }
            }
        }
        Err(Error::Conflict {
            product: product.name.clone(),
            retries,
        }
        .into())
    }

    /// Optimistic's write, on the writer thread: take the units only if the version is
    /// still `version`. IMMEDIATE only to make the compare-and-set and the insert one
    /// unit; the decision rests on the version check, not on the lock.
    fn compare_and_set(
        &self,
        product: &Arc<ProductInfo>,
        buyer: &str,
        qty: i64,
        version: i64,
    ) -> Result<Cas<Hold>> {
        let product = Arc::clone(product);
        let buyer = buyer.to_owned();
        let id = product.id;
        self.inner.alone(false, move |conn, inner| {
            // A newer version was committed here already: the compare-and-set cannot
            // succeed, and needs no transaction to say so. (Versions only go up.)
            let known = inner.versions.lock().get(&id).copied();
            let result = match known {
                Some(current) if current.1 > version => Ok(Cas::Lost(current)),
                _ => inner.transact(conn, |tx| {
                    let after = hold::take_stock_at(tx, id, qty, version)?;
                    let Some(after) = after else {
                        return Ok(Cas::Lost(hold::available(tx, id)?));
                    };
                    hold::check_limit(tx, &product, &buyer, qty)?;
                    let now = inner.clock.now();
                    let hold = hold::insert_hold(tx, &product, &buyer, qty, now, inner.ttl_ms())?;
                    Ok(Cas::Won((hold, after)))
                }),
            };
            // Remember the newest committed version seen (only once committed: a
            // version that did not land would turn every later attempt away).
            let committed = match &result {
                Ok(Cas::Won((_, after))) => Some(*after),
                Ok(Cas::Lost(current)) => Some(*current),
                Err(_) => None,
            };
            if let Some(state) = committed {
                let mut versions = inner.versions.lock();
                let entry = versions.entry(id).or_insert(state);
                if state.1 > entry.1 {
                    *entry = state;
                }
            }
            result.map(|cas| match cas {
                Cas::Won((hold, _)) => Cas::Won(hold),
                Cas::Lost(current) => Cas::Lost(current),
            })
        })
    }

    /// Atomic: the check and the decrement are one statement, so there is nothing to race.
    fn reserve_atomic(&self, product: &Arc<ProductInfo>, buyer: &str, qty: i64) -> Result<Hold> {
        let product = Arc::clone(product);
        let buyer = buyer.to_owned();
        let (hold, returned) = self.inner.funnelled(move |tx, inner| {
            let now = inner.clock.now();
            let mut returned = Vec::new();
            if !hold::take_stock(tx, product.id, qty)? {
                returned = hold::expire_product(tx, product.id, now)?;
                if returned.is_empty() || !hold::take_stock(tx, product.id, qty)? {
                    let (available, _) = hold::available(tx, product.id)?;
                    return Err(hold::sold_out(&product, available, qty).into());
                }
            }
            hold::check_limit(tx, &product, &buyer, qty)?;
            Ok((
                hold::insert_hold(tx, &product, &buyer, qty, now, inner.ttl_ms())?,
                returned,
            ))
        })?;
        self.inner.returned(returned, super::ReturnReason::Expired);
        Ok(hold)
    }

    /// The gate answers losers from memory; its winners take the `immediate` path, so the
    /// database still decides. The gate is corrected by what the database says.
    fn reserve_gated(&self, product: &Arc<ProductInfo>, buyer: &str, qty: i64) -> Result<Hold> {
        let gate = &self.inner.gate;
        super::arrival::arrived();
        let mut admit = gate.try_acquire(product.id, qty)?;
        if admit == Admit::Lost {
            // Redis came back empty: its count is rebuilt from the database before anyone
            // is answered (a guess could only refuse wrongly; the database decides holds).
            self.rebuild_gate()?;
            admit = gate.try_acquire(product.id, qty)?;
        }
        match admit {
            Admit::Granted => {}
            Admit::SoldOut { permits } => {
                let returned = self.inner.due() && self.inner.sweep()? > 0;
                if !(returned && gate.try_acquire(product.id, qty)? == Admit::Granted) {
                    return Err(hold::sold_out(product, permits, qty).into());
                }
            }
            Admit::Lost => {
                return Err(Error::Usage(format!(
                    "The gate at {} lost its count again right after it was rebuilt; check the Redis server",
                    gate.describe()
                )).into());
            }
        }
        match self.reserve_immediate(product, buyer, qty) {
            Ok(hold) => {
                gate.held(&hold);
                Ok(hold)
            }
            Err(SqlError(e @ Error::SoldOut { available, .. })) => {
                gate.clamp(product.id, available);
                Err(e.into())
            }
            Err(e) => {
                gate.release(product.id, qty);
                Err(e)
            }
        }
    }

    /// Pay-first: nothing is claimed at add-to-cart.
    fn cart(&self, product: &ProductInfo, buyer: &str, qty: i64) -> Hold {
        super::arrival::arrived();
        let now = self.inner.clock.now();
        Hold {
            id: HoldId::at(now),
            product_id: product.id,
            buyer: buyer.to_owned(),
            qty,
            created_at: now,
            expires_at: now + self.inner.ttl_ms(),
            kind: HoldKind::Cart,
        }
    }

    /// Runs the sweeper now if a hold is known to be due; true if units came back.
    fn lazy_expire(&self, _product: &ProductInfo) -> Result<bool> {
        Ok(self.inner.due() && self.inner.sweep()? > 0)
    }
}
