//! How a hold is taken under contention. Everything after the hold (checkout, release,
//! extend, expiry) is one shared, safe code path whatever the strategy.

use std::fmt;

/// Its names (`pay-first`) come from strum, so the command line, the HTTP API, the
/// journal and the reports spell them one way.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Strategy {
    /// Read stock, (race window), write `stock - 1`, insert hold; autocommit, no
    /// transaction. The classic lost update: UNSAFE, it oversells on purpose.
    Naive,
    /// `BEGIN IMMEDIATE`; read; check; update; insert; `COMMIT`: pessimistic locking.
    Immediate,
    /// Read `(stock, version)`; `UPDATE … WHERE version = ?`; retry on conflict, bounded.
    Optimistic,
    /// One conditional statement: `UPDATE … WHERE stock_available >= ?`.
    Atomic,
    /// An in-memory counter first; only its winners reach `immediate`.
    Gate,
    /// One writer thread takes requests first-in first-out and commits them in batches.
    Queue,
    /// No hold at add-to-cart; stock is claimed at payment; losers are refunded.
    PayFirst,
}

impl Strategy {
    /// Every strategy, in the order the reports list them (the declaration order).
    pub const ALL: [Strategy; 7] = [
        Strategy::Naive,
        Strategy::Immediate,
        Strategy::Optimistic,
        Strategy::Atomic,
        Strategy::Gate,
        Strategy::Queue,
        Strategy::PayFirst,
    ];

    /// The strategies that never oversell.
    pub const SAFE: [Strategy; 6] = [
        Strategy::Immediate,
        Strategy::Optimistic,
        Strategy::Atomic,
        Strategy::Gate,
        Strategy::Queue,
        Strategy::PayFirst,
    ];

    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn is_safe(self) -> bool {
        self != Strategy::Naive
    }

    /// The name with a warning where it is unsafe, for headers and reports.
    pub fn label(self) -> String {
        if self.is_safe() {
            self.name().to_owned()
        } else {
            format!("{} (UNSAFE)", self.name())
        }
    }

    pub fn summary(self) -> &'static str {
        match self {
            Strategy::Naive => "read, race window, write stock-1, insert; no transaction",
            Strategy::Immediate => "BEGIN IMMEDIATE; read; check; update; insert; COMMIT",
            Strategy::Optimistic => "read (stock, version); UPDATE ... WHERE version = ?; retry",
            Strategy::Atomic => "UPDATE ... WHERE stock_available >= qty, one statement",
            Strategy::Gate => "in-memory counter first; winners go to immediate",
            Strategy::Queue => "one FIFO writer thread, group commit in batches",
            Strategy::PayFirst => "claim stock at payment; refund the losers",
        }
    }

    pub fn to_u8(self) -> u8 {
        Strategy::ALL
            .iter()
            .position(|s| *s == self)
            .map_or(0, |i| i as u8)
    }

    pub fn from_u8(n: u8) -> Strategy {
        Strategy::ALL
            .get(usize::from(n))
            .copied()
            .unwrap_or(Strategy::Immediate)
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Strategy::ALL
            .into_iter()
            .find(|st| st.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Strategy::ALL.iter().map(|s| s.name()).collect();
                format!("unknown strategy {s:?} (one of: {})", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Strategy::ALL {
            assert!(<Strategy as strum::VariantArray>::VARIANTS.contains(&s));
            assert_eq!(s.name().parse::<Strategy>().unwrap(), s);
            assert_eq!(Strategy::from_u8(s.to_u8()), s);
        }
        assert!(!Strategy::Naive.is_safe());
        assert!(Strategy::Naive.label().contains("UNSAFE"));
    }
}
