//! A small stateful fake of GitLab's REST API v4 on 127.0.0.1, for contract tests of
//! `GitLabForge` and end-to-end runs of the binary (`CI_API_V4_URL=fake.api_url()`).
//!
//! It serves one project, by its numeric id or its URL-encoded path, under `/api/v4`. It
//! records every request (with its `PRIVATE-TOKEN` / `JOB-TOKEN`), answers in GitLab's
//! response shapes, refuses writes with a job token as GitLab does, paginates with `Link`
//! headers, and can inject failures and races.

#![allow(dead_code, clippy::unwrap_used)]

mod routes;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};

/// One request as the fake saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent (percent-encoded).
    pub path: String,
    /// The JSON body, `Null` when there was none.
    pub body: Value,
    pub private_token: Option<String>,
    pub job_token: Option<String>,
    pub authorization: Option<String>,
}

#[derive(Debug, Clone)]
pub struct FakeCommit {
    pub sha: String,
    /// First parent first.
    pub parents: Vec<String>,
    pub message: String,
    pub files: BTreeMap<String, Vec<u8>>,
    pub seq: u64,
}

#[derive(Debug, Clone)]
pub struct FakeMr {
    pub iid: u64,
    pub source: String,
    pub target: String,
    pub title: String,
    pub description: String,
    /// `opened`, `closed`, `merged`.
    pub state: String,
    pub labels: Vec<String>,
    /// "Merge when pipeline succeeds" is set.
    pub auto_merge: bool,
    /// How it was merged: `squash`, `merge`.
    pub merged_with: Option<String>,
    pub source_project_id: u64,
}

/// A canned failure for requests matching `method` and a path fragment.
#[derive(Debug, Clone)]
pub struct Failure {
    pub method: String,
    pub path_contains: String,
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(String, String)>,
    pub times: usize,
    /// Carry the request out first, then answer with the failure (a lost answer).
    pub after_effect: bool,
}

#[derive(Default)]
pub struct State {
    pub project_id: u64,
    pub project_path: String,
    pub commits: HashMap<String, FakeCommit>,
    pub branches: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    /// Per sha, oldest first, in GitLab's shape (statuses and jobs alike).
    pub statuses: HashMap<String, Vec<Value>>,
    pub mrs: Vec<FakeMr>,
    pub notes: Vec<(u64, String)>,
    pub requests: Vec<Recorded>,
    pub failures: VecDeque<Failure>,
    /// Commits someone else lands on a branch right before the next commit call to it.
    pub races: VecDeque<(String, Vec<(String, String)>)>,
    /// The project's `merge_method` (`merge`, `rebase_merge`, `ff`) and `squash_option`.
    pub merge_method: String,
    pub squash_option: String,
    /// A pipeline is running on merge requests: "merge when pipeline succeeds" waits.
    pub pipeline_running: bool,
    /// Largest page the fake serves, whatever `per_page` asks (GitLab's is 100).
    pub max_per_page: usize,
    /// Tokens the fake accepts (`PRIVATE-TOKEN`, `JOB-TOKEN`); a job token may only read.
    pub private_tokens: HashSet<String>,
    pub job_tokens: HashSet<String>,
    /// The `Host` of the request being answered (for `Link` pages).
    pub host: String,
    counter: u64,
    next_status_id: u64,
}

impl State {
    pub fn new_commit(
        &mut self,
        parents: Vec<String>,
        message: &str,
        files: BTreeMap<String, Vec<u8>>,
    ) -> String {
        self.counter += 1;
        let mut sha = String::new();
        for seed in 0..3u8 {
            let mut h = DefaultHasher::new();
            (seed, self.counter, &parents, message, "gitlab").hash(&mut h);
            sha.push_str(&format!("{:016x}", h.finish()));
        }
        sha.truncate(40);
        self.commits.insert(
            sha.clone(),
            FakeCommit {
                sha: sha.clone(),
                parents,
                message: message.to_owned(),
                files,
                seq: self.counter,
            },
        );
        sha
    }

    /// A branch, a tag or a sha.
    pub fn resolve(&self, rev: &str) -> Option<String> {
        if let Some(sha) = self.branches.get(rev).or_else(|| self.tags.get(rev)) {
            return Some(sha.clone());
        }
        self.commits.contains_key(rev).then(|| rev.to_owned())
    }

    /// Every commit reachable from `sha`, itself included.
    pub fn ancestors(&self, sha: &str) -> HashSet<String> {
        let mut seen = HashSet::new();
        let mut stack = vec![sha.to_owned()];
        while let Some(c) = stack.pop() {
            if seen.insert(c.clone())
                && let Some(commit) = self.commits.get(&c)
            {
                stack.extend(commit.parents.iter().cloned());
            }
        }
        seen
    }

    /// History from `sha`, newest first (by creation order).
    pub fn history(&self, sha: &str) -> Vec<FakeCommit> {
        let mut list: Vec<FakeCommit> = self
            .ancestors(sha)
            .iter()
            .filter_map(|c| self.commits.get(c).cloned())
            .collect();
        list.sort_by_key(|c| std::cmp::Reverse(c.seq));
        list
    }

    /// The newest commit reachable from `sha` that changed `path` (as `git log -1 -- path`).
    pub fn last_commit_for(&self, sha: &str, path: &str) -> Option<String> {
        self.history(sha)
            .into_iter()
            .find(|c| {
                let mine = c.files.get(path);
                match c.parents.first().and_then(|p| self.commits.get(p)) {
                    Some(parent) => parent.files.get(path) != mine,
                    None => mine.is_some(),
                }
            })
            .map(|c| c.sha)
    }

    /// Land `files` (path, text) on `branch` as someone else.
    pub fn land(&mut self, branch: &str, message: &str, files: &[(String, String)]) -> String {
        let parent = self.branches.get(branch).cloned();
        let mut tree = parent
            .as_ref()
            .map(|p| self.commits[p].files.clone())
            .unwrap_or_default();
        for (path, text) in files {
            tree.insert(path.clone(), text.as_bytes().to_vec());
        }
        let sha = self.new_commit(parent.into_iter().collect(), message, tree);
        self.branches.insert(branch.to_owned(), sha.clone());
        sha
    }
}

/// The running fake; stops when dropped.
pub struct FakeGitLab {
    url: String,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub const PROJECT_ID: u64 = 42;
pub const PRIVATE_TOKEN: &str = "glpat-FAKEtoken0123456789RECOGNIZABLE";
pub const JOB_TOKEN: &str = "glcbt-FAKEjobtoken0123456789";

impl FakeGitLab {
    /// Start a fake serving project `path` (`group/name`, id [`PROJECT_ID`]).
    pub fn start(path: &str) -> FakeGitLab {
        let state = Arc::new(Mutex::new(State {
            project_id: PROJECT_ID,
            project_path: path.to_owned(),
            merge_method: "merge".into(),
            squash_option: "default_off".into(),
            max_per_page: 100,
            private_tokens: HashSet::from([PRIVATE_TOKEN.to_owned()]),
            job_tokens: HashSet::from([JOB_TOKEN.to_owned()]),
            ..State::default()
        }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let app_state = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                port_tx.send(listener.local_addr().unwrap().port()).unwrap();
                let app = axum::Router::new()
                    .fallback(routes::handle)
                    .with_state(app_state);
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        stopped.await.ok();
                    })
                    .await
                    .unwrap();
            });
        });
        let port = port_rx.recv().unwrap();
        FakeGitLab {
            url: format!("http://127.0.0.1:{port}"),
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`: the instance's web root.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The REST base, for `CI_API_V4_URL`.
    pub fn api_url(&self) -> String {
        format!("{}/api/v4", self.url)
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Commit `files` on `branch` (created if missing); returns the new head.
    pub fn commit_files(&self, branch: &str, message: &str, files: &[(&str, &str)]) -> String {
        let files: Vec<(String, String)> = files
            .iter()
            .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
            .collect();
        self.state().land(branch, message, &files)
    }

    /// Before the next commit call to `branch`, someone else lands `files` there.
    pub fn race_on(&self, branch: &str, files: &[(&str, &str)]) {
        self.state().races.push_back((
            branch.to_owned(),
            files
                .iter()
                .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
                .collect(),
        ));
    }

    /// A commit status as Argo CD notifications or Flux's `gitlab` provider post it (or a job,
    /// `author` being the job's user), in GitLab's shape.
    pub fn add_status(&self, sha: &str, name: &str, status: &str, author: &str) {
        let mut state = self.state();
        state.next_status_id += 1;
        let id = state.next_status_id;
        let value = json!({
            "id": id, "sha": sha, "ref": "", "status": status, "name": name,
            "target_url": null, "description": format!("{name} {status}"),
            "created_at": format!("2026-01-16T10:00:{:02}.000Z", id % 60),
            "started_at": null,
            "finished_at": format!("2026-01-16T10:01:{:02}.000Z", id % 60),
            "allow_failure": false, "coverage": null, "pipeline_id": 900 + id,
            "author": { "id": 7, "username": author, "name": author, "state": "active",
                        "web_url": format!("https://gitlab.test/{author}") },
        });
        state
            .statuses
            .entry(sha.to_owned())
            .or_default()
            .push(value);
    }

    /// Open a merge request directly (as if someone else did).
    pub fn open_mr(&self, source: &str, target: &str, title: &str, fork: bool) -> u64 {
        let mut state = self.state();
        let iid = state.mrs.len() as u64 + 1;
        let source_project_id = if fork { 99 } else { state.project_id };
        state.mrs.push(FakeMr {
            iid,
            source: source.into(),
            target: target.into(),
            title: title.into(),
            description: String::new(),
            state: "opened".into(),
            labels: Vec::new(),
            auto_merge: false,
            merged_with: None,
            source_project_id,
        });
        iid
    }

    /// Merge `iid` as GitLab's merge button would (`squash` or a merge commit).
    pub fn merge(&self, iid: u64, squash: bool) -> String {
        let mut state = self.state();
        routes::merge_mr(&mut state, iid, squash).unwrap()
    }

    /// Answer the next `times` requests matching `method` and `path_contains` with `status`.
    pub fn fail(&self, method: &str, path_contains: &str, status: u16, body: Value, times: usize) {
        self.state().failures.push_back(Failure {
            method: method.into(),
            path_contains: path_contains.into(),
            status,
            body,
            headers: Vec::new(),
            times,
            after_effect: false,
        });
    }

    /// Carry out the next matching request, then answer `status` as if the answer got lost.
    pub fn fail_after_effect(&self, method: &str, path_contains: &str, status: u16) {
        self.state().failures.push_back(Failure {
            method: method.into(),
            path_contains: path_contains.into(),
            status,
            body: json!({ "message": "500 Internal Server Error" }),
            headers: Vec::new(),
            times: 1,
            after_effect: true,
        });
    }

    pub fn head(&self, branch: &str) -> Option<String> {
        self.state().branches.get(branch).cloned()
    }

    pub fn tag(&self, name: &str) -> Option<String> {
        self.state().tags.get(name).cloned()
    }

    /// A file at a branch, tag or sha.
    pub fn file(&self, rev: &str, path: &str) -> Option<String> {
        let state = self.state();
        let sha = state.resolve(rev)?;
        let bytes = state.commits[&sha].files.get(path)?;
        Some(String::from_utf8_lossy(bytes).into_owned())
    }

    pub fn commit(&self, sha: &str) -> Option<FakeCommit> {
        self.state().commits.get(sha).cloned()
    }

    pub fn mrs(&self) -> Vec<FakeMr> {
        self.state().mrs.clone()
    }

    pub fn open_mrs(&self) -> Vec<FakeMr> {
        self.mrs()
            .into_iter()
            .filter(|m| m.state == "opened")
            .collect()
    }

    pub fn notes(&self) -> Vec<(u64, String)> {
        self.state().notes.clone()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    /// Requests so far as `METHOD path` lines, the project prefix cut.
    pub fn request_lines(&self) -> Vec<String> {
        let prefix = format!("/api/v4/projects/{PROJECT_ID}");
        self.requests()
            .iter()
            .map(|r| {
                let path = r.path.strip_prefix(&prefix).unwrap_or(&r.path);
                format!("{} {path}", r.method)
            })
            .collect()
    }

    pub fn clear_requests(&self) {
        self.state().requests.clear();
    }
}

impl Drop for FakeGitLab {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send(()).ok();
        }
        if let Some(thread) = self.thread.take() {
            thread.join().ok();
        }
    }
}
