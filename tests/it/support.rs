//! Shared test helpers.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Path of a file under `tests/fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// A `promote` command with ambient `GITHUB_*`/`RUNNER_*`/`INPUT_*` variables removed, so tests
/// behave the same on a laptop and inside Actions.
pub fn promote_cmd() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_promote"));
    for (key, _) in std::env::vars() {
        if key.starts_with("GITHUB_") || key.starts_with("RUNNER_") || key.starts_with("INPUT_") {
            cmd.env_remove(key);
        }
    }
    cmd.env_remove("PROMOTE_LOG");
    cmd
}
