//! Deciding each component: change, unchanged, held (and why) or new; versions ordered
//! semver-aware, filters and pins applied, the gate consulted.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::{Action, Entry, EnvInventory, Item, PlanError, PlanOptions};
use crate::Text;
use crate::gate::{Eligibility, Verdict};
use crate::source::substitute::Via;

/// A version split for ordering: dotted numbers (any count, leading zeros ignored), then an
/// optional pre-release (`-rc.1`), build metadata (`+...`) ignored. The numbers stay one slice,
/// walked again when compared: ordering two versions allocates nothing.
struct Ordered<'v> {
    core: &'v [u8],
    pre: Option<&'v [u8]>,
}

/// One pass over the bytes: an optional `v`/`V`, dotted runs of digits (none empty), then
/// either the end, `+build` (ignored), or `-pre` (not empty) up to the first `+`.
fn ordered(v: &str) -> Option<Ordered<'_>> {
    let b = v.as_bytes();
    let b = match b.first() {
        Some(b'v' | b'V') => &b[1..],
        _ => b,
    };
    let mut run = 0;
    let mut end = 0;
    let stop = loop {
        match b.get(end) {
            Some(b'0'..=b'9') => run += 1,
            Some(b'.') if run > 0 => run = 0,
            Some(&c @ (b'-' | b'+')) => break Some(c),
            None => break None,
            // Anything else in the numbers (an empty one included) cannot be ordered.
            Some(_) => return None,
        }
        end += 1;
    };
    if run == 0 {
        return None;
    }
    let core = &b[..end];
    let pre = match stop {
        Some(b'-') => {
            let rest = &b[end + 1..];
            let pre = memchr::memchr(b'+', rest).map_or(rest, |plus| &rest[..plus]);
            if pre.is_empty() {
                return None;
            }
            Some(pre)
        }
        _ => None,
    };
    Some(Ordered { core, pre })
}

/// The `.`-separated parts of `s`, as `str::split('.')` yields them (an empty `s` is one
/// empty part), without a char searcher.
struct Dots<'s>(Option<&'s [u8]>);

impl<'s> Iterator for Dots<'s> {
    type Item = &'s [u8];

    fn next(&mut self) -> Option<&'s [u8]> {
        let s = self.0?;
        match s.iter().position(|&b| b == b'.') {
            Some(dot) => {
                self.0 = Some(&s[dot + 1..]);
                Some(&s[..dot])
            }
            None => {
                self.0 = None;
                Some(s)
            }
        }
    }
}

/// The dotted number of `core` starting at byte `at`, without its leading zeros, and where the
/// next one starts; past the end of `core`, an empty number (zero).
fn number(core: &[u8], at: usize) -> (&[u8], usize) {
    if at > core.len() {
        return (&[], at);
    }
    let mut i = at;
    while i < core.len() && core[i] == b'0' {
        i += 1;
    }
    let start = i;
    while i < core.len() && core[i] != b'.' {
        i += 1;
    }
    (&core[start..i], i + 1)
}

/// Compare two digit strings without leading zeros as numbers: the longer is larger, else the
/// first differing digit decides (a byte loop: these are a few digits, `memcmp` costs more).
fn cmp_digits(a: &[u8], b: &[u8]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| {
        a.iter()
            .zip(b)
            .find(|(x, y)| x != y)
            .map_or(Ordering::Equal, |(x, y)| x.cmp(y))
    })
}

/// Compare two digit strings as numbers of any size (`01` = `1`).
fn cmp_number(a: &[u8], b: &[u8]) -> Ordering {
    let skip = |s: &[u8]| s.iter().position(|&c| c != b'0').unwrap_or(s.len());
    cmp_digits(&a[skip(a)..], &b[skip(b)..])
}

/// Pre-release identifiers compared as semver does: numbers numerically and below words.
fn cmp_pre(a: &[u8], b: &[u8]) -> Ordering {
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    let (mut xs, mut ys) = (Dots(Some(a)), Dots(Some(b)));
    loop {
        let o = match (xs.next(), ys.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => match (digits(x), digits(y)) {
                (true, true) => cmp_number(x, y),
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                (false, false) => x.cmp(y),
            },
        };
        if o != Ordering::Equal {
            return o;
        }
    }
}

/// Compare two versions: dotted numbers of any length (`4.0.19.3001`), leading zeros
/// (`2.85.01` < `2.86.01`), an optional `v`, calver (`2024.05.01`), semver pre-releases (below
/// their release) and build metadata (ignored). `None` when either cannot be ordered (`sha-`
/// tags, digests, branch names, anything else).
pub fn compare_versions(a: &str, b: &str) -> Option<Ordering> {
    let (x, y) = (ordered(a)?, ordered(b)?);
    // The shorter list of numbers reads as padded with zeros (`1.2` = `1.2.0`): a list past
    // its end gives empty numbers, which is what `0` is without its leading zeros.
    let (mut i, mut j) = (0, 0);
    while i <= x.core.len() || j <= y.core.len() {
        let (p, next_i) = number(x.core, i);
        let (q, next_j) = number(y.core, j);
        let o = cmp_digits(p, q);
        if o != Ordering::Equal {
            return Some(o);
        }
        (i, j) = (next_i, next_j);
    }
    Some(match (x.pre, y.pre) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(p), Some(q)) => cmp_pre(p, q),
    })
}

/// The components a plan decides: `--component` globs and `--group`s.
pub(super) struct Filter {
    globs: Option<globset::GlobSet>,
    groups: Vec<String>,
}

impl Filter {
    pub(super) fn new(opts: &PlanOptions, src: &EnvInventory) -> Result<Filter, PlanError> {
        let globs = if opts.components.is_empty() {
            None
        } else {
            let mut b = globset::GlobSetBuilder::new();
            for pattern in &opts.components {
                let glob = globset::Glob::new(pattern)
                    .map_err(|e| PlanError::BadFilter(pattern.clone(), e.to_string()))?;
                // A filter that names nothing is a typo, not an empty promotion.
                let m = glob.compile_matcher();
                if !src
                    .components
                    .iter()
                    .any(|e| m.is_match(&e.id) || m.is_match(e.name()))
                {
                    return Err(PlanError::UnknownFilter {
                        filter: pattern.clone(),
                        env: src.env.clone(),
                        known: src.components.iter().map(|e| e.id.to_string()).collect(),
                    });
                }
                b.add(glob);
            }
            Some(
                b.build()
                    .map_err(|e| PlanError::BadFilter(String::new(), e.to_string()))?,
            )
        };
        Ok(Filter {
            globs,
            groups: opts.groups.clone(),
        })
    }

    fn admits(&self, e: &Entry) -> bool {
        let by_name = self
            .globs
            .as_ref()
            .is_none_or(|g| g.is_match(&e.id) || g.is_match(e.name()));
        let by_group = self.groups.is_empty()
            || e.group()
                .is_some_and(|g| self.groups.iter().any(|x| **x == **g));
        by_name && by_group
    }
}

/// Decide each component of `src` against `tgt`.
#[cfg(test)]
pub(super) fn decide(
    src: &EnvInventory,
    tgt: &EnvInventory,
    gate: &Eligibility,
    opts: &PlanOptions,
) -> Result<Vec<Item>, PlanError> {
    decide_indexed(src, &tgt.in_order(), gate, opts)
}

/// [`decide`] against the target's entries by id; each item notes where the target's entry of
/// it is among them (`Item::target_at`), for the edits to find it without looking it up again.
pub(super) fn decide_indexed(
    src: &EnvInventory,
    targets: &crate::source::InOrder<'_, Entry>,
    gate: &Eligibility,
    opts: &PlanOptions,
) -> Result<Vec<Item>, PlanError> {
    let mut items = Vec::with_capacity(src.components.len());
    let filter = Filter::new(opts, src)?;
    decide_each(src, targets, gate, opts, &filter, |d| {
        items.push(d.item());
        Ok(())
    })?;
    Ok(items)
}

/// One component decided, borrowed from the environments it was decided from: what its
/// [`Item`] says, before (or instead of) making one ([`Decision::item`]).
pub(super) struct Decision<'a> {
    /// The source's entry.
    pub(super) entry: &'a Entry,
    /// The target's entry, and where it is among the target's entries.
    pub(super) target: Option<(usize, &'a Entry)>,
    /// The version pinned for it (`--pin`).
    pub(super) pin: Option<&'a str>,
    pub(super) action: Action,
    pub(super) reason: Text,
}

impl Decision<'_> {
    fn target_entry(&self) -> Option<&Entry> {
        self.target.map(|(_, t)| t)
    }

    /// The `substitute-from` variable the version is read through.
    pub(super) fn via(&self) -> Option<&crate::source::substitute::Via> {
        self.target_entry()
            .and_then(Entry::via)
            .or(self.entry.via())
    }

    /// Its item: what a plan keeps of it.
    pub(super) fn item(self) -> Item {
        let (e, target) = (self.entry, self.target_entry());
        // A version resolved through a pin line is edited there.
        let (file, line) = match target.map(|t| match super::substitute::pin_line(t) {
            Some((file, line, _)) => (file.into(), super::narrow(line)),
            None => (t.file().clone(), t.line),
        }) {
            Some((file, line)) => (Some(file), Some(line)),
            None => (None, None),
        };
        Item {
            id: e.id.clone(),
            name: e.name().into(),
            action: self.action,
            from_version: target.map(|t| t.version.clone()),
            to_version: self.pin.map_or_else(|| e.version.clone(), Text::from),
            file,
            line,
            via: self.via().map(|v| v.describe().into_boxed_str()),
            reason: self.reason,
            target_at: self.target.map_or(u32::MAX, |(i, _)| super::narrow(i)),
        }
    }
}

/// The widest id among the components of `src` that `filter` admits, as [`decide_each`] decides
/// them: what a text plan pads its ids to before the first item is decided.
pub(super) fn widest_id(src: &EnvInventory, filter: &Filter) -> usize {
    let all = filter.globs.is_none() && filter.groups.is_empty();
    src.components
        .iter()
        .filter(|e| all || filter.admits(e))
        .map(|e| e.id.len())
        .max()
        .unwrap_or(0)
}

/// [`decide_indexed`], each component handed to `sink` as it is decided, in the source's order,
/// as a [`Decision`] borrowed from the environments: no item is made. The first error (the
/// sink's or a decision's) ends it. Returns how many of the source's components the target has.
pub(super) fn decide_each<'a, 't: 'a>(
    src: &'a EnvInventory,
    targets: &crate::source::InOrder<'t, Entry>,
    gate: &Eligibility,
    opts: &'a PlanOptions,
    filter: &Filter,
    mut sink: impl FnMut(Decision<'a>) -> Result<(), PlanError>,
) -> Result<usize, PlanError> {
    let pins: BTreeMap<&str, &str> = opts
        .pins
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if let Some((pin, _)) = opts
        .pins
        .iter()
        .find(|(k, _)| !src.components.iter().any(|e| e.id == *k || e.name() == *k))
    {
        return Err(PlanError::UnknownPin {
            pin: pin.clone(),
            env: src.env.clone(),
        });
    }
    let all = filter.globs.is_none() && filter.groups.is_empty();
    let mut found = 0;
    for e in &src.components {
        // Once per component, in file order (`InOrder` walks the target along).
        let at = targets.position(e.id.as_str());
        found += usize::from(at.is_some());
        let target = at.and_then(|i| targets.at(i));
        let pin = pins
            .get(e.id.as_str())
            .or_else(|| pins.get(e.name()))
            .copied();
        if let Some(v) = pin {
            let rule = target.map_or(e.rule(), |t| t.rule());
            let key = if pins.contains_key(e.id.as_str()) {
                &e.id
            } else {
                e.name()
            };
            super::check_pin(key, v, rule)?;
        }
        // Outside the filter: not part of this run at all (not held, not counted).
        if !all && !filter.admits(e) {
            continue;
        }
        let (action, reason) = judge(e, target, pin, gate, opts);
        sink(Decision {
            entry: e,
            target: at.zip(target),
            pin,
            action,
            reason,
        })?;
    }
    Ok(found)
}

fn judge(
    e: &Entry,
    target: Option<&Entry>,
    pin: Option<&str>,
    gate: &Eligibility,
    opts: &PlanOptions,
) -> (Action, Text) {
    let held = |r: Text| (Action::Held, r);
    let same = |t: &Entry| {
        t.indirect().is_none() && crate::source::same(&t.version, pin.unwrap_or(&e.version))
    };
    if e.indirect().is_none() && target.is_some_and(same) {
        return (Action::Unchanged, "already at this version".into());
    }
    // The same substitution on both sides (no `substitute-from` to resolve it) is no change.
    if let (None, None, Some(var), Some(t)) = (pin, e.via(), e.indirect(), target)
        && t.indirect() == Some(var)
        && crate::source::same(&t.version, &e.version)
    {
        return (
            Action::Unchanged,
            compact_str::format_compact!("both set through `{}`", e.version),
        );
    }
    let wanted = pin.unwrap_or(&e.version);
    if let (None, Some(var)) = (pin, e.indirect()) {
        let why = e
            .via()
            .and_then(|v| v.problem.as_ref())
            .map_or(String::new(), |p| format!(": {p}"));
        return held(compact_str::format_compact!(
            "indirect in `{}`: set through `{}`{why}",
            src_env_hint(e),
            shown_reference(var, &e.version)
        ));
    }
    let Some(t) = target else {
        let why = if opts.add_missing {
            "missing in target: cannot insert without reformatting; add it by hand once"
        } else {
            "missing in target: pass `--add-missing` to try"
        };
        return (Action::New, why.into());
    };
    if let Some(why) = t
        .via()
        .and_then(|v| v.problem.as_ref().and(v.not_editable()))
    {
        return held(why.into());
    }
    if let Some(var) = t.indirect() {
        return held(compact_str::format_compact!(
            "target sets it through `{}`: edit that source",
            shown_reference(var, &t.version)
        ));
    }
    if crate::source::same(&t.version, wanted) {
        return (Action::Unchanged, "already at this version".into());
    }
    if let Some(why) = t.via().and_then(Via::not_editable) {
        return held(why.into());
    }
    judge_move(&e.id, wanted, &t.version, pin.is_some(), gate, opts)
}

/// The end of [`judge`], for a component the target sets in place at another version than
/// `wanted`: the gate's verdict on `id`, then a pin, `--force`, and the order of the versions.
pub(super) fn judge_move(
    id: &str,
    wanted: &str,
    current: &str,
    pinned: bool,
    gate: &Eligibility,
    opts: &PlanOptions,
) -> (Action, Text) {
    let held = |r: Text| (Action::Held, r);
    let eligible = match gate.verdict(id) {
        Verdict::Held { reason } => {
            return held(compact_str::format_compact!("not eligible: {reason}"));
        }
        Verdict::Eligible { reason } => Text::from(reason.as_str()),
    };
    if pinned {
        return (
            Action::Change,
            compact_str::format_compact!("pinned to {wanted}"),
        );
    }
    if opts.force {
        return (Action::Change, eligible);
    }
    match compare_versions(wanted, current) {
        Some(Ordering::Less) => held("downgrade: pass `--force`, or `--pin` to roll back".into()),
        None if !gate.newer.contains(id) => held(compact_str::format_compact!(
            "cannot order `{wanted}` against `{current}`, and no promotion record shows which is newer; use `pin` or `force`"
        )),
        _ => (Action::Change, eligible),
    }
}

/// `var`, or the whole `${var:-default}` when the value carries a default (so it is not lost).
fn shown_reference(var: &str, raw: &str) -> String {
    if raw.contains(":-") && raw.starts_with("${") {
        raw.to_string()
    } else {
        var.to_string()
    }
}

fn src_env_hint(e: &Entry) -> String {
    format!("{}:{}", e.file(), e.line)
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    use proptest::prelude::*;

    use super::compare_versions;

    /// The ordering as first written with `split`/`split_once`: the oracle the byte scanner
    /// must agree with on every input.
    mod oracle {
        use std::cmp::Ordering;

        struct Ordered<'v> {
            core: &'v str,
            pre: Option<&'v str>,
        }

        fn ordered(v: &str) -> Option<Ordered<'_>> {
            let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
            let v = v.split_once('+').map_or(v, |(core, _)| core);
            let (core, pre) = match v.split_once('-') {
                Some((core, pre)) if !pre.is_empty() => (core, Some(pre)),
                Some(_) => return None,
                None => (v, None),
            };
            let numeric = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
            core.split('.')
                .all(numeric)
                .then_some(Ordered { core, pre })
        }

        fn cmp_number(a: &str, b: &str) -> Ordering {
            let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
            a.len().cmp(&b.len()).then_with(|| a.cmp(b))
        }

        fn cmp_pre(a: &str, b: &str) -> Ordering {
            let mut xs = a.split('.');
            let mut ys = b.split('.');
            loop {
                match (xs.next(), ys.next()) {
                    (None, None) => return Ordering::Equal,
                    (None, Some(_)) => return Ordering::Less,
                    (Some(_), None) => return Ordering::Greater,
                    (Some(x), Some(y)) => {
                        let digits =
                            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
                        let o = match (digits(x), digits(y)) {
                            (true, true) => cmp_number(x, y),
                            (true, false) => Ordering::Less,
                            (false, true) => Ordering::Greater,
                            (false, false) => x.cmp(y),
                        };
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                }
            }
        }

        pub fn compare_versions(a: &str, b: &str) -> Option<Ordering> {
            let (x, y) = (ordered(a)?, ordered(b)?);
            let (mut xs, mut ys) = (x.core.split('.'), y.core.split('.'));
            loop {
                let (p, q) = match (xs.next(), ys.next()) {
                    (None, None) => break,
                    (p, q) => (p.unwrap_or("0"), q.unwrap_or("0")),
                };
                let o = cmp_number(p, q);
                if o != Ordering::Equal {
                    return Some(o);
                }
            }
            Some(match (x.pre, y.pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(p), Some(q)) => cmp_pre(p, q),
            })
        }
    }

    /// Version-like text: an optional `v`, dotted numbers (with leading zeros, empty parts and
    /// stray dots), an optional pre-release and build metadata, or garbage of the same letters.
    fn version() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[vV]?(0|00|1|01|2|9|10|007|123456789012345678901)?(\\.(0|00|1|01|2|9|10|007)?){0,4}(-([0-9]{0,3}|rc|alpha|beta|x-y|é|0a)(\\.([0-9]{0,3}|rc|alpha|beta|é|-)){0,3})?(\\+[0-9a-z.+-]{0,5})?",
            1 => "[0-9vV.+\\-a-z é]{0,12}",
            1 => any::<String>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4_096))]

        #[test]
        fn byte_scanner_orders_as_the_split_version(a in version(), b in version()) {
            prop_assert_eq!(compare_versions(&a, &b), oracle::compare_versions(&a, &b));
        }

        /// Pairs that share most of their text, so that ties (and what breaks them) are common.
        #[test]
        fn byte_scanner_agrees_on_near_equal_pairs(a in version(), tail in "[0-9.+\\-a-z]{0,4}") {
            let b = format!("{a}{tail}");
            prop_assert_eq!(compare_versions(&a, &b), oracle::compare_versions(&a, &b));
            prop_assert_eq!(compare_versions(&b, &a), oracle::compare_versions(&b, &a));
            prop_assert_eq!(compare_versions(&a, &a), oracle::compare_versions(&a, &a));
        }
    }

    #[test]
    fn oracle_and_scanner_agree_on_hand_picked_pairs() {
        let cases = [
            ("1.2.3", "1.2.3", Some(Ordering::Equal)),
            ("v1.2", "1.2.0", Some(Ordering::Equal)),
            ("01.2", "1.02", Some(Ordering::Equal)),
            ("1.2.3-rc.1", "1.2.3", Some(Ordering::Less)),
            ("1.2.3-rc.2", "1.2.3-rc.10", Some(Ordering::Less)),
            ("1.2.3-1", "1.2.3-a", Some(Ordering::Less)),
            ("1.2.3-rc.1.", "1.2.3-rc.1", Some(Ordering::Greater)),
            ("1.2.3+b-1", "1.2.3", Some(Ordering::Equal)),
            ("1.2-", "1.2", None),
            ("1.2-+x", "1.2", None),
            ("1..2", "1.2", None),
            ("1.2.", "1.2", None),
            ("v", "1", None),
            ("", "1", None),
            ("-rc", "1", None),
            ("vv1", "1", None),
            ("1.2é", "1.2", None),
            ("1-é", "1-z", Some(Ordering::Greater)),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare_versions(a, b), want, "{a} vs {b}");
            assert_eq!(oracle::compare_versions(a, b), want, "oracle: {a} vs {b}");
        }
    }
}
