//! A buyer's changes to a hold: pay (or settle a pay-first cart), release, extend. Each
//! joins the writer's group commit in a savepoint of its own (`group.rs`): thousands of
//! payments share fsyncs instead of each taking one, and add-to-carts do not queue
//! behind them.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Engine, EngineEvent, ReturnReason, group};
use crate::error::{Error, Result};
use crate::hold::{self, Checkout, ExtendRules, Hold, HoldKind, Order, ProductInfo};
use crate::ids::{HoldId, ProductId};

impl Engine {
    /// Pays a hold (or, for pay-first, a cart). Idempotent for the hold's own buyer.
    pub fn checkout(&self, hold: &Hold) -> Result<Order> {
        match hold.kind {
            HoldKind::Held => self.checkout_id(hold.id, &hold.buyer),
            HoldKind::Cart => self.pay_first(hold),
        }
    }

    pub fn checkout_id(&self, id: HoldId, buyer: &str) -> Result<Order> {
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
                Ok(order)
            }
            Checkout::AlreadyPaid(order) => Ok(order),
            Checkout::Expired(returned) => {
                self.inner.returned(vec![returned], ReturnReason::Expired);
                Err(Error::HoldExpired { id })
            }
        }
    }

    fn pay_first(&self, cart: &Hold) -> Result<Order> {
        let now = self.inner.clock.now();
        if now >= cart.expires_at {
            return Err(Error::HoldExpired { id: cart.id });
        }
        // (`now` above only turns away carts already too old; the payment is stamped
        // when the writer settles it.)
        let product = self.product_by_id(cart.product_id)?;
        // Settled by the writer thread in the group commit of what is queued beside it,
        // stamped when it is settled.
        let settled = {
            let (product, cart) = (Arc::clone(&product), cart.clone());
            let buyer = cart.buyer.clone();
            // It takes stock: the grants beside it are written first.
            self.inner
                .grouped(&buyer, group::Touches::Stock, move |tx, inner| {
                    hold::pay_first(tx, &product, &cart, inner.clock.now())
                })?
        };
        match settled {
            Ok(order) => {
                self.inner
                    .events
                    .publish(|| EngineEvent::Paid(order.clone()));
                Ok(order)
            }
            Err(returned) => {
                self.inner.returned(returned, ReturnReason::Expired);
                self.inner.counters.refunds.fetch_add(1, Ordering::Relaxed);
                self.inner.events.publish(|| EngineEvent::Refunded {
                    product_id: cart.product_id,
                    buyer: cart.buyer.clone(),
                    qty: cart.qty,
                });
                Err(Error::Refunded {
                    product: product.name.clone(),
                })
            }
        }
    }

    fn product_by_id(&self, id: ProductId) -> Result<Arc<ProductInfo>> {
        let found = self
            .inner
            .catalog
            .read()
            .values()
            .find(|p| p.id == id)
            .cloned();
        match found {
            Some(p) => Ok(p),
            None => Err(Error::UnknownSku {
                sku: format!("#{}", id.0),
                known: String::new(),
            }),
        }
    }

    /// Cancels a hold: its units go back on sale at once.
    pub fn release(&self, hold: &Hold) -> Result<()> {
        match hold.kind {
            HoldKind::Held => self.release_id(hold.id, &hold.buyer),
            HoldKind::Cart => Ok(()),
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
        self.inner
            .grouped(buyer, group::Touches::When(|_| false), move |tx, _| {
                hold::extend(tx, id, &owner, now, rules)
            })
    }
}
