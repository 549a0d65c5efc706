//! The gate end to end: every trigger through `promote run` against the fake GitHub, each
//! refusal next to a positive control that does promote.

use serde_json::{Value, json};

use crate::action_e2e::{output, run_action};
use crate::fake_github::FakeGitHub;

const GATED: &str = r#"
environments = ["integration", "live"]
[[source]]
path = "clusters/{env}/versions.env"
kind = "dotenv"
group = "apps"
[[promotion]]
from = "integration"
to = "live"
partial = true
[promotion.gate]
status-context = '^kustomization/(?P<component>[^/]+)/'
"#;

const INTEGRATION: &str = "clusters/integration/versions.env";
const LIVE: &str = "clusters/live/versions.env";

/// A repository on the fake GitHub, and a workspace holding its config.
struct Setup {
    gh: FakeGitHub,
    ws: tempfile::TempDir,
    base: String,
}

fn setup(config: &str, integration: &str, live: &str) -> Setup {
    let gh = FakeGitHub::start("acme/homelab");
    let base = gh.commit_files(
        "main",
        "initial",
        &[
            (".github/promote.toml", config),
            (INTEGRATION, integration),
            (LIVE, live),
            ("README.md", "# homelab\n"),
        ],
    );
    let ws = tempfile::tempdir().expect("ws");
    std::fs::create_dir_all(ws.path().join(".github")).expect("mkdir");
    std::fs::write(ws.path().join(".github/promote.toml"), config).expect("config");
    Setup { gh, ws, base }
}

impl Setup {
    /// Renovate (or a person) commits integration's versions.
    fn bump(&self, integration: &str) -> String {
        self.gh
            .commit_files("main", "chore(deps): bump", &[(INTEGRATION, integration)])
    }

    fn live(&self) -> String {
        self.gh.file("main", LIVE).expect("live")
    }

    fn run(&self, event: &str, payload: Value) -> crate::action_e2e::Run {
        self.run_with(event, payload, &[])
    }

    fn run_with(
        &self,
        event: &str,
        payload: Value,
        inputs: &[(&str, &str)],
    ) -> crate::action_e2e::Run {
        let run = run_action(&self.gh, self.ws.path(), event, payload, inputs);
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        run
    }
}

fn status(sha: &str, context: &str, state: &str) -> Value {
    json!({
        "id": 1, "sha": sha, "name": "acme/homelab", "target_url": null, "context": context,
        "description": "Reconciliation finished", "state": state, "commit": {"sha": sha},
        "branches": [{"name": "main", "commit": {"sha": sha}, "protected": true}],
        "created_at": "2026-11-20T10:00:00Z", "updated_at": "2026-11-20T10:00:00Z",
        "repository": {"full_name": "acme/homelab"}, "sender": {"login": "flux-bot"}
    })
}

fn push(before: &str, after: &str) -> Value {
    json!({
        "ref": "refs/heads/main", "before": before, "after": after, "created": false,
        "deleted": false, "forced": false, "base_ref": null, "commits": [],
        "head_commit": {"id": after}, "repository": {"full_name": "acme/homelab"},
        "pusher": {"name": "renovate"}, "sender": {"login": "renovate[bot]"}
    })
}

fn merged_pr(number: u64, merge_sha: &str) -> Value {
    json!({
        "action": "closed", "number": number,
        "pull_request": {
            "number": number, "state": "closed", "merged": true, "merge_commit_sha": merge_sha,
            "head": {"ref": "renovate/app", "sha": merge_sha}, "base": {"ref": "main", "sha": merge_sha}
        },
        "repository": {"full_name": "acme/homelab"}, "sender": {"login": "alice"}
    })
}

fn flux_event(sha: &str, name: &str, reason: &str, message: &str) -> Value {
    json!({
        "action": format!("Kustomization/{name}.flux-system"), "branch": "main",
        "client_payload": {
            "involvedObject": {"kind": "Kustomization", "namespace": "flux-system", "name": name},
            "severity": "info", "timestamp": "2026-11-20T10:00:00Z", "message": message,
            "reason": reason, "metadata": {"revision": format!("main@sha1:{sha}")},
            "reportingController": "kustomize-controller"
        },
        "repository": {"full_name": "acme/homelab"}, "sender": {"login": "flux-bot"}
    })
}

fn dispatch(force: bool) -> Value {
    json!({"inputs": {"force": force}, "ref": "refs/heads/main", "repository": {"full_name": "acme/homelab"}, "sender": {"login": "alice"}, "workflow": "promote.yaml"})
}

#[test]
fn one_failing_provider_holds_a_component_another_reports_healthy() {
    let s = setup(GATED, "app=1.0.0\n", "app=1.0.0\n");
    let c1 = s.bump("app=1.0.1\n");
    // Integration and live clusters both report on the same commit.
    s.gh.add_status(&c1, "kustomization/app/aaaa1111", "failure", "flux-bot");
    s.gh.add_status(&c1, "kustomization/app/bbbb2222", "success", "flux-bot");
    let run = s.run(
        "status",
        status(&c1, "kustomization/app/bbbb2222", "success"),
    );
    assert_eq!(s.live(), "app=1.0.0\n");
    assert_eq!(output(&run, "changed"), "false");
    let held = output(&run, "held");
    assert!(
        held.contains("`kustomization/app/aaaa1111` is failure"),
        "{held}"
    );
    // Positive control: the failing provider recovers.
    s.gh.add_status(&c1, "kustomization/app/aaaa1111", "success", "flux-bot");
    let run = s.run(
        "status",
        status(&c1, "kustomization/app/aaaa1111", "success"),
    );
    assert_eq!(s.live(), "app=1.0.1\n");
    assert_eq!(output(&run, "changed"), "true");
}

#[test]
fn env_in_the_context_binds_each_cluster_to_its_own_environment() {
    let config = r#"
environments = ["dev", "integration", "live"]
[[source]]
path = "clusters/{env}/versions.env"
kind = "dotenv"
group = "apps"
[[promotion]]
from = "dev"
to = "integration"
[promotion.gate]
status-context = '^kustomization/(?P<component>[^/]+)/{env}$'
[[promotion]]
from = "integration"
to = "live"
partial = true
[promotion.gate]
status-context = '^kustomization/(?P<component>[^/]+)/{env}$'
"#;
    let s = setup(config, "app=1.0.0\n", "app=1.0.0\n");
    let dev = "clusters/dev/versions.env";
    s.gh.commit_files("main", "dev", &[(dev, "app=1.0.0\n")]);
    let c1 = s.bump("app=1.0.1\n");
    // The live cluster's failure speaks for `live`, which promotes nowhere; the dev cluster's
    // success speaks for dev -> integration, which has nothing to move.
    s.gh.add_status(&c1, "kustomization/app/live", "failure", "flux-bot");
    let run = s.run("status", status(&c1, "kustomization/app/live", "failure"));
    assert!(
        run.stderr
            .contains("status context `kustomization/app/live` speaks for no promotion"),
        "{}",
        run.stderr
    );
    s.gh.add_status(&c1, "kustomization/app/dev", "success", "flux-bot");
    let run = s.run("status", status(&c1, "kustomization/app/dev", "success"));
    assert!(
        run.stderr
            .contains("dev -> integration: nothing to promote"),
        "{}",
        run.stderr
    );
    assert_eq!(s.live(), "app=1.0.0\n");
    // Integration's own cluster reports success: integration -> live moves.
    s.gh.add_status(&c1, "kustomization/app/integration", "success", "flux-bot");
    let run = s.run(
        "status",
        status(&c1, "kustomization/app/integration", "success"),
    );
    assert_eq!(s.live(), "app=1.0.1\n", "{}", run.stderr);
}

#[test]
fn a_push_waits_for_statuses_and_the_status_event_promotes() {
    let s = setup(GATED, "app=1.0.0\nweb=2.0.0\n", "app=1.0.0\nweb=2.0.0\n");
    let c1 = s.bump("app=1.0.1\nweb=2.0.0\n");
    let run = s.run("push", push(&s.base, &c1));
    assert!(
        run.stderr
            .contains("integration -> live: waiting for statuses at"),
        "{}",
        run.stderr
    );
    assert_eq!(output(&run, "changed"), "false");
    assert_eq!(s.live(), "app=1.0.0\nweb=2.0.0\n");
    // A failure arrives before the push is replayed: still held.
    s.gh.add_status(&c1, "kustomization/app/1", "failure", "flux-bot");
    let run = s.run("push", push(&s.base, &c1));
    assert!(
        output(&run, "held").contains("is failure"),
        "{}",
        run.outputs
    );
    assert_eq!(s.live(), "app=1.0.0\nweb=2.0.0\n");
    // Positive control: success, and the status event does the work.
    s.gh.add_status(&c1, "kustomization/app/1", "success", "flux-bot");
    let run = s.run("status", status(&c1, "kustomization/app/1", "success"));
    assert_eq!(s.live(), "app=1.0.1\nweb=2.0.0\n");
    assert_eq!(output(&run, "changed"), "true");
    // And a verified push promotes at once.
    let c2 = s.bump("app=1.0.1\nweb=2.1.0\n");
    s.gh.add_status(&c2, "kustomization/web/1", "success", "flux-bot");
    let run = s.run("push", push(&c1, &c2));
    assert_eq!(s.live(), "app=1.0.1\nweb=2.1.0\n");
    assert_eq!(output(&run, "changed"), "true");
}

#[test]
fn an_ungated_push_keeps_promoting_what_changed() {
    let ungated = GATED.split("[promotion.gate]").next().expect("head");
    let s = setup(ungated, "app=1.0.0\nweb=2.0.0\n", "app=1.0.0\nweb=1.0.0\n");
    let c1 = s.bump("app=1.0.1\nweb=2.0.0\n");
    let run = s.run("push", push(&s.base, &c1));
    assert_eq!(s.live(), "app=1.0.1\nweb=1.0.0\n", "{}", run.stderr);
}

#[test]
fn a_merged_pr_promotes_only_what_it_changed_and_only_when_verified() {
    // `web` drifted long ago and its status failed; a README-only merge must not move it.
    let s = setup(GATED, "app=1.0.0\nweb=2.0.0\n", "app=1.0.0\nweb=1.0.0\n");
    s.gh.add_status(&s.base, "kustomization/web/1", "failure", "flux-bot");
    let readme = s.gh.commit_files(
        "main",
        "Merge pull request #4",
        &[("README.md", "# docs\n")],
    );
    s.gh.add_status(&readme, "kustomization/web/1", "success", "flux-bot");
    let run = s.run("pull_request", merged_pr(4, &readme));
    assert!(
        run.stderr
            .contains("the push to `main` changed no component that promotes onward"),
        "{}",
        run.stderr
    );
    assert_eq!(s.live(), "app=1.0.0\nweb=1.0.0\n");
    // A merge that bumps `app`: only `app` is a candidate, and only once verified.
    let merge = s.gh.commit_files(
        "main",
        "Merge pull request #5",
        &[(INTEGRATION, "app=1.1.0\nweb=2.0.0\n")],
    );
    s.gh.add_status(&merge, "kustomization/app/1", "failure", "flux-bot");
    s.gh.add_status(&merge, "kustomization/web/1", "success", "flux-bot");
    let run = s.run("pull_request", merged_pr(5, &merge));
    assert_eq!(s.live(), "app=1.0.0\nweb=1.0.0\n");
    let held = output(&run, "held");
    assert!(
        held.contains("apps/app") && held.contains("is failure"),
        "{held}"
    );
    assert!(held.contains("not changed by this push"), "{held}");
    s.gh.add_status(&merge, "kustomization/app/1", "success", "flux-bot");
    let run = s.run("pull_request", merged_pr(5, &merge));
    assert_eq!(s.live(), "app=1.1.0\nweb=1.0.0\n", "{}", run.stderr);
}

#[test]
fn flux_dispatch_counts_only_a_healthy_reconciliation_and_still_gates() {
    let s = setup(GATED, "app=1.0.0\nweb=2.0.0\n", "app=1.0.0\nweb=2.0.0\n");
    let c1 = s.bump("app=1.0.1\nweb=2.0.1\n");
    s.gh.add_status(&c1, "kustomization/app/1", "success", "flux-bot");
    s.gh.add_status(&c1, "kustomization/web/1", "success", "flux-bot");
    let run = s.run(
        "repository_dispatch",
        flux_event(&c1, "app", "Progressing", "CronJob/default/app configured"),
    );
    assert!(
        run.stderr.contains("(Progressing), not healthy"),
        "{}",
        run.stderr
    );
    assert_eq!(s.live(), "app=1.0.0\nweb=2.0.0\n");
    // Healthy, but the commit's status for `app` failed meanwhile: the gate holds it.
    s.gh.add_status(&c1, "kustomization/app/1", "failure", "flux-bot");
    let run = s.run(
        "repository_dispatch",
        flux_event(
            &c1,
            "app",
            "ReconciliationSucceeded",
            "Reconciliation finished in 3s",
        ),
    );
    assert_eq!(s.live(), "app=1.0.0\nweb=2.0.0\n");
    assert!(
        output(&run, "held").contains("is failure"),
        "{}",
        run.outputs
    );
    // Positive control: healthy and verified; only the named component moves.
    s.gh.add_status(&c1, "kustomization/app/1", "success", "flux-bot");
    s.run(
        "repository_dispatch",
        flux_event(
            &c1,
            "app",
            "ReconciliationSucceeded",
            "Reconciliation finished in 3s",
        ),
    );
    assert_eq!(s.live(), "app=1.0.1\nweb=2.0.0\n");
}

#[test]
fn workflow_dispatch_is_gated_unless_forced() {
    let s = setup(GATED, "app=1.0.0\n", "app=1.0.0\n");
    let c1 = s.bump("app=1.0.1\n");
    s.gh.add_status(&c1, "kustomization/app/1", "failure", "flux-bot");
    let run = s.run("workflow_dispatch", dispatch(false));
    assert_eq!(s.live(), "app=1.0.0\n");
    assert!(
        output(&run, "held").contains("is failure"),
        "{}",
        run.outputs
    );
    s.run("workflow_dispatch", dispatch(true));
    assert_eq!(s.live(), "app=1.0.1\n");
}

#[test]
fn check_runs_satisfy_require_and_hold_when_they_fail_or_run() {
    let config = GATED.replace(
        "status-context = '^kustomization/(?P<component>[^/]+)/'",
        "require = [\"build\"]",
    );
    let s = setup(&config, "app=1.0.0\n", "app=1.0.0\n");
    let c1 = s.bump("app=1.0.1\n");
    s.gh.add_check_run(&c1, "build", "in_progress", None, "github-actions");
    let run = s.run("workflow_dispatch", dispatch(false));
    assert!(
        output(&run, "held").contains("required status `build` is pending"),
        "{}",
        run.outputs
    );
    s.gh.add_check_run(&c1, "build", "completed", Some("failure"), "github-actions");
    let run = s.run("workflow_dispatch", dispatch(false));
    assert!(
        output(&run, "held").contains("required status `build` is failure"),
        "{}",
        run.outputs
    );
    assert_eq!(s.live(), "app=1.0.0\n");
    s.gh.add_check_run(&c1, "build", "completed", Some("success"), "github-actions");
    s.run("workflow_dispatch", dispatch(false));
    assert_eq!(s.live(), "app=1.0.1\n");
}

#[test]
fn a_required_context_nobody_reports_is_named_in_the_run() {
    let config = GATED.replace(
        "status-context = '^kustomization/(?P<component>[^/]+)/'",
        "require = [\"e2e-tests\"]",
    );
    let s = setup(&config, "app=1.0.0\n", "app=1.0.0\n");
    let c1 = s.bump("app=1.0.1\n");
    s.gh.add_status(&c1, "e2e-test", "success", "ci-bot");
    let run = s.run("workflow_dispatch", dispatch(false));
    assert!(
        run.stderr.contains(
            "required context `e2e-tests` was not reported at this commit (reported: `e2e-test`)"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(s.live(), "app=1.0.0\n");
}

#[test]
fn a_shared_name_releases_every_group_and_says_so_while_group_slash_name_picks_one() {
    let two_groups = r#"
environments = ["integration", "live"]
[[source]]
path = "clusters/{env}/versions.env"
kind = "dotenv"
group = "infra"
[[source]]
path = "clusters/{env}/helm.env"
kind = "dotenv"
group = "helm"
[[promotion]]
from = "integration"
to = "live"
partial = true
[promotion.gate]
status-context = '^kustomization/(?P<component>.+)/[0-9a-f]{8}$'
"#;
    let s = setup(two_groups, "cilium=1.0.0\n", "cilium=1.0.0\n");
    s.gh.commit_files(
        "main",
        "helm",
        &[
            ("clusters/integration/helm.env", "cilium=1.18.0\n"),
            ("clusters/live/helm.env", "cilium=1.18.0\n"),
        ],
    );
    let c1 = s.gh.commit_files(
        "main",
        "bump",
        &[
            (INTEGRATION, "cilium=1.1.0\n"),
            ("clusters/integration/helm.env", "cilium=1.18.1\n"),
        ],
    );
    s.gh.add_status(
        &c1,
        "kustomization/helm/cilium/5c3a9f0e",
        "success",
        "flux-bot",
    );
    s.run(
        "status",
        status(&c1, "kustomization/helm/cilium/5c3a9f0e", "success"),
    );
    assert_eq!(
        s.gh.file("main", "clusters/live/helm.env").as_deref(),
        Some("cilium=1.18.1\n")
    );
    assert_eq!(
        s.live(),
        "cilium=1.0.0\n",
        "`helm/cilium` speaks for helm only"
    );
    s.gh.add_status(&c1, "kustomization/cilium/5c3a9f0e", "success", "flux-bot");
    let run = s.run(
        "status",
        status(&c1, "kustomization/cilium/5c3a9f0e", "success"),
    );
    assert!(
        run.stderr.contains("`kustomization/cilium/5c3a9f0e` names `cilium`, which is `infra/cilium` and `helm/cilium`"),
        "{}",
        run.stderr
    );
    assert_eq!(s.live(), "cilium=1.1.0\n");
}

#[test]
fn empty_creators_are_spelled_out_in_the_summary() {
    let s = setup(GATED, "app=1.0.0\n", "app=1.0.0\n");
    let c1 = s.bump("app=1.0.1\n");
    s.gh.add_status(&c1, "kustomization/app/1", "success", "mallory");
    let run = s.run("status", status(&c1, "kustomization/app/1", "success"));
    assert!(
        run.summary
            .contains("trusts statuses and check runs from anyone with write access"),
        "{}",
        run.summary
    );
    // With creators set, an untrusted status is ignored and no such note appears.
    let trusted = GATED.replace(
        "[promotion.gate]",
        "[promotion.gate]\ncreators = [\"flux-bot\"]",
    );
    let s = setup(&trusted, "app=1.0.0\n", "app=1.0.0\n");
    let c1 = s.bump("app=1.0.1\n");
    s.gh.add_status(&c1, "kustomization/app/1", "success", "mallory");
    let run = s.run("status", status(&c1, "kustomization/app/1", "success"));
    assert!(
        !run.summary.contains("anyone with write access"),
        "{}",
        run.summary
    );
    assert!(
        output(&run, "held").contains("untrusted `mallory` ignored"),
        "{}",
        run.outputs
    );
    assert_eq!(s.live(), "app=1.0.0\n");
    s.gh.add_status(&c1, "kustomization/app/1", "success", "flux-bot");
    s.run("status", status(&c1, "kustomization/app/1", "success"));
    assert_eq!(s.live(), "app=1.0.1\n");
}

/// A late success for an older commit is a no-op, whatever the version looks like; a newer
/// verified commit still moves, even where versions cannot be ordered.
#[test]
fn a_late_status_for_an_older_commit_is_stale_for_every_version_format() {
    let formats = [
        ("semver", "1.2.3", "1.2.4", "1.3.0"),
        ("four-part", "4.0.17.2953", "4.0.19.3001", "4.0.20.1"),
        ("leading-zero", "2.85.01", "2.86.01", "2.87.01"),
        ("calver", "2024.05.01", "2024.06.12", "2024.07.01"),
        ("sha", "sha-aaaa111", "sha-bbbb222", "sha-cccc333"),
        (
            "digest",
            "sha256:1111111111111111111111111111111111111111111111111111111111111111",
            "sha256:2222222222222222222222222222222222222222222222222222222222222222",
            "sha256:3333333333333333333333333333333333333333333333333333333333333333",
        ),
    ];
    for (name, old, new, newest) in formats {
        let s = setup(GATED, &format!("app={old}\n"), &format!("app={old}\n"));
        let c1 = s.bump(&format!("app={old}\nnote=1\n"));
        let c2 = s.bump(&format!("app={new}\nnote=1\n"));
        s.gh.add_status(&c2, "kustomization/app/1", "success", "flux-bot");
        let run = s.run("status", status(&c2, "kustomization/app/1", "success"));
        let orderable = !matches!(name, "sha" | "digest");
        if !orderable {
            // Nothing orders them yet: held, never a plain change, until someone decides.
            let held = output(&run, "held");
            assert!(
                held.contains(&format!("cannot order `{new}` against `{old}`")),
                "{name}: {held}"
            );
            assert_eq!(s.live(), format!("app={old}\n"), "{name}");
            s.run("workflow_dispatch", dispatch(true));
        }
        assert_eq!(s.live(), format!("app={new}\n"), "{name}: promoted");
        // The late success for the older commit.
        s.gh.add_status(&c1, "kustomization/app/1", "success", "flux-bot");
        let run = s.run("status", status(&c1, "kustomization/app/1", "success"));
        assert_eq!(
            s.live(),
            format!("app={new}\n"),
            "{name}: rolled back by a stale status"
        );
        let held = output(&run, "held");
        assert!(
            held.contains(&format!(
                "stale: `live` already has what `integration` had at {}",
                &c2[..7]
            )),
            "{name}: {held}"
        );
        // A pin is a person's rollback: still gated at the branch head, but no downgrade guard.
        let pin = json!({"inputs": {"pin": format!("apps/app={old}")}, "ref": "refs/heads/main", "repository": {"full_name": "acme/homelab"}, "sender": {"login": "alice"}, "workflow": "promote.yaml"});
        let run = s.run("workflow_dispatch", pin.clone());
        assert!(
            output(&run, "held").contains("no status"),
            "{name}: {}",
            run.outputs
        );
        assert_eq!(
            s.live(),
            format!("app={new}\n"),
            "{name}: an unverified pin"
        );
        let main = s.gh.head("main").expect("main");
        s.gh.add_status(&main, "kustomization/app/1", "success", "flux-bot");
        s.run("workflow_dispatch", pin);
        assert_eq!(s.live(), format!("app={old}\n"), "{name}: pinned rollback");
        // Positive control: a newer verified commit moves, by history even where unordered.
        let c3 = s.bump(&format!("app={newest}\nnote=1\n"));
        s.gh.add_status(&c3, "kustomization/app/1", "success", "flux-bot");
        s.run("status", status(&c3, "kustomization/app/1", "success"));
        assert_eq!(s.live(), format!("app={newest}\n"), "{name}: newer commit");
    }
}

#[test]
fn a_resent_status_does_not_undo_a_manual_rollback() {
    let s = setup(GATED, "app=1.0.0\nweb=1.0.0\n", "app=1.0.0\nweb=1.0.0\n");
    let c1 = s.bump("app=1.1.0\nweb=1.1.0\n");
    s.gh.add_status(&c1, "kustomization/app/1", "success", "flux-bot");
    s.gh.add_status(&c1, "kustomization/web/1", "success", "flux-bot");
    s.run("status", status(&c1, "kustomization/app/1", "success"));
    assert_eq!(s.live(), "app=1.1.0\nweb=1.1.0\n");
    // A person rolls `app` back by hand on live.
    s.gh.commit_files(
        "main",
        "revert app on live",
        &[(LIVE, "app=1.0.0\nweb=1.1.0\n")],
    );
    let run = s.run("status", status(&c1, "kustomization/app/1", "success"));
    assert_eq!(s.live(), "app=1.0.0\nweb=1.1.0\n", "the rollback stays");
    assert!(output(&run, "held").contains("stale:"), "{}", run.outputs);
    // Positive control: a newer integration commit with a fix moves `app` again.
    let c2 = s.bump("app=1.1.1\nweb=1.1.0\n");
    s.gh.add_status(&c2, "kustomization/app/1", "success", "flux-bot");
    s.gh.add_status(&c2, "kustomization/web/1", "success", "flux-bot");
    s.run("status", status(&c2, "kustomization/app/1", "success"));
    assert_eq!(s.live(), "app=1.1.1\nweb=1.1.0\n");
}

#[test]
fn a_second_push_keeps_what_the_open_pull_request_already_carries() {
    let pr_mode = GATED
        .split("[promotion.gate]")
        .next()
        .expect("head")
        .replace(
            "partial = true",
            "partial = true\ndelivery = \"pull-request\"",
        );
    let s = setup(&pr_mode, "app=1.0.0\nweb=2.0.0\n", "app=1.0.0\nweb=2.0.0\n");
    let c1 = s.bump("app=1.0.1\nweb=2.0.0\n");
    s.run("push", push(&s.base, &c1));
    let branch = "promote/integration-to-live";
    assert_eq!(
        s.gh.file(branch, LIVE).as_deref(),
        Some("app=1.0.1\nweb=2.0.0\n")
    );
    // The next push changes only `web`: the PR keeps `app` and adds `web`.
    let c2 = s.bump("app=1.0.1\nweb=2.1.0\n");
    s.gh.clear_requests();
    let run = s.run("push", push(&c1, &c2));
    // The open pull request is looked up once: the listing that finds what it carries also
    // serves the delivery that updates it.
    let lookups: Vec<String> =
        s.gh.request_lines()
            .into_iter()
            .filter(|l| l.starts_with("GET ") && l.contains("/pulls"))
            .collect();
    assert_eq!(
        lookups,
        ["GET /repos/acme/homelab/pulls?base=main&state=open&per_page=100"],
        "{}",
        run.stderr
    );
    assert_eq!(
        s.gh.file(branch, LIVE).as_deref(),
        Some("app=1.0.1\nweb=2.1.0\n"),
        "{}",
        run.stderr
    );
    let open: Vec<_> =
        s.gh.pulls()
            .into_iter()
            .filter(|p| p.state == "open")
            .collect();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(
        s.live(),
        "app=1.0.0\nweb=2.0.0\n",
        "main waits for the merge"
    );
}
