//! One strategy's row: a swarm against a fresh engine — `threads` buyer threads released
//! together in a closed loop (each thread's next buyer arrives when it is free), every
//! winner paying when `pay` (pay-first's always: it takes stock at payment), until
//! every buyer has tried or the row's time limit passes. The row is read off the
//! swarm's report: the swarm is the one load driver, its buyer threads record on the
//! thread and hand over in batches, so measuring costs the engine nothing per request.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{BenchConfig, BenchRow, SKU, fresh_engine, units};
use crate::engine::{Engine, EngineConfig};
use crate::error::{Error, Result};
use crate::strategy::Strategy;
use crate::swarm::{self, Arrival, Behaviour, SwarmConfig};

/// The gate's sold-out answers, counted once the gate row has sold out.
#[derive(Debug, Clone, Copy)]
pub(super) struct GateProbe {
    pub per_sec: f64,
    pub touched_db: bool,
}

/// The row's swarm: the bench's workload as a swarm configuration, taking no new
/// buyers after `time_limit`.
fn workload(config: &BenchConfig, strategy: Strategy, time_limit: Duration) -> SwarmConfig {
    let mut swarm = SwarmConfig::new(SKU, config.buyers());
    swarm.threads = Some(config.threads);
    swarm.arrival = Arrival::Closed;
    swarm.time_limit = Some(time_limit);
    // Winners pay (pay-first's cart is only a unit once paid); otherwise they keep
    // their holds, which outlive the row: no expiry to watch.
    let pays = config.pay || strategy == Strategy::PayFirst;
    swarm.behaviour =
        Behaviour::from_flags(pays.then_some(1.0), (!pays).then_some(1.0), None, None);
    swarm.watch_expiries = false;
    swarm.buyer_prefix = "b".into();
    swarm
}

pub(super) fn run(
    config: &BenchConfig,
    base: &Path,
    strategy: Strategy,
    time_limit: Duration,
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
    let stop = Arc::new(AtomicBool::new(false));
    let handle = swarm::start(&engine, &workload(config, strategy, time_limit))?;
    let watcher = config.watch.then(|| watch(&engine, &stop));
    let finished = handle.finish();
    stop.store(true, Ordering::Relaxed);
    if let Some(Some(w)) = watcher {
        let _ = w.join();
    }
    let finished = finished?;
    let probe = if strategy == Strategy::Gate && !config.gate_probe.is_zero() {
        Some(gate_probe(&engine, config.gate_probe, config.threads))
    } else {
        None
    };
    let row = BenchRow::of_swarm(&finished, engine.wal_stats().peak_bytes);
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
