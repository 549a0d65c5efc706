//! The plan: what a promotion A -> B would change, hold or leave, computed as a value.
//!
//! Inventories of both environments are read from any `Files` (working tree, a git revision, or
//! files fetched through the API); the plan carries the file edits, the commit message and the
//! pull request text, so `apply` and delivery only carry it out.

mod carry;
mod decide;
mod insert;
mod lockstep;
pub mod render;
mod substitute;

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::Text;
use crate::config::{Config, Promotion};
use crate::edit::EditError;
use crate::gate::{Eligibility, Subject, Verdict};
use crate::repo::{Files, RepoError};
use crate::source;

pub use carry::{Carried, carried};
pub use decide::compare_versions;
#[cfg(test)]
use decide::decide;
use decide::decide_indexed;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Edit(#[from] EditError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(
        "{path}: source file not found in `{env}` ({at})\nhint: check `path` in the config, or limit the source with `environments`"
    )]
    Missing {
        env: String,
        path: String,
        at: String,
    },
    #[error(
        "{file}:{line}:{column}: component `{id}` is also at {first}\nhint: give one of the sources a `group`; for one file per app, name the group after the path's placeholder (`group = \"{{app}}\"`)"
    )]
    DuplicateId {
        id: String,
        file: String,
        line: usize,
        column: usize,
        first: String,
    },
    #[error(
        "{path}: substitute-from file not found in `{env}` ({at}); promoting `{id}` needs `{variable}` set there\nhint: create it with a `{variable}=` line, or fix `substitute-from` in the config"
    )]
    MissingPinFile {
        env: String,
        path: String,
        at: String,
        id: String,
        variable: String,
    },
    #[error("bad pin `{0}`: expected `ID=VERSION`")]
    BadPin(String),
    #[error("bad pin `{pin}` (`--pin` or the `pin` input, `ID=VERSION`): {message}")]
    BadPinVersion { pin: String, message: String },
    #[error(transparent)]
    BadSourceVersion(Box<BadSource>),
    #[error("bad component filter `{0}`: {1}")]
    BadFilter(String, String),
    #[error(
        "component filter `{filter}` matches no component of `{env}`\nhint: components of `{env}`: {}",
        some_of(known)
    )]
    UnknownFilter {
        filter: String,
        env: String,
        known: Vec<String>,
    },
    #[error(
        "promotion `{promotion}`: `components` entry `{pattern}` matches no component of `{env}`\nhint: components of `{env}`: {}",
        some_of(known)
    )]
    UnknownCarried {
        promotion: String,
        pattern: String,
        env: String,
        known: Vec<String>,
    },
    #[error(
        "group `{group}` names no group in the config\nhint: groups: {}",
        if known.is_empty() { "none (no source has a `group`)".to_string() } else { known.join(", ") }
    )]
    UnknownGroup { group: String, known: Vec<String> },
    #[error(
        "pin `{pin}` names no component of `{env}`\nhint: pin by id (`group/name`) or name, as `promote versions` lists them"
    )]
    UnknownPin { pin: String, env: String },
}

impl PlanError {
    /// The file (and line and column) the error is about, where it has one.
    pub fn location(&self) -> Option<(&str, Option<(usize, usize)>)> {
        match self {
            PlanError::Edit(e) => Some(e.location()),
            PlanError::DuplicateId {
                file, line, column, ..
            } => Some((file, Some((*line, *column)))),
            PlanError::Missing { path, .. } | PlanError::MissingPinFile { path, .. } => {
                Some((path, None))
            }
            PlanError::BadSourceVersion(b) => Some((&b.file, Some((b.line, b.column)))),
            _ => None,
        }
    }
}

/// The first names of `known` for a hint, and how many more there are: an environment of
/// 30,000 components is not listed whole in one error line.
fn some_of(known: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut out = known
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if known.len() > SHOWN {
        out.push_str(&format!(", and {} more", known.len() - SHOWN));
    }
    out
}

/// A version in the source environment that the target's field cannot take, where it is.
#[derive(Debug, thiserror::Error)]
#[error(
    "{file}:{line}:{column}: `{id}` cannot be promoted from `{from}` to `{to}`: {message}\nhint: fix the version in `{from}`, or pin a good one (`--pin {id}=VERSION`)"
)]
pub struct BadSource {
    pub id: String,
    pub from: String,
    pub to: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// One component of one environment. Kept small (tens of thousands are read per environment,
/// and writing their records is much of a large plan's time): what its source's config says of
/// it (`status-names`) is asked of the config when needed ([`Entry::subject`]), its file, group,
/// source and version rule are one shared [`Origin`], and what only some components have (a
/// `${var}`, how it was resolved) sits behind one pointer ([`Indirection`]). 72 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `group/name`, or the name where its source has no group; the name is its end
    /// ([`Entry::name`]), not a copy.
    pub id: Text,
    /// The version, with the source's template stripped.
    pub version: Text,
    /// Its file, group, source and rule, shared by every component of the file that follows
    /// the rule: one [`Origin::of`] each, so that making (and dropping) an entry counts no
    /// reference.
    pub origin: &'static Origin,
    /// The variable the value is set through and how `substitute-from` resolved it; `None`
    /// for a plain value.
    pub indirection: Option<Box<Indirection>>,
    pub line: u32,
    pub column: u32,
}

/// The file of a component, its source's group there, the source, and the grammar its version
/// follows: what every component of a file of one source shares, but for the rule (a
/// HelmRelease's chart version and its image tags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Shared with the plan's items that name it.
    pub file: std::sync::Arc<str>,
    pub group: Option<std::sync::Arc<str>>,
    /// Its source's index in the config.
    pub source: u32,
    /// The grammar its version follows (image tag, chart version, ...).
    pub rule: source::Rule,
}

impl Origin {
    /// The one `Origin` of `file`, `group`, `source` and `rule` in this process: made the
    /// first time a run reads the file, and kept (interned) for every later read of it, so a
    /// process holds one per file, group, source and rule it ever read. Entries point at it
    /// without counting references: an atomic increment per entry (a full barrier, behind the
    /// entry list's stores to fresh memory) was 6% of the wall time of a 30,000-pin plan.
    pub fn of(file: &str, group: Option<&str>, source: u32, rule: source::Rule) -> &'static Origin {
        use std::hash::BuildHasher;
        static ORIGINS: std::sync::Mutex<hashbrown::HashTable<&'static Origin>> =
            std::sync::Mutex::new(hashbrown::HashTable::new());
        let hasher = rustc_hash::FxBuildHasher;
        let hash = |file: &str, group: Option<&str>, source: u32, rule: source::Rule| {
            hasher.hash_one((file, group, source, rule))
        };
        let mut origins = ORIGINS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let found = origins.find(hash(file, group, source, rule), |o| {
            &*o.file == file && o.group.as_deref() == group && o.source == source && o.rule == rule
        });
        if let Some(origin) = found {
            return origin;
        }
        let origin: &'static Origin = Box::leak(Box::new(Origin {
            file: file.into(),
            group: group.map(Into::into),
            source,
            rule,
        }));
        origins.insert_unique(hash(file, group, source, rule), origin, |o| {
            hash(&o.file, o.group.as_deref(), o.source, o.rule)
        });
        origin
    }
}

/// The origins of one file's components, one per rule met: asked of [`Origin::of`] once per
/// rule, not once per component.
struct Origins<'f> {
    file: &'f str,
    group: Option<&'f str>,
    source: u32,
    by_rule: [Option<&'static Origin>; source::Rule::COUNT],
}

impl<'f> Origins<'f> {
    fn new(file: &'f str, group: Option<&'f str>, source: usize) -> Self {
        Origins {
            file,
            group,
            source: narrow(source),
            by_rule: [None; source::Rule::COUNT],
        }
    }

    fn of(&mut self, rule: source::Rule) -> &'static Origin {
        self.by_rule[rule as usize]
            .get_or_insert_with(|| Origin::of(self.file, self.group, self.source, rule))
    }
}

/// A value set through a variable, and how (or whether) it was resolved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Indirection {
    /// The variable (`${VAR}`), while it is unresolved.
    pub indirect: Option<Text>,
    /// How a `${var}` value was resolved through `substitute-from` (or why it was not).
    pub via: Option<source::substitute::Via>,
}

impl source::Keyed for Entry {
    /// Its id: entries are looked up by id.
    fn key(&self) -> &str {
        &self.id
    }
}

impl Entry {
    /// Its name within its file (`cilium`): the id without its group.
    pub fn name(&self) -> &str {
        match &self.origin.group {
            Some(g) => self.id.get(g.len() + 1..).unwrap_or(&self.id),
            None => &self.id,
        }
    }

    /// The file it was read from.
    pub fn file(&self) -> &std::sync::Arc<str> {
        &self.origin.file
    }

    /// Its source's group in its file.
    pub fn group(&self) -> Option<&std::sync::Arc<str>> {
        self.origin.group.as_ref()
    }

    /// Its source's index in the config.
    pub fn source(&self) -> u32 {
        self.origin.source
    }

    /// The grammar its version follows (image tag, chart version, ...).
    pub fn rule(&self) -> source::Rule {
        self.origin.rule
    }

    /// The variable its value is set through, while unresolved.
    pub fn indirect(&self) -> Option<&Text> {
        self.indirection.as_ref()?.indirect.as_ref()
    }

    /// How `substitute-from` resolved its variable (or why it could not).
    pub fn via(&self) -> Option<&source::substitute::Via> {
        self.indirection.as_ref()?.via.as_ref()
    }

    /// How its variable was resolved, to change.
    pub fn via_mut(&mut self) -> Option<&mut source::substitute::Via> {
        self.indirection.as_mut()?.via.as_mut()
    }

    /// Set (or clear) the variable its value is set through.
    pub fn set_indirect(&mut self, indirect: Option<Text>) {
        self.indirection_mut().indirect = indirect;
        self.drop_empty_indirection();
    }

    /// Set (or clear) how its variable was resolved.
    pub fn set_via(&mut self, via: Option<source::substitute::Via>) {
        self.indirection_mut().via = via;
        self.drop_empty_indirection();
    }

    fn indirection_mut(&mut self) -> &mut Indirection {
        self.indirection.get_or_insert_with(Box::default)
    }

    /// No box for a plain value: two entries of one value compare equal however they got there.
    fn drop_empty_indirection(&mut self) {
        if self
            .indirection
            .as_ref()
            .is_some_and(|i| i.indirect.is_none() && i.via.is_none())
        {
            self.indirection = None;
        }
    }

    /// Its source's config.
    pub fn source_of<'c>(&self, config: &'c Config) -> &'c crate::config::Source {
        &config.sources[self.source() as usize]
    }

    /// The component as the gate sees it.
    pub fn subject(&self, config: &Config) -> Subject {
        let src = self.source_of(config);
        Subject {
            id: self.id.clone(),
            name: self.name().into(),
            aliases: src.status_names_of(self.name()),
            // Not when its source maps every component to one status name with `"*"`.
            own_name: !src.status_names.contains_key("*"),
        }
    }

    /// Other names statuses may use for it: its source's `status-names` entry, else the dotenv
    /// default (`PAPERLESS_NGX_VERSION` -> `paperless-ngx`).
    pub fn status_names(&self, config: &Config) -> Vec<String> {
        self.source_of(config).status_names_of(self.name())
    }
}

/// A line, column or index as an entry keeps it: files are under 4 GiB (`edit::decode` refuses
/// larger ones), so none is near `u32::MAX`, which any larger would read as.
fn narrow(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Every component of one environment at one revision, in config and file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvInventory {
    pub env: String,
    pub at: String,
    pub components: Vec<Entry>,
    pub notes: Vec<String>,
    /// Per file, what was read, when kept for the plan's edits (the target's): they splice the
    /// spans read here instead of reading and parsing the file again.
    pub files: HashMap<String, ReadFile>,
    /// Streamed files whose names are not compared for repeats yet (a preview's target): each
    /// one's path and where its entries are. [`EnvInventory::check_repeats`] compares them.
    pub unchecked: Vec<(String, std::ops::Range<usize>)>,
}

/// One file as an inventory read it: its bytes and, per source (index), every component in it
/// (unfiltered, with spans).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadFile {
    pub bytes: Vec<u8>,
    pub sources: Vec<(usize, source::Inventory)>,
}

/// What [`read_env`] keeps of each file it read, for the plan's edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// Nothing: the entries are all a preview needs to tell which files change.
    Nothing,
    /// Nothing, and a streamed file's names are left for [`EnvInventory::check_repeats`] (a
    /// preview's target: its decisions may show them distinct without comparing them).
    Unchecked,
    /// The inventories and the bytes: what the edits splice.
    Bytes,
}

impl EnvInventory {
    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.components.iter().find(|e| e.id == id)
    }

    /// Entries by id, for lookups that must stay linear in the number of components.
    pub fn index(&self) -> rustc_hash::FxHashMap<&str, &Entry> {
        self.components.iter().map(|e| (e.id.as_str(), e)).collect()
    }

    /// Entries by id for lookups made in about the order they were read ([`source::InOrder`]).
    pub fn in_order(&self) -> source::InOrder<'_, Entry> {
        source::InOrder::new(&self.components)
    }

    /// The first name repeated in a file left [`EnvInventory::unchecked`], as `source::read`
    /// refuses it.
    pub fn check_repeats(&self) -> Result<(), PlanError> {
        for (path, entries) in &self.unchecked {
            let entries = self.components.get(entries.clone()).unwrap_or_default();
            source::check_repeats(path, entries, |e| {
                (e.name(), e.line as usize, e.column as usize)
            })?;
        }
        Ok(())
    }

    /// `error`, unless a file left unchecked repeats a name: that is the error then, as it
    /// would have been when the file was read, before anything after it.
    fn repeat_first(&self, error: PlanError) -> PlanError {
        self.check_repeats().err().unwrap_or(error)
    }
}

/// Read every source of `env` from `files`: each file is parsed once.
pub fn inventory(config: &Config, env: &str, files: &dyn Files) -> Result<EnvInventory, PlanError> {
    read_env(config, env, files, Keep::Nothing)
}

/// [`inventory`], keeping what `keep` says of each file read (`EnvInventory::files`).
fn read_env(
    config: &Config,
    env: &str,
    files: &dyn Files,
    keep: Keep,
) -> Result<EnvInventory, PlanError> {
    let gathered = gather(config, env, files)?;
    let parsed = parse_env(config, gathered, keep)?;
    finish_env(config, files, parsed)
}

/// One environment's files, read but not parsed: what [`parse_env`] needs and nothing of
/// `Files` (which need not be shared between threads).
struct Gathered {
    env: String,
    at: String,
    /// Per source (index) in config order, its files in path order. Reading stops at the first
    /// file that fails (kept as its error): parsing reports the files before it first, as a
    /// read that parses each file as it goes would.
    files: Vec<(usize, Vec<Result<GatheredFile, PlanError>>)>,
    /// The bytes of every file, for choosing whether to parse on a thread of its own.
    bytes: usize,
}

struct GatheredFile {
    path: String,
    captures: crate::config::Captures,
    bytes: Content,
}

/// A gathered file's bytes: read, or to read as it is parsed (a working tree's files, so that
/// an environment of thousands of files is held one file at a time).
enum Content {
    Read(Vec<u8>),
    Later(crate::repo::Later),
}

impl Content {
    /// Its size: read, or as the walk that found it saw it.
    fn len(&self) -> usize {
        match self {
            Content::Read(bytes) => bytes.len(),
            Content::Later(later) => usize::try_from(later.size()).unwrap_or(usize::MAX),
        }
    }
}

/// Read every file of `env`'s sources from `files`, in one batch where `files` can.
fn gather(config: &Config, env: &str, files: &dyn Files) -> Result<Gathered, PlanError> {
    let found = files_of(config, env, files)?;
    let mut wanted: Vec<String> = found
        .iter()
        .flat_map(|(_, matches)| matches.iter().map(|(path, _)| path.clone()))
        .collect();
    for (index, _) in &found {
        wanted.extend(config.sources[*index].substitute_paths(env));
    }
    // Everything at once: through the GitHub API a batch of files is one request.
    files.prefetch(&wanted)?;
    let mut out = Gathered {
        env: env.to_string(),
        at: files.label(),
        files: Vec::with_capacity(found.len()),
        bytes: 0,
    };
    'sources: for (index, matches) in found {
        let mut read = Vec::with_capacity(matches.len());
        // A path with placeholders names every matching file (none is fine); a plain path one
        // file, which must be there.
        for (path, captures) in matches {
            let content = match files.read_later(&path) {
                Some(later) => Ok(Some(Content::Later(later))),
                None => files.read(&path).map(|bytes| bytes.map(Content::Read)),
            };
            let file = match content {
                Ok(Some(bytes)) => Ok(GatheredFile {
                    path,
                    captures,
                    bytes,
                }),
                Ok(None) => Err(PlanError::Missing {
                    env: env.to_string(),
                    path,
                    at: files.label(),
                }),
                Err(e) => Err(e.into()),
            };
            let failed = file.is_err();
            out.bytes += file.as_ref().map_or(0, |f| f.bytes.len());
            read.push(file);
            if failed {
                out.files.push((index, read));
                break 'sources;
            }
        }
        out.files.push((index, read));
    }
    Ok(out)
}

/// An environment's files parsed into its entries; `substitute-from` not yet resolved.
struct Parsed {
    inv: EnvInventory,
    /// Files parsed: with more than one, ids must be checked across them.
    inventories: usize,
}

/// Parse what [`gather`] read, in file order: the first file that fails is the error. Touches
/// no `Files`, so that one environment can be parsed while another is.
fn parse_env(config: &Config, gathered: Gathered, keep: Keep) -> Result<Parsed, PlanError> {
    let mut kept: HashMap<String, ReadFile> = HashMap::new();
    let mut components = Vec::new();
    let mut unchecked = Vec::new();
    let mut inventories = 0;
    let mut notes = Vec::new();
    for (index, read) in gathered.files {
        let src = &config.sources[index];
        let filter = src
            .name_filter()
            .map_err(|(glob, message)| PlanError::BadFilter(glob, message))?;
        for file in read {
            let GatheredFile {
                path,
                captures,
                bytes,
            } = file?;
            let bytes = match bytes {
                Content::Read(bytes) => bytes,
                Content::Later(later) => match later.read()? {
                    Some(bytes) => bytes,
                    None => {
                        return Err(PlanError::Missing {
                            env: gathered.env,
                            path,
                            at: gathered.at,
                        });
                    }
                },
            };
            let loc = src.locator();
            let group = src.group_for(&captures);
            let mut origins = Origins::new(&path, group.as_deref(), index);
            if keep != Keep::Bytes && filter.admits_all() && source::streams(&loc) {
                // Nothing kept and nothing filtered out: each component becomes its entry as it
                // is read, and no list of components is made. At most one per line.
                let first = components.len();
                components.reserve(memchr::memchr_iter(b'\n', &bytes).count() + 1);
                let mut file_notes = source::read_each(&loc, &path, &bytes, |f| {
                    components.push(entry_of(src, &mut origins, f));
                })?;
                // The repeats `source::read` refuses, found among the entries instead (now, or
                // left for `EnvInventory::check_repeats`).
                if keep == Keep::Unchecked {
                    unchecked.push((path, first..components.len()));
                } else {
                    source::check_repeats(&path, &components[first..], |e| {
                        (e.name(), e.line as usize, e.column as usize)
                    })?;
                }
                inventories += 1;
                notes.append(&mut file_notes);
                continue;
            }
            let mut inv = source::read(&loc, &path, &bytes)?;
            inventories += 1;
            notes.append(&mut inv.notes);
            components.reserve(inv.components.len());
            if keep != Keep::Bytes {
                // Not kept: each component's strings move into its entry, where they are, and
                // the emptied components are dropped with the inventory.
                for c in &mut inv.components {
                    let f = source::Found::take(c);
                    if filter.admits(&f.name) {
                        components.push(entry_of(src, &mut origins, f));
                    }
                }
            } else {
                for c in &inv.components {
                    if filter.admits(&c.name) {
                        components.push(entry_of(src, &mut origins, source::Found::of(c)));
                    }
                }
            }
            if keep == Keep::Bytes {
                let read = kept.entry(path).or_default();
                if read.sources.is_empty() {
                    read.bytes = bytes;
                }
                read.sources.push((index, inv));
            }
        }
    }
    Ok(Parsed {
        inv: EnvInventory {
            env: gathered.env,
            at: gathered.at,
            components,
            notes,
            files: kept,
            unchecked,
        },
        inventories,
    })
}

/// The entry of one component that source `src` read from the file of `origins`: its id
/// rendered with the file's group, its version without the source's template. Strings `f` holds
/// move in; borrowed ones are copied once, here.
fn entry_of<S: Into<Text> + AsRef<str>>(
    src: &crate::config::Source,
    origins: &mut Origins,
    f: source::Found<S>,
) -> Entry {
    let origin = origins.of(f.rule);
    let version = match &src.template {
        Some(_) => src.version_from_stored(f.name.as_ref(), f.version.as_ref()),
        None => f.version.into(),
    };
    Entry {
        // `Source::id_in`, with the group rendered once per file. Its name is the id's end
        // (`Entry::name`).
        id: match &origin.group {
            Some(g) => compact_str::format_compact!("{g}/{}", f.name.as_ref()),
            None => f.name.into(),
        },
        version,
        origin,
        indirection: f.indirect.map(|v| {
            Box::new(Indirection {
                indirect: Some(v),
                via: None,
            })
        }),
        line: narrow(f.line),
        column: narrow(f.column),
    }
}

/// Two environments parsed at once when the second is large enough to be worth a thread too (the
/// caller saw to the first, and to whether threads may be used): `first` on a thread of its
/// own, `second` on this one. The results are what [`parse_env`] gives
/// one after the other; only the wall time differs.
fn parse_both(
    config: &Config,
    first: (Gathered, Keep),
    second: (Gathered, Keep),
) -> (Result<Parsed, PlanError>, Result<Parsed, PlanError>) {
    if second.0.bytes < PARALLEL_PARSE_BYTES {
        tracing::debug!(
            "parsing `{}` ({} bytes) and `{}` ({} bytes) one after the other",
            first.0.env,
            first.0.bytes,
            second.0.env,
            second.0.bytes
        );
        return (
            parse_env(config, first.0, first.1),
            parse_env(config, second.0, second.1),
        );
    }
    tracing::debug!(
        "parsing `{}` ({} bytes) and `{}` ({} bytes) side by side",
        first.0.env,
        first.0.bytes,
        second.0.env,
        second.0.bytes
    );
    // The second thread's heap would otherwise hold what it frees past the end of the run.
    crate::free_at_once();
    std::thread::scope(|scope| {
        let thread = scope.spawn(|| parse_env(config, first.0, first.1));
        let second = parse_env(config, second.0, second.1);
        // A panic on the thread is the same panic here.
        let first = thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (first, second)
    })
}

/// Bytes each environment must have for [`parse_both`] to parse them on two threads. A second
/// thread costs about 5 MiB more at the peak (its own heap) and its start; below a MiB of files
/// (30,000 dotenv pins, 3,000 HCL entries, 1,000 app files) it saved little or nothing.
const PARALLEL_PARSE_BYTES: usize = 1024 * 1024;

/// Whether this process may run two threads at once: `PROMOTE_THREADS` (`1`: one thread), else
/// whether the machine (or the cgroup's quota) has more than one core. Asked once.
fn parallel() -> bool {
    static PARALLEL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PARALLEL.get_or_init(|| {
        match std::env::var("PROMOTE_THREADS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
        {
            Some(n) if n >= 1 => n > 1,
            _ => std::thread::available_parallelism().is_ok_and(|n| n.get() > 1),
        }
    })
}

/// `substitute-from` resolved through `files`, and ids checked across files.
fn finish_env(
    config: &Config,
    files: &dyn Files,
    parsed: Parsed,
) -> Result<EnvInventory, PlanError> {
    let Parsed {
        mut inv,
        inventories,
    } = parsed;
    // A name repeated in a file left unchecked is the error before any of these.
    if let Err(e) = substitute::resolve(config, &inv.env, files, &mut inv.components) {
        return Err(inv.repeat_first(e));
    }
    // One file of one source: `source::read` refused a name twice, and the file's ids are its
    // names under one group, so only several inventories can share an id.
    if inventories > 1 {
        inv.check_repeats()?;
        check_unique(&inv.components)?;
    }
    Ok(inv)
}

/// Per source of `env` (by index), the files its path names in `files`, with the values its
/// placeholders took.
type SourceFiles = Vec<(usize, Vec<(String, crate::config::Captures)>)>;

fn files_of(config: &Config, env: &str, files: &dyn Files) -> Result<SourceFiles, PlanError> {
    let mut out = Vec::new();
    for (index, src) in config.sources.iter().enumerate() {
        if let Some(pattern) = src.pattern_for(env) {
            out.push((index, crate::repo::matching(files, &pattern)?));
        }
    }
    Ok(out)
}

/// Every file [`inventory`] of `env` reads in `files`: each source's files and its
/// `substitute-from` files, to read ahead in one batch (`Files::prefetch`).
pub fn inventory_paths(
    config: &Config,
    env: &str,
    files: &dyn Files,
) -> Result<Vec<String>, PlanError> {
    let mut out = Vec::new();
    for (index, matches) in files_of(config, env, files)? {
        out.extend(matches.into_iter().map(|(path, _)| path));
        out.extend(config.sources[index].substitute_paths(env));
    }
    Ok(out)
}

/// Two sources (or two files of one source) of an environment must not yield the same id: the
/// plan could not tell them apart.
fn check_unique(components: &[Entry]) -> Result<(), PlanError> {
    let mut seen: rustc_hash::FxHashMap<&str, &Entry> =
        rustc_hash::FxHashMap::with_capacity_and_hasher(components.len(), Default::default());
    for e in components {
        if let Some(first) = seen.insert(&e.id, e) {
            return Err(PlanError::DuplicateId {
                id: e.id.to_string(),
                file: e.file().to_string(),
                line: e.line as usize,
                column: e.column as usize,
                first: format!("{}:{}:{}", first.file(), first.line, first.column),
            });
        }
    }
    Ok(())
}

/// What the plan does with one component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Change,
    Unchanged,
    Held,
    New,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub id: Text,
    pub name: Text,
    pub action: Action,
    /// The target's current version (`None` when the target lacks the component).
    pub from_version: Option<Text>,
    /// The version the source offers (or the pin).
    pub to_version: Text,
    /// Target file and position of the version.
    pub file: Option<std::sync::Arc<str>>,
    pub line: Option<u32>,
    /// Why it is held, or why it may move.
    pub reason: Text,
    /// The `substitute-from` variable (and its pin line) the version is read through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<Box<str>>,
    /// Where the decisions found the target's entry of it among the target's entries (`u32::MAX`:
    /// nowhere), for the edits to use instead of looking it up again. In the item's padding: an
    /// item stays 168 bytes, and no list of 30,000 positions is allocated beside the items.
    #[serde(skip)]
    pub(crate) target_at: u32,
}

impl Item {
    /// [`Item::target_at`] as an index.
    fn target_position(&self) -> Option<usize> {
        (self.target_at != u32::MAX).then_some(self.target_at as usize)
    }
}

/// One file the plan rewrites. Serialized as its path and its unified diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEdit {
    pub path: String,
    pub before: Vec<u8>,
    pub after: Vec<u8>,
}

impl FileEdit {
    /// The unified diff of the edit, made when asked for (printed or delivered), not per plan.
    pub fn diff(&self) -> String {
        crate::cmd::file::unified_diff(&self.path, &self.before, &self.after)
    }
}

impl Serialize for FileEdit {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("FileEdit", 2)?;
        s.serialize_field("path", &self.path)?;
        s.serialize_field("diff", &self.diff())?;
        s.end()
    }
}

/// Choices that shape a plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Component ids or names, globs allowed; empty: all.
    pub components: Vec<String>,
    pub groups: Vec<String>,
    /// `ID=VERSION` pins: promote this version instead of the source's.
    pub pins: Vec<(String, String)>,
    /// Allow downgrades.
    pub force: bool,
    pub add_missing: bool,
    /// A preview that shows neither the edited bytes nor a diff (the text `plan`): which files
    /// change is told from the target's entries, with every refusal an edit would make
    /// (unknown, indirect, bad version), but nothing is kept or spliced and its [`FileEdit`]s
    /// carry no bytes ([`Plan::preview`]). Everything that writes, delivers or shows a diff leaves it
    /// `false`: every edit is then spliced, re-read and compared before it leaves the process.
    pub preview: bool,
}

/// Parse `ID=VERSION`; the version must be one at all (no whitespace, nothing empty). Whether it
/// suits the component's field is checked once the component is known (`decide`).
pub fn parse_pin(s: &str) -> Result<(String, String), PlanError> {
    match s.split_once('=') {
        Some((id, v)) if !id.trim().is_empty() && !v.trim().is_empty() => {
            let (id, v) = (id.trim(), v.trim());
            check_pin(id, v, source::Rule::Any)?;
            Ok((id.to_string(), v.to_string()))
        }
        _ => Err(PlanError::BadPin(s.to_string())),
    }
}

/// A pinned version checked against `rule`, the error naming the pin as it was given.
fn check_pin(id: &str, version: &str, rule: source::Rule) -> Result<(), PlanError> {
    source::validate_version(rule, version).map_err(|message| PlanError::BadPinVersion {
        pin: format!("{id}={}", source::version::shown(version)),
        message,
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub schema_version: u32,
    pub from: String,
    pub to: String,
    /// The revision the source environment was read at.
    pub source_at: String,
    pub target_at: String,
    pub items: Vec<Item>,
    pub edits: Vec<FileEdit>,
    /// Tags to create on the promoted commit, from the promotion's `tag` template.
    pub tags: Vec<String>,
    pub commit_message: String,
    pub pr_title: String,
    pub pr_body: String,
    /// Built with [`PlanOptions::preview`]: its edits name the files that change, without bytes.
    #[serde(skip)]
    pub preview: bool,
}

impl Plan {
    pub fn changes(&self) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(|i| i.action == Action::Change)
    }

    pub fn held(&self) -> impl Iterator<Item = &Item> {
        self.items
            .iter()
            .filter(|i| matches!(i.action, Action::Held | Action::New))
    }

    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    /// Fill in the commit message and the pull request body.
    pub fn render_messages(&mut self, promotion: &Promotion) {
        self.commit_message = render::commit_message(promotion, self);
        self.pr_body = render::pr_body(promotion, self);
    }
}

/// Compute the plan for `promotion`, reading the source from `source_files` and the target from
/// `target_files`, with its commit message and pull request body.
pub fn build(
    config: &Config,
    promotion: &Promotion,
    source_files: &dyn Files,
    target_files: &dyn Files,
    gate: &Eligibility,
    opts: &PlanOptions,
) -> Result<Plan, PlanError> {
    let (mut plan, _) =
        build_unrendered(config, promotion, source_files, target_files, gate, opts)?;
    plan.render_messages(promotion);
    Ok(plan)
}

/// What a plan was built from: both environments' components.
/// Dropping it frees them, one record at a time; a command that exits once it has printed the
/// plan forgets it instead (`std::mem::forget`), and the process hands the memory back at once.
pub struct Read {
    _records: (Vec<Entry>, Vec<Entry>),
}

/// [`build`] without the commit message and pull request body (empty; their diffs and
/// markdown cost as much as a parse): for callers that print neither, or render them later
/// ([`Plan::render_messages`]). With the plan comes what it was read from ([`Read`]).
pub fn build_unrendered(
    config: &Config,
    promotion: &Promotion,
    source_files: &dyn Files,
    target_files: &dyn Files,
    gate: &Eligibility,
    opts: &PlanOptions,
) -> Result<(Plan, Read), PlanError> {
    let (src, tgt, read) = read_both(config, promotion, source_files, target_files, opts)?;
    tgt.check_repeats()?;
    // One index of the target for the decisions and the edits.
    let target = Target {
        env: &tgt.env,
        by_id: tgt.in_order(),
    };
    let mut items = decide_indexed(&src, &target.by_id, gate, opts)?;
    substitute::settle(config, &src, &tgt, &mut items, target_files)?;
    if opts.add_missing {
        add_missing(config, &promotion.to, &src, &mut items, gate, target_files)?;
    }
    let mut edits = Edits::new(config, &src, &tgt, &target, opts);
    let mut tags = Tags::new(promotion);
    for item in &items {
        edits.change(item)?;
        tags.note(item);
    }
    let edits = edits.finish(read, target_files)?;
    let plan = Plan {
        schema_version: 1,
        from: promotion.from.clone(),
        to: promotion.to.clone(),
        source_at: src.at,
        target_at: tgt.at,
        items,
        edits,
        tags: tags.tags,
        commit_message: String::new(),
        pr_title: promotion.title(),
        pr_body: String::new(),
        preview: opts.preview,
    };
    let read = Read {
        _records: (src.components, tgt.components),
    };
    Ok((plan, read))
}

/// The text of the preview plan `promote plan` prints ([`render::text`] of the plan
/// [`build_unrendered`] makes with [`PlanOptions::preview`], the same bytes), each line written
/// as its component is decided: no list of items is made where nothing needs every item at once
/// (`substitute-from` pins to settle, `--add-missing`). Nothing is printed here: an error after
/// the thousandth line still leaves the caller nothing but the error.
pub fn preview_text(
    config: &Config,
    promotion: &Promotion,
    source_files: &dyn Files,
    target_files: &dyn Files,
    gate: &Eligibility,
    opts: &PlanOptions,
) -> Result<(String, Read), PlanError> {
    let opts = &PlanOptions {
        preview: true,
        ..opts.clone()
    };
    // Components sharing a `substitute-from` pin line are settled together, and `--add-missing`
    // turns new components into changes: both on the whole list of items.
    if opts.add_missing || substitute::reads_pins(config) {
        let (plan, read) =
            build_unrendered(config, promotion, source_files, target_files, gate, opts)?;
        return Ok((render::text(&plan), read));
    }
    check_groups(config, opts)?;
    let src = gather(config, &promotion.from, source_files)?;
    // One streamed file a side (`versions.env`): decided as the target's lines are read, with no
    // entries made.
    let gathered = match lockstep::preview(config, promotion, src, target_files, gate, opts) {
        lockstep::Preview::Done(text) => {
            let read = Read {
                _records: (Vec::new(), Vec::new()),
            };
            return Ok((text, read));
        }
        lockstep::Preview::Declined(src, tgt) => (src, tgt),
    };
    let (src, tgt, read) = read_gathered(
        config,
        promotion,
        gathered,
        (source_files, target_files),
        opts,
    )?;
    let target = Target {
        env: &tgt.env,
        by_id: tgt.in_order(),
    };
    let text = (|| {
        let filter = decide::Filter::new(opts, &src)?;
        let mut lines = render::TextLines::new(
            [&promotion.from, &promotion.to, &src.at, &tgt.at],
            decide::widest_id(&src, &filter),
            src.components.len(),
        );
        let mut edits = Edits::new(config, &src, &tgt, &target, opts);
        let mut tags = Tags::new(promotion);
        let found = decide::decide_each(&src, &target.by_id, gate, opts, &filter, |d| {
            edits.change(&d)?;
            tags.note(&d);
            lines.line(&d);
            Ok(())
        })?;
        let edits = edits.finish(read, target_files)?;
        // The target's names left unchecked are distinct when the walk found every one of its
        // entries in step, each for another of the source's ids (themselves distinct): the
        // target's ids are then the source's. Otherwise they are compared now.
        if target.by_id.indexed() || found < tgt.components.len() {
            tgt.check_repeats()?;
        }
        Ok(lines.finish(&tags.tags, edits.is_empty()))
    })()
    // A repeat in the target is the error before anything found after its file was read.
    .map_err(|e| tgt.repeat_first(e))?;
    let read = Read {
        _records: (src.components, tgt.components),
    };
    Ok((text, read))
}

/// Both environments read for a plan: the source's entries, the target's, and the target's
/// files as `opts` keeps them (none for a preview).
fn read_both(
    config: &Config,
    promotion: &Promotion,
    source_files: &dyn Files,
    target_files: &dyn Files,
    opts: &PlanOptions,
) -> Result<(EnvInventory, EnvInventory, HashMap<String, ReadFile>), PlanError> {
    check_groups(config, opts)?;
    let src = gather(config, &promotion.from, source_files)?;
    read_gathered(
        config,
        promotion,
        (src, None),
        (source_files, target_files),
        opts,
    )
}

/// `--group`s the config does not know: the first error of a plan.
fn check_groups(config: &Config, opts: &PlanOptions) -> Result<(), PlanError> {
    match opts.groups.iter().find(|g| !config.knows_group(g)) {
        Some(group) => Err(PlanError::UnknownGroup {
            group: group.clone(),
            known: config.groups(),
        }),
        None => Ok(()),
    }
}

/// [`read_both`] from the source's files already gathered, and the target's too where
/// `gathered.1` has them (read, or failed to be: the error comes where reading them would have
/// failed, after the source's).
fn read_gathered(
    config: &Config,
    promotion: &Promotion,
    gathered: (Gathered, Option<Result<Gathered, PlanError>>),
    (source_files, target_files): (&dyn Files, &dyn Files),
    opts: &PlanOptions,
) -> Result<(EnvInventory, EnvInventory, HashMap<String, ReadFile>), PlanError> {
    let (src, mut pre) = gathered;
    // A preview tells which files change from the target's entries alone: nothing kept, and
    // a streamed file's names left for `EnvInventory::check_repeats` (the caller's to call).
    let keep = if opts.preview {
        Keep::Unchecked
    } else {
        Keep::Bytes
    };
    // A large source is read with the target, and the two parsed side by side; a small one is
    // parsed before the target is read (each environment: its files read, then parsed, on one
    // thread). Errors come in the order a read of
    // one environment after the other gives: the source's files, its `substitute-from` pins, the
    // promotion's `components`, then the target's.
    let (src, tgt) = if src.bytes >= PARALLEL_PARSE_BYTES && parallel() {
        match pre
            .take()
            .unwrap_or_else(|| gather(config, &promotion.to, target_files))
        {
            Ok(tgt) => {
                let (src, tgt) = parse_both(config, (src, Keep::Nothing), (tgt, keep));
                (src, Some(tgt))
            }
            Err(e) => (parse_env(config, src, Keep::Nothing), Some(Err(e))),
        }
    } else {
        tracing::debug!(
            "parsing `{}` ({} bytes) and `{}` one after the other",
            src.env,
            src.bytes,
            promotion.to
        );
        (parse_env(config, src, Keep::Nothing), None)
    };
    let src = carried(config, promotion, finish_env(config, source_files, src?)?)?;
    let mut tgt = match (tgt, pre) {
        (Some(tgt), _) => finish_env(config, target_files, tgt?)?,
        (None, Some(gathered)) => {
            finish_env(config, target_files, parse_env(config, gathered?, keep)?)?
        }
        (None, None) => read_env(config, &promotion.to, target_files, keep)?,
    };
    substitute::mark_shared(config, promotion, &mut tgt);
    let read = std::mem::take(&mut tgt.files);
    Ok((src, tgt, read))
}

/// What the edits, the tags and the text plan read of a decided component: its [`Item`], or its
/// [`decide::Decision`] where no item is made.
pub(crate) trait Decided {
    fn action(&self) -> Action;
    fn id(&self) -> &str;
    /// Its name within its file (the id without its group).
    fn name(&self) -> &str;
    /// The target's version, if the target has it.
    fn current_version(&self) -> Option<&str>;
    fn to_version(&self) -> &str;
    fn reason(&self) -> &str;
    /// The `substitute-from` variable (and its pin line) the version is read through.
    fn via(&self) -> Option<std::borrow::Cow<'_, str>>;
    /// Where its target entry is among the target's entries.
    fn target_position(&self) -> Option<usize>;
    /// The target file it is set in, where the target has no entry of it (`--add-missing`).
    fn file(&self) -> Option<&str>;
}

impl Decided for Item {
    fn action(&self) -> Action {
        self.action
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn current_version(&self) -> Option<&str> {
        self.from_version.as_deref()
    }
    fn to_version(&self) -> &str {
        &self.to_version
    }
    fn reason(&self) -> &str {
        &self.reason
    }
    fn via(&self) -> Option<std::borrow::Cow<'_, str>> {
        self.via.as_deref().map(std::borrow::Cow::Borrowed)
    }
    fn target_position(&self) -> Option<usize> {
        Item::target_position(self)
    }
    fn file(&self) -> Option<&str> {
        self.file.as_deref()
    }
}

impl Decided for decide::Decision<'_> {
    fn action(&self) -> Action {
        self.action
    }
    fn id(&self) -> &str {
        &self.entry.id
    }
    fn name(&self) -> &str {
        self.entry.name()
    }
    fn current_version(&self) -> Option<&str> {
        self.target.map(|(_, t)| t.version.as_str())
    }
    fn to_version(&self) -> &str {
        self.pin.unwrap_or(&self.entry.version)
    }
    fn reason(&self) -> &str {
        &self.reason
    }
    fn via(&self) -> Option<std::borrow::Cow<'_, str>> {
        decide::Decision::via(self).map(|v| std::borrow::Cow::Owned(v.describe()))
    }
    fn target_position(&self) -> Option<usize> {
        self.target.map(|(i, _)| i)
    }
    fn file(&self) -> Option<&str> {
        // Only `--add-missing` sets a version in a file where the target has no entry of it,
        // and it makes items.
        None
    }
}

/// The tags of a plan's changes, from the promotion's `tag` template, each once:
/// `infra/cilium` and `helm/cilium` at one version make one tag.
struct Tags<'p> {
    /// The promotion, where it has a `tag` template.
    promotion: Option<&'p Promotion>,
    tags: Vec<String>,
}

impl<'p> Tags<'p> {
    fn new(promotion: &'p Promotion) -> Tags<'p> {
        Tags {
            promotion: promotion.tag.is_some().then_some(promotion),
            tags: Vec::new(),
        }
    }

    #[inline]
    fn note(&mut self, item: &impl Decided) {
        let Some(promotion) = self.promotion else {
            return;
        };
        if item.action() != Action::Change {
            return;
        }
        if let Some(tag) = promotion.tag_name(item.name(), item.to_version())
            && !self.tags.contains(&tag)
        {
            self.tags.push(tag);
        }
    }
}

/// `--add-missing`: a new component becomes a change where its kind can add it in place.
fn add_missing(
    config: &Config,
    to: &str,
    src: &EnvInventory,
    items: &mut [Item],
    gate: &Eligibility,
    target_files: &dyn Files,
) -> Result<(), PlanError> {
    let sources = src.index();
    for item in items.iter_mut().filter(|i| i.action == Action::New) {
        let Some(e) = sources.get(item.id.as_str()) else {
            continue;
        };
        let kind = e.source_of(config).kind;
        let Some(path) = target_path(config, e, &src.env, to, target_files)? else {
            item.reason =
                compact_str::format_compact!("missing in target: its source has no file in `{to}`");
            continue;
        };
        if !insert::supported(kind) {
            item.reason = compact_str::format_compact!(
                "missing in target: `{kind}` cannot take a new entry without reformatting; add it by hand once"
            );
            continue;
        }
        match gate.verdict(&item.id) {
            Verdict::Held { reason } => {
                item.action = Action::Held;
                item.reason = compact_str::format_compact!("not eligible: {reason}");
            }
            Verdict::Eligible { reason } => {
                item.action = Action::Change;
                item.reason = compact_str::format_compact!("added to `{path}`: {reason}");
                item.file = Some(path.into());
            }
        }
    }
    Ok(())
}

/// The file of `to` that takes `e` (a component of `from`): the source's path in `to`, or, for a
/// path with placeholders, the file with the same placeholder values if `to` has it.
fn target_path(
    config: &Config,
    e: &Entry,
    from: &str,
    to: &str,
    target_files: &dyn Files,
) -> Result<Option<String>, PlanError> {
    let src = e.source_of(config);
    let (Some(theirs), Some(ours)) = (src.pattern_for(from), src.pattern_for(to)) else {
        return Ok(None);
    };
    if ours.is_literal() {
        return Ok(Some(ours.as_str().to_string()));
    }
    let Some(path) = theirs.matches(e.file()).and_then(|c| ours.render(&c)) else {
        return Ok(None);
    };
    Ok(target_files.read(&path)?.map(|_| path))
}

/// The target environment's name and its entries by id, for the decisions and the edits.
struct Target<'t> {
    env: &'t str,
    by_id: source::InOrder<'t, Entry>,
}

/// Per source of one file: versions to set, and components to add.
#[derive(Default)]
struct Changes<'t> {
    set: Vec<(&'t str, Text)>,
    add: Vec<(&'t str, Text)>,
    /// Pin lines (variables) in `set` already, for the `substitute-from` pins.
    pinned: std::collections::HashSet<&'t str>,
    /// For a preview: whether a version in `set` differs from the one the target holds (as
    /// the decisions compare them: without the source's template).
    differs: bool,
}

/// A plan's edits, gathered a change at a time ([`Edits::change`]) as the items are decided,
/// then made: one `set_versions` per source and target file for all its changes; two sources in
/// one file (say two tables of a TOML file) edit it one after the other ([`Edits::finish`]).
/// What it keeps is borrowed from the inventories (names, paths) or is the version as it will
/// be stored: no item needs to outlive its change.
struct Edits<'t> {
    config: &'t Config,
    src: &'t EnvInventory,
    target: &'t Target<'t>,
    opts: &'t PlanOptions,
    /// Per file, per source (`None`: the `substitute-from` pins of resolved components), where
    /// its changes are in `changes`.
    by_file: BTreeMap<std::borrow::Cow<'t, str>, BTreeMap<Option<usize>, usize>>,
    changes: Vec<Changes<'t>>,
    /// The last file (by address and length: a file's entries share its path) and source noted,
    /// and where its changes are: a file's changes come one after another, found without a
    /// lookup.
    last: Option<((*const u8, usize), Option<usize>, usize)>,
    /// The source's index only for a component the target lacks, or a bad value to name.
    sources: std::cell::OnceCell<rustc_hash::FxHashMap<&'t str, &'t Entry>>,
    /// Whether the versions to set are kept: a preview of files that one source each edits in
    /// place tells a changed file from `Changes::differs` alone, and keeps none (15,000 changes
    /// of one file were a list of 600 KB, grown four times).
    keep_set: bool,
}

/// Whether a file of `tgt` holds components of two sources (two tables of one TOML file, say).
fn shares_files(tgt: &EnvInventory) -> bool {
    let mut last: Option<(&std::sync::Arc<str>, u32)> = None;
    let mut seen: HashMap<&str, u32> = HashMap::new();
    for e in &tgt.components {
        // A file's entries of one source come one after another.
        if last.is_some_and(|(file, source)| {
            (std::sync::Arc::ptr_eq(file, e.file()) || file == e.file()) && source == e.source()
        }) {
            continue;
        }
        last = Some((e.file(), e.source()));
        if *seen.entry(&**e.file()).or_insert(e.source()) != e.source() {
            return true;
        }
    }
    false
}

impl<'t> Edits<'t> {
    fn new(
        config: &'t Config,
        src: &'t EnvInventory,
        tgt: &EnvInventory,
        target: &'t Target<'t>,
        opts: &'t PlanOptions,
    ) -> Edits<'t> {
        Edits {
            config,
            src,
            target,
            opts,
            by_file: BTreeMap::new(),
            changes: Vec::new(),
            last: None,
            sources: std::cell::OnceCell::new(),
            // What else a preview edits (pin lines, added components, a file of two sources)
            // is spliced from what was kept.
            keep_set: !opts.preview
                || opts.add_missing
                || substitute::reads_pins(config)
                || shares_files(tgt),
        }
    }

    /// Note one decided item: a change is checked (its value as it will be stored must suit its
    /// field) and kept for its file; anything else is no edit.
    fn change(&mut self, item: &impl Decided) -> Result<(), PlanError> {
        if item.action() != Action::Change {
            return Ok(());
        }
        let (config, src, opts) = (self.config, self.src, self.opts);
        let sources = || self.sources.get_or_init(|| src.index());
        // Where the decisions found its target entry: none is looked up again.
        let (entry, path, added) =
            match item.target_position().and_then(|i| self.target.by_id.at(i)) {
                Some(t) => (t, std::borrow::Cow::Borrowed(&**t.file()), false),
                None => match (sources().get(item.id()), item.file()) {
                    (Some(e), Some(path)) => (*e, std::borrow::Cow::Owned(path.to_string()), true),
                    _ => return Ok(()),
                },
            };
        let stored = entry
            .source_of(config)
            .version_to_stored(entry.name(), item.to_version());
        // Before anything is written: the value as it will be stored must suit the field. A bad
        // one is named where it came from: the pin, or the source environment's file.
        if let Err(message) = source::validate_version(entry.rule(), &stored) {
            if let Some((id, _)) = opts
                .pins
                .iter()
                .find(|(k, _)| k == item.id() || k == item.name())
            {
                return Err(PlanError::BadPinVersion {
                    pin: format!("{id}={}", source::version::shown(item.to_version())),
                    message,
                });
            }
            let from = sources().get(item.id()).copied().unwrap_or(entry);
            return Err(PlanError::BadSourceVersion(Box::new(BadSource {
                id: item.id().to_string(),
                from: src.env.clone(),
                to: self.target.env.to_string(),
                file: from.file().to_string(),
                line: from.line as usize,
                column: from.column as usize,
                message,
            })));
        }
        // A resolved component's version lives in the pin line that sets its variable.
        let (key, path, name) = match substitute::pin_line(entry).filter(|_| !added) {
            Some((file, _, via)) => (
                None,
                std::borrow::Cow::Borrowed(file),
                via.variable.as_str(),
            ),
            None => (Some(entry.source() as usize), path, entry.name()),
        };
        let borrowed = matches!(path, std::borrow::Cow::Borrowed(_));
        let here = ((path.as_ptr(), path.len()), key);
        let at = match self.last {
            Some((p, k, i)) if borrowed && (p, k) == here => i,
            _ => {
                let n = self.changes.len();
                let i = *self
                    .by_file
                    .entry(path)
                    .or_default()
                    .entry(key)
                    .or_insert(n);
                if i == n {
                    self.changes.push(Changes::default());
                }
                // Only a borrowed path keeps its address until it is looked up again.
                self.last = borrowed.then_some((here.0, key, i));
                i
            }
        };
        let changes = &mut self.changes[at];
        // Components sharing one pin line agree (`settle`): it is edited once.
        if key.is_none() && !changes.pinned.insert(name) {
            return Ok(());
        }
        let list = if added {
            &mut changes.add
        } else if !self.keep_set {
            // Once one of its components changes, the file does: nothing more to compare.
            changes.differs = changes.differs
                || !source::same(
                    &entry.source_of(config).version_from_stored(name, &stored),
                    &entry.version,
                );
            return Ok(());
        } else {
            // Only a preview asks (an edit compares the spliced bytes instead).
            changes.differs |= opts.preview
                && key.is_some()
                && entry.source_of(config).version_from_stored(name, &stored) != entry.version;
            &mut changes.set
        };
        list.push((name, Text::from(stored)));
        Ok(())
    }

    /// The edits of every change noted: the target's files as `read` keeps them (a preview keeps
    /// none), anything else read from `files`.
    fn finish(
        self,
        mut read: HashMap<String, ReadFile>,
        files: &dyn Files,
    ) -> Result<Vec<FileEdit>, PlanError> {
        let (config, opts) = (self.config, self.opts);
        let mut all = self.changes;
        let mut out = Vec::new();
        for (path, by_source) in self.by_file {
            let path = &*path;
            let by_source: Vec<(Option<usize>, Changes)> = by_source
                .into_iter()
                .map(|(key, i)| (key, std::mem::take(&mut all[i])))
                .collect();
            let kept = read.remove(path);
            // The common case: one source setting versions in a file the inventory read.
            let one_source = match by_source.as_slice() {
                [(Some(index), changes)] if changes.add.is_empty() => Some((*index, changes)),
                _ => None,
            };
            // Without the versions to set, every file is one source's (`Edits::keep_set`).
            debug_assert!(self.keep_set || one_source.is_some());
            let spliced = match one_source {
                // A preview: the file changes when one of its components gets another version.
                // Every refusal a splice would make was made above or by the decisions: an
                // unknown or indirect component is no change, and each version was validated.
                // Nothing is read.
                Some((_, changes)) if opts.preview => {
                    if changes.differs {
                        out.push(FileEdit {
                            path: path.to_string(),
                            before: Vec::new(),
                            after: Vec::new(),
                        });
                    }
                    continue;
                }
                // Splice the spans the inventory read, and parse only the result (to verify it).
                Some((index, changes)) => kept.as_ref().and_then(|kept| {
                    let (_, inv) = kept.sources.iter().find(|(i, _)| *i == index)?;
                    let loc = config.sources[index].locator();
                    Some(source::set_versions_read(
                        &loc,
                        path,
                        &kept.bytes,
                        inv,
                        &refs(&changes.set),
                    ))
                }),
                None => None,
            };
            // A preview kept no bytes: anything else it edits is read again.
            let before = match kept {
                Some(kept) if !opts.preview => kept.bytes,
                _ => files.read(path)?.ok_or_else(|| PlanError::Missing {
                    env: self.target.env.to_string(),
                    path: path.to_string(),
                    at: files.label(),
                })?,
            };
            let after = match spliced {
                Some(after) => after?,
                None => {
                    let mut after = before.clone();
                    for (index, changes) in &by_source {
                        let Some(index) = *index else {
                            after =
                                source::substitute::set_pins(path, &after, &refs(&changes.set))?;
                            continue;
                        };
                        let loc = config.sources[index].locator();
                        after = source::set_versions(&loc, path, &after, &refs(&changes.set))?;
                        if !changes.add.is_empty() {
                            after = insert::insert(&loc, path, &after, &refs(&changes.add))?;
                        }
                    }
                    after
                }
            };
            if after != before {
                out.push(FileEdit {
                    path: path.to_string(),
                    before,
                    after,
                });
            }
        }
        Ok(out)
    }
}

fn refs<'a>(pairs: &'a [(&'a str, Text)]) -> Vec<(&'a str, &'a str)> {
    pairs.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

#[cfg(test)]
mod tests;
