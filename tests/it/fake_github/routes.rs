//! Request handling of the fake: routing by method and path, GitHub's response shapes.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use super::{FakeCommit, FakePull, Recorded, State};

type Shared = Arc<Mutex<State>>;

pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) body: Vec<u8>,
    pub(super) headers: Vec<(String, String)>,
}

pub(super) fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        body: serde_json::to_vec(&body).unwrap(),
        headers: vec![("content-type".into(), "application/json".into())],
    }
}

fn not_found() -> Reply {
    reply(
        404,
        json!({ "message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404" }),
    )
}

fn unprocessable(message: &str) -> Reply {
    reply(
        422,
        json!({ "message": message, "documentation_url": "https://docs.github.com/rest", "status": "422" }),
    )
}

pub async fn handle(
    AxumState(shared): AxumState<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned();
    let raw = headers
        .get("accept")
        .is_some_and(|a| a.to_str().unwrap_or_default().contains("raw"));
    let mut state = shared.lock().unwrap_or_else(|e| e.into_inner());
    let authorization = headers
        .get("authorization")
        .and_then(|a| a.to_str().ok())
        .map(str::to_owned);
    state.requests.push(Recorded {
        method: method.to_string(),
        path: path.clone(),
        body: body.clone(),
        authorization,
    });
    let request = Request {
        method: method.as_str(),
        path: &path,
        body: &body,
        host: &host,
        raw,
    };
    let query = body["query"].as_str().unwrap_or_default().to_owned();
    let out = match injected(&mut state, method.as_str(), &path, &query) {
        Some((failure, true)) => {
            route(&mut state, &request);
            failure
        }
        Some((failure, false)) => failure,
        None => route(&mut state, &request),
    };
    let mut response = (StatusCode::from_u16(out.status).unwrap(), out.body).into_response();
    for (name, value) in out.headers {
        response.headers_mut().insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    response
}

fn injected(state: &mut State, method: &str, path: &str, query: &str) -> Option<(Reply, bool)> {
    let index = state.failures.iter().position(|f| {
        f.method == method
            && path.contains(&f.path_contains)
            && f.query_contains.as_ref().is_none_or(|q| query.contains(q))
    })?;
    let failure = &mut state.failures[index];
    failure.times -= 1;
    let mut out = reply(failure.status, failure.body.clone());
    out.headers.extend(failure.headers.iter().cloned());
    let after_effect = failure.after_effect;
    if failure.times == 0 {
        state.failures.remove(index);
    }
    Some((out, after_effect))
}

struct Request<'a> {
    method: &'a str,
    path: &'a str,
    body: &'a Value,
    host: &'a str,
    raw: bool,
}

/// A `GET` answered in-process, unrecorded: the status, the JSON body and the headers.
pub(super) fn get(state: &mut State, path: &str) -> (u16, Value, Vec<(String, String)>) {
    let req = Request {
        method: "GET",
        path,
        body: &Value::Null,
        host: "127.0.0.1",
        raw: false,
    };
    let out = route(state, &req);
    let body = serde_json::from_slice(&out.body).unwrap_or(Value::Null);
    (out.status, body, out.headers)
}

fn route(state: &mut State, req: &Request<'_>) -> Reply {
    let (path, query) = req.path.split_once('?').unwrap_or((req.path, ""));
    let path = path.strip_prefix("/api/v3").unwrap_or(path);
    if path == "/graphql" || path == "/api/graphql" {
        return super::graphql::graphql(state, req.body);
    }
    let Some(rest) = path.strip_prefix("/repos/") else {
        return not_found();
    };
    let mut parts = rest.splitn(3, '/');
    let (Some(_owner), Some(_name)) = (parts.next(), parts.next()) else {
        return not_found();
    };
    let rest = decode(parts.next().unwrap_or_default());
    let query = Query(query);
    let prefix = if req.path.starts_with("/api/v3") {
        "/api/v3"
    } else {
        ""
    };
    let base = format!("http://{}{prefix}/repos/{}", req.host, state.repository);
    match (req.method, rest.as_str()) {
        ("GET", "") => repository(state),
        ("GET", r) if commit_sub(r, "/statuses").is_some() => {
            let sha = commit_sub(r, "/statuses").unwrap_or_default();
            statuses(state, sha, &query, &base)
        }
        ("GET", r) if commit_sub(r, "/check-runs").is_some() => {
            let sha = commit_sub(r, "/check-runs").unwrap_or_default();
            check_runs(state, sha, &query, &base)
        }
        ("GET", "commits") => list_commits(state, &query, &base),
        ("GET", r) if r.starts_with("git/ref/") => get_ref(state, &r["git/ref/".len()..]),
        ("POST", "git/refs") => create_ref(state, req.body),
        ("PATCH", r) if r.starts_with("git/refs/") => {
            update_ref(state, &r["git/refs/".len()..], req.body)
        }
        ("GET", r) if r.starts_with("git/trees/") => {
            tree(state, &r["git/trees/".len()..], &query, &base)
        }
        ("GET", r) if r.starts_with("contents/") => {
            contents(state, &r["contents/".len()..], &query, req.raw)
        }
        ("GET", r) if r.starts_with("compare/") => compare(state, &r["compare/".len()..]),
        ("GET", "pulls") => list_pulls(state, &query, &base),
        ("POST", "pulls") => create_pull(state, req.body),
        ("PATCH", r) if r.starts_with("pulls/") => {
            update_pull(state, &r["pulls/".len()..], req.body)
        }
        ("PUT", r) if r.starts_with("pulls/") && r.ends_with("/merge") => merge_pull(
            state,
            &r["pulls/".len()..r.len() - "/merge".len()],
            req.body["merge_method"].as_str().unwrap_or("merge"),
        ),
        ("POST", r) if r.starts_with("issues/") && r.ends_with("/labels") => add_labels(
            state,
            &r["issues/".len()..r.len() - "/labels".len()],
            req.body,
        ),
        ("POST", r) if r.starts_with("issues/") && r.ends_with("/comments") => add_comment(
            state,
            &r["issues/".len()..r.len() - "/comments".len()],
            req.body,
        ),
        _ => not_found(),
    }
}

/// The `{sha}` of `commits/{sha}{suffix}` (`commits/` alone or `commits/{suffix}` is no match).
fn commit_sub<'a>(rest: &'a str, suffix: &str) -> Option<&'a str> {
    rest.strip_prefix("commits/")?.strip_suffix(suffix)
}

struct Query<'a>(&'a str);

impl Query<'_> {
    fn get(&self, key: &str) -> Option<String> {
        self.0.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == key).then(|| decode(v))
        })
    }
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn statuses(state: &State, sha: &str, query: &Query<'_>, base: &str) -> Reply {
    if !state.commits.contains_key(sha) {
        return not_found();
    }
    let per_page: usize = query
        .get("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30);
    let page: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let all = state.statuses.get(sha).cloned().unwrap_or_default();
    let items: Vec<Value> = all
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .cloned()
        .collect();
    let mut out = reply(200, Value::Array(items));
    if page * per_page < all.len() {
        let next = format!(
            "{base}/commits/{sha}/statuses?per_page={per_page}&page={}",
            page + 1
        );
        out.headers
            .push(("link".into(), format!("<{next}>; rel=\"next\"")));
    }
    out
}

/// `per_page` (default 30, at most 100) and `page` (from 1) of a list request.
fn paging(query: &Query<'_>) -> (usize, usize) {
    let per_page = query
        .get("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30usize)
        .clamp(1, 100);
    let page = query
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    (per_page, page)
}

/// `GET commits/{sha}/check-runs`: `{total_count, check_runs}`; `filter=latest` (the default)
/// keeps the newest run per name, `filter=all` every run.
fn check_runs(state: &State, sha: &str, query: &Query<'_>, base: &str) -> Reply {
    if !state.commits.contains_key(sha) {
        return not_found();
    }
    let filter = query.get("filter").unwrap_or_else(|| "latest".into());
    if filter != "latest" && filter != "all" {
        return unprocessable("Invalid value for filter");
    }
    let (per_page, page) = paging(query);
    let mut seen = std::collections::HashSet::new();
    let all: Vec<&Value> = state
        .check_runs
        .get(sha)
        .into_iter()
        .flatten()
        .filter(|run| filter == "all" || seen.insert(run["name"].as_str().unwrap_or_default()))
        .collect();
    let items: Vec<Value> = all
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|run| (*run).clone())
        .collect();
    let mut out = reply(
        200,
        json!({ "total_count": all.len(), "check_runs": items }),
    );
    if page * per_page < all.len() {
        let next = format!(
            "{base}/commits/{sha}/check-runs?filter={filter}&per_page={per_page}&page={}",
            page + 1
        );
        out.headers
            .push(("link".into(), format!("<{next}>; rel=\"next\"")));
    }
    out
}

/// `GET commits?sha=REV`: the history of `REV` (default `main`), newest first, following
/// parents.
fn list_commits(state: &State, query: &Query<'_>, base: &str) -> Reply {
    let rev = query.get("sha").unwrap_or_else(|| "main".into());
    let Some(start) = state.resolve(&rev) else {
        return reply(
            404,
            json!({ "message": format!("No commit found for SHA: {rev}"), "documentation_url": "https://docs.github.com/rest", "status": "404" }),
        );
    };
    let (per_page, page) = paging(query);
    let mut history = Vec::new();
    let mut next = Some(start);
    while let Some(sha) = next {
        next = state.commits[&sha].parent.clone();
        history.push(sha);
    }
    let items: Vec<Value> = history
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|sha| commit_json(state, &state.commits[sha], base))
        .collect();
    let mut out = reply(200, Value::Array(items));
    if page * per_page < history.len() {
        let next = format!(
            "{base}/commits?sha={}&per_page={per_page}&page={}",
            query
                .0
                .split('&')
                .find_map(|p| p.strip_prefix("sha="))
                .unwrap_or("main"),
            page + 1
        );
        out.headers
            .push(("link".into(), format!("<{next}>; rel=\"next\"")));
    }
    out
}

fn commit_json(state: &State, commit: &FakeCommit, base: &str) -> Value {
    let sha = &commit.sha;
    let repo = &state.repository;
    let date = format!(
        "2024-05-01T{:02}:{:02}:{:02}Z",
        10 + commit.seq / 3600,
        commit.seq / 60 % 60,
        commit.seq % 60
    );
    let person = json!({ "name": "dev", "email": "dev@example.com", "date": date });
    let parents: Vec<Value> = commit
        .parent
        .iter()
        .map(|p| {
            json!({ "sha": p, "url": format!("{base}/commits/{p}"),
                    "html_url": format!("https://github.test/{repo}/commit/{p}") })
        })
        .collect();
    json!({
        "sha": sha, "node_id": format!("C_{sha}"),
        "commit": {
            "author": person, "committer": person, "message": commit.message,
            "tree": { "sha": format!("{:0>40}", commit.seq), "url": format!("{base}/git/trees/{:0>40}", commit.seq) },
            "url": format!("{base}/git/commits/{sha}"), "comment_count": 0,
            "verification": { "verified": false, "reason": "unsigned", "signature": null, "payload": null },
        },
        "url": format!("{base}/commits/{sha}"),
        "html_url": format!("https://github.test/{repo}/commit/{sha}"),
        "comments_url": format!("{base}/commits/{sha}/comments"),
        "author": null, "committer": null, "parents": parents,
    })
}

fn ref_json(state: &State, name: &str, sha: &str) -> Value {
    json!({
        "ref": format!("refs/{name}"), "node_id": format!("REF_{name}"),
        "url": format!("https://api.github.test/repos/{}/git/refs/{name}", state.repository),
        "object": { "sha": sha, "type": "commit", "url": format!("https://api.github.test/repos/{}/git/commits/{sha}", state.repository) },
    })
}

fn get_ref(state: &State, name: &str) -> Reply {
    match state.refs.get(name) {
        Some(sha) => reply(200, ref_json(state, name, sha)),
        None => not_found(),
    }
}

fn create_ref(state: &mut State, body: &Value) -> Reply {
    let name = body["ref"].as_str().unwrap_or_default();
    let sha = body["sha"].as_str().unwrap_or_default();
    let Some(name) = name.strip_prefix("refs/") else {
        return unprocessable("Reference name is invalid");
    };
    // git's rules, as GitHub applies them (`git check-ref-format`), the common cases.
    let invalid = name.contains(':')
        || name.contains("..")
        || name.contains("@{")
        || name
            .chars()
            .any(|c| c.is_control() || " ~^?*[\\".contains(c))
        || name.ends_with('/')
        || name.ends_with('.')
        || name
            .split('/')
            .any(|p| p.starts_with('.') || p.ends_with(".lock"));
    if invalid {
        return unprocessable("Reference name is invalid");
    }
    if state.refs.contains_key(name) {
        return unprocessable("Reference already exists");
    }
    if !state.commits.contains_key(sha) {
        return unprocessable("Object does not exist");
    }
    state.refs.insert(name.to_owned(), sha.to_owned());
    reply(201, ref_json(state, name, sha))
}

fn update_ref(state: &mut State, name: &str, body: &Value) -> Reply {
    let sha = body["sha"].as_str().unwrap_or_default().to_owned();
    let force = body["force"].as_bool().unwrap_or(false);
    let Some(current) = state.refs.get(name).cloned() else {
        return unprocessable("Reference does not exist");
    };
    if !state.commits.contains_key(&sha) {
        return unprocessable("Object does not exist");
    }
    if !force && !state.is_ancestor(&current, &sha) {
        return unprocessable("Update is not a fast forward");
    }
    state.refs.insert(name.to_owned(), sha.clone());
    reply(200, ref_json(state, name, &sha))
}

fn contents(state: &State, path: &str, query: &Query<'_>, raw: bool) -> Reply {
    let rev = query.get("ref").unwrap_or_else(|| "main".into());
    let Some(sha) = state.resolve(&rev) else {
        return not_found();
    };
    let Some(bytes) = state.commits[&sha].files.get(path) else {
        return not_found();
    };
    if raw {
        return Reply {
            status: 200,
            body: bytes.clone(),
            headers: vec![(
                "content-type".into(),
                "application/vnd.github.raw+json".into(),
            )],
        };
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let name = path.rsplit('/').next().unwrap_or(path);
    reply(
        200,
        json!({ "type": "file", "encoding": "base64", "size": bytes.len(), "name": name, "path": path, "content": b64, "sha": "0000" }),
    )
}

/// A content-addressed fake object id: the same bytes (or the same folder) give the same sha.
fn object_sha(kind: &str, parts: &[(&str, &[u8])]) -> String {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut sha = String::new();
    for seed in 0..3u8 {
        let mut h = DefaultHasher::new();
        (seed, kind, parts).hash(&mut h);
        sha.push_str(&format!("{:016x}", h.finish()));
    }
    sha.truncate(40);
    sha
}

/// The files of `commit` below `folder` (`""` or ending in `/`), relative to it.
fn files_below<'a>(commit: &'a FakeCommit, folder: &str) -> Vec<(&'a str, &'a [u8])> {
    commit
        .files
        .iter()
        .filter_map(|(p, b)| p.strip_prefix(folder).map(|rel| (rel, b.as_slice())))
        .collect()
}

/// `GET /git/trees/{sha}[?recursive=1]`: `sha` is a commit (its root tree), a branch, or a tree
/// an earlier answer named. Entries in GitHub's shape (`path`, `mode`, `type`, `sha`, `size` for
/// blobs, `url`); a recursive answer past `State::tree_limit` entries is cut and `truncated`.
fn tree(state: &mut State, id: &str, query: &Query<'_>, base: &str) -> Reply {
    let (commit_sha, folder) = match state.resolve(id) {
        Some(sha) => (sha, String::new()),
        None => match state.trees.get(id) {
            Some(known) => known.clone(),
            None => return not_found(),
        },
    };
    let commit = state.commits[&commit_sha].clone();
    let recursive = query
        .get("recursive")
        .is_some_and(|r| r != "0" && r != "false");
    let own = object_sha("tree", &files_below(&commit, &folder));
    let mut entries: Vec<(String, Value)> = Vec::new();
    let mut seen_dirs = std::collections::BTreeSet::new();
    for (rel, bytes) in files_below(&commit, &folder) {
        let parts: Vec<&str> = rel.split('/').collect();
        // The folders on the way: all of them when recursive, else only the first (and no file
        // below it).
        let dirs = if recursive {
            parts.len() - 1
        } else {
            1.min(parts.len() - 1)
        };
        for d in 1..=dirs {
            let dir = parts[..d].join("/");
            if seen_dirs.insert(dir.clone()) {
                let inner = format!("{folder}{dir}/");
                let sha = object_sha("tree", &files_below(&commit, &inner));
                state.trees.insert(sha.clone(), (commit_sha.clone(), inner));
                let url = format!("{base}/git/trees/{sha}");
                entries.push((dir.clone(), json!({ "path": dir, "mode": "040000", "type": "tree", "sha": sha, "url": url })));
            }
        }
        if !recursive && parts.len() > 1 {
            continue;
        }
        let sha = object_sha("blob", &[("", bytes)]);
        let url = format!("{base}/git/blobs/{sha}");
        entries.push((rel.to_owned(), json!({ "path": rel, "mode": "100644", "type": "blob", "sha": sha, "size": bytes.len(), "url": url })));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut truncated = false;
    if let Some(limit) = state.tree_limit.filter(|l| recursive && entries.len() > *l) {
        entries.truncate(limit);
        truncated = true;
    }
    state.trees.insert(own.clone(), (commit_sha, folder));
    let tree: Vec<Value> = entries.into_iter().map(|(_, e)| e).collect();
    reply(
        200,
        json!({ "sha": own, "url": format!("{base}/git/trees/{own}"), "tree": tree, "truncated": truncated }),
    )
}

fn compare(state: &State, spec: &str) -> Reply {
    let Some((base, head)) = spec.split_once("...") else {
        return not_found();
    };
    let (Some(base), Some(head)) = (state.resolve(base), state.resolve(head)) else {
        return not_found();
    };
    let status = if base == head {
        "identical"
    } else if state.is_ancestor(&head, &base) {
        "behind"
    } else if state.is_ancestor(&base, &head) {
        "ahead"
    } else {
        "diverged"
    };
    reply(
        200,
        json!({ "status": status, "ahead_by": 0, "behind_by": 0, "total_commits": 0, "commits": [], "files": [] }),
    )
}

pub(super) fn pull_json(state: &State, pull: &FakePull) -> Value {
    let repo = &state.repository;
    let owner = pull.head_repo.split('/').next().unwrap_or_default();
    json!({
        "url": format!("https://api.github.test/repos/{repo}/pulls/{}", pull.number),
        "id": 1000 + pull.number, "node_id": format!("PR_kwDO{}", pull.number),
        "html_url": format!("https://github.test/{repo}/pull/{}", pull.number),
        "number": pull.number, "state": pull.state, "title": pull.title,
        "body": if pull.body.is_empty() { Value::Null } else { json!(pull.body) },
        "labels": pull.labels.iter().map(|l| json!({ "name": l })).collect::<Vec<_>>(),
        "merged": pull.merged, "auto_merge": match (&pull.auto_merge, &pull.auto_merge_method) { (true, m) => json!({ "merge_method": m.as_deref().unwrap_or("MERGE").to_lowercase() }), _ => Value::Null },
        "head": { "label": format!("{owner}:{}", pull.head), "ref": pull.head, "sha": state.resolve(&pull.head),
                  "repo": { "full_name": pull.head_repo } },
        "base": { "label": format!("{}:{}", repo.split('/').next().unwrap_or_default(), pull.base), "ref": pull.base,
                  "sha": state.resolve(&pull.base), "repo": { "full_name": repo } },
    })
}

/// `GET pulls`: `state` (default `open`), `head` (`owner:ref`), `base`; newest first (GitHub's
/// default `sort=created`, `direction=desc`), `per_page` (default 30, at most 100) a page, the
/// next page in a `Link` header that keeps the other parameters.
fn list_pulls(state: &State, query: &Query<'_>, base_url: &str) -> Reply {
    let wanted = query.get("state").unwrap_or_else(|| "open".into());
    let head = query.get("head");
    let base = query.get("base");
    let (per_page, page) = paging(query);
    let all: Vec<&FakePull> = state
        .pulls
        .iter()
        .rev()
        .filter(|p| wanted == "all" || p.state == wanted)
        .filter(|p| {
            let owner = p.head_repo.split('/').next().unwrap_or_default();
            head.as_ref()
                .is_none_or(|h| *h == format!("{owner}:{}", p.head))
        })
        .filter(|p| base.as_ref().is_none_or(|b| *b == p.base))
        .collect();
    let items: Vec<Value> = all
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|p| pull_json(state, p))
        .collect();
    let mut out = reply(200, Value::Array(items));
    if page * per_page < all.len() {
        let mut params: Vec<&str> = query
            .0
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("page="))
            .collect();
        let next_page = format!("page={}", page + 1);
        params.push(&next_page);
        let next = format!("{base_url}/pulls?{}", params.join("&"));
        out.headers
            .push(("link".into(), format!("<{next}>; rel=\"next\"")));
    }
    out
}

fn create_pull(state: &mut State, body: &Value) -> Reply {
    let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
    let (head, base) = (text("head"), text("base"));
    if state.resolve(&head).is_none() || state.resolve(&base).is_none() {
        return reply(
            422,
            json!({ "message": "Validation Failed", "errors": [{ "resource": "PullRequest", "field": "head", "code": "invalid" }], "status": "422" }),
        );
    }
    // `head` without `owner:` names a branch of this repository: a fork's pull request from a
    // branch of the same name is another head.
    if state.pulls.iter().any(|p| {
        p.state == "open" && p.head == head && p.base == base && p.head_repo == state.repository
    }) {
        let owner = state
            .repository
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let message = format!("A pull request already exists for {owner}:{head}.");
        return reply(
            422,
            json!({ "message": "Validation Failed", "errors": [{ "resource": "PullRequest", "code": "custom", "message": message }], "status": "422" }),
        );
    }
    let pull = FakePull {
        number: state.pulls.len() as u64 + 1,
        head,
        base,
        title: text("title"),
        body: text("body"),
        state: "open".into(),
        merged: false,
        labels: Vec::new(),
        auto_merge: false,
        auto_merge_method: None,
        merged_with: None,
        head_repo: state.repository.clone(),
    };
    let out = pull_json(state, &pull);
    state.pulls.push(pull);
    reply(201, out)
}

fn pull_index(state: &State, number: &str) -> Option<usize> {
    let number: u64 = number.parse().ok()?;
    state.pulls.iter().position(|p| p.number == number)
}

fn update_pull(state: &mut State, number: &str, body: &Value) -> Reply {
    let Some(index) = pull_index(state, number) else {
        return not_found();
    };
    let pull = &mut state.pulls[index];
    for (key, field) in [
        ("title", &mut pull.title),
        ("body", &mut pull.body),
        ("base", &mut pull.base),
        ("state", &mut pull.state),
    ] {
        if let Some(value) = body[key].as_str() {
            *field = value.to_owned();
        }
    }
    let pull = state.pulls[index].clone();
    reply(200, pull_json(state, &pull))
}

/// `GET /repos/{o}/{r}`: the fields promote reads, in the REST shape.
fn repository(state: &State) -> Reply {
    let allowed = |m: &str| !state.refused_methods.iter().any(|r| r == m);
    let (owner, name) = state.repository.split_once('/').unwrap_or_default();
    reply(
        200,
        json!({
            "id": 1296269, "node_id": "R_kgDOfake", "name": name, "full_name": state.repository,
            "owner": { "login": owner, "type": "Organization" }, "private": true,
            "default_branch": "main",
            "allow_merge_commit": allowed("merge"), "allow_squash_merge": allowed("squash"),
            "allow_rebase_merge": allowed("rebase"), "allow_auto_merge": true,
            "permissions": { "admin": false, "push": true, "pull": true },
        }),
    )
}

/// GitHub's refusal of a merge method the repository does not allow.
pub(super) fn method_refused(method: &str) -> String {
    match method {
        "squash" => "Squash merges are not allowed on this repository.".into(),
        "rebase" => "Rebase merges are not allowed on this repository.".into(),
        _ => "Merge commits are not allowed on this repository.".into(),
    }
}

pub(super) fn merge_pull(state: &mut State, number: &str, method: &str) -> Reply {
    let Some(index) = pull_index(state, number) else {
        return not_found();
    };
    let pull = state.pulls[index].clone();
    let (Some(head), Some(base)) = (state.resolve(&pull.head), state.resolve(&pull.base)) else {
        return not_found();
    };
    if pull.state != "open" {
        return reply(
            405,
            json!({ "message": "Pull Request is not mergeable", "status": "405" }),
        );
    }
    if state.refused_methods.iter().any(|m| m == method) {
        return reply(
            405,
            json!({ "message": method_refused(method), "status": "405" }),
        );
    }
    let files = state.commits[&head].files.clone();
    // A single-parent model: merge makes a merge-style message, squash carries the head
    // commit's message under the title (GitHub's default for one commit), rebase replays it.
    let head_message = state.commits[&head].message.clone();
    let message = match method {
        "squash" => format!(
            "{} (#{number})\n\n{}",
            pull.title,
            head_message.split_once("\n\n").map_or("", |(_, body)| body)
        ),
        "rebase" => head_message,
        _ => format!(
            "Merge pull request #{number} from {}\n\n{}",
            pull.head, pull.title
        ),
    };
    let sha = state.new_commit(Some(base), &message, files);
    state
        .refs
        .insert(format!("heads/{}", pull.base), sha.clone());
    state.pulls[index].state = "closed".into();
    state.pulls[index].merged = true;
    state.pulls[index].merged_with = Some(method.to_owned());
    reply(
        200,
        json!({ "sha": sha, "merged": true, "message": "Pull Request successfully merged" }),
    )
}

fn add_labels(state: &mut State, number: &str, body: &Value) -> Reply {
    let Some(index) = pull_index(state, number) else {
        return not_found();
    };
    let labels = &mut state.pulls[index].labels;
    for label in body["labels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !labels.iter().any(|l| l == label) {
            labels.push(label.to_owned());
        }
    }
    let out: Vec<Value> = labels
        .iter()
        .map(|l| json!({ "id": 1, "name": l, "color": "ededed", "default": false }))
        .collect();
    reply(200, Value::Array(out))
}

fn add_comment(state: &mut State, number: &str, body: &Value) -> Reply {
    let Some(index) = pull_index(state, number) else {
        return not_found();
    };
    let number = state.pulls[index].number;
    let text = body["body"].as_str().unwrap_or_default().to_owned();
    state.comments.push((number, text.clone()));
    let id = state.comments.len();
    reply(
        201,
        json!({ "id": id, "node_id": format!("IC_{id}"), "body": text, "user": { "login": "github-actions[bot]" } }),
    )
}
