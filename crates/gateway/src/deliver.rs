//! The delivery worker: takes due deliveries from the outbox, hands each to its destination,
//! and records the outcome (delivered, or failed with the next attempt's time or dead letter).

use std::collections::BTreeMap;

use outbox::{Claimed, Delivery, DeliveryId, DeliveryState, Outbox, RetryPolicy};

use crate::acks::AckKind;
use crate::clock;
use crate::sinks::{DeliveryError, OutboundDirectory, Sink};
use crate::telemetry;

/// How long a claimed delivery is ours before another worker may take it again.
const LEASE_MS: u64 = 60_000;

/// Every destination the worker can deliver to.
pub struct Destinations {
    /// Event sinks by destination (`sink:NAME`).
    pub sinks: BTreeMap<String, Sink>,
    /// Where each partner's documents go, by destination (`partner:ID`).
    pub partners: BTreeMap<String, PartnerOutbound>,
    /// Each partner's outbound file name template (`[outbound] file_name`), by destination; a
    /// destination not listed gets [`partner::DEFAULT_FILE_NAME`].
    pub file_names: BTreeMap<String, String>,
    /// The operators' mailbox for alerts ([`crate::alerts::DESTINATION`]), when `[alerts]` is
    /// configured.
    pub alerts: Option<crate::email::EmailOutbox>,
    /// Where alerts are posted besides ([`crate::alerts::WEBHOOK_DESTINATION`]), when
    /// `[alerts.webhook]` is set.
    pub alerts_webhook: Option<Sink>,
    /// Posts our asynchronous AS2 MDNs ([`crate::as2_channel::mdn_destination`]), when `[as2]`
    /// is configured.
    pub as2_mdn: Option<crate::as2_outbox::MdnSender>,
}

/// Where one partner's documents go.
pub enum PartnerOutbound {
    /// A local directory.
    Directory(OutboundDirectory),
    /// The outbox directory on the partner's SFTP server.
    Sftp(Box<crate::remote::SftpOutbox>),
    /// The partner's mailbox, through an SMTP server.
    Email(Box<crate::email::EmailOutbox>),
    /// The partner's AS2 endpoint (`[as2] url`), each document checked by its MDN.
    As2(Box<crate::as2_outbox::As2Outbox>),
}

impl Destinations {
    /// The sink of `destination` when it writes a batch at once (JSON Lines).
    fn batching_sink(&self, destination: &str) -> Option<&Sink> {
        self.sinks
            .get(destination)
            .filter(|s| matches!(s, Sink::Jsonl { .. }))
    }

    /// The partner's outbound directory behind `destination`, which takes a round's documents
    /// at once.
    fn batching_directory(&self, destination: &str) -> Option<&OutboundDirectory> {
        match self.partners.get(destination) {
            Some(PartnerOutbound::Directory(dir)) => Some(dir),
            _ => None,
        }
    }

    /// Whether `destination` takes a round's deliveries at once (see `run_due`).
    fn takes_at_once(&self, destination: &str) -> bool {
        self.batching_sink(destination).is_some() || self.batching_directory(destination).is_some()
    }

    /// The file name template of the delivery's destination.
    fn template(&self, d: &Delivery) -> &str {
        self.file_names
            .get(&d.destination)
            .map_or(partner::DEFAULT_FILE_NAME, String::as_str)
    }

    fn deliver(&self, d: &Delivery, payload: &[u8]) -> Result<(), DeliveryError> {
        if let Some(sink) = self.sinks.get(&d.destination) {
            return sink.deliver_with_id(d.id, payload);
        }
        if d.destination == crate::alerts::DESTINATION
            && let Some(mailbox) = &self.alerts
        {
            return mailbox.deliver_text(d, payload);
        }
        if d.destination == crate::alerts::WEBHOOK_DESTINATION
            && let Some(hook) = &self.alerts_webhook
        {
            return hook.deliver_with_id(d.id, payload);
        }
        if d.destination.starts_with("as2-mdn:")
            && let Some(sender) = &self.as2_mdn
        {
            return sender.deliver(payload);
        }
        let Some(target) = self.partners.get(&d.destination) else {
            return Err(DeliveryError::UnknownDestination(d.destination.clone()));
        };
        let values = NameValues::of(d, payload);
        let name = render_name(d, &values, self.template(d))?;
        match target {
            PartnerOutbound::Directory(dir) => dir.deliver(&name, payload),
            PartnerOutbound::Sftp(server) => server.deliver(&name, payload),
            PartnerOutbound::Email(mailbox) => mailbox.deliver(d, &name, &values.pairs(), payload),
            // Sent by the worker itself, which holds the outbox it needs (`deliver_one`).
            PartnerOutbound::As2(_) => Err(DeliveryError::Unsendable(format!(
                "delivery {} to {}: AS2 is sent through the outbox",
                d.id, d.destination
            ))),
        }
    }
}

/// The file name of an outbound document, from the partner's template (see
/// [`partner::FILE_NAME_VARIABLES`]). Every value comes from the delivery as stored, so a
/// re-delivery writes the same name: the interchange control number is unique per partner and
/// the timestamp is when the document was made, not when it is sent.
///
/// The name passes [`sftp::file_name`]'s checks (no value may carry a path in, the result is a
/// plain file name); one that does not is refused as unsendable, since it would be refused again.
pub fn file_name(d: &Delivery, payload: &[u8], template: &str) -> Result<String, DeliveryError> {
    render_name(d, &NameValues::of(d, payload), template)
}

fn render_name(d: &Delivery, values: &NameValues, template: &str) -> Result<String, DeliveryError> {
    sftp::file_name(template, &values.pairs()).map_err(|e| {
        DeliveryError::Unsendable(format!(
            "naming delivery {} for {}: {e}",
            d.id, d.destination
        ))
    })
}

/// The values of [`partner::FILE_NAME_VARIABLES`] for one delivery (a mail's subject uses them
/// too).
struct NameValues {
    partner: String,
    document: String,
    kind: String,
    control: String,
    timestamp: String,
    ext: &'static str,
}

impl NameValues {
    fn of(d: &Delivery, payload: &[u8]) -> NameValues {
        let kind = d.key.rsplit(':').next().unwrap_or("document");
        let (ext, standard) = match d.content_kind.as_str() {
            "application/edi-x12" => ("x12", Some(edi::Standard::X12)),
            "application/edifact" => ("edi", Some(edi::Standard::Edifact)),
            _ => ("dat", None),
        };
        // The key says only "functional"; which document that is (997, 999, CONTRL) is read
        // from the bytes, the way the metrics tell them apart.
        let document = match (kind, standard) {
            ("ta1", Some(s)) => AckKind::Ta1.document(s, payload),
            ("functional", Some(s)) => AckKind::Functional.document(s, payload),
            _ => kind,
        };
        let partner = d
            .destination
            .strip_prefix("partner:")
            .or(d.partner.as_deref())
            .unwrap_or_default();
        NameValues {
            partner: partner.to_string(),
            document: document.to_string(),
            kind: kind.to_string(),
            control: format!("{:09}", d.numbers.first().map_or(d.id.get(), |n| n.value)),
            timestamp: utc_compact(d.created_at),
            ext,
        }
    }

    fn pairs(&self) -> [(&'static str, &str); 6] {
        [
            ("partner", self.partner.as_str()),
            ("type", self.document.as_str()),
            ("kind", self.kind.as_str()),
            ("control", self.control.as_str()),
            ("timestamp", self.timestamp.as_str()),
            ("ext", self.ext),
        ]
    }
}

/// `ms` since the Unix epoch as UTC `YYYYMMDDHHMMSS`.
fn utc_compact(ms: u64) -> String {
    clock::utc_at(ms, ("", "", ""))
}

/// Delivers what is due now, up to `limit` deliveries with at most `concurrency` at once per
/// destination; returns how many deliveries were attempted.
pub fn run_due(
    outbox: &Outbox,
    destinations: &Destinations,
    policy: &RetryPolicy,
    limit: usize,
    concurrency: usize,
) -> Result<usize, outbox::Error> {
    let now = clock::now_ms();
    // Deliveries whose AS2 MDN did not come in time are sent again like any failed attempt.
    for (id, outcome) in outbox.expire_awaited(now, policy)? {
        tracing::warn!(delivery = %id, outcome = ?outcome, "no MDN came before the deadline");
    }
    // Read with their payloads: each record holds its own, and every read outside a
    // transaction waits for whatever transaction runs.
    //
    // A JSON Lines sink and a local directory take their deliveries at once, from this round's
    // own workers: nothing else can take them meanwhile, so they are not claimed (a crash
    // leaves them pending, to be delivered again, as a claim would). The others are leased, and
    // their payloads read when claimed.
    let takes_at_once = |d: &Delivery| destinations.takes_at_once(&d.destination);
    let due = outbox.due_with_payloads(now, limit, takes_at_once)?;
    if due.is_empty() {
        return Ok(0);
    }
    let (at_once, leased): (Vec<_>, Vec<_>) =
        due.into_iter().partition(|(_, payload)| payload.is_some());
    let leased: Vec<DeliveryId> = leased.iter().map(|(d, _)| d.id).collect();
    let mut claimed = if leased.is_empty() {
        Vec::new()
    } else {
        outbox.claim_many(&leased, now, LEASE_MS)?
    };
    claimed.extend(
        at_once
            .into_iter()
            .filter_map(|(delivery, payload)| payload.map(|payload| Claimed { delivery, payload })),
    );
    if claimed.is_empty() {
        return Ok(0);
    }
    // What these deliveries carry (and the control numbers in them) is durable before any of it
    // leaves the gateway: one flush for the round.
    outbox.flush()?;
    // Each destination's deliveries are spread over up to `concurrency` workers: slow receivers
    // do not hold up the others, and file-system syncs running side by side share commits.
    let mut by_destination: BTreeMap<&str, Vec<&Claimed>> = BTreeMap::new();
    for c in &claimed {
        by_destination
            .entry(c.delivery.destination.as_str())
            .or_default()
            .push(c);
    }
    // Workers run on plain threads; remote destinations (SFTP) need the gateway's runtime.
    let runtime = tokio::runtime::Handle::try_current().ok();
    let runtime = &runtime;
    let results: Vec<Result<Vec<&Claimed>, outbox::Error>> = std::thread::scope(|scope| {
        let mut workers = Vec::new();
        for group in by_destination.values() {
            let per_worker = group.len().div_ceil(concurrency.max(1));
            // A JSON Lines sink takes the whole group in one append and one sync.
            if let Some(sink) = destinations.batching_sink(&group[0].delivery.destination) {
                workers.push(scope.spawn(move || {
                    let lines: Vec<&[u8]> = group.iter().map(|c| c.payload.as_slice()).collect();
                    let written = sink.deliver_lines(&lines);
                    let mut delivered = Vec::with_capacity(group.len());
                    for c in group {
                        let result = written.as_ref().map(|_| ()).map_err(|e| e.again());
                        if settle(outbox, policy, c, result)? {
                            delivered.push(*c);
                        }
                    }
                    Ok(delivered)
                }));
                continue;
            }
            if let Some(dir) = destinations.batching_directory(&group[0].delivery.destination) {
                workers.push(scope.spawn(move || {
                    let mut files = Vec::with_capacity(group.len());
                    let mut named = Vec::with_capacity(group.len());
                    for c in group {
                        let template = destinations.template(&c.delivery);
                        match file_name(&c.delivery, &c.payload, template) {
                            Ok(name) => {
                                files.push((name, c.payload.as_slice()));
                                named.push(*c);
                            }
                            Err(e) => {
                                settle(outbox, policy, c, Err(e))?;
                            }
                        }
                    }
                    let written = dir.deliver_many(&files, concurrency);
                    let mut delivered = Vec::with_capacity(named.len());
                    for (c, result) in named.into_iter().zip(written) {
                        if settle(outbox, policy, c, result)? {
                            delivered.push(c);
                        }
                    }
                    Ok(delivered)
                }));
                continue;
            }
            for chunk in group.chunks(per_worker.max(1)) {
                workers.push(scope.spawn(move || {
                    let _runtime = runtime.as_ref().map(tokio::runtime::Handle::enter);
                    let mut delivered = Vec::with_capacity(chunk.len());
                    for c in chunk {
                        if deliver_one(outbox, destinations, policy, c)? {
                            delivered.push(*c);
                        }
                    }
                    Ok(delivered)
                }));
            }
        }
        workers
            .into_iter()
            .map(|w| {
                w.join().unwrap_or_else(|_| {
                    Err(outbox::Error::Invalid("a delivery worker panicked".into()))
                })
            })
            .collect()
    });
    let mut delivered = Vec::with_capacity(claimed.len());
    for r in results {
        delivered.extend(r?);
    }
    let mut ids = Vec::with_capacity(delivered.len());
    let mut unclaimed = Vec::new();
    for c in &delivered {
        match c.delivery.state {
            DeliveryState::Pending { due_at } => unclaimed.push((c.delivery.id, due_at)),
            _ => ids.push(c.delivery.id),
        }
    }
    let now = clock::now_ms();
    // Not flushed here: a completion lost to a crash only means one more delivery of the same
    // document, and the next round's flush (or sled's own, within half a second) keeps it.
    if !ids.is_empty() {
        outbox.complete_many(&ids, now)?;
    }
    if !unclaimed.is_empty() {
        outbox.complete_unclaimed_many(&unclaimed, now)?;
    }
    for c in delivered {
        telemetry::delivered(&c.delivery, now);
    }
    Ok(claimed.len())
}

/// Attempts one delivery; true when it arrived (the caller completes it with the round's
/// others), false when it failed and was recorded as such.
fn deliver_one(
    outbox: &Outbox,
    destinations: &Destinations,
    policy: &RetryPolicy,
    c: &Claimed,
) -> Result<bool, outbox::Error> {
    if let Some(PartnerOutbound::As2(endpoint)) = destinations.partners.get(&c.delivery.destination)
    {
        let template = destinations
            .file_names
            .get(&c.delivery.destination)
            .map_or(partner::DEFAULT_FILE_NAME, String::as_str);
        let sent = file_name(&c.delivery, &c.payload, template)
            .and_then(|name| endpoint.deliver(outbox, &c.delivery, &name, &c.payload));
        return match sent {
            Ok(crate::as2_outbox::Sent::Delivered) => Ok(true),
            Ok(crate::as2_outbox::Sent::AwaitingMdn { until }) => {
                let now = clock::now_ms();
                let d = outbox.await_receipt(c.delivery.id, now, until)?;
                // Its MDN may have come while the POST was being answered.
                if matches!(d.state, outbox::DeliveryState::Delivered { .. }) {
                    telemetry::delivered(&d, now);
                }
                Ok(false)
            }
            Err(e) => settle(outbox, policy, c, Err(e)),
        };
    }
    settle(
        outbox,
        policy,
        c,
        destinations.deliver(&c.delivery, &c.payload),
    )
}

/// Records how one attempt went; true when it arrived.
fn settle(
    outbox: &Outbox,
    policy: &RetryPolicy,
    c: &Claimed,
    result: Result<(), DeliveryError>,
) -> Result<bool, outbox::Error> {
    let now = clock::now_ms();
    let e = match result {
        Ok(()) => return Ok(true),
        Err(e) => e,
    };
    // A receiver that refused the delivery will refuse it again: dead-letter it now.
    let dead_now = RetryPolicy {
        max_attempts: 1,
        ..policy.clone()
    };
    let policy = if e.is_permanent() { &dead_now } else { policy };
    let outcome = match c.delivery.state {
        // Taken without a claim (see `run_due`).
        DeliveryState::Pending { due_at } => {
            outbox.fail_unclaimed(c.delivery.id, due_at, &e.to_string(), now, policy)?
        }
        _ => Some(outbox.fail(c.delivery.id, &e.to_string(), now, policy)?),
    };
    if let Some(outcome) = outcome {
        telemetry::delivery_failed(&c.delivery, &e, &outcome, now);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(key: &str, content_kind: &str, control: u64) -> Delivery {
        Delivery {
            id: DeliveryId::new(7),
            message_id: None,
            partner: Some("acme-retail".into()),
            destination: "partner:acme-retail".into(),
            key: key.into(),
            content_kind: content_kind.into(),
            size: 0,
            numbers: vec![outbox::AssignedNumber {
                counter: outbox::CounterKey::new("outbound", outbox::CounterKind::Isa13),
                value: control,
            }],
            attempts: 0,
            state: outbox::DeliveryState::Pending { due_at: 0 },
            last_error: None,
            // 2026-03-04 05:06:07.890 UTC
            created_at: 1_772_600_767_890,
            cycle_started_at: 0,
            ack_expected: false,
            acknowledgements: Vec::new(),
            receipts: Vec::new(),
        }
    }

    const X12_999: &[u8] = b"ISA*00*          *00*          *ZZ*WIDGETCO       *ZZ*ACMERETAIL     *260304*0506*^*00501*000000042*0*P*:~GS*FA*W*A*20260304*0506*42*X*005010X231A1~ST*999*0001~";

    #[test]
    fn names_fill_the_template_from_the_delivery() {
        let ta1 = delivery("ack:1:0:ta1", "application/edi-x12", 42);
        let f = delivery("ack:1:0:functional", "application/edi-x12", 42);
        assert_eq!(
            file_name(&ta1, b"", partner::DEFAULT_FILE_NAME).expect("name"),
            "ta1-000000042.x12"
        );
        assert_eq!(
            file_name(&f, X12_999, partner::DEFAULT_FILE_NAME).expect("name"),
            "functional-000000042.x12"
        );
        let template = "{partner}-{type}-{control}-{timestamp}.{ext}";
        assert_eq!(
            file_name(&f, X12_999, template).expect("name"),
            "acme-retail-999-000000042-20260304050607.x12"
        );
        assert_eq!(
            file_name(&ta1, b"", template).expect("name"),
            "acme-retail-ta1-000000042-20260304050607.x12"
        );
        let contrl = delivery("ack:1:0:functional", "application/edifact", 3);
        assert_eq!(
            file_name(&contrl, b"UNB+", template).expect("name"),
            "acme-retail-contrl-000000003-20260304050607.edi"
        );
    }

    #[test]
    fn a_template_that_cannot_make_a_plain_name_is_unsendable() {
        let d = delivery("ack:1:0:ta1", "application/edi-x12", 1);
        let e = file_name(&d, b"", "{nope}.x12").expect_err("unknown");
        assert!(e.is_permanent(), "{e}");
        let e = file_name(&d, b"", "../{control}").expect_err("path");
        assert!(e.is_permanent(), "{e}");
    }
}
