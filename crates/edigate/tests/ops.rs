//! The operator's commands (`status`, `messages`, `trace`, `outbox list|retry|drop`) as
//! separate processes against `edigate serve` running as another, through its admin API: tables
//! for people, the API's JSON with `--json`, and the exit codes and messages for a daemon that is
//! down or a token that is wrong.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};

use std::sync::atomic::Ordering;

use serde_json::Value;
use support::{Daemon, example, wait_until};

const TOKEN: &str = "ops-test-token";

/// Runs `edigate ARGS` with nothing from the caller's environment choosing the daemon or token.
fn edigate(args: &[&str], cwd: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edigate"));
    cmd.args(args)
        .env_remove("EDIGATE_ADMIN")
        .env_remove("EDIGATE_TOKEN");
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    cmd.output().expect("edigate runs")
}

/// An operator command against `admin` with the test's token; must succeed.
fn ok(admin: &str, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["--admin", admin, "--token", TOKEN]);
    let out = edigate(&all, None);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "edigate {all:?}: {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The same with `--json`, parsed.
fn json(admin: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&ok(admin, &all)).expect("--json prints JSON")
}

/// An operator command that must fail: (exit code, standard error).
fn fails(args: &[&str]) -> (i32, String) {
    let out = edigate(args, None);
    assert!(!out.status.success(), "edigate {args:?} succeeded");
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// One HTTP/1.1 request by hand: (status, body as text).
fn raw_text(admin: &str, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let response = support::admin_request(admin, method, path, token);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap();
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    (status, body.to_owned())
}

/// One HTTP/1.1 request by hand: (status, body as JSON).
fn raw(admin: &str, method: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let (status, body) = raw_text(admin, method, path, token);
    (status, serde_json::from_str(&body).expect("a JSON body"))
}

fn ids_in(list: &Value, key: &str) -> Vec<String> {
    list[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

fn delivery_state(admin: &str, id: &str) -> String {
    let all = json(admin, &["outbox", "list"]);
    all["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
        .map(|d| d["state"]["state"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no delivery {id} in {all}"))
}

#[test]
fn operator_commands_against_a_running_daemon() {
    let (hook, accept) = support::webhook_receiver();
    let daemon = Daemon::start(
        "ops",
        &format!(
            "[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\n\
             [delivery]\nmax_attempts = 1\n\
             [[sinks]]\ntype = \"webhook\"\nname = \"hook\"\nurl = \"{hook}\"\ntimeout_ms = 2000\n"
        ),
    );
    let admin = daemon.admin_url();
    daemon.drop_file("acme-retail", "po-731.x12", &example("order-850.x12"));
    daemon.drop_file("eurofoods", "orders-0042.edi", &example("order-orders.edi"));
    daemon.drop_file("northwind", "nw-5120.x12", &example("order-850-4010.x12"));
    daemon.drop_file("northwind", "junk.x12", b"not EDI\n");
    // The receiver refuses every event with 503 and one attempt is allowed: three dead letters.
    wait_until("four acknowledgements and three dead events", || {
        daemon.outbound_files().len() == 4
            && json(&admin, &["outbox", "list", "--state", "dead"])["deliveries"]
                .as_array()
                .is_some_and(|d| d.len() == 3)
    });

    // The token: /health is open, everything under /v1 is not.
    assert_eq!(
        raw(&admin, "GET", "/health", None),
        (200, serde_json::json!({"status": "ok"}))
    );
    let (status, body) = raw(&admin, "GET", "/v1/status", None);
    assert_eq!(status, 401);
    assert!(body["error"].as_str().unwrap().contains("Bearer"), "{body}");
    assert_eq!(raw(&admin, "GET", "/v1/status", Some("wrong")).0, 401);
    assert_eq!(raw(&admin, "GET", "/v1/status", Some(TOKEN)).0, 200);
    let (status, body) = raw(&admin, "GET", "/v1/messages?state=lost", Some(TOKEN));
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("lost"), "{body}");
    assert_eq!(
        raw(&admin, "GET", "/v1/messages?limit=x", Some(TOKEN)).0,
        400
    );
    assert_eq!(
        raw(&admin, "GET", "/v1/deliveries/d-1/nothing", Some(TOKEN)).0,
        404
    );

    // status
    let report = json(&admin, &["status"]);
    let partner = |id: &str| {
        report["partners"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .unwrap_or_else(|| panic!("no {id} in {report}"))
            .clone()
    };
    for id in ["acme-retail", "eurofoods", "northwind"] {
        assert_eq!(partner(id)["messages"]["processed"], 1, "{report}");
        assert!(partner(id)["last_activity"].as_u64().unwrap() > 0);
    }
    assert_eq!(partner("acme-retail")["name"], "ACME Retail");
    assert_eq!(report["unidentified"]["quarantined"], 1, "{report}");
    assert_eq!(report["dead_letters"], 3);
    assert_eq!(report["pending_messages"], 0);
    let destination = |d: &str| {
        report["destinations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["destination"] == d)
            .unwrap_or_else(|| panic!("no {d} in {report}"))
            .clone()
    };
    assert_eq!(destination("partner:acme-retail")["delivered"], 2);
    assert_eq!(destination("sink:hook")["dead"], 3);
    let text = ok(&admin, &["status"]);
    assert!(text.contains(&format!("edigate at {admin}")), "{text}");
    let acme_line = text.lines().find(|l| l.starts_with("acme-retail")).unwrap();
    assert!(acme_line.contains("ACME Retail"), "{text}");
    assert!(
        acme_line.split_whitespace().any(|w| w.ends_with('Z')),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("sink:hook") && l.split_whitespace().nth(4) == Some("3")),
        "{text}"
    );
    assert!(text.contains("(unidentified)"), "{text}");
    assert!(text.contains("dead letters: 3"), "{text}");
    assert!(text.contains("warning: 3 dead letter(s)"), "{text}");

    // messages
    let all = json(&admin, &["messages"]);
    assert_eq!(all["messages"].as_array().unwrap().len(), 4, "{all}");
    let acme = json(&admin, &["messages", "--partner", "acme-retail"]);
    let [m] = acme["messages"].as_array().unwrap().as_slice() else {
        panic!("{acme}")
    };
    assert_eq!(m["file_name"], "po-731.x12");
    assert_eq!(m["state"]["state"], "processed");
    let acme_id = m["id"].as_str().unwrap().to_owned();
    let quarantined = json(&admin, &["messages", "--state", "quarantined"]);
    assert_eq!(
        quarantined["messages"][0]["file_name"], "junk.x12",
        "{quarantined}"
    );
    assert_eq!(
        json(&admin, &["messages", "--since", "1h", "--limit", "2"])["messages"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let text = ok(&admin, &["messages"]);
    let header = text.lines().next().unwrap();
    for column in ["ID", "RECEIVED", "PARTNER", "FILE", "STATE"] {
        assert!(header.contains(column), "{text}");
    }
    let line = text.lines().find(|l| l.contains("po-731.x12")).unwrap();
    assert!(line.starts_with(&acme_id), "{text}");
    assert!(
        line.contains("acme-retail") && line.contains("processed"),
        "{text}"
    );
    // Columns line up: every line has its state where the header says.
    let state_at = header.find("STATE").unwrap();
    for l in text.lines().skip(1) {
        assert!(
            l[state_at..].starts_with("processed") || l[state_at..].starts_with("quarantined"),
            "{text}"
        );
    }
    let junk = text.lines().find(|l| l.contains("junk.x12")).unwrap();
    assert!(junk.contains("not readable as X12 or EDIFACT"), "{text}");

    // messages --type: an X12 transaction set, an EDIFACT message (any case), an event type.
    let files_of = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["messages"];
        all.extend(args);
        let list = json(&admin, &all);
        let mut names: Vec<String> = list["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["file_name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(files_of(&["--type", "850"]), ["nw-5120.x12", "po-731.x12"]);
    assert_eq!(files_of(&["--type", "ORDERS"]), ["orders-0042.edi"]);
    assert_eq!(files_of(&["--type", "orders"]), ["orders-0042.edi"]);
    assert_eq!(
        files_of(&["--type", "order.created"]),
        ["nw-5120.x12", "orders-0042.edi", "po-731.x12"]
    );
    assert_eq!(
        files_of(&[
            "--type",
            "850",
            "--partner",
            "northwind",
            "--state",
            "processed"
        ]),
        ["nw-5120.x12"]
    );
    assert!(files_of(&["--type", "856"]).is_empty());
    assert!(files_of(&["--type", "850", "--state", "quarantined"]).is_empty());
    let po = &json(&admin, &["messages", "--partner", "acme-retail"])["messages"][0];
    assert_eq!(po["message_types"], serde_json::json!(["850"]), "{po}");
    assert_eq!(
        po["event_types"],
        serde_json::json!(["order.created"]),
        "{po}"
    );
    let (status, body) = raw(&admin, "GET", "/v1/messages?type=ORDERS", Some(TOKEN));
    assert_eq!(status, 200);
    assert_eq!(
        body["messages"][0]["file_name"], "orders-0042.edi",
        "{body}"
    );
    let text = ok(&admin, &["messages", "--type", "orders"]);
    assert!(text.lines().next().unwrap().contains("TYPES"), "{text}");
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("ORDERS -> order.created"), "{text}");
    assert_eq!(
        ok(&admin, &["messages", "--type", "856"]).trim(),
        "no messages"
    );
    let text = ok(&admin, &["messages"]);
    let junk = text.lines().find(|l| l.contains("junk.x12")).unwrap();
    assert!(
        junk.contains(" - "),
        "a file with no types shows '-': {text}"
    );

    // trace
    let detail = json(&admin, &["trace", &acme_id]);
    assert_eq!(detail["message"]["id"], acme_id.as_str());
    let steps: Vec<&str> = detail["trace"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["step"]["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "received",
            "identified",
            "validated",
            "ack_queued",
            "ack_queued",
            "translated",
            "processed"
        ]
    );
    let deliveries = detail["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 3, "{detail}");
    assert!(
        deliveries
            .iter()
            .any(|d| d["destination"] == "sink:hook" && d["state"]["state"] == "dead")
    );
    let short = acme_id.trim_start_matches("m-").trim_start_matches('0');
    let text = ok(&admin, &["trace", short]);
    assert!(
        text.starts_with(&format!(
            "message {acme_id}: po-731.x12 (540 bytes) from channel inbox-acme-retail"
        )),
        "{text}"
    );
    assert!(
        text.lines().nth(2) == Some("types 850 -> order.created"),
        "{text}"
    );
    for needle in [
        "identified  partner=acme-retail",
        "validated   accepted=1 rejected=0",
        "ack_queued",
        "translated  events=1",
        "partner:acme-retail",
        "sink:hook",
        "answered 503",
    ] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }
    let (code, err) = fails(&["trace", "m-999", "--admin", &admin, "--token", TOKEN]);
    assert_eq!(code, 1);
    assert_eq!(err.trim(), "edigate: no message m-000000000999");

    // outbox list, retry, drop
    let dead = ids_in(
        &json(&admin, &["outbox", "list", "--state", "dead"]),
        "deliveries",
    );
    let hook_only = json(&admin, &["outbox", "list", "--destination", "sink:hook"]);
    assert_eq!(ids_in(&hook_only, "deliveries").len(), 3, "{hook_only}");
    let text = ok(&admin, &["outbox", "list", "--state", "dead"]);
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(
        text.lines().next().unwrap().starts_with("DELIVERY"),
        "{text}"
    );
    for id in &dead {
        let line = text.lines().find(|l| l.starts_with(id.as_str())).unwrap();
        assert!(
            line.contains("sink:hook") && line.contains(" dead "),
            "{text}"
        );
    }

    accept.store(true, Ordering::SeqCst);
    let retried = json(&admin, &["outbox", "retry", &dead[0]]);
    assert_eq!(retried["delivery"]["id"], dead[0].as_str());
    wait_until("the retried delivery delivered", || {
        delivery_state(&admin, &dead[0]) == "delivered"
    });
    let text = ok(&admin, &["outbox", "drop", &dead[1]]);
    assert!(
        text.starts_with(&format!("{} to sink:hook: dropped since ", dead[1])),
        "{text}"
    );
    assert_eq!(delivery_state(&admin, &dead[1]), "dropped");
    assert_eq!(
        ids_in(
            &json(&admin, &["outbox", "list", "--state", "dropped"]),
            "deliveries"
        ),
        [dead[1].clone()]
    );
    assert_eq!(delivery_state(&admin, &dead[2]), "dead");
    // A delivered one can be neither dropped nor retried.
    let (code, err) = fails(&[
        "outbox", "drop", &dead[0], "--admin", &admin, "--token", TOKEN,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("409") && err.contains("cannot drop"), "{err}");
    let (code, err) = fails(&[
        "outbox", "retry", "d-424242", "--admin", &admin, "--token", TOKEN,
    ]);
    assert_eq!(code, 1);
    assert_eq!(err.trim(), "edigate: no delivery d-000000424242");
    assert_eq!(json(&admin, &["status"])["dead_letters"], 1);

    // A wrong token: every command says so, prints nothing and changes nothing.
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["messages"],
        &["messages", "--type", "850", "--json"],
        &["trace", &acme_id],
        &["outbox", "list"],
        &["outbox", "retry", &dead[2]],
        &["outbox", "drop", &dead[2], "--json"],
        &["replay", &acme_id],
    ] {
        let mut all = args.to_vec();
        all.extend(["--admin", &admin, "--token", "wrong"]);
        let out = edigate(&all, None);
        assert_eq!(out.status.code(), Some(2), "{all:?}");
        assert!(out.stdout.is_empty(), "{all:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(
            err.trim(),
            "edigate: the admin API refused the token (given by --token or EDIGATE_TOKEN)",
            "{all:?}"
        );
    }
    assert_eq!(delivery_state(&admin, &dead[2]), "dead");

    // retry for people: the delivery and when it falls due.
    let text = ok(&admin, &["outbox", "retry", &dead[2]]);
    assert!(
        text.starts_with(&format!("{} to sink:hook: pending, due 20", dead[2])),
        "{text}"
    );
    wait_until("the second retried delivery delivered", || {
        delivery_state(&admin, &dead[2]) == "delivered"
    });
    assert_eq!(json(&admin, &["status"])["dead_letters"], 0);

    // A replay sends everything ACME's order made again: each delivery due once more, then
    // delivered, under the same ids.
    let before = json(&admin, &["trace", &acme_id]);
    let before_ids = ids_in(&before, "deliveries");
    let text = ok(&admin, &["replay", &acme_id]);
    assert!(
        text.starts_with(&format!(
            "{acme_id} (po-731.x12): {} deliveries sent again",
            before_ids.len()
        )),
        "{text}"
    );
    wait_until("the replayed deliveries delivered", || {
        before_ids
            .iter()
            .all(|d| delivery_state(&admin, d) == "delivered")
    });
    let after = json(&admin, &["trace", &acme_id]);
    assert_eq!(ids_in(&after, "deliveries"), before_ids);
    for d in after["deliveries"].as_array().unwrap() {
        assert_eq!(d["attempts"], 1, "a fresh round of attempts: {d}");
    }
    let (code, err) = fails(&["replay", "m-424242", "--admin", &admin, "--token", TOKEN]);
    assert_eq!(code, 1);
    assert_eq!(err.trim(), "edigate: no message m-000000424242");

    // replay and drop for scripts: the receiver refuses again, the replayed event dies, and
    // is dropped.
    accept.store(false, Ordering::SeqCst);
    let replayed = json(&admin, &["replay", &acme_id]);
    assert_eq!(replayed["message"]["id"], acme_id.as_str(), "{replayed}");
    assert_eq!(ids_in(&replayed, "deliveries"), before_ids);
    let hook_delivery = replayed["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["destination"] == "sink:hook")
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .unwrap();
    wait_until("the replayed event dead again", || {
        delivery_state(&admin, &hook_delivery) == "dead"
    });
    let dropped = json(&admin, &["outbox", "drop", &hook_delivery]);
    assert_eq!(
        dropped["delivery"]["id"],
        hook_delivery.as_str(),
        "{dropped}"
    );
    assert_eq!(
        dropped["delivery"]["state"]["state"], "dropped",
        "{dropped}"
    );

    // Ids that are not ids are usage errors, before any request.
    for (args, says) in [
        (&["trace", "x-1"][..], "\"x-1\" is not a message id"),
        (&["replay", "d-1"], "\"d-1\" is not a message id"),
        (&["outbox", "retry", "m-1"], "\"m-1\" is not a delivery id"),
        (&["outbox", "drop", "-"], "\"-\" is not a delivery id"),
    ] {
        let mut all = args.to_vec();
        all.extend(["--admin", &admin, "--token", TOKEN]);
        let (code, err) = fails(&all);
        assert_eq!(code, 2, "{all:?}");
        assert!(err.starts_with(&format!("edigate: {says}")), "{err}");
    }

    daemon.stop();
}

#[test]
fn a_generated_token_is_found_by_the_commands_on_the_same_machine() {
    let daemon = Daemon::start("ops-token", "[admin]\nlisten = \"127.0.0.1:0\"\n");
    let admin = daemon.admin_url();
    let file = daemon.dir.join("admin.token");
    let token = std::fs::read_to_string(&file).unwrap();
    assert_eq!(token.trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the token is the daemon user's alone");
    }
    let data_dir = daemon.dir.to_str().unwrap();
    let out = edigate(&["status", "--admin", &admin, "--data-dir", data_dir], None);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("northwind"));

    // From a directory holding ./edigate-data, as the embedded default lays it out.
    #[cfg(unix)]
    {
        let cwd = daemon.dir.with_extension("cwd");
        let _ = std::fs::remove_dir_all(&cwd);
        std::fs::create_dir_all(&cwd).unwrap();
        std::os::unix::fs::symlink(&daemon.dir, cwd.join("edigate-data")).unwrap();
        let out = edigate(&["messages", "--admin", &admin], Some(&cwd));
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "no messages");
    }

    // Without any token.
    let elsewhere = daemon.dir.join("no-such-dir");
    let (code, err) = fails(&[
        "status",
        "--admin",
        &admin,
        "--data-dir",
        elsewhere.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("the admin API refused the token (none given"),
        "{err}"
    );
    daemon.stop();
}

#[test]
fn without_a_daemon_the_commands_say_so() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let admin = format!("http://127.0.0.1:{port}");
    for args in [
        &["status"][..],
        &["messages", "--state", "failed"],
        &["trace", "m-1"],
        &["outbox", "list"],
        &["outbox", "retry", "d-1"],
        &["outbox", "drop", "d-1", "--json"],
        &["replay", "m-1"],
        &["status", "--json"],
    ] {
        let mut all = args.to_vec();
        all.extend(["--admin", &admin, "--token", TOKEN]);
        let out = edigate(&all, None);
        assert!(out.stdout.is_empty(), "{all:?}");
        let (code, err) = fails(&all);
        assert_eq!(code, 2, "{all:?}");
        assert!(
            err.starts_with(&format!(
                "edigate: cannot reach the edigate admin API at {admin}: is `edigate serve` running?"
            )),
            "{err}"
        );
    }
}

/// The example partners, each with `expect_within` set as given (none for `None`).
fn partners_expecting(dir: &Path, windows: &[(&str, Option<&str>)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (id, window) in windows {
        let example = support::root()
            .join("deploy/examples/partners")
            .join(format!("{id}.toml"));
        let text = std::fs::read_to_string(example).unwrap();
        let line = window.map_or(String::new(), |w| format!("expect_within = \"{w}\"\n"));
        std::fs::write(dir.join(format!("{id}.toml")), format!("{line}{text}")).unwrap();
    }
}

/// `edigate_partner_silent{partner="ID"}` in a scrape, if there.
fn silent_gauge(metrics: &str, partner: &str) -> Option<String> {
    let name = format!("edigate_partner_silent{{partner=\"{partner}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&name))
        .map(str::to_owned)
}

fn silent_ids(report: &Value) -> Vec<String> {
    let mut ids: Vec<String> = report["silent_partners"]
        .as_array()
        .unwrap_or_else(|| panic!("no silent_partners in {report}"))
        .iter()
        .map(|q| q["partner"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_partner_silent_past_its_expect_within_is_warned_about() {
    let partners = std::env::temp_dir().join(format!("edigate-silence-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partners);
    // ACME sends once and then goes quiet; Northwind never sends; EuroFoods never sends either,
    // but has an hour; and a partner without expect_within is never silent.
    partners_expecting(
        &partners,
        &[
            ("acme-retail", Some("6s")),
            ("northwind", Some("1s")),
            ("eurofoods", Some("1h")),
        ],
    );
    let daemon = Daemon::start(
        "ops-silence",
        &format!(
            "partners_dir = {:?}\n[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\n",
            partners
        ),
    );
    let admin = daemon.admin_url();
    daemon.drop_file("acme-retail", "po-731.x12", &example("order-850.x12"));
    wait_until("ACME's order processed", || {
        json(
            &admin,
            &[
                "messages",
                "--partner",
                "acme-retail",
                "--state",
                "processed",
            ],
        )["messages"]
            .as_array()
            .is_some_and(|m| m.len() == 1)
    });
    let report = json(&admin, &["status"]);
    assert!(
        !silent_ids(&report).contains(&"acme-retail".to_owned()),
        "ACME just sent: {report}"
    );

    wait_until("Northwind silent", || {
        silent_ids(&json(&admin, &["status"])) == ["northwind"]
    });
    let report = json(&admin, &["status"]);
    let northwind = &report["silent_partners"][0];
    assert_eq!(northwind["last_received"], Value::Null, "{report}");
    assert_eq!(northwind["expect_within_ms"], 1000, "{report}");
    assert!(
        northwind["quiet_for_ms"].as_u64().unwrap() > 1000,
        "{report}"
    );
    let text = ok(&admin, &["status"]);
    let warning = text
        .lines()
        .find(|l| l.starts_with("warning: partner northwind"))
        .unwrap_or_else(|| panic!("no warning about northwind:\n{text}"));
    assert!(
        warning.starts_with(
            "warning: partner northwind (Northwind Distribution) has sent nothing for"
        ),
        "{warning}"
    );
    assert!(warning.contains("expected within 1s"), "{warning}");
    assert!(
        warning.contains("no file from it since this gateway's data was created, 20"),
        "{warning}"
    );
    let (status, metrics) = raw_text(&admin, "GET", "/metrics", Some(TOKEN));
    assert_eq!(status, 200);
    assert_eq!(
        silent_gauge(&metrics, "northwind").as_deref(),
        Some("1"),
        "{metrics}"
    );
    assert_eq!(
        silent_gauge(&metrics, "eurofoods").as_deref(),
        Some("0"),
        "{metrics}"
    );
    assert_eq!(
        silent_gauge(&metrics, "acme-retail").as_deref(),
        Some("0"),
        "{metrics}"
    );
    assert!(
        metrics.lines().any(|l| l.starts_with(
            "edigate_partner_last_received_timestamp_seconds{partner=\"acme-retail\"} "
        )),
        "{metrics}"
    );

    // ACME's six seconds pass after its one file.
    wait_until("ACME silent too", || {
        silent_ids(&json(&admin, &["status"])) == ["acme-retail", "northwind"]
    });
    let report = json(&admin, &["status"]);
    let acme = report["silent_partners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["partner"] == "acme-retail")
        .unwrap()
        .clone();
    let received =
        json(&admin, &["messages", "--partner", "acme-retail"])["messages"][0]["received_at"]
            .clone();
    assert_eq!(acme["last_received"], received, "{report}");
    let text = ok(&admin, &["status"]);
    let warning = text
        .lines()
        .find(|l| l.starts_with("warning: partner acme-retail (ACME Retail) has sent nothing for"))
        .unwrap_or_else(|| panic!("no warning about ACME:\n{text}"));
    assert!(
        warning.contains("expected within 6s): its last file arrived 20"),
        "{warning}"
    );
    let (_, metrics) = raw_text(&admin, "GET", "/metrics", Some(TOKEN));
    assert_eq!(
        silent_gauge(&metrics, "acme-retail").as_deref(),
        Some("1"),
        "{metrics}"
    );

    // A file wakes it up again.
    daemon.drop_file("acme-retail", "po-732.x12", &example("order-850.x12"));
    wait_until("ACME no longer silent", || {
        silent_ids(&json(&admin, &["status"])) == ["northwind"]
    });
    daemon.stop();
    let _ = std::fs::remove_dir_all(&partners);
}

#[test]
fn a_bad_expect_within_stops_the_daemon_and_partner_check_at_its_line() {
    let partners = std::env::temp_dir().join(format!("edigate-silence-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partners);
    partners_expecting(&partners, &[("acme-retail", Some("a day"))]);
    let out = edigate(&["partner", "check", partners.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains("acme-retail.toml:1:17: \"a day\" is not a duration"),
        "{all}"
    );
    assert!(all.contains("expect_within = \"24h\""), "{all}");

    let data = support::Data::new("ops-silence-bad", &format!("partners_dir = {partners:?}\n"));
    let out = edigate(&["serve", "--config", data.config.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("acme-retail.toml:1:17"), "{err}");
    let _ = std::fs::remove_dir_all(&partners);
}

/// This machine's IPv4 addresses other than loopback, from the kernel's local routes.
#[cfg(target_os = "linux")]
fn non_loopback_addresses() -> Vec<std::net::Ipv4Addr> {
    let trie = std::fs::read_to_string("/proc/net/fib_trie").unwrap_or_default();
    let lines: Vec<&str> = trie.lines().collect();
    let mut found = Vec::new();
    for pair in lines.windows(2) {
        let addr = pair[0].trim().trim_start_matches("|-- ");
        if pair[1].trim() == "/32 host LOCAL"
            && let Ok(ip) = addr.parse::<std::net::Ipv4Addr>()
            && !ip.is_loopback()
            && !found.contains(&ip)
        {
            found.push(ip);
        }
    }
    found
}

/// The local addresses of the listening TCP sockets on `port`, from /proc/net/tcp and tcp6:
/// what the kernel says is bound, whatever the daemon logs.
#[cfg(target_os = "linux")]
fn listening_on(port: u16) -> Vec<String> {
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl, local_address (HEXADDR:HEXPORT), rem_address, st (0A = LISTEN)
            let (Some(local), Some(state)) = (fields.get(1), fields.get(3)) else {
                continue;
            };
            let Some((addr, p)) = local.split_once(':') else {
                continue;
            };
            if *state == "0A" && u16::from_str_radix(p, 16) == Ok(port) {
                found.push(addr.to_owned());
            }
        }
    }
    found
}

#[cfg(target_os = "linux")]
#[test]
fn the_admin_api_listens_on_loopback_only_by_default() {
    // No `listen`: the default address, 127.0.0.1:7410.
    let daemon = Daemon::start("ops-loopback", &format!("[admin]\ntoken = \"{TOKEN}\"\n"));
    let admin = daemon.admin_url();
    assert_eq!(
        admin,
        "http://127.0.0.1:7410",
        "the default admin address (or port 7410 is taken by another program):\n{}",
        daemon.log()
    );
    assert_eq!(raw(&admin, "GET", "/health", None).0, 200);
    // 0100007F is 127.0.0.1 as /proc/net/tcp writes it: one listening socket, on loopback.
    assert_eq!(listening_on(7410), ["0100007F"], "{}", daemon.log());
    let others = non_loopback_addresses();
    for ip in &others {
        let e = TcpStream::connect((*ip, 7410)).expect_err("reachable from another address");
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{ip}: {e}");
    }
    daemon.stop();

    // The same check, on an address that is reachable, does see the daemon: the refusal
    // above is the default address's doing.
    let daemon = Daemon::start(
        "ops-exposed",
        &format!("[admin]\nlisten = \"0.0.0.0:0\"\ntoken = \"{TOKEN}\"\n"),
    );
    let port: u16 = daemon
        .admin_url()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap();
    assert_eq!(listening_on(port), ["00000000"]);
    for ip in &others {
        let (status, _) = raw(&format!("http://{ip}:{port}"), "GET", "/health", None);
        assert_eq!(status, 200, "{ip}");
        assert_eq!(
            raw(&format!("http://{ip}:{port}"), "GET", "/v1/status", None).0,
            401,
            "the token is asked from every address"
        );
    }
    daemon.stop();
}

#[test]
fn an_admin_api_reachable_from_elsewhere_without_a_token_is_refused_at_start() {
    for listen in ["0.0.0.0:0", "[::]:0"] {
        let data = support::Data::new(
            "ops-exposed-no-token",
            &format!("[admin]\nlisten = \"{listen}\"\n"),
        );
        let out = edigate(&["serve", "--config", data.config.to_str().unwrap()], None);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "edigate serve: cannot start: admin API: admin.listen = \"{listen}\" is reachable from other machines, but neither admin.token_env nor admin.token is set"
            )),
            "{err}"
        );
        assert!(
            !data.dir.join("admin.token").exists(),
            "nothing generated for an API that will not run"
        );
    }
}
