//! Properties: random interchanges of both standards, written with random valid delimiter sets by
//! `edi::writer`, read back value for value (through the in-memory parser, the streaming reader
//! fed 1–7 bytes per read, and `tokenize`); parsed input writes back byte for byte; and no input
//! at all — random bytes, or mutations of the fixtures — makes any API panic.
//!
//! The runs are deterministic (a fixed seed; set `EDIGATE_PROPTEST_SEED` to explore others) and
//! take a few seconds in debug builds.

use std::io::Read;

use edi::writer::{DocumentWriter, ElementBuf, InterchangeHeader, SegmentBuf};
use edi::{Delimiters, Interchange, Parser, Reader, Standard};
use edigate_tests::{files_in, fixtures};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config(cases: u32) -> Config {
    let seed = std::env::var("EDIGATE_PROPTEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x0ED1_6A7E);
    Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    }
}

/// Bytes that may serve as delimiters: punctuation and the control characters real senders use.
const DELIMITER_BYTES: &[u8] = b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\x1c\x1d\x1e\x1f\x07";

/// Segment tags the generator must not produce: envelope and binary segments.
const RESERVED_TAGS: &[&str] = &[
    "ISA", "IEA", "GS", "GE", "ST", "SE", "TA1", "ISB", "ISE", "TA3", "BIN", "BDS", "UNA", "UNB",
    "UNZ", "UNG", "UNE", "UNH", "UNT",
];

/// A Read that hands out 1–7 bytes per call.
struct Trickle<'a> {
    data: &'a [u8],
    pos: usize,
    calls: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        const SIZES: [usize; 7] = [1, 7, 3, 5, 2, 6, 4];
        let n = SIZES[self.calls % SIZES.len()]
            .min(buf.len())
            .min(self.data.len() - self.pos);
        self.calls += 1;
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn trickle(data: &[u8]) -> Trickle<'_> {
    Trickle {
        data,
        pos: 0,
        calls: 0,
    }
}

// ---------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------

/// Element → repetitions → components → value.
type Values = Vec<Vec<Vec<Vec<u8>>>>;

#[derive(Clone, Debug)]
struct Seg {
    tag: String,
    elements: Values,
}

#[derive(Clone, Debug)]
struct Doc {
    standard: Standard,
    delimiters: Delimiters,
    control: String,
    /// Groups of messages of body segments; EDIFACT `grouped == false` writes no UNG/UNE.
    groups: Vec<Vec<Vec<Seg>>>,
    grouped: bool,
    line_ending: &'static str,
}

fn x12_delimiters() -> impl Strategy<Value = Delimiters> {
    (
        proptest::sample::subsequence(DELIMITER_BYTES.to_vec(), 4).prop_shuffle(),
        any::<bool>(),
        0u8..6,
    )
        .prop_map(|(bytes, repeat, term)| {
            let segment = match term {
                0 => b'\n',
                1 => b'\r',
                _ => bytes[3],
            };
            Delimiters::new(
                bytes[0],
                bytes[1],
                repeat.then_some(bytes[2]),
                segment,
                None,
                b'.',
            )
            .expect("distinct punctuation is a valid set")
        })
}

fn edifact_delimiters() -> impl Strategy<Value = Delimiters> {
    prop_oneof![
        1 => Just(Delimiters::EDIFACT_DEFAULT),
        6 => (
            proptest::sample::subsequence(DELIMITER_BYTES.to_vec(), 5).prop_shuffle(),
            any::<bool>(),
            prop::bool::weighted(0.85),
            prop::sample::select(vec![b'.', b',']),
        )
            .prop_map(|(b, repeat, release, decimal)| {
                Delimiters::new(
                    b[0],
                    b[1],
                    repeat.then_some(b[2]),
                    b[3],
                    release.then_some(b[4]),
                    decimal,
                )
                .expect("distinct punctuation is a valid set")
            }),
    ]
}

/// Values for `d`: with a release character, full of delimiters and release characters;
/// without one (X12), free of them. Never CR or LF, which are line wrapping when read.
fn value(d: Delimiters) -> impl Strategy<Value = Vec<u8>> {
    let mut specials: Vec<u8> = [d.element(), d.component(), d.segment()]
        .into_iter()
        .chain(d.repetition())
        .chain(d.release())
        .collect();
    specials.retain(|b| *b != b'\r' && *b != b'\n');
    let escapable = d.release().is_some();
    let byte = prop_oneof![
        4 => prop::sample::select(b"ABCXYZ0189 -.".to_vec()),
        2 => any::<u8>(),
        3 => prop::sample::select(if specials.is_empty() { vec![b'A'] } else { specials }),
    ];
    vec(byte, 0..7).prop_map(move |mut v| {
        v.retain(|b| *b != b'\r' && *b != b'\n' && (escapable || !d.is_special(*b)));
        v
    })
}

fn segment(d: Delimiters) -> impl Strategy<Value = Seg> {
    let max_reps = if d.repetition().is_some() { 3 } else { 1 };
    let tag = "[A-Z][A-Z0-9]{1,2}".prop_filter("not an envelope or binary tag", |t| {
        !RESERVED_TAGS.contains(&t.as_str())
    });
    let element = vec(vec(value(d), 1..4), 1..=max_reps);
    (tag, vec(element, 0..6)).prop_map(|(tag, elements)| Seg { tag, elements })
}

fn doc() -> impl Strategy<Value = Doc> {
    prop_oneof![
        x12_delimiters().prop_map(|d| (Standard::X12, d)),
        edifact_delimiters().prop_map(|d| (Standard::Edifact, d)),
    ]
    .prop_flat_map(|(standard, d)| {
        let message = vec(segment(d), 0..4);
        let group = vec(message, 1..3);
        let line_breaks = d.segment() != b'\n' && d.segment() != b'\r';
        (
            Just(standard),
            Just(d),
            "[0-9]{1,9}",
            vec(group, 1..3),
            any::<bool>(),
            if line_breaks {
                prop::sample::select(vec!["", "\n", "\r\n"]).boxed()
            } else {
                Just("").boxed()
            },
        )
    })
    .prop_map(
        |(standard, delimiters, control, groups, grouped, line_ending)| Doc {
            standard,
            delimiters,
            control,
            grouped: standard == Standard::X12 || grouped,
            groups,
            line_ending,
        },
    )
}

fn to_buf(s: &Seg) -> SegmentBuf {
    let mut b = SegmentBuf::new(&s.tag).expect("generated tags are valid");
    for e in &s.elements {
        b = b.push(ElementBuf::repeated(e.clone()));
    }
    b
}

/// What the writer's trimming leaves: no trailing empty elements, repetitions or components.
fn normalized(v: &Values) -> Values {
    let mut out: Values = v
        .iter()
        .map(|e| {
            let mut reps: Vec<Vec<Vec<u8>>> = e
                .iter()
                .map(|r| {
                    let mut comps = r.clone();
                    while comps.len() > 1 && comps.last().is_some_and(Vec::is_empty) {
                        comps.pop();
                    }
                    comps
                })
                .collect();
            while reps.len() > 1 && reps.last().is_some_and(|r| r.iter().all(Vec::is_empty)) {
                reps.pop();
            }
            reps
        })
        .collect();
    while out
        .last()
        .is_some_and(|e| e.iter().all(|r| r.iter().all(Vec::is_empty)))
    {
        out.pop();
    }
    out
}

fn parsed_values(s: &edi::Segment<'_>) -> Values {
    s.elements()
        .map(|e| {
            e.repetitions()
                .map(|r| r.components().map(|c| c.value().into_owned()).collect())
                .collect()
        })
        .collect()
}

fn write(doc: &Doc) -> Vec<u8> {
    let header = InterchangeHeader {
        sender: ("SENDER".into(), "ZZ".into()),
        receiver: ("RECEIVER".into(), "ZZ".into()),
        date: "240101".into(),
        time: "1200".into(),
        control_number: doc.control.clone(),
        version: match doc.standard {
            Standard::X12 => "00501".into(),
            Standard::Edifact => "UNOC:3".into(),
        },
        ack_requested: false,
        test: false,
    };
    let mut w = DocumentWriter::new(doc.standard, doc.delimiters).line_ending(doc.line_ending);
    w.begin_interchange(&header).expect("header");
    let mut n = 0;
    for (g, messages) in doc.groups.iter().enumerate() {
        let gc = (g + 1).to_string();
        if doc.grouped {
            match doc.standard {
                Standard::X12 => {
                    w.begin_group(&["PO", "S", "R", "20240101", "1200", &gc, "X", "005010"])
                }
                Standard::Edifact => w.begin_group(&["ORDERS", "S", "R", "240101", &gc, "UN", "D"]),
            }
            .expect("group");
        }
        for body in messages {
            n += 1;
            let (ty, id): (&str, &[&str]) = match doc.standard {
                Standard::X12 => ("850", &[]),
                Standard::Edifact => ("ORDERS", &["D", "96A", "UN"]),
            };
            w.begin_message(ty, &format!("M{n}"), id).expect("message");
            for s in body {
                w.segment(&to_buf(s))
                    .expect("generated values are writable");
            }
            w.end_message().expect("end message");
        }
        if doc.grouped {
            w.end_group().expect("end group");
        }
    }
    w.end_interchange().expect("end interchange")
}

/// The first bytes of a written interchange where a line break would not be layout: inside the
/// `ISA` tag and its element separator, inside the 9-byte `UNA`, inside the `UNB` tag.
fn protected_prefix(bytes: &[u8]) -> Vec<usize> {
    if bytes.starts_with(b"ISA") {
        return vec![1, 2, 3];
    }
    let mut v = Vec::new();
    let unb = if bytes.starts_with(b"UNA") {
        v.extend(1..=8);
        bytes.windows(3).position(|w| w == b"UNB").unwrap_or(9)
    } else {
        0
    };
    v.extend([unb + 1, unb + 2]);
    v
}

/// Inserts line breaks inside segments (wrapping) and blanks after terminators: the values must
/// not change. Line breaks only where CR and LF are not delimiters; never right after a release
/// character (`fixtures.rs` pins that case).
fn add_layout(bytes: &[u8], d: Delimiters, picks: &[(prop::sample::Index, u8)]) -> Vec<u8> {
    let wrap_ok = d.segment() != b'\n' && d.segment() != b'\r';
    let protected = protected_prefix(bytes);
    let mut inserts: Vec<(usize, &'static [u8])> = Vec::new();
    for (idx, kind) in picks {
        let at = idx.index(bytes.len() + 1);
        if protected.contains(&at) {
            continue;
        }
        // A terminator byte right after an odd run of release characters is data.
        let released = |i: usize| {
            d.release()
                .is_some_and(|r| bytes[..i].iter().rev().take_while(|b| **b == r).count() % 2 == 1)
        };
        let after_terminator = at > 0 && bytes[at - 1] == d.segment() && !released(at - 1);
        match kind % 4 {
            0 | 1 if wrap_ok && at > 0 && Some(bytes[at - 1]) != d.release() => {
                inserts.push((at, if kind % 4 == 0 { b"\n" } else { b"\r\n" }));
            }
            2 | 3 if after_terminator => {
                inserts.push((at, if kind % 4 == 2 { b"  " } else { b"\t" }))
            }
            _ => {}
        }
    }
    inserts.sort_by_key(|(at, _)| *at);
    let mut out = Vec::with_capacity(bytes.len() + inserts.len() * 2);
    let mut last = 0;
    for (at, what) in inserts {
        out.extend_from_slice(&bytes[last..at]);
        out.extend_from_slice(what);
        last = at;
    }
    out.extend_from_slice(&bytes[last..]);
    out
}

type Summary = (u64, Vec<u8>, Vec<(String, u64)>);

fn summary(ic: &Interchange<'_>) -> Summary {
    (
        ic.offset(),
        ic.to_bytes(),
        ic.segments()
            .iter()
            .map(|s| (s.tag().to_string(), s.offset()))
            .collect(),
    )
}

fn check_doc(docs: &[Doc], input: &[u8], tokenize_ok: bool) -> Result<(), TestCaseError> {
    let ics = edi::parse(input).map_err(|e| TestCaseError::fail(format!("parse: {e}")))?;
    prop_assert_eq!(ics.len(), docs.len());
    let out: Vec<u8> = ics.iter().flat_map(|ic| ic.to_bytes()).collect();
    prop_assert!(out == input, "round trip differs");
    for (ic, doc) in ics.iter().zip(docs) {
        prop_assert_eq!(ic.standard(), doc.standard);
        prop_assert_eq!(*ic.delimiters(), doc.delimiters);
        let expected_control = match doc.standard {
            Standard::X12 => format!("{:0>9}", doc.control),
            Standard::Edifact => doc.control.clone(),
        };
        prop_assert_eq!(ic.control_number(), expected_control);
        prop_assert_eq!(ic.sender().id, "SENDER");
        let groups = if doc.grouped { doc.groups.len() } else { 0 };
        prop_assert_eq!(ic.groups().len(), groups);
        let bodies: Vec<&Vec<Seg>> = doc.groups.iter().flatten().collect();
        prop_assert_eq!(ic.messages().len(), bodies.len());
        for (i, (m, body)) in ic.messages().zip(bodies).enumerate() {
            prop_assert_eq!(m.control_number(), format!("M{}", i + 1));
            prop_assert_eq!(m.body().len(), body.len());
            let count = m.trailer().map(|t| t.value(1, 1).into_owned());
            prop_assert_eq!(count, Some((body.len() + 2).to_string().into_bytes()));
            for (s, want) in m.body().iter().zip(body) {
                prop_assert_eq!(s.tag().to_string(), want.tag.clone());
                prop_assert_eq!(parsed_values(s), normalized(&want.elements), "{}", want.tag);
            }
        }
    }
    // The streaming reader, fed a few bytes at a time, hands out the same interchanges.
    let memory: Vec<Summary> = ics.iter().map(summary).collect();
    let mut reader = Reader::new(trickle(input));
    let mut streamed = Vec::new();
    while let Some(r) = reader.next_interchange() {
        let ic = r.map_err(|e| TestCaseError::fail(format!("reader: {e}")))?;
        streamed.push(summary(&ic));
        prop_assert!(streamed.len() <= memory.len());
    }
    prop_assert_eq!(streamed, memory.clone());
    if tokenize_ok {
        let tokens: Vec<(String, u64)> = edi::tokenize(input)
            .map(|t| t.map(|s| (s.tag().to_string(), s.offset())))
            .collect::<Result<_, _>>()
            .map_err(|e| TestCaseError::fail(format!("tokenize: {e}")))?;
        let all: Vec<(String, u64)> = memory.into_iter().flat_map(|m| m.2).collect();
        prop_assert_eq!(tokens, all);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(96))]

    /// One interchange, as the writer wrote it.
    #[test]
    fn written_interchanges_read_back_value_for_value(doc in doc()) {
        let bytes = write(&doc);
        check_doc(std::slice::from_ref(&doc), &bytes, true)?;
    }

    /// Several interchanges with different delimiters in one file, with line wrapping inside
    /// segments, blanks after terminators, white space or a BOM between interchanges.
    #[test]
    fn wrapped_multi_interchange_files_read_back_value_for_value(
        docs in vec(doc(), 1..4),
        layout in vec(vec((any::<prop::sample::Index>(), any::<u8>()), 0..5), 3),
        gaps in vec(prop::sample::select(vec!["", "\n", "\r\n", " \t\n", "\u{feff}"]), 3),
    ) {
        let mut input = Vec::new();
        let mut tokenize_ok = true;
        for (i, doc) in docs.iter().enumerate() {
            // `tokenize` keeps an interchange's delimiters after its trailer, so a header of the
            // other standard is misread (fixtures.rs pins this with `edifact/after_x12_interchange.edi`).
            tokenize_ok &= docs.get(i + 1).is_none_or(|next| next.standard == doc.standard);
            let line_terminated = matches!(doc.delimiters.segment(), b'\n' | b'\r');
            let bytes = add_layout(&write(doc), doc.delimiters, &layout[i]);
            input.extend_from_slice(&bytes);
            if i + 1 < docs.len() {
                // `tokenize` fails on white space after a CR/LF-terminated interchange
                // (fixtures.rs: tokenize_yields_the_segments_the_parser_found_in_every_fixture).
                // So does a BOM between interchanges.
                let gap = gaps[i];
                tokenize_ok &= !(gap.contains('\u{feff}')
                    || (line_terminated && gap.contains(['\n', '\r'])));
                input.extend_from_slice(gaps[i].as_bytes());
            }
        }
        check_doc(&docs, &input, tokenize_ok)?;
    }
}

// ---------------------------------------------------------------------------------------------
// No input panics
// ---------------------------------------------------------------------------------------------

/// Runs every API over `data`. Offsets must point at the bytes they name; a strict parse must
/// write back byte for byte; the reader must agree with the parser on what succeeds.
fn no_panic(data: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(ics) = edi::parse(data) {
        let mut out: Vec<u8> = ics.iter().flat_map(|ic| ic.to_bytes()).collect();
        // Known defect, pinned by fixtures.rs (`x12/lf_terminator_trailing_blank_line.x12`,
        // `edifact/form_feed_after_unz.edi`): white space the last segment does not take (LF after
        // LF terminators, a form feed) is dropped from the round trip. Accept that here so the
        // property keeps looking for other failures.
        if data.starts_with(&out) && data[out.len()..].iter().all(u8::is_ascii_whitespace) {
            out = data.to_vec();
        }
        prop_assert!(
            out == data,
            "strict parse does not round-trip: in b\"{}\", out b\"{}\"",
            data.escape_ascii(),
            out.escape_ascii()
        );
    }
    for lenient in [false, true] {
        let parser = Parser::new().lenient(lenient);
        let mut good = Vec::new();
        for r in parser.interchanges(data).take(data.len() + 1) {
            let Ok(ic) = r else { continue };
            let at = ic.offset() as usize;
            prop_assert!(data[at..].starts_with(&ic.to_bytes()));
            for m in ic.messages() {
                let _ = (m.message_type(), m.version(), m.segments().len());
            }
            for s in ic.segments() {
                for e in s.elements() {
                    prop_assert!(data[e.offset() as usize..].starts_with(e.raw()));
                    for r in e.repetitions() {
                        for c in r.components() {
                            let _ = c.text(ic.charset());
                        }
                    }
                }
            }
            good.push(ic.to_bytes());
        }
        let mut reader = Reader::with_parser(trickle(data), parser);
        let mut n = 0;
        while let Some(r) = reader.next_interchange() {
            let _ = r.map(|ic| ic.to_bytes());
            n += 1;
            prop_assert!(n <= data.len() + 1, "the reader does not stop");
        }
    }
    for s in edi::tokenize(data).take(data.len() + 1).flatten() {
        prop_assert!(data[s.offset() as usize..].starts_with(s.raw()));
        let _ = s.elements().map(|e| e.value().len()).sum::<usize>();
    }
    Ok(())
}

fn heads() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec![
        &b""[..],
        b"ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240101*1200*^*00501*000000001*0*P*>~",
        b"ISA|00|          |00|          |ZZ|SENDER         |ZZ|RECEIVER       |240101|1200|U|00401|000000001|0|P|:\n",
        b"UNA:+.? 'UNB+UNOC:3+S+R+240101:1200+1'",
        b"UNB+UNOC:4+S+R+240101:1200+1'",
        b"UNA=*,?#~UNB*UNOA=4*S*R*240101=1200*1~",
    ])
    .prop_map(<[u8]>::to_vec)
}

/// Bytes the parser cares about, to make random input look like EDI.
fn edi_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => prop::sample::select(b"*~^>:+'?\n\r UNAISGTEBHZ0123456789".to_vec()),
        1 => any::<u8>(),
    ]
}

fn fixture_inputs() -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for dir in ["x12", "edifact", "malformed"] {
        for p in files_in(&fixtures().join(dir)) {
            v.push(std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())));
        }
    }
    assert!(v.len() > 40, "fixtures missing");
    v
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(prop::sample::Index, u8),
    Insert(prop::sample::Index, Vec<u8>),
    Delete(prop::sample::Index, usize),
    Duplicate(prop::sample::Index, usize),
    Truncate(prop::sample::Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<prop::sample::Index>(), edi_byte()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        2 => (any::<prop::sample::Index>(), vec(edi_byte(), 1..4)).prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => (any::<prop::sample::Index>(), 1usize..12).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (any::<prop::sample::Index>(), 1usize..40).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        1 => any::<prop::sample::Index>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut data: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = data.len();
        match m {
            Mutation::Flip(i, b) if len > 0 => data[i.index(len)] = *b,
            Mutation::Insert(i, bytes) => {
                let at = i.index(len + 1);
                data.splice(at..at, bytes.iter().copied());
            }
            Mutation::Delete(i, n) if len > 0 => {
                let at = i.index(len);
                data.drain(at..(at + n).min(len));
            }
            Mutation::Duplicate(i, n) if len > 0 => {
                let at = i.index(len);
                let piece: Vec<u8> = data[at..(at + n).min(len)].to_vec();
                data.splice(at..at, piece);
            }
            Mutation::Truncate(i) => data.truncate(i.index(len + 1)),
            _ => {}
        }
    }
    data
}

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn arbitrary_bytes_never_panic(data in vec(any::<u8>(), 0..300)) {
        no_panic(&data)?;
    }

    #[test]
    fn edi_like_bytes_after_a_valid_header_never_panic(head in heads(), body in vec(edi_byte(), 0..300)) {
        let mut data = head;
        data.extend(body);
        no_panic(&data)?;
    }

    #[test]
    fn mutated_fixtures_never_panic(
        pick in any::<prop::sample::Index>(),
        mutations in vec(mutation(), 1..5),
    ) {
        thread_local! {
            static FIXTURES: Vec<Vec<u8>> = fixture_inputs();
        }
        let data = FIXTURES.with(|f| mutate(f[pick.index(f.len())].clone(), &mutations));
        no_panic(&data)?;
    }
}
