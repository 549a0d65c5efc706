//! Raw HTTP to GitHub through octocrab: exact JSON shapes, our own status handling and a
//! bounded retry that only repeats what is safe to repeat.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt;
use octocrab::Octocrab;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::forge::ForgeError;

/// How transient failures (5xx, rate limits, dropped connections) are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub tries: u32,
    /// First back-off; doubles on each retry.
    pub base_delay: Duration,
    /// Longest single wait, also for a rate limit's reset time.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            tries: 3,
            base_delay: Duration::from_millis(500),
            max_wait: Duration::from_secs(30),
        }
    }
}

/// Whether a call may be sent again after a transient failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// GET, PATCH, PUT, and POSTs whose repetition is harmless (guarded by the server).
    Safe,
    /// Would do the thing twice (a comment): sent once.
    Never,
}

/// A response, fully read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ForgeError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ForgeError::Other(format!(
                "unexpected answer from github ({}): {e}",
                self.status
            ))
        })
    }

    /// GitHub's `message` (and the first `errors[].message`), for error texts.
    pub fn message(&self) -> String {
        let value: Value = serde_json::from_slice(&self.body).unwrap_or(Value::Null);
        let mut text = value["message"].as_str().unwrap_or_default().to_owned();
        if let Some(detail) = value["errors"][0]["message"].as_str() {
            text = format!("{text}: {detail}");
        }
        text
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn is_rate_limited(&self) -> bool {
        match self.status.as_u16() {
            429 => true,
            403 => {
                self.header("x-ratelimit-remaining") == Some("0")
                    || self.message().to_lowercase().contains("rate limit")
            }
            _ => false,
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
                "{action}: github answered {status}{}",
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

/// The octocrab client plus our retry policy.
pub struct Http {
    octo: Octocrab,
    policy: RetryPolicy,
}

impl Http {
    pub fn new(octo: Octocrab, policy: RetryPolicy) -> Self {
        Http { octo, policy }
    }

    /// Send one request, retrying transient failures when `repeat` allows.
    pub async fn call(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        accept: Option<&str>,
        repeat: Repeat,
    ) -> Result<Reply, ForgeError> {
        let tries = match repeat {
            Repeat::Safe => self.policy.tries.max(1),
            Repeat::Never => 1,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.send(method.clone(), url, body, accept).await;
            let retry = match &result {
                Ok(reply) => reply.is_transient(),
                Err(_) => true,
            };
            if !retry || attempt >= tries {
                return result;
            }
            let wait = self.delay(attempt, result.as_ref().ok());
            tracing::warn!("{method} {url} failed; retrying in {wait:?}");
            tokio::time::sleep(wait).await;
        }
    }

    fn delay(&self, attempt: u32, reply: Option<&Reply>) -> Duration {
        let backoff = self.policy.base_delay * 2u32.saturating_pow(attempt - 1);
        let until_reset = reply
            .filter(|r| r.is_rate_limited())
            .and_then(Reply::reset)
            .map(|reset| Duration::from_secs(reset.saturating_sub(now())));
        until_reset
            .unwrap_or(backoff)
            .max(backoff)
            .min(self.policy.max_wait)
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        accept: Option<&str>,
    ) -> Result<Reply, ForgeError> {
        let unreachable = |e: &dyn std::fmt::Display| {
            ForgeError::Other(format!("cannot reach github at `{url}`: {e}"))
        };
        let builder = http::Request::builder().method(method).uri(url).header(
            http::header::ACCEPT,
            accept.unwrap_or("application/vnd.github+json"),
        );
        let request = self
            .octo
            .build_request(builder, body)
            .map_err(|e| unreachable(&e))?;
        let response = self
            .octo
            .execute(request)
            .await
            .map_err(|e| unreachable(&e))?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| unreachable(&e))?;
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body: body.to_bytes().to_vec(),
        })
    }
}
