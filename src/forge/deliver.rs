//! Delivery: land a set of file changes on a branch as one commit, a pull request, or one pull
//! request per component, plus tags; idempotent and safe against push races.
//!
//! Independent of the plan type: the caller turns its plan into a [`Delivery`] computed against
//! `base` (the target head it read), and passes a `replan` callback that computes a fresh
//! `Delivery` against another head. When the target moved, delivery re-plans instead of
//! overwriting someone else's edit; the promotion branch is never force-pushed.

use serde::Serialize;

use super::{FileChange, Forge, ForgeError, PullRequest, PullRequestSpec, TagOutcome};

/// How many times a commit is re-planned and retried after the branch moved.
pub const MAX_ATTEMPTS: u32 = 8;

/// How the changes land.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryMode {
    Commit,
    PullRequest,
    PullRequestPerComponent,
}

/// Options shared by the pull-request modes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PullRequestOptions {
    /// Head branch of the single pull request, e.g. `promote/dev-to-live`.
    pub branch: String,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub auto_merge: bool,
    /// Open pull requests into the target whose head starts with this prefix, and which this
    /// delivery did not write, are closed as superseded.
    pub supersede_prefix: Option<String>,
}

/// One component's own pull request (`pull-request-per-component`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentDelivery {
    pub component: String,
    pub version: String,
    /// e.g. `promote/live/cilium`.
    pub branch: String,
    pub message: String,
    pub title: String,
    pub body: String,
    pub files: Vec<FileChange>,
}

/// Where a tag points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TagTarget {
    /// The commit this delivery makes (mode `commit` only).
    PromotedCommit,
    Sha(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagSpec {
    pub name: String,
    pub at: TagTarget,
}

/// Everything one delivery lands, computed against `base`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub target_branch: String,
    /// The target head the contents were computed against.
    pub base: String,
    pub mode: DeliveryMode,
    /// Commit message (modes `commit` and `pull-request`).
    pub message: String,
    /// All file changes (modes `commit` and `pull-request`).
    pub files: Vec<FileChange>,
    pub pull_request: PullRequestOptions,
    /// Mode `pull-request-per-component`: one piece per component.
    pub components: Vec<ComponentDelivery>,
    pub tags: Vec<TagSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagReport {
    pub name: String,
    pub sha: String,
    pub outcome: TagOutcome,
}

/// What a delivery did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    /// The commit made on the target (mode `commit`); `None` when nothing changed.
    pub commit_sha: Option<String>,
    /// Pull requests opened or updated.
    pub pull_requests: Vec<PullRequest>,
    /// Numbers of pull requests closed as superseded or no longer needed.
    pub closed_pull_requests: Vec<u64>,
    /// Numbers of pull requests with auto-merge enabled.
    pub auto_merge: Vec<u64>,
    pub tags: Vec<TagReport>,
    /// Commit attempts, counting retries after the branch moved.
    pub attempts: u32,
}

/// Why a delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Forge(#[from] ForgeError),
    #[error("re-planning against {head} failed: {source}")]
    Replan {
        head: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(
        "branch `{branch}` kept moving: gave up after {attempts} attempts\nhint: run again once the pushes settle"
    )]
    Exhausted { branch: String, attempts: u32 },
    #[error("{0}")]
    Invalid(String),
    #[error("tag `{name}`: {source}{}", landed.as_ref().map(|s| format!("\nnote: commit {s} already landed")).unwrap_or_default())]
    Tag {
        name: String,
        landed: Option<String>,
        source: ForgeError,
    },
}

/// Land `delivery` through `forge`. `replan(head)` recomputes the delivery against `head`
/// (`None`: nothing left to do there).
pub fn deliver<F, R, E>(
    forge: &F,
    delivery: &Delivery,
    mut replan: R,
) -> Result<DeliveryReport, DeliveryError>
where
    F: Forge + ?Sized,
    R: FnMut(&str) -> Result<Option<Delivery>, E>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    validate(delivery)?;
    let mut replan = |head: &str| {
        let fresh = replan(head).map_err(|e| DeliveryError::Replan {
            head: head.to_owned(),
            source: e.into(),
        })?;
        if let Some(fresh) = &fresh {
            validate(fresh)?;
        }
        Ok::<_, DeliveryError>(fresh)
    };
    match delivery.mode {
        DeliveryMode::Commit => deliver_commit(forge, delivery, &mut replan),
        DeliveryMode::PullRequest | DeliveryMode::PullRequestPerComponent => {
            deliver_pull_requests(forge, delivery, &mut replan)
        }
    }
}

fn validate(delivery: &Delivery) -> Result<(), DeliveryError> {
    let promoted = delivery
        .tags
        .iter()
        .find(|t| t.at == TagTarget::PromotedCommit);
    if let (Some(tag), false) = (promoted, delivery.mode == DeliveryMode::Commit) {
        return Err(DeliveryError::Invalid(format!(
            "tag `{}` on the promoted commit needs delivery `commit`\nhint: a pull request's commit lands only when it is merged",
            tag.name
        )));
    }
    if delivery.mode == DeliveryMode::PullRequest && delivery.pull_request.branch.is_empty() {
        return Err(DeliveryError::Invalid(
            "delivery `pull-request` needs a branch name".to_owned(),
        ));
    }
    Ok(())
}

/// The changes in `files` that differ from what `rev` holds.
fn effective_changes<F: Forge + ?Sized>(
    forge: &F,
    rev: &str,
    files: &[FileChange],
) -> Result<Vec<FileChange>, ForgeError> {
    let mut out = Vec::new();
    for change in files {
        if forge.read_file(&change.path, rev)? != change.contents {
            out.push(change.clone());
        }
    }
    Ok(out)
}

type Replan<'a> = dyn FnMut(&str) -> Result<Option<Delivery>, DeliveryError> + 'a;

fn deliver_commit<F: Forge + ?Sized>(
    forge: &F,
    delivery: &Delivery,
    replan: &mut Replan<'_>,
) -> Result<DeliveryReport, DeliveryError> {
    let branch = &delivery.target_branch;
    let mut current = delivery.clone();
    let mut report = DeliveryReport::default();
    while report.attempts < MAX_ATTEMPTS {
        let head = forge.branch_head(branch)?;
        if head != current.base {
            match replan(&head)? {
                Some(fresh) => {
                    current = Delivery {
                        base: head.clone(),
                        ..fresh
                    }
                }
                None => return Ok(report),
            }
        }
        let files = effective_changes(forge, &head, &current.files)?;
        if files.is_empty() {
            return Ok(report);
        }
        report.attempts += 1;
        match forge.create_commit(branch, &head, &current.message, &files) {
            Ok(sha) => {
                report.tags = create_tags(forge, &current.tags, Some(&sha))?;
                report.commit_sha = Some(sha);
                return Ok(report);
            }
            Err(ForgeError::Conflict { what }) => {
                tracing::info!("{what}; re-planning on the new head");
                backoff(report.attempts);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(DeliveryError::Exhausted {
        branch: branch.clone(),
        attempts: report.attempts,
    })
}

/// Wait a little before retrying a commit that lost a race, with jitter so that racers spread
/// out instead of colliding again: up to 25 ms, 50 ms, 100 ms, ... (at most 1.6 s).
fn backoff(attempt: u32) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let seed = u64::from(nanos ^ std::process::id().wrapping_mul(2_654_435_761));
    let cap = 25u64 << attempt.min(6);
    std::thread::sleep(std::time::Duration::from_millis(seed % cap + 1));
}

fn create_tags<F: Forge + ?Sized>(
    forge: &F,
    tags: &[TagSpec],
    promoted: Option<&str>,
) -> Result<Vec<TagReport>, DeliveryError> {
    let mut out = Vec::new();
    for tag in tags {
        let sha = match (&tag.at, promoted) {
            (TagTarget::Sha(sha), _) => sha.clone(),
            (TagTarget::PromotedCommit, Some(sha)) => sha.to_owned(),
            (TagTarget::PromotedCommit, None) => continue,
        };
        let outcome = forge
            .create_tag(&tag.name, &sha)
            .map_err(|source| DeliveryError::Tag {
                name: tag.name.clone(),
                landed: promoted.map(str::to_owned),
                source,
            })?;
        out.push(TagReport {
            name: tag.name.clone(),
            sha,
            outcome,
        });
    }
    Ok(out)
}

/// One pull request to open or refresh.
struct Piece<'a> {
    branch: &'a str,
    message: &'a str,
    files: &'a [FileChange],
    spec: PullRequestSpec,
}

fn pieces(delivery: &Delivery) -> Vec<Piece<'_>> {
    let opts = &delivery.pull_request;
    let spec = |head: &str, title: &str, body: &str| PullRequestSpec {
        head: head.to_owned(),
        base: delivery.target_branch.clone(),
        title: title.to_owned(),
        body: body.to_owned(),
        labels: opts.labels.clone(),
    };
    match delivery.mode {
        DeliveryMode::PullRequestPerComponent => delivery
            .components
            .iter()
            .map(|c| Piece {
                branch: &c.branch,
                message: &c.message,
                files: &c.files,
                spec: spec(&c.branch, &c.title, &c.body),
            })
            .collect(),
        _ => vec![Piece {
            branch: &opts.branch,
            message: &delivery.message,
            files: &delivery.files,
            spec: spec(&opts.branch, &opts.title, &opts.body),
        }],
    }
}

fn deliver_pull_requests<F: Forge + ?Sized>(
    forge: &F,
    delivery: &Delivery,
    replan: &mut Replan<'_>,
) -> Result<DeliveryReport, DeliveryError> {
    let mut report = DeliveryReport::default();
    let head = forge.branch_head(&delivery.target_branch)?;
    let current = if head == delivery.base {
        delivery.clone()
    } else {
        // Nothing left at the new head: an empty delivery closes what is no longer needed.
        replan(&head)?.unwrap_or_else(|| Delivery {
            files: Vec::new(),
            components: Vec::new(),
            ..delivery.clone()
        })
    };
    let current = &current;
    let mut written = Vec::new();
    for piece in pieces(current) {
        let files = effective_changes(forge, &head, piece.files)?;
        let existing = forge.find_open_pr(piece.branch, &current.target_branch)?;
        if files.is_empty() {
            if let Some(pr) = existing {
                let note = "closed by promote: the target already has these versions";
                forge.close_pr(pr.number, Some(note))?;
                report.closed_pull_requests.push(pr.number);
            }
            continue;
        }
        written.push(piece.branch.to_owned());
        if !branch_holds(forge, piece.branch, &head, &files)? {
            report.attempts += commit_on_own_branch(forge, &piece, &head, &files)?;
        }
        let pr = match existing {
            Some(pr) => forge.update_pr(pr.number, &piece.spec)?,
            None => forge.create_pr(&piece.spec)?,
        };
        if current.pull_request.auto_merge {
            forge.enable_auto_merge(&pr)?;
            report.auto_merge.push(pr.number);
        }
        report.pull_requests.push(pr);
    }
    close_superseded(forge, current, &written, &mut report)?;
    report.tags = create_tags(forge, &current.tags, None)?;
    Ok(report)
}

/// Whether `branch` already builds on `head` and holds every change.
fn branch_holds<F: Forge + ?Sized>(
    forge: &F,
    branch: &str,
    head: &str,
    files: &[FileChange],
) -> Result<bool, ForgeError> {
    match forge.is_on_branch(head, branch) {
        Ok(true) => Ok(effective_changes(forge, branch, files)?.is_empty()),
        Ok(false) | Err(ForgeError::NotFound { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Reset promote's own branch to `head` (force is fine: only promote writes it) and commit.
fn commit_on_own_branch<F: Forge + ?Sized>(
    forge: &F,
    piece: &Piece<'_>,
    head: &str,
    files: &[FileChange],
) -> Result<u32, DeliveryError> {
    for attempt in 1..=MAX_ATTEMPTS {
        forge.set_branch(piece.branch, head, true)?;
        match forge.create_commit(piece.branch, head, piece.message, files) {
            Ok(_) => return Ok(attempt),
            Err(ForgeError::Conflict { what }) => {
                tracing::info!("{what}; another run wrote `{}`, resetting", piece.branch);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(DeliveryError::Exhausted {
        branch: piece.branch.to_owned(),
        attempts: MAX_ATTEMPTS,
    })
}

fn close_superseded<F: Forge + ?Sized>(
    forge: &F,
    delivery: &Delivery,
    written: &[String],
    report: &mut DeliveryReport,
) -> Result<(), ForgeError> {
    let Some(prefix) = &delivery.pull_request.supersede_prefix else {
        return Ok(());
    };
    let by = match report.pull_requests.as_slice() {
        [] => "a newer promotion".to_owned(),
        prs => prs
            .iter()
            .map(|p| format!("#{}", p.number))
            .collect::<Vec<_>>()
            .join(", "),
    };
    for pr in forge.list_open_prs(prefix)? {
        let ours = written.contains(&pr.head) || report.closed_pull_requests.contains(&pr.number);
        if ours || pr.base != delivery.target_branch {
            continue;
        }
        forge.close_pr(pr.number, Some(&format!("superseded by {by}")))?;
        report.closed_pull_requests.push(pr.number);
    }
    Ok(())
}
