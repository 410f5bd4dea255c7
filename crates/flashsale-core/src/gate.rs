//! The gate: a count of units that may still be held, in front of the database — the
//! fast path that answers "sold out" without touching it. [`Gate`] is the seam; the
//! in-process counter ([`LocalGate`]) and Redis (in the binary package, shared by every
//! process selling the same stock) are its two implementations.
//!
//! A cache, never the truth. It is rebuilt from the database at every start, winners still
//! go through a real `BEGIN IMMEDIATE` transaction, and whenever the database disagrees
//! the database wins: the gate is corrected downwards when a winner finds no stock, and
//! upwards only after units were really returned (and committed).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;

use crate::error::Result;
use crate::ids::{HoldId, ProductId};
use crate::model::Hold;

/// The gate's own store cannot be reached, or its URL is wrong.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("The Redis gate at {url} does not answer ({why}); start Redis, or run without --gate")]
    Unavailable { url: String, why: String },
    #[error("{url} is not a Redis URL ({why}); write it like redis://127.0.0.1:6379")]
    BadUrl { url: String, why: String },
}

/// What the gate said to one buyer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// A permit was taken: go and ask the database.
    Granted,
    /// Fewer permits than asked for: sold out, with what is left.
    SoldOut { permits: i64 },
    /// The gate holds no count (a Redis flushed or restarted empty): rebuild it from
    /// the database before answering anyone.
    Lost,
}

/// The gate seam. Every method but [`Gate::try_acquire`] and [`Gate::rebuild`] only
/// corrects a cache: when it cannot reach its store it says so in the log and goes on,
/// since the database decides every hold and the next rebuild puts the count right.
pub trait Gate: Send + Sync {
    /// Takes `qty` permits if there are that many; a sold-out answer writes nothing.
    fn try_acquire(&self, product: ProductId, qty: i64) -> Result<Admit>;
    /// The database granted `hold` to a buyer the gate let through.
    fn held(&self, _hold: &Hold) {}
    /// Gives permits back: units returned by a committed release or expiry, or the
    /// permit of a winner the database turned away for another reason than stock.
    fn release(&self, product: ProductId, qty: i64);
    /// Holds that closed (their units are given back through [`Gate::release`]).
    fn forget(&self, _holds: &[HoldId]) {}
    /// The database said only `available` units are left: never promise more.
    fn clamp(&self, product: ProductId, available: i64);
    /// Every product's count from the database's `stock_available`.
    fn rebuild(&self, available: &[(ProductId, i64)]) -> Result<()>;
    /// A product's permits now (`None` when the gate holds no count).
    fn permits(&self, product: ProductId) -> Option<i64>;
    /// Where the count lives, for headers and reports: `in process`, `redis://…`.
    fn describe(&self) -> String;
}

/// Products with an id below this have their counter in a fixed slot: found with one
/// load, no lock and no reference count. (Through a lock and a shared `Arc`, every
/// decision wrote to two cache lines all threads share, and two cores took turns: the
/// bench's sold-out probe ran at 8 million answers/s.) Others use the map.
const SLOTS: usize = 1024;

/// The in-process gate: one atomic counter per product.
#[derive(Debug)]
pub struct LocalGate {
    /// `slots[id]`: set the first time the product is seen, never replaced.
    slots: Box<[OnceLock<AtomicI64>]>,
    /// One counter per product beyond the slots; the map only grows (products are never
    /// deleted), so the lock is a read lock on every path but the first sight of one.
    permits: RwLock<HashMap<ProductId, Arc<AtomicI64>>>,
}

impl Default for LocalGate {
    fn default() -> Self {
        LocalGate {
            slots: (0..SLOTS).map(|_| OnceLock::new()).collect(),
            permits: RwLock::default(),
        }
    }
}

impl LocalGate {
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

impl Gate for LocalGate {
    fn try_acquire(&self, product: ProductId, qty: i64) -> Result<Admit> {
        Ok(match LocalGate::try_acquire(self, product, qty) {
            Ok(()) => Admit::Granted,
            Err(permits) => Admit::SoldOut { permits },
        })
    }

    fn release(&self, product: ProductId, qty: i64) {
        LocalGate::release(self, product, qty);
    }

    fn clamp(&self, product: ProductId, available: i64) {
        LocalGate::clamp(self, product, available);
    }

    fn rebuild(&self, available: &[(ProductId, i64)]) -> Result<()> {
        for (product, permits) in available {
            self.set(*product, *permits);
        }
        Ok(())
    }

    fn permits(&self, product: ProductId) -> Option<i64> {
        Some(LocalGate::permits(self, product))
    }

    fn describe(&self) -> String {
        "in process".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_hands_out_more_than_it_has() {
        let gate = Arc::new(LocalGate::default());
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
        let gate = LocalGate::default();
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
        let gate = LocalGate::default();
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
