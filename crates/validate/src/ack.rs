//! Acknowledgements built from a validation report: TA1, 997 (X12 before 005010), 999 (005010),
//! and EDIFACT CONTRL. Each answers the inbound envelope exactly: sender and receiver swapped, the
//! inbound group's version, the inbound control numbers referenced. Our own control numbers come
//! from the caller ([`ControlNumbers`]), because the outbox owns them.

use edi::writer::{DocumentWriter, InterchangeHeader, SegmentBuf, WriteError};
use edi::{Delimiters, Interchange, Standard};

use crate::report::{InterchangeReport, MessageReport, SegmentFinding, Verdict};

/// Which numbering an acknowledgement needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberKind {
    /// ISA13 / UNB 0020.
    Interchange,
    /// GS06 / UNG 0048.
    Group,
    /// ST02 / UNH 0062.
    Message,
}

/// Hands out our control numbers (the outbox's counters in the gateway; a plain counter in tests).
pub trait ControlNumbers {
    /// The next number of `kind`.
    fn next(&mut self, kind: NumberKind) -> u64;
}

/// A counter per kind, starting at 1: for tests and the command line.
#[derive(Clone, Debug, Default)]
pub struct Sequential {
    next: [u64; 3],
}

impl ControlNumbers for Sequential {
    fn next(&mut self, kind: NumberKind) -> u64 {
        let i = kind as usize;
        self.next[i] += 1;
        self.next[i]
    }
}

/// When the acknowledgement is made: `CCYYMMDD` and `HHMM`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timestamp {
    /// `CCYYMMDD`.
    pub date: String,
    /// `HHMM`.
    pub time: String,
}

/// Which functional acknowledgement an X12 group gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum X12Ack {
    /// 997 for versions before 005010, 999 from 005010 on.
    #[default]
    ByVersion,
    /// Always 997.
    Always997,
    /// Always 999.
    Always999,
}

/// When an EDIFACT interchange gets a CONTRL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ContrlPolicy {
    /// Only when the sender asks for one (UNB 0031 = 1).
    #[default]
    WhenAsked,
    /// When asked, and whenever something is rejected (partners that want negative CONTRLs).
    WhenAskedOrRejected,
    /// Always.
    Always,
}

/// What to acknowledge and how: the per-partner knobs (X12 997 or 999, when to send CONTRL).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AckPolicy {
    /// 997 or 999 for X12 groups.
    pub x12: X12Ack,
    /// When EDIFACT gets a CONTRL.
    pub contrl: ContrlPolicy,
}

impl AckPolicy {
    /// The default policy with CONTRL always sent.
    pub fn contrl_always() -> Self {
        AckPolicy {
            contrl: ContrlPolicy::Always,
            ..AckPolicy::default()
        }
    }

    /// The default policy with this X12 acknowledgement.
    pub fn x12(x12: X12Ack) -> Self {
        AckPolicy {
            x12,
            ..AckPolicy::default()
        }
    }
}

/// The acknowledgements for one interchange.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Acknowledgements {
    /// A TA1 interchange, when asked for (ISA14 = 1) or when the envelope is bad.
    pub ta1: Option<Vec<u8>>,
    /// The 997/999 interchange (one group per inbound group) or the CONTRL interchange.
    pub functional: Option<Vec<u8>>,
}

/// Builds the acknowledgements the gateway sends for `ic` given its `report`.
pub fn acknowledge(
    ic: &Interchange<'_>,
    report: &InterchangeReport,
    numbers: &mut dyn ControlNumbers,
    when: &Timestamp,
    policy: &AckPolicy,
) -> Result<Acknowledgements, WriteError> {
    // An envelope without sender, receiver or control number cannot be answered: there is no one
    // to address, or nothing to refer to.
    // The caller reports such a file to the operator instead.
    if ic.sender().id.is_empty() || ic.receiver().id.is_empty() || ic.control_number().is_empty() {
        return Ok(Acknowledgements::default());
    }
    match ic.standard() {
        Standard::X12 => {
            let ta1 = if report.ack_requested || report.is_rejected() {
                Some(ta1(ic, report, numbers, when)?)
            } else {
                None
            };
            let functional = if report.groups.is_empty() || report.is_rejected() {
                None
            } else {
                Some(x12_functional(ic, report, numbers, when, policy.x12)?)
            };
            Ok(Acknowledgements { ta1, functional })
        }
        Standard::Edifact => {
            let rejected = report.is_rejected()
                || report.groups.iter().any(|g| g.verdict != Verdict::Accepted)
                || report
                    .all_messages()
                    .any(|m| m.verdict == Verdict::Rejected);
            let send = match policy.contrl {
                ContrlPolicy::WhenAsked => report.ack_requested,
                ContrlPolicy::WhenAskedOrRejected => report.ack_requested || rejected,
                ContrlPolicy::Always => true,
            };
            Ok(Acknowledgements {
                ta1: None,
                functional: if send {
                    Some(contrl(ic, report, numbers, when)?)
                } else {
                    None
                },
            })
        }
    }
}

fn x12_header(
    ic: &Interchange<'_>,
    numbers: &mut dyn ControlNumbers,
    when: &Timestamp,
) -> InterchangeHeader {
    let s = ic.sender();
    let r = ic.receiver();
    InterchangeHeader {
        sender: (r.id, r.qualifier),
        receiver: (s.id, s.qualifier),
        date: when.date.get(2..).unwrap_or(&when.date).to_string(),
        time: when.time.clone(),
        control_number: format!(
            "{:09}",
            numbers.next(NumberKind::Interchange) % 1_000_000_000
        ),
        version: ic.version(),
        ack_requested: false,
        test: ic.is_test(),
    }
}

/// Our outbound delimiters: the inbound ones, so the partner's parser reads what it writes.
fn x12_delimiters(ic: &Interchange<'_>) -> Delimiters {
    *ic.delimiters()
}

/// A TA1 interchange answering `ic`'s envelope.
pub fn ta1(
    ic: &Interchange<'_>,
    report: &InterchangeReport,
    numbers: &mut dyn ControlNumbers,
    when: &Timestamp,
) -> Result<Vec<u8>, WriteError> {
    let header = x12_header(ic, numbers, when);
    let mut w = DocumentWriter::new(Standard::X12, x12_delimiters(ic)).line_ending("\n");
    w.begin_interchange(&header)?;
    let (code, note) = match report.errors.first() {
        None => ("A", "000"),
        Some(f) => ("R", f.code.x12()),
    };
    let h = ic.header();
    let cs = ic.charset();
    w.service_segment(
        &SegmentBuf::new("TA1")?
            .simple(h.text(13, 1, cs))
            .simple(h.text(9, 1, cs))
            .simple(h.text(10, 1, cs))
            .simple(code)
            .simple(note),
    )?;
    w.end_interchange()
}

/// C030, position in segment: element, component, and (from 005010 on) repetition.
fn x12_position(e: &crate::report::ElementFinding, version_5010: bool) -> Vec<String> {
    let mut v = vec![e.position.to_string()];
    if let Some(c) = e.component {
        v.push(c.to_string());
    }
    if let Some(r) = e.repetition.filter(|_| version_5010) {
        if e.component.is_none() {
            v.push(String::new());
        }
        v.push(r.to_string());
    }
    v
}

fn segment_lines(
    seg: &SegmentFinding,
    is_999: bool,
    version_5010: bool,
    d: &Delimiters,
) -> Result<Vec<SegmentBuf>, WriteError> {
    let (s_tag, e_tag) = if is_999 {
        ("IK3", "IK4")
    } else {
        ("AK3", "AK4")
    };
    let mut out = vec![
        SegmentBuf::new(s_tag)?
            .simple(seg.tag.clone())
            .simple(seg.position.to_string())
            .simple("")
            .simple(seg.code.x12()),
    ];
    for e in &seg.elements {
        // AK404 copies the bad data, less anything X12 could not carry: control characters and
        // our own delimiters (the partner's value may hold bytes that are delimiters here).
        let value: String = e
            .value
            .chars()
            .filter(|c| !(c.is_control() || (c.is_ascii() && d.is_special(*c as u8))))
            .take(99)
            .collect();
        out.push(
            SegmentBuf::new(e_tag)?
                .composite(x12_position(e, version_5010))
                .simple(
                    e.element_id
                        .chars()
                        .filter(char::is_ascii_digit)
                        .collect::<String>(),
                )
                .simple(e.code.x12(version_5010))
                .simple(value),
        );
        // The 999 names the present element that made this one required or forbidden (the
        // element context, CTX after IK4); the 997 has no place for it.
        if let (true, Some(trigger)) = (is_999, e.trigger) {
            out.push(
                SegmentBuf::new("CTX")?
                    .simple("SITUATIONAL TRIGGER")
                    .simple(seg.tag.clone())
                    .simple(seg.position.to_string())
                    // The loop id is left out, as in IK303.
                    .simple("")
                    .simple(trigger.to_string()),
            );
        }
    }
    Ok(out)
}

/// The 997 or 999 interchange: one functional group per inbound group.
pub fn x12_functional(
    ic: &Interchange<'_>,
    report: &InterchangeReport,
    numbers: &mut dyn ControlNumbers,
    when: &Timestamp,
    choice: X12Ack,
) -> Result<Vec<u8>, WriteError> {
    let d = x12_delimiters(ic);
    let header = x12_header(ic, numbers, when);
    let mut w = DocumentWriter::new(Standard::X12, d).line_ending("\n");
    w.begin_interchange(&header)?;
    for (g, gr) in ic.groups().zip(&report.groups) {
        let version = gr.version.clone();
        let version_5010 = version.as_str() >= "005010";
        let is_999 = match choice {
            X12Ack::ByVersion => version_5010,
            X12Ack::Always997 => false,
            X12Ack::Always999 => true,
        };
        let gs_control = numbers.next(NumberKind::Group).to_string();
        w.begin_group(&[
            "FA",
            &g.receiver().id,
            &g.sender().id,
            &when.date,
            &when.time,
            &gs_control,
            "X",
            if is_999 { "005010X231A1" } else { &version },
        ])?;
        let st_control = format!("{:04}", numbers.next(NumberKind::Message) % 1_000_000_000);
        let convention: &[&str] = if is_999 { &["005010X231A1"] } else { &[] };
        w.begin_message(if is_999 { "999" } else { "997" }, &st_control, convention)?;
        let mut ak1 = SegmentBuf::new("AK1")?
            .simple(gr.functional_id.clone())
            .simple(gr.control_number.clone());
        if version_5010 || is_999 {
            ak1 = ak1.simple(version.clone());
        }
        w.segment(&ak1)?;
        for m in &gr.messages {
            message_loop(&mut w, m, is_999, version_5010 || is_999, &d)?;
        }
        let mut ak9 = SegmentBuf::new("AK9")?
            .simple(gr.verdict.x12())
            .simple(gr.declared.unwrap_or(gr.messages.len()).to_string())
            .simple(gr.messages.len().to_string())
            .simple(gr.accepted().to_string());
        for e in gr.errors.iter().take(5) {
            ak9 = ak9.simple(e.x12());
        }
        w.segment(&ak9)?;
        w.end_message()?;
        w.end_group()?;
    }
    w.end_interchange()
}

fn message_loop(
    w: &mut DocumentWriter,
    m: &MessageReport,
    is_999: bool,
    version_5010: bool,
    d: &Delimiters,
) -> Result<(), WriteError> {
    let mut ak2 = SegmentBuf::new("AK2")?
        .simple(m.message_type.clone())
        .simple(m.control_number.clone());
    if version_5010 && !m.version.is_empty() && !m.version.starts_with("00") {
        ak2 = ak2.simple(m.version.clone());
    }
    w.segment(&ak2)?;
    for seg in &m.segments {
        for line in segment_lines(seg, is_999, version_5010, d)? {
            w.segment(&line)?;
        }
    }
    let mut ak5 = SegmentBuf::new(if is_999 { "IK5" } else { "AK5" })?.simple(m.verdict.x12());
    for e in m.errors.iter().take(5) {
        ak5 = ak5.simple(e.x12());
    }
    w.segment(&ak5)
}

/// The CONTRL interchange answering an EDIFACT interchange: UCI for the interchange, UCF per
/// group, UCM per message, UCS/UCD per segment and element error.
pub fn contrl(
    ic: &Interchange<'_>,
    report: &InterchangeReport,
    numbers: &mut dyn ControlNumbers,
    when: &Timestamp,
) -> Result<Vec<u8>, WriteError> {
    let s = ic.sender();
    let r = ic.receiver();
    let v4 = ic.version() == "4";
    let mut w = begin_edifact_answer(ic, numbers, when)?;
    let message_ref = numbers.next(NumberKind::Message).to_string();
    let id: &[&str] = if v4 {
        &["4", "1", "UN"]
    } else {
        &["2", "2", "UN"]
    };
    w.begin_message("CONTRL", &message_ref, id)?;
    // 4: the interchange is rejected; 7: acknowledged, lower levels as the UCF/UCM below say.
    let action = if report.is_rejected() { "4" } else { "7" };
    let mut uci = SegmentBuf::new("UCI")?
        .simple(report.control_number.clone())
        .composite([s.id.as_str(), s.qualifier.as_str()])
        .composite([r.id.as_str(), r.qualifier.as_str()])
        .simple(action);
    if let Some(e) = report.errors.first() {
        uci = uci.simple(e.code.edifact());
    }
    w.segment(&uci)?;
    for m in &report.messages {
        contrl_message(&mut w, m)?;
    }
    for g in &report.groups {
        let mut ucf = SegmentBuf::new("UCF")?
            .simple(g.control_number.clone())
            .simple("")
            .simple("")
            .simple(g.verdict.edifact());
        if let Some(e) = g.errors.first() {
            ucf = ucf.simple(e.edifact());
        }
        w.segment(&ucf)?;
        for m in &g.messages {
            contrl_message(&mut w, m)?;
        }
    }
    w.end_message()?;
    w.end_interchange()
}

fn contrl_message(w: &mut DocumentWriter, m: &MessageReport) -> Result<(), WriteError> {
    // S009 as the partner sent it, less an association code longer than 0057 allows (an..6),
    // which our own CONTRL could not carry validly.
    let mut s009: Vec<&str> = std::iter::once(m.message_type.as_str())
        .chain(m.version.split(':'))
        .collect();
    if s009.get(4).is_some_and(|a| a.chars().count() > 6) {
        s009.truncate(4);
    }
    let mut ucm = SegmentBuf::new("UCM")?
        .simple(m.control_number.as_str())
        .composite(s009)
        .simple(m.verdict.edifact());
    // Segment errors are detailed in UCS/UCD below; 0085 here names a message-level error only.
    if let Some(e) = m
        .errors
        .iter()
        .find(|e| **e != crate::codes::MessageError::SegmentsInError)
    {
        ucm = ucm.simple(e.edifact());
    }
    w.segment(&ucm)?;
    for seg in &m.segments {
        let mut ucs = SegmentBuf::new("UCS")?.simple(seg.position.to_string());
        if seg.code != crate::codes::SegmentError::HasElementErrors {
            ucs = ucs.simple(seg.code.edifact());
        }
        w.segment(&ucs)?;
        for e in &seg.elements {
            let mut pos = vec![e.position.to_string()];
            if let Some(c) = e.component {
                pos.push(c.to_string());
            }
            w.segment(
                &SegmentBuf::new("UCD")?
                    .simple(e.code.edifact())
                    .composite(pos),
            )?;
        }
    }
    Ok(())
}

/// One application-level error for an APERAK: a code (ERC 9321, from the partner agreement or a
/// code list), a text, and optionally the reference the error is about (qualifier, value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationError {
    /// The application error code (ERC C901 9321).
    pub code: String,
    /// What is wrong, for people (FTX+AAO).
    pub text: String,
    /// The reference the error concerns (RFF C506: qualifier, value), e.g. a line number.
    pub reference: Option<(String, String)>,
}

/// What an APERAK answers: the business document it refers to and the verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AperakRequest {
    /// Our number for this APERAK (BGM 1004).
    pub document_number: String,
    /// The document acknowledged (RFF C506: qualifier such as `ON` for an order, and its number).
    pub acknowledged: (String, String),
    /// The errors; none means the document is accepted (BGM 1225 `6`), any means it is not
    /// accepted (`27`).
    pub errors: Vec<ApplicationError>,
}

/// A writer with the UNB of our answer to `ic` written: parties swapped, the inbound syntax
/// identifier and version, and a UNA when the inbound had one.
fn begin_edifact_answer(
    ic: &Interchange<'_>,
    numbers: &mut dyn ControlNumbers,
    when: &Timestamp,
) -> Result<DocumentWriter, WriteError> {
    let s = ic.sender();
    let r = ic.receiver();
    let version = ic.version();
    let identifier = ic.syntax_identifier();
    let header = InterchangeHeader {
        sender: (r.id, r.qualifier),
        receiver: (s.id, s.qualifier),
        date: edifact_date(when, &version),
        time: when.time.clone(),
        control_number: numbers.next(NumberKind::Interchange).to_string(),
        version: format!(
            "{}:{}",
            if identifier.is_empty() {
                "UNOA"
            } else {
                &identifier
            },
            if version.is_empty() { "3" } else { &version }
        ),
        ack_requested: false,
        test: ic.is_test(),
    };
    let mut w = DocumentWriter::new(Standard::Edifact, *ic.delimiters())
        .with_una(ic.service_advice().is_some())
        .line_ending("\n");
    w.begin_interchange(&header)?;
    Ok(w)
}

/// UNB 0017 for our answer: CCYYMMDD in syntax version 4, YYMMDD before.
fn edifact_date(when: &Timestamp, syntax_version: &str) -> String {
    if syntax_version == "4" {
        when.date.clone()
    } else {
        when.date.get(2..).unwrap_or(&when.date).to_string()
    }
}

/// An APERAK interchange answering one EDIFACT message at application level (a mapping or
/// business-rule rejection after the syntax checks passed), in the message's own directory.
pub fn aperak(
    ic: &Interchange<'_>,
    message: &edi::Message<'_, '_>,
    request: &AperakRequest,
    numbers: &mut dyn ControlNumbers,
    when: &Timestamp,
) -> Result<Vec<u8>, WriteError> {
    if ic.standard() != Standard::Edifact {
        return Err(WriteError::Order("APERAK answers EDIFACT messages"));
    }
    let mut w = begin_edifact_answer(ic, numbers, when)?;
    // The inbound message's directory: `D:96A:UN` from its UNH S009 (association code dropped,
    // since the APERAK is not of the partner's subset).
    let cs = ic.charset();
    let h = message.header();
    let (v, rel, agency) = (h.text(2, 2, cs), h.text(2, 3, cs), h.text(2, 4, cs));
    let reference = numbers.next(NumberKind::Message).to_string();
    w.begin_message(
        "APERAK",
        &reference,
        &[v.as_str(), rel.as_str(), agency.as_str()],
    )?;
    let function = if request.errors.is_empty() { "6" } else { "27" };
    w.segment(
        &SegmentBuf::new("BGM")?
            .simple("305")
            .simple(request.document_number.clone())
            .simple(function),
    )?;
    w.segment(&SegmentBuf::new("DTM")?.composite([
        "137",
        &format!("{}{}", when.date, when.time),
        "203",
    ]))?;
    w.segment(&SegmentBuf::new("RFF")?.composite([
        request.acknowledged.0.as_str(),
        request.acknowledged.1.as_str(),
    ]))?;
    for e in &request.errors {
        w.segment(&SegmentBuf::new("ERC")?.composite([e.code.as_str()]))?;
        w.segment(
            &SegmentBuf::new("FTX")?
                .simple("AAO")
                .simple("")
                .simple("")
                .composite([e.text.as_str()]),
        )?;
        if let Some((q, v)) = &e.reference {
            w.segment(&SegmentBuf::new("RFF")?.composite([q.as_str(), v.as_str()]))?;
        }
    }
    w.end_message()?;
    w.end_interchange()
}
