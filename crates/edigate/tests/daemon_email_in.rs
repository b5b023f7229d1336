//! `edigate serve` with an inbound email channel: partners mail their documents to it from
//! Python's smtplib (`tests/peers/smtp_sink.py send`, in the venv `tests/peers/setup.sh`
//! installs), as any mail system would. Known senders' attachments become events and
//! acknowledgements; unknown senders, unknown recipients and oversized mail are refused with the
//! SMTP codes a sender understands; garbage is taken, kept and set aside with the reason; an
//! envelope of another partner is quarantined; STARTTLS is verified by the client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::{Daemon, admin_cli, example, free_port, root, test_certificates, wait_until};

const TOKEN: &str = "email-in-test-token";
const US: &str = "edi@widgetco.example";
const ACME: &str = "orders@acme-retail.example";
const EUROFOODS: &str = "edi@eurofoods.example";

fn peers() -> PathBuf {
    root().join("tests/peers")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("edigate-email-in-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// The example partners, ACME and EuroFoods mailing from their own addresses.
fn partners(dir: &Path) -> PathBuf {
    let out = dir.join("partners");
    fs::create_dir_all(&out).unwrap();
    for (id, from) in [
        ("acme-retail", Some(ACME)),
        ("eurofoods", Some(EUROFOODS)),
        ("northwind", None),
    ] {
        let text =
            fs::read_to_string(root().join(format!("deploy/examples/partners/{id}.toml"))).unwrap();
        let extra = from.map_or(String::new(), |f| {
            format!("\n[inbound.email]\nfrom = [{f:?}]\n")
        });
        fs::write(out.join(format!("{id}.toml")), format!("{text}{extra}")).unwrap();
    }
    out
}

/// The configuration: the partners above, one email channel on `port` (with `extra` keys or an
/// `[inbound.tls]` table), and a token for the admin API.
fn config(partners: &Path, port: u16, extra: &str) -> String {
    format!(
        "partners_dir = {:?}\n\
         [[inbound]]\ntype = \"email\"\nname = \"mail\"\nlisten = \"127.0.0.1:{port}\"\n\
         recipients = [{US:?}]\nmax_message_bytes = 20000\nhostname = \"edi.widgetco.example\"\n\
         {extra}\n\
         [admin]\nlisten = \"127.0.0.1:0\"\ntoken = {TOKEN:?}\n",
        partners.display().to_string()
    )
}

/// Mails `attachments` from `from` to `to` through the channel on `port`; `ca` makes the client
/// say STARTTLS and verify our certificate against it. The server's answer: (stage, code,
/// message).
fn send(
    port: u16,
    from: &str,
    to: &str,
    ca: Option<&Path>,
    attachments: &[&Path],
) -> (String, u64, String) {
    let python = peers().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `sh tests/peers/setup.sh`",
        python.display()
    );
    let mut cmd = Command::new(python);
    cmd.arg(peers().join("smtp_sink.py")).arg("send");
    if let Some(ca) = ca {
        cmd.arg("--ca").arg(ca);
    }
    cmd.args(["127.0.0.1", &port.to_string(), from, to]);
    cmd.args(attachments);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "smtp_sink.py send: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (
        answer["stage"].as_str().unwrap().to_string(),
        answer["code"].as_u64().unwrap(),
        answer["message"].as_str().unwrap().to_string(),
    )
}

/// A file named `name` holding `bytes`, to attach.
fn attachment(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, bytes).unwrap();
    path
}

/// `edigate status --json` against `daemon`.
fn status(daemon: &Daemon) -> Value {
    serde_json::from_str(&admin_cli(
        &daemon.admin_url(),
        TOKEN,
        &["status", "--json"],
    ))
    .unwrap()
}

/// The mail link `name` in `edigate status --json`.
fn mail_link(daemon: &Daemon, name: &str) -> Value {
    let report = status(daemon);
    report["email"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == name)
        .unwrap_or_else(|| panic!("no mail link {name} in {report}"))
        .clone()
}

/// `GET /metrics` with the token.
fn metrics(daemon: &Daemon) -> String {
    support::metrics(daemon, TOKEN)
}

fn messages(data: &support::Data) -> Vec<outbox::Message> {
    data.outbox()
        .list_messages(&outbox::MessageFilter::default(), 100)
        .unwrap()
}

#[test]
fn partners_mail_x12_and_edifact_that_become_events_and_acknowledgements() {
    let dir = scratch("good");
    let port = free_port();
    let daemon = Daemon::start("email-in-good", &config(&partners(&dir), port, ""));

    let order = attachment(&dir, "po-731.x12", &example("order-850.x12"));
    assert_eq!(
        send(port, ACME, US, None, &[&order]),
        ("done".into(), 250, "taken".into())
    );
    let orders = attachment(&dir, "orders-0042.edi", &example("order-orders.edi"));
    // The recipient in another case is the same mailbox.
    let (stage, code, _) = send(port, EUROFOODS, &US.to_uppercase(), None, &[&orders]);
    assert_eq!((stage.as_str(), code), ("done", 250));

    wait_until("two events and the acknowledgements", || {
        daemon.events().len() == 2 && daemon.outbound_files().len() == 3
    });
    let link = mail_link(&daemon, "mail");
    assert_eq!(link["direction"], "inbound");
    assert_eq!(link["listening"], true);
    assert_eq!(link["received"], 2);
    assert!(link["last_success"].as_u64().is_some(), "{link}");
    assert_eq!(link["server"], format!("127.0.0.1:{port}"));
    let text = admin_cli(&daemon.admin_url(), TOKEN, &["status"]);
    assert!(
        text.lines().any(|l| l.starts_with("mail ")
            && l.contains("inbound")
            && l.contains("listening")
            && l.contains(&format!("127.0.0.1:{port}"))),
        "{text}"
    );
    let data = daemon.stop();

    let events = data.events();
    let of = |p: &str| {
        events
            .iter()
            .find(|e| e["partner"] == p)
            .unwrap_or_else(|| panic!("no event for {p}: {events:?}"))
    };
    assert_eq!(of("acme-retail")["type"], "order.created");
    assert_eq!(of("acme-retail")["data"]["order_number"], "PO-2026-0042");
    assert_eq!(of("eurofoods")["source"]["standard"], "edifact");
    let acks = data.outbound_files();
    let has = |partner: &str, needle: &str| {
        acks.iter()
            .any(|(p, _, body)| p == partner && body.contains(needle))
    };
    assert!(has("acme-retail", "TA1*000000731*"), "{acks:?}");
    assert!(has("acme-retail", "ST*999*"), "{acks:?}");
    assert!(
        has("eurofoods", "UNH+") && has("eurofoods", "CONTRL"),
        "{acks:?}"
    );

    // Each attachment is a message of its own, named as attached, on the sender's channel.
    let all = messages(&data);
    let mut seen: Vec<(String, String)> = all
        .iter()
        .map(|m| (m.channel.clone(), m.file_name.clone()))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("mail:acme-retail".to_string(), "po-731.x12".to_string()),
            ("mail:eurofoods".to_string(), "orders-0042.edi".to_string())
        ]
    );
    assert!(
        all.iter()
            .all(|m| m.state == outbox::MessageState::Processed),
        "{all:?}"
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn refused_mail_is_told_and_recorded_and_bad_documents_are_kept_and_set_aside() {
    let dir = scratch("bad");
    let port = free_port();
    let daemon = Daemon::start("email-in-bad", &config(&partners(&dir), port, ""));
    let order = attachment(&dir, "po-731.x12", &example("order-850.x12"));

    // A sender no partner file lists: refused before the mail is sent.
    let (stage, code, message) = send(port, "mallory@evil.example", US, None, &[&order]);
    assert_eq!((stage.as_str(), code), ("mail", 550), "{message}");
    assert!(message.contains("not a known trading partner"), "{message}");
    // A mailbox we do not take mail for.
    let (stage, code, _) = send(port, ACME, "postmaster@widgetco.example", None, &[&order]);
    assert_eq!((stage.as_str(), code), ("rcpt", 550));
    // Over max_message_bytes (20000): read to the end, then refused.
    let big = attachment(&dir, "big.x12", &vec![b'X'; 30_000]);
    let (stage, code, message) = send(port, ACME, US, None, &[&big]);
    assert_eq!((stage.as_str(), code), ("data", 552), "{message}");

    // Garbage from a known partner is taken: kept, and set aside with the reason.
    let garbage: Vec<u8> = (0..3000u32).map(|i| (i * 7919 % 251) as u8).collect();
    let garbage_file = attachment(&dir, "garbage.edi", &garbage);
    assert_eq!(send(port, ACME, US, None, &[&garbage_file]).1, 250);
    // EuroFoods' interchange mailed from ACME's address: the envelope is not the sender's.
    let orders = attachment(&dir, "orders-0042.edi", &example("order-orders.edi"));
    assert_eq!(send(port, ACME, US, None, &[&orders]).1, 250);
    // And the daemon goes on: a good order after all that.
    assert_eq!(send(port, ACME, US, None, &[&order]).1, 250);
    wait_until("the good order's event", || daemon.events().len() == 1);

    let link = mail_link(&daemon, "mail");
    assert_eq!(link["refused"], 3, "{link}");
    assert_eq!(link["received"], 3, "{link}");
    assert_eq!(link["listening"], true);
    let refusal = &link["last_refusal"];
    assert_eq!(refusal["code"], 552, "{link}");
    assert_eq!(refusal["sender"], ACME, "{link}");
    let scraped = metrics(&daemon);
    let count = |reason: &str| {
        scraped
            .lines()
            .find(|l| {
                l.starts_with("edigate_email_refused_total{")
                    && l.contains(&format!("reason=\"{reason}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_string)
    };
    assert_eq!(count("unknown_sender").as_deref(), Some("1"), "{scraped}");
    assert_eq!(
        count("unknown_recipient").as_deref(),
        Some("1"),
        "{scraped}"
    );
    assert_eq!(count("too_large").as_deref(), Some("1"), "{scraped}");
    let log = support::strip_ansi(&daemon.log());
    assert!(
        log.lines().any(|l| l.contains("mail refused")
            && l.contains("mallory@evil.example")
            && l.contains("unknown_sender")),
        "{log}"
    );
    let data = daemon.stop();

    let all = messages(&data);
    let named = |name: &str| {
        all.iter()
            .find(|m| m.file_name == name)
            .unwrap_or_else(|| panic!("no message {name}: {all:?}"))
    };
    let kept = named("garbage.edi");
    let outbox::MessageState::Quarantined { reason } = &kept.state else {
        panic!("{kept:?}");
    };
    assert!(
        reason.contains("not readable as X12 or EDIFACT"),
        "{reason}"
    );
    // The bytes as mailed, in the spool.
    assert_eq!(kept.size, garbage.len() as u64);
    let spooled = fs::read(&kept.spool_path).unwrap();
    let start = kept.spool_offset as usize;
    assert_eq!(&spooled[start..start + garbage.len()], &garbage[..]);

    let foreign = named("orders-0042.edi");
    let outbox::MessageState::Quarantined { reason } = &foreign.state else {
        panic!("{foreign:?}");
    };
    assert!(
        reason
            .contains("from partner eurofoods, but the channel is reserved to partner acme-retail"),
        "{reason}"
    );
    assert_eq!(named("po-731.x12").state, outbox::MessageState::Processed);
    assert_eq!(all.len(), 3, "refused mail leaves no message: {all:?}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn starttls_is_offered_required_and_verified_by_the_client() {
    let dir = scratch("tls");
    let (ca, cert, key) = test_certificates(&dir);
    let port = free_port();
    let tls = format!(
        "require_tls = true\n[inbound.tls]\ncertificate = {:?}\nkey = {:?}\n",
        cert.display().to_string(),
        key.display().to_string()
    );
    let daemon = Daemon::start("email-in-tls", &config(&partners(&dir), port, &tls));
    let order = attachment(&dir, "po-731.x12", &example("order-850.x12"));

    // In clear: told to start TLS first, nothing taken.
    let (stage, code, message) = send(port, ACME, US, None, &[&order]);
    assert_eq!((stage.as_str(), code), ("mail", 530), "{message}");
    // A client that trusts only some other CA refuses our certificate.
    let other = scratch("tls-other");
    let (other_ca, _, _) = test_certificates(&other);
    let (stage, _, message) = send(port, ACME, US, Some(&other_ca), &[&order]);
    assert_eq!(stage, "tls", "{message}");
    assert!(message.contains("CERTIFICATE_VERIFY_FAILED"), "{message}");
    // With STARTTLS and our CA: taken.
    assert_eq!(
        send(port, ACME, US, Some(&ca), &[&order]),
        ("done".into(), 250, "taken".into())
    );
    wait_until("the order's event", || daemon.events().len() == 1);
    assert_eq!(mail_link(&daemon, "mail")["tls"], "starttls");
    let data = daemon.stop();
    assert_eq!(data.events()[0]["partner"], "acme-retail");
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_dir_all(&other);
}

/// One SMTP connection spoken by hand, for what no well-behaved client sends.
struct RawSmtp {
    reader: std::io::BufReader<TcpStream>,
}

impl RawSmtp {
    fn connect(port: u16) -> RawSmtp {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        let mut smtp = RawSmtp {
            reader: std::io::BufReader::new(stream),
        };
        assert!(smtp.reply().starts_with("220 edi.widgetco.example"));
        smtp
    }

    /// The next reply, all its lines.
    fn reply(&mut self) -> String {
        use std::io::BufRead;
        let mut all = String::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line).unwrap() == 0 {
                return all;
            }
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).unwrap();
    }

    fn command(&mut self, line: &[u8]) -> String {
        self.send(line);
        self.reply()
    }
}

#[test]
fn protocol_abuse_is_answered_and_never_takes_the_daemon_down() {
    let dir = scratch("abuse");
    let port = free_port();
    let daemon = Daemon::start("email-in-abuse", &config(&partners(&dir), port, ""));

    let mut smtp = RawSmtp::connect(port);
    assert!(smtp.command(b"EHLO client.example\r\n").starts_with("250"));
    assert!(smtp.command(b"\x00\xff\xfe nonsense\r\n").starts_with('5'));
    assert!(
        smtp.command(b"DATA\r\n").starts_with("503"),
        "no DATA before MAIL"
    );
    assert!(
        smtp.command(format!("MAIL FROM:<{ACME}>\r\n").as_bytes())
            .starts_with("250")
    );
    assert!(
        smtp.command(format!("RCPT TO:<{US}>\r\n").as_bytes())
            .starts_with("250")
    );
    assert!(smtp.command(b"DATA\r\n").starts_with("354"));
    // The order as the mail's body, then a bare-LF dot and a second mail "from" EuroFoods
    // hidden inside: only CRLF.CRLF ends a mail, so it stays this mail's text.
    let order = String::from_utf8(example("order-850.x12")).unwrap();
    let smuggled = format!(
        "From: {ACME}\r\nSubject: order\r\n\r\n{}\r\n\n.\nMAIL FROM:<{EUROFOODS}>\nRCPT TO:<{US}>\nDATA\n{}\n.\n",
        order.trim_end(),
        String::from_utf8(example("order-orders.edi"))
            .unwrap()
            .trim_end()
    );
    smtp.send(smuggled.as_bytes());
    let reply = smtp.command(b"\r\n.\r\n");
    assert!(reply.starts_with("250"), "{reply}");
    // A refused mail ends its transaction too: the next commands are commands again.
    assert!(
        smtp.command(format!("MAIL FROM:<{ACME}>\r\n").as_bytes())
            .starts_with("250")
    );
    assert!(
        smtp.command(format!("RCPT TO:<{US}>\r\n").as_bytes())
            .starts_with("250")
    );
    assert!(smtp.command(b"DATA\r\n").starts_with("354"));
    for _ in 0..300 {
        smtp.send(&[b'Z'; 100]);
        smtp.send(b"\r\n");
    }
    let reply = smtp.command(b".\r\n");
    assert!(reply.starts_with("552"), "{reply}");
    assert!(smtp.command(b"NOOP\r\n").starts_with("250"));
    assert!(smtp.command(b"RSET\r\n").starts_with("250"));
    assert!(smtp.command(b"QUIT\r\n").starts_with("221"));

    // A line longer than any mail needs ends that connection only.
    let mut long = RawSmtp::connect(port);
    long.send(&vec![b'A'; 70_000]);
    let reply = long.command(b"\r\n");
    assert!(reply.starts_with("500"), "{reply}");
    // Silence, then a dropped connection in the middle of a mail.
    let mut dropped = RawSmtp::connect(port);
    assert!(
        dropped
            .command(b"HELO client.example\r\n")
            .starts_with("250")
    );
    assert!(
        dropped
            .command(format!("MAIL FROM:<{ACME}>\r\n").as_bytes())
            .starts_with("250")
    );
    assert!(
        dropped
            .command(format!("RCPT TO:<{US}>\r\n").as_bytes())
            .starts_with("250")
    );
    assert!(dropped.command(b"DATA\r\n").starts_with("354"));
    dropped.send(b"Subject: half\r\n\r\nISA*00*");
    drop(dropped);

    let mut after = RawSmtp::connect(port);
    assert!(after.command(b"NOOP\r\n").starts_with("250"));
    wait_until("the mail's body finished", || {
        daemon.log().contains("mail-body-") && daemon.log().contains("quarantined m-")
    });
    let data = daemon.stop();
    let all = messages(&data);
    assert_eq!(all.len(), 1, "one mail, one message: {all:?}");
    assert_eq!(all[0].channel, "mail:acme-retail");
    assert!(all[0].file_name.starts_with("mail-body-"), "{all:?}");
    // The "second mail" is text of the first, where the parser finds it after the interchange.
    let outbox::MessageState::Quarantined { reason } = &all[0].state else {
        panic!("{all:?}");
    };
    assert!(
        reason.contains("unexpected data after the interchange trailer: \"MAIL\""),
        "{reason}"
    );
    assert!(data.events().is_empty());
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_channel_reserved_to_a_partner_refuses_the_other_partners_senders() {
    let dir = scratch("reserved");
    let port = free_port();
    let daemon = Daemon::start(
        "email-in-reserved",
        &config(&partners(&dir), port, "partner = \"eurofoods\"\n"),
    );
    let order = attachment(&dir, "po-731.x12", &example("order-850.x12"));
    let (stage, code, message) = send(port, ACME, US, None, &[&order]);
    assert_eq!((stage.as_str(), code), ("mail", 550), "{message}");
    assert!(message.contains("reserved to eurofoods"), "{message}");
    let orders = attachment(&dir, "orders-0042.edi", &example("order-orders.edi"));
    assert_eq!(send(port, EUROFOODS, US, None, &[&orders]).1, 250);
    wait_until("EuroFoods' order", || daemon.events().len() == 1);
    let link = mail_link(&daemon, "mail");
    assert_eq!(link["partner"], "eurofoods", "{link}");
    assert_eq!(link["last_refusal"]["sender"], ACME, "{link}");
    assert!(
        metrics(&daemon)
            .lines()
            .any(|l| l.starts_with("edigate_email_refused_total{")
                && l.contains("reason=\"wrong_partner\"")
                && l.ends_with(" 1"))
    );
    let data = daemon.stop();
    assert_eq!(data.events()[0]["partner"], "eurofoods");
    let _ = fs::remove_dir_all(&dir);
}
