//! Merge requests: find, open, update, close with a note, labels, merge methods, "merge when
//! the pipeline succeeds" (auto-merge) and merging.

use http::Method;
use serde_json::{Value, json};

use super::{Field, GitLabForge, encode_query, str_field};
use crate::forge::http::Repeat;
use crate::forge::{ForgeError, MergeMethod, PullRequest, PullRequestSpec};

/// What writing merge requests needs.
const MRS: &str = "the Developer role";

fn mr_from_json(value: &Value) -> Result<PullRequest, ForgeError> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    Ok(PullRequest {
        number: value
            .at("iid")
            .as_u64()
            .ok_or_else(|| ForgeError::Other("gitlab's answer has no `iid`".to_owned()))?,
        url: text(value.at("web_url")),
        head: text(value.at("source_branch")),
        base: text(value.at("target_branch")),
        title: text(value.at("title")),
        body: text(value.at("description")),
        node_id: None,
    })
}

/// A merge request from this project into this project (a fork's branch can be named
/// `promote/...` too).
fn same_project(value: &Value) -> bool {
    let source = value.at("source_project_id").as_u64();
    source.is_some() && source == value.at("target_project_id").as_u64()
}

impl GitLabForge {
    /// The open merge request from this project's `head` into `base`, if any: what `open_mr`
    /// uses when GitLab answers 409, one already exists.
    async fn find_mr(&self, head: &str, base: &str) -> Result<Option<PullRequest>, ForgeError> {
        let path = format!(
            "/merge_requests?state=opened&source_branch={}&target_branch={}&per_page=100",
            encode_query(head),
            encode_query(base)
        );
        let action = format!("finding the merge request of `{head}`");
        let list = self.pages(&path, &action, 100).await?;
        list.iter()
            .find(|v| same_project(v))
            .map(mr_from_json)
            .transpose()
    }

    /// `GET merge_requests?state=opened&target_branch=BASE`, every page, this project's source
    /// branches only.
    pub(super) async fn open_mrs(&self, base: &str) -> Result<Vec<PullRequest>, ForgeError> {
        let path = format!(
            "/merge_requests?state=opened&target_branch={}&per_page=100",
            encode_query(base)
        );
        let action = format!("listing the open merge requests into `{base}`");
        let list = self.pages(&path, &action, usize::MAX).await?;
        list.iter()
            .filter(|v| same_project(v))
            .map(mr_from_json)
            .collect()
    }

    /// Open a merge request (labels included). A repeated POST is guarded by GitLab: a second
    /// one answers 409 "Another open merge request already exists", and the open one is used.
    pub(super) async fn open_mr(&self, spec: &PullRequestSpec) -> Result<PullRequest, ForgeError> {
        let action = format!("opening a merge request from `{}`", spec.head);
        let body = json!({
            "source_branch": spec.head, "target_branch": spec.base,
            "title": spec.title, "description": spec.body, "labels": spec.labels.join(","),
        });
        let reply = self
            .send(Method::POST, "/merge_requests", &body, Repeat::Safe)
            .await?;
        if reply.is_success() {
            return mr_from_json(&reply.json()?);
        }
        if reply.status == 409 && reply.message().contains("already exists") {
            let mr = self
                .find_mr(&spec.head, &spec.base)
                .await?
                .ok_or_else(|| self.fail(&reply, &action, MRS))?;
            self.add_labels(mr.number, &spec.labels).await?;
            return Ok(mr);
        }
        Err(self.fail(&reply, &action, MRS))
    }

    pub(super) async fn edit_mr(
        &self,
        number: u64,
        spec: &PullRequestSpec,
    ) -> Result<PullRequest, ForgeError> {
        let action = format!("updating merge request !{number}");
        let mut body = serde_json::Map::new();
        body.insert("title".into(), json!(spec.title));
        body.insert("description".into(), json!(spec.body));
        body.insert("target_branch".into(), json!(spec.base));
        if !spec.labels.is_empty() {
            // A union with the labels it has, like GitHub's "add labels".
            body.insert("add_labels".into(), json!(spec.labels.join(",")));
        }
        let body = Value::Object(body);
        let path = format!("/merge_requests/{number}");
        let reply = self.write(Method::PUT, &path, &body, &action, MRS).await?;
        mr_from_json(&reply.json()?)
    }

    async fn add_labels(&self, number: u64, labels: &[String]) -> Result<(), ForgeError> {
        if labels.is_empty() {
            return Ok(());
        }
        let action = format!("labelling merge request !{number}");
        let path = format!("/merge_requests/{number}");
        let body = json!({ "add_labels": labels.join(",") });
        self.write(Method::PUT, &path, &body, &action, MRS).await?;
        Ok(())
    }

    pub(super) async fn shut_mr(
        &self,
        number: u64,
        comment: Option<&str>,
    ) -> Result<(), ForgeError> {
        if let Some(comment) = comment {
            self.note(number, comment).await?;
        }
        let action = format!("closing merge request !{number}");
        let path = format!("/merge_requests/{number}");
        let body = json!({ "state_event": "close" });
        self.write(Method::PUT, &path, &body, &action, MRS).await?;
        Ok(())
    }

    /// Notes are sent once: a retried POST could post the note twice.
    pub(super) async fn note(&self, number: u64, body: &str) -> Result<(), ForgeError> {
        let action = format!("commenting on !{number}");
        let path = format!("/merge_requests/{number}/notes");
        let reply = self
            .send(Method::POST, &path, &json!({ "body": body }), Repeat::Never)
            .await?;
        if reply.is_success() {
            Ok(())
        } else {
            Err(self.fail(&reply, &action, MRS))
        }
    }

    /// What the project allows (`GET projects/:id`): squash unless its squash option is
    /// `never`; its merge method (`merge`, `rebase_merge`: merge commits; `ff`: fast-forward,
    /// promote's `rebase`). GitLab applies the project's method to every merge; promote only
    /// chooses whether to squash.
    pub(super) async fn allowed_merge_methods(&self) -> Result<Vec<MergeMethod>, ForgeError> {
        let value: Value = self
            .get("", "reading the project's merge settings")
            .await?
            .json()?;
        let mut out = Vec::new();
        if value.at("squash_option").as_str() != Some("never") {
            out.push(MergeMethod::Squash);
        }
        out.push(match value.at("merge_method").as_str() {
            Some("ff") => MergeMethod::Rebase,
            _ => MergeMethod::Merge,
        });
        Ok(out)
    }

    /// Merge when the pipeline succeeds (GitLab 17 calls it auto-merge and takes
    /// `auto_merge`; older versions `merge_when_pipeline_succeeds`: both are sent). Without a
    /// running pipeline GitLab merges at once. Right after a merge request is opened GitLab may
    /// still be checking whether it can merge and refuse (405/406/422): that is tried again, a
    /// few times.
    pub(super) async fn auto_merge(
        &self,
        number: u64,
        method: MergeMethod,
    ) -> Result<(), ForgeError> {
        let body = json!({
            "merge_when_pipeline_succeeds": true, "auto_merge": true,
            "squash": method == MergeMethod::Squash,
        });
        self.put_merge(number, method, &body).await.map(drop)
    }

    pub(super) async fn merge(
        &self,
        number: u64,
        method: MergeMethod,
    ) -> Result<String, ForgeError> {
        let body = json!({ "squash": method == MergeMethod::Squash });
        let value = self.put_merge(number, method, &body).await?;
        ["merge_commit_sha", "squash_commit_sha", "sha"]
            .iter()
            .find_map(|k| value.at(k).as_str().map(str::to_owned))
            .map_or_else(|| str_field(&Value::Null, "merge_commit_sha"), Ok)
    }

    async fn put_merge(
        &self,
        number: u64,
        method: MergeMethod,
        body: &Value,
    ) -> Result<Value, ForgeError> {
        let action = format!("merging merge request !{number} ({})", method.rest());
        let path = format!("/merge_requests/{number}/merge");
        let mut tries = 0u32;
        loop {
            tries += 1;
            let reply = self.send(Method::PUT, &path, body, Repeat::Safe).await?;
            if reply.is_success() {
                return reply.json();
            }
            let not_yet = matches!(reply.status.as_u16(), 405 | 406 | 422);
            if not_yet && tries < 4 {
                tracing::info!(
                    "{action}: {} ({}); trying again",
                    reply.message(),
                    reply.status
                );
                tokio::time::sleep(std::time::Duration::from_millis(500 * u64::from(tries))).await;
                continue;
            }
            if not_yet {
                return Err(ForgeError::Conflict {
                    what: format!("{action}: {}", reply.message()),
                });
            }
            return Err(self.fail(&reply, &action, MRS));
        }
    }
}
