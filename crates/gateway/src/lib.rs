//! The edigate routing daemon: files come in from partners, events go to the business,
//! acknowledgements go back, and nothing accepted is ever lost.
//!
//! Read top to bottom, a file's way through the gateway:
//!
//! 1. [`inbox`]: a channel (a local directory today) offers a file.
//! 2. [`spool`] + the outbox: its bytes are made durable and recorded; only then is it removed
//!    from the channel ([`pipeline::Pipeline::receive`]).
//! 3. [`pipeline`]: parse, identify the partner, check for a duplicate interchange, validate,
//!    queue the acknowledgements (their control numbers assigned in the same transaction),
//!    translate, queue the events — every step recorded against the message.
//! 4. [`deliver`]: the outbox's due deliveries go to the event [`sinks`] and to partners'
//!    outbound directories, with retries and dead letters.
//!
//! Meanwhile the [`admin`] API lets operators see all this and retry or drop deliveries, and
//! serves the [`telemetry`] each step emits to Prometheus at `/metrics`; [`insights`] keeps per
//! partner and day aggregates of what was exchanged, for the partner report and its early
//! warnings.
//!
//! After a crash, [`Gateway::run`] first finishes what was received but not processed; the
//! outbox puts deliveries that were in flight back in the queue. Delivery is at least once, each
//! event under its deterministic id.

pub mod acks;
pub mod admin;
pub mod alerts;
pub mod as2_channel;
pub mod as2_outbox;
pub mod certificates;
pub mod clock;
pub mod config;
pub mod deliver;
pub mod email;
pub mod email_status;
pub mod inbox;
pub mod insights;
pub mod outbound;
pub mod outgoing;
pub mod pipeline;
pub mod reconcile;
pub mod remote;
pub mod retention;
pub mod sftp_status;
pub mod silence;
pub mod sinks;
pub mod smtp_in;
pub mod spool;
pub mod telemetry;
mod tls;
pub mod webhook;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use outbox::{Outbox, RetryPolicy};

pub use config::Config;
use deliver::{Destinations, PartnerOutbound};
use inbox::DirectoryInbox;
use pipeline::{Pipeline, partner_destination};
use sinks::{OutboundDirectory, Sink};
use spool::Spool;

/// Why the gateway could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// A partner file is invalid.
    #[error("invalid partner files:\n{0}")]
    Partners(#[from] partner::LoadError),
    /// The specs could not be loaded.
    #[error("cannot load the specs from {path}: {message}")]
    Specs {
        /// The specs directory.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The outbox failed.
    #[error("outbox: {0}")]
    Outbox(#[from] outbox::Error),
    /// A partner's `[outbound.email]` settings cannot be used.
    #[error("outbound email: {0}")]
    Email(#[from] email::EmailError),
    /// The admin API could not start.
    #[error("admin API: {0}")]
    Admin(#[from] admin::AdminError),
    /// A file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// The AS2 settings cannot be used (`[as2]`, an AS2 channel, a partner's `[as2]`): what is
    /// wrong and what to write instead.
    #[error("AS2: {0}")]
    As2(String),
    /// A bug: something that cannot happen did.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub(crate) fn io(what: String, source: std::io::Error) -> Self {
        Error::Io { what, source }
    }
}

/// How many files are received with one flush: a batch pays three `fsync`s (its spool segment,
/// the outbox, the inbox directory) however many files it holds.
const BATCH: usize = 512;

/// How many messages are processed together, their outcomes written in one transaction.
const PROCESS_BATCH: usize = 64;

/// How many received batches may wait for the processing loop before receiving waits too.
const INGESTED_QUEUE: usize = 4;

/// How many deliveries one round of the delivery loop takes, with one flush.
const DELIVERY_ROUND: usize = 512;

/// A gateway, loaded and ready to run.
pub struct Gateway {
    config: Config,
    pipeline: Pipeline,
    inboxes: Vec<DirectoryInbox>,
    sftp_inboxes: Vec<remote::SftpInbox>,
    /// The SFTP links' state now, for the status report.
    sftp_status: sftp_status::SftpStatusBoard,
    /// The inbound email channels.
    email_inboxes: Vec<Arc<smtp_in::EmailInbox>>,
    /// The mail links' state now (SMTP servers we mail through, inbound channels).
    email_status: email_status::EmailStatusBoard,
    destinations: Destinations,
    retry: RetryPolicy,
    admin_token: admin::Token,
    /// `/metrics`; none when another metrics recorder was installed in the process first.
    exporter: Option<telemetry::Exporter>,
    /// Writes the ERP's events as partners' EDI (the admin API and the outgoing directory).
    documents: outbound::OutboundDocuments,
    /// Where the ERP drops events to send.
    outgoing: outgoing::OutgoingDir,
    /// Our AS2 identity (`[as2]`), when configured.
    own_as2: Option<Arc<as2_channel::OwnAs2>>,
    /// The partners' AS2 partnerships.
    as2_partnerships: as2_channel::As2Partnerships,
    /// The AS2 listeners.
    as2_listeners: Vec<as2_channel::As2Listener>,
    /// The AS2 listeners as they bound, for the status report.
    as2_board: as2_channel::As2Board,
}

impl Gateway {
    /// Loads partners and specs, opens the outbox and the spool, creates the directories.
    pub fn open(config: Config) -> Result<Gateway, Error> {
        let partners = partner::Partners::load(&config.partners_dir)?;
        let specs = validate::Specs::load(&config.specs_dir).map_err(|e| Error::Specs {
            path: config.specs_dir.clone(),
            message: e.to_string(),
        })?;
        let data = &config.data_dir;
        std::fs::create_dir_all(data)
            .map_err(|e| Error::io(format!("creating {}", data.display()), e))?;
        // Group commit: the ingest and delivery loops flush once per batch, before the batch's
        // files leave their inboxes and before any delivery leaves the gateway.
        let outbox = Outbox::open_with(
            data.join("db"),
            outbox::Options::default().group_commit(true),
        )?;
        // On the first start, the time partners that never send are measured from.
        outbox.created_at(clock::now_ms())?;
        let spool = Spool::open(&data.join("spool"))
            .map_err(|e| Error::io(format!("opening the spool in {}", data.display()), e))?;

        let own_as2 = config
            .as2
            .as_ref()
            .map(|c| as2_channel::OwnAs2::load(c, std::path::Path::new("")))
            .transpose()?
            .map(Arc::new);
        let as2_partnerships = as2_channel::As2Partnerships::of(&partners)?;
        let mut as2_listeners = Vec::new();
        let mut inboxes = Vec::new();
        let mut channel_partner = BTreeMap::new();
        let mut sftp_inboxes = Vec::new();
        let sftp_status = sftp_status::SftpStatusBoard::default();
        let mut email_inboxes = Vec::new();
        let email_status = email_status::EmailStatusBoard::default();
        for channel in config.inbound(&partners) {
            match channel {
                config::InboundConfig::Directory {
                    name,
                    path,
                    partner,
                } => {
                    if let Some(p) = &partner
                        && partners.get(p).is_none()
                    {
                        return Err(Error::Internal(format!(
                            "channel {name} is reserved to partner {p}, which has no partner file"
                        )));
                    }
                    channel_partner.insert(name.clone(), partner.clone());
                    inboxes.push(
                        DirectoryInbox::open(name, path.clone(), partner)
                            .map_err(|e| Error::io(format!("creating {}", path.display()), e))?,
                    );
                }
                config::InboundConfig::Sftp {
                    name,
                    partner,
                    server,
                } => {
                    if let Some(p) = &partner
                        && partners.get(p).is_none()
                    {
                        return Err(Error::Internal(format!(
                            "channel {name} is reserved to partner {p}, which has no partner file"
                        )));
                    }
                    server.check().map_err(|e| {
                        Error::Internal(format!("channel {name}: invalid SFTP settings: {e}"))
                    })?;
                    sftp_status.register(
                        &name,
                        sftp_status::SftpDirection::Inbound,
                        partner.as_deref(),
                        format!("{}:{}", server.host, server.port),
                        None,
                    );
                    channel_partner.insert(name.clone(), partner);
                    sftp_inboxes.push(remote::SftpInbox {
                        name,
                        config: *server,
                    });
                }
                config::InboundConfig::Email(mail) => {
                    if let Some(p) = &mail.partner
                        && partners.get(p).is_none()
                    {
                        return Err(Error::Internal(format!(
                            "channel {} is reserved to partner {p}, which has no partner file",
                            mail.name
                        )));
                    }
                    let inbox = smtp_in::EmailInbox::open(*mail, &email_status)?;
                    // A mail's files are recorded under a channel of the sender's partner, so
                    // their envelopes must name that partner.
                    channel_partner.insert(inbox.config.name.clone(), inbox.config.partner.clone());
                    for p in partners.all() {
                        channel_partner.insert(inbox.channel_for(&p.id), Some(p.id.clone()));
                    }
                    email_inboxes.push(Arc::new(inbox));
                }
                config::InboundConfig::As2 {
                    name,
                    listen,
                    tls,
                    plain_http,
                    max_body_bytes,
                } => {
                    if tls.is_none() && !plain_http {
                        return Err(Error::As2(format!(
                            "AS2 channel {name}: no [inbound.tls]; add one with certificate and key files, \
                             or write plain_http = true for plain HTTP"
                        )));
                    }
                    for p in as2_partnerships.all() {
                        channel_partner.insert(
                            as2_channel::channel_of(&name, &p.partner),
                            Some(p.partner.clone()),
                        );
                    }
                    as2_listeners.push(as2_channel::As2Listener {
                        name,
                        listen,
                        tls,
                        max_body_bytes,
                    });
                }
            }
        }
        if own_as2.is_none()
            && (!as2_listeners.is_empty()
                || as2_partnerships.all().any(|p| p.settings.url.is_some()))
        {
            return Err(Error::As2(
                "AS2 is used (an AS2 channel, or a partner with an [as2] url) but the                  configuration has no [as2] table with our name and keys"
                    .into(),
            ));
        }

        let mut sinks = BTreeMap::new();
        for s in config.sinks() {
            let sink = Sink::from_config(&s)
                .map_err(|e| Error::io(format!("opening sink {}", s.name()), e))?;
            sinks.insert(sink.destination(), sink);
        }
        let outbound_root = config.outbound_dir();
        spool::create_spread_dir(&outbound_root)
            .map_err(|e| Error::io(format!("creating {}", outbound_root.display()), e))?;
        let partner_dirs: BTreeMap<String, PartnerOutbound> = partners
            .all()
            .iter()
            .map(|p| {
                if let (Some(own), Some(a)) = (&own_as2, as2_partnerships.of_partner(&p.id))
                    && a.settings.url.is_some()
                {
                    let out = as2_outbox::As2Outbox::new(Arc::clone(a), Arc::clone(own))
                        .map_err(Error::As2)?;
                    return Ok((
                        partner_destination(&p.id),
                        PartnerOutbound::As2(Box::new(out)),
                    ));
                }
                Ok::<_, Error>(match &p.outbound {
                    partner::Outbound::Directory(dir) => {
                        PartnerOutbound::Directory(OutboundDirectory {
                            dir: outbound_root.join(dir),
                        })
                    }
                    partner::Outbound::Sftp(server) => {
                        PartnerOutbound::Sftp(Box::new(remote::SftpOutbox::new(
                            partner_destination(&p.id),
                            (**server).clone(),
                            sftp_status.clone(),
                        )))
                    }
                    partner::Outbound::Email(mail) => {
                        PartnerOutbound::Email(Box::new(email::EmailOutbox::new(
                            partner_destination(&p.id),
                            (**mail).clone(),
                            email_status.clone(),
                        )?))
                    }
                })
                .map(|out| (partner_destination(&p.id), out))
            })
            .collect::<Result<_, _>>()?;
        let file_names: BTreeMap<String, String> = partners
            .all()
            .iter()
            .map(|p| (partner_destination(&p.id), p.outbound_file_name.clone()))
            .collect();

        let alerts = config
            .alerts
            .as_ref()
            .map(|a| {
                email::EmailOutbox::new(alerts::DESTINATION.into(), a.email(), email_status.clone())
            })
            .transpose()?;
        let alerts_webhook = match config.alerts.as_ref().and_then(|a| a.webhook.as_ref()) {
            None => None,
            Some(w) => Some(Sink::Webhook(Box::new(
                webhook::WebhookSink::open(
                    "alerts",
                    &w.url,
                    w.secret_env.as_deref(),
                    w.timeout_ms,
                    &BTreeMap::new(),
                )
                .map_err(|e| Error::Internal(format!("[alerts.webhook]: {e}")))?,
            ))),
        };

        // Here rather than in `run`: a token variable that is not set is a configuration error.
        let admin_token = admin::resolve_token(&config.admin, data)?;

        // Before anything can happen that counts.
        let exporter = telemetry::install().map(|h| {
            telemetry::Exporter::new(h, spool.root())
                .watching(silence::Watch::all(&partners))
                .reconciling(partners.clone())
                .with_insights(config.insights.clone())
        });
        telemetry::register_known(
            inboxes.iter().map(|i| i.name.as_str()),
            partners.all().iter().map(|p| p.id.as_str()),
            sinks.keys().chain(partner_dirs.keys()).map(String::as_str),
        );

        let retry = RetryPolicy {
            base: config.delivery.base_delay_ms,
            max_delay: config.delivery.max_delay_ms,
            max_attempts: config.delivery.max_attempts,
            max_age: config.delivery.max_age_hours * 3_600_000,
            ..RetryPolicy::default()
        };
        let documents =
            outbound::OutboundDocuments::new(partners.clone(), specs.clone(), outbox.clone());
        let outgoing_dir = config.outgoing_dir();
        let outgoing = outgoing::OutgoingDir::open(outgoing_dir.clone(), documents.clone())
            .map_err(|e| Error::io(format!("creating {}", outgoing_dir.display()), e))?;
        let pipeline = Pipeline {
            partners,
            specs,
            outbox,
            spool,
            sink_destinations: sinks.keys().cloned().collect(),
            channel_partner,
            quarantine_dir: data.join("quarantine"),
            max_file_bytes: config.limits.max_file_bytes,
        };
        Ok(Gateway {
            config,
            pipeline,
            inboxes,
            sftp_inboxes,
            sftp_status,
            email_inboxes,
            email_status,
            destinations: Destinations {
                sinks,
                partners: partner_dirs,
                file_names,
                alerts,
                alerts_webhook,
                as2_mdn: match &own_as2 {
                    Some(own) => {
                        Some(as2_outbox::MdnSender::new(own.timeout_ms).map_err(Error::As2)?)
                    }
                    None => None,
                },
            },
            retry,
            admin_token,
            exporter,
            documents,
            outgoing,
            own_as2,
            as2_partnerships,
            as2_listeners,
            as2_board: as2_channel::As2Board::default(),
        })
    }

    /// The inbox directories, by channel name.
    pub fn inboxes(&self) -> impl Iterator<Item = (&str, &std::path::Path)> {
        self.inboxes
            .iter()
            .map(|i| (i.name.as_str(), i.path.as_path()))
    }

    /// The outbox: what the admin API reads and where operators' retries and drops go.
    pub fn outbox(&self) -> &Outbox {
        &self.pipeline.outbox
    }

    /// Runs until `shutdown` completes, then drains: the file being processed is finished, due
    /// deliveries are attempted for a few more seconds, and the outbox is flushed.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let gw = Arc::new(self);
        let stop = Arc::new(AtomicBool::new(false));
        // Set once ingestion has stopped: only then can the delivery queue be drained for good.
        let ingest_done = Arc::new(AtomicBool::new(false));
        let admin = admin::start(
            &gw.config,
            gw.admin_token.clone(),
            gw.outbox().clone(),
            &gw.pipeline.partners,
            admin::Services {
                metrics: gw.exporter.clone(),
                outbound: Some(gw.documents.clone()),
                reprocess: Some({
                    let gw = Arc::clone(&gw);
                    Arc::new(move |id| gw.pipeline.process(id).map_err(|e| e.to_string()))
                        as admin::Reprocess
                }),
                sftp: gw.sftp_status.clone(),
                email: gw.email_status.clone(),
                as2: gw.as2_board.clone(),
                insights: gw.config.insights.clone(),
            },
        )
        .await;

        let recovered = {
            let gw = Arc::clone(&gw);
            tokio::task::spawn_blocking(move || gw.recover())
                .await
                .map_err(|e| Error::Internal(format!("recovery task: {e}")))??
        };
        if recovered > 0 {
            tracing::info!(
                messages = recovered,
                "finished messages interrupted by the last stop"
            );
        }

        // AS2 listeners: after recovery, so a retransmission finds its first arrival processed.
        let (as2_stop, as2_stopped) = tokio::sync::watch::channel(false);
        let mut as2_tasks = Vec::new();
        for l in gw.as2_listeners.clone() {
            as2_tasks.push(as2_channel::serve(Arc::clone(&gw), l, as2_stopped.clone()).await?);
        }

        // Receiving and processing run side by side: a batch is processed while the next one's
        // files are made durable (the spool's and the outbox's syncs), and each waits on the
        // disk only for its own work.
        let (to_process, received) = std::sync::mpsc::sync_channel(INGESTED_QUEUE);
        let ingest = {
            let (gw, stop) = (Arc::clone(&gw), Arc::clone(&stop));
            tokio::task::spawn_blocking(move || gw.ingest_loop(&stop, &to_process))
        };
        let process = {
            let gw = Arc::clone(&gw);
            tokio::task::spawn_blocking(move || gw.process_loop(&received))
        };
        let deliver = {
            let (gw, done) = (Arc::clone(&gw), Arc::clone(&ingest_done));
            tokio::task::spawn_blocking(move || gw.deliver_loop(&done))
        };
        // One loop per SFTP channel: a slow server holds up no other channel.
        let remotes: Vec<_> = (0..gw.sftp_inboxes.len())
            .map(|i| {
                let (gw, stop) = (Arc::clone(&gw), Arc::clone(&stop));
                let rt = tokio::runtime::Handle::current();
                tokio::task::spawn_blocking(move || {
                    if let Some(inbox) = gw.sftp_inboxes.get(i) {
                        gw.sftp_loop(inbox, &stop, &rt);
                    }
                })
            })
            .collect();
        let smtp: Vec<_> = (0..gw.email_inboxes.len())
            .map(|i| tokio::spawn(Arc::clone(&gw).smtp_loop(i)))
            .collect();
        tracing::info!(
            channels = gw.inboxes.len()
                + gw.sftp_inboxes.len()
                + gw.email_inboxes.len()
                + gw.as2_listeners.len(),
            partners = gw.pipeline.partners.all().len(),
            data_dir = %gw.config.data_dir.display(),
            "edigate is running"
        );
        let admin = admin.spawn();
        let sweeper = tokio::spawn(Arc::clone(&gw).retention_loop());
        let alerter = tokio::spawn(Arc::clone(&gw).alerts_loop());
        let upkeep = gw.exporter.clone().map(|e| tokio::spawn(metrics_upkeep(e)));

        shutdown.await;
        // Mail not yet answered 250 is the sender's to send again; mail answered is recorded.
        for s in &smtp {
            s.abort();
        }
        for s in smtp {
            let _ = s.await;
        }
        sweeper.abort();
        alerter.abort();
        if let Some(upkeep) = upkeep {
            upkeep.abort();
        }
        admin.stop().await;
        let _ = as2_stop.send(true);
        for t in as2_tasks {
            if let Err(e) = t.await {
                tracing::error!(error = %e, "AS2 listener task failed");
            }
        }
        tracing::info!("stopping: finishing the work in hand");
        stop.store(true, Ordering::SeqCst);
        let ingested = ingest
            .await
            .map_err(|e| Error::Internal(format!("ingest task: {e}")));
        // What was received is processed before the processing loop ends.
        if let Err(e) = process.await {
            tracing::error!(error = %e, "processing task failed");
        }
        for r in remotes {
            if let Err(e) = r.await {
                tracing::error!(error = %e, "SFTP channel task failed");
            }
        }
        ingest_done.store(true, Ordering::SeqCst);
        let delivered = deliver
            .await
            .map_err(|e| Error::Internal(format!("delivery task: {e}")));
        gw.pipeline.outbox.flush()?;
        ingested??;
        delivered??;
        tracing::info!("stopped");
        Ok(())
    }

    /// Sweeps finished work older than the retention time, at start and then periodically.
    async fn retention_loop(self: Arc<Self>) {
        let every = Duration::from_secs(self.config.retention.sweep_interval_minutes.max(1) * 60);
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            let gw = Arc::clone(&self);
            let swept = tokio::task::spawn_blocking(move || {
                let now = clock::now_ms();
                let day = 24 * 3_600_000;
                let keep = u64::from(gw.config.retention.keep_days) * day;
                // A control number is remembered as long as the longest duplicate window asks.
                let window = gw
                    .pipeline
                    .partners
                    .all()
                    .iter()
                    .map(|p| u64::from(p.duplicates.window_days) * day)
                    .max()
                    .unwrap_or(0);
                retention::sweep(
                    &gw.pipeline.outbox,
                    gw.pipeline.spool.root(),
                    now.saturating_sub(keep),
                    now.saturating_sub(window.max(keep)),
                )
            })
            .await;
            match swept {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "retention sweep failed"),
                Err(e) => tracing::error!(error = %e, "retention sweep task failed"),
            }
        }
    }

    fn recover(&self) -> Result<usize, Error> {
        let pending = self.pipeline.outbox.pending_messages()?;
        let ids: Vec<_> = pending.iter().map(|m| m.id).collect();
        self.process_guarded(&ids);
        Ok(pending.len())
    }

    /// Processes messages, a batch at a time; an error or a bug marks the message it concerns
    /// failed and never stops the gateway.
    fn process_guarded(&self, ids: &[outbox::MessageId]) {
        for batch in ids.chunks(PROCESS_BATCH) {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.pipeline.process_batch(batch)
            }));
            match outcome {
                Ok(results) => self.fail_failed(results),
                // One at a time, to find the message that brings the bug out.
                Err(_) if batch.len() > 1 => {
                    for id in batch {
                        self.process_guarded(std::slice::from_ref(id));
                    }
                }
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    for &id in batch {
                        self.fail(id, format!("internal error while processing: {what}"));
                    }
                }
            }
        }
    }

    /// Marks a message failed, for `reason`.
    fn fail(&self, id: outbox::MessageId, reason: String) {
        let now = clock::now_ms();
        let state = outbox::MessageState::Failed {
            reason: reason.clone(),
        };
        if let Err(e) = self
            .pipeline
            .outbox
            .set_state(id, state.clone(), now, &reason)
        {
            tracing::error!(message = %id, %reason, error = %e, "message failed; cannot record the failure");
            return;
        }
        // For the log line and the metrics: whose file it was, and since when.
        let msg = self.pipeline.outbox.message(id).ok().flatten();
        telemetry::message_finished(
            id,
            msg.as_ref().map_or("", |m| m.file_name.as_str()),
            msg.as_ref().and_then(|m| m.partner.as_deref()),
            &state,
            msg.as_ref().map_or(now, |m| m.received_at),
            now,
        );
    }

    /// Processes what the ingest loop received, taking together what arrived meanwhile, until
    /// the ingest loop ends.
    fn process_loop(&self, received: &std::sync::mpsc::Receiver<Vec<outbox::Message>>) {
        while let Ok(mut records) = received.recv() {
            while records.len() < PROCESS_BATCH {
                match received.try_recv() {
                    Ok(more) => records.extend(more),
                    Err(_) => break,
                }
            }
            while !records.is_empty() {
                let rest = records.split_off(records.len().min(PROCESS_BATCH));
                self.process_records_guarded(records);
                records = rest;
            }
        }
    }

    /// [`Gateway::process_guarded`] for messages whose records were just written.
    fn process_records_guarded(&self, records: Vec<outbox::Message>) {
        let ids: Vec<_> = records.iter().map(|m| m.id).collect();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.pipeline.process_recorded(records)
        }));
        match outcome {
            Ok(results) => self.fail_failed(results),
            // One at a time, to find the message that brings the bug out.
            Err(_) => self.process_guarded(&ids),
        }
    }

    /// Marks failed each message whose processing ended in an error.
    fn fail_failed(&self, results: Vec<(outbox::MessageId, Result<(), Error>)>) {
        for (id, result) in results {
            if let Err(e) = result {
                self.fail(id, format!("processing failed: {e}"));
            }
        }
    }

    fn ingest_loop(
        &self,
        stop: &AtomicBool,
        process: &std::sync::mpsc::SyncSender<Vec<outbox::Message>>,
    ) -> Result<(), Error> {
        let pause = self.config.limits.poll_interval();
        let mut first_pass = true;
        while !stop.load(Ordering::SeqCst) {
            let mut took = 0;
            for inbox in &self.inboxes {
                let files = match inbox.ready() {
                    Ok(f) => f,
                    Err(e) => {
                        tracing::error!(channel = %inbox.name, error = %e, "cannot list the inbox");
                        continue;
                    }
                };
                for batch in files.chunks(BATCH) {
                    if stop.load(Ordering::SeqCst) {
                        return Ok(());
                    }
                    took += self.ingest_batch(inbox, batch, process)?;
                }
            }
            match self.outgoing.poll() {
                Ok(n) => took += n,
                Err(e) => {
                    tracing::error!(dir = %self.outgoing.path().display(), error = %e, "cannot queue outgoing events");
                }
            }
            if first_pass {
                // Every file recorded before the last stop and still in an inbox has now been
                // found again; markers left for files already gone can go.
                first_pass = false;
                for inbox in &self.inboxes {
                    self.pipeline.outbox.clear_unreleased_in(&inbox.name)?;
                }
            }
            if took == 0 {
                std::thread::sleep(pause);
            }
        }
        Ok(())
    }

    /// Receives a batch of files with one flush and one directory sync, then hands them to the
    /// processing loop.
    fn ingest_batch(
        &self,
        inbox: &DirectoryInbox,
        files: &[PathBuf],
        process: &std::sync::mpsc::SyncSender<Vec<outbox::Message>>,
    ) -> Result<usize, Error> {
        let received = self.pipeline.receive(inbox, files)?;
        if received.is_empty() {
            return Ok(0);
        }
        // The records are durable (the spool segment already is) before any file leaves its
        // inbox.
        self.pipeline.outbox.flush()?;
        if let Err(e) = self.pipeline.release(inbox, &received) {
            tracing::error!(channel = %inbox.name, error = %e, "cannot mark received files released; they will be found again");
        }
        inbox
            .sync()
            .map_err(|e| Error::io(format!("syncing {}", inbox.path.display()), e))?;
        let count = received.len();
        // Files found again after a restart are read back and processed here; the rest go to
        // the processing loop with their records.
        let (records, again): (Vec<_>, Vec<_>) =
            received.into_iter().partition(|r| r.record.is_some());
        let again: Vec<_> = again.iter().map(|r| r.id).collect();
        self.process_guarded(&again);
        let records: Vec<_> = records.into_iter().filter_map(|r| r.record).collect();
        if let Err(unsent) = process.send(records) {
            // The processing loop is gone (it only ends after this one): process here.
            self.process_records_guarded(unsent.0);
        }
        Ok(count)
    }

    fn deliver_loop(&self, ingest_done: &AtomicBool) -> Result<(), Error> {
        let mut draining_since: Option<Instant> = None;
        loop {
            let attempted = match deliver::run_due(
                &self.pipeline.outbox,
                &self.destinations,
                &self.retry,
                DELIVERY_ROUND,
                self.config.delivery.concurrency_per_destination,
            ) {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(error = %e, "delivery round failed");
                    0
                }
            };
            if ingest_done.load(Ordering::SeqCst) {
                let since = *draining_since.get_or_insert_with(Instant::now);
                if attempted == 0 || since.elapsed() > Duration::from_secs(10) {
                    return Ok(());
                }
            }
            // A short pause after a partial round lets deliveries gather, so one flush covers
            // many of them; a full round goes straight on.
            if attempted < DELIVERY_ROUND {
                std::thread::sleep(Duration::from_millis(if attempted == 0 { 20 } else { 5 }));
            }
        }
    }
}

/// Drains the metrics' histogram samples every few seconds, so they do not pile up in memory
/// while nobody scrapes.
async fn metrics_upkeep(exporter: telemetry::Exporter) {
    let mut ticks = tokio::time::interval(Duration::from_secs(5));
    loop {
        ticks.tick().await;
        exporter.upkeep();
    }
}
