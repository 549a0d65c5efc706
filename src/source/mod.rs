//! Source kinds: turn one file into an inventory of components, and set their versions.
//!
//! A kind only *reads*: it walks the parsed file and reports, per component, the byte span and
//! quote style of its version scalar. Setting versions is shared: splice the spans, re-read the
//! result, and refuse unless exactly the asked-for versions changed.

mod chart;
mod dotenv;
mod flux;
mod hcl_block;
mod hcl_map;
mod image_ref;
mod in_order;
mod kustomize;
mod module_source;
pub mod substitute;
mod toml_table;
pub mod version;
mod yaml_list;

use rustc_hash::FxHashMap as HashMap;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::Text;
use crate::edit::{self, EditError, QuoteStyle, Splice};
pub use image_ref::Part;
pub use in_order::{InOrder, Keyed, same};
pub use version::{Rule, validate_version};

/// Which kind of file a source is, and so where its versions are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    HclMap,
    Flux,
    KustomizeImages,
    ChartDependencies,
    Yaml,
    Toml,
    Dotenv,
    ModuleSource,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::HclMap => "hcl-map",
            Kind::Flux => "flux",
            Kind::KustomizeImages => "kustomize-images",
            Kind::ChartDependencies => "chart-dependencies",
            Kind::Yaml => "yaml",
            Kind::Toml => "toml",
            Kind::Dotenv => "dotenv",
            Kind::ModuleSource => "module-source",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The syntax a version scalar is written in, which decides how a new value is quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Syntax {
    Yaml,
    Hcl,
    Toml,
    Dotenv,
    /// Inside a string (a module source's `?ref=`): the span holds only the version's bytes, and
    /// the version is written as is (its rule admits nothing the string would need escaped).
    Inner,
    /// An image reference's `:tag`, `@digest` or `:tag@digest`: the span holds the separator too.
    ImageSuffix,
}

/// Where versions live inside one file: the kind and its options (from config or CLI flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locator {
    pub kind: Kind,
    /// `hcl-map`: dotted path of the object (`locals.versions`); `toml`: the table; `yaml`: one scalar.
    pub at: Option<String>,
    /// `yaml`: dotted path of the list (`spec.generators[0].list.elements`).
    pub items: Option<String>,
    /// `yaml`: the field naming an item (`appName`).
    pub key: Option<String>,
    /// `yaml`: the field holding the version (`appRevision`).
    pub value: Option<String>,
    /// `flux`: ResourceSet inputs field holding the version, dotted (`chart.version`); default `version`.
    pub version_key: Option<String>,
    /// `yaml`, `toml`, `hcl-map`: the value is a whole image reference; the version is its tag.
    pub part: Option<Part>,
}

impl Locator {
    pub fn new(kind: Kind) -> Self {
        Locator {
            kind,
            at: None,
            items: None,
            key: None,
            value: None,
            version_key: None,
            part: None,
        }
    }
}

/// One versioned thing inside a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Component {
    /// Name within the file (`cilium`, `ghcr.io/org/dex`).
    pub name: Text,
    /// The version as written, unquoted. For an indirect value, the raw substitution text.
    pub version: Text,
    /// When the value is a substitution or template: the variable it names. Never edited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indirect: Option<Text>,
    /// 1-based line and column of the version scalar.
    pub line: usize,
    pub column: usize,
    /// Symbolic address, e.g. `locals.versions.cilium` or `HelmRelease/cilium: spec.chart.spec.version`.
    pub address: Text,
    /// Byte span of the whole scalar, quotes included.
    #[serde(skip)]
    pub span: Range<usize>,
    #[serde(skip)]
    pub style: QuoteStyle,
    #[serde(skip)]
    pub syntax: Syntax,
    /// The grammar a new version must follow here (an image tag, a chart version, ...).
    #[serde(skip)]
    pub rule: Rule,
}

impl Keyed for Component {
    /// Its name: a file's components are looked up by name.
    fn key(&self) -> &str {
        &self.name
    }
}

/// The components of one file, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inventory {
    pub file: String,
    pub components: Vec<Component>,
    /// Things skipped on purpose, e.g. a HelmRelease using `chartRef`.
    pub notes: Vec<String>,
}

impl Inventory {
    pub fn get(&self, name: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.name == name)
    }

    pub fn names(&self) -> Vec<String> {
        self.components.iter().map(|c| c.name.to_string()).collect()
    }
}

/// Guess the kind from the file name and content; `None` when the file does not say.
pub fn detect_kind(file: &str, bytes: &[u8]) -> Option<Kind> {
    let name = file.rsplit(['/', '\\']).next().unwrap_or(file);
    let text = std::str::from_utf8(bytes).ok()?;
    let has_line = |needle: &str| text.lines().any(|l| l.trim_start().starts_with(needle));
    if name == "Chart.yaml" || name == "Chart.yml" {
        return Some(Kind::ChartDependencies);
    }
    if matches!(
        name,
        "kustomization.yaml" | "kustomization.yml" | "Kustomization"
    ) {
        return Some(Kind::KustomizeImages);
    }
    if name.ends_with(".hcl") && declares_versions(text) {
        return Some(Kind::HclMap);
    }
    if name.ends_with(".tf") || matches!(name, "terragrunt.hcl" | "terragrunt.stack.hcl") {
        return Some(Kind::ModuleSource);
    }
    if name.ends_with(".env") {
        return Some(Kind::Dotenv);
    }
    if name.ends_with(".toml") {
        return Some(Kind::Toml);
    }
    if name.ends_with(".yaml") || name.ends_with(".yml") {
        let flux = ["HelmRelease", "OCIRepository", "ResourceSet"]
            .iter()
            .any(|k| has_line(&format!("kind: {k}")));
        if flux {
            return Some(Kind::Flux);
        }
        if has_line("kind: Kustomization") && has_line("images:") {
            return Some(Kind::KustomizeImages);
        }
    }
    None
}

/// Whether HCL `text` has a `versions = ...` attribute or object key (the `hcl-map` shape).
fn declares_versions(text: &str) -> bool {
    text.lines().any(|line| {
        let line = line.trim_start();
        let rest = line
            .strip_prefix("versions")
            .or_else(|| line.strip_prefix("\"versions\""))
            .map(str::trim_start);
        rest.is_some_and(|r| (r.starts_with('=') && !r.starts_with("==")) || r.starts_with(':'))
    })
}

/// The default `at` for a kind when none is given (`locals.versions` for `hcl-map`).
fn default_locator(mut loc: Locator) -> Locator {
    if loc.kind == Kind::HclMap && loc.at.is_none() {
        loc.at = Some("locals.versions".to_string());
    }
    loc
}

/// Read every component of `bytes` (the contents of `file`, a label used in messages).
pub fn read(loc: &Locator, file: &str, bytes: &[u8]) -> Result<Inventory, EditError> {
    let loc = default_locator(loc.clone());
    let text = edit::decode(file, bytes)?;
    let inv = match loc.kind {
        // `at` naming a block (`locals`) lists its string attributes.
        Kind::HclMap => hcl_map::read(&loc, file, text)
            .or_else(|e| hcl_block::read_instead(e, &loc, file, text))?,
        Kind::Flux => flux::read(&loc, file, text)?,
        Kind::KustomizeImages => kustomize::read(&loc, file, text)?,
        Kind::ChartDependencies => chart::read(&loc, file, text)?,
        Kind::Yaml => yaml_list::read(&loc, file, text)?,
        Kind::Toml => toml_table::read(&loc, file, text)?,
        Kind::Dotenv => dotenv::read(&loc, file, text)?,
        Kind::ModuleSource => module_source::read(&loc, file, text)?,
    };
    let inv = image_ref::narrow(&loc, file, text, inv)?;
    check_duplicates(file, &inv)?;
    Ok(inv)
}

fn check_duplicates(file: &str, inv: &Inventory) -> Result<(), EditError> {
    check_repeats(file, &inv.components, |c| {
        (c.name.as_str(), c.line, c.column)
    })
}

/// The first component of `items` (all of one file, in file order) whose name an earlier one
/// has, as [`read`] refuses it; `at` gives each item's name, line and column.
///
/// Two passes, so that only a few names are compared. The first marks each name's hash in a
/// bitset of at most 2^18 slots, and a second bitset the slots met twice: a repeated name's
/// slot is one of those, a unique name's mostly not (about one in nine at 30,000 names). The
/// second pass sorts the items of those slots (in the first bitset's room) and compares names
/// only within a slot. Measured on a 30,000-pin dotenv plan against one hash table of every
/// name: 51.6M -> 50.8M instructions, and peak RSS 20.0 -> 18.3 MiB (the table, and the fresh
/// pages its growth took after the source's entries, pushed the target's entries onto a fresh
/// 2 MiB page).
///
/// The bitsets (32 KiB each at the cap) are on the stack: from the heap, two blocks of that
/// size took a 512 KiB page of the allocator's of their own, placed after the source's entries,
/// and the target's entries went after it, 1 MiB further on.
pub fn check_repeats<'s, T>(
    file: &str,
    items: &'s [T],
    at: impl Fn(&'s T) -> (&'s str, usize, usize),
) -> Result<(), EditError> {
    const MAX_BITS: u32 = 18;
    const WORDS: usize = (1 << MAX_BITS) / 64;
    // Eight slots a name up to the cap: few unique names share one.
    let bits = items
        .len()
        .saturating_mul(8)
        .clamp(64, 1 << MAX_BITS)
        .next_power_of_two()
        .trailing_zeros();
    let slot = |name: &str| (spread(name.as_bytes()) >> (64 - bits)) as usize;
    let words = (1 << bits) / 64;
    let mut small = [0u64; 2 * 64];
    let mut large;
    let room: &mut [u64] = if words <= 64 {
        &mut small
    } else {
        large = [0u64; 2 * WORDS];
        &mut large
    };
    let (once, twice) = room.split_at_mut(room.len() / 2);
    let (once, twice) = (&mut once[..words], &mut twice[..words]);
    let mut shared = false;
    for item in items {
        let s = slot(at(item).0);
        let (word, bit) = (s / 64, 1u64 << (s % 64));
        if once[word] & bit != 0 {
            twice[word] |= bit;
            shared = true;
        }
        once[word] |= bit;
    }
    if !shared {
        return Ok(());
    }
    // The items of slots met twice, a word each (slot, then index: a file has fewer than 2^32
    // components, being under 4 GiB), in the first bitset's room (a list only for more than
    // it holds): no allocation for the few thousand of 30,000 names. Sorted, each slot's items
    // are side by side in file order.
    const INDEX: u64 = u32::MAX as u64;
    let (mut held, mut more) = (0, Vec::new());
    for (i, item) in items.iter().enumerate() {
        let s = slot(at(item).0);
        if twice[s / 64] & (1u64 << (s % 64)) != 0 {
            let w = (s as u64) << 32 | i as u64;
            match once.get_mut(held) {
                Some(room) => {
                    *room = w;
                    held += 1;
                }
                None => more.push(w),
            }
        }
    }
    let met: &mut [u64] = if more.is_empty() {
        &mut once[..held]
    } else {
        more.extend_from_slice(&once[..held]);
        &mut more
    };
    met.sort_unstable();
    // The first repeat in file order: the least index whose name an earlier item of its slot
    // has, and the first of those (every item of that name is in the slot).
    let mut first: Option<(usize, usize)> = None;
    for group in met.chunk_by(|a, b| a >> 32 == b >> 32) {
        let index = |w: &u64| (w & INDEX) as usize;
        let name = |w: &u64| at(&items[index(w)]).0;
        // Many names in one slot are an unlucky (or made) hash: compared through a table, not
        // each against each.
        let mut table = (group.len() > 32).then(|| {
            rustc_hash::FxHashMap::<&str, usize>::with_capacity_and_hasher(
                group.len(),
                Default::default(),
            )
        });
        for (k, w) in group.iter().enumerate() {
            let later = index(w);
            if first.is_some_and(|(repeat, _)| repeat <= later) {
                break;
            }
            let earlier = match &mut table {
                Some(table) => match table.entry(name(w)) {
                    std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(later);
                        None
                    }
                },
                None => group[..k].iter().find(|e| name(e) == name(w)).map(index),
            };
            if let Some(earlier) = earlier {
                first = Some((later, earlier));
                break;
            }
        }
    }
    match first {
        None => Ok(()),
        Some((repeat, earlier)) => {
            let (component, line, column) = at(&items[repeat]);
            Err(EditError::Duplicate {
                file: file.to_string(),
                line,
                column,
                component: component.to_string(),
                first_line: at(&items[earlier]).1,
            })
        }
    }
}

/// A hash of `s` whose high bits [`check_repeats`] takes: up to 16 bytes (most names) read as
/// two overlapping words and multiplied once, longer ones through `FxHash`. Equal strings get
/// equal hashes; what else collides only costs an exact comparison.
fn spread(s: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    let n = s.len();
    let word = |at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap_or([0; 8]));
    let half = |at: usize| {
        u64::from(u32::from_le_bytes(
            s[at..at + 4].try_into().unwrap_or([0; 4]),
        ))
    };
    let (a, b) = match n {
        0..4 => (s.iter().fold(0, |h, &c| h << 8 | u64::from(c)), 0),
        4..8 => (half(0), half(n - 4)),
        8..=16 => (word(0), word(n - 8)),
        _ => (rustc_hash::FxBuildHasher.hash_one(s), 0),
    };
    (a ^ b.rotate_left(29) ^ (n as u64).rotate_left(58)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Whether [`read_each`] streams `loc`'s components: a dotenv file's lines, each its own
/// component (no image tag to narrow).
pub fn streams(loc: &Locator) -> bool {
    loc.kind == Kind::Dotenv && loc.part.is_none()
}

/// What [`read_each`] hands on of a component: what an inventory's entry of it keeps (no span,
/// quoting or address: nothing is edited through it). Its name and version are `S`: strings of
/// a component ([`Found::of`], [`Found::take`]), or borrowed from the line [`read_each`] read
/// (copied once, into whatever the caller makes of them).
pub struct Found<S = Text> {
    pub name: S,
    /// As written (the source's template not stripped).
    pub version: S,
    pub indirect: Option<Text>,
    pub line: usize,
    pub column: usize,
    pub rule: Rule,
}

impl Found {
    /// What an entry keeps of `c`, copied (the component stays whole).
    pub fn of(c: &Component) -> Found {
        Found {
            name: c.name.clone(),
            version: c.version.clone(),
            indirect: c.indirect.clone(),
            line: c.line,
            column: c.column,
            rule: c.rule,
        }
    }

    /// What an entry keeps of `c`, its strings moved out (for a component about to be dropped).
    pub fn take(c: &mut Component) -> Found {
        Found {
            name: std::mem::take(&mut c.name),
            version: std::mem::take(&mut c.version),
            indirect: c.indirect.take(),
            line: c.line,
            column: c.column,
            rule: c.rule,
        }
    }
}

/// [`read`] for a caller that keeps no component of the file, only what it makes of each: every
/// component is handed to `sink` as it is parsed ([`Found`]), and no list of them is made. Only where
/// [`streams`] says so; and names are not checked for repeats here, the caller checks what it
/// made of them ([`check_repeats`]). Returns the file's notes.
pub fn read_each(
    loc: &Locator,
    file: &str,
    bytes: &[u8],
    sink: impl FnMut(Found<&str>),
) -> Result<Vec<String>, EditError> {
    let text = edit::decode(file, bytes)?;
    read_each_decoded(loc, file, text, sink)
}

/// [`read_each`] of a file's text (`edit::decode`d): a bare line's name and value are borrowed
/// from `text`, a quoted one's from its decoded entry.
pub fn read_each_decoded(
    loc: &Locator,
    file: &str,
    text: &str,
    sink: impl FnMut(Found<&str>),
) -> Result<Vec<String>, EditError> {
    debug_assert!(streams(loc), "`{}` does not stream", loc.kind);
    dotenv::read_each(file, text, sink)?;
    Ok(Vec::new())
}

/// Render `version` as a scalar in `syntax`, keeping `style` where the value allows it.
pub fn render(syntax: Syntax, style: QuoteStyle, version: &str) -> String {
    match syntax {
        Syntax::Yaml => edit::yaml::render_scalar(version, style),
        Syntax::Hcl => edit::hcl::render_string(version),
        Syntax::Toml => edit::toml::render_string(version, style),
        Syntax::Dotenv => edit::dotenv::render_value(version, style),
        Syntax::Inner => version.to_string(),
        Syntax::ImageSuffix => image_ref::render_suffix(version),
    }
}

/// Set the versions of the named components, returning the new file contents.
///
/// Reads `bytes`, splices every span, then re-reads the result: it must hold exactly the new
/// versions for the named components and unchanged ones for all others, or nothing is returned.
/// Setting a component to its current version is a no-op on its bytes.
pub fn set_versions(
    loc: &Locator,
    file: &str,
    bytes: &[u8],
    changes: &[(&str, &str)],
) -> Result<Vec<u8>, EditError> {
    let before = read(loc, file, bytes)?;
    set_versions_read(loc, file, bytes, &before, changes)
}

/// [`set_versions`] for `bytes` whose inventory `before` was read already (by [`read`], with the
/// same locator): the spans are spliced as read, and the result is parsed once, to verify it.
pub fn set_versions_read(
    loc: &Locator,
    file: &str,
    bytes: &[u8],
    before: &Inventory,
    changes: &[(&str, &str)],
) -> Result<Vec<u8>, EditError> {
    let changed = changed_components(file, before, changes)?;
    let mut splices = Vec::with_capacity(changed.len());
    let mut wanted: HashMap<&str, &str> =
        HashMap::with_capacity_and_hasher(changed.len(), Default::default());
    for &(c, version) in &changed {
        wanted.insert(c.name.as_str(), version);
        splices.push(Splice {
            span: c.span.clone(),
            text: match c.syntax {
                // A plain YAML number may stay plain: that depends on how it was written.
                Syntax::Yaml => {
                    let old = std::str::from_utf8(&bytes[c.span.clone()]).unwrap_or_default();
                    edit::yaml::render_replacing(old, version, c.style)
                }
                _ => render(c.syntax, c.style, version),
            },
        });
    }
    if splices.is_empty() {
        return Ok(bytes.to_vec());
    }
    let out = edit::apply_splices(bytes, &splices);
    let after = read(loc, file, &out).map_err(|e| EditError::Verify {
        file: file.to_string(),
        message: format!("the edited file no longer parses: {e}"),
    })?;
    verify(file, before, &after, &wanted)?;
    Ok(out)
}

/// The components of `before` that `changes` gives another version, each with it, in the
/// order of `changes`; refused as [`set_versions`] refuses: a component `before` lacks, one set
/// through a variable, a version its field cannot take. Setting a version a component has already
/// is no change.
pub fn changed_components<'i, 'c>(
    file: &str,
    before: &'i Inventory,
    changes: &[(&'c str, &'c str)],
) -> Result<Vec<(&'i Component, &'c str)>, EditError> {
    // Changes come in the order of the source's file, usually the order of this one: looked up
    // in step, with one index for all if they are not (a big file stays linear either way).
    let by_name = InOrder::new(&before.components);
    let mut out = Vec::with_capacity(changes.len());
    for &(name, version) in changes {
        let c = by_name
            .get(name)
            .ok_or_else(|| EditError::UnknownComponent {
                file: file.to_string(),
                component: name.to_string(),
                known: before.names(),
            })?;
        if let Some(variable) = &c.indirect {
            return Err(EditError::Indirect {
                file: file.to_string(),
                line: c.line,
                column: c.column,
                component: name.to_string(),
                variable: variable.to_string(),
            });
        }
        if c.version == version {
            continue;
        }
        // The last guard before any write: callers say where a bad value came from first.
        validate_version(c.rule, version).map_err(|message| EditError::BadVersion {
            file: file.to_string(),
            line: c.line,
            column: c.column,
            component: name.to_string(),
            message,
        })?;
        out.push((c, version));
    }
    Ok(out)
}

fn verify(
    file: &str,
    before: &Inventory,
    after: &Inventory,
    wanted: &HashMap<&str, &str>,
) -> Result<(), EditError> {
    let fail = |message: String| EditError::Verify {
        file: file.to_string(),
        message,
    };
    let (b, a) = (&before.components, &after.components);
    if b.len() != a.len() || b.iter().zip(a).any(|(b, a)| b.name != a.name) {
        return Err(fail("the set of components changed".to_string()));
    }
    for (b, a) in before.components.iter().zip(&after.components) {
        let expected = wanted.get(b.name.as_str()).copied().unwrap_or(&b.version);
        // The address of a version inside a string holds the rest of that string.
        if a.address != b.address {
            return Err(fail(format!(
                "the text around `{}`'s version changed: `{}` became `{}`",
                a.name, b.address, a.address
            )));
        }
        if a.version != expected || a.indirect != b.indirect {
            return Err(fail(format!(
                "`{}` reads `{}` after the edit, expected `{expected}`",
                a.name, a.version
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The first name an earlier one has, and that earlier one's line: the plain definition.
    fn first_repeat(names: &[String]) -> Option<(String, usize, usize)> {
        let mut seen = std::collections::HashMap::new();
        for (i, n) in names.iter().enumerate() {
            if let Some(&first) = seen.get(n.as_str()) {
                return Some((n.clone(), i + 1, first + 1));
            }
            seen.insert(n.as_str(), i);
        }
        None
    }

    fn checked(names: &[String]) -> Option<(String, usize, usize)> {
        // Item `i` is on line `i + 1`, column 1.
        let items: Vec<(usize, &String)> = names.iter().enumerate().collect();
        match check_repeats("f", &items, |(i, n)| (n.as_str(), i + 1, 1)) {
            Ok(()) => None,
            Err(EditError::Duplicate {
                component,
                line,
                first_line,
                ..
            }) => Some((component, line, first_line)),
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn the_first_repeat_is_found_among_many_names() {
        // 40,000 names fill the slots: many share one, and only one name repeats, late.
        let mut names: Vec<String> = (0..40_000).map(|i| format!("TOOL_{i}")).collect();
        assert_eq!(checked(&names), None);
        names.push("TOOL_17".into());
        names.push("TOOL_3".into());
        assert_eq!(checked(&names), Some(("TOOL_17".into(), 40_001, 18)));
        // One name 40 times: a slot of more than 32 items, compared through a table.
        let mut same: Vec<String> = vec!["x".into(); 40];
        same.insert(0, "y".into());
        assert_eq!(checked(&same), Some(("x".into(), 3, 2)));
        assert_eq!(checked(&[]), None);
        assert_eq!(checked(&["a".into()]), None);
    }

    #[test]
    fn more_items_of_shared_slots_than_the_bitsets_room_holds() {
        // 6,000 names, then each again in reverse: 12,000 items in slots met twice, more than
        // the 2,048 words of the first bitset's room (2^17 slots); 300 names, 600 items past its
        // 128 words (2^13 slots). The first repeat is the last name of the first half, met again
        // at once. (The small room's spill: 41 items in 8 words, in the test above.)
        for n in [300, 6_000] {
            let mut names: Vec<String> = (0..n).map(|i| format!("TOOL_{i}")).collect();
            names.extend(names.clone().into_iter().rev());
            let last = format!("TOOL_{}", n - 1);
            assert_eq!(checked(&names), Some((last, n + 1, n)));
            assert_eq!(checked(&names), first_repeat(&names));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Short names from a small alphabet repeat often; long lists share slots. Up to 512
        /// names the bitsets are in the small room, beyond it in the large one.
        #[test]
        fn repeats_are_found_as_the_plain_definition_finds_them(
            names in proptest::collection::vec("[a-c]{0,3}|[A-Z_0-9]{1,20}", 0..700)
        ) {
            prop_assert_eq!(checked(&names), first_repeat(&names));
        }
    }
}
