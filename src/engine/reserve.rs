//! One reservation per strategy. Each says how it keeps two buyers from taking the same
//! unit — or, for `naive`, how it fails to.

use std::sync::atomic::Ordering;

use rusqlite::params;

use super::Engine;
use crate::error::{Error, Result};
use crate::hold::{self, Hold, HoldKind, ProductInfo};
use crate::ids::HoldId;
use crate::strategy::Strategy;

impl Engine {
    pub(super) fn reserve_product(
        &self,
        product: &ProductInfo,
        buyer: &str,
        qty: i64,
    ) -> Result<Hold> {
        match self.strategy() {
            Strategy::Naive => self.reserve_naive(product, buyer, qty),
            Strategy::Immediate => self.reserve_immediate(product, buyer, qty),
            Strategy::Optimistic => self.reserve_optimistic(product, buyer, qty),
            Strategy::Atomic => self.reserve_atomic(product, buyer, qty),
            Strategy::Gate => self.reserve_gated(product, buyer, qty),
            Strategy::Queue => self.queue()?.reserve(product, buyer, qty),
            Strategy::PayFirst => Ok(self.cart(product, buyer, qty)),
        }
    }

    /// UNSAFE on purpose. Autocommit on a pooled connection, no transaction: between the
    /// read and the write another buyer reads the same stock, and both write `stock - 1`.
    fn reserve_naive(&self, product: &ProductInfo, buyer: &str, qty: i64) -> Result<Hold> {
        let conn = self.inner.store.conn()?;
        let now = self.inner.clock.now();
        let (available, _) = hold::available(&conn, product.id)?;
        if available < qty {
            return Err(hold::sold_out(product, available, qty));
        }
        let window = self.inner.config.race_window;
        if !window.is_zero() {
            std::thread::sleep(window);
        }
        conn.prepare_cached(
            "UPDATE products SET stock_available = ?1, version = version + 1 WHERE id = ?2",
        )?
        .execute(params![available - qty, product.id])?;
        hold::insert_hold(&conn, product, buyer, qty, now, self.inner.ttl_ms())
    }

    /// Pessimistic: the write lock is taken before the stock is read.
    fn reserve_immediate(&self, product: &ProductInfo, buyer: &str, qty: i64) -> Result<Hold> {
        let now = self.inner.clock.now();
        let ttl = self.inner.ttl_ms();
        let (hold, returned) =
            self.write(|tx| hold::reserve_locked(tx, product, buyer, qty, now, ttl))?;
        self.inner.returned(returned, super::ReturnReason::Expired);
        Ok(hold)
    }

    /// Optimistic: read without a lock, then write only if nobody changed the row since
    /// (its version is the same); otherwise read again, a bounded number of times.
    fn reserve_optimistic(&self, product: &ProductInfo, buyer: &str, qty: i64) -> Result<Hold> {
        let retries = self.inner.config.optimistic_retries;
        for attempt in 0..=retries {
            if attempt > 0 {
                self.inner.counters.retries.fetch_add(1, Ordering::Relaxed);
            }
            let (available, version) = {
                let conn = self.inner.store.conn()?;
                hold::available(&conn, product.id)?
            };
            if available < qty {
                if self.lazy_expire(product)? {
                    continue;
                }
                return Err(hold::sold_out(product, available, qty));
            }
            let now = self.inner.clock.now();
            let ttl = self.inner.ttl_ms();
            // IMMEDIATE only to make the compare-and-set and the insert one unit; the
            // decision rests on the version check, not on the lock.
            let won = self.write(|tx| {
                let changed = tx
                    .prepare_cached(
                        "UPDATE products SET stock_available = stock_available - ?1, version = version + 1
                         WHERE id = ?2 AND version = ?3 AND stock_available >= ?1",
                    )?
                    .execute(params![qty, product.id, version])?;
                if changed == 0 {
                    return Ok(None);
                }
                hold::check_limit(tx, product, buyer, qty)?;
                hold::insert_hold(tx, product, buyer, qty, now, ttl).map(Some)
            })?;
            match won {
                Some(hold) => return Ok(hold),
                None => {
                    self.inner
                        .counters
                        .conflicts
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Err(Error::Conflict {
            product: product.name.clone(),
            retries,
        })
    }

    /// Atomic: the check and the decrement are one statement, so there is nothing to race.
    fn reserve_atomic(&self, product: &ProductInfo, buyer: &str, qty: i64) -> Result<Hold> {
        let now = self.inner.clock.now();
        let ttl = self.inner.ttl_ms();
        let (hold, returned) = self.write(|tx| {
            let mut returned = Vec::new();
            if !hold::take_stock(tx, product.id, qty)? {
                returned = hold::expire_product(tx, product.id, now)?;
                if returned.is_empty() || !hold::take_stock(tx, product.id, qty)? {
                    let (available, _) = hold::available(tx, product.id)?;
                    return Err(hold::sold_out(product, available, qty));
                }
            }
            hold::check_limit(tx, product, buyer, qty)?;
            Ok((
                hold::insert_hold(tx, product, buyer, qty, now, ttl)?,
                returned,
            ))
        })?;
        self.inner.returned(returned, super::ReturnReason::Expired);
        Ok(hold)
    }

    /// The gate answers losers from memory; its winners take the `immediate` path, so the
    /// database still decides. The gate is corrected by what the database says.
    fn reserve_gated(&self, product: &ProductInfo, buyer: &str, qty: i64) -> Result<Hold> {
        let gate = &self.inner.gate;
        if let Err(permits) = gate.try_acquire(product.id, qty)
            && !(self.inner.due()
                && self.inner.sweep()? > 0
                && gate.try_acquire(product.id, qty).is_ok())
        {
            return Err(hold::sold_out(product, permits, qty));
        }
        match self.reserve_immediate(product, buyer, qty) {
            Ok(hold) => Ok(hold),
            Err(e @ Error::SoldOut { available, .. }) => {
                gate.clamp(product.id, available);
                Err(e)
            }
            Err(e) => {
                gate.release(product.id, qty);
                Err(e)
            }
        }
    }

    /// Pay-first: nothing is claimed at add-to-cart.
    fn cart(&self, product: &ProductInfo, buyer: &str, qty: i64) -> Hold {
        let now = self.inner.clock.now();
        Hold {
            id: HoldId::new(),
            product_id: product.id,
            buyer: buyer.to_owned(),
            qty,
            created_at: now,
            expires_at: now + self.inner.ttl_ms(),
            kind: HoldKind::Cart,
        }
    }

    /// Runs the sweeper now if a hold is known to be due; true if units came back.
    fn lazy_expire(&self, _product: &ProductInfo) -> Result<bool> {
        Ok(self.inner.due() && self.inner.sweep()? > 0)
    }
}
