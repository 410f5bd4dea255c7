//! The console's read model on PostgreSQL: the same [`Snapshot`] as on an SQLite file
//! ([`crate::monitor`]), read in one REPEATABLE READ, read-only transaction — one
//! consistent snapshot that never blocks a sale (PostgreSQL's readers take no locks
//! writers wait for).

use postgres::{GenericClient, IsolationLevel};

use super::PgStore;
use super::hold as pg;
use super::journal;
use crate::clock::Millis;
use crate::hold::Stock;
use crate::ids::{HoldId, ProductId};
use crate::journal::{LogEntry, RunRow, Running};
use crate::monitor::{
    FollowedHold, HoldRow, OrderRow, Query, Returned, SaleView, Snapshot, WebBuyers, snapshot,
};
use crate::sale::SaleRules;
use crate::sql::Result;

pub fn read(store: &PgStore, query: &Query, at: Millis) -> Result<Snapshot> {
    let mut conn = store.conn()?;
    let mut tx = conn
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    let snapshot = snapshot(&mut ServerView(&mut tx), query, at)?;
    tx.commit()?;
    Ok(snapshot)
}

/// A server's reading, inside one REPEATABLE READ transaction.
struct ServerView<'t, 'c>(&'t mut postgres::Transaction<'c>);

impl ServerView<'_, '_> {
    fn count(&mut self, sql: &str) -> Result<u64> {
        let n: i64 = self.0.query_one(sql, &[])?.get(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

impl SaleView for ServerView<'_, '_> {
    fn rules(&mut self) -> Result<Option<SaleRules>> {
        super::sale::rules(self.0)
    }
    fn stock(&mut self) -> Result<Vec<Stock>> {
        pg::stock(self.0)
    }
    fn active_count(&mut self) -> Result<u64> {
        self.count("SELECT count(*) FROM holds WHERE status = 'active'")
    }
    fn active_window(&mut self, offset: usize, limit: usize) -> Result<Vec<HoldRow>> {
        active_window(self.0, offset, limit)
    }
    fn newest_orders(&mut self, limit: usize) -> Result<Vec<OrderRow>> {
        newest_orders(self.0, limit)
    }
    fn written(&mut self) -> Result<(u64, u64)> {
        Ok((
            self.count("SELECT count(*) FROM holds")?,
            self.count("SELECT count(*) FROM orders")?,
        ))
    }
    fn follow(&mut self, ids: &[HoldId]) -> Result<Vec<FollowedHold>> {
        follow(self.0, ids)
    }
    fn run_count(&mut self) -> Result<u64> {
        journal::run_count(self.0)
    }
    fn runs(&mut self) -> Result<Vec<RunRow>> {
        journal::runs(self.0)
    }
    fn log_entries(&mut self, limit: usize) -> Result<Vec<LogEntry>> {
        journal::log_entries(self.0, limit)
    }
    fn running(&mut self) -> Result<Option<Running>> {
        journal::running(self.0)
    }
    fn prices(&mut self) -> Result<Vec<(ProductId, i64)>> {
        Ok(self
            .0
            .query("SELECT id, price_cents FROM products ORDER BY id", &[])?
            .iter()
            .map(|r| (ProductId(r.get(0)), r.get(1)))
            .collect())
    }
    fn web_buyers(&mut self) -> Result<WebBuyers> {
        Ok(WebBuyers {
            holds: self.count(
                "SELECT count(*) FROM holds WHERE starts_with(buyer, 'web-') AND status = 'active'",
            )?,
            orders: self.count("SELECT count(*) FROM orders WHERE starts_with(buyer, 'web-')")?,
        })
    }
    fn returned(&mut self) -> Result<Returned> {
        returned(self.0)
    }
}

fn active_window(c: &mut impl GenericClient, offset: usize, limit: usize) -> Result<Vec<HoldRow>> {
    let rows = c.query(
        "SELECT id, product_id, buyer, qty, created_at, expires_at, extensions
         FROM holds WHERE status = 'active'
         ORDER BY expires_at, id LIMIT $1 OFFSET $2",
        &[
            &i64::try_from(limit).unwrap_or(i64::MAX),
            &i64::try_from(offset).unwrap_or(i64::MAX),
        ],
    )?;
    rows.iter()
        .map(|r| {
            Ok(HoldRow {
                id: hold_id(r.get(0))?,
                product_id: ProductId(r.get(1)),
                buyer: r.get(2),
                qty: r.get(3),
                created_at: r.get(4),
                expires_at: r.get(5),
                extensions: r.get(6),
            })
        })
        .collect()
}

fn newest_orders(c: &mut impl GenericClient, limit: usize) -> Result<Vec<OrderRow>> {
    Ok(c.query(
        "SELECT buyer, product_id, qty, held_at, paid_at FROM orders
         ORDER BY paid_at DESC, id DESC LIMIT $1",
        &[&i64::try_from(limit).unwrap_or(i64::MAX)],
    )?
    .iter()
    .map(|r| OrderRow {
        buyer: r.get(0),
        product_id: ProductId(r.get(1)),
        qty: r.get(2),
        held_at: r.get(3),
        paid_at: r.get(4),
    })
    .collect())
}

fn follow(c: &mut impl GenericClient, ids: &[HoldId]) -> Result<Vec<FollowedHold>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let row = c.query_opt(
            "SELECT status, expires_at, closed_at, extensions FROM holds WHERE id = $1",
            &[&id.to_string()],
        )?;
        out.extend(row.map(|r| FollowedHold {
            id: *id,
            status: r.get(0),
            expires_at: r.get(1),
            closed_at: r.get(2),
            extensions: r.get(3),
        }));
    }
    Ok(out)
}

fn returned(c: &mut impl GenericClient) -> Result<Returned> {
    let r = c.query_one(
        "SELECT coalesce(sum(qty) FILTER (WHERE status = 'expired'), 0)::BIGINT,
                coalesce(sum(qty) FILTER (WHERE status = 'released'), 0)::BIGINT,
                (SELECT coalesce(sum(qty), 0)::BIGINT FROM refunds)
         FROM holds WHERE status IN ('expired', 'released')",
        &[],
    )?;
    Ok(Returned {
        expired: r.get(0),
        released: r.get(1),
        refunded: r.get(2),
    })
}

fn hold_id(text: String) -> Result<HoldId> {
    text.parse().map_err(|_| {
        crate::Error::Usage(format!(
            "The database holds a hold id that is not a UUID: {text}"
        ))
        .into()
    })
}
