//! The webhook event sink: one HTTP `POST` per event to a receiver of the business's.
//!
//! Configured as
//!
//! ```toml
//! [[sinks]]
//! type = "webhook"
//! name = "erp"
//! url = "https://erp.example.com/edi/events"
//! secret_env = "EDIGATE_ERP_SECRET"   # optional: the variable holding the HMAC secret
//! timeout_ms = 10000                  # optional, the default
//! headers = { Authorization = "Bearer ..." }   # optional, sent with every request
//! ```
//!
//! The URL, the secret variable and the headers are checked when the gateway opens, and a
//! mistake stops it there, naming the sink. The secret is read once, then: it is never logged,
//! shown by `Debug`, or put in an error.
//!
//! # The request
//!
//! ```text
//! POST <url>
//! Content-Type: application/json
//! Edigate-Event-Id: <the event's "id">
//! Edigate-Delivery: d-000000000042        (the outbox delivery, the same on every retry)
//! Edigate-Timestamp: 1767225600           (Unix seconds when this attempt was made)
//! Edigate-Signature: sha256=<64 hex>      (only when secret_env is set)
//! <extra headers>
//!
//! <the event JSON, byte for byte as stored in the outbox>
//! ```
//!
//! The signature is `sha256=` followed by the lower-case hex HMAC-SHA256, keyed with the secret's
//! UTF-8 bytes, of the timestamp header's decimal digits, a `.`, and the raw body bytes:
//!
//! ```text
//! Edigate-Signature: sha256=hex(HMAC-SHA256(secret, "<Edigate-Timestamp>" + "." + body))
//! ```
//!
//! A receiver verifies it by recomputing it over the bytes it received (before any JSON
//! parsing), comparing in constant time, and refusing timestamps too far from its own clock
//! (five minutes is usual) so a captured request cannot be replayed later. Each attempt has its
//! own timestamp and signature. Delivery is at least once: a receiver deduplicates on
//! `Edigate-Event-Id`.
//!
//! # Outcomes
//!
//! - `2xx`: delivered.
//! - `408`, `429`, `5xx`, a connection that fails, no answer within `timeout_ms`, and anything
//!   else unexpected (a redirect: they are not followed): the delivery fails and the outbox tries
//!   it again later with backoff, then dead-letters it. Nothing the receiver says (such as
//!   `Retry-After`) changes that schedule.
//! - Any other `4xx`: the receiver refuses this request, and would refuse it again:
//!   [`DeliveryError::Rejected`], for which [`DeliveryError::is_permanent`] is true.
//!
//! # Threads
//!
//! The client is reqwest's blocking one (rustls on `ring`, no OpenSSL), one per sink so
//! connections are reused. It must be used from a thread that may block, as the delivery
//! worker's is. Opening and dropping the sink are safe anywhere, inside a tokio runtime too.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use reqwest::Url;
use reqwest::blocking::Client;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use sha2::Sha256;

use crate::sinks::DeliveryError;

/// The header carrying the event's id.
pub const EVENT_ID_HEADER: &str = "Edigate-Event-Id";
/// The header carrying the outbox delivery's id, when the caller gives it.
pub const DELIVERY_HEADER: &str = "Edigate-Delivery";
/// The header carrying the attempt's time, in Unix seconds.
pub const TIMESTAMP_HEADER: &str = "Edigate-Timestamp";
/// The header carrying `sha256=<hex>`, when a secret is set.
pub const SIGNATURE_HEADER: &str = "Edigate-Signature";

/// Headers the sink sets itself; configured extras may not replace them.
const RESERVED_HEADERS: [&str; 4] = [
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
];

/// How much of a refusal's body goes into the error: enough for "invalid signature" and the like.
const ERROR_BODY_BYTES: u64 = 512;
/// How much of a success's body is read so the connection can be reused; a bigger one is
/// dropped unread, and with it the connection.
const DRAIN_BYTES: u64 = 64 * 1024;

type HmacSha256 = Hmac<Sha256>;

/// Why a webhook sink's configuration was refused when the gateway opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The URL does not parse (the URL itself is not repeated: it may hold credentials).
    #[error("url is not a valid URL: {0}")]
    InvalidUrl(String),
    /// The URL is not `http` or `https`.
    #[error("url must be http or https, not {0:?}")]
    UnsupportedScheme(String),
    /// The timeout is zero.
    #[error("timeout_ms must be at least 1")]
    ZeroTimeout,
    /// `secret_env` names a variable that is not set.
    #[error("secret_env names the environment variable {0}, which is not set")]
    SecretUnset(String),
    /// `secret_env` names a variable that is set but empty: signing with an empty key would
    /// look like protection without being any.
    #[error("secret_env names the environment variable {0}, which is empty")]
    SecretEmpty(String),
    /// `secret_env` names a variable whose value is not UTF-8.
    #[error("secret_env names the environment variable {0}, whose value is not UTF-8")]
    SecretNotUnicode(String),
    /// An extra header has an invalid name or value, or would replace one the sink sets.
    #[error("header {name:?}: {reason}")]
    InvalidHeader {
        /// The header's name as configured.
        name: String,
        /// What is wrong with it (never its value, which may be a credential).
        reason: &'static str,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// A webhook sink, ready to deliver.
pub struct WebhookSink {
    name: String,
    url: Url,
    /// The URL as errors show it: without user, password, query or fragment.
    shown_url: String,
    timeout: Duration,
    /// Keyed once at open; each signature starts from a clone.
    mac: Option<HmacSha256>,
    client: ClientHandle,
}

impl fmt::Debug for WebhookSink {
    // Written by hand so the secret and the headers' values (credentials, often) never show.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSink")
            .field("name", &self.name)
            .field("url", &self.shown_url)
            .field("timeout", &self.timeout)
            .field("signed", &self.mac.is_some())
            .finish_non_exhaustive()
    }
}

impl WebhookSink {
    /// Checks the configuration, reads the secret from `secret_env` and builds the client.
    pub fn open(
        name: &str,
        url: &str,
        secret_env: Option<&str>,
        timeout_ms: u64,
        headers: &BTreeMap<String, String>,
    ) -> Result<WebhookSink, OpenError> {
        let url = Url::parse(url).map_err(|e| OpenError::InvalidUrl(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(OpenError::UnsupportedScheme(url.scheme().to_string()));
        }
        if timeout_ms == 0 {
            return Err(OpenError::ZeroTimeout);
        }
        let mac = match secret_env {
            None => None,
            Some(var) => {
                let secret = std::env::var(var).map_err(|e| match e {
                    std::env::VarError::NotPresent => OpenError::SecretUnset(var.to_string()),
                    std::env::VarError::NotUnicode(_) => {
                        OpenError::SecretNotUnicode(var.to_string())
                    }
                })?;
                if secret.is_empty() {
                    return Err(OpenError::SecretEmpty(var.to_string()));
                }
                Some(
                    HmacSha256::new_from_slice(secret.as_bytes())
                        .map_err(|e| OpenError::Client(format!("HMAC key: {e}")))?,
                )
            }
        };
        let mut defaults = HeaderMap::new();
        defaults.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (header, value) in headers {
            let invalid = |reason| OpenError::InvalidHeader {
                name: header.clone(),
                reason,
            };
            let header_name = HeaderName::from_bytes(header.as_bytes())
                .map_err(|_| invalid("not a valid header name"))?;
            if RESERVED_HEADERS.contains(&header_name.as_str())
                || header_name.as_str().starts_with("edigate-")
            {
                return Err(invalid("the sink sets this header itself"));
            }
            let mut header_value =
                HeaderValue::from_str(value).map_err(|_| invalid("not a valid header value"))?;
            // Keeps credentials out of reqwest's own debug output.
            header_value.set_sensitive(true);
            defaults.insert(header_name, header_value);
        }
        let timeout = Duration::from_millis(timeout_ms);
        let builder = Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A redirected POST may arrive as a GET elsewhere: a moved receiver is a
            // configuration change, surfaced as a failing delivery, not followed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("edigate/", env!("CARGO_PKG_VERSION")))
            .default_headers(defaults);
        let client = ClientHandle::build(builder)?;
        Ok(WebhookSink {
            name: name.to_string(),
            shown_url: shown_url(&url),
            url,
            timeout,
            mac,
            client,
        })
    }

    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Posts one event; `delivery` is the outbox delivery it belongs to, sent as
    /// `Edigate-Delivery` when known. Blocks for at most the configured timeout (plus the time
    /// to read a short answer).
    pub fn deliver(
        &self,
        delivery: Option<outbox::DeliveryId>,
        event_json: &[u8],
    ) -> Result<(), DeliveryError> {
        let what = || format!("POST to {}", self.shown_url);
        let event_id = event_id(event_json).ok_or_else(|| {
            DeliveryError::Unsendable(format!(
                "{}: the payload is not an event with a string \"id\" usable as a header",
                what()
            ))
        })?;
        let timestamp = crate::clock::now_ms() / 1000;
        let mut request = self
            .client
            .get()
            .post(self.url.clone())
            .header(EVENT_ID_HEADER, event_id)
            .header(TIMESTAMP_HEADER, timestamp.to_string());
        if let Some(d) = delivery {
            request = request.header(DELIVERY_HEADER, d.to_string());
        }
        if let Some(mac) = &self.mac {
            request = request.header(SIGNATURE_HEADER, sign(mac.clone(), timestamp, event_json));
        }
        let response =
            request
                .body(event_json.to_vec())
                .send()
                .map_err(|e| DeliveryError::Unavailable {
                    what: what(),
                    message: self.describe(e),
                })?;
        let status = response.status();
        if status.is_success() {
            // Reading the rest lets the connection be reused; the event is delivered whatever
            // happens while reading.
            let _ = std::io::copy(&mut response.take(DRAIN_BYTES), &mut std::io::sink());
            return Ok(());
        }
        let message = format!("answered {status}{}", body_excerpt(response));
        let code = status.as_u16();
        if status.is_client_error() && code != 408 && code != 429 {
            return Err(DeliveryError::Rejected {
                what: what(),
                status: code,
                message,
            });
        }
        let message = if status.is_redirection() {
            format!("{message} (redirects are not followed: correct the sink's url)")
        } else {
            message
        };
        Err(DeliveryError::Unavailable {
            what: what(),
            message,
        })
    }

    /// A transport error as one line: reqwest's own top line says little ("error sending
    /// request"); the cause is down its source chain. The URL is left out: ours is shown
    /// without credentials.
    fn describe(&self, e: reqwest::Error) -> String {
        if e.is_timeout() {
            return format!("no answer within {} ms", self.timeout.as_millis());
        }
        let e = e.without_url();
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        message
    }
}

/// The signature header's value: `sha256=` and the hex HMAC of `"<timestamp>.<body>"`.
fn sign(mut mac: HmacSha256, timestamp: u64, body: &[u8]) -> String {
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", crate::spool::hex(&mac.finalize().into_bytes()))
}

/// The event's `id`, if the payload is a JSON object with a string one that a header can carry.
fn event_id(event_json: &[u8]) -> Option<HeaderValue> {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: String,
    }
    let parsed: IdOnly = serde_json::from_slice(event_json).ok()?;
    HeaderValue::from_str(&parsed.id).ok()
}

/// `: <start of the body>` for an error, printable characters only, or nothing.
fn body_excerpt(response: reqwest::blocking::Response) -> String {
    let mut bytes = Vec::new();
    // An unreadable body still leaves the status to report.
    let _ = response.take(ERROR_BODY_BYTES).read_to_end(&mut bytes);
    let text: String = String::from_utf8_lossy(&bytes)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

/// The URL without what may be a credential: user, password, query, fragment.
fn shown_url(url: &Url) -> String {
    let mut shown = url.clone();
    // Both only fail for URLs that cannot have them, where there is nothing to remove.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// reqwest's blocking client, kept off async threads when built and dropped.
///
/// The client runs a tokio runtime on a thread of its own. Building it waits for that thread in
/// a way that panics (in debug builds) on a thread already inside a runtime, and dropping the
/// last handle joins the thread, which would stall an async worker. `Gateway::open` runs before
/// the binary's runtime starts and deliveries run on blocking threads, but the gateway itself is
/// dropped at the end of the async `Gateway::run`, and a test may open one inside a runtime.
struct ClientHandle(Option<Client>);

impl ClientHandle {
    fn build(builder: reqwest::blocking::ClientBuilder) -> Result<ClientHandle, OpenError> {
        let built = if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|s| s.spawn(move || builder.build()).join())
                .map_err(|_| OpenError::Client("the client's builder panicked".into()))?
        } else {
            builder.build()
        };
        built
            .map(|c| ClientHandle(Some(c)))
            .map_err(|e| OpenError::Client(e.to_string()))
    }

    fn get(&self) -> &Client {
        // Only `drop` takes the client out.
        self.0
            .as_ref()
            .unwrap_or_else(|| unreachable!("client used after drop"))
    }
}

impl Drop for ClientHandle {
    fn drop(&mut self) {
        if let Some(client) = self.0.take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            // If the thread cannot be started, the closure and the client are dropped here
            // after all: a short stall rather than a leak.
            let _ = std::thread::Builder::new()
                .name("edigate-webhook-close".into())
                .spawn(move || drop(client));
        }
    }
}
