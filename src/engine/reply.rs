//! A one-shot answer from the writer thread to the buyer waiting for it.
//!
//! Why not a channel: crossbeam's (and std's) blocking `recv` spins and calls
//! `sched_yield` before it parks. With a thousand buyers waiting, that spinning took more
//! CPU than the writer itself (perf: 29% of the buyers' time in `sched_yield`, on a
//! 2-core machine where the writer needs the other core). Here a waiter parks at once
//! and an answer costs one unpark — which the writer hands to its waker thread.

use std::marker::PhantomData;
use std::sync::Arc;
use std::thread::Thread;

use parking_lot::Mutex;

use crate::error::Error;
use crate::sql::Result;

struct Slot<T> {
    /// `None` until answered; the lock is held only to put or take the answer.
    value: Mutex<Option<Result<T>>>,
    waiter: Thread,
}

/// The writer's end: answering consumes it. Dropped unanswered (the writer stopped), it
/// answers `Stopped`, so no buyer waits forever.
pub(super) struct Reply<T> {
    to: Option<To<T>>,
}

enum To<T> {
    /// A parked thread waits on the slot.
    Waiter(Arc<Slot<T>>),
    /// Nobody waits: the answer is handed to this (an async server's request).
    Call(Box<dyn FnOnce(Result<T>) + Send>),
}

/// The buyer's end: stays on the thread that made it (that thread is the one unparked).
pub(super) struct Answer<T> {
    slot: Arc<Slot<T>>,
    _same_thread: PhantomData<*const ()>,
}

/// A reply slot for the calling thread to wait on.
pub(super) fn slot<T>() -> (Reply<T>, Answer<T>) {
    let slot = Arc::new(Slot {
        value: Mutex::new(None),
        waiter: std::thread::current(),
    });
    (
        Reply {
            to: Some(To::Waiter(Arc::clone(&slot))),
        },
        Answer {
            slot,
            _same_thread: PhantomData,
        },
    )
}

/// A reply that calls `then` with the answer, on the writer's thread: `then` must be
/// quick and never block.
pub(super) fn call<T>(then: impl FnOnce(Result<T>) + Send + 'static) -> Reply<T> {
    Reply {
        to: Some(To::Call(Box::new(then))),
    }
}

impl<T> Reply<T> {
    /// Puts the answer in and returns the thread to wake, so the writer can leave the
    /// waking (a system call per buyer) to another thread and get on with its work. A
    /// waiter that looks before it is woken finds the answer already there.
    pub(super) fn fill(mut self, value: Result<T>) -> Option<Thread> {
        match self.to.take()? {
            To::Waiter(slot) => {
                *slot.value.lock() = Some(value);
                Some(slot.waiter.clone())
            }
            To::Call(then) => {
                then(value);
                None
            }
        }
    }
}

impl<T> Drop for Reply<T> {
    fn drop(&mut self) {
        match self.to.take() {
            Some(To::Waiter(slot)) => put(&slot, Err(Error::Stopped.into())),
            Some(To::Call(then)) => then(Err(Error::Stopped.into())),
            None => {}
        }
    }
}

fn put<T>(slot: &Slot<T>, value: Result<T>) {
    *slot.value.lock() = Some(value);
    slot.waiter.unpark();
}

impl<T> Answer<T> {
    /// Parks until the answer is there (a spurious wake-up just parks again).
    pub(super) fn wait(self) -> Result<T> {
        loop {
            if let Some(value) = self.slot.value.lock().take() {
                return value;
            }
            std::thread::park();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_cross_threads_and_a_dropped_reply_says_stopped() {
        let (reply, answer) = slot::<u32>();
        std::thread::spawn(move || reply.fill(Ok(7)).map(|t| t.unpark()));
        assert_eq!(answer.wait().ok(), Some(7));
        let (reply, answer) = slot::<u32>();
        std::thread::spawn(move || drop(reply));
        assert!(matches!(
            answer.wait(),
            Err(crate::sql::SqlError(Error::Stopped))
        ));
    }

    #[test]
    fn a_call_gets_the_answer_once_or_stopped_when_dropped() {
        let (tx, rx) = std::sync::mpsc::channel();
        let sent = tx.clone();
        let reply = call(move |v: Result<u32>| sent.send(v.ok()).unwrap());
        assert!(reply.fill(Ok(7)).is_none(), "no thread to wake");
        drop(call(move |v: Result<u32>| tx.send(v.ok()).unwrap()));
        assert_eq!(rx.iter().collect::<Vec<_>>(), [Some(7), None]);
    }
}
