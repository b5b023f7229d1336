//! AS2 (RFC 4130) in the daemon: our identity, the partnerships, and the inbound listener.
//!
//! The roles:
//! - [`OwnAs2`]: our AS2 name and keys from `[as2]`, checked at start (each key must belong to
//!   its certificate); the valid certificate ending last signs, every key may decrypt.
//! - [`As2Partnerships`]: the partners' `[as2]` tables, found by `AS2-From` and `AS2-To`.
//! - The listener ([`serve`]): `POST /` takes a message; the partnership is found by its AS2
//!   names, the message is read with [`as2::receive`] against every valid certificate of the
//!   partner, the payload is spooled and recorded (durable) before the MDN is given, then it is
//!   processed on a blocking thread. Refused messages are spooled raw and recorded as
//!   quarantined with the reason, and answered with the standard negative disposition. A
//!   `Message-ID` the partner sent before is a retransmission: answered with the MDN given the
//!   first time, never processed again. `POST /mdn` takes asynchronous MDNs for what we sent
//!   ([`crate::as2_outbox`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use outbox::{Arrival, MessageId, MessageState, NewDelivery, NewMessage, Step};

use crate::config::{As2Config, TlsFiles};
use crate::{Error, Gateway, clock, telemetry};

/// What MDNs name us as (`Reporting-UA`).
pub const REPORTING_UA: &str = concat!("edigate/", env!("CARGO_PKG_VERSION"));

/// The outbox destination of the asynchronous MDNs owed to a partner.
pub fn mdn_destination(partner: &str) -> String {
    format!("as2-mdn:{partner}")
}

/// Our AS2 identity, loaded and checked.
pub struct OwnAs2 {
    /// Our AS2 name.
    pub name: String,
    /// Our identities, the one that signs first (valid, ending last), then the others.
    identities: Vec<as2::Identity>,
    /// Where asynchronous MDNs reach us.
    pub async_mdn_url: Option<String>,
    /// How long an asynchronous MDN is awaited, in milliseconds.
    pub mdn_timeout_ms: u64,
    /// How long one POST may take, in milliseconds.
    pub timeout_ms: u64,
}

impl std::fmt::Debug for OwnAs2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnAs2")
            .field("name", &self.name)
            .field("identities", &self.identities.len())
            .finish_non_exhaustive()
    }
}

fn config_error(message: String) -> Error {
    Error::As2(format!("[as2]: {message}"))
}

impl OwnAs2 {
    /// Reads and checks `[as2]`: the passphrase (never logged), each key with its certificate,
    /// and that each key belongs to its certificate.
    pub fn load(c: &As2Config, base: &Path) -> Result<OwnAs2, Error> {
        if c.name.is_empty()
            || c.name.len() > 128
            || !c.name.bytes().all(|b| (0x20..0x7f).contains(&b))
        {
            return Err(config_error(format!(
                "name {:?} is not 1-128 printable ASCII characters; write name = \"EDIGATE\"",
                c.name
            )));
        }
        if c.keys.is_empty() {
            return Err(config_error(
                "no keys; add [[as2.keys]] with key = \"as2/key.pem\" and certificate = \
                 \"as2/cert.pem\" (made by `edigate as2 keygen`)"
                    .into(),
            ));
        }
        let passphrase = match (&c.passphrase_file, &c.passphrase_env) {
            (Some(_), Some(_)) => {
                return Err(config_error(
                    "both passphrase_file and passphrase_env are set; keep one".into(),
                ));
            }
            (Some(file), None) => {
                let file = base.join(file);
                let text = std::fs::read_to_string(&file).map_err(|e| {
                    config_error(format!("passphrase_file {}: {e}", file.display()))
                })?;
                let line = text.lines().next().unwrap_or("").to_string();
                if line.is_empty() {
                    return Err(config_error(format!(
                        "passphrase_file {} is empty",
                        file.display()
                    )));
                }
                Some(line)
            }
            (None, Some(var)) => Some(
                std::env::var(var)
                    .ok()
                    .filter(|p| !p.is_empty())
                    .ok_or_else(|| {
                        config_error(format!(
                            "passphrase_env: the environment variable {var} is not set (or empty)"
                        ))
                    })?,
            ),
            (None, None) => None,
        };
        let mut loaded = Vec::new();
        for k in &c.keys {
            let (key_path, cert_path) = (base.join(&k.key), base.join(&k.certificate));
            let key = std::fs::read(&key_path)
                .map_err(|e| config_error(format!("key {}: {e}", key_path.display())))?;
            let cert = std::fs::read(&cert_path)
                .map_err(|e| config_error(format!("certificate {}: {e}", cert_path.display())))?;
            // Always a passphrase, empty when none is configured: given none, OpenSSL would ask
            // for one on the terminal when the key is encrypted.
            let id = as2::Identity::from_pem(
                &key,
                &cert,
                Some(passphrase.as_deref().unwrap_or("").as_bytes()),
            )
            .map_err(|e| {
                config_error(format!(
                    "key {} with certificate {}: {e}{}",
                    key_path.display(),
                    cert_path.display(),
                    if passphrase.is_none() {
                        " (an encrypted key needs passphrase_file or passphrase_env)"
                    } else {
                        " (a wrong passphrase, or not a PEM key and certificate)"
                    }
                ))
            })?;
            check_pair(&id).map_err(|e| {
                config_error(format!(
                    "key {} does not belong to certificate {}: {e}",
                    key_path.display(),
                    cert_path.display()
                ))
            })?;
            let days = id.certificate().days_left().unwrap_or(i64::MIN);
            if days < 0 {
                tracing::warn!(certificate = %cert_path.display(), "our AS2 certificate has expired; partners will refuse what it signs");
            }
            loaded.push((days, id));
        }
        // The valid certificate ending last signs; an expired one only if none is valid.
        loaded.sort_by_key(|(days, _)| std::cmp::Reverse(*days));
        Ok(OwnAs2 {
            name: c.name.clone(),
            identities: loaded.into_iter().map(|(_, id)| id).collect(),
            async_mdn_url: c.async_mdn_url.clone(),
            mdn_timeout_ms: c.mdn_timeout_s.max(1) * 1000,
            timeout_ms: c.timeout_ms.max(1),
        })
    }

    /// The identity that signs what we send and our MDNs.
    pub fn signing(&self) -> &as2::Identity {
        // `load` refuses an empty list.
        &self.identities[0]
    }

    /// Every identity, the signing one first: each is tried to decrypt.
    pub fn all(&self) -> &[as2::Identity] {
        &self.identities
    }
}

/// Signs and encrypts a probe to the certificate and reads it back with the key: only the key
/// of that certificate can.
fn check_pair(id: &as2::Identity) -> Result<(), String> {
    let cert = id.certificate();
    let sent = as2::build(
        b"key check",
        &as2::Outgoing {
            from: "check",
            to: "check",
            content_type: "application/octet-stream",
            filename: None,
            subject: None,
            sign: Some(id),
            encrypt: Some((&cert, as2::Encryption::Aes128Cbc)),
            mdn: as2::MdnRequest::None,
        },
    )
    .map_err(|e| e.to_string())?;
    let rec = as2::receive(
        &sent.headers,
        &sent.body,
        &as2::Receiver {
            own: id,
            partner: &cert,
            require_encryption: true,
            require_signature: true,
        },
    )
    .map_err(|e| e.to_string())?;
    rec.outcome.map(|_| ()).map_err(|f| f.detail)
}

/// One partner's AS2 settings, ready to use.
#[derive(Debug, Clone)]
pub struct As2Partner {
    /// The partner's id.
    pub partner: String,
    /// The partnership as the partner file gives it.
    pub settings: partner::As2Partnership,
}

impl As2Partner {
    /// The partner's certificates still valid (all of them, expired first last, when none is:
    /// a signature check then fails with a reason naming the expiry).
    pub fn certificates(&self) -> Vec<&as2::Certificate> {
        let mut valid: Vec<(i64, &as2::Certificate)> = self
            .settings
            .certificates
            .iter()
            .map(|c| {
                (
                    c.certificate.days_left().unwrap_or(i64::MIN),
                    &c.certificate,
                )
            })
            .filter(|(d, _)| *d >= 0)
            .collect();
        valid.sort_by_key(|(d, _)| std::cmp::Reverse(*d));
        valid.into_iter().map(|(_, c)| c).collect()
    }
}

/// The partnerships, by (partner's AS2 name, our AS2 name toward it).
#[derive(Debug, Clone, Default)]
pub struct As2Partnerships {
    by_names: BTreeMap<(String, String), Arc<As2Partner>>,
    by_partner: BTreeMap<String, Arc<As2Partner>>,
}

impl As2Partnerships {
    /// Every partner with an `[as2]` table; two partners with the same pair of names are refused.
    pub fn of(partners: &partner::Partners) -> Result<As2Partnerships, Error> {
        let mut out = As2Partnerships::default();
        for p in partners.all() {
            let Some(settings) = &p.as2 else { continue };
            let entry = Arc::new(As2Partner {
                partner: p.id.clone(),
                settings: settings.clone(),
            });
            let key = (settings.id.clone(), settings.us.clone());
            if let Some(other) = out.by_names.insert(key, Arc::clone(&entry)) {
                return Err(Error::As2(format!(
                    "partners {} and {} both have [as2] id = {:?} and us = {:?}; one AS2 \
                     partnership per pair of names",
                    other.partner, p.id, settings.id, settings.us
                )));
            }
            out.by_partner.insert(p.id.clone(), entry);
        }
        Ok(out)
    }

    /// The partnership of a message from `from` to `to`.
    pub fn find(&self, from: &str, to: &str) -> Option<&Arc<As2Partner>> {
        self.by_names.get(&(from.to_string(), to.to_string()))
    }

    /// A partner's partnership.
    pub fn of_partner(&self, partner: &str) -> Option<&Arc<As2Partner>> {
        self.by_partner.get(partner)
    }

    /// Every partnership.
    pub fn all(&self) -> impl Iterator<Item = &Arc<As2Partner>> {
        self.by_partner.values()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.by_partner.is_empty()
    }
}

/// One AS2 listener as configured.
#[derive(Debug, Clone)]
pub struct As2Listener {
    /// The channel's name.
    pub name: String,
    /// Where it listens.
    pub listen: SocketAddr,
    /// TLS, or plain HTTP.
    pub tls: Option<TlsFiles>,
    /// The body limit.
    pub max_body_bytes: u64,
}

/// The channel name of messages a partner sent through a listener: one per partner, so the
/// pipeline holds the envelope to the partner the AS2 names authenticated.
pub fn channel_of(listener: &str, partner: &str) -> String {
    format!("{listener}:{partner}")
}

/// HTTP header fields and a body as one text, the way they are kept (answers, raw refusals,
/// receipts): `Name: value` lines, an empty line, the body; with `url`, a first line
/// `POST url`.
pub fn encode_http(url: Option<&str>, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 512);
    if let Some(url) = url {
        out.extend_from_slice(format!("POST {url}\r\n").as_bytes());
    }
    for (k, v) in headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// The inverse of [`encode_http`]: the URL if any, the header fields, the body.
pub fn decode_http(bytes: &[u8]) -> (Option<String>, Vec<(String, String)>, Vec<u8>) {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(bytes.len(), |p| p + 2);
    let head = String::from_utf8_lossy(bytes.get(..end).unwrap_or_default());
    let body = bytes.get(end + 2..).unwrap_or_default().to_vec();
    let mut url = None;
    let mut headers = Vec::new();
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        if let Some(u) = line.strip_prefix("POST ") {
            url = Some(u.to_string());
        } else if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    (url, headers, body)
}

fn header_pairs(h: &HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn field<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// An AS2 name as a header gives it (quoted when it holds spaces).
fn unquote(v: &str) -> String {
    let v = v.trim();
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        v[1..v.len() - 1]
            .replace("\\\"", "\"")
            .replace("\\\\", "\\")
    } else {
        v.to_string()
    }
}

/// What the handler answers, decided on a blocking thread.
struct Answer {
    status: StatusCode,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The message to process once the answer is on its way.
    process: Option<MessageId>,
}

impl Answer {
    fn text(status: StatusCode, text: String) -> Answer {
        Answer {
            status,
            headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
            body: text.into_bytes(),
            process: None,
        }
    }

    fn ok_empty(process: Option<MessageId>) -> Answer {
        Answer {
            status: StatusCode::OK,
            headers: Vec::new(),
            body: Vec::new(),
            process,
        }
    }

    fn into_response(self) -> Response {
        let mut r = (self.status, self.body).into_response();
        for (k, v) in &self.headers {
            match (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                (Ok(k), Ok(v)) => {
                    r.headers_mut().insert(k, v);
                }
                _ => tracing::warn!(header = %k, "header not sendable; left out"),
            }
        }
        r
    }
}

/// One AS2 listener in the status report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct As2ListenerStatus {
    /// The channel's name.
    pub name: String,
    /// The address it listens on.
    pub addr: String,
    /// Whether it speaks TLS.
    pub tls: bool,
}

/// The AS2 listeners as they bound, for the status report.
#[derive(Debug, Clone, Default)]
pub struct As2Board(Arc<std::sync::Mutex<Vec<As2ListenerStatus>>>);

impl As2Board {
    fn add(&self, status: As2ListenerStatus) {
        if let Ok(mut all) = self.0.lock() {
            all.push(status);
        }
    }

    /// The listeners now.
    pub fn snapshot(&self) -> Vec<As2ListenerStatus> {
        self.0.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

struct ListenerState {
    gateway: Arc<Gateway>,
    listener: As2Listener,
}

/// Binds one AS2 listener and serves it until `stop` resolves. Returns once bound, with the
/// task serving it.
pub async fn serve(
    gateway: Arc<Gateway>,
    listener: As2Listener,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, Error> {
    let tcp = tokio::net::TcpListener::bind(listener.listen)
        .await
        .map_err(|e| {
            Error::io(
                format!("AS2 channel {}: binding {}", listener.name, listener.listen),
                e,
            )
        })?;
    let addr = tcp
        .local_addr()
        .map_err(|e| Error::io(format!("AS2 channel {}", listener.name), e))?;
    let tls =
        match &listener.tls {
            Some(files) => Some(crate::tls::server_acceptor(files).map_err(|e| {
                Error::As2(format!("channel {}: [inbound.tls]: {e}", listener.name))
            })?),
            None => None,
        };
    tracing::info!(channel = %listener.name, addr = %addr, tls = tls.is_some(), "AS2 listening");
    gateway.as2_board.add(As2ListenerStatus {
        name: listener.name.clone(),
        addr: addr.to_string(),
        tls: tls.is_some(),
    });
    // The largest limit any partner has: each message is then held to its partner's own.
    let limit = gateway
        .as2_partnerships
        .all()
        .filter_map(|p| p.settings.max_body_bytes)
        .chain(std::iter::once(listener.max_body_bytes))
        .max()
        .unwrap_or(listener.max_body_bytes);
    let state = Arc::new(ListenerState {
        gateway,
        listener: listener.clone(),
    });
    let app = axum::Router::new()
        .route("/", axum::routing::post(inbound))
        .route("/mdn", axum::routing::post(async_mdn))
        .layer(DefaultBodyLimit::max(
            usize::try_from(limit).unwrap_or(usize::MAX),
        ))
        .with_state(state);
    let mut stop = stop;
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let name = listener.name.clone();
    Ok(tokio::spawn(async move {
        let served = match tls {
            None => axum::serve(tcp, app).with_graceful_shutdown(shutdown).await,
            Some(acceptor) => {
                axum::serve(TlsListener { tcp, acceptor }, app)
                    .with_graceful_shutdown(shutdown)
                    .await
            }
        };
        if let Err(e) = served {
            tracing::error!(channel = %name, error = %e, "AS2 listener stopped");
        }
    }))
}

/// A TCP listener whose connections are TLS: a failed handshake drops that connection only.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, addr) = match self.tcp.accept().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "AS2: accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let handshake = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                self.acceptor.accept(stream),
            )
            .await;
            match handshake {
                Ok(Ok(tls)) => return (tls, addr),
                Ok(Err(e)) => tracing::warn!(peer = %addr, error = %e, "AS2: TLS handshake failed"),
                Err(_) => tracing::warn!(peer = %addr, "AS2: TLS handshake timed out"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

async fn inbound(
    State(state): State<Arc<ListenerState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let headers = header_pairs(&headers);
    let st = Arc::clone(&state);
    let answer = tokio::task::spawn_blocking(move || {
        st.gateway
            .as2_receive(&st.listener, &headers, &body)
            .unwrap_or_else(|e| {
                // Our own side failed (spool, store): nothing was acknowledged, the partner
                // sends again.
                tracing::error!(channel = %st.listener.name, error = %e, "AS2 message not taken");
                Answer::text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the message could not be stored; send it again later".into(),
                )
            })
    })
    .await
    .unwrap_or_else(|e| {
        Answer::text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: {e}"),
        )
    });
    if let Some(id) = answer.process {
        let gw = Arc::clone(&state.gateway);
        tokio::task::spawn_blocking(move || gw.process_guarded(&[id]));
    }
    answer.into_response()
}

async fn async_mdn(
    State(state): State<Arc<ListenerState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let headers = header_pairs(&headers);
    let st = Arc::clone(&state);
    let answer = tokio::task::spawn_blocking(move || {
        crate::as2_outbox::receive_async_mdn(&st.gateway, &st.listener.name, &headers, &body)
    })
    .await
    .unwrap_or_else(|e| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: {e}"),
        )
    });
    answer.into_response()
}

/// Why a message was refused before it could be read as AS2 from a partner we know.
fn refused_name(message_id: Option<&str>) -> String {
    match message_id {
        Some(id) => format!("as2-{}", id.replace(['/', '\\', '\0'], "_")),
        None => "as2-unnamed".into(),
    }
}

impl Gateway {
    /// Takes one POSTed AS2 message: everything durable before the answer is returned.
    fn as2_receive(
        &self,
        listener: &As2Listener,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Answer, Error> {
        let message_id = field(headers, "Message-ID")
            .map(|m| m.trim_start_matches('<').trim_end_matches('>').to_string());
        let (from, to) = (
            field(headers, "AS2-From").map(unquote),
            field(headers, "AS2-To").map(unquote),
        );
        let (Some(from), Some(to), Some(message_id)) = (from, to, message_id.clone()) else {
            let reason = "not an AS2 message: AS2-From, AS2-To or Message-ID missing".to_string();
            self.as2_refuse(
                &listener.name,
                None,
                &refused_name(message_id.as_deref()),
                headers,
                body,
                &reason,
            )?;
            return Ok(Answer::text(StatusCode::BAD_REQUEST, reason));
        };
        let Some(p) = self.as2_partnerships.find(&from, &to).cloned() else {
            let reason = format!(
                "no partner file has an [as2] partnership with id = {from:?} and us = {to:?}"
            );
            self.as2_refuse(
                &listener.name,
                None,
                &refused_name(Some(&message_id)),
                headers,
                body,
                &reason,
            )?;
            return Ok(Answer::text(StatusCode::FORBIDDEN, reason));
        };
        let channel = channel_of(&listener.name, &p.partner);
        // The partner's message, refused: kept raw with the reason.
        let refuse = |reason: &str| {
            self.as2_refuse(
                &channel,
                Some(&p.partner),
                &refused_name(Some(&message_id)),
                headers,
                body,
                reason,
            )
        };
        let limit = p.settings.max_body_bytes.unwrap_or(listener.max_body_bytes);
        if body.len() as u64 > limit {
            let reason = format!(
                "AS2 message {message_id} from {} is {} bytes, over the limit of {limit}",
                p.partner,
                body.len()
            );
            refuse(&reason)?;
            return Ok(Answer::text(StatusCode::PAYLOAD_TOO_LARGE, reason));
        }
        let Some(own) = self.own_as2.as_ref() else {
            return Err(Error::Internal("AS2 channel without [as2]".into()));
        };

        let rec = match read_with_every_key(own, &p, headers, body) {
            Ok(r) => r,
            Err(e) => {
                let reason = format!("AS2 message {message_id} from {}: {e}", p.partner);
                refuse(&reason)?;
                return Ok(Answer::text(StatusCode::BAD_REQUEST, reason));
            }
        };
        let now = clock::now_ms();
        let payload = match &rec.outcome {
            Ok(payload) => payload.clone(),
            Err(f) => {
                let reason = format!(
                    "AS2 message {message_id} from {} refused: {}: {}",
                    p.partner,
                    f.code.as_str(),
                    f.detail
                );
                let id = refuse(&reason)?;
                telemetry::as2_message(&p.partner, &message_id, f.code.as_str());
                return self.as2_answer(own, &p, &rec, id, false);
            }
        };

        // A retransmission (read and checked like any message first): the first arrival's
        // answer again, nothing processed twice.
        if let Some(prior) = self
            .pipeline
            .outbox
            .inbound_reference(&p.partner, &message_id)?
        {
            return self.as2_repeat(own, &p, &rec, prior.message);
        }
        let mut segment = self
            .pipeline
            .spool
            .segment()
            .map_err(|e| Error::io("starting a spool segment".into(), e))?;
        let spooled = segment
            .add(&payload.data)
            .map_err(|e| Error::io("writing the spool".into(), e))?;
        segment
            .commit()
            .map_err(|e| Error::io("making the spool segment durable".into(), e))?;
        let file_name = payload
            .filename
            .clone()
            .filter(|f| !f.is_empty())
            .unwrap_or_else(|| refused_name(Some(&message_id)));
        let new = spooled.message(&channel, &file_name, now);
        let arrival = self
            .pipeline
            .outbox
            .record_received_once(&new, &p.partner, &message_id)?;
        let id = match arrival {
            Arrival::New(id) => id,
            // Another connection brought the same message a moment ago.
            Arrival::Repeat(prior) => {
                self.pipeline.outbox.flush()?;
                return self.as2_repeat(own, &p, &rec, prior.message);
            }
        };
        self.pipeline.outbox.append_trace(
            id,
            now,
            Step::Identified {
                partner: p.partner.clone(),
            },
            &format!(
                "AS2 message {message_id} from {from} (signed: {}, encrypted: {}, compressed: {})",
                rec.signed, rec.encrypted, rec.compressed
            ),
        )?;
        // Durable before the partner is told anything.
        self.pipeline.outbox.flush()?;
        telemetry::received(&channel, id, &file_name, new.size);
        tracing::info!(channel = %channel, message = %id, as2_message_id = %message_id, partner = %p.partner, "AS2 message spooled");
        telemetry::as2_message(&p.partner, &message_id, "accepted");
        #[cfg(debug_assertions)]
        pause_for_tests();
        self.as2_answer(own, &p, &rec, id, true)
    }

    /// The MDN for `rec`: sync in the answer, or queued for the partner's URL (async). Kept
    /// to answer a retransmission the same way.
    fn as2_answer(
        &self,
        own: &OwnAs2,
        p: &As2Partner,
        rec: &as2::Reception,
        id: MessageId,
        process: bool,
    ) -> Result<Answer, Error> {
        let process = process.then_some(id);
        let Some(requested) = &rec.mdn else {
            return Ok(Answer::ok_empty(process));
        };
        let mdn = as2::build_mdn(rec, own.signing(), REPORTING_UA)
            .map_err(|e| Error::Internal(format!("building the MDN: {e}")))?;
        match &requested.async_url {
            None => {
                self.pipeline.outbox.set_answer(
                    &p.partner,
                    &rec.message_id,
                    &encode_http(None, &mdn.headers, &mdn.body),
                )?;
                Ok(Answer {
                    status: StatusCode::OK,
                    headers: mdn.headers,
                    body: mdn.body,
                    process,
                })
            }
            Some(url) => {
                let payload = encode_http(Some(url), &mdn.headers, &mdn.body);
                self.pipeline
                    .outbox
                    .set_answer(&p.partner, &rec.message_id, &payload)?;
                let now = clock::now_ms();
                let delivery = NewDelivery::new(
                    mdn_destination(&p.partner),
                    format!("as2-mdn:{}:{}", p.partner, rec.message_id),
                    "message/disposition-notification",
                    now,
                )
                .message(id);
                self.pipeline.outbox.enqueue(delivery, &payload)?;
                self.pipeline.outbox.flush()?;
                Ok(Answer::ok_empty(process))
            }
        }
    }

    /// A message the partner sent before: the answer given then, again.
    fn as2_repeat(
        &self,
        own: &OwnAs2,
        p: &As2Partner,
        rec: &as2::Reception,
        first: MessageId,
    ) -> Result<Answer, Error> {
        let message_id = rec.message_id.as_str();
        let now = clock::now_ms();
        telemetry::as2_message(&p.partner, message_id, "retransmission");
        let warn = p.settings.retransmission == partner::As2Retransmission::Warn;
        tracing::info!(partner = %p.partner, as2_message_id = %message_id, message = %first, warned = warn, "AS2 retransmission: answered again, not processed again");
        self.pipeline.outbox.append_trace(
            first,
            now,
            Step::Duplicate { of: first },
            &if warn {
                format!("AS2 message {message_id} sent again by the partner; answered with a duplicate-document warning, not processed again")
            } else {
                format!("AS2 message {message_id} sent again by the partner; answered with the same MDN, not processed again")
            },
        )?;
        if warn && let Some(requested) = &rec.mdn {
            let mdn =
                as2::build_mdn_warning(rec, own.signing(), REPORTING_UA, "duplicate-document")
                    .map_err(|e| Error::Internal(format!("building the MDN: {e}")))?;
            let Some(url) = &requested.async_url else {
                return Ok(Answer {
                    status: StatusCode::OK,
                    headers: mdn.headers,
                    body: mdn.body,
                    process: None,
                });
            };
            let delivery = NewDelivery::new(
                mdn_destination(&p.partner),
                format!("as2-mdn:{}:{message_id}:duplicate:{now}", p.partner),
                "message/disposition-notification",
                now,
            )
            .message(first);
            self.pipeline
                .outbox
                .enqueue(delivery, &encode_http(Some(url), &mdn.headers, &mdn.body))?;
            self.pipeline.outbox.flush()?;
            return Ok(Answer::ok_empty(None));
        }
        match self.pipeline.outbox.answer(&p.partner, message_id)? {
            Some(kept) => {
                let (url, headers, body) = decode_http(&kept);
                if url.is_some() {
                    // The MDN is (or was) queued for the partner's URL: send it once more.
                    let delivery = NewDelivery::new(
                        mdn_destination(&p.partner),
                        format!("as2-mdn:{}:{message_id}:again:{now}", p.partner),
                        "message/disposition-notification",
                        now,
                    )
                    .message(first);
                    self.pipeline.outbox.enqueue(delivery, &kept)?;
                    self.pipeline.outbox.flush()?;
                    return Ok(Answer::ok_empty(None));
                }
                Ok(Answer {
                    status: StatusCode::OK,
                    headers,
                    body,
                    process: None,
                })
            }
            // Recorded, but stopped before answering: read it again to answer it now. It is
            // processed from the first arrival's record.
            None => self.as2_answer(own, p, rec, first, false),
        }
    }

    /// Spools a refused message raw (header fields and body) and records it as quarantined
    /// with the reason, so an operator sees what came and why it was refused.
    pub(crate) fn as2_refuse(
        &self,
        channel: &str,
        partner: Option<&str>,
        file_name: &str,
        headers: &[(String, String)],
        body: &[u8],
        reason: &str,
    ) -> Result<MessageId, Error> {
        let raw = encode_http(None, headers, body);
        let mut segment = self
            .pipeline
            .spool
            .segment()
            .map_err(|e| Error::io("starting a spool segment".into(), e))?;
        let spooled = segment
            .add(&raw)
            .map_err(|e| Error::io("writing the spool".into(), e))?;
        segment
            .commit()
            .map_err(|e| Error::io("making the spool segment durable".into(), e))?;
        let now = clock::now_ms();
        let id = self.pipeline.outbox.record_received(NewMessage {
            channel: channel.to_string(),
            file_name: file_name.to_string(),
            spool_path: spooled.path,
            spool_offset: spooled.offset,
            size: spooled.size,
            sha256: spooled.sha256,
            received_at: now,
        })?;
        // Nothing to release: the bytes came over HTTP.
        self.pipeline.outbox.mark_released(id)?;
        if let Some(p) = partner {
            self.pipeline.outbox.set_partner(id, p, now)?;
        }
        let state = MessageState::Quarantined {
            reason: reason.to_string(),
        };
        self.pipeline
            .outbox
            .set_state(id, state.clone(), now, reason)?;
        self.pipeline.outbox.flush()?;
        telemetry::received(channel, id, file_name, raw.len() as u64);
        telemetry::message_finished(id, file_name, partner, &state, now, now);
        tracing::warn!(channel, message = %id, reason, "AS2 message refused");
        Ok(id)
    }
}

/// Reads a message with each of our keys and each valid certificate of the partner until one
/// pair reads it; otherwise the most telling refusal (a key that decrypted it beats one that
/// did not; a certificate that verified the signer beats one that did not).
fn read_with_every_key(
    own: &OwnAs2,
    p: &As2Partner,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<as2::Reception, as2::Error> {
    let certificates = p.certificates();
    let rank = |r: &as2::Reception| match &r.outcome {
        Ok(_) => 3,
        Err(f) => match f.code {
            as2::FailureCode::DecryptionFailed => 0,
            as2::FailureCode::AuthenticationFailed => 1,
            _ => 2,
        },
    };
    let options = as2::ReceiveOptions {
        canonicalization: p.settings.canonicalization.to_as2(),
        ..as2::ReceiveOptions::default()
    };
    let mut best: Option<as2::Reception> = None;
    if certificates.is_empty() {
        // No valid certificate: the signature cannot be checked against anything current.
        let mut rec = as2::receive_with(
            headers,
            body,
            &as2::Receiver {
                own: own.signing(),
                partner: &p.settings.certificates[0].certificate,
                require_encryption: p.settings.encrypt,
                require_signature: p.settings.sign,
            },
            &options,
        )?;
        if p.settings.sign || rec.signed {
            rec.outcome = Err(as2::Failure {
                code: as2::FailureCode::AuthenticationFailed,
                detail: format!("every certificate of partner {} has expired", p.partner),
            });
        }
        return Ok(rec);
    }
    for key in own.all() {
        for cert in &certificates {
            let rec = as2::receive_with(
                headers,
                body,
                &as2::Receiver {
                    own: key,
                    partner: cert,
                    require_encryption: p.settings.encrypt,
                    require_signature: p.settings.sign,
                },
                &options,
            )?;
            if rec.outcome.is_ok() {
                return Ok(rec);
            }
            if best.as_ref().is_none_or(|b| rank(&rec) > rank(b)) {
                best = Some(rec);
            }
        }
    }
    best.ok_or_else(|| as2::Error::Mime("no key to read the message with".into()))
}

/// In debug builds only, a pause between spooling a message and answering it, so the tests can
/// stop the daemon with `kill -9` in between (`EDIGATE_TEST_AS2_PAUSE_MS`).
#[cfg(debug_assertions)]
fn pause_for_tests() {
    if let Some(ms) = std::env::var("EDIGATE_TEST_AS2_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        tracing::warn!(ms, "pausing before the MDN (test setting)");
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::config::{As2KeyConfig, Config};

    fn write_identity(dir: &Path, name: &str, password: Option<&[u8]>) -> As2KeyConfig {
        let id = as2::Identity::generate(name, 30).unwrap();
        let key = dir.join(format!("{name}.key.pem"));
        let cert = dir.join(format!("{name}.cert.pem"));
        std::fs::write(&key, id.key_pem(password).unwrap()).unwrap();
        std::fs::write(&cert, id.certificate().to_pem().unwrap()).unwrap();
        As2KeyConfig {
            key,
            certificate: cert,
        }
    }

    fn as2_config(keys: Vec<As2KeyConfig>) -> As2Config {
        let text = "[as2]\nname = \"EDIGATE\"\nkeys = []\n";
        let mut c = Config::from_toml(Path::new("t.toml"), text)
            .unwrap()
            .as2
            .unwrap();
        c.keys = keys;
        c
    }

    #[test]
    fn our_keys_are_read_with_their_passphrase_and_checked_against_their_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let key = write_identity(dir.path(), "ours", Some(b"s3cret"));
        let pass = dir.path().join("pass");
        std::fs::write(&pass, "s3cret\n").unwrap();

        let mut c = as2_config(vec![key.clone()]);
        let e = OwnAs2::load(&c, Path::new("")).unwrap_err().to_string();
        assert!(e.contains("passphrase_file or passphrase_env"), "{e}");

        c.passphrase_file = Some(pass.clone());
        let own = OwnAs2::load(&c, Path::new("")).unwrap();
        assert_eq!(own.all().len(), 1);
        assert_eq!(own.mdn_timeout_ms, 600_000);
        assert!(!format!("{own:?}").contains("s3cret"));

        c.passphrase_env = Some("EDIGATE_TEST_NOT_SET".into());
        let e = OwnAs2::load(&c, Path::new("")).unwrap_err().to_string();
        assert!(e.contains("keep one"), "{e}");

        // A key with someone else's certificate.
        let other = write_identity(dir.path(), "other", None);
        let mixed = As2KeyConfig {
            key: other.key,
            certificate: key.certificate,
        };
        let c = as2_config(vec![mixed]);
        let e = OwnAs2::load(&c, Path::new("")).unwrap_err().to_string();
        assert!(e.contains("does not belong to certificate"), "{e}");

        let c = as2_config(Vec::new());
        let e = OwnAs2::load(&c, Path::new("")).unwrap_err().to_string();
        assert!(e.contains("[[as2.keys]]"), "{e}");
    }

    #[test]
    fn as2_channels_parse_with_their_defaults() {
        let text = "[[inbound]]\ntype = \"as2\"\nname = \"as2\"\nlisten = \"127.0.0.1:4080\"\n";
        let c = Config::from_toml(Path::new("c.toml"), text).unwrap();
        let crate::config::InboundConfig::As2 {
            tls,
            plain_http,
            max_body_bytes,
            ..
        } = &c.inbound[0]
        else {
            panic!("not AS2: {:?}", c.inbound);
        };
        assert!(tls.is_none() && !plain_http);
        assert_eq!(*max_body_bytes, 64 * 1024 * 1024);
        let e = Config::from_toml(Path::new("c.toml"), &format!("{text}plain = true\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `plain`"), "{e}");
    }

    #[test]
    fn kept_http_messages_read_back_as_written() {
        let headers = vec![
            ("AS2-From".to_string(), "\"A B\"".to_string()),
            (
                "Content-Type".to_string(),
                "multipart/signed; boundary=\"x\"".to_string(),
            ),
        ];
        let body = b"\r\n--x\r\nbinary\0\xff\r\n".to_vec();
        for url in [None, Some("http://127.0.0.1:9/mdn")] {
            let (u, h, b) = decode_http(&encode_http(url, &headers, &body));
            assert_eq!(u.as_deref(), url);
            assert_eq!(h, headers);
            assert_eq!(b, body);
        }
        assert_eq!(unquote("\"A \\\"B\\\"\""), "A \"B\"");
    }
}
