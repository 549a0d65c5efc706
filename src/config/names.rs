//! Names in the config: which components a source lists (`include`/`exclude`), and the names
//! statuses use for them (`status-names`, and the dotenv default).

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::Source;
use crate::source::Kind;

/// Compile `patterns` into one set (`None` when there are none); an error names the bad pattern.
pub fn globs(patterns: &[String]) -> Result<Option<GlobSet>, (String, String)> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(Glob::new(p).map_err(|e| (p.clone(), e.to_string()))?);
    }
    b.build()
        .map(Some)
        .map_err(|e| (String::new(), e.to_string()))
}

/// A source's `include` and `exclude`, compiled.
#[derive(Debug, Clone)]
pub struct NameFilter {
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
}

impl NameFilter {
    /// Whether the component `name` is part of the source.
    pub fn admits(&self, name: &str) -> bool {
        self.include.as_ref().is_none_or(|g| g.is_match(name))
            && self.exclude.as_ref().is_none_or(|g| !g.is_match(name))
    }

    /// Whether it admits every name (no `include`, no `exclude`).
    pub fn admits_all(&self) -> bool {
        self.include.is_none() && self.exclude.is_none()
    }
}

/// `PAPERLESS_NGX_VERSION` -> `paperless-ngx`: lowercased, `_` -> `-`, a trailing `-version`
/// dropped. `None` when that leaves the key as it was, or nothing.
pub fn dotenv_status_name(key: &str) -> Option<String> {
    // The trailing `-version` (any case, `_` or `-`) is found on the key's bytes: the name is
    // then built once, at its final length, lowercased with `_` -> `-` in one pass.
    let dash = |c: char| {
        if c == '_' {
            '-'
        } else {
            c.to_ascii_lowercase()
        }
    };
    const SUFFIX: &[u8] = b"-version";
    let bytes = key.as_bytes();
    let end = match bytes.len().checked_sub(SUFFIX.len()) {
        Some(at)
            if bytes[at..]
                .iter()
                .zip(SUFFIX)
                .all(|(&b, &s)| dash(char::from(b)) == char::from(s)) =>
        {
            at
        }
        _ => bytes.len(),
    };
    if end == 0 {
        return None;
    }
    // Nothing to lowercase, no `_` and no suffix: the name would be the key itself.
    if end == bytes.len() && !bytes.iter().any(|&b| b == b'_' || b.is_ascii_uppercase()) {
        return None;
    }
    let mut name = String::with_capacity(end);
    name.extend(key[..end].chars().map(dash));
    Some(name)
}

impl Source {
    /// `include` and `exclude` compiled (`Config::load` has checked them).
    pub fn name_filter(&self) -> Result<NameFilter, (String, String)> {
        Ok(NameFilter {
            include: globs(&self.include)?,
            exclude: globs(&self.exclude)?,
        })
    }

    /// The names statuses may use for the component `name` besides its name and id: its
    /// `status-names` entry, else the `"*"` entry (one status for every component of the source,
    /// e.g. the Kustomization that applies the whole file), or for a `dotenv` key without one,
    /// the key lowercased with `_` -> `-` and a trailing `_version` dropped.
    pub fn status_names_of(&self, name: &str) -> Vec<String> {
        match self
            .status_names
            .get(name)
            .or_else(|| self.status_names.get("*"))
        {
            Some(alias) => vec![alias.clone()],
            None if self.kind == Kind::Dotenv => dotenv_status_name(name).into_iter().collect(),
            None => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(extra: &str) -> Source {
        toml::from_str(&format!("path = \"a.env\"\nkind = \"dotenv\"\n{extra}")).expect("source")
    }

    #[test]
    fn dotenv_keys_answer_to_their_lowercased_dashed_name() {
        let cases = [
            ("PAPERLESS_NGX_VERSION", Some("paperless-ngx")),
            ("paperless_ngx_version", Some("paperless-ngx")),
            ("cilium-version", Some("cilium")),
            ("CILIUM", Some("cilium")),
            ("cilium", None),
            ("talos_ver", Some("talos-ver")),
            ("VERSION", Some("version")),
            ("_version", None),
            ("app_version_pin", Some("app-version-pin")),
        ];
        for (key, want) in cases {
            assert_eq!(dotenv_status_name(key).as_deref(), want, "{key}");
        }
    }

    #[test]
    fn status_names_replace_the_default_and_only_dotenv_has_one() {
        let s = source("[status-names]\npaperless_ngx_version = \"paperless\"\n");
        assert_eq!(s.status_names_of("paperless_ngx_version"), ["paperless"]);
        assert_eq!(s.status_names_of("DEX_VERSION"), ["dex"]);
        let mut yaml = s.clone();
        yaml.kind = Kind::Yaml;
        assert!(yaml.status_names_of("DEX_VERSION").is_empty());
        // `"*"`: every component of the source answers to one status name, unless listed.
        let all: Source = toml::from_str(
            "path = \"a.yaml\"\nkind = \"flux\"\n[status-names]\n\"*\" = \"helm-charts\"\ncilium = \"cni\"\n",
        )
        .expect("source");
        assert_eq!(all.status_names_of("loki"), ["helm-charts"]);
        assert_eq!(all.status_names_of("cilium"), ["cni"]);
        assert_eq!(yaml.status_names_of("paperless_ngx_version"), ["paperless"]);
    }

    #[test]
    fn include_and_exclude_filter_names() {
        let s = source("include = [\"*_version\", \"talos\"]\nexclude = [\"debug_*\"]\n");
        let f = s.name_filter().expect("globs");
        let admitted: Vec<&str> = [
            "cilium_version",
            "talos",
            "debug_version",
            "cluster_l2_interfaces",
            "CILIUM_VERSION",
        ]
        .into_iter()
        .filter(|n| f.admits(n))
        .collect();
        assert_eq!(admitted, ["cilium_version", "talos"]);
        let all = source("").name_filter().expect("no globs");
        assert!(all.admits("anything"));
        let bad = source("include = [\"a[\"]\n")
            .name_filter()
            .expect_err("bad glob");
        assert_eq!(bad.0, "a[");
    }
}
