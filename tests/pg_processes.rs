//! Many processes, one stock: three `swarm` processes on one PostgreSQL database with one
//! Redis gate sell exactly the stock, and one of them killed with `kill -9` mid-sale
//! loses no committed order and breaks no invariant. Real servers, started by the test
//! (skipped with a note on a machine without Debian's postgresql and redis-server; CI
//! installs both).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::servers::{Postgres, Redis};

const STOCK: i64 = 2000;

fn swarm(url: &str, gate: &str, strategy: &str, buyers: usize) -> Child {
    Command::new(env!("CARGO_BIN_EXE_flashsale"))
        .args(["--db", url, "--gate", gate, "swarm", "--strategy", strategy])
        .args(["--buyers", &buyers.to_string(), "--threads", "48"])
        .arg("--json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a swarm")
}

fn audit(url: &str) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_flashsale"))
        .args(["--db", url, "audit", "--json"])
        .output()
        .expect("audit");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    common::json_of(&out)
}

fn phone(audit: &serde_json::Value) -> (i64, i64, i64, i64) {
    let p = audit["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["sku"] == "PHONE-X1")
        .expect("the phone");
    let n = |k: &str| p[k].as_i64().unwrap();
    (n("total"), n("available"), n("held"), n("sold"))
}

/// Sets the phone's stock once, before the processes start (each swarm would otherwise
/// restock it to its own `--stock`).
fn set_stock(url: &str, stock: i64) {
    let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect");
    client
        .execute(
            "UPDATE products SET stock_total = $1, stock_available = $1 WHERE sku = 'PHONE-X1'",
            &[&stock],
        )
        .expect("set the stock");
}

#[test]
fn three_processes_one_redis_gate_sell_exactly_the_stock_and_survive_kill_dash_nine() {
    let (Some(pg), Some(redis)) = (Postgres::start(), Redis::start()) else {
        return;
    };
    for strategy in ["gate", "queue", "immediate"] {
        let url = pg.database(&format!("three_{strategy}"));
        let init = Command::new(env!("CARGO_BIN_EXE_flashsale"))
            .args(["--db", &url, "init"])
            .output()
            .unwrap();
        assert!(
            init.status.success(),
            "{}",
            String::from_utf8_lossy(&init.stderr)
        );
        set_stock(&url, STOCK);
        let mut swarms: Vec<Child> = (0..3)
            .map(|_| swarm(&url, &redis.url, strategy, 3000))
            .collect();
        // Once orders are being written, kill the last process without warning.
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let started = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(20));
            let orders: i64 = client
                .query_one("SELECT count(*) FROM orders", &[])
                .unwrap()
                .get(0);
            if orders > 300 || started.elapsed() > Duration::from_secs(30) {
                break;
            }
        }
        let mut killed = swarms.pop().unwrap();
        killed.kill().unwrap(); // SIGKILL
        assert!(
            !killed.wait().unwrap().success(),
            "{strategy}: killed mid-sale"
        );
        for child in swarms {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{strategy}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let report = common::json_of(&out);
            assert_eq!(report["oversold"], 0, "{strategy}");
        }
        // Permits the killed process took from Redis died with it: the gate may have
        // turned the last buyers away from a few units that are there. Buyers who
        // come later than the gate's check interval (250 ms) get them: a late swarm
        // sells exactly what is left, never more.
        let (_, left, _, _) = phone(&audit(&url));
        std::thread::sleep(Duration::from_millis(300));
        let late = swarm(&url, &redis.url, strategy, 300)
            .wait_with_output()
            .unwrap();
        assert!(
            late.status.success(),
            "{}",
            String::from_utf8_lossy(&late.stderr)
        );
        let late = common::json_of(&late);
        assert_eq!(
            late["sold"].as_i64(),
            Some(left),
            "{strategy}: the late buyers"
        );
        assert_eq!(late["oversold"], 0, "{strategy}");
        // Every committed order is there, with its paid hold, and the books balance: the
        // stock is exactly sold or held (the killed process's open holds stay held
        // until they expire).
        let report = audit(&url);
        let (total, available, held, sold) = phone(&report);
        assert_eq!(total, STOCK, "{strategy}");
        assert_eq!(available, 0, "{strategy}: {STOCK} units, all sold or held");
        assert_eq!(held + sold, STOCK, "{strategy}: exactly the stock");
        let orders: i64 = client
            .query_one(
                "SELECT count(*) FROM orders o JOIN holds h ON h.id = o.hold_id
                 WHERE h.status = 'paid'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(orders, sold, "{strategy}: one order per unit sold");
    }
}

/// Checkout racing the sweepers of other processes: two `flashsale sweep` processes
/// (whose clocks say every hold is due) and four buyer threads paying the same holds
/// (whose clock says each is still a millisecond inside its deadline). Each hold ends
/// exactly once — paid with one order, or expired with its unit back — never both.
#[test]
fn checkouts_racing_sweeper_processes_give_each_hold_exactly_one_end() {
    use std::sync::Arc;

    use common::both::stores;
    use flashsale::{Clock, Error, Strategy};

    let Some(pg) = Postgres::start() else { return };
    let sale = stores(Some(&pg), "sweepers", "FS", 200, 1).pop().unwrap();
    let url = sale.db_arg();
    // An hour ago by the real clock: the sweeper processes see every hold as due.
    let taken_at = Clock::real().now() - 3_600_000;
    let clock = Clock::manual(taken_at);
    let engine = sale.engine(Strategy::Immediate, clock.clone());
    let holds: Vec<_> = (0..200)
        .map(|i| engine.reserve("FS", &format!("b{i}"), 1).expect("a hold"))
        .collect();
    // The buyers' clock: one millisecond before the deadline.
    clock.set(holds[0].expires_at - 1);
    let sweepers: Vec<Child> = (0..2)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_flashsale"))
                .args(["--db", &url, "sweep"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("a sweeper process")
        })
        .collect();
    let holds = Arc::new(holds);
    let payers: Vec<_> = (0..4)
        .map(|t| {
            let (engine, holds) = (engine.clone(), Arc::clone(&holds));
            std::thread::spawn(move || {
                let mut paid = 0;
                for hold in holds.iter().skip(t).step_by(4) {
                    match engine.checkout(hold) {
                        Ok(_) => paid += 1,
                        Err(Error::HoldExpired { .. }) => {}
                        Err(e) => panic!("unexpected {e}"),
                    }
                }
                paid
            })
        })
        .collect();
    let paid: i64 = payers.into_iter().map(|p| p.join().unwrap()).sum();
    eprintln!("{paid} of 200 holds paid, the rest expired by the sweeper processes");
    for s in sweepers {
        let out = s.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Whatever the payers did not get, a sweeper expired: run one more to be sure.
    let last = Command::new(env!("CARGO_BIN_EXE_flashsale"))
        .args(["--db", &url, "sweep"])
        .output()
        .unwrap();
    assert!(last.status.success());
    let stock = sale.stock("FS");
    assert_eq!(stock.sold, paid, "one order per hold that was paid");
    assert_eq!(stock.held, 0, "every other hold expired");
    assert_eq!(stock.available, 200 - paid, "and gave its unit back once");
    let audit = sale.audit();
    assert!(audit.ok, "{:?}", audit.violations);
    assert_eq!(audit.holds, 200);
    assert_eq!(audit.orders, paid);
}
