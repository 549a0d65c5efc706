//! Unit tests of config loading and validation.

use super::*;

const GOOD: &str = r#"
environments = ["dev", "integration", "live"]

[[source]]
path = "infrastructure/stacks/{env}/terragrunt.stack.hcl"
kind = "hcl-map"
at = "locals.versions"
group = "infra"

[[promotion]]
from = "integration"
to = "live"
[promotion.gate]
status-context = '^kustomization/(?P<component>[^/]+)/'
"#;

#[test]
fn loads_a_good_config() {
    let c = Config::load("promote.toml", GOOD.as_bytes()).expect("load");
    assert_eq!(c.environments.len(), 3);
    assert_eq!(
        c.sources[0].path_for("live").as_deref(),
        Some("infrastructure/stacks/live/terragrunt.stack.hcl")
    );
    let p = c.pick_promotion(None, None).expect("promotion");
    assert_eq!(
        (p.from.as_str(), p.to.as_str(), p.partial),
        ("integration", "live", true)
    );
    assert_eq!(p.title(), "chore(promote): integration -> live");
}

#[test]
fn errors_point_at_line_and_column() {
    let bad = GOOD.replace("group = \"infra\"", "group = \"infra\"\ncolour = \"blue\"");
    let e = Config::load("p.toml", bad.as_bytes()).expect_err("unknown key");
    assert!(
        e.to_string()
            .starts_with("p.toml:9:1: unknown field `colour`"),
        "{e}"
    );
    let bad = GOOD.replace("to = \"live\"", "to = \"prod\"");
    let e = Config::load("p.toml", bad.as_bytes()).expect_err("unknown env");
    assert!(e.to_string().contains("unknown environment `prod`"), "{e}");
    assert!(e.to_string().starts_with("p.toml:12:6:"), "{e}");
    let bad = GOOD.replace("to = \"live\"", "to = \"integration\"");
    let e = Config::load("p.toml", bad.as_bytes()).expect_err("same env");
    assert_eq!(
        e.to_string(),
        "p.toml:12:6: promotion `integration -> integration` goes nowhere"
    );
    let bad = GOOD.replace(
        "group = \"infra\"",
        "group = \"infra\"\nenvironments = [\"qa\"]",
    );
    let e = Config::load("p.toml", bad.as_bytes()).expect_err("source env");
    assert!(e.to_string().starts_with("p.toml:9:16: source"), "{e}");
    let bad = GOOD.replace("infrastructure/stacks", "../elsewhere");
    let e = Config::load("p.toml", bad.as_bytes()).expect_err("escape");
    assert!(e.to_string().contains("leaves the repository"), "{e}");
    let bad = GOOD.replace("kind = \"hcl-map\"", "kind = \"xml\"");
    let e = Config::load("p.toml", bad.as_bytes()).expect_err("kind");
    assert!(
        e.to_string()
            .starts_with("p.toml:6:8: unknown variant `xml`"),
        "{e}"
    );
}

#[test]
fn a_path_without_env_needs_branches_or_one_environment() {
    let shared = GOOD.replace("stacks/{env}/", "stacks/");
    let e = Config::load("p.toml", shared.as_bytes()).expect_err("shared file");
    assert!(
        e.to_string().starts_with(
            "p.toml:5:8: source path `infrastructure/stacks/terragrunt.stack.hcl` has no `{env}`: environments `dev` and `integration` would share one file"
        ),
        "{e}"
    );
    let branches = shared.replace(
        r#"["dev", "integration", "live"]"#,
        r#"[{ name = "dev", branch = "dev" }, "integration", { name = "live", branch = "live" }]"#,
    );
    let c = Config::load("p.toml", branches.as_bytes()).expect("own branches");
    assert_eq!(c.branch_of("dev"), "dev");
    assert_eq!(c.branch_of("integration"), "main");
    let one = shared.replace(
        "group = \"infra\"",
        "group = \"infra\"\nenvironments = [\"live\"]",
    );
    Config::load("p.toml", one.as_bytes()).expect("one environment");
    let bad = GOOD.replace("group = \"infra\"", "template = \"{name}-v\"");
    let e = Config::load("p.toml", bad.as_bytes()).expect_err("template");
    assert_eq!(
        e.to_string(),
        "p.toml:8:12: template `{name}-v` has no `{version}`"
    );
}

#[test]
fn templates_round_trip() {
    let mut s: Source =
        toml::from_str("path = \"a.yaml\"\nkind = \"yaml\"\ntemplate = \"{name}-{version}\"")
            .expect("source");
    assert_eq!(
        s.version_from_stored("cert-manager", "cert-manager-v1.18.1"),
        "v1.18.1"
    );
    assert_eq!(
        s.version_to_stored("cert-manager", "v1.19.0"),
        "cert-manager-v1.19.0"
    );
    s.template = None;
    assert_eq!(s.version_from_stored("x", "1.0"), "1.0");
}

#[test]
fn every_source_and_promotion_problem_is_reported_at_once() {
    let bad = GOOD
        .replace("infrastructure/stacks", "../elsewhere")
        .replace("to = \"live\"", "to = \"prod\"");
    let e = Config::load("p.toml", bad.as_bytes()).expect_err("two problems");
    assert_eq!(e.problems().len(), 2, "{e}");
    assert_eq!(e.location(), ("p.toml", Some((5, 8))));
    assert_eq!(
        e.to_string(),
        "2 problems in the config:\n  p.toml:5:8: source path `../elsewhere/{env}/terragrunt.stack.hcl` leaves the repository (`..`)\n  p.toml:12:6: promotion `integration -> prod` names unknown environment `prod` (known: dev, integration, live)"
    );
}

#[test]
fn substitute_from_is_read_in_order_with_env_replaced() {
    let good = GOOD.replace(
        "group = \"infra\"",
        "group = \"infra\"\nsubstitute-from = [\"k/platform/versions.env\", \"k/clusters/{env}/versions.env\"]",
    );
    let c = Config::load("p.toml", good.as_bytes()).expect("load");
    assert_eq!(
        c.sources[0].substitute_paths("live"),
        ["k/platform/versions.env", "k/clusters/live/versions.env"]
    );
    // Without the key: no files, nothing resolved.
    let c = Config::load("p.toml", GOOD.as_bytes()).expect("load");
    assert!(c.sources[0].substitute_paths("live").is_empty());
}

#[test]
fn substitute_from_errors_point_at_the_entry() {
    let with = |value: &str| {
        let text = GOOD.replace(
            "group = \"infra\"",
            &format!("group = \"infra\"\nsubstitute-from = {value}"),
        );
        Config::load("p.toml", text.as_bytes())
            .expect_err("refused")
            .to_string()
    };
    assert_eq!(
        with(r#"["ok/{env}.env", "../x.env"]"#),
        "p.toml:9:36: substitute-from path `../x.env` leaves the repository (`..`)"
    );
    assert_eq!(
        with(r#"["/etc/versions.env"]"#),
        "p.toml:9:20: substitute-from path `/etc/versions.env` is absolute; paths are relative to the repository root"
    );
    assert_eq!(
        with(r#"["apps/{app}/versions.env"]"#),
        "p.toml:9:20: substitute-from path `apps/{app}/versions.env`: `{env}` is the only placeholder it may hold"
    );
    let e = with(r#""versions.env""#);
    assert!(
        e.starts_with("p.toml:9:19: invalid type: string \"versions.env\", expected a sequence"),
        "{e}"
    );
    let text = GOOD.replace(
        "group = \"infra\"",
        "group = \"infra\"\nsubstitute_from = [\"a.env\"]",
    );
    let e = Config::load("p.toml", text.as_bytes()).expect_err("snake case");
    assert!(
        e.to_string()
            .starts_with("p.toml:9:1: unknown field `substitute_from`"),
        "{e}"
    );
}
const TWO_FROM_DEV: &str = r#"
environments = ["dev", "integration", "live"]

[[source]]
path = "clusters/{env}/versions.env"
kind = "dotenv"
include = ["*_version"]
exclude = ["debug_*"]
[source.status-names]
paperless_ngx_version = "paperless"

[[promotion]]
from = "dev"
to = "integration"

[[promotion]]
from = "dev"
to = "live"
components = ["paperless", "infra/*"]

[[promotion]]
from = "integration"
to = "live"
"#;

#[test]
fn two_promotions_may_leave_one_environment_and_a_pair_is_listed_once() {
    let c = Config::load("p.toml", TWO_FROM_DEV.as_bytes()).expect("load");
    assert_eq!(c.sources[0].include, ["*_version"]);
    assert_eq!(
        c.sources[0].status_names_of("paperless_ngx_version"),
        ["paperless"]
    );
    let p = c
        .pick_promotion(Some("dev"), Some("live"))
        .expect("dev -> live");
    assert_eq!(p.components, ["paperless", "infra/*"]);
    assert_eq!(
        c.pick_promotion(None, Some("integration"))
            .expect("one")
            .from,
        "dev"
    );
    assert_eq!(
        c.pick_promotion(None, None).expect("first").to,
        "integration"
    );
    let e = c.pick_promotion(Some("dev"), None).expect_err("ambiguous");
    assert_eq!(
        e.to_string(),
        "p.toml: dev -> * names 2 promotions: dev -> integration, dev -> live\nhint: name both `from` and `to`"
    );
    let e = c.pick_promotion(None, Some("live")).expect_err("ambiguous");
    assert!(e.to_string().contains("names 2 promotions"), "{e}");

    let twice = TWO_FROM_DEV.replace("from = \"integration\"", "from = \"dev\"");
    let e = Config::load("p.toml", twice.as_bytes()).expect_err("twice");
    assert!(
        e.to_string()
            .starts_with("p.toml:21:1: promotion `dev -> live` is listed twice"),
        "{e}"
    );
}

#[test]
fn bad_globs_and_empty_status_names_are_config_errors() {
    let cases = [
        (
            "include = [\"*_version\"]",
            "include = [\"a[\"]",
            "p.toml:7:11: `include` glob `a[` is not valid",
        ),
        (
            "exclude = [\"debug_*\"]",
            "exclude = [\"{x\"]",
            "p.toml:8:11: `exclude` glob `{x` is not valid",
        ),
        (
            "paperless_ngx_version = \"paperless\"",
            "paperless_ngx_version = \" \"",
            "p.toml:9:1: `status-names` gives `paperless_ngx_version` an empty name",
        ),
        (
            "components = [\"paperless\", \"infra/*\"]",
            "components = [\"[\"]",
            "p.toml:19:14: `components` glob `[` is not valid",
        ),
    ];
    for (good, bad, want) in cases {
        assert!(TWO_FROM_DEV.contains(good), "{good}");
        let e = Config::load("p.toml", TWO_FROM_DEV.replace(good, bad).as_bytes()).expect_err(bad);
        assert!(e.to_string().starts_with(want), "{bad}: {e}");
    }
}

#[test]
fn a_placeholder_path_names_its_group_and_is_checked_where_it_is_written() {
    let glob = GOOD
        .replace(
            "infrastructure/stacks/{env}/terragrunt.stack.hcl",
            "kubernetes/clusters/{env}/apps/{app}/helmrelease.yaml",
        )
        .replace(
            "kind = \"hcl-map\"\nat = \"locals.versions\"",
            "kind = \"flux\"",
        );
    let ok = glob.replace("group = \"infra\"", "group = \"apps-{app}\"");
    let c = Config::load("p.toml", ok.as_bytes()).expect("load");
    let src = &c.sources[0];
    let pattern = src.pattern_for("live").expect("pattern");
    assert_eq!(pattern.folder(), "kubernetes/clusters/live/apps");
    let caps = pattern
        .matches("kubernetes/clusters/live/apps/podinfo/helmrelease.yaml")
        .expect("match");
    assert_eq!(src.id_in(&caps, "podinfo"), "apps-podinfo/podinfo");
    assert!(c.knows_group("apps-podinfo"));
    assert!(!c.knows_group("infra"));
    // The group's placeholder must be one of the path's: the error points at `group`'s value.
    let bad = glob.replace("group = \"infra\"", "group = \"{team}\"");
    let e = Config::load("p.toml", bad.as_bytes()).expect_err("unknown placeholder");
    assert_eq!(
        e.to_string(),
        "p.toml:7:9: group `{team}` uses `{team}`, which the source path `kubernetes/clusters/{env}/apps/{app}/helmrelease.yaml` does not have\nhint: placeholders of the path: `{app}`"
    );
    let bad = GOOD.replace("group = \"infra\"", "group = \"{app}\"");
    let e = Config::load("p.toml", bad.as_bytes()).expect_err("no placeholder in path");
    assert!(
        e.to_string()
            .starts_with("p.toml:8:9: group `{app}` uses `{app}`"),
        "{e}"
    );
    assert!(
        e.to_string().ends_with("placeholders of the path: none"),
        "{e}"
    );
    let bad = glob.replace("group = \"infra\"", "group = \"{env}-{app}\"");
    let e = Config::load("p.toml", bad.as_bytes()).expect_err("env in group");
    assert!(
        e.to_string()
            .starts_with("p.toml:7:9: group `{env}-{app}` uses `{env}`"),
        "{e}"
    );
    // Patterns that cannot be read, and paths that leave the repository, point at `path`.
    let bad = glob.replace("apps/{app}/", "apps/*/");
    let e = Config::load("p.toml", bad.as_bytes()).expect_err("star");
    assert!(e.to_string().starts_with("p.toml:5:8: source path `kubernetes/clusters/{env}/apps/*/helmrelease.yaml` has `*` in `*`"), "{e}");
    for (path, why) in [
        ("../{env}/apps/{app}/hr.yaml", "leaves the repository"),
        ("{env}/**/../hr.yaml", "leaves the repository"),
        ("/{env}/apps/{app}/hr.yaml", "is absolute"),
    ] {
        let bad = glob.replace(
            "kubernetes/clusters/{env}/apps/{app}/helmrelease.yaml",
            path,
        );
        let e = Config::load("p.toml", bad.as_bytes()).expect_err(path);
        assert!(e.to_string().starts_with("p.toml:5:8: source path"), "{e}");
        assert!(e.to_string().contains(why), "{path}: {e}");
    }
}
