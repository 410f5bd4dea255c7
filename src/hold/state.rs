//! A hold read back by its own buyer (the HTTP API's `GET /api/holds/{id}`).

use rusqlite::Connection;

use super::{Hold, HoldKind, HoldState, hold_row};
use crate::error::Error;
use crate::ids::HoldId;
use crate::sql::Result;

/// One buyer's hold. Someone else's is `NotYourHold`, which front ends must present
/// exactly as `HoldNotFound`: an id alone never reveals that a hold exists.
pub fn hold_state(conn: &Connection, id: HoldId, buyer: &str) -> Result<HoldState> {
    let row = hold_row(conn, id)?;
    if row.buyer != buyer {
        return Err(Error::NotYourHold { id }.into());
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
