//! `edigate replay ID`: send again everything a message made — its acknowledgements and its
//! events — with the same ids, so receivers that already have them deduplicate.

use std::process::ExitCode;

use clap::Args;
use gateway::admin::MessageDetail;

use super::ops::{self, AdminArgs, Client, Failure};

/// Arguments of `edigate replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The message: `m-000000000042`, `m-42` or `42`.
    pub id: String,
    #[command(flatten)]
    admin: AdminArgs,
}

/// Runs `edigate replay`: exit 0, 1 when the message does not exist, 2 when the daemon cannot be
/// asked.
pub fn run(args: &ReplayArgs) -> ExitCode {
    ops::finish(replay(args))
}

fn replay(args: &ReplayArgs) -> Result<(), Failure> {
    let id = ops::message_id(&args.id)?;
    let client = Client::new(&args.admin)?;
    let body = client.post(&format!("/v1/messages/{id}/replay"))?;
    if args.admin.json {
        ops::print_json(&body);
        return Ok(());
    }
    let detail: MessageDetail = ops::decode(body)?;
    println!(
        "{} ({}): {} deliveries sent again",
        detail.message.id,
        detail.message.file_name,
        detail.deliveries.len()
    );
    if !detail.deliveries.is_empty() {
        print!("{}", super::outbox_cmd::table(&detail.deliveries).render());
    }
    Ok(())
}
