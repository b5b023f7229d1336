//! Alerts to the operators by email (`[alerts]`), so no one has to watch `edigate status`.
//!
//! An alert is an outbox delivery like any other (destination [`DESTINATION`]): it is durable
//! before it is sent, retried with backoff while the mail server is away, and visible in
//! `edigate outbox list`. Time is cut into windows of `min_interval_s`; when a window closes, the
//! deliveries dead-lettered in it become one digest mail, so a partner whose server refuses
//! everything costs the operators one mail per interval, not one per document.
//!
//! A digest's idempotency key is its window, and its text a pure function of the dead deliveries
//! in it: a window checked again (at each start the last closed window is) enqueues nothing new.
//! Deliveries dead-lettered in windows that closed while the gateway was stopped for longer than
//! one interval are not reported; `edigate outbox list --state dead` still shows them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use outbox::{
    DeliveryFilter, DeliveryState, DeliveryStateKind, MessageFilter, MessageState, NewDelivery,
    Outbox, Step,
};
use partner::email::{EmailConfig, TlsMode};
use serde::Deserialize;

use crate::{Gateway, clock};

/// The outbox destination of alert mails.
pub const DESTINATION: &str = "alerts:email";

/// The outbox destination of alerts posted to `[alerts.webhook]`.
pub const WEBHOOK_DESTINATION: &str = "alerts:webhook";

/// How many dead deliveries a digest lists one by one; the rest are counted.
const LISTED: usize = 50;

/// `[alerts]`: who gets alert mails, through which SMTP server, and how often at most.
///
/// ```toml
/// [alerts]
/// to = ["ops@us.example"]
/// from = "edigate@us.example"
/// host = "smtp.us.example"
/// tls = "starttls"              # none | starttls | tls; port defaults to 25, 587, 465
/// user = "edigate"              # optional, with password_env or password_file
/// password_env = "SMTP_PASSWORD"
/// min_interval_s = 900          # at most one digest mail per rule and interval
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// The operators' addresses.
    pub to: Vec<String>,
    /// The alerts' `From`.
    pub from: String,
    /// The SMTP server's host name or address.
    pub host: String,
    /// The SMTP server's port; `None` takes the usual one for the TLS mode.
    #[serde(default)]
    pub port: Option<u16>,
    /// How the connection is protected.
    #[serde(default)]
    pub tls: TlsMode,
    /// The account to log in as, when the server wants a login.
    #[serde(default)]
    pub user: Option<String>,
    /// The environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// A file holding the password (its first line).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// A PEM file of CA certificates trusted besides the public roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// How long connecting and each SMTP command may take, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The shortest time between two digests of one rule, in seconds.
    #[serde(default = "default_min_interval_s")]
    pub min_interval_s: u64,
    /// Alert when more deliveries than this wait to be sent (pending or in flight), all
    /// destinations together.
    #[serde(default)]
    pub queue_depth: Option<u64>,
    /// Alert when the outbox database and the spool together take more bytes than this.
    #[serde(default)]
    pub storage_bytes: Option<u64>,
    /// Alert when a partner's AS2 certificate ends within this many days (default 30) with no
    /// newer one to follow.
    #[serde(default = "default_certificate_days")]
    pub certificate_days: i64,
    /// Also post each alert, as JSON, to this HTTP endpoint (a chat or paging hook).
    #[serde(default)]
    pub webhook: Option<AlertWebhook>,
}

/// `[alerts.webhook]`: where alerts are posted besides the mail.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertWebhook {
    /// The endpoint (`http` or `https`).
    pub url: String,
    /// The environment variable holding the HMAC secret the posts are signed with, as the event
    /// webhook signs them.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// How long a post may take, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

impl AlertsConfig {
    /// The SMTP settings, in the form partners' mail settings take.
    pub fn email(&self) -> EmailConfig {
        EmailConfig {
            to: self.to.clone(),
            from: self.from.clone(),
            // Alerts carry their own subject (see `digest`); this one is never rendered.
            subject: String::new(),
            host: self.host.clone(),
            port: self.port,
            tls: self.tls,
            user: self.user.clone(),
            password_env: self.password_env.clone(),
            password_file: self.password_file.clone(),
            ca_file: self.ca_file.clone(),
            timeout_ms: self.timeout_ms,
        }
    }

    fn interval_ms(&self) -> u64 {
        self.min_interval_s.max(1) * 1000
    }
}

fn default_timeout_ms() -> u64 {
    30_000
}

fn default_certificate_days() -> i64 {
    crate::certificates::WARN_DAYS
}

fn default_min_interval_s() -> u64 {
    900
}

impl Gateway {
    /// Checks each window as it closes and queues its digest; runs until aborted.
    pub(crate) async fn alerts_loop(self: Arc<Self>) {
        let Some(interval) = self.config.alerts.as_ref().map(AlertsConfig::interval_ms) else {
            return;
        };
        // The last closed window is checked again: its digest may not have been queued before
        // the last stop.
        let mut next = (clock::now_ms() / interval).saturating_sub(1);
        let mut ticks =
            tokio::time::interval(Duration::from_millis((interval / 4).clamp(50, 1000)));
        // The conditions standing at the last check (kept in memory: after a restart, those
        // still standing are reported once more, and ones that ended while stopped are not).
        let active = Arc::new(std::sync::Mutex::new(BTreeMap::<String, String>::new()));
        loop {
            ticks.tick().await;
            let current = clock::now_ms() / interval;
            if current <= next {
                continue;
            }
            let gw = Arc::clone(&self);
            let active = Arc::clone(&active);
            let webhook = self
                .config
                .alerts
                .as_ref()
                .is_some_and(|a| a.webhook.is_some());
            let (from, to) = (next, current);
            let checked = tokio::task::spawn_blocking(move || {
                for window in from..to {
                    queue_digest(&gw.pipeline.outbox, window * interval, interval, webhook)?;
                    queue_files_digest(&gw.pipeline.outbox, window * interval, interval, webhook)?;
                }
                let standing = gw.conditions()?;
                let mut before = active
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                queue_conditions_digest(
                    &gw.pipeline.outbox,
                    &before,
                    &standing,
                    to * interval,
                    webhook,
                )?;
                *before = standing;
                Ok::<_, outbox::Error>(())
            })
            .await;
            match checked {
                Ok(Ok(())) => next = current,
                // Checked again at the next tick.
                Ok(Err(e)) => tracing::error!(error = %e, "cannot check for alerts"),
                Err(e) => tracing::error!(error = %e, "alert task failed"),
            }
        }
    }
}

impl Gateway {
    /// The conditions that stand now, by key, each with its description: partners silent past
    /// their `expect_within`, documents unacknowledged past `ack_within`, the partner insights'
    /// early warnings (a partner ordering well below its usual level or quiet for longer than
    /// usual), a delivery queue
    /// deeper than `[alerts] queue_depth`, storage over `[alerts] storage_bytes`.
    fn conditions(&self) -> Result<BTreeMap<String, String>, outbox::Error> {
        let outbox = &self.pipeline.outbox;
        let partners = &self.pipeline.partners;
        let now = clock::now_ms();
        let mut standing = BTreeMap::new();
        for q in crate::silence::quiet(outbox, &crate::silence::Watch::all(partners), now)? {
            if q.silent {
                standing.insert(
                    format!("silent:{}", q.partner),
                    format!(
                        "partner {} has sent nothing for {} s (expected within {} s)",
                        q.partner,
                        q.quiet_for_ms / 1000,
                        q.expect_within_ms / 1000
                    ),
                );
            }
        }
        let mut overdue: BTreeMap<String, usize> = BTreeMap::new();
        for o in crate::reconcile::overdue(outbox, partners, now)? {
            *overdue.entry(o.partner).or_default() += 1;
        }
        for (partner, n) in overdue {
            standing.insert(
                format!("overdue:{partner}"),
                format!("{n} document(s) to partner {partner} not acknowledged in time"),
            );
        }
        for w in crate::insights::warnings(outbox, partners, &self.config.insights, now)? {
            let kind = match w.kind {
                ::insights::WarningKind::VolumeDrop => "volume-drop",
                ::insights::WarningKind::Quiet => "quiet",
            };
            standing.insert(format!("insight:{kind}:{}", w.partner), w.message);
        }
        let Some(config) = &self.config.alerts else {
            return Ok(standing);
        };
        for e in crate::certificates::expiring(partners, config.certificate_days) {
            standing.insert(
                format!("certificate:{}:{}", e.partner, e.path),
                format!(
                    "partner {}'s AS2 certificate {} ends {} ({} days left)",
                    e.partner, e.path, e.not_after, e.days_left
                ),
            );
        }
        if let Some(limit) = config.queue_depth {
            let queued: u64 = outbox
                .counts()?
                .iter()
                .filter(|c| c.destination != DESTINATION && c.destination != WEBHOOK_DESTINATION)
                .map(|c| c.pending + c.in_flight)
                .sum();
            if queued > limit {
                standing.insert(
                    "queue".into(),
                    format!("{queued} deliveries waiting to be sent (more than {limit})"),
                );
            }
        }
        if let Some(limit) = config.storage_bytes {
            let bytes = outbox.size_on_disk()? + dir_bytes(self.pipeline.spool.root());
            if bytes > limit {
                standing.insert(
                    "storage".into(),
                    format!("the outbox and the spool take {bytes} bytes (more than {limit})"),
                );
            }
        }
        Ok(standing)
    }
}

/// The bytes of every file under `dir`.
fn dir_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Queues one mail for the conditions that started or ended since the last check (`before`),
/// if any did: what is wrong now, and what recovered.
pub fn queue_conditions_digest(
    outbox: &Outbox,
    before: &BTreeMap<String, String>,
    now: &BTreeMap<String, String>,
    at: u64,
    webhook: bool,
) -> Result<bool, outbox::Error> {
    let raised: Vec<&String> = now
        .iter()
        .filter(|(k, _)| !before.contains_key(*k))
        .map(|(_, v)| v)
        .collect();
    let recovered: Vec<&String> = before
        .iter()
        .filter(|(k, _)| !now.contains_key(*k))
        .map(|(_, v)| v)
        .collect();
    if raised.is_empty() && recovered.is_empty() {
        return Ok(false);
    }
    let mut text = format!(
        "Subject: edigate: {} raised, {} recovered\n\n",
        raised.len(),
        recovered.len()
    );
    if !raised.is_empty() {
        text.push_str(&format!("Raised at {} UTC:\n", utc(at)));
        for r in &raised {
            text.push_str(&format!("  {r}\n"));
        }
        text.push('\n');
    }
    if !recovered.is_empty() {
        text.push_str(&format!(
            "Recovered by {} UTC (as last reported):\n",
            utc(at)
        ));
        for r in &recovered {
            text.push_str(&format!("  {r}\n"));
        }
        text.push('\n');
    }
    text.push_str("`edigate status` shows what stands now.\n");
    enqueue_alert(
        outbox,
        format!("alert:conditions:{at}"),
        &text,
        raised.len() + recovered.len(),
        at,
        "conditions changed: alert queued",
        webhook,
    )
}

/// Queues the digest of the deliveries dead-lettered in `[start, start + length)`, if any;
/// returns whether one was queued now.
pub fn queue_digest(
    outbox: &Outbox,
    start: u64,
    length: u64,
    webhook: bool,
) -> Result<bool, outbox::Error> {
    let end = start + length;
    let filter = DeliveryFilter {
        state: Some(DeliveryStateKind::Dead),
        ..DeliveryFilter::default()
    };
    let mut dead: Vec<(u64, outbox::Delivery, String)> = outbox
        .list_deliveries(&filter, usize::MAX)?
        .into_iter()
        // An alert that could not be sent is not itself alerted: it would never end.
        .filter(|d| d.destination != DESTINATION && d.destination != WEBHOOK_DESTINATION)
        .filter_map(|d| match &d.state {
            DeliveryState::Dead { reason, at } if (start..end).contains(at) => {
                let (at, reason) = (*at, reason.clone());
                Some((at, d, reason))
            }
            _ => None,
        })
        .collect();
    if dead.is_empty() {
        return Ok(false);
    }
    dead.sort_by_key(|(at, d, _)| (*at, d.id));
    let n = dead.len();
    let plural = if n == 1 { "delivery" } else { "deliveries" };
    let mut text = format!(
        "Subject: edigate: {n} {plural} dead-lettered\n\n\
         {n} {plural} dead-lettered between {} and {} UTC:\n\n",
        utc(start),
        utc(end)
    );
    for (at, d, reason) in dead.iter().take(LISTED) {
        text.push_str(&format!(
            "  {} to {} ({}), {} UTC, after {} attempt{}: {reason}\n",
            d.id,
            d.destination,
            d.key,
            utc(*at),
            d.attempts,
            if d.attempts == 1 { "" } else { "s" }
        ));
    }
    if n > LISTED {
        text.push_str(&format!("  … and {} more\n", n - LISTED));
    }
    text.push_str(
        "\nEach waits for an operator: `edigate outbox list --state dead` shows them, \
         `edigate outbox retry ID` sends one again once the cause is fixed.\n",
    );
    enqueue_alert(
        outbox,
        format!("alert:dead-lettered:{start}"),
        &text,
        n,
        start,
        "dead-lettered deliveries: alert queued",
        webhook,
    )
}

/// Queues an alert mail under `key` (its window); false when one is already queued for it (a
/// window checked again, perhaps with another list since an operator acted: already alerted).
fn enqueue_alert(
    outbox: &Outbox,
    key: String,
    text: &str,
    count: usize,
    window_start: u64,
    what: &'static str,
    webhook: bool,
) -> Result<bool, outbox::Error> {
    let new = NewDelivery::new(DESTINATION, key.clone(), "text/plain", clock::now_ms());
    let created = match outbox.enqueue(new, text.as_bytes()) {
        Ok(e) => e.created,
        Err(outbox::Error::KeyConflict { .. }) => return Ok(false),
        Err(e) => return Err(e),
    };
    if created && webhook {
        // The same alert as JSON: the subject line, and the text below it.
        let (subject, body) = text
            .split_once("\n\n")
            .map_or(("", text), |(s, b)| (s.trim_start_matches("Subject: "), b));
        // `id` as the event webhook's posts have one: receivers deduplicate by it.
        let json = serde_json::json!({
            "id": key,
            "type": "alert",
            "subject": subject,
            "text": body,
            "window_start_ms": window_start,
        });
        let new = NewDelivery::new(
            WEBHOOK_DESTINATION,
            format!("{key}@webhook"),
            "application/json",
            clock::now_ms(),
        );
        match outbox.enqueue(new, json.to_string().as_bytes()) {
            Ok(_) | Err(outbox::Error::KeyConflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    if created {
        tracing::warn!(count, window_start, "{what}");
    }
    Ok(created)
}

/// Queues the digest of the files that need attention, finished in `[start, start + length)`:
/// set aside (unknown sender, wrong receiver, unreadable), duplicate interchanges, failed, and
/// processed ones with an interchange or message rejected (a negative acknowledgement went back).
/// Returns whether one was queued now.
pub fn queue_files_digest(
    outbox: &Outbox,
    start: u64,
    length: u64,
    webhook: bool,
) -> Result<bool, outbox::Error> {
    let end = start + length;
    // Files are listed by arrival; a file finished in the window arrived before its end, and
    // (processing takes far less than a day) after a day before its start.
    let filter = MessageFilter {
        since: Some(start.saturating_sub(24 * 3_600_000)),
        ..MessageFilter::default()
    };
    let mut found: Vec<(u64, String)> = Vec::new();
    for m in outbox.list_messages(&filter, usize::MAX)? {
        if !(start..end).contains(&m.updated_at) {
            continue;
        }
        let partner = m.partner.as_deref().unwrap_or("unknown partner");
        let what = match &m.state {
            MessageState::Quarantined { reason } => format!("set aside: {reason}"),
            MessageState::Failed { reason } => format!("failed: {reason}"),
            MessageState::Duplicate { of } => {
                format!("duplicate interchange, first received in {of}")
            }
            MessageState::Processed => {
                // Rejected messages, or an envelope so broken no message was accepted: the
                // partner got a negative acknowledgement.
                let (mut accepted, mut rejected, mut findings) = (0u32, 0u32, false);
                for t in outbox.trace(m.id)? {
                    if let Step::Validated {
                        accepted: a,
                        rejected: r,
                    } = t.step
                    {
                        accepted += a;
                        rejected += r;
                        findings |= !t.detail.is_empty();
                    }
                }
                if rejected > 0 {
                    format!("{rejected} message(s) rejected; the negative acknowledgement was sent")
                } else if accepted == 0 && findings {
                    "the interchange was rejected; the negative acknowledgement was sent".to_owned()
                } else {
                    continue;
                }
            }
            MessageState::Received => continue,
        };
        found.push((
            m.updated_at,
            format!(
                "  {} {} from {partner}, {} UTC: {what}\n",
                m.id,
                m.file_name,
                utc(m.updated_at)
            ),
        ));
    }
    if found.is_empty() {
        return Ok(false);
    }
    found.sort();
    let n = found.len();
    let plural = if n == 1 { "file needs" } else { "files need" };
    let mut text = format!(
        "Subject: edigate: {n} {plural} attention\n\n\
         {n} {plural} attention, finished between {} and {} UTC:\n\n",
        utc(start),
        utc(end)
    );
    for (_, line) in found.iter().take(LISTED) {
        text.push_str(line);
    }
    if n > LISTED {
        text.push_str(&format!("  … and {} more\n", n - LISTED));
    }
    text.push_str(
        "\n`edigate trace ID` shows each one's whole story; `edigate reprocess ID` runs a file \
         again once the cause is fixed.\n",
    );
    enqueue_alert(
        outbox,
        format!("alert:files:{start}"),
        &text,
        n,
        start,
        "files need attention: alert queued",
        webhook,
    )
}

/// `ms` since the Unix epoch as UTC `YYYY-MM-DD HH:MM:SS`.
fn utc(ms: u64) -> String {
    clock::utc_at(ms, ("-", " ", ":"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use outbox::RetryPolicy;

    #[test]
    fn a_window_gets_one_digest_however_often_it_is_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outbox = Outbox::open(dir.path().join("db")).expect("opens");
        let policy = RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        };
        let mut ids = Vec::new();
        for (key, at) in [("a", 10_000u64), ("b", 11_000), ("c", 25_000)] {
            let new = NewDelivery::new("partner:p", key, "application/edi-x12", at - 1_000);
            let id = outbox.enqueue(new, b"ISA").expect("enqueue").delivery.id;
            outbox.claim(id, at, 60_000).expect("claim");
            outbox
                .fail(id, "550 no such mailbox", at, &policy)
                .expect("fail");
            ids.push(id);
        }
        assert!(queue_digest(&outbox, 10_000, 10_000, false).expect("digest"));
        assert!(!queue_digest(&outbox, 10_000, 10_000, false).expect("again"));
        assert!(!queue_digest(&outbox, 0, 10_000, false).expect("an empty window"));
        let filter = DeliveryFilter {
            destination: Some(DESTINATION.into()),
            ..DeliveryFilter::default()
        };
        let digests = outbox.list_deliveries(&filter, 10).expect("list");
        assert_eq!(digests.len(), 1);
        let text = outbox
            .payload(digests[0].id)
            .expect("payload")
            .expect("held");
        let text = String::from_utf8(text).expect("text");
        assert!(
            text.starts_with("Subject: edigate: 2 deliveries dead-lettered\n\n"),
            "{text}"
        );
        assert!(text.contains(&ids[0].to_string()) && text.contains(&ids[1].to_string()));
        assert!(!text.contains(&ids[2].to_string()), "{text}");
        assert!(text.contains("550 no such mailbox"), "{text}");
    }
}
