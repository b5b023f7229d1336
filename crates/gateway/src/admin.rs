//! The admin API: what the operator's commands (`edigate status`, `messages`, `trace`,
//! `outbox …`) ask the running daemon, since sled lets only one process open the outbox.
//!
//! HTTP/1.1 with JSON bodies, on `admin.listen` (`127.0.0.1:7410` unless configured). An address
//! other machines can reach (`0.0.0.0`, a network interface's) is refused at start unless
//! `admin.token_env` or `admin.token` is set. Every
//! path under `/v1/`, and `/metrics`, needs `Authorization: Bearer TOKEN`; `/health` needs
//! nothing.
//!
//! | method | path | answer |
//! |---|---|---|
//! | `GET` | `/health` | [`Health`]: `{"status":"ok"}` |
//! | `GET` | `/metrics` | Prometheus text format (0.0.4): see [`crate::telemetry`] |
//! | `GET` | `/v1/status` | [`StatusReport`]: partners, destinations, dead letters, pending messages, silent partners, SFTP links |
//! | `GET` | `/v1/messages?partner=&state=&since=&type=&limit=` | [`MessageList`], newest first |
//! | `GET` | `/v1/messages/{id}` | [`MessageDetail`]: the record, its trace, its deliveries |
//! | `GET` | `/v1/deliveries?state=&destination=&limit=` | [`DeliveryList`] |
//! | `GET` | `/v1/partners/report?partner=&since=` | [`insights::Report`]: per partner volume, share of business, promises kept, responsiveness, quality, early warnings (see [`crate::insights`]) |
//! | `POST` | `/v1/messages/{id}/replay` | [`MessageDetail`]: every delivery the message made (acknowledgements, events) sent again, same ids |
//! | `POST` | `/v1/deliveries/{id}/retry` | [`DeliveryAction`]: a dead or pending one, due now |
//! | `POST` | `/v1/deliveries/{id}/drop` | [`DeliveryAction`]: a dead or pending one, never sent |
//! | `GET` | `/v1/deliveries/{id}/receipts/{n}` | [`ReceiptDetail`]: an AS2 MDN it was answered with, raw |
//!
//! Times are milliseconds since the Unix epoch, as the outbox keeps them. `since` is such a time,
//! or a duration back from now (`90s`, `15m`, `1h`, `2d`, `1w`). States are the outbox's names
//! (`received`, `processed`, `quarantined`, `failed`, `duplicate` for messages; `pending`,
//! `in_flight`, `delivered`, `dead`, `dropped`, `awaiting_receipt` for deliveries). Ids may be given in full
//! (`m-000000000042`), short (`m-42`) or as the bare number. `type` is a message type the file
//! held (`850`, `ORDERS`) or an event type it made (`order.created`), in any case.
//!
//! Errors are JSON too, `{"error": "…"}`: 401 without the token or with a wrong one, 400 for a
//! bad parameter or id, 404 for an id that does not exist, 409 for a retry or drop the
//! delivery's state does not allow, 500 when the outbox fails.
//!
//! # `/metrics` and the token
//!
//! Many exporters serve `/metrics` to anyone; this one asks for the token like everything but
//! `/health`. The metrics name the trading partners, their volumes and their failures, which is
//! business information; an operator who opens `admin.listen` beyond loopback so Prometheus can
//! reach it should not open that too; and Prometheus sends a bearer token natively
//! (`authorization: { type: Bearer, credentials_file: … }` in the scrape config). For scraping,
//! set the token with `admin.token_env` so it stays the same across restarts: a generated one
//! changes at every start.
//!
//! # The token
//!
//! `admin.token`, else the variable named by `admin.token_env` (which must then be set), else a
//! random token made at each start and written to `DATA/admin.token`, readable by the daemon's
//! user only, where the commands on the same machine find it. A configured token removes a
//! stale generated file, so that file only ever holds the token in force.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use outbox::{
    Delivery, DeliveryFilter, DeliveryId, DeliveryStateKind, DestinationCounts, Message,
    MessageFilter, MessageId, MessageStateKind, Millis, Outbox, TraceEntry,
};
use serde::{Deserialize, Serialize};

use crate::clock;
use crate::config::AdminConfig;
use crate::sftp_status::{SftpLinkStatus, SftpStatusBoard};
use crate::silence::{self, Quiet, Watch};
use crate::telemetry::Exporter;

/// The file a generated token is written to, in the data directory.
pub const TOKEN_FILE: &str = "admin.token";

/// How many records a listing returns unless `limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 100;

/// The most records one listing returns.
pub const MAX_LIMIT: usize = 10_000;

/// How long a stop waits for requests in progress.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// Why the admin API could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// `admin.token_env` names a variable that is not set (or is empty).
    #[error("admin.token_env names {0}, which is not set")]
    TokenEnvMissing(String),
    /// `admin.token` is empty.
    #[error("admin.token is empty")]
    EmptyToken,
    /// The operating system gave no random numbers for a token.
    #[error("cannot make a random admin token: {0}")]
    Random(String),
    /// The generated token could not be written.
    #[error("cannot write the admin token to {path}: {source}")]
    TokenFile {
        /// The token file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `admin.listen` is reachable from other machines, but no token is configured: a
    /// generated one lives in a file on this machine and changes at every start, so the only
    /// way to use the API from elsewhere would be to copy it around.
    #[error(
        "admin.listen = \"{0}\" is reachable from other machines, but neither admin.token_env nor \
         admin.token is set: set one (clients elsewhere need a token that stays the same), or \
         listen on 127.0.0.1"
    )]
    ExposedWithoutToken(SocketAddr),
    /// The address could not be listened on.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Where the token in force came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// `admin.token`.
    Config,
    /// The variable named by `admin.token_env`.
    Env(String),
    /// Generated and written to this file.
    File(PathBuf),
}

/// The admin API's bearer token and where it came from. `Debug` does not show it.
#[derive(Clone)]
pub struct Token {
    secret: String,
    /// Where it came from.
    pub source: TokenSource,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Token {
    /// The token itself.
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

/// Finds the token in force (see the module docs), writing a generated one to
/// `data_dir/admin.token`.
pub fn resolve_token(config: &AdminConfig, data_dir: &Path) -> Result<Token, AdminError> {
    check_exposure(config)?;
    let (secret, source) = token_and_source(config, data_dir)?;
    Ok(Token { secret, source })
}

/// Refuses an address other machines can reach unless a token is configured (see
/// [`AdminError::ExposedWithoutToken`]).
fn check_exposure(config: &AdminConfig) -> Result<(), AdminError> {
    let configured = config.token.is_some() || config.token_env.is_some();
    if config.listen.ip().is_loopback() || configured {
        Ok(())
    } else {
        Err(AdminError::ExposedWithoutToken(config.listen))
    }
}

fn token_and_source(
    config: &AdminConfig,
    data_dir: &Path,
) -> Result<(String, TokenSource), AdminError> {
    let file = data_dir.join(TOKEN_FILE);
    let configured = if let Some(token) = &config.token {
        if token.trim().is_empty() {
            return Err(AdminError::EmptyToken);
        }
        Some((token.trim().to_owned(), TokenSource::Config))
    } else if let Some(var) = &config.token_env {
        match std::env::var(var) {
            Ok(token) if !token.trim().is_empty() => {
                Some((token.trim().to_owned(), TokenSource::Env(var.clone())))
            }
            _ => return Err(AdminError::TokenEnvMissing(var.clone())),
        }
    } else {
        None
    };
    if let Some(found) = configured {
        match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(AdminError::TokenFile {
                    path: file,
                    source: e,
                });
            }
            _ => {}
        }
        return Ok(found);
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AdminError::Random(e.to_string()))?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_private(&file, token.as_bytes()).map_err(|source| AdminError::TokenFile {
        path: file.clone(),
        source,
    })?;
    Ok((token, TokenSource::File(file)))
}

/// Writes `bytes` to `path` readable by the owner only, replacing it atomically: a reader never
/// sees half a token, and the token is never readable by others, not even for a moment.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("token.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(&tmp)?;
    f.write_all(bytes)?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

/// A partner as the status report names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerInfo {
    /// Its id (`acme-retail`).
    pub id: String,
    /// Its display name.
    pub name: String,
    /// How long it may go without sending before `edigate status` warns, in milliseconds
    /// (its `expect_within`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_within_ms: Option<Millis>,
}

/// What the handlers share.
struct AdminState {
    outbox: Outbox,
    /// Turns the ERP's events into partners' EDI (`POST /v1/outbound`).
    outbound: Option<crate::outbound::OutboundDocuments>,
    /// Processes a reopened message again (`POST /v1/messages/{id}/reprocess`).
    reprocess: Option<Reprocess>,
    partners: Vec<PartnerInfo>,
    data_dir: PathBuf,
    token: String,
    metrics: Option<Exporter>,
    sftp: SftpStatusBoard,
    email: crate::email_status::EmailStatusBoard,
    as2: crate::as2_channel::As2Board,
    /// The partner report's window and warnings.
    insights: crate::insights::InsightsConfig,
}

/// Processes one message to its final state: the daemon's pipeline, for reprocessing.
pub type Reprocess = Arc<dyn Fn(MessageId) -> Result<(), String> + Send + Sync>;

/// What the admin API serves besides the outbox; each is optional, and its endpoints answer 503
/// without it.
#[derive(Clone, Default)]
pub struct Services {
    /// `/metrics`.
    pub metrics: Option<Exporter>,
    /// `POST /v1/outbound`.
    pub outbound: Option<crate::outbound::OutboundDocuments>,
    /// `POST /v1/messages/{id}/reprocess`.
    pub reprocess: Option<Reprocess>,
    /// The SFTP links' state, for the status report (empty without SFTP).
    pub sftp: SftpStatusBoard,
    /// The mail links' state, for the status report (empty without email).
    pub email: crate::email_status::EmailStatusBoard,
    /// The AS2 listeners, as they bound (empty without AS2).
    pub as2: crate::as2_channel::As2Board,
    /// The partner report's window and early warnings (`GET /v1/partners/report`).
    pub insights: crate::insights::InsightsConfig,
}

/// Starts the daemon's admin API on `config.admin.listen` with `token`, serving `outbox` (and
/// `metrics` at `/metrics`, when given).
///
/// An address that cannot be listened on does not stop the daemon: its work is moving
/// partners' files, so it goes on without the API and says so in the log.
pub async fn start(
    config: &crate::Config,
    token: Token,
    outbox: Outbox,
    partners: &partner::Partners,
    services: Services,
) -> Admin {
    let partners = partners
        .all()
        .iter()
        .map(|p| PartnerInfo {
            id: p.id.clone(),
            name: p.name.clone(),
            expect_within_ms: p
                .expect_within
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        })
        .collect();
    match AdminServer::bind(
        config.admin.listen,
        token,
        &config.data_dir,
        outbox,
        partners,
        services,
    )
    .await
    {
        Ok(server) => Admin(Some(server)),
        Err(e) => {
            tracing::error!(error = %e, "the admin API is off; the gateway runs without it");
            Admin(None)
        }
    }
}

/// The daemon's admin API from [`start`]: bound, or off.
pub struct Admin(Option<AdminServer>);

impl Admin {
    /// Serves requests on the current tokio runtime until [`RunningAdmin::stop`].
    pub fn spawn(self) -> RunningAdmin {
        match self.0 {
            Some(server) => server.spawn(),
            None => RunningAdmin(None),
        }
    }
}

/// The admin API, bound to its address and not yet serving.
pub struct AdminServer {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    router: Router,
}

impl AdminServer {
    /// Binds `listen` (port 0 takes a free port: see [`AdminServer::local_addr`]); requests
    /// under `/v1/` and to `/metrics` must bear `token`. `data_dir` is only reported, in
    /// [`StatusReport`]. Without `services.metrics`, `/metrics` answers 503; `services.sftp` is
    /// the SFTP links' board the status report copies.
    pub async fn bind(
        listen: SocketAddr,
        token: Token,
        data_dir: &Path,
        outbox: Outbox,
        partners: Vec<PartnerInfo>,
        services: Services,
    ) -> Result<AdminServer, AdminError> {
        let Services {
            metrics,
            outbound,
            reprocess,
            sftp,
            email,
            as2,
            insights,
        } = services;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| AdminError::Bind {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| AdminError::Bind {
            addr: listen,
            source,
        })?;
        match &token.source {
            TokenSource::Config => {
                tracing::info!(%addr, token = "admin.token", "admin API listening")
            }
            TokenSource::Env(var) => tracing::info!(%addr, token_env = %var, "admin API listening"),
            TokenSource::File(path) => {
                tracing::info!(%addr, token_file = %path.display(), "admin API listening");
            }
        }
        let state = Arc::new(AdminState {
            outbox,
            outbound,
            reprocess,
            partners,
            data_dir: data_dir.to_path_buf(),
            token: token.secret,
            metrics,
            sftp,
            email,
            as2,
            insights,
        });
        Ok(AdminServer {
            listener,
            addr,
            router: router(state),
        })
    }

    /// The address actually listened on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves requests on the current tokio runtime until [`RunningAdmin::stop`].
    pub fn spawn(self) -> RunningAdmin {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serve = axum::serve(self.listener, self.router).with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
        let task = tokio::spawn(async move {
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "the admin API stopped");
            }
        });
        RunningAdmin(Some((stop, task)))
    }
}

/// The admin API, serving (or off, from an [`Admin`] that could not listen).
pub struct RunningAdmin(
    Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    )>,
);

impl RunningAdmin {
    /// Stops taking connections and lets requests in progress finish, for a few seconds at most.
    pub async fn stop(self) {
        let Some((stop, mut task)) = self.0 else {
            return;
        };
        let _ = stop.send(());
        if tokio::time::timeout(STOP_WAIT, &mut task).await.is_err() {
            tracing::warn!("admin API requests still running at stop; abandoned");
            task.abort();
        }
    }
}

fn router(state: Arc<AdminState>) -> Router {
    let v1 = Router::new()
        .route("/v1/status", get(status))
        .route("/v1/messages", get(list_messages))
        .route("/v1/messages/{id}", get(message))
        .route("/v1/deliveries", get(list_deliveries))
        .route("/v1/messages/{id}/replay", post(replay))
        .route("/v1/outbound", post(queue_outbound))
        .route("/v1/partners/report", get(partners_report))
        .route("/v1/messages/{id}/reprocess", post(reprocess))
        .route("/v1/deliveries/{id}/retry", post(retry))
        .route("/v1/deliveries/{id}/drop", post(drop_delivery))
        .route("/v1/deliveries/{id}/receipts/{n}", get(receipt))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            require_token,
        ));
    Router::new()
        .route("/health", get(health))
        .merge(v1)
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such endpoint") })
        .with_state(state)
}

/// `GET /health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Always `ok`: an answer at all is the news.
    pub status: String,
}

/// How many of a partner's messages are in each state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageCounts {
    /// Not finished yet.
    pub received: u64,
    /// Processed.
    pub processed: u64,
    /// Set aside for an operator.
    pub quarantined: u64,
    /// Failed.
    pub failed: u64,
    /// Repeats of an interchange already received.
    pub duplicate: u64,
}

impl MessageCounts {
    fn add(&mut self, kind: MessageStateKind) {
        let slot = match kind {
            MessageStateKind::Received => &mut self.received,
            MessageStateKind::Processed => &mut self.processed,
            MessageStateKind::Quarantined => &mut self.quarantined,
            MessageStateKind::Failed => &mut self.failed,
            MessageStateKind::Duplicate => &mut self.duplicate,
        };
        *slot += 1;
    }

    /// All of them.
    pub fn total(&self) -> u64 {
        self.received + self.processed + self.quarantined + self.failed + self.duplicate
    }
}

/// One partner in the status report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerStatus {
    /// Its id.
    pub id: String,
    /// Its display name (empty for a partner no longer configured).
    pub name: String,
    /// When one of its messages last changed.
    pub last_activity: Option<Millis>,
    /// Its messages by state.
    pub messages: MessageCounts,
}

/// `GET /v1/status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    /// The daemon's clock when the report was made.
    pub now: Millis,
    /// The daemon's data directory: which gateway answered.
    pub data_dir: String,
    /// Every configured partner, and any other that has messages, by id.
    pub partners: Vec<PartnerStatus>,
    /// Messages whose partner was never identified (unknown senders, unreadable files).
    pub unidentified: MessageCounts,
    /// Deliveries per destination and state.
    pub destinations: Vec<DestinationCounts>,
    /// Deliveries given up, all destinations together.
    pub dead_letters: u64,
    /// Deliveries waiting to be sent, all destinations together.
    pub queued_deliveries: u64,
    /// Messages received but not yet finished.
    pub pending_messages: u64,
    /// Partners with `expect_within` that have sent nothing for longer than that.
    #[serde(default)]
    pub silent_partners: Vec<Quiet>,
    /// Documents we sent whose acknowledgement has not come within the partner's `ack_within`.
    #[serde(default)]
    pub overdue_acknowledgements: Vec<crate::reconcile::Overdue>,
    /// Partners' AS2 certificates ending within 30 days (or ended), with no newer one to follow.
    #[serde(default)]
    pub expiring_certificates: Vec<crate::certificates::Expiring>,
    /// The SFTP links (inbound channels and partners' servers), as this process has seen them;
    /// absent from a daemon without SFTP support.
    #[serde(default)]
    pub sftp: Vec<SftpLinkStatus>,
    /// The mail links (SMTP servers we mail through, inbound email channels), as this process
    /// has seen them; absent from a daemon without email.
    #[serde(default)]
    pub email: Vec<crate::email_status::EmailLinkStatus>,
    /// The AS2 listeners.
    #[serde(default)]
    pub as2_listeners: Vec<crate::as2_channel::As2ListenerStatus>,
    /// Deliveries sent over AS2 whose asynchronous MDN is awaited.
    #[serde(default)]
    pub awaiting_mdn: u64,
    /// The partner insights' early warnings: partners ordering well below their usual level or
    /// quiet for longer than usual.
    #[serde(default)]
    pub partner_warnings: Vec<insights::Warning>,
}

/// `GET /v1/messages`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageList {
    /// The messages, the most recently received first.
    pub messages: Vec<Message>,
}

/// `GET /v1/messages/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDetail {
    /// The record.
    pub message: Message,
    /// Its trace, oldest first.
    pub trace: Vec<TraceEntry>,
    /// Its deliveries (acknowledgements, events), oldest first.
    pub deliveries: Vec<Delivery>,
}

/// `GET /v1/deliveries`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryList {
    /// The deliveries: with a state, in that state's order (pending by due time), else the
    /// newest first.
    pub deliveries: Vec<Delivery>,
}

/// `POST /v1/deliveries/{id}/retry` and `…/drop`: the delivery as it is now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAction {
    /// The delivery after the action.
    pub delivery: Delivery,
}

/// Every error's body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong, for a person.
    pub error: String,
}

/// An error answer: its status and its message.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<outbox::Error> for ApiError {
    fn from(e: outbox::Error) -> ApiError {
        let status = match &e {
            outbox::Error::MessageNotFound(id) => {
                return ApiError::new(StatusCode::NOT_FOUND, format!("no message {id}"));
            }
            outbox::Error::DeliveryNotFound(id) => {
                return ApiError::new(StatusCode::NOT_FOUND, format!("no delivery {id}"));
            }
            outbox::Error::InvalidState { .. } => StatusCode::CONFLICT,
            _ => {
                tracing::error!(error = %e, "admin API: outbox error");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        ApiError::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

async fn require_token(
    State(state): State<Arc<AdminState>>,
    request: Request,
    next: Next,
) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(t) if same_secret(t.as_bytes(), state.token.as_bytes()) => next.run(request).await,
        Some(_) => ApiError::new(StatusCode::UNAUTHORIZED, "the token is wrong").into_response(),
        None => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "this endpoint needs an Authorization: Bearer token",
        )
        .into_response(),
    }
}

/// Compares in time independent of where the first difference is, so the token cannot be
/// guessed byte by byte from response times.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Runs an outbox read off the async threads: sled calls block, and a listing may read many
/// records.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> ApiResult<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map(Json),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: {e}"),
        )),
    }
}

async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// The Prometheus text format's media type, version 0.0.4.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

async fn metrics(State(state): State<Arc<AdminState>>) -> Response {
    let Some(exporter) = state.metrics.clone() else {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are off: another metrics recorder was installed in this process",
        )
        .into_response();
    };
    // The gauges read the outbox and walk the spool: blocking work.
    let rendered = tokio::task::spawn_blocking(move || exporter.render(&state.outbox)).await;
    match rendered {
        Ok(Ok(text)) => ([(header::CONTENT_TYPE, PROMETHEUS_TEXT)], text).into_response(),
        Ok(Err(e)) => ApiError::from(e).into_response(),
        Err(e) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: {e}"),
        )
        .into_response(),
    }
}

async fn status(State(state): State<Arc<AdminState>>) -> ApiResult<StatusReport> {
    blocking(move || status_report(&state, clock::now_ms())).await
}

/// Walks every message record: fine while retention keeps the outbox to days of traffic; a
/// per-partner counter tree in the outbox is the way out when it is not.
fn status_report(state: &AdminState, now: Millis) -> Result<StatusReport, ApiError> {
    let outbox = &state.outbox;
    let mut partners: Vec<PartnerStatus> = state
        .partners
        .iter()
        .map(|p| PartnerStatus {
            id: p.id.clone(),
            name: p.name.clone(),
            last_activity: None,
            messages: MessageCounts::default(),
        })
        .collect();
    let mut unidentified = MessageCounts::default();
    for m in outbox.list_messages(&MessageFilter::default(), usize::MAX)? {
        let Some(id) = &m.partner else {
            unidentified.add(m.state.kind());
            continue;
        };
        let index = match partners.iter().position(|p| &p.id == id) {
            Some(i) => i,
            None => {
                partners.push(PartnerStatus {
                    id: id.clone(),
                    name: String::new(),
                    last_activity: None,
                    messages: MessageCounts::default(),
                });
                partners.len() - 1
            }
        };
        if let Some(p) = partners.get_mut(index) {
            p.messages.add(m.state.kind());
            p.last_activity = p.last_activity.max(Some(m.updated_at));
        }
    }
    partners.sort_by(|a, b| a.id.cmp(&b.id));
    let destinations = outbox.counts()?;
    let dead_letters = destinations.iter().map(|d| d.dead).sum();
    let queued_deliveries = destinations.iter().map(|d| d.pending + d.in_flight).sum();
    let pending_messages = outbox.pending_messages()?.len() as u64;
    let awaiting_mdn = destinations.iter().map(|d| d.awaiting_receipt).sum();
    Ok(StatusReport {
        now,
        data_dir: state.data_dir.display().to_string(),
        partners,
        unidentified,
        destinations,
        dead_letters,
        queued_deliveries,
        pending_messages,
        silent_partners: silent_partners(state, now)?,
        overdue_acknowledgements: match &state.outbound {
            Some(o) => crate::reconcile::overdue(outbox, o.partners(), now)?,
            None => Vec::new(),
        },
        expiring_certificates: match &state.outbound {
            Some(o) => crate::certificates::expiring(o.partners(), crate::certificates::WARN_DAYS),
            None => Vec::new(),
        },
        sftp: state.sftp.snapshot(),
        email: state.email.snapshot(),
        as2_listeners: state.as2.snapshot(),
        awaiting_mdn,
        partner_warnings: match &state.outbound {
            Some(o) => crate::insights::warnings(outbox, o.partners(), &state.insights, now)?,
            None => Vec::new(),
        },
    })
}

/// The query of `GET /v1/partners/report`, as given.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportQuery {
    partner: Option<String>,
    since: Option<String>,
}

async fn partners_report(
    State(state): State<Arc<AdminState>>,
    query: Result<Query<ReportQuery>, QueryRejection>,
) -> ApiResult<insights::Report> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    blocking(move || {
        let now = clock::now_ms();
        let since = q
            .since
            .as_deref()
            .map(|s| parse_since(s, now))
            .transpose()
            .map_err(ApiError::bad_request)?;
        let Some(outbound) = &state.outbound else {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the partner report needs the daemon's partners",
            ));
        };
        if let Some(p) = &q.partner
            && outbound.partners().get(p).is_none()
        {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no partner {p}"),
            ));
        }
        let request = crate::insights::ReportRequest {
            partner: q.partner,
            since,
        };
        Ok(crate::insights::report(
            &state.outbox,
            outbound.partners(),
            &state.insights,
            &request,
            now,
        )?)
    })
    .await
}

/// The configured partners whose `expect_within` has passed without a file from them.
fn silent_partners(state: &AdminState, now: Millis) -> Result<Vec<Quiet>, ApiError> {
    let watches: Vec<Watch> = state
        .partners
        .iter()
        .filter_map(|p| {
            Some(Watch {
                partner: p.id.clone(),
                name: p.name.clone(),
                expect_within_ms: p.expect_within_ms?,
            })
        })
        .collect();
    let mut quiet = silence::quiet(&state.outbox, &watches, now)?;
    quiet.retain(|q| q.silent);
    Ok(quiet)
}

/// The query of `GET /v1/messages`, as given.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MessagesQuery {
    partner: Option<String>,
    state: Option<String>,
    since: Option<String>,
    limit: Option<String>,
    #[serde(rename = "type")]
    message_type: Option<String>,
}

async fn list_messages(
    State(state): State<Arc<AdminState>>,
    query: Result<Query<MessagesQuery>, QueryRejection>,
) -> ApiResult<MessageList> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let filter = MessageFilter {
        partner: q.partner.filter(|p| !p.is_empty()),
        state: q
            .state
            .as_deref()
            .map(|s| parse_state::<MessageStateKind>(s, "message"))
            .transpose()?,
        since: q
            .since
            .as_deref()
            .map(|s| parse_since(s, clock::now_ms()))
            .transpose()
            .map_err(ApiError::bad_request)?,
        message_type: q
            .message_type
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty()),
    };
    let limit = parse_limit(q.limit.as_deref())?;
    blocking(move || {
        Ok(MessageList {
            messages: state.outbox.list_messages(&filter, limit)?,
        })
    })
    .await
}

async fn message(
    State(state): State<Arc<AdminState>>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<MessageDetail> {
    let id = message_id(&id)?;
    blocking(move || message_detail(&state.outbox, id)).await
}

/// `POST /v1/messages/{id}/reprocess`: the message processed again from its raw file, as a new
/// revision (after a mapping or partner fix): identified, validated and translated again, its
/// events queued anew under revision keys; acknowledgements already sent are not sent again.
/// 409 while it is still being processed.
async fn reprocess(
    State(state): State<Arc<AdminState>>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<MessageDetail> {
    let id = message_id(&id)?;
    blocking(move || {
        let Some(run) = &state.reprocess else {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "this daemon does not reprocess messages",
            ));
        };
        message_detail(&state.outbox, id)?;
        state
            .outbox
            .reopen(id, clock::now_ms())
            .map_err(|e| match e {
                outbox::Error::NotFinished(_) => ApiError::new(StatusCode::CONFLICT, e.to_string()),
                e => ApiError::from(e),
            })?;
        tracing::info!(message = %id, "reprocessing at an operator's request");
        run(id).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("reprocessing {id}: {e}"),
            )
        })?;
        message_detail(&state.outbox, id)
    })
    .await
}

/// `POST /v1/outbound`: an event (`partner`, `type`, `data`, optional `key`) written as the
/// partner's EDI, validated and queued for delivery to the partner. 202 when queued, 200 when
/// the same document (same key) was queued before; 404 for an unknown partner; 422 when the
/// event cannot be written or what is written does not validate (nothing is queued then).
async fn queue_outbound(
    State(state): State<Arc<AdminState>>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<crate::outbound::Queued>), ApiError> {
    use crate::outbound::OutboundError;
    let queued = blocking(move || {
        let Some(outbound) = &state.outbound else {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "this daemon does not queue outbound documents",
            ));
        };
        outbound.queue_json(&body).map_err(|e| {
            let status = match &e {
                OutboundError::UnknownPartner(_) => StatusCode::NOT_FOUND,
                OutboundError::Outbox(_) => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            if e.is_request_error() {
                tracing::warn!(error = %e, "outbound document refused");
            } else {
                tracing::error!(error = %e, "outbound document not queued");
            }
            ApiError::new(status, e.to_string())
        })
    })
    .await?;
    let status = if queued.0.created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, queued))
}

/// `POST /v1/messages/{id}/replay`: everything the message made is sent again — each of its
/// deliveries not being sent right now becomes due, with the same payload and key.
async fn replay(
    State(state): State<Arc<AdminState>>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<MessageDetail> {
    let id = message_id(&id)?;
    blocking(move || {
        let outbox = &state.outbox;
        // Unknown ids are a 404 before anything is touched.
        message_detail(outbox, id)?;
        let now = clock::now_ms();
        let mut replayed = 0;
        for d in outbox.deliveries_for(id)? {
            if d.state.kind() != outbox::DeliveryStateKind::InFlight {
                outbox.redeliver(d.id, now)?;
                replayed += 1;
            }
        }
        tracing::info!(message = %id, deliveries = replayed, "message replayed by an operator");
        message_detail(outbox, id)
    })
    .await
}

fn message_id(text: &str) -> Result<MessageId, ApiError> {
    parse_id(text, "m").ok_or_else(|| {
        ApiError::bad_request(format!("{text:?} is not a message id (m-000000000042)"))
    })
}

/// A message's record, trace and deliveries; 404 when there is no such message.
fn message_detail(outbox: &Outbox, id: MessageId) -> Result<MessageDetail, ApiError> {
    let message = outbox
        .message(id)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no message {id}")))?;
    Ok(MessageDetail {
        message,
        trace: outbox.trace(id)?,
        deliveries: outbox.deliveries_for(id)?,
    })
}

/// `GET /v1/deliveries/{id}/receipts/{n}`: receipt `n` (0 is the first) of a delivery — an AS2
/// MDN — with the exact bytes kept as evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReceiptDetail {
    /// The delivery.
    pub delivery: DeliveryId,
    /// Which of its receipts.
    pub index: u32,
    /// What it said.
    pub receipt: outbox::Receipt,
    /// Its header fields and body as received (`Name: value` lines, an empty line, the body),
    /// as text; bytes that are not UTF-8 are shown as U+FFFD.
    pub raw: String,
    /// The SHA-256 of the raw bytes, in hex: what the text above must hash to.
    pub sha256: String,
}

async fn receipt(
    State(state): State<Arc<AdminState>>,
    UrlPath((id, n)): UrlPath<(String, String)>,
) -> ApiResult<ReceiptDetail> {
    let delivery: DeliveryId = parse_id(&id, "d").ok_or_else(|| {
        ApiError::bad_request(format!("{id:?} is not a delivery id (d-000000000042)"))
    })?;
    let index: u32 = n
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{n:?} is not a receipt number (0, 1, ...)")))?;
    blocking(move || {
        let not_found = || {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("delivery {delivery} has no receipt {index}"),
            )
        };
        let d = state.outbox.delivery(delivery)?.ok_or_else(not_found)?;
        let receipt = d
            .receipts
            .get(index as usize)
            .cloned()
            .ok_or_else(not_found)?;
        let raw = state
            .outbox
            .receipt_raw(delivery, index)?
            .ok_or_else(not_found)?;
        use sha2::Digest;
        let sha256 = sha2::Sha256::digest(&raw)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(ReceiptDetail {
            delivery,
            index,
            receipt,
            raw: String::from_utf8_lossy(&raw).into_owned(),
            sha256,
        })
    })
    .await
}

/// The query of `GET /v1/deliveries`, as given.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveriesQuery {
    state: Option<String>,
    destination: Option<String>,
    limit: Option<String>,
}

async fn list_deliveries(
    State(state): State<Arc<AdminState>>,
    query: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> ApiResult<DeliveryList> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let filter = DeliveryFilter {
        destination: q.destination.filter(|d| !d.is_empty()),
        state: q
            .state
            .as_deref()
            .map(|s| parse_state::<DeliveryStateKind>(s, "delivery"))
            .transpose()?,
        message_id: None,
    };
    let limit = parse_limit(q.limit.as_deref())?;
    blocking(move || {
        Ok(DeliveryList {
            deliveries: state.outbox.list_deliveries(&filter, limit)?,
        })
    })
    .await
}

async fn retry(
    State(state): State<Arc<AdminState>>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<DeliveryAction> {
    delivery_action(state, &id, "retried", |outbox, id, now| {
        outbox.retry(id, now)
    })
    .await
}

async fn drop_delivery(
    State(state): State<Arc<AdminState>>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<DeliveryAction> {
    delivery_action(state, &id, "dropped", |outbox, id, now| {
        outbox.drop(id, now)
    })
    .await
}

async fn delivery_action(
    state: Arc<AdminState>,
    id: &str,
    done: &'static str,
    action: impl FnOnce(&Outbox, DeliveryId, Millis) -> outbox::Result<Delivery> + Send + 'static,
) -> ApiResult<DeliveryAction> {
    let id: DeliveryId = parse_id(id, "d").ok_or_else(|| {
        ApiError::bad_request(format!("{id:?} is not a delivery id (d-000000000042)"))
    })?;
    blocking(move || {
        // As the action left it: a sender may claim a retried delivery the next moment.
        let delivery = action(&state.outbox, id, clock::now_ms())?;
        tracing::info!(delivery = %id, destination = %delivery.destination, "delivery {done} by an operator");
        Ok(DeliveryAction { delivery })
    })
    .await
}

/// A state name as the outbox serialises it (`in_flight`, `quarantined`, …).
fn parse_state<K: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<K, ApiError> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| ApiError::bad_request(format!("{s:?} is not a {what} state")))
}

fn parse_limit(s: Option<&str>) -> Result<usize, ApiError> {
    let Some(s) = s else {
        return Ok(DEFAULT_LIMIT);
    };
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ApiError::bad_request(format!(
            "limit must be a number from 1 to {MAX_LIMIT}, not {s:?}"
        ))),
    }
}

/// An id in full (`m-000000000042`), short (`m-42`) or as its number (`42`).
pub fn parse_id<I: std::str::FromStr>(s: &str, prefix: &str) -> Option<I> {
    let s = s.trim();
    let digits = s
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    format!("{prefix}-{n:012}").parse().ok()
}

/// A duration such as `90s`, `15m`, `1h`, `2d` or `1w`, in milliseconds.
pub fn parse_duration(s: &str) -> Result<Millis, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let unit_ms: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return Err(format!("{s:?} is not a duration (30s, 15m, 1h, 2d, 1w)")),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_ms))
        .ok_or_else(|| format!("{s:?} is not a duration (30s, 15m, 1h, 2d, 1w)"))
}

/// `since`: milliseconds since the epoch, or a duration back from `now`.
pub fn parse_since(s: &str, now: Millis) -> Result<Millis, String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse()
            .map_err(|_| format!("{s:?} is not a time in milliseconds"));
    }
    parse_duration(s)
        .map(|d| now.saturating_sub(d))
        .map_err(|e| format!("since: {e}, or a time in milliseconds since the epoch"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn ids_are_taken_in_full_short_or_bare() {
        let full: MessageId = parse_id("m-000000000042", "m").unwrap();
        assert_eq!(full, MessageId::new(42));
        assert_eq!(parse_id::<MessageId>("m-42", "m"), Some(full));
        assert_eq!(parse_id::<MessageId>("42", "m"), Some(full));
        assert_eq!(parse_id::<DeliveryId>("d-7", "d"), Some(DeliveryId::new(7)));
        assert_eq!(parse_id::<MessageId>("d-7", "m"), None);
        assert_eq!(parse_id::<MessageId>("m-", "m"), None);
        assert_eq!(parse_id::<MessageId>("m-+1", "m"), None);
        assert_eq!(
            parse_id::<MessageId>("m-99999999999999999999999", "m"),
            None
        );
    }

    #[test]
    fn since_is_a_time_or_a_duration_back_from_now() {
        assert_eq!(parse_since("1700000000000", 5), Ok(1_700_000_000_000));
        assert_eq!(parse_since("1h", 10_000_000), Ok(10_000_000 - 3_600_000));
        assert_eq!(parse_since("2d", 1_000), Ok(0));
        assert_eq!(parse_duration("90s"), Ok(90_000));
        assert_eq!(parse_duration("1w"), Ok(604_800_000));
        assert!(parse_since("1y", 0).is_err());
        assert!(parse_since("h", 0).is_err());
        assert!(parse_since("", 0).is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }

    #[test]
    fn state_names_are_the_outboxs() {
        let k: DeliveryStateKind = parse_state("in_flight", "delivery").unwrap();
        assert_eq!(k, DeliveryStateKind::InFlight);
        let m: MessageStateKind = parse_state("quarantined", "message").unwrap();
        assert_eq!(m, MessageStateKind::Quarantined);
        assert!(parse_state::<DeliveryStateKind>("sent", "delivery").is_err());
    }

    #[test]
    fn a_reachable_address_needs_a_configured_token() {
        let dir = tempfile::tempdir().unwrap();
        let open = |listen: &str, token: Option<&str>| AdminConfig {
            listen: listen.parse().unwrap(),
            token: token.map(str::to_owned),
            ..AdminConfig::default()
        };
        for listen in ["0.0.0.0:7410", "[::]:7410", "192.0.2.2:0"] {
            let e = resolve_token(&open(listen, None), dir.path()).unwrap_err();
            assert!(matches!(e, AdminError::ExposedWithoutToken(_)), "{e}");
            assert!(e.to_string().contains(listen), "{e}");
            assert!(e.to_string().contains("admin.token_env"), "{e}");
            assert!(resolve_token(&open(listen, Some("t")), dir.path()).is_ok());
        }
        for listen in ["127.0.0.1:7410", "127.0.0.2:0", "[::1]:7410"] {
            assert!(
                resolve_token(&open(listen, None), dir.path()).is_ok(),
                "{listen}"
            );
        }
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abd", b"abc"));
        assert!(!same_secret(b"ab", b"abc"));
    }

    #[test]
    fn a_generated_token_is_private_and_a_configured_one_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let Token {
            secret: token,
            source,
        } = resolve_token(&AdminConfig::default(), dir.path()).unwrap();
        assert_eq!(token.len(), 64);
        let file = dir.path().join(TOKEN_FILE);
        assert_eq!(source, TokenSource::File(file.clone()));
        assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), token);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = resolve_token(&AdminConfig::default(), dir.path()).unwrap();
        assert_ne!(again.secret(), token, "a new token at every start");
        assert!(!format!("{again:?}").contains(again.secret()));

        let config = AdminConfig {
            token: Some("s3cret".into()),
            ..AdminConfig::default()
        };
        let token = resolve_token(&config, dir.path()).unwrap();
        assert_eq!(token.secret(), "s3cret");
        assert_eq!(token.source, TokenSource::Config);
        assert!(
            !file.exists(),
            "a stale generated token would mislead the commands"
        );

        let config = AdminConfig {
            token_env: Some("EDIGATE_ADMIN_TEST_TOKEN_NEVER_SET".into()),
            ..AdminConfig::default()
        };
        let e = resolve_token(&config, dir.path()).unwrap_err();
        assert!(
            e.to_string().contains("EDIGATE_ADMIN_TEST_TOKEN_NEVER_SET"),
            "{e}"
        );
    }
}
