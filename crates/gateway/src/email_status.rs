//! What the running gateway knows about its mail links, for `edigate status`: each SMTP server
//! it mails through (a partner's `[outbound.email]`, the alerts mailbox) with its last success,
//! its last failure and whether it is failing now; and each inbound email channel, whether it is
//! listening, when it last took a mail, and the last mail it refused.
//!
//! Like the SFTP board ([`crate::sftp_status`]), it lives in memory and starts empty with each
//! process: the outbox stays the record of every delivery and the trace of every received file.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use outbox::Millis;
use serde::{Deserialize, Serialize};

use crate::clock;

/// Which way mail goes over a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailDirection {
    /// An inbound channel: partners mail us.
    Inbound,
    /// An SMTP server we mail through.
    Outbound,
}

/// A link's last failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailLinkError {
    /// When it happened.
    pub at: Millis,
    /// What happened (the server's answer or the connection's error; never a password).
    pub message: String,
}

/// A mail an inbound channel refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailRefusal {
    /// When.
    pub at: Millis,
    /// The envelope sender (`MAIL FROM`).
    pub sender: String,
    /// The SMTP reply code sent.
    pub code: u16,
    /// Why.
    pub reason: String,
}

/// One mail link in the status report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailLinkStatus {
    /// The inbound channel's name, or the destination (`partner:ID`, `alerts:email`).
    pub name: String,
    /// Which way mail goes.
    pub direction: EmailDirection,
    /// The partner, when the link belongs to one.
    pub partner: Option<String>,
    /// Outbound: the SMTP server, `host:port`; inbound: the address listened on.
    pub server: String,
    /// How the connection is protected: `none`, `starttls` or `tls`.
    pub tls: String,
    /// Inbound: whether the channel is accepting connections.
    pub listening: bool,
    /// Outbound: the last mail the server took; inbound: the last mail taken.
    pub last_success: Option<Millis>,
    /// Inbound: mails taken since the start.
    pub received: u64,
    /// Inbound: mails refused since the start.
    pub refused: u64,
    /// Inbound: the last mail refused.
    pub last_refusal: Option<EmailRefusal>,
    /// The last failure, whether or not a success followed it.
    pub last_error: Option<EmailLinkError>,
    /// Failed attempts since the last success.
    pub consecutive_failures: u64,
    /// Whether the last attempt failed.
    pub failing: bool,
}

/// The gateway's mail links, shared by the mailers, the inbound channels and the admin API.
/// Cloning shares the same board.
#[derive(Clone, Debug, Default)]
pub struct EmailStatusBoard(Arc<Mutex<BTreeMap<String, EmailLinkStatus>>>);

impl EmailStatusBoard {
    /// Adds a link, not yet used.
    pub fn register(
        &self,
        name: &str,
        direction: EmailDirection,
        partner: Option<&str>,
        server: String,
        tls: &str,
    ) {
        self.lock().insert(
            name.to_string(),
            EmailLinkStatus {
                name: name.to_string(),
                direction,
                partner: partner.map(str::to_string),
                server,
                tls: tls.to_string(),
                listening: false,
                last_success: None,
                received: 0,
                refused: 0,
                last_refusal: None,
                last_error: None,
                consecutive_failures: 0,
                failing: false,
            },
        );
    }

    /// An inbound channel started or stopped accepting connections.
    pub fn listening(&self, name: &str, listening: bool) {
        self.update(name, |l| l.listening = listening);
    }

    /// A mail was sent (outbound) or taken (inbound).
    pub fn succeeded(&self, name: &str) {
        self.update(name, |l| {
            l.last_success = Some(clock::now_ms());
            if l.direction == EmailDirection::Inbound {
                l.received += 1;
            }
            l.consecutive_failures = 0;
            l.failing = false;
        });
    }

    /// An attempt failed: the server could not be reached or refused the mail (outbound), or a
    /// mail could not be recorded (inbound).
    pub fn failed(&self, name: &str, message: String) {
        self.update(name, |l| {
            l.last_error = Some(EmailLinkError {
                at: clock::now_ms(),
                message,
            });
            l.consecutive_failures += 1;
            l.failing = true;
        });
    }

    /// An inbound channel refused a mail (an unknown sender, a mail too large); the channel
    /// itself works, so this is not a failure of the link.
    pub fn refused(&self, name: &str, sender: &str, code: u16, reason: String) {
        self.update(name, |l| {
            l.refused += 1;
            l.last_refusal = Some(EmailRefusal {
                at: clock::now_ms(),
                sender: sender.to_string(),
                code,
                reason,
            });
        });
    }

    /// A copy of every link, by name.
    pub fn snapshot(&self) -> Vec<EmailLinkStatus> {
        self.lock().values().cloned().collect()
    }

    fn update(&self, name: &str, change: impl FnOnce(&mut EmailLinkStatus)) {
        if let Some(link) = self.lock().get_mut(name) {
            change(link);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, EmailLinkStatus>> {
        // A panic elsewhere while holding the lock leaves plain data behind: still readable.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_kept_after_the_success_that_ends_it() {
        let board = EmailStatusBoard::default();
        board.register(
            "partner:acme",
            EmailDirection::Outbound,
            Some("acme"),
            "smtp:587".into(),
            "starttls",
        );
        board.failed("partner:acme", "connection refused".into());
        board.failed("partner:acme", "connection refused".into());
        let link = &board.snapshot()[0];
        assert!(link.failing);
        assert_eq!(link.consecutive_failures, 2);
        board.succeeded("partner:acme");
        let link = &board.snapshot()[0];
        assert!(!link.failing && link.last_success.is_some());
        assert_eq!(link.consecutive_failures, 0);
        assert_eq!(
            link.last_error.as_ref().map(|e| e.message.as_str()),
            Some("connection refused")
        );
        assert_eq!(link.received, 0, "an outbound link counts no received mail");
    }

    #[test]
    fn refusals_are_counted_without_failing_the_channel() {
        let board = EmailStatusBoard::default();
        board.register(
            "mail",
            EmailDirection::Inbound,
            None,
            "127.0.0.1:2525".into(),
            "none",
        );
        board.listening("mail", true);
        board.refused("mail", "x@y", 550, "unknown sender".into());
        board.succeeded("mail");
        let link = &board.snapshot()[0];
        assert!(link.listening && !link.failing);
        assert_eq!((link.received, link.refused), (1, 1));
        assert_eq!(link.last_refusal.as_ref().map(|r| r.code), Some(550));
    }
}
