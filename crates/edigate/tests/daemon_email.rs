//! `edigate serve` mailing a partner's acknowledgements as attachments (`[outbound.email]`) to a
//! real SMTP server, aiosmtpd on loopback (`tests/peers/smtp_sink.py`, installed by
//! `tests/peers/setup.sh`): what arrives, retries while the server is down, and a refused
//! mailbox dead-lettered.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;
use support::{Daemon, admin_cli, example, root, test_certificates, wait_until};

const TOKEN: &str = "email-test-token";

fn peers() -> PathBuf {
    support::root().join("tests/peers")
}

/// aiosmtpd, run by `smtp_sink.py`, saving each message into a directory; stopped by its pid.
struct SmtpSink {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    /// The login it requires, when it requires one.
    credentials: Option<(String, String)>,
    /// Its certificate and key, when it requires STARTTLS.
    tls: Option<(PathBuf, PathBuf)>,
    /// TLS from the first byte (as on port 465) instead of STARTTLS.
    implicit_tls: bool,
}

impl SmtpSink {
    fn start(dir: &Path, credentials: Option<(&str, &str)>) -> SmtpSink {
        SmtpSink::start_with(dir, credentials, None)
    }

    /// TLS with this certificate and key from the first byte (implicit TLS).
    fn start_implicit_tls(dir: &Path, cert: PathBuf, key: PathBuf) -> SmtpSink {
        let mut sink = SmtpSink::start_with(dir, None, Some((cert, key)));
        sink.stop();
        sink.implicit_tls = true;
        sink.restart();
        sink
    }

    /// With `tls` (certificate and key files), STARTTLS is required.
    fn start_with(
        dir: &Path,
        credentials: Option<(&str, &str)>,
        tls: Option<(PathBuf, PathBuf)>,
    ) -> SmtpSink {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut sink = SmtpSink {
            child: None,
            port,
            dir: dir.to_path_buf(),
            credentials: credentials.map(|(u, p)| (u.to_string(), p.to_string())),
            tls,
            implicit_tls: false,
        };
        sink.restart();
        sink
    }

    /// Starts the server (again) on its port.
    fn restart(&mut self) {
        let python = peers().join(".venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run `sh tests/peers/setup.sh` to install aiosmtpd",
            python.display()
        );
        let log = self.dir.with_extension("log");
        let mut command = Command::new(&python);
        if let Some((cert, key)) = &self.tls {
            command
                .env("SMTP_SINK_CERT", cert)
                .env("SMTP_SINK_KEY", key);
            if self.implicit_tls {
                command.env("SMTP_SINK_IMPLICIT_TLS", "1");
            }
        }
        let mut child = command
            .arg(peers().join("smtp_sink.py"))
            .arg("serve")
            .arg(&self.dir)
            .arg(self.port.to_string())
            .args(self.credentials.iter().flat_map(|(u, p)| [u, p]))
            .stdout(fs::File::create(&log).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the SMTP sink starts");
        wait_until("the SMTP sink to listen", || {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "the SMTP sink exited with {status} (is aiosmtpd installed? run `sh tests/peers/setup.sh`)"
                );
            }
            fs::read_to_string(&log).is_ok_and(|l| l.contains("listening"))
        });
        self.child = Some(child);
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The messages saved so far, oldest first.
    fn messages(&self) -> Vec<PathBuf> {
        let mut all: Vec<PathBuf> = fs::read_dir(&self.dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        all.sort();
        all
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One saved message as Python's MIME parser reads it.
fn show(message: &Path) -> Value {
    let out = Command::new(peers().join(".venv/bin/python"))
        .arg(peers().join("smtp_sink.py"))
        .arg("show")
        .arg(message)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// A partner directory holding ACME's own partner file, its documents mailed through `port`.
/// `extra` is added to its `[outbound.email]` table.
fn email_partner(dir: &Path, port: u16, to: &str, extra: &str) -> PathBuf {
    let partners = dir.join("partners");
    fs::create_dir_all(&partners).unwrap();
    // Plain SMTP unless the test says otherwise.
    let tls = if extra.contains("tls =") {
        ""
    } else {
        "tls = \"none\"\n"
    };
    let acme =
        fs::read_to_string(support::root().join("deploy/examples/partners/acme-retail.toml"))
            .unwrap();
    fs::write(
        partners.join("acme-retail.toml"),
        format!(
            "{acme}\n[outbound]\nfile_name = \"{{partner}}-{{type}}-{{control}}.{{ext}}\"\n\
             [outbound.email]\nto = {to:?}\nfrom = \"edi@widgetco.example\"\n\
             subject = \"EDI {{type}} {{control}} for {{partner}}\"\n\
             host = \"127.0.0.1\"\nport = {port}\ntimeout_ms = 5000\n{tls}{extra}\n"
        ),
    )
    .unwrap();
    partners
}

fn config(partners: &Path) -> String {
    format!(
        "partners_dir = {:?}\n[delivery]\nbase_delay_ms = 200\nmax_delay_ms = 1000\n\
         max_attempts = 1000\n[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\n",
        partners.display().to_string()
    )
}

/// The daemon's deliveries to ACME, from `edigate outbox list --json`.
fn deliveries(admin: &str) -> Vec<Value> {
    let out = admin_cli(admin, TOKEN, &["outbox", "list", "--json"]);
    let all: Value = serde_json::from_str(&out).unwrap();
    all["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["destination"] == "partner:acme-retail")
        .cloned()
        .collect()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("edigate-email-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn acknowledgements_are_mailed_and_retried_while_the_server_is_down() {
    let dir = scratch("ack");
    const PASSWORD: &str = "s3cret-smtp-pass";
    let mut smtp = SmtpSink::start(&dir.join("mail"), Some(("edigate", PASSWORD)));
    // The password from a file; a relay on loopback may take it without TLS.
    let secret = dir.join("smtp-password");
    fs::write(&secret, format!("{PASSWORD}\n")).unwrap();
    let partners = email_partner(
        &dir,
        smtp.port,
        "edi@acme-retail.example",
        &format!(
            "user = \"edigate\"\npassword_file = {:?}\n",
            secret.display().to_string()
        ),
    );
    let daemon = Daemon::start("email", &config(&partners));
    let admin = daemon.admin_url();

    daemon.drop_file("acme-retail", "po-731.x12", &example("order-850.x12"));
    // ACME asks for a TA1 (ISA14 = 1) besides the 999: two mails an order.
    wait_until("the TA1 and the 999 mailed", || smtp.messages().len() == 2);
    wait_until("the delivery recorded as delivered", || {
        deliveries(&admin)
            .iter()
            .all(|d| d["state"]["state"] == "delivered")
    });

    // The server goes away; the next order's acknowledgement waits for it.
    smtp.stop();
    let second = String::from_utf8(example("order-850.x12"))
        .unwrap()
        .replace("000000731", "000000732");
    daemon.drop_file("acme-retail", "po-732.x12", second.as_bytes());
    let mut failing = Value::Null;
    wait_until("a retried delivery with its error", || {
        failing = deliveries(&admin)
            .into_iter()
            .find(|d| d["state"]["state"] == "pending" && d["attempts"].as_u64().unwrap_or(0) >= 2)
            .unwrap_or(Value::Null);
        !failing.is_null()
    });
    let error = failing["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("127.0.0.1"), "{failing}");
    assert!(daemon.log().contains("will retry"), "{}", daemon.log());

    smtp.restart();
    wait_until("the second order's mails", || smtp.messages().len() == 4);
    wait_until("every delivery delivered", || {
        deliveries(&admin)
            .iter()
            .all(|d| d["state"]["state"] == "delivered")
    });
    // Time for a second send, were there one.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let log = daemon.log();
    let data = daemon.stop();
    assert_eq!(smtp.messages().len(), 4, "each document mailed once");
    assert!(
        !log.contains(PASSWORD),
        "the password is never logged:\n{log}"
    );

    // What arrived is exactly what the outbox holds, as a mail reader sees it.
    let outbox = data.outbox();
    let stored = support::deliveries_to(&outbox, "partner:acme-retail");
    assert_eq!(stored.len(), 4, "{stored:?}");
    let mut seen_ids = Vec::new();
    let mut kinds = Vec::new();
    for message in smtp.messages() {
        let m = show(&message);
        assert_eq!(m["from"], "edi@widgetco.example", "{m}");
        assert_eq!(m["to"], "edi@acme-retail.example", "{m}");
        let attachments = m["attachments"].as_array().unwrap();
        assert_eq!(attachments.len(), 1, "{m}");
        let a = &attachments[0];
        assert_eq!(a["content_type"], "application/edi-x12", "{m}");
        let bytes = unhex(a["hex"].as_str().unwrap());
        let d = stored
            .iter()
            .find(|d| outbox.payload(d.id).unwrap().as_deref() == Some(bytes.as_slice()))
            .unwrap_or_else(|| panic!("no delivery holds the attachment of {m}"));
        assert!(bytes.starts_with(b"ISA*"), "{m}");
        let text = String::from_utf8_lossy(&bytes);
        let kind = if text.contains("ST*999*") {
            "999"
        } else {
            assert!(text.contains("TA1*"), "a TA1 or a 999: {m}");
            "ta1"
        };
        let control = format!("{:09}", d.numbers[0].value);
        assert_eq!(
            m["subject"],
            format!("EDI {kind} {control} for acme-retail"),
            "{m}"
        );
        assert_eq!(
            a["filename"],
            format!("acme-retail-{kind}-{control}.x12"),
            "{m}"
        );
        kinds.push(kind);
        assert!(d.attempts >= 1);
        seen_ids.push(d.id);
    }
    seen_ids.sort();
    seen_ids.dedup();
    assert_eq!(seen_ids.len(), 4, "four mails, four deliveries");
    kinds.sort_unstable();
    assert_eq!(kinds, ["999", "999", "ta1", "ta1"]);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_mailbox_the_server_refuses_is_dead_lettered_at_once() {
    let dir = scratch("refused");
    let smtp = SmtpSink::start(&dir.join("mail"), None);
    let partners = email_partner(&dir, smtp.port, "nobody@acme-retail.example", "");
    let daemon = Daemon::start("email-refused", &config(&partners));
    let admin = daemon.admin_url();
    daemon.drop_file("acme-retail", "po-731.x12", &example("order-850.x12"));
    let mut dead = Vec::new();
    wait_until("the delivery dead-lettered", || {
        dead = deliveries(&admin);
        !dead.is_empty() && dead.iter().all(|d| d["state"]["state"] == "dead")
    });
    daemon.stop();
    for d in &dead {
        assert_eq!(d["attempts"], 1, "tried once: {d}");
        let error = d["last_error"].as_str().unwrap_or_default();
        assert!(error.contains("550"), "{d}");
    }
    assert!(smtp.messages().is_empty());
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn dead_lettered_deliveries_are_reported_in_one_digest_mail_per_interval() {
    let dir = scratch("alerts");
    let smtp = SmtpSink::start(&dir.join("mail"), None);
    let partners = email_partner(&dir, smtp.port, "nobody@acme-retail.example", "");
    let daemon = Daemon::start(
        "email-alerts",
        &format!(
            "{}[alerts]\nto = [\"ops@widgetco.example\"]\nfrom = \"edigate@widgetco.example\"\n\
             host = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nmin_interval_s = 2\n",
            config(&partners),
            smtp.port
        ),
    );
    let admin = daemon.admin_url();
    // Two orders, each answered with a TA1 and a 999 the server refuses: four dead letters.
    daemon.drop_file("acme-retail", "po-731.x12", &example("order-850.x12"));
    let second = String::from_utf8(example("order-850.x12"))
        .unwrap()
        .replace("000000731", "000000732");
    daemon.drop_file("acme-retail", "po-732.x12", second.as_bytes());
    wait_until("four dead letters", || {
        let all = deliveries(&admin);
        all.len() == 4 && all.iter().all(|d| d["state"]["state"] == "dead")
    });
    wait_until("the digest mailed", || !smtp.messages().is_empty());
    // Two more intervals: time for any further mail about the same dead letters.
    std::thread::sleep(std::time::Duration::from_millis(4500));
    let data = daemon.stop();

    let outbox = data.outbox();
    let all = outbox
        .list_deliveries(&outbox::DeliveryFilter::default(), 100)
        .unwrap();
    let mut windows: Vec<u64> = Vec::new();
    let mut dead_ids: Vec<String> = Vec::new();
    for d in &all {
        if let outbox::DeliveryState::Dead { at, .. } = d.state {
            assert_eq!(d.destination, "partner:acme-retail", "{d:?}");
            windows.push(at / 2000);
            dead_ids.push(d.id.to_string());
        }
    }
    windows.sort_unstable();
    windows.dedup();
    assert_eq!(dead_ids.len(), 4, "{all:?}");
    let alerts: Vec<_> = all
        .iter()
        .filter(|d| d.destination == "alerts:email")
        .collect();
    assert_eq!(
        alerts.len(),
        windows.len(),
        "one digest per window: {all:?}"
    );
    assert!(
        alerts
            .iter()
            .all(|d| matches!(d.state, outbox::DeliveryState::Delivered { .. })),
        "{alerts:?}"
    );

    let mails = smtp.messages();
    assert_eq!(
        mails.len(),
        windows.len(),
        "one mail per interval, not per failure"
    );
    assert!(mails.len() < dead_ids.len());
    let mut reported = 0;
    let mut listed: Vec<String> = Vec::new();
    for mail in &mails {
        let m = show(mail);
        assert_eq!(m["from"], "edigate@widgetco.example", "{m}");
        assert_eq!(m["to"], "ops@widgetco.example", "{m}");
        assert!(m["attachments"].as_array().unwrap().is_empty(), "{m}");
        let subject = m["subject"].as_str().unwrap();
        let n: usize = subject
            .strip_prefix("edigate: ")
            .and_then(|s| s.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{m}"));
        assert!(subject.ends_with("dead-lettered"), "{m}");
        reported += n;
        let body = m["body"].as_str().unwrap();
        assert!(body.contains("550"), "the server's answer: {m}");
        for id in &dead_ids {
            if body.contains(id.as_str()) {
                listed.push(id.clone());
            }
        }
    }
    assert_eq!(reported, 4, "every dead letter counted once");
    listed.sort();
    dead_ids.sort();
    assert_eq!(listed, dead_ids, "every dead letter listed once");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn an_outbound_document_is_mailed_like_an_acknowledgement() {
    let dir = scratch("outbound");
    let smtp = SmtpSink::start(&dir.join("mail"), None);
    let partners = email_partner(&dir, smtp.port, "edi@acme-retail.example", "");
    let daemon = Daemon::start("email-outbound", &config(&partners));
    let admin = daemon.admin_url();

    // The ERP's order response, as the canonical event `edigate translate` makes of an 855.
    let fixture = support::root().join("fixtures/business/x12_855_004010.x12");
    let out = Command::new(env!("CARGO_BIN_EXE_edigate"))
        .arg("translate")
        .arg(&fixture)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let event = String::from_utf8(out.stdout).unwrap();
    let file = dir.join("order-response.json");
    fs::write(&file, event.lines().next().unwrap()).unwrap();
    let file = file.display().to_string();
    admin_cli(&admin, TOKEN, &["send", &file, "--partner", "acme-retail"]);

    wait_until("the 855 mailed", || smtp.messages().len() == 1);
    wait_until("the delivery recorded as delivered", || {
        let all = deliveries(&admin);
        !all.is_empty() && all.iter().all(|d| d["state"]["state"] == "delivered")
    });
    let data = daemon.stop();
    let outbox = data.outbox();
    let stored = support::deliveries_to(&outbox, "partner:acme-retail");
    assert_eq!(stored.len(), 1, "{stored:?}");
    let m = show(&smtp.messages()[0]);
    let a = &m["attachments"][0];
    let control = format!("{:09}", stored[0].numbers[0].value);
    assert_eq!(
        m["subject"],
        format!("EDI 855 {control} for acme-retail"),
        "{m}"
    );
    assert_eq!(
        a["filename"],
        format!("acme-retail-855-{control}.x12"),
        "{m}"
    );
    assert_eq!(a["content_type"], "application/edi-x12", "{m}");
    assert_eq!(
        Some(unhex(a["hex"].as_str().unwrap())),
        outbox.payload(stored[0].id).unwrap(),
        "the attachment is the document, byte for byte"
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn starttls_is_verified_against_the_configured_ca() {
    let dir = scratch("starttls");
    let (ca, cert, key) = test_certificates(&dir);
    const PASSWORD: &str = "tls-only-pass";
    let smtp = SmtpSink::start_with(
        &dir.join("mail"),
        Some(("edigate", PASSWORD)),
        Some((cert, key)),
    );
    let secret = dir.join("smtp-password");
    fs::write(&secret, PASSWORD).unwrap();
    let login = format!(
        "tls = \"starttls\"\nuser = \"edigate\"\npassword_file = {:?}\n",
        secret.display().to_string()
    );
    // Without the CA, the server's certificate is not trusted: nothing is sent, and the
    // delivery waits for a retry.
    let partners = email_partner(&dir, smtp.port, "edi@acme-retail.example", &login);
    let untrusted = Daemon::start("email-untrusted", &config(&partners));
    let admin = untrusted.admin_url();
    untrusted.drop_file("acme-retail", "po-731.x12", &example("order-850.x12"));
    let mut failing = Value::Null;
    wait_until("a failed TLS attempt", || {
        failing = deliveries(&admin)
            .into_iter()
            .find(|d| d["state"]["state"] == "pending" && d["attempts"].as_u64().unwrap_or(0) >= 1)
            .unwrap_or(Value::Null);
        !failing.is_null()
    });
    untrusted.stop();
    assert!(smtp.messages().is_empty());
    let error = failing["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        error.contains("certificate") || error.contains("tls"),
        "{failing}"
    );

    // With the CA: the mail goes over TLS, after the login the server offers only there.
    let trusted_dir = dir.join("trusted");
    fs::create_dir_all(&trusted_dir).unwrap();
    let partners = email_partner(
        &trusted_dir,
        smtp.port,
        "edi@acme-retail.example",
        &format!("{login}ca_file = {:?}\n", ca.display().to_string()),
    );
    let daemon = Daemon::start("email-trusted", &config(&partners));
    daemon.drop_file("acme-retail", "po-731.x12", &example("order-850.x12"));
    wait_until("both acknowledgements mailed over TLS", || {
        smtp.messages().len() == 2
    });
    let log = daemon.log();
    daemon.stop();
    assert!(!log.contains(PASSWORD), "{log}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn files_set_aside_duplicated_or_rejected_are_reported_in_one_digest_per_interval() {
    let dir = scratch("files-alerts");
    let smtp = SmtpSink::start(&dir.join("mail"), None);
    let daemon = Daemon::start(
        "email-files-alerts",
        &format!(
            "[alerts]\nto = [\"ops@widgetco.example\"]\nfrom = \"edigate@widgetco.example\"\n\
             host = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nmin_interval_s = 2\n\
             [admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\n",
            smtp.port
        ),
    );
    let order = String::from_utf8(example("order-850.x12")).unwrap();
    // A clean order, and the same interchange again: a duplicate ACME's policy rejects.
    daemon.drop_file("acme-retail", "po-731.x12", order.as_bytes());
    wait_until("the first order processed", || daemon.events().len() == 1);
    daemon.drop_file("acme-retail", "po-731-again.x12", order.as_bytes());
    // A sender no partner file names: set aside.
    let stranger = order.replace("ZZ*ACMERETAIL     *", "ZZ*STRANGERCO     *");
    daemon.drop_file("acme-retail", "stranger.x12", stranger.as_bytes());
    // An order without its number: the transaction set is rejected, a negative 999 goes back.
    let broken = order
        .replace("000000731", "000000733")
        .replace("BEG*00*SA*PO-2026-0042**20261120~", "BEG*00*SA~");
    assert_ne!(broken, order);
    daemon.drop_file("acme-retail", "po-733.x12", broken.as_bytes());

    let expected = ["po-731-again.x12", "stranger.x12", "po-733.x12"];
    wait_until("every problem file reported", || {
        let bodies: String = smtp
            .messages()
            .iter()
            .map(|m| show(m)["body"].as_str().unwrap_or_default().to_owned())
            .collect();
        expected.iter().all(|f| bodies.contains(f))
    });
    let mails: Vec<Value> = smtp.messages().iter().map(|m| show(m)).collect();
    let bodies: String = mails
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        bodies.contains("duplicate interchange, first received in m-"),
        "{bodies}"
    );
    assert!(
        bodies.contains("set aside:") && bodies.contains("STRANGERCO"),
        "{bodies}"
    );
    assert!(bodies.contains("1 message(s) rejected"), "{bodies}");
    // The clean order is not reported, and each problem file once.
    assert!(!bodies.contains(" po-731.x12 from "), "{bodies}");
    for f in expected {
        let line = format!(" {f} from ");
        assert_eq!(bodies.matches(&line).count(), 1, "{f}: {bodies}");
    }
    for m in &mails {
        assert_eq!(m["to"], "ops@widgetco.example", "{m}");
        assert!(m["subject"].as_str().unwrap().contains("attention"), "{m}");
    }
    assert!(mails.len() <= expected.len(), "grouped: {mails:?}");
    daemon.stop();
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_silent_partner_is_raised_once_and_its_recovery_reported() {
    let dir = scratch("conditions");
    let smtp = SmtpSink::start(&dir.join("mail"), None);
    // The example partners, ACME expected to send within a second.
    let partners = dir.join("partners");
    fs::create_dir_all(&partners).unwrap();
    for name in ["acme-retail", "eurofoods", "northwind"] {
        let text = fs::read_to_string(root().join(format!("deploy/examples/partners/{name}.toml")))
            .unwrap();
        let text = if name == "acme-retail" {
            format!("expect_within = \"1s\"\n{text}")
        } else {
            text
        };
        fs::write(partners.join(format!("{name}.toml")), text).unwrap();
    }
    let daemon = Daemon::start(
        "email-conditions",
        &format!(
            "partners_dir = {:?}\n[alerts]\nto = [\"ops@widgetco.example\"]\n\
             from = \"edigate@widgetco.example\"\nhost = \"127.0.0.1\"\nport = {}\n\
             tls = \"none\"\nmin_interval_s = 1\n[admin]\nlisten = \"127.0.0.1:0\"\n\
             token = \"{TOKEN}\"\n",
            partners.display().to_string(),
            smtp.port
        ),
    );
    let bodies = |smtp: &SmtpSink| -> Vec<String> {
        smtp.messages()
            .iter()
            .map(|m| show(m)["body"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    wait_until("ACME's silence raised", || {
        bodies(&smtp)
            .iter()
            .any(|b| b.contains("Raised at") && b.contains("partner acme-retail has sent nothing"))
    });
    // Still silent a few intervals later: not raised again.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let raised = bodies(&smtp)
        .iter()
        .filter(|b| b.contains("partner acme-retail has sent nothing"))
        .count();
    assert_eq!(raised, 1, "{:?}", bodies(&smtp));
    // ACME sends, and keeps sending (its window is a second, shorter than a loaded machine may
    // take between a file and the next check): the condition ends, and that is reported. Each
    // file its own interchange, so that none is a duplicate the operators would be told of.
    let order = String::from_utf8(example("order-850.x12")).unwrap();
    let mut sent = 0;
    let mut last_sent: Option<std::time::Instant> = None;
    wait_until("ACME's recovery reported", || {
        if last_sent.is_none_or(|t| t.elapsed() > std::time::Duration::from_millis(300)) {
            sent += 1;
            let order = order.replace("000000731", &format!("{:09}", 900 + sent));
            daemon.drop_file("acme-retail", &format!("po-{sent}.x12"), order.as_bytes());
            last_sent = Some(std::time::Instant::now());
        }
        bodies(&smtp).iter().any(|b| {
            b.contains("Recovered by") && b.contains("partner acme-retail has sent nothing")
        })
    });
    for m in smtp.messages() {
        let m = show(&m);
        assert!(m["subject"].as_str().unwrap().contains("raised"), "{m}");
    }
    daemon.stop();
    let _ = fs::remove_dir_all(&dir);
}

/// An HTTP endpoint on loopback that answers 200 and keeps each request's body.
fn hook_receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/alerts", listener.local_addr().unwrap());
    let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = std::sync::Arc::clone(&bodies);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(50) {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            let body = loop {
                let Ok(n) = stream.read(&mut buf) else {
                    break None;
                };
                if n == 0 {
                    break None;
                }
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        break Some(body.to_owned());
                    }
                }
            };
            if let Some(body) = body {
                kept.lock().unwrap().push(body);
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (url, bodies)
}

#[test]
fn alerts_are_posted_to_the_webhook_as_well_as_mailed() {
    let dir = scratch("alert-hook");
    let smtp = SmtpSink::start(&dir.join("mail"), None);
    let (hook, posted) = hook_receiver();
    let partners = email_partner(&dir, smtp.port, "nobody@acme-retail.example", "");
    let daemon = Daemon::start(
        "email-alert-hook",
        &format!(
            "{}[alerts]\nto = [\"ops@widgetco.example\"]\nfrom = \"edigate@widgetco.example\"\n\
             host = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nmin_interval_s = 1\n\
             [alerts.webhook]\nurl = \"{hook}\"\n",
            config(&partners),
            smtp.port
        ),
    );
    // The partner's mailbox is refused: its acknowledgements die, and that is alerted.
    daemon.drop_file("acme-retail", "po-731.x12", &example("order-850.x12"));
    wait_until("the alert posted", || {
        posted
            .lock()
            .unwrap()
            .iter()
            .any(|b| b.contains("dead-lettered"))
    });
    wait_until("the alert mailed", || !smtp.messages().is_empty());
    daemon.stop();
    let posts = posted.lock().unwrap().clone();
    let alert: Value =
        serde_json::from_str(posts.iter().find(|b| b.contains("dead-lettered")).unwrap()).unwrap();
    assert_eq!(alert["type"], "alert", "{alert}");
    assert!(
        alert["subject"]
            .as_str()
            .unwrap()
            .ends_with("dead-lettered"),
        "{alert}"
    );
    assert!(alert["text"].as_str().unwrap().contains("550"), "{alert}");
    // The mail says the same.
    let mail = show(&smtp.messages()[0]);
    assert_eq!(mail["subject"], alert["subject"], "{mail}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn implicit_tls_mails_over_tls_from_the_first_byte() {
    let dir = scratch("implicit-tls");
    let (ca, cert, key) = test_certificates(&dir);
    let smtp = SmtpSink::start_implicit_tls(&dir.join("mail"), cert, key);
    let partners = email_partner(
        &dir,
        smtp.port,
        "edi@acme-retail.example",
        &format!("tls = \"tls\"\nca_file = {:?}\n", ca.display().to_string()),
    );
    let daemon = Daemon::start("email-implicit-tls", &config(&partners));
    daemon.drop_file("acme-retail", "po-731.x12", &example("order-850.x12"));
    wait_until("both acknowledgements mailed over implicit TLS", || {
        smtp.messages().len() == 2
    });
    let link = mail_link(&daemon, "partner:acme-retail");
    assert_eq!(link["tls"], "tls", "{link}");
    assert_eq!(link["server"], format!("127.0.0.1:{}", smtp.port), "{link}");
    assert_eq!(link["failing"], false, "{link}");
    daemon.stop();
    for message in smtp.messages() {
        let m = show(&message);
        let bytes = unhex(m["attachments"][0]["hex"].as_str().unwrap());
        assert!(bytes.starts_with(b"ISA*"), "{m}");
    }

    // A client expecting STARTTLS from this server gets no greeting it understands: nothing
    // is sent in clear.
    let starttls_dir = dir.join("starttls");
    fs::create_dir_all(&starttls_dir).unwrap();
    let partners = email_partner(
        &starttls_dir,
        smtp.port,
        "edi@acme-retail.example",
        &format!(
            "tls = \"starttls\"\nca_file = {:?}\n",
            ca.display().to_string()
        ),
    );
    let daemon = Daemon::start("email-implicit-mismatch", &config(&partners));
    daemon.drop_file("acme-retail", "po-731.x12", &example("order-850.x12"));
    wait_until("the failed attempt in the status", || {
        mail_link(&daemon, "partner:acme-retail")["failing"] == true
    });
    daemon.stop();
    assert_eq!(smtp.messages().len(), 2, "nothing more arrived");
    let _ = fs::remove_dir_all(&dir);
}

/// `edigate status` against `daemon`; `json` adds `--json`.
fn status_output(daemon: &Daemon, json: bool) -> String {
    let args: &[&str] = if json {
        &["status", "--json"]
    } else {
        &["status"]
    };
    admin_cli(&daemon.admin_url(), TOKEN, args)
}

/// The mail link `name` in `edigate status --json`.
fn mail_link(daemon: &Daemon, name: &str) -> Value {
    let report: Value = serde_json::from_str(&status_output(daemon, true)).unwrap();
    report["email"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == name)
        .unwrap_or_else(|| panic!("no mail link {name} in {report}"))
        .clone()
}

#[test]
fn smtp_link_state_shows_a_failure_and_the_recovery() {
    let dir = scratch("link-state");
    let mut smtp = SmtpSink::start(&dir.join("mail"), None);
    let partners = email_partner(&dir, smtp.port, "edi@acme-retail.example", "");
    let daemon = Daemon::start(
        "email-link-state",
        &format!(
            "{}[alerts]\nto = [\"ops@widgetco.example\"]\nfrom = \"edigate@widgetco.example\"\n\
             host = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n",
            config(&partners),
            smtp.port
        ),
    );
    // Both servers we mail through are on the board before any mail.
    let alerts = mail_link(&daemon, "alerts:email");
    assert_eq!(alerts["direction"], "outbound", "{alerts}");
    assert_eq!(alerts["failing"], false, "{alerts}");
    assert!(alerts["last_success"].is_null(), "{alerts}");

    smtp.stop();
    daemon.drop_file("acme-retail", "po-731.x12", &example("order-850.x12"));
    let mut link = Value::Null;
    wait_until("the failure in the status", || {
        link = mail_link(&daemon, "partner:acme-retail");
        link["failing"] == true
    });
    assert!(
        link["consecutive_failures"].as_u64().unwrap() >= 1,
        "{link}"
    );
    assert!(link["last_success"].is_null(), "{link}");
    let error = link["last_error"]["message"].as_str().unwrap();
    assert!(error.contains("127.0.0.1"), "{link}");
    let text = status_output(&daemon, false);
    assert!(text.contains("MAIL LINK"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("partner:acme-retail") && l.contains("failing")),
        "{text}"
    );
    assert!(
        text.contains("warning: mail link partner:acme-retail"),
        "{text}"
    );

    smtp.restart();
    wait_until("the recovery in the status", || {
        link = mail_link(&daemon, "partner:acme-retail");
        link["failing"] == false && link["last_success"].is_u64()
    });
    assert_eq!(link["consecutive_failures"], 0, "{link}");
    // The failure stays visible after the recovery, for whoever looks later.
    assert!(link["last_error"]["at"].is_u64(), "{link}");
    wait_until("both acknowledgements mailed", || {
        smtp.messages().len() == 2
    });
    daemon.stop();
    let _ = fs::remove_dir_all(&dir);
}
