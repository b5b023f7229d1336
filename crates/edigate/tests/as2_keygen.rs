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

mod support;

fn edigate(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_edigate"))
        .args(args)
        .env_remove("EDIGATE_ADMIN")
        .env_remove("EDIGATE_TOKEN")
        .output()
        .expect("edigate runs")
}

#[test]
fn a_partners_certificate_near_its_end_is_checked_and_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let partners = dir.path().join("partners");
    std::fs::create_dir_all(&partners).unwrap();
    // The partner's certificate, ending in ten days.
    let run = keygen(&partners.join("as2"), &["--days", "10"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let acme =
        std::fs::read_to_string(support::root().join("deploy/examples/partners/acme-retail.toml"))
            .unwrap();
    let with = |certificate: &str| {
        format!(
            "{acme}\n[as2]\nid = \"ACMEAS2\"\nus = \"WIDGETCO-AS2\"\ncertificates = [\"{certificate}\"]\n"
        )
    };
    let file = partners.join("acme-retail.toml");

    // A certificate that is not there is named with its line.
    std::fs::write(&file, with("as2/missing.pem")).unwrap();
    let out = edigate(&["partner", "check", file.to_str().unwrap()]);
    let stderr = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("missing.pem") && stderr.contains("acme-retail.toml:"),
        "{stderr}"
    );

    std::fs::write(&file, with("as2/cert.pem")).unwrap();
    let out = edigate(&["partner", "check", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let daemon = support::Daemon::start(
        "as2-certificates",
        &format!(
            "partners_dir = {:?}\n[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"as2-test\"",
            partners.display().to_string()
        ),
    );
    let admin = daemon.admin_url();
    let status = |json: bool| {
        let mut args = vec!["status", "--admin", &admin, "--token", "as2-test"];
        if json {
            args.push("--json");
        }
        let out = edigate(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let report: serde_json::Value = serde_json::from_str(&status(true)).unwrap();
    let expiring = report["expiring_certificates"].as_array().unwrap();
    assert_eq!(expiring.len(), 1, "{report}");
    assert_eq!(expiring[0]["partner"], "acme-retail");
    let days = expiring[0]["days_left"].as_i64().unwrap();
    assert!((9..=10).contains(&days), "{days}");
    let human = status(false);
    assert!(
        human.contains("warning: partner acme-retail's AS2 certificate")
            && human.contains("get its next one"),
        "{human}"
    );
    daemon.stop();
}
