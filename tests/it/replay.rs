//! `promote plan --event-name/--event-path`: the replay goes through `promote run`'s own
//! decision path against the local clone, and writes nothing.

use std::path::Path;

use serde_json::json;

use crate::support::{copy_dir, example_repo, git, run_in, snapshot_tree};

fn write_event(dir: &Path, payload: &serde_json::Value) -> String {
    let path = dir.join("event.json");
    std::fs::write(&path, payload.to_string()).expect("event");
    path.to_str().expect("utf8").to_string()
}

fn replay(dir: &Path, name: &str, event: &str, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["plan", "--event-name", name, "--event-path", event];
    args.extend_from_slice(extra);
    run_in(dir, &args)
}

fn line<'o>(out: &'o str, id: &str) -> &'o str {
    out.lines()
        .find(|l| l.contains(&format!("{id} ")))
        .unwrap_or_else(|| panic!("no `{id}` in {out}"))
}

fn head(dir: &Path) -> String {
    git(dir, &["rev-parse", "HEAD"]).trim().to_string()
}

#[test]
fn a_push_replay_promotes_what_changed_like_run() {
    let repo = example_repo("kustomize-overlays");
    let before = head(repo.path());
    let dev = repo
        .path()
        .join("infra/argocd/overlays/dev/kustomization.yaml");
    let text = std::fs::read_to_string(&dev).expect("dev");
    std::fs::write(&dev, text.replace("sha-abc12345", "sha-0a1b2c3d")).expect("write");
    git(repo.path(), &["commit", "-qam", "bump dex"]);
    let after = head(repo.path());
    let tmp = tempfile::tempdir().expect("tmp");
    let event = write_event(
        tmp.path(),
        &json!({"ref": "refs/heads/main", "before": before, "after": after, "forced": false, "deleted": false, "commits": []}),
    );
    let snapshot = snapshot_tree(repo.path());
    let (code, out, err) = replay(repo.path(), "push", &event, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("promote dev -> stage"), "{out}");
    assert!(
        line(&out, "ghcr.io/acme/dex").contains(" -> sha-0a1b2c3d"),
        "{out}"
    );
    assert!(
        line(&out, "ghcr.io/acme/dex")
            .trim_start()
            .starts_with("change"),
        "{out}"
    );
    assert_eq!(
        snapshot_tree(repo.path()),
        snapshot,
        "a replay writes nothing"
    );
    // The same push replayed from its first commit: nothing changed, and it says so.
    let event = write_event(
        tmp.path(),
        &json!({"ref": "refs/heads/main", "before": before, "after": before, "forced": false, "deleted": false, "commits": []}),
    );
    let (code, out, err) = replay(repo.path(), "push", &event, &[]);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert!(
        err.contains("the push to `main` changed no component that promotes onward"),
        "{err}"
    );
}

fn dispatch(force: bool) -> serde_json::Value {
    json!({"inputs": {"force": force}, "ref": "refs/heads/main", "repository": {"full_name": "acme/homelab"}, "sender": {"login": "alice"}, "workflow": "promote.yaml"})
}

#[test]
fn a_dispatch_replay_is_gated_and_force_lifts_the_gate() {
    let repo = example_repo("flux-terragrunt");
    let tmp = tempfile::tempdir().expect("tmp");
    let gated = write_event(tmp.path(), &dispatch(false));
    let (code, out, err) = replay(repo.path(), "workflow_dispatch", &gated, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(line(&out, "helm/cilium").contains("held"), "{out}");
    assert!(line(&out, "helm/cilium").contains("no status"), "{out}");
    let forced = write_event(tmp.path(), &dispatch(true));
    let (code, out, err) = replay(repo.path(), "workflow_dispatch", &forced, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        line(&out, "helm/cilium").trim_start().starts_with("change"),
        "{out}"
    );
}

#[test]
fn a_flux_replay_in_a_subfolder_moves_the_one_component_it_names_with_statuses_from_a_file() {
    // The example lives in a subfolder of a bigger repository, as in this project.
    let top = tempfile::tempdir().expect("top");
    let sub = top.path().join("examples/flux-terragrunt");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/flux-terragrunt"),
        &sub,
    );
    git(top.path(), &["init", "-q"]);
    git(top.path(), &["add", "-A"]);
    git(top.path(), &["commit", "-qm", "initial"]);
    let sha = head(top.path());
    let tmp = tempfile::tempdir().expect("tmp");
    let payload = std::fs::read_to_string(crate::support::fixture(
        "events/repository-dispatch-flux-ready.json",
    ))
    .expect("fixture")
    .replace("6dcb09b5b57875f334f61aebed695e2e4193db5e", &sha);
    let event = tmp.path().join("flux.json");
    std::fs::write(&event, payload).expect("write");
    let event = event.to_str().expect("utf8");
    let statuses = tmp.path().join("statuses.json");
    std::fs::write(
        &statuses,
        json!([
            {"context": "kustomization/cilium/integration", "state": "success", "creator": {"login": "flux-bot"}},
            {"context": "kustomization/cert-manager/integration", "state": "success", "creator": {"login": "flux-bot"}}
        ])
        .to_string(),
    )
    .expect("statuses");
    let statuses = statuses.to_str().expect("utf8");
    let (code, out, err) = replay(
        &sub,
        "repository_dispatch",
        event,
        &["--statuses", statuses],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        line(&out, "helm/cilium").trim_start().starts_with("change"),
        "{out}"
    );
    let cm = line(&out, "helm/cert-manager");
    assert!(
        cm.contains("Flux reported `cilium`, not this component"),
        "{out}"
    );
    // Without statuses the gate holds it, as `run` would.
    let (code, out, err) = replay(&sub, "repository_dispatch", event, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(line(&out, "helm/cilium").contains("held"), "{out}");
}

#[test]
fn a_no_op_event_exits_0_with_the_reason_and_an_unknown_commit_says_fetch_it() {
    let repo = example_repo("flux-terragrunt");
    let tmp = tempfile::tempdir().expect("tmp");
    let failure = std::fs::read_to_string(crate::support::fixture("events/status-failure.json"))
        .expect("fixture");
    let event = tmp.path().join("failure.json");
    std::fs::write(&event, failure).expect("write");
    let (code, out, err) = replay(repo.path(), "status", event.to_str().expect("utf8"), &[]);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert!(
        err.contains(
            "status `kustomization/cilium/integration` is `failure` for 6dcb09b: nothing promoted"
        ),
        "{err}"
    );
    // A success for a commit this clone does not have.
    let success = std::fs::read_to_string(crate::support::fixture("events/status-success.json"))
        .expect("fixture");
    let event = tmp.path().join("success.json");
    std::fs::write(&event, success).expect("write");
    let (code, _, err) = replay(repo.path(), "status", event.to_str().expect("utf8"), &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("commit `6dcb09b5b57875f334f61aebed695e2e4193db5e` is not in the local clone"),
        "{err}"
    );
}

#[test]
fn a_replay_reads_statuses_and_check_runs_from_the_api_given_a_token() {
    use crate::fake_github::{FakeCommit, FakeGitHub};
    let repo = example_repo("flux-terragrunt");
    // Trust the Actions app's check runs too.
    let cfg = repo.path().join(".github/promote.toml");
    let text = std::fs::read_to_string(&cfg).expect("config");
    std::fs::write(
        &cfg,
        text.replace(
            "creators = [\"flux-bot\"]",
            "creators = [\"flux-bot\", \"github-actions\"]",
        ),
    )
    .expect("config");
    let sha = head(repo.path());
    let gh = FakeGitHub::start("acme/homelab");
    // The fake knows the local commit by its sha, as GitHub would after a push.
    gh.state().commits.insert(
        sha.clone(),
        FakeCommit {
            sha: sha.clone(),
            parent: None,
            message: "initial".into(),
            files: Default::default(),
            seq: 1,
        },
    );
    gh.add_status(
        &sha,
        "kustomization/cilium/integration",
        "success",
        "flux-bot",
    );
    gh.add_check_run(
        &sha,
        "kustomization/cilium/integration",
        "completed",
        Some("failure"),
        "github-actions",
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let event = write_event(tmp.path(), &dispatch(false));
    let replay_with_api = || {
        let out = crate::support::promote_cmd()
            .args([
                "plan",
                "--event-name",
                "workflow_dispatch",
                "--event-path",
                &event,
            ])
            .current_dir(repo.path())
            .env("GITHUB_TOKEN", crate::action_e2e::TOKEN)
            .env("GITHUB_REPOSITORY", "acme/homelab")
            .env("GITHUB_API_URL", gh.url())
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let stdout = replay_with_api();
    assert!(
        line(&stdout, "helm/cilium").contains("`kustomization/cilium/integration` is failure"),
        "{stdout}"
    );
    let paths = gh.request_lines();
    assert!(
        paths
            .iter()
            .any(|p| p.contains(&format!("/commits/{sha}/statuses")))
            && paths
                .iter()
                .any(|p| p.contains(&format!("/commits/{sha}/check-runs"))),
        "{paths:?}"
    );
    // Positive control: the check run passes, and cilium moves.
    gh.add_check_run(
        &sha,
        "kustomization/cilium/integration",
        "completed",
        Some("success"),
        "github-actions",
    );
    let stdout = replay_with_api();
    assert!(
        line(&stdout, "helm/cilium")
            .trim_start()
            .starts_with("change"),
        "{stdout}"
    );
}
