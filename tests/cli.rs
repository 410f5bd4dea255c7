//! The binary as a user meets it: exit codes, one clear sentence, nothing damaged.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn flashsale(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flashsale"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run flashsale")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A user-facing error: one line, no panic, no backtrace.
fn assert_one_sentence(o: &Output) {
    let err = stderr(o);
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("RUST_BACKTRACE"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one sentence: {err}");
}

#[test]
fn init_swarm_audit_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let o = flashsale(dir.path(), &["init"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = flashsale(
        dir.path(),
        &[
            "swarm", "--sku", "PHONE-X1", "--stock", "20", "--buyers", "33", "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    for field in [
        "sku",
        "strategy",
        "buyers",
        "threads",
        "stock",
        "sold",
        "held",
        "expired",
        "released",
        "rejected_sold_out",
        "rejected_limit",
        "rejected_other",
        "conflicts",
        "retries",
        "busy",
        "refunds",
        "oversold",
        "undersold",
        "fairness",
        "inversions",
        "elapsed_ms",
        "attempts_per_sec",
        "latency_us",
        "expiry_lag_ms",
    ] {
        assert!(
            report.get(field).is_some(),
            "report lacks {field}: {report}"
        );
    }
    assert_eq!(report["sold"], 20);
    assert_eq!(report["rejected_sold_out"], 13);
    assert_eq!(report["oversold"], 0);
    for p in ["p50", "p95", "p99", "max"] {
        assert!(report["latency_us"].get(p).is_some());
    }
    let o = flashsale(dir.path(), &["audit", "--json"]);
    assert!(o.status.success(), "{}", stdout(&o));
    let audit: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(audit["ok"], true);
}

#[test]
fn naive_swarm_oversells_and_audit_exits_one_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let o = flashsale(
        dir.path(),
        &[
            "swarm",
            "--strategy",
            "naive",
            "--stock",
            "20",
            "--buyers",
            "300",
            "--json",
            "--fail-on-oversell",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "--fail-on-oversell: {}",
        stdout(&o)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let excess = report["oversold"].as_i64().unwrap();
    assert!(excess > 0);
    let o = flashsale(dir.path(), &["audit"]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(
        text.contains(&format!(
            "Oversold Flash Sale Smartphone (PHONE-X1) by {excess}"
        )),
        "{text}"
    );
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.db");
    std::fs::write(&path, "shopping list: milk, eggs\n".repeat(200)).unwrap();
    let before = std::fs::read(&path).unwrap();
    for args in [
        vec!["swarm"],
        vec!["audit"],
        vec!["init", "--force"],
        vec![],
    ] {
        let mut all = vec!["--db", "notes.db"];
        all.extend(args.iter().copied());
        let o = flashsale(dir.path(), &all);
        assert_eq!(o.status.code(), Some(1), "{all:?}: {}", stderr(&o));
        assert_one_sentence(&o);
        assert!(
            stderr(&o).contains("not an SQLite database"),
            "{}",
            stderr(&o)
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "{all:?} changed the file"
        );
    }
}

#[test]
fn another_programs_database_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE contacts(name TEXT); INSERT INTO contacts VALUES ('Ada');")
        .unwrap();
    let o = flashsale(dir.path(), &["--db", "other.db", "swarm"]);
    assert_eq!(o.status.code(), Some(1));
    assert_one_sentence(&o);
    assert!(stderr(&o).contains("some other program"), "{}", stderr(&o));
    let names: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .unwrap();
    assert_eq!(names, 1);
}

#[test]
fn a_missing_folder_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let o = flashsale(dir.path(), &["--db", "no/such/folder/x.db", "swarm"]);
    assert_eq!(o.status.code(), Some(1));
    assert_one_sentence(&o);
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
    assert!(!dir.path().join("no").exists());
}

#[test]
fn bad_usage_exits_two_with_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    assert!(flashsale(dir.path(), &["init"]).status.success());
    let cases: &[&[&str]] = &[
        &["swarm", "--sku", "NOPE"],
        &["swarm", "--qty", "0"],
        &["swarm", "--qty", "-2"],
        &["swarm", "--strategy", "yolo"],
        &["swarm", "--buyers", "many"],
        &["swarm", "--hold-ttl", "soon"],
        &["swarm", "--pay", "0"],
        &["init"],
        &["init", "--sale", "missing.json"],
        &["frobnicate"],
    ];
    for args in cases {
        let o = flashsale(dir.path(), args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{args:?}");
    }
    let o = flashsale(dir.path(), &["swarm", "--sku", "NOPE"]);
    assert_one_sentence(&o);
    assert!(
        stderr(&o).contains("Unknown SKU \"NOPE\""),
        "{}",
        stderr(&o)
    );
    // The failed commands left the sale as it was.
    let o = flashsale(dir.path(), &["audit", "--json"]);
    let audit: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(audit["holds"], 0);
    assert_eq!(audit["ok"], true);
}

#[test]
fn init_loads_another_sale_and_force_replaces() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sale.json"),
        r#"{"name": "Tiny", "hold_ttl": "30s", "products": [{"sku": "T1", "name": "Tiny thing", "price_cents": 5, "stock": 3}]}"#,
    )
    .unwrap();
    assert!(flashsale(dir.path(), &["init"]).status.success());
    let o = flashsale(dir.path(), &["init", "--sale", "sale.json", "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = flashsale(dir.path(), &["swarm", "--buyers", "10", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(report["sku"], "T1");
    assert_eq!(report["sold"], 3);
    std::fs::write(dir.path().join("bad.json"), r#"{"name": "x"}"#).unwrap();
    let o = flashsale(dir.path(), &["init", "--sale", "bad.json", "--force"]);
    assert_eq!(o.status.code(), Some(2));
    assert_one_sentence(&o);
    let o = flashsale(dir.path(), &["audit", "--json"]);
    let audit: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        audit["orders"], 3,
        "a failed init --force keeps the old data"
    );
}

#[test]
fn a_read_only_database_is_reported_not_damaged() {
    let dir = tempfile::tempdir().unwrap();
    assert!(flashsale(dir.path(), &["init"]).status.success());
    let path = dir.path().join("flashsale.db");
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&path, perms.clone()).unwrap();
    let is_root = rusqlite::Connection::open(&path)
        .and_then(|c| c.execute_batch("CREATE TABLE probe(x); DROP TABLE probe;"))
        .is_ok();
    let o = flashsale(dir.path(), &["swarm", "--buyers", "5"]);
    if !is_root {
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert_one_sentence(&o);
        assert!(stderr(&o).contains("read-only"), "{}", stderr(&o));
    }
    // Audit only reads: it works on a read-only file.
    let o = flashsale(dir.path(), &["audit"]);
    assert!(o.status.success(), "{}", stderr(&o));
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&path, perms).unwrap();
}
