//! `edigate serve` speaking AS2 with pyas2lib (tests/peers/as2_daemon_peer.py) on loopback: the
//! partner posting to our AS2 channel, and us posting to a pyas2lib receiver, faults included.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use outbox::{DeliveryState, MessageState, ReceiptVerdict};
use support::as2::{certificates, peer_lines, peer_script, python, run_peer};
use support::{Daemon, Data, admin_cli, free_port, root, strip_ansi, wait_until};

const TOKEN: &str = "as2-status-token";

/// A partner directory with ACME Retail exchanging over AS2; `as2` is added to its `[as2]`.
fn partners(certs: &Path, as2: &str) -> PathBuf {
    let dir = certs.join("partners");
    fs::create_dir_all(&dir).unwrap();
    let acme =
        fs::read_to_string(root().join("deploy/examples/partners/acme-retail.toml")).unwrap();
    fs::write(
        dir.join("acme-retail.toml"),
        format!(
            "{acme}\n[as2]\nid = \"partner\"\nus = \"edigate\"\ncertificates = [{:?}]\n{as2}\n",
            certs.join("partner.cert.pem").display().to_string()
        ),
    )
    .unwrap();
    dir
}

/// The daemon's configuration: our partners, an AS2 channel on `port`, our `[as2]` identity,
/// quick retries, and `extra` settings of `[as2]` (before the other tables).
fn config(certs: &Path, partners: &Path, port: u16, as2_extra: &str) -> String {
    format!(
        "partners_dir = {partners:?}\n\
         [[inbound]]\ntype = \"as2\"\nname = \"as2\"\nlisten = \"127.0.0.1:{port}\"\nplain_http = true\n\
         [as2]\nname = \"edigate\"\npassphrase_file = {pass:?}\n{as2_extra}\n\
         [[as2.keys]]\nkey = {key:?}\ncertificate = {cert:?}\n\
         [delivery]\nbase_delay_ms = 100\nmax_delay_ms = 400\n\
         [admin]\nlisten = \"127.0.0.1:0\"\ntoken = {TOKEN:?}\n",
        partners = partners.display().to_string(),
        pass = certs.join("passphrase").display().to_string(),
        key = certs.join("edigate.pem").display().to_string(),
        cert = certs.join("edigate.cert.pem").display().to_string(),
    )
}

/// Posts `file` to the daemon's AS2 channel as pyas2lib's partner; one JSON verdict per post.
fn send(certs: &Path, port: u16, file: &Path, env: &[(&str, &str)]) -> Vec<serde_json::Value> {
    run_peer(
        "send",
        certs,
        &format!("http://127.0.0.1:{port}/"),
        file,
        env,
    )
}

fn order(certs: &Path) -> PathBuf {
    let f = certs.join("po-731.x12");
    fs::write(&f, support::example("order-850.x12")).unwrap();
    f
}

fn messages(data: &Data) -> Vec<outbox::Message> {
    let outbox = data.outbox();
    outbox
        .list_messages(&outbox::MessageFilter::default(), 100)
        .unwrap()
}

/// The `/metrics` text of the running daemon.
fn metrics(daemon: &Daemon) -> String {
    support::metrics(daemon, TOKEN)
}

fn functional_acks(data: &Data) -> usize {
    data.outbound_files()
        .iter()
        .filter(|(p, name, _)| p == "acme-retail" && name.starts_with("functional"))
        .count()
}

#[test]
fn a_signed_encrypted_message_is_spooled_processed_and_answered_with_a_signed_mdn() {
    let certs = certificates("sync-in");
    let port = free_port();
    let cfg = config(&certs, &partners(&certs, ""), port, "");
    let daemon = Daemon::start("as2-sync-in", &cfg);
    let verdicts = send(&certs, port, &order(&certs), &[]);
    assert_eq!(verdicts.len(), 1);
    // pyas2lib verified our MDN's signature and the MIC it returns.
    assert_eq!(verdicts[0]["status"], "processed", "{verdicts:?}");
    assert_eq!(verdicts[0]["signed"], true);
    assert!(verdicts[0]["mic"].is_string());
    assert_eq!(
        verdicts[0]["mdn_mic"], verdicts[0]["mic"],
        "our MDN returns the sender's MIC"
    );
    wait_until("the order's event", || daemon.events().len() == 1);
    wait_until("the 999 queued and written", || {
        functional_acks(&daemon) == 1
    });
    let data = daemon.stop();
    let events = data.events();
    assert_eq!(events[0]["partner"], "acme-retail");
    assert_eq!(events[0]["data"]["order_number"], "PO-2026-0042");
    let all = messages(&data);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].channel, "as2:acme-retail");
    assert_eq!(all[0].file_name, "po-731.x12");
    assert_eq!(all[0].state, MessageState::Processed);
    let trace = data.outbox().trace(all[0].id).unwrap();
    let message_id = verdicts[0]["message_id"].as_str().unwrap();
    assert!(
        trace.iter().any(|t| t.detail.contains(message_id)),
        "the AS2 Message-ID is in the trace: {trace:?}"
    );
}

#[test]
fn an_async_mdn_is_posted_to_the_partner_and_verified_there() {
    let certs = certificates("async-in");
    let port = free_port();
    let cfg = config(&certs, &partners(&certs, ""), port, "");
    let daemon = Daemon::start("as2-async-in", &cfg);
    let verdicts = send(&certs, port, &order(&certs), &[("AS2_ASYNC", "1")]);
    assert_eq!(verdicts[0]["status"], "processed", "{verdicts:?}");
    assert_eq!(verdicts[0]["signed"], true);
    wait_until("the order's event", || daemon.events().len() == 1);
    let data = daemon.stop();
    let outbox = data.outbox();
    let mdns = support::deliveries_to(&outbox, "as2-mdn:acme-retail");
    assert_eq!(mdns.len(), 1, "the async MDN went through the outbox");
    assert!(matches!(mdns[0].state, DeliveryState::Delivered { .. }));
}

#[test]
fn unsigned_unencrypted_messages_are_taken_only_where_the_partnership_allows() {
    let certs = certificates("plain-in");
    let port = free_port();
    let cfg = config(
        &certs,
        &partners(&certs, "sign = false\nencrypt = false"),
        port,
        "",
    );
    let daemon = Daemon::start("as2-plain-in", &cfg);
    let env = [("AS2_SIGN", "0"), ("AS2_ENCRYPT", "0")];
    let verdicts = send(&certs, port, &order(&certs), &env);
    assert_eq!(verdicts[0]["status"], "processed", "{verdicts:?}");
    assert_eq!(
        verdicts[0]["signed"], false,
        "an unsigned MDN was asked for"
    );
    wait_until("the order's event", || daemon.events().len() == 1);
    drop(daemon.stop());

    // The same partner requiring both: refused with the standard disposition, nothing processed.
    let certs = certificates("plain-refused");
    let port = free_port();
    let cfg = config(&certs, &partners(&certs, ""), port, "");
    let daemon = Daemon::start("as2-plain-refused", &cfg);
    let verdicts = send(&certs, port, &order(&certs), &env);
    assert_eq!(verdicts[0]["status"], "processed/error", "{verdicts:?}");
    assert_eq!(verdicts[0]["detail"], "insufficient-message-security");
    let data = daemon.stop();
    assert!(data.events().is_empty());
    let all = messages(&data);
    assert_eq!(all.len(), 1, "the refused message is kept");
    let MessageState::Quarantined { reason } = &all[0].state else {
        panic!("not quarantined: {:?}", all[0].state);
    };
    assert!(reason.contains("insufficient-message-security"), "{reason}");
}

#[test]
fn wrong_certificate_tampered_body_and_unknown_partnership_are_refused_and_recorded() {
    let certs = certificates("faults-in");
    let port = free_port();
    // Signed, encryption optional: a tampered body can then be posted as it is.
    let cfg = config(&certs, &partners(&certs, "encrypt = false"), port, "");
    let daemon = Daemon::start("as2-faults-in", &cfg);
    let file = order(&certs);

    let stranger = certs.join("stranger.cert.pem").display().to_string();
    let v = send(
        &certs,
        port,
        &file,
        &[("AS2_ENCRYPT_TO", stranger.as_str())],
    );
    assert_eq!(v[0]["status"], "processed/error", "{v:?}");
    assert_eq!(v[0]["detail"], "decryption-failed");

    let stranger_key = certs.join("stranger.pem").display().to_string();
    let v = send(
        &certs,
        port,
        &file,
        &[("AS2_SIGN_WITH", stranger_key.as_str())],
    );
    assert_eq!(v[0]["detail"], "authentication-failed", "{v:?}");

    let v = send(
        &certs,
        port,
        &file,
        &[
            ("AS2_ENCRYPT", "0"),
            ("AS2_TAMPER", "PO-2026-0042:PO-2026-0043"),
        ],
    );
    assert_eq!(v[0]["detail"], "integrity-check-failed", "{v:?}");

    let v = send(&certs, port, &file, &[("AS2_FROM", "nobody")]);
    assert_eq!(v[0]["status"], "http-403", "{v:?}");

    let m = metrics(&daemon);
    for outcome in [
        "decryption-failed",
        "authentication-failed",
        "integrity-check-failed",
    ] {
        let line = format!(
            "edigate_as2_messages_total{{partner=\"acme-retail\",outcome=\"{outcome}\"}} 1"
        );
        assert!(m.contains(&line), "{line} missing in:\n{m}");
    }

    let data = daemon.stop();
    assert!(data.events().is_empty(), "nothing refused is processed");
    assert_eq!(functional_acks(&data), 0);
    let all = messages(&data);
    assert_eq!(
        all.len(),
        4,
        "every refused message is spooled and recorded"
    );
    let mut reasons: Vec<String> = all
        .iter()
        .map(|m| match &m.state {
            MessageState::Quarantined { reason } => reason.clone(),
            other => panic!("not quarantined: {other:?}"),
        })
        .collect();
    reasons.sort();
    let joined = reasons.join("\n");
    for code in [
        "decryption-failed",
        "authentication-failed",
        "integrity-check-failed",
        "no partner file has an [as2] partnership with id = \"nobody\"",
    ] {
        assert!(joined.contains(code), "{code} missing in:\n{joined}");
    }
    for m in &all {
        assert!(
            fs::metadata(&m.spool_path).is_ok() && m.size > 0,
            "the raw body of {} is in the spool",
            m.id
        );
    }
}

#[test]
fn a_retransmitted_message_id_is_answered_again_and_processed_once() {
    let certs = certificates("dup-in");
    let port = free_port();
    let cfg = config(&certs, &partners(&certs, ""), port, "");
    let daemon = Daemon::start("as2-dup-in", &cfg);
    let v = send(&certs, port, &order(&certs), &[("AS2_POSTS", "3")]);
    assert_eq!(v.len(), 3);
    for verdict in &v {
        assert_eq!(verdict["status"], "processed", "{v:?}");
    }
    assert!(v[0]["mdn_id"].is_string(), "{v:?}");
    assert!(
        v.iter().all(|x| x["mdn_id"] == v[0]["mdn_id"]),
        "the same MDN every time: {v:?}"
    );
    wait_until("the order's event", || daemon.events().len() == 1);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let data = daemon.stop();
    assert_eq!(data.events().len(), 1, "processed once");
    assert_eq!(functional_acks(&data), 1, "acknowledged once");
    let all = messages(&data);
    assert_eq!(all.len(), 1);
    let trace = data.outbox().trace(all[0].id).unwrap();
    let repeats = trace
        .iter()
        .filter(|t| t.detail.contains("sent again by the partner"))
        .count();
    assert_eq!(repeats, 2, "{trace:?}");
}

#[test]
fn a_partnership_may_answer_a_retransmission_with_a_duplicate_warning() {
    let certs = certificates("dup-warn");
    let port = free_port();
    let partners = partners(&certs, "retransmission = \"warn\"\n");
    let daemon = Daemon::start("as2-dup-warn", &config(&certs, &partners, port, ""));
    let v = send(&certs, port, &order(&certs), &[("AS2_POSTS", "2")]);
    assert_eq!(v.len(), 2, "{v:?}");
    assert_eq!(v[0]["status"], "processed", "{v:?}");
    assert!(
        v[1]["status"]
            .as_str()
            .unwrap_or_default()
            .contains("warning")
            && v[1]["detail"].to_string().contains("duplicate-document"),
        "the second answer warns: {v:?}"
    );
    assert_ne!(v[0]["mdn_id"], v[1]["mdn_id"], "a new MDN: {v:?}");
    assert_eq!(
        v[1]["mdn_mic"], v[1]["mic"],
        "with the MIC, verified by pyas2lib: {v:?}"
    );
    assert_eq!(v[1]["signed"], true, "{v:?}");
    wait_until("the order's event", || daemon.events().len() == 1);
    let data = daemon.stop();
    assert_eq!(data.events().len(), 1, "processed once");
    let all = messages(&data);
    assert_eq!(all.len(), 1);
    let trace = data.outbox().trace(all[0].id).unwrap();
    assert!(
        trace
            .iter()
            .any(|t| t.detail.contains("duplicate-document warning")),
        "{trace:?}"
    );
}

#[test]
fn a_kill_after_the_spool_before_the_mdn_leaves_a_retransmission_processed_once() {
    let certs = certificates("kill-in");
    let port = free_port();
    let cfg = config(&certs, &partners(&certs, ""), port, "");
    let data = Data::new("as2-kill-in", &cfg);
    let log_path = data.dir.with_extension("log");
    // A pause between the spool and the MDN (debug builds only), for the kill to land in.
    let daemon = Daemon::start_with_env(data, &[("EDIGATE_TEST_AS2_PAUSE_MS", "20000")]);
    let sender = Command::new(python())
        .arg(peer_script())
        .arg("send")
        .arg(&certs)
        .arg(format!("http://127.0.0.1:{port}/"))
        .arg(order(&certs))
        .env("AS2_RETRY_S", "60")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the message spooled", || {
        strip_ansi(&daemon.log()).contains("AS2 message spooled")
    });
    let data = daemon.kill();
    let daemon = Daemon::start_on(data);
    let out = sender.wait_with_output().unwrap();
    let verdict = &peer_lines("send", &out)[0];
    assert_eq!(verdict["status"], "processed", "{verdict}");
    wait_until("the order's event", || daemon.events().len() == 1);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let data = daemon.stop();
    assert_eq!(data.events().len(), 1, "processed once");
    let all = messages(&data);
    assert_eq!(all.len(), 1, "recorded once");
    assert_eq!(all[0].state, MessageState::Processed);
    let log = strip_ansi(&fs::read_to_string(log_path).unwrap());
    let restarted = log.rsplit("edigate is running").next().unwrap();
    assert!(
        restarted.contains("AS2 retransmission"),
        "the retransmission was recognised after the restart:\n{restarted}"
    );
}

// --- edigate → pyas2lib ---

struct Receiver {
    child: std::process::Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    fn start(certs: &Path, env: &[(&str, &str)]) -> Receiver {
        use std::io::BufRead;
        let mut child = Command::new(python())
            .arg(peer_script())
            .arg("serve")
            .arg(certs)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("port ")
            .unwrap_or_else(|| panic!("pyas2lib serve said {line:?}"))
            .parse()
            .unwrap();
        Receiver {
            child,
            port,
            dir: certs.to_path_buf(),
        }
    }

    fn log(&self) -> Vec<serde_json::Value> {
        fs::read_to_string(self.dir.join("serve.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

/// The deliveries to ACME Retail (its TA1 and 999), once the daemon stopped.
fn ack_deliveries(data: &Data) -> Vec<outbox::Delivery> {
    let outbox = data.outbox();
    let all = support::deliveries_to(&outbox, "partner:acme-retail");
    assert_eq!(all.len(), 2, "{all:?}");
    all
}

fn assert_all_delivered(all: &[outbox::Delivery]) {
    assert!(
        all.iter()
            .all(|d| matches!(d.state, DeliveryState::Delivered { .. })),
        "{all:?}"
    );
}

/// The 999's delivery.
fn ack_delivery(data: &Data) -> outbox::Delivery {
    ack_deliveries(data)
        .into_iter()
        .find(|d| d.key.ends_with(":functional"))
        .unwrap()
}

fn trace_output(daemon: &Daemon, message: &str, json: bool) -> String {
    let mut args = vec!["trace", message];
    if json {
        args.push("--json");
    }
    admin_cli(&daemon.admin_url(), TOKEN, &args)
}

fn status_output(daemon: &Daemon) -> String {
    admin_cli(&daemon.admin_url(), TOKEN, &["status"])
}

/// Runs ACME's order through the daemon with ACME's `[as2]` pointing at `receiver`; returns the
/// stopped daemon's data, after `check` ran against the running one.
fn acknowledge_over_as2(
    name: &str,
    receiver: &Receiver,
    as2: &str,
    as2_config: &str,
    check: impl FnOnce(&Daemon),
) -> Data {
    let certs = receiver.dir.clone();
    let port = free_port();
    let partner_as2 = format!("url = {:?}\n{as2}", receiver.url());
    let as2_config = as2_config.replace("{port}", &port.to_string());
    let cfg = config(&certs, &partners(&certs, &partner_as2), port, &as2_config);
    let daemon = Daemon::start(name, &cfg);
    daemon.drop_file(
        "acme-retail",
        "po-731.x12",
        &support::example("order-850.x12"),
    );
    wait_until("the order's event", || daemon.events().len() == 1);
    check(&daemon);
    daemon.stop()
}

fn wait_delivered(daemon: &Daemon, receiver: &Receiver) {
    wait_until("pyas2lib to accept the acknowledgements", || {
        receiver
            .log()
            .iter()
            .filter(|l| l["status"] == "processed")
            .count()
            >= 2
    });
    wait_until(
        "both acknowledgements delivered, their MDNs accepted",
        || {
            let json: serde_json::Value =
                serde_json::from_str(&trace_output(daemon, "1", true)).unwrap();
            json["deliveries"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["destination"] == "partner:acme-retail")
                .all(|d| d["state"]["state"] == "delivered")
        },
    );
}

#[test]
fn acknowledgements_go_over_as2_and_the_sync_mdn_is_checked_and_kept() {
    let certs = certificates("sync-out");
    let receiver = Receiver::start(&certs, &[]);
    let data = acknowledge_over_as2("as2-sync-out", &receiver, "", "", |daemon| {
        wait_delivered(daemon, &receiver);
        let trace = trace_output(daemon, "1", false);
        assert!(trace.contains("MDN AT"), "{trace}");
        assert!(trace.contains("sync"), "{trace}");
        let json: serde_json::Value =
            serde_json::from_str(&trace_output(daemon, "1", true)).unwrap();
        let receipts = json["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|d| d["receipts"].as_array().cloned().unwrap_or_default())
            .collect::<Vec<_>>();
        assert_eq!(receipts.len(), 2, "{json}");
        // The MDN itself, exactly as kept: `edigate outbox mdn`.
        let mdn = admin_cli(&daemon.admin_url(), TOKEN, &["outbox", "mdn", "2", "0"]);
        assert!(
            mdn.contains("application/pkcs7-signature") && mdn.contains("Original-Message-ID"),
            "{mdn}"
        );
        assert!(
            receipts
                .iter()
                .all(|r| r["verdict"] == "accepted" && r["signed"] == true)
        );
    });
    let d = ack_delivery(&data);
    assert!(matches!(d.state, DeliveryState::Delivered { .. }), "{d:?}");
    assert_eq!(d.receipts.len(), 1);
    assert_eq!(d.receipts[0].verdict, ReceiptVerdict::Accepted);
    let raw = data.outbox().receipt_raw(d.id, 0).unwrap().unwrap();
    let raw = String::from_utf8_lossy(&raw);
    assert!(
        raw.contains("application/pkcs7-signature"),
        "the signed MDN is kept: {raw}"
    );
    let payloads: Vec<String> = fs::read_dir(certs.join("inbox"))
        .unwrap()
        .map(|f| fs::read_to_string(f.unwrap().path()).unwrap())
        .collect();
    assert_eq!(payloads.len(), 2, "pyas2lib received the TA1 and the 999");
    assert!(
        payloads.iter().any(|p| p.contains("ST*999*")),
        "{payloads:?}"
    );
    assert!(receiver.log().iter().all(|l| l["answer"] == "sync"));
}

#[test]
fn the_partnership_chooses_cipher_digest_and_compression_of_what_we_send() {
    let certs = certificates("choices-out");
    let receiver = Receiver::start(&certs, &[]);
    let choices = "encryption = \"3des\"\ndigest = \"sha512\"\ncompress = true\n";
    let data = acknowledge_over_as2("as2-choices-out", &receiver, choices, "", |daemon| {
        wait_delivered(daemon, &receiver);
    });
    // What pyas2lib found in our messages, and its MDNs (MIC over SHA-512) accepted by us.
    let log = receiver.log();
    assert_eq!(log.len(), 2, "{log:?}");
    for entry in &log {
        assert_eq!(entry["status"], "processed", "{entry}");
        assert_eq!(entry["enc_alg"], "tripledes_192_cbc", "{entry}");
        assert_eq!(entry["digest_alg"], "sha512", "{entry}");
        assert_eq!(entry["compressed"], true, "{entry}");
    }
    let d = ack_delivery(&data);
    assert!(matches!(d.state, DeliveryState::Delivered { .. }), "{d:?}");
    assert_eq!(d.receipts[0].verdict, ReceiptVerdict::Accepted);
}

#[test]
fn an_async_mdn_settles_the_delivery_awaiting_it() {
    let certs = certificates("async-out");
    let receiver = Receiver::start(&certs, &[]);
    let data = acknowledge_over_as2(
        "as2-async-out",
        &receiver,
        "mdn = \"async\"",
        "async_mdn_url = \"http://127.0.0.1:{port}/mdn\"",
        |daemon| wait_delivered(daemon, &receiver),
    );
    let d = ack_delivery(&data);
    assert!(matches!(d.state, DeliveryState::Delivered { .. }), "{d:?}");
    assert_eq!(d.receipts.len(), 1, "{d:?}");
    assert_eq!(d.receipts[0].via, "async");
    assert!(d.receipts[0].signed);
    assert!(receiver.log().iter().all(|l| l["answer"] == "async"));
}

#[test]
fn a_wrong_mic_in_the_mdn_fails_the_attempt_and_the_retry_delivers() {
    let certs = certificates("mic-out");
    let receiver = Receiver::start(&certs, &[("AS2_SERVE_BAD_MIC_FIRST", "1")]);
    let data = acknowledge_over_as2("as2-mic-out", &receiver, "", "", |daemon| {
        wait_delivered(daemon, &receiver);
    });
    let all = ack_deliveries(&data);
    assert_all_delivered(&all);
    // The first message pyas2lib answered got the wrong MIC: that delivery was tried again.
    let retried: Vec<_> = all.iter().filter(|d| d.attempts == 2).collect();
    assert_eq!(retried.len(), 1, "{all:?}");
    let d = retried[0];
    assert_eq!(d.receipts.len(), 2, "{d:?}");
    assert_eq!(d.receipts[0].verdict, ReceiptVerdict::Refused);
    assert!(
        d.receipts[0].detail.contains("MIC mismatch"),
        "{:?}",
        d.receipts[0]
    );
    assert_eq!(d.receipts[1].verdict, ReceiptVerdict::Accepted);
    assert_eq!(
        d.receipts[0].reference, d.receipts[1].reference,
        "the same message sent again"
    );
    let log = receiver.log();
    let bad = log.iter().find(|l| l["answer"] == "bad-mic").unwrap();
    assert_eq!(
        log.iter()
            .filter(|l| l["message_id"] == bad["message_id"])
            .count(),
        2,
        "{log:?}"
    );
}

#[test]
fn a_receiver_answering_500_is_retried() {
    let certs = certificates("500-out");
    let receiver = Receiver::start(&certs, &[("AS2_SERVE_FAIL_FIRST", "2")]);
    let data = acknowledge_over_as2("as2-500-out", &receiver, "", "", |daemon| {
        wait_delivered(daemon, &receiver);
    });
    let all = ack_deliveries(&data);
    assert_all_delivered(&all);
    let attempts: u32 = all.iter().map(|d| d.attempts).sum();
    assert_eq!(
        attempts, 4,
        "two refused with HTTP 500, then both delivered: {all:?}"
    );
    assert!(all.iter().all(|d| d.receipts.len() == 1), "{all:?}");
    assert!(
        all.iter().any(|d| d
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("HTTP 500"))),
        "{all:?}"
    );
    let log = receiver.log();
    assert_eq!(log.iter().filter(|l| l["status"] == "http-500").count(), 2);
}

#[test]
fn an_async_mdn_that_never_comes_times_out_and_the_message_is_sent_again() {
    let certs = certificates("nomdn-out");
    let receiver = Receiver::start(&certs, &[("AS2_SERVE_NO_MDN_FIRST", "1")]);
    let data = acknowledge_over_as2(
        "as2-nomdn-out",
        &receiver,
        "mdn = \"async\"",
        "async_mdn_url = \"http://127.0.0.1:{port}/mdn\"\nmdn_timeout_s = 3",
        |daemon| {
            // The one whose MDN is withheld waits, shown by `edigate status`, for 3 s.
            wait_until("the delivery awaiting its MDN", || {
                status_output(daemon).contains("deliveries awaiting an AS2 MDN: 1")
            });
            let status = status_output(daemon);
            assert!(status.contains("AS2 CHANNEL"), "{status}");
            wait_delivered(daemon, &receiver);
        },
    );
    let all = ack_deliveries(&data);
    assert_all_delivered(&all);
    // The one whose MDN never came was sent again (a loaded machine may make another wait
    // run out too, but that one is always among them).
    let retried: Vec<_> = all
        .iter()
        .filter(|d| {
            d.attempts >= 2
                && d.last_error
                    .as_deref()
                    .is_some_and(|e| e.contains("no receipt came before the deadline"))
        })
        .collect();
    assert!(
        !retried.is_empty(),
        "the one whose MDN never came was sent again: {all:?}"
    );
    assert!(
        retried[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("no receipt came before the deadline")),
        "{:?}",
        retried[0]
    );
    // The receiver answers in threads: its log is in the order answers finished, not arrived.
    let log = receiver.log();
    let withheld = log
        .iter()
        .find(|l| l["answer"] == "async-withheld")
        .unwrap_or_else(|| panic!("one MDN withheld: {log:?}"));
    assert!(
        log.iter()
            .filter(|l| l["message_id"] == withheld["message_id"])
            .count()
            >= 2,
        "the same message sent again: {log:?}"
    );
}

#[test]
fn a_late_async_mdn_is_still_matched_and_kept() {
    let certs = certificates("late-out");
    let receiver = Receiver::start(
        &certs,
        &[("AS2_SERVE_LATE_FIRST", "1"), ("AS2_SERVE_LATE_MS", "2500")],
    );
    let data = acknowledge_over_as2(
        "as2-late-out",
        &receiver,
        "mdn = \"async\"",
        "async_mdn_url = \"http://127.0.0.1:{port}/mdn\"\nmdn_timeout_s = 1",
        |daemon| {
            wait_delivered(daemon, &receiver);
            wait_until("the late MDN recorded too", || {
                let json: serde_json::Value =
                    serde_json::from_str(&trace_output(daemon, "1", true)).unwrap();
                json["deliveries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d["receipts"].as_array().map_or(0, Vec::len))
                    .sum::<usize>()
                    >= 3
            });
        },
    );
    let all = ack_deliveries(&data);
    assert_all_delivered(&all);
    let late: Vec<_> = all.iter().filter(|d| d.receipts.len() >= 2).collect();
    assert_eq!(late.len(), 1, "{all:?}");
    let d = late[0];
    assert!(d.attempts >= 2, "sent again once the wait ran out: {d:?}");
    assert!(
        d.receipts
            .iter()
            .all(|r| r.verdict == ReceiptVerdict::Accepted && r.via == "async")
    );
    assert_eq!(d.receipts[0].reference, d.receipts[1].reference);
    assert!(receiver.log().iter().any(|l| l["answer"] == "async-late"));
}

#[test]
fn an_as2_channel_with_tls_takes_messages_over_https() {
    let certs = certificates("tls-in");
    let (crt, key) = (certs.join("tls.crt"), certs.join("tls.key"));
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-sha256", "-days", "2", "-nodes",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "openssl req failed");
    let port = free_port();
    let cfg = config(&certs, &partners(&certs, ""), port, "").replace(
        "plain_http = true\n",
        &format!(
            "[inbound.tls]\ncertificate = {:?}\nkey = {:?}\n",
            crt.display().to_string(),
            key.display().to_string()
        ),
    );
    let daemon = Daemon::start("as2-tls-in", &cfg);
    let answers = run_peer(
        "send",
        &certs,
        &format!("https://127.0.0.1:{port}/"),
        &order(&certs),
        &[("SSL_CERT_FILE", &crt.display().to_string())],
    );
    let verdict = &answers[0];
    assert_eq!(verdict["status"], "processed", "{verdict}");
    wait_until("the order's event", || daemon.events().len() == 1);
    let status = status_output(&daemon);
    assert!(status.contains("AS2 CHANNEL"), "{status}");
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("as2 ") && l.contains("yes")),
        "the TLS listener is shown: {status}"
    );
    drop(daemon.stop());

    // Without TLS and without plain_http = true the channel is refused at start.
    let bad =
        config(&certs, &partners(&certs, ""), free_port(), "").replace("plain_http = true\n", "");
    let data = Data::new("as2-no-tls", &bad);
    let out = Command::new(env!("CARGO_BIN_EXE_edigate"))
        .args(["serve", "--config"])
        .arg(&data.config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("plain_http = true"), "{stderr}");
}

#[test]
fn a_message_over_the_partners_own_limit_is_refused_and_kept() {
    let certs = certificates("limit-in");
    let port = free_port();
    let cfg = config(&certs, &partners(&certs, "max_body_bytes = 200"), port, "");
    let daemon = Daemon::start("as2-limit-in", &cfg);
    let v = send(&certs, port, &order(&certs), &[]);
    assert_eq!(v[0]["status"], "http-413", "{v:?}");
    let data = daemon.stop();
    assert!(data.events().is_empty());
    let all = messages(&data);
    assert_eq!(all.len(), 1);
    let MessageState::Quarantined { reason } = &all[0].state else {
        panic!("not quarantined: {:?}", all[0].state);
    };
    assert!(reason.contains("over the limit of 200"), "{reason}");
    assert_eq!(all[0].partner.as_deref(), Some("acme-retail"));
}
