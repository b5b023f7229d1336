//! Writing EDI.
//!
//! A parsed [`Interchange`](crate::Interchange) writes itself back byte for byte
//! ([`Interchange::write_to`](crate::Interchange::write_to)). New documents — acknowledgements,
//! outbound orders — are built here: [`SegmentBuf`] holds owned values, and [`DocumentWriter`]
//! serialises them with any delimiter set, wraps them in envelopes and keeps the counts and
//! control numbers of the trailers right. A value containing a delimiter is escaped with the
//! release character (EDIFACT) or refused with a clear error (X12 has no escape).

use std::io;

use crate::delimiters::{ByteName, Delimiters, Standard};
use crate::segment::{Segment, Tag};

/// Why a document could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// A value contains a delimiter and the syntax has no release character.
    #[error(
        "{tag}{element:02}: the value contains the delimiter {byte}, which X12 cannot escape; \
         remove it or choose delimiters the data does not use"
    )]
    DelimiterInValue {
        /// Segment tag.
        tag: String,
        /// 1-based element position.
        element: usize,
        /// The offending byte.
        byte: ByteName,
    },
    /// The tag is not 2–3 letters or digits.
    #[error("invalid segment tag {0:?}: expected 2 or 3 letters or digits")]
    BadTag(String),
    /// An envelope call came in the wrong order (a message outside an interchange, …).
    #[error("envelope out of order: {0}")]
    Order(&'static str),
    /// The output failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

/// One element: repetitions of components (a simple element is one repetition of one component).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ElementBuf {
    repetitions: Vec<Vec<Vec<u8>>>,
    binary: bool,
}

impl ElementBuf {
    /// A simple element.
    pub fn simple(value: impl Into<Vec<u8>>) -> Self {
        ElementBuf {
            repetitions: vec![vec![value.into()]],
            binary: false,
        }
    }

    /// A composite element.
    pub fn composite<I, V>(components: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<Vec<u8>>,
    {
        ElementBuf {
            repetitions: vec![components.into_iter().map(Into::into).collect()],
            binary: false,
        }
    }

    /// A repeated element: each repetition a list of components.
    pub fn repeated(repetitions: Vec<Vec<Vec<u8>>>) -> Self {
        ElementBuf {
            repetitions,
            binary: false,
        }
    }

    /// Binary data (the data element of an X12 BIN segment), written unescaped.
    pub fn binary(data: impl Into<Vec<u8>>) -> Self {
        ElementBuf {
            repetitions: vec![vec![data.into()]],
            binary: true,
        }
    }

    /// The repetitions, each a list of components.
    pub fn repetitions(&self) -> &[Vec<Vec<u8>>] {
        &self.repetitions
    }

    fn is_empty(&self) -> bool {
        self.repetitions.iter().all(|r| r.iter().all(Vec::is_empty))
    }
}

/// An owned segment, built or copied from a parsed one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentBuf {
    tag: Tag,
    elements: Vec<ElementBuf>,
}

impl SegmentBuf {
    /// A segment with no elements yet.
    pub fn new(tag: &str) -> Result<Self, WriteError> {
        Ok(SegmentBuf {
            tag: Tag::new(tag.as_bytes()).ok_or_else(|| WriteError::BadTag(tag.to_string()))?,
            elements: Vec::new(),
        })
    }

    /// Appends a simple element.
    pub fn simple(mut self, value: impl Into<Vec<u8>>) -> Self {
        self.elements.push(ElementBuf::simple(value));
        self
    }

    /// Appends a composite element.
    pub fn composite<I, V>(mut self, components: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<Vec<u8>>,
    {
        self.elements.push(ElementBuf::composite(components));
        self
    }

    /// Appends any element.
    pub fn push(mut self, element: ElementBuf) -> Self {
        self.elements.push(element);
        self
    }

    /// The tag.
    pub fn tag(&self) -> Tag {
        self.tag
    }

    /// The elements.
    pub fn elements(&self) -> &[ElementBuf] {
        &self.elements
    }

    /// Mutable access to the elements, to change a copied segment.
    pub fn elements_mut(&mut self) -> &mut Vec<ElementBuf> {
        &mut self.elements
    }

    /// Copies a parsed segment's values (unescaped), so it can be changed and written again.
    pub fn from_segment(segment: &Segment<'_>) -> Self {
        let elements = segment
            .elements()
            .map(|e| {
                if e.is_binary() {
                    return ElementBuf::binary(e.raw());
                }
                ElementBuf::repeated(
                    e.repetitions()
                        .map(|r| r.components().map(|c| c.value().into_owned()).collect())
                        .collect(),
                )
            })
            .collect();
        SegmentBuf {
            tag: segment.tag(),
            elements,
        }
    }
}

/// Serialises segments with one delimiter set.
#[derive(Debug)]
pub struct SegmentWriter {
    delimiters: Delimiters,
    /// Written after each terminator (`""`, `"\n"`, `"\r\n"`).
    line_ending: &'static [u8],
    /// Keep trailing empty elements (needed for fixed headers such as ISA).
    trim: bool,
}

impl SegmentWriter {
    /// A writer with no line break after segments and trailing empty elements trimmed.
    pub fn new(delimiters: Delimiters) -> Self {
        SegmentWriter {
            delimiters,
            line_ending: b"",
            trim: true,
        }
    }

    /// Puts `ending` (`"\n"` or `"\r\n"`) after every terminator.
    pub fn line_ending(mut self, ending: &'static str) -> Self {
        self.line_ending = ending.as_bytes();
        self
    }

    /// The delimiters.
    pub fn delimiters(&self) -> &Delimiters {
        &self.delimiters
    }

    /// Appends one segment to `out`.
    pub fn write(&self, segment: &SegmentBuf, out: &mut Vec<u8>) -> Result<(), WriteError> {
        let d = &self.delimiters;
        out.extend_from_slice(segment.tag.as_bytes());
        let mut count = segment.elements.len();
        if self.trim {
            while count > 0 && segment.elements[count - 1].is_empty() {
                count -= 1;
            }
        }
        for (i, element) in segment.elements[..count].iter().enumerate() {
            out.push(d.element());
            if element.binary {
                if let Some(data) = element.repetitions.first().and_then(|r| r.first()) {
                    out.extend_from_slice(data);
                }
                continue;
            }
            let mut reps = element.repetitions.len();
            while reps > 1 && element.repetitions[reps - 1].iter().all(Vec::is_empty) {
                reps -= 1;
            }
            for (r, components) in element.repetitions[..reps].iter().enumerate() {
                if r > 0 {
                    // A repetition separator exists whenever there is more than one repetition;
                    // without one, extra repetitions are a caller error.
                    let Some(rep) = d.repetition() else {
                        return Err(WriteError::Order(
                            "repeated element but no repetition separator",
                        ));
                    };
                    out.push(rep);
                }
                let mut comps = components.len();
                while comps > 1 && components[comps - 1].is_empty() {
                    comps -= 1;
                }
                for (c, value) in components[..comps].iter().enumerate() {
                    if c > 0 {
                        out.push(d.component());
                    }
                    self.escape(segment.tag, i + 1, value, out)?;
                }
            }
        }
        out.push(d.segment());
        out.extend_from_slice(d.segment_tail());
        out.extend_from_slice(self.line_ending);
        Ok(())
    }

    fn escape(
        &self,
        tag: Tag,
        element: usize,
        value: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), WriteError> {
        let d = &self.delimiters;
        if !value.iter().any(|b| d.is_special(*b)) {
            out.extend_from_slice(value);
            return Ok(());
        }
        let Some(release) = d.release() else {
            let byte = value
                .iter()
                .copied()
                .find(|b| d.is_special(*b))
                .unwrap_or(0);
            return Err(WriteError::DelimiterInValue {
                tag: tag.to_string(),
                element,
                byte: ByteName(byte),
            });
        };
        for &b in value {
            if d.is_special(b) {
                out.push(release);
            }
            out.push(b);
        }
        Ok(())
    }
}

/// The interchange header fields of a new document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterchangeHeader {
    /// Sender id and qualifier.
    pub sender: (String, String),
    /// Receiver id and qualifier.
    pub receiver: (String, String),
    /// Date: `YYMMDD` for X12, `YYMMDD` or `CCYYMMDD` for EDIFACT.
    pub date: String,
    /// Time `HHMM`.
    pub time: String,
    /// Interchange control number.
    pub control_number: String,
    /// X12 ISA12 (`00401`, `00501`) or the EDIFACT syntax identifier and version (`UNOC:3`).
    pub version: String,
    /// Ask for an interchange acknowledgement (ISA14, UNB 0031).
    pub ack_requested: bool,
    /// Mark as test (ISA15 `T`, UNB 0035 `1`).
    pub test: bool,
}

#[derive(Debug)]
struct Open {
    control: String,
    count: usize,
}

/// Writes complete interchanges: headers, segments, and trailers with correct counts and
/// control numbers.
///
/// ```
/// use edi::writer::{DocumentWriter, InterchangeHeader, SegmentBuf};
/// use edi::{Delimiters, Standard};
/// let header = InterchangeHeader {
///     sender: ("SENDER".into(), "ZZ".into()),
///     receiver: ("RECEIVER".into(), "ZZ".into()),
///     date: "240101".into(),
///     time: "1200".into(),
///     control_number: "000000001".into(),
///     version: "00401".into(),
///     ack_requested: false,
///     test: false,
/// };
/// let mut w = DocumentWriter::new(Standard::X12, Delimiters::X12_DEFAULT);
/// w.begin_interchange(&header).unwrap();
/// w.begin_group(&["PO", "SENDER", "RECEIVER", "20240101", "1200", "1", "X", "004010"]).unwrap();
/// w.begin_message("850", "0001", &[]).unwrap();
/// w.segment(&SegmentBuf::new("BEG").unwrap().simple("00").simple("SA").simple("PO1")).unwrap();
/// w.end_message().unwrap();
/// w.end_group().unwrap();
/// let bytes = w.end_interchange().unwrap();
/// let parsed = edi::parse(&bytes).unwrap();
/// assert_eq!(parsed[0].messages().next().unwrap().trailer().unwrap().value(1, 1).as_ref(), b"3");
/// ```
#[derive(Debug)]
pub struct DocumentWriter {
    standard: Standard,
    writer: SegmentWriter,
    out: Vec<u8>,
    interchange: Option<Open>,
    group: Option<Open>,
    message: Option<Open>,
    write_una: bool,
}

impl DocumentWriter {
    /// A writer for `standard` with `delimiters`. EDIFACT output starts with a `UNA` unless the
    /// delimiters are the defaults of the syntax version ([`DocumentWriter::with_una`]).
    pub fn new(standard: Standard, delimiters: Delimiters) -> Self {
        DocumentWriter {
            standard,
            writer: SegmentWriter::new(delimiters),
            out: Vec::new(),
            interchange: None,
            group: None,
            message: None,
            write_una: delimiters != Delimiters::EDIFACT_DEFAULT,
        }
    }

    /// Always (or never) write the EDIFACT `UNA` service string advice.
    pub fn with_una(mut self, una: bool) -> Self {
        self.write_una = una;
        self
    }

    /// Puts `ending` after every segment terminator.
    pub fn line_ending(mut self, ending: &'static str) -> Self {
        self.writer = self.writer.line_ending(ending);
        self
    }

    fn put(&mut self, s: &SegmentBuf) -> Result<(), WriteError> {
        self.writer.write(s, &mut self.out)
    }

    /// Writes the interchange header (ISA, or UNB after an optional UNA).
    pub fn begin_interchange(&mut self, h: &InterchangeHeader) -> Result<(), WriteError> {
        if self.interchange.is_some() {
            return Err(WriteError::Order("an interchange is already open"));
        }
        let d = *self.writer.delimiters();
        match self.standard {
            Standard::X12 => {
                let pad = |s: &str, n: usize| format!("{s:<n$}");
                // ISA11 is one byte: the repetition separator itself (any byte), or U for none.
                let rep = d.repetition().map_or(vec![b'U'], |b| vec![b]);
                let isa = SegmentBuf::new("ISA")?
                    .simple("00")
                    .simple(pad("", 10))
                    .simple("00")
                    .simple(pad("", 10))
                    .simple(pad(&h.sender.1, 2))
                    .simple(pad(&h.sender.0, 15))
                    .simple(pad(&h.receiver.1, 2))
                    .simple(pad(&h.receiver.0, 15))
                    .simple(h.date.clone())
                    .simple(h.time.clone())
                    .push(ElementBuf::binary(rep))
                    .simple(h.version.clone())
                    .simple(format!("{:0>9}", h.control_number))
                    .simple(if h.ack_requested { "1" } else { "0" })
                    .simple(if h.test { "T" } else { "P" })
                    .push(ElementBuf::binary(vec![d.component()]));
                self.put(&isa)?;
            }
            Standard::Edifact => {
                if self.write_una {
                    self.out.extend_from_slice(b"UNA");
                    self.out.extend_from_slice(&[
                        d.component(),
                        d.element(),
                        d.decimal(),
                        d.release().unwrap_or(b' '),
                        d.repetition().unwrap_or(b' '),
                        d.segment(),
                    ]);
                    self.out.extend_from_slice(self.writer.line_ending);
                }
                let (syntax, version) = h
                    .version
                    .split_once(':')
                    .unwrap_or((h.version.as_str(), "3"));
                let mut unb = SegmentBuf::new("UNB")?
                    .composite([syntax, version])
                    .composite([h.sender.0.as_str(), h.sender.1.as_str()])
                    .composite([h.receiver.0.as_str(), h.receiver.1.as_str()])
                    .composite([h.date.as_str(), h.time.as_str()])
                    .simple(h.control_number.clone());
                if h.ack_requested || h.test {
                    unb = unb
                        .simple("")
                        .simple("")
                        .simple("")
                        .simple(if h.ack_requested { "1" } else { "" })
                        .simple("")
                        .simple(if h.test { "1" } else { "" });
                }
                self.put(&unb)?;
            }
        }
        self.interchange = Some(Open {
            control: h.control_number.clone(),
            count: 0,
        });
        Ok(())
    }

    /// Writes a group header from its elements (GS01…GS08 or UNG elements as simple values,
    /// composites written with the component separator by the caller's [`SegmentBuf`] via
    /// [`DocumentWriter::begin_group_segment`]). The control number is GS06 / UNG 0048.
    pub fn begin_group(&mut self, elements: &[&str]) -> Result<(), WriteError> {
        let tag = match self.standard {
            Standard::X12 => "GS",
            Standard::Edifact => "UNG",
        };
        let mut s = SegmentBuf::new(tag)?;
        for e in elements {
            s = s.simple(*e);
        }
        self.begin_group_segment(s)
    }

    /// Writes a prepared group header (GS or UNG).
    pub fn begin_group_segment(&mut self, header: SegmentBuf) -> Result<(), WriteError> {
        if self.interchange.is_none() || self.group.is_some() || self.message.is_some() {
            return Err(WriteError::Order(
                "a group must open inside an interchange, outside other groups",
            ));
        }
        let control_at = match self.standard {
            Standard::X12 => 5,
            Standard::Edifact => 4,
        };
        let control = header
            .elements
            .get(control_at)
            .and_then(|e| e.repetitions.first())
            .and_then(|r| r.first())
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default();
        self.put(&header)?;
        self.group = Some(Open { control, count: 0 });
        Ok(())
    }

    /// Writes a message header: `ST*type*control[*convention]` or
    /// `UNH+control+type:version:release:agency[:association]` (`identifier` holds the
    /// components after the type, or ST03).
    pub fn begin_message(
        &mut self,
        message_type: &str,
        control: &str,
        identifier: &[&str],
    ) -> Result<(), WriteError> {
        if self.interchange.is_none() || self.message.is_some() {
            return Err(WriteError::Order(
                "a message must open inside an interchange",
            ));
        }
        if self.standard == Standard::X12 && self.group.is_none() {
            return Err(WriteError::Order(
                "an X12 transaction set must open inside a group",
            ));
        }
        let header = match self.standard {
            Standard::X12 => {
                let mut s = SegmentBuf::new("ST")?.simple(message_type).simple(control);
                for e in identifier {
                    s = s.simple(*e);
                }
                s
            }
            Standard::Edifact => {
                let mut comps = vec![message_type];
                comps.extend_from_slice(identifier);
                SegmentBuf::new("UNH")?.simple(control).composite(comps)
            }
        };
        self.put(&header)?;
        self.message = Some(Open {
            control: control.to_string(),
            count: 1,
        });
        Ok(())
    }

    /// Writes a segment inside the open message.
    pub fn segment(&mut self, segment: &SegmentBuf) -> Result<(), WriteError> {
        let Some(m) = self.message.as_mut() else {
            return Err(WriteError::Order("segments go inside a message"));
        };
        m.count += 1;
        self.put(segment)
    }

    /// Writes a segment directly inside the interchange (X12 TA1).
    pub fn service_segment(&mut self, segment: &SegmentBuf) -> Result<(), WriteError> {
        if self.interchange.is_none() || self.group.is_some() || self.message.is_some() {
            return Err(WriteError::Order(
                "service segments stand directly inside the interchange",
            ));
        }
        self.put(segment)
    }

    /// Closes the message with SE/UNT carrying the segment count.
    pub fn end_message(&mut self) -> Result<(), WriteError> {
        let Some(m) = self.message.take() else {
            return Err(WriteError::Order("no message is open"));
        };
        let tag = match self.standard {
            Standard::X12 => "SE",
            Standard::Edifact => "UNT",
        };
        self.put(
            &SegmentBuf::new(tag)?
                .simple((m.count + 1).to_string())
                .simple(m.control),
        )?;
        if let Some(g) = self.group.as_mut() {
            g.count += 1;
        } else if let Some(i) = self.interchange.as_mut() {
            i.count += 1;
        }
        Ok(())
    }

    /// Closes the group with GE/UNE carrying the message count.
    pub fn end_group(&mut self) -> Result<(), WriteError> {
        if self.message.is_some() {
            return Err(WriteError::Order("close the message before its group"));
        }
        let Some(g) = self.group.take() else {
            return Err(WriteError::Order("no group is open"));
        };
        let tag = match self.standard {
            Standard::X12 => "GE",
            Standard::Edifact => "UNE",
        };
        self.put(
            &SegmentBuf::new(tag)?
                .simple(g.count.to_string())
                .simple(g.control),
        )?;
        if let Some(i) = self.interchange.as_mut() {
            i.count += 1;
        }
        Ok(())
    }

    /// Closes the interchange (IEA/UNZ with the group or message count) and returns the bytes
    /// written since the writer was made or last emptied.
    pub fn end_interchange(&mut self) -> Result<Vec<u8>, WriteError> {
        if self.message.is_some() || self.group.is_some() {
            return Err(WriteError::Order(
                "close messages and groups before the interchange",
            ));
        }
        let Some(i) = self.interchange.take() else {
            return Err(WriteError::Order("no interchange is open"));
        };
        let (tag, control) = match self.standard {
            Standard::X12 => ("IEA", format!("{:0>9}", i.control)),
            Standard::Edifact => ("UNZ", i.control),
        };
        self.put(
            &SegmentBuf::new(tag)?
                .simple(i.count.to_string())
                .simple(control),
        )?;
        Ok(std::mem::take(&mut self.out))
    }
}
