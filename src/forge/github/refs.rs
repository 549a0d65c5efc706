//! Branches and tags through `POST /git/refs` and `PATCH /git/refs/...`.

use http::Method;
use serde_json::{Value, json};

use super::{CONTENTS_READ, CONTENTS_WRITE, Field, GitHubForge, encode_path, str_field};
use crate::forge::{ForgeError, TagOutcome};

/// Whether a failed ref creation means the ref is already there (GitHub answers 422
/// "Reference already exists"; some versions 409).
fn already_exists(reply: &super::Reply) -> bool {
    matches!(reply.status.as_u16(), 409 | 422)
        && reply.message().to_lowercase().contains("already exists")
}

impl GitHubForge {
    /// Create `refs/{full}` at `sha`; `Ok(false)` if it already exists. Repeating the POST
    /// after a 5xx is safe: a second creation answers "already exists".
    async fn create_ref(&self, full: &str, sha: &str, action: &str) -> Result<bool, ForgeError> {
        let body = json!({ "ref": format!("refs/{full}"), "sha": sha });
        let reply = self
            .send(Method::POST, "/git/refs", body, super::Repeat::Safe)
            .await?;
        if reply.is_success() {
            Ok(true)
        } else if already_exists(&reply) {
            Ok(false)
        } else {
            Err(reply.error(action, CONTENTS_WRITE))
        }
    }

    pub(super) async fn put_branch(
        &self,
        branch: &str,
        sha: &str,
        force: bool,
    ) -> Result<(), ForgeError> {
        let action = format!("moving branch `{branch}` to {sha}");
        if self
            .create_ref(&format!("heads/{branch}"), sha, &action)
            .await?
        {
            return Ok(());
        }
        let path = format!("/git/refs/heads/{}", encode_path(branch));
        let body = json!({ "sha": sha, "force": force });
        self.write(Method::PATCH, &path, body, &action, CONTENTS_WRITE)
            .await?;
        Ok(())
    }

    pub(super) async fn tag(&self, name: &str, sha: &str) -> Result<TagOutcome, ForgeError> {
        let action = format!("creating tag `{name}`");
        if self
            .create_ref(&format!("tags/{name}"), sha, &action)
            .await?
        {
            return Ok(TagOutcome::Created);
        }
        let existing = self.tag_commit(name).await?;
        if existing == sha {
            Ok(TagOutcome::Exists)
        } else {
            Err(ForgeError::Conflict {
                what: format!("tag `{name}` already points at {existing}, not {sha}"),
            })
        }
    }

    /// The commit a tag points at, peeling an annotated tag.
    async fn tag_commit(&self, name: &str) -> Result<String, ForgeError> {
        let action = format!("reading tag `{name}`");
        let path = format!("/git/ref/tags/{}", encode_path(name));
        let value: Value = self.get(&path, &action, CONTENTS_READ).await?.json()?;
        let sha = str_field(value.at("object").at("sha"), "object.sha")?;
        if value.at("object").at("type").as_str() != Some("tag") {
            return Ok(sha);
        }
        let path = format!("/git/tags/{sha}");
        let value: Value = self.get(&path, &action, CONTENTS_READ).await?.json()?;
        str_field(value.at("object").at("sha"), "object.sha")
    }
}
