//! Messages captured from real AS2 products (the shared corpus beside the checkout, never copied
//! into the project): Mendelson AS2's signed, 3DES-encrypted and compressed messages, decrypted
//! and verified by `receive`, and an MDN signed by IBM Sterling B2B Integrator, verified by
//! `read_mdn_with`. The equivalent cases made by our own tools are in `matrix.rs` and
//! `interop.rs`; this test checks that real products agree.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use as2::{
    Certificate, FailureCode, Identity, MdnCheck, MdnStatus, Mic, OutgoingMessage, ReceiveOptions,
    Receiver, read_mdn_with, receive_with,
};

/// `shared/corpus/as2` beside the workspace root; a missing corpus fails the test.
fn corpus() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/as2");
    assert!(
        dir.join("mecas2_signed.as2").is_file(),
        "the AS2 corpus is missing: expected {} (the shared corpus checked out beside this \
         repository, holding Mendelson AS2's mecas2_*.as2 and Sterling's sb2bi_signed.mdn)",
        dir.display()
    );
    dir
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(corpus().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Splits a captured HTTP message into its header fields (folded lines joined) and body.
fn http(raw: &[u8]) -> (Vec<(String, String)>, Vec<u8>) {
    // The captures end their (LF) header fields with LF, CRLF or LF LF.
    let (end, skip) = [
        (&b"\r\n\r\n"[..], 4),
        (&b"\n\r\n"[..], 3),
        (&b"\n\n"[..], 2),
    ]
    .iter()
    .filter_map(|(sep, n)| {
        raw.windows(sep.len())
            .position(|w| w == *sep)
            .map(|p| (p, *n))
    })
    .min()
    .expect("a blank line after the header fields");
    let head = String::from_utf8_lossy(&raw[..end]).replace("\r\n", "\n");
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in head.split('\n') {
        if line.starts_with([' ', '\t']) {
            let last = fields.last_mut().expect("a field before its continuation");
            last.1.push(' ');
            last.1.push_str(line.trim());
        } else if let Some((k, v)) = line.split_once(':') {
            fields.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    (fields, raw[end + skip..].to_vec())
}

fn own() -> Identity {
    let pem = read("cert_test.pem");
    Identity::from_pem(&pem, &pem, Some(b"test")).expect("cert_test.pem with password test")
}

fn mendelson() -> Certificate {
    Certificate::from_pem(&read("cert_mecas2_public.pem")).expect("Mendelson's certificate")
}

fn same_text(a: &[u8], b: &[u8]) -> bool {
    let norm = |x: &[u8]| String::from_utf8_lossy(x).replace("\r\n", "\n");
    norm(a) == norm(b)
}

#[test]
fn every_mendelson_message_is_decrypted_verified_and_decompressed() {
    let own = own();
    let partner = mendelson();
    let payload = read("payload.txt");
    // (file, encrypted, signed, compressed)
    let cases = [
        ("mecas2_signed.as2", false, true, false),
        ("mecas2_encrypted.as2", true, false, false),
        ("mecas2_signed_encrypted.as2", true, true, false),
        ("mecas2_compressed.as2", false, true, true),
        ("mecas2_compressed_signed_encrypted.as2", true, true, true),
    ];
    let mut seen: Vec<String> = std::fs::read_dir(corpus())
        .expect("list corpus")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("mecas2_") && n.ends_with(".as2"))
        .collect();
    seen.sort();
    let mut listed: Vec<String> = cases.iter().map(|c| c.0.to_string()).collect();
    listed.sort();
    assert_eq!(
        seen, listed,
        "every Mendelson message in the corpus is checked"
    );
    for (file, encrypted, signed, compressed) in cases {
        let (headers, body) = http(&read(file));
        let r = Receiver {
            own: &own,
            partner: &partner,
            require_encryption: encrypted,
            require_signature: signed,
        };
        let rec = receive_with(&headers, &body, &r, &ReceiveOptions::default()).expect(file);
        assert_eq!(
            (rec.encrypted, rec.signed, rec.compressed),
            (encrypted, signed, compressed),
            "{file}"
        );
        let got = rec
            .outcome
            .as_ref()
            .unwrap_or_else(|f| panic!("{file}: refused: {f:?}"));
        assert!(
            same_text(&got.data, &payload),
            "{file}: payload differs: {:?}",
            String::from_utf8_lossy(&got.data)
        );
        assert_eq!(rec.from, "mecas2", "{file}");
        if signed {
            assert!(rec.mic.is_some(), "{file}: a MIC over what was signed");
        }
    }
}

#[test]
fn a_mendelson_signature_checked_against_another_certificate_is_refused() {
    let own = own();
    // Sterling's certificate in place of Mendelson's: not the signer.
    let stranger =
        Certificate::from_pem(&read("cert_sb2bi_public.pem")).expect("Sterling's certificate");
    let (headers, body) = http(&read("mecas2_signed.as2"));
    let r = Receiver {
        own: &own,
        partner: &stranger,
        require_encryption: false,
        require_signature: true,
    };
    let opts = ReceiveOptions {
        // Sterling's certificate expired in 2020: check it as of 2019, so the signer is refused.
        certificates_valid_at: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_560_000_000)),
        ..ReceiveOptions::default()
    };
    let rec = receive_with(&headers, &body, &r, &opts).expect("headers");
    assert_eq!(
        rec.outcome.expect_err("refused").code,
        FailureCode::AuthenticationFailed
    );
}

/// The message Sterling's MDN answers, as we would have recorded it when sending: its
/// Message-ID and the MIC we computed (the MDN's signature is the point; its MIC is Sterling's
/// SHA-1 over a message not in the corpus).
fn sterling_sent(mic_digest: &str) -> OutgoingMessage {
    OutgoingMessage {
        message_id: "151694007918.24690.7052273208458909245@ip-172-31-14-209.ec2.internal".into(),
        headers: Vec::new(),
        body: Vec::new(),
        mic: Mic {
            digest: mic_digest.into(),
            algorithm: "sha1".into(),
        },
    }
}

#[test]
fn sterling_signed_mdn_verifies() {
    let (headers, body) = http(&read("sb2bi_signed.mdn"));
    let sterling = Certificate::from_pem(&read("cert_sb2bi_public.pem")).expect("Sterling");
    // Signed on 2018-01-26, while the certificate (expired 2020) was valid.
    let then = SystemTime::UNIX_EPOCH + Duration::from_secs(1_516_974_505);
    let check = MdnCheck {
        certificates_valid_at: Some(then),
        ..MdnCheck::default()
    };
    let sent = sterling_sent("wNh76aEicfBurg/et2wio4zk/2I=");
    let report = read_mdn_with(&headers, &body, &sterling, &sent, &check).expect("read");
    assert!(report.signed, "{report:?}");
    assert_eq!(report.status, MdnStatus::Processed, "{report:?}");

    // The same MDN checked as of today: Sterling's certificate has expired.
    let report =
        read_mdn_with(&headers, &body, &sterling, &sent, &MdnCheck::default()).expect("read");
    assert!(
        matches!(&report.status, MdnStatus::Failed(r) if r.contains("expired")),
        "{report:?}"
    );
    // Another signer's certificate: refused.
    let report = read_mdn_with(&headers, &body, &mendelson(), &sent, &check).expect("read");
    assert!(
        !report.signed && matches!(report.status, MdnStatus::Failed(_)),
        "{report:?}"
    );
    // Another MIC than the one we recorded: refused.
    let other = sterling_sent("AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    let report = read_mdn_with(&headers, &body, &sterling, &other, &check).expect("read");
    assert!(
        matches!(&report.status, MdnStatus::Failed(r) if r.contains("MIC")),
        "{report:?}"
    );
    // A tampered report: the signature no longer verifies.
    let tampered = String::from_utf8_lossy(&body)
        .replace("processed", "processeD")
        .into_bytes();
    let report = read_mdn_with(&headers, &tampered, &sterling, &sent, &check).expect("read");
    assert!(matches!(report.status, MdnStatus::Failed(_)), "{report:?}");
}
