//! Git's smart HTTP for libgit2's `http://` and `https://` remotes, carried by promote's own HTTP
//! client (hyper and rustls through octocrab, as every API call).
//!
//! libgit2 is built without its HTTPS transport, so no command loads or sets up OpenSSL (it cost
//! every process about 1.4 ms of CPU to load, and a command that opened a repository about 30 ms
//! to read the CA bundle). libgit2 still speaks git's protocol; this module only moves its
//! requests (`GET …/info/refs?service=git-upload-pack|git-receive-pack`, then `POST
//! …/git-upload-pack|git-receive-pack` with what libgit2 wrote, sent when it first reads the
//! answer), so a fetch or a push has the API calls' connect and read timeouts, retries and
//! deadline. The token goes as basic auth (`x-access-token:TOKEN`, as GitHub asks of git) to the
//! remote's own origin only, never into a URL or a config file.

use std::io::{self, Cursor, Read, Write};
use std::sync::{Arc, Mutex, Once};
use std::time::Instant;

use git2::transport::{Service, SmartSubtransport, SmartSubtransportStream, Transport};
use http::Method;

use crate::forge::http::{Http, Repeat, Reply, RetryPolicy, Site, TokenHeader};
use crate::forge::{ForgeError, Token};

/// What a remote URL is reached with: set by [`authorize`] before libgit2 connects to it.
struct Access {
    url: String,
    token: Option<Token>,
    policy: RetryPolicy,
    /// The run's deadline: no request to the remote, retry or wait goes past it.
    deadline_at: Instant,
}

static ACCESS: Mutex<Vec<Access>> = Mutex::new(Vec::new());

/// Route libgit2's `http` and `https` remotes through this module (once per process).
#[allow(unsafe_code)]
pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for scheme in ["http", "https"] {
            // SAFETY: `git2::transport::register` must not race another creation of a
            // transport. `GitForge::open` calls this before it opens any remote, and promote
            // opens remotes on one thread only (parsing threads read files, never a remote).
            let registered = unsafe {
                git2::transport::register(scheme, |remote| {
                    Transport::smart(remote, true, Subtransport::default())
                })
            };
            if let Err(e) = registered {
                tracing::warn!("cannot carry git's {scheme} remotes: {}", e.message());
            }
        }
    });
}

/// The token, the timeouts and the run's deadline for `url` (a remote's URL or push URL, as
/// configured).
pub fn authorize(url: &str, token: Option<&Token>, policy: RetryPolicy, deadline_at: Instant) {
    let mut access = ACCESS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    access.retain(|a| a.url != url);
    access.push(Access {
        url: url.to_owned(),
        token: token.cloned(),
        policy,
        deadline_at,
    });
}

fn access_for(url: &str) -> (Option<Token>, RetryPolicy, Instant) {
    let access = ACCESS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    access.iter().find(|a| a.url == url).map_or_else(
        || {
            let policy = RetryPolicy::default();
            (None, policy, Instant::now() + policy.deadline)
        },
        |a| (a.token.clone(), a.policy, a.deadline_at),
    )
}

/// One remote connection: its client is made at its first request and kept for the rest.
#[derive(Default)]
struct Subtransport {
    client: Mutex<Option<(String, Arc<Client>)>>,
}

impl SmartSubtransport for Subtransport {
    fn action(
        &self,
        url: &str,
        action: Service,
    ) -> Result<Box<dyn SmartSubtransportStream>, git2::Error> {
        let (service, ask) = match action {
            Service::UploadPackLs => ("git-upload-pack", Ask::Refs),
            Service::UploadPack => ("git-upload-pack", Ask::Exchange),
            Service::ReceivePackLs => ("git-receive-pack", Ask::Refs),
            Service::ReceivePack => ("git-receive-pack", Ask::Exchange),
        };
        let mut kept = self
            .client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let client = match &*kept {
            Some((for_url, client)) if for_url == url => client.clone(),
            _ => {
                let client = Arc::new(Client::new(url).map_err(|e| {
                    git2::Error::new(git2::ErrorCode::GenericError, git2::ErrorClass::Net, e)
                })?);
                *kept = Some((url.to_owned(), client.clone()));
                client
            }
        };
        Ok(Box::new(Stream {
            client,
            service,
            ask,
            sent: Vec::new(),
            reply: None,
        }))
    }

    fn close(&self) -> Result<(), git2::Error> {
        Ok(())
    }
}

/// One HTTP client (and the runtime it runs on) for one remote URL.
struct Client {
    rt: tokio::runtime::Runtime,
    http: Http,
    /// The remote URL without credentials or a trailing `/`.
    base: String,
    token: bool,
}

impl Client {
    fn new(configured: &str) -> Result<Client, String> {
        let (token, policy, deadline_at) = access_for(configured);
        // Credentials in the URL (`https://user:secret@host/…`) are used as git uses them, and
        // never sent in the request line or shown in a message.
        let (url, in_url) = without_credentials(configured);
        let uri: http::Uri = url
            .parse()
            .map_err(|_| format!("`{url}` is not a URL promote can reach"))?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(format!("`{url}` has no scheme or host"));
        };
        let origin = format!("{scheme}://{authority}");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the http runtime: {e}"))?;
        let _guard = rt.enter();
        let octo = octocrab::Octocrab::builder()
            .set_connect_timeout(Some(policy.connect_timeout))
            .set_read_timeout(Some(policy.timeout))
            .set_write_timeout(Some(policy.timeout))
            .base_uri(origin.as_str())
            .and_then(|b| b.build())
            .map_err(|e| format!("cannot build the git http client: {e}"))?;
        let pair = match (in_url, &token) {
            (Some(pair), _) => Some(pair),
            (None, Some(t)) => Some(format!("x-access-token:{}", t.expose())),
            (None, None) => None,
        };
        let given = pair.is_some();
        let header = pair.map(|pair| {
            use base64::Engine as _;
            TokenHeader {
                header: http::header::AUTHORIZATION,
                token: Token::new(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                )),
                origin: origin.clone(),
            }
        });
        let site = Site {
            name: "the git remote",
            title: "The git remote",
            accept: "*/*",
            token: header,
        };
        Ok(Client {
            rt,
            http: Http::for_site(octo, policy, site).until(deadline_at),
            base: url.trim_end_matches('/').to_owned(),
            token: given,
        })
    }
}

/// `url` without the `user:secret@` of its authority, and that `user:secret` (percent-decoded),
/// if it had one.
fn without_credentials(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), None);
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => (
            format!("{scheme}://{host}{path}"),
            Some(percent_decoded(userinfo)),
        ),
        None => (url.to_owned(), None),
    }
}

fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |i: usize| bytes.get(i).and_then(|&b| char::from(b).to_digit(16));
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.extend(u8::try_from(h * 16 + l).ok());
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ask {
    /// `GET info/refs`: the refs advertised.
    Refs,
    /// `POST` of what libgit2 wrote: a fetch's wants and haves, or a push's commands and pack.
    Exchange,
}

struct Stream {
    client: Arc<Client>,
    /// `git-upload-pack` (fetch) or `git-receive-pack` (push).
    service: &'static str,
    ask: Ask,
    /// What libgit2 wrote, sent when it first reads.
    sent: Vec<u8>,
    reply: Option<Cursor<Vec<u8>>>,
}

impl Stream {
    fn send(&mut self) -> Result<Vec<u8>, ForgeError> {
        let service = self.service;
        let (method, url, body, expected, repeat) = match self.ask {
            Ask::Refs => (
                Method::GET,
                format!("{}/info/refs?service={service}", self.client.base),
                None,
                format!("application/x-{service}-advertisement"),
                Repeat::Safe,
            ),
            Ask::Exchange => (
                Method::POST,
                format!("{}/{service}", self.client.base),
                Some(self.sent.as_slice()),
                format!("application/x-{service}-result"),
                // A fetch only reads; a push is sent once.
                if service == "git-receive-pack" {
                    Repeat::Never
                } else {
                    Repeat::Safe
                },
            ),
        };
        let kind = format!("application/x-{service}-request");
        let client = &self.client;
        let reply = client.rt.block_on(client.http.call_bytes(
            method.clone(),
            &url,
            body.map(|b| (kind.as_str(), b)),
            Some(&expected),
            repeat,
        ))?;
        let push = service == "git-receive-pack";
        check(
            &reply,
            &format!("{method} {url}"),
            &expected,
            client.token,
            push,
        )?;
        tracing::debug!("git: {method} {url}: {} bytes", reply.body.len());
        Ok(reply.body)
    }
}

/// A reply git's smart protocol can read: 200 with the content type the request asked for.
fn check(
    reply: &Reply,
    what: &str,
    expected: &str,
    token: bool,
    push: bool,
) -> Result<(), ForgeError> {
    let status = reply.status.as_u16();
    if matches!(status, 401 | 403) {
        return Err(ForgeError::Other(format!(
            "{what}: the git remote refused {} ({})\nhint: give promote a token that may {} this repository (the `token` input)",
            if token {
                "the token"
            } else {
                "a request without a token"
            },
            reply.status,
            if push { "push to" } else { "read" },
        )));
    }
    if status == 404 {
        return Err(ForgeError::Other(format!(
            "{what}: the git remote has no such repository (404 Not Found)"
        )));
    }
    if !reply.is_success() {
        return Err(ForgeError::Other(format!(
            "{what}: the git remote answered {}",
            reply.status
        )));
    }
    let kind = reply
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let bare = kind.split(';').next().unwrap_or("").trim();
    if !bare.eq_ignore_ascii_case(expected) {
        return Err(ForgeError::Other(format!(
            "{what}: the remote is no smart git HTTP server (its answer is `{}`, not `{expected}`)",
            if kind.is_empty() { "untyped" } else { kind }
        )));
    }
    Ok(())
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.reply.is_none() {
            let body = self.send().map_err(|e| io::Error::other(e.to_string()))?;
            self.sent = Vec::new();
            self.reply = Some(Cursor::new(body));
        }
        match &mut self.reply {
            Some(reply) => reply.read(buf),
            None => Ok(0),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.reply.is_some() {
            return Err(io::Error::other(
                "libgit2 wrote to a git http request already sent",
            ));
        }
        self.sent.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::without_credentials;

    #[test]
    fn credentials_come_out_of_the_url() {
        assert_eq!(
            without_credentials("https://x-access-token:ghs_a%40b@github.com/acme/live.git"),
            (
                "https://github.com/acme/live.git".to_owned(),
                Some("x-access-token:ghs_a@b".to_owned())
            )
        );
        assert_eq!(
            without_credentials("https://github.com/acme/a@b.git"),
            ("https://github.com/acme/a@b.git".to_owned(), None)
        );
        assert_eq!(
            without_credentials("http://127.0.0.1:8080/origin.git"),
            ("http://127.0.0.1:8080/origin.git".to_owned(), None)
        );
    }
}
