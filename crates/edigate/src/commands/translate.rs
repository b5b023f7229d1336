//! `edigate translate FILE`: canonical events as JSON Lines, one per message (an XML document,
//! told from EDI by its first character, is one message).

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use mapping::Mappings;
use partner::{Identified, IdentifiedXml, Partners};

/// Arguments of `edigate translate`.
#[derive(Debug, Args)]
pub struct TranslateArgs {
    /// The EDI or XML (UBL, cXML) file to translate; `-` reads standard input.
    pub file: PathBuf,
    /// The trading partner's name in the events (default: the interchange sender id).
    #[arg(long)]
    pub partner: Option<String>,
    /// The mapping directory (default: $EDIGATE_MAPPINGS, ./mappings, or the mappings the binary
    /// was built with).
    #[arg(long, conflicts_with = "partners")]
    pub mappings: Option<PathBuf>,
    /// A directory of partner files: each interchange is translated with the mappings of the
    /// partner its envelope names (default: $EDIGATE_PARTNERS when set).
    #[arg(long)]
    pub partners: Option<PathBuf>,
    /// Also say on stderr, field by field, which rule produced each value and from which
    /// segment (XML: which path, and the element's byte offset).
    #[arg(long)]
    pub explain: bool,
}

/// Which mappings translate an interchange: one set for all, or each partner's own.
enum Rules {
    Fixed(Mappings),
    PerPartner {
        partners: Partners,
        defaults: Mappings,
    },
}

fn load_rules(args: &TranslateArgs) -> Result<Rules, String> {
    let partners_dir = args
        .partners
        .clone()
        .or_else(|| std::env::var_os("EDIGATE_PARTNERS").map(PathBuf::from));
    match (partners_dir, args.mappings.as_deref()) {
        (Some(dir), None) => {
            let partners = Partners::load(&dir)
                .map_err(|e| format!("the partner files in {} are invalid:\n{e}", dir.display()))?;
            let defaults = load_mappings(None)?;
            Ok(Rules::PerPartner { partners, defaults })
        }
        (_, given) => load_mappings(given).map(Rules::Fixed),
    }
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
    let rules = match load_rules(args) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("edigate translate: {e}");
            return ExitCode::from(2);
        }
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match write_events(
        &input,
        &name,
        args.partner.as_deref(),
        &rules,
        args.explain,
        &mut out,
    ) {
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
    rules: &Rules,
    explain: bool,
    out: &mut W,
) -> io::Result<bool> {
    if mapping::xml::looks_like_xml(input) {
        return write_xml_event(input, name, partner, rules, explain, out);
    }
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
        let (partner, mappings) = match rules {
            Rules::Fixed(m) => (partner.unwrap_or(&sender), m),
            Rules::PerPartner { partners, defaults } => match partners.identify(ic) {
                Identified::Partner(p) => (partner.unwrap_or(&p.id), &p.mappings),
                Identified::Unknown { sender: s } => {
                    eprintln!(
                        "edigate translate: {name}: interchange {}: no partner file has sender \
                         {}:{}; translated with the default mappings",
                        ic.control_number().trim(),
                        s.qualifier,
                        s.id
                    );
                    (partner.unwrap_or(&sender), defaults)
                }
                Identified::NotForUs {
                    partner: p,
                    receiver,
                } => {
                    eprintln!(
                        "edigate translate: {name}: interchange {}: from partner {} but \
                         addressed to {}:{}, not to us; translated with the partner's mappings",
                        ic.control_number().trim(),
                        p.id,
                        receiver.qualifier,
                        receiver.id
                    );
                    (partner.unwrap_or(&p.id), &p.mappings)
                }
            },
        };
        let results: Vec<_> = if explain {
            ic.messages()
                .map(|m| {
                    let (result, explained) = mapping::translate_explained(&m, partner, mappings);
                    eprintln!(
                        "# {name}: interchange {}, message {} {}",
                        ic.control_number().trim(),
                        m.message_type().trim(),
                        m.control_number().trim()
                    );
                    for e in &explained {
                        eprintln!("  {e}");
                    }
                    result
                })
                .collect()
        } else {
            mapping::translate(ic, partner, mappings)
        };
        for result in results {
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

/// Translates one XML document: the mapping is chosen by its root element; with partner files,
/// the partner by the sender id that mapping reads, and the document is then translated with
/// that partner's mappings.
fn write_xml_event<W: Write>(
    input: &[u8],
    name: &str,
    partner: Option<&str>,
    rules: &Rules,
    explain: bool,
    out: &mut W,
) -> io::Result<bool> {
    let defaults = match rules {
        Rules::Fixed(m) => m,
        Rules::PerPartner { defaults, .. } => defaults,
    };
    let doc = match mapping::xml::read(input, defaults) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("edigate translate: {name}: {e}");
            return Ok(false);
        }
    };
    let sender = doc.sender();
    let sender_id = sender.as_ref().map_or("unknown", |s| s.id.as_str());
    let (partner, mappings) = match (rules, &sender) {
        (Rules::Fixed(m), _) => (partner.unwrap_or(sender_id), m),
        (Rules::PerPartner { .. }, None) => {
            eprintln!(
                "edigate translate: {name}: document {}: its mapping reads no sender; translated \
                 with the default mappings",
                doc.message()
            );
            (partner.unwrap_or(sender_id), defaults)
        }
        (Rules::PerPartner { partners, defaults }, Some(s)) => {
            let receiver = doc.receiver();
            let to = receiver
                .as_ref()
                .map(|r| (r.qualifier.as_deref(), r.id.as_str()));
            match partners.identify_xml((s.qualifier.as_deref(), &s.id), to) {
                IdentifiedXml::Partner(p) => (partner.unwrap_or(&p.id), &p.mappings),
                IdentifiedXml::Unknown => {
                    eprintln!(
                        "edigate translate: {name}: document {}: no partner file has XML sender \
                         {s}; translated with the default mappings",
                        doc.message()
                    );
                    (partner.unwrap_or(sender_id), defaults)
                }
                IdentifiedXml::NotForUs(p) => {
                    eprintln!(
                        "edigate translate: {name}: document {}: from partner {} but addressed to \
                         {}, not to us; translated with the partner's mappings",
                        doc.message(),
                        p.id,
                        receiver
                            .as_ref()
                            .map_or("nobody".to_owned(), ToString::to_string)
                    );
                    (partner.unwrap_or(&p.id), &p.mappings)
                }
            }
        }
    };
    // A partner's own mappings may read the document differently: read it again with them.
    let reread;
    let doc = if std::ptr::eq(mappings, defaults) {
        doc
    } else {
        reread = match mapping::xml::read(input, mappings) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("edigate translate: {name}: {e}");
                return Ok(false);
            }
        };
        reread
    };
    let result = if explain {
        let (result, explained) = doc.translate_explained(partner);
        eprintln!(
            "# {name}: document {} ({})",
            doc.message(),
            doc.mapping().origin
        );
        for e in &explained {
            eprintln!("  {e}");
        }
        result
    } else {
        doc.translate(partner)
    };
    let clean = match result {
        Ok(event) => {
            serde_json::to_writer(&mut *out, &event).map_err(io::Error::other)?;
            out.write_all(b"\n")?;
            true
        }
        Err(e) => {
            for p in &e.problems {
                eprintln!("edigate translate: {name}: {}: {p}", e.message);
            }
            false
        }
    };
    out.flush()?;
    Ok(clean)
}
