//! `examples/terragrunt-live` (issue 15): a Terragrunt live repository whose units pin modules by
//! `?ref=`, `tfr://...?version=` and `${local.x}`, a Terraform bootstrap with `module` versions and
//! `locals` pins in `env.hcl`. Plans change exactly the version bytes; a status from stage's CI
//! promotes what applied green to prod.

use serde_json::json;

use crate::action_e2e::{output, run_action, seed, workspace_for};
use crate::fake_github::FakeGitHub;
use crate::support::{example_repo, run_in, snapshot_tree};

const APP: &str = "live/prod/us-east-1/app/terragrunt.hcl";
const VPC: &str = "live/prod/us-east-1/vpc/terragrunt.hcl";
const TALOS: &str = "live/prod/us-east-1/talos/terragrunt.hcl";

/// The bytes `old` and `new` differ in: (start, old part, new part); one region at most.
fn changed_region(old: &[u8], new: &[u8]) -> (usize, String, String) {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let max = old.len().min(new.len()) - prefix;
    let suffix = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(max)
        .take_while(|(a, b)| a == b)
        .count();
    (
        prefix,
        String::from_utf8_lossy(&old[prefix..old.len() - suffix]).into_owned(),
        String::from_utf8_lossy(&new[prefix..new.len() - suffix]).into_owned(),
    )
}

#[test]
fn stage_to_prod_changes_exactly_the_ref_bytes_and_the_local() {
    let repo = example_repo("terragrunt-live");
    let before = snapshot_tree(repo.path());
    let (code, out, err) = run_in(repo.path(), &["plan", "--from", "stage", "--to", "prod"]);
    assert_eq!(code, 0, "{err}");
    for line in [
        "change     us-east-1/app           v0.3.0 -> v0.4.0",
        "change     us-east-1/units/talos   v1.2.0 -> v1.3.0",
        "change     us-east-1/vpc           5.1.0 -> 5.2.0",
        "unchanged  bootstrap/s3-bucket     4.1.2",
        "unchanged  env/kubernetes_version  1.30",
    ] {
        assert!(out.contains(line), "{line}\n{out}");
    }
    let (code, _, err) = run_in(repo.path(), &["apply", "--from", "stage", "--to", "prod"]);
    assert_eq!(code, 0, "{err}");
    let after = snapshot_tree(repo.path());
    let mut changed = Vec::new();
    for ((path, old), (path2, new)) in before.iter().zip(&after) {
        assert_eq!(path, path2);
        if old != new {
            let rel = path
                .strip_prefix(repo.path())
                .expect("rel")
                .to_string_lossy()
                .replace('\\', "/");
            let (at, from, to) = changed_region(old, new);
            let line_start = old[..at]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let line_end = old[at..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(old.len(), |i| at + i + 1);
            let line = String::from_utf8_lossy(&old[line_start..line_end]).into_owned();
            changed.push((rel, from, to, line));
        }
    }
    // Only the version's own bytes: the ref, the registry version, and talos's local (CRLF).
    assert_eq!(
        changed,
        [
            (
                APP.to_string(),
                "3".to_string(),
                "4".to_string(),
                "  source = \"git::git@github.com:acme/modules.git//app?ref=v0.3.0\" # promoted\n"
                    .to_string()
            ),
            (
                TALOS.to_string(),
                "2".to_string(),
                "3".to_string(),
                "  infra_module_version = \"v1.2.0\" /* one pin for the talos unit */\r\n"
                    .to_string()
            ),
            (
                VPC.to_string(),
                "1".to_string(),
                "2".to_string(),
                "  source = \"tfr:///terraform-aws-modules/vpc/aws?version=5.1.0\"\n".to_string()
            ),
        ]
    );
    let (_, out, _) = run_in(repo.path(), &["plan", "--from", "stage", "--to", "prod"]);
    assert!(out.contains("0 to change"), "{out}");
}

#[test]
fn versions_lists_refs_registry_versions_module_versions_and_locals() {
    let repo = example_repo("terragrunt-live");
    let (code, out, err) = run_in(repo.path(), &["versions"]);
    assert_eq!(code, 0, "{err}");
    for line in [
        "us-east-1/app           v0.5.0  v0.4.0  v0.3.0",
        "us-east-1/units/talos   v1.4.0  v1.3.0  v1.2.0",
        "us-east-1/vpc           5.2.0   5.2.0   5.1.0",
        "bootstrap/s3-bucket     4.2.0   4.1.2   4.1.2",
        "env/kubernetes_version  1.31    1.30    1.30",
    ] {
        assert!(out.contains(line), "{line}\n{out}");
    }
    assert!(
        !out.contains("environment") && !out.contains("aws_account_id"),
        "{out}"
    );
    // One file at a time: the kind is told by the name; `--at locals` reads the local instead.
    let (code, out, err) = run_in(repo.path(), &["versions", TALOS, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        json["components"][0],
        json!({"id": "units/talos", "name": "units/talos", "version": "v1.2.0", "file": TALOS, "line": 6, "column": 26})
    );
    let (_, out, _) = run_in(repo.path(), &["versions", TALOS, "--at", "locals"]);
    assert!(out.contains("infra_module_version  v1.2.0"), "{out}");
    assert!(out.contains("cluster_name          prod-talos"), "{out}");
    let (_, out, _) = run_in(repo.path(), &["versions", "bootstrap/prod/main.tf"]);
    assert!(out.contains("s3-bucket  4.1.2"), "{out}");
    let (code, out, err) = run_in(repo.path(), &["check"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "ok: 3 environments, 3 sources, 15 components");
}

fn status(sha: &str, context: &str) -> serde_json::Value {
    json!({
        "sha": sha, "state": "success", "context": context,
        "branches": [{"name": "main"}], "sender": {"login": "acme-ci[bot]"}
    })
}

#[test]
fn a_status_from_stage_promotes_what_applied_green_to_prod() {
    let gh = FakeGitHub::start("acme/homelab");
    let sha = seed(&gh, "main", "terragrunt-live", &[]);
    let files: Vec<(String, String)> = gh
        .state()
        .commits
        .get(&sha)
        .expect("commit")
        .files
        .iter()
        .map(|(p, b)| (p.clone(), String::from_utf8_lossy(b).into_owned()))
        .collect();
    for (context, state) in [
        ("terragrunt/stage/us-east-1/app", "success"),
        ("terragrunt/stage/us-east-1/units/talos", "success"),
        ("terragrunt/stage/us-east-1/vpc", "failure"),
    ] {
        gh.add_status(&sha, context, state, "acme-ci[bot]");
    }
    let ws = workspace_for("terragrunt-live");
    let run = run_action(
        &gh,
        ws.path(),
        "status",
        status(&sha, "terragrunt/stage/us-east-1/units/talos"),
        &[],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(output(&run, "changed"), "true", "{}", run.stderr);
    let promoted = output(&run, "promoted");
    assert!(
        promoted.contains(r#"{"component":"us-east-1/app","from":"v0.3.0","to":"v0.4.0"}"#)
            && promoted
                .contains(r#"{"component":"us-east-1/units/talos","from":"v1.2.0","to":"v1.3.0"}"#),
        "{promoted}"
    );
    let held = output(&run, "held");
    assert!(
        held.contains("us-east-1/vpc") && held.contains("failure"),
        "{held}"
    );
    let text = |path: &str| {
        files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, t)| t.clone())
            .expect("file")
    };
    for (path, text_after) in files.iter().map(|(p, _)| (p, gh.file("main", p))) {
        let want = match path.as_str() {
            APP => text(APP).replace("?ref=v0.3.0\"", "?ref=v0.4.0\""),
            TALOS => text(TALOS).replace(
                "infra_module_version = \"v1.2.0\" /*",
                "infra_module_version = \"v1.3.0\" /*",
            ),
            other => text(other),
        };
        assert_eq!(text_after.as_deref(), Some(want.as_str()), "{path}");
    }
    assert!(
        gh.file("main", TALOS)
            .expect("talos")
            .contains("ref=${local.infra_module_version}\"\r\n")
    );
    // The same event again changes nothing.
    let again = run_action(
        &gh,
        ws.path(),
        "status",
        status(&sha, "terragrunt/stage/us-east-1/units/talos"),
        &[],
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(output(&again, "changed"), "false", "{}", again.stderr);
}
