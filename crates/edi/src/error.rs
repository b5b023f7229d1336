//! Parse errors: each names where it happened (interchange, segment position, tag, byte offset)
//! and what was expected there.

use std::fmt;

/// Where in the input a problem was found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    /// 1-based number of the interchange in the file (0 before the first one started).
    pub interchange: usize,
    /// 1-based position of the segment inside its interchange (the header is 1), if known.
    pub segment: Option<usize>,
    /// The segment's tag, if one was read.
    pub tag: Option<String>,
    /// Absolute byte offset in the input.
    pub offset: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.interchange > 0 {
            write!(f, "interchange {}, ", self.interchange)?;
        }
        match (&self.segment, &self.tag) {
            (Some(n), Some(t)) => write!(f, "segment {n} ({t}), ")?,
            (Some(n), None) => write!(f, "segment {n}, ")?,
            (None, Some(t)) => write!(f, "segment {t}, ")?,
            (None, None) => {}
        }
        write!(f, "byte offset {}", self.offset)
    }
}

/// What went wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input holds nothing but white space.
    #[error("the input is empty: expected an X12 (ISA) or EDIFACT (UNA/UNB) interchange")]
    Empty,
    /// The bytes where an interchange should start are not ISA, UNA or UNB.
    #[error("expected an interchange header (ISA, UNA or UNB), found {found}")]
    NotAnInterchange {
        /// A short, printable excerpt of what was found.
        found: String,
    },
    /// The ISA header cannot be read.
    #[error("invalid ISA header: {0}")]
    BadIsa(String),
    /// The UNA service string advice or the UNB header cannot be read.
    #[error("invalid EDIFACT service segment: {0}")]
    BadServiceSegment(String),
    /// A segment does not start with a 2–3 character alphanumeric tag.
    #[error("invalid segment tag {found}: expected 2 or 3 letters or digits")]
    BadTag {
        /// A printable excerpt of the bad tag.
        found: String,
    },
    /// The input ends inside a segment (no terminator).
    #[error("the input ends inside a segment: expected the segment terminator {terminator}")]
    Unterminated {
        /// The terminator that was expected.
        terminator: String,
    },
    /// The input ends before the interchange trailer.
    #[error(
        "the interchange has no {trailer} trailer: the input ends (or a new interchange starts) first"
    )]
    MissingInterchangeTrailer {
        /// `IEA` or `UNZ`.
        trailer: &'static str,
    },
    /// A group or message trailer is missing, or a segment stands where the envelope does not
    /// allow it.
    #[error("{0}")]
    Envelope(String),
    /// Bytes after the last interchange that are not white space.
    #[error("unexpected data after the interchange trailer: {found}")]
    TrailingData {
        /// A printable excerpt.
        found: String,
    },
    /// A binary segment (X12 BIN/BDS) whose length is not a number or runs past the input.
    #[error("binary segment {tag}: {reason}")]
    BadBinary {
        /// The tag.
        tag: String,
        /// What is wrong.
        reason: String,
    },
    /// A configured limit was exceeded.
    #[error("{what} is {actual}, over the limit of {limit}")]
    Limit {
        /// Which limit.
        what: &'static str,
        /// The configured limit.
        limit: usize,
        /// The value found.
        actual: usize,
    },
    /// Reading the input failed.
    #[error("I/O error: {0}")]
    Io(String),
}

/// What went wrong and where: the detail behind a [`ParseError`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseErrorDetail {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Where.
    pub location: Location,
}

/// A parse error with its location. Boxed, so the `Result`s on the parser's hot path stay one
/// pointer wide; its fields read through `Deref` (`error.kind`, `error.location`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(Box<ParseErrorDetail>);

impl std::ops::Deref for ParseError {
    type Target = ParseErrorDetail;
    fn deref(&self) -> &ParseErrorDetail {
        &self.0
    }
}

impl std::ops::DerefMut for ParseError {
    fn deref_mut(&mut self) -> &mut ParseErrorDetail {
        &mut self.0
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0.kind, self.0.location)
    }
}

impl std::error::Error for ParseError {}

impl ParseError {
    pub(crate) fn new(kind: ErrorKind, location: Location) -> Self {
        ParseError(Box::new(ParseErrorDetail { kind, location }))
    }

    pub(crate) fn at(kind: ErrorKind, offset: u64) -> Self {
        Self::new(
            kind,
            Location {
                offset,
                ..Location::default()
            },
        )
    }

    /// The detail, owned.
    pub fn into_detail(self) -> ParseErrorDetail {
        *self.0
    }
}

impl From<std::io::Error> for ParseError {
    fn from(e: std::io::Error) -> Self {
        ParseError::at(ErrorKind::Io(e.to_string()), 0)
    }
}

/// A printable excerpt of raw bytes for error messages: at most `max` bytes, non-printable bytes
/// escaped, quoted.
pub(crate) fn excerpt(bytes: &[u8], max: usize) -> String {
    let mut s = String::from("\"");
    for &b in bytes.iter().take(max) {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b if b.is_ascii_graphic() || b == b' ' => s.push(b as char),
            b => s.push_str(&format!("\\x{b:02X}")),
        }
    }
    if bytes.len() > max {
        s.push('…');
    }
    s.push('"');
    s
}
