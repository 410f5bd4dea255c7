//! The runs behind one cell: every schedule with up to [`MAX_PREEMPTIONS`] preemptions,
//! each on a fresh lab database, each session running its strategy's program.

use std::collections::BTreeMap;

use super::{MAX_PREEMPTIONS, MAX_STATEMENTS, Matrix, ProgramStep};
use crate::error::Error;
use crate::lab::runner::Lab;
use crate::lab::scenario::{Origin, Scenario, SessionSpec, Step};
use crate::lab::session::{FailKind, Outcome, TxnState};

/// A schedule: who starts, and after how many statements each preemption happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Schedule {
    start: usize,
    chunks: Vec<usize>,
}

/// One cell made runnable: a scenario (for the setup and sessions) and the programs.
pub(super) struct Plan<'a> {
    scenario: Scenario,
    programs: Vec<&'a [ProgramStep]>,
    /// For each session, its loop condition if it is a worker.
    loops: Vec<Option<&'a str>>,
    detect: &'a str,
}

impl<'a> Plan<'a> {
    pub(super) fn new(matrix: &'a Matrix, anomaly: usize, strategy: usize) -> Plan<'a> {
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
    pub(super) fn schedules(&self) -> Vec<Schedule> {
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

    /// Runs one schedule on a fresh database: whether the anomaly happened, and how.
    pub(super) fn run(&self, schedule: &Schedule) -> Result<Ending, Error> {
        let mut run = Run {
            plan: self,
            lab: Lab::open(&self.scenario)?,
            pc: vec![0; self.programs.len()],
            done: vec![false; self.programs.len()],
            trace: Vec::new(),
            statements: 0,
            refused: None,
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
        Ok(Ending {
            happened: run.lab.check_sql(self.detect)?,
            trace: run.trace.join(" "),
            refused: run.refused,
        })
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

/// How one schedule ended.
pub(super) struct Ending {
    /// Whether the anomaly's check found it.
    pub(super) happened: bool,
    /// Every statement, in the order run ("A:SELECT B:UPDATE(SQLITE_BUSY, gives up)").
    pub(super) trace: String,
    /// SQLite's message for the first statement the schema refused (a CHECK, a trigger).
    pub(super) refused: Option<String>,
}

/// One schedule being run.
struct Run<'p, 'a> {
    plan: &'p Plan<'a>,
    lab: Lab,
    pc: Vec<usize>,
    done: Vec<bool>,
    trace: Vec<String>,
    statements: usize,
    refused: Option<String>,
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
                return Err(crate::lab::bad_scenario(
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
                return Err(crate::lab::bad_scenario(
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
                .ok_or_else(|| {
                    crate::lab::bad_scenario("matrix.json", "a program names no session")
                })?;
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
                Outcome::Failed {
                    code,
                    kind,
                    message,
                    ..
                } => {
                    // The application gives up: roll back, tell the buyer.
                    self.trace.push(format!("{name}:{verb}({code}, gives up)"));
                    if kind == FailKind::Constraint {
                        self.refused.get_or_insert(message);
                    }
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
