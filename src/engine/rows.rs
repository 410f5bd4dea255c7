//! The queue's holds written in bulk: many rows to an INSERT statement.
//!
//! Why fixed arities (64, 16, 4, 1 rows) and not one statement per batch size: every
//! arity is one cached prepared statement, compiled once per connection, and a batch of
//! any size is a few of them (300 holds: four of 64, three of 16, three of 4). Each
//! statement run costs a bind-step-reset round and its triggers' setup; 64 rows share
//! one. The per-buyer trigger still runs for every row: the schema's backstop is not
//! bypassed. A row it refuses undoes its statement, and the caller hears it (see
//! `Decisions` in `queue.rs`: the writer may leave the limit to the trigger and decide
//! again when it refuses).

use std::sync::OnceLock;

use rusqlite::Connection;

use crate::hold::{self, Hold};
use crate::sql::Result;

/// Rows per INSERT statement, largest first.
const ARITIES: [usize; 4] = [64, 16, 4, 1];

/// `INSERT INTO holds … VALUES (…), (…), …` with `rows` rows.
fn insert_sql(rows: usize) -> &'static str {
    static SQL: OnceLock<Vec<String>> = OnceLock::new();
    let all = SQL.get_or_init(|| {
        ARITIES
            .iter()
            .map(|&n| {
                let values = vec!["(?, ?, ?, ?, 'active', ?, ?)"; n].join(", ");
                format!(
                    "INSERT INTO holds (id, product_id, buyer, qty, status, created_at, expires_at) VALUES {values}"
                )
            })
            .collect()
    });
    let at = ARITIES
        .iter()
        .position(|&n| n == rows)
        .unwrap_or(ARITIES.len() - 1);
    &all[at]
}

/// Inserts active holds, in order, through the fixed-arity statements. False when the
/// per-buyer trigger refused one (the rows of the statements before it stay written).
pub(super) fn insert_holds(conn: &Connection, holds: &[Hold]) -> Result<bool> {
    let mut rest = holds;
    // A hyphenated UUID, encoded on the stack (SQLite copies bound text).
    let mut id_text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    while !rest.is_empty() {
        let n = ARITIES
            .iter()
            .copied()
            .find(|&n| n <= rest.len())
            .unwrap_or(1);
        let (chunk, tail) = rest.split_at(n);
        let mut stmt = conn.prepare_cached(insert_sql(n))?;
        for (i, h) in chunk.iter().enumerate() {
            let at = i * 6;
            stmt.raw_bind_parameter(at + 1, &*h.id.0.hyphenated().encode_lower(&mut id_text))?;
            stmt.raw_bind_parameter(at + 2, h.product_id.0)?;
            stmt.raw_bind_parameter(at + 3, h.buyer.as_str())?;
            stmt.raw_bind_parameter(at + 4, h.qty)?;
            stmt.raw_bind_parameter(at + 5, h.created_at)?;
            stmt.raw_bind_parameter(at + 6, h.expires_at)?;
        }
        match stmt.raw_execute() {
            Ok(_) => {}
            Err(e) if hold::refused_by_limit(&e) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        rest = tail;
    }
    Ok(true)
}
