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

pub use print::print;

use super::runner::Lab;
use super::scenario::{Follows, Origin, Scenario, SessionSpec, Step};
use super::session::{Outcome, TxnState};
use crate::error::Error;

/// The matrix data compiled into the binary.
const BUILT_IN: &str = include_str!("../../assets/lab/matrix.json");

/// The most preemptions a schedule may have. Two is enough for every race in the
/// built-in data; each extra one multiplies the number of runs by a program's length.
pub const MAX_PREEMPTIONS: usize = 2;

/// A guard against a schedule that never ends (a looping worker with nothing to do).
const MAX_STATEMENTS: usize = 400;

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
            };
        }
        let plan = Plan::new(self, anomaly, strategy);
        let mut schedules = 0;
        let mut verdict = Verdict::Prevented;
        for schedule in plan.schedules() {
            schedules += 1;
            match plan.run(&schedule) {
                Ok(None) => {}
                Ok(Some(witness)) => {
                    verdict = Verdict::Happens(witness);
                    break;
                }
                Err(e) => {
                    verdict = Verdict::Broken(e.to_string());
                    break;
                }
            }
        }
        Cell {
            anomaly,
            strategy,
            verdict,
            schedules,
        }
    }
}

/// A schedule: who starts, and after how many statements each preemption happens.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Schedule {
    start: usize,
    chunks: Vec<usize>,
}

/// One cell made runnable: a scenario (for the setup and sessions) and the programs.
struct Plan<'a> {
    scenario: Scenario,
    programs: Vec<&'a [ProgramStep]>,
    /// For each session, its loop condition if it is a worker.
    loops: Vec<Option<&'a str>>,
    detect: &'a str,
}

impl<'a> Plan<'a> {
    fn new(matrix: &'a Matrix, anomaly: usize, strategy: usize) -> Plan<'a> {
        let a = &matrix.anomalies[anomaly];
        let st = &matrix.strategies[strategy];
        let mut sessions = Vec::new();
        let mut programs: Vec<&[ProgramStep]> = Vec::new();
        let mut loops = Vec::new();
        for (i, vars) in a.buyers.iter().enumerate() {
            sessions.push(SessionSpec {
                name: session_name(i),
                label: String::new(),
                busy_timeout_ms: 0,
                vars: vars.clone(),
            });
            programs.push(&st.buyer);
            loops.push(None);
        }
        for w in &st.workers {
            sessions.push(SessionSpec {
                name: w.name.clone(),
                label: String::new(),
                busy_timeout_ms: 0,
                vars: BTreeMap::new(),
            });
            programs.push(&w.steps);
            loops.push(Some(w.loop_while.as_str()));
        }
        let mut setup = matrix.setup.clone();
        setup.extend(a.setup.iter().cloned());
        setup.extend(st.setup.iter().cloned());
        // The steps are not used by the matrix (it runs programs), but a scenario needs one.
        let steps = vec![Step {
            session: session_name(0),
            sql: "SELECT 1".to_string(),
            when: None,
            narration: String::new(),
            expect: None,
            oversold: None,
            retry: false,
        }];
        let scenario = Scenario {
            name: format!("{}-{}", a.name, st.name),
            title: String::new(),
            summary: String::new(),
            strategy: Some(st.name),
            setup,
            sessions,
            steps,
            lesson: String::new(),
            origin: Origin::BuiltIn,
        };
        Plan {
            scenario,
            programs,
            loops,
            detect: &a.detect,
        }
    }

    /// Every schedule with up to [`MAX_PREEMPTIONS`] preemptions: for each starting
    /// session, each way of cutting the run into chunks no longer than the programs.
    fn schedules(&self) -> Vec<Schedule> {
        let n = self.programs.len();
        let longest = self.programs.iter().map(|p| p.len()).max().unwrap_or(1);
        let mut out = Vec::new();
        for start in 0..n {
            let mut chunks_list: Vec<Vec<usize>> = vec![Vec::new()];
            let mut frontier: Vec<Vec<usize>> = vec![Vec::new()];
            for _ in 0..MAX_PREEMPTIONS {
                let mut next = Vec::new();
                for prefix in &frontier {
                    for k in 1..=longest {
                        let mut c = prefix.clone();
                        c.push(k);
                        next.push(c);
                    }
                }
                chunks_list.extend(next.iter().cloned());
                frontier = next;
            }
            out.extend(
                chunks_list
                    .into_iter()
                    .map(|chunks| Schedule { start, chunks }),
            );
        }
        out
    }

    /// Runs one schedule on a fresh database; returns the witness if the anomaly happened.
    fn run(&self, schedule: &Schedule) -> Result<Option<String>, Error> {
        let mut run = Run {
            plan: self,
            lab: Lab::open(&self.scenario)?,
            pc: vec![0; self.programs.len()],
            done: vec![false; self.programs.len()],
            trace: Vec::new(),
            statements: 0,
        };
        let mut current = schedule.start;
        for &chunk in &schedule.chunks {
            let mut ran = 0;
            while ran < chunk && !run.done[current] {
                match run.turn(current)? {
                    Turn::Ran => ran += 1,
                    Turn::Blocked | Turn::Yielded => break,
                }
            }
            current = run.next_after(current);
        }
        run.round_robin(current)?;
        if run.lab.check_sql(self.detect)? {
            Ok(Some(run.trace.join(" ")))
        } else {
            Ok(None)
        }
    }
}

/// "A", "B", ... for the buyers.
fn session_name(i: usize) -> String {
    let letter = u8::try_from(i % 26).map_or('?', |i| char::from(b'A' + i));
    letter.to_string()
}

/// What one turn of a session did.
enum Turn {
    /// A statement ran (or failed for good, ending the session).
    Ran,
    /// BUSY: the session waits and will retry the statement.
    Blocked,
    /// A worker finished an idle round and lets the others go first.
    Yielded,
}

/// One schedule being run.
struct Run<'p, 'a> {
    plan: &'p Plan<'a>,
    lab: Lab,
    pc: Vec<usize>,
    done: Vec<bool>,
    trace: Vec<String>,
    statements: usize,
}

impl Run<'_, '_> {
    /// The next session after `s` that has not finished (or `s` itself).
    fn next_after(&self, s: usize) -> usize {
        let n = self.done.len();
        (1..=n)
            .map(|d| (s + d) % n)
            .find(|&i| !self.done[i])
            .unwrap_or(s)
    }

    /// Whether every buyer (every session that is not a worker) has finished.
    fn buyers_done(&self) -> bool {
        self.plan
            .loops
            .iter()
            .zip(&self.done)
            .all(|(l, d)| l.is_some() || *d)
    }

    /// Lets every session run one statement in turn until all have finished.
    fn round_robin(&mut self, mut current: usize) -> Result<(), Error> {
        let mut stuck = 0;
        while self.done.iter().any(|d| !d) {
            if self.done[current] {
                current = self.next_after(current);
                continue;
            }
            match self.turn(current)? {
                Turn::Ran | Turn::Yielded => stuck = 0,
                Turn::Blocked => stuck += 1,
            }
            if stuck > self.done.len() {
                return Err(super::bad_scenario(
                    "matrix.json",
                    format!(
                        "cell {} never finished: every session waits for a lock ({})",
                        self.plan.scenario.name,
                        self.trace.join(" ")
                    ),
                ));
            }
            current = self.next_after(current);
        }
        Ok(())
    }

    /// Runs session `s`'s next statement that is not skipped.
    fn turn(&mut self, s: usize) -> Result<Turn, Error> {
        let program = self.plan.programs[s];
        loop {
            self.statements += 1;
            if self.statements > MAX_STATEMENTS {
                return Err(super::bad_scenario(
                    "matrix.json",
                    format!(
                        "cell {} ran more than {MAX_STATEMENTS} statements without finishing",
                        self.plan.scenario.name
                    ),
                ));
            }
            let Some(step) = program.get(self.pc[s]) else {
                // The end of the program: a worker goes round again while it finds work
                // or a buyer may still send some; everyone else is done.
                return Ok(match self.plan.loops[s] {
                    Some(cond) if self.lab.holds_for(s, cond) => {
                        self.pc[s] = 0;
                        continue;
                    }
                    Some(_) if !self.buyers_done() => {
                        self.pc[s] = 0;
                        Turn::Yielded
                    }
                    _ => {
                        self.done[s] = true;
                        Turn::Ran
                    }
                });
            };
            let outcome = self
                .lab
                .exec(s, &step.sql, step.when.as_deref())
                .ok_or_else(|| super::bad_scenario("matrix.json", "a program names no session"))?;
            let name = &self.plan.scenario.sessions[s].name;
            let verb = step
                .sql
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            match outcome {
                Outcome::Skipped { .. } => {
                    self.pc[s] += 1;
                }
                Outcome::Failed {
                    would_wait: true, ..
                } => {
                    self.trace.push(format!("{name}:{verb}(BUSY, waits)"));
                    return Ok(Turn::Blocked);
                }
                Outcome::Failed { code, .. } => {
                    // The application gives up: roll back, tell the buyer.
                    self.trace.push(format!("{name}:{verb}({code}, gives up)"));
                    if self.lab.sessions()[s].state() != TxnState::None {
                        let _ = self.lab.exec(s, "ROLLBACK", None);
                    }
                    self.done[s] = true;
                    return Ok(Turn::Ran);
                }
                Outcome::Rows { .. } | Outcome::Done { .. } => {
                    self.trace.push(format!("{name}:{verb}"));
                    self.pc[s] += 1;
                    return Ok(Turn::Ran);
                }
            }
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
