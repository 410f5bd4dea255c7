//! Pay-first's carts: nothing is written at add-to-cart, so the engine keeps its own (core's `carts`)
//! record of every cart it handed out, and a payment is taken only for a cart that is
//! exactly one of them. A `Hold` has public fields: a caller could otherwise build a
//! "cart" for any buyer, quantity or deadline and have the engine settle it.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{EngineEvent, FileEngine, ReturnReason, group};
use crate::error::{Error, Result};
use crate::hold::{self, Hold, Order};
pub(super) use flashsale_core::carts::{Carts, Claim};

impl FileEngine {
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
