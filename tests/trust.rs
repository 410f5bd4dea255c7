//! What the engine trusts: a pay-first cart is paid only if it is exactly a cart the
//! engine handed out; a hold only by its own buyer.

mod common;

use common::{START, audit_ok, books, db_with, engine};
use flashsale::ids::HoldId;
use flashsale::{Clock, Error, Strategy};

#[test]
fn pay_first_pays_only_the_carts_the_engine_handed_out() {
    let db = db_with("FS", 5, 2);
    let engine = engine(&db.path, Strategy::PayFirst, Clock::manual(START));
    let cart = engine.reserve("FS", "alice", 1).unwrap();
    let mut more = cart.clone();
    more.qty = 2;
    let mut someone_else = cart.clone();
    someone_else.buyer = "mallory".into();
    let mut later = cart.clone();
    later.expires_at += 3_600_000;
    for forged in [&more, &someone_else, &later] {
        assert!(
            matches!(engine.checkout(forged), Err(Error::NotYourHold { .. })),
            "{forged:?}"
        );
    }
    let mut made_up = cart.clone();
    made_up.id = HoldId::at(1_800_000_000_000);
    assert!(matches!(
        engine.checkout(&made_up),
        Err(Error::HoldNotFound { .. })
    ));
    assert_eq!(books(&db.path, "FS"), (5, 0, 0, 0), "nothing was sold");

    let order = engine.checkout(&cart).expect("the real cart");
    assert_eq!(
        engine.checkout(&cart).unwrap(),
        order,
        "paying again: same order"
    );
    assert!(matches!(
        engine.checkout(&someone_else),
        Err(Error::NotYourHold { .. })
    ));
    assert_eq!(books(&db.path, "FS"), (4, 0, 1, 1));
    // A cancelled cart cannot be paid afterwards.
    let second = engine.reserve("FS", "alice", 1).unwrap();
    engine.release(&second).unwrap();
    assert!(engine.checkout(&second).is_err());
    assert_eq!(books(&db.path, "FS"), (4, 0, 1, 1));
    assert!(audit_ok(&db.path).ok);
}
