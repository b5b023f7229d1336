//! `edigate translate FILE`: canonical events as JSON Lines, one per message.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use mapping::Mappings;

/// Arguments of `edigate translate`.
#[derive(Debug, Args)]
pub struct TranslateArgs {
    /// The EDI file to translate; `-` reads standard input.
    pub file: PathBuf,
    /// The trading partner's name in the events (default: the interchange sender id).
    #[arg(long)]
    pub partner: Option<String>,
    /// The mapping directory (default: $EDIGATE_MAPPINGS, ./mappings, or the mappings the binary
    /// was built with).
    #[arg(long)]
    pub mappings: Option<PathBuf>,
}

fn load_mappings(given: Option<&Path>) -> Result<Mappings, String> {
    let dir = given
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("EDIGATE_MAPPINGS").map(PathBuf::from))
        .or_else(|| {
            let local = PathBuf::from("mappings");
            local.is_dir().then_some(local)
        });
    match dir {
        Some(d) => Mappings::load(&d)
            .map_err(|e| format!("cannot load the mappings from {}: {e}", d.display())),
        None => Mappings::builtin().map_err(|e| format!("the built-in mappings are invalid: {e}")),
    }
}

/// Exit status 0 when every message was translated, 1 when any was not (or the file does not
/// parse), 2 on usage or I/O errors.
pub fn run(args: &TranslateArgs) -> ExitCode {
    let name = args.file.display().to_string();
    let input = match super::read_input(&args.file) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("edigate translate: cannot read {name}: {e}");
            return ExitCode::from(2);
        }
    };
    let mappings = match load_mappings(args.mappings.as_deref()) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("edigate translate: {e}");
            return ExitCode::from(2);
        }
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match write_events(&input, &name, args.partner.as_deref(), &mappings, &mut out) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("edigate translate: cannot write output: {e}");
            ExitCode::from(2)
        }
    }
}

/// Writes one JSON line per translated message and reports the rest on stderr; `Ok(true)` when
/// every message was translated.
fn write_events<W: Write>(
    input: &[u8],
    name: &str,
    partner: Option<&str>,
    mappings: &Mappings,
    out: &mut W,
) -> io::Result<bool> {
    let interchanges = match edi::Parser::new().lenient(true).parse(input) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("edigate translate: {name}: {e}");
            return Ok(false);
        }
    };
    let mut clean = true;
    for ic in &interchanges {
        let sender = ic.sender().id;
        let partner = partner.unwrap_or(&sender);
        for result in mapping::translate(ic, partner, mappings) {
            match result {
                Ok(event) => {
                    serde_json::to_writer(&mut *out, &event).map_err(io::Error::other)?;
                    out.write_all(b"\n")?;
                }
                Err(e) => {
                    clean = false;
                    for p in &e.problems {
                        eprintln!(
                            "edigate translate: {name}: interchange {}: {}: {p}",
                            ic.control_number().trim(),
                            e.message
                        );
                    }
                }
            }
        }
    }
    out.flush()?;
    Ok(clean)
}
