//! The inbound pipeline, in the order the steps happen:
//!
//! 1. [`Pipeline::receive`]: the file's bytes go to the spool and are recorded in the outbox
//!    (both durable) — only then is the file removed from its channel.
//! 2. [`Pipeline::process_batch`]: for each message, parse → identify the partner from the
//!    envelope → duplicate check → validate → plan acknowledgements → translate → plan events
//!    to every sink, and render the acknowledgements from the control numbers expected; then one
//!    outbox transaction for the whole batch writes every message's outcome: its duplicate
//!    claims (checked again), its acknowledgements (control numbers assigned there; a document
//!    whose numbers moved is rendered again), its events, its trace and final state. An XML
//!    document (UBL, cXML) takes a shorter road: its mapping is chosen by its root element, the
//!    partner by the sender id that mapping reads, the duplicate check by the document's
//!    control id; it has no acknowledgement.
//!
//! Every step is recorded in the message's trace. Processing is idempotent: a message whose
//! processing a crash interrupted is processed again from the start, and what it already queued
//! is found under the same idempotency keys instead of being queued twice.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use edi::Interchange;
use outbox::{
    CounterKey, CounterKind, MessageId, MessageState, NewDelivery, NewMessage, Outbox, Planned,
    Sighting, Step, TraceEntry,
};
use partner::{DuplicateAction, Identified, IdentifiedXml, Partner, Partners};
use validate::codes::InterchangeError;
use validate::report::InterchangeReport;
use validate::report::{InterchangeFinding, Verdict};

use crate::Error;
use crate::acks::{AckKind, AckPlan};
use crate::clock;
use crate::inbox::DirectoryInbox;
use crate::reconcile;
use crate::spool::Spool;
use crate::telemetry;

/// The counters' purpose: every document we send a partner shares one numbering per kind.
const OUTBOUND: &str = "outbound";

/// What the pipeline needs, loaded once.
pub struct Pipeline {
    /// The partners.
    pub partners: Partners,
    /// The message specs.
    pub specs: validate::Specs,
    /// The durable store.
    pub outbox: Outbox,
    /// The raw files.
    pub spool: Spool,
    /// The outbox destinations of the event sinks.
    pub sink_destinations: Vec<String>,
    /// Channel name → the partner it is reserved to.
    pub channel_partner: BTreeMap<String, Option<String>>,
    /// Where oversized files are set aside.
    pub quarantine_dir: PathBuf,
    /// Files larger than this are not read.
    pub max_file_bytes: u64,
}

/// Plans with the files they were made from.
type Plans<'p, 'r> = Vec<(Plan<'p>, &'r Read<'r>)>;

/// What processing one message worked out, before any of it is written: its trace, the
/// interchanges it claims, its acknowledgements, its events and what they teach the partner
/// insights, and its final state. [`Pipeline::process_batch`] writes the plans of a batch of
/// messages in one transaction.
struct Plan<'p> {
    msg: outbox::Message,
    trace: Vec<Planned>,
    sightings: Vec<Sighting>,
    acks: Vec<AckRequest<'p>>,
    /// The validation reports the acknowledgements are rendered from.
    reports: Vec<InterchangeReport>,
    /// Every interchange's messages (or the XML document's type), whoever sent them: an
    /// operator looking for an 850 that went wrong wants the quarantined ones too.
    message_types: Vec<String>,
    event_types: Vec<String>,
    /// The events' deliveries.
    deliveries: Vec<(NewDelivery, Vec<u8>)>,
    /// Per event: its partner, type and id, and how many deliveries it has (for the metrics
    /// once they are queued).
    events: Vec<(String, &'static str, String, usize)>,
    /// What the partner insights learn from this message.
    insights: Vec<crate::insights::Pending>,
    /// The final state, when, and the detail of its trace entry.
    state: Option<(MessageState, u64, String)>,
    /// The message's partner for the metrics: the first one an envelope named.
    partner: Option<String>,
    /// Counted once the plan is written, so that planning again does not count twice.
    metrics: Vec<Metric>,
}

/// An acknowledgement to queue: rendered inside the finishing transaction, from the control
/// numbers it assigns.
struct AckRequest<'p> {
    /// Which interchange of the message it answers.
    interchange: usize,
    /// Its validation report, in [`Plan::reports`].
    report: usize,
    partner: &'p Partner,
    when: validate::ack::Timestamp,
    kind: AckKind,
    needs: crate::acks::Needs,
    counters: Vec<CounterKey>,
    delivery: NewDelivery,
    /// `accepted`, `rejected`, … for the metrics.
    status: &'static str,
    /// Which document the render made (997 or 999 depends on each group's version), for the
    /// metrics; read from the bytes rather than decided a second time.
    document: std::cell::Cell<&'static str>,
}

/// A metric processing a message moves.
enum Metric {
    Interchange {
        control: String,
        standard: edi::Standard,
        partner: Option<String>,
    },
    TransactionSet {
        partner: String,
        message_type: String,
        rejected: bool,
    },
    TranslationFailed {
        partner: String,
        message_type: String,
        reason: String,
    },
}

impl<'p> Plan<'p> {
    fn new(msg: outbox::Message) -> Self {
        Plan {
            partner: msg.partner.clone(),
            msg,
            trace: Vec::new(),
            sightings: Vec::new(),
            acks: Vec::new(),
            reports: Vec::new(),
            message_types: Vec::new(),
            event_types: Vec::new(),
            deliveries: Vec::new(),
            events: Vec::new(),
            insights: Vec::new(),
            state: None,
            metrics: Vec::new(),
        }
    }

    fn push(&mut self, (at, step, detail): (u64, Step, String)) {
        self.trace
            .push(Planned::Entry(TraceEntry { at, step, detail }));
    }

    /// Ends the plan in `state`, tracing `detail` with it.
    fn end(&mut self, state: MessageState, at: u64, detail: String) {
        self.state = Some((state, at, detail));
    }
}

/// A file taken from an inbox and recorded.
#[derive(Debug)]
pub struct Received {
    /// Its message.
    pub id: MessageId,
    /// Its name in the channel.
    pub name: String,
    /// The file still in the inbox (none when it was moved to quarantine unread).
    file: Option<PathBuf>,
    /// Its channel and SHA-256, which with its name make its receipt marker.
    channel: String,
    sha256: String,
    /// Whether it had been recorded before a restart.
    pub again: bool,
    /// Its record as written now (none when it had been recorded before a restart, or moved to
    /// quarantine unread).
    pub record: Option<outbox::Message>,
}

/// How one interchange ended, for the message's final state.
enum Ended {
    Processed,
    Quarantined(String),
    Duplicate(MessageId),
}

impl Pipeline {
    /// Takes a batch of files from an inbox: their bytes go into one spool segment, made durable
    /// once, and each is recorded. The records are durable only after the caller's next
    /// [`Outbox::flush`], and only then may the caller [`Pipeline::release`] the files from the
    /// inbox. A file that vanished before it could be read is skipped; one that cannot be read is
    /// left in the inbox, and said so.
    pub fn receive(
        &self,
        inbox: &DirectoryInbox,
        files: &[PathBuf],
    ) -> Result<Vec<Received>, Error> {
        let mut received = Vec::with_capacity(files.len());
        let mut segment = self
            .spool
            .segment()
            .map_err(|e| Error::io("starting a spool segment".into(), e))?;
        let mut taken = Vec::with_capacity(files.len());
        for file in files {
            let file_name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let read = fs::metadata(file).and_then(|m| {
                if m.len() > self.max_file_bytes {
                    Ok(Err(m.len()))
                } else {
                    fs::read(file).map(Ok)
                }
            });
            match read {
                Ok(Ok(bytes)) => {
                    let spooled = segment
                        .add(&bytes)
                        .map_err(|e| Error::io("writing the spool".into(), e))?;
                    taken.push((Some(file.clone()), file_name, spooled));
                }
                Ok(Err(size)) => {
                    let id = self.set_aside(inbox, file, &file_name, size, clock::now_ms())?;
                    received.push(Received {
                        id,
                        name: file_name,
                        file: None,
                        channel: inbox.name.clone(),
                        sha256: String::new(),
                        again: false,
                        record: None,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::error!(channel = %inbox.name, file = %file.display(), error = %e, "cannot read; left in the inbox");
                }
            }
        }
        received.extend(self.record(&inbox.name, segment, taken)?);
        Ok(received)
    }

    /// Takes files already downloaded from a remote channel (SFTP): like [`Pipeline::receive`],
    /// their bytes go into one spool segment and each is recorded; the caller flushes, then
    /// removes them from the server and calls [`Outbox::mark_released`].
    pub fn receive_downloaded(
        &self,
        channel: &str,
        files: Vec<(String, Vec<u8>)>,
    ) -> Result<Vec<Received>, Error> {
        let mut segment = self
            .spool
            .segment()
            .map_err(|e| Error::io("starting a spool segment".into(), e))?;
        let mut taken = Vec::with_capacity(files.len());
        for (name, bytes) in files {
            let spooled = segment
                .add(&bytes)
                .map_err(|e| Error::io("writing the spool".into(), e))?;
            taken.push((None, name, spooled));
        }
        self.record(channel, segment, taken)
    }

    /// Makes a batch's spool segment durable, then records each of its files (or finds the
    /// message a file already made before a restart).
    fn record(
        &self,
        channel: &str,
        segment: crate::spool::Segment,
        taken: Vec<(Option<PathBuf>, String, crate::spool::Spooled)>,
    ) -> Result<Vec<Received>, Error> {
        if segment.is_empty() {
            segment.abandon();
            return Ok(Vec::new());
        }
        segment
            .commit()
            .map_err(|e| Error::io("making the spool segment durable".into(), e))?;
        let now = clock::now_ms();
        // Each file is either found again (recorded before a restart, still in its channel: that
        // message, not a new one, and not a duplicate interchange) or new; all in one
        // transaction.
        let mut files = Vec::with_capacity(taken.len());
        let mut new = Vec::with_capacity(taken.len());
        for (file, file_name, spooled) in taken {
            new.push(spooled.message(channel, &file_name, now));
            files.push(file);
        }
        let ids = self.outbox.record_received_or_found(&new)?;
        if ids.len() != new.len() {
            return Err(Error::Internal(
                "the outbox recorded fewer files than it was given".into(),
            ));
        }
        let mut received = Vec::with_capacity(new.len());
        for ((file, new), (id, record)) in files.into_iter().zip(new).zip(ids) {
            let again = record.is_none();
            if again {
                tracing::info!(message = %id, channel = %channel, file = %new.file_name, "found again after a restart");
            } else {
                telemetry::received(channel, id, &new.file_name, new.size);
            }
            received.push(Received {
                id,
                name: new.file_name,
                file,
                channel: channel.to_owned(),
                sha256: new.sha256,
                again,
                record,
            });
        }
        Ok(received)
    }

    /// Removes received files from their inbox, once their records are flushed, and then their
    /// receipt markers. The inbox directory itself is synced by the caller, once per batch. A
    /// file that cannot be removed keeps its marker, to be found again.
    pub fn release(&self, inbox: &DirectoryInbox, received: &[Received]) -> Result<(), Error> {
        let mut released = Vec::with_capacity(received.len());
        for r in received {
            let Some(file) = &r.file else { continue };
            match inbox.remove(file) {
                Ok(()) => released.push((r.channel.as_str(), r.name.as_str(), r.sha256.as_str())),
                Err(e) => {
                    tracing::error!(channel = %inbox.name, message = %r.id, file = %file.display(), error = %e, "cannot remove a received file; it will be found again");
                }
            }
        }
        self.outbox.mark_files_released(&released)?;
        Ok(())
    }

    /// An oversized file is moved, unread, to the quarantine directory and recorded there.
    fn set_aside(
        &self,
        inbox: &DirectoryInbox,
        file: &Path,
        file_name: &str,
        size: u64,
        now: u64,
    ) -> Result<MessageId, Error> {
        let dir = self.quarantine_dir.join(&inbox.name);
        fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let target = dir.join(format!("{now}-{file_name}"));
        fs::rename(file, &target)
            .map_err(|e| Error::io(format!("moving {} to quarantine", file.display()), e))?;
        crate::spool::sync_dir(&dir).map_err(|e| Error::io("syncing quarantine".into(), e))?;
        let id = self.outbox.record_received(NewMessage {
            channel: inbox.name.clone(),
            file_name: file_name.to_string(),
            spool_path: target.clone(),
            spool_offset: 0,
            size,
            sha256: String::new(),
            received_at: now,
        })?;
        let reason = format!(
            "file {file_name} from channel {} is {size} bytes, over the limit of {} bytes; \
             moved unread to {}",
            inbox.name,
            self.max_file_bytes,
            target.display()
        );
        telemetry::oversized(&inbox.name, id, file_name, size);
        let state = MessageState::Quarantined {
            reason: reason.clone(),
        };
        self.outbox.set_state(id, state.clone(), now, &reason)?;
        telemetry::message_finished(id, file_name, None, &state, now, now);
        Ok(id)
    }

    /// Processes one received message to its final state.
    pub fn process(&self, id: MessageId) -> Result<(), Error> {
        self.process_batch(&[id])
            .pop()
            .map_or(Ok(()), |(_, result)| result)
    }

    /// Processes received messages to their final states: each is planned on its own, then all
    /// are written in one transaction. When that transaction fails, each is processed again on
    /// its own, so that one message's trouble is only its own. Returns each message's outcome,
    /// in order.
    pub fn process_batch(&self, ids: &[MessageId]) -> Vec<(MessageId, Result<(), Error>)> {
        let mut records = Vec::with_capacity(ids.len());
        let mut results = Vec::new();
        for &id in ids {
            match self.outbox.message(id) {
                Ok(Some(msg)) => records.push(msg),
                Ok(None) => results.push((id, Ok(()))),
                Err(e) => results.push((id, Err(e.into()))),
            }
        }
        results.extend(self.process_recorded(records));
        results
    }

    /// [`Pipeline::process_batch`] for messages whose records the caller holds, as they are
    /// stored (those [`Pipeline::receive`] just wrote): nothing to read back.
    pub fn process_recorded(
        &self,
        records: Vec<outbox::Message>,
    ) -> Vec<(MessageId, Result<(), Error>)> {
        let mut results = Vec::with_capacity(records.len());
        // The raw files first: the plans borrow the interchanges read from them.
        let mut messages = Vec::with_capacity(records.len());
        let mut files = Vec::with_capacity(records.len());
        for msg in records {
            if msg.state.is_finished() {
                results.push((msg.id, Ok(())));
                continue;
            }
            let bytes = self
                .spool
                .get(&msg.spool_path, msg.spool_offset, msg.size, &msg.sha256)
                .map_err(|e| format!("spool file {} unreadable: {e}", msg.spool_path.display()));
            messages.push(msg);
            files.push(bytes);
        }
        let read: Vec<Read<'_>> = files
            .iter()
            .map(|bytes| match bytes {
                Err(e) => Read::Unreadable(e.clone()),
                Ok(b) if mapping::xml::looks_like_xml(b) => Read::Xml(b),
                Ok(b) => Read::Edi(edi::Parser::new().lenient(true).parse(b)),
            })
            .collect();
        // Planned first without reading the store (see `Lookahead::optimistic`); a batch that
        // repeats an interchange finished before is planned again with reads.
        let (plans, finished) = self.plan_and_finish(
            messages.into_iter().zip(&read).collect(),
            outbox::Lookahead::optimistic(&self.outbox),
            &mut results,
        );
        let (plans, finished) = match finished {
            Err(Error::Outbox(outbox::Error::Stale(why))) => {
                tracing::debug!(messages = plans.len(), reason = %why, "a batch repeats an interchange seen before; planning it again");
                // Planning changed the records in hand (a partner identified): read them again.
                let mut again = Vec::with_capacity(plans.len());
                for (plan, read) in plans {
                    match self.outbox.message(plan.msg.id) {
                        Ok(Some(msg)) => again.push((msg, read)),
                        Ok(None) => results.push((plan.msg.id, Ok(()))),
                        Err(e) => results.push((plan.msg.id, Err(e.into()))),
                    }
                }
                self.plan_and_finish(again, outbox::Lookahead::new(&self.outbox), &mut results)
            }
            other => (plans, other),
        };
        match finished {
            Ok(()) => results.extend(plans.iter().map(|(p, _)| (p.msg.id, Ok(())))),
            Err(e) if plans.len() == 1 => {
                if let Some((p, _)) = plans.first() {
                    results.push((p.msg.id, Err(e)));
                }
            }
            Err(e) => {
                tracing::debug!(messages = plans.len(), error = %e, "a batch could not be finished together; finishing one at a time");
                for (plan, _) in &plans {
                    results.extend(self.process_batch(&[plan.msg.id]));
                }
            }
        }
        results
    }

    /// Plans each message with `lookahead` (one that cannot be planned goes to `results` with
    /// its error) and finishes the plans in one transaction; returns them with how that went.
    fn plan_and_finish<'p, 'r>(
        &'p self,
        messages: Vec<(outbox::Message, &'r Read<'r>)>,
        mut lookahead: outbox::Lookahead<'_>,
        results: &mut Vec<(MessageId, Result<(), Error>)>,
    ) -> (Plans<'p, 'r>, Result<(), Error>) {
        let mut plans = Vec::with_capacity(messages.len());
        for (msg, read) in messages {
            let id = msg.id;
            match self.plan(msg, read, &mut lookahead) {
                Ok(plan) => plans.push((plan, read)),
                Err(e) => results.push((id, Err(e))),
            }
        }
        let finished = self.finish(&plans, &mut lookahead);
        (plans, finished)
    }

    /// Works out what processing `msg` does, writing nothing but what reconciling the
    /// partner's acknowledgements records.
    fn plan<'p>(
        &'p self,
        msg: outbox::Message,
        read: &Read<'_>,
        lookahead: &mut outbox::Lookahead<'_>,
    ) -> Result<Plan<'p>, Error> {
        let now = clock::now_ms();
        let where_ = format!("file {} (channel {})", msg.file_name, msg.channel);
        let reserved = self.channel_partner.get(&msg.channel).cloned().flatten();
        let mut plan = Plan::new(msg);
        let interchanges = match read {
            Read::Unreadable(reason) => {
                let state = MessageState::Failed {
                    reason: reason.clone(),
                };
                plan.end(state, now, reason.clone());
                return Ok(plan);
            }
            Read::Xml(bytes) => {
                let end =
                    self.xml_document(&mut plan, lookahead, &where_, bytes, reserved.as_deref())?;
                let now = clock::now_ms();
                let state = final_state(&[end]);
                plan.end(state, now, String::new());
                return Ok(plan);
            }
            Read::Edi(Ok(v)) if !v.is_empty() => v,
            Read::Edi(unreadable) => {
                let reason = match unreadable {
                    Ok(_) => format!("{where_}: no X12 or EDIFACT interchange in it"),
                    Err(e) => format!("{where_}: not readable as X12 or EDIFACT: {e}"),
                };
                plan.end(
                    MessageState::Quarantined {
                        reason: reason.clone(),
                    },
                    now,
                    reason,
                );
                return Ok(plan);
            }
        };
        for msg in interchanges.iter().flat_map(|ic| ic.messages()) {
            let t = msg.message_type().trim().to_owned();
            if !t.is_empty() && !plan.message_types.contains(&t) {
                plan.message_types.push(t);
            }
        }
        let mut ended = Vec::with_capacity(interchanges.len());
        for (index, ic) in interchanges.iter().enumerate() {
            let end = self.interchange(
                &mut plan,
                lookahead,
                &where_,
                index,
                ic,
                reserved.as_deref(),
            )?;
            ended.push(end);
        }
        let state = final_state(&ended);
        plan.end(state, clock::now_ms(), String::new());
        Ok(plan)
    }

    /// Writes the plans in one transaction, then counts what they did.
    fn finish(
        &self,
        plans: &[(Plan<'_>, &Read<'_>)],
        lookahead: &mut outbox::Lookahead<'_>,
    ) -> Result<(), Error> {
        // Each acknowledgement is rendered from the numbers the transaction assigns.
        type Build<'b> = Box<outbox::BuildFn<'b>>;
        let builds: Vec<Vec<Build<'_>>> = plans
            .iter()
            .map(|(plan, read)| {
                plan.acks
                    .iter()
                    .map(|ack| -> Build<'_> {
                        let ic = match read {
                            Read::Edi(Ok(v)) => v.get(ack.interchange),
                            _ => None,
                        };
                        let report = plan.reports.get(ack.report);
                        Box::new(move |numbers: &[u64]| {
                            let (Some(ic), Some(report)) = (ic, report) else {
                                return Err("the acknowledged interchange is gone".into());
                            };
                            let rendered = AckPlan::new(ic, report, ack.partner, ack.when.clone())
                                .render(ack.kind, ack.needs, numbers)?;
                            ack.document
                                .set(ack.kind.document(ic.standard(), &rendered));
                            Ok(rendered)
                        })
                    })
                    .collect()
            })
            .collect();
        // Rendered here, outside sled's lock, from the numbers the transaction will most likely
        // assign (in the order it assigns them); it renders again only where they moved.
        // Per message, per acknowledgement: the expected numbers and the document.
        type Prebuilt = Option<(Vec<u64>, Vec<u8>)>;
        let prebuilt: Vec<Vec<Prebuilt>> = plans
            .iter()
            .zip(&builds)
            .map(|((plan, _), builds)| {
                plan.acks
                    .iter()
                    .zip(builds)
                    .map(|(ack, build)| {
                        let numbers = lookahead.numbers(&ack.partner.id, &ack.counters).ok()?;
                        let rendered = build(&numbers).ok()?;
                        Some((numbers, rendered))
                    })
                    .collect()
            })
            .collect();
        let outbound: Vec<Vec<outbox::Outbound<'_>>> = plans
            .iter()
            .zip(builds.iter().zip(&prebuilt))
            .map(|((plan, _), (builds, prebuilt))| {
                plan.acks
                    .iter()
                    .zip(builds.iter().zip(prebuilt))
                    .map(|(ack, (build, prebuilt))| outbox::Outbound {
                        partner: &ack.partner.id,
                        counters: &ack.counters,
                        new: &ack.delivery,
                        build: build.as_ref(),
                        prebuilt: prebuilt
                            .as_ref()
                            .map(|(numbers, rendered)| (numbers.as_slice(), rendered.as_slice())),
                    })
                    .collect()
            })
            .collect();
        let insight_keys: Vec<_> = plans
            .iter()
            .map(|(plan, _)| crate::insights::keys_of(&plan.insights))
            .collect();
        let insight_updates: Vec<_> = plans
            .iter()
            .zip(&insight_keys)
            .map(|((plan, _), keys)| crate::insights::updates(&plan.insights, keys))
            .collect();
        let applies: Vec<_> = plans
            .iter()
            .map(|(plan, _)| {
                move |index: usize, stored: &[Option<&[u8]>]| {
                    crate::insights::apply(&plan.insights, index, stored)
                }
            })
            .collect();
        let finishes: Vec<outbox::Finish<'_>> = plans
            .iter()
            .zip(&outbound)
            .zip(insight_updates.iter().zip(&applies))
            .map(|(((plan, _), outbound), (updates, apply))| outbox::Finish {
                id: plan.msg.id,
                trace: &plan.trace,
                sightings: &plan.sightings,
                outbound,
                message_types: &plan.message_types,
                event_types: &plan.event_types,
                state: plan
                    .state
                    .as_ref()
                    .map(|(s, at, detail)| (s.clone(), *at, detail.as_str())),
                deliveries: &plan.deliveries,
                aggregates: outbox::AggregateUpdates {
                    updates,
                    at: plan.state.as_ref().map_or(0, |(_, at, _)| *at),
                    apply,
                },
            })
            .collect();
        let finished = self.outbox.finish_messages(&finishes)?;

        // Written: now the metrics and the log lines, once.
        for ((plan, _), finished) in plans.iter().zip(&finished) {
            let id = plan.msg.id;
            for metric in &plan.metrics {
                match metric {
                    Metric::Interchange {
                        control,
                        standard,
                        partner,
                    } => telemetry::interchange(id, control, *standard, partner.as_deref()),
                    Metric::TransactionSet {
                        partner,
                        message_type,
                        rejected,
                    } => telemetry::transaction_set(partner, message_type, *rejected),
                    Metric::TranslationFailed {
                        partner,
                        message_type,
                        reason,
                    } => telemetry::translation_failed(id, partner, message_type, reason),
                }
            }
            for (ack, queued) in plan.acks.iter().zip(&finished.outbound) {
                if let Some(queued) = queued.as_ref().filter(|q| q.created) {
                    let control = queued
                        .delivery
                        .numbers
                        .first()
                        .map(|n| n.value.to_string())
                        .unwrap_or_default();
                    telemetry::ack_queued(
                        id,
                        &ack.partner.id,
                        ack.document.get(),
                        ack.status,
                        &control,
                    );
                }
            }
            crate::insights::report_failures(&plan.insights, &finished.aggregate_failures);
            // Counted once, and not again when processing resumes after a crash.
            let mut created = finished.created.iter();
            for (partner, event_type, event_id, n) in &plan.events {
                if created.by_ref().take(*n).fold(false, |any, c| any | c) {
                    telemetry::event_queued(id, partner, event_type, event_id);
                }
            }
            if let Some((state, now, _)) = &plan.state {
                telemetry::message_finished(
                    id,
                    &plan.msg.file_name,
                    plan.partner.as_deref(),
                    state,
                    plan.msg.received_at,
                    *now,
                );
            }
        }
        Ok(())
    }

    /// Plans one interchange of a message; returns how it ended.
    fn interchange<'p>(
        &'p self,
        plan: &mut Plan<'p>,
        lookahead: &mut outbox::Lookahead<'_>,
        where_: &str,
        index: usize,
        ic: &Interchange<'_>,
        reserved: Option<&str>,
    ) -> Result<Ended, Error> {
        let now = clock::now_ms();
        let id = plan.msg.id;
        let control = ic.control_number().trim().to_string();
        let at = format!("{where_}, interchange {control} at offset {}", ic.offset());

        // Who sent it.
        let identified = self.partners.identify(ic);
        let named = match &identified {
            Identified::Partner(p) | Identified::NotForUs { partner: p, .. } => Some(p.id.clone()),
            Identified::Unknown { .. } => None,
        };
        if plan.partner.is_none() {
            plan.partner.clone_from(&named);
        }
        plan.metrics.push(Metric::Interchange {
            control: control.clone(),
            standard: ic.standard(),
            partner: named,
        });
        let partner = match identified {
            Identified::Partner(p) => p,
            Identified::Unknown { sender } => {
                let reason = format!(
                    "{at}: no partner file has sender {}:{}",
                    sender.qualifier, sender.id
                );
                plan.push((
                    now,
                    Step::Quarantined {
                        reason: reason.clone(),
                    },
                    String::new(),
                ));
                tracing::warn!(message = %id, interchange = %control, sender = %sender.id, "unknown partner");
                return Ok(Ended::Quarantined(reason));
            }
            Identified::NotForUs { partner, receiver } => {
                let reason = format!(
                    "{at}: from partner {} but addressed to {}:{}, not to us",
                    partner.id, receiver.qualifier, receiver.id
                );
                self.refuse(
                    plan,
                    index,
                    ic,
                    partner,
                    (InterchangeError::InvalidReceiver, &reason),
                )?;
                return Ok(Ended::Quarantined(reason));
            }
        };
        if let Some(only) = reserved.filter(|only| *only != partner.id) {
            let reason = format!(
                "{at}: from partner {}, but the channel is reserved to partner {only}",
                partner.id
            );
            self.refuse(
                plan,
                index,
                ic,
                partner,
                (InterchangeError::InvalidSender, &reason),
            )?;
            return Ok(Ended::Quarantined(reason));
        }
        // Whose it is and, unless the partner's duplicates are ignored, whether it was seen
        // before (checked again when the plan is written).
        identify(plan, &partner.id, now)?;
        let mut duplicate_of = None;
        if partner.duplicates.action != DuplicateAction::Ignore {
            let window = u64::from(partner.duplicates.window_days) * 24 * 3_600_000;
            let prior = lookahead.sighting(&partner.id, &control, id, now, window)?;
            duplicate_of = prior.as_ref().map(|p| p.message_id);
            plan.sightings.push(Sighting {
                partner: partner.id.clone(),
                control: control.clone(),
                at: now,
                window,
                duplicate_of,
            });
        }
        if let Some(of) = duplicate_of {
            plan.push((
                now,
                Step::Duplicate { of },
                format!("{at}: control number already received in {of}"),
            ));
            tracing::warn!(message = %id, partner = %partner.id, interchange = %control, of = %of, "duplicate interchange");
        }

        let mut report = validate::validate(ic, &self.specs);
        if let (Some(of), DuplicateAction::Reject) = (duplicate_of, partner.duplicates.action) {
            report.errors.push(InterchangeFinding {
                code: InterchangeError::Duplicate,
                detail: format!("interchange control number {control} was received before"),
                offset: ic.offset(),
            });
            self.queue_acks(plan, index, ic, report, partner)?;
            return Ok(Ended::Duplicate(of));
        }
        for m in report.all_messages() {
            plan.metrics.push(Metric::TransactionSet {
                partner: partner.id.clone(),
                message_type: m.message_type.clone(),
                rejected: m.verdict == Verdict::Rejected,
            });
        }
        plan.insights.push(crate::insights::validated_file(
            &partner.id,
            id,
            index,
            &report,
            now,
        ));
        let (accepted, rejected) = count_verdicts(&report);
        plan.push((
            now,
            Step::Validated { accepted, rejected },
            describe_findings(&report),
        ));
        let rejected = report.is_rejected();
        let rejected_messages: Vec<u64> = report
            .all_messages()
            .filter(|m| m.verdict == Verdict::Rejected)
            .map(|m| m.offset)
            .collect();
        self.queue_acks(plan, index, ic, report, partner)?;
        if rejected {
            return Ok(Ended::Processed);
        }
        self.reconcile(plan, &at, ic, partner)?;
        self.translate(plan, &at, ic, &rejected_messages, partner)?;
        Ok(Ended::Processed)
    }

    /// Answers an interchange we will not process with a negative acknowledgement (where the
    /// partner is known), and records why.
    fn refuse<'p>(
        &'p self,
        plan: &mut Plan<'p>,
        index: usize,
        ic: &Interchange<'_>,
        partner: &'p Partner,
        (code, reason): (InterchangeError, &str),
    ) -> Result<(), Error> {
        let now = clock::now_ms();
        identify(plan, &partner.id, now)?;
        plan.push((
            now,
            Step::Quarantined {
                reason: reason.to_string(),
            },
            String::new(),
        ));
        tracing::warn!(message = %plan.msg.id, partner = %partner.id, %reason, "interchange refused");
        let mut report = validate::validate(ic, &self.specs);
        report.errors.insert(
            0,
            InterchangeFinding {
                code,
                detail: reason.to_string(),
                offset: ic.offset(),
            },
        );
        self.queue_acks(plan, index, ic, report, partner)?;
        Ok(())
    }

    /// Plans the interchange's acknowledgements.
    fn queue_acks<'p>(
        &'p self,
        plan: &mut Plan<'p>,
        index: usize,
        ic: &Interchange<'_>,
        report: InterchangeReport,
        partner: &'p Partner,
    ) -> Result<(), Error> {
        let id = plan.msg.id;
        let when = clock::ack_timestamp();
        let kinds = AckPlan::new(ic, &report, partner, when.clone()).kinds();
        let counter_kinds = match ic.standard() {
            edi::Standard::X12 => [CounterKind::Isa13, CounterKind::Gs06, CounterKind::St02],
            edi::Standard::Edifact => [
                CounterKind::Unb0020,
                CounterKind::Ung0048,
                CounterKind::Unh0062,
            ],
        };
        let content_type = match ic.standard() {
            edi::Standard::X12 => "application/edi-x12",
            edi::Standard::Edifact => "application/edifact",
        };
        let report_index = plan.reports.len();
        for (kind, needs) in kinds {
            // Queued before (the message is processed again): not again, which the
            // transaction finishing the message sees for itself.
            let key = format!("ack:{id}:{index}:{}", kind.as_str());
            let counters: Vec<CounterKey> = needs
                .iter()
                .zip(counter_kinds)
                .flat_map(|(n, k)| std::iter::repeat_n(CounterKey::new(OUTBOUND, k), *n))
                .collect();
            let now = clock::now_ms();
            let delivery =
                NewDelivery::new(partner_destination(&partner.id), key, content_type, now)
                    .message(id);
            plan.trace.push(Planned::Outbound {
                index: plan.acks.len(),
                at: now,
                detail: kind.as_str().to_string(),
            });
            plan.acks.push(AckRequest {
                interchange: index,
                report: report_index,
                partner,
                when: when.clone(),
                kind,
                needs,
                counters,
                delivery,
                status: ack_status(kind, &report),
                document: std::cell::Cell::new(kind.as_str()),
            });
        }
        plan.reports.push(report);
        Ok(())
    }

    /// Matches the partner's acknowledgements in `ic` (TA1, 997/999, CONTRL) to the documents we
    /// sent them, and records what each said (at once: recording the same acknowledgement again
    /// changes nothing).
    fn reconcile(
        &self,
        plan: &mut Plan<'_>,
        at: &str,
        ic: &Interchange<'_>,
        partner: &Partner,
    ) -> Result<(), Error> {
        let readings = reconcile::read(ic);
        if readings.is_empty() {
            return Ok(());
        }
        let now = clock::now_ms();
        let id = plan.msg.id;
        for matched in reconcile::reconcile(&self.outbox, &partner.id, id, readings, now)? {
            match matched {
                reconcile::Matched::Document(d, ack) => {
                    let control = d.numbers.first().map(|n| n.value).unwrap_or(0);
                    tracing::info!(
                        message = %id,
                        partner = %partner.id,
                        delivery = %d.id,
                        document = %ack.document,
                        outcome = ack.outcome.as_str(),
                        control,
                        "acknowledgement reconciled"
                    );
                    telemetry::acknowledgement_received(&partner.id, ack.outcome.as_str());
                    let window = partner.ack_within.unwrap_or(reconcile::DEFAULT_ACK_WITHIN);
                    plan.insights.push(crate::insights::acknowledgement(
                        &partner.id,
                        &d,
                        ack.at,
                        u64::try_from(window.as_millis()).unwrap_or(u64::MAX),
                    ));
                    plan.push((
                        now,
                        Step::Acknowledged {
                            delivery: d.id,
                            outcome: ack.outcome,
                        },
                        format!(
                            "{} of {} (interchange {control}): {}",
                            ack.document,
                            d.key,
                            ack.codes.join("; ")
                        ),
                    ));
                }
                reconcile::Matched::Unknown(r) => {
                    let reason = format!(
                        "{at}: {} answers {} {}, which is not a document we sent {} (or no longer keep)",
                        r.document, r.counter, r.number, partner.id
                    );
                    tracing::warn!(message = %id, partner = %partner.id, %reason, "acknowledgement matches nothing sent");
                    plan.push((now, Step::Error { reason }, String::new()));
                }
            }
        }
        Ok(())
    }

    /// Translates the interchange's messages but those validation rejected (by offset) into
    /// events.
    fn translate(
        &self,
        plan: &mut Plan<'_>,
        at: &str,
        ic: &Interchange<'_>,
        rejected: &[u64],
        partner: &Partner,
    ) -> Result<(), Error> {
        let mut events = 0u32;
        for msg in ic.messages() {
            // Acknowledgements are reconciled, not translated.
            if rejected.contains(&msg.header().offset())
                || reconcile::is_acknowledgement(&msg.message_type())
            {
                continue;
            }
            let now = clock::now_ms();
            match mapping::translate_message(&msg, &partner.id, &partner.mappings) {
                Ok(event) => {
                    self.queue_event(plan, &partner.id, &event, now)?;
                    events += 1;
                    plan.event_types
                        .push(event.event_type().as_str().to_owned());
                }
                Err(e) => {
                    let message_type = msg.message_type();
                    let reason = format!(
                        "{at}: message {message_type} {} not translated: {e}",
                        msg.control_number()
                    );
                    plan.metrics.push(Metric::TranslationFailed {
                        partner: partner.id.clone(),
                        message_type: message_type.to_string(),
                        reason: reason.clone(),
                    });
                    plan.push((now, Step::Error { reason }, String::new()));
                }
            }
        }
        plan.push((clock::now_ms(), Step::Translated { events }, String::new()));
        Ok(())
    }
}

impl Pipeline {
    /// Queues an event to every sink, under keys made of its deterministic id (and, for a
    /// message an operator had processed again, its revision: the event made again may differ
    /// from the first time's).
    fn queue_event(
        &self,
        plan: &mut Plan<'_>,
        partner: &str,
        event: &events::Event,
        now: u64,
    ) -> Result<(), Error> {
        let json = serde_json::to_vec(event)
            .map_err(|e| Error::Internal(format!("serialising an event: {e}")))?;
        for destination in &self.sink_destinations {
            let key = match plan.msg.revision {
                0 => format!("{}@{destination}", event.id()),
                r => format!("{}@{destination}@r{r}", event.id()),
            };
            let delivery = NewDelivery::new(destination.clone(), key, "application/json", now)
                .message(plan.msg.id);
            plan.deliveries.push((delivery, json.clone()));
        }
        plan.insights
            .push(crate::insights::inbound_event(event, now));
        plan.events.push((
            partner.to_owned(),
            event.event_type().as_str(),
            event.id().as_str().to_owned(),
            self.sink_destinations.len(),
        ));
        Ok(())
    }

    /// Plans an XML document: which kind it is (by its root element), who sent it (by the
    /// sender id its mapping reads, against the partners' `[xml]` ids), seen before (by its
    /// control id), then its event. Returns how it ended; records its partner and document
    /// type (`Order`, `OrderRequest`), when known.
    fn xml_document(
        &self,
        plan: &mut Plan<'_>,
        lookahead: &mut outbox::Lookahead<'_>,
        where_: &str,
        bytes: &[u8],
        reserved: Option<&str>,
    ) -> Result<Ended, Error> {
        let now = clock::now_ms();
        let id = plan.msg.id;
        let quarantined = |plan: &mut Plan<'_>, reason: String| {
            plan.push((
                now,
                Step::Quarantined {
                    reason: reason.clone(),
                },
                String::new(),
            ));
            tracing::warn!(message = %id, %reason, "XML document not processed");
            Ended::Quarantined(reason)
        };
        let defaults = builtin_mappings()?;
        let doc = match mapping::xml::read(bytes, defaults) {
            Ok(d) => d,
            Err(e) => {
                return Ok(quarantined(
                    plan,
                    format!("{where_}: not readable as XML: {e}"),
                ));
            }
        };
        plan.message_types.push(doc.message().to_owned());
        let at = format!("{where_}, XML document {}", doc.message());
        let Some(sender) = doc.sender() else {
            let reason = format!(
                "{at}: no sender id where its mapping ({}) reads it",
                doc.mapping().origin
            );
            return Ok(quarantined(plan, reason));
        };
        let receiver = doc.receiver();
        let to = receiver
            .as_ref()
            .map(|r| (r.qualifier.as_deref(), r.id.as_str()));
        let partner = match self
            .partners
            .identify_xml((sender.qualifier.as_deref(), &sender.id), to)
        {
            IdentifiedXml::Partner(p) => p,
            IdentifiedXml::Unknown => {
                let reason = format!("{at}: no partner file has XML sender {sender}");
                return Ok(quarantined(plan, reason));
            }
            IdentifiedXml::NotForUs(p) => {
                if plan.partner.is_none() {
                    plan.partner = Some(p.id.clone());
                }
                let reason = format!(
                    "{at}: from partner {} but addressed to {}, not to us",
                    p.id,
                    receiver.map_or_else(|| "nobody".to_owned(), |r| r.to_string())
                );
                return Ok(quarantined(plan, reason));
            }
        };
        if plan.partner.is_none() {
            plan.partner = Some(partner.id.clone());
        }
        if let Some(only) = reserved.filter(|only| *only != partner.id) {
            let reason = format!(
                "{at}: from partner {}, but the channel is reserved to partner {only}",
                partner.id
            );
            return Ok(quarantined(plan, reason));
        }
        identify(plan, &partner.id, now)?;
        tracing::info!(message = %id, partner = %partner.id, document = %doc.message(), sender = %sender, "XML document identified");

        // The partner's own mappings may differ from the defaults the document was first read
        // with.
        let doc = match mapping::xml::read(bytes, &partner.mappings) {
            Ok(d) => d,
            Err(e) => {
                let reason = format!(
                    "{at}: not readable with partner {}'s mappings: {e}",
                    partner.id
                );
                return Ok(quarantined(plan, reason));
            }
        };
        let event = match doc.translate(&partner.id) {
            Ok(event) => event,
            Err(e) => {
                let reason = format!("{at}: not translated: {e}");
                plan.metrics.push(Metric::TranslationFailed {
                    partner: partner.id.clone(),
                    message_type: doc.message().to_owned(),
                    reason: reason.clone(),
                });
                plan.push((now, Step::Error { reason }, String::new()));
                plan.push((now, Step::Translated { events: 0 }, String::new()));
                return Ok(Ended::Processed);
            }
        };

        // Seen before? The control id (cXML payloadID, UBL UUID or ID) is the document's own.
        let control = event.source().interchange_control.clone();
        if partner.duplicates.action != DuplicateAction::Ignore && !control.is_empty() {
            let window = u64::from(partner.duplicates.window_days) * 24 * 3_600_000;
            let prior = lookahead.sighting(&partner.id, &control, id, now, window)?;
            plan.sightings.push(Sighting {
                partner: partner.id.clone(),
                control: control.clone(),
                at: now,
                window,
                duplicate_of: prior.as_ref().map(|p| p.message_id),
            });
            if let Some(prior) = prior {
                plan.push((
                    now,
                    Step::Duplicate {
                        of: prior.message_id,
                    },
                    format!(
                        "{at}: document id {control} already received in {}",
                        prior.message_id
                    ),
                ));
                tracing::warn!(message = %id, partner = %partner.id, document = %control, of = %prior.message_id, "duplicate XML document");
                if partner.duplicates.action == DuplicateAction::Reject {
                    return Ok(Ended::Duplicate(prior.message_id));
                }
            }
        }
        self.queue_event(plan, &partner.id, &event, now)?;
        plan.event_types
            .push(event.event_type().as_str().to_owned());
        plan.push((now, Step::Translated { events: 1 }, String::new()));
        Ok(Ended::Processed)
    }
}

/// What a message's bytes were read as.
enum Read<'b> {
    /// The spool could not give them back.
    Unreadable(String),
    /// An XML document.
    Xml(&'b [u8]),
    /// X12 or EDIFACT.
    Edi(Result<Vec<Interchange<'b>>, edi::ParseError>),
}

/// Plans recording the message's partner, refusing another partner than the one it already
/// has as the store would.
fn identify(plan: &mut Plan<'_>, partner: &str, at: u64) -> Result<(), Error> {
    match &plan.msg.partner {
        Some(existing) if existing == partner => Ok(()),
        Some(existing) => Err(outbox::Error::PartnerConflict {
            id: plan.msg.id,
            existing: existing.clone(),
            requested: partner.to_owned(),
        }
        .into()),
        None => {
            plan.msg.partner = Some(partner.to_owned());
            plan.trace.push(Planned::Identified {
                partner: partner.to_owned(),
                at,
            });
            Ok(())
        }
    }
}

/// A message's final state from how its interchanges ended: processed if any was, else
/// quarantined if any was, else a duplicate.
fn final_state(ended: &[Ended]) -> MessageState {
    if ended.iter().any(|e| matches!(e, Ended::Processed)) {
        MessageState::Processed
    } else if let Some(Ended::Quarantined(reason)) =
        ended.iter().find(|e| matches!(e, Ended::Quarantined(_)))
    {
        MessageState::Quarantined {
            reason: reason.clone(),
        }
    } else if let Some(Ended::Duplicate(of)) = ended.first() {
        MessageState::Duplicate { of: *of }
    } else {
        MessageState::Processed
    }
}

/// The built-in mappings, loaded once: what an XML document is first read with, to find out
/// what it is and who sent it.
fn builtin_mappings() -> Result<&'static mapping::Mappings, Error> {
    static BUILTIN: std::sync::OnceLock<Result<mapping::Mappings, String>> =
        std::sync::OnceLock::new();
    BUILTIN
        .get_or_init(|| mapping::Mappings::builtin().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Error::Internal(format!("the built-in mappings are invalid: {e}")))
}

/// The outbox destination of a partner's documents.
pub fn partner_destination(partner: &str) -> String {
    format!("partner:{partner}")
}

/// What an acknowledgement tells the partner, overall: `accepted`, `partial` (some messages
/// rejected) or `rejected` (the envelope, or every message).
fn ack_status(kind: AckKind, report: &InterchangeReport) -> &'static str {
    if report.is_rejected() {
        return "rejected";
    }
    if kind == AckKind::Ta1 {
        return "accepted";
    }
    match count_verdicts(report) {
        (_, 0) => "accepted",
        (0, _) => "rejected",
        _ => "partial",
    }
}

fn count_verdicts(report: &InterchangeReport) -> (u32, u32) {
    let mut accepted = 0;
    let mut rejected = 0;
    for m in report.all_messages() {
        if m.verdict == Verdict::Rejected {
            rejected += 1;
        } else {
            accepted += 1;
        }
    }
    (accepted, rejected)
}

/// The findings in one line each, naming segment and offset, for the trace.
fn describe_findings(report: &InterchangeReport) -> String {
    let mut lines = Vec::new();
    for e in &report.errors {
        lines.push(format!(
            "interchange: {} ({}) at offset {}",
            e.code.describe(),
            e.detail,
            e.offset
        ));
    }
    for m in report.all_messages() {
        for e in &m.errors {
            lines.push(format!(
                "message {} {} at offset {}: {e:?}",
                m.message_type, m.control_number, m.offset
            ));
        }
        for s in &m.segments {
            lines.push(format!(
                "message {} {}: segment {} (position {}) {:?}",
                m.message_type, m.control_number, s.tag, s.position, s.code
            ));
        }
    }
    lines.join("\n")
}
