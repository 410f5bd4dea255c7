//! Append-only migrations keyed on `PRAGMA user_version`. A shipped step is never edited;
//! a schema change is a new step at the end.

use std::path::Path;

use rusqlite::Connection;

use crate::error::Error;
use crate::sql::Result;

/// The schema the binary embeds (top-level `schema.sql`).
pub const SCHEMA_SQL: &str = include_str!("../../schema.sql");

/// Step 2: hold statuses checked by comparisons instead of a four-value `IN` list (a
/// temporary table per insert); rebuilds `holds`.
const HOLDS_STATUS_CHECK: &str = include_str!("migrations/holds_status_check.sql");

/// Step 3: `holds.short`, the units a closed hold could not give back to a full stock.
const UNRETURNED_SQL: &str = include_str!("migrations/unreturned.sql");

/// Step 4: the HTTP server's shared token secret and idempotency records.
const HTTP_SQL: &str = include_str!("migrations/http.sql");

/// Step 5: the sale's journal — runs, the operator log, what the seller runs now.
const JOURNAL_SQL: &str = include_str!("migrations/journal.sql");

/// Web buyers' holds and orders indexed apart, for the console's count of them.
const WEB_BUYERS_SQL: &str = include_str!("migrations/web_buyers.sql");

const MIGRATIONS: &[&str] = &[
    SCHEMA_SQL,
    HOLDS_STATUS_CHECK,
    UNRETURNED_SQL,
    HTTP_SQL,
    JOURNAL_SQL,
    WEB_BUYERS_SQL,
];

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Returns the file's schema version, refusing files that are not (or not yet) ours.
pub(super) fn check_ours(conn: &Connection, path: &Path) -> Result<i64> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| super::classify_open(path, e))?;
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
            [],
            |row| row.get(0),
        )
        .map_err(|e| super::classify_open(path, e))?;
    if version == 0 && tables > 0 {
        return Err(Error::NotADatabase {
            path: path.to_path_buf(),
            why: "it is an SQLite database of some other program; it was left untouched".into(),
        }
        .into());
    }
    if version > SCHEMA_VERSION {
        return Err(Error::NotADatabase {
            path: path.to_path_buf(),
            why: format!(
                "its schema version {version} is newer than this binary's {SCHEMA_VERSION}; upgrade flashsale"
            ),
        }.into());
    }
    Ok(version)
}

/// Applies the steps after `from`, each in its own transaction with its version bump.
///
/// Foreign keys are off while steps run (the pragma is a no-op inside a transaction): a
/// step that rebuilds a table drops the old one while other tables still point at it,
/// as SQLite's own procedure for schema changes does. The rows are copied as they are,
/// so no reference is broken; the setting is put back afterwards.
pub(super) fn apply(conn: &mut Connection, from: i64) -> rusqlite::Result<()> {
    let foreign_keys: bool = conn.query_row("PRAGMA foreign_keys", [], |row| row.get(0))?;
    conn.pragma_update(None, "foreign_keys", false)?;
    let result = apply_steps(conn, MIGRATIONS, from);
    conn.pragma_update(None, "foreign_keys", foreign_keys)?;
    result
}

fn apply_steps(conn: &mut Connection, steps: &[&str], from: i64) -> rusqlite::Result<()> {
    for (index, step) in steps
        .iter()
        .enumerate()
        .skip(usize::try_from(from).unwrap_or(0))
    {
        // IMMEDIATE: two processes opening a new file at once must not both migrate it.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let current: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        let target = i64::try_from(index).unwrap_or(i64::MAX) + 1;
        if current >= target {
            continue;
        }
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", target)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let mut conn = Connection::open(&path).unwrap();
        apply(&mut conn, 0).unwrap();
        conn.execute(
            "INSERT INTO products (sku, name, price_cents, stock_total, stock_available) VALUES ('A', 'a', 1, 1, 1)",
            [],
        )
        .unwrap();
        let version = check_ours(&conn, &path).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        apply(&mut conn, version).unwrap();
        let count: i64 = conn
            .query_row("SELECT count(*) FROM products", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 1, "a second open keeps the data");
    }

    /// A file made by the first release (schema step 1 only), with a paid hold, its
    /// order, and an active hold.
    fn version_one(path: &Path) -> Connection {
        let mut conn = Connection::open(path).unwrap();
        apply_steps(&mut conn, &MIGRATIONS[..1], 0).unwrap();
        conn.execute_batch(
            "INSERT INTO products (id, sku, name, price_cents, stock_total, stock_available)
                 VALUES (1, 'A', 'a', 1, 5, 3);
             INSERT INTO holds (id, product_id, buyer, qty, status, created_at, expires_at, closed_at)
                 VALUES ('h-paid', 1, 'ann', 1, 'paid', 10, 100, 50),
                        ('h-live', 1, 'bob', 1, 'active', 20, 200, NULL);
             INSERT INTO orders (id, hold_id, product_id, buyer, qty, held_at, paid_at)
                 VALUES ('o-1', 'h-paid', 1, 'ann', 1, 10, 50);",
        )
        .unwrap();
        conn
    }

    /// The opcodes SQLite would run for one hold's insert.
    fn insert_plan(conn: &Connection) -> Vec<String> {
        let mut stmt = conn
            .prepare(
                "EXPLAIN INSERT INTO holds (id, product_id, buyer, qty, status, created_at, expires_at)
                 VALUES ('x', 1, 'cy', 1, 'active', 1, 2)",
            )
            .unwrap();
        stmt.query_map([], |r| r.get::<_, String>(1))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn the_status_check_step_keeps_every_row_and_rule_and_drops_the_temporary_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        let mut conn = version_one(&path);
        assert!(
            insert_plan(&conn).iter().any(|op| op == "OpenEphemeral"),
            "step 1's IN list builds a temporary table per insert"
        );
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        apply(&mut conn, 1).unwrap();
        assert_eq!(check_ours(&conn, &path).unwrap(), SCHEMA_VERSION);
        let fk: bool = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert!(fk, "the connection's foreign keys are back on");
        assert!(
            !insert_plan(&conn).iter().any(|op| op == "OpenEphemeral"),
            "{:?}",
            insert_plan(&conn)
        );
        let rows: Vec<(String, String)> = conn
            .prepare("SELECT id, status FROM holds ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            rows,
            vec![
                ("h-live".into(), "active".into()),
                ("h-paid".into(), "paid".into())
            ]
        );
        let problems: i64 = conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(problems, 0);
        // Every rule still holds: the status check, the triggers, the indexes.
        let bad_status = conn.execute(
            "INSERT INTO holds (id, product_id, buyer, qty, status, created_at, expires_at, closed_at)
             VALUES ('h-bad', 1, 'cy', 1, 'lost', 1, 2, 3)",
            [],
        );
        assert!(bad_status.is_err(), "an unknown status is refused");
        let second = conn.execute(
            "INSERT INTO holds (id, product_id, buyer, qty, created_at, expires_at)
             VALUES ('h-two', 1, 'bob', 1, 30, 300)",
            [],
        );
        let why = second
            .expect_err("bob already holds his one unit")
            .to_string();
        assert!(why.contains("per_buyer_limit"), "{why}");
        let reopen = conn.execute(
            "UPDATE holds SET status = 'active', closed_at = NULL WHERE id = 'h-paid'",
            [],
        );
        assert!(reopen.unwrap_err().to_string().contains("hold_closed"));
        let orphan = conn.execute(
            "INSERT INTO orders (id, hold_id, product_id, buyer, qty, held_at, paid_at)
             VALUES ('o-2', 'h-live', 1, 'bob', 1, 20, 60)",
            [],
        );
        assert!(
            orphan
                .unwrap_err()
                .to_string()
                .contains("order_without_paid_hold")
        );
        let objects: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE tbl_name = 'holds'
                   AND name IN ('holds_active_by_expiry', 'holds_live_by_buyer', 'holds_status_once',
                                'holds_paid_in_time', 'holds_per_buyer_limit')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            objects, 5,
            "step 1's two indexes and three triggers on holds survive"
        );
    }
}
