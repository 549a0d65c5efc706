//! `MemoryForge`: a stateful in-memory forge for logic tests.
//!
//! It keeps branches, commits with whole file trees, statuses, pull requests, tags, labels and
//! comments, and logs every trait call. Clones share one state, so a test can hand one clone to
//! the code under test and inspect another. Failures can be injected per operation, and a hook
//! can run just before the next `create_commit` (to stage a push race deterministically).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{
    CommitStatus, CommitSummary, FileChange, Forge, ForgeError, MergeMethod, PullRequest,
    PullRequestSpec, TagOutcome,
};

/// One commit: its parent and the whole file tree after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryCommit {
    pub sha: String,
    pub parent: Option<String>,
    pub message: String,
    pub files: BTreeMap<String, Vec<u8>>,
}

/// State of a pull request in the fake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrState {
    Open,
    Closed,
    Merged,
}

/// A pull request with what the trait's `PullRequest` does not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryPr {
    pub pr: PullRequest,
    pub state: PrState,
    pub labels: Vec<String>,
    pub auto_merge: bool,
    /// The method auto-merge was enabled with (`enable_auto_merge_as`).
    pub merge_method: Option<MergeMethod>,
}

type Hook = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct State {
    commits: HashMap<String, MemoryCommit>,
    branches: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
    statuses: HashMap<String, Vec<CommitStatus>>,
    check_runs: HashMap<String, Vec<CommitStatus>>,
    prs: Vec<MemoryPr>,
    comments: Vec<(u64, String)>,
    calls: Vec<String>,
    failures: HashMap<String, VecDeque<ForgeError>>,
    before_commit: Option<Hook>,
    /// `create_commit` carries the next commit out, then answers with this error.
    lose_commit_answer: Option<ForgeError>,
    /// `None`: every method is allowed.
    merge_methods: Option<Vec<MergeMethod>>,
    counter: u64,
}

/// The in-memory forge; cheap to clone, clones share state.
#[derive(Clone, Default)]
pub struct MemoryForge {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for MemoryForge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("MemoryForge")
            .field("branches", &state.branches)
            .field("tags", &state.tags)
            .field("pull_requests", &state.prs.len())
            .finish()
    }
}

impl MemoryForge {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread poisons the lock; the state is still usable for assertions.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Commit `files` (path, contents) on top of `branch`, creating the branch if needed.
    pub fn commit_files(&self, branch: &str, message: &str, files: &[(&str, &str)]) -> String {
        let mut state = self.lock();
        let parent = state.branches.get(branch).cloned();
        let mut tree = parent
            .as_ref()
            .and_then(|p| state.commits.get(p))
            .map(|c| c.files.clone())
            .unwrap_or_default();
        for (path, contents) in files {
            tree.insert((*path).to_owned(), contents.as_bytes().to_vec());
        }
        let sha = state.insert_commit(parent, message, tree);
        state.branches.insert(branch.to_owned(), sha.clone());
        sha
    }

    /// Commit one file on `branch`; returns the new head.
    pub fn set_file(&self, branch: &str, path: &str, contents: &str) -> String {
        self.commit_files(branch, &format!("set {path}"), &[(path, contents)])
    }

    /// Add a status to `sha`, newest first like the REST API.
    pub fn add_status(&self, sha: &str, context: &str, state: &str, creator: &str) {
        let mut guard = self.lock();
        guard.counter += 1;
        let status = CommitStatus {
            context: context.to_owned(),
            state: state.to_owned(),
            description: None,
            target_url: None,
            creator: Some(creator.to_owned()),
            updated_at: Some(format!("2024-01-01T00:00:{:02}Z", guard.counter % 60)),
        };
        guard
            .statuses
            .entry(sha.to_owned())
            .or_default()
            .insert(0, status);
    }

    /// Add a completed check run named `name` to `sha`; `conclusion` as GitHub reports it
    /// (`success`, `failure`, `neutral`, `skipped`, ...), or `None` while it runs.
    pub fn add_check_run(&self, sha: &str, name: &str, conclusion: Option<&str>, app: &str) {
        let mut guard = self.lock();
        let status = if conclusion.is_some() {
            "completed"
        } else {
            "in_progress"
        };
        let run = CommitStatus {
            context: name.to_owned(),
            state: super::check_run_state(status, conclusion).to_owned(),
            description: None,
            target_url: None,
            creator: Some(app.to_owned()),
            updated_at: None,
        };
        let runs = guard.check_runs.entry(sha.to_owned()).or_default();
        runs.retain(|r| r.context != name);
        runs.insert(0, run);
    }

    /// Make the next call of `operation` (a trait method name, e.g. `create_pr`) fail.
    pub fn fail_next(&self, operation: &str, error: ForgeError) {
        let mut state = self.lock();
        state
            .failures
            .entry(operation.to_owned())
            .or_default()
            .push_back(error);
    }

    /// Make the next `create_commit` land its commit and then fail with `error`, as when the
    /// answer is lost on the way back.
    pub fn lose_next_commit_answer(&self, error: ForgeError) {
        self.lock().lose_commit_answer = Some(error);
    }

    /// Allow only these merge methods (default: all).
    pub fn allow_merge_methods(&self, methods: &[MergeMethod]) {
        self.lock().merge_methods = Some(methods.to_vec());
    }

    /// Run `hook` right before the next `create_commit` looks at the branch (once).
    pub fn before_next_commit(&self, hook: impl FnOnce() + Send + 'static) {
        self.lock().before_commit = Some(Box::new(hook));
    }

    /// Every trait call so far, as `operation args`.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// How many calls of `operation` were made.
    pub fn call_count(&self, operation: &str) -> usize {
        let prefix = format!("{operation} ");
        self.lock()
            .calls
            .iter()
            .filter(|c| c.starts_with(&prefix) || *c == operation)
            .count()
    }

    /// A file's contents at a branch, tag or sha.
    pub fn file(&self, rev: &str, path: &str) -> Option<String> {
        let state = self.lock();
        let sha = state.resolve(rev)?;
        let bytes = state.commits.get(&sha)?.files.get(path)?;
        Some(String::from_utf8_lossy(bytes).into_owned())
    }

    pub fn commit(&self, sha: &str) -> Option<MemoryCommit> {
        self.lock().commits.get(sha).cloned()
    }

    /// First-parent history of `branch`, newest first.
    pub fn history(&self, branch: &str) -> Vec<MemoryCommit> {
        let state = self.lock();
        let mut out = Vec::new();
        let mut next = state.branches.get(branch).cloned();
        while let Some(sha) = next {
            let Some(commit) = state.commits.get(&sha) else {
                break;
            };
            next = commit.parent.clone();
            out.push(commit.clone());
        }
        out
    }

    pub fn head(&self, branch: &str) -> Option<String> {
        self.lock().branches.get(branch).cloned()
    }

    pub fn branches(&self) -> BTreeMap<String, String> {
        self.lock().branches.clone()
    }

    pub fn tags(&self) -> BTreeMap<String, String> {
        self.lock().tags.clone()
    }

    /// Every pull request ever opened, in creation order.
    pub fn pull_requests(&self) -> Vec<MemoryPr> {
        self.lock().prs.clone()
    }

    /// Comments as (pull request number, body).
    pub fn comments(&self) -> Vec<(u64, String)> {
        self.lock().comments.clone()
    }

    /// Log a call and return the injected failure for it, if any.
    fn enter(&self, operation: &str, args: String) -> Result<(), ForgeError> {
        let mut state = self.lock();
        state.calls.push(format!("{operation} {args}"));
        match state
            .failures
            .get_mut(operation)
            .and_then(VecDeque::pop_front)
        {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

impl State {
    fn insert_commit(
        &mut self,
        parent: Option<String>,
        message: &str,
        files: BTreeMap<String, Vec<u8>>,
    ) -> String {
        self.counter += 1;
        let sha = fake_sha(&(self.counter, &parent, message, &files));
        let commit = MemoryCommit {
            sha: sha.clone(),
            parent,
            message: message.to_owned(),
            files,
        };
        self.commits.insert(sha.clone(), commit);
        sha
    }

    fn resolve(&self, rev: &str) -> Option<String> {
        if let Some(sha) = self.branches.get(rev).or_else(|| self.tags.get(rev)) {
            return Some(sha.clone());
        }
        self.commits.contains_key(rev).then(|| rev.to_owned())
    }

    fn is_ancestor(&self, sha: &str, of: &str) -> bool {
        let mut next = Some(of.to_owned());
        while let Some(current) = next {
            if current == sha {
                return true;
            }
            next = self.commits.get(&current).and_then(|c| c.parent.clone());
        }
        false
    }

    fn pr_mut(&mut self, number: u64) -> Result<&mut MemoryPr, ForgeError> {
        self.prs
            .iter_mut()
            .find(|p| p.pr.number == number)
            .ok_or_else(|| ForgeError::NotFound {
                what: format!("pull request #{number}"),
            })
    }
}

/// A 40-hex-digit id derived from `value`, stable within a process.
fn fake_sha(value: &impl Hash) -> String {
    let mut parts = [0u64; 3];
    for (seed, part) in parts.iter_mut().enumerate() {
        let mut hasher = DefaultHasher::new();
        seed.hash(&mut hasher);
        value.hash(&mut hasher);
        *part = hasher.finish();
    }
    let text = format!("{:016x}{:016x}{:016x}", parts[0], parts[1], parts[2]);
    text[..40].to_owned()
}

fn not_found(what: impl Into<String>) -> ForgeError {
    ForgeError::NotFound { what: what.into() }
}

impl Forge for MemoryForge {
    fn list_statuses(&self, sha: &str) -> Result<Vec<CommitStatus>, ForgeError> {
        self.enter("list_statuses", sha.to_owned())?;
        Ok(self.lock().statuses.get(sha).cloned().unwrap_or_default())
    }

    fn list_check_runs(&self, sha: &str) -> Result<Vec<CommitStatus>, ForgeError> {
        self.enter("list_check_runs", sha.to_owned())?;
        Ok(self.lock().check_runs.get(sha).cloned().unwrap_or_default())
    }

    fn recent_commits(&self, rev: &str, limit: usize) -> Result<Vec<CommitSummary>, ForgeError> {
        self.enter("recent_commits", format!("{rev} {limit}"))?;
        let state = self.lock();
        let mut next = state.resolve(rev);
        let mut out = Vec::new();
        while let Some(sha) = next {
            if out.len() >= limit {
                break;
            }
            let Some(commit) = state.commits.get(&sha) else {
                break;
            };
            out.push(CommitSummary {
                sha: sha.clone(),
                message: commit.message.clone(),
                parents: commit.parent.iter().cloned().collect(),
            });
            next = commit.parent.clone();
        }
        Ok(out)
    }

    fn is_ancestor(&self, ancestor: &str, descendant: &str) -> Result<bool, ForgeError> {
        self.enter("is_ancestor", format!("{ancestor} {descendant}"))?;
        Ok(self.lock().is_ancestor(ancestor, descendant))
    }

    fn branch_head(&self, branch: &str) -> Result<String, ForgeError> {
        self.enter("branch_head", branch.to_owned())?;
        self.head(branch)
            .ok_or_else(|| not_found(format!("branch `{branch}`")))
    }

    fn read_file(&self, path: &str, rev: &str) -> Result<Option<Vec<u8>>, ForgeError> {
        self.enter("read_file", format!("{path}@{rev}"))?;
        let state = self.lock();
        let sha = state
            .resolve(rev)
            .ok_or_else(|| not_found(format!("ref `{rev}`")))?;
        Ok(state
            .commits
            .get(&sha)
            .and_then(|c| c.files.get(path).cloned()))
    }

    fn list_tree(&self, rev: &str) -> Result<Vec<String>, ForgeError> {
        self.enter("list_tree", rev.to_owned())?;
        let state = self.lock();
        let sha = state
            .resolve(rev)
            .ok_or_else(|| not_found(format!("ref `{rev}`")))?;
        Ok(state
            .commits
            .get(&sha)
            .map(|c| c.files.keys().cloned().collect())
            .unwrap_or_default())
    }

    fn is_on_branch(&self, sha: &str, branch: &str) -> Result<bool, ForgeError> {
        self.enter("is_on_branch", format!("{sha} {branch}"))?;
        let state = self.lock();
        let head = state
            .branches
            .get(branch)
            .ok_or_else(|| not_found(format!("branch `{branch}`")))?;
        Ok(state.is_ancestor(sha, head))
    }

    fn create_commit(
        &self,
        branch: &str,
        expected_head: &str,
        message: &str,
        changes: &[FileChange],
    ) -> Result<String, ForgeError> {
        let hook = self.lock().before_commit.take();
        if let Some(hook) = hook {
            hook();
        }
        self.enter("create_commit", format!("{branch} {expected_head}"))?;
        let mut state = self.lock();
        let head = state
            .branches
            .get(branch)
            .cloned()
            .ok_or_else(|| not_found(format!("branch `{branch}`")))?;
        if head != expected_head {
            return Err(ForgeError::Conflict {
                what: format!("branch `{branch}` moved to {head}, expected {expected_head}"),
            });
        }
        let mut files = state
            .commits
            .get(&head)
            .map(|c| c.files.clone())
            .unwrap_or_default();
        for change in changes {
            match &change.contents {
                Some(bytes) => files.insert(change.path.clone(), bytes.clone()),
                None => files.remove(&change.path),
            };
        }
        let sha = state.insert_commit(Some(head), message, files);
        state.branches.insert(branch.to_owned(), sha.clone());
        match state.lose_commit_answer.take() {
            Some(error) => Err(error),
            None => Ok(sha),
        }
    }

    fn set_branch(&self, branch: &str, sha: &str, force: bool) -> Result<(), ForgeError> {
        self.enter("set_branch", format!("{branch} {sha} force={force}"))?;
        let mut state = self.lock();
        if !state.commits.contains_key(sha) {
            return Err(not_found(format!("commit {sha}")));
        }
        if let Some(head) = state.branches.get(branch)
            && !force
            && !state.is_ancestor(head, sha)
        {
            return Err(ForgeError::Conflict {
                what: format!("moving `{branch}` to {sha} is not a fast forward"),
            });
        }
        state.branches.insert(branch.to_owned(), sha.to_owned());
        Ok(())
    }

    fn list_open_prs(&self, base: &str) -> Result<Vec<PullRequest>, ForgeError> {
        self.enter("list_open_prs", base.to_owned())?;
        let state = self.lock();
        Ok(state
            .prs
            .iter()
            .filter(|p| p.state == PrState::Open && p.pr.base == base)
            .map(|p| p.pr.clone())
            .collect())
    }

    fn create_pr(&self, spec: &PullRequestSpec) -> Result<PullRequest, ForgeError> {
        self.enter("create_pr", format!("{} {}", spec.head, spec.base))?;
        let mut state = self.lock();
        for branch in [&spec.head, &spec.base] {
            if !state.branches.contains_key(branch.as_str()) {
                return Err(not_found(format!("branch `{branch}`")));
            }
        }
        let duplicate = state
            .prs
            .iter()
            .any(|p| p.state == PrState::Open && p.pr.head == spec.head && p.pr.base == spec.base);
        if duplicate {
            return Err(ForgeError::Conflict {
                what: format!("a pull request already exists for {}", spec.head),
            });
        }
        let number = state.prs.len() as u64 + 1;
        let pr = PullRequest {
            number,
            url: format!("https://github.test/o/r/pull/{number}"),
            head: spec.head.clone(),
            base: spec.base.clone(),
            title: spec.title.clone(),
            body: spec.body.clone(),
            node_id: Some(format!("PR_{number}")),
        };
        state.prs.push(MemoryPr {
            pr: pr.clone(),
            state: PrState::Open,
            labels: spec.labels.clone(),
            auto_merge: false,
            merge_method: None,
        });
        Ok(pr)
    }

    fn update_pr(&self, number: u64, spec: &PullRequestSpec) -> Result<PullRequest, ForgeError> {
        self.enter("update_pr", format!("#{number}"))?;
        let mut state = self.lock();
        let record = state.pr_mut(number)?;
        record.pr.title = spec.title.clone();
        record.pr.body = spec.body.clone();
        record.pr.base = spec.base.clone();
        for label in &spec.labels {
            if !record.labels.contains(label) {
                record.labels.push(label.clone());
            }
        }
        Ok(record.pr.clone())
    }

    fn close_pr(&self, number: u64, comment: Option<&str>) -> Result<(), ForgeError> {
        self.enter("close_pr", format!("#{number}"))?;
        let mut state = self.lock();
        state.pr_mut(number)?.state = PrState::Closed;
        if let Some(body) = comment {
            state.comments.push((number, body.to_owned()));
        }
        Ok(())
    }

    fn enable_auto_merge(&self, pr: &PullRequest) -> Result<(), ForgeError> {
        self.enter("enable_auto_merge", format!("#{}", pr.number))?;
        self.lock().pr_mut(pr.number)?.auto_merge = true;
        Ok(())
    }

    fn merge_pr(&self, number: u64) -> Result<String, ForgeError> {
        self.enter("merge_pr", format!("#{number}"))?;
        let mut state = self.lock();
        let record = state.pr_mut(number)?.clone();
        if record.state != PrState::Open {
            return Err(ForgeError::Conflict {
                what: format!("pull request #{number} is not open"),
            });
        }
        let head = state.branches.get(&record.pr.head).cloned();
        let base = state.branches.get(&record.pr.base).cloned();
        let (Some(head), Some(base)) = (head, base) else {
            return Err(not_found(format!("branches of pull request #{number}")));
        };
        let files = state.commits.get(&head).map(|c| c.files.clone());
        let message = format!("{} (#{number})", record.pr.title);
        let sha = state.insert_commit(Some(base), &message, files.unwrap_or_default());
        state.branches.insert(record.pr.base.clone(), sha.clone());
        state.pr_mut(number)?.state = PrState::Merged;
        Ok(sha)
    }

    fn create_tag(&self, name: &str, sha: &str) -> Result<TagOutcome, ForgeError> {
        self.enter("create_tag", format!("{name} {sha}"))?;
        let mut state = self.lock();
        match state.tags.get(name) {
            Some(existing) if existing == sha => Ok(TagOutcome::Exists),
            Some(existing) => Err(ForgeError::Conflict {
                what: format!("tag `{name}` already points at {existing}, not {sha}"),
            }),
            None if !state.commits.contains_key(sha) => Err(not_found(format!("commit {sha}"))),
            None => {
                state.tags.insert(name.to_owned(), sha.to_owned());
                Ok(TagOutcome::Created)
            }
        }
    }

    fn comment(&self, number: u64, body: &str) -> Result<(), ForgeError> {
        self.enter("comment", format!("#{number}"))?;
        let mut state = self.lock();
        state.pr_mut(number)?;
        state.comments.push((number, body.to_owned()));
        Ok(())
    }

    fn merge_methods(&self) -> Result<Vec<MergeMethod>, ForgeError> {
        self.enter("merge_methods", String::new())?;
        Ok(self.lock().allowed())
    }

    fn enable_auto_merge_as(
        &self,
        pr: &PullRequest,
        method: MergeMethod,
    ) -> Result<(), ForgeError> {
        self.enter(
            "enable_auto_merge_as",
            format!("#{} {}", pr.number, method.rest()),
        )?;
        let mut state = self.lock();
        state.check_method(method)?;
        let record = state.pr_mut(pr.number)?;
        record.auto_merge = true;
        record.merge_method = Some(method);
        Ok(())
    }

    fn merge_pr_as(&self, number: u64, method: MergeMethod) -> Result<String, ForgeError> {
        self.lock().check_method(method)?;
        self.merge_pr(number)
    }
}

impl State {
    fn allowed(&self) -> Vec<MergeMethod> {
        self.merge_methods
            .clone()
            .unwrap_or_else(|| vec![MergeMethod::Merge, MergeMethod::Squash, MergeMethod::Rebase])
    }

    fn check_method(&self, method: MergeMethod) -> Result<(), ForgeError> {
        if self.allowed().contains(&method) {
            Ok(())
        } else {
            Err(ForgeError::Other(format!(
                "merge method `{}` is not allowed on this repository",
                method.rest()
            )))
        }
    }
}
