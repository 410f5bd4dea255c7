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
    slot: Option<Arc<Slot<T>>>,
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
            slot: Some(Arc::clone(&slot)),
        },
        Answer {
            slot,
            _same_thread: PhantomData,
        },
    )
}

impl<T> Reply<T> {
    /// Puts the answer in and returns the thread to wake, so the writer can leave the
    /// waking (a system call per buyer) to another thread and get on with its work. A
    /// waiter that looks before it is woken finds the answer already there.
    pub(super) fn fill(mut self, value: Result<T>) -> Option<Thread> {
        let slot = self.slot.take()?;
        *slot.value.lock() = Some(value);
        Some(slot.waiter.clone())
    }
}

impl<T> Drop for Reply<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            put(&slot, Err(Error::Stopped.into()));
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
}
