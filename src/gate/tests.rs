//! Table tests of the gate: statuses and check runs in, verdicts out.

#![allow(clippy::indexing_slicing)]

use super::*;

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

fn subjects(ids: &[&str]) -> Vec<Subject> {
    ids.iter()
        .map(|id| Subject {
            id: (*id).into(),
            name: id.split_once('/').map_or(*id, |(_, n)| n).into(),
            aliases: Vec::new(),
            own_name: true,
        })
        .collect()
}

const IDS: [&str; 4] = [
    "helm/cilium",
    "helm/cert-manager",
    "infra/talos",
    "infra/cilium",
];
const PER_COMPONENT: &str = "^kustomization/(?P<component>[^/]+)/";

fn verdicts(e: &Eligibility) -> Vec<String> {
    IDS.iter()
        .map(|id| match e.verdict(id) {
            Verdict::Eligible { .. } => format!("{id}: eligible"),
            Verdict::Held { reason } => format!("{id}: held ({reason})"),
        })
        .collect()
}

struct Case {
    name: &'static str,
    rules: GateConfig,
    partial: bool,
    statuses: Vec<CommitStatus>,
    check_runs: Vec<CommitStatus>,
    /// Prefixes of each verdict, in `IDS` order.
    want: [&'static str; 4],
}

fn case(
    name: &'static str,
    rules: GateConfig,
    statuses: Vec<CommitStatus>,
    want: [&'static str; 4],
) -> Case {
    Case {
        name,
        rules,
        partial: true,
        statuses,
        check_runs: vec![],
        want,
    }
}

#[test]
fn gate_rules_table() {
    let cases = vec![
        case(
            "partial promotion: success moves, failure and silence hold",
            rules(PER_COMPONENT),
            vec![
                status("kustomization/helm%2Fcilium/x", "success", "flux"),
                status("kustomization/cert-manager/5c3a9f0e", "failure", "flux"),
                status("kustomization/talos/5c3a9f0e", "success", "flux"),
            ],
            [
                "helm/cilium: held (no status matching",
                "helm/cert-manager: held (`kustomization/cert-manager/5c3a9f0e` is failure)",
                "infra/talos: eligible",
                "infra/cilium: held (no status matching",
            ],
        ),
        case(
            "one success does not hide a failure from another provider",
            rules(PER_COMPONENT),
            vec![
                status("kustomization/talos/bbbb2222", "success", "flux"),
                status("kustomization/talos/aaaa1111", "failure", "flux"),
            ],
            [
                "helm/cilium: held",
                "helm/cert-manager: held",
                "infra/talos: held (`kustomization/talos/aaaa1111` is failure)",
                "infra/cilium: held",
            ],
        ),
        case(
            "pending holds, like failure and error",
            rules(PER_COMPONENT),
            vec![
                status("kustomization/talos/a", "success", "flux"),
                status("kustomization/talos/b", "pending", "ci"),
                status("kustomization/cert-manager/a", "error", "ci"),
            ],
            [
                "helm/cilium: held",
                "helm/cert-manager: held (`kustomization/cert-manager/a` is error)",
                "infra/talos: held (`kustomization/talos/b` is pending)",
                "infra/cilium: held",
            ],
        ),
        case(
            "{env} binds contexts to the source environment: the live cluster's failure does not speak for integration",
            rules("^kustomization/(?P<component>[^/]+)/{env}$"),
            vec![
                status("kustomization/talos/live", "failure", "flux"),
                status("kustomization/talos/integration", "success", "flux"),
                status("kustomization/cert-manager/live", "success", "flux"),
            ],
            [
                "helm/cilium: held",
                "helm/cert-manager: held (no status matching `^kustomization/(?P<component>[^/]+)/integration$`",
                "infra/talos: eligible",
                "infra/cilium: held",
            ],
        ),
        case(
            "a shared name speaks for every group that has it",
            rules(PER_COMPONENT),
            vec![status("kustomization/cilium/a", "success", "flux")],
            [
                "helm/cilium: eligible",
                "helm/cert-manager: held",
                "infra/talos: held",
                "infra/cilium: eligible",
            ],
        ),
        case(
            "group/name in the context speaks for that group only",
            rules("^(?P<component>[^:]+):"),
            vec![
                status("infra/cilium:integration", "success", "flux"),
                status("HELM/CERT-MANAGER:integration", "success", "flux"),
            ],
            [
                "helm/cilium: held",
                "helm/cert-manager: eligible",
                "infra/talos: held",
                "infra/cilium: eligible",
            ],
        ),
        case(
            "newest status per context wins",
            rules(PER_COMPONENT),
            vec![
                status("kustomization/talos/5c3a9f0e", "failure", "flux"),
                status("kustomization/talos/5c3a9f0e", "success", "flux"),
                status("kustomization/cert-manager/5c3a9f0e", "success", "flux"),
                status("kustomization/cert-manager/5c3a9f0e", "failure", "flux"),
            ],
            [
                "helm/cilium: held",
                "helm/cert-manager: eligible",
                "infra/talos: held (`kustomization/talos/5c3a9f0e` is failure)",
                "infra/cilium: held",
            ],
        ),
        case(
            "untrusted creator is ignored, and said so",
            GateConfig {
                creators: vec!["flux".into()],
                ..rules(PER_COMPONENT)
            },
            vec![
                status("kustomization/talos/1", "success", "mallory"),
                status("kustomization/cert-manager/1", "success", "flux"),
            ],
            [
                "helm/cilium: held",
                "helm/cert-manager: eligible",
                "infra/talos: held (no status matching `^kustomization/(?P<component>[^/]+)/` at this commit (`kustomization/talos/1` by untrusted `mallory` ignored))",
                "infra/cilium: held",
            ],
        ),
        case(
            "one status without a component group covers all",
            rules("^kustomization/apps/{env}$"),
            vec![status("kustomization/apps/integration", "success", "flux")],
            [
                "helm/cilium: eligible",
                "helm/cert-manager: eligible",
                "infra/talos: eligible",
                "infra/cilium: eligible",
            ],
        ),
        case(
            "required context missing fails closed",
            GateConfig {
                require: vec!["e2e".into()],
                ..rules(PER_COMPONENT)
            },
            vec![status("kustomization/talos/1", "success", "flux")],
            [
                "helm/cilium: held (required status `e2e` is missing)",
                "helm/cert-manager: held (required status `e2e` is missing)",
                "infra/talos: held (required status `e2e` is missing)",
                "infra/cilium: held (required status `e2e` is missing)",
            ],
        ),
        case(
            "required context pending fails closed",
            GateConfig {
                require: vec!["e2e/{env}".into()],
                ..rules(PER_COMPONENT)
            },
            vec![
                status("e2e/integration", "pending", "ci"),
                status("kustomization/talos/1", "success", "flux"),
            ],
            [
                "helm/cilium: held (required status `e2e/integration` is pending)",
                "helm/cert-manager: held",
                "infra/talos: held",
                "infra/cilium: held",
            ],
        ),
        case(
            "require alone: every component moves once it passes",
            GateConfig {
                require: vec!["e2e".into()],
                status_context: None,
                creators: vec![],
            },
            vec![status("e2e", "success", "ci")],
            [
                "helm/cilium: eligible",
                "helm/cert-manager: eligible",
                "infra/talos: eligible",
                "infra/cilium: eligible",
            ],
        ),
        Case {
            name: "partial off: one held component holds all",
            partial: false,
            ..case(
                "",
                rules(PER_COMPONENT),
                vec![
                    status("kustomization/talos/1", "success", "flux"),
                    status("kustomization/cilium/1", "success", "flux"),
                ],
                [
                    "helm/cilium: held (partial promotion is off and `helm/cert-manager`: no status",
                    "helm/cert-manager: held",
                    "infra/talos: held",
                    "infra/cilium: held",
                ],
            )
        },
        Case {
            name: "check runs count: a required job by name, and a failed run holds its component",
            check_runs: vec![
                status("build", "success", "github-actions"),
                status("kustomization/talos/e2e", "failure", "github-actions"),
            ],
            ..case(
                "",
                GateConfig {
                    require: vec!["build".into()],
                    ..rules(PER_COMPONENT)
                },
                vec![
                    status("kustomization/talos/1", "success", "flux"),
                    status("kustomization/cert-manager/1", "success", "flux"),
                ],
                [
                    "helm/cilium: held",
                    "helm/cert-manager: eligible",
                    "infra/talos: held (`kustomization/talos/e2e` is failure)",
                    "infra/cilium: held",
                ],
            )
        },
        Case {
            name: "a pending check run holds what it speaks for",
            check_runs: vec![status(
                "kustomization/cert-manager/ci",
                "pending",
                "github-actions",
            )],
            ..case(
                "",
                rules(PER_COMPONENT),
                vec![status("kustomization/cert-manager/1", "success", "flux")],
                [
                    "helm/cilium: held",
                    "helm/cert-manager: held (`kustomization/cert-manager/ci` is pending)",
                    "infra/talos: held",
                    "infra/cilium: held",
                ],
            )
        },
    ];
    for c in cases {
        let e = from_statuses(
            &c.rules,
            "integration",
            c.partial,
            &subjects(&IDS),
            &c.statuses,
            &c.check_runs,
        )
        .expect(c.name);
        let got = verdicts(&e);
        for (g, w) in got.iter().zip(c.want) {
            assert!(g.starts_with(w), "{}: got `{g}`, want `{w}`", c.name);
        }
    }
}

#[test]
fn shared_names_and_unseen_requires_are_noted_and_silence_is_waiting() {
    let e = from_statuses(
        &rules(PER_COMPONENT),
        "integration",
        true,
        &subjects(&IDS),
        &[status("kustomization/cilium/a", "success", "flux")],
        &[],
    )
    .expect("gate");
    assert_eq!(
        e.notes,
        [
            "`kustomization/cilium/a` names `cilium`, which is `helm/cilium` and `infra/cilium`: it speaks for each of them (name `group/name` in the context to tell them apart)"
        ]
    );
    assert!(!e.waiting);

    let gated = GateConfig {
        require: vec!["e2e".into()],
        ..rules(PER_COMPONENT)
    };
    let e = from_statuses(
        &gated,
        "integration",
        true,
        &subjects(&IDS),
        &[status("lint", "success", "ci")],
        &[],
    )
    .expect("gate");
    assert!(
        e.waiting,
        "nothing that speaks for the promotion was reported"
    );
    assert_eq!(
        e.notes,
        [
            "required context `e2e` was not reported at this commit (reported: `lint`); check its spelling in `require`"
        ]
    );
}

#[test]
fn restrict_keeps_verdicts_of_kept_components_only() {
    let mut e = Eligibility::all("forced");
    let ids: Vec<String> = IDS.iter().map(|s| s.to_string()).collect();
    e.restrict(
        &ids,
        &["infra/talos".to_string()],
        "not changed by this push",
    );
    assert_eq!(
        verdicts(&e),
        [
            "helm/cilium: held (not changed by this push)",
            "helm/cert-manager: held (not changed by this push)",
            "infra/talos: eligible",
            "infra/cilium: held (not changed by this push)",
        ]
    );
}

#[test]
fn a_bad_regex_is_an_error() {
    let bad = from_statuses(
        &rules("(unclosed"),
        "integration",
        true,
        &subjects(&IDS),
        &[],
        &[],
    )
    .expect_err("bad regex");
    assert!(
        bad.to_string()
            .starts_with("`gate.status-context` `(unclosed` is not a valid regex"),
        "{bad}"
    );
}

#[test]
fn review_finds_promotions_no_status_can_tell_apart_and_says_what_gates_mean() {
    let load = |text: &str| Config::load("promote.toml", text.as_bytes()).expect("config");
    let envs = "environments = [\"dev\", \"integration\", \"live\"]\n[[source]]\npath = \"{env}.env\"\nkind = \"dotenv\"\n";
    let gated = |from: &str, to: &str, ctx: &str, partial: bool| {
        format!(
            "[[promotion]]\nfrom = \"{from}\"\nto = \"{to}\"\npartial = {partial}\n[promotion.gate]\nstatus-context = '{ctx}'\n"
        )
    };
    let shared = load(&format!(
        "{envs}{}{}",
        gated("dev", "integration", PER_COMPONENT, true),
        gated("integration", "live", PER_COMPONENT, true)
    ));
    let r = review(&shared);
    assert_eq!(r.problems.len(), 1, "{r:?}");
    assert!(
        r.problems[0].starts_with(
            "`dev -> integration` and `integration -> live` are gated by the same contexts"
        ),
        "{r:?}"
    );
    // Positive control: `{env}` tells them apart.
    let bound = "^kustomization/(?P<component>[^/]+)/{env}$";
    let apart = load(&format!(
        "{envs}{}{}",
        gated("dev", "integration", bound, true),
        gated("integration", "live", bound, true)
    ));
    assert_eq!(review(&apart), GateReview::default());
    // One status for everything, on a partial promotion; and an ungated promotion.
    let mixed = load(&format!(
        "{envs}{}[[promotion]]\nfrom = \"integration\"\nto = \"live\"\n",
        gated("dev", "integration", "^kustomization/apps$", true)
    ));
    let r = review(&mixed);
    assert!(r.problems.is_empty(), "{r:?}");
    assert_eq!(
        r.notes,
        [
            "`dev -> integration` has `partial = true`, but its `status-context` has no `(?P<component>...)` group: each matching status speaks for every component, so all move or none do",
            "`integration -> live` is ungated: every trigger promotes whatever differs (add `[promotion.gate]` to promote only what was verified)",
        ]
    );
}

/// Status names (`status-names`, the dotenv default) are names too: matched like a name, and
/// as `group/alias` like an id; a name two groups share still speaks for both, with a note.
#[test]
fn status_names_speak_for_their_components_group_aware() {
    let subject = |id: &str, name: &str, aliases: &[&str]| Subject {
        id: id.into(),
        name: name.into(),
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        own_name: true,
    };
    let with_aliases = [
        subject(
            "apps/PAPERLESS_NGX_VERSION",
            "PAPERLESS_NGX_VERSION",
            &["paperless-ngx"],
        ),
        subject("apps/immich_version", "immich_version", &["photos"]),
        subject("infra/CILIUM_VERSION", "CILIUM_VERSION", &["cilium"]),
        subject("helm/cilium", "cilium", &[]),
    ];
    let without: Vec<Subject> = with_aliases
        .iter()
        .map(|s| Subject {
            aliases: Vec::new(),
            ..s.clone()
        })
        .collect();
    let eligible = |subjects: &[Subject], context: &str| -> (Vec<String>, Vec<String>) {
        let e = from_statuses(
            &rules("^ks/(?P<component>.+)$"),
            "dev",
            true,
            subjects,
            &[status(context, "success", "flux")],
            &[],
        )
        .expect("gate");
        let ids = subjects
            .iter()
            .filter(|s| matches!(e.verdict(&s.id), Verdict::Eligible { .. }))
            .map(|s| s.id.to_string())
            .collect();
        (ids, e.notes)
    };
    let cases: [(&str, &[&str], usize); 8] = [
        ("ks/paperless-ngx", &["apps/PAPERLESS_NGX_VERSION"], 0),
        ("ks/PAPERLESS-NGX", &["apps/PAPERLESS_NGX_VERSION"], 0),
        ("ks/apps/paperless-ngx", &["apps/PAPERLESS_NGX_VERSION"], 0),
        ("ks/photos", &["apps/immich_version"], 0),
        ("ks/helm/photos", &[], 0),
        ("ks/cilium", &["infra/CILIUM_VERSION", "helm/cilium"], 1),
        ("ks/infra/cilium", &["infra/CILIUM_VERSION"], 0),
        ("ks/helm/cilium", &["helm/cilium"], 0),
    ];
    for (context, want, notes) in cases {
        let (got, n) = eligible(&with_aliases, context);
        assert_eq!(got, want, "{context}");
        assert_eq!(n.len(), notes, "{context}: {n:?}");
    }
    let (_, n) = eligible(&with_aliases, "ks/cilium");
    assert!(
        n[0].contains("which is `infra/CILIUM_VERSION` and `helm/cilium`"),
        "{n:?}"
    );
    // Control: without status names, only the plain name and id speak.
    assert!(eligible(&without, "ks/paperless-ngx").0.is_empty());
    assert!(eligible(&without, "ks/photos").0.is_empty());
    assert_eq!(eligible(&without, "ks/cilium").0, ["helm/cilium"]);
    assert_eq!(
        eligible(&without, "ks/apps/PAPERLESS_NGX_VERSION").0,
        ["apps/PAPERLESS_NGX_VERSION"]
    );
}

/// Two promotions leaving `dev`: a status, a Flux event and `check` treat them as one
/// environment's, each promotion once; promotions from two environments stay apart.
#[test]
fn every_promotion_leaving_the_reported_environment_is_requested_once() {
    let bound = "^kustomization/(?P<component>[^/]+)/{env}$";
    let config = Config::load(
        "promote.toml",
        format!(
            "environments = [\"dev\", \"integration\", \"live\"]\n[[source]]\npath = \"{{env}}.env\"\nkind = \"dotenv\"\n\
             [[promotion]]\nfrom = \"dev\"\nto = \"integration\"\n[promotion.gate]\nstatus-context = '{bound}'\n\
             [[promotion]]\nfrom = \"dev\"\nto = \"live\"\ncomponents = [\"paperless\"]\n[promotion.gate]\nstatus-context = '{bound}'\n\
             [[promotion]]\nfrom = \"integration\"\nto = \"live\"\n[promotion.gate]\nstatus-context = '{bound}'\n"
        )
        .as_bytes(),
    )
    .expect("config");
    assert_eq!(review(&config), GateReview::default());
    let sha = "a".repeat(40);
    let pairs = |d: Decision| -> Vec<(String, String, Option<String>)> {
        match d {
            Decision::Promote(rs) => rs
                .into_iter()
                .map(|r| (r.from, r.to, r.only_component))
                .collect(),
            other => panic!("{other:?}"),
        }
    };
    let pair =
        |f: &str, t: &str, c: Option<&str>| (f.to_string(), t.to_string(), c.map(String::from));
    let status = |context: &str| Trigger::Status {
        sha: sha.clone(),
        state: "success".into(),
        context: context.into(),
        description: None,
        target_url: None,
        branches: vec!["main".into()],
        sender: None,
    };
    assert_eq!(
        pairs(decide(&status("kustomization/paperless/dev"), &config).expect("decide")),
        [pair("dev", "integration", None), pair("dev", "live", None)]
    );
    assert_eq!(
        pairs(decide(&status("kustomization/web/integration"), &config).expect("decide")),
        [pair("integration", "live", None)]
    );
    let flux = |env: Option<&str>| Trigger::FluxDispatch {
        kind: "Kustomization".into(),
        name: "paperless".into(),
        namespace: "flux-system".into(),
        severity: "info".into(),
        reason: "ReconciliationSucceeded".into(),
        message: "Reconciliation finished".into(),
        revision_sha: Some(sha.clone()),
        revision_branch: Some("main".into()),
        env: env.map(String::from),
    };
    assert_eq!(
        pairs(decide(&flux(Some("dev")), &config).expect("decide")),
        [
            pair("dev", "integration", Some("paperless")),
            pair("dev", "live", Some("paperless"))
        ]
    );
    // Control: without `env` the event could come from `dev` or `integration`.
    match decide(&flux(None), &config).expect("decide") {
        Decision::Nothing(why) => assert!(
            why.contains("could come from `dev` or `integration`"),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_source_wide_status_name_is_the_only_name_its_components_answer_to() {
    // `"*" = "flux-system"` on the infra source: the root Kustomization speaks for all of it, and
    // the `cilium` chart's status does not release `infra/cilium`.
    let subjects = [
        Subject {
            id: "infra/cilium".into(),
            name: "cilium".into(),
            aliases: vec!["flux-system".into()],
            own_name: false,
        },
        Subject {
            id: "helm/cilium".into(),
            name: "cilium".into(),
            aliases: vec![],
            own_name: true,
        },
    ];
    let verdict = |context: &str| {
        let e = from_statuses(
            &rules("^kustomization/(?P<component>[^/]+)/{env}$"),
            "integration",
            true,
            &subjects,
            &[status(context, "success", "flux")],
            &[],
        )
        .expect("gate");
        subjects
            .iter()
            .map(|s| matches!(e.verdict(&s.id), Verdict::Eligible { .. }))
            .collect::<Vec<bool>>()
    };
    assert_eq!(verdict("kustomization/cilium/integration"), [false, true]);
    assert_eq!(
        verdict("kustomization/flux-system/integration"),
        [true, false]
    );
    assert_eq!(
        verdict("kustomization/infra/cilium/integration"),
        [false, false]
    );
}
