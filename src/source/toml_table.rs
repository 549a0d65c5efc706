//! `toml`: each key of the table at `at` (dotted, e.g. `tool.versions`) is a component.

use toml_edit::{Item, Value};

use super::{Component, Inventory, Locator, Syntax};
use crate::edit::{self, EditError, LineIndex, toml};

pub fn read(loc: &Locator, file: &str, text: &str) -> Result<Inventory, EditError> {
    let at = loc.at.as_deref().unwrap_or("");
    let doc = toml::parse(file, text)?;
    let table = toml::find_table(file, &doc, at)?;
    let index = LineIndex::new(text);
    let prefix = if at.is_empty() {
        String::new()
    } else {
        format!("{at}.")
    };
    let mut components = Vec::new();
    let mut notes = Vec::new();
    for (name, item) in table.iter() {
        let value = match item {
            Item::Value(v) if !matches!(v, Value::InlineTable(_)) => v,
            Item::None => continue,
            _ => {
                notes.push(format!(
                    "`{prefix}{name}` is a table, not a version: skipped"
                ));
                continue;
            }
        };
        let span = value.span().unwrap_or(0..0);
        let (line, column) = index.line_col(span.start);
        let Some(version) = value.as_str() else {
            return Err(EditError::NotAString {
                file: file.to_string(),
                line,
                column,
                component: name.to_string(),
                found: value.type_name().to_string(),
            });
        };
        let raw = text.get(span.clone()).unwrap_or_default();
        components.push(Component {
            name: name.into(),
            version: version.into(),
            indirect: edit::indirect_variable(version).map(Into::into),
            line,
            column,
            address: compact_str::format_compact!("{prefix}{}", edit::path_segment(name)),
            style: toml::quote_style(raw),
            span,
            syntax: Syntax::Toml,
            rule: super::Rule::Any,
        });
    }
    components.sort_by_key(|c| c.span.start);
    Ok(Inventory {
        file: file.to_string(),
        components,
        notes,
    })
}
