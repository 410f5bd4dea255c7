//! A hold read back by its own buyer (the HTTP API's `GET /api/holds/{id}`).

use rusqlite::Connection;

use super::{Hold, HoldKind, hold_row};
use crate::error::{Error, Result};
use crate::ids::HoldId;

/// A hold as its own buyer sees it, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HoldState {
    pub hold: Hold,
    /// `active`, `paid`, `expired` or `released` (an active hold past its deadline is
    /// still `active` here until the sweeper or a checkout closes it).
    pub status: String,
    pub extensions: i64,
}

/// One buyer's hold. Someone else's is `NotYourHold`, which front ends must present
/// exactly as `HoldNotFound`: an id alone never reveals that a hold exists.
pub fn hold_state(conn: &Connection, id: HoldId, buyer: &str) -> Result<HoldState> {
    let row = hold_row(conn, id)?;
    if row.buyer != buyer {
        return Err(Error::NotYourHold { id });
    }
    Ok(HoldState {
        hold: Hold {
            id,
            product_id: row.product_id,
            buyer: row.buyer,
            qty: row.qty,
            created_at: row.created_at,
            expires_at: row.expires_at,
            kind: HoldKind::Held,
        },
        status: row.status,
        extensions: row.extensions,
    })
}
