//! Jittered exponential backoff: the one pause-before-trying-again of the engine (an
//! optimistic buyer after a version conflict) and of the swarm (a `--retry` buyer after
//! a sold-out answer).
//!
//! Why jitter, and why it must grow far: a thousand buyers who read the same version
//! all fail but one, and if they all wait the same time they all come back together and
//! fail again together. "Full jitter" (a uniform pause between zero and a ceiling that
//! doubles each time, AWS Architecture Blog, "Exponential Backoff And Jitter") spreads
//! them out; the ceiling must reach about `contenders × one commit` before the retries
//! stop colliding (1,000 threads × 0.2 ms = 200 ms), which is why optimistic's old 20 ms
//! ceiling never finished at 1,000 threads.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone)]
pub struct Backoff {
    /// The ceiling of the next pause.
    ceiling: Duration,
    max: Duration,
    /// Pauses taken so far.
    taken: u32,
}

impl Backoff {
    /// The first pause is at most `first`; each next ceiling doubles, up to `max`.
    pub fn new(first: Duration, max: Duration) -> Self {
        Backoff {
            ceiling: first.min(max),
            max,
            taken: 0,
        }
    }

    /// The next pause: uniform in `0..=ceiling`; the ceiling then doubles (up to `max`).
    pub fn next_pause(&mut self) -> Duration {
        let ceiling = u64::try_from(self.ceiling.as_micros()).unwrap_or(u64::MAX);
        let pause = Duration::from_micros(rand::rng().random_range(0..=ceiling));
        self.ceiling = (self.ceiling * 2).min(self.max);
        self.taken = self.taken.saturating_add(1);
        pause
    }

    /// Sleeps for the next pause.
    pub fn wait(&mut self) {
        std::thread::sleep(self.next_pause());
    }

    /// How many pauses were taken (the retries).
    pub fn taken(&self) -> u32 {
        self.taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_stay_under_a_doubling_ceiling_and_are_spread_out() {
        let mut b = Backoff::new(Duration::from_millis(1), Duration::from_millis(8));
        let ceilings = [1, 2, 4, 8, 8, 8];
        for ms in ceilings {
            assert!(b.next_pause() <= Duration::from_millis(ms));
        }
        assert_eq!(b.taken(), 6);
        // At the ceiling, 200 pauses are not all alike (jitter), and none above it.
        let pauses: std::collections::HashSet<_> = (0..200).map(|_| b.next_pause()).collect();
        assert!(pauses.len() > 50, "{} distinct pauses", pauses.len());
        assert!(pauses.iter().all(|p| *p <= Duration::from_millis(8)));
    }
}
