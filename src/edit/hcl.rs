//! HCL: locate values with `hcl-edit` spans, never re-serialize.
//!
//! `hcl-edit` keeps the byte span of every expression it parses. We navigate its tree by a dotted
//! path (`locals.versions`, `inputs.versions.helm`) and classify each value as a literal string, an
//! indirect reference (`local.x`, `"${local.x}"`) or something that is not a version at all.

use std::ops::Range;

use hcl_edit::Span;
use hcl_edit::expr::{Expression, Object, ObjectKey};
use hcl_edit::structure::Body;
use hcl_edit::template::Element;

use super::{EditError, LineIndex};

/// Parse `text` as an HCL body, mapping a syntax error to its line and column.
pub fn parse(file: &str, text: &str) -> Result<Body, EditError> {
    hcl_edit::parser::parse_body(text).map_err(|e| {
        let unclosed = unclosed_string(text).filter(|&at| at >= e.location().offset());
        let ((line, column), message) = match unclosed {
            Some(at) => (
                LineIndex::new(text).line_col(at),
                "invalid HCL: this string is not closed on its line".to_string(),
            ),
            None => (
                error_line_col(text, e.location()),
                format!("invalid HCL: {}", e.message()),
            ),
        };
        EditError::Parse {
            file: file.to_string(),
            line,
            column,
            message,
        }
    })
}

/// The offset of the first quoted string that does not close on its line, if any.
///
/// hcl-edit backtracks out of such a string and blames the enclosing block; a quoted HCL string
/// cannot hold a newline outside `${...}`, so this names the real culprit. Comments and heredocs
/// are skipped; an interpolation running past its line stops the scan (no guess).
fn unclosed_string(text: &str) -> Option<usize> {
    let mut heredoc: Option<String> = None;
    let mut in_comment = false;
    let mut line_start = 0;
    for raw in text.split_inclusive('\n') {
        let offset = line_start;
        line_start += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        if let Some(marker) = &heredoc {
            if line.trim() == marker {
                heredoc = None;
            }
            continue;
        }
        let mut chars = line.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let next = chars.peek().map(|&(_, n)| n);
            if in_comment {
                if c == '*' && next == Some('/') {
                    chars.next();
                    in_comment = false;
                }
                continue;
            }
            match (c, next) {
                ('#', _) | ('/', Some('/')) => break,
                ('/', Some('*')) => {
                    chars.next();
                    in_comment = true;
                }
                ('<', Some('<')) => {
                    let rest = line[i + 2..].trim_start_matches('-');
                    let marker: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !marker.is_empty() {
                        heredoc = Some(marker);
                        break;
                    }
                }
                ('"', _) => match string_end(&mut chars) {
                    Some(true) => {}
                    Some(false) => return Some(offset + i),
                    None => return None,
                },
                _ => {}
            }
        }
    }
    None
}

/// Consume a quoted string after its opening quote: `Some(true)` closed, `Some(false)` the line
/// ended, `None` an interpolation is still open at the end of the line.
fn string_end(chars: &mut std::iter::Peekable<std::str::CharIndices>) -> Option<bool> {
    let mut depth = 0usize;
    while let Some((_, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        match (c, next) {
            ('\\', _) if depth == 0 => {
                chars.next();
            }
            ('"', _) if depth == 0 => return Some(true),
            ('$', Some('$')) | ('%', Some('%')) if depth == 0 => {
                chars.next();
            }
            ('$' | '%', Some('{')) if depth == 0 => {
                chars.next();
                depth = 1;
            }
            ('{', _) if depth > 0 => depth += 1,
            ('}', _) if depth > 0 => depth -= 1,
            _ => {}
        }
    }
    (depth == 0).then_some(false)
}

/// hcl-edit clamps an error's offset to the last byte and adds the rest to its column, so an error
/// at the end of the file would point past the end of the last line; recompute from the offset.
fn error_line_col(text: &str, loc: &hcl_edit::parser::Location) -> (usize, usize) {
    let index = LineIndex::new(text);
    let (_, clamped_column) = index.line_col(loc.offset());
    let past = loc.column().saturating_sub(clamped_column);
    index.line_col((loc.offset() + past).min(text.len()))
}

/// What an HCL value expression means for a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HclValue {
    /// A quoted string without interpolation: the decoded value.
    Literal(String),
    /// A reference (`local.x`) or a template interpolating one (`"${local.x}"`): the raw text and
    /// the variable it names.
    Indirect { raw: String, variable: String },
    /// Anything else, described for messages (`number`, `function call`, ...).
    Other(&'static str),
}

/// Classify `expr`, whose source is `text`.
pub fn classify(text: &str, expr: &Expression) -> HclValue {
    let raw = || span_text(text, expr).to_string();
    match expr {
        Expression::String(s) => HclValue::Literal(s.value().clone()),
        Expression::StringTemplate(t) => {
            let mut literal = String::new();
            for element in t.iter() {
                match element {
                    Element::Literal(s) => literal.push_str(s.value()),
                    Element::Interpolation(i) => {
                        return HclValue::Indirect {
                            raw: raw(),
                            variable: span_text(text, &i.expr).trim().to_string(),
                        };
                    }
                    Element::Directive(_) => return HclValue::Other("template directive"),
                }
            }
            HclValue::Literal(literal)
        }
        Expression::Variable(_) | Expression::Traversal(_) => {
            let raw = raw();
            HclValue::Indirect {
                variable: raw.trim().to_string(),
                raw,
            }
        }
        Expression::Null(_) => HclValue::Other("null"),
        Expression::Bool(_) => HclValue::Other("bool"),
        Expression::Number(_) => HclValue::Other("number"),
        Expression::Array(_) => HclValue::Other("list"),
        Expression::Object(_) => HclValue::Other("object"),
        Expression::HeredocTemplate(_) => HclValue::Other("heredoc"),
        Expression::FuncCall(_) => HclValue::Other("function call"),
        Expression::Parenthesis(_)
        | Expression::Conditional(_)
        | Expression::UnaryOp(_)
        | Expression::BinaryOp(_)
        | Expression::ForExpr(_) => HclValue::Other("expression"),
    }
}

/// The byte span of `node` in its source (empty when the parser did not record one).
pub fn span_of(node: &impl Span) -> Range<usize> {
    node.span().unwrap_or(0..0)
}

fn span_text<'t>(text: &'t str, node: &impl Span) -> &'t str {
    text.get(span_of(node)).unwrap_or_default()
}

/// The name an object key stands for: an identifier or a quoted string.
pub fn key_name(key: &ObjectKey) -> Option<String> {
    match key {
        ObjectKey::Ident(ident) => Some(ident.as_str().to_string()),
        ObjectKey::Expression(Expression::String(s)) => Some(s.value().clone()),
        ObjectKey::Expression(Expression::Variable(v)) => Some(v.as_str().to_string()),
        ObjectKey::Expression(_) => None,
    }
}

/// Find the object expression at the dotted `path`.
///
/// At body level a segment names an attribute or blocks with that identifier (whose labels, if any,
/// must match the following segments); inside an expression it names an object key. Several
/// `locals` blocks are searched together; a path found twice is an error.
pub fn find_object<'b>(
    file: &str,
    text: &str,
    body: &'b Body,
    path: &str,
) -> Result<&'b Object, EditError> {
    let owned = super::split_path(path);
    let segments: Vec<&str> = owned.iter().map(String::as_str).collect();
    let mut found = Vec::new();
    in_body(body, &segments, &mut found);
    let not_found = || EditError::PathNotFound {
        file: file.to_string(),
        path: path.to_string(),
    };
    let (first, rest) = found.split_first().ok_or_else(not_found)?;
    let index = LineIndex::new(text);
    if let Some(again) = rest.first() {
        let (line, column) = index.line_col(span_of(*again).start);
        let (first_line, _) = index.line_col(span_of(*first).start);
        return Err(EditError::Parse {
            file: file.to_string(),
            line,
            column,
            message: format!("`{path}` is defined twice (first at line {first_line})"),
        });
    }
    match first {
        Expression::Object(object) => Ok(object),
        other => {
            let (line, column) = index.line_col(span_of(*other).start);
            Err(EditError::Parse {
                file: file.to_string(),
                line,
                column,
                message: format!("`{path}` is not an object"),
            })
        }
    }
}

fn in_body<'b>(body: &'b Body, segments: &[&str], found: &mut Vec<&'b Expression>) {
    let Some((head, rest)) = segments.split_first() else {
        return;
    };
    for attr in body.attributes() {
        if attr.key.as_str() == *head {
            in_expr(&attr.value, rest, found);
        }
    }
    for block in body.blocks().filter(|b| b.ident.as_str() == *head) {
        let labels = block.labels.len();
        let matches = rest.len() > labels
            && block
                .labels
                .iter()
                .zip(rest.iter())
                .all(|(label, seg)| label.as_str() == *seg);
        if matches {
            in_body(&block.body, &rest[labels..], found);
        }
    }
}

fn in_expr<'b>(expr: &'b Expression, segments: &[&str], found: &mut Vec<&'b Expression>) {
    let Some((head, rest)) = segments.split_first() else {
        found.push(expr);
        return;
    };
    if let Expression::Object(object) = expr {
        for (key, value) in object.iter() {
            if key_name(key).as_deref() == Some(*head) {
                in_expr(value.expr(), rest, found);
            }
        }
    }
}

/// Render `value` as an HCL string literal, escaping what HCL would otherwise interpret.
pub fn render_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
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

    const STACK: &str = "locals {\n  versions = {\n    talos = \"v1.12.1\" # pin\n    \"cert-manager\" = \"1.2\"\n    cilium = local.cilium\n    flux = \"${local.flux}\"\n  }\n}\n";

    #[test]
    fn finds_values_with_exact_spans() {
        let body = parse("f", STACK).unwrap();
        let object = find_object("f", STACK, &body, "locals.versions").unwrap();
        let items: Vec<_> = object
            .iter()
            .map(|(k, v)| {
                (
                    key_name(k).unwrap(),
                    &STACK[span_of(v.expr())],
                    classify(STACK, v.expr()),
                )
            })
            .collect();
        assert_eq!(items[0].0, "talos");
        assert_eq!(items[0].1, "\"v1.12.1\"");
        assert_eq!(items[0].2, HclValue::Literal("v1.12.1".into()));
        assert_eq!(items[1].0, "cert-manager");
        assert_eq!(items[2].1, "local.cilium");
        assert_eq!(
            items[2].2,
            HclValue::Indirect {
                raw: "local.cilium".into(),
                variable: "local.cilium".into()
            }
        );
        assert_eq!(items[3].1, "\"${local.flux}\"");
        assert!(
            matches!(&items[3].2, HclValue::Indirect { variable, .. } if variable == "local.flux")
        );
    }

    #[test]
    fn renders_escapes() {
        assert_eq!(render_string("v1.2.3"), "\"v1.2.3\"");
        assert_eq!(render_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(render_string("${x}%{y}$z"), "\"$${x}%%{y}$z\"");
    }

    #[test]
    fn rendered_strings_read_back() {
        for value in ["v1", "${x}", "%{if}", "a\"b", "back\\slash", "é"] {
            let text = format!("a = {}\n", render_string(value));
            let body = parse("f", &text).unwrap();
            let attr = body.get_attribute("a").unwrap();
            assert_eq!(
                classify(&text, &attr.value),
                HclValue::Literal(value.into())
            );
        }
    }

    #[test]
    fn parse_error_has_location() {
        let err = parse("f", "locals {\n  a = = \"x\"\n}\n").unwrap_err();
        assert!(
            matches!(
                err,
                EditError::Parse {
                    line: 2,
                    column: 7,
                    ..
                }
            ),
            "{err:?}"
        );
        // An error at the end of the file points after the last line, not past its end.
        let err = parse("f", "locals {\n  a = \"x\"\n").unwrap_err();
        assert!(
            matches!(
                err,
                EditError::Parse {
                    line: 3,
                    column: 1,
                    ..
                }
            ),
            "{err:?}"
        );
        // An unclosed string is blamed, not the block hcl-edit backtracks to.
        for (text, line, column) in [
            ("locals {\n  versions = {\n    a = \"ü\n  }\n}\n", 3, 9),
            ("locals {\n  x = \"${a}\" # \"\n  y = \"$${x\n}\n", 3, 7),
            (
                "locals {\n  h = <<EOT\n\"\nEOT\n  /* \" */ z = \"a\\\"\n}\n",
                5,
                15,
            ),
        ] {
            let err = parse("f", text).unwrap_err();
            assert!(
                matches!(&err, EditError::Parse { line: l, column: c, message, .. }
                    if (*l, *c) == (line, column) && message.contains("not closed")),
                "{text:?}: {err:?}"
            );
        }
        let err = parse("f", "locals {\r\n  a = \"x\"").unwrap_err();
        assert!(
            matches!(
                err,
                EditError::Parse {
                    line: 2,
                    column: 10,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
