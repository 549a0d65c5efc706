//! `substitute-from`: HelmRelease `${var}` values resolved from Flux `substituteFrom` env files,
//! and promotions that edit the target's pin lines, on `tests/fixtures/substitute`:
//! integration and live each have a `versions.env`, both read a shared `platform/versions.env`.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use promote::source::Rule;
use promote::source::substitute::{Vars, reference, resolve, set_pins};
use proptest::prelude::*;
use serde_json::json;

use crate::support::{copy_dir, git, run_in, snapshot_tree};

const LIVE_ENV: &str = "kubernetes/clusters/live/versions.env";

/// A snapshot with commit shas redacted (the repository is committed afresh per test).
macro_rules! snap {
    ($($t:tt)*) => {
        insta::with_settings!(
            {filters => vec![(r"\b[0-9a-f]{40}\b", "[sha]"), (r"\b[0-9a-f]{7}\b", "[short-sha]")]},
            { insta::assert_snapshot!($($t)*) }
        )
    };
}

/// The fixture as a fresh git repository; `edit` may change files before the commit.
fn repo(edit: impl FnOnce(&Path)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&crate::support::fixture("substitute"), dir.path());
    edit(dir.path());
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-qm", "initial"]);
    dir
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (code, out, err) = run_in(dir, args);
    assert_eq!(code, 0, "{args:?}: {err}");
    out
}

fn line<'o>(out: &'o str, id: &str) -> &'o str {
    out.lines()
        .find(|l| l.contains(&format!("{id} ")))
        .unwrap_or_else(|| panic!("no `{id}` in {out}"))
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap()
}

#[test]
fn the_plan_shows_resolved_versions_and_holds_shared_pins_and_defaults() {
    let repo = repo(|_| {});
    let out = ok(repo.path(), &["plan"]);
    snap!(out);
    // Resolved on both sides: a change edits the target's own pin line (positive control for
    // both holds below).
    assert!(line(&out, "helm/paperless").contains(
        "2.13.5 -> 2.14.0  via paperless_ngx_version (kubernetes/clusters/live/versions.env:5)"
    ));
    // live's own file overrides the shared one (later file wins): editable.
    assert!(
        line(&out, "helm/cert-manager")
            .trim_start()
            .starts_with("change")
    );
    // live reads it from the shared file only: held, never edited for both.
    assert!(line(&out, "helm/external-dns").contains("a file the source environment reads too"));
    // live has only the default: held, and the default is shown.
    assert!(
        line(&out, "helm/tempo")
            .contains("only the default `1.10.0` of `${tempo_version:-1.10.0}`")
    );
    // The same shared pin, or the same default, on both sides: unchanged.
    assert!(
        line(&out, "helm/ingress-nginx")
            .trim_start()
            .starts_with("unchanged")
    );
    assert!(
        line(&out, "helm/podinfo")
            .trim_start()
            .starts_with("unchanged")
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(repo.path(), &["plan", "--format", "json"])).unwrap();
    let paperless = &json["items"][0];
    assert_eq!(
        (&paperless["name"], &paperless["file"], &paperless["line"]),
        (&json!("paperless"), &json!(LIVE_ENV), &json!(5))
    );
    let md = ok(repo.path(), &["plan", "--format", "markdown"]);
    assert!(
        md.contains(
            "| `helm/paperless` | `2.13.5` | `2.14.0` | `kubernetes/clusters/live/versions.env:5` |"
        ),
        "{md}"
    );
}

#[test]
fn apply_changes_exactly_the_pin_lines_of_the_targets_versions_env() {
    let repo = repo(|_| {});
    let before = snapshot_tree(repo.path());
    let live_before = read(repo.path(), LIVE_ENV);
    ok(repo.path(), &["apply"]);
    let after = snapshot_tree(repo.path());
    let changed: Vec<_> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b != a)
        .map(|(_, (p, _))| p.strip_prefix(repo.path()).unwrap().to_path_buf())
        .collect();
    assert_eq!(changed, [Path::new(LIVE_ENV)]);
    // grafana and grafana-dashboards share `grafana_version`: one edit.
    assert_eq!(
        read(repo.path(), LIVE_ENV),
        live_before
            .replace(
                "paperless_ngx_version=2.13.5",
                "paperless_ngx_version=2.14.0"
            )
            .replace(
                "cert_manager_version=v1.16.0",
                "cert_manager_version=v1.17.1"
            )
            .replace("grafana_version=9.0.0", "grafana_version=9.1.0")
    );
    assert!(read(repo.path(), LIVE_ENV).contains(
        "cluster_name=live\ncluster_domain=example.com\nnetwork_interfaces=[\"end0\"]\n"
    ));
    // Applied once, nothing is left to do but the holds.
    let out = ok(repo.path(), &["plan"]);
    assert!(out.contains("0 to change, 2 held"), "{out}");
}

#[test]
fn a_crlf_versions_env_stays_crlf() {
    let repo = repo(|dir| {
        let text = read(dir, LIVE_ENV).replace('\n', "\r\n");
        std::fs::write(dir.join(LIVE_ENV), text).unwrap();
    });
    let before = read(repo.path(), LIVE_ENV);
    ok(repo.path(), &["apply", "--component", "helm/paperless"]);
    let after = read(repo.path(), LIVE_ENV);
    assert_eq!(
        after,
        before.replace(
            "paperless_ngx_version=2.13.5\r\n",
            "paperless_ngx_version=2.14.0\r\n"
        )
    );
    assert_eq!(after.matches("\r\n").count(), after.matches('\n').count());
}

#[test]
fn components_sharing_a_pin_line_must_agree() {
    let repo = repo(|_| {});
    // Positive control: both offer 9.1.0, one edit (see the apply test).
    let out = ok(repo.path(), &["plan", "--component", "helm/grafana*"]);
    assert!(out.contains("2 to change"), "{out}");
    let out = ok(
        repo.path(),
        &[
            "plan",
            "--component",
            "helm/grafana*",
            "--pin",
            "helm/grafana=9.2.0",
        ],
    );
    assert!(
        line(&out, "helm/grafana").contains("`helm/grafana-dashboards` offers `9.1.0`"),
        "{out}"
    );
    assert!(
        line(&out, "helm/grafana-dashboards").contains("`helm/grafana` offers `9.2.0`"),
        "{out}"
    );
    assert!(out.contains("nothing to promote"), "{out}");
}

#[test]
fn a_missing_env_file_is_skipped_for_listing_and_an_error_when_an_edit_needs_it() {
    let repo = repo(|dir| std::fs::remove_file(dir.join(LIVE_ENV)).unwrap());
    // Listing skips it: live then reads the shared file and defaults only.
    let out = ok(repo.path(), &["versions", "--env", "live"]);
    assert!(
        line(&out, "helm/ingress-nginx").ends_with(" 4.11.3"),
        "{out}"
    );
    assert!(
        out.contains(
            "helm/paperless in live: via paperless_ngx_version: no `substitute-from` file sets"
        ),
        "{out}"
    );
    let (code, _, err) = run_in(repo.path(), &["plan"]);
    assert_eq!(code, 1);
    assert!(
        err.contains(
            "kubernetes/clusters/live/versions.env: substitute-from file not found in `live`"
        ),
        "{err}"
    );
    // Positive control: the same plan with the file there is fine (other tests), and without
    // components that need it, too.
    ok(repo.path(), &["plan", "--component", "helm/ingress-nginx"]);
}

#[test]
fn the_matrix_names_variable_file_and_line() {
    let repo = repo(|_| {});
    let json: serde_json::Value =
        serde_json::from_str(&ok(repo.path(), &["versions", "--format", "json"])).unwrap();
    let paperless = &json["components"][0];
    assert_eq!(
        paperless["versions"],
        json!({"integration": "2.14.0", "live": "2.13.5"})
    );
    assert_eq!(
        paperless["via"]["live"],
        json!({"variable": "paperless_ngx_version", "file": LIVE_ENV, "line": 5})
    );
    let tempo = json["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "helm/tempo")
        .unwrap();
    assert_eq!(
        tempo["via"]["live"],
        json!({"variable": "tempo_version", "default": "1.10.0"})
    );
    snap!(ok(repo.path(), &["versions"]));
    // One file, no config: the default stays in view.
    let out = ok(
        repo.path(),
        &["versions", "kubernetes/clusters/live/apps.yaml"],
    );
    assert!(out.contains("-> ${tempo_version:-1.10.0}"), "{out}");
}

#[test]
fn a_status_for_paperless_releases_the_pin_its_helmrelease_uses() {
    let repo = repo(|_| {});
    let sha = git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let payload = std::fs::read_to_string(crate::support::fixture("events/status-success.json"))
        .unwrap()
        .replace("6dcb09b5b57875f334f61aebed695e2e4193db5e", &sha)
        .replace(
            "kustomization/cilium/5c3a9f0e",
            "kustomization/paperless/integration",
        );
    let event = tmp.path().join("status.json");
    std::fs::write(&event, payload).unwrap();
    let statuses = tmp.path().join("statuses.json");
    std::fs::write(
        &statuses,
        json!([{"context": "kustomization/paperless/integration", "state": "success", "creator": {"login": "flux-bot"}}]).to_string(),
    )
    .unwrap();
    let (code, out, err) = run_in(
        repo.path(),
        &[
            "plan",
            "--event-name",
            "status",
            "--event-path",
            event.to_str().unwrap(),
            "--statuses",
            statuses.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let action = |id: &str| {
        plan["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == id)
            .map(|i| i["action"].clone())
    };
    assert_eq!(action("helm/paperless"), Some(json!("change")));
    // Control: cert-manager could change too, but no status speaks for it.
    assert_eq!(action("helm/cert-manager"), Some(json!("held")));
    let diff = plan["edits"][0]["diff"].as_str().unwrap();
    assert!(diff.contains("+paperless_ngx_version=2.14.0"), "{diff}");
    assert_eq!(diff.matches("\n+").count(), 2, "one line changed: {diff}");
}

/// A line of an env file that is not the pin under test: comments, identity keys, values
/// kustomize takes verbatim that are no version (brackets, JSON, spaces, quotes).
fn other_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("# comment".to_string()),
        Just(String::new()),
        "[a-z]{1,8}_name=[a-z]{1,8}".prop_map(|s| s),
        Just("network_interfaces=[\"end0\"]".to_string()),
        Just("settings={\"a\": 1}".to_string()),
        Just("greeting=hello world".to_string()),
        Just("quoted=\"1.2.3\"".to_string()),
        "[a-z]{1,6}_version=[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,2}".prop_map(|s| s),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Whatever else the target's env file holds, resolving `${pin_version}` and setting it
    /// changes exactly its one line, to `pin_version=<new>`, keeping the line endings.
    #[test]
    fn resolution_and_edit_change_exactly_one_line(
        before in prop::collection::vec(other_line(), 0..6),
        after in prop::collection::vec(other_line(), 0..6),
        shared in prop::collection::vec(other_line(), 0..4),
        crlf in any::<bool>(),
        old in "[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,2}",
        new in "[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,2}",
    ) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let filter = |lines: Vec<String>| -> Vec<String> {
            lines.into_iter().filter(|l| !l.starts_with("pin_version=")).collect()
        };
        let mut lines = filter(before);
        let at = lines.len();
        lines.push(format!("pin_version={old}"));
        lines.extend(filter(after));
        let text = lines.iter().map(|l| format!("{l}{nl}")).collect::<String>();
        let shared_text = format!("pin_version=0.0.1{nl}{}", shared.join(nl));
        let mut vars = Vars::default();
        vars.add(0, "platform.env", Some(shared_text.as_bytes())).unwrap();
        vars.add(1, "live.env", Some(text.as_bytes())).unwrap();
        let (value, via) = resolve(&vars, &reference("${pin_version}").unwrap(), Rule::Chart);
        prop_assert_eq!(value.as_deref(), Some(old.as_str()));
        prop_assert_eq!((via.file.as_deref(), via.line), (Some("live.env"), Some(at + 1)));
        let out = set_pins("live.env", text.as_bytes(), &[("pin_version", &new)]).unwrap();
        let out = String::from_utf8(out).unwrap();
        let old_lines: Vec<&str> = text.split_inclusive('\n').collect();
        let new_lines: Vec<&str> = out.split_inclusive('\n').collect();
        prop_assert_eq!(old_lines.len(), new_lines.len());
        for (i, (a, b)) in old_lines.iter().zip(&new_lines).enumerate() {
            if i == at {
                prop_assert_eq!(*b, format!("pin_version={new}{nl}"));
            } else {
                prop_assert_eq!(a, b);
            }
        }
    }
}

#[test]
fn a_pin_that_is_not_a_version_does_not_resolve() {
    let text = "pin_version=[\"end0\"]\nother=1.0.0\n";
    let mut vars = Vars::default();
    vars.add(0, "live.env", Some(text.as_bytes())).unwrap();
    let (value, via) = resolve(&vars, &reference("${pin_version}").unwrap(), Rule::Chart);
    assert_eq!(value, None);
    assert!(via.problem.unwrap().contains("live.env:1"));
    // Positive control: the other pin of the same file resolves and is edited.
    let (value, _) = resolve(&vars, &reference("${other}").unwrap(), Rule::Chart);
    assert_eq!(value.as_deref(), Some("1.0.0"));
    let out = set_pins("live.env", text.as_bytes(), &[("other", "1.1.0")]).unwrap();
    assert_eq!(out, b"pin_version=[\"end0\"]\nother=1.1.0\n");
}
