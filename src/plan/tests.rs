//! Unit tests of the plan on hand-built inventories and in-memory files.

use std::cmp::Ordering;

use super::*;

#[test]
fn versions_order_semver_aware() {
    assert_eq!(
        compare_versions("v1.12.1", "v1.12.0"),
        Some(Ordering::Greater)
    );
    assert_eq!(compare_versions("1.18", "1.18.1"), Some(Ordering::Less));
    assert_eq!(
        compare_versions("v2.0.0-rc.1", "v2.0.0"),
        Some(Ordering::Less)
    );
    assert_eq!(compare_versions("sha-abc12345", "sha-def45678"), None);
    assert_eq!(compare_versions("sha256:aa", "1.0.0"), None);
}

fn entry(id: &str, version: &str) -> Entry {
    let group = id.split_once('/').map(|(g, _)| g);
    Entry {
        id: id.into(),
        version: version.into(),
        origin: super::Origin::of("f.yaml", group, 0, source::Rule::Any),
        indirection: None,
        line: 1,
        column: 1,
    }
}

/// Tens of thousands of entries, items and components are made per plan: each byte of them is
/// tens of kilobytes written (and, in a fresh page, zeroed) per environment.
#[test]
fn per_component_records_stay_small() {
    // 200 and 184 bytes before `status-names` were asked of the config instead of copied into
    // each entry, lines, columns and source indices were made `u32`, and an entry's name became
    // the end of its id instead of a copy; 80 before its source and rule joined its file and
    // group in the shared `Origin`.
    let (entry, item) = (std::mem::size_of::<Entry>(), std::mem::size_of::<Item>());
    assert!(entry <= 72, "an Entry is {entry} bytes");
    assert!(item <= 168, "an Item is {item} bytes");
}

fn inv(env: &str, entries: &[(&str, &str)]) -> EnvInventory {
    EnvInventory {
        env: env.into(),
        at: "test".into(),
        components: entries.iter().map(|(id, v)| entry(id, v)).collect(),
        notes: Vec::new(),
        files: Default::default(),
        unchecked: Vec::new(),
    }
}

fn decisions(opts: &PlanOptions, gate: &Eligibility) -> Vec<(String, Action, String)> {
    let src = inv(
        "integration",
        &[
            ("helm/cilium", "1.18.6"),
            ("helm/loki", "6.40.0"),
            ("apps/dex", "sha-abc12345"),
            ("helm/podinfo", "6.9.2"),
            ("infra/spegel", "0.3.0"),
            ("infra/talos", "v1.12.1"),
        ],
    );
    let tgt = inv(
        "live",
        &[
            ("helm/cilium", "1.18.5"),
            ("helm/loki", "6.41.0"),
            ("apps/dex", "sha-fff00000"),
            ("helm/podinfo", "6.9.2"),
            ("infra/talos", "v1.12.0"),
        ],
    );
    decide(&src, &tgt, gate, opts)
        .expect("decide")
        .into_iter()
        .map(|i| (i.id.to_string(), i.action, i.to_version.to_string()))
        .collect()
}

fn action_of(d: &[(String, Action, String)], id: &str) -> Action {
    d.iter()
        .find(|(i, ..)| i == id)
        .map(|(_, a, _)| *a)
        .expect(id)
}

#[test]
fn downgrades_are_held_unless_forced_and_sha_tags_are_unordered() {
    let all = Eligibility::all("local run");
    let d = decisions(&PlanOptions::default(), &all);
    assert_eq!(action_of(&d, "helm/cilium"), Action::Change);
    assert_eq!(action_of(&d, "helm/loki"), Action::Held);
    // `sha-` tags cannot be ordered: held, unless history shows the source is newer.
    assert_eq!(action_of(&d, "apps/dex"), Action::Held);
    let mut newer = Eligibility::all("status success");
    newer.newer.insert("apps/dex".into());
    assert_eq!(
        action_of(&decisions(&PlanOptions::default(), &newer), "apps/dex"),
        Action::Change
    );
    assert_eq!(action_of(&d, "helm/podinfo"), Action::Unchanged);
    assert_eq!(action_of(&d, "infra/spegel"), Action::New);
    let forced = PlanOptions {
        force: true,
        ..PlanOptions::default()
    };
    assert_eq!(
        action_of(&decisions(&forced, &all), "helm/loki"),
        Action::Change
    );
}

#[test]
fn filters_pins_and_the_gate() {
    let all = Eligibility::all("local run");
    let opts = PlanOptions {
        groups: vec!["helm".into()],
        components: vec!["c*".into(), "helm/loki".into()],
        pins: vec![("loki".into(), "6.39.0".into())],
        ..PlanOptions::default()
    };
    let d = decisions(&opts, &all);
    assert_eq!(action_of(&d, "helm/cilium"), Action::Change);
    // Outside the filters: not part of the run, so not held either.
    let ids: Vec<&str> = d.iter().map(|(id, ..)| id.as_str()).collect();
    assert_eq!(ids, ["helm/cilium", "helm/loki"]);
    // A pin is a rollback: no `--force` needed.
    assert!(d.contains(&("helm/loki".into(), Action::Change, "6.39.0".into())));
    let mut gate = Eligibility::all("status success");
    gate.verdicts.insert(
        "helm/cilium".into(),
        Verdict::Held {
            reason: "status failure".into(),
        },
    );
    let d = decisions(&PlanOptions::default(), &gate);
    assert_eq!(action_of(&d, "helm/cilium"), Action::Held);
    assert_eq!(action_of(&d, "infra/talos"), Action::Change);
    let typo = PlanOptions {
        pins: vec![("helm/cilum".into(), "1.0.0".into())],
        ..PlanOptions::default()
    };
    let src = inv("integration", &[("helm/cilium", "1.18.6")]);
    let err = decide(&src, &src, &gate, &typo).expect_err("unknown pin");
    assert!(
        err.to_string()
            .starts_with("pin `helm/cilum` names no component of `integration`")
    );
}

#[test]
fn indirect_values_are_never_edited() {
    let mut src = inv("integration", &[("helm/cilium", "${CILIUM_VERSION}")]);
    src.components[0].set_indirect(Some("CILIUM_VERSION".into()));
    let tgt = inv("live", &[("helm/cilium", "1.18.5")]);
    let items =
        decide(&src, &tgt, &Eligibility::all("x"), &PlanOptions::default()).expect("decide");
    assert_eq!(items[0].action, Action::Held);
    assert!(
        items[0].reason.contains("`CILIUM_VERSION`"),
        "{}",
        items[0].reason
    );
}

#[test]
fn the_same_substitution_on_both_sides_is_unchanged() {
    let indirect = |env: &str, raw: &str, var: &str| {
        let mut i = inv(env, &[("helm/cilium", raw)]);
        i.components[0].set_indirect(Some(var.into()));
        i
    };
    let gate = Eligibility::all("x");
    let src = indirect("integration", "${CILIUM_VERSION:-1.17.1}", "CILIUM_VERSION");
    let same = indirect("live", "${CILIUM_VERSION:-1.17.1}", "CILIUM_VERSION");
    let items = decide(&src, &same, &gate, &PlanOptions::default()).expect("decide");
    assert_eq!(items[0].action, Action::Unchanged, "{}", items[0].reason);
    // Control: another variable (or another default) on the target is still held, and the
    // default is named, not dropped.
    let other = indirect("live", "${CILIUM_CHART:-1.17.1}", "CILIUM_CHART");
    let items = decide(&src, &other, &gate, &PlanOptions::default()).expect("decide");
    assert_eq!(items[0].action, Action::Held);
    assert!(
        items[0].reason.contains("`${CILIUM_VERSION:-1.17.1}`"),
        "{}",
        items[0].reason
    );
}

#[test]
fn one_id_from_two_sources_is_an_error() {
    let mut components = inv("dev", &[("cilium", "1.0.0"), ("cilium", "1.0.1")]).components;
    components[1].origin = super::Origin::of("g.yaml", None, 0, source::Rule::Any);
    components[1].line = 7;
    let err = check_unique(&components).expect_err("duplicate");
    assert!(
        err.to_string()
            .starts_with("g.yaml:7:1: component `cilium` is also at f.yaml:1:1"),
        "{err}"
    );
}

#[test]
fn pins_parse() {
    assert_eq!(
        parse_pin("dex=sha-1").expect("pin"),
        ("dex".into(), "sha-1".into())
    );
    assert!(parse_pin("dex").is_err());
}

/// Files held in memory, keyed by repository-relative path.
struct Memory(BTreeMap<String, Vec<u8>>, &'static str);

impl Files for Memory {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, RepoError> {
        Ok(self.0.get(path).cloned())
    }

    fn list(&self, folder: &str) -> Result<Vec<String>, RepoError> {
        let prefix = format!("{folder}/");
        Ok(self
            .0
            .keys()
            .filter(|p| folder.is_empty() || p.starts_with(&prefix))
            .cloned()
            .collect())
    }

    fn label(&self) -> String {
        self.1.to_string()
    }
}

fn versions_toml(tools: (&str, &str), charts: &str) -> Vec<u8> {
    format!(
        "# pinned per environment\n[tools]\nterraform = \"{}\" # cli\nhelm = '{}'\n\n[charts]\ncilium = \"{charts}\"\n",
        tools.0, tools.1
    )
    .into_bytes()
}

#[test]
fn two_sources_in_one_file_are_edited_one_after_the_other() {
    let config = Config::load(
        "promote.toml",
        br#"
environments = ["integration", "live"]

[[source]]
path = "{env}/versions.toml"
kind = "toml"
at = "tools"
group = "tools"

[[source]]
path = "{env}/versions.toml"
kind = "toml"
at = "charts"
group = "helm"
"#,
    )
    .expect("config");
    let files = |tools, charts, label| {
        let env = if label == "src" {
            "integration"
        } else {
            "live"
        };
        Memory(
            BTreeMap::from([(format!("{env}/versions.toml"), versions_toml(tools, charts))]),
            label,
        )
    };
    let source = files(("1.9.0", "3.19.0"), "1.18.6", "src");
    let target = files(("1.8.5", "3.19.0"), "1.18.5", "tgt");
    let promotion = config.first_promotion().expect("promotion").clone();
    let plan = build(
        &config,
        &promotion,
        &source,
        &target,
        &Eligibility::all("local run"),
        &PlanOptions::default(),
    )
    .expect("plan");
    let changed: Vec<&str> = plan.changes().map(|i| i.id.as_str()).collect();
    assert_eq!(changed, ["tools/terraform", "helm/cilium"]);
    assert_eq!(plan.edits.len(), 1);
    // The preview of a file of two sources keeps the versions to set, and splices them to tell
    // whether the file changes: it does here, and does not where only an unchanged one differs.
    let preview = |target: &Memory| {
        preview_text(
            &config,
            &promotion,
            &source,
            target,
            &Eligibility::all("local run"),
            &PlanOptions::default(),
        )
        .expect("preview")
        .0
    };
    let shown = preview(&target);
    assert!(
        shown.contains("2 to change, 0 held, 0 new, 1 unchanged\n") && !shown.contains("nothing"),
        "{shown}"
    );
    let same = preview(&files(("1.9.0", "3.19.0"), "1.18.6", "tgt"));
    assert!(
        same.ends_with("0 to change, 0 held, 0 new, 3 unchanged\nnothing to promote\n"),
        "{same}"
    );
    assert_eq!(
        String::from_utf8_lossy(&plan.edits[0].after),
        String::from_utf8_lossy(&versions_toml(("1.9.0", "3.19.0"), "1.18.6"))
    );
    assert!(
        plan.commit_message
            .contains("- helm/cilium 1.18.5 -> 1.18.6\n")
    );
}

fn dotenv_plan(target: &str, opts: &PlanOptions, gate: &Eligibility) -> Plan {
    let config = Config::load(
        "promote.toml",
        b"environments = [\"stage\", \"prod\"]\n[[source]]\npath = \"{env}/versions.env\"\nkind = \"dotenv\"\ngroup = \"apps\"\n",
    )
    .expect("config");
    let file =
        |env: &str, text: &str| BTreeMap::from([(format!("{env}/versions.env"), text.into())]);
    let source = Memory(
        file("stage", "DEX_TAG=sha-abc12345\nWEB_TAG='v2.0.0'\n"),
        "src",
    );
    let target = Memory(file("prod", target), "tgt");
    let promotion = config.first_promotion().expect("promotion").clone();
    build(&config, &promotion, &source, &target, gate, opts).expect("plan")
}

#[test]
fn add_missing_appends_to_dotenv_when_eligible() {
    let mut all = Eligibility::all("local run");
    all.newer.insert("apps/DEX_TAG".into());
    let held = dotenv_plan("DEX_TAG=sha-0000000\r\n", &PlanOptions::default(), &all);
    let web = |p: &Plan| {
        p.items
            .iter()
            .find(|i| i.id == "apps/WEB_TAG")
            .cloned()
            .expect("web")
    };
    assert_eq!(web(&held).action, Action::New);
    let add = PlanOptions {
        add_missing: true,
        ..PlanOptions::default()
    };
    let plan = dotenv_plan("DEX_TAG=sha-0000000\r\n", &add, &all);
    assert_eq!(web(&plan).action, Action::Change);
    assert_eq!(
        String::from_utf8_lossy(&plan.edits[0].after),
        "DEX_TAG=sha-abc12345\r\nWEB_TAG=v2.0.0\r\n"
    );
    assert!(
        plan.commit_message
            .contains("- apps/WEB_TAG (none) -> v2.0.0\n")
    );
    let mut gate = Eligibility::all("status success");
    gate.verdicts.insert(
        "apps/WEB_TAG".into(),
        Verdict::Held {
            reason: "no status".into(),
        },
    );
    let plan = dotenv_plan("DEX_TAG=sha-abc12345\n", &add, &gate);
    assert_eq!(web(&plan).action, Action::Held);
    assert!(plan.edits.is_empty());
}

#[test]
fn versions_order_by_numbers_of_any_length_and_unorderable_ones_say_so() {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let cases: &[(&str, &str, Option<std::cmp::Ordering>)] = &[
        ("1.18.7", "1.18.6", Some(Greater)),
        ("v1.19.0", "1.18.9", Some(Greater)),
        ("1.18", "1.18.0", Some(Equal)),
        ("4.0.19.3001", "4.0.17.2953", Some(Greater)),
        ("4.0.17.2953", "4.0.19.3001", Some(Less)),
        ("2.85.01", "2.86.01", Some(Less)),
        ("2.86.010", "2.86.9", Some(Greater)),
        ("2024.05.01", "2024.04.30", Some(Greater)),
        ("2024.5.1", "2024.05.01", Some(Equal)),
        ("1.0.0-rc.1", "1.0.0", Some(Less)),
        ("1.0.0-rc.2", "1.0.0-rc.10", Some(Less)),
        ("1.0.0-alpha", "1.0.0-1", Some(Greater)),
        ("1.2.3+build.5", "1.2.3+build.9", Some(Equal)),
        (
            "99999999999999999999999.1",
            "99999999999999999999998.9",
            Some(Greater),
        ),
        ("sha-aaaa111", "sha-bbbb222", None),
        ("sha256:0123abcd", "sha256:4567ef01", None),
        ("1.2.3", "sha-bbbb222", None),
        ("latest", "1.0.0", None),
        ("1..2", "1.2", None),
        ("1.2.3-", "1.2.3", None),
        ("", "1", None),
    ];
    for (a, b, want) in cases {
        assert_eq!(compare_versions(a, b), *want, "{a} vs {b}");
    }
}

#[test]
fn a_stale_non_semver_version_is_held_not_changed() {
    // Live has what a newer integration commit had; integration's older sha tag comes back.
    let src = inv(
        "integration",
        &[("apps/dex", "sha-aaaa111"), ("apps/web", "4.0.17.2953")],
    );
    let tgt = inv(
        "live",
        &[("apps/dex", "sha-bbbb222"), ("apps/web", "4.0.19.3001")],
    );
    let items = decide(
        &src,
        &tgt,
        &Eligibility::all("status success"),
        &PlanOptions::default(),
    )
    .expect("decide");
    let reasons: Vec<(&str, Action, &str)> = items
        .iter()
        .map(|i| (i.id.as_str(), i.action, i.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (
                "apps/dex",
                Action::Held,
                "cannot order `sha-aaaa111` against `sha-bbbb222`, and no promotion record shows which is newer; use `pin` or `force`"
            ),
            (
                "apps/web",
                Action::Held,
                "downgrade: pass `--force`, or `--pin` to roll back"
            ),
        ]
    );
}

#[test]
fn untrusted_text_in_markdown_cannot_mention_link_or_break_out() {
    use super::render::{code, prose, reason};
    assert_eq!(code("helm/cilium"), "`helm/cilium`");
    assert_eq!(code("a`b"), "``a`b``");
    assert_eq!(code("`x"), "`` `x ``");
    assert_eq!(code("a|b\nc"), "`a\\|b c`");
    let hostile = "@acme/admins see [x](https://evil.test) ![i](http://e/i.png) <img src=x> www.evil.test #12 **b**";
    let p = prose(hostile);
    assert_eq!(
        p,
        "@&#8203;acme/admins see \\[x\\]\\(https:&#8203;//evil.test\\) \\!\\[i\\]\\(http:&#8203;//e/i.png\\) \\<img src=x\\> www&#8203;.evil.test #&#8203;12 \\*\\*b\\*\\*"
    );
    // Quoted parts of a reason become code spans, whatever backticks the quoted text holds.
    assert_eq!(
        reason("`kustomization/app/x` is failure"),
        "`kustomization/app/x` is failure"
    );
    let r = reason("`ctx` @team` [l](https://x)` is failure");
    assert_eq!(r, "`ctx` @&#8203;team` [l](https://x)` is failure");
}

/// A kustomize promotion `stage -> prod` of one image, the source at `tag` (written as is).
fn kustomize_plan(tag: &str, opts: &PlanOptions) -> Result<Plan, PlanError> {
    let config = Config::load(
        "promote.toml",
        b"environments = [\"stage\", \"prod\"]\n[[source]]\npath = \"{env}/kustomization.yaml\"\nkind = \"kustomize-images\"\ngroup = \"apps\"\n",
    )
    .expect("config");
    let file = |env: &str, tag: &str| {
        BTreeMap::from([(
            format!("{env}/kustomization.yaml"),
            format!("images:\n  - name: ghcr.io/org/api\n    newTag: {tag}\n  - name: ghcr.io/org/web\n    newTag: v1.0.0\n").into_bytes(),
        )])
    };
    let source = Memory(file("stage", tag), "src");
    let target = Memory(file("prod", "sha-0000000"), "tgt");
    let promotion = config.first_promotion().expect("promotion").clone();
    let mut gate = Eligibility::all("local run");
    gate.newer.insert("apps/ghcr.io/org/api".into());
    build(&config, &promotion, &source, &target, &gate, opts)
}

#[test]
fn a_bad_source_value_is_named_at_its_source_position_and_nothing_is_planned() {
    let err = kustomize_plan("sha 1", &PlanOptions::default()).expect_err("refused");
    assert!(matches!(err, PlanError::BadSourceVersion(_)), "{err:?}");
    assert!(
        err.to_string().starts_with(
            "stage/kustomization.yaml:3:13: `apps/ghcr.io/org/api` cannot be promoted from `stage` to `prod`: `sha 1` holds whitespace"
        ),
        "{err}"
    );
    let err = kustomize_plan("sha+1", &PlanOptions::default()).expect_err("refused");
    assert!(
        err.to_string().contains("`sha+1` is not an image tag"),
        "{err}"
    );
    // Positive control: a tag of the same shape that is one.
    let plan = kustomize_plan("sha-1111111", &PlanOptions::default()).expect("plan");
    let changed: Vec<&str> = plan.changes().map(|i| i.to_version.as_str()).collect();
    assert_eq!(changed, ["sha-1111111"]);
    // A bad value outside the filter is not copied, so it is no error.
    let only_web = PlanOptions {
        components: vec!["ghcr.io/org/web".into()],
        ..PlanOptions::default()
    };
    let plan = kustomize_plan("sha 1", &only_web).expect("plan");
    assert_eq!(plan.items.len(), 1);
}

#[test]
fn a_pin_is_checked_against_the_field_it_lands_in() {
    let pin = |v: &str| PlanOptions {
        pins: vec![("ghcr.io/org/api".into(), v.into())],
        ..PlanOptions::default()
    };
    let err = kustomize_plan("sha-1111111", &pin("v1+build")).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "bad pin `ghcr.io/org/api=v1+build` (`--pin` or the `pin` input, `ID=VERSION`): `v1+build` is not an image tag: expected `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`, or a digest `sha256:` + 64 hex digits"
    );
    // Positive control: a good pin lands.
    let plan = kustomize_plan("sha-1111111", &pin("v1.2.3")).expect("plan");
    let changed: Vec<&str> = plan.changes().map(|i| i.to_version.as_str()).collect();
    assert_eq!(changed, ["v1.2.3"]);
}

#[test]
fn pins_with_whitespace_or_nothing_are_refused_when_parsed() {
    for bad in [
        "helm/cilium=1.2 3",
        "helm/cilium=1.2\t3",
        "helm/cilium=1.2\u{7}",
    ] {
        let err = parse_pin(bad).expect_err(bad);
        assert!(
            err.to_string().starts_with("bad pin `helm/cilium=1.2"),
            "{err}"
        );
    }
    assert!(matches!(
        parse_pin("helm/cilium="),
        Err(PlanError::BadPin(_))
    ));
    assert!(matches!(
        parse_pin("helm/cilium= "),
        Err(PlanError::BadPin(_))
    ));
    assert_eq!(
        parse_pin(" helm/cilium = 1.2.3 ").expect("pin"),
        ("helm/cilium".into(), "1.2.3".into())
    );
}

#[test]
fn filters_and_groups_that_name_nothing_are_errors() {
    let glob = |c: &str| PlanOptions {
        components: vec![c.into()],
        ..PlanOptions::default()
    };
    let err = kustomize_plan("sha-1111111", &glob("nosuch")).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "component filter `nosuch` matches no component of `stage`\nhint: components of `stage`: apps/ghcr.io/org/api, apps/ghcr.io/org/web"
    );
    let err = kustomize_plan("sha-1111111", &glob("*/nosuch*")).expect_err("refused");
    assert!(matches!(err, PlanError::UnknownFilter { .. }), "{err:?}");
    // One of two filters naming nothing is still a typo.
    let two = PlanOptions {
        components: vec!["ghcr.io/org/api".into(), "ghcr.io/org/wbe".into()],
        ..PlanOptions::default()
    };
    let err = kustomize_plan("sha-1111111", &two).expect_err("refused");
    assert!(
        err.to_string()
            .starts_with("component filter `ghcr.io/org/wbe`"),
        "{err}"
    );
    let group = PlanOptions {
        groups: vec!["nosuch".into()],
        ..PlanOptions::default()
    };
    let err = kustomize_plan("sha-1111111", &group).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "group `nosuch` names no group in the config\nhint: groups: apps"
    );
    // Positive controls: by name, by glob, by id and by group.
    for opts in [
        glob("ghcr.io/org/api"),
        glob("*/api"),
        glob("apps/ghcr.io/org/*"),
    ] {
        kustomize_plan("sha-1111111", &opts).expect("plan");
    }
    let group = PlanOptions {
        groups: vec!["apps".into()],
        ..PlanOptions::default()
    };
    assert_eq!(
        kustomize_plan("sha-1111111", &group)
            .expect("plan")
            .items
            .len(),
        2
    );
}

#[test]
fn a_pin_file_is_shared_only_when_both_environments_read_the_same_one() {
    let config = |branches: bool| {
        let envs = if branches {
            r#"[{ name = "integration", branch = "integration" }, { name = "live", branch = "live" }]"#
        } else {
            r#"["integration", "live"]"#
        };
        let text = format!(
            "environments = {envs}\n[[source]]\npath = \"{{env}}/apps.yaml\"\nkind = \"flux\"\nsubstitute-from = [\"platform.env\", \"{{env}}/versions.env\"]\n"
        );
        Config::load("p.toml", text.as_bytes()).expect("config")
    };
    let target = |entry: usize, file: &str| {
        let mut tgt = inv("live", &[("paperless", "1.0.0")]);
        tgt.components[0].set_via(Some(source::substitute::Via {
            variable: "paperless_version".into(),
            file: Some(file.into()),
            line: Some(1),
            default: None,
            problem: None,
            entry: Some(entry),
            shared: false,
        }));
        tgt
    };
    let shared = |config: &Config, entry: usize, file: &str| {
        let promotion = config
            .pick_promotion(None, None)
            .expect("promotion")
            .clone();
        let mut tgt = target(entry, file);
        substitute::mark_shared(config, &promotion, &mut tgt);
        let via = tgt.components[0].via().cloned().expect("via");
        (via.shared, via.pin().is_some())
    };
    // One branch: the platform file is both environments'; live's own file is not.
    assert_eq!(shared(&config(false), 0, "platform.env"), (true, false));
    assert_eq!(
        shared(&config(false), 1, "live/versions.env"),
        (false, true)
    );
    // Each environment on its own branch: the same path is a different file per branch.
    assert_eq!(shared(&config(true), 0, "platform.env"), (false, true));
}

/// Files that count how often each path is read.
struct Counted(Memory, std::cell::RefCell<BTreeMap<String, usize>>);

impl Files for Counted {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, RepoError> {
        *self.1.borrow_mut().entry(path.to_string()).or_default() += 1;
        self.0.read(path)
    }

    fn list(&self, folder: &str) -> Result<Vec<String>, RepoError> {
        self.0.list(folder)
    }

    fn label(&self) -> String {
        self.0.label()
    }
}

/// A plan reads (and parses) each target file once: its edits splice the spans the inventory
/// read, then parse only the result; the bytes are those `set_versions` writes from scratch.
#[test]
fn the_plan_edits_what_the_inventory_read_without_reading_it_again() {
    let config = Config::load(
        "promote.toml",
        br#"
environments = ["integration", "live"]

[[source]]
path = "{env}/versions.toml"
kind = "toml"
at = "tools"
"#,
    )
    .expect("config");
    let memory = |env: &str, tools, label| {
        Memory(
            BTreeMap::from([(
                format!("{env}/versions.toml"),
                versions_toml(tools, "1.0.0"),
            )]),
            label,
        )
    };
    let source = memory("integration", ("1.9.0", "3.20.0"), "src");
    let target = Counted(
        memory("live", ("1.8.5", "3.19.0"), "tgt"),
        Default::default(),
    );
    let promotion = config.first_promotion().expect("promotion").clone();
    let plan = build(
        &config,
        &promotion,
        &source,
        &target,
        &Eligibility::all("local run"),
        &PlanOptions::default(),
    )
    .expect("plan");
    assert_eq!(
        target.1.borrow().get("live/versions.toml"),
        Some(&1),
        "read once"
    );
    let before = versions_toml(("1.8.5", "3.19.0"), "1.0.0");
    let from_scratch = crate::source::set_versions(
        &config.sources[0].locator(),
        "live/versions.toml",
        &before,
        &[("terraform", "1.9.0"), ("helm", "3.20.0")],
    )
    .expect("set");
    assert_eq!(plan.edits.len(), 1);
    assert_eq!(plan.edits[0].before, before);
    assert_eq!(plan.edits[0].after, from_scratch);
    assert_eq!(
        String::from_utf8_lossy(&plan.edits[0].after),
        String::from_utf8_lossy(&versions_toml(("1.9.0", "3.20.0"), "1.0.0"))
    );
}

/// A preview names the files that change, with the refusals an edit would make, and carries no
/// bytes; the same plan built for writing carries them, and a preview is never written.
#[test]
fn a_preview_names_the_changed_files_without_bytes_and_is_never_written() {
    let all = Eligibility::all("local run");
    let preview = PlanOptions {
        force: true,
        preview: true,
        ..PlanOptions::default()
    };
    let full = PlanOptions {
        force: true,
        ..PlanOptions::default()
    };
    let target = "DEX_TAG=sha-0000000\nWEB_TAG='v1.0.0'\n";
    let shown = dotenv_plan(target, &preview, &all);
    let written = dotenv_plan(target, &full, &all);
    assert!(shown.preview && !written.preview);
    assert_eq!(shown.items, written.items);
    let paths = |p: &Plan| p.edits.iter().map(|e| e.path.clone()).collect::<Vec<_>>();
    assert_eq!(paths(&shown), ["prod/versions.env"]);
    assert_eq!(paths(&shown), paths(&written));
    assert!(
        shown
            .edits
            .iter()
            .all(|e| e.before.is_empty() && e.after.is_empty())
    );
    assert!(String::from_utf8_lossy(&written.edits[0].after).contains("WEB_TAG='v2.0.0'"));
    // Nothing to change: no file in either.
    let same = "DEX_TAG=sha-abc12345\nWEB_TAG='v2.0.0'\n";
    assert!(dotenv_plan(same, &preview, &all).edits.is_empty());
    assert!(dotenv_plan(same, &full, &all).edits.is_empty());
    let dir = tempfile::tempdir().expect("dir");
    let err = crate::cmd::project::write_all(dir.path(), &shown).expect_err("refused");
    assert!(err.to_string().contains("preview"), "{err}");
}

/// A preview tells a changed file from the entries: a change whose stored value is the one the
/// target holds changes no file, as the full plan finds by splicing. A template naming
/// `{version}` twice is not stripped from a stored value, so `1.1-1.1` offered to a target holding
/// `1.1-1.1-1.1-1.1` is a change of the component but stores the same bytes; `1.2-1.2` does not.
#[test]
fn a_preview_and_the_full_plan_agree_on_a_change_that_stores_the_same_bytes() {
    let config = Config::load(
        "promote.toml",
        b"environments = [\"stage\", \"prod\"]\n[[source]]\npath = \"{env}/versions.env\"\nkind = \"dotenv\"\ntemplate = \"{version}-{version}\"\n",
    )
    .expect("config");
    let file =
        |env: &str, text: &str| BTreeMap::from([(format!("{env}/versions.env"), text.into())]);
    let target = Memory(file("prod", "APP=1.1-1.1-1.1-1.1\n"), "tgt");
    let promotion = config.first_promotion().expect("promotion").clone();
    let all = Eligibility::all("local run");
    for (stage, changes) in [("APP=1.1-1.1\n", false), ("APP=1.2-1.2\n", true)] {
        let source = Memory(file("stage", stage), "src");
        for preview in [true, false] {
            let opts = PlanOptions {
                force: true,
                preview,
                ..PlanOptions::default()
            };
            let plan = build(&config, &promotion, &source, &target, &all, &opts).expect("plan");
            assert_eq!(plan.changes().count(), 1, "{stage} preview={preview}");
            assert_eq!(plan.edits.is_empty(), !changes, "{stage} preview={preview}");
            if changes && !preview {
                assert_eq!(
                    String::from_utf8_lossy(&plan.edits[0].after),
                    "APP=1.2-1.2-1.2-1.2\n"
                );
            }
        }
    }
}

/// The target is looked up in file order (`source::InOrder`) with an index once the orders
/// part: a live file in the same order, reversed, or shuffled with pins missing and added gives
/// the same decisions, and its edit sets exactly the changed pins.
#[test]
fn a_target_in_any_order_gets_the_same_plan() {
    let config = Config::load(
        "promote.toml",
        b"environments = [\"stage\", \"prod\"]\n[[source]]\npath = \"{env}/versions.env\"\nkind = \"dotenv\"\n",
    )
    .expect("config");
    let pins = |versions: &[(usize, &str)]| -> String {
        versions
            .iter()
            .map(|(i, v)| format!("TOOL_{i}={v}\n"))
            .collect()
    };
    // Every third pin is newer in stage: changes come with gaps wider than one item.
    let stage: Vec<(usize, &str)> = (0..40)
        .map(|i| (i, if i % 3 == 0 { "1.1.0" } else { "1.0.0" }))
        .collect();
    let same: Vec<(usize, &str)> = (0..40).map(|i| (i, "1.0.0")).collect();
    let reversed: Vec<(usize, &str)> = same.iter().rev().copied().collect();
    // Shuffled, without TOOL_5 and TOOL_6, with TOOL_99 that stage lacks.
    let mut shuffled: Vec<(usize, &str)> = same
        .iter()
        .copied()
        .filter(|(i, _)| *i != 5 && *i != 6)
        .collect();
    shuffled.sort_by_key(|(i, _)| (i * 17) % 41);
    shuffled.push((99, "1.0.0"));
    let source = Memory(
        BTreeMap::from([("stage/versions.env".to_string(), pins(&stage).into_bytes())]),
        "src",
    );
    let promotion = config.first_promotion().expect("promotion").clone();
    let gate = Eligibility::all("local run");
    let mut seen = Vec::new();
    for live in [&same, &reversed, &shuffled] {
        let target = Memory(
            BTreeMap::from([("prod/versions.env".to_string(), pins(live).into_bytes())]),
            "tgt",
        );
        for preview in [true, false] {
            let opts = PlanOptions {
                preview,
                ..PlanOptions::default()
            };
            let plan = build(&config, &promotion, &source, &target, &gate, &opts).expect("plan");
            // In the source's order, whatever the target's.
            let items: Vec<(String, Action, Option<String>, String)> = plan
                .items
                .iter()
                .map(|i| {
                    (
                        i.id.to_string(),
                        i.action,
                        i.from_version.as_ref().map(ToString::to_string),
                        i.to_version.to_string(),
                    )
                })
                .collect();
            seen.push(items);
            assert_eq!(plan.edits.len(), 1, "one file changes");
            if !preview {
                // The edit is the live file with exactly the changed pins set.
                let want: Vec<(usize, &str)> = live
                    .iter()
                    .map(|&(i, v)| (i, if i % 3 == 0 && i < 40 { "1.1.0" } else { v }))
                    .collect();
                assert_eq!(String::from_utf8_lossy(&plan.edits[0].after), pins(&want));
            }
        }
    }
    let changes = seen[0]
        .iter()
        .filter(|(_, a, _, _)| *a == Action::Change)
        .count();
    assert_eq!(changes, 14);
    // The same and the reversed file agree on everything; the shuffled one lacks two pins.
    assert!(seen.iter().take(4).all(|s| *s == seen[0]));
    let shuffled_new: Vec<&str> = seen[4]
        .iter()
        .filter(|(_, a, _, _)| *a == Action::New)
        .map(|(id, ..)| id.as_str())
        .collect();
    assert_eq!(shuffled_new, ["TOOL_5", "TOOL_6"]);
    assert_eq!(seen[4], seen[5]);
    assert_eq!(
        seen[4]
            .iter()
            .filter(|(_, a, ..)| *a == Action::Change)
            .count(),
        13
    );
}

/// Through `build`: a broken source is named even when the target's file is missing too; with a
/// good source, the missing target is the error.
#[test]
fn build_reports_the_source_first() {
    let config = Config::load(
        "promote.toml",
        b"environments = [\"stage\", \"prod\"]\n[[source]]\npath = \"{env}/versions.env\"\nkind = \"dotenv\"\n",
    )
    .expect("config");
    let promotion = config.first_promotion().expect("promotion").clone();
    let gate = Eligibility::all("local run");
    let memory = |text: &str| {
        Memory(
            BTreeMap::from([("stage/versions.env".to_string(), text.as_bytes().to_vec())]),
            "src",
        )
    };
    let none = Memory(BTreeMap::new(), "tgt");
    let opts = PlanOptions::default();
    let err = build(
        &config,
        &promotion,
        &memory("A=1\n=oops\n"),
        &none,
        &gate,
        &opts,
    )
    .expect_err("broken source");
    assert!(err.to_string().contains("stage/versions.env:2"), "{err}");
    let err = build(&config, &promotion, &memory("A=1\n"), &none, &gate, &opts)
        .expect_err("missing target");
    assert!(matches!(err, PlanError::Missing { .. }), "{err}");
}

/// The text `promote plan` prints, made a line at a time as items are decided
/// ([`preview_text`]), is the text of the preview plan built whole ([`render::text`] of
/// [`build_unrendered`]): with held, new, unchanged and changed components, filters, pins, a
/// gate, tags, ids wider than others and not ASCII, `--add-missing` (decided whole first), and
/// the same error where a change cannot be made.
#[test]
fn the_streamed_preview_is_the_text_of_the_whole_preview_plan() {
    let config = Config::load(
        "promote.toml",
        "environments = [\"stage\", \"prod\"]\n[[source]]\npath = \"{env}/versions.env\"\nkind = \"dotenv\"\ngroup = \"apps\"\n[[source]]\npath = \"{env}/images.yaml\"\nkind = \"kustomize-images\"\n[[promotion]]\nfrom = \"stage\"\nto = \"prod\"\ntag = \"{component}-{version}\"\n".as_bytes(),
    )
    .expect("config");
    let files = |env: &str, pins: &str, api: &str| {
        BTreeMap::from([
            (format!("{env}/versions.env"), pins.as_bytes().to_vec()),
            (
                format!("{env}/images.yaml"),
                format!("images:\n  - name: ghcr.io/org/api\n    newTag: {api}\n  - name: ghcr.io/org/wéb\n    newTag: v1.0.0\n").into_bytes(),
            ),
        ])
    };
    let source = Memory(
        files(
            "stage",
            "DEX_TAG=sha-abc12345\nWEB_TAG='v2.0.0'\nOLD=v1.0.0\nA_RATHER_LONG_KEY_OF_A_PIN=1.2.3\n",
            "v2.0.0",
        ),
        "src",
    );
    let target = Memory(
        files(
            "prod",
            "DEX_TAG=sha-0000000\nOLD=v2.0.0\nA_RATHER_LONG_KEY_OF_A_PIN=1.2.3\n",
            "v1.0.0",
        ),
        "tgt",
    );
    let promotion = config.first_promotion().expect("promotion").clone();
    let mut gate = Eligibility::all("status success");
    gate.verdicts.insert(
        "apps/DEX_TAG".into(),
        Verdict::Held {
            reason: "no status".into(),
        },
    );
    let both = |opts: &PlanOptions, gate: &Eligibility| {
        let opts = PlanOptions {
            preview: true,
            ..opts.clone()
        };
        let whole = build_unrendered(&config, &promotion, &source, &target, gate, &opts)
            .map(|(plan, _)| render::text(&plan))
            .map_err(|e| e.to_string());
        let streamed = preview_text(&config, &promotion, &source, &target, gate, &opts)
            .map(|(text, _)| text)
            .map_err(|e| e.to_string());
        assert_eq!(streamed, whole);
        streamed
    };
    let all = Eligibility::all("local run");
    let text = both(&PlanOptions::default(), &gate).expect("plan");
    // Every kind of line is there: the comparison above is of something.
    for line in [
        "  held       apps/DEX_TAG                     sha-0000000 -> sha-abc12345  (not eligible",
        "  new        apps/WEB_TAG                     - -> v2.0.0  (missing in target",
        "  unchanged  apps/A_RATHER_LONG_KEY_OF_A_PIN  1.2.3\n",
        "  change     ghcr.io/org/api                  v1.0.0 -> v2.0.0\n",
        "  unchanged  ghcr.io/org/wéb                  v1.0.0\n",
        "tags: ghcr.io/org/api-v2.0.0\n",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    assert!(text.contains("apps/OLD"), "{text}");
    let forced = PlanOptions {
        force: true,
        ..PlanOptions::default()
    };
    let text = both(&forced, &all).expect("plan");
    assert!(
        text.ends_with("tags: DEX_TAG-sha-abc12345, OLD-v1.0.0, ghcr.io/org/api-v2.0.0\n"),
        "{text}"
    );
    let opts = [
        PlanOptions {
            components: vec!["apps/*".into()],
            ..PlanOptions::default()
        },
        PlanOptions {
            groups: vec!["apps".into()],
            force: true,
            ..PlanOptions::default()
        },
        PlanOptions {
            pins: vec![("OLD".into(), "v3.0.0".into())],
            ..PlanOptions::default()
        },
        PlanOptions {
            add_missing: true,
            ..PlanOptions::default()
        },
    ];
    for opts in &opts {
        both(opts, &all).expect("plan");
        both(opts, &gate).expect("plan");
    }
    // `--add-missing` made its change before the lines were written.
    let added = both(&opts[3], &all).expect("plan");
    assert!(
        added.contains("  change     apps/WEB_TAG                     - -> v2.0.0\n"),
        "{added}"
    );
    // Nothing to promote: both say so.
    let same = both(
        &PlanOptions {
            components: vec!["apps/A_RATHER_LONG_KEY_OF_A_PIN".into()],
            ..PlanOptions::default()
        },
        &all,
    )
    .expect("plan");
    assert!(same.ends_with("nothing to promote\n"), "{same}");
    // A pin the field cannot take: the same error, after lines were made for the items before it.
    let err = both(
        &PlanOptions {
            pins: vec![("ghcr.io/org/api".into(), "v 2".into())],
            ..PlanOptions::default()
        },
        &all,
    )
    .expect_err("refused");
    assert!(err.contains("v 2"), "{err}");
}

/// A filter that names nothing lists some of the environment's components, not all 30,000 of
/// them; a short environment is listed whole.
#[test]
fn a_hint_lists_at_most_twenty_components() {
    let known: Vec<String> = (0..30).map(|i| format!("TOOL_{i}")).collect();
    let err = PlanError::UnknownFilter {
        filter: "NOPE".into(),
        env: "integration".into(),
        known: known.clone(),
    }
    .to_string();
    assert!(
        err.ends_with("hint: components of `integration`: TOOL_0, TOOL_1, TOOL_2, TOOL_3, TOOL_4, TOOL_5, TOOL_6, TOOL_7, TOOL_8, TOOL_9, TOOL_10, TOOL_11, TOOL_12, TOOL_13, TOOL_14, TOOL_15, TOOL_16, TOOL_17, TOOL_18, TOOL_19, and 10 more"),
        "{err}"
    );
    let err = PlanError::UnknownCarried {
        promotion: "integration -> live".into(),
        pattern: "NOPE".into(),
        env: "integration".into(),
        known: known[..3].to_vec(),
    }
    .to_string();
    assert!(
        err.ends_with("hint: components of `integration`: TOOL_0, TOOL_1, TOOL_2"),
        "{err}"
    );
}

/// Versions a lockstep test's rows take: bare, quoted both ways, unordered, a pre-release, a
/// `${var}` reference (declined), and one the dotenv field refuses once it is to be set.
const LOCKSTEP_VERSIONS: [&str; 9] = [
    "v1.0.0",
    "v1.2.0",
    "v2.0.0",
    "1.2",
    "sha-abc1234",
    "\"v1.2.0\"",
    "'v2.0.0'",
    "${TAG}",
    "\"has space\"",
];

/// One lockstep case: the text of `preview_text` (the lockstep path where it takes the files)
/// against the general path's ([`render::text`] of [`build_unrendered`]), the same text or the
/// same error; and whether the lockstep path made it.
fn lockstep_case(
    rows: &[(usize, usize, bool)],
    shape: u8,
    force: bool,
    tag: bool,
    held: u32,
) -> (Result<String, String>, bool) {
    let config = Config::load(
        "promote.toml",
        format!(
            "environments = [\"stage\", \"prod\"]\n[[source]]\npath = \"{{env}}/versions.env\"\nkind = \"dotenv\"\n[[promotion]]\nfrom = \"stage\"\nto = \"prod\"\n{}",
            if tag { "tag = \"{component}-{version}\"\n" } else { "" }
        )
        .as_bytes(),
    )
    .expect("config");
    let promotion = config.first_promotion().expect("promotion").clone();
    // Shape 4 repeats the first name on the second row (both sides).
    let name = |i: usize| format!("APP_{}", if shape == 4 && i == 1 { 0 } else { i });
    let mut src = String::from("# stage\n");
    let mut tgt = Vec::new();
    for (i, &(s, t, comment)) in rows.iter().enumerate() {
        src.push_str(&format!("{}={}\n", name(i), LOCKSTEP_VERSIONS[s]));
        let mut line = String::new();
        if comment {
            line.push_str("# pinned by hand\n\n");
        }
        line.push_str(&format!("export {}={}\n", name(i), LOCKSTEP_VERSIONS[t]));
        tgt.push(line);
    }
    match shape {
        // The last two out of order, one missing, one the source lacks.
        1 if tgt.len() > 1 => {
            let n = tgt.len();
            tgt.swap(n - 1, n - 2);
        }
        2 => {
            tgt.pop();
        }
        3 => tgt.push("EXTRA=v1.0.0\n".into()),
        // Reversed; the first line missing; a name of the source twice in the target only; a
        // name the source lacks twice.
        5 => tgt.reverse(),
        6 if !tgt.is_empty() => {
            tgt.remove(0);
        }
        7 if !tgt.is_empty() => tgt.push(format!("{}=v9.9.9\n", name(0))),
        8 => tgt.extend(["EXTRA=v1.0.0\n".into(), "EXTRA=v2.0.0\n".into()]),
        _ => {}
    }
    let source = Memory(
        BTreeMap::from([("stage/versions.env".to_string(), src.into_bytes())]),
        "src",
    );
    let target = Memory(
        BTreeMap::from([("prod/versions.env".to_string(), tgt.concat().into_bytes())]),
        "tgt",
    );
    let mut gate = Eligibility::all("local run");
    for i in (0..rows.len()).filter(|i| held & (1 << (i % 32)) != 0) {
        gate.verdicts.insert(
            name(i),
            Verdict::Held {
                reason: "no status".into(),
            },
        );
    }
    let opts = PlanOptions {
        force,
        preview: true,
        ..PlanOptions::default()
    };
    let whole = build_unrendered(&config, &promotion, &source, &target, &gate, &opts)
        .map(|(plan, _)| render::text(&plan))
        .map_err(|e| e.to_string());
    let shown = preview_text(&config, &promotion, &source, &target, &gate, &opts)
        .map(|(text, _)| text)
        .map_err(|e| e.to_string());
    assert_eq!(shown, whole);
    let gathered = gather(&config, "stage", &source).expect("gather");
    let took = matches!(
        lockstep::preview(&config, &promotion, gathered, &target, &gate, &opts),
        lockstep::Preview::Done(_)
    );
    (shown, took)
}

/// Two `versions.env` listing the same names in the same order are previewed line by line
/// (`lockstep`), with the general path's text: changes, downgrades held or forced, versions
/// that cannot be ordered, the gate's holds, quoted values, comments and `export`, tags.
#[test]
fn the_lockstep_preview_gives_the_general_text() {
    let rows = [
        (1, 0, false),
        (0, 1, true),
        (4, 3, false),
        (5, 2, false),
        (6, 6, true),
        (2, 0, false),
    ];
    let (text, took) = lockstep_case(&rows, 0, false, true, 1 << 5);
    assert!(took, "in step, the lockstep path plans it");
    let text = text.expect("plan");
    for line in [
        "  change     APP_0  v1.0.0 -> v1.2.0\n",
        "  held       APP_1  v1.2.0 -> v1.0.0  (downgrade",
        "  held       APP_2  1.2 -> sha-abc1234  (cannot order",
        "  held       APP_3  v2.0.0 -> v1.2.0  (downgrade",
        "  unchanged  APP_4  v2.0.0\n",
        "  held       APP_5  v1.0.0 -> v2.0.0  (not eligible: no status)\n",
        "1 to change, 4 held, 0 new, 1 unchanged\ntags: APP_0-v1.2.0\n",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    // Nothing to change: the same words as the general path's.
    let (text, took) = lockstep_case(&[(0, 0, false), (1, 2, false)], 0, false, false, 0);
    assert!(took);
    assert!(text.expect("plan").ends_with("nothing to promote\n"));
    // Out of step: two lines swapped, one missing (new), one the source lacks. The rest of the
    // target is looked up by name.
    for shape in [1, 2, 3] {
        let (shown, took) = lockstep_case(&rows, shape, true, false, 0);
        assert!(took, "{shape}: {shown:?}");
        let shown = shown.expect("plan");
        let new = usize::from(shape == 2);
        assert!(
            shown.contains(&format!("held, {new} new, ")),
            "{shape}: {shown}"
        );
    }
    let (shown, _) = lockstep_case(&rows, 2, true, false, 0);
    assert!(
        shown
            .expect("plan")
            .contains("  new        APP_5  - -> v2.0.0  (missing in target"),
    );
    // A name twice, a `${var}`, a value its field refuses: the general path's plan or error.
    for (rows, shape) in [
        (&rows[..], 4),
        (&[(7, 0, false)][..], 0),
        (&[(0, 7, false)][..], 0),
        (&[(8, 0, false)][..], 0),
    ] {
        let (shown, took) = lockstep_case(rows, shape, true, false, 0);
        assert!(!took, "{rows:?} {shape}: {shown:?}");
    }
    let (refused, _) = lockstep_case(&[(8, 0, false)], 0, true, false, 0);
    assert!(refused.is_err(), "{refused:?}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]
    /// Any two files, in step or not: the text (or error) of the general path, and the lockstep
    /// path whenever nothing it declines is there.
    #[test]
    fn the_lockstep_preview_matches_the_general_path(
        rows in proptest::collection::vec(
            (0..LOCKSTEP_VERSIONS.len(), 0..LOCKSTEP_VERSIONS.len(), proptest::bool::ANY),
            0..24,
        ),
        shape in 0..9u8,
        force in proptest::bool::ANY,
        tag in proptest::bool::ANY,
        held in proptest::num::u32::ANY,
    ) {
        let (shown, took) = lockstep_case(&rows, shape, force, tag, held);
        // Shapes 2 and 6 drop the target's last and first line.
        let kept = match shape {
            2 => &rows[..rows.len().saturating_sub(1)],
            6 => rows.get(1..).unwrap_or_default(),
            _ => &rows[..],
        };
        let declined = rows.iter().any(|&(s, _, _)| s == 7)
            || kept.iter().any(|&(_, t, _)| t == 7)
            || (shape == 4 && rows.len() > 1)
            || (shape == 7 && !rows.is_empty())
            || shape == 8;
        // A value the field refuses declines only where it would be set (a change).
        let refused = rows.iter().any(|&(s, _, _)| s == 8);
        if !refused || declined {
            proptest::prop_assert_eq!(took, !declined, "{:?}", shown);
        }
    }
}
