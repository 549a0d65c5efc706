//! TOML: locate values with the read-only `toml_edit::Document` spans, then splice.
//!
//! `DocumentMut` is never used for output: it turns CRLF into LF, adds a final newline, and
//! assigning a value drops its trailing comment and changes `'literal'` quotes to `"basic"`.

use toml_edit::{Document, Item, TableLike};

use super::{EditError, LineIndex, QuoteStyle};

/// Parse `text` keeping spans, mapping a syntax error to its line and column.
pub fn parse<'t>(file: &str, text: &'t str) -> Result<Document<&'t str>, EditError> {
    Document::parse(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        let (line, column) = LineIndex::new(text).line_col(offset);
        EditError::Parse {
            file: file.to_string(),
            line,
            column,
            message: format!("invalid TOML: {}", e.message().trim()),
        }
    })
}

/// The table (standard, inline or implicit through dotted keys) at the dotted `path`.
pub fn find_table<'d>(
    file: &str,
    doc: &'d Document<&str>,
    path: &str,
) -> Result<&'d dyn TableLike, EditError> {
    let not_found = || EditError::PathNotFound {
        file: file.to_string(),
        path: path.to_string(),
    };
    let mut table: &dyn TableLike = doc.as_table();
    for segment in super::split_path(path) {
        table = table
            .get(&segment)
            .and_then(Item::as_table_like)
            .ok_or_else(not_found)?;
    }
    Ok(table)
}

/// How a TOML string at `raw` (its source text, quotes included) is quoted.
pub fn quote_style(raw: &str) -> QuoteStyle {
    if raw.starts_with('\'') {
        QuoteStyle::Single
    } else {
        QuoteStyle::Double
    }
}

/// Render `value` as a TOML string, keeping literal (`'`) or basic (`"`) quotes.
///
/// A literal string cannot hold `'` or control characters; such values fall back to basic quotes.
pub fn render_string(value: &str, style: QuoteStyle) -> String {
    let literal_ok = !value.contains('\'') && !value.chars().any(char::is_control);
    if style == QuoteStyle::Single && literal_ok {
        return format!("'{value}'");
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_the_quoted_value() {
        let text = "[tool.versions]\r\na = 'x' # c\r\nb = { c = \"y\" }\r\n";
        let doc = parse("f", text).unwrap();
        let table = find_table("f", &doc, "tool.versions").unwrap();
        let a = table.get("a").unwrap().as_value().unwrap();
        assert_eq!(&text[a.span().unwrap()], "'x'");
        let inline = find_table("f", &doc, "tool.versions.b").unwrap();
        let c = inline.get("c").unwrap().as_value().unwrap();
        assert_eq!(&text[c.span().unwrap()], "\"y\"");
    }

    #[test]
    fn renders_both_quote_styles() {
        assert_eq!(render_string("1.2", QuoteStyle::Single), "'1.2'");
        assert_eq!(render_string("it's", QuoteStyle::Single), "\"it's\"");
        assert_eq!(render_string("a\"b", QuoteStyle::Double), "\"a\\\"b\"");
    }

    #[test]
    fn parse_error_has_location() {
        let err = parse("f", "[a]\nb = \"x\nc = 1\n").unwrap_err();
        assert!(matches!(err, EditError::Parse { line: 2, .. }), "{err:?}");
    }
}
