//! `promote run`: action mode. `GITHUB_*`/`INPUT_*` in; outputs, step summary and workflow
//! commands out. The promotion itself is `runner::Runner`.

#![deny(clippy::indexing_slicing)]

use std::path::Path;

use anyhow::Context;

use super::runner::{Outcome, Overrides, Runner, with_inputs};
use crate::action::{self, RunnerEnv};
use crate::config::{CommitMode, Config};
use crate::event::{self, Trigger};
use crate::forge::{Forge, Token};
use crate::plan;

/// Read the action's inputs into overrides.
fn overrides(env: &RunnerEnv) -> anyhow::Result<Overrides> {
    let delivery = match env.input("delivery") {
        None => None,
        Some(d) => Some(serde_json::from_value(serde_json::Value::String(d.to_string())).map_err(|_| anyhow::anyhow!("input `delivery` must be `commit`, `pull-request` or `pull-request-per-component`, got `{d}`"))?),
    };
    let mut pins = Vec::new();
    for p in event::split_list(env.input("pin").unwrap_or_default()) {
        pins.push(plan::parse_pin(&p)?);
    }
    Ok(Overrides {
        from: env.input("from").map(str::to_string),
        to: env.input("to").map(str::to_string),
        components: event::split_list(env.input("components").unwrap_or_default()),
        pins,
        force: env.bool_input("force", false).map_err(anyhow::Error::msg)?,
        dry_run: env
            .bool_input("dry-run", false)
            .map_err(anyhow::Error::msg)?,
        delivery,
        commit_mode: commit_mode_input(env)?,
    })
}

/// The `commit-mode` input, if set.
fn commit_mode_input(env: &RunnerEnv) -> anyhow::Result<Option<CommitMode>> {
    match env.input("commit-mode") {
        None => Ok(None),
        Some("git") => Ok(Some(CommitMode::Git)),
        Some("api") => Ok(Some(CommitMode::Api)),
        Some(other) => anyhow::bail!("input `commit-mode` must be `api` or `git`, got `{other}`"),
    }
}

/// The GitHub API, when a token and `GITHUB_REPOSITORY` are there.
fn api(env: &RunnerEnv, token: Option<&Token>) -> anyhow::Result<Option<Box<dyn Forge>>> {
    let (Some(token), Some(repository)) = (token, env.var("GITHUB_REPOSITORY")) else {
        return Ok(None);
    };
    Ok(Some(Box::new(crate::forge::github::GitHubForge::new(
        crate::forge::github::GitHubConfig {
            api_url: env
                .var("GITHUB_API_URL")
                .unwrap_or("https://api.github.com")
                .to_string(),
            graphql_url: env.var("GITHUB_GRAPHQL_URL").map(str::to_string),
            repository: repository.to_string(),
            token: token.clone(),
            // PROMOTE_HTTP_CONNECT_TIMEOUT, PROMOTE_HTTP_TIMEOUT, PROMOTE_DEADLINE.
            retry: crate::forge::github::RetryPolicy::from_vars(|name| env.var(name))?,
        },
    )?)))
}

/// The main forge, and the git one for promotions in `commit-mode = git` when the main is the API.
type Forges = (Box<dyn Forge>, Option<Box<dyn Forge>>);

/// The forges the config and inputs ask for: the main one, and a git one for promotions in
/// `commit-mode = git` when the main one is the API. A git forge asks the API (when there is a
/// token) for statuses, check runs, pull requests and tags, and pushes commits with git.
fn forges(
    env: &RunnerEnv,
    config: &Config,
    workspace: &Path,
    token: Option<Token>,
) -> anyhow::Result<Forges> {
    let modes: Vec<CommitMode> = match commit_mode_input(env)? {
        Some(mode) => vec![mode],
        None => config.promotions.iter().map(|p| p.commit_mode).collect(),
    };
    let git = if modes.contains(&CommitMode::Git) {
        trust_workspace(workspace);
        let mut git = crate::forge::git::GitForge::open(workspace, token.clone())?
            // PROMOTE_HTTP_CONNECT_TIMEOUT, PROMOTE_HTTP_TIMEOUT, PROMOTE_DEADLINE.
            .with_policy(crate::forge::http::RetryPolicy::from_vars(|name| {
                env.var(name)
            })?);
        if let Some(api) = api(env, token.as_ref())? {
            git = git.with_api(api);
        }
        Some(Box::new(git) as Box<dyn Forge>)
    } else {
        None
    };
    if !modes.contains(&CommitMode::Api) {
        return Ok((git.context("no promotion to run")?, None));
    }
    let api = api(env, token.as_ref())?.context(
        "no token: set the `token` input (it defaults to `${{ github.token }}`), and `GITHUB_REPOSITORY`",
    )?;
    Ok((api, git))
}

/// A Docker action runs as root on a workspace owned by the runner's user: libgit2 refuses it as
/// "dubious ownership". When (and only when) the workspace is refused for its owner, turn the
/// check off for this process; nothing is written to any git config file.
#[allow(unsafe_code)]
fn trust_workspace(workspace: &Path) {
    if let Err(e) = git2::Repository::open(workspace)
        && e.code() == git2::ErrorCode::Owner
    {
        // SAFETY: libgit2's global options are not synchronised; this runs on the main thread
        // before any other thread (the API client's runtime included) exists or uses libgit2.
        if let Err(e) = unsafe { git2::opts::set_verify_owner_validation(false) } {
            tracing::warn!("could not trust the workspace: {e}");
        }
    }
}

/// What `promote run` takes outside GitHub Actions (the action reads `INPUT_*` instead).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunArgs {
    /// A GitLab webhook's event (`X-Gitlab-Event`: `Push Hook`, `Merge Request Hook`,
    /// `Pipeline Hook`), for a job in a plain CI such as Jenkins
    #[arg(long, requires = "event_path")]
    pub event_name: Option<String>,
    /// The webhook's JSON body
    #[arg(long, requires = "event_name")]
    pub event_path: Option<std::path::PathBuf>,
    /// Config path in the repository, outside GitHub Actions (the action has its `config` input)
    #[arg(long, env = "PROMOTE_CONFIG")]
    pub config: Option<String>,
    /// What stdout gets outside GitHub Actions: the outcome as JSON, or the plans as markdown
    #[arg(long, value_enum, default_value_t = super::Format::Json)]
    pub format: super::Format,
}

/// `promote run` where it runs: a GitLab webhook payload given (`--event-name`), GitHub Actions
/// (`GITHUB_ACTIONS`, and whenever GitLab CI is not detected: today's path), or GitLab CI
/// (`GITLAB_CI`).
pub fn dispatch(args: &RunArgs) -> anyhow::Result<i32> {
    let var = |name: &str| std::env::var(name).is_ok_and(|v| v == "true");
    let options = |source| super::gitlab::Options {
        source,
        config: args
            .config
            .clone()
            .unwrap_or_else(|| super::gitlab::DEFAULT_CONFIG.to_owned()),
        format: args.format,
    };
    if let (Some(name), Some(path)) = (&args.event_name, &args.event_path) {
        return super::gitlab::run(&options(super::gitlab::Source::Hook {
            name: name.clone(),
            path: path.clone(),
        }));
    }
    if !var("GITHUB_ACTIONS") && var("GITLAB_CI") {
        return super::gitlab::run(&options(super::gitlab::Source::GitLabCi));
    }
    run()
}

/// `promote run` in GitHub Actions.
pub fn run() -> anyhow::Result<i32> {
    let env = RunnerEnv::from_process();
    let token = env
        .input("token")
        .or_else(|| env.var("GITHUB_TOKEN"))
        .map(Token::new);
    if let Some(t) = &token {
        println!("{}", action::add_mask(t.expose()));
    }
    let workspace = env.workspace();
    let config_rel = env
        .input("config")
        .unwrap_or(".github/promote.toml")
        .to_string();
    match run_with(&env, &workspace, &config_rel, token) {
        Ok(out) => {
            for m in &out.messages {
                action::diag(m);
            }
            write_outputs(&env, &out, None)?;
            Ok(0)
        }
        Err(e) => {
            println!("{}", annotation(&e));
            // A failed run still answers: `changed=false` and the error, so no earlier output
            // (or injected line) stands for this run.
            let failed = Outcome::default();
            if let Err(w) = write_outputs(&env, &failed, Some(&format!("{e:#}"))) {
                action::diag(&format!("could not write the outputs: {w}"));
            }
            Err(e)
        }
    }
}

fn run_with(
    env: &RunnerEnv,
    workspace: &Path,
    config_rel: &str,
    token: Option<Token>,
) -> anyhow::Result<Outcome> {
    let (trigger, config, overrides) = {
        let _group = action::Group::open("read the event and the config");
        let name = env
            .var("GITHUB_EVENT_NAME")
            .context("GITHUB_EVENT_NAME is not set: `promote run` is for GitHub Actions")?;
        let path = env
            .var("GITHUB_EVENT_PATH")
            .context("GITHUB_EVENT_PATH is not set")?;
        let payload = fs_err::read(path)?;
        let overrides = overrides(env)?;
        let trigger = with_inputs(event::parse(name, &payload)?, &overrides);
        let bytes = fs_err::read(workspace.join(config_rel))
            .with_context(|| format!("no config at `{config_rel}`"))?;
        let config = Config::load(config_rel, &bytes)?;
        (trigger, config, overrides)
    };
    if let Trigger::Ignored { reason } = &trigger {
        return Ok(Outcome {
            messages: vec![reason.clone()],
            ..Outcome::default()
        });
    }
    let (forge, git) = forges(env, &config, workspace, token)?;
    let _group = action::Group::open("gate, plan and deliver");
    Runner {
        config: &config,
        forge: forge.as_ref(),
        git: git.as_deref(),
        overrides,
        open_prs: Default::default(),
    }
    .handle(&trigger)
}

fn write_outputs(env: &RunnerEnv, out: &Outcome, error: Option<&str>) -> anyhow::Result<()> {
    if let Some(path) = env.var("GITHUB_OUTPUT") {
        action::write_outputs(
            Path::new(path),
            &[
                ("promoted", serde_json::to_string(&out.promoted)?),
                ("held", serde_json::to_string(&out.held)?),
                ("changed", out.changed.to_string()),
                ("commit-sha", out.commit_sha.clone().unwrap_or_default()),
                ("pull-requests", serde_json::to_string(&out.pull_requests)?),
                ("error", error.unwrap_or_default().to_string()),
            ],
        )?;
    }
    if let Some(path) = env.var("GITHUB_STEP_SUMMARY") {
        let mut md = out.summary.clone();
        for m in &out.messages {
            md.push_str(&format!("\n> {}\n", plan::render::reason(m)));
        }
        if let Some(e) = error {
            md.push_str(&format!(
                "\n> [!CAUTION]\n> promote failed: {}\n",
                plan::render::reason(e)
            ));
        }
        action::append_summary(Path::new(path), &md)?;
    }
    Ok(())
}

/// An `::error` annotation for an error, with file, line and column where it has them.
fn annotation(e: &anyhow::Error) -> String {
    let msg = format!("{e:#}");
    let location = e.chain().find_map(|c| {
        if let Some(edit) = c.downcast_ref::<crate::edit::EditError>() {
            return Some(edit.location());
        }
        if let Some(plan) = c.downcast_ref::<crate::plan::PlanError>() {
            return plan.location();
        }
        c.downcast_ref::<crate::config::ConfigError>()
            .map(|cfg| cfg.location())
    });
    match location {
        Some((file, pos)) => action::error_annotation(Some(file), pos, &msg),
        None => action::error_annotation(None, None, &msg),
    }
}
