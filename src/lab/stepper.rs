//! Step mode: walk a scenario's steps in the written order, forward and back.
//!
//! SQLite cannot un-run a statement, and faking it would teach the wrong thing. So going
//! back replays the scenario from the start on a fresh database, one step short. The
//! steps are deterministic (no clocks, no threads), so the replay lands on exactly the
//! state the student saw before.

use super::runner::{Lab, Snapshot, StepRecord};
use super::scenario::Scenario;
use crate::error::Error;

/// A scenario being walked step by step.
pub struct Stepper {
    scenario: Scenario,
    lab: Lab,
    /// The committed rows before the first step.
    initial: Snapshot,
    /// One record per step run so far.
    records: Vec<StepRecord>,
}

impl Stepper {
    /// Opens a fresh database for `scenario`, before its first step.
    ///
    /// # Errors
    /// The database cannot be set up.
    pub fn new(scenario: Scenario) -> Result<Stepper, Error> {
        let lab = Lab::open(&scenario)?;
        let initial = lab.committed().clone();
        Ok(Stepper {
            scenario,
            lab,
            initial,
            records: Vec::new(),
        })
    }

    /// The scenario.
    #[must_use]
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The records of the steps run so far.
    #[must_use]
    pub fn records(&self) -> &[StepRecord] {
        &self.records
    }

    /// The last step run, if any.
    #[must_use]
    pub fn last(&self) -> Option<&StepRecord> {
        self.records.last()
    }

    /// The committed rows now.
    #[must_use]
    pub fn rows(&self) -> &Snapshot {
        self.records.last().map_or(&self.initial, |r| &r.rows)
    }

    /// The live database (for session variables and states).
    #[must_use]
    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    /// How many steps have run.
    #[must_use]
    pub fn position(&self) -> usize {
        self.records.len()
    }

    /// Whether every step has run.
    #[must_use]
    pub fn at_end(&self) -> bool {
        self.records.len() >= self.scenario.steps.len()
    }

    /// Runs the next step. Returns false when there was none.
    pub fn forward(&mut self) -> bool {
        let index = self.records.len();
        match self.lab.run(&self.scenario, index) {
            Some(record) => {
                self.records.push(record);
                true
            }
            None => false,
        }
    }

    /// Goes back one step by replaying all but the last on a fresh database.
    ///
    /// # Errors
    /// The fresh database cannot be set up.
    pub fn back(&mut self) -> Result<(), Error> {
        let target = self.records.len().saturating_sub(1);
        self.go_to(target)
    }

    /// Replays from the start on a fresh database up to `position` steps.
    ///
    /// # Errors
    /// The fresh database cannot be set up.
    pub fn go_to(&mut self, position: usize) -> Result<(), Error> {
        let mut fresh = Stepper::new(self.scenario.clone())?;
        while fresh.position() < position && fresh.forward() {}
        *self = fresh;
        Ok(())
    }

    /// Runs every remaining step.
    pub fn to_end(&mut self) {
        while self.forward() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::scenario::test_scenario as scenario;

    #[test]
    fn back_replays_to_exactly_the_state_seen_before() {
        let mut stepper = Stepper::new(scenario("deferred-upgrade")).expect("opens");
        for _ in 0..7 {
            assert!(stepper.forward());
        }
        let seen = stepper.records().to_vec();
        assert!(stepper.forward());
        stepper.back().expect("replays");
        assert_eq!(stepper.records(), &seen[..]);
        // And forward again gives the same step as the first time.
        assert!(stepper.forward());
        assert_eq!(stepper.position(), 8);
    }

    #[test]
    fn back_at_the_start_stays_at_the_start() {
        let mut stepper = Stepper::new(scenario("atomic")).expect("opens");
        stepper.back().expect("replays");
        assert_eq!(stepper.position(), 0);
        stepper.to_end();
        assert!(stepper.at_end());
        assert!(!stepper.forward());
    }
}
