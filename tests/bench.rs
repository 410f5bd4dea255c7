//! `flashsale bench` as a user runs it, kept tiny: the shape of its table and JSON, and
//! the books of every row. Speed is measured by the bench itself, never asserted here.

use std::process::Command;

fn bench(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "bench",
        "--holds",
        "40",
        "--threads",
        "8",
        "--expiry-holds",
        "200",
        "--gate-probe",
        "50ms",
        "--synchronous",
        "normal",
        "--dir",
    ];
    let folder = dir.to_str().expect("utf-8 temp path");
    args.push(folder);
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_flashsale"))
        .current_dir(dir)
        .args(&args)
        .output()
        .expect("run flashsale bench")
}

#[test]
fn json_has_the_limit_row_and_every_strategy() {
    let dir = tempfile::tempdir().expect("temp dir");
    let o = bench(dir.path(), &["--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    let rows = report["rows"].as_array().expect("rows");
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["strategy"].as_str().expect("strategy name"))
        .collect();
    let mut want = vec!["limit"];
    want.extend(flashsale::Strategy::ALL.iter().map(|s| s.name()));
    assert_eq!(names, want);
    for row in rows {
        let name = row["strategy"].as_str().unwrap_or_default();
        for key in [
            "holds_per_sec",
            "ratio_to_limit",
            "p50_us",
            "p99_us",
            "max_us",
            "sold",
            "oversold",
            "fairness",
            "conflicts",
            "busy",
            "cpu_us_per_hold",
            "cores",
        ] {
            assert!(row.get(key).is_some(), "{name}: no {key}");
        }
        assert!(row["holds_per_sec"].as_f64().unwrap_or(0.0) > 0.0, "{name}");
        // Selling costs CPU: a row that read none measured nothing.
        assert!(
            row["cpu_us_per_hold"].as_f64().unwrap_or(0.0) > 0.0,
            "{name}"
        );
        assert!(row["cores"].as_f64().unwrap_or(0.0) > 0.0, "{name}");
        // The writer thread's share of the selling time, where the kernel keeps
        // scheduler statistics; the limit row has no writer thread.
        if name == "limit" {
            assert!(row["writer_on_cpu"].is_null(), "{name}");
        } else if std::path::Path::new("/proc/self/schedstat").exists() {
            let on = row["writer_on_cpu"].as_f64().expect("writer_on_cpu");
            let waiting = row["writer_waiting_for_cpu"].as_f64().expect("waiting");
            assert!(
                (0.0..1.5).contains(&on) && (0.0..1.5).contains(&waiting),
                "{name}"
            );
            if name == "queue" {
                assert!(on > 0.0, "the queue's writer wrote every hold");
            }
        }
        if name != "naive" {
            assert_eq!(row["oversold"], 0, "{name}");
        }
        // Every unit of a safe strategy is taken (10% more buyers than units), unless
        // the row ran out of time.
        if name != "naive" && name != "optimistic" && row["complete"] == true {
            assert_eq!(row["sold"], 40, "{name}");
        }
    }
    assert_eq!(report["rows"][0]["ratio_to_limit"], 1.0);
    // No --time-limit: 3× what the limit row needs for 40 holds is far under the floor.
    assert_eq!(report["time_limit_fixed"], false);
    assert_eq!(report["time_limit_ms"], 6000);
    assert_eq!(report["gate_sold_out_touched_db"], false);
    assert!(report["limit_at_end_holds_per_sec"].as_f64().unwrap_or(0.0) > 0.0);
    assert_eq!(report["expiry"]["returned"], 200);
    // The temporary databases are gone.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn text_table_names_every_row() {
    let dir = tempfile::tempdir().expect("temp dir");
    let o = bench(dir.path(), &["--strategy", "queue", "--strategy", "gate"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    let first_words: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for name in ["strategy", "limit", "gate", "queue"] {
        assert!(first_words.contains(&name), "{name} missing:\n{text}");
    }
    assert!(text.contains("gate, sold out:"), "{text}");
    assert!(text.contains("expiry: 200 holds"), "{text}");
    assert!(text.contains("limit measured again at the end"), "{text}");
    if std::path::Path::new("/proc/self/schedstat").exists() {
        let writer: String = text.lines().filter(|l| l.starts_with("writer: ")).collect();
        assert!(
            writer.contains("queue ") && writer.contains("gate "),
            "{text}"
        );
        let cpu: String = text.lines().filter(|l| l.starts_with("cpu: ")).collect();
        assert!(
            cpu.contains("queue ") && cpu.contains("gate ") && cpu.contains("holds/s ("),
            "each row's CPU is split and its ceiling given:\n{text}"
        );
    }
    if std::path::Path::new("/proc/stat").exists() {
        // The row's cores + the rest's + steal + idle: four figures a row, the limit
        // row (one thread, no swarm) left out.
        let machine: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("machine: "))
            .flat_map(|l| l.split(";  "))
            .collect();
        let mut names: Vec<&str> = machine
            .iter()
            .filter_map(|r| r.split_whitespace().next())
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["gate", "queue"], "{text}");
        for row in &machine {
            let cores: Vec<f64> = row
                .split_whitespace()
                .skip(1)
                .filter(|w| *w != "+")
                .map(|w| w.parse().expect("a number of cores"))
                .collect();
            assert_eq!(cores.len(), 4, "{row}");
            assert!(cores.iter().all(|c| *c >= 0.0), "{row}");
        }
    }
    assert!(
        text.contains("time limit: 6.0 s a row = 3 × the "),
        "the derived limit is explained:\n{text}"
    );
}

#[test]
fn a_fixed_time_limit_is_every_rows_and_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let o = bench(
        dir.path(),
        &["--strategy", "atomic", "--time-limit", "2s", "--json"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert_eq!(report["time_limit_fixed"], true);
    assert_eq!(report["time_limit_ms"], 2000);
}

#[test]
fn bad_sizes_are_usage_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let o = Command::new(env!("CARGO_BIN_EXE_flashsale"))
        .current_dir(dir.path())
        .args(["bench", "--threads", "0", "--holds", "5"])
        .output()
        .expect("run flashsale bench");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--threads"), "{err}");
    // Each row is one swarm: no more buyers than a swarm takes.
    let o = Command::new(env!("CARGO_BIN_EXE_flashsale"))
        .current_dir(dir.path())
        .args(["bench", "--holds", "9090901"])
        .output()
        .expect("run flashsale bench");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--holds must be at most 9090900"), "{err}");
}
