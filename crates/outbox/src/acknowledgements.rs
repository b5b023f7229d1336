//! What partners' acknowledgements said of the documents we sent them.
//!
//! A document is found again by the control numbers it was given (the partner's TA1 names our
//! ISA13, its 997/999 our GS06, its CONTRL our UNB 0020), so every number a delivery is assigned
//! is indexed; a document that expects an acknowledgement is listed as awaiting one until the
//! first arrives. Both indexes live in the `keys` tree under prefixes no idempotency key has.

use serde::{Deserialize, Serialize};

use crate::Outbox;
use crate::counters::CounterKey;
use crate::deliveries::{Delivery, load, write};
use crate::error::Result;
use crate::ids::{DeliveryId, MessageId, Millis};
use crate::store::{T, Tx, TxResult};

/// Keys of the number index: `\x01n\0partner\0purpose\0kind\0value`.
const NUMBER: &[u8] = b"\x01n\0";
/// Keys of the awaiting list: `\x01a\0` and the delivery id.
const AWAITING: &[u8] = b"\x01a\0";

/// What an acknowledgement said of a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AckOutcome {
    /// Accepted (TA1/997/999 `A`, CONTRL 7).
    Accepted,
    /// Accepted, with errors noted (`E`).
    AcceptedWithErrors,
    /// Some of it accepted (997/999 AK9 `P`).
    PartlyAccepted,
    /// Rejected (`R`, `M`, `W`, `X`; CONTRL 4).
    Rejected,
    /// Received, its content not yet judged (CONTRL 8).
    Received,
}

impl AckOutcome {
    /// The name used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            AckOutcome::Accepted => "accepted",
            AckOutcome::AcceptedWithErrors => "accepted_with_errors",
            AckOutcome::PartlyAccepted => "partly_accepted",
            AckOutcome::Rejected => "rejected",
            AckOutcome::Received => "received",
        }
    }
}

/// One acknowledgement of a document we sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    /// What it said.
    pub outcome: AckOutcome,
    /// Which acknowledgement: `ta1`, `997`, `999` or `contrl`.
    pub document: String,
    /// The codes it gave, as sent (`AK5 R 5`, `IK3 BAK 2 8`, `UCM 4 13`).
    pub codes: Vec<String>,
    /// The inbound message it came in.
    pub message: Option<MessageId>,
    /// When it was recorded.
    pub at: Millis,
}

fn number_key(partner: &str, counter: &CounterKey, value: u64) -> Vec<u8> {
    let mut key = NUMBER.to_vec();
    for part in [partner, &counter.purpose, counter.kind.name()] {
        key.extend_from_slice(part.as_bytes());
        key.push(0);
    }
    key.extend_from_slice(&value.to_be_bytes());
    key
}

fn awaiting_key(id: DeliveryId) -> Vec<u8> {
    let mut key = AWAITING.to_vec();
    key.extend_from_slice(&id.key());
    key
}

/// Indexes a new delivery that expects an acknowledgement: by its numbers, which the partner's
/// acknowledgement names, and as awaiting one. A document that expects none (an
/// acknowledgement of ours) is never looked up by number, and is not indexed.
pub(crate) fn index(tx: &Tx<'_>, d: &Delivery) -> TxResult<()> {
    if !d.ack_expected {
        return Ok(());
    }
    if let Some(partner) = &d.partner {
        for n in &d.numbers {
            // Numbers wrap around after their maximum: the latest document holds the number.
            tx.put(
                T::Keys,
                &number_key(partner, &n.counter, n.value),
                &d.id.key(),
            )?;
        }
    }
    if d.ack_expected && d.acknowledgements.is_empty() {
        tx.put(T::Keys, &awaiting_key(d.id), &[])?;
    }
    Ok(())
}

/// Removes a delivery's index entries (those still pointing at it).
pub(crate) fn unindex(tx: &Tx<'_>, d: &Delivery) -> TxResult<()> {
    if let Some(partner) = &d.partner {
        for n in &d.numbers {
            let key = number_key(partner, &n.counter, n.value);
            if tx.get_u64(T::Keys, &key)? == Some(d.id.get()) {
                tx.remove(T::Keys, &key)?;
            }
        }
    }
    tx.remove(T::Keys, &awaiting_key(d.id))
}

impl Outbox {
    /// The delivery expecting an acknowledgement that `partner`'s counter `counter` gave
    /// `value` to, if it is still kept (documents that expect none are not indexed by number).
    pub fn delivery_by_number(
        &self,
        partner: &str,
        counter: &CounterKey,
        value: u64,
    ) -> Result<Option<Delivery>> {
        match self
            .tree(T::Keys)
            .get(number_key(partner, counter, value))?
        {
            Some(id) => {
                let id = DeliveryId::new(crate::store::read_u64(T::Keys, &id)?);
                self.delivery(id)
            }
            None => Ok(None),
        }
    }

    /// Records what an acknowledgement said of a delivery; it no longer awaits one.
    pub fn acknowledge(&self, id: DeliveryId, ack: Acknowledgement) -> Result<Delivery> {
        let d = self.transact(|tx| {
            let old = load(tx, id)?;
            let mut new = old.clone();
            // The same acknowledgement processed again (after a crash) is not recorded twice.
            if !new
                .acknowledgements
                .iter()
                .any(|a| a.message == ack.message && a.document == ack.document)
                || ack.message.is_none()
            {
                new.acknowledgements.push(ack.clone());
            }
            write(tx, Some(&old), Some(&new))?;
            tx.remove(T::Keys, &awaiting_key(id))?;
            Ok(new)
        })?;
        self.commit_point()?;
        Ok(d)
    }

    /// Deliveries that expect an acknowledgement and have none yet, oldest first.
    pub fn awaiting_acknowledgement(&self) -> Result<Vec<Delivery>> {
        let mut out = Vec::new();
        for key in self.tree(T::Keys).scan_prefix(AWAITING).keys() {
            let key = key?;
            let id = DeliveryId::new(crate::store::read_u64(T::Keys, &key[AWAITING.len()..])?);
            if let Some(d) = self.delivery(id)? {
                out.push(d);
            }
        }
        Ok(out)
    }
}
