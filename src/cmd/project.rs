//! Commands on a whole repository and its config: `plan`, `apply`, `check`, the versions matrix.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{Format, ProjectArgs};
use crate::config::{Config, ConfigError, Promotion};
use crate::gate::Eligibility;
use crate::plan::{self, Plan, PlanOptions};
use crate::repo::{Files, Repo, WorkTree, matching};

/// Which promotion and which components.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Source environment (default: the config's first promotion).
    #[arg(long)]
    pub from: Option<String>,
    /// Target environment.
    #[arg(long)]
    pub to: Option<String>,
    /// Read the source environment at this git revision (default: the working tree).
    #[arg(long = "at", value_name = "REV")]
    pub rev: Option<String>,
    /// Only these components (id or name, globs allowed); repeatable.
    #[arg(long = "component", value_name = "ID")]
    pub components: Vec<String>,
    /// Only components of this group; repeatable.
    #[arg(long = "group")]
    pub groups: Vec<String>,
    /// Promote this version instead of the source's (`ID=VERSION`); repeatable.
    #[arg(long = "pin", value_name = "ID=VERSION")]
    pub pins: Vec<String>,
    /// Allow downgrades.
    #[arg(long)]
    pub force: bool,
    /// Plan components that exist in the source but not in the target.
    #[arg(long)]
    pub add_missing: bool,
    /// Replay a GitHub event: its name (`status`, `push`, ...).
    #[arg(long, requires = "event_path")]
    pub event_name: Option<String>,
    /// Replay a GitHub event: the payload file.
    #[arg(long, requires = "event_name")]
    pub event_path: Option<PathBuf>,
    /// Replay: the source commit's statuses, as `GET /repos/{o}/{r}/commits/{sha}/statuses`
    /// lists them (default: from the API when `GITHUB_TOKEN` and `GITHUB_REPOSITORY` are set).
    #[arg(long, requires = "event_name", value_name = "FILE")]
    pub statuses: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Print the plan and the diff, write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct MatrixArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[arg(long)]
    pub env: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// Load the config of a repository folder.
pub fn load_config(project: &ProjectArgs) -> anyhow::Result<Config> {
    let path = project.repo.join(&project.config);
    let label = project.config.display().to_string();
    let bytes = fs_err::read(&path).with_context(|| {
        format!(
            "no config at `{}`\nhint: create `.github/promote.toml` or pass `--config`",
            path.display()
        )
    })?;
    Ok(Config::load(&label, &bytes)?)
}

impl PlanArgs {
    pub fn options(&self) -> anyhow::Result<PlanOptions> {
        Ok(PlanOptions {
            components: self.components.clone(),
            groups: self.groups.clone(),
            pins: self
                .pins
                .iter()
                .map(|p| plan::parse_pin(p))
                .collect::<Result<_, _>>()?,
            force: self.force,
            add_missing: self.add_missing,
            preview: false,
        })
    }
}

/// Files of `env`: its own branch when it has one, else the working tree.
fn env_files<'r>(
    config: &Config,
    env: &str,
    root: &Path,
    repo: Option<&'r Repo>,
) -> anyhow::Result<Box<dyn Files + 'r>> {
    match (
        config.environment(env).and_then(|e| e.branch.as_deref()),
        repo,
    ) {
        (Some(branch), Some(repo)) => Ok(Box::new(repo.at(branch)?)),
        (Some(branch), None) => anyhow::bail!(
            "environment `{env}` lives on branch `{branch}`, but {} is not a git repository",
            root.display()
        ),
        (None, _) => Ok(Box::new(worktree(config, env, root, repo))),
    }
}

/// The working tree, named after the `HEAD` commit (`<sha>-dirty` when `env`'s files differ from
/// it, as `git describe --dirty` does), so a commit's `Promoted-From` trailer names a commit.
fn worktree(config: &Config, env: &str, root: &Path, repo: Option<&Repo>) -> WorkTree {
    let tree = WorkTree::new(root);
    let Some(repo) = repo else { return tree };
    let Ok(sha) = repo.head_sha() else {
        return tree;
    };
    // A path with placeholders counts by the folder its files are in.
    let paths: Vec<String> = config
        .sources
        .iter()
        .filter_map(|s| s.pattern_for(env))
        .map(|p| match p.is_literal() {
            true => p.as_str().to_string(),
            false => p.folder(),
        })
        .chain(config.sources.iter().flat_map(|s| s.substitute_paths(env)))
        .collect();
    match repo.is_clean(&paths) {
        Ok(true) => tree.with_label(sha),
        Ok(false) => tree.with_label(format!("{sha}-dirty")),
        Err(_) => tree,
    }
}

/// Compute the plan `apply` and the JSON and markdown `plan` print or write: every edit
/// re-read, with its bytes (the text `plan` is a preview, [`plan::preview_text`]). With the plan
/// comes what it was read from ([`plan::Read`]): a command that exits after printing forgets both
/// rather than free them record by record.
pub fn compute(args: &PlanArgs) -> anyhow::Result<(Config, Plan, plan::Read)> {
    let (config, (plan, read)) = with_inputs(args, |config, promotion, source, target| {
        let (mut plan, read) = plan::build_unrendered(
            config,
            promotion,
            source,
            target,
            &Eligibility::all("local run"),
            &args.options()?,
        )?;
        // Only the JSON document prints the commit message and pull request body.
        if args.format == Format::Json {
            plan.render_messages(promotion);
        }
        Ok((plan, read))
    })?;
    Ok((config, plan, read))
}

/// `f` of what a local plan reads: the config, the promotion picked, and where its source and
/// target environments' files are. With what `f` gives comes the config.
fn with_inputs<T>(
    args: &PlanArgs,
    f: impl FnOnce(&Config, &Promotion, &dyn Files, &dyn Files) -> anyhow::Result<T>,
) -> anyhow::Result<(Config, T)> {
    anyhow::ensure!(
        args.event_name.is_none(),
        "`--event-name` replays an event with `promote plan`; `promote run` delivers it"
    );
    let config = load_config(&args.project)?;
    let promotion = config
        .pick_promotion(args.from.as_deref(), args.to.as_deref())?
        .clone();
    let root = &args.project.repo;
    let repo = Repo::open(root).ok();
    let source: Box<dyn Files> = match (&args.rev, &repo) {
        (Some(rev), Some(repo)) => Box::new(repo.at(rev)?),
        (Some(_), None) => anyhow::bail!("`--at` needs a git repository at {}", root.display()),
        (None, _) => env_files(&config, &promotion.from, root, repo.as_ref())?,
    };
    let target = env_files(&config, &promotion.to, root, repo.as_ref())?;
    let out = f(&config, &promotion, source.as_ref(), target.as_ref())?;
    drop((source, target));
    Ok((config, out))
}

/// Write data to stdout; a reader that went away (`promote plan | head`) is not an error.
/// Like every line promote prints, data is neutralized: it cannot start a workflow command when
/// a workflow runs `promote plan`.
pub fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let text = crate::action::neutralize(text);
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

pub fn print_plan(plan: &Plan, format: Format, checklist: &[String]) -> anyhow::Result<()> {
    emit(&match format {
        Format::Text => plan::render::text(plan),
        Format::Json => return emit_json(plan),
        Format::Markdown => plan::render::markdown(plan, checklist),
    })
}

/// [`emit`] for the JSON document of `plan` ([`plan::render::json`]), neutralized line by line
/// as it is serialized: a plan of 30,000 components with its diffs is a document of 30 MiB,
/// never held whole.
fn emit_json(plan: &Plan) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = crate::action::SafeLines::new(std::io::BufWriter::new(std::io::stdout().lock()));
    let written = serde_json::to_writer_pretty(&mut out, plan)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.finish().map(drop));
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

pub fn plan(args: &PlanArgs) -> anyhow::Result<i32> {
    if args.event_name.is_some() {
        return replay(args);
    }
    if args.format == Format::Text {
        // The text plan is a preview, printed as its lines are made: no plan is kept.
        let (_, (text, read)) = with_inputs(args, |config, promotion, source, target| {
            Ok(plan::preview_text(
                config,
                promotion,
                source,
                target,
                &Eligibility::all("local run"),
                &args.options()?,
            )?)
        })?;
        emit(&text)?;
        // The process ends here: freeing tens of thousands of records one by one is wasted work.
        std::mem::forget((text, read));
        return Ok(0);
    }
    let (config, plan, read) = compute(args)?;
    let checklist = config
        .promotion(&plan.from, &plan.to)
        .map(|p| p.checklist.clone())
        .unwrap_or_default();
    print_plan(&plan, args.format, &checklist)?;
    // The process ends here: freeing tens of thousands of items one by one is wasted work.
    std::mem::forget((plan, read));
    Ok(0)
}

/// `plan --event-*`: what `promote run` would do with the event, printed as plans; a no-op event
/// says why and exits 0.
fn replay(args: &PlanArgs) -> anyhow::Result<i32> {
    let (config, out) = crate::cmd::replay::replay(args)?;
    for plan in &out.plans {
        let checklist = config
            .promotion(&plan.from, &plan.to)
            .map(|p| p.checklist.clone())
            .unwrap_or_default();
        print_plan(plan, args.format, &checklist)?;
    }
    for m in &out.messages {
        crate::action::diag(m);
    }
    Ok(0)
}

pub fn apply(args: &ApplyArgs) -> anyhow::Result<i32> {
    let (config, plan, _) = compute(&args.plan)?;
    let checklist = config
        .promotion(&plan.from, &plan.to)
        .map(|p| p.checklist.clone())
        .unwrap_or_default();
    print_plan(&plan, args.plan.format, &checklist)?;
    if args.dry_run {
        // The diff is data: on stdout, after a text plan (JSON and markdown carry it already).
        if args.plan.format == Format::Text {
            for e in &plan.edits {
                emit(&e.diff())?;
            }
        }
        return Ok(0);
    }
    if config
        .environment(&plan.to)
        .and_then(|e| e.branch.as_ref())
        .is_some()
    {
        anyhow::bail!(
            "`{}` lives on its own branch: `apply` writes the working tree only\nhint: check out that branch, or use `promote run` to deliver",
            plan.to
        );
    }
    write_all(&args.plan.project.repo, &plan)?;
    crate::action::diag(&format!("wrote {} file(s)", plan.edits.len()));
    Ok(0)
}

/// Write every edit, all or none: every temporary file first, then the renames.
pub fn write_all(root: &Path, plan: &Plan) -> anyhow::Result<()> {
    // A preview names the files that change but carries no bytes: never written.
    anyhow::ensure!(!plan.preview, "a preview plan cannot be written");
    let tree = WorkTree::new(root);
    let mut staged = Vec::new();
    for e in &plan.edits {
        // Write through a symlink (inside the repository, `resolve` made sure), never over it.
        let path = tree.resolve(&e.path)?;
        let path = path.canonicalize().unwrap_or(path);
        let current = fs_err::read(&path)?;
        anyhow::ensure!(
            current == e.before,
            "{}: changed since it was planned; nothing written",
            e.path
        );
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut tmp = tempfile::Builder::new()
            .prefix(".promote-")
            .tempfile_in(dir)?;
        std::io::Write::write_all(&mut tmp, &e.after)?;
        if let Ok(meta) = std::fs::metadata(&path) {
            tmp.as_file().set_permissions(meta.permissions())?;
        }
        staged.push((tmp, path));
    }
    // A rename can still fail (a full disk, a file made read-only meanwhile): put back the files
    // already renamed, so the working tree holds all the edits or none.
    let mut done: Vec<(PathBuf, &[u8])> = Vec::new();
    for ((tmp, path), edit) in staged.into_iter().zip(&plan.edits) {
        if let Err(e) = tmp.persist(&path) {
            let restored = done
                .iter()
                .filter(|(p, before)| std::fs::write(p, before).is_ok())
                .count();
            return Err(e.error).with_context(|| {
                format!(
                    "writing {}; restored {restored} of {} file(s) already written",
                    path.display(),
                    done.len()
                )
            });
        }
        done.push((path, &edit.before));
    }
    Ok(())
}

pub fn check(project: &ProjectArgs) -> anyhow::Result<i32> {
    let config = match load_config(project) {
        Ok(config) => config,
        Err(e) => match e.downcast_ref::<ConfigError>() {
            Some(cfg) => {
                let problems = cfg.problems();
                for p in &problems {
                    crate::action::diag(&format!("error: {p}"));
                }
                crate::action::diag(&format!("{} problem(s)", problems.len()));
                return Ok(1);
            }
            None => return Err(e),
        },
    };
    let repo = Repo::open(&project.repo).ok();
    let review = crate::gate::review(&config);
    for n in &review.notes {
        crate::action::diag(&format!("note: {n}"));
    }
    let mut problems = review.problems;
    let mut count = 0;
    // Per source: the files tried (environment, path, components listed), and the names listed.
    let mut tried: Vec<Vec<(String, String, usize)>> = vec![Vec::new(); config.sources.len()];
    let mut listed: Vec<BTreeSet<String>> = vec![BTreeSet::new(); config.sources.len()];
    let mut inventories = Vec::new();
    for env in &config.environments {
        let files = match env_files(&config, &env.name, &project.repo, repo.as_ref()) {
            Ok(f) => f,
            Err(e) => {
                problems.push(format!("{e:#}"));
                continue;
            }
        };
        let before = problems.len();
        for (i, src) in config.sources.iter().enumerate() {
            let Some(pattern) = src.pattern_for(&env.name) else {
                continue;
            };
            // A path with placeholders may match no file in an environment: that is no problem.
            let matched = match matching(files.as_ref(), &pattern) {
                Ok(matched) => matched,
                Err(e) => {
                    problems.push(format!("{}: {e}", pattern.as_str()));
                    continue;
                }
            };
            if matched.is_empty() && !pattern.is_literal() {
                tried[i].push((env.name.clone(), pattern.as_str().to_string(), 0));
            }
            for (path, _) in matched {
                match files.read(&path) {
                    Ok(Some(bytes)) => match crate::source::read(&src.locator(), &path, &bytes) {
                        Ok(inv) => {
                            let filter = src.name_filter().ok();
                            let names: Vec<String> = inv
                                .names()
                                .into_iter()
                                .filter(|n| filter.as_ref().is_none_or(|f| f.admits(n)))
                                .collect();
                            count += names.len();
                            tried[i].push((env.name.clone(), path, names.len()));
                            listed[i].extend(names);
                        }
                        Err(e) => problems.push(e.to_string()),
                    },
                    Ok(None) => problems.push(
                        config
                            .source_error(
                                i,
                                format!("`{path}` (environment `{}`) does not exist", env.name),
                            )
                            .to_string(),
                    ),
                    Err(e) => problems.push(format!("{path}: {e}")),
                }
            }
        }
        // Every file read: what `plan` checks on top (one id per environment, across files).
        if problems.len() == before {
            match plan::inventory(&config, &env.name, files.as_ref()) {
                Ok(inv) => inventories.push(inv),
                Err(e) => problems.push(e.to_string()),
            }
        }
    }
    for p in &config.promotions {
        if let Some(inv) = inventories.iter().find(|i| i.env == p.from)
            && let Err(e) = plan::carried(&config, p, inv.clone())
        {
            problems.push(e.to_string());
        }
    }
    for w in source_warnings(&config, &tried, &listed) {
        crate::action::diag(&format!("warning: {w}"));
    }
    for p in &problems {
        crate::action::diag(&format!("error: {p}"));
    }
    if problems.is_empty() {
        emit(&format!(
            "ok: {} environments, {} sources, {count} components\n",
            config.environments.len(),
            config.sources.len()
        ))?;
        Ok(0)
    } else {
        crate::action::diag(&format!("{} problem(s)", problems.len()));
        Ok(1)
    }
}

/// What `check` warns about sources: one that lists no component in any environment (naming
/// each file tried), and `status-names` keys that name no component the source lists.
fn source_warnings(
    config: &Config,
    tried: &[Vec<(String, String, usize)>],
    listed: &[BTreeSet<String>],
) -> Vec<String> {
    let mut out = Vec::new();
    for (i, src) in config.sources.iter().enumerate() {
        let files = tried.get(i).map(Vec::as_slice).unwrap_or_default();
        let names = listed.get(i);
        if !files.is_empty() && files.iter().all(|(_, _, n)| *n == 0) {
            let paths: Vec<String> = files
                .iter()
                .map(|(env, path, _)| format!("`{path}` ({env})"))
                .collect();
            let filtered = if src.include.is_empty() && src.exclude.is_empty() {
                ""
            } else {
                " after `include`/`exclude`"
            };
            out.push(
                config
                    .source_error(
                        i,
                        format!(
                            "source `{}` lists no component{filtered} in any environment: tried {}",
                            src.path,
                            paths.join(", ")
                        ),
                    )
                    .to_string(),
            );
        }
        for key in src.status_names.keys().filter(|k| *k != "*") {
            if names.is_some_and(|n| !n.contains(key)) {
                out.push(
                    config
                        .source_error(
                            i,
                            format!(
                                "`status-names` key `{key}` names no component of source `{}`",
                                src.path
                            ),
                        )
                        .to_string(),
                );
            }
        }
    }
    out
}

/// Versions per environment for each component id, in config and file order.
struct Matrix<'c> {
    envs: Vec<&'c str>,
    ids: Vec<String>,
    /// One row per environment: id -> version.
    cells: Vec<BTreeMap<String, String>>,
    /// One row per environment: id -> how a `${var}` was resolved (`substitute-from`).
    vias: Vec<BTreeMap<String, crate::source::substitute::Via>>,
}

impl Matrix<'_> {
    fn drift(&self, id: &str) -> bool {
        let mut vs = self.cells.iter().filter_map(|r| r.get(id));
        let first = vs.next();
        vs.any(|v| Some(v) != first)
    }

    fn json(&self) -> anyhow::Result<String> {
        let rows: Vec<serde_json::Value> = self
            .ids
            .iter()
            .map(|id| {
                let versions: serde_json::Map<String, serde_json::Value> = self
                    .envs
                    .iter()
                    .zip(&self.cells)
                    .map(|(e, r)| (e.to_string(), r.get(id).cloned().into()))
                    .collect();
                let mut row =
                    serde_json::json!({"id": id, "versions": versions, "drift": self.drift(id)});
                let via: serde_json::Map<String, serde_json::Value> = self
                    .envs
                    .iter()
                    .zip(&self.vias)
                    .filter_map(|(e, r)| {
                        Some((e.to_string(), serde_json::to_value(r.get(id)?).ok()?))
                    })
                    .collect();
                if !via.is_empty() {
                    row["via"] = via.into();
                }
                row
            })
            .collect();
        let doc =
            serde_json::json!({"schema_version": 1, "environments": self.envs, "components": rows});
        Ok(format!("{}\n", serde_json::to_string_pretty(&doc)?))
    }

    fn text(&self) -> String {
        let w = self.ids.iter().map(String::len).max().unwrap_or(9).max(9);
        let cw: Vec<usize> = self
            .envs
            .iter()
            .zip(&self.cells)
            .map(|(e, r)| r.values().map(String::len).max().unwrap_or(0).max(e.len()))
            .collect();
        let mut line = format!("{:<w$}", "COMPONENT");
        for (e, c) in self.envs.iter().zip(&cw) {
            line.push_str(&format!("  {e:<c$}"));
        }
        let mut out = format!("{}\n", line.trim_end());
        for id in &self.ids {
            let mut line = format!("{id:<w$}");
            for (r, c) in self.cells.iter().zip(&cw) {
                line.push_str(&format!("  {:<c$}", r.get(id).map_or("-", String::as_str)));
            }
            if self.drift(id) {
                line.push_str("  *drift*");
            }
            out.push_str(&format!("{}\n", line.trim_end()));
        }
        for id in &self.ids {
            for (e, r) in self.envs.iter().zip(&self.vias) {
                if let Some(via) = r.get(id) {
                    let how = via
                        .problem
                        .as_deref()
                        .map_or(String::new(), |p| format!(": {p}"));
                    out.push_str(&format!("{id} in {e}: via {}{how}\n", via.describe()));
                }
            }
        }
        out
    }
}

/// `promote versions` without a file: components x environments, drift marked.
pub fn matrix(args: &MatrixArgs) -> anyhow::Result<i32> {
    let config = load_config(&args.project)?;
    let repo = Repo::open(&args.project.repo).ok();
    let envs: Vec<&str> = config
        .environments
        .iter()
        .map(|e| e.name.as_str())
        .filter(|e| args.env.as_deref().is_none_or(|x| x == *e))
        .collect();
    anyhow::ensure!(
        !envs.is_empty(),
        "unknown environment `{}`\nhint: the config has {}",
        args.env.as_deref().unwrap_or_default(),
        config
            .environments
            .iter()
            .map(|e| format!("`{}`", e.name))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut m = Matrix {
        envs,
        ids: Vec::new(),
        cells: Vec::new(),
        vias: Vec::new(),
    };
    let mut seen = std::collections::HashSet::new();
    for env in &m.envs {
        let files = env_files(&config, env, &args.project.repo, repo.as_ref())?;
        let inv = plan::inventory(&config, env, files.as_ref())?;
        let mut row = BTreeMap::new();
        let mut vias = BTreeMap::new();
        for c in inv.components {
            if seen.insert(c.id.to_string()) {
                m.ids.push(c.id.to_string());
            }
            if let Some(via) = c.indirection.and_then(|i| i.via) {
                vias.insert(c.id.to_string(), via);
            }
            row.insert(c.id.to_string(), c.version.to_string());
        }
        m.cells.push(row);
        m.vias.push(vias);
    }
    emit(&match args.format {
        Format::Json => m.json()?,
        _ => m.text(),
    })?;
    Ok(0)
}
