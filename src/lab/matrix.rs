//! Every anomaly against every strategy, Hermitage-style.
//!
//! [Hermitage](https://github.com/ept/hermitage) runs each isolation anomaly against each
//! database's isolation levels and tabulates which are prevented. Here the "levels" are
//! the shop's strategies, written as SQL session programs in `assets/lab/matrix.json`, and
//! the anomalies are the shop's: a lost update, an oversell, a per-buyer limit bypassed,
//! a buyer refused while stock remained.
//!
//! Every cell runs on a fresh copy of the shop's own database ([`database`](super::database)),
//! so the schema's CHECKs and triggers take part as they do in a sale: a per-buyer limit
//! that a strategy's SQL checks too late is still refused by the schema's trigger, and
//! the table says so instead of reporting a bypass the shop could never suffer.
//!
//! One cell = one anomaly's starting rows and buyers, each buyer running the strategy's
//! program on its own connection. A single run proves little: races need the right
//! interleaving. So each cell is run under every schedule with up to two preemptions
//! (switch points chosen while a session could still have continued), on a fresh
//! database each time; "prevented" means no schedule produced the anomaly, and for the
//! others the first schedule that did is printed so the student can replay it.
//!
//! What a session does when SQLite says BUSY follows the application, not the lab: if it
//! holds no snapshot, it waits (a busy timeout would) and is retried at its next turn;
//! if it does hold one, waiting cannot help, so it rolls back and reports an error to
//! its buyer. Any other error also rolls back and gives up.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

mod print;
mod schedule;

pub use print::print;

use super::scenario::Follows;
use crate::error::Error;
use schedule::Plan;

/// The matrix data compiled into the binary.
const BUILT_IN: &str = include_str!("../../assets/lab/matrix.json");

/// The most preemptions a schedule may have. Two is enough for every race in the
/// built-in data; each extra one multiplies the number of runs by a program's length.
pub const MAX_PREEMPTIONS: usize = 2;

/// A guard against a schedule that never ends (a looping worker with nothing to do).
pub(crate) const MAX_STATEMENTS: usize = 400;

/// One statement of a program.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProgramStep {
    /// The statement; `:name` parameters come from the session's variables.
    pub sql: String,
    /// Skip the statement unless this SQL expression is true.
    #[serde(default)]
    pub when: Option<String>,
}

/// A session that serves the buyers (the queue's writer), looping over its program.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Worker {
    /// Its name in witnesses ("W").
    pub name: String,
    /// Start the program again while this is true (it found work), or while a buyer is
    /// still running.
    pub loop_while: String,
    /// The program.
    pub steps: Vec<ProgramStep>,
}

/// A column: how a buyer takes a unit under one strategy, as SQL.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// The strategy the column writes out: the shop's, or the lab's `deferred`.
    pub name: Follows,
    /// One line on what it does.
    pub summary: String,
    /// Stand-ins the strategy needs beside the shop's tables (the gate's counter, the
    /// queue's requests), run after the anomaly's rows.
    #[serde(default)]
    pub setup: Vec<String>,
    /// The program each buyer runs.
    pub buyer: Vec<ProgramStep>,
    /// Sessions that serve the buyers.
    #[serde(default)]
    pub workers: Vec<Worker>,
}

/// An anomaly: starting rows, buyers, and how to tell it happened.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AnomalySpec {
    /// The row's name.
    pub name: String,
    /// A few words on what goes wrong.
    pub title: String,
    /// The situation, and what must hold.
    pub summary: String,
    /// Rows to start from (after the common tables).
    pub setup: Vec<String>,
    /// One variable set per buyer (at least `buyer`).
    pub buyers: Vec<BTreeMap<String, Value>>,
    /// A query on the committed rows after the run: true when the anomaly happened.
    pub detect: String,
}

/// The matrix's data.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    /// The table's title.
    pub title: String,
    /// Rows every cell starts from, added to the shop's schema before the anomaly's own.
    #[serde(default)]
    pub setup: Vec<String>,
    /// The rows.
    pub anomalies: Vec<AnomalySpec>,
    /// The columns.
    pub strategies: Vec<Column>,
}

/// What one cell found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No schedule produced the anomaly.
    Prevented,
    /// A schedule did; here it is, statement by statement ("A:SELECT B:SELECT ...").
    Happens(String),
    /// The cell could not be run (bad SQL in the data, a schedule that never ended).
    Broken(String),
}

/// A statement the strategy's SQL sent and the shop's schema refused (a CHECK, a
/// trigger), in a run where the anomaly did not happen: there the database, not the
/// strategy, stopped it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// SQLite's message (the schema's triggers name their rule first: `per_buyer_limit: ...`).
    pub message: String,
    /// The run, statement by statement.
    pub witness: String,
}

/// One cell's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// Index into `Matrix::anomalies`.
    pub anomaly: usize,
    /// Index into `Matrix::strategies`.
    pub strategy: usize,
    /// What it found.
    pub verdict: Verdict,
    /// How many schedules were run.
    pub schedules: usize,
    /// For a prevented anomaly: the first run in which the schema refused a statement.
    pub refused: Option<Refusal>,
}

impl Matrix {
    /// The matrix compiled into the binary.
    ///
    /// # Errors
    /// Only if the built-in data is broken, which the tests rule out.
    pub fn built_in() -> Result<Matrix, Error> {
        Matrix::from_json(BUILT_IN, "built-in matrix.json")
    }

    /// Parses matrix data.
    ///
    /// # Errors
    /// The JSON does not parse.
    pub fn from_json(text: &str, origin: &str) -> Result<Matrix, Error> {
        serde_json::from_str(text).map_err(|e| super::bad_scenario(origin, e))
    }

    /// Runs every cell, two at a time (the machine this was written on has two cores).
    ///
    /// # Errors
    /// Never for a cell (a broken cell says so in its verdict); kept for callers.
    pub fn run(&self) -> Result<Vec<Cell>, Error> {
        let pairs: Vec<(usize, usize)> = (0..self.anomalies.len())
            .flat_map(|a| (0..self.strategies.len()).map(move |s| (a, s)))
            .collect();
        let half = pairs.len().div_ceil(2);
        let (first, second) = pairs.split_at(half);
        let mut cells = std::thread::scope(|scope| {
            let other = scope.spawn(|| {
                second
                    .iter()
                    .map(|&(a, s)| self.cell(a, s))
                    .collect::<Vec<_>>()
            });
            let mut cells: Vec<Cell> = first.iter().map(|&(a, s)| self.cell(a, s)).collect();
            match other.join() {
                Ok(more) => cells.extend(more),
                Err(_) => cells.extend(second.iter().map(|&(a, s)| Cell {
                    anomaly: a,
                    strategy: s,
                    verdict: Verdict::Broken("the worker thread failed".to_string()),
                    schedules: 0,
                    refused: None,
                })),
            }
            cells
        });
        cells.sort_by_key(|c| (c.anomaly, c.strategy));
        Ok(cells)
    }

    /// Runs one cell under every schedule until the anomaly shows.
    #[must_use]
    pub fn cell(&self, anomaly: usize, strategy: usize) -> Cell {
        if anomaly >= self.anomalies.len() || strategy >= self.strategies.len() {
            return Cell {
                anomaly,
                strategy,
                verdict: Verdict::Broken("there is no such cell in the matrix".to_string()),
                schedules: 0,
                refused: None,
            };
        }
        let plan = Plan::new(self, anomaly, strategy);
        let mut schedules = 0;
        let mut verdict = Verdict::Prevented;
        let mut refused = None;
        for schedule in plan.schedules() {
            schedules += 1;
            match plan.run(&schedule) {
                Ok(end) if end.happened => {
                    verdict = Verdict::Happens(end.trace);
                    break;
                }
                Ok(end) => {
                    if refused.is_none() {
                        refused = end.refused.map(|message| Refusal {
                            message,
                            witness: end.trace,
                        });
                    }
                }
                Err(e) => {
                    verdict = Verdict::Broken(e.to_string());
                    break;
                }
            }
        }
        if verdict != Verdict::Prevented {
            refused = None;
        }
        Cell {
            anomaly,
            strategy,
            verdict,
            schedules,
            refused,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(m: &Matrix, anomaly: &str, strategy: &str) -> Verdict {
        let a = m
            .anomalies
            .iter()
            .position(|x| x.name == anomaly)
            .expect("anomaly");
        let s = m
            .strategies
            .iter()
            .position(|x| x.name.name() == strategy)
            .expect("strategy");
        m.cell(a, s).verdict
    }

    #[test]
    fn naive_oversells_and_immediate_does_not() {
        let m = Matrix::built_in().expect("parses");
        assert!(matches!(
            verdict(&m, "oversell", "naive"),
            Verdict::Happens(_)
        ));
        assert_eq!(verdict(&m, "oversell", "immediate"), Verdict::Prevented);
    }

    #[test]
    fn the_schemas_trigger_stops_a_limit_bypass_the_strategys_sql_lets_through() {
        let m = Matrix::built_in().expect("parses");
        let a = m
            .anomalies
            .iter()
            .position(|x| x.name == "limit-bypass")
            .expect("anomaly");
        let cells: Vec<Cell> = (0..m.strategies.len()).map(|s| m.cell(a, s)).collect();
        for (cell, column) in cells.iter().zip(&m.strategies) {
            assert_eq!(cell.verdict, Verdict::Prevented, "{}", column.name);
        }
        let by_name = |name: &str| {
            let i = m
                .strategies
                .iter()
                .position(|x| x.name.name() == name)
                .expect("strategy");
            cells[i].refused.clone()
        };
        // The lab's naive SQL checks the limit from a stale read: the trigger refuses.
        let naive = by_name("naive").expect("the trigger refused alice's second hold");
        assert!(
            naive.message.starts_with("per_buyer_limit"),
            "{}",
            naive.message
        );
        assert!(
            naive
                .witness
                .ends_with("B:INSERT(SQLITE_CONSTRAINT_TRIGGER, gives up)"),
            "{}",
            naive.witness
        );
        // Immediate reads the buyer's holds under the write lock: never refused.
        assert_eq!(by_name("immediate"), None);
    }

    #[test]
    fn deferred_turns_buyers_away_and_immediate_waits_instead() {
        let m = Matrix::built_in().expect("parses");
        match verdict(&m, "refused-with-stock", "deferred") {
            Verdict::Happens(w) => assert!(w.contains("BUSY"), "{w}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert_eq!(
            verdict(&m, "refused-with-stock", "immediate"),
            Verdict::Prevented
        );
    }

    #[test]
    fn schedules_cover_every_chunking_up_to_the_bound() {
        let m = Matrix::built_in().expect("parses");
        let plan = Plan::new(&m, 0, 0);
        // naive: 2 sessions, programs of 3: per start 1 + 3 + 9 schedules.
        assert_eq!(plan.schedules().len(), 2 * (1 + 3 + 9));
    }
}
