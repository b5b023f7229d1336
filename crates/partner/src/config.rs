//! One partner file: read as TOML into raw types that keep every value's position, then checked
//! and turned into a [`Partner`] whose states cannot be wrong (an X12 partner has X12 ids and an
//! X12 acknowledgement policy, never EDIFACT ones).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::error::{Diagnostic, closest};
use crate::overrides;

/// A trading partner, checked.
#[derive(Debug, Clone)]
pub struct Partner {
    /// The partner's name in events, directories and the trace (`acme-retail`).
    pub id: String,
    /// A display name.
    pub name: String,
    /// The syntax, version, identities and acknowledgement policy.
    pub exchange: Exchange,
    /// Who the partner is in the XML documents it sends (UBL, cXML), which have no EDI
    /// envelope; `None` when it sends none.
    pub xml: Option<XmlIdentity>,
    /// What to do with an interchange control number seen before.
    pub duplicates: DuplicatePolicy,
    /// Where documents for this partner go.
    pub outbound: Outbound,
    /// The name each outbound document gets, as a template ([`FILE_NAME_VARIABLES`] in braces),
    /// for a directory and an SFTP server alike; checked when the file is read.
    pub outbound_file_name: String,
    /// How long this partner may go without sending anything before the gateway warns
    /// (`expect_within`): `edigate status` and the `edigate_partner_silent` metric. `None`: the
    /// partner sends when it pleases.
    pub expect_within: Option<Duration>,
    /// How long this partner has to acknowledge a document we send (`ack_within`); past it the
    /// document is overdue in `edigate status` and `/metrics`. `None`: the gateway's default.
    pub ack_within: Option<Duration>,
    /// The AS2 partnership, when the partner exchanges over AS2 (`[as2]`).
    pub as2: Option<As2Partnership>,
    /// The addresses the partner mails its documents from (`[inbound.email] from`), in lower
    /// case: the gateway's inbound email channels take mail only from a known address, and the
    /// envelope inside must then name this partner. Empty: the partner sends no mail.
    pub inbound_email: Vec<String>,
    /// The default mappings with this partner's overrides applied.
    pub mappings: mapping::Mappings,
    /// The file this partner was read from.
    pub origin: PathBuf,
}

/// An AS2 partnership (`[as2]`): who the partner and we are in AS2 headers, the partner's
/// certificates, and what its messages must be.
#[derive(Debug, Clone)]
pub struct As2Partnership {
    /// The partner's AS2 name (`AS2-From` on what it sends).
    pub id: String,
    /// Our AS2 name toward it (`AS2-To` on what it sends).
    pub us: String,
    /// The partner's certificates, several at once during a rollover; read and checked when the
    /// file is read.
    pub certificates: Vec<As2Certificate>,
    /// Where our messages to it are posted.
    pub url: Option<String>,
    /// Its messages must be signed, and ours are.
    pub sign: bool,
    /// Its messages must be encrypted, and ours are.
    pub encrypt: bool,
    /// The MDN we ask for on what we send (`mdn`): sync (default) or async.
    pub mdn: As2MdnMode,
    /// The largest message body taken from it, in bytes, in place of the channel's limit.
    pub max_body_bytes: Option<u64>,
    /// The cipher our messages to it are encrypted with (`encryption`, default `aes256-cbc`).
    pub encryption: as2::Encryption,
    /// The digest we sign with and ask its MDNs to use (`digest`, default `sha256`).
    pub digest: as2::Digest,
    /// Our messages to it are compressed before signing (`compress`, RFC 5402).
    pub compress: bool,
    /// Which bytes its signatures are checked against (`canonicalization`).
    pub canonicalization: As2Canonicalization,
    /// How a message it sends again (a `Message-ID` seen before) is answered
    /// (`retransmission`); it is never processed twice either way.
    pub retransmission: As2Retransmission,
}

/// How a partner's retransmitted AS2 message (a `Message-ID` seen before) is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum As2Retransmission {
    /// With the MDN given the first time, as if that answer had been lost on its way (what a
    /// retransmission usually means).
    #[default]
    SameMdn,
    /// With a new MDN, `processed/warning: duplicate-document`, so the partner's side sees that
    /// it sent the message twice.
    Warn,
}

/// Which bytes a partner's signatures are checked against; real AS2 products differ in what they
/// sign when line ends are not CRLF on the wire (see [`as2::Canonicalization`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum As2Canonicalization {
    /// As received; failing that, the header fields in CRLF with the body as is; failing that,
    /// the whole entity in CRLF (the default: what pyas2lib, Mendelson and most peers sign).
    #[default]
    Lenient,
    /// As received, or the header fields in CRLF with the body as is: a body's line ends are
    /// never changed.
    Binary,
    /// Exactly as received.
    Strict,
}

impl As2Canonicalization {
    /// The AS2 crate's name for it.
    pub fn to_as2(self) -> as2::Canonicalization {
        match self {
            As2Canonicalization::Lenient => as2::Canonicalization::AsReceivedThenCrlf,
            As2Canonicalization::Binary => as2::Canonicalization::Binary,
            As2Canonicalization::Strict => as2::Canonicalization::Strict,
        }
    }
}

/// How a partner is to answer our AS2 messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum As2MdnMode {
    /// A signed MDN in the HTTP response.
    #[default]
    Sync,
    /// A signed MDN POSTed later to the gateway's `[as2] async_mdn_url`.
    Async,
}

/// One of a partner's AS2 certificates.
#[derive(Debug, Clone)]
pub struct As2Certificate {
    /// The PEM file, as resolved from the partner file's directory.
    pub path: PathBuf,
    /// The certificate.
    pub certificate: as2::Certificate,
}

/// How a partner speaks: one syntax, with the settings that only make sense for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exchange {
    /// ASC X12.
    X12(X12Exchange),
    /// UN/EDIFACT (EANCOM included).
    Edifact(EdifactExchange),
}

impl Exchange {
    /// The messages exchanged (`850`, `ORDERS`, …).
    pub fn messages(&self) -> &[String] {
        match self {
            Exchange::X12(x) => &x.messages,
            Exchange::Edifact(e) => &e.messages,
        }
    }

    /// The version (`005010`, `D96A`).
    pub fn version(&self) -> &str {
        match self {
            Exchange::X12(x) => &x.version,
            Exchange::Edifact(e) => &e.version,
        }
    }
}

/// An X12 partner's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct X12Exchange {
    /// GS08 / ST03 version, as its first six characters (`004010`, `005010`).
    pub version: String,
    /// The partner's ids (ISA05/06, GS02 on what they send).
    pub partner: X12Id,
    /// Our ids toward this partner; when set, an interchange addressed to anyone else is refused.
    pub us: Option<X12Id>,
    /// Transaction sets exchanged.
    pub messages: Vec<String>,
    /// When to send a TA1.
    pub ta1: Ta1Policy,
    /// The functional acknowledgement for each group.
    pub functional_ack: FunctionalAck,
}

/// An X12 identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct X12Id {
    /// ISA05/07 qualifier (`ZZ`, `01`, `12`, …).
    pub qualifier: String,
    /// ISA06/08 id, without its padding.
    pub id: String,
    /// GS02/03 application id, when it differs from the ISA id.
    pub gs: Option<String>,
}

/// An EDIFACT partner's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdifactExchange {
    /// Directory version and release (`D96A`, `D01B`).
    pub version: String,
    /// The partner's UNB id (S002 0004 on what they send).
    pub partner: EdifactId,
    /// Our UNB id toward this partner; when set, an interchange addressed to anyone else is
    /// refused.
    pub us: Option<EdifactId>,
    /// Messages exchanged.
    pub messages: Vec<String>,
    /// When to send a CONTRL.
    pub contrl: ContrlPolicy,
}

/// An EDIFACT identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdifactId {
    /// UNB 0004/0010.
    pub id: String,
    /// UNB 0007 code qualifier (`14` GLN, `ZZZ` mutually agreed, …); absent matches any.
    pub qualifier: Option<String>,
}

/// A partner's identity in XML documents: the sender id its documents name where the mapping
/// says (UBL: the sending party's `cbc:EndpointID` and its `schemeID`, such as `0088` for a
/// GLN; cXML: the `From` credential's identity and `domain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlIdentity {
    /// The partner's id.
    pub partner: XmlId,
    /// Our id toward this partner; when set, a document addressed to anyone else is refused.
    pub us: Option<XmlId>,
}

/// An id in an XML document, with its scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlId {
    /// The id (`4012345000009`).
    pub id: String,
    /// Its scheme (`0088`, `GLN`, `NetworkID`); absent matches any, present must be sent.
    pub qualifier: Option<String>,
}

impl XmlId {
    /// Whether a document's id (and scheme, when it gives one) is this one.
    pub fn matches(&self, id: &str, qualifier: Option<&str>) -> bool {
        self.id == id
            && self
                .qualifier
                .as_deref()
                .is_none_or(|q| qualifier == Some(q))
    }
}

/// When an X12 partner gets a TA1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ta1Policy {
    /// For every interchange.
    Always,
    /// When they ask for one (ISA14 = 1) or the envelope is rejected.
    #[default]
    OnError,
    /// Never, not even for a rejected envelope.
    Never,
}

/// The functional acknowledgement an X12 partner gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FunctionalAck {
    /// 997 before 005010, 999 from 005010 on.
    #[default]
    ByVersion,
    /// 997.
    Ack997,
    /// 999.
    Ack999,
    /// None.
    Never,
}

/// When an EDIFACT partner gets a CONTRL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContrlPolicy {
    /// Only when asked (UNB 0031 = 1).
    #[default]
    WhenAsked,
    /// When asked, and whenever something is rejected.
    OnError,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// What happens to an interchange whose control number this partner already sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DuplicatePolicy {
    /// The action.
    pub action: DuplicateAction,
    /// How long a control number is remembered, in days.
    pub window_days: u32,
}

impl Default for DuplicatePolicy {
    fn default() -> Self {
        DuplicatePolicy {
            action: DuplicateAction::Reject,
            window_days: 90,
        }
    }
}

/// The action on a duplicate interchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateAction {
    /// Refuse it (X12: TA1 with note code 025) and translate nothing.
    #[default]
    Reject,
    /// Process it, and flag the message as a duplicate in the trace.
    Flag,
    /// Process it as if it were new.
    Ignore,
}

/// Where documents for a partner are delivered.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A local directory, relative to the gateway's outbound directory unless absolute.
    Directory(PathBuf),
    /// A directory on the partner's SFTP server (its `outbox_dir`).
    Sftp(Box<sftp::SftpConfig>),
    /// The partner's mailbox: each document an attachment of its own mail.
    Email(Box<crate::email::EmailConfig>),
}

/// The outbound file name when a partner file does not set `[outbound] file_name`: the names
/// documents had before templates existed (`ta1-000000001.x12`), so an upgrade renames nothing.
pub const DEFAULT_FILE_NAME: &str = "{kind}-{control}.{ext}";

/// The variables an outbound file name template may use, with what each stands for.
pub const FILE_NAME_VARIABLES: &[(&str, &str)] = &[
    ("partner", "the partner id (acme-retail)"),
    (
        "type",
        "the document: ta1, 997, 999 or contrl (an acknowledgement's own transaction set), or an outbound document's message (855, DESADV)",
    ),
    (
        "kind",
        "the delivery's kind: ta1 or functional, or an outbound document's message (855, DESADV)",
    ),
    (
        "control",
        "the interchange control number, zero-padded to 9 digits",
    ),
    (
        "timestamp",
        "when the document was made, UTC YYYYMMDDHHMMSS (the same on every re-delivery)",
    ),
    ("ext", "x12 or edi"),
];

// ---- the file as written ------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPartner {
    id: Option<Spanned<String>>,
    name: Option<String>,
    expect_within: Option<Spanned<toml::Value>>,
    ack_within: Option<Spanned<toml::Value>>,
    x12: Option<Spanned<RawX12>>,
    edifact: Option<Spanned<RawEdifact>>,
    xml: Option<Spanned<RawXml>>,
    as2: Option<Spanned<RawAs2>>,
    #[serde(default)]
    duplicates: RawDuplicates,
    outbound: Option<RawOutbound>,
    inbound: Option<RawInbound>,
    #[serde(default)]
    mappings: BTreeMap<Spanned<String>, Spanned<toml::Table>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawX12 {
    version: Spanned<String>,
    partner: Spanned<RawX12Id>,
    us: Option<Spanned<RawX12Id>>,
    messages: Vec<Spanned<String>>,
    #[serde(default)]
    ta1: Ta1Policy,
    ack: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawX12Id {
    qualifier: Spanned<String>,
    id: Spanned<String>,
    gs: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEdifact {
    version: Spanned<String>,
    partner: Spanned<RawEdifactId>,
    us: Option<Spanned<RawEdifactId>>,
    messages: Vec<Spanned<String>>,
    #[serde(default)]
    contrl: ContrlPolicy,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEdifactId {
    id: Spanned<String>,
    qualifier: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawXml {
    partner: Spanned<RawEdifactId>,
    us: Option<Spanned<RawEdifactId>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDuplicates {
    #[serde(default)]
    policy: DuplicateAction,
    window_days: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutbound {
    directory: Option<String>,
    file_name: Option<Spanned<String>>,
    sftp: Option<Spanned<sftp::SftpConfig>>,
    email: Option<Spanned<crate::email::EmailConfig>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInbound {
    email: Option<Spanned<RawInboundEmail>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInboundEmail {
    from: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAs2 {
    id: String,
    us: String,
    certificates: Vec<Spanned<String>>,
    url: Option<String>,
    #[serde(default = "yes")]
    sign: bool,
    #[serde(default = "yes")]
    encrypt: bool,
    #[serde(default)]
    mdn: As2MdnMode,
    max_body_bytes: Option<u64>,
    encryption: Option<Spanned<String>>,
    digest: Option<Spanned<String>>,
    #[serde(default)]
    compress: bool,
    #[serde(default)]
    canonicalization: As2Canonicalization,
    #[serde(default)]
    retransmission: As2Retransmission,
}

fn yes() -> bool {
    true
}

/// Reads and checks one partner file. Every problem found is returned, not just the first.
pub fn parse(path: &Path, text: &str) -> Result<Partner, Vec<Diagnostic>> {
    let raw: RawPartner = toml::from_str(text).map_err(|e| vec![toml_error(path, text, &e)])?;
    let mut problems = Vec::new();
    let mut at = |span: std::ops::Range<usize>, message: String, hint: Option<String>| {
        problems.push(Diagnostic::at(path, text, span.start, message, hint));
    };

    let id = match &raw.id {
        Some(id) => id.get_ref().clone(),
        None => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    if !is_partner_id(&id) {
        let span = raw.id.as_ref().map_or(0..0, Spanned::span);
        at(
            span,
            format!("partner id {id:?} is not usable as a name"),
            Some(
                "write lower-case letters, digits and '-' (it names directories and appears \
                 in every event): id = \"acme-retail\""
                    .into(),
            ),
        );
    }

    let builtin = match mapping::Mappings::builtin() {
        Ok(m) => m,
        Err(e) => {
            return Err(vec![Diagnostic::file(
                path,
                format!("the built-in mappings are invalid: {e}"),
                None,
            )]);
        }
    };

    let (exchange, syntax) = match (&raw.x12, &raw.edifact) {
        (Some(x), None) => (
            Exchange::X12(check_x12(x.get_ref(), &builtin, &mut at)),
            mapping::spec::Syntax::X12,
        ),
        (None, Some(e)) => (
            Exchange::Edifact(check_edifact(e.get_ref(), &builtin, &mut at)),
            mapping::spec::Syntax::Edifact,
        ),
        (Some(_), Some(e)) => {
            at(
                e.span(),
                "a partner speaks one syntax, but this file has both [x12] and [edifact]".into(),
                Some("keep one; a partner that sends both is two partner files".into()),
            );
            return Err(problems);
        }
        (None, None) => {
            at(
                0..0,
                "the file says neither [x12] nor [edifact]".into(),
                Some(
                    "add [x12] with version, partner = { qualifier, id } and messages, or \
                     [edifact] with version, partner = { id } and messages"
                        .into(),
                ),
            );
            return Err(problems);
        }
    };

    let xml = raw.xml.as_ref().map(|x| {
        let x = x.get_ref();
        let id = |raw: &RawEdifactId, at: &mut At<'_>| {
            let id = raw.id.get_ref().trim().to_string();
            if id.is_empty() {
                at(raw.id.span(), "the XML sender id is empty".into(), None);
            }
            XmlId {
                id,
                qualifier: raw
                    .qualifier
                    .as_ref()
                    .map(|q| q.get_ref().trim().to_string()),
            }
        };
        XmlIdentity {
            partner: id(x.partner.get_ref(), &mut at),
            us: x.us.as_ref().map(|u| id(u.get_ref(), &mut at)),
        }
    });

    let duplicates = DuplicatePolicy {
        action: raw.duplicates.policy,
        window_days: match &raw.duplicates.window_days {
            Some(w) if *w.get_ref() == 0 => {
                at(
                    w.span(),
                    "window_days = 0 would remember nothing".into(),
                    Some("write a number of days, or policy = \"ignore\"".into()),
                );
                1
            }
            Some(w) => *w.get_ref(),
            None => DuplicatePolicy::default().window_days,
        },
    };

    let outbound_file_name = match raw.outbound.as_ref().and_then(|o| o.file_name.as_ref()) {
        Some(template) => {
            if let Some((offset, message, hint)) = check_file_name_template(template.get_ref(), &id)
            {
                // Point into the string when it is written as-is (no escapes), so the column is
                // the offending placeholder's; otherwise at the string.
                let span = template.span();
                let literal = format!("\"{}\"", template.get_ref());
                let start = if text.get(span.clone()) == Some(literal.as_str()) {
                    span.start + 1 + offset
                } else {
                    span.start
                };
                at(start..start, message, Some(hint));
            }
            template.get_ref().clone()
        }
        None => DEFAULT_FILE_NAME.to_string(),
    };

    // Documents go to one place: an [as2] url, or [outbound]'s SFTP server or mailbox.
    let outbound_elsewhere = raw
        .outbound
        .as_ref()
        .is_some_and(|o| o.sftp.is_some() || o.email.is_some());
    let outbound = match raw.outbound {
        Some(RawOutbound {
            email: Some(mail),
            directory,
            sftp,
            ..
        }) => {
            if directory.is_some() || sftp.is_some() {
                at(
                    mail.span(),
                    "[outbound] names an email address and also a directory or an SFTP server"
                        .into(),
                    Some("keep one: documents for a partner go to one place".into()),
                );
            }
            let span = mail.span();
            let mail = mail.into_inner();
            if let Err(e) = mail.check() {
                at(span, format!("[outbound.email]: {e}"), None);
            }
            Outbound::Email(Box::new(mail))
        }
        Some(RawOutbound {
            directory: Some(_),
            sftp: Some(server),
            ..
        }) => {
            at(
                server.span(),
                "[outbound] names both a directory and an SFTP server".into(),
                Some("keep one: documents for a partner go to one place".into()),
            );
            Outbound::Directory(PathBuf::from(&id))
        }
        Some(RawOutbound {
            sftp: Some(server), ..
        }) => {
            let span = server.span();
            let server = server.into_inner();
            if let Err(e) = server.check() {
                at(span, format!("[outbound.sftp]: {e}"), None);
            }
            Outbound::Sftp(Box::new(server))
        }
        Some(RawOutbound {
            directory: Some(dir),
            ..
        }) => Outbound::Directory(PathBuf::from(dir)),
        _ => Outbound::Directory(PathBuf::from(&id)),
    };

    let mut duration = |key: &str, value: &Option<Spanned<toml::Value>>| {
        value.as_ref().and_then(|value| {
            let checked = match value.get_ref() {
                toml::Value::String(text) => parse_duration(text),
                other => Err(format!(
                    "{key} must be a duration in quotes, not {} {other}",
                    other.type_str()
                )),
            };
            match checked {
                Ok(d) => Some(d),
                Err(message) => {
                    at(
                        value.span(),
                        message,
                        Some(format!(
                            "write a number and a unit, s, m, h, d or w: {key} = \"24h\""
                        )),
                    );
                    None
                }
            }
        })
    };
    let expect_within = duration("expect_within", &raw.expect_within);
    let ack_within = duration("ack_within", &raw.ack_within);

    let as2 = raw.as2.as_ref().map(|spanned| {
        let raw_as2 = spanned.get_ref();
        let base = path.parent().unwrap_or(Path::new("."));
        let mut certificates = Vec::new();
        for c in &raw_as2.certificates {
            let file = base.join(c.get_ref());
            match std::fs::read(&file)
                .map_err(|e| e.to_string())
                .and_then(|pem| as2::Certificate::from_pem(&pem).map_err(|e| e.to_string()))
            {
                Ok(certificate) => certificates.push(As2Certificate {
                    path: file,
                    certificate,
                }),
                Err(e) => at(
                    c.span(),
                    format!("{}: {e}", file.display()),
                    Some("name a PEM certificate file, relative to this partner file".into()),
                ),
            }
        }
        if raw_as2.url.is_some() && outbound_elsewhere {
            at(
                spanned.span(),
                "[as2] has a url, and [outbound] names an SFTP server or a mailbox too".into(),
                Some("keep one: documents for a partner go to one place".into()),
            );
        }
        if raw_as2.certificates.is_empty() {
            at(
                spanned.span(),
                "[as2] lists no certificates".into(),
                Some("certificates = [\"as2/partner.pem\"]".into()),
            );
        }
        let encryption = match &raw_as2.encryption {
            None => as2::Encryption::Aes256Cbc,
            Some(name) => as2::Encryption::from_name(name.get_ref()).unwrap_or_else(|| {
                at(
                    name.span(),
                    format!(
                        "[as2] encryption {:?} is not a cipher edigate knows",
                        name.get_ref()
                    ),
                    Some(format!(
                        "one of {}",
                        as2::Encryption::ALL.map(as2::Encryption::name).join(", ")
                    )),
                );
                as2::Encryption::Aes256Cbc
            }),
        };
        let digest = match &raw_as2.digest {
            None => as2::Digest::Sha256,
            Some(name) => as2::Digest::from_name(name.get_ref()).unwrap_or_else(|| {
                at(
                    name.span(),
                    format!(
                        "[as2] digest {:?} is not a digest edigate knows",
                        name.get_ref()
                    ),
                    Some("one of sha1, sha256, sha384, sha512".into()),
                );
                as2::Digest::Sha256
            }),
        };
        As2Partnership {
            encryption,
            digest,
            compress: raw_as2.compress,
            canonicalization: raw_as2.canonicalization,
            retransmission: raw_as2.retransmission,
            id: raw_as2.id.clone(),
            us: raw_as2.us.clone(),
            certificates,
            url: raw_as2.url.clone(),
            sign: raw_as2.sign,
            encrypt: raw_as2.encrypt,
            mdn: raw_as2.mdn,
            max_body_bytes: raw_as2.max_body_bytes,
        }
    });

    let mut inbound_email: Vec<String> = Vec::new();
    if let Some(mail) = raw.inbound.as_ref().and_then(|i| i.email.as_ref()) {
        if mail.get_ref().from.is_empty() {
            at(
                mail.span(),
                "[inbound.email] lists no sender address".into(),
                Some("from = [\"edi@partner.example\"]".into()),
            );
        }
        for address in &mail.get_ref().from {
            let lower = address.get_ref().trim().to_ascii_lowercase();
            if let Err(e) = crate::email::check_address(&lower) {
                at(
                    address.span(),
                    format!("[inbound.email] from: {e}"),
                    Some("write the address the partner's mails come from: from = [\"edi@partner.example\"]".into()),
                );
            } else if inbound_email.contains(&lower) {
                at(
                    address.span(),
                    format!("[inbound.email] from lists {lower:?} twice"),
                    None,
                );
            } else {
                inbound_email.push(lower);
            }
        }
    }

    let mut mappings = builtin;
    for (name, table) in &raw.mappings {
        if let Err(d) = overrides::apply(path, text, syntax, name, table, &mut mappings) {
            problems.push(d);
        }
    }

    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Partner {
        name: raw.name.unwrap_or_else(|| id.clone()),
        id,
        exchange,
        xml,
        duplicates,
        outbound,
        outbound_file_name,
        expect_within,
        ack_within,
        as2,
        inbound_email,
        mappings,
        origin: path.to_path_buf(),
    })
}

/// A duration as partner files write it: a whole number and one unit, `90s`, `30m`, `24h`,
/// `2d`, `1w`; never zero.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    let seconds_per: u64 = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "" if !digits.is_empty() => {
            return Err(format!("{text:?} has no unit"));
        }
        _ => return Err(format!("{text:?} is not a duration")),
    };
    match digits
        .parse::<u64>()
        .ok()
        .map(|n| n.checked_mul(seconds_per))
    {
        Some(Some(0)) => Err(format!("{text:?} is no time at all")),
        Some(Some(seconds)) => Ok(Duration::from_secs(seconds)),
        Some(None) => Err(format!("{text:?} is too long")),
        None => Err(format!("{text:?} is not a duration")),
    }
}

type At<'a> = dyn FnMut(std::ops::Range<usize>, String, Option<String>) + 'a;

fn check_x12(raw: &RawX12, builtin: &mapping::Mappings, at: &mut At<'_>) -> X12Exchange {
    let version = raw.version.get_ref().trim().to_string();
    let versions = known_versions(builtin, mapping::spec::Syntax::X12);
    if !versions.iter().any(|v| version.starts_with(v.as_str())) {
        at(
            raw.version.span(),
            format!("X12 version {version:?} has no specs or mappings here"),
            Some(format!("write one of: {}", versions.join(", "))),
        );
    }
    let partner = check_x12_id(raw.partner.get_ref(), at);
    let us = raw.us.as_ref().map(|u| check_x12_id(u.get_ref(), at));
    let messages = check_messages(
        &raw.messages,
        builtin,
        mapping::spec::Syntax::X12,
        &version,
        &["997", "999", "TA1"],
        at,
    );
    let functional_ack = match raw.ack.as_ref() {
        None => FunctionalAck::ByVersion,
        Some(a) => match a.get_ref().as_str() {
            "997" => FunctionalAck::Ack997,
            "999" if version.as_str() < "005010" => {
                at(
                    a.span(),
                    format!("999 is defined from 005010 on; this partner speaks {version}"),
                    Some("write ack = \"997\"".into()),
                );
                FunctionalAck::Ack997
            }
            "999" => FunctionalAck::Ack999,
            "none" => FunctionalAck::Never,
            other => {
                at(
                    a.span(),
                    format!("unknown acknowledgement {other:?}"),
                    Some("write ack = \"997\", \"999\" or \"none\"".into()),
                );
                FunctionalAck::ByVersion
            }
        },
    };
    X12Exchange {
        version,
        partner,
        us,
        messages,
        ta1: raw.ta1,
        functional_ack,
    }
}

fn check_x12_id(raw: &RawX12Id, at: &mut At<'_>) -> X12Id {
    let qualifier = raw.qualifier.get_ref().trim().to_string();
    if qualifier.len() != 2 || !qualifier.bytes().all(|b| b.is_ascii_alphanumeric()) {
        at(
            raw.qualifier.span(),
            format!("ISA qualifier {qualifier:?} must be two letters or digits"),
            Some(
                "write qualifier = \"ZZ\" (mutually defined), \"01\" (DUNS), \"12\" (phone) …"
                    .into(),
            ),
        );
    }
    let id = raw.id.get_ref().trim_end().to_string();
    if id.is_empty() || id.len() > 15 {
        at(
            raw.id.span(),
            format!("ISA id {id:?} must be 1 to 15 characters"),
            Some("write the id without its padding: id = \"ACMERETAIL\"".into()),
        );
    }
    let gs = raw.gs.as_ref().map(|g| {
        let g_value = g.get_ref().trim().to_string();
        if g_value.len() < 2 || g_value.len() > 15 {
            at(
                g.span(),
                format!("GS id {g_value:?} must be 2 to 15 characters"),
                None,
            );
        }
        g_value
    });
    X12Id { qualifier, id, gs }
}

fn check_edifact(
    raw: &RawEdifact,
    builtin: &mapping::Mappings,
    at: &mut At<'_>,
) -> EdifactExchange {
    let version = raw.version.get_ref().trim().to_ascii_uppercase();
    let versions = known_versions(builtin, mapping::spec::Syntax::Edifact);
    if !versions.contains(&version) {
        at(
            raw.version.span(),
            format!("EDIFACT directory {version:?} has no specs or mappings here"),
            Some(format!("write one of: {}", versions.join(", "))),
        );
    }
    let partner = check_edifact_id(raw.partner.get_ref(), at);
    let us = raw.us.as_ref().map(|u| check_edifact_id(u.get_ref(), at));
    let messages = check_messages(
        &raw.messages,
        builtin,
        mapping::spec::Syntax::Edifact,
        &version,
        &["CONTRL", "APERAK"],
        at,
    );
    EdifactExchange {
        version,
        partner,
        us,
        messages,
        contrl: raw.contrl,
    }
}

fn check_edifact_id(raw: &RawEdifactId, at: &mut At<'_>) -> EdifactId {
    let id = raw.id.get_ref().trim().to_string();
    if id.is_empty() || id.len() > 35 {
        at(
            raw.id.span(),
            format!("UNB id {id:?} must be 1 to 35 characters"),
            None,
        );
    }
    let qualifier = raw.qualifier.as_ref().map(|q| {
        let value = q.get_ref().trim().to_string();
        if value.is_empty() || value.len() > 4 {
            at(
                q.span(),
                format!("UNB qualifier {value:?} must be 1 to 4 characters"),
                Some("write qualifier = \"14\" (GLN) or \"ZZZ\" (mutually defined)".into()),
            );
        }
        value
    });
    EdifactId { id, qualifier }
}

/// The versions some mapping covers, in the order first seen.
fn known_versions(builtin: &mapping::Mappings, syntax: mapping::spec::Syntax) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in builtin.all().iter().filter(|m| m.syntax == syntax) {
        for v in &m.versions {
            if !out.contains(v) {
                out.push(v.clone());
            }
        }
    }
    out
}

fn check_messages(
    raw: &[Spanned<String>],
    builtin: &mapping::Mappings,
    syntax: mapping::spec::Syntax,
    version: &str,
    acks: &[&str],
    at: &mut At<'_>,
) -> Vec<String> {
    let mut known: Vec<&str> = builtin
        .all()
        .iter()
        .filter(|m| {
            m.syntax == syntax && m.versions.iter().any(|v| version.starts_with(v.as_str()))
        })
        .map(|m| m.message.as_str())
        .collect();
    known.extend_from_slice(acks);
    let mut out = Vec::new();
    for m in raw {
        let name = m.get_ref().trim().to_ascii_uppercase();
        if !known.contains(&name.as_str()) {
            let hint = match closest(&name, known.iter().copied()) {
                Some(c) => format!("did you mean \"{c}\"? known here: {}", known.join(", ")),
                None => format!("known here: {}", known.join(", ")),
            };
            at(
                m.span(),
                format!("no mapping for message {name:?} in {version}"),
                Some(hint),
            );
        }
        out.push(name);
    }
    out
}

/// The first problem of an outbound file name template: its byte offset in the template, what
/// is wrong and what to write instead. Unknown variables and path separators are found here so
/// they can be pointed at; whatever else the sftp crate's own check refuses (a leading dot, a
/// control character) is reported at the start.
fn check_file_name_template(template: &str, partner: &str) -> Option<(usize, String, String)> {
    let names: Vec<&str> = FILE_NAME_VARIABLES.iter().map(|(n, _)| *n).collect();
    let known = names
        .iter()
        .map(|n| format!("{{{n}}}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut i = 0;
    while let Some(c) = template.get(i..).and_then(|rest| rest.chars().next()) {
        let rest = template.get(i..).unwrap_or_default();
        if rest.starts_with("{{") || rest.starts_with("}}") {
            i += 2;
            continue;
        }
        match c {
            '/' | '\\' => {
                return Some((
                    i,
                    format!("the outbound file name {template:?} holds a path separator {c:?}"),
                    "write a plain file name: documents go into the outbound directory itself"
                        .into(),
                ));
            }
            '{' => {
                let Some(end) = rest.find('}') else {
                    return Some((
                        i,
                        format!("the outbound file name {template:?} has a \"{{\" never closed"),
                        format!("close it, or write \"{{{{\" for a brace; variables: {known}"),
                    ));
                };
                let name = &rest[1..end];
                if !names.contains(&name) {
                    let hint = match closest(name, names.iter().copied()) {
                        Some(c) => format!("did you mean {{{c}}}? variables: {known}"),
                        None => format!("variables: {known}"),
                    };
                    return Some((
                        i,
                        format!("unknown variable {{{name}}} in the outbound file name"),
                        hint,
                    ));
                }
                i += end + 1;
                continue;
            }
            _ => {}
        }
        i += c.len_utf8();
    }
    // Sample values of the right shape: what is left to refuse is the template itself.
    let sample: Vec<(&str, &str)> = names
        .iter()
        .map(|&n| {
            let value = match n {
                "partner" => partner,
                "type" => "997",
                "kind" => "functional",
                "control" => "000000001",
                "timestamp" => "20260101000000",
                _ => "x12",
            };
            (n, value)
        })
        .collect();
    match sftp::file_name(template, &sample) {
        Ok(_) => None,
        Err(e) => Some((
            0,
            format!("the outbound file name cannot be used: {e}"),
            "write a plain file name such as \"{partner}-{type}-{control}.{ext}\"".into(),
        )),
    }
}

fn is_partner_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && !id.starts_with('-')
}

/// A TOML error, with a suggestion when it is an unknown key close to a known one.
fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> Diagnostic {
    let offset = e.span().map_or(0, |s| s.start);
    let message = e.message().trim().to_string();
    let hint = unknown_key_hint(&message);
    Diagnostic::at(path, text, offset, message, hint)
}

/// serde's "unknown field `x`, expected one of `a`, `b`" (or "unknown variant") becomes a
/// suggestion of the closest expected name.
pub(crate) fn unknown_key_hint(message: &str) -> Option<String> {
    if !message.starts_with("unknown field") && !message.starts_with("unknown variant") {
        return None;
    }
    let names: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    let (given, expected) = names.split_first()?;
    match closest(given, expected.iter().copied()) {
        Some(c) => Some(format!("did you mean `{c}`?")),
        None if !expected.is_empty() => Some(format!(
            "write one of: {}",
            expected
                .iter()
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        None => None,
    }
}
