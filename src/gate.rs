//! The gate: an in-memory count of units that may still be held, in front of the
//! database — the Redis-style fast path that answers "sold out" without touching SQLite.
//!
//! A cache, never the truth. It is rebuilt from the database at every start, winners still
//! go through a real `BEGIN IMMEDIATE` transaction, and whenever the database disagrees
//! the database wins: the gate is corrected downwards when a winner finds no stock, and
//! upwards only after units were really returned (and committed).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;

use crate::ids::ProductId;

pub mod redis;

/// Products with an id below this have their counter in a fixed slot: found with one
/// load, no lock and no reference count. (Through a lock and a shared `Arc`, every
/// decision wrote to two cache lines all threads share, and two cores took turns: the
/// bench's sold-out probe ran at 8 million answers/s.) Others use the map.
const SLOTS: usize = 1024;

#[derive(Debug)]
pub struct Gate {
    /// `slots[id]`: set the first time the product is seen, never replaced.
    slots: Box<[OnceLock<AtomicI64>]>,
    /// One counter per product beyond the slots; the map only grows (products are never
    /// deleted), so the lock is a read lock on every path but the first sight of one.
    permits: RwLock<HashMap<ProductId, Arc<AtomicI64>>>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            slots: (0..SLOTS).map(|_| OnceLock::new()).collect(),
            permits: RwLock::default(),
        }
    }
}

impl Gate {
    /// Sets a product's permits (at start, and after a restock or reset).
    pub fn set(&self, product: ProductId, permits: i64) {
        self.with(product, |c| c.store(permits.max(0), Ordering::SeqCst));
    }

    pub fn permits(&self, product: ProductId) -> i64 {
        self.with(product, |c| c.load(Ordering::SeqCst))
    }

    /// Takes `qty` permits if there are that many. A CAS loop, not fetch_sub: a failed
    /// attempt never dips the count below zero, so it never turns away a buyer who would
    /// have fitted. A sold-out answer only reads the counter: no write, so it is served
    /// from each core's own cache.
    pub fn try_acquire(&self, product: ProductId, qty: i64) -> Result<(), i64> {
        self.with(product, |counter| {
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
        })
    }

    /// Gives permits back: units returned by a committed release or expiry, or permits of
    /// a winner whose transaction failed for another reason than stock.
    pub fn release(&self, product: ProductId, qty: i64) {
        self.with(product, |c| c.fetch_add(qty, Ordering::AcqRel));
    }

    /// The database said only `available` units are left: never promise more than that.
    pub fn clamp(&self, product: ProductId, available: i64) {
        self.with(product, |c| c.fetch_min(available.max(0), Ordering::AcqRel));
    }

    /// Runs `f` on the product's counter (created at zero on first sight).
    fn with<T>(&self, product: ProductId, f: impl FnOnce(&AtomicI64) -> T) -> T {
        if let Some(slot) = usize::try_from(product.0)
            .ok()
            .and_then(|i| self.slots.get(i))
        {
            return f(slot.get_or_init(AtomicI64::default));
        }
        if let Some(c) = self.permits.read().get(&product) {
            return f(c);
        }
        let counter = Arc::clone(self.permits.write().entry(product).or_default());
        f(&counter)
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
    fn ids_past_the_slots_count_the_same() {
        let gate = Gate::default();
        for p in [ProductId(3), ProductId(5000), ProductId(-2)] {
            gate.set(p, 2);
            assert_eq!(gate.try_acquire(p, 1), Ok(()));
            assert_eq!(gate.try_acquire(p, 2), Err(1));
            gate.release(p, 1);
            assert_eq!(gate.permits(p), 2);
        }
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
