//! The lab's headless face, as `flashsale lab` will use it.

use flashsale::lab::{LabArgs, list, run_headless_to};

/// Runs the headless lab and returns (exit code, stdout, stderr).
fn lab(args: LabArgs) -> (u8, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = run_headless_to(&args, &mut out, &mut err).expect("runs");
    (
        code,
        String::from_utf8(out).expect("utf-8"),
        String::from_utf8(err).expect("utf-8"),
    )
}

fn print(scenario: &str) -> (u8, String, String) {
    lab(LabArgs {
        scenario: Some(scenario.to_string()),
        print: true,
        ..LabArgs::default()
    })
}

#[test]
fn every_built_in_scenario_meets_all_its_expectations() {
    let names: Vec<String> = list().into_iter().map(|s| s.name).collect();
    assert!(names.len() >= 7, "{names:?}");
    for name in names {
        let (code, out, _) = print(&name);
        assert_eq!(code, 0, "{name} missed an expectation:\n{out}");
        assert!(out.contains("expectations met"), "{out}");
    }
}

#[test]
fn lost_update_transcript_shows_the_oversell() {
    let (code, out, _) = print("lost-update");
    assert_eq!(code, 0);
    assert!(out.contains("OVERSOLD by 1"), "{out}");
    assert!(out.contains("step 6  B"), "{out}");
}

#[test]
fn deferred_upgrade_transcript_shows_sqlite_busy_at_once() {
    let started = std::time::Instant::now();
    let (code, out, _) = print("deferred-upgrade");
    assert_eq!(code, 0);
    assert!(out.contains("SQLITE_BUSY "), "{out}");
    assert!(out.contains("SQLITE_BUSY_SNAPSHOT"), "{out}");
    // Session B has a 1 s busy timeout; BUSY must come back without using it.
    assert!(started.elapsed() < std::time::Duration::from_millis(900));
}

/// The atomic scenario, renamed `name` and changed by `edit`, printed from a file.
fn print_edited_atomic(
    name: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> (u8, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(format!("{name}.json"));
    let mut json: serde_json::Value =
        serde_json::from_str(include_str!("../assets/lab/atomic.json")).expect("parse");
    json["name"] = name.into();
    edit(&mut json);
    std::fs::write(&path, json.to_string()).expect("write");
    print(path.to_str().expect("utf-8 path"))
}

#[test]
fn a_wrong_expectation_fails_the_run_and_names_the_step() {
    // The atomic scenario, with step 2 wrongly expecting BUSY.
    let (code, out, _) = print_edited_atomic("atomic-wrong", |json| {
        json["steps"][1]["expect"] = "busy".into();
    });
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("step 2 (B): expected BUSY, got ok, 0 rows changed"),
        "{out}"
    );
    assert!(out.contains("1 of 4 expectations NOT met"), "{out}");
}

#[test]
fn an_unknown_scenario_is_bad_usage_naming_the_choices() {
    let (code, out, err) = print("lost-updates");
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("\"lost-updates\""), "{err}");
    assert!(
        err.contains("lost-update, immediate, deferred-upgrade"),
        "{err}"
    );
}

#[test]
fn a_broken_scenario_file_is_bad_usage_in_one_sentence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken.json");
    std::fs::write(&path, "{\"name\": \"x\"").expect("write");
    let (code, _, err) = print(path.to_str().expect("utf-8 path"));
    assert_eq!(code, 2);
    assert!(err.contains("broken.json cannot be used"), "{err}");
}

#[test]
fn a_scenario_carrying_its_own_schema_is_told_the_lab_has_the_shops() {
    // A scenario written for the lab's old private tables: its setup creates them.
    let (code, out, err) = print_edited_atomic("atomic-old", |json| {
        json["setup"] = serde_json::json!([
            "CREATE TABLE products (id INTEGER PRIMARY KEY, stock_available INTEGER NOT NULL)"
        ]);
    });
    assert_eq!(code, 2, "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("setup statement 1 failed"), "{err}");
    assert!(err.contains("already has the shop's schema.sql"), "{err}");
}

#[test]
fn list_prints_one_scenario_per_line_name_first() {
    let (code, out, _) = lab(LabArgs {
        list: true,
        ..LabArgs::default()
    });
    assert_eq!(code, 0);
    let first_words: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for name in [
        "lost-update",
        "immediate",
        "deferred-upgrade",
        "optimistic",
        "atomic",
        "expiry",
        "checkout-vs-sweeper",
    ] {
        assert!(first_words.contains(&name), "{out}");
    }
}

#[test]
fn a_scenario_without_print_or_a_mode_is_bad_usage() {
    let (code, _, err) = lab(LabArgs::default());
    assert_eq!(code, 2);
    assert!(err.contains("available: lost-update"), "{err}");
}

/// The matrix's columns: the shop's seven strategies and the lab's deferred transaction.
const COLUMNS: [&str; 8] = [
    "naive",
    "deferred",
    "immediate",
    "optimistic",
    "atomic",
    "gate",
    "queue",
    "pay-first",
];

#[test]
fn matrix_tabulates_which_strategy_prevents_which_anomaly() {
    let (code, out, _) = lab(LabArgs {
        matrix: true,
        ..LabArgs::default()
    });
    assert_eq!(code, 0, "{out}");
    let header = out
        .lines()
        .find(|l| l.starts_with("anomaly "))
        .expect("a header row");
    for strategy in COLUMNS {
        assert!(header.contains(strategy), "{header}");
    }
    let row = |name: &str| -> Vec<String> {
        out.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .expect("a row")
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let columns: Vec<&str> = header.split_whitespace().collect();
    let at = |row: &[String], strategy: &str| -> String {
        let i = columns.iter().position(|c| *c == strategy).expect("column");
        row[i].clone()
    };
    let oversell = row("oversell");
    assert_eq!(at(&oversell, "naive"), "FAILS");
    // The shop's safe strategies: every column after naive and deferred.
    for safe in &COLUMNS[2..] {
        assert_eq!(
            at(&oversell, safe),
            "ok",
            "{safe} must prevent the oversell"
        );
    }
    for anomaly in [
        "lost-update",
        "oversell",
        "limit-bypass",
        "lost-unit",
        "refused-with-stock",
    ] {
        assert!(!row(anomaly).contains(&"ERROR".to_string()), "{out}");
    }
    assert!(
        out.contains("oversell under naive: A:SELECT B:SELECT"),
        "{out}"
    );
    // On the shop's real schema the per-buyer trigger refuses alice's second hold, so no
    // strategy lets her bypass the limit; where the strategy's own SQL let the statement
    // through, the report says the schema stopped it.
    let limit = row("limit-bypass");
    for strategy in COLUMNS {
        assert_eq!(at(&limit, strategy), "ok", "{strategy}: {out}");
    }
    assert!(
        out.contains("limit-bypass under naive: per_buyer_limit"),
        "{out}"
    );
    // Naive commits its decrement on its own, so the refused tab's unit is lost; every
    // safe strategy takes the unit and the hold in one transaction, as the engine does.
    let lost = row("lost-unit");
    assert_eq!(at(&lost, "naive"), "FAILS", "{out}");
    for safe in &COLUMNS[1..] {
        assert_eq!(at(&lost, safe), "ok", "{safe}: {out}");
    }
}

#[test]
fn the_console_view_opens_the_named_scenario_or_says_which_exist() {
    use flashsale::lab::console_view;
    use flashsale::lab::ui::Mode;
    let args = LabArgs {
        scenario: Some("immediate".to_string()),
        ..LabArgs::default()
    };
    let view = console_view(&args, true).expect("opens");
    assert_eq!(view.mode(), Some(Mode::Step));
    let list = console_view(&LabArgs::default(), true).expect("opens");
    assert_eq!(list.mode(), None);
    let wrong = LabArgs {
        scenario: Some("nope".to_string()),
        ..LabArgs::default()
    };
    let err = console_view(&wrong, true).err().expect("unknown");
    assert!(err.to_string().contains("available: lost-update"), "{err}");
}
