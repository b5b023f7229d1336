//! Telemetry as named events: one function per thing that happens to a file or a delivery, each
//! writing its log line and moving its metrics together, so the two never disagree and every
//! metric has one place it comes from (vector's `internal_events`, in small).
//!
//! The pipeline and the delivery worker call these functions; nothing else in the gateway
//! touches a metric. The admin API renders them at `GET /metrics` ([`Exporter::render`]) in the
//! Prometheus text format, together with gauges read from the outbox and the data directory at
//! scrape time.
//!
//! # Metrics
//!
//! Stable names, all prefixed `edigate_`. A label that would name a partner but none was
//! identified (an unreadable file, an unknown sender) is `partner=""`, which Prometheus treats as
//! no label at all.
//!
//! | name | type | labels | what |
//! |---|---|---|---|
//! | [`MESSAGES_RECEIVED`] | counter | `channel` | files taken from a channel and spooled |
//! | [`MESSAGES_PROCESSED`] | counter | `partner`, `state` | files finished: `processed`, `quarantined`, `duplicate`, `failed` |
//! | [`INTERCHANGES`] | counter | `partner`, `standard` | interchanges read (`x12`, `edifact`) |
//! | [`TRANSACTION_SETS`] | counter | `partner`, `type`, `verdict` | validated messages (`850`, `ORDERS`, …): `accepted` or `rejected` |
//! | [`ACKS_QUEUED`] | counter | `partner`, `kind`, `status` | acknowledgements queued: `ta1`, `997`, `999`, `contrl`; `accepted`, `partial`, `rejected` |
//! | [`EVENTS`] | counter | `partner`, `type` | canonical events queued (`order.created`, …), once each whatever the number of sinks |
//! | [`TRANSLATION_FAILURES`] | counter | `partner`, `type` | accepted messages that could not be translated |
//! | [`DELIVERIES`] | counter | `destination`, `outcome` | delivery attempts: `delivered`, `retry`, `dead` |
//! | [`DELIVERY_LATENCY`] | histogram | `destination` | seconds from enqueue to delivered |
//! | [`PROCESSING`] | histogram | — | seconds from a file's arrival to its final state |
//! | [`DELIVERY_QUEUE`] | gauge | `destination`, `state` | deliveries in the outbox by state (`pending`, `in_flight`, …) |
//! | [`DEAD_LETTERS`] | gauge | — | deliveries given up, waiting for an operator |
//! | [`PENDING_MESSAGES`] | gauge | — | files received but not finished |
//! | [`SPOOL_BYTES`] | gauge | — | size of `DATA/spool` (only changed day directories summed again) |
//! | [`DB_BYTES`] | gauge | — | size of the outbox database on disk |
//! | [`PARTNER_LAST_RECEIVED`] | gauge | `partner` | when the partner's latest file arrived, in seconds since the epoch |
//! | [`PARTNER_SILENT`] | gauge | `partner` | 1 when a partner with `expect_within` has sent nothing for longer than that, else 0 (see [`crate::silence`]) |
//! | [`PARTNER_DOCUMENTS`] | gauge | `partner` | documents either way over the last `[insights] metrics_window_days` (by the documents' dates; see [`crate::insights`]) |
//! | [`PARTNER_ORDER_VALUE`] | gauge | `partner`, `currency` | value of the partner's new orders over that window |
//! | [`PARTNER_ON_TIME`] | gauge | `partner` | share of its orders shipped by the promised date over that window (absent until one was judged) |
//! | [`PARTNER_FILES_REJECTED`] | gauge | `partner` | its files rejected over that window |
//! | [`PARTNER_WARNING`] | gauge | `partner`, `kind` | 1 while an early warning stands (`volume_drop`, `quiet`), else 0 |
//! | [`BUILD_INFO`] | gauge | `version` | always 1 |
//!
//! Counters start at zero with each process, as Prometheus expects (`rate()` and `increase()`
//! handle the reset); the outbox remains the record of what happened before.
//!
//! # Why the `metrics` facade and `metrics-exporter-prometheus`
//!
//! Both build on our toolchain (rust-version 1.71), the exporter without its default features
//! brings no HTTP server or TLS of its own, and its handle renders the text format for the admin
//! API's own route, so there is no second listener and no second token. The facade is
//! process-global: the first [`install`] sets the recorder, and every gateway in the process
//! shares it (one in the daemon). A hand-written registry would have been about as long as this
//! file, but would also have had to get the text format's escaping and histogram rules right.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use outbox::{Delivery, DeliveryStateKind, FailOutcome, MessageId, MessageState, Millis, Outbox};

use crate::silence::{self, Watch};

/// Files taken from a channel and spooled, by `channel`.
pub const MESSAGES_RECEIVED: &str = "edigate_messages_received_total";
/// Files finished, by `partner` and `state`.
pub const MESSAGES_PROCESSED: &str = "edigate_messages_processed_total";
/// Interchanges read, by `partner` and `standard`.
pub const INTERCHANGES: &str = "edigate_interchanges_total";
/// Validated messages (transaction sets), by `partner`, `type` and `verdict`.
pub const TRANSACTION_SETS: &str = "edigate_transaction_sets_total";
/// Acknowledgements queued, by `partner`, `kind` and `status`.
pub const ACKS_QUEUED: &str = "edigate_acks_queued_total";
/// Canonical events queued, by `partner` and `type`.
pub const EVENTS: &str = "edigate_events_total";
/// Accepted messages that could not be translated, by `partner` and `type`.
pub const TRANSLATION_FAILURES: &str = "edigate_translation_failures_total";
/// Delivery attempts, by `destination` and `outcome`.
pub const DELIVERIES: &str = "edigate_deliveries_total";
/// Seconds from enqueue to delivered, by `destination`.
pub const DELIVERY_LATENCY: &str = "edigate_delivery_latency_seconds";
/// Seconds from a file's arrival to its final state.
pub const PROCESSING: &str = "edigate_processing_seconds";
/// Deliveries in the outbox, by `destination` and `state`.
pub const DELIVERY_QUEUE: &str = "edigate_deliveries";
/// Deliveries given up.
pub const DEAD_LETTERS: &str = "edigate_dead_letters";
/// Files received but not finished.
pub const PENDING_MESSAGES: &str = "edigate_pending_messages";
/// Size of the spool directory in bytes.
pub const SPOOL_BYTES: &str = "edigate_spool_bytes";
/// Size of the outbox database on disk in bytes.
pub const DB_BYTES: &str = "edigate_db_bytes";
/// When each partner's latest file arrived, seconds since the epoch, by `partner`.
pub const PARTNER_LAST_RECEIVED: &str = "edigate_partner_last_received_timestamp_seconds";
/// 1 when a partner has sent nothing for longer than its `expect_within`, by `partner`.
pub const PARTNER_SILENT: &str = "edigate_partner_silent";
/// The running version, as a label.
pub const BUILD_INFO: &str = "edigate_build_info";
/// Documents exchanged with a partner over the insights' metrics window.
pub const PARTNER_DOCUMENTS: &str = "edigate_partner_documents";
/// The value of a partner's new orders over the window, per currency.
pub const PARTNER_ORDER_VALUE: &str = "edigate_partner_order_value";
/// The share of a partner's orders shipped by the promised date over the window.
pub const PARTNER_ON_TIME: &str = "edigate_partner_on_time_ratio";
/// A partner's files rejected over the window.
pub const PARTNER_FILES_REJECTED: &str = "edigate_partner_files_rejected";
/// 1 while an early warning about a partner stands.
pub const PARTNER_WARNING: &str = "edigate_partner_warning";
/// Counter: documents written for partners from the ERP's events and queued, by partner and
/// message type.
pub const OUTBOUND_DOCUMENTS: &str = "edigate_outbound_documents_total";
/// Counter: partners' acknowledgements matched to documents we sent, by partner and outcome.
pub const ACKNOWLEDGEMENTS: &str = "edigate_acknowledgements_received_total";
/// Gauge: documents we sent still unacknowledged past the partner's `ack_within`, by partner.
pub const ACKS_OVERDUE: &str = "edigate_acknowledgements_overdue";
/// Counter: AS2 messages partners posted to us, by partner and outcome (`accepted`,
/// `retransmission`, or the refusal's disposition modifier, `decryption-failed`, ...).
pub const AS2_MESSAGES: &str = "edigate_as2_messages_total";
/// Counter: AS2 MDNs partners answered our messages with, by partner, verdict and `via`.
pub const AS2_MDNS: &str = "edigate_as2_mdns_total";

/// Counter: mails an inbound email channel refused, by `channel` and `reason`
/// (`unknown_sender`, `wrong_partner`, `unknown_recipient`, `too_large`, `no_document`).
pub const EMAIL_REFUSED: &str = "edigate_email_refused_total";

/// How long before a sum a directory must have been last modified for that sum to be reused
/// while its modification time stays the same: file systems with coarse times (whole seconds,
/// two on FAT) would hide a change made in the same tick as the sum.
const SETTLED: Duration = Duration::from_secs(3);

/// Deliveries range from milliseconds (a local file) to hours (a partner down overnight).
const LATENCY_BUCKETS: [f64; 18] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
    3600.0, 14400.0, 86400.0,
];

/// Processing takes milliseconds; seconds mean a big file or a backlog after a restart.
const PROCESSING_BUCKETS: [f64; 15] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// The states a message ends in, as [`MESSAGES_PROCESSED`] labels them.
const FINAL_STATES: [&str; 4] = ["processed", "quarantined", "duplicate", "failed"];

/// The outcomes of a delivery attempt, as [`DELIVERIES`] labels them.
const OUTCOMES: [&str; 3] = ["delivered", "retry", "dead"];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder as the process's metrics recorder, once, and describes every
/// metric. `None` when another recorder was installed first (an application embedding the
/// gateway with its own): the events still count, into that recorder, and `/metrics` is off.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE.get_or_init(build_and_install).clone()
}

fn build_and_install() -> Option<PrometheusHandle> {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(DELIVERY_LATENCY.into()), &LATENCY_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Full(PROCESSING.into()), &PROCESSING_BUCKETS)
        });
    let builder = match builder {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "metrics are off: the histogram buckets were refused");
            return None;
        }
    };
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        tracing::warn!("another metrics recorder is installed; /metrics is off");
        return None;
    }
    describe();
    gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Some(handle)
}

fn describe() {
    describe_counter!(MESSAGES_RECEIVED, "Files taken from a channel and spooled.");
    describe_counter!(
        AS2_MESSAGES,
        "AS2 messages posted to us, by partner and outcome (accepted, retransmission, or why refused)."
    );
    describe_counter!(
        AS2_MDNS,
        "AS2 MDNs answering what we sent, by partner, verdict and via (sync or async)."
    );
    describe_counter!(
        MESSAGES_PROCESSED,
        "Files finished, by partner and final state (processed, quarantined, duplicate, failed)."
    );
    describe_counter!(INTERCHANGES, "Interchanges read, by partner and standard.");
    describe_counter!(
        TRANSACTION_SETS,
        "Validated messages (transaction sets), by partner, type and verdict."
    );
    describe_counter!(
        ACKS_QUEUED,
        "Acknowledgements queued to partners, by kind (ta1, 997, 999, contrl) and status."
    );
    describe_counter!(
        EVENTS,
        "Canonical events queued to the sinks, by partner and type."
    );
    describe_counter!(
        TRANSLATION_FAILURES,
        "Accepted messages that could not be translated into events."
    );
    describe_counter!(
        DELIVERIES,
        "Delivery attempts by destination and outcome (delivered, retry, dead)."
    );
    describe_histogram!(
        DELIVERY_LATENCY,
        "Seconds from a delivery's enqueue to its arrival, by destination."
    );
    describe_histogram!(
        PROCESSING,
        "Seconds from a file's arrival to its final state."
    );
    describe_gauge!(
        DELIVERY_QUEUE,
        "Deliveries in the outbox by destination and state, read at scrape time."
    );
    describe_gauge!(
        DEAD_LETTERS,
        "Deliveries given up, waiting for an operator."
    );
    describe_gauge!(PENDING_MESSAGES, "Files received but not yet finished.");
    describe_gauge!(SPOOL_BYTES, "Size of the spool directory in bytes.");
    describe_gauge!(DB_BYTES, "Size of the outbox database on disk in bytes.");
    describe_gauge!(
        PARTNER_LAST_RECEIVED,
        "When the partner's latest file arrived, in seconds since the Unix epoch."
    );
    describe_gauge!(
        PARTNER_SILENT,
        "1 when the partner has sent nothing for longer than its expect_within, else 0."
    );
    describe_counter!(
        OUTBOUND_DOCUMENTS,
        "Documents written for partners from the ERP's events and queued, by message type."
    );
    describe_counter!(
        ACKNOWLEDGEMENTS,
        "Partners' acknowledgements (TA1, 997/999, CONTRL) matched to documents we sent."
    );
    describe_gauge!(
        ACKS_OVERDUE,
        "Documents we sent still without an acknowledgement past the partner's ack_within."
    );
    describe_counter!(
        EMAIL_REFUSED,
        "Mails an inbound email channel refused, by channel and reason."
    );
    describe_gauge!(
        PARTNER_DOCUMENTS,
        "Documents exchanged with the partner over the insights' metrics window."
    );
    describe_gauge!(
        PARTNER_ORDER_VALUE,
        "Value of the partner's new orders over the insights' metrics window, per currency."
    );
    describe_gauge!(
        PARTNER_ON_TIME,
        "Share of the partner's orders shipped by the promised date over the window."
    );
    describe_gauge!(
        PARTNER_FILES_REJECTED,
        "The partner's files rejected over the insights' metrics window."
    );
    describe_gauge!(
        PARTNER_WARNING,
        "1 while an early warning about the partner stands (volume_drop, quiet), else 0."
    );
    describe_gauge!(
        BUILD_INFO,
        "The running edigate version, as a label; always 1."
    );
}

/// Starts the counters whose label values the configuration already names at zero, so a
/// scraper sees them (and `rate()` works) before the first file arrives.
pub fn register_known<'a>(
    channels: impl IntoIterator<Item = &'a str>,
    partners: impl IntoIterator<Item = &'a str>,
    destinations: impl IntoIterator<Item = &'a str>,
) {
    for channel in channels {
        counter!(MESSAGES_RECEIVED, "channel" => channel.to_owned()).increment(0);
    }
    for partner in std::iter::once("").chain(partners) {
        for state in FINAL_STATES {
            counter!(MESSAGES_PROCESSED, "partner" => partner.to_owned(), "state" => state)
                .increment(0);
        }
    }
    for destination in destinations {
        for outcome in OUTCOMES {
            counter!(DELIVERIES, "destination" => destination.to_owned(), "outcome" => outcome)
                .increment(0);
        }
    }
}

/// An inbound email channel refused a mail with `code`: who sent it, from where, and why.
pub fn email_refused(
    channel: &str,
    sender: &str,
    peer: std::net::IpAddr,
    code: u16,
    reason: &'static str,
    text: &str,
) {
    tracing::warn!(channel, sender, peer = %peer, code, reason, reply = text, "mail refused");
    counter!(EMAIL_REFUSED, "channel" => channel.to_owned(), "reason" => reason).increment(1);
}

/// A file was spooled and recorded.
pub fn received(channel: &str, message: MessageId, file: &str, size: u64) {
    tracing::info!(message = %message, channel, file, size, "received");
    counter!(MESSAGES_RECEIVED, "channel" => channel.to_owned()).increment(1);
}

/// A file over the size limit was moved to quarantine unread (it also ends with
/// [`message_finished`]).
pub fn oversized(channel: &str, message: MessageId, file: &str, size: u64) {
    tracing::warn!(message = %message, channel, file, size, "oversized file quarantined");
    counter!(MESSAGES_RECEIVED, "channel" => channel.to_owned()).increment(1);
}

/// An AS2 message a partner posted was taken, answered again, or refused (`outcome`).
pub fn as2_message(partner: &str, as2_message_id: &str, outcome: &str) {
    tracing::info!(partner, as2_message_id, outcome, "AS2 message answered");
    counter!(AS2_MESSAGES, "partner" => partner.to_owned(), "outcome" => outcome.to_owned())
        .increment(1);
}

/// A partner's MDN for what we sent was checked and kept.
pub fn as2_mdn(partner: &str, as2_message_id: &str, verdict: &str, via: &str) {
    tracing::info!(partner, as2_message_id, verdict, via, "AS2 MDN recorded");
    counter!(AS2_MDNS, "partner" => partner.to_owned(), "verdict" => verdict.to_owned(), "via" => via.to_owned())
        .increment(1);
}

/// A message reached its final state, and that state is recorded.
pub fn message_finished(
    message: MessageId,
    file: &str,
    partner: Option<&str>,
    state: &MessageState,
    received_at: Millis,
    now: Millis,
) {
    let label = match state {
        MessageState::Processed => {
            tracing::info!(message = %message, file, partner, state = "processed", "processed");
            "processed"
        }
        MessageState::Duplicate { of } => {
            tracing::info!(message = %message, file, partner, state = "duplicate", of = %of, "processed");
            "duplicate"
        }
        MessageState::Quarantined { reason } => {
            tracing::warn!(message = %message, file, partner, %reason, "quarantined");
            "quarantined"
        }
        MessageState::Failed { reason } => {
            tracing::error!(message = %message, file, partner, %reason, "message failed");
            "failed"
        }
        // Not a final state; nothing to count.
        MessageState::Received => return,
    };
    counter!(
        MESSAGES_PROCESSED,
        "partner" => partner.unwrap_or_default().to_owned(),
        "state" => label
    )
    .increment(1);
    histogram!(PROCESSING).record(seconds(now.saturating_sub(received_at)));
}

/// An interchange was read from a message; `partner` is whoever its envelope names, if anyone
/// we know.
pub fn interchange(
    message: MessageId,
    control: &str,
    standard: edi::Standard,
    partner: Option<&str>,
) {
    let standard = match standard {
        edi::Standard::X12 => "x12",
        edi::Standard::Edifact => "edifact",
    };
    tracing::debug!(message = %message, interchange = control, standard, partner, "interchange");
    counter!(
        INTERCHANGES,
        "partner" => partner.unwrap_or_default().to_owned(),
        "standard" => standard
    )
    .increment(1);
}

/// A message of an interchange was validated.
pub fn transaction_set(partner: &str, message_type: &str, rejected: bool) {
    counter!(
        TRANSACTION_SETS,
        "partner" => partner.to_owned(),
        "type" => bounded(message_type),
        "verdict" => if rejected { "rejected" } else { "accepted" }
    )
    .increment(1);
}

/// An acknowledgement was queued to a partner under a new control number.
pub fn ack_queued(
    message: MessageId,
    partner: &str,
    kind: &'static str,
    status: &'static str,
    control: &str,
) {
    tracing::debug!(message = %message, partner, kind, status, control, "acknowledgement queued");
    counter!(
        ACKS_QUEUED,
        "partner" => partner.to_owned(),
        "kind" => kind,
        "status" => status
    )
    .increment(1);
}

/// A document for a partner was queued.
pub fn outbound_document(partner: &str, message_type: &str) {
    counter!(OUTBOUND_DOCUMENTS, "partner" => partner.to_owned(), "type" => message_type.to_owned())
        .increment(1);
}

/// A partner's acknowledgement matched a document we sent.
pub fn acknowledgement_received(partner: &str, outcome: &'static str) {
    counter!(ACKNOWLEDGEMENTS, "partner" => partner.to_owned(), "outcome" => outcome).increment(1);
}

/// An event was queued to every sink.
pub fn event_queued(message: MessageId, partner: &str, event_type: &'static str, event: &str) {
    tracing::debug!(message = %message, partner, event_type, event, "event queued");
    counter!(EVENTS, "partner" => partner.to_owned(), "type" => event_type).increment(1);
}

/// An accepted message could not be translated; `reason` says where and why.
pub fn translation_failed(message: MessageId, partner: &str, message_type: &str, reason: &str) {
    tracing::warn!(message = %message, partner, %reason, "translation problem");
    counter!(
        TRANSLATION_FAILURES,
        "partner" => partner.to_owned(),
        "type" => bounded(message_type)
    )
    .increment(1);
}

/// A delivery arrived and its completion is recorded.
pub fn delivered(delivery: &Delivery, now: Millis) {
    tracing::debug!(delivery = %delivery.id, destination = %delivery.destination, "delivered");
    counter!(
        DELIVERIES,
        "destination" => delivery.destination.clone(),
        "outcome" => "delivered"
    )
    .increment(1);
    histogram!(DELIVERY_LATENCY, "destination" => delivery.destination.clone())
        .record(seconds(now.saturating_sub(delivery.created_at)));
}

/// A delivery attempt failed, and the outbox scheduled another or gave up.
pub fn delivery_failed(
    delivery: &Delivery,
    error: &dyn std::fmt::Display,
    outcome: &FailOutcome,
    now: Millis,
) {
    let label = match outcome {
        FailOutcome::RetryAt(at) => {
            tracing::warn!(
                delivery = %delivery.id,
                destination = %delivery.destination,
                error = %error,
                retry_in_ms = at.saturating_sub(now),
                "delivery failed; will retry"
            );
            "retry"
        }
        FailOutcome::Dead => {
            tracing::error!(
                delivery = %delivery.id,
                destination = %delivery.destination,
                error = %error,
                "delivery failed for good; dead-lettered"
            );
            "dead"
        }
    };
    counter!(
        DELIVERIES,
        "destination" => delivery.destination.clone(),
        "outcome" => label
    )
    .increment(1);
}

fn seconds(ms: Millis) -> f64 {
    ms as f64 / 1000.0
}

/// A message type as a label value: partners' data must not make new time series without
/// bound, so anything that does not look like a message type (`850`, `ORDERS`) is `other`.
fn bounded(message_type: &str) -> String {
    let ok = (1..=8).contains(&message_type.len())
        && message_type.bytes().all(|b| b.is_ascii_alphanumeric());
    if ok {
        message_type.to_owned()
    } else {
        "other".to_owned()
    }
}

/// What `GET /metrics` renders: the recorder's counters and histograms, and gauges read from the
/// outbox and the data directory at scrape time.
#[derive(Clone)]
pub struct Exporter {
    handle: PrometheusHandle,
    spool: Arc<SpoolSize>,
    watches: Arc<[Watch]>,
    /// The partners whose documents' acknowledgements are watched for lateness.
    partners: Option<Arc<partner::Partners>>,
    /// The partner insights' windows and warnings.
    insights: Arc<crate::insights::InsightsConfig>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter")
            .field("spool", &self.spool.root)
            .finish_non_exhaustive()
    }
}

impl Exporter {
    /// An exporter rendering `handle`'s metrics, with the spool at `spool_root`.
    pub fn new(handle: PrometheusHandle, spool_root: &Path) -> Exporter {
        Exporter {
            handle,
            spool: Arc::new(SpoolSize::new(spool_root)),
            watches: Arc::new([]),
            partners: None,
            insights: Arc::default(),
        }
    }

    /// The same, also reporting [`ACKS_OVERDUE`] for these partners.
    pub fn reconciling(mut self, partners: partner::Partners) -> Exporter {
        self.partners = Some(Arc::new(partners));
        self
    }

    /// The same, with the partner insights' gauges over `config`'s window (they need
    /// [`Exporter::reconciling`]'s partners).
    pub fn with_insights(mut self, config: crate::insights::InsightsConfig) -> Exporter {
        self.insights = Arc::new(config);
        self
    }

    /// The same, also reporting [`PARTNER_SILENT`] for these partners.
    pub fn watching(mut self, watches: Vec<Watch>) -> Exporter {
        self.watches = watches.into();
        self
    }

    /// Reads the gauges and renders everything in the Prometheus text format (version 0.0.4).
    /// Blocks on the outbox and the file system: call it off the async threads.
    pub fn render(&self, outbox: &Outbox) -> Result<String, outbox::Error> {
        let counts = outbox.counts()?;
        let mut dead = 0;
        for c in &counts {
            for kind in DeliveryStateKind::ALL {
                gauge!(
                    DELIVERY_QUEUE,
                    "destination" => c.destination.clone(),
                    "state" => state_label(kind)
                )
                .set(as_f64(c.get(kind)));
            }
            dead += c.dead;
        }
        gauge!(DEAD_LETTERS).set(as_f64(dead));
        gauge!(PENDING_MESSAGES).set(as_f64(outbox.pending_messages()?.len() as u64));
        gauge!(DB_BYTES).set(as_f64(outbox.size_on_disk()?));
        self.partner_gauges(outbox)?;
        match self.spool.bytes() {
            Ok(bytes) => gauge!(SPOOL_BYTES).set(as_f64(bytes)),
            // The gauge keeps its last value; the scrape still gives everything else.
            Err(e) => {
                tracing::warn!(spool = %self.spool.root.display(), error = %e, "cannot sum the spool's size");
            }
        }
        Ok(self.handle.render())
    }

    /// Drains recorded histogram samples into their buckets. The exporter buffers samples until
    /// a scrape or this, so the daemon calls it every few seconds in case nobody scrapes.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

impl Exporter {
    fn partner_gauges(&self, outbox: &Outbox) -> Result<(), outbox::Error> {
        for (partner, at) in outbox.last_received()? {
            gauge!(PARTNER_LAST_RECEIVED, "partner" => partner).set(seconds(at));
        }
        let now = crate::clock::now_ms();
        for q in silence::quiet(outbox, &self.watches, now)? {
            if q.silent {
                tracing::debug!(partner = %q.partner, quiet_for_ms = q.quiet_for_ms, "partner silent");
            }
            gauge!(PARTNER_SILENT, "partner" => q.partner).set(if q.silent { 1.0 } else { 0.0 });
        }
        if let Some(partners) = &self.partners {
            let overdue = crate::reconcile::overdue(outbox, partners, now)?;
            for p in partners.all() {
                let n = overdue.iter().filter(|o| o.partner == p.id).count();
                gauge!(ACKS_OVERDUE, "partner" => p.id.clone()).set(as_f64(n as u64));
            }
            self.insight_gauges(outbox, partners, now)?;
        }
        Ok(())
    }

    fn insight_gauges(
        &self,
        outbox: &Outbox,
        partners: &partner::Partners,
        now: Millis,
    ) -> Result<(), outbox::Error> {
        let window = u64::from(self.insights.metrics_window_days.max(1)) * 86_400_000;
        let request = crate::insights::ReportRequest {
            partner: None,
            since: Some(now.saturating_sub(window - 86_400_000)),
        };
        let report = crate::insights::report(outbox, partners, &self.insights, &request, now)?;
        for p in &report.partners {
            let partner = p.partner.clone();
            gauge!(PARTNER_DOCUMENTS, "partner" => partner.clone()).set(as_f64(p.volume.documents));
            for (currency, value) in &p.volume.order_value {
                gauge!(PARTNER_ORDER_VALUE, "partner" => partner.clone(), "currency" => currency.clone())
                    .set(value.to_f64());
            }
            if let Some(rate) = p.promises.promised.on_time_rate {
                gauge!(PARTNER_ON_TIME, "partner" => partner.clone()).set(rate);
            }
            gauge!(PARTNER_FILES_REJECTED, "partner" => partner.clone())
                .set(as_f64(p.quality.rejected));
            for kind in ["volume_drop", "quiet"] {
                let standing = report.warnings.iter().any(|w| {
                    w.partner == p.partner
                        && matches!(
                            (w.kind, kind),
                            (::insights::WarningKind::VolumeDrop, "volume_drop")
                                | (::insights::WarningKind::Quiet, "quiet")
                        )
                });
                gauge!(PARTNER_WARNING, "partner" => partner.clone(), "kind" => kind)
                    .set(if standing { 1.0 } else { 0.0 });
            }
        }
        Ok(())
    }
}

/// The outbox's state names (`in_flight`, not the display form `in flight`).
fn state_label(kind: DeliveryStateKind) -> &'static str {
    match kind {
        DeliveryStateKind::Pending => "pending",
        DeliveryStateKind::InFlight => "in_flight",
        DeliveryStateKind::Delivered => "delivered",
        DeliveryStateKind::Dead => "dead",
        DeliveryStateKind::Dropped => "dropped",
        DeliveryStateKind::AwaitingReceipt => "awaiting_receipt",
    }
}

/// Prometheus values are f64; counts and sizes stay exact up to 2^53.
fn as_f64(n: u64) -> f64 {
    n as f64
}

/// The spool's size. Walking every segment at each scrape would cost a `stat` per segment (30
/// days of them under the default retention), but segments never change once in place: a day
/// directory whose modification time is the same as when it was summed, and was already settled
/// then, still holds the same bytes. So only today's directory (and `tmp/`) is walked again.
struct SpoolSize {
    root: PathBuf,
    /// Day directory → (its modification time, when it was summed, its bytes).
    days: Mutex<HashMap<PathBuf, (SystemTime, SystemTime, u64)>>,
}

impl SpoolSize {
    fn new(root: &Path) -> SpoolSize {
        SpoolSize {
            root: root.to_path_buf(),
            days: Mutex::new(HashMap::new()),
        }
    }

    fn bytes(&self) -> io::Result<u64> {
        let mut cache = self.days.lock().unwrap_or_else(PoisonError::into_inner);
        let mut seen = HashMap::new();
        let mut total = 0u64;
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let meta = match entry.metadata() {
                Ok(m) => m,
                // Swept away meanwhile.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            if meta.is_file() {
                total = total.saturating_add(meta.len());
                continue;
            }
            if !meta.is_dir() {
                continue;
            }
            let path = entry.path();
            let now = SystemTime::now();
            // A file system without modification times gets a fresh sum every time.
            let modified = meta.modified().ok();
            let reusable = match (modified, cache.get(&path)) {
                (Some(m), Some(&(then_modified, summed_at, bytes)))
                    if m == then_modified
                        && summed_at.duration_since(m).is_ok_and(|age| age >= SETTLED) =>
                {
                    Some((summed_at, bytes))
                }
                _ => None,
            };
            // A reused sum keeps the time it was taken: it is that sum's age that counts.
            let (summed_at, bytes) = match reusable {
                Some(hit) => hit,
                None => (now, dir_bytes(&path, 2)?),
            };
            if let Some(m) = modified {
                seen.insert(path, (m, summed_at, bytes));
            }
            total = total.saturating_add(bytes);
        }
        // Days the retention sweep removed drop out of the cache here.
        *cache = seen;
        Ok(total)
    }
}

/// The bytes of the regular files under `dir`, `depth` directories down (the spool is
/// `DAY/SEGMENT` and `tmp/SEGMENT`). Symbolic links are not followed; a file the retention sweep
/// removes meanwhile counts as nothing.
fn dir_bytes(dir: &Path, depth: u32) -> io::Result<u64> {
    let mut total = 0u64;
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let kind = match entry.file_type() {
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if kind.is_dir() && depth > 0 {
            total = total.saturating_add(dir_bytes(&entry.path(), depth - 1)?);
        } else if kind.is_file() {
            match entry.metadata() {
                Ok(m) => total = total.saturating_add(m.len()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn message_types_from_partners_are_bounded_labels() {
        assert_eq!(bounded("850"), "850");
        assert_eq!(bounded("ORDERS"), "ORDERS");
        assert_eq!(bounded(""), "other");
        assert_eq!(bounded("850\"}evil"), "other");
        assert_eq!(bounded("ABCDEFGHIJ"), "other");
    }

    #[test]
    fn the_spool_size_sums_segments_and_is_cached() {
        let dir = tempfile::tempdir().unwrap();
        let day = dir.path().join("2026-01-02");
        std::fs::create_dir_all(&day).unwrap();
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        std::fs::write(day.join("a.seg"), [0u8; 100]).unwrap();
        std::fs::write(day.join("b.seg"), [0u8; 23]).unwrap();
        let size = SpoolSize::new(dir.path());
        assert_eq!(size.bytes().unwrap(), 123);
        std::fs::write(day.join("c.seg"), [0u8; 7]).unwrap();
        std::fs::write(dir.path().join("tmp").join("d.seg"), [0u8; 5]).unwrap();
        assert_eq!(
            size.bytes().unwrap(),
            135,
            "a changing directory is summed again"
        );
        assert_eq!(dir_bytes(dir.path(), 4).unwrap(), 135);
        assert_eq!(
            SpoolSize::new(&dir.path().join("missing")).bytes().unwrap(),
            0
        );

        // A settled directory's sum is reused while its time stays: shown by a stale entry
        // (same time, summed long after it) that the walk believes.
        let modified = std::fs::metadata(&day).unwrap().modified().unwrap();
        let later = modified + Duration::from_secs(60);
        size.days
            .lock()
            .unwrap()
            .insert(day.clone(), (modified, later, 1000));
        assert_eq!(size.bytes().unwrap(), 1005);
        // Not settled when summed: walked again.
        size.days
            .lock()
            .unwrap()
            .insert(day.clone(), (modified, modified, 1000));
        assert_eq!(size.bytes().unwrap(), 135);
        // Removed days drop out.
        std::fs::remove_dir_all(&day).unwrap();
        assert_eq!(size.bytes().unwrap(), 5);
        assert_eq!(size.days.lock().unwrap().len(), 1);
    }
}
