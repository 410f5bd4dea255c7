//! The console's read model on PostgreSQL: the same [`Snapshot`] as on an SQLite file
//! ([`crate::monitor`]), read in one REPEATABLE READ, read-only transaction — one
//! consistent snapshot that never blocks a sale (PostgreSQL's readers take no locks
//! writers wait for).

use postgres::{GenericClient, IsolationLevel};

use super::PgStore;
use super::hold as pg;
use super::journal;
use crate::clock::Millis;
use crate::ids::{HoldId, ProductId};
use crate::monitor::{FollowedHold, HoldRow, OrderRow, Query, Returned, Snapshot, WebBuyers};
use crate::sql::Result;

/// How many operator log entries a reading brings (as on SQLite).
const LOG_SHOWN: usize = 20;

pub fn read(store: &PgStore, query: &Query, at: Millis) -> Result<Snapshot> {
    let mut conn = store.conn()?;
    let mut tx = conn
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    let rules = super::sale::rules(&mut tx)?;
    let stock = pg::stock(&mut tx)?;
    let count = |tx: &mut postgres::Transaction<'_>, sql: &str| -> Result<u64> {
        let n: i64 = tx.query_one(sql, &[])?.get(0);
        Ok(u64::try_from(n).unwrap_or(0))
    };
    let active_holds = count(
        &mut tx,
        "SELECT count(*) FROM holds WHERE status = 'active'",
    )?;
    let holds = active_window(&mut tx, query.holds_offset, query.holds_limit)?;
    let orders = newest_orders(&mut tx, query.orders_limit)?;
    let holds_written = count(&mut tx, "SELECT count(*) FROM holds")?;
    let orders_written = count(&mut tx, "SELECT count(*) FROM orders")?;
    let followed = follow(&mut tx, &query.follow)?;
    let runs = if journal::run_count(&mut tx)? == query.runs_known {
        None
    } else {
        Some(journal::runs(&mut tx)?)
    };
    let log = journal::log_entries(&mut tx, LOG_SHOWN)?;
    let running = journal::running(&mut tx)?;
    let prices = tx
        .query("SELECT id, price_cents FROM products ORDER BY id", &[])?
        .iter()
        .map(|r| (ProductId(r.get(0)), r.get(1)))
        .collect();
    let web = WebBuyers {
        holds: count(
            &mut tx,
            "SELECT count(*) FROM holds WHERE starts_with(buyer, 'web-') AND status = 'active'",
        )?,
        orders: count(
            &mut tx,
            "SELECT count(*) FROM orders WHERE starts_with(buyer, 'web-')",
        )?,
    };
    let returned = if query.returned {
        Some(returned(&mut tx)?)
    } else {
        None
    };
    tx.commit()?;
    Ok(Snapshot {
        at,
        rules,
        stock,
        active_holds,
        holds_offset: query.holds_offset,
        holds,
        orders,
        holds_written,
        orders_written,
        followed,
        runs,
        log,
        running,
        prices,
        returned,
        web,
    })
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
