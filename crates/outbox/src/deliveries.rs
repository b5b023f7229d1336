//! Outbound deliveries: the queue, its indexes, leases and retries.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Outbox;
use crate::counters::{AssignedNumber, CounterKey, allocate};
use crate::error::{Error, Result};
use crate::finish::Outbound;
use crate::ids::{DeliveryId, MessageId, Millis};
use crate::messages::{IX_DELIVERIES, Message};
use crate::retry::{FailOutcome, RetryPolicy};
use crate::store::{T, Tx, TxResult, composite_key, index_key, read_u64, split_composite, u64_at};

const SEQ_DELIVERY: &[u8] = b"seq/delivery";

/// A delivery to enqueue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDelivery {
    /// The message it answers or comes from, if any.
    pub message_id: Option<MessageId>,
    /// Where it goes: a key the daemon routes by, such as `sink:events-jsonl` or
    /// `partner:acme:ack`.
    pub destination: String,
    /// The idempotency key: the event id or document id. One key, one payload, ever (until the
    /// delivery is purged).
    pub key: String,
    /// What the payload is, for the sender (`application/json`, `application/edi-x12`, …).
    pub content_kind: String,
    /// When it is enqueued.
    pub created_at: Millis,
    /// When it is first due (usually `created_at`).
    pub due_at: Millis,
    /// The partner is expected to acknowledge it (a business document, not an
    /// acknowledgement): it waits in [`Outbox::awaiting_acknowledgement`] until one comes.
    pub ack_expected: bool,
}

impl NewDelivery {
    /// A delivery to `destination` under idempotency `key`, due at once.
    pub fn new(
        destination: impl Into<String>,
        key: impl Into<String>,
        content_kind: impl Into<String>,
        now: Millis,
    ) -> Self {
        NewDelivery {
            message_id: None,
            destination: destination.into(),
            key: key.into(),
            content_kind: content_kind.into(),
            created_at: now,
            due_at: now,
            ack_expected: false,
        }
    }

    /// Expects the partner's acknowledgement of it (TA1, 997/999, CONTRL).
    pub fn expect_acknowledgement(mut self) -> Self {
        self.ack_expected = true;
        self
    }

    /// Ties it to the message it comes from.
    pub fn message(mut self, id: MessageId) -> Self {
        self.message_id = Some(id);
        self
    }

    /// Makes it due later than now.
    pub fn due_at(mut self, due_at: Millis) -> Self {
        self.due_at = due_at;
        self
    }
}

/// A delivery's record (its payload is read with [`Outbox::payload`] or comes with a claim).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Its id.
    pub id: DeliveryId,
    /// The message it comes from, if any.
    pub message_id: Option<MessageId>,
    /// The partner whose counters numbered it ([`Outbox::enqueue_outbound`] only).
    pub partner: Option<String>,
    /// Where it goes.
    pub destination: String,
    /// Its idempotency key.
    pub key: String,
    /// What the payload is.
    pub content_kind: String,
    /// The payload's size in bytes.
    pub size: u64,
    /// The control numbers assigned to it, in the order the counters were asked for.
    pub numbers: Vec<AssignedNumber>,
    /// Attempts since it was enqueued or last retried by hand; a claim counts as one.
    pub attempts: u32,
    /// Where it stands.
    pub state: DeliveryState,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: Millis,
    /// When the current round of attempts began: `created_at`, or the last manual retry.
    /// [`RetryPolicy::max_age`] counts from here.
    pub cycle_started_at: Millis,
    /// Whether the partner is expected to acknowledge it.
    #[serde(default)]
    pub ack_expected: bool,
    /// What the partner's acknowledgements said of it, oldest first.
    #[serde(default)]
    pub acknowledgements: Vec<crate::Acknowledgement>,
    /// The signed receipts (AS2 MDNs) the receiver answered it with, oldest first; their raw
    /// bytes are kept as evidence ([`Outbox::receipt_raw`]).
    #[serde(default)]
    pub receipts: Vec<crate::Receipt>,
}

/// Where a delivery stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its due time.
    Pending {
        /// When it may be claimed.
        due_at: Millis,
    },
    /// Claimed by a sender.
    InFlight {
        /// When it was claimed.
        claimed_at: Millis,
        /// When the claim lapses and another sender may take it.
        lease_until: Millis,
    },
    /// Sent and accepted.
    Delivered {
        /// When.
        at: Millis,
    },
    /// Given up after its retries; waits for an operator.
    Dead {
        /// Why.
        reason: String,
        /// When.
        at: Millis,
    },
    /// Dropped by an operator.
    Dropped {
        /// When.
        at: Millis,
    },
    /// Sent; the receiver's signed receipt (an asynchronous AS2 MDN) is awaited until `until`,
    /// after which the attempt counts as failed and the delivery is retried
    /// ([`Outbox::expire_awaited`]). A receipt arriving later is still recorded.
    AwaitingReceipt {
        /// When it was sent.
        sent_at: Millis,
        /// When waiting ends.
        until: Millis,
    },
}

/// [`DeliveryState`] without its details.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStateKind {
    /// [`DeliveryState::Pending`].
    Pending,
    /// [`DeliveryState::InFlight`].
    InFlight,
    /// [`DeliveryState::Delivered`].
    Delivered,
    /// [`DeliveryState::Dead`].
    Dead,
    /// [`DeliveryState::Dropped`].
    Dropped,
    /// [`DeliveryState::AwaitingReceipt`].
    AwaitingReceipt,
}

const KINDS: [DeliveryStateKind; 6] = [
    DeliveryStateKind::Pending,
    DeliveryStateKind::InFlight,
    DeliveryStateKind::Delivered,
    DeliveryStateKind::Dead,
    DeliveryStateKind::Dropped,
    DeliveryStateKind::AwaitingReceipt,
];

impl DeliveryStateKind {
    /// Every kind (the tag order: awaiting a receipt came last).
    pub const ALL: [DeliveryStateKind; 6] = KINDS;

    /// Its byte in the `by_state` and `counts` keys.
    pub(crate) const fn tag(self) -> u8 {
        self as u8
    }

    fn from_tag(tag: u8) -> Option<Self> {
        KINDS.get(usize::from(tag)).copied()
    }
}

impl fmt::Display for DeliveryStateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeliveryStateKind::Pending => "pending",
            DeliveryStateKind::InFlight => "in flight",
            DeliveryStateKind::Delivered => "delivered",
            DeliveryStateKind::Dead => "dead",
            DeliveryStateKind::Dropped => "dropped",
            DeliveryStateKind::AwaitingReceipt => "awaiting receipt",
        })
    }
}

impl DeliveryState {
    /// Its kind.
    pub fn kind(&self) -> DeliveryStateKind {
        match self {
            DeliveryState::Pending { .. } => DeliveryStateKind::Pending,
            DeliveryState::InFlight { .. } => DeliveryStateKind::InFlight,
            DeliveryState::Delivered { .. } => DeliveryStateKind::Delivered,
            DeliveryState::Dead { .. } => DeliveryStateKind::Dead,
            DeliveryState::Dropped { .. } => DeliveryStateKind::Dropped,
            DeliveryState::AwaitingReceipt { .. } => DeliveryStateKind::AwaitingReceipt,
        }
    }

    /// The time its index is ordered by: due time, lease end, or when it got there.
    fn index_time(&self) -> Millis {
        match *self {
            DeliveryState::Pending { due_at } => due_at,
            DeliveryState::InFlight { lease_until, .. } => lease_until,
            DeliveryState::AwaitingReceipt { until, .. } => until,
            DeliveryState::Delivered { at }
            | DeliveryState::Dead { at, .. }
            | DeliveryState::Dropped { at } => at,
        }
    }
}

/// What [`Outbox::enqueue`] and [`Outbox::enqueue_outbound`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enqueued {
    /// The delivery holding the key: the new one, or the one already there.
    pub delivery: Delivery,
    /// Whether this call created it (false: the same document was already enqueued).
    pub created: bool,
}

/// A claimed delivery and its payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimed {
    /// The delivery, now in flight (or, taken without a claim, still pending; see
    /// [`Outbox::complete_unclaimed_many`]).
    pub delivery: Delivery,
    /// What to send.
    pub payload: Vec<u8>,
}

/// Which deliveries [`Outbox::list_deliveries`] returns; every field left `None` matches all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    /// Only those going here.
    pub destination: Option<String>,
    /// Only those in this state.
    pub state: Option<DeliveryStateKind>,
    /// Only those of this message.
    pub message_id: Option<MessageId>,
}

/// How many deliveries to one destination are in each state (purged ones no longer count).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationCounts {
    /// The destination.
    pub destination: String,
    /// Waiting.
    pub pending: u64,
    /// Being sent.
    pub in_flight: u64,
    /// Delivered.
    pub delivered: u64,
    /// Given up.
    pub dead: u64,
    /// Dropped.
    pub dropped: u64,
    /// Sent, waiting for the receiver's receipt.
    #[serde(default)]
    pub awaiting_receipt: u64,
}

impl DestinationCounts {
    /// The count for `kind`.
    pub fn get(&self, kind: DeliveryStateKind) -> u64 {
        match kind {
            DeliveryStateKind::Pending => self.pending,
            DeliveryStateKind::InFlight => self.in_flight,
            DeliveryStateKind::Delivered => self.delivered,
            DeliveryStateKind::Dead => self.dead,
            DeliveryStateKind::Dropped => self.dropped,
            DeliveryStateKind::AwaitingReceipt => self.awaiting_receipt,
        }
    }

    fn slot(&mut self, kind: DeliveryStateKind) -> &mut u64 {
        match kind {
            DeliveryStateKind::Pending => &mut self.pending,
            DeliveryStateKind::InFlight => &mut self.in_flight,
            DeliveryStateKind::Delivered => &mut self.delivered,
            DeliveryStateKind::Dead => &mut self.dead,
            DeliveryStateKind::Dropped => &mut self.dropped,
            DeliveryStateKind::AwaitingReceipt => &mut self.awaiting_receipt,
        }
    }
}

fn count_key(destination: &str, kind: DeliveryStateKind) -> Vec<u8> {
    let mut key = composite_key(&[destination]);
    key.push(kind.tag());
    key
}

/// The delivery's entry in `due` (pending) or `by_state` (the rest), if it has one.
///
/// A delivered one has none: delivered is where nearly every delivery ends, and the readers of
/// that state, retention and listings, read the `deliveries` tree in id order instead
/// ([`Outbox::purge`], [`Outbox::list_deliveries`]). One write less for every delivery.
fn index_entry(d: &Delivery) -> Option<(T, Vec<u8>)> {
    let time = d.state.index_time();
    match d.state.kind() {
        DeliveryStateKind::Pending => Some((T::Due, index_key(None, &[time, d.id.get()]))),
        DeliveryStateKind::Delivered => None,
        kind => Some((T::ByState, index_key(Some(kind.tag()), &[time, d.id.get()]))),
    }
}

/// The `by_state` entry earlier versions kept for a delivered delivery.
fn delivered_entry(d: &Delivery) -> Vec<u8> {
    index_key(
        Some(DeliveryStateKind::Delivered.tag()),
        &[d.state.index_time(), d.id.get()],
    )
}

fn message_key(message: MessageId, id: DeliveryId) -> Vec<u8> {
    index_key(Some(IX_DELIVERIES), &[message.get(), id.get()])
}

pub(crate) fn load(tx: &Tx<'_>, id: DeliveryId) -> TxResult<Delivery> {
    match tx.get(T::Deliveries, &id.key())? {
        Some(bytes) => Ok(decode_record(&bytes)?),
        None => Err(Error::DeliveryNotFound(id).into()),
    }
}

/// The first byte of a delivery's value holding its payload too: a record with its payload
/// framed after it is one write when queued and one read when sent, where a payload kept apart
/// is two of each. Records of earlier versions are JSON alone (starting with `{`), their
/// payloads in `payloads`.
const FRAMED: u8 = 0;

/// A delivery's value in the `deliveries` tree: `FRAMED`, the record's length (4 bytes, big
/// endian), the record (JSON), the payload.
fn encode_record(d: &Delivery, payload: &[u8]) -> Result<Vec<u8>> {
    let record = crate::store::encode(d)?;
    let len = u32::try_from(record.len())
        .map_err(|_| Error::Encode("a delivery record over 4 GiB".into()))?;
    let mut value = Vec::with_capacity(5 + record.len() + payload.len());
    value.push(FRAMED);
    value.extend_from_slice(&len.to_be_bytes());
    value.extend_from_slice(&record);
    value.extend_from_slice(payload);
    Ok(value)
}

/// The delivery in a value of the `deliveries` tree, framed or of an earlier version.
pub(crate) fn decode_record(bytes: &[u8]) -> Result<Delivery> {
    crate::store::decode(T::Deliveries, split_record(bytes)?.0)
}

/// A value's record (JSON) and the payload framed with it (`None` for a record of an earlier
/// version), without parsing the JSON.
fn split_record(bytes: &[u8]) -> Result<(&[u8], Option<&[u8]>)> {
    let Some((&FRAMED, rest)) = bytes.split_first() else {
        return Ok((bytes, None));
    };
    let corrupt = || Error::Corrupt {
        tree: T::Deliveries.name(),
        detail: format!("a framed record of {} bytes is cut short", bytes.len()),
    };
    let (len, rest) = rest.split_first_chunk::<4>().ok_or_else(corrupt)?;
    let len = u32::from_be_bytes(*len) as usize;
    if rest.len() < len {
        return Err(corrupt());
    }
    let (record, payload) = rest.split_at(len);
    Ok((record, Some(payload)))
}

/// Stores `d`'s record with `payload` (a new delivery), or in place of its stored record,
/// keeping the payload beside it.
fn put_record(tx: &Tx<'_>, d: &Delivery, payload: Option<&[u8]>) -> TxResult<()> {
    let value = match payload {
        Some(payload) => encode_record(d, payload)?,
        None => match tx.get(T::Deliveries, &d.id.key())? {
            Some(bytes) => match split_record(&bytes)?.1 {
                Some(payload) => encode_record(d, payload)?,
                None => crate::store::encode(d)?,
            },
            None => crate::store::encode(d)?,
        },
    };
    tx.put(T::Deliveries, &d.id.key(), &value)
}

/// Stores `new` in place of `old`, moving its index entry and state count along: the one place
/// that keeps the indexes true to the records. The payload stays as it was stored.
pub(crate) fn write(tx: &Tx<'_>, old: Option<&Delivery>, new: Option<&Delivery>) -> TxResult<()> {
    move_index(tx, old, new)?;
    match new {
        Some(new) => put_record(tx, new, None),
        None => Ok(()),
    }
}

/// Moves a delivery's index entry and state count from `old` to `new`.
fn move_index(tx: &Tx<'_>, old: Option<&Delivery>, new: Option<&Delivery>) -> TxResult<()> {
    if let Some(old) = old {
        match index_entry(old) {
            Some((t, key)) => tx.remove(t, &key)?,
            // Delivered by an earlier version, it may have an entry (removing none is a read).
            None => tx.remove(T::ByState, &delivered_entry(old))?,
        }
        tx.add_u64(
            T::Counts,
            &count_key(&old.destination, old.state.kind()),
            -1,
        )?;
    }
    if let Some(new) = new {
        if let Some((t, key)) = index_entry(new) {
            tx.put(t, &key, &[])?;
        }
        tx.add_u64(T::Counts, &count_key(&new.destination, new.state.kind()), 1)?;
    }
    Ok(())
}

/// Removes a delivery with everything that points at it.
pub(crate) fn remove(tx: &Tx<'_>, d: &Delivery) -> TxResult<()> {
    write(tx, Some(d), None)?;
    tx.remove(T::Deliveries, &d.id.key())?;
    tx.remove(T::Payloads, &d.id.key())?;
    if tx.get_u64(T::Keys, d.key.as_bytes())? == Some(d.id.get()) {
        tx.remove(T::Keys, d.key.as_bytes())?;
    }
    if let Some(message) = d.message_id {
        tx.remove(T::MessageIndex, &message_key(message, d.id))?;
    }
    crate::acknowledgements::unindex(tx, d)?;
    crate::receipts::unindex(tx, d)?;
    Ok(())
}

fn by_key(tx: &Tx<'_>, key: &str) -> TxResult<Option<Delivery>> {
    match tx.get_u64(T::Keys, key.as_bytes())? {
        Some(id) => Ok(Some(load(tx, DeliveryId::new(id))?)),
        None => Ok(None),
    }
}

fn stored_payload(tx: &Tx<'_>, id: DeliveryId) -> TxResult<Vec<u8>> {
    if let Some(bytes) = tx.get(T::Deliveries, &id.key())?
        && let Some(payload) = split_record(&bytes)?.1
    {
        return Ok(payload.to_vec());
    }
    match tx.get(T::Payloads, &id.key())? {
        Some(bytes) => Ok(bytes.to_vec()),
        None => Err(Error::Corrupt {
            tree: T::Payloads.name(),
            detail: format!("no payload for {id}"),
        }
        .into()),
    }
}

fn insert(
    tx: &Tx<'_>,
    new: &NewDelivery,
    partner: Option<&str>,
    numbers: Vec<AssignedNumber>,
    payload: &[u8],
    in_hand: Option<&mut Message>,
) -> TxResult<Delivery> {
    let id = DeliveryId::new(tx.next_seq(SEQ_DELIVERY)?);
    let d = Delivery {
        id,
        message_id: new.message_id,
        partner: partner.map(str::to_owned),
        destination: new.destination.clone(),
        key: new.key.clone(),
        content_kind: new.content_kind.clone(),
        size: payload.len() as u64,
        numbers,
        attempts: 0,
        state: DeliveryState::Pending { due_at: new.due_at },
        last_error: None,
        created_at: new.created_at,
        cycle_started_at: new.created_at,
        ack_expected: new.ack_expected,
        acknowledgements: Vec::new(),
        receipts: Vec::new(),
    };
    tx.put(T::Keys, new.key.as_bytes(), &id.key())?;
    crate::acknowledgements::index(tx, &d)?;
    if let Some(message) = new.message_id {
        link(tx, message, id, in_hand)?;
    }
    move_index(tx, None, Some(&d))?;
    put_record(tx, &d, Some(payload))?;
    Ok(d)
}

/// Lists delivery `id` in its message's record: in `in_hand` when that is the message (its
/// caller writes it), else in the stored record. A delivery naming a message the store does not
/// hold is indexed apart, as earlier versions did every delivery.
fn link(
    tx: &Tx<'_>,
    message: MessageId,
    id: DeliveryId,
    in_hand: Option<&mut Message>,
) -> TxResult<()> {
    match in_hand {
        Some(m) if m.id == message => {
            m.deliveries.push(id);
            Ok(())
        }
        _ => match tx.get_json::<Message>(T::Messages, &message.key())? {
            Some(mut m) => {
                m.deliveries.push(id);
                tx.put_json(T::Messages, &message.key(), &m)
            }
            None => tx.put(T::MessageIndex, &message_key(message, id), &[]),
        },
    }
}

/// [`Outbox::enqueue`] inside a transaction (the caller has checked `new`). `in_hand`: the
/// record of `new`'s message when the caller holds it and writes it afterwards.
pub(crate) fn enqueue_in(
    tx: &Tx<'_>,
    new: &NewDelivery,
    payload: &[u8],
    in_hand: Option<&mut Message>,
) -> TxResult<Enqueued> {
    if let Some(existing) = by_key(tx, &new.key)? {
        return same_or_conflict(tx, existing, &new.key, Some(payload));
    }
    Ok(Enqueued {
        delivery: insert(tx, new, None, Vec::new(), payload, in_hand)?,
        created: true,
    })
}

/// Builds a document from control numbers, as [`Outbox::enqueue_outbound`] and
/// [`crate::Finish`] take it: a pure function of the numbers, run under sled's lock.
pub type BuildFn<'a> = dyn Fn(&[u64]) -> std::result::Result<Vec<u8>, BuildError> + 'a;

/// What a [`BuildFn`] fails with.
pub type BuildError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// [`Outbox::enqueue_outbound`] inside a transaction (the caller has checked `o.new`);
/// `in_hand` as in [`enqueue_in`].
pub(crate) fn enqueue_outbound_in(
    tx: &Tx<'_>,
    outbox: &Outbox,
    o: &Outbound<'_>,
    in_hand: Option<&mut Message>,
) -> TxResult<Enqueued> {
    let (partner, counters, new, build) = (o.partner, o.counters, o.new, o.build);
    if let Some(existing) = by_key(tx, &new.key)? {
        let same_counters = existing.partner.as_deref() == Some(partner)
            && existing.numbers.len() == counters.len()
            && existing
                .numbers
                .iter()
                .zip(counters)
                .all(|(n, c)| &n.counter == c);
        let payload = if same_counters {
            let numbers: Vec<u64> = existing.numbers.iter().map(|n| n.value).collect();
            Some(build(&numbers).map_err(Error::Build)?)
        } else {
            None
        };
        return same_or_conflict(tx, existing, &new.key, payload.as_deref());
    }
    let numbers = allocate(tx, outbox, partner, counters)?;
    let payload = match o.prebuilt {
        Some((expected, payload)) if expected == numbers.as_slice() => payload.to_vec(),
        _ => build(&numbers).map_err(Error::Build)?,
    };
    let assigned = counters
        .iter()
        .zip(&numbers)
        .map(|(counter, &value)| AssignedNumber {
            counter: counter.clone(),
            value,
        })
        .collect();
    Ok(Enqueued {
        delivery: insert(tx, new, Some(partner), assigned, &payload, in_hand)?,
        created: true,
    })
}

pub(crate) fn check_new(new: &NewDelivery) -> Result<()> {
    if new.destination.is_empty() {
        return Err(Error::Invalid("a delivery needs a destination".into()));
    }
    if new.key.is_empty() {
        return Err(Error::Invalid("a delivery needs an idempotency key".into()));
    }
    Ok(())
}

pub(crate) fn invalid(d: &Delivery, operation: &'static str) -> Error {
    Error::InvalidState {
        id: d.id,
        state: d.state.kind(),
        operation,
    }
}

impl Outbox {
    /// Enqueues `payload` for delivery, due at `new.due_at`, and returns once it is on disk.
    ///
    /// Idempotent on `new.key`: when a delivery already holds the key with the same payload, that
    /// delivery is returned (`created: false`) and nothing changes; with a different payload it
    /// is [`Error::KeyConflict`]. A dropped delivery keeps its key, so its document is not queued
    /// again by mistake.
    pub fn enqueue(&self, new: NewDelivery, payload: &[u8]) -> Result<Enqueued> {
        check_new(&new)?;
        let enqueued = self.transact(|tx| enqueue_in(tx, &new, payload, None))?;
        self.commit_point()?;
        Ok(enqueued)
    }

    /// Assigns the next number of each of `partner`'s `counters` (a counter listed twice gives
    /// two consecutive numbers), builds the payload from them with `build`, and enqueues it — all
    /// in one transaction, flushed before returning. The numbers are spent only if the delivery
    /// is stored: when `build` fails ([`Error::Build`]) or anything else does, the counters are
    /// left as they were, so the numbers a partner receives have no gaps.
    ///
    /// `build` gets the numbers in the order of `counters` and must be a pure function of them:
    /// sled may run the transaction, and so `build`, more than once, and `build` runs under
    /// sled's global transaction lock, so it must not use the outbox itself.
    ///
    /// When `new.key` is already enqueued, no number is taken: `build` is run with the numbers
    /// that delivery was given, and if it produces the stored payload the existing delivery is
    /// returned (`created: false`) — the same document enqueued again after a crash. Otherwise,
    /// or if that delivery came from other counters, it is [`Error::KeyConflict`].
    pub fn enqueue_outbound<E, F>(
        &self,
        partner: &str,
        counters: &[CounterKey],
        new: NewDelivery,
        build: F,
    ) -> Result<Enqueued>
    where
        F: Fn(&[u64]) -> std::result::Result<Vec<u8>, E>,
        E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    {
        check_new(&new)?;
        let build = |numbers: &[u64]| build(numbers).map_err(Into::into);
        let outbound = Outbound {
            partner,
            counters,
            new: &new,
            build: &build,
            prebuilt: None,
        };
        let enqueued = self.transact(|tx| enqueue_outbound_in(tx, self, &outbound, None))?;
        self.commit_point()?;
        Ok(enqueued)
    }

    /// The delivery's record, if it exists.
    pub fn delivery(&self, id: DeliveryId) -> Result<Option<Delivery>> {
        match self.tree(T::Deliveries).get(id.key())? {
            Some(bytes) => Ok(Some(decode_record(&bytes)?)),
            None => Ok(None),
        }
    }

    /// The delivery holding idempotency key `key`, if any.
    pub fn delivery_by_key(&self, key: &str) -> Result<Option<Delivery>> {
        match self.tree(T::Keys).get(key.as_bytes())? {
            Some(id) => self.delivery(DeliveryId::new(read_u64(T::Keys, &id)?)),
            None => Ok(None),
        }
    }

    /// The delivery's payload, if it exists.
    pub fn payload(&self, id: DeliveryId) -> Result<Option<Vec<u8>>> {
        if let Some(bytes) = self.tree(T::Deliveries).get(id.key())?
            && let Some(payload) = split_record(&bytes)?.1
        {
            return Ok(Some(payload.to_vec()));
        }
        Ok(self
            .tree(T::Payloads)
            .get(id.key())?
            .map(|bytes| bytes.to_vec()))
    }

    /// Up to `limit` pending deliveries due at or before `now`, the earliest due first (ties by
    /// id). Reads the `due` index, never the whole queue.
    pub fn due(&self, now: Millis, limit: usize) -> Result<Vec<Delivery>> {
        self.due_with(now, limit, |_, d, _| Ok(d))
    }

    /// [`Outbox::due`] with the payload of each delivery `wants` it for, read with its record
    /// (one read each).
    pub fn due_with_payloads(
        &self,
        now: Millis,
        limit: usize,
        wants: impl Fn(&Delivery) -> bool,
    ) -> Result<Vec<(Delivery, Option<Vec<u8>>)>> {
        self.due_with(now, limit, |id, d, payload| {
            if !wants(&d) {
                return Ok((d, None));
            }
            let payload = match payload {
                Some(payload) => payload.to_vec(),
                None => self.payload(id)?.ok_or_else(|| Error::Corrupt {
                    tree: T::Payloads.name(),
                    detail: format!("no payload for {id}"),
                })?,
            };
            Ok((d, Some(payload)))
        })
    }

    /// The due deliveries, each made into an `A` from its id, record and framed payload.
    fn due_with<A>(
        &self,
        now: Millis,
        limit: usize,
        f: impl Fn(DeliveryId, Delivery, Option<&[u8]>) -> Result<A>,
    ) -> Result<Vec<A>> {
        let end = index_key(None, &[now, u64::MAX]);
        let mut out = Vec::new();
        for key in self.tree(T::Due).range(..=end).keys() {
            if out.len() >= limit {
                break;
            }
            let key = key?;
            let (due_at, id) = (
                u64_at(T::Due, &key, 0)?,
                DeliveryId::new(u64_at(T::Due, &key, 8)?),
            );
            // The index and the record are read at different moments: skip an entry whose
            // delivery moved on in between.
            let Some(bytes) = self.tree(T::Deliveries).get(id.key())? else {
                continue;
            };
            let (record, payload) = split_record(&bytes)?;
            let d: Delivery = crate::store::decode(T::Deliveries, record)?;
            if d.state == (DeliveryState::Pending { due_at }) {
                out.push(f(id, d, payload)?);
            }
        }
        Ok(out)
    }

    /// When the earliest pending delivery falls due, if there is one: how long the daemon may
    /// sleep.
    pub fn next_due(&self) -> Result<Option<Millis>> {
        match self.tree(T::Due).first()? {
            Some((key, _)) => Ok(Some(u64_at(T::Due, &key, 0)?)),
            None => Ok(None),
        }
    }

    /// Claims the delivery for sending until `now + lease`, counting an attempt, and returns it
    /// with its payload. `None` when it cannot be claimed now: not yet due, in flight under a
    /// live lease (another sender has it), or finished. A delivery whose lease has run out may
    /// be claimed again.
    pub fn claim(&self, id: DeliveryId, now: Millis, lease: Millis) -> Result<Option<Claimed>> {
        self.transact(|tx| claim_in(tx, id, now, lease))
    }

    /// Extends the lease of an in-flight delivery to `now + lease` (a slow upload). Returns
    /// false, changing nothing, when it is not in flight.
    pub fn extend(&self, id: DeliveryId, now: Millis, lease: Millis) -> Result<bool> {
        self.transact(|tx| {
            let old = load(tx, id)?;
            let DeliveryState::InFlight { claimed_at, .. } = old.state else {
                return Ok(false);
            };
            let mut d = old.clone();
            d.state = DeliveryState::InFlight {
                claimed_at,
                lease_until: now.saturating_add(lease),
            };
            write(tx, Some(&old), Some(&d))?;
            Ok(true)
        })
    }

    /// Claims every one of `ids` that is claimable, in one transaction: what a delivery round
    /// takes at once. Those not claimable (no longer due, leased, finished) are left out.
    pub fn claim_many(
        &self,
        ids: &[DeliveryId],
        now: Millis,
        lease: Millis,
    ) -> Result<Vec<Claimed>> {
        self.transact(|tx| {
            let mut claimed = Vec::with_capacity(ids.len());
            for &id in ids {
                claimed.extend(claim_in(tx, id, now, lease)?);
            }
            Ok(claimed)
        })
    }

    /// Marks every one of `ids` delivered, in one transaction (see [`Outbox::complete`]).
    pub fn complete_many(&self, ids: &[DeliveryId], now: Millis) -> Result<()> {
        self.transact(|tx| {
            for &id in ids {
                complete_in(tx, id, now)?;
            }
            Ok(())
        })?;
        self.commit_point()
    }

    /// Marks an in-flight delivery delivered, and returns once that is on disk. Completing a
    /// delivered one again is a no-op; any other state is [`Error::InvalidState`].
    pub fn complete(&self, id: DeliveryId, now: Millis) -> Result<Delivery> {
        let d = self.transact(|tx| complete_in(tx, id, now))?;
        self.commit_point()?;
        Ok(d)
    }

    /// Records a failed attempt of an in-flight delivery: pending again after the policy's
    /// backoff, or dead once it has used [`RetryPolicy::max_attempts`] or failed
    /// [`RetryPolicy::max_age`] after its round began. Any state but in flight is
    /// [`Error::InvalidState`].
    pub fn fail(
        &self,
        id: DeliveryId,
        error: &str,
        now: Millis,
        policy: &RetryPolicy,
    ) -> Result<FailOutcome> {
        let draw = fastrand::f64();
        self.transact(|tx| {
            let old = load(tx, id)?;
            if old.state.kind() != DeliveryStateKind::InFlight {
                return Err(invalid(&old, "fail it").into());
            }
            let d = old.clone();
            fail_in(tx, &old, d, error, now, policy, draw)
        })
    }

    /// Marks delivered, in one transaction, deliveries a sender handed over without claiming
    /// them, each as it read it: pending, due at the given time. Only a sender that hands a
    /// delivery over at once, in the thread that read it (a file written to a local directory,
    /// a line appended to a JSON Lines file), may skip the claim: no other sender can take it
    /// meanwhile, and a crash before this leaves it pending, to be delivered again like an
    /// in-flight one. Counts an attempt. A delivery that moved on since it was read (an
    /// operator dropped it) is left as it is. Returns, per delivery, whether it was marked now.
    pub fn complete_unclaimed_many(
        &self,
        delivered: &[(DeliveryId, Millis)],
        now: Millis,
    ) -> Result<Vec<bool>> {
        self.transact(|tx| {
            let mut marked = Vec::with_capacity(delivered.len());
            for &(id, due_at) in delivered {
                let old = load(tx, id)?;
                if old.state != (DeliveryState::Pending { due_at }) {
                    marked.push(false);
                    continue;
                }
                let mut d = old.clone();
                d.attempts = d.attempts.saturating_add(1);
                d.state = DeliveryState::Delivered { at: now };
                write(tx, Some(&old), Some(&d))?;
                marked.push(true);
            }
            Ok(marked)
        })
    }

    /// [`Outbox::fail`] for a delivery handed over without a claim (see
    /// [`Outbox::complete_unclaimed_many`]), as read: pending, due at `due_at`. Counts the
    /// attempt. `None`, changing nothing, when it moved on since it was read.
    pub fn fail_unclaimed(
        &self,
        id: DeliveryId,
        due_at: Millis,
        error: &str,
        now: Millis,
        policy: &RetryPolicy,
    ) -> Result<Option<FailOutcome>> {
        let draw = fastrand::f64();
        self.transact(|tx| {
            let old = load(tx, id)?;
            if old.state != (DeliveryState::Pending { due_at }) {
                return Ok(None);
            }
            let mut d = old.clone();
            d.attempts = d.attempts.saturating_add(1);
            fail_in(tx, &old, d, error, now, policy, draw).map(Some)
        })
    }

    /// An operator's retry: a dead or pending delivery becomes due now, with a new round of
    /// attempts (attempts back to 0, [`RetryPolicy::max_age`] counting from now). Flushed.
    /// Any other state is [`Error::InvalidState`].
    pub fn retry(&self, id: DeliveryId, now: Millis) -> Result<Delivery> {
        self.requeue(id, now, "retry it", |k| {
            matches!(k, DeliveryStateKind::Dead | DeliveryStateKind::Pending)
        })
    }

    /// An operator's replay: the delivery is sent again, whatever became of it — delivered,
    /// dead, dropped or still pending — due now with a fresh round of attempts and the same
    /// payload and idempotency key (the receiver deduplicates on it). Flushed. An in-flight one
    /// is [`Error::InvalidState`]: it is being sent.
    pub fn redeliver(&self, id: DeliveryId, now: Millis) -> Result<Delivery> {
        self.requeue(id, now, "send it again", |k| {
            k != DeliveryStateKind::InFlight
        })
    }

    /// An operator's action that makes a delivery due now with a fresh round of attempts, from
    /// the states `allowed` accepts. Flushed. Returns the delivery as the action left it (a
    /// sender may claim it a moment later).
    fn requeue(
        &self,
        id: DeliveryId,
        now: Millis,
        verb: &'static str,
        allowed: impl Fn(DeliveryStateKind) -> bool,
    ) -> Result<Delivery> {
        let d = self.transact(|tx| {
            let old = load(tx, id)?;
            if !allowed(old.state.kind()) {
                return Err(invalid(&old, verb).into());
            }
            let mut d = old.clone();
            d.state = DeliveryState::Pending { due_at: now };
            d.attempts = 0;
            d.cycle_started_at = now;
            write(tx, Some(&old), Some(&d))?;
            Ok(d)
        })?;
        self.flush()?;
        Ok(d)
    }

    /// An operator's drop: a pending or dead delivery will not be sent. Flushed. Dropping a
    /// dropped one again is a no-op; an in-flight or delivered one is [`Error::InvalidState`]
    /// (let the attempt finish, then drop).
    pub fn drop(&self, id: DeliveryId, now: Millis) -> Result<Delivery> {
        let d = self.transact(|tx| {
            let old = load(tx, id)?;
            match old.state.kind() {
                DeliveryStateKind::Pending | DeliveryStateKind::Dead => {}
                DeliveryStateKind::Dropped => return Ok(old),
                _ => return Err(invalid(&old, "drop it").into()),
            }
            let mut d = old.clone();
            d.state = DeliveryState::Dropped { at: now };
            write(tx, Some(&old), Some(&d))?;
            Ok(d)
        })?;
        self.flush()?;
        Ok(d)
    }

    /// Puts in-flight deliveries whose lease ended at or before `now` back to pending, due now,
    /// and returns them: their sender died or hung. The daemon calls this now and then.
    pub fn requeue_expired(&self, now: Millis) -> Result<Vec<DeliveryId>> {
        let ids = self.in_flight_ids(Some(now))?;
        let mut requeued = Vec::new();
        for id in ids {
            let done = self.transact(|tx| {
                let old = load(tx, id)?;
                match old.state {
                    DeliveryState::InFlight { lease_until, .. } if lease_until <= now => {}
                    _ => return Ok(false),
                }
                let mut d = old.clone();
                d.state = DeliveryState::Pending { due_at: now };
                write(tx, Some(&old), Some(&d))?;
                Ok(true)
            })?;
            if done {
                requeued.push(id);
            }
        }
        Ok(requeued)
    }

    /// After a crash every in-flight delivery's sender is gone: pending again, due when it was
    /// claimed, which is in the past, so at once and in its old order.
    pub(crate) fn recover_in_flight(&self) -> Result<()> {
        let ids = self.in_flight_ids(None)?;
        for &id in &ids {
            self.transact(|tx| {
                let old = load(tx, id)?;
                let DeliveryState::InFlight { claimed_at, .. } = old.state else {
                    return Ok(());
                };
                let mut d = old.clone();
                d.state = DeliveryState::Pending { due_at: claimed_at };
                write(tx, Some(&old), Some(&d))
            })?;
        }
        if !ids.is_empty() {
            self.flush()?;
        }
        Ok(())
    }

    /// In-flight deliveries, those whose lease ends at or before `until` if given. Collected
    /// before any transaction runs: sled's transaction lock must not be taken while an
    /// iterator is open.
    fn in_flight_ids(&self, until: Option<Millis>) -> Result<Vec<DeliveryId>> {
        let tag = DeliveryStateKind::InFlight.tag();
        let start = index_key(Some(tag), &[]);
        let end = match until {
            Some(t) => index_key(Some(tag), &[t, u64::MAX]),
            None => index_key(Some(tag), &[u64::MAX, u64::MAX]),
        };
        self.tree(T::ByState)
            .range(start..=end)
            .keys()
            .map(|key| Ok(DeliveryId::new(u64_at(T::ByState, &key?, 9)?)))
            .collect()
    }

    /// The deliveries of message `id`, oldest first.
    pub fn deliveries_for(&self, id: MessageId) -> Result<Vec<Delivery>> {
        self.list_deliveries(
            &DeliveryFilter {
                message_id: Some(id),
                ..DeliveryFilter::default()
            },
            usize::MAX,
        )
    }

    /// Up to `limit` deliveries matching `filter`. With a message, that message's in the order
    /// they were enqueued; else with a state, in that state's index order (pending by due time,
    /// in flight by lease end, dead, dropped and awaiting a receipt by when they got there);
    /// else, and for delivered ones, the newest first.
    pub fn list_deliveries(&self, filter: &DeliveryFilter, limit: usize) -> Result<Vec<Delivery>> {
        let ids: Box<dyn Iterator<Item = Result<DeliveryId>>> = if let Some(message) =
            filter.message_id
        {
            Box::new(self.deliveries_of(message)?.into_iter().map(Ok))
        } else if let Some(state) = filter.state.filter(|s| *s != DeliveryStateKind::Delivered) {
            let (tree, prefix, offset) = match state {
                DeliveryStateKind::Pending => (T::Due, Vec::new(), 8),
                kind => (T::ByState, vec![kind.tag()], 9),
            };
            Box::new(
                self.tree(tree)
                    .scan_prefix(prefix)
                    .keys()
                    .map(move |k| Ok(DeliveryId::new(u64_at(tree, &k?, offset)?))),
            )
        } else {
            Box::new(
                self.tree(T::Deliveries)
                    .iter()
                    .keys()
                    .rev()
                    .map(|k| Ok(DeliveryId::new(u64_at(T::Deliveries, &k?, 0)?))),
            )
        };
        let mut out = Vec::new();
        for id in ids {
            if out.len() >= limit {
                break;
            }
            let Some(d) = self.delivery(id?)? else {
                continue;
            };
            if filter
                .destination
                .as_ref()
                .is_some_and(|dest| &d.destination != dest)
                || filter.state.is_some_and(|s| d.state.kind() != s)
                || filter.message_id.is_some_and(|m| d.message_id != Some(m))
            {
                continue;
            }
            out.push(d);
        }
        Ok(out)
    }

    /// The ids of message `id`'s deliveries, in the order they were queued: those its record
    /// lists and those indexed apart (by earlier versions, or for a message not stored). Some
    /// may have been removed since by retention.
    pub(crate) fn deliveries_of(&self, id: MessageId) -> Result<Vec<DeliveryId>> {
        let mut ids = self.message(id)?.map(|m| m.deliveries).unwrap_or_default();
        for key in self
            .tree(T::MessageIndex)
            .scan_prefix(index_key(Some(IX_DELIVERIES), &[id.get()]))
            .keys()
        {
            ids.push(DeliveryId::new(u64_at(T::MessageIndex, &key?, 9)?));
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// How many deliveries each destination has in each state, destinations sorted. Kept as
    /// counters updated by every transaction, so this reads one small tree.
    pub fn counts(&self) -> Result<Vec<DestinationCounts>> {
        let mut out: Vec<DestinationCounts> = Vec::new();
        for item in self.tree(T::Counts).iter() {
            let (key, value) = item?;
            let (destination, rest) = split_composite(T::Counts, &key)?;
            let kind = rest
                .first()
                .copied()
                .and_then(DeliveryStateKind::from_tag)
                .ok_or_else(|| Error::Corrupt {
                    tree: T::Counts.name(),
                    detail: "bad state tag".into(),
                })?;
            let n = read_u64(T::Counts, &value)?;
            if out.last().is_none_or(|c| c.destination != destination) {
                out.push(DestinationCounts {
                    destination,
                    ..DestinationCounts::default()
                });
            }
            if let Some(last) = out.last_mut() {
                *last.slot(kind) = n;
            }
        }
        out.sort_by(|a, b| a.destination.cmp(&b.destination));
        Ok(out)
    }

    /// How many deliveries to `destination` are in flight: what a per-partner concurrency limit
    /// compares against.
    pub fn in_flight(&self, destination: &str) -> Result<u64> {
        match self
            .tree(T::Counts)
            .get(count_key(destination, DeliveryStateKind::InFlight))?
        {
            Some(bytes) => read_u64(T::Counts, &bytes),
            None => Ok(0),
        }
    }
}

/// Claims one delivery inside a transaction; `None` when it is not claimable now.
/// Records a failed attempt of `d` (which was `old`): due again after a backoff, or dead when
/// attempts or age are used up.
pub(crate) fn fail_in(
    tx: &Tx<'_>,
    old: &Delivery,
    mut d: Delivery,
    error: &str,
    now: Millis,
    policy: &RetryPolicy,
    draw: f64,
) -> TxResult<FailOutcome> {
    d.last_error = Some(error.to_owned());
    let outcome = if d.attempts >= policy.max_attempts
        || now.saturating_sub(d.cycle_started_at) >= policy.max_age
    {
        let reason = format!("gave up after {} attempt(s): {error}", d.attempts);
        d.state = DeliveryState::Dead { reason, at: now };
        FailOutcome::Dead
    } else {
        let due_at = now.saturating_add(policy.delay(d.attempts, draw));
        d.state = DeliveryState::Pending { due_at };
        FailOutcome::RetryAt(due_at)
    };
    write(tx, Some(old), Some(&d))?;
    Ok(outcome)
}

fn claim_in(tx: &Tx<'_>, id: DeliveryId, now: Millis, lease: Millis) -> TxResult<Option<Claimed>> {
    let old = load(tx, id)?;
    let claimable = match old.state {
        DeliveryState::Pending { due_at } => due_at <= now,
        DeliveryState::InFlight { lease_until, .. } => lease_until <= now,
        _ => false,
    };
    if !claimable {
        return Ok(None);
    }
    let mut d = old.clone();
    d.attempts = d.attempts.saturating_add(1);
    d.state = DeliveryState::InFlight {
        claimed_at: now,
        lease_until: now.saturating_add(lease),
    };
    write(tx, Some(&old), Some(&d))?;
    Ok(Some(Claimed {
        payload: stored_payload(tx, id)?,
        delivery: d,
    }))
}

/// Marks one delivery delivered inside a transaction (a delivered one stays as it was).
fn complete_in(tx: &Tx<'_>, id: DeliveryId, now: Millis) -> TxResult<Delivery> {
    let old = load(tx, id)?;
    match old.state {
        DeliveryState::InFlight { .. } => {}
        DeliveryState::Delivered { .. } => return Ok(old),
        _ => return Err(invalid(&old, "complete it").into()),
    }
    let mut d = old.clone();
    d.state = DeliveryState::Delivered { at: now };
    write(tx, Some(&old), Some(&d))?;
    Ok(d)
}

/// An idempotency key already in use: the same document again is the existing delivery; anything
/// else (other bytes, or `None` for other counters) is [`Error::KeyConflict`].
fn same_or_conflict(
    tx: &Tx<'_>,
    existing: Delivery,
    key: &str,
    payload: Option<&[u8]>,
) -> TxResult<Enqueued> {
    if let Some(payload) = payload
        && stored_payload(tx, existing.id)? == payload
    {
        return Ok(Enqueued {
            delivery: existing,
            created: false,
        });
    }
    Err(Error::KeyConflict {
        key: key.to_owned(),
        existing: existing.id,
    }
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Millis = 1_700_000_000_000;

    /// Rewrites delivery `id` as an earlier version stored it: the record as JSON alone, the
    /// payload in `payloads`.
    fn store_as_before(outbox: &Outbox, id: DeliveryId) {
        let d = outbox.delivery(id).unwrap().unwrap();
        let payload = outbox.payload(id).unwrap().unwrap();
        let json = crate::store::encode(&d).unwrap();
        outbox.tree(T::Deliveries).insert(id.key(), json).unwrap();
        outbox.tree(T::Payloads).insert(id.key(), payload).unwrap();
    }

    #[test]
    fn a_delivery_stored_by_an_earlier_version_is_sent_and_purged_like_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let new = NewDelivery::new("sink:events", "event:1", "application/json", T0);
        let old = outbox.enqueue(new.clone(), b"{\"n\":1}").unwrap().delivery;
        store_as_before(&outbox, old.id);
        assert_eq!(outbox.delivery(old.id).unwrap().unwrap(), old);
        // The same document again is that delivery; another one under its key is not.
        assert!(!outbox.enqueue(new.clone(), b"{\"n\":1}").unwrap().created);
        assert!(matches!(
            outbox.enqueue(new, b"{\"n\":2}"),
            Err(Error::KeyConflict { .. })
        ));
        let claimed = outbox.claim(old.id, T0, 1_000).unwrap().unwrap();
        assert_eq!(claimed.payload, b"{\"n\":1}");
        let old = outbox.complete(old.id, T0 + 1).unwrap();
        // Earlier versions indexed delivered ones too.
        outbox
            .tree(T::ByState)
            .insert(delivered_entry(&old), &[])
            .unwrap();
        // Still an earlier version's record: the payload stays where it was.
        let stored = outbox
            .tree(T::Deliveries)
            .get(old.id.key())
            .unwrap()
            .unwrap();
        assert_eq!(stored.first(), Some(&b'{'));
        assert_eq!(outbox.payload(old.id).unwrap().unwrap(), b"{\"n\":1}");

        // A new delivery keeps its payload framed with its record through every change.
        let fresh = outbox
            .enqueue(
                NewDelivery::new("sink:events", "event:2", "application/json", T0),
                b"payload two",
            )
            .unwrap()
            .delivery;
        assert!(
            outbox
                .tree(T::Payloads)
                .get(fresh.id.key())
                .unwrap()
                .is_none()
        );
        let claimed = outbox.claim(fresh.id, T0, 1_000).unwrap().unwrap();
        assert_eq!(claimed.payload, b"payload two");
        let done = outbox.complete(fresh.id, T0 + 2).unwrap();
        assert_eq!(outbox.delivery(fresh.id).unwrap().unwrap(), done);
        assert_eq!(outbox.payload(fresh.id).unwrap().unwrap(), b"payload two");

        // Listed newest first, indexed or not.
        let delivered = DeliveryFilter {
            state: Some(DeliveryStateKind::Delivered),
            ..DeliveryFilter::default()
        };
        let listed: Vec<DeliveryId> = outbox
            .list_deliveries(&delivered, 10)
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(listed, [fresh.id, old.id]);

        // Retention goes by when they were delivered, not by the index.
        let purged = outbox.purge(T0 + 2).unwrap();
        assert_eq!(
            purged.deliveries.iter().map(|d| d.id).collect::<Vec<_>>(),
            [old.id]
        );
        assert_eq!(outbox.tree(T::ByState).len(), 0);
        let purged = outbox.purge(T0 + 10).unwrap();
        assert_eq!(
            purged.deliveries.iter().map(|d| d.id).collect::<Vec<_>>(),
            [fresh.id]
        );
        for id in [old.id, fresh.id] {
            assert_eq!(outbox.delivery(id).unwrap(), None);
            assert_eq!(outbox.payload(id).unwrap(), None);
        }
        assert!(outbox.list_deliveries(&delivered, 10).unwrap().is_empty());
    }

    #[test]
    fn a_delivery_delivered_under_an_earlier_version_leaves_its_index_when_sent_again() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let new = NewDelivery::new("sink:events", "event:1", "application/json", T0);
        let d = outbox.enqueue(new, b"{}").unwrap().delivery;
        outbox.claim(d.id, T0, 1_000).unwrap().unwrap();
        let done = outbox.complete(d.id, T0 + 1).unwrap();
        assert_eq!(outbox.tree(T::ByState).len(), 0, "delivered: no entry");
        outbox
            .tree(T::ByState)
            .insert(delivered_entry(&done), &[])
            .unwrap();
        let again = outbox.redeliver(d.id, T0 + 5).unwrap();
        assert_eq!(again.state, DeliveryState::Pending { due_at: T0 + 5 });
        assert_eq!(outbox.tree(T::ByState).len(), 0);
        assert_eq!(outbox.due(T0 + 5, 10).unwrap(), [again]);
    }

    #[test]
    fn due_deliveries_come_with_the_payloads_asked_for_however_stored() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let enqueue = |dest: &str, key: &str, payload: &[u8]| {
            let new = NewDelivery::new(dest, key, "application/json", T0);
            outbox.enqueue(new, payload).unwrap().delivery.id
        };
        let old = enqueue("sink:events", "e1", b"one");
        store_as_before(&outbox, old);
        let framed = enqueue("sink:events", "e2", b"two");
        let remote = enqueue("webhook:erp", "e3", b"three");
        let due = outbox
            .due_with_payloads(T0, 10, |d| d.destination.starts_with("sink:"))
            .unwrap();
        let got: Vec<(DeliveryId, Option<&[u8]>)> =
            due.iter().map(|(d, p)| (d.id, p.as_deref())).collect();
        assert_eq!(
            got,
            [
                (old, Some(&b"one"[..])),
                (framed, Some(&b"two"[..])),
                (remote, None)
            ]
        );
        assert_eq!(
            outbox.due(T0, 10).unwrap(),
            due.into_iter().map(|(d, _)| d).collect::<Vec<_>>()
        );
        assert!(
            outbox
                .due_with_payloads(T0 - 1, 10, |_| true)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_framed_record_cut_short_is_reported_not_read() {
        let d = Delivery {
            id: DeliveryId::new(3),
            message_id: None,
            partner: None,
            destination: "sink:events".into(),
            key: "k".into(),
            content_kind: "application/json".into(),
            size: 2,
            numbers: Vec::new(),
            attempts: 0,
            state: DeliveryState::Pending { due_at: T0 },
            last_error: None,
            created_at: T0,
            cycle_started_at: T0,
            ack_expected: false,
            acknowledgements: Vec::new(),
            receipts: Vec::new(),
        };
        let value = encode_record(&d, b"ab").unwrap();
        assert_eq!(decode_record(&value).unwrap(), d);
        assert_eq!(split_record(&value).unwrap().1, Some(&b"ab"[..]));
        for cut in [1, 3, 10, value.len() - 3] {
            assert!(
                matches!(decode_record(&value[..cut]), Err(Error::Corrupt { .. })),
                "cut at {cut}"
            );
        }
    }
}
