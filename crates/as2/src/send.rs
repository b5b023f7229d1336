//! Building an outgoing AS2 message.

use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::hash::MessageDigest;
use openssl::stack::Stack;
use openssl::symm::Cipher;

use crate::mime::{Entity, Mic, base64_lines, random_token};
use crate::{Certificate, Error, Identity, compress, signed_data};

/// The content encryption algorithm of an encrypted message (key transport is always RSA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    /// AES-128 in CBC mode.
    Aes128Cbc,
    /// AES-192 in CBC mode.
    Aes192Cbc,
    /// AES-256 in CBC mode.
    Aes256Cbc,
    /// Triple DES (DES-EDE3) in CBC mode: for old peers only.
    TripleDesCbc,
    /// AES-128 in GCM mode, as CMS AuthEnvelopedData (RFC 5083/5084; `smime-type=authEnveloped-data`).
    Aes128Gcm,
    /// AES-256 in GCM mode, as CMS AuthEnvelopedData.
    Aes256Gcm,
}

impl Encryption {
    /// Every choice, for listing in configuration errors.
    pub const ALL: [Self; 6] = [
        Self::Aes128Cbc,
        Self::Aes192Cbc,
        Self::Aes256Cbc,
        Self::TripleDesCbc,
        Self::Aes128Gcm,
        Self::Aes256Gcm,
    ];

    /// The name used in configuration: `aes128-cbc`, `aes192-cbc`, `aes256-cbc`, `3des-cbc`,
    /// `aes128-gcm`, `aes256-gcm`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Aes128Cbc => "aes128-cbc",
            Self::Aes192Cbc => "aes192-cbc",
            Self::Aes256Cbc => "aes256-cbc",
            Self::TripleDesCbc => "3des-cbc",
            Self::Aes128Gcm => "aes128-gcm",
            Self::Aes256Gcm => "aes256-gcm",
        }
    }

    /// The cipher named `name`: [`Encryption::name`]'s spelling, or pyas2lib's (`aes_256_cbc`,
    /// `tripledes_192_cbc`), case and `-`/`_` ignored; `None` when unknown.
    pub fn from_name(name: &str) -> Option<Self> {
        let n = name.trim().to_ascii_lowercase().replace(['-', '_'], "");
        match n.as_str() {
            "tripledes192cbc" | "tripledescbc" | "3des" | "desede3cbc" => Some(Self::TripleDesCbc),
            _ => Self::ALL
                .into_iter()
                .find(|e| e.name().replace('-', "") == n),
        }
    }

    fn cipher(self) -> Cipher {
        match self {
            Self::Aes128Cbc => Cipher::aes_128_cbc(),
            Self::Aes192Cbc => Cipher::aes_192_cbc(),
            Self::Aes256Cbc => Cipher::aes_256_cbc(),
            Self::TripleDesCbc => Cipher::des_ede3_cbc(),
            Self::Aes128Gcm => Cipher::aes_128_gcm(),
            Self::Aes256Gcm => Cipher::aes_256_gcm(),
        }
    }

    fn smime_type(self) -> &'static str {
        match self {
            Self::Aes128Gcm | Self::Aes256Gcm => "authEnveloped-data",
            _ => "enveloped-data",
        }
    }
}

/// The digest of signatures and MICs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Digest {
    /// SHA-1: for old peers only.
    Sha1,
    /// SHA-256, the default.
    #[default]
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Digest {
    /// The name as AS2 writes it in `micalg` and `Received-Content-MIC`: `sha1`, `sha-256`, ...
    pub fn micalg(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha-256",
            Self::Sha384 => "sha-384",
            Self::Sha512 => "sha-512",
        }
    }

    /// The digest named `name`, whatever the spelling (`sha256`, `SHA-256`); `None` when unknown.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().replace('-', "").as_str() {
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            "sha384" => Some(Self::Sha384),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// Every choice, for listing in configuration errors.
    pub const ALL: [Self; 4] = [Self::Sha1, Self::Sha256, Self::Sha384, Self::Sha512];

    pub(crate) fn message_digest(self) -> MessageDigest {
        match self {
            Self::Sha1 => MessageDigest::sha1(),
            Self::Sha256 => MessageDigest::sha256(),
            Self::Sha384 => MessageDigest::sha384(),
            Self::Sha512 => MessageDigest::sha512(),
        }
    }
}

/// How the payload's bytes travel inside the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransferEncoding {
    /// Byte for byte (`Content-Transfer-Encoding: binary`), the AS2 norm over HTTP.
    #[default]
    Binary,
    /// Base64 in lines of 76 characters, for peers that cannot take binary entities.
    Base64,
}

/// The partnership's choices for what we send, beyond [`Outgoing`].
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    /// The signature's digest; also the MIC's, and the `signed-receipt-micalg` asked of the
    /// partner for a signed MDN.
    pub digest: Digest,
    /// Compress the payload (RFC 5402 CMS compressed data, zlib) before signing.
    pub compress: bool,
    /// The payload's transfer encoding.
    pub transfer_encoding: TransferEncoding,
}

/// What receipt to ask the partner for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MdnRequest {
    /// No MDN.
    None,
    /// A synchronous MDN in the HTTP response; `signed` asks for it to be signed, with
    /// [`SendOptions::digest`] as `signed-receipt-micalg` (SHA-256 with [`build`]).
    Sync {
        /// The value of `Disposition-Notification-To` (an address; AS2 does not use it for routing).
        to: String,
        /// Whether the MDN must be signed.
        signed: bool,
    },
    /// An asynchronous MDN, POSTed by the partner to `url` later (`Receipt-Delivery-Option`);
    /// the HTTP response to the message itself carries no MDN.
    Async {
        /// The value of `Disposition-Notification-To`.
        to: String,
        /// Whether the MDN must be signed.
        signed: bool,
        /// Where the partner is to POST the MDN.
        url: String,
    },
}

/// How to build one outgoing message.
#[derive(Debug)]
pub struct Outgoing<'a> {
    /// Our AS2 name (`AS2-From`).
    pub from: &'a str,
    /// The partner's AS2 name (`AS2-To`).
    pub to: &'a str,
    /// The payload's content type: `application/edi-x12`, `application/edifact`,
    /// `application/octet-stream`, ...
    pub content_type: &'a str,
    /// The file name to announce in `Content-Disposition`, if any.
    pub filename: Option<&'a str>,
    /// The `Subject` header, if any.
    pub subject: Option<&'a str>,
    /// Our identity to sign with (detached `multipart/signed`; SHA-256 unless
    /// [`SendOptions::digest`] says otherwise), or no signature.
    pub sign: Option<&'a Identity>,
    /// The partner's certificate and the cipher to encrypt with, or no encryption.
    pub encrypt: Option<(&'a Certificate, Encryption)>,
    /// The receipt to request.
    pub mdn: MdnRequest,
}

/// A message ready to be POSTed: HTTP header fields and body.
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    /// The `Message-ID` without angle brackets (what the MDN's `Original-Message-ID` names).
    pub message_id: String,
    /// The HTTP header fields to send, `Content-Type` among them.
    pub headers: Vec<(String, String)>,
    /// The HTTP body.
    pub body: Vec<u8>,
    /// The MIC the partner's MDN must return (RFC 4130 §7.3.1): over the signed entity when
    /// signed, else over the payload entity.
    pub mic: Mic,
}

/// Builds an outgoing AS2 message for `payload` (sent byte for byte, `Content-Transfer-Encoding:
/// binary`, so no line ends are changed and the MIC is over exactly what is sent), signed with
/// SHA-256 and not compressed: [`build_with`] with the default [`SendOptions`].
pub fn build(payload: &[u8], out: &Outgoing<'_>) -> Result<OutgoingMessage, Error> {
    build_with(payload, out, &SendOptions::default())
}

/// Builds an outgoing AS2 message for `payload` with the partnership's digest, compression and
/// transfer encoding. The order is RFC 5402's: compress, sign, encrypt. Encrypting to a
/// certificate that is expired (or not yet valid) is refused with [`Error::Certificate`].
pub fn build_with(
    payload: &[u8],
    out: &Outgoing<'_>,
    opts: &SendOptions,
) -> Result<OutgoingMessage, Error> {
    if let Some((cert, _)) = out.encrypt {
        cert.check_valid_at(None)?;
    }
    check_name("AS2-From", out.from)?;
    check_name("AS2-To", out.to)?;
    if out.content_type.contains(['\r', '\n']) {
        return Err(Error::Header {
            name: "Content-Type",
            problem: "contains a line break".into(),
        });
    }
    let mut payload_headers = vec![
        ("Content-Type".to_string(), out.content_type.to_string()),
        (
            "Content-Transfer-Encoding".to_string(),
            match opts.transfer_encoding {
                TransferEncoding::Binary => "binary",
                TransferEncoding::Base64 => "base64",
            }
            .to_string(),
        ),
    ];
    if let Some(name) = out.filename {
        // Quotes and line breaks cannot be escaped portably in a filename parameter.
        let name: String = name
            .chars()
            .filter(|c| !matches!(c, '"' | '\\' | '\r' | '\n'))
            .collect();
        payload_headers.push((
            "Content-Disposition".to_string(),
            format!("attachment; filename=\"{name}\""),
        ));
    }
    let payload_entity = Entity {
        headers: payload_headers,
        body: match opts.transfer_encoding {
            TransferEncoding::Binary => payload.to_vec(),
            TransferEncoding::Base64 => base64_lines(payload),
        },
    };
    let payload_bytes = payload_entity.to_bytes();
    let micalg = opts.digest.micalg();
    // Unsigned, the receiver computes the MIC over the payload entity it finds after decrypting
    // and decompressing (over its content alone when it was neither encrypted nor compressed);
    // signed, over the signed entity (compressed, when compressed).
    let unsigned_mic = Mic::compute(&payload_bytes, micalg)?;
    let mut entity = payload_entity;
    if opts.compress {
        let der = compress::compress(&payload_bytes)
            .map_err(|e| Error::Mime(format!("compressing the payload: {e}")))?;
        entity = Entity {
            headers: vec![
                (
                    "Content-Type".to_string(),
                    "application/pkcs7-mime; smime-type=compressed-data; name=\"smime.p7z\""
                        .to_string(),
                ),
                (
                    "Content-Transfer-Encoding".to_string(),
                    "binary".to_string(),
                ),
                (
                    "Content-Disposition".to_string(),
                    "attachment; filename=\"smime.p7z\"".to_string(),
                ),
            ],
            body: der,
        };
    }
    let (mut entity, mic) = match out.sign {
        Some(id) => {
            let signed_bytes = entity.to_bytes();
            let mic = Mic::compute(&signed_bytes, micalg)?;
            (sign_entity_with(&signed_bytes, id, opts.digest)?, mic)
        }
        // Neither signed, encrypted nor compressed: over the content alone (RFC 4130 §7.3.1).
        None if out.encrypt.is_none() && !opts.compress => {
            let mic = Mic::compute(&entity.body, micalg)?;
            (entity, mic)
        }
        None => (entity, unsigned_mic),
    };

    if let Some((cert, enc)) = out.encrypt {
        let mut certs = Stack::new().map_err(|source| Error::Crypto {
            operation: "encrypt",
            source,
        })?;
        certs.push(cert.0.clone()).map_err(|source| Error::Crypto {
            operation: "encrypt",
            source,
        })?;
        let cms =
            CmsContentInfo::encrypt(&certs, &entity.to_bytes(), enc.cipher(), CMSOptions::BINARY)
                .and_then(|c| c.to_der())
                .map_err(|source| Error::Crypto {
                    operation: "encrypt",
                    source,
                })?;
        entity = Entity {
            headers: vec![
                (
                    "Content-Type".to_string(),
                    format!(
                        "application/pkcs7-mime; smime-type={}; name=\"smime.p7m\"",
                        enc.smime_type()
                    ),
                ),
                (
                    "Content-Transfer-Encoding".to_string(),
                    "binary".to_string(),
                ),
                (
                    "Content-Disposition".to_string(),
                    "attachment; filename=\"smime.p7m\"".to_string(),
                ),
            ],
            body: cms,
        };
    }

    let message_id = format!("{}@{}", random_token()?, sanitize_host(out.from));
    let mut headers = vec![
        ("AS2-Version".to_string(), "1.2".to_string()),
        ("AS2-From".to_string(), quote_name(out.from)),
        ("AS2-To".to_string(), quote_name(out.to)),
        ("Message-ID".to_string(), format!("<{message_id}>")),
        ("MIME-Version".to_string(), "1.0".to_string()),
    ];
    if let Some(s) = out.subject {
        headers.push(("Subject".to_string(), s.replace(['\r', '\n'], " ")));
    }
    let (to, signed, url) = match &out.mdn {
        MdnRequest::None => (None, false, None),
        MdnRequest::Sync { to, signed } => (Some(to), *signed, None),
        MdnRequest::Async { to, signed, url } => (Some(to), *signed, Some(url)),
    };
    if let Some(to) = to {
        headers.push((
            "Disposition-Notification-To".to_string(),
            to.replace(['\r', '\n'], ""),
        ));
        if let Some(url) = url {
            headers.push((
                "Receipt-Delivery-Option".to_string(),
                url.replace(['\r', '\n'], ""),
            ));
        }
        if signed {
            headers.push((
                "Disposition-Notification-Options".to_string(),
                format!("signed-receipt-protocol=required, pkcs7-signature; signed-receipt-micalg=required, {micalg}"),
            ));
        }
    }
    // The top entity's own fields travel as HTTP header fields.
    headers.extend(entity.headers);
    tracing::debug!(message_id = %message_id, from = out.from, to = out.to,
        signed = out.sign.is_some(), encrypted = out.encrypt.is_some(), "as2 message built");
    Ok(OutgoingMessage {
        message_id,
        headers,
        body: entity.body,
        mic,
    })
}

/// Wraps `content` (a complete MIME entity) in a detached `multipart/signed` with `digest`.
pub(crate) fn sign_entity_with(
    content: &[u8],
    id: &Identity,
    digest: Digest,
) -> Result<Entity, Error> {
    let sig = if digest == Digest::Sha256 {
        // OpenSSL's own CMS_sign, whose default digest for RSA is SHA-256. BINARY: the bytes are
        // signed as they are; the entity is already in the form it travels in.
        CmsContentInfo::sign(
            Some(&id.cert),
            Some(&id.key),
            None,
            Some(content),
            CMSOptions::DETACHED | CMSOptions::BINARY,
        )
        .and_then(|c| c.to_der())
        .map_err(|source| Error::Crypto {
            operation: "sign",
            source,
        })?
    } else {
        signed_data::sign_detached(content, &id.key, &id.cert, digest)?
    };
    let micalg = digest.micalg();
    let boundary = format!("----=_as2_{}", random_token()?);
    let mut body = Vec::with_capacity(content.len() + sig.len() * 2 + 512);
    body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
    body.extend_from_slice(
        b"Content-Type: application/pkcs7-signature; name=\"smime.p7s\"; smime-type=signed-data\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=\"smime.p7s\"\r\n\r\n",
    );
    body.extend_from_slice(&base64_lines(&sig));
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok(Entity {
        headers: vec![(
            "Content-Type".to_string(),
            format!(
                "multipart/signed; protocol=\"application/pkcs7-signature\"; micalg={micalg}; boundary=\"{boundary}\""
            ),
        )],
        body,
    })
}

fn check_name(header: &'static str, name: &str) -> Result<(), Error> {
    // RFC 4130 §6.2: 1 to 128 printable ASCII characters.
    if name.is_empty() || name.len() > 128 || !name.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(Error::Header {
            name: header,
            problem: format!("{name:?} is not 1-128 printable ASCII characters"),
        });
    }
    Ok(())
}

/// An AS2 name as a header value: quoted when it holds a space, quote or backslash (RFC 4130 §6.2).
pub(crate) fn quote_name(name: &str) -> String {
    if name.contains([' ', '"', '\\']) {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        name.to_string()
    }
}

/// The inverse of [`quote_name`].
pub(crate) fn unquote_name(value: &str) -> String {
    let v = value.trim();
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        let inner = &v[1..v.len() - 1];
        let mut out = String::with_capacity(inner.len());
        let mut esc = false;
        for c in inner.chars() {
            if esc || c != '\\' {
                out.push(c);
                esc = false;
            } else {
                esc = true;
            }
        }
        out
    } else {
        v.to_string()
    }
}

fn sanitize_host(name: &str) -> String {
    let s: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        .collect();
    if s.is_empty() { "as2".to_string() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for e in Encryption::ALL {
            assert_eq!(Encryption::from_name(e.name()), Some(e));
        }
        assert_eq!(
            Encryption::from_name("tripledes_192_cbc"),
            Some(Encryption::TripleDesCbc)
        );
        assert_eq!(
            Encryption::from_name("AES_256_CBC"),
            Some(Encryption::Aes256Cbc)
        );
        assert_eq!(Encryption::from_name("rc2-cbc"), None);
        for d in Digest::ALL {
            assert_eq!(Digest::from_name(d.micalg()), Some(d));
        }
        assert_eq!(Digest::from_name("md5"), None);
    }
}
