//! `flux`: HelmRelease chart versions, OCIRepository refs and ResourceSet inputs, in every
//! document of a multi-document file.
//!
//! Components are named after the resource (or the ResourceSet input). When two resources of one
//! file share a name, their names are qualified as `<kind>/<name>`, then `<kind>/<namespace>/<name>`,
//! so that only a true duplicate is left for the duplicate check.

use rustc_hash::FxHashMap as HashMap;

use super::yaml_list::component;
use super::{Component, Inventory, Locator, Rule};
use crate::Text;
use crate::edit::yaml::{self, Node};
use crate::edit::{EditError, LineIndex};

/// A component with what its longer names are made of, should its plain name be ambiguous:
/// `<kind>/<name>`, then `<kind>/<namespace>/<name>` (for a ResourceSet input,
/// `resourceset/<namespace>/<set>/<name>`). Made only when needed.
struct Found {
    component: Component,
    /// The resource kind, lowercase.
    kind: &'static str,
    namespace: Text,
    /// A ResourceSet input's set name.
    set: Option<Text>,
    /// The plain name, once the first qualification replaced it.
    plain: Option<Text>,
}

impl Found {
    fn qualify(&mut self, level: usize) {
        let name = &mut self.component.name;
        if level == 0 {
            let plain = std::mem::take(name);
            *name = compact_str::format_compact!("{}/{plain}", self.kind);
            self.plain = Some(plain);
            return;
        }
        let plain = self.plain.as_deref().unwrap_or(name);
        *name = match &self.set {
            Some(set) => {
                compact_str::format_compact!("resourceset/{}/{set}/{plain}", self.namespace)
            }
            None => compact_str::format_compact!("{}/{}/{plain}", self.kind, self.namespace),
        };
    }
}

pub fn read(loc: &Locator, file: &str, text: &str) -> Result<Inventory, EditError> {
    let mut found = Vec::new();
    let mut notes = Vec::new();
    // Each document is read as soon as it is parsed, and its tree dropped. The first error of a
    // document waits for the end of the parse: a syntax error anywhere in the file comes first.
    let mut failed = None;
    yaml::for_each_doc(file, text, |doc, lines| {
        if failed.is_none()
            && let Err(e) = read_doc(loc, file, lines, &doc, &mut found, &mut notes)
        {
            failed = Some(e);
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    Ok(Inventory {
        file: file.to_string(),
        components: qualify(found),
        notes,
    })
}

/// The components (and notes) of one document.
fn read_doc(
    loc: &Locator,
    file: &str,
    lines: &LineIndex,
    doc: &Node,
    found: &mut Vec<Found>,
    notes: &mut Vec<String>,
) -> Result<(), EditError> {
    let kind = doc.get("kind").and_then(Node::as_str).unwrap_or_default();
    let meta = Meta::of(doc);
    match kind {
        "HelmRelease" => found.extend(helm_release(file, lines, doc, &meta, notes)?),
        "OCIRepository" => found.extend(oci_repository(file, lines, doc, &meta, notes)?),
        "ResourceSet" => {
            let key = loc.version_key.as_deref().unwrap_or("version");
            found.extend(resource_set(file, lines, doc, &meta, key, notes)?);
        }
        _ => {}
    }
    Ok(())
}

struct Meta<'a> {
    name: &'a str,
    namespace: &'a str,
}

impl<'a> Meta<'a> {
    fn of(doc: &'a Node) -> Self {
        let field = |k| doc.lookup(k).and_then(Node::as_str).unwrap_or_default();
        Meta {
            name: field("metadata.name"),
            namespace: Some(field("metadata.namespace"))
                .filter(|n| !n.is_empty())
                .unwrap_or("default"),
        }
    }

    fn found(&self, kind: &'static str, component: Component) -> Found {
        Found {
            component,
            kind,
            namespace: self.namespace.into(),
            set: None,
            plain: None,
        }
    }
}

fn helm_release(
    file: &str,
    lines: &LineIndex,
    doc: &Node,
    meta: &Meta,
    notes: &mut Vec<String>,
) -> Result<Option<Found>, EditError> {
    let path = "spec.chart.spec.version";
    let Some(node) = doc.lookup(path) else {
        let why = if doc.lookup("spec.chartRef").is_some() {
            "uses `spec.chartRef`"
        } else {
            "has no `spec.chart.spec.version`"
        };
        notes.push(format!(
            "HelmRelease/{} (line {}) {why}, skipped",
            meta.name,
            doc.line_col(lines).0
        ));
        return Ok(None);
    };
    let address = format!("HelmRelease/{}: {path}", meta.name);
    let mut c = component(file, meta.name, address, node, lines)?;
    c.rule = Rule::Chart;
    Ok(Some(meta.found("helmrelease", c)))
}

fn oci_repository(
    file: &str,
    lines: &LineIndex,
    doc: &Node,
    meta: &Meta,
    notes: &mut Vec<String>,
) -> Result<Option<Found>, EditError> {
    // Flux's precedence: digest, then semver, then tag.
    let path = ["spec.ref.digest", "spec.ref.semver", "spec.ref.tag"]
        .into_iter()
        .find(|p| doc.lookup(p).is_some());
    let Some((path, node)) = path.and_then(|p| Some((p, doc.lookup(p)?))) else {
        notes.push(format!(
            "OCIRepository/{} (line {}) has no `spec.ref` tag, semver or digest, skipped",
            meta.name,
            doc.line_col(lines).0
        ));
        return Ok(None);
    };
    let shadowed: Vec<&str> = ["spec.ref.semver", "spec.ref.tag"]
        .into_iter()
        .filter(|p| *p != path && doc.lookup(p).is_some())
        .collect();
    if !shadowed.is_empty() {
        notes.push(format!(
            "OCIRepository/{}: `{path}` takes precedence; `{}` not promoted",
            meta.name,
            shadowed.join("`, `")
        ));
    }
    let address = format!("OCIRepository/{}: {path}", meta.name);
    let mut c = component(file, meta.name, address, node, lines)?;
    c.rule = match path {
        "spec.ref.digest" => Rule::Digest,
        "spec.ref.semver" => Rule::Chart,
        _ => Rule::ImageTag,
    };
    Ok(Some(meta.found("ocirepository", c)))
}

fn resource_set(
    file: &str,
    lines: &LineIndex,
    doc: &Node,
    meta: &Meta,
    version_key: &str,
    notes: &mut Vec<String>,
) -> Result<Vec<Found>, EditError> {
    let mut out = Vec::new();
    let Some(inputs) = doc.lookup("spec.inputs") else {
        return Ok(out);
    };
    for (i, input) in inputs.items().iter().enumerate() {
        let Some(name) = input.get("name").and_then(Node::as_str) else {
            notes.push(format!(
                "ResourceSet/{}: spec.inputs[{i}] has no `name`, skipped",
                meta.name
            ));
            continue;
        };
        let Some(node) = input.lookup(version_key) else {
            notes.push(format!(
                "ResourceSet/{}: input `{name}` has no `{version_key}`, skipped",
                meta.name
            ));
            continue;
        };
        let address = format!("ResourceSet/{}: spec.inputs[{i}].{version_key}", meta.name);
        let c = component(file, name, address, node, lines)?;
        let mut f = meta.found("resourceset", c);
        f.set = Some(meta.name.into());
        out.push(f);
    }
    Ok(out)
}

/// Replace ambiguous names by their qualified forms, one level at a time.
fn qualify(mut found: Vec<Found>) -> Vec<Component> {
    for level in 0..2 {
        let ambiguous: Vec<bool> = {
            let mut count: HashMap<&str, usize> =
                HashMap::with_capacity_and_hasher(found.len(), Default::default());
            for f in &found {
                *count.entry(&f.component.name).or_default() += 1;
            }
            found
                .iter()
                .map(|f| count[f.component.name.as_str()] > 1)
                .collect()
        };
        let mut changed = false;
        for (f, _) in found.iter_mut().zip(ambiguous).filter(|(_, a)| *a) {
            f.qualify(level);
            changed = true;
        }
        if !changed {
            break;
        }
    }
    // Not collected in place: that would keep `found`'s larger allocation for the components.
    let mut out = Vec::with_capacity(found.len());
    out.extend(found.into_iter().map(|f| f.component));
    out
}
