//! Deciding each component: change, unchanged, held (and why) or new; versions ordered
//! semver-aware, filters and pins applied, the gate consulted.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::{Action, Entry, EnvInventory, Item, PlanError, PlanOptions};
use crate::gate::{Eligibility, Verdict};

/// Compare two versions: semver-aware with or without `v`; `None` when they are not ordered
/// (sha tags, digests, anything else).
pub fn compare_versions(a: &str, b: &str) -> Option<Ordering> {
    fn parse(v: &str) -> Option<semver::Version> {
        let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
        if let Ok(ver) = semver::Version::parse(v) {
            return Some(ver);
        }
        // `1.18` and `1` count as `1.18.0` and `1.0.0`.
        let (core, rest) = match v.find(['-', '+']) {
            Some(i) => v.split_at(i),
            None => (v, ""),
        };
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() < 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        {
            let padded = format!("{}{}{rest}", parts.join("."), ".0".repeat(3 - parts.len()));
            return semver::Version::parse(&padded).ok();
        }
        None
    }
    Some(parse(a)?.cmp(&parse(b)?))
}

struct Filter {
    globs: Option<globset::GlobSet>,
    groups: Vec<String>,
}

impl Filter {
    fn new(opts: &PlanOptions) -> Result<Filter, PlanError> {
        let globs = if opts.components.is_empty() {
            None
        } else {
            let mut b = globset::GlobSetBuilder::new();
            for pattern in &opts.components {
                let glob = globset::Glob::new(pattern)
                    .map_err(|e| PlanError::BadFilter(pattern.clone(), e.to_string()))?;
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
        let by_group =
            self.groups.is_empty() || e.group.as_ref().is_some_and(|g| self.groups.contains(g));
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
    let filter = Filter::new(opts)?;
    let pins: BTreeMap<&str, &str> = opts
        .pins
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if let Some((pin, _)) = opts
        .pins
        .iter()
        .find(|(k, _)| !src.components.iter().any(|e| &e.id == k || &e.name == k))
    {
        return Err(PlanError::UnknownPin {
            pin: pin.clone(),
            env: src.env.clone(),
        });
    }
    let targets = tgt.index();
    let mut items = Vec::new();
    for e in &src.components {
        let pin = pins
            .get(e.id.as_str())
            .or_else(|| pins.get(e.name.as_str()))
            .copied();
        let target = targets.get(e.id.as_str()).copied();
        let (action, reason) = judge(e, target, pin, gate, &filter, opts);
        items.push(Item {
            id: e.id.clone(),
            name: e.name.clone(),
            action,
            from_version: target.map(|t| t.version.clone()),
            to_version: pin.unwrap_or(&e.version).to_string(),
            file: target.map(|t| t.file.clone()),
            line: target.map(|t| t.line),
            reason,
        });
    }
    Ok(items)
}

fn judge(
    e: &Entry,
    target: Option<&Entry>,
    pin: Option<&str>,
    gate: &Eligibility,
    filter: &Filter,
    opts: &PlanOptions,
) -> (Action, String) {
    let held = |r: String| (Action::Held, r);
    let same = |t: &Entry| t.indirect.is_none() && t.version == pin.unwrap_or(&e.version);
    if e.indirect.is_none() && target.is_some_and(same) {
        return (Action::Unchanged, "already at this version".into());
    }
    if !filter.admits(e) {
        return held("filtered out".into());
    }
    let wanted = pin.unwrap_or(&e.version);
    if let (None, Some(var)) = (pin, &e.indirect) {
        return held(format!(
            "indirect in `{}`: set through `{var}`",
            src_env_hint(e)
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
    if let Some(var) = &t.indirect {
        return held(format!("target sets it through `{var}`: edit that source"));
    }
    if t.version == wanted {
        return (Action::Unchanged, "already at this version".into());
    }
    let eligible = match gate.verdict(&e.id) {
        Verdict::Held { reason } => return held(format!("not eligible: {reason}")),
        Verdict::Eligible { reason } => reason.clone(),
    };
    if pin.is_some() {
        return (Action::Change, format!("pinned to {wanted}"));
    }
    if compare_versions(wanted, &t.version) == Some(Ordering::Less) && !opts.force {
        return held("downgrade: pass `--force`, or `--pin` to roll back".into());
    }
    (Action::Change, eligible)
}

fn src_env_hint(e: &Entry) -> String {
    format!("{}:{}", e.file, e.line)
}
