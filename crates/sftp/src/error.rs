//! Why an SFTP operation failed, and whether trying again later can help.

use std::time::Duration;

/// An SFTP failure. [`Error::is_retryable`] tells the caller whether to try again (with a new
/// connection) or to stop and tell an operator.
///
/// No variant carries a password or passphrase: secrets never reach an error message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration cannot work as written (a bad pin, a missing secret, an unreadable key):
    /// not retryable until it is fixed.
    #[error("sftp configuration: {0}")]
    Config(String),
    /// The TCP connection could not be made: retryable.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// The operating system's answer.
        source: std::io::Error,
    },
    /// Something took longer than its time limit: retryable.
    #[error("{addr}: {what} timed out after {after:?}")]
    Timeout {
        /// `host:port`.
        addr: String,
        /// What was being done.
        what: String,
        /// The limit.
        after: Duration,
    },
    /// The server's host key is none of the pinned ones: the server was replaced, re-keyed, or
    /// someone is in the middle. Not retryable: an operator must check and update the pin.
    #[error(
        "host key of {addr} refused: expected {}, the server offered {offered} ({algorithm}); \
         if the partner changed its key, pin the new one after checking it with them",
        expected.join(" or ")
    )]
    HostKeyMismatch {
        /// `host:port`.
        addr: String,
        /// The pinned fingerprints.
        expected: Vec<String>,
        /// The offered key's SHA-256 fingerprint.
        offered: String,
        /// The offered key's algorithm.
        algorithm: String,
    },
    /// The server refused our credentials: not retryable.
    #[error("{addr}: the server refused {method} authentication as {user:?}")]
    AuthRejected {
        /// `host:port`.
        addr: String,
        /// The account.
        user: String,
        /// `publickey`, `password` or `keyboard-interactive`.
        method: &'static str,
    },
    /// The server takes none of the ways we can prove who we are with the configured
    /// credentials (a password where the server only takes keys, say): not retryable.
    #[error(
        "{addr}: the server does not take a password for {user:?}; it offers: {}",
        offered.join(", ")
    )]
    AuthUnsupported {
        /// `host:port`.
        addr: String,
        /// The account.
        user: String,
        /// The methods the server offered.
        offered: Vec<String>,
    },
    /// The SSH layer failed (connection closed, key exchange failed, protocol error);
    /// `retryable` is false only where a new connection would fail the same way (no common
    /// algorithm, say).
    #[error("{addr}: ssh: {message}")]
    Ssh {
        /// `host:port`.
        addr: String,
        /// What happened.
        message: String,
        /// Whether a new connection may succeed.
        retryable: bool,
    },
    /// The connection ended while an operation was under way: retryable with a new connection.
    #[error("{addr}: connection lost during {op} {path}")]
    ConnectionLost {
        /// `host:port`.
        addr: String,
        /// The operation.
        op: &'static str,
        /// The remote path.
        path: String,
    },
    /// The server refused access to a path: not retryable until someone changes the rights.
    #[error("{op} {path}: permission denied by the server: {message}")]
    PermissionDenied {
        /// The operation.
        op: &'static str,
        /// The remote path.
        path: String,
        /// The server's words.
        message: String,
    },
    /// The path does not exist: not retryable (the file was taken by someone else, or the
    /// directory is misconfigured).
    #[error("{op} {path}: no such file or directory")]
    NotFound {
        /// The operation.
        op: &'static str,
        /// The remote path.
        path: String,
    },
    /// The server answered with another failure (SFTP's catch-all covers a full disk, for one);
    /// retryable unless the server said the operation is unsupported or malformed.
    #[error("{op} {path}: server failure ({code}): {message}")]
    Remote {
        /// The operation.
        op: &'static str,
        /// The remote path.
        path: String,
        /// The SFTP status code's name.
        code: String,
        /// The server's words.
        message: String,
        /// Whether trying again may succeed.
        retryable: bool,
    },
    /// A file name that is not a plain name in its directory: not retryable.
    #[error("file name {name:?} refused: {reason}")]
    InvalidName {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A file name template that cannot be filled safely: not retryable.
    #[error("file name template {template:?}: {reason}")]
    Template {
        /// The template.
        template: String,
        /// Why.
        reason: String,
    },
}

impl Error {
    /// True when the same operation may succeed later (on a new connection): network trouble,
    /// time-outs, a server that went away or answered with a transient failure. False when only
    /// a person can fix it: configuration, host key, credentials, permissions, names.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Connect { .. } | Error::Timeout { .. } | Error::ConnectionLost { .. } => true,
            Error::Ssh { retryable, .. } | Error::Remote { retryable, .. } => *retryable,
            Error::Config(_)
            | Error::HostKeyMismatch { .. }
            | Error::AuthRejected { .. }
            | Error::AuthUnsupported { .. }
            | Error::PermissionDenied { .. }
            | Error::NotFound { .. }
            | Error::InvalidName { .. }
            | Error::Template { .. } => false,
        }
    }
}
