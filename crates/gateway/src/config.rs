//! The daemon's configuration: typed, every key known, every default the embedded setup needs.
//!
//! With no file at all, [`Config::embedded`] gives the setup the README's run command starts:
//! sled and the spool under `./edigate-data/`, the example partners, one inbox directory per
//! partner, events as JSON Lines, acknowledgements in an outbound directory per partner.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Why a configuration file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has an unknown key or a bad value.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where sled, the spool, quarantine and the default directories live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The partner files.
    #[serde(default = "default_partners_dir")]
    pub partners_dir: PathBuf,
    /// The message specs (`specs/` of the repository).
    #[serde(default = "default_specs_dir")]
    pub specs_dir: PathBuf,
    /// Inbound channels; none means one inbox directory per partner, `DATA/inbox/PARTNER/`.
    #[serde(default)]
    pub inbound: Vec<InboundConfig>,
    /// Where events go; none means JSON Lines files in `DATA/events/`.
    #[serde(default)]
    pub sinks: Vec<SinkConfig>,
    /// The directory partners' outbound directories are relative to (default `DATA/outbound`).
    pub outbound_dir: Option<PathBuf>,
    /// Where the ERP drops events to send partners (default `DATA/outgoing`).
    pub outgoing_dir: Option<PathBuf>,
    /// The admin API.
    #[serde(default)]
    pub admin: AdminConfig,
    /// Size and pace limits.
    #[serde(default)]
    pub limits: Limits,
    /// Retries of deliveries.
    #[serde(default)]
    pub delivery: DeliveryConfig,
    /// How long finished work is kept.
    #[serde(default)]
    pub retention: RetentionConfig,
    /// Alert mails to the operators; none when absent.
    #[serde(default)]
    pub alerts: Option<crate::alerts::AlertsConfig>,
    /// Our own AS2 identity (`[as2]`): needed by AS2 channels and partners with an AS2 url.
    #[serde(default)]
    pub as2: Option<As2Config>,
    /// `[insights]`: the partner report's window and its early warnings.
    #[serde(default)]
    pub insights: crate::insights::InsightsConfig,
}

/// Our AS2 identity: our name, our keys with their certificates, and how MDNs are awaited.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct As2Config {
    /// Our AS2 name (`AS2-To` on what partners send, `AS2-From` on what we send), unless a
    /// partner's `[as2] us` names us otherwise.
    pub name: String,
    /// Our keys, each with its certificate: several during a rollover. The valid certificate
    /// ending last signs what we send; every key is tried to decrypt what we receive.
    pub keys: Vec<As2KeyConfig>,
    /// A file holding the keys' passphrase (its first line). Keys may also be unencrypted.
    pub passphrase_file: Option<PathBuf>,
    /// An environment variable holding the keys' passphrase, read at start.
    pub passphrase_env: Option<String>,
    /// Where partners POST asynchronous MDNs to us: the URL of an AS2 channel's `/mdn` path as
    /// partners reach it. Needed when a partner's `[as2] mdn = "async"`.
    pub async_mdn_url: Option<String>,
    /// How long an asynchronous MDN is awaited before the message is sent again, in seconds.
    #[serde(default = "default_mdn_timeout_s")]
    pub mdn_timeout_s: u64,
    /// How long one POST to a partner may take, connecting included, in milliseconds.
    #[serde(default = "default_as2_timeout_ms")]
    pub timeout_ms: u64,
}

// By hand: the passphrase's source may be shown, never a key.
impl std::fmt::Debug for As2Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("As2Config")
            .field("name", &self.name)
            .field("keys", &self.keys)
            .field("passphrase_file", &self.passphrase_file)
            .field("passphrase_env", &self.passphrase_env)
            .field("async_mdn_url", &self.async_mdn_url)
            .finish_non_exhaustive()
    }
}

/// One of our AS2 keys and its certificate (PEM files, as `edigate as2 keygen` writes them).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct As2KeyConfig {
    /// The private key (PEM, PKCS#8, encrypted or not).
    pub key: PathBuf,
    /// Its certificate (PEM).
    pub certificate: PathBuf,
}

/// A listener's TLS certificate and key (PEM files): an AS2 channel's, an email channel's for
/// STARTTLS.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The certificate chain, the server's own first.
    pub certificate: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1; unencrypted).
    pub key: PathBuf,
}

fn default_mdn_timeout_s() -> u64 {
    600
}
fn default_as2_timeout_ms() -> u64 {
    30_000
}
fn default_as2_max_body() -> u64 {
    64 * 1024 * 1024
}

/// How long finished messages, deliveries and their raw files are kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days a finished message (record, trace, raw file) and a delivered or dropped delivery
    /// are kept.
    #[serde(default = "default_keep_days")]
    pub keep_days: u32,
    /// How often the sweep runs, in minutes.
    #[serde(default = "default_sweep_minutes")]
    pub sweep_interval_minutes: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            keep_days: default_keep_days(),
            sweep_interval_minutes: default_sweep_minutes(),
        }
    }
}

fn default_keep_days() -> u32 {
    30
}
fn default_sweep_minutes() -> u64 {
    60
}

/// An inbound channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum InboundConfig {
    /// A local directory, polled.
    Directory {
        /// The channel's name in the trace.
        name: String,
        /// The directory.
        path: PathBuf,
        /// When set, only this partner may send through the channel.
        partner: Option<String>,
    },
    /// A directory on a partner's SFTP server, polled.
    Sftp {
        /// The channel's name in the trace.
        name: String,
        /// When set, only this partner may send through the channel.
        partner: Option<String>,
        /// The server, the account, the pinned host key and the directories.
        server: Box<sftp::SftpConfig>,
    },
    /// An HTTP listener taking AS2 messages from the partners whose files have an `[as2]`
    /// table, and asynchronous MDNs (path `/mdn`) for what we sent.
    As2 {
        /// The channel's name in the trace.
        name: String,
        /// Address to listen on.
        listen: SocketAddr,
        /// TLS; without it the listener speaks plain HTTP, which needs `plain_http = true`.
        tls: Option<TlsFiles>,
        /// Plain HTTP, for a listener behind a TLS-terminating proxy or on a private link.
        #[serde(default)]
        plain_http: bool,
        /// The largest message body taken, in bytes (a partner's `[as2] max_body_bytes` may
        /// lower or raise it for that partner).
        #[serde(default = "default_as2_max_body")]
        max_body_bytes: u64,
    },
    /// An SMTP endpoint partners mail their documents to (see [`crate::smtp_in`]).
    Email(Box<EmailInboundConfig>),
}

/// An inbound email channel: where it listens, which recipients it takes mail for, and how
/// large a mail may be.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailInboundConfig {
    /// The channel's name in the trace.
    pub name: String,
    /// When set, only this partner may send through the channel.
    pub partner: Option<String>,
    /// The address and port to listen on.
    pub listen: SocketAddr,
    /// The recipient addresses mail is taken for (`edi@us.example`); any other is refused with
    /// 550.
    #[serde(deserialize_with = "one_or_many")]
    pub recipients: Vec<String>,
    /// Mails larger than this are refused with 552.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: u64,
    /// The name the server greets with; the machine's host name is not guessed.
    #[serde(default = "default_smtp_hostname")]
    pub hostname: String,
    /// STARTTLS with this certificate and key; none: plain SMTP only.
    pub tls: Option<TlsFiles>,
    /// Refuse mail until the client has said STARTTLS (needs `tls`).
    #[serde(default)]
    pub require_tls: bool,
}

impl InboundConfig {
    /// The channel's name.
    pub fn name(&self) -> &str {
        match self {
            InboundConfig::Directory { name, .. }
            | InboundConfig::Sftp { name, .. }
            | InboundConfig::As2 { name, .. } => name,
            InboundConfig::Email(mail) => &mail.name,
        }
    }
}

/// An event sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SinkConfig {
    /// JSON Lines files, one per UTC day: `PATH/events-YYYY-MM-DD.jsonl`.
    Jsonl {
        /// The sink's name (destination `sink:NAME` in the outbox).
        name: String,
        /// The directory.
        path: PathBuf,
    },
    /// One JSON line per event on standard output.
    Stdout {
        /// The sink's name.
        name: String,
    },
    /// One HTTP POST per event, signed when a secret is set: see [`crate::webhook`].
    Webhook {
        /// The sink's name.
        name: String,
        /// Where events are posted (`http` or `https`); checked when the gateway opens.
        url: String,
        /// The environment variable holding the HMAC-SHA256 secret, read when the gateway opens;
        /// without it, requests are not signed. The secret itself never goes in this file.
        secret_env: Option<String>,
        /// How long one request may take, connecting included, in milliseconds.
        #[serde(default = "default_webhook_timeout_ms")]
        timeout_ms: u64,
        /// Extra headers sent with every request (an `Authorization` for the receiver, say).
        #[serde(default)]
        headers: BTreeMap<String, String>,
    },
}

impl SinkConfig {
    /// The sink's name.
    pub fn name(&self) -> &str {
        match self {
            SinkConfig::Jsonl { name, .. }
            | SinkConfig::Stdout { name }
            | SinkConfig::Webhook { name, .. } => name,
        }
    }
}

/// The admin API ([`crate::admin`]).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Address to listen on (loopback by default: anyone who can reach it and holds the token
    /// can retry and drop deliveries).
    #[serde(default = "default_admin_listen")]
    pub listen: SocketAddr,
    /// The bearer token, written here. Prefer `token_env`, which keeps it out of the file.
    pub token: Option<String>,
    /// The environment variable holding the bearer token, read when the gateway starts.
    /// With neither this nor `token`, a random token is made at every start and written to
    /// `DATA/admin.token`, readable by the daemon's user only.
    pub token_env: Option<String>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: default_admin_listen(),
            token: None,
            token_env: None,
        }
    }
}

// By hand, so the token never reaches a log line through `{:?}`.
impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_env", &self.token_env)
            .finish()
    }
}

/// Size and pace limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Files larger than this are quarantined unread.
    #[serde(default = "default_max_file_bytes")]
    pub max_file_bytes: u64,
    /// How often inbox directories are looked at, in milliseconds.
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: default_max_file_bytes(),
            poll_interval_ms: default_poll_ms(),
        }
    }
}

impl Limits {
    /// The poll interval.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms.max(10))
    }
}

/// Retries of deliveries.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Attempts before a delivery is dead-lettered.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The first retry's delay, in milliseconds; each next one doubles, with jitter.
    #[serde(default = "default_base_delay_ms")]
    pub base_delay_ms: u64,
    /// The longest delay between two attempts, in milliseconds.
    #[serde(default = "default_max_delay_ms")]
    pub max_delay_ms: u64,
    /// Age after which a failing delivery is dead-lettered whatever its attempts, in hours.
    #[serde(default = "default_max_age_hours")]
    pub max_age_hours: u64,
    /// Deliveries in flight at once to one destination.
    #[serde(default = "default_concurrency")]
    pub concurrency_per_destination: usize,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            max_attempts: default_max_attempts(),
            base_delay_ms: default_base_delay_ms(),
            max_delay_ms: default_max_delay_ms(),
            max_age_hours: default_max_age_hours(),
            concurrency_per_destination: default_concurrency(),
        }
    }
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("edigate-data")
}
fn default_partners_dir() -> PathBuf {
    PathBuf::from("deploy/examples/partners")
}
fn default_specs_dir() -> PathBuf {
    PathBuf::from("specs")
}
fn default_admin_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7410))
}
fn default_max_file_bytes() -> u64 {
    64 * 1024 * 1024
}
fn default_poll_ms() -> u64 {
    200
}
fn default_max_attempts() -> u32 {
    12
}
fn default_base_delay_ms() -> u64 {
    1_000
}
fn default_max_delay_ms() -> u64 {
    10 * 60 * 1_000
}
fn default_max_age_hours() -> u64 {
    72
}
fn default_concurrency() -> usize {
    4
}
fn default_webhook_timeout_ms() -> u64 {
    10_000
}
fn default_max_message_bytes() -> u64 {
    25 * 1024 * 1024
}
fn default_smtp_hostname() -> String {
    "edigate".into()
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

impl Config {
    /// The embedded default: everything under `./edigate-data/`, the example partners.
    pub fn embedded() -> Config {
        Config::from_toml(Path::new("<embedded>"), "").unwrap_or_else(|_| unreachable_default())
    }

    /// Reads a configuration file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_toml(path, &text)
    }

    /// Reads configuration text; `path` names it in errors.
    pub fn from_toml(path: &Path, text: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((0, 0), |s| line_col(text, s.start));
            ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })
    }

    /// Where acknowledgements and documents for partners are written.
    pub fn outbound_dir(&self) -> PathBuf {
        self.outbound_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("outbound"))
    }

    /// Where the ERP drops events to send partners.
    pub fn outgoing_dir(&self) -> PathBuf {
        self.outgoing_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("outgoing"))
    }

    /// The sinks, or the default JSON Lines sink.
    pub fn sinks(&self) -> Vec<SinkConfig> {
        if self.sinks.is_empty() {
            vec![SinkConfig::Jsonl {
                name: "events".into(),
                path: self.data_dir.join("events"),
            }]
        } else {
            self.sinks.clone()
        }
    }

    /// The inbound channels, or one inbox per partner.
    pub fn inbound(&self, partners: &partner::Partners) -> Vec<InboundConfig> {
        // AS2 listeners alone do not replace the default inboxes.
        if self
            .inbound
            .iter()
            .all(|c| matches!(c, InboundConfig::As2 { .. }))
        {
            let mut all: Vec<InboundConfig> = partners
                .all()
                .iter()
                .map(|p| InboundConfig::Directory {
                    name: format!("inbox-{}", p.id),
                    path: self.data_dir.join("inbox").join(&p.id),
                    partner: Some(p.id.clone()),
                })
                .collect();
            all.extend(self.inbound.iter().cloned());
            return all;
        }
        if self.inbound.is_empty() {
            partners
                .all()
                .iter()
                .map(|p| InboundConfig::Directory {
                    name: format!("inbox-{}", p.id),
                    path: self.data_dir.join("inbox").join(&p.id),
                    partner: Some(p.id.clone()),
                })
                .collect()
        } else {
            self.inbound.clone()
        }
    }
}

/// The empty document always deserialises (every field has a default); this is only here so
/// `embedded` needs no `unwrap`.
fn unreachable_default() -> Config {
    Config {
        data_dir: default_data_dir(),
        partners_dir: default_partners_dir(),
        specs_dir: default_specs_dir(),
        inbound: Vec::new(),
        sinks: Vec::new(),
        outbound_dir: None,
        outgoing_dir: None,
        admin: AdminConfig::default(),
        limits: Limits::default(),
        delivery: DeliveryConfig::default(),
        retention: RetentionConfig::default(),
        alerts: None,
        as2: None,
        insights: crate::insights::InsightsConfig::default(),
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.chars().count(), |p| before[p + 1..].chars().count())
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_file_is_the_embedded_default() {
        let c = Config::embedded();
        assert_eq!(c.data_dir, PathBuf::from("edigate-data"));
        assert_eq!(c.outbound_dir(), PathBuf::from("edigate-data/outbound"));
        assert!(matches!(&c.sinks()[..], [SinkConfig::Jsonl { .. }]));
    }

    #[test]
    fn unknown_keys_are_refused_with_their_position() {
        let text = "data_dir = \"d\"\n[limits]\nmax_file_byte = 5\n";
        let e = Config::from_toml(Path::new("c.toml"), text).expect_err("refused");
        let msg = e.to_string();
        assert!(
            msg.starts_with("c.toml:3:1: unknown field `max_file_byte`"),
            "{msg}"
        );
    }

    #[test]
    fn channels_and_sinks_are_typed() {
        let text = r#"
[[inbound]]
type = "directory"
name = "acme"
path = "/srv/edi/acme"
partner = "acme-retail"

[[sinks]]
type = "stdout"
name = "out"
"#;
        let c = Config::from_toml(Path::new("c.toml"), text).expect("valid");
        assert_eq!(c.inbound[0].name(), "acme");
        assert_eq!(c.sinks()[0].name(), "out");
        let bad = text.replace("type = \"stdout\"", "type = \"stdot\"");
        let e = Config::from_toml(Path::new("c.toml"), &bad).expect_err("refused");
        assert!(e.to_string().contains("c.toml:9:"), "{e}");
    }

    #[test]
    fn an_email_channel_has_defaults_and_refuses_unknown_keys() {
        let text = r#"
[[inbound]]
type = "email"
name = "mail"
listen = "127.0.0.1:2525"
recipients = "edi@us.example"
[inbound.tls]
certificate = "/etc/edigate/smtp.pem"
key = "/etc/edigate/smtp.key"
"#;
        let c = Config::from_toml(Path::new("c.toml"), text).expect("valid");
        let InboundConfig::Email(mail) = &c.inbound[0] else {
            panic!("not email: {:?}", c.inbound);
        };
        assert_eq!(c.inbound[0].name(), "mail");
        assert_eq!(mail.recipients, ["edi@us.example"]);
        assert_eq!(mail.max_message_bytes, 25 * 1024 * 1024);
        assert!(mail.tls.is_some() && !mail.require_tls);
        let bad = text.replace("\nkey =", "\nkeyfile =");
        let e = Config::from_toml(Path::new("c.toml"), &bad).expect_err("refused");
        // Within a tagged channel table the position is the table's; the message names the key.
        assert!(e.to_string().contains("unknown field `keyfile`"), "{e}");
    }

    #[test]
    fn the_admin_api_is_loopback_only_unless_configured() {
        let c = Config::embedded();
        assert!(c.admin.listen.ip().is_loopback());
        assert_eq!(c.admin.listen.port(), 7410);
        assert_eq!((c.admin.token, c.admin.token_env), (None, None));
        let text = "[admin]\nlisten = \"0.0.0.0:9000\"\ntoken_env = \"EDIGATE_ADMIN_TOKEN\"\n";
        let c = Config::from_toml(Path::new("c.toml"), text).expect("valid");
        assert_eq!(c.admin.listen.port(), 9000);
        assert_eq!(c.admin.token_env.as_deref(), Some("EDIGATE_ADMIN_TOKEN"));
        let c = Config::from_toml(Path::new("c.toml"), "[admin]\ntoken = \"t0ps3cret\"\n")
            .expect("valid");
        assert!(
            !format!("{c:?}").contains("t0ps3cret"),
            "the token is never logged"
        );
    }

    #[test]
    fn webhook_sinks_have_defaults_and_refuse_unknown_keys() {
        let text = r#"
[[sinks]]
type = "webhook"
name = "erp"
url = "https://erp.example/edi"
secret_env = "ERP_WEBHOOK_SECRET"

[sinks.headers]
Authorization = "Bearer t"
"#;
        let c = Config::from_toml(Path::new("c.toml"), text).expect("valid");
        let SinkConfig::Webhook {
            name,
            secret_env,
            timeout_ms,
            headers,
            ..
        } = &c.sinks()[0]
        else {
            panic!("not a webhook: {:?}", c.sinks());
        };
        assert_eq!(name, "erp");
        assert_eq!(secret_env.as_deref(), Some("ERP_WEBHOOK_SECRET"));
        assert_eq!(*timeout_ms, 10_000);
        assert_eq!(
            headers.get("Authorization").map(String::as_str),
            Some("Bearer t")
        );
        let bad = text.replace("secret_env", "secret");
        let e = Config::from_toml(Path::new("c.toml"), &bad).expect_err("refused");
        assert!(e.to_string().contains("unknown field `secret`"), "{e}");
    }
}
