//! The sale's journal, kept in the database next to the sale: every swarm run with its
//! settings and figures, an operator log of changes made by hand, and what the selling
//! process runs now (strategy, warp, hold TTL). Plain functions over a connection, like
//! [`crate::hold`]; the engine writes through its writer ([`crate::Engine::record_run`],
//! [`crate::Engine::log_change`], [`crate::Engine::publish_running`]), and readers (the
//! console's monitor, `flashsale runs`) read on their own connection.
//!
//! A file made before the journal existed and opened read-only has no such tables: it
//! reads as an empty journal rather than as an error.

pub mod export;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::clock::Millis;
use crate::metrics::Percentiles;
use crate::sql::Result;
use crate::strategy::Strategy;
use crate::swarm::SwarmReport;

/// One swarm run: how it was set up and what it came to (the columns of `bench`).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RunRow {
    /// Its number in the database (None until stored).
    pub id: Option<i64>,
    pub started_at: Millis,
    pub sku: String,
    pub strategy: Strategy,
    /// Buyers asked for; `buyers` is how many really arrived.
    pub buyers_planned: u64,
    pub buyers: u64,
    /// Stopped before every buyer arrived.
    pub stopped: bool,
    pub threads: usize,
    /// Units on sale when the run started.
    pub stock: i64,
    /// What the bots do once they hold a unit.
    pub behaviour: String,
    pub hold_ttl_ms: i64,
    pub warp: u32,
    pub seed: u64,
    pub sold: i64,
    pub oversold: i64,
    pub fairness: f64,
    pub inversions: u64,
    pub attempts_per_sec: f64,
    pub holds_per_sec: f64,
    pub latency: Percentiles,
    pub conflicts: u64,
    pub busy: u64,
    pub elapsed_ms: u64,
    pub rejected_sold_out: u64,
    pub rejected_limit: u64,
    /// Conflict, busy, timeout and other rejections.
    pub rejected_other: u64,
}

impl Default for RunRow {
    fn default() -> Self {
        RunRow {
            id: None,
            started_at: 0,
            sku: String::new(),
            strategy: Strategy::Immediate,
            buyers_planned: 0,
            buyers: 0,
            stopped: false,
            threads: 0,
            stock: 0,
            behaviour: String::new(),
            hold_ttl_ms: 0,
            warp: 1,
            seed: 0,
            sold: 0,
            oversold: 0,
            fairness: 0.0,
            inversions: 0,
            attempts_per_sec: 0.0,
            holds_per_sec: 0.0,
            latency: Percentiles::default(),
            conflicts: 0,
            busy: 0,
            elapsed_ms: 0,
            rejected_sold_out: 0,
            rejected_limit: 0,
            rejected_other: 0,
        }
    }
}

impl RunRow {
    /// The figures of a finished run's report, onto the settings it was launched with.
    /// `buyers` is how many really came: a run stopped at 3,000 of 50,000 says 3,000
    /// (the report counts the rest as stopped).
    #[must_use]
    pub fn with_report(mut self, report: &SwarmReport) -> RunRow {
        self.strategy = report.strategy.parse().unwrap_or(self.strategy);
        self.buyers_planned = report.buyers;
        self.buyers = report.buyers.saturating_sub(report.buyer_outcomes.stopped);
        self.stopped = self.buyers < report.buyers;
        self.threads = report.threads;
        self.stock = report.stock;
        self.sold = report.sold;
        self.oversold = report.oversold;
        self.fairness = report.fairness;
        self.inversions = report.inversions;
        self.attempts_per_sec = report.attempts_per_sec;
        // As the bench counts it: pay-first's units are claimed at payment.
        self.holds_per_sec = report.claimed_per_sec();
        self.latency = report.latency_us;
        self.conflicts = report.conflicts;
        self.busy = report.busy;
        self.elapsed_ms = report.elapsed_ms;
        self.rejected_sold_out = report.rejected_sold_out;
        self.rejected_limit = report.rejected_limit;
        self.rejected_other =
            report.rejected_total() - report.rejected_sold_out - report.rejected_limit;
        self
    }
}

/// One change made to the sale by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    pub at: Millis,
    pub who: String,
    pub what: String,
}

/// What the selling process runs now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Running {
    pub who: String,
    pub strategy: Strategy,
    pub warp: u32,
    pub hold_ttl_ms: i64,
    pub updated_at: Millis,
}

fn i(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn u(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Stores a finished run; returns its id.
pub fn insert_run(conn: &Connection, r: &RunRow) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO runs (started_at, sku, strategy, buyers_planned, buyers, stopped, threads,
             stock, behaviour, hold_ttl_ms, warp, seed, sold, oversold, fairness, inversions,
             attempts_per_sec, holds_per_sec, p50_us, p95_us, p99_us, max_us, conflicts, busy,
             elapsed_ms, rejected_sold_out, rejected_limit, rejected_other)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
             ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28)",
    )?
    .execute(params![
        r.started_at,
        r.sku,
        r.strategy.name(),
        i(r.buyers_planned),
        i(r.buyers),
        r.stopped,
        i64::try_from(r.threads).unwrap_or(i64::MAX),
        r.stock,
        r.behaviour,
        r.hold_ttl_ms,
        r.warp,
        i(r.seed),
        r.sold,
        r.oversold,
        r.fairness,
        i(r.inversions),
        r.attempts_per_sec,
        r.holds_per_sec,
        i(r.latency.p50),
        i(r.latency.p95),
        i(r.latency.p99),
        i(r.latency.max),
        i(r.conflicts),
        i(r.busy),
        i(r.elapsed_ms),
        i(r.rejected_sold_out),
        i(r.rejected_limit),
        i(r.rejected_other),
    ])?;
    Ok(conn.last_insert_rowid())
}

/// How many runs are stored (readers reload the list only when it changes).
pub fn run_count(conn: &Connection) -> Result<u64> {
    let n = tolerate_missing(
        conn.prepare_cached("SELECT count(*) FROM runs")
            .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0))),
    )?;
    Ok(u(n))
}

/// Every stored run, oldest first.
pub fn runs(conn: &Connection) -> Result<Vec<RunRow>> {
    let rows = conn
        .prepare_cached(
            "SELECT id, started_at, sku, strategy, buyers_planned, buyers, stopped, threads,
                 stock, behaviour, hold_ttl_ms, warp, seed, sold, oversold, fairness, inversions,
                 attempts_per_sec, holds_per_sec, p50_us, p95_us, p99_us, max_us, conflicts,
                 busy, elapsed_ms, rejected_sold_out, rejected_limit, rejected_other
             FROM runs ORDER BY id",
        )
        .and_then(|mut s| {
            s.query_map([], |r| {
                let strategy: String = r.get(3)?;
                Ok(RunRow {
                    id: Some(r.get(0)?),
                    started_at: r.get(1)?,
                    sku: r.get(2)?,
                    strategy: strategy.parse().unwrap_or(Strategy::Immediate),
                    buyers_planned: u(r.get(4)?),
                    buyers: u(r.get(5)?),
                    stopped: r.get(6)?,
                    threads: usize::try_from(r.get::<_, i64>(7)?).unwrap_or(0),
                    stock: r.get(8)?,
                    behaviour: r.get(9)?,
                    hold_ttl_ms: r.get(10)?,
                    warp: r.get(11)?,
                    seed: u(r.get(12)?),
                    sold: r.get(13)?,
                    oversold: r.get(14)?,
                    fairness: r.get(15)?,
                    inversions: u(r.get(16)?),
                    attempts_per_sec: r.get(17)?,
                    holds_per_sec: r.get(18)?,
                    latency: Percentiles {
                        p50: u(r.get(19)?),
                        p95: u(r.get(20)?),
                        p99: u(r.get(21)?),
                        max: u(r.get(22)?),
                    },
                    conflicts: u(r.get(23)?),
                    busy: u(r.get(24)?),
                    elapsed_ms: u(r.get(25)?),
                    rejected_sold_out: u(r.get(26)?),
                    rejected_limit: u(r.get(27)?),
                    rejected_other: u(r.get(28)?),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        });
    tolerate_missing(rows)
}

/// Notes a change made by hand.
pub fn log(conn: &Connection, at: Millis, who: &str, what: &str) -> Result<()> {
    conn.prepare_cached("INSERT INTO operator_log (at, who, what) VALUES (?1, ?2, ?3)")?
        .execute(params![at, who, what])?;
    Ok(())
}

/// The newest `limit` entries of the operator log, newest first.
pub fn log_entries(conn: &Connection, limit: usize) -> Result<Vec<LogEntry>> {
    let rows = conn
        .prepare_cached("SELECT at, who, what FROM operator_log ORDER BY id DESC LIMIT ?1")
        .and_then(|mut s| {
            s.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                Ok(LogEntry {
                    at: r.get(0)?,
                    who: r.get(1)?,
                    what: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        });
    tolerate_missing(rows)
}

/// Says what the selling process runs now.
pub fn set_running(conn: &Connection, r: &Running) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO running (id, who, strategy, warp, hold_ttl_ms, updated_at)
         VALUES (1, ?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET who = ?1, strategy = ?2, warp = ?3, hold_ttl_ms = ?4,
             updated_at = ?5",
    )?
    .execute(params![
        r.who,
        r.strategy.name(),
        r.warp,
        r.hold_ttl_ms,
        r.updated_at
    ])?;
    Ok(())
}

/// What the selling process said it runs, if one did.
pub fn running(conn: &Connection) -> Result<Option<Running>> {
    let row = conn
        .prepare_cached(
            "SELECT who, strategy, warp, hold_ttl_ms, updated_at FROM running WHERE id = 1",
        )
        .and_then(|mut s| {
            s.query_row([], |r| {
                let strategy: String = r.get(1)?;
                Ok(Running {
                    who: r.get(0)?,
                    strategy: strategy.parse().unwrap_or(Strategy::Immediate),
                    warp: r.get(2)?,
                    hold_ttl_ms: r.get(3)?,
                    updated_at: r.get(4)?,
                })
            })
            .optional()
        });
    tolerate_missing(row)
}

/// A file from before the journal (opened read-only, so not migrated) reads as empty.
fn tolerate_missing<T: Default>(result: rusqlite::Result<T>) -> Result<T> {
    match result {
        Err(rusqlite::Error::SqliteFailure(_, Some(msg))) if msg.starts_with("no such table") => {
            Ok(T::default())
        }
        other => Ok(other?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swarm::Endings;

    /// A stopped run keeps the buyers that came; the Compare tab has the bench's
    /// columns, so pay-first's units per second are its orders (as in the bench's
    /// row), not its carts.
    #[test]
    fn a_row_reads_its_report() {
        let report = SwarmReport {
            strategy: "pay-first".into(),
            buyers: 50_000,
            buyer_outcomes: Endings {
                paid: 40,
                turned_away: 2_960,
                stopped: 47_000,
                ..Endings::default()
            },
            sold: 40,
            holds_taken: 100,
            holds_per_sec: 50.0,
            elapsed_ms: 2_000,
            rejected_sold_out: 2_900,
            rejected_limit: 10,
            rejected_busy: 30,
            rejected_other: 20,
            ..SwarmReport::default()
        };
        let row = RunRow::default().with_report(&report);
        assert_eq!(row.strategy, Strategy::PayFirst);
        assert_eq!((row.buyers_planned, row.buyers), (50_000, 3_000));
        assert!(row.stopped);
        assert_eq!(
            (
                row.rejected_sold_out,
                row.rejected_limit,
                row.rejected_other
            ),
            (2_900, 10, 50)
        );
        assert!(
            (row.holds_per_sec - 20.0).abs() < 1e-9,
            "{}",
            row.holds_per_sec
        );
    }
}
