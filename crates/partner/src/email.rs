//! A partner that takes its documents as email attachments (`[outbound.email]`): who the mail is
//! from and to, the SMTP server that carries it, and the subject line.
//!
//! The configuration holds no secret itself: the SMTP password is named by an environment
//! variable or a file and read only when a mail is sent, so `Debug` and logs of a configuration
//! are safe to print.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

/// The subject when a partner file does not set one.
pub const DEFAULT_SUBJECT: &str = "EDI {type} {control} ({file_name})";

/// The variables a subject template may use: those of the file name template
/// ([`crate::FILE_NAME_VARIABLES`]) and the attachment's file name.
pub const SUBJECT_VARIABLES: &[&str] = &[
    "partner",
    "type",
    "kind",
    "control",
    "timestamp",
    "ext",
    "file_name",
];

/// One partner's mailbox and the SMTP server that reaches it.
///
/// ```toml
/// [outbound.email]
/// to = ["edi@partner.example"]          # or one address as a string
/// from = "edi@us.example"
/// subject = "EDI {type} {control}"      # optional; see SUBJECT_VARIABLES
/// host = "smtp.us.example"
/// port = 587                            # optional: 25 (none), 587 (starttls), 465 (tls)
/// tls = "starttls"                      # none | starttls | tls
/// user = "edigate"                      # optional, with one of:
/// password_env = "SMTP_PASSWORD"        #   the environment variable holding the password
/// password_file = "/etc/edigate/smtp"   #   or a file holding it (first line)
/// ca_file = "/etc/edigate/relay-ca.pem" # optional: a CA the relay's certificate chains to
/// timeout_ms = 30000                    # optional
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// The partner's addresses.
    #[serde(deserialize_with = "one_or_many")]
    pub to: Vec<String>,
    /// Our address, the mail's `From`.
    pub from: String,
    /// The subject, as a template ([`SUBJECT_VARIABLES`] in braces).
    #[serde(default = "default_subject")]
    pub subject: String,
    /// The SMTP server's host name or address.
    pub host: String,
    /// The SMTP server's port; `None` takes the usual one for the TLS mode.
    #[serde(default)]
    pub port: Option<u16>,
    /// How the connection is protected.
    #[serde(default)]
    pub tls: TlsMode,
    /// The account to log in as, when the server wants a login.
    #[serde(default)]
    pub user: Option<String>,
    /// The environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// A file holding the password (its first line).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// A PEM file of CA certificates trusted besides the public roots (a company relay with a
    /// private CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// How long connecting and each SMTP command may take, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Plain SMTP: only for a relay on the same host or a trusted network.
    None,
    /// Plain SMTP upgraded with `STARTTLS`, which the server must offer (submission, port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (implicit TLS, port 465).
    Tls,
}

impl EmailConfig {
    /// The port to connect to: the configured one, or the usual one for the TLS mode.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            TlsMode::None => 25,
            TlsMode::Starttls => 587,
            TlsMode::Tls => 465,
        })
    }

    /// Checks what can be checked without sending: addresses, the subject template, and that
    /// credentials are complete and would not cross a network in clear.
    pub fn check(&self) -> Result<(), String> {
        if self.to.is_empty() {
            return Err("to names no address".into());
        }
        for a in self.to.iter().chain([&self.from]) {
            check_address(a)?;
        }
        if self.host.trim().is_empty() {
            return Err("host is empty".into());
        }
        render_subject(&self.subject, &[])?;
        match (&self.user, &self.password_env, &self.password_file) {
            (None, None, None) => {}
            (Some(_), Some(_), None) | (Some(_), None, Some(_)) => {
                // A password crossing a network in clear is readable by anyone on the way.
                if self.tls == TlsMode::None && !is_loopback(&self.host) {
                    return Err(format!(
                        "a password would be sent to {} without TLS; set tls = \"starttls\" or \"tls\"",
                        self.host
                    ));
                }
            }
            (Some(_), None, None) => {
                return Err("user is set but neither password_env nor password_file".into());
            }
            (Some(_), Some(_), Some(_)) => {
                return Err("set one of password_env and password_file, not both".into());
            }
            (None, _, _) => return Err("a password is set but no user".into()),
        }
        Ok(())
    }
}

/// Fills a subject template; `values` pairs [`SUBJECT_VARIABLES`] names with their values (a
/// name without a value renders empty, which is how [`EmailConfig::check`] tries a template).
/// An unknown variable or a `{` never closed is an error; `{{` and `}}` are literal braces.
pub fn render_subject(template: &str, values: &[(&str, &str)]) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{{") {
            out.push('{');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            out.push('}');
            rest = after;
        } else if let Some(after) = tail.strip_prefix('{') {
            let Some(end) = after.find('}') else {
                return Err(format!(
                    "the subject {template:?} has a \"{{\" never closed"
                ));
            };
            let name = &after[..end];
            if !SUBJECT_VARIABLES.contains(&name) {
                return Err(format!(
                    "unknown variable {{{name}}} in the subject (known: {})",
                    SUBJECT_VARIABLES.join(", ")
                ));
            }
            let value = values
                .iter()
                .find(|(n, _)| *n == name)
                .map_or("", |(_, v)| *v);
            out.push_str(value);
            rest = &after[end + 1..];
        } else {
            // A lone '}' is kept as written.
            out.push('}');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    // A line break would end the header early and start another one.
    Ok(out.replace(['\r', '\n'], " "))
}

/// A plain address (`local@domain`), without a display name or anything a header could be
/// split with; the gateway's mail library checks it fully when the gateway starts.
pub(crate) fn check_address(a: &str) -> Result<(), String> {
    let ok = a.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !domain.contains('@')
    }) && !a
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{a:?} is not an email address (write local@domain)"
        ))
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn default_subject() -> String {
    DEFAULT_SUBJECT.to_string()
}

fn default_timeout_ms() -> u64 {
    30_000
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_fill_known_variables_and_refuse_unknown_ones() {
        let s = render_subject(
            "EDI {type} {control} {{x}} ({file_name})",
            &[
                ("type", "999"),
                ("control", "000000042"),
                ("file_name", "a.x12"),
            ],
        );
        assert_eq!(s.as_deref(), Ok("EDI 999 000000042 {x} (a.x12)"));
        assert!(render_subject("{nope}", &[]).is_err());
        assert!(render_subject("EDI {type", &[]).is_err());
        assert_eq!(
            render_subject("{partner}", &[("partner", "a\r\nBcc: x@y")]).as_deref(),
            Ok("a  Bcc: x@y")
        );
    }

    fn config(extra: &str) -> Result<EmailConfig, String> {
        let text = format!("to = \"edi@partner.example\"\nfrom = \"edi@us.example\"\n{extra}");
        let c: EmailConfig = toml::from_str(&text).map_err(|e| e.to_string())?;
        c.check().map(|()| c)
    }

    #[test]
    fn credentials_are_complete_and_never_cross_a_network_in_clear() {
        let c = config("host = \"smtp.example\"\n").expect("plain");
        assert_eq!((c.tls, c.port()), (TlsMode::Starttls, 587));
        assert_eq!(c.to, ["edi@partner.example"]);
        assert!(config("host = \"smtp.example\"\nuser = \"u\"\n").is_err());
        assert!(config("host = \"smtp.example\"\npassword_env = \"P\"\n").is_err());
        config("host = \"smtp.example\"\nuser = \"u\"\npassword_env = \"P\"\n").expect("starttls");
        let clear = "tls = \"none\"\nuser = \"u\"\npassword_file = \"/p\"\n";
        assert!(config(&format!("host = \"smtp.example\"\n{clear}")).is_err());
        config(&format!("host = \"127.0.0.1\"\n{clear}")).expect("loopback");
        let bad_to = "to = [\"a@b\", \"Bob <b@c>\"]\nfrom = \"f@g\"\nhost = \"h\"\n";
        let c: EmailConfig = toml::from_str(bad_to).expect("parses");
        assert!(c.check().is_err());
    }
}
