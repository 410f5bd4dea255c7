//! Optimistic's reads of `(stock, version)`, served by one reader thread that answers
//! every request waiting for the same product with one `SELECT` (request coalescing).
//!
//! Why: the optimistic strategy reads without a lock, and with thousands of buyers a
//! pooled connection per read became the bottleneck — r2d2's mutex and condvar handed
//! 16 connections to 10,000 threads one wake-up at a time (perf: futex wakes took over
//! half the buyers' CPU; 50,000 buyers took 2–3 s). Each answer is a committed state
//! read after the request arrived, so it is as fresh as a read of its own. The read
//! takes no lock in SQLite (WAL): the writer is never held up by it.

use crossbeam_channel::{Receiver, Sender, unbounded};
use rusqlite::Connection;

use super::reply::{self, Reply, Wake};
use crate::hold;
use crate::ids::ProductId;
use crate::sql::Result;

/// The most requests answered in one round.
const MAX: usize = 8192;

struct Request {
    product: ProductId,
    reply: Reply<(i64, i64)>,
}

pub(super) struct ReaderHandle {
    requests: Sender<Request>,
}

impl ReaderHandle {
    /// `(stock_available, version)` of the product, committed, read after this call began.
    pub(super) fn stock(&self, product: ProductId) -> Result<(i64, i64)> {
        let (reply, answer) = reply::slot();
        super::arrival::arrived();
        self.requests
            .send(Request { product, reply })
            .map_err(|_| crate::Error::Stopped)?;
        answer.wait()
    }
}

/// Starts the reader on its own connection; `wake` is the writer's waker thread. The
/// thread ends when the engine (holding the handle) is gone.
pub(super) fn spawn(conn: Connection, wake: Sender<Vec<Wake>>) -> Result<ReaderHandle> {
    let (requests, incoming) = unbounded();
    std::thread::Builder::new()
        .name("reader".into())
        .spawn(move || run(&conn, &incoming, &wake))?;
    Ok(ReaderHandle { requests })
}

fn run(conn: &Connection, incoming: &Receiver<Request>, wake: &Sender<Vec<Wake>>) {
    let mut batch: Vec<Request> = Vec::with_capacity(MAX);
    let mut read: Vec<(ProductId, Option<(i64, i64)>)> = Vec::new();
    while let Ok(first) = incoming.recv() {
        batch.push(first);
        batch.extend(incoming.try_iter().take(MAX - 1));
        read.clear();
        let mut wakes = Vec::with_capacity(batch.len());
        for request in batch.drain(..) {
            let known = match read.iter().find(|(p, _)| *p == request.product) {
                Some((_, value)) => *value,
                None => {
                    let value = hold::available(conn, request.product).ok();
                    read.push((request.product, value));
                    value
                }
            };
            // A failed read is retried alone, so its error goes to this request.
            let answer = match known {
                Some(value) => Ok(value),
                None => hold::available(conn, request.product),
            };
            wakes.extend(request.reply.fill(answer));
        }
        if wake.send(wakes).is_err() {
            return;
        }
    }
}
