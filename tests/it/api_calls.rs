//! GitHub API calls per delivery: a handful, independent of how many components a repo has
//! and of how many files it reads (one query reads up to `READ_FILES` files).

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
        // One PR per changed component costs its writes (a branch, a commit, the pull request);
        // the others are a fixed handful, one of them the one listing of the open pull requests
        // (for every component, and to close promote's own that are settled).
        let limit = match delivery {
            "commit" => 5,
            "pull-request" => 8,
            _ => 10,
        };
        assert!(small <= limit, "{delivery}: {small} calls");
    }
}

const CONFIG: &str = r#"environments = ["integration", "live"]

[[source]]
path = "clusters/{env}/apps/{app}/release.yaml"
kind = "flux"
group = "apps"

[[promotion]]
from = "integration"
to = "live"
delivery = "DELIVERY"

[promotion.gate]
status-context = '^kustomization/(?P<component>[^/]+)/integration$'
creators = ["flux-bot"]
"#;

fn release(app: usize, version: &str) -> String {
    format!(
        "---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: app-{app}\nspec:\n  chart:\n    spec:\n      chart: app-{app}\n      version: \"{version}\"\n"
    )
}

/// A status-triggered promotion of one app among `apps` (one file per app and environment:
/// `2 * apps` files read), with GraphQL reads of more than `k` files failing with `status`
/// when `read_failure` is `Some((k, status))`: the run and the fake.
fn promote_files(
    delivery: &str,
    apps: usize,
    read_failure: Option<(usize, u16)>,
) -> (crate::action_e2e::Run, FakeGitHub, tempfile::TempDir) {
    let gh = FakeGitHub::start("acme/homelab");
    // app-0 is newer in integration; the others are alike.
    let head = commit_apps(&gh, apps, 1);
    gh.add_status(
        &head,
        "kustomization/app-0/integration",
        "success",
        "flux-bot",
    );
    gh.state().read_failure = read_failure;
    let ws = tempfile::tempdir().expect("ws");
    std::fs::create_dir_all(ws.path().join(".github")).expect("mkdir");
    std::fs::write(
        ws.path().join(".github/promote.toml"),
        CONFIG.replace("DELIVERY", delivery),
    )
    .expect("config");
    gh.clear_requests();
    let payload = serde_json::json!({"sha": head, "state": "success", "context": "kustomization/app-0/integration", "branches": [{"name": "main"}], "sender": {"login": "flux-bot"}});
    let run = run_action(&gh, ws.path(), "status", payload, &[]);
    if std::env::var("SHOW_CALLS").is_ok() {
        eprintln!(
            "{delivery}, {apps} apps:\n{}",
            gh.request_lines().join("\n")
        );
    }
    (run, gh, ws)
}

/// Files per GraphQL read query, in the order sent.
fn read_queries(gh: &FakeGitHub) -> Vec<usize> {
    gh.graphql_requests("on Blob")
        .iter()
        .map(|r| {
            r.body["variables"]
                .as_object()
                .map_or(0, |v| v.keys().filter(|k| k.starts_with('e')).count())
        })
        .collect()
}

/// The promotion landed: app-0's 2.0.0 is in live on `main` (commit) or on the pull request's
/// branch.
fn assert_promoted(gh: &FakeGitHub, delivery: &str, run: &crate::action_e2e::Run) {
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(output(run, "changed"), "true", "{}", run.stderr);
    let branch = match delivery {
        "commit" => "main",
        _ => "promote/integration-to-live",
    };
    let promoted = gh
        .file(branch, "clusters/live/apps/app-0/release.yaml")
        .expect("live app-0");
    assert!(promoted.contains("version: \"2.0.0\""), "{promoted}");
}

/// A status-triggered promotion reading `2 * apps` files: every request it makes, and the files
/// each GraphQL read asked for.
fn calls_for_files(delivery: &str, apps: usize) -> (Vec<String>, Vec<usize>) {
    let (run, gh, _ws) = promote_files(delivery, apps, None);
    assert_promoted(&gh, delivery, &run);
    (gh.request_lines(), read_queries(&gh))
}

/// 2, 200 and 2,000 files read: the same calls, every request counted (the tree listing that
/// finds the files of a placeholder path and the read query included): a commit delivery makes
/// at most 5, a pull request at most 8. The files are read in one GraphQL query at one commit,
/// never one per file.
#[test]
fn calls_do_not_grow_with_the_files_read() {
    use promote::forge::github::READ_FILES;
    for delivery in ["commit", "pull-request"] {
        let mut counts = Vec::new();
        for apps in [1, 100, 1000] {
            let (lines, batches) = calls_for_files(delivery, apps);
            let files = 2 * apps;
            eprintln!(
                "{delivery}: {} calls for {files} files ({} read queries of {batches:?} files)",
                lines.len(),
                batches.len()
            );
            assert_eq!(batches, [files], "{delivery}: {lines:#?}");
            assert!(files <= READ_FILES);
            assert!(
                !lines.iter().any(|l| l.contains("/contents/")),
                "no file is read alone: {lines:#?}"
            );
            let trees = lines.iter().filter(|l| l.contains("/git/trees/")).count();
            assert_eq!(trees, 1, "one listing of the commit: {lines:#?}");
            let limit = if delivery == "commit" { 5 } else { 8 };
            assert!(
                lines.len() <= limit,
                "{delivery}: {} calls: {lines:#?}",
                lines.len()
            );
            counts.push(lines.len());
        }
        assert!(
            counts.windows(2).all(|w| w[0] == w[1]),
            "{delivery}: calls grew with the files read: {counts:?}"
        );
    }
}

/// GitHub ends a read query of more than 300 files (a 502 from its proxy, as after its ten
/// seconds): the 2,000 files are read in halves, then quarters, then eighths, and the promotion
/// lands. Positive control for the next test.
#[test]
fn a_read_query_too_big_for_github_is_split_and_the_promotion_lands() {
    for delivery in ["commit", "pull-request"] {
        let (run, gh, _ws) = promote_files(delivery, 1000, Some((300, 502)));
        assert_promoted(&gh, delivery, &run);
        let mut expected = vec![2_000, 1_000, 500];
        expected.extend([250; 8]);
        assert_eq!(read_queries(&gh), expected, "{delivery}");
        assert!(
            run.stderr
                .contains("reading them in two queries of 1000 and 1000 files"),
            "{}",
            run.stderr
        );
    }
}

/// Every read query fails: the halvings stop at a few files, the run fails (exit 1) with its
/// outputs and writes nothing.
#[test]
fn a_read_github_always_refuses_fails_the_run_cleanly() {
    let (run, gh, _ws) = promote_files("commit", 100, Some((0, 502)));
    assert_eq!(run.code, 1, "{}", run.stderr);
    let error = output(&run, "error");
    assert!(error.contains("502"), "{error}");
    assert_eq!(output(&run, "changed"), "false");
    assert_eq!(output(&run, "commit-sha"), "");
    // 200, 100, 50, 25 files, then 12 (too few to split) tried three times.
    assert_eq!(read_queries(&gh), [200, 100, 50, 25, 12, 12, 12]);
    let live = gh
        .file("main", "clusters/live/apps/app-0/release.yaml")
        .expect("live app-0");
    assert!(live.contains("version: \"1.0.0\""), "{live}");
    assert!(
        !gh.request_lines()
            .iter()
            .any(|l| !l.starts_with("GET") && !l.ends_with("/graphql")),
        "{:#?}",
        gh.request_lines()
    );
    assert_eq!(gh.graphql_requests("createCommitOnBranch").len(), 0);
}

/// GitLab API calls of seed 004's push to `dev` (one merge request per changed app), with
/// `extra` more apps that did not change.
fn gitlab_calls(extra: usize) -> Vec<String> {
    use crate::fake_gitlab::FakeGitLab;
    use crate::gitlab_e2e::{ci_push, seed, workspace};
    let gl = FakeGitLab::start("p2c/k8s-deployments");
    let k = "apps/example-app/kustomization.yaml";
    let b = "apps/billing/kustomization.yaml";
    let pad: Vec<(String, String)> = (0..extra)
        .map(|i| {
            (
                format!("apps/pad-{i}/kustomization.yaml"),
                format!("images:\n  - name: registry.local/p2c/pad-{i}\n    newTag: \"1.{i}.0\"\n"),
            )
        })
        .collect();
    let pad: Vec<(&str, &str)> = pad.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    for branch in ["prod", "stage"] {
        seed(&gl, branch, &[(k, "1.4.0", "1.3.0"), (b, "2.0.3", "2.0.2")]);
        gl.commit_files(branch, "pad", &pad);
    }
    seed(&gl, "dev", &[]);
    let before = gl.commit_files("dev", "pad", &pad);
    let after = gl.commit_files(
        "dev",
        "merge",
        &[
            (k, &gl.file("dev", k).expect("k").replace("1.4.0", "1.5.0")),
            (b, &gl.file("dev", b).expect("b").replace("2.0.3", "2.1.0")),
        ],
    );
    let ws = workspace(None);
    gl.clear_requests();
    let run = ci_push(&gl, ws.path(), "dev", &before, &after, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(gl.open_mrs().len(), 2);
    gl.request_lines()
}

#[test]
fn a_gitlab_push_costs_a_fixed_handful_plus_one_read_per_app_file() {
    let (small, big) = (gitlab_calls(0), gitlab_calls(10));
    if std::env::var("SHOW_CALLS").is_ok() {
        eprintln!("{}", small.join("\n"));
    }
    eprintln!(
        "gitlab: {} calls for 2 apps, {} for 12",
        small.len(),
        big.len()
    );
    let reads = |calls: &[String]| calls.iter().filter(|l| l.contains("/raw?")).count();
    // Everything but file reads is the same whatever the number of apps.
    assert_eq!(small.len() - reads(&small), big.len() - reads(&big));
    // Each unchanged app's file is read once per commit: dev before and after the push (the
    // promoted commit), and stage's head.
    assert_eq!(reads(&big) - reads(&small), 3 * 10);
    let writes = small
        .iter()
        .filter(|l| !l.starts_with("GET") && !l.starts_with("HEAD"))
        .count();
    assert_eq!(
        writes, 4,
        "a commit and a merge request per app: {small:#?}"
    );
    assert!(small.len() <= 22, "{}: {small:#?}", small.len());
}

/// One commit on `main` of `apps` apps, each a release file in integration and in live, the
/// first `changed` of them newer (2.0.0) in integration: its sha.
fn commit_apps(gh: &FakeGitHub, apps: usize, changed: usize) -> String {
    let mut files = Vec::new();
    for app in 0..apps {
        let newer = if app < changed { "2.0.0" } else { "1.0.0" };
        files.push((
            format!("clusters/integration/apps/app-{app}/release.yaml"),
            release(app, newer),
        ));
        files.push((
            format!("clusters/live/apps/app-{app}/release.yaml"),
            release(app, "1.0.0"),
        ));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    gh.commit_files("main", "apps", &refs)
}

/// A status-triggered `pull-request-per-component` promotion of `changed` apps (newer in
/// integration, each released by its status) among `changed + 3`, after `before` prepared the
/// fake: the run and the fake.
fn per_component(
    changed: usize,
    before: impl FnOnce(&FakeGitHub),
) -> (crate::action_e2e::Run, FakeGitHub, tempfile::TempDir) {
    let gh = FakeGitHub::start("acme/homelab");
    let head = commit_apps(&gh, changed + 3, changed);
    for app in 0..changed {
        let context = format!("kustomization/app-{app}/integration");
        gh.add_status(&head, &context, "success", "flux-bot");
    }
    before(&gh);
    let ws = tempfile::tempdir().expect("ws");
    std::fs::create_dir_all(ws.path().join(".github")).expect("mkdir");
    std::fs::write(
        ws.path().join(".github/promote.toml"),
        CONFIG.replace("DELIVERY", "pull-request-per-component"),
    )
    .expect("config");
    gh.clear_requests();
    let payload = serde_json::json!({"sha": head, "state": "success", "context": "kustomization/app-0/integration", "branches": [{"name": "main"}], "sender": {"login": "flux-bot"}});
    let run = run_action(&gh, ws.path(), "status", payload, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    if std::env::var("SHOW_CALLS").is_ok() {
        eprintln!(
            "per component, {changed} changed:\n{}",
            gh.request_lines().join("\n")
        );
    }
    (run, gh, ws)
}

/// What one changed component's own pull request writes: its branch (`git/refs`), its commit
/// (`createCommitOnBranch`), the pull request (`POST` or `PATCH` of `pulls`).
fn component_writes(gh: &FakeGitHub) -> usize {
    let rest = gh
        .request_lines()
        .iter()
        .filter(|l| {
            (l.starts_with("POST ") || l.starts_with("PATCH "))
                && (l.contains("/git/refs") || l.contains("/pulls"))
        })
        .count();
    rest + gh.graphql_requests("createCommitOnBranch").len()
}

/// Listings of the open pull requests (`GET .../pulls?...`), every page counted.
fn pull_listings(gh: &FakeGitHub) -> Vec<String> {
    gh.request_lines()
        .into_iter()
        .filter(|l| l.starts_with("GET ") && l.contains("/pulls?"))
        .collect()
}

/// 2 and 6 changed components, each getting its pull request: the calls differ by exactly the
/// 4 more components' writes (3 each); the lookup of their open pull requests is one listing
/// either way, not one per component.
#[test]
fn per_component_calls_grow_only_by_each_components_writes() {
    let (_, small_gh, _ws) = per_component(2, |_| {});
    let (_, big_gh, _ws2) = per_component(6, |_| {});
    let (small, big) = (small_gh.requests().len(), big_gh.requests().len());
    let (small_writes, big_writes) = (component_writes(&small_gh), component_writes(&big_gh));
    eprintln!(
        "pull-request-per-component: {small} calls for 2 changed components ({small_writes} writes), \
         {big} for 6 ({big_writes} writes)"
    );
    assert_eq!((small_writes, big_writes), (2 * 3, 6 * 3));
    assert_eq!(
        big - small,
        big_writes - small_writes,
        "{:#?}",
        big_gh.request_lines()
    );
    for gh in [&small_gh, &big_gh] {
        assert_eq!(
            pull_listings(gh),
            ["GET /repos/acme/homelab/pulls?base=main&state=open&per_page=100"],
            "one listing of the open pull requests"
        );
        assert!(
            !gh.request_lines().iter().any(|l| l.contains("head=")),
            "no lookup by head: {:#?}",
            gh.request_lines()
        );
    }
    assert_eq!(big_gh.pulls().len(), 6);
}

const OURS: &str = "promote/live/apps-app-0";
const THEIRS: &str = "promote/live/apps-app-1";

/// Our own earlier pull request of app-0, stale (its branch at `main`, an old title).
fn stale_own_pull(gh: &FakeGitHub) -> u64 {
    let main = gh.head("main").expect("main");
    gh.state().refs.insert(format!("heads/{OURS}"), main);
    gh.open_pull(OURS, "main", "an old title", None)
}

fn title(app: usize) -> String {
    format!("chore(promote): apps/app-{app} 2.0.0 to live")
}

/// A fork's open pull request from a branch named like promote's for app-1 is not ours: app-1
/// gets its own pull request, the fork's is neither updated nor closed. Positive control: our
/// own open pull request of app-0 is found and updated, not opened again.
#[test]
fn a_forks_pull_request_of_the_same_branch_name_is_not_taken_as_ours() {
    let mut numbers = (0, 0);
    let (run, gh, _ws) = per_component(2, |gh| {
        numbers.0 = stale_own_pull(gh);
        numbers.1 = gh.open_pull(THEIRS, "main", "a fork's", Some("mallory/homelab"));
    });
    let (ours, fork) = numbers;
    let pulls = gh.pulls();
    let by = |n: u64| pulls.iter().find(|p| p.number == n).expect("pull").clone();
    // Positive control: ours was found and updated in place.
    assert_eq!(by(ours).title, title(0));
    assert_eq!(by(ours).state, "open");
    let lines = gh.request_lines();
    assert!(
        lines.contains(&format!("PATCH /repos/acme/homelab/pulls/{ours}")),
        "{lines:#?}"
    );
    // The fork's is untouched, and app-1 got a pull request of its own.
    assert_eq!(
        (by(fork).title.as_str(), by(fork).state.as_str()),
        ("a fork's", "open")
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.contains(&format!("/pulls/{fork}"))
                || l.contains(&format!("/issues/{fork}/"))),
        "{lines:#?}"
    );
    let app1: Vec<_> = pulls
        .iter()
        .filter(|p| p.head == THEIRS && p.head_repo == "acme/homelab")
        .collect();
    assert_eq!(app1.len(), 1, "{pulls:#?}");
    assert_eq!(app1[0].title, title(1));
    assert_ne!(app1[0].number, fork);
    assert_eq!(pulls.len(), 3, "no second pull request of app-0");
    let numbers: Vec<u64> =
        serde_json::from_str::<serde_json::Value>(&output(&run, "pull-requests"))
            .expect("json")
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|p| p["number"].as_u64())
            .collect();
    assert!(
        numbers.contains(&ours) && !numbers.contains(&fork),
        "{numbers:?}"
    );
}

/// More open pull requests into `main` than a page holds (100, GitHub lists the newest
/// first): our own pull request of app-0, the oldest, is on page 2 and still found and updated;
/// forks' pull requests of the same branch name on page 1 are left alone.
#[test]
fn our_pull_request_on_the_second_page_is_found() {
    let mut ours = 0;
    let (_, gh, _ws) = per_component(1, |gh| {
        ours = stale_own_pull(gh);
        for i in 0..110 {
            let fork = (i % 10 == 0).then_some("mallory/homelab");
            let head = if fork.is_some() {
                OURS.to_owned()
            } else {
                format!("feature/{i}")
            };
            gh.open_pull(&head, "main", "someone else's", fork);
        }
    });
    assert_eq!(
        pull_listings(&gh),
        [
            "GET /repos/acme/homelab/pulls?base=main&state=open&per_page=100",
            "GET /repos/acme/homelab/pulls?base=main&state=open&per_page=100&page=2",
        ]
    );
    let pulls = gh.pulls();
    let mine: Vec<_> = pulls
        .iter()
        .filter(|p| p.head == OURS && p.head_repo == "acme/homelab")
        .collect();
    assert_eq!(mine.len(), 1, "found, not opened again");
    assert_eq!((mine[0].number, mine[0].title.clone()), (ours, title(0)));
    assert!(
        pulls
            .iter()
            .filter(|p| p.head_repo != "acme/homelab")
            .all(|p| p.title == "someone else's" && p.state == "open"),
        "forks untouched"
    );
    assert_eq!(pulls.len(), 111);
}
