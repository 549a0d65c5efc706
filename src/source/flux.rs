//! `flux`: multi-document Flux manifests. HelmRelease `spec.chart.spec.version`, OCIRepository and
//! GitRepository `spec.ref.tag` (or `semver`), ResourceSet `spec.inputs[]` `name` -> `version`
//! (or the dotted `version-key`).

use std::collections::HashMap;

use super::{Inventory, Locator, yaml_component};
use crate::edit::{
    EditError,
    yaml::{self, Node},
};

/// A version found in one resource, before names are made unique.
struct Found<'n> {
    kind: String,
    namespace: String,
    name: String,
    node: &'n Node,
    address: String,
}

pub fn read(loc: &Locator, file: &str, text: &str) -> Result<Inventory, EditError> {
    let docs = yaml::parse(file, text)?;
    let mut found = Vec::new();
    let mut notes = Vec::new();
    for doc in &docs {
        collect(loc, file, doc, &mut found, &mut notes);
    }
    let names = unique_names(&found);
    let components = found
        .iter()
        .zip(names)
        .map(|(f, name)| yaml_component(file, name, f.node, f.address.clone()))
        .collect::<Result<_, _>>()?;
    Ok(Inventory {
        file: file.to_string(),
        components,
        notes,
    })
}

fn collect<'n>(
    loc: &Locator,
    file: &str,
    doc: &'n Node,
    found: &mut Vec<Found<'n>>,
    notes: &mut Vec<String>,
) {
    let text = |n: Option<&Node>| n.and_then(Node::as_str).unwrap_or_default().to_string();
    let kind = text(doc.get("kind"));
    let name = text(doc.path("metadata.name"));
    let namespace = text(doc.path("metadata.namespace"));
    let mut push = |name: String, node: &'n Node, address: String| {
        found.push(Found {
            kind: kind.clone(),
            namespace: namespace.clone(),
            name,
            node,
            address,
        });
    };
    match kind.as_str() {
        "HelmRelease" => {
            if let Some(v) = doc.path("spec.chart.spec.version") {
                push(
                    name.clone(),
                    v,
                    format!("HelmRelease/{name}: spec.chart.spec.version"),
                );
            } else if doc.path("spec.chartRef").is_some() {
                notes.push(format!("{file}:{}: HelmRelease `{name}` uses `chartRef`: its version lives in the referenced source", doc.line));
            } else {
                notes.push(format!(
                    "{file}:{}: HelmRelease `{name}` pins no chart version",
                    doc.line
                ));
            }
        }
        "OCIRepository" | "GitRepository" => {
            let field = ["tag", "semver"]
                .into_iter()
                .find(|f| doc.path(&format!("spec.ref.{f}")).is_some());
            match field.and_then(|f| doc.path(&format!("spec.ref.{f}")).map(|n| (f, n))) {
                Some((f, v)) => push(name.clone(), v, format!("{kind}/{name}: spec.ref.{f}")),
                None => notes.push(format!(
                    "{file}:{}: {kind} `{name}` has no `spec.ref.tag` or `semver`",
                    doc.line
                )),
            }
        }
        "ResourceSet" => {
            let key = loc.version_key.as_deref().unwrap_or("version");
            let inputs = doc.path("spec.inputs").map(Node::items).unwrap_or_default();
            for (i, input) in inputs.iter().enumerate() {
                let input_name = text(input.get("name"));
                match (input_name.is_empty(), input.path(key)) {
                    (false, Some(v)) => push(
                        input_name,
                        v,
                        format!("ResourceSet/{name}: spec.inputs[{i}].{key}"),
                    ),
                    _ => notes.push(format!(
                        "{file}:{}: ResourceSet `{name}` input {i} has no `name` and `{key}`",
                        input.line
                    )),
                }
            }
        }
        _ => {}
    }
}

/// Names stay plain unless two resources share one; then `kind/name`, then `kind/namespace/name`.
fn unique_names(found: &[Found<'_>]) -> Vec<String> {
    let count = |key: &dyn Fn(&Found<'_>) -> String| {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for f in found {
            *counts.entry(key(f)).or_default() += 1;
        }
        counts
    };
    let plain = |f: &Found<'_>| f.name.clone();
    let by_kind = |f: &Found<'_>| format!("{}/{}", f.kind.to_lowercase(), f.name);
    let by_ns = |f: &Found<'_>| format!("{}/{}/{}", f.kind.to_lowercase(), f.namespace, f.name);
    let (plain_n, kind_n) = (count(&plain), count(&by_kind));
    found
        .iter()
        .map(|f| {
            if plain_n[&plain(f)] == 1 {
                plain(f)
            } else if kind_n[&by_kind(f)] == 1 {
                by_kind(f)
            } else {
                by_ns(f)
            }
        })
        .collect()
}
