//! Streaming: interchanges from any `Read` (or tokio `AsyncRead`), one at a time, in memory
//! bounded by the largest interchange rather than the file.
//!
//! The framer tokenizes as bytes arrive (resuming where it stopped, so growth is never
//! quadratic), and once an interchange's trailer and the white space after it are in the buffer,
//! that interchange is parsed once, in place, and handed out. Its bytes are dropped from the
//! buffer on the next call.

use std::io::Read;

use crate::error::{ErrorKind, Location, ParseError};
use crate::interchange::Interchange;
use crate::parser::{Outcome, Parser};
use crate::scan::skip_trivia;
use crate::tokens::{TokStep, TokenState};

const MIN_READ: usize = 64 * 1024;

/// An interchange's bytes, detached from the reader (to queue, spool or send to another thread),
/// parsed on demand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedInterchange {
    bytes: Vec<u8>,
    offset: u64,
    number: usize,
    parser: ParserConfig,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ParserConfig {
    limits: crate::Limits,
    lenient: bool,
}

impl OwnedInterchange {
    /// The interchange's exact bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Absolute offset in the stream.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// 1-based number in the stream.
    pub fn number(&self) -> usize {
        self.number
    }

    /// Parses the bytes (with the reader's settings), borrowing them.
    pub fn parse(&self) -> Result<Interchange<'_>, ParseError> {
        let parser = Parser::new()
            .limits(self.parser.limits)
            .lenient(self.parser.lenient);
        parse_frame(
            &parser,
            &self.bytes,
            0,
            self.bytes.len(),
            self.offset,
            self.number,
        )
    }

    /// Takes the bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

fn parse_frame<'a>(
    parser: &Parser,
    data: &'a [u8],
    start: usize,
    end: usize,
    base: u64,
    number: usize,
) -> Result<Interchange<'a>, ParseError> {
    match parser.parse_at(&data[..end], start, base, number, true)? {
        Outcome::Interchange(ic, _) => Ok(*ic),
        Outcome::End | Outcome::NeedMore => {
            Err(ParseError::at(ErrorKind::Empty, base + start as u64))
        }
    }
}

/// Where the framer stands.
enum Frame {
    /// An interchange occupies `buf[start..end]`.
    Ready(usize, usize),
    NeedMore,
    End,
}

/// The I/O-free part of the reader.
#[derive(Debug)]
struct Framer {
    parser: Parser,
    buf: Vec<u8>,
    /// Absolute offset of `buf[0]`.
    base: u64,
    /// Bytes of `buf` already handed out, dropped on the next call.
    consumed: usize,
    tok: TokenState,
    seen_header: bool,
    /// Segments of the open interchange framed so far (for error locations).
    segments: usize,
    eof: bool,
    done: bool,
    number: usize,
}

impl Framer {
    fn new(parser: Parser) -> Self {
        Framer {
            parser,
            buf: Vec::new(),
            base: 0,
            consumed: 0,
            tok: TokenState::default(),
            seen_header: false,
            segments: 0,
            eof: false,
            done: false,
            number: 0,
        }
    }

    fn compact(&mut self) {
        if self.consumed > 0 {
            self.buf.drain(..self.consumed);
            self.base += self.consumed as u64;
            self.tok.rebase(self.consumed);
            self.consumed = 0;
        }
    }

    /// How much to read next: at least `MIN_READ`, and as much as is buffered, so an interchange
    /// of n bytes takes O(log n) reads.
    fn read_size(&self) -> usize {
        MIN_READ.max(self.buf.len())
    }

    fn error(&self, kind: ErrorKind, at: usize) -> ParseError {
        let kind = match kind {
            ErrorKind::NotAnInterchange { found } if self.number > 0 => {
                ErrorKind::TrailingData { found }
            }
            k => k,
        };
        ParseError::new(
            kind,
            Location {
                // The interchange being read: one past those handed out, as the parser counts.
                interchange: self.number + 1,
                // The segment that failed: one past those framed in the open interchange.
                segment: self.seen_header.then_some(self.segments + 1),
                offset: self.base + at as u64,
                ..Location::default()
            },
        )
    }

    fn step(&mut self) -> Result<Frame, ParseError> {
        let limits = *self.parser.current_limits();
        if self.buf.len() > limits.max_interchange_len {
            return Err(self.error(
                ErrorKind::Limit {
                    what: "interchange size",
                    limit: limits.max_interchange_len,
                    actual: self.buf.len(),
                },
                0,
            ));
        }
        loop {
            let before = self.tok.pos;
            match self.tok.next(&self.buf, self.eof, &limits) {
                Ok(TokStep::Segment {
                    scanned,
                    standard,
                    delimiters,
                    header,
                    interchange_start,
                }) => {
                    if header {
                        if self.seen_header {
                            // A new header before the trailer: the open interchange ends here and
                            // the parser reports its missing trailer.
                            self.tok.pos = interchange_start.max(before);
                            self.tok.end_interchange();
                            self.seen_header = false;
                            return Ok(Frame::Ready(0, self.tok.pos));
                        }
                        self.seen_header = true;
                        self.segments = 1;
                        continue;
                    }
                    self.segments += 1;
                    let trailer = match standard {
                        crate::Standard::X12 => crate::Tag::from_static(b"IEA"),
                        crate::Standard::Edifact => crate::Tag::from_static(b"UNZ"),
                    };
                    if scanned.tag == trailer {
                        if !self.eof && scanned.end >= self.buf.len() {
                            // The white space after the trailer may continue in the next read.
                            self.tok.pos = before;
                            return Ok(Frame::NeedMore);
                        }
                        let end = skip_trivia(&self.buf, scanned.end, &delimiters);
                        self.tok.pos = end;
                        self.tok.end_interchange();
                        self.seen_header = false;
                        return Ok(Frame::Ready(0, end));
                    }
                }
                Ok(TokStep::Boundary { at }) => {
                    if self.seen_header {
                        // The open interchange ends where the next header starts; the parser
                        // reports its missing trailer.
                        self.seen_header = false;
                        return Ok(Frame::Ready(0, at));
                    }
                }
                Ok(TokStep::NeedMore) => return Ok(Frame::NeedMore),
                Ok(TokStep::End) => {
                    if self.seen_header {
                        self.seen_header = false;
                        return Ok(Frame::Ready(0, self.buf.len()));
                    }
                    return Ok(Frame::End);
                }
                Err(e) => {
                    let (kind, at) = *e;
                    return Err(self.error(kind, at));
                }
            }
        }
    }

    /// Runs the framer until it needs input (`Ok(false)`) or has an interchange or the end
    /// (`Ok(true)`, with `ready` set).
    fn advance(&mut self) -> Result<Option<(usize, usize)>, ParseError> {
        self.compact();
        match self.step()? {
            Frame::Ready(s, e) => Ok(Some((s, e))),
            Frame::NeedMore if self.eof => Err(self.error(
                ErrorKind::Unterminated {
                    terminator: "segment terminator".into(),
                },
                self.tok.pos,
            )),
            Frame::NeedMore => Ok(None),
            Frame::End => {
                self.done = true;
                if self.number == 0 {
                    Err(self.error(ErrorKind::Empty, 0))
                } else {
                    Ok(None)
                }
            }
        }
    }

    fn take(&mut self, s: usize, e: usize) -> Result<Interchange<'_>, ParseError> {
        self.number += 1;
        self.consumed = e;
        let r = parse_frame(&self.parser, &self.buf, s, e, self.base, self.number);
        if r.is_err() {
            self.done = true;
        }
        r
    }

    fn take_owned(&mut self, s: usize, e: usize) -> OwnedInterchange {
        self.number += 1;
        self.consumed = e;
        OwnedInterchange {
            bytes: self.buf[s..e].to_vec(),
            offset: self.base + s as u64,
            number: self.number,
            parser: ParserConfig {
                limits: *self.parser.current_limits(),
                lenient: self.parser.is_lenient(),
            },
        }
    }
}

/// Reads interchanges from a byte stream.
///
/// ```
/// let data: &[u8] = b"UNB+UNOA:3+A+B+240101:1200+1'UNZ+0+1'\nUNB+UNOA:3+A+B+240101:1200+2'UNZ+0+2'";
/// let mut reader = edi::Reader::new(data);
/// let mut controls = Vec::new();
/// while let Some(ic) = reader.next_interchange() {
///     controls.push(ic.unwrap().control_number());
/// }
/// assert_eq!(controls, ["1", "2"]);
/// ```
#[derive(Debug)]
pub struct Reader<R> {
    inner: R,
    framer: Framer,
}

impl<R: Read> Reader<R> {
    /// A strict reader with default limits.
    pub fn new(inner: R) -> Self {
        Self::with_parser(inner, Parser::new())
    }

    /// A reader using `parser`'s limits and strictness.
    pub fn with_parser(inner: R, parser: Parser) -> Self {
        Reader {
            inner,
            framer: Framer::new(parser),
        }
    }

    fn fill(&mut self) -> Result<(), ParseError> {
        let want = self.framer.read_size();
        let old = self.framer.buf.len();
        self.framer.buf.resize(old + want, 0);
        let n = loop {
            match self.inner.read(&mut self.framer.buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.framer.buf.truncate(old);
                    self.framer.done = true;
                    return Err(self.framer.error(ErrorKind::Io(e.to_string()), old));
                }
            }
        };
        self.framer.buf.truncate(old + n);
        if n == 0 {
            self.framer.eof = true;
        }
        Ok(())
    }

    fn next_frame(&mut self) -> Option<Result<(usize, usize), ParseError>> {
        loop {
            if self.framer.done {
                return None;
            }
            match self.framer.advance() {
                Ok(Some(frame)) => return Some(Ok(frame)),
                Ok(None) if self.framer.done => return None,
                Ok(None) => {
                    if let Err(e) = self.fill() {
                        return Some(Err(e));
                    }
                }
                Err(e) => {
                    self.framer.done = true;
                    return Some(Err(e));
                }
            }
        }
    }

    /// The next interchange, borrowing the reader's buffer until the next call.
    pub fn next_interchange(&mut self) -> Option<Result<Interchange<'_>, ParseError>> {
        match self.next_frame()? {
            Ok((s, e)) => Some(self.framer.take(s, e)),
            Err(e) => Some(Err(e)),
        }
    }

    /// Bytes read from the input so far.
    pub fn bytes_read(&self) -> u64 {
        self.framer.base + self.framer.buf.len() as u64
    }

    /// Bytes held in memory now.
    pub fn buffered(&self) -> usize {
        self.framer.buf.len()
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<OwnedInterchange, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(
            self.next_frame()?
                .map(|(s, e)| self.framer.take_owned(s, e)),
        )
    }
}

/// The streaming reader over tokio's `AsyncRead`.
#[cfg(feature = "tokio")]
#[derive(Debug)]
pub struct AsyncReader<R> {
    inner: R,
    framer: Framer,
}

#[cfg(feature = "tokio")]
impl<R: tokio::io::AsyncRead + Unpin> AsyncReader<R> {
    /// A strict reader with default limits.
    pub fn new(inner: R) -> Self {
        Self::with_parser(inner, Parser::new())
    }

    /// A reader using `parser`'s limits and strictness.
    pub fn with_parser(inner: R, parser: Parser) -> Self {
        AsyncReader {
            inner,
            framer: Framer::new(parser),
        }
    }

    async fn fill(&mut self) -> Result<(), ParseError> {
        use tokio::io::AsyncReadExt;
        let want = self.framer.read_size();
        let old = self.framer.buf.len();
        self.framer.buf.resize(old + want, 0);
        match self.inner.read(&mut self.framer.buf[old..]).await {
            Ok(n) => {
                self.framer.buf.truncate(old + n);
                if n == 0 {
                    self.framer.eof = true;
                }
                Ok(())
            }
            Err(e) => {
                self.framer.buf.truncate(old);
                self.framer.done = true;
                Err(self.framer.error(ErrorKind::Io(e.to_string()), old))
            }
        }
    }

    async fn next_frame(&mut self) -> Option<Result<(usize, usize), ParseError>> {
        loop {
            if self.framer.done {
                return None;
            }
            match self.framer.advance() {
                Ok(Some(frame)) => return Some(Ok(frame)),
                Ok(None) if self.framer.done => return None,
                Ok(None) => {
                    if let Err(e) = self.fill().await {
                        return Some(Err(e));
                    }
                }
                Err(e) => {
                    self.framer.done = true;
                    return Some(Err(e));
                }
            }
        }
    }

    /// The next interchange, borrowing the reader's buffer until the next call.
    pub async fn next_interchange(&mut self) -> Option<Result<Interchange<'_>, ParseError>> {
        match self.next_frame().await? {
            Ok((s, e)) => Some(self.framer.take(s, e)),
            Err(e) => Some(Err(e)),
        }
    }

    /// The next interchange's bytes, detached.
    pub async fn next_owned(&mut self) -> Option<Result<OwnedInterchange, ParseError>> {
        Some(
            self.next_frame()
                .await?
                .map(|(s, e)| self.framer.take_owned(s, e)),
        )
    }
}
