//! What a version may be, per kind of field: checked before anything is written.
//!
//! Every version is non-empty and free of whitespace and control characters. Image tags follow
//! the Docker tag grammar (or are digests), digests are `sha256:` + 64 hex, and Helm chart
//! versions are semver 2 (optional `v`, Helm's leniency on missing minor/patch) or a semver
//! constraint (`^1.2`, `~1.2.3`, `>=1.0,<2.0`, `1.x`, `*`, `1.0||2.0`) written without spaces.

use serde::Serialize;

/// The grammar a version field follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// Any non-empty text without whitespace or control characters.
    #[default]
    Any,
    /// A container image tag (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`), a digest, or `tag@digest`:
    /// kustomize `newTag`, OCIRepository `spec.ref.tag`.
    ImageTag,
    /// `sha256:` + 64 hex (or `sha512:` + 128): kustomize `digest`, OCIRepository `spec.ref.digest`.
    Digest,
    /// A chart version Helm accepts, or a semver constraint: Chart.yaml `dependencies[].version`,
    /// HelmRelease `spec.chart.spec.version`, OCIRepository `spec.ref.semver`.
    Chart,
    /// A dotenv pin: text without quotes, brackets, braces, `$` or `\`, so that dotenv, shells
    /// and kustomize (which reads values verbatim) all read the same version.
    Dotenv,
    /// A git ref in a module source's `?ref=` query, as written: a branch, tag or commit that git
    /// takes, with nothing the URL or the HCL string would read differently (`&`, `#`, `+`, quotes).
    GitRef,
    /// A registry module's exact version in `tfr://...?version=`: semver, no `+` (a query reads it
    /// as a space).
    ModuleVersion,
    /// A Terraform `module` block's `version` constraint (`5.1.0`, `~> 5.1`, `>= 1.2, < 2.0`):
    /// spaces between its parts are allowed.
    VersionConstraint,
}

impl Rule {
    /// How many rules there are: `rule as usize` is below it.
    pub const COUNT: usize = Rule::VersionConstraint as usize + 1;

    pub fn describe(self) -> &'static str {
        match self {
            Rule::Any => "a version",
            Rule::ImageTag => "an image tag",
            Rule::Digest => "an image digest",
            Rule::Chart => "a Helm chart version",
            Rule::Dotenv => "a dotenv version",
            Rule::GitRef => "a git ref for a module source",
            Rule::ModuleVersion => "a registry module version",
            Rule::VersionConstraint => "a Terraform version constraint",
        }
    }
}

/// `value` as a reader sees it: escapes for newlines, tabs and other control characters.
pub fn shown(value: &str) -> String {
    value.escape_debug().to_string()
}

/// Check `value` against `rule`; the error says what is wrong, without naming where it came from.
pub fn validate_version(rule: Rule, value: &str) -> Result<(), String> {
    // A dotenv pin (30,000 in one file are checked as they change): one table lookup a byte,
    // printable ASCII but the refused bytes; anything else is judged (and named) below.
    if rule == Rule::Dotenv
        && !value.is_empty()
        && value.bytes().all(|b| DOTENV_PLAIN[usize::from(b)])
    {
        return Ok(());
    }
    if value.is_empty() {
        return Err("a version cannot be empty".to_string());
    }
    // A Terraform constraint may space its operators (`~> 5.1`); nothing else may hold a blank.
    let spaced = rule == Rule::VersionConstraint;
    // Printable ASCII holds neither whitespace nor a control character: only other text
    // (non-ASCII, or a blank or control byte) is walked char by char to find the culprit.
    let printable = value
        .bytes()
        .all(|b| matches!(b, b'!'..=b'~') || (spaced && b == b' '));
    if !printable
        && let Some(c) = value
            .chars()
            .find(|&c| (c.is_whitespace() && !(spaced && c == ' ')) || c.is_control())
    {
        let what = if c.is_whitespace() {
            "whitespace"
        } else {
            "a control character"
        };
        return Err(format!(
            "`{}` holds {what} (`{}`); a version never does",
            shown(value),
            c.escape_debug()
        ));
    }
    let ok = match rule {
        Rule::Any => true,
        Rule::ImageTag => image_tag(value),
        Rule::Digest => digest(value),
        Rule::Chart => chart(value),
        Rule::Dotenv => !value.bytes().any(dotenv_refused),
        Rule::GitRef => git_ref(value),
        Rule::ModuleVersion => semver(value, false) && !value.contains('+'),
        Rule::VersionConstraint => constraint(value),
    };
    if ok {
        return Ok(());
    }
    let grammar = match rule {
        Rule::Any => "",
        Rule::ImageTag => {
            "`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`, or a digest `sha256:` + 64 hex digits"
        }
        Rule::Digest => "`sha256:` + 64 hex digits",
        Rule::Chart => {
            "semver (`1.2.3`, `v1.2.3-rc.1`) or a constraint without spaces (`^1.2`, `>=1.0,<2.0`)"
        }
        Rule::Dotenv => {
            "text without quotes, brackets, braces, `$` or `\\` (kustomize and Flux read a dotenv value verbatim)"
        }
        Rule::GitRef => {
            "a branch, tag or commit git takes, of `[A-Za-z0-9._/@-]` and `%XX` escapes (no `&`, `#`, `+`, quotes)"
        }
        Rule::ModuleVersion => "an exact semver (`5.1.0`, `1.0.0-rc.1`), without `+`",
        Rule::VersionConstraint => {
            "a version or constraints joined by `,` (`5.1.0`, `~> 5.1`, `>= 1.2, < 2.0`)"
        }
    };
    Err(format!(
        "`{}` is not {}: expected {grammar}",
        shown(value),
        rule.describe()
    ))
}

/// What a dotenv version never holds: quoting, structure (JSON, lists) or substitution. All
/// ASCII, so a byte test finds them (no byte of a longer UTF-8 character is ASCII).
/// The bytes a dotenv version passes with: printable ASCII (`!`..=`~`), not [`dotenv_refused`].
const DOTENV_PLAIN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = b'!';
    while b <= b'~' {
        table[b as usize] = !dotenv_refused(b);
        b += 1;
    }
    table
};

const fn dotenv_refused(b: u8) -> bool {
    const REFUSED: [bool; 256] = {
        let mut table = [false; 256];
        let refused = b"\"'`[]{}$\\";
        let mut i = 0;
        while i < refused.len() {
            table[refused[i] as usize] = true;
            i += 1;
        }
        table
    };
    REFUSED[b as usize]
}

fn image_tag(v: &str) -> bool {
    if digest(v) {
        return true;
    }
    let (tag, pinned) = match v.split_once('@') {
        Some((tag, d)) => (tag, Some(d)),
        None => (v, None),
    };
    let first = tag.chars().next();
    let tag_ok = tag.len() <= 128
        && first.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    tag_ok && pinned.is_none_or(digest)
}

fn digest(v: &str) -> bool {
    let hex = |h: &str, n: usize| h.len() == n && h.bytes().all(|b| b.is_ascii_hexdigit());
    match v.split_once(':') {
        Some(("sha256", h)) => hex(h, 64),
        Some(("sha512", h)) => hex(h, 128),
        _ => false,
    }
}

/// A dot-separated list of `[0-9A-Za-z-]+` identifiers (semver pre-release and build metadata).
fn identifiers(s: &str) -> bool {
    s.split('.')
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// One version as Masterminds/semver (Helm's parser) reads it: `v?N(.N(.N)?)?(-pre)?(+build)?`;
/// in a constraint, a number may be a wildcard (`x`, `X`, `*`).
fn semver(v: &str, wildcards: bool) -> bool {
    let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
    let (v, build) = match v.split_once('+') {
        Some((v, b)) => (v, Some(b)),
        None => (v, None),
    };
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (v, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let number = |p: &&str| {
        (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            || (wildcards && matches!(*p, "x" | "X" | "*"))
    };
    (1..=3).contains(&parts.len())
        && parts.iter().all(number)
        && pre.is_none_or(identifiers)
        && build.is_none_or(identifiers)
}

/// A ref as written in a URL query that git would take as a branch, tag or commit: the charset
/// needs no escaping in the URL or an HCL string, `%XX` escapes are kept as written, and git's
/// `check-ref-format` rules hold (no `..`, `//`, `@{`, leading `-` or `.`, trailing `/`, `.` or
/// `.lock`, no component starting with `.`).
fn git_ref(v: &str) -> bool {
    let bytes = v.as_bytes();
    let charset = bytes.iter().enumerate().all(|(i, &b)| match b {
        b'%' => bytes
            .get(i + 1..i + 3)
            .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)),
        b => b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'/' | b'@' | b'-'),
    });
    charset
        && v != "@"
        && !v.starts_with(['-', '/'])
        && !v.ends_with(['/', '.'])
        && !v.ends_with(".lock")
        && !v.contains("..")
        && !v.contains("//")
        && v.split('/').all(|part| !part.starts_with('.'))
}

/// A constraint as hashicorp/go-version reads Terraform's `version` argument: `,`-joined parts,
/// each an optional operator and a version `v?N(.N)*`, pre-release and build parts allowed.
fn constraint(v: &str) -> bool {
    v.split(',').all(|part| {
        let part = part.trim_matches(' ');
        let version = ["!=", ">=", "<=", "~>", "=", ">", "<"]
            .iter()
            .find_map(|op| part.strip_prefix(op))
            .unwrap_or(part)
            .trim_start_matches(' ');
        go_version(version)
    })
}

/// One hashicorp/go-version version: `v?N(.N)*`, then an optional pre-release (`-rc.1`, `beta`)
/// and build metadata (`+b.1`) of `[0-9A-Za-z.~-]`.
fn go_version(v: &str) -> bool {
    let v = v.strip_prefix('v').unwrap_or(v);
    let (v, build) = match v.split_once('+') {
        Some((v, b)) => (v, Some(b)),
        None => (v, None),
    };
    let core_end = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (core, pre) = v.split_at(core_end);
    let extra = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '~' | '-'))
    };
    let numbers_ok = !core.is_empty()
        && core
            .split('.')
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    numbers_ok
        && (pre.is_empty() || extra(pre.strip_prefix('-').unwrap_or(pre)))
        && build.is_none_or(extra)
}

fn chart(v: &str) -> bool {
    if semver(v, false) {
        return true;
    }
    // A constraint: `||` alternatives of `,`-joined comparisons.
    v.split("||").all(|alt| {
        alt.split(',').all(|c| {
            let version = ["!=", ">=", "=>", "<=", "=<", "~>", "=", ">", "<", "~", "^"]
                .iter()
                .find_map(|op| c.strip_prefix(op))
                .unwrap_or(c);
            semver(version, true)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every ASCII byte, and a few other characters, between two digits: a dotenv version
    /// passes without whitespace, control characters and the refused bytes (non-ASCII letters
    /// pass; the one-lookup path takes printable ASCII, the rest is judged in full).
    #[test]
    fn a_dotenv_version_passes_with_printable_bytes_but_the_refused() {
        let others = ['\u{a0}', 'é', '\u{2003}', '\u{7f}'];
        for c in (0u8..128).map(char::from).chain(others) {
            let value = format!("1{c}2");
            let plain = !c.is_whitespace() && !c.is_control() && !"\"'`[]{}$\\".contains(c);
            assert_eq!(
                validate_version(Rule::Dotenv, &value).is_ok(),
                plain,
                "{value:?}"
            );
        }
        assert!(validate_version(Rule::Dotenv, "").is_err());
    }
    use proptest::prelude::*;

    /// What `validate_version` said before its ASCII fast path: the first whitespace or
    /// control character (found char by char), and for a dotenv pin whether it holds a refused
    /// character (found by `str::contains`).
    fn oracle(rule: Rule, value: &str) -> (Option<char>, bool) {
        let spaced = rule == Rule::VersionConstraint;
        let bad = value
            .chars()
            .find(|&c| (c.is_whitespace() && !(spaced && c == ' ')) || c.is_control());
        let refused = value.contains(&['"', '\'', '`', '[', ']', '{', '}', '$', '\\'][..]);
        (bad, refused)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_048))]

        #[test]
        fn ascii_fast_path_finds_what_the_char_walk_found(
            value in prop_oneof!["[ -~\t\r\n\x0b\x7f\u{85}\u{a0}\u{2003}é]{0,10}", any::<String>()],
            spaced in any::<bool>(),
        ) {
            let rule = if spaced { Rule::VersionConstraint } else { Rule::Dotenv };
            let (bad, refused) = oracle(rule, &value);
            let got = validate_version(rule, &value);
            match bad {
                _ if value.is_empty() => prop_assert!(got.is_err()),
                Some(c) => {
                    let err = got.expect_err("a blank or control character is refused");
                    let culprit = format!("(`{}`)", c.escape_debug());
                    prop_assert!(err.contains(&culprit), "{} lacks {}", err, culprit);
                }
                // A constraint may still be refused, but never for a blank.
                None if spaced => prop_assert!(
                    got.as_ref().err().is_none_or(|e| !e.contains("a version never does")),
                    "{:?}", got
                ),
                None => prop_assert_eq!(got.is_ok(), !refused),
            }
        }
    }

    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn every_rule_refuses_empty_whitespace_and_control_characters() {
        for rule in [
            Rule::Any,
            Rule::ImageTag,
            Rule::Digest,
            Rule::Chart,
            Rule::Dotenv,
        ] {
            for bad in [
                "",
                "1.18 .7",
                " 1.2.3",
                "1.2.3\n",
                "1.2\n3",
                "1.2\t3",
                "sha 1",
                "1.2\u{7}",
                "1.2\u{a0}3",
            ] {
                assert!(
                    validate_version(rule, bad).is_err(),
                    "{rule:?} took {bad:?}"
                );
            }
        }
        assert_eq!(
            validate_version(Rule::Any, "1.2\n3").expect_err("refused"),
            "`1.2\\n3` holds whitespace (`\\n`); a version never does"
        );
        assert_eq!(
            validate_version(Rule::Any, "").expect_err("refused"),
            "a version cannot be empty"
        );
    }

    #[test]
    fn any_takes_what_other_files_hold() {
        for good in [
            "1.18.6",
            "v1.12.1",
            "sha-abc1234",
            "cert-manager-v1.2",
            "2024.05.01",
            "${x}",
            "a/b:c",
        ] {
            assert_eq!(validate_version(Rule::Any, good), Ok(()), "{good}");
        }
    }

    #[test]
    fn dotenv_versions_are_what_every_dotenv_reader_reads_alike() {
        for good in [
            "1.18.6",
            "v2.41.1",
            "sha-abc1234",
            "ghcr.io/org/dex:v2@sha256:00",
            ">=1.0,<2.0",
            "6.21.0#build",
        ] {
            assert_eq!(validate_version(Rule::Dotenv, good), Ok(()), "{good}");
        }
        for bad in [
            "[\"end0\"]",
            "[end0]",
            "{\"a\":1}",
            "\"1.2.3\"",
            "'1.2.3'",
            "${x}",
            "a\\b",
            "`x`",
        ] {
            assert!(validate_version(Rule::Dotenv, bad).is_err(), "{bad}");
        }
        assert_eq!(
            validate_version(Rule::Dotenv, "[\"end0\"]").expect_err("refused"),
            "`[\\\"end0\\\"]` is not a dotenv version: expected text without quotes, brackets, braces, `$` or `\\` (kustomize and Flux read a dotenv value verbatim)"
        );
    }

    #[test]
    fn image_tags_follow_the_docker_grammar() {
        let long = "a".repeat(128);
        let tag_digest = format!("v1.2@{SHA}");
        for good in [
            "v1.2.3",
            "sha-abc1234",
            "latest",
            "_x",
            "1.0.0-rc.1_b",
            &long,
            SHA,
            &tag_digest,
        ] {
            assert_eq!(validate_version(Rule::ImageTag, good), Ok(()), "{good}");
        }
        let too_long = "a".repeat(129);
        for bad in [
            ".v1",
            "-v1",
            "v1+build",
            "v1/2",
            "v1:2",
            "sha256:abc",
            &too_long,
            "v1@sha256:12",
        ] {
            assert!(validate_version(Rule::ImageTag, bad).is_err(), "{bad}");
        }
        assert!(
            validate_version(Rule::ImageTag, "v1+b")
                .expect_err("refused")
                .contains("is not an image tag")
        );
    }

    #[test]
    fn digests_are_sha256_and_64_hex_digits() {
        assert_eq!(validate_version(Rule::Digest, SHA), Ok(()));
        for bad in [
            "sha256:abc",
            "v1.2.3",
            "md5:0123456789abcdef0123456789abcdef",
            &SHA.replace('a', "g"),
        ] {
            assert!(validate_version(Rule::Digest, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn chart_versions_are_semver_or_constraints_helm_accepts() {
        for good in [
            "1.18.6",
            "v1.19.1",
            "1.2",
            "1",
            "2.0.0-rc.1",
            "1.0.0+build.5",
            "^1.2",
            "~1.2.3",
            ">=1.0,<2.0",
            "1.x",
            "1.2.*",
            "*",
            "~>1.2",
            "!=1.3.0",
            "1.0||>=2.0",
        ] {
            assert_eq!(validate_version(Rule::Chart, good), Ok(()), "{good}");
        }
        for bad in [
            "latest",
            "sha-abc1234",
            "1.2.3.4",
            "1..2",
            ">=",
            "1.2,",
            "v",
            "1.2.3-",
            ">= 1.0",
        ] {
            assert!(validate_version(Rule::Chart, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn git_refs_are_what_git_and_a_url_query_take_alike() {
        for good in [
            "v0.3.0",
            "main",
            "feature/new-vpc",
            "release-1.2_x",
            "0123456789abcdef0123456789abcdef01234567",
            "v1.0%2Bbuild",
            "user@host",
        ] {
            assert_eq!(validate_version(Rule::GitRef, good), Ok(()), "{good}");
        }
        for bad in [
            "v1+b", "a&b", "a#b", "a..b", "-v1", "v1/", "v1.", "a.lock", "a//b", "a/.b", ".a",
            "a%2", "a%zz", "@", "a\"b", "${x}", "a~1", "a^", "a:b", "a b",
        ] {
            assert!(validate_version(Rule::GitRef, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn registry_versions_are_exact() {
        for good in ["5.1.0", "1.0.0-rc.1", "v2.0.0"] {
            assert_eq!(
                validate_version(Rule::ModuleVersion, good),
                Ok(()),
                "{good}"
            );
        }
        for bad in ["~> 5.1", ">=1.0", "1.0.0+b", "latest", "1.2.3.4"] {
            assert!(validate_version(Rule::ModuleVersion, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn terraform_constraints_may_hold_spaces() {
        for good in [
            "5.1.0",
            "~> 5.1",
            "~>5.1",
            ">= 1.2.0, < 2.0.0",
            "= 1.0",
            "!= 1.3.0",
            "1.0.0-beta.1",
            "1.0beta",
            "v1.2.3+meta",
            "1",
            " 1.2 ",
        ] {
            assert_eq!(
                validate_version(Rule::VersionConstraint, good),
                Ok(()),
                "{good}"
            );
        }
        for bad in [
            "", " ", "~>", "1.2.", ">= 1.0,", "1.0\t", "1.0\n", "^1.2", "latest", "1 .2", "1.x",
        ] {
            assert!(
                validate_version(Rule::VersionConstraint, bad).is_err(),
                "{bad:?}"
            );
        }
    }
}
