//! The little MIME this crate needs, on exact bytes.
//!
//! Signatures and MICs are computed over the bytes of a MIME entity as they travel, so parts are
//! cut out of the received bytes here rather than re-serialised from a parsed tree; `mail-parser`
//! reads the header fields (content type, parameters, transfer encoding, file name).

use base64::Engine as _;
use mail_parser::{MessageParser, MimeHeaders};
use openssl::hash::{MessageDigest, hash};

use crate::Error;

/// A MIME entity: header fields in order and the body bytes.
#[derive(Debug, Clone)]
pub(crate) struct Entity {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Entity {
    /// The entity as bytes: one `Name: value` line per field, CRLF line ends, a blank line, the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 256);
        for (k, v) in &self.headers {
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// What the header fields of an entity say.
#[derive(Debug, Default)]
pub(crate) struct Head {
    /// `type/subtype`, lower case.
    pub mime_type: String,
    pub boundary: Option<String>,
    pub smime_type: Option<String>,
    pub micalg: Option<String>,
    pub transfer_encoding: Option<String>,
    pub filename: Option<String>,
    /// The Content-Type field as written.
    pub content_type_raw: Option<String>,
}

/// Splits an entity at its first empty line (CRLF or bare LF) into header bytes and body.
///
/// Content without a header block is all body: some senders (Mendelson AS2, encrypting only)
/// put the bare payload inside the envelope. It is recognised by having no empty line, or a line
/// before it that is neither a `Name: value` field nor a folded continuation.
pub(crate) fn split_head(entity: &[u8]) -> (&[u8], &[u8]) {
    // An entity may start directly with the empty line (no fields).
    if entity.starts_with(b"\r\n") {
        return (&[], &entity[2..]);
    }
    if entity.starts_with(b"\n") {
        return (&[], &entity[1..]);
    }
    let mut line_start = 0;
    let mut i = 0;
    while i < entity.len() {
        if entity[i] == b'\n' {
            let line = &entity[line_start..i];
            if !is_field_line(line, line_start == 0) {
                return (&[], entity);
            }
            let rest = &entity[i + 1..];
            if rest.starts_with(b"\r\n") {
                return (&entity[..i + 1], &rest[2..]);
            }
            if rest.starts_with(b"\n") {
                return (&entity[..i + 1], &rest[1..]);
            }
            line_start = i + 1;
        }
        i += 1;
    }
    (&[], entity)
}

/// Whether `line` can belong to a header block: `Name: value` (the name printable ASCII without
/// spaces) or, after the first line, a folded continuation.
fn is_field_line(line: &[u8], first: bool) -> bool {
    if !first && line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
        return true;
    }
    match line.iter().position(|&b| b == b':') {
        Some(0) | None => false,
        Some(colon) => line[..colon].iter().all(|&b| b.is_ascii_graphic()),
    }
}

/// Reads the header fields of an entity.
pub(crate) fn head(entity: &[u8]) -> Head {
    let (fields, _) = split_head(entity);
    let mut with_end = fields.to_vec();
    with_end.extend_from_slice(b"\r\n");
    let Some(msg) = MessageParser::default().parse_headers(&with_end) else {
        return Head::default();
    };
    let mut h = Head::default();
    if let Some(ct) = msg.content_type() {
        h.mime_type = match ct.subtype() {
            Some(s) => format!("{}/{}", ct.ctype(), s),
            None => ct.ctype().to_string(),
        }
        .to_ascii_lowercase();
        h.boundary = ct.attribute("boundary").map(str::to_string);
        h.smime_type = ct.attribute("smime-type").map(|s| s.to_ascii_lowercase());
        h.micalg = ct.attribute("micalg").map(|s| s.to_ascii_lowercase());
    }
    h.transfer_encoding = msg
        .content_transfer_encoding()
        .map(|s| s.trim().to_ascii_lowercase());
    h.filename = msg.attachment_name().map(str::to_string);
    h.content_type_raw = msg.header_raw("Content-Type").map(|s| s.trim().to_string());
    h
}

/// Decodes a body by its Content-Transfer-Encoding (identity for 7bit, 8bit, binary and none).
pub(crate) fn decode_body(body: &[u8], transfer_encoding: Option<&str>) -> Result<Vec<u8>, Error> {
    match transfer_encoding {
        Some("base64") => {
            let clean: Vec<u8> = body
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(clean)
                .map_err(|e| Error::Mime(format!("bad base64 body: {e}")))
        }
        None | Some("7bit" | "8bit" | "binary") => Ok(body.to_vec()),
        Some(other) => Err(Error::Mime(format!(
            "unsupported Content-Transfer-Encoding {other}"
        ))),
    }
}

/// The parts of a multipart body, each as the exact bytes between its delimiter line and the
/// line break that precedes the next delimiter (RFC 2046 §5.1.1: that line break belongs to the
/// delimiter, not to the part).
pub(crate) fn multipart_parts<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<&'a [u8]>, Error> {
    let delim = format!("--{boundary}");
    let delim = delim.as_bytes();
    // Offsets of each delimiter line: at the start of the body or right after a line feed.
    let mut starts = Vec::new();
    let mut i = 0;
    while i + delim.len() <= body.len() {
        if (i == 0 || body[i - 1] == b'\n') && &body[i..i + delim.len()] == delim {
            starts.push(i);
            i += delim.len();
        } else {
            i += 1;
        }
    }
    let mut parts = Vec::new();
    for (n, &s) in starts.iter().enumerate() {
        let after = s + delim.len();
        if body[after..].starts_with(b"--") {
            break; // the close delimiter
        }
        // The rest of the delimiter line (transport padding) up to and including its line feed.
        let Some(nl) = body[after..].iter().position(|&b| b == b'\n') else {
            return Err(Error::Mime("multipart delimiter line without end".into()));
        };
        let part_start = after + nl + 1;
        let Some(&next) = starts.get(n + 1) else {
            return Err(Error::Mime("multipart body without close delimiter".into()));
        };
        let mut part_end = next;
        if part_end > part_start && body[part_end - 1] == b'\n' {
            part_end -= 1;
            if part_end > part_start && body[part_end - 1] == b'\r' {
                part_end -= 1;
            }
        }
        parts.push(&body[part_start..part_end.max(part_start)]);
    }
    if parts.is_empty() {
        return Err(Error::Mime(format!("no parts with boundary {boundary}")));
    }
    Ok(parts)
}

/// Bare LF line ends made CRLF (CRLF stays as it is): MIME's canonical form, which senders such
/// as pyas2lib sign for every content type but `application/octet-stream`.
pub(crate) fn canonicalize_crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 64);
    let mut prev = 0u8;
    for &b in data {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// A message integrity check: a digest, base64, and the name of its algorithm as AS2 writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mic {
    /// The digest, base64 encoded.
    pub digest: String,
    /// The algorithm, as in `micalg`: `sha-256`, `sha-384`, `sha-512` or `sha1`.
    pub algorithm: String,
}

impl Mic {
    /// The MIC of `data` with the algorithm named `micalg` (`sha-256`, `sha256`, `sha1`, ...).
    /// Unknown names fall back to SHA-256, the algorithm this crate signs with.
    pub(crate) fn compute(data: &[u8], micalg: &str) -> Result<Self, Error> {
        let (md, name) = digest_by_name(micalg);
        let d = hash(md, data).map_err(|source| Error::Crypto {
            operation: "digest",
            source,
        })?;
        Ok(Self {
            digest: base64::engine::general_purpose::STANDARD.encode(d),
            algorithm: name.to_string(),
        })
    }

    /// The value of a `Received-Content-MIC` field: `digest, algorithm`.
    pub fn to_field(&self) -> String {
        format!("{}, {}", self.digest, self.algorithm)
    }

    /// Whether a `Received-Content-MIC` value is this MIC (the algorithm's spelling may differ,
    /// `sha256` or `sha-256`).
    pub fn matches_field(&self, field: &str) -> bool {
        let mut it = field.splitn(2, ',');
        let digest = it.next().unwrap_or("").trim();
        let alg = it.next().map(str::trim).unwrap_or("");
        digest == self.digest && (alg.is_empty() || digest_by_name(alg).1 == self.algorithm)
    }
}

fn digest_by_name(name: &str) -> (MessageDigest, &'static str) {
    match name.trim().to_ascii_lowercase().replace('-', "").as_str() {
        "sha1" => (MessageDigest::sha1(), "sha1"),
        "sha384" => (MessageDigest::sha384(), "sha-384"),
        "sha512" => (MessageDigest::sha512(), "sha-512"),
        _ => (MessageDigest::sha256(), "sha-256"),
    }
}

/// Base64 in lines of 76 characters with CRLF, as MIME wants it.
pub(crate) fn base64_lines(data: &[u8]) -> Vec<u8> {
    let text = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = Vec::with_capacity(text.len() + text.len() / 38 + 2);
    for chunk in text.as_bytes().chunks(76) {
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A fresh random token (hex) for boundaries and message ids.
pub(crate) fn random_token() -> Result<String, Error> {
    let mut buf = [0u8; 16];
    openssl::rand::rand_bytes(&mut buf).map_err(|source| Error::Crypto {
        operation: "random",
        source,
    })?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// The value of a header (case-insensitive name) in a list of fields.
pub(crate) fn field<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_exclude_the_crlf_before_the_delimiter() {
        let body = b"preamble\r\n--b\r\nA: 1\r\n\r\nx\r\n\r\n--b\r\n\r\ny\r\n--b--\r\n";
        let parts = multipart_parts(body, "b").expect("parts");
        assert_eq!(parts, vec![&b"A: 1\r\n\r\nx\r\n"[..], &b"\r\ny"[..]]);
    }

    #[test]
    fn content_without_a_header_block_is_all_body() {
        let edifact = b"UNB+UNOA:2+S:14+R:14+140407:0910+5'\nUNH+1+ORDERS:D:96A:UN'\n";
        assert_eq!(split_head(edifact), (&b""[..], &edifact[..]));
        let x12 = b"ISA*00*  *00~\n\nGS*PO~\n";
        assert_eq!(split_head(x12), (&b""[..], &x12[..]));
        let entity = b"Content-Type: text/plain\r\n\tcharset=x\r\n\r\nbody";
        assert_eq!(
            split_head(entity),
            (
                &b"Content-Type: text/plain\r\n\tcharset=x\r\n"[..],
                &b"body"[..]
            )
        );
    }

    #[test]
    fn canonical_form_keeps_crlf() {
        assert_eq!(canonicalize_crlf(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n");
    }

    #[test]
    fn mic_field_matching_ignores_algorithm_spelling() {
        let m = Mic::compute(b"abc", "sha256").expect("mic");
        assert_eq!(m.algorithm, "sha-256");
        assert!(m.matches_field(&format!("{}, sha256", m.digest)));
        assert!(!m.matches_field("AAAA, sha-256"));
    }
}
