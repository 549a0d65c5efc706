//! Events and gates, table-driven: payloads in GitHub's shapes, decisions and verdicts out.

use promote::config::Config;
use promote::event::{self, Trigger};
use promote::forge::CommitStatus;
use promote::gate::{self, Decision, GateConfig, SourceRev, Verdict};

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
        Decision::Promote(r) => format!(
            "{}->{} {:?} statuses={} force={}",
            r.from, r.to, r.source, r.check_statuses, r.force
        ),
        other => format!("{other:?}"),
    };
    let cases = [
        ("status", "status-success.json", FLUX, format!("integration->live {:?} statuses=true force=false", SourceRev::Commit(SHA.into()))),
        ("status", "status-failure.json", FLUX, "Nothing(\"status `kustomization/cilium/5c3a9f0e` is `failure` for 6dcb09b: nothing promoted\")".to_string()),
        ("status", "status-success.json", BRANCHES, "Nothing(\"status context `kustomization/cilium/5c3a9f0e` speaks for no promotion\")".to_string()),
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
    let Decision::Promote(r) = decide("repository_dispatch", "repository-dispatch-flux.json", FLUX)
    else {
        panic!("expected a promotion");
    };
    assert_eq!(r.source, SourceRev::Commit(SHA.into()));
    assert_eq!(r.only_component.as_deref(), Some("cilium"));
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

fn status(context: &str, state: &str, creator: &str) -> CommitStatus {
    CommitStatus {
        context: context.into(),
        state: state.into(),
        description: None,
        target_url: None,
        creator: Some(creator.into()),
        updated_at: None,
    }
}

fn rules(ctx: &str) -> GateConfig {
    GateConfig {
        status_context: Some(ctx.into()),
        require: vec![],
        creators: vec![],
    }
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
fn gate_rules_table() {
    let ids: Vec<String> = ["helm/cilium", "helm/cert-manager", "infra/talos"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let per_component = "^kustomization/(?P<component>[^/]+)/";
    let both = vec![
        status("kustomization/cilium/5c3a9f0e", "success", "flux"),
        status("kustomization/cert-manager/5c3a9f0e", "failure", "flux"),
    ];
    struct Case {
        name: &'static str,
        rules: GateConfig,
        partial: bool,
        statuses: Vec<CommitStatus>,
        want: [&'static str; 3],
    }
    let cases = vec![
        Case {
            name: "partial promotion",
            rules: rules(per_component),
            partial: true,
            statuses: both.clone(),
            want: [
                "helm/cilium: eligible",
                "helm/cert-manager: held (`kustomization/cert-manager/5c3a9f0e` is failure)",
                "infra/talos: held (no status matching `^kustomization/(?P<component>[^/]+)/` at this commit)",
            ],
        },
        Case {
            name: "partial off holds all",
            rules: rules(per_component),
            partial: false,
            statuses: both.clone(),
            want: [
                "helm/cilium: held",
                "helm/cert-manager: held",
                "infra/talos: held",
            ],
        },
        Case {
            name: "newest status per context wins",
            rules: rules(per_component),
            partial: true,
            statuses: vec![
                status("kustomization/cilium/5c3a9f0e", "failure", "flux"),
                status("kustomization/cilium/5c3a9f0e", "success", "flux"),
            ],
            want: [
                "helm/cilium: held (`kustomization/cilium/5c3a9f0e` is failure)",
                "helm/cert-manager: held",
                "infra/talos: held",
            ],
        },
        Case {
            name: "untrusted creator is ignored",
            rules: GateConfig {
                creators: vec!["flux".into()],
                ..rules(per_component)
            },
            partial: true,
            statuses: vec![
                status("kustomization/talos/1", "success", "mallory"),
                status("kustomization/cilium/1", "success", "flux"),
            ],
            want: [
                "helm/cilium: eligible",
                "helm/cert-manager: held",
                "infra/talos: held (no status matching `^kustomization/(?P<component>[^/]+)/` at this commit (`kustomization/talos/1` by untrusted `mallory` ignored))",
            ],
        },
        Case {
            name: "one status without a component group covers all",
            rules: rules("^kustomization/apps/integration$"),
            partial: true,
            statuses: vec![status("kustomization/apps/integration", "success", "flux")],
            want: [
                "helm/cilium: eligible",
                "helm/cert-manager: eligible",
                "infra/talos: eligible",
            ],
        },
        Case {
            name: "required context missing fails closed",
            rules: GateConfig {
                require: vec!["e2e".into()],
                ..rules(per_component)
            },
            partial: true,
            statuses: both.clone(),
            want: [
                "helm/cilium: held (required status `e2e` is missing)",
                "helm/cert-manager: held (required status `e2e` is missing)",
                "infra/talos: held (required status `e2e` is missing)",
            ],
        },
        Case {
            name: "required context pending fails closed",
            rules: GateConfig {
                require: vec!["e2e".into()],
                ..rules(per_component)
            },
            partial: true,
            statuses: vec![
                status("e2e", "pending", "ci"),
                status("kustomization/cilium/1", "success", "flux"),
            ],
            want: [
                "helm/cilium: held (required status `e2e` is pending)",
                "helm/cert-manager: held",
                "infra/talos: held",
            ],
        },
    ];
    for c in cases {
        let e = gate::from_statuses(&c.rules, c.partial, &ids, &c.statuses).expect(c.name);
        let got = verdicts(&e, &["helm/cilium", "helm/cert-manager", "infra/talos"]);
        for (g, w) in got.iter().zip(c.want) {
            assert!(g.starts_with(w), "{}: got `{g}`, want `{w}`", c.name);
        }
    }
    let bad = gate::from_statuses(&rules("(unclosed"), true, &ids, &both).expect_err("bad regex");
    assert!(
        bad.to_string()
            .starts_with("`gate.status-context` `(unclosed` is not a valid regex"),
        "{bad}"
    );
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
