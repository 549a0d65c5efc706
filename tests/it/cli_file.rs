//! `promote versions FILE` and `promote set` run as the real binary on temp copies of fixtures.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Output;

use crate::support::{fixture, promote_cmd};

/// A temp dir holding a copy of `rel` (under `tests/fixtures/`) named `name`.
fn copy_of(rel: &str, name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture(rel), dir.path().join(name)).unwrap();
    dir
}

fn run(dir: &Path, args: &[&str]) -> Output {
    promote_cmd().current_dir(dir).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[test]
fn versions_text_and_json() {
    let dir = copy_of("edit/hcl-map/stack.hcl", "terragrunt.stack.hcl");
    let text = run(dir.path(), &["versions", "terragrunt.stack.hcl"]);
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    insta::assert_snapshot!("versions_text", stdout(&text));
    let json = run(
        dir.path(),
        &["versions", "terragrunt.stack.hcl", "--format", "json"],
    );
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    let value: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    insta::assert_json_snapshot!("versions_json", value);
}

#[test]
fn versions_shows_indirect_values_and_takes_at() {
    let dir = copy_of("edit/hcl-map/terragrunt.hcl", "terragrunt.hcl");
    let out = run(
        dir.path(),
        &["versions", "terragrunt.hcl", "--at", "inputs.versions"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    insta::assert_snapshot!("versions_indirect_text", stdout(&out));
    let json = run(
        dir.path(),
        &[
            "versions",
            "terragrunt.hcl",
            "--at",
            "inputs.versions",
            "--format",
            "json",
        ],
    );
    let value: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(value["components"][1]["indirect"], "local.chart_version");
    assert!(value["components"][0].get("indirect").is_none());
}

#[test]
fn set_rewrites_only_the_version_and_keeps_permissions() {
    let dir = copy_of("edit/dotenv/versions.env", "versions.env");
    let path = dir.path().join("versions.env");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    let before = std::fs::read_to_string(&path).unwrap();
    let out = run(
        dir.path(),
        &["set", "versions.env", "dex_version", "v2.42.0"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let after = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        after,
        before.replace(
            "\"v2.41.1\"  # double quoted",
            "\"v2.42.0\"  # double quoted"
        )
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
    }
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(
        leftovers, 1,
        "the temp file must be renamed over the target"
    );
}

#[test]
fn set_dry_run_prints_the_diff_and_writes_nothing() {
    let dir = copy_of("edit/toml/tools.toml", "tools.toml");
    let path = dir.path().join("tools.toml");
    let before = std::fs::read(&path).unwrap();
    let out = run(
        dir.path(),
        &[
            "set",
            "tools.toml",
            "talos",
            "v1.13.0",
            "--kind",
            "toml",
            "--at",
            "tool.versions",
            "--dry-run",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    insta::assert_snapshot!("set_dry_run_diff", stdout(&out));
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn set_unknown_component_lists_the_known_ones() {
    let dir = copy_of("edit/hcl-map/stack.hcl", "terragrunt.stack.hcl");
    let out = run(
        dir.path(),
        &["set", "terragrunt.stack.hcl", "ciliumm", "1.19.0"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("unknown component `ciliumm`"), "{err}");
    assert!(
        err.contains(
            "known: talos, kubernetes, cilium, gateway_api, flux, cert-manager, prometheus, spegel"
        ),
        "{err}"
    );
}

#[test]
fn malformed_file_fails_with_its_location_and_stays_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("terragrunt.stack.hcl");
    let broken =
        "locals {\n  versions = {\n    talos = \"v1.12.1\"\n    cilium = = \"1.18.6\"\n  }\n}\n";
    std::fs::write(&path, broken).unwrap();
    for args in [
        &["versions", "terragrunt.stack.hcl"][..],
        &["set", "terragrunt.stack.hcl", "talos", "v1.13.0"][..],
    ] {
        let out = run(dir.path(), args);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(
            err.starts_with("error: terragrunt.stack.hcl:4:14: "),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), broken);
    }
}

#[test]
fn set_refuses_indirect_values() {
    let dir = copy_of("edit/dotenv/versions.env", "versions.env");
    let before = std::fs::read(dir.path().join("versions.env")).unwrap();
    let out = run(
        dir.path(),
        &["set", "versions.env", "derived_version", "1.0.0"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("hint: edit the source that sets `cilium_version`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(dir.path().join("versions.env")).unwrap(),
        before
    );
}

#[test]
fn unknown_kind_asks_for_kind() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pins.txt"), "a=1\n").unwrap();
    let out = run(dir.path(), &["versions", "pins.txt"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("hint: pass `--kind`"),
        "{}",
        stderr(&out)
    );
    let out = run(dir.path(), &["versions", "pins.txt", "--kind", "dotenv"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn versions_notes_indirect_values_on_stderr() {
    let dir = copy_of("edit/hcl-map/terragrunt.hcl", "terragrunt.hcl");
    let out = run(
        dir.path(),
        &["versions", "terragrunt.hcl", "--at", "inputs.versions"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("note: `chart`, `template` are set through a variable"),
        "{err}"
    );
    // An HCL reference names a local of the same file, not an env file.
    assert!(err.contains("a `locals` attribute of this file"), "{err}");
    assert!(!err.contains("dotenv"), "{err}");
    assert!(!stdout(&out).contains("note:"), "notes belong on stderr");
    // A `${var}` in YAML points at the file that sets the variable.
    std::fs::write(
        dir.path().join("hr.yaml"),
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: dex\nspec:\n  chart:\n    spec:\n      chart: dex\n      version: ${dex_version}\n",
    )
    .expect("write");
    let out = run(dir.path(), &["versions", "hr.yaml"]);
    assert!(
        stderr(&out).contains("often a `dotenv` source"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn hcl_kind_is_detected_from_a_versions_object_or_at() {
    let dir = tempfile::tempdir().unwrap();
    let root = "locals {\n  tools = {\n    tflint = \"0.55.0\"\n  }\n}\n";
    std::fs::write(dir.path().join("root.hcl"), root).unwrap();
    let out = run(dir.path(), &["versions", "root.hcl"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("hint: pass `--kind`"),
        "{}",
        stderr(&out)
    );
    let out = run(
        dir.path(),
        &["versions", "root.hcl", "--at", "locals.tools"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("tflint     0.55.0"),
        "{}",
        stdout(&out)
    );
}

#[cfg(unix)]
#[test]
fn set_writes_through_a_symlink() {
    let dir = copy_of("edit/dotenv/versions.env", "shared.env");
    std::os::unix::fs::symlink("shared.env", dir.path().join("versions.env")).unwrap();
    let out = run(
        dir.path(),
        &["set", "versions.env", "cilium_version", "1.19.0"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let link = std::fs::symlink_metadata(dir.path().join("versions.env")).unwrap();
    assert!(link.file_type().is_symlink(), "the link stays a link");
    let shared = std::fs::read_to_string(dir.path().join("shared.env")).unwrap();
    assert!(shared.contains("\ncilium_version=1.19.0\n"), "{shared}");
}

/// `set FILE COMPONENT VERSION` with `version`: exit code, stderr, and whether the file is as it was.
fn set_in(rel: &str, name: &str, component: &str, version: &str) -> (i32, String, bool) {
    let dir = copy_of(rel, name);
    let before = crate::support::snapshot_tree(dir.path());
    let out = run(dir.path(), &["set", name, component, version]);
    let same = crate::support::snapshot_tree(dir.path()) == before;
    (out.status.code().unwrap(), stderr(&out), same)
}

#[test]
fn set_refuses_empty_spaced_and_multiline_versions_and_writes_nothing() {
    for bad in [
        "1.18 .7",
        "",
        "1.18.7\n",
        "1.18\n.7",
        " 1.18.7",
        "1.18.7\t",
        "1.18\u{7}.7",
    ] {
        let (code, err, same) = set_in("edit/hcl-map/stack.hcl", "stack.hcl", "cilium", bad);
        assert_eq!(code, 1, "{bad:?} was taken: {err}");
        assert!(
            err.starts_with("error: bad VERSION argument for `cilium` in stack.hcl: "),
            "{err}"
        );
        assert!(err.contains("nothing written"), "{err}");
        assert!(same, "{bad:?}: the file changed");
    }
    let (_, err, _) = set_in("edit/hcl-map/stack.hcl", "stack.hcl", "cilium", "1.18 .7");
    assert!(err.contains("`1.18 .7` holds whitespace"), "{err}");
    let (_, err, _) = set_in("edit/hcl-map/stack.hcl", "stack.hcl", "cilium", "");
    assert!(err.contains("a version cannot be empty"), "{err}");
    // Positive control: the same file and component take a real version.
    let (code, err, same) = set_in("edit/hcl-map/stack.hcl", "stack.hcl", "cilium", "1.18.7");
    assert_eq!((code, same), (0, false), "{err}");
}

#[test]
fn set_checks_image_tags_digests_and_chart_versions_per_field() {
    let k = "edit/kustomize-images/kustomization.yaml";
    let sha = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let refused = [
        (
            k,
            "kustomization.yaml",
            "ghcr.io/dexidp/dex",
            "sha 1",
            "holds whitespace",
        ),
        (
            k,
            "kustomization.yaml",
            "ghcr.io/dexidp/dex",
            "v2.42+b",
            "is not an image tag",
        ),
        (
            k,
            "kustomization.yaml",
            "ghcr.io/dexidp/dex",
            ".v2",
            "is not an image tag",
        ),
        (
            k,
            "kustomization.yaml",
            "ghcr.io/org/api",
            "v1.2.3",
            "is not an image digest",
        ),
        (
            "edit/chart-dependencies/Chart.yaml",
            "Chart.yaml",
            "postgresql",
            "latest",
            "is not a Helm chart version",
        ),
        (
            "edit/flux/helm-charts.yaml",
            "helm-charts.yaml",
            "cert-manager",
            "v1.17.0.1",
            "is not a Helm chart version",
        ),
    ];
    for (rel, name, component, version, why) in refused {
        let (code, err, same) = set_in(rel, name, component, version);
        assert_eq!(code, 1, "{name} {component}={version:?} was taken: {err}");
        assert!(err.contains(why), "{err}");
        assert!(same, "{name}: the file changed");
    }
    let taken = [
        (k, "kustomization.yaml", "ghcr.io/dexidp/dex", "sha-1a2b3c4"),
        (k, "kustomization.yaml", "ghcr.io/dexidp/dex", sha),
        (k, "kustomization.yaml", "ghcr.io/org/api", sha),
        (
            "edit/chart-dependencies/Chart.yaml",
            "Chart.yaml",
            "postgresql",
            "^16.3",
        ),
        (
            "edit/flux/helm-charts.yaml",
            "helm-charts.yaml",
            "cert-manager",
            "v1.17.0",
        ),
        (
            "edit/flux/helm-charts.yaml",
            "helm-charts.yaml",
            "cert-manager",
            ">=1.17.0,<1.18.0",
        ),
    ];
    for (rel, name, component, version) in taken {
        let (code, err, same) = set_in(rel, name, component, version);
        assert_eq!(
            (code, same),
            (0, false),
            "{name} {component}={version}: {err}"
        );
    }
}
