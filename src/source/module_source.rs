//! `module-source`: the versions Terragrunt and Terraform pin inside module sources.
//!
//! Sources are the `source` of the `terraform` block (`terragrunt.hcl`), of `unit` and `stack`
//! blocks (`terragrunt.stack.hcl`) and of `module` blocks (`*.tf`). The version is
//!
//! - the `ref` query value of the URL (`git::git@github.com:acme/modules.git//app?ref=v0.3.0`,
//!   also among other parameters: `?depth=1&ref=v1`), as written (`%XX` escapes kept);
//! - the `version` query value of a `tfr://` URL;
//! - a `module` block's `version` attribute (a registry module's constraint).
//!
//! The component is named by the module path after `//` (`app`, `units/talos-infra`), else the
//! repository (`modules` of `acme/modules.git`) or the registry module's name (`vpc` of
//! `terraform-aws-modules/vpc/aws`), else the block's label. Two sources of one file that would
//! share a name are told apart by their labels (`vpc.main`, `vpc.peer`).
//!
//! A version written as `${local.x}` (and a `version = local.x`) is the string of that local in a
//! `locals` block of the same file: the component shows it, and an edit changes the local. Any other
//! interpolation (`${var.x}`, `v${local.major}`), and a local several sources share, is indirect
//! and never edited.
//!
//! A URL version is edited in place: only the bytes of the value change, inside the string, and
//! the re-read checks the rest of the string (kept in the address) is what it was.

use std::collections::BTreeMap;
use std::ops::Range;

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, Body};

use super::{Component, Inventory, Locator, Rule, Syntax};
use crate::edit::hcl::{self, HclValue};
use crate::edit::{EditError, LineIndex, QuoteStyle};

pub fn read(_loc: &Locator, file: &str, text: &str) -> Result<Inventory, EditError> {
    let body = hcl::parse(file, text)?;
    let index = LineIndex::new(text);
    let locals = Locals::collect(text, &body);
    let mut found = Vec::new();
    let mut notes = Vec::new();
    for block in body.blocks() {
        let ident = block.ident.as_str();
        let label = block.labels.first().map(|l| l.as_str().to_string());
        let owner = match (ident, &label) {
            ("terraform", None) => "terraform".to_string(),
            ("module" | "unit" | "stack", Some(label)) => format!("{ident}.{label}"),
            _ => continue,
        };
        if let Some(f) = source_of(text, &locals, block, &owner, label, &mut notes) {
            found.push(f);
        }
    }
    // A local shared by several sources is no one source's version.
    let mut uses: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for f in &found {
        if let Pin::Local { local, .. } = &f.pin {
            uses.entry(local.as_str()).or_default().push(&f.owner);
        }
    }
    let shared: Vec<String> = uses
        .iter()
        .filter(|(_, owners)| owners.len() > 1)
        .map(|(local, owners)| {
            notes.push(format!(
                "`local.{local}` pins {}: shared, so listed as indirect; list it with an `hcl-map` source `at = \"locals\"`",
                owners.join(", ")
            ));
            local.to_string()
        })
        .collect();
    let mut per_name: BTreeMap<String, usize> = BTreeMap::new();
    for f in &found {
        *per_name.entry(f.name.clone()).or_default() += 1;
    }
    let mut components = Vec::with_capacity(found.len());
    for f in found {
        let name = match (&f.label, per_name[&f.name] > 1) {
            (Some(label), true) => format!("{}.{label}", f.name),
            _ => f.name.clone(),
        };
        components.push(f.component(name, &index, &shared));
    }
    Ok(Inventory {
        file: file.to_string(),
        components,
        notes,
    })
}

/// The literal string locals of a file (`locals` blocks), by name; a name defined twice is left out.
struct Locals {
    by_name: BTreeMap<String, Option<Local>>,
}

struct Local {
    value: String,
    span: Range<usize>,
}

impl Locals {
    fn collect(text: &str, body: &Body) -> Self {
        let mut by_name = BTreeMap::new();
        for block in body.blocks().filter(|b| b.ident.as_str() == "locals") {
            for attr in block.body.attributes() {
                let local = match hcl::classify(text, &attr.value) {
                    HclValue::Literal(value) => Some(Local {
                        value,
                        span: hcl::span_of(&attr.value),
                    }),
                    _ => None,
                };
                let name = attr.key.as_str().to_string();
                let twice = by_name.contains_key(&name);
                by_name.insert(name, if twice { None } else { local });
            }
        }
        Locals { by_name }
    }

    /// The literal local `reference` names (`local.x`, blanks around it allowed).
    fn resolve(&self, reference: &str) -> Option<(&str, &Local)> {
        let name = reference.trim().strip_prefix("local.")?;
        let ident = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ident {
            return None;
        }
        let (key, local) = self.by_name.get_key_value(name)?;
        Some((key.as_str(), local.as_ref()?))
    }
}

/// Where a source's version is.
enum Pin {
    /// Literal bytes inside the URL (`?ref=v1`): written in place.
    InUrl { span: Range<usize>, version: String },
    /// A whole string attribute (`version = "5.1.0"`).
    Attribute { span: Range<usize>, version: String },
    /// `${local.x}` (or `local.x`): the local's string.
    Local {
        local: String,
        via: String,
        /// Where the reference is written (`${local.x}` in the URL, `local.x` as `version`).
        reference: Range<usize>,
        span: Range<usize>,
        version: String,
    },
    /// Anything else: listed, never edited.
    Indirect {
        span: Range<usize>,
        raw: String,
        variable: String,
    },
}

struct Found {
    owner: String,
    label: Option<String>,
    name: String,
    pin: Pin,
    rule: Rule,
    /// The text around the version (`source = "git::...//app?ref={ref}"`), for the address.
    context: String,
}

impl Found {
    fn component(self, name: String, index: &LineIndex, shared: &[String]) -> Component {
        let make = |version: String,
                    indirect: Option<String>,
                    span: Range<usize>,
                    syntax: Syntax,
                    address: String| {
            let (line, column) = index.line_col(span.start);
            Component {
                name: name.into(),
                version: version.into(),
                indirect: indirect.map(Into::into),
                line,
                column,
                address: address.into(),
                span,
                style: QuoteStyle::Double,
                syntax,
                rule: self.rule,
            }
        };
        match self.pin {
            Pin::InUrl { span, version } => make(version, None, span, Syntax::Inner, self.context),
            Pin::Attribute { span, version } => {
                make(version, None, span, Syntax::Hcl, self.context)
            }
            Pin::Local {
                local,
                via,
                reference,
                span,
                version,
            } => {
                if shared.contains(&local) {
                    make(
                        via,
                        Some(format!("local.{local}")),
                        reference,
                        Syntax::Hcl,
                        self.context,
                    )
                } else {
                    make(
                        version,
                        None,
                        span,
                        Syntax::Hcl,
                        format!("locals.{local} <- {}", self.context),
                    )
                }
            }
            Pin::Indirect {
                span,
                raw,
                variable,
            } => make(raw, Some(variable), span, Syntax::Inner, self.context),
        }
    }
}

/// The versioned source of `block`, or `None` (with a note when it has a source without one).
fn source_of(
    text: &str,
    locals: &Locals,
    block: &Block,
    owner: &str,
    label: Option<String>,
    notes: &mut Vec<String>,
) -> Option<Found> {
    let source = block.body.get_attribute("source")?;
    let version_attr = block.body.get_attribute("version");
    let is_module = block.ident.as_str() == "module";
    let url = match Url::scan(text, &source.value, locals) {
        Some(url) => url,
        None => {
            notes.push(format!("`{owner}.source` is not a string: skipped"));
            return None;
        }
    };
    let fallback = label.clone().unwrap_or_else(|| owner.to_string());
    // A `module` block's `version` attribute pins a registry module.
    if let (true, Some(attr)) = (is_module, version_attr) {
        let name = url.name(true).unwrap_or(fallback);
        let context = format!("{owner}.version (source = \"{}\")", url.flat);
        let pin = match hcl::classify(text, &attr.value) {
            HclValue::Literal(version) => Pin::Attribute {
                span: hcl::span_of(&attr.value),
                version,
            },
            HclValue::Indirect { raw, variable } => {
                match locals
                    .resolve(&variable)
                    .filter(|_| is_whole_reference(&raw))
                {
                    Some((local, l)) => Pin::Local {
                        local: local.to_string(),
                        via: raw,
                        reference: hcl::span_of(&attr.value),
                        span: l.span.clone(),
                        version: l.value.clone(),
                    },
                    None => Pin::Indirect {
                        span: hcl::span_of(&attr.value),
                        raw,
                        variable,
                    },
                }
            }
            HclValue::Other(found) => {
                notes.push(format!(
                    "`{owner}.version` is a {found}, not a string: skipped"
                ));
                return None;
            }
        };
        return Some(Found {
            owner: owner.to_string(),
            label,
            name,
            pin,
            rule: Rule::VersionConstraint,
            context,
        });
    }
    let tfr = url.flat.starts_with("tfr://");
    let key = if tfr { "version" } else { "ref" };
    let Some(value) = url.query_value(key) else {
        notes.push(format!(
            "`{owner}.source` pins no version (`{}`): skipped",
            url.flat
        ));
        return None;
    };
    if value.is_empty() {
        notes.push(format!("`{owner}.source` has an empty `?{key}=`: skipped"));
        return None;
    }
    let name = url.name(tfr).unwrap_or(fallback);
    let context = format!(
        "{owner}.source = \"{}{{{key}}}{}\"",
        &url.flat[..value.start],
        &url.flat[value.end..]
    );
    let rule = if tfr {
        Rule::ModuleVersion
    } else {
        Rule::GitRef
    };
    let pin = url.pin(value, locals);
    Some(Found {
        owner: owner.to_string(),
        label,
        name,
        pin,
        rule,
        context,
    })
}

/// `"${local.x}"` or `local.x`: nothing around the reference.
fn is_whole_reference(raw: &str) -> bool {
    let raw = raw.trim();
    let inner = raw
        .strip_prefix("\"${")
        .and_then(|r| r.strip_suffix("}\""))
        .unwrap_or(raw);
    !inner.contains(['$', '"', '{', '}'])
}

/// Where a byte of the decoded URL comes from.
#[derive(Clone, Copy)]
enum Origin {
    /// Literal text written at these raw bytes.
    Raw(usize, usize),
    /// The interpolation with this index.
    Interp(usize),
}

struct Interp {
    /// The expression inside `${...}`, trimmed (`local.x`).
    expr: String,
    /// The raw bytes of the whole `${...}`.
    span: Range<usize>,
}

/// A source string: its text as Terraform reads it (with same-file literal locals filled in and
/// other interpolations kept as written), and where each byte comes from.
struct Url {
    flat: String,
    origin: Vec<Origin>,
    interps: Vec<Interp>,
}

impl Url {
    /// Read a source expression: a quoted string or template. `None` for anything else.
    fn scan(text: &str, expr: &Expression, locals: &Locals) -> Option<Url> {
        if !matches!(expr, Expression::String(_) | Expression::StringTemplate(_)) {
            return None;
        }
        let span = hcl::span_of(expr);
        let raw = text.get(span.clone())?;
        let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
        let base = span.start + 1;
        let mut url = Url {
            flat: String::new(),
            origin: Vec::new(),
            interps: Vec::new(),
        };
        let bytes = inner.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let rest = &inner[i..];
            let (decoded, len): (String, usize) =
                if rest.starts_with("$${") || rest.starts_with("%%{") {
                    (rest[1..3].to_string(), 3)
                } else if rest.starts_with("${") {
                    let end = interpolation_end(rest)?;
                    let expr = rest[2..end - 1].trim().trim_matches('~').trim().to_string();
                    let k = url.interps.len();
                    let shown = match locals.resolve(&expr) {
                        Some((_, local)) => local.value.clone(),
                        None => rest[..end].to_string(),
                    };
                    url.interps.push(Interp {
                        expr,
                        span: base + i..base + i + end,
                    });
                    for _ in 0..shown.len() {
                        url.origin.push(Origin::Interp(k));
                    }
                    url.flat.push_str(&shown);
                    i += end;
                    continue;
                } else if rest.starts_with("%{") {
                    return None; // a template directive
                } else if let Some(escaped) = rest.strip_prefix('\\') {
                    let (c, len) = unescape(escaped)?;
                    (c.to_string(), len + 1)
                } else {
                    let c = rest.chars().next()?;
                    (c.to_string(), c.len_utf8())
                };
            for _ in 0..decoded.len() {
                url.origin.push(Origin::Raw(base + i, base + i + len));
            }
            url.flat.push_str(&decoded);
            i += len;
        }
        Some(url)
    }

    /// The byte range (in `flat`) of the first `key=` query value, as go-getter reads the query.
    fn query_value(&self, key: &str) -> Option<Range<usize>> {
        let q = self.flat.find('?')? + 1;
        let end = self.flat[q..].find('#').map_or(self.flat.len(), |e| q + e);
        let mut start = q;
        for param in self.flat[q..end].split('&') {
            let here = start;
            start += param.len() + 1;
            if let Some(value) = param.strip_prefix(key).and_then(|v| v.strip_prefix('=')) {
                let from = here + key.len() + 1;
                return Some(from..from + value.len());
            }
        }
        None
    }

    /// Where the version at `value` (a range of `flat`) comes from.
    fn pin(&self, value: Range<usize>, locals: &Locals) -> Pin {
        let origins = &self.origin[value.clone()];
        let version = self.flat[value.clone()].to_string();
        let interps: Vec<usize> = origins
            .iter()
            .filter_map(|o| match o {
                Origin::Interp(k) => Some(*k),
                Origin::Raw(..) => None,
            })
            .collect();
        match interps.first() {
            None => Pin::InUrl {
                span: self.raw_span(&value),
                version,
            },
            Some(&k) => {
                let interp = &self.interps[k];
                let whole = interps.len() == origins.len();
                match locals.resolve(&interp.expr).filter(|_| whole) {
                    Some((local, l)) => Pin::Local {
                        local: local.to_string(),
                        via: format!("${{{}}}", interp.expr),
                        reference: interp.span.clone(),
                        span: l.span.clone(),
                        version: l.value.clone(),
                    },
                    // As written: `${var.x}`, `v${local.major}`.
                    None => Pin::Indirect {
                        span: self.raw_span(&value),
                        raw: self.raw_of(value),
                        variable: interp.expr.clone(),
                    },
                }
            }
        }
    }

    /// The raw bytes `range` of `flat` was read from.
    fn raw_span(&self, range: &Range<usize>) -> Range<usize> {
        let bounds = |o: &Origin| match o {
            Origin::Raw(s, e) => (*s, *e),
            Origin::Interp(k) => (self.interps[*k].span.start, self.interps[*k].span.end),
        };
        let start = self.origin.get(range.start).map_or(0, |o| bounds(o).0);
        let end = range
            .end
            .checked_sub(1)
            .and_then(|last| self.origin.get(last))
            .map_or(start, |o| bounds(o).1);
        start..end
    }

    /// The text of `range` of `flat`, with interpolations shown as written.
    fn raw_of(&self, range: Range<usize>) -> String {
        let mut out = String::new();
        let mut last = None;
        for (i, o) in self.origin[range.clone()].iter().enumerate() {
            match o {
                Origin::Interp(k) => {
                    if last != Some(*k) {
                        out.push_str("${");
                        out.push_str(&self.interps[*k].expr);
                        out.push('}');
                        last = Some(*k);
                    }
                }
                Origin::Raw(..) => {
                    last = None;
                    let at = range.start + i;
                    // Whole characters only: push each char at its first byte.
                    if self.flat.is_char_boundary(at) {
                        let c = self.flat[at..].chars().next().unwrap_or_default();
                        out.push(c);
                    }
                }
            }
        }
        out
    }

    /// The component name the URL gives: the module path after `//`, else the repository's or
    /// (for `registry`) the registry module's name. `None` when that is interpolated or empty.
    fn name(&self, registry: bool) -> Option<String> {
        let path = self.flat.split(['?', '#']).next().unwrap_or_default();
        // A forced getter (`git::`) and a scheme (`https://`) are not part of any name.
        let path = match path.find("::") {
            Some(i) if !path[..i].contains('/') => &path[i + 2..],
            _ => path,
        };
        let offset = path.find("://").map_or(0, |i| i + 3);
        let (repo, subdir) = match path[offset..].find("//") {
            Some(i) => (&path[..offset + i], &path[offset + i + 2..]),
            None => (path, ""),
        };
        let subdir = subdir.trim_matches('/');
        let name = if !subdir.is_empty() {
            subdir.to_string()
        } else {
            let parts: Vec<&str> = repo[offset..]
                .split(['/', ':'])
                .filter(|p| !p.is_empty())
                .collect();
            let pick = if registry && parts.len() >= 3 {
                parts.get(parts.len() - 2)
            } else {
                parts.last()
            };
            pick?.trim_end_matches(".git").to_string()
        };
        (!name.is_empty() && !name.contains("${")).then_some(name)
    }
}

/// The length of `${...}` at the start of `s`, braces and quoted strings inside counted.
fn interpolation_end(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if in_string => {
                chars.next();
            }
            '"' => in_string = !in_string,
            '{' if !in_string => depth += 1,
            '}' if !in_string => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// One HCL escape after its `\`: the character and how many bytes it took.
fn unescape(s: &str) -> Option<(char, usize)> {
    let c = s.chars().next()?;
    let simple = match c {
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        '"' => Some('"'),
        '\\' => Some('\\'),
        _ => None,
    };
    if let Some(simple) = simple {
        return Some((simple, 1));
    }
    let digits = match c {
        'u' => 4,
        'U' => 8,
        _ => return None,
    };
    let hex = s.get(1..1 + digits)?;
    let c = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
    Some((c, 1 + digits))
}
