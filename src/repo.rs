//! Reading the repository: files from the working tree or from any git revision (through git2,
//! without checking it out), changed paths between revisions, and ancestry.

use std::path::{Path, PathBuf};

use crate::config::unsafe_path;

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("git: {0}")]
    Git(String),
    #[error("revision `{rev}` not found in {repo}")]
    UnknownRevision { rev: String, repo: String },
    #[error("path `{path}` {problem}")]
    Unsafe { path: String, problem: String },
}

impl From<git2::Error> for RepoError {
    fn from(e: git2::Error) -> Self {
        RepoError::Git(e.message().to_string())
    }
}

/// Something files can be read from by repository-relative path.
pub trait Files {
    /// The file's bytes, or `None` if it does not exist there.
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, RepoError>;
    /// A label for messages (`working tree`, `integration@abc1234`).
    fn label(&self) -> String;
}

/// The working tree of a repository folder.
#[derive(Debug, Clone)]
pub struct WorkTree {
    pub root: PathBuf,
    label: String,
}

impl WorkTree {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        WorkTree {
            root: root.into(),
            label: "working tree".to_string(),
        }
    }

    /// Name the tree in messages and trailers, e.g. by the commit it is checked out at.
    pub fn with_label(mut self, label: String) -> Self {
        self.label = label;
        self
    }

    /// The absolute path of a repository-relative path, refusing ones that leave the repository,
    /// also through symlinks.
    pub fn resolve(&self, path: &str) -> Result<PathBuf, RepoError> {
        if let Some(problem) = unsafe_path(path) {
            return Err(RepoError::Unsafe {
                path: path.to_string(),
                problem: problem.to_string(),
            });
        }
        let full = self.root.join(path);
        if let (Ok(real), Ok(root)) = (full.canonicalize(), self.root.canonicalize())
            && !real.starts_with(&root)
        {
            return Err(RepoError::Unsafe {
                path: path.to_string(),
                problem: "is a symlink out of the repository".to_string(),
            });
        }
        Ok(full)
    }
}

impl Files for WorkTree {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, RepoError> {
        let full = self.resolve(path)?;
        match std::fs::read(&full) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(RepoError::Io {
                path: full.display().to_string(),
                message: e.to_string(),
            }),
        }
    }

    fn label(&self) -> String {
        self.label.clone()
    }
}

/// A git repository opened once.
pub struct Repo {
    repo: git2::Repository,
    root: PathBuf,
}

impl Repo {
    pub fn open(root: &Path) -> Result<Repo, RepoError> {
        // Initialising libgit2 (and its TLS) costs ~30 ms: skip it where there is no repository.
        if !root.join(".git").exists() && !root.join("HEAD").is_file() {
            return Err(RepoError::Git(format!(
                "{} is not a git repository",
                root.display()
            )));
        }
        let repo = git2::Repository::open(root)?;
        Ok(Repo {
            repo,
            root: root.to_path_buf(),
        })
    }

    /// Resolve a revision (sha, branch, `origin/x`, `HEAD`) to a commit sha.
    pub fn resolve(&self, rev: &str) -> Result<String, RepoError> {
        let candidates = [
            rev.to_string(),
            format!("origin/{rev}"),
            format!("refs/remotes/origin/{rev}"),
        ];
        for c in &candidates {
            if let Ok(obj) = self.repo.revparse_single(c)
                && let Ok(commit) = obj.peel_to_commit()
            {
                return Ok(commit.id().to_string());
            }
        }
        Err(RepoError::UnknownRevision {
            rev: rev.to_string(),
            repo: self.root.display().to_string(),
        })
    }

    pub fn head_sha(&self) -> Result<String, RepoError> {
        self.resolve("HEAD")
    }

    /// A read-only view of the tree at `rev`.
    pub fn at(&self, rev: &str) -> Result<Revision<'_>, RepoError> {
        let sha = self.resolve(rev)?;
        let oid = git2::Oid::from_str(&sha)?;
        let tree = self.repo.find_commit(oid)?.tree()?;
        Ok(Revision {
            repo: &self.repo,
            tree,
            sha,
        })
    }

    /// Whether `sha` is `rev` or one of its ancestors.
    pub fn is_ancestor(&self, sha: &str, rev: &str) -> Result<bool, RepoError> {
        let a = git2::Oid::from_str(&self.resolve(sha)?)?;
        let b = git2::Oid::from_str(&self.resolve(rev)?)?;
        Ok(a == b || self.repo.graph_descendant_of(b, a)?)
    }

    /// Whether none of `paths` differs from `HEAD` in the working tree or the index.
    pub fn is_clean(&self, paths: &[String]) -> Result<bool, RepoError> {
        if paths.is_empty() {
            return Ok(true);
        }
        let mut opts = git2::StatusOptions::new();
        opts.include_untracked(true).disable_pathspec_match(true);
        for p in paths {
            opts.pathspec(p);
        }
        let statuses = self.repo.statuses(Some(&mut opts))?;
        Ok(statuses
            .iter()
            .all(|s| s.status() == git2::Status::CURRENT || s.status().is_ignored()))
    }

    /// Paths that differ between two revisions (added, modified, deleted, both sides of renames).
    pub fn changed_paths(&self, from: &str, to: &str) -> Result<Vec<String>, RepoError> {
        let old = self.at(from)?.tree;
        let new = self.at(to)?.tree;
        let diff = self.repo.diff_tree_to_tree(Some(&old), Some(&new), None)?;
        let mut paths = Vec::new();
        for delta in diff.deltas() {
            for file in [delta.old_file(), delta.new_file()] {
                if let Some(p) = file.path().and_then(Path::to_str)
                    && !paths.iter().any(|x| x == p)
                {
                    paths.push(p.to_string());
                }
            }
        }
        Ok(paths)
    }
}

/// The tree of one commit.
pub struct Revision<'r> {
    repo: &'r git2::Repository,
    tree: git2::Tree<'r>,
    pub sha: String,
}

impl Files for Revision<'_> {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, RepoError> {
        if let Some(problem) = unsafe_path(path) {
            return Err(RepoError::Unsafe {
                path: path.to_string(),
                problem: problem.to_string(),
            });
        }
        let entry = match self.tree.get_path(Path::new(path)) {
            Ok(entry) => entry,
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if entry.filemode() == 0o120000 {
            return Err(RepoError::Unsafe {
                path: path.to_string(),
                problem: "is a symlink; sources must be regular files".to_string(),
            });
        }
        let blob = entry.to_object(self.repo)?.peel_to_blob()?;
        Ok(Some(blob.content().to_vec()))
    }

    fn label(&self) -> String {
        self.sha.chars().take(12).collect()
    }
}

/// Files at one commit, read through a forge (the GitHub API, or a git remote). A commit never
/// changes, so each file is fetched once.
pub struct ForgeFiles<'f> {
    forge: &'f dyn crate::forge::Forge,
    rev: String,
    cache: std::cell::RefCell<std::collections::HashMap<String, Option<Vec<u8>>>>,
}

impl<'f> ForgeFiles<'f> {
    /// Files of commit `sha`.
    pub fn new(forge: &'f dyn crate::forge::Forge, sha: &str) -> Self {
        ForgeFiles {
            forge,
            rev: sha.to_string(),
            cache: Default::default(),
        }
    }
}

impl Files for ForgeFiles<'_> {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, RepoError> {
        if let Some(problem) = unsafe_path(path) {
            return Err(RepoError::Unsafe {
                path: path.to_string(),
                problem: problem.to_string(),
            });
        }
        if let Some(hit) = self.cache.borrow().get(path) {
            return Ok(hit.clone());
        }
        let bytes = self
            .forge
            .read_file(path, &self.rev)
            .map_err(|e| RepoError::Git(format!("reading `{path}` at {}: {e}", self.label())))?;
        self.cache
            .borrow_mut()
            .insert(path.to_string(), bytes.clone());
        Ok(bytes)
    }

    fn label(&self) -> String {
        self.rev.clone()
    }
}
