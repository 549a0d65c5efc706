//! Reading the repository: files from the working tree or from any git revision (through git2,
//! without checking it out), changed paths between revisions, and ancestry.

use std::path::{Path, PathBuf};

use crate::config::{Captures, PathPattern, Step, unsafe_path};

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
    /// Every regular file below `folder` (`""`: the whole tree), at any depth, as sorted
    /// repository-relative paths; none when the folder does not exist. Symlinks and `.git` are
    /// left out.
    fn list(&self, folder: &str) -> Result<Vec<String>, RepoError>;
    /// The files a pattern with placeholders or `**` names, in path order, with the values its
    /// placeholders took: by default, a listing of its folder filtered.
    fn find(&self, pattern: &PathPattern) -> Result<Vec<(String, Captures)>, RepoError> {
        Ok(self
            .list(&pattern.folder())?
            .into_iter()
            .filter_map(|path| pattern.matches(&path).map(|c| (path, c)))
            .collect())
    }
    /// A label for messages (`working tree`, `integration@abc1234`).
    fn label(&self) -> String;
    /// Read `paths` ahead, all at once where that saves requests (`ForgeFiles`: batched forge
    /// reads), so that `read` finds them; nothing to do where reads are local.
    fn prefetch(&self, paths: &[String]) -> Result<(), RepoError> {
        let _ = paths;
        Ok(())
    }
    /// `path`, to be read later and anywhere (on another thread too) with [`Later::read`], as
    /// `read` would read it now: for a local file whose path is known good, so that a plan of
    /// thousands of files holds one file's bytes at a time, not all of them. `None`: read it now.
    fn read_later(&self, path: &str) -> Option<Later> {
        let _ = path;
        None
    }
}

/// A file of the working tree to read when it is needed ([`Files::read_later`]).
#[derive(Debug)]
pub struct Later {
    full: PathBuf,
    /// Its size when the walk saw it.
    size: u64,
}

impl Later {
    /// Its size when it was found (it may have changed since).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Its bytes, as [`Files::read`] gives them: `None` when it is gone.
    pub fn read(self) -> Result<Option<Vec<u8>>, RepoError> {
        read_result(
            &self.full,
            read_sized(&self.full, usize::try_from(self.size).unwrap_or(0)),
        )
    }
}

/// The working tree of a repository folder.
#[derive(Debug, Clone)]
pub struct WorkTree {
    pub root: PathBuf,
    label: String,
    /// `root` canonicalized, once: resolving each of a thousand files should not redo it.
    real_root: std::cell::OnceCell<Option<PathBuf>>,
    /// Folders canonicalized so far (`None`: they cannot be), so that resolving a thousand files
    /// costs a `symlink_metadata` each, not a `canonicalize` of every folder on their paths.
    real_dirs: std::cell::RefCell<std::collections::HashMap<PathBuf, Option<PathBuf>>>,
    /// Paths a walk found to be regular files, reached from a folder `resolve` accepted through
    /// real folders only (no symlink): they are inside the repository, and `read` need not
    /// resolve them again (nor `stat` them, where the walk learnt their size). Like
    /// `real_dirs`, the answers last as long as the tree (one command).
    walked: std::cell::RefCell<rustc_hash::FxHashMap<String, Option<u64>>>,
}

impl WorkTree {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        WorkTree {
            root: root.into(),
            label: "working tree".to_string(),
            real_root: Default::default(),
            real_dirs: Default::default(),
            walked: Default::default(),
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
        let root = self.real_root.get_or_init(|| self.root.canonicalize().ok());
        if let (Some(real), Some(root)) = (self.real_path(&full), root)
            && !real.starts_with(root)
        {
            return Err(RepoError::Unsafe {
                path: path.to_string(),
                problem: "is a symlink out of the repository".to_string(),
            });
        }
        Ok(full)
    }

    /// `path.canonicalize()`, with its folders' answers kept: a name that is no symlink is its
    /// folder's real path joined with the name (one `symlink_metadata`); anything else (a
    /// symlink, `..`, the top) is canonicalized as it is. `None` where `canonicalize` fails.
    /// The answers last as long as the tree (one command), as a check then read always did.
    fn real_path(&self, path: &Path) -> Option<PathBuf> {
        if path.as_os_str().is_empty() {
            // The folder of a relative root's top entry: the current one.
            return Path::new(".").canonicalize().ok();
        }
        let meta = std::fs::symlink_metadata(path).ok()?;
        match (path.parent(), path.file_name()) {
            (Some(parent), Some(name)) if !meta.file_type().is_symlink() => {
                if let Some(known) = self.real_dirs.borrow().get(parent) {
                    return known.as_ref().map(|p| p.join(name));
                }
                let real = self.real_path(parent);
                self.real_dirs
                    .borrow_mut()
                    .insert(parent.to_path_buf(), real.clone());
                real.map(|p| p.join(name))
            }
            _ => path.canonicalize().ok(),
        }
    }
}

impl WorkTree {
    /// Where a walk of `folder` starts, and the prefix of the paths it finds; refused where
    /// `folder` leaves the repository, also through a symlink.
    fn walk_start(&self, folder: &str) -> Result<(PathBuf, String), RepoError> {
        refuse_unsafe(folder)?;
        let prefix = folder_prefix(folder);
        let start = if prefix.is_empty() {
            self.root.clone()
        } else {
            self.resolve(folder)?
        };
        Ok((start, prefix))
    }

    /// A regular file a walk found (of `len` bytes, where it learnt that): into `out`, and
    /// kept for `read` to take as it is.
    fn found(&self, path: String, len: Option<u64>, out: &mut Vec<String>) {
        self.walked.borrow_mut().insert(path.clone(), len);
        out.push(path);
    }

    /// Every regular file below `start`, as `prefix` + its path below, into `out`, in one walk.
    /// `DirEntry::file_type` does not follow symlinks: a symlinked folder is not entered (it
    /// could leave the repository or loop) and a symlinked file is left out.
    fn walk_all(
        &self,
        start: PathBuf,
        prefix: String,
        out: &mut Vec<String>,
    ) -> Result<(), RepoError> {
        let mut stack = vec![(start, prefix)];
        while let Some((dir, rel)) = stack.pop() {
            let Some(entries) = read_dir(&dir)? else {
                continue;
            };
            for entry in entries {
                let (entry, kind) = entry_kind(&dir, entry)?;
                let Ok(name) = entry.file_name().into_string() else {
                    continue; // not UTF-8: no config path can name it
                };
                if kind.is_dir() && name != ".git" {
                    stack.push((entry.path(), format!("{rel}{name}/")));
                } else if kind.is_file() {
                    self.found(format!("{rel}{name}"), None, out);
                }
            }
        }
        Ok(())
    }

    /// The regular files below `dir` that `steps` can name, as `rel` + their path below, into
    /// `out`; what [`WorkTree::walk_all`] would list, less what cannot match. A `**` lists
    /// everything below it.
    fn walk_steps(
        &self,
        dir: &Path,
        rel: &str,
        steps: &[Step<'_>],
        out: &mut Vec<String>,
    ) -> Result<(), RepoError> {
        let Some((step, rest)) = steps.split_first() else {
            return Ok(());
        };
        match *step {
            Step::Any => self.walk_all(dir.to_path_buf(), rel.to_string(), out),
            Step::Literal(name) => {
                // A listing never holds these names, nor a `/` within one.
                if matches!(name, "" | "." | "..") || name.contains(['/', '\0']) {
                    return Ok(());
                }
                let path = dir.join(name);
                let meta = match std::fs::symlink_metadata(&path) {
                    Ok(meta) => meta,
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                        ) =>
                    {
                        return Ok(());
                    }
                    Err(e) => return Err(io_error(&path, &e)),
                };
                let len = meta.is_file().then_some(meta.len());
                self.step_into(&path, rel, name, meta.file_type(), len, rest, out)
            }
            Step::Fits { .. } => {
                let Some(entries) = read_dir(dir)? else {
                    return Ok(());
                };
                for entry in entries {
                    let (entry, kind) = entry_kind(dir, entry)?;
                    let name = entry.file_name();
                    let Some(name) = name.to_str().filter(|n| step.admits(n)) else {
                        continue;
                    };
                    self.step_into(&entry.path(), rel, name, kind, None, rest, out)?;
                }
                Ok(())
            }
        }
    }

    /// Past the entry `name` (at `path`, of `kind`, `len` bytes where known) with `rest` of the
    /// steps to go: a regular file where none are left, a real folder (not `.git`) to walk on
    /// where some are.
    #[allow(clippy::too_many_arguments)]
    fn step_into(
        &self,
        path: &Path,
        rel: &str,
        name: &str,
        kind: std::fs::FileType,
        len: Option<u64>,
        rest: &[Step<'_>],
        out: &mut Vec<String>,
    ) -> Result<(), RepoError> {
        if rest.is_empty() {
            if kind.is_file() {
                self.found(format!("{rel}{name}"), len, out);
            }
            Ok(())
        } else if kind.is_dir() && name != ".git" {
            self.walk_steps(path, &format!("{rel}{name}/"), rest, out)
        } else {
            Ok(())
        }
    }
}

/// The bytes of the file at `path`, about `len` long: `fs::read` (and `File::read_to_end`) would
/// `stat` it (and seek) to learn that again. One byte more than `len` sees the end in two reads.
fn read_sized(path: &Path, len: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut bytes = vec![0; len + 1];
    let mut filled = 0;
    loop {
        if filled == bytes.len() {
            bytes.resize(bytes.len() * 2, 0); // it grew since the walk
        }
        match file.read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    bytes.truncate(filled);
    Ok(bytes)
}

/// What a read of the file at `full` gave, as [`Files::read`] tells it: a missing file is `None`.
fn read_result(full: &Path, bytes: std::io::Result<Vec<u8>>) -> Result<Option<Vec<u8>>, RepoError> {
    match bytes {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(full, &e)),
    }
}

fn io_error(path: &Path, e: &std::io::Error) -> RepoError {
    RepoError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// The entries of `dir`; `None` when it does not exist.
fn read_dir(dir: &Path) -> Result<Option<std::fs::ReadDir>, RepoError> {
    match std::fs::read_dir(dir) {
        Ok(entries) => Ok(Some(entries)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(dir, &e)),
    }
}

/// A listed entry and its type, as the listing gave it (`d_type`: no symlink followed, and no
/// `stat` where the file system tells).
fn entry_kind(
    dir: &Path,
    entry: std::io::Result<std::fs::DirEntry>,
) -> Result<(std::fs::DirEntry, std::fs::FileType), RepoError> {
    let entry = entry.map_err(|e| io_error(dir, &e))?;
    let kind = entry.file_type().map_err(|e| io_error(&entry.path(), &e))?;
    Ok((entry, kind))
}

/// The files a source's path pattern names in `files`, in path order, with the values the
/// pattern's placeholders took. A literal path is returned as it is, found or not (the caller
/// says what a missing file means); a pattern costs one listing of its folder (in the working
/// tree, a walk that goes down only where a match can lie).
pub fn matching(
    files: &dyn Files,
    pattern: &PathPattern,
) -> Result<Vec<(String, Captures)>, RepoError> {
    if pattern.is_literal() {
        return Ok(vec![(pattern.as_str().to_string(), Captures::default())]);
    }
    files.find(pattern)
}

fn refuse_unsafe(path: &str) -> Result<(), RepoError> {
    match unsafe_path(path) {
        Some(problem) if !path.is_empty() => Err(RepoError::Unsafe {
            path: path.to_string(),
            problem: problem.to_string(),
        }),
        _ => Ok(()),
    }
}

/// `folder/` for a prefix test (`""` stays `""`: everything is below the root).
fn folder_prefix(folder: &str) -> String {
    let folder = folder.trim_end_matches('/');
    if folder.is_empty() {
        String::new()
    } else {
        format!("{folder}/")
    }
}

impl Files for WorkTree {
    fn list(&self, folder: &str) -> Result<Vec<String>, RepoError> {
        let (start, prefix) = self.walk_start(folder)?;
        let mut out = Vec::new();
        self.walk_all(start, prefix, &mut out)?;
        out.sort();
        Ok(out)
    }

    /// A walk from the pattern's folder that lists only the folders a placeholder (or `**`)
    /// stands for and looks up a literal name directly: `{app}/helmrelease.yaml` is one listing
    /// of the apps' folder and one `symlink_metadata` an app, not a listing of every app.
    fn find(&self, pattern: &PathPattern) -> Result<Vec<(String, Captures)>, RepoError> {
        let steps = pattern.steps();
        let fixed = steps
            .iter()
            .take(steps.len().saturating_sub(1))
            .take_while(|s| matches!(s, Step::Literal(_)))
            .count();
        let (start, prefix) = self.walk_start(&pattern.folder())?;
        let mut out = Vec::new();
        self.walk_steps(&start, &prefix, &steps[fixed..], &mut out)?;
        out.sort();
        Ok(out
            .into_iter()
            .filter_map(|path| pattern.matches(&path).map(|c| (path, c)))
            .collect())
    }

    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, RepoError> {
        // Walked with its size known: no `stat` to learn it again.
        if let Some(later) = self.read_later(path) {
            return later.read();
        }
        let walked = self.walked.borrow().contains_key(path);
        let full = if walked {
            self.root.join(path)
        } else {
            self.resolve(path)?
        };
        read_result(&full, std::fs::read(&full))
    }

    /// A file the walk found (a regular file below the root, reached through no symlink) is
    /// read when it is parsed: the plan holds one file's bytes at a time.
    fn read_later(&self, path: &str) -> Option<Later> {
        let size = (*self.walked.borrow().get(path)?)?;
        Some(Later {
            full: self.root.join(path),
            size,
        })
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

    /// Whether none of `paths` (files, or folders and all below them; `""` is the whole tree)
    /// differs from `HEAD` in the working tree or the index.
    pub fn is_clean(&self, paths: &[String]) -> Result<bool, RepoError> {
        if paths.is_empty() {
            return Ok(true);
        }
        let mut opts = git2::StatusOptions::new();
        opts.include_untracked(true).disable_pathspec_match(true);
        // No pathspec at all is the whole tree; `""` as one would match nothing.
        if !paths.iter().any(String::is_empty) {
            for p in paths {
                opts.pathspec(p);
            }
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
    fn list(&self, folder: &str) -> Result<Vec<String>, RepoError> {
        refuse_unsafe(folder)?;
        let prefix = folder_prefix(folder);
        let subtree;
        let tree = if prefix.is_empty() {
            &self.tree
        } else {
            match self.tree.get_path(Path::new(folder.trim_end_matches('/'))) {
                Ok(entry) if entry.kind() == Some(git2::ObjectType::Tree) => {
                    subtree = self.repo.find_tree(entry.id())?;
                    &subtree
                }
                Ok(_) => return Ok(Vec::new()),
                Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(e.into()),
            }
        };
        Ok(tree_files(tree, &prefix)?)
    }

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

/// Every regular file (blob, executable or not) of `tree`, in one walk, as sorted paths below
/// `prefix` (`""` or ending in `/`). Symlinks and submodules are left out.
pub fn tree_files(tree: &git2::Tree<'_>, prefix: &str) -> Result<Vec<String>, git2::Error> {
    let mut out = Vec::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        let regular = matches!(entry.filemode(), 0o100644 | 0o100755);
        if let (true, Ok(name)) = (regular, entry.name()) {
            out.push(format!("{prefix}{dir}{name}"));
        }
        git2::TreeWalkResult::Ok
    })?;
    out.sort();
    Ok(out)
}

/// Files at one commit, read through a forge (the GitHub API, or a git remote). A commit never
/// changes, so each file is fetched once.
pub struct ForgeFiles<'f> {
    forge: &'f dyn crate::forge::Forge,
    rev: String,
    cache: std::cell::RefCell<std::collections::HashMap<String, Option<Vec<u8>>>>,
    /// Every file of the commit, sorted, once listed.
    tree: std::cell::RefCell<Option<Vec<String>>>,
}

impl<'f> ForgeFiles<'f> {
    /// Files of commit `sha`.
    pub fn new(forge: &'f dyn crate::forge::Forge, sha: &str) -> Self {
        ForgeFiles {
            forge,
            rev: sha.to_string(),
            cache: Default::default(),
            tree: Default::default(),
        }
    }
}

impl Files for ForgeFiles<'_> {
    /// The commit's whole tree is listed once (one API request on GitHub) and kept.
    fn list(&self, folder: &str) -> Result<Vec<String>, RepoError> {
        refuse_unsafe(folder)?;
        if self.tree.borrow().is_none() {
            let mut all = self.forge.list_tree(&self.rev).map_err(|e| {
                RepoError::Git(format!("listing the files at {}: {e}", self.label()))
            })?;
            all.sort();
            *self.tree.borrow_mut() = Some(all);
        }
        let prefix = folder_prefix(folder);
        let tree = self.tree.borrow();
        let all = tree.as_deref().unwrap_or_default();
        let start = all.partition_point(|p| p.as_str() < prefix.as_str());
        Ok(all[start..]
            .iter()
            .take_while(|p| p.starts_with(&prefix))
            .cloned()
            .collect())
    }

    /// The paths not read yet (and safe to read), in one batched forge read.
    fn prefetch(&self, paths: &[String]) -> Result<(), RepoError> {
        let mut wanted: Vec<String> = {
            let cache = self.cache.borrow();
            paths
                .iter()
                .filter(|p| unsafe_path(p).is_none() && !cache.contains_key(p.as_str()))
                .cloned()
                .collect()
        };
        wanted.sort();
        wanted.dedup();
        if wanted.is_empty() {
            return Ok(());
        }
        let found = self.forge.read_files(&self.rev, &wanted).map_err(|e| {
            RepoError::Git(format!(
                "reading {} files at {}: {e}",
                wanted.len(),
                self.label()
            ))
        })?;
        self.cache
            .borrow_mut()
            .extend(wanted.into_iter().zip(found));
        Ok(())
    }

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
