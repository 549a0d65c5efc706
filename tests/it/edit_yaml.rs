//! YAML editors and kinds: golden inventories, byte-local edits, diffs and bad input.

use std::fmt::Write as _;
use std::path::Path;

use promote::edit::EditError;
use promote::source::{self, Inventory, Kind, Locator};

use crate::support::fixture;

const KINDS: [&str; 4] = ["flux", "kustomize-images", "chart-dependencies", "yaml"];

/// The locator of a fixture: kind from its folder, options from `<file>.locator.json`.
fn locator(path: &Path) -> Locator {
    let dir = path
        .parent()
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .expect("fixture folder");
    let kind: Kind = serde_json::from_value(serde_json::json!(dir)).expect("kind folder");
    let mut loc = Locator::new(kind);
    let sidecar = format!("{}.locator.json", path.display());
    if let Ok(text) = std::fs::read_to_string(&sidecar) {
        let opts: serde_json::Value = serde_json::from_str(&text).expect("locator json");
        let get = |k: &str| opts.get(k).and_then(|v| v.as_str()).map(str::to_string);
        loc.at = get("at");
        loc.items = get("items");
        loc.key = get("key");
        loc.value = get("value");
        loc.version_key = get("version_key");
        loc.part = opts
            .get("part")
            .map(|p| serde_json::from_value(p.clone()).expect("part"));
    }
    loc
}

/// Every YAML fixture of the four kinds: (label, locator, bytes).
fn fixtures() -> Vec<(String, Locator, Vec<u8>)> {
    let mut out = Vec::new();
    for kind in KINDS {
        let dir = fixture(&format!("edit/{kind}"));
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .expect("fixture dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| !p.to_string_lossy().ends_with(".json"))
            .collect();
        paths.sort();
        for path in paths {
            let name = path.file_name().expect("name").to_string_lossy();
            let bytes = std::fs::read(&path).expect("read fixture");
            out.push((format!("{kind}/{name}"), locator(&path), bytes));
        }
    }
    out
}

fn load(rel: &str) -> (Locator, Vec<u8>) {
    let path = fixture(&format!("edit/{rel}"));
    (locator(&path), std::fs::read(&path).expect("read fixture"))
}

fn read(rel: &str) -> Inventory {
    let (loc, bytes) = load(rel);
    source::read(&loc, rel, &bytes).expect("fixture reads")
}

fn table(inv: &Inventory, bytes: &[u8]) -> String {
    let mut out = String::new();
    for c in &inv.components {
        let raw = String::from_utf8_lossy(&bytes[c.span.clone()]);
        let via = c
            .indirect
            .as_deref()
            .map_or(String::new(), |v| format!(" via {v}"));
        let _ = writeln!(
            out,
            "{}:{} {} = {:?} [{raw}] {:?}{via} @ {}",
            c.line, c.column, c.name, c.version, c.style, c.address
        );
    }
    for note in &inv.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

fn unified(label: &str, before: &[u8], after: &[u8]) -> String {
    let (a, b) = (
        String::from_utf8_lossy(before),
        String::from_utf8_lossy(after),
    );
    similar::TextDiff::from_lines(a.as_ref(), b.as_ref())
        .unified_diff()
        .context_radius(2)
        .header(label, label)
        .to_string()
}

#[test]
fn inventories_match_golden() {
    for (label, loc, bytes) in fixtures() {
        let inv = source::read(&loc, &label, &bytes).expect("fixture reads");
        assert!(!inv.components.is_empty(), "{label} has no component");
        let name = label.replace(['/', '.'], "_");
        insta::assert_snapshot!(format!("inventory_{name}"), table(&inv, &bytes));
    }
}

/// Set `name` to `version` and check that only its span changed and it reads back.
fn assert_local_edit(label: &str, loc: &Locator, bytes: &[u8], name: &str, version: &str) {
    let before = source::read(loc, label, bytes).expect("reads");
    let c = before.get(name).expect("component");
    let out = source::set_versions(loc, label, bytes, &[(name, version)])
        .unwrap_or_else(|e| panic!("{label}: set {name}={version}: {e}"));
    let tail = bytes.len() - c.span.end;
    assert_eq!(
        out[..c.span.start],
        bytes[..c.span.start],
        "{label}: prefix"
    );
    assert_eq!(
        out[out.len() - tail..],
        bytes[c.span.end..],
        "{label}: suffix"
    );
    let after = source::read(loc, label, &out).expect("re-reads");
    assert_eq!(after.get(name).expect("still there").version, version);
    assert_eq!(after.names(), before.names(), "{label}: same components");
    for (b, a) in before.components.iter().zip(&after.components) {
        if b.name != name {
            assert_eq!(
                (&a.version, &a.indirect),
                (&b.version, &b.indirect),
                "{label}"
            );
        }
    }
}

#[test]
fn every_edit_changes_only_the_version_span() {
    for (label, loc, bytes) in fixtures() {
        let inv = source::read(&loc, &label, &bytes).expect("reads");
        for c in inv.components.iter().filter(|c| c.indirect.is_none()) {
            for version in [
                "9.9.9",
                "4.15",
                "true",
                "v1.2.3-rc.1+build",
                "it's\"x\"#1",
                "it's \"x\" #1",
                "",
            ] {
                // What the field cannot hold (whitespace, nothing, `true` as a chart version)
                // is refused before any byte is written; the rest is a local edit.
                match source::validate_version(c.rule, version) {
                    Ok(()) => assert_local_edit(&label, &loc, &bytes, &c.name, version),
                    Err(why) => {
                        let err = source::set_versions(&loc, &label, &bytes, &[(&c.name, version)])
                            .expect_err("refused");
                        assert!(
                            matches!(&err, EditError::BadVersion { message, .. } if *message == why),
                            "{label}: {} = {version:?}: {err}",
                            c.name
                        );
                    }
                }
            }
            let same = source::set_versions(&loc, &label, &bytes, &[(&c.name, &c.version)])
                .expect("no-op edit");
            assert_eq!(
                same, bytes,
                "{label}: no-op edit of {} changed bytes",
                c.name
            );
        }
    }
}

#[test]
fn indirect_values_are_never_edited() {
    for (label, loc, bytes) in fixtures() {
        let inv = source::read(&loc, &label, &bytes).expect("reads");
        for c in inv.components.iter().filter(|c| c.indirect.is_some()) {
            let err = source::set_versions(&loc, &label, &bytes, &[(&c.name, "1.0.0")])
                .expect_err("indirect edit refused");
            assert!(matches!(err, EditError::Indirect { .. }), "{label}: {err}");
        }
    }
}

#[test]
fn flux_skips_chart_ref_and_qualifies_shared_names() {
    let inv = read("flux/helm-charts.yaml");
    assert_eq!(
        inv.names(),
        [
            "cilium",
            "cert-manager",
            "ingress-nginx",
            "podinfo",
            "flux-manifests"
        ]
    );
    assert!(
        inv.notes
            .iter()
            .any(|n| n.contains("HelmRelease/podinfo") && n.contains("chartRef"))
    );
    let semver = inv.get("flux-manifests").expect("oci semver");
    assert_eq!(
        semver.address,
        "OCIRepository/flux-manifests: spec.ref.semver"
    );
    let inv = read("flux/same-name.yaml");
    assert_eq!(
        inv.names(),
        [
            "ocirepository/podinfo",
            "helmrelease/apps/podinfo",
            "helmrelease/staging/podinfo"
        ]
    );
}

#[test]
fn flux_resource_set_nested_version_key() {
    let inv = read("flux/resourceset-nested.yaml");
    let kyverno = inv.get("kyverno").expect("kyverno");
    assert_eq!(kyverno.version, "3.3.4");
    assert_eq!(
        kyverno.address,
        "ResourceSet/platform: spec.inputs[1].chart.version"
    );
}

#[test]
fn kustomize_digest_only_is_the_version_and_new_tag_wins() {
    let inv = read("kustomize-images/kustomization.yaml");
    let api = inv.get("ghcr.io/org/api").expect("api");
    assert!(api.version.starts_with("sha256:") && api.address.ends_with(".digest"));
    let worker = inv.get("ghcr.io/org/worker").expect("worker");
    assert_eq!(
        (worker.version.as_str(), worker.address.as_str()),
        ("1.4.2", "images[4].newTag")
    );
}

#[test]
fn chart_dependencies_sharing_a_name_use_alias() {
    let inv = read("chart-dependencies/Chart.yaml");
    assert_eq!(
        inv.names(),
        [
            "postgresql",
            "cache",
            "sessions",
            "common",
            "kube-state-metrics"
        ]
    );
    assert_eq!(inv.get("kube-state-metrics").expect("ksm").version, "5.27");
}

#[test]
fn edits_render_as_expected_diffs() {
    let cases = [
        ("flux/helm-charts.yaml", "cilium", "1.17.0"),
        ("flux/helm-charts.yaml", "ingress-nginx", "4.15"),
        ("flux/resourceset.yaml", "metrics-server", "3.20"),
        ("flux/crlf-no-newline.yaml", "traefik-crds", "1.3.0"),
        (
            "kustomize-images/kustomization.yaml",
            "ghcr.io/org/web",
            "2.1",
        ),
        ("chart-dependencies/Chart.yaml", "cache", "20.6.0"),
        (
            "chart-dependencies/Chart.yaml",
            "kube-state-metrics",
            "5.28",
        ),
        (
            "chart-dependencies/Chart.yaml",
            "kube-state-metrics",
            "5.30",
        ),
        ("flux/anchors.yaml", "tempo", "1.11"),
        (
            "yaml/applicationset.yaml",
            "ingress-nginx",
            "ingress-nginx-v4.12.0",
        ),
        ("yaml/multi-doc-at.yaml", "tag", "1.30"),
    ];
    let mut all = String::new();
    for (rel, name, version) in cases {
        let (loc, bytes) = load(rel);
        let out = source::set_versions(&loc, rel, &bytes, &[(name, version)]).expect("edit");
        all.push_str(&unified(rel, &bytes, &out).replace('\r', "\\r"));
    }
    insta::assert_snapshot!(all);
}

fn read_err(kind: Kind, text: &str) -> String {
    let err = source::read(&Locator::new(kind), "bad.yaml", text.as_bytes()).expect_err("fails");
    let set = source::set_versions(
        &Locator::new(kind),
        "bad.yaml",
        text.as_bytes(),
        &[("x", "1")],
    );
    assert!(set.is_err(), "an edit of a bad file is refused");
    err.to_string()
}

#[test]
fn bad_input_names_line_and_column() {
    let broken = "images:\n  - name: a\n    newTag: [1.0\n";
    let msg = read_err(Kind::KustomizeImages, broken);
    assert!(msg.starts_with("bad.yaml:4:1: invalid YAML"), "{msg}");
    let tabs = "images:\n\t- name: a\n";
    let msg = read_err(Kind::KustomizeImages, tabs);
    assert!(msg.starts_with("bad.yaml:2:1: invalid YAML: tabs"), "{msg}");
    let dup = "images:\n  - name: a\n    newTag: 1.0.0\n    newTag: 1.0.1\n";
    assert_eq!(
        read_err(Kind::KustomizeImages, dup),
        "bad.yaml:4:5: duplicate key `newTag` (first at line 3)\nhint: YAML readers keep only one of them; remove the other"
    );
    let map = "dependencies:\n  - name: a\n    version:\n      min: 1.0.0\n";
    assert_eq!(
        read_err(Kind::ChartDependencies, map),
        "bad.yaml:4:7: version of `a` is not a string scalar: a mapping"
    );
    let block = "kind: OCIRepository\nmetadata: {name: a}\nspec:\n  ref:\n    tag: |\n      1.0\n";
    assert_eq!(
        read_err(Kind::Flux, block),
        "bad.yaml:5:10: version of `a` is not a string scalar: a block scalar"
    );
    let empty = "images:\n  - name: a\n    newTag:\n";
    assert_eq!(
        read_err(Kind::KustomizeImages, empty),
        "bad.yaml:3:12: version of `a` is not a string scalar: an empty value"
    );
    let dup_image = "images:\n  - name: a\n    newTag: v1\n  - name: a\n    newTag: v2\n";
    assert_eq!(
        read_err(Kind::KustomizeImages, dup_image),
        "bad.yaml:5:13: duplicate component `a` (first defined at line 3)"
    );
    let dup_release = "kind: HelmRelease\nmetadata: {name: a}\nspec: {chart: {spec: {version: 1.0.0}}}\n---\nkind: HelmRelease\nmetadata: {name: a}\nspec: {chart: {spec: {version: 1.0.1}}}\n";
    assert!(read_err(Kind::Flux, dup_release).contains("duplicate component"));
}

#[test]
fn yaml_kind_reports_missing_paths() {
    let mut loc = Locator::new(Kind::Yaml);
    loc.at = Some("image.digest".to_string());
    let err = source::read(&loc, "v.yaml", b"image:\n  tag: 1.0.0\n").expect_err("missing");
    assert!(matches!(err, EditError::PathNotFound { .. }), "{err}");
}

#[test]
fn ten_thousand_documents_read_and_edit() {
    let mut text = String::new();
    for i in 0..10_000 {
        let _ = write!(
            text,
            "---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: app-{i}\nspec:\n  chart:\n    spec:\n      chart: app\n      version: \"1.{i}.0\" # é\n"
        );
    }
    let loc = Locator::new(Kind::Flux);
    let started = std::time::Instant::now();
    let inv = source::read(&loc, "big.yaml", text.as_bytes()).expect("reads");
    assert_eq!(inv.components.len(), 10_000);
    eprintln!("one read of 10k documents: {:?}", started.elapsed());
    let out = source::set_versions(&loc, "big.yaml", text.as_bytes(), &[("app-9999", "2.0.0")])
        .expect("edits");
    let start = text.rfind("\"1.9999.0\"").expect("last version");
    assert_eq!(out[..start], text.as_bytes()[..start]);
    assert_eq!(&out[start..start + 7], b"\"2.0.0\"");
    assert!(
        started.elapsed().as_secs() < 30,
        "took {:?}",
        started.elapsed()
    );
}

/// Set `component` of fixture `rel` to `version`, asserting a byte-local edit and a no-op.
fn edit(rel: &str, component: &str, version: &str) -> (Vec<u8>, Vec<u8>) {
    let (loc, before) = load(rel);
    assert_local_edit(rel, &loc, &before, component, version);
    let after = source::set_versions(&loc, rel, &before, &[(component, version)]).expect("set");
    let old = source::read(&loc, rel, &before).expect("reads");
    let old = old.get(component).expect("component").version.clone();
    let noop = source::set_versions(&loc, rel, &before, &[(component, &old)]).expect("no-op");
    assert_eq!(noop, before, "{rel}: a no-op edit must be byte-identical");
    (before, after)
}

fn diff(rel: &str, before: &[u8], after: &[u8]) -> String {
    promote::cmd::file::unified_diff(&format!("edit/{rel}"), before, after)
}

fn contains(bytes: &[u8], needle: &str) -> bool {
    String::from_utf8_lossy(bytes).contains(needle)
}

#[test]
fn flux_helmrelease_keeps_quotes_comments_and_block_scalars() {
    let rel = "flux/live-charts.yaml";
    let (before, after) = edit(rel, "cilium", "1.19.0");
    insta::assert_snapshot!(diff(rel, &before, &after));
}

#[test]
fn flux_flow_mapping_oci_tag_and_resourceset_inputs() {
    let rel = "flux/live-charts.yaml";
    let (_, after) = edit(rel, "cert-manager", "v1.19.2");
    assert!(contains(
        &after,
        "{chart: cert-manager, version: v1.19.2, sourceRef"
    ));
    let (_, after) = edit(rel, "podinfo", "6.10.0");
    assert!(contains(&after, "    tag: '6.10.0'\n"));
    let (before, after) = edit(rel, "prometheus", "78.0.0");
    insta::assert_snapshot!(diff(rel, &before, &after));
}

#[test]
fn flux_chart_ref_release_is_skipped_with_a_note() {
    let inv = read("flux/live-charts.yaml");
    assert_eq!(
        inv.names(),
        ["cilium", "cert-manager", "podinfo", "prometheus", "loki"]
    );
    let note = inv.notes.iter().find(|n| n.contains("HelmRelease/podinfo"));
    assert!(
        note.is_some_and(|n| n.contains("`spec.chartRef`")),
        "{:?}",
        inv.notes
    );
}

#[test]
fn resourceset_nested_version_in_crlf_file_without_final_newline() {
    let rel = "flux/resourceset-nested-crlf.yaml";
    let (_, after) = edit(rel, "tempo", "1.25.0");
    assert!(after.ends_with(b"        version: 1.25.0"));
    let (_, after) = edit(rel, "grafana", "10.2.0");
    assert!(contains(&after, "version: \"10.2.0\"\r\n"));
}

#[test]
fn substitutions_are_indirect_and_anchored_literals_editable() {
    let rel = "flux/substituted.yaml";
    let (loc, bytes) = load(rel);
    let inv = source::read(&loc, rel, &bytes).expect("read");
    assert_eq!(
        inv.get("traefik").and_then(|c| c.indirect.as_deref()),
        Some("traefik_version")
    );
    let err =
        source::set_versions(&loc, rel, &bytes, &[("traefik", "38.0.0")]).expect_err("indirect");
    assert!(matches!(err, EditError::Indirect { line: 9, .. }), "{err}");
    let (_, after) = edit(rel, "external-dns", "1.20.0");
    assert!(contains(&after, "version: &edns 1.20.0\n"));
}

#[test]
fn kustomize_images_tags_digests_and_flow_items() {
    let rel = "kustomize-images/stage-overlay.yaml";
    let (before, after) = edit(rel, "ghcr.io/org/dex", "sha-def45678");
    insta::assert_snapshot!(diff(rel, &before, &after));
    let (_, after) = edit(rel, "ghcr.io/org/dex-init", "sha-def45678");
    assert!(contains(&after, "newTag: \"sha-def45678\"}"));
    let digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    edit(rel, "docker.io/library/redis", digest);
    // A plain-looking float keeps its single quotes.
    let (_, after) = edit(rel, "busybox", "1.40");
    assert!(contains(&after, "newTag: '1.40'\n"));
}

#[test]
fn kustomize_crlf_and_no_final_newline() {
    let rel = "kustomize-images/crlf-no-final-newline.yaml";
    let (_, after) = edit(rel, "sidecar", "v1.0.0");
    assert!(after.ends_with(b"newTag: \"v1.0.0\""));
    edit(rel, "app", "v1.2.4");
}

#[test]
fn chart_dependencies_plain_number_gets_quoted_when_needed() {
    let rel = "chart-dependencies/wrapper-chart.yaml";
    edit(rel, "cert-manager", "v1.18.2");
    edit(rel, "common", "2.31.5");
    let (_, after) = edit(rel, "redis", "1.30");
    assert!(contains(&after, "    version: \"1.30\"\n"));
    let (_, after) = edit(rel, "redis", "1.3");
    assert!(contains(&after, "    version: 1.3\n"));
}

#[test]
fn applicationset_elements_by_key() {
    let rel = "yaml/applicationset-prod.yaml";
    let (before, after) = edit(rel, "cert-manager", "cert-manager-v1.19.0");
    insta::assert_snapshot!(diff(rel, &before, &after));
    edit(rel, "external-dns", "external-dns-1.20.0");
    edit(rel, "ingress-nginx", "ingress-nginx-4.14.0");
}

#[test]
fn one_scalar_at_a_path_next_to_anchors() {
    let (_, after) = edit("yaml/values-anchors.yaml", "tag", "2.5.0");
    assert!(contains(
        &after,
        "tag: &tag \"2.5.0\"   # the promoted tag\n"
    ));
}
