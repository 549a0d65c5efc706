//! `promote versions FILE` and `promote set FILE COMPONENT VERSION`: one file, no config.

use std::path::PathBuf;

use super::Format;
use crate::source::Kind;

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

pub fn versions(file: &std::path::Path, args: &VersionsFileArgs) -> anyhow::Result<i32> {
    anyhow::bail!(
        "`promote versions {}` is not available yet ({:?})",
        file.display(),
        args.format
    )
}

pub fn set(args: &SetArgs) -> anyhow::Result<i32> {
    anyhow::bail!("`promote set {}` is not available yet", args.file.display())
}
