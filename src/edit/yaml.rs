//! YAML: a small tree of nodes with byte spans, built from `saphyr-parser` events.
//!
//! saphyr marks count characters, so every mark goes through a char -> byte table. A scalar's
//! span is re-derived from the text: anchors and tags before it are skipped, and a quoted
//! scalar ends at its closing quote (never at a comment after it). Nothing here re-serializes.

use rustc_hash::FxHashMap as HashMap;
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
        // A path of keys only (the common case) is followed without parsing it into steps.
        if !path.contains('[') {
            return path
                .split('.')
                .filter(|k| !k.is_empty())
                .try_fold(self, |node, key| node.get(key));
        }
        self.walk(&parse_path(path))
    }

    /// Follow parsed steps.
    pub fn walk(&self, steps: &[Step]) -> Option<&Node> {
        steps.iter().try_fold(self, |node, step| match step {
            Step::Key(k) => node.get(k),
            Step::Index(i) => node.items().get(*i),
        })
    }

    /// 1-based line and column (in characters) of `span.start`; `lines` indexes the parsed text.
    /// Asked for where a node becomes a component or an error, not for every node.
    pub fn line_col(&self, lines: &LineIndex) -> (usize, usize) {
        lines.line_col(self.span.start)
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
/// With the documents, the line index of `text`, for the nodes' [`Node::line_col`].
pub fn parse<'t>(file: &str, text: &'t str) -> Result<(Vec<Node>, LineIndex<'t>), EditError> {
    let mut docs = Vec::new();
    let lines = for_each_doc(file, text, |doc, _| docs.push(doc))?;
    Ok((docs, lines))
}

/// [`parse`], handing each document to `each` (with the line index) as soon as it is complete
/// and dropping it after: a file of thousands of documents never holds more than one tree. A
/// parse error anywhere is returned (after `each` saw the documents before it).
pub fn for_each_doc<'t>(
    file: &str,
    text: &'t str,
    each: impl FnMut(Node, &LineIndex<'t>),
) -> Result<LineIndex<'t>, EditError> {
    Builder::new(file, text, each).run()
}

enum Frame {
    Mapping {
        start: usize,
        key: Option<Node>,
        /// Where its pairs start in `Builder::pairs` (every open mapping's pairs are there,
        /// one mapping after the other; a finished one takes its own in one allocation).
        base: usize,
        /// Key -> byte offset of its first occurrence, for the first `indexed` pairs; only
        /// filled for a mapping of [`LINEAR_KEYS`] pairs or more (a scan is cheaper below).
        seen: HashMap<String, usize>,
        indexed: usize,
    },
    Sequence {
        start: usize,
        /// Where its items start in `Builder::items`.
        base: usize,
    },
}

/// Below this many pairs, a mapping's keys are checked for repeats by a scan, not a hash map.
const LINEAR_KEYS: usize = 16;

/// Where `name` was first used as a key of the mapping with `pairs` (none: not yet).
fn first_key(
    pairs: &[(Node, Node)],
    seen: &mut HashMap<String, usize>,
    indexed: &mut usize,
    name: &str,
) -> Option<usize> {
    if pairs.len() < LINEAR_KEYS {
        return pairs
            .iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .map(|(k, _)| k.span.start);
    }
    for (k, _) in &pairs[*indexed..] {
        if let Some(n) = k.as_str().filter(|n| *n != "<<") {
            seen.entry(n.to_string()).or_insert(k.span.start);
        }
    }
    *indexed = pairs.len();
    seen.get(name).copied()
}

struct Builder<'a, F> {
    file: String,
    text: &'a str,
    /// Byte offset of each character, plus `text.len()` at the end; `None` for ASCII text,
    /// where characters are bytes.
    byte_of: Option<Vec<usize>>,
    lines: LineIndex<'a>,
    stack: Vec<Frame>,
    /// The pairs and items of the open mappings and sequences, innermost last.
    pairs: Vec<(Node, Node)>,
    items: Vec<Node>,
    each: F,
    /// Byte end of the previous event: a block scalar's indicator lies between it and the content.
    last_end: usize,
}

impl<'a, F: FnMut(Node, &LineIndex<'a>)> Builder<'a, F> {
    fn new(file: &str, text: &'a str, each: F) -> Self {
        let byte_of = (!text.is_ascii()).then(|| {
            let mut table: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
            table.push(text.len());
            table
        });
        Builder {
            file: file.to_string(),
            text,
            byte_of,
            lines: LineIndex::new(text),
            stack: Vec::new(),
            pairs: Vec::new(),
            items: Vec::new(),
            each,
            last_end: 0,
        }
    }

    fn run(mut self) -> Result<LineIndex<'a>, EditError> {
        let mut parser = Parser::new_from_str(self.text);
        while let Some(next) = parser.next_event() {
            let (event, span) = next.map_err(|e| self.scan_error(&e))?;
            self.on_event(event, span)?;
            self.last_end = self.last_end.max(self.byte(span.end.index()));
        }
        Ok(self.lines)
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.byte_of {
            None => char_index.min(self.text.len()),
            Some(table) => table[char_index.min(table.len() - 1)],
        }
    }

    fn node(&self, value: Value, span: Range<usize>) -> Node {
        Node { value, span }
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
            file: self.file.clone(),
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
                base: self.pairs.len(),
                key: None,
                seen: HashMap::default(),
                indexed: 0,
            }),
            Event::SequenceStart(..) => self.stack.push(Frame::Sequence {
                start: skip_properties(self.text, start),
                base: self.items.len(),
            }),
            Event::MappingEnd | Event::SequenceEnd => {
                let node = match self.stack.pop() {
                    Some(Frame::Mapping { start: s, base, .. }) => {
                        let pairs = self.pairs.drain(base..).collect();
                        self.node(Value::Mapping(pairs), s..end.max(s))
                    }
                    Some(Frame::Sequence { start: s, base }) => {
                        let items = self.items.drain(base..).collect();
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
            None => (self.each)(node, &self.lines),
            Some(Frame::Sequence { .. }) => self.items.push(node),
            Some(Frame::Mapping {
                base,
                key,
                seen,
                indexed,
                ..
            }) => match key.take() {
                Some(k) => self.pairs.push((k, node)),
                None => {
                    let pairs = &self.pairs[*base..];
                    let name = node.as_str().filter(|n| *n != "<<");
                    if let Some((name, first)) =
                        name.and_then(|n| Some((n, first_key(pairs, seen, indexed, n)?)))
                    {
                        let (line, column) = node.line_col(&self.lines);
                        let (first, _) = self.lines.line_col(first);
                        return Err(EditError::Parse {
                            file: self.file.clone(),
                            line,
                            column,
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
    // Most nodes start right at their text: nothing to skip.
    if text
        .as_bytes()
        .get(at)
        .is_some_and(|b| b.is_ascii_graphic() && *b != b'&' && *b != b'!')
    {
        return at;
    }
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
mod tests;
