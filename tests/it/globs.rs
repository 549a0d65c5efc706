//! Source paths with placeholders (`{app}`) and `**`: one file per app and environment
//! (examples/flux-apps), read from the working tree, a git revision and the GitHub API.

use serde_json::Value;

use crate::action_e2e::{output, run_action, seed, workspace_for};
use crate::fake_github::FakeGitHub;
use crate::support::{example_repo, git, run_in};

const LIVE_LOKI: &str = "kubernetes/clusters/live/apps/loki/helmrelease.yaml";
const LIVE_CILIUM: &str = "kubernetes/clusters/live/infrastructure/cilium/helmrelease.yaml";

fn plan_json(dir: &std::path::Path, extra: &[&str]) -> Value {
    let mut args = vec!["plan", "--format", "json"];
    args.extend_from_slice(extra);
    let (code, out, err) = run_in(dir, &args);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).expect("json")
}

/// (id, action, from, to, file) of every item.
fn items(plan: &Value) -> Vec<(String, String, String, String, String)> {
    let text = |v: &Value| v.as_str().unwrap_or("-").to_string();
    plan["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                text(&i["id"]),
                text(&i["action"]),
                text(&i["from_version"]),
                text(&i["to_version"]),
                text(&i["file"]),
            )
        })
        .collect()
}

fn item(
    id: &str,
    action: &str,
    from: &str,
    to: &str,
    file: &str,
) -> (String, String, String, String, String) {
    (
        id.into(),
        action.into(),
        from.into(),
        to.into(),
        file.into(),
    )
}

/// Integration has `grafana`, live does not; `loki` differs. Each component is planned from its
/// own file, the change lands in live's file of that app, and only its version bytes move.
#[test]
fn one_helmrelease_per_app_plans_and_edits_the_targets_file_of_that_app() {
    let repo = example_repo("flux-apps");
    let want = vec![
        item(
            "apps/cert-manager",
            "unchanged",
            "v1.19.1",
            "v1.19.1",
            "kubernetes/clusters/live/apps/cert-manager/helmrelease.yaml",
        ),
        item("apps/grafana", "new", "-", "10.1.2", "-"),
        item("apps/loki", "change", "6.41.0", "6.41.1", LIVE_LOKI),
        item(
            "apps/podinfo",
            "unchanged",
            "6.9.2",
            "6.9.2",
            "kubernetes/clusters/live/apps/podinfo/helmrelease.yaml",
        ),
        // `infrastructure/**/helmrelease.yaml`, a source only integration and live have.
        item("infra/cilium", "change", "1.18.5", "1.18.6", LIVE_CILIUM),
    ];
    let plan = plan_json(repo.path(), &[]);
    assert_eq!(items(&plan), want);
    let edited: Vec<&str> = plan["edits"]
        .as_array()
        .expect("edits")
        .iter()
        .map(|e| e["path"].as_str().expect("path"))
        .collect();
    assert_eq!(edited, [LIVE_LOKI, LIVE_CILIUM]);
    // The same from a git revision (a tree walk instead of a directory walk).
    assert_eq!(items(&plan_json(repo.path(), &["--at", "HEAD"])), want);
    // `--group` takes a group, `--add-missing` cannot invent live's grafana file.
    let only = plan_json(repo.path(), &["--group", "apps", "--add-missing"]);
    let grafana = only["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["id"] == "apps/grafana")
        .expect("grafana");
    assert_eq!(grafana["action"], "new");
    assert_eq!(
        grafana["reason"],
        "missing in target: its source has no file in `live`"
    );
    let (code, _, err) = run_in(repo.path(), &["apply"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        git(repo.path(), &["diff", "--stat", "--", "."])
            .lines()
            .filter(|l| l.contains('|'))
            .count(),
        2
    );
    let diff = git(repo.path(), &["diff", "-U0", "--", LIVE_LOKI]);
    let changed: Vec<&str> = diff
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect();
    assert_eq!(
        changed,
        ["-      version: \"6.41.0\"", "+      version: \"6.41.1\""]
    );
    // Promoted: nothing left to change.
    let again = plan_json(repo.path(), &[]);
    assert!(items(&again).iter().all(|i| i.1 != "change"), "{again}");
}

/// `versions` lists every app of every environment; `check` reads every matched file.
#[test]
fn versions_and_check_read_every_matched_file() {
    let repo = example_repo("flux-apps");
    let (code, out, err) = run_in(repo.path(), &["versions"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "COMPONENT          dev      integration  live\n\
         apps/cert-manager  v1.19.1  v1.19.1      v1.19.1\n\
         apps/grafana       10.1.2   10.1.2       -\n\
         apps/loki          6.41.1   6.41.1       6.41.0   *drift*\n\
         apps/podinfo       6.9.3    6.9.2        6.9.2    *drift*\n\
         infra/cilium       -        1.18.6       1.18.5   *drift*\n"
    );
    let (code, out, err) = run_in(repo.path(), &["check"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "ok: 3 environments, 2 sources, 13 components\n"),
        "{err}"
    );
    // A broken file under the pattern is reported with its own path.
    let bad = repo
        .path()
        .join("kubernetes/clusters/live/apps/podinfo/helmrelease.yaml");
    std::fs::write(&bad, "apiVersion: [unclosed\n").expect("write");
    let (code, _, err) = run_in(repo.path(), &["check"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("error: kubernetes/clusters/live/apps/podinfo/helmrelease.yaml"),
        "{err}"
    );
}

/// An environment without any file the pattern matches has none of its components (no error);
/// a plain `{env}` path that is missing still is one.
#[test]
fn a_pattern_matching_no_file_is_no_error_but_a_missing_plain_path_is() {
    let repo = example_repo("flux-apps");
    std::fs::remove_dir_all(repo.path().join("kubernetes/clusters/live/apps")).expect("rm");
    let plan = plan_json(repo.path(), &[]);
    let actions: Vec<(String, String)> = items(&plan).into_iter().map(|i| (i.0, i.1)).collect();
    assert_eq!(
        actions,
        [
            ("apps/cert-manager".to_string(), "new".to_string()),
            ("apps/grafana".into(), "new".into()),
            ("apps/loki".into(), "new".into()),
            ("apps/podinfo".into(), "new".into()),
            ("infra/cilium".into(), "change".into()),
        ]
    );
    let cfg = repo.path().join(".github/promote.toml");
    let text = std::fs::read_to_string(&cfg).expect("cfg");
    std::fs::write(
        &cfg,
        text.replace(
            "infrastructure/**/helmrelease.yaml",
            "infrastructure/cilium/helmrelease.yaml",
        ),
    )
    .expect("write");
    std::fs::remove_dir_all(repo.path().join("kubernetes/clusters/live/infrastructure"))
        .expect("rm");
    let (code, _, err) = run_in(repo.path(), &["plan"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with(
            "error: kubernetes/clusters/live/infrastructure/cilium/helmrelease.yaml: source file not found in `live`"
        ),
        "{err}"
    );
}

/// Two app folders whose HelmReleases have one name make one id twice in an environment: the
/// error names both files; a group from the path's placeholder tells them apart.
#[test]
fn the_same_id_in_two_files_names_both_and_a_placeholder_group_separates_them() {
    let repo = example_repo("flux-apps");
    let from = repo
        .path()
        .join("kubernetes/clusters/integration/apps/podinfo");
    let to = repo
        .path()
        .join("kubernetes/clusters/integration/apps/podinfo-canary");
    crate::support::copy_dir(&from, &to);
    let message = "error: kubernetes/clusters/integration/apps/podinfo/helmrelease.yaml:24:16: component `apps/podinfo` is also at kubernetes/clusters/integration/apps/podinfo-canary/helmrelease.yaml:24:16";
    let (code, _, err) = run_in(repo.path(), &["plan"]);
    assert_eq!(code, 1);
    assert!(err.starts_with(message), "{err}");
    assert!(
        err.contains("hint: give one of the sources a `group`"),
        "{err}"
    );
    let (code, _, err) = run_in(repo.path(), &["check"]);
    assert_eq!(code, 1);
    assert!(err.contains(&message["error: ".len()..]), "{err}");
    // `group = "{app}"`: `podinfo/podinfo` and `podinfo-canary/podinfo`.
    let cfg = repo.path().join(".github/promote.toml");
    let text = std::fs::read_to_string(&cfg).expect("cfg");
    std::fs::write(&cfg, text.replace("group = \"apps\"", "group = \"{app}\"")).expect("write");
    let plan = plan_json(repo.path(), &[]);
    let ids: Vec<String> = items(&plan).into_iter().map(|i| i.0).collect();
    assert_eq!(
        ids,
        [
            "cert-manager/cert-manager",
            "grafana/grafana",
            "loki/loki",
            // Path order: `podinfo-canary/` sorts before `podinfo/`.
            "podinfo-canary/podinfo",
            "podinfo/podinfo",
            "infra/cilium"
        ]
    );
    // `--group` takes a rendered group.
    let only = plan_json(repo.path(), &["--group", "loki"]);
    assert_eq!(items(&only).len(), 1, "{only}");
}

/// `(path, from, to)` edits that give `n` more apps to every environment of the example.
fn more_apps(n: usize) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for env in ["dev", "integration", "live"] {
        for i in 0..n {
            files.push((
                format!("kubernetes/clusters/{env}/apps/extra-{i}/helmrelease.yaml"),
                format!("---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: extra-{i}\n  namespace: apps\nspec:\n  chart:\n    spec:\n      chart: extra-{i}\n      version: \"1.{i}.0\"\n"),
            ));
        }
    }
    files
}

/// Requests of a status-triggered `promote run` on the example with `extra` more apps.
fn run_requests(extra: usize) -> (Vec<String>, FakeGitHub, String) {
    let gh = FakeGitHub::start("acme/homelab");
    seed(&gh, "main", "flux-apps", &[]);
    let files = more_apps(extra);
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let head = gh.commit_files("main", "more apps", &refs);
    for app in ["loki", "cilium"] {
        gh.add_status(
            &head,
            &format!("kustomization/{app}/integration"),
            "success",
            "flux-bot",
        );
    }
    let ws = workspace_for("flux-apps");
    gh.clear_requests();
    let payload = serde_json::json!({"sha": head, "state": "success", "context": "kustomization/loki/integration", "branches": [{"name": "main"}], "sender": {"login": "flux-bot"}});
    let run = run_action(&gh, ws.path(), "status", payload, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(output(&run, "changed"), "true", "{}", run.stderr);
    (gh.request_lines(), gh, head)
}

/// Through the API, the files a pattern matches come from ONE recursive tree read per commit,
/// however many apps there are; only the matched files are then read.
#[test]
fn a_run_lists_each_commit_with_one_tree_request_whatever_the_number_of_apps() {
    let (small, gh, head) = run_requests(0);
    let (big, big_gh, _) = run_requests(30);
    let trees = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l.contains("/git/trees/"))
            .cloned()
            .collect()
    };
    // Source (the reported commit) and target (main's head) are one commit here.
    assert_eq!(
        trees(&small),
        [format!(
            "GET /repos/acme/homelab/git/trees/{head}?recursive=1"
        )],
        "{small:#?}"
    );
    assert_eq!(trees(&big).len(), 1, "{big:#?}");
    // 5 files of integration and 4 of live match: read in one batched GraphQL query (the
    // commit delivery does not read them again); 30 more apps are 60 more files in it. Only
    // the matched files are read.
    let reads = |gh: &FakeGitHub| -> Vec<usize> {
        gh.graphql_requests("on Blob")
            .iter()
            .map(|r| r.body["variables"].as_object().map_or(0, |v| v.len() - 2))
            .collect()
    };
    assert_eq!(
        (reads(&gh), reads(&big_gh)),
        (vec![9], vec![69]),
        "{small:#?}"
    );
    assert!(
        !small.iter().any(|l| l.contains("/contents/")),
        "{small:#?}"
    );
    let live = gh.file("main", LIVE_LOKI).expect("live loki");
    assert!(live.contains("version: \"6.41.1\""), "{live}");
    let cilium = gh.file("main", LIVE_CILIUM).expect("live cilium");
    assert!(cilium.contains("version: \"1.18.6\""), "{cilium}");
}

/// A recursive tree GitHub cuts (`truncated: true`) is read again folder by folder, and the
/// plan is the same.
#[test]
fn a_truncated_tree_is_read_folder_by_folder() {
    let gh = FakeGitHub::start("acme/homelab");
    let head = seed(&gh, "main", "flux-apps", &[]);
    gh.state().tree_limit = Some(5);
    gh.add_status(
        &head,
        "kustomization/loki/integration",
        "success",
        "flux-bot",
    );
    let ws = workspace_for("flux-apps");
    let payload = serde_json::json!({"sha": head, "state": "success", "context": "kustomization/loki/integration", "branches": [{"name": "main"}], "sender": {"login": "flux-bot"}});
    let run = run_action(&gh, ws.path(), "status", payload, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let trees: Vec<String> = gh
        .request_lines()
        .into_iter()
        .filter(|l| l.contains("/git/trees/"))
        .collect();
    assert_eq!(
        trees.first(),
        Some(&format!(
            "GET /repos/acme/homelab/git/trees/{head}?recursive=1"
        ))
    );
    assert!(
        trees.len() > 2 && trees[1..].iter().all(|l| !l.contains("recursive")),
        "{trees:#?}"
    );
    let live = gh.file("main", LIVE_LOKI).expect("live loki");
    assert!(live.contains("version: \"6.41.1\""), "{live}");
}

/// `plan --event-*` lists the local clone's tree at the reported commit, the project being a
/// folder inside the repository: paths stay relative to the project.
#[test]
fn a_replay_lists_the_commit_of_a_project_in_a_subfolder() {
    let repo = tempfile::tempdir().expect("tmp");
    let project = repo.path().join("gitops");
    crate::support::copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/flux-apps"),
        &project,
    );
    git(repo.path(), &["init", "-q"]);
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-qm", "initial"]);
    let sha = git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string();
    let tmp = tempfile::tempdir().expect("tmp");
    let event = tmp.path().join("event.json");
    let context = "kustomization/loki/integration";
    std::fs::write(
        &event,
        serde_json::json!({"sha": sha, "state": "success", "context": context, "branches": [{"name": "main"}], "sender": {"login": "flux-bot"}}).to_string(),
    )
    .expect("event");
    let statuses = tmp.path().join("statuses.json");
    std::fs::write(
        &statuses,
        serde_json::json!([{"context": context, "state": "success", "creator": {"login": "flux-bot"}, "updated_at": "2026-11-20T10:00:00Z"}]).to_string(),
    )
    .expect("statuses");
    let (code, out, err) = run_in(
        &project,
        &[
            "plan",
            "--event-name",
            "status",
            "--event-path",
            event.to_str().expect("utf8"),
            "--statuses",
            statuses.to_str().expect("utf8"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let loki = out
        .lines()
        .find(|l| l.contains("apps/loki "))
        .unwrap_or_else(|| panic!("{out}{err}"));
    assert!(loki.trim_start().starts_with("change"), "{out}");
    assert!(loki.contains("6.41.0 -> 6.41.1"), "{out}");
    // Only loki's Kustomization reported: cilium is held, grafana is new.
    let cilium = out
        .lines()
        .find(|l| l.contains("infra/cilium "))
        .expect("cilium");
    assert!(cilium.trim_start().starts_with("held"), "{out}");
}
