//! What the HTTP API needs beside the console's operations: a payment's outcome that
//! tells a new order from a repeat, and a buyer's own hold read back.

use super::Engine;
use crate::error::Result;
use crate::hold;
use crate::ids::HoldId;

impl Engine {
    /// One buyer's hold, read on a pooled connection (no transaction: one `SELECT`).
    pub fn hold(&self, id: HoldId, buyer: &str) -> Result<hold::HoldState> {
        let conn = self.inner.store.conn()?;
        Ok(hold::hold_state(&conn, id, buyer)?)
    }
}
