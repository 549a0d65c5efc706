//! Command implementations behind the thin clap front end in `main.rs`.
//!
//! Each command returns the process exit code (0 done, 1 error); errors are rendered once by `main`.

pub mod file;
pub mod gitlab;
pub mod project;
pub mod replay;
pub mod run;
pub mod runner;

use std::path::PathBuf;

/// Output format for commands that print data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
    Markdown,
}

/// Options every project-level command shares.
#[derive(Debug, Clone, clap::Args)]
pub struct ProjectArgs {
    /// The repository's root folder.
    #[arg(short = 'C', long = "repo", default_value = ".", global = true)]
    pub repo: PathBuf,
    /// Config file, relative to the repository root.
    #[arg(long, default_value = ".github/promote.toml", global = true)]
    pub config: PathBuf,
}
