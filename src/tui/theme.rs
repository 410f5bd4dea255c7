//! The console's look in one place, every tab's and the lab's: a calm colour theme, and a
//! theme without colour for `NO_COLOR` (and for monochrome projectors) that tells the
//! same things apart with weight, reverse video, underlines and distinct bar glyphs.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Theme {
    /// Whether this theme uses colour (widgets with their own palette follow it).
    pub color: bool,
    pub text: Style,
    /// Labels and secondary facts.
    pub dim: Style,
    /// Panel titles.
    pub title: Style,
    pub border: Style,
    /// The border of the panel that arrow keys move.
    pub border_focus: Style,
    /// The "flashsale" badge at the left of the tab bar.
    pub badge: Style,
    pub tab: Style,
    pub tab_active: Style,
    /// A key in the footer and the help ("q").
    pub key: Style,
    /// Numbers that matter.
    pub value: Style,
    pub ok: Style,
    pub warn: Style,
    pub danger: Style,
    /// The oversell alarm: unmissable.
    pub alarm: Style,
    pub available: Style,
    pub held: Style,
    pub sold: Style,
    /// The selected row of a list.
    pub selected: Style,
    pub glyph_available: &'static str,
    pub glyph_held: &'static str,
    pub glyph_sold: &'static str,
    pub spark: Style,
    /// The lab: a cell the last step changed.
    pub changed: Style,
    /// The lab: a row the last step added.
    pub added: Style,
    /// The lab: a session inside a transaction that has not read yet.
    pub txn_begun: Style,
    /// The lab: a session holding a read snapshot.
    pub txn_read: Style,
    /// The lab: a session holding the write lock.
    pub txn_write: Style,
}

const fn fg(color: Color) -> Style {
    Style::new().fg(color)
}

const BOLD: Modifier = Modifier::BOLD;

pub const THEME: Theme = Theme {
    color: true,
    text: Style::new(),
    dim: fg(Color::Gray),
    title: fg(Color::Cyan).add_modifier(BOLD),
    border: fg(Color::DarkGray),
    border_focus: fg(Color::Cyan),
    badge: Style::new()
        .fg(Color::Black)
        .bg(Color::Cyan)
        .add_modifier(BOLD),
    tab: fg(Color::Gray),
    tab_active: fg(Color::Cyan)
        .add_modifier(BOLD)
        .add_modifier(Modifier::UNDERLINED),
    key: fg(Color::Cyan).add_modifier(BOLD),
    value: Style::new().add_modifier(BOLD),
    ok: fg(Color::Green),
    warn: fg(Color::Yellow),
    danger: fg(Color::LightRed).add_modifier(BOLD),
    alarm: Style::new()
        .fg(Color::White)
        .bg(Color::Red)
        .add_modifier(BOLD),
    available: fg(Color::Green),
    held: fg(Color::Yellow),
    sold: fg(Color::LightBlue),
    selected: Style::new().bg(Color::DarkGray).add_modifier(BOLD),
    glyph_available: "█",
    glyph_held: "█",
    glyph_sold: "█",
    spark: fg(Color::Cyan),
    changed: fg(Color::Yellow).add_modifier(BOLD),
    added: fg(Color::Green).add_modifier(BOLD),
    txn_begun: fg(Color::Cyan),
    txn_read: fg(Color::Blue).add_modifier(BOLD),
    txn_write: fg(Color::Magenta).add_modifier(BOLD),
};

/// For `NO_COLOR`: no colour at all, only weight and reverse video.
pub const MONO: Theme = Theme {
    color: false,
    text: Style::new(),
    dim: Style::new(),
    title: Style::new().add_modifier(BOLD),
    border: Style::new(),
    border_focus: Style::new().add_modifier(BOLD),
    badge: Style::new()
        .add_modifier(Modifier::REVERSED)
        .add_modifier(BOLD),
    tab: Style::new(),
    tab_active: Style::new()
        .add_modifier(BOLD)
        .add_modifier(Modifier::REVERSED),
    key: Style::new().add_modifier(BOLD),
    value: Style::new().add_modifier(BOLD),
    ok: Style::new(),
    warn: Style::new().add_modifier(BOLD),
    danger: Style::new().add_modifier(BOLD),
    alarm: Style::new()
        .add_modifier(Modifier::REVERSED)
        .add_modifier(BOLD),
    available: Style::new(),
    held: Style::new(),
    sold: Style::new(),
    selected: Style::new().add_modifier(Modifier::REVERSED),
    glyph_available: "░",
    glyph_held: "▓",
    glyph_sold: "█",
    spark: Style::new(),
    changed: Style::new().add_modifier(Modifier::REVERSED),
    added: Style::new().add_modifier(Modifier::UNDERLINED),
    txn_begun: Style::new(),
    txn_read: Style::new().add_modifier(BOLD),
    txn_write: Style::new()
        .add_modifier(BOLD)
        .add_modifier(Modifier::UNDERLINED),
};

impl Theme {
    /// `NO_COLOR` set to anything but the empty string turns colour off
    /// (<https://no-color.org>).
    pub fn from_env() -> &'static Theme {
        if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            &MONO
        } else {
            &THEME
        }
    }

    /// The colour theme, or the colourless one.
    pub fn pick(no_color: bool) -> &'static Theme {
        if no_color { &MONO } else { &THEME }
    }
}
