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
        if key.starts_with("GITHUB_")
            || key.starts_with("RUNNER_")
            || key.starts_with("INPUT_")
            || key.starts_with("GITLAB_")
            || key.starts_with("CI_")
            || key == "CI"
            || (key.starts_with("PROMOTE_") && key != "PROMOTE_BENCH_QUICK")
        {
            cmd.env_remove(key);
        }
    }
    for key in [
        "PROMOTE_LOG",
        "PROMOTE_HTTP_CONNECT_TIMEOUT",
        "PROMOTE_HTTP_TIMEOUT",
        "PROMOTE_DEADLINE",
    ] {
        cmd.env_remove(key);
    }
    isolate_git(&mut cmd);
    cmd
}

/// A home of the tests' own: no test reads or writes the user's `~/.gitconfig`. One folder in
/// the build's scratch space for every test process, so none is left behind in `/tmp`.
pub fn test_home() -> &'static Path {
    static HOME: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    HOME.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("home");
        std::fs::create_dir_all(&dir).expect("home");
        dir
    })
}

/// Point git (the CLI and libgit2) at the tests' own home and no system config.
pub fn isolate_git(cmd: &mut std::process::Command) {
    let home = test_home();
    cmd.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("GIT_CONFIG_GLOBAL", home.join(".gitconfig"))
        .env("GIT_CONFIG_NOSYSTEM", "1");
}

/// Copy a folder recursively (examples into temp repos).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Run the real `git` CLI in `dir`, returning stdout; panics on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.invalid",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env_remove("GIT_DIR")
        .env("GIT_CONFIG_GLOBAL", test_home().join(".gitconfig"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A temp copy of `examples/<name>` committed as a git repository on `main`.
pub fn example_repo(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name),
        dir.path(),
    );
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-qm", "initial"]);
    dir
}

/// Run `promote` with `args` in `dir`; returns (exit code, stdout, stderr).
pub fn run_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    run_in_with(dir, &[], args)
}

/// [`run_in`] with the variables `env` set.
pub fn run_in_with(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let out = promote_cmd()
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .expect("promote runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every file under `dir` (but `.git`) with its bytes, to prove nothing was written.
pub fn snapshot_tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let entry = entry.expect("entry");
            if entry.file_name() == ".git" {
                continue;
            }
            if entry.file_type().expect("type").is_dir() {
                stack.push(entry.path());
            } else {
                out.push((entry.path(), std::fs::read(entry.path()).expect("read")));
            }
        }
    }
    out.sort();
    out
}

/// `git daemon` serving the repositories under `root` on 127.0.0.1 (`git://`, a smart transport:
/// libgit2 fetches shallow or unshallow only over those), accepting pushes when `push`. Stopped
/// when dropped.
pub struct Daemon {
    child: std::process::Child,
    pub url: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

pub fn daemon(root: &Path, push: bool) -> Daemon {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let mut cmd = std::process::Command::new("git");
    cmd.args([
        "daemon",
        "--export-all",
        "--reuseaddr",
        "--informative-errors",
    ])
    .arg("--listen=127.0.0.1")
    .arg(format!("--port={port}"))
    .arg(format!("--base-path={}", root.display()));
    if push {
        cmd.arg("--enable=receive-pack");
    }
    let child = cmd
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("git daemon");
    let daemon = Daemon {
        child,
        url: format!("git://127.0.0.1:{port}"),
    };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return daemon;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("git daemon did not listen on {port}");
}
