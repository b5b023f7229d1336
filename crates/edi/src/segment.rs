//! Zero-copy views of one segment and its elements, components and repetitions.
//!
//! Nothing here allocates until a value is read: splitting walks the segment's bytes on demand,
//! and release characters (EDIFACT `?`) and line wrapping are removed only from the value asked
//! for, so a message nobody reads in full costs one pass to find its segment boundaries.

use std::borrow::Cow;
use std::fmt;

use crate::charset::Charset;
use crate::delimiters::Delimiters;

/// A segment tag: two or three ASCII letters or digits (`ISA`, `N1`, `UNH`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag {
    bytes: [u8; 3],
    len: u8,
}

impl Tag {
    /// Makes a tag from 2–3 ASCII alphanumeric bytes, or `None`.
    pub fn new(bytes: &[u8]) -> Option<Tag> {
        if !(2..=3).contains(&bytes.len()) || !bytes.iter().all(u8::is_ascii_alphanumeric) {
            return None;
        }
        let mut b = [0u8; 3];
        b[..bytes.len()].copy_from_slice(bytes);
        Some(Tag {
            bytes: b,
            len: bytes.len() as u8,
        })
    }

    /// A tag from a literal known to be valid (for constants).
    pub const fn from_static(bytes: &[u8]) -> Tag {
        let mut b = [0u8; 3];
        let mut i = 0;
        while i < bytes.len() && i < 3 {
            b[i] = bytes[i];
            i += 1;
        }
        Tag {
            bytes: b,
            len: i as u8,
        }
    }

    /// The tag's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The tag as text (always ASCII).
    pub fn as_str(&self) -> &str {
        // Tags are built only from ASCII alphanumerics, so this never fails.
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Tag {
    #[inline]
    fn eq(&self, other: &str) -> bool {
        let o = other.as_bytes();
        // Compared by hand: a slice comparison would call memcmp for three bytes.
        o.len() == usize::from(self.len) && o.iter().zip(self.bytes).all(|(a, b)| *a == b)
    }
}

impl PartialEq<&str> for Tag {
    #[inline]
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

/// One segment, borrowed from the input.
#[derive(Clone, Copy)]
pub struct Segment<'a> {
    /// From the first byte of the tag through the terminator and the white space after it.
    raw: &'a [u8],
    offset: u64,
    /// Length of the tag and elements, without terminator.
    content_len: u32,
    /// Where the first element separator stands in `raw` (== `content_len` when there is none).
    elements_at: u16,
    /// Where a binary element's data starts in `raw` (0: the segment has none).
    binary_at: u32,
    tag: Tag,
    delimiters: Delimiters,
}

impl<'a> Segment<'a> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_parts(
        raw: &'a [u8],
        offset: u64,
        content_len: usize,
        elements_at: usize,
        binary_at: usize,
        tag: Tag,
        delimiters: Delimiters,
    ) -> Self {
        Segment {
            raw,
            offset,
            content_len: content_len as u32,
            elements_at: elements_at as u16,
            binary_at: binary_at as u32,
            tag,
            delimiters,
        }
    }

    /// The tag (`ST`, `UNH`, …).
    pub fn tag(&self) -> Tag {
        self.tag
    }

    /// Absolute byte offset of the tag's first byte in the input.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The exact bytes of the segment as they stand in the input, from the tag through the
    /// terminator and any line break or blanks after it. Writing every segment's `raw` in order
    /// reproduces the input.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The tag and elements, without the terminator (still escaped, still wrapped).
    pub fn content(&self) -> &'a [u8] {
        &self.raw[..self.content_len as usize]
    }

    /// The delimiters the segment was read with.
    pub fn delimiters(&self) -> &Delimiters {
        &self.delimiters
    }

    /// True for X12 BIN/BDS segments, whose last element is binary data taken by length.
    pub fn is_binary(&self) -> bool {
        self.binary_at != 0
    }

    /// The elements after the tag, in order (the first is `ST01`, `UNH` 0062, …).
    pub fn elements(&self) -> Elements<'a> {
        let start = self.elements_at as usize;
        let content = self.content();
        Elements {
            content,
            pos: if start < content.len() {
                Some(start + 1)
            } else {
                None
            },
            base: self.offset,
            binary_at: self.binary_at as usize,
            delimiters: self.delimiters,
        }
    }

    /// The `n`th element, counted from 1 as the standards do (`element(2)` of `ST` is ST02).
    pub fn element(&self, n: usize) -> Option<Element<'a>> {
        n.checked_sub(1).and_then(|i| self.elements().nth(i))
    }

    /// Appends the elements after the tag to `out`, the same as [`Segment::elements`] yields
    /// them, in one pass over the segment. For a caller that reads many elements of a segment:
    /// [`Segment::element`] walks from the first element for each.
    pub fn elements_into(&self, out: &mut Vec<Element<'a>>) {
        let content = self.content();
        let first = self.elements_at as usize;
        if first >= content.len() {
            return;
        }
        let d = self.delimiters;
        // Binary data is taken by length: the element-by-element walk. Not common.
        if self.binary_at != 0 {
            out.extend(self.elements());
            return;
        }
        let pushed = out.len();
        let base = self.offset;
        // What makes an element not plain, as in `scan_element`; an absent role repeats the
        // component separator, which adds nothing.
        let c = d.component();
        let (cr, lf) = if d.newlines_are_wrapping() {
            (b'\r', b'\n')
        } else {
            (c, c)
        };
        let specials = [c, d.repetition().unwrap_or(c), cr, lf];
        let whole = split_unreleased(
            content,
            first + 1,
            d.element(),
            specials,
            d.release(),
            |start, end, plain| {
                out.push(Element {
                    raw: &content[start..end],
                    offset: base + start as u64,
                    delimiters: d,
                    binary: false,
                    plain,
                });
            },
        );
        if !whole {
            // A release character can hide a separator: the careful walk then.
            out.truncate(pushed);
            out.extend(self.elements());
        }
    }

    /// Number of elements after the tag (trailing empty ones included).
    pub fn element_count(&self) -> usize {
        self.elements().count()
    }

    /// Shortcut: the unescaped bytes of element `n`, component `c` (both 1-based); missing ones
    /// read as empty.
    pub fn value(&self, n: usize, c: usize) -> Cow<'a, [u8]> {
        self.element(n)
            .and_then(|e| e.component(c))
            .map(|v| v.value())
            .unwrap_or(Cow::Borrowed(&[]))
    }

    /// Shortcut: element `n`, component `c`, as text in `charset`, with trailing X12 padding
    /// kept (use [`str::trim_end`] where the standard pads).
    pub fn text(&self, n: usize, c: usize, charset: Charset) -> String {
        charset.decode(&self.value(n, c)).into_owned()
    }
}

impl fmt::Debug for Segment<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segment")
            .field("tag", &self.tag)
            .field("offset", &self.offset)
            .field("content", &String::from_utf8_lossy(self.content()))
            .finish()
    }
}

/// Iterator over a segment's elements.
#[derive(Clone)]
pub struct Elements<'a> {
    content: &'a [u8],
    pos: Option<usize>,
    base: u64,
    binary_at: usize,
    delimiters: Delimiters,
}

impl<'a> Iterator for Elements<'a> {
    type Item = Element<'a>;

    fn next(&mut self) -> Option<Element<'a>> {
        let start = self.pos?;
        if self.binary_at != 0 && start == self.binary_at {
            self.pos = None;
            return Some(Element {
                raw: &self.content[start..],
                offset: self.base + start as u64,
                delimiters: self.delimiters,
                binary: true,
                plain: false,
            });
        }
        let (end, plain) = scan_element(self.content, start, &self.delimiters);
        self.pos = end.map(|e| e + 1);
        let end = end.unwrap_or(self.content.len());
        Some(Element {
            raw: &self.content[start..end],
            offset: self.base + start as u64,
            delimiters: self.delimiters,
            binary: false,
            plain,
        })
    }
}

/// The end of the element starting at `from` (its separator, or `None` at the end of the
/// content) and whether the element is plain — no component or repetition separator, release
/// character or wrapping line break before that end. One word-at-a-time pass does both; an
/// element with a release character takes the careful path.
#[inline]
fn scan_element(bytes: &[u8], from: usize, d: &Delimiters) -> (Option<usize>, bool) {
    let e = d.element();
    let c = d.component();
    // Absent roles repeat the component separator, which adds nothing to the search.
    let r = d.repetition().unwrap_or(c);
    let z = d.release();
    let (cr, lf) = if d.newlines_are_wrapping() {
        (b'\r', b'\n')
    } else {
        (c, c)
    };
    let pe = LO.wrapping_mul(u64::from(e));
    let [pc, pr, pcr, plf] = [c, r, cr, lf].map(|b| LO.wrapping_mul(u64::from(b)));
    let pz = z.map(|b| LO.wrapping_mul(u64::from(b)));
    let careful = || {
        let end = find_unreleased(bytes, from, e, z, d.newlines_are_wrapping());
        (end, false)
    };
    let mut plain = true;
    let mut i = from;
    while let Some(chunk) = bytes.get(i..).and_then(|rest| rest.first_chunk::<8>()) {
        let w = u64::from_le_bytes(*chunk);
        let me = match_mask(w, pe);
        let ms = match_mask(w, pc) | match_mask(w, pr) | match_mask(w, pcr) | match_mask(w, plf);
        let mz = pz.map_or(0, |p| match_mask(w, p));
        // Bits are only ever set at or above a true match, so "a bit below the separator's"
        // means "a true match before the separator".
        let before = if me != 0 {
            (1u64 << me.trailing_zeros()) - 1
        } else {
            u64::MAX
        };
        if mz & before != 0 {
            return careful();
        }
        if ms & before != 0 {
            plain = false;
        }
        if me != 0 {
            return (Some(i + (me.trailing_zeros() / 8) as usize), plain);
        }
        i += 8;
    }
    for (k, &b) in bytes.get(i..).unwrap_or(&[]).iter().enumerate() {
        if b == e {
            return (Some(i + k), plain);
        }
        if Some(b) == z {
            return careful();
        }
        if b == c || b == r || b == cr || b == lf {
            plain = false;
        }
    }
    (None, plain)
}

/// Splits `bytes[from..]` at every `sep`, giving each part's bounds to `push` with whether it is
/// plain (holds none of `specials`, which may repeat `sep`); the last part runs to the end of
/// `bytes`. Returns false as soon as it meets `release`, which can hide a separator, having
/// pushed some parts already: the caller then takes the careful path.
///
/// One word-at-a-time pass for all parts: a segment's elements (or an element's components) are
/// short and a word often holds several separators, so every match in a word is used.
#[inline(always)]
fn split_unreleased<const N: usize>(
    bytes: &[u8],
    from: usize,
    sep: u8,
    specials: [u8; N],
    release: Option<u8>,
    mut push: impl FnMut(usize, usize, bool),
) -> bool {
    let broadcast = |b: u8| LO.wrapping_mul(u64::from(b));
    let ps = broadcast(sep);
    let pspecials = specials.map(broadcast);
    let pz = release.map(broadcast);
    // Where the current part starts, and whether a special byte has been seen in it.
    let mut start = from;
    let mut special = false;
    let mut i = from;
    while let Some(chunk) = bytes.get(i..).and_then(|rest| rest.first_chunk::<8>()) {
        let w = u64::from_le_bytes(*chunk);
        if pz.is_some_and(|p| exact_mask(w, p) != 0) {
            return false;
        }
        let mut m = exact_mask(w, ps);
        let ms = pspecials.iter().fold(0, |acc, &p| acc | exact_mask(w, p));
        // The bits of this word that belong to parts already pushed.
        let mut done = 0u64;
        while m != 0 {
            let bit = m.trailing_zeros();
            let upto = (1u64 << bit) - 1;
            if ms & upto & !done != 0 {
                special = true;
            }
            let end = i + (bit / 8) as usize;
            push(start, end, !special);
            start = end + 1;
            special = false;
            done = upto | (1u64 << bit);
            m &= m - 1;
        }
        if ms & !done != 0 {
            special = true;
        }
        i += 8;
    }
    for (k, &b) in bytes.get(i..).unwrap_or(&[]).iter().enumerate() {
        if b == sep {
            push(start, i + k, !special);
            start = i + k + 1;
            special = false;
        } else if Some(b) == release {
            return false;
        } else if specials.contains(&b) {
            special = true;
        }
    }
    push(start, bytes.len(), !special);
    true
}

/// Position of the first `sep` at or after `from` that is not preceded by the release character.
#[inline]
pub(crate) fn find_unreleased(
    bytes: &[u8],
    from: usize,
    sep: u8,
    release: Option<u8>,
    wrap: bool,
) -> Option<usize> {
    let mut i = from;
    match release {
        None => find_either(bytes, i, sep, sep),
        Some(r) => loop {
            let p = find_either(bytes, i, sep, r)?;
            if bytes[p] == r {
                // The released byte may stand after line wrapping (80-column files).
                i = p + 1;
                while wrap && i < bytes.len() && (bytes[i] == b'\r' || bytes[i] == b'\n') {
                    i += 1;
                }
                i += 1;
                if i > bytes.len() {
                    return None;
                }
            } else {
                return Some(p);
            }
        },
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `w` that equals the byte broadcast in `pattern`. A bit may also
/// be set above a true match (borrow propagation), never below one, so the lowest set bit is exact.
#[inline(always)]
fn match_mask(w: u64, pattern: u64) -> u64 {
    let x = w ^ pattern;
    x.wrapping_sub(LO) & !x & HI
}

/// High bit set in exactly the bytes of `w` that equal the byte broadcast in `pattern` (no
/// borrow crosses a byte, unlike [`match_mask`], so every set bit is a match).
#[inline(always)]
fn exact_mask(w: u64, pattern: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let x = w ^ pattern;
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// Position of the first `a` or `b` at or after `from`.
///
/// Segments and elements are short (most under 32 bytes), where a word-at-a-time scan beats the
/// setup cost of a vectorised search; longer runs go to `memchr`.
#[inline(always)]
pub(crate) fn find_either(bytes: &[u8], from: usize, a: u8, b: u8) -> Option<usize> {
    let pa = LO.wrapping_mul(u64::from(a));
    let pb = LO.wrapping_mul(u64::from(b));
    let mut i = from;
    let short_end = from.saturating_add(32);
    while i < short_end {
        let Some(chunk) = bytes.get(i..).and_then(|r| r.first_chunk::<8>()) else {
            // Fewer than eight bytes left: finish byte by byte.
            return bytes
                .get(i..)?
                .iter()
                .position(|&c| c == a || c == b)
                .map(|p| p + i);
        };
        let w = u64::from_le_bytes(*chunk);
        let m = match_mask(w, pa) | match_mask(w, pb);
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    let rest = bytes.get(i..)?;
    if a == b {
        memchr::memchr(a, rest).map(|p| p + i)
    } else {
        memchr::memchr2(a, b, rest).map(|p| p + i)
    }
}

/// One element, one repetition of an element, or one component: a borrowed, still-escaped span
/// that splits and unescapes on demand.
#[derive(Clone, Copy)]
pub struct Element<'a> {
    raw: &'a [u8],
    offset: u64,
    delimiters: Delimiters,
    binary: bool,
    /// Known to hold no component or repetition separator, release character or wrapping (found
    /// while the element's end was searched): reads skip splitting and unescaping.
    plain: bool,
}

impl<'a> Element<'a> {
    /// The bytes as they stand in the input (release characters and wrapping kept).
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Absolute byte offset of the first byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The bytes, when the element is one plain value: no repetition or component separator, no
    /// release character, no line wrapping. The common case, answered in one pass, so callers
    /// can skip splitting and unescaping.
    #[inline]
    pub fn plain(&self) -> Option<&'a [u8]> {
        if self.plain {
            return Some(self.raw);
        }
        if self.binary {
            return None;
        }
        let d = &self.delimiters;
        // The patterns to look for; an absent role repeats the component separator, which
        // changes nothing.
        let c = d.component();
        let r = d.repetition().unwrap_or(c);
        let z = d.release().unwrap_or(c);
        let (cr, lf) = if d.newlines_are_wrapping() {
            (b'\r', b'\n')
        } else {
            (c, c)
        };
        let [pc, pr, pz, pcr, plf] = [c, r, z, cr, lf].map(|b| LO.wrapping_mul(u64::from(b)));
        let mut chunks = self.raw.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let w = u64::from_le_bytes(word);
            let m = match_mask(w, pc)
                | match_mask(w, pr)
                | match_mask(w, pz)
                | match_mask(w, pcr)
                | match_mask(w, plf);
            if m != 0 {
                return None;
            }
        }
        let special = |b: &u8| *b == c || *b == r || *b == z || *b == cr || *b == lf;
        (!chunks.remainder().iter().any(special)).then_some(self.raw)
    }

    /// The delimiters the element was read with.
    pub fn delimiters(&self) -> &Delimiters {
        &self.delimiters
    }

    /// True when the element holds no data.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// True for the data element of an X12 BIN/BDS segment (raw bytes, never split).
    pub fn is_binary(&self) -> bool {
        self.binary
    }

    /// The data: release characters removed, line wrapping removed; binary data untouched.
    /// Borrows from the input unless something had to be removed.
    pub fn value(&self) -> Cow<'a, [u8]> {
        if self.binary || self.plain {
            return Cow::Borrowed(self.raw);
        }
        unescape(self.raw, &self.delimiters)
    }

    /// The data as text in the interchange's character set.
    pub fn text(&self, charset: Charset) -> Cow<'a, str> {
        match self.value() {
            Cow::Borrowed(b) => charset.decode(b),
            Cow::Owned(v) => Cow::Owned(charset.decode(&v).into_owned()),
        }
    }

    fn split(&self, sep: Option<u8>) -> Split<'a> {
        Split {
            raw: self.raw,
            pos: Some(0),
            base: self.offset,
            // A plain element has nothing to split: it is its only repetition and component.
            sep: if self.binary || self.plain { None } else { sep },
            delimiters: self.delimiters,
            binary: self.binary,
            plain: self.plain,
        }
    }

    /// The repetitions of this element (one, when the syntax has no repetition separator).
    pub fn repetitions(&self) -> Split<'a> {
        self.split(self.delimiters.repetition())
    }

    /// The components of this element (or of one repetition).
    pub fn components(&self) -> Split<'a> {
        self.split(Some(self.delimiters.component()))
    }

    /// Appends the components of this element (or of one repetition) to `out`: the same values
    /// as [`Element::components`] yields, without a separate search for each, and each marked
    /// plain when it is (so reading it skips the search for what to unescape).
    pub fn components_into(&self, out: &mut Vec<Element<'a>>) {
        let d = self.delimiters;
        if self.binary || self.plain {
            out.extend(self.components());
            return;
        }
        let pushed = out.len();
        // What makes a component not plain, besides the separator it is split at; an absent
        // role repeats the separator, which adds nothing (a separator ends the part first).
        let c = d.component();
        let (cr, lf) = if d.newlines_are_wrapping() {
            (b'\r', b'\n')
        } else {
            (c, c)
        };
        let specials = [d.repetition().unwrap_or(c), cr, lf];
        let whole = split_unreleased(
            self.raw,
            0,
            d.component(),
            specials,
            d.release(),
            |start, end, plain| {
                out.push(Element {
                    raw: &self.raw[start..end],
                    offset: self.offset + start as u64,
                    delimiters: d,
                    binary: false,
                    plain,
                });
            },
        );
        if !whole {
            // A release character can hide a separator: the careful walk then.
            out.truncate(pushed);
            out.extend(self.components());
        }
    }

    /// Component `n`, counted from 1 (`component(1)` of a simple element is the element).
    pub fn component(&self, n: usize) -> Option<Element<'a>> {
        n.checked_sub(1).and_then(|i| self.components().nth(i))
    }

    /// True when the element has more than one component.
    pub fn is_composite(&self) -> bool {
        !self.binary
            && !self.plain
            && find_unreleased(
                self.raw,
                0,
                self.delimiters.component(),
                self.delimiters.release(),
                self.delimiters.newlines_are_wrapping(),
            )
            .is_some()
    }
}

impl fmt::Debug for Element<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Element({:?})", String::from_utf8_lossy(self.raw))
    }
}

/// Iterator over the repetitions or components of an element.
#[derive(Clone)]
pub struct Split<'a> {
    raw: &'a [u8],
    pos: Option<usize>,
    base: u64,
    sep: Option<u8>,
    delimiters: Delimiters,
    binary: bool,
    plain: bool,
}

impl<'a> Iterator for Split<'a> {
    type Item = Element<'a>;

    fn next(&mut self) -> Option<Element<'a>> {
        let start = self.pos?;
        let end = self.sep.and_then(|s| {
            find_unreleased(
                self.raw,
                start,
                s,
                self.delimiters.release(),
                self.delimiters.newlines_are_wrapping(),
            )
        });
        self.pos = end.map(|e| e + 1);
        let end = end.unwrap_or(self.raw.len());
        Some(Element {
            raw: &self.raw[start..end],
            offset: self.base + start as u64,
            delimiters: self.delimiters,
            binary: self.binary,
            plain: self.plain,
        })
    }
}

/// Removes release characters (keeping the byte they release) and wrapping line breaks.
pub(crate) fn unescape<'a>(raw: &'a [u8], d: &Delimiters) -> Cow<'a, [u8]> {
    let wrap = d.newlines_are_wrapping();
    let release = d.release();
    // Values are short: a plain loop beats a vectorised search's call and set-up there.
    let special = |b: u8| Some(b) == release || (wrap && (b == b'\r' || b == b'\n'));
    let needs = if raw.len() <= 32 {
        raw.iter().any(|&b| special(b))
    } else {
        match (release, wrap) {
            (Some(r), true) => memchr::memchr3(r, b'\r', b'\n', raw).is_some(),
            (Some(r), false) => memchr::memchr(r, raw).is_some(),
            (None, true) => memchr::memchr2(b'\r', b'\n', raw).is_some(),
            (None, false) => false,
        }
    };
    if !needs {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if Some(b) == d.release() {
            // Skip wrapping between the release character and the byte it releases.
            let mut j = i + 1;
            while wrap && j < raw.len() && (raw[j] == b'\r' || raw[j] == b'\n') {
                j += 1;
            }
            if let Some(&next) = raw.get(j) {
                out.push(next);
            }
            i = j + 1;
        } else {
            if !(wrap && (b == b'\r' || b == b'\n')) {
                out.push(b);
            }
            i += 1;
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_removes_release_and_wrapping() {
        let d = Delimiters::EDIFACT_DEFAULT;
        assert_eq!(&*unescape(b"a?+b??c?'", &d), b"a+b?c'");
        assert_eq!(&*unescape(b"GENERAL \nWIDGET", &d), b"GENERAL WIDGET");
        assert!(matches!(unescape(b"plain", &d), Cow::Borrowed(_)));
    }

    #[test]
    fn find_either_agrees_with_a_plain_search() {
        let hay: Vec<u8> = (0..200u32).map(|i| (i * 37 % 251) as u8).collect();
        for from in [0, 1, 7, 8, 31, 33, 100, 199, 200] {
            for (a, b) in [(0u8, 0u8), (37, 37), (74, 200), (250, 3), (255, 254)] {
                let want = hay
                    .get(from..)
                    .and_then(|r| r.iter().position(|&c| c == a || c == b))
                    .map(|p| p + from);
                assert_eq!(
                    find_either(&hay, from, a, b),
                    want,
                    "from {from} a {a} b {b}"
                );
            }
        }
        // A match right after a byte that borrows (0x00 then the pattern byte).
        assert_eq!(find_either(b"\x00\x01\x01", 0, 1, 1), Some(1));
        assert_eq!(find_either(b"\x01\x00", 0, 0, 0), Some(1));
    }

    #[test]
    fn scan_element_finds_the_end_and_whether_the_element_is_plain() {
        let x12 = Delimiters::X12_DEFAULT;
        assert_eq!(scan_element(b"ABC*DEF", 0, &x12), (Some(3), true));
        assert_eq!(scan_element(b"A>B*DEF", 0, &x12), (Some(3), false));
        assert_eq!(scan_element(b"ABCDEFGHIJ>KL*M", 0, &x12), (Some(13), false));
        assert_eq!(
            scan_element(b"ABCDEFGH*IJ>KL", 0, &x12),
            (Some(8), true),
            "a separator after the end does not count"
        );
        assert_eq!(scan_element(b"ABCDEFGHIJKLMNOPQR", 0, &x12), (None, true));
        assert_eq!(scan_element(b"AB^CD", 0, &x12), (None, false));
        let edi = Delimiters::EDIFACT_DEFAULT;
        assert_eq!(
            scan_element(b"A?+B+C", 0, &edi),
            (Some(4), false),
            "released separator"
        );
        assert_eq!(scan_element(b"ABCDEFGH?+IJK+L", 0, &edi), (Some(13), false));
        assert_eq!(
            scan_element(b"WRAPPED\nTEXT+X", 0, &edi),
            (Some(12), false),
            "line wrapping"
        );
        assert_eq!(scan_element(b"12:34+X", 0, &edi), (Some(5), false));
        assert_eq!(scan_element(b"1234+X", 2, &edi), (Some(4), true));
    }

    #[test]
    fn find_unreleased_skips_released_separators() {
        assert_eq!(
            find_unreleased(b"a?+b+c", 0, b'+', Some(b'?'), true),
            Some(4)
        );
        assert_eq!(
            find_unreleased(b"a??+b", 0, b'+', Some(b'?'), true),
            Some(3)
        );
        assert_eq!(find_unreleased(b"a?", 0, b'+', Some(b'?'), true), None);
        assert_eq!(find_unreleased(b"abc", 0, b'+', None, true), None);
        // A release character, line wrapping, then the released separator.
        assert_eq!(
            find_unreleased(b"a?\r\n+b+c", 0, b'+', Some(b'?'), true),
            Some(6)
        );
        assert_eq!(
            find_unreleased(b"a?\n+b", 0, b'\n', Some(b'?'), false),
            None
        );
    }

    /// A segment over `raw` (tag, elements, terminator), as the parser would make it.
    fn segment_of<'a>(raw: &'a [u8], d: Delimiters, binary_at: usize) -> Segment<'a> {
        let content_len = raw
            .iter()
            .rposition(|&b| b == d.segment())
            .unwrap_or(raw.len());
        let tag_len = raw[..content_len]
            .iter()
            .position(|&b| b == d.element())
            .unwrap_or(content_len);
        let tag = Tag::new(&raw[..tag_len.min(3)]).unwrap_or(Tag::from_static(b"XX"));
        Segment::from_parts(raw, 1000, content_len, tag_len, binary_at, tag, d)
    }

    /// What `elements_into` appends, checked element by element against `elements`.
    fn assert_same_elements(seg: &Segment<'_>) {
        let mut fast = vec![];
        seg.elements_into(&mut fast);
        let walked: Vec<Element<'_>> = seg.elements().collect();
        fn view<'a>(e: &Element<'a>) -> (&'a [u8], u64, bool, bool) {
            (e.raw, e.offset, e.binary, e.plain)
        }
        assert_eq!(
            fast.iter().map(view).collect::<Vec<_>>(),
            walked.iter().map(view).collect::<Vec<_>>(),
            "{seg:?}"
        );
    }

    #[test]
    fn elements_into_agrees_with_the_element_walk() {
        let x12 = Delimiters::X12_DEFAULT;
        let edi = Delimiters::EDIFACT_DEFAULT;
        let v4 = Delimiters::EDIFACT_V4_DEFAULT;
        let cases: [(&[u8], Delimiters); 14] = [
            (
                b"PO1*1*336*CA*1757.96*PE*UP*676510539837*VN*SKU-31396*BP*38492126~",
                x12,
            ),
            (b"N1*ST*TYRELL GARDEN 74*92*2911~", x12),
            (b"PID*F****ECONOMY DRILL DRIVER 3/8 IN X 2 IN~", x12),
            (b"REF*ZZ*A>B^C>D*X~", x12),
            (b"N3*WRAPPED\nLINE*X~", x12),
            (b"CTT~", x12),
            (b"CTT*~", x12),
            (b"CTT**~", x12),
            (b"DTM+137:20240115:102'", edi),
            (b"IMD+F++:::O?'BRIEN CLAMP'", edi),
            (b"LIN+1++4006381333931:EN'", edi),
            (b"FTX+AAI+++ONE*TWO:THREE'", v4),
            (
                b"NAD+BY+5412345000013::9++LONG NAME THAT RUNS PAST THIRTY-TWO BYTES+STREET'",
                edi,
            ),
            (b"UNS+S'", edi),
        ];
        for (raw, d) in cases {
            assert_same_elements(&segment_of(raw, d, 0));
        }
        // Binary data is taken by length, never split.
        let bin = segment_of(b"BIN*5*A*B>C~", x12, 6);
        assert!(bin.elements().last().is_some_and(|e| e.is_binary()));
        assert_same_elements(&bin);
    }

    /// What `components_into` appends for every element and repetition of `seg`, checked
    /// against `components`: the same spans and everything read from them the same. A
    /// component may be marked plain where `components` leaves that to be found out, but only
    /// where nothing in it needs splitting or unescaping.
    fn assert_same_components(seg: &Segment<'_>) {
        type View<'a> = (
            &'a [u8],
            u64,
            bool,
            Option<&'a [u8]>,
            Vec<u8>,
            Vec<Vec<u8>>,
            bool,
        );
        fn view<'a>(e: &Element<'a>) -> View<'a> {
            let parts = e.repetitions().chain(e.components());
            (
                e.raw,
                e.offset,
                e.binary,
                e.plain(),
                e.value().into_owned(),
                parts.map(|p| p.value().into_owned()).collect(),
                e.is_composite(),
            )
        }
        for e in seg.elements() {
            for part in std::iter::once(e).chain(e.repetitions()) {
                let mut fast = vec![];
                part.components_into(&mut fast);
                for f in &fast {
                    let found = Element { plain: false, ..*f }.plain();
                    assert!(!f.plain || found.is_some(), "{f:?} marked plain");
                }
                let walked: Vec<Element<'_>> = part.components().collect();
                assert_eq!(
                    fast.iter().map(view).collect::<Vec<_>>(),
                    walked.iter().map(view).collect::<Vec<_>>(),
                    "{part:?} of {seg:?}"
                );
            }
        }
    }

    #[test]
    fn components_into_agrees_with_the_component_walk() {
        let x12 = Delimiters::X12_DEFAULT;
        let edi = Delimiters::EDIFACT_DEFAULT;
        let cases: [(&[u8], Delimiters); 8] = [
            (b"REF*ZZ*A>B^C>D>*X~", x12),
            (b"SV1*HC>99213>25**1~", x12),
            (b"DTM+137:20240115:102'", edi),
            (b"IMD+F++:::O?'BRIEN?: CLAMP'", edi),
            (b"NAD+BY+5412345000013::9++NAME:::'", edi),
            (b"QTY+21:5'", edi),
            (
                b"NAD+BY+1::9++A NAME LONGER THAN ONE WORD:AND A SECOND:C+X'",
                edi,
            ),
            (b"FTX+AAI+++WRAPPED:\nLINE'", edi),
        ];
        for (raw, d) in cases {
            assert_same_components(&segment_of(raw, d, 0));
        }
        assert_same_components(&segment_of(b"BIN*5*A>B^C~", x12, 6));
    }

    proptest::proptest! {
        #[test]
        fn elements_into_agrees_on_any_bytes(
            body in proptest::collection::vec(
                proptest::sample::select(b"AB1 *>^+:?\r\n".to_vec()), 0..70),
            edifact in proptest::bool::ANY,
        ) {
            let d = if edifact { Delimiters::EDIFACT_V4_DEFAULT } else { Delimiters::X12_DEFAULT };
            let mut raw = b"AB".to_vec();
            raw.extend(body.iter().filter(|&&b| b != d.segment()));
            raw.push(d.segment());
            let seg = segment_of(&raw, d, 0);
            assert_same_elements(&seg);
            assert_same_components(&seg);
        }
    }

    #[test]
    fn tags_are_two_or_three_alphanumerics() {
        assert!(Tag::new(b"N1").is_some());
        assert!(Tag::new(b"UNH").is_some());
        assert!(Tag::new(b"A").is_none());
        assert!(Tag::new(b"ABCD").is_none());
        assert!(Tag::new(b"A-B").is_none());
        assert_eq!(Tag::new(b"ISA").map(|t| t == "ISA"), Some(true));
    }
}
