//! `promote run`: action mode. `GITHUB_*`/`INPUT_*` in; outputs, step summary and workflow
//! commands out. The promotion itself is `runner::Runner`.

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
    })
}

/// Build the forge the config and inputs ask for.
fn forge(
    env: &RunnerEnv,
    config: &Config,
    workspace: &Path,
    token: Option<Token>,
) -> anyhow::Result<Box<dyn Forge>> {
    let mode = match env.input("commit-mode") {
        Some("git") => CommitMode::Git,
        Some("api") => CommitMode::Api,
        Some(other) => anyhow::bail!("input `commit-mode` must be `api` or `git`, got `{other}`"),
        None => config
            .promotions
            .first()
            .map(|p| p.commit_mode)
            .unwrap_or_default(),
    };
    match mode {
        CommitMode::Git => {
            trust_workspace(workspace);
            Ok(Box::new(crate::forge::git::GitForge::open(
                workspace, token,
            )?))
        }
        CommitMode::Api => {
            let token = token.context(
                "no token: set the `token` input (it defaults to `${{ github.token }}`)",
            )?;
            let repository = env
                .var("GITHUB_REPOSITORY")
                .context("GITHUB_REPOSITORY is not set")?
                .to_string();
            Ok(Box::new(crate::forge::github::GitHubForge::new(
                crate::forge::github::GitHubConfig {
                    api_url: env
                        .var("GITHUB_API_URL")
                        .unwrap_or("https://api.github.com")
                        .to_string(),
                    graphql_url: env.var("GITHUB_GRAPHQL_URL").map(str::to_string),
                    repository,
                    token,
                    // PROMOTE_HTTP_CONNECT_TIMEOUT, PROMOTE_HTTP_TIMEOUT, PROMOTE_DEADLINE.
                    retry: crate::forge::github::RetryPolicy::from_vars(|name| env.var(name))?,
                },
            )?))
        }
    }
}

/// A Docker action runs as root on a workspace owned by the runner's user: git refuses it as
/// "dubious ownership". Trust exactly that folder in the container's global git config.
fn trust_workspace(workspace: &Path) {
    let Ok(path) = workspace.canonicalize() else {
        return;
    };
    let Ok(global) = git2::Config::find_global().or_else(|_| {
        std::env::var_os("HOME")
            .map(|h| Path::new(&h).join(".gitconfig"))
            .ok_or_else(|| git2::Error::from_str("no HOME"))
    }) else {
        return;
    };
    if let Ok(mut cfg) = git2::Config::open(&global) {
        let value = path.display().to_string();
        let _ = cfg.set_multivar(
            "safe.directory",
            &format!("^{}$", regex::escape(&value)),
            &value,
        );
    }
}

/// `promote run`.
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
    let result = run_with(&env, &workspace, &config_rel, token);
    match result {
        Ok(out) => {
            for m in &out.messages {
                eprintln!("{m}");
            }
            write_outputs(&env, &out)?;
            Ok(0)
        }
        Err(e) => {
            println!("{}", annotation(&e));
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
    println!("::group::read the event and the config");
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
    println!("::endgroup::");
    if let Trigger::Ignored { reason } = &trigger {
        return Ok(Outcome {
            messages: vec![reason.clone()],
            ..Outcome::default()
        });
    }
    let forge = forge(env, &config, workspace, token)?;
    println!("::group::gate, plan and deliver");
    let out = Runner {
        config: &config,
        forge: forge.as_ref(),
        overrides,
    }
    .handle(&trigger);
    println!("::endgroup::");
    out
}

fn write_outputs(env: &RunnerEnv, out: &Outcome) -> anyhow::Result<()> {
    if let Some(path) = env.var("GITHUB_OUTPUT") {
        action::write_outputs(
            Path::new(path),
            &[
                ("promoted", serde_json::to_string(&out.promoted)?),
                ("held", serde_json::to_string(&out.held)?),
                ("changed", out.changed.to_string()),
                ("commit-sha", out.commit_sha.clone().unwrap_or_default()),
                ("pull-requests", serde_json::to_string(&out.pull_requests)?),
            ],
        )?;
    }
    if let Some(path) = env.var("GITHUB_STEP_SUMMARY") {
        let mut md = out.summary.clone();
        for m in &out.messages {
            md.push_str(&format!("\n> {m}\n"));
        }
        action::append_summary(Path::new(path), &md)?;
    }
    Ok(())
}

/// An `::error` annotation for an error, with file, line and column where it has them.
fn annotation(e: &anyhow::Error) -> String {
    let msg = format!("{e:#}");
    if let Some(edit) = e
        .chain()
        .find_map(|c| c.downcast_ref::<crate::edit::EditError>())
    {
        let (file, pos) = edit.location();
        return action::error_annotation(Some(file), pos, &msg);
    }
    if let Some(cfg) = e
        .chain()
        .find_map(|c| c.downcast_ref::<crate::config::ConfigError>())
    {
        let (file, pos) = cfg.location();
        return action::error_annotation(Some(file), pos, &msg);
    }
    action::error_annotation(None, None, &msg)
}
