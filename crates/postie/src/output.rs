//! How the list commands print: an aligned table with a header row for people, or
//! (with `--json`) a JSON array of objects for scripts. An empty list is one line
//! saying so, or `[]`.
//!
//! Where it sits: the last step of every listing admin command (`domain list`,
//! `user list`, `mail list`, `queue list`, `dkim list`, ...). The field names of
//! the JSON objects are part of the command line's interface, documented in
//! docs/cli.md; times are RFC 3339 strings in UTC and sizes are octets.

use serde::Serialize;
use std::io::Write;
use unicode_width::UnicodeWidthStr;

/// Which way a list command prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A table with a header row.
    Table,
    /// A JSON array of objects.
    Json,
}

impl Format {
    /// `Json` when the command was given `--json`.
    pub fn from_flag(json: bool) -> Format {
        if json { Format::Json } else { Format::Table }
    }
}

/// Rows of text under a header, printed with every column but the last padded to
/// its widest cell, two spaces apart.
#[derive(Debug)]
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles (upper case, by convention).
    pub fn new(header: &[&'static str]) -> Table {
        Table {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds one row; it has as many cells as the header has titles.
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.header.len(), "cells per row");
        self.rows.push(cells);
    }

    /// The table as text: the header line, then one line per row.
    pub fn render(&self) -> String {
        let width = |i: usize| {
            self.rows
                .iter()
                .map(|r| r[i].width())
                .chain([self.header[i].width()])
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..self.header.len()).map(width).collect();
        let mut out = String::new();
        let header = self.header.iter().map(|h| h.to_string()).collect();
        for cells in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i + 1 == cells.len() {
                    line.push_str(cell);
                } else {
                    let pad = widths[i] - cell.width();
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', pad + 2));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Prints `items` the chosen way: as JSON (an array, `[]` when empty), or as the
/// table `table` makes of them, or as `empty` (one line, e.g. `no domains`) when
/// there are none.
pub fn print_list<T: Serialize>(
    format: Format,
    items: &[T],
    empty: &str,
    table: impl FnOnce(&[T]) -> Table,
) -> anyhow::Result<()> {
    match format {
        Format::Json => print_json(items),
        Format::Table => print_table(&table(items), empty),
    }
}

/// Prints `value` as pretty JSON, then a newline.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let mut json = serde_json::to_string_pretty(value)?;
    json.push('\n');
    write_out(&json)
}

/// Prints `table`, or the line `empty` when it has no rows.
pub fn print_table(table: &Table, empty: &str) -> anyhow::Result<()> {
    if table.rows.is_empty() {
        write_out(&format!("{empty}\n"))
    } else {
        write_out(&table.render())
    }
}

fn write_out(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Unix seconds as an RFC 3339 time in UTC: `2026-01-31T12:00:00Z`.
pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("@{unix}"))
}

/// Unix seconds as the tables show them: `2026-01-31 12:00 UTC`.
pub fn short_date(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| format!("@{unix}"))
}

/// Unix seconds with the seconds, as the app password and token tables show them:
/// `2026-01-31 12:00:00 UTC`.
pub fn date_time(unix: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| format!("@{unix}"))
}

/// `text` cut to at most `max` characters, with `…` marking a cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_characters_take_two_columns() {
        let mut t = Table::new(&["ADDRESS", "LIMIT"]);
        t.row(vec!["li@例子.中国".into(), "none".into()]);
        t.row(vec!["a@b.example".into(), "none".into()]);
        let text = t.render();
        let at: Vec<usize> = text
            .lines()
            .map(|l| l[..l.find("none").or(l.find("LIMIT")).unwrap()].width())
            .collect();
        assert!(at.windows(2).all(|w| w[0] == w[1]), "{text}");
    }

    #[test]
    fn tables_align_under_their_header() {
        let mut t = Table::new(&["UID", "SIZE", "SUBJECT"]);
        t.row(vec!["1".into(), "123456".into(), "hello".into()]);
        t.row(vec!["10".into(), "7".into(), String::new()]);
        assert_eq!(
            t.render(),
            "UID  SIZE    SUBJECT\n1    123456  hello\n10   7\n"
        );
    }

    #[test]
    fn times_and_clips() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(short_date(1_700_000_000), "2023-11-14 22:13 UTC");
        assert_eq!(date_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(date_time(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcdef", 4), "abc…");
    }
}
