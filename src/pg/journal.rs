//! The sale's journal on PostgreSQL (schema step 3): runs, the operator log, and what
//! the selling process runs now — the same records as on an SQLite file
//! ([`crate::journal`]), read by consoles and `flashsale runs` in any process.

use postgres::GenericClient;

use crate::clock::Millis;
use crate::error::Error;
use crate::journal::{LogEntry, RunRow, Running};
use crate::sql::Result;

pub fn insert_run(c: &mut impl GenericClient, r: &RunRow) -> Result<i64> {
    let run = serde_json::to_string(r).map_err(|e| Error::Storage { why: e.to_string() })?;
    Ok(c.query_one(
        "INSERT INTO runs (started_at, run) VALUES ($1, $2) RETURNING id",
        &[&r.started_at, &run],
    )?
    .get(0))
}

pub fn run_count(c: &mut impl GenericClient) -> Result<u64> {
    let n: i64 = c.query_one("SELECT count(*) FROM runs", &[])?.get(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Every stored run, oldest first (a run this binary cannot read is left out).
pub fn runs(c: &mut impl GenericClient) -> Result<Vec<RunRow>> {
    Ok(c.query("SELECT id, run FROM runs ORDER BY id", &[])?
        .iter()
        .filter_map(|r| {
            let text: String = r.get(1);
            let mut run: RunRow = serde_json::from_str(&text).ok()?;
            run.id = Some(r.get(0));
            Some(run)
        })
        .collect())
}

pub fn log(c: &mut impl GenericClient, at: Millis, who: &str, what: &str) -> Result<()> {
    c.execute(
        "INSERT INTO operator_log (at, who, what) VALUES ($1, $2, $3)",
        &[&at, &who, &what],
    )?;
    Ok(())
}

pub fn log_entries(c: &mut impl GenericClient, limit: usize) -> Result<Vec<LogEntry>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    Ok(c.query(
        "SELECT at, who, what FROM operator_log ORDER BY id DESC LIMIT $1",
        &[&limit],
    )?
    .iter()
    .map(|r| LogEntry {
        at: r.get(0),
        who: r.get(1),
        what: r.get(2),
    })
    .collect())
}

pub fn set_running(c: &mut impl GenericClient, r: &Running) -> Result<()> {
    let warp = i32::try_from(r.warp).unwrap_or(i32::MAX);
    c.execute(
        "INSERT INTO running (id, who, strategy, warp, hold_ttl_ms, updated_at)
         VALUES (1, $1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET who = $1, strategy = $2, warp = $3,
             hold_ttl_ms = $4, updated_at = $5",
        &[
            &r.who,
            &r.strategy.name(),
            &warp,
            &r.hold_ttl_ms,
            &r.updated_at,
        ],
    )?;
    Ok(())
}

pub fn running(c: &mut impl GenericClient) -> Result<Option<Running>> {
    Ok(c.query_opt(
        "SELECT who, strategy, warp, hold_ttl_ms, updated_at FROM running WHERE id = 1",
        &[],
    )?
    .map(|r| {
        let strategy: String = r.get(1);
        let warp: i32 = r.get(2);
        Running {
            who: r.get(0),
            strategy: strategy.parse().unwrap_or(crate::Strategy::Immediate),
            warp: u32::try_from(warp).unwrap_or(1),
            hold_ttl_ms: r.get(3),
            updated_at: r.get(4),
        }
    }))
}
