//! The crate against itself: what `build` makes, `receive` reads, and `read_mdn` checks the
//! answer of `build_mdn`; tampered and misaddressed messages give the standard failure codes.

mod common;

use as2::{
    Encryption, FailureCode, MdnRequest, MdnStatus, Outgoing, OutgoingMessage, Receiver, build,
    build_mdn, read_mdn, receive,
};
use common::{certificate, identity, make_certs};

const X12: &[u8] = b"ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240101*1200*U*00401*000000001*0*P*>~\nGS*PO*S*R*20240101*1200*1*X*004010~\nGE*0*1~\nIEA*1*000000001~\n";

struct Setup {
    _dir: tempfile::TempDir,
    edigate: as2::Identity,
    partner: as2::Identity,
    edigate_cert: as2::Certificate,
    partner_cert: as2::Certificate,
    stranger: as2::Identity,
    stranger_cert: as2::Certificate,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    make_certs(dir.path(), &["edigate", "partner", "stranger"]);
    Setup {
        edigate: identity(dir.path(), "edigate"),
        partner: identity(dir.path(), "partner"),
        edigate_cert: certificate(dir.path(), "edigate"),
        partner_cert: certificate(dir.path(), "partner"),
        stranger: identity(dir.path(), "stranger"),
        stranger_cert: certificate(dir.path(), "stranger"),
        _dir: dir,
    }
}

/// Edigate sends to the partner: signed with `signer`, encrypted to `to`.
fn send(
    signer: &as2::Identity,
    to: &as2::Certificate,
    content_type: &str,
    enc: Encryption,
) -> OutgoingMessage {
    build(
        X12,
        &Outgoing {
            from: "edigate",
            to: "partner",
            content_type,
            filename: Some("po.x12"),
            subject: Some("EDI"),
            sign: Some(signer),
            encrypt: Some((to, enc)),
            mdn: MdnRequest::Sync {
                to: "edi@example.invalid".into(),
                signed: true,
            },
        },
    )
    .expect("build")
}

fn partner_receiver(s: &Setup) -> Receiver<'_> {
    Receiver {
        own: &s.partner,
        partner: &s.edigate_cert,
        require_encryption: true,
        require_signature: true,
    }
}

#[test]
fn signed_encrypted_roundtrip_with_a_verified_mdn() {
    let s = setup();
    for (content_type, enc) in [
        ("application/edi-x12", Encryption::Aes256Cbc),
        ("application/octet-stream", Encryption::Aes128Cbc),
    ] {
        let msg = send(&s.edigate, &s.partner_cert, content_type, enc);
        let rec = receive(&msg.headers, &msg.body, &partner_receiver(&s)).expect("receive");
        let payload = rec.outcome.clone().expect("accepted");
        assert_eq!(payload.data, X12, "payload arrives byte for byte");
        assert!(rec.signed && rec.encrypted);
        assert_eq!(
            rec.mic.as_ref(),
            Some(&msg.mic),
            "both sides compute the same MIC"
        );
        let mdn = build_mdn(&rec, &s.partner, "partner").expect("mdn");
        let report =
            read_mdn(&mdn.headers, &mdn.body, &s.partner_cert, &msg, true).expect("read mdn");
        assert_eq!(report.status, MdnStatus::Processed, "{report:?}");
        assert!(report.signed);
    }
}

fn plain_signed(signer: &as2::Identity, payload: &[u8]) -> OutgoingMessage {
    build(
        payload,
        &Outgoing {
            from: "edigate",
            to: "partner",
            content_type: "application/edi-x12",
            filename: None,
            subject: None,
            sign: Some(signer),
            encrypt: None,
            mdn: MdnRequest::Sync {
                to: "x".into(),
                signed: true,
            },
        },
    )
    .expect("build")
}

fn lenient(s: &Setup) -> Receiver<'_> {
    Receiver {
        own: &s.partner,
        partner: &s.edigate_cert,
        require_encryption: false,
        require_signature: true,
    }
}

/// The partner refuses `msg` with `code`, and edigate reads the partner's signed MDN as failed.
fn refused_with(
    s: &Setup,
    r: &Receiver<'_>,
    msg: &OutgoingMessage,
    body: &[u8],
    code: FailureCode,
) {
    let rec = receive(&msg.headers, body, r).expect("receive");
    let failure = rec.outcome.clone().expect_err("must be refused");
    assert_eq!(failure.code, code, "{failure:?}");
    let mdn = build_mdn(&rec, &s.partner, "partner").expect("mdn");
    let report = read_mdn(&mdn.headers, &mdn.body, &s.partner_cert, msg, true).expect("read mdn");
    assert_eq!(
        report.status,
        MdnStatus::Failed(format!("processed/error: {}", code.as_str()))
    );
    assert!(
        report
            .disposition
            .as_deref()
            .is_some_and(|d| d.ends_with(code.as_str())),
        "{report:?}"
    );
}

#[test]
fn canonical_crlf_form_verifies_when_line_ends_arrive_as_lf() {
    // Signed over CRLF, received with bare LF (what a text-mode relay does; pyas2lib signs the
    // CRLF form of text-like content types): verifies over the canonical form, and the MIC is
    // the sender's.
    let s = setup();
    let crlf: Vec<u8> = String::from_utf8_lossy(X12)
        .replace('\n', "\r\n")
        .into_bytes();
    let msg = plain_signed(&s.edigate, &crlf);
    let lf: Vec<u8> = String::from_utf8_lossy(&msg.body)
        .replace("\r\n", "\n")
        .into_bytes();
    let rec = receive(&msg.headers, &lf, &lenient(&s)).expect("receive");
    let payload = rec.outcome.clone().expect("accepted");
    assert_eq!(payload.data, X12);
    assert_eq!(rec.mic.as_ref(), Some(&msg.mic));
}

#[test]
fn tampered_payload_is_an_integrity_failure() {
    let s = setup();
    let msg = plain_signed(&s.edigate, X12);
    let body = String::from_utf8_lossy(&msg.body)
        .replace("000000001", "000000002")
        .into_bytes();
    assert_ne!(body, msg.body);
    refused_with(
        &s,
        &lenient(&s),
        &msg,
        &body,
        FailureCode::IntegrityCheckFailed,
    );
}

#[test]
fn signature_by_another_key_is_an_authentication_failure() {
    let s = setup();
    let msg = plain_signed(&s.stranger, X12);
    refused_with(
        &s,
        &lenient(&s),
        &msg,
        &msg.body,
        FailureCode::AuthenticationFailed,
    );
}

#[test]
fn encrypted_to_another_certificate_is_a_decryption_failure() {
    let s = setup();
    let msg = send(
        &s.edigate,
        &s.stranger_cert,
        "application/edi-x12",
        Encryption::Aes256Cbc,
    );
    refused_with(
        &s,
        &partner_receiver(&s),
        &msg,
        &msg.body,
        FailureCode::DecryptionFailed,
    );
}

#[test]
fn unsigned_or_unencrypted_where_required_is_insufficient_security() {
    let s = setup();
    // Signed, not encrypted.
    let msg = plain_signed(&s.edigate, X12);
    refused_with(
        &s,
        &partner_receiver(&s),
        &msg,
        &msg.body,
        FailureCode::InsufficientMessageSecurity,
    );
    // Encrypted, not signed.
    let sealed_only = build(
        X12,
        &Outgoing {
            from: "edigate",
            to: "partner",
            content_type: "application/edi-x12",
            filename: None,
            subject: None,
            sign: None,
            encrypt: Some((&s.partner_cert, Encryption::Aes256Cbc)),
            mdn: MdnRequest::Sync {
                to: "x".into(),
                signed: true,
            },
        },
    )
    .expect("build");
    refused_with(
        &s,
        &partner_receiver(&s),
        &sealed_only,
        &sealed_only.body,
        FailureCode::InsufficientMessageSecurity,
    );
    // Both accepted where the partnership does not require them.
    let relaxed = Receiver {
        require_encryption: false,
        require_signature: false,
        ..partner_receiver(&s)
    };
    for m in [&msg, &sealed_only] {
        let rec = receive(&m.headers, &m.body, &relaxed).expect("receive");
        assert_eq!(rec.outcome.map(|p| p.data), Ok(X12.to_vec()));
    }
}

#[test]
fn mdn_checks_signer_message_id_and_mic() {
    let s = setup();
    let msg = send(
        &s.edigate,
        &s.partner_cert,
        "application/edi-x12",
        Encryption::Aes256Cbc,
    );
    let rec = receive(&msg.headers, &msg.body, &partner_receiver(&s)).expect("receive");
    let good = build_mdn(&rec, &s.partner, "partner").expect("mdn");

    // Signed by someone else than the partner.
    let forged = build_mdn(&rec, &s.stranger, "partner").expect("mdn");
    let r = read_mdn(&forged.headers, &forged.body, &s.partner_cert, &msg, true).expect("read");
    assert!(
        matches!(&r.status, MdnStatus::Failed(why) if why.contains("authentication-failed")),
        "{r:?}"
    );

    // An answer to another message.
    let other = send(
        &s.edigate,
        &s.partner_cert,
        "application/edi-x12",
        Encryption::Aes256Cbc,
    );
    let r = read_mdn(&good.headers, &good.body, &s.partner_cert, &other, true).expect("read");
    assert!(
        matches!(&r.status, MdnStatus::Failed(why) if why.contains("answers message")),
        "{r:?}"
    );

    // A MIC that is not ours (the same payload gives the same MIC, so make one up).
    let mut wrong_mic = rec.clone();
    wrong_mic.mic = Some(as2::Mic {
        digest: "AAAA".into(),
        algorithm: "sha-256".into(),
    });
    let m = build_mdn(&wrong_mic, &s.partner, "partner").expect("mdn");
    let r = read_mdn(&m.headers, &m.body, &s.partner_cert, &msg, true).expect("read");
    assert!(
        matches!(&r.status, MdnStatus::Failed(why) if why.contains("MIC mismatch")),
        "{r:?}"
    );

    // Unsigned, where a signed MDN was asked for.
    let mut unsigned_request = rec.clone();
    if let Some(m) = unsigned_request.mdn.as_mut() {
        m.signed = false;
    }
    let unsigned = build_mdn(&unsigned_request, &s.partner, "partner").expect("mdn");
    let r = read_mdn(
        &unsigned.headers,
        &unsigned.body,
        &s.partner_cert,
        &msg,
        true,
    )
    .expect("read");
    assert!(
        !r.signed && matches!(&r.status, MdnStatus::Failed(why) if why.contains("unsigned MDN")),
        "{r:?}"
    );
    // The same MDN is fine where no signature was asked for: the checks above are the refusals.
    let r = read_mdn(
        &unsigned.headers,
        &unsigned.body,
        &s.partner_cert,
        &msg,
        false,
    )
    .expect("read");
    assert_eq!(r.status, MdnStatus::Processed, "{r:?}");

    // A tampered signed MDN.
    let body = String::from_utf8_lossy(&good.body)
        .replace("processed", "processeD")
        .into_bytes();
    let r = read_mdn(&good.headers, &body, &s.partner_cert, &msg, true).expect("read");
    assert!(
        matches!(&r.status, MdnStatus::Failed(why) if why.contains("integrity-check-failed")),
        "{r:?}"
    );
}

#[test]
fn truncated_or_corrupted_messages_are_refused_without_panicking() {
    let s = setup();
    let signed = plain_signed(&s.edigate, X12);
    let sealed = send(
        &s.edigate,
        &s.partner_cert,
        "application/edi-x12",
        Encryption::Aes256Cbc,
    );
    for (msg, r) in [(&signed, lenient(&s)), (&sealed, partner_receiver(&s))] {
        // Every 13th truncation point (short of the final line break, which may go) and a
        // flipped byte every 29 bytes.
        for cut in (0..msg.body.len() - 2).step_by(13) {
            let rec = receive(&msg.headers, &msg.body[..cut], &r).expect("receive");
            assert!(rec.outcome.is_err(), "truncated at {cut} accepted");
        }
        for at in (0..msg.body.len()).step_by(29) {
            let mut body = msg.body.clone();
            body[at] ^= 0x55;
            let rec = receive(&msg.headers, &body, &r).expect("receive");
            // A flip in the signature's base64 line breaks or in ignorable padding may still
            // verify; what matters is that nothing panics and anything accepted is intact.
            if let Ok(p) = rec.outcome {
                assert_eq!(
                    p.data, X12,
                    "corruption at {at} accepted with other content"
                );
            }
        }
    }
}

#[test]
fn the_mic_of_an_unsigned_unencrypted_message_is_over_its_content_alone() {
    // RFC 4130 §7.3.1: header fields may be rewritten on the way, so neither side hashes them.
    let s = setup();
    let msg = build(
        X12,
        &Outgoing {
            from: "edigate",
            to: "partner",
            content_type: "application/edi-x12",
            filename: Some("po.x12"),
            subject: None,
            sign: None,
            encrypt: None,
            mdn: MdnRequest::Sync {
                to: "x".into(),
                signed: false,
            },
        },
    )
    .expect("build");
    use base64::Engine as _;
    let digest =
        openssl::hash::hash(openssl::hash::MessageDigest::sha256(), &msg.body).expect("sha-256");
    let expected = format!(
        "{}, sha-256",
        base64::engine::general_purpose::STANDARD.encode(digest)
    );
    assert_eq!(msg.mic.to_field(), expected);
    let relaxed = Receiver {
        require_encryption: false,
        require_signature: false,
        ..partner_receiver(&s)
    };
    // A carrier that rewrites a header field changes nothing.
    let mut headers = msg.headers.clone();
    for (k, v) in &mut headers {
        if k.eq_ignore_ascii_case("Content-Type") {
            *v = v.replace("application/edi-x12", "application/EDI-X12");
        }
    }
    let rec = receive(&headers, &msg.body, &relaxed).expect("receive");
    assert_eq!(rec.mic.expect("a MIC").to_field(), expected);
}
