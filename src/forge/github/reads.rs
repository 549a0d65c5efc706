//! Reads in few requests: many files in one GraphQL query (aliased `object(expression:)` blobs),
//! and a commit's statuses and check runs in one paginated query (`statusCheckRollup`).
//!
//! A blob GraphQL cannot give whole (`isTruncated`, `isBinary`, or a `byteSize` other than the
//! text's length, which a lossy UTF-8 conversion would cause) is read through the REST raw
//! contents instead, as is anything that is not a blob. Statuses and check runs fall back to
//! REST when GraphQL refuses (`FORBIDDEN`, `NOT_FOUND`) or cannot find the commit.

use serde_json::{Map, Value, json};

use super::{CONTENTS_READ, Field, GitHubForge};
use crate::forge::{CommitChecks, CommitStatus, CommitSummary, ForgeError, check_run_state};

/// Files read in one GraphQL query: GitHub ends a request that takes more than ten seconds, so
/// a query stays small, and more files take more queries.
pub const READ_BATCH: usize = 100;

/// Contexts per page of `statusCheckRollup.contexts` (GitHub's largest `first`).
const CHECKS_PAGE: usize = 100;

/// Pages of statuses and check runs read at most (10,000 contexts).
const CHECKS_PAGES: usize = 100;

pub(super) fn is_full_sha(rev: &str) -> bool {
    rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The query reading `count` files: `f0` .. `fN` from `$e0` .. `$eN` (`<rev>:<path>`), and the
/// commit `rev` names as `at` when `resolve`.
fn files_query(count: usize, resolve: bool) -> String {
    let mut vars = String::from("$owner: String!, $name: String!");
    let mut fields = String::new();
    if resolve {
        vars.push_str(", $rev: String!");
        fields.push_str(" at: object(expression: $rev) { oid }");
    }
    for i in 0..count {
        vars.push_str(&format!(", $e{i}: String!"));
        fields.push_str(&format!(
            " f{i}: object(expression: $e{i}) {{ __typename ... on Blob {{ text isTruncated isBinary byteSize }} }}"
        ));
    }
    format!("query({vars}) {{ repository(owner: $owner, name: $name) {{{fields} }} }}")
}

/// What GraphQL gave of one path: its bytes, missing, or to be read through REST.
enum Blob {
    Bytes(Vec<u8>),
    Missing,
    Rest,
}

fn blob(value: &Value) -> Blob {
    if value.is_null() {
        return Blob::Missing;
    }
    if value.at("__typename").as_str() != Some("Blob")
        || value.at("isTruncated").as_bool() != Some(false)
        || value.at("isBinary").as_bool() != Some(false)
    {
        return Blob::Rest;
    }
    match (value.at("text").as_str(), value.at("byteSize").as_u64()) {
        (Some(text), Some(size)) if text.len() as u64 == size => {
            Blob::Bytes(text.as_bytes().to_vec())
        }
        _ => Blob::Rest,
    }
}

/// A commit's statuses and check runs, a page from `$after`.
const CHECKS_FIELDS: &str = "statusCheckRollup { contexts(first: 100, after: $after) { \
    pageInfo { hasNextPage endCursor } nodes { __typename \
    ... on StatusContext { context state description targetUrl createdAt creator { __typename login } } \
    ... on CheckRun { name status conclusion title url startedAt completedAt checkSuite { app { slug } } } \
    } } }";

fn checks_query() -> String {
    format!(
        "query($owner: String!, $name: String!, $rev: String!, $after: String) {{ \
         repository(owner: $owner, name: $name) {{ object(expression: $rev) {{ __typename \
         ... on Commit {{ {CHECKS_FIELDS} }} }} }} }}"
    )
}

/// The history of `$branch` (`$first` commits) and the first page of `$rev`'s checks.
fn history_and_checks_query() -> String {
    format!(
        "query($owner: String!, $name: String!, $branch: String!, $first: Int!, $rev: String!, $after: String) {{ \
         repository(owner: $owner, name: $name) {{ \
         history: object(expression: $branch) {{ __typename ... on Commit {{ history(first: $first) {{ \
         nodes {{ oid message parents(first: 2) {{ nodes {{ oid }} }} }} }} }} }} \
         object(expression: $rev) {{ __typename ... on Commit {{ {CHECKS_FIELDS} }} }} }} }}"
    )
}

/// One page of `statusCheckRollup.contexts` into `out`; the cursor of the next page, if any.
fn checks_page(commit: &Value, out: &mut CommitChecks) -> Option<String> {
    let contexts = commit.at("statusCheckRollup").at("contexts");
    for node in contexts.at("nodes").as_array().into_iter().flatten() {
        match node.at("__typename").as_str() {
            Some("StatusContext") => out.statuses.push(status_context(node)),
            Some("CheckRun") => out.check_runs.push(check_run(node)),
            _ => {}
        }
    }
    let page = contexts.at("pageInfo");
    match (
        page.at("hasNextPage").as_bool(),
        page.at("endCursor").as_str(),
    ) {
        (Some(true), Some(cursor)) => Some(cursor.to_owned()),
        _ => None,
    }
}

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

/// A `StatusContext` in the REST terms: a bot's login gets the `[bot]` REST shows.
fn status_context(node: &Value) -> CommitStatus {
    let creator = node.at("creator");
    let login = text(creator.at("login")).map(|login| {
        if creator.at("__typename").as_str() == Some("Bot") && !login.ends_with("[bot]") {
            format!("{login}[bot]")
        } else {
            login
        }
    });
    CommitStatus {
        context: text(node.at("context")).unwrap_or_default(),
        state: text(node.at("state"))
            .unwrap_or_default()
            .to_ascii_lowercase(),
        description: text(node.at("description")),
        target_url: text(node.at("targetUrl")),
        creator: login,
        // A status never changes once posted: its creation is its last update.
        updated_at: text(node.at("createdAt")),
    }
}

/// A `CheckRun` in the REST terms (`check_run_from_json`).
fn check_run(node: &Value) -> CommitStatus {
    let status = text(node.at("status"))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let conclusion = text(node.at("conclusion")).map(|c| c.to_ascii_lowercase());
    CommitStatus {
        context: text(node.at("name")).unwrap_or_default(),
        state: check_run_state(&status, conclusion.as_deref()).to_owned(),
        description: text(node.at("title")),
        target_url: text(node.at("url")),
        creator: text(node.at("checkSuite").at("app").at("slug")),
        updated_at: text(node.at("completedAt")).or_else(|| text(node.at("startedAt"))),
    }
}

impl GitHubForge {
    fn repository_vars(&self) -> Map<String, Value> {
        let name = self
            .repository
            .split_once('/')
            .map_or("", |(_, name)| name)
            .to_owned();
        let mut vars = Map::new();
        vars.insert("owner".into(), json!(self.owner));
        vars.insert("name".into(), json!(name));
        vars
    }

    /// `paths` at `rev`, [`READ_BATCH`] per query; a branch or tag is pinned to the commit the
    /// first query finds, so that every batch reads the same commit.
    pub(super) async fn files(
        &self,
        rev: &str,
        paths: &[String],
    ) -> Result<Vec<Option<Vec<u8>>>, ForgeError> {
        let mut at = rev.to_owned();
        let mut out = Vec::with_capacity(paths.len());
        for (n, batch) in paths.chunks(READ_BATCH).enumerate() {
            let resolve = n == 0 && !is_full_sha(rev) && paths.len() > READ_BATCH;
            let mut vars = self.repository_vars();
            if resolve {
                vars.insert("rev".into(), json!(rev));
            }
            for (i, path) in batch.iter().enumerate() {
                vars.insert(format!("e{i}"), json!(format!("{at}:{path}")));
            }
            let action = format!("reading {} files at `{rev}`", batch.len());
            let data = self
                .graphql(
                    &files_query(batch.len(), resolve),
                    Value::Object(vars),
                    &action,
                    CONTENTS_READ,
                )
                .await?;
            let repo = data.at("repository");
            if resolve {
                match repo.at("at").at("oid").as_str() {
                    Some(oid) => oid.clone_into(&mut at),
                    // No such revision: no file is there (as REST answers 404 for each).
                    None => return Ok(vec![None; paths.len()]),
                }
            }
            for (i, path) in batch.iter().enumerate() {
                out.push(match blob(repo.at(&format!("f{i}"))) {
                    Blob::Bytes(bytes) => Some(bytes),
                    Blob::Missing => None,
                    Blob::Rest => self.file(path, &at).await?,
                });
            }
        }
        Ok(out)
    }

    /// Statuses (newest per context) and check runs of `sha` through `statusCheckRollup`, every
    /// page; REST's two lists when GraphQL refuses or does not find the commit.
    pub(super) async fn checks(&self, sha: &str) -> Result<CommitChecks, ForgeError> {
        let out = CommitChecks {
            latest_only: true,
            ..CommitChecks::default()
        };
        self.more_checks(sha, out, Value::Null).await
    }

    /// The pages of `sha`'s checks from `after` on, into `out`.
    async fn more_checks(
        &self,
        sha: &str,
        mut out: CommitChecks,
        mut after: Value,
    ) -> Result<CommitChecks, ForgeError> {
        let action = format!("reading the statuses and check runs of {sha}");
        let query = checks_query();
        for _ in 0..CHECKS_PAGES {
            let mut vars = self.repository_vars();
            vars.insert("rev".into(), json!(sha));
            vars.insert("after".into(), after);
            let data = match self
                .graphql(&query, Value::Object(vars), &action, "checks: read")
                .await
            {
                Ok(data) => data,
                Err(ForgeError::Forbidden { .. } | ForgeError::NotFound { .. }) => {
                    return self.checks_by_rest(sha).await;
                }
                Err(e) => return Err(e),
            };
            let commit = data.at("repository").at("object");
            if commit.at("__typename").as_str() != Some("Commit") {
                return self.checks_by_rest(sha).await;
            }
            match checks_page(commit, &mut out) {
                Some(cursor) => after = json!(cursor),
                None => return Ok(out),
            }
        }
        Ok(out)
    }

    /// The newest `limit` commits of `branch` and `sha`'s checks in one query (more pages of
    /// checks, if any, after it); REST and [`Self::checks`] when GraphQL refuses or finds neither.
    pub(super) async fn history_and_checks(
        &self,
        branch: &str,
        limit: usize,
        sha: &str,
    ) -> Result<(Vec<CommitSummary>, CommitChecks), ForgeError> {
        let by_rest = || async {
            Ok::<_, ForgeError>((self.history(branch, limit).await?, self.checks(sha).await?))
        };
        if limit == 0 || limit > CHECKS_PAGE {
            return by_rest().await;
        }
        let mut vars = self.repository_vars();
        vars.insert("branch".into(), json!(branch));
        vars.insert("first".into(), json!(limit));
        vars.insert("rev".into(), json!(sha));
        vars.insert("after".into(), Value::Null);
        let action = format!("reading the history of `{branch}` and the checks of {sha}");
        let data = match self
            .graphql(
                &history_and_checks_query(),
                Value::Object(vars),
                &action,
                "checks: read",
            )
            .await
        {
            Ok(data) => data,
            Err(ForgeError::Forbidden { .. } | ForgeError::NotFound { .. }) => {
                return by_rest().await;
            }
            Err(e) => return Err(e),
        };
        let repo = data.at("repository");
        let (history, commit) = (repo.at("history"), repo.at("object"));
        if history.at("__typename").as_str() != Some("Commit")
            || commit.at("__typename").as_str() != Some("Commit")
        {
            return by_rest().await;
        }
        let commits = history
            .at("history")
            .at("nodes")
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                Ok(CommitSummary {
                    sha: super::str_field(c.at("oid"), "oid")?,
                    message: text(c.at("message")).unwrap_or_default(),
                    parents: c
                        .at("parents")
                        .at("nodes")
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|p| text(p.at("oid")))
                        .collect(),
                })
            })
            .collect::<Result<Vec<_>, ForgeError>>()?;
        let mut checks = CommitChecks {
            latest_only: true,
            ..CommitChecks::default()
        };
        let checks = match checks_page(commit, &mut checks) {
            Some(cursor) => self.more_checks(sha, checks, json!(cursor)).await?,
            None => checks,
        };
        Ok((commits, checks))
    }

    async fn checks_by_rest(&self, sha: &str) -> Result<CommitChecks, ForgeError> {
        tracing::debug!("statuses and check runs of {sha}: through REST");
        Ok(CommitChecks {
            statuses: self.statuses(sha).await?,
            check_runs: self.check_runs(sha).await?,
            latest_only: false,
        })
    }
}
