//! The fake's GraphQL endpoint: `createCommitOnBranch`, `enablePullRequestAutoMerge`, aliased
//! `object(expression:)` reads (`... on Blob`, a commit's `oid`) and a commit's
//! `statusCheckRollup` (`StatusContext` and `CheckRun` nodes, paginated with `after`), with a
//! branch's `history(first:)` beside it.

use base64::Engine;
use serde_json::{Value, json};

use super::State;
use super::routes::{Reply, reply};

fn graphql_error(kind: &str, message: &str) -> Reply {
    reply(
        200,
        json!({ "data": null, "errors": [{ "type": kind, "path": ["mutation"], "locations": [{ "line": 1, "column": 1 }], "message": message }] }),
    )
}

pub(super) fn graphql(state: &mut State, body: &Value) -> Reply {
    let query = body["query"].as_str().unwrap_or_default();
    let vars = &body["variables"];
    if query.contains("history(first:") {
        history_and_checks(state, vars)
    } else if query.contains("statusCheckRollup") {
        status_check_rollup(state, vars)
    } else if query.contains("object(expression:") {
        objects(state, query, vars)
    } else if query.contains("createCommitOnBranch") {
        create_commit(state, &vars["input"])
    } else if query.contains("enablePullRequestAutoMerge") {
        let id = vars["id"].as_str().unwrap_or_default();
        // Without `mergeMethod` GitHub merges with MERGE, whatever the repository prefers.
        let method = vars["method"].as_str().unwrap_or("MERGE").to_owned();
        if state
            .refused_methods
            .iter()
            .any(|m| m.eq_ignore_ascii_case(&method))
        {
            let message = super::routes::method_refused(&method.to_lowercase());
            return graphql_error("UNPROCESSABLE", &format!("Pull request {message}"));
        }
        let clean = state.clean_status;
        let Some(pull) = state
            .pulls
            .iter_mut()
            .find(|p| format!("PR_kwDO{}", p.number) == id)
        else {
            return graphql_error(
                "NOT_FOUND",
                &format!("Could not resolve to a node with the global id of '{id}'"),
            );
        };
        if clean {
            return graphql_error(
                "UNPROCESSABLE",
                "Pull request Pull request is in clean status",
            );
        }
        pull.auto_merge = true;
        pull.auto_merge_method = Some(method);
        reply(
            200,
            json!({ "data": { "enablePullRequestAutoMerge": { "pullRequest": { "number": pull.number } } } }),
        )
    } else {
        reply(
            200,
            json!({ "errors": [{ "message": "unsupported query in the fake" }] }),
        )
    }
}

fn create_commit(state: &mut State, input: &Value) -> Reply {
    let branch = input["branch"]["branchName"].as_str().unwrap_or_default();
    let expected = input["expectedHeadOid"].as_str().unwrap_or_default();
    let Some(head) = state.refs.get(&format!("heads/{branch}")).cloned() else {
        return graphql_error(
            "NOT_FOUND",
            &format!("Could not resolve to a Ref with the name 'refs/heads/{branch}'."),
        );
    };
    if head != expected {
        return graphql_error(
            "STALE_DATA",
            &format!(
                "Expected branch to point to \"{expected}\" but it did not.  Pull and try again."
            ),
        );
    }
    let mut files = state.commits[&head].files.clone();
    let b64 = base64::engine::general_purpose::STANDARD;
    for addition in input["fileChanges"]["additions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let path = addition["path"].as_str().unwrap_or_default().to_owned();
        let bytes = b64
            .decode(addition["contents"].as_str().unwrap_or_default())
            .unwrap();
        files.insert(path, bytes);
    }
    for deletion in input["fileChanges"]["deletions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        files.remove(deletion["path"].as_str().unwrap_or_default());
    }
    let headline = input["message"]["headline"].as_str().unwrap_or_default();
    let body = input["message"]["body"].as_str().unwrap_or_default();
    let message = if body.is_empty() {
        headline.to_owned()
    } else {
        format!("{headline}\n\n{body}")
    };
    let sha = state.new_commit(Some(head), &message, files);
    state.refs.insert(format!("heads/{branch}"), sha.clone());
    let url = format!("https://github.test/{}/commit/{sha}", state.repository);
    reply(
        200,
        json!({ "data": { "createCommitOnBranch": { "commit": { "oid": sha, "url": url } } } }),
    )
}

/// `alias: object(expression: $var)` pairs of a query, in order.
fn aliased_objects(query: &str) -> Vec<(String, String)> {
    const MARK: &str = ": object(expression: $";
    query
        .match_indices(MARK)
        .map(|(at, _)| {
            let alias: String = query[..at]
                .chars()
                .rev()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            let var: String = query[at + MARK.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            (alias, var)
        })
        .collect()
}

/// What `object(expression: "<rev>:<path>")` (or `"<rev>"`) resolves to, in GitHub's shape for
/// the fields promote asks: a `Blob`'s text (null when binary, cut past `blob_text_limit`), a
/// `Tree` for a folder, a commit's `oid`; null when nothing is there.
fn object(state: &State, expression: &str) -> Value {
    let Some((rev, path)) = expression.split_once(':') else {
        return match state.resolve(expression) {
            Some(sha) => json!({ "__typename": "Commit", "oid": sha }),
            None => Value::Null,
        };
    };
    let Some(sha) = state.resolve(rev) else {
        return Value::Null;
    };
    let files = &state.commits[&sha].files;
    let Some(bytes) = files.get(path) else {
        let folder = format!("{}/", path.trim_end_matches('/'));
        return if files.keys().any(|f| f.starts_with(&folder)) {
            json!({ "__typename": "Tree" })
        } else {
            Value::Null
        };
    };
    let binary = bytes.contains(&0);
    let limit = state.blob_text_limit.unwrap_or(usize::MAX);
    let shown = &bytes[..bytes.len().min(limit)];
    json!({
        "__typename": "Blob",
        "text": if binary { Value::Null } else { json!(String::from_utf8_lossy(shown)) },
        "isTruncated": bytes.len() > limit,
        "isBinary": binary,
        "byteSize": bytes.len(),
    })
}

fn objects(state: &mut State, query: &str, vars: &Value) -> Reply {
    let aliases = aliased_objects(query);
    let files = aliases.iter().filter(|(alias, _)| alias != "at").count();
    if let Some((limit, status)) = state.read_failure
        && files > limit
    {
        return too_slow(status);
    }
    let mut repository = serde_json::Map::new();
    for (alias, var) in aliases {
        let expression = vars[var.as_str()].as_str().unwrap_or_default();
        repository.insert(alias, object(state, expression));
    }
    reply(200, json!({ "data": { "repository": repository } }))
}

/// How GitHub answers a query it ended after ten seconds.
fn too_slow(status: u16) -> Reply {
    if status == 200 {
        return reply(
            200,
            json!({ "data": null, "errors": [{ "message": "Something went wrong while executing your query. This may be the result of a timeout, or it could be a GitHub bug. Please include `D3C2:1AFB:7226D1:76338B:63A2690D` when reporting this issue." }] }),
        );
    }
    let title = if status == 504 {
        "504 Gateway Time-out"
    } else {
        "502 Bad Gateway"
    };
    let mut out = reply(status, Value::Null);
    out.body = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
    .into_bytes();
    out.headers = vec![("content-type".into(), "text/html".into())];
    out
}

/// GraphQL's enum spelling of a REST state (`in_progress` -> `IN_PROGRESS`).
fn upper(value: &Value) -> Value {
    value
        .as_str()
        .map_or(Value::Null, |s| json!(s.to_ascii_uppercase()))
}

/// `Commit.statusCheckRollup.contexts`: the newest status per context, then the newest check run
/// per name; `rollup_page` (default 100) per page, `after` an opaque cursor.
fn status_check_rollup(state: &mut State, vars: &Value) -> Reply {
    let rev = vars["rev"].as_str().unwrap_or_default();
    let Some(sha) = state.resolve(rev) else {
        return reply(200, json!({ "data": { "repository": { "object": null } } }));
    };
    let mut nodes = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for status in state.statuses.get(&sha).into_iter().flatten() {
        if !seen.insert(status["context"].as_str().unwrap_or_default().to_owned()) {
            continue;
        }
        let login = status["creator"]["login"].as_str().unwrap_or_default();
        // REST names a bot `name[bot]`, GraphQL's `Bot.login` is `name`.
        let creator = match login.strip_suffix("[bot]") {
            Some(bot) => json!({ "__typename": "Bot", "login": bot }),
            None => json!({ "__typename": "User", "login": login }),
        };
        nodes.push(json!({
            "__typename": "StatusContext",
            "context": status["context"], "state": upper(&status["state"]),
            "description": status["description"], "targetUrl": status["target_url"],
            "createdAt": status["created_at"], "creator": creator,
        }));
    }
    let mut names = std::collections::HashSet::new();
    for run in state.check_runs.get(&sha).into_iter().flatten() {
        if !names.insert(run["name"].as_str().unwrap_or_default().to_owned()) {
            continue;
        }
        nodes.push(json!({
            "__typename": "CheckRun",
            "name": run["name"], "status": upper(&run["status"]),
            "conclusion": upper(&run["conclusion"]), "title": run["output"]["title"],
            "url": run["html_url"], "startedAt": run["started_at"],
            "completedAt": run["completed_at"],
            "checkSuite": { "app": { "slug": run["app"]["slug"] } },
        }));
    }
    if nodes.is_empty() {
        return reply(
            200,
            json!({ "data": { "repository": { "object": { "__typename": "Commit", "statusCheckRollup": null } } } }),
        );
    }
    let page = state.rollup_page.unwrap_or(100);
    let start = vars["after"]
        .as_str()
        .and_then(|c| c.strip_prefix("cursor:"))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    let end = (start + page).min(nodes.len());
    let contexts = json!({
        "pageInfo": { "hasNextPage": end < nodes.len(), "endCursor": format!("cursor:{end}") },
        "nodes": nodes[start.min(end)..end],
    });
    reply(
        200,
        json!({ "data": { "repository": { "object": { "__typename": "Commit", "statusCheckRollup": { "contexts": contexts } } } } }),
    )
}

/// `history: object(expression: $branch) { ... on Commit { history(first: $first) } }` beside
/// `object(expression: $rev)`'s checks: newest first, following first parents.
fn history_and_checks(state: &mut State, vars: &Value) -> Reply {
    let checks = status_check_rollup(state, vars);
    let mut data: Value = serde_json::from_slice(&checks.body).unwrap();
    let first = vars["first"].as_u64().unwrap_or(100) as usize;
    let branch = vars["branch"].as_str().unwrap_or_default();
    let history = match state.resolve(branch) {
        Some(start) => {
            let mut nodes = Vec::new();
            let mut next = Some(start);
            while let Some(sha) = next.filter(|_| nodes.len() < first) {
                let commit = &state.commits[&sha];
                let parents: Vec<Value> =
                    commit.parent.iter().map(|p| json!({ "oid": p })).collect();
                nodes.push(json!({ "oid": sha, "message": commit.message, "parents": { "nodes": parents } }));
                next = commit.parent.clone();
            }
            json!({ "__typename": "Commit", "history": { "nodes": nodes } })
        }
        None => Value::Null,
    };
    data["data"]["repository"]["history"] = history;
    reply(200, data)
}
