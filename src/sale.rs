//! A sale: its products, stock and rules, read from a JSON file and loaded into the
//! database. The demo sale in `assets/` is embedded so a fresh machine needs no files.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Deserialize;

use crate::clock::{Millis, duration_ms};
use crate::error::Error;
use crate::sql::Result;

pub const DEMO_SALE_JSON: &str = include_str!("../assets/demo-sale.json");

/// The longest hold TTL (and the longest a hold may live with its extensions): a year
/// is far beyond any sale, and keeps `now + ttl` far from overflowing.
pub const MAX_HOLD_TTL: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// A hold TTL must be above zero and at most [`MAX_HOLD_TTL`]; the reason if not.
pub fn check_hold_ttl(ttl: Duration) -> std::result::Result<(), String> {
    if ttl.is_zero() {
        return Err("must be longer than zero".into());
    }
    if ttl > MAX_HOLD_TTL {
        return Err(format!(
            "must be at most {} (got {})",
            humantime::format_duration(MAX_HOLD_TTL),
            humantime::format_duration(ttl)
        ));
    }
    Ok(())
}

/// The sale file's shape.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaleFile {
    pub name: String,
    #[serde(with = "humantime_serde_compat")]
    pub hold_ttl: Duration,
    #[serde(default = "one")]
    pub max_per_buyer: i64,
    #[serde(default = "two")]
    pub max_extensions: i64,
    /// The longest a hold may live with its extensions; defaults to twice the TTL.
    #[serde(default, with = "humantime_serde_compat::option")]
    pub max_hold: Option<Duration>,
    pub products: Vec<ProductSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductSpec {
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub stock: i64,
    pub max_per_buyer: Option<i64>,
}

fn one() -> i64 {
    1
}

fn two() -> i64 {
    2
}

/// Durations written like `10m`, `30s`, `1h 30m`.
mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }

    pub mod option {
        use super::*;

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            let text: Option<String> = Option::deserialize(d)?;
            text.map(|t| humantime::parse_duration(&t).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

pub use flashsale_core::model::SaleRules;

impl SaleFile {
    pub fn demo() -> SaleFile {
        // The embedded demo is checked by a unit test, so this cannot fail at run time.
        Self::parse(DEMO_SALE_JSON, Path::new("assets/demo-sale.json"))
            .unwrap_or_else(|e| unreachable!("the embedded demo sale is valid: {e}"))
    }

    pub fn read(path: &Path) -> Result<SaleFile> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::BadSale {
            path: path.to_path_buf(),
            why: e.to_string(),
        })?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<SaleFile> {
        let bad = |why: String| Error::BadSale {
            path: path.to_path_buf(),
            why,
        };
        let sale: SaleFile = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if sale.products.is_empty() {
            return Err(bad("it lists no products".into()).into());
        }
        check_hold_ttl(sale.hold_ttl).map_err(|why| bad(format!("hold_ttl {why}")))?;
        if let Some(max_hold) = sale.max_hold {
            check_hold_ttl(max_hold).map_err(|why| bad(format!("max_hold {why}")))?;
        }
        if sale.max_per_buyer < 1 {
            return Err(bad("max_per_buyer must be at least 1".into()).into());
        }
        if !(0..=1000).contains(&sale.max_extensions) {
            return Err(bad("max_extensions must be from 0 to 1000".into()).into());
        }
        if sale.max_hold.is_some_and(|m| m < sale.hold_ttl) {
            return Err(bad("max_hold cannot be shorter than hold_ttl".into()).into());
        }
        let mut seen = std::collections::HashSet::new();
        for p in &sale.products {
            if p.sku.trim().is_empty() {
                return Err(bad("a product has an empty sku".into()).into());
            }
            if !seen.insert(p.sku.as_str()) {
                return Err(bad(format!("sku {:?} appears twice", p.sku)).into());
            }
            let max = crate::hold::MAX_STOCK;
            if !(0..=max).contains(&p.stock)
                || p.price_cents < 0
                || p.max_per_buyer.is_some_and(|m| m < 1)
            {
                return Err(bad(format!(
                    "product {:?} needs stock from 0 to {max}, price_cents >= 0 and max_per_buyer >= 1",
                    p.sku
                )).into());
            }
        }
        Ok(sale)
    }

    pub fn max_hold(&self) -> Duration {
        self.max_hold
            .unwrap_or_else(|| self.hold_ttl.saturating_mul(2).min(MAX_HOLD_TTL))
    }
}

/// Writes the sale into an empty database (one transaction: all or nothing).
pub fn load(conn: &mut Connection, sale: &SaleFile, now: Millis) -> Result<()> {
    // IMMEDIATE: it reads (is there a sale already?) and then writes.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let existing: Option<String> = tx
        .query_row("SELECT name FROM sale WHERE id = 1", [], |r| r.get(0))
        .optional()?;
    if let Some(name) = existing {
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
         VALUES (1, ?1, ?2, ?3, ?4, ?5)",
        params![
            sale.name,
            duration_ms(sale.hold_ttl),
            sale.max_extensions,
            duration_ms(sale.max_hold()),
            now
        ],
    )?;
    for p in &sale.products {
        tx.execute(
            "INSERT INTO products (sku, name, price_cents, stock_total, stock_available, version, max_per_buyer)
             VALUES (?1, ?2, ?3, ?4, ?4, 0, ?5)",
            params![
                p.sku,
                p.name,
                p.price_cents,
                p.stock,
                p.max_per_buyer.unwrap_or(sale.max_per_buyer)
            ],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// The sale's rules, or `None` when the database holds no sale yet.
pub fn rules(conn: &Connection) -> Result<Option<SaleRules>> {
    let row = conn
        .query_row(
            "SELECT name, hold_ttl_ms, max_extensions, max_hold_ms FROM sale WHERE id = 1",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            },
        )
        .optional()?;
    Ok(row.map(|(name, ttl, ext, max)| SaleRules {
        name,
        hold_ttl: ms_duration(ttl),
        max_extensions: ext,
        max_hold: ms_duration(max),
    }))
}

/// Changes the hold TTL of the sale (new holds only).
pub fn set_hold_ttl(conn: &Connection, ttl: Duration) -> Result<()> {
    conn.execute(
        "UPDATE sale SET hold_ttl_ms = ?1, max_hold_ms = max(max_hold_ms, ?1) WHERE id = 1",
        params![duration_ms(ttl).max(1)],
    )?;
    Ok(())
}

pub fn ms_duration(ms: Millis) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_sale_parses() {
        let sale = SaleFile::demo();
        let phone = sale
            .products
            .iter()
            .find(|p| p.name == "Flash Sale Smartphone")
            .unwrap();
        assert_eq!(phone.stock, 50);
        assert_eq!(sale.hold_ttl, Duration::from_secs(600));
        assert_eq!(sale.max_per_buyer, 1);
    }

    #[test]
    fn bad_sale_files_say_why() {
        let err = SaleFile::parse(
            r#"{"name":"x","hold_ttl":"0s","products":[]}"#,
            Path::new("s.json"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("s.json"), "{err}");
        let err = SaleFile::parse(
            r#"{"name":"x","hold_ttl":"1m","products":[{"sku":"A","name":"a","price_cents":1,"stock":-1}]}"#,
            Path::new("s.json"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("stock from 0"), "{err}");
    }
}
