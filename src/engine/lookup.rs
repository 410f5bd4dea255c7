//! What the HTTP API needs beside the console's operations: a payment's outcome that
//! tells a new order from a repeat, and a buyer's own hold read back.

use super::Engine;
use crate::error::Result;
use crate::hold::{self, Order};
use crate::ids::HoldId;

/// What a payment did: a new order, or the one an earlier payment of the hold made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paid {
    New(Order),
    Again(Order),
}

impl Paid {
    pub fn into_order(self) -> Order {
        match self {
            Paid::New(order) | Paid::Again(order) => order,
        }
    }
}

impl Engine {
    /// One buyer's hold, read on a pooled connection (no transaction: one `SELECT`).
    pub fn hold(&self, id: HoldId, buyer: &str) -> Result<hold::HoldState> {
        let conn = self.inner.store.conn()?;
        hold::hold_state(&conn, id, buyer)
    }
}
