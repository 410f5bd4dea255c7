//! A one-shot answer from the writer thread to the buyer waiting for it.
//!
//! Why not a channel: crossbeam's (and std's) blocking `recv` spins and calls
//! `sched_yield` before it parks. With a thousand buyers waiting, that spinning took more
//! CPU than the writer itself (perf: 29% of the buyers' time in `sched_yield`, on a
//! 2-core machine where the writer needs the other core). Here a waiter sleeps at once.
//!
//! Why a futex per block of tickets and not an unpark per buyer: a group commit answers
//! tens of buyers who arrived one after the other, and waking each with its own system
//! call cost the waker thread 3.7 µs a hold, on the cores the buyers and the writer
//! need (perf, issue 13). Each waiter takes a ticket; tickets go 32 to a futex word,
//! each its own bit of it, and a group's answers cost one `FUTEX_WAKE_BITSET` per word
//! they fall in (see `benches/handoff.rs --futex-block`). The bits wake exactly the
//! answered waiters: a plain wake of the word woke the whole block, and a strategy that
//! answers one buyer a commit (`immediate`) then woke 31 others for nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use linux_futex::{Futex, Private};
use parking_lot::Mutex;

use crate::error::Error;
use crate::sql::Result;

/// Futex words in the ring tickets go round, 32 tickets (bits) to a word. Two waiters
/// a ring apart share a bit: harmless, one more wake-up.
const WORDS: usize = 4096;

static FUTEXES: [Futex<Private>; WORDS] = [const { Futex::new(0) }; WORDS];
static TICKETS: AtomicU64 = AtomicU64::new(0);

/// Who to wake for an answer: its waiter's futex word and bit. The writer collects
/// them and hands them to its waker thread.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Wake {
    word: usize,
    bits: u32,
}

impl Wake {
    fn of(ticket: u64) -> Wake {
        Wake {
            word: usize::try_from(ticket / 32).unwrap_or(0) % WORDS,
            bits: 1 << (ticket % 32),
        }
    }

    /// Wakes the waiters of these bits; each looks at its own slot.
    pub(super) fn wake(self) {
        let futex = &FUTEXES[self.word];
        // Changed first: a waiter about to sleep on the old value then returns at once.
        futex.value.fetch_add(1, Ordering::Release);
        futex.wake_bitset(i32::MAX, self.bits);
    }
}

/// Wakes a group's waiters with one system call per word (a group's waiters took
/// consecutive tickets, so they mostly share words).
pub(super) fn wake_all(wakes: &mut Vec<Wake>) {
    wakes.sort_unstable_by_key(|w| w.word);
    wakes.dedup_by(|next, kept| {
        let same = next.word == kept.word;
        if same {
            kept.bits |= next.bits;
        }
        same
    });
    wakes.drain(..).for_each(Wake::wake);
}

/// Wakes these waiters: a handful here, more by the waker thread (`waker`), so that the
/// caller gets on with its work. False when the waker is gone.
pub(super) fn pass_on(wakes: &mut Vec<Wake>, waker: &crossbeam_channel::Sender<Vec<Wake>>) -> bool {
    if wakes.len() <= WAKE_HERE {
        // A handful: waking them here costs what waking the waker would.
        wake_all(wakes);
        true
    } else {
        waker.send(std::mem::take(wakes)).is_ok()
    }
}

/// Up to this many answered buyers the caller wakes itself: handing them to a sleeping
/// waker is a wake-up too, and then the waker's own (one buyer alone paid three thread
/// hand-overs: criterion, one thread, immediate 105 µs a hold against the bare
/// transaction's 40 µs).
const WAKE_HERE: usize = 2;

struct Slot<T> {
    /// `None` until answered; the lock is held only to put or take the answer.
    value: Mutex<Option<Result<T>>>,
    wake: Wake,
}

/// The writer's end: answering consumes it. Dropped unanswered (the writer stopped), it
/// answers `Stopped`, so no buyer waits forever.
pub(super) struct Reply<T> {
    to: Option<To<T>>,
}

enum To<T> {
    /// A waiter sleeps on the slot's futex word.
    Waiter(Arc<Slot<T>>),
    /// Nobody waits: the answer is handed to this (an async server's request).
    Call(Box<dyn FnOnce(Result<T>) + Send>),
}

/// The buyer's end.
pub(super) struct Answer<T> {
    slot: Arc<Slot<T>>,
}

/// A reply slot for the calling thread to wait on.
pub(super) fn slot<T>() -> (Reply<T>, Answer<T>) {
    let slot = Arc::new(Slot {
        value: Mutex::new(None),
        wake: Wake::of(TICKETS.fetch_add(1, Ordering::Relaxed)),
    });
    (
        Reply {
            to: Some(To::Waiter(Arc::clone(&slot))),
        },
        Answer { slot },
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
    /// Puts the answer in and returns whom to wake, so the writer can leave the waking
    /// (a system call) to another thread and get on with its work. A waiter that looks
    /// before it is woken finds the answer already there.
    pub(super) fn fill(mut self, value: Result<T>) -> Option<Wake> {
        match self.to.take()? {
            To::Waiter(slot) => {
                *slot.value.lock() = Some(value);
                Some(slot.wake)
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
            Some(To::Waiter(slot)) => {
                *slot.value.lock() = Some(Err(Error::Stopped.into()));
                slot.wake.wake();
            }
            Some(To::Call(then)) => then(Err(Error::Stopped.into())),
            None => {}
        }
    }
}

impl<T> Answer<T> {
    /// Sleeps until the answer is there (woken for another's answer, it sleeps again).
    pub(super) fn wait(self) -> Result<T> {
        let Wake { word, bits } = self.slot.wake;
        let futex = &FUTEXES[word];
        loop {
            // Read before looking: a wake after this read changes the word, and the
            // wait then returns at once instead of sleeping through it.
            let seen = futex.value.load(Ordering::Acquire);
            if let Some(value) = self.slot.value.lock().take() {
                return value;
            }
            // A changed word or a signal returns early: the loop looks again.
            let _ = futex.wait_bitset(seen, bits);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_cross_threads_and_a_dropped_reply_says_stopped() {
        let (reply, answer) = slot::<u32>();
        std::thread::spawn(move || reply.fill(Ok(7)).map(Wake::wake));
        assert_eq!(answer.wait().ok(), Some(7));
        let (reply, answer) = slot::<u32>();
        std::thread::spawn(move || drop(reply));
        assert!(matches!(
            answer.wait(),
            Err(crate::sql::SqlError(Error::Stopped))
        ));
    }

    #[test]
    fn a_group_wakes_every_one_of_its_waiters() {
        // 100 waiters over several futex words; answered in reverse order, in groups of 7
        // merged by `wake_all`: every one of them must hear its own answer.
        let (done, heard) = std::sync::mpsc::channel();
        let mut replies = Vec::new();
        for i in 0..100u32 {
            let (tx, rx) = std::sync::mpsc::channel();
            let done = done.clone();
            std::thread::spawn(move || {
                let (reply, answer) = slot::<u32>();
                tx.send(reply).unwrap();
                done.send((i, answer.wait().ok())).unwrap();
            });
            replies.push((i, rx.recv().unwrap()));
        }
        replies.reverse();
        while !replies.is_empty() {
            let mut wakes: Vec<Wake> = Vec::new();
            for (i, reply) in replies.drain(..replies.len().min(7)) {
                wakes.extend(reply.fill(Ok(i)));
            }
            wake_all(&mut wakes);
        }
        let timeout = std::time::Duration::from_secs(10);
        let mut got: Vec<(u32, Option<u32>)> = (0..100)
            .map(|_| {
                heard
                    .recv_timeout(timeout)
                    .expect("a waiter was never woken")
            })
            .collect();
        got.sort_unstable();
        assert!(got.iter().all(|(i, v)| *v == Some(*i)));
    }

    #[test]
    fn a_call_gets_the_answer_once_or_stopped_when_dropped() {
        let (tx, rx) = std::sync::mpsc::channel();
        let sent = tx.clone();
        let reply = call(move |v: Result<u32>| sent.send(v.ok()).unwrap());
        assert!(reply.fill(Ok(7)).is_none(), "nobody to wake");
        drop(call(move |v: Result<u32>| tx.send(v.ok()).unwrap()));
        assert_eq!(rx.iter().collect::<Vec<_>>(), [Some(7), None]);
    }
}
