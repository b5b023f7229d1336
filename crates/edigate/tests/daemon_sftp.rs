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
