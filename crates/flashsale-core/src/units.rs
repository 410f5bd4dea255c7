//! How counts and latencies read to a person, in reports and on screen alike:
//! `1 thread` / `2 threads`, `850 µs` / `12.3 ms` / `1.0 s`.

/// `n` and the noun, singular for exactly one: `1 thread`, `3 threads`.
pub fn count(n: impl Into<i128>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A latency in microseconds with a readable unit: µs below a millisecond, ms up to
/// ten seconds, then seconds. At most 7 characters, so a column of latencies stays
/// narrow.
pub fn micros(us: u64) -> String {
    if us < 1000 {
        format!("{us} µs")
    } else if us < 100_000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else if us < 10_000_000 {
        format!("{:.0} ms", us as f64 / 1000.0)
    } else {
        format!("{:.1} s", us as f64 / 1_000_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_latencies_read_naturally() {
        assert_eq!(count(1u8, "thread", "threads"), "1 thread");
        assert_eq!(count(0u8, "thread", "threads"), "0 threads");
        assert_eq!(count(2_000_u64, "buyer", "buyers"), "2000 buyers");
        assert_eq!(micros(850), "850 µs");
        assert_eq!(micros(12_345), "12.3 ms");
        assert_eq!(micros(1_028_607), "1029 ms");
        assert_eq!(micros(12_000_000), "12.0 s");
    }
}
