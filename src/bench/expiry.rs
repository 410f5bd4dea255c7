//! Expiry at scale: `expiry_holds` active holds all due at the same millisecond, while
//! buyers keep reserving another product through the same writer. Shows how long after
//! its deadline a unit is back on sale (`expiry_lag_ms`), and what the sweeper's bounded
//! batches cost the reservations going on meanwhile.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::{TransactionBehavior, params};
use serde::Serialize;

use super::{BenchConfig, fresh_db, units};
use crate::clock::Millis;
use crate::engine::{Engine, EngineConfig, EngineEvent, ReturnReason};
use crate::ids::HoldId;
use crate::metrics::{Metrics, Outcome, Percentiles, Sample};
use crate::sql::Result;
use crate::strategy::Strategy;

const EXPIRING: &str = "EXPIRE";
const OTHER: &str = "OTHER";
/// Threads reserving the other product while the holds expire.
const LOAD_THREADS: usize = 16;
/// How long before the deadline the load starts (its "before" figures).
const LEAD: Duration = Duration::from_millis(1000);
/// The most the scenario waits for every unit to come back.
const GIVE_UP: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Serialize)]
pub struct ExpiryReport {
    pub holds: u64,
    /// Units back on sale by the end (all of them, unless something is wrong).
    pub returned: u64,
    /// From the deadline to the last unit back on sale.
    pub all_back_ms: u64,
    /// How long after its deadline each unit was back on sale (seen by a subscriber).
    pub expiry_lag_ms: Percentiles,
    /// Reservations of another product before the deadline, and while the sweeper
    /// worked: latency in µs and holds per second.
    pub before_us: Percentiles,
    pub during_us: Percentiles,
    pub before_holds_per_sec: f64,
    pub during_holds_per_sec: f64,
    pub sweep_batch: i64,
    pub strategy: String,
}

impl ExpiryReport {
    pub fn line(&self) -> String {
        format!(
            "expiry: {} holds due at once, all back in {} ms; lag p50 {} ms, p99 {} ms; reservations meanwhile p99 {} µs (before {} µs), {:.0} holds/s (before {:.0})",
            self.holds,
            self.all_back_ms,
            self.expiry_lag_ms.p50,
            self.expiry_lag_ms.p99,
            self.during_us.p99,
            self.before_us.p99,
            self.during_holds_per_sec,
            self.before_holds_per_sec,
        )
    }
}

pub(super) fn run(config: &BenchConfig, base: &Path) -> Result<ExpiryReport> {
    let n = config.expiry_holds;
    let (_dir, store) = fresh_db(base, config, &[(EXPIRING, units(n)), (OTHER, 10_000_000)])?;
    let clock = crate::Clock::real();
    // The holds, written straight into the file in one transaction: as if buyers took
    // them a while ago. IMMEDIATE: it writes.
    let deadline = {
        let mut conn = store.dedicated()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = clock.now();
        let product: i64 =
            tx.query_row("SELECT id FROM products WHERE sku = ?1", [EXPIRING], |r| {
                r.get(0)
            })?;
        {
            let mut insert = tx.prepare(
                "INSERT INTO holds (id, product_id, buyer, qty, status, created_at, expires_at)
                 VALUES (?1, ?2, ?3, 1, 'active', ?4, ?5)",
            )?;
            for i in 0..n {
                insert.execute(params![
                    HoldId::at(now).to_string(),
                    product,
                    format!("e{i}"),
                    now,
                    now + 3_600_000
                ])?;
            }
        }
        tx.execute(
            "UPDATE products SET stock_available = 0 WHERE id = ?1",
            [product],
        )?;
        // All due at the same millisecond, a moment after the load has started.
        let deadline = clock.now() + i64::try_from(LEAD.as_millis()).unwrap_or(1000) + 200;
        tx.execute(
            "UPDATE holds SET expires_at = ?1 WHERE product_id = ?2",
            params![deadline, product],
        )?;
        tx.commit()?;
        deadline
    };
    let engine = Engine::open(
        store,
        EngineConfig {
            strategy: Strategy::Immediate,
            ..EngineConfig::default()
        },
    )?;
    let sweep_batch = EngineConfig::default().sweep_batch;
    let events = engine.subscribe();
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU64::new(0));
    let load_started = Instant::now();
    let load_started_ms = clock.now();
    let load: Vec<_> = (0..LOAD_THREADS)
        .map(|_| {
            let engine = engine.clone();
            let stop = Arc::clone(&stop);
            let next = Arc::clone(&next);
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let began = Instant::now();
                    let r = engine.reserve(OTHER, &format!("o{i}"), 1);
                    let done = Instant::now();
                    seen.push((
                        done - load_started,
                        u64::try_from((done - began).as_micros()).unwrap_or(u64::MAX),
                        r.is_ok(),
                    ));
                }
                seen
            })
        })
        .collect();
    let mut lag = Metrics::default();
    let mut returned = 0u64;
    let mut last_back: Millis = deadline;
    let give_up = Instant::now() + LEAD + GIVE_UP;
    while returned < n && Instant::now() < give_up {
        match events.recv_timeout(Duration::from_millis(50)) {
            Ok(EngineEvent::Returned {
                reason: ReturnReason::Expired,
                holds,
            }) => {
                let seen_at = clock.now();
                for h in holds {
                    returned += u64::try_from(h.qty).unwrap_or(0);
                    lag.record(Sample::Expired {
                        at: 0,
                        qty: h.qty,
                        lag_ms: u64::try_from(seen_at - h.expires_at).unwrap_or(0),
                    });
                }
                last_back = seen_at;
            }
            Ok(_) | Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        }
    }
    // A little load after the wave, then stop.
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let seen: Vec<_> = load
        .into_iter()
        .filter_map(|t| t.join().ok())
        .flatten()
        .collect();
    // The wave, in load time: from the deadline to the last unit back.
    let wave_from = Duration::from_millis(u64::try_from(deadline - load_started_ms).unwrap_or(0));
    let wave_to = Duration::from_millis(u64::try_from(last_back - load_started_ms).unwrap_or(0))
        .max(wave_from + Duration::from_millis(1));
    let mut before = Metrics::default();
    let mut during = Metrics::default();
    for (at, latency_us, ok) in seen {
        let outcome = if ok {
            Outcome::Held
        } else {
            Outcome::Rejected(crate::Rejection::Other)
        };
        let sample = Sample::Attempt {
            at: 0,
            latency_us,
            outcome,
        };
        if at < wave_from {
            before.record(sample);
        } else if at <= wave_to {
            during.record(sample);
        }
    }
    let rate = |m: &Metrics, span: Duration| m.held as f64 / span.as_secs_f64().max(1e-9);
    Ok(ExpiryReport {
        holds: n,
        returned,
        all_back_ms: u64::try_from(last_back - deadline).unwrap_or(0),
        expiry_lag_ms: lag.expiry_lag_ms(),
        before_us: before.latency_us(),
        during_us: during.latency_us(),
        before_holds_per_sec: rate(&before, wave_from),
        during_holds_per_sec: rate(&during, wave_to - wave_from),
        sweep_batch,
        strategy: Strategy::Immediate.name().to_owned(),
    })
}
