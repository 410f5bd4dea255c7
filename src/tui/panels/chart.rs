//! The focus product's stock over the last minutes: sold, held and left as lines, in the
//! colours of the big numbers beside it.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph, Widget};

use crate::tui::app::App;
use crate::tui::ui::panel;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme();
    let block = panel(t, " Stock over time ", false);
    let product = app.focus_product();
    let series = product.and_then(|p| app.history.stock(p.product_id));
    let Some(series) = series.filter(|s| s.len() >= 2) else {
        let inner = block.inner(area);
        block.render(area, buf);
        Paragraph::new(Line::styled("collecting… one point a second", t.dim)).render(inner, buf);
        return;
    };
    let start = series.front().map_or(0, |p| p.at);
    let x = |at: i64| (at - start) as f64 / 1000.0;
    let line = |f: fn(&crate::monitor::StockPoint) -> i64| -> Vec<(f64, f64)> {
        series.iter().map(|p| (x(p.at), f(p) as f64)).collect()
    };
    let sold = line(|p| p.sold);
    let held = line(|p| p.held);
    let left = line(|p| p.available);
    let top = series
        .iter()
        .map(|p| p.available.max(p.held).max(p.sold))
        .chain(product.map(|p| p.total))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let end = series.back().map_or(1.0, |p| x(p.at)).max(1.0);
    // Without colour the three lines are told apart by their marks.
    let marks = if t.color {
        [Marker::Braille; 3]
    } else {
        [Marker::Braille, Marker::Dot, Marker::Block]
    };
    let dataset = |name, data, style, marker| {
        Dataset::default()
            .name(name)
            .marker(marker)
            .graph_type(GraphType::Line)
            .style(style)
            .data(data)
    };
    let block = block.title_top(
        Line::from(vec![
            Span::styled(" last ", t.dim),
            Span::styled(crate::tui::format::span((end * 1000.0) as i64), t.dim),
            Span::raw(" "),
        ])
        .right_aligned(),
    );
    let axis_label = |text: String| Span::styled(text, t.dim);
    let mut x_axis = Axis::default().bounds([0.0, end]);
    let mut y_axis = Axis::default().bounds([0.0, top * 1.05]);
    // Axes take two rows and a few columns: only where the lines keep room.
    if area.height >= 10 {
        x_axis = x_axis.labels([
            axis_label("0s".to_owned()),
            axis_label(crate::tui::format::span((end * 1000.0) as i64)),
        ]);
        y_axis = y_axis.labels([axis_label("0".to_owned()), axis_label(format!("{top:.0}"))]);
    }
    Chart::new(vec![
        dataset("left", &left, t.available, marks[0]),
        dataset("held", &held, t.held, marks[1]),
        dataset("sold", &sold, t.sold, marks[2]),
    ])
    .block(block)
    .legend_position(Some(ratatui::widgets::LegendPosition::TopRight))
    // The legend (5 rows) shows once the chart has about ten.
    .hidden_legend_constraints((
        ratatui::layout::Constraint::Percentage(50),
        ratatui::layout::Constraint::Percentage(50),
    ))
    .x_axis(x_axis)
    .y_axis(y_axis)
    .render(area, buf);
}
