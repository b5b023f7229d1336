//! `edigate partner check FILE|DIR...`: every problem of every partner file, each with its
//! file, line and column and what to write instead.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use partner::{Exchange, LoadError, Partner, Partners};

/// Arguments of `edigate partner`.
#[derive(Debug, Args)]
pub struct PartnerArgs {
    #[command(subcommand)]
    command: PartnerCommand,
}

#[derive(Debug, Subcommand)]
enum PartnerCommand {
    /// Check partner files; a directory is checked as a whole (ids and envelope identities must
    /// be unique across its files). Exit 0 when all are valid, 1 otherwise.
    Check {
        /// Partner files (`*.toml`) or directories of them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

/// Runs `edigate partner …`.
pub fn run(args: &PartnerArgs) -> ExitCode {
    match &args.command {
        PartnerCommand::Check { paths } => check(paths),
    }
}

fn check(paths: &[PathBuf]) -> ExitCode {
    let mut valid = true;
    for path in paths {
        let loaded: Result<Vec<Partner>, LoadError> = if path.is_dir() {
            Partners::load(path).map(|p| p.all().to_vec())
        } else {
            Partner::from_file(path).map(|p| vec![p])
        };
        match loaded {
            Ok(partners) => {
                for p in partners {
                    println!("ok: {} — {}", p.origin.display(), summary(&p));
                }
            }
            Err(e) => {
                valid = false;
                for d in &e.0 {
                    eprintln!("error: {d}");
                }
            }
        }
    }
    if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn summary(p: &Partner) -> String {
    let (syntax, id) = match &p.exchange {
        Exchange::X12(x) => ("X12", format!("{}:{}", x.partner.qualifier, x.partner.id)),
        Exchange::Edifact(e) => (
            "EDIFACT",
            match &e.partner.qualifier {
                Some(q) => format!("{}:{q}", e.partner.id),
                None => e.partner.id.clone(),
            },
        ),
    };
    format!(
        "partner {} ({}), {syntax} {} as {id}, messages {}",
        p.id,
        p.name,
        p.exchange.version(),
        p.exchange.messages().join(" ")
    )
}
