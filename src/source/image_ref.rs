//! `part = "image-tag"`: a value that is a whole image reference (`registry/name:tag`,
//! `name@sha256:...`, `name:tag@sha256:...`, `localhost:5000/api:1.2`) is versioned by its tag (or
//! digest) only.
//!
//! A kind reads the whole string as usual; this narrows each component to the reference's
//! `:tag` / `@digest` suffix: the span then holds the separator and the version, so a tag can
//! become a digest (`:1.2` -> `@sha256:...`). The name and everything before the suffix stay,
//! quotes and escapes included; the address records that text, so the re-read after an edit
//! checks it too.

use serde::{Deserialize, Serialize};

use super::{Component, Inventory, Locator, Rule, Syntax};
use crate::edit::{EditError, LineIndex, QuoteStyle};

/// Which part of a string value is the version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Part {
    /// The tag (or digest, or `tag@digest`) of an image reference.
    ImageTag,
}

impl Part {
    pub fn as_str(self) -> &'static str {
        match self {
            Part::ImageTag => "image-tag",
        }
    }
}

/// The version at the end of an image reference: the byte offset of its separator (`:` or `@`)
/// and the version after it (`1.2`, `sha256:...`, `1.2@sha256:...`). `None` without a tag or digest.
pub fn split(reference: &str) -> Option<(usize, &str)> {
    let (name, digest_at) = match reference.rfind('@') {
        Some(at) => (&reference[..at], Some(at)),
        None => (reference, None),
    };
    // A tag's `:` comes after the last `/`: `localhost:5000/api` has a port, not a tag.
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let tag_at = name[last_slash..].rfind(':').map(|i| last_slash + i);
    let at = tag_at.or(digest_at)?;
    Some((at, &reference[at + 1..]))
}

/// The suffix that replaces an old one: `@` before a bare digest, `:` before a tag.
pub fn render_suffix(version: &str) -> String {
    let digest = version.starts_with("sha256:") || version.starts_with("sha512:");
    format!("{}{version}", if digest { '@' } else { ':' })
}

/// Narrow every component of `inv` to its image tag when `loc.part` asks for it.
pub fn narrow(
    loc: &Locator,
    file: &str,
    text: &str,
    mut inv: Inventory,
) -> Result<Inventory, EditError> {
    if loc.part != Some(Part::ImageTag) {
        return Ok(inv);
    }
    let index = LineIndex::new(text);
    for c in &mut inv.components {
        if c.indirect.is_none() {
            narrow_one(file, text, &index, c)?;
        }
    }
    Ok(inv)
}

fn narrow_one(
    file: &str,
    text: &str,
    index: &LineIndex,
    c: &mut Component,
) -> Result<(), EditError> {
    let refuse = |found: &str| EditError::NotAString {
        file: file.to_string(),
        line: c.line,
        column: c.column,
        component: c.name.to_string(),
        found: found.to_string(),
    };
    let inner = inner_span(text, c).ok_or_else(|| refuse("not a one-line string"))?;
    let (at, version) =
        split(&c.version).ok_or_else(|| refuse("an image reference without a tag or digest"))?;
    let suffix = &c.version[at..];
    let raw = &text[inner.clone()];
    // The suffix must be written as it reads (no escapes in it), right at the string's end.
    if !raw.ends_with(suffix) || raw[..raw.len() - suffix.len()].ends_with('\\') {
        return Err(refuse(
            "an image reference whose tag is written with escapes",
        ));
    }
    let start = inner.end - suffix.len();
    let (line, column) = index.line_col(start + 1);
    c.address = compact_str::format_compact!("{}: {}{{tag}}", c.address, &c.version[..at]);
    c.version = version.into();
    c.span = start..inner.end;
    c.line = line;
    c.column = column;
    c.syntax = Syntax::ImageSuffix;
    c.rule = Rule::ImageTag;
    Ok(())
}

/// The bytes of a string scalar between its quotes.
fn inner_span(text: &str, c: &Component) -> Option<std::ops::Range<usize>> {
    let raw = text.get(c.span.clone())?;
    let quote = match (c.syntax, c.style) {
        (Syntax::Yaml, QuoteStyle::Plain) => 0,
        (Syntax::Toml, _) if raw.starts_with("\"\"\"") || raw.starts_with("'''") => 3,
        (Syntax::Yaml | Syntax::Toml | Syntax::Hcl, _) => 1,
        _ => return None,
    };
    if raw.len() < 2 * quote || raw.contains('\n') {
        return None;
    }
    Some(c.span.start + quote..c.span.end - quote)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn splits_references_at_the_tag_or_digest() {
        assert_eq!(split("ghcr.io/acme/api:1.4.2"), Some((16, "1.4.2")));
        assert_eq!(split("localhost:5000/api:1.2"), Some((18, "1.2")));
        assert_eq!(split("localhost:5000/api"), None);
        assert_eq!(split("nginx"), None);
        assert_eq!(split("nginx:1.27"), Some((5, "1.27")));
        let pinned = format!("api@{SHA}");
        assert_eq!(split(&pinned), Some((3, SHA)));
        let both = format!("ghcr.io/acme/api:1.4.2@{SHA}");
        assert_eq!(split(&both), Some((16, &both[17..])));
        let port_digest = format!("localhost:5000/api@{SHA}");
        assert_eq!(split(&port_digest), Some((18, SHA)));
    }

    #[test]
    fn renders_the_separator_the_version_needs() {
        assert_eq!(render_suffix("1.2"), ":1.2");
        assert_eq!(render_suffix(SHA), format!("@{SHA}"));
        assert_eq!(render_suffix(&format!("1.2@{SHA}")), format!(":1.2@{SHA}"));
    }
}
