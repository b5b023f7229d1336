//! `edigate compose EVENT --partner ID`: what an event becomes as a partner's EDI, without a
//! daemon — the document `edigate send` would queue, written with control numbers 1 and
//! validated, for checking a partner's mapping while onboarding it.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use gateway::outbound::{OutboundRequest, preview};
use partner::Partners;

/// Arguments of `edigate compose`.
#[derive(Debug, Args)]
pub struct ComposeArgs {
    /// A file holding one event (`type` and `data`; a canonical event as edigate writes them
    /// will do).
    pub file: PathBuf,
    /// The partner, by its id in the partner files.
    #[arg(long)]
    pub partner: String,
    /// The partner files' directory (default: $EDIGATE_PARTNERS, else ./partners).
    #[arg(long)]
    pub partners: Option<PathBuf>,
    /// The spec directory (default: $EDIGATE_SPECS, ./specs, or the repository's).
    #[arg(long)]
    pub specs: Option<PathBuf>,
}

/// Runs `edigate compose`: the EDI on stdout and exit 0; the reason on stderr and exit 1 when
/// the event cannot be written or does not validate; 2 on usage or I/O errors.
pub fn run(args: &ComposeArgs) -> ExitCode {
    match compose(args) {
        Ok(bytes) => {
            let mut out = std::io::stdout().lock();
            if out.write_all(&bytes).and_then(|()| out.flush()).is_err() {
                return ExitCode::from(2);
            }
            ExitCode::SUCCESS
        }
        Err((code, message)) => {
            eprintln!("edigate compose: {message}");
            ExitCode::from(code)
        }
    }
}

fn compose(args: &ComposeArgs) -> Result<Vec<u8>, (u8, String)> {
    let usage = |m: String| (2u8, m);
    let dir = args
        .partners
        .clone()
        .or_else(|| std::env::var_os("EDIGATE_PARTNERS").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("partners"));
    let partners = Partners::load(&dir).map_err(|e| {
        usage(format!(
            "the partner files in {} are invalid:\n{e}",
            dir.display()
        ))
    })?;
    let specs_dir = super::validate::specs_dir(args.specs.as_deref());
    let specs = validate::Specs::load(&specs_dir)
        .map_err(|e| usage(format!("{}: {e}", specs_dir.display())))?;
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| usage(format!("{}: {e}", args.file.display())))?;
    let mut event: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| usage(format!("{}: not JSON: {e}", args.file.display())))?;
    let body = serde_json::json!({
        "partner": args.partner,
        "type": event.get_mut("type").map(std::mem::take),
        "data": event.get_mut("data").map(std::mem::take),
    });
    let request: OutboundRequest = serde_json::from_value(body)
        .map_err(|e| (1, format!("{}: not an event: {e}", args.file.display())))?;
    preview(&partners, &specs, &request).map_err(|e| (1, e.to_string()))
}
