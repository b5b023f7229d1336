//! The SFTP side of edigate's transport: a pure-Rust, tokio-native client for partners' SFTP
//! servers (russh and russh-sftp, crypto on `ring`).
//!
//! Roles:
//! - [`SftpConfig`] — one partner's server, as written in configuration: address, account,
//!   credentials (named, never stored), pinned host keys, remote inbox/outbox/archive
//!   directories, names to leave alone, time limits. [`SftpConfig::check`] validates it without
//!   connecting.
//! - [`SftpSession`] — one authenticated connection: refuses any host key but the pinned ones,
//!   opens SFTP with a large SSH window and 64 KiB packets, and keeps many reads and writes in
//!   flight per transfer.
//!   - inbound: [`SftpSession::list_ready`] (files whose size stopped changing),
//!     [`SftpSession::download`], then — after the caller has made the bytes durable and
//!     recorded the file's [`RemoteFileId`] — [`SftpSession::finish`] (delete or archive);
//!   - outbound: [`SftpSession::upload`] writes `.NAME.part` and renames it into place, so the
//!     partner never sees a partial file.
//! - [`check_file_name`] and [`file_name`] — the only ways a name reaches a remote path: plain
//!   names only, and per-partner templates whose values cannot smuggle a path in.
//! - [`Error`] — every failure says whether retrying can help ([`Error::is_retryable`]).
//!
//! Nothing here is wired into the daemon: the gateway's channel polls with these calls and keeps
//! the records that make a crash between download and finish harmless.

mod config;
mod error;
mod names;
mod session;

pub use config::{AuthConfig, HostKeyPin, SftpConfig, Timeouts};
pub use error::Error;
pub use names::{check_file_name, file_name};
pub use session::{RemoteFileId, SftpSession};
