//! Request handling of the fake: routing by method and path, GitLab's response shapes.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use super::{FakeCommit, FakeMr, Recorded, State};

type Shared = Arc<Mutex<State>>;

pub(super) struct Reply {
    status: u16,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
}

fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        body: serde_json::to_vec(&body).unwrap(),
        headers: vec![("content-type".into(), "application/json".into())],
    }
}

fn message(status: u16, text: &str) -> Reply {
    reply(status, json!({ "message": text }))
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query parameters, decoded; `refs[]` may repeat.
fn query(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
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
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|a| a.to_str().ok())
            .map(str::to_owned)
    };
    let mut state = shared.lock().unwrap_or_else(|e| e.into_inner());
    state.host = header("host").unwrap_or_else(|| "127.0.0.1".into());
    let recorded = Recorded {
        method: method.to_string(),
        path: path.clone(),
        body: body.clone(),
        private_token: header("private-token"),
        job_token: header("job-token"),
        authorization: header("authorization"),
    };
    state.requests.push(recorded.clone());
    let out = match authorize(&state, &recorded) {
        Some(refused) => refused,
        None => match injected(&mut state, method.as_str(), &path) {
            Some((failure, true)) => {
                route(&mut state, method.as_str(), &uri, &body);
                failure
            }
            Some((failure, false)) => failure,
            None => route(&mut state, method.as_str(), &uri, &body),
        },
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

/// GitLab's answers to a missing or wrong token, and to a job token that writes.
fn authorize(state: &State, r: &Recorded) -> Option<Reply> {
    if let Some(t) = &r.private_token {
        return (!state.private_tokens.contains(t)).then(|| message(401, "401 Unauthorized"));
    }
    if let Some(t) = &r.job_token {
        if !state.job_tokens.contains(t) {
            return Some(message(401, "401 Unauthorized"));
        }
        let read = matches!(r.method.as_str(), "GET" | "HEAD");
        return (!read).then(|| message(403, "403 Forbidden"));
    }
    Some(message(401, "401 Unauthorized"))
}

fn injected(state: &mut State, method: &str, path: &str) -> Option<(Reply, bool)> {
    let index = state
        .failures
        .iter()
        .position(|f| f.method == method && path.contains(&f.path_contains))?;
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

fn commit_json(c: &FakeCommit) -> Value {
    let title = c.message.lines().next().unwrap_or_default();
    json!({
        "id": c.sha, "short_id": &c.sha[..8], "title": title, "message": c.message,
        "parent_ids": c.parents, "author_name": "promote", "author_email": "promote@example.invalid",
        "authored_date": format!("2026-01-16T10:{:02}:{:02}.000+00:00", c.seq / 60 % 60, c.seq % 60),
        "committed_date": format!("2026-01-16T10:{:02}:{:02}.000+00:00", c.seq / 60 % 60, c.seq % 60),
        "web_url": format!("https://gitlab.test/-/commit/{}", c.sha),
    })
}

fn mr_json(state: &State, mr: &FakeMr) -> Value {
    json!({
        "id": 1000 + mr.iid, "iid": mr.iid, "project_id": state.project_id,
        "title": mr.title, "description": mr.description, "state": mr.state,
        "source_branch": mr.source, "target_branch": mr.target,
        "source_project_id": mr.source_project_id, "target_project_id": state.project_id,
        "labels": mr.labels, "merge_when_pipeline_succeeds": mr.auto_merge,
        "detailed_merge_status": "mergeable",
        "sha": state.branches.get(&mr.source),
        "web_url": format!("https://gitlab.test/{}/-/merge_requests/{}", state.project_path, mr.iid),
    })
}

/// A page of `items` with GitLab's `Link` (and `X-Next-Page`) headers.
fn paged(state: &State, uri: &Uri, q: &[(String, String)], items: Vec<Value>) -> Reply {
    let per_page = param(q, "per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, state.max_per_page);
    let page = param(q, "page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let start = (page - 1) * per_page;
    let chunk: Vec<Value> = items.iter().skip(start).take(per_page).cloned().collect();
    let mut out = reply(200, Value::Array(chunk));
    if start + per_page < items.len() {
        let mut kept: Vec<String> = uri
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.starts_with("page=") && !p.is_empty())
            .map(str::to_owned)
            .collect();
        kept.push(format!("page={}", page + 1));
        let next = format!("http://{}{}?{}", state.host, uri.path(), kept.join("&"));
        out.headers
            .push(("link".into(), format!("<{next}>; rel=\"next\"")));
        out.headers
            .push(("x-next-page".into(), (page + 1).to_string()));
    }
    out
}

fn route(state: &mut State, method: &str, uri: &Uri, body: &Value) -> Reply {
    let q = query(uri);
    let raw: Vec<&str> = uri.path().trim_start_matches('/').split('/').collect();
    let segments: Vec<String> = raw.iter().map(|s| decode(s)).collect();
    let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
    let ["api", "v4", "projects", project, rest @ ..] = seg.as_slice() else {
        return message(404, "404 Not Found");
    };
    if *project != state.project_id.to_string() && *project != state.project_path {
        return message(404, "404 Project Not Found");
    }
    match (method, rest) {
        ("GET", []) => reply(
            200,
            json!({
                "id": state.project_id, "path_with_namespace": state.project_path,
                "default_branch": "main", "merge_method": state.merge_method,
                "squash_option": state.squash_option,
                "web_url": format!("https://gitlab.test/{}", state.project_path),
            }),
        ),
        ("GET", ["repository", "branches", branch]) => match state.branches.get(*branch) {
            Some(sha) => reply(
                200,
                json!({
                    "name": branch, "merged": false, "protected": false, "default": *branch == "main",
                    "commit": commit_json(&state.commits[sha]),
                }),
            ),
            None => message(404, "404 Branch Not Found"),
        },
        ("POST", ["repository", "branches"]) => {
            let name = body["branch"].as_str().unwrap_or_default().to_owned();
            let Some(sha) = state.resolve(body["ref"].as_str().unwrap_or_default()) else {
                return message(400, "Invalid reference name");
            };
            if state.branches.contains_key(&name) {
                return message(400, "Branch already exists");
            }
            state.branches.insert(name.clone(), sha.clone());
            reply(
                201,
                json!({ "name": name, "commit": commit_json(&state.commits[&sha]) }),
            )
        }
        ("GET" | "HEAD", ["repository", "files", file, tail @ ..]) => {
            let raw = tail == ["raw"];
            let Some(sha) = param(&q, "ref").and_then(|r| state.resolve(r)) else {
                return message(404, "404 Commit Not Found");
            };
            let Some(bytes) = state.commits[&sha].files.get(*file).cloned() else {
                return message(404, "404 File Not Found");
            };
            let last = state.last_commit_for(&sha, file).unwrap_or_default();
            let mut out = if raw {
                Reply {
                    status: 200,
                    body: bytes.clone(),
                    headers: vec![("content-type".into(), "text/plain".into())],
                }
            } else {
                reply(200, json!({ "file_path": file, "size": bytes.len() }))
            };
            out.headers.extend([
                ("x-gitlab-file-path".into(), (*file).to_owned()),
                ("x-gitlab-commit-id".into(), sha.clone()),
                ("x-gitlab-last-commit-id".into(), last),
                ("x-gitlab-size".into(), bytes.len().to_string()),
            ]);
            if method == "HEAD" {
                out.body.clear();
            }
            out
        }
        ("GET", ["repository", "tree"]) => {
            let Some(sha) = param(&q, "ref").and_then(|r| state.resolve(r)) else {
                return message(404, "404 Tree Not Found");
            };
            let mut entries = Vec::new();
            let mut folders = std::collections::BTreeSet::new();
            for path in state.commits[&sha].files.keys() {
                let parts: Vec<&str> = path.split('/').collect();
                for i in 1..parts.len() {
                    folders.insert(parts[..i].join("/"));
                }
            }
            for folder in folders {
                let name = folder.rsplit('/').next().unwrap_or_default().to_owned();
                entries.push(json!({"id": "0".repeat(40), "name": name, "type": "tree", "path": folder, "mode": "040000"}));
            }
            for path in state.commits[&sha].files.keys() {
                let name = path.rsplit('/').next().unwrap_or_default();
                entries.push(json!({"id": "1".repeat(40), "name": name, "type": "blob", "path": path, "mode": "100644"}));
            }
            paged(state, uri, &q, entries)
        }
        ("GET", ["repository", "commits"]) => {
            let Some(sha) = param(&q, "ref_name").and_then(|r| state.resolve(r)) else {
                return message(404, "404 Reference Not Found");
            };
            let list: Vec<Value> = state.history(&sha).iter().map(commit_json).collect();
            paged(state, uri, &q, list)
        }
        ("GET", ["repository", "commits", rev]) => match state.resolve(rev) {
            Some(sha) => reply(200, commit_json(&state.commits[&sha])),
            None => message(404, "404 Commit Not Found"),
        },
        ("GET", ["repository", "commits", sha, "statuses"]) => {
            let list = state.statuses.get(*sha).cloned().unwrap_or_default();
            paged(state, uri, &q, list)
        }
        ("POST", ["repository", "commits"]) => commit(state, body),
        ("GET", ["repository", "merge_base"]) => {
            let refs: Vec<&str> = q
                .iter()
                .filter(|(k, _)| k == "refs[]")
                .map(|(_, v)| v.as_str())
                .collect();
            let [a, b] = refs.as_slice() else {
                return message(400, "Provide exactly two refs");
            };
            let (Some(sa), Some(sb)) = (state.resolve(a), state.resolve(b)) else {
                let missing = if state.resolve(a).is_none() { a } else { b };
                return message(400, &format!("Could not find ref: {missing}"));
            };
            let of_a = state.ancestors(&sa);
            match state
                .history(&sb)
                .into_iter()
                .find(|c| of_a.contains(&c.sha))
            {
                Some(base) => reply(200, commit_json(&base)),
                None => message(404, "404 Merge Base Not Found"),
            }
        }
        ("GET", ["merge_requests"]) => {
            let list: Vec<Value> = state
                .mrs
                .iter()
                .filter(|m| param(&q, "state").is_none_or(|s| s == m.state))
                .filter(|m| param(&q, "source_branch").is_none_or(|s| s == m.source))
                .filter(|m| param(&q, "target_branch").is_none_or(|s| s == m.target))
                .map(|m| mr_json(state, m))
                .collect();
            paged(state, uri, &q, list)
        }
        ("POST", ["merge_requests"]) => {
            let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
            let (source, target) = (text("source_branch"), text("target_branch"));
            if !state.branches.contains_key(&source) {
                return reply(422, json!({"message": ["Source branch does not exist"]}));
            }
            if let Some(open) = state.mrs.iter().find(|m| {
                m.state == "opened"
                    && m.source == source
                    && m.target == target
                    && m.source_project_id == state.project_id
            }) {
                return reply(
                    409,
                    json!({"message": [format!("Another open merge request already exists for this source branch: !{}", open.iid)]}),
                );
            }
            let iid = state.mrs.len() as u64 + 1;
            let mr = FakeMr {
                iid,
                source,
                target,
                title: text("title"),
                description: text("description"),
                state: "opened".into(),
                labels: text("labels")
                    .split(',')
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect(),
                auto_merge: false,
                merged_with: None,
                source_project_id: state.project_id,
            };
            let out = mr_json(state, &mr);
            state.mrs.push(mr);
            reply(201, out)
        }
        ("PUT", ["merge_requests", iid]) => {
            let Some(i) = state.mrs.iter().position(|m| m.iid.to_string() == *iid) else {
                return message(404, "404 Not found");
            };
            let mr = &mut state.mrs[i];
            if let Some(t) = body["title"].as_str() {
                mr.title = t.to_owned();
            }
            if let Some(d) = body["description"].as_str() {
                mr.description = d.to_owned();
            }
            if let Some(t) = body["target_branch"].as_str() {
                mr.target = t.to_owned();
            }
            for l in body["add_labels"].as_str().unwrap_or_default().split(',') {
                if !l.is_empty() && !mr.labels.iter().any(|x| x == l) {
                    mr.labels.push(l.to_owned());
                }
            }
            if body["state_event"] == "close" {
                mr.state = "closed".into();
            }
            let mr = mr.clone();
            reply(200, mr_json(state, &mr))
        }
        ("POST", ["merge_requests", iid, "notes"]) => {
            let iid: u64 = iid.parse().unwrap_or_default();
            state
                .notes
                .push((iid, body["body"].as_str().unwrap_or_default().to_owned()));
            reply(
                201,
                json!({ "id": state.notes.len(), "body": body["body"] }),
            )
        }
        ("PUT", ["merge_requests", iid, "merge"]) => {
            let iid: u64 = iid.parse().unwrap_or_default();
            let Some(i) = state.mrs.iter().position(|m| m.iid == iid) else {
                return message(404, "404 Not found");
            };
            if state.mrs[i].state != "opened" {
                return message(405, "405 Method Not Allowed");
            }
            let squash = body["squash"].as_bool().unwrap_or(false);
            let auto = body["merge_when_pipeline_succeeds"] == true || body["auto_merge"] == true;
            if auto && state.pipeline_running {
                state.mrs[i].auto_merge = true;
                let mr = state.mrs[i].clone();
                return reply(200, mr_json(state, &mr));
            }
            match merge_mr(state, iid, squash) {
                Ok(sha) => {
                    let mr = state.mrs[i].clone();
                    let mut out = mr_json(state, &mr);
                    out["merge_commit_sha"] = json!(if squash { Value::Null } else { json!(sha) });
                    out["squash_commit_sha"] = json!(if squash { json!(sha) } else { Value::Null });
                    reply(200, out)
                }
                Err(m) => message(405, &m),
            }
        }
        ("POST", ["repository", "tags"]) => {
            let name = body["tag_name"].as_str().unwrap_or_default().to_owned();
            let Some(sha) = state.resolve(body["ref"].as_str().unwrap_or_default()) else {
                return message(400, "Target foo is invalid");
            };
            if state.tags.contains_key(&name) {
                return message(400, &format!("Tag {name} already exists"));
            }
            state.tags.insert(name.clone(), sha.clone());
            reply(
                201,
                json!({ "name": name, "commit": commit_json(&state.commits[&sha]) }),
            )
        }
        ("GET", ["repository", "tags", name]) => match state.tags.get(*name) {
            Some(sha) => reply(
                200,
                json!({ "name": name, "commit": commit_json(&state.commits[sha]) }),
            ),
            None => message(404, "404 Tag Not Found"),
        },
        _ => message(404, "404 Not Found"),
    }
}

/// `POST repository/commits`, with GitLab's checks: `start_sha` on an existing branch only
/// with `force`; `create` of an existing file, `update`/`delete` of a missing one, and a
/// `last_commit_id` that is not the file's last commit are refused (400).
fn commit(state: &mut State, body: &Value) -> Reply {
    let branch = body["branch"].as_str().unwrap_or_default().to_owned();
    while let Some(i) = state.races.iter().position(|(b, _)| *b == branch) {
        let (_, files) = state.races.remove(i).unwrap();
        state.land(&branch, "someone else's change", &files);
    }
    let existing = state.branches.get(&branch).cloned();
    let start = body["start_sha"]
        .as_str()
        .or(body["start_branch"].as_str())
        .map(str::to_owned);
    let force = body["force"].as_bool().unwrap_or(false);
    let base = match (&existing, &start) {
        (Some(_), Some(_)) if !force => {
            return message(
                400,
                &format!(
                    "A branch called '{branch}' already exists. Switch to that branch in order to make changes"
                ),
            );
        }
        (_, Some(s)) => match state.resolve(s) {
            Some(sha) => sha,
            None => return message(400, "Invalid start sha"),
        },
        (Some(head), None) => head.clone(),
        (None, None) => {
            return message(
                400,
                "You can only create or edit files when you are on a branch",
            );
        }
    };
    let mut files = state.commits[&base].files.clone();
    let b64 = base64::engine::general_purpose::STANDARD;
    for action in body["actions"].as_array().cloned().unwrap_or_default() {
        let path = action["file_path"].as_str().unwrap_or_default().to_owned();
        let content = || -> Vec<u8> {
            let text = action["content"].as_str().unwrap_or_default();
            if action["encoding"] == "base64" {
                b64.decode(text).unwrap()
            } else {
                text.as_bytes().to_vec()
            }
        };
        if let Some(last) = action["last_commit_id"].as_str()
            && state.last_commit_for(&base, &path).as_deref() != Some(last)
        {
            return message(
                400,
                &format!("The file has changed since you started editing it: {path}"),
            );
        }
        match action["action"].as_str().unwrap_or_default() {
            "create" if files.contains_key(&path) => {
                return message(400, "A file with this name already exists");
            }
            "create" => {
                files.insert(path, content());
            }
            "update" | "delete" if !files.contains_key(&path) => {
                return message(400, "A file with this name doesn't exist");
            }
            "update" => {
                files.insert(path, content());
            }
            "delete" => {
                files.remove(&path);
            }
            other => return message(400, &format!("Unknown action {other}")),
        }
    }
    let message_text = body["commit_message"].as_str().unwrap_or_default();
    let sha = state.new_commit(vec![base], message_text, files);
    state.branches.insert(branch, sha.clone());
    reply(201, commit_json(&state.commits[&sha]))
}

/// Merge `iid` into its target: a squash commit, or a merge commit with both parents.
pub(super) fn merge_mr(state: &mut State, iid: u64, squash: bool) -> Result<String, String> {
    let i = state
        .mrs
        .iter()
        .position(|m| m.iid == iid)
        .ok_or("no such merge request")?;
    let mr = state.mrs[i].clone();
    let target = state.branches.get(&mr.target).cloned().ok_or("no target")?;
    let source = state.branches.get(&mr.source).cloned().ok_or("no source")?;
    // What the source changed since the merge base, on top of the target (no conflicts here).
    let of_target = state.ancestors(&target);
    let base = state
        .history(&source)
        .into_iter()
        .find(|c| of_target.contains(&c.sha))
        .map(|c| c.files)
        .unwrap_or_default();
    let theirs = &state.commits[&source].files;
    let mut files = state.commits[&target].files.clone();
    let paths: std::collections::BTreeSet<String> =
        base.keys().chain(theirs.keys()).cloned().collect();
    for path in paths {
        if base.get(&path) != theirs.get(&path) {
            match theirs.get(&path) {
                Some(bytes) => files.insert(path, bytes.clone()),
                None => files.remove(&path),
            };
        }
    }
    let sha = if squash {
        let message = state.commits[&source].message.clone();
        state.new_commit(vec![target], &message, files)
    } else {
        state.new_commit(
            vec![target, source],
            &format!("Merge branch '{}' into '{}'", mr.source, mr.target),
            files,
        )
    };
    state.branches.insert(mr.target.clone(), sha.clone());
    state.mrs[i].state = "merged".into();
    state.mrs[i].merged_with = Some(if squash { "squash" } else { "merge" }.into());
    Ok(sha)
}
