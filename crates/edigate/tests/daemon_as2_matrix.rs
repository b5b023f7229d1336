//! `edigate serve` taking every combination pyas2lib can send to an AS2 channel:
//! {signed, unsigned} × {AES-128-CBC, AES-256-CBC, 3DES, none} × {compressed, not} ×
//! {SHA-1, SHA-256, SHA-512} × {sync MDN, async MDN, no MDN}, 144 messages posted by one
//! pyas2lib process (tests/peers/as2_daemon_peer.py `matrix`), each with a PO number of its own.
//! For every combination: pyas2lib verified our MDN (signature where signed, MIC where one is
//! returned), the daemon emitted exactly that order's event and queued the partner's
//! acknowledgement. A message signed with a stranger's key is the control: refused, no event.
//!
//! Needs `sh tests/peers/setup.sh` (pyas2lib in tests/peers/.venv); fails when it is missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::as2::{certificates, run_peer};
use support::{Daemon, free_port, root};

/// How many combinations the matrix has: 2 × 4 × 2 × 3 × 3.
const COMBINATIONS: usize = 144;

/// The daemon with an AS2 channel on `port` and ACME Retail as an AS2 partner that may send
/// unsigned and unencrypted messages (`sign = false`, `encrypt = false`: not required).
fn config(certs: &Path, port: u16) -> String {
    let partners = certs.join("partners");
    fs::create_dir_all(&partners).unwrap();
    let acme =
        fs::read_to_string(root().join("deploy/examples/partners/acme-retail.toml")).unwrap();
    fs::write(
        partners.join("acme-retail.toml"),
        format!(
            "{acme}\n[as2]\nid = \"partner\"\nus = \"edigate\"\ncertificates = [{:?}]\n\
             sign = false\nencrypt = false\n",
            certs.join("partner.cert.pem").display().to_string()
        ),
    )
    .unwrap();
    format!(
        "partners_dir = {partners:?}\n\
         [[inbound]]\ntype = \"as2\"\nname = \"as2\"\nlisten = \"127.0.0.1:{port}\"\nplain_http = true\n\
         [as2]\nname = \"edigate\"\npassphrase_file = {pass:?}\n\
         [[as2.keys]]\nkey = {key:?}\ncertificate = {cert:?}\n\
         [delivery]\nbase_delay_ms = 100\nmax_delay_ms = 400\n",
        partners = partners.display().to_string(),
        pass = certs.join("passphrase").display().to_string(),
        key = certs.join("edigate.pem").display().to_string(),
        cert = certs.join("edigate.cert.pem").display().to_string(),
    )
}

/// Runs the peer script's `command` against the daemon; one JSON line per message.
fn peer(command: &str, certs: &Path, port: u16, file: &Path, env: &[(&str, &str)]) -> Vec<Value> {
    run_peer(
        command,
        certs,
        &format!("http://127.0.0.1:{port}/"),
        file,
        env,
    )
}

/// What is wrong with one combination's answer, as pyas2lib saw it.
fn mdn_problems(v: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let name = v["name"].as_str().unwrap();
    if v["http"] != 200 {
        problems.push(format!("HTTP {} ({})", v["http"], v["status"]));
        return problems;
    }
    match v["mdn"].as_str().unwrap() {
        "none" => {
            if v["status"] != "no-mdn" {
                problems.push(format!("no MDN asked for, got {}", v["status"]));
            }
        }
        _ => {
            if v["status"] != "processed" {
                problems.push(format!("MDN {} {}", v["status"], v["detail"]));
            }
            let signed = name.starts_with("signed/");
            // A signed message asks for a signed MDN, an unsigned one for an unsigned MDN.
            if v["mdn_signed"] != signed {
                problems.push(format!("MDN signed: {}", v["mdn_signed"]));
            }
            if signed && v["signature_verified"] != true {
                problems.push("MDN signature not verified".into());
            }
            // pyas2lib computes a MIC only for what it signs; ours must come back where it does.
            if signed && v["mic_verified"] != true {
                problems.push(format!("MIC: sent {}, returned {}", v["mic"], v["mdn_mic"]));
            }
            // Unsigned, pyas2lib has no MIC; the script recomputes it over the payload entity as
            // received (decrypted, decompressed), the rule crates/as2 follows both ways.
            if !signed && !v["mdn_mic"].is_null() && v["mic_verified"] != true {
                problems.push(format!(
                    "MIC of an unsigned message: expected {}, returned {}",
                    v["mic_expected"], v["mdn_mic"]
                ));
            }
        }
    }
    problems
}

/// The example order with control numbers and PO number `n` of its own (as the script does).
fn order(certs: &Path, n: u32) -> PathBuf {
    let text = String::from_utf8(support::example("order-850.x12")).unwrap();
    assert_eq!(text.matches("731").count(), 4, "ISA13, GS06, GE02, IEA02");
    let text = text
        .replace("000000731", &format!("{n:09}"))
        .replace("731", &n.to_string())
        .replace("PO-2026-0042", &format!("PO-MX-{n:03}"));
    let f = certs.join(format!("po-mx-{n:03}.x12"));
    fs::write(&f, text).unwrap();
    f
}

/// The group control numbers (GS06) the partner's 997/999s acknowledge, from their AK1s.
fn acknowledged_groups(files: &[(String, String, String)]) -> BTreeMap<u32, usize> {
    let mut groups = BTreeMap::new();
    for (partner, name, content) in files {
        if partner != "acme-retail" || !name.starts_with("functional") {
            continue;
        }
        for seg in content.split('~') {
            let els: Vec<&str> = seg.trim().split('*').collect();
            if els[0] == "AK1" && els.len() > 2 {
                *groups.entry(els[2].parse().unwrap()).or_insert(0) += 1;
            }
        }
    }
    groups
}

fn po_number(n: u32) -> String {
    format!("PO-MX-{n:03}")
}

#[test]
fn every_pyas2lib_combination_is_taken_answered_and_processed_once() {
    let certs = certificates("matrix");
    let port = free_port();
    let daemon = Daemon::start("as2-matrix", &config(&certs, port));
    let verdicts = peer("matrix", &certs, port, &order(&certs, 1), &[]);
    assert_eq!(verdicts.len(), COMBINATIONS, "{verdicts:?}");
    let names: BTreeSet<&str> = verdicts
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), COMBINATIONS, "every combination once");

    let mut failures: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for v in &verdicts {
        let problems = mdn_problems(v);
        if !problems.is_empty() {
            failures.insert(v["name"].as_str().unwrap().to_owned(), problems);
        }
    }

    // Every combination that was taken makes its event and its acknowledgement.
    let expected = verdicts.iter().filter(|v| v["http"] == 200).count();
    // Not `wait_until`: a shortfall is reported per combination below, not as a timeout.
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(30)
        && (daemon.events().len() < expected
            || acknowledged_groups(&daemon.outbound_files())
                .values()
                .sum::<usize>()
                < expected)
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // The control: signed with a stranger's key, refused with a negative MDN.
    let control = po_number(999);
    let stranger_key = certs.join("stranger.pem").display().to_string();
    let refused = peer(
        "send",
        &certs,
        port,
        &order(&certs, 999),
        &[("AS2_SIGN_WITH", stranger_key.as_str())],
    );
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["status"], "processed/error", "{refused:?}");
    assert_eq!(refused[0]["detail"], "authentication-failed", "{refused:?}");
    // An event would have come as quickly as the matrix's did.
    std::thread::sleep(std::time::Duration::from_millis(500));

    let data = daemon.stop();
    let events = data.events();
    let mut events_by_po: BTreeMap<String, usize> = BTreeMap::new();
    for e in &events {
        assert_eq!(e["partner"], "acme-retail", "{e}");
        let po = e["data"]["order_number"].as_str().unwrap_or("").to_owned();
        *events_by_po.entry(po).or_insert(0) += 1;
    }
    let acks = acknowledged_groups(&data.outbound_files());
    for v in &verdicts {
        let name = v["name"].as_str().unwrap();
        let po = v["po"].as_str().unwrap();
        let n: u32 = po.trim_start_matches("PO-MX-").parse().unwrap();
        let mut problems = Vec::new();
        match events_by_po.get(po).copied().unwrap_or(0) {
            1 => {}
            k => problems.push(format!("{k} events for {po}")),
        }
        match acks.get(&n).copied().unwrap_or(0) {
            1 => {}
            k => problems.push(format!("{k} acknowledgements of group {n}")),
        }
        if !problems.is_empty() {
            failures
                .entry(name.to_owned())
                .or_default()
                .extend(problems);
        }
    }
    assert!(
        !events_by_po.contains_key(&control),
        "the refused control message made an event"
    );
    assert!(
        !acks.contains_key(&999),
        "the refused control was acknowledged"
    );
    assert!(
        failures.is_empty(),
        "{} of {COMBINATIONS} combinations failed:\n{}",
        failures.len(),
        failures
            .iter()
            .map(|(name, p)| format!("{name}: {}", p.join("; ")))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        events.len(),
        COMBINATIONS,
        "one event per combination, no more"
    );
}
