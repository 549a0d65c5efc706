//! GitHub API calls per delivery: a handful, independent of how many components a repo has.

use crate::action_e2e::{output, run_action, seed, workspace_for};
use crate::fake_github::FakeGitHub;

/// Extra HelmReleases appended to every environment's charts (the same version everywhere, so
/// they are inventoried and compared but never change).
fn padding(n: usize) -> String {
    (0..n)
        .map(|i| format!("---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: pad-{i}\nspec:\n  chart:\n    spec:\n      chart: pad-{i}\n      version: \"1.{i}.0\"\n"))
        .collect()
}

/// Calls made by one status-triggered promotion of `delivery` with `extra` more components.
fn calls(delivery: &str, extra: usize) -> usize {
    let gh = FakeGitHub::start("acme/homelab");
    let pad = padding(extra);
    let mut edits = Vec::new();
    let files: Vec<String> = ["dev", "integration", "live"]
        .iter()
        .map(|e| format!("kubernetes/clusters/{e}/helm-charts.yaml"))
        .collect();
    for f in &files {
        edits.push((
            f.as_str(),
            "            version: << inputs.version >>\n",
            format!("            version: << inputs.version >>\n{pad}"),
        ));
    }
    let edits: Vec<(&str, &str, &str)> =
        edits.iter().map(|(f, a, b)| (*f, *a, b.as_str())).collect();
    let head = seed(&gh, "main", "flux-terragrunt", &edits);
    gh.add_status(
        &head,
        "kustomization/cilium/integration",
        "success",
        "flux-bot",
    );
    gh.add_status(
        &head,
        "kustomization/cert-manager/integration",
        "success",
        "flux-bot",
    );
    let ws = workspace_for("flux-terragrunt");
    let cfg = ws.path().join(".github/promote.toml");
    let text = std::fs::read_to_string(&cfg).expect("cfg");
    std::fs::write(
        &cfg,
        text.replace(
            "delivery = \"commit\"",
            &format!("delivery = \"{delivery}\""),
        ),
    )
    .expect("write");
    gh.clear_requests();
    let payload = serde_json::json!({"sha": head, "state": "success", "context": "kustomization/cilium/integration", "branches": [{"name": "main"}], "sender": {"login": "flux-bot"}});
    let run = run_action(&gh, ws.path(), "status", payload, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(output(&run, "changed"), "true", "{}", run.stderr);
    if std::env::var("SHOW_CALLS").is_ok() {
        eprintln!("{}", gh.request_lines().join("\n"));
    }
    gh.requests().len()
}

#[test]
fn a_status_triggered_delivery_needs_a_handful_of_calls_whatever_the_size() {
    for delivery in ["commit", "pull-request", "pull-request-per-component"] {
        let (small, big) = (calls(delivery, 0), calls(delivery, 300));
        eprintln!("{delivery}: {small} calls for 11 components, {big} for 311");
        assert_eq!(
            small, big,
            "{delivery}: calls grew with the number of components"
        );
        // One PR per changed component costs a few calls each; the others are a fixed handful
        // (one of them lists open pull requests to close promote's own that are settled).
        let limit = if delivery == "pull-request-per-component" {
            41
        } else {
            20
        };
        assert!(small <= limit, "{delivery}: {small} calls");
    }
}
