//! Streaming at message granularity: for interchanges too large to hold in memory at once (one
//! interchange of a million orders), or to start work before an interchange ends.
//!
//! The reader hands out, in file order, each message (header through trailer) and each segment
//! outside messages (interchange and group headers and trailers, TA1) as owned bytes. Memory is
//! bounded by the largest message. Every item's bytes run up to where the next item starts, so
//! concatenating the items reproduces the input exactly.

use std::collections::VecDeque;
use std::io::Read;

use crate::delimiters::{Delimiters, Standard};
use crate::error::{ErrorKind, Location, ParseError};
use crate::limits::Limits;
use crate::scan::{Step, scan_segment, skip_trivia};
use crate::segment::{Segment, Tag};
use crate::tokens::{TokStep, TokenState};

const MIN_READ: usize = 64 * 1024;

/// What an item holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemKind {
    /// An interchange header (UNA, ISA or UNB, with any BOM or blank lines before it).
    InterchangeHeader,
    /// One segment outside messages: a group header or trailer, an interchange trailer, a TA1.
    Envelope,
    /// A whole message, header through trailer (or through the last segment before the next
    /// envelope segment, when the trailer is missing).
    Message,
}

/// One item of the stream, with the delimiters to read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamItem {
    kind: ItemKind,
    standard: Standard,
    delimiters: Delimiters,
    bytes: Vec<u8>,
    offset: u64,
    /// Where the first segment starts in `bytes` (after a BOM, blank lines or UNA).
    first: usize,
    interchange: usize,
}

impl StreamItem {
    /// Header, envelope segment or message.
    pub fn kind(&self) -> ItemKind {
        self.kind
    }

    /// X12 or EDIFACT.
    pub fn standard(&self) -> Standard {
        self.standard
    }

    /// The delimiters in force.
    pub fn delimiters(&self) -> &Delimiters {
        &self.delimiters
    }

    /// The exact bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Absolute byte offset of the first byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// 1-based number of the interchange the item belongs to.
    pub fn interchange(&self) -> usize {
        self.interchange
    }

    /// The item's segments, borrowing its bytes, with absolute offsets.
    pub fn segments(&self) -> Result<Vec<Segment<'_>>, ParseError> {
        let mut out = Vec::new();
        let mut pos = self.first;
        let limits = Limits::default();
        let binary = self.standard == Standard::X12;
        while pos < self.bytes.len() {
            match scan_segment(&self.bytes, pos, &self.delimiters, binary, &limits, true) {
                Ok(Step::Segment(s)) => {
                    out.push(Segment::from_parts(
                        &self.bytes[s.start..s.end],
                        self.offset + s.start as u64,
                        s.content_end - s.start,
                        s.elements_at,
                        s.binary_at,
                        s.tag,
                        self.delimiters,
                    ));
                    pos = skip_trivia(&self.bytes, s.end, &self.delimiters);
                }
                Ok(Step::NeedMore) => break,
                Err(e) => {
                    let (kind, at) = *e;
                    return Err(ParseError::new(
                        kind,
                        Location {
                            interchange: self.interchange,
                            offset: self.offset + at as u64,
                            ..Location::default()
                        },
                    ));
                }
            }
        }
        Ok(out)
    }
}

struct Open {
    kind: ItemKind,
    start: usize,
    first: usize,
    closed: bool,
    standard: Standard,
    delimiters: Delimiters,
}

/// Reads messages and envelope segments from a byte stream.
///
/// ```
/// let data: &[u8] = b"UNB+UNOA:3+A+B+240101:1200+1'UNH+1+ORDERS:D:96A:UN'BGM+220+1'UNT+3+1'UNZ+1+1'";
/// let kinds: Vec<edi::ItemKind> = edi::MessageReader::new(data).map(|i| i.unwrap().kind()).collect();
/// assert_eq!(kinds, [edi::ItemKind::InterchangeHeader, edi::ItemKind::Message, edi::ItemKind::Envelope]);
/// ```
pub struct MessageReader<R> {
    inner: R,
    buf: Vec<u8>,
    base: u64,
    tok: TokenState,
    limits: Limits,
    eof: bool,
    done: bool,
    interchange: usize,
    open: Option<Open>,
    ready: VecDeque<StreamItem>,
    pending_error: Option<ParseError>,
}

impl<R: Read> MessageReader<R> {
    /// A reader with default limits (one message may be as large as
    /// [`Limits::max_interchange_len`]).
    pub fn new(inner: R) -> Self {
        Self::with_limits(inner, Limits::default())
    }

    /// A reader with these limits.
    pub fn with_limits(inner: R, limits: Limits) -> Self {
        MessageReader {
            inner,
            buf: Vec::new(),
            base: 0,
            tok: TokenState::default(),
            limits,
            eof: false,
            done: false,
            interchange: 0,
            open: None,
            ready: VecDeque::new(),
            pending_error: None,
        }
    }

    /// Bytes held in memory now.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn error(&self, kind: ErrorKind, at: usize) -> ParseError {
        ParseError::new(
            kind,
            Location {
                interchange: self.interchange,
                offset: self.base + at as u64,
                ..Location::default()
            },
        )
    }

    /// Drops the bytes no open or future item needs.
    fn compact(&mut self) {
        let keep_from = self.open.as_ref().map_or(self.tok.pos, |o| o.start);
        if keep_from > 0 {
            self.buf.drain(..keep_from);
            self.base += keep_from as u64;
            self.tok.rebase(keep_from);
            if let Some(o) = self.open.as_mut() {
                o.start -= keep_from;
                o.first -= keep_from;
            }
        }
    }

    fn fill(&mut self) -> Result<(), ParseError> {
        if self.buf.len() > self.limits.max_interchange_len {
            return Err(self.error(
                ErrorKind::Limit {
                    what: "message size",
                    limit: self.limits.max_interchange_len,
                    actual: self.buf.len(),
                },
                0,
            ));
        }
        let old = self.buf.len();
        self.buf.resize(old + MIN_READ.max(old), 0);
        loop {
            match self.inner.read(&mut self.buf[old..]) {
                Ok(n) => {
                    self.buf.truncate(old + n);
                    self.eof = n == 0;
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(old);
                    return Err(self.error(ErrorKind::Io(e.to_string()), old));
                }
            }
        }
    }

    /// Emits the open item, ending where `end` is.
    fn close(&mut self, end: usize) {
        if let Some(o) = self.open.take() {
            self.ready.push_back(StreamItem {
                kind: o.kind,
                standard: o.standard,
                delimiters: o.delimiters,
                bytes: self.buf[o.start..end].to_vec(),
                offset: self.base + o.start as u64,
                first: o.first - o.start,
                interchange: self.interchange,
            });
        }
    }

    fn on_segment(
        &mut self,
        tag: Tag,
        start: usize,
        first: usize,
        standard: Standard,
        delimiters: Delimiters,
        header: bool,
    ) {
        let (msg_header, msg_trailer, envelope): (&str, &str, &[&str]) = match standard {
            Standard::X12 => ("ST", "SE", &["GS", "GE", "IEA"]),
            Standard::Edifact => ("UNH", "UNT", &["UNG", "UNE", "UNZ"]),
        };
        let ends_message = header || tag == msg_header || envelope.iter().any(|t| tag == *t);
        let keep_open = matches!(&self.open, Some(o) if o.kind == ItemKind::Message && !o.closed && !ends_message);
        if keep_open {
            if tag == msg_trailer
                && let Some(o) = self.open.as_mut()
            {
                o.closed = true;
            }
            return;
        }
        self.close(start);
        if header {
            self.interchange += 1;
        }
        let kind = if header {
            ItemKind::InterchangeHeader
        } else if tag == msg_header {
            ItemKind::Message
        } else {
            ItemKind::Envelope
        };
        self.open = Some(Open {
            kind,
            start,
            first,
            closed: false,
            standard,
            delimiters,
        });
    }
}

impl<R: Read> Iterator for MessageReader<R> {
    type Item = Result<StreamItem, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(Ok(item));
            }
            if let Some(e) = self.pending_error.take() {
                return Some(Err(e));
            }
            if self.done {
                return None;
            }
            self.compact();
            match self.tok.next(&self.buf, self.eof, &self.limits) {
                Ok(TokStep::Segment {
                    scanned,
                    standard,
                    delimiters,
                    header,
                    interchange_start,
                }) => {
                    let start = if header {
                        interchange_start
                    } else {
                        scanned.start
                    };
                    // The UNA (if any) sits between the interchange start and the UNB.
                    let first = if header {
                        let after_prefix = skip_prefix(&self.buf, interchange_start);
                        if self.buf[after_prefix..].starts_with(b"UNA") {
                            scanned.start
                        } else {
                            after_prefix
                        }
                    } else {
                        scanned.start
                    };
                    self.on_segment(
                        scanned.tag,
                        start,
                        first.min(scanned.start),
                        standard,
                        delimiters,
                        header,
                    );
                }
                Ok(TokStep::Boundary { .. }) => {}
                Ok(TokStep::NeedMore) if !self.eof => {
                    if let Err(e) = self.fill() {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
                Ok(TokStep::NeedMore | TokStep::End) => {
                    let end = self.buf.len();
                    self.close(end);
                    self.done = true;
                }
                Err(e) => {
                    let (kind, at) = *e;
                    // The open item is complete unless it is a message still waiting for its
                    // trailer; a broken message is not handed out as if it were whole.
                    let complete = self
                        .open
                        .as_ref()
                        .is_some_and(|o| o.kind != ItemKind::Message || o.closed);
                    if complete {
                        self.close(at.min(self.buf.len()));
                    } else {
                        self.open = None;
                    }
                    self.done = true;
                    self.pending_error = Some(self.error(kind, at));
                }
            }
        }
    }
}

fn skip_prefix(data: &[u8], mut p: usize) -> usize {
    loop {
        if data[p..].starts_with(b"\xEF\xBB\xBF") {
            p += 3;
        } else if p < data.len() && data[p].is_ascii_whitespace() {
            p += 1;
        } else {
            return p;
        }
    }
}
