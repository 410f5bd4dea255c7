//! The Redis gate against a real Redis: exact counts under real threads, a sold-out
//! answer that writes nothing, a flushed Redis that asks for a rebuild instead of
//! guessing, and a Redis that is gone giving a sentence, not a hang.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use common::servers::Redis;
use flashsale::gate::Admit;
use flashsale::gate::redis::{GateError, RedisGate};
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
    gate.reset(&[(PHONE, 5), (BUDS, 2)]).unwrap();
    let mut granted = 0;
    let mut refused = 0;
    for i in 0..8 {
        match gate.acquire(PHONE, 1).unwrap() {
            Admit::Granted => {
                granted += 1;
                gate.record(HoldId::at(1_800_000_000_000 + i), 1, 60_000)
                    .unwrap();
            }
            Admit::SoldOut { permits } => {
                assert_eq!(permits, 0);
                refused += 1;
            }
            Admit::Lost => panic!("the gate was just built"),
        }
    }
    assert_eq!((granted, refused), (5, 3));
    assert_eq!(
        gate.count(BUDS).unwrap(),
        Some(2),
        "another product is untouched"
    );
    assert_eq!(
        gate.acquire(BUDS, 3).unwrap(),
        Admit::SoldOut { permits: 2 },
        "asking for more than is left takes nothing"
    );
    assert_eq!(gate.count(BUDS).unwrap(), Some(2));
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
    gate.reset(&[(PHONE, 50)]).unwrap();
    let granted = Arc::new(AtomicI64::new(0));
    let refused = Arc::new(AtomicI64::new(0));
    let threads: Vec<_> = (0..400)
        .map(|_| {
            let (gate, granted, refused) = (gate.clone(), granted.clone(), refused.clone());
            std::thread::spawn(move || match gate.acquire(PHONE, 1) {
                Ok(Admit::Granted) => granted.fetch_add(1, Ordering::Relaxed),
                Ok(Admit::SoldOut { .. }) => refused.fetch_add(1, Ordering::Relaxed),
                other => panic!("unexpected answer {other:?}"),
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(granted.load(Ordering::Relaxed), 50);
    assert_eq!(refused.load(Ordering::Relaxed), 350);
    assert_eq!(gate.count(PHONE).unwrap(), Some(0));
}

#[test]
fn release_and_clamp_move_the_count_the_way_the_database_says() {
    let Some(server) = Redis::start() else { return };
    let gate = gate(&server, "t3");
    gate.reset(&[(PHONE, 3)]).unwrap();
    let hold = HoldId::at(1_800_000_000_000);
    assert_eq!(gate.acquire(PHONE, 2).unwrap(), Admit::Granted);
    gate.record(hold, 2, 60_000).unwrap();
    assert_eq!(gate.count(PHONE).unwrap(), Some(1));
    gate.give_back(PHONE, 2).unwrap();
    gate.drop_holds(&[hold]).unwrap();
    assert_eq!(gate.count(PHONE).unwrap(), Some(3));
    let mut conn = raw(&server);
    let exists: i64 = redis::cmd("EXISTS")
        .arg(format!("flashsale:t3:hold:{hold}"))
        .query(&mut conn)
        .unwrap();
    assert_eq!(exists, 0, "a returned hold's key goes with it");
    gate.lower(PHONE, 1).unwrap();
    assert_eq!(
        gate.count(PHONE).unwrap(),
        Some(1),
        "clamped down to the database"
    );
    gate.lower(PHONE, 10).unwrap();
    assert_eq!(
        gate.count(PHONE).unwrap(),
        Some(1),
        "a clamp never raises the count"
    );
}

#[test]
fn a_flushed_redis_asks_for_a_rebuild_instead_of_answering_sold_out() {
    let Some(server) = Redis::start() else { return };
    let gate = gate(&server, "t4");
    gate.reset(&[(PHONE, 3)]).unwrap();
    let mut conn = raw(&server);
    let _: () = redis::cmd("FLUSHALL").query(&mut conn).unwrap();
    assert_eq!(gate.acquire(PHONE, 1).unwrap(), Admit::Lost);
    assert_eq!(gate.count(PHONE).unwrap(), None);
    gate.give_back(PHONE, 1).unwrap();
    assert_eq!(
        gate.count(PHONE).unwrap(),
        None,
        "no count is invented before a rebuild"
    );
    gate.reset(&[(PHONE, 2)]).unwrap();
    assert_eq!(gate.acquire(PHONE, 1).unwrap(), Admit::Granted);
    assert_eq!(gate.count(PHONE).unwrap(), Some(1));
}

#[test]
fn two_sales_on_one_redis_keep_their_own_counts() {
    let Some(server) = Redis::start() else { return };
    let a = gate(&server, "sale-a");
    let b = gate(&server, "sale-b");
    a.reset(&[(PHONE, 1)]).unwrap();
    b.reset(&[(PHONE, 7)]).unwrap();
    assert_eq!(a.acquire(PHONE, 1).unwrap(), Admit::Granted);
    assert_eq!(b.count(PHONE).unwrap(), Some(7));
}

#[test]
fn a_redis_that_is_gone_gives_one_sentence_not_a_hang() {
    let Some(server) = Redis::start() else { return };
    let gate = gate(&server, "t5");
    gate.reset(&[(PHONE, 3)]).unwrap();
    drop(server);
    let err = gate.acquire(PHONE, 1).expect_err("Redis is stopped");
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

// The engine with `--gate redis://`: the gate strategy's first step is the Redis count,
// the database still decides every hold.

use flashsale::Strategy;

/// An engine on a new file with `stock` PHONE units, the gate in `server`.
fn engine_with_gate(server: &Redis, stock: i64) -> (common::Db, flashsale::Engine) {
    let db = common::db_with("PHONE", stock, 1);
    let (store, _) = flashsale::Store::open(&db.path, common::options()).unwrap();
    let engine = flashsale::Engine::open(
        store,
        flashsale::EngineConfig {
            strategy: Strategy::Gate,
            clock: flashsale::Clock::manual(common::START),
            sweeper: false,
            gate: Some(server.url.clone()),
            ..flashsale::EngineConfig::default()
        },
    )
    .unwrap();
    (db, engine)
}

fn race(engine: &flashsale::Engine, buyers: usize, prefix: &str) -> (usize, usize) {
    let start = std::sync::Barrier::new(buyers);
    let outcomes: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..buyers)
            .map(|i| {
                let (engine, start) = (engine.clone(), &start);
                s.spawn(move || {
                    start.wait();
                    engine.reserve("PHONE", &format!("{prefix}{i}"), 1)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won = outcomes.iter().filter(|r| r.is_ok()).count();
    let sold_out = outcomes
        .iter()
        .filter(|r| matches!(r, Err(flashsale::Error::SoldOut { .. })))
        .count();
    (won, sold_out)
}

#[test]
fn twenty_units_thirty_three_buyers_through_the_redis_gate() {
    let Some(server) = Redis::start() else { return };
    let (db, engine) = engine_with_gate(&server, 20);
    assert_eq!(engine.gate_name(), server.url);
    assert_eq!(race(&engine, 33, "b"), (20, 13));
    assert_eq!(engine.gate_permits(flashsale::ids::ProductId(1)), 0);
    let (available, active, paid, orders) = common::books(&db.path, "PHONE");
    assert_eq!((available, active, paid, orders), (0, 20, 0, 0));
    common::audit_ok(&db.path);
}

#[test]
fn a_flushed_redis_mid_sale_is_rebuilt_from_the_database_and_never_oversells() {
    let Some(server) = Redis::start() else { return };
    let (db, engine) = engine_with_gate(&server, 20);
    assert_eq!(race(&engine, 12, "first"), (12, 0));
    let mut conn = raw(&server);
    let _: () = redis::cmd("FLUSHALL").query(&mut conn).unwrap();
    // The count is gone: the next buyers see it rebuilt from the database's 8 units.
    assert_eq!(race(&engine, 20, "second"), (8, 12));
    let (available, active, _, _) = common::books(&db.path, "PHONE");
    assert_eq!((available, active), (0, 20));
    common::audit_ok(&db.path);
}

#[test]
fn expired_holds_give_their_units_back_through_redis() {
    let Some(server) = Redis::start() else { return };
    let (db, engine) = engine_with_gate(&server, 3);
    assert_eq!(race(&engine, 5, "b"), (3, 2));
    let mut conn = raw(&server);
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("flashsale:*:hold:*")
        .query(&mut conn)
        .unwrap();
    assert_eq!(keys.len(), 3, "a key per live hold");
    engine.clock().advance(std::time::Duration::from_secs(601));
    assert_eq!(engine.sweep().unwrap(), 3);
    assert_eq!(engine.gate_permits(flashsale::ids::ProductId(1)), 3);
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("flashsale:*:hold:*")
        .query(&mut conn)
        .unwrap();
    assert!(keys.is_empty(), "expired holds' keys are gone: {keys:?}");
    assert_eq!(race(&engine, 5, "again"), (3, 2));
    common::audit_ok(&db.path);
}

#[test]
fn a_stopped_redis_is_one_sentence_and_never_a_hold() {
    let Some(server) = Redis::start() else { return };
    let (db, engine) = engine_with_gate(&server, 5);
    drop(server);
    let err = engine
        .reserve("PHONE", "ann", 1)
        .expect_err("Redis is gone");
    assert!(matches!(err, flashsale::Error::Gate(_)), "{err:?}");
    assert!(err.is_fault(), "a swarm stops on it");
    assert!(err.to_string().contains("does not answer"), "{err}");
    let (available, active, _, _) = common::books(&db.path, "PHONE");
    assert_eq!((available, active), (5, 0));
}

#[test]
fn two_processes_on_one_file_share_one_redis_count() {
    let Some(server) = Redis::start() else { return };
    let db = common::db_with("PHONE", 300, 1);
    let swarm = |prefix: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_flashsale"))
            .args(["--db", db.path.to_str().unwrap(), "--gate", &server.url])
            .args([
                "swarm",
                "--sku",
                "PHONE",
                "--buyers",
                "400",
                "--strategy",
                "gate",
            ])
            .args(["--json", "--seed", prefix])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| swarm("1"));
        let b = s.spawn(|| swarm("2"));
        (a.join().unwrap(), b.join().unwrap())
    });
    for out in [&a, &b] {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (available, active, paid, orders) = common::books(&db.path, "PHONE");
    assert_eq!(
        (available, active + paid, orders),
        (0, 300, 300),
        "exactly the stock, no more"
    );
    common::audit_ok(&db.path);
    let mut conn = raw(&server);
    let permits: Vec<String> = redis::cmd("KEYS")
        .arg("flashsale:*:permits")
        .query(&mut conn)
        .unwrap();
    assert_eq!(
        permits.len(),
        1,
        "both processes counted in one place: {permits:?}"
    );
}

/// The Redis gate in front of either store: 20 units for 33 buyers, then Redis flushed
/// mid-sale and rebuilt from the database — exact counts, never an oversell.
#[test]
fn a_flushed_redis_in_front_of_either_store_is_rebuilt_and_never_oversells() {
    let Some(server) = Redis::start() else { return };
    let pg = common::servers::Postgres::start();
    for sale in common::both::stores(pg.as_ref(), "redis_flush", "PHONE", 20, 1) {
        let on = sale.name();
        let engine = sale.engine_with(flashsale::EngineConfig {
            strategy: Strategy::Gate,
            clock: flashsale::Clock::manual(common::START),
            sweeper: false,
            gate: Some(server.url.clone()),
            ..flashsale::EngineConfig::default()
        });
        assert_eq!(engine.gate_name(), server.url, "{on}");
        assert_eq!(race(&engine, 12, &format!("{on}-first")), (12, 0), "{on}");
        let mut conn = raw(&server);
        let _: () = redis::cmd("FLUSHALL").query(&mut conn).unwrap();
        assert_eq!(race(&engine, 20, &format!("{on}-second")), (8, 12), "{on}");
        let stock = sale.stock("PHONE");
        assert_eq!((stock.available, stock.held), (0, 20), "{on}");
        assert!(sale.audit().ok, "{on}");
    }
}
