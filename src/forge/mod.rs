//! The one boundary to GitHub (or a git remote): a small, domain-shaped trait.
//!
//! Everything that decides (events, gates, plans) is pure; only delivery and status reads go
//! through `Forge`. `github` speaks the REST/GraphQL API through octocrab, `git` works on a local
//! clone with git2 and pushes to `origin`, `memory` is the stateful fake used by logic tests.

pub mod deliver;
pub mod git;
pub mod git_http;
pub mod github;
pub mod gitlab;
pub mod http;
pub mod memory;

use serde::{Deserialize, Serialize};

/// A commit status as the REST API lists it (`GET /repos/{o}/{r}/commits/{sha}/statuses`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitStatus {
    pub context: String,
    /// `success`, `failure`, `error` or `pending`.
    pub state: String,
    pub description: Option<String>,
    pub target_url: Option<String>,
    /// `creator.login` of the status.
    pub creator: Option<String>,
    /// ISO-8601; the newest status per context wins.
    pub updated_at: Option<String>,
}

/// One commit of a branch's history, as `Forge::recent_commits` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitSummary {
    pub sha: String,
    pub message: String,
    /// Parent shas, first parent first.
    pub parents: Vec<String>,
}

/// What `Forge::list_checks` read of a commit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitChecks {
    pub statuses: Vec<CommitStatus>,
    pub check_runs: Vec<CommitStatus>,
    /// `statuses` holds the newest status per context only (GitHub's GraphQL), not every status
    /// (REST): an older status of a context whose newest is by someone else is not there.
    pub latest_only: bool,
}

/// A check run's state in the terms of a commit status: `success`, `pending` or `failure`.
///
/// `success`, `neutral` and `skipped` conclusions pass; a run that has not completed is pending;
/// every other conclusion (`failure`, `cancelled`, `timed_out`, `action_required`, `stale`, ...)
/// fails.
pub fn check_run_state(status: &str, conclusion: Option<&str>) -> &'static str {
    if status != "completed" {
        return "pending";
    }
    match conclusion {
        Some("success" | "neutral" | "skipped") => "success",
        None => "pending",
        Some(_) => "failure",
    }
}

/// One file to write in a commit; `None` contents delete it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChange {
    pub path: String,
    pub contents: Option<Vec<u8>>,
}

/// An open (or just created) pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    pub url: String,
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    /// GraphQL node id, needed to enable auto-merge.
    pub node_id: Option<String>,
}

/// What to open or update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullRequestSpec {
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
}

/// Outcome of creating a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TagOutcome {
    Created,
    /// The tag already points at the same commit.
    Exists,
    /// The tag already points at another commit that holds the same version: left alone.
    Kept,
}

/// How a pull request is merged (`merge-method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MergeMethod {
    Merge,
    Squash,
    Rebase,
}

impl MergeMethod {
    /// The REST name (`PUT .../merge` `merge_method`).
    pub fn rest(self) -> &'static str {
        match self {
            MergeMethod::Merge => "merge",
            MergeMethod::Squash => "squash",
            MergeMethod::Rebase => "rebase",
        }
    }

    /// The GraphQL enum (`enablePullRequestAutoMerge` `mergeMethod`).
    pub fn graphql(self) -> &'static str {
        match self {
            MergeMethod::Merge => "MERGE",
            MergeMethod::Squash => "SQUASH",
            MergeMethod::Rebase => "REBASE",
        }
    }

    /// The default among the methods a repository allows: squash (one commit on the target
    /// per promotion, carrying its message), then merge, then rebase.
    pub fn preferred(allowed: &[MergeMethod]) -> Option<MergeMethod> {
        [MergeMethod::Squash, MergeMethod::Merge, MergeMethod::Rebase]
            .into_iter()
            .find(|m| allowed.contains(m))
    }
}

/// Why `name` is not a valid git ref name (`git check-ref-format` rules, applied to the name
/// below `refs/heads/` or `refs/tags/`), if it is not.
pub fn ref_name_problem(name: &str) -> Option<String> {
    let bad = |why: &str| Some(format!("`{name}` is not a valid git ref name: {why}"));
    if name.is_empty() {
        return bad("it is empty");
    }
    if name == "@" {
        return bad("`@` alone is reserved");
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_control() || matches!(c, ' ' | ':' | '~' | '^' | '?' | '*' | '[' | '\\'))
    {
        return bad(&format!("it contains {c:?}"));
    }
    if name.contains("..") {
        return bad("it contains `..`");
    }
    if name.contains("@{") {
        return bad("it contains `@{`");
    }
    if name.contains("//") {
        return bad("it contains `//`");
    }
    if name.starts_with('-') {
        return bad("it starts with `-`");
    }
    if name.starts_with('/') || name.ends_with('/') || name.ends_with('.') {
        return bad("it starts or ends with `/`, or ends with `.`");
    }
    for part in name.split('/') {
        if part.starts_with('.') {
            return bad("a component starts with `.`");
        }
        if part.ends_with(".lock") {
            return bad("a component ends with `.lock`");
        }
    }
    None
}

/// `text` as one ref name component: every character git refuses in a ref (and `/`) becomes
/// `-`, runs of `.` become one, so that `localhost:5000/api` gives `localhost-5000-api`.
/// What still fails [`ref_name_problem`] after this is held, not guessed at.
pub fn ref_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let c = if c.is_control()
            || matches!(c, ' ' | ':' | '~' | '^' | '?' | '*' | '[' | '\\' | '/')
        {
            '-'
        } else {
            c
        };
        if c == '.' && out.ends_with('.') {
            continue;
        }
        out.push(c);
    }
    out.replace("@{", "-{")
}

/// An API token. `Debug` and `Display` never show it; only `expose` does, at the call that sends it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn new(secret: impl Into<String>) -> Self {
        Token(secret.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Errors of talking to the forge, by meaning rather than by status code.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    #[error("unauthorized: the token was rejected\nhint: check the `token` input")]
    Unauthorized,
    #[error(
        "forbidden: {action} needs the `{permission}` permission\nhint: add `permissions: {permission}` to the job"
    )]
    Forbidden { action: String, permission: String },
    #[error("not found: {what}")]
    NotFound { what: String },
    #[error("conflict: {what}")]
    Conflict { what: String },
    #[error("rate limited{}", reset.map(|r| format!(" until {r} (unix time)")).unwrap_or_default())]
    RateLimited { reset: Option<u64> },
    #[error("{0}")]
    Other(String),
}

impl ForgeError {
    /// Whether retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, ForgeError::RateLimited { .. })
    }
}

/// What promote needs from GitHub or a git remote. Synchronous on purpose: callers are simple,
/// and the GitHub implementation owns its async runtime.
pub trait Forge {
    /// All statuses of a commit, newest first, every page.
    fn list_statuses(&self, sha: &str) -> Result<Vec<CommitStatus>, ForgeError>;
    /// The latest check run per name of a commit, every page, as statuses: `context` is the
    /// run's name, `state` comes from `check_run_state`, `creator` is the app's slug.
    fn list_check_runs(&self, sha: &str) -> Result<Vec<CommitStatus>, ForgeError>;
    /// Up to `limit` commits reachable from `rev` (a branch or sha), newest first, `rev` itself
    /// included.
    fn recent_commits(&self, rev: &str, limit: usize) -> Result<Vec<CommitSummary>, ForgeError>;
    /// Whether commit `ancestor` is `descendant` or one of its ancestors.
    fn is_ancestor(&self, ancestor: &str, descendant: &str) -> Result<bool, ForgeError>;
    /// The commit a branch points at.
    fn branch_head(&self, branch: &str) -> Result<String, ForgeError>;
    /// A file's bytes at a ref (branch, tag or sha); `None` if it does not exist there.
    fn read_file(&self, path: &str, rev: &str) -> Result<Option<Vec<u8>>, ForgeError>;
    /// Several files at one ref, in the order of `paths` (`None`: not there). GitHub reads up to
    /// [`github::READ_FILES`] in one GraphQL query; elsewhere a loop over `read_file` is as good.
    fn read_files(&self, rev: &str, paths: &[String]) -> Result<Vec<Option<Vec<u8>>>, ForgeError> {
        paths.iter().map(|p| self.read_file(p, rev)).collect()
    }
    /// The statuses and check runs of a commit together, as `list_statuses` and
    /// `list_check_runs` give them (GitHub: one paginated GraphQL query where the token may).
    fn list_checks(&self, sha: &str) -> Result<CommitChecks, ForgeError> {
        Ok(CommitChecks {
            statuses: self.list_statuses(sha)?,
            check_runs: self.list_check_runs(sha)?,
            latest_only: false,
        })
    }
    /// `recent_commits(rev, limit)` and `list_checks(sha)` together (GitHub: one GraphQL query).
    fn history_and_checks(
        &self,
        rev: &str,
        limit: usize,
        sha: &str,
    ) -> Result<(Vec<CommitSummary>, CommitChecks), ForgeError> {
        Ok((self.recent_commits(rev, limit)?, self.list_checks(sha)?))
    }
    /// The path of every regular file at a ref (symlinks and submodules left out), for source
    /// paths with placeholders: one tree read for the whole commit, not one per folder.
    fn list_tree(&self, rev: &str) -> Result<Vec<String>, ForgeError>;
    /// Whether `sha` is reachable from `branch` (equal to its head or an ancestor).
    fn is_on_branch(&self, sha: &str, branch: &str) -> Result<bool, ForgeError>;
    /// Create one commit on `branch` whose parent must be `expected_head`; returns the new sha.
    /// Fails with `Conflict` if the branch moved.
    fn create_commit(
        &self,
        branch: &str,
        expected_head: &str,
        message: &str,
        changes: &[FileChange],
    ) -> Result<String, ForgeError>;
    /// Create `branch` at `sha`, or move it there (`force` allows a non-fast-forward move,
    /// used only for promote's own PR branches).
    fn set_branch(&self, branch: &str, sha: &str, force: bool) -> Result<(), ForgeError>;
    /// Reset promote's own `branch` to `base` (creating it if missing) and commit `changes` on
    /// it; returns the new sha. The default moves the branch with `set_branch(.., true)` and
    /// commits; a forge without a call to move a branch (GitLab) does both in one commit call.
    fn reset_and_commit(
        &self,
        branch: &str,
        base: &str,
        message: &str,
        changes: &[FileChange],
    ) -> Result<String, ForgeError> {
        self.set_branch(branch, base, true)?;
        self.create_commit(branch, base, message, changes)
    }
    /// Every open pull request into `base` whose head branch is in this repository (a fork's
    /// branch of the same name is not ours), every page: one listing that a run matches all of
    /// its branch names against.
    fn list_open_prs(&self, base: &str) -> Result<Vec<PullRequest>, ForgeError>;
    fn create_pr(&self, spec: &PullRequestSpec) -> Result<PullRequest, ForgeError>;
    fn update_pr(&self, number: u64, spec: &PullRequestSpec) -> Result<PullRequest, ForgeError>;
    fn close_pr(&self, number: u64, comment: Option<&str>) -> Result<(), ForgeError>;
    /// Enable auto-merge with the repository's preferred allowed method (`MergeMethod::preferred`).
    fn enable_auto_merge(&self, pr: &PullRequest) -> Result<(), ForgeError> {
        let method = preferred_method(self)?;
        self.enable_auto_merge_as(pr, method)
    }
    /// Merge with the repository's preferred allowed method.
    fn merge_pr(&self, number: u64) -> Result<String, ForgeError> {
        let method = preferred_method(self)?;
        self.merge_pr_as(number, method)
    }
    /// Create a lightweight tag at `sha`; an existing tag at the same commit is fine.
    fn create_tag(&self, name: &str, sha: &str) -> Result<TagOutcome, ForgeError>;
    fn comment(&self, number: u64, body: &str) -> Result<(), ForgeError>;
    /// The merge methods the repository allows (`GET /repos/{o}/{r}`).
    fn merge_methods(&self) -> Result<Vec<MergeMethod>, ForgeError>;
    /// Enable auto-merge with `method`; a pull request that is already mergeable is merged.
    fn enable_auto_merge_as(&self, pr: &PullRequest, method: MergeMethod)
    -> Result<(), ForgeError>;
    /// Merge a pull request with `method`; returns the commit that landed on the base.
    fn merge_pr_as(&self, number: u64, method: MergeMethod) -> Result<String, ForgeError>;
}

/// The merge method to use when none is configured: the preferred one the forge allows.
fn preferred_method<F: Forge + ?Sized>(forge: &F) -> Result<MergeMethod, ForgeError> {
    MergeMethod::preferred(&forge.merge_methods()?)
        .ok_or_else(|| ForgeError::Other("the repository allows no merge method".to_owned()))
}
