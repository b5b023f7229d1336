//! `edigate serve [--config FILE]`: the routing daemon, until SIGTERM or Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

/// Arguments of `edigate serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The configuration file (TOML); without one the embedded default runs: data in
    /// ./edigate-data, the example partners, one inbox per partner.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Log lines for people or as JSON.
    #[arg(long, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    Human,
    /// One JSON object per line.
    Json,
}

/// Exit status 0 after a clean stop, 2 when the gateway cannot start, 1 when it stops on an
/// error.
pub fn run(args: &ServeArgs) -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("EDIGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }

    let config = match &args.config {
        Some(path) => match gateway::Config::from_file(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("edigate serve: {e}");
                return ExitCode::from(2);
            }
        },
        None => gateway::Config::embedded(),
    };
    let gateway = match gateway::Gateway::open(config) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("edigate serve: cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    for (name, path) in gateway.inboxes() {
        tracing::info!(channel = name, inbox = %path.display(), "watching");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("edigate serve: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(gateway.run(shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edigate serve: {e}");
            ExitCode::from(1)
        }
    }
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
