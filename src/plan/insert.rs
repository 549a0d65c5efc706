//! `--add-missing`: add a component the target lacks, where the kind allows it without
//! reformatting anything. Today that is `dotenv` (a `KEY=value` line appended in the file's own
//! line ending); other kinds would need to re-indent or re-wrap a block, so they are held.

use crate::edit::{EditError, QuoteStyle};
use crate::source::{self, Kind, Locator, Syntax};

/// Whether `insert` can add components to files of this kind.
pub fn supported(kind: Kind) -> bool {
    kind == Kind::Dotenv
}

/// `bytes` with `name` set to `version` appended, verified by re-reading: the new component
/// holds `version` and every other component is unchanged.
pub fn insert(
    loc: &Locator,
    file: &str,
    bytes: &[u8],
    additions: &[(&str, &str)],
) -> Result<Vec<u8>, EditError> {
    let before = source::read(loc, file, bytes)?;
    if let Some((name, _)) = additions.iter().find(|(n, _)| before.get(n).is_some()) {
        return Err(EditError::Verify {
            file: file.to_string(),
            message: format!("`{name}` is already there; set it instead"),
        });
    }
    for (name, version) in additions {
        source::validate_version(source::Rule::Dotenv, version).map_err(|message| {
            EditError::Other {
                file: file.to_string(),
                message: format!("refusing to add `{name}`: {message}"),
            }
        })?;
    }
    let eol: &[u8] = if bytes.windows(2).any(|w| w == b"\r\n") {
        b"\r\n"
    } else {
        b"\n"
    };
    let mut out = bytes.to_vec();
    if !out.is_empty() && !out.ends_with(b"\n") {
        out.extend_from_slice(eol);
    }
    for (name, version) in additions {
        out.extend_from_slice(name.as_bytes());
        out.push(b'=');
        out.extend_from_slice(
            source::render(Syntax::Dotenv, QuoteStyle::Plain, version).as_bytes(),
        );
        out.extend_from_slice(eol);
    }
    let after = source::read(loc, file, &out)?;
    let old_kept = before.components.iter().all(|c| {
        after
            .get(&c.name)
            .is_some_and(|a| a.version == c.version && a.span == c.span)
    });
    let new_set = additions
        .iter()
        .all(|(name, version)| after.get(name).is_some_and(|a| a.version == *version));
    if old_kept && new_set && after.components.len() == before.components.len() + additions.len() {
        Ok(out)
    } else {
        Err(EditError::Verify {
            file: file.to_string(),
            message: "adding the missing components did not read back as written".to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dotenv() -> Locator {
        Locator {
            kind: Kind::Dotenv,
            at: None,
            items: None,
            key: None,
            value: None,
            version_key: None,
            part: None,
        }
    }

    #[test]
    fn appends_in_the_file_own_line_ending() {
        let crlf = b"# pins\r\nDEX_TAG=sha-abc12345 # build 12\r\nAPI_TAG=\"v1.2.0\"";
        let out = insert(&dotenv(), "v.env", crlf, &[("WEB_TAG", "v2.0.0")]).expect("insert");
        assert_eq!(
            out,
            b"# pins\r\nDEX_TAG=sha-abc12345 # build 12\r\nAPI_TAG=\"v1.2.0\"\r\nWEB_TAG=v2.0.0\r\n"
        );
        let out = insert(&dotenv(), "v.env", b"", &[("A", "v1#2")]).expect("empty file");
        assert_eq!(out, b"A=\"v1#2\"\n");
        // Not a version: refused before anything is appended.
        let err = insert(&dotenv(), "v.env", b"", &[("A", "has space")]).expect_err("refused");
        assert!(err.to_string().contains("refusing to add `A`"), "{err}");
    }

    #[test]
    fn refuses_a_name_that_exists_or_kinds_it_cannot_extend() {
        let e = insert(&dotenv(), "v.env", b"A=1\n", &[("A", "2")]).expect_err("exists");
        assert_eq!(
            e.to_string(),
            "v.env: refusing the edit: `A` is already there; set it instead"
        );
        assert!(!supported(Kind::HclMap) && supported(Kind::Dotenv));
    }
}
