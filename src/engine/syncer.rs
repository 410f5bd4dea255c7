//! The group commit's fsync, on a thread of its own: the writer commits a group
//! without waiting for the disk and goes straight on to the next one, while this
//! thread flushes the WAL and only then gives the group's answers.
//!
//! Why: at `synchronous=FULL` the writer slept in every commit's fsync, and with it
//! every buyer whose next request waited behind that commit. `flashsale bench`'s
//! `machine:` line showed a third of a core idle during a queue row, and the writer
//! asleep 16–19% of the selling time; with the flush here, 5–7%, and the row sold
//! 11–29% more holds a second (three alternating pairs at 200,000 holds).
//!
//! What stays true: an answer (a hold, an order) is given only after an fsync of the
//! WAL that began after its commit wrote its frames, so what a buyer is told is on the
//! disk, as at `FULL`. The group is visible to other readers from its commit on, a
//! millisecond or so before it is durable; a power cut in between loses it, and with it
//! nothing anybody was told. (A killed process loses nothing: the frames are in the
//! kernel's cache.) The WAL is a log: a crash that loses one group's frames loses every
//! later one's too, since recovery stops at the first frame whose checksum fails, so no
//! later group outlives an earlier one.
//!
//! Only the writer's group commit runs this way (`synchronous=OFF` for its
//! transaction, `FULL` again right after): a strategy that commits once per hold keeps
//! its fsync inside its commit, which is the lesson it teaches. And only with the
//! checkpointer thread on: then every checkpoint runs on a connection at `FULL`, which
//! syncs the WAL before it copies any of it into the database (one run by the writer
//! inside a commit at `OFF` would not).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_channel::{Receiver, Sender, unbounded};
use parking_lot::Mutex;

use super::reply::{self, Wake};
use crate::error::Error;
use crate::sql::Result;

/// A committed group's answers, given once its commit is on the disk: with the flush's
/// failure, if there was one (then every answer is that failure).
pub(super) type Settle = Box<dyn FnOnce(Option<Error>, &mut Vec<Wake>) + Send>;

/// The writer's end.
pub(super) struct Syncer {
    settles: Sender<Settle>,
    /// Why a flush failed, once one has: sticky, since after a failed fsync the kernel
    /// may report the next one clean with the data still lost.
    failed: Arc<Mutex<Option<String>>>,
    /// Groups handed over and not answered yet.
    pending: Arc<AtomicUsize>,
}

impl Syncer {
    /// Starts the thread that flushes `wal` (the database's `-wal` file) and hands the
    /// answers' wake-ups to `waker`. It ends when the writer drops its end.
    pub(super) fn spawn(wal: PathBuf, waker: Sender<Vec<Wake>>) -> Result<Syncer> {
        let (settles, due) = unbounded();
        let failed = Arc::new(Mutex::new(None));
        let pending = Arc::new(AtomicUsize::new(0));
        let thread = Thread {
            wal,
            due,
            waker,
            failed: Arc::clone(&failed),
            pending: Arc::clone(&pending),
        };
        std::thread::Builder::new()
            .name("syncer".into())
            .spawn(move || thread.run())?;
        Ok(Syncer {
            settles,
            failed,
            pending,
        })
    }

    /// The failure that stops this process's group commits, if a flush failed.
    pub(super) fn failed(&self) -> Option<Error> {
        self.failed
            .lock()
            .as_ref()
            .map(|why| Error::NotFlushed { why: why.clone() })
    }

    /// Gives `settle` its answers after the next flush. If the thread is gone, its
    /// callers hear `Stopped` (their replies are dropped unanswered).
    pub(super) fn after_flush(&self, settle: Settle) {
        self.pending.fetch_add(1, Ordering::AcqRel);
        let _ = self.settles.send(settle);
    }

    /// No group waits for a flush.
    pub(super) fn idle(&self) -> bool {
        self.pending.load(Ordering::Acquire) == 0
    }
}

/// The syncer thread's own.
struct Thread {
    wal: PathBuf,
    due: Receiver<Settle>,
    waker: Sender<Vec<Wake>>,
    failed: Arc<Mutex<Option<String>>>,
    pending: Arc<AtomicUsize>,
}

impl Thread {
    fn run(self) {
        let mut batch = Vec::new();
        let mut wakes = Vec::new();
        while let Ok(first) = self.due.recv() {
            // Everything committed so far: one fsync covers all of it.
            batch.push(first);
            batch.extend(self.due.try_iter());
            let mut why = self.failed.lock().clone();
            if why.is_none()
                && let Err(e) = flush(&self.wal)
            {
                let text = format!("fsync of {}: {e}", self.wal.display());
                *self.failed.lock() = Some(text.clone());
                why = Some(text);
            }
            let answered = batch.len();
            for settle in batch.drain(..) {
                settle(why.clone().map(|why| Error::NotFlushed { why }), &mut wakes);
            }
            self.pending.fetch_sub(answered, Ordering::AcqRel);
            if !reply::pass_on(&mut wakes, &self.waker) {
                return;
            }
        }
    }
}

/// Flushes the WAL's data to the disk. A descriptor of its own, opened each time: an
/// fsync covers the file whatever descriptor wrote it, and opening anew never flushes
/// a file SQLite has since replaced.
fn flush(wal: &Path) -> std::io::Result<()> {
    std::fs::File::open(wal)?.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settle(tx: &std::sync::mpsc::Sender<Option<String>>) -> Settle {
        let tx = tx.clone();
        Box::new(move |failure, _| tx.send(failure.map(|e| e.to_string())).unwrap())
    }

    #[test]
    fn answers_after_a_flush_and_a_failed_flush_fails_every_later_group() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("sale.db-wal");
        std::fs::write(&wal, b"frames").unwrap();
        let (waker, _woken) = unbounded();
        let syncer = Syncer::spawn(wal.clone(), waker).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        syncer.after_flush(settle(&tx));
        assert_eq!(rx.recv().unwrap(), None);
        assert!(syncer.failed().is_none());

        // The file gone, the flush fails: that group hears why, and so does every
        // later one, even with the file back.
        std::fs::remove_file(&wal).unwrap();
        syncer.after_flush(settle(&tx));
        let why = rx.recv().unwrap().expect("a failed flush is an error");
        assert!(
            why.contains("failed to flush") && why.contains("sale.db-wal"),
            "{why}"
        );
        std::fs::write(&wal, b"frames").unwrap();
        syncer.after_flush(settle(&tx));
        assert!(rx.recv().unwrap().is_some());
        assert!(matches!(syncer.failed(), Some(Error::NotFlushed { .. })));
    }
}
