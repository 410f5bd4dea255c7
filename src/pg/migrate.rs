//! Append-only migrations for PostgreSQL, recorded in `flashsale_schema` (PostgreSQL has
//! no `user_version`). A shipped step is never edited; a change is a new step at the end.

use postgres::Client;

use crate::error::Error;
use crate::sql::Result;

const STEPS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("http.sql"),
    include_str!("journal.sql"),
    include_str!("per_buyer_lock.sql"),
    include_str!("reserve.sql"),
];

pub const SCHEMA_VERSION: i32 = STEPS.len() as i32;

/// Any number, the same in every process: the advisory lock that lets one process at a
/// time migrate a database.
const MIGRATION_LOCK: i64 = 0x666c_6173_6873;

/// The database's schema step, refusing databases that are not (or not yet) ours. An
/// empty database is step 0.
pub fn check_ours(client: &mut Client, url: &str) -> Result<i32> {
    if let Some(version) = version(client)? {
        if version > SCHEMA_VERSION {
            return Err(Error::NotADatabase {
                path: url.into(),
                why: format!(
                    "its schema version {version} is newer than this binary's {SCHEMA_VERSION}; upgrade flashsale"
                ),
            }.into());
        }
        return Ok(version);
    }
    let tables: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()",
            &[],
        )?
        .get(0);
    if tables > 0 {
        return Err(Error::NotADatabase {
            path: url.into(),
            why: format!(
                "it holds {tables} tables of some other program; it was left untouched (create an empty database with `createdb`)"
            ),
        }.into());
    }
    Ok(0)
}

fn version(client: &mut impl postgres::GenericClient) -> Result<Option<i32>> {
    // A scan of the catalog under the statement's snapshot, not `to_regclass`: that one
    // reads the catalog cache, which an advisory lock does not refresh, so a process
    // that waited for another's migration would not see the table it just committed.
    let ours: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables
                            WHERE schemaname = current_schema() AND tablename = 'flashsale_schema')",
            &[],
        )?
        .get(0);
    if !ours {
        return Ok(None);
    }
    let version: Option<i32> = client
        .query_one("SELECT max(version) FROM flashsale_schema", &[])?
        .get(0);
    Ok(Some(version.unwrap_or(0)))
}

/// Applies the steps after `from`, each in its own transaction with its version.
pub fn apply(client: &mut Client, from: i32) -> Result<()> {
    for (index, step) in STEPS
        .iter()
        .enumerate()
        .skip(usize::try_from(from).unwrap_or(0))
    {
        let target = i32::try_from(index).unwrap_or(i32::MAX) + 1;
        let mut tx = client.transaction()?;
        // Two processes opening a new database at once: the second waits here, then
        // finds the step done.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        if version(&mut tx)?.unwrap_or(0) >= target {
            continue;
        }
        tx.batch_execute(step)?;
        tx.execute("DELETE FROM flashsale_schema", &[])?;
        tx.execute(
            "INSERT INTO flashsale_schema (version) VALUES ($1)",
            &[&target],
        )?;
        tx.commit()?;
    }
    Ok(())
}
