//! End to end on GitLab: the real binary as a GitLab CI job starts it (predefined `CI_*`
//! variables, `GITLAB_TOKEN`, the dotenv report) or as a Jenkins job given GitLab's webhook
//! payload, against the fake GitLab on 127.0.0.1. Seed 004's success criteria.

use std::path::Path;

use serde_json::json;

use crate::action_e2e::example_files;
use crate::fake_gitlab::{FakeGitLab, JOB_TOKEN, PRIVATE_TOKEN};
use crate::support::promote_cmd;

const EXAMPLE: &str = "gitlab-env-branches";
const EX: &str = "apps/example-app/kustomization.yaml";
const BILL: &str = "apps/billing/kustomization.yaml";

pub(crate) struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub dotenv: String,
}

impl Run {
    pub(crate) fn var(&self, name: &str) -> String {
        self.dotenv
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_default()
            .to_owned()
    }
}

/// Commit every file of the example on `branch`, with `(path, from, to)` replacements.
pub(crate) fn seed(gl: &FakeGitLab, branch: &str, edits: &[(&str, &str, &str)]) -> String {
    let mut files = example_files(EXAMPLE);
    for (path, from, to) in edits {
        let f = files.iter_mut().find(|(p, _)| p == path).expect("file");
        assert!(f.1.contains(from), "{path} lacks `{from}`");
        f.1 = f.1.replace(from, to);
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    gl.commit_files(branch, "seed", &refs)
}

/// A checkout holding the example's config (the job's `CI_PROJECT_DIR`).
pub(crate) fn workspace(config: Option<&str>) -> tempfile::TempDir {
    let ws = tempfile::tempdir().expect("ws");
    let text = match config {
        Some(c) => c.to_owned(),
        None => {
            example_files(EXAMPLE)
                .into_iter()
                .find(|(p, _)| p == ".github/promote.toml")
                .expect("config")
                .1
        }
    };
    std::fs::create_dir_all(ws.path().join(".github")).expect("mkdir");
    std::fs::write(ws.path().join(".github/promote.toml"), text).expect("write");
    ws
}

fn finish(cmd: &mut std::process::Command, dotenv: &Path) -> Run {
    let out = cmd.output().expect("runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        dotenv: std::fs::read_to_string(dotenv).unwrap_or_default(),
    }
}

/// `promote run` as a GitLab CI job of a push pipeline on `branch` from `before` to `after`.
pub(crate) fn ci_push(
    gl: &FakeGitLab,
    ws: &Path,
    branch: &str,
    before: &str,
    after: &str,
    vars: &[(&str, &str)],
) -> Run {
    let mut cmd = promote_cmd();
    cmd.arg("run")
        .current_dir(ws)
        .env("CI", "true")
        .env("GITLAB_CI", "true")
        .env("CI_PIPELINE_SOURCE", "push")
        .env("CI_COMMIT_BRANCH", branch)
        .env("CI_COMMIT_REF_NAME", branch)
        .env("CI_COMMIT_BEFORE_SHA", before)
        .env("CI_COMMIT_SHA", after)
        .env("CI_PROJECT_ID", "42")
        .env("CI_PROJECT_PATH", "p2c/k8s-deployments")
        .env("CI_API_V4_URL", gl.api_url())
        .env("CI_PROJECT_DIR", ws)
        .env("CI_JOB_TOKEN", JOB_TOKEN)
        .env("GITLAB_TOKEN", PRIVATE_TOKEN);
    cmd.envs(vars.iter().copied());
    let dotenv = ws.join("promote.env");
    let _ = std::fs::remove_file(&dotenv);
    finish(&mut cmd, &dotenv)
}

fn apps_of(mrs: &[crate::fake_gitlab::FakeMr], target: &str) -> Vec<String> {
    let mut out: Vec<String> = mrs
        .iter()
        .filter(|m| m.state == "opened" && m.target == target)
        .map(|m| m.source.clone())
        .collect();
    out.sort();
    out
}

/// stage and prod behind dev: the starting point of seed 004.
fn environments(gl: &FakeGitLab) -> (String, String) {
    seed(
        gl,
        "prod",
        &[(EX, "1.4.0", "1.2.0"), (BILL, "2.0.3", "2.0.1")],
    );
    seed(
        gl,
        "stage",
        &[(EX, "1.4.0", "1.3.0"), (BILL, "2.0.3", "2.0.2")],
    );
    let before = seed(gl, "dev", &[]);
    let after = seed(
        gl,
        "dev",
        &[(EX, "1.4.0", "1.5.0"), (BILL, "2.0.3", "2.1.0")],
    );
    (before, after)
}

#[test]
fn seed_004_merging_into_dev_opens_one_mr_per_app_into_stage_then_prod_and_prod_does_nothing() {
    let gl = FakeGitLab::start("p2c/k8s-deployments");
    let (before, after) = environments(&gl);
    let ws = workspace(None);
    let run = ci_push(&gl, ws.path(), "dev", &before, &after, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let stage_mrs = apps_of(&gl.mrs(), "stage");
    assert_eq!(
        stage_mrs,
        [
            "promote/stage/billing-registry.local-p2c-billing",
            "promote/stage/example-app-registry.local-p2c-example-app"
        ]
    );
    for mr in gl.open_mrs() {
        let (mine, other, version) = if mr.source.contains("billing") {
            (BILL, EX, "2.1.0")
        } else {
            (EX, BILL, "1.5.0")
        };
        let text = gl.file(&mr.source, mine).expect("file");
        assert!(text.contains(&format!("newTag: \"{version}\"")), "{text}");
        assert_eq!(
            gl.file(&mr.source, other),
            gl.file("stage", other),
            "one app per MR"
        );
        assert_eq!(mr.labels, ["auto-promotion"]);
        assert!(mr.description.contains(version), "{}", mr.description);
    }
    assert_eq!(run.var("PROMOTE_CHANGED"), "true", "{}", run.dotenv);
    let mrs: serde_json::Value =
        serde_json::from_str(&run.var("PROMOTE_MERGE_REQUESTS")).expect("json");
    assert_eq!(mrs.as_array().expect("list").len(), 2);
    let out: serde_json::Value = serde_json::from_str(&run.stdout).expect("stdout is json");
    assert_eq!(out["schema_version"], 1);
    assert_eq!(out["promoted"].as_array().expect("promoted").len(), 2);
    assert!(
        gl.head("stage")
            .is_some_and(|h| gl.file(&h, EX).expect("ex").contains("1.3.0")),
        "stage waits for its MRs"
    );

    // A person merges both stage MRs: the pushes to stage open one MR per app into prod.
    for mr in gl.open_mrs() {
        let stage_before = gl.head("stage").expect("stage");
        let stage_after = gl.merge(mr.iid, false);
        let run = ci_push(&gl, ws.path(), "stage", &stage_before, &stage_after, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let prod_mrs = apps_of(&gl.mrs(), "prod");
    assert_eq!(prod_mrs.len(), 2, "{prod_mrs:?}");
    for mr in gl.open_mrs() {
        assert_eq!(mr.labels, ["auto-promotion", "prod"]);
        assert!(
            mr.description.contains("- [ ] Stage is healthy in Argo CD"),
            "{}",
            mr.description
        );
    }

    // Merging into prod promotes nowhere, and says so.
    let open = gl.open_mrs();
    let prod_before = gl.head("prod").expect("prod");
    let prod_after = gl.merge(open[0].iid, true);
    gl.clear_requests();
    let run = ci_push(&gl, ws.path(), "prod", &prod_before, &prod_after, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("push to the last environment `prod`: it promotes nowhere"),
        "{}",
        run.stderr
    );
    assert!(
        gl.requests().is_empty(),
        "no API call: {:?}",
        gl.request_lines()
    );
    assert_eq!(run.var("PROMOTE_CHANGED"), "false");
    assert_eq!(gl.open_mrs().len(), 1);
}

#[test]
fn a_rerun_opens_no_second_mr_and_a_newer_push_updates_the_stale_one() {
    let gl = FakeGitLab::start("p2c/k8s-deployments");
    let (before, after) = environments(&gl);
    let ws = workspace(None);
    assert_eq!(ci_push(&gl, ws.path(), "dev", &before, &after, &[]).code, 0);
    let first: Vec<_> = gl.open_mrs();
    assert_eq!(first.len(), 2);
    // The same pipeline again (a retried job): nothing written.
    gl.clear_requests();
    let again = ci_push(&gl, ws.path(), "dev", &before, &after, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.var("PROMOTE_CHANGED"), "false", "{}", again.stderr);
    assert_eq!(gl.open_mrs().len(), 2);
    assert!(
        !gl.request_lines()
            .iter()
            .any(|l| l.starts_with("POST") || l.starts_with("PUT")),
        "{:#?}",
        gl.request_lines()
    );
    // dev moves on for billing: its MR is updated in place (same MR, new commit and text).
    let newer = gl.commit_files(
        "dev",
        "billing 2.2.0",
        &[(
            BILL,
            &gl.file("dev", BILL).expect("b").replace("2.1.0", "2.2.0"),
        )],
    );
    let run = ci_push(&gl, ws.path(), "dev", &after, &newer, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.var("PROMOTE_CHANGED"), "true");
    let now = gl.open_mrs();
    assert_eq!(now.len(), 2, "{now:?}");
    let bill = now
        .iter()
        .find(|m| m.source.contains("billing"))
        .expect("billing");
    assert_eq!(
        bill.iid,
        first
            .iter()
            .find(|m| m.source.contains("billing"))
            .expect("b")
            .iid
    );
    assert!(bill.title.contains("2.2.0"), "{}", bill.title);
    assert!(
        gl.file(&bill.source, BILL)
            .expect("file")
            .contains("newTag: \"2.2.0\"")
    );
    assert_eq!(
        gl.commit(&gl.head(&bill.source).expect("h"))
            .expect("c")
            .parents,
        [gl.head("stage").expect("stage")]
    );
    let forced: Vec<_> = gl
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/repository/commits") && r.body["force"] == true)
        .collect();
    assert!(forced.iter().all(|r| {
        r.body["branch"]
            .as_str()
            .is_some_and(|b| b.starts_with("promote/"))
    }));
}

#[test]
fn a_race_on_the_target_branch_is_replanned_without_force() {
    let gl = FakeGitLab::start("p2c/k8s-deployments");
    let (before, after) = environments(&gl);
    let config = example_files(EXAMPLE)
        .into_iter()
        .find(|(p, _)| p == ".github/promote.toml")
        .expect("config")
        .1
        .replacen(
            "delivery = \"pull-request-per-component\"   # one merge request per app",
            "delivery = \"commit\"",
            1,
        );
    assert!(config.contains("delivery = \"commit\""));
    let ws = workspace(Some(&config));
    // Someone edits billing's file on stage between promote's plan and its commit.
    let theirs = gl
        .file("stage", BILL)
        .expect("bill")
        .replace("namespace: billing", "namespace: billing # theirs");
    gl.race_on("stage", &[(BILL, &theirs)]);
    let run = ci_push(&gl, ws.path(), "dev", &before, &after, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let stage = gl.file("stage", BILL).expect("stage");
    assert!(stage.contains("newTag: \"2.1.0\""), "{stage}");
    assert!(
        stage.contains("# theirs"),
        "the other change is kept: {stage}"
    );
    assert!(
        gl.file("stage", EX)
            .expect("ex")
            .contains("newTag: \"1.5.0\"")
    );
    let commits: Vec<_> = gl
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/repository/commits"))
        .collect();
    assert_eq!(commits.len(), 2, "refused once, then landed");
    assert!(
        commits
            .iter()
            .all(|r| r.body.get("force").is_none() && r.body.get("start_sha").is_none())
    );
    assert_eq!(
        run.var("PROMOTE_COMMIT_SHA"),
        gl.head("stage").expect("head")
    );
}

#[test]
fn a_jenkins_job_given_gitlabs_push_webhook_does_the_same() {
    let gl = FakeGitLab::start("p2c/k8s-deployments");
    let (before, after) = environments(&gl);
    let ws = workspace(None);
    let payload = json!({
        "object_kind": "push", "event_name": "push", "before": before, "after": after,
        "ref": "refs/heads/dev", "checkout_sha": after, "user_username": "alice",
        "project_id": 42,
        "project": {
            "id": 42, "name": "k8s-deployments", "path_with_namespace": "p2c/k8s-deployments",
            "web_url": format!("{}/p2c/k8s-deployments", gl.url()), "default_branch": "main",
        },
        "commits": [], "total_commits_count": 1,
    });
    let event = ws.path().join("event.json");
    std::fs::write(&event, payload.to_string()).expect("payload");
    let dotenv = ws.path().join("out.env");
    // No GitLab CI variables: the API base and project come from the payload.
    let mut cmd = promote_cmd();
    cmd.args(["run", "--event-name", "Push Hook", "--event-path"])
        .arg(&event)
        .current_dir(ws.path())
        .env("WORKSPACE", ws.path())
        .env("GITLAB_TOKEN", PRIVATE_TOKEN)
        .env("PROMOTE_DOTENV", &dotenv);
    let run = finish(&mut cmd, &dotenv);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(apps_of(&gl.mrs(), "stage").len(), 2);
    let out: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(out["changed"], true);
    assert_eq!(out["plans"].as_array().expect("plans").len(), 1);
    assert_eq!(run.var("PROMOTE_CHANGED"), "true");
    // Markdown for the job's page; a merged-MR webhook of the same merge changes nothing more.
    let merged = json!({
        "object_kind": "merge_request",
        "object_attributes": {"iid": 9, "action": "merge", "state": "merged",
            "source_branch": "feature", "target_branch": "dev", "merge_commit_sha": after},
        "project": payload["project"],
    });
    std::fs::write(&event, merged.to_string()).expect("payload");
    let mut cmd = promote_cmd();
    cmd.args([
        "run",
        "--event-name",
        "Merge Request Hook",
        "--format",
        "markdown",
        "--event-path",
    ])
    .arg(&event)
    .current_dir(ws.path())
    .env("GITLAB_TOKEN", PRIVATE_TOKEN)
    .env("PROMOTE_DOTENV", &dotenv);
    let run = finish(&mut cmd, &dotenv);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("| "),
        "a markdown table: {}",
        run.stdout
    );
    assert_eq!(run.var("PROMOTE_CHANGED"), "false");
    assert_eq!(apps_of(&gl.mrs(), "stage").len(), 2);
}

#[test]
fn a_job_token_alone_fails_naming_gitlab_token_and_the_report_says_so() {
    let gl = FakeGitLab::start("p2c/k8s-deployments");
    let (before, after) = environments(&gl);
    let ws = workspace(None);
    let run = ci_push(
        &gl,
        ws.path(),
        "dev",
        &before,
        &after,
        &[("GITLAB_TOKEN", "")],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("CI_JOB_TOKEN") && run.stderr.contains("GITLAB_TOKEN"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(JOB_TOKEN));
    assert_eq!(run.var("PROMOTE_CHANGED"), "false");
    assert!(
        run.var("PROMOTE_ERROR").contains("CI_JOB_TOKEN"),
        "{}",
        run.dotenv
    );
    assert!(gl.open_mrs().is_empty());
}

/// A gated promotion on GitLab: Flux's `gitlab` provider posts `kustomization/<name>/<uid>`
/// statuses on the commit; only the app whose statuses all succeeded moves.
#[test]
fn the_gate_reads_gitlab_commit_statuses_with_the_same_rules() {
    let gl = FakeGitLab::start("p2c/k8s-deployments");
    let (before, after) = environments(&gl);
    let config = r#"environments = [
  { name = "dev", branch = "dev" },
  { name = "stage", branch = "stage" },
  { name = "prod", branch = "prod" },
]

[[source]]
path = "apps/{app}/kustomization.yaml"
kind = "kustomize-images"
group = "{app}"
[source.status-names]
"registry.local/p2c/example-app" = "example-app"
"registry.local/p2c/billing" = "billing"

[[promotion]]
from = "dev"
to = "stage"
delivery = "pull-request-per-component"
[promotion.gate]
status-context = '^kustomization/(?P<component>[^/]+)/'
creators = ["flux-bot"]

[[promotion]]
from = "stage"
to = "prod"
"#;
    let ws = workspace(Some(config));
    // Nothing reported yet: the push waits.
    let run = ci_push(&gl, ws.path(), "dev", &before, &after, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("waiting for statuses"),
        "{}",
        run.stderr
    );
    assert!(gl.open_mrs().is_empty());
    gl.add_status(
        &after,
        "kustomization/example-app/0c9c2e41",
        "success",
        "flux-bot",
    );
    gl.add_status(
        &after,
        "kustomization/billing/0c9c2e41",
        "failed",
        "flux-bot",
    );
    gl.add_status(
        &after,
        "kustomization/billing/0c9c2e41",
        "success",
        "mallory",
    );
    // A run by hand (or a schedule) once Flux has reported: gated at dev's head.
    let run = ci_push(
        &gl,
        ws.path(),
        "dev",
        &before,
        &after,
        &[("CI_PIPELINE_SOURCE", "web"), ("PROMOTE_FROM", "dev")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let open = apps_of(&gl.mrs(), "stage");
    assert_eq!(
        open,
        ["promote/stage/example-app-registry.local-p2c-example-app"]
    );
    let held = run.var("PROMOTE_HELD");
    assert!(held.contains("billing"), "{held}");
}
