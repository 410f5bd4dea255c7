//! The Sale tab of a console that serves its sale (`tui --serve`): the URL the audience
//! joins at, its QR code where the screen has room, and the web buyers counted apart
//! from the bots. Manual clock, the URL fixed; insta snapshots at 80×24 and 200×50.

use flashsale::tui::app::Served;

#[path = "support/console.rs"]
mod console;
use console::Harness;

const URL: &str = "http://192.168.1.23:8080/";

/// One web buyer has paid, two hold; bots hold and buy too.
fn audience_and_bots(h: &mut Harness) {
    h.app.served = Some(Served::new(URL));
    let e = &h.engine;
    let first = e.reserve("BUDS-2", "web-ann-1a2b3c", 1).unwrap();
    e.checkout(&first).unwrap();
    e.reserve("BUDS-2", "web-bob-4d5e6f", 1).unwrap();
    e.reserve("PHONE-X1", "web-4f5e6d7c8b", 1).unwrap();
    for i in 0..4 {
        let bot = e.reserve("BUDS-2", &format!("bot-{i}"), 1).unwrap();
        if i % 2 == 0 {
            e.checkout(&bot).unwrap();
        }
    }
    h.app.refresh();
}

#[test]
fn the_sale_tab_shows_where_to_join_and_counts_web_buyers() {
    for (w, ht) in [(80, 24), (200, 50)] {
        let mut h = Harness::sized(w, ht);
        audience_and_bots(&mut h);
        let screen = h.screen();
        assert!(screen.contains(URL), "{screen}");
        assert!(
            screen.contains("web buyers: 2 holds, 1 order"),
            "the bots' 2 holds and 2 orders are not the audience's:\n{screen}"
        );
        let qr = screen.contains('▀') || screen.contains('▄');
        assert_eq!(
            qr,
            w == 200,
            "the QR code shows only where it fits:\n{screen}"
        );
        insta::assert_snapshot!(format!("sale_served_{w}x{ht}"), screen);
    }
}

#[test]
fn the_qr_code_is_white_on_black_whatever_the_terminal() {
    let mut h = Harness::sized(200, 50);
    audience_and_bots(&mut h);
    h.screen();
    let style = console::cell_style_of(&h, "█");
    assert_eq!(style.fg, Some(ratatui::style::Color::White));
    assert_eq!(style.bg, Some(ratatui::style::Color::Black));
}

/// Pay-first takes no hold the phones could pay: while serving, `s`/`S` pass it over.
#[test]
fn switching_strategy_while_serving_passes_over_pay_first() {
    use flashsale::Strategy;
    use ratatui::crossterm::event::KeyCode;
    let mut h = Harness::new();
    h.app.served = Some(Served::new(URL));
    h.press(KeyCode::Char('S'));
    assert_eq!(h.engine.strategy(), Strategy::Naive);
    h.press(KeyCode::Char('S'));
    assert_eq!(h.engine.strategy(), Strategy::Queue, "pay-first was chosen");
    h.press(KeyCode::Char('s'));
    assert_eq!(h.engine.strategy(), Strategy::Naive);
    // Not serving, the cycle is whole.
    h.app.served = None;
    h.press(KeyCode::Char('S'));
    assert_eq!(h.engine.strategy(), Strategy::PayFirst);
}
