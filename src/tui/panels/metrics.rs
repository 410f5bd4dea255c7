//! Rates with their charts (attempts, holds and orders per second over the last
//! minutes), rejections by reason, conflicts, busy, rollback rate and latency. Holds
//! and orders per second come from the database (they work read-only too); attempts,
//! rejections and latency from the running swarm's own `Metrics`.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use std::collections::VecDeque;

use ratatui::widgets::{Sparkline, Widget};

use crate::error::Rejection;
use crate::monitor::Rates;
use crate::tui::app::{App, RunState};
use crate::tui::format::{micros, rate, thousands, thousands_i};
use crate::tui::theme::Theme;
use crate::tui::ui::panel;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme();
    let status = match &app.run {
        Some(run) => {
            let state = match run.state {
                RunState::Running => format!(
                    "{}/{}",
                    thousands(run.live.buyers_done),
                    thousands(run.buyers)
                ),
                RunState::Stopping => "stopping".to_owned(),
                RunState::Finished => "done".to_owned(),
            };
            Line::from(vec![
                Span::styled(format!(" run {} ", run.number), t.dim),
                Span::styled(
                    run.strategy.name(),
                    if run.strategy.is_safe() {
                        t.value
                    } else {
                        t.danger
                    },
                ),
                Span::styled(format!(" {state} "), t.dim),
            ])
        }
        None if app.read_only() => Line::styled(" from the database ", t.dim),
        None => Line::styled(" no swarm yet: n ", t.dim),
    };
    let block = panel(t, " Metrics ", false).title_top(status.right_aligned());
    let inner = block.inner(area);
    block.render(area, buf);
    let rows = usize::from(inner.height);
    let mut lines: Vec<Row> = Vec::new();
    let rates = app.history.rates();
    let latest = app.history.current();
    let live = !app.read_only();
    if live {
        lines.push(Row::Rate {
            label: "attempts/s",
            value: latest.attempts.unwrap_or(0.0),
            pick: |r| r.attempts.unwrap_or(0.0),
        });
    }
    lines.push(Row::Rate {
        label: "holds/s",
        value: latest.holds,
        pick: |r| r.holds,
    });
    lines.push(Row::Rate {
        label: "orders/s",
        value: latest.orders,
        pick: |r| r.orders,
    });
    if let Some(back) = app.snapshot.returned {
        // Units back on sale (or money back), from the database: it fits 38 columns.
        lines.push(Row::Text(Line::from(vec![
            Span::styled("expired ", t.dim),
            Span::styled(thousands_i(back.expired), t.value),
            Span::styled(" · released ", t.dim),
            Span::styled(thousands_i(back.released), t.value),
            Span::styled(" · refunded ", t.dim),
            Span::styled(thousands_i(back.refunded), t.value),
        ])));
    }
    match (&app.run, live) {
        (Some(run), true) => {
            let mut spans = vec![
                Span::styled("rejected   ", t.dim),
                Span::styled(
                    format!("{:>7}", thousands(run.live.rejected_total())),
                    t.value,
                ),
                Span::raw(" "),
            ];
            let mut first = true;
            for (i, reason) in Rejection::ALL.iter().enumerate() {
                let n = run.live.rejected[i];
                if n == 0 && *reason != Rejection::SoldOut {
                    continue;
                }
                if !first {
                    spans.push(Span::styled(" · ", t.border));
                }
                first = false;
                spans.push(Span::styled(format!("{} ", reason.label()), t.dim));
                spans.push(Span::raw(thousands(n)));
            }
            lines.push(Row::Text(Line::from(spans)));
            let c = run.live.counters;
            let writes = c.commits + c.rollbacks;
            let rollback = if writes == 0 {
                0.0
            } else {
                c.rollbacks as f64 * 100.0 / writes as f64
            };
            let busy = [
                Span::styled("  busy ", t.dim),
                Span::styled(thousands(c.busy), if c.busy > 0 { t.warn } else { t.value }),
            ];
            let rollbacks = [
                Span::styled("  rollbacks ", t.dim),
                Span::styled(format!("{rollback:.1}%"), t.value),
            ];
            // All three take 42 columns and the panel has 38 at 80x24: a part that does
            // not fit is left out whole. Busy is kept first when it is an alarm, and
            // dropped first when it is 0.
            let parts = if c.busy > 0 {
                [busy, rollbacks]
            } else {
                [rollbacks, busy]
            };
            let mut line = Line::from(vec![
                Span::styled("conflicts  ", t.dim),
                Span::styled(format!("{:>7}", thousands(c.conflicts)), t.value),
            ]);
            for part in parts {
                let width: usize = part.iter().map(Span::width).sum();
                if line.width() + width <= usize::from(inner.width) {
                    line.spans.extend(part);
                }
            }
            lines.push(Row::Text(line));
            lines.push(Row::Text(Line::from(vec![
                Span::styled("latency    ", t.dim),
                Span::styled("p50 ", t.dim),
                Span::styled(micros(run.live.latency.p50), t.value),
                Span::styled("   p99 ", t.dim),
                Span::styled(micros(run.live.latency.p99), t.value),
            ])));
        }
        (None, true) => lines.push(Row::Text(Line::styled(
            "latency & rejections: run a swarm (n)",
            t.dim,
        ))),
        (_, false) => {
            lines.push(Row::Text(Line::from(vec![
                Span::styled("active     ", t.dim),
                Span::styled(
                    format!("{:>7}", thousands(app.snapshot.active_holds)),
                    t.value,
                ),
                Span::styled(" holds", t.dim),
            ])));
            lines.push(Row::Text(Line::styled(
                "attempts and latency: in the seller",
                t.dim,
            )));
        }
    }
    for (i, line) in lines.into_iter().take(rows).enumerate() {
        let y = inner.y + u16::try_from(i).unwrap_or(0);
        let row = Rect::new(inner.x, y, inner.width, 1);
        line.render(t, rates, row, buf);
    }
}

enum Row {
    Rate {
        label: &'static str,
        value: f64,
        pick: fn(&Rates) -> f64,
    },
    Text(Line<'static>),
}

impl Row {
    fn render(
        self,
        t: &Theme,
        rates: &std::collections::VecDeque<Rates>,
        row: Rect,
        buf: &mut Buffer,
    ) {
        match self {
            Row::Text(line) => line.render(row, buf),
            Row::Rate { label, value, pick } => {
                let [name, number, _, spark] = row.layout(&Layout::horizontal([
                    Constraint::Length(11),
                    Constraint::Length(7),
                    Constraint::Length(1),
                    Constraint::Fill(1),
                ]));
                Span::styled(label, t.dim).render(name, buf);
                Line::styled(rate(value), t.value)
                    .right_aligned()
                    .render(number, buf);
                let data = downsample(rates, pick, usize::from(spark.width));
                Sparkline::default()
                    .data(&data)
                    .style(t.spark)
                    .render(spark, buf);
            }
        }
    }
}

/// The last few minutes of per-second rates squeezed into `width` bars: each bar the mean
/// of `k` seconds, `k` as small as lets the whole span fit (one second a bar when it can).
fn downsample(rates: &VecDeque<Rates>, pick: fn(&Rates) -> f64, width: usize) -> Vec<u64> {
    const SPAN: usize = 300;
    if width == 0 {
        return Vec::new();
    }
    let n = rates.len().min(SPAN);
    let k = n.div_ceil(width).max(1);
    let recent: Vec<f64> = rates.iter().skip(rates.len() - n).map(pick).collect();
    // Group from the newest back, so the last bar is always the latest seconds.
    let mut bars: Vec<u64> = recent
        .rchunks(k)
        .map(|c| (c.iter().sum::<f64>() / c.len() as f64).round() as u64)
        .collect();
    bars.reverse();
    bars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_fit_the_width() {
        let rates: VecDeque<Rates> = (0..120)
            .map(|i| Rates {
                holds: f64::from(i),
                ..Rates::default()
            })
            .collect();
        let bars = downsample(&rates, |r| r.holds, 30);
        assert_eq!(bars.len(), 30);
        assert_eq!(bars.last(), Some(&118), "the mean of the last 4 seconds");
        assert_eq!(downsample(&rates, |r| r.holds, 200).len(), 120);
    }
}
