//! Pay-first's carts: nothing is written at add-to-cart, so the engine keeps its own
//! record of every cart it handed out, and a payment is taken only for a cart that is
//! exactly one of them. A `Hold` has public fields: a caller could otherwise build a
//! "cart" for any buyer, quantity or deadline and have the engine settle it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use parking_lot::Mutex;

use super::{Engine, EngineEvent, ReturnReason, group};
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::hold::{self, Hold, Order};
use crate::ids::HoldId;

/// Carts kept before the first sweep of abandoned ones.
const FIRST_PRUNE: usize = 65_536;

#[derive(Default)]
pub(super) struct Carts {
    /// The carts handed out and not yet paid, refunded or cancelled; and the size at
    /// which expired ones are dropped next (doubling, so pruning stays cheap).
    inner: Mutex<(HashMap<HoldId, Hold>, usize)>,
}

/// What the record says about a cart someone wants to pay.
pub(super) enum Claim {
    /// One of ours, as handed out: taken off the record (put it back if the payment
    /// fails for a reason that may pass).
    Issued,
    /// A cart with this id was handed out, but not this one (another buyer, quantity or
    /// deadline).
    Forged,
    /// Not on the record: never handed out, or already paid or refunded.
    Unknown,
}

impl Carts {
    pub(super) fn issue(&self, cart: &Hold, now: Millis) {
        let mut guard = self.inner.lock();
        let (carts, next_prune) = &mut *guard;
        if carts.len() >= (*next_prune).max(FIRST_PRUNE) {
            // Abandoned carts: their deadline passed, nobody can pay them any more.
            carts.retain(|_, c| c.expires_at > now);
            *next_prune = (carts.len() * 2).max(FIRST_PRUNE);
        }
        carts.insert(cart.id, cart.clone());
    }

    pub(super) fn claim(&self, cart: &Hold) -> Claim {
        let mut guard = self.inner.lock();
        match guard.0.get(&cart.id) {
            Some(issued) if issued == cart => {
                guard.0.remove(&cart.id);
                Claim::Issued
            }
            Some(_) => Claim::Forged,
            None => Claim::Unknown,
        }
    }

    /// Puts back a cart whose payment did not go through for a passing reason.
    pub(super) fn restore(&self, cart: &Hold) {
        self.inner.lock().0.insert(cart.id, cart.clone());
    }

    /// A cancelled cart: off the record.
    pub(super) fn cancel(&self, cart: &Hold) {
        let mut guard = self.inner.lock();
        if guard.0.get(&cart.id) == Some(cart) {
            guard.0.remove(&cart.id);
        }
    }
}

impl Engine {
    pub(super) fn pay_first(&self, cart: &Hold) -> Result<Order> {
        match self.inner.carts.claim(cart) {
            Claim::Issued => {}
            Claim::Forged => return Err(Error::NotYourHold { id: cart.id }),
            // Paid before (a retried payment): the same order again, to its buyer only.
            Claim::Unknown => {
                let conn = self.inner.store.conn()?;
                return match hold::order_of(&conn, cart.id) {
                    Ok(order) if order.buyer == cart.buyer => Ok(order),
                    Ok(_) => Err(Error::NotYourHold { id: cart.id }),
                    Err(e) => Err(e.into()),
                };
            }
        }
        let result = self.settle_cart(cart);
        if matches!(&result, Err(e) if e.is_fault() || matches!(e, Error::Busy)) {
            self.inner.carts.restore(cart);
        }
        result
    }

    /// Settles a cart taken off the record: the payment claims stock or is refunded.
    fn settle_cart(&self, cart: &Hold) -> Result<Order> {
        let now = self.inner.clock.now();
        if now >= cart.expires_at {
            return Err(Error::HoldExpired { id: cart.id });
        }
        // (`now` above only turns away carts already too old; the payment is stamped
        // when the writer settles it.)
        let product = self.product_by_id(cart.product_id)?;
        // Settled by the writer thread in the group commit of what is queued beside it,
        // stamped when it is settled. It takes stock: the grants beside it are written
        // first.
        let settled = {
            let (product, cart) = (Arc::clone(&product), cart.clone());
            let buyer = cart.buyer.clone();
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
}
