//! `commit-mode = "git"`: the seed-002 status flow from a `--depth 1` checkout, commits pushed to
//! a bare origin with git, statuses and check runs from the fake GitHub.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::action_e2e::{output, run_action};
use crate::fake_github::{FakeCommit, FakeGitHub};
use crate::support::{copy_dir, daemon, git, test_home};

const CHARTS: &str = "kubernetes/clusters/integration/helm-charts.yaml";
const LIVE: &str = "kubernetes/clusters/live/helm-charts.yaml";

struct Origin {
    dir: tempfile::TempDir,
    bare: PathBuf,
}

/// `origin.git` holding the seed-002 example in `commit-mode = "git"`, then Renovate's bump of
/// cilium and cert-manager in integration. Returns the origin and the bump's sha.
fn origin() -> (Origin, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let seed = dir.path().join("seed");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/flux-terragrunt"),
        &seed,
    );
    let cfg = seed.join(".github/promote.toml");
    let text = std::fs::read_to_string(&cfg).expect("config");
    std::fs::write(
        &cfg,
        text.replace(
            "delivery = \"commit\"",
            "delivery = \"commit\"\ncommit-mode = \"git\"",
        ),
    )
    .expect("config");
    git(&seed, &["init", "-q", "-b", "main"]);
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "-qm", "initial"]);
    let charts = seed.join(CHARTS);
    let text = std::fs::read_to_string(&charts).expect("charts");
    std::fs::write(
        &charts,
        text.replace("version: \"1.18.6\"", "version: \"1.18.7\"")
            .replace("version: v1.19.1", "version: v1.19.2"),
    )
    .expect("bump");
    git(
        &seed,
        &["commit", "-qam", "chore(deps): bump cilium, cert-manager"],
    );
    let bump = git(&seed, &["rev-parse", "HEAD"]).trim().to_string();
    git(dir.path(), &["clone", "-q", "--bare", "seed", "origin.git"]);
    let bare = dir.path().join("origin.git");
    (Origin { dir, bare }, bump)
}

/// Let the fake GitHub know a commit of the origin by its sha, as GitHub would after a push.
fn known(gh: &FakeGitHub, sha: &str) {
    gh.state().commits.insert(
        sha.to_string(),
        FakeCommit {
            sha: sha.to_string(),
            parent: None,
            message: String::new(),
            files: Default::default(),
            seq: 1,
        },
    );
}

fn status(sha: &str) -> serde_json::Value {
    json!({
        "sha": sha, "state": "success", "context": "kustomization/cilium/integration",
        "branches": [{"name": "main"}], "sender": {"login": "flux-bot"}
    })
}

/// A `--depth 1` clone of the served origin, as `actions/checkout` makes by default.
fn shallow_clone(origin: &Origin, served: &crate::support::Daemon) -> PathBuf {
    let url = format!("{}/origin.git", served.url);
    git(
        origin.dir.path(),
        &["clone", "-q", "--depth", "1", &url, "ws"],
    );
    origin.dir.path().join("ws")
}

fn file_at(bare: &Path, rev: &str, path: &str) -> String {
    git(bare, &["show", &format!("{rev}:{path}")])
}

#[test]
fn seed_002_status_flow_in_git_mode_from_a_depth_1_checkout() {
    seed_002_status_flow_in_git_mode(false);
}

/// The same flow with `origin` an `http://` remote (git's smart HTTP, `git http-backend`) that
/// asks for the token: the action's `token` reaches it as basic auth through promote's own HTTP
/// client on every request, and never lands in `.git/config`.
#[test]
fn seed_002_status_flow_in_git_mode_over_http_with_the_token() {
    seed_002_status_flow_in_git_mode(true);
}

fn seed_002_status_flow_in_git_mode(over_http: bool) {
    let (origin, bump) = origin();
    let (ws, served) = checkout(&origin, over_http);
    // A Docker action runs as root on a workspace its runner's user owns.
    let chowned = std::process::Command::new("chown")
        .args(["-R", "4242:4242"])
        .arg(&ws)
        .status()
        .is_ok_and(|s| s.success());
    let gh = FakeGitHub::start("acme/homelab");
    known(&gh, &bump);
    let live_before = file_at(&origin.bare, "main", LIVE);
    let gitconfig = test_home().join(".gitconfig");
    let config_before = std::fs::read(&gitconfig).ok();

    // No status yet: everything is held, nothing is pushed.
    let run = run_action(&gh, &ws, "status", status(&bump), &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(output(&run, "changed"), "false");
    assert_eq!(git(&origin.bare, &["rev-parse", "main"]).trim(), bump);

    // Flux reports: cilium healthy, cert-manager failed.
    gh.add_status(
        &bump,
        "kustomization/cilium/integration",
        "success",
        "flux-bot",
    );
    gh.add_status(
        &bump,
        "kustomization/cert-manager/integration",
        "failure",
        "flux-bot",
    );
    let run = run_action(&gh, &ws, "status", status(&bump), &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let head = git(&origin.bare, &["rev-parse", "main"]).trim().to_string();
    assert_ne!(head, bump, "the promotion was pushed");
    assert_eq!(output(&run, "changed"), "true");
    assert_eq!(output(&run, "commit-sha"), head);
    let parent = git(&origin.bare, &["rev-parse", "main^"])
        .trim()
        .to_string();
    assert_eq!(parent, bump);
    let message = git(&origin.bare, &["log", "-1", "--format=%B", "main"]);
    assert!(
        message.contains(&format!("Promoted-From: integration@{bump}")),
        "{message}"
    );
    assert_eq!(
        file_at(&origin.bare, "main", LIVE),
        live_before.replace("version: \"1.18.5\"", "version: \"1.18.7\""),
        "cilium moved, cert-manager held"
    );
    assert!(
        output(&run, "held").contains("helm/cert-manager"),
        "{}",
        run.outputs
    );
    assert_eq!(
        std::fs::read(&gitconfig).ok(),
        config_before,
        "no git config file was written"
    );
    if let Served::Http(served) = &served {
        let seen = served.seen.lock().expect("seen").clone();
        assert!(
            seen.iter()
                .any(|s| s.method == "POST" && s.target == "/origin.git/git-receive-pack"),
            "{seen:?}"
        );
        assert!(
            seen.iter().all(|s| s.authorization.is_some()),
            "every request carried the token: {seen:?}"
        );
        let config = std::fs::read_to_string(ws.join(".git/config")).expect("config");
        assert!(!config.contains(crate::action_e2e::TOKEN), "{config}");
    }
    if !chowned {
        eprintln!("note: not root; the foreign-owner part of this test did not run");
    }
}

#[test]
fn a_protected_branch_is_a_clear_error_not_a_retry_loop() {
    let (origin, bump) = origin();
    let hook = origin.bare.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'GH006: Protected branch update failed for refs/heads/main.' >&2\nexit 1\n",
    )
    .expect("hook");
    std::process::Command::new("chmod")
        .args(["+x"])
        .arg(&hook)
        .status()
        .expect("chmod");
    let served = daemon(origin.dir.path(), true);
    git(
        origin.dir.path(),
        &["clone", "-q", &format!("{}/origin.git", served.url), "ws"],
    );
    let ws = origin.dir.path().join("ws");
    let gh = FakeGitHub::start("acme/homelab");
    known(&gh, &bump);
    gh.add_status(
        &bump,
        "kustomization/cilium/integration",
        "success",
        "flux-bot",
    );
    let started = std::time::Instant::now();
    let run = run_action(&gh, &ws, "status", status(&bump), &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("the remote refused the push")
            && run.stderr.contains("GH006: Protected branch update failed"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("kept moving"), "{}", run.stderr);
    assert!(
        output(&run, "error").contains("refused the push"),
        "{}",
        run.outputs
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(git(&origin.bare, &["rev-parse", "main"]).trim(), bump);
    // Positive control: without the rule, the same run pushes.
    std::fs::remove_file(&hook).expect("rm hook");
    let run = run_action(&gh, &ws, "status", status(&bump), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_ne!(git(&origin.bare, &["rev-parse", "main"]).trim(), bump);
}

#[test]
fn a_push_in_git_mode_from_a_depth_1_checkout_fetches_its_before() {
    push_from_a_depth_1_checkout_fetches_its_before(false);
}

/// The same over git's smart HTTP: libgit2's unshallowing fetch, carried by promote's client.
#[test]
fn a_push_in_git_mode_over_http_from_a_depth_1_checkout_fetches_its_before() {
    push_from_a_depth_1_checkout_fetches_its_before(true);
}

fn push_from_a_depth_1_checkout_fetches_its_before(over_http: bool) {
    let (origin, bump) = origin();
    let before = git(&origin.bare, &["rev-parse", "main^"])
        .trim()
        .to_string();
    let (ws, _served) = checkout(&origin, over_http);
    assert!(
        std::process::Command::new("git")
            .args(["cat-file", "-e", &before])
            .current_dir(&ws)
            .status()
            .is_ok_and(|s| !s.success()),
        "`before` is not in the checkout"
    );
    let gh = FakeGitHub::start("acme/homelab");
    known(&gh, &bump);
    gh.add_status(
        &bump,
        "kustomization/cilium/integration",
        "success",
        "flux-bot",
    );
    let push = json!({
        "ref": "refs/heads/main", "before": before, "after": bump, "forced": false,
        "deleted": false, "commits": []
    });
    let run = run_action(&gh, &ws, "push", push, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(output(&run, "changed"), "true", "{}", run.stderr);
    let promoted = output(&run, "promoted");
    assert!(promoted.contains("helm/cilium"), "{promoted}");
    assert!(
        !promoted.contains("infra/"),
        "only what the push changed: {promoted}"
    );
    assert!(!ws.join(".git/shallow").exists(), "the history was fetched");
}

/// What serves the origin for a test, kept until its end.
enum Served {
    Daemon(#[allow(dead_code)] crate::support::Daemon),
    Http(crate::support::SmartHttp),
}

/// The runner's depth-1 checkout of the origin, served by `git daemon` or over smart HTTP.
fn checkout(origin: &Origin, over_http: bool) -> (PathBuf, Served) {
    let (ws, served) = if over_http {
        let (ws, served) = http_checkout(origin);
        (ws, Served::Http(served))
    } else {
        let served = daemon(origin.dir.path(), true);
        (shallow_clone(origin, &served), Served::Daemon(served))
    };
    assert!(ws.join(".git/shallow").exists(), "a depth-1 checkout");
    (ws, served)
}

/// The origin over git's smart HTTP, asking for the action's token, and the runner's depth-1
/// checkout of it (the git CLI has no token here: cloned over the file URL), its `origin` then
/// the served URL, as `actions/checkout` leaves it.
fn http_checkout(origin: &Origin) -> (PathBuf, crate::support::SmartHttp) {
    use crate::support::{Serve, smart_http};
    let served = smart_http(
        origin.dir.path(),
        Some(crate::action_e2e::TOKEN),
        Serve::Git,
    );
    let url = format!("file://{}", origin.bare.display());
    git(
        origin.dir.path(),
        &["clone", "-q", "--depth", "1", &url, "ws"],
    );
    let ws = origin.dir.path().join("ws");
    let http_url = format!("{}/origin.git", served.url);
    git(&ws, &["remote", "set-url", "origin", &http_url]);
    (ws, served)
}
