//! The project's own hand-written fixtures (`fixtures/`, listed in `fixtures/README.md`): real
//! values read from each delimiter case, the byte-exact round trip, the streaming reader fed a
//! few bytes at a time, and the exact error (kind and location) of every malformed file.

use std::borrow::Cow;
use std::io::Read;
use std::mem::discriminant;
use std::path::Path;

use edi::{
    Charset, Delimiters, EnvelopeIssue, EnvelopeIssueKind, ErrorKind, Interchange, ParseError,
    Parser, Reader, Segment, Standard,
};
use edigate_tests::{files_in, fixtures};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn read(rel: &str) -> Vec<u8> {
    let p = fixtures().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn rel_name(p: &Path) -> String {
    p.strip_prefix(fixtures())
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Every fixture file of a directory of `fixtures/`.
fn fixture_files(dir: &str) -> Vec<(String, Vec<u8>)> {
    let files = files_in(&fixtures().join(dir));
    assert!(!files.is_empty(), "no fixtures in fixtures/{dir}");
    files
        .into_iter()
        .map(|p| {
            let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (rel_name(&p), data)
        })
        .collect()
}

/// A `Read` that hands out 1–7 bytes per call (a fixed, irregular pattern), so the streaming
/// reader meets every buffer boundary: inside tags, delimiters, `UNA`, `ISA`, release pairs, CRLF.
pub(crate) struct Trickle<'a> {
    data: &'a [u8],
    pos: usize,
    calls: usize,
}

impl<'a> Trickle<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Trickle {
            data,
            pos: 0,
            calls: 0,
        }
    }
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        const SIZES: [usize; 11] = [1, 7, 3, 5, 2, 6, 4, 1, 1, 7, 2];
        let n = SIZES[self.calls % SIZES.len()]
            .min(buf.len())
            .min(self.data.len() - self.pos);
        self.calls += 1;
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Bytes that print as escaped text in assertion messages.
#[derive(PartialEq)]
struct Bytes(Vec<u8>);

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

/// What is compared between the in-memory parser and the streaming reader.
#[derive(Debug, PartialEq)]
struct Snapshot {
    number: usize,
    offset: u64,
    standard: Standard,
    delimiters: Delimiters,
    bytes: Bytes,
    segments: Vec<(String, u64, Bytes)>,
    messages: usize,
    groups: usize,
    control_number: String,
    issues: Vec<EnvelopeIssue>,
}

fn snapshot(ic: &Interchange<'_>) -> Snapshot {
    Snapshot {
        number: ic.number(),
        offset: ic.offset(),
        standard: ic.standard(),
        delimiters: *ic.delimiters(),
        bytes: Bytes(ic.to_bytes()),
        segments: ic
            .segments()
            .iter()
            .map(|s| (s.tag().to_string(), s.offset(), Bytes(s.raw().to_vec())))
            .collect(),
        messages: ic.messages().len(),
        groups: ic.groups().len(),
        control_number: ic.control_number(),
        issues: ic.issues().to_vec(),
    }
}

type Outcome = Vec<Result<Snapshot, ParseError>>;

fn in_memory(data: &[u8], parser: Parser) -> Outcome {
    parser
        .interchanges(data)
        .map(|r| r.map(|ic| snapshot(&ic)))
        .collect()
}

fn streamed(data: &[u8], parser: Parser) -> Outcome {
    let mut reader = Reader::with_parser(Trickle::new(data), parser);
    let mut out = Vec::new();
    while let Some(r) = reader.next_interchange() {
        out.push(r.map(|ic| snapshot(&ic)));
        assert!(out.len() <= 64, "the reader does not stop");
    }
    out
}

/// The reader's iterator of detached interchanges, each parsed again from its own bytes.
fn streamed_owned(data: &[u8], parser: Parser) -> Outcome {
    let mut out = Vec::new();
    for r in Reader::with_parser(Trickle::new(data), parser) {
        out.push(r.and_then(|owned| {
            let ic = owned.parse()?;
            let snap = snapshot(&ic);
            assert_eq!(owned.bytes(), &snap.bytes.0[..], "OwnedInterchange::bytes");
            assert_eq!(owned.offset(), snap.offset, "OwnedInterchange::offset");
            assert_eq!(owned.number(), snap.number, "OwnedInterchange::number");
            Ok(snap)
        }));
        assert!(out.len() <= 64, "the reader does not stop");
    }
    out
}

/// Parses strictly, checks the byte-exact round trip and that the streaming reader (both of its
/// APIs, fed 1–7 bytes per read) sees exactly the same interchanges.
fn parse_all(data: &[u8]) -> Vec<Interchange<'_>> {
    let ics = edi::parse(data).unwrap_or_else(|e| panic!("strict parse failed: {e}"));
    let mut out = Vec::new();
    for ic in &ics {
        out.extend(ic.to_bytes());
    }
    assert!(
        out == data,
        "round trip differs: {} bytes in, {} bytes out",
        data.len(),
        out.len()
    );
    let memory = in_memory(data, Parser::new());
    assert_eq!(
        streamed(data, Parser::new()),
        memory,
        "Reader::next_interchange"
    );
    assert_eq!(
        streamed_owned(data, Parser::new()),
        memory,
        "Reader as Iterator"
    );
    ics
}

/// The one interchange of a single-interchange fixture.
fn single(data: &[u8]) -> Interchange<'_> {
    let mut ics = parse_all(data);
    assert_eq!(ics.len(), 1, "expected exactly one interchange");
    ics.remove(0)
}

/// The segment at 1-based position `n` of the interchange.
fn seg<'i, 'a>(ic: &'i Interchange<'a>, n: usize) -> &'i Segment<'a> {
    &ic.segments()[n - 1]
}

/// Every value of an element: repetitions of components, unescaped, as text (lossy).
fn element(s: &Segment<'_>, n: usize) -> Vec<Vec<String>> {
    let e = s
        .element(n)
        .unwrap_or_else(|| panic!("{} has no element {n}", s.tag()));
    e.repetitions()
        .map(|r| {
            r.components()
                .map(|c| String::from_utf8_lossy(&c.value()).into_owned())
                .collect()
        })
        .collect()
}

fn value(s: &Segment<'_>, n: usize, c: usize) -> String {
    String::from_utf8_lossy(&s.value(n, c)).into_owned()
}

fn tags(ic: &Interchange<'_>) -> Vec<String> {
    ic.segments().iter().map(|s| s.tag().to_string()).collect()
}

fn d(
    element: u8,
    component: u8,
    repetition: Option<u8>,
    segment: u8,
    release: Option<u8>,
    decimal: u8,
) -> Delimiters {
    Delimiters::new(element, component, repetition, segment, release, decimal)
        .unwrap_or_else(|e| panic!("test delimiters: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Every valid fixture
// ---------------------------------------------------------------------------------------------

fn valid_fixtures() -> Vec<(String, Vec<u8>)> {
    let mut v = fixture_files("x12");
    v.extend(fixture_files("edifact"));
    v
}

#[test]
fn every_valid_fixture_parses_strictly_and_round_trips_byte_for_byte() {
    let mut failures = Vec::new();
    for (name, data) in valid_fixtures() {
        match edi::parse(&data) {
            Ok(ics) => {
                let mut out = Vec::new();
                for ic in &ics {
                    out.extend(ic.to_bytes());
                    if !ic.issues().is_empty() {
                        failures.push(format!("{name}: issues after a strict parse"));
                    }
                }
                if out != data {
                    failures.push(format!(
                        "{name}: round trip differs ({} bytes in, {} out; lost {:?})",
                        data.len(),
                        out.len(),
                        String::from_utf8_lossy(data.get(out.len()..).unwrap_or_default())
                    ));
                }
                // The lenient parser sees the same interchanges and records nothing.
                let lenient = in_memory(&data, Parser::new().lenient(true));
                if lenient != in_memory(&data, Parser::new()) {
                    failures.push(format!("{name}: lenient and strict parses differ"));
                }
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_streaming_reader_agrees_with_the_parser_on_every_fixture() {
    let mut failures = Vec::new();
    for (name, data) in valid_fixtures() {
        let memory = in_memory(&data, Parser::new());
        if streamed(&data, Parser::new()) != memory {
            failures.push(format!("{name}: Reader::next_interchange differs"));
        }
        if streamed_owned(&data, Parser::new()) != memory {
            failures.push(format!("{name}: Reader's OwnedInterchange differs"));
        }
        // Every fixed read size from 1 to 8 bytes too.
        for chunk in 1..=8 {
            let mut reader = Reader::new(Chunked {
                data: &data,
                pos: 0,
                chunk,
            });
            let mut got = Vec::new();
            while let Some(r) = reader.next_interchange() {
                got.push(r.map(|ic| snapshot(&ic)));
                if got.len() > memory.len() {
                    break;
                }
            }
            if got != memory {
                let why = got
                    .iter()
                    .find_map(|r| r.as_ref().err().map(ToString::to_string))
                    .unwrap_or_else(|| "other interchanges".into());
                failures.push(format!("{name}: {chunk}-byte reads: {why}"));
            }
        }
        // A reader that gets the whole input in one read agrees too.
        let mut whole = Reader::new(&data[..]);
        let mut n = 0;
        while let Some(r) = whole.next_interchange() {
            match (r, memory.get(n)) {
                (Ok(ic), Some(Ok(m))) if snapshot(&ic) == *m => {}
                _ => failures.push(format!("{name}: whole-buffer reader differs at {n}")),
            }
            n += 1;
        }
        if n != memory.len() {
            failures.push(format!("{name}: whole-buffer reader gave {n} interchanges"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn tokenize_yields_the_segments_the_parser_found_in_every_fixture() {
    let mut failures = Vec::new();
    for (name, data) in valid_fixtures() {
        let Ok(ics) = edi::parse(&data) else {
            failures.push(format!("{name}: does not parse"));
            continue;
        };
        let expected: Vec<(String, u64, &[u8])> = ics
            .iter()
            .flat_map(|ic| ic.segments().iter())
            .map(|s| (s.tag().to_string(), s.offset(), s.content()))
            .collect();
        let mut got = Vec::new();
        for t in edi::tokenize(&data) {
            match t {
                Ok(s) => got.push((s.tag().to_string(), s.offset(), s.content())),
                Err(e) => {
                    failures.push(format!(
                        "{name}: tokenize failed after {} segments: {e}",
                        got.len()
                    ));
                    break;
                }
            }
        }
        if got.len() == expected.len() && got != expected {
            failures.push(format!("{name}: tokenize found other segments"));
        } else if got.len() != expected.len() {
            failures.push(format!(
                "{name}: tokenize gave {} segments, the parser {}",
                got.len(),
                expected.len()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_readme_lists_every_fixture_and_no_missing_one() {
    let readme = String::from_utf8(read("README.md")).expect("README.md is UTF-8");
    let mut missing = Vec::new();
    for dir in ["x12", "edifact", "malformed", "fuzz-regressions"] {
        for p in files_in(&fixtures().join(dir)) {
            let name = rel_name(&p);
            if !readme.contains(&format!("`{name}`")) {
                missing.push(name);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not listed in fixtures/README.md: {missing:?}"
    );
    // Every `dir/file` the README names exists.
    for word in readme.split('`') {
        if word.contains('/')
            && !word.contains(' ')
            && !word.ends_with('/')
            && ["x12/", "edifact/", "malformed/", "fuzz-regressions/"]
                .iter()
                .any(|d| word.starts_with(d))
        {
            assert!(
                fixtures().join(word).is_file(),
                "README names {word}, which does not exist"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// X12
// ---------------------------------------------------------------------------------------------

#[test]
fn x12_default_delimiters() {
    let data = read("x12/default_delimiters.x12");
    let ic = single(&data);
    assert_eq!(ic.standard(), Standard::X12);
    assert_eq!(*ic.delimiters(), Delimiters::X12_DEFAULT);
    assert_eq!(ic.delimiters().release(), None);
    assert_eq!(ic.sender().id, "SENDERID");
    assert_eq!(ic.sender().qualifier, "ZZ");
    assert_eq!(ic.receiver().id, "RECEIVERID");
    assert_eq!(ic.control_number(), "000000101");
    assert_eq!(ic.date(), "240315");
    assert_eq!(ic.time(), "1422");
    assert_eq!(ic.version(), "00501");
    assert!(!ic.acknowledgement_requested());
    assert!(!ic.is_test());
    assert_eq!(
        tags(&ic),
        [
            "ISA", "GS", "ST", "BEG", "REF", "PO1", "CTT", "SE", "GE", "IEA"
        ]
    );
    // ISA11 and ISA16 hold the delimiters themselves.
    assert_eq!(ic.header().element(11).map(|e| e.raw()), Some(&b"^"[..]));
    assert_eq!(ic.header().element(16).map(|e| e.raw()), Some(&b">"[..]));
    assert_eq!(ic.header().element_count(), 16);
    let g = ic.groups().next().expect("a group");
    assert_eq!(g.functional_id(), "PO");
    assert_eq!(g.control_number(), "101");
    assert_eq!(g.version(), "005010");
    let m = ic.messages().next().expect("a message");
    assert_eq!(m.message_type(), "850");
    assert_eq!(m.control_number(), "0001");
    assert_eq!(m.version(), "005010", "ST03 absent: the group's GS08");
    assert_eq!(m.segments().len(), 6);
    assert_eq!(m.body().len(), 4);
    assert_eq!(m.position(), 3);
    let beg = seg(&ic, 4);
    assert_eq!(beg.element_count(), 5);
    assert_eq!(value(beg, 3, 1), "PO-4711");
    assert!(beg.element(4).is_some_and(|e| e.is_empty()));
    let r = seg(&ic, 5);
    assert_eq!(r.offset(), 199);
    assert_eq!(element(r, 4), [["ZZ", "DEPT 38", "X1"]]);
    assert!(r.element(4).is_some_and(|e| e.is_composite()));
    assert!(!r.element(2).is_some_and(|e| e.is_composite()));
    assert_eq!(seg(&ic, 6).element_count(), 9);
    assert_eq!(value(seg(&ic, 6), 4, 1), "9.25");
    let iea = ic.trailer().expect("IEA");
    assert_eq!(iea.offset(), 289);
    assert_eq!(iea.raw(), b"IEA*1*000000101~");
    assert_eq!(m.trailer().map(|s| value(s, 1, 1)), Some("6".into()));
}

#[test]
fn x12_repetition_separator_caret_with_empty_repetitions() {
    let data = read("x12/repetition_caret.x12");
    let ic = single(&data);
    assert_eq!(
        *ic.delimiters(),
        d(b'*', b':', Some(b'^'), b'~', None, b'.')
    );
    let hi = seg(&ic, 6);
    assert_eq!(hi.tag(), "HI");
    assert_eq!(hi.offset(), 263);
    assert_eq!(
        element(hi, 1),
        [
            vec!["ABK", "J449"],
            vec!["ABF", "R05"],
            vec![""],
            vec!["ABF", "M545"]
        ]
    );
    // Offsets of repetitions point into the input.
    let reps: Vec<u64> = hi
        .element(1)
        .expect("HI01")
        .repetitions()
        .map(|r| r.offset())
        .collect();
    assert_eq!(reps, [266, 275, 283, 284]);
    let hi2 = seg(&ic, 7);
    assert_eq!(
        element(hi2, 1),
        [vec!["BK", "4019"], vec![""], vec!["BF", "2724"], vec![""]]
    );
    let sv1 = seg(&ic, 8);
    assert_eq!(element(sv1, 1), [["HC", "99213", "25"]]);
    assert_eq!(element(sv1, 7), [["1", "2"]]);
    assert_eq!(sv1.element_count(), 7);
    let m = ic.messages().next().expect("message");
    assert_eq!(m.version(), "005010X222A1", "ST03");
}

#[test]
fn x12_isa11_u_means_no_repetition_separator() {
    let data = read("x12/repetition_none_u.x12");
    let ic = single(&data);
    assert_eq!(ic.delimiters().repetition(), None);
    assert_eq!(&*ic.header().value(11, 1), b"U");
    assert_eq!(ic.version(), "00401");
    let n1 = seg(&ic, 5);
    assert_eq!(element(n1, 2), [["SMITH ^ JONES"]]);
    assert_eq!(element(n1, 4), [["A^B"]]);
}

#[test]
fn x12_pipe_element_separator_with_star_as_data() {
    let data = read("x12/pipe_elements.x12");
    let ic = single(&data);
    assert_eq!(
        *ic.delimiters(),
        d(b'|', b'>', Some(b'^'), b'~', None, b'.')
    );
    assert_eq!(ic.sender().id, "SENDERID");
    let n1 = seg(&ic, 5);
    assert_eq!(n1.tag(), "N1");
    assert_eq!(n1.element_count(), 4);
    assert_eq!(element(n1, 2), [["A*STAR*NAME"]]);
    assert_eq!(element(n1, 4), [vec!["X"], vec!["Y"]]);
    assert_eq!(element(seg(&ic, 6), 5), [["BOLT", "M8", "ZINC"]]);
}

#[test]
fn x12_component_separator_colon_versus_greater_than() {
    let colon_data = read("x12/component_colon.x12");
    let colon = single(&colon_data);
    assert_eq!(colon.delimiters().component(), b':');
    assert_eq!(element(seg(&colon, 4), 1), [["HC", "99213", "25"]]);
    assert_eq!(element(seg(&colon, 5), 1), [["A>B IS DATA"]]);

    let gt_data = read("x12/component_gt.x12");
    let gt = single(&gt_data);
    assert_eq!(gt.delimiters().component(), b'>');
    assert_eq!(element(seg(&gt, 4), 1), [["HC", "99213", "25"]]);
    assert_eq!(element(seg(&gt, 5), 1), [["AT 12:30 SHARP"]]);
}

#[test]
fn x12_tilde_followed_by_crlf() {
    let data = read("x12/crlf_after_terminator.x12");
    let ic = single(&data);
    assert_eq!(ic.delimiters().segment(), b'~');
    assert_eq!(ic.header().raw().len(), 108, "ISA keeps its CRLF");
    assert!(ic.header().raw().ends_with(b"~\r\n"));
    assert_eq!(seg(&ic, 2).offset(), 108);
    assert_eq!(value(seg(&ic, 4), 3, 1), "PO-CRLF");
    assert_eq!(
        ic.trailer().map(Segment::raw),
        Some(&b"IEA*1*000000107~\r\n"[..])
    );
}

#[test]
fn x12_line_feed_as_terminator_with_tilde_as_data() {
    let data = read("x12/lf_terminator.x12");
    let ic = single(&data);
    assert_eq!(ic.delimiters().segment(), b'\n');
    let msg = seg(&ic, 5);
    assert_eq!(msg.tag(), "MSG");
    assert_eq!(msg.offset(), 187);
    assert_eq!(element(msg, 1), [["TILDE ~ IS DATA"]]);
    assert_eq!(msg.content(), b"MSG*TILDE ~ IS DATA");
    assert_eq!(ic.control_number(), "000000108");
}

#[test]
fn x12_carriage_return_as_terminator() {
    let data = read("x12/cr_terminator.x12");
    let ic = single(&data);
    assert_eq!(ic.delimiters().segment(), b'\r');
    assert_eq!(tags(&ic), ["ISA", "GS", "ST", "BEG", "SE", "GE", "IEA"]);
    assert_eq!(value(seg(&ic, 4), 3, 1), "PO-CR");
    assert_eq!(seg(&ic, 3).offset(), 159);
}

#[test]
fn x12_tilde_followed_by_bare_cr() {
    let data = read("x12/tilde_bare_cr.x12");
    let ic = single(&data);
    assert_eq!(ic.delimiters().segment(), b'~');
    assert_eq!(seg(&ic, 2).offset(), 107);
    assert!(seg(&ic, 2).raw().ends_with(b"~\r"));
    assert_eq!(value(seg(&ic, 4), 3, 1), "PO-TILDE-CR");
}

#[test]
fn x12_wrapped_at_80_columns_even_inside_isa() {
    let data = read("x12/wrapped_80col.x12");
    let ic = single(&data);
    assert_eq!(*ic.delimiters(), Delimiters::X12_DEFAULT);
    // ISA09 / ISA10 are split by the CRLF at column 80 ("142\r\n2").
    assert_eq!(ic.time(), "1422");
    assert_eq!(ic.date(), "240315");
    assert_eq!(ic.control_number(), "000000111");
    assert_eq!(
        tags(&ic),
        [
            "ISA", "GS", "ST", "BEG", "N1", "N3", "PO1", "PID", "CTT", "SE", "GE", "IEA"
        ]
    );
    // "S\r\nT*850": the tag itself is wrapped.
    assert_eq!(seg(&ic, 3).tag(), "ST");
    assert_eq!(seg(&ic, 3).offset(), 161);
    let n1 = seg(&ic, 5);
    assert_eq!(n1.offset(), 224);
    assert_eq!(element(n1, 2), [["GENERAL WIDGET DISTRIBUTION CENTER"]]);
    assert_eq!(
        n1.element(2).map(|e| e.raw().to_vec()),
        Some(b"GENERAL WIDGET\r\n DISTRIBUTION CENTER".to_vec()),
        "raw keeps the wrapping"
    );
    assert_eq!(element(seg(&ic, 6), 2), [["BUILDING 7 DOCK 12"]]);
    assert_eq!(
        value(seg(&ic, 8), 5, 1),
        "FASTENER, HEX BOLT M8 X 40, ZINC PLATED, BOX OF 144"
    );
    assert_eq!(ic.trailer().map(Segment::offset), Some(466));
    let m = ic.messages().next().expect("message");
    assert_eq!(m.control_number(), "0001");
    assert_eq!(m.segments().len(), 8);
}

#[test]
fn x12_blanks_and_tabs_between_segments() {
    let data = read("x12/blanks_and_tabs.x12");
    let ic = single(&data);
    assert_eq!(seg(&ic, 1).raw().len(), 111, "ISA + '   \\n\\n'");
    assert_eq!(seg(&ic, 3).offset(), 168);
    assert_eq!(seg(&ic, 3).tag(), "ST");
    // Trailing blanks inside a segment are data; after the terminator they are layout.
    assert_eq!(element(seg(&ic, 5), 2), [["038   "]]);
    assert_eq!(seg(&ic, 5).raw(), b"REF*DP*038   ~ \t\n\t");
    let iea = ic.trailer().expect("IEA");
    assert_eq!(iea.offset(), 255);
    assert_eq!(iea.raw(), b"IEA*1*000000112~  \n\n  \t");
}

#[test]
fn x12_utf8_bom_and_decoding() {
    let data = read("x12/bom_utf8.x12");
    let ic = single(&data);
    assert_eq!(ic.offset(), 0, "the interchange starts at the BOM");
    assert_eq!(ic.header().offset(), 3);
    assert_eq!(ic.charset(), Charset::Auto);
    let n1 = seg(&ic, 5);
    assert_eq!(n1.text(2, 1, ic.charset()), "MÜLLER GMBH");
    let bt = seg(&ic, 6);
    assert_eq!(bt.offset(), 222);
    // Not UTF-8: X12's fallback is Windows-1252.
    assert_eq!(&*bt.value(2, 1), b"CAF\xC9 ROYAL");
    assert_eq!(bt.text(2, 1, ic.charset()), "CAFÉ ROYAL");
    assert_eq!(
        bt.element(2).map(|e| e.text(Charset::Auto).into_owned()),
        Some("CAFÉ ROYAL".to_string())
    );
}

#[test]
fn x12_multiple_interchanges_each_with_its_own_delimiters() {
    let data = read("x12/multiple_interchanges.x12");
    let ics = parse_all(&data);
    assert_eq!(ics.len(), 3);
    let [a, b, c] = [&ics[0], &ics[1], &ics[2]];
    assert_eq!((a.number(), b.number(), c.number()), (1, 2, 3));
    assert_eq!((a.offset(), b.offset()), (0, 231));
    // The blank line between the second and third may belong to either: they stay contiguous.
    assert_eq!(b.offset() + b.to_bytes().len() as u64, c.offset());
    assert!(c.offset() == 457 || c.offset() == 458);
    assert_eq!(*a.delimiters(), Delimiters::X12_DEFAULT);
    assert_eq!(*b.delimiters(), d(b'|', b':', None, b'\n', None, b'.'));
    assert_eq!(*c.delimiters(), d(0x1D, 0x1F, Some(0x1E), 0x1C, None, b'.'));
    assert_eq!(
        [a, b, c].map(|i| i.control_number()),
        ["000000201", "000000202", "000000203"]
    );
    assert_eq!(b.version(), "00401");
    assert_eq!(c.header().offset(), 458, "after the blank line");
    for (ic, po) in [(a, "PO-FIRST"), (b, "PO-SECOND"), (c, "PO-THIRD")] {
        let m = ic.messages().next().expect("message");
        assert_eq!(m.first_value("BEG", 3, 1).as_deref(), Some(po.as_bytes()));
        assert_eq!(ic.groups().len(), 1);
    }
}

#[test]
fn x12_multiple_groups() {
    let data = read("x12/multiple_groups.x12");
    let ic = single(&data);
    let groups: Vec<_> = ic.groups().collect();
    assert_eq!(groups.len(), 3);
    assert_eq!(
        groups.iter().map(|g| g.functional_id()).collect::<Vec<_>>(),
        ["PO", "IN", "FA"]
    );
    assert_eq!(
        groups
            .iter()
            .map(|g| g.control_number())
            .collect::<Vec<_>>(),
        ["301", "302", "303"]
    );
    assert_eq!(
        groups
            .iter()
            .map(|g| g.messages().len())
            .collect::<Vec<_>>(),
        [2, 1, 0]
    );
    assert_eq!(
        groups
            .iter()
            .map(|g| g.trailer().map(|t| value(t, 1, 1)))
            .collect::<Vec<_>>(),
        [Some("2".into()), Some("1".into()), Some("0".into())]
    );
    assert_eq!(groups[1].header().offset(), 250);
    let controls: Vec<String> = ic.messages().map(|m| m.control_number()).collect();
    assert_eq!(controls, ["0001", "0002", "0003"]);
    let m3 = ic.messages().nth(2).expect("third message");
    assert_eq!(m3.message_type(), "810");
    assert_eq!(m3.group().map(|g| g.index()), Some(1));
    assert_eq!(m3.header().offset(), 304);
    assert_eq!(ic.service_segments().count(), 0);
}

#[test]
fn x12_ta1_directly_inside_the_interchange() {
    let data = read("x12/ta1.x12");
    let ics = parse_all(&data);
    assert_eq!(ics.len(), 2);
    let a = &ics[0];
    assert_eq!(a.messages().len(), 0);
    assert_eq!(a.groups().len(), 0);
    let ta1: Vec<_> = a.service_segments().collect();
    assert_eq!(ta1.len(), 1);
    assert_eq!(ta1[0].tag(), "TA1");
    assert_eq!(ta1[0].offset(), 106);
    assert_eq!(value(ta1[0], 1, 1), "000000555");
    assert_eq!(value(ta1[0], 4, 1), "A");
    assert_eq!(a.trailer().map(|t| value(t, 1, 1)), Some("0".into()));

    let b = &ics[1];
    assert_eq!(b.offset(), 156);
    let ta1: Vec<_> = b.service_segments().collect();
    assert_eq!(ta1.len(), 1);
    assert_eq!(ta1[0].offset(), 262);
    assert_eq!(value(ta1[0], 5, 1), "022");
    assert_eq!(b.messages().len(), 1);
    let m = b.messages().next().expect("999");
    assert_eq!(m.message_type(), "999");
    assert_eq!(m.first_value("AK9", 1, 1).as_deref(), Some(&b"A"[..]));
}

#[test]
fn x12_binary_segments_keep_terminators_and_newlines_in_their_data() {
    let data = read("x12/binary_bin.x12");
    let ic = single(&data);
    assert_eq!(
        tags(&ic),
        ["ISA", "GS", "ST", "BGN", "BIN", "BDS", "SE", "GE", "IEA"]
    );
    let bin = seg(&ic, 5);
    assert_eq!(bin.offset(), 210);
    assert!(bin.is_binary());
    assert_eq!(value(bin, 1, 1), "27");
    let payload = bin.element(2).expect("BIN02");
    assert!(payload.is_binary());
    assert_eq!(payload.offset(), 217);
    assert_eq!(&*payload.value(), b"line one~\nline*two\r\n~~end^>");
    // Binary data is never split into components or repetitions.
    assert_eq!(payload.components().count(), 1);
    assert_eq!(payload.repetitions().count(), 1);
    assert_eq!(bin.element_count(), 2);
    let bds = seg(&ic, 6);
    assert_eq!(bds.offset(), 246);
    assert!(bds.is_binary());
    assert_eq!(value(bds, 1, 1), "B64");
    assert_eq!(value(bds, 2, 1), "9");
    assert_eq!(
        bds.element(3).map(|e| e.value().into_owned()),
        Some(b"QUJD~REVG".to_vec())
    );
    assert_eq!(seg(&ic, 7).offset(), 267);
    let m = ic.messages().next().expect("275");
    assert_eq!(m.body().len(), 3);
    assert!(!seg(&ic, 4).is_binary());
}

#[test]
fn x12_final_iea_without_terminator() {
    for (file, ctrl) in [
        ("x12/no_final_terminator.x12", "000000601"),
        ("x12/no_final_terminator_lf.x12", "000000602"),
    ] {
        let data = read(file);
        let ic = single(&data);
        let iea = ic.trailer().unwrap_or_else(|| panic!("{file}: IEA"));
        assert_eq!(iea.tag(), "IEA");
        assert!(!iea.raw().contains(&b'~'), "{file}");
        assert_eq!(value(iea, 2, 1), ctrl, "{file}");
        assert_eq!(iea.offset(), data.len() as u64 - iea.raw().len() as u64);
        assert_eq!(value(iea, 1, 1), "1");
    }
}

/// A file of LF-terminated segments that ends with a blank line: the blank line must survive
/// the round trip like the blanks after a `~` do. (Fails while the parser drops the line.)
#[test]
fn x12_line_feed_terminated_file_with_a_trailing_blank_line() {
    let data = read("x12/lf_terminator_trailing_blank_line.x12");
    assert!(data.ends_with(b"IEA*1*000000114\n\n"));
    let ic = single(&data);
    assert_eq!(ic.delimiters().segment(), b'\n');
    assert_eq!(ic.control_number(), "000000114");
}

// ---------------------------------------------------------------------------------------------
// EDIFACT
// ---------------------------------------------------------------------------------------------

#[test]
fn edifact_without_una_uses_the_defaults() {
    let data = read("edifact/no_una_default.edi");
    let ic = single(&data);
    assert_eq!(ic.standard(), Standard::Edifact);
    assert_eq!(*ic.delimiters(), Delimiters::EDIFACT_DEFAULT);
    assert_eq!(ic.service_advice(), None);
    assert_eq!(ic.syntax_identifier(), "UNOA");
    assert_eq!(ic.version(), "3");
    assert_eq!(ic.sender().id, "5412345000013");
    assert_eq!(ic.sender().qualifier, "14");
    assert_eq!(ic.receiver().id, "4012345000009");
    assert_eq!(ic.date(), "240315");
    assert_eq!(ic.time(), "1422");
    assert_eq!(ic.control_number(), "IC0001");
    assert_eq!(ic.charset(), Charset::from_syntax_identifier(b"UNOA"));
    let m = ic.messages().next().expect("message");
    assert_eq!(m.message_type(), "ORDERS");
    assert_eq!(m.version(), "D:96A:UN:EAN008");
    assert_eq!(m.control_number(), "1");
    assert_eq!(m.segments().len(), 8);
    let nad = seg(&ic, 5);
    assert_eq!(element(nad, 2), [["5412345000013", "", "9"]]);
    let lin = seg(&ic, 6);
    assert!(lin.element(2).is_some_and(|e| e.is_empty()));
    assert_eq!(element(lin, 3), [["4000862141404", "SRS"]]);
    assert_eq!(ic.trailer().map(Segment::offset), Some(205));
    assert_eq!(ic.groups().len(), 0);
}

#[test]
fn edifact_una_with_equals_star_hash_tilde() {
    let data = read("edifact/una_eq_star_hash.edi");
    let ic = single(&data);
    assert_eq!(ic.service_advice(), Some(&b"UNA=*.?#~"[..]));
    assert_eq!(
        *ic.delimiters(),
        d(b'*', b'=', Some(b'#'), b'~', Some(b'?'), b'.')
    );
    assert_eq!(ic.header().offset(), 9);
    assert_eq!(ic.sender().id, "SENDER");
    assert_eq!(ic.sender().qualifier, "ZZ");
    assert_eq!(ic.version(), "4");
    assert_eq!(element(seg(&ic, 3), 2), [["PO*STAR=EQ"]]);
    assert_eq!(element(seg(&ic, 4), 4), [["A#B~C?D"]]);
    let nad = seg(&ic, 5);
    assert_eq!(nad.offset(), 129);
    assert_eq!(
        element(nad, 2),
        [vec!["ONE"], vec!["TWO", "2"], vec![""], vec!["FOUR"]]
    );
    assert_eq!(
        ic.messages().next().map(|m| m.version()),
        Some("D:01B:UN".into())
    );
}

#[test]
fn edifact_una_caret_star_dollar() {
    let data = read("edifact/una_caret_star_dollar.edi");
    let ic = single(&data);
    assert_eq!(ic.service_advice(), Some(&b"UNA^*.? $\n"[..]));
    assert_eq!(
        *ic.delimiters(),
        d(b'*', b'^', None, b'$', Some(b'?'), b'.')
    );
    assert_eq!(ic.header().offset(), 10);
    assert_eq!(element(seg(&ic, 3), 2), [["INV$9"]]);
    assert_eq!(element(seg(&ic, 4), 1), [["203", "1234.56"]]);
    assert_eq!(element(seg(&ic, 5), 4), [["COST ^ TAX * 2 # 3 ? 4"]]);
    assert_eq!(
        ic.messages().next().map(|m| m.message_type()),
        Some("INVOIC".into())
    );
}

#[test]
fn edifact_una_space_in_the_repetition_position_overrides_version_4() {
    let data = read("edifact/una_space_repetition_v4.edi");
    let ic = single(&data);
    assert_eq!(ic.version(), "4");
    assert_eq!(ic.delimiters().repetition(), None);
    assert_eq!(*ic.delimiters(), Delimiters::EDIFACT_DEFAULT);
    assert_eq!(element(seg(&ic, 3), 4), [["5 * 3 = 15", "A*B"]]);
}

#[test]
fn edifact_version_4_without_una_repeats_with_star() {
    let data = read("edifact/v4_no_una.edi");
    let ic = single(&data);
    assert_eq!(*ic.delimiters(), Delimiters::EDIFACT_V4_DEFAULT);
    assert_eq!(ic.service_advice(), None);
    let nad = seg(&ic, 3);
    assert_eq!(
        element(nad, 2),
        [vec!["ID1", "ZZ"], vec!["ID2", "ZZ"], vec![""], vec!["ID4"]]
    );
    assert_eq!(element(seg(&ic, 4), 4), [["STAR * IS DATA"]]);
    assert_eq!(seg(&ic, 4).offset(), 105);
}

#[test]
fn edifact_release_character_escapes() {
    let data = read("edifact/release_escapes.edi");
    let ic = single(&data);
    let ftx = seg(&ic, 3);
    assert_eq!(
        element(ftx, 4),
        [["PLUS + COLON : APOS ' QUEST ?", "STAR *"]]
    );
    assert_eq!(ftx.element_count(), 4);
    // "??" right before a separator: the release releases itself, the separator separates.
    let ftx2 = seg(&ic, 4);
    assert_eq!(ftx2.element_count(), 5);
    assert_eq!(element(ftx2, 4), [["ENDS?", "NEXT?"]]);
    assert_eq!(element(ftx2, 5), [["LAST?"]]);
    let rff = seg(&ic, 5);
    assert_eq!(rff.offset(), 151);
    assert_eq!(element(rff, 1), [["ON", "+:'?"]]);
    assert_eq!(
        rff.element(1).map(|e| e.raw().to_vec()),
        Some(b"ON:?+?:?'??".to_vec())
    );
    assert!(matches!(rff.value(1, 2), Cow::Owned(_)));
    assert!(matches!(rff.value(1, 1), Cow::Borrowed(_)));
}

#[test]
fn edifact_decimal_comma() {
    let data = read("edifact/decimal_comma.edi");
    let ic = single(&data);
    assert_eq!(ic.delimiters().decimal(), b',');
    assert_eq!(
        *ic.delimiters(),
        d(b'+', b':', None, b'\'', Some(b'?'), b',')
    );
    assert_eq!(element(seg(&ic, 3), 1), [["203", "1234,56"]]);
    assert_eq!(element(seg(&ic, 4), 1), [["47", "10,5", "KGM"]]);
}

#[test]
fn edifact_ung_une_groups() {
    let data = read("edifact/groups_ung.edi");
    let ic = single(&data);
    let groups: Vec<_> = ic.groups().collect();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].functional_id(), "ORDERS");
    assert_eq!(groups[0].control_number(), "GRP1");
    assert_eq!(groups[0].sender().id, "SENDAPP");
    assert_eq!(groups[0].sender().qualifier, "ZZ");
    assert_eq!(groups[0].receiver().id, "RECVAPP");
    assert_eq!(groups[0].time(), "1422");
    assert_eq!(groups[0].version(), "D:96A");
    assert_eq!(groups[0].messages().len(), 2);
    assert_eq!(groups[1].control_number(), "GRP2");
    assert_eq!(groups[1].header().offset(), 215);
    assert_eq!(groups[1].version(), "D:01B");
    assert_eq!(groups[1].messages().len(), 1);
    assert_eq!(
        groups[1].trailer().map(|t| value(t, 2, 1)),
        Some("GRP2".into())
    );
    let types: Vec<String> = ic.messages().map(|m| m.message_type()).collect();
    assert_eq!(types, ["ORDERS", "ORDERS", "INVOIC"]);
    assert_eq!(ic.trailer().map(|t| value(t, 1, 1)), Some("2".into()));
}

#[test]
fn edifact_multiple_messages() {
    let data = read("edifact/multiple_messages.edi");
    let ic = single(&data);
    let ms: Vec<_> = ic.messages().collect();
    assert_eq!(ms.len(), 3);
    assert_eq!(
        ms.iter().map(|m| m.control_number()).collect::<Vec<_>>(),
        ["M1", "M2", "M3"]
    );
    assert_eq!(
        ms.iter().map(|m| m.message_type()).collect::<Vec<_>>(),
        ["ORDERS", "ORDRSP", "DESADV"]
    );
    assert_eq!(
        ms.iter().map(|m| m.segments().len()).collect::<Vec<_>>(),
        [3, 4, 3]
    );
    assert_eq!(ms[1].header().offset(), 93);
    assert!(ms.iter().all(|m| m.group().is_none()));
    assert_eq!(
        ms[1].first_value("DTM", 1, 2).as_deref(),
        Some(&b"20240315"[..])
    );
}

#[test]
fn edifact_multiple_interchanges_with_different_unas() {
    let data = read("edifact/multiple_interchanges.edi");
    let ics = parse_all(&data);
    assert_eq!(ics.len(), 3);
    let (a, b, c) = (&ics[0], &ics[1], &ics[2]);
    assert_eq!((a.offset(), b.offset(), c.offset()), (0, 114, 238));
    assert_eq!(*a.delimiters(), Delimiters::EDIFACT_DEFAULT);
    assert_eq!(a.service_advice(), Some(&b"UNA:+.? '"[..]));
    assert_eq!(
        *b.delimiters(),
        d(b'|', b'/', Some(b'\\'), b'%', Some(b'!'), b',')
    );
    assert_eq!(b.service_advice(), Some(&b"UNA/|,!\\%\n"[..]));
    assert_eq!(*c.delimiters(), Delimiters::EDIFACT_V4_DEFAULT);
    assert_eq!(c.service_advice(), None);
    assert_eq!(
        [a, b, c].map(|i| i.control_number()),
        ["IC0010", "IC0011", "IC0012"]
    );
    assert_eq!(value(seg(a, 3), 2, 1), "A+B");
    assert_eq!(value(seg(b, 3), 2, 1), "A|B%?+C");
    assert_eq!(b.header().offset(), 124);
    assert_eq!(b.syntax_identifier(), "UNOB");
    assert_eq!(element(seg(c, 3), 2), [["X"], ["Y"]]);
}

#[test]
fn edifact_unoc_latin1_is_decoded_to_utf8() {
    let data = read("edifact/latin1_unoc.edi");
    assert!(
        std::str::from_utf8(&data).is_err(),
        "the fixture is Latin-1"
    );
    let ic = single(&data);
    let cs = ic.charset();
    assert_eq!(cs, Charset::from_syntax_identifier(b"UNOC"));
    let nad = seg(&ic, 3);
    assert_eq!(nad.offset(), 68);
    assert_eq!(&*nad.value(4, 1), b"M\xFCller & S\xF6hne GmbH");
    assert_eq!(nad.text(4, 1, cs), "Müller & Söhne GmbH");
    assert_eq!(nad.text(5, 1, cs), "Straße 5");
    assert_eq!(nad.text(6, 1, cs), "Köln");
    assert_eq!(seg(&ic, 4).text(4, 1, cs), "Café crème ½ ©");
}

#[test]
fn edifact_crlf_layout() {
    let data = read("edifact/crlf_layout.edi");
    let ic = single(&data);
    assert_eq!(ic.service_advice(), Some(&b"UNA:+.? '\r\n"[..]));
    assert_eq!(ic.header().offset(), 11);
    assert!(ic.segments().iter().all(|s| s.raw().ends_with(b"'\r\n")));
    assert_eq!(value(seg(&ic, 3), 2, 1), "PO-CRLF");
}

#[test]
fn edifact_wrapped_at_80_columns() {
    let data = read("edifact/wrapped_80col.edi");
    let ic = single(&data);
    assert_eq!(*ic.delimiters(), Delimiters::EDIFACT_DEFAULT);
    // UNB07 is wrapped ("ORDE\nRS").
    assert_eq!(value(ic.header(), 7, 1), "ORDERS");
    assert_eq!(ic.control_number(), "IC0015");
    let nad = seg(&ic, 4);
    assert_eq!(element(nad, 2), [["5412345000013", "", "9"]]);
    assert_eq!(element(nad, 6), [["SPRINGFIELD"]]);
    let ftx = seg(&ic, 5);
    assert_eq!(ftx.offset(), 247);
    assert_eq!(
        element(ftx, 4),
        [["DELIVER TO DOCK 12 BETWEEN 08:00 AND 16:00, PLEASE CALL AHEAD"]]
    );
    // "UN\nT+5+1": a wrapped tag.
    assert_eq!(seg(&ic, 6).tag(), "UNT");
    assert_eq!(value(seg(&ic, 6), 1, 1), "5");
}

/// A line break (80-column wrapping) that falls between the release character and the `+` it
/// releases. `unescape` skips wrapping after a release character, so the tokenizer and the
/// element splitter must too: the value is `ONE + TWO`, one element. (Fails while they don't.)
#[test]
fn edifact_wrapping_between_release_character_and_released_separator() {
    let data = read("edifact/wrapped_release_split.edi");
    let ic = single(&data);
    let ftx = seg(&ic, 3);
    assert_eq!(ftx.element_count(), 4, "FTX has four elements");
    assert_eq!(element(ftx, 4), [["ONE + TWO"]]);
}

#[test]
fn edifact_una_without_release_character() {
    let data = read("edifact/una_no_release.edi");
    let ic = single(&data);
    assert_eq!(
        *ic.delimiters(),
        d(b'+', b':', Some(b'*'), b'\'', None, b'.')
    );
    assert_eq!(element(seg(&ic, 3), 4), [["WHY? BECAUSE"], ["SO"]]);
    assert_eq!(element(seg(&ic, 4), 2), [["A"], ["B"], ["C"]]);
}

// ---------------------------------------------------------------------------------------------
// Malformed
// ---------------------------------------------------------------------------------------------

fn strict_error(data: &[u8]) -> ParseError {
    match edi::parse(data) {
        Ok(ics) => panic!("expected an error, parsed {} interchanges", ics.len()),
        Err(e) => e,
    }
}

/// The strict error, checked against the streaming reader's (same kind, same offset).
fn error_of(file: &str) -> (Vec<u8>, ParseError) {
    let data = read(file);
    let e = strict_error(&data);
    let stream = streamed(&data, Parser::new());
    let Some(Err(se)) = stream.last() else {
        panic!("{file}: the reader found no error: {stream:?}");
    };
    assert_eq!(
        discriminant(&se.kind),
        discriminant(&e.kind),
        "{file}: reader {se} vs parser {e}"
    );
    assert_eq!(
        se.location.offset, e.location.offset,
        "{file}: reader offset"
    );
    (data, e)
}

fn location(e: &ParseError) -> (usize, Option<usize>, Option<&str>, u64) {
    (
        e.location.interchange,
        e.location.segment,
        e.location.tag.as_deref(),
        e.location.offset,
    )
}

fn lenient_issues(data: &[u8]) -> Vec<Vec<(EnvelopeIssueKind, usize, String, u64)>> {
    Parser::new()
        .lenient(true)
        .interchanges(data)
        .map(|r| {
            let ic = r.unwrap_or_else(|e| panic!("lenient parse failed: {e}"));
            ic.issues()
                .iter()
                .map(|i| (i.kind.clone(), i.segment, i.tag.clone(), i.offset))
                .collect()
        })
        .collect()
}

#[test]
fn malformed_empty_and_blank_inputs() {
    for file in ["malformed/empty.edi", "malformed/whitespace_only.txt"] {
        let (data, e) = error_of(file);
        assert_eq!(e.kind, ErrorKind::Empty, "{file}");
        assert_eq!(location(&e), (0, None, None, 0), "{file}");
        let lenient: Vec<_> = Parser::new().lenient(true).interchanges(&data).collect();
        assert!(matches!(&lenient[..], [Err(e)] if e.kind == ErrorKind::Empty));
    }
    assert!(edi::tokenize(b"").next().is_none());
}

#[test]
fn malformed_garbage_and_binary() {
    let (_, e) = error_of("malformed/garbage.txt");
    let ErrorKind::NotAnInterchange { found } = &e.kind else {
        panic!("garbage: {e}");
    };
    assert!(found.contains("Dear"), "{found}");
    assert_eq!(location(&e), (1, None, None, 0));

    let (_, e) = error_of("malformed/binary.bin");
    let ErrorKind::NotAnInterchange { found } = &e.kind else {
        panic!("binary: {e}");
    };
    assert!(found.contains("\\x89PNG"), "{found}");
    assert_eq!(e.location.offset, 0);
}

#[test]
fn malformed_truncated_mid_segment() {
    let (data, e) = error_of("malformed/truncated_mid_segment.x12");
    let ErrorKind::Unterminated { terminator } = &e.kind else {
        panic!("{e}");
    };
    assert!(terminator.contains('~'), "{terminator}");
    assert_eq!(location(&e), (1, Some(5), Some("REF"), 189));
    assert_eq!(&data[189..], b"REF*DP*03");

    let (data, e) = error_of("malformed/truncated_mid_segment.edi");
    assert!(matches!(e.kind, ErrorKind::Unterminated { .. }), "{e}");
    // The last byte is a released apostrophe: no terminator at all.
    assert_eq!(location(&e), (1, Some(3), Some("BGM"), 74));
    assert_eq!(&data[74..], b"BGM+220+PO?'");

    let (_, e) = error_of("malformed/unterminated_unb.edi");
    assert!(matches!(e.kind, ErrorKind::Unterminated { .. }), "{e}");
    assert_eq!((e.location.interchange, e.location.offset), (1, 0));
}

#[test]
fn malformed_isa_headers() {
    for (file, needle) in [
        ("malformed/truncated_isa.x12", "ends before"),
        ("malformed/isa_alnum_separator.x12", "element separator"),
        (
            "malformed/isa_clashing_delimiters.x12",
            "element and component",
        ),
        // Thirteen elements, then GS: the header's delimiters are unreadable.
        ("malformed/short_isa.x12", "letter or digit"),
    ] {
        let (data, e) = error_of(file);
        let ErrorKind::BadIsa(msg) = &e.kind else {
            panic!("{file}: {e}");
        };
        assert!(msg.contains(needle), "{file}: {msg}");
        assert_eq!(location(&e), (1, None, None, 0), "{file}");
        // The lenient parser cannot recover a header either.
        let lenient = Parser::new().lenient(true).parse(&data);
        assert!(
            matches!(&lenient, Err(e) if matches!(e.kind, ErrorKind::BadIsa(_))),
            "{file}"
        );
    }
}

#[test]
fn malformed_missing_interchange_trailers() {
    let (data, e) = error_of("malformed/missing_iea.x12");
    assert_eq!(
        e.kind,
        ErrorKind::MissingInterchangeTrailer { trailer: "IEA" }
    );
    assert_eq!(location(&e), (1, Some(1), Some("ISA"), 0));
    assert_eq!(
        lenient_issues(&data),
        [vec![(
            EnvelopeIssueKind::MissingInterchangeTrailer,
            1,
            "ISA".into(),
            0
        )]]
    );
    let lenient = Parser::new().lenient(true).parse(&data).expect("lenient");
    assert!(lenient[0].trailer().is_none());
    assert_eq!(lenient[0].messages().len(), 1);
    assert_eq!(lenient[0].to_bytes(), data);

    let (data, e) = error_of("malformed/missing_unz.edi");
    assert_eq!(
        e.kind,
        ErrorKind::MissingInterchangeTrailer { trailer: "UNZ" }
    );
    assert_eq!(location(&e), (1, Some(1), Some("UNB"), 0));
    assert_eq!(
        lenient_issues(&data),
        [vec![(
            EnvelopeIssueKind::MissingInterchangeTrailer,
            1,
            "UNB".into(),
            0
        )]]
    );

    // A second ISA before the first one's IEA: the first interchange ends there.
    let (data, e) = error_of("malformed/missing_iea_before_next_isa.x12");
    assert_eq!(
        e.kind,
        ErrorKind::MissingInterchangeTrailer { trailer: "IEA" }
    );
    assert_eq!(location(&e), (1, Some(1), Some("ISA"), 0));
    assert_eq!(
        lenient_issues(&data),
        [
            vec![(
                EnvelopeIssueKind::MissingInterchangeTrailer,
                1,
                "ISA".into(),
                0
            )],
            vec![]
        ]
    );
    let lenient = Parser::new().lenient(true).parse(&data).expect("lenient");
    assert_eq!(lenient[1].offset(), 194);
    assert_eq!(lenient[1].control_number(), "000000902");
    assert_eq!(
        lenient
            .iter()
            .flat_map(|ic| ic.to_bytes())
            .collect::<Vec<_>>(),
        data
    );
    assert_eq!(
        streamed(&data, Parser::new().lenient(true)),
        in_memory(&data, Parser::new().lenient(true))
    );
}

/// One envelope defect: the strict parser's error (its text names `needle`, at `at`), and the
/// lenient parser's single issue for it.
fn envelope_case(
    file: &str,
    needle: &str,
    at: (usize, Option<usize>, Option<&str>, u64),
    issue: (EnvelopeIssueKind, usize, &str, u64),
) -> Vec<u8> {
    let (data, e) = error_of(file);
    assert!(
        matches!(&e.kind, ErrorKind::Envelope(m) if m.contains(needle)),
        "{file}: {e}"
    );
    assert_eq!(location(&e), at, "{file}");
    assert_eq!(
        lenient_issues(&data),
        [vec![(issue.0, issue.1, issue.2.to_string(), issue.3)]],
        "{file}"
    );
    data
}

#[test]
fn malformed_missing_group_and_message_trailers() {
    envelope_case(
        "malformed/missing_ge.x12",
        "GE",
        (1, Some(5), Some("IEA"), 184),
        (EnvelopeIssueKind::MissingGroupTrailer, 5, "IEA", 184),
    );

    let data = envelope_case(
        "malformed/missing_se.x12",
        "SE",
        (1, Some(5), Some("GE"), 189),
        (EnvelopeIssueKind::MissingMessageTrailer, 5, "GE", 189),
    );
    let ic = Parser::new().lenient(true).parse(&data).expect("lenient");
    let m = ic[0].messages().next().expect("the open message");
    assert!(m.trailer().is_none());
    assert_eq!(m.segments().len(), 2, "ST and BEG");
    assert_eq!(
        ic[0]
            .groups()
            .next()
            .and_then(|g| g.trailer())
            .map(Segment::offset),
        Some(189)
    );

    envelope_case(
        "malformed/missing_unt.edi",
        "UNT",
        (1, Some(4), Some("UNH"), 80),
        (EnvelopeIssueKind::MissingMessageTrailer, 4, "UNH", 80),
    );

    envelope_case(
        "malformed/missing_une.edi",
        "UNE",
        (1, Some(5), Some("UNZ"), 112),
        (EnvelopeIssueKind::MissingGroupTrailer, 5, "UNZ", 112),
    );
}

#[test]
fn malformed_segments_where_the_envelope_allows_none() {
    let data = envelope_case(
        "malformed/segment_outside_message.x12",
        "REF",
        (1, Some(3), Some("REF"), 160),
        (EnvelopeIssueKind::OutsideMessage, 3, "REF", 160),
    );
    let ic = Parser::new().lenient(true).parse(&data).expect("lenient");
    let loose: Vec<String> = ic[0]
        .service_segments()
        .map(|s| s.tag().to_string())
        .collect();
    assert_eq!(loose, ["REF"]);

    envelope_case(
        "malformed/segment_outside_message.edi",
        "FTX",
        (1, Some(2), Some("FTX"), 43),
        (EnvelopeIssueKind::OutsideMessage, 2, "FTX", 43),
    );

    envelope_case(
        "malformed/st_outside_group.x12",
        "GS",
        (1, Some(2), Some("ST"), 106),
        (EnvelopeIssueKind::MessageOutsideGroup, 2, "ST", 106),
    );

    envelope_case(
        "malformed/unexpected_trailer.x12",
        "SE",
        (1, Some(5), Some("SE"), 184),
        (EnvelopeIssueKind::UnexpectedTrailer, 5, "SE", 184),
    );

    let (data, e) = error_of("malformed/mixed_groups.edi");
    assert!(matches!(e.kind, ErrorKind::Envelope(_)), "{e}");
    assert_eq!(location(&e), (1, Some(4), Some("UNG"), 73));
    assert_eq!(
        lenient_issues(&data),
        [vec![(EnvelopeIssueKind::MixedGroups, 4, "UNG".into(), 73)]]
    );
}

#[test]
fn malformed_trailing_garbage_after_the_trailer() {
    for (file, offset, excerpt) in [
        ("malformed/trailing_garbage.x12", 212, "--"),
        ("malformed/trailing_garbage.edi", 84, "This"),
    ] {
        let data = read(file);
        let e = strict_error(&data);
        let ErrorKind::TrailingData { found } = &e.kind else {
            panic!("{file}: {e}");
        };
        assert!(found.contains(excerpt), "{file}: {found}");
        assert_eq!(location(&e), (2, None, None, offset), "{file}");
        // The interchange before the garbage is still handed out, whole.
        let all: Vec<_> = Parser::new().interchanges(&data).collect();
        assert_eq!(all.len(), 2, "{file}");
        let first = all[0].as_ref().expect("the good interchange");
        assert_eq!(first.to_bytes(), &data[..offset as usize], "{file}");
        // The reader hands it out too, then fails at the same place.
        let stream = streamed(&data, Parser::new());
        assert_eq!(stream.len(), 2, "{file}");
        assert!(stream[0].is_ok(), "{file}");
        let Err(se) = &stream[1] else {
            panic!("{file}: reader found no error");
        };
        assert!(
            matches!(se.kind, ErrorKind::TrailingData { .. }),
            "{file}: {se}"
        );
        assert_eq!(se.location.offset, offset, "{file}");
    }
}

#[test]
fn malformed_bad_tags() {
    let (data, e) = error_of("malformed/bad_tag.x12");
    let ErrorKind::BadTag { found } = &e.kind else {
        panic!("{e}");
    };
    assert!(found.contains("BEGIN"), "{found}");
    assert_eq!(location(&e), (1, Some(4), None, 173));
    assert!(data[173..].starts_with(b"BEGIN*"));

    let (_, e) = error_of("malformed/bad_tag.edi");
    let ErrorKind::BadTag { found } = &e.kind else {
        panic!("{e}");
    };
    assert!(found.contains("B?M"), "{found}");
    assert_eq!(location(&e), (1, Some(3), None, 65));
}

#[test]
fn malformed_binary_segment_length() {
    let (data, e) = error_of("malformed/bin_bad_length.x12");
    let ErrorKind::BadBinary { tag, reason } = &e.kind else {
        panic!("{e}");
    };
    assert_eq!(tag, "BIN");
    assert!(reason.contains("40"), "{reason}");
    assert_eq!(
        (
            e.location.interchange,
            e.location.segment,
            e.location.offset
        ),
        (1, Some(4), 173)
    );
    assert!(data[173..].starts_with(b"BIN*40*"));
}

#[test]
fn malformed_una() {
    let (_, e) = error_of("malformed/una_clashing.edi");
    let ErrorKind::BadServiceSegment(msg) = &e.kind else {
        panic!("{e}");
    };
    assert!(msg.contains("element and component"), "{msg}");
    assert_eq!(location(&e), (1, None, None, 0));

    let (_, e) = error_of("malformed/una_without_unb.edi");
    let ErrorKind::BadServiceSegment(msg) = &e.kind else {
        panic!("{e}");
    };
    assert!(msg.contains("UNB") && msg.contains("UNH"), "{msg}");
    assert_eq!(location(&e), (1, None, None, 9));
}

#[test]
fn every_malformed_fixture_fails_without_panic_in_every_api() {
    for (name, data) in fixture_files("malformed") {
        assert!(edi::parse(&data).is_err(), "{name}: strict parse succeeded");
        let _ = Parser::new().lenient(true).parse(&data);
        for t in edi::tokenize(&data) {
            let _ = t.map(|s| s.elements().map(|e| e.value().len()).sum::<usize>());
        }
        let stream = streamed(&data, Parser::new());
        assert!(
            stream.iter().any(Result::is_err),
            "{name}: the reader found no error"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Fuzz regressions
// ---------------------------------------------------------------------------------------------

/// A `Read` that hands out exactly `chunk` bytes per call.
struct Chunked<'a> {
    data: &'a [u8],
    pos: usize,
    chunk: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.chunk.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Inputs the fuzzers once crashed on (`fixtures/fuzz-regressions/`): every API must answer them
/// without panicking (the streaming reader with every read size from 1 to 16 bytes, strict and
/// lenient), and whatever parses must write back byte for byte.
#[test]
fn fuzz_regressions_parse_without_panic() {
    let dir = fixtures().join("fuzz-regressions");
    let files = files_in(&dir);
    assert!(files.len() >= 2, "the regression inputs are missing");
    for path in files {
        let name = rel_name(&path);
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        for lenient in [false, true] {
            let parser = Parser::new().lenient(lenient);
            for ic in parser.interchanges(&data).flatten() {
                for m in ic.messages() {
                    assert!(m.segments().len() > m.body().len(), "{name}");
                    let _ = (m.message_type(), m.version(), m.trailer());
                }
                for s in ic.segments() {
                    for e in s.elements() {
                        for r in e.repetitions() {
                            for c in r.components() {
                                let _ = c.text(ic.charset());
                            }
                        }
                    }
                }
            }
            if let Ok(ics) = parser.parse(&data) {
                let out: Vec<u8> = ics.iter().flat_map(|ic| ic.to_bytes()).collect();
                assert_eq!(out, data, "{name}: round trip");
            }
            let memory = in_memory(&data, parser);
            for chunk in 1..=16 {
                let mut reader = Reader::with_parser(
                    Chunked {
                        data: &data,
                        pos: 0,
                        chunk,
                    },
                    parser,
                );
                let mut n = 0;
                while let Some(r) = reader.next_interchange() {
                    let _ = r.map(|ic| ic.to_bytes());
                    n += 1;
                    assert!(n <= memory.len() + 1, "{name}: the reader does not stop");
                }
                let owned = Reader::with_parser(
                    Chunked {
                        data: &data,
                        pos: 0,
                        chunk,
                    },
                    parser,
                );
                for r in owned.take(memory.len() + 1) {
                    let _ = r.map(|o| o.parse().map(|ic| ic.to_bytes()));
                }
            }
        }
        for t in edi::tokenize(&data) {
            let _ = t.map(|s| s.elements().count());
        }
    }
}

/// The input ends inside a message (no SE, GE, IEA): the lenient parser keeps the open message
/// with every segment up to the end of the input.
#[test]
fn malformed_input_ending_inside_a_message() {
    let (data, e) = error_of("malformed/eof_inside_message.x12");
    assert!(
        matches!(&e.kind, ErrorKind::Envelope(m) if m.contains("SE")),
        "{e}"
    );
    let issues: Vec<EnvelopeIssueKind> = lenient_issues(&data)
        .concat()
        .into_iter()
        .map(|i| i.0)
        .collect();
    assert_eq!(
        issues,
        [
            EnvelopeIssueKind::MissingMessageTrailer,
            EnvelopeIssueKind::MissingGroupTrailer,
            EnvelopeIssueKind::MissingInterchangeTrailer
        ]
    );
    let ics = Parser::new().lenient(true).parse(&data).expect("lenient");
    assert_eq!(ics[0].to_bytes(), data);
    let m = ics[0].messages().next().expect("the open message");
    let tags: Vec<String> = m.segments().iter().map(|s| s.tag().to_string()).collect();
    assert_eq!(
        tags,
        ["ST", "BEG"],
        "the message runs to the end of the input"
    );
    assert_eq!(m.body().len(), 1);
    let g = ics[0].groups().next().expect("the open group");
    assert_eq!(g.messages().len(), 1);
}

/// An interchange without IEA followed by a broken ISA: the lenient parser hands out the first
/// interchange and then fails on the second header; the streaming reader must do the same.
/// (Fails while the reader reports only the error.)
#[test]
fn malformed_missing_iea_then_broken_isa() {
    let data = read("malformed/missing_iea_then_broken_isa.x12");
    let lenient = Parser::new().lenient(true);
    let memory = in_memory(&data, lenient);
    assert_eq!(memory.len(), 2);
    let first = memory[0].as_ref().expect("the first interchange");
    assert_eq!((first.offset, first.bytes.0.len()), (0, 194));
    assert_eq!(
        first
            .issues
            .iter()
            .map(|i| i.kind.clone())
            .collect::<Vec<_>>(),
        [EnvelopeIssueKind::MissingInterchangeTrailer]
    );
    let Err(e) = &memory[1] else {
        panic!("the broken header parsed");
    };
    assert!(matches!(e.kind, ErrorKind::BadIsa(_)), "{e}");
    assert_eq!((e.location.interchange, e.location.offset), (2, 194));
    let stream = streamed(&data, lenient);
    assert_eq!(stream.len(), 2, "reader: {stream:?}");
    assert_eq!(stream[0].as_ref().ok(), Some(first));
}

#[test]
fn edifact_after_an_x12_interchange_in_one_file() {
    let data = read("edifact/after_x12_interchange.edi");
    let ics = parse_all(&data);
    assert_eq!(ics.len(), 2);
    assert_eq!(ics[0].standard(), Standard::X12);
    assert_eq!(ics[0].control_number(), "000000701");
    assert_eq!(ics[1].standard(), Standard::Edifact);
    assert_eq!(ics[1].offset(), 225);
    assert_eq!(*ics[1].delimiters(), Delimiters::EDIFACT_DEFAULT);
    assert_eq!(ics[1].control_number(), "IC0018");
    let m = ics[1].messages().next().expect("ORDRSP");
    assert_eq!(m.message_type(), "ORDRSP");
    assert_eq!(
        m.first_value("BGM", 2, 1).as_deref(),
        Some(&b"PO-MIXED"[..])
    );
}

/// ISA16, then CRLF, then the `~` terminator (a header wrapped just before its last byte). The
/// parser reads `~` as the terminator; so must the streaming reader, whatever its read sizes.
/// (Fails while a read that ends right after the line break makes the reader take CR for the
/// terminator.)
#[test]
fn x12_line_break_between_isa16_and_the_terminator() {
    let data = read("x12/isa16_line_break_before_terminator.x12");
    let ic = single(&data);
    assert_eq!(*ic.delimiters(), Delimiters::X12_DEFAULT);
    assert_eq!(ic.header().raw().len(), 108);
    assert_eq!(seg(&ic, 2).offset(), 108);
    for chunk in 1..=16 {
        let mut reader = Reader::new(Chunked {
            data: &data,
            pos: 0,
            chunk,
        });
        let got = reader.next_interchange().map(|r| r.map(|ic| snapshot(&ic)));
        match got {
            Some(Ok(s)) => assert_eq!(s, snapshot(&ic), "{chunk}-byte reads"),
            Some(Err(e)) => panic!("{chunk}-byte reads: {e}"),
            None => panic!("{chunk}-byte reads: nothing"),
        }
    }
}
