//! GitHub Actions glue: `INPUT_*`/`GITHUB_*` in, outputs, step summary and workflow commands out.
//!
//! Everything here is about the runner's protocol; deciding and delivering live elsewhere.

#![deny(clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The environment of one run, read once so the rest of the code never touches env vars.
#[derive(Debug, Clone, Default)]
pub struct RunnerEnv {
    vars: BTreeMap<String, String>,
}

impl RunnerEnv {
    /// Capture the process environment.
    pub fn from_process() -> Self {
        RunnerEnv {
            vars: std::env::vars().collect(),
        }
    }

    /// Build from explicit pairs (tests).
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        RunnerEnv {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// A variable, treating empty as unset.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// An action input as a Docker action receives it: `INPUT_` + the name upper-cased, spaces
    /// to `_`, hyphens kept (`dry-run` arrives as `INPUT_DRY-RUN`). The underscore spelling is
    /// accepted too, for runners that normalise it.
    pub fn input(&self, name: &str) -> Option<&str> {
        let upper = name.to_uppercase().replace(' ', "_");
        self.var(&format!("INPUT_{upper}"))
            .or_else(|| self.var(&format!("INPUT_{}", upper.replace('-', "_"))))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    /// A boolean input: `true`/`false` (any case), empty or missing is `default`.
    pub fn bool_input(&self, name: &str, default: bool) -> Result<bool, String> {
        match self.input(name) {
            None => Ok(default),
            Some(v) => parse_bool(v)
                .ok_or_else(|| format!("input `{name}` must be `true` or `false`, got `{v}`")),
        }
    }

    /// The workspace folder (`GITHUB_WORKSPACE`, else the current folder).
    pub fn workspace(&self) -> PathBuf {
        self.var("GITHUB_WORKSPACE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
    }
}

/// Parse the boolean spellings GitHub hands out (`true`, `false`, any case).
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// Make text safe to print where the runner parses workflow commands, on stdout or stderr: a
/// line that starts (after blanks) with `::` is prefixed with `| `, every `##[` (the legacy
/// command form, found anywhere in a line) is broken up, and a carriage return (which the runner
/// may take as a line end) is shown as `\r`. Text without any of these comes back unchanged.
pub fn neutralize(text: &str) -> std::borrow::Cow<'_, str> {
    if !risky(text) {
        return std::borrow::Cow::Borrowed(text);
    }
    let lines: Vec<String> = text
        .split('\n')
        .map(|line| {
            let line = line.replace('\r', "\\r").replace("##[", "## [");
            if line.trim_start().starts_with("::") {
                format!("| {line}")
            } else {
                line
            }
        })
        .collect();
    std::borrow::Cow::Owned(lines.join("\n"))
}

/// Whether `text` holds `::`, `##[` or a carriage return: one pass over its bytes, stopping only
/// at `:`, `#` and `\r` (a plan of 30,000 lines is mostly none of them).
fn risky(text: &str) -> bool {
    let b = text.as_bytes();
    memchr::memchr3_iter(b':', b'#', b'\r', b).any(|i| {
        matches!(
            b.get(i..),
            Some([b':', b':', ..] | [b'#', b'#', b'[', ..] | [b'\r', ..])
        )
    })
}

/// Print a diagnostic line (or lines) on stderr, neutralized.
pub fn diag(text: &str) {
    eprintln!("{}", neutralize(text));
}

/// Install promote's logs: `tracing_subscriber`'s formatter on stderr, neutralized
/// ([`SafeStderr`]), in colour only for a person at a terminal (`NO_COLOR` unset). With
/// `PROMOTE_LOG` set, its `EnvFilter` (`debug`, `promote=debug,octocrab=info`); unset or
/// unreadable, warnings and errors ([`Warnings`]).
pub fn init_logs() {
    use tracing_subscriber::util::SubscriberInitExt;
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    match tracing_subscriber::EnvFilter::try_from_env("PROMOTE_LOG") {
        Ok(filter) => log_format(colour).with_env_filter(filter).init(),
        Err(_) => Warnings {
            colour,
            format: std::sync::OnceLock::new(),
        }
        .init(),
    }
}

fn log_format(
    colour: bool,
) -> tracing_subscriber::fmt::SubscriberBuilder<
    tracing_subscriber::fmt::format::DefaultFields,
    tracing_subscriber::fmt::format::Format,
    tracing_subscriber::filter::LevelFilter,
    fn() -> SafeStderr,
> {
    tracing_subscriber::fmt()
        .with_ansi(colour)
        .with_writer(SafeStderr::new as fn() -> SafeStderr)
}

/// The logs of a run without `PROMOTE_LOG`: warnings and errors, written by the same formatter
/// as `PROMOTE_LOG=warn` writes them, which is made at the first of them. A run that warns of
/// nothing makes none: the formatter's span registry alone is a 32 KiB table and, in the
/// allocator, a page of 512 KiB of its own, so a third 2 MiB page of memory cleared for a
/// plan of 3 components (0.86 of its wall time without it).
struct Warnings {
    colour: bool,
    format: std::sync::OnceLock<tracing::Dispatch>,
}

impl Warnings {
    fn format(&self) -> &tracing::Dispatch {
        self.format.get_or_init(|| {
            tracing::Dispatch::new(
                log_format(self.colour)
                    .with_max_level(tracing::Level::WARN)
                    .finish(),
            )
        })
    }
}

impl tracing::Subscriber for Warnings {
    fn register_callsite(
        &self,
        metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if self.enabled(metadata) {
            tracing::subscriber::Interest::always()
        } else {
            tracing::subscriber::Interest::never()
        }
    }

    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() <= tracing::Level::WARN
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::WARN)
    }

    // Spans (only of warning or error level get here) and events go to the formatter.
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        self.format().new_span(span)
    }

    fn record(&self, span: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        self.format().record(span, values);
    }

    fn record_follows_from(&self, span: &tracing::span::Id, follows: &tracing::span::Id) {
        self.format().record_follows_from(span, follows);
    }

    fn event(&self, event: &tracing::Event<'_>) {
        self.format().event(event);
    }

    fn enter(&self, span: &tracing::span::Id) {
        self.format().enter(span);
    }

    fn exit(&self, span: &tracing::span::Id) {
        self.format().exit(span);
    }

    fn clone_span(&self, id: &tracing::span::Id) -> tracing::span::Id {
        self.format().clone_span(id)
    }

    fn try_close(&self, id: tracing::span::Id) -> bool {
        self.format().try_close(id)
    }
}

/// A writer for logs (`tracing`) that neutralizes what it writes, event by event.
pub struct SafeStderr(Vec<u8>);

impl SafeStderr {
    pub fn new() -> Self {
        SafeStderr(Vec::new())
    }
}

impl Default for SafeStderr {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for SafeStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.0).into_owned();
        self.0.clear();
        std::io::stderr().write_all(neutralize(&text).as_bytes())
    }
}

impl Drop for SafeStderr {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// A writer that neutralizes what passes through it line by line, giving what [`neutralize`]
/// gives for the whole text: a large document (a JSON plan) is printed as it is serialized,
/// not gathered in one buffer first. A line is held until its `\n`; [`SafeLines::finish`]
/// writes a last line without one.
pub struct SafeLines<W: Write> {
    out: W,
    line: Vec<u8>,
}

impl<W: Write> SafeLines<W> {
    pub fn new(out: W) -> Self {
        SafeLines {
            out,
            line: Vec::new(),
        }
    }

    fn emit(out: &mut W, line: &[u8]) -> std::io::Result<()> {
        out.write_all(neutralize(&String::from_utf8_lossy(line)).as_bytes())
    }

    /// Write the held line, if any, and flush; the writer back.
    pub fn finish(mut self) -> std::io::Result<W> {
        if !self.line.is_empty() {
            Self::emit(&mut self.out, &self.line)?;
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for SafeLines<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for piece in buf.split_inclusive(|&b| b == b'\n') {
            match piece.last() {
                Some(b'\n') if self.line.is_empty() => Self::emit(&mut self.out, piece)?,
                Some(b'\n') => {
                    self.line.extend_from_slice(piece);
                    Self::emit(&mut self.out, &self.line)?;
                    self.line.clear();
                }
                // The start of a line: held until its end comes.
                _ => self.line.extend_from_slice(piece),
            }
        }
        Ok(buf.len())
    }

    /// Flushes what was written up to the last `\n`: a line is only ever checked whole.
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Prints `::group::title` now and `::endgroup::` when dropped, so a group is closed on every
/// path, errors included.
pub struct Group;

impl Group {
    pub fn open(title: &str) -> Group {
        println!("::group::{}", escape_data(title));
        Group
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        println!("::endgroup::");
    }
}

/// Escape data for a workflow command message (`::error::…`).
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escape a workflow command property (`file=…`).
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `::error file=F,line=L,col=C::message`, for a problem in a file.
pub fn error_annotation(file: Option<&str>, position: Option<(usize, usize)>, msg: &str) -> String {
    let mut props = Vec::new();
    if let Some(f) = file {
        props.push(format!("file={}", escape_property(f)));
    }
    if let Some((line, col)) = position {
        props.push(format!("line={line}"));
        props.push(format!("col={col}"));
    }
    if props.is_empty() {
        format!("::error::{}", escape_data(msg))
    } else {
        format!("::error {}::{}", props.join(","), escape_data(msg))
    }
}

/// `::add-mask::value`, so the runner redacts a secret from every later log line.
pub fn add_mask(secret: &str) -> String {
    format!("::add-mask::{}", escape_data(secret))
}

/// Appends `name=value` outputs to the `GITHUB_OUTPUT` file, using the heredoc form for
/// multi-line values as the runner expects.
pub fn write_outputs(path: &Path, outputs: &[(&str, String)]) -> std::io::Result<()> {
    let mut f = fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    for (name, value) in outputs {
        if value.contains('\n') {
            let mut delimiter = String::from("promote_EOF");
            while value.contains(&delimiter) {
                delimiter.push('_');
            }
            writeln!(f, "{name}<<{delimiter}\n{value}\n{delimiter}")?;
        } else {
            writeln!(f, "{name}={value}")?;
        }
    }
    Ok(())
}

/// Appends markdown to the `GITHUB_STEP_SUMMARY` file.
pub fn append_summary(path: &Path, markdown: &str) -> std::io::Result<()> {
    let mut f = fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(markdown.as_bytes())?;
    if !markdown.ends_with('\n') {
        f.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Written in any pieces, a text comes out of `SafeLines` as `neutralize` gives it whole.
        #[test]
        fn safe_lines_neutralize_as_the_whole_text(
            text in "([a-z \t:#\\[\r\n]|::|##\\[|é|\r\n|  ::set-output)*",
            cuts in proptest::collection::vec(0usize..64, 0..8),
        ) {
            let mut safe = SafeLines::new(Vec::new());
            let mut rest = text.as_bytes();
            for cut in cuts {
                let (piece, tail) = rest.split_at(cut.min(rest.len()));
                safe.write_all(piece).expect("a vector takes every write");
                rest = tail;
            }
            safe.write_all(rest).expect("a vector takes every write");
            let out = safe.finish().expect("a vector takes every write");
            proptest::prop_assert_eq!(
                String::from_utf8(out).expect("utf-8"),
                neutralize(&text).into_owned()
            );
        }

        /// The one-pass check finds exactly what the three searches find.
        #[test]
        fn risky_is_the_three_searches(text in "([a-z :#\\[\r\n]|::|##\\[){0,16}") {
            let searched = text.contains("::") || text.contains("##[") || text.contains('\r');
            proptest::prop_assert_eq!(risky(&text), searched);
        }
    }

    #[test]
    fn inputs_keep_hyphens_and_accept_underscores() {
        let env = RunnerEnv::from_pairs([("INPUT_DRY-RUN", "true"), ("INPUT_COMMIT_MODE", "git")]);
        assert_eq!(env.input("dry-run"), Some("true"));
        assert_eq!(env.input("commit-mode"), Some("git"));
        assert_eq!(env.bool_input("dry-run", false), Ok(true));
        assert_eq!(env.bool_input("force", false), Ok(false));
        let bad = RunnerEnv::from_pairs([("INPUT_FORCE", "yes")]);
        assert!(bad.bool_input("force", false).is_err());
    }

    #[test]
    fn annotations_escape_their_parts() {
        assert_eq!(
            error_annotation(Some("a,b:c.yaml"), Some((3, 7)), "bad\nvalue 100%"),
            "::error file=a%2Cb%3Ac.yaml,line=3,col=7::bad%0Avalue 100%25"
        );
        assert_eq!(error_annotation(None, None, "x"), "::error::x");
    }

    #[test]
    fn untrusted_text_cannot_start_a_workflow_command() {
        let hostile = "Progressing\n::set-output name=changed::true\n  ::warning::x\r::error::y\nok ##[set-output name=a;]b";
        let safe = neutralize(hostile);
        assert_eq!(
            safe,
            "Progressing\n| ::set-output name=changed::true\n|   ::warning::x\\r::error::y\nok ## [set-output name=a;]b"
        );
        for line in safe.lines() {
            assert!(!line.trim_start().starts_with("::"), "{line}");
            assert!(!line.contains("##["), "{line}");
        }
        // Ordinary text is left alone.
        assert!(matches!(
            neutralize("a: b :: c"),
            std::borrow::Cow::Owned(_)
        ));
        assert_eq!(neutralize("a: b :: c"), "a: b :: c");
        assert!(matches!(
            neutralize("plain"),
            std::borrow::Cow::Borrowed("plain")
        ));
    }

    #[test]
    fn multiline_outputs_use_a_delimiter() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out");
        write_outputs(
            &path,
            &[
                ("changed", "true".into()),
                ("body", "a\npromote_EOF\nb".into()),
            ],
        )
        .expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(
            text,
            "changed=true\nbody<<promote_EOF_\na\npromote_EOF\nb\npromote_EOF_\n"
        );
    }
}
