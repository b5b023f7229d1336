//! What the running gateway knows about each of its SFTP links — every inbound channel on a
//! partner's server and every partner whose documents go to one — for `edigate status`: when it
//! last connected, polled or uploaded, its last error and when, and how many attempts in a row
//! have failed.
//!
//! The board lives in memory and starts empty with each process: it answers "is the link
//! working now", while the outbox remains the record of every delivery and its last error. The
//! SFTP loops and the outbound uploader write to it; the admin API reads a copy
//! ([`SftpStatusBoard::snapshot`]) into its status report.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use outbox::Millis;
use serde::{Deserialize, Serialize};

use crate::clock;

/// Which way files go over a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SftpDirection {
    /// An inbound channel: the partner's files are polled and downloaded.
    Inbound,
    /// A partner's destination: our documents are uploaded.
    Outbound,
}

/// A link's last failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SftpLinkError {
    /// When it happened.
    pub at: Millis,
    /// What happened (never a secret: the sftp crate keeps them out of its errors).
    pub message: String,
    /// Whether trying again may help; false means an operator must act (a host key, the
    /// credentials, the rights on the server).
    pub retryable: bool,
}

/// One SFTP link in the status report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SftpLinkStatus {
    /// The inbound channel's name, or the destination (`partner:ID`).
    pub name: String,
    /// Which way files go.
    pub direction: SftpDirection,
    /// The partner, when the link belongs to one.
    pub partner: Option<String>,
    /// The server, `host:port`.
    pub server: String,
    /// Whether the link's session was open when last used (a server may since have closed an
    /// idle one; the next use reconnects).
    pub connected: bool,
    /// The last successful connection (login and SFTP open).
    pub last_connect: Option<Millis>,
    /// Inbound: the last poll of the remote inbox that went through.
    pub last_poll: Option<Millis>,
    /// Outbound: the last document uploaded and renamed into place.
    pub last_upload: Option<Millis>,
    /// The last failure, whether or not it was followed by a success.
    pub last_error: Option<SftpLinkError>,
    /// Failed attempts (connecting, polling, uploading) since the last success.
    pub consecutive_failures: u64,
    /// Outbound: uploads running now.
    pub uploads_in_flight: u64,
    /// Outbound: the most uploads this partner's server gets at once.
    pub max_concurrent_uploads: Option<u64>,
}

/// The gateway's SFTP links, shared by the loops that use them and the admin API. Cloning shares
/// the same board.
#[derive(Clone, Debug, Default)]
pub struct SftpStatusBoard(Arc<Mutex<BTreeMap<String, SftpLinkStatus>>>);

impl SftpStatusBoard {
    /// Adds a link, not yet connected.
    pub fn register(
        &self,
        name: &str,
        direction: SftpDirection,
        partner: Option<&str>,
        server: String,
        max_concurrent_uploads: Option<u64>,
    ) {
        self.lock().insert(
            name.to_string(),
            SftpLinkStatus {
                name: name.to_string(),
                direction,
                partner: partner.map(str::to_string),
                server,
                connected: false,
                last_connect: None,
                last_poll: None,
                last_upload: None,
                last_error: None,
                consecutive_failures: 0,
                uploads_in_flight: 0,
                max_concurrent_uploads,
            },
        );
    }

    /// A session was opened.
    pub fn connected(&self, name: &str) {
        self.update(name, |l| {
            l.connected = true;
            l.last_connect = Some(clock::now_ms());
        });
    }

    /// A poll of the remote inbox went through.
    pub fn polled(&self, name: &str) {
        self.update(name, |l| {
            l.last_poll = Some(clock::now_ms());
            l.consecutive_failures = 0;
        });
    }

    /// An upload begins.
    pub fn upload_started(&self, name: &str) {
        self.update(name, |l| l.uploads_in_flight += 1);
    }

    /// An upload ended, arrived or not.
    pub fn upload_ended(&self, name: &str, arrived: bool) {
        self.update(name, |l| {
            l.uploads_in_flight = l.uploads_in_flight.saturating_sub(1);
            if arrived {
                l.last_upload = Some(clock::now_ms());
                l.consecutive_failures = 0;
            }
        });
    }

    /// An attempt failed; `session_lost` when the session is gone with it (it is reopened on the
    /// next attempt).
    pub fn failed(&self, name: &str, message: String, retryable: bool, session_lost: bool) {
        self.update(name, |l| {
            l.last_error = Some(SftpLinkError {
                at: clock::now_ms(),
                message,
                retryable,
            });
            l.consecutive_failures += 1;
            if session_lost {
                l.connected = false;
            }
        });
    }

    /// The session was closed (the gateway stopping, or a session found closed).
    pub fn disconnected(&self, name: &str) {
        self.update(name, |l| l.connected = false);
    }

    /// A copy of every link, by name.
    pub fn snapshot(&self) -> Vec<SftpLinkStatus> {
        self.lock().values().cloned().collect()
    }

    fn update(&self, name: &str, change: impl FnOnce(&mut SftpLinkStatus)) {
        if let Some(link) = self.lock().get_mut(name) {
            change(link);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, SftpLinkStatus>> {
        // A panic elsewhere while holding the lock leaves plain data behind: still readable.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_count_until_a_success_and_the_last_error_stays() {
        let board = SftpStatusBoard::default();
        board.register(
            "partner:acme",
            SftpDirection::Outbound,
            Some("acme"),
            "h:22".into(),
            Some(2),
        );
        board.failed("partner:acme", "down".into(), true, true);
        board.failed("partner:acme", "down".into(), true, true);
        let link = &board.snapshot()[0];
        assert_eq!(link.consecutive_failures, 2);
        assert!(!link.connected);
        board.connected("partner:acme");
        board.upload_started("partner:acme");
        assert_eq!(board.snapshot()[0].uploads_in_flight, 1);
        board.upload_ended("partner:acme", true);
        let link = &board.snapshot()[0];
        assert_eq!((link.consecutive_failures, link.uploads_in_flight), (0, 0));
        assert!(link.connected && link.last_upload.is_some() && link.last_connect.is_some());
        assert_eq!(
            link.last_error.as_ref().map(|e| e.message.as_str()),
            Some("down")
        );
        // Unknown names change nothing.
        board.polled("nope");
        assert_eq!(board.snapshot().len(), 1);
    }
}
