//! One reservation per strategy the file takes itself (the shop builds `gate` and
//! `pay-first` on top). Each says how it keeps two buyers from taking the same unit —
//! or, for `naive`, how it fails to.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use flashsale_core::store::{Take, Taken};

use super::{FileEngine, queue};
use crate::backoff::Backoff;
use crate::error::Error;
use crate::hold::{self, Hold};
use crate::sql::{Result, SqlError};
use crate::strategy::Strategy;

/// What optimistic's compare-and-set came to.
enum Cas<W> {
    Won(W),
    /// Somebody changed the row first: its committed `(stock, version)` now.
    Lost((i64, i64)),
}

/// Where optimistic's pauses after a conflict ([`Backoff`]) start, as a share of the
/// window `contenders × one commit` ([`super::contention`]): they double from a quarter
/// of it to all of it. Random up to that ceiling, so that the buyers who read the same
/// version do not all try again together; no further than the window, since by then
/// every buyer trying has had time to win once, and longer pauses only leave the
/// writer idle (measured: doubling on to 2× or 4× the window sold a third fewer).
const FIRST_SHARE: u32 = 4;

impl FileEngine {
    /// A hold by `strategy`, as the seam's `reserve` takes it.
    pub(super) fn reserve_by(&self, strategy: Strategy, take: &Take) -> Result<Taken> {
        let held = |hold| Taken {
            hold,
            returned: Vec::new(),
        };
        match strategy {
            Strategy::Naive => self.reserve_naive(take).map(held),
            Strategy::Optimistic => self.reserve_optimistic(take),
            Strategy::Atomic => self.reserve_atomic(take),
            Strategy::Queue => queue::reserve(self.inner.funnel()?, take).map(held),
            // `gate`'s winners take the immediate path; the shop keeps the gate (and
            // pay-first's carts, which never reach a store before the payment).
            Strategy::Immediate | Strategy::Gate | Strategy::PayFirst => {
                self.reserve_immediate(take)
            }
        }
    }

    /// UNSAFE on purpose. Autocommit on a pooled connection, no transaction: between the
    /// read and the write another buyer reads the same stock, and both write `stock - 1`.
    fn reserve_naive(&self, take: &Take) -> Result<Hold> {
        let (product, buyer, qty) = (&take.product, take.buyer.as_str(), take.qty);
        let result = (|| -> Result<Hold> {
            let conn = self.inner.store.conn()?;
            crate::engine::arrival::arrived();
            let now = take.now;
            let (available, _) = hold::available(&conn, product.id)?;
            if available < qty {
                return Err(hold::sold_out(product, available, qty).into());
            }
            let window = self.inner.config.race_window;
            if !window.is_zero() {
                std::thread::sleep(window);
            }
            hold::set_stock(&conn, product.id, available - qty)?;
            hold::insert_hold(&conn, product, buyer, qty, now, take.ttl_ms)
        })();
        if matches!(result, Err(SqlError(Error::Busy))) {
            self.inner.counters.busy.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    /// Pessimistic: the write lock is taken before the stock is read. The transaction
    /// runs on the writer thread, in arrival order, one transaction per hold.
    fn reserve_immediate(&self, take: &Take) -> Result<Taken> {
        let t = take.clone();
        self.inner.funnelled(move |tx, _| {
            let (hold, returned) =
                hold::reserve_locked(tx, &t.product, &t.buyer, t.qty, t.now, t.ttl_ms)?;
            Ok(Taken { hold, returned })
        })
    }

    /// Optimistic: read without a lock, then write only if nobody changed the row since
    /// (its version is the same); otherwise try again with what the failed
    /// compare-and-set found — a committed `(stock, version)` as fresh as a new read, the
    /// way `compare_exchange` returns the current value (and DynamoDB can return the
    /// item on a failed condition) — a bounded number of times. After a conflict a buyer
    /// waits a random, growing moment first, as optimistic clients do: without it ten
    /// thousand buyers who saw the same version all fail together, every round.
    fn reserve_optimistic(&self, take: &Take) -> Result<Taken> {
        let (product, qty) = (&take.product, take.qty);
        let retries = self.inner.config.optimistic_retries;
        let contention = &self.inner.contention;
        let _trying = contention.enter();
        // Its bounds are measured before each pause.
        let mut backoff = Backoff::new(Duration::ZERO, Duration::ZERO);
        // The read: no lock, a committed state (coalesced with the reads of other buyers
        // waiting at the same moment, see `reader.rs`).
        let mut seen = self.inner.reader()?.stock(product.id)?;
        for attempt in 0..=retries {
            if attempt > 0 {
                self.inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                // Measured now: the crowd thins out as the stock runs low.
                let window = contention.window();
                backoff.set_bounds(window / FIRST_SHARE, window);
                backoff.wait();
                // What the lost compare-and-set found is old after the pause: read again
                // (a coalesced read, which the writer never sees), or the next try is
                // a conflict already decided.
                seen = self.inner.reader()?.stock(product.id)?;
            }
            let (available, version) = seen;
            if available < qty {
                // No lazy expiry here: that would be a write transaction per sold-out
                // answer. The shop sweeps first when it knows a hold is due, and asks
                // again.
                return Err(hold::sold_out(product, available, qty).into());
            }
            match self.compare_and_set(take, version)? {
                Cas::Won(hold) => {
                    return Ok(Taken {
                        hold,
                        returned: Vec::new(),
                    });
                }
                Cas::Lost(current) => {
                    self.inner
                        .counters
                        .conflicts
                        .fetch_add(1, Ordering::Relaxed);
                    seen = current;
                }
            }
        }
        Err(Error::Conflict {
            product: product.name.clone(),
            retries,
        }
        .into())
    }

    /// Optimistic's write, on the writer thread: take the units only if the version is
    /// still `version`. IMMEDIATE only to make the compare-and-set and the insert one
    /// unit; the decision rests on the version check, not on the lock.
    fn compare_and_set(&self, take: &Take, version: i64) -> Result<Cas<Hold>> {
        let t = take.clone();
        let (id, qty) = (t.product.id, t.qty);
        self.inner.alone(false, move |conn, inner| {
            // A newer version was committed here already: the compare-and-set cannot
            // succeed, and needs no transaction to say so. (Versions only go up.)
            let known = inner.versions.lock().get(&id).copied();
            let result = match known {
                Some(current) if current.1 > version => Ok(Cas::Lost(current)),
                _ => {
                    let began = Instant::now();
                    let result = inner.transact(conn, |tx| {
                        let after = hold::take_stock_at(tx, id, qty, version)?;
                        let Some(after) = after else {
                            return Ok(Cas::Lost(hold::available(tx, id)?));
                        };
                        hold::check_limit(tx, &t.product, &t.buyer, qty)?;
                        let hold =
                            hold::insert_hold(tx, &t.product, &t.buyer, qty, t.now, t.ttl_ms)?;
                        Ok(Cas::Won((hold, after)))
                    });
                    // A won compare-and-set is the commit every buyer trying waits
                    // for: its time paces their backoff.
                    if matches!(result, Ok(Cas::Won(_))) {
                        inner.contention.committed(began.elapsed());
                    }
                    result
                }
            };
            // Remember the newest committed version seen (only once committed: a
            // version that did not land would turn every later attempt away).
            let committed = match &result {
                Ok(Cas::Won((_, after))) => Some(*after),
                Ok(Cas::Lost(current)) => Some(*current),
                Err(_) => None,
            };
            if let Some(state) = committed {
                let mut versions = inner.versions.lock();
                let entry = versions.entry(id).or_insert(state);
                if state.1 > entry.1 {
                    *entry = state;
                }
            }
            result.map(|cas| match cas {
                Cas::Won((hold, _)) => Cas::Won(hold),
                Cas::Lost(current) => Cas::Lost(current),
            })
        })
    }

    /// Atomic: the check and the decrement are one statement, so there is nothing to race.
    fn reserve_atomic(&self, take: &Take) -> Result<Taken> {
        let t = take.clone();
        self.inner.funnelled(move |tx, _| {
            let (product, qty) = (&t.product, t.qty);
            let mut returned = Vec::new();
            if !hold::take_stock(tx, product.id, qty)? {
                returned = hold::expire_product(tx, product.id, t.now)?;
                if returned.is_empty() || !hold::take_stock(tx, product.id, qty)? {
                    let (available, _) = hold::available(tx, product.id)?;
                    return Err(hold::sold_out(product, available, qty).into());
                }
            }
            hold::check_limit(tx, product, &t.buyer, qty)?;
            let hold = hold::insert_hold(tx, product, &t.buyer, qty, t.now, t.ttl_ms)?;
            Ok(Taken { hold, returned })
        })
    }
}
