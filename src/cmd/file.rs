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

/// A unified diff of one file with `--- a/FILE` and `+++ b/FILE` headers.
pub fn unified_diff(file: &str, old: &[u8], new: &[u8]) -> String {
    let file = file.trim_start_matches('/');
    let (old, new) = (String::from_utf8_lossy(old), String::from_utf8_lossy(new));
    similar::TextDiff::from_lines(old.as_ref(), new.as_ref())
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{file}"), &format!("b/{file}"))
        .to_string()
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
