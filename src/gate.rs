//! Eligibility: which components may move now, decided from statuses, changed paths, force and filters.
//!
//! Placeholder types shared with the plan; the rules are implemented in their own change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
