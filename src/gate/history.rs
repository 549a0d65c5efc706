//! Staleness by history: which source commit each component of the target was last promoted
//! from, read from the promotion commits on the target branch.
//!
//! Every promotion commit carries a `Promoted-From: <env>@<sha>` trailer and a line per
//! component it moved (`- <id> <from> -> <to>`). Pure: commit messages in, records out.

use std::collections::HashMap;

use crate::forge::CommitSummary;

/// How many commits of the target branch are read, newest first (one API page).
pub const HISTORY_LIMIT: usize = 100;

/// The newest promotion of one component from one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The source commit it was promoted from.
    pub source_sha: String,
    /// The promotion commit on the target branch.
    pub commit: String,
    /// The version it was promoted to.
    pub version: String,
}

/// The `Promoted-From` source sha of a message, when it names `from` and a full commit.
fn promoted_from(message: &str, from: &str) -> Option<String> {
    message.lines().rev().find_map(|line| {
        let rest = line.trim().strip_prefix("Promoted-From:")?.trim();
        let (env, sha) = rest.rsplit_once('@')?;
        (env == from && sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| sha.to_ascii_lowercase())
    })
}

/// The component lines of a promotion message: `- <id> <from> -> <to>`, as (id, to).
pub fn moved(message: &str) -> impl Iterator<Item = (&str, &str)> {
    message.lines().filter_map(|line| {
        let rest = line.strip_prefix("- ")?;
        let (id, versions) = rest.split_once(' ')?;
        let (_, to) = versions.rsplit_once(" -> ")?;
        Some((id, to.trim()))
    })
}

/// The `Promoted-To:` environment of a message, when it has one (older promotions do not).
fn promoted_to(message: &str) -> Option<&str> {
    message
        .lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("Promoted-To:").map(str::trim))
}

/// Per component id, the newest promotion from `from` to `to` among `commits` (newest first).
/// Two targets on one branch (`dev -> integration` and `dev -> live` on `main`) are told apart
/// by the `Promoted-To:` trailer; a promotion without one counts for every target.
pub fn records(from: &str, to: &str, commits: &[CommitSummary]) -> HashMap<String, Record> {
    let mut out = HashMap::new();
    for c in commits {
        let Some(source_sha) = promoted_from(&c.message, from) else {
            continue;
        };
        if promoted_to(&c.message).is_some_and(|t| t != to) {
            continue;
        }
        for (id, version) in moved(&c.message) {
            out.entry(id.to_string()).or_insert_with(|| Record {
                source_sha: source_sha.clone(),
                commit: c.sha.clone(),
                version: version.to_string(),
            });
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn commit(sha: &str, message: &str) -> CommitSummary {
        CommitSummary {
            sha: sha.into(),
            message: message.into(),
            parents: vec![],
        }
    }

    #[test]
    fn newest_promotion_per_component_from_the_same_environment() {
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        let c = "c".repeat(40);
        let commits = [
            commit(
                "3",
                &format!(
                    "chore(promote): integration -> live\n\n- helm/cilium 1.18.6 -> 1.18.7\n\nPromoted-From: integration@{b}\n"
                ),
            ),
            commit("2", "fix: hand edit\n\n- helm/cilium 1.18.7 -> 1.18.6\n"),
            commit(
                "1",
                &format!(
                    "chore(promote): integration -> live\n\n- helm/cilium 1.18.5 -> 1.18.6\n- infra/talos (none) -> v1.12.0\n\nPromoted-From: integration@{a}\n"
                ),
            ),
            commit(
                "0",
                &format!(
                    "chore(promote): dev -> integration\n\n- helm/dex 1 -> 2\n\nPromoted-From: dev@{c}\n"
                ),
            ),
            commit(
                "x",
                "chore(promote): integration -> live\n\n- helm/dex 1 -> 2\n\nPromoted-From: integration@abc1234-dirty\n",
            ),
        ];
        let r = records("integration", "live", &commits);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(
            r["helm/cilium"],
            Record {
                source_sha: b,
                commit: "3".into(),
                version: "1.18.7".into()
            }
        );
        assert_eq!(r["infra/talos"].source_sha, a);
        assert_eq!(r["infra/talos"].version, "v1.12.0");
        assert!(
            !r.contains_key("helm/dex"),
            "other environments and dirty trees are no record"
        );
    }

    /// `dev -> integration` and `dev -> live` write to one branch: each reads only its own
    /// records (and those of promotions made before `Promoted-To:` existed).
    #[test]
    fn records_are_per_target_when_the_commit_names_it() {
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        let commits = [
            commit(
                "2",
                &format!(
                    "chore(promote): dev -> integration\n\n- apps/web 1 -> 2\n\nPromoted-From: dev@{a}\nPromoted-To: integration\n"
                ),
            ),
            commit(
                "1",
                &format!(
                    "chore(promote): dev -> live\n\n- apps/paperless 1 -> 2\n\nPromoted-From: dev@{b}\n"
                ),
            ),
        ];
        let live = records("dev", "live", &commits);
        assert!(!live.contains_key("apps/web"), "{live:?}");
        assert_eq!(live["apps/paperless"].source_sha, b);
        let integration = records("dev", "integration", &commits);
        assert_eq!(integration["apps/web"].source_sha, a);
        assert_eq!(integration["apps/paperless"].source_sha, b);
    }
}
