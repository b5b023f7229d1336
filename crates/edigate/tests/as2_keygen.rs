//! `edigate as2 keygen`: the key and certificate it writes are usable at once — a message signed
//! and encrypted with them (to ourselves) reads back, its MIC matching — and it never replaces
//! existing keys.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use as2::{Encryption, MdnRequest, Outgoing, Receiver, build, receive};

fn keygen(out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_edigate"))
        .args(["as2", "keygen", "--name", "WIDGETCO-AS2", "--out"])
        .arg(out)
        .args(extra)
        .env("EDIGATE_TEST_KEY_PASSWORD", "s3cret-pass")
        .output()
        .expect("edigate runs")
}

#[test]
fn a_generated_identity_signs_encrypts_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("as2");
    let run = keygen(
        &out,
        &[
            "--days",
            "30",
            "--password-env",
            "EDIGATE_TEST_KEY_PASSWORD",
        ],
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("subject:     CN=WIDGETCO-AS2"), "{stdout}");
    let fingerprint = stdout
        .lines()
        .find_map(|l| l.strip_prefix("SHA-256:     "))
        .expect("a fingerprint");
    assert_eq!(fingerprint.split(':').count(), 32, "{fingerprint}");

    let key = std::fs::read(out.join("key.pem")).unwrap();
    let cert = std::fs::read(out.join("cert.pem")).unwrap();
    let mode = std::fs::metadata(out.join("key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the key is private");
    assert!(String::from_utf8_lossy(&key).contains("ENCRYPTED PRIVATE KEY"));
    // The key opens only with its password.
    assert!(as2::Identity::from_pem(&key, &cert, Some(b"wrong")).is_err());
    let me = as2::Identity::from_pem(&key, &cert, Some(b"s3cret-pass")).expect("opens");
    let my_cert = as2::Certificate::from_pem(&cert).expect("certificate");
    assert_eq!(my_cert.fingerprint_sha256().unwrap(), fingerprint);

    let payload = b"ISA*00*test~IEA*1*000000001~\n";
    let msg = build(
        payload,
        &Outgoing {
            from: "WIDGETCO-AS2",
            to: "WIDGETCO-AS2",
            content_type: "application/octet-stream",
            filename: None,
            subject: None,
            sign: Some(&me),
            encrypt: Some((&my_cert, Encryption::Aes256Cbc)),
            mdn: MdnRequest::None,
        },
    )
    .expect("build");
    let got = receive(
        &msg.headers,
        &msg.body,
        &Receiver {
            own: &me,
            partner: &my_cert,
            require_encryption: true,
            require_signature: true,
        },
    )
    .expect("receive");
    assert_eq!(got.outcome.expect("accepted").data, payload);
    assert_eq!(got.mic.as_ref(), Some(&msg.mic));

    // Existing keys are never replaced.
    let again = keygen(&out, &[]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("keys are not replaced"));
    assert_eq!(std::fs::read(out.join("key.pem")).unwrap(), key);
}
