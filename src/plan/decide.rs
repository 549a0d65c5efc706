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

/// Compare two digit strings as numbers of any size (`01` = `1`).
fn cmp_number(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Pre-release identifiers compared as semver does: numbers numerically and below words.
fn cmp_pre(a: &str, b: &str) -> Ordering {
    let mut xs = a.split('.');
    let mut ys = b.split('.');
    loop {
        match (xs.next(), ys.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
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

/// Compare two versions: dotted numbers of any length (`4.0.19.3001`), leading zeros
/// (`2.85.01` < `2.86.01`), an optional `v`, calver (`2024.05.01`), semver pre-releases (below
/// their release) and build metadata (ignored). `None` when either cannot be ordered (`sha-`
/// tags, digests, branch names, anything else).
pub fn compare_versions(a: &str, b: &str) -> Option<Ordering> {
    let (x, y) = (ordered(a)?, ordered(b)?);
    // The shorter list of numbers reads as padded with zeros (`1.2` = `1.2.0`).
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

struct Filter {
    globs: Option<globset::GlobSet>,
    groups: Vec<String>,
}

impl Filter {
    fn new(opts: &PlanOptions, src: &EnvInventory) -> Result<Filter, PlanError> {
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
                    .any(|e| m.is_match(&e.id) || m.is_match(&e.name))
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
            .is_none_or(|g| g.is_match(&e.id) || g.is_match(&e.name));
        let by_group = self.groups.is_empty()
            || e.group
                .as_ref()
                .is_some_and(|g| self.groups.iter().any(|x| x == g.as_str()));
        by_name && by_group
    }
}

/// Decide each component of `src` against `tgt`.
pub(super) fn decide(
    src: &EnvInventory,
    tgt: &EnvInventory,
    gate: &Eligibility,
    opts: &PlanOptions,
) -> Result<Vec<Item>, PlanError> {
    let filter = Filter::new(opts, src)?;
    let pins: BTreeMap<&str, &str> = opts
        .pins
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if let Some((pin, _)) = opts
        .pins
        .iter()
        .find(|(k, _)| !src.components.iter().any(|e| e.id == *k || e.name == *k))
    {
        return Err(PlanError::UnknownPin {
            pin: pin.clone(),
            env: src.env.clone(),
        });
    }
    let targets = tgt.index();
    let mut items = Vec::with_capacity(src.components.len());
    for e in &src.components {
        let pin = pins
            .get(e.id.as_str())
            .or_else(|| pins.get(e.name.as_str()))
            .copied();
        if let Some(v) = pin {
            let rule = targets.get(e.id.as_str()).map_or(e.rule, |t| t.rule);
            let key = if pins.contains_key(e.id.as_str()) {
                &e.id
            } else {
                &e.name
            };
            super::check_pin(key, v, rule)?;
        }
        // Outside the filter: not part of this run at all (not held, not counted).
        if !filter.admits(e) {
            continue;
        }
        let target = targets.get(e.id.as_str()).copied();
        let (action, reason) = judge(e, target, pin, gate, opts);
        // A version resolved through a pin line is edited there.
        let (file, line) = match target.map(|t| match super::substitute::pin_line(t) {
            Some((file, line, _)) => (file.into(), line),
            None => (t.file.clone(), t.line),
        }) {
            Some((file, line)) => (Some(file), Some(line)),
            None => (None, None),
        };
        let via = target.and_then(|t| t.via.as_deref()).or(e.via.as_deref());
        items.push(Item {
            id: e.id.clone(),
            name: e.name.clone(),
            action,
            from_version: target.map(|t| t.version.clone()),
            to_version: pin.map_or_else(|| e.version.clone(), Text::from),
            file,
            line,
            reason,
            via: via.map(Via::describe),
        });
    }
    Ok(items)
}

fn judge(
    e: &Entry,
    target: Option<&Entry>,
    pin: Option<&str>,
    gate: &Eligibility,
    opts: &PlanOptions,
) -> (Action, Text) {
    let held = |r: Text| (Action::Held, r);
    let same = |t: &Entry| t.indirect.is_none() && t.version == pin.unwrap_or(&e.version);
    if e.indirect.is_none() && target.is_some_and(same) {
        return (Action::Unchanged, "already at this version".into());
    }
    // The same substitution on both sides (no `substitute-from` to resolve it) is no change.
    if let (None, None, Some(var), Some(t)) = (pin, &e.via, &e.indirect, target)
        && t.indirect.as_ref() == Some(var)
        && t.version == e.version
    {
        return (
            Action::Unchanged,
            compact_str::format_compact!("both set through `{}`", e.version),
        );
    }
    let wanted = pin.unwrap_or(&e.version);
    if let (None, Some(var)) = (pin, &e.indirect) {
        let why = e
            .via
            .as_ref()
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
        .via
        .as_ref()
        .and_then(|v| v.problem.as_ref().and(v.not_editable()))
    {
        return held(why.into());
    }
    if let Some(var) = &t.indirect {
        return held(compact_str::format_compact!(
            "target sets it through `{}`: edit that source",
            shown_reference(var, &t.version)
        ));
    }
    if t.version == wanted {
        return (Action::Unchanged, "already at this version".into());
    }
    if let Some(why) = t.via.as_deref().and_then(Via::not_editable) {
        return held(why.into());
    }
    let eligible = match gate.verdict(&e.id) {
        Verdict::Held { reason } => {
            return held(compact_str::format_compact!("not eligible: {reason}"));
        }
        Verdict::Eligible { reason } => Text::from(reason.as_str()),
    };
    if pin.is_some() {
        return (
            Action::Change,
            compact_str::format_compact!("pinned to {wanted}"),
        );
    }
    if opts.force {
        return (Action::Change, eligible);
    }
    match compare_versions(wanted, &t.version) {
        Some(Ordering::Less) => held("downgrade: pass `--force`, or `--pin` to roll back".into()),
        None if !gate.newer.contains(e.id.as_str()) => held(compact_str::format_compact!(
            "cannot order `{wanted}` against `{}`, and no promotion record shows which is newer; use `pin` or `force`",
            t.version
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
    format!("{}:{}", e.file, e.line)
}
