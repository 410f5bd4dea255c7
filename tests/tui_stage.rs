//! The console on stage: a presenter can drive it without fear. No key loses data by
//! accident, Esc never quits, dialogs take typed values within bounds, the display
//! freezes on demand, and help reaches its last line. Manual clock; screens as insta
//! snapshots at 80×24 and 200×50.

use std::time::Duration;

use flashsale::Strategy;
use flashsale::tui::form::Modal;
use ratatui::crossterm::event::KeyCode;

#[path = "support/console.rs"]
mod console;
use console::{Harness, launch};

/// Two paid orders and one active hold on the books.
fn sale_with_orders(h: &mut Harness) {
    for buyer in ["ann", "bob"] {
        let hold = h.engine.reserve("BUDS-2", buyer, 1).unwrap();
        h.engine.checkout(&hold).unwrap();
    }
    h.engine.reserve("BUDS-2", "cat", 1).unwrap();
    h.app.refresh();
}

fn orders(h: &Harness) -> i64 {
    h.engine.stock().unwrap().iter().map(|s| s.sold).sum()
}

fn both_sizes(name: &str, mut drive: impl FnMut(&mut Harness)) {
    for (w, ht) in [(80, 24), (200, 50)] {
        let mut h = Harness::sized(w, ht);
        drive(&mut h);
        insta::assert_snapshot!(format!("{name}_{w}x{ht}"), h.screen());
    }
}

#[test]
fn enter_enter_enter_loses_no_order() {
    let mut h = Harness::new();
    sale_with_orders(&mut h);
    h.press(KeyCode::Enter);
    h.press(KeyCode::Enter);
    h.press(KeyCode::Enter);
    assert_eq!(orders(&h), 2, "Enter Enter Enter deleted orders");
    if h.app.swarm_running() {
        h.app.stop_swarm();
    }
}

#[test]
fn a_fresh_start_and_reset_ask_for_y_and_enter_is_not_yes() {
    let mut h = Harness::new();
    sale_with_orders(&mut h);
    // The form opens on Buyers; two up is its last field: start from a fresh sale.
    h.press(KeyCode::Char('n'));
    h.press(KeyCode::Up);
    h.press(KeyCode::Up);
    h.press(KeyCode::Right);
    h.press(KeyCode::Enter);
    assert!(matches!(h.app.modal, Some(Modal::ConfirmFresh(_))));
    let screen = h.screen();
    assert!(
        screen.contains("It deletes the orders of 2 sold units"),
        "{screen}"
    );
    h.press(KeyCode::Enter);
    assert!(matches!(h.app.modal, Some(Modal::ConfirmFresh(_))));
    h.press(KeyCode::Esc);
    assert!(
        matches!(h.app.modal, Some(Modal::Swarm(_))),
        "Esc goes back"
    );
    h.press(KeyCode::Esc);
    assert!(h.app.modal.is_none() && !h.app.quit && !h.app.swarm_running());
    assert_eq!(orders(&h), 2);

    h.press(KeyCode::Char('R'));
    h.press(KeyCode::Enter);
    assert!(matches!(h.app.modal, Some(Modal::Reset)));
    assert_eq!(orders(&h), 2, "Enter is not yes");
    h.press(KeyCode::Char('y'));
    assert_eq!(orders(&h), 0, "y resets");
}

#[test]
fn esc_never_quits() {
    let mut h = Harness::new();
    h.press(KeyCode::Esc);
    assert!(!h.app.quit, "Esc on the Sale tab");
    h.press(KeyCode::Char('3'));
    h.press(KeyCode::Enter);
    h.press(KeyCode::Esc);
    h.press(KeyCode::Esc);
    assert!(!h.app.quit, "Esc twice in the Lab");
    h.press(KeyCode::Char('q'));
    assert!(h.app.quit, "q quits");
}

#[test]
fn the_swarm_forms_stock_follows_its_product() {
    let mut h = Harness::new();
    h.engine.restock("BUDS-2", 75).unwrap();
    h.engine.restock("WATCH-S", 20).unwrap();
    h.app.refresh();
    let stock_of = |h: &Harness| match &h.app.modal {
        Some(Modal::Swarm(form)) => form.stock.value,
        _ => panic!("no form"),
    };
    h.press(KeyCode::Char('n'));
    h.press(KeyCode::Up);
    while h.app.snapshot.stock[form_product(&h)].sku != "BUDS-2" {
        h.press(KeyCode::Right);
    }
    assert_eq!(stock_of(&h), 75);
    h.press(KeyCode::Right);
    assert_eq!(h.app.snapshot.stock[form_product(&h)].sku, "WATCH-S");
    assert_eq!(stock_of(&h), 20, "WATCH-S keeps its own 20");
}

fn form_product(h: &Harness) -> usize {
    match &h.app.modal {
        Some(Modal::Swarm(form)) => form.product,
        _ => panic!("no form"),
    }
}

#[test]
fn ttl_and_warp_are_typed_within_bounds_and_never_wrap() {
    let mut h = Harness::new();
    h.keys("t20");
    h.press(KeyCode::Enter);
    assert_eq!(h.engine.rules().hold_ttl, Duration::from_secs(20));
    // Zero is refused and the dialog stays; past the top it stops at the top.
    h.keys("t0");
    h.press(KeyCode::Enter);
    assert!(matches!(h.app.modal, Some(Modal::Ttl(_))));
    h.keys("99999999");
    h.press(KeyCode::Enter);
    assert_eq!(h.engine.rules().hold_ttl, Duration::from_secs(86_400));
    // The presets stop at the ends.
    h.keys("t");
    for _ in 0..20 {
        h.press(KeyCode::Left);
    }
    h.press(KeyCode::Enter);
    assert_eq!(h.engine.rules().hold_ttl, Duration::from_secs(10));

    h.keys("w5000");
    h.press(KeyCode::Enter);
    assert_eq!(h.engine.clock().warp(), 3600);
    h.keys("w");
    for _ in 0..20 {
        h.press(KeyCode::Left);
    }
    h.press(KeyCode::Enter);
    assert_eq!(h.engine.clock().warp(), 1, "no wrap-around from ×1");
}

#[test]
fn freeze_pauses_the_display_not_the_sale() {
    let mut h = Harness::new();
    h.press(KeyCode::Char('f'));
    h.engine.reserve("PHONE-X1", "ann", 1).unwrap();
    h.advance(Duration::from_secs(5));
    let screen = h.screen();
    assert!(
        screen.contains("FROZEN") && screen.contains("Active holds 0"),
        "{screen}"
    );
    assert!(screen.contains("18:00:00"), "the clock stops too: {screen}");
    h.press(KeyCode::Char('f'));
    let screen = h.screen();
    assert!(
        !screen.contains("FROZEN") && screen.contains("Active holds 1"),
        "{screen}"
    );
}

#[test]
fn help_scrolls_to_its_last_line_and_no_further() {
    let mut h = Harness::new();
    h.press(KeyCode::Char('?'));
    h.press(KeyCode::Char('G'));
    let Some(Modal::Help { scroll: bottom }) = h.app.modal else {
        panic!("no help");
    };
    assert!(bottom > 0, "80×24 cannot show all of the help");
    for _ in 0..5 {
        h.press(KeyCode::PageDown);
    }
    assert!(matches!(h.app.modal, Some(Modal::Help { scroll }) if scroll == bottom));
    let screen = h.screen();
    assert!(
        screen.contains("Compare") && screen.contains("export"),
        "{screen}"
    );
    h.press(KeyCode::Char('g'));
    assert!(matches!(h.app.modal, Some(Modal::Help { scroll: 0 })));
}

#[test]
fn screens() {
    both_sizes("help", |h| h.press(KeyCode::Char('?')));
    both_sizes("ttl_dialog", |h| h.keys("t20"));
    both_sizes("warp_dialog", |h| h.keys("w60"));
    both_sizes("confirm_fresh", |h| {
        sale_with_orders(h);
        h.press(KeyCode::Char('n'));
        h.press(KeyCode::Up);
        h.press(KeyCode::Up);
        h.press(KeyCode::Right);
        h.press(KeyCode::Enter);
    });
    both_sizes("sale_with_a_chart", |h| {
        sale_with_orders(h);
        for _ in 0..3 {
            h.advance(Duration::from_secs(1));
        }
        let hold = h.engine.reserve("BUDS-2", "dan", 1).unwrap();
        h.engine.checkout(&hold).unwrap();
        h.advance(Duration::from_secs(1));
    });
    both_sizes("lab_end_of_a_scenario", |h| {
        h.press(KeyCode::Char('3'));
        h.press(KeyCode::Enter);
        h.press(KeyCode::End);
    });
    both_sizes("frozen", |h| {
        sale_with_orders(h);
        h.press(KeyCode::Char('f'));
    });
}

/// The form's arrival model and retrying losers: a human in the Storefront gets a real
/// chance against bots that arrive over time.
#[test]
fn the_swarm_form_offers_an_arrival_rate_and_retrying_bots() {
    let fill = |h: &mut Harness| {
        h.press(KeyCode::Char('n'));
        h.keys("200");
        for _ in 0..4 {
            h.press(KeyCode::Down);
        }
        h.keys("100");
        h.press(KeyCode::Down);
        h.press(KeyCode::Right);
    };
    both_sizes("swarm_form_arrival", fill);
    let mut h = Harness::new();
    fill(&mut h);
    assert!(h.screen().contains("100/s for 2.0s (open model)"));
    h.press(KeyCode::Enter);
    assert!(h.app.swarm_running());
    h.press(KeyCode::Char('x'));
    console::wait_for_run(&mut h, 0);
    let run = &h.app.compare.runs[0];
    assert!(run.behaviour.ends_with("100/s, retry"), "{run:?}");
}

/// Scheduler mode plays the student's order: a legal order other than the written one is
/// not a "mismatch".
#[test]
fn the_scheduler_does_not_call_the_students_order_a_mismatch() {
    let mut h = Harness::sized(200, 50);
    h.press(KeyCode::Char('3'));
    h.press(KeyCode::Char('s'));
    h.keys("2121");
    let screen = h.screen();
    assert!(screen.contains("SCHEDULER"), "{screen}");
    assert!(
        !screen.contains("mismatch") && !screen.contains('≠'),
        "{screen}"
    );
}

#[test]
fn after_a_run_the_metrics_panel_shows_its_rollback_rate_whole_at_80x24() {
    // The conflicts line once ran 4 columns past the panel and lost the rate's value.
    let mut h = Harness::new();
    launch(&mut h, "60", "10", Strategy::Immediate, false);
    let screen = h.screen();
    let panel = screen
        .lines()
        .flat_map(|line| line.split('│'))
        .find(|part| part.contains("conflicts"))
        .unwrap_or_else(|| panic!("no conflicts line: {screen}"));
    let shown = panel.trim_end();
    assert!(
        shown.contains("rollbacks ") && shown.ends_with('%'),
        "{screen}"
    );
}
