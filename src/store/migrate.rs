//! Append-only migrations keyed on `PRAGMA user_version`. A shipped step is never edited;
//! a schema change is a new step at the end.

use std::path::Path;

use rusqlite::Connection;

use crate::error::{Error, Result};

/// The schema the binary embeds (top-level `schema.sql`).
pub const SCHEMA_SQL: &str = include_str!("../../schema.sql");

/// Step 2: `holds.short`, the units a closed hold could not give back to a full stock.
const UNRETURNED_SQL: &str = include_str!("migrations/unreturned.sql");

const MIGRATIONS: &[&str] = &[SCHEMA_SQL, UNRETURNED_SQL];

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
        });
    }
    if version > SCHEMA_VERSION {
        return Err(Error::NotADatabase {
            path: path.to_path_buf(),
            why: format!(
                "its schema version {version} is newer than this binary's {SCHEMA_VERSION}; upgrade flashsale"
            ),
        });
    }
    Ok(version)
}

/// Applies the steps after `from`, each in its own transaction with its version bump.
pub(super) fn apply(conn: &mut Connection, from: i64) -> rusqlite::Result<()> {
    for (index, step) in MIGRATIONS
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
}
