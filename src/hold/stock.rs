//! A product's stock: read with its holds summed, and restocked.

use rusqlite::{Connection, params};

use super::{Stock, restocked_total};
use crate::sql::ids;

use crate::ids::ProductId;
use crate::sql::Result;

/// Stock of every product, with held and sold summed from the holds (one read).
///
/// Both sums go through the index of live holds (`status IN ('active', 'paid')`, which
/// must be spelled exactly so for SQLite to use that partial index): they read the
/// product's live holds only — never more than its stock — and not every hold ever
/// taken. (`status = 'paid'` alone scanned the whole table: with a million expired
/// holds, every read of the console's dashboard did.)
pub fn stock(conn: &Connection) -> Result<Vec<Stock>> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.id, p.sku, p.name, p.stock_total, p.stock_available, p.version,
                coalesce((SELECT sum(qty) FROM holds h WHERE h.product_id = p.id
                          AND h.status IN ('active', 'paid') AND h.status = 'active'), 0),
                coalesce((SELECT sum(qty) FROM holds h WHERE h.product_id = p.id
                          AND h.status IN ('active', 'paid') AND h.status = 'paid'), 0),
                coalesce((SELECT sum(short) FROM holds h WHERE h.product_id = p.id
                          AND h.short > 0), 0)
         FROM products p ORDER BY p.id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Stock {
            product_id: ids::product(r, 0)?,
            sku: r.get(1)?,
            name: r.get(2)?,
            total: r.get(3)?,
            available: r.get(4)?,
            version: r.get(5)?,
            held: r.get(6)?,
            sold: r.get(7)?,
            short: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Sets a product's available units to `available`, moving `stock_total` by the same
/// amount: units come in or go out, and that is all. An oversell is not folded into the
/// total (that would rewrite history: the audit would pass again and the inflated total
/// would go back on sale); only a reset clears it. Inside an `IMMEDIATE` transaction (it
/// reads, then writes).
pub fn restock(conn: &Connection, product: ProductId, available: i64) -> Result<()> {
    let (total, current): (i64, i64) = conn
        .prepare_cached("SELECT stock_total, stock_available FROM products WHERE id = ?1")?
        .query_row([product.0], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let total = restocked_total(total, current, available)?;
    conn.prepare_cached(
        "UPDATE products SET stock_available = ?2, stock_total = ?3, version = version + 1
         WHERE id = ?1",
    )?
    .execute(params![product.0, available, total])?;
    Ok(())
}
