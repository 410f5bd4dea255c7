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
    let mut tx = client.transaction()?;
    tx.execute("LOCK TABLE sale IN EXCLUSIVE MODE", &[])?;
    if let Some(r) = tx.query_opt("SELECT name FROM sale WHERE id = 1", &[])? {
        let name: String = r.get(0);
        return Err(Error::BadSale {
            path: "database".into(),
            why: format!(
                "it already holds the sale {name:?}; use `flashsale init --force` to replace it"
            ),
        }
        .into());
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
