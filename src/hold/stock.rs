//! A product's stock: read with its holds summed, and restocked.

use rusqlite::{Connection, params};

use crate::error::{Error, Result};
use crate::ids::ProductId;

/// A product's stock as the database has it now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stock {
    pub product_id: ProductId,
    pub sku: String,
    pub name: String,
    pub total: i64,
    pub available: i64,
    pub held: i64,
    pub sold: i64,
    /// Units of closed holds that could not go back because the stock was already full:
    /// units an oversell promised that never existed (`holds.short`).
    pub short: i64,
    pub version: i64,
}

impl Stock {
    /// `available + held + sold + short - total`: above zero, units held or sold beyond
    /// the stock (the naive strategy's lost updates); below zero, units lost.
    pub fn balance(&self) -> i64 {
        self.available + self.held + self.sold + self.short - self.total
    }

    /// Units sold or held beyond the stock: the naive strategy's lost updates. Expiring
    /// their holds later does not hide them (see `short`).
    pub fn oversold(&self) -> i64 {
        self.balance().max(0)
    }

    /// Units neither available, held nor sold: lost by a drifting cache or a crash.
    pub fn undersold(&self) -> i64 {
        (-self.balance()).max(0)
    }
}

/// The most units a product may have, and the most a restock may set: far beyond any
/// sale, and far from where `i64` sums over many holds could overflow.
pub const MAX_STOCK: i64 = 1_000_000_000;

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
            product_id: r.get(0)?,
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
        .query_row([product], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let total = restocked_total(total, current, available)?;
    conn.prepare_cached(
        "UPDATE products SET stock_available = ?2, stock_total = ?3, version = version + 1
         WHERE id = ?1",
    )?
    .execute(params![product, available, total])?;
    Ok(())
}

/// The total after setting the available units from `current` to `available`: moved by
/// the same amount, checked. (Unchecked, SQLite turns an INTEGER that overflows into a
/// REAL, and every later read of the column fails — "Invalid column type Real" — until
/// the file is replaced.)
pub(crate) fn restocked_total(total: i64, current: i64, available: i64) -> Result<i64> {
    if !(0..=MAX_STOCK).contains(&available) {
        return Err(Error::Usage(format!(
            "A restock sets between 0 and {MAX_STOCK} units (asked: {available})"
        )));
    }
    available
        .checked_sub(current)
        .and_then(|delta| total.checked_add(delta))
        .filter(|t| *t <= MAX_STOCK.saturating_mul(2))
        .ok_or_else(|| {
            Error::Usage(format!(
                "Restocking to {available} units would take the total past {} units",
                MAX_STOCK.saturating_mul(2)
            ))
        })
}
