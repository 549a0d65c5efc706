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
/// Write `text` to `path` under `root`, making its folders.
pub fn write_file(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("a folder")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

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

/// How [`smart_http`] answers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Serve {
    /// Git's own smart HTTP: each request handed to `git http-backend` (CGI).
    Git,
    /// Reads the request and never answers (a hung server).
    Silent,
    /// `200 OK` with an HTML page, as a login page or a dumb server would.
    Html,
    /// As `Git`, but a push (`POST …/git-receive-pack`) gets `502 Bad Gateway`.
    FailPush,
}

/// One request [`smart_http`] saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub authorization: Option<String>,
}

/// Git's smart HTTP on 127.0.0.1 for the repositories under `root` (`http://…/NAME.git`),
/// `git http-backend` behind a small HTTP/1.1 server of the test's own, pushes allowed. With
/// `token`, a request without `Authorization: Basic x-access-token:TOKEN` gets `401`, as GitHub
/// answers. Stops with the test process.
pub struct SmartHttp {
    pub url: String,
    pub seen: std::sync::Arc<std::sync::Mutex<Vec<Seen>>>,
}

pub fn smart_http(root: &Path, token: Option<&str>, serve: Serve) -> SmartHttp {
    use base64::Engine as _;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let expected = token.map(|t| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{t}"))
        )
    });
    let (root, log) = (root.to_path_buf(), seen.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (root, log, expected) = (root.clone(), log.clone(), expected.clone());
            std::thread::spawn(move || answer(stream, &root, &log, expected.as_deref(), serve));
        }
    });
    SmartHttp {
        url: format!("http://127.0.0.1:{port}"),
        seen,
    }
}

fn answer(
    mut stream: std::net::TcpStream,
    root: &Path,
    log: &std::sync::Mutex<Vec<Seen>>,
    expected: Option<&str>,
    serve: Serve,
) {
    use std::io::{Read, Write};
    // The request line and headers, then a body of `Content-Length` bytes.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let mut request = lines.next().unwrap_or("").split(' ');
    let method = request.next().unwrap_or("").to_owned();
    let target = request.next().unwrap_or("").to_owned();
    let mut headers = std::collections::HashMap::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if stream.read_exact(&mut body).is_err() {
        return;
    }
    let authorization = headers.get("authorization").cloned();
    log.lock().expect("log").push(Seen {
        method: method.clone(),
        target: target.clone(),
        authorization: authorization.clone(),
    });
    let reply = |stream: &mut std::net::TcpStream, status: &str, headers: &str, body: &[u8]| {
        let head = format!(
            "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).ok();
        stream.write_all(body).ok();
    };
    match serve {
        Serve::Silent => {
            std::thread::sleep(std::time::Duration::from_secs(120));
            return;
        }
        Serve::Html => {
            return reply(
                &mut stream,
                "200 OK",
                "Content-Type: text/html\r\n",
                b"<html>sign in</html>",
            );
        }
        Serve::FailPush if method == "POST" && target.ends_with("/git-receive-pack") => {
            return reply(&mut stream, "502 Bad Gateway", "", b"");
        }
        Serve::Git | Serve::FailPush => {}
    }
    if let Some(expected) = expected
        && authorization.as_deref() != Some(expected)
    {
        return reply(
            &mut stream,
            "401 Unauthorized",
            "WWW-Authenticate: Basic realm=\"git\"\r\n",
            b"",
        );
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut cgi = std::process::Command::new("git");
    cgi.arg("http-backend")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("REMOTE_USER", "promote")
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("CONTENT_LENGTH", length.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    if let Some(kind) = headers.get("content-type") {
        cgi.env("CONTENT_TYPE", kind);
    }
    isolate_git(&mut cgi);
    let mut child = cgi.spawn().expect("git http-backend");
    let mut stdin = child.stdin.take().expect("stdin");
    let feeder = std::thread::spawn(move || stdin.write_all(&body).ok());
    let out = child.wait_with_output().expect("git http-backend");
    feeder.join().ok();
    // The CGI answer: headers (a `Status:` among them), a blank line, the body.
    let text = &out.stdout;
    let split = text
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4))
        .or_else(|| {
            text.windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, i + 2))
        })
        .unwrap_or((text.len(), text.len()));
    let cgi_head = String::from_utf8_lossy(&text[..split.0]).into_owned();
    let mut status = "200 OK".to_owned();
    let mut pass = String::new();
    for line in cgi_head.lines() {
        match line.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("status") => {
                status = value.trim().to_owned();
            }
            Some(_) => {
                pass.push_str(line.trim_end());
                pass.push_str("\r\n");
            }
            None => {}
        }
    }
    reply(&mut stream, &status, &pass, &text[split.1..]);
}
