//! A read-only console on a database that another process sells from: a separate
//! `flashsale swarm` process writes; the monitor's read model, and the console drawn on
//! it, see holds and orders appear while it runs. The monitor's connection cannot write.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flashsale::monitor::{self, Query};
use flashsale::tui::{self, App, Options, Source, THEME};
use flashsale::{Clock, Store, StoreOptions};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn flashsale(db: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flashsale"));
    cmd.arg("--db").arg(db).arg("--synchronous").arg("normal");
    cmd
}

#[test]
fn a_read_only_console_watches_another_process_sell() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let init = flashsale(&db).arg("init").output().unwrap();
    assert!(init.status.success(), "{init:?}");

    // Half the buyers pay, half walk away (their holds stay active for 10 minutes);
    // they arrive over a few seconds so the run is watched while it happens.
    let mut seller = flashsale(&db)
        .args([
            "swarm",
            "--sku",
            "BUDS-2",
            "--stock",
            "200",
            "--buyers",
            "1500",
            "--threads",
            "8",
            "--arrival-rate",
            "400",
            "--pay",
            "0.5",
            "--abandon",
            "0.5",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let (store, _) = Store::open(
        &db,
        StoreOptions {
            read_only: true,
            ..StoreOptions::default()
        },
    )
    .unwrap();
    let clock = Clock::real();
    let mut readings = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut conn = store.conn().unwrap();
        let snap = monitor::read(&mut conn, &Query::default(), clock.now()).unwrap();
        drop(conn);
        let seen = (snap.active_holds, snap.orders.len());
        if readings.last() != Some(&seen) {
            readings.push(seen);
        }
        let (holds, orders) = seen;
        if holds >= 20 && orders >= 20 && readings.len() >= 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the monitor did not see the sale move: {readings:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        readings.first().is_some_and(|(h, o)| *h < 20 || *o < 20),
        "it should have seen the numbers grow: {readings:?}"
    );

    // The console drawn on the same read-only source shows them.
    let options = Options {
        db_label: "shop.db".into(),
        utc: true,
        theme: &THEME,
        buyer: "you".into(),
    };
    let mut app = App::new(
        Source::ReadOnly(flashsale::monitor::Reader::File(store.clone())),
        clock,
        options,
    );
    app.refresh();
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    terminal.draw(|f| tui::render(&app, f)).unwrap();
    let screen = terminal.backend().to_string();
    assert!(screen.contains("READ-ONLY"), "{screen}");
    let bot_rows = screen.lines().filter(|l| l.contains("bot-")).count();
    assert!(
        bot_rows >= 4,
        "holds and orders of the bots should show:\n{screen}"
    );
    assert!(screen.contains("BUDS-2"), "{screen}");

    // Writes are refused on the monitor's connection.
    let conn = store.conn().unwrap();
    let refused = conn.execute("DELETE FROM holds", []);
    assert!(refused.is_err(), "a read-only monitor could write");

    let status = seller.wait().unwrap();
    assert!(status.success(), "the swarm failed: {status:?}");
}
