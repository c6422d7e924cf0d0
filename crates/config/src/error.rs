//! [`ConfigError`] and the work of turning the `toml` crate's errors (a byte span
//! and a message) into `file: dotted.key: what is wrong (line L, column C)`.
//!
//! The key is found by walking the spanned document tree (`toml::de::DeTable`) to
//! the deepest key or value whose span holds the error's span. For malformed TOML,
//! where there may be no tree around the error, it is guessed from the text: the
//! last `[table]` header above the error and the `key =` on the error's line.

use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::Config;

/// The `origin` of errors from [`Config::validate`] called on its own: a [`Config`]
/// does not remember which file it came from. [`crate::load`] and [`crate::parse`]
/// put the real file name in.
const UNKNOWN_ORIGIN: &str = "configuration";

/// Why the configuration could not be loaded. Its `Display` always starts with the
/// file name, then (except for [`ConfigError::Read`]) the dotted key and what is
/// wrong with it:
///
/// ```text
/// postie.toml: cannot read: No such file or directory
/// postie.toml: smtp.max_recipients: must be at least 1 (line 12, column 18)
/// postie.toml: smtp.max_recipent: unknown key; expected one of `max_message_size`, … (line 12, column 1)
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("{origin}: cannot read: {reason}")]
    Read {
        /// The file name, as given.
        origin: String,
        /// The operating system's reason, such as `No such file or directory`.
        reason: String,
    },
    /// The file is not valid TOML, has an unknown key, or a value that is wrong.
    #[error("{origin}: {key}: {message}{}", at(position))]
    Invalid {
        /// The file name, as given (`defaults` for the built-in configuration).
        origin: String,
        /// The dotted path of the key, such as `smtp.max_recipients` or `listen.smtp`.
        key: String,
        /// What is wrong, such as `must be at least 1`.
        message: String,
        /// Where in the file, when the key is in the file.
        position: Option<Position>,
    },
}

/// A place in the config file, both counted from 1. The column counts characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Line number, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

fn at(position: &Option<Position>) -> String {
    position.map(|p| format!(" ({p})")).unwrap_or_default()
}

impl ConfigError {
    /// The file the error is about.
    pub fn origin(&self) -> &str {
        match self {
            Self::Read { origin, .. } | Self::Invalid { origin, .. } => origin,
        }
    }

    /// The dotted key the error is about, if it is about a key.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Read { .. } => None,
            Self::Invalid { key, .. } => Some(key),
        }
    }

    /// An error about `key`, from [`Config::validate`]; the file is filled in later.
    pub(crate) fn invalid(key: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            origin: UNKNOWN_ORIGIN.to_owned(),
            key: key.to_owned(),
            message: message.into(),
            position: None,
        }
    }

    /// A read error, without the `(os error N)` tail of `io::Error`'s `Display`.
    pub(crate) fn read(origin: &str, e: &std::io::Error) -> Self {
        Self::Read {
            origin: origin.to_owned(),
            reason: os_reason(e),
        }
    }

    /// Puts the file name in, and the key's position when `doc` (the text and its
    /// tree) holds the key.
    pub(crate) fn in_file(self, file: &str, doc: Option<(&str, &DeTable<'_>)>) -> Self {
        match self {
            Self::Read { reason, .. } => Self::Read {
                origin: file.to_owned(),
                reason,
            },
            Self::Invalid {
                key,
                message,
                position,
                ..
            } => {
                let position = position.or_else(|| {
                    let (text, tree) = doc?;
                    let path: Vec<&str> = key.split('.').collect();
                    Some(Position::at(text, span_of(tree, &path)?.start))
                });
                Self::Invalid {
                    origin: file.to_owned(),
                    key,
                    message,
                    position,
                }
            }
        }
    }
}

/// `io::Error`'s `Display` without its `(os error N)` tail.
pub(crate) fn os_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => text[..i].to_owned(),
        _ => text,
    }
}

impl Position {
    /// The position of byte `offset` in `text`.
    fn at(text: &str, offset: usize) -> Self {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Self {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

/// Parses `text` into a spanned tree, or says where the TOML is malformed.
pub(crate) fn parse_tree<'i>(
    text: &'i str,
    origin: &str,
) -> Result<Spanned<DeTable<'i>>, ConfigError> {
    DeTable::parse(text).map_err(|e| {
        let (partial, _) = DeTable::parse_recoverable(text);
        let span = e.span();
        let key = span
            .as_ref()
            .and_then(|s| key_at(partial.get_ref(), s))
            .or_else(|| span.as_ref().and_then(|s| guess_key(text, s.start)))
            .unwrap_or_else(|| "(top level)".to_owned());
        ConfigError::Invalid {
            origin: origin.to_owned(),
            key,
            message: format!("invalid TOML: {}", e.message().trim()),
            position: span.map(|s| Position::at(text, s.start)),
        }
    })
}

/// Deserializes the tree into a [`Config`] (without validating it).
pub(crate) fn deserialize(
    tree: &Spanned<DeTable<'_>>,
    text: &str,
    origin: &str,
) -> Result<Config, ConfigError> {
    Config::deserialize(toml::de::Deserializer::from(tree.clone())).map_err(|e| {
        let span = e.span();
        let key = span
            .as_ref()
            .and_then(|s| key_at(tree.get_ref(), s))
            .unwrap_or_else(|| "(top level)".to_owned());
        ConfigError::Invalid {
            origin: origin.to_owned(),
            key,
            message: tidy(e.message()),
            position: span.map(|s| Position::at(text, s.start)),
        }
    })
}

/// Rewords serde's messages into the file's terms: keys, tables, integers.
fn tidy(message: &str) -> String {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        // "unknown field `x`, expected one of `a`, `b`" or "…, there are no fields"
        return match rest.split_once("`, expected ") {
            Some((_, expected)) => format!("unknown key; expected {expected}"),
            None => "unknown key".to_owned(),
        };
    }
    let mut out = message.to_owned();
    for int in ["u64", "usize", "u32"] {
        if let Some(head) = out.strip_suffix(&format!("expected {int}")) {
            out = format!("{head}expected a non-negative integer");
        }
    }
    if let Some(i) = out.find("expected struct ") {
        out.truncate(i);
        out.push_str("expected a table");
    }
    out
}

/// The dotted path of the key whose key or value span holds `span`, the deepest one.
fn key_at(table: &DeTable<'_>, span: &Range<usize>) -> Option<String> {
    path_at(table, span).map(|path| {
        path.iter()
            .map(|k| display_key(k))
            .collect::<Vec<_>>()
            .join(".")
    })
}

fn path_at(table: &DeTable<'_>, span: &Range<usize>) -> Option<Vec<String>> {
    let holds = |outer: Range<usize>| {
        outer.start <= span.start && span.end <= outer.end && (outer.start < outer.end)
    };
    let with = |key: &str, mut rest: Vec<String>| {
        rest.insert(0, key.to_owned());
        rest
    };
    // First the precise matches: a key, a plain value, or something inside a table.
    for (k, v) in table.iter() {
        let name: &str = k.get_ref();
        if holds(k.span()) {
            return Some(vec![name.to_owned()]);
        }
        match v.get_ref() {
            DeValue::Table(inner) => {
                if let Some(rest) = path_at(inner, span) {
                    return Some(with(name, rest));
                }
            }
            DeValue::Array(items) => {
                for item in items.iter() {
                    if let DeValue::Table(inner) = item.get_ref() {
                        if let Some(rest) = path_at(inner, span) {
                            return Some(with(name, rest));
                        }
                    } else if holds(item.span()) {
                        return Some(vec![name.to_owned()]);
                    }
                }
            }
            _ => {
                if holds(v.span()) {
                    return Some(vec![name.to_owned()]);
                }
            }
        }
    }
    // Then a table or array as a whole (its span may be loose, so it comes last).
    for (k, v) in table.iter() {
        if matches!(v.get_ref(), DeValue::Table(_) | DeValue::Array(_)) && holds(v.span()) {
            return Some(vec![k.get_ref().to_string()]);
        }
    }
    None
}

/// The span of the value at `path`, if the file has that key.
fn span_of(table: &DeTable<'_>, path: &[&str]) -> Option<Range<usize>> {
    let (first, rest) = path.split_first()?;
    let (key, value) = table.iter().find(|(k, _)| k.get_ref() == first)?;
    if rest.is_empty() {
        return Some(value.span());
    }
    match value.get_ref() {
        DeValue::Table(inner) => span_of(inner, rest),
        _ => Some(key.span()),
    }
}

/// A key as it would be written in TOML: bare when it can be, quoted otherwise.
fn display_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

/// For malformed TOML: the last `[header]` at or above `offset`'s line, joined with
/// the `key =` on that line.
fn guess_key(text: &str, offset: usize) -> Option<String> {
    let line_index = Position::at(text, offset).line - 1;
    let lines: Vec<&str> = text.lines().collect();
    let header = lines
        .iter()
        .take(line_index + 1)
        .rev()
        .map(|l| l.trim())
        .find(|l| l.starts_with('['))
        .map(|l| {
            l.trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
                .to_owned()
        })
        .filter(|h| !h.is_empty());
    let key = lines
        .get(line_index)
        .map(|l| l.trim())
        .filter(|l| !l.starts_with('[') && !l.starts_with('#'))
        .and_then(|l| l.split_once('='))
        .map(|(k, _)| k.trim().to_owned())
        .filter(|k| !k.is_empty());
    match (header, key) {
        (Some(h), Some(k)) => Some(format!("{h}.{k}")),
        (h, k) => h.or(k),
    }
}
