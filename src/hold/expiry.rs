//! Expiry: holds past their deadline close, once, and their units go back on sale — as
//! far as the stock has room (see [`give_back`]).

use rusqlite::{Connection, params};

use crate::sql::ids;

use super::{Returned, return_stock};
use crate::clock::Millis;
use crate::ids::ProductId;
use crate::sql::Result;

/// The most holds one lazy expiry (inside a reservation) closes: enough for any
/// reservation, and bounded so that 100,000 holds due at once cannot turn one buyer's
/// add-to-cart into a transaction that stalls everyone behind it; the sweeper returns
/// the rest in its own batches.
pub const LAZY_EXPIRY_MAX: i64 = 256;

/// Expires the oldest due holds of one product, at most [`LAZY_EXPIRY_MAX`] (lazy
/// expiry inside a reservation). Each hold expires once: the update is conditional on
/// `status = 'active'`.
pub fn expire_product(conn: &Connection, product: ProductId, now: Millis) -> Result<Vec<Returned>> {
    // Usually nothing is due (a sold-out answer asks every time): a read of the deadline
    // index says so for a fraction of what the bounded update costs (it builds a
    // temporary table for its `IN` list even when the list is empty: 50,000 sold-out
    // answers took 1.7 s instead of 0.6 s).
    let due: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM holds
                            WHERE status = 'active' AND expires_at <= ?1 AND product_id = ?2)",
        )?
        .query_row(params![now, product.0], |r| r.get(0))?;
    if !due {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare_cached(
        "UPDATE holds SET status = 'expired', closed_at = ?1
         WHERE rowid IN (SELECT rowid FROM holds
                         WHERE status = 'active' AND product_id = ?2 AND expires_at <= ?1
                         ORDER BY expires_at LIMIT ?3)
           AND status = 'active'
         RETURNING id, product_id, qty, expires_at",
    )?;
    let mut returned =
        collect_returned(stmt.query(params![now, product.0, LAZY_EXPIRY_MAX])?, now)?;
    give_back(conn, &mut returned)?;
    Ok(returned)
}

/// The sweeper's step: expires at most `limit` due holds, oldest deadline first, and
/// puts their units back. (By rowid: the deadline index holds rowids, so each hold is
/// found without a second search through the id index.) Each hold expires once: the update is conditional on
/// `status = 'active'`, so a checkout or a second sweeper that got there first wins.
pub fn expire_due(conn: &Connection, now: Millis, limit: i64) -> Result<Vec<Returned>> {
    let mut stmt = conn.prepare_cached(
        "UPDATE holds SET status = 'expired', closed_at = ?1
         WHERE rowid IN (SELECT rowid FROM holds WHERE status = 'active' AND expires_at <= ?1
                         ORDER BY expires_at LIMIT ?2)
           AND status = 'active'
         RETURNING id, product_id, qty, expires_at",
    )?;
    let mut returned = collect_returned(stmt.query(params![now, limit])?, now)?;
    give_back(conn, &mut returned)?;
    Ok(returned)
}

fn collect_returned(mut rows: rusqlite::Rows<'_>, now: Millis) -> Result<Vec<Returned>> {
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(Returned {
            hold_id: ids::hold(r, 0)?,
            product_id: ids::product(r, 1)?,
            qty: r.get(2)?,
            short: 0,
            expires_at: r.get(3)?,
            closed_at: now,
        });
    }
    Ok(out)
}

/// Puts the units of holds just closed back on sale, as far as the stock has room.
///
/// After an oversell more units were held than exist: giving them all back would push
/// `stock_available` above `stock_total` (the CHECK refuses, and a sweeper retrying
/// that forever spins). The holds close all the same, exactly once; what does not fit
/// is recorded as the hold's `short`, so the audit still sees the oversell.
pub fn give_back(conn: &Connection, returned: &mut [Returned]) -> Result<()> {
    let mut products: Vec<ProductId> = returned.iter().map(|r| r.product_id).collect();
    products.sort_unstable_by_key(|p| p.0);
    products.dedup();
    for product in products {
        let mut room: i64 = conn
            .prepare_cached("SELECT stock_total - stock_available FROM products WHERE id = ?1")?
            .query_row([product.0], |r| r.get(0))?;
        let mut back = 0;
        for r in returned.iter_mut().filter(|r| r.product_id == product) {
            let fits = r.qty.min(room.max(0));
            room -= fits;
            back += fits;
            r.short = r.qty - fits;
            if r.short > 0 {
                conn.prepare_cached("UPDATE holds SET short = ?2 WHERE id = ?1")?
                    .execute(params![r.hold_id.to_string(), r.short])?;
            }
        }
        if back > 0 {
            return_stock(conn, product, back)?;
        }
    }
    Ok(())
}

/// The earliest deadline among active holds, if any.
pub fn next_deadline(conn: &Connection) -> Result<Option<Millis>> {
    Ok(conn
        .prepare_cached("SELECT min(expires_at) FROM holds WHERE status = 'active'")?
        .query_row([], |r| r.get(0))?)
}
