//! Carrying out one event: decide, gate, plan and deliver through a `Forge`.
//!
//! Every file is read through the forge at an exact revision (the reported commit for the
//! source, the target branch's head for the target), so a shallow checkout never matters and a
//! later commit on the branch is never what gets promoted.

#![deny(clippy::indexing_slicing)]

use std::collections::HashMap;

use anyhow::Context;
use serde::Serialize;

use crate::config::{CommitMode, Config, DeliveryKind, Promotion};
use crate::event::Trigger;
use crate::forge::deliver::{self, Delivery, DeliveryMode, PullRequestOptions, TagSpec};
use crate::forge::{FileChange, Forge, PullRequest, ref_name_problem};
use crate::gate::{self, Decision, Eligibility, Request, SourceRev, Subject, Verdict};
use crate::plan::{self, Plan, PlanOptions};
use crate::repo::{Files, ForgeFiles};

/// One promoted component, as the `promoted` output lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Promoted {
    pub component: String,
    pub from: String,
    pub to: String,
}

/// One held component, as the `held` output lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Held {
    pub component: String,
    pub reason: String,
}

/// What a run did, across the promotions an event started.
#[derive(Debug, Default, Serialize)]
pub struct Outcome {
    pub promoted: Vec<Promoted>,
    pub held: Vec<Held>,
    pub changed: bool,
    pub commit_sha: Option<String>,
    pub pull_requests: Vec<serde_json::Value>,
    pub messages: Vec<String>,
    pub summary: String,
    /// Every plan made, in order (a replay prints them).
    #[serde(skip)]
    pub plans: Vec<Plan>,
}

/// Inputs that can override what the event says (action inputs).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub from: Option<String>,
    pub to: Option<String>,
    pub components: Vec<String>,
    pub pins: Vec<(String, String)>,
    pub force: bool,
    pub dry_run: bool,
    pub delivery: Option<DeliveryKind>,
    /// The `commit-mode` input: overrides every promotion's own.
    pub commit_mode: Option<CommitMode>,
}

impl Overrides {
    fn apply(&self, r: &mut Request) {
        if !self.components.is_empty() {
            r.components = self.components.clone();
        }
        r.pins.extend(self.pins.iter().cloned());
        r.force |= self.force;
        r.dry_run |= self.dry_run;
        if self.force {
            r.check_statuses = false;
        }
    }
}

/// Turn a workflow_dispatch into one that honours the action's `from`/`to` inputs.
pub fn with_inputs(trigger: Trigger, o: &Overrides) -> Trigger {
    match trigger {
        Trigger::Dispatch {
            from,
            to,
            components,
            force,
            dry_run,
            pins,
        } => Trigger::Dispatch {
            from: o.from.clone().or(from),
            to: o.to.clone().or(to),
            components,
            force,
            dry_run,
            pins,
        },
        t => t,
    }
}

/// Everything one run needs: config, forge, and choices.
pub struct Runner<'a> {
    pub config: &'a Config,
    /// Where decisions are read and, for `commit-mode = api`, commits are made.
    pub forge: &'a dyn Forge,
    /// For promotions in `commit-mode = git` when `forge` is the API: commits pushed with git.
    pub git: Option<&'a dyn Forge>,
    pub overrides: Overrides,
    /// The open pull requests into each target branch, listed once a run (`list_open_prs`)
    /// and kept current with what the run's deliveries and reconciliations opened, updated
    /// and closed: every component, promotion and reconciliation of the run looks up its pull
    /// requests there.
    pub open_prs: std::cell::RefCell<HashMap<String, Vec<PullRequest>>>,
}

impl Runner<'_> {
    /// Carry out an event end to end.
    pub fn handle(&self, trigger: &Trigger) -> anyhow::Result<Outcome> {
        let mut out = Outcome::default();
        let decision = gate::decide(trigger, self.config)?;
        tracing::info!("event: {trigger:?}");
        tracing::info!("decision: {decision:?}");
        match decision {
            Decision::Nothing(why) => out.messages.push(why),
            Decision::Promote(requests) => {
                for mut req in requests {
                    self.overrides.apply(&mut req);
                    self.promote(&req, None, &mut out)?;
                }
            }
            Decision::Changed {
                branch,
                before,
                after,
            } => self.changed(&branch, before.as_deref(), &after, &mut out)?,
        }
        Ok(out)
    }

    /// A push (or merge) to `branch`: every environment whose components changed promotes on,
    /// through the same gate as a status event.
    fn changed(
        &self,
        branch: &str,
        before: Option<&str>,
        after: &str,
        out: &mut Outcome,
    ) -> anyhow::Result<()> {
        // A merge (or a new branch) compares with the first parent of what landed.
        let first_parent;
        let before = match before {
            Some(b) => Some(b),
            None => {
                first_parent = self
                    .forge
                    .recent_commits(after, 1)?
                    .into_iter()
                    .next()
                    .and_then(|c| c.parents.into_iter().next());
                first_parent.as_deref()
            }
        };
        let mut any = false;
        for env in &self.config.environments {
            if self.config.branch_of(&env.name) != branch {
                continue;
            }
            let promotions: Vec<&Promotion> = self
                .config
                .promotions
                .iter()
                .filter(|p| p.from == env.name)
                .collect();
            if promotions.is_empty() {
                continue;
            }
            let now = plan::inventory(self.config, &env.name, &ForgeFiles::new(self.forge, after))?;
            let changed: Vec<String> = match before {
                Some(before) => {
                    let then = plan::inventory(
                        self.config,
                        &env.name,
                        &ForgeFiles::new(self.forge, before),
                    )?;
                    let then = then.index();
                    now.components
                        .iter()
                        .filter(|c| {
                            then.get(c.id.as_str())
                                .is_none_or(|t| t.version != c.version)
                        })
                        .map(|c| c.id.to_string())
                        .collect()
                }
                None => now.components.iter().map(|c| c.id.to_string()).collect(),
            };
            if changed.is_empty() {
                continue;
            }
            for p in promotions {
                // Only what the promotion carries; one that carries nothing changed does not run.
                let carried = plan::Carried::of(self.config, p)?;
                let mut candidates: Vec<String> = now
                    .components
                    .iter()
                    .filter(|c| changed.iter().any(|id| id == c.id.as_str()) && carried.admits(c))
                    .map(|c| c.id.to_string())
                    .collect();
                if candidates.is_empty() {
                    continue;
                }
                // An open promotion pull request carries what earlier pushes changed: keep it
                // (still gated at this commit), or the rewritten PR would drop it.
                for id in self.pending_in_pr(p)? {
                    if !candidates.contains(&id) {
                        candidates.push(id);
                    }
                }
                any = true;
                let mut req = Request::new(p, SourceRev::Commit(after.to_string()));
                self.overrides.apply(&mut req);
                self.promote(&req, Some(&candidates), out)?;
            }
        }
        if !any {
            out.messages.push(format!(
                "the push to `{branch}` changed no component that promotes onward"
            ));
        }
        // A merged promotion pull request lands here: tags of the promotions into `branch`
        // are made on what landed.
        for p in &self.config.promotions {
            if p.tag.is_none() || self.config.branch_of(&p.to) != branch || self.overrides.dry_run {
                continue;
            }
            let source_sha = self.forge.branch_head(self.config.branch_of(&p.from))?;
            let source = plan::carried(
                self.config,
                p,
                plan::inventory(
                    self.config,
                    &p.from,
                    &ForgeFiles::new(self.forge, &source_sha),
                )?,
            )?;
            self.ensure_tags(p, &source, after, out)?;
        }
        Ok(())
    }

    /// The open pull requests into `target`: listed the first time the run asks, then as the
    /// run left them.
    fn open_prs(&self, target: &str) -> anyhow::Result<Vec<PullRequest>> {
        if let Some(known) = self.open_prs.borrow().get(target) {
            return Ok(known.clone());
        }
        let listed = self.forge.list_open_prs(target)?;
        self.open_prs
            .borrow_mut()
            .insert(target.to_owned(), listed.clone());
        Ok(listed)
    }

    /// The components an open single pull request of `p` promotes (its commit's `- id` lines).
    fn pending_in_pr(&self, p: &Promotion) -> anyhow::Result<Vec<String>> {
        let kind = self.overrides.delivery.unwrap_or(p.delivery);
        if kind != DeliveryKind::PullRequest {
            return Ok(Vec::new());
        }
        let target = self.config.branch_of(&p.to);
        let branch = p.pr_branch();
        let Some(pr) = self
            .open_prs(target)?
            .into_iter()
            .find(|pr| pr.head == branch && pr.base == target)
        else {
            return Ok(Vec::new());
        };
        let Some(commit) = self.forge.recent_commits(&pr.head, 1)?.into_iter().next() else {
            return Ok(Vec::new());
        };
        Ok(gate::history::moved(&commit.message)
            .map(|(id, _)| id.to_string())
            .collect())
    }

    /// The gate's answer for `req` at `source_sha`: statuses and check runs (unless forced),
    /// restricted to what a push changed or a Flux event names. `checks`: already read.
    #[allow(clippy::too_many_arguments)]
    fn eligibility(
        &self,
        req: &Request,
        promotion: &Promotion,
        source_sha: &str,
        inventory: &plan::EnvInventory,
        changed: Option<&[String]>,
        checks: Option<crate::forge::CommitChecks>,
        out: &mut Outcome,
    ) -> anyhow::Result<Eligibility> {
        let ids: Vec<String> = inventory
            .components
            .iter()
            .map(|c| c.id.to_string())
            .collect();
        let mut e = if req.force {
            Eligibility::all("forced")
        } else if req.check_statuses {
            let checks = match checks {
                Some(checks) => checks,
                None => self.forge.list_checks(source_sha)?,
            };
            let check_runs = checks.check_runs;
            let mut statuses = checks.statuses;
            // Only the newest status per context: when that one is by someone untrusted, an
            // older trusted one may count, and only the whole list has it.
            let creators = &promotion.gate.creators;
            if checks.latest_only
                && !creators.is_empty()
                && statuses
                    .iter()
                    .any(|s| !s.creator.as_ref().is_some_and(|c| creators.contains(c)))
            {
                statuses = self.forge.list_statuses(source_sha)?;
            }
            let subjects: Vec<Subject> = inventory
                .components
                .iter()
                .map(|e| e.subject(self.config))
                .collect();
            let e = gate::from_statuses(
                &promotion.gate,
                &promotion.from,
                promotion.partial,
                &subjects,
                &statuses,
                &check_runs,
            )?;
            out.messages.extend(e.notes.iter().cloned());
            if promotion.gate.creators.is_empty() {
                out.summary.push_str(&format!(
                    "> [!NOTE]\n> `{} -> {}` trusts statuses and check runs from anyone with write access: `creators` is empty. List the logins that report (Flux's token owner, `github-actions`) in `[promotion.gate] creators`.\n\n",
                    promotion.from, promotion.to
                ));
            }
            e
        } else if promotion.gate.is_gated() {
            Eligibility::all("requested")
        } else {
            Eligibility::all("no gate configured")
        };
        if let Some(changed) = changed {
            e.restrict(&ids, changed, "not changed by this push");
            // The push moved them forward in the source's history: that orders their versions.
            e.newer.extend(changed.iter().cloned());
        }
        for c in &inventory.components {
            tracing::debug!(
                "gate {} -> {}: {}: {:?}",
                req.from,
                req.to,
                c.id,
                e.verdict(&c.id)
            );
        }
        if let Some(name) = &req.only_component {
            let keep: Vec<String> = inventory
                .components
                .iter()
                .filter(|c| c.subject(self.config).named_by(name))
                .map(|c| c.id.to_string())
                .collect();
            e.restrict(
                &ids,
                &keep,
                &format!("Flux reported `{name}`, not this component"),
            );
        }
        Ok(e)
    }

    /// Staleness by history: a component whose source commit is (an ancestor of) the one the
    /// target's version was last promoted from is held; one whose source commit descends from it
    /// is marked newer, so that versions that cannot be ordered may still move forward.
    fn judge_history(
        &self,
        req: &Request,
        history: &[crate::forge::CommitSummary],
        source_sha: &str,
        e: &mut Eligibility,
        inventory: &plan::EnvInventory,
    ) -> anyhow::Result<()> {
        let records = gate::history::records(&req.from, &req.to, history);
        let mut ancestry: HashMap<String, (bool, bool)> = HashMap::new();
        for c in &inventory.components {
            let pinned = req.pins.iter().any(|(k, _)| *k == c.id || *k == c.name());
            if pinned || matches!(e.verdict(&c.id), Verdict::Held { .. }) {
                continue;
            }
            let Some(r) = records.get(c.id.as_str()) else {
                continue;
            };
            let (stale, newer) = match ancestry.get(&r.source_sha) {
                Some(known) => *known,
                None => {
                    let stale = self.forge.is_ancestor(source_sha, &r.source_sha)?;
                    let newer = !stale && self.forge.is_ancestor(&r.source_sha, source_sha)?;
                    ancestry.insert(r.source_sha.clone(), (stale, newer));
                    (stale, newer)
                }
            };
            tracing::debug!(
                "history: {} last promoted from {} in {}: stale={stale} newer={newer}",
                c.id,
                short(&r.source_sha),
                short(&r.commit)
            );
            if stale {
                e.hold(
                    &c.id,
                    format!(
                        "stale: `{}` already has what `{}` had at {} (promoted as {} in {}); use `pin` or `force` to move it anyway",
                        req.to,
                        req.from,
                        short(&r.source_sha),
                        r.version,
                        short(&r.commit)
                    ),
                );
            } else if newer {
                e.newer.insert(c.id.to_string());
            }
        }
        Ok(())
    }

    fn promote(
        &self,
        req: &Request,
        changed: Option<&[String]>,
        out: &mut Outcome,
    ) -> anyhow::Result<()> {
        let promotion = self
            .config
            .promotion(&req.from, &req.to)
            .context("promotion vanished")?;
        let mode = self.overrides.commit_mode.unwrap_or(promotion.commit_mode);
        if let (CommitMode::Git, Some(git)) = (mode, self.git) {
            let runner = Runner {
                config: self.config,
                forge: git,
                git: None,
                overrides: self.overrides.clone(),
                open_prs: Default::default(),
            };
            return runner.promote(req, changed, out);
        }
        let source_branch = self.config.branch_of(&req.from).to_string();
        let target_branch = self.config.branch_of(&req.to).to_string();
        let same_branch = source_branch == target_branch;
        // The target's history (for staleness) is read once. Its newest commit is the target's
        // head; on one branch it is the source's head too, and it shows the source commit there.
        let history = |this: &Self| {
            this.forge
                .recent_commits(&target_branch, gate::history::HISTORY_LIMIT)
        };
        let mut checks = None;
        let mut target_history = match (&req.source, req.force, same_branch) {
            // A reported commit's statuses come with the history, in one query where it can.
            (SourceRev::Commit(sha), false, true) if req.check_statuses => {
                let (h, c) = self.forge.history_and_checks(
                    &target_branch,
                    gate::history::HISTORY_LIMIT,
                    sha,
                )?;
                checks = Some(c);
                Some(h)
            }
            (_, false, true) => Some(history(self)?),
            _ => None,
        };
        let newest = |h: &Option<Vec<crate::forge::CommitSummary>>| {
            h.as_ref().and_then(|h| h.first()).map(|c| c.sha.clone())
        };
        let source_sha = match &req.source {
            SourceRev::Head => match newest(&target_history) {
                Some(head) => head,
                None => self.forge.branch_head(&source_branch)?,
            },
            SourceRev::Commit(sha) => {
                let seen = target_history
                    .as_ref()
                    .is_some_and(|h| h.iter().any(|c| &c.sha == sha));
                if !seen && !self.forge.is_on_branch(sha, &source_branch)? {
                    out.messages.push(format!(
                        "commit {} is not on {source_branch}; nothing promoted",
                        short(sha)
                    ));
                    return Ok(());
                }
                sha.clone()
            }
        };
        let source = ForgeFiles::new(self.forge, &source_sha);
        if same_branch {
            // Both environments' files at the source commit in one batch: the target's are
            // those when the branch has not moved since.
            let mut wanted = plan::inventory_paths(self.config, &req.from, &source)?;
            wanted.extend(plan::inventory_paths(self.config, &req.to, &source)?);
            source.prefetch(&wanted)?;
        }
        let inventory = plan::carried(
            self.config,
            promotion,
            plan::inventory(self.config, &req.from, &source)?,
        )?;
        let mut eligibility = self.eligibility(
            req,
            promotion,
            &source_sha,
            &inventory,
            changed,
            checks,
            out,
        )?;
        // A push or merge comes before its statuses: say so and leave it to the status event.
        if changed.is_some() && req.check_statuses && eligibility.waiting {
            out.messages.push(format!(
                "{} -> {}: waiting for statuses at {}: nothing reported for `{}` yet; the status event that follows promotes",
                req.from,
                req.to,
                short(&source_sha),
                req.from
            ));
            return Ok(());
        }
        if !req.force {
            if target_history.is_none() {
                target_history = Some(history(self)?);
            }
            self.judge_history(
                req,
                target_history.as_deref().unwrap_or_default(),
                &source_sha,
                &mut eligibility,
                &inventory,
            )?;
        }
        let opts = PlanOptions {
            components: req.components.clone(),
            groups: Vec::new(),
            pins: req.pins.clone(),
            force: req.force,
            add_missing: false,
            preview: false,
        };
        let head = match newest(&target_history) {
            Some(head) => head,
            None => self.forge.branch_head(&target_branch)?,
        };
        let plan_at = |head: &str| -> Result<Plan, plan::PlanError> {
            // Source and target on one branch at one commit: its files (and tree) read once.
            let fresh;
            let target = if head == source_sha {
                &source
            } else {
                fresh = ForgeFiles::new(self.forge, head);
                &fresh
            };
            let (mut p, _) = plan::build_unrendered(
                self.config,
                promotion,
                &source,
                target,
                &eligibility,
                &opts,
            )?;
            p.source_at = source_sha.clone();
            p.commit_message = plan::render::commit_message(promotion, &p);
            p.pr_body = plan::render::pr_body(promotion, &p);
            Ok(p)
        };
        let plan = plan_at(&head)?;
        tracing::info!(
            "plan {} -> {} at {}: {} to change, {} held",
            req.from,
            req.to,
            short(&source_sha),
            plan.changes().count(),
            plan.held().count()
        );
        out.plans.push(plan.clone());
        out.summary.push_str(&plan::render::markdown(&plan, &[]));
        out.held.extend(plan.held().map(|i| Held {
            component: i.id.to_string(),
            reason: i.reason.to_string(),
        }));
        if plan.is_empty() {
            out.messages
                .push(format!("{} -> {}: nothing to promote", req.from, req.to));
        } else if req.dry_run {
            out.messages.push(format!(
                "{} -> {}: dry run, nothing written",
                req.from, req.to
            ));
        }
        if req.dry_run {
            return Ok(());
        }
        let kind = self.overrides.delivery.unwrap_or(promotion.delivery);
        let own = match kind {
            DeliveryKind::Commit => Vec::new(),
            _ => Self::own_branches(promotion, &inventory),
        };
        let mut tag_at = head.clone();
        // Branches whose pull requests this run wrote or already reconciled, and the pull
        // requests it wrote.
        let mut handled = Vec::new();
        let mut wrote = Vec::new();
        if !plan.is_empty() {
            let (delivery, held) = self.delivery(
                promotion,
                kind,
                &plan,
                &head,
                &target_branch,
                &source_sha,
                &own,
            )?;
            out.held.extend(held.iter().cloned());
            if let Some(delivery) = delivery {
                // The run's listing when it has one (else the delivery lists), and the
                // delivery's account of it afterwards.
                let listed = self.open_prs.borrow().get(&target_branch).cloned();
                let report = deliver::deliver_listed(
                    self.forge,
                    &delivery,
                    listed,
                    |new_head: &str| -> anyhow::Result<Option<Delivery>> {
                        let p = plan_at(new_head)?;
                        if p.is_empty() {
                            return Ok(None);
                        }
                        let (fresh, _) = self.delivery(
                            promotion,
                            kind,
                            &p,
                            new_head,
                            &target_branch,
                            &source_sha,
                            &own,
                        )?;
                        Ok(fresh)
                    },
                )?;
                out.changed |= report.changed;
                if let Some(open) = &report.open_pull_requests {
                    self.open_prs
                        .borrow_mut()
                        .insert(target_branch.clone(), open.clone());
                }
                let landed = report.commit_sha.is_some() || !report.pull_requests.is_empty();
                if landed {
                    out.promoted.extend(
                        plan.changes()
                            .filter(|i| !held.iter().any(|h| h.component == i.id))
                            .map(|i| Promoted {
                                component: i.id.to_string(),
                                from: i.from_version.as_deref().unwrap_or_default().to_string(),
                                to: i.to_version.to_string(),
                            }),
                    );
                }
                tag_at = match &report.commit_sha {
                    Some(sha) => {
                        out.commit_sha = Some(sha.clone());
                        sha.clone()
                    }
                    None if promotion.tag.is_some() => self.forge.branch_head(&target_branch)?,
                    None => head.clone(),
                };
                if !report.pull_requests.is_empty() {
                    handled.extend(delivery.pull_request.supersedes.iter().cloned());
                }
                for pr in &report.pull_requests {
                    handled.push(pr.head.clone());
                    wrote.push(pr.number);
                    out.pull_requests.push(
                        serde_json::json!({"number": pr.number, "url": pr.url, "head": pr.head}),
                    );
                }
                for n in &report.closed_pull_requests {
                    out.messages.push(format!("closed pull request #{n}"));
                }
            }
        }
        if kind != DeliveryKind::Commit {
            // Per component, the single pull request of an earlier `pull-request` delivery is
            // superseded by the per-component ones.
            let supersedes = match kind {
                DeliveryKind::PullRequestPerComponent => vec![promotion.pr_branch()],
                _ => Vec::new(),
            };
            let settle = Settle {
                own: &own,
                handled: &handled,
                supersedes: &supersedes,
                by: &wrote,
            };
            self.close_settled(promotion, &target_branch, &settle, out)?;
        }
        self.ensure_tags(promotion, &inventory, &tag_at, out)
    }

    /// Every head branch promote makes for `p`: the single pull request's and each source
    /// component's (only source components are ever promoted), valid ref names only.
    fn own_branches(p: &Promotion, source: &plan::EnvInventory) -> Vec<String> {
        let mut out = vec![p.pr_branch()];
        for c in &source.components {
            let b = p.component_branch(&c.id);
            if !out.contains(&b) {
                out.push(b);
            }
        }
        out.retain(|b| ref_name_problem(b).is_none());
        out
    }

    /// Close promote's own open pull requests into `target` (not handled by this run) whose
    /// every `- <id> <from> -> <to>` line the target now holds: someone promoted them another
    /// way, or a newer run did.
    fn close_settled(
        &self,
        p: &Promotion,
        target: &str,
        settle: &Settle<'_>,
        out: &mut Outcome,
    ) -> anyhow::Result<()> {
        let candidates: Vec<&String> = settle
            .own
            .iter()
            .filter(|b| !settle.handled.contains(b))
            .collect();
        if candidates.is_empty() {
            return Ok(());
        }
        let open: Vec<_> = self
            .open_prs(target)?
            .into_iter()
            .filter(|pr| pr.base == target && candidates.contains(&&pr.head))
            .collect();
        if open.is_empty() {
            return Ok(());
        }
        let head = self.forge.branch_head(target)?;
        let held = plan::inventory(self.config, &p.to, &ForgeFiles::new(self.forge, &head))?;
        let held = held.index();
        for pr in open {
            let Some(commit) = self.forge.recent_commits(&pr.head, 1)?.into_iter().next() else {
                continue;
            };
            let moved: Vec<(&str, &str)> = gate::history::moved(&commit.message).collect();
            let from_us = commit
                .message
                .lines()
                .any(|l| l.trim().starts_with(&format!("Promoted-From: {}@", p.from)));
            if !from_us || moved.is_empty() {
                continue;
            }
            let settled = moved
                .iter()
                .all(|(id, v)| held.get(id).is_some_and(|e| e.version == *v));
            if !settled && settle.supersedes.contains(&pr.head) && !settle.by.is_empty() {
                let by: Vec<String> = settle.by.iter().map(|n| format!("#{n}")).collect();
                self.forge
                    .close_pr(pr.number, Some(&format!("superseded by {}", by.join(", "))))?;
                out.messages
                    .push(format!("closed pull request #{} as superseded", pr.number));
            } else if settled {
                let list: Vec<String> = moved.iter().map(|(id, v)| format!("`{id}` {v}")).collect();
                self.forge.close_pr(
                    pr.number,
                    Some(&format!(
                        "closed by promote: `{}` already has {}",
                        p.to,
                        list.join(", ")
                    )),
                )?;
                out.messages.push(format!(
                    "closed pull request #{}: `{}` already has its versions",
                    pr.number, p.to
                ));
            } else {
                continue;
            }
            self.forget_pr(target, pr.number);
        }
        Ok(())
    }

    /// Drop a pull request this run closed from its listing of `target`.
    fn forget_pr(&self, target: &str, number: u64) {
        if let Some(open) = self.open_prs.borrow_mut().get_mut(target) {
            open.retain(|pr| pr.number != number);
        }
    }

    /// Make sure of `p`'s tags at `at` (a commit of the target branch): one per component whose
    /// version there is the source's, named by the `tag` template. Existing tags are never
    /// moved: one at another commit that holds the same version is kept, any other is held.
    fn ensure_tags(
        &self,
        p: &Promotion,
        source: &plan::EnvInventory,
        at: &str,
        out: &mut Outcome,
    ) -> anyhow::Result<()> {
        if p.tag.is_none() {
            return Ok(());
        }
        let target = plan::inventory(self.config, &p.to, &ForgeFiles::new(self.forge, at))?;
        let offered = source.index();
        let mut specs: Vec<TagSpec> = Vec::new();
        for c in &target.components {
            if offered
                .get(c.id.as_str())
                .is_none_or(|s| s.version != c.version)
            {
                continue;
            }
            let Some(name) = p.tag_name(c.name(), &c.version) else {
                continue;
            };
            // `infra/cilium` and `helm/cilium` at one version make one tag.
            if !specs.iter().any(|t| t.name == name) {
                specs.push(TagSpec {
                    name,
                    sha: at.to_owned(),
                    component: c.id.to_string(),
                });
            }
        }
        let mut seen: HashMap<String, Option<plan::EnvInventory>> = HashMap::new();
        let version_of = |id: &str| target.get(id).map(|e| e.version.clone());
        let report = deliver::ensure_tags(self.forge, &specs, |tag, sha| {
            let inv = seen.entry(sha.to_owned()).or_insert_with(|| {
                plan::inventory(self.config, &p.to, &ForgeFiles::new(self.forge, sha)).ok()
            });
            let there = inv
                .as_ref()
                .and_then(|i| i.get(&tag.component))
                .map(|e| e.version.clone());
            Ok(there.is_some() && there == version_of(&tag.component))
        })
        .with_context(|| format!("tags of {} -> {} at {}", p.from, p.to, short(at)))?;
        for t in &report.tags {
            let how = match t.outcome {
                crate::forge::TagOutcome::Created => "created",
                crate::forge::TagOutcome::Exists => "exists",
                crate::forge::TagOutcome::Kept => "kept where it is",
            };
            out.messages
                .push(format!("tag `{}` at {} ({how})", t.name, short(&t.sha)));
        }
        out.held.extend(report.held.into_iter().map(|h| Held {
            component: h.component,
            reason: h.reason,
        }));
        Ok(())
    }

    /// The delivery of `plan`, and the components held because their pull request branch is
    /// not a valid ref name (`None`: nothing can be delivered).
    #[allow(clippy::too_many_arguments)]
    fn delivery(
        &self,
        p: &Promotion,
        kind: DeliveryKind,
        plan: &Plan,
        head: &str,
        target: &str,
        source_sha: &str,
        own: &[String],
    ) -> anyhow::Result<(Option<Delivery>, Vec<Held>)> {
        // A preview names the files that change but carries no bytes: never delivered.
        anyhow::ensure!(!plan.preview, "a preview plan cannot be delivered");
        let files: Vec<FileChange> = plan
            .edits
            .iter()
            .map(|e| FileChange {
                path: e.path.clone(),
                contents: Some(e.after.clone()),
            })
            .collect();
        let mut held = Vec::new();
        if kind == DeliveryKind::PullRequest
            && let Some(problem) = ref_name_problem(&p.pr_branch())
        {
            held.extend(plan.changes().map(|i| Held {
                component: i.id.to_string(),
                reason: format!("pull request branch {problem}; fix `branch` in the config"),
            }));
            return Ok((None, held));
        }
        let mut components = Vec::new();
        if kind == DeliveryKind::PullRequestPerComponent {
            for item in plan.changes() {
                let branch = p.component_branch(&item.id);
                if let Some(problem) = ref_name_problem(&branch) {
                    held.push(Held {
                        component: item.id.to_string(),
                        reason: format!("pull request branch {problem}"),
                    });
                    continue;
                }
                let one = plan::build(
                    self.config,
                    p,
                    &ForgeFiles::new(self.forge, source_sha),
                    &ForgeFiles::new(self.forge, head),
                    &Eligibility::all("selected"),
                    &PlanOptions {
                        components: vec![item.id.to_string()],
                        pins: vec![(item.id.to_string(), item.to_version.to_string())],
                        force: true,
                        ..PlanOptions::default()
                    },
                )?;
                let title = format!(
                    "chore(promote): {} {} to {}",
                    item.id, item.to_version, p.to
                );
                components.push(deliver::ComponentDelivery {
                    component: item.id.to_string(),
                    version: item.to_version.to_string(),
                    branch,
                    message: format!(
                        "{title}\n\n- {} {} -> {}\n\nPromoted-From: {}@{source_sha}\nPromoted-To: {}\n",
                        item.id,
                        item.from_version.as_deref().unwrap_or("(none)"),
                        item.to_version,
                        p.from,
                        p.to
                    ),
                    title,
                    body: plan::render::pr_body(p, &one),
                    files: one
                        .edits
                        .iter()
                        .map(|e| FileChange {
                            path: e.path.clone(),
                            contents: Some(e.after.clone()),
                        })
                        .collect(),
                });
            }
            if components.is_empty() {
                return Ok((None, held));
            }
        }
        // Switching modes: the single pull request supersedes the per-component ones (the other
        // way round is left to `close_settled`, which lists those pull requests anyway).
        let single = p.pr_branch();
        let supersedes = match kind {
            DeliveryKind::PullRequest => own.iter().filter(|b| **b != single).cloned().collect(),
            _ => Vec::new(),
        };
        let mode = match kind {
            DeliveryKind::Commit => DeliveryMode::Commit,
            DeliveryKind::PullRequest => DeliveryMode::PullRequest,
            DeliveryKind::PullRequestPerComponent => DeliveryMode::PullRequestPerComponent,
        };
        let delivery = Delivery {
            target_branch: target.to_string(),
            base: head.to_string(),
            mode,
            message: plan.commit_message.clone(),
            files,
            pull_request: PullRequestOptions {
                branch: single,
                title: plan.pr_title.clone(),
                body: plan.pr_body.clone(),
                labels: p.labels.clone(),
                auto_merge: p.auto_merge,
                merge_method: p.merge_method,
                supersedes,
            },
            components,
        };
        Ok((Some(delivery), held))
    }
}

use crate::gate::short;

/// What `close_settled` may close: promote's `own` branches but those this run `handled`;
/// `supersedes` are closed as superseded `by` the pull requests this run wrote.
struct Settle<'a> {
    own: &'a [String],
    handled: &'a [String],
    supersedes: &'a [String],
    by: &'a [u64],
}
