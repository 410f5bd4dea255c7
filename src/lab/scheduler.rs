//! Scheduler mode: the student decides which session runs its next statement.
//!
//! Each session follows its own program: its steps from the scenario in order, without
//! the steps marked `retry` (those are the written order's hand-made retries; here the
//! student retries). A statement answered with `SQLITE_BUSY` does not advance its
//! session — like an application that retries the statement — and `restart` rolls the
//! session back and starts its program again, which is what an application must do after
//! a BUSY that no retry can fix.
//!
//! After every move the lab audits the committed rows and announces what the student
//! achieved: an oversell, a lost update, a BUSY — why it happened, and which strategy
//! would have stopped it. Undo replays the moves on a fresh database, as step mode does.

use super::runner::{Lab, Snapshot, StepRecord};
use super::scenario::Scenario;
use super::session::{Outcome, TxnState};
use crate::error::Error;

/// One thing the student did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    /// Run the next statement of this session.
    Run(usize),
    /// Roll this session back and start its program again.
    Restart(usize),
}

/// What the student made happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anomaly {
    /// More units promised (held or paid) than exist.
    Oversell,
    /// The stock counter lost a write: the audit equation is off, though no more units
    /// are promised than exist (yet).
    LostUpdate,
    /// `SQLITE_BUSY` where a busy timeout would simply have waited for the lock.
    BusyWait,
    /// `SQLITE_BUSY` answered at once to a session that read first and now wants to write.
    BusyAtOnce,
}

impl Anomaly {
    /// A short label for the swimlane and headers.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Anomaly::Oversell => "OVERSELL",
            Anomaly::LostUpdate => "LOST UPDATE",
            Anomaly::BusyWait => "BUSY (would wait)",
            Anomaly::BusyAtOnce => "BUSY (at once)",
        }
    }

    /// Whether this is a broken shop rather than a lock doing its job.
    #[must_use]
    pub fn is_bug(self) -> bool {
        matches!(self, Anomaly::Oversell | Anomaly::LostUpdate)
    }
}

/// An announcement: what happened, why, and what would have prevented it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// Which move (0-based) caused it.
    pub after_move: usize,
    /// What kind of thing it is.
    pub kind: Anomaly,
    /// One line: "OVERSOLD: 2 units promised, 1 in stock".
    pub headline: String,
    /// Why it happened, in a sentence or two.
    pub why: String,
    /// Which strategy would have stopped it (for a BUSY that only means "wait": why
    /// that is fine).
    pub prevented_by: String,
}

/// One move and what it did.
#[derive(Debug, Clone, PartialEq)]
pub struct Played {
    /// The move.
    pub mv: Move,
    /// The statement it ran (None when there was nothing to run).
    pub record: Option<StepRecord>,
    /// A sentence when the move could not be made ("B has finished").
    pub note: Option<String>,
}

/// A scenario being played in scheduler mode.
pub struct Scheduler {
    scenario: Scenario,
    lab: Lab,
    initial: Snapshot,
    /// Each session's program: indices into the scenario's steps.
    programs: Vec<Vec<usize>>,
    /// Each session's position in its program.
    pc: Vec<usize>,
    played: Vec<Played>,
    announcements: Vec<Announcement>,
    /// The highest oversold count announced so far, so a state is announced once.
    worst: i64,
}

impl Scheduler {
    /// Opens a fresh database for `scenario`, before any move.
    ///
    /// # Errors
    /// The database cannot be set up.
    pub fn new(scenario: Scenario) -> Result<Scheduler, Error> {
        let lab = Lab::open(&scenario)?;
        let initial = lab.committed().clone();
        let programs = scenario
            .sessions
            .iter()
            .map(|s| {
                scenario
                    .steps
                    .iter()
                    .enumerate()
                    .filter(|(_, st)| st.session == s.name && !st.retry)
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect();
        let sessions = scenario.sessions.len();
        Ok(Scheduler {
            scenario,
            lab,
            initial,
            programs,
            pc: vec![0; sessions],
            played: Vec::new(),
            announcements: Vec::new(),
            worst: 0,
        })
    }

    /// The scenario.
    #[must_use]
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The moves so far.
    #[must_use]
    pub fn played(&self) -> &[Played] {
        &self.played
    }

    /// The announcements so far, oldest first.
    #[must_use]
    pub fn announcements(&self) -> &[Announcement] {
        &self.announcements
    }

    /// The live database.
    #[must_use]
    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    /// The last statement actually run.
    #[must_use]
    pub fn last_record(&self) -> Option<&StepRecord> {
        self.played.iter().rev().find_map(|p| p.record.as_ref())
    }

    /// The committed rows now.
    #[must_use]
    pub fn rows(&self) -> &Snapshot {
        self.last_record().map_or(&self.initial, |r| &r.rows)
    }

    /// The scenario step `session` would run next, if its program is not finished.
    #[must_use]
    pub fn next_step(&self, session: usize) -> Option<usize> {
        self.programs
            .get(session)?
            .get(*self.pc.get(session)?)
            .copied()
    }

    /// Whether `session` ran out of statements.
    #[must_use]
    pub fn finished(&self, session: usize) -> bool {
        self.next_step(session).is_none()
    }

    /// `session`'s position in its program and the program's length.
    #[must_use]
    pub fn progress(&self, session: usize) -> (usize, usize) {
        (
            self.pc.get(session).copied().unwrap_or(0),
            self.programs.get(session).map_or(0, Vec::len),
        )
    }

    /// Makes one move.
    pub fn play(&mut self, mv: Move) {
        let index = self.played.len();
        let played = match mv {
            Move::Run(s) => self.run(s),
            Move::Restart(s) => self.restart(s),
        };
        if let Some(record) = &played.record {
            self.announce(index, record);
        }
        self.played.push(played);
    }

    fn run(&mut self, session: usize) -> Played {
        let mv = Move::Run(session);
        let Some(step) = self.next_step(session) else {
            let name = self.name(session);
            let note = if session < self.scenario.sessions.len() {
                format!("{name} has run all its statements; press r to start it again")
            } else {
                format!("there is no session {}", session + 1)
            };
            return Played {
                mv,
                record: None,
                note: Some(note),
            };
        };
        let record = self.lab.run(&self.scenario, step);
        // A BUSY statement has not run: the session stays on it, as an application
        // retrying the statement would.
        if record.as_ref().is_some_and(|r| !r.outcome.is_busy()) {
            self.pc[session] += 1;
        }
        Played {
            mv,
            record,
            note: None,
        }
    }

    fn restart(&mut self, session: usize) -> Played {
        let mv = Move::Restart(session);
        if session >= self.scenario.sessions.len() {
            return Played {
                mv,
                record: None,
                note: Some(format!("there is no session {}", session + 1)),
            };
        }
        self.pc[session] = 0;
        let open = self.lab.sessions()[session].state() != TxnState::None;
        let record = if open {
            // The application's recovery: drop the transaction and its old snapshot.
            self.lab.run_sql(session, "ROLLBACK")
        } else {
            None
        };
        let note = if open {
            None
        } else {
            Some(format!(
                "{} had no transaction open; it starts its program again",
                self.name(session)
            ))
        };
        Played { mv, record, note }
    }

    /// Undoes the last move by replaying the others on a fresh database.
    ///
    /// # Errors
    /// The fresh database cannot be set up.
    pub fn undo(&mut self) -> Result<(), Error> {
        let moves: Vec<Move> = self.played.iter().map(|p| p.mv).collect();
        let mut fresh = Scheduler::new(self.scenario.clone())?;
        for mv in &moves[..moves.len().saturating_sub(1)] {
            fresh.play(*mv);
        }
        *self = fresh;
        Ok(())
    }

    fn name(&self, session: usize) -> String {
        self.scenario
            .sessions
            .get(session)
            .map_or_else(|| format!("session {}", session + 1), |s| s.name.clone())
    }

    /// Looks at what a move did and announces anything worth a student's attention.
    fn announce(&mut self, index: usize, record: &StepRecord) {
        let who = self.name(record.session);
        if let Outcome::Failed {
            code, would_wait, ..
        } = &record.outcome
            && record.outcome.is_busy()
        {
            let holder = record
                .states
                .iter()
                .position(|s| *s == TxnState::Write)
                .map_or_else(|| "another session".to_string(), |i| self.name(i));
            let a = if *would_wait {
                Announcement {
                    after_move: index,
                    kind: Anomaly::BusyWait,
                    headline: format!("{code}: {who} needs the write lock and {holder} holds it"),
                    why: format!(
                        "{who} holds no snapshot, so with a busy timeout it would simply wait until {holder} commits. Pick {who} again after that."
                    ),
                    prevented_by: "writers queue for SQLite's single write lock, as BEGIN IMMEDIATE intends; the queue strategy funnels writes through one writer instead of making them wait.".to_string(),
                }
            } else if code == "SQLITE_BUSY_SNAPSHOT" {
                Announcement {
                    after_move: index,
                    kind: Anomaly::BusyAtOnce,
                    headline: format!("{code}: {who}'s snapshot is too old to write from"),
                    why: format!(
                        "{who} read before another session committed; writing from that snapshot could overwrite the commit, so SQLite refuses at once. Retrying the statement never helps: press r to roll back and start {who} again."
                    ),
                    prevented_by: "immediate: BEGIN IMMEDIATE takes the write lock before the first read, so no snapshot can go stale.".to_string(),
                }
            } else {
                Announcement {
                    after_move: index,
                    kind: Anomaly::BusyAtOnce,
                    headline: format!("{code} at once: {who} read first and now wants to write"),
                    why: format!(
                        "{holder} holds the write lock and {who} holds a read snapshot. SQLite does not wait here, whatever the busy timeout: waiting cannot give {who} a newer snapshot, and two readers waiting for each other would deadlock. Press r to roll {who} back."
                    ),
                    prevented_by: "immediate: start read-then-write transactions with BEGIN IMMEDIATE so the lock is taken before the read.".to_string(),
                }
            };
            self.announcements.push(a);
        }
        let oversold = record.oversold().unwrap_or(0);
        if oversold > self.worst {
            self.worst = oversold;
            let over = record.audit.iter().find(|a| a.promised() > a.total);
            let a = match over {
                Some(p) => Announcement {
                    after_move: index,
                    kind: Anomaly::Oversell,
                    headline: format!(
                        "OVERSOLD: {} unit(s) promised, {} in stock",
                        p.promised(),
                        p.total
                    ),
                    why: "Two sessions each read the stock before the other wrote it and wrote a number computed from their own read: one decrement was lost, and both got a hold.".to_string(),
                    prevented_by: PREVENTS_LOST_UPDATE.to_string(),
                },
                None => Announcement {
                    after_move: index,
                    kind: Anomaly::LostUpdate,
                    headline: format!("LOST UPDATE: the stock counter is off by {oversold}"),
                    why: "A session wrote a stock level computed from a read made before another session's write, overwriting it: available + held + paid no longer equals the total.".to_string(),
                    prevented_by: PREVENTS_LOST_UPDATE.to_string(),
                },
            };
            self.announcements.push(a);
        }
    }

    /// The most important announcement: the shop breaking outranks a BUSY.
    #[must_use]
    pub fn headline(&self) -> Option<&Announcement> {
        self.announcements
            .iter()
            .rev()
            .find(|a| a.kind.is_bug())
            .or_else(|| self.announcements.last())
    }
}

/// Which strategies stop a read-then-write race.
const PREVENTS_LOST_UPDATE: &str = "immediate (BEGIN IMMEDIATE takes the write lock before the read), optimistic (the stale write's version check changes 0 rows) or atomic (one conditional UPDATE reads and writes at once).";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::scenario::{built_in, test_scenario as scenario};

    #[test]
    fn interleaving_the_naive_requests_oversells_and_says_so() {
        let mut s = Scheduler::new(scenario("lost-update")).expect("opens");
        for mv in [0, 1, 0, 0, 1, 1] {
            s.play(Move::Run(mv));
        }
        let a = s.headline().expect("announced");
        assert_eq!(a.kind, Anomaly::Oversell);
        assert!(a.prevented_by.contains("immediate"));
    }

    #[test]
    fn running_the_naive_requests_one_after_the_other_is_safe() {
        let mut s = Scheduler::new(scenario("lost-update")).expect("opens");
        for mv in [0, 0, 0, 1, 1, 1] {
            s.play(Move::Run(mv));
        }
        assert!(s.announcements().is_empty(), "{:?}", s.announcements());
        assert!(s.finished(0) && s.finished(1));
        // Bob saw 0 and the application skipped his writes.
        let last = s.last_record().expect("ran");
        assert!(matches!(last.outcome, Outcome::Skipped { .. }));
    }

    #[test]
    fn busy_keeps_the_session_on_its_statement_and_restart_recovers() {
        let mut s = Scheduler::new(scenario("deferred-upgrade")).expect("opens");
        // A: BEGIN, read; B: BEGIN, read; A: write; B: write -> BUSY at once.
        for mv in [0, 0, 1, 1, 0, 1] {
            s.play(Move::Run(mv));
        }
        assert_eq!(s.headline().map(|a| a.kind), Some(Anomaly::BusyAtOnce));
        assert_eq!(s.progress(1).0, 2, "B stays on its UPDATE");
        // A finishes, B's retry meets a stale snapshot, B restarts and succeeds.
        s.play(Move::Run(0));
        s.play(Move::Run(0));
        s.play(Move::Run(1));
        assert!(s.last_record().is_some_and(|r| r.outcome.is_busy()));
        s.play(Move::Restart(1));
        for _ in 0..5 {
            s.play(Move::Run(1));
        }
        assert!(s.finished(1));
        assert_eq!(s.last_record().and_then(StepRecord::oversold), Some(0));
    }

    #[test]
    fn any_sequence_of_moves_on_any_scenario_is_safe() {
        // A fixed pseudo-random sequence: deterministic, but not a path anyone wrote.
        let mut seed: u32 = 12_345;
        let mut next = || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (seed >> 16) as usize
        };
        for scenario in built_in().expect("built-ins parse") {
            let n = scenario.sessions.len();
            let mut s = Scheduler::new(scenario).expect("opens");
            for _ in 0..40 {
                let pick = next() % (n + 2);
                match next() % 10 {
                    0 => s.play(Move::Restart(pick)),
                    1 => s.undo().expect("replays"),
                    _ => s.play(Move::Run(pick)),
                }
            }
            for a in s.announcements() {
                assert!(!a.headline.is_empty() && !a.why.is_empty());
            }
        }
    }

    #[test]
    fn undo_replays_the_moves_but_the_last() {
        let mut s = Scheduler::new(scenario("lost-update")).expect("opens");
        for mv in [0, 1, 0, 0, 1, 1] {
            s.play(Move::Run(mv));
        }
        s.undo().expect("replays");
        assert_eq!(s.played().len(), 5);
        assert!(s.headline().is_none());
        assert!(!s.finished(1));
    }

    #[test]
    fn running_a_finished_session_explains_instead_of_failing() {
        let mut s = Scheduler::new(scenario("atomic")).expect("opens");
        for _ in 0..3 {
            s.play(Move::Run(0));
        }
        let p = s.played().last().expect("played");
        assert!(p.record.is_none());
        assert!(p.note.as_deref().is_some_and(|n| n.contains("press r")));
        s.play(Move::Run(7));
        assert!(s.played().last().is_some_and(|p| p.note.is_some()));
    }
}
