//! Resetting the sale: every hold, order and refund deleted, every product back to its
//! full stock, so the next run starts clean. The one operation that rewrites history, so
//! front ends ask before they call it.

use super::{EngineEvent, FileEngine};
use crate::error::Result;
use crate::hold;

impl FileEngine {
    /// Deletes every hold, order and refund and puts every product back to its total, in
    /// one `BEGIN IMMEDIATE` transaction on the writer funnel; then rebuilds the gate
    /// from the database, as at start.
    pub fn reset(&self) -> Result<()> {
        self.write(hold::reset)?;
        self.rebuild_gate()?;
        self.inner.events.publish(|| EngineEvent::StockChanged);
        Ok(())
    }
}
