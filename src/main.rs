use std::process::ExitCode;

use clap::{Parser, Subcommand};
use promote::cmd;

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
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PROMOTE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Versions(args) => match &args.file {
            Some(file) => cmd::file::versions(file, args),
            None => {
                anyhow::Result::Err(anyhow::anyhow!("the versions matrix is not available yet"))
            }
        },
        Command::Set(args) => cmd::file::set(args),
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
