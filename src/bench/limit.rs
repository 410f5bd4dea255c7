//! The `limit` row: the engine's own reservation transaction ([`hold::reserve_locked`]
//! in `BEGIN IMMEDIATE`), one connection, one transaction per hold, one thread, nothing
//! else. What the single writer does when nobody is in its way — the yardstick of every
//! other row, measured in the same run on the same kind of file.

use std::path::Path;
use std::time::Instant;

use rusqlite::TransactionBehavior;

use super::{BenchConfig, BenchRow, SKU, fresh_db, units};
use crate::hold;
use crate::metrics::{Metrics, Outcome, Sample};
use crate::sql::Result;

pub(super) fn run(config: &BenchConfig, base: &Path) -> Result<BenchRow> {
    run_for(config, base, config.holds)
}

/// The limit row over `holds` transactions (the end-of-run check uses fewer).
pub(super) fn run_for(config: &BenchConfig, base: &Path, holds: u64) -> Result<BenchRow> {
    if let Some(url) = &config.server {
        return Ok(super::server::limit(config, url, holds)?);
    }
    let (_dir, store) = fresh_db(base, config, &[(SKU, units(holds))])?;
    let mut conn = store.dedicated()?;
    let product = hold::product_by_sku(&conn, SKU)?
        .ok_or_else(|| crate::Error::Usage("the bench product vanished".into()))?;
    let ttl = 3_600_000;
    let clock = crate::Clock::real();
    let mut metrics = Metrics::default();
    let cpu_started = crate::swarm::cpu_time();
    let started = Instant::now();
    let deadline = started + super::time_limit::for_limit_row(config);
    let mut commits = 0u64;
    let mut complete = true;
    for i in 0..holds {
        let began = Instant::now();
        if began >= deadline {
            complete = false;
            break;
        }
        let buyer = format!("b{i}");
        let now = clock.now();
        // IMMEDIATE: it reads the stock and then writes (as every safe strategy does).
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let outcome = match hold::reserve_locked(&tx, &product, &buyer, 1, now, ttl) {
            Ok(_) => {
                tx.commit()?;
                commits += 1;
                Outcome::Held
            }
            Err(e) => Outcome::Rejected(e.0.rejection()),
        };
        let answered = Instant::now();
        metrics.record(Sample::Attempt {
            at: u64::try_from((answered - started).as_millis()).unwrap_or(u64::MAX),
            latency_us: u64::try_from((answered - began).as_micros()).unwrap_or(u64::MAX),
            outcome,
        });
    }
    let elapsed = started.elapsed();
    let cpu = crate::swarm::cpu_time().saturating_sub(cpu_started);
    let stock = hold::stock(&conn)?
        .into_iter()
        .find(|s| s.sku == SKU)
        .ok_or_else(|| crate::Error::Usage("the bench product vanished".into()))?;
    Ok(super::limit_row(
        &metrics,
        &stock,
        commits,
        (elapsed, cpu),
        complete,
    ))
}
