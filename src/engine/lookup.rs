//! What the HTTP API needs beside the console's operations: a payment's outcome that
//! tells a new order from a repeat, and a buyer's own hold read back.

use super::FileEngine;
use crate::error::Result;
use crate::hold;
use crate::ids::{HoldId, ProductId};

impl FileEngine {
    /// One buyer's hold, read on a pooled connection (no transaction: one `SELECT`).
    pub fn hold(&self, id: HoldId, buyer: &str) -> Result<hold::HoldState> {
        let conn = self.inner.store.conn()?;
        Ok(hold::hold_state(&conn, id, buyer)?)
    }

    /// Units of one run's buyers (their names share `prefix`), by status.
    pub fn units_by_status(&self, product: ProductId, prefix: &str) -> Result<Vec<(String, i64)>> {
        let conn = self.inner.store.conn()?;
        Ok(hold::units_by_status(&conn, product, prefix)?)
    }

    /// Units that may still come to a buyer refused `qty`.
    pub fn units_in_play(&self, product: ProductId, qty: i64) -> Result<i64> {
        let conn = self.inner.store.conn()?;
        Ok(hold::units_in_play(&conn, product, qty)?)
    }

    /// What could come back of a sold-out product (for "3 holds may return within 4:12").
    pub fn may_return(&self, product: ProductId) -> Result<crate::monitor::MayReturn> {
        let conn = self.inner.store.conn()?;
        Ok(crate::monitor::may_return(&conn, product)?)
    }
}
