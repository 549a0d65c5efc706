//! `hcl-map` with `at` naming a block (`locals`, `terraform`, `unit.app`): each attribute of the
//! block (of every block at that path: a file may have several `locals` blocks) whose value is a
//! literal string is a component. Other values (objects, references, function calls) are not
//! versions: they are skipped with one note.

use hcl_edit::structure::Body;

use super::{Component, Inventory, Locator, Syntax};
use crate::edit::hcl::{self, HclValue};
use crate::edit::{self, EditError, LineIndex, QuoteStyle};

/// Read the block(s) at `loc.at` when the object reader found nothing there (`not_found`);
/// any other error, or no block at that path either, is returned as it was.
pub fn read_instead(
    not_found: EditError,
    loc: &Locator,
    file: &str,
    text: &str,
) -> Result<Inventory, EditError> {
    if !matches!(not_found, EditError::PathNotFound { .. }) {
        return Err(not_found);
    }
    let Some(at) = loc.at.as_deref() else {
        return Err(not_found);
    };
    let body = hcl::parse(file, text)?;
    let owned = edit::split_path(at);
    let segments: Vec<&str> = owned.iter().map(String::as_str).collect();
    let mut bodies = Vec::new();
    blocks_at(&body, &segments, &mut bodies);
    if bodies.is_empty() {
        return Err(not_found);
    }
    let index = LineIndex::new(text);
    let mut components = Vec::new();
    let mut skipped = Vec::new();
    for block in bodies {
        for attr in block.attributes() {
            let name = attr.key.as_str().to_string();
            let HclValue::Literal(version) = hcl::classify(text, &attr.value) else {
                skipped.push(name);
                continue;
            };
            let span = hcl::span_of(&attr.value);
            let (line, column) = index.line_col(span.start);
            components.push(Component {
                address: compact_str::format_compact!("{at}.{}", edit::path_segment(&name)),
                name: name.into(),
                version: version.into(),
                indirect: None,
                line,
                column,
                span,
                style: QuoteStyle::Double,
                syntax: Syntax::Hcl,
                rule: super::Rule::Any,
            });
        }
    }
    let notes = if skipped.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "`{at}`: not a literal string, skipped: {}",
            skipped.join(", ")
        )]
    };
    Ok(Inventory {
        file: file.to_string(),
        components,
        notes,
    })
}

/// The bodies of the blocks at `segments`: a block's identifier, then its labels, then (for a
/// nested block) the next block's, in file order.
fn blocks_at<'b>(body: &'b Body, segments: &[&str], out: &mut Vec<&'b Body>) {
    let Some((head, rest)) = segments.split_first() else {
        out.push(body);
        return;
    };
    for block in body.blocks().filter(|b| b.ident.as_str() == *head) {
        let labels = block.labels.len();
        let matches = rest.len() >= labels
            && block
                .labels
                .iter()
                .zip(rest.iter())
                .all(|(label, seg)| label.as_str() == *seg);
        if matches {
            blocks_at(&block.body, &rest[labels..], out);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::source::{self, Kind};

    fn at(path: &str) -> Locator {
        let mut loc = Locator::new(Kind::HclMap);
        loc.at = Some(path.to_string());
        loc
    }

    #[test]
    fn lists_string_attributes_of_every_block_at_the_path() {
        let text = "locals {\n  infra_module_version = \"v1.2.0\" # pin\n  env = local.vars.env\n  tags = { a = \"b\" }\n}\nlocals {\n  app_version = \"v0.3.0\"\n}\n";
        let inv = source::read(&at("locals"), "f", text.as_bytes()).unwrap();
        let got: Vec<(&str, &str, usize)> = inv
            .components
            .iter()
            .map(|c| (c.name.as_str(), c.version.as_str(), c.line))
            .collect();
        assert_eq!(
            got,
            [
                ("infra_module_version", "v1.2.0", 2),
                ("app_version", "v0.3.0", 7)
            ]
        );
        assert_eq!(
            inv.notes,
            ["`locals`: not a literal string, skipped: env, tags"]
        );
        let out = source::set_versions(
            &at("locals"),
            "f",
            text.as_bytes(),
            &[("infra_module_version", "v1.3.0")],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            text.replace("\"v1.2.0\"", "\"v1.3.0\"")
        );
    }

    #[test]
    fn labelled_and_nested_blocks_and_what_is_not_there() {
        let text = "unit \"app\" {\n  source = \"x//app?ref=v1\"\n  path = \"app\"\n}\nunit \"db\" {\n  path = \"db\"\n}\n";
        let inv = source::read(&at("unit.app"), "f", text.as_bytes()).unwrap();
        assert_eq!(inv.names(), ["source", "path"]);
        let err = source::read(&at("locals"), "f", text.as_bytes()).unwrap_err();
        assert!(matches!(err, EditError::PathNotFound { .. }), "{err:?}");
        // Two blocks defining one name: an error, as in Terraform.
        let twice = "locals {\n  a = \"1\"\n}\nlocals {\n  a = \"2\"\n}\n";
        let err = source::read(&at("locals"), "f", twice.as_bytes()).unwrap_err();
        assert!(
            matches!(err, EditError::Duplicate { line: 5, .. }),
            "{err:?}"
        );
    }
}
