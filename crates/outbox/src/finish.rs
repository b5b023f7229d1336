//! Messages finished together: what processing worked out outside the store — the message's
//! partner, the interchanges it claimed, the acknowledgements it answers with, the events it
//! made, its trace and final state — written for many messages in one transaction.
//!
//! Every sled transaction seals and writes the log buffer, and runs under sled's global lock,
//! so a transaction per step of every file is what bounds the daemon's pace. Processing a
//! batch of files therefore plans each one outside the store and finishes them all in one
//! [`Outbox::finish_messages`].
//!
//! Planning may read the store, and whatever it concluded from what it read must still hold
//! when the transaction runs: a duplicate-interchange verdict is checked again inside it, and
//! a verdict that no longer holds aborts the whole transaction with [`Error::Stale`], for the
//! caller to plan again. Control numbers are not read ahead: they are assigned inside the
//! transaction, and each outbound document is built there from them ([`Outbound::build`]).

use std::collections::HashMap;

use crate::aggregates::{AggregateUpdates, OnFailure};
use crate::counters::CounterKey;
use crate::dedup::PriorSighting;
use crate::deliveries::{BuildFn, Enqueued, NewDelivery};
use crate::error::{Error, Result};
use crate::ids::{MessageId, Millis};
use crate::messages::{Message, MessageState, Step, TraceEntry};
use crate::store::{T, Tx, TxResult, composite_key};
use crate::{Finished, Outbox};

/// One step of a message's trace as planned: most are known in full beforehand; two are
/// completed by the transaction that writes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Planned {
    /// An entry as it is.
    Entry(TraceEntry),
    /// The message's partner is `partner`: recorded, with an `Identified` entry, the first time;
    /// the same partner again adds nothing; another one is [`Error::PartnerConflict`].
    Identified {
        /// The partner.
        partner: String,
        /// When.
        at: Millis,
    },
    /// Outbound document `index` of the [`Finish`] is queued here, traced as
    /// [`Step::AckQueued`] with its delivery and first control number, and `detail`.
    Outbound {
        /// Its index in [`Finish::outbound`].
        index: usize,
        /// When.
        at: Millis,
        /// The entry's detail.
        detail: String,
    },
}

/// An interchange a message claims as first seen (partner, control number), with what planning
/// found when it asked [`Lookahead::sighting`]: the transaction claims it again and must find
/// the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sighting {
    /// The partner.
    pub partner: String,
    /// The interchange control number.
    pub control: String,
    /// When it was seen.
    pub at: Millis,
    /// How long an earlier sighting makes it a duplicate.
    pub window: Millis,
    /// The message that brought it first, when planning found it a duplicate.
    pub duplicate_of: Option<MessageId>,
}

/// A document for a partner, numbered from the partner's `counters` inside the transaction, as
/// [`Outbox::enqueue_outbound`] does, and built from those numbers (or taken as built ahead, see
/// [`Outbound::prebuilt`]). One whose key is
/// already queued is left as it was, takes no number and is not traced: the message is being
/// processed again, and was answered the first time.
pub struct Outbound<'a> {
    /// The partner whose counters number it.
    pub partner: &'a str,
    /// The counters, one number each, in the order `build` takes them.
    pub counters: &'a [CounterKey],
    /// Its delivery.
    pub new: &'a NewDelivery,
    /// Builds it from the numbers: a pure function of them, which may run more than once.
    pub build: &'a BuildFn<'a>,
    /// The document already built from the numbers the plan expects it to get
    /// ([`Lookahead::numbers`]): taken as it is when the transaction assigns exactly those,
    /// so that `build` does not run under sled's lock; `build` runs otherwise.
    pub prebuilt: Option<(&'a [u64], &'a [u8])>,
}

/// Everything that finishes one message, for [`Outbox::finish_messages`].
pub struct Finish<'a> {
    /// The message.
    pub id: MessageId,
    /// Its new trace entries, in order.
    pub trace: &'a [Planned],
    /// The interchanges it claims.
    pub sightings: &'a [Sighting],
    /// The documents it answers with (acknowledgements), queued where the trace places them.
    pub outbound: &'a [Outbound<'a>],
    /// The types of the messages it held, added to [`crate::Message::message_types`].
    pub message_types: &'a [String],
    /// The types of the events it made, added to [`crate::Message::event_types`].
    pub event_types: &'a [String],
    /// Its final state, when, and the detail of that trace entry.
    pub state: Option<(MessageState, Millis, &'a str)>,
    /// Its events' deliveries.
    pub deliveries: &'a [(NewDelivery, Vec<u8>)],
    /// What it teaches the aggregates.
    pub aggregates: AggregateUpdates<'a>,
}

/// Reads ahead for processing planned outside a transaction: duplicate-interchange verdicts,
/// counting the interchanges this plan already claimed.
pub struct Lookahead<'o> {
    outbox: &'o Outbox,
    /// Whether earlier sightings are read from the store (not when planning optimistically).
    reads_sightings: bool,
    claimed: HashMap<Vec<u8>, PriorSighting>,
    /// Each counter's last number, as the plan expects to leave it.
    numbers: HashMap<Vec<u8>, u64>,
}

impl<'o> Lookahead<'o> {
    /// Starts a plan that reads earlier sightings from the store.
    pub fn new(outbox: &'o Outbox) -> Self {
        Lookahead {
            outbox,
            reads_sightings: true,
            claimed: HashMap::new(),
            numbers: HashMap::new(),
        }
    }

    /// Starts a plan that reads nothing: an interchange not claimed earlier in the plan is
    /// taken as first seen. The transaction finishing the plan checks every verdict again, so
    /// a wrong guess (a repeat of an interchange finished before) writes nothing and fails with
    /// [`Error::Stale`]; plan again with [`Lookahead::new`] then. Worth it for batches: a read
    /// outside a transaction waits for whatever transaction is running (sled's reads take its
    /// concurrency lock), once per interchange.
    pub fn optimistic(outbox: &'o Outbox) -> Self {
        Lookahead {
            reads_sightings: false,
            ..Lookahead::new(outbox)
        }
    }

    /// The numbers `partner`'s `counters` will be given by the transaction finishing the plan,
    /// if nothing else takes numbers from them first and the plan's documents are numbered in
    /// the order they were asked for here: what [`Outbound::prebuilt`] is built from. A counter
    /// is read from the store only the first time this process uses it; after that, from what
    /// the last assignment left.
    pub fn numbers(&mut self, partner: &str, counters: &[CounterKey]) -> Result<Vec<u64>> {
        let mut out = Vec::with_capacity(counters.len());
        for counter in counters {
            let key = counter.storage_key(partner);
            let last = match self.numbers.get(&key) {
                Some(&last) => last,
                None => match self.outbox.counter_hints.get(&key) {
                    Some(last) => last,
                    None => self.outbox.counter(partner, counter)?.unwrap_or(0),
                },
            };
            let next = crate::counters::next_after(last, self.outbox.options.max_for(counter.kind));
            self.numbers.insert(key, next);
            out.push(next);
        }
        Ok(out)
    }

    /// [`Outbox::check_interchange`] as the plan's transaction will find it: the earlier
    /// sighting when `control` from `partner` was seen within `window` by another message; else
    /// `None`, and the plan claims it for `message`.
    pub fn sighting(
        &mut self,
        partner: &str,
        control: &str,
        message: MessageId,
        now: Millis,
        window: Millis,
    ) -> Result<Option<PriorSighting>> {
        let key = composite_key(&[partner, control]);
        let prior = match self.claimed.get(&key) {
            Some(p) => Some(p.clone()),
            None if self.reads_sightings => self.outbox.get_json(T::Interchanges, &key)?,
            None => None,
        };
        if let Some(prior) = prior {
            if prior.message_id == message {
                return Ok(None);
            }
            if now.saturating_sub(prior.seen_at) <= window {
                return Ok(Some(prior));
            }
        }
        self.claimed.insert(
            key,
            PriorSighting {
                message_id: message,
                seen_at: now,
            },
        );
        Ok(None)
    }
}

/// Writes one message's [`Finish`] inside the caller's transaction.
fn finish_in(tx: &Tx<'_>, outbox: &Outbox, f: &Finish<'_>) -> TxResult<Finished> {
    for s in f.sightings {
        let found = crate::dedup::sighting(tx, &s.partner, &s.control, f.id, s.at, s.window)?
            .map(|p| p.message_id);
        if found != s.duplicate_of {
            return Err(Error::Stale(format!(
                "interchange {} from {} was planned as {} but is now {}",
                s.control,
                s.partner,
                seen_as(s.duplicate_of),
                seen_as(found)
            ))
            .into());
        }
    }
    let (_, aggregate_failures) = crate::aggregates::apply_in(
        tx,
        f.aggregates.updates,
        f.aggregates.at,
        OnFailure::Skip,
        f.aggregates.apply,
    )?;
    let mut m = crate::messages::load(tx, f.id)?;
    let mut created = Vec::with_capacity(f.deliveries.len());
    for (new, payload) in f.deliveries {
        created.push(crate::deliveries::enqueue_in(tx, new, payload, Some(&mut m))?.created);
    }
    // Per document: not yet queued, or queued (none when it was queued before).
    let mut outbound: Vec<Option<Option<Enqueued>>> = f.outbound.iter().map(|_| None).collect();
    let mut entries = Vec::with_capacity(f.trace.len() + 1);
    for planned in f.trace {
        match planned {
            Planned::Entry(e) => entries.push(e.clone()),
            Planned::Identified { partner, at } => {
                if crate::messages::identify(tx, &mut m, partner, *at)? {
                    entries.push(TraceEntry {
                        at: *at,
                        step: Step::Identified {
                            partner: partner.clone(),
                        },
                        detail: String::new(),
                    });
                }
            }
            Planned::Outbound { index, at, detail } => {
                let Some(queued) = queue_outbound(tx, outbox, f, *index, &mut m)? else {
                    if let Some(slot) = outbound.get_mut(*index) {
                        *slot = Some(None);
                    }
                    continue;
                };
                entries.push(TraceEntry {
                    at: *at,
                    step: Step::AckQueued {
                        delivery: queued.delivery.id,
                        control_number: queued
                            .delivery
                            .numbers
                            .first()
                            .map(|n| n.value.to_string())
                            .unwrap_or_default(),
                    },
                    detail: detail.clone(),
                });
                if let Some(slot) = outbound.get_mut(*index) {
                    *slot = Some(Some(queued));
                }
            }
        }
    }
    // A document the trace does not place is queued all the same.
    let mut queued = Vec::with_capacity(outbound.len());
    for (index, done) in outbound.into_iter().enumerate() {
        queued.push(match done {
            Some(q) => q,
            None => queue_outbound(tx, outbox, f, index, &mut m)?,
        });
    }
    crate::messages::add_new(&mut m.message_types, f.message_types);
    crate::messages::add_new(&mut m.event_types, f.event_types);
    if let Some(last) = entries.last() {
        m.updated_at = m.updated_at.max(last.at);
    }
    if let Some((state, now, detail)) = &f.state
        && m.state != *state
    {
        crate::messages::set_pending(tx, f.id, !state.is_finished())?;
        entries.push(TraceEntry {
            at: *now,
            step: state.step(),
            detail: (*detail).to_owned(),
        });
        m.state = state.clone();
        m.updated_at = *now;
    }
    crate::messages::push_trace_entries(tx, &mut m, &entries)?;
    tx.put_json(T::Messages, &f.id.key(), &m)?;
    Ok(Finished {
        created,
        outbound: queued,
        aggregate_failures,
    })
}

/// Queues outbound document `index` of `f`; none when its key was queued before.
fn queue_outbound(
    tx: &Tx<'_>,
    outbox: &Outbox,
    f: &Finish<'_>,
    index: usize,
    m: &mut Message,
) -> TxResult<Option<Enqueued>> {
    let o = f.outbound.get(index).ok_or_else(|| {
        Error::Invalid(format!(
            "message {}: the trace queues outbound document {index} of {}",
            f.id,
            f.outbound.len()
        ))
    })?;
    if tx.get(T::Keys, o.new.key.as_bytes())?.is_some() {
        return Ok(None);
    }
    crate::deliveries::enqueue_outbound_in(tx, outbox, o, Some(m)).map(Some)
}

fn seen_as(duplicate_of: Option<MessageId>) -> String {
    match duplicate_of {
        Some(of) => format!("a duplicate of {of}"),
        None => "first seen".into(),
    }
}

impl Outbox {
    /// Finishes every message of `batch` in one transaction, in order: claims its interchanges,
    /// records its partner, queues its acknowledgements (assigning their control numbers) and
    /// its events, applies its aggregates, appends its trace and sets its state. All of them or
    /// none: when one fails — a duplicate verdict that no longer holds ([`Error::Stale`]), a
    /// partner conflict, a document that cannot be built — nothing is written, and the caller
    /// may finish the messages one at a time to keep the others.
    ///
    /// Returns, per message, whether each delivery was new, what each outbound document became,
    /// and the aggregate updates left out. Durable with the caller's flush under
    /// [`crate::Options::group_commit`], else before returning.
    pub fn finish_messages(&self, batch: &[Finish<'_>]) -> Result<Vec<Finished>> {
        for f in batch {
            for (new, _) in f.deliveries {
                crate::deliveries::check_new(new)?;
            }
            for o in f.outbound {
                crate::deliveries::check_new(o.new)?;
            }
        }
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let finished = self.transact(|tx| {
            batch
                .iter()
                .map(|f| finish_in(tx, self, f))
                .collect::<TxResult<Vec<_>>>()
        })?;
        self.commit_point()?;
        Ok(finished)
    }
}
