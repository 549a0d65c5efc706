//! `yaml`: a list of items at `items`, named by `key`, versioned by `value` (an ApplicationSet's
//! list generator elements); or one scalar at `at`.

use super::{Inventory, Locator, yaml_component};
use crate::edit::{EditError, yaml};

pub fn read(loc: &Locator, file: &str, text: &str) -> Result<Inventory, EditError> {
    let docs = yaml::parse(file, text)?;
    let missing = |path: &str| EditError::PathNotFound {
        file: file.to_string(),
        path: path.to_string(),
    };
    let mut components = Vec::new();
    if let Some(at) = &loc.at {
        let node = docs
            .iter()
            .find_map(|d| d.path(at))
            .ok_or_else(|| missing(at))?;
        let name = at.rsplit('.').next().unwrap_or(at).to_string();
        components.push(yaml_component(file, name, node, at.clone())?);
        return Ok(Inventory {
            file: file.to_string(),
            components,
            notes: Vec::new(),
        });
    }
    let (Some(items), Some(key), Some(value)) = (&loc.items, &loc.key, &loc.value) else {
        return Err(EditError::Other {
            file: file.to_string(),
            message: "kind `yaml` needs `at`, or `items` with `key` and `value`".to_string(),
        });
    };
    let list = docs
        .iter()
        .find_map(|d| d.path(items))
        .ok_or_else(|| missing(items))?;
    let mut notes = Vec::new();
    for (i, item) in list.items().iter().enumerate() {
        let Some(name) = item.get(key).and_then(yaml::Node::as_str) else {
            notes.push(format!(
                "{file}:{}: item {i} has no `{key}`, skipped",
                item.line
            ));
            continue;
        };
        let Some(node) = item.get(value) else {
            notes.push(format!(
                "{file}:{}: item `{name}` has no `{value}`, skipped",
                item.line
            ));
            continue;
        };
        let address = format!("{items}[{i}].{value}");
        components.push(yaml_component(file, name.to_string(), node, address)?);
    }
    Ok(Inventory {
        file: file.to_string(),
        components,
        notes,
    })
}
