//! `.github/promote.toml`: environments, sources and promotions, validated with positions.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::edit::LineIndex;
use crate::forge::{MergeMethod, ref_safe};
use crate::gate::GateConfig;
use crate::source::{Kind, Locator};

mod paths;
pub use paths::{Captures, PathPattern, Step};

/// A config problem, with the config file's line and column where there is one.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{file}:{line}:{column}: {message}")]
    At {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    File { file: String, message: String },
    /// Several problems found in one pass, so a fix-and-rerun loop sees them all at once.
    #[error("{} problems in the config:{}", .0.len(), list(.0))]
    Many(Vec<ConfigError>),
}

fn list(errors: &[ConfigError]) -> String {
    errors.iter().map(|e| format!("\n  {e}")).collect()
}

impl ConfigError {
    /// The file and, where known, line and column (of the first problem for `Many`).
    pub fn location(&self) -> (&str, Option<(usize, usize)>) {
        match self {
            ConfigError::At {
                file, line, column, ..
            } => (file, Some((*line, *column))),
            ConfigError::File { file, .. } => (file, None),
            ConfigError::Many(all) => match all.first() {
                Some(first) => first.location(),
                None => ("", None),
            },
        }
    }

    /// One error for `errors`: itself when there is one, `Many` when there are more.
    fn all(mut errors: Vec<ConfigError>) -> Result<(), ConfigError> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(ConfigError::Many(errors)),
        }
    }

    /// Each problem on its own (`Many` flattened), for reports that list them one by one.
    pub fn problems(&self) -> Vec<&ConfigError> {
        match self {
            ConfigError::Many(all) => all.iter().collect(),
            one => vec![one],
        }
    }
}

/// One environment; it may live on its own branch (seeds 000, 004).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Environment {
    pub name: String,
    pub branch: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawEnvironment {
    Name(String),
    Table(EnvTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvTable {
    name: String,
    branch: Option<String>,
}

/// `[[source]]`: one file per environment and where its versions are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Source {
    /// Path relative to the repository root; `{env}` is replaced by the environment's name, a
    /// placeholder such as `{app}` matches one path segment and `**` any number of them.
    pub path: String,
    pub kind: Kind,
    pub at: Option<String>,
    pub items: Option<String>,
    pub key: Option<String>,
    pub value: Option<String>,
    pub version_key: Option<String>,
    /// `image-tag`: the value is a whole image reference, versioned by its tag (`yaml`, `toml`,
    /// `hcl-map`).
    pub part: Option<crate::source::Part>,
    /// Component ids are `group/name`; without a group just `name`. May use the path's
    /// placeholders (`apps-{app}`).
    pub group: Option<String>,
    /// Only these environments have this source (default: all).
    pub environments: Option<Vec<String>>,
    /// The file holds the version rendered through this template (`{name}-{version}`).
    pub template: Option<String>,
    /// Env files (`KEY=value`) that resolve `${var}` values as Flux `postBuild.substituteFrom`
    /// does, in its order (later files win); `{env}` is replaced by the environment's name.
    #[serde(default)]
    pub substitute_from: Vec<String>,
    /// Only components whose names match one of these globs are listed (default: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Components whose names match one of these globs are not listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// Component name -> the name statuses use for it (`paperless_ngx_version = "paperless"`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub status_names: BTreeMap<String, String>,
}

impl Source {
    pub fn locator(&self) -> Locator {
        Locator {
            kind: self.kind,
            at: self.at.clone(),
            items: self.items.clone(),
            key: self.key.clone(),
            value: self.value.clone(),
            version_key: self.version_key.clone(),
            part: self.part,
        }
    }

    /// The file of this source in `env`, or `None` when the source does not apply to it.
    pub fn path_for(&self, env: &str) -> Option<String> {
        match &self.environments {
            Some(envs) if !envs.iter().any(|e| e == env) => None,
            _ => Some(self.path.replace("{env}", env)),
        }
    }

    /// The `substitute-from` files of this source in `env`, in order.
    pub fn substitute_paths(&self, env: &str) -> Vec<String> {
        self.substitute_from
            .iter()
            .map(|p| p.replace("{env}", env))
            .collect()
    }

    /// The path pattern of this source in `env` (see [`PathPattern`]), or `None` when the source
    /// does not apply to it.
    pub fn pattern_for(&self, env: &str) -> Option<PathPattern> {
        let path = self.path_for(env)?;
        // `Config::load` refused patterns that do not parse; a literal is the safe reading.
        Some(PathPattern::parse(&path).unwrap_or_else(|_| PathPattern::literal(&path)))
    }

    /// The group of the components of a file whose path gave `captures`.
    pub fn group_for(&self, captures: &Captures) -> Option<String> {
        self.group.as_ref().map(|g| captures.render(g))
    }

    /// The component id of `name` in this source.
    pub fn id(&self, name: &str) -> String {
        self.id_in(&Captures::default(), name)
    }

    /// The component id of `name` in a file whose path gave `captures`.
    pub fn id_in(&self, captures: &Captures, name: &str) -> String {
        match self.group_for(captures) {
            Some(g) => format!("{g}/{name}"),
            None => name.to_string(),
        }
    }

    /// Strip the template from a stored value: `cert-manager-v1.2` -> `v1.2` for `{name}-{version}`.
    pub fn version_from_stored(&self, name: &str, stored: &str) -> crate::Text {
        let Some(t) = &self.template else {
            return stored.into();
        };
        let t = t.replace("{name}", name);
        match t.split_once("{version}") {
            Some((pre, post)) => stored
                .strip_prefix(pre)
                .and_then(|s| s.strip_suffix(post))
                .unwrap_or(stored)
                .into(),
            None => stored.into(),
        }
    }

    /// Render a version for storage through the template.
    pub fn version_to_stored<'v>(&self, name: &str, version: &'v str) -> Cow<'v, str> {
        match &self.template {
            Some(t) => t
                .replace("{name}", name)
                .replace("{version}", version)
                .into(),
            None => version.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryKind {
    #[default]
    Commit,
    PullRequest,
    PullRequestPerComponent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommitMode {
    #[default]
    Api,
    Git,
}

fn yes() -> bool {
    true
}

/// `[[promotion]]`: how versions move from one environment to the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Promotion {
    pub from: String,
    pub to: String,
    #[serde(default)]
    pub delivery: DeliveryKind,
    /// Promote what succeeded, hold what did not.
    #[serde(default = "yes")]
    pub partial: bool,
    #[serde(default)]
    pub gate: GateConfig,
    /// Tag template created on the promoted commit, e.g. `{component}-{version}`.
    pub tag: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    /// Pull request branch template; default `promote/{from}-to-{to}`
    /// (per component: `promote/{to}/{component}`).
    pub branch: Option<String>,
    #[serde(default)]
    pub auto_merge: bool,
    /// How auto-merge merges the pull request: `merge`, `squash` or `rebase`; default: the
    /// repository's allowed method, preferring squash, then merge, then rebase.
    pub merge_method: Option<MergeMethod>,
    /// Review checklist items for the pull request body.
    #[serde(default)]
    pub checklist: Vec<String>,
    #[serde(default)]
    pub commit_mode: CommitMode,
    /// Commit title template; default `chore(promote): {from} -> {to}`.
    pub message: Option<String>,
    /// The components this promotion carries (globs on ids, names or status names); default: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
}

impl Promotion {
    pub fn title(&self) -> String {
        self.message
            .as_deref()
            .unwrap_or("chore(promote): {from} -> {to}")
            .replace("{from}", &self.from)
            .replace("{to}", &self.to)
    }

    pub fn pr_branch(&self) -> String {
        self.branch
            .as_deref()
            .unwrap_or("promote/{from}-to-{to}")
            .replace("{from}", &self.from)
            .replace("{to}", &self.to)
    }

    /// `promote/{to}/{component}`, the component made ref-safe: `/`, `:` and every other
    /// character git refuses in a ref name become `-` (`localhost:5000/api` ->
    /// `localhost-5000-api`).
    pub fn component_branch(&self, component: &str) -> String {
        format!("promote/{}/{}", self.to, ref_safe(component))
    }

    /// The tag for a promoted component, from the `tag` template (`{component}-{version}`).
    pub fn tag_name(&self, component: &str, version: &str) -> Option<String> {
        self.tag.as_ref().map(|t| {
            t.replace("{component}", component)
                .replace("{version}", version)
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawConfig {
    environments: Spanned<Vec<Spanned<RawEnvironment>>>,
    main_branch: Option<String>,
    #[serde(default, rename = "source")]
    sources: Vec<Spanned<Source>>,
    #[serde(default, rename = "promotion")]
    promotions: Vec<Spanned<Promotion>>,
}

/// The whole config, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Config {
    /// Label of the config file, for messages.
    pub file: String,
    pub environments: Vec<Environment>,
    pub main_branch: String,
    pub sources: Vec<Source>,
    pub promotions: Vec<Promotion>,
    /// Byte spans of each source in the config file, for messages about it.
    #[serde(skip)]
    pub source_spans: Vec<Range<usize>>,
    #[serde(skip)]
    text: String,
}

impl Config {
    /// Parse and validate `bytes`, the contents of the config file `file`.
    pub fn load(file: &str, bytes: &[u8]) -> Result<Config, ConfigError> {
        let text = std::str::from_utf8(bytes).map_err(|_| ConfigError::File {
            file: file.to_string(),
            message: "config is not valid UTF-8".to_string(),
        })?;
        let at = |span: Option<Range<usize>>, message: String| match span {
            Some(span) => {
                let (line, column) = LineIndex::new(text).line_col(span.start);
                ConfigError::At {
                    file: file.to_string(),
                    line,
                    column,
                    message,
                }
            }
            None => ConfigError::File {
                file: file.to_string(),
                message,
            },
        };
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| at(e.span(), e.message().to_string()))?;
        let mut environments = Vec::new();
        for env in raw.environments.get_ref() {
            let span = env.span();
            let env = match env.get_ref() {
                RawEnvironment::Name(name) => Environment {
                    name: name.clone(),
                    branch: None,
                },
                RawEnvironment::Table(t) => Environment {
                    name: t.name.clone(),
                    branch: t.branch.clone(),
                },
            };
            if env.name.is_empty()
                || environments
                    .iter()
                    .any(|e: &Environment| e.name == env.name)
            {
                return Err(at(
                    Some(span),
                    format!("environment `{}` is empty or listed twice", env.name),
                ));
            }
            environments.push(env);
        }
        if environments.len() < 2 {
            return Err(at(
                Some(raw.environments.span()),
                "at least two environments are needed".into(),
            ));
        }
        let main_branch = raw.main_branch.unwrap_or_else(|| "main".to_string());
        let spans = KeySpans::parse(text);
        let mut problems = Vec::new();
        for (i, s) in raw.sources.iter().enumerate() {
            if let Err((key, msg)) = check_source(s.get_ref(), &environments, &main_branch) {
                problems.push(at(spans.get("source", i, key).or(Some(s.span())), msg));
            }
            for (j, p) in s.get_ref().substitute_from.iter().enumerate() {
                if let Some(msg) = check_substitute_path(p) {
                    let span = spans.item("source", i, "substitute-from", j);
                    problems.push(at(span.or(Some(s.span())), msg));
                }
            }
        }
        for (i, p) in raw.promotions.iter().enumerate() {
            if let Err((key, msg)) = check_promotion(p.get_ref(), &environments) {
                problems.push(at(spans.get("promotion", i, key).or(Some(p.span())), msg));
            }
            // A request names its promotion by `from` and `to`: two with the same pair could
            // not be told apart.
            let (from, to) = (&p.get_ref().from, &p.get_ref().to);
            if raw
                .promotions
                .iter()
                .take(i)
                .any(|q| &q.get_ref().from == from && &q.get_ref().to == to)
            {
                problems.push(at(
                    Some(p.span()),
                    format!("promotion `{from} -> {to}` is listed twice\nhint: one `[[promotion]]` per pair of environments; list every component it carries in its `components`"),
                ));
            }
        }
        ConfigError::all(problems)?;
        let promotions = if raw.promotions.is_empty() {
            environments
                .windows(2)
                .map(|w| default_promotion(&w[0].name, &w[1].name))
                .collect()
        } else {
            raw.promotions.iter().map(|p| p.get_ref().clone()).collect()
        };
        Ok(Config {
            file: file.to_string(),
            main_branch,
            source_spans: raw.sources.iter().map(|s| s.span()).collect(),
            sources: raw.sources.into_iter().map(|s| s.into_inner()).collect(),
            environments,
            promotions,
            text: text.to_string(),
        })
    }

    /// `file:line:column` of source `index` in the config, for messages.
    pub fn source_error(&self, index: usize, message: String) -> ConfigError {
        let start = self.source_spans.get(index).map_or(0, |s| s.start);
        let (line, column) = LineIndex::new(&self.text).line_col(start);
        ConfigError::At {
            file: self.file.clone(),
            line,
            column,
            message,
        }
    }

    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }

    pub fn promotion(&self, from: &str, to: &str) -> Option<&Promotion> {
        self.promotions
            .iter()
            .find(|p| p.from == from && p.to == to)
    }

    /// Whether `group` is a source's `group`, or what a `group` with placeholders renders to.
    pub fn knows_group(&self, group: &str) -> bool {
        self.sources
            .iter()
            .filter_map(|s| s.group.as_deref())
            .any(|g| g == group || paths::template_matches(g, group))
    }

    /// Every source's `group`, once each, in config order.
    pub fn groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = Vec::new();
        for g in self.sources.iter().filter_map(|s| s.group.as_ref()) {
            if !groups.contains(g) {
                groups.push(g.clone());
            }
        }
        groups
    }

    /// `a -> b, b -> c`: every promotion, for messages.
    pub fn promotion_names(&self) -> String {
        let names: Vec<String> = self
            .promotions
            .iter()
            .map(|p| format!("{} -> {}", p.from, p.to))
            .collect();
        names.join(", ")
    }

    pub fn first_promotion(&self) -> Option<&Promotion> {
        self.promotions.first()
    }

    /// The promotion chosen by optional `from`/`to`, defaulting to the first one. One side
    /// alone must name exactly one promotion: `from = dev` is ambiguous when `dev` promotes to
    /// two environments.
    pub fn pick_promotion(
        &self,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<&Promotion, ConfigError> {
        let found: Vec<&Promotion> = match (from, to) {
            (None, None) => self.first_promotion().into_iter().collect(),
            _ => self
                .promotions
                .iter()
                .filter(|p| from.is_none_or(|f| p.from == f) && to.is_none_or(|t| p.to == t))
                .collect(),
        };
        let message = match found.as_slice() {
            [one] => return Ok(one),
            [] => format!(
                "no promotion {} -> {} in the config\nhint: promotions: {}",
                from.unwrap_or("*"),
                to.unwrap_or("*"),
                self.promotion_names()
            ),
            many => {
                let names: Vec<String> = many
                    .iter()
                    .map(|p| format!("{} -> {}", p.from, p.to))
                    .collect();
                format!(
                    "{} -> {} names {} promotions: {}\nhint: name both `from` and `to`",
                    from.unwrap_or("*"),
                    to.unwrap_or("*"),
                    many.len(),
                    names.join(", ")
                )
            }
        };
        Err(ConfigError::File {
            file: self.file.clone(),
            message,
        })
    }

    /// The branch an environment's files live on.
    pub fn branch_of(&self, env: &str) -> &str {
        self.environment(env)
            .and_then(|e| e.branch.as_deref())
            .unwrap_or(&self.main_branch)
    }
}

/// A problem with one `[[source]]` or `[[promotion]]`: the key it is about, and the message.
type Problem = (&'static str, String);

fn known_names(environments: &[Environment]) -> String {
    let names: Vec<&str> = environments.iter().map(|e| e.name.as_str()).collect();
    names.join(", ")
}

fn check_source(src: &Source, environments: &[Environment], main: &str) -> Result<(), Problem> {
    if let Some(problem) = unsafe_path(&src.path) {
        return Err(("path", format!("source path `{}` {problem}", src.path)));
    }
    check_placeholders(src)?;
    for env in src.environments.iter().flatten() {
        if !environments.iter().any(|e| &e.name == env) {
            return Err((
                "environments",
                format!(
                    "source `{}` names unknown environment `{env}` (known: {})",
                    src.path,
                    known_names(environments)
                ),
            ));
        }
    }
    if let Some(t) = &src.template
        && !t.contains("{version}")
    {
        return Err(("template", format!("template `{t}` has no `{{version}}`")));
    }
    for (key, patterns) in [("include", &src.include), ("exclude", &src.exclude)] {
        if let Err((pattern, message)) = globs(patterns) {
            return Err((
                key,
                format!("`{key}` glob `{pattern}` is not valid: {message}"),
            ));
        }
    }
    if let Some(part) = src.part
        && !matches!(src.kind, Kind::Yaml | Kind::Toml | Kind::HclMap)
    {
        return Err((
            "part",
            format!(
                "`part = \"{}\"` applies to `yaml`, `toml` and `hcl-map` sources, not `{}`",
                part.as_str(),
                src.kind
            ),
        ));
    }
    if let Some((name, _)) = src.status_names.iter().find(|(_, v)| v.trim().is_empty()) {
        return Err((
            "status-names",
            format!("`status-names` gives `{name}` an empty name"),
        ));
    }
    if !src.path.contains("{env}") {
        // Without `{env}`, environments only differ by the branch they live on.
        let mut seen: Vec<(&str, &str)> = Vec::new();
        for e in environments
            .iter()
            .filter(|e| src.path_for(&e.name).is_some())
        {
            let branch = e.branch.as_deref().unwrap_or(main);
            if let Some((other, _)) = seen.iter().find(|(_, b)| *b == branch) {
                return Err((
                    "path",
                    format!(
                        "source path `{}` has no `{{env}}`: environments `{other}` and `{}` would share one file\nhint: put `{{env}}` in the path, give the environments their own `branch`, or limit the source with `environments`",
                        src.path, e.name
                    ),
                ));
            }
            seen.push((&e.name, branch));
        }
    }
    Ok(())
}

/// Why a `substitute-from` entry is refused: paths are checked like `path`, and `{env}` is the
/// only placeholder (one env file per environment, never a pattern).
fn check_substitute_path(path: &str) -> Option<String> {
    if let Some(problem) = unsafe_path(path) {
        return Some(format!("substitute-from path `{path}` {problem}"));
    }
    if path.replace("{env}", "").contains(['{', '}', '*']) {
        return Some(format!(
            "substitute-from path `{path}`: `{{env}}` is the only placeholder it may hold"
        ));
    }
    None
}

/// The path parses as a pattern, and `group` uses only placeholders the path has (not `{env}`:
/// a component's id is the same in every environment).
fn check_placeholders(src: &Source) -> Result<(), Problem> {
    let pattern = PathPattern::parse(&src.path.replace("{env}", "env"))
        .map_err(|why| ("path", format!("source path `{}` {why}", src.path)))?;
    let Some(group) = &src.group else {
        return Ok(());
    };
    let names =
        paths::placeholders(group).map_err(|why| ("group", format!("group `{group}` {why}")))?;
    if names.iter().any(|n| n == "env") {
        return Err((
            "group",
            format!(
                "group `{group}` uses `{{env}}`: a component's id must be the same in every environment"
            ),
        ));
    }
    let known = pattern.names();
    if let Some(missing) = names.iter().find(|n| !known.contains(&n.as_str())) {
        return Err((
            "group",
            format!(
                "group `{group}` uses `{{{missing}}}`, which the source path `{}` does not have\nhint: placeholders of the path: {}",
                src.path,
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known
                        .iter()
                        .map(|n| format!("`{{{n}}}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
        ));
    }
    Ok(())
}

fn check_promotion(pr: &Promotion, environments: &[Environment]) -> Result<(), Problem> {
    for (key, env) in [("from", &pr.from), ("to", &pr.to)] {
        if !environments.iter().any(|e| &e.name == env) {
            return Err((
                key,
                format!(
                    "promotion `{} -> {}` names unknown environment `{env}` (known: {})",
                    pr.from,
                    pr.to,
                    known_names(environments)
                ),
            ));
        }
    }
    if pr.from == pr.to {
        return Err((
            "to",
            format!("promotion `{} -> {}` goes nowhere", pr.from, pr.to),
        ));
    }
    if let Err((pattern, message)) = globs(&pr.components) {
        return Err((
            "components",
            format!("`components` glob `{pattern}` is not valid: {message}"),
        ));
    }
    if let Some(Err(crate::gate::GateError::BadRegex { message, .. })) = pr.gate.pattern(&pr.from) {
        return Err((
            "gate",
            format!("`gate.status-context` is not a valid regex: {message}"),
        ));
    }
    Ok(())
}

/// Spans of the values in `[[source]]` and `[[promotion]]` tables, for precise messages.
struct KeySpans<'t>(Option<toml::de::DeTable<'t>>);

impl<'t> KeySpans<'t> {
    fn parse(text: &'t str) -> Self {
        KeySpans(toml::de::DeTable::parse(text).ok().map(|t| t.into_inner()))
    }

    /// The span of `key` in the `index`th table of the array `array`.
    fn get(&self, array: &str, index: usize, key: &str) -> Option<Range<usize>> {
        let find = |t: &toml::de::DeTable<'t>, k: &str| {
            t.iter()
                .find(|(name, _)| name.get_ref() == k)
                .map(|(_, v)| v.clone())
        };
        let toml::de::DeValue::Array(items) = find(self.0.as_ref()?, array)?.into_inner() else {
            return None;
        };
        let toml::de::DeValue::Table(table) = items.get(index)?.get_ref() else {
            return None;
        };
        find(table, key).map(|v| v.span())
    }

    /// The span of item `item` of the array `key` in that table.
    fn item(&self, array: &str, index: usize, key: &str, item: usize) -> Option<Range<usize>> {
        let find = |t: &toml::de::DeTable<'t>, k: &str| {
            t.iter()
                .find(|(name, _)| name.get_ref() == k)
                .map(|(_, v)| v.clone())
        };
        let toml::de::DeValue::Array(items) = find(self.0.as_ref()?, array)?.into_inner() else {
            return None;
        };
        let toml::de::DeValue::Table(table) = items.get(index)?.get_ref() else {
            return None;
        };
        let toml::de::DeValue::Array(values) = find(table, key)?.into_inner() else {
            return None;
        };
        values.get(item).map(|v| v.span())
    }
}

fn default_promotion(from: &str, to: &str) -> Promotion {
    Promotion {
        from: from.to_string(),
        to: to.to_string(),
        delivery: DeliveryKind::Commit,
        partial: true,
        gate: GateConfig::default(),
        tag: None,
        labels: Vec::new(),
        branch: None,
        auto_merge: false,
        merge_method: None,
        checklist: Vec::new(),
        commit_mode: CommitMode::Api,
        message: None,
        components: Vec::new(),
    }
}

/// Why a repository-relative path is refused, if it is.
pub fn unsafe_path(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("is empty");
    }
    if path.starts_with('/') || path.starts_with('\\') || path.contains(':') {
        return Some("is absolute; paths are relative to the repository root");
    }
    if path.split(['/', '\\']).any(|p| p == "..") {
        return Some("leaves the repository (`..`)");
    }
    None
}

mod names;
pub use names::{NameFilter, dotenv_status_name, globs};

#[cfg(test)]
mod tests;
