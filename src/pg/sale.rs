//! The sale's row and its products on PostgreSQL: written once by `init`, read by every
//! process that opens the database.

use postgres::GenericClient;

use crate::clock::{Millis, duration_ms};
use crate::error::Error;
use crate::sale::{SaleFile, SaleRules, ms_duration};
use crate::sql::Result;

/// Writes the sale into an empty database (one transaction: all or nothing). The `sale`
/// row is locked first, so two processes loading at once cannot both see it empty.
pub fn load(client: &mut postgres::Client, sale: &SaleFile, now: Millis) -> Result<()> {
    load_as(client, sale, now, Existing::Refuse)
}

/// What to do when the database already holds a sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Say so (`init` without `--force`).
    Refuse,
    /// Keep it and load nothing (a writing command on a database someone set up).
    Keep,
    /// Delete it with every hold, order and refund, then load (`init --force`).
    Replace,
}

pub fn load_as(
    client: &mut postgres::Client,
    sale: &SaleFile,
    now: Millis,
    existing: Existing,
) -> Result<()> {
    let mut tx = client.transaction()?;
    tx.execute("LOCK TABLE sale IN EXCLUSIVE MODE", &[])?;
    let present = tx.query_opt("SELECT name FROM sale WHERE id = 1", &[])?;
    match (present, existing) {
        (Some(_), Existing::Keep) => return Ok(()),
        (Some(_), Existing::Replace) => {
            tx.batch_execute(
                "DELETE FROM orders; DELETE FROM refunds; DELETE FROM holds;
                 DELETE FROM products; DELETE FROM sale;",
            )?;
        }
        (Some(r), Existing::Refuse) => {
            let name: String = r.get(0);
            return Err(Error::Usage(format!(
                "The database already holds the sale {name:?}; use `flashsale init --force` to replace it (its holds and orders will be deleted)"
            ))
            .into());
        }
        (None, _) => {}
    }
    tx.execute(
        "INSERT INTO sale (id, name, hold_ttl_ms, max_extensions, max_hold_ms, created_at)
         VALUES (1, $1, $2, $3, $4, $5)",
        &[
            &sale.name,
            &duration_ms(sale.hold_ttl),
            &sale.max_extensions,
            &duration_ms(sale.max_hold()),
            &now,
        ],
    )?;
    for p in &sale.products {
        tx.execute(
            "INSERT INTO products (sku, name, price_cents, stock_total, stock_available, version, max_per_buyer)
             VALUES ($1, $2, $3, $4, $4, 0, $5)",
            &[
                &p.sku,
                &p.name,
                &p.price_cents,
                &p.stock,
                &p.max_per_buyer.unwrap_or(sale.max_per_buyer),
            ],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// The sale's rules, or `None` when the database holds no sale yet.
pub fn rules(client: &mut impl GenericClient) -> Result<Option<SaleRules>> {
    let row = client.query_opt(
        "SELECT name, hold_ttl_ms, max_extensions, max_hold_ms FROM sale WHERE id = 1",
        &[],
    )?;
    Ok(row.map(|r| SaleRules {
        name: r.get(0),
        hold_ttl: ms_duration(r.get(1)),
        max_extensions: r.get(2),
        max_hold: ms_duration(r.get(3)),
    }))
}
