//! Robustness: arbitrary input never panics, bad input is refused with a position and writes
//! nothing, racing promotions all land, and the token never shows.

use proptest::prelude::*;
use serde_json::json;

use promote::config::Config;
use promote::source::{self, Kind, Locator};

use crate::action_e2e::{TOKEN, open_pulls, output, run_action, seed, workspace_for};
use crate::fake_github::FakeGitHub;
use crate::support::{example_repo, run_in, snapshot_tree};

const KINDS: [Kind; 7] = [
    Kind::HclMap,
    Kind::Flux,
    Kind::KustomizeImages,
    Kind::ChartDependencies,
    Kind::Yaml,
    Kind::Toml,
    Kind::Dotenv,
];

fn locator(kind: Kind) -> Locator {
    let mut loc = Locator::new(kind);
    if kind == Kind::Yaml {
        loc.at = Some("image.tag".into());
    }
    loc
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any bytes: every kind either reads or errors; never panics. A successful read can be set.
    #[test]
    fn editors_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), k in 0usize..7) {
        let loc = locator(KINDS[k]);
        if let Ok(inv) = source::read(&loc, "fuzz", &bytes)
            && let Some(c) = inv
                .components
                .iter()
                .find(|c| c.indirect.is_none() && c.rule != source::Rule::Digest)
        {
            let out = source::set_versions(&loc, "fuzz", &bytes, &[(&c.name, "9.9.9")]).expect("a readable value is settable");
            prop_assert_eq!(&out[..c.span.start], &bytes[..c.span.start]);
        }
    }

    /// Text that looks like the real thing, mutated: still no panic.
    #[test]
    fn mutated_sources_never_panic(cut in 0usize..600, insert in "[ \t\n:#\"'{}\\[\\]=,-]{0,4}", k in 0usize..7) {
        let samples = [
            "locals {\n  versions = {\n    talos = \"v1.12.1\" # x\n  }\n}\n",
            "---\nkind: HelmRelease\nmetadata:\n  name: a\nspec:\n  chart:\n    spec:\n      version: \"1.2.3\"\n",
            "images:\n  - name: a\n    newTag: sha-abc\n",
            "dependencies:\n  - name: a\n    version: 1.2.3\n",
            "image:\n  tag: '1.0'\n",
            "[versions]\na = \"1.0\" # c\n",
            "export A_VERSION=1.2.3 # renovate: x\n",
        ];
        let base = samples[k];
        let at = cut.min(base.len());
        let at = (0..=at).rev().find(|i| base.is_char_boundary(*i)).unwrap_or(0);
        let text = format!("{}{insert}{}", &base[..at], &base[at..]);
        let _ = source::read(&locator(KINDS[k]), "fuzz", text.as_bytes());
    }

    #[test]
    fn payload_and_config_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), e in 0usize..6) {
        let events = ["status", "push", "workflow_dispatch", "repository_dispatch", "pull_request", "check_run"];
        let _ = promote::event::parse(events[e], &bytes);
        let _ = Config::load("fuzz.toml", &bytes);
    }
}

/// Each broken input: a clear error naming the file (and line where there is one), nothing written.
#[test]
fn bad_input_matrix_refuses_and_writes_nothing() {
    let live = "kubernetes/clusters/live/helm-charts.yaml";
    let stack = "infrastructure/stacks/live/terragrunt.stack.hcl";
    let huge_line = format!("# {}\n", "x".repeat(200_000));
    type Corrupt = Box<dyn Fn(&str) -> Vec<u8>>;
    let cases: Vec<(&str, &str, Corrupt, &str)> = vec![
        (
            "truncated yaml",
            live,
            Box::new(|t: &str| {
                let at = t.find("version: \"1.18.5\"").expect("cilium") + 13;
                t.as_bytes()[..at].to_vec()
            }),
            "helm-charts.yaml:",
        ),
        (
            "tabs in yaml",
            live,
            Box::new(|t: &str| {
                t.replacen("  interval: 10m", "\tinterval: 10m", 1)
                    .into_bytes()
            }),
            "helm-charts.yaml:",
        ),
        (
            "duplicate key",
            live,
            Box::new(|t: &str| {
                t.replacen("  interval: 10m\n", "  interval: 10m\n  interval: 5m\n", 1)
                    .into_bytes()
            }),
            "duplicate key `interval`",
        ),
        (
            "binary data",
            live,
            Box::new(|_: &str| vec![0xff, 0xfe, 0x00, 0x12, 0x80]),
            "not valid UTF-8",
        ),
        (
            "version is a map",
            live,
            Box::new(|t: &str| {
                t.replacen("version: \"1.18.5\"", "version: {major: 1}", 1)
                    .into_bytes()
            }),
            "is not a string scalar",
        ),
        (
            "version is a number in hcl",
            stack,
            Box::new(|t: &str| t.replacen("\"1.34.3\"", "1.34", 1).into_bytes()),
            "terragrunt.stack.hcl:",
        ),
        (
            "truncated hcl",
            stack,
            Box::new(|t: &str| t.as_bytes()[..t.len() / 3].to_vec()),
            "terragrunt.stack.hcl:",
        ),
        (
            "huge file with a broken tail",
            live,
            Box::new(move |t: &str| {
                format!("{t}{}{}", huge_line.repeat(20), "bad: [").into_bytes()
            }),
            "helm-charts.yaml:",
        ),
    ];
    for (name, file, corrupt, want) in cases {
        let repo = example_repo("flux-terragrunt");
        let path = repo.path().join(file);
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, corrupt(&text)).expect("write");
        let before = snapshot_tree(repo.path());
        let (code, _, err) = run_in(repo.path(), &["apply", "--force"]);
        assert_eq!(code, 1, "{name}: {err}");
        assert!(err.contains(want), "{name}: {err}");
        assert_eq!(
            snapshot_tree(repo.path()),
            before,
            "{name}: something was written"
        );
    }
}

#[test]
fn config_paths_outside_the_repository_are_refused() {
    for (path, want) in [
        ("../outside/{env}.yaml", "leaves the repository"),
        ("/etc/{env}.yaml", "is absolute"),
    ] {
        let repo = example_repo("flux-terragrunt");
        let cfg = repo.path().join(".github/promote.toml");
        let text = std::fs::read_to_string(&cfg).expect("config");
        std::fs::write(
            &cfg,
            text.replace("kubernetes/clusters/{env}/helm-charts.yaml", path),
        )
        .expect("write");
        let (code, _, err) = run_in(repo.path(), &["plan"]);
        assert_eq!(code, 1, "{path}");
        assert!(err.contains(want), "{path}: {err}");
    }
    // A symlink out of the workspace is refused too.
    let repo = example_repo("flux-terragrunt");
    let outside = tempfile::tempdir().expect("outside");
    let live = repo
        .path()
        .join("kubernetes/clusters/live/helm-charts.yaml");
    std::fs::copy(&live, outside.path().join("helm-charts.yaml")).expect("copy");
    std::fs::remove_file(&live).expect("rm");
    std::os::unix::fs::symlink(outside.path().join("helm-charts.yaml"), &live).expect("symlink");
    let (code, _, err) = run_in(repo.path(), &["apply", "--force"]);
    assert_eq!(code, 1);
    assert!(err.contains("symlink out of the repository"), "{err}");
}

/// Eight promotions of eight different components start from the same head at once: every one
/// lands (re-planned on the moved head), none is lost.
#[test]
fn racing_promotions_all_land_against_the_api() {
    let gh = FakeGitHub::start("acme/homelab");
    seed(&gh, "main", "flux-terragrunt", &[]);
    let ws = workspace_for("flux-terragrunt");
    let ids = [
        "infra/talos",
        "infra/kubernetes",
        "infra/cilium",
        "infra/flux",
        "infra/prometheus",
        "helm/cilium",
        "helm/cert-manager",
        "helm/kube-prometheus-stack",
    ];
    let dispatch = |id: &str| json!({"inputs": {"components": id, "force": "true"}, "ref": "refs/heads/main", "repository": {"full_name": "acme/homelab"}, "sender": {"login": "alice"}, "workflow": "w"});
    let runs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .iter()
            .map(|id| {
                let (gh, ws, payload) = (&gh, ws.path(), dispatch(id));
                s.spawn(move || run_action(gh, ws, "workflow_dispatch", payload, &[]))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    for (id, run) in ids.iter().zip(&runs) {
        assert_eq!(run.code, 0, "{id}: {}", run.stderr);
        assert_eq!(output(run, "changed"), "true", "{id}: {}", run.stderr);
    }
    let stack = gh
        .file("main", "infrastructure/stacks/live/terragrunt.stack.hcl")
        .expect("stack");
    for v in [
        "talos = \"v1.12.1\"",
        "kubernetes = \"1.35.0\"",
        "cilium = \"1.18.6\"",
        "flux = \"v2.7.5\"",
        "prometheus = \"20.0.0\"",
    ] {
        assert!(stack.contains(v), "lost `{v}`:\n{stack}");
    }
    let charts = gh
        .file("main", "kubernetes/clusters/live/helm-charts.yaml")
        .expect("charts");
    for v in [
        "version: \"1.18.6\"",
        "version: v1.19.1 #",
        "version: \"77.12.0\"",
    ] {
        assert!(charts.contains(v), "lost `{v}`");
    }
    let mut history = 0;
    let mut sha = gh.head("main");
    while let Some(s) = sha {
        history += 1;
        sha = gh.commit(&s).and_then(|c| c.parent);
    }
    assert_eq!(
        history,
        1 + ids.len(),
        "one commit per promotion, none force-pushed away"
    );
}

/// Ten runs of the same pull-request promotion at once open exactly one PR.
#[test]
fn racing_pull_request_runs_open_one_pr() {
    let gh = FakeGitHub::start("acme/homelab");
    let dev = "infra/argocd/overlays/dev/kustomization.yaml";
    let c1 = seed(&gh, "main", "kustomize-overlays", &[]);
    let c2 = seed(
        &gh,
        "main",
        "kustomize-overlays",
        &[(dev, "sha-abc12345", "sha-0a1b2c3d")],
    );
    let ws = workspace_for("kustomize-overlays");
    let payload = json!({"ref": "refs/heads/main", "before": c1, "after": c2, "forced": false, "deleted": false, "commits": []});
    let runs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..10)
            .map(|_| {
                let (gh, ws, payload) = (&gh, ws.path(), payload.clone());
                s.spawn(move || run_action(gh, ws, "push", payload, &[]))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let ok = runs.iter().filter(|r| r.code == 0).count();
    for r in runs.iter().filter(|r| r.code != 0) {
        assert!(
            r.stderr.contains("error:"),
            "a failed run says why: {}",
            r.stderr
        );
    }
    assert!(ok >= 1);
    assert_eq!(open_pulls(&gh).len(), 1, "{:?}", open_pulls(&gh));
}

/// A rejected token: the error says so, and the token appears nowhere.
#[test]
fn tokens_never_appear_in_errors() {
    let gh = FakeGitHub::start("acme/homelab");
    seed(&gh, "main", "flux-terragrunt", &[]);
    gh.fail(
        "GET",
        "/",
        401,
        json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}),
        100,
    );
    let ws = workspace_for("flux-terragrunt");
    let payload = json!({"inputs": {"force": "true"}, "ref": "refs/heads/main", "repository": {"full_name": "acme/homelab"}, "sender": {"login": "alice"}, "workflow": "w"});
    let run = run_action(&gh, ws.path(), "workflow_dispatch", payload, &[]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("unauthorized"), "{}", run.stderr);
    assert!(run.stdout.contains("::error::"), "{}", run.stdout);
    let masked: String = run
        .stdout
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect();
    for text in [&run.stderr, &masked, &run.outputs, &run.summary] {
        assert!(!text.contains(TOKEN), "token leaked: {text}");
    }
}

/// Commit mode `git`: five runners, each in its own clone, race to push to one bare `origin`;
/// every promotion lands, nothing is force-pushed, the real `git` CLI reads the result.
#[test]
fn racing_promotions_all_land_in_git_mode() {
    use crate::support::git;
    let root = tempfile::tempdir().expect("tmp");
    let seed_repo = example_repo("flux-terragrunt");
    git(
        root.path(),
        &["init", "-q", "--bare", "-b", "main", "origin.git"],
    );
    let origin = root.path().join("origin.git");
    let origin_url = origin.to_str().expect("utf8");
    git(seed_repo.path(), &["push", "-q", origin_url, "HEAD:main"]);
    let ids = [
        "infra/talos",
        "infra/kubernetes",
        "helm/cilium",
        "helm/cert-manager",
        "infra/flux",
    ];
    let clones: Vec<std::path::PathBuf> = (0..ids.len())
        .map(|i| {
            let dir = root.path().join(format!("runner-{i}"));
            git(
                root.path(),
                &["clone", "-q", origin_url, dir.to_str().expect("utf8")],
            );
            dir
        })
        .collect();
    let gh = FakeGitHub::start("acme/homelab");
    let runs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = ids.iter().zip(&clones).map(|(id, dir)| {
            let payload = json!({"inputs": {"components": id, "force": "true"}, "ref": "refs/heads/main", "repository": {"full_name": "acme/homelab"}, "sender": {"login": "alice"}, "workflow": "w"});
            let gh = &gh;
            s.spawn(move || run_action(gh, dir, "workflow_dispatch", payload, &[("commit-mode", "git")]))
        }).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    for (id, run) in ids.iter().zip(&runs) {
        assert_eq!(run.code, 0, "{id}: {}\n{}", run.stdout, run.stderr);
        assert_eq!(output(run, "changed"), "true", "{id}: {}", run.stderr);
    }
    let show = |path: &str| git(&origin, &["show", &format!("main:{path}")]);
    let stack = show("infrastructure/stacks/live/terragrunt.stack.hcl");
    for v in [
        "talos = \"v1.12.1\"",
        "kubernetes = \"1.35.0\"",
        "flux = \"v2.7.5\"",
    ] {
        assert!(stack.contains(v), "lost `{v}`");
    }
    let charts = show("kubernetes/clusters/live/helm-charts.yaml");
    assert!(
        charts.contains("version: \"1.18.6\"") && charts.contains("version: v1.19.1 #"),
        "{charts}"
    );
    let count = git(&origin, &["rev-list", "--count", "main"]);
    assert_eq!(count.trim(), (1 + ids.len()).to_string());
    assert!(gh.requests().is_empty(), "git mode talks to no API");
}
