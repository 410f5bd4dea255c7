//! Screens of the Lab tab, drawn on ratatui's TestBackend.

use flashsale::lab::scenario::built_in;
use flashsale::lab::ui::{LabView, Mode, key_hints};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::style::Color;

fn view() -> LabView {
    LabView::with_scenarios(built_in().expect("built-ins parse"), false)
}

fn press(view: &mut LabView, code: KeyCode) -> bool {
    view.handle_key(KeyEvent::from(code))
}

fn draw(view: &LabView, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    terminal
        .draw(|frame| frame.render_widget(view, frame.area()))
        .expect("draw");
    terminal
}

#[test]
fn picker_lists_the_scenarios() {
    let v = view();
    insta::assert_snapshot!("picker", draw(&v, 80, 24).backend());
}

#[test]
fn step_mode_before_and_after_the_oversell_step() {
    let mut v = view();
    assert!(press(&mut v, KeyCode::Enter), "Enter opens lost-update");
    assert_eq!(v.mode(), Some(Mode::Step));
    insta::assert_snapshot!("step_lost_update_start", draw(&v, 80, 24).backend());
    for _ in 0..5 {
        assert!(press(&mut v, KeyCode::Right));
    }
    insta::assert_snapshot!("step_lost_update_before_step_6", draw(&v, 80, 24).backend());
    assert!(press(&mut v, KeyCode::Right));
    insta::assert_snapshot!("step_lost_update_after_step_6", draw(&v, 80, 24).backend());
    // Back replays to exactly the screen before.
    assert!(press(&mut v, KeyCode::Left));
    insta::assert_snapshot!("step_lost_update_before_step_6", draw(&v, 80, 24).backend());
}

#[test]
fn step_mode_shows_locks_mid_transaction() {
    let mut v = view();
    v.open("deferred-upgrade", Mode::Step).expect("opens");
    for _ in 0..7 {
        press(&mut v, KeyCode::Right);
    }
    insta::assert_snapshot!("step_deferred_upgrade_busy", draw(&v, 80, 24).backend());
}

#[test]
fn scheduler_declares_the_oversell_the_student_made() {
    let mut v = view();
    v.open("lost-update", Mode::Scheduler).expect("opens");
    insta::assert_snapshot!("scheduler_lost_update_start", draw(&v, 80, 24).backend());
    // Alice reads, Bob reads, then each writes from what it read.
    for key in ['1', '2', '1', '1', '2', '2'] {
        assert!(press(&mut v, KeyCode::Char(key)));
    }
    insta::assert_snapshot!("scheduler_lost_update_oversold", draw(&v, 80, 24).backend());
}

#[test]
fn console_keys_are_left_to_the_console() {
    let mut v = view();
    for code in [
        KeyCode::Char('q'),
        KeyCode::Tab,
        KeyCode::Char('?'),
        KeyCode::Esc,
    ] {
        assert!(!press(&mut v, code), "{code:?} belongs to the console");
    }
    press(&mut v, KeyCode::Enter);
    assert!(!press(&mut v, KeyCode::Char('q')));
    assert!(press(&mut v, KeyCode::Esc), "Esc goes back to the list");
    assert_eq!(v.mode(), None);
    assert!(!key_hints().is_empty());
    assert!(!v.hints().is_empty());
}

#[test]
fn no_size_panics_and_nothing_is_drawn_outside_the_area() {
    let mut v = view();
    v.open("expiry", Mode::Step).expect("opens");
    for _ in 0..3 {
        press(&mut v, KeyCode::Right);
    }
    let mut s = view();
    s.open("checkout-vs-sweeper", Mode::Scheduler)
        .expect("opens");
    press(&mut s, KeyCode::Char('1'));
    press(&mut s, KeyCode::Char('2'));
    let p = view();
    for width in 0..=90 {
        for height in 0..=30 {
            for each in [&v, &s, &p] {
                let mut buf = Buffer::empty(Rect::new(0, 0, width, height));
                each.render(buf.area, &mut buf);
            }
        }
    }
    // An area larger than the buffer is clipped, not a panic.
    let mut buf = Buffer::empty(Rect::new(0, 0, 10, 3));
    v.render(Rect::new(0, 0, 80, 24), &mut buf);
}

#[test]
fn tiny_screen_says_it_is_too_small() {
    let mut v = view();
    press(&mut v, KeyCode::Enter);
    insta::assert_snapshot!("tiny_10x3", draw(&v, 10, 3).backend());
}

#[test]
fn no_color_uses_no_colours() {
    let mut v = LabView::with_scenarios(built_in().expect("parse"), true);
    v.open("lost-update", Mode::Step).expect("opens");
    for _ in 0..6 {
        press(&mut v, KeyCode::Right);
    }
    let terminal = draw(&v, 80, 24);
    for cell in terminal.backend().buffer().content() {
        assert_eq!(cell.fg, Color::Reset, "{cell:?}");
        assert_eq!(cell.bg, Color::Reset, "{cell:?}");
    }
}
