//! PostgreSQL as one implementation of core's storage seam ([`Store`]): every state
//! change in its own transaction on a pooled connection, the strategies as PostgreSQL
//! does them — `immediate` as `SELECT … FOR UPDATE`, `atomic` as one conditional
//! `UPDATE` (each inside one call of a schema function, so the row lock is never held
//! across a round trip), `optimistic` as a version compare-and-set retried with jittered backoff,
//! `naive` in autocommit (the lost update, on purpose) — and the group commit of the
//! queue as one transaction per batch that locks each product once.

use std::time::Duration;

use flashsale_core::store::{Batch, Settled, Store, Take, Taken};
use postgres::Transaction;

use super::PgStore;
use super::hold::{self as pg, Cas, OneCall};
use crate::backoff::Backoff;
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::hold::{self, Checkout, ExtendRules, Hold, HoldKind, HoldState, Order, ProductInfo};
use crate::hold::{MayReturn, Returned, SaleRules, Stock};
use crate::ids::{HoldId, ProductId};
use crate::strategy::Strategy;

/// Compare-and-set rounds before `optimistic` gives up (as on SQLite).
const OPTIMISTIC_RETRIES: u32 = 64;
/// Times a transaction PostgreSQL ended as a deadlock or serialization failure is run
/// again whole.
const BUSY_RETRIES: u32 = 3;

impl PgStore {
    /// `f` on a pooled connection; run again whole (a few times) when PostgreSQL ended
    /// its transaction to break a deadlock.
    fn retried<T>(
        &self,
        mut f: impl FnMut(&mut postgres::Client) -> crate::sql::Result<T>,
    ) -> Result<T> {
        let mut conn = self.conn()?;
        let mut attempt = 0;
        loop {
            match f(&mut conn) {
                Err(crate::sql::SqlError(Error::Busy)) if attempt < BUSY_RETRIES => attempt += 1,
                other => return other.map_err(Error::from),
            }
        }
    }

    /// `f` in one transaction, committed, and [retried](Self::retried).
    fn transact<T>(
        &self,
        mut f: impl FnMut(&mut Transaction<'_>) -> crate::sql::Result<T>,
    ) -> Result<T> {
        self.retried(|conn| {
            let mut tx = conn.transaction()?;
            let value = f(&mut tx)?;
            tx.commit()?;
            Ok(value)
        })
    }

    fn optimistic(&self, take: &Take) -> Result<Taken> {
        let Take {
            product,
            buyer,
            qty,
            now,
            ttl_ms,
        } = take;
        let mut backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(500));
        let mut seen = pg::available(&mut *self.conn()?, product.id)?;
        for attempt in 0..=OPTIMISTIC_RETRIES {
            if attempt > 0 {
                backoff.wait();
            }
            let round = self.transact(|tx| {
                let cas = pg::reserve_cas(tx, product, buyer, *qty, seen, *now, *ttl_ms);
                match cas {
                    Err(crate::sql::SqlError(Error::SoldOut { .. })) => {
                        // Due holds may give units back: expire them, then look again.
                        let returned = pg::expire_product(tx, product.id, *now)?;
                        Ok((None, returned, pg::available(tx, product.id)?))
                    }
                    Err(e) => Err(e),
                    Ok(Cas::Won(hold)) => Ok((Some(hold), Vec::new(), seen)),
                    Ok(Cas::Lost(current)) => Ok((None, Vec::new(), current)),
                }
            })?;
            match round {
                (Some(hold), returned, _) => return Ok(Taken { hold, returned }),
                (None, returned, current) if current.0 < *qty && returned.is_empty() => {
                    return Err(hold::sold_out(product, current.0, *qty));
                }
                (None, _, current) => seen = current,
            }
        }
        Err(Error::Conflict {
            product: product.name.clone(),
            retries: OPTIMISTIC_RETRIES,
        })
    }
}

impl Store for PgStore {
    fn describe(&self) -> String {
        self.shown().to_owned()
    }

    fn rules(&self) -> Result<SaleRules> {
        super::sale::rules(&mut *self.conn()?)?.ok_or_else(|| {
            Error::Usage(format!(
                "{} holds no sale yet; create one with `flashsale init --db {}`",
                self.shown(),
                self.shown()
            ))
        })
    }

    fn set_hold_ttl(&self, ttl_ms: Millis) -> Result<()> {
        self.conn()?.execute(
            "UPDATE sale SET hold_ttl_ms = $1, max_hold_ms = greatest(max_hold_ms, $1) WHERE id = 1",
            &[&ttl_ms],
        ).map_err(crate::sql::SqlError::from)?;
        Ok(())
    }

    fn products(&self) -> Result<Vec<ProductInfo>> {
        Ok(pg::all_products(&mut *self.conn()?)?)
    }

    fn stock(&self) -> Result<Vec<Stock>> {
        Ok(pg::stock(&mut *self.conn()?)?)
    }

    fn reserve(&self, strategy: Strategy, take: &Take) -> Result<Taken> {
        let Take {
            product,
            buyer,
            qty,
            now,
            ttl_ms,
        } = take;
        match strategy {
            Strategy::Naive => {
                let hold = pg::reserve_naive(
                    &mut *self.conn()?,
                    product,
                    buyer,
                    *qty,
                    *now,
                    *ttl_ms,
                    self.race_window,
                )?;
                Ok(Taken {
                    hold,
                    returned: Vec::new(),
                })
            }
            Strategy::Optimistic => self.optimistic(take),
            // `atomic`, `immediate` (and `gate`'s winners): one call in autocommit, its
            // own transaction.
            _ => {
                let way = if strategy == Strategy::Atomic {
                    OneCall::Atomic
                } else {
                    OneCall::Immediate
                };
                self.retried(|conn| {
                    let (hold, returned) =
                        pg::reserve_in_one_call(conn, way, product, buyer, *qty, *now, *ttl_ms)?;
                    Ok(Taken { hold, returned })
                })
            }
        }
    }

    fn reserve_batch(&self, takes: &[Take]) -> Result<Batch> {
        self.transact(|tx| pg::reserve_batch(tx, takes))
    }

    fn pay_first(
        &self,
        product: &ProductInfo,
        cart: &Hold,
        now: Millis,
    ) -> Result<(Settled, Vec<Returned>)> {
        self.transact(|tx| {
            Ok(match pg::pay_first(tx, product, cart, now)? {
                Ok(order) => (Settled::Paid(order), Vec::new()),
                Err(returned) => (Settled::Refunded, returned),
            })
        })
    }

    fn checkout(&self, id: HoldId, buyer: &str, now: Millis) -> Result<Checkout> {
        self.transact(|tx| pg::checkout(tx, id, buyer, now))
    }

    fn release(&self, id: HoldId, buyer: &str, now: Millis) -> Result<Returned> {
        self.transact(|tx| pg::release(tx, id, buyer, now))
    }

    fn extend(&self, id: HoldId, buyer: &str, now: Millis, rules: ExtendRules) -> Result<Hold> {
        self.transact(|tx| pg::extend(tx, id, buyer, now, rules))
    }

    fn order_of(&self, id: HoldId) -> Result<Order> {
        Ok(pg::order_of(&mut *self.conn()?, id)?)
    }

    fn hold(&self, id: HoldId, buyer: &str) -> Result<HoldState> {
        let row = self
            .conn()?
            .query_opt(
                "SELECT product_id, buyer, qty, status, created_at, expires_at, extensions
                 FROM holds WHERE id = $1",
                &[&id.to_string()],
            )
            .map_err(crate::sql::SqlError::from)?
            .ok_or(Error::HoldNotFound { id })?;
        let owner: String = row.get(1);
        if owner != buyer {
            return Err(Error::NotYourHold { id });
        }
        Ok(HoldState {
            hold: Hold {
                id,
                product_id: ProductId(row.get(0)),
                buyer: owner,
                qty: row.get(2),
                created_at: row.get(4),
                expires_at: row.get(5),
                kind: HoldKind::Held,
            },
            status: row.get(3),
            extensions: row.get(6),
        })
    }

    fn expire_due(&self, now: Millis, limit: i64) -> Result<Vec<Returned>> {
        self.transact(|tx| pg::expire_due(tx, now, limit))
    }

    fn next_deadline(&self) -> Result<Option<Millis>> {
        Ok(pg::next_deadline(&mut *self.conn()?)?)
    }

    fn units_by_status(&self, product: ProductId, prefix: &str) -> Result<Vec<(String, i64)>> {
        // A range on the buyer column (`starts_with`, not LIKE: a prefix may hold `%`).
        let rows = self
            .conn()?
            .query(
                "SELECT status, coalesce(sum(qty), 0)::BIGINT FROM holds
                 WHERE product_id = $1 AND starts_with(buyer, $2) GROUP BY status",
                &[&product.0, &prefix],
            )
            .map_err(crate::sql::SqlError::from)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn units_in_play(&self, product: ProductId, qty: i64) -> Result<i64> {
        let row = self
            .conn()?
            .query_one(
                "SELECT CASE WHEN stock_available >= $2 THEN stock_available ELSE 0 END
                        + coalesce((SELECT sum(qty) FROM holds WHERE product_id = $1
                                    AND status = 'active'), 0)::BIGINT
                 FROM products WHERE id = $1",
                &[&product.0, &qty],
            )
            .map_err(crate::sql::SqlError::from)?;
        Ok(row.get(0))
    }

    fn may_return(&self, product: ProductId) -> Result<MayReturn> {
        let r = self
            .conn()?
            .query_one(
                "SELECT count(*), coalesce(sum(qty), 0)::BIGINT, min(expires_at), max(expires_at)
                 FROM holds WHERE product_id = $1 AND status = 'active'",
                &[&product.0],
            )
            .map_err(crate::sql::SqlError::from)?;
        Ok(MayReturn {
            holds: u64::try_from(r.get::<_, i64>(0)).unwrap_or(0),
            units: r.get(1),
            first: r.get(2),
            last: r.get(3),
        })
    }

    fn restock(&self, product: ProductId, available: i64) -> Result<()> {
        self.transact(|tx| pg::restock(tx, product, available))
    }

    fn reset(&self) -> Result<()> {
        self.transact(|tx| {
            tx.batch_execute(
                "LOCK TABLE products IN SHARE ROW EXCLUSIVE MODE;
                 DELETE FROM orders;
                 DELETE FROM refunds;
                 DELETE FROM holds;
                 UPDATE products SET stock_available = stock_total, version = version + 1;",
            )?;
            Ok(())
        })
    }
}
