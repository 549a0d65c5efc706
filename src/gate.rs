#![deny(clippy::indexing_slicing)]
//! Eligibility: which components may move now, decided from statuses, changed paths, force and filters.
//!
//! Pure: statuses, triggers and config in; verdicts and decisions out.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::event::Trigger;
use crate::forge::CommitStatus;

pub mod history;

/// `[promotion.gate]` in `promote.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct GateConfig {
    /// Regex: a commit status speaks for `from` when its context matches; a named group
    /// `component` ties it to one component name.
    pub status_context: Option<String>,
    /// Contexts that must all be `success` at the commit before anything moves.
    #[serde(default)]
    pub require: Vec<String>,
    /// Logins whose statuses are trusted; empty: any.
    #[serde(default)]
    pub creators: Vec<String>,
}

impl GateConfig {
    /// Whether this gate reads statuses at all.
    pub fn is_gated(&self) -> bool {
        self.status_context.is_some() || !self.require.is_empty()
    }

    /// `status-context` with `{env}` bound to the source environment's name.
    pub fn pattern(&self, from: &str) -> Option<Result<regex::Regex, GateError>> {
        let pattern = self.status_context.as_ref()?;
        Some(regex(&bind_env(pattern, &regex::escape(from))))
    }

    /// The `require`d contexts with `{env}` bound to the source environment's name.
    pub fn required(&self, from: &str) -> Vec<String> {
        self.require.iter().map(|r| bind_env(r, from)).collect()
    }

    /// Whether `context` speaks for promotions from `from`: it matches `status-context` or is
    /// `require`d.
    pub fn speaks(&self, from: &str, context: &str) -> Result<bool, GateError> {
        if self.required(from).iter().any(|r| r == context) {
            return Ok(true);
        }
        match self.pattern(from) {
            Some(re) => Ok(re?.is_match(context)),
            None => Ok(false),
        }
    }
}

fn bind_env(text: &str, env: &str) -> String {
    text.replace("{env}", env)
}

/// Why a component may move now, or must wait.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "kebab-case")]
pub enum Verdict {
    Eligible { reason: String },
    Held { reason: String },
}

/// The gate's answer for one promotion: a verdict per component id, and one for the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Eligibility {
    pub verdicts: BTreeMap<String, Verdict>,
    /// Verdict for components not listed in `verdicts`.
    pub default: Verdict,
    /// Components whose source commit is, by history, newer than the one the target's version
    /// was promoted from: they may move even when their versions cannot be ordered.
    pub newer: BTreeSet<String>,
    /// What the gate noticed that a person should read (shared names, unmatched requires).
    pub notes: Vec<String>,
    /// No status or check run speaking for this promotion has been reported yet.
    pub waiting: bool,
}

impl Eligibility {
    /// Everything may move (a local `promote plan`, or `force`).
    pub fn all(reason: &str) -> Self {
        Self::with_default(Verdict::Eligible {
            reason: reason.to_string(),
        })
    }

    fn with_default(default: Verdict) -> Self {
        Eligibility {
            verdicts: BTreeMap::new(),
            default,
            newer: BTreeSet::new(),
            notes: Vec::new(),
            waiting: false,
        }
    }

    pub fn verdict(&self, id: &str) -> &Verdict {
        self.verdicts.get(id).unwrap_or(&self.default)
    }

    /// Hold `id` for `reason`, whatever it was.
    pub fn hold(&mut self, id: &str, reason: String) {
        self.verdicts
            .insert(id.to_string(), Verdict::Held { reason });
    }

    /// Only the components in `keep` stay as they were; every other one is held for `why_not`.
    pub fn restrict(&mut self, ids: &[String], keep: &[String], why_not: &str) {
        for id in ids {
            if !keep.contains(id) {
                self.hold(id, why_not.to_string());
            } else if !self.verdicts.contains_key(id) {
                let v = self.default.clone();
                self.verdicts.insert(id.clone(), v);
            }
        }
        self.default = Verdict::Held {
            reason: why_not.to_string(),
        };
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GateError {
    #[error("`gate.status-context` `{pattern}` is not a valid regex: {message}")]
    BadRegex { pattern: String, message: String },
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

fn regex(pattern: &str) -> Result<regex::Regex, GateError> {
    regex::Regex::new(pattern).map_err(|e| GateError::BadRegex {
        pattern: pattern.to_string(),
        message: e.to_string(),
    })
}

/// A component as the gate sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// `group/name`, or `name` without a group.
    pub id: crate::Text,
    pub name: crate::Text,
    /// Other names statuses use for it (`status-names`, the dotenv default).
    pub aliases: Vec<String>,
    /// Whether its own name and id speak for it too; false when its source gives every
    /// component one status name (`"*"`): then only that name does.
    pub own_name: bool,
}

impl Subject {
    /// Whether the `component` group's text names this subject: its name, an alias, or its
    /// whole id.
    pub fn named_by(&self, text: &str) -> bool {
        (self.own_name && text.eq_ignore_ascii_case(&self.name))
            || self.aliases.iter().any(|a| text.eq_ignore_ascii_case(a))
            || self.is_id(text)
    }

    /// Whether `text` is this subject's id, or `group/alias` for one of its aliases.
    pub fn is_id(&self, text: &str) -> bool {
        if self.own_name && text.eq_ignore_ascii_case(&self.id) {
            return true;
        }
        let Some(group) = self
            .id
            .strip_suffix(self.name.as_str())
            .and_then(|g| g.strip_suffix('/'))
        else {
            return false;
        };
        let same_group = text
            .get(..group.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(group));
        let rest = text.get(group.len()..).and_then(|r| r.strip_prefix('/'));
        same_group && rest.is_some_and(|r| self.aliases.iter().any(|a| a.eq_ignore_ascii_case(r)))
    }
}

/// The newest status per context (the API lists newest first) and the check runs (the API lists
/// the latest per name), from trusted creators only; and what was ignored, with why.
fn latest<'s>(
    rules: &GateConfig,
    statuses: &'s [CommitStatus],
    check_runs: &'s [CommitStatus],
) -> (Vec<&'s CommitStatus>, Vec<String>) {
    let mut out = Vec::new();
    let mut ignored = Vec::new();
    for list in [statuses, check_runs] {
        let mut seen = BTreeSet::new();
        for s in list {
            let trusted = rules.creators.is_empty()
                || s.creator
                    .as_ref()
                    .is_some_and(|c| rules.creators.iter().any(|t| t == c));
            if !trusted {
                ignored.push(format!(
                    "`{}` by untrusted `{}` ignored",
                    s.context,
                    s.creator.as_deref().unwrap_or("unknown")
                ));
                continue;
            }
            if seen.insert(s.context.as_str()) {
                out.push(s);
            }
        }
    }
    (out, ignored)
}

/// Decide per component from the statuses and check runs of the source commit.
///
/// A status (or a check run, by its name) speaks for `from` when its context matches
/// `status-context` (with `{env}` bound to `from`). With a named group `component`, it speaks
/// for the components whose `group/name` id (or `group/alias`) the group's text equals, else
/// for those whose name or status name (alias) it equals; without it, for
/// every component. A component is eligible only when at least one context speaks for it and
/// **every** one that does (newest per context) is `success`. Every `require`d context must be
/// `success` or everything is held. With `partial = false`, one held component holds all.
pub fn from_statuses(
    rules: &GateConfig,
    from: &str,
    partial: bool,
    subjects: &[Subject],
    statuses: &[CommitStatus],
    check_runs: &[CommitStatus],
) -> Result<Eligibility, GateError> {
    let (latest, ignored) = latest(rules, statuses, check_runs);
    let note = if ignored.is_empty() {
        String::new()
    } else {
        format!(" ({})", ignored.join("; "))
    };
    let required = rules.required(from);
    let pattern = rules.pattern(from).transpose()?;
    let speaks_at_all = latest.iter().any(|s| {
        required.contains(&s.context) || pattern.as_ref().is_some_and(|re| re.is_match(&s.context))
    });
    let mut notes = Vec::new();
    for ctx in &required {
        let state = latest
            .iter()
            .find(|s| &s.context == ctx)
            .map(|s| s.state.as_str());
        if state != Some("success") {
            if state.is_none() {
                notes.push(not_seen(ctx, &latest));
            }
            let reason = format!(
                "required status `{ctx}` is {}{note}",
                state.unwrap_or("missing")
            );
            let mut e = all_held(reason);
            e.notes = notes;
            e.waiting = !speaks_at_all;
            return Ok(e);
        }
    }
    let Some(re) = pattern else {
        let mut e = Eligibility::all("every required status is success");
        e.notes = notes;
        return Ok(e);
    };
    // Per component: the contexts that speak for it.
    let mut speaking: BTreeMap<&str, Vec<&CommitStatus>> = BTreeMap::new();
    for s in &latest {
        let Some(caps) = re.captures(&s.context) else {
            continue;
        };
        let Some(named) = caps.name("component") else {
            for subject in subjects {
                speaking.entry(&subject.id).or_default().push(s);
            }
            continue;
        };
        let text = named.as_str();
        let by_id: Vec<&Subject> = subjects.iter().filter(|c| c.is_id(text)).collect();
        let named: Vec<&Subject> = if by_id.is_empty() {
            subjects.iter().filter(|c| c.named_by(text)).collect()
        } else {
            by_id
        };
        if named.len() > 1 {
            let ids: Vec<String> = named.iter().map(|c| format!("`{}`", c.id)).collect();
            notes.push(format!(
                "`{}` names `{text}`, which is {}: it speaks for each of them (name `group/name` in the context to tell them apart)",
                s.context,
                ids.join(" and ")
            ));
        }
        for subject in named {
            speaking.entry(&subject.id).or_default().push(s);
        }
    }
    let mut verdicts = BTreeMap::new();
    for subject in subjects {
        let list = speaking
            .get(subject.id.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default();
        let bad: Vec<String> = list
            .iter()
            .filter(|s| s.state != "success")
            .map(|s| format!("`{}` is {}", s.context, s.state))
            .collect();
        let verdict = if list.is_empty() {
            Verdict::Held {
                reason: format!("no status matching `{}` at this commit{note}", re.as_str()),
            }
        } else if !bad.is_empty() {
            Verdict::Held {
                reason: format!("{}{note}", bad.join(", ")),
            }
        } else {
            let ok: Vec<String> = list.iter().map(|s| format!("`{}`", s.context)).collect();
            Verdict::Eligible {
                reason: format!("{} success", ok.join(", ")),
            }
        };
        verdicts.insert(subject.id.to_string(), verdict);
    }
    let first_held = verdicts.iter().find_map(|(id, v)| match v {
        Verdict::Held { reason } => Some(format!("`{id}`: {reason}")),
        Verdict::Eligible { .. } => None,
    });
    if let (false, Some(why)) = (partial, first_held) {
        let mut e = all_held(format!("partial promotion is off and {why}"));
        e.notes = notes;
        e.waiting = !speaks_at_all;
        return Ok(e);
    }
    Ok(Eligibility {
        verdicts,
        default: Verdict::Held {
            reason: "no status speaks for it".to_string(),
        },
        newer: BTreeSet::new(),
        notes,
        waiting: !speaks_at_all,
    })
}

/// A note for a required context that nothing reported.
fn not_seen(ctx: &str, latest: &[&CommitStatus]) -> String {
    let mut seen: Vec<String> = latest.iter().map(|s| format!("`{}`", s.context)).collect();
    seen.truncate(10);
    let seen = if seen.is_empty() {
        "none".to_string()
    } else {
        seen.join(", ")
    };
    format!(
        "required context `{ctx}` was not reported at this commit (reported: {seen}); check its spelling in `require`"
    )
}

fn all_held(reason: String) -> Eligibility {
    Eligibility::with_default(Verdict::Held { reason })
}

/// Only the components in `changed` may move (a push changed them).
pub fn only(changed: &[String], why: &str) -> Eligibility {
    let mut e = all_held("not changed by this push".to_string());
    e.verdicts = changed
        .iter()
        .map(|id| {
            (
                id.clone(),
                Verdict::Eligible {
                    reason: why.to_string(),
                },
            )
        })
        .collect();
    e
}

/// What `promote check` says about the gates of a config: problems (configs that cannot work)
/// and notes (what a config means, which a person should know).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct GateReview {
    pub problems: Vec<String>,
    pub notes: Vec<String>,
}

/// Review every promotion's gate: two promotions no status can tell apart, a gate without a
/// `component` group on a partial promotion, and promotions without a gate.
pub fn review(config: &Config) -> GateReview {
    let mut r = GateReview::default();
    let name = |p: &crate::config::Promotion| format!("`{} -> {}`", p.from, p.to);
    for (i, p) in config.promotions.iter().enumerate() {
        if !p.gate.is_gated() {
            r.notes.push(format!(
                "{} is ungated: every trigger promotes whatever differs (add `[promotion.gate]` to promote only what was verified)",
                name(p)
            ));
            continue;
        }
        let pattern = p
            .gate
            .status_context
            .as_ref()
            .map(|c| bind_env(c, &regex::escape(&p.from)));
        if let Some(text) = &pattern
            && p.partial
            && !text.contains("(?P<component>")
        {
            r.notes.push(format!(
                "{} has `partial = true`, but its `status-context` has no `(?P<component>...)` group: each matching status speaks for every component, so all move or none do",
                name(p)
            ));
        }
        for q in config.promotions.iter().take(i) {
            // Promotions leaving one environment share its statuses by design.
            if !q.gate.is_gated() || q.from == p.from {
                continue;
            }
            let other = q
                .gate
                .status_context
                .as_ref()
                .map(|c| bind_env(c, &regex::escape(&q.from)));
            let same_pattern = pattern.is_some() && pattern == other;
            let same_require = pattern.is_none()
                && other.is_none()
                && p.gate.required(&p.from) == q.gate.required(&q.from);
            if same_pattern || same_require {
                r.problems.push(format!(
                    "{} and {} are gated by the same contexts: no status can tell them apart, so a status from one environment would release the other\nhint: put `{{env}}` in `status-context` (and `require`), e.g. '^kustomization/(?P<component>[^/]+)/{{env}}$', and have each cluster's Flux Provider post its environment's name (`commitStatusExpr`)",
                    name(q),
                    name(p)
                ));
            }
        }
    }
    r
}

/// Where the source environment's versions are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceRev {
    /// The head of the environment's branch.
    Head,
    /// Exactly this commit (the one that was reported or pushed).
    Commit(String),
}

/// What one event asks for, in terms of the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Promote `from` -> `to`, for each request (a status may speak for several promotions).
    Promote(Vec<Request>),
    /// A push or merge: the glue works out which environments changed between `before` (the
    /// first parent of `after` when unknown) and `after` on `branch`, and promotes each onward
    /// through the same gate.
    Changed {
        branch: String,
        before: Option<String>,
        after: String,
    },
    /// Nothing to do (exit 0), and why.
    Nothing(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub from: String,
    pub to: String,
    pub source: SourceRev,
    /// Gate on the commit's statuses and check runs (every trigger, when the promotion has a
    /// gate; never with `force`).
    pub check_statuses: bool,
    /// Only this component name may move (a Flux event about one object).
    pub only_component: Option<String>,
    pub components: Vec<String>,
    pub pins: Vec<(String, String)>,
    pub force: bool,
    pub dry_run: bool,
}

impl Request {
    /// A request for `promotion`, gated when the promotion has a gate.
    pub fn new(promotion: &crate::config::Promotion, source: SourceRev) -> Self {
        Request {
            from: promotion.from.clone(),
            to: promotion.to.clone(),
            source,
            check_statuses: promotion.gate.is_gated(),
            only_component: None,
            components: Vec::new(),
            pins: Vec::new(),
            force: false,
            dry_run: false,
        }
    }
}

/// The promotions whose gate a `context` speaks for.
fn promotions_for_context<'c>(
    config: &'c Config,
    context: &str,
) -> Result<Vec<&'c crate::config::Promotion>, GateError> {
    let mut out = Vec::new();
    for p in &config.promotions {
        if p.gate.speaks(&p.from, context)? {
            out.push(p);
        }
    }
    Ok(out)
}

/// Whether a Flux event says the object is healthy: only `ReconciliationSucceeded`, or a
/// message saying that health checks passed. `Progressing` comes right after apply, before
/// health checks.
fn flux_healthy(reason: &str, message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    reason == "ReconciliationSucceeded"
        || message.contains("health check passed")
        || message.contains("health checks passed")
}

/// Turn an event into what to do, for this config.
pub fn decide(trigger: &Trigger, config: &Config) -> Result<Decision, GateError> {
    Ok(match trigger {
        Trigger::Ignored { reason } => Decision::Nothing(reason.clone()),
        Trigger::Status {
            sha,
            state,
            context,
            ..
        } => {
            let promotions = promotions_for_context(config, context)?;
            if promotions.is_empty() {
                return Ok(Decision::Nothing(format!(
                    "status context `{context}` speaks for no promotion"
                )));
            }
            if state != "success" {
                return Ok(Decision::Nothing(format!(
                    "status `{context}` is `{state}` for {}: nothing promoted",
                    short(sha)
                )));
            }
            Decision::Promote(
                promotions
                    .into_iter()
                    .map(|p| Request::new(p, SourceRev::Commit(sha.clone())))
                    .collect(),
            )
        }
        Trigger::FluxDispatch {
            kind,
            name,
            severity,
            reason,
            message,
            revision_sha,
            env,
            ..
        } => {
            let context = format!("{}/{name}", kind.to_lowercase());
            let mut matched = Vec::new();
            for p in &config.promotions {
                if env.as_ref().is_some_and(|e| e != &p.from) {
                    continue;
                }
                let Some(re) = p.gate.pattern(&p.from) else {
                    continue;
                };
                let re = re?;
                let component =
                    |c: regex::Captures<'_>| c.name("component").map(|m| m.as_str().to_string());
                let (with_env, bare) = (format!("{context}/{}", p.from), format!("{context}/"));
                if let Some(c) = re.captures(&with_env).or_else(|| re.captures(&bare)) {
                    matched.push((p, component(c)));
                }
            }
            if matched.is_empty() {
                return Ok(Decision::Nothing(format!(
                    "Flux event for `{context}` speaks for no promotion"
                )));
            }
            // Several promotions leaving one environment all run; several environments are
            // ambiguous.
            let mut froms: Vec<String> = Vec::new();
            for (p, _) in &matched {
                let from = format!("`{}`", p.from);
                if !froms.contains(&from) {
                    froms.push(from);
                }
            }
            if froms.len() > 1 {
                return Ok(Decision::Nothing(format!(
                    "Flux event for `{context}` could come from {}: nothing promoted\nhint: add `eventMetadata: {{env: <environment>}}` to the Flux Alert so the event names its environment",
                    froms.join(" or ")
                )));
            }
            if severity != "info" || !flux_healthy(reason, message) {
                return Ok(Decision::Nothing(format!(
                    "Flux reports `{context}` {severity} ({reason}), not healthy: nothing promoted (only `ReconciliationSucceeded` or passed health checks count)"
                )));
            }
            let Some(sha) = revision_sha else {
                return Ok(Decision::Nothing(format!(
                    "Flux event for `{context}` names no git revision: nothing promoted"
                )));
            };
            Decision::Promote(
                matched
                    .into_iter()
                    .map(|(p, component)| {
                        let mut r = Request::new(p, SourceRev::Commit(sha.clone()));
                        r.only_component = component.or_else(|| Some(name.clone()));
                        r
                    })
                    .collect(),
            )
        }
        Trigger::Dispatch {
            from,
            to,
            components,
            force,
            dry_run,
            pins,
        } => {
            // Someone asked for this promotion by name: one that does not exist is an error.
            let p = config.pick_promotion(from.as_deref(), to.as_deref())?;
            let mut r = Request::new(p, SourceRev::Head);
            r.check_statuses &= !force;
            r.components = components.clone();
            r.pins = pins.clone();
            r.force = *force;
            r.dry_run = *dry_run;
            Decision::Promote(vec![r])
        }
        Trigger::Push {
            branch,
            before,
            after,
            deleted,
            ..
        } => {
            let Some(branch) = branch else {
                return Ok(Decision::Nothing(
                    "a tag push does not trigger a promotion".into(),
                ));
            };
            if *deleted {
                return Ok(Decision::Nothing(format!("branch `{branch}` was deleted")));
            }
            let zero = before.chars().all(|c| c == '0');
            changed(config, branch, (!zero).then(|| before.clone()), after)
        }
        Trigger::MergedPr {
            base_ref,
            merge_commit_sha,
            ..
        } => changed(config, base_ref, None, merge_commit_sha),
    })
}

fn changed(config: &Config, branch: &str, before: Option<String>, after: &str) -> Decision {
    let env_on_branch = config
        .environments
        .iter()
        .find(|e| e.branch.as_deref() == Some(branch));
    if let Some(env) = env_on_branch
        && config.promotions.iter().all(|p| p.from != env.name)
    {
        return Decision::Nothing(format!(
            "push to the last environment `{}`: it promotes nowhere",
            env.name
        ));
    }
    let env_on_main = config.environments.iter().any(|e| e.branch.is_none());
    if env_on_branch.is_none() && (branch != config.main_branch || !env_on_main) {
        return Decision::Nothing(format!("push to branch `{branch}` is not an environment"));
    }
    Decision::Changed {
        branch: branch.to_string(),
        before,
        after: after.to_string(),
    }
}

/// The first 7 characters of a sha (all of a shorter text), never splitting a character.
pub fn short(sha: &str) -> &str {
    sha.char_indices()
        .nth(7)
        .map_or(sha, |(i, _)| sha.get(..i).unwrap_or(sha))
}

#[cfg(test)]
mod tests;
