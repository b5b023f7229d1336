//! The inbound pipeline, in the order the steps happen:
//!
//! 1. [`Pipeline::receive`]: the file's bytes go to the spool and are recorded in the outbox
//!    (both durable) — only then is the file removed from its channel.
//! 2. [`Pipeline::process`]: parse → identify the partner from the envelope → duplicate check →
//!    validate → queue acknowledgements (control numbers assigned as they are queued) →
//!    translate → queue events to every sink → record the message's final state. An XML
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
    CounterKey, CounterKind, MessageId, MessageState, NewDelivery, NewMessage, Outbox, Step,
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

/// What processing a message gathers, written with its final state in one transaction: its
/// trace entries, and the types of the events it made (for `edigate messages --type`).
#[derive(Default)]
struct Steps {
    entries: Vec<(u64, Step, String)>,
    event_types: Vec<String>,
    /// The message's revision: events made again by an operator's reprocessing are queued
    /// under keys of their own, since their content may differ from the first time's.
    revision: u32,
    /// The events' deliveries, queued with the message's final state in one transaction.
    deliveries: Vec<(NewDelivery, Vec<u8>)>,
    /// Per event: its partner, type and id, and how many deliveries it has (for the metrics
    /// once they are queued).
    events: Vec<(String, &'static str, String, usize)>,
    /// What the partner insights learn from this message, recorded once its state is.
    insights: Vec<crate::insights::Pending>,
}

impl Steps {
    fn push(&mut self, entry: (u64, Step, String)) {
        self.entries.push(entry);
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
    /// Whether it had been recorded before a restart.
    pub again: bool,
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
                        again: false,
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
        // message, not a new one, and not a duplicate interchange) or new; the new ones are
        // recorded together, in one transaction.
        let mut slots: Vec<(Option<PathBuf>, String, Option<MessageId>)> =
            Vec::with_capacity(taken.len());
        let mut new = Vec::new();
        for (file, file_name, spooled) in taken {
            let known = self
                .outbox
                .find_unreleased(channel, &file_name, &spooled.sha256)?;
            if let Some(id) = known {
                tracing::info!(message = %id, channel = %channel, file = %file_name, "found again after a restart");
            } else {
                new.push(NewMessage {
                    channel: channel.to_string(),
                    file_name: file_name.clone(),
                    spool_path: spooled.path,
                    spool_offset: spooled.offset,
                    size: spooled.size,
                    sha256: spooled.sha256,
                    received_at: now,
                });
            }
            slots.push((file, file_name, known));
        }
        let mut ids = self.outbox.record_received_many(&new)?.into_iter();
        let mut sizes = new.iter().map(|n| n.size);
        let mut received = Vec::with_capacity(slots.len());
        for (file, file_name, known) in slots {
            let id = match known {
                Some(id) => id,
                None => {
                    let (Some(id), Some(size)) = (ids.next(), sizes.next()) else {
                        return Err(Error::Internal(
                            "the outbox recorded fewer files than it was given".into(),
                        ));
                    };
                    telemetry::received(channel, id, &file_name, size);
                    id
                }
            };
            received.push(Received {
                id,
                name: file_name,
                file,
                again: known.is_some(),
            });
        }
        Ok(received)
    }

    /// Removes a received file from its inbox, once its record is flushed. The inbox directory
    /// itself is synced by the caller, once per batch.
    pub fn release(&self, inbox: &DirectoryInbox, received: &Received) -> Result<(), Error> {
        if let Some(file) = &received.file {
            inbox
                .remove(file)
                .map_err(|e| Error::io(format!("removing {}", file.display()), e))?;
            self.outbox.mark_released(received.id)?;
        }
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
        let Some(msg) = self.outbox.message(id)? else {
            return Ok(());
        };
        if msg.state.is_finished() {
            return Ok(());
        }
        let now = clock::now_ms();
        let bytes = match self
            .spool
            .get(&msg.spool_path, msg.spool_offset, msg.size, &msg.sha256)
        {
            Ok(b) => b,
            Err(e) => {
                let reason = format!("spool file {} unreadable: {e}", msg.spool_path.display());
                let state = MessageState::Failed {
                    reason: reason.clone(),
                };
                self.outbox.set_state(id, state.clone(), now, &reason)?;
                telemetry::message_finished(
                    id,
                    &msg.file_name,
                    msg.partner.as_deref(),
                    &state,
                    msg.received_at,
                    now,
                );
                return Ok(());
            }
        };
        let where_ = format!("file {} (channel {})", msg.file_name, msg.channel);
        let reserved = self.channel_partner.get(&msg.channel).cloned().flatten();
        let mut steps = Steps {
            revision: msg.revision,
            ..Steps::default()
        };
        // Every interchange's messages (or the XML document's type), whoever sent them: an
        // operator looking for an 850 that went wrong wants the quarantined ones too.
        let mut message_types: Vec<String> = Vec::new();
        // The message's partner for the metrics: the first one an envelope named.
        let mut partner = msg.partner.clone();
        let mut ended = Vec::new();
        if mapping::xml::looks_like_xml(&bytes) {
            let (end, from, document) =
                self.xml_document(&mut steps, id, &where_, &bytes, reserved.as_deref())?;
            if partner.is_none() {
                partner = from;
            }
            message_types.extend(document);
            ended.push(end);
        } else {
            let interchanges = match edi::Parser::new().lenient(true).parse(&bytes) {
                Ok(v) if !v.is_empty() => v,
                Ok(_) => {
                    return self.quarantine(
                        &msg,
                        now,
                        format!("{where_}: no X12 or EDIFACT interchange in it"),
                    );
                }
                Err(e) => {
                    return self.quarantine(
                        &msg,
                        now,
                        format!("{where_}: not readable as X12 or EDIFACT: {e}"),
                    );
                }
            };
            for msg in interchanges.iter().flat_map(|ic| ic.messages()) {
                let t = msg.message_type().trim().to_owned();
                if !t.is_empty() && !message_types.contains(&t) {
                    message_types.push(t);
                }
            }
            for (index, ic) in interchanges.iter().enumerate() {
                let (end, from) =
                    self.interchange(&mut steps, id, &where_, index, ic, reserved.as_deref())?;
                if partner.is_none() {
                    partner = from.map(str::to_owned);
                }
                ended.push(end);
            }
        }

        let now = clock::now_ms();
        let processed = ended.iter().any(|e| matches!(e, Ended::Processed));
        let state = if processed {
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
        };
        // What processing found, the events it made, what it teaches the partner insights,
        // and the final state, in one transaction.
        let insight_keys = crate::insights::keys_of(&steps.insights);
        let insight_updates = crate::insights::updates(&steps.insights, &insight_keys);
        let apply_insight = |index: usize, stored: &[Option<&[u8]>]| {
            crate::insights::apply(&steps.insights, index, stored)
        };
        let finished = self.outbox.finish_message_with(
            id,
            &steps.entries,
            &message_types,
            &steps.event_types,
            Some((state.clone(), now)),
            &steps.deliveries,
            &outbox::AggregateUpdates {
                updates: &insight_updates,
                at: now,
                apply: &apply_insight,
            },
        )?;
        crate::insights::report_failures(&steps.insights, &finished.aggregate_failures);
        let created = finished.created;
        // Counted once, and not again when processing resumes after a crash.
        let mut created = created.into_iter();
        for (partner, event_type, event_id, n) in &steps.events {
            if created.by_ref().take(*n).fold(false, |any, c| any | c) {
                telemetry::event_queued(id, partner, event_type, event_id);
            }
        }
        telemetry::message_finished(
            id,
            &msg.file_name,
            partner.as_deref(),
            &state,
            msg.received_at,
            now,
        );
        Ok(())
    }

    fn quarantine(&self, msg: &outbox::Message, now: u64, reason: String) -> Result<(), Error> {
        let state = MessageState::Quarantined {
            reason: reason.clone(),
        };
        self.outbox.set_state(msg.id, state.clone(), now, &reason)?;
        telemetry::message_finished(
            msg.id,
            &msg.file_name,
            msg.partner.as_deref(),
            &state,
            msg.received_at,
            now,
        );
        Ok(())
    }

    /// Processes one interchange of a message; returns how it ended and the partner its
    /// envelope named, if we know them.
    fn interchange(
        &self,
        steps: &mut Steps,
        id: MessageId,
        where_: &str,
        index: usize,
        ic: &Interchange<'_>,
        reserved: Option<&str>,
    ) -> Result<(Ended, Option<&str>), Error> {
        let now = clock::now_ms();
        let control = ic.control_number().trim().to_string();
        let at = format!("{where_}, interchange {control} at offset {}", ic.offset());

        // Who sent it.
        let identified = self.partners.identify(ic);
        let named = match &identified {
            Identified::Partner(p) | Identified::NotForUs { partner: p, .. } => Some(p.id.as_str()),
            Identified::Unknown { .. } => None,
        };
        telemetry::interchange(id, &control, ic.standard(), named);
        let partner = match identified {
            Identified::Partner(p) => p,
            Identified::Unknown { sender } => {
                let reason = format!(
                    "{at}: no partner file has sender {}:{}",
                    sender.qualifier, sender.id
                );
                steps.push((
                    now,
                    Step::Quarantined {
                        reason: reason.clone(),
                    },
                    String::new(),
                ));
                tracing::warn!(message = %id, interchange = %control, sender = %sender.id, "unknown partner");
                return Ok((Ended::Quarantined(reason), None));
            }
            Identified::NotForUs { partner, receiver } => {
                let reason = format!(
                    "{at}: from partner {} but addressed to {}:{}, not to us",
                    partner.id, receiver.qualifier, receiver.id
                );
                self.refuse(
                    steps,
                    id,
                    index,
                    ic,
                    partner,
                    (InterchangeError::InvalidReceiver, &reason),
                )?;
                return Ok((Ended::Quarantined(reason), named));
            }
        };
        if let Some(only) = reserved.filter(|only| *only != partner.id) {
            let reason = format!(
                "{at}: from partner {}, but the channel is reserved to partner {only}",
                partner.id
            );
            self.refuse(
                steps,
                id,
                index,
                ic,
                partner,
                (InterchangeError::InvalidSender, &reason),
            )?;
            return Ok((Ended::Quarantined(reason), named));
        }
        // Whose it is and, unless the partner's duplicates are ignored, whether it was seen
        // before: one transaction.
        let window = (partner.duplicates.action != DuplicateAction::Ignore)
            .then(|| u64::from(partner.duplicates.window_days) * 24 * 3_600_000);
        let prior = self.outbox.identify_interchange(
            id,
            &partner.id,
            now,
            window.map(|w| (control.as_str(), w)),
        )?;
        let mut duplicate_of = None;
        if let Some(prior) = prior.filter(|p| p.message_id != id) {
            duplicate_of = Some(prior.message_id);
            steps.push((
                now,
                Step::Duplicate {
                    of: prior.message_id,
                },
                format!(
                    "{at}: control number already received in {}",
                    prior.message_id
                ),
            ));
            tracing::warn!(message = %id, partner = %partner.id, interchange = %control, of = %prior.message_id, "duplicate interchange");
        }

        let mut report = validate::validate(ic, &self.specs);
        if let (Some(of), DuplicateAction::Reject) = (duplicate_of, partner.duplicates.action) {
            report.errors.push(InterchangeFinding {
                code: InterchangeError::Duplicate,
                detail: format!("interchange control number {control} was received before"),
                offset: ic.offset(),
            });
            self.queue_acks(steps, id, index, ic, &report, partner)?;
            return Ok((Ended::Duplicate(of), named));
        }
        for m in report.all_messages() {
            telemetry::transaction_set(
                &partner.id,
                &m.message_type,
                m.verdict == Verdict::Rejected,
            );
        }
        steps.insights.push(crate::insights::validated_file(
            &partner.id,
            id,
            index,
            &report,
            now,
        ));
        let (accepted, rejected) = count_verdicts(&report);
        steps.push((
            now,
            Step::Validated { accepted, rejected },
            describe_findings(&report),
        ));
        self.queue_acks(steps, id, index, ic, &report, partner)?;
        if report.is_rejected() {
            return Ok((Ended::Processed, named));
        }
        self.reconcile(steps, id, &at, ic, partner)?;
        self.translate(steps, id, &at, ic, &report, partner)?;
        Ok((Ended::Processed, named))
    }

    /// Answers an interchange we will not process with a negative acknowledgement (where the
    /// partner is known), and records why.
    fn refuse(
        &self,
        steps: &mut Steps,
        id: MessageId,
        index: usize,
        ic: &Interchange<'_>,
        partner: &Partner,
        (code, reason): (InterchangeError, &str),
    ) -> Result<(), Error> {
        let now = clock::now_ms();
        self.outbox.set_partner(id, &partner.id, now)?;
        steps.push((
            now,
            Step::Quarantined {
                reason: reason.to_string(),
            },
            String::new(),
        ));
        tracing::warn!(message = %id, partner = %partner.id, %reason, "interchange refused");
        let mut report = validate::validate(ic, &self.specs);
        report.errors.insert(
            0,
            InterchangeFinding {
                code,
                detail: reason.to_string(),
                offset: ic.offset(),
            },
        );
        self.queue_acks(steps, id, index, ic, &report, partner)
    }

    fn queue_acks(
        &self,
        steps: &mut Steps,
        id: MessageId,
        index: usize,
        ic: &Interchange<'_>,
        report: &InterchangeReport,
        partner: &Partner,
    ) -> Result<(), Error> {
        let plan = AckPlan::new(ic, report, partner, clock::ack_timestamp());
        let kinds = match ic.standard() {
            edi::Standard::X12 => [CounterKind::Isa13, CounterKind::Gs06, CounterKind::St02],
            edi::Standard::Edifact => [
                CounterKind::Unb0020,
                CounterKind::Ung0048,
                CounterKind::Unh0062,
            ],
        };
        for (kind, needs) in plan.kinds() {
            let key = format!("ack:{id}:{index}:{}", kind.as_str());
            if self.outbox.delivery_by_key(&key)?.is_some() {
                continue;
            }
            let counters: Vec<CounterKey> = needs
                .iter()
                .zip(kinds)
                .flat_map(|(n, k)| std::iter::repeat_n(CounterKey::new(OUTBOUND, k), *n))
                .collect();
            let content_type = match ic.standard() {
                edi::Standard::X12 => "application/edi-x12",
                edi::Standard::Edifact => "application/edifact",
            };
            let now = clock::now_ms();
            let delivery =
                NewDelivery::new(partner_destination(&partner.id), key, content_type, now)
                    .message(id);
            // Which document the render made (997 or 999 depends on each group's version),
            // for the metrics; read from the bytes rather than decided a second time.
            let document = std::cell::Cell::new(kind.as_str());
            let queued =
                self.outbox
                    .enqueue_outbound(&partner.id, &counters, delivery, |numbers| {
                        let values: Vec<u64> = numbers.to_vec();
                        let rendered = plan.render(kind, needs, &values)?;
                        document.set(kind.document(ic.standard(), &rendered));
                        Ok::<_, edi::writer::WriteError>(rendered)
                    })?;
            let control = queued
                .delivery
                .numbers
                .first()
                .map(|n| n.value.to_string())
                .unwrap_or_default();
            if queued.created {
                telemetry::ack_queued(
                    id,
                    &partner.id,
                    document.get(),
                    ack_status(kind, report),
                    &control,
                );
            }
            steps.push((
                now,
                Step::AckQueued {
                    delivery: queued.delivery.id,
                    control_number: control,
                },
                kind.as_str().to_string(),
            ));
        }
        Ok(())
    }

    /// Matches the partner's acknowledgements in `ic` (TA1, 997/999, CONTRL) to the documents we
    /// sent them, and records what each said.
    fn reconcile(
        &self,
        steps: &mut Steps,
        id: MessageId,
        at: &str,
        ic: &Interchange<'_>,
        partner: &Partner,
    ) -> Result<(), Error> {
        let readings = reconcile::read(ic);
        if readings.is_empty() {
            return Ok(());
        }
        let now = clock::now_ms();
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
                    steps.insights.push(crate::insights::acknowledgement(
                        &partner.id,
                        &d,
                        ack.at,
                        u64::try_from(window.as_millis()).unwrap_or(u64::MAX),
                    ));
                    steps.push((
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
                    steps.push((now, Step::Error { reason }, String::new()));
                }
            }
        }
        Ok(())
    }

    fn translate(
        &self,
        steps: &mut Steps,
        id: MessageId,
        at: &str,
        ic: &Interchange<'_>,
        report: &InterchangeReport,
        partner: &Partner,
    ) -> Result<(), Error> {
        let rejected: Vec<u64> = report
            .all_messages()
            .filter(|m| m.verdict == Verdict::Rejected)
            .map(|m| m.offset)
            .collect();
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
                    self.queue_event(steps, id, &partner.id, &event, now)?;
                    events += 1;
                    steps
                        .event_types
                        .push(event.event_type().as_str().to_owned());
                }
                Err(e) => {
                    let message_type = msg.message_type();
                    let reason = format!(
                        "{at}: message {message_type} {} not translated: {e}",
                        msg.control_number()
                    );
                    telemetry::translation_failed(id, &partner.id, &message_type, &reason);
                    steps.push((now, Step::Error { reason }, String::new()));
                }
            }
        }
        steps.push((clock::now_ms(), Step::Translated { events }, String::new()));
        Ok(())
    }
}

impl Pipeline {
    /// Queues an event to every sink, under keys made of its deterministic id (and, for a
    /// message an operator had processed again, its revision: the event made again may differ
    /// from the first time's).
    fn queue_event(
        &self,
        steps: &mut Steps,
        id: MessageId,
        partner: &str,
        event: &events::Event,
        now: u64,
    ) -> Result<(), Error> {
        let json = serde_json::to_vec(event)
            .map_err(|e| Error::Internal(format!("serialising an event: {e}")))?;
        for destination in &self.sink_destinations {
            let key = match steps.revision {
                0 => format!("{}@{destination}", event.id()),
                r => format!("{}@{destination}@r{r}", event.id()),
            };
            let delivery =
                NewDelivery::new(destination.clone(), key, "application/json", now).message(id);
            steps.deliveries.push((delivery, json.clone()));
        }
        steps
            .insights
            .push(crate::insights::inbound_event(event, now));
        steps.events.push((
            partner.to_owned(),
            event.event_type().as_str(),
            event.id().as_str().to_owned(),
            self.sink_destinations.len(),
        ));
        Ok(())
    }

    /// Processes an XML document: which kind it is (by its root element), who sent it (by the
    /// sender id its mapping reads, against the partners' `[xml]` ids), seen before (by its
    /// control id), then its event. Returns how it ended, its partner and its document type
    /// (`Order`, `OrderRequest`), when known.
    fn xml_document(
        &self,
        steps: &mut Steps,
        id: MessageId,
        where_: &str,
        bytes: &[u8],
        reserved: Option<&str>,
    ) -> Result<(Ended, Option<String>, Option<String>), Error> {
        let now = clock::now_ms();
        let mut quarantined = |reason: String| {
            steps.push((
                now,
                Step::Quarantined {
                    reason: reason.clone(),
                },
                String::new(),
            ));
            tracing::warn!(message = %id, %reason, "XML document not processed");
            reason
        };
        let defaults = builtin_mappings()?;
        let doc = match mapping::xml::read(bytes, defaults) {
            Ok(d) => d,
            Err(e) => {
                let reason = quarantined(format!("{where_}: not readable as XML: {e}"));
                return Ok((Ended::Quarantined(reason), None, None));
            }
        };
        let document = Some(doc.message().to_owned());
        let at = format!("{where_}, XML document {}", doc.message());
        let Some(sender) = doc.sender() else {
            let reason = quarantined(format!(
                "{at}: no sender id where its mapping ({}) reads it",
                doc.mapping().origin
            ));
            return Ok((Ended::Quarantined(reason), None, document));
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
                let reason = quarantined(format!("{at}: no partner file has XML sender {sender}"));
                return Ok((Ended::Quarantined(reason), None, document));
            }
            IdentifiedXml::NotForUs(p) => {
                let reason = quarantined(format!(
                    "{at}: from partner {} but addressed to {}, not to us",
                    p.id,
                    receiver.map_or_else(|| "nobody".to_owned(), |r| r.to_string())
                ));
                return Ok((Ended::Quarantined(reason), Some(p.id.clone()), document));
            }
        };
        if let Some(only) = reserved.filter(|only| *only != partner.id) {
            let reason = quarantined(format!(
                "{at}: from partner {}, but the channel is reserved to partner {only}",
                partner.id
            ));
            return Ok((
                Ended::Quarantined(reason),
                Some(partner.id.clone()),
                document,
            ));
        }
        self.outbox.set_partner(id, &partner.id, now)?;
        tracing::info!(message = %id, partner = %partner.id, document = %doc.message(), sender = %sender, "XML document identified");

        // The partner's own mappings may differ from the defaults the document was first read
        // with.
        let doc = match mapping::xml::read(bytes, &partner.mappings) {
            Ok(d) => d,
            Err(e) => {
                let reason = quarantined(format!(
                    "{at}: not readable with partner {}'s mappings: {e}",
                    partner.id
                ));
                return Ok((
                    Ended::Quarantined(reason),
                    Some(partner.id.clone()),
                    document,
                ));
            }
        };
        let event = match doc.translate(&partner.id) {
            Ok(event) => event,
            Err(e) => {
                let reason = format!("{at}: not translated: {e}");
                telemetry::translation_failed(id, &partner.id, doc.message(), &reason);
                steps.push((now, Step::Error { reason }, String::new()));
                steps.push((now, Step::Translated { events: 0 }, String::new()));
                return Ok((Ended::Processed, Some(partner.id.clone()), document));
            }
        };

        // Seen before? The control id (cXML payloadID, UBL UUID or ID) is the document's own.
        let control = event.source().interchange_control.clone();
        if partner.duplicates.action != DuplicateAction::Ignore && !control.is_empty() {
            let window = u64::from(partner.duplicates.window_days) * 24 * 3_600_000;
            if let Some(prior) =
                self.outbox
                    .check_interchange(&partner.id, &control, id, now, window)?
                && prior.message_id != id
            {
                steps.push((
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
                    return Ok((
                        Ended::Duplicate(prior.message_id),
                        Some(partner.id.clone()),
                        document,
                    ));
                }
            }
        }
        self.queue_event(steps, id, &partner.id, &event, now)?;
        steps
            .event_types
            .push(event.event_type().as_str().to_owned());
        steps.push((now, Step::Translated { events: 1 }, String::new()));
        Ok((Ended::Processed, Some(partner.id.clone()), document))
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
