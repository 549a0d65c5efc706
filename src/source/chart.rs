//! `chart-dependencies`: `dependencies[]` of a Chart.yaml, named by `name` (or by `alias` when
//! two dependencies share a name), versioned by `version`.

use std::collections::HashMap;

use super::yaml_list::component;
use super::{Inventory, Locator, Rule};
use crate::edit::EditError;
use crate::edit::yaml::{self, Node};

pub fn read(_loc: &Locator, file: &str, text: &str) -> Result<Inventory, EditError> {
    let (docs, lines) = yaml::parse(file, text)?;
    let mut inv = Inventory {
        file: file.to_string(),
        components: Vec::new(),
        notes: Vec::new(),
    };
    let Some(deps) = docs.iter().find_map(|d| d.get("dependencies")) else {
        return Ok(inv);
    };
    let name_of = |dep: &Node| dep.get("name").and_then(Node::as_str).map(str::to_string);
    let mut count: HashMap<String, usize> = HashMap::new();
    for dep in deps.items() {
        if let Some(name) = name_of(dep) {
            *count.entry(name).or_default() += 1;
        }
    }
    for (i, dep) in deps.items().iter().enumerate() {
        let Some(mut name) = name_of(dep) else {
            inv.notes
                .push(format!("dependencies[{i}] has no `name`, skipped"));
            continue;
        };
        let alias = dep.get("alias").and_then(Node::as_str);
        if let Some(alias) = alias.filter(|_| count[&name] > 1) {
            name = alias.to_string();
        }
        let Some(node) = dep.get("version") else {
            inv.notes
                .push(format!("dependency `{name}` has no `version`, skipped"));
            continue;
        };
        let address = format!("dependencies[{i}].version");
        let mut c = component(file, &name, address, node, &lines)?;
        c.rule = Rule::Chart;
        inv.components.push(c);
    }
    Ok(inv)
}
