//! Property test over every editor fixture: any new version changes exactly one contiguous byte
//! region inside the old value's span, and re-reading returns it. Indirect values refuse.
//!
//! Fixtures live in `tests/fixtures/edit/<kind>/`; the directory name is the kind. A sidecar
//! `<file>.locator.json` (`{"at": "locals.versions"}`) gives the locator's options.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use promote::edit::EditError;
use promote::source::{self, Kind, Locator};
use proptest::prelude::*;
use serde::Deserialize;

use crate::support;

/// One fixture file and the locator to read it with.
pub struct Fixture {
    /// `kind/file`, for messages and snapshot names.
    pub label: String,
    pub locator: Locator,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LocatorFile {
    at: Option<String>,
    items: Option<String>,
    key: Option<String>,
    value: Option<String>,
    #[serde(alias = "version-key")]
    version_key: Option<String>,
    part: Option<source::Part>,
}

/// Every fixture under `tests/fixtures/edit/`, or only the kind `only` when given.
pub fn fixtures(only: Option<Kind>) -> Vec<Fixture> {
    let root = support::fixture("edit");
    let mut out = Vec::new();
    for dir in sorted_entries(&root) {
        let dir_name = dir.file_name().unwrap().to_string_lossy().to_string();
        let kind: Kind = serde_json::from_value(serde_json::Value::String(dir_name.clone()))
            .unwrap_or_else(|e| panic!("fixture dir `{dir_name}` is not a kind: {e}"));
        if only.is_some_and(|k| k != kind) {
            continue;
        }
        for path in sorted_entries(&dir) {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.ends_with(".locator.json") || path.is_dir() {
                continue;
            }
            out.push(Fixture {
                locator: locator_for(kind, &path),
                label: format!("{dir_name}/{name}"),
                bytes: std::fs::read(&path).unwrap(),
            });
        }
    }
    out
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    entries
}

fn locator_for(kind: Kind, path: &Path) -> Locator {
    let sidecar = PathBuf::from(format!("{}.locator.json", path.display()));
    let opts: LocatorFile = match std::fs::read_to_string(&sidecar) {
        Ok(text) => {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", sidecar.display()))
        }
        Err(_) => LocatorFile::default(),
    };
    Locator {
        kind,
        at: opts.at,
        items: opts.items,
        key: opts.key,
        value: opts.value,
        version_key: opts.version_key,
        part: opts.part,
    }
}

/// Assert `new` differs from `old` in at most one contiguous region, inside `span`.
pub fn assert_changed_only_inside(
    label: &str,
    old: &[u8],
    new: &[u8],
    span: &std::ops::Range<usize>,
) {
    if old == new {
        return;
    }
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let max_suffix = old.len().min(new.len()) - prefix;
    let suffix = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    assert!(
        prefix >= span.start && old.len() - suffix <= span.end,
        "{label}: bytes {}..{} changed, outside the value span {span:?}",
        prefix,
        old.len() - suffix
    );
}

/// Set `component` to `version` and check the edit, the re-read and the no-op.
pub fn check_set(fx: &Fixture, component: &str, version: &str) {
    let before = source::read(&fx.locator, &fx.label, &fx.bytes).unwrap();
    let c = before.get(component).unwrap();
    let result = source::set_versions(&fx.locator, &fx.label, &fx.bytes, &[(component, version)]);
    if c.indirect.is_some() {
        assert!(
            matches!(result, Err(EditError::Indirect { .. })),
            "{}: indirect `{component}` must refuse, got {result:?}",
            fx.label
        );
        return;
    }
    if c.version != version
        && let Err(why) = source::validate_version(c.rule, version)
    {
        // Not a version this field takes (`true` as a chart version, `9.9.9` as a digest).
        assert!(
            matches!(&result, Err(EditError::BadVersion { message, .. }) if *message == why),
            "{}: `{component}` ({:?}) must refuse `{version}`, got {result:?}",
            fx.label,
            c.rule
        );
        return;
    }
    let out =
        result.unwrap_or_else(|e| panic!("{}: set `{component}` to `{version}`: {e}", fx.label));
    if c.version == version {
        assert_eq!(
            out, fx.bytes,
            "{}: a no-op edit must be byte-identical",
            fx.label
        );
    } else {
        assert_ne!(
            out, fx.bytes,
            "{}: `{component}` -> `{version}` changed nothing",
            fx.label
        );
    }
    assert_changed_only_inside(&fx.label, &fx.bytes, &out, &c.span);
    let after = source::read(&fx.locator, &fx.label, &out).unwrap();
    assert_eq!(
        after.get(component).unwrap().version,
        version,
        "{}",
        fx.label
    );
    for other in before.components.iter().filter(|o| o.name != component) {
        assert_eq!(
            after.get(&other.name).unwrap().version,
            other.version,
            "{}",
            fx.label
        );
    }
    let noop = source::set_versions(&fx.locator, &fx.label, &out, &[(component, version)]).unwrap();
    assert_eq!(
        noop, out,
        "{}: setting the same version again must be a no-op",
        fx.label
    );
}

const FIXED_VERSIONS: &[&str] = &[
    "9.9.9",
    "v10.0.0-rc.1",
    "sha-0123abcd",
    "1.20",
    "4.15",
    "true",
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
];

#[test]
fn every_fixture_component_takes_the_fixed_versions() {
    let all = fixtures(None);
    let mut checked = 0;
    for fx in &all {
        let inv = source::read(&fx.locator, &fx.label, &fx.bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", fx.label));
        for c in &inv.components {
            checked += 1;
            for version in FIXED_VERSIONS.iter().copied().chain([c.version.as_str()]) {
                check_set(fx, &c.name, version);
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} components under tests/fixtures/edit"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_fixture_component_takes_generated_versions(
        version in r"v?[0-9]{1,3}(\.[0-9]{1,3}){0,2}(-[a-z]{1,5}(\.[0-9]{1,2})?)?(\+[a-z0-9]{1,6})?",
    ) {
        for fx in &fixtures(None) {
            let inv = source::read(&fx.locator, &fx.label, &fx.bytes).unwrap();
            for c in &inv.components {
                check_set(fx, &c.name, &version);
            }
        }
    }
}

/// The re-read after a splice is what stands between a wrong span and a write: spans read from
/// one text, spliced into another, make a file whose components differ, and it is refused.
#[test]
fn the_reread_refuses_a_splice_that_does_not_read_back() {
    let loc = Locator::new(Kind::Dotenv);
    let read_from = b"A=v1\nB=v2\n";
    let inv = source::read(&loc, "versions.env", read_from).unwrap();
    let other = b"ABCD=v1\n";
    let set = [("A", "v9")];
    let err = source::set_versions_read(&loc, "versions.env", other, &inv, &set).unwrap_err();
    assert!(
        matches!(&err, EditError::Verify { message, .. } if message.contains("set of components changed")),
        "{err}"
    );
    // The positive control: on the bytes it was read from, the same splice re-reads as asked.
    let ok = source::set_versions_read(&loc, "versions.env", read_from, &inv, &set).unwrap();
    assert_eq!(ok, b"A=v9\nB=v2\n");
    // What a preview asks of the same inventory: which components change, with the same
    // refusals (an unknown component here), and no bytes at all.
    let changed = source::changed_components("versions.env", &inv, &set).unwrap();
    assert_eq!(changed.len(), 1);
    assert_eq!((changed[0].0.name.as_str(), changed[0].1), ("A", "v9"));
    assert!(
        source::changed_components("versions.env", &inv, &[("A", "v1")])
            .unwrap()
            .is_empty()
    );
    let unknown = source::changed_components("versions.env", &inv, &[("C", "v1")]).unwrap_err();
    assert!(
        matches!(unknown, EditError::UnknownComponent { .. }),
        "{unknown}"
    );
}
