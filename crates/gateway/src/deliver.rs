//! The delivery worker: takes due deliveries from the outbox, hands each to its destination,
//! and records the outcome (delivered, or failed with the next attempt's time or dead letter).

use std::collections::BTreeMap;

use outbox::{Claimed, Delivery, DeliveryId, Outbox, RetryPolicy};

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
}

/// Where one partner's documents go.
pub enum PartnerOutbound {
    /// A local directory.
    Directory(OutboundDirectory),
    /// The outbox directory on the partner's SFTP server.
    Sftp(Box<crate::remote::SftpOutbox>),
}

impl Destinations {
    fn deliver(&self, d: &Delivery, payload: &[u8]) -> Result<(), DeliveryError> {
        if let Some(sink) = self.sinks.get(&d.destination) {
            return sink.deliver_with_id(d.id, payload);
        }
        match self.partners.get(&d.destination) {
            Some(PartnerOutbound::Directory(dir)) => return dir.deliver(&file_name(d), payload),
            Some(PartnerOutbound::Sftp(server)) => {
                return server.deliver(&file_name(d), payload);
            }
            None => {}
        }
        Err(DeliveryError::UnknownDestination(d.destination.clone()))
    }
}

/// The file name of an outbound document: what it is and its interchange control number, which
/// is unique per partner, so a re-delivery rewrites the same file.
fn file_name(d: &Delivery) -> String {
    let kind = d.key.rsplit(':').next().unwrap_or("document");
    let control = d.numbers.first().map_or(d.id.get(), |n| n.value);
    let ext = match d.content_kind.as_str() {
        "application/edi-x12" => "x12",
        "application/edifact" => "edi",
        _ => "dat",
    };
    format!("{kind}-{control:09}.{ext}")
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
    let due: Vec<_> = outbox.due(now, limit)?.iter().map(|d| d.id).collect();
    if due.is_empty() {
        return Ok(0);
    }
    let claimed = outbox.claim_many(&due, now, LEASE_MS)?;
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
    let ids: Vec<DeliveryId> = delivered.iter().map(|c| c.delivery.id).collect();
    let now = clock::now_ms();
    outbox.complete_many(&ids, now)?;
    // A completion lost to a crash only means one more delivery of the same document.
    outbox.flush()?;
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
    let result = destinations.deliver(&c.delivery, &c.payload);
    let now = clock::now_ms();
    let e = match result {
        Ok(()) => return Ok(true),
        Err(e) => e,
    };
    // A receiver that refused the delivery will refuse it again: dead-letter it now.
    let outcome = if e.is_permanent() {
        let dead_now = RetryPolicy {
            max_attempts: 1,
            ..policy.clone()
        };
        outbox.fail(c.delivery.id, &e.to_string(), now, &dead_now)?
    } else {
        outbox.fail(c.delivery.id, &e.to_string(), now, policy)?
    };
    telemetry::delivery_failed(&c.delivery, &e, &outcome, now);
    Ok(false)
}
