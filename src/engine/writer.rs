//! The writer: one thread that takes this process's reservations (and pay-first's
//! payments) first-in first-out and runs them on the one writer connection.
//!
//! Why a thread and not just the fair mutex: with a fair mutex every hand-over waits for
//! the next thread to be woken and scheduled, and the single SQLite writer sits idle
//! meanwhile (measured: half the time, at 1,000 threads). The writer thread never
//! waits for anybody; it runs one request after the other, and the woken buyers do their
//! own work on the other cores. Nobody sleeps in SQLite's busy handler, and requests are
//! served in arrival order, so the funnel is fair.
//!
//! Three kinds of job, taken in one arrival order:
//! - `Alone`: its own `BEGIN IMMEDIATE` transaction (immediate, atomic, optimistic's
//!   compare-and-set, gate's winners): one commit per hold, as those strategies promise.
//! - `Queue`: the queue strategy's add-to-cart, and
//! - `Change`: a payment, a release, an extension, pay-first's settlement: consecutive
//!   `Queue` and `Change` jobs share one transaction, the changes each in a savepoint of
//!   its own, so one failure undoes only itself (group commit, see `group.rs`).
//!
//! The connection is the engine's `writer` (behind its fair mutex), shared with
//! [`super::FileEngine::write`] callers and the sweeper: the thread holds the lock while it
//! works through what is waiting and lets anyone queued on the mutex in between jobs.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, unbounded};
use parking_lot::FairMutexGuard;
use rusqlite::Connection;

use super::reply::{self, Wake};
use super::syncer::Syncer;
use super::thread_times::{EngineThreads, Tid};
use super::{Inner, group, queue};
use crate::error::Error;
use crate::sql::Result;

/// A job that runs alone: it opens its own transaction (through `Inner::transact`),
/// fills in its own answer and leaves whom to wake in the list.
pub(super) type Work = Box<dyn FnOnce(&mut Connection, &Inner, &mut Vec<Wake>) + Send>;

pub(super) enum Job {
    Alone(Work),
    Queue(queue::Request),
    Change(Box<dyn group::Change>),
}

#[derive(Clone)]
pub(super) struct WriterHandle {
    jobs: Sender<Job>,
    /// The urgent lane (the sweeper's batches): served between main-queue jobs, with
    /// at most as much of the writer's time as the main queue while both have work.
    urgent: Sender<Job>,
    /// The waker thread's queue, for other threads that answer buyers (the reader).
    wake: Sender<Vec<Wake>>,
    /// Jobs submitted and not yet served, both lanes. At zero (checked while holding
    /// the writer connection's lock) nobody is ahead of a new job, and its caller may run
    /// it itself: see [`WriterHandle::idle`].
    in_flight: Arc<AtomicUsize>,
    /// The writer's and the waker's thread ids, to read their scheduler times.
    writer_tid: Tid,
    waker_tid: Tid,
}

impl WriterHandle {
    /// How the writer and waker threads have spent their time so far (see
    /// `thread_times.rs`).
    pub(super) fn times(&self) -> EngineThreads {
        EngineThreads {
            writer: self.writer_tid.times(),
            waker: self.waker_tid.times(),
        }
    }

    pub(super) fn waker(&self) -> Sender<Vec<Wake>> {
        self.wake.clone()
    }

    /// Joins the main FIFO: the request's door (see `arrival.rs`).
    pub(super) fn submit(&self, job: Job) -> Result<()> {
        super::arrival::arrived();
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.jobs.send(job).map_err(|_| Error::Stopped.into())
    }

    pub(super) fn submit_urgent(&self, job: Job) -> Result<()> {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.urgent.send(job).map_err(|_| Error::Stopped.into())
    }

    /// No job waits or runs. Asked by a caller holding the writer connection's lock (so
    /// the writer thread cannot be serving one): then a job of its own would be first
    /// in line anyway, and it may run it on its own thread — no hand-over to the writer
    /// and back, which cost one buyer alone ~40 µs a hold (criterion, immediate: 100 µs
    /// against 60 µs inline). Under load something is always in flight and everything
    /// goes through the writer, in order.
    pub(super) fn idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }
}

/// Starts the writer thread. It holds only a weak reference: when the last engine
/// handle goes, the job channel closes and the thread ends.
///
/// With `wal` (the database's `-wal` file, at `synchronous=FULL`), the group commit
/// leaves its fsync to a syncer thread (`syncer.rs`).
pub(super) fn spawn(
    engine: Weak<Inner>,
    max_batch: usize,
    wal: Option<PathBuf>,
) -> Result<WriterHandle> {
    let (jobs, incoming) = unbounded();
    let (urgent, urgent_in) = unbounded();
    // Waking a parked buyer is a system call; at group-commit rates the writer spent a
    // third of its time on them (perf). A second thread does the waking, so the writer
    // goes straight on to the next transaction. It ends when the writer does.
    let (wake, to_wake) = unbounded::<Vec<Wake>>();
    let waker_tid = Tid::default();
    let its_tid = waker_tid.clone();
    std::thread::Builder::new()
        .name("waker".into())
        .spawn(move || {
            its_tid.mark();
            for mut wakes in to_wake {
                reply::wake_all(&mut wakes);
            }
        })?;
    let syncer = wal
        .map(|wal| Syncer::spawn(wal, wake.clone()))
        .transpose()?;
    let waker = wake.clone();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let served = Arc::clone(&in_flight);
    let writer_tid = Tid::default();
    let its_tid = writer_tid.clone();
    std::thread::Builder::new()
        .name("writer".into())
        .spawn(move || {
            its_tid.mark();
            let inputs = Inputs {
                incoming: &incoming,
                urgent: &urgent_in,
                wake: &waker,
                served: &served,
                syncer: syncer.as_ref(),
            };
            run(&engine, &inputs, max_batch.max(1));
        })?;
    Ok(WriterHandle {
        jobs,
        urgent,
        wake,
        in_flight,
        writer_tid,
        waker_tid,
    })
}

/// The writer's time, shared between the lanes while both have work: urgent jobs
/// (sweeper batches) run while they have had no more time than the main queue.
/// Counting jobs instead was unfair both ways: a queue group of 512 holds and an
/// `immediate` hold each counted one (measured: expiry fell behind under the queue,
/// reservations slowed 5x under immediate). Behind the whole FIFO, as at first, a batch
/// waited for 2,000 closed-loop buyers (at a 2.4 ms fsync: five seconds a batch).
#[derive(Default)]
struct Share {
    /// Urgent time minus main time, in µs, kept within `MEMORY_US` either way so that a
    /// long quiet spell of one lane does not buy it a long run later.
    urgent_ahead_us: i64,
}

const MEMORY_US: i64 = 20_000;

impl Share {
    fn urgent_may_go(&self) -> bool {
        self.urgent_ahead_us <= 0
    }

    fn spent(&mut self, urgent: bool, since: Instant) {
        let us = i64::try_from(since.elapsed().as_micros()).unwrap_or(MEMORY_US);
        let delta = if urgent { us } else { -us };
        self.urgent_ahead_us = (self.urgent_ahead_us + delta).clamp(-MEMORY_US, MEMORY_US);
    }
}

/// The writer's two inputs: the main FIFO and the urgent lane.
struct Inputs<'a> {
    incoming: &'a Receiver<Job>,
    urgent: &'a Receiver<Job>,
    wake: &'a Sender<Vec<Wake>>,
    /// The handle's `in_flight`: lowered by each job served.
    served: &'a AtomicUsize,
    /// Where the group commit's answers wait for their fsync, if not in the commit.
    syncer: Option<&'a Syncer>,
}

/// What the writer works with, besides its inputs.
struct Desk<'a> {
    inner: &'a Inner,
    syncer: Option<&'a Syncer>,
    /// The handle's `in_flight`, as in [`Inputs`].
    served: &'a AtomicUsize,
    wakes: Vec<Wake>,
    group: Vec<group::Member>,
}

fn run(engine: &Weak<Inner>, inputs: &Inputs<'_>, max: usize) {
    let mut waiting: Vec<Job> = Vec::with_capacity(max);
    let mut share = Share::default();
    let mut wakes = Vec::new();
    let mut group = Vec::with_capacity(max);
    loop {
        // Sleep until there is work in either lane.
        let first_urgent = crossbeam_channel::select! {
            recv(inputs.urgent) -> job => match job {
                Ok(job) => Some(job),
                Err(_) => return,
            },
            recv(inputs.incoming) -> job => match job {
                Ok(job) => {
                    waiting.push(job);
                    None
                }
                Err(_) => return,
            },
        };
        waiting.extend(inputs.incoming.try_iter().take(max - waiting.len()));
        // Dropping the jobs drops their reply senders: their callers get `Stopped`.
        let Some(inner) = engine.upgrade() else {
            return;
        };
        let mut desk = Desk {
            inner: &inner,
            syncer: inputs.syncer,
            served: inputs.served,
            wakes: std::mem::take(&mut wakes),
            group: std::mem::take(&mut group),
        };
        let mut conn = inner.writer.lock();
        let mut urgent = first_urgent;
        let mut jobs = waiting.drain(..).peekable();
        loop {
            if urgent.is_none() && share.urgent_may_go() {
                urgent = inputs.urgent.try_recv().ok();
            }
            let (job, is_urgent) = match urgent.take() {
                Some(job) => (job, true),
                None => match jobs.next() {
                    Some(job) => (job, false),
                    None => break,
                },
            };
            let started = Instant::now();
            let jobs_served = serve(job, &mut conn, &mut desk, (!is_urgent).then_some(&mut jobs));
            inputs.served.fetch_sub(jobs_served, Ordering::AcqRel);
            share.spent(is_urgent, started);
            if !hand_over(&mut conn, &mut desk.wakes, inputs.wake) {
                return;
            }
        }
        drop(jobs);
        wakes = desk.wakes;
        group = desk.group;
    }
}

type Pending<'a> = std::iter::Peekable<std::vec::Drain<'a, Job>>;

/// Runs one job; queue requests and changes take the ones of either kind right behind
/// them in `rest` along into the same transaction. Returns how many jobs it served.
fn serve(
    job: Job,
    conn: &mut Connection,
    desk: &mut Desk<'_>,
    rest: Option<&mut Pending<'_>>,
) -> usize {
    let inner = desk.inner;
    let first = match job {
        Job::Alone(work) => {
            work(conn, inner, &mut desk.wakes);
            return 1;
        }
        Job::Queue(request) => group::Member::Hold(request),
        Job::Change(change) => group::Member::Change(change),
    };
    desk.group.push(first);
    if let Some(rest) = rest {
        while let Some(Job::Queue(_) | Job::Change(_)) = rest.peek() {
            match rest.next() {
                Some(Job::Queue(r)) => desk.group.push(group::Member::Hold(r)),
                Some(Job::Change(c)) => desk.group.push(group::Member::Change(c)),
                _ => break,
            }
        }
    }
    let n = desk.group.len();
    // A lone request, and nobody else waits, here or for a flush: no work to overlap
    // with the disk, and the fsync inside the commit spares a lone buyer the hand-over
    // to the syncer (one thread, queue: 1,700-1,930 holds/s, 1,460-1,500 through the
    // syncer). A group of more goes through the syncer, so the tests' groups do too.
    let alone =
        n == 1 && desk.served.load(Ordering::Acquire) <= n && desk.syncer.is_none_or(Syncer::idle);
    let syncer = desk.syncer.filter(|_| !alone);
    group::serve(conn, inner, &mut desk.group, &mut desk.wakes, syncer);
    n
}

/// After each job: the answered buyers go to the waker, and anyone waiting on the mutex
/// (a checkout, `FileEngine::write`) goes next, in turn. False when the waker is gone.
fn hand_over(
    conn: &mut FairMutexGuard<'_, Connection>,
    wakes: &mut Vec<Wake>,
    wake: &Sender<Vec<Wake>>,
) -> bool {
    if !reply::pass_on(wakes, wake) {
        return false;
    }
    FairMutexGuard::bump(conn);
    true
}
