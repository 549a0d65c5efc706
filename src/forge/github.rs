//! `GitHubForge`: the `Forge` trait over GitHub's REST and GraphQL APIs, through octocrab.
//!
//! Requests are raw (`build_request` + `execute`) with our own JSON shapes and status handling,
//! so each call is exactly the documented endpoint. octocrab's own retry is off: `http` retries
//! only what is safe to repeat. Commits go through GraphQL `createCommitOnBranch` with
//! `expectedHeadOid`: one call, atomic, and Verified when made by an App or `GITHUB_TOKEN`; a
//! moved branch answers `STALE_DATA`, which maps to `ForgeError::Conflict`.

#![deny(clippy::indexing_slicing)]

use ::http::Method;
use base64::Engine;
use serde_json::{Value, json};

pub(crate) use super::http::Field;
pub use super::http::{CONNECT_TIMEOUT_VAR, DEADLINE_VAR, RetryPolicy, TIMEOUT_VAR};
use super::http::{Http, Repeat, Reply};
use super::{
    CommitChecks, CommitStatus, CommitSummary, FileChange, Forge, ForgeError, MergeMethod,
    PullRequest, PullRequestSpec, TagOutcome, Token,
};

const CONTENTS_READ: &str = "contents: read";
const CONTENTS_WRITE: &str = "contents: write";
const PULLS_WRITE: &str = "pull-requests: write";

/// Where and as whom to talk to GitHub. The caller reads the environment
/// (`GITHUB_API_URL`, `GITHUB_GRAPHQL_URL`, `GITHUB_REPOSITORY`, the token input).
#[derive(Debug, Clone)]
pub struct GitHubConfig {
    /// REST base: `https://api.github.com` or `https://HOST/api/v3`.
    pub api_url: String,
    /// GraphQL endpoint; derived from `api_url` when `None` (see [`graphql_url_for`]).
    pub graphql_url: Option<String>,
    /// `owner/name`.
    pub repository: String,
    pub token: Token,
    pub retry: RetryPolicy,
}

/// The GraphQL endpoint for a REST base: `https://HOST/api/v3` -> `https://HOST/api/graphql`
/// (GitHub Enterprise Server), otherwise `{api_url}/graphql` (github.com).
pub fn graphql_url_for(api_url: &str) -> String {
    let base = api_url.trim_end_matches('/');
    match base.strip_suffix("/api/v3") {
        Some(host) => format!("{host}/api/graphql"),
        None => format!("{base}/graphql"),
    }
}

/// File contents by (commit sha, path); `None`: not there.
type Blobs = std::collections::HashMap<(String, String), Option<Vec<u8>>>;

/// The GitHub forge. Owns a current-thread runtime; every trait call blocks on it.
pub struct GitHubForge {
    rt: tokio::runtime::Runtime,
    http: Http,
    /// `{api_url}/repos/{owner}/{name}`.
    repo_url: String,
    graphql_url: String,
    owner: String,
    repository: String,
    /// Files read at full commit shas: a commit never changes, so a file read to plan is not
    /// read again to deliver.
    blobs: std::sync::Mutex<Blobs>,
    /// File lists by full commit sha: a commit's tree is listed once a run, however many
    /// plans (one per component of a `pull-request-per-component` delivery) look at it.
    trees: std::sync::Mutex<std::collections::HashMap<String, Vec<String>>>,
    /// Each path's size in bytes as the last tree listing gave it: read queries are cut to a
    /// byte budget (`reads::READ_BYTES`) when the sizes are known.
    sizes: std::sync::Mutex<std::collections::HashMap<String, u64>>,
    /// The most files a read query asks for: `reads::READ_FILES`, halved each time GitHub
    /// gives up on a query as too big or too slow (`reads`).
    read_ceiling: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for GitHubForge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubForge")
            .field("repo_url", &self.repo_url)
            .field("graphql_url", &self.graphql_url)
            .finish()
    }
}

/// `scheme://authority` of a URL: octocrab's base URI. Requests carry absolute URLs, because
/// octocrab would otherwise prefix the base path (`/api/v3`) to the GraphQL path too.
fn origin(url: &str) -> Result<::http::Uri, ForgeError> {
    let invalid = |what: &str| ForgeError::Other(format!("invalid github url `{url}`: {what}"));
    let uri: ::http::Uri = url.parse().map_err(|_| invalid("not a url"))?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(invalid("needs a scheme and a host"));
    };
    format!("{scheme}://{authority}")
        .parse()
        .map_err(|_| invalid("not a url"))
}

impl GitHubForge {
    pub fn new(config: GitHubConfig) -> Result<Self, ForgeError> {
        let (owner, name) = config.repository.split_once('/').ok_or_else(|| {
            ForgeError::Other(format!(
                "repository `{}` is not `owner/name`",
                config.repository
            ))
        })?;
        let api = config.api_url.trim_end_matches('/').to_owned();
        let graphql_url = config
            .graphql_url
            .clone()
            .unwrap_or_else(|| graphql_url_for(&api));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ForgeError::Other(format!("cannot start the http runtime: {e}")))?;
        // octocrab spawns its buffer worker on the current runtime when it is built.
        let _guard = rt.enter();
        let (base, upload) = (origin(&api)?, origin(&graphql_url)?);
        // The token is sent only to these two hosts (octocrab's auth layer checks).
        let timeouts = config.retry;
        let octo = octocrab::Octocrab::builder()
            .set_connect_timeout(Some(timeouts.connect_timeout))
            .set_read_timeout(Some(timeouts.timeout))
            .set_write_timeout(Some(timeouts.timeout))
            .base_uri(base)
            .and_then(|b| b.upload_uri(upload))
            .and_then(|b| b.personal_token(config.token.expose().to_owned()).build())
            .map_err(|e| ForgeError::Other(format!("cannot build the github client: {e}")))?;
        Ok(GitHubForge {
            http: Http::new(octo, config.retry),
            repo_url: format!("{api}/repos/{owner}/{name}"),
            graphql_url,
            owner: owner.to_owned(),
            repository: config.repository.clone(),
            blobs: Default::default(),
            trees: Default::default(),
            sizes: Default::default(),
            read_ceiling: std::sync::atomic::AtomicUsize::new(reads::READ_FILES),
            rt,
        })
    }

    async fn get(&self, path: &str, action: &str, permission: &str) -> Result<Reply, ForgeError> {
        let url = format!("{}{path}", self.repo_url);
        let reply = self
            .http
            .call(Method::GET, &url, None, None, Repeat::Safe)
            .await?;
        if reply.is_success() {
            Ok(reply)
        } else {
            Err(reply.error(action, permission))
        }
    }

    /// Send `body` to `path` and return the raw reply, success or not.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Value,
        repeat: Repeat,
    ) -> Result<Reply, ForgeError> {
        let url = format!("{}{path}", self.repo_url);
        self.http
            .call(method, &url, Some(&body), None, repeat)
            .await
    }

    /// Send and map any failure to an error.
    async fn write(
        &self,
        method: Method,
        path: &str,
        body: Value,
        action: &str,
        permission: &str,
    ) -> Result<Reply, ForgeError> {
        let repeat = if method == Method::POST && path.ends_with("/comments") {
            Repeat::Never
        } else {
            Repeat::Safe
        };
        let reply = self.send(method, path, body, repeat).await?;
        if reply.is_success() {
            Ok(reply)
        } else {
            Err(reply.error(action, permission))
        }
    }

    /// Run a GraphQL query; errors in a 200 answer are mapped by their `type`. `RATE_LIMITED` is
    /// retried like a REST rate limit: queries and `createCommitOnBranch` (guarded by
    /// `expectedHeadOid`) are safe to repeat.
    async fn graphql(
        &self,
        query: &str,
        variables: Value,
        action: &str,
        permission: &str,
    ) -> Result<Value, ForgeError> {
        let reply = self.graphql_reply(query, variables, Repeat::Safe).await?;
        graphql_data(&reply, action, permission)
    }

    /// Send a GraphQL query and return the raw reply, success or not.
    async fn graphql_reply(
        &self,
        query: &str,
        variables: Value,
        repeat: Repeat,
    ) -> Result<Reply, ForgeError> {
        let body = json!({ "query": query, "variables": variables });
        self.http
            .call(Method::POST, &self.graphql_url, Some(&body), None, repeat)
            .await
    }

    /// GET `url` and the `next` pages after it until `max` entries; `items` takes a page's
    /// entries out of its body.
    async fn pages(
        &self,
        mut url: String,
        (action, permission): (&str, &str),
        items: impl Fn(&Value) -> Option<&Vec<Value>>,
        max: usize,
    ) -> Result<Vec<Value>, ForgeError> {
        let mut out = Vec::new();
        while out.len() < max {
            let reply = self
                .http
                .call(Method::GET, &url, None, None, Repeat::Safe)
                .await?;
            if !reply.is_success() {
                return Err(reply.error(action, permission));
            }
            let page: Value = reply.json()?;
            let list = items(&page).ok_or_else(|| {
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
        let url = format!("{}/commits/{sha}/statuses?per_page=100", self.repo_url);
        let list = self
            .pages(
                url,
                (&action, "statuses: read"),
                Value::as_array,
                usize::MAX,
            )
            .await?;
        Ok(list.iter().map(status_from_json).collect())
    }

    /// `GET /commits/{sha}/check-runs?filter=latest`, every page (the body is an object with
    /// `check_runs`, not a list).
    async fn check_runs(&self, sha: &str) -> Result<Vec<CommitStatus>, ForgeError> {
        let action = format!("listing the check runs of {sha}");
        let url = format!(
            "{}/commits/{sha}/check-runs?filter=latest&per_page=100",
            self.repo_url
        );
        let list = self
            .pages(
                url,
                (&action, "checks: read"),
                |page| page.at("check_runs").as_array(),
                usize::MAX,
            )
            .await?;
        Ok(list.iter().map(check_run_from_json).collect())
    }

    /// `GET /commits?sha=REV&per_page=N`: history newest first, following the `next` page link
    /// while fewer than `limit` commits were read (a page holds at most 100).
    async fn history(&self, rev: &str, limit: usize) -> Result<Vec<CommitSummary>, ForgeError> {
        let action = format!("listing the history of `{rev}`");
        let url = format!(
            "{}/commits?sha={}&per_page={}",
            self.repo_url,
            encode_query(rev),
            limit.clamp(1, 100)
        );
        if limit == 0 {
            return Ok(Vec::new());
        }
        let list = self
            .pages(url, (&action, CONTENTS_READ), Value::as_array, limit)
            .await?;
        list.iter()
            .map(|c| {
                Ok(CommitSummary {
                    sha: str_field(c.at("sha"), "sha")?,
                    message: c
                        .at("commit")
                        .at("message")
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    parents: c
                        .at("parents")
                        .as_array()
                        .map(|ps| {
                            ps.iter()
                                .filter_map(|p| p.at("sha").as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default(),
                })
            })
            .collect()
    }

    async fn head(&self, branch: &str) -> Result<String, ForgeError> {
        let path = format!("/git/ref/heads/{}", encode_path(branch));
        let action = format!("reading branch `{branch}`");
        let reply = self.get(&path, &action, CONTENTS_READ).await?;
        let value: Value = reply.json()?;
        str_field(value.at("object").at("sha"), "object.sha")
    }

    async fn file(&self, path: &str, rev: &str) -> Result<Option<Vec<u8>>, ForgeError> {
        let url = format!(
            "{}/contents/{}?ref={}",
            self.repo_url,
            encode_path(path),
            encode_query(rev)
        );
        let raw = Some("application/vnd.github.raw+json");
        let reply = self
            .http
            .call(Method::GET, &url, None, raw, Repeat::Safe)
            .await?;
        match reply.status.as_u16() {
            200 => Ok(Some(reply.body)),
            404 => Ok(None),
            _ => Err(reply.error(&format!("reading `{path}` at `{rev}`"), CONTENTS_READ)),
        }
    }

    /// Whether `sha` is `branch` (a branch name or a sha) or behind it.
    async fn on_branch(&self, sha: &str, branch: &str) -> Result<bool, ForgeError> {
        let path = format!("/compare/{}...{sha}?per_page=1", encode_path(branch));
        let action = format!("comparing {sha} with `{branch}`");
        let value: Value = self.get(&path, &action, CONTENTS_READ).await?.json()?;
        Ok(matches!(
            value.at("status").as_str(),
            Some("identical" | "behind")
        ))
    }

    async fn commit(
        &self,
        branch: &str,
        expected_head: &str,
        message: &str,
        changes: &[FileChange],
    ) -> Result<String, ForgeError> {
        const MUTATION: &str = "mutation($input: CreateCommitOnBranchInput!) { \
            createCommitOnBranch(input: $input) { commit { oid url } } }";
        let b64 = base64::engine::general_purpose::STANDARD;
        let additions: Vec<Value> = changes
            .iter()
            .filter_map(|c| {
                let bytes = c.contents.as_ref()?;
                Some(json!({ "path": c.path, "contents": b64.encode(bytes) }))
            })
            .collect();
        let deletions: Vec<Value> = changes
            .iter()
            .filter(|c| c.contents.is_none())
            .map(|c| json!({ "path": c.path }))
            .collect();
        let (headline, body) = message.split_once('\n').unwrap_or((message, ""));
        let input = json!({
            "branch": { "repositoryNameWithOwner": self.repository, "branchName": branch },
            "message": { "headline": headline, "body": body.trim_start_matches('\n') },
            "expectedHeadOid": expected_head,
            "fileChanges": { "additions": additions, "deletions": deletions },
        });
        let action = format!("committing to `{branch}`");
        let data = self
            .graphql(MUTATION, json!({ "input": input }), &action, CONTENTS_WRITE)
            .await?;
        str_field(
            data.at("createCommitOnBranch").at("commit").at("oid"),
            "createCommitOnBranch.commit.oid",
        )
    }
}

/// The `data` of a GraphQL reply, or its first error mapped by its `type`.
fn graphql_data(reply: &Reply, action: &str, permission: &str) -> Result<Value, ForgeError> {
    if !reply.is_success() {
        return Err(reply.error(action, permission));
    }
    let value: Value = reply.json()?;
    match value.at("errors").as_array().and_then(|e| e.first()) {
        Some(error) => Err(graphql_error(error, action, permission, reply.reset())),
        None => Ok(value.at("data").clone()),
    }
}

fn str_field(value: &Value, name: &str) -> Result<String, ForgeError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| ForgeError::Other(format!("github's answer has no `{name}`")))
}

/// A status in the REST shape (`creator.login` as the creator).
pub fn status_from_json(value: &Value) -> CommitStatus {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    CommitStatus {
        context: text(value.at("context")).unwrap_or_default(),
        state: text(value.at("state")).unwrap_or_default(),
        description: text(value.at("description")),
        target_url: text(value.at("target_url")),
        creator: text(value.at("creator").at("login")),
        updated_at: text(value.at("updated_at")),
    }
}

fn check_run_from_json(value: &Value) -> CommitStatus {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let status = value.at("status").as_str().unwrap_or_default();
    CommitStatus {
        context: text(value.at("name")).unwrap_or_default(),
        state: super::check_run_state(status, value.at("conclusion").as_str()).to_owned(),
        description: text(value.at("output").at("title")),
        target_url: text(value.at("html_url")),
        creator: text(value.at("app").at("slug")),
        updated_at: text(value.at("completed_at")).or_else(|| text(value.at("started_at"))),
    }
}

fn graphql_error(error: &Value, action: &str, permission: &str, reset: Option<u64>) -> ForgeError {
    let message = error.at("message").as_str().unwrap_or_default();
    match error.at("type").as_str().unwrap_or_default() {
        "STALE_DATA" => ForgeError::Conflict {
            what: format!("{action}: {message}"),
        },
        "NOT_FOUND" => ForgeError::NotFound {
            what: format!("{action}: {message}"),
        },
        "FORBIDDEN" | "INSUFFICIENT_SCOPES" => ForgeError::Forbidden {
            action: action.to_owned(),
            permission: permission.to_owned(),
        },
        "RATE_LIMITED" => ForgeError::RateLimited { reset },
        _ if message.contains("Expected branch to point to") => ForgeError::Conflict {
            what: format!("{action}: {message}"),
        },
        _ => ForgeError::Other(format!("{action}: {message}")),
    }
}

/// Percent-encode a path, keeping `/`.
fn encode_path(path: &str) -> String {
    path.split('/')
        .map(encode_query)
        .collect::<Vec<_>>()
        .join("/")
}

use super::http::encode_query;

mod pulls;
mod reads;
mod refs;
mod trees;

pub use self::reads::{READ_BYTES, READ_FILES, READ_SPLIT_MIN};

impl GitHubForge {
    fn cached(&self, key: &(String, String)) -> Option<Option<Vec<u8>>> {
        if !reads::is_full_sha(&key.0) {
            return None;
        }
        let blobs = self.blobs.lock().unwrap_or_else(|e| e.into_inner());
        blobs.get(key).cloned()
    }

    fn remember(&self, key: (String, String), bytes: &Option<Vec<u8>>) {
        if reads::is_full_sha(&key.0) {
            let mut blobs = self.blobs.lock().unwrap_or_else(|e| e.into_inner());
            blobs.insert(key, bytes.clone());
        }
    }
}

impl Forge for GitHubForge {
    fn list_statuses(&self, sha: &str) -> Result<Vec<CommitStatus>, ForgeError> {
        self.rt.block_on(self.statuses(sha))
    }

    fn list_check_runs(&self, sha: &str) -> Result<Vec<CommitStatus>, ForgeError> {
        self.rt.block_on(self.check_runs(sha))
    }

    fn recent_commits(&self, rev: &str, limit: usize) -> Result<Vec<CommitSummary>, ForgeError> {
        self.rt.block_on(self.history(rev, limit))
    }

    fn is_ancestor(&self, ancestor: &str, descendant: &str) -> Result<bool, ForgeError> {
        self.rt.block_on(self.on_branch(ancestor, descendant))
    }

    fn branch_head(&self, branch: &str) -> Result<String, ForgeError> {
        self.rt.block_on(self.head(branch))
    }

    fn read_file(&self, path: &str, rev: &str) -> Result<Option<Vec<u8>>, ForgeError> {
        let key = (rev.to_owned(), path.to_owned());
        if let Some(hit) = self.cached(&key) {
            return Ok(hit);
        }
        let bytes = self.rt.block_on(self.file(path, rev))?;
        self.remember(key, &bytes);
        Ok(bytes)
    }

    fn read_files(&self, rev: &str, paths: &[String]) -> Result<Vec<Option<Vec<u8>>>, ForgeError> {
        let mut out: Vec<Option<Option<Vec<u8>>>> = paths
            .iter()
            .map(|p| self.cached(&(rev.to_owned(), p.clone())))
            .collect();
        let missing: Vec<String> = paths
            .iter()
            .zip(&out)
            .filter(|(_, hit)| hit.is_none())
            .map(|(p, _)| p.clone())
            .collect();
        if !missing.is_empty() {
            let read = self.rt.block_on(self.files(rev, &missing))?;
            let mut read = missing.into_iter().zip(read);
            for slot in out.iter_mut().filter(|hit| hit.is_none()) {
                if let Some((path, bytes)) = read.next() {
                    self.remember((rev.to_owned(), path), &bytes);
                    *slot = Some(bytes);
                }
            }
        }
        Ok(out.into_iter().map(Option::flatten).collect())
    }

    fn list_checks(&self, sha: &str) -> Result<CommitChecks, ForgeError> {
        self.rt.block_on(self.checks(sha))
    }

    fn history_and_checks(
        &self,
        rev: &str,
        limit: usize,
        sha: &str,
    ) -> Result<(Vec<CommitSummary>, CommitChecks), ForgeError> {
        self.rt.block_on(self.history_and_checks(rev, limit, sha))
    }

    fn list_tree(&self, rev: &str) -> Result<Vec<String>, ForgeError> {
        let lock = || self.trees.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = lock().get(rev) {
            return Ok(known.clone());
        }
        let files = self.rt.block_on(self.tree(rev))?;
        if reads::is_full_sha(rev) {
            lock().insert(rev.to_owned(), files.clone());
        }
        Ok(files)
    }

    fn is_on_branch(&self, sha: &str, branch: &str) -> Result<bool, ForgeError> {
        self.rt.block_on(self.on_branch(sha, branch))
    }

    fn create_commit(
        &self,
        branch: &str,
        expected_head: &str,
        message: &str,
        changes: &[FileChange],
    ) -> Result<String, ForgeError> {
        self.rt
            .block_on(self.commit(branch, expected_head, message, changes))
    }

    fn set_branch(&self, branch: &str, sha: &str, force: bool) -> Result<(), ForgeError> {
        self.rt.block_on(self.put_branch(branch, sha, force))
    }

    fn list_open_prs(&self, base: &str) -> Result<Vec<PullRequest>, ForgeError> {
        self.rt.block_on(self.open_prs(base))
    }

    fn create_pr(&self, spec: &PullRequestSpec) -> Result<PullRequest, ForgeError> {
        self.rt.block_on(self.open_pr(spec))
    }

    fn update_pr(&self, number: u64, spec: &PullRequestSpec) -> Result<PullRequest, ForgeError> {
        self.rt.block_on(self.edit_pr(number, spec))
    }

    fn close_pr(&self, number: u64, comment: Option<&str>) -> Result<(), ForgeError> {
        self.rt.block_on(self.shut_pr(number, comment))
    }

    fn merge_methods(&self) -> Result<Vec<MergeMethod>, ForgeError> {
        self.rt.block_on(self.allowed_merge_methods())
    }

    fn enable_auto_merge_as(
        &self,
        pr: &PullRequest,
        method: MergeMethod,
    ) -> Result<(), ForgeError> {
        self.rt.block_on(self.auto_merge(pr, method))
    }

    fn merge_pr_as(&self, number: u64, method: MergeMethod) -> Result<String, ForgeError> {
        self.rt.block_on(self.merge(number, method))
    }

    fn create_tag(&self, name: &str, sha: &str) -> Result<TagOutcome, ForgeError> {
        self.rt.block_on(self.tag(name, sha))
    }

    fn comment(&self, number: u64, body: &str) -> Result<(), ForgeError> {
        self.rt.block_on(self.post_comment(number, body))
    }
}
