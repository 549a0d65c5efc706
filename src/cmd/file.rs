//! `promote versions FILE` and `promote set FILE COMPONENT VERSION`: one file, no config.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use super::Format;
use crate::edit::EditError;
use crate::source::{self, Inventory, Kind, Locator};

/// Where versions live in the file, when `--kind` is given or must be.
#[derive(Debug, Clone, clap::Args)]
pub struct LocatorArgs {
    /// Source kind; left out, it is detected from the file where the file says what it is.
    #[arg(long, value_enum)]
    pub kind: Option<Kind>,
    /// `hcl-map`/`toml`: path of the map or table; `yaml`: path of one scalar.
    #[arg(long)]
    pub at: Option<String>,
    /// `yaml`: path of the list of items.
    #[arg(long)]
    pub items: Option<String>,
    /// `yaml`: field naming an item.
    #[arg(long)]
    pub key: Option<String>,
    /// `yaml`: field holding the version.
    #[arg(long)]
    pub value: Option<String>,
    /// `flux`: ResourceSet input field holding the version (dotted).
    #[arg(long)]
    pub version_key: Option<String>,
    /// `yaml`/`toml`/`hcl-map`: the value is a whole image reference; version its tag only.
    #[arg(long, value_enum)]
    pub part: Option<source::Part>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct VersionsFileArgs {
    /// The file to read; left out, the components x environments matrix of the config.
    pub file: Option<PathBuf>,
    /// With no FILE: only this environment.
    #[arg(long)]
    pub env: Option<String>,
    #[command(flatten)]
    pub locator: LocatorArgs,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    #[command(flatten)]
    pub project: super::ProjectArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct SetArgs {
    pub file: PathBuf,
    pub component: String,
    pub version: String,
    #[command(flatten)]
    pub locator: LocatorArgs,
    /// Print the unified diff instead of writing.
    #[arg(long)]
    pub dry_run: bool,
}

impl LocatorArgs {
    /// The locator for `file`: the given `--kind`, or the one the file's name and content tell.
    ///
    /// An `.hcl` file without a `versions` object is still `hcl-map` when `--at` says where to look.
    pub fn locator(&self, file: &str, bytes: &[u8]) -> Result<Locator, EditError> {
        let hcl = file.ends_with(".hcl") || file.ends_with(".tf");
        let hcl_at = (self.at.is_some() && hcl).then_some(Kind::HclMap);
        // `--at` names a map or block: a `terragrunt.hcl` or `*.tf` is then read as `hcl-map`.
        let detected = match source::detect_kind(file, bytes) {
            Some(Kind::ModuleSource) if hcl_at.is_some() => hcl_at,
            other => other,
        };
        let kind = self
            .kind
            .or(detected)
            .or(hcl_at)
            .ok_or_else(|| EditError::UnknownKind {
                file: file.to_string(),
            })?;
        Ok(Locator {
            kind,
            at: self.at.clone(),
            items: self.items.clone(),
            key: self.key.clone(),
            value: self.value.clone(),
            version_key: self.version_key.clone(),
            part: self.part,
        })
    }
}

/// `promote versions FILE`: list the file's components.
pub fn versions(file: &Path, args: &VersionsFileArgs) -> anyhow::Result<i32> {
    let label = file.display().to_string();
    let bytes = fs_err::read(file)?;
    let loc = args.locator.locator(&label, &bytes)?;
    let inv = source::read(&loc, &label, &bytes)?;
    for note in &inv.notes {
        crate::action::diag(&format!("note: {note}"));
    }
    let indirect: Vec<&str> = inv
        .components
        .iter()
        .filter(|c| c.indirect.is_some())
        .map(|c| c.name.as_str())
        .collect();
    if !indirect.is_empty() {
        // HCL references (`local.x`) live in the same file; `${var}` substitutions in env files.
        let hint = if loc.kind == Kind::HclMap {
            "hint: change the value the reference names (a `locals` attribute of this file: `versions FILE --at locals`)"
        } else if loc.kind == Kind::ModuleSource {
            "hint: only a whole `${local.x}` of this file that one source uses is followed; list other locals with `versions FILE --at locals`, variables where they are set"
        } else {
            "hint: list the file that sets the variable (often a `dotenv` source, or `substitute-from`)"
        };
        crate::action::diag(&format!(
            "note: `{}` {} set through a variable (`-> ${{var}}`), not a literal version; promote never edits {}\n{hint}",
            indirect.join("`, `"),
            if indirect.len() == 1 { "is" } else { "are" },
            if indirect.len() == 1 { "it" } else { "them" },
        ));
    }
    let out = match args.format {
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&JsonVersions::new(&inv))?
        ),
        Format::Text => render_table(&inv, false),
        Format::Markdown => render_table(&inv, true),
    };
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(0)
}

/// `promote versions --format json`, schema version 1.
#[derive(Serialize)]
struct JsonVersions<'a> {
    schema_version: u32,
    components: Vec<JsonComponent<'a>>,
}

#[derive(Serialize)]
struct JsonComponent<'a> {
    id: &'a str,
    name: &'a str,
    version: &'a str,
    file: &'a str,
    line: usize,
    column: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    indirect: Option<&'a str>,
}

impl<'a> JsonVersions<'a> {
    fn new(inv: &'a Inventory) -> Self {
        let components = inv
            .components
            .iter()
            .map(|c| JsonComponent {
                id: &c.name,
                name: &c.name,
                version: &c.version,
                file: &inv.file,
                line: c.line,
                column: c.column,
                indirect: c.indirect.as_deref(),
            })
            .collect();
        JsonVersions {
            schema_version: 1,
            components,
        }
    }
}

/// An aligned text table (or a markdown one) of component, version, line and column.
fn render_table(inv: &Inventory, markdown: bool) -> String {
    let mut rows = vec![["COMPONENT", "VERSION", "LINE", "COLUMN"].map(String::from)];
    for c in &inv.components {
        let version = match &c.indirect {
            // A `${var:-default}` keeps its default in view.
            Some(_) if c.version.starts_with("${") && c.version.contains(":-") => {
                format!("-> {}", c.version)
            }
            Some(variable) => format!("-> ${{{variable}}}"),
            None => c.version.to_string(),
        };
        rows.push([
            c.name.to_string(),
            version,
            c.line.to_string(),
            c.column.to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..4)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (n, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, &w))| match i {
                0 | 1 => format!("{cell:<w$}"),
                _ => format!("{cell:>w$}"),
            })
            .collect();
        if markdown {
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
            if n == 0 {
                let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
                out.push_str(&format!("|-{}-|\n", rule.join("-|-")));
            }
        } else {
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
    }
    out
}

/// `promote set FILE COMPONENT VERSION`: edit one version in place, or print the diff.
pub fn set(args: &SetArgs) -> anyhow::Result<i32> {
    let label = args.file.display().to_string();
    let bytes = fs_err::read(&args.file)?;
    let loc = args.locator.locator(&label, &bytes)?;
    let inv = source::read(&loc, &label, &bytes)?;
    // Unknown components are left to `set_versions`, which lists the known ones.
    let rule = inv
        .get(&args.component)
        .map_or(source::Rule::Any, |c| c.rule);
    if let Err(message) = source::validate_version(rule, &args.version) {
        anyhow::bail!(
            "bad VERSION argument for `{}` in {label}: {message}; nothing written",
            args.component
        );
    }
    let out = source::set_versions(
        &loc,
        &label,
        &bytes,
        &[(args.component.as_str(), args.version.as_str())],
    )?;
    if out == bytes {
        crate::action::diag(&format!(
            "note: `{}` is already at `{}`; nothing to change",
            args.component, args.version
        ));
        return Ok(0);
    }
    if args.dry_run {
        std::io::stdout().write_all(unified_diff(&label, &bytes, &out).as_bytes())?;
        return Ok(0);
    }
    write_atomically(&args.file, &out)?;
    crate::action::diag(&format!(
        "set `{}` to `{}` in {label}",
        args.component, args.version
    ));
    Ok(0)
}

/// Lines of context around each change in a diff.
const CONTEXT: usize = 3;

/// A unified diff of one file with `--- a/FILE` and `+++ b/FILE` headers.
///
/// An edit that changes version bytes keeps every line where it was: the changed lines are then
/// those that differ at the same line number, found in one pass ([`aligned_diff`]), where a
/// Myers diff of a file of 370,000 lines with 15,000 changes took about half a second and 50 MB
/// (four times the file). An edit that adds or removes lines (`--add-missing`) goes through
/// `similar`.
pub fn unified_diff(file: &str, old: &[u8], new: &[u8]) -> String {
    let file = file.trim_start_matches('/');
    let (old, new) = (String::from_utf8_lossy(old), String::from_utf8_lossy(new));
    let header = (format!("a/{file}"), format!("b/{file}"));
    aligned_diff(&old, &new, &header).unwrap_or_else(|| myers_diff(&old, &new, &header))
}

/// `similar`'s unified diff (Myers): for edits that add or remove lines.
fn myers_diff(old: &str, new: &str, header: &(String, String)) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(CONTEXT)
        .header(&header.0, &header.1)
        .to_string()
}

/// The lines of `text` as `similar` cuts them: each with its ending, `\n`, `\r\n` or a lone
/// `\r`, the last one without an ending if the text has none.
fn lines(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(memchr::memchr_iter(b'\n', bytes).count() + 1);
    let mut start = 0;
    while let Some(i) = memchr::memchr2(b'\r', b'\n', &bytes[start..]).map(|i| start + i) {
        let end = if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            i + 2
        } else {
            i + 1
        };
        out.push(&text[start..end]);
        start = end;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// The unified diff of two texts with the same number of lines, each line of `old` paired with
/// the line of `new` at its number; `None` when the counts differ. Written as `similar` writes
/// its unified diffs: lines compared with their endings, hunks of the changes at most
/// `2 * CONTEXT` unchanged lines apart with `CONTEXT` lines around them, each run of changed
/// lines as its old lines then its new ones, `\ No newline at end of file` after a last line
/// without one, and nothing at all for equal texts.
fn aligned_diff(old: &str, new: &str, header: &(String, String)) -> Option<String> {
    use std::fmt::Write;
    let (a, b) = (lines(old), lines(new));
    if a.len() != b.len() {
        return None;
    }
    let changed: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    let mut out = String::new();
    if changed.is_empty() {
        return Some(out);
    }
    let _ = writeln!(out, "--- {}\n+++ {}", header.0, header.1);
    let line = |out: &mut String, tag: char, text: &str| {
        out.push(tag);
        out.push_str(text);
        if !text.ends_with(['\r', '\n']) {
            out.push_str("\n\\ No newline at end of file\n");
        }
    };
    let mut at = 0;
    while at < changed.len() {
        // One hunk: the changes up to the first gap of more than `2 * CONTEXT` lines.
        let mut end = at + 1;
        while end < changed.len() && changed[end] - changed[end - 1] - 1 <= 2 * CONTEXT {
            end += 1;
        }
        let first = changed[at].saturating_sub(CONTEXT);
        let last = (changed[end - 1] + 1 + CONTEXT).min(a.len());
        let range = match last - first {
            1 => format!("{}", first + 1),
            len => format!("{},{len}", first + 1),
        };
        let _ = writeln!(out, "@@ -{range} +{range} @@");
        let mut i = first;
        while i < last {
            if a[i] == b[i] {
                line(&mut out, ' ', a[i]);
                i += 1;
                continue;
            }
            let run = (i..last).find(|&j| a[j] == b[j]).unwrap_or(last);
            a[i..run].iter().for_each(|l| line(&mut out, '-', l));
            b[i..run].iter().for_each(|l| line(&mut out, '+', l));
            i = run;
        }
        at = end;
    }
    Some(out)
}

/// Replace `path` with `bytes` through a temp file in the same folder, keeping its permissions.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    // Write through a symlink (a shared versions file linked into each environment), not over it.
    let resolved = fs_err::canonicalize(path)?;
    let path = resolved.as_path();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let perms = fs_err::metadata(path)?.permissions();
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a temp file in `{}`", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write `{}`", tmp.path().display()))?;
    fs_err::set_permissions(tmp.path(), perms)?;
    tmp.persist(path)
        .with_context(|| format!("cannot replace `{}`", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{aligned_diff, lines, myers_diff, unified_diff};

    fn header() -> (String, String) {
        ("a/f".to_string(), "b/f".to_string())
    }

    /// Apply a unified diff to `old`: every context and removed line must stand where its hunk
    /// says, as `patch` would check.
    fn apply(old: &str, diff: &str) -> String {
        let old_lines = lines(old);
        let mut out = String::new();
        let mut next = 0;
        // The diff's lines end as the texts' lines do (`\r` alone included).
        let mut body = lines(diff).into_iter().skip(2).peekable();
        while let Some(head) = body.next() {
            // `-START,LEN` (`-START` for one line); an empty range names the line before it.
            let range = head
                .strip_prefix("@@ -")
                .and_then(|r| r.split(' ').next())
                .expect("a hunk header");
            let (start, len) = range.split_once(',').unwrap_or((range, "1"));
            let start: usize = start.parse().expect("a start line");
            let start = if len == "0" { start } else { start - 1 };
            old_lines[next..start].iter().for_each(|l| out.push_str(l));
            let mut at = start;
            while let Some(l) = body.next_if(|l| !l.starts_with("@@")) {
                let (tag, mut text) = l.split_at(1);
                if body.peek() == Some(&"\\ No newline at end of file\n") {
                    body.next();
                    text = text.strip_suffix('\n').expect("a line");
                }
                match tag {
                    " " | "-" => {
                        assert_eq!(old_lines[at], text, "line {} of the old text", at + 1);
                        if tag == " " {
                            out.push_str(text);
                        }
                        at += 1;
                    }
                    "+" => out.push_str(text),
                    other => panic!("unexpected line tag `{other}`"),
                }
            }
            next = at;
        }
        old_lines[next..].iter().for_each(|l| out.push_str(l));
        out
    }

    /// Lines as YAML repeats them, with every ending a file may have.
    fn pieces() -> impl Strategy<Value = Vec<(usize, usize, Option<usize>)>> {
        // (content, ending, changed to): contents repeat; an ending of 3 is none.
        proptest::collection::vec(
            (0..4usize, 0..3usize, proptest::option::of(0..4usize)),
            0..40,
        )
    }

    fn texts(
        pieces: &[(usize, usize, Option<usize>)],
        last_ending: bool,
        unique: bool,
    ) -> (String, String) {
        const CONTENT: [&str; 4] = ["  kind: HelmRepository", "spec:", "", "    version: 1.2.3"];
        const ENDING: [&str; 3] = ["\n", "\r\n", "\r"];
        let (mut old, mut new) = (String::new(), String::new());
        for (i, &(content, ending, changed)) in pieces.iter().enumerate() {
            let end = if i + 1 == pieces.len() && !last_ending {
                ""
            } else {
                ENDING[ending]
            };
            old.push_str(if unique && changed.is_some() {
                "old"
            } else {
                CONTENT[content]
            });
            match changed {
                Some(_) if unique => new.push_str(&format!("new {i}")),
                Some(to) => new.push_str(CONTENT[to]),
                None => new.push_str(CONTENT[content]),
            }
            if unique && changed.is_some() {
                old.push_str(&format!(" {i}"));
            }
            old.push_str(end);
            new.push_str(end);
        }
        (old, new)
    }

    proptest! {
        /// With each changed line unlike any other, the one best pairing of lines is line by
        /// line: the aligned diff is then `similar`'s, byte for byte.
        #[test]
        fn an_aligned_diff_is_the_myers_diff_of_changed_lines(
            pieces in pieces(),
            last_ending in any::<bool>(),
        ) {
            let (old, new) = texts(&pieces, last_ending, true);
            let aligned = aligned_diff(&old, &new, &header()).expect("the same line count");
            prop_assert_eq!(&aligned, &myers_diff(&old, &new, &header()));
            prop_assert_eq!(apply(&old, &aligned), new);
        }

        /// With lines that repeat, Myers may pair them otherwise; the aligned diff still turns
        /// the old text into the new one.
        #[test]
        fn an_aligned_diff_applies(pieces in pieces(), last_ending in any::<bool>()) {
            let (old, new) = texts(&pieces, last_ending, false);
            let diff = unified_diff("f", old.as_bytes(), new.as_bytes());
            prop_assert_eq!(apply(&old, &diff), new.clone());
            prop_assert_eq!(apply(&old, &myers_diff(&old, &new, &header())), new);
        }
    }

    #[test]
    fn hunks_split_past_twice_the_context_and_lines_added_go_through_myers() {
        let old: String = (1..=20).map(|i| format!("l{i}\n")).collect();
        // Lines 3 and 10 have 6 unchanged lines between them: one hunk; line 18 has 7 after
        // line 10: a hunk of its own, cut at the end of the file.
        let new = old
            .replace("l3\n", "L3\n")
            .replace("l10\n", "L10\n")
            .replace("l18\n", "L18\n");
        let diff = unified_diff("/f", old.as_bytes(), new.as_bytes());
        let heads: Vec<&str> = diff.lines().filter(|l| l.starts_with("@@")).collect();
        assert_eq!(heads, ["@@ -1,13 +1,13 @@", "@@ -15,6 +15,6 @@"]);
        assert!(diff.starts_with("--- a/f\n+++ b/f\n"), "{diff}");
        assert_eq!(diff, myers_diff(&old, &new, &header()));
        // A line added: the counts differ, and Myers tells what moved.
        let added = old.replace("l5\n", "l5\nnew\n");
        assert_eq!(aligned_diff(&old, &added, &header()), None);
        let diff = unified_diff("f", old.as_bytes(), added.as_bytes());
        assert!(
            diff.contains("@@ -3,6 +3,7 @@\n l3\n l4\n l5\n+new\n l6\n"),
            "{diff}"
        );
        // Lines added to an empty file: Myers names the empty range by the line before it.
        let diff = unified_diff("f", b"", b"a\nb");
        assert!(diff.contains("@@ -0,0 +1,2 @@\n"), "{diff}");
        assert_eq!(apply("", &diff), "a\nb");
        // Equal texts: no diff at all.
        assert_eq!(unified_diff("f", old.as_bytes(), old.as_bytes()), "");
    }
}
