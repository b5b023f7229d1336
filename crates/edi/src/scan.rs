//! The tokenizer: finds where one segment ends and the next begins.
//!
//! This is the hot loop. A segment is found with one `memchr` for the terminator (two with a
//! release character); tags are checked, binary segments are taken by their declared length, and
//! the white space between segments (CR, LF, CRLF, blanks, indentation) is kept with the segment
//! before it so the input can be written back byte for byte.

use crate::delimiters::{ByteName, Delimiters};
use crate::error::{ErrorKind, excerpt};
use crate::limits::Limits;
use crate::segment::{Tag, find_unreleased};

/// One segment's boundaries, relative to the buffer that was scanned.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scanned {
    pub start: usize,
    /// End of the tag and elements (terminator excluded, and the CR of a CRLF when LF
    /// terminates).
    pub content_end: usize,
    /// End of the terminator and the white space after it.
    pub end: usize,
    /// The first element separator (or `content_end`), relative to `start`.
    pub elements_at: usize,
    /// Start of binary data relative to `start`; 0 when none.
    pub binary_at: usize,
    pub tag: Tag,
    /// False for a last segment that the input ends without terminating; only an interchange
    /// trailer may do that.
    pub terminated: bool,
    /// Where the terminator stands (the end of input when there is none).
    pub term: usize,
}

/// What the scanner found at a position.
#[derive(Debug)]
pub(crate) enum Step {
    Segment(Scanned),
    /// The buffer ends inside the segment; more input may complete it.
    NeedMore,
}

/// A scanning failure and the offset (in the buffer) where it was seen.
pub(crate) type ScanError = Box<(ErrorKind, usize)>;

const BIN: Tag = Tag::from_static(b"BIN");
const BDS: Tag = Tag::from_static(b"BDS");

/// Is `b` white space between segments (and not one of the delimiters)?
#[inline]
pub(crate) fn is_trivia(b: u8, d: &Delimiters) -> bool {
    d.is_trivia(b)
}

/// First position at or after `pos` that is not white space between segments.
#[inline]
pub(crate) fn skip_trivia(data: &[u8], mut pos: usize, d: &Delimiters) -> usize {
    // A line-break terminator standing where a segment should start is a blank line, not an
    // empty segment.
    let blank_lines = d.segment() == b'\n' || d.segment() == b'\r';
    while pos < data.len() && (is_trivia(data[pos], d) || (blank_lines && data[pos] == d.segment()))
    {
        pos += 1;
    }
    pos
}

/// Scans the segment whose tag starts at `start`.
///
/// `binary_segments` enables X12's BIN and BDS, whose data element is taken by length.
/// With `eof` false, running out of input answers [`Step::NeedMore`] instead of an error.
#[inline(always)]
pub(crate) fn scan_segment(
    data: &[u8],
    start: usize,
    d: &Delimiters,
    binary_segments: bool,
    limits: &Limits,
    eof: bool,
) -> Result<Step, ScanError> {
    let (tag, elements_at) = match fast_tag(data, start, d) {
        Some(found) => found,
        None => match slow_tag(data, start, d, eof)? {
            Some(found) => found,
            None => return Ok(Step::NeedMore),
        },
    };

    let mut binary_at = 0usize;
    let terminator =
        if binary_segments && (tag == BIN || tag == BDS) && data[elements_at] == d.element() {
            match scan_binary(data, start, elements_at, tag, d, eof)? {
                Some((data_at, term)) => {
                    binary_at = data_at - start;
                    term
                }
                None => return Ok(Step::NeedMore),
            }
        } else {
            match find_terminator(data, elements_at, d) {
                Some(t) => t,
                None => {
                    if data.len() - start > limits.max_segment_len {
                        return Err(Box::new((
                            ErrorKind::Limit {
                                what: "segment length",
                                limit: limits.max_segment_len,
                                actual: data.len() - start,
                            },
                            start,
                        )));
                    }
                    if !eof {
                        return Ok(Step::NeedMore);
                    }
                    // The input ends without a terminator: hand the segment over unterminated and
                    // let the caller decide whether that is acceptable (a final trailer) or not.
                    return Ok(Step::Segment(Scanned {
                        start,
                        content_end: data.len(),
                        end: data.len(),
                        elements_at: elements_at - start,
                        binary_at: 0,
                        tag,
                        terminated: false,
                        term: data.len(),
                    }));
                }
            }
        };
    if terminator - start > limits.max_segment_len {
        return Err(Box::new((
            ErrorKind::Limit {
                what: "segment length",
                limit: limits.max_segment_len,
                actual: terminator - start,
            },
            start,
        )));
    }
    let mut content_end = terminator;
    if d.segment() == b'\n' && content_end > elements_at && data[content_end - 1] == b'\r' {
        content_end -= 1;
    }
    if binary_at == 0 && content_end - start > limits.max_elements {
        let seps = memchr::memchr_iter(d.element(), &data[elements_at..content_end]).count();
        if seps > limits.max_elements {
            return Err(Box::new((
                ErrorKind::Limit {
                    what: "element count",
                    limit: limits.max_elements,
                    actual: seps,
                },
                start,
            )));
        }
    }
    let end = skip_trivia(data, terminator + 1 + d.segment_tail().len(), d);
    if !eof && end >= data.len() {
        // The white space after the terminator belongs to this segment and may go on in the
        // next read; wait for it, so streaming and in-memory parsing split the bytes alike.
        return Ok(Step::NeedMore);
    }
    Ok(Step::Segment(Scanned {
        start,
        content_end,
        end,
        elements_at: elements_at - start,
        binary_at,
        tag,
        terminated: true,
        term: terminator,
    }))
}

/// The next unreleased terminator at or after `from`, multi-byte terminators matched whole.
#[inline]
fn find_terminator(data: &[u8], from: usize, d: &Delimiters) -> Option<usize> {
    let tail = d.segment_tail();
    let mut i = from;
    loop {
        let t = find_unreleased(data, i, d.segment(), d.release(), d.newlines_are_wrapping())?;
        if tail.is_empty() || data[t + 1..].starts_with(tail) {
            return Some(t);
        }
        if data.len() < t + 1 + tail.len() {
            // The tail may still arrive; treat as not found so a streaming caller reads more.
            return None;
        }
        i = t + 1;
    }
}

/// The common case in one step: two or three alphanumerics followed by a separator.
#[inline(always)]
fn fast_tag(data: &[u8], start: usize, d: &Delimiters) -> Option<(Tag, usize)> {
    let &[a, b, c, e] = data.get(start..)?.first_chunk::<4>()?;
    if !a.is_ascii_alphanumeric() || !b.is_ascii_alphanumeric() {
        return None;
    }
    if c == d.element() || c == d.segment() {
        return Some((Tag::from_static(&[a, b]), start + 2));
    }
    if c.is_ascii_alphanumeric() && (e == d.element() || e == d.segment()) {
        return Some((Tag::from_static(&[a, b, c]), start + 3));
    }
    None
}

/// The tag the long way: up to the first element separator or terminator, line wrapping inside
/// dropped, at the end of input or at a bad tag. `Ok(None)` asks for more input.
#[cold]
fn slow_tag(
    data: &[u8],
    start: usize,
    d: &Delimiters,
    eof: bool,
) -> Result<Option<(Tag, usize)>, ScanError> {
    let wrap = d.newlines_are_wrapping();
    let mut tag_buf = [0u8; 3];
    let mut tag_len = 0usize;
    let mut i = start;
    let elements_at = loop {
        let Some(&b) = data.get(i) else {
            return match incomplete(data, start, d, eof)? {
                Step::NeedMore => Ok(None),
                Step::Segment(_) => Err(Box::new((bad_tag(data, start, d), start))),
            };
        };
        if b == d.element() || b == d.segment() {
            break i;
        }
        if wrap && (b == b'\r' || b == b'\n') && i - start < 64 {
            i += 1;
            continue;
        }
        if tag_len == 3 || !b.is_ascii_alphanumeric() {
            return Err(Box::new((bad_tag(data, start, d), start)));
        }
        tag_buf[tag_len] = b;
        tag_len += 1;
        i += 1;
    };
    let tag =
        Tag::new(&tag_buf[..tag_len]).ok_or_else(|| Box::new((bad_tag(data, start, d), start)))?;
    Ok(Some((tag, elements_at)))
}

fn incomplete(data: &[u8], start: usize, d: &Delimiters, eof: bool) -> Result<Step, ScanError> {
    if eof {
        let _ = data;
        Err(Box::new((
            ErrorKind::Unterminated {
                terminator: ByteName(d.segment()).to_string(),
            },
            start,
        )))
    } else {
        Ok(Step::NeedMore)
    }
}

fn bad_tag(data: &[u8], start: usize, d: &Delimiters) -> ErrorKind {
    let end = data[start..]
        .iter()
        .position(|b| *b == d.element() || *b == d.segment())
        .map_or(data.len(), |p| start + p);
    ErrorKind::BadTag {
        found: excerpt(&data[start..end], 20),
    }
}

/// X12 BIN (`BIN*length*data`) and BDS (`BDS*filter*length*data`): returns where the data starts
/// and where the terminator after it stands, or `None` when more input is needed.
fn scan_binary(
    data: &[u8],
    start: usize,
    elements_at: usize,
    tag: Tag,
    d: &Delimiters,
    eof: bool,
) -> Result<Option<(usize, usize)>, ScanError> {
    let length_element = if tag == BIN { 1 } else { 2 };
    let mut field_start = elements_at + 1;
    let mut length_field = (field_start, field_start);
    for n in 1..=length_element {
        let Some(sep) = memchr::memchr(d.element(), &data[field_start..]).map(|p| p + field_start)
        else {
            return if eof {
                Err(Box::new((
                    binary_error(tag, "the data element is missing"),
                    start,
                )))
            } else {
                Ok(None)
            };
        };
        if n == length_element {
            length_field = (field_start, sep);
        }
        field_start = sep + 1;
    }
    let digits = &data[length_field.0..length_field.1];
    let length = std::str::from_utf8(digits)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<usize>().ok())
        .ok_or_else(|| {
            (
                binary_error(
                    tag,
                    &format!("the length {} is not a number", excerpt(digits, 20)),
                ),
                start,
            )
        })?;
    let term = field_start
        .checked_add(length)
        .ok_or_else(|| (binary_error(tag, "length overflows"), start))?;
    match data.get(term) {
        Some(&b) if b == d.segment() => Ok(Some((field_start, term))),
        Some(&b) => Err(Box::new((
            binary_error(
                tag,
                &format!(
                    "after {length} bytes of data expected the terminator {}, found {}",
                    ByteName(d.segment()),
                    ByteName(b)
                ),
            ),
            start,
        ))),
        None if eof => Err(Box::new((
            binary_error(
                tag,
                &format!("declares {length} bytes but the input ends first"),
            ),
            start,
        ))),
        None => Ok(None),
    }
}

fn binary_error(tag: Tag, reason: &str) -> ErrorKind {
    ErrorKind::BadBinary {
        tag: tag.to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(data: &[u8], d: &Delimiters) -> Result<Step, ScanError> {
        scan_segment(data, 0, d, true, &Limits::default(), true)
    }

    #[test]
    fn finds_terminator_and_keeps_trailing_line_break() {
        let Ok(Step::Segment(s)) = scan(b"ST*850*0001~\r\nBEG", &Delimiters::X12_DEFAULT) else {
            panic!("expected a segment")
        };
        assert_eq!(s.tag, "ST");
        assert_eq!(s.content_end, 11);
        assert_eq!(s.end, 14);
        assert_eq!(s.elements_at, 2);
    }

    #[test]
    fn released_terminator_does_not_end_the_segment() {
        let Ok(Step::Segment(s)) = scan(b"FTX+AAI+++D?'Or'UNT", &Delimiters::EDIFACT_DEFAULT)
        else {
            panic!("expected a segment")
        };
        assert_eq!(s.content_end, 15);
    }

    #[test]
    fn binary_segment_is_taken_by_length() {
        let Ok(Step::Segment(s)) = scan(b"BIN*5*a~\nb~~SE", &Delimiters::X12_DEFAULT) else {
            panic!("expected a segment")
        };
        assert_eq!(s.content_end, 11);
        assert_eq!(s.binary_at, 6);
        assert!(scan(b"BIN*x*abc~", &Delimiters::X12_DEFAULT).is_err());
        assert!(scan(b"BIN*9*abc~", &Delimiters::X12_DEFAULT).is_err());
    }

    #[test]
    fn bad_tags_and_truncation_are_errors() {
        assert!(matches!(
            scan(b"S-T*1~", &Delimiters::X12_DEFAULT).map_err(|e| *e),
            Err((ErrorKind::BadTag { .. }, 0))
        ));
        assert!(matches!(
            scan(b"ST*1", &Delimiters::X12_DEFAULT),
            Ok(Step::Segment(Scanned {
                terminated: false,
                ..
            }))
        ));
        assert!(matches!(
            scan_segment(
                b"ST*1",
                0,
                &Delimiters::X12_DEFAULT,
                true,
                &Limits::default(),
                false
            ),
            Ok(Step::NeedMore)
        ));
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits {
            max_segment_len: 8,
            ..Limits::default()
        };
        let r = scan_segment(
            b"NTE*0123456789~",
            0,
            &Delimiters::X12_DEFAULT,
            true,
            &limits,
            true,
        );
        assert!(matches!(
            r.map_err(|e| *e),
            Err((
                ErrorKind::Limit {
                    what: "segment length",
                    ..
                },
                0
            ))
        ));
        let limits = Limits {
            max_elements: 3,
            ..Limits::default()
        };
        let r = scan_segment(
            b"REF*1*2*3*4~",
            0,
            &Delimiters::X12_DEFAULT,
            true,
            &limits,
            true,
        );
        assert!(matches!(
            r.map_err(|e| *e),
            Err((
                ErrorKind::Limit {
                    what: "element count",
                    ..
                },
                0
            ))
        ));
    }
}
