//! Raw HTTP to a forge's API (GitHub, GitLab) through octocrab's client: exact JSON shapes, our
//! own status handling and a bounded retry that only repeats what is safe to repeat.
//!
//! Every request has a connect timeout and a read/write timeout (octocrab's `timeout` feature),
//! and every request, retry and wait is bounded by one deadline for the whole run: a server that
//! accepts and never answers cannot hang a run. Waits the forge asks for (`retry-after`, a rate
//! limit's reset, a minute after a secondary limit that names no time) are honoured in full
//! when they fit before the deadline, and refused at once when they do not.

#![deny(clippy::indexing_slicing)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt;
use octocrab::Octocrab;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::forge::{ForgeError, Token};

/// The environment variables [`RetryPolicy::from_vars`] reads, in seconds.
pub const CONNECT_TIMEOUT_VAR: &str = "PROMOTE_HTTP_CONNECT_TIMEOUT";
pub const TIMEOUT_VAR: &str = "PROMOTE_HTTP_TIMEOUT";
pub const DEADLINE_VAR: &str = "PROMOTE_DEADLINE";

/// Timeouts, the deadline, and how transient failures (5xx, rate limits, dropped connections,
/// timeouts) are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub tries: u32,
    /// First back-off; doubles on each retry.
    pub base_delay: Duration,
    /// Longest back-off after a 5xx, a dropped connection or a timeout. A wait GitHub asks for
    /// is not capped by it, only by `deadline`.
    pub max_wait: Duration,
    /// The wait after a secondary rate limit that gives no `retry-after` (GitHub asks for at
    /// least a minute).
    pub secondary_wait: Duration,
    /// Longest time to open a connection (`PROMOTE_HTTP_CONNECT_TIMEOUT`).
    pub connect_timeout: Duration,
    /// Longest time a read or a write on an open connection may wait (`PROMOTE_HTTP_TIMEOUT`).
    pub timeout: Duration,
    /// The whole run, from the client's creation: no request, retry or wait goes past it
    /// (`PROMOTE_DEADLINE`).
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            tries: 3,
            base_delay: Duration::from_millis(500),
            max_wait: Duration::from_secs(30),
            secondary_wait: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            deadline: Duration::from_secs(600),
        }
    }
}

impl RetryPolicy {
    /// The default policy with `PROMOTE_HTTP_CONNECT_TIMEOUT`, `PROMOTE_HTTP_TIMEOUT` and
    /// `PROMOTE_DEADLINE` (positive seconds, fractions allowed) read through `var`.
    pub fn from_vars<'a>(var: impl Fn(&str) -> Option<&'a str>) -> Result<Self, ForgeError> {
        let mut policy = RetryPolicy::default();
        for (name, field) in [
            (CONNECT_TIMEOUT_VAR, &mut policy.connect_timeout),
            (TIMEOUT_VAR, &mut policy.timeout),
            (DEADLINE_VAR, &mut policy.deadline),
        ] {
            let Some(text) = var(name) else { continue };
            *field = text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| *s > 0.0)
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .ok_or_else(|| {
                    ForgeError::Other(format!(
                        "{name} must be a positive number of seconds, got `{text}`"
                    ))
                })?;
        }
        Ok(policy)
    }
}

/// `60 s`, `1.5 s`: a duration for messages.
pub fn seconds(d: Duration) -> String {
    format!("{} s", (d.as_secs_f64() * 1000.0).round() / 1000.0)
}

/// Whether a call may be sent again after a transient failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// GET, PATCH, PUT, and POSTs whose repetition is harmless (guarded by the server).
    Safe,
    /// Would do the thing twice (a comment): sent once.
    Never,
    /// As `Safe`, except that what a request too slow for the server meets (a 502 or 504 from its
    /// proxy, a dropped connection, a timeout) is the caller's to handle: a read query that
    /// may be too big is split in halves instead.
    SafeButTimeouts,
}

/// Which forge an [`Http`] talks to, for its messages, its `Accept` header and its token.
#[derive(Debug, Clone)]
pub struct Site {
    /// `github`, `gitlab`: in messages such as "timed out waiting for github".
    pub name: &'static str,
    /// `GitHub`, `GitLab`: at the start of a sentence.
    pub title: &'static str,
    /// The default `Accept` header.
    pub accept: &'static str,
    /// A token sent in its own header (GitLab's `PRIVATE-TOKEN`, `JOB-TOKEN`), and only to URLs
    /// under the API's origin. GitHub's token goes through octocrab's auth instead.
    pub token: Option<TokenHeader>,
}

impl Site {
    /// GitHub: octocrab adds the token.
    pub fn github() -> Site {
        Site {
            name: "github",
            title: "GitHub",
            accept: "application/vnd.github+json",
            token: None,
        }
    }
}

/// A token header and the one origin (`scheme://host[:port]`) it may be sent to.
#[derive(Debug, Clone)]
pub struct TokenHeader {
    pub header: http::HeaderName,
    pub token: Token,
    pub origin: String,
}

/// A response, fully read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The forge's name, for messages (`github answered 500`).
    pub site: &'static str,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ForgeError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ForgeError::Other(format!(
                "unexpected answer from {} ({}): {e}",
                self.site, self.status
            ))
        })
    }

    /// The forge's `message` (and the first `errors[].message`), for error texts. GitLab's
    /// `message` may be a list, an object of field -> messages, or its text in `error`.
    pub fn message(&self) -> String {
        let value: Value = serde_json::from_slice(&self.body).unwrap_or(Value::Null);
        let mut text = match value.at("message") {
            Value::String(s) => s.clone(),
            Value::Array(list) => list
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("; "),
            Value::Object(fields) => fields
                .iter()
                .map(|(field, v)| match v {
                    Value::Array(list) => {
                        let list: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
                        format!("{field} {}", list.join(", "))
                    }
                    v => format!("{field} {}", v.as_str().unwrap_or_default()),
                })
                .collect::<Vec<_>>()
                .join("; "),
            _ => value.at("error").as_str().unwrap_or_default().to_owned(),
        };
        if let Some(detail) = value.at("errors").item(0).at("message").as_str() {
            text = format!("{text}: {detail}");
        }
        text
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A REST rate limit (403/429), or a GraphQL `RATE_LIMITED` error inside a 200.
    pub fn is_rate_limited(&self) -> bool {
        match self.status.as_u16() {
            429 => true,
            403 => {
                self.header("x-ratelimit-remaining") == Some("0")
                    || self.message().to_lowercase().contains("rate limit")
            }
            200 => self.is_graphql_rate_limited(),
            _ => false,
        }
    }

    fn is_graphql_rate_limited(&self) -> bool {
        const KIND: &[u8] = b"RATE_LIMITED";
        if !self.body.windows(KIND.len()).any(|w| w == KIND) {
            return false;
        }
        let value: Value = serde_json::from_slice(&self.body).unwrap_or(Value::Null);
        value
            .at("errors")
            .as_array()
            .is_some_and(|errors| errors.iter().any(|e| e.at("type") == "RATE_LIMITED"))
    }

    /// How long GitHub asks to wait before the next try, and why: `retry-after`, else a primary
    /// limit's `x-ratelimit-reset`, else (a secondary limit naming no time) `secondary_wait`.
    /// `None` when the answer asks for no wait.
    fn asked_wait(&self, secondary_wait: Duration) -> Option<(Duration, String)> {
        let limited = self.is_rate_limited();
        let primary = self.header("x-ratelimit-remaining") == Some("0");
        if let Some(after) = self
            .header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            let why = match (limited, primary) {
                (true, true) => "rate limit, retry-after",
                (true, false) => "secondary rate limit, retry-after",
                (false, _) => "retry-after",
            };
            return Some((Duration::from_secs(after), why.to_owned()));
        }
        if !limited {
            return None;
        }
        let reset = self
            .header("x-ratelimit-reset")
            .and_then(|v| v.trim().parse::<u64>().ok());
        match reset {
            Some(reset) if primary => Some((
                Duration::from_secs(reset.saturating_sub(now())),
                format!("rate limit, resets at {reset} (unix time)"),
            )),
            _ => Some((
                secondary_wait,
                "secondary rate limit, no retry-after".to_owned(),
            )),
        }
    }

    fn is_transient(&self) -> bool {
        self.status.is_server_error() || self.is_rate_limited()
    }

    /// When the rate limit resets, in unix seconds.
    pub fn reset(&self) -> Option<u64> {
        if let Some(after) = self
            .header("retry-after")
            .and_then(|v| v.parse::<u64>().ok())
        {
            return Some(now() + after);
        }
        self.header("x-ratelimit-reset")?.parse().ok()
    }

    /// The `rel="next"` page of a `Link` header.
    pub fn next_page(&self) -> Option<String> {
        let link = self.header("link")?;
        link.split(',').find_map(|part| {
            let (url, rel) = part.split_once(';')?;
            rel.contains("rel=\"next\"").then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
        })
    }

    /// The semantic error for a failed call. `action` names what was tried, `permission` the
    /// token permission it needs (`contents: write`, `pull-requests: write`, `statuses: read`).
    pub fn error(&self, action: &str, permission: &str) -> ForgeError {
        let message = self.message();
        match self.status.as_u16() {
            401 => ForgeError::Unauthorized,
            _ if self.is_rate_limited() => ForgeError::RateLimited {
                reset: self.reset(),
            },
            403 => ForgeError::Forbidden {
                action: action.to_owned(),
                permission: permission.to_owned(),
            },
            404 => ForgeError::NotFound {
                what: action.to_owned(),
            },
            409 | 422 => ForgeError::Conflict {
                what: format!("{action}: {message}"),
            },
            status => ForgeError::Other(format!(
                "{action}: {} answered {status}{}",
                self.site,
                if message.is_empty() {
                    String::new()
                } else {
                    format!(": {message}")
                }
            )),
        }
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// What a request carries.
#[derive(Clone, Copy)]
enum Payload<'a> {
    Empty,
    Json(&'a Value),
    /// A content type and the bytes.
    Bytes(&'a str, &'a [u8]),
}

/// The octocrab client plus our retry policy and the run's deadline.
pub struct Http {
    octo: Octocrab,
    policy: RetryPolicy,
    /// `policy.deadline` after the client was made.
    deadline_at: Instant,
    site: Site,
}

impl Http {
    /// A client for GitHub (octocrab carries the token).
    pub fn new(octo: Octocrab, policy: RetryPolicy) -> Self {
        Http::for_site(octo, policy, Site::github())
    }

    pub fn for_site(octo: Octocrab, policy: RetryPolicy, site: Site) -> Self {
        Http {
            octo,
            policy,
            deadline_at: Instant::now() + policy.deadline,
            site,
        }
    }

    /// The same client with its deadline at `at` instead of `policy.deadline` after it was made:
    /// a run's one deadline for clients made during it (git's HTTP remotes).
    pub fn until(mut self, at: Instant) -> Self {
        self.deadline_at = at;
        self
    }

    /// The policy this client runs under.
    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// Send one request, retrying transient failures (5xx, rate limits, dropped connections,
    /// timeouts) when `repeat` allows, always within the deadline.
    pub async fn call(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        accept: Option<&str>,
        repeat: Repeat,
    ) -> Result<Reply, ForgeError> {
        let body = body.map_or(Payload::Empty, Payload::Json);
        self.exchange(method, url, body, accept, repeat).await
    }

    /// [`call`](Self::call) with a body of raw bytes (`content_type`, `bytes`) instead of JSON:
    /// git's smart HTTP (`forge::git_http`).
    pub async fn call_bytes(
        &self,
        method: Method,
        url: &str,
        body: Option<(&str, &[u8])>,
        accept: Option<&str>,
        repeat: Repeat,
    ) -> Result<Reply, ForgeError> {
        let body = body.map_or(Payload::Empty, |(kind, bytes)| Payload::Bytes(kind, bytes));
        self.exchange(method, url, body, accept, repeat).await
    }

    async fn exchange(
        &self,
        method: Method,
        url: &str,
        body: Payload<'_>,
        accept: Option<&str>,
        repeat: Repeat,
    ) -> Result<Reply, ForgeError> {
        let what = format!("{method} {url}");
        let tries = match repeat {
            Repeat::Safe | Repeat::SafeButTimeouts => self.policy.tries.max(1),
            Repeat::Never => 1,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let left = self.deadline_at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.past_deadline(&what, "not sending it"));
            }
            let started = Instant::now();
            let sent = tokio::time::timeout(left, self.send(method.clone(), url, body, accept));
            let result = match sent.await {
                Ok(result) => result,
                Err(_) => return Err(self.past_deadline(&what, "it had no answer yet")),
            };
            tracing::debug!(
                "api: {what} -> {} in {} ms (try {attempt})",
                match &result {
                    Ok(reply) => reply.status.to_string(),
                    Err(e) => format!("error: {e}"),
                },
                started.elapsed().as_millis()
            );
            let transient = match (&result, repeat) {
                (Ok(reply), Repeat::SafeButTimeouts) => {
                    reply.is_transient() && !matches!(reply.status.as_u16(), 502 | 504)
                }
                (Err(_), Repeat::SafeButTimeouts) => false,
                (Ok(reply), _) => reply.is_transient(),
                (Err(_), _) => true,
            };
            if !transient || attempt >= tries {
                return result.map_err(|e| match e {
                    ForgeError::Other(text) if attempt > 1 => {
                        ForgeError::Other(format!("{text} (tried {attempt} times)"))
                    }
                    e => e,
                });
            }
            let backoff = (self.policy.base_delay * 2u32.saturating_pow(attempt - 1))
                .min(self.policy.max_wait);
            let asked = result
                .as_ref()
                .ok()
                .and_then(|r| r.asked_wait(self.policy.secondary_wait));
            let wait = asked.as_ref().map_or(backoff, |(t, _)| (*t).max(backoff));
            if Instant::now() + wait > self.deadline_at {
                return Err(match (asked, result) {
                    (Some((asked, why)), _) => ForgeError::Other(format!(
                        "{} asks to wait {} ({why}) before {what}: that is past the run's \
                         deadline of {} ({DEADLINE_VAR}), so it was not retried",
                        self.site.title,
                        seconds(asked),
                        seconds(self.policy.deadline),
                    )),
                    (None, last) => {
                        let last = match last {
                            Ok(reply) => format!("{} answered {}", self.site.name, reply.status),
                            Err(e) => e.to_string(),
                        };
                        self.past_deadline(&what, &format!("no time left to retry after: {last}"))
                    }
                });
            }
            match &asked {
                Some((asked, why)) => {
                    tracing::warn!(
                        "{} asks to wait {} ({why}) before {what}",
                        self.site.title,
                        seconds(*asked)
                    )
                }
                None => tracing::warn!("{what} failed; retrying in {}", seconds(wait)),
            }
            tokio::time::sleep(wait).await;
        }
    }

    fn past_deadline(&self, what: &str, detail: &str) -> ForgeError {
        ForgeError::Other(format!(
            "the run's deadline of {} ({DEADLINE_VAR}) has passed during {what}: {detail}",
            seconds(self.policy.deadline)
        ))
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Payload<'_>,
        accept: Option<&str>,
    ) -> Result<Reply, ForgeError> {
        let what = format!("{method} {url}");
        let mut builder = http::Request::builder()
            .method(method)
            .uri(url)
            .header(http::header::ACCEPT, accept.unwrap_or(self.site.accept));
        if let Some(auth) = &self.site.token {
            // Only to the API's own origin: a `Link` page elsewhere never gets the token.
            let origin_of = |u: &str| {
                u.parse::<http::Uri>().ok().and_then(|u| {
                    Some(format!("{}://{}", u.scheme_str()?, u.authority()?.as_str()))
                })
            };
            if origin_of(url).as_deref() != Some(auth.origin.as_str()) {
                return Err(ForgeError::Other(format!(
                    "{what}: refusing to send the token outside {}",
                    auth.origin
                )));
            }
            let mut value = http::HeaderValue::from_str(auth.token.expose()).map_err(|_| {
                ForgeError::Other("the token holds characters a header cannot".to_owned())
            })?;
            value.set_sensitive(true);
            builder = builder.header(auth.header.clone(), value);
        }
        let request = match body {
            Payload::Empty => self
                .octo
                .build_request::<Value>(builder, None)
                .map_err(|e| self.transport_error(&what, &e))?,
            Payload::Json(json) => self
                .octo
                .build_request(builder, Some(json))
                .map_err(|e| self.transport_error(&what, &e))?,
            Payload::Bytes(kind, bytes) => builder
                .header(http::header::CONTENT_TYPE, kind)
                .body(octocrab::OctoBody::from(bytes.to_vec()))
                .map_err(|e| self.transport_error(&what, &e))?,
        };
        let response = self
            .octo
            .execute(request)
            .await
            .map_err(|e| self.transport_error(&what, &e))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| self.transport_error(&what, &e))?;
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body: body.to_bytes().to_vec(),
            site: self.site.name,
        })
    }

    /// A failure to connect, send or read: a timeout names its setting.
    fn transport_error(&self, what: &str, error: &(dyn std::error::Error + 'static)) -> ForgeError {
        let mut cause = Some(error);
        while let Some(e) = cause {
            if let Some(io) = e.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::TimedOut
            {
                // hyper-timeout wraps the elapsed connect timer; a read or write timeout is bare.
                return ForgeError::Other(if io.get_ref().is_some() {
                    format!(
                        "{what}: could not connect to {} within {} (set {CONNECT_TIMEOUT_VAR})",
                        self.site.name,
                        seconds(self.policy.connect_timeout)
                    )
                } else {
                    format!(
                        "{what}: timed out after {} waiting for {} (set {TIMEOUT_VAR})",
                        seconds(self.policy.timeout),
                        self.site.name
                    )
                });
            }
            cause = e.source();
        }
        // The causes too: "client error (Connect)" alone hides a refused certificate or a
        // refused connection.
        let mut text = error.to_string();
        let mut cause = error.source();
        while let Some(e) = cause {
            let said = e.to_string();
            if !text.contains(&said) {
                text = format!("{text}: {said}");
            }
            cause = e.source();
        }
        ForgeError::Other(format!("{what}: cannot reach {}: {text}", self.site.name))
    }
}

/// Reading a forge's JSON without indexing: a missing field (or item) reads as `null`, as
/// `serde_json`'s `Index` does, but through calls that cannot panic.
pub(crate) trait Field {
    fn at(&self, key: &str) -> &Value;
    fn item(&self, index: usize) -> &Value;
}

static NULL: Value = Value::Null;

impl Field for Value {
    fn at(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }

    fn item(&self, index: usize) -> &Value {
        self.get(index).unwrap_or(&NULL)
    }
}

/// Percent-encode everything but RFC 3986 unreserved characters (`/` included: a GitLab
/// project path or file path in one URL segment).
pub(crate) fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
