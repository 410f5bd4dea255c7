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
//! ceiling never finished at 1,000 threads. A caller that can count the crowd sets the
//! bounds from it before each pause ([`Backoff::set_bounds`]), as optimistic on a file
//! does; the others start small and let the doubling find it.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone)]
pub struct Backoff {
    /// The ceiling of the first pause.
    first: Duration,
    max: Duration,
    /// Pauses taken so far.
    taken: u32,
}

impl Backoff {
    /// The first pause is at most `first`; each next ceiling doubles, up to `max`.
    pub fn new(first: Duration, max: Duration) -> Self {
        Backoff {
            first,
            max,
            taken: 0,
        }
    }

    /// The next pause: uniform in `0..=ceiling`, where the ceiling is `first` doubled
    /// once per pause taken before, up to `max`.
    pub fn next_pause(&mut self) -> Duration {
        let doubled = self
            .first
            .saturating_mul(1u32.checked_shl(self.taken).unwrap_or(u32::MAX));
        let ceiling = u64::try_from(doubled.min(self.max).as_micros()).unwrap_or(u64::MAX);
        self.taken = self.taken.saturating_add(1);
        Duration::from_micros(rand::rng().random_range(0..=ceiling))
    }

    /// New bounds for the pauses still to come (the doubling goes on from the pauses
    /// already taken): for a caller that measures how crowded it is before each pause,
    /// as an optimistic buyer does (how many others are trying, what one commit costs).
    pub fn set_bounds(&mut self, first: Duration, max: Duration) {
        self.first = first;
        self.max = max;
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

    #[test]
    fn new_bounds_apply_to_the_pauses_still_to_come() {
        let mut b = Backoff::new(Duration::from_millis(1), Duration::from_millis(8));
        b.next_pause();
        b.next_pause();
        // Two pauses taken: the next ceiling is the new first doubled twice...
        b.set_bounds(Duration::from_millis(10), Duration::from_secs(1));
        let third: Vec<_> = (0..200)
            .map(|_| {
                let mut c = b.clone();
                c.next_pause()
            })
            .collect();
        assert!(third.iter().all(|p| *p <= Duration::from_millis(40)));
        assert!(
            third.iter().any(|p| *p > Duration::from_millis(20)),
            "the doubling went on from the pauses taken"
        );
        // ...and never above the new max.
        b.set_bounds(Duration::from_millis(10), Duration::from_millis(15));
        assert!((0..50).all(|_| b.next_pause() <= Duration::from_millis(15)));
        assert_eq!(b.taken(), 52);
    }
}
