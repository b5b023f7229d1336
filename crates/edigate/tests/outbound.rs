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

/// `GET path` on the admin API with the test's token: (status, body).
fn admin_get(admin: &str, path: &str) -> (u16, String) {
    let response = support::admin_request(admin, "GET", path, Some(TOKEN));
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or("");
    (status, body.to_owned())
}

fn deliveries(admin: &str) -> Vec<Value> {
    let (status, body) = admin_get(admin, "/v1/deliveries?limit=1000");
    assert_eq!(status, 200, "{body}");
    // Chunked transfer encoding: the JSON is the part between the first '{' and the last '}'.
    let json = &body[body.find('{').unwrap()..=body.rfind('}').unwrap()];
    serde_json::from_str::<Value>(json).unwrap()["deliveries"]
        .as_array()
        .unwrap()
        .clone()
}

fn by_key<'a>(deliveries: &'a [Value], key: &str) -> &'a Value {
    deliveries
        .iter()
        .find(|d| d["key"].as_str().is_some_and(|k| k.contains(key)))
        .unwrap_or_else(|| panic!("no delivery {key}: {deliveries:#?}"))
}

#[test]
fn partners_acknowledgements_settle_what_we_sent_and_a_missing_one_turns_overdue() {
    // The example partners, given two seconds to acknowledge.
    let partners =
        std::env::temp_dir().join(format!("edigate-ack-partners-{}", std::process::id()));
    std::fs::create_dir_all(&partners).unwrap();
    for name in ["acme-retail", "eurofoods"] {
        let text =
            std::fs::read_to_string(root().join(format!("deploy/examples/partners/{name}.toml")))
                .unwrap();
        std::fs::write(
            partners.join(format!("{name}.toml")),
            format!("ack_within = \"2s\"\n{text}"),
        )
        .unwrap();
    }
    let daemon = Daemon::start(
        "reconcile",
        &format!(
            "partners_dir = {:?}\n[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"",
            partners
        ),
    );
    let admin = daemon.admin_url();
    let work = daemon.dir.parent().unwrap().join("erp");
    std::fs::create_dir_all(&work).unwrap();

    // Four order responses to ACME, each its own document.
    let (_, event) = event_file("x12_855_004010.x12", &work);
    let file = work.join("responses.jsonl");
    let lines: Vec<String> = ["r1", "r2", "r3", "r4"]
        .iter()
        .map(|k| {
            serde_json::json!({"type": event["type"], "data": event["data"], "key": k}).to_string()
        })
        .collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = send(&admin, &file, "acme-retail", true);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let queued: Vec<Value> = serde_json::from_str::<Value>(&stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    // The group control number (GS06) each went out with.
    let gs06: Vec<String> = queued
        .iter()
        .map(|q| q["control_numbers"][1].as_str().unwrap().to_owned())
        .collect();
    wait_until("four 855s delivered", || {
        deliveries(&admin)
            .iter()
            .filter(|d| {
                d["key"].as_str().unwrap().ends_with(":855") && d["state"]["state"] == "delivered"
            })
            .count()
            == 4
    });

    // ACME's 999: the first accepted, the second rejected (BAK02 bad code), the third partly.
    let set = |n: usize, g: &str, body: &str| {
        let segs = format!("AK1*PR*{g}*005010~{body}");
        let count = segs.matches('~').count() + 2;
        format!("ST*999*{n:04}*005010X231A1~{segs}SE*{count}*{n:04}~")
    };
    let sets = [
        set(1, &gs06[0], "AK2*855*0001*005010~IK5*A~AK9*A*1*1*1~"),
        set(
            2,
            &gs06[1],
            "AK2*855*0001*005010~IK3*BAK*2**8~IK4*2*587*7*ZZ~IK5*R*5~AK9*R*1*1*0~",
        ),
        set(3, &gs06[2], "AK2*855*0001*005010~IK5*E~AK9*P*1*1*1~"),
    ];
    let isa = format!(
        "ISA*00*{:10}*00*{:10}*ZZ*{:15}*ZZ*{:15}*261123*1200*^*00501*000000501*0*P*>~",
        "", "", "ACMERETAIL", "WIDGETCO"
    );
    let ack = format!(
        "{isa}GS*FA*ACMERETAIL*WIDGETCO*20261123*1200*501*X*005010X231A1~{}GE*3*501~IEA*1*000000501~",
        sets.concat()
    );
    let before = daemon.outbound_files().len();
    daemon.drop_file("acme-retail", "acme-999.x12", ack.as_bytes());
    wait_until("the 999 reconciled", || {
        let d = deliveries(&admin);
        !by_key(&d, ":r3:")["acknowledgements"]
            .as_array()
            .unwrap()
            .is_empty()
    });
    let d = deliveries(&admin);
    let outcome = |key: &str| by_key(&d, key)["acknowledgements"][0]["outcome"].clone();
    assert_eq!(outcome(":r1:"), "accepted");
    assert_eq!(outcome(":r2:"), "rejected");
    assert_eq!(outcome(":r3:"), "partly_accepted");
    assert!(
        by_key(&d, ":r4:")["acknowledgements"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let codes = by_key(&d, ":r2:")["acknowledgements"][0]["codes"].to_string();
    assert!(
        codes.contains("IK3 BAK 2 8") && codes.contains("IK5 R 5"),
        "{codes}"
    );
    assert_eq!(by_key(&d, ":r2:")["acknowledgements"][0]["document"], "999");

    // The inbound 999's trace names each document it settled; it is not acknowledged back.
    let out = edigate(&["messages", "--json", "--admin", &admin, "--token", TOKEN]);
    let messages: Value = serde_json::from_str(&text(&out).0).unwrap();
    let id = messages["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["file_name"] == "acme-999.x12")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = edigate(&["trace", &id, "--admin", &admin, "--token", TOKEN]);
    let (trace, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(trace.matches("acknowledged").count(), 3, "{trace}");
    assert!(trace.contains("outcome=rejected"), "{trace}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        daemon.outbound_files().len(),
        before,
        "a 999 is never acknowledged"
    );

    // EuroFoods' CONTRL accepts its ORDRSP.
    let (file, _) = event_file("edifact_ordrsp_d96a.edi", &work);
    let out = send(&admin, &file, "eurofoods", true);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let unb = serde_json::from_str::<Value>(&stdout).unwrap()[0]["control_numbers"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let contrl = format!(
        "UNB+UNOC:3+5412345000013:14+4012345000009:14+261123:1200+C77'UNH+1+CONTRL:D:3:UN'\
UCI+{unb}+4012345000009:14+5412345000013:14+7'UNT+3+1'UNZ+1+C77'"
    );
    daemon.drop_file("eurofoods", "contrl.edi", contrl.as_bytes());
    wait_until("the CONTRL reconciled", || {
        let d = deliveries(&admin);
        by_key(&d, ":ORDRSP")["acknowledgements"][0]["outcome"] == "accepted"
    });

    // The fourth 855 never got one: past two seconds it is overdue, in status and metrics.
    wait_until("the unacknowledged 855 overdue", || {
        let out = edigate(&["status", "--json", "--admin", &admin, "--token", TOKEN]);
        let report: Value = serde_json::from_str(&text(&out).0).unwrap();
        report["overdue_acknowledgements"]
            .as_array()
            .is_some_and(|o| o.len() == 1 && o[0]["key"].as_str().unwrap().contains(":r4:"))
    });
    let out = edigate(&["status", "--admin", &admin, "--token", TOKEN]);
    let (human, _) = text(&out);
    assert!(
        human.contains("warning: no acknowledgement from partner acme-retail for interchange"),
        "{human}"
    );
    let (_, metrics) = admin_get(&admin, "/metrics");
    assert!(
        metrics.contains("edigate_acknowledgements_overdue{partner=\"acme-retail\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("edigate_acknowledgements_overdue{partner=\"eurofoods\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("edigate_outbound_documents_total{partner=\"acme-retail\",type=\"855\"} 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "edigate_acknowledgements_received_total{partner=\"acme-retail\",outcome=\"rejected\"} 1"
        ),
        "{metrics}"
    );
    daemon.stop();
    let _ = std::fs::remove_dir_all(&partners);
}

#[test]
fn events_dropped_into_the_outgoing_directory_are_sent_or_set_aside_with_the_reason() {
    let daemon = Daemon::start(
        "outgoing",
        &format!("[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\""),
    );
    let outgoing = daemon.dir.join("outgoing");
    let work = daemon.dir.parent().unwrap().join("erp-files");
    std::fs::create_dir_all(&work).unwrap();
    let (_, response) = event_file("x12_855_004010.x12", &work);
    let (_, invoice) = event_file("x12_810_004010.x12", &work);

    // In the partner's subdirectory, written under a temporary name and renamed.
    let dir = outgoing.join("acme-retail");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("resp-1.json.part"), response.to_string()).unwrap();
    std::fs::rename(dir.join("resp-1.json.part"), dir.join("resp-1.json")).unwrap();
    wait_until("the 855 delivered to ACME", || {
        daemon
            .outbound_files()
            .iter()
            .any(|(_, name, _)| name.contains("855"))
    });
    wait_until("the outgoing file removed", || {
        !dir.join("resp-1.json").exists()
    });

    // At the top, naming the partner: a response that goes, and an invoice ACME does not take.
    let lines = [
        serde_json::json!({"partner": "eurofoods", "type": response["type"], "data": response["data"], "key": "to-eurofoods"}),
        serde_json::json!({"partner": "acme-retail", "type": invoice["type"], "data": invoice["data"]}),
    ];
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    std::fs::write(outgoing.join("batch.jsonl"), text.join("\n")).unwrap();
    let failed = outgoing.join("failed");
    wait_until("the batch set aside", || {
        failed.join("batch.jsonl").exists()
    });
    let why = std::fs::read_to_string(failed.join("batch.jsonl.error")).unwrap();
    // The backordered line cannot go to an EDIFACT partner; ACME takes no 810.
    assert!(
        why.contains("event 1:") && why.contains("backordered"),
        "{why}"
    );
    assert!(
        why.contains("event 2:") && why.contains("does not exchange 810"),
        "{why}"
    );
    assert!(!outgoing.join("batch.jsonl").exists());
    assert_eq!(
        daemon
            .outbound_files()
            .iter()
            .filter(|(_, n, _)| n.contains("855") || n.contains("ORDRSP") || n.contains("810"))
            .count(),
        1,
        "only the first 855 went out"
    );
    daemon.stop();
}
