//! Partner insights through a running daemon: a generated history of four partners — orders
//! with values and requested dates over sixteen weeks, our responses with promised dates, our
//! shipment notices early and late, acknowledgements on time, late and missing, a rejected file,
//! a partner whose orders halve and one that goes quiet — fed as files and outbound requests.
//! The report (`edigate partners report`, JSON, CSV and the HTML page rendered in headless
//! Chromium) must hold the figures this test computes from the history it generated, and the
//! early warnings must name exactly the halved and the quiet partner, in `edigate status`, in
//! `/metrics` and in the alert the alerting rules queue.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use support::{Daemon, wait_until};

const TOKEN: &str = "insights-test-token";

/// The partners: id, ISA id, currency, ack window.
const PARTNERS: [(&str, &str, &str); 4] = [
    ("alpha", "ALPHA", "EUR"),
    ("bravo", "BRAVO", "EUR"),
    ("charlie", "CHARLIE", "USD"),
    ("delta", "DELTA", "EUR"),
];

/// One generated order.
#[derive(Clone, Debug)]
struct Order {
    partner: &'static str,
    number: String,
    /// Days before today.
    ago: i32,
    /// (quantity, price in cents) per line.
    lines: Vec<(u64, u64)>,
    /// Days after the order date.
    requested_after: i32,
    /// Our response: days after the order, promised delivery days after the order.
    response: Option<(i32, i32)>,
    /// Our shipment notice, days after the order.
    shipped_after: Option<i32>,
}

impl Order {
    fn cents(&self) -> u64 {
        self.lines.iter().map(|(q, p)| q * p).sum()
    }
}

/// Which days (before today) each partner orders on, by the weekday residue of `ago`:
/// alpha four times a week throughout; bravo four times a week, then twice a week for the last
/// four weeks; charlie three times a week, then nothing for the last five weeks; delta twice a
/// week throughout.
fn orders_on(partner: &str, ago: i32) -> bool {
    let r = ago % 7;
    match partner {
        "alpha" => matches!(r, 1 | 3 | 5 | 6),
        "bravo" if ago >= 28 => matches!(r, 1 | 3 | 5 | 6),
        "bravo" => matches!(r, 1 | 4),
        "charlie" => ago >= 36 && matches!(r, 2 | 4 | 6),
        "delta" => matches!(r, 2 | 5),
        _ => false,
    }
}

fn history() -> Vec<Order> {
    let mut out = Vec::new();
    for (partner, _, _) in PARTNERS {
        let mut index = 0u64;
        for ago in (1..=111).rev() {
            if !orders_on(partner, ago) {
                continue;
            }
            index += 1;
            let lines = (0..1 + index % 3)
                .map(|i| ((index + i) % 7 + 1, 100 + (index * 37 + i * 11) % 900))
                .collect();
            // Alpha and delta get our responses and shipment notices for their older orders:
            // alpha's every third one shipped two days after the promise, delta's all on the
            // promised day but a day after the requested one.
            let (response, shipped_after, requested_after) = match partner {
                "alpha" if ago >= 14 => (
                    Some((1 + (index % 2) as i32, 7)),
                    Some(if index.is_multiple_of(3) { 9 } else { 6 }),
                    8,
                ),
                "delta" if ago >= 14 => (Some((1, 5)), Some(5), 4),
                _ => (None, None, 8),
            };
            out.push(Order {
                partner,
                number: format!("{}-PO-{ago}", partner.to_uppercase()),
                ago,
                lines,
                requested_after,
                response,
                shipped_after,
            });
        }
    }
    out
}

fn today() -> i32 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    (ms / 86_400_000) as i32
}

fn date(day: i32) -> String {
    insights::day::iso(day)
}

fn compact(day: i32) -> String {
    date(day).replace('-', "")
}

fn money(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn envelope(isa_id: &str, control: u64, functional: &str, version: &str, body: &str) -> String {
    let segments = body.matches('~').count() + 2;
    format!(
        "ISA*00*          *00*          *ZZ*{isa_id:<15}*ZZ*WIDGETCO       *261120*0930*^*00501*{control:09}*0*P*>~\
         GS*{functional}*{isa_id}*WIDGETCO*20261120*0930*{control}*X*{version}~\
         ST*{}*0001{}~{body}SE*{segments}*0001~GE*1*{control}~IEA*1*{control:09}~",
        if functional == "PO" { "850" } else { "999" },
        if functional == "PO" {
            ""
        } else {
            "*005010X231A1"
        },
    )
}

fn order_file(o: &Order, isa_id: &str, currency: &str, control: u64, today: i32) -> String {
    let day = today - o.ago;
    let mut body = format!(
        "BEG*00*SA*{}**{}~CUR*BY*{currency}~DTM*002*{}~",
        o.number,
        compact(day),
        compact(day + o.requested_after)
    );
    for (i, (q, p)) in o.lines.iter().enumerate() {
        body.push_str(&format!("PO1*{}*{q}*EA*{}*PE*VP*W{i}~", i + 1, money(*p)));
    }
    body.push_str(&format!("CTT*{}~", o.lines.len()));
    envelope(isa_id, control, "PO", "005010", &body)
}

fn ack_file(isa_id: &str, control: u64, group: &str, document: &str) -> String {
    let body = format!(
        "AK1*{}*{group}*005010~AK2*{document}*0001~IK5*A~AK9*A*1*1*1~",
        {
            match document {
                "855" => "PR",
                "856" => "SH",
                _ => "IN",
            }
        }
    );
    envelope(isa_id, control, "FA", "005010X231A1", &body)
}

fn partner_file(dir: &Path, id: &str, isa_id: &str, ack_within: &str) {
    std::fs::write(
        dir.join(format!("{id}.toml")),
        format!(
            "name = \"{}\"\nack_within = \"{ack_within}\"\n\n[x12]\nversion = \"005010\"\n\
             partner = {{ qualifier = \"ZZ\", id = \"{isa_id}\" }}\n\
             us = {{ qualifier = \"ZZ\", id = \"WIDGETCO\" }}\n\
             messages = [\"850\", \"855\", \"856\", \"810\"]\nack = \"999\"\nta1 = \"on_error\"\n",
            id.to_uppercase()
        ),
    )
    .unwrap();
}

fn edigate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_edigate"))
        .args(args)
        .env_remove("EDIGATE_ADMIN")
        .env_remove("EDIGATE_TOKEN")
        .output()
        .expect("edigate runs")
}

struct Api {
    url: String,
    http: reqwest::blocking::Client,
}

impl Api {
    fn post_outbound(&self, partner: &str, payload: Value) -> Value {
        let mut body = payload;
        body["partner"] = json!(partner);
        let response = self
            .http
            .post(format!("{}/v1/outbound", self.url))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap();
        let status = response.status();
        let answer: Value = serde_json::from_str(&response.text().unwrap()).unwrap();
        assert!(status.is_success(), "{status}: {answer}");
        answer
    }

    fn post(&self, path: &str) {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(TOKEN)
            .send()
            .unwrap();
        let status = response.status();
        assert!(
            status.is_success(),
            "{path}: {status} {}",
            response.text().unwrap()
        );
    }

    fn get_text(&self, path: &str) -> String {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(TOKEN)
            .send()
            .unwrap()
            .text()
            .unwrap()
    }
}

fn response_event(o: &Order, today: i32, currency: &str) -> Value {
    let (after, promised) = o.response.unwrap();
    let day = today - o.ago;
    let lines: Vec<Value> = o
        .lines
        .iter()
        .enumerate()
        .map(|(i, (q, p))| {
            json!({
                "line_number": (i + 1).to_string(),
                "status": {"kind": "accepted", "code": "IA"},
                "quantity": {"value": q.to_string(), "unit": {"code": "EA", "original": "EA"}},
                "unit_price": money(*p),
                "product": {"gtin": null, "vendor_sku": format!("W{i}"), "buyer_sku": null, "description": null},
                "scheduled_delivery_date": date(day + promised),
            })
        })
        .collect();
    json!({"type": "order.response", "data": {
        "order_number": o.number, "order_date": date(day), "response_date": date(day + after),
        "purpose": {"kind": "original", "code": "00"}, "status": {"kind": "accepted", "code": "AC"},
        "currency": currency, "parties": [], "references": [], "lines": lines,
    }})
}

fn shipment_event(o: &Order, today: i32) -> Value {
    let day = today - o.ago + o.shipped_after.unwrap();
    json!({"type": "shipment.notice", "data": {
        "shipment_id": format!("SH-{}", o.number), "ship_date": date(day),
        "estimated_delivery_date": null, "carrier": null, "order_numbers": [o.number],
        "parties": [], "references": [],
        "packages": [{"id": null, "lines": [{"line_number": "1", "order_number": o.number,
            "order_line_number": "1", "quantity": {"value": "1", "unit": {"code": "EA", "original": "EA"}},
            "product": {"gtin": null, "vendor_sku": "W0", "buyer_sku": null, "description": null}}]}],
    }})
}

fn invoice_event(number: &str, day: i32) -> Value {
    json!({"type": "invoice", "data": {
        "invoice_number": number, "invoice_date": date(day), "invoice_type": null,
        "order_number": null, "currency": "EUR", "parties": [], "references": [],
        "lines": [{"line_number": "1", "quantity": {"value": "1", "unit": {"code": "EA", "original": "EA"}},
            "unit_price": "10.00", "amount": "10.00",
            "product": {"gtin": null, "vendor_sku": "W0", "buyer_sku": null, "description": null}}],
        "totals": {"total": "10.00", "subtotal": null, "tax": null},
    }})
}

/// What the test expects of one partner, computed from the generated history.
#[derive(Debug, Default)]
struct Expected {
    documents: u64,
    orders: u64,
    lines: u64,
    cents: u64,
    judged: u64,
    on_time_promised: u64,
    late_days_promised: u64,
    on_time_requested: u64,
    late_days_requested: u64,
    response_days: Vec<i32>,
    shipment_days: Vec<i32>,
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn the_partner_report_holds_the_figures_of_the_history_fed_to_the_daemon() {
    let today = today();
    let orders = history();
    let scratch = std::env::temp_dir().join(format!("edigate-insights-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let partners_dir = scratch.join("partners");
    std::fs::create_dir_all(&partners_dir).unwrap();
    for (id, isa, _) in PARTNERS {
        partner_file(
            &partners_dir,
            id,
            isa,
            if id == "alpha" { "5s" } else { "30d" },
        );
    }
    // Alerts go to a mail server that is not there: the digest waits in the outbox, where the
    // test reads it once the daemon stopped.
    let daemon = Daemon::start(
        "insights",
        &format!(
            "partners_dir = {:?}\n[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\n\
             [alerts]\nto = [\"ops@us.example\"]\nfrom = \"edigate@us.example\"\n\
             host = \"127.0.0.1\"\nport = 9\nmin_interval_s = 1\n",
            partners_dir
        ),
    );
    let api = Api {
        url: daemon.admin_url(),
        http: reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
    };

    // The orders, one file each, then a file from delta whose 850 miscounts its segments.
    let mut control: BTreeMap<&str, u64> = BTreeMap::new();
    for o in &orders {
        let (_, isa, currency) = PARTNERS.iter().find(|p| p.0 == o.partner).unwrap();
        let n = control.entry(o.partner).or_default();
        *n += 1;
        let file = order_file(o, isa, currency, *n, today);
        daemon.drop_file(o.partner, &format!("{}.x12", o.number), file.as_bytes());
    }
    let bad = envelope(
        "DELTA",
        900,
        "PO",
        "005010",
        "BEG*00*SA*DELTA-BAD**20260101~CUR*BY*EUR~PO1*1*1*EA*1.00*PE*VP*W0~CTT*1~",
    )
    .replace("SE*6*0001~", "SE*99*0001~");
    assert!(bad.contains("SE*99*"), "{bad}");
    daemon.drop_file("delta", "bad.x12", bad.as_bytes());
    wait_until("every order translated", || {
        daemon.events().len() == orders.len()
    });

    // Our responses, then our shipment notices.
    for o in orders.iter().filter(|o| o.response.is_some()) {
        let currency = PARTNERS.iter().find(|p| p.0 == o.partner).unwrap().2;
        api.post_outbound(o.partner, response_event(o, today, currency));
    }
    for o in orders.iter().filter(|o| o.shipped_after.is_some()) {
        api.post_outbound(o.partner, shipment_event(o, today));
    }
    let sent = orders.iter().filter(|o| o.response.is_some()).count() * 2;
    wait_until("our responses and notices delivered", || {
        daemon.outbound_files().len() >= sent
    });

    // Three invoices to alpha: two acknowledged at once, one after alpha's 5 s window.
    let mut groups = Vec::new();
    for i in 0..3 {
        let answer = api.post_outbound("alpha", invoice_event(&format!("INV-{i}"), today - 1));
        groups.push(answer["control_numbers"][1].as_str().unwrap().to_owned());
    }
    wait_until("the invoices delivered", || {
        daemon
            .outbound_files()
            .iter()
            .filter(|(p, n, _)| p == "alpha" && n.contains("810"))
            .count()
            == 3
    });
    let alpha_control = control["alpha"];
    for (i, group) in groups.iter().enumerate().take(2) {
        let file = ack_file("ALPHA", alpha_control + 1 + i as u64, group, "810");
        daemon.drop_file("alpha", &format!("ack-{i}.x12"), file.as_bytes());
    }
    std::thread::sleep(Duration::from_millis(6_500));
    let file = ack_file("ALPHA", alpha_control + 3, &groups[2], "810");
    daemon.drop_file("alpha", "ack-2.x12", file.as_bytes());
    wait_until("the acknowledgements processed", || {
        daemon.inbox_is_empty()
            && processed(&api.get_text("/v1/messages?partner=alpha&type=999")) == 3
    });

    // What the report must say, from the history alone.
    let mut expected: BTreeMap<&str, Expected> = BTreeMap::new();
    for o in &orders {
        let e = expected.entry(o.partner).or_default();
        e.documents += 1;
        e.orders += 1;
        e.lines += o.lines.len() as u64;
        e.cents += o.cents();
        if let Some((after, promised)) = o.response {
            e.documents += 1;
            e.response_days.push(after);
            let shipped = o.shipped_after.unwrap();
            e.documents += 1;
            e.judged += 1;
            e.shipment_days.push(shipped);
            if shipped <= promised {
                e.on_time_promised += 1;
            } else {
                e.late_days_promised += (shipped - promised) as u64;
            }
            if shipped <= o.requested_after {
                e.on_time_requested += 1;
            } else {
                e.late_days_requested += (shipped - o.requested_after) as u64;
            }
        }
    }
    expected.get_mut("alpha").unwrap().documents += 3;

    let out = edigate(&[
        "partners", "report", "--since", "200d", "--json", "--admin", &api.url, "--token", TOKEN,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let partners = report["partners"].as_array().unwrap();
    assert_eq!(partners.len(), 4, "{report}");
    for p in partners {
        let id = p["partner"].as_str().unwrap();
        let e = &expected[id];
        let currency = PARTNERS.iter().find(|x| x.0 == id).unwrap().2;
        let v = &p["volume"];
        assert_eq!(v["documents"], e.documents, "{id} documents: {v}");
        assert_eq!(v["orders"], e.orders, "{id}");
        assert_eq!(v["order_lines"], e.lines, "{id}");
        assert_eq!(v["order_value"][currency], money(e.cents), "{id}");
        let days = report["days"].as_f64().unwrap();
        assert!(close(
            v["documents_per_day"].as_f64().unwrap(),
            e.documents as f64 / days
        ));
        let promised = &p["promises"]["promised"];
        let requested = &p["promises"]["requested"];
        let r = &p["responsiveness"];
        if e.judged == 0 {
            assert!(promised["on_time_rate"].is_null(), "{id}: {promised}");
            assert!(r["avg_response_hours"].is_null(), "{id}: {r}");
        } else {
            assert_eq!(p["promises"]["shipped"], e.judged, "{id}");
            assert_eq!(promised["judged"], e.judged, "{id}");
            assert_eq!(promised["on_time"], e.on_time_promised, "{id}");
            let rate = e.on_time_promised as f64 / e.judged as f64;
            assert!(
                close(promised["on_time_rate"].as_f64().unwrap(), rate),
                "{id}"
            );
            let late = e.judged - e.on_time_promised;
            if late > 0 {
                let avg = e.late_days_promised as f64 / late as f64;
                assert!(
                    close(promised["avg_days_late"].as_f64().unwrap(), avg),
                    "{id}"
                );
            } else {
                assert!(promised["avg_days_late"].is_null(), "{id}");
            }
            assert_eq!(requested["on_time"], e.on_time_requested, "{id}");
            let late = e.judged - e.on_time_requested;
            let avg = e.late_days_requested as f64 / late as f64;
            assert!(
                close(requested["avg_days_late"].as_f64().unwrap(), avg),
                "{id}"
            );
            let mean = |d: &[i32]| d.iter().sum::<i32>() as f64 * 24.0 / d.len() as f64;
            let hours = r["avg_response_hours"].as_f64().unwrap();
            assert!(close(hours, mean(&e.response_days)), "{id}: {hours}");
            let hours = r["avg_shipment_hours"].as_f64().unwrap();
            assert!(close(hours, mean(&e.shipment_days)), "{id}: {hours}");
        }
        let q = &p["quality"];
        let files =
            e.orders + if id == "delta" { 1 } else { 0 } + if id == "alpha" { 3 } else { 0 };
        assert_eq!(q["files"], files, "{id}: {q}");
        if id == "delta" {
            assert_eq!(q["rejected"], 1, "{q}");
            assert_eq!(q["error_codes"], json!({"message 4": 1}), "{q}");
        } else {
            assert_eq!(q["rejected"], 0, "{id}: {q}");
        }
    }
    // Alpha's acknowledgements: two on time, one late; every response and notice unacknowledged
    // past its 5 s.
    let alpha = partners.iter().find(|p| p["partner"] == "alpha").unwrap();
    let r = &alpha["responsiveness"];
    assert_eq!(r["acks"], 3, "{r}");
    assert_eq!(r["acks_late"], 1, "{r}");
    let avg = r["avg_ack_seconds"].as_f64().unwrap();
    assert!((6.5 / 3.0..30.0).contains(&avg), "{avg}");
    let alpha_sent = orders
        .iter()
        .filter(|o| o.partner == "alpha" && o.response.is_some())
        .count()
        * 2;
    assert_eq!(r["acks_overdue"], alpha_sent, "{r}");

    // Share of business in EUR: largest first, cumulative to the whole.
    let eur: Vec<(&str, u64)> = {
        let mut v: Vec<(&str, u64)> = ["alpha", "bravo", "delta"]
            .iter()
            .map(|p| (*p, expected[p].cents))
            .collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.1));
        v
    };
    let total: u64 = eur.iter().map(|e| e.1).sum();
    let share = report["share"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["currency"] == "EUR")
        .unwrap();
    assert_eq!(share["total"], money(total));
    let mut cumulative = 0.0;
    for (row, (partner, cents)) in share["ranking"].as_array().unwrap().iter().zip(&eur) {
        cumulative += *cents as f64 / total as f64;
        assert_eq!(row["partner"], *partner);
        assert_eq!(row["value"], money(*cents));
        assert!(
            close(row["cumulative"].as_f64().unwrap(), cumulative),
            "{row}"
        );
    }

    // The early warnings: exactly bravo's drop and charlie's silence.
    let warnings: BTreeSet<(String, String)> = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["partner"].as_str().unwrap().to_owned(),
                w["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String)> = [("bravo", "volume_drop"), ("charlie", "quiet")]
        .iter()
        .map(|(p, k)| ((*p).to_owned(), (*k).to_owned()))
        .collect();
    assert_eq!(warnings, want, "{}", report["warnings"]);
    // Bravo's trend: two orders a week lately against four.
    let bravo = partners.iter().find(|p| p["partner"] == "bravo").unwrap();
    assert_eq!(bravo["volume"]["trend"]["recent_weekly_orders"], 2.0);
    assert_eq!(bravo["volume"]["trend"]["usual_weekly_orders"], 4.0);

    // One partner, as a table and as CSV.
    let out = edigate(&[
        "partners",
        "report",
        "--partner",
        "delta",
        "--since",
        "200d",
        "--admin",
        &api.url,
        "--token",
        TOKEN,
    ]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{table}");
    assert!(table.contains(&money(expected["delta"].cents)), "{table}");
    assert!(table.contains("message 4: 1"), "{table}");
    // Only delta's figures; the share of business still ranks everyone.
    let volume = table.split("\n\nPromises").next().unwrap();
    assert!(
        volume.contains("delta") && !volume.contains("alpha"),
        "{table}"
    );
    let ranking = table.split("Share of business (EUR").nth(1).unwrap();
    assert!(
        ["alpha", "bravo", "delta"]
            .iter()
            .all(|p| ranking.contains(p)),
        "{table}"
    );
    let out = edigate(&[
        "partners", "report", "--csv", "--since", "200d", "--admin", &api.url, "--token", TOKEN,
    ]);
    let csv = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "{csv}");
    let bravo_line = lines.iter().find(|l| l.starts_with("bravo,")).unwrap();
    assert!(bravo_line.ends_with(",volume_drop"), "{bravo_line}");
    assert!(
        bravo_line.contains(&format!("{} EUR", money(expected["bravo"].cents))),
        "{bravo_line}"
    );

    // Processing files again, and sending again what they made, counts nothing twice.
    let list: Value =
        serde_json::from_str(&api.get_text("/v1/messages?partner=delta&limit=3")).unwrap();
    let ids: Vec<&str> = list["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{list}");
    // Replays first: a reprocessed file's new deliveries may still be in flight, which a replay
    // refuses.
    for id in &ids {
        api.post(&format!("/v1/messages/{id}/replay"));
    }
    for id in &ids {
        api.post(&format!("/v1/messages/{id}/reprocess"));
    }
    let out = edigate(&[
        "partners", "report", "--since", "200d", "--json", "--admin", &api.url, "--token", TOKEN,
    ]);
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    for (before, after) in partners.iter().zip(again["partners"].as_array().unwrap()) {
        for part in ["volume", "promises", "quality"] {
            assert_eq!(before[part], after[part], "{} {part}", before["partner"]);
        }
    }

    // `edigate status` names the two.
    let out = edigate(&["status", "--admin", &api.url, "--token", TOKEN]);
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{status}");
    assert!(
        status.contains("warning: partner bravo ordered 2.0 times a week"),
        "{status}"
    );
    assert!(
        status.contains("warning: partner charlie has sent nothing for 37 days"),
        "{status}"
    );
    assert!(!status.contains("partner delta ordered"), "{status}");

    // /metrics: the warnings and alpha's documents over the last 30 days.
    let metrics = api.get_text("/metrics");
    let sample = |name: &str, labels: &[&str]| -> f64 {
        let line = metrics
            .lines()
            .find(|l| l.starts_with(&format!("{name}{{")) && labels.iter().all(|x| l.contains(x)))
            .unwrap_or_else(|| panic!("no {name} {labels:?} in\n{metrics}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let warning = |partner: &str, kind: &str| {
        let (p, k) = (format!("partner=\"{partner}\""), format!("kind=\"{kind}\""));
        sample("edigate_partner_warning", &[&p, &k])
    };
    assert_eq!(warning("bravo", "volume_drop"), 1.0);
    assert_eq!(warning("charlie", "quiet"), 1.0);
    assert_eq!(warning("charlie", "volume_drop"), 0.0);
    assert_eq!(warning("alpha", "volume_drop"), 0.0);
    assert_eq!(warning("delta", "quiet"), 0.0);
    let alpha_recent = orders
        .iter()
        .filter(|o| o.partner == "alpha")
        .map(|o| {
            let mut days = vec![o.ago];
            if let Some((after, _)) = o.response {
                days.push(o.ago - after);
                days.push(o.ago - o.shipped_after.unwrap());
            }
            days.into_iter().filter(|ago| *ago < 30).count()
        })
        .sum::<usize>()
        + 3;
    assert_eq!(
        sample("edigate_partner_documents", &["partner=\"alpha\""]),
        alpha_recent as f64
    );

    // The HTML page, rendered by a real browser: its three charts drawn with the report's data.
    let page = scratch.join("report.html");
    let out = edigate(&[
        "partners",
        "report",
        "--since",
        "200d",
        "--html",
        page.to_str().unwrap(),
        "--admin",
        &api.url,
        "--token",
        TOKEN,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    let dom = render_in_chromium(&page, &scratch.join("chromium"));
    assert!(dom.contains("data-charts-drawn=\"3\""), "{dom}");
    let weeks = report["days"].as_u64().unwrap().div_ceil(7);
    let count = |chart: &str, class: &str| -> usize {
        let start = dom
            .find(&format!("id=\"{chart}\""))
            .unwrap_or_else(|| panic!("{chart}"));
        let end = dom[start..].find("</svg>").unwrap() + start;
        dom[start..end]
            .matches(&format!("class=\"{class}\""))
            .count()
    };
    assert_eq!(count("volume", "point"), 4 * weeks as usize);
    assert_eq!(count("volume", "series"), 4);
    assert_eq!(
        count("ontime", "bar"),
        2,
        "alpha and delta had shipments judged"
    );
    assert_eq!(
        count("share", "bar"),
        3,
        "alpha, bravo and delta order in EUR"
    );
    let e = &expected["alpha"];
    let alpha_rate = format!(
        "{:.1}%",
        e.on_time_promised as f64 * 100.0 / e.judged as f64
    );
    assert!(
        dom.contains(&format!(">{alpha_rate}<")),
        "{alpha_rate} not drawn"
    );
    let top = eur[0];
    let top_share = format!("{:.1}%", top.1 as f64 * 100.0 / total as f64);
    assert!(
        dom.contains(&format!(">{top_share} (cumulative {top_share})<")),
        "{top_share}"
    );

    // The alerting rules raised the two warnings (waiting for a mail server that is not there).
    wait_until("the conditions alert queued", || {
        api.get_text("/v1/deliveries?destination=alerts:email")
            .contains("alert:conditions:")
    });
    let data = daemon.stop();
    let outbox = data.outbox();
    let filter = outbox::DeliveryFilter {
        destination: Some("alerts:email".into()),
        ..outbox::DeliveryFilter::default()
    };
    let mut alert = String::new();
    for d in outbox.list_deliveries(&filter, 100).unwrap() {
        alert.push_str(&String::from_utf8_lossy(
            &outbox.payload(d.id).unwrap().unwrap(),
        ));
    }
    assert!(
        alert.contains("partner bravo ordered 2.0 times a week"),
        "{alert}"
    );
    assert!(
        alert.contains("partner charlie has sent nothing for 37 days"),
        "{alert}"
    );
    assert!(!alert.contains("partner alpha ordered") && !alert.contains("partner delta ordered"));
    let _ = std::fs::remove_dir_all(&scratch);
}

/// How many of the listed messages are processed.
fn processed(list: &str) -> usize {
    let list: Value = serde_json::from_str(list).unwrap();
    list["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["state"] == "processed" || m["state"]["state"] == "processed")
        .count()
}

/// The page's DOM after its scripts ran, from headless Chromium.
fn render_in_chromium(page: &Path, profile: &Path) -> String {
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok())
        .expect("chromium is not installed: run tests/peers/setup.sh");
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
