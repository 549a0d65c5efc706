//! End to end: the real binary as the runner starts it (env vars, payload file, output files)
//! against the fake GitHub on 127.0.0.1.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::fake_github::FakeGitHub;
use crate::support::promote_cmd;

const TOKEN: &str = "ghs_FAKEtoken0123456789abcdefRECOGNIZABLE";

/// Every file of an example, relative path -> text.
fn example_files(name: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("dir") {
            let e = e.expect("entry");
            if e.file_type().expect("type").is_dir() {
                stack.push(e.path());
            } else {
                let rel = e
                    .path()
                    .strip_prefix(&root)
                    .expect("rel")
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, std::fs::read_to_string(e.path()).expect("text")));
            }
        }
    }
    out.sort();
    out
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    outputs: String,
    summary: String,
}

/// Run `promote run` like a Docker action step.
fn run_action(
    gh: &FakeGitHub,
    workspace: &Path,
    event: &str,
    payload: serde_json::Value,
    inputs: &[(&str, &str)],
) -> Run {
    let dir = tempfile::tempdir().expect("tmp");
    let event_path = dir.path().join("event.json");
    std::fs::write(&event_path, payload.to_string()).expect("payload");
    let (out_path, sum_path): (PathBuf, PathBuf) =
        (dir.path().join("output"), dir.path().join("summary"));
    std::fs::write(&out_path, "").expect("output");
    let mut cmd = promote_cmd();
    cmd.arg("run")
        .current_dir(workspace)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", event)
        .env("GITHUB_EVENT_PATH", &event_path)
        .env("GITHUB_WORKSPACE", workspace)
        .env("GITHUB_REPOSITORY", "acme/homelab")
        .env("GITHUB_API_URL", gh.url())
        .env("GITHUB_GRAPHQL_URL", format!("{}/graphql", gh.url()))
        .env("GITHUB_OUTPUT", &out_path)
        .env("GITHUB_STEP_SUMMARY", &sum_path)
        .env("INPUT_TOKEN", TOKEN);
    for (k, v) in inputs {
        cmd.env(format!("INPUT_{}", k.to_uppercase()), v);
    }
    let out = cmd.output().expect("runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        outputs: std::fs::read_to_string(&out_path).unwrap_or_default(),
        summary: std::fs::read_to_string(&sum_path).unwrap_or_default(),
    }
}

fn status_payload(sha: &str, context: &str, state: &str) -> serde_json::Value {
    json!({
        "id": 6805126730u64, "sha": sha, "name": "acme/homelab", "target_url": null,
        "context": context, "description": "Reconciliation finished", "state": state,
        "commit": {"sha": sha}, "branches": [{"name": "main", "commit": {"sha": sha}, "protected": true}],
        "created_at": "2026-11-20T10:00:00Z", "updated_at": "2026-11-20T10:00:00Z",
        "repository": {"full_name": "acme/homelab"}, "sender": {"login": "flux-bot"}
    })
}

fn output(run: &Run, name: &str) -> String {
    run.outputs
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn seed_002_status_on_integration_promotes_what_succeeded_at_that_commit() {
    let gh = FakeGitHub::start("acme/homelab");
    let files = example_files("flux-terragrunt");
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    gh.commit_files("main", "initial", &refs);
    let workspace = tempfile::tempdir().expect("ws");
    for (p, t) in &files {
        let full = workspace.path().join(p);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, t).expect("write");
    }
    let charts = "kubernetes/clusters/integration/helm-charts.yaml";
    let live_charts = "kubernetes/clusters/live/helm-charts.yaml";
    let integration = files
        .iter()
        .find(|(p, _)| p == charts)
        .expect("charts")
        .1
        .clone();
    // Renovate bumps integration; Flux reports on this commit.
    let bumped = integration
        .replace("version: \"1.18.6\"", "version: \"1.18.7\"")
        .replace("version: v1.19.1", "version: v1.19.2");
    let reported = gh.commit_files(
        "main",
        "chore(deps): bump cilium, cert-manager",
        &[(charts, &bumped)],
    );
    // A later commit that nobody verified yet.
    let later = bumped.replace("version: \"1.18.7\"", "version: \"1.19.0\"");
    let head = gh.commit_files(
        "main",
        "chore(deps): bump cilium again",
        &[(charts, &later)],
    );
    gh.add_status(
        &reported,
        "kustomization/cilium/5c3a9f0e",
        "success",
        "flux-bot",
    );
    gh.add_status(
        &reported,
        "kustomization/cert-manager/5c3a9f0e",
        "failure",
        "flux-bot",
    );
    let live_before = gh.file("main", live_charts).expect("live");

    let run = run_action(
        &gh,
        workspace.path(),
        "status",
        status_payload(&reported, "kustomization/cilium/5c3a9f0e", "success"),
        &[],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let new_head = gh.head("main").expect("head");
    assert_ne!(new_head, head);
    let commit = gh.commit(&new_head).expect("commit");
    assert_eq!(
        commit.parent.as_deref(),
        Some(head.as_str()),
        "the promotion lands on top of the later commit"
    );
    assert!(
        commit
            .message
            .starts_with("chore(promote): integration -> live\n\n"),
        "{}",
        commit.message
    );
    assert!(
        commit
            .message
            .contains(&format!("Promoted-From: integration@{reported}")),
        "{}",
        commit.message
    );
    // The reported commit's version is promoted, not the head's; the failed component is held.
    let live_after = gh.file("main", live_charts).expect("live");
    assert_eq!(
        live_after,
        live_before.replace("version: \"1.18.5\"", "version: \"1.18.7\"")
    );
    assert_eq!(output(&run, "changed"), "true");
    assert_eq!(output(&run, "commit-sha"), new_head);
    let promoted: serde_json::Value =
        serde_json::from_str(&output(&run, "promoted")).expect("promoted");
    assert!(
        promoted
            .as_array()
            .expect("array")
            .iter()
            .any(|p| p["component"] == "helm/cilium" && p["to"] == "1.18.7"),
        "{promoted}"
    );
    let held: serde_json::Value = serde_json::from_str(&output(&run, "held")).expect("held");
    let cm = held
        .as_array()
        .expect("array")
        .iter()
        .find(|h| h["component"] == "helm/cert-manager")
        .expect("cert-manager held");
    assert!(
        cm["reason"].as_str().expect("reason").contains("failure"),
        "{cm}"
    );
    assert!(
        run.summary
            .contains("| `helm/cilium` | `1.18.5` | `1.18.7` |"),
        "{}",
        run.summary
    );
    assert!(run.stdout.contains("::add-mask::"), "{}", run.stdout);
    for text in [&run.stderr, &run.summary, &run.outputs] {
        assert!(!text.contains(TOKEN), "token leaked");
    }
    assert!(gh.requests().iter().all(|r| r.authorization.as_deref()
        == Some(&format!("Bearer {TOKEN}"))
        || r.authorization.is_none()));

    // The same event again changes nothing.
    let again = run_action(
        &gh,
        workspace.path(),
        "status",
        status_payload(&reported, "kustomization/cilium/5c3a9f0e", "success"),
        &[],
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(gh.head("main").as_deref(), Some(new_head.as_str()));
    assert_eq!(output(&again, "changed"), "false");
}

#[test]
fn failure_status_and_foreign_events_promote_nothing() {
    let gh = FakeGitHub::start("acme/homelab");
    let files = example_files("flux-terragrunt");
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let head = gh.commit_files("main", "initial", &refs);
    let workspace = tempfile::tempdir().expect("ws");
    let cfg = workspace.path().join(".github");
    std::fs::create_dir_all(&cfg).expect("mkdir");
    std::fs::write(
        cfg.join("promote.toml"),
        &files
            .iter()
            .find(|(p, _)| p == ".github/promote.toml")
            .expect("cfg")
            .1,
    )
    .expect("write");
    let run = run_action(
        &gh,
        workspace.path(),
        "status",
        status_payload(&head, "kustomization/cilium/5c3a9f0e", "failure"),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("is `failure`"), "{}", run.stderr);
    assert_eq!(output(&run, "changed"), "false");
    let run = run_action(
        &gh,
        workspace.path(),
        "issues",
        json!({"action": "opened"}),
        &[],
    );
    assert_eq!(run.code, 0);
    assert!(
        run.stderr
            .contains("event `issues` does not trigger a promotion"),
        "{}",
        run.stderr
    );
    let run = run_action(
        &gh,
        workspace.path(),
        "status",
        json!({"state": "success"}),
        &[],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("status payload: missing field `sha`"),
        "{}",
        run.stderr
    );
    assert_eq!(gh.head("main").as_deref(), Some(head.as_str()));
}

#[test]
fn dispatch_with_force_promotes_without_statuses_and_dry_run_writes_nothing() {
    let gh = FakeGitHub::start("acme/homelab");
    let files = example_files("flux-terragrunt");
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let head = gh.commit_files("main", "initial", &refs);
    let workspace = tempfile::tempdir().expect("ws");
    let cfg = workspace.path().join(".github");
    std::fs::create_dir_all(&cfg).expect("mkdir");
    std::fs::write(
        cfg.join("promote.toml"),
        &files
            .iter()
            .find(|(p, _)| p == ".github/promote.toml")
            .expect("cfg")
            .1,
    )
    .expect("write");
    let dispatch = json!({"inputs": {"force": "true", "components": "helm/*"}, "ref": "refs/heads/main", "repository": {"full_name": "acme/homelab"}, "sender": {"login": "alice"}, "workflow": ".github/workflows/promote.yaml"});
    let dry = run_action(
        &gh,
        workspace.path(),
        "workflow_dispatch",
        dispatch.clone(),
        &[("dry-run", "true")],
    );
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(gh.head("main").as_deref(), Some(head.as_str()));
    let run = run_action(&gh, workspace.path(), "workflow_dispatch", dispatch, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let live = gh
        .file("main", "kubernetes/clusters/live/helm-charts.yaml")
        .expect("live");
    assert!(
        live.contains("version: \"6.40.0\""),
        "force promotes the loki downgrade too"
    );
    let stack = gh
        .file("main", "infrastructure/stacks/live/terragrunt.stack.hcl")
        .expect("stack");
    assert!(
        stack.contains("talos = \"v1.12.0\""),
        "infra is filtered out"
    );
}
