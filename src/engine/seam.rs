//! The SQLite file as an implementation of core's storage seam ([`Store`]): each state
//! change is one of [`crate::hold`]'s functions in a `BEGIN IMMEDIATE` transaction on
//! the writer funnel (alone, or in a group commit), and reads go to the pool. Core's
//! [`flashsale_core::shop::Shop`] runs on it as it runs on PostgreSQL; the race tests
//! run one body on both (`tests/stores.rs`).
//!
//! What only a file does stays below the seam: the queue's add-to-carts and every
//! payment, release and extension share the writer's group commit (so the file
//! [`groups`](Store::groups) itself), optimistic's reads are coalesced, and the
//! checkpointer keeps the WAL bounded.

use std::sync::Arc;
use std::time::Duration;

use flashsale_core::metrics::Counters;
use flashsale_core::store::{Batch, ReturnSink, Settled, Store, Take, Taken, Then};

use super::{FileEngine, group};
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::hold::{
    self, Checkout, ExtendRules, Hold, HoldState, MayReturn, Order, ProductInfo, Returned,
    SaleRules, Stock,
};
use crate::ids::{HoldId, ProductId};
use crate::sql::SqlError;
use crate::strategy::Strategy;

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
    fn groups(&self) -> bool {
        true
    }

    fn counters(&self) -> Option<Arc<Counters>> {
        Some(Arc::clone(&self.inner.counters))
    }

    fn on_returned(&self, sink: ReturnSink) {
        let _ = self.inner.returns.set(sink);
    }

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
        Ok(self.reserve_by(strategy, take)?)
    }

    fn start_queued(&self, take: Take, then: Then) {
        match self.inner.funnel() {
            Ok(writer) => super::queue::start(writer, take, then),
            Err(e) => then(Err(e.into())),
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

    /// Settled in the writer's group commit, stamped when the writer settles it (`now`
    /// only turned away carts already too old). It takes stock: the grants beside it
    /// are written first.
    fn pay_first(
        &self,
        product: &ProductInfo,
        cart: &Hold,
        _now: Millis,
    ) -> Result<(Settled, Vec<Returned>)> {
        let (product, cart) = (product.clone(), cart.clone());
        let buyer = cart.buyer.clone();
        let settled = self
            .inner
            .grouped(&buyer, group::Touches::Stock, move |tx, inner| {
                hold::pay_first(tx, &product, &cart, inner.clock.now())
            })?;
        Ok(match settled {
            Ok(order) => (Settled::Paid(order), Vec::new()),
            Err(returned) => (Settled::Refunded, returned),
        })
    }

    /// In the writer's group commit: a payment touches only its own hold; one that
    /// finds it expired gives its units back and frees its buyer's limit.
    fn checkout(&self, id: HoldId, buyer: &str, now: Millis) -> Result<Checkout> {
        let owner = buyer.to_owned();
        let expired = group::Touches::When(|c: &Checkout| matches!(c, Checkout::Expired(_)));
        Ok(self.inner.grouped(buyer, expired, move |tx, _| {
            hold::checkout(tx, id, &owner, now)
        })?)
    }

    fn release(&self, id: HoldId, buyer: &str, now: Millis) -> Result<Returned> {
        let owner = buyer.to_owned();
        Ok(self
            .inner
            .grouped(buyer, group::Touches::When(|_| true), move |tx, _| {
                hold::release(tx, id, &owner, now)
            })?)
    }

    fn extend(&self, id: HoldId, buyer: &str, now: Millis, rules: ExtendRules) -> Result<Hold> {
        let owner = buyer.to_owned();
        Ok(self
            .inner
            .grouped(buyer, group::Touches::When(|_| false), move |tx, _| {
                hold::extend(tx, id, &owner, now, rules)
            })?)
    }

    fn order_of(&self, id: HoldId) -> Result<Order> {
        self.read(|c| hold::order_of(c, id))
    }

    fn hold(&self, id: HoldId, buyer: &str) -> Result<HoldState> {
        self.read(|c| hold::hold_state(c, id, buyer))
    }

    /// In the writer's urgent lane: at least a few reservations are served between two
    /// batches, and a batch never waits behind the whole queue. (On the fair mutex, the
    /// writer got one job in per batch: 250 holds/s while 100,000 holds expired.) Each
    /// batch stamps its own time, so `closed_at` says when its units were really back.
    fn expire_due(&self, _now: Millis, limit: i64) -> Result<Vec<Returned>> {
        Ok(self
            .inner
            .funnelled_urgent(move |tx, inner| hold::expire_due(tx, inner.clock.now(), limit))?)
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
