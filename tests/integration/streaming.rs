//! The streaming reader: bounded memory on inputs far larger than one interchange, the same
//! answers as the in-memory parser, and the async flavour.

use std::io::Read;

/// An endless-looking input: `count` copies of one interchange, produced on demand so the test
/// itself never holds the whole input.
struct Repeat {
    unit: Vec<u8>,
    count: usize,
    pos: usize,
}

impl Read for Repeat {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let total = self.unit.len() * self.count;
        if self.pos >= total {
            return Ok(0);
        }
        let mut n = 0;
        while n < buf.len() && self.pos < total {
            let at = self.pos % self.unit.len();
            let take = (self.unit.len() - at)
                .min(buf.len() - n)
                .min(total - self.pos);
            buf[n..n + take].copy_from_slice(&self.unit[at..at + take]);
            n += take;
            self.pos += take;
        }
        Ok(n)
    }
}

fn x12_interchange(lines: usize) -> Vec<u8> {
    let mut s = String::from(
        "ISA*00*          *00*          *ZZ*BUYER          *ZZ*SELLER         *240101*1200*^*00501*000000001*0*P*>~\n\
         GS*PO*BUYER*SELLER*20240101*1200*1*X*005010~\nST*850*0001~\nBEG*00*SA*PO-1**20240101~\n",
    );
    for i in 0..lines {
        s.push_str(&format!(
            "PO1*{i}*10*EA*9.99**VP*SKU{i}^ALT{i}*UP*012345678905~\n"
        ));
    }
    s.push_str(&format!(
        "SE*{}*0001~\nGE*1*1~\nIEA*1*000000001~\n",
        lines + 3
    ));
    s.into_bytes()
}

#[test]
fn memory_stays_bounded_by_the_interchange_not_the_file() {
    let unit = x12_interchange(200);
    let count = 5_000; // ≈ 50 MB streamed
    let mut reader = edi::Reader::new(Repeat {
        unit: unit.clone(),
        count,
        pos: 0,
    });
    let mut seen = 0usize;
    let mut lines = 0usize;
    while let Some(ic) = reader.next_interchange() {
        let ic = ic.expect("valid interchange");
        lines += ic.messages().map(|m| m.body().len()).sum::<usize>();
        seen += 1;
    }
    assert_eq!(seen, count);
    assert_eq!(lines, count * 201);
    assert_eq!(reader.bytes_read(), (unit.len() * count) as u64);
    assert!(
        reader.buffered() < 1 << 20,
        "the reader holds {} bytes after streaming {} MB",
        reader.buffered(),
        (unit.len() * count) >> 20
    );
}

#[test]
fn reader_buffer_never_grows_past_a_few_reads_while_streaming() {
    let unit = x12_interchange(50);
    let mut reader = edi::Reader::new(Repeat {
        unit: unit.clone(),
        count: 5_000,
        pos: 0,
    });
    let mut max_buffered = 0;
    while let Some(ic) = reader.next_interchange() {
        ic.expect("valid interchange");
        max_buffered = max_buffered.max(reader.buffered());
    }
    // One read is 64 KiB; an interchange here is ~3 KiB: the buffer holds at most a read and a
    // partial interchange, whatever the file size.
    assert!(
        max_buffered <= 2 * 64 * 1024,
        "buffer grew to {max_buffered} bytes"
    );
}

#[test]
fn streaming_agrees_with_the_in_memory_parser_on_mixed_standards() {
    let mut data = x12_interchange(3);
    data.extend_from_slice(b"\r\n");
    data.extend_from_slice(b"UNA:+.? 'UNB+UNOC:3+S:14+R:14+240101:1200+7'UNH+1+ORDERS:D:96A:UN'FTX+AAI+++a?'b?+c'UNT+3+1'UNZ+1+7'\n");
    data.extend_from_slice(&x12_interchange(1));
    let in_memory = edi::parse(&data).expect("valid input");
    let streamed: Vec<edi::OwnedInterchange> = edi::Reader::new(&data[..])
        .collect::<Result<_, _>>()
        .expect("valid input");
    assert_eq!(in_memory.len(), 3);
    assert_eq!(streamed.len(), 3);
    for (a, b) in in_memory.iter().zip(&streamed) {
        assert_eq!(a.to_bytes(), b.bytes());
        assert_eq!(a.offset(), b.offset());
        let parsed = b.parse().expect("reparse");
        assert_eq!(parsed.control_number(), a.control_number());
        assert_eq!(parsed.segments().len(), a.segments().len());
        for (x, y) in parsed.segments().iter().zip(a.segments()) {
            assert_eq!(x.offset(), y.offset(), "offsets are absolute in both");
            assert_eq!(x.raw(), y.raw());
        }
    }
    let ftx = &in_memory[1].messages().next().expect("message").segments()[1];
    assert_eq!(&*ftx.value(4, 1), b"a'b+c");
}

#[test]
fn streaming_reports_errors_after_the_good_interchanges() {
    let mut data = x12_interchange(2);
    data.extend_from_slice(b"garbage");
    let mut reader = edi::Reader::new(&data[..]);
    assert!(reader.next_interchange().expect("first").is_ok());
    let err = reader
        .next_interchange()
        .expect("error")
        .expect_err("trailing garbage");
    assert!(
        matches!(err.kind, edi::ErrorKind::TrailingData { .. }),
        "{err}"
    );
    assert_eq!(err.location.offset, (data.len() - 7) as u64);
    assert!(reader.next_interchange().is_none());
}

#[test]
fn an_interchange_over_the_size_limit_is_an_error_not_an_allocation() {
    let unit = x12_interchange(5_000);
    let limits = edi::Limits {
        max_interchange_len: 64 * 1024,
        ..edi::Limits::default()
    };
    let mut reader = edi::Reader::with_parser(&unit[..], edi::Parser::new().limits(limits));
    let err = reader
        .next_interchange()
        .expect("an answer")
        .expect_err("over the limit");
    assert!(
        matches!(
            err.kind,
            edi::ErrorKind::Limit {
                what: "interchange size",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn async_reader_yields_the_same_interchanges() {
    let mut data = x12_interchange(4);
    data.extend(x12_interchange(2));
    let mut reader = edi::AsyncReader::new(&data[..]);
    let mut sizes = Vec::new();
    while let Some(ic) = reader.next_interchange().await {
        let ic = ic.expect("valid");
        sizes.push(ic.messages().next().map(|m| m.body().len()).unwrap_or(0));
    }
    assert_eq!(sizes, [5, 3]);
}

/// Returns at most `step` bytes per read, to put buffer boundaries everywhere.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.step = self.step % 7 + 1;
        Ok(n)
    }
}

#[test]
fn message_reader_keeps_one_message_in_memory_for_a_huge_interchange() {
    // One interchange of 100,000 purchase orders, generated as it is read.
    let head = "ISA*00*          *00*          *ZZ*BUYER          *ZZ*SELLER         *240101*1200*^*00501*000000001*0*P*>~\nGS*PO*BUYER*SELLER*20240101*1200*1*X*005010~\n";
    let order =
        "ST*850*0001~\nBEG*00*SA*PO-1**20240101~\nPO1*1*10*EA*9.99**VP*SKU1~\nCTT*1~\nSE*5*0001~\n";
    let tail = "GE*100000*1~\nIEA*1*000000001~\n";
    let count = 100_000;
    let input = head
        .as_bytes()
        .chain(Repeat {
            unit: order.as_bytes().to_vec(),
            count,
            pos: 0,
        })
        .chain(tail.as_bytes());
    let mut reader = edi::MessageReader::new(input);
    let (mut messages, mut envelope, mut bytes, mut max_buffered) = (0, Vec::new(), 0usize, 0usize);
    for item in reader.by_ref() {
        let item = item.expect("valid stream");
        bytes += item.bytes().len();
        match item.kind() {
            edi::ItemKind::Message => {
                messages += 1;
                let segs = item.segments().expect("segments");
                assert_eq!(segs.len(), 5);
                assert_eq!(segs[0].tag(), "ST");
                assert_eq!(
                    segs[4].offset(),
                    item.offset() + order.find("SE*").expect("SE") as u64
                );
            }
            _ => envelope.push(item.segments().expect("segments")[0].tag().to_string()),
        }
    }
    max_buffered = max_buffered.max(reader.buffered());
    assert_eq!(messages, count);
    assert_eq!(envelope, ["ISA", "GS", "GE", "IEA"]);
    assert_eq!(bytes, head.len() + order.len() * count + tail.len());
    assert!(max_buffered < 256 * 1024, "buffered {max_buffered}");
}

#[test]
fn message_reader_items_concatenate_to_the_input_whatever_the_read_sizes() {
    let mut data = b"\xEF\xBB\xBF".to_vec();
    data.extend(x12_interchange(3));
    data.extend_from_slice(b"\r\n  \r\n");
    data.extend_from_slice(b"UNA:+.? '\nUNB+UNOC:3+S:14+R:14+240101:1200+7'\nUNH+1+ORDERS:D:96A:UN'\nFTX+AAI+++a?'b'\nUNT+3+1'\nUNZ+1+7'\n\n");
    for step in [1, 3, 64 * 1024] {
        let items: Vec<edi::StreamItem> = edi::MessageReader::new(Trickle { data: &data, step })
            .collect::<Result<_, _>>()
            .expect("valid stream");
        let joined: Vec<u8> = items.iter().flat_map(|i| i.bytes().to_vec()).collect();
        assert_eq!(joined, data, "read size {step}");
        let kinds: Vec<edi::ItemKind> = items.iter().map(edi::StreamItem::kind).collect();
        use edi::ItemKind::*;
        assert_eq!(
            kinds,
            [
                InterchangeHeader,
                Envelope,
                Message,
                Envelope,
                Envelope,
                InterchangeHeader,
                Message,
                Envelope
            ]
        );
        // Offsets agree with the in-memory parser.
        let parsed = edi::parse(&data).expect("valid");
        let ftx_memory = parsed[1].messages().next().expect("message").segments()[1].offset();
        let ftx_stream = items[6].segments().expect("segments")[1].offset();
        assert_eq!(ftx_memory, ftx_stream);
        assert_eq!(
            &*items[6].segments().expect("segments")[1].value(4, 1),
            b"a'b"
        );
        assert_eq!(items[5].segments().expect("segments")[0].tag(), "UNB");
    }
}

#[test]
fn message_reader_ends_a_message_without_trailer_at_the_next_envelope_segment_and_reports_errors() {
    let data = x12_interchange(2).replace_bytes("SE*5*0001~\n", "");
    let items: Vec<edi::StreamItem> = edi::MessageReader::new(&data[..])
        .collect::<Result<_, _>>()
        .expect("valid");
    let msg = items
        .iter()
        .find(|i| i.kind() == edi::ItemKind::Message)
        .expect("a message");
    let tags: Vec<String> = msg
        .segments()
        .expect("segments")
        .iter()
        .map(|s| s.tag().to_string())
        .collect();
    assert_eq!(tags, ["ST", "BEG", "PO1", "PO1"]);

    let mut bad = x12_interchange(1);
    bad.extend_from_slice(b"garbage");
    let results: Vec<_> = edi::MessageReader::new(&bad[..]).collect();
    assert!(results[..results.len() - 1].iter().all(Result::is_ok));
    let err = results
        .last()
        .expect("items")
        .as_ref()
        .expect_err("the garbage");
    assert_eq!(err.location.offset, (bad.len() - 7) as u64);
}

trait ReplaceBytes {
    fn replace_bytes(&self, from: &str, to: &str) -> Vec<u8>;
}

impl ReplaceBytes for Vec<u8> {
    fn replace_bytes(&self, from: &str, to: &str) -> Vec<u8> {
        String::from_utf8_lossy(self).replace(from, to).into_bytes()
    }
}

/// What a parse gave: each interchange's bytes, or the error's kind, offset and interchange.
fn outcomes<'a>(
    items: impl Iterator<Item = Result<Vec<u8>, edi::ParseError>> + 'a,
) -> Vec<Result<Vec<u8>, String>> {
    items
        .map(|r| {
            r.map_err(|e| {
                format!(
                    "{:?} at {} in interchange {}",
                    e.kind, e.location.offset, e.location.interchange
                )
            })
        })
        .collect()
}

#[test]
fn reader_and_parser_agree_on_every_fuzz_regression_whatever_the_read_size() {
    let dir = edigate_tests::fixtures().join("fuzz-regressions");
    let files = edigate_tests::files_in(&dir);
    assert!(files.len() >= 4, "the regression inputs are missing");
    for path in files {
        let data = std::fs::read(&path).expect("read");
        let parser = edi::Parser::new().lenient(true);
        let want = outcomes(
            parser
                .interchanges(&data)
                .map(|r| r.map(|ic| ic.to_bytes())),
        );
        for step in 1..=9 {
            let mut reader = edi::Reader::with_parser(Trickle { data: &data, step }, parser);
            let mut got = Vec::new();
            while let Some(r) = reader.next_interchange() {
                got.push(r.map(|ic| ic.to_bytes()));
            }
            assert_eq!(
                outcomes(got.into_iter()),
                want,
                "{}: read size {step}",
                path.display()
            );
        }
    }
}
