//! Timeouts, the run's deadline and GitHub's rate limits: `GitHubForge` and `promote run` against
//! a TCP server on 127.0.0.1 that accepts and never answers, and against the fake GitHub with
//! injected rate limits. Every policy is passed in `GitHubConfig` (or as the child's env), never
//! through this process's environment. Each refusal has a positive control.

#![allow(clippy::unwrap_used)]

use std::io::ErrorKind;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::action_e2e::{run_action_at, seed, workspace_for};
use crate::fake_github::FakeGitHub;
use promote::forge::github::{GitHubConfig, GitHubForge, RetryPolicy};
use promote::forge::{Forge, ForgeError, Token};

/// A TCP server on 127.0.0.1 that accepts every connection and never answers the first `hang`;
/// later ones are forwarded byte for byte to `forward` (`host:port`) when given.
struct Stall {
    url: String,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Stall {
    fn start(hang: usize, forward: Option<&str>) -> Stall {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let forward = forward.map(str::to_owned);
        let (count, stopped) = (accepted.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !stopped.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        let n = count.fetch_add(1, Ordering::SeqCst) + 1;
                        match &forward {
                            Some(target) if n > hang => pipe(stream, target),
                            _ => held.push(stream),
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => break,
                }
            }
        });
        Stall {
            url,
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

fn pipe(client: TcpStream, target: &str) {
    let server = TcpStream::connect(target).unwrap();
    let (mut from_client, mut to_server) =
        (client.try_clone().unwrap(), server.try_clone().unwrap());
    std::thread::spawn(move || {
        std::io::copy(&mut from_client, &mut to_server).ok();
        to_server.shutdown(Shutdown::Write).ok();
    });
    let (mut from_server, mut to_client) = (server, client);
    std::thread::spawn(move || {
        std::io::copy(&mut from_server, &mut to_client).ok();
        to_client.shutdown(Shutdown::Write).ok();
    });
}

impl Drop for Stall {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.join().ok();
        }
    }
}

/// Short timeouts, two tries, quick back-off.
fn quick() -> RetryPolicy {
    RetryPolicy {
        tries: 2,
        base_delay: Duration::from_millis(10),
        max_wait: Duration::from_millis(20),
        secondary_wait: Duration::from_millis(20),
        connect_timeout: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
        deadline: Duration::from_secs(30),
    }
}

fn forge(api_url: &str, retry: RetryPolicy) -> GitHubForge {
    GitHubForge::new(GitHubConfig {
        api_url: api_url.to_owned(),
        graphql_url: None,
        repository: "acme/gitops".into(),
        token: Token::new("ghs_secret"),
        retry,
    })
    .unwrap()
}

fn fake() -> (FakeGitHub, String) {
    let fake = FakeGitHub::start("acme/gitops");
    let head = fake.commit_files("main", "initial", &[("versions.env", "A=1\n")]);
    fake.add_status(&head, "deploy", "success", "flux[bot]");
    (fake, head)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn a_server_that_never_answers_times_out_and_a_timed_out_read_is_retried() {
    let sha = "a".repeat(40);
    let silent = Stall::start(usize::MAX, None);
    let start = Instant::now();
    let err = forge(&silent.url, quick()).list_statuses(&sha).unwrap_err();
    let took = start.elapsed();
    let text = err.to_string();
    assert!(text.contains("timed out after 1 s"), "{text}");
    assert!(text.contains("(set PROMOTE_HTTP_TIMEOUT)"), "{text}");
    assert!(text.contains("GET http://127.0.0.1:"), "{text}");
    assert!(text.contains("(tried 2 times)"), "{text}");
    assert_eq!(silent.accepted(), 2, "the timed-out read was sent again");
    assert!(
        took >= Duration::from_secs(2),
        "each try waited its timeout: {took:?}"
    );
    assert!(took < Duration::from_secs(6), "{took:?}");

    // Positive control: the first connection hangs, the retry reaches the fake and succeeds.
    let (fake, head) = fake();
    let once = Stall::start(1, Some(fake.url().trim_start_matches("http://")));
    let statuses = forge(&once.url, quick()).list_statuses(&head).unwrap();
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].context, "deploy");
    assert_eq!(once.accepted(), 2);
    assert_eq!(fake.requests().len(), 1, "only the retry got through");
}

#[test]
fn a_comment_that_times_out_is_not_sent_twice() {
    let silent = Stall::start(usize::MAX, None);
    let err = forge(&silent.url, quick()).comment(1, "hello").unwrap_err();
    assert!(err.to_string().contains("timed out after 1 s"), "{err}");
    assert!(!err.to_string().contains("tried"), "{err}");
    assert_eq!(silent.accepted(), 1, "a comment is never sent twice");
}

#[test]
fn the_deadline_bounds_a_hanging_request_and_every_later_call() {
    let patient = RetryPolicy {
        timeout: Duration::from_secs(30),
        deadline: Duration::from_secs(1),
        ..quick()
    };
    // Positive control: the same policy against a server that answers.
    let (fake, head) = fake();
    assert_eq!(
        forge(fake.url(), patient)
            .list_statuses(&head)
            .unwrap()
            .len(),
        1
    );

    let silent = Stall::start(usize::MAX, None);
    let forge = forge(&silent.url, patient);
    let start = Instant::now();
    let err = forge.list_statuses(&head).unwrap_err().to_string();
    let took = start.elapsed();
    assert!(
        err.contains("the run's deadline of 1 s (PROMOTE_DEADLINE) has passed during GET"),
        "{err}"
    );
    assert!(err.contains("/statuses"), "{err}");
    assert!(
        took < Duration::from_secs(3),
        "not the 30 s read timeout: {took:?}"
    );
    let start = Instant::now();
    let err = forge.branch_head("main").unwrap_err().to_string();
    assert!(err.contains("PROMOTE_DEADLINE"), "{err}");
    assert!(err.contains("not sending it"), "{err}");
    assert!(start.elapsed() < Duration::from_millis(500));
    assert_eq!(silent.accepted(), 1, "nothing is sent past the deadline");
}

#[test]
fn graphql_rate_limited_in_a_200_is_retried_then_the_commit_lands() {
    let limited = json!({ "data": null, "errors": [{ "type": "RATE_LIMITED", "message": "API rate limit exceeded for installation ID 1." }] });
    let reset = unix_now().to_string();
    let headers = [
        ("x-ratelimit-remaining", "0"),
        ("x-ratelimit-reset", reset.as_str()),
    ];
    // Negative control: with one try the same answer is the rate-limit error, nothing lands.
    let (fake, head) = fake();
    fake.fail_with_headers("POST", "/graphql", 200, limited.clone(), &headers, 1);
    let once = RetryPolicy {
        tries: 1,
        ..quick()
    };
    let err = forge(fake.url(), once)
        .create_commit("main", &head, "m", &[])
        .unwrap_err();
    assert!(matches!(err, ForgeError::RateLimited { .. }), "{err}");
    assert_eq!(fake.head("main").as_deref(), Some(head.as_str()));

    fake.clear_requests();
    fake.fail_with_headers("POST", "/graphql", 200, limited, &headers, 1);
    let change = promote::forge::FileChange {
        path: "versions.env".into(),
        contents: Some(b"A=2\n".to_vec()),
    };
    let sha = forge(fake.url(), quick())
        .create_commit("main", &head, "promote", &[change])
        .unwrap();
    assert_eq!(fake.head("main").as_deref(), Some(sha.as_str()));
    assert_eq!(fake.file("main", "versions.env").as_deref(), Some("A=2\n"));
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "one rate-limited try, one that landed");
    assert_eq!(
        requests[0].body, requests[1].body,
        "the same mutation, with the same expectedHeadOid"
    );
    assert_eq!(
        requests[1].body["variables"]["input"]["expectedHeadOid"],
        head
    );
}

#[test]
fn a_secondary_limit_retry_after_is_waited_in_full_then_the_call_succeeds() {
    let (fake, head) = fake();
    let secondary = json!({ "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again." });
    fake.fail_with_headers(
        "GET",
        "/statuses",
        403,
        secondary,
        &[("retry-after", "1")],
        1,
    );
    let start = Instant::now();
    // max_wait is 20 ms: a wait GitHub asks for is not capped by it.
    let statuses = forge(fake.url(), quick()).list_statuses(&head).unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(statuses.len(), 1);
    assert_eq!(fake.requests().len(), 2);
}

#[test]
fn a_wait_past_the_deadline_fails_at_once_naming_the_wait() {
    let (fake, head) = fake();
    let short = RetryPolicy {
        deadline: Duration::from_secs(5),
        ..quick()
    };
    let secondary = json!({ "message": "You have exceeded a secondary rate limit." });
    fake.fail_with_headers(
        "GET",
        "/statuses",
        429,
        secondary.clone(),
        &[("retry-after", "30")],
        1,
    );
    let start = Instant::now();
    let err = forge(fake.url(), short).list_statuses(&head).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(1), "at once");
    let text = err.to_string();
    assert!(
        text.contains("GitHub asks to wait 30 s (secondary rate limit, retry-after) before GET"),
        "{text}"
    );
    assert!(
        text.contains("past the run's deadline of 5 s (PROMOTE_DEADLINE)"),
        "{text}"
    );
    assert_eq!(fake.requests().len(), 1);

    // No retry-after: GitHub asks for at least a minute, which the default policy waits.
    fake.clear_requests();
    fake.fail("GET", "/statuses", 403, secondary.clone(), 1);
    let minute = RetryPolicy {
        secondary_wait: RetryPolicy::default().secondary_wait,
        ..short
    };
    let err = forge(fake.url(), minute).list_statuses(&head).unwrap_err();
    assert!(
        err.to_string()
            .contains("GitHub asks to wait 60 s (secondary rate limit, no retry-after)"),
        "{err}"
    );
    assert_eq!(fake.requests().len(), 1);

    // Positive control: a wait that fits before the deadline is taken and the call succeeds.
    fake.clear_requests();
    fake.fail("GET", "/statuses", 403, secondary, 1);
    assert_eq!(
        forge(fake.url(), short).list_statuses(&head).unwrap().len(),
        1
    );
    assert_eq!(fake.requests().len(), 2);
}

#[test]
fn timeouts_and_deadline_are_read_from_the_environment() {
    let vars = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    };
    let default = RetryPolicy::from_vars(vars(&[])).unwrap();
    assert_eq!(default, RetryPolicy::default());
    assert_eq!(default.connect_timeout, Duration::from_secs(10));
    assert_eq!(default.timeout, Duration::from_secs(60));
    assert_eq!(default.deadline, Duration::from_secs(600));
    assert_eq!(default.secondary_wait, Duration::from_secs(60));
    let set = RetryPolicy::from_vars(vars(&[
        ("PROMOTE_HTTP_CONNECT_TIMEOUT", "2"),
        ("PROMOTE_HTTP_TIMEOUT", "1.5"),
        ("PROMOTE_DEADLINE", "120"),
    ]))
    .unwrap();
    assert_eq!(set.connect_timeout, Duration::from_secs(2));
    assert_eq!(set.timeout, Duration::from_millis(1500));
    assert_eq!(set.deadline, Duration::from_secs(120));
    for bad in ["0", "-1", "soon", ""] {
        let pairs: &'static [(&str, &str)] = Box::leak(Box::new([("PROMOTE_HTTP_TIMEOUT", bad)]));
        let err = RetryPolicy::from_vars(vars(pairs)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("PROMOTE_HTTP_TIMEOUT must be a positive number of seconds, got `{bad}`")
        );
    }
}

fn dispatch() -> serde_json::Value {
    json!({"inputs": {"force": "true", "components": "helm/*"}, "ref": "refs/heads/main", "repository": {"full_name": "acme/homelab"}, "sender": {"login": "alice"}, "workflow": ".github/workflows/promote.yaml"})
}

const SHORT: &[(&str, &str)] = &[
    ("PROMOTE_HTTP_CONNECT_TIMEOUT", "1"),
    ("PROMOTE_HTTP_TIMEOUT", "1"),
];

#[test]
fn promote_run_against_a_silent_server_exits_1_within_seconds() {
    let gh = FakeGitHub::start("acme/homelab");
    let head = seed(&gh, "main", "flux-terragrunt", &[]);
    let workspace = workspace_for("flux-terragrunt");

    let silent = Stall::start(usize::MAX, None);
    let start = Instant::now();
    let run = run_action_at(
        &silent.url,
        workspace.path(),
        "workflow_dispatch",
        dispatch(),
        &[],
        SHORT,
    );
    let took = start.elapsed();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert!(run.stderr.contains("timed out after 1 s"), "{}", run.stderr);
    assert!(
        run.stderr.contains("(set PROMOTE_HTTP_TIMEOUT)"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("::error"), "{}", run.stdout);
    assert!(run.stderr.contains("(tried 3 times)"), "{}", run.stderr);
    assert_eq!(silent.accepted(), 3, "the default three tries");

    // The deadline cuts a longer timeout short.
    let start = Instant::now();
    let vars = [("PROMOTE_HTTP_TIMEOUT", "60"), ("PROMOTE_DEADLINE", "2")];
    let run = run_action_at(
        &silent.url,
        workspace.path(),
        "workflow_dispatch",
        dispatch(),
        &[],
        &vars,
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert!(
        run.stderr
            .contains("the run's deadline of 2 s (PROMOTE_DEADLINE) has passed"),
        "{}",
        run.stderr
    );

    // A bad value is refused before anything is sent.
    let bad = [("PROMOTE_HTTP_TIMEOUT", "soon")];
    let run = run_action_at(
        gh.url(),
        workspace.path(),
        "workflow_dispatch",
        dispatch(),
        &[],
        &bad,
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("PROMOTE_HTTP_TIMEOUT must be a positive number of seconds, got `soon`"),
        "{}",
        run.stderr
    );
    assert_eq!(gh.requests().len(), 0);

    // Positive control: the first connection hangs, the retry reaches the fake, the run promotes.
    let once = Stall::start(1, Some(gh.url().trim_start_matches("http://")));
    let run = run_action_at(
        &once.url,
        workspace.path(),
        "workflow_dispatch",
        dispatch(),
        &[],
        SHORT,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_ne!(gh.head("main").as_deref(), Some(head.as_str()), "promoted");
}

#[test]
fn promote_run_says_what_it_waits_for_and_refuses_a_wait_past_the_deadline() {
    let gh = FakeGitHub::start("acme/homelab");
    let head = seed(&gh, "main", "flux-terragrunt", &[]);
    let workspace = workspace_for("flux-terragrunt");
    let secondary = json!({ "message": "You have exceeded a secondary rate limit." });

    gh.fail_with_headers(
        "GET",
        "/repos/",
        403,
        secondary.clone(),
        &[("retry-after", "5")],
        1,
    );
    let start = Instant::now();
    let vars = [("PROMOTE_DEADLINE", "3")];
    let run = run_action_at(
        gh.url(),
        workspace.path(),
        "workflow_dispatch",
        dispatch(),
        &[],
        &vars,
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(start.elapsed() < Duration::from_secs(3), "at once");
    assert!(
        run.stderr
            .contains("GitHub asks to wait 5 s (secondary rate limit, retry-after) before GET"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("PROMOTE_DEADLINE"), "{}", run.stderr);
    assert_eq!(gh.head("main").as_deref(), Some(head.as_str()));

    // Positive control: a wait within the deadline is announced, taken, and the run promotes.
    gh.fail_with_headers("GET", "/repos/", 403, secondary, &[("retry-after", "1")], 1);
    let start = Instant::now();
    let run = run_action_at(
        gh.url(),
        workspace.path(),
        "workflow_dispatch",
        dispatch(),
        &[],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(start.elapsed() >= Duration::from_secs(1));
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains("GitHub asks to wait"))
        .unwrap_or_else(|| panic!("no wait line in {}", run.stderr));
    assert!(
        line.contains("GitHub asks to wait 1 s (secondary rate limit, retry-after) before GET http://127.0.0.1:"),
        "{line}"
    );
    assert_ne!(gh.head("main").as_deref(), Some(head.as_str()), "promoted");
}
