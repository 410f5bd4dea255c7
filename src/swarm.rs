//! The bot swarm: real OS threads, released together, each playing buyers who press "Add
//! to cart" and then pay, walk away, cancel or fail to pay.
//!
//! Data flows one way (as in oha): each buyer thread keeps what happened and sends it
//! down a channel in batches; one collector thread folds it into the run's [`Metrics`],
//! which a progress bar, the console and the final report all read. The numbers that
//! judge the run — sold, oversold, undersold — come from the database afterwards, never
//! from these counters.
//!
//! This is the one load driver: `flashsale bench` runs each strategy's row as a swarm
//! (closed-loop arrival, a time limit, no expiry watching) and reads its report.

mod behaviour;
mod buyer;
mod collect;
pub mod http;
mod live;
pub mod machine;
mod report;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::unbounded;
use parking_lot::{Mutex, RwLock};

use crate::engine::{CounterSnapshot, Engine};
use crate::error::{Error, Result};
use crate::metrics::Metrics;

pub use behaviour::{Action, Behaviour};
pub use buyer::Ending;
pub use collect::Endings;
pub use live::{Live, Progress};
pub use report::{Fairness, Lag, SwarmReport};

/// The most buyers one swarm takes: each buyer's arrival and outcome is kept for the
/// report's fairness figures (a million buyers took 181 MiB in all).
pub const MAX_BUYERS: u64 = 10_000_000;

/// The longest an open-model arrival schedule may run (`--arrival-rate`).
pub const MAX_ARRIVAL_SPAN: Duration = Duration::from_secs(30 * 24 * 60 * 60);

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrival {
    /// Everyone at once, released by one signal.
    Burst,
    /// An open model: buyer `i` arrives at `i / rate` seconds, whatever the engine does.
    Rate(f64),
    /// A closed loop: every thread is released at once, and each thread's next buyer
    /// arrives the moment the thread is free, so latency is one request's own (the
    /// bench's workload).
    Closed,
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
    /// No new buyer arrives after this long from the release; the rest count as
    /// stopped (a bench row's bound, so one slow strategy cannot stall the table).
    pub time_limit: Option<Duration>,
    /// Listen to the engine's events for the report's `expiry_lag_ms`. Off when no hold
    /// can expire during the run (the bench's outlive it): a listener makes the engine
    /// build and send an event for every hold, under its one subscribers' lock.
    pub watch_expiries: bool,
}

impl SwarmConfig {
    /// Refuses a run that cannot end well: no buyers or too many, a bad quantity or
    /// behaviour, an arrival rate that is not a rate or spreads the buyers over more
    /// than [`MAX_ARRIVAL_SPAN`].
    pub fn check(&self) -> Result<()> {
        if !(1..=MAX_BUYERS).contains(&self.buyers) {
            return Err(Error::Usage(format!(
                "--buyers must be a whole number from 1 to {MAX_BUYERS} (got {})",
                self.buyers
            )));
        }
        crate::hold::check_quantity(self.qty)?;
        self.behaviour.validate().map_err(Error::Usage)?;
        if let Arrival::Rate(rate) = self.arrival {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(Error::Usage(format!(
                    "--arrival-rate must be a number of buyers per second above 0 (got {})",
                    shown_rate(rate)
                )));
            }
            let span = Duration::try_from_secs_f64(self.buyers.saturating_sub(1) as f64 / rate);
            if !span.is_ok_and(|s| s <= MAX_ARRIVAL_SPAN) {
                let least = self.buyers as f64 / MAX_ARRIVAL_SPAN.as_secs_f64();
                return Err(Error::Usage(format!(
                    "--arrival-rate {} cannot bring {} buyers within 30 days; ask for at least {least:.6} buyers per second",
                    shown_rate(rate),
                    self.buyers
                )));
            }
        }
        Ok(())
    }

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
            time_limit: None,
            watch_expiries: true,
        }
    }
}

/// A finished run: its report, and the engine's counters over the run (the figures the
/// report leaves out, such as commits, for the bench's row).
#[derive(Debug, Clone)]
pub struct Finished {
    pub report: SwarmReport,
    pub counters: CounterSnapshot,
    /// The process's CPU time from the release until the last buyer thread was done:
    /// every thread's, the buyers' and the engine's alike.
    pub cpu: Duration,
    /// The part of `cpu` the buyer threads spent themselves (asking, waiting, waking up,
    /// keeping score): the rest is the engine's (its writer, waker, checkpointer) and
    /// the collector's.
    pub buyers_cpu: Duration,
    /// The run's selling time, unrounded (the report keeps whole milliseconds, which
    /// for a row of a few dozen holds can be zero).
    pub elapsed: Duration,
    /// How the engine's writer and waker threads spent the run's selling time (a file's
    /// engine; where the kernel keeps scheduler statistics).
    pub threads: crate::engine::EngineThreads,
    /// The whole machine's CPU time over the same span (where `/proc/stat` exists).
    pub machine: Option<machine::MachineTimes>,
}

/// The CPU time this process has used so far, every thread's (those that have exited
/// too). What bounds a run on a machine with few cores: the rate cannot pass the cores
/// over the CPU time each hold costs.
pub fn cpu_time() -> Duration {
    clock(rustix::time::ClockId::ProcessCPUTime)
}

/// The calling thread's CPU time so far.
pub(crate) fn thread_cpu_time() -> Duration {
    clock(rustix::time::ClockId::ThreadCPUTime)
}

fn clock(id: rustix::time::ClockId) -> Duration {
    let t = rustix::time::clock_gettime(id);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// A running swarm. Dropping it does not stop it; call [`SwarmHandle::stop`].
pub struct SwarmHandle {
    pub metrics: Arc<Mutex<Metrics>>,
    pub progress: Arc<Progress>,
    pub buyers: u64,
    pub started: Instant,
    engine: Engine,
    /// The engine's counters when the run started: every "since the run began" is
    /// taken from this one reading.
    counters_before: CounterSnapshot,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<Finished>>>,
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
    pub fn join(self) -> Result<SwarmReport> {
        self.finish().map(|f| f.report)
    }

    /// Waits for the end: the report and the engine's counters over the run.
    pub fn finish(mut self) -> Result<Finished> {
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
    config.check()?;
    let product = engine.product(&config.sku)?;
    if let Some(stock) = config.stock {
        engine.restock(&config.sku, stock)?;
    }
    let metrics = Arc::new(Mutex::new(Metrics::default()));
    let progress = Arc::new(Progress::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let counters_before = engine.counters();
    let handle = SwarmHandle {
        metrics: Arc::clone(&metrics),
        progress: Arc::clone(&progress),
        buyers: config.buyers,
        started,
        engine: engine.clone(),
        counters_before,
        stop: Arc::clone(&stop),
        thread: None,
    };
    let run = Run {
        engine: engine.clone(),
        config: config.clone(),
        product_id: product.id,
        counters_before,
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

struct Run {
    engine: Engine,
    config: SwarmConfig,
    product_id: crate::ids::ProductId,
    counters_before: CounterSnapshot,
    metrics: Arc<Mutex<Metrics>>,
    progress: Arc<Progress>,
    stop: Arc<AtomicBool>,
}

impl Run {
    fn coordinate(self) -> Result<Finished> {
        let books_before = self
            .engine
            .stock()?
            .into_iter()
            .find(|s| s.product_id == self.product_id);
        let stock_at_start = books_before.as_ref().map_or(0, |s| s.available);
        let events = self.config.watch_expiries.then(|| self.engine.subscribe());
        let (tx, rx) = unbounded();
        let in_play = Arc::new(collect::InPlay::default());
        let shared = Arc::new(buyer::Shared {
            engine: self.engine.clone(),
            config: self.config.clone(),
            next_buyer: AtomicU64::new(0),
            arrivals: Arc::new(AtomicU64::new(0)),
            in_play: Arc::clone(&in_play),
            stop: Arc::clone(&self.stop),
            fault: Mutex::new(None),
            go: RwLock::new(None),
            finished_us: AtomicU64::new(0),
            running: AtomicUsize::new(0),
            cpu_done_ns: AtomicU64::new(0),
            buyers_cpu_ns: AtomicU64::new(0),
            done: Mutex::new(None),
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
            let engine = self.engine.clone();
            let (retry, qty) = (self.config.retry, self.config.qty);
            std::thread::Builder::new()
                .name("swarm-collector".into())
                .spawn(move || {
                    collect::Collector {
                        rx,
                        events,
                        metrics: &metrics,
                        progress: &progress,
                        product,
                        in_play: retry.then_some((&engine, &*in_play, qty)),
                    }
                    .run()
                })?
        };
        let mut threads = Vec::with_capacity(want);
        let release = shared.go.write();
        for _ in 0..want {
            let shared = Arc::clone(&shared);
            // Small stacks: a buyer needs little, and thousands of threads must fit.
            let spawned = std::thread::Builder::new()
                .name("buyer".into())
                .stack_size(128 * 1024)
                .spawn(move || buyer::buyer_thread(&shared));
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
        // Before the release: no thread is past it yet to count itself done.
        shared.running.store(thread_count, Ordering::Release);
        let cpu_at_release = cpu_time();
        let threads_at_release = self.engine.thread_times();
        let machine_at_release = machine::MachineTimes::now();
        let release_at = Instant::now();
        {
            let mut release = release;
            *release = Some(release_at);
        }
        let _ = shared.tx.send(vec![collect::Msg::Released(release_at)]);
        // The collector runs until every sender is gone: kept open while waiting for
        // the run's holds to expire.
        let keep_collecting = shared.tx.clone();
        if threads.is_empty() {
            return Err(Error::Io(std::io::Error::other(
                "could not start a single buyer thread",
            )));
        }
        for t in threads {
            let _ = t.join();
        }
        // The sale's time ends with the last buyer's last answer, not when the last of a
        // thousand threads has exited: their teardown took 20–50 ms of a 0.3 s row
        // (20,000 holds), a sixth of the queue's rate at that size.
        let elapsed = match shared.finished_us.load(Ordering::Relaxed) {
            0 => release_at.elapsed(),
            us => Duration::from_micros(us),
        };
        let cpu = match shared.cpu_done_ns.load(Ordering::Relaxed) {
            0 => cpu_time(),
            ns => Duration::from_nanos(ns),
        }
        .saturating_sub(cpu_at_release);
        let done = shared
            .done
            .lock()
            .take()
            .unwrap_or_else(|| buyer::AtDone::now(&self.engine));
        let threads = done.threads.since(threads_at_release);
        let machine = done
            .machine
            .zip(machine_at_release)
            .map(|(done, release)| done.since(release));
        let buyers_cpu = Duration::from_nanos(shared.buyers_cpu_ns.load(Ordering::Relaxed));
        if let Some(fault) = shared.fault.lock().take() {
            return Err(fault);
        }
        drop(shared);
        if self.config.wait_expiry {
            self.wait_for_expiry()?;
        }
        drop(keep_collecting);
        let collected = collector
            .join()
            .map_err(|_| Error::Io(std::io::Error::other("the swarm's collector panicked")))?;
        let counters = self.engine.counters().since(self.counters_before);
        let metrics = self.metrics.lock().clone();
        let report = report::build(report::Inputs {
            engine: &self.engine,
            config: &self.config,
            product_id: self.product_id,
            threads: thread_count,
            stock_at_start,
            books_before,
            elapsed,
            metrics: &metrics,
            counters,
            collected,
        })?;
        Ok(Finished {
            report,
            counters,
            cpu,
            buyers_cpu,
            elapsed,
            threads,
            machine,
        })
    }

    /// Waits until the holds this run's buyers walked away from have expired and their
    /// units are back (read from the database, whoever expired them), at most the hold
    /// TTL and 10 s more.
    fn wait_for_expiry(&self) -> Result<()> {
        let limit = Duration::from_millis(u64::try_from(self.engine.ttl_ms()).unwrap_or(0))
            .saturating_add(Duration::from_secs(10));
        let waiting = Instant::now();
        while !self.stop.load(Ordering::Relaxed) && waiting.elapsed() < limit {
            let active = self
                .engine
                .units_by_status(self.product_id, &self.config.buyer_prefix)?
                .into_iter()
                .any(|(status, units)| status == crate::hold::ACTIVE && units > 0);
            if !active {
                break;
            }
            std::thread::sleep(collect::POLL);
        }
        // One more round of the collector, for the last expiries.
        std::thread::sleep(collect::POLL * 2);
        Ok(())
    }
}

/// A rate as a person would write it: `1e-300`, not three hundred zeros.
fn shown_rate(rate: f64) -> String {
    if rate != 0.0 && (rate.abs() < 1e-3 || rate.abs() >= 1e9) {
        format!("{rate:e}")
    } else {
        format!("{rate}")
    }
}
