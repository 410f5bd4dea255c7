//! `immediate` on PostgreSQL: the product row is locked (`SELECT … FOR UPDATE`) before
//! its stock is read, so the read, the check and the write are one step for every other
//! buyer of the product. Every one of them waits for that lock, so what bounds the
//! strategy is how long it is held: the reservation is one call of the schema's
//! `flashsale_hold_locked` in autocommit (`immediate.sql`), which holds the lock from its
//! SELECT to the end of its COMMIT with no round trip to the client in between. Only a
//! buyer who finds the stock short while expired holds wait to give units back takes
//! the longer way, a transaction of several statements that expires them first.

use postgres::GenericClient;

use super::{INT8, expire_product, new_hold, with_hold_row, write_hold};
use crate::clock::Millis;
use crate::hold::{self, Hold, ProductInfo, Returned};
use crate::sql::Result;

/// `immediate`, on a connection in autocommit (or inside a caller's transaction, where
/// the call is one more statement of it): the hold, and the holds a lazy expiry closed
/// to make room for it.
pub fn reserve_immediate(
    c: &mut impl GenericClient,
    product: &ProductInfo,
    buyer: &str,
    qty: i64,
    now: Millis,
    ttl_ms: Millis,
) -> Result<(Hold, Vec<Returned>)> {
    let hold = new_hold(product, buyer, qty, now, ttl_ms)?;
    let row = with_hold_row(&hold, product, |params| {
        c.query_typed_one(
            "SELECT live, available, due FROM flashsale_hold_locked($1, $2, $3, $4, $5, $6)",
            params,
        )
    })?;
    let (live, available, due): (i64, Option<i64>, Option<bool>) =
        (row.get(0), row.get(1), row.get(2));
    match available {
        None => Err(hold::limit_reached(product, buyer, live, qty).into()),
        Some(available) if available >= qty => Ok((hold, Vec::new())),
        Some(available) if due != Some(true) => Err(hold::sold_out(product, available, qty).into()),
        Some(_) => {
            let mut tx = c.transaction()?;
            let taken = reserve_locked(&mut tx, product, buyer, qty, now, ttl_ms)?;
            tx.commit()?;
            Ok(taken)
        }
    }
}

/// `immediate` as statements inside the caller's transaction, expiring the product's
/// due holds under the lock when its stock is short.
pub fn reserve_locked(
    c: &mut impl GenericClient,
    product: &ProductInfo,
    buyer: &str,
    qty: i64,
    now: Millis,
    ttl_ms: Millis,
) -> Result<(Hold, Vec<Returned>)> {
    // The buyer's limit is read before the row lock, not under it: the lock is what
    // every buyer of the product waits for, and the schema's trigger checks the limit
    // again under it (a racing hold of the same buyer is refused there, as the same
    // `LimitReached`).
    super::check_limit(c, product, buyer, qty)?;
    let mut available: i64 = c
        .query_typed_one(
            "SELECT stock_available FROM products WHERE id = $1 FOR UPDATE",
            &[(&product.id.0, INT8)],
        )?
        .get(0);
    let mut returned = Vec::new();
    if available < qty {
        returned = expire_product(c, product.id, now)?;
        available = super::available(c, product.id)?.0;
        if available < qty {
            return Err(hold::sold_out(product, available, qty).into());
        }
    }
    match take_and_insert(c, product, buyer, qty, now, ttl_ms)? {
        Some(hold) => Ok((hold, returned)),
        None => Err(hold::sold_out(product, available, qty).into()),
    }
}

/// The decrement and the hold in one statement (one round trip under the row lock):
/// the hold row is inserted only if the conditional update took the units. `None`
/// when it did not.
fn take_and_insert(
    c: &mut impl GenericClient,
    product: &ProductInfo,
    buyer: &str,
    qty: i64,
    now: Millis,
    ttl_ms: Millis,
) -> Result<Option<Hold>> {
    let hold = new_hold(product, buyer, qty, now, ttl_ms)?;
    let inserted = write_hold(
        c,
        "WITH taken AS (
             UPDATE products SET stock_available = stock_available - $4, version = version + 1
             WHERE id = $2 AND stock_available >= $4
             RETURNING id)
         INSERT INTO holds (id, product_id, buyer, qty, status, created_at, expires_at)
         SELECT $1, id, $3, $4, 'active', $5, $6 FROM taken",
        &hold,
        product,
    )?;
    Ok((inserted == 1).then_some(hold))
}
