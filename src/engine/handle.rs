//! The handle every front end holds: the sale on an SQLite file ([`FileEngine`], with its
//! one writer and group commit), or on a database server through core's application
//! layer over the storage seam ([`Shop`] over [`crate::pg::PgStore`]). The console, the
//! command line, the swarm, the bench and the HTTP server call these operations and
//! never ask which store is underneath, except for what only a file has (its WAL, its
//! single-writer figures).

use std::sync::Arc;
use std::time::Duration;

use flashsale_core::shop::Shop;

use super::{CounterSnapshot, EngineEvent, FileEngine, Paid, WalStats};
use crate::clock::{Clock, Millis};
use crate::error::{Error, Result};
use crate::hold::{Hold, HoldState, Order, ProductInfo, SaleRules, Stock};
use crate::ids::{HoldId, ProductId};
use crate::journal::RunRow;
use crate::pg::PgStore;
use crate::store::Store;
use crate::strategy::Strategy;

/// A sale, on whichever store holds it. Cheap to clone; every clone is the same sale.
#[derive(Clone)]
pub enum Engine {
    /// An SQLite file (the default).
    File(FileEngine),
    /// A database server shared by many processes (`--db postgres://…`): core's shop
    /// over it, and the store itself for what is not the sale's (the HTTP keys).
    Server(Shop, Arc<PgStore>),
}

/// Runs the same call on whichever engine this is.
macro_rules! each {
    ($self:ident, $e:ident => $call:expr) => {
        match $self {
            Engine::File($e) => $call,
            Engine::Server($e, _) => $call,
        }
    };
}

impl Engine {
    /// The engine of an SQLite file.
    pub fn open(store: Store, config: super::EngineConfig) -> Result<Engine> {
        Ok(Engine::File(FileEngine::open(store, config)?))
    }

    /// The SQLite file under this engine, if it is one.
    pub fn file(&self) -> Option<&FileEngine> {
        match self {
            Engine::File(e) => Some(e),
            Engine::Server(..) => None,
        }
    }

    /// The PostgreSQL store under this engine, if it is one.
    pub fn server(&self) -> Option<&PgStore> {
        match self {
            Engine::File(_) => None,
            Engine::Server(_, store) => Some(store),
        }
    }

    /// Where a watcher reads this sale from.
    pub fn reader(&self) -> crate::monitor::Reader {
        match self {
            Engine::File(e) => crate::monitor::Reader::File(e.store().clone()),
            Engine::Server(_, pg) => crate::monitor::Reader::Server(Arc::clone(pg)),
        }
    }

    /// Where the sale lives: a file's path, or a server's URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Engine::File(e) => e.store().path().display().to_string(),
            Engine::Server(s, _) => s.describe(),
        }
    }

    /// The durability figure of the header: SQLite's `synchronous`, or the server's.
    pub fn durability(&self) -> &'static str {
        match self {
            Engine::File(e) => e.store().synchronous().label(),
            Engine::Server(..) => "server",
        }
    }

    pub fn clock(&self) -> &Clock {
        each!(self, e => e.clock())
    }

    pub fn strategy(&self) -> Strategy {
        each!(self, e => e.strategy())
    }

    pub fn set_strategy(&self, strategy: Strategy) -> Result<()> {
        each!(self, e => e.set_strategy(strategy))
    }

    pub fn rules(&self) -> SaleRules {
        each!(self, e => e.rules())
    }

    pub fn ttl_ms(&self) -> Millis {
        each!(self, e => e.ttl_ms())
    }

    pub fn set_hold_ttl(&self, ttl: Duration) -> Result<()> {
        crate::sale::check_hold_ttl(ttl)
            .map_err(|why| Error::Usage(format!("The hold TTL {why}")))?;
        each!(self, e => e.set_hold_ttl(ttl))
    }

    pub fn counters(&self) -> CounterSnapshot {
        each!(self, e => e.counters())
    }

    /// The checkpointer's figures (a server keeps its own WAL: none here).
    pub fn wal_stats(&self) -> WalStats {
        match self {
            Engine::File(e) => e.wal_stats(),
            Engine::Server(..) => WalStats::default(),
        }
    }

    pub fn subscribe(&self) -> crossbeam_channel::Receiver<EngineEvent> {
        each!(self, e => e.subscribe())
    }

    pub fn stock(&self) -> Result<Vec<Stock>> {
        each!(self, e => e.stock())
    }

    pub fn reserve(&self, sku: &str, buyer: &str, qty: i64) -> Result<Hold> {
        each!(self, e => e.reserve(sku, buyer, qty))
    }

    pub fn sweep(&self) -> Result<usize> {
        each!(self, e => e.sweep())
    }

    pub fn start_sweeper(&self) {
        each!(self, e => e.start_sweeper())
    }

    pub fn restock(&self, sku: &str, available: i64) -> Result<()> {
        each!(self, e => e.restock(sku, available))
    }

    pub fn reset(&self) -> Result<()> {
        each!(self, e => e.reset())
    }

    pub fn rebuild_gate(&self) -> Result<()> {
        each!(self, e => e.rebuild_gate())
    }

    pub fn gate_permits(&self, product: ProductId) -> i64 {
        each!(self, e => e.gate_permits(product))
    }

    pub fn gate_name(&self) -> String {
        each!(self, e => e.gate_name())
    }

    pub fn product(&self, sku: &str) -> Result<Arc<ProductInfo>> {
        each!(self, e => e.product(sku))
    }

    pub fn products(&self) -> Vec<Arc<ProductInfo>> {
        each!(self, e => e.products())
    }

    pub fn checkout(&self, hold: &Hold) -> Result<Order> {
        each!(self, e => e.checkout(hold))
    }

    pub fn checkout_id(&self, id: HoldId, buyer: &str) -> Result<Order> {
        Ok(self.pay(id, buyer)?.into_order())
    }

    pub fn pay(&self, id: HoldId, buyer: &str) -> Result<Paid> {
        each!(self, e => e.pay(id, buyer))
    }

    pub fn release(&self, hold: &Hold) -> Result<()> {
        each!(self, e => e.release(hold))
    }

    pub fn release_id(&self, id: HoldId, buyer: &str) -> Result<()> {
        each!(self, e => e.release_id(id, buyer))
    }

    pub fn extend(&self, id: HoldId, buyer: &str) -> Result<Hold> {
        each!(self, e => e.extend(id, buyer))
    }

    pub fn hold(&self, id: HoldId, buyer: &str) -> Result<HoldState> {
        each!(self, e => e.hold(id, buyer))
    }

    /// Units of one run's buyers (their names share `prefix`), by status.
    pub fn units_by_status(&self, product: ProductId, prefix: &str) -> Result<Vec<(String, i64)>> {
        each!(self, e => e.units_by_status(product, prefix))
    }

    /// Units that may still come to a buyer refused `qty`.
    pub fn units_in_play(&self, product: ProductId, qty: i64) -> Result<i64> {
        each!(self, e => e.units_in_play(product, qty))
    }

    /// What could come back of a sold-out product (for "3 holds may return within 4:12").
    pub fn may_return(&self, product: ProductId) -> Result<crate::monitor::MayReturn> {
        each!(self, e => e.may_return(product))
    }

    /// `(rounds, failed rounds)` of the background sweeper so far.
    pub fn sweeper_stats(&self) -> (u64, u64) {
        match self {
            Engine::File(e) => e.sweeper_stats(),
            Engine::Server(..) => (0, 0),
        }
    }

    /// Keeps a finished run in the sale's journal; its id.
    pub fn record_run(&self, run: &RunRow) -> Result<Option<i64>> {
        match self {
            Engine::File(e) => e.record_run(run).map(Some),
            Engine::Server(_, pg) => {
                Ok(Some(crate::pg::journal::insert_run(&mut *pg.conn()?, run)?))
            }
        }
    }

    /// Writes a line of the operator log.
    pub fn log_change(&self, who: &str, what: &str) -> Result<()> {
        match self {
            Engine::File(e) => e.log_change(who, what),
            Engine::Server(shop, pg) => Ok(crate::pg::journal::log(
                &mut *pg.conn()?,
                shop.clock().now(),
                who,
                what,
            )?),
        }
    }

    /// Stores what this seller runs now, for read-only monitors of the same sale.
    pub fn publish_running(&self, who: &str) -> Result<()> {
        match self {
            Engine::File(e) => e.publish_running(who),
            Engine::Server(shop, pg) => {
                let running = crate::journal::Running {
                    who: who.to_owned(),
                    strategy: shop.strategy(),
                    warp: shop.clock().warp(),
                    hold_ttl_ms: crate::clock::duration_ms(shop.rules().hold_ttl),
                    updated_at: shop.clock().now(),
                };
                Ok(crate::pg::journal::set_running(&mut *pg.conn()?, &running)?)
            }
        }
    }

    #[doc(hidden)]
    pub fn hold_writer<T>(&self, f: impl FnOnce() -> T) -> T {
        match self {
            Engine::File(e) => e.hold_writer(f),
            Engine::Server(..) => f(),
        }
    }

    pub fn writer_autocheckpoint(&self) -> Result<i64> {
        match self {
            Engine::File(e) => e.writer_autocheckpoint(),
            Engine::Server(..) => Ok(0),
        }
    }
}
