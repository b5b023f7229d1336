//! What one partner's SFTP server looks like to us: where it is, how we prove who we are, which
//! host key we trust, and which remote directories we read and write.
//!
//! The configuration holds no secret itself: passwords and key passphrases are named by an
//! environment variable or a file and read only while connecting, so `Debug` and logs of a
//! configuration are safe to print.

use std::path::{Path, PathBuf};
use std::time::Duration;

use russh::keys::{HashAlg, PublicKey};
use serde::Deserialize;

use crate::error::Error;
use crate::names::Pattern;

/// One partner's SFTP server (a table in the partner's TOML, say).
///
/// ```toml
/// host = "sftp.partner.example"
/// port = 22
/// user = "acme"
/// host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA..."   # or "SHA256:...", or a list of either
/// inbox_dir = "out/to-acme"        # the partner's files for us: downloaded, then deleted or archived
/// outbox_dir = "in/from-acme"      # our files for the partner: uploaded under a temporary name
/// archive_dir = "out/archive"      # optional: move downloaded files here instead of deleting them
/// ignore = ["*.tmp", "*.part"]     # optional: names the partner is still writing
/// stable_interval_ms = 2000        # optional: a file must keep its size this long to be taken
/// max_concurrent_uploads = 2       # optional: uploads at once to this server (as a destination)
///
/// [auth]
/// type = "key"
/// private_key = "/etc/edigate/keys/acme"
/// passphrase_env = "ACME_KEY_PASSPHRASE"   # optional; or passphrase_file
///
/// [timeouts]                        # optional
/// connect_ms = 15000
/// request_ms = 30000
/// keepalive_ms = 15000
/// ```
///
/// Remote directories are relative to the directory the server starts the session in (usually
/// the account's home), or absolute.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SftpConfig {
    /// Host name or address of the server.
    pub host: String,
    /// TCP port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// The account we log in as.
    pub user: String,
    /// How we authenticate.
    pub auth: AuthConfig,
    /// The host keys we trust, each an OpenSSH public key (`ssh-ed25519 AAAA… [comment]`, with or
    /// without a leading known_hosts host field) or a SHA-256 fingerprint (`SHA256:…`, as
    /// `ssh-keygen -lf` prints it). More than one lets a partner roll its key over without a
    /// window in which we refuse it.
    #[serde(deserialize_with = "one_or_many")]
    pub host_key: Vec<String>,
    /// The remote directory the partner puts files for us in.
    pub inbox_dir: String,
    /// The remote directory we put files for the partner in.
    pub outbox_dir: String,
    /// When set, downloaded files are moved here instead of being deleted.
    #[serde(default)]
    pub archive_dir: Option<String>,
    /// Names in the inbox to leave alone (`*` and `?` wildcards), replacing the default
    /// `*.tmp`, `*.part`, `*.filepart`, `*.partial`. Names starting with a dot are always left
    /// alone: they are how uploads in progress are named, ours included.
    #[serde(default = "default_ignore")]
    pub ignore: Vec<String>,
    /// How long a file must keep its size and modification time to be taken, in milliseconds:
    /// the interval between the two listings of [`crate::SftpSession::list_ready`].
    #[serde(default = "default_stable_interval_ms")]
    pub stable_interval_ms: u64,
    /// The most documents uploaded to this server at once when it is a partner's destination
    /// (`[outbound.sftp]`); they share one connection. Partners' servers are often small and
    /// count open files per account, so the default is 2; the gateway's
    /// `delivery.concurrency_per_destination` caps it too. Inbound channels do not upload.
    #[serde(default = "default_max_concurrent_uploads")]
    pub max_concurrent_uploads: usize,
    /// Time limits.
    #[serde(default)]
    pub timeouts: Timeouts,
}

/// How we authenticate. The secret is read from the environment or a file at each connection,
/// never stored in the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthConfig {
    /// A private key file in OpenSSH format (Ed25519, ECDSA or RSA).
    Key {
        /// The private key file.
        private_key: PathBuf,
        /// The environment variable holding the key's passphrase, when it has one.
        #[serde(default)]
        passphrase_env: Option<String>,
        /// A file holding the key's passphrase (one line), when it has one.
        #[serde(default)]
        passphrase_file: Option<PathBuf>,
    },
    /// A password, sent by the `password` method when the server offers it, else by
    /// `keyboard-interactive` as the answer to the server's hidden prompt (servers that check
    /// passwords through PAM ask that way). Never by both: a wrong password counts once against
    /// the server's lockout limits.
    ///
    /// ```toml
    /// [auth]
    /// type = "password"
    /// password_file = "/etc/edigate/secrets/acme-sftp"   # first line; or password_env = "VAR"
    /// ```
    Password {
        /// The environment variable holding the password.
        #[serde(default)]
        password_env: Option<String>,
        /// A file holding the password (one line).
        #[serde(default)]
        password_file: Option<PathBuf>,
    },
}

/// Time limits, in milliseconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    /// Connecting: TCP, key exchange, authentication and opening the SFTP subsystem together.
    #[serde(default = "default_connect_ms")]
    pub connect_ms: u64,
    /// One SFTP request. The SFTP layer counts in whole seconds, so this is rounded up to one.
    #[serde(default = "default_request_ms")]
    pub request_ms: u64,
    /// Silence after which a keepalive is sent; three unanswered ones close the connection, so
    /// a server that vanished without a TCP reset is noticed.
    #[serde(default = "default_keepalive_ms")]
    pub keepalive_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect_ms: default_connect_ms(),
            request_ms: default_request_ms(),
            keepalive_ms: default_keepalive_ms(),
        }
    }
}

fn default_port() -> u16 {
    22
}
fn default_ignore() -> Vec<String> {
    ["*.tmp", "*.part", "*.filepart", "*.partial"]
        .map(String::from)
        .to_vec()
}
fn default_stable_interval_ms() -> u64 {
    2_000
}
fn default_max_concurrent_uploads() -> usize {
    2
}
fn default_connect_ms() -> u64 {
    15_000
}
fn default_request_ms() -> u64 {
    30_000
}
fn default_keepalive_ms() -> u64 {
    15_000
}

fn one_or_many<'de, D>(de: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(de)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// One trusted host key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyPin {
    /// The whole public key.
    Key(PublicKey),
    /// Its SHA-256 fingerprint, `SHA256:` and unpadded base64.
    Fingerprint(String),
}

impl HostKeyPin {
    /// Reads a pin: `SHA256:…`, an OpenSSH public key line, or a known_hosts line (whose host
    /// field is ignored: the pin belongs to the partner's configuration, not to a host name).
    pub fn parse(text: &str) -> Result<HostKeyPin, Error> {
        let text = text.trim();
        if let Some(b64) = text.strip_prefix("SHA256:") {
            let b64 = b64.trim_end_matches('=');
            // 32 bytes of SHA-256 are 43 base64 characters without padding.
            let ok = b64.len() == 43
                && b64
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
            if !ok {
                return Err(Error::Config(format!(
                    "host key fingerprint {text:?} is not SHA256: followed by 43 base64 characters"
                )));
            }
            return Ok(HostKeyPin::Fingerprint(format!("SHA256:{b64}")));
        }
        if let Ok(key) = PublicKey::from_openssh(text) {
            return Ok(HostKeyPin::Key(key));
        }
        if text.starts_with('@') {
            // `@revoked` would invert the meaning, `@cert-authority` change it: neither is a pin.
            return Err(Error::Config(format!(
                "host key {:?}: known_hosts markers (@revoked, @cert-authority) are not pins",
                shorten(text)
            )));
        }
        // A known_hosts line: host patterns before the key.
        let mut words = text.split_whitespace();
        while let Some(word) = words.next() {
            if word.starts_with("ssh-") || word.starts_with("ecdsa-") || word.starts_with("sk-") {
                let rest: Vec<&str> = std::iter::once(word).chain(words).collect();
                if let Ok(key) = PublicKey::from_openssh(&rest.join(" ")) {
                    return Ok(HostKeyPin::Key(key));
                }
                break;
            }
        }
        Err(Error::Config(format!(
            "host key {:?} is neither an OpenSSH public key (\"ssh-ed25519 AAAA…\") nor a \
             fingerprint (\"SHA256:…\")",
            shorten(text)
        )))
    }

    /// The pin's SHA-256 fingerprint, as `ssh-keygen -lf` prints it.
    pub fn fingerprint(&self) -> String {
        match self {
            HostKeyPin::Key(key) => fingerprint(key),
            HostKeyPin::Fingerprint(f) => f.clone(),
        }
    }

    /// Whether `key` is the pinned one.
    pub fn matches(&self, key: &PublicKey) -> bool {
        match self {
            HostKeyPin::Key(pinned) => pinned.key_data() == key.key_data(),
            HostKeyPin::Fingerprint(f) => *f == fingerprint(key),
        }
    }
}

/// The SHA-256 fingerprint of `key`, `SHA256:` and unpadded base64.
pub(crate) fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// A configuration checked once: pins parsed, patterns compiled, durations resolved.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    pub pins: Vec<HostKeyPin>,
    pub ignore: Vec<Pattern>,
    pub stable_interval: Duration,
    pub connect_timeout: Duration,
    pub request_timeout_secs: u64,
    pub keepalive: Duration,
}

impl SftpConfig {
    /// Checks everything that can be checked without connecting: the host key pins, the
    /// directories, the ignore patterns, the authentication settings (not the secrets, which
    /// are read when connecting). Worth calling when the configuration is loaded, so a mistake is
    /// reported then rather than at the first poll.
    pub fn check(&self) -> Result<(), Error> {
        self.checked().map(|_| ())
    }

    pub(crate) fn checked(&self) -> Result<Checked, Error> {
        if self.host.trim().is_empty() {
            return Err(Error::Config("host is empty".into()));
        }
        if self.user.is_empty() {
            return Err(Error::Config("user is empty".into()));
        }
        if self.host_key.is_empty() {
            return Err(Error::Config(
                "host_key is empty: at least one trusted host key is required".into(),
            ));
        }
        let pins = self
            .host_key
            .iter()
            .map(|p| HostKeyPin::parse(p))
            .collect::<Result<Vec<_>, _>>()?;
        for (what, dir) in [
            ("inbox_dir", &self.inbox_dir),
            ("outbox_dir", &self.outbox_dir),
        ]
        .into_iter()
        .chain(self.archive_dir.as_ref().map(|d| ("archive_dir", d)))
        {
            check_dir(what, dir)?;
        }
        if let Some(archive) = &self.archive_dir
            && trim_dir(archive) == trim_dir(&self.inbox_dir)
        {
            return Err(Error::Config(
                "archive_dir is inbox_dir: archived files would be downloaded again".into(),
            ));
        }
        let ignore = self
            .ignore
            .iter()
            .map(|p| Pattern::new(p))
            .collect::<Result<Vec<_>, _>>()?;
        match &self.auth {
            AuthConfig::Key {
                passphrase_env: Some(_),
                passphrase_file: Some(_),
                ..
            } => {
                return Err(Error::Config(
                    "auth: give passphrase_env or passphrase_file, not both".into(),
                ));
            }
            AuthConfig::Password {
                password_env,
                password_file,
            } if password_env.is_some() == password_file.is_some() => {
                return Err(Error::Config(
                    "auth: give exactly one of password_env and password_file".into(),
                ));
            }
            _ => {}
        }
        if self.max_concurrent_uploads == 0 {
            return Err(Error::Config(
                "max_concurrent_uploads is 0: nothing could ever be uploaded".into(),
            ));
        }
        let t = &self.timeouts;
        if t.connect_ms == 0 || t.request_ms == 0 || t.keepalive_ms == 0 {
            return Err(Error::Config("timeouts must be more than 0 ms".into()));
        }
        Ok(Checked {
            pins,
            ignore,
            stable_interval: Duration::from_millis(self.stable_interval_ms),
            connect_timeout: Duration::from_millis(t.connect_ms),
            request_timeout_secs: t.request_ms.div_ceil(1000),
            keepalive: Duration::from_millis(t.keepalive_ms),
        })
    }
}

fn check_dir(what: &str, dir: &str) -> Result<(), Error> {
    if dir.is_empty() {
        return Err(Error::Config(format!("{what} is empty")));
    }
    if dir.chars().any(|c| c.is_control() || c == '\\') {
        return Err(Error::Config(format!(
            "{what} {dir:?} holds a control character or a backslash"
        )));
    }
    if dir.split('/').any(|part| part == "..") {
        return Err(Error::Config(format!(
            "{what} {dir:?} climbs with \"..\": name the directory directly"
        )));
    }
    Ok(())
}

fn trim_dir(dir: &str) -> &str {
    let t = dir.trim_end_matches('/');
    if t.is_empty() { "/" } else { t }
}

/// `dir/name` for the server; `name` has been checked to be a plain file name.
pub(crate) fn remote_path(dir: &str, name: &str) -> String {
    let dir = trim_dir(dir);
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// A secret's text from a file: its first line, without the line ending.
pub(crate) fn read_secret_file(path: &Path) -> Result<String, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("cannot read secret file {}: {e}", path.display())))?;
    Ok(text.lines().next().unwrap_or_default().to_string())
}

/// A secret from an environment variable.
pub(crate) fn read_secret_env(var: &str) -> Result<String, Error> {
    std::env::var(var).map_err(|_| {
        Error::Config(format!(
            "environment variable {var} is not set (or not UTF-8)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ test";

    fn config(extra: &str) -> Result<SftpConfig, toml::de::Error> {
        toml::from_str(&format!(
            "host = \"h\"\nuser = \"u\"\nhost_key = \"{KEY}\"\ninbox_dir = \"in\"\n\
             outbox_dir = \"out\"\n{extra}\n[auth]\ntype = \"key\"\nprivate_key = \"/k\"\n"
        ))
    }

    #[test]
    fn pins_parse_in_every_accepted_form() {
        let key = HostKeyPin::parse(KEY).expect("key line");
        let fp = key.fingerprint();
        assert!(fp.starts_with("SHA256:") && fp.len() == 7 + 43, "{fp}");
        assert_eq!(
            HostKeyPin::parse(&fp).expect("fingerprint").fingerprint(),
            fp
        );
        let known_hosts = format!("[sftp.example]:2222,10.0.0.1 {KEY}");
        assert_eq!(HostKeyPin::parse(&known_hosts).expect("known_hosts"), key);
        let revoked = format!("@revoked * {KEY}");
        for bad in [
            "",
            "SHA256:short",
            "ssh-ed25519 notbase64",
            "MD5:aa:bb",
            &revoked,
        ] {
            assert!(
                matches!(HostKeyPin::parse(bad), Err(Error::Config(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn config_reads_with_defaults_and_refuses_unknown_fields() {
        let c = config("").expect("parse");
        assert_eq!(c.port, 22);
        assert_eq!(c.host_key.len(), 1);
        assert_eq!(c.ignore.len(), 4);
        let checked = c.checked().expect("check");
        assert_eq!(checked.request_timeout_secs, 30);
        assert!(config("colour = \"blue\"").is_err());
        let many = format!("host_key = [\"{KEY}\", \"SHA256:{}\"]", "A".repeat(43));
        let two: SftpConfig = toml::from_str(&format!(
            "host = \"h\"\nuser = \"u\"\n{many}\ninbox_dir = \"in\"\noutbox_dir = \"out\"\n\
             [auth]\ntype = \"password\"\npassword_env = \"P\"\n"
        ))
        .expect("list of pins");
        assert_eq!(two.checked().expect("check").pins.len(), 2);
    }

    #[test]
    fn check_refuses_what_cannot_work() {
        let archive_is_inbox = config("archive_dir = \"in/\"").expect("parse");
        assert!(archive_is_inbox.check().is_err());
        let climbing = config("archive_dir = \"../x\"").expect("parse");
        assert!(climbing.check().is_err());
        let bad_pattern = config("ignore = [\"a/*\"]").expect("parse");
        assert!(bad_pattern.check().is_err());
        let zero = config("[timeouts]\nrequest_ms = 0").expect("parse");
        assert!(zero.check().is_err());
        let no_uploads = config("max_concurrent_uploads = 0").expect("parse");
        assert!(no_uploads.check().is_err());
        assert_eq!(config("").expect("parse").max_concurrent_uploads, 2);
    }

    #[test]
    fn remote_paths_join_plainly() {
        assert_eq!(remote_path("in", "a.x12"), "in/a.x12");
        assert_eq!(remote_path("in/", "a.x12"), "in/a.x12");
        assert_eq!(remote_path("/", "a.x12"), "/a.x12");
        assert_eq!(remote_path("/srv/in", "a.x12"), "/srv/in/a.x12");
    }
}
