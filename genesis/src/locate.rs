//! Turns the TOML reader's byte spans into what a person needs: a line and column
//! for syntax errors, and a field path (`members[1].keys[0]`) for structural ones.
//!
//! The toml crate reports a structural error (unknown field, wrong type, missing
//! field) with the byte span of the key or value at fault. We find that span in the
//! spanned tree of the document ([`toml::de::DeTable`]) and write down the keys
//! and array indices on the way to it.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

use crate::error::{GenesisError, Problem};

/// A [`GenesisError::Syntax`] from a TOML parse error.
pub(crate) fn syntax_error(text: &str, error: &toml::de::Error) -> GenesisError {
    let (line, column) = match error.span() {
        Some(span) => line_and_column(text, span.start),
        None => (1, 1),
    };
    GenesisError::Syntax {
        line,
        column,
        message: error.message().to_owned(),
    }
}

/// 1-based line and character column of byte `offset` in `text`.
fn line_and_column(text: &str, offset: usize) -> (u32, u32) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let column = before[line_start..].chars().count() + 1;
    (saturate(line), saturate(column))
}

fn saturate(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// A [`GenesisError::Invalid`] from a structural error of the TOML reader,
/// against the field found at the error's span.
pub(crate) fn structure_error(root: &DeTable<'_>, error: &toml::de::Error) -> GenesisError {
    let mut field = error
        .span()
        .and_then(|span| path_in_table(root, &span))
        .unwrap_or_default();
    let message = error.message();
    // serde words these two errors the same way for every format; recognising them
    // lets us name the missing field itself rather than the table that lacks it.
    let problem = if let Some(name) = quoted_after(message, "missing field `") {
        push_key(&mut field, name);
        Problem::Missing
    } else if let Some(rest) = message.strip_prefix("unknown field `") {
        let expected = rest.split_once(", expected ").map_or("", |(_, list)| list);
        Problem::UnknownField {
            expected: expected.to_owned(),
        }
    } else {
        Problem::Schema {
            message: message.to_owned(),
        }
    };
    if field.is_empty() {
        field.push_str("(document)");
    }
    GenesisError::invalid(field, problem)
}

/// The text between `prefix` and the next backquote, when `message` starts with `prefix`.
fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?;
    rest.split_once('`').map(|(name, _)| name)
}

fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
}

/// The path of the key or value whose span is `span`, searching the whole tree:
/// a table header's span does not cover the table's contents, so the search
/// cannot be narrowed by containment. Deeper matches win, because an array of
/// tables shares its span with its first table.
fn path_in_table(table: &DeTable<'_>, span: &Range<usize>) -> Option<String> {
    table.iter().find_map(|(key, value)| {
        let key_text = key.get_ref().to_string();
        if let Some(inner) = path_in_value(value.get_ref(), span) {
            return Some(join(key_text, &inner));
        }
        (key.span() == *span || value.span() == *span).then_some(key_text)
    })
}

fn path_in_value(value: &DeValue<'_>, span: &Range<usize>) -> Option<String> {
    match value {
        DeValue::Table(table) => path_in_table(table, span),
        DeValue::Array(items) => items.iter().enumerate().find_map(|(index, item)| {
            let here = format!("[{index}]");
            if let Some(inner) = path_in_value(item.get_ref(), span) {
                return Some(join(here, &inner));
            }
            (item.span() == *span).then_some(here)
        }),
        _ => None,
    }
}

/// `outer` followed by the relative path `inner` (`.key` or `[index]`).
fn join(mut outer: String, inner: &str) -> String {
    if !inner.starts_with('[') {
        outer.push('.');
    }
    outer.push_str(inner);
    outer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_not_bytes() {
        assert_eq!(line_and_column("a = 1\nb = \"é\" x", 15), (2, 9));
        assert_eq!(line_and_column("abc", 0), (1, 1));
    }
}
