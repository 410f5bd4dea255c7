//! The queue strategy: the writer thread takes add-to-cart requests first-in first-out
//! and commits whatever is waiting (up to a batch) in one transaction — group commit.
//! One fsync covers hundreds of holds, and nobody waits in SQLite's busy handler.

use std::sync::Arc;

use rusqlite::{Connection, TransactionBehavior, params};

use super::reply::{self, Reply};
use super::writer::{Job, WriterHandle};
use super::{Inner, ReturnReason};
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::hold::{self, Hold, ProductInfo, Returned};
use crate::ids::ProductId;

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

/// Commits a group of consecutive requests and answers each of them; empties `batch`.
pub(super) fn serve(
    conn: &mut Connection,
    inner: &Inner,
    batch: &mut Vec<Request>,
    wakes: &mut Vec<std::thread::Thread>,
) {
    let now = inner.clock.now();
    let ttl = inner.ttl_ms();
    let (results, returned) = match commit_batch(conn, batch, now, ttl) {
        Ok(done) => {
            inner.counted_commit();
            done
        }
        Err(e) => {
            inner.counted_failure(&e);
            let why = e.to_string();
            let busy = matches!(e, Error::Busy);
            let results = batch
                .iter()
                .map(|_| {
                    Err(if busy {
                        Error::Busy
                    } else {
                        Error::BatchFailed { why: why.clone() }
                    })
                })
                .collect();
            (results, Vec::new())
        }
    };
    inner.returned(returned, ReturnReason::Expired);
    // Answers go out only after the commit: a hold reported is a durable hold. (The
    // caller, `Engine::reserve`, publishes the hold.)
    for (request, result) in batch.drain(..).zip(results) {
        wakes.extend(request.reply.fill(result));
    }
}

type BatchOutcome = (Vec<Result<Hold>>, Vec<Returned>);

/// One transaction for the whole batch, in arrival order. IMMEDIATE: it reads the stock
/// and then writes. Each request's decision is made against the stock left by the ones
/// before it; the stock is written once per product at the end.
fn commit_batch(
    conn: &mut Connection,
    batch: &[Request],
    now: Millis,
    ttl: Millis,
) -> Result<BatchOutcome> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Few products per batch (usually one): a small vector beats a hash map here.
    let mut left: Vec<(ProductId, i64)> = Vec::new();
    let mut used: Vec<(ProductId, i64)> = Vec::new();
    let mut swept: Vec<ProductId> = Vec::new();
    let mut returned = Vec::new();
    let mut results = Vec::with_capacity(batch.len());
    for r in batch {
        let id = r.product.id;
        let slot = match left.iter().position(|(p, _)| *p == id) {
            Some(i) => i,
            None => {
                left.push((id, hold::available(&tx, id)?.0));
                left.len() - 1
            }
        };
        if left[slot].1 < r.qty && !swept.contains(&id) {
            // Lazy expiry, once per product and batch.
            swept.push(id);
            let back = hold::expire_product(&tx, id, now)?;
            left[slot].1 += back.iter().map(|b| b.qty).sum::<i64>();
            returned.extend(back);
        }
        let stock = left[slot].1;
        if stock < r.qty {
            results.push(Err(hold::sold_out(&r.product, stock, r.qty)));
            continue;
        }
        let outcome = hold::check_limit(&tx, &r.product, &r.buyer, r.qty)
            .and_then(|()| hold::insert_hold(&tx, &r.product, &r.buyer, r.qty, now, ttl));
        if outcome.is_ok() {
            left[slot].1 -= r.qty;
            match used.iter_mut().find(|(p, _)| *p == id) {
                Some((_, q)) => *q += r.qty,
                None => used.push((id, r.qty)),
            }
        }
        results.push(outcome);
    }
    for (id, qty) in used {
        tx.prepare_cached(
            "UPDATE products SET stock_available = stock_available - ?1, version = version + 1 WHERE id = ?2",
        )?
        .execute(params![qty, id])?;
    }
    tx.commit()?;
    Ok((results, returned))
}
