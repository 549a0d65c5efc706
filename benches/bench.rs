//! `cargo bench --bench bench`: promote against its peers on synthetic GitOps repos.
//!
//! For N components (split across a Flux helm-charts.yaml, a terragrunt.stack.hcl versions map
//! and a kustomization) in dev/integration/live, it measures in one run:
//! - `promote plan` and `promote apply --dry-run` wall time (median) and peak RSS;
//! - the floor: reading and parsing every file once, in process, vs the in-process plan;
//! - peers on the same repo and edits: a `ruamel.yaml` round-trip script and seed 002's
//!   `cp` + `sed`, with how many bytes outside version spans each changed;
//! - cold start of `promote --version`.
//!
//! A second table does the same for one HelmRelease file per app and environment, matched by a
//! placeholder path (`apps/{app}/helmrelease.yaml`): `promote plan` against the floor of listing
//! and parsing every matched file once in process; the cost per file must stay flat as N grows.
//!
//! `PROMOTE_BENCH_QUICK=1` runs N = 100 and 1,000 with few repetitions; `PROMOTE_BENCH_ONLY=apps`
//! runs only the per-app table.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use promote::config::Config;
use promote::gate::Eligibility;
use promote::plan::{self, PlanOptions};
use promote::repo::WorkTree;

const ENVS: [&str; 3] = ["dev", "integration", "live"];
const BIN: &str = env!("CARGO_BIN_EXE_promote");

fn version(env: &str, i: usize) -> String {
    // Integration (and dev) run ahead of live on every other component.
    let patch = usize::from(env != "live" && i.is_multiple_of(2));
    format!("1.{}.{patch}", i % 997)
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// A synthetic repository with `n` components per environment.
fn generate(root: &Path, n: usize) {
    let (helm, rest) = (n / 3, n - n / 3);
    let (hcl, images) = (rest / 2, rest - rest / 2);
    for env in ENVS {
        let mut charts = format!(
            "# Helm charts of the `{env}` cluster.\n# Renovate bumps dev and integration; live moves through promote.\n"
        );
        for i in 0..helm {
            charts.push_str(&format!(
                "---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: chart-{i}\n  namespace: apps # team {team}\nspec:\n  interval: 30m\n  chart:\n    spec:\n      chart: chart-{i}\n      # renovate: datasource=helm depName=chart-{i} registryUrl=https://charts.example.com\n      version: \"{v}\"\n      sourceRef: {{kind: HelmRepository, name: example}}\n  values:\n    replicas: 2\n",
                team = i % 7,
                v = version(env, i)
            ));
        }
        write(
            &root.join(format!("clusters/{env}/helm-charts.yaml")),
            &charts,
        );
        let mut stack = format!(
            "locals {{\n  name = \"{env}\"\n\n  # Infrastructure versions\n  versions = {{\n"
        );
        for i in 0..hcl {
            stack.push_str(&format!("    # renovate: datasource=github-releases depName=org/tool-{i}\n    tool_{i} = \"v{}\" // pinned\n", version(env, i)));
        }
        stack.push_str("  }\n}\n\nunit \"config\" {\n  source = \"../../units/config\"\n  values = { versions = local.versions }\n}\n");
        write(
            &root.join(format!("stacks/{env}/terragrunt.stack.hcl")),
            &stack,
        );
        let mut kustomization = format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: apps-{env}\nresources:\n  - ../../base\nimages:\n"
        );
        for i in 0..images {
            kustomization.push_str(&format!(
                "  - name: ghcr.io/org/image-{i} # built by CI\n    newTag: sha-{:08x}\n",
                (i * 2654435761 + usize::from(env != "live" && i.is_multiple_of(2))) & 0xffff_ffff
            ));
        }
        write(
            &root.join(format!("overlays/{env}/kustomization.yaml")),
            &kustomization,
        );
    }
    write(
        &root.join(".github/promote.toml"),
        "environments = [\"dev\", \"integration\", \"live\"]\n\n[[source]]\npath = \"clusters/{env}/helm-charts.yaml\"\nkind = \"flux\"\ngroup = \"helm\"\n\n[[source]]\npath = \"stacks/{env}/terragrunt.stack.hcl\"\nkind = \"hcl-map\"\ngroup = \"infra\"\n\n[[source]]\npath = \"overlays/{env}/kustomization.yaml\"\nkind = \"kustomize-images\"\ngroup = \"images\"\n\n[[promotion]]\nfrom = \"integration\"\nto = \"live\"\n",
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Median wall time of `cmd` over `reps` runs; `prepare` runs untimed before each.
fn time_cmd(reps: usize, mut prepare: impl FnMut() -> Command) -> Duration {
    median(
        (0..reps)
            .map(|_| {
                let mut cmd = prepare();
                let start = Instant::now();
                let out = cmd
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .output()
                    .expect("spawn");
                let took = start.elapsed();
                assert!(
                    out.status.success(),
                    "{cmd:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                took
            })
            .collect(),
    )
}

/// Peak RSS of one run, through GNU time when it is installed.
fn peak_rss(args: &[&str]) -> String {
    if !Path::new("/usr/bin/time").exists() {
        return "n/a".into();
    }
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(BIN)
        .args(args)
        .stdout(Stdio::null())
        .output()
        .expect("time");
    let kb: u64 = String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    format!("{:.1} MiB", kb as f64 / 1024.0)
}

/// Bytes of `got` that differ from `want`, counted over changed lines.
fn bytes_outside(want: &str, got: &str) -> usize {
    let diff = similar::TextDiff::from_lines(want, got);
    let mut total = 0;
    for op in diff.ops() {
        let (old, new) = (op.old_range(), op.new_range());
        if op.tag() != similar::DiffTag::Equal {
            let removed: usize = old.filter_map(|i| diff.old_slice(i)).map(|l| l.len()).sum();
            let inserted: usize = new.filter_map(|i| diff.new_slice(i)).map(|l| l.len()).sum();
            total += removed.max(inserted);
        }
    }
    total
}

const LIVE_FILES: [&str; 3] = [
    "clusters/live/helm-charts.yaml",
    "stacks/live/terragrunt.stack.hcl",
    "overlays/live/kustomization.yaml",
];

/// Run a peer on a fresh copy; returns (median time, bytes outside version spans vs promote's output).
fn peer(
    base: &Path,
    expected: &Path,
    reps: usize,
    program: &str,
    script: &Path,
) -> (Duration, usize) {
    let work = tempfile::tempdir().expect("tmp");
    let mut last = PathBuf::new();
    let t = time_cmd(reps, || {
        let dir = work.path().join(format!(
            "run-{}",
            std::process::id() as u128 + Instant::now().elapsed().as_nanos()
        ));
        let _ = std::fs::remove_dir_all(&last);
        copy_dir(base, &dir);
        last = dir.clone();
        let mut c = Command::new(program);
        c.arg(script).arg(&dir);
        c
    });
    let outside = LIVE_FILES
        .iter()
        .map(|f| {
            let want = std::fs::read_to_string(expected.join(f)).expect("expected");
            let got = std::fs::read_to_string(last.join(f)).expect("peer output");
            if f.ends_with(".hcl") && program == "python3" {
                0 // the YAML-only peer leaves the stack alone (and promotes none of it)
            } else {
                bytes_outside(&want, &got)
            }
        })
        .sum();
    (t, outside)
}

fn in_process(root: &Path, reps: usize) -> (Duration, Duration) {
    let cfg = Config::load(
        "promote.toml",
        &std::fs::read(root.join(".github/promote.toml")).expect("cfg"),
    )
    .expect("config");
    let tree = WorkTree::new(root);
    let floor = median(
        (0..reps)
            .map(|_| {
                let start = Instant::now();
                for env in ENVS {
                    for src in &cfg.sources {
                        let path = src.path_for(env).expect("path");
                        let bytes = std::fs::read(root.join(&path)).expect("read");
                        promote::source::read(&src.locator(), &path, &bytes).expect("parse");
                    }
                }
                start.elapsed()
            })
            .collect(),
    );
    let promotion = cfg.first_promotion().expect("promotion").clone();
    let opts = PlanOptions {
        force: true,
        ..PlanOptions::default()
    };
    let plan_t = median(
        (0..reps)
            .map(|_| {
                let start = Instant::now();
                plan::build(
                    &cfg,
                    &promotion,
                    &tree,
                    &tree,
                    &Eligibility::all("bench"),
                    &opts,
                )
                .expect("plan");
                start.elapsed()
            })
            .collect(),
    );
    (floor, plan_t)
}

/// `n` apps per environment, one HelmRelease file each, under a placeholder path.
fn generate_apps(root: &Path, n: usize) {
    for env in ENVS {
        for i in 0..n {
            write(
                &root.join(format!("clusters/{env}/apps/app-{i}/helmrelease.yaml")),
                &format!(
                    "---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: app-{i}\n  namespace: apps # team {team}\nspec:\n  interval: 30m\n  chart:\n    spec:\n      chart: app-{i}\n      # renovate: datasource=helm depName=app-{i} registryUrl=https://charts.example.com\n      version: \"{v}\"\n      sourceRef: {{kind: HelmRepository, name: example}}\n  values:\n    replicas: 2\n",
                    team = i % 7,
                    v = version(env, i)
                ),
            );
            // A neighbour the pattern must skip, as real app folders have.
            write(
                &root.join(format!("clusters/{env}/apps/app-{i}/ks.yaml")),
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n",
            );
        }
    }
    write(
        &root.join(".github/promote.toml"),
        "environments = [\"dev\", \"integration\", \"live\"]\n\n[[source]]\npath = \"clusters/{env}/apps/{app}/helmrelease.yaml\"\nkind = \"flux\"\ngroup = \"apps\"\n\n[[promotion]]\nfrom = \"integration\"\nto = \"live\"\n",
    );
}

/// The floor for the per-app repo: list the folder of each environment the plan reads
/// (integration and live) once, parse every matched file once; and the in-process plan.
fn in_process_apps(root: &Path, reps: usize) -> (Duration, Duration) {
    let cfg = Config::load(
        "promote.toml",
        &std::fs::read(root.join(".github/promote.toml")).expect("cfg"),
    )
    .expect("config");
    let src = &cfg.sources[0];
    let floor = median(
        (0..reps)
            .map(|_| {
                let start = Instant::now();
                for env in ["integration", "live"] {
                    let apps = root.join(format!("clusters/{env}/apps"));
                    for app in std::fs::read_dir(&apps).expect("apps") {
                        let app = app.expect("entry").file_name();
                        let app = app.to_str().expect("utf8");
                        let path = format!("clusters/{env}/apps/{app}/helmrelease.yaml");
                        let bytes = std::fs::read(root.join(&path)).expect("read");
                        promote::source::read(&src.locator(), &path, &bytes).expect("parse");
                    }
                }
                start.elapsed()
            })
            .collect(),
    );
    let promotion = cfg.first_promotion().expect("promotion").clone();
    let opts = PlanOptions {
        force: true,
        ..PlanOptions::default()
    };
    let tree = WorkTree::new(root);
    let plan_t = median(
        (0..reps)
            .map(|_| {
                let start = Instant::now();
                let plan = plan::build(
                    &cfg,
                    &promotion,
                    &tree,
                    &tree,
                    &Eligibility::all("bench"),
                    &opts,
                )
                .expect("plan");
                assert_eq!(plan.items.len(), root_apps(root), "every app planned");
                start.elapsed()
            })
            .collect(),
    );
    (floor, plan_t)
}

fn root_apps(root: &Path) -> usize {
    std::fs::read_dir(root.join("clusters/live/apps"))
        .expect("apps")
        .count()
}

/// The per-app table: N HelmRelease files per environment matched by `{app}`.
fn apps_table(sizes: &[usize], reps: usize) {
    println!(
        "\none file per app (`clusters/{{env}}/apps/{{app}}/helmrelease.yaml`, N files per environment):\n"
    );
    println!(
        "| N apps | files matched | plan | per file | floor (list + parse once) | plan in-process | plan/floor |"
    );
    println!("|---|---|---|---|---|---|---|");
    for &n in sizes {
        let base = tempfile::tempdir().expect("tmp");
        generate_apps(base.path(), n);
        let dir = base.path().to_str().expect("utf8").to_string();
        let plan_t = time_cmd(reps, || {
            let mut c = Command::new(BIN);
            c.args(["plan", "-C", &dir, "--force", "--format", "json"]);
            c
        });
        let (floor, inproc) = in_process_apps(base.path(), reps);
        // A plan reads the source and the target environment.
        let files = 2 * n;
        println!(
            "| {n} | {files} | {} | {:.1} µs | {} | {} | {:.2} |",
            ms(plan_t),
            plan_t.as_secs_f64() * 1e6 / files as f64,
            ms(floor),
            ms(inproc),
            inproc.as_secs_f64() / floor.as_secs_f64(),
        );
    }
}

fn ensure_ruamel() -> bool {
    let ok = |c: &mut Command| {
        c.stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    ok(Command::new("python3").args(["-c", "import ruamel.yaml"]))
        || ok(Command::new("python3").args(["-m", "pip", "install", "--quiet", "ruamel.yaml"]))
}

fn main() {
    let quick = std::env::var_os("PROMOTE_BENCH_QUICK").is_some();
    let (sizes, reps): (&[usize], usize) = if quick {
        (&[100, 1_000], 3)
    } else {
        (&[100, 1_000, 10_000], 7)
    };
    println!(
        "machine: {} cores; {} repetitions, medians\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        reps
    );
    if std::env::var("PROMOTE_BENCH_ONLY").as_deref() == Ok("apps") {
        apps_table(sizes, reps);
        return;
    }
    let peers = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers");
    let ruamel = ensure_ruamel();
    println!(
        "| N | plan | apply --dry-run | peak RSS | per component | floor (parse once) | plan in-process | plan/floor | ruamel.yaml | ratio | bytes outside spans | cp+sed | ratio | bytes outside spans |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for &n in sizes {
        // The ruamel.yaml peer takes over a minute a run at 10,000: fewer repetitions there.
        let reps = if n >= 10_000 { reps.min(3) } else { reps };
        let base = tempfile::tempdir().expect("tmp");
        generate(base.path(), n);
        let dir = base.path().to_str().expect("utf8").to_string();
        let plan_t = time_cmd(reps, || {
            let mut c = Command::new(BIN);
            c.args(["plan", "-C", &dir, "--force", "--format", "json"]);
            c
        });
        let apply_t = time_cmd(reps, || {
            let mut c = Command::new(BIN);
            c.args(["apply", "-C", &dir, "--force", "--dry-run"]);
            c
        });
        let rss = peak_rss(&["plan", "-C", &dir, "--force"]);
        let (floor, inproc) = in_process(base.path(), reps);
        // promote's own result is the reference: only version spans differ from the input.
        let expected = tempfile::tempdir().expect("tmp");
        copy_dir(base.path(), expected.path());
        let out = Command::new(BIN)
            .args([
                "apply",
                "-C",
                expected.path().to_str().expect("utf8"),
                "--force",
            ])
            .output()
            .expect("apply");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (ruamel_t, ruamel_b) = if ruamel {
            peer(
                base.path(),
                expected.path(),
                reps,
                "python3",
                &peers.join("ruamel_promote.py"),
            )
        } else {
            (Duration::ZERO, 0)
        };
        let (sed_t, sed_b) = peer(
            base.path(),
            expected.path(),
            reps,
            "bash",
            &peers.join("sed_promote.sh"),
        );
        let ratio = |t: Duration| format!("{:.1}x", t.as_secs_f64() / plan_t.as_secs_f64());
        println!(
            "| {n} | {} | {} | {rss} | {:.1} µs | {} | {} | {:.2} | {} | {} | {ruamel_b} | {} | {} | {sed_b} |",
            ms(plan_t),
            ms(apply_t),
            plan_t.as_secs_f64() * 1e6 / n as f64,
            ms(floor),
            ms(inproc),
            inproc.as_secs_f64() / floor.as_secs_f64(),
            if ruamel { ms(ruamel_t) } else { "n/a".into() },
            if ruamel {
                ratio(ruamel_t)
            } else {
                "n/a".into()
            },
            ms(sed_t),
            ratio(sed_t),
        );
    }
    apps_table(sizes, reps);
    let cold = time_cmd(20, || {
        let mut c = Command::new(BIN);
        c.arg("--version");
        c
    });
    println!(
        "\ncold start `promote --version`: {} (median of 20)",
        ms(cold)
    );
}
