//! How numbers and times read on screen: thousands separators, `m:ss` countdowns,
//! wall-clock times, latencies with their unit.

use std::time::Duration;

use crate::clock::Millis;

/// `12345` → `12,345`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn thousands_i(n: i64) -> String {
    if n < 0 {
        format!("-{}", thousands(n.unsigned_abs()))
    } else {
        thousands(n.unsigned_abs())
    }
}

/// A countdown: `m:ss`, or `h:mm:ss` from an hour up.
pub fn countdown(left: Duration) -> String {
    let secs = left.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// A wall-clock time of day, `HH:MM:SS`, local or UTC.
pub fn time_of_day(at: Millis, utc: bool) -> String {
    use chrono::{DateTime, Local, Utc};
    let Some(t) = DateTime::<Utc>::from_timestamp_millis(at) else {
        return "--:--:--".into();
    };
    if utc {
        t.format("%H:%M:%S").to_string()
    } else {
        t.with_timezone(&Local).format("%H:%M:%S").to_string()
    }
}

/// A span of milliseconds, short: `850ms`, `4.1s`, `3m05s`.
pub fn span(ms: Millis) -> String {
    let ms = ms.max(0);
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        format!("{}m{:02}s", ms / 60_000, ms / 1000 % 60)
    }
}

pub use crate::units::micros;

/// A rate per second: whole numbers from 10 up, one decimal below.
pub fn rate(per_sec: f64) -> String {
    if !per_sec.is_finite() || per_sec <= 0.0 {
        "0".into()
    } else if per_sec < 10.0 {
        format!("{per_sec:.1}")
    } else {
        thousands(per_sec.round() as u64)
    }
}

/// A hold TTL as a person writes it: `10m`, `30s`, `1h30m`.
pub fn ttl(d: Duration) -> String {
    let secs = d.as_secs();
    match (secs / 3600, secs / 60 % 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_times_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands_i(-1234), "-1,234");
        assert_eq!(countdown(Duration::from_secs(599)), "9:59");
        assert_eq!(countdown(Duration::from_secs(3725)), "1:02:05");
        assert_eq!(time_of_day(0, true), "00:00:00");
        assert_eq!(span(850), "850ms");
        assert_eq!(span(4100), "4.1s");
        assert_eq!(span(185_000), "3m05s");
        assert_eq!(micros(850), "850 µs");
        assert_eq!(micros(1250), "1.2 ms");
        assert_eq!(micros(272_100), "272 ms");
        assert_eq!(micros(12_300_000), "12.3 s");
        assert_eq!(rate(2.54), "2.5");
        assert_eq!(rate(1234.4), "1,234");
        assert_eq!(ttl(Duration::from_secs(600)), "10m");
        assert_eq!(ttl(Duration::from_secs(90)), "1m30s");
    }
}
