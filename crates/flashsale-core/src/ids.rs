//! Newtype ids, so a hold id is never passed where an order id belongs.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::clock::Millis;

/// A product's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct ProductId(pub i64);

impl fmt::Display for ProductId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map($name)
            }
        }

    };
}

uuid_id!(
    /// A hold's id: a UUID v7 (DESIGN.md "Hold ids"), the engine clock's millisecond and
    /// 74 random bits. Time-ordered, so a new hold appends to the end of the primary
    /// key's B-tree instead of dirtying a random page (past ~100,000 holds a random v4
    /// id cost every insert a page read and a page write); still unguessable, and an id
    /// alone never gives authority: every change checks the buyer.
    HoldId
);
uuid_id!(
    /// An order's id: a time-ordered (v7) UUID.
    OrderId
);

impl HoldId {
    /// A new id stamped `at` (the engine clock's now, so a warped or manual clock orders
    /// ids as it orders holds). The random bits come from the thread's CSPRNG.
    pub fn at(at: Millis) -> Self {
        let random: [u8; 10] = rand::random();
        let ms = u64::try_from(at).unwrap_or(0);
        HoldId(uuid::Builder::from_unix_timestamp_millis(ms, &random).into_uuid())
    }
}

impl OrderId {
    pub fn new() -> Self {
        OrderId(Uuid::now_v7())
    }
}

impl Default for OrderId {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_ids_are_v7_ordered_by_time_and_not_guessable() {
        let early = HoldId::at(1_700_000_000_000);
        let late = HoldId::at(1_700_000_000_001);
        assert_eq!(early.0.get_version_num(), 7);
        assert!(early < late, "a later hold sorts after an earlier one");
        let ts = early.0.get_timestamp().map(|t| t.to_unix());
        assert_eq!(ts, Some((1_700_000_000, 0)));
        // Same millisecond, different ids: the 74 random bits.
        let ids: std::collections::HashSet<_> =
            (0..1000).map(|_| HoldId::at(1_700_000_000_000)).collect();
        assert_eq!(ids.len(), 1000);
    }
}
