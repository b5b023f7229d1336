//! The real specs against the shared corpus: valid samples validate clean (or the test says what
//! is wrong with the sample, or that its version or message is outside the specs), and every
//! malformed sample is rejected with the code its defect calls for.

use std::collections::BTreeMap;

use edigate_tests::{files_in, shared_corpus, workspace_root};
use validate::codes::MessageError;
use validate::report::{InterchangeReport, Verdict};
use validate::{Specs, validate};

fn specs() -> Specs {
    Specs::load(&workspace_root().join("specs")).expect("specs/ loads")
}

/// Everything a file's validation said, as short codes: `IC:001` (interchange), `G:5` (group),
/// `M:850:R:5` (message type, verdict, message codes), `S:NTT:1` (segment), `E:BEG01:7`
/// (element), `FATAL` for a parse error.
fn summary(data: &[u8], specs: &Specs) -> Vec<String> {
    let mut out = Vec::new();
    for item in edi::Parser::new().lenient(true).interchanges(data) {
        let Ok(ic) = item else {
            out.push("FATAL".to_string());
            continue;
        };
        let r = validate(&ic, specs);
        push_report(&r, &mut out);
    }
    out
}

fn push_report(r: &InterchangeReport, out: &mut Vec<String>) {
    let x12 = r.standard == edi::Standard::X12;
    for e in &r.errors {
        out.push(format!(
            "IC:{}",
            if x12 { e.code.x12() } else { e.code.edifact() }
        ));
    }
    for g in &r.groups {
        for e in &g.errors {
            out.push(format!("G:{}", if x12 { e.x12() } else { e.edifact() }));
        }
    }
    for m in r.all_messages() {
        let codes: Vec<&str> = m
            .errors
            .iter()
            .map(|e| if x12 { e.x12() } else { e.edifact() })
            .collect();
        out.push(format!(
            "M:{}:{}:{}",
            m.message_type,
            m.verdict.x12(),
            codes.join(",")
        ));
        for s in &m.segments {
            out.push(format!(
                "S:{}:{}",
                s.tag,
                if x12 { s.code.x12() } else { s.code.edifact() }
            ));
            for e in &s.elements {
                out.push(format!(
                    "E:{}{:02}:{}",
                    s.tag,
                    e.position,
                    if x12 {
                        e.code.x12(true)
                    } else {
                        e.code.edifact()
                    }
                ));
            }
        }
    }
}

/// Valid samples whose messages fall outside the specs (other versions or message types): they
/// must be answered "not supported", never accepted blindly.
const NOT_COVERED: &[(&str, &str)] = &[
    ("edifabric-810_", "X12 002040"),
    ("nodex12-856.edi", "X12 004060"),
    (
        "staedi-invoice810_po850_dual.edi",
        "its 850 group is X12 003010 (the 810 group, 004010, is accepted)",
    ),
    ("x12types-004060_856.edi", "X12 004060"),
    ("staedi-ts210_80char.edi", "X12 210"),
    ("staedi-ts214_ellipses_segterm.edi", "X12 214"),
    (
        "staedi-simple_with_binary_segment.edi",
        "X12 set 000 (a test set id)",
    ),
    ("edifabric-INVOIC_", "EDIFACT D00A"),
    ("edinet-Issue149_UNG_groups.edi", "EDIFACT D13A ISSUE"),
    ("edinet-ORDRSP_D10A.edi", "EDIFACT D10A"),
    ("edireader-syntaxVariants_UNA.edi", "EDIFACT D97B"),
    ("edireader-withUNA_UNOE.edi", "EDIFACT D97B"),
    ("pydifact-invoice", "EDIFACT D97B"),
    ("pydifact-wikipedia_en.edi", "EDIFACT PAORES"),
    ("smooks-", "EDIFACT D03B"),
    ("staedi-baplie-test.edi", "EDIFACT BAPLIE D95B"),
    ("staedi-empty-segment", "EDIFACT PNRGOV"),
    ("staedi-invoic_d", "EDIFACT D93A/D97B"),
    ("staedi-orders-with-group.edi", "EDIFACT D96B"),
    ("staedi-other_dialect_term_segments.edi", "EDIFACT CUSTOM"),
    ("staedi-wrapped_invoic", "EDIFACT D97B"),
];

/// Valid-looking samples that break the standard, with what the validator must say.
const SAMPLE_DEFECTS: &[(&str, &[&str], &str)] = &[
    (
        "staedi-empty997.edi",
        &["S:AK1:3", "S:AK9:3"],
        "a 997 without AK1 and AK9, both mandatory",
    ),
    (
        "staedi-extraDelimiter997.edi",
        &["E:AK302:12"],
        "repetitions inside non-repeating AK3/AK4 elements",
    ),
    ("pydifact-order.edi", &["IC:13"], "no UNZ"),
    ("pydifact-order2.edi", &["IC:13"], "no UNZ"),
    (
        "pydifact-wikipedia_de.edi",
        &["IC:28"],
        "UNZ 0020 differs from UNB 0020",
    ),
    (
        "pydifact-v3-aperak.edi",
        &["M:APERAK:R:29,18", "E:FTX04:21"],
        "UNT counts 8 of 7 segments; lower case under UNOA",
    ),
    (
        "pydifact-v3-aperak_rejected.edi",
        &["M:APERAK:R:29,18"],
        "UNT count; lower case under UNOA",
    ),
    (
        "pydifact-v4-aperak.edi",
        &["M:APERAK:R:29,18"],
        "UNT count; lower case under UNOA",
    ),
    (
        "pydifact-v4-aperak_rejected.edi",
        &["M:APERAK:R:29,18"],
        "UNT count; lower case under UNOA",
    ),
    (
        "edinet-Issue203_INVOIC_D01B.edi",
        &["S:BGM:13", "E:MOA01:21"],
        "no BGM; MOA amount \"TEST\"",
    ),
    (
        "edireader-ORDRSP_D01B_UNOC.edi",
        &["E:UNS01:12"],
        "UNS+Z: 0081 is D or S",
    ),
];

fn file_name(p: &std::path::Path) -> String {
    p.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[test]
fn valid_corpus_files_validate_clean_or_say_why_not() {
    let Some(corpus) = shared_corpus() else {
        return;
    };
    let specs = specs();
    let mut problems = Vec::new();
    let mut clean = 0;
    for dir in ["x12", "edifact"] {
        for path in files_in(&corpus.join(dir)) {
            let name = file_name(&path);
            let data = std::fs::read(&path).expect("read");
            let got = summary(&data, &specs);
            if let Some((_, why)) = NOT_COVERED.iter().find(|(p, _)| name.starts_with(p)) {
                // Every message outside the specs is rejected as not supported.
                let unsupported = if dir == "x12" { "1" } else { "14" };
                let messages: Vec<&String> = got.iter().filter(|s| s.starts_with("M:")).collect();
                let covered_fine = messages.iter().any(|m| m.ends_with(":A:"));
                let rejected_unsupported = messages.iter().any(|m| {
                    m.split(':')
                        .nth(3)
                        .is_some_and(|c| c.split(',').any(|c| c == unsupported))
                });
                if !rejected_unsupported && !covered_fine {
                    problems.push(format!(
                        "{name} ({why}): expected \"not supported\", got {got:?}"
                    ));
                }
                continue;
            }
            if let Some((_, must, why)) = SAMPLE_DEFECTS.iter().find(|(p, ..)| name == *p) {
                for m in *must {
                    if !got.iter().any(|g| g == m) {
                        problems.push(format!("{name} ({why}): expected {m} in {got:?}"));
                    }
                }
                continue;
            }
            let bad: Vec<&String> = got.iter().filter(|g| !g.ends_with(":A:")).collect();
            if bad.is_empty() {
                clean += 1;
            } else {
                problems.push(format!("{name}: expected clean, got {got:?}"));
            }
        }
    }
    assert!(clean >= 15, "only {clean} corpus files validated clean");
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Each malformed sample and the codes its rejection must carry. Samples of versions outside the
/// specs are rejected as unsupported: their own defect cannot be named without the version's
/// spec, so the test asks for the "not supported" code and says so.
const MALFORMED: &[(&str, &[&str])] = &[
    ("edifabric-810_BadSegment.edi", &["G:2"]),
    ("edifabric-810_InvalidHeader.edi", &["FATAL"]),
    ("edifabric-810_InvalidSegment.edi", &["G:2"]),
    ("edifabric-810_InvalidTrailers.edi", &["FATAL"]),
    ("edifabric-810_MissingGroupTrailer.edi", &["G:3"]),
    ("edifabric-810_MissingInterchangeTrailer.edi", &["IC:023"]),
    ("edifabric-810_ValidAndInvalidMessage.edi", &["G:5"]),
    ("edifabric-INVOIC_BadSegment.edi", &["M:INVOIC:R:14"]),
    ("edifabric-INVOIC_InvalidHeader.edi", &["FATAL"]),
    ("edifabric-INVOIC_InvalidTrailers.edi", &["FATAL"]),
    ("edifabric-INVOIC_MissingGroupTrailer.edi", &["G:13"]),
    ("edifabric-INVOIC_MissingInterchangeTrailer.edi", &["IC:13"]),
    ("edifabric-INVOIC_ValidAndInvalidMessage.edi", &["IC:29"]),
    (
        "edifabric-INVOIC_WrongControlNumber.edi",
        &["M:INVOIC:R:14,28"],
    ),
    (
        "edifabric-INVOIC_WrongSegmentCount.edi",
        &["M:INVOIC:R:14,29"],
    ),
    ("edinet-edifact_APERAK_two_UNB.edi", &["IC:13"]),
    ("edinet-edifact_IFCSUM_no_terminator.edi", &["FATAL"]),
    (
        "edinet-edifact_Issue188_bad_UNT.edi",
        &["IC:29", "M:INVOIC:R:26,29,28,18"],
    ),
    // ISA02/ISA04/ISA08 not padded to their widths: each field's own TA1 note code.
    (
        "edinet-x12_810_short_isa.edi",
        &["IC:011", "IC:013", "IC:008"],
    ),
    ("edinet-x12_850_ISA16_is_tilde.edi", &["M:850:R:23"]),
    (
        "edinet-x12_850_nbsp_isa.edi",
        &["IC:011", "IC:013", "IC:006", "IC:008"],
    ),
    ("smooks-BAD_ORDERS_D03B.edi", &["M:ORDERS:R:14,29"]),
    ("smooks-RECADV_UNOA_with_utf8.edi", &["M:RECADV:R:14"]),
    ("staedi-invalid997.edi", &["S:AK1:8"]),
    ("staedi-invalid997_min.edi", &["G:4", "S:AK1:8"]),
    ("staedi-invalid999.edi", &["M:999:R:4,5", "S:IK5:2"]),
    ("staedi-invoic_d97b_bad.edi", &["M:INVOIC:R:14"]),
    ("staedi-nonnumeric_BIN01.edi", &["FATAL"]),
    ("x12types-005010_940_bad_SE01.edi", &["M:940:R:1,4"]),
    ("x12types-005010_945_bad_SE01.edi", &["M:945:R:1,4"]),
];

#[test]
fn every_malformed_corpus_file_is_rejected_with_its_code() {
    let Some(corpus) = shared_corpus() else {
        return;
    };
    let specs = specs();
    let expected: BTreeMap<&str, &[&str]> = MALFORMED.iter().copied().collect();
    let mut problems = Vec::new();
    for path in files_in(&corpus.join("malformed")) {
        let name = file_name(&path);
        let data = std::fs::read(&path).expect("read");
        let got = summary(&data, &specs);
        let Some(must) = expected.get(name.as_str()) else {
            problems.push(format!("{name}: not in the table; got {got:?}"));
            continue;
        };
        for m in *must {
            if !got.iter().any(|g| g == m) {
                problems.push(format!("{name}: expected {m} in {got:?}"));
            }
        }
        // Rejected somewhere: a fatal error, an envelope error, or a rejected message.
        let rejected = got.iter().any(|g| {
            g == "FATAL" || g.starts_with("IC:") || g.starts_with("G:") || g.contains(":R:")
        });
        if !rejected {
            problems.push(format!("{name}: nothing rejected: {got:?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn every_ack_we_produce_validates_clean_under_our_own_specs() {
    let Some(corpus) = shared_corpus() else {
        return;
    };
    let specs = specs();
    let when = validate::ack::Timestamp {
        date: "20260102".into(),
        time: "0304".into(),
    };
    let mut checked = 0;
    let mut problems = Vec::new();
    for dir in ["x12", "edifact", "malformed"] {
        for path in files_in(&corpus.join(dir)) {
            let data = std::fs::read(&path).expect("read");
            for ic in edi::Parser::new()
                .lenient(true)
                .interchanges(&data)
                .flatten()
            {
                let r = validate(&ic, &specs);
                let Ok(acks) = validate::ack::acknowledge(
                    &ic,
                    &r,
                    &mut validate::ack::Sequential::default(),
                    &when,
                    &validate::ack::AckPolicy::contrl_always(),
                ) else {
                    problems.push(format!("{}: no ack could be written", file_name(&path)));
                    continue;
                };
                for ack in acks.ta1.iter().chain(acks.functional.iter()) {
                    let parsed = match edi::parse(ack) {
                        Ok(p) => p,
                        Err(e) => {
                            problems
                                .push(format!("{}: our ack does not parse: {e}", file_name(&path)));
                            continue;
                        }
                    };
                    for aic in &parsed {
                        let ar = validate(aic, &specs);
                        // An ack in a version outside the specs (answering a 002040 group) is
                        // written in that version; only the covered ones can be checked.
                        let covered_clean = ar.errors.is_empty()
                            && ar.groups.iter().all(|g| {
                                g.errors
                                    .iter()
                                    .all(|e| *e == validate::codes::GroupError::VersionNotSupported)
                            })
                            && ar.all_messages().all(|m| {
                                m.verdict == Verdict::Accepted
                                    || m.errors == [MessageError::NotSupported]
                            });
                        if !covered_clean {
                            let mut s = Vec::new();
                            push_report(&ar, &mut s);
                            problems.push(format!(
                                "{}: our ack is not clean: {s:?}\n{}",
                                file_name(&path),
                                String::from_utf8_lossy(ack)
                            ));
                        }
                        checked += ar
                            .all_messages()
                            .filter(|m| m.verdict == Verdict::Accepted)
                            .count();
                    }
                }
            }
        }
    }
    assert!(checked >= 20, "only {checked} acks checked");
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

/// pydifact, a parser no one here wrote, reads every CONTRL we write for the corpus, segment for
/// segment as we do.
#[test]
fn pydifact_reads_every_contrl_we_write() {
    let Some(corpus) = shared_corpus() else {
        return;
    };
    let specs = specs();
    let when = validate::ack::Timestamp {
        date: "20260102".into(),
        time: "0304".into(),
    };
    let dir = edigate_tests::scratch_dir("every_contrl");
    let mut written = 0;
    let mut problems = Vec::new();
    for sub in ["edifact", "malformed"] {
        for path in files_in(&corpus.join(sub)) {
            let data = std::fs::read(&path).expect("read");
            for (n, ic) in edi::Parser::new()
                .lenient(true)
                .interchanges(&data)
                .flatten()
                .enumerate()
            {
                if ic.standard() != edi::Standard::Edifact {
                    continue;
                }
                let r = validate(&ic, &specs);
                let policy = validate::ack::AckPolicy::contrl_always();
                let Ok(acks) = validate::ack::acknowledge(
                    &ic,
                    &r,
                    &mut validate::ack::Sequential::default(),
                    &when,
                    &policy,
                ) else {
                    problems.push(format!("{}: no CONTRL", file_name(&path)));
                    continue;
                };
                let Some(contrl) = acks.functional else {
                    continue;
                };
                let file = dir.join(format!("{}-{n}.edi", file_name(&path)));
                std::fs::write(&file, &contrl).expect("write");
                written += 1;
                let ours: Vec<String> = edi::tokenize(&contrl)
                    .map(|s| s.map(|s| s.tag().to_string()))
                    .collect::<Result<_, _>>()
                    .expect("our CONTRL tokenizes");
                match edigate_tests::pydifact_dump(&file) {
                    Ok(dump) => {
                        let theirs: Vec<String> = dump["segments"]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(|s| s["tag"].as_str())
                                    .filter(|t| *t != "UNA")
                                    .map(str::to_string)
                                    .collect()
                            })
                            .unwrap_or_default();
                        if theirs != ours {
                            problems.push(format!(
                                "{}: pydifact reads {theirs:?}, we wrote {ours:?}",
                                file_name(&path)
                            ));
                        }
                    }
                    Err(e) => problems.push(format!(
                        "{}: pydifact refuses our CONTRL: {e}",
                        file_name(&path)
                    )),
                }
            }
        }
    }
    assert!(written >= 30, "only {written} CONTRLs written");
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
