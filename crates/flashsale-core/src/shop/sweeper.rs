//! The sweeper: a background thread that expires holds when their deadline passes and
//! puts the units back on sale. It sleeps until the next known deadline (at most
//! [`POLL`], since another process may add holds) and is woken early when a hold with
//! an earlier deadline appears. It holds only a weak reference, so dropping the last
//! handle of the shop stops it.
//!
//! A sweep that fails (a full disk, a read-only file, a lost server) is not retried at
//! once: the same error would come back at once, forever — a console left open spun a
//! core and wrote hundreds of log lines a second that way. The sweeper backs off,
//! doubling its pause up to [`BACKOFF_MAX`], and logs the error once per [`LOG_EVERY`]
//! with how often it recurred.

use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};

use super::Inner;

/// How often the sweeper re-reads the earliest deadline from the store, for holds
/// taken by another process.
pub(super) const POLL: Duration = Duration::from_millis(250);

/// The longest pause after failed sweeps.
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// A persistent error is logged at most once per this long.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// The sweeper's memory of failures: how long to wait before trying again, and whether
/// this failure is the one to log.
#[derive(Debug, Default)]
struct Trouble {
    /// Failures in a row.
    streak: u32,
    last_log: Option<Instant>,
    /// Failures since the last line logged.
    unlogged: u64,
}

impl Trouble {
    /// A sweep failed at `now`: the pause before the next attempt, and the line to log
    /// (at most one per [`LOG_EVERY`]).
    fn failed(&mut self, now: Instant, error: &str) -> (Duration, Option<String>) {
        self.streak = self.streak.saturating_add(1);
        self.unlogged += 1;
        let pause = POLL
            .saturating_mul(2u32.saturating_pow(self.streak.min(16)))
            .min(BACKOFF_MAX);
        let due = self
            .last_log
            .is_none_or(|at| now.saturating_duration_since(at) >= LOG_EVERY);
        let line = due.then(|| {
            let line = if self.unlogged > 1 {
                format!(
                    "sweeper: {error} ({} failures since the last report; retrying every {} s at most)",
                    self.unlogged,
                    pause.as_secs()
                )
            } else {
                format!("sweeper: {error} (retrying in {} ms)", pause.as_millis())
            };
            self.last_log = Some(now);
            self.unlogged = 0;
            line
        });
        (pause, line)
    }

    /// A sweep went through: the next failure starts a new streak.
    fn recovered(&mut self) {
        self.streak = 0;
    }
}

pub(super) struct SweeperHandle {
    wake: Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl SweeperHandle {
    pub(super) fn wake(&self) {
        // A full channel already means "wake up": nothing to add.
        let _ = self.wake.try_send(());
    }
}

impl Drop for SweeperHandle {
    fn drop(&mut self) {
        // Dropping `wake` disconnects the channel, which ends the loop.
        let (dead, _) = bounded(1);
        self.wake = dead;
        if let Some(t) = self.thread.take()
            && t.thread().id() != std::thread::current().id()
        {
            let _ = t.join();
        }
    }
}

pub(super) fn spawn(shop: Weak<Inner>) -> Option<SweeperHandle> {
    let (wake, woken) = bounded(1);
    let thread = std::thread::Builder::new()
        .name("sweeper".into())
        .stack_size(256 * 1024)
        .spawn(move || run(&shop, &woken));
    match thread {
        Ok(thread) => Some(SweeperHandle {
            wake,
            thread: Some(thread),
        }),
        Err(e) => {
            tracing::error!("sweeper: could not start its thread: {e}");
            None
        }
    }
}

fn run(shop: &Weak<Inner>, woken: &Receiver<()>) {
    let mut last_poll = Instant::now();
    let mut trouble = Trouble::default();
    loop {
        let wait = {
            let Some(inner) = shop.upgrade() else {
                return;
            };
            inner.sweeper_passes.fetch_add(1, Ordering::Relaxed);
            let mut outcome = Ok(());
            if last_poll.elapsed() >= POLL {
                outcome = inner.refresh_deadline();
                last_poll = Instant::now();
            }
            if outcome.is_ok() && inner.due() {
                outcome = inner.sweep().map(|_| ());
            }
            match outcome {
                Ok(()) => trouble.recovered(),
                Err(e) => {
                    inner.sweeper_failures.fetch_add(1, Ordering::Relaxed);
                    let (pause, line) = trouble.failed(Instant::now(), &e.to_string());
                    if let Some(line) = line {
                        tracing::warn!("{line}");
                    }
                    drop(inner);
                    // Woken early only by a new hold, which changes nothing about the
                    // error: sleep the pause out (a disconnect still ends the thread).
                    if sleep_out(woken, pause) {
                        return;
                    }
                    continue;
                }
            }
            let next = inner.next_deadline.load(Ordering::Acquire);
            let until = next.saturating_sub(inner.clock.now());
            let until = Duration::from_millis(u64::try_from(until).unwrap_or(0));
            if inner.clock.is_manual() {
                POLL
            } else {
                until.clamp(Duration::from_millis(1), POLL)
            }
        };
        match woken.recv_timeout(wait) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Waits `pause` out, ignoring wake-ups; true if the shop is gone.
fn sleep_out(woken: &Receiver<()>, pause: Duration) -> bool {
    let until = Instant::now() + pause;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        if let Err(RecvTimeoutError::Disconnected) = woken.recv_timeout(left) {
            return true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_persistent_error_backs_off_and_is_logged_once_per_interval() {
        let start = Instant::now();
        let mut trouble = Trouble::default();
        let mut at = start;
        let mut lines = 0;
        let mut failures = 0;
        // Ten minutes of a sweep that always fails.
        while at.duration_since(start) < Duration::from_secs(600) {
            let (pause, line) = trouble.failed(at, "The disk is full");
            failures += 1;
            lines += usize::from(line.is_some());
            assert!(pause >= POLL && pause <= BACKOFF_MAX, "{pause:?}");
            at += pause;
        }
        // Doubling from 250 ms to 30 s, then every 30 s: 7 + 20 tries, not thousands.
        assert!(failures <= 30, "{failures} attempts in ten minutes");
        assert!(lines <= 11, "{lines} log lines in ten minutes");
        assert!(lines >= 10, "still reported every minute: {lines}");
    }

    #[test]
    fn success_starts_a_new_streak() {
        let now = Instant::now();
        let mut trouble = Trouble::default();
        for _ in 0..10 {
            trouble.failed(now, "x");
        }
        trouble.recovered();
        let (pause, line) = trouble.failed(now, "x");
        assert_eq!(pause, POLL * 2);
        assert!(line.is_none(), "logged a moment ago already");
    }
}
