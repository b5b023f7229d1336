//! `edigate send FILE...`: business events from the ERP (an order response, a shipment notice,
//! an invoice) handed to the running gateway, which writes each as the partner's EDI with the
//! partner's mapping, validates it and queues it for delivery.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use gateway::outbound::Queued;
use serde_json::Value;

use super::ops::{self, AdminArgs, Client, Failure};

/// Arguments of `edigate send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// Files of events: one JSON object, or JSON Lines. Each needs `type` and `data`; a
    /// canonical event as edigate writes them will do (its `id` becomes the key).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The partner the events go to; else each event's own `partner`.
    #[arg(long)]
    pub partner: Option<String>,
    #[command(flatten)]
    admin: AdminArgs,
}

/// Runs `edigate send`: exit 0 when every event was queued, 1 when any was refused, 2 when the
/// daemon cannot be asked or a file cannot be read.
pub fn run(args: &SendArgs) -> ExitCode {
    ops::finish(send(args))
}

fn send(args: &SendArgs) -> Result<(), Failure> {
    let mut requests = Vec::new();
    for file in &args.files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| Failure::Usage(format!("{}: {e}", file.display())))?;
        for (n, event) in gateway::outbound::events_in(&text)
            .map_err(|e| Failure::Usage(format!("{}: {e}", file.display())))?
            .into_iter()
            .enumerate()
        {
            let at = format!("{} event {}", file.display(), n + 1);
            requests.push((at.clone(), request(event, args.partner.as_deref(), &at)?));
        }
    }
    let client = Client::new(&args.admin)?;
    let mut answers = Vec::new();
    let mut refused = 0;
    for (at, body) in &requests {
        match client.post_json("/v1/outbound", body) {
            Ok(answer) => {
                if !args.admin.json {
                    let q: Queued = ops::decode(answer.clone())?;
                    let numbers = q.control_numbers.join("/");
                    let again = if q.created { "" } else { " (queued before)" };
                    println!(
                        "{at}: {} → {} queued for {}, delivery {}, control {numbers}{again}",
                        q.event_type, q.message, q.partner, q.delivery
                    );
                }
                answers.push(answer);
            }
            Err(Failure::Api { status, message }) if status == 404 || status == 422 => {
                eprintln!("edigate: {at}: {message}");
                refused += 1;
            }
            Err(e) => return Err(e),
        }
    }
    if args.admin.json {
        ops::print_json(&Value::Array(answers));
    }
    if refused > 0 {
        return Err(Failure::Other(format!(
            "{refused} of {} events were not queued",
            requests.len()
        )));
    }
    Ok(())
}

/// The admin API's request for one event: its `type` and `data`, the partner, and its `id` as
/// the key, so the same event sent twice is one document.
fn request(event: Value, partner: Option<&str>, at: &str) -> Result<Value, Failure> {
    gateway::outbound::request_body(event, partner, "give --partner")
        .map_err(|e| Failure::Usage(format!("{at}: {e}")))
}
