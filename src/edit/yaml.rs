//! YAML: a light tree of nodes with byte spans, built from `saphyr-parser` events.
//!
//! saphyr marks count characters, and a quoted scalar's span runs on over trailing blanks and
//! comments and starts at its anchor or tag. So spans are converted to bytes here and tightened
//! to exactly the scalar's own text (quotes included) before any splice sees them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::{EditError, LineIndex, QuoteStyle};

/// How a scalar was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Single,
    Double,
    /// `|` or `>`: never an editable version.
    Block,
}

impl Style {
    /// The quote style to keep on edit; `None` for block scalars.
    pub fn quote(self) -> Option<QuoteStyle> {
        match self {
            Style::Plain => Some(QuoteStyle::Plain),
            Style::Single => Some(QuoteStyle::Single),
            Style::Double => Some(QuoteStyle::Double),
            Style::Block => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Map(Vec<(Node, Node)>),
    Seq(Vec<Node>),
    Scalar {
        value: String,
        style: Style,
        tagged: bool,
    },
    /// `*name`
    Alias(String),
}

/// A node with the byte span of its own text (for scalars: exactly the scalar, quotes included)
/// and the 1-based line and column where that span starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub span: Range<usize>,
    pub line: usize,
    pub column: usize,
}

impl Node {
    /// The value of a mapping's entry by key.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// A sequence's items (empty for other nodes).
    pub fn items(&self) -> &[Node] {
        match &self.kind {
            NodeKind::Seq(items) => items,
            _ => &[],
        }
    }

    /// The text of a scalar node.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Follow a dotted path with indices: `spec.generators[0].list.elements`.
    pub fn path(&self, path: &str) -> Option<&Node> {
        let mut node = self;
        for step in parse_path(path) {
            node = match step {
                Step::Key(k) => node.get(&k)?,
                Step::Index(i) => node.items().get(i)?,
            };
        }
        Some(node)
    }

    /// A short description of the node's type, for messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Map(_) => "a mapping",
            NodeKind::Seq(_) => "a sequence",
            NodeKind::Scalar {
                style: Style::Block,
                ..
            } => "a block scalar",
            NodeKind::Scalar { .. } => "a scalar",
            NodeKind::Alias(_) => "an alias",
        }
    }
}

enum Step {
    Key(String),
    Index(usize),
}

fn parse_path(path: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            steps.push(Step::Key(key.to_string()));
        }
        while let Some(end) = rest.find(']') {
            match rest[1..end].trim().parse() {
                Ok(i) => steps.push(Step::Index(i)),
                Err(_) => steps.push(Step::Key(rest[1..end].to_string())),
            }
            rest = &rest[end + 1..];
        }
    }
    steps
}

/// Converts saphyr's character indices to byte offsets.
struct Offsets {
    /// Byte offset of each character, only built for non-ASCII text.
    table: Option<Vec<usize>>,
    len: usize,
}

impl Offsets {
    fn new(text: &str) -> Self {
        let table = (!text.is_ascii()).then(|| text.char_indices().map(|(b, _)| b).collect());
        Offsets {
            table,
            len: text.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.table {
            None => char_index.min(self.len),
            Some(t) => t.get(char_index).copied().unwrap_or(self.len),
        }
    }
}

enum Frame {
    Map {
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        /// Line of each key seen so far, to refuse duplicates in linear time.
        seen: HashMap<String, usize>,
        start: usize,
    },
    Seq {
        items: Vec<Node>,
        start: usize,
    },
}

struct Builder<'t> {
    file: &'t str,
    text: &'t str,
    lines: LineIndex<'t>,
    offsets: Offsets,
    stack: Vec<Frame>,
    docs: Vec<Node>,
    anchors: HashMap<usize, String>,
}

/// Parse every document of `text` (the contents of `file`) into a tree with byte spans.
pub fn parse(file: &str, text: &str) -> Result<Vec<Node>, EditError> {
    let mut b = Builder {
        file,
        text,
        lines: LineIndex::new(text),
        offsets: Offsets::new(text),
        stack: Vec::new(),
        docs: Vec::new(),
        anchors: HashMap::new(),
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| {
            let at = b.offsets.byte(e.marker().index());
            b.error(at, e.info().to_string())
        })?;
        b.on_event(event, span)?;
    }
    Ok(b.docs)
}

impl<'t> Builder<'t> {
    fn error(&self, at: usize, message: String) -> EditError {
        let (line, column) = self.lines.line_col(at);
        EditError::Parse {
            file: self.file.to_string(),
            line,
            column,
            message,
        }
    }

    fn node(&self, kind: NodeKind, span: Range<usize>) -> Node {
        let (line, column) = self.lines.line_col(span.start);
        Node {
            kind,
            span,
            line,
            column,
        }
    }

    fn on_event(&mut self, event: Event<'_>, span: Span) -> Result<(), EditError> {
        let start = self.offsets.byte(span.start.index());
        let end = self.offsets.byte(span.end.index());
        match event {
            Event::Scalar(value, style, anchor, tag) => {
                let own = self.skip_properties(start, end);
                self.remember_anchor(anchor, start);
                let (style, span) = match style {
                    ScalarStyle::Plain => (Style::Plain, own..self.trim_end(own, end)),
                    ScalarStyle::SingleQuoted => (Style::Single, own..self.quoted_end(own, b'\'')),
                    ScalarStyle::DoubleQuoted => (Style::Double, own..self.quoted_end(own, b'"')),
                    ScalarStyle::Literal | ScalarStyle::Folded => (Style::Block, own..end),
                };
                let value = match value {
                    Cow::Borrowed(s) => s.to_string(),
                    Cow::Owned(s) => s,
                };
                let kind = NodeKind::Scalar {
                    value,
                    style,
                    tagged: tag.is_some(),
                };
                let node = self.node(kind, span);
                self.push(node)
            }
            Event::Alias(id) => {
                let name = self.anchors.get(&id).cloned().unwrap_or_default();
                let node = self.node(NodeKind::Alias(name), start..end);
                self.push(node)
            }
            Event::MappingStart(anchor, _) => {
                self.remember_anchor(anchor, start);
                self.stack.push(Frame::Map {
                    entries: Vec::new(),
                    key: None,
                    seen: HashMap::new(),
                    start,
                });
                Ok(())
            }
            Event::SequenceStart(anchor, _) => {
                self.remember_anchor(anchor, start);
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    start,
                });
                Ok(())
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let node = match self.stack.pop() {
                    Some(Frame::Map { entries, start, .. }) => {
                        self.node(NodeKind::Map(entries), start..end.max(start))
                    }
                    Some(Frame::Seq { items, start }) => {
                        self.node(NodeKind::Seq(items), start..end.max(start))
                    }
                    None => return Err(self.error(start, "unbalanced collection end".into())),
                };
                self.push(node)
            }
            _ => Ok(()),
        }
    }

    fn push(&mut self, node: Node) -> Result<(), EditError> {
        match self.stack.last_mut() {
            None => {
                self.docs.push(node);
                Ok(())
            }
            Some(Frame::Seq { items, .. }) => {
                items.push(node);
                Ok(())
            }
            Some(Frame::Map {
                entries, key, seen, ..
            }) => match key.take() {
                None => {
                    // Repeated `<<` merge keys are common in real files; they are not versions.
                    if let Some(name) = node.as_str().filter(|n| *n != "<<")
                        && let Some(first) = seen.insert(name.to_string(), node.line)
                    {
                        let message = format!("duplicate key `{name}` (first at line {first})");
                        let at = node.span.start;
                        return Err(self.error(at, message));
                    }
                    *key = Some(node);
                    Ok(())
                }
                Some(k) => {
                    entries.push((k, node));
                    Ok(())
                }
            },
        }
    }

    fn remember_anchor(&mut self, id: usize, start: usize) {
        if id == 0 {
            return;
        }
        let bytes = self.text.as_bytes();
        if bytes.get(start) == Some(&b'&') {
            let name_end = (start + 1..bytes.len())
                .find(|&i| bytes[i].is_ascii_whitespace() || b",[]{}".contains(&bytes[i]))
                .unwrap_or(bytes.len());
            self.anchors
                .insert(id, self.text[start + 1..name_end].to_string());
        }
    }

    /// Skip `&anchor` and `!tag` properties (and the blanks after them) at the start of a node.
    fn skip_properties(&self, mut pos: usize, end: usize) -> usize {
        let bytes = self.text.as_bytes();
        while pos < end && (bytes[pos] == b'&' || bytes[pos] == b'!') {
            while pos < end && !bytes[pos].is_ascii_whitespace() {
                pos += 1;
            }
            while pos < end && bytes[pos].is_ascii_whitespace() {
                pos += 1;
            }
        }
        pos
    }

    fn trim_end(&self, start: usize, mut end: usize) -> usize {
        let bytes = self.text.as_bytes();
        while end > start && bytes[end - 1].is_ascii_whitespace() {
            end -= 1;
        }
        end
    }

    /// The end of a quoted scalar starting at `start` (just past its closing quote).
    fn quoted_end(&self, start: usize, quote: u8) -> usize {
        let bytes = self.text.as_bytes();
        let mut i = start + 1;
        while i < bytes.len() {
            let b = bytes[i];
            if quote == b'"' && b == b'\\' {
                i += 2;
                continue;
            }
            if b == quote {
                if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') {
                    i += 2;
                    continue;
                }
                return i + 1;
            }
            i += 1;
        }
        bytes.len()
    }
}

/// Whether `value`, written plain, would read back as something other than this string.
fn plain_is_unsafe(value: &str) -> bool {
    let Some(first) = value.chars().next() else {
        return true;
    };
    if value.trim() != value || value.contains(['\n', '\r', '\t']) {
        return true;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        return true;
    }
    if value.contains(": ") || value.contains(" #") || value.ends_with(':') {
        return true;
    }
    if value.contains([',', '[', ']', '{', '}']) {
        return true;
    }
    if value.chars().any(|c| c.is_control()) {
        return true;
    }
    let lower = value.to_ascii_lowercase();
    let keywords = [
        "~", "null", "true", "false", "yes", "no", "y", "n", "on", "off", ".inf", "-.inf", "+.inf",
        ".nan",
    ];
    if keywords.contains(&lower.as_str()) {
        return true;
    }
    looks_numeric(value)
}

/// Integers (decimal, `0x`, `0o`, `0b`, with `_`), floats (`1.20`, `.5`, `1e3`), sexagesimal `1:20`.
fn looks_numeric(value: &str) -> bool {
    let v = value.strip_prefix(['+', '-']).unwrap_or(value);
    let v = v.replace('_', "");
    if v.is_empty() {
        return false;
    }
    for prefix in ["0x", "0o", "0b"] {
        if let Some(digits) = v.to_ascii_lowercase().strip_prefix(prefix) {
            return !digits.is_empty() && digits.chars().all(|c| c.is_ascii_hexdigit());
        }
    }
    if v.split(':').count() > 1
        && v.split(':')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
    {
        return true;
    }
    v.parse::<f64>().is_ok() && v.chars().all(|c| c.is_ascii_digit() || ".eE+-".contains(c))
}

fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Render `value` as a YAML scalar, keeping `style` unless a plain scalar would change type.
pub fn render_scalar(value: &str, style: QuoteStyle) -> String {
    let needs_escape = value.chars().any(|c| c.is_control());
    match style {
        QuoteStyle::Plain if !plain_is_unsafe(value) => value.to_string(),
        QuoteStyle::Single if !needs_escape => format!("'{}'", value.replace('\'', "''")),
        _ => double_quoted(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar_text<'a>(text: &'a str, node: &Node) -> &'a str {
        &text[node.span.clone()]
    }

    #[test]
    fn spans_are_exact_bytes() {
        let text = "é: &x 'q''s' # c\nb: \"d\\\"q\"  # t\nc: !!str plain value  # x\nd: *x\n";
        let docs = parse("t.yaml", text).expect("parse");
        let root = &docs[0];
        assert_eq!(scalar_text(text, root.get("é").expect("é")), "'q''s'");
        assert_eq!(scalar_text(text, root.get("b").expect("b")), "\"d\\\"q\"");
        assert_eq!(scalar_text(text, root.get("c").expect("c")), "plain value");
        assert_eq!(root.get("d").expect("d").kind, NodeKind::Alias("x".into()));
        assert_eq!(
            (
                root.get("b").expect("b").line,
                root.get("b").expect("b").column
            ),
            (2, 4)
        );
    }

    #[test]
    fn paths_follow_keys_and_indices() {
        let text = "spec:\n  generators:\n  - list:\n      elements:\n      - {appName: a, appRevision: '1'}\n";
        let docs = parse("t.yaml", text).expect("parse");
        let els = docs[0]
            .path("spec.generators[0].list.elements")
            .expect("path");
        assert_eq!(
            els.items()[0].get("appRevision").and_then(Node::as_str),
            Some("1")
        );
    }

    #[test]
    fn duplicate_keys_and_bad_yaml_fail_with_position() {
        let err = parse("d.yaml", "a: 1\nb: 2\na: 3\n").expect_err("dup");
        assert!(
            err.to_string().starts_with("d.yaml:3:1: duplicate key `a`"),
            "{err}"
        );
        let err = parse("b.yaml", "a: [1, 2\nb: 3\n").expect_err("broken");
        assert!(err.to_string().starts_with("b.yaml:"), "{err}");
    }

    #[test]
    fn plain_values_are_quoted_when_they_would_change_type() {
        assert_eq!(render_scalar("1.2.3", QuoteStyle::Plain), "1.2.3");
        assert_eq!(render_scalar("v1.20", QuoteStyle::Plain), "v1.20");
        assert_eq!(
            render_scalar("sha-0123abcd", QuoteStyle::Plain),
            "sha-0123abcd"
        );
        for v in [
            "4.15", "1.20", "10", "true", "null", "0x1", "yes", "1:20", "", "-1", "1e3",
        ] {
            assert_eq!(
                render_scalar(v, QuoteStyle::Plain),
                format!("\"{v}\""),
                "{v}"
            );
        }
        assert_eq!(render_scalar("it's", QuoteStyle::Single), "'it''s'");
        assert_eq!(render_scalar("a\"b", QuoteStyle::Double), "\"a\\\"b\"");
    }
}
