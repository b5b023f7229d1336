//! Every file of the shared corpus parses and writes back byte for byte; the malformed ones
//! never panic and fail (or are flagged) the way their defect says.

use std::path::Path;

use edigate_tests::{files_in, shared_corpus};

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Sample files that are valid but for a missing interchange trailer: pydifact's test data ends
/// after UNT. The strict parser must name the missing UNZ; the lenient one keeps the message.
const NO_UNZ: &[&str] = &["pydifact-order.edi", "pydifact-order2.edi"];

#[test]
fn every_valid_corpus_file_parses_and_round_trips() {
    let Some(corpus) = shared_corpus() else {
        return;
    };
    let mut failures = Vec::new();
    let mut count = 0;
    for dir in ["x12", "edifact"] {
        for path in files_in(&corpus.join(dir)) {
            count += 1;
            let data = read(&path);
            let file = name(&path);
            let strict = edi::parse(&data);
            if NO_UNZ.contains(&file.as_str()) {
                match &strict {
                    Err(e)
                        if matches!(
                            e.kind,
                            edi::ErrorKind::MissingInterchangeTrailer { trailer: "UNZ" }
                        ) => {}
                    other => failures.push(format!(
                        "{file}: expected a missing-UNZ error, got {other:?}"
                    )),
                }
            } else if let Err(e) = &strict {
                failures.push(format!("{file}: {e}"));
                continue;
            }
            let ics = match edi::Parser::new().lenient(true).parse(&data) {
                Ok(ics) => ics,
                Err(e) => {
                    failures.push(format!("{file}: lenient: {e}"));
                    continue;
                }
            };
            let out: Vec<u8> = ics.iter().flat_map(|ic| ic.to_bytes()).collect();
            if out != data {
                failures.push(format!("{file}: round trip differs"));
            }
            let messages: usize = ics.iter().map(|ic| ic.messages().len()).sum();
            let service: usize = ics.iter().map(|ic| ic.service_segments().count()).sum();
            if messages + service == 0 {
                failures.push(format!("{file}: no messages found"));
            }
            for ic in &ics {
                for m in ic.messages() {
                    if m.message_type().is_empty() || m.control_number().is_empty() {
                        failures.push(format!(
                            "{file}: message {} lacks type or control number",
                            m.position()
                        ));
                    }
                }
            }
            // Streaming gives the same interchanges, byte for byte.
            let streamed: Vec<u8> =
                edi::Reader::with_parser(&data[..], edi::Parser::new().lenient(true))
                    .map(|r| r.map(edi::OwnedInterchange::into_bytes))
                    .collect::<Result<Vec<_>, _>>()
                    .map(|v| v.concat())
                    .unwrap_or_else(|e| {
                        failures.push(format!("{file}: streaming: {e}"));
                        Vec::new()
                    });
            if streamed != data {
                failures.push(format!("{file}: streaming round trip differs"));
            }
        }
    }
    assert!(count > 70, "expected the whole corpus, read {count} files");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// What the parser must say about each malformed sample: `Ok(n)` where the envelope is sound
/// (the defect is in message content, for the validator) with n interchanges, or the error kind.
fn expected_malformed(file: &str) -> Result<usize, &'static str> {
    match file {
        "edifabric-810_InvalidHeader.edi" | "edifabric-INVOIC_InvalidHeader.edi" => {
            Err("not_an_interchange")
        }
        "edifabric-810_MissingGroupTrailer.edi" | "edifabric-INVOIC_MissingGroupTrailer.edi" => {
            Err("envelope")
        }
        "edifabric-810_MissingInterchangeTrailer.edi"
        | "edifabric-INVOIC_MissingInterchangeTrailer.edi" => Err("missing_interchange_trailer"),
        "edifabric-810_InvalidTrailers.edi" | "edifabric-INVOIC_InvalidTrailers.edi" => {
            Err("trailing_data")
        }
        "edinet-edifact_APERAK_two_UNB.edi" => Err("missing_interchange_trailer"),
        // No apostrophes: the whole file is one unterminated UNB.
        "edinet-edifact_IFCSUM_no_terminator.edi" => Err("unterminated"),
        // ISA fields not padded to their fixed widths (one with multi-byte NBSP padding): the
        // strict parser refuses them, the lenient one reads them (checked below).
        "edinet-x12_810_short_isa.edi" | "edinet-x12_850_nbsp_isa.edi" => Err("bad_isa"),
        // BIN01 is not a number, so the binary segment cannot be framed.
        "staedi-nonnumeric_BIN01.edi" => Err("bad_binary"),
        _ => Ok(1),
    }
}

fn kind_name(k: &edi::ErrorKind) -> &'static str {
    match k {
        edi::ErrorKind::NotAnInterchange { .. } => "not_an_interchange",
        edi::ErrorKind::Envelope(_) => "envelope",
        edi::ErrorKind::MissingInterchangeTrailer { .. } => "missing_interchange_trailer",
        edi::ErrorKind::TrailingData { .. } => "trailing_data",
        edi::ErrorKind::Unterminated { .. } => "unterminated",
        edi::ErrorKind::BadBinary { .. } => "bad_binary",
        edi::ErrorKind::BadTag { .. } => "bad_tag",
        edi::ErrorKind::BadIsa(_) => "bad_isa",
        _ => "other",
    }
}

#[test]
fn every_malformed_corpus_file_fails_or_passes_as_its_defect_says() {
    let Some(corpus) = shared_corpus() else {
        return;
    };
    let mut failures = Vec::new();
    let files = files_in(&corpus.join("malformed"));
    assert!(
        files.len() > 25,
        "expected the malformed corpus, found {}",
        files.len()
    );
    for path in files {
        let data = read(&path);
        let file = name(&path);
        let got = match edi::parse(&data) {
            Ok(ics) => Ok(ics.len()),
            Err(e) => {
                // Every error names a location inside the input.
                if e.location.offset > data.len() as u64 {
                    failures.push(format!(
                        "{file}: error offset {} beyond the input",
                        e.location.offset
                    ));
                }
                Err(kind_name(&e.kind))
            }
        };
        let want = expected_malformed(&file);
        let fine = match (&got, &want) {
            (Ok(n), Ok(m)) => n >= m,
            (Err(a), Err(b)) => a == b,
            _ => false,
        };
        if !fine {
            failures.push(format!("{file}: expected {want:?}, got {got:?}"));
        }
        // The lenient parser never panics and keeps everything before a fatal error; envelope
        // and header defects do not stop it.
        let lenient: Vec<_> = edi::Parser::new()
            .lenient(true)
            .interchanges(&data)
            .collect();
        if matches!(
            want,
            Err("bad_isa" | "envelope" | "missing_interchange_trailer") | Ok(_)
        ) && !lenient.first().is_some_and(Result::is_ok)
        {
            failures.push(format!(
                "{file}: the lenient parser should keep the interchange"
            ));
        }
        let kept: Vec<u8> = lenient
            .iter()
            .flatten()
            .flat_map(|ic| ic.to_bytes())
            .collect();
        if !data.starts_with(&kept) {
            failures.push(format!(
                "{file}: lenient interchanges are not the input's prefix"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
