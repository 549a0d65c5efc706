//! `chart-dependencies`: `dependencies[]` of a Chart.yaml, name (or alias) -> `version`.

use super::{Inventory, Locator, yaml_component};
use crate::edit::{EditError, yaml};

pub fn read(_loc: &Locator, file: &str, text: &str) -> Result<Inventory, EditError> {
    let mut components = Vec::new();
    let mut notes = Vec::new();
    for doc in yaml::parse(file, text)? {
        let deps = doc
            .get("dependencies")
            .map(yaml::Node::items)
            .unwrap_or_default();
        let name_of = |dep: &yaml::Node| {
            dep.get("name")
                .and_then(yaml::Node::as_str)
                .map(str::to_string)
        };
        for (i, dep) in deps.iter().enumerate() {
            let Some(mut name) = name_of(dep) else {
                notes.push(format!(
                    "{file}:{}: dependency {i} has no `name`, skipped",
                    dep.line
                ));
                continue;
            };
            // Two dependencies on one chart are told apart by their alias.
            let shared = deps
                .iter()
                .filter(|d| name_of(d).as_deref() == Some(name.as_str()))
                .count()
                > 1;
            if let (true, Some(alias)) = (shared, dep.get("alias").and_then(yaml::Node::as_str)) {
                name = alias.to_string();
            }
            let Some(version) = dep.get("version") else {
                notes.push(format!(
                    "{file}:{}: dependency `{name}` has no `version`, skipped",
                    dep.line
                ));
                continue;
            };
            let address = format!("dependencies[{i}].version");
            components.push(yaml_component(file, name, version, address)?);
        }
    }
    Ok(Inventory {
        file: file.to_string(),
        components,
        notes,
    })
}
