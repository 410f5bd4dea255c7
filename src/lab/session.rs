//! One lab session: a real SQLite connection, its variables, and what it holds.
//!
//! Nothing here is simulated. Each session is its own `rusqlite::Connection` to the same
//! database file, so SQLite's own locking decides who may read and write. The transaction
//! state shown to the student comes straight from SQLite (`sqlite3_txn_state` and
//! `sqlite3_get_autocommit`), not from the lab guessing what a statement probably did.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionState};
use serde_json::Value;

use super::scenario::SessionSpec;
use crate::error::Error;

/// What a session holds, in SQLite's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnState {
    /// Autocommit: no transaction, no lock. Each statement is its own transaction.
    None,
    /// `BEGIN` (deferred) ran, but nothing has been read yet, so there is no snapshot.
    Begun,
    /// A read transaction: the session holds a WAL read snapshot and sees the database as
    /// it was when the snapshot was taken, whatever others commit meanwhile.
    Read,
    /// A write transaction: the session holds the database's single write lock (and a
    /// snapshot). Nobody else can write until it commits or rolls back.
    Write,
}

impl TxnState {
    /// A short word for panels and transcripts.
    #[must_use]
    pub fn word(self) -> &'static str {
        match self {
            TxnState::None => "none",
            TxnState::Begun => "begun",
            TxnState::Read => "read",
            TxnState::Write => "write",
        }
    }

    /// What the session holds, as SQLite would say it.
    #[must_use]
    pub fn holds(self) -> &'static str {
        match self {
            TxnState::None => "no lock",
            TxnState::Begun => "no snapshot yet",
            TxnState::Read => "WAL read snapshot",
            TxnState::Write => "write lock + snapshot",
        }
    }
}

/// The broad kind of an SQLite error, for expectations and explanations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailKind {
    /// `SQLITE_BUSY` and its extended codes: another connection holds the lock you need,
    /// or your snapshot is too old to write from.
    Busy,
    /// A constraint or trigger refused the change.
    Constraint,
    /// Anything else (syntax, misuse, ...).
    Other,
}

/// What SQLite answered to one step.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A query (or `RETURNING`) produced rows; `changed` counts rows it wrote.
    Rows {
        /// Column names.
        columns: Vec<String>,
        /// The rows, as JSON values so they compare with a scenario's expectations.
        rows: Vec<Vec<Value>>,
        /// Rows inserted, updated or deleted by the statement.
        changed: u64,
    },
    /// A statement without rows succeeded.
    Done {
        /// Rows inserted, updated or deleted (0 for BEGIN, COMMIT, ...).
        changed: u64,
        /// Whether the statement can write (UPDATE, INSERT...) rather than BEGIN or COMMIT.
        writes: bool,
    },
    /// SQLite refused the statement.
    Failed {
        /// The extended result code's name, like `SQLITE_BUSY_SNAPSHOT`.
        code: String,
        /// The broad kind, for matching.
        kind: FailKind,
        /// SQLite's message.
        message: String,
        /// For BUSY: whether a busy timeout would have waited for the lock (the session
        /// held no snapshot) or SQLite answered at once because waiting could not help
        /// (the session's snapshot is older than the data it wants to change).
        would_wait: bool,
    },
    /// The `when` guard was false: the application did not send the statement.
    Skipped {
        /// The guard, for the transcript.
        guard: String,
    },
}

impl Outcome {
    /// A short text for panels and transcripts: "1 row: (1)", "SQLITE_BUSY", "skipped".
    #[must_use]
    pub fn summary(&self) -> String {
        match self {
            Outcome::Rows { rows, .. } => match rows.len() {
                0 => "0 rows".to_string(),
                1 => format!("1 row: {}", row_text(&rows[0])),
                n => {
                    let all: Vec<String> = rows.iter().map(|r| row_text(r)).collect();
                    format!("{n} rows: {}", all.join(" "))
                }
            },
            Outcome::Done { changed, writes } => {
                if *writes {
                    format!(
                        "ok, {changed} row{} changed",
                        if *changed == 1 { "" } else { "s" }
                    )
                } else {
                    "ok".to_string()
                }
            }
            Outcome::Failed { code, .. } => code.clone(),
            Outcome::Skipped { .. } => "skipped (guard false)".to_string(),
        }
    }

    /// Whether SQLite answered BUSY.
    #[must_use]
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            Outcome::Failed {
                kind: FailKind::Busy,
                ..
            }
        )
    }

    /// Rows the statement changed, when it ran.
    #[must_use]
    pub fn changed(&self) -> Option<u64> {
        match self {
            Outcome::Rows { changed, .. } | Outcome::Done { changed, .. } => Some(*changed),
            _ => None,
        }
    }
}

/// One row as `(1, 'alice', NULL)`.
#[must_use]
pub fn row_text(row: &[Value]) -> String {
    let cells: Vec<String> = row.iter().map(cell_text).collect();
    format!("({})", cells.join(", "))
}

/// One value as SQL would print it: numbers bare, text quoted, NULL.
#[must_use]
pub fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => "NULL".to_string(),
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

/// One value for a table cell: like [`cell_text`] but text unquoted.
#[must_use]
pub fn plain_text(v: &Value) -> String {
    match v {
        Value::Null => "NULL".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Converts what SQLite returned into JSON, the scenario files' language.
#[must_use]
pub fn to_json(v: SqlValue) -> Value {
    match v {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) => Value::from(i),
        SqlValue::Real(r) => serde_json::Number::from_f64(r).map_or(Value::Null, Value::Number),
        SqlValue::Text(s) => Value::String(s),
        SqlValue::Blob(b) => Value::String(b.iter().map(|x| format!("{x:02x}")).collect()),
    }
}

/// Converts a variable back into a bound SQL parameter.
fn to_sql(v: &Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Number(n) => n
            .as_i64()
            .map(SqlValue::Integer)
            .or_else(|| n.as_f64().map(SqlValue::Real))
            .unwrap_or(SqlValue::Null),
        Value::String(s) => SqlValue::Text(s.clone()),
        other => SqlValue::Text(other.to_string()),
    }
}

/// The name of an extended result code, as SQLite's documentation spells it.
#[must_use]
pub fn code_name(extended: i32) -> String {
    let name = match extended {
        1 => "SQLITE_ERROR",
        5 => "SQLITE_BUSY",
        261 => "SQLITE_BUSY_RECOVERY",
        517 => "SQLITE_BUSY_SNAPSHOT",
        773 => "SQLITE_BUSY_TIMEOUT",
        6 => "SQLITE_LOCKED",
        8 => "SQLITE_READONLY",
        19 => "SQLITE_CONSTRAINT",
        275 => "SQLITE_CONSTRAINT_CHECK",
        531 => "SQLITE_CONSTRAINT_COMMITHOOK",
        787 => "SQLITE_CONSTRAINT_FOREIGNKEY",
        1043 => "SQLITE_CONSTRAINT_FUNCTION",
        1299 => "SQLITE_CONSTRAINT_NOTNULL",
        1555 => "SQLITE_CONSTRAINT_PRIMARYKEY",
        1811 => "SQLITE_CONSTRAINT_TRIGGER",
        2067 => "SQLITE_CONSTRAINT_UNIQUE",
        20 => "SQLITE_MISMATCH",
        21 => "SQLITE_MISUSE",
        25 => "SQLITE_RANGE",
        _ => return format!("SQLITE error {extended}"),
    };
    name.to_string()
}

/// Turns a rusqlite error into a failed outcome.
fn failed(err: &rusqlite::Error, state_before: TxnState) -> Outcome {
    match err {
        rusqlite::Error::SqliteFailure(e, msg) => {
            let kind = match e.code {
                ErrorCode::DatabaseBusy => FailKind::Busy,
                ErrorCode::ConstraintViolation => FailKind::Constraint,
                _ => FailKind::Other,
            };
            Outcome::Failed {
                code: code_name(e.extended_code),
                kind,
                message: msg.clone().unwrap_or_else(|| e.to_string()),
                // SQLite only calls the busy handler for a connection that holds no
                // snapshot: one that already read cannot wait its way to a newer one.
                would_wait: kind == FailKind::Busy
                    && matches!(state_before, TxnState::None | TxnState::Begun),
            }
        }
        other => Outcome::Failed {
            code: "LAB_ERROR".to_string(),
            kind: FailKind::Other,
            message: other.to_string(),
            would_wait: false,
        },
    }
}

/// A lab session: one connection plus the variables its statements read and set.
pub struct Session {
    /// The session's name from the scenario ("A").
    pub name: String,
    /// Who it plays.
    pub label: String,
    conn: Connection,
    vars: BTreeMap<String, Value>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("name", &self.name)
            .field("vars", &self.vars)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Opens a connection to the lab database for `spec`.
    ///
    /// # Errors
    /// SQLite cannot open the file.
    pub fn open(path: &Path, spec: &SessionSpec) -> Result<Session, Error> {
        let failed = |e| super::lab_database(path, &format!("session {}", spec.name), e);
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(failed)?;
        // rusqlite's default is a 5 s busy timeout; the lab wants lock conflicts to show.
        conn.busy_timeout(Duration::from_millis(u64::from(spec.busy_timeout_ms)))
            .map_err(failed)?;
        // No fsync per commit: the lab is about who may read and write, not about
        // surviving power loss, and WAL locking is the same either way. Foreign keys on,
        // as on the shop's own connections: a hold must name a product that exists.
        conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA foreign_keys = ON")
            .map_err(failed)?;
        Ok(Session {
            name: spec.name.clone(),
            label: spec.label.clone(),
            conn,
            vars: spec.vars.clone(),
        })
    }

    /// What the session holds right now, asked of SQLite itself.
    #[must_use]
    pub fn state(&self) -> TxnState {
        let autocommit = self.conn.is_autocommit();
        match self.conn.transaction_state(Some("main")) {
            Ok(TransactionState::Write) => TxnState::Write,
            Ok(TransactionState::Read) => TxnState::Read,
            _ if !autocommit => TxnState::Begun,
            _ => TxnState::None,
        }
    }

    /// The session's variables (`stock_available`, `changed`, ...).
    #[must_use]
    pub fn vars(&self) -> &BTreeMap<String, Value> {
        &self.vars
    }

    /// The underlying connection, for reading this session's own view of the rows.
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Runs one step's statement, or skips it when `when` is false. `scratch` is a
    /// separate in-memory connection that evaluates the guard, so checking a guard never
    /// touches the lab database or this session's locks.
    pub fn run(&mut self, sql: &str, when: Option<&str>, scratch: &Connection) -> Outcome {
        if let Some(guard) = when {
            match self.guard(guard, scratch) {
                Ok(true) => {}
                Ok(false) => {
                    return Outcome::Skipped {
                        guard: guard.to_string(),
                    };
                }
                Err(e) => return failed(&e, TxnState::None),
            }
        }
        let before = self.state();
        match self.execute(sql) {
            Ok(outcome) => outcome,
            Err(e) => failed(&e, before),
        }
    }

    /// Evaluates a guard expression with the session's variables bound.
    pub(crate) fn guard(&self, expr: &str, scratch: &Connection) -> rusqlite::Result<bool> {
        let mut stmt = scratch.prepare(&format!("SELECT ({expr})"))?;
        bind_vars(&mut stmt, &self.vars)?;
        let mut rows = stmt.raw_query();
        let value: SqlValue = match rows.next()? {
            Some(row) => row.get(0)?,
            None => SqlValue::Null,
        };
        Ok(match value {
            SqlValue::Integer(i) => i != 0,
            SqlValue::Real(r) => r != 0.0,
            _ => false,
        })
    }

    /// Executes one statement and records what it returned in the variables.
    fn execute(&mut self, sql: &str) -> rusqlite::Result<Outcome> {
        let before = self.conn.total_changes();
        let mut stmt = self.conn.prepare(sql)?;
        bind_vars(&mut stmt, &self.vars)?;
        // Only real writes set :changed. SQLite calls BEGIN IMMEDIATE "not read-only" (it
        // takes the write lock), so transaction control is ruled out by its first word.
        let writes = !stmt.readonly() && !is_transaction_control(sql);
        let outcome = if stmt.column_count() > 0 {
            let columns: Vec<String> = stmt
                .column_names()
                .iter()
                .map(|c| (*c).to_string())
                .collect();
            let width = columns.len();
            let mut rows = Vec::new();
            let mut cursor = stmt.raw_query();
            while let Some(row) = cursor.next()? {
                let mut out = Vec::with_capacity(width);
                for i in 0..width {
                    out.push(to_json(row.get::<_, SqlValue>(i)?));
                }
                rows.push(out);
            }
            drop(cursor);
            drop(stmt);
            // A query's columns become variables, so the next statement can use what the
            // application "read": NULL when nothing came back.
            for (i, name) in columns.iter().enumerate() {
                let v = rows.first().map_or(Value::Null, |r| r[i].clone());
                self.vars.insert(name.clone(), v);
            }
            Outcome::Rows {
                columns,
                rows,
                changed: self.conn.total_changes().saturating_sub(before),
            }
        } else {
            stmt.raw_execute()?;
            drop(stmt);
            Outcome::Done {
                changed: self.conn.total_changes().saturating_sub(before),
                writes,
            }
        };
        if writes {
            let changed = outcome.changed().unwrap_or(0);
            self.vars
                .insert("changed".to_string(), Value::from(changed));
        }
        Ok(outcome)
    }
}

/// Whether `sql` is BEGIN, COMMIT, END, ROLLBACK, SAVEPOINT or RELEASE.
fn is_transaction_control(sql: &str) -> bool {
    let first = sql
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    matches!(
        first.as_str(),
        "BEGIN" | "COMMIT" | "END" | "ROLLBACK" | "SAVEPOINT" | "RELEASE"
    )
}

/// Binds `:name` (or `@name`, `$name`) parameters from the variables; unknown ones are NULL.
fn bind_vars(
    stmt: &mut rusqlite::Statement<'_>,
    vars: &BTreeMap<String, Value>,
) -> rusqlite::Result<()> {
    for i in 1..=stmt.parameter_count() {
        let value = stmt
            .parameter_name(i)
            .and_then(|n| vars.get(&n[1..]))
            .map_or(SqlValue::Null, to_sql);
        stmt.raw_bind_parameter(i, value)?;
    }
    Ok(())
}
