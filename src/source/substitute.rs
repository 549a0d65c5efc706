//! `substitute-from`: `${var}` and `${var:-default}` values resolved the way Flux's
//! `postBuild.substituteFrom` resolves them, from the kustomize env files (`KEY=value` lines) its
//! ConfigMaps are generated from; and the pin lines that set them, edited in place.
//!
//! What Flux and kustomize do (checked against their sources):
//! - `substituteFrom` entries are read in order; a later entry overwrites an earlier one.
//! - `${var:-default}` takes the default when no entry sets `var` (or sets it empty).
//! - `configMapGenerator` `envs:` files take each value verbatim after `=`: quotes, spaces and
//!   ` # comments` are part of the value, and `["end0"]` is a valid value.
//!
//! promote reads every line with the dotenv reader (`edit::dotenv`) and uses a value only when
//! the reader and kustomize agree on it (plain, nothing after it): a line either would read
//! differently makes that one variable unusable, never the whole file.

use std::collections::HashMap;

use serde::Serialize;

use super::{Inventory, Rule, validate_version, verify};
use crate::edit::{self, EditError, LineIndex, QuoteStyle, Splice, dotenv};

/// A value that is one whole substitution: `${var}` or `${var:-default}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub variable: String,
    pub default: Option<String>,
}

/// The reference `value` is, when it is exactly `${var}` or `${var:-default}` (a Flux variable
/// name: letters, digits and `_`, not starting with a digit). Anything else (`v${x}`, `${x:=y}`,
/// `{{ .x }}`) is not resolved and stays indirect.
pub fn reference(value: &str) -> Option<Reference> {
    let inner = value.strip_prefix("${")?.strip_suffix('}')?;
    let (variable, default) = match inner.split_once(":-") {
        Some((v, d)) => (v, Some(d.to_string())),
        None => (inner, None),
    };
    let mut chars = variable.chars();
    let named = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    let plain_default = default
        .as_deref()
        .is_none_or(|d| !d.contains(['$', '{', '}']));
    (named && plain_default).then(|| Reference {
        variable: variable.to_string(),
        default,
    })
}

/// One `KEY=value` line of a `substitute-from` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub variable: String,
    /// The value Flux substitutes, or why promote cannot use it.
    pub value: Result<String, String>,
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Which `substitute-from` entry the file came from (0-based).
    pub entry: usize,
}

impl Pin {
    pub fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// A kustomize env-file key (`validation.IsEnvVarName`): letters, digits, `_`, `-`, `.`, not
/// starting with a digit.
fn env_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

/// Every assignment of one env file, each with the value kustomize reads or why it is unusable.
/// Lines the dotenv reader refuses are kept as unusable pins when they name a key.
pub fn pins(file: &str, text: &str, entry: usize) -> Vec<Pin> {
    let lines: Vec<&str> = text
        .split_inclusive('\n')
        .map(|l| l.trim_end_matches(['\n', '\r']))
        .collect();
    // kustomize: leading whitespace trimmed, the key is everything before the first `=`, the
    // value everything after it.
    let kustomize = |line: usize| {
        lines
            .get(line.wrapping_sub(1))
            .and_then(|l| l.trim_start().split_once('='))
    };
    let index = LineIndex::new(text);
    let mut out: Vec<Pin> = Vec::new();
    for parsed in dotenv::parse_each(file, text) {
        let pin = match parsed {
            Ok(e) => {
                let (line, column) = index.line_col(e.span.start);
                let value = match kustomize(e.line) {
                    Some((k, _)) if k != e.key => Err(format!(
                        "kustomize reads the key as `{k}`, not `{}`; write `{}=value`",
                        e.key, e.key
                    )),
                    Some((_, v)) if e.style != QuoteStyle::Plain || v != e.value => Err(format!(
                        "kustomize keeps everything after `=` as the value (`{v}`): quotes, spaces and comments included; write the version alone"
                    )),
                    Some(_) if edit::indirect_variable(&e.value).is_some() => Err(format!(
                        "`{}` is itself a substitution; Flux does not substitute twice",
                        e.value
                    )),
                    Some(_) => Ok(e.value.to_string()),
                    None => Err("not a `KEY=value` line".to_string()),
                };
                Pin {
                    variable: e.key.to_string(),
                    value,
                    file: file.to_string(),
                    line,
                    column,
                    entry,
                }
            }
            Err(EditError::Parse {
                line,
                column,
                message,
                ..
            }) => match kustomize(line) {
                Some((k, _)) if env_key(k) => Pin {
                    variable: k.to_string(),
                    value: Err(format!("the dotenv reader refuses the line: {message}")),
                    file: file.to_string(),
                    line,
                    column,
                    entry,
                },
                _ => continue,
            },
            Err(_) => continue,
        };
        // kustomize refuses a key repeated in one file.
        let first = out
            .iter()
            .find(|p| p.variable == pin.variable)
            .map(|p| p.line);
        out.push(match first {
            Some(first) => Pin {
                value: Err(format!(
                    "set twice in `{file}` (lines {first} and {}); kustomize refuses repeated keys",
                    pin.line
                )),
                ..pin
            },
            None => pin,
        });
    }
    out
}

/// The variables of a source's `substitute-from` files in one environment: later files win.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    defs: HashMap<String, Pin>,
    /// Files in the list that do not exist in this environment (skipped), with their entry.
    pub missing: Vec<(usize, String)>,
}

impl Vars {
    /// Add the next file of the list (`None`: it does not exist), overwriting earlier values.
    pub fn add(&mut self, entry: usize, file: &str, bytes: Option<&[u8]>) -> Result<(), EditError> {
        let Some(bytes) = bytes else {
            self.missing.push((entry, file.to_string()));
            return Ok(());
        };
        let text = edit::decode(file, bytes)?;
        // A key repeated in one file comes last as unusable (`pins`), so it stays unusable.
        for pin in pins(file, text, entry) {
            self.defs.insert(pin.variable.clone(), pin);
        }
        Ok(())
    }

    pub fn get(&self, variable: &str) -> Option<&Pin> {
        self.defs.get(variable)
    }
}

/// How a substituted value was resolved, for listings and plans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Via {
    pub variable: String,
    /// The file and line of the pin that sets it; none when only the default applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Why the value cannot be resolved; the component then stays indirect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// The `substitute-from` entry the pin's file came from.
    #[serde(skip)]
    pub entry: Option<usize>,
    /// The pin's file is the source environment's too: editing it would change both.
    #[serde(skip)]
    pub shared: bool,
}

impl Via {
    /// `paperless_ngx_version (kubernetes/clusters/live/versions.env:4)`, or the default.
    pub fn describe(&self) -> String {
        match (&self.file, self.line, &self.default) {
            (Some(f), Some(l), _) => format!("{} ({f}:{l})", self.variable),
            (_, _, Some(d)) => format!("{} (default {d})", self.variable),
            _ => self.variable.clone(),
        }
    }

    /// The pin line to edit: file and variable, when there is one of the target's own.
    pub fn pin(&self) -> Option<&str> {
        match (&self.file, &self.problem, self.shared) {
            (Some(f), None, false) => Some(f),
            _ => None,
        }
    }

    /// Why promote cannot set this value by editing its pin line, if it cannot.
    pub fn not_editable(&self) -> Option<String> {
        let var = &self.variable;
        if let Some(p) = &self.problem {
            return Some(format!("target sets it through `{var}`: {p}"));
        }
        match (&self.file, self.line, &self.default) {
            (Some(f), Some(l), _) if self.shared => Some(format!(
                "`{var}` is set in `{f}:{l}`, a file the source environment reads too: promote never edits a pin for both; set `{var}` in a file of the target's own"
            )),
            (None, _, Some(d)) => Some(format!(
                "only the default `{d}` of `${{{var}:-{d}}}` applies in the target: no `substitute-from` file sets `{var}` there"
            )),
            _ => None,
        }
    }
}

/// The resolution of one reference: the version it gives (if any) and how.
pub fn resolve(vars: &Vars, r: &Reference, rule: Rule) -> (Option<String>, Via) {
    let mut via = Via {
        variable: r.variable.clone(),
        file: None,
        line: None,
        default: r.default.clone(),
        problem: None,
        entry: None,
        shared: false,
    };
    let value = match vars.get(&r.variable) {
        Some(pin) => {
            via.file = Some(pin.file.clone());
            via.line = Some(pin.line);
            via.entry = Some(pin.entry);
            match (&pin.value, &r.default) {
                // An empty value takes the default too (envsubst's `:-`); the pin stays editable.
                (Ok(v), Some(d)) if v.is_empty() => Ok(d.clone()),
                (Ok(v), _) => Ok(v.clone()),
                (Err(why), _) => Err(format!("`{}`: {why}", pin.at())),
            }
        }
        None => match &r.default {
            Some(d) => Ok(d.clone()),
            None => Err(format!(
                "no `substitute-from` file sets `{}` and there is no `:-default`",
                r.variable
            )),
        },
    };
    let value = value.and_then(|v| match validate_version(rule, &v) {
        Ok(()) => Ok(v),
        Err(m) => Err(match &via.file {
            Some(f) => format!("`{f}:{}`: {m}", via.line.unwrap_or_default()),
            None => m,
        }),
    });
    match value {
        Ok(v) => (Some(v), via),
        Err(problem) => {
            via.problem = Some(problem);
            (None, via)
        }
    }
}

/// Set pins of one env file, byte-exactly: only the named values' bytes change. The file is read
/// leniently (a line the dotenv reader refuses stays as it is); every pin set must be usable
/// before and after, and re-reading must show exactly the asked-for changes.
pub fn set_pins(file: &str, bytes: &[u8], changes: &[(&str, &str)]) -> Result<Vec<u8>, EditError> {
    let text = edit::decode(file, bytes)?;
    let refuse = |message: String| EditError::Verify {
        file: file.to_string(),
        message,
    };
    let before = pins(file, text, 0);
    let entries = dotenv::parse_each(file, text);
    let mut splices = Vec::new();
    let mut wanted =
        rustc_hash::FxHashMap::with_capacity_and_hasher(changes.len(), Default::default());
    // Indexes, so that many changes to a long file stay linear: the last pin line setting each
    // variable (the one that counts), and each entry by key and line (the first).
    let last_pin: std::collections::HashMap<&str, &Pin> =
        before.iter().map(|p| (p.variable.as_str(), p)).collect();
    let mut entry_at = std::collections::HashMap::with_capacity(entries.len());
    for e in entries.iter().flatten() {
        entry_at.entry((e.key.as_str(), e.line)).or_insert(e);
    }
    for &(name, version) in changes {
        let pin = last_pin
            .get(name)
            .copied()
            .ok_or_else(|| refuse(format!("no pin line sets `{name}`")))?;
        let current = pin
            .value
            .as_ref()
            .map_err(|why| refuse(format!("`{name}` at line {}: {why}", pin.line)))?;
        validate_version(Rule::Any, version).map_err(|message| EditError::BadVersion {
            file: file.to_string(),
            line: pin.line,
            column: pin.column,
            component: name.to_string(),
            message,
        })?;
        let entry = entry_at
            .get(&(name, pin.line))
            .copied()
            .ok_or_else(|| refuse(format!("`{name}`: its line no longer reads")))?;
        wanted.insert(name, version);
        if current != version {
            splices.push(Splice {
                span: entry.span.clone(),
                text: dotenv::render_value(version, QuoteStyle::Plain),
            });
        }
    }
    if splices.is_empty() {
        return Ok(bytes.to_vec());
    }
    let out = edit::apply_splices(bytes, &splices);
    let after_text = edit::decode(file, &out)?;
    // The same check `set_versions` makes, over the lines the dotenv reader reads ...
    let inventory = |t: &str| {
        let lines = LineIndex::new(t);
        Inventory {
            file: file.to_string(),
            components: dotenv::parse_each(file, t)
                .into_iter()
                .flatten()
                .map(|e| super::dotenv::component(&lines, e))
                .collect(),
            notes: Vec::new(),
        }
    };
    verify(file, &inventory(text), &inventory(after_text), &wanted)?;
    // ... and over what kustomize reads: every pin the same, the changed ones usable and new.
    let after = pins(file, after_text, 0);
    let expected: Vec<Pin> = before
        .into_iter()
        .map(|p| match wanted.get(p.variable.as_str()) {
            Some(v) if p.value.is_ok() => Pin {
                value: Ok(v.to_string()),
                ..p
            },
            _ => p,
        })
        .collect();
    let key = |p: &Pin| (p.variable.clone(), p.value.clone(), p.line);
    if after.iter().map(key).ne(expected.iter().map(key)) {
        return Err(refuse(
            "the edit changes what kustomize reads beyond the asked-for pins".to_string(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_references_resolve() {
        let r = reference("${cert_manager_version}").unwrap();
        assert_eq!(
            (r.variable.as_str(), r.default),
            ("cert_manager_version", None)
        );
        let r = reference("${v:-1.17.1}").unwrap();
        assert_eq!(r.default.as_deref(), Some("1.17.1"));
        for other in [
            "v${x}",
            "${x}-rc",
            "${x:=1}",
            "${1x}",
            "{{ .x }}",
            "1.2.3",
            "${x:-${y}}",
        ] {
            assert_eq!(reference(other), None, "{other}");
        }
    }

    #[test]
    fn odd_lines_make_one_variable_unusable() {
        let text = "A=1.0.0\nIFACES=[\"end0\"]\nB=\"2.0.0\"\nC=3.0.0 # pin\nexport D=4.0.0\nJSON={\"a\": 1}\nE=5.0.0\nE=5.0.1\nnot a line\nF=6.0.0\r\n";
        let got: Vec<(String, bool)> = pins("f.env", text, 0)
            .into_iter()
            .map(|p| (p.variable, p.value.is_ok()))
            .collect();
        // `["end0"]` and JSON are read verbatim, as kustomize reads them: usable values (not
        // versions: resolving a version through them is refused per field).
        let want = [
            ("A", true),
            ("IFACES", true),
            ("B", false),
            ("C", false),
            ("D", false),
            ("JSON", true),
            ("E", true),
            ("E", false),
            ("F", true),
        ];
        let want: Vec<(String, bool)> = want.iter().map(|(k, ok)| (k.to_string(), *ok)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn later_files_win_and_defaults_apply_when_unset() {
        let mut vars = Vars::default();
        vars.add(0, "shared.env", Some(b"a=1.0.0\nb=1.0.0\n"))
            .unwrap();
        vars.add(1, "own.env", None).unwrap();
        vars.add(2, "live.env", Some(b"a=2.0.0\nempty=\n")).unwrap();
        let get = |v: &str| resolve(&vars, &reference(v).unwrap(), Rule::Chart);
        let (a, via) = get("${a}");
        assert_eq!(
            (a.as_deref(), via.file.as_deref(), via.line),
            (Some("2.0.0"), Some("live.env"), Some(1))
        );
        let (b, via) = get("${b:-9.9.9}");
        assert_eq!(
            (b.as_deref(), via.file.as_deref()),
            (Some("1.0.0"), Some("shared.env"))
        );
        let (c, via) = get("${c:-1.17.1}");
        assert_eq!((c.as_deref(), via.file), (Some("1.17.1"), None));
        let (e, via) = get("${empty:-3.0.0}");
        assert_eq!((e.as_deref(), via.line), (Some("3.0.0"), Some(2)));
        let (none, via) = get("${c}");
        assert_eq!(none, None);
        assert!(
            via.problem
                .unwrap()
                .contains("no `substitute-from` file sets `c`")
        );
        assert_eq!(vars.missing, [(1, "own.env".to_string())]);
    }

    #[test]
    fn a_pin_edit_changes_its_value_only() {
        let text = "# pins\r\ncluster_name=live\r\nIFACES=[\"end0\"]\r\nx=1.0.0\r\n";
        let out = set_pins("f.env", text.as_bytes(), &[("x", "1.1.0")]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "# pins\r\ncluster_name=live\r\nIFACES=[\"end0\"]\r\nx=1.1.0\r\n"
        );
        // A line kustomize reads differently (a quoted value) is never edited.
        let quoted = "x=\"1.0.0\"\n";
        let err = set_pins("f.env", quoted.as_bytes(), &[("x", "1.1.0")]).unwrap_err();
        assert!(err.to_string().contains("refusing the edit"), "{err}");
    }
}
