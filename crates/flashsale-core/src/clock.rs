//! One clock for everything: real wall-clock time, or a manual clock that tests and the
//! lab move by hand. Warp (×N) shortens the sale's *durations* (a 10-minute hold at ×60
//! lasts 10 real seconds) while every stored time stays real wall-clock time, so a second
//! process reading the same file agrees on what has expired.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (UTC), the unit of every stored time.
pub type Millis = i64;

#[derive(Debug, Clone)]
pub struct Clock {
    source: Source,
    /// Shared so the console can change the warp of a running engine.
    warp: Arc<AtomicU32>,
}

#[derive(Debug, Clone)]
enum Source {
    Real,
    /// Shared so every clone (engine, sweeper, test) sees the same moment.
    Manual(Arc<AtomicI64>),
}

impl Clock {
    pub fn real() -> Self {
        Clock {
            source: Source::Real,
            warp: Arc::new(AtomicU32::new(1)),
        }
    }

    /// A clock that only moves when told to, starting at `start`.
    pub fn manual(start: Millis) -> Self {
        Clock {
            source: Source::Manual(Arc::new(AtomicI64::new(start))),
            warp: Arc::new(AtomicU32::new(1)),
        }
    }

    pub fn with_warp(self, warp: u32) -> Self {
        self.set_warp(warp);
        self
    }

    pub fn now(&self) -> Millis {
        match &self.source {
            Source::Real => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
            Source::Manual(at) => at.load(Ordering::SeqCst),
        }
    }

    pub fn is_manual(&self) -> bool {
        matches!(self.source, Source::Manual(_))
    }

    /// Moves a manual clock forward; a real clock cannot be moved and ignores this.
    pub fn advance(&self, by: Duration) {
        if let Source::Manual(at) = &self.source {
            at.fetch_add(duration_ms(by), Ordering::SeqCst);
        }
    }

    /// Sets a manual clock; a real clock ignores this.
    pub fn set(&self, to: Millis) {
        if let Source::Manual(at) = &self.source {
            at.store(to, Ordering::SeqCst);
        }
    }

    pub fn warp(&self) -> u32 {
        self.warp.load(Ordering::Relaxed)
    }

    pub fn set_warp(&self, warp: u32) {
        self.warp.store(warp.max(1), Ordering::Relaxed);
    }

    /// A sale duration as it passes on this clock: `sale / warp`, at least 1 ms.
    pub fn scaled(&self, sale: Duration) -> Millis {
        (duration_ms(sale) / i64::from(self.warp())).max(1)
    }

    /// Real milliseconds left until `at`, shown in sale time (× warp) for countdowns.
    pub fn sale_time_left(&self, at: Millis) -> Duration {
        let left = (at - self.now()).max(0);
        Duration::from_millis(
            u64::try_from(left)
                .unwrap_or(0)
                .saturating_mul(u64::from(self.warp())),
        )
    }
}

pub fn duration_ms(d: Duration) -> Millis {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = Clock::manual(1_000);
        let other = clock.clone();
        assert_eq!(clock.now(), 1_000);
        other.advance(Duration::from_secs(2));
        assert_eq!(clock.now(), 3_000);
    }

    #[test]
    fn warp_shortens_durations_not_times() {
        let clock = Clock::manual(0).with_warp(60);
        assert_eq!(clock.scaled(Duration::from_secs(600)), 10_000);
        assert_eq!(clock.sale_time_left(10_000), Duration::from_secs(600));
        clock.set_warp(0);
        assert_eq!(clock.warp(), 1, "warp is at least 1");
    }
}
