//! Fitting text into columns. Widths are display columns as the terminal draws them
//! (`unicode-width`): `…`, `×` and `█` take one, CJK and most emoji two, combining marks
//! none. Counting `char`s instead cuts wide text too late and misaligns the columns
//! after it.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// The columns `text` takes on screen.
pub fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// The longest start of `text` that fits in `columns`.
fn head(text: &str, columns: usize) -> &str {
    let mut used = 0;
    for (at, c) in text.char_indices() {
        used += c.width().unwrap_or(0);
        if used > columns {
            return &text[..at];
        }
    }
    text
}

/// The longest end of `text` that fits in `columns`.
fn tail(text: &str, columns: usize) -> &str {
    let mut used = 0;
    for (at, c) in text.char_indices().rev() {
        used += c.width().unwrap_or(0);
        if used > columns {
            return &text[at + c.len_utf8()..];
        }
    }
    text
}

/// Cuts `text` to `columns`, marking the cut with `…`.
pub fn fit(text: &str, columns: usize) -> String {
    if width(text) <= columns {
        return text.to_owned();
    }
    if columns == 0 {
        return String::new();
    }
    format!("{}…", head(text, columns - 1))
}

/// Cuts `text` to `columns` in the middle, keeping both ends: bot buyers share a long
/// prefix and differ at the end (`bot-1a2b…4711`).
pub fn fit_middle(text: &str, columns: usize) -> String {
    if width(text) <= columns {
        return text.to_owned();
    }
    if columns < 5 {
        return fit(text, columns);
    }
    let back = (columns - 1) / 2;
    let front = columns - 1 - back;
    format!("{}…{}", head(text, front), tail(text, back))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_count_columns_not_chars() {
        assert_eq!(fit("bot-12345678-1", 8), "bot-123…");
        assert_eq!(fit("short", 8), "short");
        assert_eq!(fit("anything", 0), "");
        assert_eq!(fit_middle("bot-1a2b3c4d-4711", 12), "bot-1a…-4711");
        assert_eq!(fit_middle("ann", 12), "ann");
        // Two columns a character: four characters fill eight columns.
        assert_eq!(width("販売中です"), 10);
        assert_eq!(fit("販売中です", 8), "販売中…");
        assert_eq!(width(&fit("販売中です", 8)), 7);
        assert_eq!(fit_middle("販売中です販売", 9), "販売…販売");
    }
}
