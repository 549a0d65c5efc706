//! The text preview of a promotion whose environments are one file each, of one source that
//! [`source::streams`] (a `versions.env`): the usual shape of pins that Renovate bumps in place.
//! The source is kept as spans of its text; each component is decided as the target's line is
//! read, against the source's line at the same place, while the two list the same names in the
//! same order. From the first target line that is not the source's next, the rest of the target
//! is kept as spans too and looked up by name for the source's components left. No entry is made
//! on either side.
//!
//! Anything else is declined and planned by the general path from the same files (already read,
//! not read again): options that need the entries (`--pin`, `--component`, `--group`,
//! `--add-missing`), a promotion's `components`, a source with `substitute-from`, a template, a
//! name filter or groups, a `${var}` reference on either side, a name twice on either side, a
//! parse error, a version its field refuses. The general path then gives the plan or the error,
//! so this one never has a text of its own to get right: `tests` compares the two.

use super::decide;
use super::render::TextLines;
use super::{Action, PlanError, PlanOptions};
use super::{Content, Decided, Gathered, GatheredFile, Tags, gather, substitute};
use crate::config::{Config, Promotion};
use crate::gate::Eligibility;
use crate::repo::Files;
use crate::source::{self, InOrder, same};

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
                "previewed `{}` -> `{}` line by line: one file each",
                promotion.from,
                promotion.to
            );
            Preview::Done(text)
        }
        None => {
            declined("a `${var}`, a name twice or a value its field refuses");
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
    let mut decider = Decider {
        cfg,
        gate,
        opts,
        lines: TextLines::new(
            [&promotion.from, &promotion.to, &src.at, &tgt.at],
            widest,
            pairs.len(),
        ),
        tags: Tags::new(promotion),
        changes: false,
    };
    let target = crate::edit::decode(&tgt_file.path, tgt_bytes).ok()?;
    let mut targets = Strings {
        text: target,
        owned: Vec::new(),
    };
    // Out of step from the first target line that is not the source's next: the rest of the
    // target's lines are kept as spans (name, version, rule) and looked up by name after.
    let mut rest: Vec<(Span, Span, source::Rule)> = Vec::new();
    let mut next = 0;
    let mut fine = true;
    source::read_each_decoded(&loc, &tgt_file.path, target, |t| {
        if !fine {
            return;
        }
        if t.indirect.is_some() {
            fine = false;
            return;
        }
        if rest.is_empty()
            && let Some(&(name, version)) = pairs.get(next)
            && let name = strings.get(name)
            && same(t.name, name)
        {
            next += 1;
            fine = decider.decide(name, strings.get(version), Some((t.version, t.rule)));
            return;
        }
        if rest.is_empty() {
            // Once: room for the lines left (one component a line at most).
            let lines = memchr::memchr_iter(b'\n', tgt_bytes).count() + 1;
            rest.reserve(lines.saturating_sub(t.line) + 1);
        }
        rest.push((targets.span(t.name), targets.span(t.version), t.rule));
    })
    .ok()?;
    if !fine {
        return None;
    }
    if next < pairs.len() || !rest.is_empty() {
        // The source's components left, in its order, each against the target's line of its
        // name, looked up as the general path looks the target up (`InOrder`: in step first).
        let names: Vec<&str> = rest.iter().map(|&(name, _, _)| targets.get(name)).collect();
        let by_name = InOrder::new(&names);
        let mut found = 0;
        for &(name, version) in &pairs[next..] {
            let name = strings.get(name);
            let target = by_name.position(name).map(|i| {
                found += 1;
                let (_, version, rule) = rest[i];
                (targets.get(version), rule)
            });
            if !decider.decide(name, strings.get(version), target) {
                return None;
            }
        }
        // Every line left found in step, each for another of the source's names: the target's
        // names are the source's, distinct. Otherwise a name twice in the target is its error,
        // the general path's to give.
        if by_name.indexed() || found < names.len() {
            let all: Vec<&str> = pairs[..next]
                .iter()
                .map(|&(name, _)| strings.get(name))
                .chain(names.iter().copied())
                .collect();
            source::check_repeats(&tgt_file.path, &all, |name| (name, 0, 0)).ok()?;
        }
    }
    Some(decider.lines.finish(&decider.tags.tags, !decider.changes))
}

/// What the walk decides with: the general path's pieces, a component at a time.
struct Decider<'c> {
    cfg: &'c crate::config::Source,
    gate: &'c Eligibility,
    opts: &'c PlanOptions,
    lines: TextLines,
    tags: Tags<'c>,
    /// Whether a change changes the file (`Edits::change`).
    changes: bool,
}

impl Decider<'_> {
    /// Decide the source's `name` at `wanted` against the target's version (and its field's
    /// rule) where it has the name, and write its line: false where the general path must (a
    /// change whose value its field refuses).
    fn decide(&mut self, name: &str, wanted: &str, target: Option<(&str, source::Rule)>) -> bool {
        // `judge`, for entries set in place (no pin, no `${var}`).
        let moved;
        let (action, reason) = match target {
            Some((current, _)) if same(current, wanted) => {
                (Action::Unchanged, "already at this version")
            }
            Some((current, _)) => {
                moved = decide::judge_move(name, wanted, current, false, self.gate, self.opts);
                (moved.0, moved.1.as_str())
            }
            None => (
                Action::New,
                "missing in target: pass `--add-missing` to try",
            ),
        };
        if action == Action::Change
            && let Some((current, rule)) = target
        {
            // `Edits::change`: the value as it will be stored must suit its field.
            let stored = self.cfg.version_to_stored(name, wanted);
            if source::validate_version(rule, &stored).is_err() {
                return false;
            }
            self.changes = self.changes || !same(&stored, current);
        }
        let d = Line {
            name,
            current: target.map(|(current, _)| current),
            wanted,
            action,
            reason,
        };
        self.tags.note(&d);
        self.lines.line(&d);
        true
    }
}

/// One component decided: what its line and its tag read.
struct Line<'a> {
    name: &'a str,
    current: Option<&'a str>,
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
        self.current
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
