//! Delivery faults end to end: `promote run` against the fake GitHub, each with a positive
//! control. Tags after merge and never moved, a lost commit answer, merge methods, settled
//! pull requests, invalid ref names.

use serde_json::json;

use crate::action_e2e::{open_pulls, output, run_action, seed, workspace_for};
use crate::fake_github::FakeGitHub;

fn push(branch: &str, before: &str, after: &str) -> serde_json::Value {
    json!({
        "ref": format!("refs/heads/{branch}"), "before": before, "after": after,
        "created": false, "deleted": false, "forced": false, "base_ref": null,
        "commits": [], "head_commit": {"id": after},
        "repository": {"full_name": "acme/homelab"}, "pusher": {"name": "alice"}, "sender": {"login": "alice"}
    })
}

fn merged(number: u64, head: &str, base: &str, sha: &str) -> serde_json::Value {
    json!({
        "action": "closed", "number": number,
        "pull_request": {"number": number, "merged": true, "merge_commit_sha": sha,
                         "head": {"ref": head}, "base": {"ref": base}},
        "repository": {"full_name": "acme/homelab"}, "sender": {"login": "alice"}
    })
}

fn status(sha: &str, context: &str) -> serde_json::Value {
    json!({"sha": sha, "state": "success", "context": context, "branches": [{"name": "main"}], "sender": {"login": "flux-bot"}})
}

/// Rewrite the workspace config with `edit`.
fn config(ws: &tempfile::TempDir, edit: impl Fn(String) -> String) {
    let cfg = ws.path().join(".github/promote.toml");
    let text = std::fs::read_to_string(&cfg).expect("cfg");
    std::fs::write(&cfg, edit(text)).expect("write");
}

fn held(run: &crate::action_e2e::Run) -> Vec<(String, String)> {
    let v: serde_json::Value = serde_json::from_str(&output(run, "held")).expect("held json");
    v.as_array()
        .expect("array")
        .iter()
        .map(|h| {
            (
                h["component"].as_str().unwrap_or_default().to_owned(),
                h["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

const CHART: &str = "helm/cert-manager/Chart.yaml";
const DNS: &str = "helm/external-dns/Chart.yaml";

#[test]
fn pr_mode_tags_wait_for_the_merge_and_a_second_run_while_the_pr_is_open_succeeds() {
    let gh = FakeGitHub::start("acme/kargo-demo");
    let c1 = seed(&gh, "main", "chart-appset", &[]);
    let c2 = seed(
        &gh,
        "main",
        "chart-appset",
        &[(CHART, "version: v1.18.1", "version: v1.19.0")],
    );
    let ws = workspace_for("chart-appset");
    let run = run_action(&gh, ws.path(), "push", push("main", &c1, &c2), &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(open_pulls(&gh).len(), 1);
    assert_eq!(
        gh.tag("cert-manager-v1.19.0"),
        None,
        "prod does not have it until the PR merges"
    );
    // Positive control: what prod and stage already share is tagged at once.
    assert_eq!(gh.tag("external-dns-1.19.0").as_deref(), Some(c2.as_str()));

    // A second source commit while the PR is open: once exit 1 (the tag was re-targeted).
    let c3 = seed(
        &gh,
        "main",
        "chart-appset",
        &[
            (CHART, "version: v1.18.1", "version: v1.19.0"),
            (DNS, "version: 1.19.0", "version: 1.20.0"),
        ],
    );
    // (One push of both commits: a push restricts the plan to what it changed.)
    let again = run_action(&gh, ws.path(), "push", push("main", &c1, &c3), &[]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    let pulls = open_pulls(&gh);
    assert_eq!(pulls.len(), 1, "the same PR, updated");
    assert_eq!(gh.tag("cert-manager-v1.19.0"), None);
    assert_eq!(gh.tag("external-dns-1.20.0"), None);
    assert_eq!(
        gh.tag("external-dns-1.19.0").as_deref(),
        Some(c2.as_str()),
        "never moved"
    );

    // The PR merges; the `pull_request` closed event tags what landed, on the merge commit.
    let merge = gh.merge(pulls[0].number, "squash");
    let run = run_action(
        &gh,
        ws.path(),
        "pull_request",
        merged(pulls[0].number, &pulls[0].head, "main", &merge),
        &[],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        gh.tag("cert-manager-v1.19.0").as_deref(),
        Some(merge.as_str()),
        "{}",
        run.stderr
    );
    assert_eq!(
        gh.tag("external-dns-1.20.0").as_deref(),
        Some(merge.as_str())
    );
    assert_eq!(gh.tag("external-dns-1.19.0").as_deref(), Some(c2.as_str()));
    assert!(held(&run).is_empty(), "{:?}", held(&run));
    assert_eq!(output(&run, "changed"), "false");
}

/// flux-terragrunt with a tag template, statuses on its seed commit; returns (gh, ws, head).
fn tagged_flux() -> (FakeGitHub, tempfile::TempDir, String) {
    let gh = FakeGitHub::start("acme/homelab");
    let charts = "kubernetes/clusters/integration/helm-charts.yaml";
    seed(&gh, "main", "flux-terragrunt", &[]);
    let head = seed(
        &gh,
        "main",
        "flux-terragrunt",
        &[(charts, "version: \"1.18.6\"", "version: \"1.18.7\"")],
    );
    gh.add_status(
        &head,
        "kustomization/cilium/integration",
        "success",
        "flux-bot",
    );
    let ws = workspace_for("flux-terragrunt");
    config(&ws, |t| {
        t.replace(
            "delivery = \"commit\"",
            "delivery = \"commit\"\ntag = \"{component}-{version}\"",
        )
    });
    (gh, ws, head)
}

fn tags(gh: &FakeGitHub) -> Vec<(String, String)> {
    gh.state()
        .refs
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("tags/")?.to_owned(), v.clone())))
        .collect()
}

#[test]
fn commit_mode_tags_the_promoted_commit_a_rerun_repairs_a_missing_tag_and_one_elsewhere_is_held() {
    let (gh, ws, head) = tagged_flux();
    // Someone tagged cilium 1.18.7 on a commit where live does not have it.
    gh.state()
        .refs
        .insert("tags/cilium-1.18.7".into(), head.clone());
    let event = status(&head, "kustomization/cilium/integration");
    let run = run_action(&gh, ws.path(), "status", event.clone(), &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let commit = gh.head("main").expect("main");
    assert_ne!(commit, head);
    assert_eq!(output(&run, "commit-sha"), commit);
    assert_eq!(output(&run, "changed"), "true");
    // Not moved, not a failure: held with a reason.
    assert_eq!(gh.tag("cilium-1.18.7").as_deref(), Some(head.as_str()));
    let foreign = held(&run);
    assert!(
        foreign
            .iter()
            .any(|(c, r)| c.ends_with("cilium") && r.contains("never moves a tag")),
        "{foreign:?}"
    );
    // Positive control: the other in-sync components are tagged on the promotion commit.
    let made = tags(&gh);
    let on_commit: Vec<_> = made.iter().filter(|(_, sha)| *sha == commit).collect();
    assert!(!on_commit.is_empty(), "{made:?}");

    // A lost tag: the rerun has nothing to promote but makes it again, at the same commit.
    let (lost, _) = on_commit[0].clone();
    gh.state().refs.remove(&format!("tags/{lost}"));
    let rerun = run_action(&gh, ws.path(), "status", event, &[]);
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    assert!(
        rerun.stderr.contains("nothing to promote"),
        "{}",
        rerun.stderr
    );
    assert_eq!(output(&rerun, "changed"), "false");
    assert_eq!(gh.head("main").as_deref(), Some(commit.as_str()));
    assert_eq!(gh.tag(&lost).as_deref(), Some(commit.as_str()));
    assert_eq!(tags(&gh), made, "every other tag as it was");

    // Main moves on: the tags on the older commit still mark the same versions and are kept,
    // not moved to the new head and not held.
    gh.commit_files("main", "docs", &[("README.md", "later\n")]);
    let later = run_action(
        &gh,
        ws.path(),
        "status",
        status(&head, "kustomization/cilium/integration"),
        &[],
    );
    assert_eq!(later.code, 0, "{}", later.stderr);
    assert_eq!(tags(&gh), made);
    assert!(
        later.stderr.contains("(kept where it is)"),
        "{}",
        later.stderr
    );
    let still: Vec<_> = held(&later)
        .into_iter()
        .filter(|(_, r)| r.contains("tag"))
        .collect();
    assert_eq!(still.len(), 1, "only the foreign cilium tag: {still:?}");
}

#[test]
fn a_lost_answer_to_the_commit_still_reports_the_commit() {
    let (gh, ws, head) = tagged_flux();
    config(&ws, |t| t.replace("tag = \"{component}-{version}\"", ""));
    // The commit lands, the answer is a 502; the retry meets the moved branch.
    gh.fail_graphql_after_effect("createCommitOnBranch", 502);
    let run = run_action(
        &gh,
        ws.path(),
        "status",
        status(&head, "kustomization/cilium/integration"),
        &[],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let commit = gh.head("main").expect("main");
    assert_eq!(
        gh.commit(&commit).expect("commit").parent.as_deref(),
        Some(head.as_str()),
        "exactly one promotion commit"
    );
    assert!(
        gh.commit(&commit)
            .expect("commit")
            .message
            .contains(&format!("Promoted-From: integration@{head}"))
    );
    assert_eq!(output(&run, "changed"), "true");
    assert_eq!(output(&run, "commit-sha"), commit);
    let commits = gh.graphql_requests("createCommitOnBranch").len();
    assert_eq!(commits, 2, "the lost call and its retry");
    // Control: the next run sees the commit as done.
    let again = run_action(
        &gh,
        ws.path(),
        "status",
        status(&head, "kustomization/cilium/integration"),
        &[],
    );
    assert_eq!(output(&again, "changed"), "false");
    assert_eq!(output(&again, "commit-sha"), "");
}

const HOME: &str = "apps/homepage/values.yaml";

/// Seed 000: a push to main opens the auto-merging PR into env/test.
fn seed_000(gh: &FakeGitHub) -> (String, String) {
    seed(
        gh,
        "env/prod",
        "test-prod-per-app",
        &[(HOME, "v1.5.0", "v1.4.0")],
    );
    seed(
        gh,
        "env/test",
        "test-prod-per-app",
        &[(HOME, "v1.5.0", "v1.4.0")],
    );
    let c1 = seed(gh, "main", "test-prod-per-app", &[]);
    let c2 = seed(
        gh,
        "main",
        "test-prod-per-app",
        &[(HOME, "v1.5.0", "v1.6.0")],
    );
    (c1, c2)
}

#[test]
fn auto_merge_uses_squash_on_a_squash_only_repository_and_the_configured_method_otherwise() {
    let gh = FakeGitHub::start("acme/homelab-apps");
    gh.squash_only();
    let (c1, c2) = seed_000(&gh);
    let ws = workspace_for("test-prod-per-app");
    // Configured `merge`: GitHub refuses it here, and the run says so.
    config(&ws, |t| {
        t.replace(
            "auto-merge = true",
            "auto-merge = true\nmerge-method = \"merge\"",
        )
    });
    let refused = run_action(&gh, ws.path(), "push", push("main", &c1, &c2), &[]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("Merge commits are not allowed"),
        "{}",
        refused.stderr
    );
    assert!(!open_pulls(&gh)[0].auto_merge);
    // The default: the repository's settings, squash.
    let ws = workspace_for("test-prod-per-app");
    let run = run_action(&gh, ws.path(), "push", push("main", &c1, &c2), &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let pr = &open_pulls(&gh)[0];
    assert_eq!(pr.auto_merge_method.as_deref(), Some("SQUASH"));
    assert!(
        gh.request_lines()
            .contains(&"GET /repos/acme/homelab".to_owned())
    );
    // Positive control on a repository that allows everything: the configured method is used,
    // also for a PR merged at once (clean status).
    let gh = FakeGitHub::start("acme/homelab-apps");
    gh.state().clean_status = true;
    let (c1, c2) = seed_000(&gh);
    let ws = workspace_for("test-prod-per-app");
    config(&ws, |t| {
        t.replace(
            "auto-merge = true",
            "auto-merge = true\nmerge-method = \"rebase\"",
        )
    });
    let run = run_action(&gh, ws.path(), "push", push("main", &c1, &c2), &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let pull = &gh.pulls()[0];
    assert_eq!(pull.merged_with.as_deref(), Some("rebase"));
    assert!(
        !gh.request_lines()
            .contains(&"GET /repos/acme/homelab".to_owned()),
        "a configured method needs no settings"
    );
}

const DEV: &str = "infra/argocd/overlays/dev/kustomization.yaml";
const STAGE: &str = "infra/argocd/overlays/stage/kustomization.yaml";

#[test]
fn an_empty_plan_closes_promotes_settled_pr_and_reruns_change_nothing() {
    let gh = FakeGitHub::start("acme/homelab");
    let c1 = seed(&gh, "main", "kustomize-overlays", &[]);
    let c2 = seed(
        &gh,
        "main",
        "kustomize-overlays",
        &[(DEV, "sha-abc12345", "sha-0a1b2c3d")],
    );
    let ws = workspace_for("kustomize-overlays");
    let first = run_action(&gh, ws.path(), "push", push("main", &c1, &c2), &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(output(&first, "changed"), "true");
    // Rerun: the same PR, nothing written.
    let rerun = run_action(&gh, ws.path(), "push", push("main", &c1, &c2), &[]);
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    assert_eq!(output(&rerun, "changed"), "false");
    assert!(
        !gh.request_lines().iter().any(|l| l.starts_with("PATCH")),
        "no update: {:?}",
        gh.request_lines()
    );
    let promo = open_pulls(&gh)[0].number;
    // A person's branch that starts like promote's, and stage gets the version by hand.
    let base = gh.head("main").expect("main");
    gh.state()
        .refs
        .insert("heads/promote/dev-to-stage-hotfix".into(), base);
    let hotfix = gh.open_pull("promote/dev-to-stage-hotfix", "main", "hotfix", None);
    let stage = gh.file("main", STAGE).expect("stage");
    let by_hand = stage.replace("newTag: sha-9f8e7d6c", "newTag: sha-0a1b2c3d");
    assert_ne!(stage, by_hand);
    gh.commit_files("main", "stage by hand", &[(STAGE, &by_hand)]);
    let settled = run_action(&gh, ws.path(), "push", push("main", &c1, &c2), &[]);
    assert_eq!(settled.code, 0, "{}", settled.stderr);
    assert!(
        settled.stderr.contains("nothing to promote"),
        "{}",
        settled.stderr
    );
    assert_eq!(output(&settled, "changed"), "false");
    let pulls = gh.pulls();
    let state = |n: u64| {
        pulls
            .iter()
            .find(|p| p.number == n)
            .expect("pr")
            .state
            .clone()
    };
    assert_eq!(state(promo), "closed");
    assert_eq!(state(hotfix), "open", "not promote's branch");
    assert!(
        gh.comments()
            .iter()
            .any(|(n, c)| *n == promo && c.contains("already has")),
        "{:?}",
        gh.comments()
    );
}

#[test]
fn per_component_branches_are_ref_safe_and_an_invalid_one_is_held_while_the_others_open() {
    let gh = FakeGitHub::start("acme/homelab");
    let images = |dex: &str, api: &str, lock: &str| {
        format!(
            "images:\n  - name: localhost:5000/api\n    newTag: \"{api}\"\n  - name: registry.test/api.lock\n    newTag: \"{lock}\"\n  # Built once by CI (sha-<8 hex of the commit>), promoted unchanged.\n  - name: ghcr.io/acme/dex\n    newTag: {dex}\n"
        )
    };
    let old = "images:\n  # Built once by CI (sha-<8 hex of the commit>), promoted unchanged.\n  - name: ghcr.io/acme/dex\n    newTag: sha-abc12345\n";
    let old_stage = old.replace("sha-abc12345", "sha-9f8e7d6c");
    let stage_images = images("sha-9f8e7d6c", "1.0.0", "2.0.0");
    let dev_images = images("sha-0a1b2c3d", "1.1.0", "2.1.0");
    let c1 = seed(
        &gh,
        "main",
        "kustomize-overlays",
        &[
            (DEV, old, &stage_images),
            (STAGE, &old_stage, &stage_images),
        ],
    );
    let c2 = seed(
        &gh,
        "main",
        "kustomize-overlays",
        &[(DEV, old, &dev_images), (STAGE, &old_stage, &stage_images)],
    );
    let ws = workspace_for("kustomize-overlays");
    config(&ws, |t| {
        t.replacen(
            "delivery = \"pull-request\"",
            "delivery = \"pull-request-per-component\"",
            1,
        )
    });
    let run = run_action(&gh, ws.path(), "push", push("main", &c1, &c2), &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let mut heads: Vec<String> = open_pulls(&gh).into_iter().map(|p| p.head).collect();
    heads.sort();
    assert_eq!(
        heads,
        [
            "promote/stage/ghcr.io-acme-dex",
            "promote/stage/localhost-5000-api"
        ]
    );
    let api = gh
        .file("promote/stage/localhost-5000-api", STAGE)
        .expect("api branch");
    assert!(api.contains("newTag: \"1.1.0\""), "{api}");
    let held = held(&run);
    assert!(
        held.iter()
            .any(|(c, r)| c == "registry.test/api.lock" && r.contains(".lock")),
        "{held:?}"
    );
    assert!(
        !gh.state()
            .refs
            .keys()
            .any(|r| r.contains(':') || r.ends_with(".lock")),
        "no invalid ref was ever sent"
    );
    assert_eq!(output(&run, "changed"), "true");
}
