//! Delivery: land a set of file changes on a branch as one commit, a pull request, or one pull
//! request per component, plus tags; idempotent and safe against push races.
//!
//! Independent of the plan type: the caller turns its plan into a [`Delivery`] computed against
//! `base` (the target head it read), and passes a `replan` callback that computes a fresh
//! `Delivery` against another head. When the target moved, delivery re-plans instead of
//! overwriting someone else's edit; the promotion branch is never force-pushed.

use serde::Serialize;

use super::{
    FileChange, Forge, ForgeError, MergeMethod, PullRequest, PullRequestSpec, TagOutcome,
    ref_name_problem,
};

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
    /// How auto-merge merges; `None`: the repository's preferred allowed method
    /// ([`MergeMethod::preferred`]).
    pub merge_method: Option<MergeMethod>,
    /// Exact head branches (promote's own) whose open pull requests into the target this
    /// delivery supersedes when it did not write them. Never a prefix: a person's
    /// `promote/int-to-live-hotfix` is not promote's.
    pub supersedes: Vec<String>,
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

/// Everything one delivery lands, computed against `base`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub target_branch: String,
    /// The target head the contents were computed against.
    pub base: String,
    pub mode: DeliveryMode,
    /// Commit message (modes `commit` and `pull-request`). Its `Promoted-From:` line, if any,
    /// identifies this delivery's commit when the answer to the commit call is lost.
    pub message: String,
    /// All file changes (modes `commit` and `pull-request`).
    pub files: Vec<FileChange>,
    pub pull_request: PullRequestOptions,
    /// Mode `pull-request-per-component`: one piece per component.
    pub components: Vec<ComponentDelivery>,
}

/// One tag to make sure of: `name` at `sha`, for `component`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagSpec {
    pub name: String,
    pub sha: String,
    pub component: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagReport {
    pub name: String,
    /// Where the tag points now.
    pub sha: String,
    pub outcome: TagOutcome,
}

/// A tag that was not made, and why (it points elsewhere, or its name is invalid).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldTag {
    pub name: String,
    pub component: String,
    pub reason: String,
}

/// What [`ensure_tags`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TagsReport {
    pub tags: Vec<TagReport>,
    pub held: Vec<HeldTag>,
}

/// What a delivery did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    /// The commit made on the target (mode `commit`); `None` when nothing changed.
    pub commit_sha: Option<String>,
    /// Pull requests opened, updated, or found already up to date.
    pub pull_requests: Vec<PullRequest>,
    /// Numbers of pull requests closed as superseded or no longer needed.
    pub closed_pull_requests: Vec<u64>,
    /// Numbers of pull requests with auto-merge enabled.
    pub auto_merge: Vec<u64>,
    /// Commit attempts, counting retries after the branch moved.
    pub attempts: u32,
    /// The pull-request modes: the open pull requests into the target as this delivery leaves
    /// them. Listed once before anything is written (one paginated listing, whatever the number
    /// of pieces) unless the caller gave its own listing ([`deliver_listed`]), then kept current
    /// with what the delivery opened, updated and closed, so that the caller's reconciliation
    /// needs no second listing. `None` in mode `commit`.
    pub open_pull_requests: Option<Vec<PullRequest>>,
    /// Something was written: a commit on the target or on a pull request branch, a new pull
    /// request, or a pull request's new title or body. Closing pull requests does not count.
    pub changed: bool,
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
}

/// Land `delivery` through `forge`. `replan(head)` recomputes the delivery against `head`
/// (`None`: nothing left to do there).
pub fn deliver<F, R, E>(
    forge: &F,
    delivery: &Delivery,
    replan: R,
) -> Result<DeliveryReport, DeliveryError>
where
    F: Forge + ?Sized,
    R: FnMut(&str) -> Result<Option<Delivery>, E>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    deliver_listed(forge, delivery, None, replan)
}

/// [`deliver`], with `open`: the open pull requests into the target as the caller listed them
/// earlier in this run (`None`: the pull-request modes list them here, once).
pub fn deliver_listed<F, R, E>(
    forge: &F,
    delivery: &Delivery,
    open: Option<Vec<PullRequest>>,
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
            deliver_pull_requests(forge, delivery, open, &mut replan)
        }
    }
}

/// Checked before anything is written: a pull request branch is a valid git ref name.
fn validate(delivery: &Delivery) -> Result<(), DeliveryError> {
    if delivery.mode == DeliveryMode::PullRequest && delivery.pull_request.branch.is_empty() {
        return Err(DeliveryError::Invalid(
            "delivery `pull-request` needs a branch name".to_owned(),
        ));
    }
    let branches: Vec<&str> = match delivery.mode {
        DeliveryMode::Commit => Vec::new(),
        DeliveryMode::PullRequest => vec![delivery.pull_request.branch.as_str()],
        DeliveryMode::PullRequestPerComponent => delivery
            .components
            .iter()
            .map(|c| c.branch.as_str())
            .collect(),
    };
    for branch in branches {
        if let Some(problem) = ref_name_problem(branch) {
            return Err(DeliveryError::Invalid(format!("branch {problem}")));
        }
    }
    Ok(())
}

/// The changes in `files` that differ from what `rev` holds.
fn effective_changes<F: Forge + ?Sized>(
    forge: &F,
    rev: &str,
    files: &[FileChange],
) -> Result<Vec<FileChange>, ForgeError> {
    let paths: Vec<String> = files.iter().map(|c| c.path.clone()).collect();
    let now = forge.read_files(rev, &paths)?;
    Ok(files
        .iter()
        .zip(now)
        .filter(|(change, now)| *now != change.contents)
        .map(|(change, _)| change.clone())
        .collect())
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
    // The first attempt builds on the head the delivery was planned on: a branch that moved
    // since refuses the commit (`expectedHeadOid`), and the next attempt reads the new head.
    let mut known_head = Some(delivery.base.clone());
    while report.attempts < MAX_ATTEMPTS {
        let head = match known_head.take() {
            Some(head) => head,
            None => forge.branch_head(branch)?,
        };
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
        let error = match forge.create_commit(branch, &head, &current.message, &files) {
            Ok(sha) => {
                report.commit_sha = Some(sha);
                report.changed = true;
                return Ok(report);
            }
            Err(e) => e,
        };
        // The answer may be lost although the commit landed (a retried request then meets
        // the moved branch): a commit on `head` with this delivery's trailer and contents is
        // this delivery's own.
        if let Some(sha) = landed_anyway(forge, branch, &head, &current)? {
            tracing::info!("{error}; but commit {sha} of this run landed");
            report.commit_sha = Some(sha);
            report.changed = true;
            return Ok(report);
        }
        match error {
            ForgeError::Conflict { what } => {
                tracing::info!("{what}; re-planning on the new head");
                backoff(report.attempts);
            }
            e => return Err(e.into()),
        }
    }
    Err(DeliveryError::Exhausted {
        branch: branch.clone(),
        attempts: report.attempts,
    })
}

/// How far back from the new head a lost commit is looked for.
const LOST_COMMIT_DEPTH: usize = 10;

/// The commit this delivery made on `parent` although the answer said otherwise: a child of
/// `parent` on `branch` whose message carries the delivery's `Promoted-From:` line and whose
/// tree holds every planned file. `None` without such a line.
fn landed_anyway<F: Forge + ?Sized>(
    forge: &F,
    branch: &str,
    parent: &str,
    delivery: &Delivery,
) -> Result<Option<String>, ForgeError> {
    let Some(trailer) = delivery
        .message
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with("Promoted-From:"))
    else {
        return Ok(None);
    };
    let head = forge.branch_head(branch)?;
    if head == parent {
        return Ok(None);
    }
    for commit in forge.recent_commits(&head, LOST_COMMIT_DEPTH)? {
        if commit.sha == parent {
            break;
        }
        let ours = commit.parents.first().map(String::as_str) == Some(parent)
            && commit.message.lines().any(|l| l.trim() == trailer);
        if ours && effective_changes(forge, &commit.sha, &delivery.files)?.is_empty() {
            return Ok(Some(commit.sha));
        }
    }
    Ok(None)
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

/// Make sure every tag exists, idempotently, and never move one. A tag that already points at
/// another commit is kept when `fine(component, sha)` says that commit is as good (it holds the
/// same version), and held otherwise; an invalid tag name is held. Forge errors (permissions,
/// outages) fail.
pub fn ensure_tags<F, A>(forge: &F, tags: &[TagSpec], mut fine: A) -> Result<TagsReport, ForgeError>
where
    F: Forge + ?Sized,
    A: FnMut(&TagSpec, &str) -> Result<bool, ForgeError>,
{
    let mut out = TagsReport::default();
    for tag in tags {
        let hold = |reason: String| HeldTag {
            name: tag.name.clone(),
            component: tag.component.clone(),
            reason,
        };
        if let Some(problem) = ref_name_problem(&tag.name) {
            out.held.push(hold(format!("tag {problem}")));
            continue;
        }
        match forge.create_tag(&tag.name, &tag.sha) {
            Ok(outcome) => out.tags.push(TagReport {
                name: tag.name.clone(),
                sha: tag.sha.clone(),
                outcome,
            }),
            Err(ForgeError::Conflict { what }) => {
                let existing = forge
                    .recent_commits(&tag.name, 1)?
                    .into_iter()
                    .next()
                    .map(|c| c.sha);
                match existing {
                    Some(sha) if fine(tag, &sha)? => out.tags.push(TagReport {
                        name: tag.name.clone(),
                        sha,
                        outcome: TagOutcome::Kept,
                    }),
                    Some(sha) => out.held.push(hold(format!(
                        "tag `{}` already points at {}, which does not hold this version; promote never moves a tag",
                        tag.name,
                        &sha[..sha.len().min(7)]
                    ))),
                    None => out.held.push(hold(what)),
                }
            }
            Err(e) => return Err(e),
        }
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
    open: Option<Vec<PullRequest>>,
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
    let mut method = current.pull_request.merge_method;
    // One listing of the open pull requests into the target serves every piece and the
    // superseded branches: a call per run, not one per component.
    let mut open = match open {
        Some(open) => open,
        None => forge.list_open_prs(&current.target_branch)?,
    };
    for piece in pieces(current) {
        let files = effective_changes(forge, &head, piece.files)?;
        let existing = open
            .iter()
            .find(|pr| pr.head == piece.branch && pr.base == current.target_branch)
            .cloned();
        if files.is_empty() {
            if let Some(pr) = existing {
                let note = "closed by promote: the target already has these versions";
                forge.close_pr(pr.number, Some(note))?;
                report.closed_pull_requests.push(pr.number);
                open.retain(|o| o.number != pr.number);
            }
            continue;
        }
        written.push(piece.branch.to_owned());
        // Without an open pull request nothing looks at the branch: writing it again is
        // harmless, so it is not compared first (one call less).
        if existing.is_none() || !branch_holds(forge, piece.branch, &head, &files)? {
            report.attempts += commit_on_own_branch(forge, &piece, &head, &files)?;
            report.changed = true;
        }
        let pr = match existing {
            Some(pr) if pr.title == piece.spec.title && pr.body == piece.spec.body => pr,
            Some(pr) => {
                report.changed = true;
                forge.update_pr(pr.number, &piece.spec)?
            }
            None => {
                report.changed = true;
                forge.create_pr(&piece.spec)?
            }
        };
        open.retain(|o| o.number != pr.number);
        open.push(pr.clone());
        if current.pull_request.auto_merge {
            let how = match method {
                Some(m) => m,
                None => {
                    let allowed = forge.merge_methods()?;
                    let m = MergeMethod::preferred(&allowed).ok_or_else(|| {
                        DeliveryError::Invalid(
                            "auto-merge: the repository allows no merge method".to_owned(),
                        )
                    })?;
                    method = Some(m);
                    m
                }
            };
            forge.enable_auto_merge_as(&pr, how)?;
            report.auto_merge.push(pr.number);
        }
        report.pull_requests.push(pr);
    }
    close_superseded(forge, current, &written, &mut open, &mut report)?;
    report.open_pull_requests = Some(open);
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
        match forge.reset_and_commit(piece.branch, head, piece.message, files) {
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
    open: &mut Vec<PullRequest>,
    report: &mut DeliveryReport,
) -> Result<(), ForgeError> {
    let own: Vec<&String> = delivery
        .pull_request
        .supersedes
        .iter()
        .filter(|b| !written.contains(b))
        .collect();
    if own.is_empty() || report.pull_requests.is_empty() {
        return Ok(());
    }
    let by = report
        .pull_requests
        .iter()
        .map(|p| format!("#{}", p.number))
        .collect::<Vec<_>>()
        .join(", ");
    // Exact names in the listing made before writing.
    let superseded: Vec<u64> = open
        .iter()
        .filter(|pr| own.contains(&&pr.head) && pr.base == delivery.target_branch)
        .map(|pr| pr.number)
        .filter(|n| !report.closed_pull_requests.contains(n))
        .collect();
    for number in superseded {
        forge.close_pr(number, Some(&format!("superseded by {by}")))?;
        report.closed_pull_requests.push(number);
        open.retain(|o| o.number != number);
    }
    Ok(())
}
