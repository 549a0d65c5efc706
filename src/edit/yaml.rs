//! YAML: a small tree of nodes with byte spans, built from `saphyr-parser` events.
//!
//! saphyr marks count characters, so every mark goes through a char -> byte table. A scalar's
//! span is re-derived from the text: anchors and tags before it are skipped, and a quoted
//! scalar ends at its closing quote (never at a comment after it). Nothing here re-serializes.

use std::collections::HashMap;
use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span};

use super::{EditError, LineIndex, QuoteStyle};

mod render;
pub use render::{render_replacing, render_scalar};

/// How a scalar was written. Block scalars are not editable as versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Single,
    Double,
    /// `|` or `>`.
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

/// What a node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Ordered key/value pairs.
    Mapping(Vec<(Node, Node)>),
    Sequence(Vec<Node>),
    /// `value` is decoded (quotes and escapes removed).
    Scalar {
        value: String,
        style: Style,
    },
    /// `*name`: the anchor name without the `*`.
    Alias(String),
}

/// One node, with the byte span of its own text (anchors and tags excluded for scalars).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub value: Value,
    pub span: Range<usize>,
    /// 1-based line and column (in characters) of `span.start`.
    pub line: usize,
    pub column: usize,
}

/// One step of a path: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// Parse a dotted path like `spec.generators[0].list.elements` into steps.
pub fn parse_path(path: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            steps.push(Step::Key(key.to_string()));
        }
        while let Some(close) = rest.find(']') {
            match rest[1..close].trim().parse() {
                Ok(i) => steps.push(Step::Index(i)),
                Err(_) => steps.push(Step::Key(rest[1..close].to_string())),
            }
            rest = &rest[close + 1..];
        }
    }
    steps
}

impl Node {
    /// The value of `key` in a mapping; `None` for other nodes or a missing key.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// The pairs of a mapping; empty for other nodes.
    pub fn entries(&self) -> &[(Node, Node)] {
        match &self.value {
            Value::Mapping(pairs) => pairs,
            _ => &[],
        }
    }

    /// The items of a sequence; empty for other nodes.
    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::Sequence(items) => items,
            _ => &[],
        }
    }

    /// The decoded text of a scalar (any style).
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Follow a dotted path (`spec.chart.spec.version`, `spec.inputs[0].name`).
    pub fn lookup(&self, path: &str) -> Option<&Node> {
        self.walk(&parse_path(path))
    }

    /// Follow parsed steps.
    pub fn walk(&self, steps: &[Step]) -> Option<&Node> {
        steps.iter().try_fold(self, |node, step| match step {
            Step::Key(k) => node.get(k),
            Step::Index(i) => node.items().get(*i),
        })
    }

    /// A short description for messages: `a mapping`, `a block scalar`...
    pub fn describe(&self) -> &'static str {
        match &self.value {
            Value::Mapping(_) => "a mapping",
            Value::Sequence(_) => "a sequence",
            Value::Scalar {
                style: Style::Block,
                ..
            } => "a block scalar",
            Value::Scalar { .. } => "a scalar",
            Value::Alias(_) => "an alias",
        }
    }
}

/// Parse every document of `text`; one root node per document (an empty document is an empty
/// plain scalar). Malformed YAML and duplicate keys are `EditError::Parse` with line and column.
pub fn parse(file: &str, text: &str) -> Result<Vec<Node>, EditError> {
    Builder::new(file, text).run()
}

enum Frame {
    Mapping {
        start: usize,
        pairs: Vec<(Node, Node)>,
        key: Option<Node>,
        seen: HashMap<String, usize>,
    },
    Sequence {
        start: usize,
        items: Vec<Node>,
    },
}

struct Builder<'a> {
    file: &'a str,
    text: &'a str,
    /// Byte offset of each character, plus `text.len()` at the end; `None` for ASCII text,
    /// where characters are bytes.
    byte_of: Option<Vec<usize>>,
    lines: LineIndex<'a>,
    stack: Vec<Frame>,
    docs: Vec<Node>,
    /// Byte end of the previous event: a block scalar's indicator lies between it and the content.
    last_end: usize,
}

impl<'a> Builder<'a> {
    fn new(file: &'a str, text: &'a str) -> Self {
        let byte_of = (!text.is_ascii()).then(|| {
            let mut table: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
            table.push(text.len());
            table
        });
        Builder {
            file,
            text,
            byte_of,
            lines: LineIndex::new(text),
            stack: Vec::new(),
            docs: Vec::new(),
            last_end: 0,
        }
    }

    fn run(mut self) -> Result<Vec<Node>, EditError> {
        let mut parser = Parser::new_from_str(self.text);
        while let Some(next) = parser.next_event() {
            let (event, span) = next.map_err(|e| self.scan_error(&e))?;
            self.on_event(event, span)?;
            self.last_end = self.last_end.max(self.byte(span.end.index()));
        }
        Ok(self.docs)
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.byte_of {
            None => char_index.min(self.text.len()),
            Some(table) => table[char_index.min(table.len() - 1)],
        }
    }

    fn node(&self, value: Value, span: Range<usize>) -> Node {
        let (line, column) = self.lines.line_col(span.start);
        Node {
            value,
            span,
            line,
            column,
        }
    }

    fn scan_error(&self, e: &ScanError) -> EditError {
        let mut at = self.byte(e.marker().index());
        let mut message = format!("invalid YAML: {}", e.info());
        if e.info().contains("tab") {
            // Point at the offending tab, not at the token after it.
            at -= self.text[..at].len() - self.text[..at].trim_end_matches('\t').len();
            message.push_str("\nhint: indent with spaces; YAML does not allow tabs there");
        }
        let (line, column) = self.lines.line_col(at);
        EditError::Parse {
            file: self.file.to_string(),
            line,
            column,
            message,
        }
    }

    fn on_event(&mut self, event: Event<'_>, span: Span) -> Result<(), EditError> {
        let start = self.byte(span.start.index());
        let end = self.byte(span.end.index());
        match event {
            Event::Scalar(value, style, _, _) => {
                let (style, range) = self.scalar_span(style, start, end, value.is_empty());
                let node = self.node(
                    Value::Scalar {
                        value: value.into_owned(),
                        style,
                    },
                    range,
                );
                self.push(node)?;
            }
            Event::Alias(_) => {
                let at = skip_properties(self.text, start);
                let name_end = self.text[at..]
                    .find(|c: char| c.is_whitespace() || ",[]{}".contains(c))
                    .map_or(self.text.len(), |i| at + i);
                let name = self.text[at..name_end].trim_start_matches('*').to_string();
                let node = self.node(Value::Alias(name), at..name_end);
                self.push(node)?;
            }
            Event::MappingStart(..) => self.stack.push(Frame::Mapping {
                start: skip_properties(self.text, start),
                pairs: Vec::new(),
                key: None,
                seen: HashMap::new(),
            }),
            Event::SequenceStart(..) => self.stack.push(Frame::Sequence {
                start: skip_properties(self.text, start),
                items: Vec::new(),
            }),
            Event::MappingEnd | Event::SequenceEnd => {
                let node = match self.stack.pop() {
                    Some(Frame::Mapping {
                        start: s, pairs, ..
                    }) => self.node(Value::Mapping(pairs), s..end.max(s)),
                    Some(Frame::Sequence { start: s, items }) => {
                        self.node(Value::Sequence(items), s..end.max(s))
                    }
                    None => return Ok(()),
                };
                self.push(node)?;
            }
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd
            | Event::Nothing => {}
        }
        Ok(())
    }

    /// The scalar's own bytes: properties (`&a`, `!tag`) skipped, quoted scalars closed at their
    /// quote, plain scalars without trailing blanks.
    fn scalar_span(
        &self,
        style: ScalarStyle,
        start: usize,
        end: usize,
        empty: bool,
    ) -> (Style, Range<usize>) {
        let at = skip_properties(self.text, start);
        let rest = &self.text[at..];
        match style {
            ScalarStyle::DoubleQuoted => (Style::Double, at..at + quoted_len(rest, '"')),
            ScalarStyle::SingleQuoted => (Style::Single, at..at + quoted_len(rest, '\'')),
            ScalarStyle::Literal | ScalarStyle::Folded => {
                // saphyr starts a block scalar's span at its content; start at its `|` or `>`.
                let from = self.last_end.min(start);
                let indicator = self.text[from..start]
                    .find(['|', '>'])
                    .map_or(at, |i| from + i);
                (Style::Block, indicator..end.max(indicator))
            }
            ScalarStyle::Plain if empty || end <= at => {
                // An empty value: point at the end of its properties, not at the next line.
                // saphyr marks an empty mapping value at its `:`.
                let from = start.min(at);
                let from = from + usize::from(self.text[from..].starts_with(':'));
                let at = skip_properties_inline(self.text, from);
                (Style::Plain, at..at)
            }
            ScalarStyle::Plain => {
                let trimmed = self.text[at..end].trim_end().len();
                (Style::Plain, at..at + trimmed)
            }
        }
    }

    fn push(&mut self, node: Node) -> Result<(), EditError> {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Sequence { items, .. }) => items.push(node),
            Some(Frame::Mapping {
                pairs, key, seen, ..
            }) => match key.take() {
                Some(k) => pairs.push((k, node)),
                None => {
                    let name = node.as_str().filter(|n| *n != "<<");
                    if let Some((name, first)) =
                        name.and_then(|n| Some((n, seen.insert(n.to_string(), node.line)?)))
                    {
                        return Err(EditError::Parse {
                            file: self.file.to_string(),
                            line: node.line,
                            column: node.column,
                            message: format!(
                                "duplicate key `{name}` (first at line {first})\nhint: YAML readers keep only one of them; remove the other"
                            ),
                        });
                    }
                    *key = Some(node);
                }
            },
        }
        Ok(())
    }
}

/// Skip blanks, anchors (`&a`) and tags (`!t`) at `at`, returning the offset of the node itself.
fn skip_properties(text: &str, mut at: usize) -> usize {
    loop {
        let rest = &text[at..];
        let blank = rest.len() - rest.trim_start().len();
        at += blank;
        let rest = &text[at..];
        if rest.starts_with('&') || rest.starts_with('!') {
            at += rest.find(char::is_whitespace).unwrap_or(rest.len());
        } else {
            return at;
        }
    }
}

/// Like [`skip_properties`], but stays on the current line.
fn skip_properties_inline(text: &str, mut at: usize) -> usize {
    loop {
        let rest = &text[at..];
        at += rest.len() - rest.trim_start_matches([' ', '\t']).len();
        let rest = &text[at..];
        if rest.starts_with('&') || rest.starts_with('!') {
            at += rest.find(char::is_whitespace).unwrap_or(rest.len());
        } else {
            return at;
        }
    }
}

/// Length in bytes of the quoted scalar at the start of `rest`, both quotes included.
fn quoted_len(rest: &str, quote: char) -> usize {
    let mut chars = rest.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if quote == '"' && c == '\\' {
            chars.next();
        } else if c == quote {
            if quote == '\'' && chars.peek().map(|&(_, n)| n) == Some('\'') {
                chars.next();
                continue;
            }
            return i + 1;
        }
    }
    rest.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar_at<'a>(doc: &'a Node, path: &str) -> &'a Node {
        doc.lookup(path).expect("path exists")
    }

    #[test]
    fn spans_are_bytes_and_exclude_properties_and_comments() {
        let text = "é: ü\nv: &a \"1.2\" # c\nw: *a\nx: !!str 'it''s' # c\ny: 3.4   # c\n";
        let docs = parse("t.yaml", text).expect("parses");
        let v = scalar_at(&docs[0], "v");
        assert_eq!(&text[v.span.clone()], "\"1.2\"");
        assert_eq!((v.line, v.column), (2, 7));
        let x = scalar_at(&docs[0], "x");
        assert_eq!(&text[x.span.clone()], "'it''s'");
        assert_eq!(x.as_str(), Some("it's"));
        let y = scalar_at(&docs[0], "y");
        assert_eq!(&text[y.span.clone()], "3.4");
        let w = scalar_at(&docs[0], "w");
        assert_eq!(w.value, Value::Alias("a".into()));
        assert_eq!(&text[w.span.clone()], "*a");
    }

    #[test]
    fn flow_mappings_and_crlf() {
        let text = "images:\r\n  - {name: x, newTag: \"1.2\"}\r\n  - {name: y, newTag: 2.0}\r\n";
        let docs = parse("k.yaml", text).expect("parses");
        let t = scalar_at(&docs[0], "images[0].newTag");
        assert_eq!(&text[t.span.clone()], "\"1.2\"");
        let t = scalar_at(&docs[0], "images[1].newTag");
        assert_eq!(&text[t.span.clone()], "2.0");
        assert_eq!(t.line, 3);
    }

    #[test]
    fn byte_order_mark_and_multi_line_quotes() {
        let text = "\u{feff}a: 1.0\nb: \"x\n  y\" # c\nc: |\n  z\n...\n";
        let docs = parse("bom.yaml", text).expect("parses");
        let a = scalar_at(&docs[0], "a");
        assert_eq!(&text[a.span.clone()], "1.0");
        let b = scalar_at(&docs[0], "b");
        assert_eq!(&text[b.span.clone()], "\"x\n  y\"");
        let c = scalar_at(&docs[0], "c");
        assert_eq!(&text[c.span.clone()], "|\n  z\n");
    }

    #[test]
    fn empty_values_stay_on_their_line() {
        let text = "a:\nb: !!str\nc: &x\n---\n---\nd: 1\n";
        let docs = parse("e.yaml", text).expect("parses");
        for (path, pos) in [("a", (1, 3)), ("b", (2, 9)), ("c", (3, 6))] {
            let n = scalar_at(&docs[0], path);
            assert_eq!((n.as_str(), n.span.len()), (Some(""), 0), "{path}");
            assert_eq!((n.line, n.column), pos, "{path}");
        }
        assert_eq!(docs[1].span.len(), 0);
    }

    #[test]
    fn multi_documents_and_errors() {
        let docs = parse("m.yaml", "a: 1\n---\nb: 2\n---\n").expect("parses");
        assert_eq!(docs.len(), 3);
        let err = parse("d.yaml", "a: 1\nb: 2\na: 3\n").expect_err("duplicate");
        assert!(
            matches!(
                err,
                EditError::Parse {
                    line: 3,
                    column: 1,
                    ..
                }
            ),
            "{err}"
        );
        let err = parse("b.yaml", "a: [1, 2\nb: 3\n").expect_err("broken");
        assert!(matches!(err, EditError::Parse { .. }), "{err}");
    }
}
