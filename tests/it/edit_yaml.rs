//! Golden tests of the YAML kinds: only the version's bytes change, everything else stays.

use std::path::Path;

use promote::edit::EditError;
use promote::source::{self, Kind, Locator};

use crate::support::fixture;

fn locator(kind: Kind, file: &Path) -> Locator {
    let mut loc = Locator::new(kind);
    let sidecar = file.with_extension("yaml.locator.json");
    if let Ok(text) = std::fs::read_to_string(sidecar) {
        let v: serde_json::Value = serde_json::from_str(&text).expect("sidecar json");
        let get = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        loc.at = get("at");
        loc.items = get("items");
        loc.key = get("key");
        loc.value = get("value");
        loc.version_key = get("version_key");
    }
    loc
}

/// Set `component` to `version` and check the edit touched nothing outside its span.
fn edit(kind: Kind, rel: &str, component: &str, version: &str) -> (Vec<u8>, Vec<u8>) {
    let path = fixture(rel);
    let before = std::fs::read(&path).expect("fixture");
    let loc = locator(kind, &path);
    let inv = source::read(&loc, rel, &before).expect("read");
    let old = inv.get(component).expect("component").clone();
    let after = source::set_versions(&loc, rel, &before, &[(component, version)]).expect("set");
    assert_eq!(
        &after[..old.span.start],
        &before[..old.span.start],
        "prefix changed"
    );
    let suffix = before.len() - old.span.end;
    assert_eq!(
        &after[after.len() - suffix..],
        &before[old.span.end..],
        "suffix changed"
    );
    let again = source::read(&loc, rel, &after).expect("re-read");
    assert_eq!(again.get(component).expect("component").version, version);
    let noop =
        source::set_versions(&loc, rel, &before, &[(component, &old.version)]).expect("noop");
    assert_eq!(noop, before, "a no-op edit must be byte-identical");
    (before, after)
}

fn diff(rel: &str, before: &[u8], after: &[u8]) -> String {
    promote::cmd::file::unified_diff(rel, before, after)
}

#[test]
fn flux_helmrelease_keeps_quotes_comments_and_block_scalars() {
    let rel = "edit/flux/helm-charts.yaml";
    let (before, after) = edit(Kind::Flux, rel, "cilium", "1.19.0");
    insta::assert_snapshot!(diff(rel, &before, &after));
}

#[test]
fn flux_flow_mapping_oci_tag_and_resourceset_inputs() {
    let rel = "edit/flux/helm-charts.yaml";
    let (_, after) = edit(Kind::Flux, rel, "cert-manager", "v1.19.2");
    assert!(
        String::from_utf8_lossy(&after)
            .contains("{chart: cert-manager, version: v1.19.2, sourceRef")
    );
    let (_, after) = edit(Kind::Flux, rel, "podinfo", "6.10.0");
    assert!(String::from_utf8_lossy(&after).contains("    tag: '6.10.0'\n"));
    let (before, after) = edit(Kind::Flux, rel, "prometheus", "78.0.0");
    insta::assert_snapshot!(diff(rel, &before, &after));
}

#[test]
fn flux_chartref_release_is_skipped_with_a_note() {
    let rel = "edit/flux/helm-charts.yaml";
    let bytes = std::fs::read(fixture(rel)).expect("fixture");
    let inv = source::read(&Locator::new(Kind::Flux), rel, &bytes).expect("read");
    assert_eq!(
        inv.names(),
        ["cilium", "cert-manager", "podinfo", "prometheus", "loki"]
    );
    assert!(
        inv.notes
            .iter()
            .any(|n| n.contains("`podinfo` uses `chartRef`")),
        "{:?}",
        inv.notes
    );
}

#[test]
fn resourceset_nested_version_in_crlf_file_without_final_newline() {
    let rel = "edit/flux/resourceset-nested-crlf.yaml";
    let (_, after) = edit(Kind::Flux, rel, "tempo", "1.25.0");
    assert!(after.ends_with(b"        version: 1.25.0"));
    let (_, after) = edit(Kind::Flux, rel, "grafana", "10.2.0");
    assert!(String::from_utf8_lossy(&after).contains("version: \"10.2.0\"\r\n"));
}

#[test]
fn substitutions_are_indirect_and_never_edited() {
    let rel = "edit/flux/substituted.yaml";
    let bytes = std::fs::read(fixture(rel)).expect("fixture");
    let loc = Locator::new(Kind::Flux);
    let inv = source::read(&loc, rel, &bytes).expect("read");
    assert_eq!(
        inv.get("traefik").and_then(|c| c.indirect.as_deref()),
        Some("traefik_version")
    );
    let err =
        source::set_versions(&loc, rel, &bytes, &[("traefik", "38.0.0")]).expect_err("indirect");
    assert!(matches!(err, EditError::Indirect { line: 9, .. }), "{err}");
    // An anchored value is a literal: the edit keeps the anchor.
    let (_, after) = edit(Kind::Flux, rel, "external-dns", "1.20.0");
    assert!(String::from_utf8_lossy(&after).contains("version: &edns 1.20.0\n"));
}

#[test]
fn kustomize_images_tags_digests_and_flow_items() {
    let rel = "edit/kustomize-images/kustomization.yaml";
    let (before, after) = edit(
        Kind::KustomizeImages,
        rel,
        "ghcr.io/org/dex",
        "sha-def45678",
    );
    insta::assert_snapshot!(diff(rel, &before, &after));
    let (_, after) = edit(
        Kind::KustomizeImages,
        rel,
        "ghcr.io/org/dex-init",
        "sha-def45678",
    );
    assert!(String::from_utf8_lossy(&after).contains("newTag: \"sha-def45678\"}"));
    let digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    edit(
        Kind::KustomizeImages,
        rel,
        "docker.io/library/redis",
        digest,
    );
    // A plain-looking float keeps its single quotes.
    let (_, after) = edit(Kind::KustomizeImages, rel, "busybox", "1.40");
    assert!(String::from_utf8_lossy(&after).contains("newTag: '1.40'\n"));
}

#[test]
fn kustomize_crlf_and_no_final_newline() {
    let rel = "edit/kustomize-images/crlf-no-final-newline.yaml";
    let (_, after) = edit(Kind::KustomizeImages, rel, "sidecar", "v1.0.0");
    assert!(after.ends_with(b"newTag: \"v1.0.0\""));
    edit(Kind::KustomizeImages, rel, "app", "v1.2.4");
}

#[test]
fn chart_dependencies_plain_number_gets_quoted_when_needed() {
    let rel = "edit/chart-dependencies/Chart.yaml";
    edit(Kind::ChartDependencies, rel, "cert-manager", "v1.18.2");
    edit(Kind::ChartDependencies, rel, "common", "2.31.5");
    let (_, after) = edit(Kind::ChartDependencies, rel, "redis", "1.30");
    assert!(String::from_utf8_lossy(&after).contains("    version: \"1.30\"\n"));
}

#[test]
fn applicationset_elements_by_key() {
    let rel = "edit/yaml/applicationset-prod.yaml";
    let (before, after) = edit(Kind::Yaml, rel, "cert-manager", "cert-manager-v1.19.0");
    insta::assert_snapshot!(diff(rel, &before, &after));
    edit(Kind::Yaml, rel, "external-dns", "external-dns-1.20.0");
    edit(Kind::Yaml, rel, "ingress-nginx", "ingress-nginx-4.14.0");
}

#[test]
fn one_scalar_at_a_path_next_to_anchors() {
    let rel = "edit/yaml/values-anchors.yaml";
    let (_, after) = edit(Kind::Yaml, rel, "tag", "2.5.0");
    assert!(String::from_utf8_lossy(&after).contains("tag: &tag \"2.5.0\"   # the promoted tag\n"));
}

fn read_err(kind: Kind, text: &str) -> EditError {
    source::read(&Locator::new(kind), "bad.yaml", text.as_bytes()).expect_err("must fail")
}

#[test]
fn bad_input_names_file_line_and_column() {
    let e = read_err(
        Kind::KustomizeImages,
        "images:\n  - name: a\n    newTag: [1, 2\n",
    );
    assert!(matches!(e, EditError::Parse { .. }), "{e}");
    assert!(e.to_string().starts_with("bad.yaml:"), "{e}");
    let e = read_err(Kind::KustomizeImages, "images:\n\t- name: a\n");
    assert!(e.to_string().starts_with("bad.yaml:2:"), "{e}");
    let e = read_err(
        Kind::KustomizeImages,
        "images:\n  - name: a\n    newTag: v1\n    newTag: v2\n",
    );
    assert_eq!(
        e.to_string(),
        "bad.yaml:4:5: duplicate key `newTag` (first at line 3)"
    );
    let e = read_err(
        Kind::KustomizeImages,
        "images:\n  - name: a\n    newTag:\n      x: 1\n",
    );
    assert!(
        matches!(
            e,
            EditError::NotAString {
                line: 4,
                column: 7,
                ..
            }
        ),
        "{e}"
    );
    let e = read_err(
        Kind::KustomizeImages,
        "images:\n  - name: a\n    newTag: v1\n  - name: a\n    newTag: v2\n",
    );
    assert!(
        matches!(
            e,
            EditError::Duplicate {
                line: 5,
                first_line: 3,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn many_documents_are_read() {
    let mut text = String::new();
    for i in 0..3000 {
        text.push_str(&format!(
            "---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: app-{i}\nspec:\n  chart:\n    spec:\n      version: \"1.{i}.0\"\n"
        ));
    }
    let inv = source::read(&Locator::new(Kind::Flux), "big.yaml", text.as_bytes()).expect("read");
    assert_eq!(inv.components.len(), 3000);
    let out = source::set_versions(
        &Locator::new(Kind::Flux),
        "big.yaml",
        text.as_bytes(),
        &[("app-2999", "2.0.0")],
    )
    .expect("set");
    assert!(String::from_utf8_lossy(&out).ends_with("version: \"2.0.0\"\n"));
}
