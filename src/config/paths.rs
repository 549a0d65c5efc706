//! Path patterns of `[[source]] path`: besides `{env}`, a `{name}` placeholder matches within one
//! path segment (never a `/`) and a `**` segment matches any number of segments, none included.
//! The values a file's path gives the placeholders can name its components' `group`.

/// One `/`-separated part of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `{name}`, with literal text around it in the same segment (`{app}.yaml`, `app-{app}`).
    Placeholder {
        prefix: String,
        name: String,
        suffix: String,
    },
    /// `**`: any number of segments.
    Any,
}

/// One segment of a [`PathPattern`], as [`PathPattern::steps`] gives it to a walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'p> {
    /// Exactly this name.
    Literal(&'p str),
    /// A placeholder: a name of one character or more between `prefix` and `suffix`.
    Fits { prefix: &'p str, suffix: &'p str },
    /// `**`: any number of folders.
    Any,
}

impl Step<'_> {
    /// Whether an entry called `name` can stand at this segment.
    pub fn admits(&self, name: &str) -> bool {
        match *self {
            Step::Literal(l) => l == name,
            Step::Fits { prefix, suffix } => {
                name.len() > prefix.len() + suffix.len()
                    && name.starts_with(prefix)
                    && name.ends_with(suffix)
            }
            Step::Any => true,
        }
    }
}

/// A source path for one environment (`{env}` already replaced), ready to match listed files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    text: String,
    segments: Vec<Segment>,
}

/// The values of a pattern's placeholders for one matched path, in pattern order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captures(Vec<(String, String)>);

impl Captures {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `template` with every `{name}` it holds replaced by its captured value; placeholders this
    /// path did not capture stay as they are (config validation refuses those).
    pub fn render(&self, template: &str) -> String {
        let mut out = template.to_string();
        for (name, value) in &self.0 {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }
}

/// A piece of text with placeholders: literal text or `{name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Text(String),
    Name(String),
}

/// Split `text` into literal text and `{name}` placeholders; a name is letters, digits, `_` and
/// `-`, starting with a letter or `_`.
fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err("has a `}` without a `{`".to_string());
        }
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            return Err("has a `{` without a `}`".to_string());
        };
        let name = &rest[open + 1..close];
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(format!(
                "has an invalid placeholder `{{{name}}}`: a name is letters, digits, `_` and `-`"
            ));
        }
        if open > 0 {
            out.push(Token::Text(rest[..open].to_string()));
        }
        out.push(Token::Name(name.to_string()));
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        out.push(Token::Text(rest.to_string()));
    }
    Ok(out)
}

/// The placeholder names in `template` (a `group`, say), in order, each once.
pub fn placeholders(template: &str) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = Vec::new();
    for t in tokens(template)? {
        if let Token::Name(n) = t
            && !names.contains(&n)
        {
            names.push(n);
        }
    }
    Ok(names)
}

/// Whether `value` is what `template` (say `apps-{app}`) renders to for some placeholder values
/// without `/`.
pub fn template_matches(template: &str, value: &str) -> bool {
    let Ok(tokens) = tokens(template) else {
        return template == value;
    };
    fn rest_matches(tokens: &[Token], value: &str) -> bool {
        match tokens.split_first() {
            None => value.is_empty(),
            Some((Token::Text(t), more)) => value
                .strip_prefix(t.as_str())
                .is_some_and(|v| rest_matches(more, v)),
            // A value is non-empty and has no `/`; try each length (group names are short).
            Some((Token::Name(_), more)) => value
                .char_indices()
                .skip(1)
                .map(|(i, _)| i)
                .chain([value.len()])
                .filter(|&i| i > 0)
                .take_while(|&i| !value[..i].contains('/'))
                .any(|i| rest_matches(more, &value[i..])),
        }
    }
    rest_matches(&tokens, value)
}

impl PathPattern {
    /// A pattern that names exactly `path`.
    pub fn literal(path: &str) -> PathPattern {
        PathPattern {
            text: path.to_string(),
            segments: vec![Segment::Literal(path.to_string())],
        }
    }

    /// Parse `path` (with `{env}` replaced). Refused: two placeholders in one segment (which
    /// value would be which is ambiguous) and `*` anywhere but a whole `**` segment.
    pub fn parse(path: &str) -> Result<PathPattern, String> {
        let mut segments = Vec::new();
        for part in path.split('/') {
            if part == "**" {
                segments.push(Segment::Any);
                continue;
            }
            if part.contains('*') {
                return Err(format!(
                    "has `*` in `{part}`: `**` matches any number of folders as a segment of its own, and a placeholder such as `{{app}}` matches one"
                ));
            }
            let mut tokens = tokens(part)?;
            let names = tokens
                .iter()
                .filter(|t| matches!(t, Token::Name(_)))
                .count();
            let segment = match names {
                0 => Segment::Literal(part.to_string()),
                1 => {
                    let suffix = match tokens.last() {
                        Some(Token::Text(s)) => {
                            let s = s.clone();
                            tokens.pop();
                            s
                        }
                        _ => String::new(),
                    };
                    let (prefix, name) = match tokens.as_slice() {
                        [Token::Name(n)] => (String::new(), n.clone()),
                        [Token::Text(p), Token::Name(n)] => (p.clone(), n.clone()),
                        _ => return Err(format!("cannot read the segment `{part}`")),
                    };
                    Segment::Placeholder {
                        prefix,
                        name,
                        suffix,
                    }
                }
                _ => {
                    return Err(format!(
                        "has two placeholders in the segment `{part}`: which value is which would be ambiguous"
                    ));
                }
            };
            segments.push(segment);
        }
        Ok(PathPattern {
            text: path.to_string(),
            segments,
        })
    }

    /// The pattern as written (with `{env}` replaced).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern names one file (no placeholder, no `**`).
    pub fn is_literal(&self) -> bool {
        self.segments
            .iter()
            .all(|s| matches!(s, Segment::Literal(_)))
    }

    /// The folder every match lies in: the literal segments before the first placeholder or
    /// `**` (`""` for the repository root).
    pub fn folder(&self) -> String {
        let literal: Vec<&str> = self
            .segments
            .iter()
            .take(self.segments.len().saturating_sub(1))
            .map_while(|s| match s {
                Segment::Literal(l) => Some(l.as_str()),
                _ => None,
            })
            .collect();
        literal.join("/")
    }

    /// The placeholder names, in order, each once.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for s in &self.segments {
            if let Segment::Placeholder { name, .. } = s
                && !names.contains(&name.as_str())
            {
                names.push(name);
            }
        }
        names
    }

    /// The pattern's segments as a walk of a folder tree meets them, for a walk that goes down
    /// only where a match can lie (a literal segment names one entry; a placeholder is met by
    /// the entries it fits). What a walk finds still goes through [`PathPattern::matches`].
    pub fn steps(&self) -> Vec<Step<'_>> {
        self.segments
            .iter()
            .map(|s| match s {
                Segment::Literal(l) => Step::Literal(l),
                Segment::Placeholder { prefix, suffix, .. } => Step::Fits { prefix, suffix },
                Segment::Any => Step::Any,
            })
            .collect()
    }

    /// The placeholders' values if `path` matches. A placeholder used twice must match the same
    /// text both times.
    pub fn matches(&self, path: &str) -> Option<Captures> {
        let parts: Vec<&str> = path.split('/').collect();
        let mut captures = Vec::new();
        match_here(&self.segments, &parts, &mut captures).then_some(Captures(captures))
    }

    /// The path this pattern gives for `captures`, or `None` when it has a `**` (which names no
    /// one folder) or a placeholder `captures` lacks.
    pub fn render(&self, captures: &Captures) -> Option<String> {
        let parts: Option<Vec<String>> = self
            .segments
            .iter()
            .map(|s| match s {
                Segment::Literal(l) => Some(l.clone()),
                Segment::Placeholder {
                    prefix,
                    name,
                    suffix,
                } => captures.get(name).map(|v| format!("{prefix}{v}{suffix}")),
                Segment::Any => None,
            })
            .collect();
        parts.map(|p| p.join("/"))
    }
}

fn match_here(segments: &[Segment], parts: &[&str], captures: &mut Vec<(String, String)>) -> bool {
    let Some((segment, rest)) = segments.split_first() else {
        return parts.is_empty();
    };
    let mark = captures.len();
    if *segment == Segment::Any {
        for skip in 0..=parts.len() {
            if match_here(rest, &parts[skip..], captures) {
                return true;
            }
            captures.truncate(mark);
        }
        return false;
    }
    let Some((part, tail)) = parts.split_first() else {
        return false;
    };
    let ok = match segment {
        Segment::Literal(l) => l == part,
        Segment::Placeholder {
            prefix,
            name,
            suffix,
        } => match part
            .strip_prefix(prefix.as_str())
            .and_then(|p| p.strip_suffix(suffix.as_str()))
            .filter(|v| !v.is_empty())
        {
            Some(value) => match captures.iter().find(|(n, _)| n == name) {
                Some((_, seen)) => seen == value,
                None => {
                    captures.push((name.clone(), value.to_string()));
                    true
                }
            },
            None => false,
        },
        Segment::Any => false,
    };
    if ok && match_here(rest, tail, captures) {
        return true;
    }
    captures.truncate(mark);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(pattern: &str, path: &str) -> Option<Vec<(String, String)>> {
        PathPattern::parse(pattern)
            .expect("pattern")
            .matches(path)
            .map(|c| c.0)
    }

    fn pairs(list: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(
            list.iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn a_placeholder_matches_one_whole_segment() {
        let p = "kubernetes/clusters/live/apps/{app}/helmrelease.yaml";
        assert_eq!(
            caps(p, "kubernetes/clusters/live/apps/podinfo/helmrelease.yaml"),
            pairs(&[("app", "podinfo")])
        );
        // Not two segments, not none, not another file name, not another environment.
        assert_eq!(
            caps(p, "kubernetes/clusters/live/apps/a/b/helmrelease.yaml"),
            None
        );
        assert_eq!(
            caps(p, "kubernetes/clusters/live/apps/helmrelease.yaml"),
            None
        );
        assert_eq!(
            caps(
                p,
                "kubernetes/clusters/live/apps/podinfo/kustomization.yaml"
            ),
            None
        );
        assert_eq!(
            caps(p, "kubernetes/clusters/dev/apps/podinfo/helmrelease.yaml"),
            None
        );
    }

    #[test]
    fn a_placeholder_may_share_its_segment_with_text() {
        assert_eq!(
            caps("apps/{app}.yaml", "apps/podinfo.yaml"),
            pairs(&[("app", "podinfo")])
        );
        assert_eq!(
            caps("apps/app-{app}-values.yaml", "apps/app-dex-values.yaml"),
            pairs(&[("app", "dex")])
        );
        // The placeholder takes at least one character.
        assert_eq!(caps("apps/{app}.yaml", "apps/.yaml"), None);
        assert_eq!(caps("apps/app-{app}.yaml", "apps/app-.yaml"), None);
    }

    #[test]
    fn several_placeholders_each_take_their_segment() {
        let p = "overlays/live/{team}/{app}/kustomization.yaml";
        assert_eq!(
            caps(p, "overlays/live/payments/api/kustomization.yaml"),
            pairs(&[("team", "payments"), ("app", "api")])
        );
        // The same name twice must match the same text.
        let p = "apps/{app}/{app}.yaml";
        assert_eq!(caps(p, "apps/dex/dex.yaml"), pairs(&[("app", "dex")]));
        assert_eq!(caps(p, "apps/dex/loki.yaml"), None);
    }

    #[test]
    fn globstar_matches_any_number_of_segments_none_included() {
        let p = "clusters/live/**/helmrelease.yaml";
        for path in [
            "clusters/live/helmrelease.yaml",
            "clusters/live/apps/helmrelease.yaml",
            "clusters/live/apps/observability/loki/helmrelease.yaml",
        ] {
            assert_eq!(caps(p, path), pairs(&[]), "{path}");
        }
        assert_eq!(caps(p, "clusters/dev/apps/helmrelease.yaml"), None);
        assert_eq!(caps(p, "clusters/live/apps/helmrelease.yml"), None);
        // With a placeholder after it, the placeholder takes the last folder.
        let p = "clusters/live/**/{app}/helmrelease.yaml";
        assert_eq!(
            caps(p, "clusters/live/infra/observability/loki/helmrelease.yaml"),
            pairs(&[("app", "loki")])
        );
        assert_eq!(caps(p, "clusters/live/helmrelease.yaml"), None);
        // A trailing `**` takes every file below.
        assert_eq!(caps("apps/**", "apps/a/b/c.yaml"), pairs(&[]));
    }

    #[test]
    fn the_folder_is_the_literal_part_before_the_first_wildcard() {
        let folder = |p: &str| PathPattern::parse(p).expect("pattern").folder();
        assert_eq!(
            folder("kubernetes/clusters/live/apps/{app}/hr.yaml"),
            "kubernetes/clusters/live/apps"
        );
        assert_eq!(folder("{app}/hr.yaml"), "");
        assert_eq!(folder("a/**/hr.yaml"), "a");
        assert_eq!(folder("a/app-{app}.yaml"), "a");
        assert!(
            PathPattern::parse("a/b/c.yaml")
                .expect("literal")
                .is_literal()
        );
        assert!(
            !PathPattern::parse("a/**/c.yaml")
                .expect("glob")
                .is_literal()
        );
    }

    #[test]
    fn bad_patterns_are_refused_with_a_reason() {
        for (path, why) in [
            ("apps/*/hr.yaml", "has `*` in `*`"),
            ("apps/x**/hr.yaml", "has `*` in `x**`"),
            (
                "apps/{team}-{app}/hr.yaml",
                "two placeholders in the segment",
            ),
            ("apps/{app/hr.yaml", "a `{` without a `}`"),
            ("apps/app}/hr.yaml", "a `}` without a `{`"),
            ("apps/{}/hr.yaml", "invalid placeholder `{}`"),
            ("apps/{a b}/hr.yaml", "invalid placeholder `{a b}`"),
        ] {
            let e = PathPattern::parse(path).expect_err(path);
            assert!(e.contains(why), "{path}: {e}");
        }
    }

    #[test]
    fn groups_render_from_captures_and_match_rendered_names() {
        let c = PathPattern::parse("apps/{team}/{app}/hr.yaml")
            .expect("pattern")
            .matches("apps/payments/api/hr.yaml")
            .expect("match");
        assert_eq!(c.render("{app}"), "api");
        assert_eq!(c.render("apps-{app}"), "apps-api");
        assert_eq!(c.render("{team}-{app}"), "payments-api");
        assert_eq!(c.render("helm"), "helm");
        assert_eq!(
            placeholders("{team}-{app}-{app}"),
            Ok(vec!["team".to_string(), "app".to_string()])
        );
        assert!(template_matches("apps-{app}", "apps-api"));
        assert!(template_matches("{team}-{app}", "payments-api"));
        assert!(!template_matches("apps-{app}", "apps-"));
        assert!(!template_matches("apps-{app}", "helm"));
        assert!(template_matches("helm", "helm"));
    }

    #[test]
    fn render_gives_the_path_of_captures_unless_a_globstar_is_in_it() {
        let p = PathPattern::parse("kubernetes/clusters/live/apps/{app}/hr.yaml").expect("pattern");
        let c = PathPattern::parse("kubernetes/clusters/integration/apps/{app}/hr.yaml")
            .expect("pattern")
            .matches("kubernetes/clusters/integration/apps/dex/hr.yaml")
            .expect("match");
        assert_eq!(
            p.render(&c).as_deref(),
            Some("kubernetes/clusters/live/apps/dex/hr.yaml")
        );
        let any = PathPattern::parse("kubernetes/**/{app}/hr.yaml").expect("pattern");
        assert_eq!(any.render(&c), None);
    }
}
