//! The checkpointer: copies the WAL back into the database file on a thread and a
//! connection of its own, so that no commit pays for a checkpoint.
//!
//! SQLite's default is that the connection whose commit takes the WAL past 1,000 pages
//! checkpoints right there, inside that commit: one unlucky group commit of the writer
//! carried the copy and its fsync, and every buyer in it waited (perf: the kernel's
//! share of the writer's time was mostly WAL writes and checkpoints). Here the writer
//! connection has `wal_autocheckpoint=0` and this thread does two things:
//!
//! - every [`PASSIVE_EVERY`], a PASSIVE checkpoint: it copies what it can without
//!   taking any lock a writer needs, so it runs beside the writer's commits. When it has
//!   caught up, the writer's next transaction starts the WAL over from the beginning.
//! - when the WAL file has grown past the bound anyway (the writer outran it, or a
//!   reader held an old snapshot), a RESTART checkpoint, which waits for the readers and
//!   keeps writers out until the next transaction starts a fresh WAL; the writer's
//!   `journal_size_limit` then cuts the file back to the bound.
//!
//! Why p99 doubled when checkpoints were first moved off the writer: a RESTART (or
//! TRUNCATE) checkpoint holds SQLite's write lock, so the writer's next `BEGIN
//! IMMEDIATE` met SQLITE_BUSY and slept in SQLite's busy handler, whose sleeps grow
//! 1, 2, 5, 10 … 100 ms and do not end when the lock is free: each bounding checkpoint
//! cost the buyers queued behind it tens of milliseconds on top of the checkpoint.
//! Here the RESTART runs while this thread holds the engine's writer mutex: the writer
//! thread waits on the mutex instead, parked, and is woken the moment it is free, with
//! the requests that arrived meanwhile all in its next group commit.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{OnceLock, Weak};
use std::thread::Thread;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::Inner;
use crate::sql::Result;

/// How often the PASSIVE checkpoint runs: about as often as SQLite's 1,000-page default
/// triggers one at group-commit rates, and few enough fsyncs of the database file that
/// they do not crowd the WAL's.
pub const PASSIVE_EVERY: Duration = Duration::from_millis(50);

/// The WAL bound an engine keeps by default.
pub const DEFAULT_WAL_BOUND: u64 = 64 * 1024 * 1024;

/// What the checkpointer saw and did, for the bench and tests.
#[derive(Debug, Default)]
pub(super) struct Stats {
    peak_bytes: AtomicU64,
    passive: AtomicU64,
    restarts: AtomicU64,
    /// Times the checkpointer looked at the WAL.
    looks: AtomicU64,
    /// Commits on the writer connection, to nudge the checkpointer every few.
    commits: AtomicU64,
    /// The checkpointer thread, once started.
    thread: OnceLock<Thread>,
}

/// Every this many commits the writer wakes the checkpointer to look at the WAL's size
/// (otherwise it looks every [`PASSIVE_EVERY`]): one-hold commits that follow each
/// other fast would take the WAL far past its bound in 50 ms.
const NUDGE_EVERY: u64 = 16;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct WalStats {
    /// The largest WAL file the checkpointer saw.
    pub peak_bytes: u64,
    pub passive_checkpoints: u64,
    pub restart_checkpoints: u64,
    /// Times the checkpointer looked at the WAL's size (a test can wait for the next).
    pub looks: u64,
}

impl Stats {
    /// A commit on the writer connection: every few, the checkpointer looks.
    pub(super) fn committed(&self) {
        if self.commits.fetch_add(1, Ordering::Relaxed) % NUDGE_EVERY == NUDGE_EVERY - 1
            && let Some(t) = self.thread.get()
        {
            t.unpark();
        }
    }

    pub(super) fn snapshot(&self) -> WalStats {
        WalStats {
            peak_bytes: self.peak_bytes.load(Ordering::Relaxed),
            passive_checkpoints: self.passive.load(Ordering::Relaxed),
            restart_checkpoints: self.restarts.load(Ordering::Relaxed),
            looks: self.looks.load(Ordering::Acquire),
        }
    }
}

/// Turns the writer connection's own checkpoints off and caps the WAL file it leaves.
pub(super) fn configure_writer(conn: &Connection, bound: u64) -> Result<()> {
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.pragma_update(
        None,
        "journal_size_limit",
        i64::try_from(bound).unwrap_or(i64::MAX),
    )?;
    Ok(())
}

/// Starts the thread. It holds only a weak reference and ends with the engine.
pub(super) fn spawn(engine: Weak<Inner>, conn: Connection, wal: PathBuf, bound: u64) -> Result<()> {
    let thread = std::thread::Builder::new()
        .name("checkpointer".into())
        .spawn({
            let engine = engine.clone();
            move || run(&engine, &conn, &wal, bound)
        })?;
    if let Some(inner) = engine.upgrade() {
        let _ = inner.wal.thread.set(thread.thread().clone());
    }
    Ok(())
}

fn run(engine: &Weak<Inner>, conn: &Connection, wal: &std::path::Path, bound: u64) {
    let mut last_passive = Instant::now();
    loop {
        // Woken early by the writer's nudges (a spurious wake-up just looks too).
        std::thread::park_timeout(PASSIVE_EVERY);
        let Some(inner) = engine.upgrade() else {
            return;
        };
        let size = std::fs::metadata(wal).map_or(0, |m| m.len());
        inner.wal.peak_bytes.fetch_max(size, Ordering::Relaxed);
        let result = if size > bound {
            // Writers are kept out while it runs: they wait on the engine's mutex,
            // not in SQLite's busy handler (see the module's note).
            let _writer = inner.writer.lock();
            let started = Instant::now();
            let r = checkpoint(conn, "RESTART");
            tracing::debug!(
                "checkpointer: RESTART at {size} bytes took {:?}",
                started.elapsed()
            );
            inner.wal.restarts.fetch_add(1, Ordering::Relaxed);
            r
        } else if last_passive.elapsed() >= PASSIVE_EVERY {
            last_passive = Instant::now();
            inner.wal.passive.fetch_add(1, Ordering::Relaxed);
            checkpoint(conn, "PASSIVE")
        } else {
            Ok(())
        };
        inner.wal.looks.fetch_add(1, Ordering::Release);
        if let Err(e) = result {
            // A checkpoint that cannot run now is retried at the next turn; the
            // sale goes on (only the WAL grows meanwhile).
            tracing::warn!("checkpointer: {e}");
        }
    }
}

fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<()> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(()))
}
