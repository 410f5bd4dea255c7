//! A buyer's changes to a hold: pay (or settle a pay-first cart), release, extend. Each
//! joins the writer's group commit in a savepoint of its own (`group.rs`): thousands of
//! payments share fsyncs instead of each taking one, and add-to-carts do not queue
//! behind them.

use super::{EngineEvent, FileEngine, Paid, ReturnReason, group};
use crate::error::{Error, Result};
use crate::hold::{self, Checkout, ExtendRules, Hold, HoldKind, Order};
use crate::ids::HoldId;

impl FileEngine {
    /// Pays a hold (or, for pay-first, a cart). Idempotent for the hold's own buyer.
    pub fn checkout(&self, hold: &Hold) -> Result<Order> {
        match hold.kind {
            HoldKind::Held => self.checkout_id(hold.id, &hold.buyer),
            HoldKind::Cart => self.pay_first(hold),
        }
    }

    pub fn checkout_id(&self, id: HoldId, buyer: &str) -> Result<Order> {
        self.pay(id, buyer).map(Paid::into_order)
    }

    /// Pays a hold, telling a new order from a retried payment's old one (the HTTP API
    /// answers 201 for the first and 200 for a repeat).
    pub fn pay(&self, id: HoldId, buyer: &str) -> Result<Paid> {
        let now = self.inner.clock.now();
        // A payment touches only its own hold; one that finds it expired gives its
        // units back and frees its buyer's limit.
        let expired = group::Touches::When(|c: &Checkout| matches!(c, Checkout::Expired(_)));
        let owner = buyer.to_owned();
        match self.inner.grouped(buyer, expired, move |tx, _| {
            hold::checkout(tx, id, &owner, now)
        })? {
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

    /// Cancels a hold: its units go back on sale at once.
    pub fn release(&self, hold: &Hold) -> Result<()> {
        match hold.kind {
            HoldKind::Held => self.release_id(hold.id, &hold.buyer),
            HoldKind::Cart => {
                self.inner.carts.cancel(hold);
                Ok(())
            }
        }
    }

    pub fn release_id(&self, id: HoldId, buyer: &str) -> Result<()> {
        let now = self.inner.clock.now();
        let owner = buyer.to_owned();
        let returned =
            self.inner
                .grouped(buyer, group::Touches::When(|_| true), move |tx, _| {
                    hold::release(tx, id, &owner, now)
                })?;
        self.inner.returned(vec![returned], ReturnReason::Released);
        Ok(())
    }

    /// Activity on a hold pushes its deadline out, within the sale's caps.
    pub fn extend(&self, id: HoldId, buyer: &str) -> Result<Hold> {
        let now = self.inner.clock.now();
        let rules = {
            let r = self.inner.rules.read();
            ExtendRules {
                ttl_ms: self.inner.clock.scaled(r.hold_ttl),
                max_extensions: r.max_extensions,
                max_hold_ms: self.inner.clock.scaled(r.max_hold),
            }
        };
        let owner = buyer.to_owned();
        Ok(self
            .inner
            .grouped(buyer, group::Touches::When(|_| false), move |tx, _| {
                hold::extend(tx, id, &owner, now, rules)
            })?)
    }
}
