//! `GitLabForge` against the fake GitLab: each `Forge` call is the REST v4 endpoint in its
//! documented shape, with GitLab's tokens, pagination, error answers and races.

use std::time::Duration;

use promote::forge::gitlab::{GitLabConfig, GitLabForge, GitLabToken};
use promote::forge::http::RetryPolicy;
use promote::forge::{
    FileChange, Forge, ForgeError, MergeMethod, PullRequestSpec, TagOutcome, Token,
};
use serde_json::json;

use crate::fake_gitlab::{Failure, FakeGitLab, JOB_TOKEN, PRIVATE_TOKEN};

fn quick() -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(1),
        ..RetryPolicy::default()
    }
}

fn forge_with(gl: &FakeGitLab, project: &str, token: GitLabToken) -> GitLabForge {
    GitLabForge::new(GitLabConfig {
        api_url: gl.api_url(),
        project: project.to_owned(),
        token,
        retry: quick(),
    })
    .expect("forge")
}

fn forge(gl: &FakeGitLab) -> GitLabForge {
    forge_with(gl, "42", GitLabToken::Private(Token::new(PRIVATE_TOKEN)))
}

fn spec(head: &str, base: &str, title: &str) -> PullRequestSpec {
    PullRequestSpec {
        head: head.into(),
        base: base.into(),
        title: title.into(),
        body: "body".into(),
        labels: vec!["auto-promotion".into()],
    }
}

#[test]
fn reads_files_trees_history_and_ancestry_with_the_private_token() {
    let gl = FakeGitLab::start("p2c/k8s-deployments");
    gl.state().max_per_page = 2; // every listing takes several pages
    let c1 = gl.commit_files(
        "dev",
        "one",
        &[
            ("apps/a/kustomization.yaml", "a: 1\n"),
            ("README.md", "hi\n"),
        ],
    );
    let c2 = gl.commit_files(
        "dev",
        "two",
        &[
            ("apps/b/kustomization.yaml", "b: 1\n"),
            ("apps/a/x y.yaml", "x\n"),
        ],
    );
    gl.commit_files("stage", "other", &[("apps/a/kustomization.yaml", "a: 0\n")]);
    // By path too: `group/name` is one URL segment.
    let f = forge_with(
        &gl,
        "p2c/k8s-deployments",
        GitLabToken::Private(Token::new(PRIVATE_TOKEN)),
    );
    assert_eq!(f.branch_head("dev").expect("head"), c2);
    assert_eq!(
        f.read_file("apps/a/kustomization.yaml", &c1).expect("read"),
        Some(b"a: 1\n".to_vec())
    );
    assert_eq!(
        f.read_file("apps/a/x y.yaml", "dev").expect("read"),
        Some(b"x\n".to_vec())
    );
    assert_eq!(f.read_file("nope.yaml", "dev").expect("read"), None);
    assert_eq!(
        f.list_tree(&c2).expect("tree"),
        [
            "README.md",
            "apps/a/kustomization.yaml",
            "apps/a/x y.yaml",
            "apps/b/kustomization.yaml"
        ]
    );
    let history = f.recent_commits("dev", 5).expect("history");
    assert_eq!(
        history.iter().map(|c| c.sha.as_str()).collect::<Vec<_>>(),
        [c2.as_str(), c1.as_str()]
    );
    assert_eq!(history[0].parents, std::slice::from_ref(&c1));
    assert_eq!(f.recent_commits("dev", 1).expect("one").len(), 1);
    assert!(f.is_ancestor(&c1, &c2).expect("ancestor"));
    assert!(!f.is_ancestor(&c2, &c1).expect("not ancestor"));
    assert!(f.is_on_branch(&c1, "dev").expect("on dev"));
    assert!(!f.is_on_branch(&c1, "stage").expect("unrelated"));
    assert!(matches!(
        f.is_on_branch(&c1, "no-such-branch"),
        Err(ForgeError::NotFound { .. })
    ));
    assert!(matches!(
        f.branch_head("no-such-branch"),
        Err(ForgeError::NotFound { .. })
    ));
    let requests = gl.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.private_token.as_deref() == Some(PRIVATE_TOKEN)
                && r.job_token.is_none()
                && r.authorization.is_none())
    );
    assert!(
        requests.iter().any(|r| r.path.contains(
            "/projects/p2c%2Fk8s-deployments/repository/files/apps%2Fa%2Fx%20y.yaml/raw?ref=dev"
        )),
        "{:#?}",
        gl.request_lines()
    );
    assert!(
        requests
            .iter()
            .filter(|r| r.path.contains("/repository/tree"))
            .count()
            >= 2,
        "the tree is read page by page"
    );
}

#[test]
fn statuses_and_jobs_are_listed_newest_first_in_the_gates_terms() {
    let gl = FakeGitLab::start("p2c/k8s-deployments");
    gl.state().max_per_page = 2;
    let sha = gl.commit_files("dev", "one", &[("a", "1")]);
    gl.add_status(&sha, "kustomization/billing/0c9c2e41", "failed", "flux-bot");
    gl.add_status(
        &sha,
        "kustomization/billing/0c9c2e41",
        "success",
        "flux-bot",
    );
    gl.add_status(&sha, "argocd/example-app", "running", "argocd");
    gl.add_status(&sha, "lint", "skipped", "alice");
    gl.add_status(&sha, "deploy", "manual", "alice");
    gl.add_status(&sha, "test", "canceled", "alice");
    let f = forge(&gl);
    let statuses = f.list_statuses(&sha).expect("statuses");
    let got: Vec<(&str, &str, Option<&str>)> = statuses
        .iter()
        .map(|s| (s.context.as_str(), s.state.as_str(), s.creator.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("test", "failure", Some("alice")),
            ("deploy", "pending", Some("alice")),
            ("lint", "success", Some("alice")),
            ("argocd/example-app", "pending", Some("argocd")),
            (
                "kustomization/billing/0c9c2e41",
                "success",
                Some("flux-bot")
            ),
            (
                "kustomization/billing/0c9c2e41",
                "failure",
                Some("flux-bot")
            ),
        ]
    );
    assert!(statuses[0].updated_at.is_some());
    // Jobs are among the statuses already: nothing is listed twice.
    assert!(f.list_check_runs(&sha).expect("runs").is_empty());
    assert_eq!(
        gl.request_lines()
            .iter()
            .filter(|l| l.contains("/statuses"))
            .count(),
        3,
        "six statuses, two a page"
    );
}

#[test]
fn a_commit_is_guarded_by_each_files_last_commit_and_a_moved_file_is_a_conflict() {
    let gl = FakeGitLab::start("p2c/k8s-deployments");
    let base = gl.commit_files(
        "stage",
        "seed",
        &[("apps/a/k.yaml", "v: 1\n"), ("apps/b/k.yaml", "v: 1\n")],
    );
    let f = forge(&gl);
    let change = |path: &str, text: &str| FileChange {
        path: path.into(),
        contents: Some(text.as_bytes().to_vec()),
    };
    // Someone changes the same file first: refused, the branch is not forced.
    gl.race_on("stage", &[("apps/a/k.yaml", "v: 1 # theirs\n")]);
    let err = f
        .create_commit(
            "stage",
            &base,
            "promote a",
            &[change("apps/a/k.yaml", "v: 2\n")],
        )
        .expect_err("moved");
    assert!(matches!(err, ForgeError::Conflict { .. }), "{err}");
    assert!(err.to_string().contains("has changed since"), "{err}");
    // Planned again on the new head: it lands, with the other's change kept.
    let head = gl.head("stage").expect("head");
    f.read_file("apps/a/k.yaml", &head).expect("read"); // as delivery does: no extra request
    gl.clear_requests();
    let sha = f
        .create_commit(
            "stage",
            &head,
            "promote a\n\nPromoted-From: dev@abc",
            &[
                change("apps/a/k.yaml", "v: 2 # theirs\n"),
                change("apps/new.yaml", "n\n"),
            ],
        )
        .expect("commit");
    assert_eq!(gl.head("stage"), Some(sha.clone()));
    assert_eq!(
        gl.file("stage", "apps/a/k.yaml").as_deref(),
        Some("v: 2 # theirs\n")
    );
    assert_eq!(gl.file("stage", "apps/new.yaml").as_deref(), Some("n\n"));
    let posted = gl.requests();
    assert_eq!(
        gl.request_lines(),
        [
            "HEAD /repository/files/apps%2Fnew.yaml?ref=".to_owned() + &head,
            "POST /repository/commits".to_owned()
        ]
    );
    let body = &posted[1].body;
    assert_eq!(body["branch"], "stage");
    assert_eq!(body["actions"][0]["action"], "update");
    assert_eq!(body["actions"][0]["encoding"], "base64");
    assert!(body["actions"][0]["last_commit_id"].is_string());
    assert_eq!(body["actions"][1]["action"], "create");
    assert!(body.get("force").is_none() && body.get("start_sha").is_none());
    // A commit elsewhere on the branch is no conflict: the promotion lands on top of it.
    let before = gl.head("stage").expect("head");
    gl.race_on("stage", &[("apps/b/k.yaml", "v: 9\n")]);
    let on_top = f
        .create_commit(
            "stage",
            &before,
            "promote a",
            &[change("apps/a/k.yaml", "v: 3\n")],
        )
        .expect("lands");
    assert_ne!(gl.commit(&on_top).expect("commit").parents, [before]);
    assert_eq!(gl.file("stage", "apps/b/k.yaml").as_deref(), Some("v: 9\n"));
    // A file created meanwhile: a conflict too.
    let head = gl.head("stage").expect("head");
    gl.race_on("stage", &[("apps/c.yaml", "theirs\n")]);
    let err = f
        .create_commit("stage", &head, "c", &[change("apps/c.yaml", "ours\n")])
        .expect_err("created meanwhile");
    assert!(matches!(err, ForgeError::Conflict { .. }), "{err}");
}

#[test]
fn own_branches_are_reset_and_committed_in_one_call() {
    let gl = FakeGitLab::start("p2c/k8s-deployments");
    let base = gl.commit_files("stage", "seed", &[("apps/a/k.yaml", "v: 1\n")]);
    let f = forge(&gl);
    let files = [FileChange {
        path: "apps/a/k.yaml".into(),
        contents: Some(b"v: 2\n".to_vec()),
    }];
    let first = f
        .reset_and_commit("promote/stage/a", &base, "promote a 2", &files)
        .expect("new branch");
    assert_eq!(gl.head("promote/stage/a"), Some(first.clone()));
    // Again from the same base, with newer contents: the branch is made anew, not stacked.
    let files = [FileChange {
        path: "apps/a/k.yaml".into(),
        contents: Some(b"v: 3\n".to_vec()),
    }];
    let second = f
        .reset_and_commit("promote/stage/a", &base, "promote a 3", &files)
        .expect("reset");
    assert_eq!(
        gl.commit(&second).expect("c").parents,
        std::slice::from_ref(&base)
    );
    let last = gl.requests().pop().expect("request");
    assert_eq!(last.body["start_sha"], base.as_str());
    assert_eq!(last.body["force"], true);
    // `set_branch` creates; one already there is fine; GitLab cannot move one.
    f.set_branch("other", &base, false).expect("create");
    f.set_branch("other", &base, true).expect("already there");
    assert!(matches!(
        f.set_branch("other", &second, true),
        Err(ForgeError::Conflict { .. })
    ));
}

#[test]
fn merge_requests_are_found_opened_updated_closed_and_merged() {
    let gl = FakeGitLab::start("p2c/k8s-deployments");
    gl.state().max_per_page = 1;
    gl.commit_files("stage", "seed", &[("a", "1")]);
    gl.commit_files("promote/stage/a", "a", &[("a", "2")]);
    gl.commit_files("promote/stage/b", "b", &[("a", "3")]);
    let fork = gl.open_mr("promote/stage/a", "stage", "a fork's", true);
    let f = forge(&gl);
    // The fork's merge request from a branch of the same name is not ours: none is listed.
    let open_from = |head: &str| -> Vec<u64> {
        let listed = f.list_open_prs("stage").expect("list");
        assert!(listed.iter().all(|p| p.base == "stage"), "{listed:?}");
        listed
            .iter()
            .filter(|p| p.head == head)
            .map(|p| p.number)
            .collect()
    };
    assert_eq!(open_from("promote/stage/a"), Vec::<u64>::new());
    let mr = f
        .create_pr(&spec("promote/stage/a", "stage", "promote a"))
        .expect("create");
    assert_ne!(mr.number, fork);
    assert_eq!(
        (mr.head.as_str(), mr.base.as_str()),
        ("promote/stage/a", "stage")
    );
    assert!(
        mr.url
            .ends_with(&format!("/-/merge_requests/{}", mr.number)),
        "{}",
        mr.url
    );
    assert_eq!(gl.mrs()[1].labels, ["auto-promotion"]);
    // A repeated create (a lost answer) finds the open one: 409, no second merge request.
    let again = f
        .create_pr(&spec("promote/stage/a", "stage", "promote a"))
        .expect("again");
    assert_eq!(again.number, mr.number);
    assert_eq!(gl.open_mrs().len(), 2);
    assert_eq!(open_from("promote/stage/a"), [mr.number]);
    let b = f
        .create_pr(&spec("promote/stage/b", "stage", "promote b"))
        .expect("b");
    let listed: Vec<u64> = f
        .list_open_prs("stage")
        .expect("list")
        .iter()
        .map(|p| p.number)
        .collect();
    assert_eq!(
        listed,
        [mr.number, b.number],
        "forks left out, every page read"
    );
    let mut newer = spec("promote/stage/a", "stage", "promote a 2");
    newer.labels.push("prod".into());
    let updated = f.update_pr(mr.number, &newer).expect("update");
    assert_eq!(updated.title, "promote a 2");
    assert_eq!(gl.mrs()[1].labels, ["auto-promotion", "prod"]);
    f.close_pr(b.number, Some("closed by promote: `stage` already has it"))
        .expect("close");
    assert_eq!(gl.mrs()[2].state, "closed");
    assert_eq!(open_from("promote/stage/b"), Vec::<u64>::new());
    assert_eq!(
        gl.notes(),
        [(
            b.number,
            "closed by promote: `stage` already has it".to_owned()
        )]
    );
    // Merge methods: squash unless `never`, and the project's method.
    assert_eq!(
        f.merge_methods().expect("methods"),
        [MergeMethod::Squash, MergeMethod::Merge]
    );
    gl.state().squash_option = "never".into();
    gl.state().merge_method = "ff".into();
    assert_eq!(f.merge_methods().expect("methods"), [MergeMethod::Rebase]);
    // "Merge when pipeline succeeds" while a pipeline runs; merged at once without one.
    gl.state().pipeline_running = true;
    f.enable_auto_merge_as(&updated, MergeMethod::Squash)
        .expect("auto-merge");
    assert!(gl.mrs()[1].auto_merge);
    let put = gl.requests().pop().expect("request");
    assert_eq!(put.body["merge_when_pipeline_succeeds"], true);
    assert_eq!(put.body["squash"], true);
    gl.state().pipeline_running = false;
    let sha = f
        .merge_pr_as(updated.number, MergeMethod::Squash)
        .expect("merge");
    assert_eq!(gl.head("stage"), Some(sha));
    assert_eq!(gl.mrs()[1].merged_with.as_deref(), Some("squash"));
}

#[test]
fn tags_are_created_once_and_never_moved() {
    let gl = FakeGitLab::start("p2c/k8s-deployments");
    let c1 = gl.commit_files("prod", "one", &[("a", "1")]);
    let c2 = gl.commit_files("prod", "two", &[("a", "2")]);
    let f = forge(&gl);
    assert_eq!(
        f.create_tag("billing-2.1.0", &c1).expect("tag"),
        TagOutcome::Created
    );
    assert_eq!(
        f.create_tag("billing-2.1.0", &c1).expect("tag"),
        TagOutcome::Exists
    );
    assert!(matches!(
        f.create_tag("billing-2.1.0", &c2),
        Err(ForgeError::Conflict { .. })
    ));
    assert_eq!(gl.tag("billing-2.1.0"), Some(c1.clone()));
    assert_eq!(
        f.recent_commits("billing-2.1.0", 1).expect("at tag")[0].sha,
        c1
    );
}

#[test]
fn a_job_token_reads_with_its_own_header_and_a_refused_write_names_the_fix() {
    let gl = FakeGitLab::start("p2c/k8s-deployments");
    let head = gl.commit_files("stage", "seed", &[("a", "1")]);
    let f = forge_with(&gl, "42", GitLabToken::Job(Token::new(JOB_TOKEN)));
    assert_eq!(f.branch_head("stage").expect("read"), head);
    let err = f
        .create_pr(&spec("stage", "prod", "x"))
        .expect_err("a job token opens no merge request");
    let text = err.to_string();
    assert!(text.contains("GitLab refused CI_JOB_TOKEN"), "{text}");
    assert!(
        text.contains("hint: ") && text.contains("GITLAB_TOKEN"),
        "{text}"
    );
    let r = &gl.requests()[0];
    assert_eq!(r.job_token.as_deref(), Some(JOB_TOKEN));
    assert!(r.private_token.is_none());
    assert!(!text.contains(JOB_TOKEN));
    // A wrong private token: unauthorized, with what to check.
    let f = forge_with(&gl, "42", GitLabToken::Private(Token::new("glpat-wrong")));
    let text = f.branch_head("stage").expect_err("401").to_string();
    assert!(text.contains("GitLab refused the token (401"), "{text}");
    assert!(text.contains("GITLAB_TOKEN"), "{text}");
}

#[test]
fn server_errors_and_rate_limits_are_retried_and_a_missing_project_is_an_error() {
    let gl = FakeGitLab::start("p2c/k8s-deployments");
    let head = gl.commit_files("stage", "seed", &[("a", "1")]);
    gl.fail(
        "GET",
        "/repository/branches/stage",
        502,
        json!({"message": "502 Bad Gateway"}),
        2,
    );
    let f = forge(&gl);
    assert_eq!(f.branch_head("stage").expect("third try"), head);
    gl.state().failures.push_back(Failure {
        method: "GET".into(),
        path_contains: "/repository/files/".into(),
        status: 429,
        body: json!({"message": "Retry later"}),
        headers: vec![("retry-after".into(), "0".into())],
        times: 1,
        after_effect: false,
    });
    assert_eq!(
        f.read_file("a", "stage").expect("after the limit"),
        Some(b"1".to_vec())
    );
    let other = forge_with(&gl, "7", GitLabToken::Private(Token::new(PRIVATE_TOKEN)));
    let err = other.read_file("a", "stage").expect_err("no such project");
    assert!(matches!(err, ForgeError::NotFound { .. }), "{err}");
    // A notes POST is sent once: a 502 is not retried (the note may have been made).
    gl.commit_files("promote/x", "x", &[("a", "2")]);
    let mr = f.create_pr(&spec("promote/x", "stage", "x")).expect("mr");
    gl.fail("POST", "/notes", 502, json!({"message": "502"}), 1);
    assert!(f.comment(mr.number, "hello").is_err());
    assert_eq!(
        gl.request_lines()
            .iter()
            .filter(|l| l.contains("/notes"))
            .count(),
        1
    );
}
