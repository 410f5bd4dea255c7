//! The Redis gate against a real Redis: exact counts under real threads, a sold-out
//! answer that writes nothing, a flushed Redis that asks for a rebuild instead of
//! guessing, and a Redis that is gone giving a sentence, not a hang.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use common::servers::Redis;
use flashsale::gate::redis::{Admit, GateError, RedisGate};
use flashsale::ids::{HoldId, ProductId};

const PHONE: ProductId = ProductId(1);
const BUDS: ProductId = ProductId(2);

fn gate(server: &Redis, sale: &str) -> RedisGate {
    RedisGate::connect(&server.url, sale).expect("connect")
}

fn raw(server: &Redis) -> redis::Connection {
    redis::Client::open(server.url.as_str())
        .unwrap()
        .get_connection()
        .unwrap()
}

#[test]
fn permits_run_out_exactly_and_a_sold_out_answer_writes_nothing() {
    let Some(server) = Redis::start() else { return };
    let gate = gate(&server, "t1");
    gate.rebuild(&[(PHONE, 5), (BUDS, 2)]).unwrap();
    let mut granted = 0;
    let mut refused = 0;
    for _ in 0..8 {
        match gate
            .try_acquire(PHONE, 1, HoldId::at(1_800_000_000_000), 60_000)
            .unwrap()
        {
            Admit::Granted => granted += 1,
            Admit::SoldOut { permits } => {
                assert_eq!(permits, 0);
                refused += 1;
            }
            Admit::Lost => panic!("the gate was just built"),
        }
    }
    assert_eq!((granted, refused), (5, 3));
    assert_eq!(
        gate.permits(BUDS).unwrap(),
        Some(2),
        "another product is untouched"
    );
    assert_eq!(
        gate.try_acquire(BUDS, 3, HoldId::at(1_800_000_000_000), 60_000)
            .unwrap(),
        Admit::SoldOut { permits: 2 },
        "asking for more than is left takes nothing"
    );
    assert_eq!(gate.permits(BUDS).unwrap(), Some(2));
    let mut conn = raw(&server);
    let holds: Vec<String> = redis::cmd("KEYS")
        .arg("flashsale:t1:hold:*")
        .query(&mut conn)
        .unwrap();
    assert_eq!(holds.len(), 5, "one key per granted hold");
    let ttl: i64 = redis::cmd("PTTL").arg(&holds[0]).query(&mut conn).unwrap();
    assert!(
        ttl > 0 && ttl <= 60_000,
        "each hold key expires with its hold: {ttl}"
    );
}

#[test]
fn four_hundred_threads_share_fifty_permits_exactly() {
    let Some(server) = Redis::start() else { return };
    let gate = Arc::new(gate(&server, "t2"));
    gate.rebuild(&[(PHONE, 50)]).unwrap();
    let granted = Arc::new(AtomicI64::new(0));
    let refused = Arc::new(AtomicI64::new(0));
    let threads: Vec<_> = (0..400)
        .map(|_| {
            let (gate, granted, refused) = (gate.clone(), granted.clone(), refused.clone());
            std::thread::spawn(move || {
                match gate.try_acquire(PHONE, 1, HoldId::at(1_800_000_000_000), 60_000) {
                    Ok(Admit::Granted) => granted.fetch_add(1, Ordering::Relaxed),
                    Ok(Admit::SoldOut { .. }) => refused.fetch_add(1, Ordering::Relaxed),
                    other => panic!("unexpected answer {other:?}"),
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(granted.load(Ordering::Relaxed), 50);
    assert_eq!(refused.load(Ordering::Relaxed), 350);
    assert_eq!(gate.permits(PHONE).unwrap(), Some(0));
}

#[test]
fn release_and_clamp_move_the_count_the_way_the_database_says() {
    let Some(server) = Redis::start() else { return };
    let gate = gate(&server, "t3");
    gate.rebuild(&[(PHONE, 3)]).unwrap();
    let hold = HoldId::at(1_800_000_000_000);
    assert_eq!(
        gate.try_acquire(PHONE, 2, hold, 60_000).unwrap(),
        Admit::Granted
    );
    assert_eq!(gate.permits(PHONE).unwrap(), Some(1));
    gate.release(PHONE, 2, Some(hold)).unwrap();
    assert_eq!(gate.permits(PHONE).unwrap(), Some(3));
    let mut conn = raw(&server);
    let exists: i64 = redis::cmd("EXISTS")
        .arg(format!("flashsale:t3:hold:{hold}"))
        .query(&mut conn)
        .unwrap();
    assert_eq!(exists, 0, "a returned hold's key goes with it");
    gate.clamp(PHONE, 1).unwrap();
    assert_eq!(
        gate.permits(PHONE).unwrap(),
        Some(1),
        "clamped down to the database"
    );
    gate.clamp(PHONE, 10).unwrap();
    assert_eq!(
        gate.permits(PHONE).unwrap(),
        Some(1),
        "a clamp never raises the count"
    );
}

#[test]
fn a_flushed_redis_asks_for_a_rebuild_instead_of_answering_sold_out() {
    let Some(server) = Redis::start() else { return };
    let gate = gate(&server, "t4");
    gate.rebuild(&[(PHONE, 3)]).unwrap();
    let mut conn = raw(&server);
    let _: () = redis::cmd("FLUSHALL").query(&mut conn).unwrap();
    assert_eq!(
        gate.try_acquire(PHONE, 1, HoldId::at(1_800_000_000_000), 1_000)
            .unwrap(),
        Admit::Lost
    );
    assert_eq!(gate.permits(PHONE).unwrap(), None);
    gate.release(PHONE, 1, None).unwrap();
    assert_eq!(
        gate.permits(PHONE).unwrap(),
        None,
        "no count is invented before a rebuild"
    );
    gate.rebuild(&[(PHONE, 2)]).unwrap();
    assert_eq!(
        gate.try_acquire(PHONE, 1, HoldId::at(1_800_000_000_000), 1_000)
            .unwrap(),
        Admit::Granted
    );
    assert_eq!(gate.permits(PHONE).unwrap(), Some(1));
}

#[test]
fn two_sales_on_one_redis_keep_their_own_counts() {
    let Some(server) = Redis::start() else { return };
    let a = gate(&server, "sale-a");
    let b = gate(&server, "sale-b");
    a.rebuild(&[(PHONE, 1)]).unwrap();
    b.rebuild(&[(PHONE, 7)]).unwrap();
    assert_eq!(
        a.try_acquire(PHONE, 1, HoldId::at(1_800_000_000_000), 1_000)
            .unwrap(),
        Admit::Granted
    );
    assert_eq!(b.permits(PHONE).unwrap(), Some(7));
}

#[test]
fn a_redis_that_is_gone_gives_one_sentence_not_a_hang() {
    let Some(server) = Redis::start() else { return };
    let gate = gate(&server, "t5");
    gate.rebuild(&[(PHONE, 3)]).unwrap();
    drop(server);
    let err = gate
        .try_acquire(PHONE, 1, HoldId::at(1_800_000_000_000), 1_000)
        .expect_err("Redis is stopped");
    assert!(matches!(err, GateError::Unavailable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("does not answer") && text.contains("--gate"),
        "{text}"
    );
    let refused = RedisGate::connect("redis://127.0.0.1:1", "t5")
        .err()
        .expect("nothing listens on port 1");
    assert!(
        refused.to_string().contains("redis://127.0.0.1:1"),
        "{refused}"
    );
    let bad = RedisGate::connect("http://example", "t5")
        .err()
        .expect("not a Redis URL");
    assert!(matches!(bad, GateError::BadUrl { .. }), "{bad}");
}
