//! `flux`: HelmRelease chart versions, OCIRepository refs and ResourceSet inputs, in every
//! document of a multi-document file.
//!
//! Components are named after the resource (or the ResourceSet input). When two resources of one
//! file share a name, their names are qualified as `<kind>/<name>`, then `<kind>/<namespace>/<name>`,
//! so that only a true duplicate is left for the duplicate check.

use std::collections::HashMap;

use super::yaml_list::component;
use super::{Component, Inventory, Locator, Rule};
use crate::edit::yaml::{self, Node};
use crate::edit::{EditError, LineIndex};

/// A component with the longer names it may take when its plain name is ambiguous.
struct Found {
    component: Component,
    qualified: [String; 2],
}

pub fn read(loc: &Locator, file: &str, text: &str) -> Result<Inventory, EditError> {
    let (docs, lines) = yaml::parse(file, text)?;
    let mut found = Vec::new();
    let mut notes = Vec::new();
    for doc in &docs {
        let kind = doc.get("kind").and_then(Node::as_str).unwrap_or_default();
        let meta = Meta::of(doc);
        match kind {
            "HelmRelease" => found.extend(helm_release(file, &lines, doc, &meta, &mut notes)?),
            "OCIRepository" => found.extend(oci_repository(file, &lines, doc, &meta, &mut notes)?),
            "ResourceSet" => {
                let key = loc.version_key.as_deref().unwrap_or("version");
                found.extend(resource_set(file, &lines, doc, &meta, key, &mut notes)?);
            }
            _ => {}
        }
    }
    Ok(Inventory {
        file: file.to_string(),
        components: qualify(found),
        notes,
    })
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

    fn found(&self, kind: &str, component: Component) -> Found {
        let kind = kind.to_ascii_lowercase();
        Found {
            qualified: [
                format!("{kind}/{}", component.name),
                format!("{kind}/{}/{}", self.namespace, component.name),
            ],
            component,
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
    Ok(Some(meta.found("HelmRelease", c)))
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
    Ok(Some(meta.found("OCIRepository", c)))
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
        let mut f = meta.found("ResourceSet", c);
        f.qualified[1] = format!("resourceset/{}/{}/{name}", meta.namespace, meta.name);
        out.push(f);
    }
    Ok(out)
}

/// Replace ambiguous names by their qualified forms, one level at a time.
fn qualify(mut found: Vec<Found>) -> Vec<Component> {
    for level in 0..2 {
        let mut count: HashMap<String, usize> = HashMap::new();
        for f in &found {
            *count.entry(f.component.name.clone()).or_default() += 1;
        }
        let mut changed = false;
        for f in &mut found {
            if count[&f.component.name] > 1 {
                f.component.name = f.qualified[level].clone();
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    found.into_iter().map(|f| f.component).collect()
}
