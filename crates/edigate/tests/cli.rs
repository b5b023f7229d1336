//! The `edigate` command as a user runs it: exit statuses, stdout and stderr.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn edigate(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edigate"));
    cmd.args(args)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().expect("edigate runs");
    if let Some(input) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write stdin");
    }
    child.wait_with_output().expect("edigate finishes")
}

const ISA: &str = "ISA*00*          *00*          *ZZ*BUYER          *ZZ*SELLER         *240101*1200*U*00401*000000042*0*P*>~\n";

fn order(body: &str) -> String {
    let n = body.matches('~').count() + 2;
    format!(
        "{ISA}GS*PO*BUYER*SELLER*20240101*1200*7*X*004010~\nST*850*0001~\n{body}SE*{n}*0001~\nGE*1*7~\nIEA*1*000000042~\n"
    )
}

const BODY: &str =
    "BEG*00*SA*PO-1**20240101~\nN1*ST*ACME DC*92*0012~\nPO1*1*10*EA*9.99*VP*SKU1~\nCTT*1~\n";

#[test]
fn parse_prints_the_structure_as_json() {
    let out = edigate(&["parse", "-"], Some(order(BODY).as_bytes()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let ic = &v["interchanges"][0];
    assert_eq!(ic["standard"], "x12");
    assert_eq!(ic["sender"]["id"], "BUYER");
    assert_eq!(ic["control_number"], "000000042");
    let msg = &ic["groups"][0]["messages"][0];
    assert_eq!(msg["type"], "850");
    assert_eq!(msg["segments"][1]["elements"][2], "PO-1");
}

#[test]
fn parse_errors_exit_1_and_name_the_place() {
    let broken = order(BODY).replace("IEA*1*000000042~\n", "");
    let out = edigate(&["parse", "-"], Some(broken.as_bytes()));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no IEA trailer") && err.contains("interchange 1"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("still JSON");
    assert_eq!(v["error"]["interchange"], 1);
    let out = edigate(&["parse", "no/such/file.edi"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn validate_exits_0_when_accepted_and_1_with_codes_when_not() {
    let specs = root().join("tests/data/specs-mini");
    let specs = specs.to_string_lossy();
    let out = edigate(
        &["validate", "--specs", &specs, "-"],
        Some(order(BODY).as_bytes()),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let bad = order(&BODY.replace("BEG*00", "BEG*99"));
    let out = edigate(&["validate", "--specs", &specs, "-"], Some(bad.as_bytes()));
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("BEG01 (353) \"99\""), "{text}");
    assert!(text.contains("invalid code value [AK4/IK4 7]"), "{text}");

    let out = edigate(
        &["validate", "--specs", &specs, "--json", "-"],
        Some(bad.as_bytes()),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let seg = &v["interchanges"][0]["groups"][0]["messages"][0]["segments"][0];
    assert_eq!(seg["tag"], "BEG");
    assert_eq!(seg["elements"][0]["code"], "7");

    let out = edigate(
        &[
            "validate",
            "--specs",
            &specs,
            "--ack",
            "--timestamp",
            "202601020304",
            "-",
        ],
        Some(bad.as_bytes()),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\nAK4*1*353*7*99~\nAK5*R*5~\nAK9*R*1*1*0~\n"),
        "{text}"
    );
    assert!(text.contains("*260102*0304*"), "{text}");

    let out = edigate(
        &["validate", "--specs", "no/such/dir", "-"],
        Some(bad.as_bytes()),
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn translate_prints_one_event_per_message_and_exits_1_on_a_bad_message() {
    let out = edigate(
        &["translate", "deploy/examples/inbound/order-850.x12"],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON event per line"))
        .collect();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "order.created");
    assert_eq!(events[0]["data"]["order_number"], "PO-2026-0042");
    assert_eq!(
        events[0]["data"]["lines"][1]["quantity"]["unit"]["original"],
        "CA"
    );

    // A GTIN with a wrong check digit: the message is reported by field, not translated.
    let input = std::fs::read_to_string(root().join("deploy/examples/inbound/order-850.x12"))
        .expect("example");
    let bad = input.replace("012345678905", "012345678906");
    let out = edigate(&["translate", "-"], Some(bad.as_bytes()));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("gtin") && err.contains("850"), "{err}");
}

#[test]
fn partner_check_accepts_the_examples_and_names_each_partner() {
    let out = edigate(&["partner", "check", "deploy/examples/partners"], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(
        stdout.contains("partner northwind (Northwind Distribution), X12 004010 as 01:123456789"),
        "{stdout}"
    );
}

#[test]
fn partner_check_points_at_the_mistake_and_fails() {
    let dir = std::env::temp_dir().join(format!("edigate-cli-partner-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("typo.toml");
    std::fs::write(
        &bad,
        "[edifact]\nversion = \"D96A\"\npartner = { id = \"5400000000000\" }\nmessages = [\"ORDRES\"]\n",
    )
    .expect("write");
    let out = edigate(
        &["partner", "check", bad.to_str().expect("utf-8 path")],
        None,
    );
    std::fs::remove_dir_all(&dir).expect("cleanup");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("typo.toml:4:13: no mapping for message \"ORDRES\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("help: did you mean \"ORDERS\"?"),
        "{stderr}"
    );
}

#[test]
fn translate_with_partners_applies_the_senders_overrides() {
    let file = "deploy/examples/inbound/order-850-4010.x12";
    let out = edigate(
        &["translate", "--partners", "deploy/examples/partners", file],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let event: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(event["partner"], "northwind");
    assert_eq!(
        event["data"]["lines"][0]["product"]["vendor_sku"],
        "NW-WID-100-12"
    );

    // Without the partner files the same interchange gets the defaults.
    let out = edigate(&["translate", file], None);
    let event: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(event["partner"], "123456789");
    assert_eq!(
        event["data"]["lines"][0]["product"]["vendor_sku"],
        serde_json::Value::Null
    );
}
