//! A small stateful fake of GitHub's REST and GraphQL APIs on 127.0.0.1, for contract tests of
//! `GitHubForge` and end-to-end runs of the binary (`GITHUB_API_URL=fake.url()`).
//!
//! It serves one repository (any `/repos/{owner}/{name}` is accepted), optionally under the
//! GitHub Enterprise prefix `/api/v3` (GraphQL at `/graphql` or `/api/graphql`). It records every
//! request, answers in GitHub's real response shapes, and can inject failures.

#![allow(dead_code, clippy::unwrap_used)]

mod graphql;
mod routes;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};

/// One request as the fake saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    /// The JSON body, `Null` when there was none.
    pub body: Value,
    /// The `Authorization` header.
    pub authorization: Option<String>,
}

#[derive(Debug, Clone)]
pub struct FakeCommit {
    pub sha: String,
    pub parent: Option<String>,
    pub message: String,
    pub files: BTreeMap<String, Vec<u8>>,
    /// Creation order (1, 2, ...): the commit's date in the REST shape.
    pub seq: u64,
}

#[derive(Debug, Clone)]
pub struct FakePull {
    pub number: u64,
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub state: String,
    pub merged: bool,
    pub labels: Vec<String>,
    pub auto_merge: bool,
    /// The method auto-merge was enabled with (`MERGE`, `SQUASH`, `REBASE`).
    pub auto_merge_method: Option<String>,
    /// How it was merged (`merge`, `squash`, `rebase`).
    pub merged_with: Option<String>,
    /// `full_name` of the head repository (a fork's differs).
    pub head_repo: String,
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
    /// Only requests whose GraphQL query contains this (`createCommitOnBranch`).
    pub query_contains: Option<String>,
}

#[derive(Default)]
pub struct State {
    pub repository: String,
    pub commits: HashMap<String, FakeCommit>,
    /// `heads/main`, `tags/v1` -> sha.
    pub refs: BTreeMap<String, String>,
    /// Per sha, newest first, in the REST shape.
    pub statuses: HashMap<String, Vec<Value>>,
    /// Per sha, newest first, every run (`filter=all`) in the REST shape.
    pub check_runs: HashMap<String, Vec<Value>>,
    pub pulls: Vec<FakePull>,
    pub comments: Vec<(u64, String)>,
    pub requests: Vec<Recorded>,
    pub failures: VecDeque<Failure>,
    /// `enablePullRequestAutoMerge` answers "clean status" (no required checks).
    pub clean_status: bool,
    /// Trees an answer named: tree sha -> (commit, folder ending in `/`).
    pub trees: HashMap<String, (String, String)>,
    /// Recursive tree answers with more entries are cut to this many and `truncated`.
    pub tree_limit: Option<usize>,
    /// Merge methods the repository refuses (`merge`, `squash`, `rebase`); empty: all allowed.
    pub refused_methods: Vec<String>,
    /// GraphQL `Blob.text` longer than this is cut and `isTruncated` (GitHub's limit is not
    /// documented); `None`: never.
    pub blob_text_limit: Option<usize>,
    /// Contexts per page of `statusCheckRollup.contexts` (default: the 100 asked for).
    pub rollup_page: Option<usize>,
    /// `(k, status)`: a GraphQL read of more than `k` files fails as GitHub ends a query that
    /// takes too long: `502` with nginx's page, `504`, or `200` with GitHub's "may be the result
    /// of a timeout" error.
    pub read_failure: Option<(usize, u16)>,
    counter: u64,
}

impl State {
    pub fn new_commit(
        &mut self,
        parent: Option<String>,
        message: &str,
        files: BTreeMap<String, Vec<u8>>,
    ) -> String {
        self.counter += 1;
        let mut sha = String::new();
        for seed in 0..3u8 {
            let mut h = DefaultHasher::new();
            (seed, self.counter, &parent, message).hash(&mut h);
            sha.push_str(&format!("{:016x}", h.finish()));
        }
        sha.truncate(40);
        let commit = FakeCommit {
            sha: sha.clone(),
            parent,
            message: message.to_owned(),
            files,
            seq: self.counter,
        };
        self.commits.insert(sha.clone(), commit);
        sha
    }

    pub fn resolve(&self, rev: &str) -> Option<String> {
        for prefix in ["heads/", "tags/"] {
            if let Some(sha) = self.refs.get(&format!("{prefix}{rev}")) {
                return Some(sha.clone());
            }
        }
        self.commits.contains_key(rev).then(|| rev.to_owned())
    }

    pub fn is_ancestor(&self, sha: &str, of: &str) -> bool {
        let mut next = Some(of.to_owned());
        while let Some(current) = next {
            if current == sha {
                return true;
            }
            next = self.commits.get(&current).and_then(|c| c.parent.clone());
        }
        false
    }
}

/// The running fake; stops when dropped.
pub struct FakeGitHub {
    url: String,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeGitHub {
    /// Start a fake serving `repository` (`owner/name`) on a random port.
    pub fn start(repository: &str) -> FakeGitHub {
        let state = Arc::new(Mutex::new(State {
            repository: repository.to_owned(),
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
        FakeGitHub {
            url: format!("http://127.0.0.1:{port}"),
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The REST base, for `GITHUB_API_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Commit `files` on `branch` (created if missing); returns the new head.
    pub fn commit_files(&self, branch: &str, message: &str, files: &[(&str, &str)]) -> String {
        let mut state = self.state();
        let parent = state.refs.get(&format!("heads/{branch}")).cloned();
        let mut tree = parent
            .as_ref()
            .map(|p| state.commits[p].files.clone())
            .unwrap_or_default();
        for (path, contents) in files {
            tree.insert((*path).to_owned(), contents.as_bytes().to_vec());
        }
        let sha = state.new_commit(parent, message, tree);
        state.refs.insert(format!("heads/{branch}"), sha.clone());
        sha
    }

    /// Add a status in the REST shape (newest first).
    pub fn add_status(&self, sha: &str, context: &str, state: &str, creator: &str) {
        let mut guard = self.state();
        let id = guard.statuses.values().map(Vec::len).sum::<usize>() + 1;
        let status = json!({
            "url": format!("{}/repos/{}/statuses/{sha}", self.url, guard.repository),
            "id": id, "node_id": format!("SC_{id}"), "state": state,
            "description": format!("{context} {state}"), "target_url": null,
            "context": context, "created_at": "2024-05-01T10:00:00Z",
            "updated_at": "2024-05-01T10:00:00Z",
            "creator": { "login": creator, "id": 1, "type": "Bot" },
        });
        guard
            .statuses
            .entry(sha.to_owned())
            .or_default()
            .insert(0, status);
    }

    /// Add a check run in the REST shape (newest first). `status` is `queued`, `in_progress` or
    /// `completed`; a newer run with the same name hides the older one under `filter=latest`.
    pub fn add_check_run(
        &self,
        sha: &str,
        name: &str,
        status: &str,
        conclusion: Option<&str>,
        app_slug: &str,
    ) {
        let mut guard = self.state();
        let id = guard.check_runs.values().map(Vec::len).sum::<usize>() + 1;
        let repo = guard.repository.clone();
        let time = |offset: usize| {
            let t = id * 2 + offset;
            format!(
                "2024-05-01T{:02}:{:02}:{:02}Z",
                10 + t / 3600,
                t / 60 % 60,
                t % 60
            )
        };
        let completed = status == "completed";
        let run = json!({
            "id": id, "node_id": format!("CR_{id}"), "name": name, "head_sha": sha,
            "external_id": "", "url": format!("{}/repos/{repo}/check-runs/{id}", self.url),
            "html_url": format!("https://github.test/{repo}/runs/{id}"),
            "details_url": format!("https://ci.example.test/{app_slug}/{id}"),
            "status": status, "conclusion": conclusion,
            "started_at": time(0),
            "completed_at": if completed { json!(time(1)) } else { Value::Null },
            "output": {
                "title": format!("{name} {}", conclusion.unwrap_or(status)),
                "summary": format!("{name} summary"), "text": null,
                "annotations_count": 0,
                "annotations_url": format!("{}/repos/{repo}/check-runs/{id}/annotations", self.url),
            },
            "check_suite": { "id": 5000 + id },
            "app": {
                "id": 15368, "slug": app_slug, "node_id": format!("A_{app_slug}"),
                "name": app_slug, "owner": { "login": "acme", "id": 1, "type": "Organization" },
            },
            "pull_requests": [],
        });
        guard
            .check_runs
            .entry(sha.to_owned())
            .or_default()
            .insert(0, run);
    }

    /// Open a pull request directly (as if someone else did).
    pub fn open_pull(&self, head: &str, base: &str, title: &str, head_repo: Option<&str>) -> u64 {
        let mut state = self.state();
        let number = state.pulls.len() as u64 + 1;
        let head_repo = head_repo.map_or_else(|| state.repository.clone(), str::to_owned);
        state.pulls.push(FakePull {
            number,
            head: head.into(),
            base: base.into(),
            title: title.into(),
            body: String::new(),
            state: "open".into(),
            merged: false,
            labels: Vec::new(),
            auto_merge: false,
            auto_merge_method: None,
            merged_with: None,
            head_repo,
        });
        number
    }

    /// Allow only squash merges, as a repository with "Allow merge commits" and "Allow rebase
    /// merging" off does.
    pub fn squash_only(&self) {
        self.state().refused_methods = vec!["merge".into(), "rebase".into()];
    }

    /// Merge pull request `number` as GitHub's merge button would with `method`.
    pub fn merge(&self, number: u64, method: &str) -> String {
        let mut state = self.state();
        let reply = routes::merge_pull(&mut state, &number.to_string(), method);
        assert_eq!(reply.status, 200, "merge #{number}");
        state.refs[&format!("heads/{}", state.pulls[number as usize - 1].base)].clone()
    }

    /// Answer the next `times` requests matching `method` and `path_contains` with `status`.
    pub fn fail(&self, method: &str, path_contains: &str, status: u16, body: Value, times: usize) {
        self.fail_with_headers(method, path_contains, status, body, &[], times);
    }

    pub fn fail_with_headers(
        &self,
        method: &str,
        path_contains: &str,
        status: u16,
        body: Value,
        headers: &[(&str, &str)],
        times: usize,
    ) {
        self.state().failures.push_back(Failure {
            method: method.into(),
            path_contains: path_contains.into(),
            status,
            body,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            times,
            after_effect: false,
            query_contains: None,
        });
    }

    /// Answer the next `times` GraphQL requests whose query contains `query_contains` with
    /// `status` and `body`.
    pub fn fail_graphql(&self, query_contains: &str, status: u16, body: Value, times: usize) {
        self.state().failures.push_back(Failure {
            method: "POST".into(),
            path_contains: "/graphql".into(),
            status,
            body,
            headers: Vec::new(),
            times,
            after_effect: false,
            query_contains: Some(query_contains.into()),
        });
    }

    /// Carry out the next matching request, then answer `status` as if the answer got lost.
    pub fn fail_after_effect(&self, method: &str, path_contains: &str, status: u16) {
        self.state().failures.push_back(Failure {
            method: method.into(),
            path_contains: path_contains.into(),
            status,
            body: json!({ "message": "Server Error" }),
            headers: Vec::new(),
            times: 1,
            after_effect: true,
            query_contains: None,
        });
    }

    /// Carry out the next GraphQL request whose query contains `query_contains`, then answer
    /// `status` as if the answer got lost.
    pub fn fail_graphql_after_effect(&self, query_contains: &str, status: u16) {
        self.state().failures.push_back(Failure {
            method: "POST".into(),
            path_contains: "/graphql".into(),
            status,
            body: json!({ "message": "Server Error" }),
            headers: Vec::new(),
            times: 1,
            after_effect: true,
            query_contains: Some(query_contains.into()),
        });
    }

    /// GraphQL requests so far whose query contains `text`.
    pub fn graphql_requests(&self, text: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.body["query"].as_str().is_some_and(|q| q.contains(text)))
            .collect()
    }

    pub fn head(&self, branch: &str) -> Option<String> {
        self.state().refs.get(&format!("heads/{branch}")).cloned()
    }

    pub fn tag(&self, name: &str) -> Option<String> {
        self.state().refs.get(&format!("tags/{name}")).cloned()
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

    pub fn pulls(&self) -> Vec<FakePull> {
        self.state().pulls.clone()
    }

    pub fn comments(&self) -> Vec<(u64, String)> {
        self.state().comments.clone()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    /// Requests so far as `METHOD path` lines.
    pub fn request_lines(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    pub fn clear_requests(&self) {
        self.state().requests.clear();
    }

    /// `GET path` (with its query) answered as a request would be, but not recorded: the
    /// status, the JSON body and the `link` header, if any.
    pub fn get(&self, path: &str) -> (u16, Value, Option<String>) {
        let (status, body, headers) = routes::get(&mut self.state(), path);
        let link = headers
            .into_iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("link"))
            .map(|(_, value)| value);
        (status, body, link)
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send(()).ok();
        }
        if let Some(thread) = self.thread.take() {
            thread.join().ok();
        }
    }
}
