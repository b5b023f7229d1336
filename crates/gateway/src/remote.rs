//! Remote channels on partners' SFTP servers: inbound directories polled, and outbound
//! directories documents are uploaded to.
//!
//! Each channel runs in its own loop so a slow or unreachable server holds up no one else. A
//! round lists the files that stopped changing, downloads them, spools and records them as one
//! batch (one fsync, one flush), and only then removes (or archives) them on the server. A file
//! downloaded and recorded but not yet removed when the gateway stopped is downloaded again on
//! the next round and recognised by name and hash: it is the message already made, not a new one.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sftp::{SftpConfig, SftpSession};
use tokio::runtime::Handle;

use crate::Gateway;
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
        let mut session: Option<SftpSession> = None;
        let mut first_round = true;
        while !stop.load(Ordering::SeqCst) {
            if session.as_ref().is_none_or(SftpSession::is_closed) {
                match rt.block_on(SftpSession::connect(&inbox.config)) {
                    Ok(s) => {
                        tracing::info!(channel = %inbox.name, host = %inbox.config.host, fingerprint = %s.host_key_fingerprint(), "connected");
                        session = Some(s);
                    }
                    Err(e) => {
                        tracing::error!(channel = %inbox.name, host = %inbox.config.host, error = %e, retryable = e.is_retryable(), "cannot connect");
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
                    tracing::error!(channel = %inbox.name, error = %e, "SFTP round failed; reconnecting");
                    session = None;
                    sleep_unless(stop, RECONNECT);
                }
            }
        }
    }

    /// One round: list, download, record, flush, finish on the server, process. Returns how many
    /// files were taken.
    fn sftp_round(&self, inbox: &SftpInbox, s: &SftpSession, rt: &Handle) -> Result<usize, String> {
        let ready = rt.block_on(s.list_ready()).map_err(|e| e.to_string())?;
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
                Err(e) if e.is_retryable() => return Err(e.to_string()),
                Err(e) => {
                    tracing::error!(channel = %inbox.name, file = %f.name, error = %e, "cannot download; left on the server");
                }
            }
        }
        if batch.is_empty() {
            return Ok(0);
        }
        let received = self
            .pipeline
            .receive_downloaded(&inbox.name, batch)
            .map_err(|e| e.to_string())?;
        // Durable here before anything is removed from the server.
        self.pipeline.outbox.flush().map_err(|e| e.to_string())?;
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
        for r in &received {
            self.process_guarded(r.id);
        }
        Ok(received.len())
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
pub struct SftpOutbox {
    config: SftpConfig,
    session: Mutex<Option<SftpSession>>,
}

impl std::fmt::Debug for SftpOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SftpOutbox")
            .field("host", &self.config.host)
            .field("outbox_dir", &self.config.outbox_dir)
            .finish_non_exhaustive()
    }
}

impl SftpOutbox {
    /// An outbox that connects when it first delivers.
    pub fn new(config: SftpConfig) -> Self {
        SftpOutbox {
            config,
            session: Mutex::new(None),
        }
    }

    /// Uploads one document under a temporary name and renames it into place. Runs on the
    /// delivery worker's blocking thread, inside the gateway's runtime. Errors that retrying
    /// cannot cure (a changed host key, refused credentials, no permission) are permanent.
    pub fn deliver(&self, file_name: &str, bytes: &[u8]) -> Result<(), DeliveryError> {
        let rt = Handle::try_current().map_err(|e| DeliveryError::Unavailable {
            what: format!("uploading {file_name} to {}", self.config.host),
            message: format!("no runtime: {e}"),
        })?;
        // One upload at a time per partner server: the session is not shared across uploads.
        let mut session = self
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let result = rt.block_on(async {
            if session.as_ref().is_none_or(SftpSession::is_closed) {
                *session = Some(SftpSession::connect(&self.config).await?);
            }
            match session.as_ref() {
                Some(s) => s.upload(file_name, bytes).await,
                None => Err(sftp::Error::Config("no session".into())),
            }
        });
        result.map_err(|e| {
            *session = None;
            let what = format!(
                "uploading {file_name} to {}:{}",
                self.config.host, self.config.outbox_dir
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
}
