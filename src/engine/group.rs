//! The writer's group commit: every add-to-cart of the queue strategy and every
//! payment, release and extension waiting in a row of the FIFO share one `BEGIN
//! IMMEDIATE` transaction and one fsync.
//!
//! In arrival order, the run is cut into segments: consecutive add-to-carts are decided
//! together in memory and written together (`queue.rs`); each other change runs in a
//! savepoint of its own, so one that fails (an expired hold, someone else's hold) undoes
//! only itself. Answers go out only after the commit: a hold or an order reported is a
//! durable one. If the commit itself fails, every member hears it.
//!
//! Why payments join: each was its own fsync'd transaction, and the add-to-carts queued
//! behind thousands of them (every winner paying: 3,400 buyers/s against 33,700 with
//! nobody paying, add-to-cart p50 6.6 s).

use std::thread::Thread;

use rusqlite::{Connection, TransactionBehavior};

use super::reply::Reply;
use super::{Inner, ReturnReason, queue};
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::hold::{Hold, Returned};

/// One member of a group commit.
pub(super) enum Member {
    /// The queue strategy's add-to-cart.
    Hold(queue::Request),
    /// Any other change (a payment, a release, an extension, pay-first's settlement).
    Change(Box<dyn Change>),
}

/// A change that joins the group commit in a savepoint of its own.
pub(super) trait Change: Send {
    /// Runs the change inside its savepoint; true if it is to be kept.
    fn run(&mut self, conn: &Connection, inner: &Inner) -> bool;
    /// Answers its caller after the commit (`failed`: the commit's own failure, which
    /// overrides the change's result). Returns the thread to wake.
    fn answer(self: Box<Self>, failed: Option<&Error>) -> Option<Thread>;
}

/// A change made of a closure and the slot its caller waits on.
pub(super) struct ChangeOf<T, F> {
    work: Option<F>,
    result: Option<Result<T>>,
    reply: Reply<T>,
}

impl<T, F> ChangeOf<T, F> {
    pub(super) fn new(work: F, reply: Reply<T>) -> Self {
        ChangeOf {
            work: Some(work),
            result: None,
            reply,
        }
    }
}

impl<T, F> Change for ChangeOf<T, F>
where
    T: Send,
    F: FnOnce(&Connection, &Inner) -> Result<T> + Send,
{
    fn run(&mut self, conn: &Connection, inner: &Inner) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let result = work(conn, inner);
        let keep = result.is_ok();
        self.result = Some(result);
        keep
    }

    fn answer(self: Box<Self>, failed: Option<&Error>) -> Option<Thread> {
        let this = *self;
        let value = match (failed, this.result) {
            (Some(e), _) => Err(failed_batch(e)),
            (None, Some(result)) => result,
            // Never ran: the transaction failed before it (then `failed` is set).
            (None, None) => Err(Error::Stopped),
        };
        this.reply.fill(value)
    }
}

/// What a member hears when the group's transaction could not commit.
pub(super) fn failed_batch(e: &Error) -> Error {
    if matches!(e, Error::Busy) {
        Error::Busy
    } else {
        Error::BatchFailed { why: e.to_string() }
    }
}

/// Commits the members in one transaction and answers each of them; empties `members`.
pub(super) fn serve(
    conn: &mut Connection,
    inner: &Inner,
    members: &mut Vec<Member>,
    wakes: &mut Vec<Thread>,
) {
    let now = inner.clock.now();
    let ttl = inner.ttl_ms();
    let mut holds = Vec::with_capacity(members.len());
    let mut returned = Vec::new();
    let failure = match commit(conn, inner, members, (now, ttl), &mut holds, &mut returned) {
        Ok(()) => {
            inner.counted_commit();
            inner.returned(returned, ReturnReason::Expired);
            None
        }
        Err(e) => {
            inner.counted_failure(&e);
            Some(e)
        }
    };
    let mut holds = holds.into_iter();
    for member in members.drain(..) {
        let woken = match member {
            Member::Hold(request) => {
                let result = match &failure {
                    Some(e) => Err(failed_batch(e)),
                    None => holds.next().unwrap_or(Err(Error::Stopped)),
                };
                request.answer(result)
            }
            Member::Change(change) => change.answer(failure.as_ref()),
        };
        wakes.extend(woken);
    }
}

/// The transaction: segments of add-to-carts and savepointed changes, in order.
fn commit(
    conn: &mut Connection,
    inner: &Inner,
    members: &mut [Member],
    (now, ttl): (Millis, Millis),
    holds: &mut Vec<Result<Hold>>,
    returned: &mut Vec<Returned>,
) -> Result<()> {
    // IMMEDIATE: its members read (stock, holds) and then write.
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut i = 0;
    while i < members.len() {
        let start = i;
        while let Some(Member::Hold(_)) = members.get(i) {
            i += 1;
        }
        if i > start {
            let segment: Vec<&queue::Request> = members[start..i]
                .iter()
                .filter_map(|m| match m {
                    Member::Hold(r) => Some(r),
                    Member::Change(_) => None,
                })
                .collect();
            let (results, back) = queue::commit_segment(&tx, &segment, now, ttl)?;
            holds.extend(results);
            returned.extend(back);
        }
        if let Some(Member::Change(change)) = members.get_mut(i) {
            let sp = tx.savepoint()?;
            // Dropping a savepoint rolls it back: a failed change leaves no trace.
            if change.run(&sp, inner) {
                sp.commit()?;
            }
            i += 1;
        }
    }
    tx.commit()?;
    Ok(())
}
