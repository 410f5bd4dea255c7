//! The queue strategy: one writer thread takes add-to-cart requests first-in first-out
//! and commits whatever is waiting (up to a batch) in one transaction — group commit.
//! One fsync covers hundreds of holds, and nobody waits in SQLite's busy handler.

use std::collections::HashMap;
use std::sync::Weak;

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use rusqlite::{Connection, TransactionBehavior, params};

use super::{Inner, ReturnReason};
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::hold::{self, Hold, ProductInfo, Returned};
use crate::ids::ProductId;

struct Request {
    product: ProductInfo,
    buyer: String,
    qty: i64,
    reply: Sender<Result<Hold>>,
}

#[derive(Clone)]
pub(super) struct QueueHandle {
    requests: Sender<Request>,
}

impl QueueHandle {
    pub(super) fn reserve(&self, product: &ProductInfo, buyer: &str, qty: i64) -> Result<Hold> {
        let (reply, answer) = bounded(1);
        self.requests
            .send(Request {
                product: product.clone(),
                buyer: buyer.to_owned(),
                qty,
                reply,
            })
            .map_err(|_| Error::Stopped)?;
        answer.recv().map_err(|_| Error::Stopped)?
    }
}

pub(super) fn spawn(inner: &Inner, engine: Weak<Inner>) -> Result<QueueHandle> {
    let conn = inner.store.dedicated()?;
    let batch = inner.config.queue_batch.max(1);
    let (requests, incoming) = unbounded();
    std::thread::Builder::new()
        .name("queue-writer".into())
        .spawn(move || run(conn, &incoming, &engine, batch))?;
    Ok(QueueHandle { requests })
}

fn run(mut conn: Connection, incoming: &Receiver<Request>, engine: &Weak<Inner>, max: usize) {
    let mut batch = Vec::with_capacity(max);
    // Ends when every handle (and so the engine) is gone.
    while let Ok(first) = incoming.recv() {
        batch.push(first);
        batch.extend(incoming.try_iter().take(max - 1));
        let Some(inner) = engine.upgrade() else {
            for r in batch.drain(..) {
                let _ = r.reply.send(Err(Error::Stopped));
            }
            return;
        };
        let now = inner.clock.now();
        let ttl = inner.ttl_ms();
        let (results, returned) = match commit_batch(&mut conn, &batch, now, ttl) {
            Ok(done) => {
                inner
                    .counters
                    .commits
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                done
            }
            Err(e) => {
                inner
                    .counters
                    .rollbacks
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
        // Answers go out only after the commit: a hold reported is a durable hold.
        for (request, result) in batch.drain(..).zip(results) {
            if let Ok(hold) = &result {
                inner.held(hold);
            }
            let _ = request.reply.send(result);
        }
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
    let mut left: HashMap<ProductId, i64> = HashMap::new();
    let mut used: HashMap<ProductId, i64> = HashMap::new();
    let mut swept: Vec<ProductId> = Vec::new();
    let mut returned = Vec::new();
    let mut results = Vec::with_capacity(batch.len());
    for r in batch {
        let id = r.product.id;
        let stock = match left.get(&id) {
            Some(n) => *n,
            None => {
                let n = hold::available(&tx, id)?.0;
                left.insert(id, n);
                n
            }
        };
        let mut stock = stock;
        if stock < r.qty && !swept.contains(&id) {
            // Lazy expiry, once per product and batch.
            swept.push(id);
            let back = hold::expire_product(&tx, id, now)?;
            stock += back.iter().map(|b| b.qty).sum::<i64>();
            left.insert(id, stock);
            returned.extend(back);
        }
        if stock < r.qty {
            results.push(Err(hold::sold_out(&r.product, stock, r.qty)));
            continue;
        }
        let outcome = hold::check_limit(&tx, &r.product, &r.buyer, r.qty)
            .and_then(|()| hold::insert_hold(&tx, &r.product, &r.buyer, r.qty, now, ttl));
        if outcome.is_ok() {
            left.insert(id, stock - r.qty);
            *used.entry(id).or_default() += r.qty;
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
