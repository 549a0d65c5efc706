//! Reads in few requests: many files in one GraphQL query (aliased `object(expression:)` blobs),
//! and a commit's statuses and check runs in one paginated query (`statusCheckRollup`).
//!
//! A read query asks for up to [`READ_FILES`] files and [`READ_BYTES`] of text (sizes from the
//! tree listing, when there was one): a run reading 2 or 2,000 files sends one query. GitHub
//! ends a query that takes more than ten seconds (a 502 or 504, or an error saying it timed
//! out); such a query is split in halves and the halves are sent instead, down to
//! [`READ_SPLIT_MIN`] files, and later queries of the run are no bigger than the half that
//! worked. Reads are safe to repeat; the splits are bounded (each halves the batch).
//!
//! A blob GraphQL cannot give whole (`isTruncated`, `isBinary`, or a `byteSize` other than the
//! text's length, which a lossy UTF-8 conversion would cause) is read through the REST raw
//! contents instead, as is anything that is not a blob. Statuses and check runs fall back to
//! REST when GraphQL refuses (`FORBIDDEN`, `NOT_FOUND`) or cannot find the commit.

use serde_json::{Map, Value, json};

use std::ops::Range;
use std::sync::atomic::Ordering;

use super::{CONTENTS_READ, DEADLINE_VAR, Field, GitHubForge, Repeat, Reply, graphql_data};
use crate::forge::{CommitChecks, CommitStatus, CommitSummary, ForgeError, check_run_state};

/// Most files one read query asks for. An aliased `object` counts as one node (GitHub's limit is
/// 500,000 a query); what bounds a query is the ten seconds GitHub gives it.
pub const READ_FILES: usize = 2_000;

/// Most bytes of text one read query brings back, counted from the sizes the tree listing gave.
/// A path whose size is unknown (the few fixed paths of a config) counts for nothing.
pub const READ_BYTES: u64 = 4 << 20;

/// A query GitHub gives up on is split in halves while it has more files than this; one this
/// small is retried as any request is, then fails the run.
pub const READ_SPLIT_MIN: usize = 16;

/// Contexts per page of `statusCheckRollup.contexts` (GitHub's largest `first`).
const CHECKS_PAGE: usize = 100;

/// Pages of statuses and check runs read at most (10,000 contexts).
const CHECKS_PAGES: usize = 100;

pub(super) fn is_full_sha(rev: &str) -> bool {
    rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The query reading `count` files: `f0` .. `fN` from `$e0` .. `$eN` (`<rev>:<path>`), and the
/// commit `rev` names as `at` when `resolve`. A fragment keeps the query short (2,000 files:
/// about 100 KB).
fn files_query(count: usize, resolve: bool) -> String {
    let mut vars = String::from("$owner: String!, $name: String!");
    let mut fields = String::new();
    if resolve {
        vars.push_str(", $rev: String!");
        fields.push_str(" at: object(expression: $rev) { oid }");
    }
    for i in 0..count {
        vars.push_str(&format!(", $e{i}: String!"));
        fields.push_str(&format!(" f{i}: object(expression: $e{i}) {{ ...b }}"));
    }
    format!(
        "query({vars}) {{ repository(owner: $owner, name: $name) {{{fields} }} }} \
         fragment b on GitObject {{ __typename ... on Blob {{ text isTruncated isBinary byteSize }} }}"
    )
}

/// `paths` (with their sizes, when known) cut into read queries of at most `max_files` files
/// and [`READ_BYTES`] (a file bigger than that alone).
fn batches(sizes: &[Option<u64>], max_files: usize) -> Vec<Range<usize>> {
    let max_files = max_files.max(1);
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    for (i, size) in sizes.iter().enumerate() {
        let size = size.unwrap_or(0);
        if i > start && (i - start >= max_files || bytes.saturating_add(size) > READ_BYTES) {
            out.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes = bytes.saturating_add(size);
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

/// Why a read query failed the way a query too big or too slow for GitHub fails, if it did: no
/// answer (a dropped connection, a timeout), a 502 or 504, or a GraphQL error that says it
/// timed out or hit a resource limit.
fn too_big(result: &Result<Reply, ForgeError>) -> Option<String> {
    let reply = match result {
        // Past the run's deadline nothing more is sent: splitting would not help.
        Err(ForgeError::Other(text)) if !text.contains(DEADLINE_VAR) => return Some(text.clone()),
        Err(_) => return None,
        Ok(reply) => reply,
    };
    if matches!(reply.status.as_u16(), 502 | 504) {
        return Some(format!("github answered {}", reply.status));
    }
    if !reply.is_success() {
        return None;
    }
    let value: Value = serde_json::from_slice(&reply.body).ok()?;
    value.at("errors").as_array()?.iter().find_map(|error| {
        let kind = error.at("type").as_str().unwrap_or_default();
        let message = error.at("message").as_str().unwrap_or_default();
        let lower = message.to_ascii_lowercase();
        (matches!(kind, "RESOURCE_LIMITS_EXCEEDED" | "MAX_NODE_LIMIT_EXCEEDED")
            || lower.contains("timeout")
            || lower.contains("timed out"))
        .then(|| format!("github: {message}"))
    })
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

    /// `paths` at `rev`, in as few queries as [`batches`] allows; a branch or tag is pinned to
    /// the commit the first query finds, so that every query reads the same commit. A query
    /// GitHub gives up on ([`too_big`]) is sent again as two halves.
    pub(super) async fn files(
        &self,
        rev: &str,
        paths: &[String],
    ) -> Result<Vec<Option<Vec<u8>>>, ForgeError> {
        let sizes: Vec<Option<u64>> = {
            let known = self.sizes.lock().unwrap_or_else(|e| e.into_inner());
            paths.iter().map(|p| known.get(p).copied()).collect()
        };
        // A stack: the first batch on top, a split batch's halves pushed back in order.
        let mut pending = batches(&sizes, self.read_ceiling.load(Ordering::Relaxed));
        pending.reverse();
        let mut at = is_full_sha(rev).then(|| rev.to_owned());
        let mut out = vec![None; paths.len()];
        while let Some(range) = pending.pop() {
            let batch = paths.get(range.clone()).unwrap_or_default();
            let ceiling = self.read_ceiling.load(Ordering::Relaxed);
            let splittable = batch.len() > READ_SPLIT_MIN;
            if splittable && batch.len() > ceiling {
                // An earlier query this big failed: halve it before sending it.
                let mid = range.start + batch.len() / 2;
                pending.extend([mid..range.end, range.start..mid]);
                continue;
            }
            // Pin a branch or tag when more than one query reads it.
            let resolve = at.is_none() && !pending.is_empty();
            let mut vars = self.repository_vars();
            if resolve {
                vars.insert("rev".into(), json!(rev));
            }
            let from = at.as_deref().unwrap_or(rev);
            for (i, path) in batch.iter().enumerate() {
                vars.insert(format!("e{i}"), json!(format!("{from}:{path}")));
            }
            let action = format!("reading {} files at `{rev}`", batch.len());
            // A batch that can still be split is not sent again as it is after a 502, a 504 or
            // no answer: its halves are.
            let repeat = if splittable {
                Repeat::SafeButTimeouts
            } else {
                Repeat::Safe
            };
            let query = files_query(batch.len(), resolve);
            let result = self
                .graphql_reply(&query, Value::Object(vars), repeat)
                .await;
            if splittable && let Some(why) = too_big(&result) {
                let half = batch.len() / 2;
                self.read_ceiling.fetch_min(half, Ordering::Relaxed);
                tracing::warn!(
                    "{action}: {why}; reading them in two queries of {half} and {} files",
                    batch.len() - half
                );
                let mid = range.start + half;
                pending.extend([mid..range.end, range.start..mid]);
                continue;
            }
            let data = graphql_data(&result?, &action, CONTENTS_READ)?;
            let repo = data.at("repository");
            if resolve {
                match repo.at("at").at("oid").as_str() {
                    Some(oid) => at = Some(oid.to_owned()),
                    // No such revision: no file is there (as REST answers 404 for each).
                    None => return Ok(vec![None; paths.len()]),
                }
            }
            let from = at.as_deref().unwrap_or(rev);
            for (i, path) in batch.iter().enumerate() {
                let bytes = match blob(repo.at(&format!("f{i}"))) {
                    Blob::Bytes(bytes) => Some(bytes),
                    Blob::Missing => None,
                    Blob::Rest => self.file(path, from).await?,
                };
                if let Some(slot) = out.get_mut(range.start + i) {
                    *slot = bytes;
                }
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
