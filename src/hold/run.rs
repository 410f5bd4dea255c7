//! What one run's buyers hold, and what may still come to a refused buyer: the swarm's
//! reads of the sale, on SQLite.

use rusqlite::{Connection, params};

use crate::ids::ProductId;
use crate::sql::Result;

/// Units of the holds of the buyers whose names start with `prefix`, by status (a range
/// on the buyer column finds them).
pub fn units_by_status(
    conn: &Connection,
    product: ProductId,
    prefix: &str,
) -> Result<Vec<(String, i64)>> {
    let end = format!("{prefix}\u{10FFFF}");
    let mut stmt = conn.prepare_cached(
        "SELECT status, coalesce(sum(qty), 0) FROM holds
         WHERE product_id = ?1 AND buyer >= ?2 AND buyer < ?3 GROUP BY status",
    )?;
    let rows = stmt.query_map(params![product.0, prefix, end], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Units that may still come to a refused buyer: held by anyone (they may expire or be
/// released), plus the available ones when they are enough for one add-to-cart.
pub fn units_in_play(conn: &Connection, product: ProductId, qty: i64) -> Result<i64> {
    // `status IN ('active', 'paid')` spelled so, for the partial index of live holds.
    Ok(conn
        .prepare_cached(
            "SELECT CASE WHEN stock_available >= ?2 THEN stock_available ELSE 0 END
                    + coalesce((SELECT sum(qty) FROM holds WHERE product_id = ?1
                                AND status IN ('active', 'paid') AND status = 'active'), 0)
             FROM products WHERE id = ?1",
        )?
        .query_row(params![product.0, qty], |r| r.get(0))?)
}
