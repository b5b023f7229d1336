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
}

/// Checks one segment's elements against its definition.
///
/// This runs for every segment of every message, so it walks the elements once, lazily, and
/// keeps which positions are present in a bit set; allocation happens only for findings.
pub(crate) fn check_segment(
    seg: &Segment<'_>,
    def: &SegmentDef,
    ctx: &Context<'_>,
) -> Vec<ElementFinding> {
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
        if let Some((code, at)) = rule_violation(rule, present) {
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
        if let Some((code, at)) = rule_violation(rule, present) {
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

/// The first violation of `rule` given the present positions: the code and the position to
/// report.
fn rule_violation(rule: &Rule, present: &Present) -> Option<(ElementError, u8)> {
    let has = |p: &u8| present.contains(*p);
    match rule {
        Rule::Paired(ps) => {
            if ps.iter().any(has) {
                ps.iter()
                    .find(|p| !has(p))
                    .map(|p| (ElementError::ConditionalMissing, *p))
            } else {
                None
            }
        }
        Rule::RequiredOne(ps) => {
            (!ps.iter().any(has)).then(|| (ElementError::ConditionalMissing, ps[0]))
        }
        Rule::Exclusive(ps) => ps
            .iter()
            .filter(|p| has(p))
            .nth(1)
            .map(|p| (ElementError::ExclusionViolated, *p)),
        Rule::Conditional(first, rest) => {
            if has(first) {
                rest.iter()
                    .find(|p| !has(p))
                    .map(|p| (ElementError::ConditionalMissing, *p))
            } else {
                None
            }
        }
        Rule::ListConditional(first, rest) => (has(first) && !rest.iter().any(has))
            .then(|| (ElementError::ConditionalMissing, rest[0])),
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
        let what = match def.data_type {
            DataType::Numeric { .. } => "an integer",
            DataType::Decimal => "a decimal number",
            DataType::Date => "a date",
            DataType::Time => "a time",
            DataType::Alphabetic => "letters",
            _ => "characters of the declared character set",
        };
        return Some((
            ElementError::InvalidCharacter,
            format!("{} must be {what}", def.id),
        ));
    }
    // Length: signs and decimal marks do not count for numbers; characters, not bytes, count
    // for text in a multi-byte character set.
    let len = if numeric {
        bytes.iter().filter(|b| b.is_ascii_digit()).count()
    } else if bytes.is_ascii() || !ctx.multibyte {
        bytes.len()
    } else {
        ctx.charset.decode(bytes).chars().count()
    } as u32;
    if len < def.min {
        return Some((
            ElementError::TooShort,
            format!("{} is at least {} long", def.id, def.min),
        ));
    }
    if len > def.max {
        return Some((
            ElementError::TooLong,
            format!("{} is at most {} long", def.id, def.max),
        ));
    }
    if !def.codes.is_empty() {
        let known = def.code_bytes.contains(bytes.trim_ascii_end());
        if !known {
            let text = ctx.charset.decode(bytes);
            return Some((
                ElementError::InvalidCode,
                format!("{:?} is not a code of {} ({})", text, def.id, def.name),
            ));
        }
    }
    match def.data_type {
        DataType::Date if !is_date_bytes(bytes) => Some((
            ElementError::InvalidDate,
            format!("{} must be a date (CCYYMMDD or YYMMDD)", def.id),
        )),
        DataType::Time if !is_time_bytes(bytes) => Some((
            ElementError::InvalidTime,
            format!("{} must be a time (HHMM[SS[d..]])", def.id),
        )),
        _ => None,
    }
}

/// The byte-level form of [`allowed`]: ASCII values are checked without decoding.
fn allowed_bytes(bytes: &[u8], ctx: &Context<'_>) -> bool {
    let table = match (ctx.syntax, ctx.repertoire) {
        (Syntax::X12, _) | (Syntax::Edifact, Repertoire::Any) => &PRINTABLE,
        (Syntax::Edifact, Repertoire::LevelA) => &LEVEL_A,
        (Syntax::Edifact, Repertoire::LevelB) => &LEVEL_B,
    };
    if bytes.iter().all(|&b| table[usize::from(b)]) {
        return true;
    }
    // Bytes beyond ASCII are characters of the declared set: decode and judge those.
    !bytes.is_ascii() && allowed(&ctx.charset.decode(bytes), ctx)
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
    std::str::from_utf8(b).is_ok_and(|s| is_decimal(s, syntax))
}

fn is_date_bytes(b: &[u8]) -> bool {
    b.is_ascii() && std::str::from_utf8(b).is_ok_and(is_date)
}

fn is_time_bytes(b: &[u8]) -> bool {
    b.is_ascii() && std::str::from_utf8(b).is_ok_and(is_time)
}

fn allowed(text: &str, ctx: &Context<'_>) -> bool {
    match ctx.syntax {
        Syntax::X12 => !text.chars().any(char::is_control),
        Syntax::Edifact => text.chars().all(|c| ctx.repertoire.allows(c)),
    }
}

fn is_integer(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn is_decimal(s: &str, syntax: Syntax) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (mantissa, exponent) = match syntax {
        Syntax::X12 => match s.split_once('E') {
            Some((m, e)) => (m, Some(e)),
            None => (s, None),
        },
        Syntax::Edifact => (s, None),
    };
    if let Some(e) = exponent
        && !is_integer(e)
    {
        return false;
    }
    let marks = mantissa
        .bytes()
        .filter(|b| *b == b'.' || (syntax == Syntax::Edifact && *b == b','))
        .count();
    let digits = mantissa.bytes().filter(u8::is_ascii_digit).count();
    // EDIFACT needs a digit before the decimal mark (0085 code 38); X12 allows ".5".
    let leading_mark = mantissa.starts_with(['.', ',']);
    marks <= 1
        && digits > 0
        && digits + marks == mantissa.len()
        && !(syntax == Syntax::Edifact && leading_mark)
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
    // Digits only, so the byte slices below fall on character boundaries.
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let (year, rest) = match s.len() {
        8 => (s[..4].parse::<u32>().ok(), &s[4..]),
        6 => (s[..2].parse::<u32>().ok().map(|y| 2000 + y), &s[2..]),
        _ => return false,
    };
    let (Some(year), Ok(month), Ok(day)) =
        (year, rest[..2].parse::<u32>(), rest[2..].parse::<u32>())
    else {
        return false;
    };
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
pub(crate) fn is_time(s: &str) -> bool {
    if s.len() < 4 || s.len() > 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let n = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<u32>().ok());
    let ok_hm = n(0..2).is_some_and(|h| h < 24) && n(2..4).is_some_and(|m| m < 60);
    let ok_s = s.len() < 6 || n(4..6).is_some_and(|sec| sec < 60);
    ok_hm && ok_s && s.len() != 5
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
            Some((ElementError::ConditionalMissing, 4))
        );
        assert_eq!(
            rule_violation(&Rule::RequiredOne(vec![1, 2]), &present),
            Some((ElementError::ConditionalMissing, 1))
        );
        assert_eq!(rule_violation(&Rule::Exclusive(vec![3, 4]), &present), None);
        let mut both = present;
        both.insert(4);
        assert_eq!(
            rule_violation(&Rule::Exclusive(vec![3, 4]), &both),
            Some((ElementError::ExclusionViolated, 4))
        );
        assert_eq!(
            rule_violation(&Rule::Conditional(3, vec![5]), &present),
            Some((ElementError::ConditionalMissing, 5))
        );
        assert_eq!(
            rule_violation(&Rule::ListConditional(3, vec![5, 6]), &present),
            Some((ElementError::ConditionalMissing, 5))
        );
    }
}
