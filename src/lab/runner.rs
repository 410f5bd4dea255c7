//! Runs steps on real connections and records everything a student should see.
//!
//! A [`Lab`] is one temporary database file with the shop's own schema (see
//! [`database`]), in WAL mode, one connection per session, an
//! *observer* connection, and a scratch in-memory connection for guards. After each step
//! the observer reads the committed rows (what any new reader would see: it uses autocommit
//! and so never keeps a snapshot between steps), the lab compares them with the rows before
//! the step, runs the audit equation, and checks the step's expectation against what
//! SQLite really answered.

use std::fmt::Write as _;
use std::path::PathBuf;

use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;

use super::database::{self, View};
use super::rows::snapshot;
pub use super::rows::{Change, Snapshot, Table, diff};
use super::scenario::{Expect, Scenario, Step};
use super::session::{FailKind, Outcome, Session, TxnState};
use crate::error::Error;
use crate::hold::Stock;

/// The flash sale's invariant for one product, from committed rows, read and counted
/// by the shop's own [`stock`](crate::hold::stock) and [`Stock::balance`]:
/// `stock_total = stock_available + Σ active holds + Σ paid holds` (+ the units closed
/// holds could not give back, none in a lab scenario).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductAudit {
    /// Product id.
    pub id: i64,
    /// Product SKU.
    pub sku: String,
    /// `stock_total`.
    pub total: i64,
    /// `stock_available`.
    pub available: i64,
    /// Units in active holds.
    pub active: i64,
    /// Units in paid holds.
    pub paid: i64,
    /// [`Stock::balance`]: 0 when the books balance.
    balance: i64,
}

impl From<Stock> for ProductAudit {
    fn from(stock: Stock) -> Self {
        ProductAudit {
            balance: stock.balance(),
            id: stock.product_id.0,
            sku: stock.sku,
            total: stock.total,
            available: stock.available,
            active: stock.held,
            paid: stock.sold,
        }
    }
}

impl ProductAudit {
    /// Units the counters lost track of: positive means more units are available, held
    /// or sold than exist (the audit's `oversold`); negative means units went missing.
    #[must_use]
    pub fn oversold(&self) -> i64 {
        self.balance
    }

    /// Units promised to buyers (held or sold).
    #[must_use]
    pub fn promised(&self) -> i64 {
        self.active + self.paid
    }

    /// The equation with its numbers, for transcripts and panels.
    #[must_use]
    pub fn equation(&self) -> String {
        let sum = self.available + self.active + self.paid;
        let verdict = match self.oversold() {
            0 => "ok".to_string(),
            n if n > 0 => format!("OVERSOLD by {n}"),
            n => format!("{} unit(s) unaccounted for", -n),
        };
        format!(
            "{}: available {} + active {} + paid {} = {sum} vs total {} → {verdict}",
            self.sku, self.available, self.active, self.paid, self.total
        )
    }
}

/// Whether a step's expectation held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The step had no expectation.
    Unchecked,
    /// SQLite did what the scenario said.
    Met,
    /// It did not; the sentence names the step, what was expected and what happened.
    Missed(String),
}

/// Everything about one executed step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    /// Which scenario step ran (index into `Scenario::steps`); None for a statement the
    /// lab sent itself, like the ROLLBACK of a restart in scheduler mode.
    pub step: Option<usize>,
    /// Which session ran it.
    pub session: usize,
    /// The statement as written.
    pub sql: String,
    /// What SQLite answered.
    pub outcome: Outcome,
    /// Every session's transaction state after the step.
    pub states: Vec<TxnState>,
    /// For every session in a read or write transaction: whether the rows it sees differ
    /// from the committed rows (a stale snapshot, or its own uncommitted writes).
    pub sees_other: Vec<bool>,
    /// Committed rows after the step.
    pub rows: Snapshot,
    /// Committed rows this step changed.
    pub changes: Vec<Change>,
    /// The uncommitted rows of the session holding the write lock, if any, and how they
    /// differ from the committed rows.
    pub pending: Option<(usize, Vec<Change>)>,
    /// The audit equation per product (empty when the scenario has no products).
    pub audit: Vec<ProductAudit>,
    /// The expectation's verdict.
    pub check: Check,
}

impl StepRecord {
    /// Units oversold over all products (the audit's number), when it could be computed.
    #[must_use]
    pub fn oversold(&self) -> Option<i64> {
        if self.audit.is_empty() {
            None
        } else {
            Some(self.audit.iter().map(|a| a.oversold().max(0)).sum())
        }
    }
}

/// One run's database: a temporary copy of the shop's database (WAL mode) and one
/// connection per session.
pub struct Lab {
    sessions: Vec<Session>,
    observer: Connection,
    scratch: Connection,
    /// The tables and columns the scenario is about.
    view: View,
    committed: Snapshot,
    /// Kept last so the connections close before the directory is removed.
    _dir: tempfile::TempDir,
}

impl Lab {
    /// Creates a fresh database for `scenario`: the shop's schema and migrations
    /// ([`database::create`]), its setup rows, its sessions.
    ///
    /// # Errors
    /// The temporary file cannot be made or the setup SQL fails.
    pub fn open(scenario: &Scenario) -> Result<Lab, Error> {
        let dir = database::scratch_dir()?;
        let path: PathBuf = dir.path().join("lab.db");
        database::create(&path)?;
        let failed = |what: &str| {
            let path = path.clone();
            let what = what.to_string();
            move |e: rusqlite::Error| super::lab_database(&path, &what, e)
        };
        let setup = Connection::open(&path).map_err(failed("database cannot be opened"))?;
        // Durability is not what the lab studies, and fsyncs would make every fresh
        // database (step mode's "back", the matrix's hundreds of runs) slow. Locking
        // does not depend on this setting. Foreign keys are on, as on the shop's own
        // connections.
        setup
            .execute_batch("PRAGMA synchronous = OFF; PRAGMA foreign_keys = ON")
            .map_err(failed("database refused its settings"))?;
        // WAL comes with the shop's file (it is a property of the file); asked again here
        // because every session's snapshot depends on it.
        let mode: String = setup
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(failed("database cannot switch to WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(super::lab_database(
                &path,
                "database refused WAL mode",
                format!("journal_mode is {mode}"),
            ));
        }
        for (i, sql) in scenario.setup.iter().enumerate() {
            setup.execute_batch(sql).map_err(|e| {
                // A scenario written for the lab's old private tables: say what changed.
                let hint = if e.to_string().contains("already exists") {
                    " (the lab database already has the shop's schema.sql and migrations: setup only adds rows)"
                } else {
                    ""
                };
                super::bad_scenario(
                    &scenario.origin,
                    format!("setup statement {} failed: {e}{hint}", i + 1),
                )
            })?;
        }
        let view = View::of(
            &setup,
            scenario.setup.iter().map(String::as_str),
            scenario.steps.iter().map(|s| s.sql.as_str()),
        );
        drop(setup);
        let sessions = scenario
            .sessions
            .iter()
            .map(|spec| Session::open(&path, spec))
            .collect::<Result<Vec<_>, _>>()?;
        let observer = Connection::open(&path).map_err(failed("observer cannot open"))?;
        // The last connection to close checkpoints the WAL; without this it would fsync.
        observer
            .execute_batch("PRAGMA synchronous = OFF")
            .map_err(failed("observer refused its settings"))?;
        let scratch = Connection::open_in_memory().map_err(failed("scratch database"))?;
        let committed = snapshot(&observer, &view);
        Ok(Lab {
            sessions,
            observer,
            scratch,
            view,
            committed,
            _dir: dir,
        })
    }

    /// The sessions, in the scenario's order.
    #[must_use]
    pub fn sessions(&self) -> &[Session] {
        &self.sessions
    }

    /// The committed rows now.
    #[must_use]
    pub fn committed(&self) -> &Snapshot {
        &self.committed
    }

    /// The audit equation on the committed rows now.
    #[must_use]
    pub fn audit(&self) -> Vec<ProductAudit> {
        audit(&self.observer)
    }

    /// Runs scenario step `index` on its session and records what happened.
    pub fn run(&mut self, scenario: &Scenario, index: usize) -> Option<StepRecord> {
        let step = scenario.steps.get(index)?;
        let session = scenario.session_index(&step.session)?;
        let outcome = self.sessions[session].run(&step.sql, step.when.as_deref(), &self.scratch);
        let mut record = self.record(Some(index), session, &step.sql, outcome);
        record.check = check(&record, step, &self.sessions[session].name);
        Some(record)
    }

    /// Runs a statement that is not a scenario step (a restart's ROLLBACK) on `session`.
    pub fn run_sql(&mut self, session: usize, sql: &str) -> Option<StepRecord> {
        let s = self.sessions.get_mut(session)?;
        let outcome = s.run(sql, None, &self.scratch);
        Some(self.record(None, session, sql, outcome))
    }

    /// Runs one statement on `session` without recording rows or changes: the matrix
    /// runs thousands of these and only needs the answer.
    pub fn exec(&mut self, session: usize, sql: &str, when: Option<&str>) -> Option<Outcome> {
        let s = self.sessions.get_mut(session)?;
        Some(s.run(sql, when, &self.scratch))
    }

    /// Evaluates an SQL expression over `session`'s variables (false when it fails).
    #[must_use]
    pub fn holds_for(&self, session: usize, expr: &str) -> bool {
        self.sessions
            .get(session)
            .is_some_and(|s| s.guard(expr, &self.scratch).unwrap_or(false))
    }

    /// Runs a query on the committed rows and says whether its first value is true.
    ///
    /// # Errors
    /// The query fails, as one sentence.
    pub fn check_sql(&self, sql: &str) -> Result<bool, Error> {
        let value: rusqlite::types::Value = self
            .observer
            .query_row(sql, [], |r| r.get(0))
            .map_err(|e| super::bad_scenario("data", format!("the check {sql:?} failed: {e}")))?;
        Ok(match value {
            SqlValue::Integer(i) => i != 0,
            SqlValue::Real(r) => r != 0.0,
            _ => false,
        })
    }

    /// Builds the record of a statement that produced `outcome`.
    fn record(
        &mut self,
        index: Option<usize>,
        session: usize,
        sql: &str,
        outcome: Outcome,
    ) -> StepRecord {
        let rows = snapshot(&self.observer, &self.view);
        let changes = diff(&self.committed, &rows);
        let states: Vec<TxnState> = self.sessions.iter().map(Session::state).collect();
        let mut pending = None;
        let mut sees_other = Vec::with_capacity(self.sessions.len());
        for (i, s) in self.sessions.iter().enumerate() {
            // Only a session that already holds a snapshot may be read through: reading
            // through one that has only said BEGIN would take its snapshot for it.
            let view = match states[i] {
                TxnState::Read | TxnState::Write => Some(snapshot(s.conn(), &self.view)),
                TxnState::None | TxnState::Begun => None,
            };
            let differs = view.as_ref().is_some_and(|v| *v != rows);
            if let (TxnState::Write, Some(v)) = (states[i], &view) {
                pending = Some((i, diff(&rows, v)));
            }
            sees_other.push(differs);
        }
        let audit = audit(&self.observer);
        let record = StepRecord {
            step: index,
            session,
            sql: sql.to_string(),
            outcome,
            states,
            sees_other,
            rows: rows.clone(),
            changes,
            pending,
            audit,
            check: Check::Unchecked,
        };
        self.committed = rows;
        record
    }
}

/// The audit equation per product, as the shop's audit reads it (empty if that read fails).
fn audit(conn: &Connection) -> Vec<ProductAudit> {
    crate::hold::stock(conn)
        .map(|stock| stock.into_iter().map(ProductAudit::from).collect())
        .unwrap_or_default()
}

/// Compares what SQLite did with what the step expected.
fn check(record: &StepRecord, step: &Step, session: &str) -> Check {
    let mut problems = Vec::new();
    if let Some(expect) = &step.expect {
        let met = match (expect, &record.outcome) {
            (Expect::Ok, Outcome::Rows { .. } | Outcome::Done { .. })
            | (Expect::Skipped, Outcome::Skipped { .. })
            | (
                Expect::Busy,
                Outcome::Failed {
                    kind: FailKind::Busy,
                    ..
                },
            )
            | (
                Expect::Constraint,
                Outcome::Failed {
                    kind: FailKind::Constraint,
                    ..
                },
            ) => true,
            (Expect::Rows(want), Outcome::Rows { rows, .. }) => want == rows,
            (Expect::Changed(n), outcome) => outcome.changed() == Some(*n),
            (Expect::Error(text), Outcome::Failed { code, message, .. }) => {
                code == text || message.contains(text.as_str())
            }
            _ => false,
        };
        if !met {
            problems.push(format!(
                "expected {expect}, got {}",
                describe_outcome(&record.outcome)
            ));
        }
    }
    if let Some(want) = step.oversold {
        match record.oversold() {
            Some(got) if got == want => {}
            Some(got) => problems.push(format!("expected {want} unit(s) oversold, got {got}")),
            None => problems.push(format!(
                "expected {want} unit(s) oversold, but the tables have no products/holds to audit"
            )),
        }
    }
    if problems.is_empty() {
        if step.expect.is_some() || step.oversold.is_some() {
            Check::Met
        } else {
            Check::Unchecked
        }
    } else {
        Check::Missed(format!(
            "step {} ({session}): {}",
            record.step.map_or(0, |s| s + 1),
            problems.join("; ")
        ))
    }
}

/// An outcome in a mismatch sentence: the summary plus the error message.
fn describe_outcome(outcome: &Outcome) -> String {
    let mut text = outcome.summary();
    if let Outcome::Failed { message, .. } = outcome {
        let _ = write!(text, " ({message})");
    }
    text
}

/// Runs every step of `scenario` in the written order on a fresh database.
///
/// # Errors
/// The database cannot be set up.
pub fn run_all(scenario: &Scenario) -> Result<Vec<StepRecord>, Error> {
    let mut lab = Lab::open(scenario)?;
    Ok((0..scenario.steps.len())
        .filter_map(|i| lab.run(scenario, i))
        .collect())
}
