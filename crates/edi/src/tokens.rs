//! The segment stream without the envelope model: headers switch the delimiters, every other
//! segment is handed out as it is found. This is what the streaming reader frames interchanges
//! with, and the fastest way to walk a file.

use crate::delimiters::{Delimiters, Standard, edifact_delimiters, parse_una, read_isa};
use crate::error::{ErrorKind, Location, ParseError, excerpt};
use crate::limits::Limits;
use crate::scan::{Scanned, Step, scan_segment, skip_trivia};
use crate::segment::Segment;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One step of the tokenizer.
#[derive(Debug)]
pub(crate) enum TokStep {
    /// A segment; `header` is true for the ISA/UNB that opens an interchange.
    Segment {
        scanned: Scanned,
        standard: Standard,
        delimiters: Delimiters,
        header: bool,
        /// Where the interchange started (BOM/white space and UNA included), for headers.
        interchange_start: usize,
    },
    /// A new interchange header starts at `at` while one was open (its trailer is missing). The
    /// next call reads the header.
    Boundary {
        at: usize,
    },
    NeedMore,
    End,
}

/// Resumable tokenizer state over a buffer that may grow.
#[derive(Clone, Debug, Default)]
pub(crate) struct TokenState {
    pub pos: usize,
    current: Option<(Standard, Delimiters)>,
}

impl TokenState {
    /// Forgets the delimiters (after an interchange trailer the next header brings new ones).
    pub fn end_interchange(&mut self) {
        self.current = None;
    }

    /// Shifts positions after the caller dropped `n` bytes from the front of its buffer.
    pub fn rebase(&mut self, n: usize) {
        self.pos = self.pos.saturating_sub(n);
    }

    #[inline(always)]
    pub fn next(
        &mut self,
        data: &[u8],
        eof: bool,
        limits: &Limits,
    ) -> Result<TokStep, crate::scan::ScanError> {
        let mut p = self.pos;
        let header_here = |p: usize, std: Option<Standard>| {
            let Some(head) = data[p..].first_chunk::<3>() else {
                return false;
            };
            // Any header ends the current interchange, whichever syntax it opens: neither
            // syntax has a segment tagged like the other's headers.
            std.is_none() || head == b"ISA" || head == b"UNA" || head == b"UNB"
        };
        if let Some((std, d)) = self.current {
            if data.get(p).is_some_and(|b| d.is_trivia(*b)) {
                p = skip_trivia(data, p, &d);
            }
            if p >= data.len() || (!eof && data.len() - p < 3) {
                return Ok(if eof && p >= data.len() {
                    TokStep::End
                } else {
                    TokStep::NeedMore
                });
            }
            if !header_here(p, Some(std)) {
                return match scan_segment(data, p, &d, std == Standard::X12, limits, eof)? {
                    Step::Segment(s) if !s.terminated && s.tag != trailer_of(std) => {
                        Err(Box::new((unterminated(&d), s.start)))
                    }
                    Step::Segment(s) => {
                        self.pos = s.end;
                        Ok(TokStep::Segment {
                            scanned: s,
                            standard: std,
                            delimiters: d,
                            header: false,
                            interchange_start: 0,
                        })
                    }
                    Step::NeedMore => Ok(TokStep::NeedMore),
                };
            }
            self.current = None;
            self.pos = p;
            return Ok(TokStep::Boundary { at: p });
        }
        self.next_header(data, eof, limits, p)
    }

    /// A new interchange: BOM and white space, then ISA, UNA or UNB.
    #[inline(never)]
    fn next_header(
        &mut self,
        data: &[u8],
        eof: bool,
        limits: &Limits,
        mut p: usize,
    ) -> Result<TokStep, crate::scan::ScanError> {
        let start = p;
        loop {
            if data[p..].starts_with(BOM) {
                p += BOM.len();
            } else if p < data.len() && data[p].is_ascii_whitespace() {
                p += 1;
            } else {
                break;
            }
        }
        if p >= data.len() {
            return Ok(if eof { TokStep::End } else { TokStep::NeedMore });
        }
        let head = &data[p..];
        if head.len() < 9 && !eof {
            return Ok(TokStep::NeedMore);
        }
        let mut isa_terminator = None;
        let (std, provisional, unb_at, una) = if head.starts_with(b"ISA") {
            match read_isa(head, eof) {
                Ok(l) => {
                    isa_terminator = Some(p + l.terminator_at);
                    (Standard::X12, l.delimiters, p, None)
                }
                Err(crate::delimiters::IsaProblem::Truncated) if !eof => {
                    return Ok(TokStep::NeedMore);
                }
                Err(e) => return Err(Box::new((ErrorKind::BadIsa(e.to_string()), p))),
            }
        } else if head.starts_with(b"UNA") {
            let (_, advice) = parse_una(head).map_err(|_| {
                Box::new((ErrorKind::BadServiceSegment("unreadable UNA".into()), p))
            })?;
            let d = edifact_delimiters(Some(advice), None).map_err(|e| {
                Box::new((ErrorKind::BadServiceSegment(format!("UNA declares {e}")), p))
            })?;
            (
                Standard::Edifact,
                d,
                skip_trivia(data, p + 9, &d),
                Some(advice),
            )
        } else if head.starts_with(b"UNB") {
            (Standard::Edifact, Delimiters::EDIFACT_DEFAULT, p, None)
        } else {
            return Err(Box::new((
                ErrorKind::NotAnInterchange {
                    found: excerpt(&head[..head.len().min(12)], 12),
                },
                p,
            )));
        };
        let s = match scan_segment(
            data,
            unb_at,
            &provisional,
            std == Standard::X12,
            limits,
            eof,
        )? {
            Step::Segment(s) if isa_terminator.is_some_and(|t| s.terminated && s.term != t) => {
                return Err(Box::new((
                    ErrorKind::BadIsa(crate::parser::isa_cut_short(&provisional)),
                    s.start,
                )));
            }
            Step::Segment(s) if !s.terminated => {
                return Err(Box::new((unterminated(&provisional), s.start)));
            }
            Step::Segment(s) => s,
            Step::NeedMore => return Ok(TokStep::NeedMore),
        };
        let mut d = provisional;
        if std == Standard::Edifact {
            if s.tag != "UNB" {
                return Err(Box::new((
                    ErrorKind::BadServiceSegment(format!(
                        "expected UNB after UNA, found {}",
                        s.tag
                    )),
                    unb_at,
                )));
            }
            let unb = Segment::from_parts(
                &data[s.start..s.end],
                0,
                s.content_end - s.start,
                s.elements_at,
                0,
                s.tag,
                provisional,
            );
            let version = match unb.value(1, 2).as_ref() {
                [v] if v.is_ascii_digit() => Some(v - b'0'),
                _ => None,
            };
            d = edifact_delimiters(una, version)
                .map_err(|e| Box::new((ErrorKind::BadServiceSegment(e.to_string()), unb_at)))?;
        }
        self.current = Some((std, d));
        self.pos = s.end;
        Ok(TokStep::Segment {
            scanned: s,
            standard: std,
            delimiters: d,
            header: true,
            interchange_start: start,
        })
    }
}

fn trailer_of(std: Standard) -> crate::segment::Tag {
    match std {
        Standard::X12 => crate::segment::Tag::from_static(b"IEA"),
        Standard::Edifact => crate::segment::Tag::from_static(b"UNZ"),
    }
}

fn unterminated(d: &Delimiters) -> ErrorKind {
    ErrorKind::Unterminated {
        terminator: crate::delimiters::ByteName(d.segment()).to_string(),
    }
}

/// Iterator over every segment of an in-memory input, across interchanges (the `UNA` service
/// string advice is consumed, not returned).
#[derive(Debug)]
pub struct Tokens<'a> {
    data: &'a [u8],
    state: TokenState,
    limits: Limits,
    done: bool,
}

/// Walks the segments of `data` without building the envelope model.
pub fn tokenize(data: &[u8]) -> Tokens<'_> {
    Tokens {
        data,
        state: TokenState::default(),
        limits: Limits::default(),
        done: false,
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Result<Segment<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.state.next(self.data, true, &self.limits) {
            Ok(TokStep::Segment {
                scanned: s,
                delimiters,
                ..
            }) => Some(Ok(Segment::from_parts(
                &self.data[s.start..s.end],
                s.start as u64,
                s.content_end - s.start,
                s.elements_at,
                s.binary_at,
                s.tag,
                delimiters,
            ))),
            Ok(TokStep::Boundary { .. }) => self.next(),
            Ok(TokStep::End | TokStep::NeedMore) => {
                self.done = true;
                None
            }
            Err(e) => {
                let (kind, at) = *e;
                self.done = true;
                Some(Err(ParseError::new(
                    kind,
                    Location {
                        offset: at as u64,
                        ..Location::default()
                    },
                )))
            }
        }
    }
}
