//! How one thread of this process spent its time, from the kernel's scheduler
//! statistics (`/proc/self/task/TID/schedstat`): on a core, and runnable but waiting in
//! the run queue for one. The rest of the time it slept (on the disk, or with nothing
//! to do).
//!
//! Why: the writer is the queue's one serial thread. Whether it waits for the disk or
//! for a core its buyers' threads are using tells which lever is left (issue 13):
//! measured at 200,000 holds on 2 cores, it was on a core 53% of the row and waiting
//! for one 38%.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThreadTimes {
    /// Time on a core.
    pub on_cpu: Duration,
    /// Time runnable, waiting in the run queue for a core.
    pub waiting_for_cpu: Duration,
}

impl ThreadTimes {
    /// Thread `tid` of this process so far; `None` where the kernel keeps no such
    /// statistics, or the thread is gone.
    pub fn of(tid: i32) -> Option<ThreadTimes> {
        let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok()?;
        parse(&text)
    }

    /// What the thread spent after `earlier`.
    pub fn since(self, earlier: ThreadTimes) -> ThreadTimes {
        ThreadTimes {
            on_cpu: self.on_cpu.saturating_sub(earlier.on_cpu),
            waiting_for_cpu: self.waiting_for_cpu.saturating_sub(earlier.waiting_for_cpu),
        }
    }
}

/// The engine's own threads: the writer, and the waker that wakes the buyers it
/// answered (each `None` where it has not started or the kernel keeps no statistics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EngineThreads {
    pub writer: Option<ThreadTimes>,
    pub waker: Option<ThreadTimes>,
}

impl EngineThreads {
    /// What each thread spent after `earlier`; a thread not yet started then spent all
    /// of its time after it.
    pub fn since(self, earlier: EngineThreads) -> EngineThreads {
        let since = |now: Option<ThreadTimes>, then: Option<ThreadTimes>| {
            now.map(|now| now.since(then.unwrap_or_default()))
        };
        EngineThreads {
            writer: since(self.writer, earlier.writer),
            waker: since(self.waker, earlier.waker),
        }
    }
}

/// A thread's id once it has started (0 before), to read its times from another thread.
#[derive(Clone, Default)]
pub(super) struct Tid(Arc<AtomicI32>);

impl Tid {
    /// Called on the thread itself, first thing.
    pub(super) fn mark(&self) {
        self.0.store(current_tid(), Ordering::Release);
    }

    pub(super) fn times(&self) -> Option<ThreadTimes> {
        match self.0.load(Ordering::Acquire) {
            0 => None,
            tid => ThreadTimes::of(tid),
        }
    }
}

/// The calling thread's id, to read its times from another thread later.
fn current_tid() -> i32 {
    rustix::thread::gettid().as_raw_nonzero().get()
}

/// `schedstat` is three numbers: ns on a core, ns waiting for one, time slices.
fn parse(text: &str) -> Option<ThreadTimes> {
    let mut ns = text.split_whitespace().map(|n| n.parse::<u64>().ok());
    let on_cpu = ns.next()??;
    let waiting = ns.next()??;
    Some(ThreadTimes {
        on_cpu: Duration::from_nanos(on_cpu),
        waiting_for_cpu: Duration::from_nanos(waiting),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kernel_s_three_numbers() {
        let t = parse("5302144 120013 87\n").unwrap();
        assert_eq!(t.on_cpu, Duration::from_nanos(5_302_144));
        assert_eq!(t.waiting_for_cpu, Duration::from_nanos(120_013));
        assert_eq!(parse(""), None);
        assert_eq!(parse("12 x 3"), None);
        let later = parse("6302144 120013 90").unwrap();
        assert_eq!(later.since(t).on_cpu, Duration::from_millis(1));
        assert_eq!(t.since(later), ThreadTimes::default(), "never negative");
    }

    #[test]
    fn engine_threads_count_from_the_release_or_from_their_start() {
        let t = |ms| ThreadTimes {
            on_cpu: Duration::from_millis(ms),
            waiting_for_cpu: Duration::ZERO,
        };
        // The waker had not started at the release: all its time came after.
        let release = EngineThreads {
            writer: Some(t(5)),
            waker: None,
        };
        let done = EngineThreads {
            writer: Some(t(12)),
            waker: Some(t(3)),
        };
        assert_eq!(
            done.since(release),
            EngineThreads {
                writer: Some(t(7)),
                waker: Some(t(3)),
            }
        );
        assert_eq!(
            EngineThreads::default().since(release),
            EngineThreads::default()
        );
    }

    #[test]
    fn a_busy_thread_shows_its_time_on_a_core() {
        let tid = current_tid();
        let Some(before) = ThreadTimes::of(tid) else {
            return; // A kernel without scheduler statistics.
        };
        // Spins until the kernel counts 5 ms on a core, however loaded the machine (a
        // fixed wall time could be mostly waiting); a counter that never moves fails.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let spent = ThreadTimes::of(tid).unwrap().since(before);
            if spent.on_cpu >= Duration::from_millis(5) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "30 s of spinning never showed 5 ms on a core: {spent:?}"
            );
            for i in 0..100_000u64 {
                std::hint::black_box(i);
            }
        }
    }
}
