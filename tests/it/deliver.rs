//! Delivery logic against the stateful `MemoryForge`: races, idempotency, pull requests, tags.

#![allow(clippy::unwrap_used)]

use promote::forge::deliver::{
    ComponentDelivery, Delivery, DeliveryError, DeliveryMode, PullRequestOptions, TagSpec,
    TagTarget, deliver,
};
use promote::forge::memory::{MemoryForge, PrState};
use promote::forge::{FileChange, Forge, ForgeError, TagOutcome};

const FILE: &str = "clusters/live/versions.env";

fn seeded() -> MemoryForge {
    let forge = MemoryForge::new();
    forge.commit_files(
        "main",
        "initial",
        &[(FILE, "CILIUM=1.15.0\nDEX=2.38.0\n"), ("README.md", "hi\n")],
    );
    forge
}

/// A tiny planner: set `key` to `version` in FILE as it is at `head`.
fn plan(
    forge: &MemoryForge,
    head: &str,
    key: &str,
    version: &str,
    mode: DeliveryMode,
) -> Option<Delivery> {
    let text = forge.file(head, FILE)?;
    let edited: String = text
        .lines()
        .map(|line| match line.split_once('=') {
            Some((k, _)) if k == key => format!("{k}={version}\n"),
            _ => format!("{line}\n"),
        })
        .collect();
    (edited != text).then(|| Delivery {
        target_branch: "main".into(),
        base: head.into(),
        mode,
        message: format!("promote {key} to {version}"),
        files: vec![FileChange {
            path: FILE.into(),
            contents: Some(edited.clone().into_bytes()),
        }],
        pull_request: PullRequestOptions {
            branch: "promote/integration-to-live".into(),
            title: format!("promote {key} {version}"),
            body: "| component | from | to |".into(),
            labels: vec!["promotion".into()],
            auto_merge: false,
            supersede_prefix: None,
        },
        components: vec![ComponentDelivery {
            component: key.to_lowercase(),
            version: version.into(),
            branch: format!("promote/live/{}", key.to_lowercase()),
            message: format!("promote {key} to {version}"),
            title: format!("promote {key} {version}"),
            body: String::new(),
            files: vec![FileChange {
                path: FILE.into(),
                contents: Some(edited.into_bytes()),
            }],
        }],
        tags: Vec::new(),
    })
}

fn run(
    forge: &MemoryForge,
    key: &str,
    version: &str,
    mode: DeliveryMode,
) -> Result<promote::forge::deliver::DeliveryReport, DeliveryError> {
    let head = forge.branch_head("main")?;
    let delivery = plan(forge, &head, key, version, mode).expect("something to promote");
    let (key, version) = (key.to_owned(), version.to_owned());
    deliver(forge, &delivery, |h: &str| {
        Ok::<_, std::convert::Infallible>(plan(forge, h, &key, &version, mode))
    })
}

#[test]
fn commit_lands_one_commit_with_message() {
    let forge = seeded();
    let report = run(&forge, "CILIUM", "1.16.0", DeliveryMode::Commit).unwrap();
    let head = forge.head("main").unwrap();
    assert_eq!(report.commit_sha.as_deref(), Some(head.as_str()));
    assert_eq!(report.attempts, 1);
    assert_eq!(
        forge.commit(&head).unwrap().message,
        "promote CILIUM to 1.16.0"
    );
    assert_eq!(
        forge.file("main", FILE).unwrap(),
        "CILIUM=1.16.0\nDEX=2.38.0\n"
    );
    assert_eq!(forge.history("main").len(), 2);
}

#[test]
fn race_both_deliveries_land_in_order_without_losing_an_edit() {
    let forge = seeded();
    let start = forge.head("main").unwrap();
    let first = plan(&forge, &start, "CILIUM", "1.16.0", DeliveryMode::Commit).unwrap();
    let second = plan(&forge, &start, "DEX", "2.39.0", DeliveryMode::Commit).unwrap();
    // The second promotion pushes just before the first one commits.
    let other = forge.clone();
    forge.before_next_commit(move || {
        let replan = |h: &str| {
            Ok::<_, std::convert::Infallible>(plan(
                &other,
                h,
                "DEX",
                "2.39.0",
                DeliveryMode::Commit,
            ))
        };
        deliver(&other, &second, replan).expect("second delivery");
    });
    let replan = |h: &str| {
        Ok::<_, std::convert::Infallible>(plan(&forge, h, "CILIUM", "1.16.0", DeliveryMode::Commit))
    };
    let report = deliver(&forge, &first, replan).unwrap();

    assert_eq!(report.attempts, 2, "the first attempt hit the moved branch");
    let history = forge.history("main");
    let messages: Vec<_> = history.iter().map(|c| c.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "promote CILIUM to 1.16.0",
            "promote DEX to 2.39.0",
            "initial"
        ]
    );
    assert_eq!(history[0].parent.as_deref(), Some(history[1].sha.as_str()));
    assert_eq!(
        forge.file("main", FILE).unwrap(),
        "CILIUM=1.16.0\nDEX=2.39.0\n"
    );
    assert!(
        !forge.calls().iter().any(|c| c.contains("force=true")),
        "the promotion branch is never force-pushed"
    );
}

#[test]
fn race_where_the_other_run_made_the_same_change_commits_nothing() {
    let forge = seeded();
    let start = forge.head("main").unwrap();
    let delivery = plan(&forge, &start, "CILIUM", "1.16.0", DeliveryMode::Commit).unwrap();
    let other = forge.clone();
    forge.before_next_commit(move || {
        other.set_file("main", FILE, "CILIUM=1.16.0\nDEX=2.38.0\n");
    });
    let replan = |h: &str| {
        Ok::<_, std::convert::Infallible>(plan(&forge, h, "CILIUM", "1.16.0", DeliveryMode::Commit))
    };
    let report = deliver(&forge, &delivery, replan).unwrap();
    assert_eq!(report.commit_sha, None);
    assert_eq!(forge.history("main")[0].message, format!("set {FILE}"));
}

#[test]
fn a_branch_that_never_settles_gives_up_after_bounded_attempts() {
    let forge = seeded();
    let start = forge.head("main").unwrap();
    let delivery = plan(&forge, &start, "CILIUM", "1.16.0", DeliveryMode::Commit).unwrap();
    for _ in 0..promote::forge::deliver::MAX_ATTEMPTS {
        forge.fail_next(
            "create_commit",
            ForgeError::Conflict {
                what: "moved".into(),
            },
        );
    }
    let replan = |h: &str| {
        Ok::<_, std::convert::Infallible>(plan(&forge, h, "CILIUM", "1.16.0", DeliveryMode::Commit))
    };
    let err = deliver(&forge, &delivery, replan).unwrap_err();
    assert!(
        matches!(err, DeliveryError::Exhausted { attempts, .. } if attempts == promote::forge::deliver::MAX_ATTEMPTS),
        "{err}"
    );
    assert_eq!(forge.history("main").len(), 1);
}

#[test]
fn same_commit_delivery_twice_makes_one_commit_and_one_tag() {
    let forge = seeded();
    let start = forge.head("main").unwrap();
    let mut delivery = plan(&forge, &start, "CILIUM", "1.16.0", DeliveryMode::Commit).unwrap();
    delivery.tags = vec![TagSpec {
        name: "cilium-1.16.0".into(),
        at: TagTarget::PromotedCommit,
    }];
    let replan = |h: &str| {
        let fresh = plan(&forge, h, "CILIUM", "1.16.0", DeliveryMode::Commit);
        Ok::<_, std::convert::Infallible>(fresh.map(|d| Delivery {
            tags: delivery.tags.clone(),
            ..d
        }))
    };
    let first = deliver(&forge, &delivery, replan).unwrap();
    let replan = |h: &str| {
        Ok::<_, std::convert::Infallible>(plan(&forge, h, "CILIUM", "1.16.0", DeliveryMode::Commit))
    };
    let second = deliver(&forge, &delivery, replan).unwrap();

    assert_eq!(first.tags.len(), 1);
    assert_eq!(first.tags[0].outcome, TagOutcome::Created);
    assert_eq!(second.commit_sha, None);
    assert!(second.tags.is_empty());
    assert_eq!(forge.history("main").len(), 2);
    assert_eq!(forge.tags().len(), 1);
    assert_eq!(forge.tags()["cilium-1.16.0"], forge.head("main").unwrap());
}

#[test]
fn tag_at_another_commit_is_an_error_naming_the_landed_commit() {
    let forge = seeded();
    let start = forge.head("main").unwrap();
    forge.create_tag("cilium-1.16.0", &start).unwrap();
    let mut delivery = plan(&forge, &start, "CILIUM", "1.16.0", DeliveryMode::Commit).unwrap();
    delivery.tags = vec![TagSpec {
        name: "cilium-1.16.0".into(),
        at: TagTarget::PromotedCommit,
    }];
    let err = deliver(&forge, &delivery, |_: &str| {
        Ok::<_, std::convert::Infallible>(None)
    })
    .unwrap_err();
    let DeliveryError::Tag {
        name,
        landed,
        source,
    } = &err
    else {
        panic!("expected a tag error, got {err}");
    };
    assert_eq!(name, "cilium-1.16.0");
    assert_eq!(landed.as_deref(), forge.head("main").as_deref());
    assert!(matches!(source, ForgeError::Conflict { .. }));
    assert!(err.to_string().contains("already landed"), "{err}");
}

#[test]
fn tag_at_the_same_commit_is_fine() {
    let forge = seeded();
    let start = forge.head("main").unwrap();
    forge.create_tag("dex-2.38.0", &start).unwrap();
    let mut delivery = plan(&forge, &start, "CILIUM", "1.16.0", DeliveryMode::Commit).unwrap();
    delivery.tags = vec![TagSpec {
        name: "dex-2.38.0".into(),
        at: TagTarget::Sha(start.clone()),
    }];
    let report = deliver(&forge, &delivery, |_: &str| {
        Ok::<_, std::convert::Infallible>(None)
    })
    .unwrap();
    assert_eq!(report.tags[0].outcome, TagOutcome::Exists);
}

#[test]
fn promoted_commit_tags_need_commit_delivery() {
    let forge = seeded();
    let start = forge.head("main").unwrap();
    let mut delivery = plan(
        &forge,
        &start,
        "CILIUM",
        "1.16.0",
        DeliveryMode::PullRequest,
    )
    .unwrap();
    delivery.tags = vec![TagSpec {
        name: "cilium-1.16.0".into(),
        at: TagTarget::PromotedCommit,
    }];
    let err = deliver(&forge, &delivery, |_: &str| {
        Ok::<_, std::convert::Infallible>(None)
    })
    .unwrap_err();
    assert!(matches!(err, DeliveryError::Invalid(_)), "{err}");
    assert!(
        forge.calls().is_empty(),
        "nothing is written: {:?}",
        forge.calls()
    );
}

#[test]
fn pull_request_opens_branch_from_target_head_with_one_commit() {
    let forge = seeded();
    let start = forge.head("main").unwrap();
    let report = run(&forge, "CILIUM", "1.16.0", DeliveryMode::PullRequest).unwrap();
    assert_eq!(report.pull_requests.len(), 1);
    let pr = &forge.pull_requests()[0];
    assert_eq!(pr.pr.head, "promote/integration-to-live");
    assert_eq!(pr.pr.base, "main");
    assert_eq!(pr.labels, ["promotion"]);
    assert!(!pr.auto_merge);
    let branch = forge.history("promote/integration-to-live");
    assert_eq!(branch[0].parent.as_deref(), Some(start.as_str()));
    assert_eq!(
        forge.head("main").unwrap(),
        start,
        "the target is untouched"
    );
    assert_eq!(
        forge.file("promote/integration-to-live", FILE).unwrap(),
        "CILIUM=1.16.0\nDEX=2.38.0\n"
    );
}

#[test]
fn same_pull_request_delivery_twice_keeps_one_pr_and_one_commit() {
    let forge = seeded();
    run(&forge, "CILIUM", "1.16.0", DeliveryMode::PullRequest).unwrap();
    let second = run(&forge, "CILIUM", "1.16.0", DeliveryMode::PullRequest).unwrap();
    assert_eq!(forge.pull_requests().len(), 1);
    assert_eq!(second.pull_requests[0].number, 1);
    assert_eq!(forge.history("promote/integration-to-live").len(), 2);
    assert_eq!(forge.call_count("create_commit"), 1);
    assert_eq!(forge.call_count("update_pr"), 1);
}

#[test]
fn newer_plan_updates_the_open_pull_request() {
    let forge = seeded();
    run(&forge, "CILIUM", "1.16.0", DeliveryMode::PullRequest).unwrap();
    run(&forge, "CILIUM", "1.16.1", DeliveryMode::PullRequest).unwrap();
    let prs = forge.pull_requests();
    assert_eq!(prs.len(), 1);
    assert_eq!(prs[0].pr.title, "promote CILIUM 1.16.1");
    let branch = "promote/integration-to-live";
    assert_eq!(
        forge.file(branch, FILE).unwrap(),
        "CILIUM=1.16.1\nDEX=2.38.0\n"
    );
    assert_eq!(
        forge.history(branch).len(),
        2,
        "reset to the target, one commit"
    );
}

#[test]
fn superseded_pull_requests_are_closed_with_a_comment() {
    let forge = seeded();
    let start = forge.head("main").unwrap();
    forge
        .set_branch("promote/integration-to-live-old", &start, false)
        .unwrap();
    forge
        .set_branch("promote/other-to-stage", &start, false)
        .unwrap();
    forge.commit_files("stage", "stage", &[]);
    let spec = |head: &str, base: &str| promote::forge::PullRequestSpec {
        head: head.into(),
        base: base.into(),
        title: "old".into(),
        body: String::new(),
        labels: Vec::new(),
    };
    let old = forge
        .create_pr(&spec("promote/integration-to-live-old", "main"))
        .unwrap();
    let unrelated = forge
        .create_pr(&spec("promote/other-to-stage", "stage"))
        .unwrap();

    let mut delivery = plan(
        &forge,
        &start,
        "CILIUM",
        "1.16.0",
        DeliveryMode::PullRequest,
    )
    .unwrap();
    delivery.pull_request.supersede_prefix = Some("promote/".into());
    let report = deliver(&forge, &delivery, |_: &str| {
        Ok::<_, std::convert::Infallible>(None)
    })
    .unwrap();
    let new = report.pull_requests[0].number;
    assert_eq!(report.closed_pull_requests, [old.number]);
    let prs = forge.pull_requests();
    let state = |n: u64| prs.iter().find(|p| p.pr.number == n).unwrap().state;
    assert_eq!(state(old.number), PrState::Closed);
    assert_eq!(state(unrelated.number), PrState::Open, "other base");
    assert_eq!(state(new), PrState::Open);
    assert_eq!(
        forge.comments(),
        [(old.number, format!("superseded by #{new}"))]
    );
}

#[test]
fn pull_request_no_longer_needed_is_closed() {
    let forge = seeded();
    run(&forge, "CILIUM", "1.16.0", DeliveryMode::PullRequest).unwrap();
    // Someone promoted by hand; the next run finds nothing to do at the new head.
    forge.set_file("main", FILE, "CILIUM=1.16.0\nDEX=2.38.0\n");
    let start = forge.history("main")[1].sha.clone();
    let delivery = plan(
        &forge,
        &start,
        "CILIUM",
        "1.16.0",
        DeliveryMode::PullRequest,
    )
    .unwrap();
    let replan = |h: &str| {
        Ok::<_, std::convert::Infallible>(plan(
            &forge,
            h,
            "CILIUM",
            "1.16.0",
            DeliveryMode::PullRequest,
        ))
    };
    let report = deliver(&forge, &delivery, replan).unwrap();
    assert!(report.pull_requests.is_empty());
    assert_eq!(report.closed_pull_requests, [1]);
    assert_eq!(forge.pull_requests()[0].state, PrState::Closed);
}

#[test]
fn auto_merge_is_enabled_when_asked() {
    let forge = seeded();
    let start = forge.head("main").unwrap();
    let mut delivery = plan(
        &forge,
        &start,
        "CILIUM",
        "1.16.0",
        DeliveryMode::PullRequest,
    )
    .unwrap();
    delivery.pull_request.auto_merge = true;
    let report = deliver(&forge, &delivery, |_: &str| {
        Ok::<_, std::convert::Infallible>(None)
    })
    .unwrap();
    assert_eq!(report.auto_merge, [1]);
    assert!(forge.pull_requests()[0].auto_merge);
}

#[test]
fn per_component_opens_one_pull_request_per_component() {
    let forge = seeded();
    let start = forge.head("main").unwrap();
    let cilium = plan(
        &forge,
        &start,
        "CILIUM",
        "1.16.0",
        DeliveryMode::PullRequestPerComponent,
    )
    .unwrap();
    let dex = plan(
        &forge,
        &start,
        "DEX",
        "2.39.0",
        DeliveryMode::PullRequestPerComponent,
    )
    .unwrap();
    let delivery = Delivery {
        components: [cilium.components.clone(), dex.components].concat(),
        ..cilium
    };
    let report = deliver(&forge, &delivery, |_: &str| {
        Ok::<_, std::convert::Infallible>(None)
    })
    .unwrap();
    let heads: Vec<_> = report
        .pull_requests
        .iter()
        .map(|p| p.head.as_str())
        .collect();
    assert_eq!(heads, ["promote/live/cilium", "promote/live/dex"]);
    assert_eq!(
        forge.file("promote/live/dex", FILE).unwrap(),
        "CILIUM=1.15.0\nDEX=2.39.0\n"
    );
    assert_eq!(
        forge.file("promote/live/cilium", FILE).unwrap(),
        "CILIUM=1.16.0\nDEX=2.38.0\n"
    );
    // Running it again changes nothing.
    deliver(&forge, &delivery, |_: &str| {
        Ok::<_, std::convert::Infallible>(None)
    })
    .unwrap();
    assert_eq!(forge.pull_requests().len(), 2);
    assert_eq!(forge.call_count("create_commit"), 2);
}

#[test]
fn forge_errors_stop_the_delivery() {
    let forge = seeded();
    forge.fail_next("create_pr", ForgeError::Unauthorized);
    let err = run(&forge, "CILIUM", "1.16.0", DeliveryMode::PullRequest).unwrap_err();
    assert!(
        matches!(err, DeliveryError::Forge(ForgeError::Unauthorized)),
        "{err}"
    );
    assert!(forge.pull_requests().is_empty());
}
