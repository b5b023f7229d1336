//! Element checks: presence, repetitions, components, representation, length, codes, dates,
//! times and the syntax rules between positions.

use edi::{Element, Segment};
use spec::{DataType, ElementDef, Item, Position, Rule, SegmentDef, SpecSet, Syntax, Usage};

use crate::codes::ElementError;
use crate::report::ElementFinding;

/// The EDIFACT character repertoire a syntax identifier allows (ISO 9735 levels A and B); other
/// identifiers (UNOC…UNOY) allow every character of their set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Repertoire {
    /// UNOA: upper-case letters, digits, space and `.,-()/='+:?!"%&*;<>`.
    LevelA,
    /// UNOB: level A plus lower case (ISO 9735 level B has no `@`, brackets or braces).
    LevelB,
    /// Anything but control characters.
    Any,
}

impl Repertoire {
    pub(crate) fn for_identifier(id: &str) -> Repertoire {
        match id {
            "UNOA" => Repertoire::LevelA,
            "UNOB" => Repertoire::LevelB,
            _ => Repertoire::Any,
        }
    }

    /// [`Repertoire::allows`] for an ASCII byte, usable in constants.
    const fn allows_ascii(self, b: u8) -> bool {
        const A_SPECIALS: &[u8] = b" .,-()/='+:?!\"%&*;<>";
        let mut special = false;
        let mut i = 0;
        while i < A_SPECIALS.len() {
            if A_SPECIALS[i] == b {
                special = true;
            }
            i += 1;
        }
        match self {
            Repertoire::LevelA => b.is_ascii_uppercase() || b.is_ascii_digit() || special,
            Repertoire::LevelB => b.is_ascii_alphanumeric() || special,
            Repertoire::Any => !b.is_ascii_control(),
        }
    }

    fn allows(self, c: char) -> bool {
        const A_SPECIALS: &str = " .,-()/='+:?!\"%&*;<>";
        match self {
            Repertoire::LevelA => {
                c.is_ascii_uppercase() || c.is_ascii_digit() || A_SPECIALS.contains(c)
            }
            Repertoire::LevelB => c.is_ascii_alphanumeric() || A_SPECIALS.contains(c),
            Repertoire::Any => !c.is_control(),
        }
    }
}

/// What element checks need to know about the interchange.
pub(crate) struct Context<'s> {
    pub spec: &'s SpecSet,
    pub syntax: Syntax,
    pub charset: edi::Charset,
    pub repertoire: Repertoire,
    /// Whether a character may take more than one byte (UTF-8, EUC-KR, or X12's UTF-8 guess).
    pub multibyte: bool,
    /// The interchange's delimiters as byte classes, for [`segment_is_clean`].
    pub classes: &'s Classes,
}

impl<'s> Context<'s> {
    /// The context for checking segments of the interchange `classes` describe
    /// ([`Classes::for_interchange`]) against `spec`.
    pub(crate) fn new(spec: &'s SpecSet, classes: &'s Classes) -> Context<'s> {
        Context {
            spec,
            syntax: spec.syntax(),
            charset: classes.charset,
            repertoire: classes.repertoire,
            multibyte: match classes.charset {
                edi::Charset::Auto => true,
                edi::Charset::Known(enc) => !enc.is_single_byte(),
            },
            classes,
        }
    }
}

/// Checks one segment's elements against its definition.
///
/// This runs for every segment of every message. Almost every segment is clean, so
/// [`segment_is_clean`] answers first, in one pass over the bytes; only a segment it cannot vouch
/// for is walked element by element here, where every finding is built.
pub(crate) fn check_segment(
    seg: &Segment<'_>,
    def: &SegmentDef,
    ctx: &Context<'_>,
) -> Vec<ElementFinding> {
    if segment_is_clean(seg, def, ctx) {
        return Vec::new();
    }
    explain_segment(seg, def, ctx)
}

/// The findings for one segment, element by element: lazily split, with a bit set of present
/// positions; allocation happens only for findings.
fn explain_segment(seg: &Segment<'_>, def: &SegmentDef, ctx: &Context<'_>) -> Vec<ElementFinding> {
    let mut out = Vec::new();
    let mut elements = seg.elements();
    let mut present = Present::default();
    for (i, pos) in def.elements.iter().enumerate() {
        let position = i + 1;
        // Most elements are one plain value: take it without the blank check or splitting.
        let next = elements.next();
        if let Some(e) = &next
            && let Some(bytes) = e.plain()
            && !bytes.is_empty()
        {
            present.insert(position);
            check_plain(e, bytes, pos, position, ctx, &mut out);
            continue;
        }
        let Some(e) = next.filter(|e| !is_blank(e)) else {
            if pos.usage == Usage::Mandatory {
                out.push(ElementFinding {
                    code: ElementError::MandatoryMissing,
                    position,
                    component: None,
                    repetition: None,
                    element_id: pos.item.id().to_string(),
                    value: String::new(),
                    offset: seg.offset(),
                    detail: format!("{}{position:02} ({}) is mandatory", def.tag, pos.item.id()),
                    trigger: None,
                });
            }
            continue;
        };
        present.insert(position);
        check_position(&e, pos, position, ctx, &mut out);
    }
    // Extra elements: trailing empty ones are tolerated (a common sender habit that carries no
    // data); any extra with data is an error at the first such position.
    for (extra, e) in elements.enumerate() {
        if !e.is_empty() {
            let position = def.elements.len() + extra + 1;
            out.push(finding(
                ElementError::TooManyElements,
                position,
                None,
                None,
                "",
                &e,
                ctx,
                format!("{} defines {} elements", def.tag, def.elements.len()),
            ));
            break;
        }
    }
    check_rules(
        &def.rules,
        &present,
        seg,
        &def.tag,
        &def.elements,
        ctx,
        &mut out,
    );
    out
}

/// Byte classes of the fast path ([`Classes`]), as bits a run of bytes ors together: the two
/// separators, what needs the careful reading of [`explain_segment`] (release character,
/// repetition separator, a line break that may be wrapping), and what the value checks would
/// otherwise look at every byte for.
const COMPONENT: u8 = 1;
const ELEMENT: u8 = 2;
const CAREFUL: u8 = 4;
/// Not an ASCII digit.
const NOT_DIGIT: u8 = 8;
/// Not allowed by the repertoire table of [`allowed_bytes`] (which allows no byte beyond
/// ASCII).
const NOT_ALLOWED: u8 = 16;

/// An interchange's delimiters and repertoire as a table from byte to class bits, so splitting
/// a segment and learning what its values hold costs one load per byte.
pub(crate) struct Classes {
    delimiters: edi::Delimiters,
    /// The syntax whose repertoire table [`NOT_ALLOWED`] follows.
    syntax: Syntax,
    table: [u8; 256],
    /// The interchange's character set and repertoire, read from its header once rather than
    /// per message.
    charset: edi::Charset,
    repertoire: Repertoire,
}

impl Classes {
    /// The classes of `ic`'s delimiters and repertoire: built once per interchange.
    pub(crate) fn for_interchange(ic: &edi::Interchange<'_>) -> Classes {
        let syntax = match ic.standard() {
            edi::Standard::X12 => Syntax::X12,
            edi::Standard::Edifact => Syntax::Edifact,
        };
        let d = ic.delimiters();
        let repertoire = Repertoire::for_identifier(&ic.syntax_identifier());
        let allowed = repertoire_table(syntax, repertoire);
        let mut table = [0u8; 256];
        for (b, class) in table.iter_mut().enumerate() {
            if !(b as u8).is_ascii_digit() {
                *class |= NOT_DIGIT;
            }
            if !allowed[b] {
                *class |= NOT_ALLOWED;
            }
        }
        table[usize::from(d.component())] |= COMPONENT;
        table[usize::from(d.element())] |= ELEMENT;
        // A line break that is also a separator is careful too: such files take the careful
        // path throughout.
        for b in [Some(b'\r'), Some(b'\n'), d.repetition(), d.release()]
            .into_iter()
            .flatten()
        {
            table[usize::from(b)] |= CAREFUL;
        }
        Classes {
            delimiters: *d,
            syntax,
            table,
            charset: ic.charset(),
            repertoire,
        }
    }

    /// Whether `d` splits values as the delimiters of these classes do: the same element and
    /// component separators, repetition separator and release character (line breaks are
    /// always careful here, whatever they mean).
    #[inline]
    fn splits_like(&self, d: &edi::Delimiters) -> bool {
        let c = &self.delimiters;
        d.element() == c.element()
            && d.component() == c.component()
            && d.repetition() == c.repetition()
            && d.release() == c.release()
    }
}

/// One piece of a segment: the bytes between two separators, the classes of its bytes or'ed
/// together, and whether an element separator (or the end) closes it — else a component
/// separator does, and the element goes on.
#[derive(Clone, Copy)]
struct Piece<'a> {
    bytes: &'a [u8],
    seen: u8,
    last: bool,
}

/// A segment's elements split at every element and component separator, in one pass. Only a
/// segment with no [`CAREFUL`] byte splits exactly as [`Segment::elements`] does (a released
/// separator is data there); callers give up on the first piece that has one, and the pieces
/// before it are the same either way.
struct Pieces<'a, 'c> {
    rest: Option<&'a [u8]>,
    table: &'c [u8; 256],
}

impl<'a> Iterator for Pieces<'a, '_> {
    type Item = Piece<'a>;

    #[inline(always)]
    fn next(&mut self) -> Option<Piece<'a>> {
        let rest = self.rest?;
        let mut seen = 0u8;
        for (i, &b) in rest.iter().enumerate() {
            let class = self.table[usize::from(b)];
            if class & (ELEMENT | COMPONENT) != 0 {
                self.rest = rest.get(i + 1..);
                return Some(Piece {
                    bytes: &rest[..i],
                    seen,
                    last: class & ELEMENT != 0,
                });
            }
            seen |= class;
        }
        self.rest = None;
        Some(Piece {
            bytes: rest,
            seen,
            last: true,
        })
    }
}

/// The bit of `position` (1-based) in a set of present positions; none beyond 128, as
/// [`Present`] keeps them.
#[inline]
fn position_bit(position: usize) -> u128 {
    if (1..=128).contains(&position) {
        1 << (position - 1)
    } else {
        0
    }
}

/// Whether `rules` hold for the positions in `present`: by their masks when the spec could build
/// them, else one by one.
#[inline]
fn rules_hold(rules: &[Rule], masks: Option<&[spec::RuleMask]>, present: u128) -> bool {
    match masks {
        Some(masks) => masks.iter().all(|m| m.is_met(present)),
        None => {
            let present = Present(present);
            rules.iter().all(|r| rule_violation(r, &present).is_none())
        }
    }
}

/// True only when [`explain_segment`] would find nothing: one pass over the segment's bytes,
/// no allocation, no text. Anything it does not read as [`explain_segment`] would (a release
/// character, a repetition, line wrapping, a binary segment, an unusual tag) answers false, and
/// the careful walk decides; so may a rare shape that is merely slow to prove clean here.
pub(crate) fn segment_is_clean(seg: &Segment<'_>, def: &SegmentDef, ctx: &Context<'_>) -> bool {
    let classes = ctx.classes;
    if seg.is_binary() || classes.syntax != ctx.syntax || !classes.splits_like(seg.delimiters()) {
        return false;
    }
    // The tag is letters and digits (wrapped lines aside), so the elements start after the
    // first element separator, where `Segment::elements` starts them; the content up to it is
    // the tag's piece.
    let mut pieces = Pieces {
        rest: Some(seg.content()),
        table: &classes.table,
    };
    match pieces.next() {
        Some(tag) if tag.last && tag.seen & CAREFUL == 0 => {}
        _ => return false,
    }
    let mut present = 0u128;
    // This position's bit in `present` (none beyond 128, as `Present` keeps them).
    let mut bit = 1u128;
    for (i, pos) in def.elements.iter().enumerate() {
        let this = bit;
        bit <<= 1;
        let Some(first) = pieces.next() else {
            // No more elements: the remaining positions are all missing.
            return i >= def.mandatory_end
                && rules_hold(&def.rules, def.rule_masks.as_deref(), present);
        };
        if first.seen & CAREFUL != 0 {
            return false;
        }
        if first.last {
            // One plain value (no component separator).
            if first.bytes.is_empty() {
                if pos.usage == Usage::Mandatory {
                    return false;
                }
                continue;
            }
            present |= this;
            if !plain_is_clean(first, pos, ctx) {
                return false;
            }
        } else {
            let Some(nonblank) = components_are_clean(first, &mut pieces, pos, ctx) else {
                return false;
            };
            if nonblank {
                present |= this;
            } else if pos.usage == Usage::Mandatory {
                return false;
            }
        }
    }
    // Extra elements with data are an error (a component separator is data here); trailing
    // empty ones are not.
    pieces.all(|p| p.last && p.bytes.is_empty())
        && rules_hold(&def.rules, def.rule_masks.as_deref(), present)
}

/// [`segment_is_clean`] for an element sent as one non-empty plain value.
#[inline]
fn plain_is_clean(value: Piece<'_>, pos: &Position, ctx: &Context<'_>) -> bool {
    match &pos.item {
        Item::Element(_) => ctx
            .spec
            .element_at(pos.index)
            .is_none_or(|edef| value_is_clean(value.bytes, value.seen, edef, ctx)),
        // The first component; the others are missing.
        Item::Composite(_) => ctx.spec.composite_at(pos.index).is_none_or(|cdef| {
            !cdef.mandatory_after_first
                && cdef.components.first().is_none_or(|c| {
                    ctx.spec
                        .element_at(c.index)
                        .is_none_or(|edef| value_is_clean(value.bytes, value.seen, edef, ctx))
                })
                && rules_hold(&cdef.rules, cdef.rule_masks.as_deref(), 1)
        }),
    }
}

/// [`segment_is_clean`] for an element whose `first` piece a component separator closes: reads
/// the element's remaining pieces from `pieces`, checking each as it comes. `None` when
/// something may be wrong or needs the careful reading — always safe to answer, so a blank
/// element (all components empty), which [`explain_segment`] takes as missing and checks no
/// further, may get it too. Else whether the element holds data, which only decides once its
/// last piece is read.
fn components_are_clean<'a>(
    first: Piece<'a>,
    pieces: &mut Pieces<'a, '_>,
    pos: &Position,
    ctx: &Context<'_>,
) -> Option<bool> {
    let mut nonblank = !first.bytes.is_empty();
    let mut last = first.last;
    // The element's next piece, `None` inside after its last.
    let mut next = || -> Option<Option<Piece<'a>>> {
        if last {
            return Some(None);
        }
        let p = pieces.next()?;
        if p.seen & CAREFUL != 0 {
            return None;
        }
        last = p.last;
        nonblank |= !p.bytes.is_empty();
        Some(Some(p))
    };
    match &pos.item {
        Item::Element(_) => {
            let edef = ctx.spec.element_at(pos.index);
            // A simple element: only empty components after the first go unremarked.
            while let Some(c) = next()? {
                if edef.is_some() && !c.bytes.is_empty() {
                    return None;
                }
            }
            if let Some(edef) = edef
                && !value_is_clean(first.bytes, first.seen, edef, ctx)
            {
                return None;
            }
        }
        Item::Composite(_) => {
            let Some(def) = ctx.spec.composite_at(pos.index) else {
                while next()?.is_some() {}
                return Some(nonblank);
            };
            let mut present = 0u128;
            // Components 2 and 3, for the EDIFACT date check of `check_position`.
            let mut period: [Option<&[u8]>; 2] = [None, None];
            let mut j = 0;
            let mut piece = Some(first);
            loop {
                let Some(c) = piece else {
                    // No more pieces: the remaining components are all missing.
                    if def
                        .components
                        .get(j..)
                        .unwrap_or_default()
                        .iter()
                        .any(|p| p.usage == Usage::Mandatory)
                    {
                        return None;
                    }
                    break;
                };
                if let Some(slot) = j.checked_sub(1).and_then(|k| period.get_mut(k)) {
                    *slot = Some(c.bytes);
                }
                match def.components.get(j) {
                    // An empty component is missing.
                    Some(cpos) if c.bytes.is_empty() && cpos.usage == Usage::Mandatory => {
                        return None;
                    }
                    Some(_) if c.bytes.is_empty() => {}
                    Some(cpos) => {
                        present |= position_bit(j + 1);
                        if let Some(edef) = ctx.spec.element_at(cpos.index)
                            && !value_is_clean(c.bytes, c.seen, edef, ctx)
                        {
                            return None;
                        }
                    }
                    // Components beyond the definition must be empty.
                    None if !c.bytes.is_empty() => return None,
                    None => {}
                }
                j += 1;
                piece = next()?;
            }
            if ctx.syntax == Syntax::Edifact
                && same_bytes(def.id.as_bytes(), b"C507")
                && let [Some(v), Some(f)] = period
                && period_error(v, f).is_some()
            {
                return None;
            }
            if !rules_hold(&def.rules, def.rule_masks.as_deref(), present) {
                return None;
            }
        }
    }
    Some(nonblank)
}

/// Byte equality of short strings (ids such as `C507`) without a call to `memcmp`.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// [`classify_bytes`] found nothing, answered from the classes `seen` of the value's bytes
/// where they settle it: a value whose bytes are all of the kind its type wants (digits for
/// numbers, dates and times, allowed characters for text) has its byte count for its length,
/// and only length, code and calendar are left to look at. Anything else asks
/// [`classify_bytes`]. Same answer either way.
#[inline]
fn value_is_clean(bytes: &[u8], seen: u8, def: &ElementDef, ctx: &Context<'_>) -> bool {
    let unusual = match def.data_type {
        DataType::Alphanumeric | DataType::Identifier => NOT_ALLOWED,
        DataType::Numeric { .. } | DataType::Decimal | DataType::Date | DataType::Time => NOT_DIGIT,
        // Letters and binary data: the classes say nothing about these.
        DataType::Alphabetic | DataType::Binary => {
            return classify_bytes(bytes, def, ctx).is_none();
        }
    };
    if seen & unusual != 0 || bytes.is_empty() {
        return classify_bytes(bytes, def, ctx).is_none();
    }
    // Every byte is a digit or an allowed character (which are ASCII): the length is the
    // byte count, for numbers and text alike.
    let len = bytes.len() as u32;
    len >= def.min
        && len <= def.max
        && (def.codes.is_empty() || def.has_code(bytes.trim_ascii_end()))
        && match def.data_type {
            DataType::Date => is_date_bytes(bytes),
            DataType::Time => is_time_bytes(bytes),
            _ => true,
        }
}

/// Which positions (1-based, up to 128) hold data.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Present(u128);

impl Present {
    fn insert(&mut self, position: usize) {
        if (1..=128).contains(&position) {
            self.0 |= 1 << (position - 1);
        }
    }

    fn contains(&self, position: u8) -> bool {
        (1..=128).contains(&position) && self.0 & (1 << (position - 1)) != 0
    }
}

/// An element is blank when every component of every repetition is empty: its bytes are only
/// component and repetition separators.
fn is_blank(e: &Element<'_>) -> bool {
    let d = e.delimiters();
    e.raw()
        .iter()
        .all(|&b| b == d.component() || Some(b) == d.repetition())
}

/// The checks for a plain value (no repetitions, components, escapes).
fn check_plain(
    e: &Element<'_>,
    bytes: &[u8],
    pos: &Position,
    position: usize,
    ctx: &Context<'_>,
    out: &mut Vec<ElementFinding>,
) {
    let repeating = !matches!(pos.repeat, spec::MaxUse::Limited(1));
    let repetition = repeating.then_some(1);
    match &pos.item {
        Item::Element(id) => {
            if let Some(def) = ctx.spec.element_at(pos.index)
                && let Some((code, detail)) = check_bytes(bytes, def, ctx)
            {
                out.push(finding(
                    code, position, None, repetition, id, e, ctx, detail,
                ));
            }
        }
        Item::Composite(id) => {
            let Some(def) = ctx.spec.composite_at(pos.index) else {
                return;
            };
            let mut present = Present::default();
            present.insert(1);
            for (j, cpos) in def.components.iter().enumerate() {
                if j == 0 {
                    if let Some(edef) = ctx.spec.element_at(cpos.index)
                        && let Some((code, detail)) = check_bytes(bytes, edef, ctx)
                    {
                        out.push(finding(
                            code,
                            position,
                            Some(1),
                            repetition,
                            cpos.item.id(),
                            e,
                            ctx,
                            detail,
                        ));
                    }
                } else if cpos.usage == Usage::Mandatory {
                    out.push(ElementFinding {
                        code: ElementError::MandatoryMissing,
                        position,
                        component: Some(j + 1),
                        repetition,
                        element_id: cpos.item.id().to_string(),
                        value: String::new(),
                        offset: e.offset(),
                        detail: format!(
                            "component {} ({}) of {id} is mandatory",
                            j + 1,
                            cpos.item.id()
                        ),
                        trigger: None,
                    });
                }
            }
            composite_rules(def, &present, position, repetition, e.offset(), out);
        }
    }
}

fn check_position(
    e: &Element<'_>,
    pos: &Position,
    position: usize,
    ctx: &Context<'_>,
    out: &mut Vec<ElementFinding>,
) {
    if e.is_binary() {
        return;
    }
    let max = match pos.repeat {
        spec::MaxUse::Limited(n) => n as usize,
        spec::MaxUse::Unbounded => usize::MAX,
    };
    let repeating = max > 1;
    for (r, rep) in e.repetitions().enumerate() {
        if r == max {
            out.push(finding(
                ElementError::TooManyRepetitions,
                position,
                None,
                Some(max + 1),
                pos.item.id(),
                &rep,
                ctx,
                format!("{} repeats at most {max} times", pos.item.id()),
            ));
            break;
        }
        let repetition = repeating.then_some(r + 1);
        match &pos.item {
            Item::Element(id) => {
                let Some(def) = ctx.spec.element_at(pos.index) else {
                    continue;
                };
                let mut comps = rep.components();
                let first = comps.next().unwrap_or(rep);
                if let Some((extra, c)) = comps.enumerate().find(|(_, c)| !c.raw().is_empty()) {
                    out.push(finding(
                        ElementError::TooManyComponents,
                        position,
                        Some(extra + 2),
                        repetition,
                        id,
                        &c,
                        ctx,
                        format!("{id} is a simple element, not a composite"),
                    ));
                    continue;
                }
                if let Some((code, detail)) = check_value(&first, def, ctx) {
                    out.push(finding(
                        code, position, None, repetition, id, &first, ctx, detail,
                    ));
                }
            }
            Item::Composite(id) => {
                let Some(def) = ctx.spec.composite_at(pos.index) else {
                    continue;
                };
                let mut comps = rep.components();
                let mut present = Present::default();
                for (j, cpos) in def.components.iter().enumerate() {
                    let component = Some(j + 1);
                    let Some(c) = comps.next().filter(|c| !c.raw().is_empty()) else {
                        if cpos.usage == Usage::Mandatory {
                            out.push(ElementFinding {
                                code: ElementError::MandatoryMissing,
                                position,
                                component,
                                repetition,
                                element_id: cpos.item.id().to_string(),
                                value: String::new(),
                                offset: rep.offset(),
                                detail: format!(
                                    "component {} ({}) of {id} is mandatory",
                                    j + 1,
                                    cpos.item.id()
                                ),
                                trigger: None,
                            });
                        }
                        continue;
                    };
                    present.insert(j + 1);
                    let Some(edef) = ctx.spec.element_at(cpos.index) else {
                        continue;
                    };
                    if let Some((code, detail)) = check_value(&c, edef, ctx) {
                        out.push(finding(
                            code,
                            position,
                            component,
                            repetition,
                            cpos.item.id(),
                            &c,
                            ctx,
                            detail,
                        ));
                    }
                }
                // EDIFACT dates: C507's value (2380) must be a real date or time in the format its
                // qualifier (2379) names.
                if id == "C507" && ctx.syntax == Syntax::Edifact {
                    let parts: Vec<Element<'_>> = rep.components().collect();
                    if let (Some(v), Some(f)) = (parts.get(1), parts.get(2)) {
                        let value = v.value();
                        let format = f.value();
                        if let Some((code, what)) = period_error(&value, &format) {
                            out.push(finding(
                                code,
                                position,
                                Some(2),
                                repetition,
                                "2380",
                                v,
                                ctx,
                                format!(
                                    "2380 must be {what} (format {})",
                                    String::from_utf8_lossy(&format)
                                ),
                            ));
                        }
                    }
                }
                if let Some((extra, c)) = comps.enumerate().find(|(_, c)| !c.raw().is_empty()) {
                    let at = def.components.len() + extra;
                    out.push(finding(
                        ElementError::TooManyComponents,
                        position,
                        Some(at + 1),
                        repetition,
                        id,
                        &c,
                        ctx,
                        format!("{id} defines {} components", def.components.len()),
                    ));
                }
                composite_rules(def, &present, position, repetition, rep.offset(), out);
            }
        }
    }
}

/// Findings for a composite's rules between its components.
fn composite_rules(
    def: &spec::CompositeDef,
    present: &Present,
    position: usize,
    repetition: Option<usize>,
    offset: u64,
    out: &mut Vec<ElementFinding>,
) {
    for rule in &def.rules {
        // A trigger between components is not named: CTX points at elements.
        if let Some((code, at, _)) = rule_violation(rule, present) {
            out.push(ElementFinding {
                code,
                position,
                component: Some(usize::from(at)),
                repetition,
                element_id: def
                    .components
                    .get(usize::from(at) - 1)
                    .map_or(String::new(), |p| p.item.id().to_string()),
                value: String::new(),
                offset,
                detail: format!("{}: rule {} is not met", def.id, rule_text(rule)),
                trigger: None,
            });
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn finding(
    code: ElementError,
    position: usize,
    component: Option<usize>,
    repetition: Option<usize>,
    element_id: &str,
    e: &Element<'_>,
    ctx: &Context<'_>,
    detail: String,
) -> ElementFinding {
    ElementFinding {
        code,
        position,
        component,
        repetition,
        element_id: element_id.to_string(),
        value: e.text(ctx.charset).chars().take(99).collect(),
        offset: e.offset(),
        detail,
        trigger: None,
    }
}

fn check_rules(
    rules: &[Rule],
    present: &Present,
    seg: &Segment<'_>,
    tag: &str,
    positions: &[Position],
    _ctx: &Context<'_>,
    out: &mut Vec<ElementFinding>,
) {
    for rule in rules {
        if let Some((code, at, trigger)) = rule_violation(rule, present) {
            let id = positions
                .get(usize::from(at) - 1)
                .map_or(String::new(), |p| p.item.id().to_string());
            out.push(ElementFinding {
                code,
                position: usize::from(at),
                component: None,
                repetition: None,
                element_id: id,
                value: String::new(),
                offset: seg.offset(),
                detail: format!("{tag}: syntax rule {} is not met", rule_text(rule)),
                trigger: trigger.map(usize::from),
            });
        }
    }
}

fn rule_text(rule: &Rule) -> String {
    let (letter, positions) = match rule {
        Rule::Paired(p) => ('P', p.clone()),
        Rule::RequiredOne(p) => ('R', p.clone()),
        Rule::Exclusive(p) => ('E', p.clone()),
        Rule::Conditional(..) => ('C', rule.positions()),
        Rule::ListConditional(..) => ('L', rule.positions()),
    };
    let mut s = letter.to_string();
    for p in positions {
        s.push_str(&format!("{p:02}"));
    }
    s
}

/// The first violation of `rule` given the present positions: the code, the position to report,
/// and the present position that triggered the requirement or exclusion (none for "at least one
/// of", which nothing triggers).
fn rule_violation(rule: &Rule, present: &Present) -> Option<(ElementError, u8, Option<u8>)> {
    let has = |p: &u8| present.contains(*p);
    match rule {
        Rule::Paired(ps) => {
            let trigger = ps.iter().find(|p| has(p))?;
            ps.iter()
                .find(|p| !has(p))
                .map(|p| (ElementError::ConditionalMissing, *p, Some(*trigger)))
        }
        Rule::RequiredOne(ps) => {
            (!ps.iter().any(has)).then(|| (ElementError::ConditionalMissing, ps[0], None))
        }
        Rule::Exclusive(ps) => {
            let mut present_ones = ps.iter().filter(|p| has(p));
            let first = present_ones.next()?;
            present_ones
                .next()
                .map(|p| (ElementError::ExclusionViolated, *p, Some(*first)))
        }
        Rule::Conditional(first, rest) => {
            if has(first) {
                rest.iter()
                    .find(|p| !has(p))
                    .map(|p| (ElementError::ConditionalMissing, *p, Some(*first)))
            } else {
                None
            }
        }
        Rule::ListConditional(first, rest) => (has(first) && !rest.iter().any(has))
            .then(|| (ElementError::ConditionalMissing, rest[0], Some(*first))),
    }
}

/// Checks one simple value: characters for the type, length, code list, date, time. Works on
/// the bytes; text is decoded only for a finding, or for letters beyond ASCII.
pub(crate) fn check_value(
    e: &Element<'_>,
    def: &ElementDef,
    ctx: &Context<'_>,
) -> Option<(ElementError, String)> {
    check_bytes(&e.value(), def, ctx)
}

/// [`check_value`] on unescaped bytes.
pub(crate) fn check_bytes(
    bytes: &[u8],
    def: &ElementDef,
    ctx: &Context<'_>,
) -> Option<(ElementError, String)> {
    let code = classify_bytes(bytes, def, ctx)?;
    Some((code, explain_bytes(code, bytes, def, ctx)))
}

/// What is wrong with a simple value, without a word of explanation: the hot path asks only
/// whether anything is.
#[inline]
fn classify_bytes(bytes: &[u8], def: &ElementDef, ctx: &Context<'_>) -> Option<ElementError> {
    let numeric = matches!(def.data_type, DataType::Numeric { .. } | DataType::Decimal);
    let bad_char = match def.data_type {
        DataType::Numeric { .. } => !is_integer_bytes(bytes),
        DataType::Decimal => !is_decimal_bytes(bytes, ctx.syntax),
        DataType::Date | DataType::Time => !bytes.iter().all(u8::is_ascii_digit),
        DataType::Alphabetic => {
            if bytes.is_ascii() {
                !bytes.iter().all(|b| b.is_ascii_alphabetic() || *b == b' ')
                    || !allowed_bytes(bytes, ctx)
            } else {
                let text = ctx.charset.decode(bytes);
                text.chars().any(|c| !(c.is_alphabetic() || c == ' ')) || !allowed(&text, ctx)
            }
        }
        DataType::Binary => false,
        DataType::Alphanumeric | DataType::Identifier => !allowed_bytes(bytes, ctx),
    };
    if bad_char {
        return Some(ElementError::InvalidCharacter);
    }
    // Length: signs and decimal marks do not count for numbers; characters, not bytes, count
    // for text in a multi-byte character set.
    let len = if numeric {
        bytes.iter().filter(|b| b.is_ascii_digit()).count()
    } else if !ctx.multibyte || bytes.is_ascii() {
        bytes.len()
    } else {
        ctx.charset.decode(bytes).chars().count()
    } as u32;
    if len < def.min {
        return Some(ElementError::TooShort);
    }
    if len > def.max {
        return Some(ElementError::TooLong);
    }
    if !def.codes.is_empty() && !def.has_code(bytes.trim_ascii_end()) {
        return Some(ElementError::InvalidCode);
    }
    match def.data_type {
        DataType::Date if !is_date_bytes(bytes) => Some(ElementError::InvalidDate),
        DataType::Time if !is_time_bytes(bytes) => Some(ElementError::InvalidTime),
        _ => None,
    }
}

/// The detail for what [`classify_bytes`] found.
#[cold]
fn explain_bytes(code: ElementError, bytes: &[u8], def: &ElementDef, ctx: &Context<'_>) -> String {
    match code {
        ElementError::InvalidCharacter => {
            let what = match def.data_type {
                DataType::Numeric { .. } => "an integer",
                DataType::Decimal => "a decimal number",
                DataType::Date => "a date",
                DataType::Time => "a time",
                DataType::Alphabetic => "letters",
                _ => "characters of the declared character set",
            };
            format!("{} must be {what}", def.id)
        }
        ElementError::TooShort => format!("{} is at least {} long", def.id, def.min),
        ElementError::TooLong => format!("{} is at most {} long", def.id, def.max),
        ElementError::InvalidCode => format!(
            "{:?} is not a code of {} ({})",
            ctx.charset.decode(bytes),
            def.id,
            def.name
        ),
        ElementError::InvalidDate => format!("{} must be a date (CCYYMMDD or YYMMDD)", def.id),
        // `InvalidTime`, the one code `classify_bytes` answers that is left.
        _ => format!("{} must be a time (HHMM[SS[d..]])", def.id),
    }
}

/// The byte-level form of [`allowed`]: ASCII values are checked without decoding.
fn allowed_bytes(bytes: &[u8], ctx: &Context<'_>) -> bool {
    let table = repertoire_table(ctx.syntax, ctx.repertoire);
    if bytes.iter().all(|&b| table[usize::from(b)]) {
        return true;
    }
    // Bytes beyond ASCII are characters of the declared set: decode and judge those.
    !bytes.is_ascii() && allowed(&ctx.charset.decode(bytes), ctx)
}

/// The table [`allowed_bytes`] reads for a syntax and repertoire.
fn repertoire_table(syntax: Syntax, repertoire: Repertoire) -> &'static [bool; 256] {
    match (syntax, repertoire) {
        (Syntax::X12, _) | (Syntax::Edifact, Repertoire::Any) => &PRINTABLE,
        (Syntax::Edifact, Repertoire::LevelA) => &LEVEL_A,
        (Syntax::Edifact, Repertoire::LevelB) => &LEVEL_B,
    }
}

/// Which ASCII bytes a repertoire allows, as tables: one load per byte on the hot path.
const fn ascii_table(repertoire: Repertoire) -> [bool; 256] {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 128 {
        t[b] = repertoire.allows_ascii(b as u8);
        b += 1;
    }
    t
}

const PRINTABLE: [bool; 256] = ascii_table(Repertoire::Any);
const LEVEL_A: [bool; 256] = ascii_table(Repertoire::LevelA);
const LEVEL_B: [bool; 256] = ascii_table(Repertoire::LevelB);

fn is_integer_bytes(b: &[u8]) -> bool {
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

fn is_decimal_bytes(b: &[u8], syntax: Syntax) -> bool {
    // Plain digits, the usual case, need no further look.
    if !b.is_empty() && b.iter().all(u8::is_ascii_digit) {
        return true;
    }
    let b = b.strip_prefix(b"-").unwrap_or(b);
    let (mantissa, exponent) = match syntax {
        Syntax::X12 => match b.iter().position(|&c| c == b'E') {
            Some(at) => (&b[..at], Some(&b[at + 1..])),
            None => (b, None),
        },
        Syntax::Edifact => (b, None),
    };
    if let Some(e) = exponent
        && !is_integer_bytes(e)
    {
        return false;
    }
    let is_mark = |c: &u8| *c == b'.' || (syntax == Syntax::Edifact && *c == b',');
    let marks = mantissa.iter().filter(|c| is_mark(c)).count();
    let digits = mantissa.iter().filter(|c| c.is_ascii_digit()).count();
    // EDIFACT needs a digit before the decimal mark (0085 code 38); X12 allows ".5".
    let leading_mark = matches!(mantissa.first(), Some(b'.' | b','));
    marks <= 1
        && digits > 0
        && digits + marks == mantissa.len()
        && !(syntax == Syntax::Edifact && leading_mark)
}

/// The value of a run of ASCII digits (callers check they are digits; at most eight).
#[inline]
fn digits_value(b: &[u8]) -> u32 {
    b.iter()
        .fold(0u32, |n, d| n * 10 + u32::from(d.wrapping_sub(b'0')))
}

/// CCYYMMDD or YYMMDD, a real calendar date.
fn is_date_bytes(b: &[u8]) -> bool {
    // Digits only, so every field below is a number.
    if !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let (year, rest) = match b.len() {
        8 => (digits_value(&b[..4]), &b[4..]),
        6 => (2000 + digits_value(&b[..2]), &b[2..]),
        _ => return false,
    };
    let (month, day) = (digits_value(&rest[..2]), digits_value(&rest[2..]));
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// HHMM, HHMMSS or HHMMSSd..d: hours < 24, minutes and seconds < 60.
fn is_time_bytes(b: &[u8]) -> bool {
    if b.len() < 4 || b.len() > 8 || b.len() == 5 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    digits_value(&b[0..2]) < 24
        && digits_value(&b[2..4]) < 60
        && (b.len() < 6 || digits_value(&b[4..6]) < 60)
}

fn allowed(text: &str, ctx: &Context<'_>) -> bool {
    match ctx.syntax {
        Syntax::X12 => !text.chars().any(char::is_control),
        Syntax::Edifact => text.chars().all(|c| ctx.repertoire.allows(c)),
    }
}

#[cfg(test)]
fn is_integer(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
fn is_decimal(s: &str, syntax: Syntax) -> bool {
    is_decimal_bytes(s.as_bytes(), syntax)
}

/// Checks a date/time/period value against its EDIFACT format qualifier (2379); `None` when it
/// is right or the format is not one whose shape is checked.
fn period_error(value: &[u8], format: &[u8]) -> Option<(ElementError, &'static str)> {
    let v = std::str::from_utf8(value).ok()?;
    let digits = v.bytes().all(|b| b.is_ascii_digit());
    let date_time = |date_len: usize, time_len: usize| {
        digits
            && v.len() == date_len + time_len
            && is_date(&v[..date_len])
            && (time_len == 0 || is_time(&v[date_len..]))
    };
    let (ok, what, code) = match format {
        b"102" => (date_time(8, 0), "CCYYMMDD", ElementError::InvalidDate),
        b"101" => (date_time(6, 0), "YYMMDD", ElementError::InvalidDate),
        b"203" => (date_time(8, 4), "CCYYMMDDHHMM", ElementError::InvalidDate),
        b"204" => (date_time(8, 6), "CCYYMMDDHHMMSS", ElementError::InvalidDate),
        b"201" => (date_time(6, 4), "YYMMDDHHMM", ElementError::InvalidDate),
        b"401" => (
            digits && v.len() == 4 && is_time(v),
            "HHMM",
            ElementError::InvalidTime,
        ),
        b"718" => {
            let ok = v.split_once('-').is_some_and(|(a, b)| {
                [a, b]
                    .iter()
                    .all(|d| d.len() == 8 && d.bytes().all(|c| c.is_ascii_digit()) && is_date(d))
            });
            (ok, "CCYYMMDD-CCYYMMDD", ElementError::InvalidDate)
        }
        _ => return None,
    };
    (!ok).then_some((code, what))
}

/// CCYYMMDD or YYMMDD, a real calendar date.
pub(crate) fn is_date(s: &str) -> bool {
    is_date_bytes(s.as_bytes())
}

/// HHMM, HHMMSS or HHMMSSd..d: hours < 24, minutes and seconds < 60.
pub(crate) fn is_time(s: &str) -> bool {
    is_time_bytes(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times() {
        assert!(!is_date("24031ÿ5"), "non-ASCII is no date, and no panic");
        assert!(!is_time("12ÿ5"));
        assert!(is_date("20240229"));
        assert!(!is_date("20230229"));
        assert!(is_date("240101"));
        assert!(!is_date("20241301"));
        assert!(!is_date("2024010"));
        assert!(is_time("2359"));
        assert!(is_time("235959"));
        assert!(is_time("23595999"));
        assert!(!is_time("2460"));
        assert!(!is_time("12345"));
    }

    #[test]
    fn edifact_periods() {
        assert_eq!(period_error(b"20240229", b"102"), None);
        assert_eq!(
            period_error(b"20230229", b"102"),
            Some((ElementError::InvalidDate, "CCYYMMDD"))
        );
        assert_eq!(period_error(b"202401011200", b"203"), None);
        assert!(period_error(b"202401012460", b"203").is_some());
        assert_eq!(period_error(b"20240101-20240131", b"718"), None);
        assert!(period_error(b"20240101-2024013", b"718").is_some());
        assert_eq!(
            period_error(b"2561", b"401"),
            Some((ElementError::InvalidTime, "HHMM"))
        );
        assert_eq!(period_error(b"anything", b"ZZZ"), None);
    }

    #[test]
    fn numbers() {
        assert!(is_integer("-12"));
        assert!(!is_integer("1.2"));
        assert!(is_decimal("12.50", Syntax::X12));
        assert!(is_decimal(".5", Syntax::X12));
        assert!(!is_decimal(".5", Syntax::Edifact));
        assert!(is_decimal("12,5", Syntax::Edifact));
        assert!(!is_decimal("12,5", Syntax::X12));
        assert!(is_decimal("1E-3", Syntax::X12));
        assert!(!is_decimal("1.2.3", Syntax::X12));
        assert!(!is_decimal("abc", Syntax::Edifact));
    }

    #[test]
    fn repertoires() {
        assert!(Repertoire::LevelA.allows('A'));
        assert!(!Repertoire::LevelA.allows('a'));
        assert!(Repertoire::LevelB.allows('a'));
        assert!(!Repertoire::LevelB.allows('é'));
        assert!(!Repertoire::LevelB.allows('@'));
        for b in 0..128u8 {
            for r in [Repertoire::LevelA, Repertoire::LevelB, Repertoire::Any] {
                assert_eq!(r.allows_ascii(b), r.allows(char::from(b)), "{r:?} {b}");
            }
        }
        assert!(Repertoire::Any.allows('é'));
        assert!(!Repertoire::Any.allows('\u{1}'));
    }

    #[test]
    fn rules() {
        let mut present = Present::default();
        present.insert(3);
        assert_eq!(
            rule_violation(&Rule::Paired(vec![3, 4]), &present),
            Some((ElementError::ConditionalMissing, 4, Some(3)))
        );
        assert_eq!(
            rule_violation(&Rule::RequiredOne(vec![1, 2]), &present),
            Some((ElementError::ConditionalMissing, 1, None))
        );
        assert_eq!(rule_violation(&Rule::Exclusive(vec![3, 4]), &present), None);
        let mut both = present;
        both.insert(4);
        assert_eq!(
            rule_violation(&Rule::Exclusive(vec![3, 4]), &both),
            Some((ElementError::ExclusionViolated, 4, Some(3)))
        );
        assert_eq!(
            rule_violation(&Rule::Conditional(3, vec![5]), &present),
            Some((ElementError::ConditionalMissing, 5, Some(3)))
        );
        assert_eq!(
            rule_violation(&Rule::ListConditional(3, vec![5, 6]), &present),
            Some((ElementError::ConditionalMissing, 5, Some(3)))
        );
    }
}

/// The fast path ([`segment_is_clean`], [`value_is_clean`], the rule masks) must never call
/// clean what the careful walk would report: checked here against the careful code itself, on
/// real specs and on many mutated segments.
#[cfg(test)]
mod fast_path {
    use super::*;
    use crate::Specs;

    const ORDERS: &str = "UNA:+.? '\nUNB+UNOC:3+5412345000013:14+8712345000016:14+240315:1422+IC1++ORDERS'\n\
        UNH+1+ORDERS:D:96A:UN:EAN008'\nBGM+220+PO4711+9'\nDTM+137:20240315:102'\nDTM+2:20240401:102'\n\
        FTX+PUR+++DELIVER TO GATE 4, CALL ?+32 2 555 0100'\nRFF+CT:3021358'\n\
        NAD+BY+5412345000013::9++ACME HARDWARE+1 MAIN ST+KOELN++50667+DE'\nNAD+SU+8712345000016::9'\n\
        CUX+2:EUR:9'\nLIN+1++4000862141404:EN'\nPIA+1+ART-18659:SA'\nIMD+F++:::WORK GLOVES 4 PK'\n\
        QTY+21:450:PCE'\nPRI+AAA:483.70'\nLIN+2++4000862141411:EN'\nIMD+F++:::RATIO 1?:2 MIX'\n\
        QTY+21:12'\nPRI+AAA:12,5'\nUNS+S'\nCNT+2:2'\nUNT+21+1'\nUNZ+1+IC1'\n";

    const PO: &str = "ISA*00*          *00*          *ZZ*SENDERID       *ZZ*RECEIVERID     *240315*1422*U*00401*000000101*0*P*>~\n\
        GS*PO*SENDERID*RECEIVERID*20240315*1422*101*X*004010~\nST*850*0001~\n\
        BEG*00*SA*PO-4711**20240315~\nREF*DP*038~\nPER*BD*WEI CHEN*TE*2071728990~\n\
        ITD*01*3*2**30**60~\nDTM*002*20240624~\nTD5*O*2*DFL*M*ODFL GROUND~\n\
        N1*ST*TYRELL GARDEN 74*92*2911~\nN3*1200 INDUSTRIAL PKWY~\nN4*ATLANTA*GA*30301*US~\n\
        PO1*1*336*CA*1757.96*PE*UP*676510539837*VN*SKU-31396*BP*38492126~\nPID*F****WIDGET 4 IN~\n\
        PO4*12*1*EA~\nCTT*1~\nSE*16*0001~\nGE*1*101~\nIEA*1*000000101~\n";

    fn specs() -> Specs {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../specs");
        Specs::load(&dir).expect("the specs load")
    }

    /// A small deterministic generator (xorshift): no dependency, same cases every run.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Bytes worth trying: separators of both syntaxes, release and repetition characters,
    /// digits, letters, marks, blanks, controls and bytes beyond ASCII.
    const ALPHABET: &[u8] = b"+:'*>~^?\r\n 0123456789AZaz.,-E/!@\x01\x7f\x80\xe9\xff";

    fn spec_for<'s>(specs: &'s Specs, ic: &edi::Interchange<'_>) -> &'s SpecSet {
        match ic.standard() {
            edi::Standard::X12 => specs.x12(&ic.version()).or_else(|| specs.x12("004010")),
            edi::Standard::Edifact => specs.edifact("D", "96A"),
        }
        .expect("a spec")
    }

    /// The templates, and variants with other repertoires and delimiters: a repetition
    /// separator (X12 005010 `^`, EDIFACT syntax 4 `*`) and other characters.
    fn templates() -> Vec<String> {
        vec![
            ORDERS.to_string(),
            ORDERS.replace("UNOC", "UNOA"),
            ORDERS.replace("UNOC", "UNOB"),
            ORDERS
                .replace("UNA:+.? '", "UNA:+.?*'")
                .replace("UNOC:3", "UNOC:4"),
            PO.to_string(),
            PO.replace("*U*00401*", "*^*00501*")
                .replace("*X*004010~", "*X*005010~"),
        ]
    }

    /// Every segment of `input` with a definition: the fast path's "clean" must mean the
    /// careful walk finds nothing. Returns how many segments the fast path vouched for.
    fn agree(specs: &Specs, input: &[u8]) -> usize {
        let mut clean = 0;
        for ic in edi::Parser::new().lenient(true).interchanges(input) {
            let Ok(ic) = ic else { continue };
            let spec = spec_for(specs, &ic);
            let classes = Classes::for_interchange(&ic);
            let ctx = Context::new(spec, &classes);
            for seg in ic.segments() {
                let Some(def) = spec.segment(seg.tag().as_str()) else {
                    continue;
                };
                if segment_is_clean(seg, def, &ctx) {
                    clean += 1;
                    let found = explain_segment(seg, def, &ctx);
                    assert!(
                        found.is_empty(),
                        "fast path called {:?} clean; careful walk found {found:?}",
                        String::from_utf8_lossy(seg.raw())
                    );
                }
            }
        }
        clean
    }

    #[test]
    fn clean_segments_are_clean() {
        let specs = specs();
        for template in [ORDERS, PO] {
            let clean = agree(&specs, template.as_bytes());
            // Everything but the FTX and IMD with release characters takes the fast path.
            assert!(clean >= 15, "only {clean} segments took the fast path");
        }
        for input in templates() {
            assert!(agree(&specs, input.as_bytes()) >= 15, "{input}");
        }
    }

    #[test]
    fn mutated_segments_never_pass_wrongly() {
        let specs = specs();
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut vouched = 0;
        for template in &templates() {
            let lines: Vec<&[u8]> = template
                .as_bytes()
                .split_inclusive(|&b| b == b'\n')
                .collect();
            for _ in 0..3000 {
                let mut out = Vec::new();
                for line in &lines {
                    let mut line = line.to_vec();
                    // Envelope lines and tags stay intact, so the interchange still parses.
                    let envelope = [&b"UNA"[..], b"UNB", b"UNZ", b"ISA", b"GS*", b"GE*", b"IEA"]
                        .iter()
                        .any(|t| line.starts_with(t));
                    if !envelope && line.len() > 6 && rng.below(3) == 0 {
                        for _ in 0..=rng.below(3) {
                            if line.len() < 7 {
                                break;
                            }
                            let at = 4 + rng.below(line.len() - 5);
                            let b = ALPHABET[rng.below(ALPHABET.len())];
                            match rng.below(3) {
                                0 => line[at] = b,
                                1 => line.insert(at, b),
                                _ => {
                                    line.remove(at);
                                }
                            }
                        }
                    }
                    out.extend_from_slice(&line);
                }
                vouched += agree(&specs, &out);
            }
        }
        assert!(
            vouched > 10_000,
            "the fast path vouched for only {vouched} segments"
        );
    }

    #[test]
    fn values_agree_with_the_plain_check() {
        let specs = specs();
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        for input in templates() {
            let ic = edi::Parser::new()
                .lenient(true)
                .interchanges(input.as_bytes())
                .next()
                .expect("one interchange")
                .expect("it parses");
            let spec = spec_for(&specs, &ic);
            let classes = Classes::for_interchange(&ic);
            let ctx = Context::new(spec, &classes);
            // Values as the fast path hands them over: no separator, nothing careful.
            let usable: Vec<u8> = ALPHABET
                .iter()
                .copied()
                .filter(|b| classes.table[usize::from(*b)] & (ELEMENT | COMPONENT | CAREFUL) == 0)
                .collect();
            let mut values: Vec<Vec<u8>> = vec![
                b"".to_vec(),
                b"0".to_vec(),
                b"20240229".to_vec(),
                b"20230229".to_vec(),
                b"1200".to_vec(),
                b"2460".to_vec(),
                b"-12".to_vec(),
                b"12.50".to_vec(),
                b"12,5".to_vec(),
                b".5".to_vec(),
                b"1E-3".to_vec(),
                b"SA".to_vec(),
                b"PCE".to_vec(),
                b"EN ".to_vec(),
            ];
            for _ in 0..400 {
                let len = rng.below(12);
                values.push((0..len).map(|_| usable[rng.below(usable.len())]).collect());
            }
            let mut index = 0;
            while let Some(def) = spec.element_at(index) {
                index += 1;
                let mut codes: Vec<Vec<u8>> = def
                    .codes
                    .keys()
                    .take(3)
                    .map(|c| c.as_bytes().to_vec())
                    .collect();
                codes.extend(values.iter().cloned());
                for v in &codes {
                    if v.iter().any(|b| {
                        classes.table[usize::from(*b)] & (ELEMENT | COMPONENT | CAREFUL) != 0
                    }) {
                        continue;
                    }
                    let seen = v.iter().fold(0, |s, b| s | classes.table[usize::from(*b)]);
                    assert_eq!(
                        value_is_clean(v, seen, def, &ctx),
                        classify_bytes(v, def, &ctx).is_none(),
                        "{} {:?}",
                        def.id,
                        String::from_utf8_lossy(v)
                    );
                }
            }
        }
    }

    #[test]
    fn rule_masks_agree_with_the_rules() {
        let lists: &[&[u8]] = &[&[1, 2], &[2, 3, 5], &[3, 3], &[1, 1, 2], &[4], &[6, 1, 6]];
        let mut rules = Vec::new();
        for list in lists {
            rules.push(Rule::Paired(list.to_vec()));
            rules.push(Rule::RequiredOne(list.to_vec()));
            rules.push(Rule::Exclusive(list.to_vec()));
            for first in 1..=3 {
                rules.push(Rule::Conditional(first, list.to_vec()));
                rules.push(Rule::ListConditional(first, list.to_vec()));
            }
        }
        for rule in &rules {
            let mask = spec::RuleMask::new(rule).expect("positions 1-6 fit");
            for present in 0u128..64 {
                assert_eq!(
                    mask.is_met(present),
                    rule_violation(rule, &Present(present)).is_none(),
                    "{rule:?} with {present:06b}"
                );
                assert_eq!(
                    rules_hold(std::slice::from_ref(rule), None, present),
                    mask.is_met(present)
                );
            }
        }
        // Positions beyond the masks: the rules are read one by one instead.
        assert_eq!(spec::RuleMask::new(&Rule::Paired(vec![3, 70])), None);
    }
}
