//! Which bytes separate what: read from an X12 `ISA` header or an EDIFACT `UNA` service string
//! advice (with the `UNB` syntax version deciding the defaults when `UNA` is absent).

use std::fmt;

/// The two EDI syntaxes edigate reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Standard {
    /// ASC X12 (`ISA` … `IEA`).
    X12,
    /// UN/EDIFACT (`UNA`/`UNB` … `UNZ`).
    Edifact,
}

impl Standard {
    /// The lower-case name used in JSON output and configuration (`x12`, `edifact`).
    pub fn name(self) -> &'static str {
        match self {
            Standard::X12 => "x12",
            Standard::Edifact => "edifact",
        }
    }
}

impl fmt::Display for Standard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Standard::X12 => "X12",
            Standard::Edifact => "EDIFACT",
        })
    }
}

/// A delimiter set that was checked for consistency: every separator is a distinct byte, so a
/// tokenizer built on it can never be ambiguous.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Delimiters {
    element: u8,
    component: u8,
    repetition: Option<u8>,
    segment: u8,
    release: Option<u8>,
    decimal: u8,
    /// UTF-8 continuation bytes that follow a multi-byte terminator (an ISA that ends its
    /// segments with `…`, say); empty for single-byte terminators.
    segment_tail: [u8; 3],
    segment_tail_len: u8,
    /// Derived once: CR and LF are line wrapping, not delimiters.
    wrap: bool,
    /// Derived once: which of SPACE, TAB, CR, LF, FF (bits 0–4) are white space between segments.
    trivia: u8,
}

/// Why a delimiter set was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DelimiterError {
    /// Two roles were given the same byte.
    #[error("the {first} and {second} separators are both {byte}")]
    Clash {
        /// The first role.
        first: &'static str,
        /// The second role.
        second: &'static str,
        /// The shared byte, printed readably.
        byte: ByteName,
    },
    /// A separator that would split ordinary data (a letter or a digit).
    #[error("the {role} separator {byte} is a letter or digit")]
    Alphanumeric {
        /// The role.
        role: &'static str,
        /// The byte.
        byte: ByteName,
    },
}

/// A byte printed for people: `'~'`, `CR`, `LF`, `0x1C`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteName(pub u8);

impl fmt::Display for ByteName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            b'\r' => f.write_str("CR"),
            b'\n' => f.write_str("LF"),
            b'\t' => f.write_str("TAB"),
            b' ' => f.write_str("SPACE"),
            b if b.is_ascii_graphic() => write!(f, "\"{}\"", b as char),
            b => write!(f, "0x{b:02X}"),
        }
    }
}

impl Delimiters {
    /// X12's customary set: `*` elements, `>` components, `^` repetitions, `~` segments.
    pub const X12_DEFAULT: Delimiters = Delimiters {
        element: b'*',
        component: b'>',
        repetition: Some(b'^'),
        segment: b'~',
        release: None,
        decimal: b'.',
        segment_tail: [0; 3],
        segment_tail_len: 0,
        wrap: true,
        trivia: 0,
    }
    .derive();

    /// EDIFACT's default service characters for syntax versions 1–3 (`UNA:+.? '`).
    pub const EDIFACT_DEFAULT: Delimiters = Delimiters {
        element: b'+',
        component: b':',
        repetition: None,
        segment: b'\'',
        release: Some(b'?'),
        decimal: b'.',
        segment_tail: [0; 3],
        segment_tail_len: 0,
        wrap: true,
        trivia: 0,
    }
    .derive();

    /// EDIFACT's default service characters for syntax version 4 (`UNA:+.?*'`).
    pub const EDIFACT_V4_DEFAULT: Delimiters = Delimiters {
        repetition: Some(b'*'),
        ..Self::EDIFACT_DEFAULT
    }
    .derive();

    /// Computes the derived lookup fields from the delimiters.
    const fn derive(mut self) -> Self {
        let mut trivia = 0u8;
        let candidates = [b' ', b'\t', b'\r', b'\n', 0x0C];
        let mut i = 0;
        while i < candidates.len() {
            if !self.is_special(candidates[i]) {
                trivia |= 1 << i;
            }
            i += 1;
        }
        self.trivia = trivia;
        self.wrap = !self.is_special(b'\r') && !self.is_special(b'\n');
        self
    }

    /// True when `b` is white space between segments (and not a delimiter).
    #[inline]
    pub(crate) const fn is_trivia(&self, b: u8) -> bool {
        let bit = match b {
            b' ' => 1,
            b'\t' => 2,
            b'\r' => 4,
            b'\n' => 8,
            0x0C => 16,
            _ => return false,
        };
        self.trivia & bit != 0
    }

    /// Builds a delimiter set, refusing one where two roles share a byte or a separator is
    /// alphanumeric. `decimal` is only a notation (EDIFACT's decimal mark), not a separator.
    pub fn new(
        element: u8,
        component: u8,
        repetition: Option<u8>,
        segment: u8,
        release: Option<u8>,
        decimal: u8,
    ) -> Result<Self, DelimiterError> {
        let roles = [
            ("element", Some(element)),
            ("component", Some(component)),
            ("repetition", repetition),
            ("segment", Some(segment)),
            ("release", release),
        ];
        for (i, (role, byte)) in roles.iter().enumerate() {
            let Some(byte) = *byte else { continue };
            if byte.is_ascii_alphanumeric() {
                return Err(DelimiterError::Alphanumeric {
                    role,
                    byte: ByteName(byte),
                });
            }
            for (other, other_byte) in &roles[i + 1..] {
                if *other_byte == Some(byte) {
                    return Err(DelimiterError::Clash {
                        first: role,
                        second: other,
                        byte: ByteName(byte),
                    });
                }
            }
        }
        Ok(Delimiters {
            element,
            component,
            repetition,
            segment,
            release,
            decimal,
            segment_tail: [0; 3],
            segment_tail_len: 0,
            wrap: true,
            trivia: 0,
        }
        .derive())
    }

    /// The same set with a multi-byte terminator: `segment` followed by `tail` (UTF-8
    /// continuation bytes, at most three).
    pub fn with_segment_tail(mut self, tail: &[u8]) -> Self {
        let n = tail.len().min(3);
        self.segment_tail = [0; 3];
        self.segment_tail[..n].copy_from_slice(&tail[..n]);
        self.segment_tail_len = n as u8;
        self
    }

    /// Bytes that follow the terminator byte as part of the terminator (empty for the usual
    /// single-byte terminators).
    pub fn segment_tail(&self) -> &[u8] {
        &self.segment_tail[..usize::from(self.segment_tail_len)]
    }

    /// Separates the elements of a segment (X12 `*`, EDIFACT `+`).
    pub fn element(&self) -> u8 {
        self.element
    }
    /// Separates the components of a composite element (X12 ISA16, EDIFACT `:`).
    pub fn component(&self) -> u8 {
        self.component
    }
    /// Separates repetitions of an element, where the syntax version has one.
    pub fn repetition(&self) -> Option<u8> {
        self.repetition
    }
    /// Ends a segment (X12 `~`, EDIFACT `'`).
    pub fn segment(&self) -> u8 {
        self.segment
    }
    /// EDIFACT's release character (`?`): the byte after it is data, never a separator.
    pub fn release(&self) -> Option<u8> {
        self.release
    }
    /// EDIFACT's decimal mark (`.` or `,`); `.` for X12.
    pub fn decimal(&self) -> u8 {
        self.decimal
    }

    /// True when `b` is a separator or the release character.
    #[inline]
    pub const fn is_special(&self, b: u8) -> bool {
        b == self.element
            || b == self.component
            || b == self.segment
            || matches!(self.repetition, Some(r) if r == b)
            || matches!(self.release, Some(r) if r == b)
    }

    /// True when CR and LF are neither separators nor the terminator: such bytes inside a
    /// segment are line wrapping (80-column files), not data.
    #[inline]
    pub(crate) fn newlines_are_wrapping(&self) -> bool {
        self.wrap
    }
}

/// What an EDIFACT `UNA` segment says, before the syntax version is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ServiceStringAdvice {
    pub component: u8,
    pub element: u8,
    pub decimal: u8,
    pub release: Option<u8>,
    pub repetition: Option<u8>,
    pub segment: u8,
}

/// Parses the nine bytes of a `UNA` service string advice.
///
/// A space in the release or repetition position means "not used". ISO 9735 version 4 makes the
/// fifth position the repetition separator, but files of every version put a space there to say
/// "reserved"; treating the space as a separator would split every free text, so it never is.
pub(crate) fn parse_una(input: &[u8]) -> nom::IResult<&[u8], ServiceStringAdvice> {
    use nom::Parser;
    use nom::bytes::complete::{tag, take};
    let (rest, (_, chars)) = (tag(&b"UNA"[..]), take(6usize)).parse(input)?;
    let optional = |b: u8| if b == b' ' { None } else { Some(b) };
    Ok((
        rest,
        ServiceStringAdvice {
            component: chars[0],
            element: chars[1],
            decimal: chars[2],
            release: optional(chars[3]),
            repetition: optional(chars[4]),
            segment: chars[5],
        },
    ))
}

/// The delimiters of an EDIFACT interchange: the `UNA` when present, otherwise the defaults of the
/// syntax version found in `UNB` (version 4 adds `*` as repetition separator).
pub(crate) fn edifact_delimiters(
    una: Option<ServiceStringAdvice>,
    syntax_version: Option<u8>,
) -> Result<Delimiters, DelimiterError> {
    match una {
        Some(a) => Delimiters::new(
            a.element,
            a.component,
            a.repetition,
            a.segment,
            a.release,
            a.decimal,
        ),
        None if syntax_version == Some(4) => Ok(Delimiters::EDIFACT_V4_DEFAULT),
        None => Ok(Delimiters::EDIFACT_DEFAULT),
    }
}

/// The fixed facts of an `ISA` header, found without trusting its field widths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IsaLayout {
    pub delimiters: Delimiters,
    /// Offset (relative to the `I` of `ISA`) of the segment terminator.
    pub terminator_at: usize,
}

/// Why an `ISA` could not give a delimiter set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum IsaProblem {
    Truncated,
    BadElementSeparator(u8),
    FieldCount(usize),
    Delimiters(DelimiterError),
}

impl fmt::Display for IsaProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IsaProblem::Truncated => {
                f.write_str("the ISA header ends before its 16 elements and terminator")
            }
            IsaProblem::BadElementSeparator(b) => write!(
                f,
                "byte 4 of ISA must be the element separator, found {}",
                ByteName(*b)
            ),
            IsaProblem::FieldCount(n) => write!(
                f,
                "ISA must have 16 elements, found {n} before the terminator"
            ),
            IsaProblem::Delimiters(e) => write!(f, "ISA declares an unusable delimiter set: {e}"),
        }
    }
}

/// Reads the delimiters from an `ISA` header starting at `input[0]`.
///
/// The standard fixes ISA at 106 bytes, but real senders pad wrongly (or wrap the file at 80
/// columns, putting line breaks inside ISA), so the layout is found by counting element
/// separators; the fixed widths are the validator's business, not the tokenizer's.
pub(crate) fn read_isa(input: &[u8], eof: bool) -> Result<IsaLayout, IsaProblem> {
    let element = *input.get(3).ok_or(IsaProblem::Truncated)?;
    if element.is_ascii_alphanumeric() || element == b'\r' || element == b'\n' || element == b' ' {
        return Err(IsaProblem::BadElementSeparator(element));
    }
    let wrap = |b: u8| (b == b'\r' || b == b'\n') && element != b;
    // Positions of the 16 element separators; ISA16 is the byte after the last one.
    let mut seps = 0usize;
    let mut pos = 3usize;
    let mut isa11: Option<(usize, usize)> = None;
    let mut last_sep = 3usize;
    while seps < 16 {
        let b = *input.get(pos).ok_or(IsaProblem::Truncated)?;
        // Another interchange header inside this one's fields: the header is cut short. (A
        // sender id such as VISA is preceded by a letter, a real header is not.)
        if b == b'I'
            && input
                .get(pos..pos + 4)
                .is_some_and(|h| h[..3] == *b"ISA" && h[3] == element)
            && !input[pos - 1].is_ascii_alphanumeric()
        {
            return Err(IsaProblem::FieldCount(seps));
        }
        if b == element {
            seps += 1;
            if seps == 12 {
                isa11 = Some((last_sep + 1, pos));
            }
            last_sep = pos;
        } else if pos > 200 {
            // A real ISA is 106 bytes; far beyond that it is not an ISA at all.
            return Err(IsaProblem::FieldCount(seps));
        }
        pos += 1;
    }
    let mut at = pos;
    while input.get(at).copied().is_some_and(wrap) {
        at += 1;
    }
    let component = *input.get(at).ok_or(IsaProblem::Truncated)?;
    let mut term_at = at + 1;
    let mut segment = *input.get(term_at).ok_or(IsaProblem::Truncated)?;
    if segment == b'\r' || segment == b'\n' {
        // CR/LF is the terminator unless what follows the line break is not the start of a
        // segment tag, in which case the line break is wrapping and the next byte terminates.
        let mut next = term_at;
        while input.get(next).is_some_and(|b| *b == b'\r' || *b == b'\n') {
            next += 1;
        }
        // Which it is can only be told once the byte after the line break has arrived; at the
        // end of the input nothing follows, so the line break terminates.
        let b = match input.get(next) {
            Some(&b) => b,
            None if eof => b'I',
            None => return Err(IsaProblem::Truncated),
        };
        if !b.is_ascii_alphanumeric() && !b.is_ascii_whitespace() && b != 0xEF {
            term_at = next;
            segment = b;
        }
    }
    let repetition = isa11.and_then(|(s, e)| {
        let field: Vec<u8> = input[s..e].iter().copied().filter(|b| !wrap(*b)).collect();
        match field.as_slice() {
            [b] if !b.is_ascii_alphanumeric() && *b != b' ' && *b != component && *b != segment => {
                Some(*b)
            }
            _ => None,
        }
    });
    let mut delimiters = Delimiters::new(element, component, repetition, segment, None, b'.')
        .map_err(IsaProblem::Delimiters)?;
    if segment >= 0xC0 {
        // A multi-byte UTF-8 terminator: its continuation bytes (as many as the lead byte
        // announces) belong to it. Decided only once they have all arrived, so a stream read in
        // small pieces reads the same delimiters as a whole file.
        let expected = match segment {
            0xC0..=0xDF => 1,
            0xE0..=0xEF => 2,
            _ => 3,
        };
        let following = match input.get(term_at + 1..term_at + 1 + expected) {
            Some(f) => f,
            None if eof => input.get(term_at + 1..).unwrap_or(&[]),
            None => return Err(IsaProblem::Truncated),
        };
        let tail: Vec<u8> = following
            .iter()
            .take_while(|b| (0x80..=0xBF).contains(*b))
            .copied()
            .collect();
        delimiters = delimiters.with_segment_tail(&tail);
    }
    Ok(IsaLayout {
        delimiters,
        terminator_at: term_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISA: &[u8] = b"ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *210101*1200*^*00501*000000001*0*P*:~GS";

    #[test]
    fn reads_a_standard_isa() {
        let l = read_isa(ISA, true).expect("valid ISA");
        assert_eq!(l.terminator_at, 105);
        assert_eq!(l.delimiters.element(), b'*');
        assert_eq!(l.delimiters.component(), b':');
        assert_eq!(l.delimiters.repetition(), Some(b'^'));
        assert_eq!(l.delimiters.segment(), b'~');
    }

    #[test]
    fn u_in_isa11_means_no_repetition_separator() {
        let isa = String::from_utf8_lossy(ISA).replace("*^*", "*U*");
        let l = read_isa(isa.as_bytes(), true).expect("valid ISA");
        assert_eq!(l.delimiters.repetition(), None);
    }

    #[test]
    fn line_break_after_isa16_is_the_terminator_when_a_tag_follows() {
        let isa = String::from_utf8_lossy(ISA).replace(":~GS", ":\nGS");
        let l = read_isa(isa.as_bytes(), true).expect("valid ISA");
        assert_eq!(l.delimiters.segment(), b'\n');
    }

    #[test]
    fn line_break_before_the_terminator_is_wrapping() {
        let isa = String::from_utf8_lossy(ISA).replace(":~GS", ":\n~GS");
        let l = read_isa(isa.as_bytes(), true).expect("valid ISA");
        assert_eq!(l.delimiters.segment(), b'~');
        assert_eq!(l.terminator_at, 106);
    }

    #[test]
    fn clashing_delimiters_are_refused() {
        let isa = String::from_utf8_lossy(ISA).replace(":~GS", "*~GS");
        assert!(matches!(
            read_isa(isa.as_bytes(), true),
            Err(IsaProblem::Delimiters(_))
        ));
        assert!(matches!(
            read_isa(b"ISA*00", true),
            Err(IsaProblem::Truncated)
        ));
        assert!(matches!(
            read_isa(b"ISAX00", true),
            Err(IsaProblem::BadElementSeparator(b'X'))
        ));
    }

    #[test]
    fn una_space_means_not_used() {
        let (_, a) = parse_una(b"UNA:+.? '").expect("valid UNA");
        assert_eq!(a.release, Some(b'?'));
        assert_eq!(a.repetition, None);
        let (_, a) = parse_una(b"UNA:+,?*'").expect("valid UNA");
        assert_eq!(a.repetition, Some(b'*'));
        assert_eq!(a.decimal, b',');
    }

    #[test]
    fn syntax_version_four_defaults_to_star_repetition() {
        assert_eq!(
            edifact_delimiters(None, Some(4)),
            Ok(Delimiters::EDIFACT_V4_DEFAULT)
        );
        assert_eq!(
            edifact_delimiters(None, Some(3)),
            Ok(Delimiters::EDIFACT_DEFAULT)
        );
    }
}
