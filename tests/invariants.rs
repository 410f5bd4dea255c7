//! The invariants over random sequences of operations, for every safe strategy: after
//! every step the audit passes and `total = available + held + sold`.

mod common;

use std::time::Duration;

use common::{START, db_with, engine};
use flashsale::Clock;
use flashsale::Strategy as Sell;
use flashsale::hold::Hold;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Reserve { buyer: u8, qty: i64 },
    Pay { pick: usize },
    PayAs { pick: usize, buyer: u8 },
    Cancel { pick: usize },
    Extend { pick: usize },
    Advance { secs: u64 },
    Sweep,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..6, 0i64..3).prop_map(|(buyer, qty)| Op::Reserve { buyer, qty }),
        3 => any::<usize>().prop_map(|pick| Op::Pay { pick }),
        1 => (any::<usize>(), 0u8..6).prop_map(|(pick, buyer)| Op::PayAs { pick, buyer }),
        1 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Extend { pick }),
        2 => (1u64..400).prop_map(|secs| Op::Advance { secs }),
        1 => Just(Op::Sweep),
    ]
}

fn pick(holds: &[Hold], i: usize) -> Option<&Hold> {
    (!holds.is_empty()).then(|| &holds[i % holds.len()])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn books_balance_after_every_step(ops in prop::collection::vec(op(), 1..40), which in 0usize..6) {
        let strategy = Sell::SAFE[which];
        let db = db_with("FS", 4, 2);
        let clock = Clock::manual(START);
        let engine = engine(&db.path, strategy, clock.clone());
        let mut holds: Vec<Hold> = Vec::new();
        for op in &ops {
            // Expected refusals are fine; what matters is the state they leave.
            match op {
                Op::Reserve { buyer, qty } => {
                    if let Ok(h) = engine.reserve("FS", &format!("b{buyer}"), *qty) {
                        holds.push(h);
                    }
                }
                Op::Pay { pick: i } => {
                    if let Some(h) = pick(&holds, *i) {
                        let _ = engine.checkout(h);
                    }
                }
                Op::PayAs { pick: i, buyer } => {
                    if let Some(h) = pick(&holds, *i) {
                        let as_buyer = format!("b{buyer}");
                        let paid = engine.checkout_id(h.id, &as_buyer);
                        if as_buyer != h.buyer {
                            prop_assert!(paid.is_err(), "{strategy}: paid someone else's hold");
                        }
                    }
                }
                Op::Cancel { pick: i } => {
                    if let Some(h) = pick(&holds, *i) {
                        let _ = engine.release(h);
                    }
                }
                Op::Extend { pick: i } => {
                    if let Some(h) = pick(&holds, *i) {
                        let _ = engine.extend(h.id, &h.buyer);
                    }
                }
                Op::Advance { secs } => clock.advance(Duration::from_secs(*secs)),
                Op::Sweep => {
                    engine.sweep().unwrap();
                }
            }
            let mut conn = rusqlite::Connection::open(&db.path).unwrap();
            let report = flashsale::audit::audit(&mut conn, clock.now()).unwrap();
            prop_assert!(report.ok, "{strategy} after {op:?}: {:?}", report.violations);
            let s = &report.products[0];
            prop_assert_eq!(s.total, s.available + s.held + s.sold);
        }
    }
}
