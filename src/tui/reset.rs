//! Resetting the sale from the console: every hold, order and refund deleted, every
//! product back to its full stock, so the next demo run starts clean.
//!
//! The engine has no reset of its own yet; this goes through [`Engine::write`] (the
//! writer funnel, `BEGIN IMMEDIATE`) and then rebuilds the gate from the database, as the
//! engine does at start. It belongs in the engine (`Engine::reset`, publishing
//! `StockChanged`) and should move there.

use crate::engine::Engine;
use crate::error::Result;

pub fn reset(engine: &Engine) -> Result<()> {
    engine.write(|tx| {
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
    engine.rebuild_gate()
}
