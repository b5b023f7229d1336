//! `edigate status`: the running gateway at a glance — partners and their messages, the
//! delivery queues per destination, dead letters, and the SFTP links.

use std::process::ExitCode;

use clap::Args;
use gateway::admin::{MessageCounts, StatusReport};
use gateway::email_status::{EmailDirection, EmailLinkStatus};
use gateway::sftp_status::{SftpDirection, SftpLinkStatus};

use super::ops::{self, AdminArgs, Client, Failure, Table};

/// Arguments of `edigate status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    admin: AdminArgs,
}

/// Runs `edigate status`: exit 0, or 2 when the daemon cannot be asked.
pub fn run(args: &StatusArgs) -> ExitCode {
    ops::finish(status(&args.admin))
}

fn status(args: &AdminArgs) -> Result<(), Failure> {
    let client = Client::new(args)?;
    let body = client.get("/v1/status", &[])?;
    if args.json {
        ops::print_json(&body);
        return Ok(());
    }
    let report: StatusReport = ops::decode(body)?;
    print!("{}", render(&report, &args.admin));
    Ok(())
}

fn render(r: &StatusReport, admin: &str) -> String {
    let mut out = format!(
        "edigate at {admin}, data in {}, {}\n\n",
        r.data_dir,
        ops::utc(r.now)
    );
    let mut partners = Table::new(&[
        "PARTNER",
        "NAME",
        "LAST ACTIVITY",
        ">RECEIVED",
        ">PROCESSED",
        ">QUARANTINED",
        ">FAILED",
        ">DUPLICATE",
    ]);
    let counts = |c: &MessageCounts| {
        [
            c.received,
            c.processed,
            c.quarantined,
            c.failed,
            c.duplicate,
        ]
        .map(|n| n.to_string())
    };
    for p in &r.partners {
        let mut row = vec![
            p.id.clone(),
            p.name.clone(),
            p.last_activity.map_or_else(|| "-".into(), ops::utc),
        ];
        row.extend(counts(&p.messages));
        partners.row(row);
    }
    if r.unidentified.total() > 0 {
        let mut row = vec!["(unidentified)".into(), String::new(), String::new()];
        row.extend(counts(&r.unidentified));
        partners.row(row);
    }
    out.push_str(&partners.render());

    out.push('\n');
    if r.destinations.is_empty() {
        out.push_str("no deliveries yet\n");
    } else {
        let mut queues = Table::new(&[
            "DESTINATION",
            ">PENDING",
            ">IN FLIGHT",
            ">DELIVERED",
            ">DEAD",
            ">DROPPED",
        ]);
        for d in &r.destinations {
            queues.row(vec![
                d.destination.clone(),
                d.pending.to_string(),
                d.in_flight.to_string(),
                d.delivered.to_string(),
                d.dead.to_string(),
                d.dropped.to_string(),
            ]);
        }
        out.push_str(&queues.render());
    }

    out.push_str(&render_sftp(&r.sftp));
    out.push_str(&render_email(&r.email));
    if !r.as2_listeners.is_empty() {
        out.push('\n');
        let mut t = Table::new(&["AS2 CHANNEL", "LISTENING ON", "TLS"]);
        for l in &r.as2_listeners {
            t.row(vec![
                l.name.clone(),
                l.addr.clone(),
                if l.tls { "yes" } else { "no (plain HTTP)" }.into(),
            ]);
        }
        out.push_str(&t.render());
    }
    if r.awaiting_mdn > 0 {
        out.push_str(&format!(
            "\ndeliveries awaiting an AS2 MDN: {} (see `edigate outbox list --state awaiting_receipt`)\n",
            r.awaiting_mdn
        ));
    }

    out.push_str(&format!(
        "\nmessages being processed: {}   deliveries queued: {}   dead letters: {}\n",
        r.pending_messages, r.queued_deliveries, r.dead_letters
    ));
    let mut warnings = Vec::new();
    if r.dead_letters > 0 {
        warnings.push(format!(
            "{} dead letter(s): see `edigate outbox list --state dead`, then retry or drop them",
            r.dead_letters
        ));
    }
    let set_aside: u64 = r
        .partners
        .iter()
        .map(|p| &p.messages)
        .chain([&r.unidentified])
        .map(|c| c.quarantined + c.failed)
        .sum();
    if set_aside > 0 {
        warnings.push(format!(
            "{set_aside} message(s) quarantined or failed: see `edigate messages --state quarantined` and `--state failed`"
        ));
    }
    warnings.extend(silence_warnings(r));
    warnings.extend(overdue_warnings(r));
    warnings.extend(r.partner_warnings.iter().map(|w| {
        format!(
            "{}: see `edigate partners report --partner {}`",
            w.message, w.partner
        )
    }));
    warnings.extend(r.expiring_certificates.iter().map(|e| {
        format!(
            "partner {}'s AS2 certificate {} ends {} ({} days left): get its next one",
            e.partner, e.path, e.not_after, e.days_left
        )
    }));
    warnings.extend(sftp_warnings(&r.sftp));
    warnings.extend(email_warnings(&r.email));
    for w in warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}

/// One warning per document whose acknowledgement is overdue.
fn overdue_warnings(r: &StatusReport) -> Vec<String> {
    r.overdue_acknowledgements
        .iter()
        .map(|o| {
            format!(
                "no acknowledgement from partner {} for interchange {} (delivery d-{:012}, {}), delivered {}: expected within {}",
                o.partner,
                o.control_number,
                o.delivery,
                o.key.rsplit(':').next().unwrap_or("document"),
                ops::utc(o.delivered_at),
                span(o.window_ms)
            )
        })
        .collect()
}

/// One warning per partner that has sent nothing for longer than its `expect_within`.
fn silence_warnings(r: &StatusReport) -> Vec<String> {
    r.silent_partners
        .iter()
        .map(|q| {
            let who = if q.name.is_empty() || q.name == q.partner {
                format!("partner {}", q.partner)
            } else {
                format!("partner {} ({})", q.partner, q.name)
            };
            let since = match q.last_received {
                Some(at) => format!("its last file arrived {}", ops::utc(at)),
                None => format!(
                    "no file from it since this gateway's data was created, {}",
                    ops::utc(q.quiet_since)
                ),
            };
            format!(
                "{who} has sent nothing for {} (expected within {}): {since}",
                span(q.quiet_for_ms),
                span(q.expect_within_ms)
            )
        })
        .collect()
}

/// A length of time for people, to its two largest units: `3d 4h`, `2h 5m`, `1m 30s`, `4s`.
fn span(ms: u64) -> String {
    let secs = ms / 1000;
    let units = [
        ("w", 604_800),
        ("d", 86_400),
        ("h", 3_600),
        ("m", 60),
        ("s", 1),
    ];
    let mut parts = Vec::new();
    let mut rest = secs;
    for (name, size) in units {
        if rest >= size || (parts.is_empty() && size == 1) {
            parts.push(format!("{}{name}", rest / size));
            rest %= size;
        } else if !parts.is_empty() {
            // Only adjacent units: "1d 0h" says more than "1d" followed by a skipped hour count.
            parts.push(format!("0{name}"));
        }
        if parts.len() == 2 {
            break;
        }
    }
    parts.join(" ")
}

/// The SFTP links: one row each, then each link's last error on a line of its own (errors are
/// long, and the one an operator acts on).
fn render_sftp(links: &[SftpLinkStatus]) -> String {
    if links.is_empty() {
        return String::new();
    }
    let time = |t: Option<u64>| t.map_or_else(|| "-".into(), ops::utc);
    let mut table = Table::new(&[
        "SFTP LINK",
        "DIRECTION",
        "SERVER",
        "STATE",
        "LAST CONNECT",
        "LAST POLL/UPLOAD",
        ">FAILURES",
    ]);
    let mut errors = String::new();
    for l in links {
        let (direction, last_work) = match l.direction {
            SftpDirection::Inbound => ("inbound", l.last_poll),
            SftpDirection::Outbound => ("outbound", l.last_upload),
        };
        let state = match (l.connected, l.uploads_in_flight, l.max_concurrent_uploads) {
            (true, 0, _) => "connected".to_string(),
            (true, n, Some(max)) => format!("uploading {n}/{max}"),
            (true, n, None) => format!("uploading {n}"),
            (false, _, _) if l.consecutive_failures > 0 => "failing".to_string(),
            (false, _, _) => "idle".to_string(),
        };
        table.row(vec![
            l.name.clone(),
            direction.into(),
            l.server.clone(),
            state,
            time(l.last_connect),
            time(last_work),
            l.consecutive_failures.to_string(),
        ]);
        if let Some(e) = &l.last_error {
            errors.push_str(&format!(
                "  {}: last error {}{}: {}\n",
                l.name,
                ops::utc(e.at),
                if e.retryable { "" } else { " (not retryable)" },
                e.message
            ));
        }
    }
    format!("\n{}{errors}", table.render())
}

/// The mail links: one row each, then each link's last error and last refusal on lines of
/// their own.
fn render_email(links: &[EmailLinkStatus]) -> String {
    if links.is_empty() {
        return String::new();
    }
    let time = |t: Option<u64>| t.map_or_else(|| "-".into(), ops::utc);
    let mut table = Table::new(&[
        "MAIL LINK",
        "DIRECTION",
        "SERVER",
        "TLS",
        "STATE",
        "LAST SUCCESS",
        ">FAILURES",
        ">RECEIVED",
        ">REFUSED",
    ]);
    let mut details = String::new();
    for l in links {
        let (direction, state) = match l.direction {
            EmailDirection::Inbound => (
                "inbound",
                match (l.listening, l.failing) {
                    (true, false) => "listening",
                    (true, true) => "listening, failing",
                    (false, _) => "not listening",
                },
            ),
            EmailDirection::Outbound => ("outbound", if l.failing { "failing" } else { "ok" }),
        };
        let inbound = l.direction == EmailDirection::Inbound;
        table.row(vec![
            l.name.clone(),
            direction.into(),
            l.server.clone(),
            l.tls.clone(),
            state.into(),
            time(l.last_success),
            l.consecutive_failures.to_string(),
            if inbound {
                l.received.to_string()
            } else {
                "-".into()
            },
            if inbound {
                l.refused.to_string()
            } else {
                "-".into()
            },
        ]);
        if let Some(e) = &l.last_error {
            details.push_str(&format!(
                "  {}: last error {}: {}\n",
                l.name,
                ops::utc(e.at),
                e.message
            ));
        }
        if let Some(r) = &l.last_refusal {
            details.push_str(&format!(
                "  {}: last refused {} from {}: {} {}\n",
                l.name,
                ops::utc(r.at),
                if r.sender.is_empty() { "<>" } else { &r.sender },
                r.code,
                r.reason
            ));
        }
    }
    format!("\n{}{details}", table.render())
}

/// A warning for each mail link failing now.
fn email_warnings(links: &[EmailLinkStatus]) -> Vec<String> {
    links
        .iter()
        .filter(|l| l.failing || (l.direction == EmailDirection::Inbound && !l.listening))
        .map(|l| match l.direction {
            EmailDirection::Outbound => format!(
                "mail link {} to {}: {} attempt(s) in a row failed; retrying",
                l.name, l.server, l.consecutive_failures
            ),
            EmailDirection::Inbound if !l.listening => {
                format!("email channel {} is not listening on {}", l.name, l.server)
            }
            EmailDirection::Inbound => format!(
                "email channel {}: {} mail(s) in a row could not be recorded; senders are told to retry",
                l.name, l.consecutive_failures
            ),
        })
        .collect()
}

/// A warning for each SFTP link whose last attempts failed.
fn sftp_warnings(links: &[SftpLinkStatus]) -> Vec<String> {
    links
        .iter()
        .filter(|l| l.consecutive_failures > 0)
        .map(|l| {
            let action = match &l.last_error {
                Some(e) if !e.retryable => {
                    "retrying will not help: check the settings with `edigate sftp test`"
                }
                _ => "retrying",
            };
            format!(
                "SFTP link {} to {}: {} attempt(s) in a row failed; {action}",
                l.name, l.server, l.consecutive_failures
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_to_two_units() {
        assert_eq!(span(0), "0s");
        assert_eq!(span(999), "0s");
        assert_eq!(span(4_000), "4s");
        assert_eq!(span(90_000), "1m 30s");
        assert_eq!(span(3_600_000), "1h 0m");
        assert_eq!(span(86_400_000 + 5 * 3_600_000 + 59_000), "1d 5h");
        assert_eq!(span(14 * 86_400_000), "2w 0d");
    }
}
