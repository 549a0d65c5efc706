//! `hcl-map`: each attribute of the object at `at` (default `locals.versions`) is a component.

use super::{Component, Inventory, Locator, Syntax};
use crate::edit::hcl::{self, HclValue};
use crate::edit::{self, EditError, LineIndex, QuoteStyle};

pub fn read(loc: &Locator, file: &str, text: &str) -> Result<Inventory, EditError> {
    let at = loc.at.as_deref().unwrap_or("locals.versions");
    let body = hcl::parse(file, text)?;
    let object = hcl::find_object(file, text, &body, at)?;
    let index = LineIndex::new(text);
    let mut components = Vec::with_capacity(object.len());
    for (key, value) in object.iter() {
        let expr = value.expr();
        let span = hcl::span_of(expr);
        let (line, column) = index.line_col(span.start);
        let Some(name) = hcl::key_name(key) else {
            let (line, column) = index.line_col(hcl::span_of(key).start);
            return Err(EditError::Parse {
                file: file.to_string(),
                line,
                column,
                message: format!("a key of `{at}` is an expression, not a name"),
            });
        };
        let (version, indirect) = match hcl::classify(text, expr) {
            HclValue::Literal(v) => (v, None),
            HclValue::Indirect { raw, variable } => (raw, Some(variable)),
            HclValue::Other(found) => {
                return Err(EditError::NotAString {
                    file: file.to_string(),
                    line,
                    column,
                    component: name,
                    found: found.to_string(),
                });
            }
        };
        components.push(Component {
            address: {
                let mut address = String::with_capacity(at.len() + name.len() + 1);
                address.push_str(at);
                address.push('.');
                edit::push_path_segment(&mut address, &name);
                address.into()
            },
            name: name.into(),
            version: version.into(),
            indirect: indirect.map(Into::into),
            line,
            column,
            span,
            style: QuoteStyle::Double,
            syntax: Syntax::Hcl,
            rule: super::Rule::Any,
        });
    }
    Ok(Inventory {
        file: file.to_string(),
        components,
        notes: Vec::new(),
    })
}
