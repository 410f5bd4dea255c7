//! Operations the HTTP API needs beside the console's: a payment that tells a new order
//! from a repeat, and a buyer's own hold read back.

use super::{Engine, EngineEvent, ReturnReason};
use crate::error::{Error, Result};
use crate::hold::{self, Checkout, Order};
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
    /// As [`Engine::checkout_id`], telling a new order from a retried payment's old one
    /// (the HTTP API answers 201 for the first and 200 for a repeat).
    pub fn pay(&self, id: HoldId, buyer: &str) -> Result<Paid> {
        let now = self.inner.clock.now();
        match self.write(|tx| hold::checkout(tx, id, buyer, now))? {
            Checkout::Paid(order) => {
                self.inner
                    .events
                    .publish(|| EngineEvent::Paid(order.clone()));
                Ok(Paid::New(order))
            }
            Checkout::AlreadyPaid(order) => Ok(Paid::Again(order)),
            Checkout::Expired(returned) => {
                self.inner.returned(vec![returned], ReturnReason::Expired);
                Err(Error::HoldExpired { id })
            }
        }
    }

    /// One buyer's hold, read on a pooled connection (no transaction: one `SELECT`).
    pub fn hold(&self, id: HoldId, buyer: &str) -> Result<hold::HoldState> {
        let conn = self.inner.store.conn()?;
        hold::hold_state(&conn, id, buyer)
    }
}
