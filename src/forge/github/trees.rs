//! A commit's files through `GET /git/trees/{rev}?recursive=1`: one request for the whole commit,
//! which also gives each file's size (kept to size the read queries, `reads`).

use serde_json::Value;

use super::{CONTENTS_READ, Field, GitHubForge, encode_query};
use crate::forge::ForgeError;

/// Regular files only: `100644` and `100755` blobs (a `120000` blob is a symlink, a `commit`
/// entry a submodule).
fn is_regular(entry: &Value) -> bool {
    entry.at("type").as_str() == Some("blob")
        && matches!(entry.at("mode").as_str(), Some("100644" | "100755"))
}

impl GitHubForge {
    /// Keep each listed blob's `size` (GitHub gives it for blobs): read queries are cut by the
    /// bytes they will bring back.
    fn remember_sizes<'a>(&self, entries: impl IntoIterator<Item = (&'a Value, &'a Value)>) {
        let mut sizes = self.sizes.lock().unwrap_or_else(|e| e.into_inner());
        for (path, entry) in entries {
            if let (Some(path), Some(size)) = (path.as_str(), entry.at("size").as_u64()) {
                sizes.insert(path.to_owned(), size);
            }
        }
    }

    async fn read_tree(
        &self,
        sha: &str,
        recursive: bool,
        action: &str,
    ) -> Result<Value, ForgeError> {
        let query = if recursive { "?recursive=1" } else { "" };
        let path = format!("/git/trees/{}{query}", encode_query(sha));
        self.get(&path, action, CONTENTS_READ).await?.json()
    }

    pub(super) async fn tree(&self, rev: &str) -> Result<Vec<String>, ForgeError> {
        let action = format!("listing the files at `{rev}`");
        let whole = self.read_tree(rev, true, &action).await?;
        let entries = |tree: &Value| -> Result<Vec<Value>, ForgeError> {
            tree.at("tree").as_array().cloned().ok_or_else(|| {
                ForgeError::Other(format!("{action}: github's answer has no `tree`"))
            })
        };
        if whole.at("truncated").as_bool() != Some(true) {
            let files: Vec<Value> = entries(&whole)?.into_iter().filter(is_regular).collect();
            self.remember_sizes(files.iter().map(|e| (e.at("path"), e)));
            return Ok(files
                .iter()
                .filter_map(|e| e.at("path").as_str().map(str::to_owned))
                .collect());
        }
        // GitHub cuts a recursive listing past 100,000 entries or 7 MB (`truncated: true`): then
        // read the tree folder by folder, one non-recursive request per folder, from the root
        // tree the cut answer names. Only repositories that large pay for it.
        tracing::warn!("{action}: the recursive tree is truncated; reading it folder by folder");
        let root = whole
            .at("sha")
            .as_str()
            .ok_or_else(|| ForgeError::Other(format!("{action}: github's answer has no `sha`")))?;
        let mut out = Vec::new();
        let mut folders = vec![(String::new(), root.to_owned())];
        while let Some((prefix, sha)) = folders.pop() {
            let tree = self.read_tree(&sha, false, &action).await?;
            if tree.at("truncated").as_bool() == Some(true) {
                return Err(ForgeError::Other(format!(
                    "{action}: folder `{prefix}` has more entries than github lists in one answer"
                )));
            }
            for entry in entries(&tree)? {
                let (Some(name), Some(sha)) = (entry.at("path").as_str(), entry.at("sha").as_str())
                else {
                    continue;
                };
                if entry.at("type").as_str() == Some("tree") {
                    folders.push((format!("{prefix}{name}/"), sha.to_owned()));
                } else if is_regular(&entry) {
                    let path = format!("{prefix}{name}");
                    self.remember_sizes([(&Value::String(path.clone()), &entry)]);
                    out.push(path);
                }
            }
        }
        out.sort();
        Ok(out)
    }
}
