//! How crowded optimistic's compare-and-set is: the buyers trying right now, and what
//! one winning commit costs. Their product is the window a loser's backoff must spread
//! the retries over.
//!
//! Why measure instead of a fixed ceiling: only one compare-and-set per version can
//! win, and the writer takes one win per commit, so `contenders` buyers who retry
//! within less than `contenders × one commit` mostly meet a version that moved on,
//! and each such try costs two thread hand-overs (reader, writer) on cores the writer
//! needs. A fixed ceiling is wrong both ways: 20 ms never finished at 1,000 threads at
//! `synchronous=FULL` (6,022 of 20,000 sold in 6 s, 582,000 conflicts), while a ceiling
//! big enough for that (2 s) makes ten buyers wait seconds for nothing. The pause is
//! still full jitter that doubles per loss (`Backoff`); only where it starts is
//! measured.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

#[derive(Default)]
pub(super) struct Contention {
    /// Buyers inside optimistic's reservation now (between their first read and their
    /// answer).
    contenders: AtomicUsize,
    /// A moving average of one winning compare-and-set's transaction, in µs (0 before
    /// the first): the time the writer gives one version.
    commit_us: AtomicU64,
}

/// Until a commit is measured, a commit is taken to cost this (a flushed commit on a
/// slow disk): the first pauses then err on the long side.
const UNMEASURED: Duration = Duration::from_millis(1);

/// The window never exceeds this, whatever was measured: past it a buyer waits longer
/// than a sale's crowd ever took to clear here.
const LONGEST: Duration = Duration::from_secs(2);

impl Contention {
    /// One more buyer trying, until the returned guard drops.
    pub(super) fn enter(&self) -> Contender<'_> {
        self.contenders.fetch_add(1, Ordering::Relaxed);
        Contender(self)
    }

    /// A winning compare-and-set's transaction took `took`. The average follows the
    /// disk within a few dozen commits (weight 1/8), and one sample counts as at most
    /// twice the average: a commit that waited for a busy disk or a preempted thread
    /// must not make a thousand buyers sleep seconds.
    pub(super) fn committed(&self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
        let _ = self
            .commit_us
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some(if old == 0 {
                    us
                } else {
                    old - old / 8 + us.min(old.saturating_mul(2)) / 8
                })
            });
    }

    /// What one commit costs now.
    pub(super) fn commit(&self) -> Duration {
        match self.commit_us.load(Ordering::Relaxed) {
            0 => UNMEASURED,
            us => Duration::from_micros(us),
        }
    }

    /// `contenders × one commit`: the time the writer needs to let every buyer trying
    /// now win once. A loser's first pause is spread over it.
    pub(super) fn window(&self) -> Duration {
        let n = u32::try_from(self.contenders.load(Ordering::Relaxed)).unwrap_or(u32::MAX);
        self.commit().saturating_mul(n.max(1)).min(LONGEST)
    }
}

/// A buyer counted among the contenders while this lives.
pub(super) struct Contender<'a>(&'a Contention);

impl Drop for Contender<'_> {
    fn drop(&mut self) {
        self.0.contenders.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_contenders_times_one_commit() {
        let c = Contention::default();
        // Nobody measured, nobody trying: one unmeasured commit.
        assert_eq!(c.window(), UNMEASURED);
        c.committed(Duration::from_micros(200));
        let guards: Vec<_> = (0..1000).map(|_| c.enter()).collect();
        assert_eq!(c.window(), Duration::from_millis(200));
        drop(guards);
        assert_eq!(c.window(), Duration::from_micros(200));
    }

    #[test]
    fn one_slow_commit_moves_the_average_an_eighth() {
        let c = Contention::default();
        c.committed(Duration::from_micros(800));
        c.committed(Duration::from_micros(1200));
        assert_eq!(c.commit(), Duration::from_micros(850));
        // A sample far off counts as twice the average.
        c.committed(Duration::from_secs(5));
        assert_eq!(c.commit(), Duration::from_micros(850 - 106 + 212));
        for _ in 0..100 {
            c.committed(Duration::from_micros(100));
        }
        assert!(c.commit() < Duration::from_micros(110), "{:?}", c.commit());
    }
}
