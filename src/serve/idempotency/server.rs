//! The Idempotency-Key records and the token secret on PostgreSQL: the same rules as on
//! an SQLite file (`judge`), with the row locked (`FOR UPDATE`) where SQLite's `BEGIN
//! IMMEDIATE` holds the whole file, and `ON CONFLICT` where it says `OR IGNORE`.

use super::{Claim, Row, Stored, judge};
use crate::clock::Millis;
use crate::pg::PgStore;
use crate::sql::Result;

pub(super) fn claim(
    pg: &PgStore,
    buyer: &str,
    key: &str,
    fingerprint: &[u8],
    now: Millis,
) -> Result<Claim> {
    let mut conn = pg.conn()?;
    let mut tx = conn.transaction()?;
    let inserted = tx.execute(
        "INSERT INTO idempotency_keys (buyer, key, fingerprint, created_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        &[&buyer, &key, &fingerprint, &now],
    )?;
    if inserted == 1 {
        tx.commit()?;
        return Ok(Claim::Fresh);
    }
    let row: Option<Row> = tx
        .query_opt(
            "SELECT fingerprint, status, body, location, created_at FROM idempotency_keys
             WHERE buyer = $1 AND key = $2 FOR UPDATE",
            &[&buyer, &key],
        )?
        .map(|r| {
            let status: Option<i32> = r.get(1);
            (
                r.get(0),
                status.and_then(|s| u16::try_from(s).ok()),
                r.get(2),
                r.get(3),
                r.get(4),
            )
        });
    if let Some(answer) = judge(row, fingerprint, now) {
        return Ok(answer);
    }
    tx.execute(
        "UPDATE idempotency_keys
         SET fingerprint = $3, created_at = $4, status = NULL, body = NULL, location = NULL
         WHERE buyer = $1 AND key = $2",
        &[&buyer, &key, &fingerprint, &now],
    )?;
    tx.commit()?;
    Ok(Claim::Fresh)
}

pub(super) fn finish(pg: &PgStore, buyer: &str, key: &str, answer: &Stored) -> Result<()> {
    pg.conn()?.execute(
        "UPDATE idempotency_keys SET status = $3, body = $4, location = $5
         WHERE buyer = $1 AND key = $2",
        &[
            &buyer,
            &key,
            &i32::from(answer.status),
            &answer.body,
            &answer.location,
        ],
    )?;
    Ok(())
}

pub(super) fn abandon(pg: &PgStore, buyer: &str, key: &str) -> Result<()> {
    pg.conn()?.execute(
        "DELETE FROM idempotency_keys WHERE buyer = $1 AND key = $2 AND status IS NULL",
        &[&buyer, &key],
    )?;
    Ok(())
}

pub(super) fn purge(pg: &PgStore, before: Millis) -> Result<usize> {
    let n = pg.conn()?.execute(
        "DELETE FROM idempotency_keys WHERE created_at < $1",
        &[&before],
    )?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// The token secret, created by whichever server starts first.
pub(crate) fn secret(pg: &PgStore, name: &str, fresh: &[u8], now: Millis) -> Result<Vec<u8>> {
    let mut conn = pg.conn()?;
    conn.execute(
        "INSERT INTO server_secrets (name, secret, created_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
        &[&name, &fresh, &now],
    )?;
    Ok(conn
        .query_one(
            "SELECT secret FROM server_secrets WHERE name = $1",
            &[&name],
        )?
        .get(0))
}
