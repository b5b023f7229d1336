//! Reprocessing: a file whose events could not be made (a partner's mapping was wrong) is
//! processed again from the spool after the fix, with `edigate reprocess`, and its events come
//! out; the acknowledgement already sent is not sent again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;

use serde_json::Value;
use support::{Daemon, example, root, wait_until};

const TOKEN: &str = "reprocess-test-token";

fn edigate(args: &[&str], admin: &str) -> (bool, String, String) {
    let mut all = args.to_vec();
    all.extend(["--admin", admin, "--token", TOKEN]);
    let out = Command::new(env!("CARGO_BIN_EXE_edigate"))
        .args(&all)
        .env_remove("EDIGATE_ADMIN")
        .env_remove("EDIGATE_TOKEN")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_file_is_processed_again_after_its_partners_mapping_is_fixed() {
    let partners = std::env::temp_dir().join(format!("edigate-reprocess-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partners);
    std::fs::create_dir_all(&partners).unwrap();
    let acme =
        std::fs::read_to_string(root().join("deploy/examples/partners/acme-retail.toml")).unwrap();
    // The order number read from a reference ACME never sends: no event can be made.
    let wrong = format!(
        "{acme}\n[mappings.\"x12/850\".header]\norder_number = {{ path = \"REF[REF01=ZZ]/REF02\", required = true }}\n"
    );
    let file = partners.join("acme-retail.toml");
    std::fs::write(&file, &wrong).unwrap();
    let config = format!(
        "partners_dir = {partners:?}\n[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\""
    );
    let daemon = Daemon::start("reprocess", &config);
    let admin = daemon.admin_url();
    daemon.drop_file("acme-retail", "po.x12", &example("order-850.x12"));
    let id = {
        let mut id = String::new();
        wait_until("the order processed", || {
            let (_, out, _) = edigate(&["messages", "--json"], &admin);
            let list: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
            if let Some(m) = list["messages"].as_array().and_then(|m| m.first())
                && m["state"]["state"] == "processed"
            {
                id = m["id"].as_str().unwrap().to_owned();
                return true;
            }
            false
        });
        id
    };
    assert!(
        daemon.events().is_empty(),
        "no event from the wrong mapping"
    );
    wait_until("its 999 sent", || !daemon.outbound_files().is_empty());
    let acks = daemon.outbound_files();
    let data = daemon.stop();

    // The mapping fixed; the daemon started again; the file processed again.
    std::fs::write(&file, acme).unwrap();
    let daemon = Daemon::start_on(data);
    let admin = daemon.admin_url();
    let (ok, out, err) = edigate(&["reprocess", &id], &admin);
    assert!(ok, "{err}");
    assert!(
        out.contains("processed again as revision 1: processed; events: order.created"),
        "{out}"
    );
    wait_until("the order's event written", || daemon.events().len() == 1);
    assert_eq!(daemon.events()[0]["type"], "order.created");
    let (_, trace, _) = edigate(&["trace", &id], &admin);
    assert!(
        trace.contains("reprocessing") && trace.contains("revision=1"),
        "{trace}"
    );
    assert_eq!(trace.matches("translated    events=").count(), 2, "{trace}");
    assert!(trace.contains("translated    events=1"), "{trace}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        daemon.outbound_files(),
        acks,
        "the acknowledgement is not sent again"
    );

    // Unknown ids and messages in processing are refused by name.
    let (ok, _, err) = edigate(&["reprocess", "m-999999"], &admin);
    assert!(!ok && err.contains("no message m-000000999999"), "{err}");
    daemon.stop();
    let _ = std::fs::remove_dir_all(&partners);
}
