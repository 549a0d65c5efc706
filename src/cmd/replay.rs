//! `promote plan --event-name N --event-path F`: replay an event through exactly the decision
//! path of `promote run` (`Runner`), read-only, against the local clone.
//!
//! Files, branch heads and history come from the local repository (which may hold the project in
//! a subfolder); statuses and check runs from `--statuses FILE` (the REST list shape) or, with
//! `GITHUB_TOKEN` and `GITHUB_REPOSITORY` set, from the API. A status event's own status counts
//! too. Nothing is ever written: every write is refused.

#![deny(clippy::indexing_slicing)]

use std::path::Path;

use anyhow::Context;
use git2::{Oid, Repository};

use super::project::PlanArgs;
use super::runner::{Outcome, Overrides, Runner, with_inputs};
use crate::config::Config;
use crate::event::{self, Trigger};
use crate::forge::{
    CommitStatus, CommitSummary, FileChange, Forge, ForgeError, PullRequest, PullRequestSpec,
    TagOutcome, Token,
};

/// A read-only forge over the local clone.
pub struct LocalForge {
    repo: Repository,
    /// The project folder inside the repository, `""` or ending in `/`.
    prefix: String,
    statuses: Vec<CommitStatus>,
    api: Option<Box<dyn Forge>>,
}

fn git(action: &str, e: &git2::Error) -> ForgeError {
    ForgeError::Other(format!("{action}: {}", e.message()))
}

fn refused() -> ForgeError {
    ForgeError::Other("a replay writes nothing".into())
}

impl LocalForge {
    /// Open the repository that holds `project` (a folder anywhere inside it).
    pub fn open(project: &Path, statuses: Vec<CommitStatus>) -> anyhow::Result<LocalForge> {
        let repo = Repository::discover(project)
            .with_context(|| format!("{} is not inside a git repository", project.display()))?;
        let top = repo
            .workdir()
            .context("a bare repository has no working tree to replay in")?
            .canonicalize()?;
        let here = project.canonicalize()?;
        let rel = here.strip_prefix(&top).unwrap_or(Path::new(""));
        let mut prefix = rel.to_string_lossy().replace('\\', "/");
        if !prefix.is_empty() {
            prefix.push('/');
        }
        Ok(LocalForge {
            repo,
            prefix,
            statuses,
            api: None,
        })
    }

    /// A commit of the local clone, or an error that says how to get it.
    fn commit(&self, rev: &str) -> Result<git2::Commit<'_>, ForgeError> {
        let found = match Oid::from_str(rev) {
            Ok(oid) if rev.len() == 40 => self.repo.find_commit(oid).ok(),
            _ => None,
        };
        if let Some(c) = found {
            return Ok(c);
        }
        for name in [
            rev.to_string(),
            format!("refs/heads/{rev}"),
            format!("refs/remotes/origin/{rev}"),
        ] {
            if let Ok(obj) = self.repo.revparse_single(&name)
                && let Ok(c) = obj.peel_to_commit()
            {
                return Ok(c);
            }
        }
        Err(ForgeError::NotFound {
            what: format!(
                "commit `{rev}` is not in the local clone\nhint: fetch it first (`git fetch origin {rev}`), or replay in a full clone"
            ),
        })
    }
}

impl Forge for LocalForge {
    fn list_statuses(&self, sha: &str) -> Result<Vec<CommitStatus>, ForgeError> {
        let mut out = match &self.api {
            Some(api) => api.list_statuses(sha)?,
            None => Vec::new(),
        };
        out.extend(self.statuses.iter().cloned());
        Ok(out)
    }

    fn list_check_runs(&self, sha: &str) -> Result<Vec<CommitStatus>, ForgeError> {
        match &self.api {
            Some(api) => api.list_check_runs(sha),
            None => Ok(Vec::new()),
        }
    }

    fn recent_commits(&self, rev: &str, limit: usize) -> Result<Vec<CommitSummary>, ForgeError> {
        let action = format!("listing the history of `{rev}`");
        let start = self.commit(rev)?.id();
        crate::forge::git::history(&self.repo, start, limit).map_err(|e| git(&action, &e))
    }

    fn is_ancestor(&self, ancestor: &str, descendant: &str) -> Result<bool, ForgeError> {
        let (a, d) = (self.commit(ancestor)?.id(), self.commit(descendant)?.id());
        Ok(a == d || self.repo.graph_descendant_of(d, a).unwrap_or(false))
    }

    fn branch_head(&self, branch: &str) -> Result<String, ForgeError> {
        Ok(self.commit(branch)?.id().to_string())
    }

    fn read_file(&self, path: &str, rev: &str) -> Result<Option<Vec<u8>>, ForgeError> {
        let action = format!("reading `{path}` at `{rev}`");
        let tree = self.commit(rev)?.tree().map_err(|e| git(&action, &e))?;
        let full = format!("{}{path}", self.prefix);
        let entry = match tree.get_path(Path::new(&full)) {
            Ok(entry) => entry,
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(git(&action, &e)),
        };
        let blob = entry
            .to_object(&self.repo)
            .and_then(|o| o.peel_to_blob())
            .map_err(|e| git(&action, &e))?;
        Ok(Some(blob.content().to_vec()))
    }

    /// The files of the project folder, relative to it (as the config's paths are).
    fn list_tree(&self, rev: &str) -> Result<Vec<String>, ForgeError> {
        let action = format!("listing the files at `{rev}`");
        let tree = self.commit(rev)?.tree().map_err(|e| git(&action, &e))?;
        let all = crate::repo::tree_files(&tree, "").map_err(|e| git(&action, &e))?;
        Ok(all
            .into_iter()
            .filter_map(|p| p.strip_prefix(self.prefix.as_str()).map(str::to_owned))
            .collect())
    }

    fn is_on_branch(&self, sha: &str, branch: &str) -> Result<bool, ForgeError> {
        self.is_ancestor(sha, branch)
    }

    fn create_commit(
        &self,
        _: &str,
        _: &str,
        _: &str,
        _: &[FileChange],
    ) -> Result<String, ForgeError> {
        Err(refused())
    }

    fn set_branch(&self, _: &str, _: &str, _: bool) -> Result<(), ForgeError> {
        Err(refused())
    }

    fn list_open_prs(&self, _: &str) -> Result<Vec<PullRequest>, ForgeError> {
        Ok(Vec::new())
    }

    fn create_pr(&self, _: &PullRequestSpec) -> Result<PullRequest, ForgeError> {
        Err(refused())
    }

    fn update_pr(&self, _: u64, _: &PullRequestSpec) -> Result<PullRequest, ForgeError> {
        Err(refused())
    }

    fn close_pr(&self, _: u64, _: Option<&str>) -> Result<(), ForgeError> {
        Err(refused())
    }

    fn enable_auto_merge(&self, _: &PullRequest) -> Result<(), ForgeError> {
        Err(refused())
    }

    fn merge_pr(&self, _: u64) -> Result<String, ForgeError> {
        Err(refused())
    }

    fn create_tag(&self, _: &str, _: &str) -> Result<TagOutcome, ForgeError> {
        Err(refused())
    }

    fn comment(&self, _: u64, _: &str) -> Result<(), ForgeError> {
        Err(refused())
    }

    fn merge_methods(&self) -> Result<Vec<crate::forge::MergeMethod>, ForgeError> {
        Err(refused())
    }

    fn enable_auto_merge_as(
        &self,
        _: &PullRequest,
        _: crate::forge::MergeMethod,
    ) -> Result<(), ForgeError> {
        Err(refused())
    }

    fn merge_pr_as(&self, _: u64, _: crate::forge::MergeMethod) -> Result<String, ForgeError> {
        Err(refused())
    }
}

/// Statuses from a file in the REST list shape (`GET /commits/{sha}/statuses`).
fn statuses_from_file(path: &Path) -> anyhow::Result<Vec<CommitStatus>> {
    let bytes = fs_err::read(path)?;
    let list: Vec<serde_json::Value> = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{}: expected the REST list of statuses (`[{{\"context\": ..., \"state\": ...}}]`)",
            path.display()
        )
    })?;
    Ok(list
        .iter()
        .map(crate::forge::github::status_from_json)
        .collect())
}

/// The API, when the environment names a repository and gives a token.
fn api_from_env() -> anyhow::Result<Option<Box<dyn Forge>>> {
    let (Ok(token), Ok(repository)) = (
        std::env::var("GITHUB_TOKEN"),
        std::env::var("GITHUB_REPOSITORY"),
    ) else {
        return Ok(None);
    };
    let api_url =
        std::env::var("GITHUB_API_URL").unwrap_or_else(|_| "https://api.github.com".to_string());
    let forge = crate::forge::github::GitHubForge::new(crate::forge::github::GitHubConfig {
        api_url,
        graphql_url: std::env::var("GITHUB_GRAPHQL_URL").ok(),
        repository,
        token: Token::new(token),
        retry: {
            let env = crate::action::RunnerEnv::from_process();
            crate::forge::github::RetryPolicy::from_vars(|name| env.var(name))?
        },
    })?;
    Ok(Some(Box::new(forge)))
}

/// Replay the event of `args` and return what `promote run` would do, with nothing written.
pub fn replay(args: &PlanArgs) -> anyhow::Result<(Config, Outcome)> {
    let name = args.event_name.as_deref().context("--event-name")?;
    let path = args.event_path.as_deref().context("--event-path")?;
    let overrides = Overrides {
        from: args.from.clone(),
        to: args.to.clone(),
        components: args.components.clone(),
        pins: args
            .pins
            .iter()
            .map(|p| crate::plan::parse_pin(p))
            .collect::<Result<_, _>>()?,
        force: args.force,
        dry_run: true,
        delivery: None,
        commit_mode: None,
    };
    let trigger = with_inputs(event::parse(name, &fs_err::read(path)?)?, &overrides);
    let config = super::project::load_config(&args.project)?;
    let mut statuses = match &args.statuses {
        Some(file) => statuses_from_file(file)?,
        None => Vec::new(),
    };
    // The event's own status is a status of its commit (older than any listed).
    if let Trigger::Status {
        context,
        state,
        sender,
        ..
    } = &trigger
    {
        statuses.push(CommitStatus {
            context: context.clone(),
            state: state.clone(),
            description: None,
            target_url: None,
            creator: sender.clone(),
            updated_at: None,
        });
    }
    let mut forge = LocalForge::open(&args.project.repo, statuses)?;
    if args.statuses.is_none() {
        forge.api = api_from_env()?;
    }
    if let Trigger::Ignored { reason } = &trigger {
        return Ok((
            config,
            Outcome {
                messages: vec![reason.clone()],
                ..Outcome::default()
            },
        ));
    }
    let out = Runner {
        config: &config,
        forge: &forge,
        git: None,
        overrides,
        open_prs: Default::default(),
    }
    .handle(&trigger)?;
    Ok((config, out))
}
