//! Several processes on one file: a swarm killed with SIGKILL mid-run, and two swarms
//! selling the same stock at once.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::books;
use flashsale::Strategy;

fn flashsale(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flashsale"));
    cmd.current_dir(dir).args(args);
    cmd
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_str(&String::from_utf8_lossy(&o.stdout))
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)))
}

fn paid_holds_without_orders(path: &Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM holds h WHERE status = 'paid' AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.hold_id = h.id)",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn kill_dash_nine_mid_swarm_loses_nothing() {
    for strategy in [Strategy::Queue, Strategy::Immediate] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flashsale.db");
        assert!(flashsale(dir.path(), &["init"]).status().unwrap().success());
        let mut child = flashsale(
            dir.path(),
            &[
                "swarm",
                "--strategy",
                strategy.name(),
                "--stock",
                "20000",
                "--buyers",
                "40000",
                "--threads",
                "64",
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        // Wait until orders are being written, then kill without warning.
        let started = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(50));
            let orders = rusqlite::Connection::open(&path)
                .and_then(|c| {
                    c.query_row("SELECT count(*) FROM orders", [], |r| r.get::<_, i64>(0))
                })
                .unwrap_or(0);
            if orders > 200 || started.elapsed() > Duration::from_secs(20) {
                break;
            }
        }
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "{strategy}: the swarm was still running when killed"
        );

        let audit = flashsale(dir.path(), &["audit", "--json"])
            .output()
            .unwrap();
        assert_eq!(
            audit.status.code(),
            Some(0),
            "{strategy}: {}",
            String::from_utf8_lossy(&audit.stdout)
        );
        assert_eq!(paid_holds_without_orders(&path), 0, "{strategy}");
        let (available, held, sold, orders) = books(&path, "PHONE-X1");
        assert!(
            sold > 0 && sold == orders,
            "{strategy}: {sold} sold, {orders} orders"
        );

        // A new swarm sells exactly what is left (the killed run's open holds stay held).
        let o = flashsale(
            dir.path(),
            &[
                "--synchronous",
                "normal",
                "swarm",
                "--strategy",
                strategy.name(),
                "--buyers",
                &(available + 500).to_string(),
                "--threads",
                "64",
                "--json",
            ],
        )
        .output()
        .unwrap();
        assert!(o.status.success());
        let report = json(&o);
        assert_eq!(report["sold"].as_i64(), Some(available), "{strategy}");
        assert_eq!(report["oversold"], 0);
        assert_eq!(report["undersold"], 0);
        let (after, held_after, _, _) = books(&path, "PHONE-X1");
        assert_eq!((after, held_after), (0, held), "{strategy}");
    }
}

#[test]
fn two_swarm_processes_on_one_file_sell_exactly_the_stock() {
    for strategy in Strategy::SAFE {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flashsale.db");
        assert!(flashsale(dir.path(), &["init"]).status().unwrap().success());
        // Both processes start from the same 300 units (set once, before either runs).
        let o = flashsale(
            dir.path(),
            &[
                "swarm", "--stock", "300", "--buyers", "1", "--pay", "0", "--cancel", "1",
            ],
        )
        .output()
        .unwrap();
        assert!(o.status.success());
        let spawn = || {
            flashsale(
                dir.path(),
                &[
                    "--synchronous",
                    "normal",
                    "swarm",
                    "--strategy",
                    strategy.name(),
                    "--buyers",
                    "400",
                    "--threads",
                    "100",
                    "--json",
                ],
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        assert!(
            a.status.success() && b.status.success(),
            "{strategy}: {}",
            String::from_utf8_lossy(&b.stderr)
        );
        let (ra, rb) = (json(&a), json(&b));
        let sold = ra["sold"].as_i64().unwrap() + rb["sold"].as_i64().unwrap();
        assert_eq!(sold, 300, "{strategy}: {} + {}", ra["sold"], rb["sold"]);
        assert_eq!(books(&path, "PHONE-X1"), (0, 0, 300, 300), "{strategy}");
        let audit = flashsale(dir.path(), &["audit"]).output().unwrap();
        assert!(audit.status.success(), "{strategy}");
    }
}
