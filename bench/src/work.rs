//! The measured workloads: one function per tool and task, each walking a whole file and
//! returning a [`Tally`] so the work cannot be optimised away and so tools can be checked
//! against each other (same segment count, same unescaped value bytes).
//!
//! Tasks, from least to most work:
//! - *tokenize*: find every segment (edigate: `edi::tokenize`; edifact-rs: its `Tokenizer`,
//!   which also splits elements and components).
//! - *parse*: the tool's full model of the file (edigate: `edi::parse` into interchanges,
//!   groups, messages and segments, values left in place until read; edifact-rs: `from_bytes`,
//!   every segment with its elements and components split and unescaped; `edi`: `parse` into
//!   its `EdiDocument`).
//! - *parse + read every value*: the model, then every component value read (unescaped). For
//!   edigate this is the like-for-like comparison with edifact-rs, which splits and unescapes
//!   everything up front.
//! - *parse, interchange by interchange*: `edi::Parser::interchanges`, each interchange's model
//!   built and dropped in turn.
//! - *stream*: `edi::Reader` over a `Read`, one interchange at a time.

use std::io::Read;

use anyhow::{Context, Result, anyhow};
use memchr::memmem;

/// What a workload saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Segments (envelopes included, `UNA` not).
    pub segments: u64,
    /// A workload-specific check sum: segment bytes for tokenizers, value bytes after
    /// unescaping for the value-reading workloads.
    pub check: u64,
    /// For streaming: the most bytes the reader held at once.
    pub peak_buffered: u64,
}

/// edigate's tokenizer: every segment of the file.
pub fn edigate_tokenize(data: &[u8]) -> Result<Tally> {
    let mut t = Tally::default();
    for seg in edi::tokenize(data) {
        let seg = seg?;
        t.segments += 1;
        t.check += seg.raw().len() as u64;
    }
    Ok(t)
}

/// edigate's full parse into the envelope model (dropped at the end, as a program would).
pub fn edigate_parse(data: &[u8]) -> Result<Tally> {
    let interchanges = edi::parse(data)?;
    let mut t = Tally::default();
    for ic in &interchanges {
        t.segments += ic.segments().len() as u64;
        t.check += ic.messages().len() as u64;
    }
    Ok(t)
}

/// edigate's parser one interchange at a time (`Parser::interchanges`), each dropped before the
/// next is parsed: the model is built for every interchange, but never for the whole file.
pub fn edigate_parse_each(data: &[u8]) -> Result<Tally> {
    let mut t = Tally::default();
    for ic in edi::Parser::new().interchanges(data) {
        let ic = ic?;
        t.segments += ic.segments().len() as u64;
        t.check += ic.messages().len() as u64;
    }
    Ok(t)
}

fn edigate_values(segments: &[edi::Segment<'_>]) -> u64 {
    let mut n = 0;
    for seg in segments {
        for el in seg.elements() {
            for rep in el.repetitions() {
                for c in rep.components() {
                    n += c.value().len() as u64;
                }
            }
        }
    }
    n
}

/// edigate's full parse, then every component value of every segment read (unescaped).
pub fn edigate_parse_values(data: &[u8]) -> Result<Tally> {
    let interchanges = edi::parse(data)?;
    let mut t = Tally::default();
    for ic in &interchanges {
        t.segments += ic.segments().len() as u64;
        t.check += edigate_values(ic.segments());
    }
    Ok(t)
}

/// edigate's validation against `specs/` and the acknowledgements built from it (997/999 or
/// CONTRL), interchange by interchange, as the gateway does for every inbound file.
pub fn edigate_validate_ack(data: &[u8]) -> Result<Tally> {
    static SPECS: std::sync::OnceLock<validate::Specs> = std::sync::OnceLock::new();
    let specs = SPECS.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs");
        validate::Specs::load(&dir).expect("the specs load")
    });
    let when = validate::ack::Timestamp {
        date: "20260101".into(),
        time: "0000".into(),
    };
    let mut numbers = validate::ack::Sequential::default();
    let mut t = Tally::default();
    for ic in edi::Parser::new().lenient(true).interchanges(data) {
        let ic = ic?;
        t.segments += ic.segments().len() as u64;
        let report = validate::validate(&ic, specs);
        let acks = validate::ack::acknowledge(
            &ic,
            &report,
            &mut numbers,
            &when,
            &validate::ack::AckPolicy::contrl_always(),
        )
        .map_err(|e| anyhow!("ack: {e}"))?;
        t.check += acks.functional.map_or(0, |a| a.len() as u64);
        t.check += report
            .all_messages()
            .filter(|m| m.verdict == validate::report::Verdict::Accepted)
            .count() as u64;
    }
    Ok(t)
}

/// edigate's translation into canonical events with the built-in mappings, interchange by
/// interchange, every message's result kept (as the gateway would publish them).
pub fn edigate_translate(data: &[u8]) -> Result<Tally> {
    static MAPPINGS: std::sync::OnceLock<mapping::Mappings> = std::sync::OnceLock::new();
    let mappings =
        MAPPINGS.get_or_init(|| mapping::Mappings::builtin().expect("the built-in mappings load"));
    let mut t = Tally::default();
    for ic in edi::Parser::new().lenient(true).interchanges(data) {
        let ic = ic?;
        t.segments += ic.segments().len() as u64;
        for event in mapping::translate(&ic, "bench", mappings) {
            let event = event.map_err(|e| anyhow!("translate: {e}"))?;
            t.check += event.id().as_str().len() as u64;
        }
    }
    Ok(t)
}

/// edigate's streaming reader over `input`: one interchange in memory at a time.
pub fn edigate_stream<R: Read>(input: R) -> Result<Tally> {
    let mut reader = edi::Reader::new(input);
    let mut t = Tally::default();
    while let Some(ic) = reader.next_interchange() {
        let ic = ic?;
        t.segments += ic.segments().len() as u64;
        t.check += ic.messages().len() as u64;
        t.peak_buffered = t.peak_buffered.max(reader.buffered() as u64);
    }
    Ok(t)
}

/// The EDIFACT interchanges of `data`, split where a `UNA` starts a line or follows a segment
/// terminator (edifact-rs and pydifact read one `UNA` per input, and the generated files carry
/// one per interchange).
pub fn edifact_interchanges(data: &[u8]) -> Vec<&[u8]> {
    let mut starts: Vec<usize> = memmem::find_iter(data, b"UNA")
        .filter(|&p| p == 0 || matches!(data[p - 1], b'\n' | b'\r' | b'\''))
        .collect();
    if starts.first() != Some(&0) {
        starts.insert(0, 0);
    }
    let mut out = Vec::with_capacity(starts.len());
    for (i, &s) in starts.iter().enumerate() {
        let e = starts.get(i + 1).copied().unwrap_or(data.len());
        out.push(&data[s..e]);
    }
    out
}

/// edifact-rs's tokenizer (tag, element and component tokens) over each interchange.
pub fn edifact_rs_tokenize(data: &[u8]) -> Result<Tally> {
    let mut t = Tally::default();
    for ic in edifact_interchanges(data) {
        let ssa = edifact_rs::ServiceStringAdvice::from_bytes(ic)
            .map_err(|e| anyhow!("edifact-rs UNA: {e}"))?;
        for tok in edifact_rs::Tokenizer::new(ic, ssa) {
            match tok.map_err(|e| anyhow!("edifact-rs tokenizer: {e}"))? {
                edifact_rs::Token::SegmentTag { value, .. } => {
                    t.segments += 1;
                    t.check += value.len() as u64;
                }
                _ => t.check += 1,
            }
        }
    }
    Ok(t)
}

/// edifact-rs's parser (`from_bytes`), each segment handled and dropped in turn.
pub fn edifact_rs_parse(data: &[u8]) -> Result<Tally> {
    let mut t = Tally::default();
    for ic in edifact_interchanges(data) {
        for seg in edifact_rs::from_bytes(ic) {
            let seg = seg.map_err(|e| anyhow!("edifact-rs: {e}"))?;
            t.segments += 1;
            t.check += seg.elements.len() as u64;
        }
    }
    Ok(t)
}

/// edifact-rs's parser (`from_bytes`) collected into its model, `Vec<Segment>` per interchange,
/// all kept until the end.
pub fn edifact_rs_parse_collect(data: &[u8]) -> Result<Tally> {
    let mut all = Vec::new();
    for ic in edifact_interchanges(data) {
        let segs: Vec<edifact_rs::Segment<'_>> = edifact_rs::from_bytes(ic)
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow!("edifact-rs: {e}"))?;
        all.push(segs);
    }
    let mut t = Tally::default();
    for segs in &all {
        t.segments += segs.len() as u64;
        t.check += segs.iter().map(|s| s.elements.len() as u64).sum::<u64>();
    }
    Ok(t)
}

/// edifact-rs's parser, then every component value of every segment read.
pub fn edifact_rs_parse_values(data: &[u8]) -> Result<Tally> {
    let mut t = Tally::default();
    for ic in edifact_interchanges(data) {
        for seg in edifact_rs::from_bytes(ic) {
            let seg = seg.map_err(|e| anyhow!("edifact-rs: {e}"))?;
            t.segments += 1;
            for el in &seg.elements {
                for occurrence in el.repetitions() {
                    for (value, _) in occurrence {
                        t.check += value.len() as u64;
                    }
                }
            }
        }
    }
    Ok(t)
}

fn x12_document(data: &[u8]) -> Result<x12_edi::EdiDocument<'_>> {
    let text = std::str::from_utf8(data).context("the edi crate reads UTF-8 text only")?;
    x12_edi::parse(text).map_err(|e| anyhow!("edi crate: {e}"))
}

fn x12_segments(doc: &x12_edi::EdiDocument<'_>) -> u64 {
    doc.interchanges
        .iter()
        .map(|ic| {
            2 + ic
                .functional_groups
                .iter()
                .map(|g| {
                    2 + g
                        .transactions
                        .iter()
                        .map(|t| 2 + t.segments.len() as u64)
                        .sum::<u64>()
                })
                .sum::<u64>()
        })
        .sum()
}

/// The `edi` crate's parse into its `EdiDocument` (UTF-8 check included: it takes `&str`).
pub fn x12_edi_parse(data: &[u8]) -> Result<Tally> {
    let doc = x12_document(data)?;
    Ok(Tally {
        segments: x12_segments(&doc),
        ..Tally::default()
    })
}

/// The `edi` crate's parse, then every element value of every body segment read (it does not
/// split components).
pub fn x12_edi_parse_values(data: &[u8]) -> Result<Tally> {
    let doc = x12_document(data)?;
    let mut check = 0;
    for ic in &doc.interchanges {
        for g in &ic.functional_groups {
            for t in &g.transactions {
                for s in &t.segments {
                    check += s.elements.iter().map(|e| e.len() as u64).sum::<u64>();
                }
            }
        }
    }
    Ok(Tally {
        segments: x12_segments(&doc),
        check,
        ..Tally::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{Standard, generate};

    #[test]
    fn tools_agree_on_edifact() {
        let (data, stats) = generate(Standard::Edifact, 1_500_000, 11);
        assert!(stats.interchanges >= 2, "want several interchanges");
        let tok = edigate_tokenize(&data).expect("edigate tokenize");
        assert_eq!(tok.segments, stats.segments);
        assert_eq!(tok.check, data.len() as u64 - 10 * stats.interchanges);
        assert_eq!(
            edigate_parse(&data).expect("edigate parse").segments,
            stats.segments
        );
        assert_eq!(
            edigate_parse_each(&data)
                .expect("edigate parse each")
                .segments,
            stats.segments
        );
        let stream = edigate_stream(&data[..]).expect("edigate stream");
        assert_eq!(stream.segments, stats.segments);
        assert_eq!(
            edifact_rs_tokenize(&data).expect("edifact-rs tok").segments,
            stats.segments
        );
        assert_eq!(
            edifact_rs_parse(&data).expect("edifact-rs").segments,
            stats.segments
        );
        assert_eq!(
            edifact_rs_parse_collect(&data)
                .expect("edifact-rs collect")
                .segments,
            stats.segments
        );
        let ours = edigate_parse_values(&data).expect("edigate values");
        let theirs = edifact_rs_parse_values(&data).expect("edifact-rs values");
        assert_eq!(ours, theirs);
    }

    #[test]
    fn tools_agree_on_x12() {
        let (data, stats) = generate(Standard::X12, 4_000_000, 12);
        assert!(stats.interchanges >= 2, "want several interchanges");
        assert_eq!(
            edigate_tokenize(&data).expect("tok").segments,
            stats.segments
        );
        assert_eq!(
            edigate_parse(&data).expect("parse").segments,
            stats.segments
        );
        assert_eq!(
            edigate_parse_values(&data).expect("values").segments,
            stats.segments
        );
        assert_eq!(
            edigate_stream(&data[..]).expect("stream").segments,
            stats.segments
        );
        assert_eq!(
            x12_edi_parse(&data).expect("edi crate").segments,
            stats.segments
        );
        assert_eq!(
            x12_edi_parse_values(&data).expect("edi crate").segments,
            stats.segments
        );
    }
}
