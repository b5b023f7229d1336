//! Transfers that are answered with a signed receipt (AS2 messages and their MDNs), both ways.
//!
//! Inbound, a partner's message reference (its AS2 `Message-ID`) is claimed in the same
//! transaction that records the received file, so a retransmission — the partner never got our
//! answer — is recognised after any crash, and the answer we gave is kept to be sent again.
//!
//! Outbound, what was sent for a delivery (its [`Transmission`]: reference, the check value the
//! receipt must return, the exact header fields and body) is kept so a retry sends the very same
//! message again and a receipt arriving on its own, even late, finds its delivery by reference.
//! Receipts are recorded against their delivery with their raw bytes, as evidence.

use serde::{Deserialize, Serialize};

use crate::Outbox;
use crate::deliveries::{Delivery, DeliveryState, DeliveryStateKind, invalid, load, write};
use crate::error::{Error, Result};
use crate::ids::{DeliveryId, MessageId, Millis};
use crate::messages::NewMessage;
use crate::retry::{FailOutcome, RetryPolicy};
use crate::store::{T, Tx, TxResult, composite_key, index_key, read_u64, u64_at};

/// `receipts` prefixes.
const INBOUND: u8 = b'i';
const ANSWER: u8 = b'a';
const SENT: u8 = b's';
const SENT_BODY: u8 = b'b';
const BY_REFERENCE: u8 = b'r';
const RAW: u8 = b'e';

fn inbound_key(prefix: u8, partner: &str, reference: &str) -> Vec<u8> {
    let mut key = vec![prefix];
    key.extend(composite_key(&[partner, reference]));
    key
}

fn reference_key(reference: &str) -> Vec<u8> {
    let mut key = vec![BY_REFERENCE];
    key.extend_from_slice(reference.as_bytes());
    key
}

fn raw_key(id: DeliveryId, index: u32) -> Vec<u8> {
    let mut key = index_key(Some(RAW), &[id.get()]);
    key.extend_from_slice(&index.to_be_bytes());
    key
}

/// A partner's message reference seen before.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundReference {
    /// The message its first arrival was recorded as.
    pub message: MessageId,
    /// When it first arrived.
    pub received_at: Millis,
    /// How many times it arrived again since.
    pub repeats: u32,
}

/// What [`Outbox::record_received_once`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// A new reference: the file was recorded as this message, its partner set.
    New(MessageId),
    /// The reference arrived before (a retransmission): nothing new was recorded.
    Repeat(InboundReference),
}

/// What was sent for a delivery that expects a receipt, kept to send the same message again
/// and to check the receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transmission {
    /// The message's reference (AS2 `Message-ID`, without angle brackets): unique.
    pub reference: String,
    /// What the receipt must return (the AS2 MIC as written in `Received-Content-MIC`).
    pub check: String,
    /// The header fields sent.
    pub headers: Vec<(String, String)>,
    /// The body sent (stored apart from the record; empty in what [`Outbox::transmission`]
    /// returns only when it was empty).
    #[serde(skip)]
    pub body: Vec<u8>,
    /// The delivery's `cycle_started_at` when it was built: an operator's retry starts a new
    /// cycle, and a new message is built for it.
    pub cycle_started_at: Millis,
    /// When it was built.
    pub at: Millis,
}

/// What a receipt said.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptVerdict {
    /// Received and checked: the delivery arrived.
    Accepted,
    /// Received with a warning; the delivery arrived.
    Warning,
    /// A negative receipt, or one that does not check out: the delivery did not arrive.
    Refused,
}

impl ReceiptVerdict {
    /// The name used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptVerdict::Accepted => "accepted",
            ReceiptVerdict::Warning => "warning",
            ReceiptVerdict::Refused => "refused",
        }
    }
}

/// One receipt of a delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// When it was recorded.
    pub at: Millis,
    /// The reference of the message it answers.
    pub reference: String,
    /// The verdict.
    pub verdict: ReceiptVerdict,
    /// The disposition as written, or why the receipt was not trusted.
    pub detail: String,
    /// Whether it was signed and its signature verified.
    pub signed: bool,
    /// How it came: `sync` (in the HTTP response) or `async`.
    pub via: String,
    /// The size of its raw bytes.
    pub size: u64,
}

/// Removes what a delivery's transmission and receipts left (the delivery is being removed).
pub(crate) fn unindex(tx: &Tx<'_>, d: &Delivery) -> TxResult<()> {
    let sent = index_key(Some(SENT), &[d.id.get()]);
    if let Some(t) = tx.get_json::<Transmission>(T::Receipts, &sent)? {
        let key = reference_key(&t.reference);
        if tx.get_u64(T::Receipts, &key)? == Some(d.id.get()) {
            tx.remove(T::Receipts, &key)?;
        }
    }
    tx.remove(T::Receipts, &sent)?;
    tx.remove(T::Receipts, &index_key(Some(SENT_BODY), &[d.id.get()]))?;
    for i in 0..d.receipts.len() {
        tx.remove(T::Receipts, &raw_key(d.id, i as u32))?;
    }
    Ok(())
}

impl Outbox {
    /// Records a received file as [`Outbox::record_received`] does, its partner set, unless
    /// `partner` sent `reference` before: then nothing is recorded and the earlier arrival is
    /// returned, its repeat counted. One transaction, so a retransmission is recognised after
    /// any crash that kept the first arrival. Durable at the next commit point.
    pub fn record_received_once(
        &self,
        new: &NewMessage,
        partner: &str,
        reference: &str,
    ) -> Result<Arrival> {
        if reference.is_empty() {
            return Err(Error::Invalid(
                "an inbound reference cannot be empty".into(),
            ));
        }
        let key = inbound_key(INBOUND, partner, reference);
        let (arrival, markers) = self.transact(|tx| {
            if let Some(mut prior) = tx.get_json::<InboundReference>(T::Receipts, &key)? {
                prior.repeats = prior.repeats.saturating_add(1);
                tx.put_json(T::Receipts, &key, &prior)?;
                return Ok((Arrival::Repeat(prior), None));
            }
            let (id, markers) = crate::messages::insert_received(tx, new)?;
            crate::messages::assign_partner(tx, id, partner, new.received_at)?;
            tx.put_json(
                T::Receipts,
                &key,
                &InboundReference {
                    message: id,
                    received_at: new.received_at,
                    repeats: 0,
                },
            )?;
            Ok((Arrival::New(id), Some(markers)))
        })?;
        if let Some(markers) = markers {
            self.remember_markers(markers)?;
        }
        self.commit_point()?;
        Ok(arrival)
    }

    /// The earlier arrival of `partner`'s `reference`, if it arrived before.
    pub fn inbound_reference(
        &self,
        partner: &str,
        reference: &str,
    ) -> Result<Option<InboundReference>> {
        self.get_json(T::Receipts, &inbound_key(INBOUND, partner, reference))
    }

    /// Forgets partners' references that first arrived before `older_than`, with the answers
    /// kept for them: a retransmission that late is a new message. Returns how many.
    pub fn purge_inbound_references(&self, older_than: Millis) -> Result<usize> {
        let tree = self.tree(T::Receipts);
        let mut old = Vec::new();
        for entry in tree.scan_prefix([INBOUND]) {
            let (key, value) = entry?;
            let r: InboundReference = crate::store::decode(T::Receipts, &value)?;
            if r.received_at < older_than {
                old.push(key);
            }
        }
        for key in &old {
            tree.remove(key)?;
            let mut answer = key.to_vec();
            answer[0] = ANSWER;
            tree.remove(answer)?;
        }
        if !old.is_empty() {
            self.flush()?;
        }
        Ok(old.len())
    }

    /// Keeps the answer given to `partner`'s `reference` (our MDN), to give it again to a
    /// retransmission. Flushed.
    pub fn set_answer(&self, partner: &str, reference: &str, answer: &[u8]) -> Result<()> {
        self.tree(T::Receipts)
            .insert(inbound_key(ANSWER, partner, reference), answer)?;
        self.flush()
    }

    /// The answer kept for `partner`'s `reference`, if any.
    pub fn answer(&self, partner: &str, reference: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .tree(T::Receipts)
            .get(inbound_key(ANSWER, partner, reference))?
            .map(|v| v.to_vec()))
    }

    /// Keeps what is being sent for delivery `id`, indexed by its reference. Flushed: it must
    /// be known before it leaves, so its receipt can be matched.
    pub fn record_transmission(&self, id: DeliveryId, t: &Transmission) -> Result<()> {
        self.transact(|tx| {
            load(tx, id)?;
            let sent = index_key(Some(SENT), &[id.get()]);
            if let Some(old) = tx.get_json::<Transmission>(T::Receipts, &sent)?
                && old.reference != t.reference
            {
                // The older message's receipt may still come: its reference keeps pointing here.
                tx.put(T::Receipts, &reference_key(&old.reference), &id.key())?;
            }
            tx.put_json(T::Receipts, &sent, t)?;
            tx.put(
                T::Receipts,
                &index_key(Some(SENT_BODY), &[id.get()]),
                &t.body,
            )?;
            tx.put(T::Receipts, &reference_key(&t.reference), &id.key())?;
            Ok(())
        })?;
        self.flush()
    }

    /// What was last sent for delivery `id`, body included.
    pub fn transmission(&self, id: DeliveryId) -> Result<Option<Transmission>> {
        let Some(mut t) =
            self.get_json::<Transmission>(T::Receipts, &index_key(Some(SENT), &[id.get()]))?
        else {
            return Ok(None);
        };
        t.body = self
            .tree(T::Receipts)
            .get(index_key(Some(SENT_BODY), &[id.get()]))?
            .map(|v| v.to_vec())
            .unwrap_or_default();
        Ok(Some(t))
    }

    /// The delivery that sent the message `reference`, if it is still kept.
    pub fn delivery_by_reference(&self, reference: &str) -> Result<Option<Delivery>> {
        match self.tree(T::Receipts).get(reference_key(reference))? {
            Some(id) => self.delivery(DeliveryId::new(read_u64(T::Receipts, &id)?)),
            None => Ok(None),
        }
    }

    /// Records a receipt of delivery `id` with its raw bytes, whatever it said and whatever
    /// state the delivery is in. Flushed.
    pub fn record_receipt(
        &self,
        id: DeliveryId,
        receipt: &Receipt,
        raw: &[u8],
    ) -> Result<Delivery> {
        let d = self.transact(|tx| {
            let old = load(tx, id)?;
            let mut d = old.clone();
            let index = d.receipts.len() as u32;
            tx.put(T::Receipts, &raw_key(id, index), raw)?;
            d.receipts.push(receipt.clone());
            write(tx, Some(&old), Some(&d))?;
            Ok(d)
        })?;
        self.flush()?;
        Ok(d)
    }

    /// The raw bytes of receipt number `index` (0 is the first) of delivery `id`.
    pub fn receipt_raw(&self, id: DeliveryId, index: u32) -> Result<Option<Vec<u8>>> {
        Ok(self
            .tree(T::Receipts)
            .get(raw_key(id, index))?
            .map(|v| v.to_vec()))
    }

    /// A sent delivery now waits for its receipt until `until`. Only from in flight.
    ///
    /// A partner may answer before the sender has recorded that it waits: an asynchronous
    /// receipt posted while our POST was still being answered finds the delivery in flight and
    /// is only recorded. When such a positive receipt for the message sent is already there, the
    /// delivery is delivered at once instead of waiting for a receipt that has come.
    pub fn await_receipt(&self, id: DeliveryId, now: Millis, until: Millis) -> Result<Delivery> {
        let d = self.transact(|tx| {
            let old = load(tx, id)?;
            if old.state.kind() != DeliveryStateKind::InFlight {
                return Err(invalid(&old, "await its receipt").into());
            }
            let sent: Option<Transmission> =
                tx.get_json(T::Receipts, &index_key(Some(SENT), &[id.get()]))?;
            let answered = sent.is_some_and(|t| {
                old.receipts.iter().any(|r| {
                    r.reference == t.reference
                        && matches!(
                            r.verdict,
                            ReceiptVerdict::Accepted | ReceiptVerdict::Warning
                        )
                })
            });
            let mut d = old.clone();
            d.state = if answered {
                DeliveryState::Delivered { at: now }
            } else {
                DeliveryState::AwaitingReceipt {
                    sent_at: now,
                    until,
                }
            };
            write(tx, Some(&old), Some(&d))?;
            Ok(d)
        })?;
        self.commit_point()?;
        Ok(d)
    }

    /// A positive receipt arrived: the delivery is delivered, whether it was awaiting the
    /// receipt, waiting for a retry after the wait ran out, or dead. Delivered already: no
    /// change. In flight (being sent again) or dropped: [`Error::InvalidState`]. Flushed.
    pub fn confirm_receipt(&self, id: DeliveryId, now: Millis) -> Result<Delivery> {
        let d = self.transact(|tx| {
            let old = load(tx, id)?;
            match old.state.kind() {
                DeliveryStateKind::AwaitingReceipt
                | DeliveryStateKind::Pending
                | DeliveryStateKind::Dead => {}
                DeliveryStateKind::Delivered => return Ok(old),
                _ => return Err(invalid(&old, "confirm its receipt").into()),
            }
            let mut d = old.clone();
            d.state = DeliveryState::Delivered { at: now };
            write(tx, Some(&old), Some(&d))?;
            Ok(d)
        })?;
        self.flush()?;
        Ok(d)
    }

    /// A receipt refused the delivery (a negative MDN, or one that does not check out) while
    /// it was awaited: the attempt failed, pending after the policy's backoff or dead. `None`,
    /// changing nothing, when the delivery was not awaiting a receipt. Flushed.
    pub fn refuse_receipt(
        &self,
        id: DeliveryId,
        error: &str,
        now: Millis,
        policy: &RetryPolicy,
    ) -> Result<Option<FailOutcome>> {
        let draw = fastrand::f64();
        let outcome = self.transact(|tx| {
            let old = load(tx, id)?;
            if old.state.kind() != DeliveryStateKind::AwaitingReceipt {
                return Ok(None);
            }
            fail_awaiting(tx, &old, error, now, policy, draw).map(Some)
        })?;
        self.flush()?;
        Ok(outcome)
    }

    /// Deliveries whose receipt did not come by their deadline count a failed attempt: pending
    /// again after the policy's backoff, or dead. Returns each with its outcome.
    pub fn expire_awaited(
        &self,
        now: Millis,
        policy: &RetryPolicy,
    ) -> Result<Vec<(DeliveryId, FailOutcome)>> {
        let tag = DeliveryStateKind::AwaitingReceipt.tag();
        let ids: Vec<DeliveryId> = self
            .tree(T::ByState)
            .range(index_key(Some(tag), &[])..=index_key(Some(tag), &[now, u64::MAX]))
            .keys()
            .map(|key| Ok(DeliveryId::new(u64_at(T::ByState, &key?, 9)?)))
            .collect::<Result<_>>()?;
        let mut out = Vec::new();
        for id in ids {
            let draw = fastrand::f64();
            let outcome = self.transact(|tx| {
                let old = load(tx, id)?;
                match old.state {
                    DeliveryState::AwaitingReceipt { until, .. } if until <= now => {}
                    _ => return Ok(None),
                }
                fail_awaiting(
                    tx,
                    &old,
                    "no receipt came before the deadline",
                    now,
                    policy,
                    draw,
                )
                .map(Some)
            })?;
            if let Some(o) = outcome {
                out.push((id, o));
            }
        }
        if !out.is_empty() {
            self.flush()?;
        }
        Ok(out)
    }
}

/// An awaited receipt failed the attempt: pending after the backoff, or dead.
fn fail_awaiting(
    tx: &Tx<'_>,
    old: &Delivery,
    error: &str,
    now: Millis,
    policy: &RetryPolicy,
    draw: f64,
) -> TxResult<FailOutcome> {
    crate::deliveries::fail_in(tx, old, old.clone(), error, now, policy, draw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewDelivery, RetryPolicy};

    fn received(name: &str) -> NewMessage {
        NewMessage {
            channel: "as2:acme".into(),
            file_name: name.into(),
            spool_path: "spool/seg".into(),
            spool_offset: 0,
            size: 3,
            sha256: "abc".into(),
            received_at: 1_000,
        }
    }

    #[test]
    fn a_reference_arrives_once_per_partner_and_repeats_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let Arrival::New(first) = outbox
            .record_received_once(&received("a"), "acme", "m1@x")
            .unwrap()
        else {
            panic!("new");
        };
        assert_eq!(
            outbox.message(first).unwrap().unwrap().partner.as_deref(),
            Some("acme")
        );
        let again = outbox
            .record_received_once(&received("a"), "acme", "m1@x")
            .unwrap();
        assert_eq!(
            again,
            Arrival::Repeat(InboundReference {
                message: first,
                received_at: 1_000,
                repeats: 1
            })
        );
        assert_eq!(
            outbox
                .inbound_reference("acme", "m1@x")
                .unwrap()
                .unwrap()
                .repeats,
            1
        );
        // Another partner's message with the same id is its own.
        assert!(matches!(
            outbox
                .record_received_once(&received("a"), "globex", "m1@x")
                .unwrap(),
            Arrival::New(_)
        ));
        assert_eq!(outbox.pending_messages().unwrap().len(), 2);
        assert_eq!(outbox.answer("acme", "m1@x").unwrap(), None);
        outbox.set_answer("acme", "m1@x", b"MDN").unwrap();
        assert_eq!(
            outbox.answer("acme", "m1@x").unwrap().as_deref(),
            Some(&b"MDN"[..])
        );
        assert_eq!(outbox.purge_inbound_references(1_000).unwrap(), 0);
        assert_eq!(outbox.purge_inbound_references(1_001).unwrap(), 2);
        assert_eq!(outbox.answer("acme", "m1@x").unwrap(), None);
        assert!(matches!(
            outbox
                .record_received_once(&received("a"), "acme", "m1@x")
                .unwrap(),
            Arrival::New(_)
        ));
    }

    /// An asynchronous MDN's receipt for AS2 message `reference`, as the MDN handler records it.
    fn receipt(reference: &str, verdict: ReceiptVerdict) -> Receipt {
        Receipt {
            at: 1_050,
            reference: reference.into(),
            verdict,
            detail: String::new(),
            signed: true,
            via: "async".into(),
            size: 3,
        }
    }

    fn sent_delivery(outbox: &Outbox, now: Millis) -> DeliveryId {
        let d = outbox
            .enqueue(
                NewDelivery::new("partner:acme", "doc-1", "application/edi-x12", now),
                b"ISA",
            )
            .unwrap()
            .delivery;
        outbox.claim(d.id, now, 60_000).unwrap().unwrap();
        outbox
            .record_transmission(
                d.id,
                &Transmission {
                    reference: "ref-1@edigate".into(),
                    check: "abc=, sha-256".into(),
                    headers: vec![("AS2-To".into(), "acme".into())],
                    body: b"body".to_vec(),
                    cycle_started_at: now,
                    at: now,
                },
            )
            .unwrap();
        d.id
    }

    #[test]
    fn an_awaited_receipt_settles_the_delivery_or_its_deadline_fails_the_attempt() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let policy = RetryPolicy::default();
        let id = sent_delivery(&outbox, 1_000);
        let t = outbox.transmission(id).unwrap().unwrap();
        assert_eq!(t.body, b"body");
        assert_eq!(
            outbox
                .delivery_by_reference("ref-1@edigate")
                .unwrap()
                .unwrap()
                .id,
            id
        );
        outbox.await_receipt(id, 1_100, 5_000).unwrap();
        assert_eq!(
            outbox.counts().unwrap()[0].get(DeliveryStateKind::AwaitingReceipt),
            1
        );
        assert!(
            outbox.due(10_000, 10).unwrap().is_empty(),
            "not due while awaited"
        );
        assert!(outbox.expire_awaited(4_999, &policy).unwrap().is_empty());
        let expired = outbox.expire_awaited(5_000, &policy).unwrap();
        assert!(matches!(expired[..], [(i, FailOutcome::RetryAt(_))] if i == id));
        let d = outbox.delivery(id).unwrap().unwrap();
        assert_eq!(d.state.kind(), DeliveryStateKind::Pending);
        // The late receipt still counts: recorded, and the delivery is delivered.
        let receipt = Receipt {
            at: 6_000,
            reference: "ref-1@edigate".into(),
            verdict: ReceiptVerdict::Accepted,
            detail: "processed".into(),
            signed: true,
            via: "async".into(),
            size: 3,
        };
        outbox.record_receipt(id, &receipt, b"MDN").unwrap();
        let d = outbox.confirm_receipt(id, 6_000).unwrap();
        assert_eq!(d.state, DeliveryState::Delivered { at: 6_000 });
        assert_eq!(d.receipts, vec![receipt]);
        assert_eq!(
            outbox.receipt_raw(id, 0).unwrap().as_deref(),
            Some(&b"MDN"[..])
        );
        // Purged with its delivery, index and evidence alike.
        outbox.purge(7_000).unwrap();
        assert!(
            outbox
                .delivery_by_reference("ref-1@edigate")
                .unwrap()
                .is_none()
        );
        assert!(outbox.receipt_raw(id, 0).unwrap().is_none());
        assert!(outbox.transmission(id).unwrap().is_none());
    }

    #[test]
    fn a_receipt_that_came_before_the_wait_began_settles_the_delivery_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let id = sent_delivery(&outbox, 1_000);
        // The partner's asynchronous MDN arrives while our POST is still being answered: the
        // delivery is in flight, so it is only recorded.
        outbox
            .record_receipt(
                id,
                &receipt("other@edigate", ReceiptVerdict::Accepted),
                b"MDN",
            )
            .unwrap();
        outbox
            .record_receipt(
                id,
                &receipt("ref-1@edigate", ReceiptVerdict::Refused),
                b"MDN",
            )
            .unwrap();
        let d = outbox.await_receipt(id, 1_100, 5_000).unwrap();
        assert_eq!(
            d.state.kind(),
            DeliveryStateKind::AwaitingReceipt,
            "neither another message's receipt nor a refusal answers this one"
        );

        let id = {
            let d = outbox
                .enqueue(
                    NewDelivery::new("partner:acme", "doc-2", "application/edi-x12", 2_000),
                    b"ISA",
                )
                .unwrap()
                .delivery;
            outbox.claim(d.id, 2_000, 60_000).unwrap().unwrap();
            outbox
                .record_transmission(
                    d.id,
                    &Transmission {
                        reference: "ref-2@edigate".into(),
                        check: "abc=, sha-256".into(),
                        headers: Vec::new(),
                        body: b"body".to_vec(),
                        cycle_started_at: 2_000,
                        at: 2_000,
                    },
                )
                .unwrap();
            d.id
        };
        outbox
            .record_receipt(
                id,
                &receipt("ref-2@edigate", ReceiptVerdict::Accepted),
                b"MDN",
            )
            .unwrap();
        let d = outbox.await_receipt(id, 2_100, 6_000).unwrap();
        assert_eq!(d.state, DeliveryState::Delivered { at: 2_100 });
        assert!(
            outbox
                .expire_awaited(10_000, &RetryPolicy::default())
                .unwrap()
                .iter()
                .all(|(i, _)| *i != id)
        );
    }

    #[test]
    fn a_recorded_receipt_comes_back_with_the_state_it_was_recorded_in() {
        // The MDN handler settles a delivery by this state: one read before recording may be
        // stale, since the delivery loop moves the delivery from in flight to awaiting between.
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let accepted = receipt("ref-1@edigate", ReceiptVerdict::Accepted);
        let id = sent_delivery(&outbox, 1_000);
        let read_before = outbox.delivery(id).unwrap().unwrap();
        assert_eq!(read_before.state.kind(), DeliveryStateKind::InFlight);
        outbox.await_receipt(id, 1_020, 5_000).unwrap();
        let recorded = outbox.record_receipt(id, &accepted, b"MDN").unwrap();
        assert_eq!(recorded.state.kind(), DeliveryStateKind::AwaitingReceipt);
        assert_eq!(recorded.receipts, [accepted]);
        let done = outbox.confirm_receipt(id, 1_060).unwrap();
        assert_eq!(done.state, DeliveryState::Delivered { at: 1_060 });
    }

    #[test]
    fn a_refusing_receipt_fails_only_an_awaited_delivery() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let policy = RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        };
        let id = sent_delivery(&outbox, 1_000);
        // In flight: not awaited, nothing changes.
        assert_eq!(
            outbox.refuse_receipt(id, "no", 1_200, &policy).unwrap(),
            None
        );
        outbox.await_receipt(id, 1_100, 9_000).unwrap();
        assert_eq!(
            outbox
                .refuse_receipt(id, "MIC mismatch", 1_200, &policy)
                .unwrap(),
            Some(FailOutcome::Dead)
        );
        let d = outbox.delivery(id).unwrap().unwrap();
        assert!(
            matches!(&d.state, DeliveryState::Dead { reason, .. } if reason.contains("MIC mismatch"))
        );
    }
}
