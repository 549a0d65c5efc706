//! `.ci/release-tag`, the release's tag and `image:` rewrite, replayed on a scratch repository
//! with a bare remote.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{git, isolate_git};

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

struct Scratch {
    _dir: tempfile::TempDir,
    work: PathBuf,
    remote: PathBuf,
}

/// A repository holding this project's `action.yml`, pushed to a bare `origin`.
fn scratch() -> Scratch {
    let dir = tempfile::tempdir().expect("tmp");
    let (work, remote) = (dir.path().join("work"), dir.path().join("origin.git"));
    std::fs::create_dir_all(&work).expect("mkdir");
    git(
        dir.path(),
        &["init", "-q", "--bare", "-b", "main", "origin.git"],
    );
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml"),
        work.join("action.yml"),
    )
    .expect("action.yml");
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-qm", "main"]);
    git(
        &work,
        &["remote", "add", "origin", remote.to_str().expect("utf8")],
    );
    git(&work, &["push", "-q", "origin", "main"]);
    Scratch {
        _dir: dir,
        work,
        remote,
    }
}

fn release(work: &Path, version: &str, image: &str) -> (bool, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/release-tag");
    let mut cmd = Command::new("bash");
    cmd.arg(script)
        .args([version, image, DIGEST])
        .current_dir(work);
    isolate_git(&mut cmd);
    let out = cmd.output().expect("bash");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn rev(dir: &Path, name: &str) -> String {
    git(dir, &["rev-parse", name]).trim().to_string()
}

#[test]
fn a_release_pins_the_image_by_digest_tags_a_branch_commit_and_moves_the_major() {
    let s = scratch();
    let (ok, out) = release(&s.work, "v1.2.3", "ghcr.io/Acme/Promote");
    assert!(ok, "{out}");
    // On the remote: the version tag, on a commit of `release/v1.2.3`, and `v1` with it.
    let tagged = rev(&s.remote, "refs/tags/v1.2.3");
    assert_eq!(rev(&s.remote, "refs/tags/v1"), tagged);
    assert_eq!(rev(&s.remote, "refs/heads/release/v1.2.3"), tagged);
    let action = git(&s.remote, &["show", "v1.2.3:action.yml"]);
    assert!(
        action.contains(&format!(
            "\n  image: docker://ghcr.io/acme/promote@{DIGEST}\n"
        )),
        "digest-pinned, lowercase: {action}"
    );
    assert!(!action.contains("image: Dockerfile"));
    assert!(
        git(&s.remote, &["show", "main:action.yml"]).contains("image: Dockerfile"),
        "main keeps building from the Dockerfile"
    );

    // A pre-release is tagged, and leaves `v1` where it was.
    git(&s.work, &["checkout", "-q", "main"]);
    let (ok, out) = release(&s.work, "v1.3.0-rc.1", "ghcr.io/acme/promote");
    assert!(ok, "{out}");
    assert!(out.contains("v1 left alone"), "{out}");
    assert_eq!(rev(&s.remote, "refs/tags/v1"), tagged);
    assert_ne!(rev(&s.remote, "refs/tags/v1.3.0-rc.1"), tagged);

    // The next release moves `v1`.
    git(&s.work, &["checkout", "-q", "main"]);
    let (ok, out) = release(&s.work, "v1.3.0", "ghcr.io/acme/promote");
    assert!(ok, "{out}");
    assert_eq!(
        rev(&s.remote, "refs/tags/v1"),
        rev(&s.remote, "refs/tags/v1.3.0")
    );
    assert_eq!(
        rev(&s.remote, "refs/tags/v1.2.3"),
        tagged,
        "a version never moves"
    );
}

#[test]
fn a_release_refuses_an_existing_version_and_bad_inputs() {
    let s = scratch();
    let (ok, out) = release(&s.work, "v2.0.0", "ghcr.io/acme/promote");
    assert!(ok, "{out}");
    let tagged = rev(&s.remote, "refs/tags/v2.0.0");
    git(&s.work, &["checkout", "-q", "main"]);
    for (version, image, want) in [
        ("v2.0.0", "ghcr.io/acme/promote", "exists already"),
        ("2.0.1", "ghcr.io/acme/promote", "VERSION must be"),
        ("v2.0.1", "ghcr.io/acme/promote:v2", "IMAGE must be"),
    ] {
        let (ok, out) = release(&s.work, version, image);
        assert!(!ok, "{version} {image}: {out}");
        assert!(out.contains(want), "{version} {image}: {out}");
    }
    assert_eq!(rev(&s.remote, "refs/tags/v2.0.0"), tagged);
    assert_eq!(rev(&s.remote, "refs/tags/v2"), tagged);
}

#[test]
fn the_sbom_lists_the_crates_and_the_packages_of_the_copied_libraries() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("tmp");
    let rootfs = dir.path().join("rootfs");
    let status = Command::new("bash")
        .arg(root.join(".ci/rootfs"))
        .arg(env!("CARGO_BIN_EXE_promote"))
        .arg(&rootfs)
        .status()
        .expect("rootfs");
    assert!(status.success());
    assert!(rootfs.join("promote").is_file());
    // No CA bundle and no OpenSSL: TLS is rustls with the roots compiled in.
    assert!(!rootfs.join("etc/ssl").exists());
    let libs: Vec<String> = crate::support::snapshot_tree(&rootfs)
        .into_iter()
        .filter_map(|(p, _)| Some(p.file_name()?.to_str()?.to_owned()))
        .collect();
    assert!(libs.iter().any(|l| l.starts_with("libc.so")), "{libs:?}");
    assert!(
        !libs
            .iter()
            .any(|l| l.starts_with("libssl") || l.starts_with("libcrypto")),
        "{libs:?}"
    );
    let out = Command::new("python3")
        .arg(root.join(".ci/sbom"))
        .arg(&rootfs)
        .arg("v9.9.9")
        .output()
        .expect("sbom");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sbom: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(sbom["spdxVersion"], "SPDX-2.3");
    let names: Vec<&str> = sbom["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for want in ["promote", "serde", "git2", "libc6"] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
}
