//! Delivery through `GitHubForge` against the fake GitHub: the HTTP conversation of a whole
//! commit or pull-request delivery.

#![allow(clippy::unwrap_used)]

use serde_json::json;

use crate::fake_github::FakeGitHub;
use crate::github_contract::{REPO, setup};
use promote::forge::FileChange;

fn delivery(
    fake: &FakeGitHub,
    base: &str,
    mode: promote::forge::deliver::DeliveryMode,
) -> promote::forge::deliver::Delivery {
    let text = fake.file(base, "clusters/live/versions.env").unwrap();
    promote::forge::deliver::Delivery {
        target_branch: "main".into(),
        base: base.into(),
        mode,
        message: "promote cilium".into(),
        files: vec![FileChange {
            path: "clusters/live/versions.env".into(),
            contents: Some(text.replace("1.15.0", "1.16.0").into_bytes()),
        }],
        pull_request: promote::forge::deliver::PullRequestOptions {
            branch: "promote/integration-to-live".into(),
            title: "promote integration to live".into(),
            body: "body".into(),
            labels: vec!["promotion".into()],
            auto_merge: true,
            merge_method: None,
            supersedes: vec!["promote/old".into()],
        },
        components: Vec::new(),
    }
}

#[test]
fn commit_delivery_over_http_retries_a_stale_head() {
    use promote::forge::deliver::{DeliveryMode, deliver};
    let (fake, forge, head) = setup();
    let stale = json!({ "data": null, "errors": [{ "type": "STALE_DATA", "message": "Expected branch to point to \"x\" but it did not.  Pull and try again." }] });
    fake.fail_graphql("createCommitOnBranch", 200, stale, 1);
    let plan = delivery(&fake, &head, DeliveryMode::Commit);
    let report = deliver(&forge, &plan, |_: &str| {
        Ok::<_, std::convert::Infallible>(None)
    })
    .unwrap();
    let sha = report.commit_sha.clone().unwrap();
    assert_eq!(report.attempts, 2);
    assert_eq!(fake.head("main"), Some(sha));
    // The first attempt builds on the planned head (no read of it); the refused commit makes
    // the second read the head, and the file read at that commit before is not read again.
    assert_eq!(
        fake.request_lines(),
        [
            "POST /graphql".to_owned(),
            "POST /graphql".to_owned(),
            format!("GET {REPO}/git/ref/heads/main"),
            "POST /graphql".to_owned(),
        ]
    );
    let reads = fake.graphql_requests("object(expression:");
    assert_eq!(reads.len(), 1);
    assert_eq!(
        reads[0].body["variables"]["e0"],
        format!("{head}:clusters/live/versions.env")
    );
    assert_eq!(fake.graphql_requests("createCommitOnBranch").len(), 2);
}

#[test]
fn pull_request_delivery_over_http_twice_keeps_one_pr() {
    use promote::forge::deliver::{DeliveryMode, deliver};
    let (fake, forge, head) = setup();
    let old = fake.commit_files("promote/old", "old", &[]);
    let superseded = fake.open_pull("promote/old", "main", "old promotion", None);
    let plan = delivery(&fake, &head, DeliveryMode::PullRequest);
    let none = |_: &str| Ok::<_, std::convert::Infallible>(None);
    let first = deliver(&forge, &plan, none).unwrap();
    let second = deliver(&forge, &plan, none).unwrap();

    let pr = &first.pull_requests[0];
    assert_eq!(second.pull_requests[0].number, pr.number);
    assert_eq!(first.closed_pull_requests, [superseded]);
    assert_eq!(first.auto_merge, [pr.number]);
    let pulls = fake.pulls();
    assert_eq!(pulls.len(), 2);
    assert_eq!(pulls[0].state, "closed");
    assert!(pulls[1].auto_merge);
    assert_eq!(pulls[1].labels, ["promotion"]);
    let branch = "promote/integration-to-live";
    assert_eq!(
        fake.file(branch, "clusters/live/versions.env").unwrap(),
        "CILIUM=1.16.0\n"
    );
    assert_eq!(
        fake.commit(&fake.head(branch).unwrap()).unwrap().parent,
        Some(head)
    );
    assert_eq!(fake.head("promote/old"), Some(old));
    let commits = fake.graphql_requests("mutation").len();
    assert_eq!(commits, 3, "one commit and two auto-merge calls");
}
