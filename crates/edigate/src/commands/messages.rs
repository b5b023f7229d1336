//! `edigate messages`: the files the gateway received, newest first, with their partner and
//! where their processing stands.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use gateway::admin::MessageList;
use outbox::{Message, MessageState};

use super::ops::{self, AdminArgs, Client, Failure, Table};

/// Arguments of `edigate messages`.
#[derive(Debug, Args)]
pub struct MessagesArgs {
    /// Only this partner's messages.
    #[arg(long)]
    partner: Option<String>,
    /// Only messages in this state.
    #[arg(long, value_enum)]
    state: Option<MessageStateArg>,
    /// Only files that held a message of this type (850, ORDERS) or made an event of this type
    /// (order.created); case is ignored.
    #[arg(long = "type", value_name = "TYPE")]
    message_type: Option<String>,
    /// Only messages received within this long: 30s, 15m, 1h, 2d, 1w.
    #[arg(long, value_parser = duration)]
    since: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    limit: u32,
    #[command(flatten)]
    admin: AdminArgs,
}

/// A message state, as the admin API names it.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum MessageStateArg {
    Received,
    Processed,
    Quarantined,
    Failed,
    Duplicate,
}

impl MessageStateArg {
    fn api_name(self) -> &'static str {
        match self {
            MessageStateArg::Received => "received",
            MessageStateArg::Processed => "processed",
            MessageStateArg::Quarantined => "quarantined",
            MessageStateArg::Failed => "failed",
            MessageStateArg::Duplicate => "duplicate",
        }
    }
}

/// Checked here so a typo is a usage error, not a round trip; the daemon reads it again.
fn duration(s: &str) -> Result<String, String> {
    gateway::admin::parse_duration(s).map(|_| s.trim().to_owned())
}

/// Runs `edigate messages`.
pub fn run(args: &MessagesArgs) -> ExitCode {
    ops::finish(messages(args))
}

fn messages(args: &MessagesArgs) -> Result<(), Failure> {
    let client = Client::new(&args.admin)?;
    let mut query = vec![("limit", args.limit.to_string())];
    if let Some(p) = &args.partner {
        query.push(("partner", p.clone()));
    }
    if let Some(s) = args.state {
        query.push(("state", s.api_name().to_owned()));
    }
    if let Some(s) = &args.since {
        query.push(("since", s.clone()));
    }
    if let Some(t) = &args.message_type {
        query.push(("type", t.clone()));
    }
    let body = client.get("/v1/messages", &query)?;
    if args.admin.json {
        ops::print_json(&body);
        return Ok(());
    }
    let list: MessageList = ops::decode(body)?;
    if list.messages.is_empty() {
        println!("no messages");
        return Ok(());
    }
    let mut table = Table::new(&[
        "ID", "RECEIVED", "PARTNER", "CHANNEL", "FILE", ">SIZE", "TYPES", "STATE", "REASON",
    ]);
    for m in &list.messages {
        table.row(row(m));
    }
    print!("{}", table.render());
    Ok(())
}

fn row(m: &Message) -> Vec<String> {
    let (state, reason) = state_text(&m.state);
    vec![
        m.id.to_string(),
        ops::utc(m.received_at),
        m.partner.clone().unwrap_or_else(|| "-".into()),
        m.channel.clone(),
        m.file_name.clone(),
        m.size.to_string(),
        types_text(m),
        state,
        reason,
    ]
}

/// The message types a file held, then the event types it made: `850 -> order.created`.
pub fn types_text(m: &Message) -> String {
    let held = m.message_types.join(",");
    let made = m.event_types.join(",");
    match (held.is_empty(), made.is_empty()) {
        (true, true) => "-".into(),
        (false, true) => held,
        (true, false) => format!("-> {made}"),
        (false, false) => format!("{held} -> {made}"),
    }
}

/// A message state for people: its name, and its reason when it has one.
pub fn state_text(state: &MessageState) -> (String, String) {
    match state {
        MessageState::Received => ("received".into(), String::new()),
        MessageState::Processed => ("processed".into(), String::new()),
        MessageState::Quarantined { reason } => ("quarantined".into(), reason.clone()),
        MessageState::Failed { reason } => ("failed".into(), reason.clone()),
        MessageState::Duplicate { of } => ("duplicate".into(), format!("of {of}")),
    }
}
