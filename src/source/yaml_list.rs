//! `yaml`: a list of mappings at `items` keyed by `key` with the version in `value` (an
//! ApplicationSet's `spec.generators[0].list.elements`), or one scalar at `at`.
//!
//! Also holds [`component`], shared by every YAML kind: it turns a version node into a
//! [`Component`], refusing anything that is not a string scalar.

use super::{Component, Inventory, Locator, Syntax};
use crate::edit::yaml::{self, Node, Value};
use crate::edit::{EditError, LineIndex, QuoteStyle, indirect_variable};

pub fn read(loc: &Locator, file: &str, text: &str) -> Result<Inventory, EditError> {
    let (docs, lines) = yaml::parse(file, text)?;
    let mut inv = Inventory {
        file: file.to_string(),
        components: Vec::new(),
        notes: Vec::new(),
    };
    if let Some(items) = &loc.items {
        let list = first_with(file, &docs, items)?;
        let key = loc.key.as_deref().unwrap_or("name");
        let value = loc.value.as_deref().unwrap_or("version");
        for (i, item) in list.items().iter().enumerate() {
            let Some(name) = item.lookup(key).and_then(Node::as_str) else {
                inv.notes.push(format!("{items}[{i}]: no `{key}`, skipped"));
                continue;
            };
            let Some(version) = item.lookup(value) else {
                inv.notes
                    .push(format!("{items}[{i}] `{name}`: no `{value}`, skipped"));
                continue;
            };
            let address = format!("{items}[{i}].{value}");
            inv.components
                .push(component(file, name, address, version, &lines)?);
        }
        return Ok(inv);
    }
    let Some(at) = &loc.at else {
        return Err(EditError::Other {
            file: file.to_string(),
            message: "kind `yaml` needs `items` (with `key` and `value`) or `at`\nhint: e.g. `--at spec.version`".to_string(),
        });
    };
    let node = first_with(file, &docs, at)?;
    let name = match yaml::parse_path(at).last() {
        Some(yaml::Step::Key(k)) => k.clone(),
        _ => at.clone(),
    };
    inv.components
        .push(component(file, &name, at.clone(), node, &lines)?);
    Ok(inv)
}

/// The node at `path` in the first document that has it.
fn first_with<'a>(file: &str, docs: &'a [Node], path: &str) -> Result<&'a Node, EditError> {
    let steps = yaml::parse_path(path);
    docs.iter()
        .find_map(|d| d.walk(&steps))
        .ok_or_else(|| EditError::PathNotFound {
            file: file.to_string(),
            path: path.to_string(),
        })
}

/// The component `name` whose version is `node`: a string scalar (plain numbers accepted as
/// written), an indirect substitution, or an alias (indirect through `*anchor`).
pub(super) fn component(
    file: &str,
    name: &str,
    address: String,
    node: &Node,
    lines: &LineIndex,
) -> Result<Component, EditError> {
    let (line, column) = node.line_col(lines);
    let not_a_string = |found: &str| EditError::NotAString {
        file: file.to_string(),
        line,
        column,
        component: name.to_string(),
        found: found.to_string(),
    };
    let (version, style, indirect) = match &node.value {
        Value::Alias(anchor) => {
            let var = format!("*{anchor}");
            (var.clone(), QuoteStyle::Plain, Some(var))
        }
        Value::Scalar { value, style } => {
            let Some(quote) = style.quote() else {
                return Err(not_a_string("a block scalar"));
            };
            if quote == QuoteStyle::Plain && (value.is_empty() || value == "~" || value == "null") {
                return Err(not_a_string("an empty value"));
            }
            (value.clone(), quote, indirect_variable(value))
        }
        _ => return Err(not_a_string(node.describe())),
    };
    Ok(Component {
        name: name.into(),
        version: version.into(),
        indirect: indirect.map(Into::into),
        line,
        column,
        address: address.into(),
        span: node.span.clone(),
        style,
        syntax: Syntax::Yaml,
        rule: super::Rule::Any,
    })
}
