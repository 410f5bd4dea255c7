//! The layout of a log line: `2026-11-30T21:45:08.884925Z  INFO target: message k=v`, as
//! tracing-subscriber's default wrote it, for less work.
//!
//! Why our own: serving add-to-carts over HTTP, the default format took about 6% of the
//! runtime threads' CPU (perf): a calendar date worked out for every line, and colour
//! checks on a file that has none. Here the date and time to the second are worked out
//! once a second per thread, and the rest is written as it is.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The event format of the log file (no spans: flashsale opens none).
pub(in crate::cli) struct Line;

impl<S, N> FormatEvent<S, N> for Line
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut out: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        timestamp(&mut out, SystemTime::now())?;
        write!(out, " {:>5} {}: ", meta.level(), meta.target())?;
        ctx.field_format().format_fields(out.by_ref(), event)?;
        writeln!(out)
    }
}

thread_local! {
    /// The second last written by this thread, and its text up to the seconds.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// RFC 3339 in UTC to the microsecond.
fn timestamp(out: &mut impl fmt::Write, now: SystemTime) -> fmt::Result {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let second = since.as_secs();
    SECOND.with_borrow_mut(|(at, text)| {
        if *at != second {
            text.clear();
            let when = i64::try_from(second)
                .ok()
                .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
                .unwrap_or_default();
            write!(text, "{}", when.format("%Y-%m-%dT%H:%M:%S"))?;
            *at = second;
        }
        write!(out, "{text}.{:06}Z", since.subsec_micros())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(micros: u64) -> String {
        let mut text = String::new();
        timestamp(&mut text, UNIX_EPOCH + Duration::from_micros(micros)).unwrap();
        text
    }

    #[test]
    fn timestamps_are_rfc3339_to_the_microsecond_across_seconds_and_days() {
        assert_eq!(at(1_796_074_708_884_925), "2026-11-30T21:38:28.884925Z");
        assert_eq!(at(1_796_074_708_000_001), "2026-11-30T21:38:28.000001Z");
        assert_eq!(at(1_796_083_199_999_999), "2026-11-30T23:59:59.999999Z");
        assert_eq!(at(1_796_083_200_000_000), "2026-12-01T00:00:00.000000Z");
        assert_eq!(at(0), "1970-01-01T00:00:00.000000Z");
    }
}
