//! MDNs (RFC 4130 §7, RFC 3798): answering a message, and reading a partner's answer.

use crate::mime::{
    Entity, Mic, canonicalize_crlf, decode_body, field, head, multipart_parts, random_token,
    split_head,
};
use crate::receive::{Canonicalization, Reception, verify_detached};
use crate::send::{quote_name, sign_entity_with};
use crate::{Certificate, Digest, Error, Identity, OutgoingMessage};

/// An MDN ready to be sent: the HTTP header fields and body of the response (sync MDN).
#[derive(Debug, Clone)]
pub struct MdnResponse {
    /// HTTP header fields, `Content-Type` among them.
    pub headers: Vec<(String, String)>,
    /// HTTP body.
    pub body: Vec<u8>,
}

/// Builds the MDN answering `rec`: `processed` with the MIC, or `processed/error: <code>`.
/// Signed with `own` when the sender asked for a signed receipt, with the digest it asked for
/// (`signed-receipt-micalg`).
pub fn build_mdn(
    rec: &Reception,
    own: &Identity,
    reporting_ua: &str,
) -> Result<MdnResponse, Error> {
    build_mdn_inner(rec, own, reporting_ua, None)
}

/// [`build_mdn`] for a message taken with a warning: `processed/warning: <warning>` (RFC 4130
/// §7.4.3), with the MIC like any positive MDN — for example `duplicate-document` for a
/// message received before. A refused `rec` gets its error disposition, as with [`build_mdn`].
pub fn build_mdn_warning(
    rec: &Reception,
    own: &Identity,
    reporting_ua: &str,
    warning: &str,
) -> Result<MdnResponse, Error> {
    build_mdn_inner(rec, own, reporting_ua, Some(warning))
}

fn build_mdn_inner(
    rec: &Reception,
    own: &Identity,
    reporting_ua: &str,
    warning: Option<&str>,
) -> Result<MdnResponse, Error> {
    let (disposition, text) = match (&rec.outcome, warning) {
        (Ok(_), None) => (
            "automatic-action/MDN-sent-automatically; processed".to_string(),
            "The AS2 message has been received and processed.".to_string(),
        ),
        (Ok(_), Some(w)) => {
            let w = w.replace(['\r', '\n'], " ");
            (
                format!("automatic-action/MDN-sent-automatically; processed/warning: {w}"),
                format!("The AS2 message has been received, with a warning: {w}."),
            )
        }
        (Err(f), _) => (
            format!(
                "automatic-action/MDN-sent-automatically; processed/error: {}",
                f.code.as_str()
            ),
            format!(
                "The AS2 message could not be processed: {}.",
                f.code.as_str()
            ),
        ),
    };
    let ua = reporting_ua.replace(['\r', '\n'], " ");
    let to = rec.to.replace(['\r', '\n'], " ");
    let mut report = format!(
        "Reporting-UA: {ua}\r\nOriginal-Recipient: rfc822; {to}\r\nFinal-Recipient: rfc822; {to}\r\n\
Original-Message-ID: <{}>\r\nDisposition: {disposition}\r\n",
        rec.message_id.replace(['\r', '\n'], "")
    );
    if let (Ok(_), Some(mic)) = (&rec.outcome, &rec.mic) {
        report.push_str(&format!("Received-Content-MIC: {}\r\n", mic.to_field()));
    }
    let boundary = format!("----=_mdn_{}", random_token()?);
    let mut body = Vec::new();
    body.extend_from_slice(format!("--{boundary}\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n\r\n{text}\r\n").as_bytes());
    body.extend_from_slice(format!("--{boundary}\r\nContent-Type: message/disposition-notification\r\nContent-Transfer-Encoding: 7bit\r\n\r\n").as_bytes());
    body.extend_from_slice(report.as_bytes());
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let mut entity = Entity {
        headers: vec![(
            "Content-Type".to_string(),
            format!(
                "multipart/report; report-type=disposition-notification; boundary=\"{boundary}\""
            ),
        )],
        body,
    };
    if let Some(m) = rec.mdn.as_ref().filter(|m| m.signed) {
        let digest = Digest::from_name(&m.micalg).unwrap_or_default();
        entity = sign_entity_with(&entity.to_bytes(), own, digest)?;
    }
    let mut headers = vec![
        ("AS2-Version".to_string(), "1.2".to_string()),
        ("AS2-From".to_string(), quote_name(&rec.to)),
        ("AS2-To".to_string(), quote_name(&rec.from)),
        (
            "Message-ID".to_string(),
            format!("<{}@mdn>", random_token()?),
        ),
        ("MIME-Version".to_string(), "1.0".to_string()),
    ];
    headers.extend(entity.headers);
    tracing::debug!(message_id = %rec.message_id, disposition = %disposition, "as2 mdn built");
    Ok(MdnResponse {
        headers,
        body: entity.body,
    })
}

/// What a partner's MDN says about a message we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MdnStatus {
    /// Processed, the signature (when required) verified and the MIC matched.
    Processed,
    /// Processed with a warning (`processed/warning: ...`).
    Warning(String),
    /// Not processed, or the MDN cannot be trusted; the reason says which.
    Failed(String),
}

/// A partner's MDN, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdnReport {
    /// `Original-Message-ID`, without angle brackets.
    pub original_message_id: Option<String>,
    /// The `Disposition` field as written.
    pub disposition: Option<String>,
    /// The `Received-Content-MIC` field as written.
    pub returned_mic: Option<String>,
    /// Whether the MDN was signed (and the signature verified against the partner certificate).
    pub signed: bool,
    /// The verdict.
    pub status: MdnStatus,
}

/// What [`read_mdn_with`] insists on.
#[derive(Debug, Clone)]
pub struct MdnCheck {
    /// Refuse an unsigned MDN (we asked for a signed one).
    pub require_signed: bool,
    /// Refuse a `processed` MDN without `Received-Content-MIC`. Some peers (pyas2lib) return no
    /// MIC for unsigned messages; a MIC that is returned must match whatever this says.
    pub require_mic: bool,
    /// The time at which the partner's certificate must be valid; now when `None`.
    pub certificates_valid_at: Option<std::time::SystemTime>,
}

impl Default for MdnCheck {
    fn default() -> Self {
        Self {
            require_signed: true,
            require_mic: true,
            certificates_valid_at: None,
        }
    }
}

/// Reads the MDN answering `sent`, from the HTTP header fields and body of the response.
///
/// The signature is verified against `partner` (refused if `require_signed` and it is missing),
/// the `Original-Message-ID` must be the message's, and a `processed` disposition needs the MIC
/// we computed when sending. [`read_mdn_with`] with a MIC required and the certificate valid now.
pub fn read_mdn(
    headers: &[(String, String)],
    body: &[u8],
    partner: &Certificate,
    sent: &OutgoingMessage,
    require_signed: bool,
) -> Result<MdnReport, Error> {
    read_mdn_with(
        headers,
        body,
        partner,
        sent,
        &MdnCheck {
            require_signed,
            ..MdnCheck::default()
        },
    )
}

/// Reads the MDN answering `sent` like [`read_mdn`], checking what `check` says. A signed MDN is
/// verified as received, then in canonical CRLF form; with a partner certificate that is not
/// valid at `check.certificates_valid_at`, the MDN is not trusted.
pub fn read_mdn_with(
    headers: &[(String, String)],
    body: &[u8],
    partner: &Certificate,
    sent: &OutgoingMessage,
    check: &MdnCheck,
) -> Result<MdnReport, Error> {
    let require_signed = check.require_signed;
    let mut top = Vec::with_capacity(body.len() + 256);
    for name in ["Content-Type", "Content-Transfer-Encoding"] {
        if let Some(v) = field(headers, name) {
            top.extend_from_slice(format!("{name}: {v}\r\n").as_bytes());
        }
    }
    top.extend_from_slice(b"\r\n");
    top.extend_from_slice(body);

    let mut report = MdnReport {
        original_message_id: None,
        disposition: None,
        returned_mic: None,
        signed: false,
        status: MdnStatus::Failed(String::new()),
    };
    let h = head(&top);
    let report_entity: Vec<u8> = if h.mime_type == "multipart/signed" {
        let boundary = h
            .boundary
            .as_deref()
            .ok_or_else(|| Error::Mime("multipart/signed without boundary".into()))?;
        let (_, b) = split_head(&top);
        let parts = multipart_parts(b, boundary)?;
        let (Some(content), Some(sig_part)) = (parts.first(), parts.get(1)) else {
            return Err(Error::Mime("multipart/signed needs two parts".into()));
        };
        let sh = head(sig_part);
        let (_, sb) = split_head(sig_part);
        let sig = decode_body(sb, sh.transfer_encoding.as_deref())?;
        if let Err(e) = partner.check_valid_at(check.certificates_valid_at) {
            report.status = MdnStatus::Failed(format!("MDN signature: {e}"));
            return Ok(report);
        }
        if let Err(f) = verify_detached(
            content,
            &sig,
            &partner.0,
            Canonicalization::AsReceivedThenCrlf,
        ) {
            report.status =
                MdnStatus::Failed(format!("MDN signature: {} ({})", f.code.as_str(), f.detail));
            return Ok(report);
        }
        report.signed = true;
        content.to_vec()
    } else {
        if require_signed {
            report.status =
                MdnStatus::Failed("unsigned MDN where a signed one was requested".into());
            return Ok(report);
        }
        top.clone()
    };

    let fields = disposition_fields(&report_entity)?;
    let get = |n: &str| {
        fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    report.original_message_id = get("Original-Message-ID").map(|v| {
        v.trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_string()
    });
    report.disposition = get("Disposition");
    report.returned_mic = get("Received-Content-MIC");

    if report.original_message_id.as_deref() != Some(sent.message_id.as_str()) {
        report.status = MdnStatus::Failed(format!(
            "MDN answers message {:?}, not {}",
            report.original_message_id, sent.message_id
        ));
        return Ok(report);
    }
    let Some(disp) = report.disposition.clone() else {
        report.status = MdnStatus::Failed("MDN without Disposition".into());
        return Ok(report);
    };
    // "automatic-action/MDN-sent-automatically; processed[/error|/warning|...][: modifier]"
    let disposition = disp.rsplit(';').next().unwrap_or("").trim();
    let (kind, modifier) = match disposition.split_once(':') {
        Some((k, m)) => (k.trim().to_ascii_lowercase(), m.trim().to_string()),
        None => (disposition.to_ascii_lowercase(), String::new()),
    };
    report.status = match kind.as_str() {
        "processed" => check_mic(&sent.mic, report.returned_mic.as_deref(), check.require_mic),
        k if k.starts_with("processed/warning") => MdnStatus::Warning(modifier),
        _ => MdnStatus::Failed(if modifier.is_empty() {
            kind
        } else {
            format!("{kind}: {modifier}")
        }),
    };
    tracing::info!(message_id = %sent.message_id, status = ?report.status, "as2 mdn read");
    Ok(report)
}

fn check_mic(expected: &Mic, returned: Option<&str>, required: bool) -> MdnStatus {
    match returned {
        None if !required => MdnStatus::Processed,
        Some(r) if expected.matches_field(r) => MdnStatus::Processed,
        Some(r) => MdnStatus::Failed(format!(
            "MIC mismatch: sent {}, partner computed {r}",
            expected.to_field()
        )),
        None => MdnStatus::Failed("MDN returned no MIC".into()),
    }
}

/// The `Original-Message-ID` of an MDN, read without checking anything: for an asynchronous MDN,
/// to find the message it answers before checking it with [`read_mdn`].
pub fn mdn_original_message_id(headers: &[(String, String)], body: &[u8]) -> Result<String, Error> {
    let mut top = Vec::with_capacity(body.len() + 256);
    for name in ["Content-Type", "Content-Transfer-Encoding"] {
        if let Some(v) = field(headers, name) {
            top.extend_from_slice(format!("{name}: {v}\r\n").as_bytes());
        }
    }
    top.extend_from_slice(b"\r\n");
    top.extend_from_slice(body);
    let h = head(&top);
    let report: Vec<u8> = if h.mime_type == "multipart/signed" {
        let boundary = h
            .boundary
            .as_deref()
            .ok_or_else(|| Error::Mime("multipart/signed without boundary".into()))?;
        let (_, b) = split_head(&top);
        let parts = multipart_parts(b, boundary)?;
        parts
            .first()
            .map(|p| p.to_vec())
            .ok_or_else(|| Error::Mime("multipart/signed without parts".into()))?
    } else {
        top
    };
    disposition_fields(&report)?
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Original-Message-ID"))
        .map(|(_, v)| {
            v.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
        .ok_or_else(|| Error::Mime("MDN without Original-Message-ID".into()))
}

/// The fields of the `message/disposition-notification` part of a `multipart/report` entity.
fn disposition_fields(entity: &[u8]) -> Result<Vec<(String, String)>, Error> {
    let h = head(entity);
    if h.mime_type != "multipart/report" {
        return Err(Error::Mime(format!(
            "MDN is {:?}, not multipart/report",
            h.mime_type
        )));
    }
    let boundary = h
        .boundary
        .as_deref()
        .ok_or_else(|| Error::Mime("multipart/report without boundary".into()))?;
    let (_, body) = split_head(entity);
    for part in multipart_parts(body, boundary)? {
        let ph = head(part);
        if ph.mime_type == "message/disposition-notification" {
            let (_, b) = split_head(part);
            let b = decode_body(b, ph.transfer_encoding.as_deref())?;
            return Ok(parse_fields(&canonicalize_crlf(&b)));
        }
    }
    Err(Error::Mime(
        "no message/disposition-notification part".into(),
    ))
}

/// `Name: value` lines, folded lines joined.
fn parse_fields(b: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(b);
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}
