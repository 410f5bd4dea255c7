//! The queue strategy: the writer thread takes add-to-cart requests first-in first-out
//! and commits whatever is waiting (up to a batch) in one transaction — group commit
//! (`group.rs`, which payments and other changes join). One fsync covers hundreds of
//! holds, and nobody waits in SQLite's busy handler.

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::{Connection, params};

use super::reply::{self, Reply};
use super::rows;
use super::writer::{Job, WriterHandle};
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::hold::{self, Hold, HoldKind, ProductInfo, Returned};
use crate::ids::{HoldId, ProductId};

pub(super) struct Request {
    product: Arc<ProductInfo>,
    buyer: String,
    qty: i64,
    reply: Reply<Hold>,
}

/// Sends the request down the writer's queue and waits for the answer, which comes only
/// after the batch holding it committed.
pub(super) fn reserve(
    writer: &WriterHandle,
    product: &Arc<ProductInfo>,
    buyer: &str,
    qty: i64,
) -> Result<Hold> {
    let (reply, answer) = reply::slot();
    writer.submit(Job::Queue(Request {
        product: Arc::clone(product),
        buyer: buyer.to_owned(),
        qty,
        reply,
    }))?;
    answer.wait()
}

impl Request {
    /// Hands the answer over; returns the thread to wake.
    pub(super) fn answer(self, result: Result<Hold>) -> Option<std::thread::Thread> {
        self.reply.fill(result)
    }
}

type BatchOutcome = (Vec<Result<Hold>>, Vec<Returned>);

/// One product's books within a batch, kept in memory: the writer holds the write lock
/// for the whole transaction, so nobody else can change them meanwhile.
struct Books<'b> {
    id: ProductId,
    /// Units on sale: the database's number minus what this batch granted so far.
    left: i64,
    /// Units this batch granted (written back with one UPDATE at the end).
    used: i64,
    /// Lazy expiry ran for this product in this batch (once is enough).
    swept: bool,
    /// Live units per buyer: the database's, plus this batch's grants.
    live: HashMap<&'b str, i64>,
}

/// Consecutive add-to-carts of a group commit (`group.rs`), inside its transaction, in
/// arrival order. The writer decides every request in memory, against the stock and the
/// per-buyer units left by the ones before it, read once per segment; then it writes one
/// stock UPDATE per product and the granted holds with multi-row INSERTs (`rows.rs`).
/// The schema's CHECKs and triggers still check every row.
pub(super) fn commit_segment(
    tx: &Connection,
    batch: &[&Request],
    now: Millis,
    ttl: Millis,
) -> Result<BatchOutcome> {
    // Few products per batch (usually one): a small vector beats a hash map here.
    let mut books: Vec<Books<'_>> = Vec::new();
    for r in batch {
        if !books.iter().any(|b| b.id == r.product.id) {
            books.push(read_books(tx, r.product.id, batch)?);
        }
    }
    let mut returned = Vec::new();
    let mut granted = Vec::with_capacity(batch.len());
    let mut results: Vec<Result<Hold>> = Vec::with_capacity(batch.len());
    for r in batch {
        let Some(b) = books.iter_mut().find(|b| b.id == r.product.id) else {
            unreachable!("every product of the batch has its books");
        };
        if b.left < r.qty && !b.swept {
            // Lazy expiry, once per product and batch. It changes buyers' live units
            // too, so they are read again (plus what this batch granted).
            b.swept = true;
            let back = hold::expire_product(tx, b.id, now)?;
            if !back.is_empty() {
                b.left += back.iter().map(|x| x.qty).sum::<i64>();
                let fresh = read_books(tx, b.id, batch)?;
                b.live = fresh.live;
                // (The requests decided so far are `batch[..results.len()]`.)
                let decided = batch.iter().zip(&results);
                for (earlier, _) in decided.filter(|(e, res)| e.product.id == b.id && res.is_ok()) {
                    *b.live.entry(earlier.buyer.as_str()).or_insert(0) += earlier.qty;
                }
                returned.extend(back);
            }
        }
        if b.left < r.qty {
            results.push(Err(hold::sold_out(&r.product, b.left, r.qty)));
            continue;
        }
        let live = b.live.get(r.buyer.as_str()).copied().unwrap_or(0);
        if live + r.qty > r.product.max_per_buyer {
            results.push(Err(Error::LimitReached {
                product: r.product.name.clone(),
                buyer: r.buyer.clone(),
                held: live,
                limit: r.product.max_per_buyer,
                requested: r.qty,
            }));
            continue;
        }
        b.left -= r.qty;
        b.used += r.qty;
        *b.live.entry(r.buyer.as_str()).or_insert(0) += r.qty;
        let hold = Hold {
            id: HoldId::at(now),
            product_id: b.id,
            buyer: r.buyer.clone(),
            qty: r.qty,
            created_at: now,
            expires_at: now + ttl.max(1),
            kind: HoldKind::Held,
        };
        granted.push(hold.clone());
        results.push(Ok(hold));
    }
    for b in books.iter().filter(|b| b.used > 0) {
        tx.prepare_cached(
            "UPDATE products SET stock_available = stock_available - ?1, version = version + 1 WHERE id = ?2",
        )?
        .execute(params![b.used, b.id])?;
    }
    rows::insert_holds(tx, &granted)?;
    Ok((results, returned))
}

/// A product's stock and its buyers' live units in this batch, from the database.
fn read_books<'b>(conn: &Connection, id: ProductId, batch: &[&'b Request]) -> Result<Books<'b>> {
    let (left, _) = hold::available(conn, id)?;
    let mut buyers: Vec<&str> = batch
        .iter()
        .filter(|r| r.product.id == id)
        .map(|r| r.buyer.as_str())
        .collect();
    buyers.sort_unstable();
    buyers.dedup();
    let mut live = HashMap::with_capacity(buyers.len());
    rows::live_units(conn, id, &buyers, &mut live)?;
    Ok(Books {
        id,
        left,
        used: 0,
        swept: false,
        live,
    })
}
