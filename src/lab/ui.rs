//! The console's Lab tab: pick a scenario, step through it, or play the scheduler.
//!
//! [`LabView`] is self-contained: the console hands it key presses
//! ([`LabView::handle_key`] says whether it used the key, so `q`, `Tab` and `?` stay the
//! console's) and a buffer to draw into ([`LabView::render`], or `impl Widget for
//! &LabView`). It owns its scenarios' temporary databases; dropping it removes them.

mod keys;
mod panels;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph, Widget, Wrap};

use super::runner::{Check, StepRecord};
use super::scenario::{self, Broken, Scenario};
use super::scheduler::Scheduler;
use super::stepper::Stepper;
use crate::error::Error;
use crate::tui::text::{fit, width};
use crate::tui::theme::Theme;
pub use keys::LabMove;
use panels::{LaneEntry, Scene};

/// The smallest area the running-scenario screen is drawn in; below it a short notice.
pub const MIN_SIZE: (u16, u16) = (50, 14);

/// The two ways to play a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward and back through the written order.
    Step,
    /// The student picks which session runs next.
    Scheduler,
}

/// What the tab shows.
enum Screen {
    /// The list of scenarios.
    Picker,
    /// A scenario in step mode.
    Step(Box<Stepper>),
    /// A scenario in scheduler mode.
    Schedule(Box<Scheduler>),
}

/// The Lab tab's state.
pub struct LabView {
    scenarios: Vec<Scenario>,
    broken: Vec<Broken>,
    /// The picker's highlighted line.
    selected: usize,
    screen: Screen,
    theme: &'static Theme,
    /// Whether to draw a key-hint line at the bottom (off when the console has a footer).
    show_hints: bool,
    /// The last error, as one sentence (a database that could not be created...).
    error: Option<String>,
    /// Scheduler mode: the session `r` restarts (the one picked last).
    focus: usize,
}

/// Every key the Lab tab uses, for the console's footer and help.
#[must_use]
pub fn key_hints() -> &'static [(&'static str, &'static str)] {
    &[
        ("↑↓ Enter", "pick scenario"),
        ("→/l ←/h", "step forward/back"),
        ("Home End", "start/end"),
        ("1-9", "run session (scheduler)"),
        ("r", "roll back & restart session"),
        ("u", "undo move"),
        ("m", "step ↔ scheduler"),
        ("Esc", "scenario list"),
    ]
}

impl LabView {
    /// The built-in scenarios plus `assets/lab/*.json` under the current directory.
    #[must_use]
    pub fn new(no_color: bool) -> LabView {
        let (scenarios, broken) =
            scenario::catalog(Some(&scenario::default_dir())).unwrap_or_default();
        let mut view = LabView::with_scenarios(scenarios, no_color);
        view.broken = broken;
        view
    }

    /// A view over exactly these scenarios.
    #[must_use]
    pub fn with_scenarios(scenarios: Vec<Scenario>, no_color: bool) -> LabView {
        LabView {
            scenarios,
            broken: Vec::new(),
            selected: 0,
            screen: Screen::Picker,
            theme: Theme::pick(no_color),
            show_hints: false,
            error: None,
            focus: 0,
        }
    }

    /// Draw a line of key hints at the bottom (for use without the console's footer).
    pub fn set_show_hints(&mut self, show: bool) {
        self.show_hints = show;
    }

    /// Opens the scenario called `name` (from this view's list) in `mode`.
    ///
    /// # Errors
    /// No such scenario, or its database cannot be set up.
    pub fn open(&mut self, name: &str, mode: Mode) -> Result<(), Error> {
        let Some(index) = self.scenarios.iter().position(|s| s.name == name) else {
            return Err(super::unknown_scenario(
                name,
                self.scenarios.iter().map(|s| s.name.as_str()),
            ));
        };
        self.selected = index;
        let scenario = self.scenarios[index].clone();
        self.start(scenario, mode)
    }

    /// Opens a scenario that is not in the list (a file given on the command line).
    ///
    /// # Errors
    /// Its database cannot be set up.
    pub fn open_scenario(&mut self, scenario: Scenario, mode: Mode) -> Result<(), Error> {
        match self.scenarios.iter().position(|s| s.name == scenario.name) {
            Some(i) => {
                self.scenarios[i] = scenario.clone();
                self.selected = i;
            }
            None => {
                self.scenarios.push(scenario.clone());
                self.selected = self.scenarios.len() - 1;
            }
        }
        self.start(scenario, mode)
    }

    fn start(&mut self, scenario: Scenario, mode: Mode) -> Result<(), Error> {
        self.focus = 0;
        self.screen = match mode {
            Mode::Step => Screen::Step(Box::new(Stepper::new(scenario)?)),
            Mode::Scheduler => Screen::Schedule(Box::new(Scheduler::new(scenario)?)),
        };
        self.error = None;
        Ok(())
    }

    /// The mode being played, or None on the scenario list.
    #[must_use]
    pub fn mode(&self) -> Option<Mode> {
        match self.screen {
            Screen::Picker => None,
            Screen::Step(_) => Some(Mode::Step),
            Screen::Schedule(_) => Some(Mode::Scheduler),
        }
    }

    /// The key hints that apply right now.
    #[must_use]
    pub fn hints(&self) -> Vec<(&'static str, &'static str)> {
        LabView::hints_for(self.mode())
    }

    /// The key hints of the screen `mode` shows (None: the scenario list).
    #[must_use]
    pub fn hints_for(mode: Option<Mode>) -> Vec<(&'static str, &'static str)> {
        match mode {
            None => vec![
                ("↑↓", "choose"),
                ("Enter", "step through"),
                ("s", "scheduler"),
            ],
            Some(Mode::Step) => vec![
                ("→", "next step"),
                ("←", "back"),
                ("Home/End", "start/end"),
                ("m", "scheduler"),
                ("Esc", "list"),
            ],
            Some(Mode::Scheduler) => vec![
                ("1-9", "run session"),
                ("r", "restart session"),
                ("u", "undo"),
                ("Home", "start over"),
                ("m", "step mode"),
                ("Esc", "list"),
            ],
        }
    }

    /// Draws the tab into `area` of `buf`.
    pub fn render(&self, area: Rect, buf: &mut Buffer) {
        // Never draw outside the buffer, whatever area the caller passes.
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let hints_height = u16::from(self.show_hints);
        let [body, hints] = area.layout(&Layout::vertical([
            Constraint::Fill(1),
            Constraint::Length(hints_height),
        ]));
        match &self.screen {
            Screen::Picker => self.render_picker(body, buf),
            Screen::Step(stepper) => self.render_scene(&step_scene(stepper, self.theme), body, buf),
            Screen::Schedule(s) => self.render_scene(&schedule_scene(s, self.theme), body, buf),
        }
        if self.show_hints {
            self.render_hints(hints, buf);
        }
    }

    fn render_hints(&self, area: Rect, buf: &mut Buffer) {
        let mut spans = Vec::new();
        for (key, what) in self.hints() {
            spans.push(Span::styled(format!(" {key}"), self.theme.title));
            spans.push(Span::styled(format!(" {what} "), self.theme.dim));
        }
        Paragraph::new(Line::from(spans)).render(area, buf);
    }

    fn render_picker(&self, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        let list_height = u16::try_from(self.scenarios.len() + self.broken.len())
            .unwrap_or(u16::MAX)
            .saturating_add(2);
        let [header, list, about] = area.layout(&Layout::vertical([
            Constraint::Length(1),
            Constraint::Max(list_height),
            Constraint::Fill(1),
        ]));
        let mut title = vec![Span::styled(" Lab · pick a scenario", theme.title)];
        if let Some(e) = &self.error {
            title.push(Span::styled(format!("  {e}"), theme.danger));
        }
        Paragraph::new(Line::from(title)).render(header, buf);

        let name_width = self
            .scenarios
            .iter()
            .map(|s| width(&s.name))
            .max()
            .unwrap_or(0);
        // Inside the list's borders.
        let columns = usize::from(list.width.saturating_sub(2));
        let mut lines: Vec<Line<'_>> = self
            .scenarios
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let strategy = s.strategy.map(|st| format!(" [{st}]")).unwrap_or_default();
                let name = format!(" {:name_width$}  ", s.name);
                // A title too long for the list is cut with `…`, keeping its strategy.
                let room = columns.saturating_sub(width(&name) + width(&strategy));
                let text = if room >= 12 {
                    format!("{name}{}{strategy}", fit(&s.title, room))
                } else {
                    fit(&format!("{name}{}{strategy}", s.title), columns)
                };
                let style = if i == self.selected {
                    theme.selected
                } else {
                    ratatui::style::Style::new()
                };
                Line::styled(text, style)
            })
            .collect();
        for b in &self.broken {
            lines.push(Line::styled(format!(" ! {}", b.error), theme.danger));
        }
        // Keep the highlighted line in view when the list is taller than the area.
        let room = usize::from(list.height.saturating_sub(2));
        let scroll = self.selected.saturating_sub(room.saturating_sub(1));
        Paragraph::new(lines)
            .scroll((u16::try_from(scroll).unwrap_or(0), 0))
            .block(
                Block::bordered()
                    .border_type(BorderType::Rounded)
                    .title(Span::styled(" Scenarios ", theme.title)),
            )
            .render(list, buf);

        let mut text = Vec::new();
        if let Some(s) = self.scenarios.get(self.selected) {
            text.push(Line::styled(s.title.clone(), theme.title));
            text.push(Line::raw(s.summary.clone()));
            text.push(Line::styled(
                "Enter: step through it in the written order · s: you pick who runs next",
                theme.dim,
            ));
        } else {
            text.push(Line::raw("No scenarios found."));
        }
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .block(
                Block::bordered()
                    .border_type(BorderType::Rounded)
                    .title(Span::styled(" About ", theme.title)),
            )
            .render(about, buf);
    }

    fn render_scene(&self, scene: &Scene<'_>, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
            let text = format!(
                "Lab: the window is too small (need {}×{}); Esc returns to the list.",
                MIN_SIZE.0, MIN_SIZE.1
            );
            Paragraph::new(text)
                .wrap(Wrap { trim: true })
                .render(area, buf);
            return;
        }
        // The rows get what they need, the narration the rest (at least 5 rows): the
        // story is where an oversell is explained, so it must not be cut first.
        let sessions_count = u16::try_from(scene.scenario.sessions.len()).unwrap_or(9);
        // A wide screen gives each session's column room for whole verbs and results.
        let per_session = if area.width >= 160 { 24 } else { 12 };
        let lane_width = if area.width >= 70 {
            (3 + 2 + per_session * sessions_count).min(area.width * 9 / 20)
        } else {
            0
        };
        let rows_width = usize::from(area.width.saturating_sub(lane_width + 2));
        let rows_needed =
            panels::wrapped_height(&panels::table_lines(scene, theme, rows_width), rows_width);
        let story_needed =
            panels::wrapped_height(&scene.story, usize::from(area.width.saturating_sub(2))) + 2;
        let free = area.height.saturating_sub(1 + 6);
        // The narration first (where the lesson is told, it must not be cut), keeping at
        // least 4 rows for the tables; the tables get what they need of the rest.
        let story_height = u16::try_from(story_needed)
            .unwrap_or(u16::MAX)
            .max(5)
            .min(free.saturating_sub(4));
        let rows_height = u16::try_from(rows_needed)
            .unwrap_or(u16::MAX)
            .max(4)
            .min(free.saturating_sub(story_height));
        let story_height = free.saturating_sub(rows_height).min(story_height.max(5));
        let [header, sessions, middle, story] = area.layout(&Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(6),
            Constraint::Fill(1),
            Constraint::Length(story_height),
        ]));
        self.render_header(scene, header, buf);
        panels::sessions(scene, theme, sessions, buf);
        let [rows, lane] = middle.layout(&Layout::horizontal([
            Constraint::Fill(1),
            Constraint::Length(lane_width),
        ]));
        let rows = Rect {
            x: rows.x + 1,
            width: rows.width.saturating_sub(2),
            ..rows
        };
        panels::tables(scene, theme, rows, buf);
        if lane_width > 0 {
            let title = if scene.next.is_some() {
                "Moves"
            } else {
                "Steps"
            };
            panels::swimlane(scene, theme, title, lane, buf);
        }
        panels::story(scene, theme, story, buf);
    }

    fn render_header(&self, scene: &Scene<'_>, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        let right = match &self.screen {
            Screen::Step(s) => format!("STEP {}/{}", s.position(), s.scenario().steps.len()),
            Screen::Schedule(s) => format!("SCHEDULER · move {}", s.played().len()),
            Screen::Picker => String::new(),
        };
        // Scheduler mode plays the student's order: the written expectations do not apply.
        let missed = if scene.next.is_some() {
            0
        } else {
            scene
                .lane
                .iter()
                .filter(|e| matches!(e.record.check, Check::Missed(_)))
                .count()
        };
        let mut right_spans = Vec::new();
        if let Some(e) = &self.error {
            right_spans.push(Span::styled(format!("{e} "), theme.danger));
        }
        if missed > 0 {
            right_spans.push(Span::styled(format!("✗ {missed} mismatch "), theme.danger));
        }
        right_spans.push(Span::styled(format!("{right} "), theme.title));
        let right_width: usize = right_spans.iter().map(|s| width(&s.content)).sum();
        let left_room = usize::from(area.width).saturating_sub(right_width + 1);
        let left = fit(
            &format!(" Lab · {} — {}", scene.scenario.name, scene.scenario.title),
            left_room,
        );
        let pad = usize::from(area.width).saturating_sub(width(&left) + right_width);
        let mut spans = vec![Span::styled(left, theme.title), Span::raw(" ".repeat(pad))];
        spans.extend(right_spans);
        Paragraph::new(Line::from(spans)).render(area, buf);
    }
}

impl Widget for &LabView {
    fn render(self, area: Rect, buf: &mut Buffer) {
        LabView::render(self, area, buf);
    }
}

/// What step mode shows.
fn step_scene<'a>(stepper: &'a Stepper, theme: &Theme) -> Scene<'a> {
    let scenario = stepper.scenario();
    let lane = stepper
        .records()
        .iter()
        .map(|r| LaneEntry {
            number: r.step.map_or(0, |s| s + 1),
            record: r,
        })
        .collect();
    let last = stepper.last();
    let (story_title, story) = match last.and_then(|r| r.step.map(|s| (r, s))) {
        None => (
            "About".to_string(),
            vec![
                Line::raw(scenario.summary.clone()),
                Line::styled("→ runs step 1.", theme.dim),
            ],
        ),
        Some((record, index)) => {
            let step = &scenario.steps[index];
            let mut lines = Vec::new();
            if let Check::Missed(why) = &record.check {
                lines.push(Line::styled(format!("MISMATCH {why}"), theme.danger));
            }
            let at_end = stepper.at_end() && !scenario.lesson.is_empty();
            // The full statement, except at the end where the lesson needs the room.
            if !at_end {
                lines.push(Line::from(vec![
                    Span::styled(format!("{}› ", step.session), theme.dim),
                    Span::styled(record.sql.clone(), theme.dim),
                    Span::styled(format!(" → {}", record.outcome.summary()), theme.title),
                ]));
            }
            lines.push(Line::raw(step.narration.clone()));
            if at_end {
                lines.push(Line::from(vec![
                    Span::styled("Lesson: ", theme.title),
                    Span::raw(scenario.lesson.clone()),
                ]));
            }
            (
                format!(
                    "Step {}/{} · {}",
                    index + 1,
                    scenario.steps.len(),
                    step.session
                ),
                lines,
            )
        }
    };
    Scene {
        scenario,
        lab: stepper.lab(),
        lane,
        rows: stepper.rows(),
        last,
        next: None,
        story,
        story_title,
    }
}

/// What scheduler mode shows.
fn schedule_scene<'a>(s: &'a Scheduler, theme: &Theme) -> Scene<'a> {
    let scenario = s.scenario();
    let mut lane = Vec::new();
    for (i, p) in s.played().iter().enumerate() {
        if let Some(record) = &p.record {
            lane.push(LaneEntry {
                number: i + 1,
                record,
            });
        }
    }
    let next = (0..scenario.sessions.len())
        .map(|i| s.next_step(i).map(|st| scenario.steps[st].sql.as_str()))
        .collect();
    let moves = s.played().len();
    // A broken shop stays on screen until undone; a BUSY only right after it happened.
    let announcement = s
        .headline()
        .filter(|a| a.kind.is_bug() || a.after_move + 1 == moves);
    let mut story = Vec::new();
    match s.played().last() {
        None => {
            story.push(Line::raw(
                "You are the scheduler: press a session's number to run its next statement. Try to make the shop oversell, lose an update, or meet SQLITE_BUSY.",
            ));
        }
        Some(p) => {
            if let Some(note) = &p.note {
                story.push(Line::styled(note.clone(), theme.warn));
            } else if let Some(r) = &p.record
                && !announcement.is_some_and(|a| a.kind.is_bug())
            {
                story.push(ran_line(scenario, r, theme));
            }
        }
    }
    if let Some(a) = announcement {
        story.extend(panels::announcement_lines(a, theme));
    } else if moves > 0 && (0..scenario.sessions.len()).all(|i| s.finished(i)) {
        story.push(Line::styled(
            "Every session has finished and the audit equation holds: no anomaly this time. u undoes, Home starts over.",
            theme.ok,
        ));
    }
    Scene {
        scenario,
        lab: s.lab(),
        lane,
        rows: s.rows(),
        last: s.last_record(),
        next: Some(next),
        story,
        story_title: format!("Move {moves}"),
    }
}

/// "B ran UPDATE products …: ok, 1 row changed", on one line.
fn ran_line<'a>(scenario: &Scenario, r: &StepRecord, theme: &Theme) -> Line<'a> {
    let name = scenario
        .sessions
        .get(r.session)
        .map_or("?", |s| s.name.as_str());
    let result = r.outcome.summary();
    Line::from(vec![
        Span::styled(format!("{name} ran "), theme.dim),
        Span::raw(fit(&r.sql, 44)),
        Span::styled(format!(" → {result}"), theme.title),
    ])
}
