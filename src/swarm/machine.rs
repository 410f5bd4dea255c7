//! The whole machine's CPU time (`/proc/stat`), beside the process's own: what the
//! cores did while a bench row sold that the row's own CPU time does not show — the
//! kernel's and other processes' work, time the hypervisor gave to other guests
//! (steal), and idle. A row whose CPU time a hold says it could go faster with every
//! core busy is held back by whichever of these is large.

use std::time::Duration;

/// CPU time summed over every core since boot (or between two readings).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MachineTimes {
    /// user, nice, system, irq and softirq: every task's work and the kernel's.
    pub busy: Duration,
    /// idle and iowait: nothing to run.
    pub idle: Duration,
    /// Time the hypervisor ran something else while a core wanted to run ours.
    pub steal: Duration,
}

impl MachineTimes {
    /// Now, or `None` where there is no `/proc/stat` (then the bench says nothing).
    pub fn now() -> Option<MachineTimes> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        parse(&stat, rustix::param::clock_ticks_per_second())
    }

    /// What passed from `earlier` to `self`.
    pub fn since(self, earlier: MachineTimes) -> MachineTimes {
        MachineTimes {
            busy: self.busy.saturating_sub(earlier.busy),
            idle: self.idle.saturating_sub(earlier.idle),
            steal: self.steal.saturating_sub(earlier.steal),
        }
    }
}

/// The first (`cpu`, every core) line: user nice system idle iowait irq softirq steal,
/// in clock ticks (guest time is already inside user).
fn parse(stat: &str, ticks_per_sec: u64) -> Option<MachineTimes> {
    let line = stat.lines().next()?;
    let mut fields = line.split_whitespace();
    if fields.next()? != "cpu" || ticks_per_sec == 0 {
        return None;
    }
    let ticks: Vec<u64> = fields
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let [user, nice, system, idle, iowait, irq, softirq, steal] = ticks[..] else {
        return None;
    };
    let time = |t: u64| Duration::from_nanos(t.saturating_mul(1_000_000_000) / ticks_per_sec);
    Some(MachineTimes {
        busy: time(user + nice + system + irq + softirq),
        idle: time(idle + iowait),
        steal: time(steal),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_every_core_line_in_ticks() {
        let stat = "cpu  1178 5 1263 2318 969 2 279 306 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n";
        let t = parse(stat, 100).unwrap();
        assert_eq!(
            t.busy,
            Duration::from_millis(10 * (1178 + 5 + 1263 + 2 + 279))
        );
        assert_eq!(t.idle, Duration::from_millis(10 * (2318 + 969)));
        assert_eq!(t.steal, Duration::from_millis(3060));
        let later = parse("cpu  1278 5 1263 2318 969 2 279 406 0 0\n", 100).unwrap();
        assert_eq!(
            later.since(t),
            MachineTimes {
                busy: Duration::from_secs(1),
                idle: Duration::ZERO,
                steal: Duration::from_secs(1),
            }
        );
    }

    #[test]
    fn an_old_kernel_or_odd_text_is_none() {
        assert_eq!(parse("cpu 1 2 3 4\n", 100), None, "no steal column");
        assert_eq!(parse("intr 1 2 3 4 5 6 7 8\n", 100), None);
        assert_eq!(parse("cpu a b c d e f g h\n", 100), None);
        assert_eq!(parse("", 100), None);
        assert!(MachineTimes::now().is_some(), "this test runs on Linux");
    }
}
