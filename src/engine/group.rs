//! The writer's group commit: every add-to-cart of the queue strategy and every
//! payment, release and extension waiting in a row of the FIFO share one `BEGIN
//! IMMEDIATE` transaction and one fsync.
//!
//! In arrival order: add-to-carts are decided in memory and written together at the end
//! (`queue.rs`); each other change runs in a savepoint of its own, so one that fails (an
//! expired hold, someone else's hold) undoes only itself. A payment, a release or an
//! extension touches only its own committed hold (and gives units back by a relative
//! UPDATE), so it runs beside the grants not yet written; when it gave units back
//! or freed its buyer's limit, the decisions read the stock and that buyer again. A
//! change that reads the stock to take it (pay-first's settlement) first has the grants
//! written, so the database it reads is exact. Answers go out only after the commit is
//! on the disk (at `FULL`, after the syncer's fsync: `syncer.rs`): a hold or an order
//! reported is a durable one. If the commit itself fails, every member
//! hears it.
//!
//! Why payments join: each was its own fsync'd transaction, and the add-to-carts queued
//! behind thousands of them (every winner paying: 3,400 buyers/s against 33,700 with
//! nobody paying, add-to-cart p50 6.6 s).

use rusqlite::{Connection, TransactionBehavior};

use super::reply::{Reply, Wake};
use super::syncer::Syncer;
use super::{Inner, queue};
use crate::clock::Millis;
use crate::error::Error;
use crate::hold::{Hold, Returned};
use crate::sql::Result;

/// One member of a group commit.
pub(super) enum Member {
    /// The queue strategy's add-to-cart.
    Hold(queue::Request),
    /// Any other change (a payment, a release, an extension, pay-first's settlement).
    Change(Box<dyn Change>),
}

/// A change that joins the group commit in a savepoint of its own.
pub(super) trait Change: Send {
    /// The database must be exact before it runs (it takes stock): unwritten grants are
    /// written first.
    fn needs_exact(&self) -> bool;
    /// Runs the change inside its savepoint; true if it is to be kept.
    fn run(&mut self, conn: &Connection, inner: &Inner) -> bool;
    /// After a kept run: the buyer whose live units (and the stock) it may have changed.
    fn changed(&self) -> Option<&str>;
    /// Answers its caller after the commit (`failed`: the commit's own failure, which
    /// overrides the change's result). Returns whom to wake.
    fn answer(self: Box<Self>, failed: Option<&Error>) -> Option<Wake>;
}

/// What a change may do to the books of the add-to-carts decided beside it.
pub(super) enum Touches<T> {
    /// It takes stock: the database must be exact first, and it changes the books.
    Stock,
    /// It changes the stock and its buyer's live units when its answer says so.
    When(fn(&T) -> bool),
}

/// A change made of a closure, its buyer, and the slot its caller waits on.
pub(super) struct ChangeOf<T, F> {
    work: Option<F>,
    result: Option<Result<T>>,
    reply: Reply<T>,
    buyer: String,
    touches: Touches<T>,
}

impl<T, F> ChangeOf<T, F> {
    pub(super) fn new(work: F, reply: Reply<T>, buyer: String, touches: Touches<T>) -> Self {
        ChangeOf {
            work: Some(work),
            result: None,
            reply,
            buyer,
            touches,
        }
    }
}

impl<T, F> Change for ChangeOf<T, F>
where
    T: Send,
    F: FnOnce(&Connection, &Inner) -> Result<T> + Send,
{
    fn needs_exact(&self) -> bool {
        matches!(self.touches, Touches::Stock)
    }

    fn changed(&self) -> Option<&str> {
        let changed = match (&self.touches, &self.result) {
            (_, Some(Err(_)) | None) => false,
            (Touches::Stock, Some(Ok(_))) => true,
            (Touches::When(says), Some(Ok(value))) => says(value),
        };
        changed.then_some(self.buyer.as_str())
    }

    fn run(&mut self, conn: &Connection, inner: &Inner) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let result = work(conn, inner);
        let keep = result.is_ok();
        self.result = Some(result);
        keep
    }

    fn answer(self: Box<Self>, failed: Option<&Error>) -> Option<Wake> {
        let this = *self;
        let value = match (failed, this.result) {
            (Some(e), _) => Err(failed_batch(e).into()),
            (None, Some(result)) => result,
            // Never ran: the transaction failed before it (then `failed` is set).
            (None, None) => Err(Error::Stopped.into()),
        };
        this.reply.fill(value)
    }
}

/// What a member hears when the group's transaction could not commit.
pub(super) fn failed_batch(e: &Error) -> Error {
    match e {
        Error::Busy => Error::Busy,
        // Committed, not flushed: "no hold in it was taken" would not be true.
        Error::NotFlushed { why } => Error::NotFlushed { why: why.clone() },
        _ => Error::BatchFailed { why: e.to_string() },
    }
}

/// Commits the members in one transaction and answers each of them; empties `members`.
/// With a syncer the commit does not wait for the disk: the answers go out when the
/// syncer's next flush is done (`syncer.rs`).
pub(super) fn serve(
    conn: &mut Connection,
    inner: &Inner,
    members: &mut Vec<Member>,
    wakes: &mut Vec<Wake>,
    syncer: Option<&Syncer>,
) {
    let now = inner.clock.now();
    // Apart, so the decisions can borrow the requests while the changes run.
    let mut order = Vec::with_capacity(members.len());
    let mut requests = Vec::with_capacity(members.len());
    let mut changes = Vec::new();
    for member in members.drain(..) {
        order.push(matches!(member, Member::Hold(_)));
        match member {
            Member::Hold(r) => requests.push(r),
            Member::Change(c) => changes.push(c),
        }
    }
    let group = Group {
        order: &order,
        requests: &requests,
        now,
        by_trigger: false,
    };
    let mut answers = Answers::default();
    let committed = match syncer.and_then(Syncer::failed) {
        Some(e) => Err(e.into()),
        None => unflushed(conn, syncer.is_some(), |conn| {
            decide_and_commit(conn, inner, group, &mut changes, &mut answers)
        }),
    };
    let failure = match committed {
        Ok(()) => {
            inner.counted_commit();
            inner.returned(std::mem::take(&mut answers.returned));
            None
        }
        Err(e) => {
            inner.counted_failure(&e.0);
            Some(e.0)
        }
    };
    let committed = failure.is_none();
    let settle = move |flush: Option<Error>, wakes: &mut Vec<Wake>| {
        let failure = failure.or(flush);
        let mut holds = answers.holds.into_iter();
        for request in requests {
            let result = match &failure {
                Some(e) => Err(failed_batch(e).into()),
                None => holds.next().unwrap_or(Err(Error::Stopped.into())),
            };
            wakes.extend(request.answer(result));
        }
        for change in changes {
            wakes.extend(change.answer(failure.as_ref()));
        }
    };
    match syncer {
        // A failed group wrote nothing: nothing to wait for.
        Some(syncer) if committed => syncer.after_flush(Box::new(settle)),
        _ => settle(None, wakes),
    }
}

/// Runs `commit` with the connection's fsync left to the syncer when `unflushed`
/// (`synchronous=OFF` for this one transaction), and sets it back to the store's
/// `FULL` whatever happened, before anyone else commits on the connection.
fn unflushed(
    conn: &mut Connection,
    unflushed: bool,
    commit: impl FnOnce(&mut Connection) -> Result<()>,
) -> Result<()> {
    if !unflushed {
        return commit(conn);
    }
    conn.prepare_cached("PRAGMA synchronous = OFF")?
        .execute([])?;
    let committed = commit(conn);
    let restored = conn
        .prepare_cached("PRAGMA synchronous = FULL")?
        .execute([]);
    committed.and(restored.map(|_| ()).map_err(Into::into))
}

/// The group's transaction. A group of add-to-carts alone leaves the per-buyer limit to
/// the schema's trigger first; if the trigger refuses a grant, that transaction is
/// rolled back and the group decided again, reading every buyer (see
/// `queue::Decisions`). A change runs once (its work is consumed), so a group with
/// changes is decided exactly at once.
fn decide_and_commit(
    conn: &mut Connection,
    inner: &Inner,
    group: Group<'_>,
    changes: &mut [Box<dyn Change>],
    answers: &mut Answers,
) -> Result<()> {
    let mut written = false;
    if changes.is_empty() {
        let by_trigger = Group {
            by_trigger: true,
            ..group
        };
        written = commit(conn, inner, by_trigger, changes, answers)?;
    }
    if !written {
        *answers = Answers::default();
        // Exact: a refusal by the trigger is an error there (`Decisions::write`).
        written = commit(conn, inner, group, changes, answers)?;
    }
    // Exact decisions never come back unwritten; if they did, nothing was committed.
    if written {
        Ok(())
    } else {
        Err(queue::refused_by_trigger().into())
    }
}

/// The add-to-carts of a group, and the arrival order of them among its changes (true:
/// the next add-to-cart, false: the next change).
#[derive(Clone, Copy)]
struct Group<'a> {
    order: &'a [bool],
    requests: &'a [queue::Request],
    /// The group's one time: every hold of it is stamped with it.
    now: Millis,
    /// The per-buyer limit is left to the trigger (see `queue::Decisions`).
    by_trigger: bool,
}

/// What a committed group answers: each add-to-cart's result, in order, and the units
/// lazy expiry gave back.
#[derive(Default)]
struct Answers {
    holds: Vec<Result<Hold>>,
    returned: Vec<Returned>,
}

/// The transaction: add-to-carts decided in memory, changes in savepoints, in order;
/// the grants written when a change needs the database exact, and at the end. False
/// (and nothing committed) when the trigger refused a grant left to it.
fn commit(
    conn: &mut Connection,
    inner: &Inner,
    group: Group<'_>,
    changes: &mut [Box<dyn Change>],
    answers: &mut Answers,
) -> Result<bool> {
    // IMMEDIATE: its members read (stock, holds) and then write.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let requests: Vec<&queue::Request> = group.requests.iter().collect();
    let mut decisions = queue::Decisions::new(&tx, &requests, group.now, group.by_trigger)?;
    let mut next_request = requests.iter();
    let mut next_change = changes.iter_mut();
    for &is_hold in group.order {
        if is_hold {
            if let Some(r) = next_request.next() {
                answers.holds.push(decisions.decide(&tx, r)?);
            }
            continue;
        }
        let Some(change) = next_change.next() else {
            continue;
        };
        // Exact decisions (a group with changes): a refusal is an error, not `false`.
        if change.needs_exact() && !decisions.write(&tx)? {
            return Ok(false);
        }
        // Cached statements: a savepoint per change, parsed once.
        tx.prepare_cached("SAVEPOINT change")?.execute([])?;
        if change.run(&tx, inner) {
            tx.prepare_cached("RELEASE change")?.execute([])?;
            if let Some(buyer) = change.changed() {
                decisions.changed(&tx, buyer)?;
            }
        } else {
            // A failed change leaves no trace.
            tx.prepare_cached("ROLLBACK TO change")?.execute([])?;
            tx.prepare_cached("RELEASE change")?.execute([])?;
        }
    }
    if !decisions.write(&tx)? {
        // Dropping the transaction rolls it back.
        return Ok(false);
    }
    answers.returned.append(&mut decisions.returned);
    drop(decisions);
    tx.commit()?;
    Ok(true)
}
