//! The outbound path: a business event from the ERP (an `order.response`, `shipment.notice` or
//! `invoice`) becomes the partner's EDI and is queued for delivery to the partner.
//!
//! In order: the partner and its identities → the document written with the partner's mapping
//! (placeholder control numbers) → validated against the specs, so an invalid document is
//! refused to the caller instead of sent → enqueued with real control numbers, assigned in the
//! same transaction that stores it, and delivered like an acknowledgement (to the partner's
//! outbound directory or SFTP server). The same request sent again (same key) is the same
//! delivery, not a second document.

use edi::Delimiters;
use events::Payload;
use mapping::outbound::{ComposeError, Envelope, compose};
use mapping::spec::Syntax;
use outbox::{CounterKey, CounterKind, Enqueued, NewDelivery, Outbox};
use partner::{Exchange, Partner, Partners};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::clock;
use crate::pipeline::partner_destination;

/// The counters purpose shared with acknowledgements: one ISA13/UNB sequence per partner.
const OUTBOUND: &str = "outbound";

/// Why an event was not queued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboundError {
    /// The body is not an event of a known type.
    #[error("not an outbound event: {0}")]
    Body(String),
    /// No partner has this id.
    #[error("no partner {0:?}")]
    UnknownPartner(String),
    /// The partner file does not say who we are toward the partner.
    #[error(
        "partner {0:?} has no `us` identity in its partner file: outbound documents need our ISA/UNB id"
    )]
    NoIdentity(String),
    /// The partner file does not list the message among those exchanged.
    #[error(
        "partner {partner:?} does not exchange {message} (its partner file lists {exchanged}): add it to `messages` to send it"
    )]
    NotExchanged {
        /// The partner.
        partner: String,
        /// The message type the event would be.
        message: String,
        /// What the partner file lists.
        exchanged: String,
    },
    /// The mapping cannot write the event.
    #[error("partner {partner:?}: {source}")]
    Compose {
        /// The partner.
        partner: String,
        /// Why.
        source: ComposeError,
    },
    /// What the mapping wrote does not validate; it is not sent.
    #[error(
        "partner {partner:?}: the {message} written does not validate, so it is not sent: {findings}"
    )]
    Invalid {
        /// The partner.
        partner: String,
        /// The message type.
        message: String,
        /// The findings, for a person.
        findings: String,
    },
    /// The outbox failed.
    #[error(transparent)]
    Outbox(#[from] outbox::Error),
}

impl OutboundError {
    /// Whether the caller's request is at fault (as opposed to the gateway).
    pub fn is_request_error(&self) -> bool {
        !matches!(self, OutboundError::Outbox(_))
    }
}

/// What the ERP sends: an event's `type` and `data`, the partner it goes to, and optionally a
/// key of its own that makes a re-send the same delivery (else the document's content is).
#[derive(Debug, Deserialize)]
pub struct OutboundRequest {
    /// The partner, by the gateway's id for it.
    pub partner: String,
    /// An idempotency key: the same key is the same document.
    #[serde(default)]
    pub key: Option<String>,
    /// `type` and `data`.
    #[serde(flatten)]
    pub payload: Payload,
}

/// A queued outbound document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queued {
    /// The delivery that carries it.
    pub delivery: u64,
    /// Its outbox key.
    pub key: String,
    /// The partner.
    pub partner: String,
    /// The event type.
    pub event_type: String,
    /// The message type written (`855`, `DESADV`).
    pub message: String,
    /// ISA13 / UNB 0020, GS06 (X12), ST02 / UNH 0062.
    pub control_numbers: Vec<String>,
    /// False when the same document was already queued (a re-send of the same key).
    pub created: bool,
}

/// Turns events into partners' EDI and queues them.
#[derive(Debug, Clone)]
pub struct OutboundDocuments {
    partners: Partners,
    specs: validate::Specs,
    outbox: Outbox,
}

impl OutboundDocuments {
    /// Over the daemon's partners, specs and outbox.
    pub fn new(partners: Partners, specs: validate::Specs, outbox: Outbox) -> Self {
        OutboundDocuments {
            partners,
            specs,
            outbox,
        }
    }

    /// The partners documents go to.
    pub fn partners(&self) -> &Partners {
        &self.partners
    }

    /// Parses a request body (JSON) and queues its document.
    pub fn queue_json(&self, body: &[u8]) -> Result<Queued, OutboundError> {
        let request: OutboundRequest =
            serde_json::from_slice(body).map_err(|e| OutboundError::Body(e.to_string()))?;
        self.queue(&request)
    }

    /// Writes the request's event as its partner's EDI, validates it, and queues it.
    pub fn queue(&self, request: &OutboundRequest) -> Result<Queued, OutboundError> {
        let partner = self
            .partners
            .get(&request.partner)
            .ok_or_else(|| OutboundError::UnknownPartner(request.partner.clone()))?;
        let event_type = request.payload.event_type().as_str().to_owned();
        let stamp = clock::ack_timestamp();
        let template = envelope(partner, &stamp.date, &stamp.time)?;
        let compose_err = |source| OutboundError::Compose {
            partner: partner.id.clone(),
            source,
        };
        let message = mapping::outbound::find(
            &partner.mappings,
            &request.payload,
            template.syntax,
            &template.version,
        )
        .map(|m| m.message.clone())
        .ok_or_else(|| {
            compose_err(ComposeError::NoMapping {
                document: event_type.clone(),
                syntax: match template.syntax {
                    Syntax::X12 => "x12",
                    Syntax::Edifact => "edifact",
                },
                version: template.version.clone(),
            })
        })?;
        let exchanged = partner.exchange.messages();
        if !exchanged.is_empty() && !exchanged.contains(&message) {
            return Err(OutboundError::NotExchanged {
                partner: partner.id.clone(),
                message,
                exchanged: exchanged.join(", "),
            });
        }
        // The message type last: the outbound file name's {kind} and {type} are read from it.
        let key = format!(
            "out:{}:{}:{message}",
            partner.id,
            match &request.key {
                Some(k) => k.clone(),
                None => content_key(&request.payload),
            }
        );
        // A re-send of a queued document is that document: its bytes carry the time they were
        // first written, so they are not written again.
        if let Some(existing) = self.outbox.delivery_by_key(&key)? {
            return Ok(Queued {
                delivery: existing.id.get(),
                key,
                partner: partner.id.clone(),
                event_type,
                message,
                control_numbers: existing
                    .numbers
                    .iter()
                    .map(|n| n.value.to_string())
                    .collect(),
                created: false,
            });
        }
        // A dry run with placeholder numbers: a document that cannot be written, or does not
        // validate, takes no control number.
        let trial = compose(&partner.mappings, &request.payload, &template).map_err(compose_err)?;
        check(&self.specs, partner, &trial)?;
        let counters: Vec<CounterKey> = match template.syntax {
            Syntax::X12 => vec![CounterKind::Isa13, CounterKind::Gs06, CounterKind::St02],
            Syntax::Edifact => vec![CounterKind::Unb0020, CounterKind::Unh0062],
        }
        .into_iter()
        .map(|k| CounterKey::new(OUTBOUND, k))
        .collect();
        let content_type = match template.syntax {
            Syntax::X12 => "application/edi-x12",
            Syntax::Edifact => "application/edifact",
        };
        let delivery = NewDelivery::new(
            partner_destination(&partner.id),
            key.clone(),
            content_type,
            clock::now_ms(),
        )
        .expect_acknowledgement();
        let Enqueued { delivery, created } =
            self.outbox
                .enqueue_outbound(&partner.id, &counters, delivery, |numbers| {
                    let mut env = template.clone();
                    match template.syntax {
                        Syntax::X12 => {
                            env.interchange_control = numbers.first().copied().unwrap_or(0);
                            env.group_control = numbers.get(1).copied().unwrap_or(0);
                            env.message_control = numbers.get(2).copied().unwrap_or(0);
                        }
                        Syntax::Edifact => {
                            env.interchange_control = numbers.first().copied().unwrap_or(0);
                            env.message_control = numbers.get(1).copied().unwrap_or(0);
                        }
                    }
                    compose(&partner.mappings, &request.payload, &env)
                })?;
        let control_numbers: Vec<String> = delivery
            .numbers
            .iter()
            .map(|n| n.value.to_string())
            .collect();
        if created {
            crate::telemetry::outbound_document(&partner.id, &message);
        }
        crate::insights::record(
            &self.outbox,
            &[crate::insights::outbound_document(
                &partner.id,
                &key,
                &request.payload,
                clock::now_ms(),
            )],
        );
        tracing::info!(
            partner = %partner.id,
            event_type = %event_type,
            message = %message,
            delivery = delivery.id.get(),
            control = control_numbers.first().map(String::as_str).unwrap_or(""),
            "outbound document queued"
        );
        Ok(Queued {
            delivery: delivery.id.get(),
            key,
            partner: partner.id.clone(),
            event_type,
            message,
            control_numbers,
            created,
        })
    }
}

/// What an event becomes for a partner, without queueing it: the interchange written with
/// control numbers 1, validated (`edigate compose`, for onboarding a partner's mapping).
pub fn preview(
    partners: &Partners,
    specs: &validate::Specs,
    request: &OutboundRequest,
) -> Result<Vec<u8>, OutboundError> {
    let partner = partners
        .get(&request.partner)
        .ok_or_else(|| OutboundError::UnknownPartner(request.partner.clone()))?;
    let stamp = clock::ack_timestamp();
    let env = envelope(partner, &stamp.date, &stamp.time)?;
    let bytes = compose(&partner.mappings, &request.payload, &env).map_err(|source| {
        OutboundError::Compose {
            partner: partner.id.clone(),
            source,
        }
    })?;
    check(specs, partner, &bytes)?;
    Ok(bytes)
}

/// Validates a written document; returns its message type.
fn check(
    specs: &validate::Specs,
    partner: &Partner,
    bytes: &[u8],
) -> Result<String, OutboundError> {
    let invalid = |message: &str, findings: String| OutboundError::Invalid {
        partner: partner.id.clone(),
        message: message.to_owned(),
        findings,
    };
    let ics = edi::parse(bytes).map_err(|e| invalid("document", e.to_string()))?;
    let Some(ic) = ics.first() else {
        return Err(invalid("document", "nothing was written".into()));
    };
    let report = validate::validate(ic, specs);
    let message = report
        .all_messages()
        .next()
        .map(|m| m.message_type.clone())
        .unwrap_or_default();
    if report.is_clean() {
        return Ok(message);
    }
    let mut findings: Vec<String> = report
        .errors
        .iter()
        .map(|e| format!("interchange: {}", e.detail))
        .collect();
    for m in report.all_messages() {
        for s in &m.segments {
            findings.push(format!("{} at segment {}: {}", s.tag, s.position, s.detail));
            for e in &s.elements {
                findings.push(format!("{}{:02}: {}", s.tag, e.position, e.detail));
            }
        }
        for e in &m.errors {
            findings.push(format!("{e:?}"));
        }
    }
    Err(invalid(&message, findings.join("; ")))
}

/// The envelope toward `partner`, with placeholder control numbers.
fn envelope(partner: &Partner, date: &str, time: &str) -> Result<Envelope, OutboundError> {
    let no_identity = || OutboundError::NoIdentity(partner.id.clone());
    let (syntax, version, delimiters, sender, receiver, application_ids) = match &partner.exchange {
        Exchange::X12(x) => {
            let us = x.us.as_ref().ok_or_else(no_identity)?;
            (
                Syntax::X12,
                &x.version,
                Delimiters::X12_DEFAULT,
                (us.id.clone(), us.qualifier.clone()),
                (x.partner.id.clone(), x.partner.qualifier.clone()),
                Some((
                    us.gs.clone().unwrap_or_else(|| us.id.clone()),
                    x.partner.gs.clone().unwrap_or_else(|| x.partner.id.clone()),
                )),
            )
        }
        Exchange::Edifact(e) => {
            let us = e.us.as_ref().ok_or_else(no_identity)?;
            (
                Syntax::Edifact,
                &e.version,
                Delimiters::EDIFACT_DEFAULT,
                (us.id.clone(), us.qualifier.clone().unwrap_or_default()),
                (
                    e.partner.id.clone(),
                    e.partner.qualifier.clone().unwrap_or_default(),
                ),
                None,
            )
        }
    };
    Ok(Envelope {
        syntax,
        version: version.clone(),
        delimiters,
        sender,
        receiver,
        application_ids,
        date: date.to_owned(),
        time: time.to_owned(),
        interchange_control: 1,
        group_control: 1,
        message_control: 1,
        association: None,
        test: false,
    })
}

/// One event as the body of an outbound request: `partner` (else the event's own), its `type`
/// and `data`, and its `key` or `id` as the key — what `edigate send` posts and what the
/// outgoing directory queues. `naming` says, in an error, how the caller names a partner.
pub fn request_body(event: Value, partner: Option<&str>, naming: &str) -> Result<Value, String> {
    let Value::Object(map) = event else {
        return Err("not a JSON object".into());
    };
    let partner = partner
        .map(str::to_owned)
        .or_else(|| {
            map.get("partner")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .ok_or_else(|| format!("no partner: {naming}, or give the event a `partner`"))?;
    let mut body = serde_json::Map::new();
    body.insert("partner".into(), Value::String(partner));
    for field in ["type", "data"] {
        let value = map.get(field).ok_or(format!("no `{field}`"))?;
        body.insert(field.into(), value.clone());
    }
    if let Some(key) = map.get("key").or_else(|| map.get("id")) {
        body.insert("key".into(), key.clone());
    }
    Ok(Value::Object(body))
}

/// The events in a file: one JSON value (an array is many), or one per line.
pub fn events_in(text: &str) -> Result<Vec<Value>, String> {
    if let Ok(one) = serde_json::from_str::<Value>(text) {
        return Ok(match one {
            Value::Array(items) => items,
            other => vec![other],
        });
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: not JSON: {e}", i + 1)))
        .collect()
}

/// A key from the document itself, so the same event posted twice is one delivery.
fn content_key(payload: &Payload) -> String {
    let json = serde_json::to_vec(&serde_json::json!({
        "type": payload.event_type().as_str(),
        "data": payload_data(payload),
    }))
    .unwrap_or_default();
    let digest = Sha256::digest(&json);
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn payload_data(payload: &Payload) -> serde_json::Value {
    match payload {
        Payload::OrderCreated(d) | Payload::OrderChanged(d) | Payload::OrderCancelled(d) => {
            serde_json::to_value(d)
        }
        Payload::OrderResponse(d) => serde_json::to_value(d),
        Payload::ShipmentNotice(d) => serde_json::to_value(d),
        Payload::Invoice(d) => serde_json::to_value(d),
        Payload::InventoryReport(d) => serde_json::to_value(d),
        _ => Ok(serde_json::Value::Null),
    }
    .unwrap_or(serde_json::Value::Null)
}
