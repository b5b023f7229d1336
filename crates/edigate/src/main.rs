//! `edigate`: the EDI gateway's command line.
//!
//! Thin by design: each subcommand parses its arguments and calls into the library crates; no
//! EDI logic lives here.

mod commands;
mod json;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Parse(args) => commands::parse::run(&args),
        Command::Validate(args) => commands::validate::run(&args),
        Command::Translate(args) => commands::translate::run(&args),
        Command::Partner(args) => commands::partner::run(&args),
        Command::Serve(args) => commands::serve::run(&args),
    }
}
