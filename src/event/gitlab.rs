//! GitLab -> `Trigger`: a GitLab CI job's predefined variables, or a GitLab webhook payload
//! (what a Jenkins job started by GitLab's webhook receives). Pure: values in, a `Trigger` out;
//! the same `Trigger`s as GitHub's events, so one gate decides for every forge.

#![deny(clippy::indexing_slicing)]

use serde::Deserialize;
use serde_json::Value;

use super::{EventError, Trigger, invalid, sha};

const ZERO: &str = "0000000000000000000000000000000000000000";

/// What a GitLab CI job (`GITLAB_CI=true`) asks of promote, from `CI_PIPELINE_SOURCE`,
/// `CI_COMMIT_BRANCH`, `CI_COMMIT_BEFORE_SHA` and `CI_COMMIT_SHA` read through `var`:
///
/// - `push` to a branch: a push from `CI_COMMIT_BEFORE_SHA` (all zeros for a new branch: the
///   first parent) to `CI_COMMIT_SHA`;
/// - `web`, `api`, `trigger`, `schedule`, `chat` (someone, or a schedule, asked): a dispatch
///   whose inputs are `PROMOTE_FROM`, `PROMOTE_TO`, `PROMOTE_COMPONENTS`, `PROMOTE_PIN`,
///   `PROMOTE_FORCE`, `PROMOTE_DRY_RUN` (gated at the source branch's head unless forced);
/// - a tag pipeline, a merge request pipeline (it runs before the merge), anything else:
///   nothing, with the reason.
pub fn from_ci<'a>(var: impl Fn(&str) -> Option<&'a str>) -> Result<Trigger, EventError> {
    const EVENT: &str = "gitlab ci";
    let source = var("CI_PIPELINE_SOURCE").unwrap_or_default();
    if let Some(tag) = var("CI_COMMIT_TAG") {
        return Ok(Trigger::Ignored {
            reason: format!("a pipeline for tag `{tag}` does not trigger a promotion"),
        });
    }
    match source {
        "push" => {
            let branch = var("CI_COMMIT_BRANCH")
                .ok_or_else(|| invalid(EVENT, "CI_COMMIT_BRANCH is not set for a push pipeline"))?;
            let after = var("CI_COMMIT_SHA")
                .ok_or_else(|| invalid(EVENT, "CI_COMMIT_SHA is not set"))?
                .to_owned();
            let before = var("CI_COMMIT_BEFORE_SHA").unwrap_or(ZERO).to_owned();
            Ok(Trigger::Push {
                git_ref: format!("refs/heads/{branch}"),
                branch: Some(branch.to_owned()),
                before: sha(EVENT, "CI_COMMIT_BEFORE_SHA", before)?,
                after: sha(EVENT, "CI_COMMIT_SHA", after)?,
                forced: false,
                deleted: false,
            })
        }
        "web" | "api" | "trigger" | "schedule" | "chat" => {
            let mut inputs = serde_json::Map::new();
            for (name, key) in [
                ("from", "PROMOTE_FROM"),
                ("to", "PROMOTE_TO"),
                ("components", "PROMOTE_COMPONENTS"),
                ("pin", "PROMOTE_PIN"),
                ("force", "PROMOTE_FORCE"),
                ("dry-run", "PROMOTE_DRY_RUN"),
            ] {
                if let Some(v) = var(key) {
                    inputs.insert(name.to_owned(), Value::String(v.to_owned()));
                }
            }
            super::dispatch(EVENT, &inputs)
        }
        "merge_request_event" => Ok(Trigger::Ignored {
            reason: "a merge request pipeline runs before the merge: nothing promoted (the push \
                     pipeline of the merge promotes)"
                .to_owned(),
        }),
        "" => Err(invalid(
            EVENT,
            "CI_PIPELINE_SOURCE is not set: `promote run` in GitLab CI needs GitLab's predefined variables",
        )),
        other => Ok(Trigger::Ignored {
            reason: format!("a `{other}` pipeline does not trigger a promotion"),
        }),
    }
}

/// The webhook kinds promote reads, by their `X-Gitlab-Event` names (or `object_kind`).
fn kind(event_name: &str) -> Option<&'static str> {
    match event_name.trim().to_ascii_lowercase().as_str() {
        "push hook" | "push" => Some("push"),
        "merge request hook" | "merge_request" => Some("merge_request"),
        "pipeline hook" | "pipeline" => Some("pipeline"),
        "tag push hook" | "tag_push" => Some("tag_push"),
        _ => None,
    }
}

/// The project a webhook payload names: its numeric id, and its web URL and path (from which
/// the API base of a self-managed GitLab follows).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HookProject {
    pub id: Option<u64>,
    pub path_with_namespace: Option<String>,
    pub web_url: Option<String>,
}

impl HookProject {
    /// `https://HOST[/prefix]/api/v4`, from `web_url` minus the project's path.
    pub fn api_url(&self) -> Option<String> {
        let web = self.web_url.as_deref()?.trim_end_matches('/');
        let root = web.strip_suffix(self.path_with_namespace.as_deref()?)?;
        Some(format!("{root}api/v4"))
    }
}

/// The `project` of a webhook payload.
pub fn hook_project(payload: &[u8]) -> HookProject {
    let value: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
    let project = value.get("project").unwrap_or(&Value::Null);
    let text = |k: &str| project.get(k).and_then(Value::as_str).map(str::to_owned);
    HookProject {
        id: project.get("id").and_then(Value::as_u64),
        path_with_namespace: text("path_with_namespace"),
        web_url: text("web_url"),
    }
}

#[derive(Deserialize)]
struct PushHook {
    #[serde(rename = "ref")]
    git_ref: String,
    before: String,
    after: String,
}

#[derive(Deserialize)]
struct MergeRequestHook {
    object_attributes: MergeRequestAttributes,
}

#[derive(Deserialize)]
struct MergeRequestAttributes {
    iid: u64,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    state: Option<String>,
    source_branch: String,
    target_branch: String,
    #[serde(default)]
    merge_commit_sha: Option<String>,
    #[serde(default)]
    squash_commit_sha: Option<String>,
    #[serde(default)]
    last_commit: Option<LastCommit>,
}

#[derive(Deserialize)]
struct LastCommit {
    id: String,
}

#[derive(Deserialize)]
struct PipelineHook {
    object_attributes: PipelineAttributes,
}

#[derive(Deserialize)]
struct PipelineAttributes {
    #[serde(rename = "ref")]
    git_ref: String,
    #[serde(default)]
    tag: bool,
    sha: String,
    #[serde(default)]
    before_sha: Option<String>,
    status: String,
}

/// Parse a GitLab webhook payload named by `event_name` (`X-Gitlab-Event`: `Push Hook`,
/// `Merge Request Hook`, `Pipeline Hook`; or the payload's `object_kind`):
///
/// - a push to a branch is a push (a deleted branch, a tag push: nothing);
/// - a merged merge request is a merged pull request into its target branch, at its merge
///   commit (the squash commit, or for a fast-forward merge its last commit);
/// - a pipeline that **succeeded** on a branch judges the push that made its commit again,
///   now that the commit has statuses (Argo CD's or Flux's statuses make a pipeline of their
///   own); other pipeline states: nothing.
pub fn parse_hook(event_name: &str, payload: &[u8]) -> Result<Trigger, EventError> {
    let Some(kind) = kind(event_name) else {
        return Ok(Trigger::Ignored {
            reason: format!("gitlab event `{event_name}` does not trigger a promotion"),
        });
    };
    let event = event_name;
    match kind {
        "push" => {
            let p: PushHook = super::from_json(event, payload)?;
            let Some(branch) = p.git_ref.strip_prefix("refs/heads/").map(str::to_owned) else {
                return Ok(Trigger::Ignored {
                    reason: "a tag push does not trigger a promotion".into(),
                });
            };
            let after = sha(event, "after", p.after)?;
            Ok(Trigger::Push {
                git_ref: p.git_ref,
                branch: Some(branch),
                before: sha(event, "before", p.before)?,
                deleted: after.bytes().all(|b| b == b'0'),
                after,
                forced: false,
            })
        }
        "merge_request" => {
            let p: MergeRequestHook = super::from_json(event, payload)?;
            let mr = p.object_attributes;
            let merged =
                mr.action.as_deref() == Some("merge") || mr.state.as_deref() == Some("merged");
            if !merged {
                return Ok(Trigger::Ignored {
                    reason: format!(
                        "merge request !{} was {}, not merged: nothing promoted",
                        mr.iid,
                        mr.action.as_deref().unwrap_or("changed")
                    ),
                });
            }
            let landed = mr
                .merge_commit_sha
                .or(mr.squash_commit_sha)
                .or(mr.last_commit.map(|c| c.id))
                .ok_or_else(|| {
                    invalid(event, "missing field `object_attributes.merge_commit_sha`")
                })?;
            Ok(Trigger::MergedPr {
                number: mr.iid,
                head_ref: mr.source_branch,
                base_ref: mr.target_branch,
                merge_commit_sha: sha(event, "object_attributes.merge_commit_sha", landed)?,
            })
        }
        "pipeline" => {
            let p: PipelineHook = super::from_json(event, payload)?;
            let pipeline = p.object_attributes;
            if pipeline.tag {
                return Ok(Trigger::Ignored {
                    reason: format!(
                        "a pipeline for tag `{}` does not trigger a promotion",
                        pipeline.git_ref
                    ),
                });
            }
            if pipeline.status != "success" {
                return Ok(Trigger::Ignored {
                    reason: format!(
                        "pipeline on `{}` is `{}`: nothing promoted",
                        pipeline.git_ref, pipeline.status
                    ),
                });
            }
            let branch = pipeline
                .git_ref
                .strip_prefix("refs/heads/")
                .unwrap_or(&pipeline.git_ref)
                .to_owned();
            Ok(Trigger::Push {
                git_ref: format!("refs/heads/{branch}"),
                branch: Some(branch),
                before: sha(
                    event,
                    "object_attributes.before_sha",
                    pipeline.before_sha.unwrap_or_else(|| ZERO.to_owned()),
                )?,
                after: sha(event, "object_attributes.sha", pipeline.sha)?,
                forced: false,
                deleted: false,
            })
        }
        _ => Ok(Trigger::Ignored {
            reason: "a tag push does not trigger a promotion".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";

    fn ci(pairs: &[(&str, &str)]) -> Result<Trigger, EventError> {
        from_ci(|name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v))
    }

    #[test]
    fn a_push_pipeline_is_a_push_and_an_mr_pipeline_is_nothing() {
        let push = ci(&[
            ("CI_PIPELINE_SOURCE", "push"),
            ("CI_COMMIT_BRANCH", "dev"),
            ("CI_COMMIT_BEFORE_SHA", A),
            ("CI_COMMIT_SHA", B),
        ]);
        assert_eq!(
            push,
            Ok(Trigger::Push {
                git_ref: "refs/heads/dev".into(),
                branch: Some("dev".into()),
                before: A.into(),
                after: B.into(),
                forced: false,
                deleted: false,
            })
        );
        let mr = ci(&[("CI_PIPELINE_SOURCE", "merge_request_event")]);
        assert!(matches!(mr, Ok(Trigger::Ignored { .. })), "{mr:?}");
        let tag = ci(&[("CI_PIPELINE_SOURCE", "push"), ("CI_COMMIT_TAG", "v1")]);
        assert!(matches!(tag, Ok(Trigger::Ignored { .. })), "{tag:?}");
        let web = ci(&[
            ("CI_PIPELINE_SOURCE", "web"),
            ("PROMOTE_FROM", "dev"),
            ("PROMOTE_FORCE", "true"),
        ]);
        assert!(
            matches!(&web, Ok(Trigger::Dispatch { from: Some(f), force: true, .. }) if f == "dev"),
            "{web:?}"
        );
    }

    #[test]
    fn hooks_map_to_the_same_triggers() {
        let push = format!(
            r#"{{"object_kind":"push","ref":"refs/heads/stage","before":"{A}","after":"{B}","project":{{"id":7,"path_with_namespace":"p2c/k8s-deployments","web_url":"https://git.example.com/p2c/k8s-deployments"}}}}"#
        );
        assert!(matches!(
            parse_hook("Push Hook", push.as_bytes()),
            Ok(Trigger::Push { branch: Some(b), .. }) if b == "stage"
        ));
        let project = hook_project(push.as_bytes());
        assert_eq!(project.id, Some(7));
        assert_eq!(
            project.api_url().as_deref(),
            Some("https://git.example.com/api/v4")
        );
        let merged = format!(
            r#"{{"object_attributes":{{"iid":4,"action":"merge","state":"merged","source_branch":"feature","target_branch":"dev","merge_commit_sha":"{B}"}}}}"#
        );
        assert!(matches!(
            parse_hook("Merge Request Hook", merged.as_bytes()),
            Ok(Trigger::MergedPr { base_ref, .. }) if base_ref == "dev"
        ));
        let opened = r#"{"object_attributes":{"iid":4,"action":"open","state":"opened","source_branch":"f","target_branch":"dev"}}"#;
        assert!(matches!(
            parse_hook("Merge Request Hook", opened.as_bytes()),
            Ok(Trigger::Ignored { .. })
        ));
        let running = format!(
            r#"{{"object_attributes":{{"ref":"dev","tag":false,"sha":"{B}","before_sha":"{A}","status":"running"}}}}"#
        );
        assert!(matches!(
            parse_hook("Pipeline Hook", running.as_bytes()),
            Ok(Trigger::Ignored { .. })
        ));
        let done = running.replace("running", "success");
        assert!(matches!(
            parse_hook("Pipeline Hook", done.as_bytes()),
            Ok(Trigger::Push { before, .. }) if before == A
        ));
        assert!(matches!(
            parse_hook("Issue Hook", b"{}"),
            Ok(Trigger::Ignored { .. })
        ));
    }
}
