//! Rendering a new version as a YAML scalar that reads back as the same string.

use crate::edit::QuoteStyle;

/// Render `value` as a YAML scalar, keeping `style` unless a plain scalar would change type.
pub fn render_scalar(value: &str, style: QuoteStyle) -> String {
    match style {
        QuoteStyle::Plain if plain_is_safe(value) => value.to_string(),
        QuoteStyle::Single if single_is_safe(value) => format!("'{}'", value.replace('\'', "''")),
        _ => double_quoted(value),
    }
}

/// Render `value` to replace the plain or quoted scalar written as `old` (its raw text).
///
/// Like [`render_scalar`], except that a plain number stays plain when the new value is a number
/// of the same type that reads back as written (`5.27` -> `5.28`, not `1.19` -> `1.20`): charts
/// write `version: 5.27`, and quoting it would change their style for nothing.
pub fn render_replacing(old: &str, value: &str, style: QuoteStyle) -> String {
    let same_type = number(old).is_some_and(|t| canonical_number(value) == Some(t));
    if style == QuoteStyle::Plain && same_type {
        return value.to_string();
    }
    render_scalar(value, style)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Number {
    Int,
    Float,
}

/// `12` is an integer, `1.20` a float; anything else (`1.2.3`, `0x1`, `1e3`) is neither here.
fn number(text: &str) -> Option<Number> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match text.split_once('.') {
        None if digits(text) => Some(Number::Int),
        Some((int, frac)) if digits(int) && digits(frac) => Some(Number::Float),
        _ => None,
    }
}

/// A number written the way a YAML reader writes it back: no leading zero, no trailing zero.
fn canonical_number(text: &str) -> Option<Number> {
    let kind = number(text)?;
    let canonical = match kind {
        Number::Int => text.parse::<u64>().map(|n| n.to_string()).ok(),
        Number::Float => text.parse::<f64>().map(|f| f.to_string()).ok(),
    };
    (canonical.as_deref() == Some(text)).then_some(kind)
}

fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Single quotes cannot escape line breaks or control characters.
fn single_is_safe(value: &str) -> bool {
    !value.chars().any(char::is_control)
}

/// Whether `value` written plain reads back as the same string.
fn plain_is_safe(value: &str) -> bool {
    let Some(first) = value.chars().next() else {
        return false;
    };
    if value.trim() != value || value.chars().any(char::is_control) {
        return false;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        // `-1.2` and `-x` start with an indicator; only `-` followed by a safe char is plain.
        let dash_ok = first == '-' && value.len() > 1 && !value[1..].starts_with(' ');
        if !dash_ok {
            return false;
        }
    }
    if value.contains(": ") || value.contains(" #") || value.ends_with(':') {
        return false;
    }
    if value.contains(['[', ']', '{', '}', ',']) {
        // Safe in block context, but a flow mapping (`{newTag: x}`) would split on them.
        return false;
    }
    !is_non_string(value)
}

/// Whether a plain scalar would resolve to something other than a string (YAML 1.1 or 1.2).
fn is_non_string(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    let words = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", ".nan", ".inf", "-.inf",
        "+.inf",
    ];
    if words.contains(&lower.as_str()) {
        return true;
    }
    let body = lower.trim_start_matches(['-', '+']);
    if let Some(hex) = body.strip_prefix("0x") {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit() || c == '_');
    }
    if let Some(oct) = body.strip_prefix("0o") {
        return !oct.is_empty() && oct.chars().all(|c| c.is_ascii_digit());
    }
    if let Some(bin) = body.strip_prefix("0b") {
        return !bin.is_empty() && bin.chars().all(|c| c == '0' || c == '1' || c == '_');
    }
    // Integers and floats (`4.15`, `1.20`, `1e3`, `.5`, `1_000`); YAML 1.1 sexagesimals (`1:20`).
    let digits = body.replace('_', "");
    let float = digits.chars().any(|c| c.is_ascii_digit()) && digits.parse::<f64>().is_ok();
    let sexagesimal = body.contains(':')
        && body
            .split(':')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit() || c == '.'));
    // YAML 1.1 timestamps (`2024-01-31`, `2024-1-5T10:00:00Z`).
    let date: Vec<&str> = body.splitn(3, '-').collect();
    let timestamp = date.len() == 3
        && date[0].len() == 4
        && date[..2]
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_digit()))
        && date[2].chars().take_while(char::is_ascii_digit).count() >= 1
        && date[1].len() <= 2
        && !date[1].is_empty();
    float || sexagesimal || timestamp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_keep_style_and_quote_type_changes() {
        assert_eq!(render_scalar("1.2.3", QuoteStyle::Plain), "1.2.3");
        assert_eq!(render_scalar("v1.2", QuoteStyle::Plain), "v1.2");
        for v in [
            "4.15",
            "1.20",
            "12",
            "0x1",
            "0o7",
            "true",
            "No",
            "on",
            "null",
            "~",
            "",
            " a",
            "a: b",
            "a #b",
            "*x",
            "&x",
            "!x",
            "-",
            "1e3",
            "1:20",
            "@x",
            "%x",
            "`x",
            "2024-01-31",
        ] {
            assert!(render_scalar(v, QuoteStyle::Plain).starts_with('"'), "{v}");
        }
        assert_eq!(render_scalar("it's", QuoteStyle::Single), "'it''s'");
        assert_eq!(render_scalar("a\"b\\c", QuoteStyle::Double), r#""a\"b\\c""#);
        assert_eq!(render_scalar("-rc1", QuoteStyle::Plain), "-rc1");
        assert_eq!(
            render_scalar("2024.01.31-1", QuoteStyle::Plain),
            "2024.01.31-1"
        );
        assert_eq!(render_scalar("~1.2", QuoteStyle::Plain), "~1.2");
    }

    #[test]
    fn plain_numbers_stay_plain_only_for_the_same_type() {
        let plain = |old, new| render_replacing(old, new, QuoteStyle::Plain);
        assert_eq!(plain("5.27", "5.28"), "5.28");
        assert_eq!(plain("2024.10", "2024.11"), "2024.11");
        assert_eq!(plain("12", "13"), "13");
        assert_eq!(plain("1.19", "1.20"), "\"1.20\"");
        assert_eq!(plain("12", "012"), "\"012\"");
        assert_eq!(plain("12", "12.5"), "\"12.5\"");
        assert_eq!(plain("1.2", "2"), "\"2\"");
        assert_eq!(plain("1.2.3", "4.15"), "\"4.15\"");
        assert_eq!(plain("1.2", "1.3.0"), "1.3.0");
        assert_eq!(
            render_replacing("'1.2'", "1.3", QuoteStyle::Single),
            "'1.3'"
        );
    }
}
