//! `edigate parse FILE`: the structure of an EDI file as JSON (or, with `--format xml`, XML).
//!
//! The file is read as a stream, one interchange at a time, and each interchange is written out
//! as soon as it is parsed, so a file larger than memory prints in bounded memory. The output is
//! always one valid JSON document: when the input breaks off, the interchanges before the break
//! are printed and an `error` member says where and why (exit status 1).

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::json;
use crate::xml::XmlOut;

/// The output format of `edigate parse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON document.
    Json,
    /// One XML document: an element per interchange, group, message, segment and data element.
    Xml,
}

/// Arguments of `edigate parse`.
#[derive(Debug, Args)]
pub struct ParseArgs {
    /// The EDI file to read; `-` reads standard input.
    pub file: PathBuf,
    /// Keep interchanges whose envelope is defective (a missing GE/SE/IEA/UNZ, a segment outside
    /// a message) and list the defects under `issues` instead of failing.
    #[arg(long)]
    pub lenient: bool,
    /// Print compact JSON (one line) instead of indented JSON.
    #[arg(long)]
    pub compact: bool,
    /// The output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
}

/// Runs the command; exit status 0 on success, 1 on a parse error, 2 when the file cannot be read.
pub fn run(args: &ParseArgs) -> ExitCode {
    let input: Box<dyn Read> = if args.file.as_os_str() == "-" {
        Box::new(io::stdin().lock())
    } else {
        match File::open(&args.file) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("edigate parse: cannot read {}: {e}", args.file.display());
                return ExitCode::from(2);
            }
        }
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let written = match args.format {
        Format::Json => write_document(input, args, &mut out),
        Format::Xml => write_xml(input, args, &mut out),
    };
    match written {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(e)) => {
            eprintln!("edigate parse: {}: {e}", args.file.display());
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("edigate parse: cannot write output: {e}");
            ExitCode::from(2)
        }
    }
}

/// Writes `{"interchanges": [...], "error": ...}`; returns the parse error, if one ended the input.
fn write_document<R: Read, W: Write>(
    input: R,
    args: &ParseArgs,
    out: &mut W,
) -> io::Result<Option<edi::ParseError>> {
    let parser = edi::Parser::new().lenient(args.lenient);
    let mut reader = edi::Reader::with_parser(input, parser);
    let (open, sep, indent) = if args.compact {
        ("{\"interchanges\":[", ",", "")
    } else {
        ("{\n  \"interchanges\": [\n", ",\n", "    ")
    };
    out.write_all(open.as_bytes())?;
    let mut first = true;
    let mut failure = None;
    while let Some(next) = reader.next_interchange() {
        match next {
            Ok(ic) => {
                if !first {
                    out.write_all(sep.as_bytes())?;
                }
                first = false;
                let value = json::interchange(&ic);
                if args.compact {
                    serde_json::to_writer(&mut *out, &value)?;
                } else {
                    let text = serde_json::to_string_pretty(&value)?;
                    for (i, line) in text.lines().enumerate() {
                        if i > 0 {
                            out.write_all(b"\n")?;
                        }
                        out.write_all(indent.as_bytes())?;
                        out.write_all(line.as_bytes())?;
                    }
                }
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    if args.compact {
        out.write_all(b"]")?;
    } else {
        out.write_all(if first { b"  ]" } else { b"\n  ]" })?;
    }
    if let Some(e) = &failure {
        let err = json::error(e);
        if args.compact {
            out.write_all(b",\"error\":")?;
            serde_json::to_writer(&mut *out, &err)?;
        } else {
            out.write_all(b",\n  \"error\": ")?;
            out.write_all(serde_json::to_string(&err)?.as_bytes())?;
        }
    }
    out.write_all(if args.compact { b"}\n" } else { b"\n}\n" })?;
    out.flush()?;
    Ok(failure)
}

/// Writes `<edi><interchange>…</interchange>…<error/></edi>`, streamed like the JSON.
fn write_xml<R: Read, W: Write>(
    input: R,
    args: &ParseArgs,
    out: &mut W,
) -> io::Result<Option<edi::ParseError>> {
    let parser = edi::Parser::new().lenient(args.lenient);
    let mut reader = edi::Reader::with_parser(input, parser);
    let mut xml = XmlOut::start(&mut *out)?;
    let mut failure = None;
    while let Some(next) = reader.next_interchange() {
        match next {
            Ok(ic) => xml.interchange(&ic)?,
            Err(e) => {
                xml.error(&e)?;
                failure = Some(e);
                break;
            }
        }
    }
    xml.finish()?.flush()?;
    Ok(failure)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_on(input: &[u8], lenient: bool) -> (serde_json::Value, Option<edi::ParseError>) {
        let args = ParseArgs {
            file: PathBuf::from("-"),
            lenient,
            compact: false,
            format: Format::Json,
        };
        let mut out = Vec::new();
        let err = write_document(input, &args, &mut out).expect("writing to a Vec");
        let value = serde_json::from_slice(&out).expect("output is JSON");
        (value, err)
    }

    #[test]
    fn output_is_valid_json_even_when_the_input_breaks_off() {
        let input = b"UNB+UNOA:3+A+B+240101:1200+1'UNZ+0+1'UNB+UNOA:3+A+B+240101:1200+2'UNH+1+ORDERS:D:96A:UN'";
        let (v, err) = run_on(input, false);
        assert!(err.is_some());
        assert_eq!(v["interchanges"].as_array().map(Vec::len), Some(1));
        assert_eq!(v["error"]["interchange"], 2);
    }

    #[test]
    fn lenient_mode_lists_envelope_issues() {
        let input = b"UNB+UNOA:3+A+B+240101:1200+1'UNH+1+ORDERS:D:96A:UN'BGM+220+1'";
        let (v, err) = run_on(input, true);
        assert!(err.is_none());
        let issues = &v["interchanges"][0]["issues"];
        assert_eq!(issues.as_array().map(Vec::len), Some(2), "{v}");
        assert_eq!(issues[0]["kind"], "missing_message_trailer");
    }
}
