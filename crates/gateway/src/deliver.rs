//! The delivery worker: takes due deliveries from the outbox, hands each to its destination,
//! and records the outcome (delivered, or failed with the next attempt's time or dead letter).

use std::collections::BTreeMap;

use outbox::{Delivery, FailOutcome, Outbox, RetryPolicy, Step};

use crate::clock;
use crate::sinks::{DeliveryError, OutboundDirectory, Sink};

/// How long a claimed delivery is ours before another worker may take it again.
const LEASE_MS: u64 = 60_000;

/// Every destination the worker can deliver to.
pub struct Destinations {
    /// Event sinks by destination (`sink:NAME`).
    pub sinks: BTreeMap<String, Sink>,
    /// Partners' outbound directories by destination (`partner:ID`).
    pub partners: BTreeMap<String, OutboundDirectory>,
}

impl Destinations {
    fn deliver(&self, d: &Delivery, payload: &[u8]) -> Result<(), DeliveryError> {
        if let Some(sink) = self.sinks.get(&d.destination) {
            return sink.deliver(payload);
        }
        if let Some(dir) = self.partners.get(&d.destination) {
            return dir.deliver(&file_name(d), payload);
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

/// Delivers what is due now; returns how many deliveries were attempted.
pub fn run_due(
    outbox: &Outbox,
    destinations: &Destinations,
    policy: &RetryPolicy,
    limit: usize,
) -> Result<usize, outbox::Error> {
    let now = clock::now_ms();
    let due = outbox.due(now, limit)?;
    let mut attempted = 0;
    for d in due {
        let Some(claimed) = outbox.claim(d.id, now, LEASE_MS)? else {
            continue;
        };
        attempted += 1;
        let result = destinations.deliver(&claimed.delivery, &claimed.payload);
        let now = clock::now_ms();
        match result {
            Ok(()) => {
                outbox.complete(claimed.delivery.id, now)?;
                if let Some(message) = claimed.delivery.message_id {
                    outbox.append_trace(
                        message,
                        now,
                        Step::EventDelivered {
                            delivery: claimed.delivery.id,
                        },
                        &claimed.delivery.destination,
                    )?;
                }
                tracing::debug!(delivery = %claimed.delivery.id, destination = %claimed.delivery.destination, "delivered");
            }
            Err(e) => {
                let outcome = outbox.fail(claimed.delivery.id, &e.to_string(), now, policy)?;
                match outcome {
                    FailOutcome::RetryAt(at) => tracing::warn!(
                        delivery = %claimed.delivery.id,
                        destination = %claimed.delivery.destination,
                        error = %e,
                        retry_in_ms = at.saturating_sub(now),
                        "delivery failed; will retry"
                    ),
                    FailOutcome::Dead => tracing::error!(
                        delivery = %claimed.delivery.id,
                        destination = %claimed.delivery.destination,
                        error = %e,
                        "delivery failed for good; dead-lettered"
                    ),
                }
            }
        }
    }
    Ok(attempted)
}
