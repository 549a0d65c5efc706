//! Byte-exact editing: parsers locate a value's byte span, only those bytes are replaced.
//!
//! Each format module (`hcl`, `yaml`, `toml`, `dotenv`) parses a file into a small tree (or list) of
//! scalars that carry their byte span and quote style. Source kinds (`crate::source`) navigate those
//! trees symbolically; only here do addresses become bytes.

pub mod dotenv;
pub mod hcl;
pub mod toml;
pub mod yaml;

use std::ops::Range;

/// How a string scalar was written, so a replacement can keep it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum QuoteStyle {
    Plain,
    Single,
    Double,
}

/// One replacement: the bytes in `span` become `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splice {
    pub span: Range<usize>,
    pub text: String,
}

/// Errors of reading or editing one file. Every variant names its file; most name line and column.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum EditError {
    #[error("{file}:{line}:{column}: {message}")]
    Parse {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}:{line}:{column}: version of `{component}` is not a string scalar: {found}")]
    NotAString {
        file: String,
        line: usize,
        column: usize,
        component: String,
        found: String,
    },
    #[error(
        "{file}:{line}:{column}: duplicate component `{component}` (first defined at line {first_line})"
    )]
    Duplicate {
        file: String,
        line: usize,
        column: usize,
        component: String,
        first_line: usize,
    },
    #[error("{file}: unknown component `{component}`; known: {}", known.join(", "))]
    UnknownComponent {
        file: String,
        component: String,
        known: Vec<String>,
    },
    #[error(
        "{file}:{line}:{column}: `{component}` is set through `{variable}`, not a literal version\nhint: edit the source that sets `{variable}`"
    )]
    Indirect {
        file: String,
        line: usize,
        column: usize,
        component: String,
        variable: String,
    },
    #[error("{file}:{line}:{column}: refusing to write `{component}`: {message}")]
    BadVersion {
        file: String,
        line: usize,
        column: usize,
        component: String,
        message: String,
    },
    #[error("{file}: `{path}` not found")]
    PathNotFound { file: String, path: String },
    #[error("{file}: cannot tell the kind of this file\nhint: pass `--kind`")]
    UnknownKind { file: String },
    #[error("{file}: refusing the edit: {message}")]
    Verify { file: String, message: String },
    #[error("{file}: {message}")]
    Other { file: String, message: String },
}

impl EditError {
    /// The file, line and column this error points at, for `::error` annotations.
    pub fn location(&self) -> (&str, Option<(usize, usize)>) {
        match self {
            EditError::Parse {
                file, line, column, ..
            }
            | EditError::NotAString {
                file, line, column, ..
            }
            | EditError::Duplicate {
                file, line, column, ..
            }
            | EditError::Indirect {
                file, line, column, ..
            }
            | EditError::BadVersion {
                file, line, column, ..
            } => (file, Some((*line, *column))),
            EditError::UnknownComponent { file, .. }
            | EditError::PathNotFound { file, .. }
            | EditError::UnknownKind { file }
            | EditError::Verify { file, .. }
            | EditError::Other { file, .. } => (file, None),
        }
    }
}

/// Apply non-overlapping splices to `bytes`. Splices may come in any order.
pub fn apply_splices(bytes: &[u8], splices: &[Splice]) -> Vec<u8> {
    let mut sorted: Vec<&Splice> = splices.iter().collect();
    sorted.sort_by_key(|s| s.span.start);
    let mut out = Vec::with_capacity(bytes.len() + 64);
    let mut pos = 0;
    for s in sorted {
        debug_assert!(s.span.start >= pos, "overlapping splices");
        out.extend_from_slice(&bytes[pos..s.span.start]);
        out.extend_from_slice(s.text.as_bytes());
        pos = s.span.end;
    }
    out.extend_from_slice(&bytes[pos..]);
    out
}

/// Maps byte offsets to 1-based line and column (column counted in characters).
#[derive(Debug)]
pub struct LineIndex<'a> {
    text: &'a str,
    /// Where each line starts: 4 bytes a line, as [`decode`] refuses files of 4 GiB or more (a
    /// longer text only gets later lines' numbers wrong, never a panic).
    starts: Vec<u32>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            memchr::memchr_iter(b'\n', text.as_bytes())
                .map(|i| u32::try_from(i + 1).unwrap_or(u32::MAX)),
        );
        LineIndex { text, starts }
    }

    /// 1-based (line, column) of byte `offset`.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let line = self.starts.partition_point(|&s| s as usize <= offset);
        let start = self.starts[line - 1] as usize;
        let end = offset.min(self.text.len());
        let column = self
            .text
            .get(start..end)
            .map_or(end - start, |s| s.chars().count())
            + 1;
        (line, column)
    }
}

/// Split a dotted path into its segments; a segment in double quotes may hold dots
/// (`tools."aqua:cli/cli"`, `locals.versions."helm.charts"`). Empty segments are dropped.
pub fn split_path(path: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in path.chars() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => segments.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    segments.push(current);
    segments.retain(|s| !s.is_empty());
    segments
}

/// `name` as one segment of a dotted address: quoted unless it is a bare key (letters, digits, `_-`).
pub fn path_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    push_path_segment(&mut out, name);
    out
}

/// [`path_segment`], appended to `out`.
pub fn push_path_segment(out: &mut String, name: &str) {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if bare {
        out.push_str(name);
    } else {
        out.push('"');
        out.push_str(&name.replace('"', "\\\""));
        out.push('"');
    }
}

/// Decode a file as UTF-8, or fail naming the first bad byte's line and column.
pub fn decode<'a>(file: &str, bytes: &'a [u8]) -> Result<&'a str, EditError> {
    check_size(file, bytes.len())?;
    std::str::from_utf8(bytes).map_err(|e| {
        let valid = &bytes[..e.valid_up_to()];
        let text = std::str::from_utf8(valid).unwrap_or_default();
        let (line, column) = LineIndex::new(text).line_col(text.len());
        EditError::Parse {
            file: file.to_string(),
            line,
            column,
            message: "file is not valid UTF-8".to_string(),
        }
    })
}

/// The largest file read: positions are kept in 32 bits ([`LineIndex`]).
pub const MAX_FILE_BYTES: usize = u32::MAX as usize;

/// A file of `len` bytes is refused past [`MAX_FILE_BYTES`].
fn check_size(file: &str, len: usize) -> Result<(), EditError> {
    if len > MAX_FILE_BYTES {
        return Err(EditError::Parse {
            file: file.to_string(),
            line: 1,
            column: 1,
            message: format!("the file is {len} bytes; promote reads files of up to 4 GiB"),
        });
    }
    Ok(())
}

/// The bytes every form [`indirect_variable`] recognises opens with: a value holding none of
/// them names no variable (the dotenv reader notes them as it scans a bare value).
pub const VARIABLE_OPENS: [u8; 3] = [b'$', b'{', b'<'];

/// A value that is a substitution or template, not a version: returns the variable it names.
///
/// Recognises `${var}`, `${var:-default}`, `{{ .x }}`, `<< inputs.x >>` and `$(VAR)`.
pub fn indirect_variable(value: &str) -> Option<String> {
    // Every form below opens with one of `VARIABLE_OPENS`: most versions hold none of them.
    // They are ASCII, so a byte loop finds them (cheaper than a char walk, or `memchr3` on a
    // short value).
    const OPENS: [bool; 256] = {
        let mut table = [false; 256];
        let mut i = 0;
        while i < VARIABLE_OPENS.len() {
            table[VARIABLE_OPENS[i] as usize] = true;
            i += 1;
        }
        table
    };
    if !value.bytes().any(|b| OPENS[usize::from(b)]) {
        return None;
    }
    indirect_form(value)
}

/// [`indirect_variable`] past its quick test: the value holds `$`, `{` or `<`. Kept out of line,
/// so that the quick test (nearly every call) sets up no frame for the closures below.
#[inline(never)]
fn indirect_form(value: &str) -> Option<String> {
    let v = value.trim();
    let inner = |open: &str, close: &str| -> Option<String> {
        let start = v.find(open)?;
        let rest = &v[start + open.len()..];
        let end = rest.find(close)?;
        Some(rest[..end].trim().to_string())
    };
    if let Some(s) = inner("${", "}") {
        let name = s.split([':', '-', '=', '?']).next().unwrap_or(&s).trim();
        return Some(name.to_string());
    }
    if let Some(s) = inner("{{", "}}") {
        return Some(
            s.trim_start_matches('-')
                .trim_end_matches('-')
                .trim()
                .to_string(),
        );
    }
    if let Some(s) = inner("<<", ">>") {
        return Some(s);
    }
    if let Some(s) = inner("$(", ")") {
        return Some(s);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_of_4_gib_or_more_are_refused_by_size() {
        assert_eq!(check_size("big.yaml", MAX_FILE_BYTES), Ok(()));
        let err = check_size("big.yaml", MAX_FILE_BYTES + 1).expect_err("too big");
        assert_eq!(
            err.to_string(),
            "big.yaml:1:1: the file is 4294967296 bytes; promote reads files of up to 4 GiB"
        );
    }

    #[test]
    fn line_index_maps_offsets_to_lines_and_character_columns() {
        let text = "a: 1\nbé: 2\n\nlast";
        let index = LineIndex::new(text);
        assert_eq!(index.line_col(0), (1, 1));
        assert_eq!(index.line_col(4), (1, 5));
        assert_eq!(index.line_col(5), (2, 1));
        // `é` is two bytes and one column.
        assert_eq!(index.line_col(9), (2, 4));
        assert_eq!(index.line_col(12), (3, 1));
        assert_eq!(index.line_col(13), (4, 1));
        assert_eq!(index.line_col(text.len()), (4, 5));
    }

    #[test]
    fn splices_apply_in_any_order() {
        let out = apply_splices(
            b"a=1 b=2 c=3",
            &[
                Splice {
                    span: 10..11,
                    text: "30".into(),
                },
                Splice {
                    span: 2..3,
                    text: "10".into(),
                },
            ],
        );
        assert_eq!(out, b"a=10 b=2 c=30");
    }

    #[test]
    fn line_col_counts_characters() {
        let idx = LineIndex::new("é: x\nab: y\n");
        assert_eq!(idx.line_col(0), (1, 1));
        assert_eq!(idx.line_col(4), (1, 4));
        assert_eq!(idx.line_col(7), (2, 2));
    }

    #[test]
    fn paths_split_outside_quotes() {
        assert_eq!(split_path("locals.versions"), ["locals", "versions"]);
        assert_eq!(
            split_path("tools.\"aqua:cli/cli\".x"),
            ["tools", "aqua:cli/cli", "x"]
        );
        assert_eq!(split_path(""), Vec::<String>::new());
        assert_eq!(path_segment("cert-manager"), "cert-manager");
        assert_eq!(path_segment("ghcr.io/org/dex"), "\"ghcr.io/org/dex\"");
    }

    #[test]
    fn recognises_indirect_values() {
        assert_eq!(
            indirect_variable("${cilium_version}").as_deref(),
            Some("cilium_version")
        );
        assert_eq!(indirect_variable("${v:-1.2.3}").as_deref(), Some("v"));
        assert_eq!(
            indirect_variable("{{ .Values.tag }}").as_deref(),
            Some(".Values.tag")
        );
        assert_eq!(
            indirect_variable("<< inputs.version >>").as_deref(),
            Some("inputs.version")
        );
        assert_eq!(indirect_variable("1.2.3"), None);
        assert_eq!(indirect_variable("sha-abc12345"), None);
    }
}
