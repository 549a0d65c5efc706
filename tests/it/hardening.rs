//! Hardening `promote run`: untrusted text never becomes a workflow command or live markdown,
//! and a failed run still answers with its outputs.

use serde_json::json;

use crate::action_e2e::{output, run_action, seed, workspace_for};
use crate::fake_github::FakeGitHub;
use crate::support::run_in;

/// Every line the runner would parse as a command: `::` at the start (after blanks), or the
/// legacy `##[` anywhere.
fn commands(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.trim_start().starts_with("::") || l.contains("##["))
        .collect()
}

const INJECT: &str = "x\n::set-output name=changed::true\n  ::warning::owned\r::error::cr\n##[set-output name=changed;]true";

#[test]
fn injected_workflow_commands_in_payloads_stay_text_on_stdout_and_stderr() {
    let gh = FakeGitHub::start("acme/homelab");
    let head = seed(&gh, "main", "flux-terragrunt", &[]);
    let ws = workspace_for("flux-terragrunt");
    // A Flux event whose reason carries commands.
    let flux = json!({
        "action": "Kustomization/cilium.flux-system",
        "client_payload": {
            "involvedObject": {"kind": "Kustomization", "namespace": "flux-system", "name": "cilium"},
            "severity": "info", "reason": INJECT, "message": INJECT,
            "metadata": {"revision": format!("main@sha1:{head}")}
        }
    });
    // A status whose context carries commands.
    let status = json!({
        "sha": head, "state": "success", "context": format!("kustomization/{INJECT}"),
        "branches": [], "sender": {"login": "flux-bot"}
    });
    // A pull_request action (ignored, but echoed in the message).
    let pr = json!({
        "action": INJECT, "number": 7,
        "pull_request": {"merged": false, "merge_commit_sha": null, "head": {"ref": "x"}, "base": {"ref": "main"}}
    });
    for (event, payload) in [
        ("repository_dispatch", flux),
        ("status", status),
        ("pull_request", pr),
    ] {
        let run = run_action(&gh, ws.path(), event, payload, &[]);
        assert_eq!(run.code, 0, "{event}: {}", run.stderr);
        assert!(
            run.stderr.contains("set-output name=changed::true"),
            "{event}: the text is shown: {}",
            run.stderr
        );
        assert_eq!(commands(&run.stderr), Vec::<&str>::new(), "{event}: stderr");
        for c in commands(&run.stdout) {
            assert!(
                c.starts_with("::add-mask::") || c.starts_with("::group::") || c == "::endgroup::",
                "{event}: unexpected command on stdout: {c}"
            );
        }
        assert_eq!(output(&run, "changed"), "false", "{event}");
    }
}

#[test]
fn a_failed_run_writes_its_outputs_and_an_escaped_error() {
    let gh = FakeGitHub::start("acme/homelab");
    seed(&gh, "main", "flux-terragrunt", &[]);
    let ws = workspace_for("flux-terragrunt");
    let dispatch = json!({"inputs": {"pin": INJECT}});
    let run = run_action(&gh, ws.path(), "workflow_dispatch", dispatch, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(output(&run, "changed"), "false", "{}", run.outputs);
    assert_eq!(output(&run, "promoted"), "[]");
    assert!(
        output(&run, "error").contains("is not `ID=VERSION`"),
        "{}",
        run.outputs
    );
    assert_eq!(commands(&run.stderr), Vec::<&str>::new(), "{}", run.stderr);
    let errors: Vec<&str> = commands(&run.stdout)
        .into_iter()
        .filter(|c| c.starts_with("::error"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", run.stdout);
    assert!(!errors[0].contains('\r'), "{}", errors[0]);
    // Every group that opened was closed, on the error path too.
    assert_eq!(
        run.stdout.matches("::group::").count(),
        run.stdout.matches("::endgroup::").count(),
        "{}",
        run.stdout
    );
    assert!(run.summary.contains("promote failed"), "{}", run.summary);
}

#[test]
fn a_broken_target_file_is_an_annotation_with_file_line_and_column() {
    let gh = FakeGitHub::start("acme/homelab");
    let live = "kubernetes/clusters/live/helm-charts.yaml";
    seed(&gh, "main", "flux-terragrunt", &[]);
    let text = gh.file("main", live).expect("live");
    let broken = text.replacen("version: ", "version: [", 1);
    let head = gh.commit_files("main", "break live", &[(live, &broken)]);
    gh.add_status(
        &head,
        "kustomization/cilium/integration",
        "success",
        "flux-bot",
    );
    let ws = workspace_for("flux-terragrunt");
    let status = json!({
        "sha": head, "state": "success", "context": "kustomization/cilium/integration",
        "branches": [], "sender": {"login": "flux-bot"}
    });
    let run = run_action(&gh, ws.path(), "status", status, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let annotation = run
        .stdout
        .lines()
        .find(|l| l.starts_with("::error"))
        .expect("annotation");
    assert!(
        annotation.starts_with(&format!("::error file={},line=", live.replace(':', "%3A"))),
        "{annotation}"
    );
    assert!(annotation.contains(",col="), "{annotation}");
    assert_eq!(output(&run, "changed"), "false");
    // Positive control: the repaired file promotes.
    let head = gh.commit_files("main", "repair live", &[(live, &text)]);
    gh.add_status(
        &head,
        "kustomization/cilium/integration",
        "success",
        "flux-bot",
    );
    let status = json!({
        "sha": head, "state": "success", "context": "kustomization/cilium/integration",
        "branches": [], "sender": {"login": "flux-bot"}
    });
    let run = run_action(&gh, ws.path(), "status", status, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn markdown_in_status_contexts_is_defused_in_the_summary() {
    let gh = FakeGitHub::start("acme/homelab");
    let charts = "kubernetes/clusters/integration/helm-charts.yaml";
    let c1 = seed(&gh, "main", "flux-terragrunt", &[]);
    let c2 = seed(
        &gh,
        "main",
        "flux-terragrunt",
        &[(charts, "version: v1.19.1", "version: v1.19.2")],
    );
    let _ = c1;
    let hostile =
        "kustomization/cert-manager/@acme/admins [x](https://evil.test) ![i](https://e/i.png)";
    gh.add_status(&c2, hostile, "failure", "flux-bot");
    let ws = workspace_for("flux-terragrunt");
    let status = json!({
        "sha": c2, "state": "success", "context": "kustomization/cilium/integration",
        "branches": [], "sender": {"login": "flux-bot"}
    });
    gh.add_status(
        &c2,
        "kustomization/cilium/integration",
        "success",
        "flux-bot",
    );
    let run = run_action(&gh, ws.path(), "status", status, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.summary.contains("cert-manager"), "{}", run.summary);
    // Outside code spans, no live mention, link or image remains.
    let outside: String = run.summary.split('`').step_by(2).collect();
    assert!(!outside.contains("@acme"), "{}", run.summary);
    assert!(!outside.contains("](https://"), "{}", run.summary);
}

#[test]
fn hostile_shas_are_refused_at_parse_time_without_a_panic() {
    let gh = FakeGitHub::start("acme/homelab");
    let head = seed(&gh, "main", "flux-terragrunt", &[]);
    let ws = workspace_for("flux-terragrunt");
    let flux = |revision: &str| {
        json!({
            "action": "Kustomization/cilium.flux-system",
            "client_payload": {
                "involvedObject": {"kind": "Kustomization", "namespace": "flux-system", "name": "cilium"},
                "severity": "info", "reason": "ReconciliationSucceeded", "message": "Reconciliation finished",
                "metadata": {"revision": revision}
            }
        })
    };
    let cases = [
        ("repository_dispatch", flux("main@sha1:ééééé")),
        (
            "status",
            json!({"sha": "ééééééé", "state": "success", "context": "kustomization/cilium/1"}),
        ),
        (
            "push",
            json!({"ref": "refs/heads/main", "before": "0", "after": "HEAD~1"}),
        ),
    ];
    for (event, payload) in cases {
        let run = run_action(&gh, ws.path(), event, payload, &[]);
        assert_eq!(run.code, 1, "{event}: {}", run.stderr);
        assert!(
            run.stderr
                .contains("is not a commit sha (40 or 64 hex digits)"),
            "{event}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{event}: {}", run.stderr);
        assert_eq!(output(&run, "changed"), "false");
    }
    // Positive control: the same Flux event with a real revision is read (and gated).
    gh.add_status(
        &head,
        "kustomization/cilium/integration",
        "success",
        "flux-bot",
    );
    let run = run_action(
        &gh,
        ws.path(),
        "repository_dispatch",
        flux(&format!("main@sha1:{head}")),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn promote_log_debug_lists_api_calls_with_their_timing() {
    let gh = FakeGitHub::start("acme/homelab");
    let head = seed(&gh, "main", "flux-terragrunt", &[]);
    gh.add_status(
        &head,
        "kustomization/cilium/integration",
        "success",
        "flux-bot",
    );
    let ws = workspace_for("flux-terragrunt");
    let status = json!({
        "sha": head, "state": "success", "context": "kustomization/cilium/integration",
        "branches": [], "sender": {"login": "flux-bot"}
    });
    gh.clear_requests();
    let run = crate::action_e2e::run_action_at(
        gh.url(),
        ws.path(),
        "status",
        status.clone(),
        &[],
        &[("PROMOTE_LOG", "debug")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Every request the server saw, one line each, with its duration.
    let timed: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("api: ") && l.contains(" ms (try "))
        .collect();
    assert_eq!(timed.len(), gh.requests().len(), "{}", run.stderr);
    let call = run
        .stderr
        .lines()
        .find(|l| l.contains(&format!("api: POST {}/graphql", gh.url())))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(
        call.contains("-> 200 OK in ") && call.contains(" ms (try 1)"),
        "{call}"
    );
    assert!(run.stderr.contains("decision: Promote"), "{}", run.stderr);
    // Positive control: the default level keeps them quiet.
    let run = crate::action_e2e::run_action_at(gh.url(), ws.path(), "status", status, &[], &[]);
    assert!(!run.stderr.contains("api: GET"), "{}", run.stderr);
}

/// `plan --format json` is printed as it is serialized, neutralized line by line: a legacy
/// workflow command in a file's text (a comment beside a changed pin, shown in the diff) stays
/// text, and the document still reads as JSON.
#[test]
fn a_json_plan_shows_file_text_neutralized() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |path: &str, text: &str| crate::support::write_file(dir.path(), path, text);
    write(
        ".github/promote.toml",
        "environments = [\"dev\", \"prod\"]\n\n[[source]]\npath = \"pins/{env}/versions.env\"\nkind = \"dotenv\"\n\n[[promotion]]\nfrom = \"dev\"\nto = \"prod\"\n",
    );
    let hostile = "# ##[set-output name=changed;]true\n";
    write("pins/dev/versions.env", &format!("{hostile}APP=1.1.0\n"));
    write("pins/prod/versions.env", &format!("{hostile}APP=1.0.0\n"));
    let (code, out, err) = run_in(dir.path(), &["plan", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("##["), "{out}");
    let plan: serde_json::Value = serde_json::from_str(&out).expect("json");
    let diff = plan["edits"][0]["diff"].as_str().expect("a diff");
    // The comment is there, as text; the change is there too (the positive control).
    assert!(
        diff.contains(" # ## [set-output name=changed;]true\n"),
        "{diff}"
    );
    assert!(diff.contains("-APP=1.0.0\n+APP=1.1.0\n"), "{diff}");
}
