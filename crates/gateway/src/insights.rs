//! Partner insights in the daemon: every document either way, every validated file and every
//! acknowledgement of ours is reduced to an [`Observation`] and added to per partner and day
//! aggregates in the outbox ([`Outbox::apply_aggregate`]) right after its transaction, once per
//! id (an event's id, a file's message and position, a delivery's), so reprocessing or replaying
//! counts nothing twice. Reports ([`report`]) and warnings read those aggregates, never the
//! documents; retention leaves them alone.
//!
//! Recording never fails processing: the aggregates are derived figures, and a failure to
//! update them is logged, not passed on.

use std::collections::{BTreeMap, BTreeSet};

use ::insights::{Direction, History, Key, Observation, Observed, Report, Thresholds};
use outbox::{Delivery, MessageId, Millis, Outbox};
use serde::Deserialize;
use validate::report::{InterchangeReport, Verdict};

/// `[insights]`: the partner report's defaults and its early warnings.
///
/// ```toml
/// [insights]
/// report_days = 90              # the report's window unless --since says otherwise
/// metrics_window_days = 30      # the window of the per-partner gauges on /metrics
/// [insights.warnings]
/// recent_weeks = 4              # the recent weeks…
/// baseline_weeks = 12           # …against the median of the weeks before them
/// drop_ratio = 0.6              # a drop: recent weekly orders below 60% of the usual week
/// min_usual_weekly_orders = 2.0 # partners ordering less than this a week are not judged
/// quiet_factor = 3.0            # quiet: no document for 3 × its usual gap…
/// min_quiet_days = 7            # …and at least 7 days
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InsightsConfig {
    /// The report's window in days, unless the request names its start.
    pub report_days: u32,
    /// The window of the per-partner gauges on `/metrics`, in days.
    pub metrics_window_days: u32,
    /// When a partner is flagged.
    pub warnings: Thresholds,
}

impl Default for InsightsConfig {
    fn default() -> Self {
        InsightsConfig {
            report_days: 90,
            metrics_window_days: 30,
            warnings: Thresholds::default(),
        }
    }
}

/// An observation and the id it is applied once under.
pub type Pending = (String, Observation);

/// A canonical event received from a partner.
pub fn inbound_event(event: &events::Event, at: Millis) -> Pending {
    (
        format!("event:{}", event.id()),
        Observation::of_event(event, Direction::Inbound, at),
    )
}

/// A document of ours queued for a partner under the outbox key `key`.
pub fn outbound_document(
    partner: &str,
    key: &str,
    payload: &events::Payload,
    at: Millis,
) -> Pending {
    (
        format!("out:{key}"),
        Observation::of_payload(partner, payload, Direction::Outbound, at),
    )
}

/// A partner's interchange (the `index`th of message `message`), as validation judged it.
pub fn validated_file(
    partner: &str,
    message: MessageId,
    index: usize,
    report: &InterchangeReport,
    at: Millis,
) -> Pending {
    let mut codes = Vec::new();
    for e in &report.errors {
        codes.push(format!("interchange {}", e.code.x12()));
    }
    let mut any_rejected = false;
    let mut all_rejected = true;
    for m in report.all_messages() {
        let rejected = m.verdict == Verdict::Rejected;
        any_rejected |= rejected;
        all_rejected &= rejected;
        for e in &m.errors {
            codes.push(format!("message {}", e.x12()));
        }
        for s in &m.segments {
            codes.push(format!("segment {}", s.code.x12()));
            for el in &s.elements {
                codes.push(format!(
                    "element {}",
                    el.code.x12(m.version.starts_with("005"))
                ));
            }
        }
    }
    let messages = report.all_messages().count();
    let rejected = report.is_rejected() || (messages > 0 && all_rejected);
    let with_errors = !codes.is_empty() || any_rejected;
    (
        format!("file:{message}:{index}"),
        Observation {
            partner: partner.to_owned(),
            at_ms: at,
            what: Observed::File {
                rejected,
                with_errors,
                codes,
            },
        },
    )
}

/// A partner's first acknowledgement of a document we sent, at `at`; late when it came more
/// than `window_ms` after the document was delivered.
pub fn acknowledgement(partner: &str, delivery: &Delivery, at: Millis, window_ms: u64) -> Pending {
    let sent = match delivery.state {
        outbox::DeliveryState::Delivered { at } => at,
        _ => delivery.created_at,
    };
    (
        format!("ack:{}", delivery.id),
        Observation {
            partner: partner.to_owned(),
            at_ms: at,
            what: Observed::Ack {
                sent_at_ms: sent,
                late: at.saturating_sub(sent) > window_ms,
            },
        },
    )
}

/// The aggregate keys of each observation, for [`updates`].
pub fn keys_of(pending: &[Pending]) -> Vec<Vec<Vec<u8>>> {
    pending
        .iter()
        .map(|(_, obs)| obs.keys().iter().map(Key::encode).collect())
        .collect()
}

/// The observations as outbox updates (id, keys), for the transaction that finishes their
/// message.
pub fn updates<'a>(
    pending: &'a [Pending],
    keys: &'a [Vec<Vec<u8>>],
) -> Vec<(&'a [u8], &'a [Vec<u8>])> {
    pending
        .iter()
        .zip(keys)
        .map(|((once, _), keys)| (once.as_bytes(), keys.as_slice()))
        .collect()
}

/// The new values of observation `index`'s aggregates from their stored ones.
pub fn apply(
    pending: &[Pending],
    index: usize,
    stored: &[Option<&[u8]>],
) -> Result<Vec<Vec<u8>>, String> {
    match pending.get(index) {
        Some((_, obs)) => ::insights::update(obs, stored).map_err(|e| e.to_string()),
        None => Err(format!("no observation {index}")),
    }
}

/// Logs the observations the outbox left out, by index.
pub fn report_failures(pending: &[Pending], failures: &[(usize, String)]) {
    for (index, error) in failures {
        if let Some((once, obs)) = pending.get(*index) {
            tracing::error!(partner = %obs.partner, id = %once, error = %error, "partner insights not updated");
        }
    }
}

/// Adds each observation to the aggregates, once per id. Failures are logged: processing goes
/// on without them.
pub fn record(outbox: &Outbox, pending: &[Pending]) {
    if pending.is_empty() {
        return;
    }
    // What one document teaches, in one transaction.
    let keys = keys_of(pending);
    let updates = updates(pending, &keys);
    let now = crate::clock::now_ms();
    let together =
        outbox.apply_aggregates(&updates, now, |index, stored| match pending.get(index) {
            Some((_, obs)) => ::insights::update(obs, stored).map_err(|e| e.to_string()),
            None => Err("no such update".to_string()),
        });
    if together.is_ok() {
        return;
    }
    // One failing update aborted the others: apply them one by one, to keep the rest.
    for (once, obs) in pending {
        let keys: Vec<Vec<u8>> = obs.keys().iter().map(Key::encode).collect();
        let applied = outbox.apply_aggregate(once.as_bytes(), &keys, now, |stored| {
            ::insights::update(obs, stored)
        });
        if let Err(e) = applied {
            tracing::error!(partner = %obs.partner, id = %once, error = %e, "partner insights not updated");
        }
    }
}

fn corrupt(e: ::insights::Error) -> outbox::Error {
    outbox::Error::Corrupt {
        tree: "aggregates",
        detail: e.to_string(),
    }
}

/// Every partner's stored days (or one partner's).
pub fn histories(
    outbox: &Outbox,
    partner: Option<&str>,
) -> Result<BTreeMap<String, History>, outbox::Error> {
    let mut out: BTreeMap<String, History> = BTreeMap::new();
    for (key, value) in outbox.aggregates(&Key::day_prefix(partner))? {
        let (p, day) = Key::decode_day(&key).map_err(corrupt)?;
        let stats = ::insights::record::decode_day(&value).map_err(corrupt)?;
        out.entry(p).or_default().insert(day, stats);
    }
    Ok(out)
}

/// What a report is asked for.
#[derive(Debug, Clone, Default)]
pub struct ReportRequest {
    /// Only this partner's figures and warnings (the ranking still ranks everyone).
    pub partner: Option<String>,
    /// The window's start (ms since the epoch); `None`: `report_days` back.
    pub since: Option<Millis>,
}

/// The report at `now` over the stored aggregates of `partners` (and any other partner with
/// history).
pub fn report(
    outbox: &Outbox,
    partners: &partner::Partners,
    config: &InsightsConfig,
    request: &ReportRequest,
    now: Millis,
) -> Result<Report, outbox::Error> {
    let today = ::insights::day::of_millis(now);
    let since = match request.since {
        Some(ms) => ::insights::day::of_millis(ms).min(today),
        None => today - i32::try_from(config.report_days.max(1)).unwrap_or(90) + 1,
    };
    let mut overdue_acks: BTreeMap<String, u64> = BTreeMap::new();
    for o in crate::reconcile::overdue(outbox, partners, now)? {
        *overdue_acks.entry(o.partner).or_default() += 1;
    }
    let ctx = ::insights::Context {
        today,
        since,
        names: partners
            .all()
            .iter()
            .map(|p| (p.id.clone(), p.name.clone()))
            .collect(),
        overdue_acks,
        watched: partners
            .all()
            .iter()
            .filter(|p| p.expect_within.is_some())
            .map(|p| p.id.clone())
            .collect::<BTreeSet<_>>(),
        thresholds: config.warnings.clone(),
    };
    let mut report = ::insights::report::report(&histories(outbox, None)?, &ctx);
    if let Some(only) = &request.partner {
        report.partners.retain(|p| &p.partner == only);
        report.warnings.retain(|w| &w.partner == only);
    }
    Ok(report)
}

/// The early warnings standing at `now`.
pub fn warnings(
    outbox: &Outbox,
    partners: &partner::Partners,
    config: &InsightsConfig,
    now: Millis,
) -> Result<Vec<::insights::Warning>, outbox::Error> {
    let request = ReportRequest {
        partner: None,
        since: Some(now),
    };
    Ok(report(outbox, partners, config, &request, now)?.warnings)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_document_counts_once_however_often_it_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let payload: events::Payload = serde_json::from_value(serde_json::json!({
            "type": "invoice",
            "data": {
                "invoice_number": "INV-1", "invoice_date": "2026-03-02", "invoice_type": null,
                "order_number": "PO-1", "currency": "EUR", "parties": [], "references": [],
                "lines": [], "totals": {"total": "10.00", "subtotal": null, "tax": null}
            }
        }))
        .unwrap();
        let pending = outbound_document("acme", "out:acme:k:810", &payload, 5);
        record(&outbox, &[pending.clone(), pending.clone()]);
        record(&outbox, &[pending]);
        let h = histories(&outbox, Some("acme")).unwrap();
        let day = ::insights::day::from_ymd(2026, 3, 2);
        assert_eq!(h["acme"][&day].outbound["invoice"], 1);
        assert!(histories(&outbox, Some("acm")).unwrap().is_empty());
    }
}
