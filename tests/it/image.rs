//! The action's image, started the way GitHub's runner starts a Docker action, running the seed-002
//! status flow against the fake GitHub on the host. Needs a Docker engine and `PROMOTE_IMAGE`:
//! `.ci/image-test` builds the image and runs this (`--run-ignored only`).

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::action_e2e::{TOKEN, seed, workspace_for};
use crate::fake_github::FakeGitHub;

fn docker() -> Command {
    Command::new("docker")
}

#[test]
#[ignore = "needs a Docker engine and PROMOTE_IMAGE; run by .ci/image-test"]
fn the_image_runs_the_seed_002_status_flow_as_the_runner_starts_it() {
    let image = std::env::var("PROMOTE_IMAGE").expect("PROMOTE_IMAGE names the image to test");
    let gh = FakeGitHub::start("acme/homelab");
    let charts = "kubernetes/clusters/integration/helm-charts.yaml";
    let live = "kubernetes/clusters/live/helm-charts.yaml";
    seed(&gh, "main", "flux-terragrunt", &[]);
    let reported = seed(
        &gh,
        "main",
        "flux-terragrunt",
        &[(charts, "version: \"1.18.6\"", "version: \"1.18.7\"")],
    );
    gh.add_status(
        &reported,
        "kustomization/cilium/integration",
        "success",
        "flux-bot",
    );
    let live_before = gh.file("main", live).expect("live");

    // The runner's layout: the workspace (owned by the runner's user, uid 1001), the home, the
    // file commands and the event, each mounted into the container.
    let ws = workspace_for("flux-terragrunt");
    let dirs = tempfile::tempdir().expect("dirs");
    let (home, commands, workflow) = (
        dirs.path().join("home"),
        dirs.path().join("file_commands"),
        dirs.path().join("workflow"),
    );
    for d in [&home, &commands, &workflow] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    let payload = json!({
        "sha": reported, "state": "success", "context": "kustomization/cilium/integration",
        "branches": [{"name": "main"}], "sender": {"login": "flux-bot"}
    });
    std::fs::write(workflow.join("event.json"), payload.to_string()).expect("event");
    std::fs::write(commands.join("set_output_1"), "").expect("output");
    std::fs::write(commands.join("step_summary_1"), "").expect("summary");
    let chown = Command::new("chown")
        .args(["-R", "1001:1001"])
        .arg(ws.path())
        .status()
        .expect("chown");
    assert!(chown.success());

    let mount = |from: &Path, to: &str| format!("{}:{to}", from.display());
    let out = docker()
        .args(["run", "--rm", "--network", "host"])
        .args(["--workdir", "/github/workspace"])
        .args(["-v", &mount(ws.path(), "/github/workspace")])
        .args(["-v", &mount(&home, "/github/home")])
        .args(["-v", &mount(&commands, "/github/file_commands")])
        .args(["-v", &mount(&workflow, "/github/workflow")])
        .args(["-e", "HOME=/github/home"])
        .args(["-e", "GITHUB_ACTIONS=true"])
        .args(["-e", "CI=true"])
        .args(["-e", "GITHUB_EVENT_NAME=status"])
        .args(["-e", "GITHUB_EVENT_PATH=/github/workflow/event.json"])
        .args(["-e", "GITHUB_WORKSPACE=/github/workspace"])
        .args(["-e", "GITHUB_REPOSITORY=acme/homelab"])
        .args(["-e", &format!("GITHUB_API_URL={}", gh.url())])
        .args(["-e", &format!("GITHUB_GRAPHQL_URL={}/graphql", gh.url())])
        .args(["-e", "GITHUB_OUTPUT=/github/file_commands/set_output_1"])
        .args([
            "-e",
            "GITHUB_STEP_SUMMARY=/github/file_commands/step_summary_1",
        ])
        // Every input arrives, hyphens kept, empty when not given.
        .args(["-e", &format!("INPUT_TOKEN={TOKEN}")])
        .args(["-e", "INPUT_CONFIG=.github/promote.toml"])
        .args(["-e", "INPUT_DRY-RUN="])
        .args(["-e", "INPUT_COMMIT-MODE="])
        .args(["-e", "INPUT_FORCE="])
        .args(["-e", "INPUT_COMPONENTS="])
        .arg(&image)
        .arg("run")
        .output()
        .expect("docker run");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("::add-mask::{TOKEN}")), "{stdout}");
    assert!(!stderr.contains(TOKEN), "the token never shows: {stderr}");
    let outputs = std::fs::read_to_string(commands.join("set_output_1")).expect("outputs");
    assert!(outputs.contains("changed=true"), "{outputs}");
    assert_eq!(
        gh.file("main", live).expect("live"),
        live_before.replace("version: \"1.18.5\"", "version: \"1.18.7\""),
        "{stderr}"
    );
    let summary = std::fs::read_to_string(commands.join("step_summary_1")).expect("summary");
    assert!(summary.contains("helm/cilium"), "{summary}");
}
