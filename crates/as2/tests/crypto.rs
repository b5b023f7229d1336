//! Ciphers, digests, signature schemes, transfer encodings and canonicalisation, checked against
//! the OpenSSL command line as an independent implementation: what it makes, `receive_with`
//! reads; what `build_with` makes, it reads. Expired certificates are refused.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use as2::{
    Canonicalization, Digest, Encryption, FailureCode, MdnCheck, MdnRequest, MdnStatus, Outgoing,
    OutgoingMessage, ReceiveOptions, Receiver, SendOptions, TransferEncoding, build_mdn,
    build_with, read_mdn_with, receive_with,
};
use base64::Engine as _;
use common::{certificate, identity, make_certs};

const X12: &[u8] = b"ISA*00*          *00*          *ZZ*PARTNER        *ZZ*EDIGATE        *240101*1200*U*00401*000000001*0*P*>~\nGS*PO*PARTNER*EDIGATE*20240101*1200*1*X*004010~\nGE*0*1~\nIEA*1*000000001~\n";

const CIPHERS: [Encryption; 6] = [
    Encryption::Aes128Cbc,
    Encryption::Aes192Cbc,
    Encryption::Aes256Cbc,
    Encryption::TripleDesCbc,
    Encryption::Aes128Gcm,
    Encryption::Aes256Gcm,
];
const DIGESTS: [Digest; 4] = [Digest::Sha1, Digest::Sha256, Digest::Sha384, Digest::Sha512];

fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl command line");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn outgoing<'a>(
    sign: Option<&'a as2::Identity>,
    encrypt: Option<(&'a as2::Certificate, Encryption)>,
) -> Outgoing<'a> {
    Outgoing {
        from: "edigate",
        to: "partner",
        content_type: "application/edi-x12",
        filename: Some("po.x12"),
        subject: None,
        sign,
        encrypt,
        mdn: MdnRequest::Sync {
            to: "edi@example.invalid".into(),
            signed: true,
        },
    }
}

/// A directory holding throwaway keys for us and the partner: (the directory, our identity,
/// the partner's certificate).
fn two_parties() -> (tempfile::TempDir, as2::Identity, as2::Certificate) {
    let dir = tempfile::tempdir().expect("tempdir");
    make_certs(dir.path(), &["edigate", "partner"]);
    let edigate = identity(dir.path(), "edigate");
    let partner = certificate(dir.path(), "partner");
    (dir, edigate, partner)
}

#[test]
fn every_cipher_and_digest_round_trips_with_a_verified_mdn() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_certs(dir.path(), &["edigate", "partner"]);
    let (edigate, partner) = (
        identity(dir.path(), "edigate"),
        identity(dir.path(), "partner"),
    );
    let (edigate_cert, partner_cert) = (
        certificate(dir.path(), "edigate"),
        certificate(dir.path(), "partner"),
    );
    let r = Receiver {
        own: &partner,
        partner: &edigate_cert,
        require_encryption: true,
        require_signature: true,
    };
    for enc in CIPHERS {
        for digest in DIGESTS {
            for (compress, te) in [
                (false, TransferEncoding::Binary),
                (true, TransferEncoding::Base64),
            ] {
                let case = format!("{enc:?}/{digest:?}/compress={compress}/{te:?}");
                let opts = SendOptions {
                    digest,
                    compress,
                    transfer_encoding: te,
                };
                let msg = build_with(
                    X12,
                    &outgoing(Some(&edigate), Some((&partner_cert, enc))),
                    &opts,
                )
                .expect(&case);
                assert_eq!(msg.mic.algorithm, digest.micalg(), "{case}");
                let rec = receive_with(&msg.headers, &msg.body, &r, &ReceiveOptions::default())
                    .expect(&case);
                assert_eq!(
                    rec.outcome.as_ref().map(|p| p.data.as_slice()),
                    Ok(X12),
                    "{case}"
                );
                assert_eq!(rec.compressed, compress, "{case}");
                assert_eq!(rec.mic.as_ref(), Some(&msg.mic), "{case}");
                // The MDN is signed with the digest asked for, and reads back as processed.
                let mdn = build_mdn(&rec, &partner, "partner").expect("mdn");
                let ct = mdn
                    .headers
                    .iter()
                    .find(|(k, _)| k == "Content-Type")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                assert!(
                    ct.contains(&format!("micalg={}", digest.micalg())),
                    "{case}: {ct}"
                );
                let report = read_mdn_with(
                    &mdn.headers,
                    &mdn.body,
                    &partner_cert,
                    &msg,
                    &MdnCheck::default(),
                )
                .expect("read");
                assert_eq!(report.status, MdnStatus::Processed, "{case}");
            }
        }
    }
}

#[test]
fn openssl_reads_what_we_encrypt_and_verifies_what_we_sign() {
    let (dir, edigate, partner_cert) = two_parties();
    let d = dir.path();
    // CRLF line ends: OpenSSL's S/MIME reader verifies the signed part in its CRLF form.
    let crlf = String::from_utf8_lossy(X12)
        .replace('\n', "\r\n")
        .into_bytes();
    for (enc, digest) in CIPHERS.iter().zip(DIGESTS.iter().cycle()) {
        let case = format!("{enc:?}/{digest:?}");
        let msg = build_with(
            &crlf,
            &outgoing(Some(&edigate), Some((&partner_cert, *enc))),
            &SendOptions {
                digest: *digest,
                ..SendOptions::default()
            },
        )
        .expect(&case);
        std::fs::write(d.join("msg.der"), &msg.body).expect("write");
        let signed = openssl(
            d,
            &[
                "cms",
                "-decrypt",
                "-binary",
                "-inform",
                "DER",
                "-in",
                "msg.der",
                "-inkey",
                "partner.pem",
                "-passin",
                "pass:test",
            ],
        );
        let mut smime = b"MIME-Version: 1.0\r\n".to_vec();
        smime.extend_from_slice(&signed);
        std::fs::write(d.join("signed.eml"), &smime).expect("write");
        let content = openssl(
            d,
            &[
                "cms",
                "-verify",
                "-noverify",
                "-inform",
                "SMIME",
                "-in",
                "signed.eml",
                "-certfile",
                "edigate.cert.pem",
            ],
        );
        assert!(content.ends_with(&crlf), "{case}: openssl read {content:?}");
        let printed = String::from_utf8_lossy(&openssl(
            d,
            &[
                "cms",
                "-cmsout",
                "-print",
                "-inform",
                "SMIME",
                "-in",
                "signed.eml",
            ],
        ))
        .to_string();
        let name = digest.micalg().replace('-', "");
        assert!(
            printed.contains(&format!("algorithm: {name} ")),
            "{case}: the signature's digest is {name}"
        );
    }
}

/// A message made with the OpenSSL command line: `entity` signed (detached, `-md md`, PSS when
/// asked) and encrypted with `cipher`, as AS2 header fields and body.
fn openssl_message(
    d: &Path,
    entity: &[u8],
    md: &str,
    pss: bool,
    cipher: &str,
    oaep: bool,
) -> (Vec<(String, String)>, Vec<u8>) {
    std::fs::write(d.join("entity.bin"), entity).expect("write");
    let mut args = vec![
        "cms",
        "-sign",
        "-binary",
        "-md",
        md,
        "-signer",
        "partner.pem",
        "-passin",
        "pass:test",
        "-in",
        "entity.bin",
        "-outform",
        "DER",
    ];
    if pss {
        args.extend(["-keyopt", "rsa_padding_mode:pss"]);
    }
    let sig = openssl(d, &args);
    let mut signed = format!(
        "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg={md}; boundary=\"b1\"\r\n\r\n--b1\r\n"
    )
    .into_bytes();
    signed.extend_from_slice(entity);
    signed.extend_from_slice(
        format!(
            "\r\n--b1\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
            b64(&sig)
        )
        .as_bytes(),
    );
    std::fs::write(d.join("signed.bin"), &signed).expect("write");
    let mut args = vec![
        "cms",
        "-encrypt",
        "-binary",
        cipher,
        "-in",
        "signed.bin",
        "-outform",
        "DER",
        "-recip",
        "edigate.cert.pem",
    ];
    if oaep {
        args.extend(["-keyopt", "rsa_padding_mode:oaep"]);
    }
    let body = openssl(d, &args);
    let smime_type = if cipher.ends_with("gcm") {
        "authEnveloped-data"
    } else {
        "enveloped-data"
    };
    let headers = vec![
        ("AS2-From".to_string(), "partner".to_string()),
        ("AS2-To".to_string(), "edigate".to_string()),
        ("Message-ID".to_string(), "<cli-1@partner>".to_string()),
        (
            "Content-Type".to_string(),
            format!("application/pkcs7-mime; smime-type={smime_type}; name=smime.p7m"),
        ),
        ("Disposition-Notification-To".to_string(), "x".to_string()),
        (
            "Disposition-Notification-Options".to_string(),
            format!(
                "signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, {md}"
            ),
        ),
    ];
    (headers, body)
}

#[test]
fn we_read_openssl_messages_every_cipher_pkcs1_and_pss_oaep_binary_and_base64() {
    let (dir, edigate, partner_cert) = two_parties();
    let d = dir.path();
    let r = Receiver {
        own: &edigate,
        partner: &partner_cert,
        require_encryption: true,
        require_signature: true,
    };
    let binary = [
        b"Content-Type: application/edi-x12\r\nContent-Transfer-Encoding: binary\r\n\r\n"
            .as_slice(),
        X12,
    ]
    .concat();
    let base64 = [
        b"Content-Type: application/edi-x12\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            .as_slice(),
        b64(X12).as_bytes(),
        b"\r\n",
    ]
    .concat();
    let ciphers = [
        "-des3",
        "-aes-128-cbc",
        "-aes-192-cbc",
        "-aes-256-cbc",
        "-aes-128-gcm",
        "-aes-256-gcm",
    ];
    let signatures = [
        ("sha1", false),
        ("sha256", true),
        ("sha384", true),
        ("sha512", false),
    ];
    for (i, cipher) in ciphers.iter().enumerate() {
        for (j, (md, pss)) in signatures.iter().enumerate() {
            let entity = if (i + j) % 2 == 0 { &binary } else { &base64 };
            let case = format!(
                "{cipher}/{md}/pss={pss}/{}",
                if (i + j) % 2 == 0 { "binary" } else { "base64" }
            );
            // RSAES-OAEP key transport for every other case, PKCS#1 v1.5 for the rest.
            let oaep = j % 2 == 1;
            let (headers, body) = openssl_message(d, entity, md, *pss, cipher, oaep);
            let rec = receive_with(&headers, &body, &r, &ReceiveOptions::default()).expect(&case);
            assert!(rec.encrypted && rec.signed, "{case}");
            assert_eq!(
                rec.outcome.as_ref().map(|p| p.data.as_slice()),
                Ok(X12),
                "{case}: {:?}",
                rec.outcome
            );
            // The MIC, with the algorithm asked for, over the signed entity: as openssl digests it.
            let dgst = openssl(d, &["dgst", &format!("-{md}"), "-binary", "entity.bin"]);
            let mic = rec.mic.expect("a MIC");
            assert_eq!(mic.digest, b64(&dgst), "{case}");
            assert_eq!(
                Some(mic.algorithm.as_str()),
                Digest::from_name(md).map(|d| d.micalg()),
                "{case}"
            );
        }
    }
}

/// A message signed by `partner`, unencrypted, whose signed entity is `entity` with LF line ends
/// on the wire but signed in the form `signed_form` makes of it.
fn lf_message(
    d: &Path,
    header_lf: &[u8],
    body_lf: &[u8],
    signed_form: &[u8],
) -> (Vec<(String, String)>, Vec<u8>) {
    std::fs::write(d.join("entity.bin"), signed_form).expect("write");
    let sig = openssl(
        d,
        &[
            "cms",
            "-sign",
            "-binary",
            "-md",
            "sha256",
            "-signer",
            "partner.pem",
            "-passin",
            "pass:test",
            "-in",
            "entity.bin",
            "-outform",
            "DER",
        ],
    );
    let mut body = b"--b1\n".to_vec();
    body.extend_from_slice(header_lf);
    body.extend_from_slice(b"\n");
    body.extend_from_slice(body_lf);
    body.extend_from_slice(format!("\n--b1\nContent-Type: application/pkcs7-signature\nContent-Transfer-Encoding: base64\n\n{}\n--b1--\n", b64(&sig)).as_bytes());
    let headers = vec![
        ("AS2-From".to_string(), "partner".to_string()),
        ("AS2-To".to_string(), "edigate".to_string()),
        ("Message-ID".to_string(), "<lf-1@partner>".to_string()),
        (
            "Content-Type".to_string(),
            "multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"b1\"".to_string(),
        ),
    ];
    (headers, body)
}

#[test]
fn canonicalisation_is_a_per_partnership_choice() {
    let (dir, edigate, partner_cert) = two_parties();
    let d = dir.path();
    let r = Receiver {
        own: &edigate,
        partner: &partner_cert,
        require_encryption: false,
        require_signature: true,
    };
    let header_lf = b"Content-Type: application/edi-x12\nContent-Transfer-Encoding: binary\n";
    let header_crlf =
        b"Content-Type: application/edi-x12\r\nContent-Transfer-Encoding: binary\r\n\r\n";
    let crlf_body = String::from_utf8_lossy(X12)
        .replace('\n', "\r\n")
        .into_bytes();
    // What each kind of sender signed, for the same LF entity on the wire.
    let as_sent = [&header_lf[..], b"\n", X12].concat();
    let binary_form = [&header_crlf[..], X12].concat();
    let text_form = [&header_crlf[..], &crlf_body].concat();
    let accepted = |form: &[u8], c: Canonicalization| {
        let (headers, body) = lf_message(d, header_lf, X12, form);
        let opts = ReceiveOptions {
            canonicalization: c,
            ..ReceiveOptions::default()
        };
        let rec = receive_with(&headers, &body, &r, &opts).expect("receive");
        match rec.outcome {
            Ok(p) => {
                assert_eq!(p.data, X12);
                true
            }
            Err(f) => {
                assert_eq!(f.code, FailureCode::IntegrityCheckFailed, "{f:?}");
                false
            }
        }
    };
    use Canonicalization::*;
    for (form, name, expect) in [
        (&as_sent, "as sent", [true, true, true]),
        (&binary_form, "binary", [true, true, false]),
        (&text_form, "text", [true, false, false]),
    ] {
        let got = [AsReceivedThenCrlf, Binary, Strict].map(|c| accepted(form, c));
        assert_eq!(
            got, expect,
            "signed in {name} form: [default, binary, strict]"
        );
    }
}

/// An RSA identity whose certificate ended yesterday (valid from two years ago).
fn expired_identity() -> (as2::Identity, as2::Certificate) {
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509, X509NameBuilder};
    let key = PKey::from_rsa(Rsa::generate(2048).expect("rsa")).expect("key");
    let mut name = X509NameBuilder::new().expect("name");
    name.append_entry_by_text("CN", "expired-as2-test")
        .expect("cn");
    let name = name.build();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let mut b = X509::builder().expect("builder");
    b.set_version(2).expect("version");
    b.set_subject_name(&name).expect("subject");
    b.set_issuer_name(&name).expect("issuer");
    b.set_pubkey(&key).expect("pubkey");
    b.set_not_before(&Asn1Time::from_unix(now - 730 * 86400).expect("time"))
        .expect("not before");
    b.set_not_after(&Asn1Time::from_unix(now - 86400).expect("time"))
        .expect("not after");
    b.sign(&key, MessageDigest::sha256()).expect("sign");
    let cert_pem = b.build().to_pem().expect("pem");
    let key_pem = key.private_key_to_pem_pkcs8().expect("key pem");
    (
        as2::Identity::from_pem(&key_pem, &cert_pem, None).expect("identity"),
        as2::Certificate::from_pem(&cert_pem).expect("certificate"),
    )
}

#[test]
fn an_expired_certificate_is_neither_encrypted_to_nor_trusted() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_certs(dir.path(), &["edigate"]);
    let edigate = identity(dir.path(), "edigate");
    let edigate_cert = certificate(dir.path(), "edigate");
    let (old, old_cert) = expired_identity();
    assert!(old_cert.days_left().expect("days") < 0);

    // Encrypting to it: refused, saying so.
    let err = build_with(
        X12,
        &outgoing(None, Some((&old_cert, Encryption::Aes256Cbc))),
        &SendOptions::default(),
    )
    .expect_err("encrypting to an expired certificate");
    assert!(
        matches!(&err, as2::Error::Certificate { problem, .. } if problem.contains("expired")),
        "{err}"
    );

    // A message signed with its key: authentication-failed, saying why.
    let msg = build_with(
        X12,
        &outgoing(Some(&old), Some((&edigate_cert, Encryption::Aes256Cbc))),
        &SendOptions::default(),
    )
    .expect("build");
    let r = Receiver {
        own: &edigate,
        partner: &old_cert,
        require_encryption: true,
        require_signature: true,
    };
    let rec =
        receive_with(&msg.headers, &msg.body, &r, &ReceiveOptions::default()).expect("receive");
    let f = rec.outcome.clone().expect_err("refused");
    assert_eq!(f.code, FailureCode::AuthenticationFailed);
    assert!(f.detail.contains("expired"), "{f:?}");
    // The same message reprocessed as of a time the certificate was valid: accepted.
    let last_month = ReceiveOptions {
        certificates_valid_at: Some(SystemTime::now() - Duration::from_secs(30 * 86400)),
        ..ReceiveOptions::default()
    };
    let rec2 = receive_with(&msg.headers, &msg.body, &r, &last_month).expect("receive");
    assert_eq!(rec2.outcome.map(|p| p.data), Ok(X12.to_vec()));

    // An MDN signed with its key: not trusted.
    let ours: OutgoingMessage = build_with(
        X12,
        &outgoing(Some(&edigate), None),
        &SendOptions::default(),
    )
    .expect("build");
    let their_view = Receiver {
        own: &old,
        partner: &edigate_cert,
        require_encryption: false,
        require_signature: true,
    };
    let rec = receive_with(
        &ours.headers,
        &ours.body,
        &their_view,
        &ReceiveOptions::default(),
    )
    .expect("receive");
    let mdn = build_mdn(&rec, &old, "partner").expect("mdn");
    let report = read_mdn_with(
        &mdn.headers,
        &mdn.body,
        &old_cert,
        &ours,
        &MdnCheck::default(),
    )
    .expect("read");
    assert!(
        matches!(&report.status, MdnStatus::Failed(why) if why.contains("expired")),
        "{report:?}"
    );
}
