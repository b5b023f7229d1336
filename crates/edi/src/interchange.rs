//! The envelope model: interchange → group → message → segment, all borrowing the input.
//!
//! An interchange keeps its segments in one flat vector in file order; groups and messages are
//! index ranges into it. A message's segments are therefore a contiguous slice, and writing the
//! vector out in order is the byte-exact round trip.

use std::borrow::Cow;
use std::io::{self, Write};
use std::ops::Range;

use crate::charset::Charset;
use crate::delimiters::{Delimiters, Standard};
use crate::error::{ErrorKind, Location, ParseError};
use crate::segment::Segment;

/// An envelope defect the lenient parser recorded instead of failing: a missing trailer, a segment
/// where the envelope does not allow one. The validator turns these into acknowledgement codes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvelopeIssue {
    /// What is wrong and what was expected.
    pub kind: EnvelopeIssueKind,
    /// 1-based segment position in the interchange where it was noticed.
    pub segment: usize,
    /// Tag of that segment (or of the header that lacks its trailer).
    pub tag: String,
    /// Absolute byte offset.
    pub offset: u64,
}

/// The kinds of envelope defect.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvelopeIssueKind {
    /// The interchange trailer (IEA/UNZ) is missing.
    MissingInterchangeTrailer,
    /// A group trailer (GE/UNE) is missing.
    MissingGroupTrailer,
    /// A message trailer (SE/UNT) is missing.
    MissingMessageTrailer,
    /// A trailer with no open header (GE without GS, SE without ST, …).
    UnexpectedTrailer,
    /// A data segment outside any message.
    OutsideMessage,
    /// A message outside a group where the syntax needs one (X12 ST without GS).
    MessageOutsideGroup,
    /// EDIFACT: groups and ungrouped messages mixed in one interchange.
    MixedGroups,
}

impl EnvelopeIssue {
    /// A human sentence for the issue.
    pub fn describe(&self, standard: Standard) -> String {
        let (ic, gr, msg) = match standard {
            Standard::X12 => ("IEA", "GE", "SE"),
            Standard::Edifact => ("UNZ", "UNE", "UNT"),
        };
        match self.kind {
            EnvelopeIssueKind::MissingInterchangeTrailer => {
                format!("interchange trailer {ic} is missing")
            }
            EnvelopeIssueKind::MissingGroupTrailer => format!(
                "group trailer {gr} is missing before {}: expected {gr} to close the open group",
                self.tag
            ),
            EnvelopeIssueKind::MissingMessageTrailer => format!(
                "message trailer {msg} is missing before {}: expected {msg} to close the open message",
                self.tag
            ),
            EnvelopeIssueKind::UnexpectedTrailer => {
                format!(
                    "{} closes nothing: there is no open header for it",
                    self.tag
                )
            }
            EnvelopeIssueKind::OutsideMessage => format!(
                "{} stands outside any message: expected a message header or a trailer",
                self.tag
            ),
            EnvelopeIssueKind::MessageOutsideGroup => {
                format!(
                    "{} stands outside a functional group: expected GS before it",
                    self.tag
                )
            }
            EnvelopeIssueKind::MixedGroups => {
                "groups (UNG) and messages outside groups are mixed in one interchange".to_string()
            }
        }
    }

    pub(crate) fn into_error(self, standard: Standard, interchange: usize) -> ParseError {
        let kind = match self.kind {
            EnvelopeIssueKind::MissingInterchangeTrailer => ErrorKind::MissingInterchangeTrailer {
                trailer: match standard {
                    Standard::X12 => "IEA",
                    Standard::Edifact => "UNZ",
                },
            },
            _ => ErrorKind::Envelope(self.describe(standard)),
        };
        ParseError::new(
            kind,
            Location {
                interchange,
                segment: Some(self.segment),
                tag: Some(self.tag),
                offset: self.offset,
            },
        )
    }
}

#[derive(Clone, Debug)]
pub(crate) struct GroupSpan {
    pub header: usize,
    pub trailer: Option<usize>,
    pub messages: Range<usize>,
}

#[derive(Clone, Debug)]
pub(crate) struct MessageSpan {
    pub header: usize,
    /// Exclusive end index (after the trailer when present).
    pub end: usize,
    pub trailer: Option<usize>,
    pub group: Option<usize>,
}

/// One interchange (`ISA`…`IEA`, or `UNB`…`UNZ` with an optional `UNA` before it), borrowing the input.
#[derive(Clone, Debug)]
pub struct Interchange<'a> {
    pub(crate) standard: Standard,
    pub(crate) delimiters: Delimiters,
    pub(crate) charset: Charset,
    pub(crate) offset: u64,
    pub(crate) prefix: &'a [u8],
    pub(crate) service_advice: Option<&'a [u8]>,
    pub(crate) segments: Vec<Segment<'a>>,
    pub(crate) groups: Vec<GroupSpan>,
    pub(crate) messages: Vec<MessageSpan>,
    pub(crate) loose: Vec<usize>,
    pub(crate) trailer: Option<usize>,
    pub(crate) issues: Vec<EnvelopeIssue>,
    pub(crate) number: usize,
}

/// An identity in an envelope: id and, where the syntax has one, its qualifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Party {
    /// The id, with X12's fixed-width padding removed.
    pub id: String,
    /// The qualifier (ISA05/07, UNB 0007), empty when absent.
    pub qualifier: String,
}

impl<'a> Interchange<'a> {
    /// X12 or EDIFACT.
    pub fn standard(&self) -> Standard {
        self.standard
    }

    /// The delimiters in force.
    pub fn delimiters(&self) -> &Delimiters {
        &self.delimiters
    }

    /// The character set values are decoded with.
    pub fn charset(&self) -> Charset {
        self.charset
    }

    /// 1-based number of the interchange in its file.
    pub fn number(&self) -> usize {
        self.number
    }

    /// Absolute byte offset of the interchange's first byte (including any BOM or blank lines
    /// before its header).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The header segment (ISA or UNB).
    pub fn header(&self) -> &Segment<'a> {
        &self.segments[0]
    }

    /// The trailer segment (IEA or UNZ), if present.
    pub fn trailer(&self) -> Option<&Segment<'a>> {
        self.trailer.map(|i| &self.segments[i])
    }

    /// The `UNA` service string advice exactly as written, if present.
    pub fn service_advice(&self) -> Option<&'a [u8]> {
        self.service_advice
    }

    /// Every segment in file order, header to trailer.
    pub fn segments(&self) -> &[Segment<'a>] {
        &self.segments
    }

    /// Segments directly inside the interchange, outside groups and messages (X12 TA1, ISB, ISE;
    /// stray segments the envelope issues name).
    pub fn service_segments(&self) -> impl Iterator<Item = &Segment<'a>> {
        self.loose.iter().map(|i| &self.segments[*i])
    }

    /// The functional groups (GS…GE, UNG…UNE).
    pub fn groups(&self) -> impl ExactSizeIterator<Item = Group<'_, 'a>> {
        (0..self.groups.len()).map(move |idx| Group { ic: self, idx })
    }

    /// Every message (ST…SE, UNH…UNT) in file order, grouped or not.
    pub fn messages(&self) -> impl ExactSizeIterator<Item = Message<'_, 'a>> {
        (0..self.messages.len()).map(move |idx| Message { ic: self, idx })
    }

    /// Envelope defects found by the lenient parser (always empty after a strict parse).
    pub fn issues(&self) -> &[EnvelopeIssue] {
        &self.issues
    }

    /// The whole interchange as it stands in the input.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = self.write_to(&mut out);
        out
    }

    /// Writes the interchange back, byte for byte as it was read.
    pub fn write_to<W: Write>(&self, w: &mut W) -> io::Result<()> {
        w.write_all(self.prefix)?;
        if let Some(una) = self.service_advice {
            w.write_all(una)?;
        }
        for s in &self.segments {
            w.write_all(s.raw())?;
        }
        Ok(())
    }

    fn header_text(&self, element: usize, component: usize) -> String {
        self.header().text(element, component, self.charset)
    }

    /// The sender (ISA06 with qualifier ISA05; UNB S002 0004 with 0007).
    pub fn sender(&self) -> Party {
        match self.standard {
            Standard::X12 => Party {
                id: self.header_text(6, 1).trim_end().to_string(),
                qualifier: self.header_text(5, 1).trim_end().to_string(),
            },
            Standard::Edifact => Party {
                id: self.header_text(2, 1),
                qualifier: self.header_text(2, 2),
            },
        }
    }

    /// The receiver (ISA08 with ISA07; UNB S003 0010 with 0007).
    pub fn receiver(&self) -> Party {
        match self.standard {
            Standard::X12 => Party {
                id: self.header_text(8, 1).trim_end().to_string(),
                qualifier: self.header_text(7, 1).trim_end().to_string(),
            },
            Standard::Edifact => Party {
                id: self.header_text(3, 1),
                qualifier: self.header_text(3, 2),
            },
        }
    }

    /// The interchange control number (ISA13, UNB 0020).
    pub fn control_number(&self) -> String {
        match self.standard {
            Standard::X12 => self.header_text(13, 1),
            Standard::Edifact => self.header_text(5, 1),
        }
    }

    /// Preparation date as written (ISA09 `YYMMDD`; UNB S004 0017 `YYMMDD` or `CCYYMMDD`).
    pub fn date(&self) -> String {
        match self.standard {
            Standard::X12 => self.header_text(9, 1),
            Standard::Edifact => self.header_text(4, 1),
        }
    }

    /// Preparation time as written (ISA10, UNB S004 0019).
    pub fn time(&self) -> String {
        match self.standard {
            Standard::X12 => self.header_text(10, 1),
            Standard::Edifact => self.header_text(4, 2),
        }
    }

    /// The syntax version: ISA12 (`00401`, `00501`) or UNB 0002 (`1`–`4`).
    pub fn version(&self) -> String {
        match self.standard {
            Standard::X12 => self.header_text(12, 1),
            Standard::Edifact => self.header_text(1, 2),
        }
    }

    /// EDIFACT's syntax identifier (UNB 0001, `UNOA`…); empty for X12.
    pub fn syntax_identifier(&self) -> String {
        match self.standard {
            Standard::X12 => String::new(),
            Standard::Edifact => self.header_text(1, 1),
        }
    }

    /// Whether the sender asks for an interchange-level acknowledgement (ISA14 `1`, UNB 0031 `1`).
    pub fn acknowledgement_requested(&self) -> bool {
        match self.standard {
            Standard::X12 => self.header_text(14, 1) == "1",
            Standard::Edifact => self.header_text(9, 1) == "1",
        }
    }

    /// Whether the interchange is marked as a test (ISA15 `T`, UNB 0035 `1`).
    pub fn is_test(&self) -> bool {
        match self.standard {
            Standard::X12 => self.header_text(15, 1) == "T",
            Standard::Edifact => self.header_text(11, 1) == "1",
        }
    }
}

/// A functional group view.
#[derive(Clone, Copy, Debug)]
pub struct Group<'i, 'a> {
    ic: &'i Interchange<'a>,
    idx: usize,
}

impl<'i, 'a> Group<'i, 'a> {
    fn span(&self) -> &'i GroupSpan {
        &self.ic.groups[self.idx]
    }

    /// 0-based index of the group in its interchange.
    pub fn index(&self) -> usize {
        self.idx
    }

    /// GS or UNG.
    pub fn header(&self) -> &'i Segment<'a> {
        &self.ic.segments[self.span().header]
    }

    /// GE or UNE, if present.
    pub fn trailer(&self) -> Option<&'i Segment<'a>> {
        self.span().trailer.map(|i| &self.ic.segments[i])
    }

    /// The group's messages.
    pub fn messages(&self) -> impl ExactSizeIterator<Item = Message<'i, 'a>> + use<'i, 'a> {
        let ic = self.ic;
        self.span()
            .messages
            .clone()
            .map(move |idx| Message { ic, idx })
    }

    fn text(&self, e: usize, c: usize) -> String {
        self.header().text(e, c, self.ic.charset)
    }

    /// X12 functional identifier code (GS01, `PO`, `IN`); EDIFACT message group id (UNG 0038).
    pub fn functional_id(&self) -> String {
        self.text(1, 1)
    }

    /// The group control number (GS06, UNG 0048).
    pub fn control_number(&self) -> String {
        match self.ic.standard {
            Standard::X12 => self.text(6, 1),
            Standard::Edifact => self.text(5, 1),
        }
    }

    /// Application sender (GS02; UNG S006 0040 with its qualifier).
    pub fn sender(&self) -> Party {
        match self.ic.standard {
            Standard::X12 => Party {
                id: self.text(2, 1),
                qualifier: String::new(),
            },
            Standard::Edifact => Party {
                id: self.text(2, 1),
                qualifier: self.text(2, 2),
            },
        }
    }

    /// Application receiver (GS03; UNG S007).
    pub fn receiver(&self) -> Party {
        match self.ic.standard {
            Standard::X12 => Party {
                id: self.text(3, 1),
                qualifier: String::new(),
            },
            Standard::Edifact => Party {
                id: self.text(3, 1),
                qualifier: self.text(3, 2),
            },
        }
    }

    /// Date as written (GS04; UNG S004 0017).
    pub fn date(&self) -> String {
        match self.ic.standard {
            Standard::X12 => self.text(4, 1),
            Standard::Edifact => self.text(4, 1),
        }
    }

    /// Time as written (GS05; UNG S004 0019).
    pub fn time(&self) -> String {
        match self.ic.standard {
            Standard::X12 => self.text(5, 1),
            Standard::Edifact => self.text(4, 2),
        }
    }

    /// The version (GS08 `004010`, `005010X222A1`; UNG S008 `D:96A`).
    pub fn version(&self) -> String {
        match self.ic.standard {
            Standard::X12 => self.text(8, 1),
            Standard::Edifact => {
                let v = self.text(7, 1);
                let r = self.text(7, 2);
                if r.is_empty() { v } else { format!("{v}:{r}") }
            }
        }
    }
}

/// A message (transaction set) view.
#[derive(Clone, Copy, Debug)]
pub struct Message<'i, 'a> {
    ic: &'i Interchange<'a>,
    idx: usize,
}

impl<'i, 'a> Message<'i, 'a> {
    fn span(&self) -> &'i MessageSpan {
        &self.ic.messages[self.idx]
    }

    /// 0-based index of the message in its interchange.
    pub fn index(&self) -> usize {
        self.idx
    }

    /// The interchange that holds the message.
    pub fn interchange(&self) -> &'i Interchange<'a> {
        self.ic
    }

    /// The group that holds the message, if any.
    pub fn group(&self) -> Option<Group<'i, 'a>> {
        self.span().group.map(|idx| Group { ic: self.ic, idx })
    }

    /// ST or UNH.
    pub fn header(&self) -> &'i Segment<'a> {
        &self.ic.segments[self.span().header]
    }

    /// SE or UNT, if present.
    pub fn trailer(&self) -> Option<&'i Segment<'a>> {
        self.span().trailer.map(|i| &self.ic.segments[i])
    }

    /// Every segment from the header through the trailer.
    pub fn segments(&self) -> &'i [Segment<'a>] {
        let s = self.span();
        &self.ic.segments[s.header..s.end]
    }

    /// 1-based position of the header segment in the interchange.
    pub fn position(&self) -> usize {
        self.span().header + 1
    }

    /// The segments between header and trailer.
    pub fn body(&self) -> &'i [Segment<'a>] {
        let s = self.span();
        let end = if s.trailer.is_some() {
            s.end - 1
        } else {
            s.end
        };
        &self.ic.segments[s.header + 1..end]
    }

    fn text(&self, e: usize, c: usize) -> String {
        self.header().text(e, c, self.ic.charset)
    }

    /// The message type: ST01 (`850`) or UNH S009 0065 (`ORDERS`).
    pub fn message_type(&self) -> String {
        match self.ic.standard {
            Standard::X12 => self.text(1, 1),
            Standard::Edifact => self.text(2, 1),
        }
    }

    /// The message control number (ST02, UNH 0062).
    pub fn control_number(&self) -> String {
        match self.ic.standard {
            Standard::X12 => self.text(2, 1),
            Standard::Edifact => self.text(1, 1),
        }
    }

    /// The message version: ST03 when present, else the group's GS08 (X12); UNH S009
    /// `version:release:agency[:association]` (EDIFACT, e.g. `D:96A:UN:EAN008`).
    pub fn version(&self) -> String {
        match self.ic.standard {
            Standard::X12 => {
                let st03 = self.text(3, 1);
                if st03.is_empty() {
                    self.group().map(|g| g.version()).unwrap_or_default()
                } else {
                    st03
                }
            }
            Standard::Edifact => self
                .header()
                .element(2)
                .map(|e| {
                    e.components()
                        .skip(1)
                        .map(|c| c.text(self.ic.charset).into_owned())
                        .collect::<Vec<_>>()
                        .join(":")
                })
                .unwrap_or_default(),
        }
    }

    /// The unescaped value of `tag` element `e` component `c` in the first segment with that tag.
    pub fn first_value(&self, tag: &str, e: usize, c: usize) -> Option<Cow<'a, [u8]>> {
        self.segments()
            .iter()
            .find(|s| s.tag() == tag)
            .map(|s| s.value(e, c))
    }
}
