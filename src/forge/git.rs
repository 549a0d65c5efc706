//! `GitForge`: commit-mode `git`. Works in a local clone (the workspace) with git2 and pushes to
//! a remote (`origin`); for remotes other than GitHub and for offline tests.
//!
//! - Branch heads come from the remote itself (`ls-remote`), never from stale local refs.
//! - Commits are built in memory from the expected head's tree (the work tree and the checked-out
//!   branch are not touched) and pushed without force; a push the remote rejects because the
//!   branch moved is `ForgeError::Conflict`.
//! - An `http(s)://` remote is reached through promote's own HTTP client (`forge::git_http`),
//!   the token as basic auth (`x-access-token:TOKEN`), never written into `.git/config` or the
//!   remote URL.
//! - A git remote has no commit statuses and no pull requests: those calls return
//!   `ForgeError::Other` with a hint to use `commit-mode = "api"`, rather than an empty list that
//!   a gate would read as "nothing succeeded".

use std::collections::{HashMap, HashSet};
use std::path::Path;

use git2::{
    Direction, ErrorClass, ErrorCode, FetchOptions, Index, IndexEntry, IndexTime, Oid, PushOptions,
    RemoteCallbacks, Repository, Signature,
};

use super::{
    CommitStatus, CommitSummary, FileChange, Forge, ForgeError, PullRequest, PullRequestSpec,
    TagOutcome, Token,
};

/// Private ref used to name the commit being pushed; the checked-out branch stays as it is.
const PUSH_REF: &str = "refs/promote/push";

/// The git forge over a local clone.
pub struct GitForge {
    repo: Repository,
    remote: String,
    token: Option<Token>,
    /// Timeouts, retries and the deadline of HTTP remotes (`forge::git_http`).
    policy: super::http::RetryPolicy,
    /// When this forge was made: the deadline counts from there.
    made: std::time::Instant,
    author: (String, String),
    /// The forge's API (GitHub), for what a git remote does not have: statuses, check runs,
    /// pull requests, tags and comments.
    api: Option<Box<dyn Forge>>,
}

impl std::fmt::Debug for GitForge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitForge")
            .field("path", &self.repo.path())
            .field("remote", &self.remote)
            .field("token", &self.token)
            .field("api", &self.api.is_some())
            .finish()
    }
}

fn git_error(action: &str, e: &git2::Error) -> ForgeError {
    let message = e.message();
    match e.code() {
        ErrorCode::Auth => ForgeError::Unauthorized,
        ErrorCode::NotFastForward => ForgeError::Conflict {
            what: format!("{action}: {message}"),
        },
        ErrorCode::NotFound => ForgeError::NotFound {
            what: format!("{action}: {message}"),
        },
        ErrorCode::Owner => ForgeError::Other(format!(
            "{action}: {message}\nhint: the workspace belongs to another user; mark it a `safe.directory`"
        )),
        _ if e.class() == ErrorClass::Http && message.contains("403") => ForgeError::Forbidden {
            action: action.to_owned(),
            permission: "contents: write".to_owned(),
        },
        _ => ForgeError::Other(format!("{action}: {message}")),
    }
}

/// Copy a commit and the objects of its tree that `to` lacks (a tree already there is complete).
fn copy_objects(from: &git2::Odb<'_>, to: &git2::Odb<'_>, commit: Oid) -> Result<(), git2::Error> {
    fn copy(from: &git2::Odb<'_>, to: &git2::Odb<'_>, oid: Oid) -> Result<bool, git2::Error> {
        if to.exists(oid) {
            return Ok(false);
        }
        let obj = from.read(oid)?;
        to.write(obj.kind(), obj.data())?;
        Ok(true)
    }
    if !copy(from, to, commit)? {
        return Ok(());
    }
    let data = from.read(commit)?;
    let text = String::from_utf8_lossy(data.data());
    let tree = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("tree "))
        .ok_or_else(|| git2::Error::from_str("commit without a tree"))?;
    let mut stack = vec![Oid::from_str(tree.trim())?];
    while let Some(oid) = stack.pop() {
        if !copy(from, to, oid)? {
            continue;
        }
        let raw = from.read(oid)?;
        let mut rest = raw.data();
        // Tree entries: `<mode> <name>\0<20-byte id>`.
        while let Some(nul) = rest.iter().position(|&b| b == 0) {
            let mode = rest[..nul].split(|&b| b == b' ').next().unwrap_or_default();
            let id = Oid::from_bytes(&rest[nul + 1..nul + 21])?;
            if mode == b"40000" {
                stack.push(id);
            } else if mode != b"160000" {
                copy(from, to, id)?;
            }
            rest = &rest[nul + 21..];
        }
    }
    Ok(())
}

/// A push the remote refused: a moved branch is a conflict (retried on the new head); anything
/// else (a protected branch, a hook) is final and says which rule answered.
fn rejection(action: &str, reason: &str) -> ForgeError {
    let moved = [
        "non-fast-forward",
        "fetch first",
        "stale info",
        "cannot lock ref",
        "failed to update ref",
    ];
    if moved.iter().any(|m| reason.contains(m)) {
        return ForgeError::Conflict {
            what: format!("{action}: rejected ({reason})"),
        };
    }
    ForgeError::Other(format!(
        "{action}: the remote refused the push: {reason}\nhint: a branch protection rule or a hook refuses this token's pushes; let it push to the branch, or deliver with `delivery = \"pull-request\"`"
    ))
}

fn unsupported(what: &str) -> ForgeError {
    ForgeError::Other(format!(
        "{what} need commit-mode = api\nhint: a plain git remote has no {what}; set `commit-mode = \"api\"`"
    ))
}

impl GitForge {
    /// Open the clone at `workspace`, pushing to `origin`.
    pub fn open(workspace: &Path, token: Option<Token>) -> Result<Self, ForgeError> {
        let action = format!("opening the git repository at `{}`", workspace.display());
        super::git_http::register();
        let repo = Repository::open(workspace).map_err(|e| git_error(&action, &e))?;
        let author = repo
            .signature()
            .ok()
            .and_then(|s| Some((s.name().ok()?.to_owned(), s.email().ok()?.to_owned())))
            .unwrap_or_else(|| {
                (
                    "github-actions[bot]".to_owned(),
                    "41898282+github-actions[bot]@users.noreply.github.com".to_owned(),
                )
            });
        Ok(GitForge {
            repo,
            remote: "origin".to_owned(),
            token,
            policy: super::http::RetryPolicy::default(),
            made: std::time::Instant::now(),
            author,
            api: None,
        })
    }

    /// Ask `api` for statuses, check runs, pull requests, tags and comments; commits and
    /// branches still go through git.
    pub fn with_api(mut self, api: Box<dyn Forge>) -> Self {
        self.api = Some(api);
        self
    }

    /// The timeouts, retries and deadline of an HTTP remote (`PROMOTE_HTTP_TIMEOUT`, ...); the
    /// deadline counts from when the forge was opened, for every fetch and push of the run.
    pub fn with_policy(mut self, policy: super::http::RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The remote, its URLs given the token and the timeouts (`forge::git_http`).
    fn find_remote(&self) -> Result<git2::Remote<'_>, git2::Error> {
        let remote = self.repo.find_remote(&self.remote)?;
        let deadline_at = self.made + self.policy.deadline;
        for url in [remote.url().ok(), remote.pushurl().ok().flatten()]
            .into_iter()
            .flatten()
        {
            super::git_http::authorize(url, self.token.as_ref(), self.policy, deadline_at);
        }
        Ok(remote)
    }

    /// Push to and read from another remote than `origin`.
    pub fn with_remote(mut self, remote: &str) -> Self {
        self.remote = remote.to_owned();
        self
    }

    /// Author and committer of promote's commits.
    pub fn with_author(mut self, name: &str, email: &str) -> Self {
        self.author = (name.to_owned(), email.to_owned());
        self
    }

    /// The remote's refs (`ls-remote`), peeled tags as `refs/tags/NAME^{}`.
    fn remote_refs(&self) -> Result<HashMap<String, Oid>, ForgeError> {
        let action = format!("listing the refs of `{}`", self.remote);
        let mut remote = self.find_remote().map_err(|e| git_error(&action, &e))?;
        let connection = remote
            .connect_auth(Direction::Fetch, None, None)
            .map_err(|e| git_error(&action, &e))?;
        let heads = connection.list().map_err(|e| git_error(&action, &e))?;
        Ok(heads
            .iter()
            .map(|h| (h.name().to_owned(), h.oid()))
            .collect())
    }

    fn fetch(&self, refspec: &str) -> Result<(), ForgeError> {
        let action = format!("fetching `{refspec}` from `{}`", self.remote);
        let mut remote = self.find_remote().map_err(|e| git_error(&action, &e))?;
        let mut options = FetchOptions::new();
        remote
            .fetch(&[refspec], Some(&mut options), None)
            .map_err(|e| git_error(&action, &e))
    }

    /// Commits where a shallow clone's history is cut (listed in `.git/shallow`): git shows them
    /// without parents. Empty for a full clone.
    fn shallow_roots(&self) -> HashSet<String> {
        if !self.repo.is_shallow() {
            return HashSet::new();
        }
        std::fs::read_to_string(self.repo.commondir().join("shallow"))
            .unwrap_or_default()
            .lines()
            .map(|line| line.trim().to_owned())
            .filter(|line| !line.is_empty())
            .collect()
    }

    /// Fetch the history a shallow clone (the `actions/checkout` default) leaves out, so a walk
    /// that reached its cut can be redone. An error, never a silently short answer, if the
    /// remote cannot do it.
    fn unshallow(&self, action: &str) -> Result<(), ForgeError> {
        let fetch = || {
            let mut remote = self.find_remote()?;
            let mut options = FetchOptions::new();
            // GIT_FETCH_DEPTH_UNSHALLOW
            options.depth(i32::MAX);
            let refspec = format!("+refs/heads/*:refs/remotes/{}/*", self.remote);
            remote.fetch(&[refspec], Some(&mut options), None)
        };
        fetch().map_err(|e| match e.code() {
            ErrorCode::Auth => ForgeError::Unauthorized,
            _ => ForgeError::Other(format!(
                "{action}: the clone is shallow and the rest of its history could not be fetched: {}\nhint: check out the full history (`actions/checkout` with `fetch-depth: 0`)",
                e.message()
            )),
        })
    }

    /// Up to `limit` commits from `start` (see `history`).
    fn walk_history(
        &self,
        start: Oid,
        limit: usize,
        action: &str,
    ) -> Result<Vec<CommitSummary>, ForgeError> {
        history(&self.repo, start, limit).map_err(|e| git_error(action, &e))
    }

    /// The remote head of `branch`, fetched so the commit is available locally.
    fn remote_head(&self, branch: &str) -> Result<Oid, ForgeError> {
        let name = format!("refs/heads/{branch}");
        let oid = *self
            .remote_refs()?
            .get(&name)
            .ok_or_else(|| ForgeError::NotFound {
                what: format!("branch `{branch}` on `{}`", self.remote),
            })?;
        if self.repo.find_commit(oid).is_err() {
            self.fetch(&format!("+{name}:refs/remotes/{}/{branch}", self.remote))?;
        }
        Ok(oid)
    }

    fn resolve(&self, rev: &str) -> Result<Oid, ForgeError> {
        if let Ok(oid) = Oid::from_str(rev)
            && rev.len() == 40
            && self.repo.find_commit(oid).is_ok()
        {
            return Ok(oid);
        }
        let refs = self.remote_refs()?;
        if refs.contains_key(&format!("refs/heads/{rev}")) {
            return self.remote_head(rev);
        }
        let tag = format!("refs/tags/{rev}");
        if let Some(oid) = refs.get(&format!("{tag}^{{}}")).or_else(|| refs.get(&tag)) {
            if self.repo.find_commit(*oid).is_err() {
                self.fetch(&format!("+{tag}:{tag}"))?;
            }
            return Ok(*oid);
        }
        let action = format!("resolving `{rev}`");
        match self.repo.revparse_single(rev) {
            Ok(object) => Ok(object.id()),
            // A commit a shallow clone (`fetch-depth: 1`) does not have yet: fetch the history.
            Err(_) if rev.len() == 40 && Oid::from_str(rev).is_ok() && self.repo.is_shallow() => {
                self.unshallow(&action)?;
                let oid = Oid::from_str(rev).map_err(|e| git_error(&action, &e))?;
                self.repo
                    .find_commit(oid)
                    .map(|c| c.id())
                    .map_err(|e| git_error(&action, &e))
            }
            Err(e) => Err(git_error(&action, &e)),
        }
    }

    /// Push `oid` to `dest` on the remote; a rejection is a `Conflict`.
    fn push(&self, oid: Oid, dest: &str, force: bool) -> Result<(), ForgeError> {
        let action = format!("pushing {oid} to `{dest}` on `{}`", self.remote);
        self.repo
            .reference(PUSH_REF, oid, true, "promote: push")
            .map_err(|e| git_error(&action, &e))?;
        let mut remote = self.find_remote().map_err(|e| git_error(&action, &e))?;
        let mut rejected = None;
        // What the remote says on the side (`remote: GH006: Protected branch update failed`).
        let mut said = Vec::new();
        let result = {
            let mut callbacks = RemoteCallbacks::new();
            callbacks.push_update_reference(|_refname, status| {
                rejected = status.map(str::to_owned);
                Ok(())
            });
            callbacks.sideband_progress(|text| {
                said.extend_from_slice(text);
                true
            });
            let mut options = PushOptions::new();
            options.remote_callbacks(callbacks);
            let refspec = format!("{}{PUSH_REF}:{dest}", if force { "+" } else { "" });
            remote.push(&[refspec], Some(&mut options))
        };
        if let Ok(mut reference) = self.repo.find_reference(PUSH_REF) {
            reference.delete().ok();
        }
        result.map_err(|e| git_error(&action, &e))?;
        match rejected {
            Some(reason) => {
                let said = String::from_utf8_lossy(&said);
                let said: Vec<&str> = said
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect();
                let reason = if said.is_empty() {
                    reason
                } else {
                    format!("{reason}: {}", said.join(" "))
                };
                Err(rejection(&action, &reason))
            }
            None => Ok(()),
        }
    }

    /// The remote's folder when it is a repository on disk (a path or `file://` URL).
    fn local_remote_path(&self) -> Option<std::path::PathBuf> {
        let remote = self.repo.find_remote(&self.remote).ok()?;
        let url = remote.url().ok()?;
        let path = url.strip_prefix("file://").unwrap_or(url);
        (!path.contains("://") && !path.contains('@')).then(|| std::path::PathBuf::from(path))
    }

    /// Move `branch` on the remote from `expected` to `oid`, never losing a commit pushed in
    /// between. A network remote refuses a non-fast-forward push itself; libgit2's push to a
    /// repository on disk does not, so there the new objects are copied into it and the branch
    /// moves with a compare-and-swap on the remote's reference.
    fn push_fast_forward(&self, oid: Oid, expected: Oid, branch: &str) -> Result<(), ForgeError> {
        let dest = format!("refs/heads/{branch}");
        let Some(path) = self.local_remote_path() else {
            return self.push(oid, &dest, false);
        };
        let action = format!("moving `{dest}` in `{}`", path.display());
        let remote = Repository::open(&path).map_err(|e| git_error(&action, &e))?;
        let (from, to) = (
            self.repo.odb().map_err(|e| git_error(&action, &e))?,
            remote.odb().map_err(|e| git_error(&action, &e))?,
        );
        copy_objects(&from, &to, oid).map_err(|e| git_error(&action, &e))?;
        match remote.reference_matching(&dest, oid, true, expected, "promote: fast-forward") {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.code(), ErrorCode::Modified | ErrorCode::Locked) => {
                Err(ForgeError::Conflict {
                    what: format!("{action}: the branch moved ({})", e.message()),
                })
            }
            Err(e) => Err(git_error(&action, &e)),
        }
    }

    /// The tree of `parent` with `changes` applied, written to the object database.
    fn tree_with(
        &self,
        parent: &git2::Commit<'_>,
        changes: &[FileChange],
    ) -> Result<Oid, git2::Error> {
        let mut index = Index::new()?;
        index.read_tree(&parent.tree()?)?;
        for change in changes {
            let path = Path::new(&change.path);
            match &change.contents {
                None => index.remove_path(path)?,
                Some(bytes) => {
                    // Keep an existing file's mode (an executable script stays executable).
                    let mode = index.get_path(path, 0).map_or(0o100644, |e| e.mode);
                    let entry = IndexEntry {
                        ctime: IndexTime::new(0, 0),
                        mtime: IndexTime::new(0, 0),
                        dev: 0,
                        ino: 0,
                        mode,
                        uid: 0,
                        gid: 0,
                        file_size: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
                        id: self.repo.blob(bytes)?,
                        flags: 0,
                        flags_extended: 0,
                        path: change.path.as_bytes().to_vec(),
                    };
                    index.add(&entry)?;
                }
            }
        }
        index.write_tree_to(&self.repo)
    }

    fn commit_on(
        &self,
        expected: Oid,
        message: &str,
        changes: &[FileChange],
    ) -> Result<Oid, git2::Error> {
        let parent = self.repo.find_commit(expected)?;
        let tree = self.repo.find_tree(self.tree_with(&parent, changes)?)?;
        let signature = Signature::now(&self.author.0, &self.author.1)?;
        self.repo
            .commit(None, &signature, &signature, message, &tree, &[&parent])
    }
}

/// Up to `limit` commits from `start` in `repo`, children before parents, newest first
/// otherwise; messages without git's trailing newline, as GitHub's API gives them.
pub(crate) fn history(
    repo: &Repository,
    start: Oid,
    limit: usize,
) -> Result<Vec<CommitSummary>, git2::Error> {
    let mut walk = repo.revwalk()?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::TIME)?;
    walk.push(start)?;
    let mut out = Vec::new();
    for oid in walk.take(limit) {
        let oid = oid?;
        let commit = repo.find_commit(oid)?;
        out.push(CommitSummary {
            sha: oid.to_string(),
            message: String::from_utf8_lossy(commit.message_bytes())
                .trim_end_matches('\n')
                .to_owned(),
            parents: parents(repo, oid)?,
        });
    }
    Ok(out)
}

/// A commit's parents as its object lists them, first parent first. Not `parent_ids()`: a
/// parsed commit is cached per repository handle with a shallow clone's cut (no parents)
/// applied, and stays so after `unshallow`.
fn parents(repo: &Repository, oid: Oid) -> Result<Vec<String>, git2::Error> {
    let odb = repo.odb()?;
    let object = odb.read(oid)?;
    Ok(object
        .data()
        .split(|b| *b == b'\n')
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.strip_prefix(b"parent "))
        .map(|sha| String::from_utf8_lossy(sha).into_owned())
        .collect())
}

impl Forge for GitForge {
    fn list_statuses(&self, sha: &str) -> Result<Vec<CommitStatus>, ForgeError> {
        if let Some(api) = &self.api {
            return api.list_statuses(sha);
        }
        Err(unsupported("commit statuses"))
    }

    fn list_check_runs(&self, sha: &str) -> Result<Vec<CommitStatus>, ForgeError> {
        if let Some(api) = &self.api {
            return api.list_check_runs(sha);
        }
        Err(unsupported("check runs"))
    }

    fn recent_commits(&self, rev: &str, limit: usize) -> Result<Vec<CommitSummary>, ForgeError> {
        let action = format!("listing the history of `{rev}`");
        let start = self.resolve(rev)?;
        let out = self.walk_history(start, limit, &action)?;
        let roots = self.shallow_roots();
        if !out.iter().any(|c| roots.contains(&c.sha)) {
            return Ok(out);
        }
        // A listed commit is a shallow clone's cut: its parents (and what follows) are missing.
        self.unshallow(&action)?;
        self.walk_history(start, limit, &action)
    }

    fn is_ancestor(&self, ancestor: &str, descendant: &str) -> Result<bool, ForgeError> {
        let (Ok(a), d) = (Oid::from_str(ancestor), self.resolve(descendant)?) else {
            return Ok(false);
        };
        let reachable = || a == d || self.repo.graph_descendant_of(d, a).unwrap_or(false);
        if reachable() {
            return Ok(true);
        }
        if !self.repo.is_shallow() {
            return Ok(false);
        }
        // A shallow clone may just not have the history that links them.
        self.unshallow(&format!("checking whether {ancestor} is in `{descendant}`"))?;
        Ok(reachable())
    }

    fn branch_head(&self, branch: &str) -> Result<String, ForgeError> {
        Ok(self.remote_head(branch)?.to_string())
    }

    fn read_file(&self, path: &str, rev: &str) -> Result<Option<Vec<u8>>, ForgeError> {
        let action = format!("reading `{path}` at `{rev}`");
        let oid = self.resolve(rev)?;
        let commit = self
            .repo
            .find_commit(oid)
            .map_err(|e| git_error(&action, &e))?;
        let tree = commit.tree().map_err(|e| git_error(&action, &e))?;
        let Ok(entry) = tree.get_path(Path::new(path)) else {
            return Ok(None);
        };
        let blob = self
            .repo
            .find_blob(entry.id())
            .map_err(|e| git_error(&action, &e))?;
        Ok(Some(blob.content().to_vec()))
    }

    fn list_tree(&self, rev: &str) -> Result<Vec<String>, ForgeError> {
        let action = format!("listing the files at `{rev}`");
        let oid = self.resolve(rev)?;
        let tree = self
            .repo
            .find_commit(oid)
            .and_then(|c| c.tree())
            .map_err(|e| git_error(&action, &e))?;
        crate::repo::tree_files(&tree, "").map_err(|e| git_error(&action, &e))
    }

    fn is_on_branch(&self, sha: &str, branch: &str) -> Result<bool, ForgeError> {
        let head = self.remote_head(branch)?;
        let Ok(oid) = Oid::from_str(sha) else {
            return Ok(false);
        };
        let reachable = || oid == head || self.repo.graph_descendant_of(head, oid).unwrap_or(false);
        if reachable() || !self.repo.is_shallow() {
            return Ok(reachable());
        }
        // A shallow clone may just not have the history that links them.
        self.unshallow(&format!("checking whether {sha} is on `{branch}`"))?;
        Ok(reachable())
    }

    fn create_commit(
        &self,
        branch: &str,
        expected_head: &str,
        message: &str,
        changes: &[FileChange],
    ) -> Result<String, ForgeError> {
        let head = self.remote_head(branch)?;
        if head.to_string() != expected_head {
            return Err(ForgeError::Conflict {
                what: format!("branch `{branch}` moved to {head}, expected {expected_head}"),
            });
        }
        let action = format!("committing to `{branch}`");
        let oid = self
            .commit_on(head, message, changes)
            .map_err(|e| git_error(&action, &e))?;
        self.push_fast_forward(oid, head, branch)?;
        let tracking = format!("refs/remotes/{}/{branch}", self.remote);
        self.repo
            .reference(&tracking, oid, true, "promote: pushed")
            .map_err(|e| git_error(&action, &e))?;
        Ok(oid.to_string())
    }

    fn set_branch(&self, branch: &str, sha: &str, force: bool) -> Result<(), ForgeError> {
        let oid = self.resolve(sha)?;
        self.push(oid, &format!("refs/heads/{branch}"), force)
    }

    fn list_open_prs(&self, base: &str) -> Result<Vec<PullRequest>, ForgeError> {
        if let Some(api) = &self.api {
            return api.list_open_prs(base);
        }
        Err(unsupported("pull requests"))
    }

    fn create_pr(&self, spec: &PullRequestSpec) -> Result<PullRequest, ForgeError> {
        if let Some(api) = &self.api {
            return api.create_pr(spec);
        }
        Err(unsupported("pull requests"))
    }

    fn update_pr(&self, number: u64, spec: &PullRequestSpec) -> Result<PullRequest, ForgeError> {
        if let Some(api) = &self.api {
            return api.update_pr(number, spec);
        }
        Err(unsupported("pull requests"))
    }

    fn close_pr(&self, number: u64, comment: Option<&str>) -> Result<(), ForgeError> {
        if let Some(api) = &self.api {
            return api.close_pr(number, comment);
        }
        Err(unsupported("pull requests"))
    }

    fn merge_methods(&self) -> Result<Vec<super::MergeMethod>, ForgeError> {
        if let Some(api) = &self.api {
            return api.merge_methods();
        }
        Err(unsupported("merge methods"))
    }

    fn enable_auto_merge_as(
        &self,
        pr: &PullRequest,
        method: super::MergeMethod,
    ) -> Result<(), ForgeError> {
        if let Some(api) = &self.api {
            return api.enable_auto_merge_as(pr, method);
        }
        Err(unsupported("pull requests"))
    }

    fn merge_pr_as(&self, number: u64, method: super::MergeMethod) -> Result<String, ForgeError> {
        if let Some(api) = &self.api {
            return api.merge_pr_as(number, method);
        }
        Err(unsupported("pull requests"))
    }

    fn create_tag(&self, name: &str, sha: &str) -> Result<TagOutcome, ForgeError> {
        if let Some(api) = &self.api {
            return api.create_tag(name, sha);
        }
        let tag = format!("refs/tags/{name}");
        let refs = self.remote_refs()?;
        if let Some(existing) = refs.get(&format!("{tag}^{{}}")).or_else(|| refs.get(&tag)) {
            return if existing.to_string() == sha {
                Ok(TagOutcome::Exists)
            } else {
                Err(ForgeError::Conflict {
                    what: format!("tag `{name}` already points at {existing}, not {sha}"),
                })
            };
        }
        let oid = self.resolve(sha)?;
        self.push(oid, &tag, false)?;
        Ok(TagOutcome::Created)
    }

    fn comment(&self, number: u64, body: &str) -> Result<(), ForgeError> {
        if let Some(api) = &self.api {
            return api.comment(number, body);
        }
        Err(unsupported("pull requests"))
    }
}
