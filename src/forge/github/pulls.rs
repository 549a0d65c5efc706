//! Pull requests, labels, comments, auto-merge and merging.

use http::Method;
use serde_json::{Value, json};

use super::{Field, GitHubForge, PULLS_WRITE, encode_query, str_field};
use crate::forge::{ForgeError, MergeMethod, PullRequest, PullRequestSpec};

fn pr_from_json(value: &Value) -> Result<PullRequest, ForgeError> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    Ok(PullRequest {
        number: value
            .at("number")
            .as_u64()
            .ok_or_else(|| ForgeError::Other("github's answer has no `number`".to_owned()))?,
        url: text(value.at("html_url")),
        head: text(value.at("head").at("ref")),
        base: text(value.at("base").at("ref")),
        title: text(value.at("title")),
        body: text(value.at("body")),
        node_id: value.at("node_id").as_str().map(str::to_owned),
    })
}

impl GitHubForge {
    /// The open pull request from this repository's `head` into `base`, if any: what
    /// `open_pr` returns when GitHub answers that one already exists.
    async fn find_pr(&self, head: &str, base: &str) -> Result<Option<PullRequest>, ForgeError> {
        let path = format!(
            "/pulls?head={}&base={}&state=open&per_page=100",
            encode_query(&format!("{}:{head}", self.owner)),
            encode_query(base)
        );
        let action = format!("finding the pull request of `{head}`");
        let page: Vec<Value> = self
            .get(&path, &action, "pull-requests: read")
            .await?
            .json()?;
        page.first().map(pr_from_json).transpose()
    }

    /// `GET /pulls?base=BASE&state=open`, every page (`Link: rel="next"`), this repository's
    /// head branches only: a fork can name its branch `promote/...` too.
    pub(super) async fn open_prs(&self, base: &str) -> Result<Vec<PullRequest>, ForgeError> {
        let action = format!("listing the open pull requests into `{base}`");
        let url = format!(
            "{}/pulls?base={}&state=open&per_page=100",
            self.repo_url,
            encode_query(base)
        );
        let list = self
            .pages(
                url,
                (&action, "pull-requests: read"),
                Value::as_array,
                usize::MAX,
            )
            .await?;
        list.iter()
            .filter(|value| {
                let repo = value.at("head").at("repo").at("full_name").as_str();
                repo.is_some_and(|r| r.eq_ignore_ascii_case(&self.repository))
            })
            .map(pr_from_json)
            .collect()
    }

    /// Open a pull request. A repeated POST is guarded by GitHub: a second one answers 422
    /// "A pull request already exists", and then the open one is returned.
    pub(super) async fn open_pr(&self, spec: &PullRequestSpec) -> Result<PullRequest, ForgeError> {
        let action = format!("opening a pull request from `{}`", spec.head);
        let body = json!({
            "title": spec.title, "head": spec.head, "base": spec.base, "body": spec.body,
        });
        let reply = self
            .send(Method::POST, "/pulls", body, super::Repeat::Safe)
            .await?;
        let pr = if reply.is_success() {
            pr_from_json(&reply.json()?)?
        } else if reply.status == 422 && reply.message().contains("already exists") {
            self.find_pr(&spec.head, &spec.base)
                .await?
                .ok_or_else(|| reply.error(&action, PULLS_WRITE))?
        } else {
            return Err(reply.error(&action, PULLS_WRITE));
        };
        self.add_labels(pr.number, &spec.labels).await?;
        Ok(pr)
    }

    pub(super) async fn edit_pr(
        &self,
        number: u64,
        spec: &PullRequestSpec,
    ) -> Result<PullRequest, ForgeError> {
        let action = format!("updating pull request #{number}");
        let body = json!({ "title": spec.title, "body": spec.body, "base": spec.base });
        let path = format!("/pulls/{number}");
        let reply = self
            .write(Method::PATCH, &path, body, &action, PULLS_WRITE)
            .await?;
        self.add_labels(number, &spec.labels).await?;
        pr_from_json(&reply.json()?)
    }

    /// Adding labels is a set union, so repeating it is harmless.
    async fn add_labels(&self, number: u64, labels: &[String]) -> Result<(), ForgeError> {
        if labels.is_empty() {
            return Ok(());
        }
        let action = format!("labelling pull request #{number}");
        let path = format!("/issues/{number}/labels");
        let body = json!({ "labels": labels });
        self.write(Method::POST, &path, body, &action, PULLS_WRITE)
            .await?;
        Ok(())
    }

    pub(super) async fn shut_pr(
        &self,
        number: u64,
        comment: Option<&str>,
    ) -> Result<(), ForgeError> {
        if let Some(comment) = comment {
            self.post_comment(number, comment).await?;
        }
        let action = format!("closing pull request #{number}");
        let path = format!("/pulls/{number}");
        self.write(
            Method::PATCH,
            &path,
            json!({ "state": "closed" }),
            &action,
            PULLS_WRITE,
        )
        .await?;
        Ok(())
    }

    /// Comments are sent once: a retried POST could post the comment twice.
    pub(super) async fn post_comment(&self, number: u64, body: &str) -> Result<(), ForgeError> {
        let action = format!("commenting on #{number}");
        let path = format!("/issues/{number}/comments");
        self.write(
            Method::POST,
            &path,
            json!({ "body": body }),
            &action,
            PULLS_WRITE,
        )
        .await?;
        Ok(())
    }

    /// The merge methods the repository allows (`allow_*` of `GET /repos/{o}/{r}`).
    pub(super) async fn allowed_merge_methods(&self) -> Result<Vec<MergeMethod>, ForgeError> {
        let value: Value = self
            .get(
                "",
                "reading the repository's merge settings",
                "contents: read",
            )
            .await?
            .json()?;
        Ok([
            ("allow_squash_merge", MergeMethod::Squash),
            ("allow_merge_commit", MergeMethod::Merge),
            ("allow_rebase_merge", MergeMethod::Rebase),
        ]
        .into_iter()
        // A token without admin rights still sees these; absent means the API's default (true).
        .filter(|(key, _)| value.at(key).as_bool().unwrap_or(true))
        .map(|(_, m)| m)
        .collect())
    }

    /// Enable auto-merge with `method` (without `mergeMethod` GitHub uses MERGE, not the
    /// repository's default, and a squash-only repository refuses it). GitHub refuses it for a
    /// pull request that is already mergeable ("clean status"): that one is merged right away,
    /// with the same method.
    pub(super) async fn auto_merge(
        &self,
        pr: &PullRequest,
        method: MergeMethod,
    ) -> Result<(), ForgeError> {
        const MUTATION: &str = "mutation($id: ID!, $method: PullRequestMergeMethod!) { \
            enablePullRequestAutoMerge(input: { pullRequestId: $id, mergeMethod: $method }) { pullRequest { number } } }";
        let action = format!("enabling auto-merge ({}) on #{}", method.rest(), pr.number);
        let id = pr.node_id.as_deref().ok_or_else(|| {
            ForgeError::Other(format!("{action}: the pull request has no node id"))
        })?;
        let variables = json!({ "id": id, "method": method.graphql() });
        match self
            .graphql(MUTATION, variables, &action, PULLS_WRITE)
            .await
        {
            Err(ForgeError::Other(message)) if message.contains("clean status") => {
                self.merge(pr.number, method).await.map(drop)
            }
            other => other.map(drop),
        }
    }

    pub(super) async fn merge(
        &self,
        number: u64,
        method: MergeMethod,
    ) -> Result<String, ForgeError> {
        let action = format!("merging pull request #{number} ({})", method.rest());
        let path = format!("/pulls/{number}/merge");
        let body = json!({ "merge_method": method.rest() });
        let reply = self
            .send(Method::PUT, &path, body, super::Repeat::Safe)
            .await?;
        if reply.status == 405 {
            return Err(ForgeError::Conflict {
                what: format!("{action}: {}", reply.message()),
            });
        }
        if !reply.is_success() {
            return Err(reply.error(&action, "contents: write"));
        }
        str_field(reply.json::<Value>()?.at("sha"), "sha")
    }
}
