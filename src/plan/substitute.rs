//! `substitute-from` in plans: `${var}` values resolved per environment (see
//! `source::substitute`), and the guards before a pin line is edited: never a file both
//! environments read, never a default, one version per pin line.

use std::collections::{BTreeMap, HashMap};

use super::{Action, Entry, EnvInventory, Item, PlanError};
use crate::config::{Config, Promotion};
use crate::repo::Files;
use crate::source::substitute::{self, Vars, Via};

/// Whether any source reads `${var}` values through `substitute-from` files: without one, no
/// component has a pin line, and its environment's components need not be walked for one.
pub(super) fn reads_pins(config: &Config) -> bool {
    config.sources.iter().any(|s| !s.substitute_from.is_empty())
}

/// Resolve the `${var}` values of `env`'s components whose source has `substitute-from`. A file
/// missing from the list is skipped (Flux would fail on a missing ConfigMap; promote lists what
/// it can, and refuses only when an edit would need that file: `settle`).
pub(super) fn resolve(
    config: &Config,
    env: &str,
    files: &dyn Files,
    components: &mut [Entry],
) -> Result<(), PlanError> {
    if !reads_pins(config) {
        return Ok(());
    }
    let mut loaded: HashMap<usize, Vars> = HashMap::new();
    for e in components.iter_mut().filter(|e| e.indirect().is_some()) {
        let src = e.source_of(config);
        if src.substitute_from.is_empty() {
            continue;
        }
        let Some(r) = substitute::reference(&e.version) else {
            continue;
        };
        let vars = match loaded.entry(e.source() as usize) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let mut vars = Vars::default();
                for (i, path) in src.substitute_paths(env).iter().enumerate() {
                    vars.add(i, path, files.read(path)?.as_deref())?;
                }
                v.insert(vars)
            }
        };
        let (value, via) = substitute::resolve(vars, &r, e.rule());
        if let Some(v) = value {
            e.version = src.version_from_stored(e.name(), &v);
            e.set_indirect(None);
        }
        e.set_via(Some(via));
    }
    Ok(())
}

/// Mark the target's pins that sit in a file the source environment reads too (the same path
/// after `{env}` replacement, on the same branch): editing one would change both environments.
pub(super) fn mark_shared(config: &Config, promotion: &Promotion, tgt: &mut EnvInventory) {
    if !reads_pins(config) {
        return;
    }
    let same_branch = config.branch_of(&promotion.from) == config.branch_of(&promotion.to);
    for t in &mut tgt.components {
        let src = t.source_of(config);
        let Some(via) = t.via_mut() else { continue };
        if let (Some(i), Some(file)) = (via.entry, &via.file) {
            let theirs = src.substitute_paths(&promotion.from);
            via.shared = same_branch && theirs.get(i) == Some(file);
        }
    }
}

/// Whether [`settle`] has anything to do: only components read through `substitute-from` have
/// anything to settle.
pub(super) fn settles(config: &Config, tgt: &EnvInventory) -> bool {
    reads_pins(config) && tgt.components.iter().any(|e| e.via().is_some())
}

/// After deciding: components that would set one pin line to different versions are held, and
/// an edit that needs a missing `{env}` file of the target is an error.
pub(super) fn settle(
    config: &Config,
    src: &EnvInventory,
    tgt: &EnvInventory,
    items: &mut [Item],
    files: &dyn Files,
) -> Result<(), PlanError> {
    if !settles(config, tgt) {
        return Ok(());
    }
    let targets = tgt.index();
    let pin_of = |item: &Item| {
        let via = targets.get(item.id.as_str())?.via()?;
        Some((via.pin()?.to_string(), via.variable.clone()))
    };
    let mut offers: BTreeMap<(String, String), Vec<(String, String)>> = BTreeMap::new();
    for item in items.iter().filter(|i| i.action == Action::Change) {
        if let Some(pin) = pin_of(item) {
            offers
                .entry(pin)
                .or_default()
                .push((item.id.to_string(), item.to_version.to_string()));
        }
    }
    for item in items.iter_mut().filter(|i| i.action == Action::Change) {
        let Some(pin) = pin_of(item) else { continue };
        let others: Vec<String> = offers[&pin]
            .iter()
            .filter(|(id, v)| *id != item.id && *v != item.to_version)
            .map(|(id, v)| format!("`{id}` offers `{v}`"))
            .collect();
        if !others.is_empty() {
            item.action = Action::Held;
            item.reason = compact_str::format_compact!(
                "`{}` in `{}` sets other components too, and they disagree: {}",
                pin.1,
                pin.0,
                others.join(", ")
            );
        }
    }
    // A pin the target cannot take (no file of its own sets it) while the source offers another
    // version: when one of the target's own files is missing, say so rather than hold.
    let sources = src.index();
    for item in items.iter().filter(|i| i.action == Action::Held) {
        let id = item.id.as_str();
        let (Some(t), Some(s)) = (targets.get(id), sources.get(id)) else {
            continue;
        };
        let Some(via) = t.via() else { continue };
        if via.pin().is_some() || s.indirect().is_some() || t.version == s.version {
            continue;
        }
        let src = t.source_of(config);
        for (template, path) in src
            .substitute_from
            .iter()
            .zip(src.substitute_paths(&tgt.env))
        {
            if template.contains("{env}") && files.read(&path)?.is_none() {
                return Err(PlanError::MissingPinFile {
                    env: tgt.env.clone(),
                    path,
                    at: files.label(),
                    id: item.id.to_string(),
                    variable: via.variable.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Where a target's version is edited: its pin line when it is resolved through one.
pub(super) fn pin_line(t: &Entry) -> Option<(&str, usize, &Via)> {
    let via = t.via()?;
    Some((via.pin()?, via.line?, via))
}
