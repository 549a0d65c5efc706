//! `examples/flux-homelab` end to end: one HelmRelease per app behind `${var}` pins, a shared
//! `platform/versions.env`, per-cluster `versions.env` with identity keys (live's in CRLF), and a
//! status from integration's Kustomization for one app.

use serde_json::json;

use crate::action_e2e::{output, run_action, seed, workspace_for};
use crate::fake_github::FakeGitHub;

const INTEGRATION: &str = "kubernetes/clusters/integration/versions.env";
const LIVE: &str = "kubernetes/clusters/live/versions.env";
const SHARED: &str = "kubernetes/platform/versions.env";

fn status(sha: &str, context: &str) -> serde_json::Value {
    json!({
        "sha": sha, "state": "success", "context": context,
        "branches": [{"name": "main"}], "sender": {"login": "flux-bot"}
    })
}

#[test]
fn a_status_for_one_app_moves_its_pin_line_only() {
    let gh = FakeGitHub::start("acme/homelab");
    seed(&gh, "main", "flux-homelab", &[]);
    // Renovate bumps integration's paperless pin.
    let bump = seed(
        &gh,
        "main",
        "flux-homelab",
        &[(
            INTEGRATION,
            "paperless_ngx_version=2.18.4",
            "paperless_ngx_version=2.18.5",
        )],
    );
    let before: Vec<(String, String)> = gh
        .state()
        .commits
        .get(&bump)
        .expect("commit")
        .files
        .iter()
        .map(|(p, b)| (p.clone(), String::from_utf8_lossy(b).into_owned()))
        .collect();
    gh.add_status(
        &bump,
        "kustomization/paperless/integration",
        "success",
        "flux-bot",
    );
    gh.add_status(
        &bump,
        "kustomization/cert-manager/integration",
        "failure",
        "flux-bot",
    );
    gh.add_status(
        &bump,
        "kustomization/external-dns/integration",
        "success",
        "flux-bot",
    );
    let ws = workspace_for("flux-homelab");
    let run = run_action(
        &gh,
        ws.path(),
        "status",
        status(&bump, "kustomization/paperless/integration"),
        &[],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(output(&run, "changed"), "true", "{}", run.stderr);

    // Only live's paperless pin line changed, CRLF kept; identity keys and every other file stay.
    let live_before = &before.iter().find(|(p, _)| p == LIVE).expect("live").1;
    let live_after = gh.file("main", LIVE).expect("live");
    assert_eq!(
        live_after,
        live_before.replace(
            "paperless_ngx_version=2.17.1\r\n",
            "paperless_ngx_version=2.18.5\r\n"
        )
    );
    assert!(live_after.contains("cluster_name=live\r\ncluster_vip=10.0.30.10\r\n"));
    for (path, text) in &before {
        if path != LIVE {
            assert_eq!(
                gh.file("main", path).as_deref(),
                Some(text.as_str()),
                "{path}"
            );
        }
    }
    // cert-manager failed; external-dns's live pin comes only from the shared file: both held.
    let held = output(&run, "held");
    assert!(
        held.contains("apps/cert-manager") && held.contains("is failure"),
        "{held}"
    );
    assert!(
        held.contains("apps/external-dns") && held.contains(SHARED),
        "{held}"
    );
    let promoted = output(&run, "promoted");
    assert!(
        promoted.contains(r#"{"component":"apps/paperless","from":"2.17.1","to":"2.18.5"}"#),
        "{promoted}"
    );
    assert!(!promoted.contains("cert-manager"), "{promoted}");
}
