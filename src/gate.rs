//! The gate: an in-memory count of units that may still be held, in front of the
//! database — the Redis-style fast path that answers "sold out" without touching SQLite.
//!
//! A cache, never the truth. It is rebuilt from the database at every start, winners still
//! go through a real `BEGIN IMMEDIATE` transaction, and whenever the database disagrees
//! the database wins: the gate is corrected downwards when a winner finds no stock, and
//! upwards only after units were really returned (and committed).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use parking_lot::RwLock;

use crate::ids::ProductId;

#[derive(Debug, Default)]
pub struct Gate {
    /// One counter per product; the map only grows (products are never deleted), so the
    /// lock is a read lock on every path but the first sight of a product.
    permits: RwLock<HashMap<ProductId, Arc<AtomicI64>>>,
}

impl Gate {
    /// Sets a product's permits (at start, and after a restock or reset).
    pub fn set(&self, product: ProductId, permits: i64) {
        self.counter(product)
            .store(permits.max(0), Ordering::SeqCst);
    }

    pub fn permits(&self, product: ProductId) -> i64 {
        self.counter(product).load(Ordering::SeqCst)
    }

    /// Takes `qty` permits if there are that many. A CAS loop, not fetch_sub: a failed
    /// attempt never dips the count below zero, so it never turns away a buyer who would
    /// have fitted.
    pub fn try_acquire(&self, product: ProductId, qty: i64) -> Result<(), i64> {
        let counter = self.counter(product);
        let mut current = counter.load(Ordering::Acquire);
        loop {
            if current < qty {
                return Err(current);
            }
            match counter.compare_exchange_weak(
                current,
                current - qty,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(()),
                Err(now) => current = now,
            }
        }
    }

    /// Gives permits back: units returned by a committed release or expiry, or permits of
    /// a winner whose transaction failed for another reason than stock.
    pub fn release(&self, product: ProductId, qty: i64) {
        self.counter(product).fetch_add(qty, Ordering::AcqRel);
    }

    /// The database said only `available` units are left: never promise more than that.
    pub fn clamp(&self, product: ProductId, available: i64) {
        self.counter(product)
            .fetch_min(available.max(0), Ordering::AcqRel);
    }

    fn counter(&self, product: ProductId) -> Arc<AtomicI64> {
        if let Some(c) = self.permits.read().get(&product) {
            return Arc::clone(c);
        }
        Arc::clone(self.permits.write().entry(product).or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_hands_out_more_than_it_has() {
        let gate = Arc::new(Gate::default());
        let p = ProductId(1);
        gate.set(p, 50);
        let won: i64 = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let gate = Arc::clone(&gate);
                    s.spawn(move || {
                        (0..100).filter(|_| gate.try_acquire(p, 1).is_ok()).count() as i64
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(won, 50);
        assert_eq!(gate.permits(p), 0);
        assert_eq!(gate.try_acquire(p, 1), Err(0));
    }

    #[test]
    fn clamp_only_lowers() {
        let gate = Gate::default();
        let p = ProductId(7);
        gate.set(p, 5);
        gate.clamp(p, 9);
        assert_eq!(gate.permits(p), 5);
        gate.clamp(p, 2);
        assert_eq!(gate.permits(p), 2);
        gate.release(p, 1);
        assert_eq!(gate.permits(p), 3);
    }
}
