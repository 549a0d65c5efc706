//! `dotenv`: each `KEY=value` pin is a component named `KEY`.

use super::{Component, Found, Inventory, Locator, Syntax};
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

/// [`read`], each component handed to `sink` as its line is read: no list is made, and none of
/// what only an edit needs (span, quoting, address). Its key and value are borrowed (a bare
/// line's from the text, a quoted one's from its decoded entry): `sink` copies what it keeps.
pub fn read_each(
    file: &str,
    text: &str,
    mut sink: impl FnMut(Found<&str>),
) -> Result<(), EditError> {
    dotenv::each(file, text, |read| match read {
        dotenv::Read::Bare {
            key,
            value,
            line,
            column,
            ..
        } => sink(Found {
            // Plain: not single-quoted, so a `${VAR}` is one.
            indirect: edit::indirect_variable(value).map(Into::into),
            name: key,
            version: value,
            line,
            column,
            rule: super::Rule::Dotenv,
        }),
        dotenv::Read::Parsed(e) => sink(Found {
            indirect: indirect(&e),
            name: &e.key,
            version: &e.value,
            line: e.line,
            column: e.column,
            rule: super::Rule::Dotenv,
        }),
    })
}

/// The variable a value is set through, unless single quotes make it literal (dotenv
/// substitutes nothing inside them).
fn indirect(e: &dotenv::Entry) -> Option<crate::Text> {
    match e.style {
        QuoteStyle::Single => None,
        _ => edit::indirect_variable(&e.value).map(Into::into),
    }
}

/// The component of one `KEY=value` entry (`index` is of the text `e` was read from).
pub(super) fn component(index: &LineIndex, e: dotenv::Entry) -> Component {
    debug_assert_eq!(index.line_col(e.span.start), (e.line, e.column));
    of_entry(e)
}

/// The component of one `KEY=value` entry, at the line and column the entry carries.
fn of_entry(e: dotenv::Entry) -> Component {
    Component {
        indirect: indirect(&e),
        address: e.key.clone(),
        name: e.key,
        version: e.value,
        line: e.line,
        column: e.column,
        span: e.span,
        style: e.style,
        syntax: Syntax::Dotenv,
        rule: super::Rule::Dotenv,
    }
}
