//! Carrying out one event: decide, gate, plan and deliver through a `Forge`.
//!
//! Every file is read through the forge at an exact revision (the reported commit for the
//! source, the target branch's head for the target), so a shallow checkout never matters and a
//! later commit on the branch is never what gets promoted.

use anyhow::Context;
use serde::Serialize;

use crate::config::{Config, DeliveryKind, Promotion};
use crate::event::Trigger;
use crate::forge::deliver::{self, Delivery, DeliveryMode, PullRequestOptions, TagSpec, TagTarget};
use crate::forge::{FileChange, Forge};
use crate::gate::{self, Decision, Eligibility, Request, SourceRev};
use crate::plan::{self, Plan, PlanOptions};
use crate::repo::ForgeFiles;

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
    pub forge: &'a dyn Forge,
    pub overrides: Overrides,
}

impl Runner<'_> {
    /// Carry out an event end to end.
    pub fn handle(&self, trigger: &Trigger) -> anyhow::Result<Outcome> {
        let mut out = Outcome::default();
        match gate::decide(trigger, self.config)? {
            Decision::Nothing(why) => out.messages.push(why),
            Decision::Promote(mut req) => {
                self.overrides.apply(&mut req);
                self.promote(&req, None, &mut out)?;
            }
            Decision::Changed {
                branch,
                before,
                after,
            } => self.changed(&branch, before.as_deref(), &after, &mut out)?,
        }
        Ok(out)
    }

    /// A push (or merge) to `branch`: every environment whose components changed promotes on.
    fn changed(
        &self,
        branch: &str,
        before: Option<&str>,
        after: &str,
        out: &mut Outcome,
    ) -> anyhow::Result<()> {
        let mut any = false;
        for env in &self.config.environments {
            if self.config.branch_of(&env.name) != branch {
                continue;
            }
            let Some(p) = self.config.promotions.iter().find(|p| p.from == env.name) else {
                continue;
            };
            let now = plan::inventory(self.config, &env.name, &ForgeFiles::new(self.forge, after))?;
            let changed: Vec<String> = match before {
                Some(before) => {
                    let then = plan::inventory(
                        self.config,
                        &env.name,
                        &ForgeFiles::new(self.forge, before),
                    )?;
                    now.components
                        .iter()
                        .filter(|c| then.get(&c.id).is_none_or(|t| t.version != c.version))
                        .map(|c| c.id.clone())
                        .collect()
                }
                None => now.components.iter().map(|c| c.id.clone()).collect(),
            };
            if changed.is_empty() {
                continue;
            }
            any = true;
            let mut req = Request {
                from: p.from.clone(),
                to: p.to.clone(),
                source: SourceRev::Commit(after.to_string()),
                check_statuses: false,
                only_component: None,
                components: Vec::new(),
                pins: Vec::new(),
                force: false,
                dry_run: false,
            };
            self.overrides.apply(&mut req);
            let eligibility = gate::only(&changed, &format!("changed by the push to `{branch}`"));
            self.promote(&req, Some(eligibility), out)?;
        }
        if !any {
            out.messages.push(format!(
                "the push to `{branch}` changed no component that promotes onward"
            ));
        }
        Ok(())
    }

    fn promote(
        &self,
        req: &Request,
        eligibility: Option<Eligibility>,
        out: &mut Outcome,
    ) -> anyhow::Result<()> {
        let promotion = self
            .config
            .promotion(&req.from, &req.to)
            .context("promotion vanished")?;
        let source_branch = self.config.branch_of(&req.from).to_string();
        let source_sha = match &req.source {
            SourceRev::Head => self.forge.branch_head(&source_branch)?,
            SourceRev::Commit(sha) => {
                if !self.forge.is_on_branch(sha, &source_branch)? {
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
        let ids: Vec<String> = plan::inventory(self.config, &req.from, &source)?
            .components
            .into_iter()
            .map(|c| c.id)
            .collect();
        let mut eligibility = match eligibility {
            Some(e) => e,
            None if req.force => Eligibility::all("forced"),
            None if req.check_statuses => {
                let statuses = self.forge.list_statuses(&source_sha)?;
                gate::from_statuses(&promotion.gate, promotion.partial, &ids, &statuses)?
            }
            None => Eligibility::all("requested"),
        };
        if let Some(name) = &req.only_component {
            let keep: Vec<String> = ids
                .iter()
                .filter(|id| id.rsplit('/').next() == Some(name))
                .cloned()
                .collect();
            eligibility = gate::only(&keep, &format!("Flux reported `{name}` ready"));
        }
        let opts = PlanOptions {
            components: req.components.clone(),
            groups: Vec::new(),
            pins: req.pins.clone(),
            force: req.force,
            add_missing: false,
        };
        let target_branch = self.config.branch_of(&req.to).to_string();
        let head = self.forge.branch_head(&target_branch)?;
        let plan_at = |head: &str| -> Result<Plan, plan::PlanError> {
            let target = ForgeFiles::new(self.forge, head);
            let mut p = plan::build(
                self.config,
                promotion,
                &source,
                &target,
                &eligibility,
                &opts,
            )?;
            p.source_at = source_sha.clone();
            p.commit_message = plan::render::commit_message(promotion, &p);
            p.pr_body = plan::render::pr_body(promotion, &p);
            Ok(p)
        };
        let plan = plan_at(&head)?;
        out.summary.push_str(&plan::render::markdown(&plan, &[]));
        out.held.extend(plan.held().map(|i| Held {
            component: i.id.clone(),
            reason: i.reason.clone(),
        }));
        if plan.is_empty() {
            out.messages
                .push(format!("{} -> {}: nothing to promote", req.from, req.to));
            return Ok(());
        }
        if req.dry_run {
            out.messages.push(format!(
                "{} -> {}: dry run, nothing written",
                req.from, req.to
            ));
            return Ok(());
        }
        let kind = self.overrides.delivery.unwrap_or(promotion.delivery);
        let delivery = self.delivery(promotion, kind, &plan, &head, &target_branch, &source_sha)?;
        let report = deliver::deliver(
            self.forge,
            &delivery,
            |new_head: &str| -> anyhow::Result<Option<Delivery>> {
                let p = plan_at(new_head)?;
                if p.is_empty() {
                    return Ok(None);
                }
                Ok(Some(self.delivery(
                    promotion,
                    kind,
                    &p,
                    new_head,
                    &target_branch,
                    &source_sha,
                )?))
            },
        )?;
        let landed = report.commit_sha.is_some() || !report.pull_requests.is_empty();
        out.changed |= landed;
        if landed {
            out.promoted.extend(plan.changes().map(|i| Promoted {
                component: i.id.clone(),
                from: i.from_version.clone().unwrap_or_default(),
                to: i.to_version.clone(),
            }));
        }
        if report.commit_sha.is_some() {
            out.commit_sha = report.commit_sha.clone();
        }
        for pr in &report.pull_requests {
            out.pull_requests
                .push(serde_json::json!({"number": pr.number, "url": pr.url, "head": pr.head}));
        }
        for t in &report.tags {
            out.messages.push(format!(
                "tag `{}` at {} ({:?})",
                t.name,
                short(&t.sha),
                t.outcome
            ));
        }
        Ok(())
    }

    fn delivery(
        &self,
        p: &Promotion,
        kind: DeliveryKind,
        plan: &Plan,
        head: &str,
        target: &str,
        source_sha: &str,
    ) -> anyhow::Result<Delivery> {
        let files: Vec<FileChange> = plan
            .edits
            .iter()
            .map(|e| FileChange {
                path: e.path.clone(),
                contents: Some(e.after.clone()),
            })
            .collect();
        let at = match kind {
            DeliveryKind::Commit => TagTarget::PromotedCommit,
            _ => TagTarget::Sha(source_sha.to_string()),
        };
        let tags = plan
            .tags
            .iter()
            .map(|name| TagSpec {
                name: name.clone(),
                at: at.clone(),
            })
            .collect();
        let mut components = Vec::new();
        if kind == DeliveryKind::PullRequestPerComponent {
            for item in plan.changes() {
                let one = plan::build(
                    self.config,
                    p,
                    &ForgeFiles::new(self.forge, source_sha),
                    &ForgeFiles::new(self.forge, head),
                    &Eligibility::all("selected"),
                    &PlanOptions {
                        components: vec![item.id.clone()],
                        pins: vec![(item.id.clone(), item.to_version.clone())],
                        force: true,
                        ..PlanOptions::default()
                    },
                )?;
                let title = format!(
                    "chore(promote): {} {} to {}",
                    item.id, item.to_version, p.to
                );
                components.push(deliver::ComponentDelivery {
                    component: item.id.clone(),
                    version: item.to_version.clone(),
                    branch: p.component_branch(&item.id),
                    message: format!("{title}\n\nPromoted-From: {}@{source_sha}\n", p.from),
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
        }
        let (mode, prefix) = match kind {
            DeliveryKind::Commit => (DeliveryMode::Commit, None),
            DeliveryKind::PullRequest => (DeliveryMode::PullRequest, Some(p.pr_branch())),
            DeliveryKind::PullRequestPerComponent => (DeliveryMode::PullRequestPerComponent, None),
        };
        Ok(Delivery {
            target_branch: target.to_string(),
            base: head.to_string(),
            mode,
            message: plan.commit_message.clone(),
            files,
            pull_request: PullRequestOptions {
                branch: p.pr_branch(),
                title: plan.pr_title.clone(),
                body: plan.pr_body.clone(),
                labels: p.labels.clone(),
                auto_merge: p.auto_merge,
                supersede_prefix: prefix,
            },
            components,
            tags,
        })
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}
