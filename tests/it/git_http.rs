//! `GitForge` against an `http://` remote: git's smart HTTP carried by promote's own client
//! (`forge::git_http`), served by `git http-backend` on 127.0.0.1 and read back with the git CLI.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use promote::forge::git::GitForge;
use promote::forge::http::RetryPolicy;
use promote::forge::{FileChange, Forge, ForgeError, Token};

use crate::support::{Serve, SmartHttp, smart_http};

/// The git CLI (the tests' own config), its output trimmed.
fn git(dir: &Path, args: &[&str]) -> String {
    crate::support::git(dir, args).trim_end().to_owned()
}

const TOKEN: &str = "s3cret-token";

struct Repos {
    _dir: tempfile::TempDir,
    root: PathBuf,
    origin: PathBuf,
    work: PathBuf,
}

/// `origin.git` with one commit on `main`, and `work`, a clone of it whose `origin` is `url`.
fn repos(url_of: impl FnOnce(&Path) -> String) -> Repos {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    git(&root, &["init", "-q", "--bare", "-b", "main", "origin.git"]);
    git(&root, &["clone", "-q", "origin.git", "seed"]);
    let seed = root.join("seed");
    std::fs::create_dir_all(seed.join("clusters/live")).unwrap();
    std::fs::write(seed.join("clusters/live/versions.env"), "CILIUM=1.15.0\n").unwrap();
    git(&seed, &["add", "."]);
    git(&seed, &["commit", "-q", "-m", "initial"]);
    git(&seed, &["push", "-q", "origin", "main"]);
    git(&root, &["clone", "-q", "origin.git", "work"]);
    let work = root.join("work");
    let url = url_of(&root);
    git(&work, &["remote", "set-url", "origin", &url]);
    Repos {
        _dir: dir,
        origin: root.join("origin.git"),
        root,
        work,
    }
}

fn change(contents: &str) -> [FileChange; 1] {
    [FileChange {
        path: "clusters/live/versions.env".into(),
        contents: Some(contents.as_bytes().to_vec()),
    }]
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        tries: 2,
        base_delay: Duration::from_millis(10),
        connect_timeout: Duration::from_secs(2),
        timeout: Duration::from_secs(1),
        deadline: Duration::from_secs(20),
        ..RetryPolicy::default()
    }
}

fn serve(serve: Serve) -> (Repos, SmartHttp) {
    let mut server = None;
    let repos = repos(|root| {
        let s = smart_http(root, Some(TOKEN), serve);
        let url = format!("{}/origin.git", s.url);
        server = Some(s);
        url
    });
    (repos, server.unwrap())
}

#[test]
fn a_commit_is_pushed_over_http_with_the_token_as_basic_auth() {
    let (repos, server) = serve(Serve::Git);
    let forge = GitForge::open(&repos.work, Some(Token::new(TOKEN)))
        .unwrap()
        .with_author("promote", "promote@example.com");
    let head = forge.branch_head("main").unwrap();
    assert_eq!(head, git(&repos.origin, &["rev-parse", "main"]));
    let sha = forge
        .create_commit(
            "main",
            &head,
            "promote integration to live",
            &change("CILIUM=1.16.0\n"),
        )
        .unwrap();
    assert_eq!(git(&repos.origin, &["rev-parse", "main"]), sha);
    assert_eq!(
        git(&repos.origin, &["show", "main:clusters/live/versions.env"]),
        "CILIUM=1.16.0"
    );
    assert_eq!(
        forge
            .read_file("clusters/live/versions.env", "main")
            .unwrap(),
        Some(b"CILIUM=1.16.0\n".to_vec()),
        "read back through a fetch over http"
    );
    let seen = server.seen.lock().unwrap().clone();
    let targets: Vec<String> = seen
        .iter()
        .map(|s| format!("{} {}", s.method, s.target))
        .collect();
    assert!(
        targets.contains(&"GET /origin.git/info/refs?service=git-upload-pack".to_owned()),
        "{targets:?}"
    );
    assert!(
        targets.contains(&"POST /origin.git/git-receive-pack".to_owned()),
        "{targets:?}"
    );
    assert!(
        seen.iter().all(|s| s
            .authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Basic "))),
        "every request carried the token: {seen:?}"
    );
    let config = std::fs::read_to_string(repos.work.join(".git/config")).unwrap();
    assert!(
        !config.contains(TOKEN),
        "the token never lands in .git/config"
    );

    // Someone else pushes: the remote refuses the stale push, which is a conflict.
    git(&repos.root, &["clone", "-q", "origin.git", "other"]);
    let other = repos.root.join("other");
    std::fs::write(other.join("other.txt"), "theirs\n").unwrap();
    git(&other, &["add", "."]);
    git(&other, &["commit", "-q", "-m", "someone else"]);
    git(&other, &["push", "-q", "origin", "main"]);
    let theirs = git(&other, &["rev-parse", "HEAD"]);
    let err = forge
        .create_commit("main", &sha, "promote", &change("CILIUM=1.17.0\n"))
        .unwrap_err();
    assert!(matches!(err, ForgeError::Conflict { .. }), "{err}");
    assert_eq!(git(&repos.origin, &["rev-parse", "main"]), theirs);
}

/// A push is sent once, whatever the answer (a read is sent again: see the timeout test's
/// "tried 2 times"): a push repeated after an answer that was lost could land twice.
#[test]
fn a_failed_push_is_not_sent_again() {
    let (repos, server) = serve(Serve::FailPush);
    let before = git(&repos.origin, &["rev-parse", "main"]);
    let forge = GitForge::open(&repos.work, Some(Token::new(TOKEN)))
        .unwrap()
        .with_policy(quick());
    let head = forge.branch_head("main").unwrap();
    let err = forge
        .create_commit("main", &head, "promote", &change("CILIUM=1.16.0\n"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("POST ")
            && err
                .contains("/origin.git/git-receive-pack: the git remote answered 502 Bad Gateway"),
        "{err}"
    );
    assert!(!err.contains("tried"), "{err}");
    let seen = server.seen.lock().unwrap().clone();
    let pushes = seen
        .iter()
        .filter(|s| s.method == "POST" && s.target.ends_with("/git-receive-pack"))
        .count();
    assert_eq!(pushes, 1, "{seen:?}");
    assert_eq!(git(&repos.origin, &["rev-parse", "main"]), before);
}

#[test]
fn a_refused_token_is_a_clear_error_and_nothing_moves() {
    let (repos, server) = serve(Serve::Git);
    let before = git(&repos.origin, &["rev-parse", "main"]);
    for token in [Some(Token::new("wrong")), None] {
        let forge = GitForge::open(&repos.work, token.clone()).unwrap();
        let err = forge.branch_head("main").unwrap_err().to_string();
        let refused = if token.is_some() {
            "the git remote refused the token (401 Unauthorized)"
        } else {
            "the git remote refused a request without a token (401 Unauthorized)"
        };
        assert!(err.contains(refused), "{err}");
        assert!(err.contains("info/refs?service=git-upload-pack"), "{err}");
    }
    assert_eq!(git(&repos.origin, &["rev-parse", "main"]), before);
    // Positive control: the same server with the right token answers.
    let forge = GitForge::open(&repos.work, Some(Token::new(TOKEN))).unwrap();
    assert_eq!(forge.branch_head("main").unwrap(), before);
    assert!(server.seen.lock().unwrap().len() >= 3);
}

#[test]
fn a_server_that_never_answers_times_out() {
    let (repos, _server) = serve(Serve::Silent);
    let forge = GitForge::open(&repos.work, Some(Token::new(TOKEN)))
        .unwrap()
        .with_policy(quick());
    let started = Instant::now();
    let err = forge.branch_head("main").unwrap_err().to_string();
    assert!(
        err.contains("timed out after 1 s waiting for the git remote (set PROMOTE_HTTP_TIMEOUT)"),
        "{err}"
    );
    assert!(err.contains("(tried 2 times)"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_server_that_is_no_git_server_is_named() {
    let (repos, _server) = serve(Serve::Html);
    let forge = GitForge::open(&repos.work, Some(Token::new(TOKEN))).unwrap();
    let err = forge.branch_head("main").unwrap_err().to_string();
    assert!(
        err.contains(
            "the remote is no smart git HTTP server (its answer is `text/html`, not `application/x-git-upload-pack-advertisement`)"
        ),
        "{err}"
    );
}

#[test]
fn the_runs_deadline_bounds_every_request_to_the_remote() {
    let (repos, _server) = serve(Serve::Silent);
    let forge = GitForge::open(&repos.work, Some(Token::new(TOKEN)))
        .unwrap()
        .with_policy(RetryPolicy {
            timeout: Duration::from_secs(30),
            deadline: Duration::from_secs(1),
            ..quick()
        });
    let started = Instant::now();
    let err = forge.branch_head("main").unwrap_err().to_string();
    assert!(
        err.contains("the run's deadline of 1 s (PROMOTE_DEADLINE) has passed during GET"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// A remote URL carrying `user:secret@` (as scripts set it) is used as git uses it: the pair is
/// the basic auth, and neither the request line nor any message shows the secret.
#[test]
fn credentials_in_the_remote_url_are_used_and_never_shown() {
    let mut server = None;
    let repos = repos(|root| {
        let s = smart_http(root, Some(TOKEN), Serve::Git);
        let url = s
            .url
            .replace("http://", &format!("http://x-access-token:{TOKEN}@"));
        server = Some(s);
        format!("{url}/origin.git")
    });
    let server = server.unwrap();
    let forge = GitForge::open(&repos.work, None).unwrap();
    let head = forge.branch_head("main").unwrap();
    assert_eq!(head, git(&repos.origin, &["rev-parse", "main"]));
    let sha = forge
        .create_commit("main", &head, "promote", &change("CILIUM=1.16.0\n"))
        .unwrap();
    assert_eq!(git(&repos.origin, &["rev-parse", "main"]), sha);
    let seen = server.seen.lock().unwrap().clone();
    assert!(seen.iter().all(|s| !s.target.contains(TOKEN)), "{seen:?}");

    // A wrong secret in the URL: refused, and the message shows the URL without it.
    let wrong = format!(
        "{}/origin.git",
        server
            .url
            .replace("http://", "http://x-access-token:n0t-the-secret@")
    );
    git(&repos.work, &["remote", "set-url", "origin", &wrong]);
    let err = forge.branch_head("main").unwrap_err().to_string();
    assert!(
        err.contains("the git remote refused the token (401 Unauthorized)"),
        "{err}"
    );
    assert!(
        err.contains(&format!("GET {}/origin.git/info/refs", server.url)),
        "{err}"
    );
    assert!(!err.contains("n0t-the-secret"), "{err}");
}

/// Python's HTTPS server on 127.0.0.1 with `tests/fixtures/tls` (a self-signed certificate, as
/// a private CA's would be to promote), answering `200 text/plain` to every GET; and its port.
fn untrusted_tls_server() -> (std::process::Child, String) {
    use std::io::BufRead;
    let tls = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
    let script = r#"
import http.server, ssl, sys
class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Answer)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(tls.join("localhost.crt"))
        .arg(tls.join("localhost.key"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut port = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    (child, port.trim().to_owned())
}

/// An `https://` remote whose certificate no root promote trusts signs is refused at the
/// handshake, with the reason, and nothing hangs; the API client (the same TLS) refuses the same
/// server alike.
#[test]
fn an_https_remote_with_an_untrusted_certificate_is_refused() {
    let (mut child, port) = untrusted_tls_server();
    let repos = repos(|_| format!("https://127.0.0.1:{port}/origin.git"));
    let forge = GitForge::open(&repos.work, Some(Token::new(TOKEN)))
        .unwrap()
        .with_policy(quick());
    let started = Instant::now();
    let git_result = forge.branch_head("main");
    let api = promote::forge::github::GitHubForge::new(promote::forge::github::GitHubConfig {
        api_url: format!("https://127.0.0.1:{port}"),
        graphql_url: None,
        repository: "acme/live".to_owned(),
        token: Token::new(TOKEN),
        retry: quick(),
    })
    .unwrap();
    let api_result = api.branch_head("main");
    child.kill().ok();
    child.wait().ok();
    let err = git_result.unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "GET https://127.0.0.1:{port}/origin.git/info/refs?service=git-upload-pack: cannot reach the git remote"
        )),
        "{err}"
    );
    let api_err = api_result.unwrap_err().to_string();
    for err in [&err, &api_err] {
        assert!(
            err.contains("invalid peer certificate: UnknownIssuer"),
            "{err}"
        );
        assert!(!err.contains(TOKEN), "{err}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}
