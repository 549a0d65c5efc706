//! Rendering a plan for people: text for the terminal, markdown for PRs and step summaries,
//! and the commit message. Pure functions of the plan.

use super::{Action, Item, Plan};
use crate::config::Promotion;

/// `abc1234` for a full sha (keeping a `-dirty` suffix), anything else as it is.
fn short(rev: &str) -> String {
    match (rev.get(..40), rev.get(40..)) {
        (Some(sha), Some(rest))
            if sha.chars().all(|c| c.is_ascii_hexdigit()) && matches!(rest, "" | "-dirty") =>
        {
            format!("{}{rest}", &sha[..7])
        }
        _ => rev.to_string(),
    }
}

/// `chore(promote): a -> b`, a line per change, and a `Promoted-From` trailer.
pub fn commit_message(promotion: &Promotion, plan: &Plan) -> String {
    let mut msg = promotion.title();
    msg.push_str("\n\n");
    for i in plan.changes() {
        let from = i.from_version.as_deref().unwrap_or("(none)");
        msg.push_str(&format!("- {} {from} -> {}\n", i.id, i.to_version));
    }
    msg.push_str(&format!(
        "\nPromoted-From: {}@{}\nPromoted-To: {}\n",
        plan.from, plan.source_at, plan.to
    ));
    msg
}

/// Untrusted text as a markdown code span: no mention, link, image or HTML can come out of it.
/// The fence is longer than any run of backticks inside; `|` is escaped for table cells; line
/// breaks become spaces.
pub fn code(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ").replace('|', "\\|");
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// Untrusted text as markdown prose: every markdown and HTML character escaped, `@` mentions,
/// `#` references and bare links defused with a zero-width space.
pub fn prose(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.replace(['\n', '\r'], " ").chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '<' | '>' | '!' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '@' => out.push_str("@&#8203;"),
            '#' => out.push_str("#&#8203;"),
            '&' => out.push_str("&amp;"),
            _ => out.push(c),
        }
    }
    out.replace("://", ":&#8203;//")
        .replace("www.", "www&#8203;.")
}

/// A reason (text with `quoted` parts) as markdown: quoted parts become code spans, the rest
/// prose. Safe whatever the text holds: every piece is either escaped prose or a code span.
pub fn reason(text: &str) -> String {
    text.split('`')
        .enumerate()
        .map(|(i, part)| match (i % 2, part.is_empty()) {
            (_, true) => String::new(),
            (1, false) => code(part),
            _ => prose(part),
        })
        .collect()
}

/// A fenced code block holding `text`, with a fence longer than any backtick run inside.
fn fenced(info: &str, text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let nl = if text.ends_with('\n') { "" } else { "\n" };
    format!("{fence}{info}\n{text}{nl}{fence}\n")
}

/// The action column of a text line with the blanks around it: `"  {:<9}  "` of the action's
/// word, written out (one piece per line instead of three).
fn action_column(a: Action) -> &'static str {
    match a {
        Action::Change => "  change     ",
        Action::Unchanged => "  unchanged  ",
        Action::Held => "  held       ",
        Action::New => "  new        ",
    }
}

/// The terminal view: one line per component, then a count.
pub fn text(plan: &Plan) -> String {
    let w = plan.items.iter().map(|i| i.id.len()).max().unwrap_or(0);
    let mut lines = TextLines::new(
        [&plan.from, &plan.to, &plan.source_at, &plan.target_at],
        w,
        plan.items.len(),
    );
    for i in &plan.items {
        lines.line(i);
    }
    lines.finish(&plan.tags, plan.is_empty())
}

/// [`text`], built an item at a time: the header first, then a line per item as it is decided
/// (ids padded to a width known before the first), then the counts, tags and whether anything
/// changes. The same bytes as [`text`] of the plan those items make.
pub struct TextLines {
    out: String,
    w: usize,
    /// Items per action: to change, held, new, unchanged.
    counts: [usize; 4],
}

impl TextLines {
    /// The header of a plan `[from, to, source_at, target_at]` whose ids are at most `w` bytes,
    /// with room for about `items` lines.
    pub fn new(header: [&str; 4], w: usize, items: usize) -> TextLines {
        let [from, to, source_at, target_at] = header;
        let mut out = format!(
            "promote {from} -> {to} (source at {}, target at {})\n",
            short(source_at),
            short(target_at)
        );
        // One buffer for every line: no string per line or per part of one.
        out.reserve(items * (w + 32));
        TextLines {
            out,
            w,
            counts: [0; 4],
        }
    }

    /// One item's line. Pieces pushed as they are, padding counted in characters as `{:<w$}`
    /// counts it: no formatting machinery per line.
    pub(crate) fn line(&mut self, i: &impl super::Decided) {
        let out = &mut self.out;
        let action = i.action();
        self.counts[match action {
            Action::Change => 0,
            Action::Held => 1,
            Action::New => 2,
            Action::Unchanged => 3,
        }] += 1;
        let from = i.current_version().unwrap_or("-");
        out.push_str(action_column(action));
        // The id padded to `w`, and the two blanks after it: one run of blanks.
        let id = i.id();
        out.push_str(id);
        let n = if id.is_ascii() {
            id.len()
        } else {
            id.chars().count()
        };
        // Blanks copied from one run of them, not pushed a char at a time.
        const BLANKS: &str = "                                ";
        let mut n = (self.w + 2).saturating_sub(n);
        while n > 0 {
            let run = n.min(BLANKS.len());
            out.push_str(&BLANKS[..run]);
            n -= run;
        }
        out.push_str(from);
        if action != Action::Unchanged {
            out.push_str(" -> ");
            out.push_str(i.to_version());
        }
        if let Some(v) = i.via() {
            out.push_str("  via ");
            out.push_str(&v);
        }
        if matches!(action, Action::Held | Action::New) {
            out.push_str("  (");
            out.push_str(i.reason());
            out.push(')');
        }
        out.push('\n');
    }

    /// The counts, the tags, and "nothing to promote" when no file changes (`empty`).
    pub fn finish(mut self, tags: &[String], empty: bool) -> String {
        use std::fmt::Write as _;
        let out = &mut self.out;
        let [change, held, new, unchanged] = self.counts;
        // Written into the buffer: `fmt::Write` for a `String` cannot fail.
        let _ = writeln!(
            out,
            "{change} to change, {held} held, {new} new, {unchanged} unchanged"
        );
        if !tags.is_empty() {
            out.push_str("tags: ");
            for (k, tag) in tags.iter().enumerate() {
                if k > 0 {
                    out.push_str(", ");
                }
                out.push_str(tag);
            }
            out.push('\n');
        }
        if empty {
            out.push_str("nothing to promote\n");
        }
        self.out
    }
}

fn table(items: &[&Item], held: bool) -> String {
    let mut out = if held {
        String::from("| Component | Target | Offered | Reason |\n|---|---|---|---|\n")
    } else {
        String::from("| Component | From | To | File |\n|---|---|---|---|\n")
    };
    for i in items {
        let from = i.from_version.as_deref().unwrap_or("—");
        let last = if held {
            reason(&i.reason)
        } else {
            match (&i.file, i.line) {
                (Some(f), Some(l)) => code(&format!("{f}:{l}")),
                _ => String::new(),
            }
        };
        out.push_str(&format!(
            "| {} | {} | {} | {last} |\n",
            code(&i.id),
            code(from),
            code(&i.to_version)
        ));
    }
    out
}

/// The markdown body of a promotion PR and of the step summary.
pub fn markdown(plan: &Plan, checklist: &[String]) -> String {
    let mut out = format!(
        "### Promote {} → {}\n\nSource: {}\n\n",
        code(&plan.from),
        code(&plan.to),
        code(&format!("{}@{}", plan.from, short(&plan.source_at)))
    );
    let changes: Vec<&Item> = plan.changes().collect();
    if changes.is_empty() {
        out.push_str("Nothing to promote.\n");
    } else {
        out.push_str(&table(&changes, false));
    }
    let held: Vec<&Item> = plan.held().collect();
    if !held.is_empty() {
        out.push_str("\n#### Held\n\n");
        out.push_str(&table(&held, true));
    }
    if !plan.tags.is_empty() {
        let tags: Vec<String> = plan.tags.iter().map(|t| code(t)).collect();
        out.push_str(&format!("\nTags: {}\n", tags.join(", ")));
    }
    if !plan.edits.is_empty() {
        let diffs: String = plan.edits.iter().map(|e| e.diff()).collect();
        out.push_str("\n<details><summary>Diff</summary>\n\n");
        out.push_str(&fenced("diff", &diffs));
        out.push_str("\n</details>\n");
    }
    if !checklist.is_empty() {
        out.push_str("\n#### Checklist\n\n");
        for c in checklist {
            out.push_str(&format!("- [ ] {c}\n"));
        }
    }
    out
}

pub fn pr_body(promotion: &Promotion, plan: &Plan) -> String {
    markdown(plan, &promotion.checklist)
}

/// The JSON document of `promote plan --format json`.
pub fn json(plan: &Plan) -> String {
    serde_json::to_string_pretty(plan).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_columns_are_the_padded_words() {
        for (a, word) in [
            (Action::Change, "change"),
            (Action::Unchanged, "unchanged"),
            (Action::Held, "held"),
            (Action::New, "new"),
        ] {
            assert_eq!(action_column(a), format!("  {word:<9}  "));
        }
    }
}
