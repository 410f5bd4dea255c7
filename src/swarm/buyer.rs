//! One bot buyer, from arrival to paid, gone or turned away; and the loop each buyer
//! thread runs, taking buyers from one counter until none are left.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use parking_lot::{Mutex, RwLock};

use super::collect::{InPlay, Msg, Recorder};
use super::{Arrival, SwarmConfig, behaviour};
use crate::engine::Engine;
use crate::error::{Error, Rejection};
use crate::hold::{Hold, HoldKind};
use crate::metrics::{Outcome, Sample};

use super::behaviour::Action;

/// How one buyer's visit ended. Every buyer of a run ends in exactly one, so the
/// report's per-buyer counts add up to the buyers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Paid,
    /// Walked away from a hold: it expires and its unit goes to the next buyer.
    Abandoned,
    Cancelled,
    PayFailed,
    /// Pay-first: paid, found the stock gone, got the money back.
    Refunded,
    /// The hold expired before the payment went through.
    Lapsed,
    /// Never got a hold (sold out, per-buyer limit, conflicts, busy...).
    TurnedAway,
    /// The run stopped before this buyer was done.
    Stopped,
}

/// Shared by every buyer thread of a run.
pub(super) struct Shared {
    pub engine: Engine,
    pub config: SwarmConfig,
    pub next_buyer: AtomicU64,
    /// Arrival order: taken when each buyer's first add-to-cart reaches the engine's
    /// door (see `engine/arrival.rs`: not before the call, where the scheduler could
    /// reorder two buyers on their way in).
    pub arrivals: Arc<AtomicU64>,
    /// What the database says may still come to a refused buyer: a `--retry` loser
    /// keeps trying while units are available or held by anyone, and gives up only on
    /// a read newer than its own last refusal. (This process's own events are not
    /// enough: another process may expire the holds it waits for.)
    pub in_play: Arc<InPlay>,
    pub stop: Arc<AtomicBool>,
    /// The first storage fault a buyer met: it stops the run, and the run fails with it.
    pub fault: Mutex<Option<Error>>,
    /// When the last buyer so far had its last answer, in µs after the release: the
    /// end of the run's selling time.
    pub finished_us: AtomicU64,
    /// Buyer threads not done yet: set before the release.
    pub running: AtomicUsize,
    /// The process's CPU time, in ns, when the last buyer thread was done: the end of
    /// the run's cost, every thread's (see [`super::cpu_time`]). Read by that thread
    /// alone: the process's clock sums every thread's, 19 µs a reading among 1,000.
    pub cpu_done_ns: AtomicU64,
    /// The buyer threads' own CPU time from the release until each was done, in ns.
    pub buyers_cpu_ns: AtomicU64,
    /// The engine's writer and waker threads' times and the machine's, read by the
    /// same last buyer thread.
    pub done: Mutex<Option<AtDone>>,
    /// The release: the coordinator holds the write lock while it spawns the threads,
    /// each thread waits on a read lock, and unlocking wakes them all at once with the
    /// release instant — the burst's arrival time, from which latency is measured. (A
    /// condvar woke them one by one through its mutex: 10,000 threads took ~400 ms.)
    pub go: RwLock<Option<Instant>>,
    /// The collector's channel; each buyer thread sends through its own [`Recorder`].
    pub tx: Sender<Vec<Msg>>,
}

impl Shared {
    /// A full disk, a read-only file, a damaged database: not a rejection. The run
    /// stops and fails with the first one.
    fn fault(&self, e: Error) {
        self.fault.lock().get_or_insert(e);
        self.stop.store(true, Ordering::Relaxed);
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// What the run's cost is read from besides the process's CPU clock, once when the
/// last buyer is done (or by the coordinator, if none got that far).
pub(super) struct AtDone {
    pub threads: crate::engine::EngineThreads,
    pub machine: Option<super::machine::MachineTimes>,
}

impl AtDone {
    pub(super) fn now(engine: &crate::engine::Engine) -> AtDone {
        AtDone {
            threads: engine.thread_times(),
            machine: super::machine::MachineTimes::now(),
        }
    }
}

pub(super) fn buyer_thread(shared: &Shared) {
    // Blocks until the coordinator lets go of the write lock: the release.
    let Some(start) = *shared.go.read() else {
        return;
    };
    let cpu_at_release = super::thread_cpu_time();
    sell(shared, start);
    let spent = super::thread_cpu_time().saturating_sub(cpu_at_release);
    shared.buyers_cpu_ns.fetch_add(
        u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
    if shared.running.fetch_sub(1, Ordering::AcqRel) == 1 {
        let cpu = u64::try_from(super::cpu_time().as_nanos()).unwrap_or(u64::MAX);
        shared.cpu_done_ns.store(cpu, Ordering::Relaxed);
        *shared.done.lock() = Some(AtDone::now(&shared.engine));
    }
}

/// Plays buyers, one after another, until none is left, the time limit passes, or the
/// run is stopped.
fn sell(shared: &Shared, start: Instant) {
    let deadline = shared.config.time_limit.and_then(|l| start.checked_add(l));
    let mut rec = Recorder::new(shared.tx.clone());
    loop {
        if shared.stopped() {
            return;
        }
        // Past the time limit nobody new arrives, on any thread.
        if deadline.is_some_and(|d| Instant::now() >= d) {
            shared.stop.store(true, Ordering::Relaxed);
            return;
        }
        let index = shared.next_buyer.fetch_add(1, Ordering::Relaxed);
        if index >= shared.config.buyers {
            return;
        }
        buyer(shared, &mut rec, start, index);
    }
}

/// Sleeps until `at`, in short steps so a stopped run does not wait for a far arrival;
/// false if the run was stopped meanwhile. What the thread saw goes out first.
fn sleep_until(shared: &Shared, rec: &mut Recorder, at: Instant) -> bool {
    if at > Instant::now() {
        rec.flush();
    }
    loop {
        if shared.stopped() {
            return false;
        }
        let now = Instant::now();
        if at <= now {
            return true;
        }
        std::thread::sleep((at - now).min(Duration::from_millis(50)));
    }
}

pub(super) fn millis_since(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

pub(super) fn micros_since(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX)
}

fn micros_between(from: Instant, to: Instant) -> u64 {
    u64::try_from(to.saturating_duration_since(from).as_micros()).unwrap_or(u64::MAX)
}

/// When buyer `index` is due: at the release for a burst, at `index / rate` seconds
/// for the open model (`SwarmConfig::check` bounded that span; `None` past it), now
/// for a closed loop (its thread just became free).
pub(super) fn due(config: &SwarmConfig, start: Instant, index: u64) -> Option<Instant> {
    match config.arrival {
        Arrival::Burst => Some(start),
        Arrival::Rate(rate) => {
            let offset = Duration::try_from_secs_f64(index as f64 / rate).ok()?;
            start.checked_add(offset)
        }
        Arrival::Closed => Some(Instant::now()),
    }
}

/// One buyer, from arrival to paid, gone, or turned away. `start` is the release: the
/// burst's arrival, the open model's time zero.
fn buyer(shared: &Shared, rec: &mut Recorder, start: Instant, index: u64) {
    let config = &shared.config;
    let Some(mut intended) = due(config, start, index) else {
        return;
    };
    if !sleep_until(shared, rec, intended) {
        rec.record(Msg::Done {
            seq: u64::MAX,
            won: false,
            ending: Ending::Stopped,
            tries: 0,
        });
        return;
    }
    let name = format!("{}{index}", config.buyer_prefix);
    let seq = std::rc::Rc::new(std::cell::Cell::new(None));
    {
        let (seq, arrivals) = (std::rc::Rc::clone(&seq), Arc::clone(&shared.arrivals));
        crate::engine::arrival::on_arrival(Box::new(move || {
            seq.set(Some(arrivals.fetch_add(1, Ordering::Relaxed)));
        }));
    }
    // Jittered, as the engine's optimistic retries (one helper for both).
    let mut backoff =
        crate::backoff::Backoff::new(Duration::from_millis(5), Duration::from_millis(100));
    let mut tries = 0u64;
    let mut last_refusal = None;
    let (ending, won) = loop {
        tries += 1;
        let result = shared.engine.reserve(&config.sku, &name, config.qty);
        // Turned away before the door (an unknown SKU): it arrived all the same.
        crate::engine::arrival::arrived();
        let answered = Instant::now();
        let at = millis_since(start);
        let refused_at = micros_since(start);
        match result {
            Ok(hold) => {
                let cart = hold.kind == HoldKind::Cart;
                if !cart {
                    rec.sample(Sample::Attempt {
                        at,
                        latency_us: micros_between(intended, answered),
                        outcome: Outcome::Held,
                    });
                }
                let (ending, paid_at) = settle(shared, rec, start, &hold, index);
                if cart {
                    // Pay-first takes its unit at payment: the request that decided
                    // it ends with the payment's answer.
                    rec.sample(Sample::Attempt {
                        at,
                        latency_us: micros_between(intended, paid_at.unwrap_or(answered)),
                        outcome: Outcome::Held,
                    });
                }
                // A cart (pay-first) wins a unit only by paying for it.
                let won = ending == Ending::Paid
                    || (!cart
                        && matches!(
                            ending,
                            Ending::Abandoned | Ending::Cancelled | Ending::PayFailed
                        ));
                break (ending, won);
            }
            Err(e) if e.is_fault() => {
                shared.fault(e);
                break (Ending::Stopped, false);
            }
            Err(e) => {
                let reason = e.rejection();
                rec.sample(Sample::Attempt {
                    at,
                    latency_us: micros_between(intended, answered),
                    outcome: Outcome::Rejected(reason),
                });
                if !(config.retry && reason == Rejection::SoldOut) || shared.stopped() {
                    break (Ending::TurnedAway, false);
                }
                // Units may come back while others hold them: try again after a pause,
                // until a read of the database made since the previous refusal found
                // none held or available (the refusal itself is newer than any read).
                if shared.in_play.units.load(Ordering::Acquire) <= 0
                    && last_refusal
                        .is_some_and(|prev| shared.in_play.read_at.load(Ordering::Acquire) > prev)
                {
                    break (Ending::TurnedAway, false);
                }
                last_refusal = Some(refused_at);
                rec.flush();
                backoff.wait();
                intended = Instant::now();
            }
        }
    };
    shared
        .finished_us
        .fetch_max(micros_since(start), Ordering::Relaxed);
    let seq = seq.get().unwrap_or(u64::MAX);
    rec.record(Msg::Done {
        seq,
        won,
        ending,
        tries,
    });
}

/// What the buyer does with the hold it won; and when a payment was answered.
fn settle(
    shared: &Shared,
    rec: &mut Recorder,
    start: Instant,
    hold: &Hold,
    index: u64,
) -> (Ending, Option<Instant>) {
    let config = &shared.config;
    let engine = &shared.engine;
    let action = config
        .behaviour
        .pick(&mut behaviour::buyer_rng(config.seed, index));
    let is_cart = hold.kind == HoldKind::Cart;
    let at = || millis_since(start);
    match action {
        Action::Pay => {
            let paid = engine.checkout(hold);
            let answered = Some(Instant::now());
            let ending = match paid {
                Ok(_) => {
                    rec.sample(Sample::Paid { at: at() });
                    Ending::Paid
                }
                Err(Error::Refunded { .. }) => {
                    rec.sample(Sample::Refunded { at: at() });
                    Ending::Refunded
                }
                Err(e) if e.is_fault() => {
                    shared.fault(e);
                    Ending::Stopped
                }
                // Expired before payment: the sweeper or the checkout returned it.
                Err(_) => Ending::Lapsed,
            };
            (ending, answered)
        }
        // Its unit comes back when the hold expires.
        Action::Abandon => (Ending::Abandoned, None),
        Action::Cancel | Action::PayFail => {
            if action == Action::PayFail {
                rec.sample(Sample::PayFailed { at: at() });
            }
            match engine.release(hold) {
                Ok(()) if !is_cart => rec.sample(Sample::Released {
                    at: at(),
                    qty: hold.qty,
                }),
                Err(e) if e.is_fault() => {
                    shared.fault(e);
                    return (Ending::Stopped, None);
                }
                _ => {}
            }
            if action == Action::PayFail {
                (Ending::PayFailed, None)
            } else {
                (Ending::Cancelled, None)
            }
        }
    }
}
