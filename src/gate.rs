//! Eligibility: which components may move now, decided from statuses, changed paths, force and filters.
//!
//! Pure: statuses, triggers and config in; verdicts and decisions out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::event::Trigger;
use crate::forge::CommitStatus;

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
}

impl Eligibility {
    /// Everything may move (a local `promote plan`, or `force`).
    pub fn all(reason: &str) -> Self {
        Eligibility {
            verdicts: BTreeMap::new(),
            default: Verdict::Eligible {
                reason: reason.to_string(),
            },
        }
    }

    pub fn verdict(&self, id: &str) -> &Verdict {
        self.verdicts.get(id).unwrap_or(&self.default)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GateError {
    #[error("`gate.status-context` `{pattern}` is not a valid regex: {message}")]
    BadRegex { pattern: String, message: String },
}

fn regex(pattern: &str) -> Result<regex::Regex, GateError> {
    regex::Regex::new(pattern).map_err(|e| GateError::BadRegex {
        pattern: pattern.to_string(),
        message: e.to_string(),
    })
}

/// The newest status per context (the API lists newest first), from trusted creators only.
fn latest<'s>(
    rules: &GateConfig,
    statuses: &'s [CommitStatus],
) -> (Vec<&'s CommitStatus>, Vec<String>) {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    let mut ignored = Vec::new();
    for s in statuses {
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
    (out, ignored)
}

/// Decide per component from the statuses of the reported commit.
///
/// A status speaks for a component when its context matches `status-context` and the named group
/// `component` (if any) equals the component's name. `success` makes it eligible; anything else, or
/// no status at all, holds it. Every `require`d context must be `success` or everything is held.
/// With `partial = false`, one held component holds all.
pub fn from_statuses(
    rules: &GateConfig,
    partial: bool,
    component_ids: &[String],
    statuses: &[CommitStatus],
) -> Result<Eligibility, GateError> {
    let (latest, ignored) = latest(rules, statuses);
    let note = if ignored.is_empty() {
        String::new()
    } else {
        format!(" ({})", ignored.join("; "))
    };
    for ctx in &rules.require {
        let state = latest
            .iter()
            .find(|s| &s.context == ctx)
            .map(|s| s.state.as_str());
        if state != Some("success") {
            let reason = format!(
                "required status `{ctx}` is {}{note}",
                state.unwrap_or("missing")
            );
            return Ok(all_held(reason));
        }
    }
    let Some(pattern) = &rules.status_context else {
        return Ok(Eligibility::all("no status gate configured"));
    };
    let re = regex(pattern)?;
    let mut verdicts = BTreeMap::new();
    for id in component_ids {
        let name = id.rsplit('/').next().unwrap_or(id);
        let speaking = latest.iter().find(|s| {
            re.captures(&s.context).is_some_and(|c| {
                c.name("component")
                    .is_none_or(|m| m.as_str().eq_ignore_ascii_case(name))
            })
        });
        let verdict = match speaking {
            Some(s) if s.state == "success" => Verdict::Eligible {
                reason: format!("`{}` is success", s.context),
            },
            Some(s) => Verdict::Held {
                reason: format!("`{}` is {}{note}", s.context, s.state),
            },
            None => Verdict::Held {
                reason: format!("no status matching `{pattern}` at this commit{note}"),
            },
        };
        verdicts.insert(id.clone(), verdict);
    }
    let first_held = verdicts.iter().find_map(|(id, v)| match v {
        Verdict::Held { reason } => Some(format!("`{id}`: {reason}")),
        Verdict::Eligible { .. } => None,
    });
    if let (false, Some(why)) = (partial, first_held) {
        return Ok(all_held(format!("partial promotion is off and {why}")));
    }
    Ok(Eligibility {
        verdicts,
        default: Verdict::Held {
            reason: "no status speaks for it".to_string(),
        },
    })
}

fn all_held(reason: String) -> Eligibility {
    Eligibility {
        verdicts: BTreeMap::new(),
        default: Verdict::Held { reason },
    }
}

/// Only the components in `changed` may move (a push changed them).
pub fn only(changed: &[String], why: &str) -> Eligibility {
    Eligibility {
        verdicts: changed
            .iter()
            .map(|id| {
                (
                    id.clone(),
                    Verdict::Eligible {
                        reason: why.to_string(),
                    },
                )
            })
            .collect(),
        default: Verdict::Held {
            reason: "not changed by this push".to_string(),
        },
    }
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
    /// Promote `from` -> `to`.
    Promote(Request),
    /// A push or merge: the glue works out which environments changed between `before` and
    /// `after` on `branch` and promotes each onward.
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
    /// Gate on the commit's statuses (status and Flux events; never with `force`).
    pub check_statuses: bool,
    /// Only this component name may move (a Flux event about one object).
    pub only_component: Option<String>,
    pub components: Vec<String>,
    pub pins: Vec<(String, String)>,
    pub force: bool,
    pub dry_run: bool,
}

impl Request {
    fn new(from: &str, to: &str, source: SourceRev) -> Self {
        Request {
            from: from.to_string(),
            to: to.to_string(),
            source,
            check_statuses: false,
            only_component: None,
            components: Vec::new(),
            pins: Vec::new(),
            force: false,
            dry_run: false,
        }
    }
}

/// The promotion whose `status-context` (or `require`) speaks for `context`, with the component
/// name the context names, if any.
fn promotion_for_context<'c>(
    config: &'c Config,
    context: &str,
) -> Result<Option<(&'c crate::config::Promotion, Option<String>)>, GateError> {
    for p in &config.promotions {
        if let Some(pattern) = &p.gate.status_context
            && let Some(c) = regex(pattern)?.captures(context)
        {
            return Ok(Some((
                p,
                c.name("component").map(|m| m.as_str().to_string()),
            )));
        }
        if p.gate.require.iter().any(|r| r == context) {
            return Ok(Some((p, None)));
        }
    }
    Ok(None)
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
            let Some((p, _)) = promotion_for_context(config, context)? else {
                return Ok(Decision::Nothing(format!(
                    "status context `{context}` speaks for no promotion"
                )));
            };
            if state != "success" {
                return Ok(Decision::Nothing(format!(
                    "status `{context}` is `{state}` for {}: nothing promoted",
                    short(sha)
                )));
            }
            let mut r = Request::new(&p.from, &p.to, SourceRev::Commit(sha.clone()));
            r.check_statuses = true;
            Decision::Promote(r)
        }
        Trigger::FluxDispatch {
            kind,
            name,
            severity,
            reason,
            revision_sha,
            ..
        } => {
            let context = format!("{}/{name}", kind.to_lowercase());
            let Some((p, component)) = promotion_for_context(config, &format!("{context}/"))?
            else {
                return Ok(Decision::Nothing(format!(
                    "Flux event for `{context}` speaks for no promotion"
                )));
            };
            if severity != "info" {
                return Ok(Decision::Nothing(format!(
                    "Flux reports `{context}` {severity} ({reason}): nothing promoted"
                )));
            }
            let Some(sha) = revision_sha else {
                return Ok(Decision::Nothing(format!(
                    "Flux event for `{context}` names no git revision: nothing promoted"
                )));
            };
            let mut r = Request::new(&p.from, &p.to, SourceRev::Commit(sha.clone()));
            r.only_component = component.or_else(|| Some(name.clone()));
            Decision::Promote(r)
        }
        Trigger::Dispatch {
            from,
            to,
            components,
            force,
            dry_run,
            pins,
        } => {
            let Ok(p) = config.pick_promotion(from.as_deref(), to.as_deref()) else {
                return Ok(Decision::Nothing(format!(
                    "no promotion {} -> {} in the config",
                    from.as_deref().unwrap_or("*"),
                    to.as_deref().unwrap_or("*")
                )));
            };
            let mut r = Request::new(&p.from, &p.to, SourceRev::Head);
            r.check_statuses = !force && p.gate.status_context.is_some();
            r.components = components.clone();
            r.pins = pins.clone();
            r.force = *force;
            r.dry_run = *dry_run;
            Decision::Promote(r)
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

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}
