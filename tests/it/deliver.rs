//! Delivery logic against the stateful `MemoryForge`: races, idempotency, pull requests, tags.

#![allow(clippy::unwrap_used)]

use promote::forge::deliver::{
    ComponentDelivery, Delivery, DeliveryError, DeliveryMode, PullRequestOptions, TagSpec, deliver,
    ensure_tags,
};
use promote::forge::memory::{MemoryForge, PrState};
use promote::forge::{FileChange, Forge, ForgeError, MergeMethod, TagOutcome};

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
            merge_method: None,
            supersedes: Vec::new(),
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
fn same_commit_delivery_twice_makes_one_commit() {
    let forge = seeded();
    let first = run(&forge, "CILIUM", "1.16.0", DeliveryMode::Commit).unwrap();
    let start = forge.history("main")[1].sha.clone();
    let delivery = plan(&forge, &start, "CILIUM", "1.16.0", DeliveryMode::Commit).unwrap();
    let replan = |h: &str| {
        Ok::<_, std::convert::Infallible>(plan(&forge, h, "CILIUM", "1.16.0", DeliveryMode::Commit))
    };
    let second = deliver(&forge, &delivery, replan).unwrap();
    assert!(first.changed && first.commit_sha.is_some());
    assert_eq!(second.commit_sha, None);
    assert!(!second.changed);
    assert_eq!(forge.history("main").len(), 2);
}

fn tag(name: &str, sha: &str) -> TagSpec {
    TagSpec {
        name: name.into(),
        sha: sha.into(),
        component: "cilium".into(),
    }
}

#[test]
fn ensure_tags_creates_once_and_then_finds_it() {
    let forge = seeded();
    let head = forge.head("main").unwrap();
    let never = |_: &TagSpec, _: &str| Ok(false);
    let first = ensure_tags(&forge, &[tag("cilium-1.15.0", &head)], never).unwrap();
    let second = ensure_tags(&forge, &[tag("cilium-1.15.0", &head)], never).unwrap();
    assert_eq!(first.tags[0].outcome, TagOutcome::Created);
    assert_eq!(second.tags[0].outcome, TagOutcome::Exists);
    assert!(first.held.is_empty() && second.held.is_empty());
    assert_eq!(forge.tags()["cilium-1.15.0"], head);
}

#[test]
fn a_tag_elsewhere_is_never_moved_kept_when_fine_held_otherwise() {
    let forge = seeded();
    let old = forge.head("main").unwrap();
    forge.create_tag("cilium-1.15.0", &old).unwrap();
    let head = forge.set_file("main", "README.md", "later\n");
    // The older commit holds the same version: the tag stays, nothing is held.
    let kept = ensure_tags(&forge, &[tag("cilium-1.15.0", &head)], |_, sha| {
        Ok(sha == old)
    })
    .unwrap();
    assert_eq!(kept.tags[0].outcome, TagOutcome::Kept);
    assert_eq!(kept.tags[0].sha, old);
    // It does not: held with a reason, still not moved, and the next tag is still made.
    let held = ensure_tags(
        &forge,
        &[tag("cilium-1.15.0", &head), tag("dex-2.38.0", &head)],
        |_, _| Ok(false),
    )
    .unwrap();
    assert_eq!(held.held.len(), 1);
    assert_eq!(held.held[0].component, "cilium");
    assert!(
        held.held[0].reason.contains("never moves a tag"),
        "{:?}",
        held.held
    );
    assert_eq!(held.tags[0].name, "dex-2.38.0");
    assert_eq!(forge.tags()["cilium-1.15.0"], old);
    assert_eq!(forge.tags()["dex-2.38.0"], head);
}

#[test]
fn an_invalid_tag_name_is_held_before_any_write() {
    let forge = seeded();
    let head = forge.head("main").unwrap();
    let report = ensure_tags(
        &forge,
        &[tag("localhost:5000/api-1.0", &head), tag("api..1", &head)],
        |_, _| Ok(false),
    )
    .unwrap();
    assert_eq!(report.held.len(), 2);
    assert!(report.held[0].reason.contains("':'"), "{:?}", report.held);
    assert!(report.held[1].reason.contains("`..`"), "{:?}", report.held);
    assert_eq!(forge.call_count("create_tag"), 0);
    // Positive control: a valid name is made.
    let ok = ensure_tags(&forge, &[tag("localhost-5000-api-1.0", &head)], |_, _| {
        Ok(false)
    })
    .unwrap();
    assert_eq!(ok.tags[0].outcome, TagOutcome::Created);
}

#[test]
fn an_invalid_component_branch_is_refused_before_any_write() {
    let forge = seeded();
    let start = forge.head("main").unwrap();
    let mut delivery = plan(
        &forge,
        &start,
        "CILIUM",
        "1.16.0",
        DeliveryMode::PullRequestPerComponent,
    )
    .unwrap();
    delivery.components[0].branch = "promote/live/localhost:5000/api".into();
    let err = deliver(&forge, &delivery, |_: &str| {
        Ok::<_, std::convert::Infallible>(None)
    })
    .unwrap_err();
    assert!(matches!(err, DeliveryError::Invalid(_)), "{err}");
    assert!(err.to_string().contains("':'"), "{err}");
    assert!(
        forge.calls().is_empty(),
        "nothing is written: {:?}",
        forge.calls()
    );
}

#[test]
fn a_lost_commit_answer_is_recognised_by_its_trailer_and_contents() {
    let trailer = format!("Promoted-From: integration@{}", "a".repeat(40));
    let with_trailer = |d: Delivery| Delivery {
        message: format!("{}\n\n- cilium 1.15.0 -> 1.16.0\n\n{trailer}\n", d.message),
        ..d
    };
    let forge = seeded();
    let start = forge.head("main").unwrap();
    let delivery =
        with_trailer(plan(&forge, &start, "CILIUM", "1.16.0", DeliveryMode::Commit).unwrap());
    forge.lose_next_commit_answer(ForgeError::Other("connection reset".into()));
    let replan = |h: &str| {
        Ok::<_, std::convert::Infallible>(
            plan(&forge, h, "CILIUM", "1.16.0", DeliveryMode::Commit).map(with_trailer),
        )
    };
    let report = deliver(&forge, &delivery, replan).unwrap();
    let head = forge.head("main").unwrap();
    assert_eq!(report.commit_sha.as_deref(), Some(head.as_str()));
    assert!(report.changed);
    assert_eq!(forge.history("main").len(), 2, "one commit, not two");

    // Control: the same lost answer on a delivery without a trailer is an error, and a
    // conflict whose new head is someone else's commit is not claimed.
    let forge = seeded();
    let start = forge.head("main").unwrap();
    let bare = plan(&forge, &start, "CILIUM", "1.16.0", DeliveryMode::Commit).unwrap();
    forge.lose_next_commit_answer(ForgeError::Other("connection reset".into()));
    let err = deliver(&forge, &bare, |_: &str| {
        Ok::<_, std::convert::Infallible>(None)
    })
    .unwrap_err();
    assert!(err.to_string().contains("connection reset"), "{err}");
    let forge = seeded();
    let start = forge.head("main").unwrap();
    let delivery =
        with_trailer(plan(&forge, &start, "CILIUM", "1.16.0", DeliveryMode::Commit).unwrap());
    let other = forge.clone();
    forge.before_next_commit(move || {
        other.set_file("main", FILE, "CILIUM=1.16.0\nDEX=2.38.0\n");
    });
    let replan = |h: &str| {
        Ok::<_, std::convert::Infallible>(
            plan(&forge, h, "CILIUM", "1.16.0", DeliveryMode::Commit).map(with_trailer),
        )
    };
    let report = deliver(&forge, &delivery, replan).unwrap();
    assert_eq!(report.commit_sha, None, "someone else's commit is not ours");
    assert!(!report.changed);
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
    assert!(!second.changed, "nothing new was written");
    assert_eq!(forge.history("promote/integration-to-live").len(), 2);
    assert_eq!(forge.call_count("create_commit"), 1);
    assert_eq!(forge.call_count("update_pr"), 0, "same title and body");
}

#[test]
fn newer_plan_updates_the_open_pull_request() {
    let forge = seeded();
    run(&forge, "CILIUM", "1.16.0", DeliveryMode::PullRequest).unwrap();
    let newer = run(&forge, "CILIUM", "1.16.1", DeliveryMode::PullRequest).unwrap();
    assert!(newer.changed);
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
        .set_branch("promote/live/cilium", &start, false)
        .unwrap();
    forge
        .set_branch("promote/integration-to-live-hotfix", &start, false)
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
        .create_pr(&spec("promote/live/cilium", "main"))
        .unwrap();
    let hotfix = forge
        .create_pr(&spec("promote/integration-to-live-hotfix", "main"))
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
    // Exact names promote made: the per-component branches of this promotion.
    delivery.pull_request.supersedes =
        vec!["promote/live/cilium".into(), "promote/live/dex".into()];
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
    assert_eq!(
        state(hotfix.number),
        PrState::Open,
        "a person's branch that merely starts like promote's"
    );
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
    assert_eq!(
        forge.pull_requests()[0].merge_method,
        Some(MergeMethod::Squash),
        "squash is preferred when allowed"
    );
}

#[test]
fn auto_merge_uses_the_configured_method_or_what_the_repository_allows() {
    let forge = seeded();
    forge.allow_merge_methods(&[MergeMethod::Rebase, MergeMethod::Merge]);
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
    let none = |_: &str| Ok::<_, std::convert::Infallible>(None);
    deliver(&forge, &delivery, none).unwrap();
    assert_eq!(
        forge.pull_requests()[0].merge_method,
        Some(MergeMethod::Merge),
        "merge before rebase"
    );
    // Configured: used as is, without asking the repository.
    let before = forge.call_count("merge_methods");
    delivery.pull_request.merge_method = Some(MergeMethod::Rebase);
    deliver(&forge, &delivery, none).unwrap();
    assert_eq!(forge.call_count("merge_methods"), before);
    assert_eq!(
        forge.pull_requests()[0].merge_method,
        Some(MergeMethod::Rebase)
    );
    // A configured method the repository refuses fails loudly.
    delivery.pull_request.merge_method = Some(MergeMethod::Squash);
    let err = deliver(&forge, &delivery, none).unwrap_err();
    assert!(err.to_string().contains("not allowed"), "{err}");
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
