//! Reading a repository at a revision without checking it out; changed paths, ancestry, safety.

use promote::repo::{Files, Repo, WorkTree};

use crate::support::git;

/// A repository with two commits on `main` and a branch `live` at the first one.
fn two_commits() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    git(p, &["init", "-q"]);
    std::fs::create_dir_all(p.join("envs/dev")).expect("mkdir");
    std::fs::write(p.join("envs/dev/versions.env"), "CILIUM=1.18.5\n").expect("write");
    std::fs::write(p.join("README.md"), "hello\n").expect("write");
    git(p, &["add", "-A"]);
    git(p, &["commit", "-qm", "first"]);
    let first = git(p, &["rev-parse", "HEAD"]).trim().to_string();
    git(p, &["branch", "live"]);
    std::fs::write(p.join("envs/dev/versions.env"), "CILIUM=1.18.6\n").expect("write");
    git(p, &["commit", "-qam", "bump"]);
    let second = git(p, &["rev-parse", "HEAD"]).trim().to_string();
    (dir, first, second)
}

#[test]
fn reads_any_revision_without_checking_it_out() {
    let (dir, first, second) = two_commits();
    let repo = Repo::open(dir.path()).expect("open");
    assert_eq!(repo.head_sha().expect("head"), second);
    assert_eq!(repo.resolve("live").expect("branch"), first);
    assert_eq!(repo.resolve(&first[..10]).expect("short sha"), first);
    let at = |rev: &str| {
        repo.at(rev)
            .expect("rev")
            .read("envs/dev/versions.env")
            .expect("read")
    };
    assert_eq!(at("live").as_deref(), Some(&b"CILIUM=1.18.5\n"[..]));
    assert_eq!(at("HEAD").as_deref(), Some(&b"CILIUM=1.18.6\n"[..]));
    assert_eq!(
        repo.at("HEAD")
            .expect("rev")
            .read("nope.env")
            .expect("read"),
        None
    );
    let err = repo.resolve("no-such-branch").expect_err("unknown");
    assert!(
        err.to_string()
            .starts_with("revision `no-such-branch` not found"),
        "{err}"
    );
    // The working tree was never touched.
    assert_eq!(git(dir.path(), &["status", "--porcelain"]), "");
}

#[test]
fn changed_paths_ancestry_and_cleanliness() {
    let (dir, first, second) = two_commits();
    let repo = Repo::open(dir.path()).expect("open");
    assert_eq!(
        repo.changed_paths(&first, &second).expect("diff"),
        vec!["envs/dev/versions.env".to_string()]
    );
    assert!(repo.is_ancestor(&first, "main").expect("ancestry"));
    assert!(repo.is_ancestor(&second, "HEAD").expect("ancestry"));
    assert!(!repo.is_ancestor(&second, "live").expect("ancestry"));
    let paths = vec!["envs/dev/versions.env".to_string()];
    assert!(repo.is_clean(&paths).expect("status"));
    std::fs::write(dir.path().join("README.md"), "changed\n").expect("write");
    assert!(
        repo.is_clean(&paths).expect("status"),
        "other files do not count"
    );
    std::fs::write(dir.path().join("envs/dev/versions.env"), "CILIUM=1.19.0\n").expect("write");
    assert!(!repo.is_clean(&paths).expect("status"));
}

#[test]
fn paths_leaving_the_repository_are_refused() {
    let (dir, ..) = two_commits();
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("secret.env"), "TOKEN=x\n").expect("write");
    std::os::unix::fs::symlink(
        outside.path().join("secret.env"),
        dir.path().join("envs/dev/link.env"),
    )
    .expect("symlink");
    let tree = WorkTree::new(dir.path());
    for path in ["../secret.env", "/etc/passwd", "envs/../../x"] {
        let err = tree.read(path).expect_err(path);
        assert!(
            err.to_string().starts_with(&format!("path `{path}`")),
            "{err}"
        );
    }
    let err = tree.read("envs/dev/link.env").expect_err("symlink");
    assert!(
        err.to_string().contains("symlink out of the repository"),
        "{err}"
    );
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-qm", "link"]);
    let repo = Repo::open(dir.path()).expect("open");
    let err = repo
        .at("HEAD")
        .expect("rev")
        .read("envs/dev/link.env")
        .expect_err("symlink in git");
    assert!(err.to_string().contains("is a symlink"), "{err}");
}

/// Files a placeholder path can match: one folder, at any depth, sorted; symlinks left out.
#[test]
fn lists_the_files_below_a_folder_in_the_tree_and_at_a_revision() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    git(p, &["init", "-q"]);
    for f in [
        "apps/live/podinfo/helmrelease.yaml",
        "apps/live/dex/helmrelease.yaml",
        "apps/live/dex/values/extra.yaml",
        "apps/dev/dex/helmrelease.yaml",
        "apps/livex/other.yaml",
    ] {
        std::fs::create_dir_all(p.join(f).parent().expect("parent")).expect("mkdir");
        std::fs::write(p.join(f), "x: 1\n").expect("write");
    }
    #[cfg(unix)]
    std::os::unix::fs::symlink("dex", p.join("apps/live/alias")).expect("symlink");
    git(p, &["add", "-A"]);
    git(p, &["commit", "-qm", "apps"]);
    let want = vec![
        "apps/live/dex/helmrelease.yaml".to_string(),
        "apps/live/dex/values/extra.yaml".to_string(),
        "apps/live/podinfo/helmrelease.yaml".to_string(),
    ];
    let tree = WorkTree::new(p);
    assert_eq!(tree.list("apps/live").expect("list"), want);
    assert_eq!(tree.list("apps/live/").expect("list"), want);
    assert_eq!(
        tree.list("apps/qa").expect("missing folder"),
        Vec::<String>::new()
    );
    assert!(tree.list("../elsewhere").is_err());
    let all = tree.list("").expect("root");
    assert!(all.iter().all(|f| !f.starts_with(".git/")), "{all:?}");
    assert_eq!(all.len(), 5, "{all:?}");
    let repo = Repo::open(p).expect("open");
    let head = repo.at("HEAD").expect("head");
    assert_eq!(head.list("apps/live").expect("list"), want);
    assert_eq!(head.list("apps/qa").expect("missing"), Vec::<String>::new());
    assert_eq!(
        head.list("apps/live/dex/helmrelease.yaml").expect("a file"),
        Vec::<String>::new()
    );
    assert_eq!(head.list("").expect("root").len(), 5);
}

/// The working tree is named after `HEAD` only while the files a placeholder path matches are
/// unchanged: a changed file under the pattern's folder counts.
#[test]
fn a_changed_file_below_a_folder_is_not_clean() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    git(p, &["init", "-q"]);
    std::fs::create_dir_all(p.join("apps/live/dex")).expect("mkdir");
    std::fs::write(p.join("apps/live/dex/hr.yaml"), "x: 1\n").expect("write");
    std::fs::write(p.join("other.yaml"), "x: 1\n").expect("write");
    git(p, &["add", "-A"]);
    git(p, &["commit", "-qm", "apps"]);
    let repo = Repo::open(p).expect("open");
    let live = ["apps/live".to_string()];
    assert!(repo.is_clean(&live).expect("clean"));
    std::fs::write(p.join("other.yaml"), "x: 2\n").expect("write");
    assert!(repo.is_clean(&live).expect("elsewhere"));
    std::fs::write(p.join("apps/live/dex/hr.yaml"), "x: 2\n").expect("write");
    assert!(!repo.is_clean(&live).expect("changed"));
    assert!(!repo.is_clean(&[String::new()]).expect("the root folder"));
    assert!(
        repo.is_clean(&["apps/liv".to_string()])
            .expect("not a prefix of names")
    );
}

/// The binary links no OpenSSL: loading and relocating `libssl` and `libcrypto` cost every
/// process about a millisecond of CPU before it read a file, and git's HTTP remotes go through
/// promote's own client instead (`forge::git_http`); nor zlib, which is built in. Read off the
/// loader's own list (`ldd`).
#[cfg(target_os = "linux")]
#[test]
#[allow(clippy::unwrap_used)]
fn the_binary_links_no_openssl_and_no_zlib() {
    let out = std::process::Command::new("ldd")
        .arg(env!("CARGO_BIN_EXE_promote"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let libs = String::from_utf8(out.stdout).unwrap();
    // Positive control: the list is the loader's, with the C library in it.
    assert!(libs.contains("libc.so"), "{libs}");
    assert!(
        !libs.contains("libssl") && !libs.contains("libcrypto"),
        "{libs}"
    );
    // zlib is built in (libz-sys `static`): one library fewer to load at every start.
    assert!(!libs.contains("libz"), "{libs}");
}

/// No command loads a CA bundle through libgit2 (OpenSSL's set-up of it cost about 30 ms a
/// command): libgit2 has no TLS of its own, its HTTP remotes go through promote's client
/// (`forge::git_http`). With `SSL_CERT_FILE` a FIFO nobody writes, loading it would block for
/// ever; `plan`, `check` and `versions` inside a git repository finish.
#[cfg(unix)]
#[test]
#[allow(clippy::unwrap_used)]
fn local_commands_in_a_git_repository_load_no_ca_bundle() {
    use std::time::{Duration, Instant};
    let repo = crate::support::example_repo("kustomize-overlays");
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("ca-bundle.pem");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    for args in [&["plan"][..], &["check"], &["versions"]] {
        let mut child = crate::support::promote_cmd()
            .args(args)
            .current_dir(repo.path())
            .env("SSL_CERT_FILE", &fifo)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                child.kill().unwrap();
                child.wait().unwrap();
                panic!("`promote {}` blocked on the CA bundle", args.join(" "));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "promote {args:?}: {status}");
    }
}

/// A folder on the path that is a symlink out of the repository is refused for every file
/// below it, however many files of the tree were resolved before (folders' answers are kept).
#[test]
fn files_below_a_symlinked_folder_out_of_the_repository_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("outside");
    std::fs::write(outside.path().join("a.env"), "A=1\n").expect("write");
    std::fs::write(outside.path().join("b.env"), "B=1\n").expect("write");
    std::fs::create_dir_all(dir.path().join("envs/dev")).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("envs/in")).expect("mkdir");
    std::fs::write(dir.path().join("envs/dev/versions.env"), "C=1\n").expect("write");
    std::fs::write(dir.path().join("envs/in/x.env"), "X=1\n").expect("write");
    std::os::unix::fs::symlink(outside.path(), dir.path().join("envs/out")).expect("symlink");
    std::os::unix::fs::symlink(dir.path().join("envs/in"), dir.path().join("envs/inner"))
        .expect("symlink");
    let tree = WorkTree::new(dir.path());
    assert!(tree.read("envs/dev/versions.env").expect("read").is_some());
    for path in ["envs/out/a.env", "envs/out/b.env", "envs/out/a.env"] {
        let err = tree.read(path).expect_err(path);
        assert!(
            err.to_string().contains("symlink out of the repository"),
            "{path}: {err}"
        );
    }
    // A symlinked folder that stays inside is fine.
    assert_eq!(
        tree.read("envs/inner/x.env").expect("read").as_deref(),
        Some(&b"X=1\n"[..])
    );
    assert!(tree.read("envs/dev/versions.env").expect("read").is_some());
}

/// In the working tree a pattern is walked (a literal segment looked up, not listed): it finds
/// exactly what a listing of its folder, filtered by the pattern, finds — regular files, no
/// symlink, nothing in a `.git` folder — for placeholders, literals after them and `**`.
#[cfg(unix)]
#[test]
fn a_walked_pattern_finds_what_the_filtered_listing_finds() {
    use promote::config::PathPattern;
    let dir = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("outside");
    std::fs::write(outside.path().join("helmrelease.yaml"), "x: 1\n").expect("write");
    let p = dir.path();
    for f in [
        "apps/live/podinfo/helmrelease.yaml",
        "apps/live/podinfo/ks.yaml",
        "apps/live/dex/helmrelease.yaml",
        "apps/live/dex/values/extra.yaml",
        "apps/live/app-dex/helmrelease.yaml",
        "apps/live/.git/helmrelease.yaml",
        "apps/live/nested/deeper/helmrelease.yaml",
        "apps/live/folder/helmrelease.yaml/x.yaml",
        "apps/live/a.yaml",
        "apps/dev/dex/helmrelease.yaml",
    ] {
        std::fs::create_dir_all(p.join(f).parent().expect("parent")).expect("mkdir");
        std::fs::write(p.join(f), "x: 1\n").expect("write");
    }
    let link = |to: &std::path::Path, at: &str| {
        std::os::unix::fs::symlink(to, p.join(at)).expect("symlink");
    };
    link(&p.join("apps/live/dex"), "apps/live/alias");
    link(outside.path(), "apps/live/out");
    std::fs::create_dir_all(p.join("apps/live/linked")).expect("mkdir");
    link(
        &outside.path().join("helmrelease.yaml"),
        "apps/live/linked/helmrelease.yaml",
    );
    let tree = WorkTree::new(p);
    for pattern in [
        "apps/live/{app}/helmrelease.yaml",
        "apps/live/app-{app}/helmrelease.yaml",
        "apps/{env}/{app}/helmrelease.yaml",
        "apps/live/{app}/values/{file}",
        "apps/live/{file}",
        "apps/live/{app}.yaml",
        "apps/live/{app}/../dex/helmrelease.yaml",
        "apps/live/**/helmrelease.yaml",
        "apps/**/{file}",
        "{top}/live/dex/helmrelease.yaml",
        "apps/qa/{app}/helmrelease.yaml",
    ] {
        let pattern = PathPattern::parse(pattern).expect("pattern");
        let listed: Vec<_> = tree
            .list(&pattern.folder())
            .expect("list")
            .into_iter()
            .filter_map(|path| pattern.matches(&path).map(|c| (path, c)))
            .collect();
        let walked = promote::repo::matching(&tree, &pattern).expect("walk");
        assert_eq!(walked, listed, "{}", pattern.as_str());
        assert!(
            walked.iter().all(|(path, _)| !path.contains("alias")
                && !path.contains("out/")
                && !path.contains("linked")
                && !path.contains(".git/")),
            "{walked:?}"
        );
    }
    let found = promote::repo::matching(
        &tree,
        &PathPattern::parse("apps/live/{app}/helmrelease.yaml").expect("pattern"),
    )
    .expect("walk");
    let names: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        names,
        [
            "apps/live/app-dex/helmrelease.yaml",
            "apps/live/dex/helmrelease.yaml",
            "apps/live/podinfo/helmrelease.yaml"
        ]
    );
}

/// What a walk found is read without resolving it again, but a symlink out of the repository
/// next to it (a file, or a folder on the way) is still refused, before and after the walk.
#[cfg(unix)]
#[test]
fn a_walk_leaves_symlinks_out_of_the_repository_refused() {
    use promote::config::PathPattern;
    let dir = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("outside");
    std::fs::write(outside.path().join("helmrelease.yaml"), "secret: 1\n").expect("write");
    let p = dir.path();
    std::fs::create_dir_all(p.join("apps/live/dex")).expect("mkdir");
    std::fs::create_dir_all(p.join("apps/live/evil")).expect("mkdir");
    std::fs::write(p.join("apps/live/dex/helmrelease.yaml"), "x: 1\n").expect("write");
    std::os::unix::fs::symlink(
        outside.path().join("helmrelease.yaml"),
        p.join("apps/live/evil/helmrelease.yaml"),
    )
    .expect("symlink");
    std::os::unix::fs::symlink(outside.path(), p.join("apps/live/out")).expect("symlink");
    std::os::unix::fs::symlink(outside.path(), p.join("apps/elsewhere")).expect("symlink");
    let tree = WorkTree::new(p);
    let refused = |tree: &WorkTree| {
        for path in [
            "apps/live/evil/helmrelease.yaml",
            "apps/live/out/helmrelease.yaml",
            "apps/elsewhere/helmrelease.yaml",
        ] {
            let err = tree.read(path).expect_err(path);
            assert!(
                err.to_string().contains("symlink out of the repository"),
                "{path}: {err}"
            );
        }
    };
    refused(&tree);
    for pattern in [
        "apps/live/{app}/helmrelease.yaml",
        "apps/{env}/{app}/helmrelease.yaml",
        "apps/**/helmrelease.yaml",
        "apps/{file}",
    ] {
        let pattern = PathPattern::parse(pattern).expect("pattern");
        let found = promote::repo::matching(&tree, &pattern).expect("walk");
        let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
        assert!(
            paths.iter().all(|p| *p == "apps/live/dex/helmrelease.yaml"),
            "{}: {paths:?}",
            pattern.as_str()
        );
    }
    assert!(tree.list("apps").expect("list").len() == 1);
    refused(&tree);
    assert_eq!(
        tree.read("apps/live/dex/helmrelease.yaml")
            .expect("read")
            .as_deref(),
        Some(&b"x: 1\n"[..])
    );
    // A pattern whose folder is a symlink out of the repository is refused as a listing is.
    let pattern = PathPattern::parse("apps/elsewhere/{app}").expect("pattern");
    let err = promote::repo::matching(&tree, &pattern).expect_err("out");
    assert!(
        err.to_string().contains("symlink out of the repository"),
        "{err}"
    );
}

/// A file read after the walk that found it reads whole, however it changed since.
#[test]
fn a_walked_file_that_changed_since_reads_whole() {
    use promote::config::PathPattern;
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    std::fs::create_dir_all(p.join("apps/dex")).expect("mkdir");
    std::fs::write(p.join("apps/dex/hr.yaml"), "x: 1\n").expect("write");
    let tree = WorkTree::new(p);
    let pattern = PathPattern::parse("apps/{app}/hr.yaml").expect("pattern");
    assert_eq!(
        promote::repo::matching(&tree, &pattern)
            .expect("walk")
            .len(),
        1
    );
    let long = "x: 1\n".repeat(1000);
    std::fs::write(p.join("apps/dex/hr.yaml"), &long).expect("write");
    assert_eq!(
        tree.read("apps/dex/hr.yaml").expect("read").as_deref(),
        Some(long.as_bytes())
    );
    std::fs::write(p.join("apps/dex/hr.yaml"), "").expect("write");
    assert_eq!(
        tree.read("apps/dex/hr.yaml").expect("read").as_deref(),
        Some(&b""[..])
    );
    std::fs::remove_file(p.join("apps/dex/hr.yaml")).expect("rm");
    assert_eq!(tree.read("apps/dex/hr.yaml").expect("gone"), None);
}

/// A file the walk found is handed on to be read later (a plan of thousands of app files holds
/// one at a time), and that read gives what `read` gives: the bytes as they are then, `None`
/// once it is gone. A path the walk did not find is read now (`None` to defer).
#[test]
fn a_walked_file_can_be_read_later_as_read_reads_it() {
    use promote::config::PathPattern;
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    std::fs::create_dir_all(p.join("apps/dex")).expect("mkdir");
    std::fs::write(p.join("apps/dex/hr.yaml"), "x: 1\n").expect("write");
    std::fs::write(p.join("top.yaml"), "y: 2\n").expect("write");
    let tree = WorkTree::new(p);
    // Control: nothing walked yet, so nothing is deferred.
    assert!(tree.read_later("apps/dex/hr.yaml").is_none());
    let pattern = PathPattern::parse("apps/{app}/hr.yaml").expect("pattern");
    promote::repo::matching(&tree, &pattern).expect("walk");
    assert!(tree.read_later("top.yaml").is_none(), "not walked");
    let later = tree.read_later("apps/dex/hr.yaml").expect("walked");
    assert_eq!(later.size(), 5);
    assert_eq!(later.read().expect("read").as_deref(), Some(&b"x: 1\n"[..]));
    // Read whole however it grew, and `None` once removed.
    let long = "x: 1\n".repeat(1000);
    std::fs::write(p.join("apps/dex/hr.yaml"), &long).expect("write");
    let later = tree.read_later("apps/dex/hr.yaml").expect("walked");
    assert_eq!(
        later.read().expect("read").as_deref(),
        Some(long.as_bytes())
    );
    let later = tree.read_later("apps/dex/hr.yaml").expect("walked");
    std::fs::remove_file(p.join("apps/dex/hr.yaml")).expect("rm");
    assert_eq!(later.read().expect("gone"), None);
    // A folder where the file was is an error that names it, as `read` gives it.
    std::fs::create_dir_all(p.join("apps/dex/hr.yaml")).expect("mkdir");
    let err = tree
        .read_later("apps/dex/hr.yaml")
        .expect("walked")
        .read()
        .expect_err("a folder");
    let read_err = tree.read("apps/dex/hr.yaml").expect_err("a folder");
    assert_eq!(err.to_string(), read_err.to_string());
    assert!(err.to_string().contains("apps/dex/hr.yaml"), "{err}");
}
