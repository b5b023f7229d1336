//! Envelope checks: header fields, trailer counts and control numbers, at interchange, group and
//! message level, for both syntaxes.

use std::collections::HashSet;

use edi::{EnvelopeIssueKind, Group, Interchange, Message, Standard};

use crate::codes::{GroupError, InterchangeError, MessageError};
use crate::elements::{is_date, is_time};
use crate::report::InterchangeFinding;

/// ISA05/ISA07 interchange id qualifiers (element I05).
const ISA_QUALIFIERS: &[&str] = &[
    "01", "02", "03", "04", "07", "08", "09", "10", "11", "12", "13", "14", "15", "16", "17", "18",
    "19", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30", "31", "32", "33", "34",
    "35", "36", "37", "38", "AM", "NR", "SA", "SN", "ZZ",
];

/// EDIFACT syntax identifiers (UNB 0001).
const SYNTAX_IDS: &[&str] = &[
    "UNOA", "UNOB", "UNOC", "UNOD", "UNOE", "UNOF", "UNOG", "UNOH", "UNOI", "UNOJ", "UNOK", "UNOW",
    "UNOX", "UNOY", "KECA", "IATA", "IATB",
];

fn push(out: &mut Vec<InterchangeFinding>, code: InterchangeError, detail: String, offset: u64) {
    out.push(InterchangeFinding {
        code,
        detail,
        offset,
    });
}

/// ISA field widths (ISA01–ISA16).
const ISA_WIDTHS: [usize; 16] = [2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1];

/// Interchange-level findings.
pub(crate) fn interchange(ic: &Interchange<'_>) -> Vec<InterchangeFinding> {
    let mut out = Vec::new();
    let h = ic.header();
    let at = h.offset();
    let cs = ic.charset();
    let text = |e: usize, c: usize| h.text(e, c, cs);
    match ic.standard() {
        Standard::X12 => {
            for (i, width) in ISA_WIDTHS.iter().enumerate() {
                let got = h.element(i + 1).map_or(0, |e| e.value().len());
                if got != *width {
                    // Each field's own TA1 note code; the fixed width is part of its value.
                    let code = match i + 1 {
                        1 => InterchangeError::InvalidAuthorizationQualifier,
                        2 => InterchangeError::InvalidAuthorizationValue,
                        3 => InterchangeError::InvalidSecurityQualifier,
                        4 => InterchangeError::InvalidSecurityValue,
                        5 => InterchangeError::InvalidSenderQualifier,
                        6 => InterchangeError::InvalidSender,
                        7 => InterchangeError::InvalidReceiverQualifier,
                        8 => InterchangeError::InvalidReceiver,
                        9 => InterchangeError::InvalidDate,
                        10 => InterchangeError::InvalidTime,
                        11 => InterchangeError::InvalidStandardsIdentifier,
                        12 => InterchangeError::InvalidVersion,
                        13 => InterchangeError::InvalidControlNumber,
                        14 => InterchangeError::InvalidAckRequested,
                        15 => InterchangeError::InvalidTestIndicator,
                        _ => InterchangeError::InvalidComponentSeparator,
                    };
                    push(
                        &mut out,
                        code,
                        format!(
                            "ISA{:02} is {got} bytes wide; the standard fixes {width}",
                            i + 1
                        ),
                        at,
                    );
                }
            }
            // I01: 00 none, 01 UCS communications id, 02 EDX, 03 additional data, 04 rail,
            // 05 Department of Defense, 06 US federal government.
            if !matches!(
                text(1, 1).as_str(),
                "00" | "01" | "02" | "03" | "04" | "05" | "06"
            ) {
                push(
                    &mut out,
                    InterchangeError::InvalidAuthorizationQualifier,
                    format!(
                        "ISA01 {:?} is not an authorization information qualifier (00–06)",
                        text(1, 1)
                    ),
                    at,
                );
            }
            if !matches!(text(3, 1).as_str(), "00" | "01") {
                push(
                    &mut out,
                    InterchangeError::InvalidSecurityQualifier,
                    format!("ISA03 {:?} is not 00 or 01", text(3, 1)),
                    at,
                );
            }
            for (e, code) in [
                (5, InterchangeError::InvalidSenderQualifier),
                (7, InterchangeError::InvalidReceiverQualifier),
            ] {
                let q = text(e, 1);
                if !ISA_QUALIFIERS.contains(&q.trim_end()) {
                    push(
                        &mut out,
                        code,
                        format!("ISA{e:02} {q:?} is not an interchange ID qualifier"),
                        at,
                    );
                }
            }
            for (e, code) in [
                (6, InterchangeError::InvalidSender),
                (8, InterchangeError::InvalidReceiver),
            ] {
                if text(e, 1).trim().is_empty() {
                    push(&mut out, code, format!("ISA{e:02} is blank"), at);
                }
            }
            if !is_date(&text(9, 1)) {
                push(
                    &mut out,
                    InterchangeError::InvalidDate,
                    format!("ISA09 {:?} is not a date YYMMDD", text(9, 1)),
                    at,
                );
            }
            let time = text(10, 1);
            if time.len() != 4 || !is_time(&time) {
                push(
                    &mut out,
                    InterchangeError::InvalidTime,
                    format!("ISA10 {time:?} is not a time HHMM"),
                    at,
                );
            }
            let version = text(12, 1);
            if version.len() != 5 || !version.bytes().all(|b| b.is_ascii_digit()) {
                push(
                    &mut out,
                    InterchangeError::InvalidVersion,
                    format!("ISA12 {version:?} is not a version such as 00401"),
                    at,
                );
            }
            let control = text(13, 1);
            if control.len() != 9 || !control.bytes().all(|b| b.is_ascii_digit()) {
                push(
                    &mut out,
                    InterchangeError::InvalidControlNumber,
                    format!("ISA13 {control:?} is not nine digits"),
                    at,
                );
            }
            if !matches!(text(14, 1).as_str(), "0" | "1") {
                push(
                    &mut out,
                    InterchangeError::InvalidAckRequested,
                    format!("ISA14 {:?} is not 0 or 1", text(14, 1)),
                    at,
                );
            }
            if !matches!(text(15, 1).as_str(), "P" | "T" | "I") {
                push(
                    &mut out,
                    InterchangeError::InvalidTestIndicator,
                    format!("ISA15 {:?} is not P, T or I", text(15, 1)),
                    at,
                );
            }
        }
        Standard::Edifact => {
            let syntax = text(1, 1);
            if !SYNTAX_IDS.contains(&syntax.as_str()) {
                push(
                    &mut out,
                    InterchangeError::StandardNotSupported,
                    format!("UNB 0001 {syntax:?} is not a syntax identifier"),
                    at,
                );
            }
            if !matches!(text(1, 2).as_str(), "1" | "2" | "3" | "4") {
                push(
                    &mut out,
                    InterchangeError::VersionNotSupported,
                    format!("UNB 0002 {:?} is not a syntax version 1–4", text(1, 2)),
                    at,
                );
            }
            if text(2, 1).is_empty() {
                push(
                    &mut out,
                    InterchangeError::InvalidSender,
                    "UNB S002 sender identification is empty".into(),
                    at,
                );
            }
            if text(3, 1).is_empty() {
                push(
                    &mut out,
                    InterchangeError::InvalidReceiver,
                    "UNB S003 recipient identification is empty".into(),
                    at,
                );
            }
            let date = text(4, 1);
            // Syntax version 4 dates the interchange CCYYMMDD; versions 1–3 YYMMDD.
            let want = if text(1, 2) == "4" { 8 } else { 6 };
            if !is_date(&date) || date.len() != want {
                push(
                    &mut out,
                    InterchangeError::InvalidDate,
                    format!(
                        "UNB 0017 {date:?} is not a date of {want} digits (syntax version {})",
                        text(1, 2)
                    ),
                    at,
                );
            }
            let time = text(4, 2);
            if time.len() != 4 || !is_time(&time) {
                push(
                    &mut out,
                    InterchangeError::InvalidTime,
                    format!("UNB 0019 {time:?} is not a time HHMM"),
                    at,
                );
            }
            let control = text(5, 1);
            if control.is_empty() || control.chars().count() > 14 {
                push(
                    &mut out,
                    InterchangeError::InvalidControlNumber,
                    format!("UNB 0020 {control:?} must be 1–14 characters"),
                    at,
                );
            }
        }
    }
    let trailer_tag = if ic.standard() == Standard::X12 {
        "IEA"
    } else {
        "UNZ"
    };
    match ic.trailer() {
        None => push(
            &mut out,
            InterchangeError::PrematureEnd,
            format!("{trailer_tag} is missing: the interchange ends early"),
            at,
        ),
        Some(t) => {
            let declared = t.text(1, 1, cs);
            let actual = if ic.groups().len() > 0 {
                ic.groups().len()
            } else {
                ic.messages().len()
            };
            if declared.parse::<usize>().ok() != Some(actual) {
                push(
                    &mut out,
                    InterchangeError::InvalidGroupCount,
                    format!("{trailer_tag}01 says {declared}, the interchange holds {actual}"),
                    t.offset(),
                );
            }
            let control = t.text(2, 1, cs);
            if control != ic.control_number() {
                push(
                    &mut out,
                    InterchangeError::ControlNumberMismatch,
                    format!(
                        "{trailer_tag}02 {control:?} does not match the header's {:?}",
                        ic.control_number()
                    ),
                    t.offset(),
                );
            }
        }
    }
    for issue in ic.issues() {
        let code = match issue.kind {
            EnvelopeIssueKind::MixedGroups
            | EnvelopeIssueKind::MessageOutsideGroup
            | EnvelopeIssueKind::OutsideMessage => InterchangeError::InvalidControlStructure,
            EnvelopeIssueKind::UnexpectedTrailer => InterchangeError::InvalidContent,
            // Missing trailers are reported at their own level.
            _ => continue,
        };
        push(&mut out, code, issue.describe(ic.standard()), issue.offset);
    }
    out
}

/// Group-level findings (trailer, counts, control numbers).
pub(crate) fn group(
    g: &Group<'_, '_>,
    seen: &mut HashSet<String>,
) -> (Vec<GroupError>, Option<usize>) {
    let mut errors = Vec::new();
    let control = g.control_number();
    if control.is_empty()
        || control.len() > 14
        || (g.header().tag() == "GS" && !control.bytes().all(|b| b.is_ascii_digit()))
    {
        errors.push(GroupError::InvalidControlNumber);
    }
    if !seen.insert(control.clone()) {
        errors.push(GroupError::DuplicateControlNumber);
    }
    let mut declared = None;
    match g.trailer() {
        None => errors.push(GroupError::TrailerMissing),
        Some(t) => {
            let cs = edi::Charset::Auto;
            let count = t.text(1, 1, cs);
            declared = count.parse::<usize>().ok();
            if declared != Some(g.messages().len()) {
                errors.push(GroupError::CountMismatch);
            }
            if t.text(2, 1, cs) != control {
                errors.push(GroupError::ControlNumberMismatch);
            }
        }
    }
    (errors, declared)
}

/// Message envelope findings (trailer, count, control numbers); `control` is the message's
/// control number ([`Message::control_number`], which the caller has read already).
pub(crate) fn message(
    m: &Message<'_, '_>,
    control: &str,
    seen: &mut HashSet<String>,
) -> Vec<MessageError> {
    let mut errors = Vec::new();
    let x12 = m.interchange().standard() == Standard::X12;
    let valid_control = if x12 {
        (4..=9).contains(&control.len())
    } else {
        !control.is_empty() && control.len() <= 14
    };
    if !valid_control {
        errors.push(MessageError::InvalidControlNumber);
    }
    if !control.is_empty() && !seen.insert(control.to_string()) {
        errors.push(MessageError::DuplicateControlNumber);
    }
    if x12 && m.group().is_none() {
        errors.push(MessageError::NotInGroup);
    }
    match m.trailer() {
        None => errors.push(MessageError::TrailerMissing),
        Some(t) => {
            // `Segment::text` without the owned copy: these are only compared.
            let cs = m.interchange().charset();
            if cs.decode(&t.value(1, 1)).parse::<usize>().ok() != Some(m.segments().len()) {
                errors.push(MessageError::SegmentCountMismatch);
            }
            if cs.decode(&t.value(2, 1)) != control {
                errors.push(MessageError::ControlNumberMismatch);
            }
        }
    }
    errors
}
