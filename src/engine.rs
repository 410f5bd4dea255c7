//! The sale on an SQLite file as core's storage seam ([`FileEngine`] implements
//! [`flashsale_core::store::Store`]): one writer connection and the threads around it.
//! The application layer above it is core's [`Shop`](flashsale_core::shop::Shop), the same as on a database
//! server; [`Engine`] (`handle.rs`) is the two together, what every front end holds.
//! The state changes themselves are the plain functions of [`crate::hold`], each in a
//! `BEGIN IMMEDIATE` transaction on the writer.
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
//! - `syncer` flushes the WAL after each group commit at `synchronous=FULL` and only
//!   then answers its buyers, so the writer never waits for the disk (`syncer.rs`).
//! - `checkpointer` copies the WAL into the database file on a connection of its own,
//!   and keeps the WAL bounded, so that no commit pays for a checkpoint
//!   (`checkpointer.rs`).

mod checkpointer;
mod contention;
mod funnel;
mod group;
mod handle;
mod journal;
mod queue;
mod reader;
mod reply;
mod reserve;
mod rows;
mod seam;
mod syncer;
mod thread_times;
mod writer;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use flashsale_core::shop::ShopConfig;
use flashsale_core::store::ReturnSink;
use parking_lot::{FairMutex, Mutex};
use rusqlite::{Connection, TransactionBehavior};

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::gate::{Gate, LocalGate};
use crate::hold::Returned;
use crate::ids::ProductId;
use crate::sale;
use crate::sql::Result as SqlResult;
use crate::store::Store;
use crate::strategy::Strategy;

pub use checkpointer::{DEFAULT_WAL_BOUND, WalStats};
pub use flashsale_core::arrival;
pub use flashsale_core::events::{EngineEvent, ReturnReason};
pub use flashsale_core::model::Paid;
pub use handle::Engine;
pub use thread_times::{EngineThreads, ThreadTimes};

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

impl EngineConfig {
    /// What the application layer above the store takes of it.
    pub(crate) fn shop(&self) -> ShopConfig {
        ShopConfig {
            clock: self.clock.clone(),
            strategy: self.strategy,
            sweeper: self.sweeper,
            sweep_batch: self.sweep_batch,
            max_batch: self.queue_batch,
            hold_ttl: self.hold_ttl,
        }
    }
}

/// The sale on an SQLite file, below core's storage seam: the writer connection and
/// its threads. Front ends never hold it; they hold [`Engine`], core's shop over it.
#[derive(Clone)]
pub struct FileEngine {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    store: Store,
    /// The one writer connection of this process. The writer thread (`writer.rs`) runs
    /// the reservations, payments and sweeps on it in arrival order; [`FileEngine::write`]
    /// callers (checkout, release, extend, restock, the console) take turns with it
    /// through this *fair* mutex, first-come, first-served, instead of sleeping in
    /// SQLite's busy handler (which wakes them in no order and wastes the single
    /// writer). Another process on the same file is kept out by SQLite's own lock and
    /// the busy timeout.
    writer: FairMutex<Connection>,
    /// The sale's clock: a payment is stamped when the writer settles it.
    clock: Clock,
    config: EngineConfig,
    /// Counted where they happen (commits, rollbacks, busy answers, conflicts); the
    /// shop above reads these.
    counters: Arc<Counters>,
    /// Where the writer reports units its lazy expiry gave back inside a group commit
    /// (set by the shop).
    returns: OnceLock<ReturnSink>,
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
    /// How crowded optimistic's compare-and-set is: where its backoff starts.
    contention: contention::Contention,
    /// What the checkpointer saw and did.
    wal: checkpointer::Stats,
}

impl FileEngine {
    /// Opens the file's side of the seam on a store that already holds a sale.
    pub fn open(store: Store, config: EngineConfig) -> Result<FileEngine> {
        let writer = store.dedicated()?;
        if sale::rules(&writer)?.is_none() {
            return Err(Error::NotADatabase {
                path: store.path().to_path_buf(),
                why: "it holds no sale yet; run `flashsale init`".into(),
            });
        }
        let bound = if store.read_only() {
            0
        } else {
            config.wal_bound
        };
        if bound > 0 {
            checkpointer::configure_writer(&writer, bound)?;
        }
        // The writer's statement journals stay in memory. A multi-row INSERT under
        // triggers keeps one (so a refused row undoes only its statement), and past
        // 64 KiB SQLite spilled it to a temporary file opened, written and unlinked
        // inside the commit: `perf trace` of `serve` under load counted 69 writes a
        // commit and a file opened for 2 commits in 5; in memory, server CPU per
        // add-to-cart fell ~10% (perf stat, alternating runs).
        writer
            .pragma_update(None, "temp_store", "MEMORY")
            .map_err(crate::sql::SqlError::from)?;
        let inner = Arc::new(Inner {
            clock: config.clock.clone(),
            writer: FairMutex::new(writer),
            store,
            counters: Arc::default(),
            returns: OnceLock::new(),
            funnel: OnceLock::new(),
            reader: OnceLock::new(),
            reader_start: Mutex::new(()),
            versions: Mutex::new(HashMap::new()),
            contention: contention::Contention::default(),
            wal: checkpointer::Stats::default(),
            config,
        });
        let mut wal = inner.store.path().as_os_str().to_owned();
        wal.push("-wal");
        let wal = std::path::PathBuf::from(wal);
        if bound > 0 {
            let conn = inner.store.dedicated()?;
            checkpointer::spawn(Arc::downgrade(&inner), conn, wal.clone(), bound)?;
        }
        // At `NORMAL` no commit waits for the disk: nothing to leave to a syncer. Without
        // the checkpointer the writer checkpoints inside its commits, and one run at
        // `synchronous=OFF` would not sync the WAL before copying it into the database.
        let flushed = bound > 0 && inner.store.synchronous() == crate::store::Synchronous::Full;
        let funnel = writer::spawn(
            Arc::downgrade(&inner),
            inner.config.queue_batch,
            flushed.then_some(wal),
        )?;
        let _ = inner.funnel.set(funnel);
        Ok(FileEngine { inner })
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The checkpointer's figures: the largest WAL it saw, and its checkpoints.
    pub fn wal_stats(&self) -> WalStats {
        self.inner.wal.snapshot()
    }

    /// How the writer and waker threads have spent their time so far: on a core, and
    /// waiting for one.
    pub fn thread_times(&self) -> EngineThreads {
        self.inner
            .funnel
            .get()
            .map(writer::WriterHandle::times)
            .unwrap_or_default()
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

    /// One of the writer connection's integer settings (`wal_autocheckpoint`: 0 when
    /// commits never checkpoint; `synchronous`: 2, `FULL`, between group commits), for
    /// tests.
    #[doc(hidden)]
    pub fn writer_setting(&self, pragma: &'static str) -> Result<i64> {
        let sql = format!("PRAGMA {pragma}");
        Ok(self.write(|conn| Ok(conn.query_row(&sql, [], |r| r.get(0))?))?)
    }

    pub(crate) fn write<T>(&self, f: impl FnOnce(&Connection) -> SqlResult<T>) -> SqlResult<T> {
        self.inner.write(f)
    }
}

impl Inner {
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

    /// Units came back by the writer's own doing (lazy expiry in a group commit):
    /// reported to the shop above.
    fn returned(&self, holds: Vec<Returned>) {
        if holds.is_empty() {
            return;
        }
        if let Some(sink) = self.returns.get() {
            sink(holds);
        }
    }
}

/// The gate for `url`, or this process's own. Every process on the same file shares one
/// count in Redis: the key prefix is the file's canonical path.
pub(crate) fn open_gate(store: &Store, url: Option<&str>) -> Result<Box<dyn Gate>> {
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
