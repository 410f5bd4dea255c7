//! Pay-first's carts: nothing is written at add-to-cart, so the shop keeps its own
//! record of every cart it handed out, and a payment is taken only for a cart that is
//! exactly one of them. A `Hold` has public fields: a caller could otherwise build a
//! "cart" for any buyer, quantity or deadline and have the shop settle it.

use std::collections::HashMap;

use parking_lot::Mutex;

use crate::clock::Millis;
use crate::ids::HoldId;
use crate::model::Hold;

/// Carts kept before the first sweep of abandoned ones.
const FIRST_PRUNE: usize = 65_536;

#[derive(Default)]
pub struct Carts {
    /// The carts handed out and not yet paid, refunded or cancelled; and the size at
    /// which expired ones are dropped next (doubling, so pruning stays cheap).
    inner: Mutex<(HashMap<HoldId, Hold>, usize)>,
}

/// What the record says about a cart someone wants to pay.
pub enum Claim {
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
    pub fn issue(&self, cart: &Hold, now: Millis) {
        let mut guard = self.inner.lock();
        let (carts, next_prune) = &mut *guard;
        if carts.len() >= (*next_prune).max(FIRST_PRUNE) {
            // Abandoned carts: their deadline passed, nobody can pay them any more.
            carts.retain(|_, c| c.expires_at > now);
            *next_prune = (carts.len() * 2).max(FIRST_PRUNE);
        }
        carts.insert(cart.id, cart.clone());
    }

    pub fn claim(&self, cart: &Hold) -> Claim {
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
    pub fn restore(&self, cart: &Hold) {
        self.inner.lock().0.insert(cart.id, cart.clone());
    }

    /// A cancelled cart: off the record.
    pub fn cancel(&self, cart: &Hold) {
        let mut guard = self.inner.lock();
        if guard.0.get(&cart.id) == Some(cart) {
            guard.0.remove(&cart.id);
        }
    }
}
