//! EDI by email: a partner whose outbound is `[outbound.email]` gets each document as the
//! attachment of a mail of its own, sent through an SMTP server with rustls.
//!
//! A server that cannot be reached, refuses the connection, times out or answers 4xx is a
//! failure worth retrying (the outbox retries with backoff); a 5xx answer (an unknown mailbox, a
//! refused login, a message too big) will come again, so the delivery is dead-lettered at once.
//!
//! The mail's `Message-ID` is made from the delivery, so a document sent again after a crash
//! between the send and its record carries the same id and the partner's mail system can tell.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use outbox::Delivery;
use partner::email::{EmailConfig, TlsMode};

use crate::email_status::{EmailDirection, EmailStatusBoard};
use crate::sinks::DeliveryError;

/// Why a partner's mail settings cannot be used; found when the gateway starts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmailError {
    /// An address the mail library does not accept.
    #[error("{destination}: {address:?} is not a usable email address: {message}")]
    Address {
        /// The destination (`partner:ID`).
        destination: String,
        /// The address as configured.
        address: String,
        /// Why.
        message: String,
    },
    /// The settings do not hold together (see [`EmailConfig::check`]).
    #[error("{destination}: {message}")]
    Settings {
        /// The destination (`partner:ID`, `alerts:email`).
        destination: String,
        /// What is wrong.
        message: String,
    },
    /// The CA file cannot be read or holds no certificate.
    #[error("{destination}: ca_file {path}: {message}")]
    CaFile {
        /// The destination (`partner:ID`).
        destination: String,
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

/// A partner's mailbox as a delivery destination.
pub struct EmailOutbox {
    destination: String,
    config: EmailConfig,
    from: Mailbox,
    to: Vec<Mailbox>,
    tls: Option<TlsParameters>,
    status: EmailStatusBoard,
}

impl std::fmt::Debug for EmailOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The configuration names where the password is, never the password itself.
        f.debug_struct("EmailOutbox")
            .field("destination", &self.destination)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl EmailOutbox {
    /// The mailbox of `destination` (`partner:ID`); the addresses and the TLS settings are
    /// checked now, so a wrong one stops the gateway from starting rather than failing each mail.
    /// Each attempt's outcome goes to `status`.
    pub fn new(
        destination: String,
        config: EmailConfig,
        status: EmailStatusBoard,
    ) -> Result<EmailOutbox, EmailError> {
        config.check().map_err(|message| EmailError::Settings {
            destination: destination.clone(),
            message,
        })?;
        let mailbox = |address: &String| {
            address.parse::<Mailbox>().map_err(|e| EmailError::Address {
                destination: destination.clone(),
                address: address.clone(),
                message: e.to_string(),
            })
        };
        let from = mailbox(&config.from)?;
        let to = config
            .to
            .iter()
            .map(mailbox)
            .collect::<Result<Vec<_>, _>>()?;
        let tls = match config.tls {
            TlsMode::None => None,
            TlsMode::Starttls | TlsMode::Tls => {
                let ca_error = |message: String| EmailError::CaFile {
                    destination: destination.clone(),
                    path: config
                        .ca_file
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                    message,
                };
                let mut builder = TlsParameters::builder(config.host.clone());
                if let Some(path) = &config.ca_file {
                    let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
                    let cert = Certificate::from_pem(&pem).map_err(|e| ca_error(e.to_string()))?;
                    builder = builder.add_root_certificate(cert);
                }
                Some(
                    builder
                        .build_rustls()
                        .map_err(|e| ca_error(e.to_string()))?,
                )
            }
        };
        status.register(
            &destination,
            EmailDirection::Outbound,
            destination.strip_prefix("partner:"),
            format!("{}:{}", config.host, config.port()),
            match config.tls {
                TlsMode::None => "none",
                TlsMode::Starttls => "starttls",
                TlsMode::Tls => "tls",
            },
        );
        Ok(EmailOutbox {
            destination,
            config,
            from,
            to,
            tls,
            status,
        })
    }

    /// Mails `payload` to the partner as the attachment `file_name`, the subject filled from
    /// `values` (the file name template's variables). Runs on the delivery worker's thread and
    /// blocks until the server has taken the mail or refused it.
    pub fn deliver(
        &self,
        d: &Delivery,
        file_name: &str,
        values: &[(&str, &str)],
        payload: &[u8],
    ) -> Result<(), DeliveryError> {
        let what = format!(
            "mailing {file_name} to {} through {}:{}",
            self.config.to.join(", "),
            self.config.host,
            self.config.port()
        );
        let message = self.message(d, file_name, values, payload)?;
        self.send(d, what, &message)
    }

    /// Mails a text made by the gateway itself (an alert): its first line is `Subject: …`, the
    /// rest after a blank line is the body.
    pub fn deliver_text(&self, d: &Delivery, text: &[u8]) -> Result<(), DeliveryError> {
        let unsendable = |e: String| {
            DeliveryError::Unsendable(format!("making the mail of delivery {}: {e}", d.id))
        };
        let text = std::str::from_utf8(text).map_err(|e| unsendable(e.to_string()))?;
        let (subject, body) = text
            .strip_prefix("Subject: ")
            .and_then(|t| t.split_once("\n\n"))
            .ok_or_else(|| unsendable("no subject line".into()))?;
        let message = self
            .builder(d)
            .subject(subject)
            .singlepart(SinglePart::plain(body.to_string()))
            .map_err(|e| unsendable(e.to_string()))?;
        let what = format!(
            "mailing {} to {} through {}:{}",
            d.key,
            self.config.to.join(", "),
            self.config.host,
            self.config.port()
        );
        self.send(d, what, &message)
    }

    /// Sends one mail; `what` says what was being done when it fails.
    fn send(&self, d: &Delivery, what: String, message: &Message) -> Result<(), DeliveryError> {
        let result = self.try_send(d, what, message);
        match &result {
            Ok(()) => self.status.succeeded(&self.destination),
            Err(e) => self.status.failed(&self.destination, e.to_string()),
        }
        result
    }

    fn try_send(&self, d: &Delivery, what: String, message: &Message) -> Result<(), DeliveryError> {
        let transport = self
            .transport()
            .map_err(|message| DeliveryError::Unavailable {
                what: what.clone(),
                message,
            })?;
        match transport.send(message) {
            Ok(response) => {
                tracing::info!(
                    destination = %self.destination,
                    delivery = %d.id,
                    key = %d.key,
                    host = %self.config.host,
                    code = %response.code(),
                    "mailed"
                );
                Ok(())
            }
            Err(e) if e.is_permanent() => Err(DeliveryError::Rejected {
                what,
                status: e
                    .status()
                    .and_then(|c| c.to_string().parse().ok())
                    .unwrap_or(0),
                message: e.to_string(),
            }),
            Err(e) => Err(DeliveryError::Unavailable {
                what,
                message: e.to_string(),
            }),
        }
    }

    /// The mail: a short text and the document, base64-encoded so it arrives byte for byte
    /// (mail systems rewrite line ends and long lines of text parts).
    fn message(
        &self,
        d: &Delivery,
        file_name: &str,
        values: &[(&str, &str)],
        payload: &[u8],
    ) -> Result<Message, DeliveryError> {
        let unsendable = |e: String| {
            DeliveryError::Unsendable(format!("making the mail of delivery {}: {e}", d.id))
        };
        let mut values = values.to_vec();
        values.push(("file_name", file_name));
        let subject =
            partner::email::render_subject(&self.config.subject, &values).map_err(unsendable)?;
        let content_type = match d.content_kind.as_str() {
            "application/edi-x12" | "application/edifact" => d.content_kind.as_str(),
            _ => "application/octet-stream",
        };
        let content_type =
            ContentType::parse(content_type).map_err(|e| unsendable(e.to_string()))?;
        self.builder(d)
            .subject(subject)
            .multipart(
                MultiPart::mixed()
                    .singlepart(SinglePart::plain(format!(
                        "The EDI document {file_name} is attached.\n"
                    )))
                    .singlepart(
                        Attachment::new(file_name.to_string()).body(payload.to_vec(), content_type),
                    ),
            )
            .map_err(|e| unsendable(e.to_string()))
    }

    /// The headers every mail has: from, to, a date, and a `Message-ID` made from the delivery.
    fn builder(&self, d: &Delivery) -> lettre::message::MessageBuilder {
        let domain = self.from.email.domain();
        let mut builder = Message::builder()
            .from(self.from.clone())
            .message_id(Some(format!(
                "<edigate.{}.{}@{domain}>",
                d.id, d.created_at
            )))
            .date_now();
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder
    }

    /// A transport for one mail, with the password read now: a secret changed on disk is used
    /// from the next mail on, and a missing one fails this attempt only.
    fn transport(&self) -> Result<SmtpTransport, String> {
        let c = &self.config;
        let tls = match (&self.tls, c.tls) {
            (Some(p), TlsMode::Starttls) => Tls::Required(p.clone()),
            (Some(p), TlsMode::Tls) => Tls::Wrapper(p.clone()),
            _ => Tls::None,
        };
        let mut builder = SmtpTransport::builder_dangerous(c.host.clone())
            .port(c.port())
            .tls(tls)
            .timeout(Some(Duration::from_millis(c.timeout_ms.max(1))));
        if let Some(user) = &c.user {
            builder = builder.credentials(Credentials::new(user.clone(), self.password()?));
        }
        Ok(builder.build())
    }

    /// The SMTP password from its environment variable or file; the error names where it was
    /// looked for, never what was found.
    fn password(&self) -> Result<String, String> {
        let c = &self.config;
        if let Some(var) = &c.password_env {
            return std::env::var(var)
                .map_err(|_| format!("the password variable {var} is not set"));
        }
        if let Some(path) = &c.password_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("reading the password file {}: {e}", path.display()))?;
            return Ok(text.lines().next().unwrap_or_default().to_string());
        }
        Err("a user is set but no password".into())
    }
}
