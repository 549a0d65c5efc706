//! GitHub event payloads -> `Trigger`: what happened, in promote's terms.
//!
//! Pure: bytes of `GITHUB_EVENT_PATH` and the `GITHUB_EVENT_NAME` in, a value out.

#![deny(clippy::indexing_slicing)]

pub mod gitlab;

use serde::Deserialize;
use serde_json::Value;

/// What an event asks of promote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A commit status (Flux's notification-controller posts these).
    Status {
        sha: String,
        state: String,
        context: String,
        description: Option<String>,
        target_url: Option<String>,
        branches: Vec<String>,
        sender: Option<String>,
    },
    /// A push; changed paths are computed with git, never taken from `commits[]`.
    Push {
        git_ref: String,
        branch: Option<String>,
        before: String,
        after: String,
        forced: bool,
        deleted: bool,
    },
    /// `workflow_dispatch` run by hand.
    Dispatch {
        from: Option<String>,
        to: Option<String>,
        components: Vec<String>,
        force: bool,
        dry_run: bool,
        pins: Vec<(String, String)>,
    },
    /// `repository_dispatch` from Flux's `githubdispatch` provider.
    FluxDispatch {
        kind: String,
        name: String,
        namespace: String,
        severity: String,
        reason: String,
        message: String,
        revision_sha: Option<String>,
        revision_branch: Option<String>,
        /// The environment the event names in its metadata (`env`, set by the Alert's
        /// `eventMetadata`), if any.
        env: Option<String>,
    },
    /// A pull request was merged (a promotion PR moves on).
    MergedPr {
        number: u64,
        head_ref: String,
        base_ref: String,
        merge_commit_sha: String,
    },
    /// Nothing to do, and why.
    Ignored { reason: String },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    #[error("{event} payload: {message}")]
    Invalid { event: String, message: String },
}

fn invalid(event: &str, message: impl Into<String>) -> EventError {
    EventError::Invalid {
        event: event.to_string(),
        message: message.into(),
    }
}

#[derive(Deserialize)]
struct StatusPayload {
    sha: String,
    state: String,
    context: String,
    description: Option<String>,
    target_url: Option<String>,
    #[serde(default)]
    branches: Vec<Named>,
    sender: Option<Login>,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
struct Login {
    login: String,
}

#[derive(Deserialize)]
struct PushPayload {
    #[serde(rename = "ref")]
    git_ref: String,
    before: String,
    after: String,
    #[serde(default)]
    forced: bool,
    #[serde(default)]
    deleted: bool,
}

#[derive(Deserialize)]
struct DispatchPayload {
    #[serde(default)]
    inputs: Option<serde_json::Map<String, Value>>,
}

#[derive(Deserialize)]
struct RepositoryDispatchPayload {
    action: String,
    #[serde(default)]
    client_payload: Value,
}

#[derive(Deserialize)]
struct PullRequestPayload {
    action: String,
    number: u64,
    pull_request: PullRequestBody,
}

#[derive(Deserialize)]
struct PullRequestBody {
    #[serde(default)]
    merged: bool,
    merge_commit_sha: Option<String>,
    head: RefBody,
    base: RefBody,
}

#[derive(Deserialize)]
struct RefBody {
    #[serde(rename = "ref")]
    git_ref: String,
}

fn from_json<'a, T: Deserialize<'a>>(event: &str, payload: &'a [u8]) -> Result<T, EventError> {
    let de = &mut serde_json::Deserializer::from_slice(payload);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        if path == "." || msg.starts_with("missing field") {
            invalid(event, msg)
        } else {
            invalid(event, format!("field `{path}`: {msg}"))
        }
    })
}

/// A commit id from a payload: 40 (SHA-1) or 64 (SHA-256) hex digits, lowercased.
fn sha(event: &str, field: &str, value: String) -> Result<String, EventError> {
    let ok = matches!(value.len(), 40 | 64) && value.bytes().all(|b| b.is_ascii_hexdigit());
    if !ok {
        return Err(invalid(
            event,
            format!(
                "field `{field}`: `{}` is not a commit sha (40 or 64 hex digits)",
                value.escape_debug()
            ),
        ));
    }
    Ok(value.to_ascii_lowercase())
}

/// Parse the payload of `event_name`.
pub fn parse(event_name: &str, payload: &[u8]) -> Result<Trigger, EventError> {
    match event_name {
        "status" => {
            let p: StatusPayload = from_json(event_name, payload)?;
            Ok(Trigger::Status {
                sha: sha(event_name, "sha", p.sha)?,
                state: p.state,
                context: p.context,
                description: p.description,
                target_url: p.target_url,
                branches: p.branches.into_iter().map(|b| b.name).collect(),
                sender: p.sender.map(|s| s.login),
            })
        }
        "push" => {
            let p: PushPayload = from_json(event_name, payload)?;
            Ok(Trigger::Push {
                branch: p.git_ref.strip_prefix("refs/heads/").map(str::to_string),
                git_ref: p.git_ref,
                before: sha(event_name, "before", p.before)?,
                after: sha(event_name, "after", p.after)?,
                forced: p.forced,
                deleted: p.deleted,
            })
        }
        "workflow_dispatch" => {
            let p: DispatchPayload = from_json(event_name, payload)?;
            dispatch(event_name, &p.inputs.unwrap_or_default())
        }
        "repository_dispatch" => {
            let p: RepositoryDispatchPayload = from_json(event_name, payload)?;
            flux_dispatch(event_name, &p.action, &p.client_payload)
        }
        "pull_request" | "pull_request_target" => {
            let p: PullRequestPayload = from_json(event_name, payload)?;
            if p.action != "closed" || !p.pull_request.merged {
                return Ok(Trigger::Ignored {
                    reason: format!(
                        "pull request #{} was {}, not merged: nothing promoted",
                        p.number, p.action
                    ),
                });
            }
            let sha = p.pull_request.merge_commit_sha.ok_or_else(|| {
                invalid(event_name, "missing field `pull_request.merge_commit_sha`")
            })?;
            Ok(Trigger::MergedPr {
                number: p.number,
                head_ref: p.pull_request.head.git_ref,
                base_ref: p.pull_request.base.git_ref,
                merge_commit_sha: self::sha(event_name, "pull_request.merge_commit_sha", sha)?,
            })
        }
        other => Ok(Trigger::Ignored {
            reason: format!("event `{other}` does not trigger a promotion"),
        }),
    }
}

/// A dispatch input as a string: strings stay, booleans and numbers print, null is absent.
fn input_str(inputs: &serde_json::Map<String, Value>, name: &str) -> Option<String> {
    match inputs.get(name)? {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.trim().to_string()),
        v => Some(v.to_string()),
    }
}

fn input_bool(
    event: &str,
    inputs: &serde_json::Map<String, Value>,
    name: &str,
) -> Result<bool, EventError> {
    match input_str(inputs, name).as_deref() {
        None => Ok(false),
        Some(v) => crate::action::parse_bool(v).ok_or_else(|| {
            invalid(
                event,
                format!("field `inputs.{name}`: expected `true` or `false`, got `{v}`"),
            )
        }),
    }
}

/// Split a list input on commas and whitespace.
pub fn split_list(s: &str) -> Vec<String> {
    s.split([',', ' ', '\n', '\t'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn dispatch(event: &str, inputs: &serde_json::Map<String, Value>) -> Result<Trigger, EventError> {
    let mut pins = Vec::new();
    for pin in split_list(&input_str(inputs, "pin").unwrap_or_default()) {
        match pin.split_once('=') {
            Some((id, v)) if !id.is_empty() && !v.is_empty() => {
                pins.push((id.to_string(), v.to_string()))
            }
            _ => {
                return Err(invalid(
                    event,
                    format!("field `inputs.pin`: `{pin}` is not `ID=VERSION`"),
                ));
            }
        }
    }
    Ok(Trigger::Dispatch {
        from: input_str(inputs, "from"),
        to: input_str(inputs, "to"),
        components: split_list(&input_str(inputs, "components").unwrap_or_default()),
        force: input_bool(event, inputs, "force")?,
        dry_run: input_bool(event, inputs, "dry-run")? || input_bool(event, inputs, "dry_run")?,
        pins,
    })
}

fn flux_dispatch(event: &str, event_type: &str, payload: &Value) -> Result<Trigger, EventError> {
    let obj = payload.get("involvedObject").ok_or_else(|| {
        invalid(event, format!("`{event_type}` carries no Flux event (missing field `client_payload.involvedObject`)"))
    })?;
    let field = |v: &Value, name: &str| {
        v.get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let revision = payload
        .pointer("/metadata/revision")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // `main@sha1:<sha>`, `sha1:<sha>`, or `main/<sha>` (older Flux).
    let (branch, sha) = match revision
        .split_once("@sha1:")
        .or_else(|| revision.split_once("@sha256:"))
    {
        Some((b, s)) => (Some(b.to_string()), Some(s.to_string())),
        None => match revision.strip_prefix("sha1:") {
            Some(s) => (None, Some(s.to_string())),
            None => match revision.rsplit_once('/') {
                Some((b, s)) if s.len() == 40 => (Some(b.to_string()), Some(s.to_string())),
                _ => (None, None),
            },
        },
    };
    Ok(Trigger::FluxDispatch {
        kind: field(obj, "kind"),
        name: field(obj, "name"),
        namespace: field(obj, "namespace"),
        severity: field(payload, "severity"),
        reason: field(payload, "reason"),
        message: field(payload, "message"),
        revision_sha: sha
            .map(|s| self::sha(event, "client_payload.metadata.revision", s))
            .transpose()?,
        revision_branch: branch,
        env: payload
            .pointer("/metadata/env")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}
