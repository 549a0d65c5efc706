//! The fake's GraphQL endpoint: `createCommitOnBranch` and `enablePullRequestAutoMerge`.

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
    if query.contains("createCommitOnBranch") {
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
