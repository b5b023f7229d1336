//! `edigate`: the EDI gateway's command line.
//!
//! Thin by design: each subcommand parses its arguments and calls into the library crates; no
//! EDI logic lives here.

mod commands;
mod json;
mod xml;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Translation and the daemon make many small, short-lived allocations (an event's strings);
/// mimalloc serves them markedly faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// edigate: an EDI gateway for X12 and EDIFACT.
#[derive(Debug, Parser)]
#[command(name = "edigate", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse an X12 or EDIFACT file and print its structure as JSON.
    Parse(commands::parse::ParseArgs),
    /// Validate an X12 or EDIFACT file against the specs; optionally print the acknowledgements.
    Validate(commands::validate::ValidateArgs),
    /// Translate an X12 or EDIFACT file into canonical events, printed as JSON Lines.
    Translate(commands::translate::TranslateArgs),
    /// Work with trading partner files (`partners/*.toml`).
    Partner(commands::partner::PartnerArgs),
    /// Run the gateway: receive partners' files, acknowledge, translate, deliver.
    Serve(commands::serve::ServeArgs),
    /// Show the running gateway: partners, queues per destination, dead letters.
    Status(commands::status::StatusArgs),
    /// List the messages the running gateway received, newest first.
    Messages(commands::messages::MessagesArgs),
    /// Show the whole life of one message: its trace and its deliveries.
    Trace(commands::trace::TraceArgs),
    /// List, retry and drop the running gateway's outbound deliveries.
    Outbox(commands::outbox_cmd::OutboxArgs),
    /// Send again everything a message made (acknowledgements, events), with the same ids.
    Replay(commands::replay::ReplayArgs),
    /// Process a message again from its raw file (after a mapping or partner fix).
    Reprocess(commands::reprocess::ReprocessArgs),
    /// Show the EDI an event becomes for a partner, validated, without a daemon.
    Compose(commands::compose::ComposeArgs),
    /// Hand business events (order responses, shipment notices, invoices) to the running
    /// gateway, to be written as each partner's EDI and delivered.
    Send(commands::send::SendArgs),
    /// AS2 onboarding: `edigate as2 keygen` makes our key pair and certificate.
    As2(commands::as2::As2Args),
    /// Check partners' SFTP servers: host key, login, directories, write access.
    Sftp(commands::sftp::SftpArgs),
    /// What the document stream says about each partner: `edigate partners report`.
    Partners(commands::partners::PartnersArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Parse(args) => commands::parse::run(&args),
        Command::Validate(args) => commands::validate::run(&args),
        Command::Translate(args) => commands::translate::run(&args),
        Command::Partner(args) => commands::partner::run(&args),
        Command::Serve(args) => commands::serve::run(&args),
        Command::Status(args) => commands::status::run(&args),
        Command::Messages(args) => commands::messages::run(&args),
        Command::Trace(args) => commands::trace::run(&args),
        Command::Outbox(args) => commands::outbox_cmd::run(&args),
        Command::Replay(args) => commands::replay::run(&args),
        Command::Compose(args) => commands::compose::run(&args),
        Command::Reprocess(args) => commands::reprocess::run(&args),
        Command::Send(args) => commands::send::run(&args),
        Command::As2(args) => commands::as2::run(&args),
        Command::Sftp(args) => commands::sftp::run(&args),
        Command::Partners(args) => commands::partners::run(&args),
    }
}
