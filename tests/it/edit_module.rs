//! Versions inside blocks and strings (issue 15): `module-source` refs, registry versions and
//! `module` constraints, `${local.x}` pins, `hcl-map` at a block, and `part = "image-tag"`.
//! Golden inventories and diffs on `tests/fixtures/edit/`; the property test over every fixture
//! (`edit_props`) covers these fixtures too.

#![allow(clippy::unwrap_used)]

use promote::edit::EditError;
use promote::source::{self, Kind, Rule};

use crate::edit_props::{Fixture, assert_changed_only_inside, fixtures};
use crate::support::{fixture, promote_cmd};

fn fx(label: &str) -> Fixture {
    fixtures(None)
        .into_iter()
        .find(|f| f.label == label)
        .unwrap_or_else(|| panic!("no fixture `{label}`"))
}

fn set(label: &str, changes: &[(&str, &str)]) -> Vec<u8> {
    let f = fx(label);
    source::set_versions(&f.locator, &f.label, &f.bytes, changes)
        .unwrap_or_else(|e| panic!("{label}: {e}"))
}

fn diff(label: &str, changes: &[(&str, &str)]) -> String {
    let f = fx(label);
    let out = set(label, changes);
    promote::cmd::file::unified_diff(&f.label, &f.bytes, &out)
}

/// Every module source of the fixtures: names, versions, lines, columns, addresses, notes.
#[test]
fn module_source_inventories_match_golden() {
    for f in fixtures(Some(Kind::ModuleSource)) {
        let inv = source::read(&f.locator, &f.label, &f.bytes).unwrap();
        insta::assert_yaml_snapshot!(
            format!("inventory_{}", f.label.replace(['/', '.'], "_")),
            inv
        );
    }
}

#[test]
fn names_come_from_the_module_path_the_repository_the_registry_or_the_label() {
    let names = |label: &str| {
        let f = fx(label);
        source::read(&f.locator, &f.label, &f.bytes)
            .unwrap()
            .names()
    };
    assert_eq!(names("module-source/terragrunt.hcl"), ["app"]);
    assert_eq!(
        names("module-source/local-pinned-crlf.hcl"),
        ["units/talos-infra"]
    );
    assert_eq!(
        names("module-source/terragrunt.stack.hcl"),
        ["units/app", "units/db", "observability"]
    );
    // Two modules of one registry source are told apart by their labels; a local path pins
    // nothing and is left out with a note.
    assert_eq!(
        names("module-source/main.tf"),
        [
            "vpc",
            "s3-bucket.logs",
            "s3-bucket.assets",
            "terraform-net",
            "rds",
            "cache",
            "esc"
        ]
    );
    let f = fx("module-source/main.tf");
    let inv = source::read(&f.locator, &f.label, &f.bytes).unwrap();
    assert_eq!(
        inv.notes,
        ["`module.local.source` pins no version (`../modules/local`): skipped"]
    );
    let rules: Vec<Rule> = inv.components.iter().map(|c| c.rule).collect();
    assert_eq!(
        rules,
        [
            Rule::VersionConstraint,
            Rule::VersionConstraint,
            Rule::VersionConstraint,
            Rule::GitRef,
            Rule::ModuleVersion,
            Rule::GitRef,
            Rule::GitRef
        ]
    );
}

/// Each edit changes the bytes of the ref (or of the local, or the tag) and nothing else.
#[test]
fn diffs_change_only_the_version_bytes() {
    for (name, label, changes) in [
        (
            "ref_in_terraform_block",
            "module-source/terragrunt.hcl",
            &[("app", "v0.4.0")][..],
        ),
        (
            "ref_through_local_crlf",
            "module-source/local-pinned-crlf.hcl",
            &[("units/talos-infra", "v1.3.0")],
        ),
        (
            "several_sources_in_a_tf_file",
            "module-source/main.tf",
            &[
                ("vpc", "~> 5.2"),
                ("s3-bucket.assets", ">= 4.1, < 5.0"),
                ("terraform-net", "v2.1.0"),
                ("rds", "6.2.0"),
                ("esc", "v1.1.0"),
            ],
        ),
        (
            "stack_units_crlf",
            "module-source/terragrunt.stack.hcl",
            &[
                ("units/app", "v1.5.0"),
                ("units/db", "v1.4.0"),
                ("observability", "1.0.0"),
            ],
        ),
        (
            "image_tag_to_digest_hcl_crlf",
            "hcl-map/images-crlf.hcl",
            &[
                (
                    "api",
                    "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
                ),
                ("web", "1.28"),
            ],
        ),
        (
            "image_tag_yaml_plain",
            "yaml/helm-values-image.yaml",
            &[("image", "1.5.0")],
        ),
        (
            "image_tag_toml_literal",
            "toml/images.toml",
            &[("worker", "v1.0.0"), ("api", "1.4.3")],
        ),
        (
            "hcl_map_at_locals_block",
            "hcl-map/locals-block.hcl",
            &[
                ("infra_module_version", "v1.3.0"),
                ("chart_version", "1.19.0"),
            ],
        ),
    ] {
        insta::assert_snapshot!(format!("diff_{name}"), diff(label, changes));
    }
}

#[test]
fn a_ref_edit_is_a_splice_inside_the_string() {
    let f = fx("module-source/terragrunt.hcl");
    let out = String::from_utf8(set(&f.label, &[("app", "feature/new-vpc")])).unwrap();
    let before = String::from_utf8(f.bytes.clone()).unwrap();
    assert_eq!(
        out,
        before.replacen("?ref=v0.3.0\"", "?ref=feature/new-vpc\"", 1)
    );
    // The heredoc's look-alike URL is a neighbour, not a source.
    assert!(out.contains("//app?ref=v9.9.9"));

    // Among other query parameters, and written with an escape: only the ref's raw bytes change.
    let f = fx("module-source/main.tf");
    let out = String::from_utf8(set(&f.label, &[("esc", "v2.0.0")])).unwrap();
    assert!(
        out.contains(
            r#"source = "git::ssh://git@example.com/acme/esc.git?ref=v2.0.0&sshkey=a$${b}""#
        ),
        "{out}"
    );
    let inv = source::read(&f.locator, &f.label, &f.bytes).unwrap();
    let esc = inv.get("esc").unwrap();
    assert_eq!(&f.bytes[esc.span.clone()], br"v\u0031.0.0");
    assert_eq!(esc.version, "v1.0.0");
    assert_changed_only_inside(&f.label, &f.bytes, out.as_bytes(), &esc.span);
}

#[test]
fn a_local_pin_edits_the_local_not_the_url() {
    let f = fx("module-source/local-pinned-crlf.hcl");
    let inv = source::read(&f.locator, &f.label, &f.bytes).unwrap();
    let c = inv.get("units/talos-infra").unwrap();
    assert_eq!((c.version.as_str(), c.line, c.column), ("v1.2.0", 2, 26));
    assert_eq!(c.indirect, None);
    let out = set(&f.label, &[("units/talos-infra", "v1.3.0")]);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("  infra_module_version = \"v1.3.0\" /* pinned here */\r\n"));
    assert!(text.contains("&ref=${local.infra_module_version}\" // via the local\r\n}"));
    assert!(!text.ends_with('\n'), "no final newline stays so");
    assert_eq!(text.matches("\r\n").count(), text.matches('\n').count());
}

#[test]
fn crlf_files_take_every_version_at_once() {
    for label in [
        "module-source/local-pinned-crlf.hcl",
        "module-source/terragrunt.stack.hcl",
        "hcl-map/images-crlf.hcl",
        "yaml/compose-digest-crlf.yaml",
    ] {
        let f = fx(label);
        let inv = source::read(&f.locator, &f.label, &f.bytes).unwrap();
        let changes: Vec<(&str, &str)> = inv
            .components
            .iter()
            .map(|c| (c.name.as_str(), "9.0.0"))
            .collect();
        let out = String::from_utf8(set(label, &changes)).unwrap();
        let old = String::from_utf8(f.bytes.clone()).unwrap();
        assert_eq!(
            out.matches("\r\n").count(),
            old.matches("\r\n").count(),
            "{label}"
        );
        assert_eq!(
            out.matches('\n').count(),
            out.matches("\r\n").count(),
            "{label}"
        );
        assert_eq!(out.ends_with('\n'), old.ends_with('\n'), "{label}");
        let after = source::read(&f.locator, &f.label, out.as_bytes()).unwrap();
        assert!(after.components.iter().all(|c| c.version == "9.0.0"));
    }
}

#[test]
fn other_interpolations_and_shared_locals_are_indirect() {
    let f = fx("module-source/main.tf");
    let inv = source::read(&f.locator, &f.label, &f.bytes).unwrap();
    let cache = inv.get("cache").unwrap();
    assert_eq!(cache.indirect.as_deref(), Some("var.cache_ref"));
    assert_eq!(cache.version, "${var.cache_ref}");
    let err = source::set_versions(&f.locator, &f.label, &f.bytes, &[("cache", "v2")]).unwrap_err();
    assert!(matches!(err, EditError::Indirect { .. }), "{err:?}");

    let f = fx("module-source/shared-local.tf");
    let inv = source::read(&f.locator, &f.label, &f.bytes).unwrap();
    for name in ["a", "b"] {
        let c = inv.get(name).unwrap();
        assert_eq!(c.indirect.as_deref(), Some("local.modules_ref"), "{name}");
        let err =
            source::set_versions(&f.locator, &f.label, &f.bytes, &[(name, "v3.1.0")]).unwrap_err();
        assert!(matches!(err, EditError::Indirect { .. }), "{err:?}");
    }
    assert_eq!(inv.get("c").unwrap().version, "v3.0.0");
    assert!(inv.notes[0].contains("`local.modules_ref` pins module.a, module.b"));

    // A ref only partly a local (`v${local.major}`) is never edited either.
    let text = "locals {\n  major = \"1\"\n}\nterraform {\n  source = \"git::https://x/m.git//app?ref=v${local.major}.0\"\n}\n";
    let loc = source::Locator::new(Kind::ModuleSource);
    let inv = source::read(&loc, "f", text.as_bytes()).unwrap();
    let c = inv.get("app").unwrap();
    assert_eq!(c.indirect.as_deref(), Some("local.major"));
    assert_eq!(c.version, "v${local.major}.0");
}

#[test]
fn versions_terraform_accepts_are_taken_and_others_refused() {
    let f = fx("module-source/main.tf");
    for (name, good) in [
        ("vpc", "~> 5.2"),
        ("vpc", ">= 5.0.0, < 6.0.0"),
        ("vpc", "5.2.0"),
        ("terraform-net", "0123456789abcdef0123456789abcdef01234567"),
        ("terraform-net", "release/2024-05"),
        ("rds", "6.2.0-beta.1"),
    ] {
        source::set_versions(&f.locator, &f.label, &f.bytes, &[(name, good)])
            .unwrap_or_else(|e| panic!("{name} = {good:?}: {e}"));
    }
    for (name, bad) in [
        ("terraform-net", "v2&ref=v3"),
        ("terraform-net", "v2#x"),
        ("terraform-net", "v2\"x"),
        ("terraform-net", "v2 x"),
        ("rds", "~> 6.2"),
        ("rds", "6.2.0&x=1"),
        ("vpc", "latest"),
        ("vpc", "~> 5.2\n"),
    ] {
        let err = source::set_versions(&f.locator, &f.label, &f.bytes, &[(name, bad)]).unwrap_err();
        assert!(
            matches!(err, EditError::BadVersion { .. }),
            "{name} = {bad:?}: {err:?}"
        );
    }
}

#[test]
fn image_references_without_a_tag_are_refused_where_they_are() {
    let mut loc = source::Locator::new(Kind::Yaml);
    loc.at = Some("image".into());
    loc.part = Some(source::Part::ImageTag);
    let err = source::read(&loc, "v.yaml", b"image: localhost:5000/api\n").unwrap_err();
    assert!(
        matches!(&err, EditError::NotAString { line: 1, column: 8, found, .. } if found.contains("without a tag")),
        "{err:?}"
    );
    // A substitution stays indirect.
    let inv = source::read(&loc, "v.yaml", b"image: ghcr.io/acme/api:${TAG}\n").unwrap();
    assert_eq!(inv.components[0].indirect.as_deref(), Some("TAG"));
    // An image tag never takes a git ref or a constraint.
    let err = source::set_versions(&loc, "v.yaml", b"image: a/b:1.0\n", &[("image", "v1/2")])
        .unwrap_err();
    assert!(matches!(err, EditError::BadVersion { .. }), "{err:?}");
}

#[test]
fn hcl_map_at_locals_inputs_and_labelled_blocks() {
    let text = "locals {\n  a_version = \"1.0\"\n}\ninputs = {\n  b_version = \"2.0\"\n}\nlocals {\n  c_version = \"3.0\"\n}\n";
    for (at, names) in [
        ("locals", &["a_version", "c_version"][..]),
        ("inputs", &["b_version"]),
    ] {
        let mut loc = source::Locator::new(Kind::HclMap);
        loc.at = Some(at.into());
        let inv = source::read(&loc, "f", text.as_bytes()).unwrap();
        assert_eq!(inv.names(), names, "{at}");
    }
}

#[test]
fn the_cli_detects_module_sources_and_takes_at_and_part() {
    let path = fixture("edit/module-source/terragrunt.hcl");
    let out = promote_cmd().arg("versions").arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("app") && stdout.contains("v0.3.0"),
        "{stdout}"
    );

    let path = fixture("edit/module-source/local-pinned-crlf.hcl");
    let out = promote_cmd()
        .args(["versions", "--at", "locals"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("infra_module_version"), "{stdout}");

    let path = fixture("edit/yaml/helm-values-image.yaml");
    let out = promote_cmd()
        .args([
            "versions",
            "--kind",
            "yaml",
            "--at",
            "api.image",
            "--part",
            "image-tag",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("image      1.4.2"), "{stdout}");
}
