//! Reading an incoming AS2 message: decrypt, verify, extract, compute the MIC.

use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::stack::Stack;
use openssl::x509::X509;

use crate::mime::{
    self, Mic, canonicalize_crlf, decode_body, field, head, multipart_parts, split_head,
};
use crate::send::unquote_name;
use crate::{Certificate, Error, Identity, compress};

/// What we hold and require when reading messages from one partner.
#[derive(Debug)]
pub struct Receiver<'a> {
    /// Our identity: decrypts what is encrypted to us.
    pub own: &'a Identity,
    /// The partner's certificate: verifies their signatures.
    pub partner: &'a Certificate,
    /// Refuse unencrypted messages (`insufficient-message-security`).
    pub require_encryption: bool,
    /// Refuse unsigned messages (`insufficient-message-security`).
    pub require_signature: bool,
}

/// Which bytes a detached signature is checked against. Real peers differ in what they sign
/// when the entity's line ends are not CRLF on the wire (or were changed on the way):
/// - text: the whole entity in canonical MIME form, bare LF made CRLF (pyas2lib for every content
///   type but `application/octet-stream`);
/// - binary: the header fields in CRLF form, the body byte for byte (Mendelson AS2, and pyas2lib,
///   for a `Content-Transfer-Encoding: binary` part).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Canonicalization {
    /// The entity as received; failing that, the binary form; failing that, the text form.
    #[default]
    AsReceivedThenCrlf,
    /// The entity as received, or the binary form: a body is never verified with other line
    /// ends than it arrived with.
    Binary,
    /// Only the entity exactly as received: a signature over other line ends is an
    /// `integrity-check-failed`.
    Strict,
}

/// Per-partnership choices for reading messages, beyond [`Receiver`].
#[derive(Debug, Clone, Default)]
pub struct ReceiveOptions {
    /// Which bytes signatures are checked against.
    pub canonicalization: Canonicalization,
    /// The time at which the partner's certificate must be valid; now when `None`. A message
    /// spooled before the certificate expired is reprocessed as of its reception.
    pub certificates_valid_at: Option<std::time::SystemTime>,
}

/// The standard reasons an AS2 message is refused (RFC 4130 §7.4.3, `processed/error: ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureCode {
    /// The message could not be decrypted with our key.
    DecryptionFailed,
    /// The signature is not the partner's (unknown signer, unreadable signature).
    AuthenticationFailed,
    /// The partner signed it, but the content is not what was signed.
    IntegrityCheckFailed,
    /// The message is not signed or not encrypted though the agreement requires it.
    InsufficientMessageSecurity,
    /// The content is compressed, but not as zlib CMS compressed data we can read.
    DecompressionFailed,
    /// Anything else (malformed MIME, unsupported encodings).
    UnexpectedProcessingError,
}

impl FailureCode {
    /// The disposition modifier as written in an MDN.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DecryptionFailed => "decryption-failed",
            Self::AuthenticationFailed => "authentication-failed",
            Self::IntegrityCheckFailed => "integrity-check-failed",
            Self::InsufficientMessageSecurity => "insufficient-message-security",
            Self::DecompressionFailed => "decompression-failed",
            Self::UnexpectedProcessingError => "unexpected-processing-error",
        }
    }
}

/// Why a message was refused: the code for the MDN and a detail for our logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The standard code.
    pub code: FailureCode,
    /// What exactly happened (for logs; not sent to the partner).
    pub detail: String,
}

impl Failure {
    fn new(code: FailureCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }
}

/// The receipt a sender asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdnRequested {
    /// Whether the MDN must be signed (`signed-receipt-protocol=...pkcs7-signature`).
    pub signed: bool,
    /// The MIC algorithm asked for (`signed-receipt-micalg`), `sha-256` when none.
    pub micalg: String,
    /// Where to POST an asynchronous MDN (`Receipt-Delivery-Option`); `None` for a sync MDN.
    pub async_url: Option<String>,
}

/// The payload of a message that was read successfully.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// Its content type (`application/edi-x12`, ...), lower case, without parameters.
    pub content_type: String,
    /// The file name the sender gave, if any.
    pub filename: Option<String>,
    /// The content, decoded from its transfer encoding, line ends as received.
    pub data: Vec<u8>,
}

/// Everything read from one incoming message, whether it was accepted or not.
#[derive(Debug, Clone)]
pub struct Reception {
    /// `Message-ID` without angle brackets.
    pub message_id: String,
    /// The sender's AS2 name (`AS2-From`).
    pub from: String,
    /// Our AS2 name as the sender wrote it (`AS2-To`).
    pub to: String,
    /// Whether the message was encrypted.
    pub encrypted: bool,
    /// Whether the message was signed.
    pub signed: bool,
    /// Whether the message was compressed (CMS compressed data, before or after signing).
    pub compressed: bool,
    /// The MIC to return in the MDN (over the signed entity, as signed), when it could be computed.
    pub mic: Option<Mic>,
    /// The receipt asked for, if any.
    pub mdn: Option<MdnRequested>,
    /// The payload, or why the message is refused.
    pub outcome: Result<Payload, Failure>,
}

/// Reads an AS2 message from its HTTP header fields and body, with the default
/// [`ReceiveOptions`] (signatures checked as received, then in CRLF form; certificates valid now).
///
/// Fails only when the message cannot be answered at all (no `Message-ID`, `AS2-From` or
/// `AS2-To`); every other problem is a [`Failure`] in the returned [`Reception`], to be reported
/// in the MDN.
pub fn receive(
    headers: &[(String, String)],
    body: &[u8],
    r: &Receiver<'_>,
) -> Result<Reception, Error> {
    receive_with(headers, body, r, &ReceiveOptions::default())
}

/// Reads an AS2 message like [`receive`], with the partnership's [`ReceiveOptions`].
///
/// The payload may travel binary or base64; encrypted as CMS EnvelopedData (AES-128/192/256-CBC,
/// 3DES) or AuthEnvelopedData (AES-GCM); signed with SHA-1/256/384/512, RSA PKCS#1 v1.5 or
/// RSASSA-PSS; compressed before or after signing.
pub fn receive_with(
    headers: &[(String, String)],
    body: &[u8],
    r: &Receiver<'_>,
    opts: &ReceiveOptions,
) -> Result<Reception, Error> {
    let message_id = required(headers, "Message-ID")?
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string();
    let from = unquote_name(required(headers, "AS2-From")?);
    let to = unquote_name(required(headers, "AS2-To")?);
    let mdn = mdn_requested(headers);
    // The MIC algorithm the sender asked for, if it named one we know (`signed-receipt-micalg`).
    let asked_micalg = micalg_named(headers)
        .then(|| mdn.as_ref().map(|m| m.micalg.clone()))
        .flatten();

    // AS2 carries the top entity's own fields as HTTP fields; put them back in front of the body.
    let mut top = Vec::with_capacity(body.len() + 256);
    for name in [
        "Content-Type",
        "Content-Transfer-Encoding",
        "Content-Disposition",
    ] {
        if let Some(v) = field(headers, name) {
            top.extend_from_slice(format!("{name}: {v}\r\n").as_bytes());
        }
    }
    top.extend_from_slice(b"\r\n");
    top.extend_from_slice(body);

    let mut rec = Reception {
        message_id,
        from,
        to,
        encrypted: false,
        signed: false,
        compressed: false,
        mic: None,
        mdn,
        outcome: Err(Failure::new(
            FailureCode::UnexpectedProcessingError,
            "not read",
        )),
    };
    rec.outcome = read_entity(&top, r, asked_micalg.as_deref(), opts, &mut rec);
    match &rec.outcome {
        Ok(p) => {
            tracing::info!(message_id = %rec.message_id, from = %rec.from, signed = rec.signed,
            encrypted = rec.encrypted, compressed = rec.compressed, bytes = p.data.len(), "as2 message accepted")
        }
        Err(f) => {
            tracing::warn!(message_id = %rec.message_id, from = %rec.from, code = f.code.as_str(),
            detail = %f.detail, "as2 message refused")
        }
    }
    Ok(rec)
}

fn required<'a>(headers: &'a [(String, String)], name: &'static str) -> Result<&'a str, Error> {
    match field(headers, name) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(Error::Header {
            name,
            problem: "missing".into(),
        }),
    }
}

fn mdn_requested(headers: &[(String, String)]) -> Option<MdnRequested> {
    field(headers, "Disposition-Notification-To")?;
    let options = field(headers, "Disposition-Notification-Options")
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut signed = false;
    let mut micalg = "sha-256".to_string();
    // e.g. `signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, sha-256`
    for param in options.split(';') {
        let Some((name, value)) = param.split_once('=') else {
            continue;
        };
        let values: Vec<&str> = value.split(',').map(str::trim).collect();
        match name.trim() {
            "signed-receipt-protocol" => {
                signed = values.iter().skip(1).any(|v| *v == "pkcs7-signature")
            }
            "signed-receipt-micalg" => {
                // The first algorithm we know, in the sender's order of preference.
                if let Some(alg) = values.iter().skip(1).find(|a| {
                    matches!(
                        a.replace('-', "").as_str(),
                        "sha256" | "sha384" | "sha512" | "sha1"
                    )
                }) {
                    micalg = (*alg).to_string();
                }
            }
            _ => {}
        }
    }
    let async_url = field(headers, "Receipt-Delivery-Option").map(str::to_string);
    Some(MdnRequested {
        signed,
        micalg,
        async_url,
    })
}

/// Whether `Disposition-Notification-Options` names a MIC algorithm we know.
fn micalg_named(headers: &[(String, String)]) -> bool {
    let options = field(headers, "Disposition-Notification-Options").unwrap_or("");
    options.split(';').any(|param| {
        param.split_once('=').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("signed-receipt-micalg")
                && value
                    .split(',')
                    .skip(1)
                    .any(|a| crate::Digest::from_name(a).is_some())
        })
    })
}

fn unexpected(e: impl std::fmt::Display) -> Failure {
    Failure::new(FailureCode::UnexpectedProcessingError, e.to_string())
}

fn read_entity(
    top: &[u8],
    r: &Receiver<'_>,
    asked_micalg: Option<&str>,
    opts: &ReceiveOptions,
    rec: &mut Reception,
) -> Result<Payload, Failure> {
    let micalg = asked_micalg.unwrap_or("sha-256");
    let mut entity: Vec<u8> = top.to_vec();
    let h = head(&entity);
    if is_pkcs7_mime(&h.mime_type)
        && h.smime_type
            .as_deref()
            .is_none_or(|t| t == "enveloped-data" || t == "authenveloped-data")
    {
        rec.encrypted = true;
        let (_, body) = split_head(&entity);
        let der = decode_body(body, h.transfer_encoding.as_deref())
            .map_err(|e| Failure::new(FailureCode::DecryptionFailed, e.to_string()))?;
        let cms = CmsContentInfo::from_der(&der).map_err(|e| {
            Failure::new(
                FailureCode::DecryptionFailed,
                format!("not CMS enveloped data: {e}"),
            )
        })?;
        entity = cms.decrypt(&r.own.key, &r.own.cert).map_err(|e| {
            Failure::new(
                FailureCode::DecryptionFailed,
                format!("cannot decrypt with our key: {e}"),
            )
        })?;
    } else if r.require_encryption {
        return Err(Failure::new(
            FailureCode::InsufficientMessageSecurity,
            "message is not encrypted",
        ));
    }

    let mut h = head(&entity);
    // Compressed after signing: the signed entity is inside.
    if let Some(inner) = uncompressed(&entity, &h)? {
        rec.compressed = true;
        entity = inner;
        h = head(&entity);
    }
    if h.mime_type == "multipart/signed" {
        rec.signed = true;
        let boundary = h
            .boundary
            .as_deref()
            .ok_or_else(|| unexpected("multipart/signed without boundary"))?;
        let (_, body) = split_head(&entity);
        let parts = multipart_parts(body, boundary).map_err(unexpected)?;
        let (Some(content), Some(sig_part)) = (parts.first(), parts.get(1)) else {
            return Err(unexpected("multipart/signed needs two parts"));
        };
        let sh = head(sig_part);
        let (_, sig_body) = split_head(sig_part);
        let sig = decode_body(sig_body, sh.transfer_encoding.as_deref())
            .map_err(|e| Failure::new(FailureCode::AuthenticationFailed, e.to_string()))?;
        r.partner
            .check_valid_at(opts.certificates_valid_at)
            .map_err(|e| Failure::new(FailureCode::AuthenticationFailed, e.to_string()))?;
        let signed_bytes = verify_detached(content, &sig, &r.partner.0, opts.canonicalization)?;
        // RFC 4130 §7.3.1: the MIC is over the signed entity, with the algorithm the sender
        // asked for, else the one it signed with.
        let alg = asked_micalg.or(h.micalg.as_deref()).unwrap_or(micalg);
        rec.mic = Some(Mic::compute(&signed_bytes, alg).map_err(unexpected)?);
        let mut content = content.to_vec();
        let mut ch = head(&content);
        // Compressed before signing (what RFC 5402 recommends): the MIC above is over the
        // compressed entity, as signed; the payload is inside.
        if let Some(inner) = uncompressed(&content, &ch)? {
            rec.compressed = true;
            content = inner;
            ch = head(&content);
        }
        payload_of(&content, ch)
    } else {
        if r.require_signature {
            return Err(Failure::new(
                FailureCode::InsufficientMessageSecurity,
                "message is not signed",
            ));
        }
        // RFC 4130 §7.3.1: unsigned but encrypted, over the decrypted entity, header and
        // content; neither, over the content alone, without any header field, since whatever
        // carried it may have rewritten those.
        let over = if rec.encrypted || rec.compressed {
            entity.as_slice()
        } else {
            split_head(&entity).1
        };
        rec.mic = Some(Mic::compute(over, micalg).map_err(unexpected)?);
        payload_of(&entity, h)
    }
}

fn is_pkcs7_mime(t: &str) -> bool {
    t == "application/pkcs7-mime" || t == "application/x-pkcs7-mime"
}

/// The entity inside `entity` when it is CMS compressed data (RFC 5402), else `None`.
fn uncompressed(entity: &[u8], h: &mime::Head) -> Result<Option<Vec<u8>>, Failure> {
    if !(is_pkcs7_mime(&h.mime_type) && h.smime_type.as_deref() == Some("compressed-data")) {
        return Ok(None);
    }
    let (_, body) = split_head(entity);
    let ber = decode_body(body, h.transfer_encoding.as_deref())
        .map_err(|e| Failure::new(FailureCode::DecompressionFailed, e.to_string()))?;
    compress::decompress(&ber)
        .map(Some)
        .map_err(|e| Failure::new(FailureCode::DecompressionFailed, e))
}

fn payload_of(entity: &[u8], h: mime::Head) -> Result<Payload, Failure> {
    let (_, body) = split_head(entity);
    let data = decode_body(body, h.transfer_encoding.as_deref()).map_err(unexpected)?;
    let content_type = if h.mime_type.is_empty() {
        "text/plain".to_string()
    } else {
        h.mime_type
    };
    Ok(Payload {
        content_type,
        filename: h.filename,
        data,
    })
}

/// Verifies a detached CMS signature over `content` as received and, failing that, over its
/// canonical CRLF form (what senders that canonicalise text sign); returns the bytes that verified.
pub(crate) fn verify_detached(
    content: &[u8],
    sig_der: &[u8],
    partner: &X509,
    canonicalization: Canonicalization,
) -> Result<Vec<u8>, Failure> {
    let mut certs = Stack::new().map_err(unexpected)?;
    certs.push(partner.clone()).map_err(unexpected)?;
    // NOINTERN: only the pinned partner certificate may be the signer, whatever certificates
    // the signature carries; NO_SIGNER_CERT_VERIFY: no chain to build for a pinned certificate.
    let flags = CMSOptions::NOINTERN | CMSOptions::NO_SIGNER_CERT_VERIFY | CMSOptions::BINARY;
    let attempt = |data: &[u8], extra: CMSOptions| -> Result<(), String> {
        let mut cms =
            CmsContentInfo::from_der(sig_der).map_err(|e| format!("unreadable signature: {e}"))?;
        cms.verify(Some(&certs), None, Some(data), None, flags | extra)
            .map_err(|e| e.to_string())
    };
    let first = match attempt(content, CMSOptions::empty()) {
        Ok(()) => return Ok(content.to_vec()),
        Err(e) => e,
    };
    if canonicalization != Canonicalization::Strict {
        let (fields, body) = split_head(content);
        let mut binary = canonicalize_crlf(fields);
        binary.extend_from_slice(b"\r\n");
        binary.extend_from_slice(body);
        if binary != content && attempt(&binary, CMSOptions::empty()).is_ok() {
            return Ok(binary);
        }
    }
    if canonicalization == Canonicalization::AsReceivedThenCrlf {
        let canonical = canonicalize_crlf(content);
        if canonical != content && attempt(&canonical, CMSOptions::empty()).is_ok() {
            return Ok(canonical);
        }
    }
    // Which failed: the signer (authentication) or the content digest (integrity)?
    match attempt(content, CMSOptions::NO_CONTENT_VERIFY) {
        Ok(()) => Err(Failure::new(
            FailureCode::IntegrityCheckFailed,
            format!("content does not match the signature: {first}"),
        )),
        Err(_) => Err(Failure::new(
            FailureCode::AuthenticationFailed,
            format!("not signed by the partner's certificate: {first}"),
        )),
    }
}
