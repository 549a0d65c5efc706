//! End to end: the real binary as the runner starts it (env vars, payload file, output files)
//! against the fake GitHub on 127.0.0.1.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::fake_github::FakeGitHub;
use crate::support::promote_cmd;

pub(crate) const TOKEN: &str = "ghs_FAKEtoken0123456789abcdefRECOGNIZABLE";

/// Every file of an example, relative path -> text.
pub(crate) fn example_files(name: &str) -> Vec<(String, String)> {
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

pub(crate) struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub outputs: String,
    pub summary: String,
}

/// Run `promote run` like a Docker action step.
pub(crate) fn run_action(
    gh: &FakeGitHub,
    workspace: &Path,
    event: &str,
    payload: serde_json::Value,
    inputs: &[(&str, &str)],
) -> Run {
    run_action_at(gh.url(), workspace, event, payload, inputs, &[])
}

/// `run_action` against any API base, with extra environment variables (`PROMOTE_*`).
pub(crate) fn run_action_at(
    api_url: &str,
    workspace: &Path,
    event: &str,
    payload: serde_json::Value,
    inputs: &[(&str, &str)],
    vars: &[(&str, &str)],
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
        .env("GITHUB_API_URL", api_url)
        .env("GITHUB_GRAPHQL_URL", format!("{api_url}/graphql"))
        .env("GITHUB_OUTPUT", &out_path)
        .env("GITHUB_STEP_SUMMARY", &sum_path)
        .env("INPUT_TOKEN", TOKEN);
    for (k, v) in inputs {
        cmd.env(format!("INPUT_{}", k.to_uppercase()), v);
    }
    cmd.envs(vars.iter().copied());
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

/// The value of output `name`: `name=value`, or the `name<<DELIMITER` heredoc form.
pub(crate) fn output(run: &Run, name: &str) -> String {
    let mut lines = run.outputs.lines();
    while let Some(line) = lines.next() {
        if let Some(value) = line.strip_prefix(&format!("{name}=")) {
            return value.to_string();
        }
        if let Some(delimiter) = line.strip_prefix(&format!("{name}<<")) {
            let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delimiter).collect();
            return value.join("\n");
        }
    }
    String::new()
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
        "kustomization/cilium/integration",
        "success",
        "flux-bot",
    );
    gh.add_status(
        &reported,
        "kustomization/cert-manager/integration",
        "failure",
        "flux-bot",
    );
    let live_before = gh.file("main", live_charts).expect("live");

    let run = run_action(
        &gh,
        workspace.path(),
        "status",
        status_payload(&reported, "kustomization/cilium/integration", "success"),
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
        status_payload(&reported, "kustomization/cilium/integration", "success"),
        &[],
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(gh.head("main").as_deref(), Some(new_head.as_str()));
    assert_eq!(output(&again, "changed"), "false");
}

#[test]
fn failure_status_and_foreign_events_promote_nothing() {
    let gh = FakeGitHub::start("acme/homelab");
    let head = seed(&gh, "main", "flux-terragrunt", &[]);
    let workspace = workspace_for("flux-terragrunt");
    let run = run_action(
        &gh,
        workspace.path(),
        "status",
        status_payload(&head, "kustomization/cilium/integration", "failure"),
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

/// A `workflow_dispatch` of main with `force` for the `helm/*` components.
fn force_helm_dispatch() -> serde_json::Value {
    json!({"inputs": {"force": "true", "components": "helm/*"}, "ref": "refs/heads/main", "repository": {"full_name": "acme/homelab"}, "sender": {"login": "alice"}, "workflow": ".github/workflows/promote.yaml"})
}

#[test]
fn dispatch_with_force_promotes_without_statuses_and_dry_run_writes_nothing() {
    let gh = FakeGitHub::start("acme/homelab");
    let head = seed(&gh, "main", "flux-terragrunt", &[]);
    let workspace = workspace_for("flux-terragrunt");
    let dispatch = force_helm_dispatch();
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
    // Filtered out is not held: the `held` output names no infra component.
    let held = output(&dry, "held");
    assert!(!held.contains("infra/"), "{held}");
}

/// Without `PROMOTE_LOG` a run prints its warnings (a retried read), in the formatter's words,
/// and nothing below them; with it, the run's information too.
#[test]
fn warnings_are_printed_without_promote_log_and_information_only_with_it() {
    let gh = FakeGitHub::start("acme/homelab");
    seed(&gh, "main", "flux-terragrunt", &[]);
    let workspace = workspace_for("flux-terragrunt");
    let dispatch = force_helm_dispatch();
    let bad_gateway = || json!({"message": "Bad Gateway"});
    gh.fail_graphql("", 502, bad_gateway(), 1);
    let quiet = run_action(
        &gh,
        workspace.path(),
        "workflow_dispatch",
        dispatch.clone(),
        &[("dry-run", "true")],
    );
    assert_eq!(quiet.code, 0, "{}", quiet.stderr);
    let warning = quiet
        .stderr
        .lines()
        .find(|l| l.contains("failed; retrying in"))
        .unwrap_or_else(|| panic!("the retry is a warning: {}", quiet.stderr));
    assert!(warning.contains(" WARN "), "{warning}");
    assert!(!quiet.stderr.contains(" INFO "), "{}", quiet.stderr);
    assert!(!quiet.stderr.contains("decision:"), "{}", quiet.stderr);
    // Positive control: the same run with `PROMOTE_LOG=info` says what it decided, and warns
    // in the same words.
    gh.fail_graphql("", 502, bad_gateway(), 1);
    let told = run_action_at(
        gh.url(),
        workspace.path(),
        "workflow_dispatch",
        dispatch,
        &[("dry-run", "true")],
        &[("PROMOTE_LOG", "info")],
    );
    assert_eq!(told.code, 0, "{}", told.stderr);
    assert!(told.stderr.contains("decision:"), "{}", told.stderr);
    assert!(
        told.stderr
            .lines()
            .any(|l| l.contains(" WARN ") && l.contains("failed; retrying in")),
        "{}",
        told.stderr
    );
}

#[test]
fn dispatch_naming_what_does_not_exist_fails_and_writes_nothing() {
    let gh = FakeGitHub::start("acme/homelab");
    let head = seed(&gh, "main", "flux-terragrunt", &[]);
    let workspace = workspace_for("flux-terragrunt");
    let dispatch = |inputs: serde_json::Value| json!({"inputs": inputs, "ref": "refs/heads/main", "repository": {"full_name": "acme/homelab"}, "sender": {"login": "alice"}, "workflow": "promote.yaml"});
    let refused = [
        (
            json!({"from": "nosuch", "force": "true"}),
            &[][..],
            "error: .github/promote.toml: no promotion nosuch -> * in the config\nhint: promotions: integration -> live\n",
        ),
        (
            json!({"from": "dev", "to": "integration", "force": "true"}),
            &[],
            "error: .github/promote.toml: no promotion dev -> integration in the config",
        ),
        // The action's own `to` input overrides the dispatch, and is checked the same way.
        (
            json!({"force": "true"}),
            &[("to", "prod")],
            "error: .github/promote.toml: no promotion * -> prod",
        ),
        (
            json!({"components": "helm/nosuch", "force": "true"}),
            &[],
            "error: component filter `helm/nosuch` matches no component of `integration`",
        ),
        (
            json!({"pin": "helm/cilium=sha-abc1234", "force": "true"}),
            &[],
            "error: bad pin `helm/cilium=sha-abc1234` (`--pin` or the `pin` input, `ID=VERSION`): `sha-abc1234` is not a Helm chart version",
        ),
    ];
    for (inputs, action_inputs, message) in refused {
        let run = run_action(
            &gh,
            workspace.path(),
            "workflow_dispatch",
            dispatch(inputs.clone()),
            action_inputs,
        );
        assert_eq!(run.code, 1, "{inputs}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(message), "{inputs}: {}", run.stderr);
        assert!(run.stdout.contains("::error"), "{inputs}: {}", run.stdout);
        assert_eq!(gh.head("main").as_deref(), Some(head.as_str()), "{inputs}");
    }
    // Positive control: the promotion that exists, with a good pin, lands.
    let run = run_action(
        &gh,
        workspace.path(),
        "workflow_dispatch",
        dispatch(
            json!({"from": "integration", "to": "live", "components": "helm/cilium", "pin": "helm/cilium=1.18.7", "force": "true"}),
        ),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let live = gh
        .file("main", "kubernetes/clusters/live/helm-charts.yaml")
        .expect("live");
    assert!(live.contains("version: \"1.18.7\""), "{live}");
}

/// Commit every file of `example` on `branch`, with `(path, from, to)` text replacements.
pub(crate) fn seed(
    gh: &FakeGitHub,
    branch: &str,
    example: &str,
    edits: &[(&str, &str, &str)],
) -> String {
    let mut files = example_files(example);
    for (path, from, to) in edits {
        let f = files
            .iter_mut()
            .find(|(p, _)| p == path)
            .expect("file to edit");
        assert!(f.1.contains(from), "{path} lacks `{from}`");
        f.1 = f.1.replace(from, to);
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    gh.commit_files(branch, &format!("seed {example}"), &refs)
}

/// A workspace holding only the example's config, as a fresh checkout would.
pub(crate) fn workspace_for(example: &str) -> tempfile::TempDir {
    let ws = tempfile::tempdir().expect("ws");
    let cfg = example_files(example)
        .into_iter()
        .find(|(p, _)| p == ".github/promote.toml")
        .expect("config");
    std::fs::create_dir_all(ws.path().join(".github")).expect("mkdir");
    std::fs::write(ws.path().join(".github/promote.toml"), cfg.1).expect("write");
    ws
}

fn push_payload(branch: &str, before: &str, after: &str) -> serde_json::Value {
    json!({
        "ref": format!("refs/heads/{branch}"), "before": before, "after": after,
        "created": false, "deleted": false, "forced": false, "base_ref": null,
        "commits": [], "head_commit": {"id": after},
        "repository": {"full_name": "acme/homelab"}, "pusher": {"name": "alice"}, "sender": {"login": "alice"}
    })
}

pub(crate) fn open_pulls(gh: &FakeGitHub) -> Vec<crate::fake_github::FakePull> {
    gh.pulls()
        .into_iter()
        .filter(|p| p.state == "open")
        .collect()
}

#[test]
fn seed_003_push_to_main_changing_dev_opens_the_stage_pr_with_checklist_and_pin_rolls_back() {
    let gh = FakeGitHub::start("acme/homelab");
    let dev = "infra/argocd/overlays/dev/kustomization.yaml";
    let c1 = seed(&gh, "main", "kustomize-overlays", &[]);
    let c2 = seed(
        &gh,
        "main",
        "kustomize-overlays",
        &[(dev, "sha-abc12345", "sha-0a1b2c3d")],
    );
    let ws = workspace_for("kustomize-overlays");
    let run = run_action(&gh, ws.path(), "push", push_payload("main", &c1, &c2), &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let pulls = open_pulls(&gh);
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    let pr = &pulls[0];
    assert_eq!(
        (pr.head.as_str(), pr.base.as_str()),
        ("promote/dev-to-stage", "main")
    );
    assert!(
        pr.body.contains("- [ ] Verify image tag matches dev"),
        "{}",
        pr.body
    );
    assert_eq!(pr.labels, ["promotion", "stage"]);
    let stage = gh
        .file(
            "promote/dev-to-stage",
            "infra/argocd/overlays/stage/kustomization.yaml",
        )
        .expect("stage");
    assert!(stage.contains("newTag: sha-0a1b2c3d\n"), "{stage}");
    assert_eq!(
        gh.head("main").as_deref(),
        Some(c2.as_str()),
        "main is untouched until the PR merges"
    );
    assert_eq!(output(&run, "changed"), "true");
    // The same push again: the same PR, no second one.
    let again = run_action(&gh, ws.path(), "push", push_payload("main", &c1, &c2), &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(open_pulls(&gh).len(), 1);
    // Rollback: promote a pinned older tag to prod through a reviewed PR.
    let dispatch = json!({"inputs": {"from": "stage", "to": "prod", "pin": "ghcr.io/acme/dex=sha-11112222"}, "ref": "refs/heads/main", "repository": {"full_name": "acme/homelab"}, "sender": {"login": "alice"}, "workflow": "promote.yaml"});
    let run = run_action(&gh, ws.path(), "workflow_dispatch", dispatch, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let prod_pr = open_pulls(&gh)
        .into_iter()
        .find(|p| p.head == "promote/stage-to-prod")
        .expect("prod PR");
    assert!(
        prod_pr.body.contains("- [ ] Rollback plan documented"),
        "{}",
        prod_pr.body
    );
    let prod = gh
        .file(
            "promote/stage-to-prod",
            "infra/argocd/overlays/prod/kustomization.yaml",
        )
        .expect("prod");
    assert!(prod.contains("newTag: sha-11112222\n"), "{prod}");
}

#[test]
fn seed_004_push_to_dev_opens_one_pr_per_changed_app_and_prod_does_nothing() {
    let gh = FakeGitHub::start("acme/k8s-deployments");
    let (ex, bill) = (
        "apps/example-app/kustomization.yaml",
        "apps/billing/kustomization.yaml",
    );
    seed(
        &gh,
        "prod",
        "env-branches",
        &[(ex, "1.4.0", "1.2.0"), (bill, "2.0.3", "2.0.1")],
    );
    seed(
        &gh,
        "stage",
        "env-branches",
        &[(ex, "1.4.0", "1.3.0"), (bill, "2.0.3", "2.0.2")],
    );
    let before = seed(&gh, "dev", "env-branches", &[]);
    let after = seed(
        &gh,
        "dev",
        "env-branches",
        &[(ex, "1.4.0", "1.5.0"), (bill, "2.0.3", "2.1.0")],
    );
    let ws = workspace_for("env-branches");
    let run = run_action(
        &gh,
        ws.path(),
        "push",
        push_payload("dev", &before, &after),
        &[],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let pulls = open_pulls(&gh);
    assert_eq!(pulls.len(), 2, "{pulls:?}");
    for (pr, file, other, version) in [
        (&pulls[0], ex, bill, "1.5.0"),
        (&pulls[1], bill, ex, "2.1.0"),
    ] {
        assert_eq!(pr.base, "stage");
        assert!(pr.head.starts_with("promote/stage/"), "{}", pr.head);
        let text = gh.file(&pr.head, file).expect("file");
        assert!(text.contains(&format!("newTag: \"{version}\"")), "{text}");
        assert_eq!(
            gh.file(&pr.head, other),
            gh.file("stage", other),
            "one app per PR"
        );
    }
    let prs: serde_json::Value =
        serde_json::from_str(&output(&run, "pull-requests")).expect("json");
    assert_eq!(prs.as_array().expect("array").len(), 2);
    // Idempotent re-run.
    run_action(
        &gh,
        ws.path(),
        "push",
        push_payload("dev", &before, &after),
        &[],
    );
    assert_eq!(open_pulls(&gh).len(), 2);
    // A push to prod promotes nowhere.
    let prod_head = gh.head("prod").expect("prod");
    let run = run_action(
        &gh,
        ws.path(),
        "push",
        push_payload("prod", &prod_head, &prod_head),
        &[],
    );
    assert_eq!(run.code, 0);
    assert!(
        run.stderr
            .contains("push to the last environment `prod`: it promotes nowhere"),
        "{}",
        run.stderr
    );
    assert_eq!(open_pulls(&gh).len(), 2);
}

#[test]
fn seed_001_chart_change_opens_the_appset_pr_and_tags_wait_for_its_merge() {
    let gh = FakeGitHub::start("acme/kargo-demo");
    let chart = "helm/cert-manager/Chart.yaml";
    let c1 = seed(&gh, "main", "chart-appset", &[]);
    let c2 = seed(
        &gh,
        "main",
        "chart-appset",
        &[(chart, "version: v1.18.1", "version: v1.19.0")],
    );
    let ws = workspace_for("chart-appset");
    let run = run_action(&gh, ws.path(), "push", push_payload("main", &c1, &c2), &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    // Tags mark what prod holds: the new one comes when the PR merges (see deliver_e2e).
    assert_eq!(gh.tag("cert-manager-v1.19.0"), None);
    assert_eq!(gh.tag("external-dns-1.19.0").as_deref(), Some(c2.as_str()));
    let pulls = open_pulls(&gh);
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    let appset = gh
        .file(
            &pulls[0].head,
            "applicationset/applicationset-prod-control.yaml",
        )
        .expect("appset");
    assert!(
        appset.contains("appRevision: cert-manager-v1.19.0\n"),
        "{appset}"
    );
    assert!(appset.contains("appRevision: external-dns-1.19.0\n"));
}

#[test]
fn seed_000_test_pr_merges_itself_and_prod_pr_waits_for_a_human() {
    let gh = FakeGitHub::start("acme/homelab-apps");
    let home = "apps/homepage/values.yaml";
    seed(
        &gh,
        "env/prod",
        "test-prod-per-app",
        &[(home, "v1.5.0", "v1.4.0")],
    );
    let test_before = seed(
        &gh,
        "env/test",
        "test-prod-per-app",
        &[(home, "v1.5.0", "v1.4.0")],
    );
    let c1 = seed(&gh, "main", "test-prod-per-app", &[]);
    let c2 = seed(
        &gh,
        "main",
        "test-prod-per-app",
        &[(home, "v1.5.0", "v1.6.0")],
    );
    let ws = workspace_for("test-prod-per-app");
    let run = run_action(&gh, ws.path(), "push", push_payload("main", &c1, &c2), &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let pulls = open_pulls(&gh);
    let test_pr = pulls
        .iter()
        .find(|p| p.base == "env/test")
        .expect("test PR");
    assert!(
        test_pr.auto_merge,
        "the test PR merges itself once checks pass"
    );
    assert_eq!(pulls.len(), 1, "only homepage changed: {pulls:?}");
    // The test PR merged: env/test now carries v1.6.0 and a push to it opens the prod PR.
    let test_after = seed(
        &gh,
        "env/test",
        "test-prod-per-app",
        &[(home, "v1.5.0", "v1.6.0")],
    );
    let run = run_action(
        &gh,
        ws.path(),
        "push",
        push_payload("env/test", &test_before, &test_after),
        &[],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let prod_pr = open_pulls(&gh)
        .into_iter()
        .find(|p| p.base == "env/prod")
        .expect("prod PR");
    assert!(!prod_pr.auto_merge, "prod waits for a human");
    assert!(
        prod_pr
            .body
            .contains("- [ ] Test deployment healthy in Argo CD")
    );
    let values = gh.file(&prod_pr.head, home).expect("values");
    assert!(values.contains("tag: \"v1.6.0\"\n  pullPolicy"), "{values}");
}

#[test]
fn a_commit_not_on_main_and_a_stale_status_promote_nothing() {
    let gh = FakeGitHub::start("acme/homelab");
    let charts = "kubernetes/clusters/integration/helm-charts.yaml";
    let c1 = seed(&gh, "main", "flux-terragrunt", &[]);
    // A commit on a feature branch, with a success status.
    let feature = seed(
        &gh,
        "feature",
        "flux-terragrunt",
        &[(charts, "version: \"1.18.6\"", "version: \"9.9.9\"")],
    );
    gh.add_status(
        &feature,
        "kustomization/cilium/integration",
        "success",
        "flux-bot",
    );
    let ws = workspace_for("flux-terragrunt");
    let run = run_action(
        &gh,
        ws.path(),
        "status",
        status_payload(&feature, "kustomization/cilium/integration", "success"),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "commit {} is not on main; nothing promoted",
            &feature[..7]
        )),
        "{}",
        run.stderr
    );
    assert_eq!(gh.head("main").as_deref(), Some(c1.as_str()));
    // Live already runs a newer cilium than the old reported commit: the late status never downgrades it.
    let live = "kubernetes/clusters/live/helm-charts.yaml";
    let head = seed(
        &gh,
        "main",
        "flux-terragrunt",
        &[(live, "version: \"1.18.5\"", "version: \"1.19.0\"")],
    );
    gh.add_status(
        &c1,
        "kustomization/cilium/integration",
        "success",
        "flux-bot",
    );
    let run = run_action(
        &gh,
        ws.path(),
        "status",
        status_payload(&c1, "kustomization/cilium/integration", "success"),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let live_now = gh.file("main", live).expect("live");
    assert!(
        live_now.contains("version: \"1.19.0\""),
        "downgraded by a stale status"
    );
    let held = output(&run, "held");
    assert!(
        held.contains("helm/cilium") && held.contains("downgrade"),
        "{held}"
    );
    let _ = head;
}

#[test]
fn config_errors_become_annotations_with_file_line_and_column() {
    let gh = FakeGitHub::start("acme/homelab");
    let head = seed(&gh, "main", "flux-terragrunt", &[]);
    let ws = workspace_for("flux-terragrunt");
    let cfg = ws.path().join(".github/promote.toml");
    let text = std::fs::read_to_string(&cfg).expect("cfg");
    std::fs::write(&cfg, text.replace("partial = true", "partial = \"yes\"")).expect("write");
    let run = run_action(
        &gh,
        ws.path(),
        "status",
        status_payload(&head, "kustomization/cilium/integration", "success"),
        &[],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("::error file=.github/promote.toml,line=23,col=11::"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("::group::"), "{}", run.stdout);
}

/// The example's infra versions answer to the cluster's root Kustomization only: the `cilium`
/// chart's status does not release `infra/cilium`, `flux-system`'s releases every infra version.
#[test]
fn seed_002_infra_moves_on_the_root_kustomization_and_charts_on_their_own() {
    let gh = FakeGitHub::start("acme/homelab");
    let head = seed(&gh, "main", "flux-terragrunt", &[]);
    let ws = workspace_for("flux-terragrunt");
    let stack = "infrastructure/stacks/live/terragrunt.stack.hcl";
    let before = gh.file("main", stack).expect("stack");
    gh.add_status(
        &head,
        "kustomization/cilium/integration",
        "success",
        "flux-bot",
    );
    let run = run_action(
        &gh,
        ws.path(),
        "status",
        status_payload(&head, "kustomization/cilium/integration", "success"),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        gh.file("main", stack).as_deref(),
        Some(before.as_str()),
        "infra waits"
    );
    assert!(
        output(&run, "held").contains("infra/cilium"),
        "{}",
        run.outputs
    );
    gh.add_status(
        &head,
        "kustomization/flux-system/integration",
        "success",
        "flux-bot",
    );
    let run = run_action(
        &gh,
        ws.path(),
        "status",
        status_payload(&head, "kustomization/flux-system/integration", "success"),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let after = gh.file("main", stack).expect("stack");
    assert_ne!(after, before, "{}", run.stderr);
    let promoted = output(&run, "promoted");
    assert!(promoted.contains("infra/talos"), "{promoted}");
    assert!(
        !promoted.contains("helm/"),
        "charts answer to their own Kustomizations: {promoted}"
    );
}
