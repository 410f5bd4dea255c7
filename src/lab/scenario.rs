//! Scenarios are data: a JSON file a teacher can write without touching Rust.
//!
//! A scenario gives the SQL that adds its starting rows to the shop's own schema (see
//! [`database`](super::database): no scenario carries tables of its own), two or more sessions (each one
//! becomes its own real SQLite connection), and the ordered steps. Each step names its
//! session, one SQL statement, a sentence of narration and, optionally, what SQLite is
//! expected to answer. The built-in scenarios are compiled into the binary with
//! `include_str!` so `flashsale lab` works from any directory; extra `*.json` files in an
//! `assets/lab` directory on disk (or a path given on the command line) are read too.
//!
//! ```json
//! {
//!   "name": "lost-update",
//!   "title": "Lost update: read the stock, then write it",
//!   "setup": ["INSERT INTO products (id, sku, name, price_cents, stock_total, stock_available) VALUES (1, 'PHONE', 'Flash Phone', 49900, 1, 1)"],
//!   "sessions": [{"name": "A", "label": "alice", "vars": {"buyer": "alice"}}, {"name": "B"}],
//!   "steps": [
//!     {"session": "A", "sql": "SELECT stock_available FROM products WHERE id = 1",
//!      "narration": "Alice's request reads the stock.", "expect": {"rows": [[1]]}}
//!   ]
//! }
//! ```
//!
//! Two small additions make the same steps honest when the student reorders them in
//! scheduler mode: a query that returns a row stores its columns as session variables
//! (`:stock_available`), and a write stores its row count as `:changed`; a step may have a
//! `when` guard (an SQL expression over those variables) and is skipped when it is false —
//! that is the application deciding "sold out" from what it read.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::error::Error;
use crate::strategy::Strategy;

/// The longest busy timeout a scenario may ask for. The runner is single-threaded, so a
/// statement that really waits can only wait for nothing and then fail: keep it short.
pub const MAX_BUSY_TIMEOUT_MS: u32 = 2_000;

/// A file name in `assets/lab` that is not a scenario (the anomaly matrix's data).
pub const MATRIX_FILE: &str = "matrix.json";

/// One scenario, as read from its JSON file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name used on the command line (`flashsale lab lost-update`).
    pub name: String,
    /// One line shown in lists and headers.
    pub title: String,
    /// A paragraph on what the scenario shows.
    #[serde(default)]
    pub summary: String,
    /// The strategy the sessions follow (naive, immediate, ... or deferred), for lists.
    #[serde(default)]
    pub strategy: Option<Follows>,
    /// SQL run once, before the sessions open, on a fresh copy of the shop's database
    /// (its `schema.sql` and migrations): the rows the scenario starts from.
    pub setup: Vec<String>,
    /// The sessions: one real connection each.
    pub sessions: Vec<SessionSpec>,
    /// The steps in the written order (step mode walks them in this order).
    pub steps: Vec<Step>,
    /// What to remember, shown after the last step.
    #[serde(default)]
    pub lesson: String,
    /// Where the scenario came from (built in, or a file path); not part of the file.
    #[serde(skip)]
    pub origin: Origin,
}

/// What a scenario's sessions (or a matrix column's buyers) follow: one of the shop's
/// strategies, or `deferred` — a plain `BEGIN` that reads and then writes, which the shop
/// never uses and the lab keeps to show why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Follows {
    /// One of the shop's own strategies.
    Shop(Strategy),
    /// A deferred transaction that later writes.
    Deferred,
}

impl Follows {
    /// The name in files, lists and the matrix's header.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Follows::Shop(strategy) => strategy.name(),
            Follows::Deferred => "deferred",
        }
    }
}

impl TryFrom<String> for Follows {
    type Error = String;
    fn try_from(name: String) -> Result<Self, Self::Error> {
        if name == Follows::Deferred.name() {
            return Ok(Follows::Deferred);
        }
        name.parse().map(Follows::Shop).map_err(|_| {
            let names: Vec<&str> = Strategy::ALL.iter().map(|s| s.name()).collect();
            format!(
                "unknown strategy {name:?} (one of: {}, deferred)",
                names.join(", ")
            )
        })
    }
}

impl fmt::Display for Follows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so tables can line names up with `{:width$}`.
        f.pad(self.name())
    }
}

/// Where a scenario was read from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Origin {
    /// Compiled into the binary.
    #[default]
    BuiltIn,
    /// Read from a file on disk.
    File(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::BuiltIn => f.write_str("built-in"),
            Origin::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// One session of a scenario: a connection of its own.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SessionSpec {
    /// Short name used by the steps ("A", "sweeper").
    pub name: String,
    /// Who this session plays ("alice's add-to-cart").
    #[serde(default)]
    pub label: String,
    /// SQLite's busy timeout for this connection. 0 (the default) makes a lock conflict
    /// show up at once as `SQLITE_BUSY` instead of a pause.
    #[serde(default)]
    pub busy_timeout_ms: u32,
    /// Starting values of the session's variables (`:buyer` in its SQL).
    #[serde(default)]
    pub vars: BTreeMap<String, Value>,
}

/// One step: one statement on one session.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The name of the session that runs the statement.
    pub session: String,
    /// Exactly one SQL statement; `:name` parameters are bound from the session's variables.
    pub sql: String,
    /// An SQL expression over the session's variables; the step is skipped when it is
    /// false (the application decided not to send the statement).
    #[serde(default)]
    pub when: Option<String>,
    /// A sentence on what happens and why.
    #[serde(default)]
    pub narration: String,
    /// What SQLite is expected to answer; unchecked when absent.
    #[serde(default)]
    pub expect: Option<Expect>,
    /// Units oversold after this step, from the committed rows (checked when present).
    #[serde(default)]
    pub oversold: Option<i64>,
    /// A retry the application makes after `SQLITE_BUSY` or a conflict. Step mode runs it;
    /// scheduler mode leaves it out because there the student retries by hand.
    #[serde(default)]
    pub retry: bool,
}

/// The expected outcome of a step, written as `"ok"`, `"busy"`, `"constraint"`,
/// `"skipped"`, `{"rows": [[1, "alice"]]}`, `{"changed": 1}` or `{"error": "SQLITE_BUSY_SNAPSHOT"}`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Expect {
    /// The statement succeeded, whatever it returned.
    Ok,
    /// SQLite answered `SQLITE_BUSY` (any extended code of it).
    Busy,
    /// A constraint (CHECK, UNIQUE, NOT NULL, a trigger's RAISE) refused the statement.
    Constraint,
    /// The `when` guard was false, so the statement was not sent.
    Skipped,
    /// The query returned exactly these rows, in order.
    Rows(Vec<Vec<Value>>),
    /// The statement changed exactly this many rows.
    Changed(u64),
    /// The statement failed with this error code name or a message containing this text.
    Error(String),
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Ok => f.write_str("ok"),
            Expect::Busy => f.write_str("BUSY"),
            Expect::Constraint => f.write_str("a constraint error"),
            Expect::Skipped => f.write_str("skipped"),
            Expect::Rows(rows) => {
                let rows: Vec<String> = rows.iter().map(|r| super::session::row_text(r)).collect();
                write!(f, "rows [{}]", rows.join(", "))
            }
            Expect::Changed(n) => write!(f, "{n} row(s) changed"),
            Expect::Error(text) => write!(f, "error {text}"),
        }
    }
}

/// A built-in scenario file: its name and text.
struct BuiltIn {
    file: &'static str,
    text: &'static str,
}

/// The scenarios compiled into the binary, in teaching order.
const BUILT_IN: &[BuiltIn] = &[
    BuiltIn {
        file: "lost-update.json",
        text: include_str!("../../assets/lab/lost-update.json"),
    },
    BuiltIn {
        file: "immediate.json",
        text: include_str!("../../assets/lab/immediate.json"),
    },
    BuiltIn {
        file: "deferred-upgrade.json",
        text: include_str!("../../assets/lab/deferred-upgrade.json"),
    },
    BuiltIn {
        file: "optimistic.json",
        text: include_str!("../../assets/lab/optimistic.json"),
    },
    BuiltIn {
        file: "atomic.json",
        text: include_str!("../../assets/lab/atomic.json"),
    },
    BuiltIn {
        file: "expiry.json",
        text: include_str!("../../assets/lab/expiry.json"),
    },
    BuiltIn {
        file: "checkout-vs-sweeper.json",
        text: include_str!("../../assets/lab/checkout-vs-sweeper.json"),
    },
];

impl Scenario {
    /// Parses and checks one scenario file's text.
    ///
    /// # Errors
    /// A JSON error or a scenario that does not hold together, as one sentence naming `origin`.
    pub fn from_json(text: &str, origin: Origin) -> Result<Scenario, Error> {
        let mut scenario: Scenario =
            serde_json::from_str(text).map_err(|e| super::bad_scenario(&origin, e))?;
        scenario.origin = origin;
        scenario.check()?;
        Ok(scenario)
    }

    /// Reads one scenario file from disk.
    ///
    /// # Errors
    /// The file cannot be read or is not a valid scenario.
    pub fn from_file(path: &Path) -> Result<Scenario, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| super::bad_scenario(path.display(), format!("cannot read it ({e})")))?;
        Scenario::from_json(&text, Origin::File(path.to_path_buf()))
    }

    /// The index of the session called `name`.
    #[must_use]
    pub fn session_index(&self, name: &str) -> Option<usize> {
        self.sessions.iter().position(|s| s.name == name)
    }

    /// Checks what serde cannot: names that refer to each other, limits.
    fn check(&self) -> Result<(), Error> {
        let fail = |reason: String| Err(super::bad_scenario(&self.origin, reason));
        if self.name.trim().is_empty() || self.name.contains(char::is_whitespace) {
            return fail("its name must be one word, like \"lost-update\"".into());
        }
        if self.sessions.len() < 2 {
            return fail("it needs at least two sessions".into());
        }
        if self.sessions.len() > 9 {
            return fail("it may have at most nine sessions (keys 1-9 pick them)".into());
        }
        for (i, s) in self.sessions.iter().enumerate() {
            if s.name.trim().is_empty() {
                return fail(format!("session {} has no name", i + 1));
            }
            if self.sessions[..i].iter().any(|t| t.name == s.name) {
                return fail(format!("two sessions are called {:?}", s.name));
            }
            if s.busy_timeout_ms > MAX_BUSY_TIMEOUT_MS {
                return fail(format!(
                    "session {:?} asks for busy_timeout_ms {} (at most {MAX_BUSY_TIMEOUT_MS})",
                    s.name, s.busy_timeout_ms
                ));
            }
        }
        if self.steps.is_empty() {
            return fail("it has no steps".into());
        }
        for (i, step) in self.steps.iter().enumerate() {
            if self.session_index(&step.session).is_none() {
                return fail(format!(
                    "step {} names session {:?}, which is not one of its sessions",
                    i + 1,
                    step.session
                ));
            }
            if step.sql.trim().is_empty() {
                return fail(format!("step {} has no SQL", i + 1));
            }
            if let Some(guard) = &step.when {
                // Checked now, on an empty in-memory database, so a typo in a guard is
                // reported when the file is loaded rather than as a puzzling step result.
                let check = rusqlite::Connection::open_in_memory()
                    .and_then(|c| c.prepare(&format!("SELECT ({guard})")).map(|_| ()));
                if let Err(e) = check {
                    return fail(format!(
                        "step {}'s \"when\" is not an SQL expression: {e}",
                        i + 1
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The built-in scenarios, parsed.
///
/// # Errors
/// Only if a built-in file is broken, which the tests rule out.
pub fn built_in() -> Result<Vec<Scenario>, Error> {
    BUILT_IN
        .iter()
        .map(|b| {
            Scenario::from_json(b.text, Origin::BuiltIn)
                .map_err(|e| super::bad_scenario(format!("built-in {}", b.file), e))
        })
        .collect()
}

/// A scenario file on disk that could not be used, kept so lists can say why.
#[derive(Debug, Clone)]
pub struct Broken {
    /// The file.
    pub path: PathBuf,
    /// The one-sentence reason.
    pub error: String,
}

/// Every scenario: the built-in ones, then the `*.json` files of `dir` (when it exists).
/// A file whose scenario name matches a built-in one replaces it, so a teacher can edit a
/// copy. Files that do not parse are returned separately instead of hiding the rest.
///
/// # Errors
/// Only if a built-in scenario is broken.
pub fn catalog(dir: Option<&Path>) -> Result<(Vec<Scenario>, Vec<Broken>), Error> {
    let mut scenarios = built_in()?;
    let mut broken = Vec::new();
    let Some(dir) = dir else {
        return Ok((scenarios, broken));
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok((scenarios, broken));
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| p.file_name().is_some_and(|n| n != MATRIX_FILE))
        .collect();
    // Directory order is the file system's whim; sort so lists are stable.
    paths.sort();
    for path in paths {
        match Scenario::from_file(&path) {
            Ok(s) => match scenarios.iter_mut().find(|t| t.name == s.name) {
                // The repository's own copy of a built-in changes nothing: keep calling it
                // built-in. An edited copy replaces it.
                Some(slot)
                    if *slot
                        == Scenario {
                            origin: Origin::BuiltIn,
                            ..s.clone()
                        } => {}
                Some(slot) => *slot = s,
                None => scenarios.push(s),
            },
            Err(e) => broken.push(Broken {
                path,
                error: e.to_string(),
            }),
        }
    }
    Ok((scenarios, broken))
}

/// The directory searched for extra scenarios: `assets/lab` under the current directory.
#[must_use]
pub fn default_dir() -> PathBuf {
    PathBuf::from("assets").join("lab")
}

/// A built-in scenario by name, for the lab's unit tests.
#[cfg(test)]
pub(crate) fn test_scenario(name: &str) -> Scenario {
    built_in()
        .expect("built-ins parse")
        .into_iter()
        .find(|s| s.name == name)
        .expect("scenario exists")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_scenario_parses() {
        let all = built_in().expect("built-in scenarios parse");
        assert!(all.len() >= 7);
        for name in [
            "lost-update",
            "immediate",
            "deferred-upgrade",
            "optimistic",
            "atomic",
            "expiry",
            "checkout-vs-sweeper",
        ] {
            assert!(all.iter().any(|s| s.name == name), "missing {name}");
        }
    }

    #[test]
    fn built_in_scenarios_bring_rows_not_tables_and_name_the_shops_strategies() {
        for s in built_in().expect("built-ins parse") {
            for sql in &s.setup {
                assert!(
                    !sql.to_ascii_uppercase().contains("CREATE "),
                    "{} carries schema of its own: {sql}",
                    s.name
                );
            }
        }
        let atomic = test_scenario("atomic");
        assert_eq!(atomic.strategy, Some(Follows::Shop(Strategy::Atomic)));
        let deferred = test_scenario("deferred-upgrade");
        assert_eq!(deferred.strategy, Some(Follows::Deferred));
    }

    #[test]
    fn an_unknown_strategy_is_refused_naming_the_choices() {
        let text = r#"{"name":"x","title":"t","strategy":"pessimistic","setup":[],
            "sessions":[{"name":"A"},{"name":"B"}],
            "steps":[{"session":"A","sql":"SELECT 1"}]}"#;
        let err = Scenario::from_json(text, Origin::BuiltIn)
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"pessimistic\""), "{err}");
        assert!(err.contains("pay-first, deferred)"), "{err}");
    }

    #[test]
    fn a_step_naming_an_unknown_session_is_refused_with_its_number() {
        let text = r#"{"name":"x","title":"t","setup":[],
            "sessions":[{"name":"A"},{"name":"B"}],
            "steps":[{"session":"A","sql":"SELECT 1"},{"session":"C","sql":"SELECT 1"}]}"#;
        let err = Scenario::from_json(text, Origin::BuiltIn).unwrap_err();
        assert!(err.to_string().contains("step 2"), "{err}");
    }

    #[test]
    fn a_disk_copy_replaces_a_built_in_only_when_it_differs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let same = include_str!("../../assets/lab/atomic.json");
        std::fs::write(dir.path().join("atomic.json"), same).expect("write");
        let edited = include_str!("../../assets/lab/immediate.json").replace(
            "BEGIN IMMEDIATE serialises",
            "BEGIN IMMEDIATE (edited) serialises",
        );
        std::fs::write(dir.path().join("immediate.json"), edited).expect("write");
        std::fs::write(dir.path().join("broken.json"), "{").expect("write");
        std::fs::write(dir.path().join(MATRIX_FILE), "not a scenario").expect("write");
        let (all, broken) = catalog(Some(dir.path())).expect("catalog");
        let find = |n: &str| all.iter().find(|s| s.name == n).expect("present");
        assert_eq!(find("atomic").origin, Origin::BuiltIn);
        assert!(matches!(find("immediate").origin, Origin::File(_)));
        assert!(find("immediate").title.contains("(edited)"));
        assert_eq!(
            broken.len(),
            1,
            "only broken.json; matrix.json is not a scenario"
        );
    }

    #[test]
    fn a_broken_guard_is_refused_when_the_file_is_read() {
        let text = r#"{"name":"x","title":"t","setup":[],
            "sessions":[{"name":"A"},{"name":"B"}],
            "steps":[{"session":"A","sql":"SELECT 1","when":":stock >="}]}"#;
        let err = Scenario::from_json(text, Origin::BuiltIn).unwrap_err();
        assert!(err.to_string().contains("step 1's \"when\""), "{err}");
    }

    #[test]
    fn expectations_read_as_words_or_objects() {
        let e: Vec<Expect> = serde_json::from_str(
            r#"["ok","busy","constraint","skipped",{"rows":[[1,"a",null]]},{"changed":2},{"error":"SQLITE_BUSY_SNAPSHOT"}]"#,
        )
        .expect("parse");
        assert_eq!(e.len(), 7);
        assert_eq!(e[5], Expect::Changed(2));
    }
}
