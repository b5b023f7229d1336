//! `GET /metrics` on a running `edigate serve`: the token is required, the body is the
//! Prometheus text format (every line understood by a real parser, every family with its HELP
//! and TYPE), and the counters move by what the files that flowed through should make them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use prometheus_parse::{LineInfo, Scrape, Value};
use support::{Daemon, example, wait_until};

const TOKEN: &str = "metrics-test-token";

/// Every family the gateway exports once files have flowed, with its Prometheus type
/// (`edigate_translation_failures_total` only appears with a first failure).
const FAMILIES: [(&str, &str); 15] = [
    ("edigate_messages_received_total", "counter"),
    ("edigate_messages_processed_total", "counter"),
    ("edigate_interchanges_total", "counter"),
    ("edigate_transaction_sets_total", "counter"),
    ("edigate_acks_queued_total", "counter"),
    ("edigate_events_total", "counter"),
    ("edigate_deliveries_total", "counter"),
    ("edigate_delivery_latency_seconds", "histogram"),
    ("edigate_processing_seconds", "histogram"),
    ("edigate_deliveries", "gauge"),
    ("edigate_dead_letters", "gauge"),
    ("edigate_pending_messages", "gauge"),
    ("edigate_spool_bytes", "gauge"),
    ("edigate_db_bytes", "gauge"),
    ("edigate_build_info", "gauge"),
];

/// `GET /metrics` by hand: (status, content type, body).
fn get_metrics(admin: &str, token: Option<&str>) -> (u16, String, String) {
    let response = support::admin_request(admin, "GET", "/metrics", token);
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

/// One scrape: the text, and what the parser made of it.
struct Metrics {
    text: String,
    scrape: Scrape,
}

impl Metrics {
    /// Scrapes with the token; every line must be a comment, a sample or empty as the parser
    /// reads it (it skips what it does not understand, so that is checked line by line).
    fn scrape(admin: &str) -> Metrics {
        let (status, content_type, text) = get_metrics(admin, Some(TOKEN));
        assert_eq!(status, 200, "{text}");
        assert!(
            content_type.starts_with("text/plain") && content_type.contains("version=0.0.4"),
            "{content_type}"
        );
        for line in text.lines() {
            let understood =
                !matches!(LineInfo::parse(line), LineInfo::Ignored) || line.starts_with("# ");
            assert!(understood, "not Prometheus text format: {line:?}\n{text}");
        }
        let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
        Metrics { text, scrape }
    }

    /// The sum of the samples of `name` whose labels include `labels` (0 when there is none,
    /// as Prometheus reads a counter not yet created).
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.scrape
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match &s.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
                Value::Histogram(buckets) => buckets
                    .iter()
                    .find(|b| b.less_than.is_infinite())
                    .map_or(0.0, |b| b.count),
                Value::Summary(_) => panic!("{name} is a summary, not a histogram"),
            })
            .sum()
    }

    /// Whether a sample of `name` with these labels is present at all.
    fn has(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.scrape
            .samples
            .iter()
            .any(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
    }

    /// The type the sample of `name` was parsed as.
    fn kind(&self, name: &str) -> Option<&'static str> {
        self.scrape
            .samples
            .iter()
            .find(|s| s.metric == name)
            .map(|s| match s.value {
                Value::Counter(_) => "counter",
                Value::Gauge(_) => "gauge",
                Value::Histogram(_) => "histogram",
                Value::Summary(_) => "summary",
                Value::Untyped(_) => "untyped",
            })
    }

    /// HELP and TYPE lines for `name`.
    fn assert_documented(&self, name: &str, kind: &str) {
        assert!(
            self.scrape
                .docs
                .get(name)
                .is_some_and(|help| !help.is_empty()),
            "no HELP for {name}:\n{}",
            self.text
        );
        assert!(
            self.text.contains(&format!("# TYPE {name} {kind}\n")),
            "no TYPE {kind} for {name}:\n{}",
            self.text
        );
        assert_eq!(self.kind(name), Some(kind), "{name}");
    }
}

#[test]
fn metrics_move_as_files_flow() {
    let daemon = Daemon::start(
        "metrics",
        &format!("[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\n"),
    );
    let admin = daemon.admin_url();

    // The token, as for everything but /health.
    let (status, _, body) = get_metrics(&admin, None);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("Bearer"), "{body}");
    assert_eq!(get_metrics(&admin, Some("wrong")).0, 401);

    let before = Metrics::scrape(&admin);
    // Known from the configuration, so present at zero before anything happened.
    for channel in ["inbox-acme-retail", "inbox-eurofoods", "inbox-northwind"] {
        assert!(
            before.has("edigate_messages_received_total", &[("channel", channel)]),
            "{}",
            before.text
        );
    }
    assert!(before.has(
        "edigate_messages_processed_total",
        &[("partner", "acme-retail"), ("state", "quarantined")]
    ));
    assert!(before.has(
        "edigate_deliveries_total",
        &[("destination", "sink:events"), ("outcome", "dead")]
    ));
    assert_eq!(before.sum("edigate_build_info", &[]), 1.0);
    assert_eq!(before.sum("edigate_pending_messages", &[]), 0.0);
    assert!(before.sum("edigate_db_bytes", &[]) > 0.0);

    daemon.drop_file("acme-retail", "po-731.x12", &example("order-850.x12"));
    daemon.drop_file("eurofoods", "orders-0042.edi", &example("order-orders.edi"));
    daemon.drop_file("northwind", "nw-5120.x12", &example("order-850-4010.x12"));
    daemon.drop_file("northwind", "junk.x12", b"not EDI\n");
    // Four files finished, four acknowledgements and three events delivered, nothing queued.
    let mut after = Metrics::scrape(&admin);
    wait_until("the files processed and delivered", || {
        after = Metrics::scrape(&admin);
        after.sum("edigate_messages_processed_total", &[]) == 4.0
            && after.sum("edigate_deliveries_total", &[("outcome", "delivered")]) == 7.0
            && after.sum("edigate_deliveries", &[("state", "pending")]) == 0.0
            && after.sum("edigate_deliveries", &[("state", "in_flight")]) == 0.0
    });
    let moved =
        |name: &str, labels: &[(&str, &str)]| after.sum(name, labels) - before.sum(name, labels);

    // Received per channel.
    let received = "edigate_messages_received_total";
    assert_eq!(moved(received, &[("channel", "inbox-acme-retail")]), 1.0);
    assert_eq!(moved(received, &[("channel", "inbox-eurofoods")]), 1.0);
    assert_eq!(moved(received, &[("channel", "inbox-northwind")]), 2.0);

    // Finished per partner and state; the junk has no partner.
    let processed = "edigate_messages_processed_total";
    for partner in ["acme-retail", "eurofoods", "northwind"] {
        let p = [("partner", partner), ("state", "processed")];
        assert_eq!(moved(processed, &p), 1.0, "{partner}:\n{}", after.text);
    }
    assert_eq!(
        moved(processed, &[("partner", ""), ("state", "quarantined")]),
        1.0,
        "{}",
        after.text
    );
    assert_eq!(moved(processed, &[("state", "quarantined")]), 1.0);
    assert_eq!(moved(processed, &[("state", "failed")]), 0.0);
    assert_eq!(moved(processed, &[("state", "duplicate")]), 0.0);

    // Interchanges per partner and standard, and their messages by type and verdict.
    let interchanges = "edigate_interchanges_total";
    assert_eq!(
        moved(
            interchanges,
            &[("partner", "acme-retail"), ("standard", "x12")]
        ),
        1.0
    );
    assert_eq!(
        moved(
            interchanges,
            &[("partner", "eurofoods"), ("standard", "edifact")]
        ),
        1.0
    );
    assert_eq!(
        moved(
            interchanges,
            &[("partner", "northwind"), ("standard", "x12")]
        ),
        1.0
    );
    let sets = "edigate_transaction_sets_total";
    let set = |partner, kind| {
        [
            ("partner", partner),
            ("type", kind),
            ("verdict", "accepted"),
        ]
    };
    assert_eq!(
        moved(sets, &set("acme-retail", "850")),
        1.0,
        "{}",
        after.text
    );
    assert_eq!(moved(sets, &set("northwind", "850")), 1.0);
    assert_eq!(moved(sets, &set("eurofoods", "ORDERS")), 1.0);
    assert_eq!(moved(sets, &[("verdict", "rejected")]), 0.0);

    // Acknowledgements: a TA1 and a 999 for ACME (its ISA14 asks for a TA1), a 997 for the
    // 004010 Northwind order, a CONTRL for Eurofoods; all accepting.
    let acks = "edigate_acks_queued_total";
    let ack = |partner, kind| [("partner", partner), ("kind", kind), ("status", "accepted")];
    assert_eq!(
        moved(acks, &ack("acme-retail", "ta1")),
        1.0,
        "{}",
        after.text
    );
    assert_eq!(
        moved(acks, &ack("acme-retail", "999")),
        1.0,
        "{}",
        after.text
    );
    assert_eq!(moved(acks, &ack("northwind", "997")), 1.0, "{}", after.text);
    assert_eq!(
        moved(acks, &ack("eurofoods", "contrl")),
        1.0,
        "{}",
        after.text
    );
    assert_eq!(moved(acks, &[]), 4.0);

    // Events, once each whatever the number of sinks.
    let events = "edigate_events_total";
    assert_eq!(
        moved(events, &[("type", "order.created")]),
        3.0,
        "{}",
        after.text
    );
    for partner in ["acme-retail", "eurofoods", "northwind"] {
        assert_eq!(moved(events, &[("partner", partner)]), 1.0, "{partner}");
    }
    assert_eq!(moved("edigate_translation_failures_total", &[]), 0.0);

    // Deliveries: outcomes, latency, and the queue as the outbox has it.
    let deliveries = "edigate_deliveries_total";
    let outcome = |destination, outcome| [("destination", destination), ("outcome", outcome)];
    assert_eq!(moved(deliveries, &outcome("sink:events", "delivered")), 3.0);
    assert_eq!(
        moved(deliveries, &outcome("partner:acme-retail", "delivered")),
        2.0
    );
    assert_eq!(
        moved(deliveries, &outcome("partner:northwind", "delivered")),
        1.0
    );
    assert_eq!(moved(deliveries, &[("outcome", "retry")]), 0.0);
    assert_eq!(moved(deliveries, &[("outcome", "dead")]), 0.0);
    let latency = "edigate_delivery_latency_seconds";
    assert_eq!(
        moved(latency, &[("destination", "sink:events")]),
        3.0,
        "{}",
        after.text
    );
    assert_eq!(
        moved(
            "edigate_delivery_latency_seconds_count",
            &[("destination", "partner:acme-retail")]
        ),
        2.0
    );
    assert_eq!(moved("edigate_processing_seconds", &[]), 4.0);
    assert_eq!(moved("edigate_processing_seconds_count", &[]), 4.0);
    let queue = "edigate_deliveries";
    let state = |destination, state| [("destination", destination), ("state", state)];
    assert_eq!(after.sum(queue, &state("sink:events", "delivered")), 3.0);
    assert_eq!(
        after.sum(queue, &state("partner:eurofoods", "delivered")),
        1.0
    );
    assert_eq!(after.sum(queue, &state("sink:events", "dead")), 0.0);
    assert_eq!(after.sum("edigate_dead_letters", &[]), 0.0);
    assert_eq!(after.sum("edigate_pending_messages", &[]), 0.0);
    // The three EDI files went to the spool; the junk too (it was read before it was judged).
    let sizes: usize = ["order-850.x12", "order-orders.edi", "order-850-4010.x12"]
        .iter()
        .map(|f| example(f).len())
        .sum::<usize>()
        + b"not EDI\n".len();
    assert_eq!(
        moved("edigate_spool_bytes", &[]),
        sizes as f64,
        "{}",
        after.text
    );
    assert!(after.sum("edigate_db_bytes", &[]) > 0.0);

    // Every family is there now, documented and typed.
    for (name, kind) in FAMILIES {
        after.assert_documented(name, kind);
    }

    daemon.stop();
}

#[test]
fn failures_duplicates_and_dead_letters_are_counted() {
    // Never switched to accepting: every event is refused with 503.
    let (hook, _accept) = support::webhook_receiver();
    let daemon = Daemon::start(
        "metrics-failures",
        &format!(
            "[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\n\
             [delivery]\nmax_attempts = 2\nbase_delay_ms = 10\nmax_delay_ms = 20\n\
             [[sinks]]\ntype = \"webhook\"\nname = \"hook\"\nurl = \"{hook}\"\ntimeout_ms = 2000\n"
        ),
    );
    let admin = daemon.admin_url();
    let before = Metrics::scrape(&admin);

    // The same interchange twice: ACME's duplicate policy refuses the second one.
    daemon.drop_file("acme-retail", "po-731.x12", &example("order-850.x12"));
    let mut after = Metrics::scrape(&admin);
    wait_until("the first file processed", || {
        after = Metrics::scrape(&admin);
        after.sum("edigate_messages_processed_total", &[]) == 1.0
    });
    daemon.drop_file("acme-retail", "po-731-again.x12", &example("order-850.x12"));
    // One event, refused twice: one retry, then a dead letter.
    wait_until("the duplicate and the dead letter", || {
        after = Metrics::scrape(&admin);
        after.sum("edigate_messages_processed_total", &[]) == 2.0
            && after.sum("edigate_dead_letters", &[]) == 1.0
    });
    let moved =
        |name: &str, labels: &[(&str, &str)]| after.sum(name, labels) - before.sum(name, labels);

    let processed = "edigate_messages_processed_total";
    let acme = |state| [("partner", "acme-retail"), ("state", state)];
    assert_eq!(moved(processed, &acme("processed")), 1.0, "{}", after.text);
    assert_eq!(moved(processed, &acme("duplicate")), 1.0, "{}", after.text);
    // The repeat is answered with a TA1 that says no (note 025), and nothing else.
    let acks = "edigate_acks_queued_total";
    let ack = |kind, status| {
        [
            ("partner", "acme-retail"),
            ("kind", kind),
            ("status", status),
        ]
    };
    assert_eq!(moved(acks, &ack("ta1", "rejected")), 1.0, "{}", after.text);
    assert_eq!(moved(acks, &ack("ta1", "accepted")), 1.0, "{}", after.text);
    assert_eq!(moved(acks, &ack("999", "accepted")), 1.0, "{}", after.text);
    assert_eq!(moved(acks, &[]), 3.0);
    // Only the first one's message counts as validated, and only it makes an event.
    assert_eq!(moved("edigate_transaction_sets_total", &[]), 1.0);
    assert_eq!(moved("edigate_events_total", &[]), 1.0);

    let deliveries = "edigate_deliveries_total";
    let hook_outcome = |outcome| [("destination", "sink:hook"), ("outcome", outcome)];
    assert_eq!(
        moved(deliveries, &hook_outcome("retry")),
        1.0,
        "{}",
        after.text
    );
    assert_eq!(moved(deliveries, &hook_outcome("dead")), 1.0);
    assert_eq!(moved(deliveries, &hook_outcome("delivered")), 0.0);
    assert_eq!(
        after.sum(
            "edigate_deliveries",
            &[("destination", "sink:hook"), ("state", "dead")]
        ),
        1.0
    );
    assert_eq!(after.sum("edigate_dead_letters", &[]), 1.0);
    // No latency for what never arrived.
    assert_eq!(
        after.sum(
            "edigate_delivery_latency_seconds_count",
            &[("destination", "sink:hook")]
        ),
        0.0
    );

    daemon.stop();
}
