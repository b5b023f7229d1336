//! `edigate sftp test PARTNER` and `edigate sftp test --config FILE --channel NAME`: connects to
//! a partner's SFTP server as the gateway would and reports each step (settings, secrets,
//! connection, host key against the pin, login, directory listings, a write check) as ok or
//! failed with the reason, so a new partner can be checked before the first document is due.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use gateway::remote::{ProbeOutcome, ProbeStep, SftpConfig};

/// Arguments of `edigate sftp`.
#[derive(Debug, Args)]
pub struct SftpArgs {
    #[command(subcommand)]
    command: SftpCommand,
}

#[derive(Debug, Subcommand)]
enum SftpCommand {
    /// Check a partner's SFTP server: host key, login, inbox and outbox listings, write access.
    /// Exit 0 when every step passes, 1 when one fails, 2 when there is nothing to test (an
    /// unknown partner or channel, a configuration that does not load).
    Test(TestArgs),
}

#[derive(Debug, Args)]
struct TestArgs {
    /// The partner whose `[outbound.sftp]` server to test.
    #[arg(required_unless_present = "channel", conflicts_with = "channel")]
    partner: Option<String>,
    /// The partner files (default: the configuration's `partners_dir`, else
    /// deploy/examples/partners).
    #[arg(long)]
    partners: Option<PathBuf>,
    /// The daemon's configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Test this SFTP inbound channel of the configuration instead of a partner's outbound.
    #[arg(long, requires = "config")]
    channel: Option<String>,
}

/// Runs `edigate sftp …`.
pub fn run(args: &SftpArgs) -> ExitCode {
    match &args.command {
        SftpCommand::Test(t) => test(t),
    }
}

fn test(args: &TestArgs) -> ExitCode {
    let (what, server) = match server_of(args) {
        Ok(found) => found,
        Err(message) => {
            eprintln!("edigate sftp test: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("edigate sftp test: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "SFTP test of {what}: {}@{}:{}",
        server.user, server.host, server.port
    );
    let steps = runtime.block_on(gateway::remote::probe(&server));
    print_steps(&steps);
    let failed = steps
        .iter()
        .filter(|s| s.outcome == ProbeOutcome::Failed)
        .count();
    if failed == 0 {
        println!("all {} checks passed", steps.len());
        ExitCode::SUCCESS
    } else {
        println!(
            "{failed} check{} failed",
            if failed == 1 { "" } else { "s" }
        );
        ExitCode::from(1)
    }
}

/// The server to test, and how to name it: a partner's outbound server, or an inbound channel's.
fn server_of(args: &TestArgs) -> Result<(String, SftpConfig), String> {
    let config = match &args.config {
        Some(path) => Some(gateway::Config::from_file(path).map_err(|e| e.to_string())?),
        None => None,
    };
    if let Some(channel) = &args.channel {
        let Some(config) = config else {
            return Err("--channel needs --config".into());
        };
        let found = config.inbound.iter().find(|c| c.name() == channel);
        return match found {
            Some(gateway::config::InboundConfig::Sftp { server, .. }) => {
                Ok((format!("inbound channel {channel}"), (**server).clone()))
            }
            Some(_) => Err(format!("channel {channel} is not an SFTP channel")),
            None => Err(format!(
                "no channel {channel} in the configuration (SFTP channels: {})",
                config
                    .inbound
                    .iter()
                    .filter(|c| matches!(c, gateway::config::InboundConfig::Sftp { .. }))
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
    }
    let Some(id) = &args.partner else {
        return Err("name a partner, or --config FILE --channel NAME".into());
    };
    let dir = args
        .partners
        .clone()
        .or_else(|| config.map(|c| c.partners_dir))
        .unwrap_or_else(|| gateway::Config::embedded().partners_dir);
    let partners = partner::Partners::load(&dir).map_err(|e| e.to_string())?;
    let Some(p) = partners.get(id) else {
        let ids: Vec<&str> = partners.all().iter().map(|p| p.id.as_str()).collect();
        return Err(format!(
            "no partner {id:?} in {} (partners: {})",
            dir.display(),
            ids.join(", ")
        ));
    };
    match &p.outbound {
        partner::Outbound::Sftp(server) => Ok((format!("partner {id}"), (**server).clone())),
        partner::Outbound::Email(mail) => Err(format!(
            "partner {id} is sent documents by email through {}, not to an SFTP server",
            mail.host
        )),
        partner::Outbound::Directory(d) => Err(format!(
            "partner {id} delivers to the directory {}, not to an SFTP server; an inbound SFTP \
             channel is tested with --config FILE --channel NAME",
            d.display()
        )),
    }
}

fn print_steps(steps: &[ProbeStep]) {
    let width = steps.iter().map(|s| s.step.len()).max().unwrap_or(0);
    for s in steps {
        let outcome = match s.outcome {
            ProbeOutcome::Ok => "ok",
            ProbeOutcome::Failed => "FAILED",
            ProbeOutcome::Skipped => "skipped",
        };
        println!("{outcome:<8}{:<width$}  {}", s.step, s.detail);
    }
}
