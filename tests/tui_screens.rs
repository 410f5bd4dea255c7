//! Screens of the console, drawn with ratatui's `TestBackend` and kept as insta
//! snapshots. Driven like a user would (keys through `handle_key`, then `update`) on a
//! manual clock, so countdowns and times are the same on every run; the database lives
//! in a temp folder whose path never shows (the header names it `flashsale.db`).

use std::time::Duration;

use flashsale::metrics::Percentiles;
use flashsale::tui::app::RunRow;
use flashsale::tui::{self, Tab};
use flashsale::{Engine, Strategy};
use ratatui::crossterm::event::{KeyCode, KeyModifiers};

#[path = "support/console.rs"]
mod console;
use console::{Harness, cell_style_of, launch};

fn row(
    strategy: Strategy,
    sold: i64,
    oversold: i64,
    holds_per_sec: f64,
    p50: u64,
    p99: u64,
) -> RunRow {
    RunRow {
        strategy,
        buyers: 5000,
        buyers_planned: 5000,
        threads: 5000,
        stock: 50,
        sold,
        oversold,
        fairness: if oversold > 0 { 0.41 } else { 0.98 },
        inversions: 120,
        attempts_per_sec: 21_000.0,
        holds_per_sec,
        latency: Percentiles {
            p50,
            p95: p99,
            p99,
            max: p99 * 2,
        },
        conflicts: 0,
        busy: 0,
        elapsed_ms: 1200,
        rejected_sold_out: 4950,
        rejected_limit: 0,
        rejected_other: 0,
        ..RunRow::default()
    }
}

fn oversell_by_hand(engine: &Engine, sku: &str, units: i64) {
    // What lost updates leave behind: each buyer read the same stock and wrote back one
    // less, so the holds are there but the stock went down once. Here: take `units`
    // holds, then put the stock back up as the stale writes would have.
    // (The naive strategy does it for real in
    // `a_naive_swarm_oversells_then_immediate_sells_exactly_the_stock`.)
    for i in 0..units {
        engine.reserve(sku, &format!("racer-{i}"), 1).unwrap();
    }
    // Behind the engine's back, as another (broken) program would: on the file itself.
    rusqlite::Connection::open(engine.describe())
        .unwrap()
        .execute(
            "UPDATE products SET stock_available = stock_available + ?1 WHERE sku = ?2",
            rusqlite::params![units, sku],
        )
        .unwrap();
}

#[test]
fn sale_tab_at_rest() {
    let mut h = Harness::new();
    insta::assert_snapshot!("sale_at_rest", h.screen());
}

#[test]
fn holds_count_down_expire_and_orders_appear() {
    let mut h = Harness::new();
    let ann = h.engine.reserve("PHONE-X1", "ann", 1).unwrap();
    h.advance(Duration::from_secs(20));
    h.engine.reserve("BUDS-2", "bob", 1).unwrap();
    h.advance(Duration::from_secs(1));
    let screen = h.screen();
    assert!(
        screen.contains("9:39") && screen.contains("9:59"),
        "{screen}"
    );
    insta::assert_snapshot!("sale_two_holds", screen);

    // The countdowns move with the clock, and colour as they run out.
    h.advance(Duration::from_secs(7 * 60));
    let screen = h.screen();
    assert!(
        screen.contains("2:39") && screen.contains("2:59"),
        "{screen}"
    );
    insta::assert_snapshot!("sale_two_holds_seven_minutes_later", screen);
    let amber = cell_style_of(&h, "2:59");
    assert_eq!(
        amber.fg,
        Some(ratatui::style::Color::Yellow),
        "2:59 of 10:00 left is a warning"
    );

    // Ann pays: her hold leaves the list, her order tops the feed.
    h.engine.checkout(&ann).unwrap();
    h.advance(Duration::from_secs(1));
    let screen = h.screen();
    assert!(
        screen.contains("ann") && screen.contains("7m21s"),
        "{screen}"
    );
    insta::assert_snapshot!("sale_order_in_feed", screen);

    // Bob walks away: once his hold is due and swept, it is gone and his unit is back.
    h.advance(Duration::from_secs(3 * 60));
    assert_eq!(h.engine.sweep().unwrap(), 1);
    h.app.refresh();
    let screen = h.screen();
    assert!(!screen.contains("bob"), "{screen}");
    assert!(screen.contains("Active holds 0"), "{screen}");
    insta::assert_snapshot!("sale_hold_expired", screen);
}

#[test]
fn thousands_of_holds_scroll() {
    let mut h = Harness::new();
    h.engine.restock("BUDS-2", 3000).unwrap();
    for i in 0..1500 {
        h.engine
            .reserve("BUDS-2", &format!("buyer-{i:04}"), 1)
            .unwrap();
        h.engine.clock().advance(Duration::from_millis(100));
    }
    h.app.refresh();
    assert!(h.screen().contains("Active holds 1,500"));
    h.press(KeyCode::PageDown);
    h.press(KeyCode::Char('j'));
    let screen = h.screen();
    assert!(
        screen.contains("buyer-0011") && !screen.contains("buyer-0010"),
        "{screen}"
    );
    h.press(KeyCode::Char('G'));
    assert!(h.screen().contains("buyer-1499"));
    h.press(KeyCode::Char('g'));
    assert!(h.screen().contains("buyer-0000"));
}

#[test]
fn help_overlay_lists_the_keys() {
    let mut h = Harness::new();
    h.press(KeyCode::Char('?'));
    insta::assert_snapshot!("help", h.screen());
    h.press(KeyCode::Esc);
    assert!(!h.app.quit, "Esc closes the help, it does not quit");
    assert!(!h.screen().contains("Everywhere"));
}

#[test]
fn swarm_form() {
    let mut h = Harness::new();
    h.press(KeyCode::Char('n'));
    h.press(KeyCode::Down);
    h.press(KeyCode::Down);
    h.press(KeyCode::Left);
    insta::assert_snapshot!("swarm_form_naive", h.screen());
    h.press(KeyCode::Esc);
    assert!(h.app.modal.is_none() && !h.app.quit);
}

#[test]
fn storefront_buy_extend_pay_and_the_limit() {
    let mut h = Harness::new();
    h.press(KeyCode::Char('2'));
    h.press(KeyCode::Char('a'));
    h.advance(Duration::from_secs(95));
    let screen = h.screen();
    assert!(screen.contains("until 18:10:00"), "{screen}");
    insta::assert_snapshot!("storefront_in_cart", screen);

    h.press(KeyCode::Char('e'));
    assert!(h.screen().contains("Extended: your hold now runs 10:00"));
    h.press(KeyCode::Char('p'));
    let screen = h.screen();
    assert!(
        screen.contains("Paid: Flash Sale Smartphone is yours"),
        "{screen}"
    );
    insta::assert_snapshot!("storefront_paid", screen);

    h.press(KeyCode::Char('a'));
    let screen = h.screen();
    assert!(
        screen.contains("Per-buyer limit: you already have 1 of at most 1"),
        "{screen}"
    );
}

#[test]
fn storefront_sold_out_says_when_units_may_return() {
    let mut h = Harness::new();
    h.engine.restock("PHONE-X1", 2).unwrap();
    h.engine.reserve("PHONE-X1", "ann", 1).unwrap();
    h.advance(Duration::from_secs(60));
    h.engine.reserve("PHONE-X1", "bob", 1).unwrap();
    h.advance(Duration::from_secs(48));
    h.press(KeyCode::Char('2'));
    h.press(KeyCode::Enter);
    let screen = h.screen();
    assert!(
        screen.contains("Sold out — 2 holds may return within 9:12"),
        "{screen}"
    );
    insta::assert_snapshot!("storefront_sold_out", screen);
}

#[test]
fn storefront_says_when_your_hold_expired() {
    let mut h = Harness::new();
    h.press(KeyCode::Char('2'));
    h.press(KeyCode::Char('a'));
    h.advance(Duration::from_secs(10 * 60 + 1));
    h.engine.sweep().unwrap();
    h.app.refresh();
    let screen = h.screen();
    assert!(
        screen.contains("Your hold on Flash Sale Smartphone expired"),
        "{screen}"
    );
    assert!(screen.contains("✗ expired"), "{screen}");
}

#[test]
fn lab_tab_steps_through_a_scenario() {
    let mut h = Harness::new();
    h.press(KeyCode::Char('3'));
    let screen = h.screen();
    assert!(screen.contains("lost-update"), "{screen}");
    insta::assert_snapshot!("lab_picker", screen);
    // Enter opens the first scenario in step mode; → steps; the lab has these keys.
    h.press(KeyCode::Enter);
    for _ in 0..3 {
        h.press(KeyCode::Right);
    }
    let stepped = h.screen();
    assert_ne!(stepped, screen);
    // Esc goes back to the list (the lab's key), not out of the console...
    h.press(KeyCode::Esc);
    assert!(!h.app.quit);
    assert!(h.screen().contains("lost-update"));
    // ...and numbers switch tabs from the list, as everywhere.
    h.press(KeyCode::Char('1'));
    assert_eq!(h.app.tab, Tab::Sale);
}

#[test]
fn compare_tab() {
    let mut h = Harness::new();
    h.press(KeyCode::Tab);
    h.press(KeyCode::Tab);
    h.press(KeyCode::Tab);
    assert_eq!(h.app.tab, Tab::Compare);
    insta::assert_snapshot!("compare_empty", h.screen());
    h.app
        .compare
        .runs
        .push(row(Strategy::Naive, 73, 23, 1830.0, 950, 12_400));
    h.app
        .compare
        .runs
        .push(row(Strategy::Immediate, 50, 0, 410.0, 2100, 31_000));
    h.app
        .compare
        .runs
        .push(row(Strategy::Queue, 50, 0, 2250.0, 700, 4_100));
    h.press(KeyCode::Char('k'));
    insta::assert_snapshot!("compare_three_runs", h.screen());
}

#[test]
fn the_oversell_alarm_is_red_and_names_the_product() {
    let mut h = Harness::new();
    oversell_by_hand(&h.engine, "PHONE-X1", 3);
    h.app.refresh();
    let screen = h.screen();
    insta::assert_snapshot!("sale_oversold", screen);
    let alarm = cell_style_of(&h, "⚠  OVERSOLD");
    assert_eq!(alarm.bg, Some(ratatui::style::Color::Red));
    let badge = cell_style_of(&h, "⚠ OVERSOLD +3");
    assert_eq!(badge.bg, Some(ratatui::style::Color::Red));
}

#[test]
fn no_color_draws_without_colour_and_the_alarm_still_stands_out() {
    let mut h = Harness::new();
    h.app.options.theme = &tui::MONO;
    oversell_by_hand(&h.engine, "PHONE-X1", 2);
    h.app.refresh();
    h.screen();
    let buf = h.terminal.backend().buffer();
    for cell in &buf.content {
        assert!(
            matches!(cell.fg, ratatui::style::Color::Reset)
                && matches!(cell.bg, ratatui::style::Color::Reset),
            "a coloured cell under NO_COLOR: {cell:?}"
        );
    }
    let alarm = cell_style_of(&h, "⚠  OVERSOLD");
    assert!(
        alarm
            .add_modifier
            .contains(ratatui::style::Modifier::REVERSED)
    );
}

#[test]
fn too_small_down_to_10x3_and_back() {
    let mut h = Harness::new();
    assert!(h.screen().contains("Active holds"));
    for (w, h_) in [(60, 20), (10, 3), (3, 1), (0, 0)] {
        h.terminal.backend_mut().resize(w, h_);
        // Drawing must not panic at any size (the test backend cannot print 0×0).
        h.terminal.draw(|f| tui::render(&h.app, f)).unwrap();
        if w == 10 {
            insta::assert_snapshot!("too_small_10x3", h.screen());
        }
    }
    h.terminal.backend_mut().resize(80, 24);
    assert!(h.screen().contains("Active holds"));
    h.terminal.backend_mut().resize(10, 3);
    h.screen();
    h.press(KeyCode::Char('q'));
    assert!(h.app.quit, "q quits from the too-small screen");
}

#[test]
fn ctrl_c_quits_even_from_a_dialog() {
    let mut h = Harness::new();
    h.press(KeyCode::Char('n'));
    h.press_with(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(h.app.quit);
}

#[test]
fn strategy_ttl_warp_restock_and_reset_keys() {
    let mut h = Harness::new();
    h.press(KeyCode::Char('S'));
    assert_eq!(h.engine.strategy(), Strategy::Naive);
    assert!(h.screen().contains("naive UNSAFE"));
    h.press(KeyCode::Char('s'));
    assert_eq!(h.engine.strategy(), Strategy::Immediate);
    h.keys("t900");
    h.press(KeyCode::Enter);
    assert_eq!(h.engine.rules().hold_ttl, Duration::from_secs(15 * 60));
    h.keys("w60");
    h.press(KeyCode::Enter);
    assert_eq!(h.engine.clock().warp(), 60);
    assert!(h.screen().contains("×60"));
    h.engine.reserve("PHONE-X1", "ann", 1).unwrap();
    h.keys("r");
    h.keys("12");
    h.press(KeyCode::Enter);
    let phone = &h.engine.stock().unwrap()[0];
    assert_eq!((phone.available, phone.held, phone.total), (12, 1, 13));
    h.keys("R");
    insta::assert_snapshot!("reset_confirm", h.screen());
    h.keys("y");
    let phone = &h.engine.stock().unwrap()[0];
    assert_eq!((phone.available, phone.held, phone.total), (13, 0, 13));
    assert!(h.screen().contains("Sale reset"));
}

/// The presenter's story, for real: 400 bots with naive oversell 20 units and the alarm
/// goes red; the same run with immediate sells exactly 20; both land in Compare.
#[test]
fn a_naive_swarm_oversells_then_immediate_sells_exactly_the_stock() {
    let mut h = Harness::new();
    launch(&mut h, "400", "20", Strategy::Naive, true);
    let naive = &h.app.compare.runs[0];
    assert_eq!(naive.strategy, Strategy::Naive);
    assert!(naive.oversold > 0, "naive oversold nothing: {naive:?}");
    let screen = h.screen();
    assert!(screen.contains("⚠  OVERSOLD"), "{screen}");
    assert_eq!(
        cell_style_of(&h, "⚠  OVERSOLD").bg,
        Some(ratatui::style::Color::Red)
    );

    launch(&mut h, "400", "20", Strategy::Immediate, true);
    let immediate = &h.app.compare.runs[1];
    assert_eq!(
        (immediate.sold, immediate.oversold),
        (20, 0),
        "{immediate:?}"
    );
    let screen = h.screen();
    assert!(!screen.contains("OVERSOLD"), "{screen}");
    h.press(KeyCode::Char('4'));
    let screen = h.screen();
    assert!(
        screen.contains("naive") && screen.contains("immediate"),
        "{screen}"
    );
}

#[test]
fn the_mouse_wheel_scrolls_the_list_under_it() {
    use ratatui::crossterm::event::{MouseEvent, MouseEventKind};
    let mut h = Harness::new();
    for i in 0..30 {
        let hold = h.engine.reserve("BUDS-2", &format!("b{i:02}"), 1).unwrap();
        h.engine.clock().advance(Duration::from_secs(1));
        h.engine.checkout(&hold).unwrap();
    }
    h.app.refresh();
    h.screen();
    let orders = tui::ui::sale_areas(&h.app, h.app.area).orders;
    let wheel = MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: orders.x + 3,
        row: orders.y + 3,
        modifiers: KeyModifiers::NONE,
    };
    let action = tui::handle_mouse(wheel).unwrap();
    tui::update(&mut h.app, action);
    assert_eq!(h.app.sale.focus, tui::app::SalePanel::Orders);
    assert_eq!(h.app.sale.orders_scroll, 3);
    let screen = h.screen();
    assert!(
        screen.contains("b26") && !screen.contains("b29"),
        "{screen}"
    );
}
