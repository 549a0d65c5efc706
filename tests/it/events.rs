//! Events and gates, table-driven: payloads in GitHub's shapes, decisions and verdicts out.

use promote::config::Config;
use promote::event::{self, Trigger};
use promote::gate::{self, Decision, SourceRev, Verdict};

use crate::support::fixture;

const SHA: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";

fn payload(name: &str) -> Vec<u8> {
    std::fs::read(fixture(&format!("events/{name}"))).expect("fixture")
}

const FLUX: &str = r#"
environments = ["dev", "integration", "live"]
[[source]]
path = "kubernetes/clusters/{env}/helm-charts.yaml"
kind = "flux"
group = "helm"
[[promotion]]
from = "integration"
to = "live"
[promotion.gate]
status-context = '^(kustomization|helmrelease)/(?P<component>[^/]+)/'
"#;

const BRANCHES: &str = r#"
environments = [{ name = "dev", branch = "dev" }, { name = "stage", branch = "stage" }, { name = "prod", branch = "prod" }]
[[source]]
path = "apps/example-app/kustomization.yaml"
kind = "kustomize-images"
[[promotion]]
from = "dev"
to = "stage"
delivery = "pull-request-per-component"
[[promotion]]
from = "stage"
to = "prod"
delivery = "pull-request"
"#;

fn config(text: &str) -> Config {
    Config::load("promote.toml", text.as_bytes()).expect("config")
}

fn decide(event: &str, file: &str, cfg: &str) -> Decision {
    let trigger = event::parse(event, &payload(file)).expect("parse");
    gate::decide(&trigger, &config(cfg)).expect("decide")
}

#[test]
fn every_event_kind_parses_to_its_trigger() {
    type Check = fn(&Trigger) -> bool;
    let cases: &[(&str, &str, Check)] = &[
        (
            "status",
            "status-success.json",
            |t| matches!(t, Trigger::Status { state, sender: Some(s), branches, .. } if state == "success" && s == "flux-bot" && branches == &["main"]),
        ),
        (
            "status",
            "status-failure.json",
            |t| matches!(t, Trigger::Status { state, .. } if state == "failure"),
        ),
        (
            "push",
            "push-dev.json",
            |t| matches!(t, Trigger::Push { branch: Some(b), forced: false, .. } if b == "dev"),
        ),
        (
            "workflow_dispatch",
            "workflow-dispatch.json",
            |t| matches!(t, Trigger::Dispatch { from: Some(f), to: Some(to), components, force: false, dry_run: true, pins } if f == "stage" && to == "prod" && components == &["dex", "dex-init"] && pins == &[("dex".to_string(), "sha-xyz67890".to_string())]),
        ),
        (
            "workflow_dispatch",
            "workflow-dispatch-bools.json",
            |t| matches!(t, Trigger::Dispatch { force: true, dry_run: false, components, from: None, .. } if components.is_empty()),
        ),
        (
            "repository_dispatch",
            "repository-dispatch-flux.json",
            |t| matches!(t, Trigger::FluxDispatch { kind, name, revision_sha: Some(sha), revision_branch: Some(b), severity, .. } if kind == "HelmRelease" && name == "cilium" && sha == SHA && b == "main" && severity == "info"),
        ),
        (
            "pull_request",
            "pull-request-merged.json",
            |t| matches!(t, Trigger::MergedPr { number: 17, base_ref, .. } if base_ref == "stage"),
        ),
        (
            "pull_request",
            "pull-request-closed.json",
            |t| matches!(t, Trigger::Ignored { reason } if reason.contains("not merged")),
        ),
        (
            "issues",
            "issues-opened.json",
            |t| matches!(t, Trigger::Ignored { reason } if reason == "event `issues` does not trigger a promotion"),
        ),
    ];
    for (event, file, check) in cases {
        let t = event::parse(event, &payload(file)).expect(file);
        assert!(check(&t), "{event} {file}: {t:?}");
    }
}

#[test]
fn malformed_payloads_name_the_field() {
    let cases = [
        (
            "status",
            r#"{"state": "success", "context": "x"}"#,
            "status payload: missing field `sha`",
        ),
        (
            "push",
            r#"{"ref": 3, "before": "a", "after": "b"}"#,
            "push payload: field `ref`: invalid type: integer `3`, expected a string",
        ),
        (
            "workflow_dispatch",
            r#"{"inputs": {"force": "maybe"}}"#,
            "workflow_dispatch payload: field `inputs.force`: expected `true` or `false`, got `maybe`",
        ),
        (
            "workflow_dispatch",
            r#"{"inputs": {"pin": "dex"}}"#,
            "workflow_dispatch payload: field `inputs.pin`: `dex` is not `ID=VERSION`",
        ),
        (
            "repository_dispatch",
            r#"{"action": "deploy", "client_payload": {}}"#,
            "repository_dispatch payload: `deploy` carries no Flux event (missing field `client_payload.involvedObject`)",
        ),
        ("status", "not json", "status payload: expected ident"),
    ];
    for (event, body, want) in cases {
        let e = event::parse(event, body.as_bytes()).expect_err(body);
        assert_eq!(e.to_string(), want, "{event} {body}");
    }
}

#[test]
fn events_decide_promotions() {
    let promote = |d: &Decision| match d {
        Decision::Promote(rs) => rs
            .iter()
            .map(|r| {
                format!(
                    "{}->{} {:?} statuses={} force={}",
                    r.from, r.to, r.source, r.check_statuses, r.force
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        other => format!("{other:?}"),
    };
    let cases = [
        ("status", "status-success.json", FLUX, format!("integration->live {:?} statuses=true force=false", SourceRev::Commit(SHA.into()))),
        ("status", "status-failure.json", FLUX, "Nothing(\"status `kustomization/cilium/integration` is `failure` for 6dcb09b: nothing promoted\")".to_string()),
        ("status", "status-success.json", BRANCHES, "Nothing(\"status context `kustomization/cilium/integration` speaks for no promotion\")".to_string()),
        ("workflow_dispatch", "workflow-dispatch-bools.json", FLUX, "integration->live Head statuses=false force=true".to_string()),
        ("workflow_dispatch", "workflow-dispatch.json", BRANCHES, "stage->prod Head statuses=false force=false".to_string()),
        ("issues", "issues-opened.json", FLUX, "Nothing(\"event `issues` does not trigger a promotion\")".to_string()),
        ("push", "push-main.json", BRANCHES, "Nothing(\"push to branch `main` is not an environment\")".to_string()),
    ];
    for (event, file, cfg, want) in cases {
        assert_eq!(promote(&decide(event, file, cfg)), want, "{event} {file}");
    }
}

#[test]
fn flux_dispatch_names_one_component_at_its_revision() {
    let Decision::Promote(rs) = decide(
        "repository_dispatch",
        "repository-dispatch-flux-ready.json",
        FLUX,
    ) else {
        panic!("expected a promotion");
    };
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0].source, SourceRev::Commit(SHA.into()));
    assert_eq!(rs[0].only_component.as_deref(), Some("cilium"));
    assert!(rs[0].check_statuses, "the gate still applies");
}

#[test]
fn flux_dispatch_counts_only_healthy_reconciliations() {
    let ready = String::from_utf8(payload("repository-dispatch-flux-ready.json")).expect("utf8");
    let cases = [
        (
            ready.replace("ReconciliationSucceeded", "Progressing"),
            "Flux reports `kustomization/cilium` info (Progressing), not healthy: nothing promoted (only `ReconciliationSucceeded` or passed health checks count)",
        ),
        (
            ready.replace("\"severity\": \"info\"", "\"severity\": \"error\""),
            "Flux reports `kustomization/cilium` error (ReconciliationSucceeded), not healthy: nothing promoted (only `ReconciliationSucceeded` or passed health checks count)",
        ),
        (
            String::from_utf8(payload("repository-dispatch-flux.json")).expect("utf8"),
            "Flux reports `helmrelease/cilium` info (UpgradeSucceeded), not healthy: nothing promoted (only `ReconciliationSucceeded` or passed health checks count)",
        ),
    ];
    for (body, want) in cases {
        let t = event::parse("repository_dispatch", body.as_bytes()).expect("parse");
        assert_eq!(
            gate::decide(&t, &config(FLUX)).expect("decide"),
            Decision::Nothing(want.into())
        );
    }
    // Positive control: a message that says health checks passed counts.
    let healthy = ready
        .replace("ReconciliationSucceeded", "Progressing")
        .replace("Reconciliation finished", "Health check passed");
    let t = event::parse("repository_dispatch", healthy.as_bytes()).expect("parse");
    assert!(matches!(
        gate::decide(&t, &config(FLUX)).expect("decide"),
        Decision::Promote(_)
    ));
}

#[test]
fn flux_dispatch_picks_the_environment_it_names_or_refuses_to_guess() {
    let two = format!(
        "{FLUX}\n[[promotion]]\nfrom = \"dev\"\nto = \"integration\"\n[promotion.gate]\nstatus-context = '^kustomization/(?P<component>[^/]+)/{{env}}$'\n"
    )
    .replace(
        "'^(kustomization|helmrelease)/(?P<component>[^/]+)/'",
        "'^kustomization/(?P<component>[^/]+)/{env}$'",
    );
    let ready = String::from_utf8(payload("repository-dispatch-flux-ready.json")).expect("utf8");
    let t = event::parse("repository_dispatch", ready.as_bytes()).expect("parse");
    let d = gate::decide(&t, &config(&two)).expect("decide");
    assert!(
        matches!(&d, Decision::Nothing(why) if why.starts_with("Flux event for `kustomization/cilium` could come from `integration` or `dev`")),
        "{d:?}"
    );
    let named = ready.replace("\"revision\":", "\"env\": \"dev\", \"revision\":");
    let t = event::parse("repository_dispatch", named.as_bytes()).expect("parse");
    let Decision::Promote(rs) = gate::decide(&t, &config(&two)).expect("decide") else {
        panic!("expected a promotion");
    };
    assert_eq!(
        (rs[0].from.as_str(), rs[0].to.as_str()),
        ("dev", "integration")
    );
}

#[test]
fn pushes_to_environment_branches() {
    let d = decide("push", "push-dev.json", BRANCHES);
    assert!(
        matches!(&d, Decision::Changed { branch, before: Some(_), .. } if branch == "dev"),
        "{d:?}"
    );
    let prod = String::from_utf8(payload("push-dev.json"))
        .expect("utf8")
        .replace("refs/heads/dev", "refs/heads/prod");
    let t = event::parse("push", prod.as_bytes()).expect("parse");
    assert_eq!(
        gate::decide(&t, &config(BRANCHES)).expect("decide"),
        Decision::Nothing("push to the last environment `prod`: it promotes nowhere".into())
    );
    let d = decide("pull_request", "pull-request-merged.json", BRANCHES);
    assert!(
        matches!(&d, Decision::Changed { branch, before: None, after } if branch == "stage" && after.starts_with("e5bd39")),
        "{d:?}"
    );
    // A push to main in the flux layout: the glue compares the environments' versions.
    let d = decide("push", "push-main.json", FLUX);
    assert!(
        matches!(&d, Decision::Changed { branch, .. } if branch == "main"),
        "{d:?}"
    );
}

fn verdicts(e: &gate::Eligibility, ids: &[&str]) -> Vec<String> {
    ids.iter()
        .map(|id| match e.verdict(id) {
            Verdict::Eligible { .. } => format!("{id}: eligible"),
            Verdict::Held { reason } => format!("{id}: held ({reason})"),
        })
        .collect()
}

#[test]
fn a_push_changing_two_apps_makes_two_components_eligible() {
    let e = gate::only(
        &["apps/api".to_string(), "apps/web".to_string()],
        "changed by the push to `dev`",
    );
    assert_eq!(
        verdicts(&e, &["apps/api", "apps/web", "apps/worker"]),
        [
            "apps/api: eligible",
            "apps/web: eligible",
            "apps/worker: held (not changed by this push)",
        ]
    );
}

#[test]
fn a_dispatch_naming_no_promotion_is_an_error_listing_the_promotions() {
    let dispatch = |from: Option<&str>, to: Option<&str>| Trigger::Dispatch {
        from: from.map(str::to_string),
        to: to.map(str::to_string),
        components: Vec::new(),
        force: false,
        dry_run: false,
        pins: Vec::new(),
    };
    for (from, to, named) in [
        (Some("prod"), Some("dev"), "prod -> dev"),
        (Some("nosuch"), None, "nosuch -> *"),
        (None, Some("dev"), "* -> dev"),
    ] {
        let err = gate::decide(&dispatch(from, to), &config(BRANCHES)).expect_err("unknown");
        assert_eq!(
            err.to_string(),
            format!(
                "promote.toml: no promotion {named} in the config\nhint: promotions: dev -> stage, stage -> prod"
            )
        );
    }
    // Positive controls: each promotion by its ends, and the default.
    for (from, to, want) in [
        (Some("stage"), Some("prod"), ("stage", "prod")),
        (None, Some("stage"), ("dev", "stage")),
        (None, None, ("dev", "stage")),
    ] {
        let Decision::Promote(rs) =
            gate::decide(&dispatch(from, to), &config(BRANCHES)).expect("decide")
        else {
            panic!("expected a promotion");
        };
        assert_eq!((rs[0].from.as_str(), rs[0].to.as_str()), want);
    }
}
