//! One strategy's row: `threads` buyer threads in a closed loop against a fresh engine.
//!
//! Each thread keeps what it saw in plain local vectors and hands them over once at the
//! end, so measuring costs the engine nothing while it runs; the vectors are then folded
//! into the one [`Metrics`] aggregate the report reads.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{BenchConfig, BenchRow, SKU, fresh_engine, millis, units};
use crate::engine::{Engine, EngineConfig};
use crate::error::{Error, Result};
use crate::metrics::{Metrics, Outcome, Sample};
use crate::strategy::Strategy;
use crate::swarm::Fairness;

/// What one buyer thread saw.
#[derive(Default)]
struct Seen {
    /// `(ms since release, latency µs, outcome)` per request.
    requests: Vec<(u64, u64, Outcome)>,
    /// `(arrival, won)` per buyer.
    arrivals: Vec<(u64, bool)>,
    /// Orders this thread's buyers paid.
    paid: u64,
}

/// The gate's sold-out answers, counted once the gate row has sold out.
#[derive(Debug, Clone, Copy)]
pub(super) struct GateProbe {
    pub per_sec: f64,
    pub touched_db: bool,
}

pub(super) fn run(
    config: &BenchConfig,
    base: &Path,
    strategy: Strategy,
) -> Result<(BenchRow, Option<GateProbe>)> {
    let (_dir, engine) = fresh_engine(
        base,
        config,
        &[(SKU, units(config.holds))],
        EngineConfig {
            strategy,
            wal_bound: config.wal_bound,
            ..EngineConfig::default()
        },
    )?;
    let before = engine.counters();
    let buyers = config.buyers();
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let want = config
        .threads
        .min(usize::try_from(buyers).unwrap_or(usize::MAX));
    // Everyone is released together: the barrier counts the threads that started plus
    // this one, so a failed spawn (fewer threads) cannot leave it waiting forever.
    let start_gate = Arc::new(parking_lot::Mutex::new(None::<Instant>));
    let ready = Arc::new(parking_lot::Condvar::new());
    let mut threads = Vec::with_capacity(want);
    for _ in 0..want {
        let engine = engine.clone();
        let next = Arc::clone(&next);
        let stop = Arc::clone(&stop);
        let start_gate = Arc::clone(&start_gate);
        let ready = Arc::clone(&ready);
        let limit = config.time_limit;
        let pay = config.pay;
        let spawned = std::thread::Builder::new()
            .name("bench-buyer".into())
            .stack_size(128 * 1024)
            .spawn(move || {
                let start = {
                    let mut go = start_gate.lock();
                    loop {
                        if let Some(at) = *go {
                            break at;
                        }
                        ready.wait(&mut go);
                    }
                };
                buyer_loop(&engine, strategy, pay, &next, &stop, buyers, start, limit)
            });
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => {
                tracing::warn!("bench: {} threads, then: {e}", threads.len());
                break;
            }
        }
    }
    if threads.is_empty() {
        return Err(Error::Io(std::io::Error::other(
            "could not start a single bench thread",
        )));
    }
    let thread_count = threads.len();
    let watcher = config.watch.then(|| watch(&engine, &stop));
    let released = Instant::now();
    *start_gate.lock() = Some(released);
    ready.notify_all();
    let mut metrics = Metrics::default();
    let mut arrivals = Vec::with_capacity(usize::try_from(buyers).unwrap_or(0));
    let mut seen_all: Vec<Seen> = Vec::with_capacity(thread_count);
    for t in threads {
        if let Ok(seen) = t.join() {
            seen_all.push(seen);
        }
    }
    let elapsed = released.elapsed();
    stop.store(true, Ordering::Relaxed);
    if let Some(Some(w)) = watcher {
        let _ = w.join();
    }
    let paid = seen_all.iter().map(|s| s.paid).sum();
    for seen in seen_all {
        for (at, latency_us, outcome) in seen.requests {
            metrics.record(Sample::Attempt {
                at,
                latency_us,
                outcome,
            });
        }
        arrivals.extend(seen.arrivals);
    }
    let complete = next.load(Ordering::Relaxed) >= buyers;
    let probe = if strategy == Strategy::Gate && !config.gate_probe.is_zero() {
        Some(gate_probe(&engine, config.gate_probe, config.threads))
    } else {
        None
    };
    let counted = engine.counters().since(before);
    let stock = engine
        .stock()?
        .into_iter()
        .find(|s| s.sku == SKU)
        .ok_or_else(|| Error::Usage("the bench product vanished".into()))?;
    let fairness = Fairness::of(arrivals, units(config.holds));
    let lat = metrics.latency_us();
    let secs = elapsed.as_secs_f64().max(1e-9);
    let held = match strategy {
        // Pay-first claims stock at payment: its paid units are its holds.
        Strategy::PayFirst => u64::try_from(stock.sold).unwrap_or(0),
        _ => metrics.held,
    };
    let row = BenchRow {
        strategy: strategy.name().to_owned(),
        holds_per_sec: held as f64 / secs,
        ratio_to_limit: 0.0,
        p50_us: lat.p50,
        p99_us: lat.p99,
        max_us: lat.max,
        sold: stock.held + stock.sold,
        oversold: stock.oversold(),
        fairness: fairness.share,
        inversions: fairness.inversions,
        conflicts: counted.conflicts,
        busy: counted.busy,
        attempts: metrics.attempts,
        held,
        rejected: metrics.rejected_total(),
        commits: counted.commits,
        threads: thread_count,
        elapsed_ms: millis(elapsed),
        complete,
        paid,
        wal_peak_bytes: engine.wal_stats().peak_bytes,
    };
    Ok((row, probe))
}

/// How often the watcher reads, as the console does.
const WATCH_EVERY: Duration = Duration::from_millis(200);

/// A console's reads during the row: its read model on a connection of its own.
fn watch(engine: &Engine, stop: &Arc<AtomicBool>) -> Option<std::thread::JoinHandle<()>> {
    let mut session = engine.reader().session().ok()?;
    let clock = engine.clock().clone();
    let stop = Arc::clone(stop);
    std::thread::Builder::new()
        .name("bench-watch".into())
        .spawn(move || {
            let query = crate::monitor::Query::default();
            while !stop.load(Ordering::Relaxed) {
                if let Err(e) = session.read(&query, clock.now()) {
                    tracing::warn!("bench watcher: {e}");
                }
                std::thread::sleep(WATCH_EVERY);
            }
        })
        .ok()
}

#[allow(clippy::too_many_arguments)]
fn buyer_loop(
    engine: &Engine,
    strategy: Strategy,
    pay: bool,
    next: &AtomicU64,
    stop: &AtomicBool,
    buyers: u64,
    start: Instant,
    limit: Duration,
) -> Seen {
    let mut seen = Seen::default();
    let deadline = start + limit;
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let began = Instant::now();
        if began >= deadline {
            stop.store(true, Ordering::Relaxed);
            break;
        }
        // The arrival: taken just before the request, so its order is the order in
        // which requests reached the engine.
        let index = next.fetch_add(1, Ordering::Relaxed);
        if index >= buyers {
            break;
        }
        let buyer = format!("b{index}");
        let result = engine.reserve(SKU, &buyer, 1).and_then(|hold| {
            if strategy == Strategy::PayFirst {
                engine.checkout(&hold).map(|_| hold)
            } else {
                Ok(hold)
            }
        });
        let answered = Instant::now();
        // The payment is not part of the add-to-cart's latency (pay-first's is: its
        // add-to-cart takes nothing).
        let paid = match (&result, strategy) {
            (Ok(_), Strategy::PayFirst) => true,
            (Ok(hold), _) if pay => engine.checkout(hold).is_ok(),
            _ => false,
        };
        seen.paid += u64::from(paid);
        let latency = u64::try_from((answered - began).as_micros()).unwrap_or(u64::MAX);
        let at = u64::try_from((answered - start).as_millis()).unwrap_or(u64::MAX);
        let outcome = match &result {
            Ok(_) => Outcome::Held,
            Err(e) => Outcome::Rejected(e.rejection()),
        };
        seen.requests.push((at, latency, outcome));
        seen.arrivals.push((index, result.is_ok()));
    }
    seen
}

/// Once the gate has sold out, asks it as fast as the machine can for `probe`: how many
/// sold-out answers per second, and did any of them reach the database.
/// Sold-out answers per second from `threads` buyers at once (at most 64, at least one
/// per core): what one process answers when a crowd keeps pressing after the sale ended.
fn gate_probe(engine: &Engine, probe: Duration, threads: usize) -> GateProbe {
    let before = engine.counters();
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let threads = threads.clamp(cores, 64);
    let answers: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let started = Instant::now();
                    let mut n = 0u64;
                    loop {
                        for _ in 0..1024 {
                            if matches!(engine.reserve(SKU, "probe", 1), Err(Error::SoldOut { .. }))
                            {
                                n += 1;
                            }
                        }
                        if started.elapsed() >= probe {
                            return (n, started.elapsed());
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok())
            .map(|(n, took)| (n as f64 / took.as_secs_f64().max(1e-9)) as u64)
            .sum()
    });
    let during = engine.counters().since(before);
    GateProbe {
        per_sec: answers as f64,
        touched_db: during.commits > 0 || during.rollbacks > 0,
    }
}
