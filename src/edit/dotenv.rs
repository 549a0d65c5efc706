//! dotenv: `KEY=value` lines, read with a small line parser that records each value's byte span.
//!
//! Accepted: blank lines, `#` comment lines (so `# renovate:` annotations), an optional `export `
//! prefix, and values written plain, `'single'` or `"double"` quoted, each optionally followed by
//! ` # comment`. A value that is none of these (`["end0"]`, `{"a": 1}`, `"open`, `'a' b`) is read
//! verbatim, everything after `=`, the way kustomize reads `configMapGenerator` `envs:` files:
//! such a value is no version, and the version rules refuse to write one. A line without `=` or
//! with a bad key is an error naming its line and column.

use std::ops::Range;

use super::{EditError, QuoteStyle};

/// One `KEY=value` assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: crate::Text,
    /// The decoded value.
    pub value: crate::Text,
    /// Byte span of the value, quotes included (empty at the `=` for an empty plain value).
    pub span: Range<usize>,
    pub style: QuoteStyle,
    /// 1-based line of the assignment.
    pub line: usize,
    /// 1-based column (in characters) of the value's first byte, `span.start`.
    pub column: usize,
}

/// Parse every assignment of `text`.
pub fn parse(file: &str, text: &str) -> Result<Vec<Entry>, EditError> {
    let mut out = Vec::with_capacity(line_count(text));
    for entry in entries(file, text) {
        out.push(entry?);
    }
    Ok(out)
}

/// Parse each assignment line on its own: a line the reader refuses is an error for that line
/// only (`substitute-from` files may hold values such as `["end0"]` that are no concern of ours).
pub fn parse_each(file: &str, text: &str) -> Vec<Result<Entry, EditError>> {
    let mut out = Vec::with_capacity(line_count(text));
    out.extend(entries(file, text));
    out
}

/// How many lines `text` has at most: room for every entry it can hold.
pub fn line_count(text: &str) -> usize {
    memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1
}

/// [`parse_each`], one line at a time, as an iterator (nothing collected).
pub fn entries<'t>(
    file: &'t str,
    text: &'t str,
) -> impl Iterator<Item = Result<Entry, EditError>> + 't {
    let mut lines = Lines {
        text,
        start: 0,
        number: 0,
    };
    std::iter::from_fn(move || {
        lines.next(file).map(|read| {
            read.map(|read| match read {
                Read::Bare {
                    key,
                    value,
                    at,
                    line,
                    column,
                    ..
                } => Entry {
                    key: key.into(),
                    value: value.into(),
                    span: at..at + value.len(),
                    style: QuoteStyle::Plain,
                    line,
                    column,
                },
                Read::Parsed(entry) => entry,
            })
        })
    })
}

/// One assignment as [`each`] hands it on.
pub enum Read<'t> {
    /// A bare `KEY=value` line (no quotes, blanks, comment or `export`): its key and value as
    /// written, borrowed from the text (nothing to decode), the value's first byte, and its
    /// 1-based line and column. Its style is [`QuoteStyle::Plain`].
    Bare {
        key: &'t str,
        value: &'t str,
        /// Whether the value holds `$`, `{` or `<`: where no variable can be named
        /// ([`crate::edit::indirect_variable`] is `None` without one).
        opens: bool,
        at: usize,
        line: usize,
        column: usize,
    },
    /// Any other assignment, as the general line parser read it.
    Parsed(Entry),
}

/// Every assignment of `text`, handed to `each` as it is read; the first line the reader
/// refuses is the error. A bare line's key and value are handed on borrowed ([`Read::Bare`]):
/// a reader that makes its own records of them copies each once.
pub fn each<'t>(
    file: &str,
    text: &'t str,
    mut each: impl FnMut(Read<'t>),
) -> Result<(), EditError> {
    let mut lines = Lines {
        text,
        start: 0,
        number: 0,
    };
    while let Some(read) = lines.next(file) {
        each(read?);
    }
    Ok(())
}

/// Where [`entries`] and [`each`] are in the text: lines as `split_inclusive('\n')` cuts them
/// (no empty last line after a final newline), found with `memchr`.
struct Lines<'t> {
    text: &'t str,
    /// Where the next line starts.
    start: usize,
    /// The number of the line before it.
    number: usize,
}

impl<'t> Lines<'t> {
    /// The next assignment, or the error of the next line the reader refuses; `None` at the end.
    #[inline(always)]
    fn next(&mut self, file: &str) -> Option<Result<Read<'t>, EditError>> {
        let text = self.text;
        while self.start < text.len() {
            self.number += 1;
            let start = self.start;
            // Most lines are `KEY=value` with nothing to trim, quote or decode: read in one pass.
            if let Some(Bare {
                eq,
                end,
                next,
                opens,
            }) = bare_line(text.as_bytes(), start)
            {
                self.start = next;
                return Some(Ok(Read::Bare {
                    key: &text[start..eq],
                    value: &text[eq + 1..end],
                    opens,
                    at: eq + 1,
                    line: self.number,
                    // The key and `=` are ASCII: one column per byte.
                    column: eq + 1 - start + 1,
                }));
            }
            // Each line without its trailing `\n`s and `\r`s.
            let bytes = text.as_bytes();
            let end = memchr::memchr(b'\n', &bytes[start..]).map_or(text.len(), |i| start + i + 1);
            let mut len = end;
            while len > start && matches!(bytes[len - 1], b'\n' | b'\r') {
                len -= 1;
            }
            let line = &text[start..len];
            self.start = end;
            match parse_line(line, start, self.number) {
                Ok(None) => {}
                Ok(Some(entry)) => return Some(Ok(Read::Parsed(entry))),
                Err((col, message)) => {
                    return Some(Err(EditError::Parse {
                        file: file.to_string(),
                        line: self.number,
                        column: column(line, col),
                        message,
                    }));
                }
            }
        }
        None
    }
}

/// The line at `start` when it is a bare `KEY=value` (a key of key characters, no blanks, no
/// quote, no control byte): where its `=` is, where its value ends, where the next line starts
/// and whether the value holds `$`, `{` or `<` (where [`crate::edit::indirect_variable`] looks
/// for a variable), in one pass over its bytes, eight at a time, and without the line cut out
/// first. `None` for anything else, which [`parse_line`] reads (the same entry for a line both
/// read: the tests hold them to the oracle).
#[inline(always)]
fn bare_line(bytes: &[u8], start: usize) -> Option<Bare> {
    // A key starts with a letter or `_`: anything else is a comment, a blank, `export`'s
    // spacing or an error, all for the general reader.
    let first = *bytes.get(start)?;
    if !first.is_ascii_alphabetic() && first != b'_' {
        return None;
    }
    let eq = key_end(bytes, start + 1);
    if bytes.get(eq) != Some(&b'=') {
        return None;
    }
    let (end, opens) = value_end(bytes, eq + 1);
    let next = match bytes.get(end) {
        None => end,
        Some(b'\n') => end + 1,
        Some(_) => return None,
    };
    Some(Bare {
        eq,
        end,
        next,
        opens,
    })
}

/// Where [`bare_line`] found a bare line's pieces.
struct Bare {
    eq: usize,
    end: usize,
    next: usize,
    opens: bool,
}

/// Byte-parallel tests on a word of eight bytes (the first byte in the low bits), safe code.
mod swar {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH: u64 = ONES * 0x80;

    /// The eight bytes of `bytes` from `at`, if there are eight.
    #[inline(always)]
    pub fn word(bytes: &[u8], at: usize) -> Option<u64> {
        let w: [u8; 8] = bytes.get(at..at.checked_add(8)?)?.try_into().ok()?;
        Some(u64::from_le_bytes(w))
    }

    /// The high bit of each byte of `x` below `n` (`n` at most 0x80; a byte of 0x80 or more is
    /// never below). Exact at the lowest such byte: a borrow reaches only the bytes above one.
    #[inline(always)]
    pub fn below(x: u64, n: u8) -> u64 {
        x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH
    }

    /// The high bit of each byte of `x` equal to `b`; exact at the lowest, as [`below`].
    #[inline(always)]
    pub fn equal(x: u64, b: u8) -> u64 {
        below(x ^ (ONES * u64::from(b)), 1)
    }

    /// The high bit of each byte of `x` in `lo..=hi` (both ASCII), exact at every byte: on the
    /// low seven bits, where no sum carries into the next byte; a byte of 0x80 or more is out.
    #[inline(always)]
    pub fn within(x: u64, lo: u8, hi: u8) -> u64 {
        let t = x & !HIGH;
        (t + ONES * u64::from(0x80 - lo)) & !(t + ONES * u64::from(0x7f - hi)) & !x & HIGH
    }

    /// The high bit of each byte of `x` that is not a key byte (ASCII letter, digit, `_`, `.`
    /// or `-`), exact at every byte. Letters are folded to lower case (`| 0x20`) first.
    #[inline(always)]
    pub fn not_key(x: u64) -> u64 {
        let key = within(x | (ONES * 0x20), b'a', b'z')
            | within(x, b'0', b'9')
            | within(x, b'-', b'.')
            | equal(x, b'_');
        !key & HIGH
    }

    /// The offset of the byte a mask from the tests above marks first.
    #[inline(always)]
    pub fn first(mask: u64) -> usize {
        (mask.trailing_zeros() / 8) as usize
    }
}

/// Where the run of key bytes from `at` ends.
#[inline(always)]
fn key_end(bytes: &[u8], mut at: usize) -> usize {
    while let Some(x) = swar::word(bytes, at) {
        let other = swar::not_key(x);
        if other != 0 {
            return at + swar::first(other);
        }
        at += 8;
    }
    let rest = bytes.get(at..).unwrap_or_default();
    at + rest
        .iter()
        .position(|&b| !KEY[usize::from(b)])
        .unwrap_or(rest.len())
}

/// Where a bare value from `at` ends (its first blank, control byte or quote; `#` starts a
/// comment only after a blank) and whether it holds one of [`super::VARIABLE_OPENS`] before.
#[inline(always)]
fn value_end(bytes: &[u8], mut at: usize) -> (usize, bool) {
    let [open_a, open_b, open_c] = super::VARIABLE_OPENS;
    let mut opens = 0;
    while let Some(x) = swar::word(bytes, at) {
        let stop = swar::below(x, 0x21) | swar::equal(x, b'"') | swar::equal(x, b'\'');
        let open = swar::equal(x, open_a) | swar::equal(x, open_b) | swar::equal(x, open_c);
        if stop != 0 {
            // A byte marked below the stop is a true one: a test marks a byte wrongly only
            // above a true one of its own.
            let before = (1u64 << stop.trailing_zeros()) - 1;
            return (at + swar::first(stop), opens | (open & before) != 0);
        }
        opens |= open;
        at += 8;
    }
    let rest = bytes.get(at..).unwrap_or_default();
    for (k, &b) in rest.iter().enumerate() {
        if b < 0x21 || b == b'"' || b == b'\'' {
            return (at + k, opens != 0);
        }
        if b == open_a || b == open_b || b == open_c {
            opens = 1;
        }
    }
    (bytes.len(), opens != 0)
}

/// Whether `b` is a whitespace character on its own (`char::is_whitespace` on ASCII).
fn ascii_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// The byte where `line[from..].trim_start()` starts: ASCII whitespace skipped byte by byte,
/// `trim_start` asked only when a non-ASCII character (which may be whitespace) follows.
fn skip_space(line: &str, from: usize) -> usize {
    let bytes = line.as_bytes();
    let mut i = from;
    while i < bytes.len() && ascii_space(bytes[i]) {
        i += 1;
    }
    if bytes.get(i).is_some_and(|&b| !b.is_ascii()) {
        i = line.len() - line[i..].trim_start().len();
    }
    i
}

/// `s.trim_end()`, byte by byte while the end is ASCII.
fn trim_space_end(s: &str) -> &str {
    let bytes = s.as_bytes();
    let mut end = bytes.len();
    while end > 0 && ascii_space(bytes[end - 1]) {
        end -= 1;
    }
    if end > 0 && !bytes[end - 1].is_ascii() {
        return s[..end].trim_end();
    }
    &s[..end]
}

/// How many bytes of `s` from `from` are spaces or tabs.
fn blanks(s: &[u8], from: usize) -> usize {
    s[from..]
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(s.len() - from)
}

/// 1-based column, in characters, of byte `at` of `line` (past its end: counted in bytes).
fn column(line: &str, at: usize) -> usize {
    match line.get(..at) {
        Some(s) if s.is_ascii() => at + 1,
        Some(s) => s.chars().count() + 1,
        None => at + 1,
    }
}

/// A line error: byte column within the line, message.
type LineError = (usize, String);

/// A key character: ASCII letters, digits and `_`, and after the first one `.` and `-`.
fn key_byte(i: usize, b: u8) -> bool {
    // A table lookup per byte, not a chain of range tests.
    KEY[usize::from(b)] && (i > 0 || !matches!(b, b'.' | b'-'))
}

/// The bytes a key may hold after its first: ASCII letters, digits, `_`, `.` and `-`.
const KEY: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-');
        b += 1;
    }
    table
};

/// The first `needle` in `s`: a plain loop on a short slice (a key or a value), where the
/// setup of `memchr` costs more than the scan; `memchr` on a long one.
fn find(needle: u8, s: &[u8]) -> Option<usize> {
    if s.len() < 64 {
        s.iter().position(|&b| b == needle)
    } else {
        memchr::memchr(needle, s)
    }
}

fn parse_line(line: &str, start: usize, number: usize) -> Result<Option<Entry>, LineError> {
    let bytes = line.as_bytes();
    let mut pos = skip_space(line, 0);
    if matches!(bytes.get(pos), None | Some(b'#')) {
        return Ok(None);
    }
    if bytes[pos..].starts_with(b"export") && matches!(bytes.get(pos + 6), Some(b' ' | b'\t')) {
        pos = skip_space(line, pos + 6);
    }
    let Some(eq) = find(b'=', &bytes[pos..]).map(|i| pos + i) else {
        return Err((pos, "expected `KEY=value`".to_string()));
    };
    let key = trim_space_end(&line[pos..eq]);
    // Byte-wise: a character outside ASCII is refused at its first byte, which is where it starts.
    if let Some(bad) = key.bytes().enumerate().position(|(i, b)| !key_byte(i, b)) {
        return Err((pos + bad, format!("invalid character in key `{key}`")));
    }
    if key.as_bytes().first().is_none_or(u8::is_ascii_digit) {
        return Err((pos, "expected a key before `=`".to_string()));
    }
    // `KEY= # note` is an empty value and a comment: the value then starts right after `=`.
    let skipped = blanks(bytes, eq + 1);
    let vstart = if skipped > 0 && bytes.get(eq + 1 + skipped) == Some(&b'#') {
        eq + 1
    } else {
        eq + 1 + skipped
    };
    let (value, vstart, vend, style) = match parse_value(line, vstart) {
        Some((value, vend, style)) => (value, vstart, vend, style),
        // Not dotenv quoting: everything after `=`, as kustomize reads env files.
        None => (line[eq + 1..].into(), eq + 1, line.len(), QuoteStyle::Plain),
    };
    Ok(Some(Entry {
        key: key.into(),
        value,
        span: start + vstart..start + vend,
        style,
        line: number,
        column: column(line, vstart),
    }))
}

/// Parse the value starting at byte `at`: (decoded value, end byte, style); `None` when it is
/// not written in dotenv quoting (an unterminated quote, a quote inside a plain value, text after
/// a closing quote).
fn parse_value(line: &str, at: usize) -> Option<(crate::Text, usize, QuoteStyle)> {
    let rest = &line[at..];
    let bytes = rest.as_bytes();
    let (value, end, style) = match bytes.first() {
        Some(&q @ (b'\'' | b'"')) => {
            let (value, len) = quoted(&rest[1..], q)?;
            let style = if q == b'\'' {
                QuoteStyle::Single
            } else {
                QuoteStyle::Double
            };
            (value, at + 1 + len + 1, style)
        }
        _ => {
            // A plain value ends at ` #` (a trailing comment) or the end of the line; a quote
            // before that end (a quote is no blank: trimming keeps it) makes it no dotenv value.
            // One pass finds both, a table telling the bytes that matter from the rest.
            const PLAIN: [u8; 256] = {
                let mut table = [0; 256];
                table[b'#' as usize] = 1;
                table[b'"' as usize] = 2;
                table[b'\'' as usize] = 2;
                table
            };
            let mut comment = rest.len();
            for (i, &b) in bytes.iter().enumerate() {
                match PLAIN[usize::from(b)] {
                    0 => {}
                    1 if i > 0 && matches!(bytes[i - 1], b' ' | b'\t') => {
                        comment = i;
                        break;
                    }
                    1 => {}
                    _ => return None,
                }
            }
            let mut len = comment;
            while len > 0 && matches!(bytes[len - 1], b' ' | b'\t') {
                len -= 1;
            }
            (rest[..len].into(), at + len, QuoteStyle::Plain)
        }
    };
    let line = line.as_bytes();
    if !matches!(line.get(end + blanks(line, end)), None | Some(b'#')) {
        return None;
    }
    Some((value, end, style))
}

/// Read a quoted string after its opening quote: (decoded value, byte length before the closer).
/// Runs without a backslash are copied whole; in double quotes `\n`, `\t` and `\r` decode and
/// a backslash before any other character keeps that character.
fn quoted(s: &str, quote: u8) -> Option<(crate::Text, usize)> {
    let bytes = s.as_bytes();
    if quote == b'\'' {
        let close = memchr::memchr(b'\'', bytes)?;
        return Some((s[..close].into(), close));
    }
    let mut value = String::new();
    let mut from = 0;
    loop {
        let i = from + memchr::memchr2(b'"', b'\\', &bytes[from..])?;
        value.push_str(&s[from..i]);
        if bytes[i] == b'"' {
            return Some((value.into(), i));
        }
        let next = s[i + 1..].chars().next()?;
        value.push(match next {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            other => other,
        });
        from = i + 1 + next.len_utf8();
    }
}

/// Render `value` as a dotenv value, keeping its quotes where the value allows.
///
/// A plain value that would read back differently (spaces, `#`, quotes, `$`, `\`) is double
/// quoted; a single-quoted one holding `'` falls back to double quotes.
pub fn render_value(value: &str, style: QuoteStyle) -> String {
    let special = |c: char| c.is_whitespace() || "#'\"$\\`".contains(c) || c.is_control();
    match style {
        QuoteStyle::Plain if !value.chars().any(special) => value.to_string(),
        QuoteStyle::Single if !value.contains('\'') && !value.chars().any(char::is_control) => {
            format!("'{value}'")
        }
        _ => {
            let mut out = String::with_capacity(value.len() + 2);
            out.push('"');
            for c in value.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '"' => out.push_str("\\\""),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The line reader as first written with `split_inclusive`, `trim_*` and a char loop: the
    /// oracle the byte-level reader must agree with, errors and their columns included.
    mod oracle {
        use super::super::Entry;
        use crate::edit::{EditError, QuoteStyle};

        pub fn entries<'t>(
            file: &'t str,
            text: &'t str,
        ) -> impl Iterator<Item = Result<Entry, EditError>> + 't {
            let mut start = 0;
            text.split_inclusive('\n')
                .enumerate()
                .filter_map(move |(i, raw_line)| {
                    let line = raw_line.trim_end_matches(['\n', '\r']);
                    let entry =
                        parse_line(line, start, i + 1).map_err(|(col, message)| EditError::Parse {
                            file: file.to_string(),
                            line: i + 1,
                            column: column(line, col),
                            message,
                        });
                    start += raw_line.len();
                    entry.transpose()
                })
        }

        /// 1-based column, in characters, of byte `at` of `line` (past its end: counted in bytes).
        fn column(line: &str, at: usize) -> usize {
            match line.get(..at) {
                Some(s) if s.is_ascii() => at + 1,
                Some(s) => s.chars().count() + 1,
                None => at + 1,
            }
        }

        /// A line error: byte column within the line, message.
        type LineError = (usize, String);

        /// A key character: ASCII letters, digits and `_`, and after the first one `.` and `-`.
        fn key_byte(i: usize, b: u8) -> bool {
            b.is_ascii_alphanumeric() || b == b'_' || (i > 0 && matches!(b, b'.' | b'-'))
        }

        fn parse_line(line: &str, start: usize, number: usize) -> Result<Option<Entry>, LineError> {
            let body = line.trim_start();
            if body.is_empty() || body.starts_with('#') {
                return Ok(None);
            }
            let mut pos = line.len() - body.len();
            if let Some(rest) = body.strip_prefix("export")
                && rest.starts_with([' ', '\t'])
            {
                pos = line.len() - rest.trim_start().len();
            }
            let Some(eq) = memchr::memchr(b'=', &line.as_bytes()[pos..]).map(|i| pos + i) else {
                return Err((pos, "expected `KEY=value`".to_string()));
            };
            let key = line[pos..eq].trim_end();
            // Byte-wise: a character outside ASCII is refused at its first byte, which is where it starts.
            if let Some(bad) = key.bytes().enumerate().position(|(i, b)| !key_byte(i, b)) {
                return Err((pos + bad, format!("invalid character in key `{key}`")));
            }
            if key.is_empty() || key.starts_with(|c: char| c.is_ascii_digit()) {
                return Err((pos, "expected a key before `=`".to_string()));
            }
            // `KEY= # note` is an empty value and a comment: the value then starts right after `=`.
            let after_eq = &line[eq + 1..];
            let trimmed = after_eq.trim_start_matches([' ', '\t']);
            let vstart = if trimmed.starts_with('#') && trimmed.len() < after_eq.len() {
                eq + 1
            } else {
                line.len() - trimmed.len()
            };
            let (value, vstart, vend, style) = match parse_value(line, vstart) {
                Some((value, vend, style)) => (value, vstart, vend, style),
                // Not dotenv quoting: everything after `=`, as kustomize reads env files.
                None => (line[eq + 1..].into(), eq + 1, line.len(), QuoteStyle::Plain),
            };
            Ok(Some(Entry {
                key: key.into(),
                value,
                span: start + vstart..start + vend,
                style,
                line: number,
                column: column(line, vstart),
            }))
        }

        /// Parse the value starting at byte `at`: (decoded value, end byte, style); `None` when it is
        /// not written in dotenv quoting (an unterminated quote, a quote inside a plain value, text after
        /// a closing quote).
        fn parse_value(line: &str, at: usize) -> Option<(crate::Text, usize, QuoteStyle)> {
            let rest = &line[at..];
            let (value, end, style) = match rest.as_bytes().first() {
                Some(&q @ (b'\'' | b'"')) => {
                    let (value, len) = quoted(&rest[1..], char::from(q))?;
                    let style = if q == b'\'' {
                        QuoteStyle::Single
                    } else {
                        QuoteStyle::Double
                    };
                    (value, at + 1 + len + 1, style)
                }
                _ => {
                    // A plain value ends at ` #` (a trailing comment) or the end of the line.
                    let bytes = rest.as_bytes();
                    let comment = memchr::memchr_iter(b'#', bytes)
                        .find(|&i| i > 0 && matches!(bytes[i - 1], b' ' | b'\t'))
                        .unwrap_or(rest.len());
                    let value = rest[..comment].trim_end_matches([' ', '\t']);
                    if memchr::memchr2(b'"', b'\'', value.as_bytes()).is_some() {
                        return None;
                    }
                    (value.into(), at + value.len(), QuoteStyle::Plain)
                }
            };
            let after = line[end..].trim_start_matches([' ', '\t']);
            if !after.is_empty() && !after.starts_with('#') {
                return None;
            }
            Some((value, end, style))
        }

        /// Read a quoted string after its opening quote: (decoded value, byte length before the closer).
        fn quoted(s: &str, quote: char) -> Option<(crate::Text, usize)> {
            let mut value = String::new();
            let mut chars = s.char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    c if c == quote => return Some((value.into(), i)),
                    '\\' if quote == '"' => {
                        let (_, next) = chars.next()?;
                        value.push(match next {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            other => other,
                        });
                    }
                    c => value.push(c),
                }
            }
            None
        }
    }

    /// Lines built from the pieces a dotenv reader cares about: blanks (ASCII and not),
    /// `export`, keys good and bad, `=`, quotes, escapes, comments, CR and non-ASCII text.
    fn dotenv_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just(" "),
            Just("\t"),
            Just("\u{a0}"),
            Just("\u{2003}"),
            Just("\x0b"),
            Just("\r"),
            Just("\n"),
            Just("\r\n"),
            Just("export"),
            Just("export "),
            Just("exportX"),
            Just("KEY"),
            Just("a.b-c"),
            Just("9"),
            Just("_"),
            Just("é"),
            Just("="),
            Just("#"),
            Just(" #"),
            Just("'"),
            Just("\""),
            Just("\\"),
            Just("\\n"),
            Just("\\\""),
            Just("v1.2.3"),
            Just("x y"),
            Just("["),
            Just("$"),
            Just("-"),
            Just("."),
        ];
        proptest::collection::vec(piece, 0..24).prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_024))]

        #[test]
        fn byte_reader_reads_as_the_char_reader(text in dotenv_text()) {
            let new: Vec<_> = entries("f", &text).collect();
            let old: Vec<_> = oracle::entries("f", &text).collect();
            prop_assert_eq!(new, old);
        }

        #[test]
        fn one_pass_lines_read_as_the_char_reader(
            text in "([A-Za-z_9.é-][A-Za-z0-9_.-]{0,6}=[a-z0-9.#$é'\" \t\\\\-]{0,8}(\n|\r\n|\r)?){0,6}"
        ) {
            let new: Vec<_> = entries("f", &text).collect();
            let old: Vec<_> = oracle::entries("f", &text).collect();
            prop_assert_eq!(new, old);
        }

        /// Keys and values long enough to cross the eight-byte words of the one-pass scan, with
        /// a byte it stops at (control, blank, quote, non-key, non-ASCII) anywhere in them.
        #[test]
        fn word_scanned_lines_read_as_the_char_reader(
            text in "([A-Za-z_][A-Za-z0-9_.-]{0,20}[\\x00-\\x1f =é€@\\[`{~\\x7f]?[A-Za-z0-9_.-]{0,4}=[a-z0-9.#$<{}é/]{0,20}[\\x00-\\x1f \"'\\x7f€]?[a-z0-9.$]{0,12}(\n|\r\n)?){0,5}"
        ) {
            let new: Vec<_> = entries("f", &text).collect();
            let old: Vec<_> = oracle::entries("f", &text).collect();
            prop_assert_eq!(new, old);
        }

        #[test]
        fn byte_reader_reads_any_text_as_the_char_reader(text in "(\\PC|[ \t\r\n='\"#\\\\])*") {
            let new: Vec<_> = entries("f", &text).collect();
            let old: Vec<_> = oracle::entries("f", &text).collect();
            prop_assert_eq!(new, old);
        }
    }

    /// Each word test marks the bytes a byte-at-a-time test names, at every place in the word:
    /// exactly so for `not_key`, and at the first marked byte for the others (all their users
    /// read).
    #[test]
    fn word_tests_mark_the_bytes_a_byte_test_names() {
        let naive_first = |w: [u8; 8], hit: &dyn Fn(u8) -> bool| w.iter().position(|&b| hit(b));
        let first = |mask: u64| (mask != 0).then(|| swar::first(mask));
        for filler in [b'a', b'Z', b'0', b'.', 0xa9] {
            for at in 0..8 {
                for b in 0..=255u8 {
                    let mut w = [filler; 8];
                    w[at] = b;
                    // A second marked byte above the first must not move it.
                    if at < 7 {
                        w[7] = b' ';
                    }
                    let x = u64::from_le_bytes(w);
                    let key = |b: u8| KEY[usize::from(b)];
                    for k in 0..8 {
                        let marked = swar::not_key(x) >> (8 * k + 7) & 1 == 1;
                        assert_eq!(marked, !key(w[k]), "{w:?} byte {k}");
                    }
                    for n in [1, 0x21, 0x80] {
                        assert_eq!(
                            first(swar::below(x, n)),
                            naive_first(w, &|b| b < n),
                            "{w:?} < {n}"
                        );
                    }
                    for c in [b'"', b'$', 0] {
                        assert_eq!(
                            first(swar::equal(x, c)),
                            naive_first(w, &|b| b == c),
                            "{w:?} == {c}"
                        );
                    }
                    assert_eq!(
                        first(swar::within(x, b'0', b'9')),
                        naive_first(w, &|b| b.is_ascii_digit()),
                        "{w:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn reads_plain_quoted_and_exported_values() {
        let text = "# renovate: datasource=helm\r\nexport CILIUM=1.18.6 # pin\r\nA='x y'\nB = \"q\\\"z\"\nEMPTY=\nNOTE= # later\nHASH=#1\n";
        let entries = parse("f", text).unwrap();
        let got: Vec<_> = entries
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str(), &text[e.span.clone()]))
            .collect();
        assert_eq!(
            got,
            [
                ("CILIUM", "1.18.6", "1.18.6"),
                ("A", "x y", "'x y'"),
                ("B", "q\"z", "\"q\\\"z\""),
                ("EMPTY", "", ""),
                ("NOTE", "", ""),
                ("HASH", "#1", "#1"),
            ]
        );
        // An empty value before a comment sits right after `=`, so setting it keeps the comment.
        let note = &entries[4];
        assert_eq!(&text[note.span.start - 1..note.span.start + 2], "= #");
    }

    #[test]
    fn bad_lines_name_line_and_column() {
        let err = parse("f", "A=1\n  not a pin\n").unwrap_err();
        assert!(
            matches!(
                err,
                EditError::Parse {
                    line: 2,
                    column: 3,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = parse("f", "A=1\n9KEY=2\n").unwrap_err();
        assert!(
            matches!(
                err,
                EditError::Parse {
                    line: 2,
                    column: 1,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    /// Values that are not dotenv quoting are read as kustomize reads env files: everything
    /// after `=`, quotes and all; the well-formed lines around them read as before.
    #[test]
    fn values_outside_dotenv_quoting_are_read_verbatim() {
        let text = "A=1.0 # pin\ncluster_l2_interfaces=[\"end0\"]\r\nJSON={\"a\": [1, 2]}\nOPEN=\"v1\nAFTER='a' b\nSPACED = [x]\nB=\"2.0\" # ok\n";
        let entries = parse("f", text).unwrap();
        let got: Vec<_> = entries
            .iter()
            .map(|e| {
                (
                    e.key.as_str(),
                    e.value.as_str(),
                    &text[e.span.clone()],
                    e.style,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("A", "1.0", "1.0", QuoteStyle::Plain),
                (
                    "cluster_l2_interfaces",
                    "[\"end0\"]",
                    "[\"end0\"]",
                    QuoteStyle::Plain
                ),
                (
                    "JSON",
                    "{\"a\": [1, 2]}",
                    "{\"a\": [1, 2]}",
                    QuoteStyle::Plain
                ),
                ("OPEN", "\"v1", "\"v1", QuoteStyle::Plain),
                ("AFTER", "'a' b", "'a' b", QuoteStyle::Plain),
                ("SPACED", "[x]", "[x]", QuoteStyle::Plain),
                ("B", "2.0", "\"2.0\"", QuoteStyle::Double),
            ]
        );
    }

    #[test]
    fn rendered_values_read_back() {
        for style in [QuoteStyle::Plain, QuoteStyle::Single, QuoteStyle::Double] {
            for value in ["1.2.3", "a b", "it's", "x#y", "q\"z", "$HOME"] {
                let text = format!("K={}\n", render_value(value, style));
                let entries = parse("f", &text).unwrap();
                assert_eq!(entries[0].value, value, "{text}");
            }
        }
    }
}
