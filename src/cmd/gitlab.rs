//! `promote run` outside GitHub Actions: in a GitLab CI job (`GITLAB_CI`), or in any CI (Jenkins)
//! given a GitLab webhook payload (`--event-name`, `--event-path`). The event becomes the same
//! `Trigger` as on GitHub and goes through the same `Runner::handle`, against `GitLabForge`.
//!
//! Out: the outcome as JSON (or markdown) on stdout, and a dotenv report
//! (`artifacts:reports:dotenv`) with `PROMOTE_CHANGED` and friends.

#![deny(clippy::indexing_slicing)]

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::Format;
use super::runner::{Outcome, Overrides, Runner, with_inputs};
use crate::action::RunnerEnv;
use crate::config::{CommitMode, Config};
use crate::event::{self, Trigger};
use crate::forge::gitlab::{GITLAB_COM_API, GitLabConfig, GitLabForge, GitLabToken};
use crate::forge::{Forge, Token};
use crate::plan;

/// The config path when neither `--config` nor `PROMOTE_CONFIG` names one.
pub const DEFAULT_CONFIG: &str = ".github/promote.toml";
/// The dotenv report's path when `PROMOTE_DOTENV` names none.
pub const DEFAULT_DOTENV: &str = "promote.env";

/// Where the event comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A GitLab CI job: its predefined variables.
    GitLabCi,
    /// A GitLab webhook payload (`X-Gitlab-Event` name and the body's file).
    Hook { name: String, path: PathBuf },
}

/// Choices of a run outside GitHub Actions.
#[derive(Debug, Clone)]
pub struct Options {
    pub source: Source,
    /// Config path relative to the workspace.
    pub config: String,
    /// What stdout gets: JSON (default), markdown, or text (the messages).
    pub format: Format,
}

/// The inputs GitHub gets as `INPUT_*`, here as `PROMOTE_*` variables (a GitLab CI job's
/// variables, a Jenkins job's environment). Dispatch inputs (`PROMOTE_FROM`, ...) are read by
/// the event; these apply to every event.
fn overrides(env: &RunnerEnv) -> anyhow::Result<Overrides> {
    let flag = |name: &str| -> anyhow::Result<bool> {
        match env.var(name) {
            None => Ok(false),
            Some(v) => crate::action::parse_bool(v)
                .with_context(|| format!("{name} must be `true` or `false`, got `{v}`")),
        }
    };
    let delivery = match env.var("PROMOTE_DELIVERY") {
        None => None,
        Some(d) => Some(
            serde_json::from_value(serde_json::Value::String(d.to_owned())).map_err(|_| {
                anyhow::anyhow!("PROMOTE_DELIVERY must be `commit`, `pull-request` or `pull-request-per-component`, got `{d}`")
            })?,
        ),
    };
    let mut pins = Vec::new();
    for p in event::split_list(env.var("PROMOTE_PIN").unwrap_or_default()) {
        pins.push(plan::parse_pin(&p)?);
    }
    Ok(Overrides {
        from: env.var("PROMOTE_FROM").map(str::to_owned),
        to: env.var("PROMOTE_TO").map(str::to_owned),
        components: event::split_list(env.var("PROMOTE_COMPONENTS").unwrap_or_default()),
        pins,
        force: flag("PROMOTE_FORCE")?,
        dry_run: flag("PROMOTE_DRY_RUN")?,
        delivery,
        commit_mode: Some(CommitMode::Api),
    })
}

/// The GitLab API: `CI_API_V4_URL` (else the webhook project's, else gitlab.com), the project
/// `CI_PROJECT_ID` (else the webhook's, else `CI_PROJECT_PATH`), the token `GITLAB_TOKEN` (else
/// the job's `CI_JOB_TOKEN`).
fn forge(env: &RunnerEnv, hook: &event::gitlab::HookProject) -> anyhow::Result<GitLabForge> {
    let token = match (env.var("GITLAB_TOKEN"), env.var("CI_JOB_TOKEN")) {
        (Some(t), _) => GitLabToken::Private(Token::new(t)),
        (None, Some(t)) => GitLabToken::Job(Token::new(t)),
        (None, None) => anyhow::bail!(
            "no token: set GITLAB_TOKEN to a project access token with the `api` scope (a job's CI_JOB_TOKEN can read, but GitLab lets it open no merge request)"
        ),
    };
    let api_url = env
        .var("CI_API_V4_URL")
        .map(str::to_owned)
        .or_else(|| hook.api_url())
        .unwrap_or_else(|| GITLAB_COM_API.to_owned());
    let project = env
        .var("CI_PROJECT_ID")
        .map(str::to_owned)
        .or_else(|| hook.id.map(|id| id.to_string()))
        .or_else(|| env.var("CI_PROJECT_PATH").map(str::to_owned))
        .or_else(|| hook.path_with_namespace.clone())
        .context(
            "no GitLab project: set CI_PROJECT_ID (a webhook payload's `project.id` does too)",
        )?;
    Ok(GitLabForge::new(GitLabConfig {
        api_url,
        project,
        token,
        // PROMOTE_HTTP_CONNECT_TIMEOUT, PROMOTE_HTTP_TIMEOUT, PROMOTE_DEADLINE.
        retry: crate::forge::http::RetryPolicy::from_vars(|name| env.var(name))?,
    })?)
}

/// `promote run` in GitLab CI or with a GitLab webhook payload.
pub fn run(options: &Options) -> anyhow::Result<i32> {
    let env = RunnerEnv::from_process();
    let workspace = env
        .var("CI_PROJECT_DIR")
        .or_else(|| env.var("WORKSPACE"))
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    let dotenv = env
        .var("PROMOTE_DOTENV")
        .map_or_else(|| workspace.join(DEFAULT_DOTENV), PathBuf::from);
    match run_with(&env, &workspace, options) {
        Ok(out) => {
            for m in &out.messages {
                crate::action::diag(m);
            }
            write_dotenv(&dotenv, &out, None)?;
            print_outcome(&out, options.format)?;
            Ok(0)
        }
        Err(e) => {
            // A failed run still answers: `PROMOTE_CHANGED=false` and the error.
            if let Err(w) = write_dotenv(&dotenv, &Outcome::default(), Some(&format!("{e:#}"))) {
                crate::action::diag(&format!("could not write {}: {w}", dotenv.display()));
            }
            Err(e)
        }
    }
}

fn run_with(env: &RunnerEnv, workspace: &Path, options: &Options) -> anyhow::Result<Outcome> {
    let overrides = overrides(env)?;
    let (trigger, hook) = match &options.source {
        Source::GitLabCi => (
            event::gitlab::from_ci(|name| env.var(name))?,
            event::gitlab::HookProject::default(),
        ),
        Source::Hook { name, path } => {
            let payload = fs_err::read(path)?;
            (
                event::gitlab::parse_hook(name, &payload)?,
                event::gitlab::hook_project(&payload),
            )
        }
    };
    let trigger = with_inputs(trigger, &overrides);
    let bytes = fs_err::read(workspace.join(&options.config)).with_context(|| {
        format!(
            "no config at `{}` in {}\nhint: check the repository out first, or name it with --config / PROMOTE_CONFIG",
            options.config,
            workspace.display()
        )
    })?;
    let config = Config::load(&options.config, &bytes)?;
    if let Trigger::Ignored { reason } = &trigger {
        return Ok(Outcome {
            messages: vec![reason.clone()],
            ..Outcome::default()
        });
    }
    let forge = forge(env, &hook)?;
    Runner {
        config: &config,
        forge: &forge as &dyn Forge,
        git: None,
        overrides,
        open_prs: Default::default(),
    }
    .handle(&trigger)
}

/// A dotenv value on one line (GitLab reads one `KEY=value` per line, verbatim).
fn one_line(text: &str) -> String {
    text.replace("\r\n", " ").replace(['\n', '\r'], " ")
}

/// `PROMOTE_CHANGED`, `PROMOTE_COMMIT_SHA`, `PROMOTE_PROMOTED`, `PROMOTE_HELD`,
/// `PROMOTE_MERGE_REQUESTS` (JSON on one line) and `PROMOTE_ERROR`, for
/// `artifacts:reports:dotenv`: later jobs of the pipeline get them as variables.
pub fn write_dotenv(path: &Path, out: &Outcome, error: Option<&str>) -> anyhow::Result<()> {
    let lines = [
        ("PROMOTE_CHANGED", out.changed.to_string()),
        (
            "PROMOTE_COMMIT_SHA",
            out.commit_sha.clone().unwrap_or_default(),
        ),
        ("PROMOTE_PROMOTED", serde_json::to_string(&out.promoted)?),
        ("PROMOTE_HELD", serde_json::to_string(&out.held)?),
        (
            "PROMOTE_MERGE_REQUESTS",
            serde_json::to_string(&out.pull_requests)?,
        ),
        ("PROMOTE_ERROR", one_line(error.unwrap_or_default())),
    ];
    let mut f = fs_err::File::create(path)?;
    for (k, v) in lines {
        writeln!(f, "{k}={}", one_line(&v))?;
    }
    Ok(())
}

/// The outcome on stdout: JSON (`schema_version` 1), the markdown summary, or the messages.
fn print_outcome(out: &Outcome, format: Format) -> anyhow::Result<()> {
    let text = match format {
        Format::Json => {
            let mut value = serde_json::to_value(out)?;
            if let Some(map) = value.as_object_mut() {
                map.insert("schema_version".into(), 1.into());
                map.insert(
                    "plans".into(),
                    serde_json::Value::Array(
                        out.plans
                            .iter()
                            .map(|p| serde_json::from_str(&plan::render::json(p)))
                            .collect::<Result<_, _>>()?,
                    ),
                );
            }
            serde_json::to_string_pretty(&value)?
        }
        Format::Markdown => {
            let mut md = out.summary.clone();
            for m in &out.messages {
                md.push_str(&format!("\n> {}\n", plan::render::reason(m)));
            }
            md
        }
        Format::Text => out.messages.join("\n"),
    };
    println!("{}", crate::action::neutralize(&text));
    Ok(())
}
