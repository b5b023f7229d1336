//! Remote channels on partners' SFTP servers: inbound directories polled, and outbound
//! directories documents are uploaded to.
//!
//! Each channel runs in its own loop so a slow or unreachable server holds up no one else. A
//! round lists the files that stopped changing, downloads them, spools and records them as one
//! batch (one fsync, one flush), and only then removes (or archives) them on the server. A file
//! downloaded and recorded but not yet removed when the gateway stopped is downloaded again on
//! the next round and recognised by name and hash: it is the message already made, not a new one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sftp::SftpSession;

/// A partner's server settings, re-exported so the command line can hold one without depending
/// on the sftp crate itself.
pub use sftp::SftpConfig;
use tokio::runtime::Handle;

use crate::Gateway;
use crate::sftp_status::{SftpDirection, SftpStatusBoard};
use crate::sinks::DeliveryError;

/// One SFTP inbound channel.
#[derive(Debug, Clone)]
pub struct SftpInbox {
    /// The channel's name.
    pub name: String,
    /// The server and directories.
    pub config: SftpConfig,
}

/// How long to wait before reconnecting to a server that failed.
const RECONNECT: Duration = Duration::from_secs(5);

impl Gateway {
    /// Polls one SFTP channel until `stop` is set.
    pub(crate) fn sftp_loop(&self, inbox: &SftpInbox, stop: &AtomicBool, rt: &Handle) {
        let pause = self.config.limits.poll_interval();
        let board = &self.sftp_status;
        let mut session: Option<SftpSession> = None;
        let mut first_round = true;
        while !stop.load(Ordering::SeqCst) {
            if session.as_ref().is_none_or(SftpSession::is_closed) {
                match rt.block_on(SftpSession::connect(&inbox.config)) {
                    Ok(s) => {
                        tracing::info!(channel = %inbox.name, host = %inbox.config.host, fingerprint = %s.host_key_fingerprint(), "connected");
                        board.connected(&inbox.name);
                        session = Some(s);
                    }
                    Err(e) => {
                        tracing::error!(channel = %inbox.name, host = %inbox.config.host, error = %e, retryable = e.is_retryable(), "cannot connect");
                        board.failed(&inbox.name, e.to_string(), e.is_retryable(), true);
                        sleep_unless(stop, RECONNECT);
                        continue;
                    }
                }
            }
            let Some(s) = session.as_ref() else {
                continue;
            };
            match self.sftp_round(inbox, s, rt) {
                Ok(taken) => {
                    board.polled(&inbox.name);
                    if first_round {
                        // Files recorded before the last stop and still on the server were
                        // found again this round; markers left for files gone can go.
                        first_round = false;
                        if let Err(e) = self.pipeline.outbox.clear_unreleased_in(&inbox.name) {
                            tracing::error!(channel = %inbox.name, error = %e, "cannot clear receipt markers");
                        }
                    }
                    if taken == 0 {
                        sleep_unless(stop, pause);
                    }
                }
                Err(e) => {
                    tracing::error!(channel = %inbox.name, error = %e.message, retryable = e.retryable, "SFTP round failed; reconnecting");
                    board.failed(&inbox.name, e.message, e.retryable, true);
                    session = None;
                    sleep_unless(stop, RECONNECT);
                }
            }
        }
        if let Some(s) = session {
            let _ = rt.block_on(s.close());
        }
        board.disconnected(&inbox.name);
    }

    /// One round: list, download, record, flush, finish on the server, process. Returns how many
    /// files were taken.
    fn sftp_round(
        &self,
        inbox: &SftpInbox,
        s: &SftpSession,
        rt: &Handle,
    ) -> Result<usize, RoundError> {
        let ready = rt.block_on(s.list_ready())?;
        let mut batch = Vec::new();
        for f in ready.into_iter().take(crate::BATCH) {
            if f.size > self.pipeline.max_file_bytes {
                // Not downloaded: it stays on the server, where the partner can see it was
                // not taken; the operator learns why from the log.
                tracing::error!(channel = %inbox.name, file = %f.name, size = f.size, limit = self.pipeline.max_file_bytes, "file over the size limit left on the server");
                continue;
            }
            match rt.block_on(s.download(&f.name)) {
                Ok(bytes) => batch.push((f.name, bytes)),
                Err(e) if e.is_retryable() => return Err(e.into()),
                Err(e) => {
                    tracing::error!(channel = %inbox.name, file = %f.name, error = %e, "cannot download; left on the server");
                    // The session is fine, but an operator should see why the file stays.
                    self.sftp_status
                        .failed(&inbox.name, format!("{}: {e}", f.name), false, false);
                }
            }
        }
        if batch.is_empty() {
            return Ok(0);
        }
        let received = self
            .pipeline
            .receive_downloaded(&inbox.name, batch)
            .map_err(RoundError::local)?;
        // Durable here before anything is removed from the server.
        self.pipeline.outbox.flush().map_err(RoundError::local)?;
        for r in &received {
            match rt.block_on(s.finish(&r.name)) {
                Ok(()) => {
                    if let Err(e) = self.pipeline.outbox.mark_released(r.id) {
                        tracing::error!(channel = %inbox.name, message = %r.id, error = %e, "cannot clear the receipt marker");
                    }
                }
                Err(e) => {
                    tracing::error!(channel = %inbox.name, message = %r.id, file = %r.name, error = %e, "received but not removed from the server; it will be recognised when found again");
                }
            }
        }
        let ids: Vec<_> = received.iter().map(|r| r.id).collect();
        self.process_guarded(&ids);
        Ok(received.len())
    }
}

/// Why a round of an inbound channel failed.
#[derive(Debug)]
pub(crate) struct RoundError {
    message: String,
    retryable: bool,
}

impl RoundError {
    /// Our own side failed (the spool, the outbox): the next round tries again.
    fn local(e: impl std::fmt::Display) -> RoundError {
        RoundError {
            message: e.to_string(),
            retryable: true,
        }
    }
}

impl From<sftp::Error> for RoundError {
    fn from(e: sftp::Error) -> Self {
        RoundError {
            retryable: e.is_retryable(),
            message: e.to_string(),
        }
    }
}

/// Sleeps for `d`, waking early when the gateway stops.
fn sleep_unless(stop: &AtomicBool, d: Duration) {
    let step = Duration::from_millis(50);
    let mut left = d;
    while !left.is_zero() && !stop.load(Ordering::SeqCst) {
        let now = left.min(step);
        std::thread::sleep(now);
        left -= now;
    }
}

/// A partner's outbox directory on its SFTP server, with the session kept between deliveries.
///
/// Up to `max_concurrent_uploads` documents are uploaded at once, over one shared connection
/// (SFTP multiplexes requests): the partner sees one login however busy we are, and a server
/// that fails takes one reconnection, not one per upload.
pub struct SftpOutbox {
    destination: String,
    config: SftpConfig,
    session: tokio::sync::Mutex<Option<Arc<SftpSession>>>,
    slots: tokio::sync::Semaphore,
    status: SftpStatusBoard,
}

impl std::fmt::Debug for SftpOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SftpOutbox")
            .field("destination", &self.destination)
            .field("host", &self.config.host)
            .field("outbox_dir", &self.config.outbox_dir)
            .finish_non_exhaustive()
    }
}

impl SftpOutbox {
    /// The outbox of `destination` (`partner:ID`), which connects when it first delivers and
    /// reports to `status`.
    pub fn new(destination: String, config: SftpConfig, status: SftpStatusBoard) -> Self {
        let limit = config.max_concurrent_uploads.max(1);
        status.register(
            &destination,
            SftpDirection::Outbound,
            destination.strip_prefix("partner:"),
            format!("{}:{}", config.host, config.port),
            Some(limit as u64),
        );
        SftpOutbox {
            destination,
            slots: tokio::sync::Semaphore::new(limit),
            config,
            session: tokio::sync::Mutex::new(None),
            status,
        }
    }

    /// Uploads one document under a temporary name and renames it into place. Runs on the
    /// delivery worker's blocking thread, inside the gateway's runtime; waits while the
    /// partner's server already has `max_concurrent_uploads` uploads from us. Errors that
    /// retrying cannot cure (a changed host key, refused credentials, no permission) are
    /// permanent.
    pub fn deliver(&self, file_name: &str, bytes: &[u8]) -> Result<(), DeliveryError> {
        let rt = Handle::try_current().map_err(|e| DeliveryError::Unavailable {
            what: format!("uploading {file_name} to {}", self.config.host),
            message: format!("no runtime: {e}"),
        })?;
        let result = rt.block_on(async {
            // The semaphore is never closed, so acquiring fails only if it were.
            let _slot = self.slots.acquire().await.map_err(|e| {
                sftp::Error::Config(format!("upload slots of {}: {e}", self.destination))
            })?;
            let session = self.session().await?;
            self.status.upload_started(&self.destination);
            let uploaded = session.upload(file_name, bytes).await;
            self.status
                .upload_ended(&self.destination, uploaded.is_ok());
            if uploaded.is_err() {
                self.forget(&session).await;
            }
            uploaded
        });
        result.map_err(|e| {
            let what = format!(
                "uploading {file_name} to {}:{}",
                self.config.host, self.config.outbox_dir
            );
            self.status.failed(
                &self.destination,
                format!("{what}: {e}"),
                e.is_retryable(),
                true,
            );
            if e.is_retryable() {
                DeliveryError::Unavailable {
                    what,
                    message: e.to_string(),
                }
            } else {
                DeliveryError::Unsendable(format!("{what}: {e}"))
            }
        })
    }

    /// The open session, or a new one. Connecting holds the lock, so uploads waiting for a
    /// server that is down make one attempt between them, not one each at once.
    async fn session(&self) -> Result<Arc<SftpSession>, sftp::Error> {
        let mut slot = self.session.lock().await;
        if let Some(s) = slot.as_ref().filter(|s| !s.is_closed()) {
            return Ok(Arc::clone(s));
        }
        let s = Arc::new(SftpSession::connect(&self.config).await?);
        tracing::info!(destination = %self.destination, host = %self.config.host, fingerprint = %s.host_key_fingerprint(), "connected");
        self.status.connected(&self.destination);
        *slot = Some(Arc::clone(&s));
        Ok(s)
    }

    /// Drops `failed` as the shared session after an error, so the next upload connects anew;
    /// a session another upload already replaced stays.
    async fn forget(&self, failed: &Arc<SftpSession>) {
        let mut slot = self.session.lock().await;
        if slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, failed)) {
            *slot = None;
        }
    }
}

/// How one step of [`probe`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// It worked.
    Ok,
    /// It failed; the detail says why.
    Failed,
    /// It was not tried, because a step it needs failed.
    Skipped,
}

/// One step of [`probe`]: what was tried, how it went, and what was seen or why it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeStep {
    /// `settings`, `credentials`, `connect`, `host key`, `login`, `inbox`, `outbox`, `archive`
    /// or `write`.
    pub step: &'static str,
    /// How it went.
    pub outcome: ProbeOutcome,
    /// What was seen (a fingerprint, a listing) or why it failed.
    pub detail: String,
}

/// The name of the file [`probe`] writes and removes in the outbox directory. The sftp crate
/// uploads only plain names (no leading dot), so the name ends in `.tmp`, which SFTP pickup jobs
/// leave alone by convention (ours does by default); the pid keeps two probes apart.
fn probe_file_name() -> String {
    format!("edigate-probe-{}.tmp", std::process::id())
}

/// How many names a listing shows.
const LISTED: usize = 5;

/// Checks a partner's server step by step, the way `edigate sftp test` reports it: the settings,
/// the secrets, the connection, the host key against the pins, the login, a listing of the inbox
/// and outbox directories (and the archive directory when one is set), and whether we may write
/// to the outbox (a probe file uploaded under a temporary name, renamed, then removed). Every
/// step is reported, those after a failed one that they need as skipped. Nothing is taken from
/// the inbox.
pub async fn probe(config: &SftpConfig) -> Vec<ProbeStep> {
    const STEPS: [&str; 8] = [
        "settings",
        "credentials",
        "connect",
        "host key",
        "login",
        "inbox",
        "outbox",
        "write",
    ];
    fn push(steps: &mut Vec<ProbeStep>, step: &'static str, outcome: ProbeOutcome, detail: String) {
        steps.push(ProbeStep {
            step,
            outcome,
            detail,
        });
    }
    let mut steps = Vec::new();
    let skip_rest = |steps: &mut Vec<ProbeStep>| {
        for step in STEPS.iter().skip(steps.len()) {
            steps.push(ProbeStep {
                step,
                outcome: ProbeOutcome::Skipped,
                detail: "not tried: an earlier step failed".into(),
            });
        }
    };
    let addr = format!("{}:{}", config.host, config.port);

    if let Err(e) = config.check() {
        push(&mut steps, "settings", ProbeOutcome::Failed, e.to_string());
        skip_rest(&mut steps);
        return steps;
    }
    let pins = config.host_key.len();
    push(
        &mut steps,
        "settings",
        ProbeOutcome::Ok,
        format!(
            "{addr}, user {:?}, {pins} pinned host key{}",
            config.user,
            if pins == 1 { "" } else { "s" }
        ),
    );
    let session = match SftpSession::connect(config).await {
        Ok(s) => s,
        Err(e) => {
            // Which step failed follows from the error: connect reads the secrets first, then
            // dials, checks the host key and logs in, in that order.
            match &e {
                sftp::Error::Config(_) => {
                    push(
                        &mut steps,
                        "credentials",
                        ProbeOutcome::Failed,
                        e.to_string(),
                    );
                }
                sftp::Error::HostKeyMismatch {
                    expected,
                    offered,
                    algorithm,
                    ..
                } => {
                    push(
                        &mut steps,
                        "credentials",
                        ProbeOutcome::Ok,
                        auth_summary(config),
                    );
                    push(&mut steps, "connect", ProbeOutcome::Ok, addr.clone());
                    push(
                        &mut steps,
                        "host key",
                        ProbeOutcome::Failed,
                        format!(
                            "the server offered {offered} ({algorithm}), which does not match \
                             the pin {}; if the partner changed its key, check the new one with \
                             them before pinning it",
                            expected.join(" or ")
                        ),
                    );
                }
                sftp::Error::AuthRejected { .. } | sftp::Error::AuthUnsupported { .. } => {
                    push(
                        &mut steps,
                        "credentials",
                        ProbeOutcome::Ok,
                        auth_summary(config),
                    );
                    push(&mut steps, "connect", ProbeOutcome::Ok, addr.clone());
                    push(
                        &mut steps,
                        "host key",
                        ProbeOutcome::Ok,
                        "matches the pin".into(),
                    );
                    push(&mut steps, "login", ProbeOutcome::Failed, e.to_string());
                }
                _ => {
                    push(
                        &mut steps,
                        "credentials",
                        ProbeOutcome::Ok,
                        auth_summary(config),
                    );
                    push(&mut steps, "connect", ProbeOutcome::Failed, e.to_string());
                }
            }
            skip_rest(&mut steps);
            return steps;
        }
    };
    push(
        &mut steps,
        "credentials",
        ProbeOutcome::Ok,
        auth_summary(config),
    );
    push(&mut steps, "connect", ProbeOutcome::Ok, addr.clone());
    push(
        &mut steps,
        "host key",
        ProbeOutcome::Ok,
        format!("{} matches the pin", session.host_key_fingerprint()),
    );
    push(
        &mut steps,
        "login",
        ProbeOutcome::Ok,
        format!("as {:?}, SFTP open", config.user),
    );

    let listing = |dir: &str, files: Result<Vec<sftp::RemoteFileId>, sftp::Error>| match files {
        Ok(files) => (ProbeOutcome::Ok, describe_listing(dir, &files)),
        Err(e) => (ProbeOutcome::Failed, e.to_string()),
    };
    let (outcome, detail) = listing(&config.inbox_dir, session.list_inbox().await);
    push(&mut steps, "inbox", outcome, detail);
    let (outcome, detail) = listing(&config.outbox_dir, session.list_outbox().await);
    push(&mut steps, "outbox", outcome, detail);
    if let Some(archive) = &config.archive_dir {
        // Listed through a session whose inbox is the archive directory: the sftp crate lists
        // only its configured directories.
        let as_inbox = SftpConfig {
            inbox_dir: archive.clone(),
            ..config.clone()
        };
        let (outcome, detail) = match SftpSession::connect(&as_inbox).await {
            Ok(s) => {
                let r = listing(archive, s.list_inbox().await);
                let _ = s.close().await;
                r
            }
            Err(e) => (ProbeOutcome::Failed, e.to_string()),
        };
        push(&mut steps, "archive", outcome, detail);
    }

    let name = probe_file_name();
    let written = session
        .upload(&name, b"edigate write check; safe to delete\n")
        .await;
    let (outcome, detail) = match written {
        Err(e) => (
            ProbeOutcome::Failed,
            format!(
                "cannot write to {}: {e}; documents for the partner cannot be delivered",
                config.outbox_dir
            ),
        ),
        // Removed through a session whose inbox is the outbox directory, deleting rather than
        // archiving: the sftp crate removes files only in the inbox.
        Ok(()) => {
            let as_inbox = SftpConfig {
                inbox_dir: config.outbox_dir.clone(),
                archive_dir: None,
                ..config.clone()
            };
            let removed = match SftpSession::connect(&as_inbox).await {
                Ok(s) => {
                    let r = s.finish(&name).await;
                    let _ = s.close().await;
                    r
                }
                Err(e) => Err(e),
            };
            match removed {
                Ok(()) => (
                    ProbeOutcome::Ok,
                    format!(
                        "{name} uploaded to {}, renamed and removed",
                        config.outbox_dir
                    ),
                ),
                Err(e) => (
                    ProbeOutcome::Failed,
                    format!(
                        "{name} was uploaded to {} but cannot be removed: {e}; remove it by hand",
                        config.outbox_dir
                    ),
                ),
            }
        }
    };
    push(&mut steps, "write", outcome, detail);
    let _ = session.close().await;
    steps
}

/// How we log in, without any secret.
fn auth_summary(config: &SftpConfig) -> String {
    match &config.auth {
        sftp::AuthConfig::Key { private_key, .. } => {
            format!("private key {} readable", private_key.display())
        }
        sftp::AuthConfig::Password { .. } => "password found".into(),
    }
}

/// `DIR: N files: a, b, c …`.
fn describe_listing(dir: &str, files: &[sftp::RemoteFileId]) -> String {
    let count = match files.len() {
        0 => return format!("{dir}: empty"),
        1 => "1 file".to_string(),
        n => format!("{n} files"),
    };
    let mut names: Vec<&str> = files.iter().take(LISTED).map(|f| f.name.as_str()).collect();
    if files.len() > LISTED {
        names.push("…");
    }
    format!("{dir}: {count}: {}", names.join(", "))
}
