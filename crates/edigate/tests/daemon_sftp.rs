//! `edigate serve` taking files from a partner's SFTP server — a real OpenSSH sshd on loopback —
//! and removing them there only once they are spooled and recorded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../sftp/tests/sshd/mod.rs"]
mod sshd;
mod support;

use std::fs;
use std::path::{Path, PathBuf};

use outbox::MessageState;
use support::{Daemon, example, wait_until};

fn sftp_channel(sshd: &sshd::Sshd) -> String {
    format!(
        "[[inbound]]\ntype = \"sftp\"\nname = \"acme-sftp\"\npartner = \"acme-retail\"\n\
         [inbound.server]\nhost = \"127.0.0.1\"\nport = {port}\nuser = {user:?}\n\
         host_key = {host:?}\ninbox_dir = \"inbox\"\noutbox_dir = \"outbox\"\n\
         stable_interval_ms = 100\n\
         [inbound.server.auth]\ntype = \"key\"\nprivate_key = {key:?}\n",
        port = sshd.port,
        user = sshd.user,
        host = sshd.host_pub,
        key = sshd.user_key.display().to_string(),
    )
}

/// A partner directory holding ACME's own partner file, its documents going to `sshd`'s outbox
/// directory; `outbound` is added to its `[outbound]` table.
fn sftp_partner(sshd: &sshd::Sshd, outbound: &str) -> PathBuf {
    let partners = sshd.dir.path().join("partners");
    fs::create_dir_all(&partners).unwrap();
    let acme =
        fs::read_to_string(support::root().join("deploy/examples/partners/acme-retail.toml"))
            .unwrap();
    fs::write(
        partners.join("acme-retail.toml"),
        format!(
            "{acme}\n[outbound]\n{outbound}\n\
             [outbound.sftp]\nhost = \"127.0.0.1\"\nport = {port}\nuser = {user:?}\n\
             host_key = {host:?}\ninbox_dir = \"inbox\"\noutbox_dir = \"outbox\"\n\
             [outbound.sftp.auth]\ntype = \"key\"\nprivate_key = {key:?}\n\
             [outbound.sftp.timeouts]\nconnect_ms = 2000\n",
            port = sshd.port,
            user = sshd.user,
            host = sshd.host_pub,
            key = sshd.user_key.display().to_string(),
        ),
    )
    .unwrap();
    partners
}

/// The file names in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The UTC time now as `YYYYMMDDHHMMSS`.
fn utc_now() -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "+%Y%m%d%H%M%S"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn files_on_a_partners_sftp_server_become_events_and_leave_the_server() {
    let sshd = sshd::Sshd::start();
    let daemon = Daemon::start("sftp", &sftp_channel(&sshd));
    let inbox = sshd.home.join("inbox");
    // A partner writes under a temporary name and renames, as SFTP clients do.
    fs::write(inbox.join("po-731.x12.part"), example("order-850.x12")).unwrap();
    fs::rename(inbox.join("po-731.x12.part"), inbox.join("po-731.x12")).unwrap();
    fs::write(inbox.join("still-writing.x12.tmp"), b"ISA*").unwrap();

    wait_until("the order's event", || daemon.events().len() == 1);
    wait_until("the file removed from the server", || {
        !inbox.join("po-731.x12").exists()
    });
    let data = daemon.stop();

    let events = data.events();
    assert_eq!(events[0]["partner"], "acme-retail");
    assert_eq!(events[0]["data"]["order_number"], "PO-2026-0042");
    assert!(
        inbox.join("still-writing.x12.tmp").exists(),
        "unfinished files are left alone"
    );
    let outbox = data.outbox();
    let all = outbox
        .list_messages(&outbox::MessageFilter::default(), 10)
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].channel, "acme-sftp");
    assert_eq!(all[0].file_name, "po-731.x12");
    assert_eq!(all[0].state, MessageState::Processed);
}

#[test]
fn a_server_with_another_host_key_is_refused_and_its_files_stay() {
    let sshd = sshd::Sshd::start();
    let other = sshd::Sshd::start();
    // The channel pins `other`'s key but connects to `sshd`.
    let config = sftp_channel(&sshd).replace(&sshd.host_pub, &other.host_pub);
    let daemon = Daemon::start("sftp-pin", &config);
    fs::write(sshd.home.join("inbox/po-731.x12"), example("order-850.x12")).unwrap();
    wait_until("the refusal in the log", || {
        daemon.log().contains("cannot connect") && daemon.log().contains("host key")
    });
    let data = daemon.stop();
    assert!(sshd.home.join("inbox/po-731.x12").exists());
    assert!(data.events().is_empty());
}

#[test]
fn acknowledgements_for_an_sftp_partner_are_uploaded_to_its_server() {
    let sshd = sshd::Sshd::start();
    // ACME's own partner file, with its outbound directory on its SFTP server.
    let partners = sftp_partner(&sshd, "");
    let daemon = Daemon::start(
        "sftp-out",
        &format!("partners_dir = {:?}\n", partners.display().to_string()),
    );
    daemon.drop_file("acme-retail", "po-731.x12", &example("order-850.x12"));

    let outbox_dir = sshd.home.join("outbox");
    let uploaded = || -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&outbox_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    wait_until("the TA1 and the 999 on the partner's server", || {
        uploaded().len() == 2
    });
    let data = daemon.stop();

    let names = uploaded();
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "no temporary names left: {names:?}"
    );
    // Without a template, the names documents always had.
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("ta1-0") || n.starts_with("functional-0")),
        "{names:?}"
    );
    let bodies: Vec<String> = names
        .iter()
        .map(|n| fs::read_to_string(outbox_dir.join(n)).unwrap())
        .collect();
    assert!(
        bodies.iter().any(|b| b.contains("TA1*000000731*")),
        "{bodies:?}"
    );
    assert!(bodies.iter().any(|b| b.contains("ST*999*")), "{bodies:?}");
    // Nothing was written to a local outbound directory instead.
    assert!(data.outbound_files().is_empty());
}

#[test]
fn an_sftp_partners_documents_are_named_by_its_template() {
    let sshd = sshd::Sshd::start();
    let partners = sftp_partner(
        &sshd,
        "file_name = \"{partner}-{type}-{control}-{timestamp}.{ext}\"",
    );
    let before = utc_now();
    let daemon = Daemon::start(
        "sftp-names",
        &format!("partners_dir = {:?}\n", partners.display().to_string()),
    );
    daemon.drop_file("acme-retail", "po-731.x12", &example("order-850.x12"));
    let outbox_dir = sshd.home.join("outbox");
    wait_until("the TA1 and the 999 on the partner's server", || {
        names_in(&outbox_dir).len() == 2
    });
    let after = utc_now();
    let data = daemon.stop();

    let mut types = Vec::new();
    for name in names_in(&outbox_dir) {
        // acme-retail-TYPE-CONTROL-TIMESTAMP.x12
        let rest = name.strip_prefix("acme-retail-").expect(&name);
        let stem = rest.strip_suffix(".x12").expect(&name);
        let parts: Vec<&str> = stem.split('-').collect();
        let [kind, control, timestamp] = parts[..] else {
            panic!("{name}")
        };
        assert_eq!(control.len(), 9, "{name}");
        assert!(control.bytes().all(|b| b.is_ascii_digit()), "{name}");
        assert_eq!(timestamp.len(), 14, "{name}");
        assert!(
            before.as_str() <= timestamp && timestamp <= after.as_str(),
            "{name}: made between {before} and {after}"
        );
        let body = fs::read_to_string(outbox_dir.join(&name)).unwrap();
        // The control number in the name is the interchange's own (ISA13).
        assert_eq!(&body[90..99], control, "{name}: {body}");
        match kind {
            "ta1" => assert!(body.contains("TA1*000000731*"), "{body}"),
            "999" => assert!(body.contains("ST*999*"), "{body}"),
            other => panic!("unexpected type {other} in {name}"),
        }
        types.push(kind.to_string());
    }
    types.sort();
    assert_eq!(types, ["999", "ta1"]);
    assert!(data.outbound_files().is_empty());
}

/// The partner's pickup job: takes every finished file out of `dir` into `collected`, so a file
/// delivered a second time would show up again after it was taken.
fn collect(dir: &Path, collected: &mut Vec<(String, String)>) {
    for name in names_in(dir) {
        if name.starts_with('.') {
            continue; // an upload in progress
        }
        let path = dir.join(&name);
        let body = fs::read_to_string(&path).unwrap();
        fs::remove_file(&path).unwrap();
        collected.push((name, body));
    }
}

/// The delivery counts of ACME's destination; only once the daemon stopped.
fn acme_counts(data: &support::Data) -> outbox::DestinationCounts {
    data.outbox()
        .counts()
        .unwrap()
        .into_iter()
        .find(|c| c.destination == "partner:acme-retail")
        .expect("deliveries for partner:acme-retail")
}

#[test]
fn an_inbound_channel_keeps_trying_a_server_that_is_down_at_start() {
    // Keys and directories exist, so the channel can pin the host key, but nothing listens yet.
    let mut sshd = sshd::Sshd::prepare_on(sshd::free_port());
    let inbox = sshd.home.join("inbox");
    fs::write(inbox.join("po-731.x12"), example("order-850.x12")).unwrap();
    let daemon = Daemon::start("sftp-down", &sftp_channel(&sshd));
    wait_until("a failed connection in the log", || {
        daemon.log().contains("cannot connect")
    });
    // Told apart from a refusal: trying again can help.
    let log = support::strip_ansi(&daemon.log());
    assert!(log.contains("retryable=true"), "{log}");
    assert!(daemon.events().is_empty());

    sshd.restart();
    wait_until("the order's event once the server is up", || {
        daemon.events().len() == 1
    });
    wait_until("the file removed from the server", || {
        !inbox.join("po-731.x12").exists()
    });
    let data = daemon.stop();
    assert_eq!(data.events().len(), 1);
    assert_eq!(data.events()[0]["data"]["order_number"], "PO-2026-0042");
}

#[test]
fn deliveries_to_a_read_only_server_are_dead_lettered_at_once() {
    let sshd = sshd::Sshd::start_read_only();
    let partners = sftp_partner(&sshd, "");
    let daemon = Daemon::start(
        "sftp-read-only",
        &format!(
            "partners_dir = {:?}\n[delivery]\nbase_delay_ms = 100\nmax_delay_ms = 200\n",
            partners.display().to_string()
        ),
    );
    daemon.drop_file("acme-retail", "po-731.x12", &example("order-850.x12"));
    wait_until("the TA1 and the 999 dead-lettered", || {
        daemon.log().matches("dead-lettered").count() >= 2
    });
    // Time for retries, were there any: the backoff is 100 ms.
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let log = daemon.log();
    let data = daemon.stop();

    assert!(!log.contains("will retry"), "{log}");
    let counts = acme_counts(&data);
    assert_eq!(
        (
            counts.dead,
            counts.delivered,
            counts.pending,
            counts.in_flight
        ),
        (2, 0, 0, 0),
        "{counts:?}"
    );
    let dead = data
        .outbox()
        .list_deliveries(
            &outbox::DeliveryFilter {
                destination: Some("partner:acme-retail".into()),
                ..Default::default()
            },
            10,
        )
        .unwrap();
    assert_eq!(dead.len(), 2);
    for d in &dead {
        assert_eq!(d.attempts, 1, "tried once: {d:?}");
        let error = d.last_error.as_deref().unwrap_or_default();
        assert!(error.contains("ermission denied"), "{error}");
    }
    assert!(names_in(&sshd.home.join("outbox")).is_empty());
}

#[test]
fn deliveries_made_while_the_partners_server_is_down_arrive_once_when_it_is_back() {
    let mut sshd = sshd::Sshd::start();
    let port = sshd.port;
    let partners = sftp_partner(&sshd, "");
    let daemon = Daemon::start(
        "sftp-restart",
        &format!(
            "partners_dir = {:?}\n[delivery]\nbase_delay_ms = 200\nmax_delay_ms = 1000\n\
             max_attempts = 1000\n",
            partners.display().to_string()
        ),
    );
    let outbox_dir = sshd.home.join("outbox");
    let mut collected = Vec::new();
    daemon.drop_file("acme-retail", "po-731.x12", &example("order-850.x12"));
    wait_until("the first order's acknowledgements", || {
        collect(&outbox_dir, &mut collected);
        collected.len() == 2
    });

    // The server dies with the daemon's session open; the next order's acknowledgements are
    // made while it is down.
    sshd.kill();
    let second = String::from_utf8(example("order-850.x12"))
        .unwrap()
        .replace("000000731", "000000732");
    daemon.drop_file("acme-retail", "po-732.x12", second.as_bytes());
    wait_until("failed attempts while the server is down", || {
        daemon.log().matches("will retry").count() >= 2
    });
    std::thread::sleep(std::time::Duration::from_millis(1000));
    assert!(names_in(&outbox_dir).is_empty());

    sshd.restart();
    assert_eq!(sshd.port, port);
    wait_until("the second order's acknowledgements", || {
        collect(&outbox_dir, &mut collected);
        collected.len() >= 4
    });
    // A second copy of anything would arrive within a few retry rounds.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    collect(&outbox_dir, &mut collected);
    let data = daemon.stop();
    collect(&outbox_dir, &mut collected);

    let names: Vec<&str> = collected.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(collected.len(), 4, "each arrived once: {names:?}");
    let bodies: Vec<&str> = collected.iter().map(|(_, b)| b.as_str()).collect();
    for want in ["TA1*000000731*", "TA1*000000732*"] {
        assert_eq!(
            bodies.iter().filter(|b| b.contains(want)).count(),
            1,
            "{want}: {bodies:?}"
        );
    }
    assert_eq!(
        bodies.iter().filter(|b| b.contains("ST*999*")).count(),
        2,
        "{bodies:?}"
    );
    let counts = acme_counts(&data);
    assert_eq!(
        (
            counts.delivered,
            counts.dead,
            counts.pending,
            counts.in_flight
        ),
        (4, 0, 0, 0),
        "{counts:?}"
    );
}

// --- Faults against the real server, each visible in `edigate status` ---

const TOKEN: &str = "sftp-status-token";

/// The admin settings that let a test ask `edigate status` (appended last: it is a table).
fn admin() -> String {
    format!("[admin]\nlisten = \"127.0.0.1:0\"\ntoken = {TOKEN:?}\n")
}

/// `edigate status` against `daemon`, as an operator runs it; `json` adds `--json`.
fn status_output(daemon: &Daemon, json: bool) -> String {
    let url = daemon.admin_url();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_edigate"));
    cmd.args(["status", "--admin", &url, "--token", TOKEN])
        .env_remove("EDIGATE_ADMIN")
        .env_remove("EDIGATE_TOKEN");
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "edigate status: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The SFTP link `name` in `edigate status --json`.
fn link(daemon: &Daemon, name: &str) -> serde_json::Value {
    let report: serde_json::Value = serde_json::from_str(&status_output(daemon, true)).unwrap();
    report["sftp"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == name)
        .unwrap_or_else(|| panic!("no SFTP link {name} in {report}"))
        .clone()
}

/// `config` (an SFTP table written by `sftp_channel` or `sftp_partner`) logging in with the
/// password in `sshd`'s password file instead of the key.
fn with_password(config: &str, sshd: &sshd::Sshd) -> String {
    let key = format!(
        "type = \"key\"\nprivate_key = {:?}\n",
        sshd.user_key.display().to_string()
    );
    assert!(config.contains(&key), "{config}");
    config.replace(
        &key,
        &format!(
            "type = \"password\"\npassword_file = {:?}\n",
            sshd.dir.path().join("password").display().to_string()
        ),
    )
}

/// An X12 850 of about `size` bytes: the example order with a long note (NTE) after its BEG
/// segment. The note is far over its element's length, so the order is rejected (a 999 says
/// so) rather than translated; what matters here is that the interchange is received, recorded
/// and answered once.
fn big_order(size: usize, control: &str) -> Vec<u8> {
    let order = String::from_utf8(example("order-850.x12"))
        .unwrap()
        .replace("000000731", control);
    let beg = order.find("BEG*").expect("a BEG segment");
    let end = beg + order[beg..].find('~').expect("a terminated BEG segment") + 1;
    let note = "N".repeat(size);
    format!("{}NTE*GEN*{note}~{}", &order[..end], &order[end..]).into_bytes()
}

#[test]
fn an_inbound_server_killed_mid_download_is_retried_and_the_file_taken_once() {
    let mut sshd = sshd::Sshd::start_on(sshd::free_port());
    let inbox = sshd.home.join("inbox");
    let big = big_order(48 << 20, "000000741");
    fs::write(inbox.join("po-741.x12"), &big).unwrap();
    let daemon = Daemon::start(
        "sftp-kill-in",
        &format!("{}{}", sftp_channel(&sshd), admin()),
    );

    // Mid-transfer: the server has sent part of the file, not all of it.
    let path = inbox.join("po-741.x12");
    let started = std::time::Instant::now();
    loop {
        let at = sshd.read_position(&path).unwrap_or(0);
        if at > (1 << 20) && at < big.len() as u64 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "no download under way; log:\n{}",
            daemon.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    sshd.kill();
    wait_until("the failure in edigate status", || {
        link(&daemon, "acme-sftp")["consecutive_failures"].as_u64() >= Some(1)
    });
    let down = link(&daemon, "acme-sftp");
    assert_eq!(down["connected"], false, "{down}");
    assert_eq!(down["direction"], "inbound", "{down}");
    assert_eq!(down["last_error"]["retryable"], true, "{down}");
    let text = status_output(&daemon, false);
    assert!(
        text.contains("acme-sftp") && text.contains("failing"),
        "{text}"
    );
    assert!(text.contains("warning: SFTP link acme-sftp"), "{text}");
    assert!(path.exists(), "the file stays on the server");
    assert!(daemon.outbound_files().is_empty());

    sshd.restart();
    wait_until("the file removed from the server", || !path.exists());
    wait_until("the TA1 and the 999 for it", || {
        daemon.outbound_files().len() == 2
    });
    wait_until("a good poll in edigate status", || {
        link(&daemon, "acme-sftp")["consecutive_failures"] == 0
    });
    let back = link(&daemon, "acme-sftp");
    assert_eq!(back["connected"], true, "{back}");
    assert!(
        back["last_poll"].as_u64() > back["last_error"]["at"].as_u64(),
        "{back}"
    );
    // A second copy would come with the next polls.
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let data = daemon.stop();
    assert_eq!(data.outbound_files().len(), 2, "answered once");
    let outbox = data.outbox();
    let messages = outbox
        .list_messages(&outbox::MessageFilter::default(), 10)
        .unwrap();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0].file_name, "po-741.x12");
    assert_eq!(messages[0].size, big.len() as u64);
}

#[test]
fn an_outbound_server_killed_during_an_upload_is_retried_and_each_document_arrives_once() {
    let mut sshd = sshd::Sshd::start();
    // Documents named without a control number, so the test knows the first upload's
    // temporary name in advance.
    let partners = sftp_partner(&sshd, "file_name = \"{partner}-{kind}.{ext}\"");
    let outbox_dir = sshd.home.join("outbox");
    // A pipe where the TA1's temporary file goes: the server's open of it blocks, so the upload
    // is under way, and stays so, when the server dies.
    let fifo = outbox_dir.join(".acme-retail-ta1.x12.part");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let daemon = Daemon::start(
        "sftp-kill-out",
        &format!(
            "partners_dir = {:?}\n[delivery]\nbase_delay_ms = 200\nmax_delay_ms = 1000\n\
             max_attempts = 1000\n{}",
            partners.display().to_string(),
            admin()
        ),
    );
    daemon.drop_file("acme-retail", "po-731.x12", &example("order-850.x12"));
    wait_until("the upload under way", || {
        link(&daemon, "partner:acme-retail")["uploads_in_flight"].as_u64() >= Some(1)
    });
    sshd.kill();
    wait_until("the failed upload in edigate status", || {
        link(&daemon, "partner:acme-retail")["consecutive_failures"].as_u64() >= Some(1)
    });
    let down = link(&daemon, "partner:acme-retail");
    assert_eq!(down["direction"], "outbound", "{down}");
    assert_eq!(down["partner"], "acme-retail", "{down}");
    assert_eq!(down["last_error"]["retryable"], true, "{down}");
    assert_eq!(down["max_concurrent_uploads"], 2, "{down}");
    wait_until("retries while the server is down", || {
        daemon.log().matches("will retry").count() >= 2
    });

    fs::remove_file(&fifo).unwrap();
    sshd.restart();
    let mut collected = Vec::new();
    wait_until("the TA1 and the 999 once the server is back", || {
        collect(&outbox_dir, &mut collected);
        collected.len() >= 2
    });
    wait_until("a good upload in edigate status", || {
        link(&daemon, "partner:acme-retail")["consecutive_failures"] == 0
    });
    assert!(link(&daemon, "partner:acme-retail")["last_upload"].is_u64());
    std::thread::sleep(std::time::Duration::from_millis(1500));
    collect(&outbox_dir, &mut collected);
    let data = daemon.stop();
    collect(&outbox_dir, &mut collected);

    let mut names: Vec<&str> = collected.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        ["acme-retail-functional.x12", "acme-retail-ta1.x12"],
        "each arrived once"
    );
    let counts = acme_counts(&data);
    assert_eq!(
        (
            counts.delivered,
            counts.dead,
            counts.pending,
            counts.in_flight
        ),
        (2, 0, 0, 0),
        "{counts:?}"
    );
}

#[test]
fn a_password_channel_takes_files_and_a_wrong_password_fails_visibly_without_showing_it() {
    let sshd = sshd::Sshd::start_password(sshd::PasswordMethod::Password);
    let inbox = sshd.home.join("inbox");
    fs::write(inbox.join("po-731.x12"), example("order-850.x12")).unwrap();
    let channel = with_password(&sftp_channel(&sshd), &sshd);
    let daemon = Daemon::start("sftp-password", &format!("{channel}{}", admin()));
    wait_until("the order's event", || daemon.events().len() == 1);
    wait_until("the file removed from the server", || {
        !inbox.join("po-731.x12").exists()
    });
    let ok = link(&daemon, "acme-sftp");
    assert!(
        ok["last_connect"].is_u64() && ok["last_poll"].is_u64(),
        "{ok}"
    );
    assert!(ok["last_error"].is_null(), "{ok}");
    drop(daemon.stop());

    // The password changed at the partner: refused, retried by polling, never shown.
    let password = sshd.password.clone().unwrap();
    fs::write(sshd.dir.path().join("password"), "an old password\n").unwrap();
    fs::write(inbox.join("po-732.x12"), example("order-850.x12")).unwrap();
    let daemon = Daemon::start("sftp-password-wrong", &format!("{channel}{}", admin()));
    wait_until("the refusal in edigate status", || {
        link(&daemon, "acme-sftp")["consecutive_failures"].as_u64() >= Some(1)
    });
    let refused = link(&daemon, "acme-sftp");
    let error = &refused["last_error"];
    assert_eq!(error["retryable"], false, "{refused}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("refused password authentication"),
        "{refused}"
    );
    let text = status_output(&daemon, false);
    assert!(text.contains("not retryable"), "{text}");
    assert!(text.contains("retrying will not help"), "{text}");
    let log = daemon.log();
    let data = daemon.stop();
    for shown in [&text, &log] {
        assert!(!shown.contains("an old password"), "{shown}");
        assert!(!shown.contains(&password), "{shown}");
    }
    assert!(inbox.join("po-732.x12").exists(), "the file stays");
    assert!(data.events().is_empty());
}

#[test]
fn uploads_refused_by_credentials_or_host_key_are_dead_lettered_at_once_and_shown() {
    for fault in ["credentials", "host key"] {
        let sshd = sshd::Sshd::start();
        let partners = sftp_partner(&sshd, "");
        let file = partners.join("acme-retail.toml");
        let text = fs::read_to_string(&file).unwrap();
        let broken = match fault {
            // A key the server does not know.
            "credentials" => {
                let stranger = sshd.dir.path().join("stranger");
                sshd::keygen(&stranger, "stranger", "");
                text.replace(
                    &format!("{:?}", sshd.user_key.display().to_string()),
                    &format!("{:?}", stranger.display().to_string()),
                )
            }
            // Another server's key pinned.
            _ => {
                let other = sshd.dir.path().join("other");
                sshd::keygen(&other, "other", "");
                let pin = fs::read_to_string(other.with_extension("pub")).unwrap();
                text.replace(&sshd.host_pub, pin.trim())
            }
        };
        assert_ne!(broken, text);
        fs::write(&file, broken).unwrap();
        let daemon = Daemon::start(
            &format!("sftp-refused-{}", fault.replace(' ', "-")),
            &format!(
                "partners_dir = {:?}\n[delivery]\nbase_delay_ms = 100\nmax_delay_ms = 200\n{}",
                partners.display().to_string(),
                admin()
            ),
        );
        daemon.drop_file("acme-retail", "po-731.x12", &example("order-850.x12"));
        wait_until("the TA1 and the 999 dead-lettered", || {
            daemon.log().matches("dead-lettered").count() >= 2
        });
        let shown = link(&daemon, "partner:acme-retail");
        let error = &shown["last_error"];
        assert_eq!(error["retryable"], false, "{fault}: {shown}");
        let message = error["message"].as_str().unwrap();
        match fault {
            "credentials" => assert!(message.contains("refused publickey"), "{message}"),
            _ => assert!(
                message.contains("host key") && message.contains(&sshd.host_fingerprint()),
                "{message}"
            ),
        }
        assert!(shown["last_upload"].is_null() && shown["last_connect"].is_null());
        let report: serde_json::Value =
            serde_json::from_str(&status_output(&daemon, true)).unwrap();
        assert_eq!(report["dead_letters"], 2, "{report}");
        let data = daemon.stop();
        let counts = acme_counts(&data);
        assert_eq!(
            (counts.dead, counts.delivered, counts.pending),
            (2, 0, 0),
            "{fault}: {counts:?}"
        );
        assert!(names_in(&sshd.home.join("outbox")).is_empty(), "{fault}");
    }
}

#[test]
fn an_inbound_server_with_another_host_key_shows_in_status_and_its_files_stay() {
    let sshd = sshd::Sshd::start();
    let other = sshd::Sshd::start();
    let config = sftp_channel(&sshd).replace(&sshd.host_pub, &other.host_pub);
    let daemon = Daemon::start("sftp-pin-status", &format!("{config}{}", admin()));
    fs::write(sshd.home.join("inbox/po-731.x12"), example("order-850.x12")).unwrap();
    wait_until("the refusal in edigate status", || {
        link(&daemon, "acme-sftp")["consecutive_failures"].as_u64() >= Some(1)
    });
    let shown = link(&daemon, "acme-sftp");
    let message = shown["last_error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&sshd.host_fingerprint()),
        "offered: {message}"
    );
    assert!(
        message.contains(&other.host_fingerprint()),
        "pinned: {message}"
    );
    assert_eq!(shown["last_error"]["retryable"], false, "{shown}");
    assert_eq!(shown["connected"], false, "{shown}");
    let data = daemon.stop();
    assert!(sshd.home.join("inbox/po-731.x12").exists());
    assert!(data.events().is_empty());
}
