//! Contract tests of `GitHubForge` against the fake GitHub on 127.0.0.1: method, path and body
//! of every call, GitHub's answers, and the error mapping.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::{Value, json};

use crate::fake_github::FakeGitHub;
use promote::forge::github::{GitHubConfig, GitHubForge, RetryPolicy, graphql_url_for};
use promote::forge::{FileChange, Forge, ForgeError, PullRequestSpec, TagOutcome, Token};

pub(crate) const REPO: &str = "/repos/acme/gitops";

fn forge_at(api_url: &str, graphql_url: Option<String>) -> GitHubForge {
    GitHubForge::new(GitHubConfig {
        api_url: api_url.to_owned(),
        graphql_url,
        repository: "acme/gitops".into(),
        token: Token::new("ghs_secret"),
        retry: RetryPolicy {
            tries: 3,
            base_delay: Duration::from_millis(1),
            max_wait: Duration::from_millis(20),
            secondary_wait: Duration::from_millis(20),
            ..RetryPolicy::default()
        },
    })
    .unwrap()
}

pub(crate) fn setup() -> (FakeGitHub, GitHubForge, String) {
    let fake = FakeGitHub::start("acme/gitops");
    let head = fake.commit_files(
        "main",
        "initial",
        &[("clusters/live/versions.env", "CILIUM=1.15.0\n")],
    );
    let forge = forge_at(fake.url(), None);
    (fake, forge, head)
}

fn spec(head: &str) -> PullRequestSpec {
    PullRequestSpec {
        head: head.into(),
        base: "main".into(),
        title: "promote integration to live".into(),
        body: "| component | from | to |".into(),
        labels: vec!["promotion".into()],
    }
}

#[test]
fn graphql_url_follows_github_enterprise_layout() {
    assert_eq!(
        graphql_url_for("https://api.github.com"),
        "https://api.github.com/graphql"
    );
    assert_eq!(
        graphql_url_for("https://ghe.example.com/api/v3/"),
        "https://ghe.example.com/api/graphql"
    );
}

#[test]
fn token_is_sent_as_bearer_and_never_shown() {
    let (fake, forge, _) = setup();
    forge.branch_head("main").unwrap();
    let sent = fake.requests()[0].authorization.clone();
    assert_eq!(sent.as_deref(), Some("Bearer ghs_secret"));
    let token = Token::new("ghs_secret");
    assert!(!format!("{token:?} {token}").contains("ghs_secret"));
    assert!(!format!("{forge:?}").contains("ghs_secret"));
}

#[test]
fn statuses_are_read_for_a_sha_across_pages() {
    let (fake, forge, head) = setup();
    for i in 0..150 {
        fake.add_status(
            &head,
            &format!("kustomization/app{i}/abcd1234"),
            "success",
            "flux[bot]",
        );
    }
    let statuses = forge.list_statuses(&head).unwrap();
    assert_eq!(statuses.len(), 150);
    assert_eq!(statuses[0].context, "kustomization/app149/abcd1234");
    assert_eq!(statuses[0].creator.as_deref(), Some("flux[bot]"));
    assert_eq!(statuses[0].state, "success");
    assert_eq!(
        fake.request_lines(),
        [
            format!("GET {REPO}/commits/{head}/statuses?per_page=100"),
            format!("GET {REPO}/commits/{head}/statuses?per_page=100&page=2"),
        ]
    );
}

#[test]
fn branch_head_and_files_are_read_exactly() {
    let (fake, forge, head) = setup();
    fake.commit_files("main", "crlf", &[("dir with space/a.yaml", "a: 1\r\nb: 2")]);
    let head2 = fake.head("main").unwrap();
    assert_eq!(forge.branch_head("main").unwrap(), head2);
    let bytes = forge.read_file("dir with space/a.yaml", &head2).unwrap();
    assert_eq!(bytes.as_deref(), Some(&b"a: 1\r\nb: 2"[..]));
    assert_eq!(
        forge.read_file("dir with space/a.yaml", &head).unwrap(),
        None
    );
    assert_eq!(
        fake.request_lines(),
        [
            format!("GET {REPO}/git/ref/heads/main"),
            format!("GET {REPO}/contents/dir%20with%20space/a.yaml?ref={head2}"),
            format!("GET {REPO}/contents/dir%20with%20space/a.yaml?ref={head}"),
        ]
    );
}

#[test]
fn is_on_branch_uses_compare() {
    let (fake, forge, first) = setup();
    let second = fake.commit_files("main", "next", &[("x", "1")]);
    let side = fake.commit_files("feature", "side", &[]);
    fake.commit_files("feature", "side 2", &[]);
    assert!(forge.is_on_branch(&first, "main").unwrap());
    assert!(forge.is_on_branch(&second, "main").unwrap());
    assert!(!forge.is_on_branch(&side, "main").unwrap());
    assert_eq!(
        fake.request_lines()[0],
        format!("GET {REPO}/compare/main...{first}?per_page=1")
    );
}

#[test]
fn commit_goes_through_create_commit_on_branch() {
    let (fake, forge, head) = setup();
    fake.commit_files("main", "more", &[("old.txt", "bye")]);
    let head = fake.head("main").unwrap_or(head);
    let changes = [
        FileChange {
            path: "clusters/live/versions.env".into(),
            contents: Some(b"CILIUM=1.16.0\n".to_vec()),
        },
        FileChange {
            path: "old.txt".into(),
            contents: None,
        },
    ];
    let message = "promote integration to live\n\n- cilium 1.15.0 -> 1.16.0";
    let sha = forge
        .create_commit("main", &head, message, &changes)
        .unwrap();

    assert_eq!(fake.head("main").as_deref(), Some(sha.as_str()));
    assert_eq!(
        fake.file("main", "clusters/live/versions.env").unwrap(),
        "CILIUM=1.16.0\n"
    );
    assert_eq!(fake.file("main", "old.txt"), None);
    assert_eq!(fake.commit(&sha).unwrap().message, message);
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("POST", "/graphql")
    );
    assert!(
        requests[0].body["query"]
            .as_str()
            .unwrap()
            .contains("createCommitOnBranch")
    );
    assert_eq!(
        requests[0].body["variables"]["input"],
        json!({
            "branch": { "repositoryNameWithOwner": "acme/gitops", "branchName": "main" },
            "message": { "headline": "promote integration to live", "body": "- cilium 1.15.0 -> 1.16.0" },
            "expectedHeadOid": head,
            "fileChanges": {
                "additions": [{ "path": "clusters/live/versions.env", "contents": "Q0lMSVVNPTEuMTYuMAo=" }],
                "deletions": [{ "path": "old.txt" }],
            },
        })
    );
}

#[test]
fn commit_on_a_moved_branch_is_a_conflict() {
    let (fake, forge, head) = setup();
    fake.commit_files("main", "someone else", &[("x", "1")]);
    let err = forge.create_commit("main", &head, "m", &[]).unwrap_err();
    assert!(
        matches!(&err, ForgeError::Conflict { what } if what.contains("Expected branch")),
        "{err}"
    );
    assert_eq!(fake.requests().len(), 1, "a conflict is not retried");
}

#[test]
fn github_enterprise_paths_and_graphql_endpoint() {
    let fake = FakeGitHub::start("acme/gitops");
    let head = fake.commit_files("main", "initial", &[("a", "1")]);
    let forge = forge_at(&format!("{}/api/v3", fake.url()), None);
    assert_eq!(forge.branch_head("main").unwrap(), head);
    forge
        .create_commit(
            "main",
            &head,
            "m",
            &[FileChange {
                path: "a".into(),
                contents: Some(b"2".to_vec()),
            }],
        )
        .unwrap();
    assert_eq!(
        fake.request_lines(),
        [
            format!("GET /api/v3{REPO}/git/ref/heads/main"),
            "POST /api/graphql".to_owned()
        ]
    );
    let explicit = forge_at(fake.url(), Some(format!("{}/api/graphql", fake.url())));
    let head = fake.head("main").unwrap();
    explicit.create_commit("main", &head, "m", &[]).unwrap();
    assert_eq!(fake.request_lines().last().unwrap(), "POST /api/graphql");
}

#[test]
fn set_branch_creates_then_patches_without_force() {
    let (fake, forge, first) = setup();
    let second = fake.commit_files("main", "next", &[("x", "1")]);
    forge
        .set_branch("promote/integration-to-live", &first, false)
        .unwrap();
    forge
        .set_branch("promote/integration-to-live", &second, false)
        .unwrap();
    let err = forge
        .set_branch("promote/integration-to-live", &first, false)
        .unwrap_err();
    assert!(
        matches!(&err, ForgeError::Conflict { what } if what.contains("not a fast forward")),
        "{err}"
    );
    forge
        .set_branch("promote/integration-to-live", &first, true)
        .unwrap();
    assert_eq!(
        fake.head("promote/integration-to-live"),
        Some(first.clone())
    );
    let requests = fake.requests();
    let shape: Vec<_> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str(), r.body.clone()))
        .collect();
    let refs = format!("{REPO}/git/refs");
    let branch = format!("{REPO}/git/refs/heads/promote/integration-to-live");
    let create = |sha: &str| json!({ "ref": "refs/heads/promote/integration-to-live", "sha": sha });
    assert_eq!(
        shape,
        [
            ("POST", refs.as_str(), create(&first)),
            ("POST", refs.as_str(), create(&second)),
            (
                "PATCH",
                branch.as_str(),
                json!({ "sha": second, "force": false })
            ),
            ("POST", refs.as_str(), create(&first)),
            (
                "PATCH",
                branch.as_str(),
                json!({ "sha": first, "force": false })
            ),
            ("POST", refs.as_str(), create(&first)),
            (
                "PATCH",
                branch.as_str(),
                json!({ "sha": first, "force": true })
            ),
        ]
    );
}

#[test]
fn pull_request_lifecycle() {
    let (fake, forge, head) = setup();
    fake.state()
        .refs
        .insert("heads/promote/a".into(), head.clone());
    let pr = forge.create_pr(&spec("promote/a")).unwrap();
    assert_eq!(
        (pr.number, pr.head.as_str(), pr.base.as_str()),
        (1, "promote/a", "main")
    );
    assert_eq!(pr.node_id.as_deref(), Some("PR_kwDO1"));
    assert_eq!(fake.pulls()[0].labels, ["promotion"]);
    // The listing into `main` holds it, and only it; none is open after it is closed.
    let listed = forge.list_open_prs("main").unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|p| (p.number, p.head.as_str(), p.base.as_str()))
            .collect::<Vec<_>>(),
        [(1, "promote/a", "main")]
    );
    let mut newer = spec("promote/a");
    newer.title = "promote 2".into();
    assert_eq!(forge.update_pr(1, &newer).unwrap().title, "promote 2");
    forge.close_pr(1, Some("superseded by #2")).unwrap();
    assert_eq!(fake.pulls()[0].state, "closed");
    assert_eq!(fake.comments(), [(1, "superseded by #2".to_owned())]);
    assert_eq!(
        forge.list_open_prs("main").unwrap(),
        [],
        "closed: none open"
    );

    let requests = fake.requests();
    let shape: Vec<_> = requests
        .iter()
        .map(|r| format!("{} {} {}", r.method, r.path, r.body))
        .collect();
    assert_eq!(
        shape,
        [
            format!(
                r#"POST {REPO}/pulls {{"base":"main","body":"| component | from | to |","head":"promote/a","title":"promote integration to live"}}"#
            ),
            format!(r#"POST {REPO}/issues/1/labels {{"labels":["promotion"]}}"#),
            format!("GET {REPO}/pulls?base=main&state=open&per_page=100 null"),
            format!(
                r#"PATCH {REPO}/pulls/1 {{"base":"main","body":"| component | from | to |","title":"promote 2"}}"#
            ),
            format!(r#"POST {REPO}/issues/1/labels {{"labels":["promotion"]}}"#),
            format!(r#"POST {REPO}/issues/1/comments {{"body":"superseded by #2"}}"#),
            format!(r#"PATCH {REPO}/pulls/1 {{"state":"closed"}}"#),
            format!("GET {REPO}/pulls?base=main&state=open&per_page=100 null"),
        ]
    );
}

#[test]
fn duplicate_pull_request_answer_returns_the_open_one() {
    let (fake, forge, head) = setup();
    fake.state().refs.insert("heads/promote/a".into(), head);
    let number = fake.open_pull("promote/a", "main", "by hand", None);
    let pr = forge.create_pr(&spec("promote/a")).unwrap();
    assert_eq!(pr.number, number);
    assert_eq!(fake.pulls().len(), 1);
    // The open one is looked up by this repository's head branch.
    assert_eq!(
        fake.request_lines(),
        [
            format!("POST {REPO}/pulls"),
            format!("GET {REPO}/pulls?head=acme%3Apromote%2Fa&base=main&state=open&per_page=100"),
            format!("POST {REPO}/issues/{number}/labels"),
        ]
    );
}

#[test]
fn lost_answer_on_create_pr_does_not_open_a_second_one() {
    let (fake, forge, head) = setup();
    fake.state().refs.insert("heads/promote/a".into(), head);
    fake.fail_after_effect("POST", "/pulls", 502);
    let pr = forge.create_pr(&spec("promote/a")).unwrap();
    assert_eq!(pr.number, 1);
    assert_eq!(fake.pulls().len(), 1);
    let lines = fake.request_lines();
    assert_eq!(
        lines
            .iter()
            .filter(|l| *l == &format!("POST {REPO}/pulls"))
            .count(),
        2
    );
}

/// One listing of the open pull requests into a base: this repository's head branches, also
/// one that is not promote's (callers match exact names); a fork's branch of the same name and a
/// pull request into another base are not there.
#[test]
fn open_prs_into_a_base_skip_forks() {
    let (fake, forge, head) = setup();
    fake.state().refs.insert("heads/promote/a".into(), head);
    fake.open_pull("promote/a", "main", "ours", None);
    fake.open_pull("promote/a", "main", "fork", Some("mallory/gitops"));
    fake.open_pull("feature/x", "main", "other", None);
    fake.open_pull("promote/a", "live", "into live", None);
    let prs = forge.list_open_prs("main").unwrap();
    let titles: Vec<_> = prs.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(titles, ["other", "ours"]);
    assert!(prs.iter().all(|p| p.base == "main"), "{prs:?}");
    assert_eq!(
        fake.request_lines(),
        [format!(
            "GET {REPO}/pulls?base=main&state=open&per_page=100"
        )]
    );
}

/// More open pull requests than a page holds (100): the `Link: rel="next"` page is read too,
/// and ours, the oldest, is on it (GitHub lists the newest first). Forks on both pages are left
/// out.
#[test]
fn open_prs_read_every_page() {
    let (fake, forge, _) = setup();
    let ours = fake.open_pull("promote/live/a", "main", "ours", None);
    for i in 0..120 {
        let repo = (i % 10 == 0).then_some("mallory/gitops");
        fake.open_pull(&format!("feature/{i}"), "main", "other", repo);
    }
    fake.open_pull("promote/live/a", "main", "fork", Some("mallory/gitops"));
    let prs = forge.list_open_prs("main").unwrap();
    assert_eq!(prs.len(), 1 + 120 - 12, "every page, no fork");
    let found: Vec<_> = prs.iter().filter(|p| p.head == "promote/live/a").collect();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].number, found[0].title.as_str()), (ours, "ours"));
    assert_eq!(
        fake.request_lines(),
        [
            format!("GET {REPO}/pulls?base=main&state=open&per_page=100"),
            format!("GET {REPO}/pulls?base=main&state=open&per_page=100&page=2"),
        ]
    );
    // The fake pages as GitHub does: 30 a page without `per_page`, 100 at most.
    let page = |query: &str| {
        let (status, body, link) = fake.get(&format!("{REPO}/pulls?{query}"));
        assert_eq!(status, 200, "{body}");
        (body.as_array().map_or(0, Vec::len), link)
    };
    assert_eq!(page("base=main").0, 30);
    assert!(page("base=main").1.is_some_and(|l| l.contains("page=2")));
    assert_eq!(page("base=main&per_page=500").0, 100);
    assert_eq!(page("base=main&per_page=100&page=2").0, 22);
    assert_eq!(page("base=main&per_page=100&page=2").1, None);
}

#[test]
fn auto_merge_and_clean_status_merge() {
    let (fake, forge, head) = setup();
    fake.state().refs.insert("heads/promote/a".into(), head);
    let pr = forge.create_pr(&spec("promote/a")).unwrap();
    fake.clear_requests();
    forge.enable_auto_merge(&pr).unwrap();
    assert!(fake.pulls()[0].auto_merge);
    // The repository's settings first, then the mutation with the preferred method.
    assert_eq!(
        fake.request_lines(),
        [format!("GET {REPO}"), "POST /graphql".to_owned()]
    );
    let request = &fake.requests()[1];
    assert_eq!(
        request.body["variables"],
        json!({ "id": "PR_kwDO1", "method": "SQUASH" })
    );

    fake.state().clean_status = true;
    fake.clear_requests();
    forge
        .enable_auto_merge_as(&pr, promote::forge::MergeMethod::Rebase)
        .unwrap();
    assert!(
        fake.pulls()[0].merged,
        "a pull request with nothing to wait for is merged"
    );
    assert_eq!(fake.pulls()[0].merged_with.as_deref(), Some("rebase"));
    assert_eq!(
        fake.request_lines(),
        [
            "POST /graphql".to_owned(),
            format!("PUT {REPO}/pulls/1/merge")
        ]
    );
    assert_eq!(fake.requests()[1].body, json!({ "merge_method": "rebase" }));
    let err = forge.merge_pr(1).unwrap_err();
    assert!(matches!(err, ForgeError::Conflict { .. }), "{err}");
}

#[test]
fn a_squash_only_repository_refuses_merge_and_promote_picks_squash() {
    use promote::forge::MergeMethod;
    let (fake, forge, head) = setup();
    fake.squash_only();
    fake.state()
        .refs
        .insert("heads/promote/a".into(), head.clone());
    fake.state().refs.insert("heads/promote/b".into(), head);
    let a = forge.create_pr(&spec("promote/a")).unwrap();
    // What a missing `mergeMethod` means (MERGE) is refused here...
    let err = forge
        .enable_auto_merge_as(&a, MergeMethod::Merge)
        .unwrap_err();
    assert!(
        err.to_string().contains("Merge commits are not allowed"),
        "{err}"
    );
    assert!(!fake.pulls()[0].auto_merge);
    let err = forge.merge_pr_as(a.number, MergeMethod::Merge).unwrap_err();
    assert!(
        err.to_string().contains("Merge commits are not allowed"),
        "{err}"
    );
    // ...and the repository's settings lead to squash, which works.
    assert_eq!(forge.merge_methods().unwrap(), [MergeMethod::Squash]);
    forge.enable_auto_merge(&a).unwrap();
    assert_eq!(fake.pulls()[0].auto_merge_method.as_deref(), Some("SQUASH"));
    let b = forge.create_pr(&spec("promote/b")).unwrap();
    forge.merge_pr(b.number).unwrap();
    assert_eq!(fake.pulls()[1].merged_with.as_deref(), Some("squash"));
}

#[test]
fn tags_are_created_once_and_checked_when_present() {
    let (fake, forge, first) = setup();
    let second = fake.commit_files("main", "next", &[("x", "1")]);
    assert_eq!(
        forge.create_tag("cilium-1.16.0", &first).unwrap(),
        TagOutcome::Created
    );
    assert_eq!(
        forge.create_tag("cilium-1.16.0", &first).unwrap(),
        TagOutcome::Exists
    );
    let err = forge.create_tag("cilium-1.16.0", &second).unwrap_err();
    assert!(
        matches!(&err, ForgeError::Conflict { what } if what.contains(&first)),
        "{err}"
    );
    assert_eq!(fake.tag("cilium-1.16.0"), Some(first.clone()));
    let requests = fake.requests();
    assert_eq!(
        requests[0].body,
        json!({ "ref": "refs/tags/cilium-1.16.0", "sha": first })
    );
    assert_eq!(
        fake.request_lines(),
        [
            format!("POST {REPO}/git/refs"),
            format!("POST {REPO}/git/refs"),
            format!("GET {REPO}/git/ref/tags/cilium-1.16.0"),
            format!("POST {REPO}/git/refs"),
            format!("GET {REPO}/git/ref/tags/cilium-1.16.0"),
        ]
    );
}

#[test]
fn unauthorized_forbidden_and_not_found() {
    let (fake, forge, head) = setup();
    fake.fail(
        "GET",
        "/git/ref/heads/main",
        401,
        json!({ "message": "Bad credentials" }),
        1,
    );
    assert!(matches!(
        forge.branch_head("main"),
        Err(ForgeError::Unauthorized)
    ));
    let denied = json!({ "message": "Resource not accessible by integration" });
    fake.fail("POST", "/pulls", 403, denied, 1);
    match forge.create_pr(&spec("main")) {
        Err(ForgeError::Forbidden { permission, .. }) => {
            assert_eq!(permission, "pull-requests: write")
        }
        other => panic!("expected forbidden, got {other:?}"),
    }
    assert!(matches!(
        forge.branch_head("nope"),
        Err(ForgeError::NotFound { .. })
    ));
    let err = forge.create_commit("nope", &head, "m", &[]).unwrap_err();
    assert!(matches!(err, ForgeError::NotFound { .. }), "{err}");
    assert_eq!(fake.requests().len(), 4, "none of these is retried");
}

#[test]
fn rate_limits_are_retried_then_reported_with_reset() {
    let (fake, forge, _) = setup();
    let limited = json!({ "message": "API rate limit exceeded" });
    let headers = [
        ("x-ratelimit-remaining", "0"),
        ("x-ratelimit-reset", "1700000000"),
    ];
    fake.fail_with_headers("GET", "/git/ref/", 403, limited, &headers, 3);
    match forge.branch_head("main") {
        Err(ForgeError::RateLimited { reset }) => assert_eq!(reset, Some(1_700_000_000)),
        other => panic!("expected rate limited, got {other:?}"),
    }
    assert_eq!(fake.requests().len(), 3, "bounded: three tries");

    let secondary = json!({ "message": "You have exceeded a secondary rate limit." });
    fake.fail("GET", "/git/ref/", 403, secondary, 1);
    fake.fail_with_headers(
        "GET",
        "/git/ref/",
        429,
        json!({ "message": "slow down" }),
        &[("retry-after", "0")],
        1,
    );
    assert!(
        forge.branch_head("main").is_ok(),
        "recovers after two limited answers"
    );
    assert_eq!(fake.requests().len(), 6);
}

#[test]
fn server_errors_retry_reads_but_not_comments() {
    let (fake, forge, head) = setup();
    fake.fail(
        "GET",
        "/contents/",
        502,
        json!({ "message": "Bad Gateway" }),
        2,
    );
    let bytes = forge
        .read_file("clusters/live/versions.env", &head)
        .unwrap();
    assert_eq!(bytes.as_deref(), Some(&b"CILIUM=1.15.0\n"[..]));
    assert_eq!(fake.requests().len(), 3);

    fake.state().refs.insert("heads/promote/a".into(), head);
    forge.create_pr(&spec("promote/a")).unwrap();
    fake.clear_requests();
    fake.fail(
        "POST",
        "/comments",
        502,
        json!({ "message": "Bad Gateway" }),
        1,
    );
    let err = forge.comment(1, "hello").unwrap_err();
    assert!(err.to_string().contains("502"), "{err}");
    assert_eq!(fake.requests().len(), 1, "a comment is never sent twice");
}

#[test]
fn moved_ref_on_patch_is_a_conflict_and_not_retried() {
    let (fake, forge, first) = setup();
    fake.state()
        .refs
        .insert("heads/promote/a".into(), first.clone());
    let body: Value = json!({ "message": "Update is not a fast forward" });
    fake.fail("PATCH", "/git/refs/heads/promote/a", 422, body, 1);
    let err = forge.set_branch("promote/a", &first, false).unwrap_err();
    assert!(matches!(err, ForgeError::Conflict { .. }), "{err}");
    fake.fail(
        "PATCH",
        "/git/refs/heads/promote/a",
        409,
        json!({ "message": "Conflict" }),
        1,
    );
    let err = forge.set_branch("promote/a", &first, false).unwrap_err();
    assert!(matches!(err, ForgeError::Conflict { .. }), "{err}");
}

#[test]
fn check_runs_are_read_across_pages_latest_per_name() {
    let (fake, forge, head) = setup();
    fake.add_check_run(&head, "deploy", "completed", Some("failure"), "argo-cd");
    for i in 0..150 {
        let name = format!("build ({i})");
        fake.add_check_run(&head, &name, "completed", Some("success"), "github-actions");
    }
    fake.add_check_run(&head, "deploy", "completed", Some("success"), "argo-cd");
    let runs = forge.list_check_runs(&head).unwrap();
    assert_eq!(runs.len(), 151, "the older `deploy` run is not listed");
    let deploy: Vec<_> = runs.iter().filter(|r| r.context == "deploy").collect();
    assert_eq!(deploy.len(), 1);
    assert_eq!(
        (
            deploy[0].state.as_str(),
            deploy[0].creator.as_deref(),
            deploy[0].description.as_deref(),
            deploy[0].target_url.as_deref(),
            deploy[0].updated_at.as_deref(),
        ),
        (
            "success",
            Some("argo-cd"),
            Some("deploy success"),
            Some("https://github.test/acme/gitops/runs/152"),
            Some("2024-05-01T10:05:05Z"),
        )
    );
    assert_eq!(runs[150].context, "build (0)");
    assert_eq!(runs[150].creator.as_deref(), Some("github-actions"));
    assert_eq!(
        fake.request_lines(),
        [
            format!("GET {REPO}/commits/{head}/check-runs?filter=latest&per_page=100"),
            format!("GET {REPO}/commits/{head}/check-runs?filter=latest&per_page=100&page=2"),
        ]
    );
}

#[test]
fn check_run_conclusions_map_to_states() {
    let (fake, forge, head) = setup();
    let cases = [
        ("completed", Some("success"), "success"),
        ("completed", Some("neutral"), "success"),
        ("completed", Some("skipped"), "success"),
        ("completed", Some("failure"), "failure"),
        ("completed", Some("cancelled"), "failure"),
        ("completed", Some("timed_out"), "failure"),
        ("completed", Some("action_required"), "failure"),
        ("completed", Some("stale"), "failure"),
        ("queued", None, "pending"),
        ("in_progress", None, "pending"),
    ];
    for (status, conclusion, _) in cases {
        let name = conclusion.unwrap_or(status);
        fake.add_check_run(&head, name, status, conclusion, "github-actions");
    }
    let runs = forge.list_check_runs(&head).unwrap();
    let mut got: Vec<_> = runs
        .iter()
        .map(|r| (r.context.as_str(), r.state.as_str(), r.creator.as_deref()))
        .collect();
    got.sort();
    let mut want: Vec<_> = cases
        .iter()
        .map(|(status, conclusion, state)| {
            (conclusion.unwrap_or(status), *state, Some("github-actions"))
        })
        .collect();
    want.sort();
    assert_eq!(got, want);
    let queued = runs.iter().find(|r| r.context == "queued").unwrap();
    assert!(
        queued.updated_at.is_some(),
        "a run that has not completed is dated by `started_at`"
    );
    assert_eq!(fake.requests().len(), 1, "ten runs fit on one page");
}

#[test]
fn check_runs_of_an_unknown_commit_or_without_permission() {
    let (fake, forge, head) = setup();
    let missing = "0123456789abcdef0123456789abcdef01234567";
    let err = forge.list_check_runs(missing).unwrap_err();
    assert!(
        matches!(&err, ForgeError::NotFound { what } if what.contains(missing)),
        "{err}"
    );
    let denied = json!({ "message": "Resource not accessible by integration" });
    fake.fail("GET", "/check-runs", 403, denied, 1);
    match forge.list_check_runs(&head) {
        Err(ForgeError::Forbidden { permission, .. }) => assert_eq!(permission, "checks: read"),
        other => panic!("expected forbidden, got {other:?}"),
    }
    assert_eq!(fake.requests().len(), 2, "neither is retried");
}

#[test]
fn recent_commits_are_newest_first_with_parents_and_limited() {
    let (fake, forge, first) = setup();
    let second = fake.commit_files("main", "bump cilium\n\nto 1.16.0", &[("x", "1")]);
    let third = fake.commit_files("main", "bump dex", &[("x", "2")]);
    fake.state()
        .refs
        .insert("heads/release/v1".into(), second.clone());

    let all = forge.recent_commits("main", 10).unwrap();
    let shape: Vec<_> = all
        .iter()
        .map(|c| (c.sha.as_str(), c.message.as_str(), c.parents.clone()))
        .collect();
    assert_eq!(
        shape,
        [
            (third.as_str(), "bump dex", vec![second.clone()]),
            (
                second.as_str(),
                "bump cilium\n\nto 1.16.0",
                vec![first.clone()]
            ),
            (first.as_str(), "initial", vec![]),
        ]
    );
    let two = forge.recent_commits("main", 2).unwrap();
    assert_eq!(two, all[..2]);
    let one = forge.recent_commits(&second, 1).unwrap();
    assert_eq!(one, all[1..2]);
    let branch = forge.recent_commits("release/v1", 5).unwrap();
    assert_eq!(branch, all[1..]);
    assert_eq!(
        fake.request_lines(),
        [
            format!("GET {REPO}/commits?sha=main&per_page=10"),
            format!("GET {REPO}/commits?sha=main&per_page=2"),
            format!("GET {REPO}/commits?sha={second}&per_page=1"),
            format!("GET {REPO}/commits?sha=release%2Fv1&per_page=5"),
        ]
    );
}

#[test]
fn recent_commits_beyond_one_page_follow_the_next_link() {
    let (fake, forge, _) = setup();
    for i in 0..149 {
        fake.commit_files("main", &format!("commit {i}"), &[("n", &i.to_string())]);
    }
    let commits = forge.recent_commits("main", 120).unwrap();
    assert_eq!(commits.len(), 120);
    assert_eq!(commits[0].message, "commit 148");
    assert_eq!(commits[119].message, "commit 29");
    for pair in commits.windows(2) {
        assert_eq!(pair[0].parents, [pair[1].sha.clone()]);
    }
    assert_eq!(forge.recent_commits("main", 500).unwrap().len(), 150);
    assert_eq!(forge.recent_commits("main", 0).unwrap(), []);
    assert_eq!(
        fake.request_lines(),
        [
            format!("GET {REPO}/commits?sha=main&per_page=100"),
            format!("GET {REPO}/commits?sha=main&per_page=100&page=2"),
            format!("GET {REPO}/commits?sha=main&per_page=100"),
            format!("GET {REPO}/commits?sha=main&per_page=100&page=2"),
        ],
        "a limit of 0 asks nothing"
    );
}

#[test]
fn is_ancestor_compares_descendant_with_ancestor() {
    let (fake, forge, first) = setup();
    let second = fake.commit_files("main", "next", &[("x", "1")]);
    fake.state()
        .refs
        .insert("heads/feature".into(), first.clone());
    let side = fake.commit_files("feature", "side", &[("y", "1")]);
    assert!(forge.is_ancestor(&first, &second).unwrap(), "an ancestor");
    assert!(
        forge.is_ancestor(&second, &second).unwrap(),
        "the commit itself"
    );
    assert!(!forge.is_ancestor(&second, &first).unwrap(), "a descendant");
    assert!(
        !forge.is_ancestor(&side, &second).unwrap(),
        "another branch"
    );
    assert!(
        !forge.is_ancestor(&second, &side).unwrap(),
        "another branch"
    );
    assert_eq!(
        fake.request_lines(),
        [
            format!("GET {REPO}/compare/{second}...{first}?per_page=1"),
            format!("GET {REPO}/compare/{second}...{second}?per_page=1"),
            format!("GET {REPO}/compare/{first}...{second}?per_page=1"),
            format!("GET {REPO}/compare/{second}...{side}?per_page=1"),
            format!("GET {REPO}/compare/{side}...{second}?per_page=1"),
        ]
    );
}

/// `read_files`: aliased `object(expression: "<sha>:<path>")` blobs in one GraphQL query, in
/// order; a missing path is `None`; a truncated blob, a binary one and one whose text is not its
/// bytes (not UTF-8) are read through the REST raw contents. A branch read in more than one
/// query is pinned to the commit the first query finds.
#[test]
fn read_files_batches_graphql_blobs_and_falls_back_to_rest_raw() {
    let fake = FakeGitHub::start("acme/gitops");
    let mut files: Vec<(String, String)> = (0..150)
        .map(|i| {
            (
                format!("apps/app-{i:03}.yaml"),
                format!("version: 1.{i}.0\n"),
            )
        })
        .collect();
    files.push(("big.yaml".into(), "x".repeat(64)));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let head = fake.commit_files("main", "apps", &refs);
    {
        let mut state = fake.state();
        let commit = state.commits.get_mut(&head).unwrap();
        commit
            .files
            .insert("logo.png".into(), vec![0x89, b'P', 0, 1, 2]);
        commit
            .files
            .insert("latin1.txt".into(), b"caf\xe9\n".to_vec());
        state.blob_text_limit = Some(32);
    }
    let forge = forge_at(fake.url(), None);
    let mut paths: Vec<String> = files.iter().map(|(p, _)| p.clone()).collect();
    paths.extend(["logo.png", "latin1.txt", "missing.yaml"].map(String::from));

    let got = forge.read_files(&head, &paths).unwrap();

    assert_eq!(got.len(), paths.len());
    for (i, (path, text)) in files.iter().enumerate() {
        assert_eq!(got[i].as_deref(), Some(text.as_bytes()), "{path}");
    }
    assert_eq!(got[151].as_deref(), Some(&[0x89, b'P', 0, 1, 2][..]));
    assert_eq!(got[152].as_deref(), Some(&b"caf\xe9\n"[..]));
    assert_eq!(got[153], None, "a missing path");
    let queries = fake.graphql_requests("on Blob");
    let sizes: Vec<usize> = queries
        .iter()
        .map(|r| r.body["variables"].as_object().unwrap().len() - 2)
        .collect();
    assert_eq!(sizes, [154], "one query");
    assert_eq!(
        queries[0].body["variables"]["e0"],
        format!("{head}:apps/app-000.yaml")
    );
    let rest: Vec<String> = fake
        .request_lines()
        .into_iter()
        .filter(|l| l.starts_with("GET"))
        .collect();
    assert_eq!(
        rest,
        [
            format!("GET {REPO}/contents/big.yaml?ref={head}"),
            format!("GET {REPO}/contents/logo.png?ref={head}"),
            format!("GET {REPO}/contents/latin1.txt?ref={head}"),
        ],
        "truncated, binary and not UTF-8: REST raw"
    );

    // Read again at the commit: nothing is asked twice.
    fake.clear_requests();
    assert_eq!(forge.read_files(&head, &paths).unwrap(), got);
    assert_eq!(forge.read_file("apps/app-007.yaml", &head).unwrap(), got[7]);
    assert!(fake.requests().is_empty(), "{:?}", fake.request_lines());

    // At a branch, in one query: read as it is.
    let moved = fake.commit_files("main", "later", &[("apps/app-149.yaml", "version: 9\n")]);
    fake.clear_requests();
    let at_main = forge.read_files("main", &paths[..150]).unwrap();
    assert_eq!(at_main[149].as_deref(), Some(&b"version: 9\n"[..]));
    let queries = fake.graphql_requests("on Blob");
    assert_eq!(queries.len(), 1);
    assert_eq!(queries[0].body["variables"]["e0"], "main:apps/app-000.yaml");

    // At a branch in more than one query (GitHub gave up on the whole): the first query that
    // answers resolves it, the next ones read that commit.
    fake.state().read_failure = Some((100, 502));
    let forge = forge_at(fake.url(), None);
    fake.clear_requests();
    assert_eq!(forge.read_files("main", &paths[..150]).unwrap(), at_main);
    let queries = fake.graphql_requests("on Blob");
    let vars = |i: usize| queries[i].body["variables"].as_object().unwrap().clone();
    assert_eq!(queries.len(), 3, "{:?}", fake.request_lines());
    assert_eq!(
        vars(0).len(),
        2 + 150,
        "not resolved: one query was planned"
    );
    assert_eq!(vars(1)["rev"], "main");
    assert_eq!(vars(1)["e0"], "main:apps/app-000.yaml");
    assert_eq!(vars(1).len(), 3 + 75);
    assert_eq!(vars(2)["e0"], format!("{moved}:apps/app-075.yaml"));
    assert_eq!(vars(2).len(), 2 + 75);
}

/// Files of `count` copies of `text` (`apps/app-NNNN.yaml`) at a new commit of `main`.
fn many_files(fake: &FakeGitHub, count: usize, text: &str) -> (String, Vec<String>) {
    let files: Vec<(String, String)> = (0..count)
        .map(|i| (format!("apps/app-{i:04}.yaml"), format!("{text}{i}\n")))
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let head = fake.commit_files("main", "apps", &refs);
    (head, files.into_iter().map(|(p, _)| p).collect())
}

/// Files per read query, in the order sent.
fn read_queries(fake: &FakeGitHub) -> Vec<usize> {
    fake.graphql_requests("on Blob")
        .iter()
        .map(|r| {
            let vars = r.body["variables"].as_object().unwrap();
            vars.keys().filter(|k| k.starts_with('e')).count()
        })
        .collect()
}

/// 2,000 files are one query. When GitHub ends it as too big or too slow (a 502 or 504 from
/// its proxy, or a 200 whose error says it may be a timeout), it is read in halves, and the
/// rest of the run asks no more than the half that worked; the files are all there.
#[test]
fn a_read_query_github_gives_up_on_is_split_in_halves() {
    use promote::forge::github::READ_FILES;
    let fake = FakeGitHub::start("acme/gitops");
    let (head, paths) = many_files(&fake, 2_000, "version: 1.");
    let forge = forge_at(fake.url(), None);
    let whole = forge.read_files(&head, &paths).unwrap();
    assert_eq!(read_queries(&fake), [2_000], "one query");
    const { assert!(READ_FILES >= 2_000) };
    for status in [502, 504, 200] {
        fake.state().read_failure = Some((300, status));
        let forge = forge_at(fake.url(), None);
        fake.clear_requests();
        assert_eq!(forge.read_files(&head, &paths).unwrap(), whole, "{status}");
        let mut expected = vec![2_000, 1_000, 500];
        expected.extend([250; 8]);
        assert_eq!(read_queries(&fake), expected, "{status}");
        assert!(fake.request_lines().iter().all(|l| l.starts_with("POST")));
        // Later reads start at the size that worked.
        let (_, more) = many_files(&fake, 600, "other: ");
        let at = fake.head("main").unwrap();
        fake.clear_requests();
        let read = forge.read_files(&at, &more).unwrap();
        assert_eq!(read[599].as_deref(), Some(&b"other: 599\n"[..]));
        assert_eq!(read_queries(&fake), [250, 250, 100], "{status}");
    }
}

/// A read that fails whatever its size fails the call: the halves go down to a few files (a
/// query that small is retried as any request), not on and on.
#[test]
fn a_read_that_always_fails_stops_after_a_few_halvings() {
    use promote::forge::github::READ_SPLIT_MIN;
    let fake = FakeGitHub::start("acme/gitops");
    let (head, paths) = many_files(&fake, 2_000, "version: 1.");
    fake.state().read_failure = Some((0, 502));
    let forge = forge_at(fake.url(), None);
    let err = forge.read_files(&head, &paths).unwrap_err();
    assert!(err.to_string().contains("502"), "{err}");
    let sizes = read_queries(&fake);
    // 2,000, 1,000, ... halved while bigger than READ_SPLIT_MIN, the last one tried 3 times.
    assert_eq!(sizes, [2_000, 1_000, 500, 250, 125, 62, 31, 15, 15, 15]);
    assert!(sizes[7] <= READ_SPLIT_MIN);
    // Other failures are not a query too big: a 500 is retried as it is, a 403 not at all.
    for (status, tries) in [(500, 3), (403, 1)] {
        fake.state().read_failure = None;
        fake.fail_graphql("on Blob", status, json!({ "message": "nope" }), 9);
        fake.clear_requests();
        let forge = forge_at(fake.url(), None);
        assert!(forge.read_files(&head, &paths).is_err());
        assert_eq!(read_queries(&fake), vec![2_000; tries], "{status}");
        fake.state().failures.clear();
    }
}

/// With the sizes a tree listing gives, a read query brings back at most READ_BYTES of text;
/// without (fixed paths), it counts files only.
#[test]
fn read_queries_are_cut_by_the_bytes_the_tree_listing_announces() {
    use promote::forge::github::READ_BYTES;
    let fake = FakeGitHub::start("acme/gitops");
    let big = "x".repeat(usize::try_from(READ_BYTES).unwrap() / 3 + 10);
    let (head, paths) = many_files(&fake, 10, &big);
    let forge = forge_at(fake.url(), None);
    let whole = forge.read_files(&head, &paths).unwrap();
    assert_eq!(
        read_queries(&fake),
        [10],
        "sizes unknown: files counted only"
    );
    let forge = forge_at(fake.url(), None);
    assert_eq!(forge.list_tree(&head).unwrap(), paths);
    fake.clear_requests();
    assert_eq!(forge.read_files(&head, &paths).unwrap(), whole);
    assert_eq!(
        read_queries(&fake),
        [2, 2, 2, 2, 2],
        "over a third of the budget each"
    );
}

/// `list_checks`: statuses (newest per context, a bot's login as REST spells it) and check
/// runs from one `statusCheckRollup` query, page after page; REST when GraphQL refuses.
#[test]
fn list_checks_reads_the_status_check_rollup_and_falls_back_to_rest() {
    let (fake, forge, head) = setup();
    fake.add_status(&head, "kustomization/a/integration", "failure", "flux-bot");
    fake.add_status(&head, "kustomization/a/integration", "success", "flux-bot");
    fake.add_status(&head, "ci/lint", "success", "github-actions[bot]");
    fake.add_check_run(
        &head,
        "build",
        "completed",
        Some("success"),
        "github-actions",
    );
    fake.add_check_run(&head, "e2e", "in_progress", None, "github-actions");
    fake.state().rollup_page = Some(2);

    let checks = forge.list_checks(&head).unwrap();

    let statuses: Vec<(&str, &str, Option<&str>)> = checks
        .statuses
        .iter()
        .map(|s| (s.context.as_str(), s.state.as_str(), s.creator.as_deref()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("ci/lint", "success", Some("github-actions[bot]")),
            ("kustomization/a/integration", "success", Some("flux-bot")),
        ]
    );
    assert!(checks.latest_only);
    let runs: Vec<(&str, &str, Option<&str>)> = checks
        .check_runs
        .iter()
        .map(|s| (s.context.as_str(), s.state.as_str(), s.creator.as_deref()))
        .collect();
    assert_eq!(
        runs,
        [
            ("e2e", "pending", Some("github-actions")),
            ("build", "success", Some("github-actions")),
        ]
    );
    let queries = fake.graphql_requests("statusCheckRollup");
    assert_eq!(queries.len(), 2, "two pages of two contexts, then one");
    assert_eq!(queries[1].body["variables"]["after"], "cursor:2");
    assert_eq!(fake.requests().len(), 2, "{:?}", fake.request_lines());

    // A token GraphQL refuses the checks to: REST, with every status.
    fake.clear_requests();
    let forbidden = json!({ "data": null, "errors": [{ "type": "FORBIDDEN", "message": "Resource not accessible by integration" }] });
    fake.fail_graphql("statusCheckRollup", 200, forbidden, 1);
    let checks = forge.list_checks(&head).unwrap();
    assert!(!checks.latest_only);
    assert_eq!(checks.statuses.len(), 3, "every status");
    assert_eq!(checks.check_runs.len(), 2);
    assert_eq!(
        fake.request_lines()[1..],
        [
            format!("GET {REPO}/commits/{head}/statuses?per_page=100"),
            format!("GET {REPO}/commits/{head}/check-runs?filter=latest&per_page=100"),
        ]
    );
}
