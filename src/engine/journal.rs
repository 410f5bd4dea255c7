//! The file's part in the sale's journal ([`crate::journal`]): runs, the operator log
//! and what this process runs now are written through the writer like any change.

use super::FileEngine;
use crate::clock::Millis;
use crate::error::Result;
use crate::journal::{self, RunRow, Running};

impl FileEngine {
    /// Stores a finished run; returns its id.
    pub fn record_run(&self, run: &RunRow) -> Result<i64> {
        Ok(self.write(|tx| journal::insert_run(tx, run))?)
    }

    /// Notes in the operator log that `who` did `what`, at `at`.
    pub fn log_change(&self, at: Millis, who: &str, what: &str) -> Result<()> {
        Ok(self.write(|tx| journal::log(tx, at, who, what))?)
    }

    /// Says in the database what this process runs (strategy, warp, hold TTL), so a
    /// monitor in another process shows the truth.
    pub fn set_running(&self, running: &Running) -> Result<()> {
        Ok(self.write(|tx| journal::set_running(tx, running))?)
    }
}
