//! `GitLabForge`: the `Forge` trait over GitLab's REST API v4 (gitlab.com and self-managed).
//!
//! The same client as GitHub's (`forge::http`: timeouts, bounded retries of what is safe to
//! repeat, one deadline per run). What differs from GitHub, and how promote copes:
//!
//! - **No compare-and-swap on a branch head.** `POST repository/commits` takes no expected head
//!   (`start_sha` on an existing branch is refused unless `force`, which overwrites). Each
//!   `update`/`delete` action carries the file's `last_commit_id` at the planned head instead:
//!   GitLab refuses the commit when any written file changed since ("has changed since you
//!   started editing it"), and a `create` when the file appeared meanwhile. Those answers are
//!   `ForgeError::Conflict`, so the runner re-plans on the new head; the target branch is never
//!   forced. A commit on the branch that touched none of the written files is no conflict: the
//!   promotion lands on top of it, as a rebase would.
//! - **No call to move a branch.** promote's own merge request branches are reset and committed
//!   in one call (`start_sha` + `force`), see [`Forge::reset_and_commit`].
//! - **Jobs are statuses.** `repository/commits/:sha/statuses` lists external statuses (Argo CD
//!   notifications, Flux's `gitlab` provider) *and* the jobs of the commit's pipelines, each by
//!   its name; `list_check_runs` is therefore empty, so that nothing counts twice.
//! - **Tokens.** `GITLAB_TOKEN` (a project, group or personal access token with the `api` scope)
//!   goes in `PRIVATE-TOKEN`; a job's `CI_JOB_TOKEN` in `JOB-TOKEN`. A job token can read, but
//!   GitLab lets it write neither commits nor merge requests: such a refusal names the fix.

#![deny(clippy::indexing_slicing)]

mod commits;
mod mrs;

use std::cell::RefCell;
use std::collections::HashMap;

use ::http::Method;
use serde_json::Value;

use super::http::{Field, Http, Repeat, Reply, RetryPolicy, Site, TokenHeader, encode_query};
use super::{
    CommitStatus, CommitSummary, FileChange, Forge, ForgeError, MergeMethod, PullRequest,
    PullRequestSpec, TagOutcome, Token,
};

/// The API base when `CI_API_V4_URL` is not set.
pub const GITLAB_COM_API: &str = "https://gitlab.com/api/v4";

/// Which token, and so which header.
#[derive(Debug, Clone)]
pub enum GitLabToken {
    /// A personal, project or group access token (`GITLAB_TOKEN`): `PRIVATE-TOKEN`.
    Private(Token),
    /// The job's `CI_JOB_TOKEN`: `JOB-TOKEN`.
    Job(Token),
}

impl GitLabToken {
    fn header(&self) -> (&'static str, &Token) {
        match self {
            GitLabToken::Private(t) => ("private-token", t),
            GitLabToken::Job(t) => ("job-token", t),
        }
    }

    pub fn expose(&self) -> &str {
        self.header().1.expose()
    }
}

/// Where and as whom to talk to GitLab. The caller reads the environment (`CI_API_V4_URL`,
/// `CI_PROJECT_ID`, `GITLAB_TOKEN` / `CI_JOB_TOKEN`).
#[derive(Debug, Clone)]
pub struct GitLabConfig {
    /// `https://gitlab.com/api/v4` or `https://HOST/api/v4`.
    pub api_url: String,
    /// The project's numeric id (`CI_PROJECT_ID`) or its path (`group/sub/project`).
    pub project: String,
    pub token: GitLabToken,
    pub retry: RetryPolicy,
}

/// `(sha, path)`: a file at an exact commit.
type AtCommit = (String, String);

/// The GitLab forge. Owns a current-thread runtime; every trait call blocks on it.
pub struct GitLabForge {
    rt: tokio::runtime::Runtime,
    http: Http,
    /// `{api_url}/projects/{id or encoded path}`.
    project_url: String,
    /// Whether the token is the job's (its refusals name `GITLAB_TOKEN` as the fix).
    job_token: bool,
    /// `(sha, path)` -> the file's `last_commit_id` there (`None`: no such file), learnt from
    /// reads at exact commits; a commit on that sha needs no extra request to know them.
    last_commits: RefCell<HashMap<AtCommit, Option<String>>>,
    /// Files and trees read at exact commits, which never change: a run that inventories one
    /// commit several times (a push's change detection, then its plan) asks GitLab once.
    files: RefCell<HashMap<AtCommit, Option<Vec<u8>>>>,
    trees: RefCell<HashMap<String, Vec<String>>>,
}

impl std::fmt::Debug for GitLabForge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitLabForge")
            .field("project_url", &self.project_url)
            .finish()
    }
}

/// Whether `rev` is a full commit id (a read there never changes).
fn is_sha(rev: &str) -> bool {
    matches!(rev.len(), 40 | 64) && rev.bytes().all(|b| b.is_ascii_hexdigit())
}

fn origin(url: &str) -> Result<(::http::Uri, String), ForgeError> {
    let invalid = |what: &str| ForgeError::Other(format!("invalid gitlab url `{url}`: {what}"));
    let uri: ::http::Uri = url.parse().map_err(|_| invalid("not a url"))?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(invalid("needs a scheme and a host"));
    };
    let text = format!("{scheme}://{authority}");
    Ok((text.parse().map_err(|_| invalid("not a url"))?, text))
}

impl GitLabForge {
    pub fn new(config: GitLabConfig) -> Result<Self, ForgeError> {
        if config.project.trim().is_empty() {
            return Err(ForgeError::Other(
                "no GitLab project: set CI_PROJECT_ID (or CI_PROJECT_PATH)".to_owned(),
            ));
        }
        let api = config.api_url.trim_end_matches('/').to_owned();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ForgeError::Other(format!("cannot start the http runtime: {e}")))?;
        let _guard = rt.enter();
        let (base, origin) = origin(&api)?;
        let timeouts = config.retry;
        // No octocrab auth: the token travels in GitLab's own header, added by `Http` for this
        // origin only.
        let octo = octocrab::Octocrab::builder()
            .set_connect_timeout(Some(timeouts.connect_timeout))
            .set_read_timeout(Some(timeouts.timeout))
            .set_write_timeout(Some(timeouts.timeout))
            .base_uri(base)
            .and_then(|b| b.build())
            .map_err(|e| ForgeError::Other(format!("cannot build the gitlab client: {e}")))?;
        let (header, token) = config.token.header();
        let site = Site {
            name: "gitlab",
            title: "GitLab",
            accept: "application/json",
            token: Some(TokenHeader {
                header: ::http::HeaderName::from_static(header),
                token: token.clone(),
                origin,
            }),
        };
        Ok(GitLabForge {
            http: Http::for_site(octo, config.retry, site),
            project_url: format!("{api}/projects/{}", encode_query(config.project.trim())),
            job_token: matches!(config.token, GitLabToken::Job(_)),
            last_commits: RefCell::new(HashMap::new()),
            files: RefCell::new(HashMap::new()),
            trees: RefCell::new(HashMap::new()),
            rt,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.project_url)
    }

    /// The error for a failed call: a refused token names its fix; the rest as for GitHub
    /// (404 not found, 409 conflict, 429 rate limited). `role` is what the call needs.
    fn fail(&self, reply: &Reply, action: &str, role: &str) -> ForgeError {
        let status = reply.status.as_u16();
        if !matches!(status, 401 | 403) || reply.is_rate_limited() {
            return reply.error(action, role);
        }
        let message = reply.message();
        if self.job_token {
            return ForgeError::Other(format!(
                "{action}: GitLab refused CI_JOB_TOKEN ({status} {message})\nhint: a job token \
                 cannot do this through GitLab's API; set GITLAB_TOKEN to a project access token \
                 with the `api` scope and {role}"
            ));
        }
        let hint = if status == 401 {
            "check that GITLAB_TOKEN has not expired or been revoked, and has the `api` scope"
                .to_owned()
        } else {
            format!("the token in GITLAB_TOKEN needs the `api` scope and {role}")
        };
        ForgeError::Other(format!(
            "{action}: GitLab refused the token ({status} {message})\nhint: {hint}"
        ))
    }

    async fn get(&self, path: &str, action: &str) -> Result<Reply, ForgeError> {
        let reply = self
            .http
            .call(Method::GET, &self.url(path), None, None, Repeat::Safe)
            .await?;
        if reply.is_success() {
            Ok(reply)
        } else {
            Err(self.fail(&reply, action, READ))
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: &Value,
        repeat: Repeat,
    ) -> Result<Reply, ForgeError> {
        self.http
            .call(method, &self.url(path), Some(body), None, repeat)
            .await
    }

    /// Send and map any failure to an error.
    async fn write(
        &self,
        method: Method,
        path: &str,
        body: &Value,
        action: &str,
        role: &str,
    ) -> Result<Reply, ForgeError> {
        let reply = self.send(method, path, body, Repeat::Safe).await?;
        if reply.is_success() {
            Ok(reply)
        } else {
            Err(self.fail(&reply, action, role))
        }
    }

    /// GET `path` and the `next` pages after it (the `Link` header, as GitHub's) until `max`
    /// entries. A page link to another origin is refused by `Http`, token and all.
    async fn pages(&self, path: &str, action: &str, max: usize) -> Result<Vec<Value>, ForgeError> {
        let mut url = self.url(path);
        let mut out = Vec::new();
        while out.len() < max {
            let reply = self
                .http
                .call(Method::GET, &url, None, None, Repeat::Safe)
                .await?;
            if !reply.is_success() {
                return Err(self.fail(&reply, action, READ));
            }
            let page: Value = reply.json()?;
            let list = page.as_array().ok_or_else(|| {
                ForgeError::Other(format!("{action}: the answer is not the expected list"))
            })?;
            out.extend(list.iter().take(max - out.len()).cloned());
            match reply.next_page() {
                Some(next) => url = next,
                None => break,
            }
        }
        Ok(out)
    }

    async fn statuses(&self, sha: &str) -> Result<Vec<CommitStatus>, ForgeError> {
        let action = format!("listing the statuses of {sha}");
        let path = format!(
            "/repository/commits/{}/statuses?per_page=100",
            encode_query(sha)
        );
        let list = self.pages(&path, &action, usize::MAX).await?;
        let mut list: Vec<&Value> = list.iter().collect();
        // Newest first, as GitHub lists them (GitLab lists oldest first).
        list.sort_by_key(|s| std::cmp::Reverse(s.at("id").as_u64().unwrap_or_default()));
        Ok(list.into_iter().map(status_from_json).collect())
    }

    async fn history(&self, rev: &str, limit: usize) -> Result<Vec<CommitSummary>, ForgeError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let action = format!("listing the history of `{rev}`");
        let path = format!(
            "/repository/commits?ref_name={}&per_page={}",
            encode_query(rev),
            limit.clamp(1, 100)
        );
        let list = self.pages(&path, &action, limit).await?;
        list.iter()
            .map(|c| {
                Ok(CommitSummary {
                    sha: str_field(c.at("id"), "id")?,
                    message: c.at("message").as_str().unwrap_or_default().to_owned(),
                    parents: c
                        .at("parent_ids")
                        .as_array()
                        .map(|ps| {
                            ps.iter()
                                .filter_map(|p| p.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default(),
                })
            })
            .collect()
    }

    async fn head(&self, branch: &str) -> Result<String, ForgeError> {
        let path = format!("/repository/branches/{}", encode_query(branch));
        let action = format!("reading branch `{branch}`");
        let value: Value = self.get(&path, &action).await?.json()?;
        str_field(value.at("commit").at("id"), "commit.id")
    }

    /// `GET repository/files/:path/raw?ref=`: the bytes, and (at a sha) the file's
    /// `last_commit_id` remembered for a commit on that sha.
    async fn file(&self, path: &str, rev: &str) -> Result<Option<Vec<u8>>, ForgeError> {
        let key = (rev.to_owned(), path.to_owned());
        if let Some(known) = self.files.borrow().get(&key) {
            return Ok(known.clone());
        }
        let url = format!(
            "/repository/files/{}/raw?ref={}",
            encode_query(path),
            encode_query(rev)
        );
        let reply = self
            .http
            .call(Method::GET, &self.url(&url), None, None, Repeat::Safe)
            .await?;
        let found = match reply.status.as_u16() {
            200 => true,
            // "404 File Not Found", or a ref without the file; a missing project is an error.
            404 if !reply.message().contains("Project Not Found") => false,
            _ => return Err(self.fail(&reply, &format!("reading `{path}` at `{rev}`"), READ)),
        };
        if is_sha(rev) {
            let last = reply
                .headers
                .get("x-gitlab-last-commit-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            if !found || last.is_some() {
                self.last_commits.borrow_mut().insert(key.clone(), last);
            }
        }
        let bytes = found.then_some(reply.body);
        if is_sha(rev) {
            self.files.borrow_mut().insert(key, bytes.clone());
        }
        Ok(bytes)
    }

    /// Whether `ancestor` is `descendant` or behind it: their merge base is `ancestor`
    /// (`GET repository/merge_base?refs[]=..&refs[]=..`).
    async fn behind(&self, ancestor: &str, descendant: &str) -> Result<bool, ForgeError> {
        let action = format!("comparing {ancestor} with `{descendant}`");
        let path = format!(
            "/repository/merge_base?refs%5B%5D={}&refs%5B%5D={}",
            encode_query(ancestor),
            encode_query(descendant)
        );
        let reply = self
            .http
            .call(Method::GET, &self.url(&path), None, None, Repeat::Safe)
            .await?;
        match reply.status.as_u16() {
            200 => {}
            // No common history at all.
            404 if reply.message().contains("Merge Base") => return Ok(false),
            // "Could not find ref: x": a branch or commit that is not there.
            400 | 404 => {
                return Err(ForgeError::NotFound {
                    what: format!("{action}: {}", reply.message()),
                });
            }
            _ => return Err(self.fail(&reply, &action, READ)),
        }
        let base = str_field(reply.json::<Value>()?.at("id"), "id")?;
        if is_sha(ancestor) {
            return Ok(base.eq_ignore_ascii_case(ancestor));
        }
        Ok(base == self.commit_id(ancestor).await?)
    }

    /// The commit a ref names.
    async fn commit_id(&self, rev: &str) -> Result<String, ForgeError> {
        let path = format!("/repository/commits/{}", encode_query(rev));
        let value: Value = self.get(&path, &format!("reading `{rev}`")).await?.json()?;
        str_field(value.at("id"), "id")
    }

    /// Every regular file at `rev`: `GET repository/tree?recursive=true`, 100 entries a page
    /// (keyset pagination where the server has it, `Link` pages either way).
    async fn tree(&self, rev: &str) -> Result<Vec<String>, ForgeError> {
        if let Some(known) = self.trees.borrow().get(rev) {
            return Ok(known.clone());
        }
        let action = format!("listing the files at `{rev}`");
        let path = format!(
            "/repository/tree?ref={}&recursive=true&per_page=100&pagination=keyset",
            encode_query(rev)
        );
        let entries = self.pages(&path, &action, usize::MAX).await?;
        let mut out: Vec<String> = entries
            .iter()
            .filter(|e| {
                e.at("type").as_str() == Some("blob")
                    && matches!(e.at("mode").as_str(), Some("100644" | "100755"))
            })
            .filter_map(|e| e.at("path").as_str().map(str::to_owned))
            .collect();
        out.sort();
        if is_sha(rev) {
            self.trees.borrow_mut().insert(rev.to_owned(), out.clone());
        }
        Ok(out)
    }
}

/// What reads need: any member of the project (a job token of the project reads too).
const READ: &str = "the Reporter role";
/// What commits, branches and tags need.
const WRITE: &str = "the Developer role (Maintainer for protected branches and tags)";

fn str_field(value: &Value, name: &str) -> Result<String, ForgeError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| ForgeError::Other(format!("gitlab's answer has no `{name}`")))
}

/// A GitLab commit status (or job) state in the terms of a GitHub status: `success`,
/// `pending` or `failure`, the way [`super::check_run_state`] maps check runs. `success` and
/// `skipped` pass; what has not finished (`created`, `pending`, `running`, `manual`: a job
/// waiting for a person, `scheduled`, `preparing`, `waiting_for_resource`) is pending; `failed`,
/// `canceled` and anything unknown fail.
pub fn commit_status_state(status: &str) -> &'static str {
    match status {
        "success" | "skipped" => "success",
        "created"
        | "pending"
        | "running"
        | "manual"
        | "scheduled"
        | "preparing"
        | "waiting_for_resource"
        | "waiting_for_callback" => "pending",
        _ => "failure",
    }
}

/// A status (or job) of `repository/commits/:sha/statuses`: `name` is the context, the
/// author's `username` the creator.
pub fn status_from_json(value: &Value) -> CommitStatus {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    CommitStatus {
        context: text(value.at("name")).unwrap_or_default(),
        state: commit_status_state(value.at("status").as_str().unwrap_or_default()).to_owned(),
        description: text(value.at("description")),
        target_url: text(value.at("target_url")),
        creator: text(value.at("author").at("username")),
        updated_at: text(value.at("finished_at"))
            .or_else(|| text(value.at("started_at")))
            .or_else(|| text(value.at("created_at"))),
    }
}

impl Forge for GitLabForge {
    fn list_statuses(&self, sha: &str) -> Result<Vec<CommitStatus>, ForgeError> {
        self.rt.block_on(self.statuses(sha))
    }

    /// Empty: GitLab lists the jobs of a commit's pipelines among its statuses already.
    fn list_check_runs(&self, _sha: &str) -> Result<Vec<CommitStatus>, ForgeError> {
        Ok(Vec::new())
    }

    fn recent_commits(&self, rev: &str, limit: usize) -> Result<Vec<CommitSummary>, ForgeError> {
        self.rt.block_on(self.history(rev, limit))
    }

    fn is_ancestor(&self, ancestor: &str, descendant: &str) -> Result<bool, ForgeError> {
        self.rt.block_on(self.behind(ancestor, descendant))
    }

    fn branch_head(&self, branch: &str) -> Result<String, ForgeError> {
        self.rt.block_on(self.head(branch))
    }

    fn read_file(&self, path: &str, rev: &str) -> Result<Option<Vec<u8>>, ForgeError> {
        self.rt.block_on(self.file(path, rev))
    }

    fn list_tree(&self, rev: &str) -> Result<Vec<String>, ForgeError> {
        self.rt.block_on(self.tree(rev))
    }

    fn is_on_branch(&self, sha: &str, branch: &str) -> Result<bool, ForgeError> {
        self.rt.block_on(self.behind(sha, branch))
    }

    fn create_commit(
        &self,
        branch: &str,
        expected_head: &str,
        message: &str,
        changes: &[FileChange],
    ) -> Result<String, ForgeError> {
        self.rt
            .block_on(self.commit(branch, expected_head, message, changes, false))
    }

    fn reset_and_commit(
        &self,
        branch: &str,
        base: &str,
        message: &str,
        changes: &[FileChange],
    ) -> Result<String, ForgeError> {
        self.rt
            .block_on(self.commit(branch, base, message, changes, true))
    }

    fn set_branch(&self, branch: &str, sha: &str, force: bool) -> Result<(), ForgeError> {
        self.rt.block_on(self.put_branch(branch, sha, force))
    }

    fn list_open_prs(&self, base: &str) -> Result<Vec<PullRequest>, ForgeError> {
        self.rt.block_on(self.open_mrs(base))
    }

    fn create_pr(&self, spec: &PullRequestSpec) -> Result<PullRequest, ForgeError> {
        self.rt.block_on(self.open_mr(spec))
    }

    fn update_pr(&self, number: u64, spec: &PullRequestSpec) -> Result<PullRequest, ForgeError> {
        self.rt.block_on(self.edit_mr(number, spec))
    }

    fn close_pr(&self, number: u64, comment: Option<&str>) -> Result<(), ForgeError> {
        self.rt.block_on(self.shut_mr(number, comment))
    }

    fn create_tag(&self, name: &str, sha: &str) -> Result<TagOutcome, ForgeError> {
        self.rt.block_on(self.tag(name, sha))
    }

    fn comment(&self, number: u64, body: &str) -> Result<(), ForgeError> {
        self.rt.block_on(self.note(number, body))
    }

    fn merge_methods(&self) -> Result<Vec<MergeMethod>, ForgeError> {
        self.rt.block_on(self.allowed_merge_methods())
    }

    fn enable_auto_merge_as(
        &self,
        pr: &PullRequest,
        method: MergeMethod,
    ) -> Result<(), ForgeError> {
        self.rt.block_on(self.auto_merge(pr.number, method))
    }

    fn merge_pr_as(&self, number: u64, method: MergeMethod) -> Result<String, ForgeError> {
        self.rt.block_on(self.merge(number, method))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_map_like_check_runs() {
        for (gitlab, ours) in [
            ("success", "success"),
            ("skipped", "success"),
            ("failed", "failure"),
            ("canceled", "failure"),
            ("pending", "pending"),
            ("running", "pending"),
            ("created", "pending"),
            ("manual", "pending"),
            ("something-new", "failure"),
        ] {
            assert_eq!(commit_status_state(gitlab), ours, "{gitlab}");
        }
    }
}
