//! `GitForge` against a bare repository on disk as `origin`, read back with the real `git` CLI.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use promote::forge::deliver::{Delivery, DeliveryMode, PullRequestOptions, deliver};
use promote::forge::git::GitForge;
use promote::forge::{FileChange, Forge, ForgeError, TagOutcome, Token};

struct Repos {
    _dir: tempfile::TempDir,
    origin: PathBuf,
    work: PathBuf,
    other: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> String {
    git_with(dir, &[], args)
}

/// `git` with commits dated `date` (author and committer), for a deterministic history order.
fn git_at(dir: &Path, date: &str, args: &[&str]) -> String {
    git_with(
        dir,
        &[("GIT_AUTHOR_DATE", date), ("GIT_COMMITTER_DATE", date)],
        args,
    )
}

fn git_with(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=dev", "-c", "user.email=dev@example.com"])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "protocol.file.allow=always",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
}

/// `origin.git` with one commit on `main`, and two clones of it: `work` and `other`.
fn repos() -> Repos {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    git(root, &["init", "--bare", "-b", "main", "origin.git"]);
    git(root, &["clone", "origin.git", "seed"]);
    let seed = root.join("seed");
    std::fs::create_dir_all(seed.join("clusters/live")).unwrap();
    std::fs::write(
        seed.join("clusters/live/versions.env"),
        "CILIUM=1.15.0\r\nDEX=2.38.0\r\n",
    )
    .unwrap();
    std::fs::write(seed.join("run.sh"), "#!/bin/sh\necho 1\n").unwrap();
    std::fs::write(seed.join("old.txt"), "bye\n").unwrap();
    git(&seed, &["add", "."]);
    git(&seed, &["update-index", "--chmod=+x", "run.sh"]);
    git(&seed, &["commit", "-m", "initial"]);
    git(&seed, &["push", "origin", "main"]);
    git(root, &["clone", "origin.git", "work"]);
    git(root, &["clone", "origin.git", "other"]);
    Repos {
        origin: root.join("origin.git"),
        work: root.join("work"),
        other: root.join("other"),
        _dir: dir,
    }
}

fn forge(repos: &Repos) -> GitForge {
    GitForge::open(&repos.work, Some(Token::new("s3cret-token")))
        .unwrap()
        .with_author("promote", "promote@example.com")
}

fn change(path: &str, contents: Option<&str>) -> FileChange {
    FileChange {
        path: path.into(),
        contents: contents.map(|c| c.as_bytes().to_vec()),
    }
}

#[test]
fn commit_is_pushed_without_touching_the_work_tree() {
    let repos = repos();
    let forge = forge(&repos);
    let head = forge.branch_head("main").unwrap();
    assert_eq!(head, git(&repos.origin, &["rev-parse", "main"]));
    let changes = [
        change(
            "clusters/live/versions.env",
            Some("CILIUM=1.16.0\r\nDEX=2.38.0\r\n"),
        ),
        change("run.sh", Some("#!/bin/sh\necho 2\n")),
        change("new/dir/file.yaml", Some("a: 1")),
        change("old.txt", None),
    ];
    let sha = forge
        .create_commit(
            "main",
            &head,
            "promote integration to live\n\n- cilium",
            &changes,
        )
        .unwrap();

    let origin = &repos.origin;
    assert_eq!(git(origin, &["rev-parse", "main"]), sha);
    assert_eq!(
        git(origin, &["log", "-1", "--format=%P|%an <%ae>|%B", "main"]),
        format!("{head}|promote <promote@example.com>|promote integration to live\n\n- cilium")
    );
    assert_eq!(
        git(origin, &["show", "main:clusters/live/versions.env"]),
        "CILIUM=1.16.0\r\nDEX=2.38.0"
    );
    assert_eq!(git(origin, &["show", "main:new/dir/file.yaml"]), "a: 1");
    assert_eq!(
        git(origin, &["ls-tree", "main", "run.sh"])
            .split(' ')
            .next(),
        Some("100755")
    );
    assert_eq!(
        git(origin, &["ls-tree", "--name-only", "main"]),
        "clusters\nnew\nrun.sh"
    );
    // The workspace's checkout is untouched, and no private ref is left behind.
    assert_eq!(git(&repos.work, &["rev-parse", "HEAD"]), head);
    assert_eq!(git(&repos.work, &["status", "--porcelain"]), "");
    assert_eq!(git(&repos.work, &["for-each-ref", "refs/promote"]), "");
    let config = std::fs::read_to_string(repos.work.join(".git/config")).unwrap();
    assert!(
        !config.contains("s3cret"),
        "the token never lands in .git/config"
    );
    assert!(!format!("{forge:?}").contains("s3cret"));
}

#[test]
fn moved_remote_is_a_conflict_and_nothing_is_overwritten() {
    let repos = repos();
    let forge = forge(&repos);
    let head = forge.branch_head("main").unwrap();
    std::fs::write(repos.other.join("other.txt"), "theirs\n").unwrap();
    git(&repos.other, &["add", "."]);
    git(&repos.other, &["commit", "-m", "someone else"]);
    git(&repos.other, &["push", "origin", "main"]);
    let theirs = git(&repos.other, &["rev-parse", "HEAD"]);

    let changes = [change(
        "clusters/live/versions.env",
        Some("CILIUM=1.16.0\n"),
    )];
    let err = forge
        .create_commit("main", &head, "promote", &changes)
        .unwrap_err();
    assert!(matches!(err, ForgeError::Conflict { .. }), "{err}");
    assert_eq!(git(&repos.origin, &["rev-parse", "main"]), theirs);

    let new_head = forge.branch_head("main").unwrap();
    assert_eq!(new_head, theirs);
    let sha = forge
        .create_commit("main", &new_head, "promote", &changes)
        .unwrap();
    assert_eq!(git(&repos.origin, &["rev-parse", "main~1"]), theirs);
    assert_eq!(
        git(&repos.origin, &["show", &format!("{sha}:other.txt")]),
        "theirs"
    );
}

#[test]
fn non_fast_forward_push_is_rejected_as_conflict_unless_forced() {
    let repos = repos();
    let forge = forge(&repos);
    let first = forge.branch_head("main").unwrap();
    let second = forge
        .create_commit("main", &first, "next", &[change("a", Some("1"))])
        .unwrap();
    let err = forge.set_branch("main", &first, false).unwrap_err();
    assert!(matches!(err, ForgeError::Conflict { .. }), "{err}");
    assert_eq!(git(&repos.origin, &["rev-parse", "main"]), second);

    forge
        .set_branch("promote/integration-to-live", &second, false)
        .unwrap();
    forge
        .set_branch("promote/integration-to-live", &first, true)
        .unwrap();
    assert_eq!(
        git(&repos.origin, &["rev-parse", "promote/integration-to-live"]),
        first
    );
    assert!(forge.is_on_branch(&first, "main").unwrap());
    assert!(
        !forge
            .is_on_branch(&second, "promote/integration-to-live")
            .unwrap()
    );
}

#[test]
fn files_are_read_at_branches_and_shas() {
    let repos = repos();
    let forge = forge(&repos);
    let first = forge.branch_head("main").unwrap();
    forge
        .create_commit(
            "main",
            &first,
            "edit",
            &[change("old.txt", Some("hello\n"))],
        )
        .unwrap();
    assert_eq!(
        forge.read_file("old.txt", "main").unwrap().as_deref(),
        Some(&b"hello\n"[..])
    );
    assert_eq!(
        forge.read_file("old.txt", &first).unwrap().as_deref(),
        Some(&b"bye\n"[..])
    );
    assert_eq!(
        forge
            .read_file("clusters/live/versions.env", &first)
            .unwrap()
            .as_deref(),
        Some(&b"CILIUM=1.15.0\r\nDEX=2.38.0\r\n"[..])
    );
    assert_eq!(forge.read_file("missing.txt", "main").unwrap(), None);
    assert!(matches!(
        forge.branch_head("nope"),
        Err(ForgeError::NotFound { .. })
    ));
}

#[test]
fn tags_are_pushed_once() {
    let repos = repos();
    let forge = forge(&repos);
    let first = forge.branch_head("main").unwrap();
    let second = forge
        .create_commit("main", &first, "next", &[change("a", Some("1"))])
        .unwrap();
    assert_eq!(
        forge.create_tag("cilium-1.16.0", &second).unwrap(),
        TagOutcome::Created
    );
    assert_eq!(
        git(&repos.origin, &["rev-parse", "refs/tags/cilium-1.16.0"]),
        second
    );
    assert_eq!(
        forge.create_tag("cilium-1.16.0", &second).unwrap(),
        TagOutcome::Exists
    );
    let err = forge.create_tag("cilium-1.16.0", &first).unwrap_err();
    assert!(matches!(err, ForgeError::Conflict { .. }), "{err}");
    assert_eq!(
        forge.read_file("a", "cilium-1.16.0").unwrap().as_deref(),
        Some(&b"1"[..])
    );
}

#[test]
fn statuses_and_pull_requests_need_the_api() {
    let repos = repos();
    let forge = forge(&repos);
    for err in [
        forge.list_statuses("abc").unwrap_err(),
        forge.list_open_prs("main").unwrap_err(),
        forge.comment(1, "hi").unwrap_err(),
    ] {
        assert!(err.to_string().contains("commit-mode = api"), "{err}");
    }
}

#[test]
fn commit_delivery_lands_through_git() {
    let repos = repos();
    let forge = forge(&repos);
    let head = forge.branch_head("main").unwrap();
    let delivery = Delivery {
        target_branch: "main".into(),
        base: head,
        mode: DeliveryMode::Commit,
        message: "promote dex".into(),
        files: vec![change(
            "clusters/live/versions.env",
            Some("CILIUM=1.15.0\r\nDEX=2.39.0\r\n"),
        )],
        pull_request: PullRequestOptions::default(),
        components: Vec::new(),
    };
    let report = deliver(&forge, &delivery, |_: &str| {
        Ok::<_, std::convert::Infallible>(None)
    })
    .unwrap();
    let sha = report.commit_sha.unwrap();
    assert_eq!(git(&repos.origin, &["rev-parse", "main"]), sha);
    let again = deliver(
        &forge,
        &Delivery {
            base: sha.clone(),
            ..delivery
        },
        |_: &str| Ok::<_, std::convert::Infallible>(None),
    )
    .unwrap();
    assert_eq!(again.commit_sha, None, "nothing left to change");
    assert_eq!(git(&repos.origin, &["rev-list", "--count", "main"]), "2");
}

/// On `other`: `feature` off `main` with one commit, one more commit on `main`, then `main`
/// merges `feature` (no fast-forward); both branches pushed. Returns (initial, feature commit,
/// main commit, merge).
fn merge_history(repos: &Repos) -> (String, String, String, String) {
    let other = &repos.other;
    let initial = git(other, &["rev-parse", "HEAD"]);
    git(other, &["checkout", "-q", "-b", "feature"]);
    std::fs::write(other.join("feature.txt"), "f\n").unwrap();
    git(other, &["add", "."]);
    git_at(
        other,
        "2024-05-01T10:00:01Z",
        &["commit", "-qm", "feature work"],
    );
    let feature = git(other, &["rev-parse", "HEAD"]);
    git(other, &["checkout", "-q", "main"]);
    std::fs::write(other.join("main.txt"), "m\n").unwrap();
    git(other, &["add", "."]);
    git_at(
        other,
        "2024-05-01T10:00:02Z",
        &["commit", "-qm", "main work"],
    );
    let main = git(other, &["rev-parse", "HEAD"]);
    git_at(
        other,
        "2024-05-01T10:00:03Z",
        &[
            "merge",
            "-q",
            "--no-ff",
            "feature",
            "-m",
            "merge feature\n\ninto main",
        ],
    );
    let merge = git(other, &["rev-parse", "HEAD"]);
    git(other, &["push", "-q", "origin", "main", "feature"]);
    (initial, feature, main, merge)
}

#[test]
fn recent_commits_list_a_merge_with_first_parent_first() {
    let repos = repos();
    let forge = forge(&repos);
    let (initial, feature, main, merge) = merge_history(&repos);

    let commits = forge.recent_commits("main", 10).unwrap();
    let shape: Vec<_> = commits
        .iter()
        .map(|c| (c.sha.as_str(), c.message.as_str(), c.parents.clone()))
        .collect();
    assert_eq!(
        shape,
        [
            (
                merge.as_str(),
                "merge feature\n\ninto main",
                vec![main.clone(), feature.clone()]
            ),
            (main.as_str(), "main work", vec![initial.clone()]),
            (feature.as_str(), "feature work", vec![initial.clone()]),
            (initial.as_str(), "initial", vec![]),
        ]
    );
    // `initial` is dated now, its descendants in 2024: still listed after all of them, like
    // `git log --date-order` (plain `git log` lists it before `feature work`).
    let log = git(
        &repos.origin,
        &["log", "--date-order", "--format=%H", "main"],
    );
    let shas: Vec<_> = commits.iter().map(|c| c.sha.as_str()).collect();
    assert_eq!(shas, log.lines().collect::<Vec<_>>());

    let two = forge.recent_commits("main", 2).unwrap();
    assert_eq!(two, commits[..2]);
    assert_eq!(forge.recent_commits(&main, 1).unwrap(), commits[1..2]);
    let branch = forge.recent_commits("feature", 10).unwrap();
    assert_eq!(branch, [commits[2].clone(), commits[3].clone()]);
    assert_eq!(forge.recent_commits("main", 0).unwrap(), []);
}

#[test]
fn is_ancestor_follows_every_parent() {
    let repos = repos();
    let forge = forge(&repos);
    let (initial, feature, main, merge) = merge_history(&repos);
    // `work` has not fetched: resolving `main` brings the commits.
    assert!(forge.is_ancestor(&initial, "main").unwrap());
    assert!(
        forge.is_ancestor(&feature, &merge).unwrap(),
        "second parent"
    );
    assert!(forge.is_ancestor(&main, &merge).unwrap(), "first parent");
    assert!(forge.is_ancestor(&initial, &merge).unwrap());
    assert!(
        forge.is_ancestor(&merge, &merge).unwrap(),
        "the commit itself"
    );
    assert!(!forge.is_ancestor(&merge, &main).unwrap(), "a descendant");
    assert!(
        !forge.is_ancestor(&feature, &main).unwrap(),
        "another branch"
    );
    assert!(
        !forge.is_ancestor(&main, &feature).unwrap(),
        "another branch"
    );
    assert!(!forge.is_ancestor(&merge, "feature").unwrap());
}

#[test]
fn check_runs_need_the_api() {
    let repos = repos();
    let forge = forge(&repos);
    let head = forge.branch_head("main").unwrap();
    let err = forge.list_check_runs(&head).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("check runs"), "{text}");
    assert!(text.contains("hint: "), "{text}");
    assert!(text.contains("commit-mode = \"api\""), "{text}");
    assert!(!err.is_transient());
}

#[test]
fn shallow_checkout_fetches_the_history_it_needs() {
    let repos = repos();
    let (initial, feature, main, merge) = merge_history(&repos);
    let full = forge(&repos).recent_commits("main", 10).unwrap();
    let root = repos.origin.parent().unwrap();
    let daemon = crate::support::daemon(root, false);
    let url = format!("{}/origin.git", daemon.url);
    git(root, &["clone", "-q", "--depth", "1", &url, "depth1"]);
    git(root, &["clone", "-q", "--depth", "2", &url, "depth2"]);
    let cut = |dir: &str| root.join(dir).join(".git/shallow").exists();

    let forge = GitForge::open(&root.join("depth1"), None).unwrap();
    assert!(forge.is_ancestor(&merge, "main").unwrap());
    assert!(cut("depth1"), "nothing to fetch for the commit itself");
    assert!(
        forge.is_ancestor(&initial, &merge).unwrap(),
        "beyond the cut"
    );
    assert!(!cut("depth1"), "the clone was unshallowed");
    assert!(forge.is_ancestor(&feature, &merge).unwrap());
    assert!(!forge.is_ancestor(&feature, &main).unwrap());

    let forge = GitForge::open(&root.join("depth2"), None).unwrap();
    assert_eq!(forge.recent_commits("main", 1).unwrap(), full[..1]);
    assert!(cut("depth2"), "the merge's parents are in the clone");
    assert_eq!(forge.recent_commits("main", 10).unwrap(), full);
    assert!(!cut("depth2"), "the clone was unshallowed");
    assert_eq!(
        forge.recent_commits("main", 10).unwrap(),
        full,
        "and stays right"
    );
    assert!(forge.is_ancestor(&initial, &feature).unwrap());
}

#[test]
fn shallow_checkout_that_cannot_be_deepened_is_an_error_not_a_wrong_answer() {
    let repos = repos();
    let (initial, _, _, merge) = merge_history(&repos);
    let root = repos.origin.parent().unwrap();
    // libgit2's local transport cannot fetch shallow or unshallow.
    let url = format!("file://{}", repos.origin.display());
    git(root, &["clone", "-q", "--depth", "1", &url, "shallow"]);
    let forge = GitForge::open(&root.join("shallow"), None).unwrap();
    assert!(forge.is_ancestor(&merge, "main").unwrap());
    for err in [
        forge.is_ancestor(&initial, &merge).unwrap_err(),
        forge.recent_commits("main", 10).unwrap_err(),
    ] {
        let text = err.to_string();
        assert!(text.contains("the clone is shallow"), "{text}");
        assert!(
            text.contains("hint: ") && text.contains("fetch-depth: 0"),
            "{text}"
        );
    }
}
