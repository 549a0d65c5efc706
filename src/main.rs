use std::process::ExitCode;

use clap::{Parser, Subcommand};
use promote::cmd;

/// mimalloc: a plan of tens of thousands of components makes hundreds of thousands of small
/// allocations; glibc's malloc spent a third of such a plan in the kernel (page faults, trims).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Promote versions between GitOps environments, editing only the version bytes.
#[derive(Debug, Parser)]
#[command(name = "promote", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the components of one file with their versions and locations.
    Versions(cmd::file::VersionsFileArgs),
    /// Set one component's version in one file, in place.
    Set(cmd::file::SetArgs),
    /// Show what a promotion would change, hold or leave.
    Plan(cmd::project::PlanArgs),
    /// Write a promotion's edits to the working tree (all files or none).
    Apply(cmd::project::ApplyArgs),
    /// Validate the config and parse every source in every environment.
    Check(cmd::ProjectArgs),
    /// CI mode: GitHub Actions (GITHUB_* and INPUT_*), GitLab CI (CI_*), or a GitLab webhook
    /// payload (--event-name, --event-path) in any CI.
    Run(cmd::run::RunArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    promote::action::init_logs();
    let result = match &cli.command {
        Command::Versions(args) => match &args.file {
            Some(file) => cmd::file::versions(file, args),
            None => cmd::project::matrix(&cmd::project::MatrixArgs {
                project: args.project.clone(),
                env: args.env.clone(),
                format: args.format,
            }),
        },
        Command::Set(args) => cmd::file::set(args),
        Command::Plan(args) => cmd::project::plan(args),
        Command::Apply(args) => cmd::project::apply(args),
        Command::Check(args) => cmd::project::check(args),
        Command::Run(args) => cmd::run::dispatch(args),
    };
    promote::exiting();
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            promote::action::diag(&format!("error: {e:#}"));
            ExitCode::from(1)
        }
    }
}
