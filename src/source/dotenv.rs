//! `dotenv`: each `KEY=value` pin is a component named `KEY`.

use super::{Component, Inventory, Locator, Syntax};
use crate::edit::{self, EditError, LineIndex, QuoteStyle, dotenv};

pub fn read(_loc: &Locator, file: &str, text: &str) -> Result<Inventory, EditError> {
    let index = LineIndex::new(text);
    let components = dotenv::parse(file, text)?
        .into_iter()
        .map(|e| component(&index, e))
        .collect();
    Ok(Inventory {
        file: file.to_string(),
        components,
        notes: Vec::new(),
    })
}

/// The component of one `KEY=value` entry.
pub(super) fn component(index: &LineIndex, e: dotenv::Entry) -> Component {
    let (line, column) = index.line_col(e.span.start);
    // Single quotes are literal in dotenv: no substitution happens inside them.
    let indirect = match e.style {
        QuoteStyle::Single => None,
        _ => edit::indirect_variable(&e.value),
    };
    Component {
        address: e.key.clone(),
        name: e.key,
        version: e.value,
        indirect,
        line,
        column,
        span: e.span,
        style: e.style,
        syntax: Syntax::Dotenv,
        rule: super::Rule::Dotenv,
    }
}
