//! `edigate trace ID`: the whole life of one message — received, identified, validated,
//! acknowledged, translated, and each of its deliveries with its attempts.

use std::process::ExitCode;

use clap::Args;
use gateway::admin::MessageDetail;
use outbox::TraceEntry;

use super::messages::{state_text, types_text};
use super::ops::{self, AdminArgs, Client, Failure, Table};
use super::outbox_cmd;

/// Arguments of `edigate trace`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// The message: `m-000000000042`, `m-42` or `42`.
    id: String,
    #[command(flatten)]
    admin: AdminArgs,
}

/// Runs `edigate trace`: exit 0, 1 when there is no such message, 2 when the daemon cannot be
/// asked.
pub fn run(args: &TraceArgs) -> ExitCode {
    ops::finish(trace(args))
}

fn trace(args: &TraceArgs) -> Result<(), Failure> {
    let id = ops::message_id(&args.id)?;
    let client = Client::new(&args.admin)?;
    let body = client.get(&format!("/v1/messages/{id}"), &[])?;
    if args.admin.json {
        ops::print_json(&body);
        return Ok(());
    }
    let detail: MessageDetail = ops::decode(body)?;
    print!("{}", render(&detail));
    Ok(())
}

fn render(d: &MessageDetail) -> String {
    let m = &d.message;
    let (state, reason) = state_text(&m.state);
    let mut out = format!(
        "message {}: {} ({} bytes) from channel {}\n",
        m.id, m.file_name, m.size, m.channel
    );
    out.push_str(&format!(
        "partner {}, {}{}, received {}, last change {}\n",
        m.partner.as_deref().unwrap_or("(not identified)"),
        state,
        if reason.is_empty() {
            String::new()
        } else {
            format!(" ({reason})")
        },
        ops::utc(m.received_at),
        ops::utc(m.updated_at)
    ));
    if !m.message_types.is_empty() || !m.event_types.is_empty() {
        out.push_str(&format!("types {}\n", types_text(m)));
    }
    out.push_str(&format!(
        "sha256 {}, spooled in {} at offset {}\n\n",
        m.sha256,
        m.spool_path.display(),
        m.spool_offset
    ));
    let mut steps = Table::new(&["TIME", "STEP", "DETAIL"]);
    for entry in &d.trace {
        steps.row(vec![
            ops::utc(entry.at),
            step_name(entry),
            step_detail(entry),
        ]);
    }
    out.push_str(&steps.render());
    out.push('\n');
    if d.deliveries.is_empty() {
        out.push_str("no deliveries\n");
    } else {
        out.push_str(&outbox_cmd::table(&d.deliveries).render());
    }
    // The AS2 MDNs each delivery was answered with: the evidence it arrived (or why not).
    let receipts: Vec<_> = d
        .deliveries
        .iter()
        .flat_map(|del| del.receipts.iter().map(move |r| (del.id, r)))
        .collect();
    if !receipts.is_empty() {
        out.push('\n');
        let mut t = Table::new(&[
            "DELIVERY",
            "MDN AT",
            "VIA",
            "VERDICT",
            "SIGNED",
            "MESSAGE-ID",
            "DETAIL",
        ]);
        for (id, r) in receipts {
            t.row(vec![
                id.to_string(),
                ops::utc(r.at),
                r.via.clone(),
                r.verdict.as_str().into(),
                if r.signed { "yes" } else { "no" }.into(),
                r.reference.clone(),
                r.detail.clone(),
            ]);
        }
        out.push_str(&t.render());
    }
    out
}

/// The step's name as the outbox stores it (`ack_queued`): read from its JSON so a step added
/// to the outbox later still shows.
fn step_name(entry: &TraceEntry) -> String {
    serde_json::to_value(&entry.step)
        .ok()
        .and_then(|v| v.get("step").and_then(|s| s.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// The step's fields (`control_number=000000731`) followed by its free text.
fn step_detail(entry: &TraceEntry) -> String {
    let mut parts = Vec::new();
    if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(&entry.step) {
        for (k, v) in fields {
            if k == "step" {
                continue;
            }
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            parts.push(format!("{k}={v}"));
        }
    }
    if !entry.detail.is_empty() {
        parts.push(entry.detail.clone());
    }
    parts.join(" ")
}
