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

/// A sale, on whichever store holds it: core's [`Shop`] (the application layer: the
/// strategies, the rules, the gate, the events, the sweeper) over the store. Cheap to
/// clone; every clone is the same sale.
#[derive(Clone)]
pub struct Engine {
    shop: Shop,
    backing: Backing,
}

/// The store under the shop, for what only it has (a file's WAL and journal, a
/// server's HTTP keys).
#[derive(Clone)]
enum Backing {
    /// An SQLite file (the default).
    File(FileEngine),
    /// A database server shared by many processes (`--db postgres://…`).
    Server(Arc<PgStore>),
}

impl Engine {
    /// The engine of an SQLite file.
    pub fn open(store: Store, config: super::EngineConfig) -> Result<Engine> {
        if let Some(ttl) = config.hold_ttl {
            crate::sale::check_hold_ttl(ttl)
                .map_err(|why| Error::Usage(format!("The hold TTL {why}")))?;
        }
        let file = FileEngine::open(store, config.clone())?;
        let gate = super::open_gate(file.store(), config.gate.as_deref())?;
        let shop = Shop::open(Arc::new(file.clone()), gate, config.shop())?;
        Ok(Engine {
            shop,
            backing: Backing::File(file),
        })
    }

    /// The engine of a sale on a database server: `shop` runs over `store`.
    pub fn on_server(shop: Shop, store: Arc<PgStore>) -> Engine {
        Engine {
            shop,
            backing: Backing::Server(store),
        }
    }

    /// The application layer every front end calls through this handle.
    pub fn shop(&self) -> &Shop {
        &self.shop
    }

    /// The SQLite file under this engine, if it is one.
    pub fn file(&self) -> Option<&FileEngine> {
        match &self.backing {
            Backing::File(e) => Some(e),
            Backing::Server(..) => None,
        }
    }

    /// The PostgreSQL store under this engine, if it is one.
    pub fn server(&self) -> Option<&PgStore> {
        match &self.backing {
            Backing::File(_) => None,
            Backing::Server(store) => Some(store),
        }
    }

    /// Where a watcher reads this sale from.
    pub fn reader(&self) -> crate::monitor::Reader {
        match &self.backing {
            Backing::File(e) => crate::monitor::Reader::File(e.store().clone()),
            Backing::Server(pg) => crate::monitor::Reader::Server(Arc::clone(pg)),
        }
    }

    /// Where the sale lives: a file's path, or a server's URL without its password.
    pub fn describe(&self) -> String {
        match &self.backing {
            Backing::File(e) => e.store().path().display().to_string(),
            Backing::Server(_) => self.shop.describe(),
        }
    }

    /// The durability figure of the header: SQLite's `synchronous`, or the server's.
    pub fn durability(&self) -> &'static str {
        match &self.backing {
            Backing::File(e) => e.store().synchronous().label(),
            Backing::Server(..) => "server",
        }
    }

    pub fn clock(&self) -> &Clock {
        self.shop.clock()
    }

    pub fn strategy(&self) -> Strategy {
        self.shop.strategy()
    }

    pub fn set_strategy(&self, strategy: Strategy) -> Result<()> {
        self.shop.set_strategy(strategy)
    }

    pub fn rules(&self) -> SaleRules {
        self.shop.rules()
    }

    pub fn ttl_ms(&self) -> Millis {
        self.shop.ttl_ms()
    }

    pub fn set_hold_ttl(&self, ttl: Duration) -> Result<()> {
        crate::sale::check_hold_ttl(ttl)
            .map_err(|why| Error::Usage(format!("The hold TTL {why}")))?;
        self.shop.set_hold_ttl(ttl)
    }

    pub fn counters(&self) -> CounterSnapshot {
        self.shop.counters()
    }

    /// The checkpointer's figures (a server keeps its own WAL: none here).
    pub fn wal_stats(&self) -> WalStats {
        match &self.backing {
            Backing::File(e) => e.wal_stats(),
            Backing::Server(..) => WalStats::default(),
        }
    }

    /// How a file's writer and waker threads have spent their time so far (a server has
    /// neither here).
    pub fn thread_times(&self) -> super::EngineThreads {
        self.file()
            .map(super::FileEngine::thread_times)
            .unwrap_or_default()
    }

    /// How a file's writer thread has spent its time so far.
    pub fn writer_times(&self) -> Option<super::ThreadTimes> {
        self.thread_times().writer
    }

    pub fn subscribe(&self) -> crossbeam_channel::Receiver<EngineEvent> {
        self.shop.subscribe()
    }

    pub fn stock(&self) -> Result<Vec<Stock>> {
        self.shop.stock()
    }

    pub fn reserve(&self, sku: &str, buyer: &str, qty: i64) -> Result<Hold> {
        self.shop.reserve(sku, buyer, qty)
    }

    /// Add to cart without blocking: see [`Shop::start_reserve`].
    pub fn start_reserve(
        &self,
        sku: &str,
        buyer: &str,
        qty: i64,
        then: flashsale_core::shop::Answered,
    ) -> std::result::Result<(), flashsale_core::shop::Answered> {
        self.shop.start_reserve(sku, buyer, qty, then)
    }

    pub fn sweep(&self) -> Result<usize> {
        self.shop.sweep()
    }

    pub fn start_sweeper(&self) {
        self.shop.start_sweeper()
    }

    pub fn restock(&self, sku: &str, available: i64) -> Result<()> {
        self.shop.restock(sku, available)
    }

    pub fn reset(&self) -> Result<()> {
        self.shop.reset()
    }

    pub fn rebuild_gate(&self) -> Result<()> {
        self.shop.rebuild_gate()
    }

    pub fn gate_permits(&self, product: ProductId) -> i64 {
        self.shop.gate_permits(product)
    }

    pub fn gate_name(&self) -> String {
        self.shop.gate_name()
    }

    pub fn product(&self, sku: &str) -> Result<Arc<ProductInfo>> {
        self.shop.product(sku)
    }

    pub fn products(&self) -> Vec<Arc<ProductInfo>> {
        self.shop.products()
    }

    pub fn checkout(&self, hold: &Hold) -> Result<Order> {
        self.shop.checkout(hold)
    }

    pub fn checkout_id(&self, id: HoldId, buyer: &str) -> Result<Order> {
        Ok(self.pay(id, buyer)?.into_order())
    }

    pub fn pay(&self, id: HoldId, buyer: &str) -> Result<Paid> {
        self.shop.pay(id, buyer)
    }

    pub fn release(&self, hold: &Hold) -> Result<()> {
        self.shop.release(hold)
    }

    pub fn release_id(&self, id: HoldId, buyer: &str) -> Result<()> {
        self.shop.release_id(id, buyer)
    }

    pub fn extend(&self, id: HoldId, buyer: &str) -> Result<Hold> {
        self.shop.extend(id, buyer)
    }

    pub fn hold(&self, id: HoldId, buyer: &str) -> Result<HoldState> {
        self.shop.hold(id, buyer)
    }

    /// Units of one run's buyers (their names share `prefix`), by status.
    pub fn units_by_status(&self, product: ProductId, prefix: &str) -> Result<Vec<(String, i64)>> {
        self.shop.units_by_status(product, prefix)
    }

    /// Units that may still come to a buyer refused `qty`.
    pub fn units_in_play(&self, product: ProductId, qty: i64) -> Result<i64> {
        self.shop.units_in_play(product, qty)
    }

    /// What could come back of a sold-out product (for "3 holds may return within 4:12").
    pub fn may_return(&self, product: ProductId) -> Result<crate::monitor::MayReturn> {
        self.shop.may_return(product)
    }

    /// `(rounds, failed rounds)` of the background sweeper so far.
    pub fn sweeper_stats(&self) -> (u64, u64) {
        self.shop.sweeper_stats()
    }

    /// Keeps a finished run in the sale's journal; its id.
    pub fn record_run(&self, run: &RunRow) -> Result<Option<i64>> {
        match &self.backing {
            Backing::File(e) => e.record_run(run).map(Some),
            Backing::Server(pg) => Ok(Some(crate::pg::journal::insert_run(&mut *pg.conn()?, run)?)),
        }
    }

    /// Writes a line of the operator log.
    pub fn log_change(&self, who: &str, what: &str) -> Result<()> {
        let at = self.clock().now();
        match &self.backing {
            Backing::File(e) => e.log_change(at, who, what),
            Backing::Server(pg) => Ok(crate::pg::journal::log(&mut *pg.conn()?, at, who, what)?),
        }
    }

    /// Stores what this seller runs now, for read-only monitors of the same sale.
    pub fn publish_running(&self, who: &str) -> Result<()> {
        let running = crate::journal::Running {
            who: who.to_owned(),
            strategy: self.strategy(),
            warp: self.clock().warp(),
            hold_ttl_ms: crate::clock::duration_ms(self.rules().hold_ttl),
            updated_at: self.clock().now(),
        };
        match &self.backing {
            Backing::File(e) => e.set_running(&running),
            Backing::Server(pg) => Ok(crate::pg::journal::set_running(&mut *pg.conn()?, &running)?),
        }
    }

    #[doc(hidden)]
    pub fn hold_writer<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.backing {
            Backing::File(e) => e.hold_writer(f),
            Backing::Server(..) => f(),
        }
    }

    /// See [`FileEngine::writer_setting`](crate::engine::FileEngine::writer_setting).
    #[doc(hidden)]
    pub fn writer_setting(&self, pragma: &'static str) -> Result<Option<i64>> {
        match &self.backing {
            Backing::File(e) => e.writer_setting(pragma).map(Some),
            Backing::Server(..) => Ok(None),
        }
    }
}
