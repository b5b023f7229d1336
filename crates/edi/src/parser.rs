//! From bytes to interchanges: find a header, read its delimiters, scan segments, and fit them
//! into the envelope (groups, messages) as they come.

use crate::charset::Charset;
use crate::delimiters::{Delimiters, Standard, edifact_delimiters, parse_una, read_isa};
use crate::error::{ErrorKind, Location, ParseError, excerpt};
use crate::interchange::{EnvelopeIssue, EnvelopeIssueKind, GroupSpan, Interchange, MessageSpan};
use crate::limits::Limits;
use crate::scan::{Scanned, Step, scan_segment, skip_trivia};
use crate::segment::{Segment, Tag};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Parses interchanges from a byte slice.
///
/// Strict by default: any envelope defect (a missing trailer, a segment outside a message) is an
/// error. [`Parser::lenient`] keeps such interchanges and records the defects in
/// [`Interchange::issues`], which is what a gateway wants: the validator answers them with the
/// right negative acknowledgement instead of dropping the file.
#[derive(Clone, Copy, Debug, Default)]
pub struct Parser {
    limits: Limits,
    lenient: bool,
}

impl Parser {
    /// A strict parser with default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses these limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Records envelope defects instead of failing on them.
    pub fn lenient(mut self, lenient: bool) -> Self {
        self.lenient = lenient;
        self
    }

    /// Whether envelope defects are recorded instead of failing.
    pub fn is_lenient(&self) -> bool {
        self.lenient
    }

    /// The limits in force.
    pub fn current_limits(&self) -> &Limits {
        &self.limits
    }

    /// Parses every interchange in `data`; the first error ends the parse.
    pub fn parse<'a>(&self, data: &'a [u8]) -> Result<Vec<Interchange<'a>>, ParseError> {
        let mut out = Vec::new();
        for ic in self.interchanges(data) {
            out.push(ic?);
        }
        if out.is_empty() {
            return Err(ParseError::at(ErrorKind::Empty, 0));
        }
        Ok(out)
    }

    /// The interchanges in `data` one at a time; after an error the iterator ends. Interchanges
    /// before a broken one are still returned, so a gateway can process what is good.
    pub fn interchanges<'a>(&self, data: &'a [u8]) -> Interchanges<'a> {
        Interchanges {
            parser: *self,
            data,
            pos: 0,
            number: 0,
            done: false,
        }
    }

    /// Parses the one interchange that starts at `start` (after optional BOM and white space).
    pub(crate) fn parse_at<'a>(
        &self,
        data: &'a [u8],
        start: usize,
        base: u64,
        number: usize,
        eof: bool,
    ) -> Result<Outcome<'a>, ParseError> {
        let p = skip_prefix(data, start);
        if p >= data.len() {
            return Ok(if eof { Outcome::End } else { Outcome::NeedMore });
        }
        let head = &data[p..];
        let loc = |offset: usize| Location {
            interchange: number,
            segment: None,
            tag: None,
            offset: base + offset as u64,
        };
        if head.len() < 3 && !eof {
            return Ok(Outcome::NeedMore);
        }
        if head.starts_with(b"ISA") {
            let layout = match read_isa(head, eof) {
                Ok(l) => l,
                Err(crate::delimiters::IsaProblem::Truncated) if !eof => {
                    return Ok(Outcome::NeedMore);
                }
                Err(e) => return Err(ParseError::new(ErrorKind::BadIsa(e.to_string()), loc(p))),
            };
            let mut build = Build::new(
                Standard::X12,
                layout.delimiters,
                Charset::Auto,
                data,
                base,
                number,
            );
            build.prefix = &data[start..p];
            // ISA is scanned like any segment; the scanner must find the terminator where the
            // layout put it (after ISA16), or a field holds the terminator byte.
            build.isa_terminator = Some(p + layout.terminator_at);
            return build.run(self, p, eof);
        }
        let (una, unb_at, una_raw) = if head.starts_with(b"UNA") {
            if head.len() < 9 {
                if !eof {
                    return Ok(Outcome::NeedMore);
                }
                return Err(ParseError::new(
                    ErrorKind::BadServiceSegment(
                        "UNA must be followed by six service characters".into(),
                    ),
                    loc(p),
                ));
            }
            let (_, advice) = parse_una(head).map_err(|_| {
                ParseError::new(
                    ErrorKind::BadServiceSegment("unreadable UNA".into()),
                    loc(p),
                )
            })?;
            let provisional = edifact_delimiters(Some(advice), None).map_err(|e| {
                ParseError::new(
                    ErrorKind::BadServiceSegment(format!("UNA declares {e}")),
                    loc(p),
                )
            })?;
            let after = skip_trivia(data, p + 9, &provisional);
            if after >= data.len() && !eof {
                return Ok(Outcome::NeedMore);
            }
            (Some(advice), after, Some(&data[p..after]))
        } else if head.starts_with(b"UNB") {
            (None, p, None)
        } else {
            let end = head
                .iter()
                .position(|b| b.is_ascii_whitespace())
                .unwrap_or(head.len())
                .min(20);
            return Err(ParseError::new(
                ErrorKind::NotAnInterchange {
                    found: excerpt(&head[..end.max(head.len().min(3))], 20),
                },
                loc(p),
            ));
        };
        if !data[unb_at..].starts_with(b"UNB") {
            if data.len() - unb_at < 3 && !eof {
                return Ok(Outcome::NeedMore);
            }
            return Err(ParseError::new(
                ErrorKind::BadServiceSegment(format!(
                    "expected UNB after the UNA service string advice, found {}",
                    excerpt(&data[unb_at..], 12)
                )),
                loc(unb_at),
            ));
        }
        // Read UNB with the provisional delimiters to learn the syntax version, which decides
        // the repetition separator when there is no UNA.
        let provisional = edifact_delimiters(una, None).map_err(|e| {
            ParseError::new(
                ErrorKind::BadServiceSegment(format!("UNA declares {e}")),
                loc(p),
            )
        })?;
        let unb = match scan_segment(data, unb_at, &provisional, false, &self.limits, eof) {
            Ok(Step::Segment(s)) if !s.terminated => {
                return Err(ParseError::new(
                    ErrorKind::Unterminated {
                        terminator: crate::delimiters::ByteName(provisional.segment()).to_string(),
                    },
                    loc(s.start),
                ));
            }
            Ok(Step::Segment(s)) => s,
            Ok(Step::NeedMore) => return Ok(Outcome::NeedMore),
            Err(e) => {
                let (kind, at) = *e;
                return Err(ParseError::new(kind, loc(at)));
            }
        };
        let unb_seg = segment_from(data, &unb, base, provisional);
        let syntax = unb_seg.value(1, 1);
        let version = unb_seg.value(1, 2);
        let version = match version.as_ref() {
            [d] if d.is_ascii_digit() => Some(d - b'0'),
            _ => None,
        };
        let delimiters = edifact_delimiters(una, version).map_err(|e| {
            ParseError::new(
                ErrorKind::BadServiceSegment(format!("UNA declares {e}")),
                loc(p),
            )
        })?;
        let charset = Charset::from_syntax_identifier(&syntax);
        let mut build = Build::new(Standard::Edifact, delimiters, charset, data, base, number);
        build.prefix = &data[start..p];
        build.service_advice = una_raw;
        build.run(self, unb_at, eof)
    }
}

/// Skips byte-order marks and white space before an interchange.
fn skip_prefix(data: &[u8], mut p: usize) -> usize {
    loop {
        if data[p..].starts_with(BOM) {
            p += BOM.len();
        } else if p < data.len() && data[p].is_ascii_whitespace() {
            p += 1;
        } else {
            return p;
        }
    }
}

fn segment_from<'a>(data: &'a [u8], s: &Scanned, base: u64, d: Delimiters) -> Segment<'a> {
    Segment::from_parts(
        &data[s.start..s.end],
        base + s.start as u64,
        s.content_end - s.start,
        s.elements_at,
        s.binary_at,
        s.tag,
        d,
    )
}

/// The message for an ISA whose fields hold its own segment terminator.
pub(crate) fn isa_cut_short(d: &Delimiters) -> String {
    format!(
        "the segment terminator {} (the byte after ISA16) also stands inside an ISA field, so the header cannot be read",
        crate::delimiters::ByteName(d.segment())
    )
}

/// ISA's fixed field widths (ISA01–ISA16), which make the header 106 bytes.
const ISA_WIDTHS: [usize; 16] = [2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1];

/// The first ISA field whose width is not the standard's, described; `None` when all are right.
/// Line wrapping inside the header does not count (it is not data).
fn isa_width_problem(isa: &Segment<'_>) -> Option<String> {
    let mut count = 0;
    for (i, e) in isa.elements().enumerate() {
        count += 1;
        let want = *ISA_WIDTHS.get(i)?;
        let got = e.value().len();
        if got != want {
            return Some(format!(
                "ISA{:02} is {got} bytes wide; the standard fixes it at {want} (pad with spaces), \
                 so that ISA is 106 bytes",
                i + 1
            ));
        }
    }
    (count != 16).then(|| format!("ISA has {count} elements; the standard has 16"))
}

/// What parsing at a position gave.
pub(crate) enum Outcome<'a> {
    /// An interchange and the position just after it (boxed: the other variants are empty).
    Interchange(Box<Interchange<'a>>, usize),
    /// Only white space remains.
    End,
    /// The buffer ends inside the interchange.
    NeedMore,
}

/// Fits scanned segments into the envelope.
struct Build<'a> {
    standard: Standard,
    d: Delimiters,
    charset: Charset,
    data: &'a [u8],
    base: u64,
    number: usize,
    prefix: &'a [u8],
    service_advice: Option<&'a [u8]>,
    segments: Vec<Segment<'a>>,
    groups: Vec<GroupSpan>,
    messages: Vec<MessageSpan>,
    loose: Vec<usize>,
    issues: Vec<EnvelopeIssue>,
    open_group: Option<usize>,
    open_message: Option<usize>,
    /// X12: where ISA's terminator must stand.
    isa_terminator: Option<usize>,
}

/// The tags that build the envelope, per standard.
struct EnvelopeTags {
    interchange_trailer: Tag,
    group_header: Tag,
    group_trailer: Tag,
    message_header: Tag,
    message_trailer: Tag,
    /// Segments allowed directly inside the interchange.
    service: &'static [Tag],
}

const X12_TAGS: EnvelopeTags = EnvelopeTags {
    interchange_trailer: Tag::from_static(b"IEA"),
    group_header: Tag::from_static(b"GS"),
    group_trailer: Tag::from_static(b"GE"),
    message_header: Tag::from_static(b"ST"),
    message_trailer: Tag::from_static(b"SE"),
    service: &[
        Tag::from_static(b"TA1"),
        Tag::from_static(b"ISB"),
        Tag::from_static(b"ISE"),
        Tag::from_static(b"TA3"),
    ],
};

const EDIFACT_TAGS: EnvelopeTags = EnvelopeTags {
    interchange_trailer: Tag::from_static(b"UNZ"),
    group_header: Tag::from_static(b"UNG"),
    group_trailer: Tag::from_static(b"UNE"),
    message_header: Tag::from_static(b"UNH"),
    message_trailer: Tag::from_static(b"UNT"),
    service: &[],
};

impl<'a> Build<'a> {
    fn new(
        standard: Standard,
        d: Delimiters,
        charset: Charset,
        data: &'a [u8],
        base: u64,
        number: usize,
    ) -> Self {
        Build {
            standard,
            d,
            charset,
            data,
            base,
            number,
            prefix: &[],
            service_advice: None,
            segments: Vec::with_capacity(64),
            groups: Vec::new(),
            messages: Vec::new(),
            loose: Vec::new(),
            issues: Vec::new(),
            open_group: None,
            open_message: None,
            isa_terminator: None,
        }
    }

    fn tags(&self) -> &'static EnvelopeTags {
        match self.standard {
            Standard::X12 => &X12_TAGS,
            Standard::Edifact => &EDIFACT_TAGS,
        }
    }

    fn error(&self, kind: ErrorKind, at: usize, tag: Option<String>) -> ParseError {
        ParseError::new(
            kind,
            Location {
                interchange: self.number,
                segment: Some(self.segments.len() + 1),
                tag,
                offset: self.base + at as u64,
            },
        )
    }

    fn issue(&mut self, kind: EnvelopeIssueKind, idx: usize) {
        // An index one past the end (a level closed by the end of input) names the last segment.
        let idx = idx.min(self.segments.len() - 1);
        let s = &self.segments[idx];
        self.issues.push(EnvelopeIssue {
            kind,
            segment: idx + 1,
            tag: s.tag().to_string(),
            offset: s.offset(),
        });
    }

    /// Does a new interchange header start at `pos`?
    #[inline]
    fn new_header_at(&self, pos: usize) -> bool {
        let Some(head) = self.data[pos..].first_chunk::<3>() else {
            return false;
        };
        // Any header ends the open interchange, whichever syntax it opens.
        head == b"ISA" || head == b"UNA" || head == b"UNB"
    }

    fn run(
        mut self,
        parser: &Parser,
        header_at: usize,
        eof: bool,
    ) -> Result<Outcome<'a>, ParseError> {
        let binary = self.standard == Standard::X12;
        let limits = parser.limits;
        let tags = self.tags();
        let mut pos = header_at;
        let mut first = true;
        let end = loop {
            if pos >= self.data.len() || (!eof && self.data.len() - pos < 3) {
                if !eof {
                    return Ok(Outcome::NeedMore);
                }
                if pos >= self.data.len() {
                    // Open levels run to the end of the input.
                    let end = self.segments.len();
                    self.close_all(end);
                    self.issue(EnvelopeIssueKind::MissingInterchangeTrailer, 0);
                    break pos;
                }
            }
            if !first && self.new_header_at(pos) {
                let end = self.segments.len();
                self.close_all(end);
                self.issue(EnvelopeIssueKind::MissingInterchangeTrailer, 0);
                break pos;
            }
            let scanned = match scan_segment(self.data, pos, &self.d, binary, &limits, eof) {
                Ok(Step::Segment(s)) => s,
                Ok(Step::NeedMore) => return Ok(Outcome::NeedMore),
                Err(e) => {
                    let (kind, at) = *e;
                    return Err(self.error(kind, at, None));
                }
            };
            if !scanned.terminated && (first || scanned.tag != tags.interchange_trailer) {
                // Only a final trailer may lack its terminator (files that end right after IEA).
                return Err(self.error(
                    ErrorKind::Unterminated {
                        terminator: crate::delimiters::ByteName(self.d.segment()).to_string(),
                    },
                    scanned.start,
                    Some(scanned.tag.to_string()),
                ));
            }
            if self.segments.len() >= limits.max_segments {
                return Err(self.error(
                    ErrorKind::Limit {
                        what: "segment count",
                        limit: limits.max_segments,
                        actual: self.segments.len() + 1,
                    },
                    pos,
                    Some(scanned.tag.to_string()),
                ));
            }
            let idx = self.segments.len();
            self.segments
                .push(segment_from(self.data, &scanned, self.base, self.d));
            pos = scanned.end;
            if first {
                first = false;
                if let Some(t) = self.isa_terminator
                    && scanned.term != t
                {
                    return Err(self.error(
                        ErrorKind::BadIsa(isa_cut_short(&self.d)),
                        scanned.start,
                        Some("ISA".into()),
                    ));
                }
                if self.standard == Standard::X12
                    && !parser.lenient
                    && let Some(problem) = isa_width_problem(&self.segments[0])
                {
                    return Err(self.error(
                        ErrorKind::BadIsa(problem),
                        scanned.start,
                        Some("ISA".into()),
                    ));
                }
                continue;
            }
            let tag = scanned.tag;
            if tag == tags.interchange_trailer {
                self.close_all(idx);
                if !eof && pos >= self.data.len() {
                    // White space after the trailer may go on in the next read.
                    return Ok(Outcome::NeedMore);
                }
                break pos;
            } else if tag == tags.group_header {
                self.group_header(idx);
            } else if tag == tags.group_trailer {
                self.group_trailer(idx);
            } else if tag == tags.message_header {
                self.message_header(idx);
            } else if tag == tags.message_trailer {
                self.message_trailer(idx);
            } else if let Some(m) = self.open_message {
                self.messages[m].end = idx + 1;
            } else {
                if !tags.service.contains(&tag) || self.open_group.is_some() {
                    self.issue(EnvelopeIssueKind::OutsideMessage, idx);
                }
                self.loose.push(idx);
            }
        };
        let trailer = self
            .segments
            .last()
            .filter(|s| s.tag() == tags.interchange_trailer && self.segments.len() > 1)
            .map(|_| self.segments.len() - 1);
        if !parser.lenient
            && let Some(issue) = self.issues.first().cloned()
        {
            return Err(issue.into_error(self.standard, self.number));
        }
        let offset = self.base
            + (header_at - self.prefix.len() - self.service_advice.map_or(0, <[u8]>::len)) as u64;
        Ok(Outcome::Interchange(
            Box::new(Interchange {
                standard: self.standard,
                delimiters: self.d,
                charset: self.charset,
                offset,
                prefix: self.prefix,
                service_advice: self.service_advice,
                segments: self.segments,
                groups: self.groups,
                messages: self.messages,
                loose: self.loose,
                trailer,
                issues: self.issues,
                number: self.number,
            }),
            end,
        ))
    }

    /// Closes the open message before segment `at` (exclusive; `segments.len()` at the end of
    /// input), noting the missing trailer.
    fn close_message(&mut self, at: usize) {
        if let Some(m) = self.open_message.take() {
            self.messages[m].end = at;
            self.issue(EnvelopeIssueKind::MissingMessageTrailer, at);
        }
    }

    fn close_group(&mut self, at: usize) {
        if let Some(g) = self.open_group.take() {
            self.groups[g].messages.end = self.messages.len();
            self.issue(EnvelopeIssueKind::MissingGroupTrailer, at);
        }
    }

    fn close_all(&mut self, at: usize) {
        self.close_message(at);
        self.close_group(at);
    }

    fn group_header(&mut self, idx: usize) {
        self.close_all(idx);
        if self.standard == Standard::Edifact && self.groups.is_empty() && !self.messages.is_empty()
        {
            self.issue(EnvelopeIssueKind::MixedGroups, idx);
        }
        let n = self.messages.len();
        self.groups.push(GroupSpan {
            header: idx,
            trailer: None,
            messages: n..n,
        });
        self.open_group = Some(self.groups.len() - 1);
    }

    fn group_trailer(&mut self, idx: usize) {
        self.close_message(idx);
        match self.open_group.take() {
            Some(g) => {
                self.groups[g].trailer = Some(idx);
                self.groups[g].messages.end = self.messages.len();
            }
            None => {
                self.issue(EnvelopeIssueKind::UnexpectedTrailer, idx);
                self.loose.push(idx);
            }
        }
    }

    fn message_header(&mut self, idx: usize) {
        self.close_message(idx);
        if self.open_group.is_none() {
            if self.standard == Standard::X12 {
                self.issue(EnvelopeIssueKind::MessageOutsideGroup, idx);
            } else if !self.groups.is_empty() {
                self.issue(EnvelopeIssueKind::MixedGroups, idx);
            }
        }
        self.messages.push(MessageSpan {
            header: idx,
            end: idx + 1,
            trailer: None,
            group: self.open_group,
        });
        self.open_message = Some(self.messages.len() - 1);
    }

    fn message_trailer(&mut self, idx: usize) {
        match self.open_message.take() {
            Some(m) => {
                self.messages[m].trailer = Some(idx);
                self.messages[m].end = idx + 1;
            }
            None => {
                self.issue(EnvelopeIssueKind::UnexpectedTrailer, idx);
                self.loose.push(idx);
            }
        }
    }
}

/// Iterator over the interchanges of an in-memory input.
#[derive(Debug)]
pub struct Interchanges<'a> {
    parser: Parser,
    data: &'a [u8],
    pos: usize,
    number: usize,
    done: bool,
}

impl<'a> Iterator for Interchanges<'a> {
    type Item = Result<Interchange<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.number += 1;
        let r = self
            .parser
            .parse_at(self.data, self.pos, 0, self.number, true);
        match r {
            Ok(Outcome::Interchange(ic, end)) => {
                self.pos = end;
                Some(Ok(*ic))
            }
            Ok(Outcome::End) => {
                self.done = true;
                if self.number == 1 {
                    Some(Err(ParseError::at(ErrorKind::Empty, 0)))
                } else {
                    None
                }
            }
            Ok(Outcome::NeedMore) => {
                // Unreachable with eof = true; answer with a truncation error rather than loop.
                self.done = true;
                Some(Err(ParseError::at(
                    ErrorKind::Unterminated {
                        terminator: "segment terminator".into(),
                    },
                    self.pos as u64,
                )))
            }
            Err(mut e) => {
                self.done = true;
                if self.number > 1
                    && let ErrorKind::NotAnInterchange { found } = &e.kind
                {
                    e.kind = ErrorKind::TrailingData {
                        found: found.clone(),
                    };
                }
                Some(Err(e))
            }
        }
    }
}

/// Parses every interchange in `data` strictly with default limits.
pub fn parse(data: &[u8]) -> Result<Vec<Interchange<'_>>, ParseError> {
    Parser::new().parse(data)
}
