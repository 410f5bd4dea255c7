//! Watching must not slow the sale: the same swarm run headless and with the console
//! open in the same process (reading the database 5 times a second, folding the swarm's
//! metrics in, drawing a 120×40 screen each time), alternately, several times.
//!
//! Ignored by default (it measures, it does not check behaviour). Run it with
//! `cargo test --release --test tui_overhead -- --ignored --nocapture`.

use std::time::Instant;

use flashsale::swarm::{self, SwarmConfig};
use flashsale::tui::{self, App, Options, Source, THEME};
use flashsale::{Clock, Engine, EngineConfig, Strategy, Synchronous};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

struct Run {
    elapsed_ms: u64,
    attempts_per_sec: f64,
    frames: u32,
}

fn engine(dir: &tempfile::TempDir) -> Engine {
    flashsale::cli::open_engine_at(
        &dir.path().join("flashsale.db"),
        Synchronous::Normal,
        EngineConfig {
            strategy: Strategy::Immediate,
            ..EngineConfig::default()
        },
    )
    .unwrap()
}

fn headless(buyers: u64, stock: i64) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir);
    let mut config = SwarmConfig::new("PHONE-X1", buyers);
    config.stock = Some(stock);
    let report = swarm::run(&engine, &config).unwrap();
    Run {
        elapsed_ms: report.elapsed_ms,
        attempts_per_sec: report.attempts_per_sec,
        frames: 0,
    }
}

fn with_console(buyers: u64, stock: i64) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir);
    let options = Options {
        db_label: "flashsale.db".into(),
        utc: true,
        theme: &THEME,
        buyer: "you".into(),
    };
    let mut app = App::new(Source::Live(engine.clone()), Clock::real(), options);
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    app.refresh();
    let press = |app: &mut App, code| {
        if let Some(a) = tui::handle_key(app, KeyEvent::new(code, KeyModifiers::NONE)) {
            tui::update(app, a);
        }
    };
    // The presenter's way: n, type the buyers and the stock, Enter.
    press(&mut app, KeyCode::Char('n'));
    for c in buyers.to_string().chars() {
        press(&mut app, KeyCode::Char(c));
    }
    press(&mut app, KeyCode::Down);
    for c in stock.to_string().chars() {
        press(&mut app, KeyCode::Char(c));
    }
    press(&mut app, KeyCode::Enter);
    app.settle();
    assert!(app.swarm_running());
    let mut frames = 0;
    while app.compare.runs.is_empty() {
        // What the runtime does at each reading: read, fold in, draw.
        std::thread::sleep(tui::REFRESH_EVERY);
        app.refresh();
        app.settle();
        terminal.draw(|f| tui::render(&app, f)).unwrap();
        frames += 1;
    }
    let row = &app.compare.runs[0];
    Run {
        elapsed_ms: row.elapsed_ms,
        attempts_per_sec: row.attempts_per_sec,
        frames,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
#[ignore = "a measurement; run with --release --ignored --nocapture"]
fn a_swarm_with_the_console_open_runs_as_fast_as_headless() {
    let reps = 5;
    for (buyers, stock) in [(50_000u64, 50i64), (20_000, 20_000)] {
        let mut bare = Vec::new();
        let mut watched = Vec::new();
        let mut frames = 0;
        let started = Instant::now();
        for _ in 0..reps {
            bare.push(headless(buyers, stock));
            let w = with_console(buyers, stock);
            frames += w.frames;
            watched.push(w);
        }
        let rate = |runs: &[Run]| median(runs.iter().map(|r| r.attempts_per_sec).collect());
        let ms = |runs: &[Run]| median(runs.iter().map(|r| r.elapsed_ms as f64).collect());
        let (b, w) = (rate(&bare), rate(&watched));
        println!(
            "{buyers} buyers, stock {stock}: headless {b:.0} attempts/s ({:.0} ms), console open {w:.0} attempts/s ({:.0} ms), ratio {:.3} ({frames} frames drawn; {:.1?} in all)",
            ms(&bare),
            ms(&watched),
            w / b,
            started.elapsed()
        );
    }
}
