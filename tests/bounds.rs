//! Numbers from the command line and sale files are bounded, and out of bounds is a
//! usage error in one sentence of our own (exit 2) — never a wrapped time, a count
//! overflowing into a REAL, a panic, or memory without end. Behaviour flags are
//! weights with the others at 0 once one is given.

mod common;

use common::{json_of as json, run_bin as flashsale, stderr_of as stderr};

#[test]
fn out_of_bounds_numbers_are_usage_errors_in_our_own_words() {
    let dir = tempfile::tempdir().unwrap();
    assert!(flashsale(dir.path(), &["init"]).status.success());
    let o = flashsale(dir.path(), &["swarm", "--buyers", "5", "--json"]);
    assert_eq!(json(&o)["sold"], 5);
    let cases: &[(&[&str], &str)] = &[
        (&["--buyers", "-1"], "--buyers"),
        (&["--buyers", "0"], "--buyers"),
        (&["--buyers", "10000000000"], "--buyers"),
        (&["--stock", "-1"], "--stock"),
        (&["--stock", "9223372036854775807"], "--stock"),
        (&["--threads", "-4"], "--threads"),
        (&["--qty", "-1"], "--qty"),
        (&["--warp", "0"], "--warp"),
        (&["--warp", "-60"], "--warp"),
        (&["--hold-ttl", "0s"], "--hold-ttl"),
        (&["--hold-ttl", "500000000y"], "--hold-ttl"),
        (&["--arrival-rate", "1e-300"], "--arrival-rate"),
        (&["--arrival-rate", "-5"], "--arrival-rate"),
        (&["--arrival-rate", "inf"], "--arrival-rate"),
        (&["--pay", "-1"], "--pay"),
        (&["--abandon", "NaN"], "--abandon"),
        (&["--pay", "0", "--abandon", "0"], "--pay"),
    ];
    for (flags, named) in cases {
        let mut args = vec!["swarm"];
        args.extend_from_slice(flags);
        let o = flashsale(dir.path(), &args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{args:?}: one sentence: {err}"
        );
        assert!(err.contains(named), "{args:?} names {named}: {err}");
        assert!(!err.contains("unexpected argument"), "{args:?}: {err}");
    }
    // None of that touched the file: every column still reads, the books balance.
    let o = flashsale(dir.path(), &["audit", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json(&o)["holds"], 5);
}

#[test]
fn a_sale_file_with_an_endless_ttl_or_stock_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (ttl, stock) in [
        ("500000000y", "5"),
        ("0s", "5"),
        ("10m", "9223372036854775807"),
    ] {
        std::fs::write(
            dir.path().join("sale.json"),
            format!(
                r#"{{"name": "x", "hold_ttl": "{ttl}", "products": [{{"sku": "A", "name": "a", "price_cents": 1, "stock": {stock}}}]}}"#
            ),
        )
        .unwrap();
        let o = flashsale(dir.path(), &["init", "--sale", "sale.json"]);
        assert_eq!(o.status.code(), Some(2), "{ttl} {stock}: {}", stderr(&o));
        assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
        assert!(!dir.path().join("flashsale.db").exists());
    }
}

/// `--abandon 1` alone: every buyer walks away (not a 50/50 split with a default pay).
#[test]
fn one_behaviour_flag_sets_the_others_to_zero() {
    let dir = tempfile::tempdir().unwrap();
    let o = flashsale(
        dir.path(),
        &[
            "swarm",
            "--stock",
            "10",
            "--buyers",
            "10",
            "--abandon",
            "1",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let report = json(&o);
    assert_eq!(report["sold"], 0, "{report}");
    assert_eq!(report["held"], 10, "{report}");
    assert_eq!(report["buyer_outcomes"]["abandoned"], 10, "{report}");
    let o = flashsale(
        dir.path(),
        &["swarm", "--stock", "20", "--buyers", "20", "--json"],
    );
    assert_eq!(json(&o)["sold"], 20, "no flag: everybody pays");
}

/// The console on an empty file with no terminal: refused before a byte is written.
#[test]
fn the_console_checks_for_a_terminal_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.db"), b"").unwrap();
    let o = flashsale(dir.path(), &["--db", "empty.db"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("needs a terminal"), "{}", stderr(&o));
    assert_eq!(
        std::fs::metadata(dir.path().join("empty.db"))
            .unwrap()
            .len(),
        0,
        "no schema written"
    );
    assert!(!dir.path().join("empty.db-wal").exists());
}

#[test]
fn a_postgres_url_is_a_server_to_reach_not_a_file_to_make() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1: every command that runs on a server says it cannot
    // reach it (exit 1), without the password.
    for cmd in [
        ["audit"].as_slice(),
        ["swarm", "--buyers", "5"].as_slice(),
        ["sweep"].as_slice(),
        ["init"].as_slice(),
        ["runs"].as_slice(),
        ["bench", "--holds", "10"].as_slice(),
    ] {
        let mut args = vec!["--db", "postgres://ann:secret@127.0.0.1:1/sale"];
        args.extend_from_slice(cmd);
        let out = common::run_bin(dir.path(), &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cmd:?}: {err}");
        assert!(
            err.contains("Cannot reach the database server of postgres://ann@127.0.0.1:1/sale")
                && !err.contains("secret"),
            "{cmd:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "one sentence: {err}");
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file or folder made"
    );
}
