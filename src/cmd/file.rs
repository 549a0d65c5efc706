//! `promote versions FILE` and `promote set FILE COMPONENT VERSION`: one file, no config.

use std::io::Write;
use std::path::{Path, PathBuf};

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
    /// The locator for `file`: the given kind, or the one the file declares.
    pub fn locator(&self, file: &str, bytes: &[u8]) -> Result<Locator, EditError> {
        let kind = match self.kind {
            Some(kind) => kind,
            None => source::detect_kind(file, bytes).ok_or_else(|| EditError::UnknownKind {
                file: file.to_string(),
            })?,
        };
        Ok(Locator {
            kind,
            at: self.at.clone(),
            items: self.items.clone(),
            key: self.key.clone(),
            value: self.value.clone(),
            version_key: self.version_key.clone(),
        })
    }
}

/// One component as `promote versions --format json` prints it.
#[derive(Debug, Serialize)]
struct ComponentRow<'a> {
    id: &'a str,
    name: &'a str,
    version: &'a str,
    file: &'a str,
    line: usize,
    column: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    indirect: Option<&'a str>,
}

pub fn versions(file: &Path, args: &VersionsFileArgs) -> anyhow::Result<i32> {
    let label = file.display().to_string();
    let bytes = fs_err::read(file)?;
    let loc = args.locator.locator(&label, &bytes)?;
    let inv = source::read(&loc, &label, &bytes)?;
    for note in &inv.notes {
        eprintln!("note: {note}");
    }
    match args.format {
        Format::Json => {
            let rows: Vec<ComponentRow<'_>> = inv
                .components
                .iter()
                .map(|c| ComponentRow {
                    id: &c.name,
                    name: &c.name,
                    version: &c.version,
                    file: &label,
                    line: c.line,
                    column: c.column,
                    indirect: c.indirect.as_deref(),
                })
                .collect();
            let doc = serde_json::json!({ "schema_version": 1, "components": rows });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        Format::Text | Format::Markdown => print!("{}", versions_table(&label, &inv)),
    }
    Ok(0)
}

/// The aligned text table of `promote versions FILE`.
pub fn versions_table(label: &str, inv: &Inventory) -> String {
    let rows: Vec<[String; 3]> = inv
        .components
        .iter()
        .map(|c| {
            let version = match &c.indirect {
                Some(var) => format!("-> {} (indirect: {var})", c.version),
                None => c.version.clone(),
            };
            [
                c.name.clone(),
                version,
                format!("{label}:{}:{}", c.line, c.column),
            ]
        })
        .collect();
    let header = [
        "COMPONENT".to_string(),
        "VERSION".to_string(),
        "LOCATION".to_string(),
    ];
    let width = |i: usize| {
        rows.iter()
            .chain(std::iter::once(&header))
            .map(|r| r[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let (w0, w1) = (width(0), width(1));
    let mut out = String::new();
    for r in std::iter::once(&header).chain(&rows) {
        out.push_str(&format!("{:<w0$}  {:<w1$}  {}\n", r[0], r[1], r[2]));
    }
    out
}

pub fn set(args: &SetArgs) -> anyhow::Result<i32> {
    let label = args.file.display().to_string();
    let bytes = fs_err::read(&args.file)?;
    let loc = args.locator.locator(&label, &bytes)?;
    let out = source::set_versions(&loc, &label, &bytes, &[(&args.component, &args.version)])?;
    if args.dry_run {
        print!("{}", unified_diff(&label, &bytes, &out));
        return Ok(0);
    }
    if out != bytes {
        write_atomically(&args.file, &out)?;
    }
    Ok(0)
}

/// A unified diff of one file's edit, with `a/` and `b/` headers.
pub fn unified_diff(label: &str, before: &[u8], after: &[u8]) -> String {
    let (old, new) = (
        String::from_utf8_lossy(before),
        String::from_utf8_lossy(after),
    );
    similar::TextDiff::from_lines(old.as_ref(), new.as_ref())
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{label}"), &format!("b/{label}"))
        .to_string()
}

/// Write `bytes` to `path` through a temporary file in the same folder, then rename, keeping
/// the file's permissions.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".promote-")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    if let Ok(meta) = std::fs::metadata(path) {
        tmp.as_file().set_permissions(meta.permissions())?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
