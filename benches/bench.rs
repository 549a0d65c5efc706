//! `cargo bench --bench bench`: `promote plan` against the parse floor and its peers, each timed
//! as a whole process (release build), on synthetic GitOps repos in dev/integration/live.
//!
//! Cases, N per file (per environment), integration ahead of live on every other component:
//! - `yaml`: one Flux file of N HelmReleases (comments, Renovate annotations), 10k and 30k;
//! - `hcl`: a `terragrunt.stack.hcl` versions map of N entries, 3k (for growth), 10k and 30k;
//! - `apps`: N app folders with one HelmRelease file each, matched by a placeholder path, 1k and
//!   10k (a `ks.yaml` beside each, which the pattern skips);
//! - `dotenv`: a `versions.env` of N pins, 30k.
//!
//! The floor (`floor.rs`, the same binary run with `--floor`) reads and parses each file the
//! plan reads (integration's and live's) once with the bare parser: saphyr-parser events, the
//! hcl-edit body parse, dotenv lines. The plan and the floor run in pairs, back to back, and
//! plan/floor is the median of the pairs' ratios: a slow spell of a shared machine slows both
//! sides of a pair, where timing all plans and then all floors would let it fall on one. The HCL
//! growth is plan at 30k over plan at 3k. Each pair's CPU time (all threads, user and system) is
//! taken too: `plan` parses the two environments on two threads where they are large, the floor
//! on one, so plan/floor of CPU time is the ratio of work done. Peers on the YAML cases, same files: a ruamel.yaml
//! round trip that promotes the versions, Python `yq` reading and writing the file back (a lower
//! bound: it promotes nothing), and seed 002's `cp` of the integration file over live.
//!
//! `PROMOTE_BENCH_QUICK=1`: 5 pairs (and 5 runs of `cp`), no Python peers at 30k; otherwise 9.
//! `cargo bench --bench bench -- dotenv hcl` runs only the cases named (`yaml`, `hcl`, `apps`,
//! `dotenv`); the growth row needs both HCL sizes, so it comes with `hcl`.

mod floor;

/// The floor runs with promote's allocator: the ratio measures promote's work, not malloc's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ENVS: [&str; 3] = ["dev", "integration", "live"];
const BIN: &str = env!("CARGO_BIN_EXE_promote");

fn version(env: &str, i: usize) -> String {
    let patch = usize::from(env != "live" && i.is_multiple_of(2));
    format!("1.{}.{patch}", i % 997)
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn config(root: &Path, source: &str) {
    write(
        &root.join(".github/promote.toml"),
        &format!(
            "environments = [\"dev\", \"integration\", \"live\"]\n\n[[source]]\n{source}\n\n[[promotion]]\nfrom = \"integration\"\nto = \"live\"\n"
        ),
    );
}

fn helm_release(name: &str, i: usize, v: &str) -> String {
    format!(
        "---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: {name}\n  namespace: apps # team {team}\nspec:\n  interval: 30m\n  chart:\n    spec:\n      chart: {name}\n      # renovate: datasource=helm depName={name} registryUrl=https://charts.example.com\n      version: \"{v}\"\n      sourceRef: {{kind: HelmRepository, name: example}}\n  values:\n    replicas: 2\n",
        team = i % 7
    )
}

#[derive(Clone, Copy, PartialEq)]
enum Case {
    Yaml,
    Hcl,
    Apps,
    Dotenv,
}

impl Case {
    fn label(self) -> &'static str {
        match self {
            Case::Yaml => "YAML, one file of N HelmReleases",
            Case::Hcl => "HCL versions map of N entries",
            Case::Apps => "N app files, one HelmRelease each",
            Case::Dotenv => "dotenv, N pins",
        }
    }

    /// The file (or, for apps, folder) of `env`.
    fn path(self, env: &str) -> String {
        match self {
            Case::Yaml => format!("clusters/{env}/helm-charts.yaml"),
            Case::Hcl => format!("stacks/{env}/terragrunt.stack.hcl"),
            Case::Apps => format!("clusters/{env}/apps"),
            Case::Dotenv => format!("pins/{env}/versions.env"),
        }
    }

    /// The name `cargo bench --bench bench -- NAME...` picks cases by.
    fn name(self) -> &'static str {
        match self {
            Case::Yaml => "yaml",
            Case::Hcl => "hcl",
            Case::Apps => "apps",
            Case::Dotenv => "dotenv",
        }
    }

    fn floor_kind(self) -> &'static str {
        match self {
            Case::Yaml | Case::Apps => "yaml",
            Case::Hcl => "hcl",
            Case::Dotenv => "dotenv",
        }
    }

    fn generate(self, root: &Path, n: usize) {
        for env in ENVS {
            let path = root.join(self.path(env));
            match self {
                Case::Yaml => {
                    let mut text = format!("# Helm charts of the `{env}` cluster.\n");
                    for i in 0..n {
                        text.push_str(&helm_release(&format!("chart-{i}"), i, &version(env, i)));
                    }
                    write(&path, &text);
                }
                Case::Hcl => {
                    let mut text = format!(
                        "locals {{\n  name = \"{env}\"\n\n  # Infrastructure versions\n  versions = {{\n"
                    );
                    for i in 0..n {
                        text.push_str(&format!(
                            "    # renovate: datasource=github-releases depName=org/tool-{i}\n    tool_{i} = \"v{}\" // pinned\n",
                            version(env, i)
                        ));
                    }
                    text.push_str("  }\n}\n\nunit \"config\" {\n  source = \"../../units/config\"\n  values = { versions = local.versions }\n}\n");
                    write(&path, &text);
                }
                Case::Apps => {
                    for i in 0..n {
                        let app = path.join(format!("app-{i}"));
                        let name = format!("app-{i}");
                        write(
                            &app.join("helmrelease.yaml"),
                            &helm_release(&name, i, &version(env, i)),
                        );
                        write(
                            &app.join("ks.yaml"),
                            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n",
                        );
                    }
                }
                Case::Dotenv => {
                    let mut text = String::from("# versions pinned per environment\n");
                    for i in 0..n {
                        text.push_str(&format!("TOOL_{i}=v{}\n", version(env, i)));
                    }
                    write(&path, &text);
                }
            }
        }
        config(
            root,
            match self {
                Case::Yaml => "path = \"clusters/{env}/helm-charts.yaml\"\nkind = \"flux\"",
                Case::Hcl => "path = \"stacks/{env}/terragrunt.stack.hcl\"\nkind = \"hcl-map\"",
                Case::Apps => {
                    "path = \"clusters/{env}/apps/{app}/helmrelease.yaml\"\nkind = \"flux\"\ngroup = \"apps\""
                }
                Case::Dotenv => "path = \"pins/{env}/versions.env\"\nkind = \"dotenv\"",
            },
        );
    }
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// CPU time (user + system) used so far by this process's children that were waited for.
#[allow(unsafe_code)]
fn children_cpu() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `getrusage` writes one `rusage` through the pointer, which is valid and aligned
    // for it; on failure (it has none for `RUSAGE_CHILDREN`) the zeroed value stays.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr());
        usage.assume_init()
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// A run's wall time and its CPU time (all its threads, user and system).
#[derive(Clone, Copy)]
struct Took {
    wall: Duration,
    cpu: Duration,
}

/// One run of `cmd`, timed; panics when it fails. Runs one at a time: the children's CPU time
/// before and after is this run's.
fn run_timed(mut cmd: Command) -> Took {
    let cpu = children_cpu();
    let start = Instant::now();
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("spawn");
    let wall = start.elapsed();
    let cpu = children_cpu().saturating_sub(cpu);
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Took { wall, cpu }
}

/// What [`time_pairs`] measured: each side's median wall time, and the medians of the pairs'
/// ratios a/b of wall time and of CPU time.
struct Paired {
    a: Duration,
    b: Duration,
    wall_ratio: f64,
    cpu_ratio: f64,
}

/// `reps` pairs of runs, `a` then `b` back to back, after one warm-up of each: the median of
/// each side and the median of the pairs' ratios a/b.
fn time_pairs(
    reps: usize,
    mut a: impl FnMut() -> Command,
    mut b: impl FnMut() -> Command,
) -> Paired {
    run_timed(a());
    run_timed(b());
    let pairs: Vec<(Took, Took)> = (0..reps)
        .map(|_| (run_timed(a()), run_timed(b())))
        .collect();
    let ratio = |f: fn(&Took) -> Duration| {
        let mut ratios: Vec<f64> = pairs
            .iter()
            .map(|(a, b)| f(a).as_secs_f64() / f(b).as_secs_f64().max(1e-6))
            .collect();
        ratios.sort_by(f64::total_cmp);
        ratios[ratios.len() / 2]
    };
    Paired {
        a: median(pairs.iter().map(|p| p.0.wall).collect()),
        b: median(pairs.iter().map(|p| p.1.wall).collect()),
        wall_ratio: ratio(|t| t.wall),
        cpu_ratio: ratio(|t| t.cpu),
    }
}

/// Median wall time of `reps` runs of the command `make` builds, after one warm-up when `reps` > 1.
fn time_cmd(reps: usize, mut make: impl FnMut() -> Command) -> Duration {
    if reps > 1 {
        run_timed(make());
    }
    median((0..reps).map(|_| run_timed(make()).wall).collect())
}

/// Peak RSS in MiB of one run of `args`, through GNU time when it is installed.
fn peak_rss(args: &[&str]) -> Option<f64> {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .args(args)
        .stdout(Stdio::null())
        .output()
        .ok()?;
    let kb: f64 = String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()?
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Bytes of the plan's input: every file of integration and live it reads.
fn input_bytes(root: &Path, case: Case) -> u64 {
    fn size(p: &Path) -> u64 {
        if p.is_dir() {
            std::fs::read_dir(p)
                .expect("read_dir")
                .map(|e| {
                    let e = e.expect("entry").path();
                    match e.is_dir() {
                        true => size(&e.join("helmrelease.yaml")),
                        false => 0,
                    }
                })
                .sum()
        } else {
            std::fs::metadata(p).map_or(0, |m| m.len())
        }
    }
    ["integration", "live"]
        .iter()
        .map(|env| size(&root.join(case.path(env))))
        .sum()
}

fn ok(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn ensure_ruamel() -> bool {
    ok(Command::new("python3").args(["-c", "import ruamel.yaml"]))
        || ok(Command::new("python3").args(["-m", "pip", "install", "--quiet", "ruamel.yaml"]))
}

fn ensure_yq() -> bool {
    let has = || ok(Command::new("yq").args(["--version"])) && ok(&mut Command::new("jq"));
    has() || (ok(Command::new("python3").args(["-m", "pip", "install", "--quiet", "yq"])) && has())
}

struct Row {
    case: Case,
    n: usize,
    plan: Duration,
    floor: Duration,
    /// The median of the paired runs' plan/floor ratios, of wall time and of CPU time.
    ratio: f64,
    cpu_ratio: f64,
    rss: Option<f64>,
    input: u64,
    peers: Vec<(&'static str, Duration)>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--floor") {
        floor::run(&args[1..]);
        return;
    }
    let quick = std::env::var_os("PROMOTE_BENCH_QUICK").is_some();
    let reps = if quick { 5 } else { 9 };
    let me = std::env::current_exe().expect("bench binary");
    let peers_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers");
    let (ruamel, yq) = (ensure_ruamel(), ensure_yq());
    let cases: &[(Case, usize)] = &[
        (Case::Yaml, 10_000),
        (Case::Yaml, 30_000),
        (Case::Hcl, 3_000),
        (Case::Hcl, 10_000),
        (Case::Hcl, 30_000),
        (Case::Apps, 1_000),
        (Case::Apps, 10_000),
        (Case::Dotenv, 30_000),
    ];
    // `cargo bench` hands a harness-less bench `--bench`; any other word names the cases to run
    // (`yaml`, `hcl`, `apps`, `dotenv`), none runs them all.
    let only: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if let Some(unknown) = only
        .iter()
        .find(|a| !cases.iter().any(|(c, _)| c.name() == **a))
    {
        eprintln!("unknown case `{unknown}`: yaml, hcl, apps or dotenv");
        std::process::exit(2);
    }
    let mut rows = Vec::new();
    for &(case, n) in cases
        .iter()
        .filter(|(c, _)| only.is_empty() || only.contains(&c.name()))
    {
        let base = tempfile::tempdir().expect("tmp");
        let root = base.path();
        case.generate(root, n);
        let dir = root.to_str().expect("utf-8").to_string();
        let floor_args: Vec<String> = ["integration", "live"]
            .iter()
            .map(|env| {
                root.join(case.path(env))
                    .to_str()
                    .expect("utf-8")
                    .to_string()
            })
            .collect();
        let Paired {
            a: plan,
            b: floor,
            wall_ratio: ratio,
            cpu_ratio,
        } = time_pairs(
            reps,
            || {
                let mut c = Command::new(BIN);
                c.args(["plan", "-C", &dir, "--force"]);
                c
            },
            || {
                let mut c = Command::new(&me);
                c.arg("--floor").arg(case.floor_kind()).args(&floor_args);
                c
            },
        );
        let rss = peak_rss(&[BIN, "plan", "-C", &dir, "--force"]);
        let mut peers = Vec::new();
        if case == Case::Yaml {
            let (src, dst) = (&floor_args[0], &floor_args[1]);
            let scratch = root.join("peer.yaml");
            let fresh = || std::fs::copy(dst, &scratch).expect("copy");
            let scratch_s = scratch.to_str().expect("utf-8").to_string();
            if ruamel && (!quick || n <= 10_000) {
                // Minutes a run at these sizes: one counted run.
                peers.push((
                    "ruamel.yaml round trip",
                    time_cmd(1, || {
                        fresh();
                        let mut c = Command::new("python3");
                        c.arg(peers_dir.join("ruamel_yaml_promote.py"))
                            .args([src, &scratch_s]);
                        c
                    }),
                ));
            }
            if yq && (!quick || n <= 10_000) {
                peers.push((
                    "Python yq read + write back",
                    time_cmd(1, || {
                        let mut c = Command::new("sh");
                        c.args(["-c", "yq -y . \"$1\" > \"$2\"", "yq", dst, &scratch_s]);
                        c
                    }),
                ));
            }
            peers.push((
                "seed 002 cp",
                time_cmd(reps, || {
                    let mut c = Command::new("cp");
                    c.args([src, &scratch_s]);
                    c
                }),
            ));
        }
        let row = Row {
            case,
            n,
            plan,
            floor,
            ratio,
            cpu_ratio,
            rss,
            input: input_bytes(root, case),
            peers,
        };
        eprintln!(
            "{} N={n}: plan {} floor {}",
            case.label(),
            ms(row.plan),
            ms(row.floor)
        );
        rows.push(row);
    }
    println!(
        "machine: {} cores; plan and floor: medians of {reps} pairs of runs after a warm-up, plan / floor the median of the pairs' ratios of wall time, and of CPU time (every thread, user and system) (peers other than cp: 1 run, no warm-up); release build\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "| case | N | `promote plan` | floor: read + parse each file once | plan / floor | plan / floor, CPU time | peak RSS | input (integration + live) | RSS / input |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let mib = r.input as f64 / (1024.0 * 1024.0);
        println!(
            "| {} | {} | {} | {} | {:.2} | {:.2} | {} | {mib:.1} MiB | {} |",
            r.case.label(),
            r.n,
            ms(r.plan),
            ms(r.floor),
            r.ratio,
            r.cpu_ratio,
            r.rss.map_or("n/a".into(), |m| format!("{m:.1} MiB")),
            r.rss.map_or("n/a".into(), |m| format!("{:.1}", m / mib)),
        );
    }
    let hcl = |n| {
        rows.iter()
            .find(|r| r.case == Case::Hcl && r.n == n)
            .map(|r| r.plan.as_secs_f64())
    };
    if let (Some(small), Some(large)) = (hcl(3_000), hcl(30_000)) {
        println!(
            "\nHCL growth, 3,000 -> 30,000 entries (10x): {:.1}x",
            large / small
        );
    }
    println!("\n| peer (YAML cases) | N | time | vs `promote plan` |");
    println!("|---|---|---|---|");
    for r in rows.iter().filter(|r| !r.peers.is_empty()) {
        for (name, t) in &r.peers {
            println!(
                "| {name} | {} | {} | {:.2}x |",
                r.n,
                ms(*t),
                t.as_secs_f64() / r.plan.as_secs_f64()
            );
        }
    }
}
