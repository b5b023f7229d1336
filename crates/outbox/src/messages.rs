//! Inbound message records and their traces.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::Outbox;
use crate::error::{Error, Result};
use crate::ids::{DeliveryId, MessageId, Millis};
use crate::store::{T, Tx, TxResult, index_key, read_u64, u64_at};
use crate::unreleased::NewMarkers;

pub(crate) const SEQ_MESSAGE: &[u8] = b"seq/message";
/// `meta` prefix of each partner's latest arrival: partner id → received-at.
pub(crate) const LAST_RECEIVED: &[u8] = b"last_received/";
/// `meta` key of the time the store was first opened by a version that records it.
pub(crate) const CREATED_AT: &[u8] = b"created_at";
/// `message_index` prefixes.
pub(crate) const IX_PENDING: u8 = b'p';
pub(crate) const IX_RECEIVED: u8 = b'r';
pub(crate) const IX_DELIVERIES: u8 = b'd';

/// A file just written to the spool, as [`Outbox::record_received`] takes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMessage {
    /// The channel it came through.
    pub channel: String,
    /// Its name as the channel gave it.
    pub file_name: String,
    /// Where the spool keeps the raw bytes (must be UTF-8: records are JSON).
    pub spool_path: PathBuf,
    /// Where in that file they start (spool files hold many received files one after another).
    pub spool_offset: u64,
    /// Its size in bytes.
    pub size: u64,
    /// The SHA-256 of its bytes, in hex.
    pub sha256: String,
    /// When it was received.
    pub received_at: Millis,
}

/// The record of one inbound file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Its id.
    pub id: MessageId,
    /// The channel it came through.
    pub channel: String,
    /// Its name as the channel gave it.
    pub file_name: String,
    /// Where the spool keeps the raw bytes.
    pub spool_path: PathBuf,
    /// Where in that file they start.
    #[serde(default)]
    pub spool_offset: u64,
    /// Its size in bytes.
    pub size: u64,
    /// The SHA-256 of its bytes, in hex.
    pub sha256: String,
    /// When it was received.
    pub received_at: Millis,
    /// The trading partner, once identified.
    pub partner: Option<String>,
    /// Where processing stands.
    pub state: MessageState,
    /// When the record last changed.
    pub updated_at: Millis,
    /// How many trace entries it has.
    pub trace_len: u32,
    /// The messages the file held, by type (`850`, `ORDERS`): X12 ST01, EDIFACT UNH 0065. Set
    /// when it is processed; empty for a file not readable as EDI, or recorded by a version that
    /// did not keep them.
    #[serde(default)]
    pub message_types: Vec<String>,
    /// The canonical events made from it, by type (`order.created`).
    #[serde(default)]
    pub event_types: Vec<String>,
    /// How many times an operator had it processed again ([`Outbox::reopen`]); 0 the first
    /// time.
    #[serde(default)]
    pub revision: u32,
    /// Its deliveries (events, acknowledgements), in the order they were queued. Kept in the
    /// record, which the transaction queuing them writes anyway, rather than in an index of
    /// their own; stores written by earlier versions index them apart, and
    /// [`Outbox::list_deliveries`] reads both.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<DeliveryId>,
}

impl Message {
    /// Whether the file held a message of type `wanted` or made an event of that type. Case is
    /// ignored: an operator who types `orders` means the EDIFACT ORDERS.
    pub fn has_type(&self, wanted: &str) -> bool {
        self.message_types
            .iter()
            .chain(&self.event_types)
            .any(|t| t.eq_ignore_ascii_case(wanted))
    }
}

/// Where a message's processing stands. Every state but `Received` is final.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum MessageState {
    /// Spooled; processing has not finished (or was interrupted by a crash).
    Received,
    /// Processed: acknowledged, translated, its events queued.
    Processed,
    /// Set aside for an operator (unknown partner, unreadable file, …).
    Quarantined {
        /// Why.
        reason: String,
    },
    /// Processing failed and will not be retried by itself.
    Failed {
        /// Why.
        reason: String,
    },
    /// A repeat of an interchange already received.
    Duplicate {
        /// The message that brought it first.
        of: MessageId,
    },
}

/// [`MessageState`] without its details, for filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStateKind {
    /// [`MessageState::Received`].
    Received,
    /// [`MessageState::Processed`].
    Processed,
    /// [`MessageState::Quarantined`].
    Quarantined,
    /// [`MessageState::Failed`].
    Failed,
    /// [`MessageState::Duplicate`].
    Duplicate,
}

impl MessageState {
    /// Its kind.
    pub fn kind(&self) -> MessageStateKind {
        match self {
            MessageState::Received => MessageStateKind::Received,
            MessageState::Processed => MessageStateKind::Processed,
            MessageState::Quarantined { .. } => MessageStateKind::Quarantined,
            MessageState::Failed { .. } => MessageStateKind::Failed,
            MessageState::Duplicate { .. } => MessageStateKind::Duplicate,
        }
    }

    /// Whether processing is over (every state but [`MessageState::Received`]).
    pub fn is_finished(&self) -> bool {
        !matches!(self, MessageState::Received)
    }

    pub(crate) fn step(&self) -> Step {
        match self {
            MessageState::Received => Step::Requeued,
            MessageState::Processed => Step::Processed,
            MessageState::Quarantined { reason } => Step::Quarantined {
                reason: reason.clone(),
            },
            MessageState::Failed { reason } => Step::Failed {
                reason: reason.clone(),
            },
            MessageState::Duplicate { of } => Step::Duplicate { of: *of },
        }
    }
}

/// One step in a message's trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Step {
    /// Recorded by [`Outbox::record_received`].
    Received,
    /// The partner was identified ([`Outbox::set_partner`]).
    Identified {
        /// The partner.
        partner: String,
    },
    /// Recognised as a repeat of an earlier message.
    Duplicate {
        /// The earlier message.
        of: MessageId,
    },
    /// Validated.
    Validated {
        /// Transaction sets / messages accepted.
        accepted: u32,
        /// Transaction sets / messages rejected.
        rejected: u32,
    },
    /// An operator had it processed again, as this revision.
    Reprocessing {
        /// 1 for the first time again, and so on.
        revision: u32,
    },
    /// An acknowledgement was queued.
    AckQueued {
        /// Its delivery.
        delivery: DeliveryId,
        /// Its interchange control number.
        control_number: String,
    },
    /// The partner's acknowledgement (TA1, 997/999, CONTRL) in this file matched a document we
    /// sent them; the detail names the acknowledgement and its codes.
    Acknowledged {
        /// The delivery that carried our document.
        delivery: DeliveryId,
        /// What the acknowledgement said of it.
        outcome: crate::AckOutcome,
    },
    /// Translated into canonical events.
    Translated {
        /// How many.
        events: u32,
    },
    /// One of its events reached its sink.
    EventDelivered {
        /// The delivery.
        delivery: DeliveryId,
    },
    /// Set aside for an operator.
    Quarantined {
        /// Why.
        reason: String,
    },
    /// Something went wrong; processing may go on.
    Error {
        /// What.
        reason: String,
    },
    /// Processing finished ([`MessageState::Processed`]).
    Processed,
    /// Processing failed for good ([`MessageState::Failed`]).
    Failed {
        /// Why.
        reason: String,
    },
    /// Put back to [`MessageState::Received`] to be processed again.
    Requeued,
}

/// What [`Outbox::finish_message_with`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// For each delivery, whether it was new (a repeat after a crash finds it queued already).
    pub created: Vec<bool>,
    /// What each outbound document became ([`crate::Finish::outbound`]), in order; none for
    /// one whose key was queued before.
    pub outbound: Vec<Option<crate::Enqueued>>,
    /// The aggregate updates left out, by index, with why.
    pub aggregate_failures: Vec<(usize, String)>,
}

/// One entry of a message's trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceEntry {
    /// When.
    pub at: Millis,
    /// What happened.
    pub step: Step,
    /// Free text for the operator.
    pub detail: String,
}

/// Which messages [`Outbox::list_messages`] returns; every field left `None` matches all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageFilter {
    /// Only this partner's.
    pub partner: Option<String>,
    /// Only those in this state.
    pub state: Option<MessageStateKind>,
    /// Only those received at or after this time.
    pub since: Option<Millis>,
    /// Only those holding a message of this type (`850`, `ORDERS`) or that made an event of
    /// this type (`order.created`); see [`Message::has_type`].
    pub message_type: Option<String>,
}

fn pending_key(id: MessageId) -> Vec<u8> {
    index_key(Some(IX_PENDING), &[id.get()])
}

pub(crate) fn received_key(m: &Message) -> Vec<u8> {
    index_key(Some(IX_RECEIVED), &[m.received_at, m.id.get()])
}

pub(crate) fn trace_key(id: MessageId, seq: u32) -> Vec<u8> {
    let mut key = id.key().to_vec();
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// Appends each of `new` not yet in `list`, keeping first-seen order.
pub(crate) fn add_new(list: &mut Vec<String>, new: &[String]) {
    for t in new {
        if !list.contains(t) {
            list.push(t.clone());
        }
    }
}

/// The `meta` key of a partner's latest arrival.
fn last_received_key(partner: &str) -> Vec<u8> {
    let mut key = LAST_RECEIVED.to_vec();
    key.extend_from_slice(partner.as_bytes());
    key
}

/// Moves the partner's latest arrival to `at` unless a later one is recorded (messages may be
/// identified out of arrival order, after a restart).
fn note_received(tx: &Tx<'_>, partner: &str, at: Millis) -> TxResult<()> {
    let key = last_received_key(partner);
    if tx.get_u64(T::Meta, &key)?.is_none_or(|known| known < at) {
        tx.put(T::Meta, &key, &at.to_be_bytes())?;
    }
    Ok(())
}

/// Sets the message's partner in `m` (the caller writes `m`) and notes its arrival for the
/// partner: true the first time, false when it already is `partner`, [`Error::PartnerConflict`]
/// when it is another.
pub(crate) fn identify(tx: &Tx<'_>, m: &mut Message, partner: &str, now: Millis) -> TxResult<bool> {
    match &m.partner {
        Some(existing) if existing == partner => return Ok(false),
        Some(existing) => {
            return Err(Error::PartnerConflict {
                id: m.id,
                existing: existing.clone(),
                requested: partner.to_owned(),
            }
            .into());
        }
        None => {}
    }
    m.partner = Some(partner.to_owned());
    m.updated_at = now;
    note_received(tx, partner, m.received_at)?;
    Ok(true)
}

/// Lists the message among those still to be processed, or takes it off the list.
pub(crate) fn set_pending(tx: &Tx<'_>, id: MessageId, pending: bool) -> TxResult<()> {
    if pending {
        tx.put(T::MessageIndex, &pending_key(id), &[])
    } else {
        tx.remove(T::MessageIndex, &pending_key(id))
    }
}

pub(crate) fn assign_partner(
    tx: &Tx<'_>,
    id: MessageId,
    partner: &str,
    now: Millis,
) -> TxResult<()> {
    let mut m = load(tx, id)?;
    if !identify(tx, &mut m, partner, now)? {
        return Ok(());
    }
    push_trace(
        tx,
        &mut m,
        now,
        Step::Identified {
            partner: partner.to_owned(),
        },
        "",
    )?;
    tx.put_json(T::Messages, &id.key(), &m)
}

/// Records `new` and marks it as still in its channel (a batch of its own): the message's id,
/// and the marker for the caller to [`Outbox::remember_markers`] once the transaction commits.
pub(crate) fn insert_received(tx: &Tx<'_>, new: &NewMessage) -> TxResult<(MessageId, NewMarkers)> {
    let m = insert_received_record(tx, new)?;
    let mut markers = NewMarkers::default();
    markers.add(&m);
    markers.write(tx)?;
    Ok((m.id, markers))
}

/// Records `new` (without a receipt marker), returning the record written.
fn insert_received_record(tx: &Tx<'_>, new: &NewMessage) -> TxResult<Message> {
    let id = MessageId::new(tx.next_seq(SEQ_MESSAGE)?);
    let m = Message {
        id,
        channel: new.channel.clone(),
        file_name: new.file_name.clone(),
        spool_path: new.spool_path.clone(),
        spool_offset: new.spool_offset,
        size: new.size,
        sha256: new.sha256.clone(),
        received_at: new.received_at,
        partner: None,
        state: MessageState::Received,
        updated_at: new.received_at,
        // Its first trace entry, `Received`, is the record itself (see `received_entry`): one
        // write less for every file.
        trace_len: 1,
        message_types: Vec::new(),
        event_types: Vec::new(),
        revision: 0,
        deliveries: Vec::new(),
    };
    tx.put_json(T::Messages, &id.key(), &m)?;
    tx.put(T::MessageIndex, &pending_key(id), &[])?;
    tx.put(T::MessageIndex, &received_key(&m), &[])?;
    Ok(m)
}

/// A message's first trace entry, made from its record.
fn received_entry(m: &Message) -> TraceEntry {
    TraceEntry {
        at: m.received_at,
        step: Step::Received,
        detail: format!(
            "{} ({} bytes) from channel {}",
            m.file_name, m.size, m.channel
        ),
    }
}

pub(crate) fn load(tx: &Tx<'_>, id: MessageId) -> TxResult<Message> {
    tx.get_json(T::Messages, &id.key())?
        .ok_or_else(|| Error::MessageNotFound(id).into())
}

fn push_trace(tx: &Tx<'_>, m: &mut Message, at: Millis, step: Step, detail: &str) -> TxResult<()> {
    let entry = TraceEntry {
        at,
        step,
        detail: detail.to_owned(),
    };
    tx.put_json(T::Trace, &trace_key(m.id, m.trace_len), &entry)?;
    m.trace_len += 1;
    Ok(())
}

/// Appends what one transaction found to the message's trace as a single record (keyed by the
/// sequence number of its first entry): one write instead of one per step, on the path every
/// file takes.
pub(crate) fn push_trace_entries(
    tx: &Tx<'_>,
    m: &mut Message,
    entries: &[TraceEntry],
) -> TxResult<()> {
    let count = u32::try_from(entries.len())
        .map_err(|_| Error::Invalid("too many trace entries at once".into()))?;
    match entries {
        [] => return Ok(()),
        [one] => tx.put_json(T::Trace, &trace_key(m.id, m.trace_len), one)?,
        many => tx.put_json(T::Trace, &trace_key(m.id, m.trace_len), &many)?,
    }
    m.trace_len += count;
    Ok(())
}

/// A trace record: one entry, or the entries one transaction appended together.
#[derive(Deserialize)]
#[serde(untagged)]
enum TraceRecord {
    One(TraceEntry),
    Many(Vec<TraceEntry>),
}

impl Outbox {
    /// Records a file just written to the spool, and returns its new id once the record is on
    /// disk: only then may the channel be told the file was received.
    pub fn record_received(&self, new: NewMessage) -> Result<MessageId> {
        let ids = self.record_received_many(std::slice::from_ref(&new))?;
        ids.first()
            .copied()
            .ok_or_else(|| Error::Invalid("no message recorded".into()))
    }

    /// [`Outbox::record_received`] for a batch of files, in one transaction: the ids in the
    /// order given.
    pub fn record_received_many(&self, batch: &[NewMessage]) -> Result<Vec<MessageId>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let (ids, markers) = self.transact(|tx| {
            let mut ids = Vec::with_capacity(batch.len());
            let mut markers = NewMarkers::default();
            for new in batch {
                let m = insert_received_record(tx, new)?;
                markers.add(&m);
                ids.push(m.id);
            }
            markers.write(tx)?;
            Ok((ids, markers))
        })?;
        self.remember_markers(markers)?;
        self.commit_point()?;
        Ok(ids)
    }

    /// [`Outbox::record_received_many`], except that a file recorded before a restart and
    /// still in its channel ([`Outbox::find_unreleased`]) is found again instead of recorded:
    /// in one transaction, each file's message id and, when it was recorded now, the record
    /// written, in order.
    pub fn record_received_or_found(
        &self,
        batch: &[NewMessage],
    ) -> Result<Vec<(MessageId, Option<Message>)>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let ids = self.record_marked(batch, |marked| {
            self.transact(|tx| {
                let mut ids = Vec::with_capacity(batch.len());
                let mut markers = NewMarkers::default();
                for new in batch {
                    let found = marked
                        .get(&new.channel)
                        .and_then(|files| files.get(&(new.file_name.clone(), new.sha256.clone())));
                    ids.push(match found {
                        Some(&id) => (id, None),
                        None => {
                            let m = insert_received_record(tx, new)?;
                            markers.add(&m);
                            (m.id, Some(m))
                        }
                    });
                }
                markers.write(tx)?;
                Ok((ids, markers))
            })
        })?;
        self.commit_point()?;
        Ok(ids)
    }

    /// The message's record, if it exists.
    pub fn message(&self, id: MessageId) -> Result<Option<Message>> {
        self.get_json(T::Messages, &id.key())
    }

    /// The message's trace, oldest first.
    pub fn trace(&self, id: MessageId) -> Result<Vec<TraceEntry>> {
        let mut entries = Vec::new();
        for (n, record) in self.tree(T::Trace).scan_prefix(id.key()).enumerate() {
            let (key, record) = record?;
            // Entry 0 is stored only by versions that wrote it apart from the record.
            if n == 0
                && key.get(8..12) != Some(&0u32.to_be_bytes()[..])
                && let Some(m) = self.message(id)?
            {
                entries.push(received_entry(&m));
            }
            match crate::store::decode(T::Trace, &record)? {
                TraceRecord::One(entry) => entries.push(entry),
                TraceRecord::Many(many) => entries.extend(many),
            }
        }
        if entries.is_empty()
            && let Some(m) = self.message(id)?
        {
            entries.push(received_entry(&m));
        }
        Ok(entries)
    }

    /// Records the message's partner, with an `Identified` trace entry. Setting the same partner
    /// again does nothing, so a message reprocessed after a crash can repeat the call; a
    /// different partner is [`Error::PartnerConflict`].
    pub fn set_partner(&self, id: MessageId, partner: &str, now: Millis) -> Result<()> {
        self.transact(|tx| assign_partner(tx, id, partner, now))
    }

    /// [`Outbox::set_partner`] and, with `interchange` (control number and window),
    /// [`Outbox::check_interchange`], in one transaction: what processing an interchange first
    /// asks of the store.
    pub fn identify_interchange(
        &self,
        id: MessageId,
        partner: &str,
        now: Millis,
        interchange: Option<(&str, Millis)>,
    ) -> Result<Option<crate::PriorSighting>> {
        self.transact(|tx| {
            assign_partner(tx, id, partner, now)?;
            match interchange {
                Some((control, window)) => {
                    crate::dedup::sighting(tx, partner, control, id, now, window)
                }
                None => Ok(None),
            }
        })
    }

    /// Puts a finished message back to be processed again from its raw file (after a mapping or
    /// partner fix), as revision [`Message::revision`] + 1; its earlier trace stays. Refused
    /// (`Error::NotFinished`) while it is still being processed.
    pub fn reopen(&self, id: MessageId, now: Millis) -> Result<Message> {
        let m = self.transact(|tx| {
            let mut m = load(tx, id)?;
            if !m.state.is_finished() {
                return Err(Error::NotFinished(id).into());
            }
            m.revision += 1;
            let revision = m.revision;
            push_trace(tx, &mut m, now, Step::Reprocessing { revision }, "")?;
            m.state = MessageState::Received;
            m.updated_at = now;
            tx.put(T::MessageIndex, &pending_key(id), &[])?;
            tx.put_json(T::Messages, &id.key(), &m)?;
            Ok(m)
        })?;
        self.commit_point()?;
        Ok(m)
    }

    /// Appends a step to the message's trace.
    pub fn append_trace(&self, id: MessageId, now: Millis, step: Step, detail: &str) -> Result<()> {
        self.transact(|tx| {
            let mut m = load(tx, id)?;
            push_trace(tx, &mut m, now, step.clone(), detail)?;
            m.updated_at = now;
            tx.put_json(T::Messages, &id.key(), &m)
        })
    }

    /// Appends several trace entries and, when given, sets the final state — one transaction
    /// for what processing a message found, instead of one per step.
    pub fn record_steps(
        &self,
        id: MessageId,
        steps: &[(Millis, Step, String)],
        state: Option<(MessageState, Millis)>,
    ) -> Result<()> {
        self.record_outcome(id, steps, &[], &[], state)
    }

    /// [`Outbox::record_steps`], also adding the message and event types processing found to
    /// [`Message::message_types`] and [`Message::event_types`]. A type already recorded is not
    /// added again, so processing repeated after a crash leaves the same lists.
    pub fn record_outcome(
        &self,
        id: MessageId,
        steps: &[(Millis, Step, String)],
        message_types: &[String],
        event_types: &[String],
        state: Option<(MessageState, Millis)>,
    ) -> Result<()> {
        self.finish_message(id, steps, message_types, event_types, state, &[])
            .map(|_| ())
    }

    /// [`Outbox::record_outcome`], also enqueuing `deliveries` (the message's events, for
    /// their sinks) in the same transaction: the message is final exactly when what it made is
    /// queued. Returns, for each delivery, whether it was new (a repeat after a crash finds it
    /// queued already).
    pub fn finish_message(
        &self,
        id: MessageId,
        steps: &[(Millis, Step, String)],
        message_types: &[String],
        event_types: &[String],
        state: Option<(MessageState, Millis)>,
        deliveries: &[(crate::NewDelivery, Vec<u8>)],
    ) -> Result<Vec<bool>> {
        let none = crate::AggregateUpdates {
            updates: &[],
            at: 0,
            apply: &|_, _| Ok(Vec::new()),
        };
        self.finish_message_with(
            id,
            steps,
            message_types,
            event_types,
            state,
            deliveries,
            &none,
        )
        .map(|f| f.created)
    }

    /// [`Outbox::finish_message`], also applying `aggregates` (what the message teaches the
    /// partner insights) in the same transaction, once per update id. An update that cannot be
    /// computed is left out and reported in [`Finished::aggregate_failures`]: figures never
    /// stop a message.
    #[allow(clippy::too_many_arguments)]
    pub fn finish_message_with(
        &self,
        id: MessageId,
        steps: &[(Millis, Step, String)],
        message_types: &[String],
        event_types: &[String],
        state: Option<(MessageState, Millis)>,
        deliveries: &[(crate::NewDelivery, Vec<u8>)],
        aggregates: &crate::AggregateUpdates<'_>,
    ) -> Result<Finished> {
        let trace: Vec<crate::Planned> = steps
            .iter()
            .map(|(at, step, detail)| {
                crate::Planned::Entry(TraceEntry {
                    at: *at,
                    step: step.clone(),
                    detail: detail.clone(),
                })
            })
            .collect();
        let finish = crate::Finish {
            id,
            trace: &trace,
            sightings: &[],
            outbound: &[],
            message_types,
            event_types,
            state: state.map(|(state, at)| (state, at, "")),
            deliveries,
            aggregates: crate::AggregateUpdates {
                updates: aggregates.updates,
                at: aggregates.at,
                apply: aggregates.apply,
            },
        };
        let mut finished = self.finish_messages(std::slice::from_ref(&finish))?;
        finished
            .pop()
            .ok_or_else(|| Error::Invalid("no message finished".into()))
    }

    /// Moves the message to `state`, tracing the matching step with `detail`. A final state
    /// takes it off [`Outbox::pending_messages`]; [`MessageState::Received`] puts it back (to have
    /// it processed again). Setting the state it already has does nothing.
    pub fn set_state(
        &self,
        id: MessageId,
        state: MessageState,
        now: Millis,
        detail: &str,
    ) -> Result<()> {
        self.transact(|tx| {
            let mut m = load(tx, id)?;
            if m.state == state {
                return Ok(());
            }
            if state.is_finished() {
                tx.remove(T::MessageIndex, &pending_key(id))?;
            } else {
                tx.put(T::MessageIndex, &pending_key(id), &[])?;
            }
            push_trace(tx, &mut m, now, state.step(), detail)?;
            m.state = state.clone();
            m.updated_at = now;
            tx.put_json(T::Messages, &id.key(), &m)
        })
    }

    /// When each partner's latest file arrived (its [`Message::received_at`]), by partner id,
    /// counted once the file's partner is identified. Kept apart from the message records, so
    /// retention removing old messages does not make a partner look as if it never sent.
    pub fn last_received(&self) -> Result<BTreeMap<String, Millis>> {
        let mut out = BTreeMap::new();
        for entry in self.tree(T::Meta).scan_prefix(LAST_RECEIVED) {
            let (key, value) = entry.map_err(Error::from)?;
            let partner = key
                .get(LAST_RECEIVED.len()..)
                .and_then(|b| std::str::from_utf8(b).ok())
                .ok_or_else(|| Error::Corrupt {
                    tree: T::Meta.name(),
                    detail: "a last-received key that is not a partner id".into(),
                })?;
            out.insert(partner.to_owned(), read_u64(T::Meta, &value)?);
        }
        Ok(out)
    }

    /// When the store was created: the `now` of the first call on this store, which the daemon
    /// makes at every start. A store made by a version that did not record it gets `now` too,
    /// and its partners' latest arrivals ([`Outbox::last_received`]) are read once from the
    /// messages it holds.
    pub fn created_at(&self, now: Millis) -> Result<Millis> {
        if let Some(at) = self.tree(T::Meta).get(CREATED_AT).map_err(Error::from)? {
            return read_u64(T::Meta, &at);
        }
        let mut latest: BTreeMap<String, Millis> = BTreeMap::new();
        for value in self.tree(T::Messages).iter().values() {
            let m: Message = crate::store::decode(T::Messages, &value.map_err(Error::from)?)?;
            if let Some(p) = m.partner {
                let at = latest.entry(p).or_default();
                *at = (*at).max(m.received_at);
            }
        }
        let created = self.transact(|tx| {
            // Another caller may have got here first.
            if let Some(at) = tx.get_u64(T::Meta, CREATED_AT)? {
                return Ok(at);
            }
            for (partner, at) in &latest {
                note_received(tx, partner, *at)?;
            }
            tx.put(T::Meta, CREATED_AT, &now.to_be_bytes())?;
            Ok(now)
        })?;
        self.flush()?;
        Ok(created)
    }

    /// The messages received but not finished, oldest first: after a crash, the daemon processes
    /// these again from the spool.
    pub fn pending_messages(&self) -> Result<Vec<Message>> {
        let mut out = Vec::new();
        for key in self.tree(T::MessageIndex).scan_prefix([IX_PENDING]).keys() {
            let id = MessageId::new(u64_at(T::MessageIndex, &key?, 1)?);
            // Reads outside a transaction may interleave with one that just finished the message.
            if let Some(m) = self.message(id)?
                && !m.state.is_finished()
            {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// Up to `limit` messages matching `filter`, the most recently received first. Walks the
    /// arrival index back from now to `since`, so a narrow filter without `since` reads many
    /// records.
    pub fn list_messages(&self, filter: &MessageFilter, limit: usize) -> Result<Vec<Message>> {
        let start = index_key(Some(IX_RECEIVED), &[filter.since.unwrap_or(0)]);
        let end = vec![IX_RECEIVED + 1];
        let mut out = Vec::new();
        for key in self.tree(T::MessageIndex).range(start..end).keys().rev() {
            if out.len() >= limit {
                break;
            }
            let id = MessageId::new(u64_at(T::MessageIndex, &key?, 9)?);
            let Some(m) = self.message(id)? else { continue };
            if filter
                .partner
                .as_ref()
                .is_some_and(|p| m.partner.as_ref() != Some(p))
                || filter.state.is_some_and(|s| m.state.kind() != s)
                || filter
                    .message_type
                    .as_deref()
                    .is_some_and(|t| !m.has_type(t))
            {
                continue;
            }
            out.push(m);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_whose_first_entry_was_stored_apart_reads_it_once() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let new = NewMessage {
            channel: "dir:inbound".into(),
            file_name: "a.x12".into(),
            spool_path: PathBuf::from("/spool/a"),
            spool_offset: 0,
            size: 12,
            sha256: "ab".repeat(32),
            received_at: 1_000,
        };
        let id = outbox.record_received(new).unwrap();
        // Now: entry 0 is the record itself.
        let entries = outbox.trace(id).unwrap();
        assert_eq!(
            entries,
            [received_entry(&outbox.message(id).unwrap().unwrap())]
        );
        assert_eq!(
            entries[0].detail,
            "a.x12 (12 bytes) from channel dir:inbound"
        );
        // As older versions wrote it: entry 0 stored, then more.
        let stored = TraceEntry {
            at: 1_000,
            step: Step::Received,
            detail: "stored apart".into(),
        };
        outbox
            .transact(|tx| tx.put_json(T::Trace, &trace_key(id, 0), &stored))
            .unwrap();
        outbox
            .set_state(id, MessageState::Processed, 2_000, "")
            .unwrap();
        let steps: Vec<(Step, String)> = outbox
            .trace(id)
            .unwrap()
            .into_iter()
            .map(|e| (e.step, e.detail))
            .collect();
        assert_eq!(
            steps,
            [
                (Step::Received, "stored apart".to_owned()),
                (Step::Processed, String::new())
            ]
        );
    }
}
