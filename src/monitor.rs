//! The console's read model: what a dashboard shows about a sale, read straight from the
//! database. No terminal code lives here; the console (and any other watcher) is a client.
//!
//! Watching must not slow the sale. Everything is read in *one short read transaction* on
//! the watcher's own connection: in WAL mode a reader never blocks the writer and the
//! writer never blocks a reader, and one transaction gives one consistent snapshot (the
//! stock and the holds agree). Every query is backed by an index of the schema
//! (`holds_active_by_expiry`, `holds_live_by_buyer`, `orders_by_paid_at`, primary keys),
//! so a read costs the same with ten holds or a hundred thousand. A watcher reads a few
//! times a second, not on every change.
//!
//! The same functions work on a read-only connection to a file another process sells
//! from: nothing here writes.

mod history;

use crate::journal::{self, LogEntry, RunRow, Running};
use rusqlite::{Connection, OptionalExtension, params};

use crate::clock::Millis;
use crate::hold::{self, Stock};
use crate::ids::{HoldId, ProductId};
use crate::sale::{self, SaleRules};
use crate::sql::{Result, ids};

pub use history::{History, Rates, StockPoint, Totals};

/// What to read besides the stock: a window of the active holds (sorted by deadline,
/// soonest first), the newest orders, and the holds a watcher follows by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// First active hold of the window, in deadline order.
    pub holds_offset: usize,
    pub holds_limit: usize,
    pub orders_limit: usize,
    /// Holds followed by id (the storefront's own), whatever their status.
    pub follow: Vec<HoldId>,
    /// How many stored runs the reader already has: the list is read again only when
    /// the database has another count.
    pub runs_known: u64,
    /// Count the units that came back (expired, released, refunded). It scans the
    /// closed holds, so a poller asks for it every few readings, not every one.
    pub returned: bool,
}

/// Units that came back to stock, from the database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Returned {
    pub expired: i64,
    pub released: i64,
    pub refunded: i64,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            holds_offset: 0,
            holds_limit: 200,
            orders_limit: 200,
            follow: Vec::new(),
            runs_known: 0,
            returned: true,
        }
    }
}

/// What the buyers who came over HTTP (named `web-…` by the server) have: active holds
/// and paid orders, counted apart from the bots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebBuyers {
    pub holds: u64,
    pub orders: u64,
}

/// An active hold as the holds panel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRow {
    pub id: HoldId,
    pub product_id: ProductId,
    pub buyer: String,
    pub qty: i64,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub extensions: i64,
}

/// A paid order as the order feed lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRow {
    pub buyer: String,
    pub product_id: ProductId,
    pub qty: i64,
    pub held_at: Millis,
    pub paid_at: Millis,
}

/// A followed hold's current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowedHold {
    pub id: HoldId,
    /// `active`, `paid`, `expired` or `released`.
    pub status: String,
    pub expires_at: Millis,
    pub closed_at: Option<Millis>,
    pub extensions: i64,
}

/// One consistent reading of the sale.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The watcher's clock when it read.
    pub at: Millis,
    pub rules: Option<SaleRules>,
    pub stock: Vec<Stock>,
    /// How many holds are active in all (the window below is part of them).
    pub active_holds: u64,
    /// The offset the window starts at (echo of the query).
    pub holds_offset: usize,
    pub holds: Vec<HoldRow>,
    /// Newest first.
    pub orders: Vec<OrderRow>,
    /// Holds and orders ever written: their growth is the hold and order rate.
    pub holds_written: u64,
    pub orders_written: u64,
    pub followed: Vec<FollowedHold>,
    /// Every stored run, when their count differs from the query's `runs_known`.
    pub runs: Option<Vec<RunRow>>,
    /// The operator log, newest first.
    pub log: Vec<LogEntry>,
    /// Each product's price in cents (the storefront shows it, read-only too).
    pub prices: Vec<(ProductId, i64)>,
    /// Units back on sale, when the query asked (else the last known, kept by readers).
    pub returned: Option<Returned>,
    /// What the selling process says it runs.
    pub running: Option<Running>,
    pub web: WebBuyers,
}

impl Snapshot {
    /// Products whose books do not balance: `available + held + sold > total`.
    pub fn oversold(&self) -> impl Iterator<Item = &Stock> {
        self.stock.iter().filter(|s| s.oversold() > 0)
    }

    pub fn product(&self, id: ProductId) -> Option<&Stock> {
        self.stock.iter().find(|s| s.product_id == id)
    }
}

/// Where a watcher reads the sale from: an SQLite file's pool, or a PostgreSQL store.
#[derive(Clone)]
pub enum Reader {
    File(crate::store::Store),
    Server(std::sync::Arc<crate::pg::PgStore>),
}

/// A watcher's own way in, for reading again and again: a connection of its own to a
/// file (so it never waits for the pool), or the server's pool.
pub enum Session {
    File(rusqlite::Connection),
    Server(std::sync::Arc<crate::pg::PgStore>),
}

impl Reader {
    /// One reading, on a pooled connection.
    pub fn read(&self, query: &Query, at: Millis) -> crate::Result<Snapshot> {
        Ok(match self {
            Reader::File(store) => read(&mut *store.conn()?, query, at)?,
            Reader::Server(pg) => crate::pg::monitor::read(pg, query, at)?,
        })
    }

    pub fn session(&self) -> crate::Result<Session> {
        Ok(match self {
            Reader::File(store) => Session::File(store.dedicated()?),
            Reader::Server(pg) => Session::Server(std::sync::Arc::clone(pg)),
        })
    }
}

impl Session {
    pub fn read(&mut self, query: &Query, at: Millis) -> crate::Result<Snapshot> {
        Ok(match self {
            Session::File(conn) => read(conn, query, at)?,
            Session::Server(pg) => crate::pg::monitor::read(pg, query, at)?,
        })
    }
}

/// How many operator log entries a reading brings.
const LOG_SHOWN: usize = 20;

/// The parts of a reading, as a store reads them inside one consistent read
/// transaction (an SQLite read transaction here, PostgreSQL's REPEATABLE READ in
/// [`crate::pg::monitor`]): the queries differ by dialect, the reading is [`snapshot`].
pub trait SaleView {
    fn rules(&mut self) -> Result<Option<SaleRules>>;
    fn stock(&mut self) -> Result<Vec<Stock>>;
    fn active_count(&mut self) -> Result<u64>;
    fn active_window(&mut self, offset: usize, limit: usize) -> Result<Vec<HoldRow>>;
    fn newest_orders(&mut self, limit: usize) -> Result<Vec<OrderRow>>;
    /// Holds and orders ever written.
    fn written(&mut self) -> Result<(u64, u64)>;
    fn follow(&mut self, ids: &[HoldId]) -> Result<Vec<FollowedHold>>;
    fn run_count(&mut self) -> Result<u64>;
    fn runs(&mut self) -> Result<Vec<RunRow>>;
    fn log_entries(&mut self, limit: usize) -> Result<Vec<LogEntry>>;
    fn running(&mut self) -> Result<Option<Running>>;
    fn prices(&mut self) -> Result<Vec<(ProductId, i64)>>;
    fn web_buyers(&mut self) -> Result<WebBuyers>;
    fn returned(&mut self) -> Result<Returned>;
}

/// One reading of the sale through `view`, whichever store it reads.
pub fn snapshot(view: &mut impl SaleView, query: &Query, at: Millis) -> Result<Snapshot> {
    let (holds_written, orders_written) = view.written()?;
    Ok(Snapshot {
        at,
        rules: view.rules()?,
        stock: view.stock()?,
        active_holds: view.active_count()?,
        holds_offset: query.holds_offset,
        holds: view.active_window(query.holds_offset, query.holds_limit)?,
        orders: view.newest_orders(query.orders_limit)?,
        holds_written,
        orders_written,
        followed: view.follow(&query.follow)?,
        runs: if view.run_count()? == query.runs_known {
            None
        } else {
            Some(view.runs()?)
        },
        log: view.log_entries(LOG_SHOWN)?,
        running: view.running()?,
        prices: view.prices()?,
        returned: if query.returned {
            Some(view.returned()?)
        } else {
            None
        },
        web: view.web_buyers()?,
    })
}

/// Reads a snapshot in one read transaction.
pub fn read(conn: &mut Connection, query: &Query, at: Millis) -> Result<Snapshot> {
    // Deferred (a read transaction): it never takes the write lock, so a running sale
    // does not wait for it, and every SELECT below sees the same committed state.
    let tx = conn.transaction()?;
    let snapshot = snapshot(&mut FileView(&tx), query, at)?;
    tx.commit()?;
    Ok(snapshot)
}

/// An SQLite file's reading, on a connection inside a read transaction.
struct FileView<'c>(&'c Connection);

impl SaleView for FileView<'_> {
    fn rules(&mut self) -> Result<Option<SaleRules>> {
        sale::rules(self.0)
    }
    fn stock(&mut self) -> Result<Vec<Stock>> {
        hold::stock(self.0)
    }
    fn active_count(&mut self) -> Result<u64> {
        active_count(self.0)
    }
    fn active_window(&mut self, offset: usize, limit: usize) -> Result<Vec<HoldRow>> {
        active_window(self.0, offset, limit)
    }
    fn newest_orders(&mut self, limit: usize) -> Result<Vec<OrderRow>> {
        newest_orders(self.0, limit)
    }
    fn written(&mut self) -> Result<(u64, u64)> {
        Ok((
            rows_written(self.0, "SELECT coalesce(max(rowid), 0) FROM holds")?,
            rows_written(self.0, "SELECT coalesce(max(rowid), 0) FROM orders")?,
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
        prices(self.0)
    }
    fn web_buyers(&mut self) -> Result<WebBuyers> {
        web_buyers(self.0)
    }
    fn returned(&mut self) -> Result<Returned> {
        returned(self.0)
    }
}

/// The web buyers' holds and orders. The `GLOB` is the partial indexes' own condition
/// (migration `web_buyers.sql`), so SQLite reads only those rows.
pub fn web_buyers(conn: &Connection) -> Result<WebBuyers> {
    let holds: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM holds WHERE buyer GLOB 'web-*' AND status = 'active'",
        )?
        .query_row([], |r| r.get(0))?;
    let orders: i64 = conn
        .prepare_cached("SELECT count(*) FROM orders WHERE buyer GLOB 'web-*'")?
        .query_row([], |r| r.get(0))?;
    Ok(WebBuyers {
        holds: u64::try_from(holds).unwrap_or(0),
        orders: u64::try_from(orders).unwrap_or(0),
    })
}

fn returned(conn: &Connection) -> Result<Returned> {
    let (expired, released) = conn
        .prepare_cached(
            "SELECT coalesce(sum(CASE WHEN status = 'expired' THEN qty END), 0),
                    coalesce(sum(CASE WHEN status = 'released' THEN qty END), 0)
             FROM holds WHERE status IN ('expired', 'released')",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let refunded = conn
        .prepare_cached("SELECT coalesce(sum(qty), 0) FROM refunds")?
        .query_row([], |r| r.get(0))?;
    Ok(Returned {
        expired,
        released,
        refunded,
    })
}

fn prices(conn: &Connection) -> Result<Vec<(ProductId, i64)>> {
    let mut stmt = conn.prepare_cached("SELECT id, price_cents FROM products ORDER BY id")?;
    let rows = stmt
        .query_map([], |r| Ok((ProductId(r.get(0)?), r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The number of active holds (counted on the partial index of active holds).
pub fn active_count(conn: &Connection) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM holds WHERE status = 'active'")?
        .query_row([], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Active holds, soonest deadline first (ties in the order they were taken), `limit` of
/// them from `offset`. The partial index on active holds' deadlines carries the rowid,
/// so this walks the index in order and stops after the window.
pub fn active_window(conn: &Connection, offset: usize, limit: usize) -> Result<Vec<HoldRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, product_id, buyer, qty, created_at, expires_at, extensions
         FROM holds WHERE status = 'active'
         ORDER BY expires_at, rowid LIMIT ?1 OFFSET ?2",
    )?;
    let rows = stmt.query_map(
        params![
            i64::try_from(limit).unwrap_or(i64::MAX),
            i64::try_from(offset).unwrap_or(i64::MAX)
        ],
        |r| {
            Ok(HoldRow {
                id: ids::hold(r, 0)?,
                product_id: ids::product(r, 1)?,
                buyer: r.get(2)?,
                qty: r.get(3)?,
                created_at: r.get(4)?,
                expires_at: r.get(5)?,
                extensions: r.get(6)?,
            })
        },
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The newest `limit` orders, newest first.
pub fn newest_orders(conn: &Connection, limit: usize) -> Result<Vec<OrderRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT buyer, product_id, qty, held_at, paid_at FROM orders
         ORDER BY paid_at DESC, rowid DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
        Ok(OrderRow {
            buyer: r.get(0)?,
            product_id: ids::product(r, 1)?,
            qty: r.get(2)?,
            held_at: r.get(3)?,
            paid_at: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// How many rows a table has had written: its largest rowid. Holds and orders have
/// TEXT keys, so SQLite numbers their rows itself, one more for each insert; reading the
/// largest is one step down a b-tree, where `count(*)` would walk every row. (A reset
/// that deletes every row starts the numbering again; watchers treat a drop as zero.)
fn rows_written(conn: &Connection, sql: &str) -> Result<u64> {
    let n: i64 = conn.prepare_cached(sql)?.query_row([], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn follow(conn: &Connection, ids: &[HoldId]) -> Result<Vec<FollowedHold>> {
    let mut stmt = conn.prepare_cached(
        "SELECT status, expires_at, closed_at, extensions FROM holds WHERE id = ?1",
    )?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let row = stmt
            .query_row([id.to_string()], |r| {
                Ok(FollowedHold {
                    id: *id,
                    status: r.get(0)?,
                    expires_at: r.get(1)?,
                    closed_at: r.get(2)?,
                    extensions: r.get(3)?,
                })
            })
            .optional()?;
        out.extend(row);
    }
    Ok(out)
}

pub use flashsale_core::model::MayReturn;

/// What could come back of a sold-out product (for "3 holds may return within 4:12").
pub fn may_return(conn: &Connection, product: ProductId) -> Result<MayReturn> {
    let (holds, units, first, last): (i64, i64, Option<Millis>, Option<Millis>) = conn
        .prepare_cached(
            "SELECT count(*), coalesce(sum(qty), 0), min(expires_at), max(expires_at)
             FROM holds WHERE product_id = ?1 AND status = 'active'",
        )?
        .query_row([product.0], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
    Ok(MayReturn {
        holds: u64::try_from(holds).unwrap_or(0),
        units,
        first,
        last,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{Clock, EngineConfig};

    fn engine(dir: &tempfile::TempDir) -> crate::Engine {
        crate::cli::open_engine_at(
            &dir.path().join("m.db"),
            crate::Synchronous::Normal,
            EngineConfig {
                clock: Clock::manual(1_000_000),
                sweeper: false,
                ..EngineConfig::default()
            },
        )
        .unwrap()
    }

    #[test]
    fn snapshot_lists_holds_by_deadline_and_orders_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(&dir);
        let first = e.reserve("PHONE-X1", "ann", 1).unwrap();
        e.clock().advance(Duration::from_secs(5));
        let second = e.reserve("BUDS-2", "bob", 1).unwrap();
        e.clock().advance(Duration::from_secs(5));
        e.checkout(&first).unwrap();
        let mut conn = e.file().unwrap().store().conn().unwrap();
        let query = Query {
            follow: vec![first.id, second.id],
            ..Query::default()
        };
        let snap = read(&mut conn, &query, e.clock().now()).unwrap();
        assert_eq!(snap.active_holds, 1);
        assert_eq!(snap.holds.len(), 1);
        assert_eq!(snap.holds[0].buyer, "bob");
        assert_eq!(snap.orders.len(), 1);
        assert_eq!(snap.orders[0].buyer, "ann");
        assert_eq!(snap.holds_written, 2);
        assert_eq!(
            snap.web,
            WebBuyers::default(),
            "ann and bob are not web buyers"
        );
        assert_eq!(snap.orders_written, 1);
        assert_eq!(snap.followed[0].status, "paid");
        assert_eq!(snap.followed[1].status, "active");
        assert_eq!(snap.oversold().count(), 0);
        let phone = &snap.stock[0];
        assert_eq!((phone.available, phone.held, phone.sold), (49, 0, 1));
        let back = may_return(&conn, second.product_id).unwrap();
        assert_eq!(back.holds, 1);
        assert_eq!(back.last, Some(second.expires_at));
    }

    #[test]
    fn a_window_pages_through_many_holds() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(&dir);
        for i in 0..30 {
            e.reserve("BUDS-2", &format!("b{i:02}"), 1).unwrap();
            e.clock().advance(Duration::from_millis(10));
        }
        let mut conn = e.file().unwrap().store().conn().unwrap();
        let query = Query {
            holds_offset: 25,
            holds_limit: 10,
            ..Query::default()
        };
        let snap = read(&mut conn, &query, e.clock().now()).unwrap();
        assert_eq!(snap.active_holds, 30);
        let buyers: Vec<_> = snap.holds.iter().map(|h| h.buyer.as_str()).collect();
        assert_eq!(buyers, ["b25", "b26", "b27", "b28", "b29"]);
    }

    #[test]
    fn web_buyers_are_counted_apart_from_bots_on_their_own_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(&dir);
        let paid = e.reserve("BUDS-2", "web-ann-123456", 1).unwrap();
        e.checkout(&paid).unwrap();
        e.reserve("BUDS-2", "web-0123456789", 1).unwrap();
        e.reserve("PHONE-X1", "web-bob-654321", 1).unwrap();
        let released = e.reserve("PHONE-X1", "web-cat-111111", 1).unwrap();
        e.release(&released).unwrap();
        for i in 0..5 {
            let bot = e.reserve("BUDS-2", &format!("bot-{i}"), 1).unwrap();
            if i < 2 {
                e.checkout(&bot).unwrap();
            }
        }
        // A name that merely contains "web-" is not a web buyer.
        e.reserve("BUDS-2", "cobweb-1", 1).unwrap();
        let mut conn = e.file().unwrap().store().conn().unwrap();
        let snap = read(&mut conn, &Query::default(), e.clock().now()).unwrap();
        assert_eq!(
            snap.web,
            WebBuyers {
                holds: 2,
                orders: 1
            }
        );
        for (table, sql) in [
            (
                "holds_by_web_buyer",
                "SELECT count(*) FROM holds WHERE buyer GLOB 'web-*' AND status = 'active'",
            ),
            (
                "orders_by_web_buyer",
                "SELECT count(*) FROM orders WHERE buyer GLOB 'web-*'",
            ),
        ] {
            let plan: String = conn
                .query_row(&format!("EXPLAIN QUERY PLAN {sql}"), [], |r| r.get(3))
                .unwrap();
            assert!(plan.contains(table), "{sql} does not use {table}: {plan}");
        }
    }
}
