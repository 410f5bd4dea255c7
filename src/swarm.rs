//! The bot swarm: real OS threads, released together, each playing buyers who press "Add
//! to cart" and then pay, walk away, cancel or fail to pay.
//!
//! Data flows one way (as in oha): buyer threads send what happened down a channel; one
//! collector thread folds it into the run's [`Metrics`], which a progress bar, the
//! console and the final report all read. The numbers that judge the run — sold,
//! oversold, undersold — come from the database afterwards, never from these counters.

mod behaviour;
mod report;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, unbounded};
use parking_lot::{Mutex, RwLock};

use crate::engine::{Engine, EngineEvent, ReturnReason};
use crate::error::{Error, Result};
use crate::hold::HoldKind;
use crate::metrics::{Metrics, Outcome, Sample};

pub use behaviour::{Action, Behaviour};
pub use report::{Fairness, Lag, SwarmReport};

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrival {
    /// Everyone at once, released by one signal.
    Burst,
    /// An open model: buyer `i` arrives at `i / rate` seconds, whatever the engine does.
    Rate(f64),
}

#[derive(Debug, Clone)]
pub struct SwarmConfig {
    pub sku: String,
    /// Restock the product to this many available units first.
    pub stock: Option<i64>,
    pub buyers: u64,
    /// Threads to run buyers on; `None` picks [`default_threads`]. More than the
    /// machine allows ([`machine_threads`]) are multiplexed onto that many.
    pub threads: Option<usize>,
    pub qty: i64,
    pub behaviour: Behaviour,
    pub arrival: Arrival,
    /// Losers try again while units they could get are still held by others.
    pub retry: bool,
    /// After the buyers are done, wait until the holds they walked away from have
    /// expired and their units are back (at most the hold TTL and 10 s more), so the
    /// report's `expiry_lag_ms` covers them.
    pub wait_expiry: bool,
    pub seed: u64,
    /// Buyer names are `{prefix}{index}`; unique per run so runs (and processes) on one
    /// file never share a buyer.
    pub buyer_prefix: String,
}

impl SwarmConfig {
    pub fn new(sku: &str, buyers: u64) -> Self {
        SwarmConfig {
            sku: sku.to_owned(),
            stock: None,
            buyers,
            threads: None,
            qty: 1,
            behaviour: Behaviour::default(),
            arrival: Arrival::Burst,
            retry: false,
            wait_expiry: false,
            seed: 1,
            buyer_prefix: format!("bot-{}-", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        }
    }
}

/// Live progress, readable while the run goes.
#[derive(Debug, Default)]
pub struct Progress {
    pub buyers_done: AtomicU64,
    pub holds: AtomicU64,
    pub orders: AtomicU64,
}

/// A running swarm. Dropping it does not stop it; call [`SwarmHandle::stop`].
pub struct SwarmHandle {
    pub metrics: Arc<Mutex<Metrics>>,
    pub progress: Arc<Progress>,
    pub buyers: u64,
    pub started: Instant,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<SwarmReport>>>,
}

impl SwarmHandle {
    /// Asks every buyer thread to stop after its current attempt.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Waits for the end and returns the report (read from the database).
    pub fn join(mut self) -> Result<SwarmReport> {
        match self.thread.take() {
            Some(t) => t.join().unwrap_or_else(|_| {
                Err(Error::Io(std::io::Error::other(
                    "the swarm's coordinator panicked",
                )))
            }),
            None => Err(Error::Stopped),
        }
    }
}

/// Runs a swarm to the end.
pub fn run(engine: &Engine, config: &SwarmConfig) -> Result<SwarmReport> {
    start(engine, config)?.join()
}

/// Starts a swarm in the background.
pub fn start(engine: &Engine, config: &SwarmConfig) -> Result<SwarmHandle> {
    if config.buyers == 0 {
        return Err(Error::Usage("--buyers must be at least 1".into()));
    }
    crate::hold::check_quantity(config.qty)?;
    behaviour_check(&config.behaviour)?;
    let product = engine.product(&config.sku)?;
    if let Some(stock) = config.stock {
        engine.restock(&config.sku, stock)?;
    }
    let metrics = Arc::new(Mutex::new(Metrics::default()));
    let progress = Arc::new(Progress::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let handle = SwarmHandle {
        metrics: Arc::clone(&metrics),
        progress: Arc::clone(&progress),
        buyers: config.buyers,
        started,
        stop: Arc::clone(&stop),
        thread: None,
    };
    let run = Run {
        engine: engine.clone(),
        config: config.clone(),
        product_id: product.id,
        metrics,
        progress,
        stop,
    };
    let thread = std::thread::Builder::new()
        .name("swarm".into())
        .spawn(move || run.coordinate())?;
    Ok(SwarmHandle {
        thread: Some(thread),
        ..handle
    })
}

fn behaviour_check(b: &Behaviour) -> Result<()> {
    b.validate().map_err(Error::Usage)
}

/// The most buyer threads this machine should run: Linux caps threads by memory maps
/// (`vm.max_map_count`) and by the task limit; past that, buyers share threads.
pub fn thread_cap() -> usize {
    machine_threads().clamp(16, 10_000)
}

/// The most threads the machine allows a swarm, leaving room for everything else (an
/// explicit `--threads` above it is multiplexed onto this many).
pub fn machine_threads() -> usize {
    let read =
        |path: &str| -> Option<usize> { std::fs::read_to_string(path).ok()?.trim().parse().ok() };
    // Four maps a thread: its stack and guard page, and the signal stack and guard page
    // Rust's runtime gives every thread (measured: 40,000 threads against 65,530 maps
    // aborted in that signal-stack allocation).
    let maps = read("/proc/sys/vm/max_map_count").map_or(8192, |m| m / 4);
    let tasks = read("/proc/sys/kernel/threads-max").unwrap_or(usize::MAX);
    maps.min(tasks).saturating_sub(1024).max(16)
}

/// Buyer threads when none are asked for: one per buyer, up to about a thousand per
/// core and the machine's cap. More threads than that add nothing but cost: on 2 cores,
/// 10,000 threads spent ~0.5 s being woken, scheduled and joined (perf), and 50,000
/// buyers for 50 units took 1.6-1.9 s instead of 0.3-0.7 s with 2,000.
pub fn default_threads(buyers: u64) -> usize {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let buyers = usize::try_from(buyers).unwrap_or(usize::MAX);
    buyers.min(thread_cap()).min(1000 * cores).max(1)
}

/// How often the collector drains what the buyers sent.
const POLL: Duration = Duration::from_millis(20);

/// What a buyer thread tells the collector.
enum Msg {
    /// The run's start (sent once, by the coordinator, at the release).
    Released(Instant),
    Sample(Sample),
    /// A buyer finished: its first arrival number and whether it won a unit.
    Done {
        seq: u64,
        won: bool,
    },
}

struct Run {
    engine: Engine,
    config: SwarmConfig,
    product_id: crate::ids::ProductId,
    metrics: Arc<Mutex<Metrics>>,
    progress: Arc<Progress>,
    stop: Arc<AtomicBool>,
}

/// Shared by every buyer thread of a run.
struct Shared {
    engine: Engine,
    config: SwarmConfig,
    next_buyer: AtomicU64,
    /// Arrival order: taken when each buyer's first add-to-cart reaches the engine's
    /// door (see `engine/arrival.rs`: not before the call, where the scheduler could
    /// reorder two buyers on their way in).
    arrivals: Arc<AtomicU64>,
    /// Units this run holds that may still come back (taken, not yet paid or expired):
    /// while above zero, a `--retry` buyer keeps trying.
    pending: Arc<AtomicI64>,
    stop: Arc<AtomicBool>,
    /// The release: the coordinator holds the write lock while it spawns the threads,
    /// each thread waits on a read lock, and unlocking wakes them all at once with the
    /// release instant — the burst's arrival time, from which latency is measured. (A
    /// condvar woke them one by one through its mutex: 10,000 threads took ~400 ms.)
    go: RwLock<Option<Instant>>,
    tx: Sender<Msg>,
}

impl Run {
    fn coordinate(self) -> Result<SwarmReport> {
        let before = self.engine.counters();
        let stock_at_start = self
            .engine
            .stock()?
            .into_iter()
            .find(|s| s.product_id == self.product_id)
            .map_or(0, |s| s.available);
        let events = self.engine.subscribe();
        let (tx, rx) = unbounded();
        let pending = Arc::new(AtomicI64::new(0));
        let pending_left = Arc::clone(&pending);
        let shared = Arc::new(Shared {
            engine: self.engine.clone(),
            config: self.config.clone(),
            next_buyer: AtomicU64::new(0),
            arrivals: Arc::new(AtomicU64::new(0)),
            pending: Arc::clone(&pending),
            stop: Arc::clone(&self.stop),
            go: RwLock::new(None),
            tx,
        });
        let want = self
            .config
            .threads
            .map_or_else(
                || default_threads(self.config.buyers),
                |t| t.min(machine_threads()),
            )
            .clamp(1, usize::try_from(self.config.buyers).unwrap_or(usize::MAX));
        let collector = {
            let metrics = Arc::clone(&self.metrics);
            let progress = Arc::clone(&self.progress);
            let product = self.product_id;
            std::thread::Builder::new()
                .name("swarm-collector".into())
                .spawn(move || collect(&rx, &events, &metrics, &progress, &pending, product))?
        };
        let mut threads = Vec::with_capacity(want);
        let release = shared.go.write();
        for _ in 0..want {
            let shared = Arc::clone(&shared);
            // Small stacks: a buyer needs little, and thousands of threads must fit.
            let spawned = std::thread::Builder::new()
                .name("buyer".into())
                .stack_size(128 * 1024)
                .spawn(move || buyer_thread(&shared));
            match spawned {
                Ok(t) => threads.push(t),
                // The machine allows no more: the threads we have take the rest of the
                // buyers in turn (they pull from one counter), so nobody is lost.
                Err(e) => {
                    tracing::warn!("spawned {} buyer threads, then: {e}", threads.len());
                    break;
                }
            }
        }
        let thread_count = threads.len();
        let release_at = Instant::now();
        {
            let mut release = release;
            *release = Some(release_at);
        }
        let _ = shared.tx.send(Msg::Released(release_at));
        // The collector runs until every sender is gone: kept open while waiting for
        // the run's holds to expire.
        let keep_collecting = shared.tx.clone();
        drop(shared);
        if threads.is_empty() {
            return Err(Error::Io(std::io::Error::other(
                "could not start a single buyer thread",
            )));
        }
        for t in threads {
            let _ = t.join();
        }
        let elapsed = release_at.elapsed();
        if self.config.wait_expiry {
            let limit = Duration::from_millis(u64::try_from(self.engine.ttl_ms()).unwrap_or(0))
                + Duration::from_secs(10);
            let waiting = Instant::now();
            while pending_left.load(Ordering::Acquire) > 0
                && !self.stop.load(Ordering::Relaxed)
                && waiting.elapsed() < limit
            {
                std::thread::sleep(POLL);
            }
            // One more round of the collector, for the last expiries.
            std::thread::sleep(POLL * 2);
        }
        drop(keep_collecting);
        let arrivals = collector
            .join()
            .map_err(|_| Error::Io(std::io::Error::other("the swarm's collector panicked")))?;
        let after = self.engine.counters();
        let metrics = self.metrics.lock().clone();
        report::build(report::Inputs {
            engine: &self.engine,
            config: &self.config,
            product_id: self.product_id,
            threads: thread_count,
            stock_at_start,
            elapsed,
            metrics: &metrics,
            before,
            after,
            arrivals,
        })
    }
}

/// Drains samples into the metrics until every buyer thread is gone; returns each
/// buyer's (arrival, won) for the fairness figures.
fn collect(
    rx: &Receiver<Msg>,
    events: &Receiver<EngineEvent>,
    metrics: &Mutex<Metrics>,
    progress: &Progress,
    pending: &AtomicI64,
    product: crate::ids::ProductId,
) -> Vec<(u64, bool)> {
    let mut arrivals = Vec::new();
    let mut inbox = Vec::with_capacity(1024);
    let mut start = Instant::now();
    loop {
        // Polls instead of blocking in `recv`: a blocked receiver must be woken by the
        // sender (a system call on a buyer's thread for every sample); a polled one
        // costs the buyers nothing. 20 ms is finer than any progress bar or chart.
        std::thread::sleep(POLL);
        let open = loop {
            match rx.try_recv() {
                Ok(msg) => inbox.push(msg),
                Err(crossbeam_channel::TryRecvError::Empty) => break true,
                Err(crossbeam_channel::TryRecvError::Disconnected) => break false,
            }
        };
        let mut m = metrics.lock();
        for msg in inbox.drain(..) {
            match msg {
                Msg::Released(at) => start = at,
                Msg::Sample(s) => {
                    match s {
                        Sample::Attempt {
                            outcome: Outcome::Held,
                            ..
                        } => {
                            progress.holds.fetch_add(1, Ordering::Relaxed);
                        }
                        Sample::Paid { .. } => {
                            progress.orders.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {}
                    }
                    m.record(s);
                }
                Msg::Done { seq, won } => {
                    progress.buyers_done.fetch_add(1, Ordering::Relaxed);
                    arrivals.push((seq, won));
                }
            }
        }
        let at = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        for event in events.try_iter() {
            if let EngineEvent::Returned {
                reason: ReturnReason::Expired,
                holds,
            } = event
            {
                for h in holds.into_iter().filter(|h| h.product_id == product) {
                    // Units a retrying buyer was waiting for are back (or were never
                    // this run's: clamped at zero either way).
                    let _ = pending.fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| {
                        Some((p - h.qty).max(0))
                    });
                    let lag = u64::try_from(h.closed_at - h.expires_at).unwrap_or(0);
                    m.record(Sample::Expired {
                        at,
                        qty: h.qty,
                        lag_ms: lag,
                    });
                }
            }
        }
        drop(m);
        if !open {
            return arrivals;
        }
    }
}

fn buyer_thread(shared: &Shared) {
    // Blocks until the coordinator lets go of the write lock: the release.
    let Some(start) = *shared.go.read() else {
        return;
    };
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let index = shared.next_buyer.fetch_add(1, Ordering::Relaxed);
        if index >= shared.config.buyers {
            return;
        }
        buyer(shared, start, index);
    }
}

/// Sleeps until `at`, in short steps so a stopped run does not wait for a far arrival;
/// false if the run was stopped meanwhile.
fn sleep_until(shared: &Shared, at: Instant) -> bool {
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if at <= now {
            return true;
        }
        std::thread::sleep((at - now).min(Duration::from_millis(50)));
    }
}

fn millis_since(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn micros_between(from: Instant, to: Instant) -> u64 {
    u64::try_from(to.saturating_duration_since(from).as_micros()).unwrap_or(u64::MAX)
}

/// One buyer, from arrival to paid, gone, or turned away. `start` is the release: the
/// burst's arrival, the open model's time zero.
fn buyer(shared: &Shared, start: Instant, index: u64) {
    let config = &shared.config;
    let mut intended = match config.arrival {
        Arrival::Burst => start,
        Arrival::Rate(rate) => start + Duration::from_secs_f64(index as f64 / rate),
    };
    if !sleep_until(shared, intended) {
        return;
    }
    let name = format!("{}{index}", config.buyer_prefix);
    let send = |s: Sample| {
        let _ = shared.tx.send(Msg::Sample(s));
    };
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
    let mut last_chance = false;
    let won = loop {
        let result = shared.engine.reserve(&config.sku, &name, config.qty);
        // Turned away before the door (an unknown SKU): it arrived all the same.
        crate::engine::arrival::arrived();
        let answered = Instant::now();
        let latency_us = micros_between(intended, answered);
        let at = millis_since(start);
        match result {
            Ok(hold) => {
                send(Sample::Attempt {
                    at,
                    latency_us,
                    outcome: Outcome::Held,
                });
                break settle(shared, start, &hold, index, &send);
            }
            Err(e) => {
                let reason = e.rejection();
                send(Sample::Attempt {
                    at,
                    latency_us,
                    outcome: Outcome::Rejected(reason),
                });
                if !(config.retry && reason == crate::Rejection::SoldOut)
                    || shared.stop.load(Ordering::Relaxed)
                {
                    break false;
                }
                // Units may come back while others hold them: try again after a pause.
                // A winner counts its hold in `pending` a moment after its answer, so a
                // loser that sees none held tries once more before it gives up.
                if shared.pending.load(Ordering::Acquire) > 0 {
                    last_chance = false;
                } else if last_chance {
                    break false;
                } else {
                    last_chance = true;
                }
                backoff.wait();
                intended = Instant::now();
            }
        }
    };
    let seq = seq.get().unwrap_or(u64::MAX);
    let _ = shared.tx.send(Msg::Done { seq, won });
}

/// What the buyer does with the hold it won; returns whether it counts as won.
fn settle(
    shared: &Shared,
    start: Instant,
    hold: &crate::hold::Hold,
    index: u64,
    send: &impl Fn(Sample),
) -> bool {
    let config = &shared.config;
    let engine = &shared.engine;
    let action = config
        .behaviour
        .pick(&mut behaviour::buyer_rng(config.seed, index));
    let is_cart = hold.kind == HoldKind::Cart;
    if !is_cart {
        shared.pending.fetch_add(hold.qty, Ordering::AcqRel);
    }
    let at = || millis_since(start);

    match action {
        Action::Pay => match engine.checkout(hold) {
            Ok(_) => {
                send(Sample::Paid { at: at() });
                if !is_cart {
                    shared.pending.fetch_sub(hold.qty, Ordering::AcqRel);
                }
                true
            }
            Err(Error::Refunded { .. }) => {
                send(Sample::Refunded { at: at() });
                false
            }
            // Expired before payment: the sweeper or the checkout returned it.
            Err(_) => {
                if !is_cart {
                    shared.pending.fetch_sub(hold.qty, Ordering::AcqRel);
                }
                false
            }
        },
        // Its unit comes back when the hold expires; `pending` stays up until then so
        // retrying buyers keep waiting for it.
        Action::Abandon => !is_cart,
        Action::Cancel | Action::PayFail => {
            if action == Action::PayFail {
                send(Sample::PayFailed { at: at() });
            }
            if engine.release(hold).is_ok() && !is_cart {
                send(Sample::Released {
                    at: at(),
                    qty: hold.qty,
                });
            }
            if !is_cart {
                shared.pending.fetch_sub(hold.qty, Ordering::AcqRel);
            }
            !is_cart
        }
    }
}
