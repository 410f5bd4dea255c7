//! The engine handle: owns the store, the writer funnel, the clock, the strategy and the
//! background work, and publishes small events. Cheap to clone; every clone is the same
//! engine. The state changes themselves are the plain functions of [`crate::hold`].
//!
//! # Threads
//!
//! - `writer` runs every strategy's write transaction first-in first-out on the one
//!   writer connection (`writer.rs`): one commit per hold for `immediate`, `atomic`,
//!   `optimistic` and `gate`; group commit (`group.rs`) for `queue`'s add-to-carts
//!   (`queue.rs`) and for every payment, release and extension. Sweeper batches come in
//!   its urgent lane.
//! - `waker` wakes the buyers the writer (and the reader) answered, so the writer never
//!   spends its time on system calls for them (`reply.rs`).
//! - `reader`, started on first use, answers optimistic's reads of `(stock, version)`,
//!   one `SELECT` for all the buyers waiting at that moment (`reader.rs`).
//! - `sweeper` expires holds when their deadline passes (`sweeper.rs`).
//! - `checkpointer` copies the WAL into the database file on a connection of its own,
//!   and keeps the WAL bounded, so that no commit pays for a checkpoint
//!   (`checkpointer.rs`).

pub(crate) mod arrival;
mod carts;
mod catalog;
mod changes;
mod checkpointer;
use flashsale_core::events;
mod funnel;
mod group;
mod handle;
mod journal;
mod lookup;
mod queue;
mod reader;
mod reply;
mod reserve;
mod reset;
mod rows;
mod seam;
mod sweeper;
mod writer;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::{FairMutex, Mutex, RwLock};
use rusqlite::{Connection, TransactionBehavior};

use crate::clock::{Clock, Millis};
use crate::error::{Error, Result};
use crate::gate::{Gate, LocalGate};
use crate::hold::{self, Hold, HoldKind, ProductInfo, Returned, Stock};
use crate::ids::ProductId;
use crate::sale::{self, SaleRules};
use crate::sql::Result as SqlResult;
use crate::store::Store;
use crate::strategy::Strategy;

pub use checkpointer::{DEFAULT_WAL_BOUND, WalStats};
pub use flashsale_core::events::{EngineEvent, ReturnReason};
pub use flashsale_core::model::Paid;
pub use handle::Engine;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub strategy: Strategy,
    pub clock: Clock,
    /// How long `naive` waits between reading and writing the stock: the window in which
    /// another buyer reads the same number. Makes the lost update reproducible on stage.
    pub race_window: Duration,
    /// How often `optimistic` retries after a version conflict before giving up.
    pub optimistic_retries: u32,
    /// The most requests the queue's writer commits in one transaction.
    pub queue_batch: usize,
    /// The most holds one sweeper transaction expires, so reservations interleave.
    pub sweep_batch: i64,
    /// Run the background sweeper (tests with a manual clock call `sweep` themselves).
    pub sweeper: bool,
    /// A hold TTL for this engine only, instead of the sale's.
    pub hold_ttl: Option<Duration>,
    /// The WAL file's bound in bytes, kept by the checkpointer thread (`checkpointer.rs`)
    /// so that commits never checkpoint. Zero: no checkpointer, and the writer
    /// checkpoints inside its commits as SQLite does by default.
    pub wal_bound: u64,
    /// `redis://HOST:PORT`: keep the gate's count in Redis, shared by every process
    /// selling this stock, instead of in this process.
    pub gate: Option<String>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            strategy: Strategy::Immediate,
            clock: Clock::real(),
            race_window: Duration::from_millis(1),
            optimistic_retries: 64,
            queue_batch: 512,
            sweep_batch: 500,
            sweeper: true,
            hold_ttl: None,
            wal_bound: DEFAULT_WAL_BOUND,
            gate: None,
        }
    }
}

pub use flashsale_core::metrics::{CounterSnapshot, Counters};

#[derive(Clone)]
pub struct FileEngine {
    inner: Arc<Inner>,
}

/// FileEngine ids, for the per-thread caches (an address could be reused by a later engine).
static ENGINE_IDS: AtomicU64 = AtomicU64::new(0);

pub(crate) struct Inner {
    /// This engine among the process's engines.
    id: u64,
    store: Store,
    /// The one writer connection of this process. The writer thread (`writer.rs`) runs
    /// the reservations, payments and sweeps on it in arrival order; [`FileEngine::write`]
    /// callers (checkout, release, extend, restock, the console) take turns with it
    /// through this *fair* mutex, first-come, first-served, instead of sleeping in
    /// SQLite's busy handler (which wakes them in no order and wastes the single
    /// writer). Another process on the same file is kept out by SQLite's own lock and
    /// the busy timeout.
    writer: FairMutex<Connection>,
    clock: Clock,
    strategy: AtomicU8,
    config: EngineConfig,
    /// Sale rules, cached; changed only through `set_hold_ttl`.
    rules: RwLock<SaleRules>,
    /// sku -> product facts that never change during a sale; a miss reloads from the
    /// database once before `UnknownSku`.
    catalog: RwLock<HashMap<String, Arc<ProductInfo>>>,
    /// The gate seam: this process's counter, or Redis.
    gate: Box<dyn Gate>,
    /// The earliest deadline of an active hold this process knows of (`i64::MAX` if
    /// none): lets sold-out paths and the sweeper skip the database when nothing is due.
    next_deadline: AtomicI64,
    counters: Counters,
    events: events::Bus,
    /// The writer thread's queue: reservations and payments, first-in first-out.
    /// Set once, right after the engine is built (the thread needs a weak handle on it).
    funnel: OnceLock<writer::WriterHandle>,
    /// Optimistic's coalesced reads; started on the first one (`reader_start` makes sure
    /// only one thread starts it).
    reader: OnceLock<reader::ReaderHandle>,
    reader_start: Mutex<()>,
    /// The newest committed `(stock_available, version)` optimistic's compare-and-set
    /// has seen for a product. Versions only ever go up, so a compare-and-set against an
    /// older version must fail: the writer answers it without a transaction. Touched by
    /// the writer thread only.
    versions: Mutex<HashMap<ProductId, (i64, i64)>>,
    sweeper: Mutex<Option<sweeper::SweeperHandle>>,
    /// Rounds of the background sweeper, and how many of them failed: a sweeper that
    /// spins on an error shows here (and in tests) without timing anything.
    sweeper_passes: AtomicU64,
    sweeper_failures: AtomicU64,
    /// Pay-first's carts as handed out: only these are paid for.
    carts: carts::Carts,
    /// What the checkpointer saw and did.
    wal: checkpointer::Stats,
}

impl FileEngine {
    /// Opens the engine on a store that already holds a sale.
    pub fn open(store: Store, config: EngineConfig) -> Result<FileEngine> {
        let writer = store.dedicated()?;
        let mut rules = sale::rules(&writer)?.ok_or_else(|| Error::NotADatabase {
            path: store.path().to_path_buf(),
            why: "it holds no sale yet; run `flashsale init`".into(),
        })?;
        if let Some(ttl) = config.hold_ttl {
            sale::check_hold_ttl(ttl).map_err(|why| Error::Usage(format!("The hold TTL {why}")))?;
            rules.hold_ttl = ttl;
            rules.max_hold = rules.max_hold.max(ttl);
        }
        let products = hold::all_products(&writer)?;
        let catalog = products
            .into_iter()
            .map(|p| (p.sku.clone(), Arc::new(p)))
            .collect();
        let next = hold::next_deadline(&writer)?.unwrap_or(i64::MAX);
        let bound = if store.read_only() {
            0
        } else {
            config.wal_bound
        };
        if bound > 0 {
            checkpointer::configure_writer(&writer, bound)?;
        }
        let gate = open_gate(&store, config.gate.as_deref())?;
        let inner = Arc::new(Inner {
            id: ENGINE_IDS.fetch_add(1, Ordering::Relaxed),
            clock: config.clock.clone(),
            strategy: AtomicU8::new(config.strategy.to_u8()),
            writer: FairMutex::new(writer),
            store,
            rules: RwLock::new(rules),
            catalog: RwLock::new(catalog),
            gate,
            next_deadline: AtomicI64::new(next),
            counters: Counters::default(),
            events: events::Bus::default(),
            funnel: OnceLock::new(),
            reader: OnceLock::new(),
            reader_start: Mutex::new(()),
            versions: Mutex::new(HashMap::new()),
            sweeper: Mutex::new(None),
            sweeper_passes: AtomicU64::new(0),
            sweeper_failures: AtomicU64::new(0),
            carts: carts::Carts::default(),
            wal: checkpointer::Stats::default(),
            config,
        });
        if bound > 0 {
            let mut wal = inner.store.path().as_os_str().to_owned();
            wal.push("-wal");
            let conn = inner.store.dedicated()?;
            checkpointer::spawn(Arc::downgrade(&inner), conn, wal.into(), bound)?;
        }
        let funnel = writer::spawn(Arc::downgrade(&inner), inner.config.queue_batch)?;
        let _ = inner.funnel.set(funnel);
        let engine = FileEngine { inner };
        // The gate is a cache: rebuilt from the database at every start.
        engine.rebuild_gate()?;
        if engine.inner.config.sweeper {
            engine.start_sweeper();
        }
        Ok(engine)
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    pub fn strategy(&self) -> Strategy {
        Strategy::from_u8(self.inner.strategy.load(Ordering::Relaxed))
    }

    /// Switches strategy for the next reservations; the gate is rebuilt first so it
    /// starts from the database's numbers.
    pub fn set_strategy(&self, strategy: Strategy) -> Result<()> {
        if strategy == Strategy::Gate {
            self.rebuild_gate()?;
        }
        self.inner
            .strategy
            .store(strategy.to_u8(), Ordering::Relaxed);
        Ok(())
    }

    pub fn rules(&self) -> SaleRules {
        self.inner.rules.read().clone()
    }

    /// The hold TTL as it passes on this engine's clock (warp applied).
    pub fn ttl_ms(&self) -> Millis {
        self.inner.ttl_ms()
    }

    pub fn set_hold_ttl(&self, ttl: Duration) -> Result<()> {
        sale::check_hold_ttl(ttl).map_err(|why| Error::Usage(format!("The hold TTL {why}")))?;
        self.write(|tx| sale::set_hold_ttl(tx, ttl))?;
        let mut rules = self.inner.rules.write();
        rules.hold_ttl = ttl;
        rules.max_hold = rules.max_hold.max(ttl);
        Ok(())
    }

    pub fn counters(&self) -> CounterSnapshot {
        self.inner.counters.snapshot()
    }

    /// The checkpointer's figures: the largest WAL it saw, and its checkpoints.
    pub fn wal_stats(&self) -> WalStats {
        self.inner.wal.snapshot()
    }

    /// Events from now on; dropping the receiver unsubscribes.
    pub fn subscribe(&self) -> crossbeam_channel::Receiver<EngineEvent> {
        self.inner.events.subscribe()
    }

    /// Stock of every product, read in one short transaction on a pooled connection.
    pub fn stock(&self) -> Result<Vec<Stock>> {
        let conn = self.inner.store.conn()?;
        Ok(hold::stock(&conn)?)
    }

    /// Add to cart: take a hold on `qty` units of `sku` for `buyer`, by the strategy.
    pub fn reserve(&self, sku: &str, buyer: &str, qty: i64) -> Result<Hold> {
        hold::check_quantity(qty)?;
        let product = self.product_here(sku)?;
        let result = self.reserve_product(&product, buyer, qty);
        // (A `Busy` was counted where it happened: in the writer or the naive path.)
        match &result {
            Ok(hold) if hold.kind == HoldKind::Held => self.inner.held(hold),
            Ok(cart) => self.inner.carts.issue(cart, self.inner.clock.now()),
            Err(_) => {}
        }
        Ok(result?)
    }

    /// Expires every due hold now, in bounded batches, and returns how many.
    pub fn sweep(&self) -> Result<usize> {
        self.inner.sweep()
    }

    /// Sets a product's available units; the total moves by the same amount (an
    /// oversell stays in the books: see [`hold::restock`]).
    pub fn restock(&self, sku: &str, available: i64) -> Result<()> {
        let product = self.product(sku)?;
        self.write(|tx| hold::restock(tx, product.id, available))?;
        self.rebuild_gate()?;
        self.inner.events.publish(|| EngineEvent::StockChanged);
        Ok(())
    }

    /// Rebuilds the gate from the database (at start, and when switching to `gate`).
    pub fn rebuild_gate(&self) -> Result<()> {
        let available: Vec<_> = self
            .stock()?
            .iter()
            .map(|s| (s.product_id, s.available))
            .collect();
        self.inner.gate.rebuild(&available)
    }

    /// The gate's permits for a product (for the console and tests; 0 when the gate
    /// holds no count).
    pub fn gate_permits(&self, product: ProductId) -> i64 {
        self.inner.gate.permits(product).unwrap_or(0)
    }

    /// Where the gate's count lives: `in process`, or the Redis URL.
    pub fn gate_name(&self) -> String {
        self.inner.gate.describe()
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction on the writer funnel. IMMEDIATE because
    /// every caller reads before it writes: a deferred transaction that later writes can
    /// be refused with SQLITE_BUSY at once, whatever the busy timeout. Any error rolls
    /// the whole transaction back.
    /// Runs `f` while holding the writer connection, so that requests pile up in the
    /// writer's queue meanwhile: how a test builds one full batch of the group commit.
    #[doc(hidden)]
    pub fn hold_writer<T>(&self, f: impl FnOnce() -> T) -> T {
        let _writer = self.inner.writer.lock();
        f()
    }

    /// The writer connection's `wal_autocheckpoint`: 0 when commits never checkpoint
    /// (the checkpointer thread does it on its own connection).
    pub fn writer_autocheckpoint(&self) -> Result<i64> {
        Ok(self.write(|conn| Ok(conn.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))?))?)
    }

    pub(crate) fn write<T>(&self, f: impl FnOnce(&Connection) -> SqlResult<T>) -> SqlResult<T> {
        self.inner.write(f)
    }
}

impl Inner {
    fn ttl_ms(&self) -> Millis {
        self.clock.scaled(self.rules.read().hold_ttl)
    }

    fn write<T>(&self, f: impl FnOnce(&Connection) -> SqlResult<T>) -> SqlResult<T> {
        let mut conn = self.writer.lock();
        self.transact(&mut conn, f)
    }

    /// `f` in its own `BEGIN IMMEDIATE` transaction on the writer connection (the caller
    /// holds it), counted.
    fn transact<T>(
        &self,
        conn: &mut Connection,
        f: impl FnOnce(&Connection) -> SqlResult<T>,
    ) -> SqlResult<T> {
        let result = run_immediate(conn, f);
        match &result {
            Ok(_) => self.counted_commit(),
            Err(e) => self.counted_failure(&e.0),
        }
        result
    }

    fn counted_commit(&self) {
        self.counters.commits.fetch_add(1, Ordering::Relaxed);
        self.wal.committed();
    }

    fn counted_failure(&self, e: &Error) {
        if matches!(e, Error::Busy) {
            self.counters.busy.fetch_add(1, Ordering::Relaxed);
        }
        self.counters.rollbacks.fetch_add(1, Ordering::Relaxed);
    }

    /// A hold was committed: remember its deadline (and wake the sweeper if it is the
    /// earliest), and tell subscribers.
    fn held(&self, hold: &Hold) {
        let before = self
            .next_deadline
            .fetch_min(hold.expires_at, Ordering::AcqRel);
        if hold.expires_at < before
            && let Some(s) = self.sweeper.lock().as_ref()
        {
            s.wake();
        }
        self.events.publish(|| EngineEvent::Held(hold.clone()));
    }

    /// Units came back on sale (committed): the gate may hand them out again.
    fn returned(&self, holds: Vec<Returned>, reason: ReturnReason) {
        if holds.is_empty() {
            return;
        }
        // One release per product and one call for the hold keys: a sweep of thousands
        // of holds is a few round trips to a Redis gate, not thousands.
        let mut back: Vec<(ProductId, i64)> = Vec::new();
        for r in &holds {
            match back.iter_mut().find(|(p, _)| *p == r.product_id) {
                Some((_, qty)) => *qty += r.back(),
                None => back.push((r.product_id, r.back())),
            }
        }
        for (product, qty) in back {
            self.gate.release(product, qty);
        }
        let ids: Vec<_> = holds.iter().map(|r| r.hold_id).collect();
        self.gate.forget(&ids);
        self.events
            .publish(move || EngineEvent::Returned { reason, holds });
    }
}

/// The gate for `url`, or this process's own. Every process on the same file shares one
/// count in Redis: the key prefix is the file's canonical path.
fn open_gate(store: &Store, url: Option<&str>) -> Result<Box<dyn Gate>> {
    let Some(url) = url else {
        return Ok(Box::new(LocalGate::default()));
    };
    let path = std::fs::canonicalize(store.path()).unwrap_or_else(|_| store.path().to_path_buf());
    let digest = <sha2::Sha256 as sha2::Digest>::digest(path.to_string_lossy().as_bytes());
    let sale: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    Ok(Box::new(crate::gate::redis::RedisGate::connect(
        url, &sale,
    )?))
}

fn run_immediate<T>(
    conn: &mut Connection,
    f: impl FnOnce(&Connection) -> SqlResult<T>,
) -> SqlResult<T> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let value = f(&tx)?;
    tx.commit()?;
    Ok(value)
}

/// The default duration helpers the command line shares with sale files.
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e} (write durations like 10m, 30s, 1h)"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_handle_crosses_threads() {
        fn is<T: Send + Sync + Clone>() {}
        is::<super::FileEngine>();
    }
}
