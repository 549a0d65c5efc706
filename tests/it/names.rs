//! Issue 12: status names for plain pins, source filters and verbatim dotenv values,
//! promotions per component set (every matching one, once), and `check` = `plan`'s validation.
//! Each refusal sits next to a positive control.

use std::path::Path;

use serde_json::{Value, json};

use crate::action_e2e::{output, run_action};
use crate::fake_github::FakeGitHub;
use crate::support::run_in;

fn status(sha: &str, context: &str) -> Value {
    json!({
        "id": 1, "sha": sha, "name": "acme/homelab", "target_url": null, "context": context,
        "description": "Reconciliation finished", "state": "success", "commit": {"sha": sha},
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

/// A repository on the fake GitHub holding `config` and `files`, and a workspace with the config.
fn repo(config: &str, files: &[(&str, &str)]) -> (FakeGitHub, tempfile::TempDir, String) {
    let gh = FakeGitHub::start("acme/homelab");
    let mut all = vec![(".github/promote.toml", config)];
    all.extend_from_slice(files);
    let base = gh.commit_files("main", "initial", &all);
    let ws = tempfile::tempdir().expect("ws");
    std::fs::create_dir_all(ws.path().join(".github")).expect("mkdir");
    std::fs::write(ws.path().join(".github/promote.toml"), config).expect("config");
    (gh, ws, base)
}

fn run(gh: &FakeGitHub, ws: &Path, event: &str, payload: Value) -> crate::action_e2e::Run {
    let run = run_action(gh, ws, event, payload, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    run
}

/// Commits on `main` since `since` (exclusive), newest first.
fn commits_since(gh: &FakeGitHub, since: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = gh.head("main");
    while let Some(sha) = at.filter(|s| s != since) {
        let c = gh.commit(&sha).expect("commit");
        out.push(c.message.lines().next().unwrap_or_default().to_string());
        at = c.parent;
    }
    out
}

const NAMED: &str = r#"
environments = ["integration", "live"]
[[source]]
path = "clusters/{env}/versions.env"
kind = "dotenv"
group = "apps"
[source.status-names]
immich_version = "photos"
[[promotion]]
from = "integration"
to = "live"
[promotion.gate]
status-context = '^kustomization/(?P<component>[^/]+)/'
creators = ["flux-bot"]
"#;

/// Item 3: Flux names its Kustomizations `paperless-ngx` and `photos`; the pins are
/// `PAPERLESS_NGX_VERSION` (the dotenv default name) and `immich_version` (`status-names`).
#[test]
fn status_names_let_flux_statuses_release_plain_pins() {
    let (gh, ws, _) = repo(
        NAMED,
        &[
            (
                "clusters/integration/versions.env",
                "PAPERLESS_NGX_VERSION=2.14.7\nimmich_version=v1.120.0\n",
            ),
            (
                "clusters/live/versions.env",
                "PAPERLESS_NGX_VERSION=2.14.6\nimmich_version=v1.119.0\n",
            ),
        ],
    );
    let c1 = gh.commit_files(
        "main",
        "docs",
        &[("README.md", "# statuses are read at this commit\n")],
    );
    gh.add_status(&c1, "kustomization/paperless-ngx/1", "success", "flux-bot");
    // `immich` would be the default name; `status-names` replaced it with `photos`.
    gh.add_status(&c1, "kustomization/immich/1", "success", "flux-bot");
    let r = run(
        &gh,
        ws.path(),
        "status",
        status(&c1, "kustomization/paperless-ngx/1"),
    );
    assert_eq!(
        gh.file("main", "clusters/live/versions.env").as_deref(),
        Some("PAPERLESS_NGX_VERSION=2.14.7\nimmich_version=v1.119.0\n"),
        "{}",
        r.stderr
    );
    let held = output(&r, "held");
    assert!(
        held.contains("apps/immich_version") && held.contains("no status matching"),
        "{held}"
    );
    // Positive control: the status under its configured name releases it.
    gh.add_status(&c1, "kustomization/photos/1", "success", "flux-bot");
    let r = run(
        &gh,
        ws.path(),
        "status",
        status(&c1, "kustomization/photos/1"),
    );
    assert_eq!(output(&r, "changed"), "true");
    assert_eq!(
        gh.file("main", "clusters/live/versions.env").as_deref(),
        Some("PAPERLESS_NGX_VERSION=2.14.7\nimmich_version=v1.120.0\n")
    );
}

/// A local repository folder (no git) with `config` and `files`.
fn local(config: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    let mut all = vec![(".github/promote.toml", config)];
    all.extend_from_slice(files);
    for (path, text) in all {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    dir
}

const SETTINGS: &str = r#"
environments = ["dev", "live"]
[[source]]
path = "clusters/{env}/cluster.env"
kind = "dotenv"
"#;

/// Item 4: a value that is not a version (`["end0"]`) is read as it is; it is an error only
/// when a plan would write it (with its position), and `exclude` takes it out altogether.
#[test]
fn non_version_values_are_read_and_refused_only_when_written_and_filters_drop_them() {
    let dir = local(
        SETTINGS,
        &[
            (
                "clusters/dev/cluster.env",
                "cluster_l2_interfaces=[\"end0\"]\ncilium_version=1.18.7\n",
            ),
            (
                "clusters/live/cluster.env",
                "cluster_l2_interfaces=[\"end1\"]\ncilium_version=1.18.6\n",
            ),
        ],
    );
    let (code, out, err) = run_in(dir.path(), &["versions"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("cluster_l2_interfaces  [\"end0\"]  [\"end1\"]  *drift*"),
        "{out}"
    );
    // Unordered values are held, not errors: the plan still promotes cilium.
    let (code, out, err) = run_in(dir.path(), &["plan"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("cannot order `[\"end0\"]`"), "{out}");
    assert!(out.contains("1.18.6 -> 1.18.7"), "{out}");
    // Asked to write it: refused where it stands in `dev`, nothing written.
    let (code, _, err) = run_in(dir.path(), &["apply", "--force"]);
    assert_eq!(code, 1);
    assert!(
        err.contains(
            "clusters/dev/cluster.env:1:23: `cluster_l2_interfaces` cannot be promoted from `dev` to `live`: `[\\\"end0\\\"]` is not a dotenv version"
        ),
        "{err}"
    );
    let (code, _, err) = run_in(
        dir.path(),
        &[
            "set",
            "clusters/live/cluster.env",
            "cluster_l2_interfaces",
            "[end2]",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("bad VERSION argument for `cluster_l2_interfaces` in clusters/live/cluster.env: `[end2]` is not a dotenv version"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("clusters/live/cluster.env")).expect("live"),
        "cluster_l2_interfaces=[\"end1\"]\ncilium_version=1.18.6\n"
    );
    // Positive control: excluded, it is not listed, not planned, not held; the rest applies.
    let excluding = format!("{SETTINGS}exclude = [\"cluster_*\"]\n");
    std::fs::write(dir.path().join(".github/promote.toml"), &excluding).expect("config");
    let (code, out, _) = run_in(dir.path(), &["versions"]);
    assert_eq!(code, 0);
    assert!(!out.contains("cluster_l2"), "{out}");
    let (code, out, err) = run_in(dir.path(), &["apply", "--force", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let plan: Value = serde_json::from_str(&out).expect("json");
    let ids: Vec<&str> = plan["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["cilium_version"]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("clusters/live/cluster.env")).expect("live"),
        "cluster_l2_interfaces=[\"end1\"]\ncilium_version=1.18.7\n"
    );
    // `include` is the same filter the other way round.
    let including = format!("{SETTINGS}include = [\"*_version\"]\n");
    std::fs::write(dir.path().join(".github/promote.toml"), including).expect("config");
    let (_, out, _) = run_in(dir.path(), &["versions"]);
    assert!(
        !out.contains("cluster_l2") && out.contains("cilium_version"),
        "{out}"
    );
}

/// `dev -> integration -> live` for everything, and `dev -> live` for `paperless` only.
const BESIDE: &str = r#"
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
from = "dev"
to = "live"
components = ["paperless"]
[promotion.gate]
status-context = '^kustomization/(?P<component>[^/]+)/{env}$'
[[promotion]]
from = "integration"
to = "live"
components = ["apps/web"]
[promotion.gate]
status-context = '^kustomization/(?P<component>[^/]+)/{env}$'
"#;

const DEV: &str = "clusters/dev/versions.env";
const INTEGRATION: &str = "clusters/integration/versions.env";
const LIVE: &str = "clusters/live/versions.env";

fn beside() -> (FakeGitHub, tempfile::TempDir, String) {
    repo(
        BESIDE,
        &[
            (DEV, "paperless=1.0.0\nweb=1.0.0\n"),
            (INTEGRATION, "paperless=1.0.0\nweb=1.0.0\n"),
            (LIVE, "paperless=1.0.0\nweb=1.0.0\n"),
        ],
    )
}

/// Item 5: a status from `dev` runs both promotions leaving `dev`, each once; `dev -> live`
/// carries only `paperless` (`web` is not part of it: not planned, not held).
#[test]
fn a_status_runs_every_promotion_leaving_its_environment_once() {
    let (gh, ws, _) = beside();
    let c1 = gh.commit_files("main", "bump", &[(DEV, "paperless=2.0.0\nweb=1.1.0\n")]);
    gh.add_status(&c1, "kustomization/paperless/dev", "success", "flux-bot");
    gh.add_status(&c1, "kustomization/web/dev", "success", "flux-bot");
    let r = run(
        &gh,
        ws.path(),
        "status",
        status(&c1, "kustomization/web/dev"),
    );
    assert_eq!(
        gh.file("main", INTEGRATION).as_deref(),
        Some("paperless=2.0.0\nweb=1.1.0\n")
    );
    assert_eq!(
        gh.file("main", LIVE).as_deref(),
        Some("paperless=2.0.0\nweb=1.0.0\n"),
        "{}",
        r.stderr
    );
    assert_eq!(output(&r, "held"), "[]");
    let promoted: Value = serde_json::from_str(&output(&r, "promoted")).expect("json");
    assert_eq!(
        promoted,
        json!([
            {"component": "apps/paperless", "from": "1.0.0", "to": "2.0.0"},
            {"component": "apps/web", "from": "1.0.0", "to": "1.1.0"},
            {"component": "apps/paperless", "from": "1.0.0", "to": "2.0.0"}
        ])
    );
    assert_eq!(
        commits_since(&gh, &c1),
        [
            "chore(promote): dev -> live",
            "chore(promote): dev -> integration"
        ]
    );
    // The same event again, and the other status of that commit: nothing runs twice.
    let head = gh.head("main").expect("head");
    for context in ["kustomization/web/dev", "kustomization/paperless/dev"] {
        let r = run(&gh, ws.path(), "status", status(&c1, context));
        assert_eq!(output(&r, "changed"), "false", "{}", r.stderr);
    }
    assert_eq!(gh.head("main").as_deref(), Some(head.as_str()));
}

/// Item 5 on a push: every promotion leaving the changed environment that carries a changed
/// component runs, once; one that carries none of them does not run at all.
#[test]
fn a_push_runs_each_promotion_that_carries_what_changed_once() {
    let (gh, ws, base) = beside();
    // Only `web` changes: `dev -> live` (paperless only) has nothing to do and does not run.
    let c1 = gh.commit_files("main", "bump web", &[(DEV, "paperless=1.0.0\nweb=1.1.0\n")]);
    gh.add_status(&c1, "kustomization/web/dev", "success", "flux-bot");
    gh.add_status(&c1, "kustomization/paperless/dev", "success", "flux-bot");
    let r = run(&gh, ws.path(), "push", push(&base, &c1));
    assert!(!r.stderr.contains("dev -> live"), "{}", r.stderr);
    assert_eq!(
        commits_since(&gh, &c1),
        ["chore(promote): dev -> integration"]
    );
    assert_eq!(output(&r, "held"), "[]");
    // Both change: both promotions run, once each.
    let c2 = gh.commit_files(
        "main",
        "bump both",
        &[(DEV, "paperless=2.0.0\nweb=1.2.0\n")],
    );
    gh.add_status(&c2, "kustomization/web/dev", "success", "flux-bot");
    gh.add_status(&c2, "kustomization/paperless/dev", "success", "flux-bot");
    let r = run(&gh, ws.path(), "push", push(&c1, &c2));
    assert_eq!(
        commits_since(&gh, &c2),
        [
            "chore(promote): dev -> live",
            "chore(promote): dev -> integration"
        ],
        "{}",
        r.stderr
    );
    assert_eq!(
        gh.file("main", LIVE).as_deref(),
        Some("paperless=2.0.0\nweb=1.0.0\n")
    );
    assert_eq!(
        gh.file("main", INTEGRATION).as_deref(),
        Some("paperless=2.0.0\nweb=1.2.0\n")
    );
}

/// Item 5: a dispatch names its promotion by both ends; one end alone that fits two is an
/// error listing them; a `components` entry that matches nothing is an error too.
#[test]
fn dispatch_and_plan_pick_one_promotion_and_its_components_must_exist() {
    let dir = local(
        BESIDE,
        &[
            (DEV, "paperless=2.0.0\nweb=1.1.0\n"),
            (INTEGRATION, "paperless=1.0.0\nweb=1.0.0\n"),
            (LIVE, "paperless=1.0.0\nweb=1.0.0\n"),
        ],
    );
    let (code, _, err) = run_in(dir.path(), &["plan", "--from", "dev"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("dev -> * names 2 promotions: dev -> integration, dev -> live"),
        "{err}"
    );
    let (code, out, err) = run_in(dir.path(), &["plan", "--from", "dev", "--to", "live"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("apps/paperless") && !out.contains("apps/web"),
        "{out}"
    );
    let cfg = dir.path().join(".github/promote.toml");
    std::fs::write(&cfg, BESIDE.replace("[\"paperless\"]", "[\"paperles\"]")).expect("cfg");
    let (code, _, err) = run_in(dir.path(), &["plan", "--from", "dev", "--to", "live"]);
    assert_eq!(code, 1);
    assert!(
        err.contains(
            "promotion `dev -> live`: `components` entry `paperles` matches no component of `dev`"
        ),
        "{err}"
    );
}

/// Item 7: `check` reports what `plan` refuses (errors, exit 1) and warns about what cannot
/// work but is no error (exit 0).
#[test]
fn check_reports_what_plan_would_reject() {
    let files = [
        (DEV, "paperless=2.0.0\nweb=1.1.0\n"),
        (INTEGRATION, "paperless=1.0.0\nweb=1.0.0\n"),
        (LIVE, "paperless=1.0.0\nweb=1.0.0\n"),
    ];
    let dir = local(BESIDE, &files);
    let (code, out, err) = run_in(dir.path(), &["check"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "ok: 3 environments, 1 sources, 6 components\n"),
        "{err}"
    );
    assert!(!err.contains("warning"), "{err}");
    let cfg = dir.path().join(".github/promote.toml");
    // A promotion's `components` matching nothing, as `plan` refuses it.
    std::fs::write(&cfg, BESIDE.replace("[\"paperless\"]", "[\"paperles\"]")).expect("cfg");
    let (code, _, err) = run_in(dir.path(), &["check"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("error: promotion `dev -> live`: `components` entry `paperles` matches no component of `dev`"),
        "{err}"
    );
    // One id twice in an environment (two sources without groups).
    let dup = BESIDE.replacen(
        "[[promotion]]",
        "[[source]]\npath = \"clusters/{env}/more.env\"\nkind = \"dotenv\"\ngroup = \"apps\"\n[[promotion]]",
        1,
    );
    std::fs::write(&cfg, &dup).expect("cfg");
    for env in ["dev", "integration", "live"] {
        let more = if env == "live" {
            "web=1.0.0\n"
        } else {
            "other=1\n"
        };
        std::fs::write(dir.path().join(format!("clusters/{env}/more.env")), more).expect("more");
    }
    let (code, _, err) = run_in(dir.path(), &["check"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("error: clusters/live/more.env:1:5: component `apps/web` is also at clusters/live/versions.env:2:5"),
        "{err}"
    );
    // Control: the duplicate gone, check passes.
    std::fs::write(dir.path().join("clusters/live/more.env"), "other=1\n").expect("more");
    let (code, _, err) = run_in(dir.path(), &["check"]);
    assert_eq!(code, 0, "{err}");
    // Warnings: a source listing nothing anywhere (each file named), unknown `status-names`.
    let warned = dup.replacen(
        "group = \"apps\"\n[[promotion]]",
        "group = \"apps\"\ninclude = [\"*_version\"]\n[source.status-names]\nothr = \"o\"\nother = \"x\"\n[[promotion]]",
        1,
    );
    std::fs::write(&cfg, warned).expect("cfg");
    let (code, out, err) = run_in(dir.path(), &["check"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ok: "), "{out}");
    assert!(
        err.contains(
            "warning: .github/promote.toml:7:1: source `clusters/{env}/more.env` lists no component after `include`/`exclude` in any environment: tried `clusters/dev/more.env` (dev), `clusters/integration/more.env` (integration), `clusters/live/more.env` (live)"
        ),
        "{err}"
    );
    assert!(
        err.contains("warning: .github/promote.toml:7:1: `status-names` key `othr` names no component of source `clusters/{env}/more.env`"),
        "{err}"
    );
    // `other` is excluded by `include`, so its name is unknown too; the first source warns of nothing.
    assert_eq!(err.matches("warning:").count(), 3, "{err}");
}

/// A file of `kind` with one component, as the README's configs need them.
fn file_of(kind: &str) -> &'static str {
    match kind {
        "hcl-map" => "locals {\n  versions = {\n    talos = \"v1.12.1\"\n  }\n}\n",
        "flux" => {
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: cilium\nspec:\n  chart:\n    spec:\n      chart: cilium\n      version: 1.18.6\n"
        }
        "dotenv" => "paperless_ngx_version=2.14.7\ncluster_l2_interfaces=[\"end0\"]\n",
        other => panic!("the README uses kind `{other}`: give it a file here"),
    }
}

/// Item 7: every ```toml block of the README that is a whole config passes `promote check`
/// (no error, no warning) with a file per source and environment; the others are marked
/// `# fragment`.
#[test]
fn readme_configs_pass_check() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("readme");
    let mut blocks = Vec::new();
    let mut rest = readme.as_str();
    while let Some(start) = rest.find("```toml\n") {
        let body = &rest[start + 8..];
        let end = body.find("\n```").expect("closed block");
        blocks.push(&body[..end + 1]);
        rest = &body[end..];
    }
    let whole: Vec<&str> = blocks
        .iter()
        .copied()
        .filter(|b| !b.starts_with("# fragment"))
        .collect();
    assert!(blocks.len() > whole.len(), "fragments are marked");
    assert!(whole.len() >= 2, "{blocks:?}");
    for config in whole {
        assert!(
            config.contains("environments ="),
            "unmarked fragment:\n{config}"
        );
        let parsed: toml::Table = toml::from_str(config).expect("toml");
        let envs: Vec<String> = parsed["environments"]
            .as_array()
            .expect("environments")
            .iter()
            .map(|e| match e {
                toml::Value::String(s) => s.clone(),
                t => t["name"].as_str().expect("name").to_string(),
            })
            .collect();
        let mut files = Vec::new();
        for src in parsed["source"].as_array().expect("sources") {
            let kind = src["kind"].as_str().expect("kind");
            for env in &envs {
                let path = src["path"].as_str().expect("path").replace("{env}", env);
                files.push((path, file_of(kind)));
            }
        }
        let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), *t)).collect();
        let dir = local(config, &files);
        let (code, out, err) = run_in(dir.path(), &["check"]);
        assert_eq!(code, 0, "{config}\n{err}");
        assert!(out.starts_with("ok: "), "{out}");
        assert!(!err.contains("warning:"), "{config}\n{err}");
    }
}
