//! The plan: what a promotion A -> B would change, hold or leave, computed as a value.
//!
//! Inventories of both environments are read from any `Files` (working tree, a git revision, or
//! files fetched through the API); the plan carries the file edits, the commit message and the
//! pull request text, so `apply` and delivery only carry it out.

pub mod render;

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::config::{Config, Promotion, Source};
use crate::edit::EditError;
use crate::gate::{Eligibility, Verdict};
use crate::repo::{Files, RepoError};
use crate::source;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Edit(#[from] EditError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(
        "{path}: source file not found in `{env}` ({at})\nhint: check `path` in the config, or limit the source with `environments`"
    )]
    Missing {
        env: String,
        path: String,
        at: String,
    },
    #[error(
        "{file}:{line}:{column}: component `{id}` is also at {first}\nhint: give one of the sources a `group`"
    )]
    DuplicateId {
        id: String,
        file: String,
        line: usize,
        column: usize,
        first: String,
    },
    #[error("bad pin `{0}`: expected `ID=VERSION`")]
    BadPin(String),
    #[error("bad component filter `{0}`: {1}")]
    BadFilter(String, String),
    #[error(
        "pin `{pin}` names no component of `{env}`\nhint: pin by id (`group/name`) or name, as `promote versions` lists them"
    )]
    UnknownPin { pin: String, env: String },
}

/// One component of one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub id: String,
    pub name: String,
    pub group: Option<String>,
    /// The version, with the source's template stripped.
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indirect: Option<String>,
    pub file: String,
    pub line: usize,
    pub column: usize,
    #[serde(skip)]
    pub source: usize,
}

/// Every component of one environment at one revision, in config and file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvInventory {
    pub env: String,
    pub at: String,
    pub components: Vec<Entry>,
    pub notes: Vec<String>,
}

impl EnvInventory {
    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.components.iter().find(|e| e.id == id)
    }

    /// Entries by id, for lookups that must stay linear in the number of components.
    pub fn index(&self) -> HashMap<&str, &Entry> {
        self.components.iter().map(|e| (e.id.as_str(), e)).collect()
    }
}

/// Read every source of `env` from `files`: each file is parsed once.
pub fn inventory(config: &Config, env: &str, files: &dyn Files) -> Result<EnvInventory, PlanError> {
    let mut components = Vec::new();
    let mut notes = Vec::new();
    for (index, src) in config.sources.iter().enumerate() {
        let Some(path) = src.path_for(env) else {
            continue;
        };
        let bytes = files.read(&path)?.ok_or_else(|| PlanError::Missing {
            env: env.to_string(),
            path: path.clone(),
            at: files.label(),
        })?;
        let inv = source::read(&src.locator(), &path, &bytes)?;
        notes.extend(inv.notes);
        for c in inv.components {
            components.push(Entry {
                id: src.id(&c.name),
                version: src.version_from_stored(&c.name, &c.version),
                name: c.name,
                group: src.group.clone(),
                indirect: c.indirect,
                file: path.clone(),
                line: c.line,
                column: c.column,
                source: index,
            });
        }
    }
    check_unique(&components)?;
    Ok(EnvInventory {
        env: env.to_string(),
        at: files.label(),
        components,
        notes,
    })
}

/// Two sources of one environment must not yield the same id: the plan could not tell them apart.
fn check_unique(components: &[Entry]) -> Result<(), PlanError> {
    let mut seen: HashMap<&str, &Entry> = HashMap::with_capacity(components.len());
    for e in components {
        if let Some(first) = seen.insert(&e.id, e) {
            return Err(PlanError::DuplicateId {
                id: e.id.clone(),
                file: e.file.clone(),
                line: e.line,
                column: e.column,
                first: format!("{}:{}:{}", first.file, first.line, first.column),
            });
        }
    }
    Ok(())
}

/// What the plan does with one component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Change,
    Unchanged,
    Held,
    New,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub id: String,
    pub name: String,
    pub action: Action,
    /// The target's current version (`None` when the target lacks the component).
    pub from_version: Option<String>,
    /// The version the source offers (or the pin).
    pub to_version: String,
    /// Target file and position of the version.
    pub file: Option<String>,
    pub line: Option<usize>,
    /// Why it is held, or why it may move.
    pub reason: String,
}

/// One file the plan rewrites.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileEdit {
    pub path: String,
    #[serde(skip)]
    pub before: Vec<u8>,
    #[serde(skip)]
    pub after: Vec<u8>,
    pub diff: String,
}

/// Choices that shape a plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Component ids or names, globs allowed; empty: all.
    pub components: Vec<String>,
    pub groups: Vec<String>,
    /// `ID=VERSION` pins: promote this version instead of the source's.
    pub pins: Vec<(String, String)>,
    /// Allow downgrades.
    pub force: bool,
    pub add_missing: bool,
}

/// Parse `ID=VERSION`.
pub fn parse_pin(s: &str) -> Result<(String, String), PlanError> {
    match s.split_once('=') {
        Some((id, v)) if !id.trim().is_empty() && !v.trim().is_empty() => {
            Ok((id.trim().to_string(), v.trim().to_string()))
        }
        _ => Err(PlanError::BadPin(s.to_string())),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub schema_version: u32,
    pub from: String,
    pub to: String,
    /// The revision the source environment was read at.
    pub source_at: String,
    pub target_at: String,
    pub items: Vec<Item>,
    pub edits: Vec<FileEdit>,
    pub commit_message: String,
    pub pr_title: String,
    pub pr_body: String,
}

impl Plan {
    pub fn changes(&self) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(|i| i.action == Action::Change)
    }

    pub fn held(&self) -> impl Iterator<Item = &Item> {
        self.items
            .iter()
            .filter(|i| matches!(i.action, Action::Held | Action::New))
    }

    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }
}

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
fn decide(
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

/// Compute the plan for `promotion`, reading the source from `source_files` and the target from
/// `target_files`.
pub fn build(
    config: &Config,
    promotion: &Promotion,
    source_files: &dyn Files,
    target_files: &dyn Files,
    gate: &Eligibility,
    opts: &PlanOptions,
) -> Result<Plan, PlanError> {
    let src = inventory(config, &promotion.from, source_files)?;
    let tgt = inventory(config, &promotion.to, target_files)?;
    let items = decide(&src, &tgt, gate, opts)?;
    let edits = edits(config, &tgt, &items, target_files)?;
    let mut plan = Plan {
        schema_version: 1,
        from: promotion.from.clone(),
        to: promotion.to.clone(),
        source_at: src.at,
        target_at: tgt.at,
        items,
        edits,
        commit_message: String::new(),
        pr_title: String::new(),
        pr_body: String::new(),
    };
    plan.commit_message = render::commit_message(promotion, &plan);
    plan.pr_title = promotion.title();
    plan.pr_body = render::pr_body(promotion, &plan);
    Ok(plan)
}

/// One `set_versions` per target file for all its changes.
fn edits(
    config: &Config,
    tgt: &EnvInventory,
    items: &[Item],
    files: &dyn Files,
) -> Result<Vec<FileEdit>, PlanError> {
    // target file -> (source index, [(component name, stored version)])
    type Changes = Vec<(String, String)>;
    let mut by_file: BTreeMap<&str, (usize, Changes)> = BTreeMap::new();
    let targets = tgt.index();
    for item in items.iter().filter(|i| i.action == Action::Change) {
        let Some(t) = targets.get(item.id.as_str()) else {
            continue;
        };
        let src: &Source = &config.sources[t.source];
        let stored = src.version_to_stored(&t.name, &item.to_version);
        by_file
            .entry(&t.file)
            .or_insert((t.source, Vec::new()))
            .1
            .push((t.name.clone(), stored));
    }
    let mut out = Vec::new();
    for (path, (index, changes)) in by_file {
        let before = files.read(path)?.ok_or_else(|| PlanError::Missing {
            env: tgt.env.clone(),
            path: path.to_string(),
            at: files.label(),
        })?;
        let pairs: Vec<(&str, &str)> = changes
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let after = source::set_versions(&config.sources[index].locator(), path, &before, &pairs)?;
        if after != before {
            let diff = crate::cmd::file::unified_diff(path, &before, &after);
            out.push(FileEdit {
                path: path.to_string(),
                before,
                after,
                diff,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_semver_aware() {
        assert_eq!(
            compare_versions("v1.12.1", "v1.12.0"),
            Some(Ordering::Greater)
        );
        assert_eq!(compare_versions("1.18", "1.18.1"), Some(Ordering::Less));
        assert_eq!(
            compare_versions("v2.0.0-rc.1", "v2.0.0"),
            Some(Ordering::Less)
        );
        assert_eq!(compare_versions("sha-abc12345", "sha-def45678"), None);
        assert_eq!(compare_versions("sha256:aa", "1.0.0"), None);
    }

    fn entry(id: &str, version: &str) -> Entry {
        let (group, name) = match id.split_once('/') {
            Some((g, n)) => (Some(g.to_string()), n.to_string()),
            None => (None, id.to_string()),
        };
        Entry {
            id: id.into(),
            name,
            group,
            version: version.into(),
            indirect: None,
            file: "f.yaml".into(),
            line: 1,
            column: 1,
            source: 0,
        }
    }

    fn inv(env: &str, entries: &[(&str, &str)]) -> EnvInventory {
        EnvInventory {
            env: env.into(),
            at: "test".into(),
            components: entries.iter().map(|(id, v)| entry(id, v)).collect(),
            notes: Vec::new(),
        }
    }

    fn decisions(opts: &PlanOptions, gate: &Eligibility) -> Vec<(String, Action, String)> {
        let src = inv(
            "integration",
            &[
                ("helm/cilium", "1.18.6"),
                ("helm/loki", "6.40.0"),
                ("apps/dex", "sha-abc12345"),
                ("helm/podinfo", "6.9.2"),
                ("infra/spegel", "0.3.0"),
                ("infra/talos", "v1.12.1"),
            ],
        );
        let tgt = inv(
            "live",
            &[
                ("helm/cilium", "1.18.5"),
                ("helm/loki", "6.41.0"),
                ("apps/dex", "sha-fff00000"),
                ("helm/podinfo", "6.9.2"),
                ("infra/talos", "v1.12.0"),
            ],
        );
        decide(&src, &tgt, gate, opts)
            .expect("decide")
            .into_iter()
            .map(|i| (i.id, i.action, i.to_version))
            .collect()
    }

    fn action_of(d: &[(String, Action, String)], id: &str) -> Action {
        d.iter()
            .find(|(i, ..)| i == id)
            .map(|(_, a, _)| *a)
            .expect(id)
    }

    #[test]
    fn downgrades_are_held_unless_forced_and_sha_tags_are_unordered() {
        let all = Eligibility::all("local run");
        let d = decisions(&PlanOptions::default(), &all);
        assert_eq!(action_of(&d, "helm/cilium"), Action::Change);
        assert_eq!(action_of(&d, "helm/loki"), Action::Held);
        assert_eq!(action_of(&d, "apps/dex"), Action::Change);
        assert_eq!(action_of(&d, "helm/podinfo"), Action::Unchanged);
        assert_eq!(action_of(&d, "infra/spegel"), Action::New);
        let forced = PlanOptions {
            force: true,
            ..PlanOptions::default()
        };
        assert_eq!(
            action_of(&decisions(&forced, &all), "helm/loki"),
            Action::Change
        );
    }

    #[test]
    fn filters_pins_and_the_gate() {
        let all = Eligibility::all("local run");
        let opts = PlanOptions {
            groups: vec!["helm".into()],
            components: vec!["c*".into(), "helm/loki".into()],
            pins: vec![("loki".into(), "6.39.0".into())],
            ..PlanOptions::default()
        };
        let d = decisions(&opts, &all);
        assert_eq!(action_of(&d, "helm/cilium"), Action::Change);
        assert_eq!(action_of(&d, "infra/talos"), Action::Held);
        assert_eq!(action_of(&d, "apps/dex"), Action::Held);
        // A pin is a rollback: no `--force` needed.
        assert!(d.contains(&("helm/loki".into(), Action::Change, "6.39.0".into())));
        let mut gate = Eligibility::all("status success");
        gate.verdicts.insert(
            "helm/cilium".into(),
            Verdict::Held {
                reason: "status failure".into(),
            },
        );
        let d = decisions(&PlanOptions::default(), &gate);
        assert_eq!(action_of(&d, "helm/cilium"), Action::Held);
        assert_eq!(action_of(&d, "infra/talos"), Action::Change);
        let typo = PlanOptions {
            pins: vec![("helm/cilum".into(), "1.0.0".into())],
            ..PlanOptions::default()
        };
        let src = inv("integration", &[("helm/cilium", "1.18.6")]);
        let err = decide(&src, &src, &gate, &typo).expect_err("unknown pin");
        assert!(
            err.to_string()
                .starts_with("pin `helm/cilum` names no component of `integration`")
        );
    }

    #[test]
    fn indirect_values_are_never_edited() {
        let mut src = inv("integration", &[("helm/cilium", "${CILIUM_VERSION}")]);
        src.components[0].indirect = Some("CILIUM_VERSION".into());
        let tgt = inv("live", &[("helm/cilium", "1.18.5")]);
        let items =
            decide(&src, &tgt, &Eligibility::all("x"), &PlanOptions::default()).expect("decide");
        assert_eq!(items[0].action, Action::Held);
        assert!(
            items[0].reason.contains("`CILIUM_VERSION`"),
            "{}",
            items[0].reason
        );
    }

    #[test]
    fn one_id_from_two_sources_is_an_error() {
        let mut components = inv("dev", &[("cilium", "1.0.0"), ("cilium", "1.0.1")]).components;
        components[1].file = "g.yaml".into();
        components[1].line = 7;
        let err = check_unique(&components).expect_err("duplicate");
        assert!(
            err.to_string()
                .starts_with("g.yaml:7:1: component `cilium` is also at f.yaml:1:1"),
            "{err}"
        );
    }

    #[test]
    fn pins_parse() {
        assert_eq!(
            parse_pin("dex=sha-1").expect("pin"),
            ("dex".into(), "sha-1".into())
        );
        assert!(parse_pin("dex").is_err());
    }
}
