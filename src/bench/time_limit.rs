//! How long a row may run. Unless `--time-limit` fixes it, a strategy row gets
//! [`MULTIPLE`] times what the `limit` row of the same run needs for the same holds, at
//! least [`FLOOR`] and at most [`CEILING`].
//!
//! Why from the limit row and not a fixed 6 s: a strategy that commits once per hold
//! (`immediate`, `atomic`, `optimistic`, `gate`) cannot beat the limit row, which is the
//! same transaction on one connection with nobody in its way, and the limit row itself
//! ran 3,900–4,900 holds/s on a quiet 2-core machine and a few hundred when other
//! programs were flushing the same disk. A fixed 6 s cut such a strategy off at 20,000
//! holds on any disk that commits fewer than 3,300 a second, whatever the strategy did;
//! with the limit row's time as the yardstick, "it did not finish" means "it made less
//! than a third of the rate one connection makes", on this machine, today.

use std::time::Duration;

use super::BenchConfig;

/// A strategy row may take this many times the limit row's time for the same holds.
pub const MULTIPLE: u32 = 3;
/// However fast the limit row: a row's threads and engine take time to start, and a
/// small `--holds` must not make the limit a few milliseconds.
pub const FLOOR: Duration = Duration::from_secs(6);
/// However slow the limit row: the bench ends in minutes, not hours.
pub const CEILING: Duration = Duration::from_secs(60);

/// The limit row's own stop (also the short one at the end): its rate is honest however
/// far it got, and past this any strategy row's limit is the ceiling anyway.
pub(super) fn for_limit_row(config: &BenchConfig) -> Duration {
    config.time_limit.unwrap_or(CEILING / MULTIPLE)
}

/// A strategy row's limit: the fixed one, or derived from the limit row's rate.
pub(super) fn for_rows(config: &BenchConfig, limit_per_sec: f64) -> Duration {
    config
        .time_limit
        .unwrap_or_else(|| derived(config.holds, limit_per_sec))
}

/// `MULTIPLE ×` the time `holds` take at the limit row's rate, within the floor and the
/// ceiling. A limit row that took nothing (it never does) gives the ceiling.
pub(super) fn derived(holds: u64, limit_per_sec: f64) -> Duration {
    if !limit_per_sec.is_finite() || limit_per_sec <= 0.0 {
        return CEILING;
    }
    let needs = holds as f64 / limit_per_sec;
    Duration::try_from_secs_f64(needs * f64::from(MULTIPLE))
        .unwrap_or(CEILING)
        .clamp(FLOOR, CEILING)
}

/// The line under the table that says which limit the rows had, and why.
pub(super) fn describe(limit_ms: u64, fixed: bool, holds: u64, limit_per_sec: f64) -> String {
    let secs = |ms: f64| format!("{:.1} s", ms / 1000.0);
    if fixed {
        return format!(
            "time limit: {} a row (--time-limit).",
            secs(limit_ms as f64)
        );
    }
    let needs_ms = if limit_per_sec > 0.0 {
        holds as f64 / limit_per_sec * 1000.0
    } else {
        f64::INFINITY
    };
    format!(
        "time limit: {} a row = {MULTIPLE} × the {} the limit row needs for {holds} holds \
         (at least {}, at most {}): a row cut short made less than a third of its rate.",
        secs(limit_ms as f64),
        secs(needs_ms),
        secs(FLOOR.as_millis() as f64),
        secs(CEILING.as_millis() as f64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_gets_three_times_what_the_limit_row_needs() {
        // 20,000 holds at 4,000/s: 5 s for the limit row, 15 s for a strategy.
        assert_eq!(derived(20_000, 4_000.0), Duration::from_secs(15));
        assert_eq!(derived(20_000, 2_500.0), Duration::from_secs(24));
    }

    #[test]
    fn the_floor_and_the_ceiling_hold() {
        // A fast limit row or a small sale: the floor.
        assert_eq!(derived(40, 5_000.0), FLOOR);
        assert_eq!(derived(20_000, 60_000.0), FLOOR);
        // A disk that commits 300 a second: the ceiling, not 200 s.
        assert_eq!(derived(20_000, 300.0), CEILING);
        // A limit row that measured nothing.
        assert_eq!(derived(20_000, 0.0), CEILING);
        assert_eq!(derived(20_000, f64::NAN), CEILING);
    }

    #[test]
    fn a_fixed_limit_wins_and_the_limit_row_stops_in_time() {
        let derived_config = BenchConfig::default();
        assert_eq!(derived_config.time_limit, None);
        assert_eq!(for_rows(&derived_config, 4_000.0), Duration::from_secs(15));
        assert_eq!(for_limit_row(&derived_config), Duration::from_secs(20));
        let fixed = BenchConfig {
            time_limit: Some(Duration::from_secs(6)),
            ..BenchConfig::default()
        };
        assert_eq!(for_rows(&fixed, 4_000.0), Duration::from_secs(6));
        assert_eq!(for_limit_row(&fixed), Duration::from_secs(6));
    }

    #[test]
    fn the_line_says_where_the_limit_came_from() {
        let line = describe(15_000, false, 20_000, 4_000.0);
        assert!(
            line.starts_with("time limit: 15.0 s a row = 3 × the 5.0 s the limit row needs"),
            "{line}"
        );
        assert_eq!(
            describe(6_000, true, 20_000, 4_000.0),
            "time limit: 6.0 s a row (--time-limit)."
        );
    }
}
