//! `Idempotency-Key` (IETF httpapi draft) on add-to-cart and pay: a phone that retries on
//! a flaky connection never takes a second hold or makes a second order.
//!
//! The records live in the database (`idempotency_keys`), not in this process, so a
//! retry that a load balancer sends to another server on the same file replays the same
//! answer. A key belongs to one buyer; it is kept for [`LIFETIME_MS`] (24 hours) and
//! then forgotten. A request is claimed before the engine is called and its answer
//! stored after; a claim whose server vanished is taken over after [`STALE_MS`].

use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

mod server;

pub(super) use server::secret as server_secret;

use super::problem::Problem;
use crate::clock::Millis;
use crate::engine::Engine;
use crate::sql::Result;

/// How long a key is remembered: a day, far beyond any client's retries.
pub const LIFETIME_MS: Millis = 24 * 3600 * 1000;

/// A claim older than this with no answer is from a server that died mid-request.
pub const STALE_MS: Millis = 30_000;

/// The stored first answer to a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
}

/// What to do with a request that carries a key.
#[derive(Debug)]
pub enum Claim {
    /// The first time: run it, then [`finish`].
    Fresh,
    Replay(Stored),
    /// Refused: another body under the same key (422), or the first is still running.
    Refused(Problem),
}

/// SHA-256 of what makes two requests the same: method, path and body.
pub fn fingerprint(method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update([0]);
    h.update(path.as_bytes());
    h.update([0]);
    h.update(body);
    h.finalize().to_vec()
}

type Row = (Vec<u8>, Option<u16>, Option<String>, Option<String>, Millis);

/// Claims `key` for this request, in one transaction that reads, then writes: of two
/// requests racing with one key, exactly one is `Fresh`.
pub fn claim(engine: &Engine, buyer: &str, key: &str, fingerprint: &[u8]) -> Result<Claim> {
    let now = engine.clock().now();
    if let Some(pg) = engine.server() {
        return server::claim(pg, buyer, key, fingerprint, now);
    }
    file(engine)?.write(|tx| {
        let row: Option<Row> = tx
            .prepare_cached(
                "SELECT fingerprint, status, body, location, created_at FROM idempotency_keys
                 WHERE buyer = ?1 AND key = ?2",
            )?
            .query_row(params![buyer, key], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()?;
        if let Some(answer) = judge(row, fingerprint, now) {
            return Ok(answer);
        }
        tx.prepare_cached(
            "INSERT OR REPLACE INTO idempotency_keys (buyer, key, fingerprint, created_at)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![buyer, key, fingerprint, now])?;
        Ok(Claim::Fresh)
    })
}

/// What a key's stored row says about a new request with `fingerprint`: `None` to take
/// the key and run the request, or the answer to give instead.
fn judge(row: Option<Row>, fingerprint: &[u8], now: Millis) -> Option<Claim> {
    match row {
        None => None,
        Some((_, _, _, _, at)) if at + LIFETIME_MS <= now => None,
        Some((fp, _, _, _, _)) if fp != fingerprint => Some(Claim::Refused(Problem::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "bad_request",
            "This Idempotency-Key was used with another request; use a new key for a new request",
        ))),
        Some((_, Some(status), body, location, _)) => Some(Claim::Replay(Stored {
            status,
            body: body.unwrap_or_default(),
            location,
        })),
        Some((_, None, _, _, at)) if at + STALE_MS <= now => None,
        Some(_) => Some(Claim::Refused(Problem::new(
            axum::http::StatusCode::CONFLICT,
            "in_progress",
            "A request with this Idempotency-Key is still being answered; retry in a moment",
        ))),
    }
}

/// Stores the answer to replay for this key.
pub fn finish(engine: &Engine, buyer: &str, key: &str, answer: &Stored) -> Result<()> {
    if let Some(pg) = engine.server() {
        return server::finish(pg, buyer, key, answer);
    }
    file(engine)?.write(|tx| {
        tx.prepare_cached(
            "UPDATE idempotency_keys SET status = ?3, body = ?4, location = ?5
             WHERE buyer = ?1 AND key = ?2",
        )?
        .execute(params![
            buyer,
            key,
            answer.status,
            answer.body,
            answer.location
        ])?;
        Ok(())
    })
}

/// Forgets a claim whose request was turned away for a passing reason (overloaded,
/// unavailable), so the client's retry is served rather than replayed the refusal.
pub fn abandon(engine: &Engine, buyer: &str, key: &str) -> Result<()> {
    if let Some(pg) = engine.server() {
        return server::abandon(pg, buyer, key);
    }
    file(engine)?.write(|tx| {
        tx.prepare_cached(
            "DELETE FROM idempotency_keys WHERE buyer = ?1 AND key = ?2 AND status IS NULL",
        )?
        .execute(params![buyer, key])?;
        Ok(())
    })
}

/// Deletes keys past their lifetime; returns how many.
pub fn purge(engine: &Engine) -> Result<usize> {
    let before = engine.clock().now() - LIFETIME_MS;
    if let Some(pg) = engine.server() {
        return server::purge(pg, before);
    }
    file(engine)?.write(|tx| {
        Ok(tx
            .prepare_cached("DELETE FROM idempotency_keys WHERE created_at < ?1")?
            .execute([before])?)
    })
}

/// The SQLite file the keys are kept in, when the sale is on one.
pub(super) fn file(engine: &Engine) -> Result<&crate::engine::FileEngine> {
    engine
        .file()
        .ok_or_else(|| crate::Error::Usage("this sale is not on an SQLite file".into()).into())
}
