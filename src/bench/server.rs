//! The bench on a PostgreSQL database (`flashsale bench --db postgres://…`): every row
//! on the same database, emptied and loaded with the bench's sale before it, and
//! PostgreSQL's own `limit` row — the `immediate` transaction (one call that locks with
//! `SELECT … FOR UPDATE`, checks, decrements and inserts, in autocommit) on one
//! connection, one transaction per hold, one thread: what the server does for one client
//! with nobody in its way.

use std::time::Instant;

use super::{BenchConfig, BenchRow, SKU, units};
use crate::error::{Error, Result};
use crate::metrics::{Metrics, Outcome, Sample};
use crate::pg::PgStore;
use crate::pg::hold as pg;
use crate::pg::sale::{Existing, load_as};

/// Empties the database and loads the bench's sale: `products` as `(sku, units)`.
pub(super) fn fresh(url: &str, products: &[(&str, i64)]) -> Result<PgStore> {
    let store = PgStore::open(url)?;
    let sale = super::bench_sale(products);
    // The bench empties its database before every row: never someone's real sale.
    if let Some(rules) = crate::pg::sale::rules(&mut *store.conn()?)?
        && rules.name != sale.name
    {
        return Err(Error::Usage(format!(
            "{} holds the sale {:?}, and the bench empties its database before every row; give the bench a database of its own (createdb flashsale_bench)",
            store.shown(),
            rules.name
        )));
    }
    load_as(
        &mut *store.conn()?,
        &sale,
        crate::Clock::real().now(),
        Existing::Replace,
    )?;
    Ok(store)
}

pub(super) fn limit(config: &BenchConfig, url: &str, holds: u64) -> Result<BenchRow> {
    let store = fresh(url, &[(SKU, units(holds))])?;
    let mut conn = store.conn()?;
    let product = pg::all_products(&mut *conn)?
        .into_iter()
        .find(|p| p.sku == SKU)
        .ok_or_else(|| Error::Usage("the bench product vanished".into()))?;
    let ttl = 3_600_000;
    let clock = crate::Clock::real();
    let mut metrics = Metrics::default();
    let cpu_started = crate::swarm::cpu_time();
    let started = Instant::now();
    let deadline = started + super::time_limit::for_limit_row(config);
    let (mut commits, mut complete) = (0u64, true);
    for i in 0..holds {
        let began = Instant::now();
        if began >= deadline {
            complete = false;
            break;
        }
        let buyer = format!("b{i}");
        let outcome = match pg::reserve_in_one_call(
            &mut *conn,
            pg::OneCall::Immediate,
            &product,
            &buyer,
            1,
            clock.now(),
            ttl,
        ) {
            Ok(_) => {
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
    let stock = pg::stock(&mut *conn)?
        .into_iter()
        .find(|s| s.sku == SKU)
        .ok_or_else(|| Error::Usage("the bench product vanished".into()))?;
    Ok(super::limit_row(
        &metrics,
        &stock,
        commits,
        (elapsed, cpu),
        complete,
    ))
}
