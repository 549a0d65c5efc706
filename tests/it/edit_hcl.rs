//! Golden tests of the HCL, TOML and dotenv editors on fixtures in `tests/fixtures/edit/`.

#![allow(clippy::unwrap_used)]

use promote::edit::EditError;
use promote::source::{self, Kind, Locator};

use crate::edit_props::{Fixture, check_set, fixtures};

fn fixture(label: &str) -> Fixture {
    fixtures(None)
        .into_iter()
        .find(|f| f.label == label)
        .unwrap_or_else(|| panic!("no fixture `{label}`"))
}

fn snapshot_name(label: &str) -> String {
    label.replace(['/', '.'], "_")
}

/// The inventory of every fixture, as users see it (names, versions, lines, columns, addresses).
#[test]
fn inventories_of_hcl_toml_and_dotenv_fixtures() {
    for kind in [Kind::HclMap, Kind::Toml, Kind::Dotenv] {
        for fx in fixtures(Some(kind)) {
            let inv = source::read(&fx.locator, &fx.label, &fx.bytes).unwrap();
            insta::assert_yaml_snapshot!(format!("inventory_{}", snapshot_name(&fx.label)), inv);
        }
    }
}

#[test]
fn each_literal_value_edits_in_place() {
    for kind in [Kind::HclMap, Kind::Toml, Kind::Dotenv] {
        for fx in fixtures(Some(kind)) {
            let inv = source::read(&fx.locator, &fx.label, &fx.bytes).unwrap();
            for c in &inv.components {
                check_set(&fx, &c.name, "10.0.0-golden");
                check_set(&fx, &c.name, &c.version);
            }
        }
    }
}

fn diff_of(label: &str, component: &str, version: &str) -> String {
    let fx = fixture(label);
    let out =
        source::set_versions(&fx.locator, &fx.label, &fx.bytes, &[(component, version)]).unwrap();
    promote::cmd::file::unified_diff(&fx.label, &fx.bytes, &out)
}

#[test]
fn diffs_touch_only_the_version() {
    insta::assert_snapshot!(
        "diff_hcl_cilium",
        diff_of("hcl-map/stack.hcl", "cilium", "1.19.0")
    );
    insta::assert_snapshot!(
        "diff_hcl_quoted_key",
        diff_of("hcl-map/stack.hcl", "cert-manager", "v1.20.0")
    );
    insta::assert_snapshot!(
        "diff_toml_literal",
        diff_of("toml/tools.toml", "kubernetes", "1.36.0")
    );
    insta::assert_snapshot!(
        "diff_dotenv_export",
        diff_of("dotenv/versions.env", "dex_version", "v2.42.0")
    );
}

#[test]
fn crlf_and_missing_final_newline_survive() {
    for label in [
        "hcl-map/crlf-no-final-newline.hcl",
        "toml/inline-crlf.toml",
        "dotenv/crlf-no-final-newline.env",
    ] {
        let fx = fixture(label);
        let inv = source::read(&fx.locator, &fx.label, &fx.bytes).unwrap();
        let changes: Vec<(&str, &str)> = inv
            .components
            .iter()
            .map(|c| (c.name.as_str(), "2.0.0"))
            .collect();
        let out = source::set_versions(&fx.locator, &fx.label, &fx.bytes, &changes).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text.matches("\r\n").count(),
            String::from_utf8_lossy(&fx.bytes).matches("\r\n").count()
        );
        assert_eq!(
            text.matches('\n').count(),
            text.matches("\r\n").count(),
            "{label}: a bare LF appeared"
        );
        assert_eq!(text.ends_with('\n'), fx.bytes.ends_with(b"\n"), "{label}");
    }
}

#[test]
fn toml_keeps_literal_quotes_and_hcl_escapes_templates() {
    let fx = fixture("toml/tools.toml");
    let out = source::set_versions(
        &fx.locator,
        &fx.label,
        &fx.bytes,
        &[("kubernetes", "1.36.0")],
    )
    .unwrap();
    assert!(
        String::from_utf8(out)
            .unwrap()
            .contains("kubernetes = '1.36.0'    # literal string")
    );

    let fx = fixture("hcl-map/stack.hcl");
    let out =
        source::set_versions(&fx.locator, &fx.label, &fx.bytes, &[("talos", "${x}")]).unwrap();
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(
        text.contains(r#"talos       = "$${x}" # trailing hash comment"#),
        "{text}"
    );
    let inv = source::read(&fx.locator, &fx.label, &out).unwrap();
    assert_eq!(inv.get("talos").unwrap().version, "${x}");
    assert_eq!(inv.get("talos").unwrap().indirect, None);
}

fn read_err(kind: Kind, at: Option<&str>, text: &str) -> EditError {
    let mut loc = Locator::new(kind);
    loc.at = at.map(str::to_string);
    let err = source::read(&loc, "bad", text.as_bytes()).unwrap_err();
    // Whatever broke, the editor must also refuse to write.
    assert!(source::set_versions(&loc, "bad", text.as_bytes(), &[("talos", "1")]).is_err());
    err
}

fn location(err: &EditError) -> (usize, usize) {
    err.location()
        .1
        .unwrap_or_else(|| panic!("no location in {err:?}"))
}

#[test]
fn broken_hcl_names_line_and_column() {
    let text =
        "locals {\n  versions = {\n    talos = \"v1.12.1\"\n    cilium = = \"1.18.6\"\n  }\n}\n";
    let err = read_err(Kind::HclMap, None, text);
    assert!(matches!(err, EditError::Parse { .. }), "{err:?}");
    assert_eq!(location(&err), (4, 14), "{err}");
    // Non-ASCII before the error counts in characters; an unclosed block points at the end.
    let err = read_err(Kind::HclMap, None, "locals {\n  é = \"x\" \"y\"\n}\n");
    assert_eq!(location(&err), (2, 11), "{err}");
    let err = read_err(Kind::HclMap, None, "locals {\n  versions = {}\n");
    assert_eq!(location(&err), (3, 1), "{err}");

    let err = read_err(
        Kind::HclMap,
        None,
        "locals {\n  versions = {\n    talos  = \"v1\"\n    talos = \"v2\"\n  }\n}\n",
    );
    assert!(err.to_string().contains("redefined object key"), "{err}");
    assert_eq!(location(&err).0, 4, "{err}");
}

/// The vendored hcl-edit checks object keys for repeats through a hash set (linear, not
/// quadratic): every key shape is still refused where it repeats, as `VecMap` refused it, and an
/// identifier and a quoted string of one name stay two keys of the parser (promote then names the
/// duplicate component).
#[test]
fn hcl_repeated_keys_of_every_shape_are_refused_where_they_repeat() {
    let redefined = |text: &str, at: (usize, usize)| {
        let err = read_err(Kind::HclMap, None, text);
        assert!(
            err.to_string().contains("redefined object key"),
            "{text}: {err}"
        );
        assert_eq!(location(&err), at, "{text}: {err}");
    };
    redefined(
        "locals {\n  versions = {\n    \"a\" = \"1\"\n    \"a\" = \"2\"\n  }\n}\n",
        (4, 5),
    );
    redefined(
        "locals {\n  versions = {\n    (k) = \"1\"\n    b = \"3\"\n    (k) = \"2\"\n  }\n}\n",
        (5, 5),
    );
    redefined(
        "locals {\n  versions = {\n    a = \"1\", a = \"2\" }\n}\n",
        (3, 14),
    );
    // Inside a value too, and after many keys (the last repeats the first).
    redefined(
        "locals {\n  versions = {\n    a = \"1\"\n    b = { x = 1, x = 2 }\n  }\n}\n",
        (4, 18),
    );
    let mut big = String::from("locals {\n  versions = {\n");
    for i in 0..5_000 {
        big.push_str(&format!("    tool_{i} = \"v{i}\"\n"));
    }
    big.push_str("    tool_0 = \"v9\"\n  }\n}\n");
    redefined(&big, (5_003, 5));
    // `a` and `"a"` are two keys to hcl-edit, one component to promote.
    let err = read_err(
        Kind::HclMap,
        None,
        "locals {\n  versions = {\n    a = \"1\"\n    \"a\" = \"2\"\n  }\n}\n",
    );
    assert!(
        matches!(err, EditError::Duplicate { first_line: 3, .. }),
        "{err:?}"
    );
    assert_eq!(location(&err), (4, 11), "{err}");
}

#[test]
fn hcl_non_strings_are_refused_with_their_location() {
    let text = "locals {\n  versions = {\n    talos    = \"v1\"\n    replicas = 3\n  }\n}\n";
    let err = read_err(Kind::HclMap, None, text);
    assert!(
        matches!(&err, EditError::NotAString { component, found, .. } if component == "replicas" && found == "number"),
        "{err:?}"
    );
    assert_eq!(location(&err), (4, 16));
    let err = read_err(
        Kind::HclMap,
        None,
        "locals {\n  versions = { a = upper(\"x\") }\n}\n",
    );
    assert!(err.to_string().contains("function call"), "{err}");
    let err = read_err(Kind::HclMap, None, "locals {\n  versions = \"1.0\"\n}\n");
    assert_eq!(location(&err), (2, 14), "{err}");
    let err = read_err(
        Kind::HclMap,
        Some("locals.missing"),
        "locals {\n  versions = {}\n}\n",
    );
    assert!(matches!(err, EditError::PathNotFound { .. }), "{err:?}");
}

#[test]
fn broken_toml_names_line_and_column() {
    let err = read_err(
        Kind::Toml,
        Some("tool.versions"),
        "[tool.versions]\ntalos = \"v1\ncilium = \"1\"\n",
    );
    assert!(matches!(err, EditError::Parse { .. }), "{err:?}");
    assert_eq!(location(&err), (2, 12), "{err}");
    let err = read_err(Kind::Toml, Some("v"), "[v]\ntalos = 'v1'\nreplicas = 3\n");
    assert!(matches!(err, EditError::NotAString { .. }), "{err:?}");
    assert_eq!(location(&err), (3, 12));
}

#[test]
fn broken_dotenv_names_line_and_column() {
    let err = read_err(Kind::Dotenv, None, "# ok\nTALOS=v1\nCILIUM 1.18\n");
    assert_eq!(location(&err), (3, 1), "{err}");
    // An unterminated quote is no dotenv quoting: read verbatim (as kustomize does), refused as
    // a version where someone writes it.
    let text = "TALOS=\"v1\nFLUX=2\n";
    let inv = source::read(&Locator::new(Kind::Dotenv), "f", text.as_bytes()).unwrap();
    assert_eq!(inv.get("TALOS").unwrap().version, "\"v1");
    let err = source::set_versions(
        &Locator::new(Kind::Dotenv),
        "f",
        b"TALOS=v1\nFLUX=2\n",
        &[("TALOS", "\"v1")],
    )
    .unwrap_err();
    assert!(matches!(err, EditError::BadVersion { .. }), "{err:?}");
    assert_eq!(location(&err), (1, 7), "{err}");
    let err = read_err(Kind::Dotenv, None, "TALOS=v1\nTALOS=v2\n");
    assert!(
        matches!(err, EditError::Duplicate { first_line: 1, .. }),
        "{err:?}"
    );
}

#[test]
fn quoted_path_segments_may_hold_dots() {
    let mut loc = Locator::new(Kind::Toml);
    loc.at = Some(r#"tools."helm.sh""#.to_string());
    let text = "[tools.\"helm.sh\"]\nhelm = '3.19.0'\n\"oci://ghcr.io/x\" = \"1.0\"\n";
    let inv = source::read(&loc, "f", text.as_bytes()).unwrap();
    let addresses: Vec<&str> = inv.components.iter().map(|c| c.address.as_str()).collect();
    assert_eq!(
        addresses,
        [
            r#"tools."helm.sh".helm"#,
            r#"tools."helm.sh"."oci://ghcr.io/x""#
        ]
    );

    let mut loc = Locator::new(Kind::HclMap);
    loc.at = Some(r#"unit."talos.v1".values.versions"#.to_string());
    let text = "unit \"talos.v1\" {\n  values = { versions = { talos = \"v1.12.1\" } }\n}\n";
    let out = source::set_versions(&loc, "f", text.as_bytes(), &[("talos", "v1.13.0")]).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        text.replace("v1.12.1", "v1.13.0")
    );
}
