//! What the fuzz targets check, shared by all of them.
//!
//! On any input: no panic in the strict and lenient parsers, `tokenize`, the value accessors or
//! the streaming reader; every offset points at the bytes it claims to; whatever parses writes
//! back byte for byte; the streaming reader, fed a few bytes per read, agrees with the in-memory
//! parser; and writing a parsed segment's values and parsing them again is stable.

use std::io::Read;

use edi::writer::{DocumentWriter, InterchangeHeader, SegmentBuf};
use edi::{Delimiters, Interchange, ParseError, Parser, Reader, Segment, Standard};

/// X12 delimiter sets the shaping header can declare: element, component, ISA11, terminator.
const X12_SETS: [(u8, u8, u8, u8); 6] = [
    (b'*', b'>', b'^', b'~'),
    (b'*', b':', b'U', b'~'),
    (b'|', b':', b'^', b'\n'),
    (0x1D, 0x1F, 0x1E, 0x1C),
    (b'*', b'>', b'^', b'\r'),
    (b'!', b'\\', b'{', b'}'),
];

/// A UNA (or none), the element, component and terminator the UNB is written with, its version.
type EdifactHead = (&'static [u8], u8, u8, u8, &'static [u8]);

/// EDIFACT heads the shaping can put in front.
const EDIFACT_HEADS: [EdifactHead; 6] = [
    (b"", b'+', b':', b'\'', b"3"),
    (b"", b'+', b':', b'\'', b"4"),
    (b"UNA:+.? '", b'+', b':', b'\'', b"3"),
    (b"UNA=*.?#~", b'*', b'=', b'~', b"4"),
    (b"UNA^*,? $\n", b'*', b'^', b'$', b"4"),
    (b"UNA/|,!\\%", b'|', b'/', b'%', b"2"),
];

/// Puts a valid ISA header in front of `data` unless it already starts with one.
pub fn shape_x12(data: &[u8]) -> Vec<u8> {
    if data.starts_with(b"ISA") || data.is_empty() {
        return data.to_vec();
    }
    let (e, c, r, t) = X12_SETS[usize::from(data[0]) % X12_SETS.len()];
    let fields: [&[u8]; 16] = [
        b"00",
        b"          ",
        b"00",
        b"          ",
        b"ZZ",
        b"SENDER         ",
        b"ZZ",
        b"RECEIVER       ",
        b"240101",
        b"1200",
        &[r],
        b"00501",
        b"000000001",
        b"0",
        b"P",
        &[c],
    ];
    let mut out = b"ISA".to_vec();
    for f in fields {
        out.push(e);
        out.extend_from_slice(f);
    }
    out.push(t);
    out.extend_from_slice(&data[1..]);
    out
}

/// Puts a UNA (sometimes) and a UNB in front of `data` unless it already starts with one.
pub fn shape_edifact(data: &[u8]) -> Vec<u8> {
    if data.starts_with(b"UNA") || data.starts_with(b"UNB") || data.is_empty() {
        return data.to_vec();
    }
    let (una, e, c, t, version) = EDIFACT_HEADS[usize::from(data[0]) % EDIFACT_HEADS.len()];
    let mut out = una.to_vec();
    out.extend_from_slice(b"UNB");
    out.push(e);
    out.extend_from_slice(b"UNOC");
    out.push(c);
    out.extend_from_slice(version);
    for part in [&b"SENDER"[..], b"RECEIVER"] {
        out.push(e);
        out.extend_from_slice(part);
    }
    out.push(e);
    out.extend_from_slice(b"240101");
    out.push(c);
    out.extend_from_slice(b"1200");
    out.push(e);
    out.extend_from_slice(b"1");
    out.push(t);
    out.extend_from_slice(&data[1..]);
    out
}

/// Every check on one input; `knob` picks the reader's read size and strictness.
pub fn exercise(data: &[u8], knob: u8) {
    match edi::parse(data) {
        Ok(ics) => {
            let mut out = Vec::new();
            for ic in &ics {
                walk(data, ic);
                out.extend(ic.to_bytes());
            }
            assert_round_trip(data, &out);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    for r in Parser::new().lenient(true).interchanges(data) {
        match r {
            Ok(ic) => {
                walk(data, &ic);
                let bytes = ic.to_bytes();
                let at = usize::try_from(ic.offset()).expect("offset fits");
                assert!(
                    data.get(at..).is_some_and(|rest| rest.starts_with(&bytes)),
                    "lenient interchange {} is not the input at its offset {at}",
                    ic.number()
                );
                for issue in ic.issues() {
                    let _ = issue.describe(ic.standard());
                }
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
    for t in edi::tokenize(data) {
        match t {
            Ok(s) => walk_segment(data, &s),
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
    check_reader(data, knob);
}

fn assert_round_trip(data: &[u8], out: &[u8]) {
    assert!(
        out == data,
        "round trip differs: {} bytes in, {} out",
        data.len(),
        out.len()
    );
}

fn walk(data: &[u8], ic: &Interchange<'_>) {
    let _ = (
        ic.sender(),
        ic.receiver(),
        ic.control_number(),
        ic.date(),
        ic.time(),
        ic.version(),
        ic.syntax_identifier(),
        ic.acknowledgement_requested(),
        ic.is_test(),
        ic.service_advice(),
        ic.trailer().map(Segment::offset),
    );
    for s in ic.segments() {
        walk_segment(data, s);
    }
    for s in ic.service_segments() {
        let _ = s.tag();
    }
    for g in ic.groups() {
        let _ = (
            g.functional_id(),
            g.control_number(),
            g.sender(),
            g.receiver(),
            g.date(),
            g.time(),
            g.version(),
            g.trailer().map(Segment::offset),
        );
        for m in g.messages() {
            assert_eq!(m.group().map(|x| x.index()), Some(g.index()));
        }
    }
    for m in ic.messages() {
        let _ = (
            m.message_type(),
            m.control_number(),
            m.version(),
            m.position(),
            m.trailer().map(Segment::offset),
            m.first_value("NAD", 1, 1),
        );
        assert!(m.segments().len() > m.body().len());
    }
    rewrite_segments(ic);
}

fn walk_segment(data: &[u8], s: &Segment<'_>) {
    let at = |offset: u64| usize::try_from(offset).expect("offset fits");
    let seg_at = at(s.offset());
    assert!(
        data.get(seg_at..).is_some_and(|r| r.starts_with(s.raw())),
        "segment {} is not the input at its offset {seg_at}",
        s.tag()
    );
    assert!(s.raw().starts_with(s.content()));
    let seg_end = seg_at + s.raw().len();
    let _ = (s.element_count(), s.is_binary(), s.value(1, 1));
    for e in s.elements() {
        let check = |x: &edi::Element<'_>| {
            let x_at = at(x.offset());
            assert!(
                x_at >= seg_at && x_at + x.raw().len() <= seg_end,
                "{}: an element lies outside its segment",
                s.tag()
            );
            assert_eq!(
                &data[x_at..x_at + x.raw().len()],
                x.raw(),
                "{}: element offset",
                s.tag()
            );
            let v = x.value();
            assert!(v.len() <= x.raw().len(), "unescaping made a value longer");
            let _ = x.text(edi::Charset::Auto);
        };
        check(&e);
        let _ = e.is_composite();
        for r in e.repetitions() {
            check(&r);
            for c in r.components() {
                check(&c);
            }
        }
    }
}

/// Writes each message segment's values with the interchange's delimiters inside a fresh
/// interchange, parses that, and writes it again: the two writes must be equal.
fn rewrite_segments(ic: &Interchange<'_>) {
    let d = *ic.delimiters();
    if !d.segment_tail().is_empty()
        || [d.element(), d.component(), d.segment()]
            .into_iter()
            .chain(d.repetition())
            .chain(d.release())
            .any(|b| b >= 0x80 || b.is_ascii_whitespace())
    {
        return;
    }
    // Only closed messages: `body()` of an open one can panic (a known defect, see `walk`).
    for m in ic.messages().filter(|m| m.trailer().is_some()) {
        for s in m.body().iter().take(8) {
            if s.is_binary() || is_envelope_tag(s) {
                continue;
            }
            let buf = SegmentBuf::from_segment(s);
            let Some(first) = write_one(ic.standard(), d, &buf) else {
                continue;
            };
            let reparsed = match edi::parse(&first) {
                Ok(v) => v,
                Err(e) => panic!(
                    "a written segment does not parse back: {e}\n{:?}",
                    String::from_utf8_lossy(&first)
                ),
            };
            let again = reparsed[0]
                .messages()
                .next()
                .and_then(|m| m.body().first().copied())
                .expect("the written segment");
            let second = write_one(ic.standard(), d, &SegmentBuf::from_segment(&again))
                .expect("writes again");
            assert_eq!(
                String::from_utf8_lossy(&first),
                String::from_utf8_lossy(&second),
                "write → parse → write is not stable"
            );
        }
    }
}

fn is_envelope_tag(s: &Segment<'_>) -> bool {
    let t = s.tag();
    [
        "ISA", "IEA", "GS", "GE", "ST", "SE", "TA1", "ISB", "ISE", "TA3", "BIN", "BDS",
    ]
    .iter()
    .chain(["UNA", "UNB", "UNZ", "UNG", "UNE", "UNH", "UNT"].iter())
    .any(|x| t == *x)
}

fn write_one(standard: Standard, d: Delimiters, seg: &SegmentBuf) -> Option<Vec<u8>> {
    let header = InterchangeHeader {
        sender: ("S".into(), "ZZ".into()),
        receiver: ("R".into(), "ZZ".into()),
        date: "240101".into(),
        time: "1200".into(),
        control_number: "1".into(),
        version: match standard {
            Standard::X12 => "00501".into(),
            Standard::Edifact => "UNOC:3".into(),
        },
        ack_requested: false,
        test: false,
    };
    let mut w = DocumentWriter::new(standard, d).with_una(standard == Standard::Edifact);
    w.begin_interchange(&header).ok()?;
    if standard == Standard::X12 {
        w.begin_group(&["PO", "S", "R", "20240101", "1200", "1", "X", "005010"])
            .ok()?;
    }
    w.begin_message("ORDERS", "1", &["D", "96A", "UN"]).ok()?;
    // X12 cannot write a value that holds a delimiter: such a segment is skipped.
    w.segment(seg).ok()?;
    w.end_message().ok()?;
    if standard == Standard::X12 {
        w.end_group().ok()?;
    }
    w.end_interchange().ok()
}

/// A reader that hands out `chunk` bytes per call.
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

type Seen = Vec<Result<(u64, Vec<u8>), (std::mem::Discriminant<edi::ErrorKind>, u64)>>;

fn seen(
    r: Result<Interchange<'_>, ParseError>,
) -> Result<(u64, Vec<u8>), (std::mem::Discriminant<edi::ErrorKind>, u64)> {
    r.map(|ic| (ic.offset(), ic.to_bytes()))
        .map_err(|e| (std::mem::discriminant(&e.kind), e.location.offset))
}

/// The streaming reader agrees with the in-memory parser: the same interchanges at the same
/// offsets, and an error exactly when the parser has one.
pub fn check_reader(data: &[u8], mode: u8) {
    let chunk = 1 + usize::from(mode & 15);
    let lenient = mode & 16 != 0;
    let parser = Parser::new().lenient(lenient);
    let memory: Seen = parser.interchanges(data).map(seen).collect();
    let mut reader = Reader::with_parser(
        Chunked {
            data,
            pos: 0,
            chunk,
        },
        parser,
    );
    let mut stream: Seen = Vec::new();
    while let Some(r) = reader.next_interchange() {
        stream.push(seen(r));
        assert!(stream.len() <= data.len() + 2, "the reader does not stop");
    }
    // Detached interchanges are parsed later, so the reader goes on after one that fails to
    // parse; the in-memory iterator stops at the first error. Compare up to that error.
    let mut owned: Seen = Reader::with_parser(
        Chunked {
            data,
            pos: 0,
            chunk: chunk + 3,
        },
        parser,
    )
    .take(data.len() + 2)
    .map(|r| r.and_then(|o| o.parse().map(|ic| (ic.offset(), ic.to_bytes()))))
    .map(|r| r.map_err(|e| (std::mem::discriminant(&e.kind), e.location.offset)))
    .collect();
    if let Some(first_error) = owned.iter().position(Result::is_err) {
        owned.truncate(first_error + 1);
    }
    let oks = |v: &Seen| {
        v.iter()
            .filter_map(|r| r.as_ref().ok())
            .cloned()
            .collect::<Vec<_>>()
    };
    let failed = |v: &Seen| v.iter().any(Result::is_err);
    assert_eq!(oks(&stream), oks(&memory), "reader vs parser interchanges");
    assert_eq!(
        oks(&owned),
        oks(&memory),
        "owned reader vs parser interchanges"
    );
    assert_eq!(
        failed(&stream),
        failed(&memory),
        "reader vs parser: error or not"
    );
    assert_eq!(
        failed(&owned),
        failed(&memory),
        "owned reader vs parser: error or not"
    );
}
