//! `edigate reprocess ID`: process a message again from its raw file, after a mapping or partner
//! fix. Its events are made again and delivered under revision keys; acknowledgements already
//! sent are not sent again.

use std::process::ExitCode;

use clap::Args;
use gateway::admin::MessageDetail;

use super::ops::{self, AdminArgs, Client, Failure};

/// Arguments of `edigate reprocess`.
#[derive(Debug, Args)]
pub struct ReprocessArgs {
    /// The message: `m-000000000042`, `m-42` or `42`.
    pub id: String,
    #[command(flatten)]
    admin: AdminArgs,
}

/// Runs `edigate reprocess`: exit 0, 1 when the message does not exist or is still being
/// processed, 2 when the daemon cannot be asked.
pub fn run(args: &ReprocessArgs) -> ExitCode {
    ops::finish(reprocess(args))
}

fn reprocess(args: &ReprocessArgs) -> Result<(), Failure> {
    let id = ops::message_id(&args.id)?;
    let client = Client::new(&args.admin)?;
    let body = client.post(&format!("/v1/messages/{id}/reprocess"))?;
    if args.admin.json {
        ops::print_json(&body);
        return Ok(());
    }
    let detail: MessageDetail = ops::decode(body)?;
    let m = &detail.message;
    let state = serde_json::to_value(&m.state)
        .ok()
        .and_then(|v| v.get("state").and_then(|s| s.as_str()).map(str::to_owned))
        .unwrap_or_default();
    println!(
        "{} ({}): processed again as revision {}: {state}; events: {}",
        m.id,
        m.file_name,
        m.revision,
        if m.event_types.is_empty() {
            "none".to_owned()
        } else {
            m.event_types.join(", ")
        }
    );
    Ok(())
}
