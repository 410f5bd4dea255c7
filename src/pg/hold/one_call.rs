//! `immediate` and `atomic` on PostgreSQL as one call of the schema's `flashsale_hold`
//! (`reserve.sql`) in autocommit. Every buyer of a product waits for its row's lock,
//! so what bounds both strategies is how long that lock is held: in one call it is held
//! from the locking statement to the end of the COMMIT with no round trip to the client
//! in between. `immediate` locks the row with `SELECT … FOR UPDATE` before it reads the
//! stock; `atomic` takes the units with one conditional `UPDATE`. Only a buyer who finds
//! the stock short while expired holds wait to give units back takes the longer way: a
//! transaction of several statements that expires them first ([`reserve_locked`],
//! [`super::reserve_atomic`]).

use postgres::GenericClient;
use postgres::types::Type;

use super::{INT8, expire_product, new_hold, with_hold_row, write_hold};
use crate::clock::Millis;
use crate::hold::{self, Hold, ProductInfo, Returned};
use crate::sql::Result;

/// Which strategy the one call is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OneCall {
    /// `SELECT … FOR UPDATE` first, then the check and the decrement.
    Immediate,
    /// One conditional `UPDATE … WHERE stock_available >= qty`.
    Atomic,
}

/// A reservation on a connection in autocommit (or inside a caller's transaction, where
/// the call is one more statement of it): the hold, and the holds a lazy expiry closed
/// to make room for it.
pub fn reserve_in_one_call(
    c: &mut impl GenericClient,
    way: OneCall,
    product: &ProductInfo,
    buyer: &str,
    qty: i64,
    now: Millis,
    ttl_ms: Millis,
) -> Result<(Hold, Vec<Returned>)> {
    let hold = new_hold(product, buyer, qty, now, ttl_ms)?;
    let lock_first = way == OneCall::Immediate;
    let row = with_hold_row(&hold, product, |params| {
        let mut params = params.to_vec();
        params.push((&lock_first, Type::BOOL));
        c.query_typed_one(
            "SELECT live, available, due FROM flashsale_hold($1, $2, $3, $4, $5, $6, $7)",
            &params,
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
            let taken = match way {
                OneCall::Immediate => reserve_locked(&mut tx, product, buyer, qty, now, ttl_ms)?,
                OneCall::Atomic => {
                    super::reserve_atomic(&mut tx, product, buyer, qty, now, ttl_ms)?
                }
            };
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
