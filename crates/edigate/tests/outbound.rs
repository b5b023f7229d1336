//! The outbound path through a running daemon: events from the ERP handed over with
//! `edigate send` (the admin API's `POST /v1/outbound`) become each partner's EDI, written with
//! the partner's mapping and identities, numbered from the partner's counters, validated, and
//! delivered to the partner's outbound directory; a re-send is the same document, and what
//! cannot be sent is refused by name with nothing queued.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use support::{Daemon, root, wait_until};

const TOKEN: &str = "outbound-test-token";

fn edigate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_edigate"))
        .args(args)
        .env_remove("EDIGATE_ADMIN")
        .env_remove("EDIGATE_TOKEN")
        .output()
        .expect("edigate runs")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The one event `edigate translate` makes of a fixture, written to a file of its own.
fn event_file(fixture: &str, dir: &Path) -> (std::path::PathBuf, Value) {
    let path = root().join("fixtures/business").join(fixture);
    let out = edigate(&["translate", path.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let event: Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    let file = dir.join(format!("{fixture}.json"));
    std::fs::write(&file, stdout.lines().next().unwrap()).unwrap();
    (file, event)
}

fn send(admin: &str, file: &Path, partner: &str, json: bool) -> Output {
    let mut args = vec![
        "send",
        file.to_str().unwrap(),
        "--partner",
        partner,
        "--admin",
        admin,
        "--token",
        TOKEN,
    ];
    if json {
        args.push("--json");
    }
    edigate(&args)
}

/// `edigate translate` of an outbound document: its events' data.
fn translated(doc: &Path) -> Vec<Value> {
    let out = edigate(&["translate", doc.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["data"].clone())
        .collect()
}

#[test]
fn events_sent_to_the_daemon_reach_partners_as_their_edi() {
    let daemon = Daemon::start(
        "outbound",
        &format!("[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\""),
    );
    let admin = daemon.admin_url();
    let work = daemon.dir.parent().unwrap().join("events-from-erp");
    std::fs::create_dir_all(&work).unwrap();

    // An order response to ACME Retail (X12 005010): an 855 from us to them.
    let (file, event) = event_file("x12_855_004010.x12", &work);
    let out = send(&admin, &file, "acme-retail", true);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let answers: Value = serde_json::from_str(&stdout).unwrap();
    let queued = &answers[0];
    assert_eq!(queued["message"], "855");
    assert_eq!(queued["created"], true);
    assert_eq!(queued["control_numbers"].as_array().unwrap().len(), 3);

    wait_until("the 855 in ACME's outbound directory", || {
        daemon
            .outbound_files()
            .iter()
            .any(|(_, name, _)| name.contains("855"))
    });
    let files = daemon.outbound_files();
    let (dir, name, content) = files.iter().find(|(_, n, _)| n.contains("855")).unwrap();
    assert!(content.starts_with("ISA*00*"), "{content}");
    assert!(
        content.contains("*ZZ*WIDGETCO       *ZZ*ACMERETAIL     *"),
        "{content}"
    );
    assert!(content.contains("GS*PR*WIDGETCO*ACMERETAIL*"), "{content}");
    assert!(
        content.contains("*005010~") || content.contains("*005010\n"),
        "{content}"
    );
    let isa13 = format!("{:0>9}", queued["control_numbers"][0].as_str().unwrap());
    assert!(
        content.contains(&format!("*{isa13}*")),
        "{isa13}: {content}"
    );
    let doc = daemon.dir.join("outbound").join(dir).join(name);
    // It validates clean under our specs and reads back as the same response.
    let out = edigate(&["validate", doc.to_str().unwrap()]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(translated(&doc), vec![event["data"].clone()]);

    // The same event again is the same document: no second delivery, no second number.
    let out = send(&admin, &file, "acme-retail", false);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("queued before"), "{stdout}");
    assert!(
        stdout.contains("order.response → 855 queued for acme-retail"),
        "{stdout}"
    );

    // An ORDRSP to EuroFoods (EDIFACT D96A), with their UNB ids.
    let (file, event) = event_file("edifact_ordrsp_d96a.edi", &work);
    let out = send(&admin, &file, "eurofoods", false);
    assert!(out.status.success(), "{:?}", text(&out));
    wait_until("the ORDRSP in EuroFoods' outbound directory", || {
        daemon
            .outbound_files()
            .iter()
            .any(|(_, _, c)| c.contains("ORDRSP"))
    });
    let files = daemon.outbound_files();
    let (dir, name, content) = files.iter().find(|(_, _, c)| c.contains("ORDRSP")).unwrap();
    assert!(
        content.contains("UNB+UNOC:3+4012345000009:14+5412345000013:14+"),
        "{content}"
    );
    let doc = daemon.dir.join("outbound").join(dir).join(name);
    let out = edigate(&["validate", doc.to_str().unwrap()]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(translated(&doc), vec![event["data"].clone()]);

    // Refused by name, nothing queued: a message the partner does not exchange, an unknown
    // partner, and a value the message cannot hold.
    let before = daemon.outbound_files().len();
    let (invoice, _) = event_file("x12_810_004010.x12", &work);
    let out = send(&admin, &invoice, "acme-retail", false);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("does not exchange 810"), "{stderr}");
    let out = send(&admin, &invoice, "nobody", false);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no partner \"nobody\""), "{stderr}");
    let (file, mut event) = event_file("x12_855_004010.x12", &work);
    event["data"]["lines"][1]["status"] = serde_json::json!({"kind": "backordered", "code": "IB"});
    std::fs::write(&file, event.to_string()).unwrap();
    let out = send(&admin, &file, "eurofoods", false);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("lines.status") && stderr.contains("backordered"),
        "{stderr}"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(daemon.outbound_files().len(), before);

    // The delivered documents are in the outbox listing, delivered.
    let out = edigate(&[
        "outbox",
        "list",
        "--state",
        "delivered",
        "--json",
        "--admin",
        &admin,
        "--token",
        TOKEN,
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let keys: Vec<String> = serde_json::from_str::<Value>(&stdout).unwrap()["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["key"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        keys.iter()
            .any(|k| k.starts_with("out:acme-retail:") && k.ends_with(":855")),
        "{keys:?}"
    );
    assert!(
        keys.iter()
            .any(|k| k.starts_with("out:eurofoods:") && k.ends_with(":ORDRSP")),
        "{keys:?}"
    );
    daemon.stop();
}

#[test]
fn compose_shows_what_an_event_becomes_for_a_partner_without_a_daemon() {
    let work = std::env::temp_dir().join(format!("edigate-compose-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let (file, event) = event_file("x12_855_004010.x12", &work);
    let partners = root().join("deploy/examples/partners");
    let compose = |partner: &str| {
        edigate(&[
            "compose",
            file.to_str().unwrap(),
            "--partner",
            partner,
            "--partners",
            partners.to_str().unwrap(),
        ])
    };
    let out = compose("acme-retail");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.starts_with("ISA*00*"), "{stdout}");
    let doc = work.join("855.x12");
    std::fs::write(&doc, &stdout).unwrap();
    assert_eq!(translated(&doc), vec![event["data"].clone()]);
    // EDIFACT 1229 has no backorder: said, with the template and the field.
    let out = compose("eurofoods");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("ORDRSP.toml") && stderr.contains("\"backordered\""),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&work);
}
