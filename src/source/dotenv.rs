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
            opens,
            line,
            column,
            ..
        } => sink(Found {
            // Plain: not single-quoted, so a `${VAR}` is one (none without an opening byte).
            indirect: if opens {
                edit::indirect_variable(value).map(Into::into)
            } else {
                None
            },
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What each reader says of a component: name, version, variable, line and column.
    type Seen = (String, String, Option<String>, usize, usize);

    fn listed(text: &str) -> Result<Vec<Seen>, String> {
        let loc = Locator::new(super::super::Kind::Dotenv);
        let inv = read(&loc, "f", text).map_err(|e| e.to_string())?;
        Ok(inv
            .components
            .into_iter()
            .map(|c| {
                let indirect = c.indirect.map(|v| v.to_string());
                (c.name.into(), c.version.into(), indirect, c.line, c.column)
            })
            .collect())
    }

    fn streamed(text: &str) -> Result<Vec<Seen>, String> {
        let mut seen = Vec::new();
        read_each("f", text, |f| {
            let indirect = f.indirect.map(|v| v.to_string());
            seen.push((f.name.into(), f.version.into(), indirect, f.line, f.column));
        })
        .map_err(|e| e.to_string())?;
        Ok(seen)
    }

    #[test]
    fn a_streamed_variable_is_the_listed_one() {
        let text = "A=${TAG}\nB=v1.2.3\nC=<<tag>>\nD={{x}}\nE='${Q}'\nF=1.0$(G)\nLONG_ENOUGH_KEY=abcdefgh${VAR}\n";
        let got = streamed(text).expect("streamed");
        assert_eq!(got, listed(text).expect("listed"));
        let vars: Vec<_> = got.iter().map(|s| s.2.as_deref()).collect();
        assert_eq!(
            vars,
            [
                Some("TAG"),
                None,
                Some("tag"),
                Some("x"),
                None,
                Some("G"),
                Some("VAR")
            ]
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_024))]

        /// A line streamed reads as the listed reader reads it, its variable included, on keys
        /// and values that cross the one-pass scan's words.
        #[test]
        fn streamed_lines_read_as_listed(
            text in "([A-Za-z_][A-Za-z0-9_]{0,12}=[a-z0-9.$<>{}é]{0,18}( #x| y|')?\n){0,6}"
        ) {
            prop_assert_eq!(streamed(&text), listed(&text));
        }
    }
}
