//! The inbound email channel: an SMTP endpoint partners mail their documents to.
//!
//! The SMTP conversation itself (commands, replies, dot-unstuffing, the STARTTLS negotiation) is
//! the `mailin` state machine's; this module gives it the sockets, TLS (rustls) and the
//! decisions:
//!
//! - `MAIL FROM` must be an address some partner file lists under `[inbound.email] from` (and
//!   that partner's, when the channel is reserved to one); any other sender is refused with 550
//!   before a byte of the mail is taken, and the refusal is logged, counted
//!   (`edigate_email_refused_total`) and shown in `edigate status`.
//! - `RCPT TO` must be one of the channel's `recipients` (550 otherwise).
//! - A mail over `max_message_bytes` is read to its end and refused with 552.
//! - Each attachment of an accepted mail (or its body, when there is no attachment and the body
//!   is itself EDI) becomes a received file, spooled and recorded and the store flushed *before*
//!   the 250 that ends the mail: a crash before that reply leaves the sender to send it again, a
//!   crash after it leaves the files to the restart's recovery. Only then are they processed.
//!   The file's channel in the trace is `CHANNEL:PARTNER`, reserved to the sender's partner, so an
//!   envelope naming another partner is quarantined with the reason, as on any reserved channel.
//!
//! Bad input never takes the daemon down: a connection's failure ends that connection only, and
//! every line and mail is bounded in size.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mail_parser::{Encoding, MessageParser, MimeHeaders, PartType};
use mailin::{Action, Handler, Response, SessionBuilder};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio_rustls::TlsAcceptor;

use crate::config::EmailInboundConfig;
use crate::email_status::{EmailDirection, EmailStatusBoard};
use crate::{Error, Gateway, clock, telemetry};

/// The longest line taken, in bytes; RFC 5321 allows 1000 with the line end, so this leaves
/// room for careless mailers while bounding memory.
const MAX_LINE: u64 = 64 * 1024;

/// How long a client may stay silent before the connection is closed (RFC 5321 4.5.3.2 asks
/// servers to wait at least five minutes).
const IDLE: Duration = Duration::from_secs(300);

/// How long a refused client's remaining input is drained before its connection is closed
/// (see `close_lingering`).
const LINGER: Duration = Duration::from_secs(2);

/// Connections served at once by one channel; more are told to come back later (421).
const MAX_CONNECTIONS: usize = 32;

/// One inbound email channel, bound and ready to serve.
pub struct EmailInbox {
    /// The channel's settings.
    pub config: EmailInboundConfig,
    /// The socket, bound when the gateway opened; taken by [`Gateway::smtp_loop`].
    listener: Mutex<Option<std::net::TcpListener>>,
    /// The address actually bound (port 0 takes a free one).
    pub local_addr: SocketAddr,
    /// STARTTLS, when configured.
    tls: Option<TlsAcceptor>,
    /// The recipients accepted, in lower case.
    recipients: Vec<String>,
}

impl std::fmt::Debug for EmailInbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailInbox")
            .field("name", &self.config.name)
            .field("local_addr", &self.local_addr)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl EmailInbox {
    /// Binds the channel's address and reads its certificate, so a port in use or a bad key
    /// stops the gateway from starting rather than failing each mail.
    pub fn open(config: EmailInboundConfig, status: &EmailStatusBoard) -> Result<Self, Error> {
        let name = config.name.clone();
        if config.recipients.is_empty() {
            return Err(Error::Internal(format!(
                "email channel {name}: recipients names no address"
            )));
        }
        let recipients = config
            .recipients
            .iter()
            .map(|r| r.trim().to_ascii_lowercase())
            .collect();
        if config.require_tls && config.tls.is_none() {
            return Err(Error::Internal(format!(
                "email channel {name}: require_tls = true needs an [inbound.tls] table with \
                 certificate and key files"
            )));
        }
        let tls = match &config.tls {
            None => None,
            Some(t) => Some(crate::tls::server_acceptor(t).map_err(|e| {
                Error::Internal(format!("email channel {name}: [inbound.tls]: {e}"))
            })?),
        };
        let listener = std::net::TcpListener::bind(config.listen).map_err(|e| {
            Error::io(
                format!("email channel {name}: listening on {}", config.listen),
                e,
            )
        })?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io(format!("email channel {name}: socket"), e))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| Error::io(format!("email channel {name}: socket"), e))?;
        status.register(
            &name,
            EmailDirection::Inbound,
            config.partner.as_deref(),
            local_addr.to_string(),
            match &config.tls {
                None => "none",
                Some(_) => "starttls",
            },
        );
        Ok(EmailInbox {
            config,
            listener: Mutex::new(Some(listener)),
            local_addr,
            tls,
            recipients,
        })
    }

    /// The channel a mail from `partner` is recorded under: reserved to that partner, so the
    /// envelope inside must name it.
    pub fn channel_for(&self, partner: &str) -> String {
        format!("{}:{partner}", self.config.name)
    }
}

impl Gateway {
    /// Serves the email channel `index` until the task is aborted.
    pub(crate) async fn smtp_loop(self: Arc<Self>, index: usize) {
        let Some(inbox) = self.email_inboxes.get(index).cloned() else {
            return;
        };
        let name = inbox.config.name.clone();
        let taken = inbox
            .listener
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let listener = match taken.map(tokio::net::TcpListener::from_std) {
            Some(Ok(l)) => l,
            Some(Err(e)) => {
                tracing::error!(channel = %name, error = %e, "email channel cannot listen");
                self.email_status
                    .failed(&name, format!("cannot listen: {e}"));
                return;
            }
            None => return,
        };
        tracing::info!(channel = %name, addr = %inbox.local_addr, starttls = inbox.tls.is_some(), "email channel listening");
        self.email_status.listening(&name, true);
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        // Dropped with this task when the gateway stops: every connection is aborted with it.
        let mut connections = tokio::task::JoinSet::new();
        // Also when this task is aborted (the gateway stopping): the board tells the truth.
        let _listening = Listening(self.email_status.clone(), name.clone());
        loop {
            while connections.try_join_next().is_some() {}
            let (mut tcp, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::error!(channel = %name, error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                tracing::warn!(channel = %name, peer = %peer, "too many connections; told to retry later");
                let _ = tcp
                    .write_all(b"421 4.3.2 too many connections, try again later\r\n")
                    .await;
                continue;
            };
            let (gw, inbox) = (Arc::clone(&self), Arc::clone(&inbox));
            connections.spawn(async move {
                let _slot = slot;
                if let Err(e) = gw.smtp_connection(&inbox, tcp, peer).await {
                    tracing::info!(channel = %inbox.config.name, peer = %peer, error = %e, "SMTP connection ended");
                }
            });
        }
    }

    /// One client, from the greeting to the end, upgraded to TLS when it asks.
    async fn smtp_connection(
        self: &Arc<Self>,
        inbox: &Arc<EmailInbox>,
        tcp: tokio::net::TcpStream,
        peer: SocketAddr,
    ) -> std::io::Result<()> {
        let shared = Arc::new(Shared::default());
        let handler = MailHandler {
            gw: Arc::clone(self),
            inbox: Arc::clone(inbox),
            peer: peer.ip(),
            shared: Arc::clone(&shared),
            transaction: Transaction::default(),
        };
        let mut builder = SessionBuilder::new(inbox.config.hostname.clone());
        if inbox.tls.is_some() {
            builder.enable_start_tls();
        }
        let mut session = builder.build(peer.ip(), handler);
        let mut tcp = tcp;
        let mut greeting = Vec::new();
        session.greeting().write_to(&mut greeting)?;
        tcp.write_all(&greeting).await?;
        let Some(tcp) = self.converse(&mut session, &shared, tcp, false).await? else {
            return Ok(());
        };
        let Some(acceptor) = inbox.tls.clone() else {
            return Ok(());
        };
        let tls = tokio::time::timeout(IDLE, acceptor.accept(tcp))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake"))??;
        shared.tls.store(true, Ordering::SeqCst);
        session.tls_active();
        self.converse(&mut session, &shared, tls, true).await?;
        Ok(())
    }

    /// Reads lines and answers them until the client quits, goes silent or asks for TLS; in the
    /// last case the plain stream is handed back (whatever the client sent after STARTTLS
    /// unencrypted is dropped with the buffer, as RFC 3207 asks).
    async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
        self: &Arc<Self>,
        session: &mut mailin::Session<MailHandler>,
        shared: &Shared,
        stream: S,
        in_tls: bool,
    ) -> std::io::Result<Option<S>> {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::with_capacity(1024);
        let mut in_data = false;
        loop {
            line.clear();
            let read = tokio::time::timeout(
                IDLE,
                (&mut reader).take(MAX_LINE).read_until(b'\n', &mut line),
            )
            .await;
            let n = match read {
                Ok(r) => r?,
                Err(_) => {
                    let _ = reader
                        .get_mut()
                        .write_all(b"421 4.4.2 idle too long, closing\r\n")
                        .await;
                    return Ok(None);
                }
            };
            if n == 0 {
                return Ok(None);
            }
            if !line.ends_with(b"\n") {
                // A line longer than any mail needs: the client is not speaking SMTP.
                let _ = reader
                    .get_mut()
                    .write_all(b"500 5.5.2 line too long, closing\r\n")
                    .await;
                close_lingering(&mut reader).await;
                return Ok(None);
            }
            if !in_data && !line.ends_with(b"\r\n") {
                // A command ended by a bare LF is taken (RFC 5321 2.3.8 lets a server be
                // lenient); the state machine only knows CRLF. Inside a mail a bare LF stays
                // data: only CRLF.CRLF ends it, so a mail cannot smuggle a second one, with
                // another sender, past whatever relayed it.
                line.pop();
                line.extend_from_slice(b"\r\n");
            }
            let ends_mail = in_data && line == b".\r\n";
            let response = if ends_mail {
                // The end of a mail: spooling and flushing block, so they run where blocking
                // is allowed.
                blocking(|| session.process(&line))
            } else {
                session.process(&line)
            };
            if ends_mail {
                in_data = false;
            } else if response.code == 354 {
                in_data = true;
            }
            let mut reply = Vec::new();
            response.write_to(&mut reply)?;
            if !reply.is_empty() {
                reader.get_mut().write_all(&reply).await?;
                reader.get_mut().flush().await?;
            }
            // Taken only now that the 250 is on its way: the files are the gateway's.
            let accepted = std::mem::take(
                &mut *shared
                    .accepted
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            );
            if !accepted.is_empty() {
                let gw = Arc::clone(self);
                tokio::task::spawn_blocking(move || {
                    for id in &accepted {
                        if let Err(e) = gw.pipeline.outbox.mark_released(*id) {
                            tracing::error!(message = %id, error = %e, "cannot clear the receipt marker");
                        }
                    }
                    for id in accepted {
                        gw.process_guarded(&[id]);
                    }
                });
            }
            match response.action {
                Action::Close => return Ok(None),
                Action::UpgradeTls if !in_tls => return Ok(Some(reader.into_inner())),
                _ => {}
            }
        }
    }
}

/// Runs `f`, which blocks, telling a multi-threaded runtime so that it moves this worker's other
/// tasks elsewhere meanwhile.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Ends a connection we refuse to go on with so that our last reply reaches the client: our
/// side is shut, then whatever the client is still sending is read and dropped, for at most
/// [`LINGER`]. Closing with its input unread would make the kernel reset the connection, and
/// the client could lose the reply with it.
async fn close_lingering<S: AsyncRead + AsyncWrite + Unpin>(reader: &mut BufReader<S>) {
    let _ = reader.get_mut().shutdown().await;
    let mut dropped = [0u8; 8192];
    let _ = tokio::time::timeout(LINGER, async {
        while let Ok(1..) = reader.read(&mut dropped).await {}
    })
    .await;
}

/// Marks a channel as no longer listening when its loop ends, however it ends.
struct Listening(EmailStatusBoard, String);

impl Drop for Listening {
    fn drop(&mut self) {
        self.0.listening(&self.1, false);
    }
}

/// What a connection's handler and its I/O loop share.
#[derive(Default)]
struct Shared {
    /// The connection is encrypted.
    tls: AtomicBool,
    /// Messages recorded for a mail whose 250 is being sent: processed once it is.
    accepted: Mutex<Vec<outbox::MessageId>>,
}

/// The mail being received.
#[derive(Default)]
struct Transaction {
    sender: String,
    partner: Option<String>,
    data: Vec<u8>,
    too_large: bool,
}

/// The decisions of one SMTP session.
struct MailHandler {
    gw: Arc<Gateway>,
    inbox: Arc<EmailInbox>,
    peer: IpAddr,
    shared: Arc<Shared>,
    transaction: Transaction,
}

impl MailHandler {
    /// Refuses the mail in hand: logged, counted and shown on the board.
    fn refuse(&self, code: u16, reason: &'static str, text: String) -> Response {
        let channel = &self.inbox.config.name;
        telemetry::email_refused(
            channel,
            &self.transaction.sender,
            self.peer,
            code,
            reason,
            &text,
        );
        self.gw
            .email_status
            .refused(channel, &self.transaction.sender, code, text.clone());
        Response::custom(code, text)
    }

    /// Spools and records the mail's documents, flushed; their ids wait in `shared` for the
    /// 250 to be sent.
    fn take(&mut self, partner: &str) -> Response {
        let channel = self.inbox.channel_for(partner);
        let data = std::mem::take(&mut self.transaction.data);
        let files = documents(&data, clock::now_ms());
        if files.is_empty() {
            return self.refuse(
                550,
                "no_document",
                "5.6.0 no EDI document in the mail: attach it, or send it as the body".into(),
            );
        }
        let count = files.len();
        let recorded = self
            .gw
            .pipeline
            .receive_downloaded(&channel, files)
            .and_then(|r| {
                self.gw.pipeline.outbox.flush()?;
                Ok(r)
            });
        match recorded {
            Ok(received) => {
                tracing::info!(
                    channel = %self.inbox.config.name,
                    partner,
                    sender = %self.transaction.sender,
                    peer = %self.peer,
                    files = count,
                    "mail taken"
                );
                self.gw.email_status.succeeded(&self.inbox.config.name);
                self.shared
                    .accepted
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend(received.iter().map(|r| r.id));
                Response::custom(250, format!("2.0.0 taken: {count} document(s)"))
            }
            Err(e) => {
                // Nothing is acknowledged: the sender keeps the mail and tries again.
                tracing::error!(channel = %self.inbox.config.name, sender = %self.transaction.sender, error = %e, "cannot record a mail; the sender is told to retry");
                self.gw.email_status.failed(
                    &self.inbox.config.name,
                    format!("cannot record a mail: {e}"),
                );
                Response::custom(451, "4.3.0 local error, try again later".into())
            }
        }
    }
}

impl Handler for MailHandler {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
        self.transaction = Transaction {
            sender: from.to_string(),
            ..Transaction::default()
        };
        if self.inbox.config.require_tls && !self.shared.tls.load(Ordering::SeqCst) {
            return Response::custom(530, "5.7.0 must issue a STARTTLS command first".into());
        }
        let Some(partner) = self.gw.pipeline.partners.by_email_sender(from) else {
            return self.refuse(
                550,
                "unknown_sender",
                format!("5.7.1 sender {from} is not a known trading partner"),
            );
        };
        if let Some(only) = self
            .inbox
            .config
            .partner
            .as_deref()
            .filter(|only| *only != partner.id)
        {
            return self.refuse(
                550,
                "wrong_partner",
                format!(
                    "5.7.1 sender {from} is partner {}, but this channel is reserved to {only}",
                    partner.id
                ),
            );
        }
        self.transaction.partner = Some(partner.id.clone());
        mailin::response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        if self
            .inbox
            .recipients
            .contains(&to.trim().to_ascii_lowercase())
        {
            mailin::response::OK
        } else {
            self.refuse(
                550,
                "unknown_recipient",
                format!("5.1.1 no mailbox {to} here"),
            )
        }
    }

    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        _to: &[String],
    ) -> Response {
        self.transaction.data.clear();
        self.transaction.too_large = false;
        mailin::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        // Read to the end whatever the size, so the refusal comes where SMTP expects it.
        if self.transaction.too_large {
            return Ok(());
        }
        let limit = self.inbox.config.max_message_bytes;
        if (self.transaction.data.len() + buf.len()) as u64 > limit {
            self.transaction.too_large = true;
            self.transaction.data = Vec::new();
        } else {
            self.transaction.data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        // The transaction is over whatever the answer (RFC 5321 4.1.1.4); the state machine
        // would stay in DATA after an error reply, taking the client's next commands as text.
        let mut response = self.end_of_data();
        response.is_error = false;
        response
    }
}

impl MailHandler {
    /// The answer to the end of a mail.
    fn end_of_data(&mut self) -> Response {
        if self.transaction.too_large {
            let limit = self.inbox.config.max_message_bytes;
            return self.refuse(
                552,
                "too_large",
                format!("5.3.4 the mail is over the limit of {limit} bytes"),
            );
        }
        let Some(partner) = self.transaction.partner.clone() else {
            // The state machine lets no DATA through without an accepted MAIL FROM.
            return Response::custom(503, "5.5.1 no sender".into());
        };
        let response = self.take(&partner);
        self.transaction = Transaction::default();
        response
    }
}

/// The documents in a mail: each attachment that can be a document (not a picture, a signature
/// or a nested rendering of the text), or the body when the mail has no attachment and its body
/// reads as EDI or XML. A mail no MIME parser can read is kept whole (`mail-*.eml`), to be set
/// aside with the reason like any unreadable file.
pub fn documents(raw: &[u8], now: u64) -> Vec<(String, Vec<u8>)> {
    let Some(message) = MessageParser::default().parse(raw) else {
        return vec![(format!("mail-{now}.eml"), raw.to_vec())];
    };
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, part) in message.attachments().enumerate() {
        let (ctype, subtype) = part.content_type().map_or(("", String::new()), |c| {
            (
                c.ctype(),
                c.subtype().unwrap_or_default().to_ascii_lowercase(),
            )
        });
        let ctype = ctype.to_ascii_lowercase();
        let not_a_document = matches!(ctype.as_str(), "image" | "audio" | "video")
            || (ctype == "text" && matches!(subtype.as_str(), "html" | "vcard" | "x-vcard"))
            || (ctype == "application"
                && matches!(
                    subtype.as_str(),
                    "pkcs7-signature" | "x-pkcs7-signature" | "pgp-signature" | "ms-tnef"
                ));
        if not_a_document || part.is_empty() {
            continue;
        }
        let name = part
            .attachment_name()
            .map(safe_name)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("attachment-{}.edi", i + 1));
        // Two attachments of one name are two files.
        let name = if files.iter().any(|(n, _)| *n == name) {
            format!("{}-{name}", i + 1)
        } else {
            name
        };
        files.push((name, part_bytes(&message, part)));
    }
    if files.is_empty()
        && let Some(body) = message.body_text(0)
    {
        let text = body.trim_start_matches('\u{feff}').trim_start();
        if ["ISA", "UNA", "UNB", "<"]
            .iter()
            .any(|start| text.starts_with(start))
        {
            files.push((format!("mail-body-{now}.edi"), text.as_bytes().to_vec()));
        }
    }
    files
}

/// An attachment's name as a plain file name: no directories, no control characters, bounded.
fn safe_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    base.chars()
        .map(|c| if c.is_control() { '_' } else { c })
        .take(120)
        .collect::<String>()
        .trim_matches(|c: char| c == '.' || c.is_whitespace())
        .to_string()
}

/// A part's bytes as the sender wrote them: the transfer encoding (base64, quoted-printable)
/// undone, the character set left alone. The MIME parser hands a text part over as UTF-8
/// converted from its declared charset, which would change every byte above 127 of an
/// ISO-8859-1 EDIFACT file sent as `text/plain`; the document must reach the spool as it was.
fn part_bytes(message: &mail_parser::Message<'_>, part: &mail_parser::MessagePart<'_>) -> Vec<u8> {
    if !matches!(part.body, PartType::Text(_) | PartType::Html(_)) {
        return part.contents().to_vec();
    }
    let raw = message
        .raw_message()
        .get(part.raw_body_offset() as usize..part.raw_end_offset() as usize);
    let decoded = raw.and_then(|raw| match part.encoding {
        Encoding::Base64 => mail_parser::decoders::base64::base64_decode(raw),
        Encoding::QuotedPrintable => {
            mail_parser::decoders::quoted_printable::quoted_printable_decode(raw)
        }
        Encoding::None => Some(raw.to_vec()),
    });
    decoded.unwrap_or_else(|| part.contents().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(parts: &str) -> Vec<u8> {
        format!(
            "From: edi@acme.example\r\nTo: edi@us.example\r\nSubject: orders\r\n\
             MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nTwo orders.\r\n{parts}--b--\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn attachments_are_documents_but_pictures_are_not() {
        let raw = mail(
            "--b\r\nContent-Type: application/edi-x12\r\nContent-Transfer-Encoding: base64\r\n\
             Content-Disposition: attachment; filename=\"../po 1.x12\"\r\n\r\nSVNBKjAwKg==\r\n\
             --b\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=logo.png\r\n\
             Content-Transfer-Encoding: base64\r\n\r\niVBORw0K\r\n\
             --b\r\nContent-Type: application/octet-stream\r\n\
             Content-Disposition: attachment; filename=\"po 1.x12\"\r\n\r\nUNA:+.? '\r\n",
        );
        let files = documents(&raw, 7);
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["po 1.x12", "3-po 1.x12"]);
        assert_eq!(files[0].1, b"ISA*00*");
        assert!(files[1].1.starts_with(b"UNA:+.? '"));
    }

    #[test]
    fn an_edi_body_is_a_document_when_nothing_is_attached() {
        let raw = b"From: a@b\r\nSubject: x\r\n\r\nISA*00*~GS*PO~\r\n";
        let files = documents(raw, 7);
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].0, "mail-body-7.edi");
        assert!(files[0].1.starts_with(b"ISA*00*~GS*PO~"));
        let chatter = b"From: a@b\r\nSubject: x\r\n\r\nHello, the order follows.\r\n";
        assert!(documents(chatter, 7).is_empty());
    }
    #[test]
    fn a_text_attachment_arrives_byte_for_byte_whatever_its_charset() {
        // "Cafe" with e-acute in ISO-8859-1: one byte, 0xE9, that a conversion to UTF-8 would
        // turn into two.
        let mut raw = mail(
            "--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
             Content-Disposition: attachment; filename=orders.edi\r\n\r\n",
        );
        raw.truncate(raw.len() - "--b--\r\n".len());
        raw.extend_from_slice(b"UNB+UNOC:3+A+B'NAD+BY+++Caf\xe9'\r\n");
        raw.extend_from_slice(
            b"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
              Content-Transfer-Encoding: quoted-printable\r\n\
              Content-Disposition: attachment; filename=qp.edi\r\n\r\n\
              UNB+UNOC:3+A+B'NAD+BY+++Caf=E9'\r\n\
              --b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
              Content-Transfer-Encoding: base64\r\n\
              Content-Disposition: attachment; filename=b64.edi\r\n\r\n\
              VU5CK1VOT0M6MytBK0InTkFEK0JZKysrQ2Fm6Sc=\r\n--b--\r\n",
        );
        let files = documents(&raw, 7);
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["orders.edi", "qp.edi", "b64.edi"]);
        for (name, bytes) in &files {
            assert!(
                bytes.starts_with(b"UNB+UNOC:3+A+B'NAD+BY+++Caf\xe9'"),
                "{name}: {:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
}
