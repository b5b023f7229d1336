//! One authenticated SFTP connection to a partner's server, and the inbox and outbox operations
//! the daemon builds its channel from.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use russh::MethodKind;
use russh::client::{self, AuthResult, KeyboardInteractiveAuthResponse};
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh_sftp::client::RawSftpSession;
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::client::rawsession::Limits;
use russh_sftp::protocol::{Data, FileAttributes, OpenFlags, Packet, Status, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::config::{
    AuthConfig, Checked, HostKeyPin, SftpConfig, fingerprint, read_secret_env, read_secret_file,
    remote_path,
};
use crate::error::Error;
use crate::names::{Pattern, check_file_name, ignored};

/// The SSH channel window: how much the server may send before we acknowledge. The default 2 MiB
/// cannot hold the pipelined reads below, and a full window stalls the server for a round trip.
const WINDOW_SIZE: u32 = 16 << 20;
/// The largest SSH packet we accept; russh refuses more than 65535, and the default 32 KiB splits
/// every 255 KiB SFTP read into eight packets.
const MAX_SSH_PACKET: u32 = 65_535;
/// Reads and writes in flight per transfer, in bytes: half the window, so acknowledgements of one
/// half overlap with data of the other.
const IN_FLIGHT_BYTES: usize = 8 << 20;
/// Read and write sizes when the server does not announce its limits: 32 KiB is what every SFTP
/// server must take.
const SAFE_CHUNK: u32 = 32 * 1024;
/// The most we ask for in one request even when a server allows more: OpenSSH's own limit
/// (256 KiB messages less 1 KiB of headers), which also fits russh-sftp's 256 KiB packet limit.
const MAX_CHUNK: u32 = 256 * 1024 - 1024;
/// Memory reserved up front for a download, whatever size the server claims.
const MAX_PREALLOCATION: u64 = 64 << 20;

const POSIX_RENAME: &str = "posix-rename@openssh.com";

/// A file in the remote inbox, as the daemon records it.
///
/// The daemon stores this with the SHA-256 of the downloaded bytes before it calls
/// [`SftpSession::finish`]. If it dies between the two, the file is still on the server at its
/// next poll; finding the same name, size and hash in its records, it finishes the file without
/// processing it a second time. `mtime` helps an operator tell two generations of a name apart.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RemoteFileId {
    /// The file name in the remote inbox; always a plain name (see [`check_file_name`]).
    pub name: String,
    /// Its size in bytes, as listed.
    pub size: u64,
    /// Its modification time as listed, in seconds since the Unix epoch (0 when the server did
    /// not say).
    pub mtime: u64,
}

/// An authenticated SFTP session with one partner's server.
///
/// Operations take `&self` and may run concurrently on one session (SFTP requests are
/// multiplexed). After an error with [`Error::is_retryable`] true, drop the session and connect
/// again: a lost connection does not come back by itself.
///
/// # Receiving safely
/// 1. [`list_ready`](Self::list_ready) names the files that have stopped changing;
/// 2. [`download`](Self::download) fetches one;
/// 3. the caller makes the bytes durable (spool, fsync) and records the file's
///    [`RemoteFileId`] with the bytes' hash;
/// 4. only then [`finish`](Self::finish) deletes or archives it on the server.
///
/// A crash before step 3 leaves the file on the server to be fetched again; a crash between 3
/// and 4 is recognised by the record, so the file is finished but not processed twice.
pub struct SftpSession {
    addr: String,
    ssh: client::Handle<Client>,
    sftp: Arc<RawSftpSession>,
    host_key: String,
    inbox: String,
    outbox: String,
    archive: Option<String>,
    ignore: Vec<Pattern>,
    stable_interval: Duration,
    request_timeout: Duration,
    posix_rename: bool,
    fsync: bool,
    read_chunk: u32,
    write_chunk: u32,
}

impl std::fmt::Debug for SftpSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SftpSession")
            .field("addr", &self.addr)
            .field("host_key", &self.host_key)
            .field("inbox", &self.inbox)
            .field("outbox", &self.outbox)
            .field("archive", &self.archive)
            .field("closed", &self.ssh.is_closed())
            .finish_non_exhaustive()
    }
}

/// What we prove ourselves with. Deliberately not `Debug`: it holds the secret.
enum Credentials {
    Key(Arc<PrivateKey>),
    Password(String),
}

impl Credentials {
    fn load(auth: &AuthConfig) -> Result<Credentials, Error> {
        match auth {
            AuthConfig::Key {
                private_key,
                passphrase_env,
                passphrase_file,
            } => {
                let passphrase = match (passphrase_env, passphrase_file) {
                    (Some(var), _) => Some(read_secret_env(var)?),
                    (None, Some(file)) => Some(read_secret_file(file)?),
                    (None, None) => None,
                };
                let key = russh::keys::load_secret_key(private_key, passphrase.as_deref())
                    .map_err(|e| {
                        Error::Config(format!(
                            "cannot load private key {}: {e}",
                            private_key.display()
                        ))
                    })?;
                Ok(Credentials::Key(Arc::new(key)))
            }
            AuthConfig::Password {
                password_env,
                password_file,
            } => {
                let password = match (password_env, password_file) {
                    (Some(var), _) => read_secret_env(var)?,
                    (None, Some(file)) => read_secret_file(file)?,
                    (None, None) => {
                        return Err(Error::Config(
                            "auth: password_env or password_file is required".into(),
                        ));
                    }
                };
                Ok(Credentials::Password(password))
            }
        }
    }
}

/// The russh event handler: only the host key check matters to us.
struct Client {
    pins: Vec<HostKeyPin>,
    accepted: Arc<OnceLock<String>>,
}

#[derive(Debug)]
enum HandshakeError {
    Ssh(russh::Error),
    HostKey { offered: String, algorithm: String },
}

impl From<russh::Error> for HandshakeError {
    fn from(e: russh::Error) -> Self {
        HandshakeError::Ssh(e)
    }
}

impl client::Handler for Client {
    type Error = HandshakeError;

    async fn check_server_key(
        &mut self,
        offered: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        // A certificate is judged by the key it certifies: we pin keys, not certificate
        // authorities.
        let key = offered.public_key();
        if self.pins.iter().any(|pin| pin.matches(&key)) {
            let _ = self.accepted.set(fingerprint(&key));
            Ok(true)
        } else {
            // An error rather than `false`, so the caller learns which key was offered.
            Err(HandshakeError::HostKey {
                offered: fingerprint(&key),
                algorithm: key.algorithm().to_string(),
            })
        }
    }
}

/// The ciphers we offer, best first. With AES instructions in the CPU, AES-256-GCM (ring's,
/// hardware-accelerated) first: on loopback it downloads about one and a half times as fast as
/// ChaCha20-Poly1305, which is first otherwise, as in OpenSSH, because it is fast and
/// constant-time in software. Both are AEAD ciphers of the same strength class; which one a
/// server gets changes no security property we rely on.
fn cipher_order() -> &'static [russh::cipher::Name] {
    use russh::cipher::{AES_128_CTR, AES_192_CTR, AES_256_CTR, AES_256_GCM, CHACHA20_POLY1305};
    const AES_FIRST: &[russh::cipher::Name] = &[
        AES_256_GCM,
        CHACHA20_POLY1305,
        AES_256_CTR,
        AES_192_CTR,
        AES_128_CTR,
    ];
    const CHACHA_FIRST: &[russh::cipher::Name] = &[
        CHACHA20_POLY1305,
        AES_256_GCM,
        AES_256_CTR,
        AES_192_CTR,
        AES_128_CTR,
    ];
    if hardware_aes() {
        AES_FIRST
    } else {
        CHACHA_FIRST
    }
}

fn hardware_aes() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("aes")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("aes")
            && std::arch::is_aarch64_feature_detected!("pmull")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

fn ssh_error(addr: &str, e: russh::Error) -> Error {
    // A new connection fails the same way only when the two sides cannot agree on algorithms.
    let retryable = !matches!(
        e,
        russh::Error::NoCommonAlgo { .. } | russh::Error::UnknownAlgo | russh::Error::Version
    );
    Error::Ssh {
        addr: addr.to_string(),
        message: e.to_string(),
        retryable,
    }
}

/// One read request in flight.
struct PendingRead {
    offset: u64,
    len: u32,
    task: JoinHandle<Result<Data, SftpError>>,
}

fn depth_for(chunk: u32) -> usize {
    (IN_FLIGHT_BYTES / chunk.max(1) as usize).clamp(4, 64)
}

/// SSH wire strings (a 32-bit big-endian length, then the bytes), as extension requests carry
/// their arguments.
fn ssh_strings(items: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        // Paths come from checked names and configured directories, far below 4 GiB.
        out.extend_from_slice(&(item.len() as u32).to_be_bytes());
        out.extend_from_slice(item.as_bytes());
    }
    out
}

/// Logs in as `user` with `credentials`.
///
/// A password goes by the `password` method when the server offers it, else by
/// `keyboard-interactive` (what servers that check passwords through PAM offer), answering the
/// server's hidden prompts with it once. It is sent by one method only: a rejected password tried
/// again by the other would count twice against the server's lockout limits.
async fn authenticate(
    ssh: &mut client::Handle<Client>,
    addr: &str,
    user: &str,
    credentials: Credentials,
) -> Result<(), Error> {
    let rejected = |method: &'static str| Error::AuthRejected {
        addr: addr.to_string(),
        user: user.to_string(),
        method,
    };
    match credentials {
        Credentials::Key(key) => {
            let hash = if key.algorithm().is_rsa() {
                // Servers that do not say what they take still take SHA-256 (RFC 8332);
                // SHA-1 `ssh-rsa` is off in current OpenSSH.
                match ssh.best_supported_rsa_hash().await {
                    Ok(Some(hash)) => hash,
                    _ => Some(HashAlg::Sha256),
                }
            } else {
                None
            };
            let key = PrivateKeyWithHashAlg::new(key, hash);
            let result = ssh
                .authenticate_publickey(user, key)
                .await
                .map_err(|e| ssh_error(addr, e))?;
            if result.success() {
                Ok(())
            } else {
                Err(rejected("publickey"))
            }
        }
        Credentials::Password(password) => {
            // `none` is how a client learns which methods the server takes.
            let offered = match ssh
                .authenticate_none(user)
                .await
                .map_err(|e| ssh_error(addr, e))?
            {
                AuthResult::Success => return Ok(()),
                AuthResult::Failure {
                    remaining_methods, ..
                } => remaining_methods,
            };
            if offered.contains(&MethodKind::Password) {
                let result = ssh
                    .authenticate_password(user, password)
                    .await
                    .map_err(|e| ssh_error(addr, e))?;
                return if result.success() {
                    Ok(())
                } else {
                    Err(rejected("password"))
                };
            }
            if offered.contains(&MethodKind::KeyboardInteractive) {
                return keyboard_interactive(ssh, addr, user, password).await;
            }
            Err(Error::AuthUnsupported {
                addr: addr.to_string(),
                user: user.to_string(),
                offered: offered
                    .iter()
                    .map(|m| <&str>::from(m).to_string())
                    .collect(),
            })
        }
    }
}

/// How many rounds of questions a keyboard-interactive login may take: servers send a banner
/// or an empty round before the password prompt, but a long exchange is no password login.
const MAX_KBD_ROUNDS: usize = 4;

/// `keyboard-interactive` with a password: the first round with prompts gets the password for
/// each hidden prompt (the password prompt PAM sends). A server that then asks again, or asks
/// something shown on screen (a user name, a one-time code's label), wants more than a password:
/// the login is given up rather than guessed at.
async fn keyboard_interactive(
    ssh: &mut client::Handle<Client>,
    addr: &str,
    user: &str,
    password: String,
) -> Result<(), Error> {
    let rejected = || Error::AuthRejected {
        addr: addr.to_string(),
        user: user.to_string(),
        method: "keyboard-interactive",
    };
    let mut reply = ssh
        .authenticate_keyboard_interactive_start(user, None)
        .await
        .map_err(|e| ssh_error(addr, e))?;
    let mut answered = false;
    for _ in 0..MAX_KBD_ROUNDS {
        let prompts = match reply {
            KeyboardInteractiveAuthResponse::Success => return Ok(()),
            KeyboardInteractiveAuthResponse::Failure { .. } => return Err(rejected()),
            KeyboardInteractiveAuthResponse::InfoRequest { prompts, .. } => prompts,
        };
        let responses = if prompts.is_empty() {
            Vec::new()
        } else if answered || prompts.iter().any(|p| p.echo) {
            return Err(rejected());
        } else {
            answered = true;
            vec![password.clone(); prompts.len()]
        };
        reply = ssh
            .authenticate_keyboard_interactive_respond(responses)
            .await
            .map_err(|e| ssh_error(addr, e))?;
    }
    Err(rejected())
}

impl SftpSession {
    /// Connects, checks the server's host key against the pins, authenticates, and opens the
    /// SFTP subsystem, all within `timeouts.connect_ms`.
    ///
    /// A host key that matches no pin is refused with [`Error::HostKeyMismatch`], naming the
    /// expected and the offered fingerprints.
    pub async fn connect(config: &SftpConfig) -> Result<SftpSession, Error> {
        let checked = config.checked()?;
        // Secrets first: a missing one is a configuration error, whatever the network does.
        let credentials = Credentials::load(&config.auth)?;
        let addr = format!("{}:{}", config.host, config.port);
        let limit = checked.connect_timeout;
        match tokio::time::timeout(limit, Self::open(config, checked, credentials, &addr)).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout {
                addr,
                what: "connecting".into(),
                after: limit,
            }),
        }
    }

    async fn open(
        config: &SftpConfig,
        checked: Checked,
        credentials: Credentials,
        addr: &str,
    ) -> Result<SftpSession, Error> {
        let tcp = TcpStream::connect((config.host.as_str(), config.port))
            .await
            .map_err(|source| Error::Connect {
                addr: addr.to_string(),
                source,
            })?;
        let ssh_config = client::Config {
            window_size: WINDOW_SIZE,
            maximum_packet_size: MAX_SSH_PACKET,
            keepalive_interval: Some(checked.keepalive),
            keepalive_max: 3,
            inactivity_timeout: None,
            // SFTP is request and answer: Nagle's delay would sit on every small request.
            nodelay: true,
            preferred: russh::Preferred {
                cipher: std::borrow::Cow::Borrowed(cipher_order()),
                ..russh::Preferred::DEFAULT
            },
            ..client::Config::default()
        };
        let accepted = Arc::new(OnceLock::new());
        let handler = Client {
            pins: checked.pins.clone(),
            accepted: accepted.clone(),
        };
        if let Err(e) = tcp.set_nodelay(true) {
            return Err(Error::Connect {
                addr: addr.to_string(),
                source: e,
            });
        }
        let mut ssh = client::connect_stream(Arc::new(ssh_config), tcp, handler)
            .await
            .map_err(|e| match e {
                HandshakeError::HostKey { offered, algorithm } => Error::HostKeyMismatch {
                    addr: addr.to_string(),
                    expected: checked.pins.iter().map(HostKeyPin::fingerprint).collect(),
                    offered,
                    algorithm,
                },
                HandshakeError::Ssh(e) => ssh_error(addr, e),
            })?;
        let host_key = accepted.get().cloned().unwrap_or_default();

        authenticate(&mut ssh, addr, &config.user, credentials).await?;

        let channel = ssh
            .channel_open_session()
            .await
            .map_err(|e| ssh_error(addr, e))?;
        channel
            .request_subsystem(true, "sftp")
            .await
            .map_err(|e| ssh_error(addr, e))?;
        let sftp_config = russh_sftp::client::Config {
            request_timeout_secs: checked.request_timeout_secs,
            ..russh_sftp::client::Config::default()
        };
        let max_packet = sftp_config.max_packet_len;
        let mut sftp = RawSftpSession::new_with_config(channel.into_stream(), sftp_config);
        let request_timeout = Duration::from_secs(checked.request_timeout_secs);
        let init_error =
            |e| map_sftp_error(addr, ssh.is_closed(), request_timeout, "open", "sftp", e);
        let version = sftp.init().await.map_err(init_error)?;
        let offers = |name: &str, version_text: &str| {
            version
                .extensions
                .get(name)
                .is_some_and(|v| v == version_text)
        };
        let posix_rename = offers(POSIX_RENAME, "1");
        let fsync = offers(russh_sftp::extensions::FSYNC, "1");
        let (mut read_chunk, mut write_chunk) = (SAFE_CHUNK, SAFE_CHUNK);
        if offers(russh_sftp::extensions::LIMITS, "1") {
            let limits = sftp.limits().await.map_err(init_error)?;
            let cap = |announced: u64| -> u32 {
                if announced == 0 {
                    SAFE_CHUNK
                } else {
                    // `min` first, so the cast cannot truncate.
                    announced.min(u64::from(MAX_CHUNK)) as u32
                }
            };
            // A read answer carries 13 bytes of header within the packet limit.
            read_chunk = cap(limits.max_read_len).min(max_packet.saturating_sub(64));
            write_chunk = cap(limits.max_write_len);
            sftp.set_limits(Limits::from(limits));
        }

        Ok(SftpSession {
            addr: addr.to_string(),
            ssh,
            sftp: Arc::new(sftp),
            host_key,
            inbox: config.inbox_dir.clone(),
            outbox: config.outbox_dir.clone(),
            archive: config.archive_dir.clone(),
            ignore: checked.ignore,
            stable_interval: checked.stable_interval,
            request_timeout,
            posix_rename,
            fsync,
            read_chunk,
            write_chunk,
        })
    }

    /// The SHA-256 fingerprint of the host key the server presented (one of the pins).
    pub fn host_key_fingerprint(&self) -> &str {
        &self.host_key
    }

    /// Whether the connection has ended; a closed session only returns errors.
    pub fn is_closed(&self) -> bool {
        self.ssh.is_closed()
    }

    /// Closes the session politely.
    pub async fn close(self) -> Result<(), Error> {
        // The SFTP stream ends with its channel; a failure here changes nothing for the caller.
        let _ = self.sftp.close_session();
        self.ssh
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await
            .map_err(|e| ssh_error(&self.addr, e))
    }

    /// Regular files in the inbox that are not left alone by the ignore patterns (nor hidden),
    /// oldest first. Names that are not plain file names (see [`check_file_name`]) are left out:
    /// no operation here could address them safely.
    pub async fn list_inbox(&self) -> Result<Vec<RemoteFileId>, Error> {
        self.list(&self.inbox, true).await
    }

    /// Every regular file in the outbox, `.NAME.part` leftovers included, oldest first: what the
    /// partner has not collected yet.
    pub async fn list_outbox(&self) -> Result<Vec<RemoteFileId>, Error> {
        self.list(&self.outbox, false).await
    }

    /// The inbox files ready to be taken: listed twice, `stable_interval_ms` apart, and returned
    /// only when the size and modification time did not change in between, so a file the
    /// partner is still writing is left for a later poll. Oldest first.
    pub async fn list_ready(&self) -> Result<Vec<RemoteFileId>, Error> {
        let first = self.list_inbox().await?;
        if first.is_empty() {
            return Ok(first);
        }
        tokio::time::sleep(self.stable_interval).await;
        let first: HashSet<RemoteFileId> = first.into_iter().collect();
        let second = self.list_inbox().await?;
        Ok(second.into_iter().filter(|f| first.contains(f)).collect())
    }

    /// Downloads inbox file `name` whole, with many reads in flight.
    ///
    /// The caller must make the bytes durable and record the file (see [`RemoteFileId`]) before
    /// calling [`finish`](Self::finish).
    pub async fn download(&self, name: &str) -> Result<Vec<u8>, Error> {
        check_file_name(name)?;
        let path = remote_path(&self.inbox, name);
        let handle = self
            .sftp
            .open(path.as_str(), OpenFlags::READ, FileAttributes::empty())
            .await
            .map_err(|e| self.sftp_error("download", &path, e))?
            .handle;
        let result = self.read_all(&handle, &path).await;
        // With every byte in hand, a failed close costs the server a handle until the
        // connection ends; the caller's next operation reports a connection that is gone.
        let _ = self.sftp.close(handle.as_str()).await;
        result
    }

    /// Acknowledges inbox file `name` on the server: deletes it, or moves it into `archive_dir`
    /// (replacing an older file of the same name there). Call it only after the downloaded bytes
    /// are durable. Finishing a file that is already gone succeeds, so a retry after a lost
    /// answer is harmless.
    pub async fn finish(&self, name: &str) -> Result<(), Error> {
        check_file_name(name)?;
        let path = remote_path(&self.inbox, name);
        let result = match &self.archive {
            Some(archive) => {
                self.rename_over(&path, &remote_path(archive, name), "archive")
                    .await
            }
            None => self
                .sftp
                .remove(path.as_str())
                .await
                .map(|_| ())
                .map_err(|e| self.sftp_error("delete", &path, e)),
        };
        match result {
            Err(Error::NotFound { .. }) if !self.exists(&path).await? => Ok(()),
            other => other,
        }
    }

    /// Uploads `bytes` to the outbox as `name`: written as `.NAME.part`, synced when the server
    /// can, then renamed to `name` (atomically replacing an older file of that name when the
    /// server offers `posix-rename@openssh.com`, else by removing it first). The partner never
    /// sees a partial `name`. `name` must be a plain file name (see [`check_file_name`]).
    pub async fn upload(&self, name: &str, bytes: &[u8]) -> Result<(), Error> {
        check_file_name(name)?;
        let temp_name = format!(".{name}.part");
        if temp_name.len() > 255 {
            return Err(Error::InvalidName {
                name: name.to_string(),
                reason: "it leaves no room for the temporary name's \".\" and \".part\"".into(),
            });
        }
        let temp = remote_path(&self.outbox, &temp_name);
        let target = remote_path(&self.outbox, name);
        let handle = self
            .sftp
            .open(
                temp.as_str(),
                OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE,
                FileAttributes::empty(),
            )
            .await
            .map_err(|e| self.sftp_error("upload", &temp, e))?
            .handle;
        let mut result = self.write_all(&handle, &temp, bytes).await;
        if result.is_ok() && self.fsync {
            result = self
                .sftp
                .fsync(handle.as_str())
                .await
                .map(|_| ())
                .map_err(|e| self.sftp_error("upload", &temp, e));
        }
        // The close is where some servers report a failed write (a full disk): it counts.
        let closed = self
            .sftp
            .close(handle.as_str())
            .await
            .map(|_| ())
            .map_err(|e| self.sftp_error("upload", &temp, e));
        if let Err(e) = result.and(closed) {
            // Best effort: a connection that is gone leaves the part file to the next upload of
            // the same name, which truncates it.
            if !self.ssh.is_closed() {
                let _ = self.sftp.remove(temp.as_str()).await;
            }
            return Err(e);
        }
        self.rename_over(&temp, &target, "upload").await
    }

    async fn list(&self, dir: &str, inbox: bool) -> Result<Vec<RemoteFileId>, Error> {
        let handle = self
            .sftp
            .opendir(dir)
            .await
            .map_err(|e| self.sftp_error("list", dir, e))?
            .handle;
        let mut files = Vec::new();
        let result = loop {
            match self.sftp.readdir(handle.as_str()).await {
                Ok(batch) => {
                    for entry in batch.files {
                        let name = entry.filename;
                        let skip = inbox
                            && (ignored(&name, &self.ignore) || check_file_name(&name).is_err());
                        if skip || !entry.attrs.file_type().is_file() {
                            continue;
                        }
                        files.push(RemoteFileId {
                            name,
                            size: entry.attrs.size.unwrap_or(0),
                            mtime: u64::from(entry.attrs.mtime.unwrap_or(0)),
                        });
                    }
                }
                Err(SftpError::Status(s)) if s.status_code == StatusCode::Eof => break Ok(()),
                Err(e) => break Err(self.sftp_error("list", dir, e)),
            }
        };
        let closed = self
            .sftp
            .close(handle.as_str())
            .await
            .map(|_| ())
            .map_err(|e| self.sftp_error("list", dir, e));
        result.and(closed)?;
        files.sort_by(|a, b| (a.mtime, &a.name).cmp(&(b.mtime, &b.name)));
        Ok(files)
    }

    async fn exists(&self, path: &str) -> Result<bool, Error> {
        match self.sftp.lstat(path).await {
            Ok(_) => Ok(true),
            Err(SftpError::Status(s)) if s.status_code == StatusCode::NoSuchFile => Ok(false),
            Err(e) => Err(self.sftp_error("stat", path, e)),
        }
    }

    async fn read_all(&self, handle: &str, path: &str) -> Result<Vec<u8>, Error> {
        let size = self
            .sftp
            .fstat(handle)
            .await
            .map_err(|e| self.sftp_error("download", path, e))?
            .attrs
            .size
            .unwrap_or(0);
        let mut out = Vec::with_capacity(size.min(MAX_PREALLOCATION) as usize);
        let mut chunk = self.read_chunk;
        let mut depth = depth_for(chunk);
        let mut next: u64 = 0;
        let mut queue: VecDeque<PendingRead> = VecDeque::with_capacity(depth);
        let result = loop {
            // Reads up to the listed size go out together; past it, one at a time until the
            // server says end of file (the file may have grown, and must be read whole).
            while queue.len() < depth && (next < size || queue.is_empty()) {
                let sftp = self.sftp.clone();
                let handle = handle.to_string();
                let (offset, len) = (next, chunk);
                let task = tokio::spawn(async move { sftp.read(handle, offset, len).await });
                queue.push_back(PendingRead { offset, len, task });
                next += u64::from(len);
            }
            let Some(PendingRead { offset, len, task }) = queue.pop_front() else {
                break Ok(());
            };
            let data = match task.await {
                Ok(Ok(data)) => data.data,
                Ok(Err(SftpError::Status(s))) if s.status_code == StatusCode::Eof => break Ok(()),
                Ok(Err(e)) => break Err(self.sftp_error("download", path, e)),
                Err(e) => break Err(self.task_error("download", path, &e)),
            };
            if data.is_empty() {
                break Ok(());
            }
            out.extend_from_slice(&data);
            if data.len() < len as usize {
                // A short read: the server's own size limit, or the end of the file. Reads queued
                // after it start at the wrong offsets; go on from here at the size it gave.
                for pending in queue.drain(..) {
                    pending.task.abort();
                }
                chunk = data.len() as u32;
                depth = depth_for(chunk);
                next = offset + data.len() as u64;
            }
        };
        for pending in queue.drain(..) {
            pending.task.abort();
        }
        result?;
        if (out.len() as u64) < size {
            // Rewritten or truncated under us: these bytes are no version of the file.
            return Err(Error::Remote {
                op: "download",
                path: path.to_string(),
                code: "Changed".into(),
                message: format!(
                    "the file shrank while it was read ({} of {size} bytes)",
                    out.len()
                ),
                retryable: true,
            });
        }
        Ok(out)
    }

    async fn write_all(&self, handle: &str, path: &str, bytes: &[u8]) -> Result<(), Error> {
        let chunk = self.write_chunk as usize;
        let depth = depth_for(self.write_chunk);
        let mut queue: VecDeque<JoinHandle<Result<Status, SftpError>>> =
            VecDeque::with_capacity(depth);
        let mut result = Ok(());
        for (i, piece) in bytes.chunks(chunk).enumerate() {
            if queue.len() >= depth
                && let Some(task) = queue.pop_front()
            {
                result = self.written(task, path).await;
                if result.is_err() {
                    break;
                }
            }
            let sftp = self.sftp.clone();
            let handle = handle.to_string();
            let offset = (i * chunk) as u64;
            let data = piece.to_vec();
            queue.push_back(tokio::spawn(async move {
                sftp.write(handle, offset, data).await
            }));
        }
        while result.is_ok()
            && let Some(task) = queue.pop_front()
        {
            result = self.written(task, path).await;
        }
        for task in queue.drain(..) {
            task.abort();
        }
        result
    }

    async fn written(
        &self,
        task: JoinHandle<Result<Status, SftpError>>,
        path: &str,
    ) -> Result<(), Error> {
        match task.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(self.sftp_error("upload", path, e)),
            Err(e) => Err(self.task_error("upload", path, &e)),
        }
    }

    /// Renames `from` to `to`, replacing `to` if it exists.
    async fn rename_over(&self, from: &str, to: &str, op: &'static str) -> Result<(), Error> {
        if self.posix_rename {
            let reply = self
                .sftp
                .extended(POSIX_RENAME, ssh_strings(&[from, to]))
                .await;
            return match reply {
                Ok(Packet::Status(s)) if s.status_code == StatusCode::Ok => Ok(()),
                Ok(Packet::Status(s)) => Err(self.sftp_error(op, to, SftpError::Status(s))),
                Ok(_) => Err(self.sftp_error(op, to, SftpError::UnexpectedPacket)),
                Err(e) => Err(self.sftp_error(op, to, e)),
            };
        }
        // SFTP v3's rename refuses an existing target. Removing it first opens a moment in which
        // the name is missing, never one in which it names a partial file.
        match self.sftp.remove(to).await {
            Ok(_) => {}
            Err(SftpError::Status(s)) if s.status_code == StatusCode::NoSuchFile => {}
            Err(e) => return Err(self.sftp_error(op, to, e)),
        }
        self.sftp
            .rename(from, to)
            .await
            .map(|_| ())
            .map_err(|e| self.sftp_error(op, to, e))
    }

    fn sftp_error(&self, op: &'static str, path: &str, e: SftpError) -> Error {
        map_sftp_error(
            &self.addr,
            self.ssh.is_closed(),
            self.request_timeout,
            op,
            path,
            e,
        )
    }

    fn task_error(&self, op: &'static str, path: &str, e: &tokio::task::JoinError) -> Error {
        Error::Ssh {
            addr: self.addr.clone(),
            message: format!("{op} {path}: transfer task ended: {e}"),
            retryable: true,
        }
    }
}

fn map_sftp_error(
    addr: &str,
    connection_closed: bool,
    request_timeout: Duration,
    op: &'static str,
    path: &str,
    e: SftpError,
) -> Error {
    let lost = || Error::ConnectionLost {
        addr: addr.to_string(),
        op,
        path: path.to_string(),
    };
    match e {
        SftpError::Status(s) => match s.status_code {
            StatusCode::NoSuchFile => Error::NotFound {
                op,
                path: path.to_string(),
            },
            StatusCode::PermissionDenied => Error::PermissionDenied {
                op,
                path: path.to_string(),
                message: s.error_message,
            },
            StatusCode::NoConnection | StatusCode::ConnectionLost => lost(),
            code => Error::Remote {
                op,
                path: path.to_string(),
                code: format!("{code:?}"),
                message: s.error_message,
                retryable: !matches!(code, StatusCode::OpUnsupported | StatusCode::BadMessage),
            },
        },
        _ if connection_closed => lost(),
        SftpError::Timeout => Error::Timeout {
            addr: addr.to_string(),
            what: format!("{op} {path}"),
            after: request_timeout,
        },
        // russh-sftp's words for a stream that ended under a request, or before one was sent.
        SftpError::UnexpectedBehavior(m)
            if m.contains("sender dropped") || m.contains("session closed") =>
        {
            lost()
        }
        other => Error::Ssh {
            addr: addr.to_string(),
            message: format!("{op} {path}: {other}"),
            retryable: true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_can_be_shared_between_tasks() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<SftpSession>();
    }

    #[test]
    fn extension_arguments_are_ssh_strings() {
        assert_eq!(
            ssh_strings(&["ab", ""]),
            [0, 0, 0, 2, b'a', b'b', 0, 0, 0, 0]
        );
    }

    #[test]
    fn in_flight_requests_are_bounded() {
        assert_eq!(depth_for(MAX_CHUNK), 32);
        assert_eq!(depth_for(SAFE_CHUNK), 64);
        assert_eq!(depth_for(1), 64);
        assert_eq!(depth_for(64 << 20), 4);
    }

    #[test]
    fn server_answers_say_whether_to_retry() {
        let status = |code| {
            SftpError::Status(Status {
                id: 1,
                status_code: code,
                error_message: "m".into(),
                language_tag: "en".into(),
            })
        };
        let map = |closed, e| map_sftp_error("h:22", closed, Duration::from_secs(1), "op", "p", e);
        assert!(!map(false, status(StatusCode::PermissionDenied)).is_retryable());
        assert!(!map(false, status(StatusCode::NoSuchFile)).is_retryable());
        assert!(!map(false, status(StatusCode::OpUnsupported)).is_retryable());
        assert!(map(false, status(StatusCode::Failure)).is_retryable());
        assert!(map(false, SftpError::Timeout).is_retryable());
        let lost = map(true, SftpError::UnexpectedBehavior("x".into()));
        assert!(matches!(lost, Error::ConnectionLost { .. }) && lost.is_retryable());
        let dropped = map(
            false,
            SftpError::UnexpectedBehavior("sender dropped".into()),
        );
        assert!(matches!(dropped, Error::ConnectionLost { .. }));
    }
}
