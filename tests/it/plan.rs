//! `promote plan` / `apply` / `check` / `versions` on the seed 002 example repository.

use crate::support::{example_repo, git, run_in, run_in_with, snapshot_tree};

/// A snapshot with commit shas redacted (the example repository is committed afresh per test).
macro_rules! snap {
    ($($t:tt)*) => {
        insta::with_settings!(
            {filters => vec![(r"\b[0-9a-f]{40}\b", "[sha]"), (r"\b[0-9a-f]{7}\b", "[short-sha]")]},
            { insta::assert_snapshot!($($t)*) }
        )
    };
}

fn plan(dir: &std::path::Path, extra: &[&str]) -> String {
    let mut args = vec!["plan"];
    args.extend_from_slice(extra);
    let (code, out, err) = run_in(dir, &args);
    assert_eq!(code, 0, "{err}");
    out
}

#[test]
fn plan_text_holds_the_downgrade() {
    let repo = example_repo("flux-terragrunt");
    snap!(plan(repo.path(), &[]));
}

#[test]
fn plan_force_changes_everything_that_differs() {
    let repo = example_repo("flux-terragrunt");
    let out = plan(repo.path(), &["--force", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["schema_version"], 1);
    let changed: Vec<&str> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["action"] == "change")
        .map(|i| i["id"].as_str().expect("id"))
        .collect();
    assert_eq!(changed.len(), 9, "{changed:?}");
    assert!(changed.contains(&"helm/loki"));
    snap!(v["commit_message"].as_str().expect("message"));
}

#[test]
fn plan_filters_by_component_glob_and_group() {
    let repo = example_repo("flux-terragrunt");
    snap!(
        "filter_glob",
        plan(repo.path(), &["--component", "helm/c*"])
    );
    snap!(
        "filter_group",
        plan(repo.path(), &["--group", "infra", "--component", "talos"])
    );
}

#[test]
fn plan_pin_rolls_back_without_force() {
    let repo = example_repo("flux-terragrunt");
    let out = plan(
        repo.path(),
        &["--pin", "helm/cilium=1.17.9", "--component", "helm/cilium"],
    );
    let line = out
        .lines()
        .find(|l| l.contains("helm/cilium "))
        .expect("cilium line");
    assert!(
        line.trim_start().starts_with("change") && line.ends_with("1.18.5 -> 1.17.9"),
        "{out}"
    );
}

#[test]
fn plan_markdown_for_pull_requests() {
    let repo = example_repo("flux-terragrunt");
    snap!(plan(
        repo.path(),
        &["--group", "helm", "--format", "markdown"]
    ));
}

#[test]
fn plan_new_component_is_held() {
    let repo = example_repo("flux-terragrunt");
    let stack = repo
        .path()
        .join("infrastructure/stacks/integration/terragrunt.stack.hcl");
    let text = std::fs::read_to_string(&stack).expect("stack");
    std::fs::write(
        &stack,
        text.replace(
            "    prometheus = \"20.0.0\"\n",
            "    prometheus = \"20.0.0\"\n    spegel     = \"0.3.0\"\n",
        ),
    )
    .expect("write");
    let out = plan(repo.path(), &["--group", "infra"]);
    assert!(out.contains("new        infra/spegel"), "{out}");
    snap!("new_component", out);
    let out = plan(
        repo.path(),
        &["--component", "infra/spegel", "--add-missing"],
    );
    assert!(
        out.contains(
            "(missing in target: `hcl-map` cannot take a new entry without reformatting; add it by hand once)"
        ),
        "{out}"
    );
    assert!(out.contains("nothing to promote"), "{out}");
}

#[test]
fn plan_with_nothing_to_do() {
    let repo = example_repo("flux-terragrunt");
    snap!(
        "nothing_text",
        plan(
            repo.path(),
            &[
                "--component",
                "*/podinfo",
                "--component",
                "infra/gateway_api"
            ]
        )
    );
    let md = plan(
        repo.path(),
        &["--component", "infra/gateway_api", "--format", "markdown"],
    );
    assert!(md.contains("Nothing to promote."), "{md}");
    let (code, out, err) = run_in(repo.path(), &["apply", "--component", "*/podinfo"]);
    assert_eq!((code, err.as_str()), (0, "wrote 0 file(s)\n"), "{out}");
    assert_eq!(git(repo.path(), &["status", "--porcelain"]), "");
}

/// `args` fail with exit 1 and `error: {message}...`, and leave every file as it was.
fn refused(dir: &std::path::Path, args: &[&str], message: &str) {
    let before = snapshot_tree(dir);
    let (code, out, err) = run_in(dir, args);
    assert_eq!(code, 1, "{args:?} passed: {out}{err}");
    assert!(
        err.starts_with(&format!("error: {message}")),
        "{args:?}: {err}"
    );
    assert_eq!(snapshot_tree(dir), before, "{args:?} wrote");
}

#[test]
fn filters_groups_and_promotions_that_name_nothing_are_errors() {
    let repo = example_repo("flux-terragrunt");
    for cmd in ["plan", "apply"] {
        refused(
            repo.path(),
            &[cmd, "--component", "nosuch"],
            "component filter `nosuch` matches no component of `integration`\nhint: components of `integration`: infra/talos, infra/kubernetes,",
        );
        refused(
            repo.path(),
            &[cmd, "--component", "helm/*", "--component", "*/nosuch*"],
            "component filter `*/nosuch*` matches no component of `integration`",
        );
        refused(
            repo.path(),
            &[cmd, "--group", "nosuch"],
            "group `nosuch` names no group in the config\nhint: groups: infra, helm\n",
        );
        refused(
            repo.path(),
            &[cmd, "--from", "nosuch"],
            ".github/promote.toml: no promotion nosuch -> * in the config\nhint: promotions: integration -> live\n",
        );
        refused(
            repo.path(),
            &[cmd, "--from", "dev", "--to", "integration"],
            ".github/promote.toml: no promotion dev -> integration in the config",
        );
        refused(
            repo.path(),
            &[cmd, "--to", "dev"],
            ".github/promote.toml: no promotion * -> dev in the config",
        );
    }
    // Positive controls: the same flags naming what exists.
    for args in [
        &["--component", "cilium"][..],
        &["--component", "helm/*"],
        &["--group", "helm"],
        &["--from", "integration"],
        &["--to", "live"],
        &["--from", "integration", "--to", "live"],
    ] {
        plan(repo.path(), args);
    }
}

#[test]
fn filtered_out_components_are_not_held_or_counted() {
    let repo = example_repo("flux-terragrunt");
    let out = plan(repo.path(), &["--component", "helm/cilium"]);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("  ")).count(),
        1,
        "{out}"
    );
    assert!(
        out.contains("1 to change, 0 held, 0 new, 0 unchanged\n"),
        "{out}"
    );
    assert!(!out.contains("filtered out"), "{out}");
    let v: serde_json::Value =
        serde_json::from_str(&plan(repo.path(), &["--group", "helm", "--format", "json"]))
            .expect("json");
    let ids: Vec<&str> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().expect("id"))
        .collect();
    assert!(ids.iter().all(|id| id.starts_with("helm/")), "{ids:?}");
    // Positive control: unfiltered, the infra components are there.
    let all = plan(repo.path(), &[]);
    assert!(all.contains("infra/talos"), "{all}");
}

#[test]
fn bad_pins_are_refused_and_name_the_pin() {
    let repo = example_repo("flux-terragrunt");
    for cmd in ["plan", "apply"] {
        refused(
            repo.path(),
            &[cmd, "--pin", "helm/cilium=1.2 3"],
            "bad pin `helm/cilium=1.2 3` (`--pin` or the `pin` input, `ID=VERSION`): `1.2 3` holds whitespace",
        );
        // A HelmRelease chart version must be one Helm takes.
        refused(
            repo.path(),
            &[cmd, "--pin", "helm/cilium=sha-abc1234"],
            "bad pin `helm/cilium=sha-abc1234` (`--pin` or the `pin` input, `ID=VERSION`): `sha-abc1234` is not a Helm chart version",
        );
        refused(
            repo.path(),
            &[cmd, "--pin", "helm/cilium="],
            "bad pin `helm/cilium=`: expected `ID=VERSION`",
        );
    }
    // Positive control: a good pin applies.
    let (code, _, err) = run_in(
        repo.path(),
        &[
            "apply",
            "--pin",
            "helm/cilium=1.17.9",
            "--component",
            "helm/cilium",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let live = std::fs::read_to_string(
        repo.path()
            .join("kubernetes/clusters/live/helm-charts.yaml"),
    )
    .expect("live");
    assert!(live.contains("version: \"1.17.9\""), "{live}");
}

#[test]
fn a_bad_source_value_is_refused_at_its_position_and_nothing_is_written() {
    let repo = example_repo("flux-terragrunt");
    let integration = repo
        .path()
        .join("kubernetes/clusters/integration/helm-charts.yaml");
    let text = std::fs::read_to_string(&integration).expect("integration");
    assert!(text.contains("version: \"1.18.6\""), "{text}");
    std::fs::write(
        &integration,
        text.replace("version: \"1.18.6\"", "version: \"1.18 .6\""),
    )
    .expect("write");
    let (line, column) = text
        .lines()
        .enumerate()
        .find_map(|(n, l)| l.find("\"1.18.6\"").map(|c| (n + 1, c + 1)))
        .expect("cilium");
    let at = format!(
        "kubernetes/clusters/integration/helm-charts.yaml:{line}:{column}: `helm/cilium` cannot be promoted from `integration` to `live`: `1.18 .6` holds whitespace"
    );
    for cmd in ["plan", "apply"] {
        refused(repo.path(), &[cmd, "--force"], &at);
        refused(
            repo.path(),
            &[cmd, "--force", "--component", "helm/cilium"],
            &at,
        );
    }
    // Held (it cannot be ordered against the target's), so not copied: no error, nothing written.
    let (code, out, err) = run_in(repo.path(), &["apply", "--component", "helm/cilium"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("0 to change, 1 held"), "{out}");
    // Not copied, no error: the bad value outside the filter leaves the rest promotable.
    let (code, _, err) = run_in(repo.path(), &["apply", "--component", "helm/cert-manager"]);
    assert_eq!(code, 0, "{err}");
    // Positive control: fixed at the source, it promotes.
    std::fs::write(&integration, &text).expect("write");
    let (code, _, err) = run_in(repo.path(), &["apply", "--component", "helm/cilium"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_pin_naming_no_component_is_an_error() {
    let repo = example_repo("flux-terragrunt");
    let (code, _, err) = run_in(repo.path(), &["plan", "--pin", "helm/cilum=1.17.9"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: pin `helm/cilum` names no component of `integration`"),
        "{err}"
    );
}

#[test]
fn apply_dry_run_writes_nothing() {
    let repo = example_repo("flux-terragrunt");
    let (code, out, err) = run_in(repo.path(), &["apply", "--dry-run", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["edits"].as_array().map(Vec::len), Some(2));
    assert!(
        v["edits"][1]["diff"]
            .as_str()
            .is_some_and(|d| d.contains("+      version: \"1.18.6\"")),
        "{out}"
    );
    assert_eq!(err, "", "diagnostics only on stderr");
    // Text: the plan, then the diff, both data on stdout.
    let (code, out, err) = run_in(repo.path(), &["apply", "--dry-run"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(out.starts_with("promote integration -> live"), "{out}");
    assert!(out.contains("+      version: \"1.18.6\""), "{out}");
    assert_eq!(git(repo.path(), &["status", "--porcelain"]), "");
}

#[test]
fn promote_log_shows_the_decisions_without_colour_off_a_terminal() {
    let repo = example_repo("flux-terragrunt");
    let sha = git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string();
    let event = repo.path().join("event.json");
    let payload = std::fs::read_to_string(crate::support::fixture("events/status-success.json"))
        .expect("fixture")
        .replace("6dcb09b5b57875f334f61aebed695e2e4193db5e", &sha);
    std::fs::write(&event, payload).expect("write");
    let args = [
        "plan",
        "--event-name",
        "status",
        "--event-path",
        "event.json",
    ];
    let out = crate::support::promote_cmd()
        .args(args)
        .current_dir(repo.path())
        .env("PROMOTE_LOG", "debug")
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("decision: Promote"), "{err}");
    assert!(
        err.contains("gate integration -> live: helm/cilium: Eligible"),
        "{err}"
    );
    assert!(err.contains("plan integration -> live at"), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "no colour codes when not a terminal: {err}"
    );
    // Positive control: without PROMOTE_LOG, none of it.
    let quiet = crate::support::promote_cmd()
        .args(args)
        .current_dir(repo.path())
        .output()
        .expect("runs");
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("decision:"));
}

#[test]
fn apply_then_plan_has_nothing_left_and_only_versions_changed() {
    let repo = example_repo("flux-terragrunt");
    let (code, _, err) = run_in(repo.path(), &["apply", "--force"]);
    assert_eq!(code, 0, "{err}");
    let out = plan(repo.path(), &[]);
    assert!(out.contains("nothing to promote"), "{out}");
    snap!(out);
    // Every changed line differs from its old self only inside the version.
    let diff = git(repo.path(), &["diff", "-U0", "--no-color"]);
    let minus: Vec<&str> = diff
        .lines()
        .filter(|l| l.starts_with('-') && !l.starts_with("---"))
        .collect();
    let plus: Vec<&str> = diff
        .lines()
        .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
        .collect();
    assert_eq!(minus.len(), 9);
    assert_eq!(minus.len(), plus.len());
    for (m, p) in minus.iter().zip(&plus) {
        let (m, p) = (&m[1..], &p[1..]);
        let prefix = m.bytes().zip(p.bytes()).take_while(|(a, b)| a == b).count();
        let suffix = m
            .bytes()
            .rev()
            .zip(p.bytes().rev())
            .take_while(|(a, b)| a == b)
            .count();
        let old = &m[prefix..m.len() - suffix.min(m.len() - prefix)];
        assert!(
            old.chars().all(|c| c.is_ascii_alphanumeric() || c == '.'),
            "`{m}` -> `{p}` changed `{old}`"
        );
    }
}

#[test]
fn a_broken_target_fails_the_whole_apply_and_writes_nothing() {
    let repo = example_repo("flux-terragrunt");
    let live = repo
        .path()
        .join("kubernetes/clusters/live/helm-charts.yaml");
    let text = std::fs::read_to_string(&live).expect("live");
    std::fs::write(
        &live,
        text.replace("  interval: 10m\n", "  interval: [10m\n"),
    )
    .expect("write");
    let before = snapshot_tree(repo.path());
    let (code, _, err) = run_in(repo.path(), &["apply", "--force"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("kubernetes/clusters/live/helm-charts.yaml:"),
        "{err}"
    );
    assert_eq!(snapshot_tree(repo.path()), before);
}

#[test]
fn plan_at_a_revision_reads_the_source_there() {
    let repo = example_repo("flux-terragrunt");
    let first = git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string();
    let stack = repo
        .path()
        .join("infrastructure/stacks/integration/terragrunt.stack.hcl");
    let text = std::fs::read_to_string(&stack).expect("stack");
    std::fs::write(&stack, text.replace("v1.12.1", "v1.13.0")).expect("write");
    git(repo.path(), &["commit", "-qam", "bump talos"]);
    let out = plan(repo.path(), &["--at", &first, "--component", "infra/talos"]);
    assert!(out.contains("v1.12.0 -> v1.12.1"), "{out}");
    let out = plan(repo.path(), &["--at", "HEAD", "--component", "infra/talos"]);
    assert!(out.contains("v1.12.0 -> v1.13.0"), "{out}");
}

#[test]
fn check_reports_every_problem() {
    let repo = example_repo("flux-terragrunt");
    let (code, out, _) = run_in(repo.path(), &["check"]);
    assert_eq!(code, 0);
    assert_eq!(out, "ok: 3 environments, 2 sources, 33 components\n");
    std::fs::remove_file(repo.path().join("kubernetes/clusters/dev/helm-charts.yaml")).expect("rm");
    let live = repo
        .path()
        .join("infrastructure/stacks/live/terragrunt.stack.hcl");
    std::fs::write(&live, "locals {\n  versions = {\n    talos = \n").expect("write");
    let (code, _, err) = run_in(repo.path(), &["check"]);
    assert_eq!(code, 1);
    assert!(
        err.contains(
            "`kubernetes/clusters/dev/helm-charts.yaml` (environment `dev`) does not exist"
        ),
        "{err}"
    );
    assert!(
        err.contains("infrastructure/stacks/live/terragrunt.stack.hcl:"),
        "{err}"
    );
    assert!(err.contains("2 problem(s)"), "{err}");
}

#[test]
fn config_errors_name_line_and_column() {
    let repo = example_repo("flux-terragrunt");
    let cfg = repo.path().join(".github/promote.toml");
    let text = std::fs::read_to_string(&cfg).expect("config");
    std::fs::write(
        &cfg,
        text.replace("partial = true", "partial = true\nsoak = \"1h\""),
    )
    .expect("write");
    let (code, _, err) = run_in(repo.path(), &["plan"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: .github/promote.toml:24:1: unknown field `soak`"),
        "{err}"
    );
}

#[test]
fn check_lists_every_config_problem_with_its_position() {
    let repo = example_repo("flux-terragrunt");
    let cfg = repo.path().join(".github/promote.toml");
    let text = std::fs::read_to_string(&cfg).expect("config");
    std::fs::write(
        &cfg,
        text.replace("kubernetes/clusters/{env}", "/srv/clusters/{env}")
            .replace("to = \"live\"", "to = \"prod\""),
    )
    .expect("write");
    let (code, out, err) = run_in(repo.path(), &["check"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "error: .github/promote.toml:15:8: source path `/srv/clusters/{env}/helm-charts.yaml` is absolute; paths are relative to the repository root\n\
         error: .github/promote.toml:21:6: promotion `integration -> prod` names unknown environment `prod` (known: dev, integration, live)\n\
         2 problem(s)\n"
    );
}

#[test]
fn plan_markdown_carries_tags_and_the_checklist() {
    let repo = example_repo("flux-terragrunt");
    let cfg = repo.path().join(".github/promote.toml");
    let text = std::fs::read_to_string(&cfg).expect("config");
    std::fs::write(
        &cfg,
        text.replace(
            "partial = true",
            "partial = true\ntag = \"{component}-{version}\"\nchecklist = [\"live dashboards green\", \"rollback plan noted\"]",
        ),
    )
    .expect("write");
    let out = plan(
        repo.path(),
        &["--component", "helm/cilium", "--format", "markdown"],
    );
    assert!(out.contains("\nTags: `cilium-1.18.6`\n"), "{out}");
    assert!(
        out.ends_with("#### Checklist\n\n- [ ] live dashboards green\n- [ ] rollback plan noted\n"),
        "{out}"
    );
    let text = plan(repo.path(), &["--component", "*cilium"]);
    assert!(text.contains("\ntags: cilium-1.18.6\n"), "{text}");
}

#[cfg(unix)]
#[test]
fn apply_writes_through_a_symlink_and_keeps_it() {
    let repo = example_repo("flux-terragrunt");
    let live = repo.path().join("kubernetes/clusters/live");
    std::fs::rename(
        live.join("helm-charts.yaml"),
        live.join("helm-charts.real.yaml"),
    )
    .expect("move");
    std::os::unix::fs::symlink("helm-charts.real.yaml", live.join("helm-charts.yaml"))
        .expect("symlink");
    let (code, _, err) = run_in(repo.path(), &["apply", "--component", "helm/cilium"]);
    assert_eq!(code, 0, "{err}");
    let link = std::fs::symlink_metadata(live.join("helm-charts.yaml")).expect("meta");
    assert!(link.file_type().is_symlink());
    let text = std::fs::read_to_string(live.join("helm-charts.real.yaml")).expect("real");
    assert!(text.contains("version: \"1.18.6\""), "{text}");
}

#[test]
fn versions_matrix_marks_drift() {
    let repo = example_repo("flux-terragrunt");
    let (code, out, _) = run_in(repo.path(), &["versions"]);
    assert_eq!(code, 0);
    snap!(out);
    let (code, out, _) = run_in(
        repo.path(),
        &["versions", "--format", "json", "--env", "live"],
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["environments"], serde_json::json!(["live"]));
    let loki = &v["components"][10];
    assert_eq!(
        (&loki["id"], &loki["versions"]["live"], &loki["drift"]),
        (&"helm/loki".into(), &"6.41.0".into(), &false.into())
    );
    let (code, out, _) = run_in(repo.path(), &["versions", "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["components"][10]["versions"]["dev"], "6.41.1");
    assert_eq!(v["components"][10]["drift"], true);
}

#[test]
fn plan_replays_a_status_event_at_its_commit() {
    let repo = example_repo("flux-terragrunt");
    let sha = git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string();
    let event = repo.path().join("event.json");
    let payload = std::fs::read_to_string(crate::support::fixture("events/status-success.json"))
        .expect("fixture")
        .replace("6dcb09b5b57875f334f61aebed695e2e4193db5e", &sha);
    std::fs::write(&event, payload).expect("write");
    let out = plan(
        repo.path(),
        &[
            "--event-name",
            "status",
            "--event-path",
            event.to_str().expect("utf8"),
        ],
    );
    let cilium = out
        .lines()
        .find(|l| l.contains("helm/cilium "))
        .expect("cilium");
    assert!(cilium.trim_start().starts_with("change"), "{out}");
    let cm = out
        .lines()
        .find(|l| l.contains("helm/cert-manager"))
        .expect("cert-manager");
    assert!(cm.contains("held") && cm.contains("no status"), "{out}");
}

#[test]
fn plan_snapshots_for_pin_and_new_component() {
    let repo = example_repo("flux-terragrunt");
    snap!(
        "pin",
        plan(
            repo.path(),
            &["--pin", "helm/cilium=1.17.9", "--group", "helm"]
        )
    );
    snap!(
        "json",
        plan(repo.path(), &["--group", "infra", "--format", "json"])
    );
}

#[test]
fn check_refuses_promotions_no_status_can_tell_apart_and_notes_ungated_ones() {
    let repo = example_repo("flux-terragrunt");
    let cfg = repo.path().join(".github/promote.toml");
    let text = std::fs::read_to_string(&cfg).expect("config");
    // Both gates without `{env}`: a status from either cluster would speak for both.
    let text = text.replace(
        "'^kustomization/(?P<component>[^/]+)/{env}$'",
        "'^kustomization/(?P<component>[^/]+)/'",
    );
    let gate = "\n[[promotion]]\nfrom = \"dev\"\nto = \"integration\"\n[promotion.gate]\nstatus-context = '^kustomization/(?P<component>[^/]+)/'\n";
    std::fs::write(&cfg, format!("{text}{gate}")).expect("write");
    let (code, _, err) = run_in(repo.path(), &["check"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(
            "error: `integration -> live` and `dev -> integration` are gated by the same contexts"
        ),
        "{err}"
    );
    // Positive control: `{env}` in both tells them apart.
    let bound = format!("{text}{gate}").replace(
        "'^kustomization/(?P<component>[^/]+)/'",
        "'^kustomization/(?P<component>[^/]+)/{env}$'",
    );
    std::fs::write(&cfg, bound).expect("write");
    let (code, out, err) = run_in(repo.path(), &["check"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ok:"), "{out}");
    // An ungated example says so, and still passes.
    let overlays = example_repo("kustomize-overlays");
    let (code, _, err) = run_in(overlays.path(), &["check"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("note: `dev -> stage` is ungated"), "{err}");
}

/// `examples/try.sh` makes the branch-based examples runnable from the README.
#[test]
fn branch_examples_run_through_try_sh() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/try.sh");
    for (name, want) in [
        (
            "env-branches",
            "change     example-app/registry.local/p2c/example-app  1.3.2 -> 1.4.0",
        ),
        (
            "test-prod-per-app",
            "change     homepage/tag   v1.4.2 -> v1.5.0",
        ),
    ] {
        let mut cmd = std::process::Command::new("bash");
        cmd.arg(&script)
            .arg(name)
            .env("PROMOTE", env!("CARGO_BIN_EXE_promote"));
        crate::support::isolate_git(&mut cmd);
        let out = cmd.output().expect("bash");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(want), "{name}: {stdout}");
    }
    // A folder-based example is pointed at `plan -C` instead.
    let out = std::process::Command::new("bash")
        .arg(&script)
        .arg("flux-terragrunt")
        .env("PROMOTE", env!("CARGO_BIN_EXE_promote"))
        .output()
        .expect("bash");
    assert_eq!(out.status.code(), Some(2));
}

/// Every `cargo run --locked -- plan -C examples/...` command of the README's example table runs.
#[test]
fn the_readme_example_commands_run() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("readme");
    let commands: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| l.split("`cargo run --locked -- ").nth(1))
        .filter_map(|rest| rest.split('`').next())
        .collect();
    assert!(commands.len() >= 3, "{commands:?}");
    for c in commands {
        let args: Vec<&str> = c.split_whitespace().collect();
        let (code, out, err) = run_in(root, &args);
        assert_eq!(code, 0, "{c}: {err}");
        assert!(out.starts_with("promote "), "{c}: {out}");
    }
}

/// Every example's config passes `promote check` (branch examples with their branches made).
#[test]
fn every_example_passes_check() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .expect("examples")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join(".github/promote.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 7, "{names:?}");
    for name in names {
        let repo = example_repo(&name);
        let branches: &[&str] = match name.as_str() {
            "env-branches" | "gitlab-env-branches" => &["dev", "stage", "prod"],
            "test-prod-per-app" => &["env/test", "env/prod"],
            _ => &[],
        };
        for b in branches {
            git(repo.path(), &["branch", "-f", b]);
        }
        let (code, out, err) = run_in(repo.path(), &["check"]);
        assert_eq!(code, 0, "{name}: {err}");
        assert!(out.starts_with("ok: "), "{name}: {out}");
        assert!(!err.contains("warning:"), "{name}: {err}");
    }
}

/// The text plan is a preview: it splices its edits without re-reading them (nothing it prints
/// depends on the bytes). It must still say exactly what the re-read plans say: for every
/// promotion of every folder example, forced, the text plan's summary and changed components
/// are the JSON plan's (whose edits were re-read and carry diffs), and `apply` then leaves
/// nothing to do.
#[test]
fn the_text_plan_says_what_the_verified_plan_does() {
    let mut compared = 0;
    for name in [
        "flux-terragrunt",
        "kustomize-overlays",
        "chart-appset",
        "flux-apps",
        "flux-homelab",
        "terragrunt-live",
    ] {
        let repo = example_repo(name);
        let config: toml::Value = toml::from_str(
            &std::fs::read_to_string(repo.path().join(".github/promote.toml")).expect("config"),
        )
        .expect("toml");
        for p in config["promotion"].as_array().expect("promotions") {
            let (from, to) = (
                p["from"].as_str().expect("from"),
                p["to"].as_str().expect("to"),
            );
            let args = ["--from", from, "--to", to, "--force"];
            let text = plan(repo.path(), &args);
            let json = plan(repo.path(), &[&args[..], &["--format", "json"]].concat());
            let v: serde_json::Value = serde_json::from_str(&json).expect("json");
            let items = v["items"].as_array().expect("items");
            let changed: Vec<&str> = items
                .iter()
                .filter(|i| i["action"] == "change")
                .map(|i| i["id"].as_str().expect("id"))
                .collect();
            for id in &changed {
                assert!(
                    text.lines().any(|l| l.trim_start().starts_with("change")
                        && l.split_whitespace().nth(1) == Some(id)),
                    "{name} {from}->{to}: `{id}` missing from the text plan:\n{text}"
                );
            }
            let summary = format!("{} to change", changed.len());
            assert!(
                text.contains(&summary),
                "{name} {from}->{to}: {summary}\n{text}"
            );
            assert_eq!(
                v["edits"].as_array().expect("edits").is_empty(),
                changed.is_empty(),
                "{name} {from}->{to}"
            );
            compared += changed.len();
        }
    }
    assert!(compared >= 10, "too few changes compared: {compared}");
}

/// Write `text` to `rel` under `root`, making its folders.
fn write_file(root: &std::path::Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// A repository of `pins` dotenv pins (each under a Renovate comment) and 30 HelmReleases per
/// environment, half of them a version ahead in integration: at 10,000 pins each environment is
/// over the MiB `plan` parses side by side. `broken` puts a bad line in each environment's pin
/// file.
fn pins_repo(pins: usize, broken: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let write = |rel: &str, text: &str| write_file(root, rel, text);
    write(
        ".github/promote.toml",
        r#"environments = ["integration", "live"]

[[source]]
path = "pins/{env}/versions.env"
kind = "dotenv"

[[source]]
path = "apps/{env}/{app}/helmrelease.yaml"
kind = "flux"
group = "apps"

[[promotion]]
from = "integration"
to = "live"
"#,
    );
    for (env, bump) in [("integration", 1), ("live", 0)] {
        let mut text = String::from("# pinned per environment\n");
        for i in 0..pins {
            let patch = if i % 2 == 0 { bump } else { 0 };
            text.push_str(&format!(
                "# renovate: datasource=github-releases depName=example/tool-{i} versioning=semver\nTOOL_{i}_VERSION=v1.{i}.{patch}\n"
            ));
        }
        if broken {
            text.push_str("this line is not a pin\n");
        }
        write(&format!("pins/{env}/versions.env"), &text);
        for app in 0..30 {
            let patch = if app % 2 == 0 { bump } else { 0 };
            write(
                &format!("apps/{env}/app{app}/helmrelease.yaml"),
                &format!(
                    "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: app{app}\nspec:\n  chart:\n    spec:\n      chart: app{app}\n      version: \"2.{app}.{patch}\"\n"
                ),
            );
        }
    }
    git(root, &["init", "-q"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-qm", "initial"]);
    dir
}

/// `promote` in `dir` with `PROMOTE_THREADS=threads` and debug logs: (code, stdout, stderr).
fn run_threads(dir: &std::path::Path, threads: &str, args: &[&str]) -> (i32, String, String) {
    run_in_with(
        dir,
        &[
            ("PROMOTE_THREADS", threads),
            ("PROMOTE_LOG", "promote=debug"),
        ],
        args,
    )
}

#[test]
fn large_environments_are_parsed_side_by_side_into_the_same_plan() {
    let dir = pins_repo(10_000, false);
    for args in [
        &["plan", "--force"][..],
        &["plan", "--format", "json"],
        &["plan", "--format", "markdown", "--component", "apps/*"],
    ] {
        let (code, one, err_one) = run_threads(dir.path(), "1", args);
        assert_eq!(code, 0, "{err_one}");
        assert!(
            !err_one.contains("side by side") && err_one.contains("one after the other"),
            "{err_one}"
        );
        let (code, two, err_two) = run_threads(dir.path(), "2", args);
        assert_eq!(code, 0, "{err_two}");
        assert!(
            err_two.contains("parsing `integration` (") && err_two.contains("side by side"),
            "{args:?}: {err_two}"
        );
        assert_eq!(one, two, "{args:?}");
    }
    // The plan itself: 5,000 pins and 15 apps move, the rest stay.
    let (_, text, _) = run_threads(dir.path(), "2", &["plan"]);
    assert_eq!(text.matches("\n  change ").count(), 5_015);
    let line = |id: &str| {
        text.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(id))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
    };
    assert_eq!(
        line("TOOL_0_VERSION").as_deref(),
        Some("change TOOL_0_VERSION v1.0.0 -> v1.0.1")
    );
    assert_eq!(
        line("TOOL_1_VERSION").as_deref(),
        Some("unchanged TOOL_1_VERSION v1.1.0")
    );
    assert_eq!(
        line("apps/app2").as_deref(),
        Some("change apps/app2 2.2.0 -> 2.2.1")
    );
    // Applied on two threads and on one: the same bytes written.
    let other = pins_repo(10_000, false);
    let (code, _, err) = run_threads(dir.path(), "2", &["apply"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run_threads(other.path(), "1", &["apply"]);
    assert_eq!(code, 0, "{err}");
    let relative = |root: &std::path::Path| -> Vec<(std::path::PathBuf, Vec<u8>)> {
        snapshot_tree(root)
            .into_iter()
            .map(|(path, bytes)| {
                (
                    path.strip_prefix(root).expect("inside").to_path_buf(),
                    bytes,
                )
            })
            .collect()
    };
    let (two, one) = (relative(dir.path()), relative(other.path()));
    assert_eq!(two.len(), one.len());
    for ((path, bytes), (other_path, other_bytes)) in two.iter().zip(&one) {
        assert_eq!(path, other_path);
        assert!(bytes == other_bytes, "{} differs", path.display());
    }
    let live = std::fs::read_to_string(dir.path().join("pins/live/versions.env")).expect("read");
    assert!(live.contains("\nTOOL_0_VERSION=v1.0.1\n"));
    assert!(live.contains("\nTOOL_1_VERSION=v1.1.0\n"));
}

#[test]
fn small_environments_are_parsed_on_one_thread() {
    // About 120 KiB an environment: under the MiB.
    let dir = pins_repo(1_000, false);
    let (code, text, err) = run_threads(dir.path(), "2", &["plan", "--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("one after the other"), "{err}");
    assert!(!err.contains("side by side"), "{err}");
    assert_eq!(text.matches("\n  change ").count(), 515);
}

#[test]
fn side_by_side_the_source_environment_error_still_comes_first() {
    let dir = pins_repo(10_000, true);
    for threads in ["1", "2"] {
        let (code, out, err) = run_threads(dir.path(), threads, &["plan"]);
        assert_eq!(code, 1, "{out}{err}");
        assert!(
            err.contains("pins/integration/versions.env:20002:"),
            "{threads}: {err}"
        );
        assert!(!err.contains("pins/live/versions.env:"), "{threads}: {err}");
        assert_eq!(threads == "2", err.contains("side by side"), "{err}");
    }
}

#[test]
fn side_by_side_a_missing_target_file_is_named_after_the_source_errors() {
    for broken in [true, false] {
        let dir = pins_repo(10_000, broken);
        std::fs::remove_file(dir.path().join("pins/live/versions.env")).expect("rm");
        for threads in ["1", "2"] {
            let (code, out, err) = run_threads(dir.path(), threads, &["plan"]);
            assert_eq!(code, 1, "{out}{err}");
            if broken {
                assert!(
                    err.contains("pins/integration/versions.env:20002:"),
                    "{threads}: {err}"
                );
                assert!(!err.contains("not found"), "{threads}: {err}");
            } else {
                assert!(
                    err.contains("pins/live/versions.env: source file not found in `live`"),
                    "{threads}: {err}"
                );
            }
        }
    }
}

/// A key set twice in a dotenv file is refused with the same message whether the file is read
/// into a list of components (`apply` keeps the target's for its edits) or streamed into entries
/// (`plan`'s preview keeps nothing), and `apply` writes nothing.
#[test]
fn a_repeated_pin_is_refused_alike_streamed_or_kept() {
    let dir = pins_repo(20, false);
    let live = dir.path().join("pins/live/versions.env");
    // The positive control: without the repeat, both run.
    let (code, out, err) = run_in(dir.path(), &["plan"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("TOOL_4_VERSION"), "{out}");
    // Errors found after both environments are read (an unknown pin, an unknown component):
    // without the repeat, each is the error.
    let later: [(&[&str], &str); 2] = [
        (&["plan", "--pin", "NOPE_VERSION=v1.0.0"], "NOPE_VERSION"),
        (&["plan", "--component", "NOPE_*"], "NOPE_*"),
    ];
    for (args, named) in later {
        let (code, out, err) = run_in(dir.path(), args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(err.contains(named), "{args:?}: {err}");
    }
    let mut text = std::fs::read_to_string(&live).expect("read");
    // Pin `i` is on line `3 + 2i`; this is line 42.
    text.push_str("TOOL_3_VERSION=v9.9.9\n");
    std::fs::write(&live, &text).expect("write");
    let expected = "pins/live/versions.env:42:16: duplicate component `TOOL_3_VERSION` (first defined at line 9)";
    for args in [&["plan"][..], &["apply"][..]] {
        let (code, out, err) = run_in(dir.path(), args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    // The preview compares the target's names after its decisions (where they do not show
    // them distinct): the repeat is still the error before those found after the file was read.
    for (args, named) in later {
        let (code, out, err) = run_in(dir.path(), args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains(named), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read_to_string(&live).expect("read"), text);
    // A line that is no pin, after the repeat: the file does not parse, and that is the error,
    // streamed or not, as a whole file is read before its names are compared.
    text.push_str("this line is not a pin\n");
    std::fs::write(&live, &text).expect("write");
    for args in [&["plan"][..], &["apply"][..]] {
        let (code, out, err) = run_in(dir.path(), args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(
            err.contains("pins/live/versions.env:43:1:"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("duplicate"), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read_to_string(&live).expect("read"), text);
}

/// App files are read one at a time as they are parsed (not all before the first parse), on one
/// thread or two: the first broken file in path order is still the error, the source's before
/// the target's, and `apply` writes nothing.
#[test]
fn app_files_read_as_they_are_parsed_name_the_first_broken_one() {
    let dir = pins_repo(10_000, false);
    let root = dir.path();
    // The positive control: every file parses, on one thread and on two.
    for threads in ["1", "2"] {
        let (code, out, err) = run_threads(root, threads, &["plan"]);
        assert_eq!(code, 0, "{threads}: {out}{err}");
        assert!(out.contains("apps/app12"), "{out}");
    }
    let broken = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nspec: [unclosed\n";
    for (env, app) in [
        ("live", "app4"),
        ("integration", "app21"),
        ("integration", "app13"),
    ] {
        std::fs::write(
            root.join(format!("apps/{env}/{app}/helmrelease.yaml")),
            broken,
        )
        .expect("write");
    }
    let before = snapshot_tree(root);
    for threads in ["1", "2"] {
        for args in [&["plan"][..], &["apply"][..]] {
            let (code, out, err) = run_threads(root, threads, args);
            assert_eq!(code, 1, "{threads} {args:?}: {out}{err}");
            // `app13` sorts before `app21`; the source's error before the target's.
            assert!(
                err.contains("apps/integration/app13/helmrelease.yaml:"),
                "{threads} {args:?}: {err}"
            );
            assert!(!err.contains("app21"), "{err}");
            assert!(!err.contains("apps/live/"), "{err}");
        }
    }
    assert!(
        snapshot_tree(root) == before,
        "a failed run wrote something"
    );
}

/// A folder with a config of one `dotenv` source, `pins/{env}/versions.env`, promoted from
/// integration to live; the pins are the caller's to write.
fn dotenv_pins_config() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write_file(
        dir.path(),
        ".github/promote.toml",
        "environments = [\"integration\", \"live\"]\n\n[[source]]\npath = \"pins/{env}/versions.env\"\nkind = \"dotenv\"\n\n[[promotion]]\nfrom = \"integration\"\nto = \"live\"\n",
    );
    dir
}

/// A preview of one dotenv file per environment leaves the target's names uncompared while it
/// decides, and compares them after unless the decisions showed them distinct (every target
/// entry found in step, each for another source id): a repeat anywhere in the target is still
/// refused, named where it is, and before any error found after the file was read.
#[test]
fn a_repeated_pin_in_a_streamed_target_is_the_error_before_later_ones() {
    let dir = dotenv_pins_config();
    let root = dir.path();
    let write = |rel: &str, text: &str| write_file(root, rel, text);
    let pins = |patch: u32| -> String {
        let mut text = String::from("# pinned\n");
        for i in 0..10 {
            text.push_str(&format!("TOOL_{i}=v1.{i}.{patch}\n"));
        }
        text
    };
    write("pins/integration/versions.env", &pins(1));
    let live = pins(0);
    write("pins/live/versions.env", &live);
    let later: [(&[&str], &str); 2] = [
        (&["plan", "--pin", "NOPE=v1.0.0"], "NOPE"),
        (&["plan", "--component", "NOPE_*"], "NOPE_*"),
    ];
    // The positive controls: the plan runs, and each later error is the error.
    let (code, out, err) = run_in(root, &["plan"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("10 to change"), "{out}");
    for (args, named) in later {
        let (code, out, err) = run_in(root, args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(
            err.contains(named) && !err.contains("duplicate"),
            "{args:?}: {err}"
        );
    }
    // The repeat after the pins (every source id found in step, one target entry left over),
    // and before them (the walk finds the second `TOOL_3` in step, and the first is left over).
    let after = format!("{live}TOOL_3=v9.9.9\n");
    let before = live.replacen("# pinned\n", "# pinned\nTOOL_3=v9.9.9\n", 1);
    for (text, expected) in [
        (
            &after,
            "pins/live/versions.env:12:8: duplicate component `TOOL_3` (first defined at line 5)",
        ),
        (
            &before,
            "pins/live/versions.env:6:8: duplicate component `TOOL_3` (first defined at line 2)",
        ),
    ] {
        write("pins/live/versions.env", text);
        let mut runs: Vec<(&[&str], Option<&str>)> = vec![(&["plan"], None), (&["apply"], None)];
        runs.extend(later.iter().map(|(args, named)| (*args, Some(*named))));
        for (args, named) in runs {
            let (code, out, err) = run_in(root, args);
            assert_eq!(code, 1, "{args:?}: {out}{err}");
            assert!(err.contains(expected), "{args:?}: {err}");
            if let Some(named) = named {
                assert!(!err.contains(named), "{args:?}: {err}");
            }
        }
        assert_eq!(
            std::fs::read_to_string(root.join("pins/live/versions.env")).expect("read"),
            *text
        );
    }
}

/// One file, two rules: a kustomization's digest follows the digest grammar and its tag the
/// tag grammar, whichever comes first in the file.
#[test]
fn each_component_of_a_file_keeps_its_own_version_rule() {
    let dir = tempfile::tempdir().expect("tmp");
    let write = |path: &str, text: &str| crate::support::write_file(dir.path(), path, text);
    write(
        ".github/promote.toml",
        "environments = [\"dev\", \"live\"]\n[[source]]\npath = \"apps/{env}/kustomization.yaml\"\nkind = \"kustomize-images\"\n[[promotion]]\nfrom = \"dev\"\nto = \"live\"\n",
    );
    let kustomization = |digest: &str, tag: &str| {
        format!(
            "images:\n  - name: ghcr.io/acme/api\n    digest: {digest}\n  - name: ghcr.io/acme/web\n    newTag: {tag}\n"
        )
    };
    let (old, new) = (
        format!("sha256:{}", "a".repeat(64)),
        format!("sha256:{}", "b".repeat(64)),
    );
    write(
        "apps/live/kustomization.yaml",
        &kustomization(&old, "v1.2.3"),
    );
    write(
        "apps/dev/kustomization.yaml",
        &kustomization(&new, "v1.2.4"),
    );
    let (code, out, err) = run_in(dir.path(), &["plan", "--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 to change"), "{out}");
    // A tag where the digest goes is refused by the digest's rule.
    write(
        "apps/dev/kustomization.yaml",
        &kustomization("v1.2.4", "v1.2.4"),
    );
    let (code, out, err) = run_in(dir.path(), &["plan", "--force"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("apps/dev/kustomization.yaml:3:13: `ghcr.io/acme/api` cannot be promoted"),
        "{err}"
    );
    assert!(err.contains("an image digest"), "{err}");
}

/// `promote plan` on two `versions.env` decides them line by line (`plan::lockstep`, said at
/// `PROMOTE_LOG=debug`), read from the working tree, in step or out of it (the same text); with a
/// `${var}` or `--pin` it plans from the entries.
#[test]
fn a_plan_of_pins_is_decided_line_by_line_in_step_or_not() {
    let dir = dotenv_pins_config();
    let root = dir.path();
    let write = |rel: &str, text: &str| write_file(root, rel, text);
    write(
        "pins/integration/versions.env",
        "# pinned\nDEX=v2.41.0\nCILIUM=\"1.19.0\"\nTRIVY=v0.60.0\nFLUX=sha-abc1234\n",
    );
    let live = "# pinned\nexport DEX=v2.40.0\nCILIUM=\"1.18.6\"\nTRIVY=v0.61.0 # ahead\nFLUX=sha-0000000\n";
    write("pins/live/versions.env", live);
    let debug = [("PROMOTE_LOG", "debug")];
    let (code, in_step, err) = run_in_with(root, &debug, &["plan"]);
    assert_eq!(code, 0, "{in_step}{err}");
    assert!(err.contains("line by line: one file each"), "{err}");
    for line in [
        "  change     DEX     v2.40.0 -> v2.41.0\n",
        "  change     CILIUM  1.18.6 -> 1.19.0\n",
        "  held       TRIVY   v0.61.0 -> v0.60.0  (downgrade",
        "  held       FLUX    sha-0000000 -> sha-abc1234  (cannot order",
        "2 to change, 2 held, 0 new, 0 unchanged\n",
    ] {
        assert!(in_step.contains(line), "{line:?} in\n{in_step}");
    }
    // Out of step (the last two lines swapped): still line by line, the same lines in the
    // source's order.
    let swapped = live.replace(
        "TRIVY=v0.61.0 # ahead\nFLUX=sha-0000000\n",
        "FLUX=sha-0000000\nTRIVY=v0.61.0 # ahead\n",
    );
    write("pins/live/versions.env", &swapped);
    let (code, out, err) = run_in_with(root, &debug, &["plan"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("line by line"), "{err}");
    assert_eq!(out, in_step);
    // A `${var}` in the target: declined, planned from the entries.
    write(
        "pins/live/versions.env",
        &live.replace("FLUX=sha-0000000", "FLUX=${FLUX_TAG}"),
    );
    let (code, out, err) = run_in_with(root, &debug, &["plan"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("a `${var}`, a name twice"), "{err}");
    assert!(!err.contains("line by line"), "{err}");
    assert!(
        out.contains(
            "  held       FLUX    ${FLUX_TAG} -> sha-abc1234  (target sets it through `FLUX_TAG`"
        ),
        "{out}"
    );
    // A pin: declined before the target is read.
    write("pins/live/versions.env", live);
    let (code, out, err) = run_in_with(root, &debug, &["plan", "--pin", "DEX=v2.42.0"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("the options or the config ask for them"),
        "{err}"
    );
    assert!(
        out.contains("  change     DEX     v2.40.0 -> v2.42.0\n"),
        "{out}"
    );
    assert!(!err.contains("line by line"), "{err}");
}
