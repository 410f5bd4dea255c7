//! The lab's temporary database: the shop's own schema, not a copy of it.
//!
//! Every lab run starts from a new file holding exactly what `flashsale` creates for a
//! sale: top-level `schema.sql` and every migration after it, applied by
//! [`Store::open`] — the same CHECKs and triggers (the per-buyer limit among them) that a
//! real sale runs on. A scenario's setup only adds rows. So what the lab shows is what
//! the shop's database allows, and a schema change reaches the lab by itself.
//!
//! Making that file costs a handful of committed transactions with fsyncs, and the
//! matrix alone needs about two thousand fresh databases; so the shop's file is made
//! once per process and every run starts from a byte-for-byte copy of it.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;

use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::store::{Store, StoreOptions, Synchronous};

/// The shop's new database, as bytes.
static TEMPLATE: OnceLock<Vec<u8>> = OnceLock::new();

/// Writes a new database at `path` with the shop's schema and migrations, and no rows.
///
/// # Errors
/// The shop's database could not be made (the shop's own error, naming the file), or
/// `path` cannot be written.
pub fn create(path: &Path) -> Result<()> {
    let bytes = match TEMPLATE.get() {
        Some(bytes) => bytes,
        None => {
            // Two threads may both make one; the first kept wins and both are the same.
            let made = make_template()?;
            TEMPLATE.get_or_init(|| made)
        }
    };
    std::fs::write(path, bytes).map_err(|e| Error::CannotOpen {
        path: path.to_path_buf(),
        why: e.to_string(),
    })
}

/// A new temporary folder for one run's database file (and its WAL and shared-memory
/// files). `TMPDIR` when set; else memory-backed `/dev/shm` where the machine has it:
/// the files are scratch, locking on tmpfs is the same as on a disk, and the matrix's
/// thousands of runs spend half their time creating and removing files on a disk.
///
/// # Errors
/// The folder cannot be created.
pub fn scratch_dir() -> std::io::Result<tempfile::TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("flashsale-lab-");
    let shm = Path::new("/dev/shm");
    if std::env::var_os("TMPDIR").is_none()
        && shm.is_dir()
        && let Ok(dir) = builder.tempdir_in(shm)
    {
        return Ok(dir);
    }
    builder.tempdir()
}

/// Creates a database the way the shop does and reads it back whole.
fn make_template() -> Result<Vec<u8>> {
    let dir = tempfile::Builder::new()
        .prefix("flashsale-lab-schema-")
        .tempdir()?;
    let path = dir.path().join("shop.db");
    let options = StoreOptions {
        synchronous: Synchronous::Normal,
        pool_size: 1,
        ..StoreOptions::default()
    };
    let (store, _) = Store::open(&path, options)?;
    drop(store);
    // Every page into the main file and the WAL emptied, so the file alone is the whole
    // database. Its header keeps WAL mode, which is a property of the file: each copy
    // opens in WAL mode as the shop's file does.
    let conn = Connection::open(&path).map_err(crate::sql::sqlite_error)?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .map_err(crate::sql::sqlite_error)?;
    let bytes = std::fs::read(&path)?;
    drop(conn);
    Ok(bytes)
}

/// What the lab shows of a database: the tables a scenario's SQL names, in the order it
/// first names them, each with the columns its steps name (and always the first column,
/// the key rows are matched on). The shop's schema has about ten tables and ten columns
/// a hold; a student needs the ones the sessions read and write, not the ones the setup
/// must fill in (a price, a name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    /// `(table, columns)` pairs.
    pub tables: Vec<(String, Vec<String>)>,
}

impl View {
    /// The view of the database behind `conn` for a scenario whose setup is `setup` and
    /// whose steps run `steps`.
    #[must_use]
    pub fn of<'a>(
        conn: &Connection,
        setup: impl IntoIterator<Item = &'a str>,
        steps: impl IntoIterator<Item = &'a str>,
    ) -> View {
        let in_steps: BTreeSet<String> = steps.into_iter().flat_map(words).collect();
        let mut order: Vec<String> = Vec::new();
        let mut seen = BTreeSet::new();
        for sql in setup {
            for word in words(sql) {
                if seen.insert(word.clone()) {
                    order.push(word);
                }
            }
        }
        // Tables the steps name without the setup come after the setup's, in name order.
        order.extend(in_steps.iter().filter(|w| !seen.contains(*w)).cloned());
        let existing = table_names(conn);
        let tables = order
            .iter()
            .filter(|w| existing.contains(*w))
            .map(|table| {
                let columns = column_names(conn, table)
                    .into_iter()
                    .enumerate()
                    .filter(|(i, c)| *i == 0 || in_steps.contains(&c.to_ascii_lowercase()))
                    .map(|(_, c)| c)
                    .collect();
                (table.clone(), columns)
            })
            .collect();
        View { tables }
    }
}

/// The identifiers in an SQL text, lower-cased (keywords and values too: they name no
/// table, so they do no harm).
fn words(sql: &str) -> impl Iterator<Item = String> + '_ {
    sql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
}

fn table_names(conn: &Connection) -> BTreeSet<String> {
    conn.prepare(
        "SELECT lower(name) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
    .unwrap_or_default()
}

fn column_names(conn: &Connection, table: &str) -> Vec<String> {
    conn.prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
        .and_then(|mut s| s.query_map([table], |r| r.get(0))?.collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lab.db");
        create(&path).expect("create");
        let conn = Connection::open(&path).expect("open");
        (dir, conn)
    }

    #[test]
    fn a_new_lab_database_is_the_shops_schema_at_its_latest_version_in_wal_mode() {
        let (_dir, conn) = fresh();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version, crate::store::SCHEMA_VERSION);
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("mode");
        assert_eq!(mode, "wal");
        let trigger: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name = 'holds_per_buyer_limit'",
                [],
                |r| r.get(0),
            )
            .expect("trigger");
        assert_eq!(trigger, 1, "the per-buyer limit is the shop's own trigger");
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM products", [], |r| r.get(0))
            .expect("products");
        assert_eq!(rows, 0, "no sale: a scenario brings its own rows");
    }

    #[test]
    fn the_view_shows_the_tables_the_sql_names_with_the_columns_its_steps_name() {
        let (_dir, conn) = fresh();
        let view = View::of(
            &conn,
            [
                "INSERT INTO products (id, sku, name, price_cents, stock_total, stock_available) VALUES (1, 'P', 'p', 1, 1, 1)",
                "INSERT INTO holds (id, product_id, buyer, qty, status, created_at, expires_at) VALUES ('h', 1, 'a', 1, 'active', 1, 2)",
            ],
            [
                "UPDATE Products SET stock_available = stock_available - 1, version = version + 1",
                "UPDATE holds SET status = 'paid', closed_at = 5 WHERE id = 'h' AND buyer = 'a'",
                "SELECT count(*) FROM refunds",
            ],
        );
        let names = |t: &[&str]| t.iter().map(|c| (*c).to_string()).collect::<Vec<_>>();
        assert_eq!(
            view.tables,
            vec![
                (
                    "products".to_string(),
                    names(&["id", "stock_available", "version"])
                ),
                (
                    "holds".to_string(),
                    names(&["id", "buyer", "status", "closed_at"])
                ),
                ("refunds".to_string(), names(&["id", "buyer"])),
            ]
        );
    }
}
