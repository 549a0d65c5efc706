//! Commits (`POST repository/commits` with `actions[]`), branches and tags.

use base64::Engine;
use http::Method;
use serde_json::{Value, json};

use super::{Field, GitLabForge, READ, WRITE, encode_query, str_field};
use crate::forge::{FileChange, ForgeError, TagOutcome};

/// Whether a refused commit means the branch moved under it: a written file changed since the
/// planned head, or appeared or vanished meanwhile.
fn moved_under(message: &str) -> bool {
    let m = message.to_lowercase();
    m.contains("has changed since")
        || m.contains("already exists")
        || m.contains("doesn't exist")
        || m.contains("does not exist")
}

impl GitLabForge {
    /// The file's `last_commit_id` at `sha` (`None`: no such file there): from an earlier read
    /// at that sha, else `HEAD repository/files/:path?ref=`.
    async fn last_commit(&self, path: &str, sha: &str) -> Result<Option<String>, ForgeError> {
        let key = (sha.to_owned(), path.to_owned());
        if let Some(known) = self.last_commits.borrow().get(&key) {
            return Ok(known.clone());
        }
        let url = format!(
            "/repository/files/{}?ref={}",
            encode_query(path),
            encode_query(sha)
        );
        let reply = self
            .http
            .call(
                Method::HEAD,
                &self.url(&url),
                None,
                None,
                crate::forge::http::Repeat::Safe,
            )
            .await?;
        let last = match reply.status.as_u16() {
            200 => Some(
                reply
                    .headers
                    .get("x-gitlab-last-commit-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        ForgeError::Other(format!(
                            "gitlab's answer for `{path}` has no X-Gitlab-Last-Commit-Id"
                        ))
                    })?,
            ),
            404 => None,
            _ => return Err(self.fail(&reply, &format!("reading `{path}` at {sha}"), READ)),
        };
        self.last_commits.borrow_mut().insert(key, last.clone());
        Ok(last)
    }

    /// One commit of `changes` on `branch`, planned against `base`. Without `reset`, each
    /// written file's `last_commit_id` at `base` guards it (a moved file is a `Conflict`);
    /// with `reset` (promote's own branch), the branch is made anew from `base` (`start_sha`
    /// + `force`), created if missing.
    pub(super) async fn commit(
        &self,
        branch: &str,
        base: &str,
        message: &str,
        changes: &[FileChange],
        reset: bool,
    ) -> Result<String, ForgeError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut actions = Vec::new();
        for change in changes {
            let last = self.last_commit(&change.path, base).await?;
            let kind = match (&change.contents, &last) {
                (Some(_), None) => "create",
                (Some(_), Some(_)) => "update",
                (None, Some(_)) => "delete",
                (None, None) => continue,
            };
            let mut action = serde_json::Map::new();
            action.insert("action".into(), json!(kind));
            action.insert("file_path".into(), json!(change.path));
            if let Some(bytes) = &change.contents {
                action.insert("content".into(), json!(b64.encode(bytes)));
                action.insert("encoding".into(), json!("base64"));
            }
            if let (false, Some(last)) = (reset, last) {
                action.insert("last_commit_id".into(), json!(last));
            }
            actions.push(Value::Object(action));
        }
        let mut body = serde_json::Map::new();
        body.insert("branch".into(), json!(branch));
        body.insert("commit_message".into(), json!(message));
        body.insert("actions".into(), Value::Array(actions));
        if reset {
            body.insert("start_sha".into(), json!(base));
            body.insert("force".into(), json!(true));
        }
        let body = Value::Object(body);
        let action = format!("committing to `{branch}`");
        // Safe to repeat: a second send meets the files the first one changed (`last_commit_id`,
        // `create`) and is refused, and delivery then finds the commit that landed.
        let reply = self
            .send(
                Method::POST,
                "/repository/commits",
                &body,
                crate::forge::http::Repeat::Safe,
            )
            .await?;
        if !reply.is_success() {
            let text = reply.message();
            if matches!(reply.status.as_u16(), 400 | 409 | 422) && moved_under(&text) {
                return Err(ForgeError::Conflict {
                    what: format!("{action}: {text}"),
                });
            }
            if reply.status == 400 && text.contains("on a branch") {
                return Err(ForgeError::NotFound {
                    what: format!("{action}: {text}"),
                });
            }
            return Err(self.fail(&reply, &action, WRITE));
        }
        let value: Value = reply.json()?;
        let sha = str_field(value.at("id"), "id")?;
        if !reset && value.at("parent_ids").item(0).as_str() != Some(base) {
            tracing::info!(
                "`{branch}` moved past {base} on files this commit does not touch; {sha} is on top"
            );
        }
        Ok(sha)
    }

    /// Create `branch` at `sha`. GitLab cannot move an existing branch: one already at `sha`
    /// is fine, any other is an error (promote resets its own with `reset_and_commit`).
    pub(super) async fn put_branch(
        &self,
        branch: &str,
        sha: &str,
        _force: bool,
    ) -> Result<(), ForgeError> {
        let action = format!("creating branch `{branch}` at {sha}");
        let body = json!({ "branch": branch, "ref": sha });
        let reply = self
            .send(
                Method::POST,
                "/repository/branches",
                &body,
                crate::forge::http::Repeat::Safe,
            )
            .await?;
        if reply.is_success() {
            return Ok(());
        }
        if !reply.message().to_lowercase().contains("already exists") {
            return Err(self.fail(&reply, &action, WRITE));
        }
        let head = self.head(branch).await?;
        if head == sha {
            return Ok(());
        }
        Err(ForgeError::Conflict {
            what: format!(
                "branch `{branch}` is at {head}, not {sha}, and GitLab has no call to move a branch"
            ),
        })
    }

    /// `POST repository/tags`; an existing tag at `sha` is fine, one elsewhere a `Conflict`.
    pub(super) async fn tag(&self, name: &str, sha: &str) -> Result<TagOutcome, ForgeError> {
        let action = format!("creating tag `{name}`");
        let body = json!({ "tag_name": name, "ref": sha });
        let reply = self
            .send(
                Method::POST,
                "/repository/tags",
                &body,
                crate::forge::http::Repeat::Safe,
            )
            .await?;
        if reply.is_success() {
            return Ok(TagOutcome::Created);
        }
        if !reply.message().to_lowercase().contains("already exists") {
            return Err(self.fail(&reply, &action, WRITE));
        }
        let path = format!("/repository/tags/{}", encode_query(name));
        let value: Value = self
            .get(&path, &format!("reading tag `{name}`"))
            .await?
            .json()?;
        let existing = str_field(value.at("commit").at("id"), "commit.id")?;
        if existing == sha {
            Ok(TagOutcome::Exists)
        } else {
            Err(ForgeError::Conflict {
                what: format!("tag `{name}` already points at {existing}, not {sha}"),
            })
        }
    }
}
