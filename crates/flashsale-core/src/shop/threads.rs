//! The queue's writer thread (group commit per process, for stores that do not group
//! commits themselves). It holds a weak reference and ends when the last handle of the
//! shop goes.

use std::sync::Weak;
use std::sync::atomic::Ordering;

use crossbeam_channel::{Receiver, Sender, unbounded};

use super::Inner;
use crate::error::{Error, Result};
use crate::events::ReturnReason;
use crate::model::Hold;
use crate::store::Take;

/// One add-to-cart waiting for the queue's writer thread.
pub(super) struct Request {
    pub(super) take: Take,
    pub(super) reply: Sender<Result<Hold>>,
}

pub(super) fn spawn_queue(shop: Weak<Inner>, max_batch: usize) -> Result<Sender<Request>> {
    let (tx, rx) = unbounded::<Request>();
    std::thread::Builder::new()
        .name("flashsale-queue".into())
        .spawn(move || writer(&shop, &rx, max_batch.max(1)))?;
    Ok(tx)
}

/// The queue's writer: takes what waits, up to `max_batch`, and commits it together.
fn writer(shop: &Weak<Inner>, rx: &Receiver<Request>, max_batch: usize) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let Some(inner) = shop.upgrade() else { return };
        let takes: Vec<Take> = batch.iter().map(|r| r.take.clone()).collect();
        match inner.store.reserve_batch(&takes) {
            Ok(done) => {
                inner.counters.commits.fetch_add(1, Ordering::Relaxed);
                inner.returned(done.returned, ReturnReason::Expired);
                for (request, answer) in batch.into_iter().zip(done.answers) {
                    let _ = request.reply.send(answer);
                }
            }
            Err(e) => {
                inner.counters.rollbacks.fetch_add(1, Ordering::Relaxed);
                let why = e.to_string();
                for request in batch {
                    let _ = request
                        .reply
                        .send(Err(Error::BatchFailed { why: why.clone() }));
                }
            }
        }
    }
}
