//! The engine's part in the sale's journal ([`crate::journal`]): runs, the operator log
//! and what this process runs now are written through the writer like any change.

use super::FileEngine;
use crate::error::Result;
use crate::journal::{self, RunRow, Running};

impl FileEngine {
    /// Stores a finished run; returns its id.
    pub fn record_run(&self, run: &RunRow) -> Result<i64> {
        Ok(self.write(|tx| journal::insert_run(tx, run))?)
    }

    /// Notes in the operator log that `who` did `what`, now.
    pub fn log_change(&self, who: &str, what: &str) -> Result<()> {
        let at = self.clock().now();
        Ok(self.write(|tx| journal::log(tx, at, who, what))?)
    }

    /// Says in the database what this engine runs (strategy, warp, hold TTL), so a
    /// monitor in another process shows the truth.
    pub fn publish_running(&self, who: &str) -> Result<()> {
        let running = Running {
            who: who.to_owned(),
            strategy: self.strategy(),
            warp: self.clock().warp(),
            hold_ttl_ms: i64::try_from(self.rules().hold_ttl.as_millis()).unwrap_or(i64::MAX),
            updated_at: self.clock().now(),
        };
        Ok(self.write(|tx| journal::set_running(tx, &running))?)
    }
}
