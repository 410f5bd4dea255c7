//! Resetting the sale: every hold, order and refund deleted, every product back to its
//! full stock, so the next run starts clean. The one operation that rewrites history, so
//! front ends ask before they call it.

use super::{EngineEvent, FileEngine};
use crate::error::Result;

impl FileEngine {
    /// Deletes every hold, order and refund and puts every product back to its total, in
    /// one `BEGIN IMMEDIATE` transaction on the writer funnel; then rebuilds the gate
    /// from the database, as at start.
    pub fn reset(&self) -> Result<()> {
        self.write(|tx| {
            // Orders point at holds: they go first. Stock is set from the total, which a
            // naive run leaves alone (its lost updates only corrupt stock_available).
            tx.execute_batch(
                "DELETE FROM orders;
                 DELETE FROM refunds;
                 DELETE FROM holds;
                 UPDATE products SET stock_available = stock_total, version = version + 1;",
            )?;
            Ok(())
        })?;
        self.rebuild_gate()?;
        self.inner.events.publish(|| EngineEvent::StockChanged);
        Ok(())
    }
}
