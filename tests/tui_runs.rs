//! Runs and the operator log outlive the console: kept in the database, shown again by a
//! second console session on the same file, exported by `e` and by `flashsale runs`
//! (parsed here as Markdown, JSON and CSV); a run stopped early keeps its real buyer
//! count; a read-only console shows what the seller really runs.

use std::process::Command;

use flashsale::Strategy;
use flashsale::store::{Store, StoreOptions};
use flashsale::tui::{App, Source};
use ratatui::crossterm::event::KeyCode;

#[path = "support/console.rs"]
mod console;
use console::{Harness, launch, wait_for_run};

fn flashsale(db: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_flashsale"))
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn runs_and_the_operator_log_outlive_the_session_and_export() {
    let mut h = Harness::sized(200, 50);
    launch(&mut h, "120", "10", Strategy::Immediate, false);
    h.keys("t20");
    h.press(KeyCode::Enter);
    h.keys("R");
    h.keys("y");
    launch(&mut h, "60", "5", Strategy::Gate, false);
    assert_eq!(h.app.compare.runs.len(), 2);

    // A second console session on the same file shows both runs and the log.
    let mut h = h.restart();
    let runs = &h.app.compare.runs;
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(
        (
            runs[0].strategy,
            runs[0].buyers,
            runs[0].stock,
            runs[0].sold
        ),
        (Strategy::Immediate, 120, 10, 10)
    );
    assert_eq!(
        (runs[1].strategy, runs[1].buyers, runs[1].sold),
        (Strategy::Gate, 60, 5)
    );
    assert_eq!(runs[1].hold_ttl_ms, 20_000, "the run remembers its TTL");
    h.press(KeyCode::Char('4'));
    let screen = h.screen();
    for text in [
        "immediate",
        "gate",
        "hold TTL 20s",
        "reset the sale",
        "launched 120 buyers",
    ] {
        assert!(screen.contains(text), "{text:?} missing:\n{screen}");
    }
    // Speeds, latencies and the gate's fairness (which arrivals win depends on how
    // the threads were scheduled) are real measurements: fixed here, for the layout only.
    for run in &mut h.app.compare.runs {
        run.fairness = 1.0;
        run.inversions = 0;
        run.holds_per_sec = 1000.0;
        run.attempts_per_sec = 9000.0;
        run.elapsed_ms = 100;
        run.latency = flashsale::metrics::Percentiles {
            p50: 900,
            p95: 1500,
            p99: 2500,
            max: 4000,
        };
    }
    insta::assert_snapshot!("compare_two_sessions_200x50", h.screen());

    // e: a Markdown table a presenter pastes into slides.
    h.press(KeyCode::Char('e'));
    let md = std::fs::read_to_string(h.dir.path().join("flashsale-runs.md")).unwrap();
    let rows: Vec<Vec<&str>> = md
        .lines()
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), 4, "header, rule, two runs:\n{md}");
    let strategy = rows[0].iter().position(|c| *c == "strategy").unwrap();
    let sold = rows[0].iter().position(|c| *c == "sold").unwrap();
    assert_eq!((rows[2][strategy], rows[2][sold]), ("immediate", "10"));
    assert_eq!((rows[3][strategy], rows[3][sold]), ("gate", "5"));

    // flashsale runs: the same runs, for a program and for a spreadsheet.
    let json: serde_json::Value =
        serde_json::from_str(&flashsale(&h.db(), &["runs", "--json"])).unwrap();
    let list = json.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["strategy"], "immediate");
    assert_eq!(list[0]["sold"], 10);
    assert_eq!(list[1]["buyers"], 60);
    let csv = flashsale(&h.db(), &["runs", "--csv"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[0].starts_with("id,started_at_ms,sku,strategy,buyers"),
        "{csv}"
    );
    assert!(lines[2].contains(",gate,60,60,false,"), "{csv}");
    assert!(flashsale(&h.db(), &["runs"]).contains("| immediate |"));
}

#[test]
fn a_run_stopped_early_shows_the_buyers_that_came() {
    let mut h = Harness::new();
    h.press(KeyCode::Char('n'));
    h.keys("1000000");
    h.press(KeyCode::Down);
    h.keys("1");
    h.press(KeyCode::Enter);
    assert!(h.app.swarm_running());
    h.press(KeyCode::Char('x'));
    wait_for_run(&mut h, 0);
    let run = &h.app.compare.runs[0];
    assert!(run.stopped, "{run:?}");
    assert_eq!(run.buyers_planned, 1_000_000);
    assert!(run.buyers < 1_000_000, "{run:?}");
    // Read back from the database, as another process's monitor would.
    let stored = h
        .engine
        .reader()
        .read(&flashsale::monitor::Query::default(), 0)
        .unwrap()
        .runs
        .unwrap();
    assert_eq!(
        stored[0].buyers, run.buyers,
        "the database keeps the real count"
    );
    h.press(KeyCode::Char('4'));
    let screen = h.screen();
    assert!(screen.contains("of 1,000,000 buyers (stopped)"), "{screen}");
}

#[test]
fn a_read_only_console_shows_what_the_seller_runs() {
    let mut h = Harness::new();
    h.keys("t20");
    h.press(KeyCode::Enter);
    h.keys("w60");
    h.press(KeyCode::Enter);
    h.press(KeyCode::Char('S'));
    assert_eq!(h.engine.strategy(), Strategy::Naive);

    let (store, _) = Store::open(
        &h.db(),
        StoreOptions {
            read_only: true,
            pool_size: 1,
            ..StoreOptions::default()
        },
    )
    .unwrap();
    let options = console::options();
    let mut monitor = App::new(
        Source::ReadOnly(flashsale::monitor::Reader::File(store)),
        flashsale::Clock::manual(console::START),
        options,
    );
    monitor.refresh();
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(100, 30)).unwrap();
    terminal
        .draw(|f| flashsale::tui::render(&monitor, f))
        .unwrap();
    let screen = terminal.backend().to_string();
    for text in ["naive UNSAFE", "TTL 20s", "×60", "READ-ONLY"] {
        assert!(screen.contains(text), "{text:?} missing:\n{screen}");
    }
    assert_eq!(
        monitor.clock.warp(),
        60,
        "countdowns run at the seller's pace"
    );

    // Its storefront shows prices and does not offer what it cannot do.
    let storefront = flashsale::tui::Action::GoTo(flashsale::tui::Tab::Storefront);
    flashsale::tui::update(&mut monitor, storefront);
    terminal
        .draw(|f| flashsale::tui::render(&monitor, f))
        .unwrap();
    let screen = terminal.backend().to_string();
    assert!(screen.contains("$"), "prices vanished:\n{screen}");
    assert!(!screen.contains("launch a swarm"), "{screen}");
}
