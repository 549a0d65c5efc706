//! The text preview of a promotion whose environments are one file each, of one source that
//! [`source::streams`] (a `versions.env`), listing the same names in the same order: the usual
//! shape of pins that Renovate bumps in place. Each component is decided as the target's line
//! is read, against the source's line at the same place, and no entry is made on either side:
//! the source is kept as spans of its text, the target not at all.
//!
//! Anything else is declined and planned by the general path from the same files (already read,
//! not read again): options that need the entries (`--pin`, `--component`, `--group`,
//! `--add-missing`), a promotion's `components`, a source with `substitute-from`, a template,
//! a name filter or groups, a name or a `${var}` reference out of step, a name twice, a parse
//! error, a version its field refuses. The general path then gives the plan or the error, so
//! this one never has a text of its own to get right: `tests` compares the two.

use super::decide;
use super::render::TextLines;
use super::{Action, PlanError, PlanOptions};
use super::{Content, Decided, Gathered, GatheredFile, Tags, gather, substitute};
use crate::config::{Config, Promotion};
use crate::gate::Eligibility;
use crate::repo::Files;
use crate::source::{self, same};

/// What [`preview`] made of the source's files.
pub(super) enum Preview {
    /// The text plan.
    Done(String),
    /// Declined: the source's files, and the target's where they were read.
    Declined(Gathered, Option<Result<Gathered, PlanError>>),
}

/// The text plan of `promotion` from the source's files `src` (gathered) and the target's in
/// `target_files`, where both are one file of one streaming source in step (above).
pub(super) fn preview(
    config: &Config,
    promotion: &Promotion,
    mut src: Gathered,
    target_files: &dyn Files,
    gate: &Eligibility,
    opts: &PlanOptions,
) -> Preview {
    let plain = !opts.add_missing
        && opts.pins.is_empty()
        && opts.components.is_empty()
        && opts.groups.is_empty()
        && promotion.components.is_empty()
        && !substitute::reads_pins(config);
    let declined = |why: &str| {
        tracing::debug!(
            "previewing `{}` -> `{}` from the entries: {why}",
            promotion.from,
            promotion.to
        );
    };
    if !plain {
        declined("the options or the config ask for them");
        return Preview::Declined(src, None);
    }
    let Some(index) = one_file(config, &src) else {
        declined("the source is not one file of a streaming kind");
        return Preview::Declined(src, None);
    };
    let mut tgt = match gather(config, &promotion.to, target_files) {
        Ok(tgt) => tgt,
        Err(e) => return Preview::Declined(src, Some(Err(e))),
    };
    if one_file(config, &tgt) != Some(index) || !load(&mut src) || !load(&mut tgt) {
        declined("the target is not one file of the source's");
        return Preview::Declined(src, Some(Ok(tgt)));
    }
    match walk(config, promotion, index, (&src, &tgt), gate, opts) {
        Some(text) => {
            tracing::debug!(
                "previewed `{}` -> `{}` line by line: one file each, in step",
                promotion.from,
                promotion.to
            );
            Preview::Done(text)
        }
        None => {
            declined("the files are not in step, or a line needs them");
            Preview::Declined(src, Some(Ok(tgt)))
        }
    }
}

/// The source (by index) of the one file `g` holds, where that file is read as it is: a
/// streaming kind, every name admitted, no group, no template.
fn one_file(config: &Config, g: &Gathered) -> Option<usize> {
    let [(index, files)] = g.files.as_slice() else {
        return None;
    };
    let [Ok(file)] = files.as_slice() else {
        return None;
    };
    let src = &config.sources[*index];
    let admits_all = src.name_filter().is_ok_and(|f| f.admits_all());
    (source::streams(&src.locator())
        && admits_all
        && src.template.is_none()
        && src.group_for(&file.captures).is_none())
    .then_some(*index)
}

/// The bytes of `g`'s one file read, where they were to be read as they were parsed: false,
/// with the failure left in its place (where parsing finds it), when they cannot be.
fn load(g: &mut Gathered) -> bool {
    let Some(slot) = g.files.first_mut().and_then(|(_, files)| files.first_mut()) else {
        return false;
    };
    let Ok(file) = slot else {
        return false;
    };
    if matches!(file.bytes, Content::Read(_)) {
        return true;
    }
    let Content::Later(later) = std::mem::replace(&mut file.bytes, Content::Read(Vec::new()))
    else {
        return true;
    };
    match later.read() {
        Ok(Some(bytes)) => {
            file.bytes = Content::Read(bytes);
            true
        }
        Ok(None) => {
            let path = std::mem::take(&mut file.path);
            *slot = Err(PlanError::Missing {
                env: g.env.clone(),
                path,
                at: g.at.clone(),
            });
            false
        }
        Err(e) => {
            *slot = Err(e.into());
            false
        }
    }
}

/// The one file of `g` and its bytes ([`load`]ed).
fn file_of(g: &Gathered) -> Option<(&GatheredFile, &[u8])> {
    match g.files.first()?.1.first()? {
        Ok(
            file @ GatheredFile {
                bytes: Content::Read(bytes),
                ..
            },
        ) => Some((file, bytes)),
        _ => None,
    }
}

/// A string of the source: a span of its text, or (a quoted value, decoded) one of `owned`.
#[derive(Clone, Copy)]
struct Span {
    start: u32,
    len: u32,
}

/// Where the owned strings' spans start: no text is this long (`edit::check_size`).
const OWNED: u32 = u32::MAX;

struct Strings<'t> {
    text: &'t str,
    owned: Vec<Box<str>>,
}

impl<'t> Strings<'t> {
    /// `s`'s span: in the text where it is part of it (a text's offsets fit in 32 bits:
    /// `edit::check_size`), else a copy.
    #[inline]
    fn span(&mut self, s: &str) -> Span {
        let at = (s.as_ptr() as usize).wrapping_sub(self.text.as_ptr() as usize);
        if at < OWNED as usize && at + s.len() <= self.text.len() {
            return Span {
                start: at as u32,
                len: s.len() as u32,
            };
        }
        self.owned.push(s.into());
        Span {
            start: OWNED,
            len: (self.owned.len() - 1) as u32,
        }
    }

    #[inline]
    fn get(&self, s: Span) -> &str {
        if s.start == OWNED {
            return &self.owned[s.len as usize];
        }
        let start = s.start as usize;
        self.text
            .get(start..start + s.len as usize)
            .unwrap_or_default()
    }
}

/// The source's components (name, version) as spans of its text, then the target's lines
/// decided one by one against them: `None` where the general path must plan it.
fn walk(
    config: &Config,
    promotion: &Promotion,
    index: usize,
    (src, tgt): (&Gathered, &Gathered),
    gate: &Eligibility,
    opts: &PlanOptions,
) -> Option<String> {
    let cfg = &config.sources[index];
    let loc = cfg.locator();
    let ((src_file, src_bytes), (tgt_file, tgt_bytes)) = (file_of(src)?, file_of(tgt)?);
    let text = crate::edit::decode(&src_file.path, src_bytes).ok()?;
    let mut strings = Strings {
        text,
        owned: Vec::new(),
    };
    let mut pairs: Vec<(Span, Span)> =
        Vec::with_capacity(memchr::memchr_iter(b'\n', src_bytes).count() + 1);
    let mut in_step = true;
    let mut widest = 0;
    source::read_each_decoded(&loc, &src_file.path, text, |f| {
        // A `${var}` reference is decided through the entries (`judge`).
        if f.indirect.is_some() || !in_step {
            in_step = false;
            return;
        }
        widest = widest.max(f.name.len());
        pairs.push((strings.span(f.name), strings.span(f.version)));
    })
    .ok()?;
    if !in_step {
        return None;
    }
    // A name twice is the source's error, with its place: the general path's to give.
    source::check_repeats(&src_file.path, &pairs, |&(name, _)| {
        (strings.get(name), 0, 0)
    })
    .ok()?;
    let mut lines = TextLines::new(
        [&promotion.from, &promotion.to, &src.at, &tgt.at],
        widest,
        pairs.len(),
    );
    let mut tags = Tags::new(promotion);
    let mut next = 0;
    let mut changes = false;
    let target = crate::edit::decode(&tgt_file.path, tgt_bytes).ok()?;
    source::read_each_decoded(&loc, &tgt_file.path, target, |t| {
        if !in_step {
            return;
        }
        let Some(&(name, version)) = pairs.get(next) else {
            in_step = false;
            return;
        };
        let (name, wanted) = (strings.get(name), strings.get(version));
        if !same(t.name, name) || t.indirect.is_some() {
            in_step = false;
            return;
        }
        next += 1;
        // `judge`, for two entries set in place (no pin, no `${var}`).
        let moved;
        let (action, reason) = if same(t.version, wanted) {
            (Action::Unchanged, "already at this version")
        } else {
            moved = decide::judge_move(name, wanted, t.version, false, gate, opts);
            (moved.0, moved.1.as_str())
        };
        if action == Action::Change {
            // `Edits::change`: the value as it will be stored must suit its field.
            let stored = cfg.version_to_stored(name, wanted);
            if source::validate_version(t.rule, &stored).is_err() {
                in_step = false;
                return;
            }
            changes = changes || !same(&stored, t.version);
        }
        let d = Line {
            name,
            current: t.version,
            wanted,
            action,
            reason,
        };
        tags.note(&d);
        lines.line(&d);
    })
    .ok()?;
    // Every target line matched, in order, one of the source's: both list the same names.
    (in_step && next == pairs.len()).then(|| lines.finish(&tags.tags, !changes))
}

/// One component decided in step: what its line and its tag read.
struct Line<'a> {
    name: &'a str,
    current: &'a str,
    wanted: &'a str,
    action: Action,
    reason: &'a str,
}

impl Decided for Line<'_> {
    fn action(&self) -> Action {
        self.action
    }
    fn id(&self) -> &str {
        // No group: the id is the name.
        self.name
    }
    fn name(&self) -> &str {
        self.name
    }
    fn current_version(&self) -> Option<&str> {
        Some(self.current)
    }
    fn to_version(&self) -> &str {
        self.wanted
    }
    fn reason(&self) -> &str {
        self.reason
    }
    fn via(&self) -> Option<std::borrow::Cow<'_, str>> {
        None
    }
    fn target_position(&self) -> Option<usize> {
        None
    }
    fn file(&self) -> Option<&str> {
        None
    }
}
