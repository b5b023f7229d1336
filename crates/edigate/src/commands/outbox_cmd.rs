//! `edigate outbox list|retry|drop`: the deliveries waiting, given up or done, and an operator's
//! two remedies — send a dead or waiting delivery again now, or never.

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use gateway::admin::{DeliveryAction, DeliveryList};
use outbox::{Delivery, DeliveryId, DeliveryState};

use super::ops::{self, AdminArgs, Client, Failure, Table};

/// Arguments of `edigate outbox`.
#[derive(Debug, Args)]
pub struct OutboxArgs {
    #[command(subcommand)]
    command: OutboxCommand,
}

#[derive(Debug, Subcommand)]
enum OutboxCommand {
    /// List deliveries: with --state in that state's order (pending by due time), else the
    /// newest first.
    List {
        /// Only deliveries in this state.
        #[arg(long, value_enum)]
        state: Option<DeliveryStateArg>,
        /// Only deliveries to this destination (`sink:events`, `partner:acme-retail`).
        #[arg(long)]
        destination: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Send a dead or pending delivery again now, with a fresh round of attempts.
    Retry {
        /// The delivery: `d-000000000042`, `d-42` or `42`.
        id: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Never send a dead or pending delivery.
    Drop {
        /// The delivery: `d-000000000042`, `d-42` or `42`.
        id: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Print an AS2 MDN a delivery was answered with, exactly as kept (the evidence).
    Mdn {
        /// The delivery: `d-000000000042`, `d-42` or `42`.
        id: String,
        /// Which of its MDNs, 0 the first (`edigate trace` lists them).
        #[arg(default_value_t = 0)]
        index: u32,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

/// A delivery state, as the admin API names it.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum DeliveryStateArg {
    Pending,
    #[value(name = "in_flight", alias = "in-flight")]
    InFlight,
    Delivered,
    Dead,
    Dropped,
    /// Sent over AS2, its asynchronous MDN awaited.
    #[value(name = "awaiting_receipt", alias = "awaiting-mdn")]
    AwaitingReceipt,
}

impl DeliveryStateArg {
    fn api_name(self) -> &'static str {
        match self {
            DeliveryStateArg::Pending => "pending",
            DeliveryStateArg::InFlight => "in_flight",
            DeliveryStateArg::Delivered => "delivered",
            DeliveryStateArg::Dead => "dead",
            DeliveryStateArg::Dropped => "dropped",
            DeliveryStateArg::AwaitingReceipt => "awaiting_receipt",
        }
    }
}

/// Runs `edigate outbox …`: exit 0, 1 when the delivery does not exist or its state forbids
/// the action, 2 when the daemon cannot be asked.
pub fn run(args: &OutboxArgs) -> ExitCode {
    ops::finish(match &args.command {
        OutboxCommand::List {
            state,
            destination,
            limit,
            admin,
        } => list(*state, destination.as_deref(), *limit, admin),
        OutboxCommand::Retry { id, admin } => action(id, "retry", admin),
        OutboxCommand::Drop { id, admin } => action(id, "drop", admin),
        OutboxCommand::Mdn { id, index, admin } => mdn(id, *index, admin),
    })
}

fn mdn(id: &str, index: u32, admin: &AdminArgs) -> Result<(), Failure> {
    let id: DeliveryId = gateway::admin::parse_id(id, "d").ok_or_else(|| {
        Failure::Usage(format!(
            "{id:?} is not a delivery id (d-000000000042, d-42 or 42)"
        ))
    })?;
    let client = Client::new(admin)?;
    let body = client.get(&format!("/v1/deliveries/{id}/receipts/{index}"), &[])?;
    if admin.json {
        ops::print_json(&body);
        return Ok(());
    }
    let detail: gateway::admin::ReceiptDetail = ops::decode(body)?;
    print!("{}", detail.raw);
    Ok(())
}

fn list(
    state: Option<DeliveryStateArg>,
    destination: Option<&str>,
    limit: u32,
    admin: &AdminArgs,
) -> Result<(), Failure> {
    let client = Client::new(admin)?;
    let mut query = vec![("limit", limit.to_string())];
    if let Some(s) = state {
        query.push(("state", s.api_name().to_owned()));
    }
    if let Some(d) = destination {
        query.push(("destination", d.to_owned()));
    }
    let body = client.get("/v1/deliveries", &query)?;
    if admin.json {
        ops::print_json(&body);
        return Ok(());
    }
    let list: DeliveryList = ops::decode(body)?;
    if list.deliveries.is_empty() {
        println!("no deliveries");
    } else {
        print!("{}", table(&list.deliveries).render());
    }
    Ok(())
}

fn action(id: &str, verb: &str, admin: &AdminArgs) -> Result<(), Failure> {
    let id: DeliveryId = gateway::admin::parse_id(id, "d").ok_or_else(|| {
        Failure::Usage(format!(
            "{id:?} is not a delivery id (d-000000000042, d-42 or 42)"
        ))
    })?;
    let client = Client::new(admin)?;
    let body = client.post(&format!("/v1/deliveries/{id}/{verb}"))?;
    if admin.json {
        ops::print_json(&body);
        return Ok(());
    }
    let done: DeliveryAction = ops::decode(body)?;
    let d = &done.delivery;
    let (state, when) = state_text(&d.state);
    // A pending delivery's time is when it falls due, not when it became pending.
    let when = match &d.state {
        _ if when.is_empty() => String::new(),
        DeliveryState::Pending { .. } => format!(", {when}"),
        _ => format!(" since {when}"),
    };
    println!("{} to {}: {state}{when}", d.id, d.destination);
    Ok(())
}

/// Deliveries as a table for people.
pub fn table(deliveries: &[Delivery]) -> Table {
    let mut t = Table::new(&[
        "DELIVERY",
        "MESSAGE",
        "DESTINATION",
        "STATE",
        "SINCE",
        ">ATTEMPTS",
        "KEY",
        "LAST ERROR",
    ]);
    for d in deliveries {
        let (state, when) = state_text(&d.state);
        let error = match &d.state {
            DeliveryState::Dead { reason, .. } => reason.clone(),
            _ => d.last_error.clone().unwrap_or_default(),
        };
        t.row(vec![
            d.id.to_string(),
            d.message_id.map_or_else(|| "-".into(), |m| m.to_string()),
            d.destination.clone(),
            state,
            when,
            d.attempts.to_string(),
            d.key.clone(),
            error,
        ]);
    }
    t
}

/// A delivery state's name and the time it refers to (due, claimed, reached).
fn state_text(state: &DeliveryState) -> (String, String) {
    match state {
        DeliveryState::Pending { due_at } => {
            ("pending".into(), format!("due {}", ops::utc(*due_at)))
        }
        DeliveryState::InFlight { claimed_at, .. } => ("in_flight".into(), ops::utc(*claimed_at)),
        DeliveryState::Delivered { at } => ("delivered".into(), ops::utc(*at)),
        DeliveryState::Dead { at, .. } => ("dead".into(), ops::utc(*at)),
        DeliveryState::Dropped { at } => ("dropped".into(), ops::utc(*at)),
        DeliveryState::AwaitingReceipt { until, .. } => (
            "awaiting_receipt".into(),
            format!("until {}", ops::utc(*until)),
        ),
    }
}
