//! `dotenv`: each `KEY=value` pin is a component named `KEY`.

use super::{Component, Inventory, Locator, Syntax};
use crate::edit::{self, EditError, LineIndex, QuoteStyle, dotenv};

/// One pass over the lines: each entry becomes its component as it is read (line and column
/// counted by the line parser), into a list sized for every line.
pub fn read(_loc: &Locator, file: &str, text: &str) -> Result<Inventory, EditError> {
    let mut components = Vec::with_capacity(dotenv::line_count(text));
    for entry in dotenv::entries(file, text) {
        components.push(of_entry(entry?));
    }
    Ok(Inventory {
        file: file.to_string(),
        components,
        notes: Vec::new(),
    })
}

/// [`read`], each component handed to `sink` as its line is read: no list is made.
pub fn read_each(file: &str, text: &str, mut sink: impl FnMut(Component)) -> Result<(), EditError> {
    for entry in dotenv::entries(file, text) {
        sink(of_entry(entry?));
    }
    Ok(())
}

/// The component of one `KEY=value` entry (`index` is of the text `e` was read from).
pub(super) fn component(index: &LineIndex, e: dotenv::Entry) -> Component {
    debug_assert_eq!(index.line_col(e.span.start), (e.line, e.column));
    of_entry(e)
}

/// The component of one `KEY=value` entry, at the line and column the entry carries.
fn of_entry(e: dotenv::Entry) -> Component {
    // Single quotes are literal in dotenv: no substitution happens inside them.
    let indirect = match e.style {
        QuoteStyle::Single => None,
        _ => edit::indirect_variable(&e.value),
    };
    Component {
        address: e.key.clone(),
        name: e.key,
        version: e.value,
        indirect: indirect.map(Into::into),
        line: e.line,
        column: e.column,
        span: e.span,
        style: e.style,
        syntax: Syntax::Dotenv,
        rule: super::Rule::Dotenv,
    }
}
