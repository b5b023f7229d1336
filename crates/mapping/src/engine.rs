//! Translation: one message, its mapping, one event or the list of what went wrong.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use edi::{Charset, Element, Interchange, Message, Tag};
use events::documents::{
    AckKind, AckStatus, Carrier, ChangeKind, InventoryItem, InventoryQuantity, InventoryReport,
    Invoice, InvoiceKind, InvoiceLine, InvoiceTotals, InvoiceType, LineChange, Order, OrderLine,
    OrderResponse, Package, Product, Purpose, PurposeKind, QuantityKind, ResponseLine,
    ShipmentLine, ShipmentNotice,
};
use events::{
    Address, Date, Decimal, Event, Gtin, Party, PartyRole, Payload, Quantity, Reference, Source,
    Unit,
};
use serde::de::DeserializeOwned;

use crate::path::{Condition, FieldRef, Path, Selector};
use crate::spec::{
    DateFormat, Document, Field, LoopSpec, Mappings, MessageMapping, PartyMapping, Scope, Syntax,
};

/// A message that could not be translated, with every problem found in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingError {
    /// The message, for people: `message 1 (850 0001)`.
    pub message: String,
    /// The message's index in its interchange, from 0.
    pub index: usize,
    /// What went wrong, at least one.
    pub problems: Vec<Problem>,
}

/// One thing wrong with a message: which canonical field, read from where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The canonical field, e.g. `order_number` or `lines[2].gtin`.
    pub field: String,
    /// The path(s) the value was (or would have been) read from, e.g. `BEG03`.
    pub path: String,
    /// The segment the value came from, `LIN at segment 7` (position in the message, from 1),
    /// when one was found.
    pub segment: Option<String>,
    /// Why.
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.field, self.path)?;
        if let Some(s) = &self.segment {
            write!(f, " in {s}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.message)?;
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for MappingError {}

/// Where one field's value came from, for `edigate translate --explain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The event field (`order_number`, `lines[2].quantity`, …).
    pub field: String,
    /// The path that found the value, or `default` when none did.
    pub rule: String,
    /// The segment read (`PO1 at segment 8`); none for a default.
    pub segment: Option<String>,
    /// The value as read, before conversion.
    pub value: String,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {:?} <- {}", self.field, self.value, self.rule)?;
        if let Some(seg) = &self.segment {
            write!(f, " ({seg})")?;
        }
        Ok(())
    }
}

/// Translates one message and says, field by field, which rule produced each value (the
/// explanations are given whether or not the message translates).
pub fn translate_explained(
    msg: &Message<'_, '_>,
    partner: &str,
    mappings: &Mappings,
) -> (Result<Event, MappingError>, Vec<Explanation>) {
    let mut explained = Vec::new();
    let result = translate_with(
        msg,
        partner,
        mappings,
        &mut Shared::new(msg.interchange()),
        Some(&mut explained),
    );
    (result, explained)
}

/// Translates every message of `ic`: one result per message, in order.
pub fn translate(
    ic: &Interchange<'_>,
    partner: &str,
    mappings: &Mappings,
) -> Vec<Result<Event, MappingError>> {
    let mut shared = Shared::new(ic);
    ic.messages()
        .map(|m| translate_with(&m, partner, mappings, &mut shared, None))
        .collect()
}

/// Translates one message.
pub fn translate_message(
    msg: &Message<'_, '_>,
    partner: &str,
    mappings: &Mappings,
) -> Result<Event, MappingError> {
    translate_with(
        msg,
        partner,
        mappings,
        &mut Shared::new(msg.interchange()),
        None,
    )
}

/// What the messages of one interchange share, read once instead of once per message.
struct Shared<'a> {
    /// The index of the message being translated, kept so its memory is reused.
    index: Index<'a>,
    /// How values are decoded.
    text: Text,
    /// The interchange's sender id, receiver id and control number, for the events' source.
    sender: String,
    receiver: String,
    control: String,
}

impl<'a> Shared<'a> {
    fn new(ic: &Interchange<'a>) -> Shared<'a> {
        Shared {
            index: Index::default(),
            text: Text::new(ic.charset()),
            sender: ic.sender().id,
            receiver: ic.receiver().id,
            control: trimmed(ic.control_number()),
        }
    }
}

/// An EDIFACT message's version and release (`D96A`): the first two `:`-separated parts of
/// [`Message::version`] (UNH S009 after the message type, joined with `:`).
fn edifact_version(msg: &Message<'_, '_>) -> String {
    let charset = msg.interchange().charset();
    let mut parts = msg
        .header()
        .element(2)
        .into_iter()
        .flat_map(|e| e.components().skip(1))
        .map(|c| c.text(charset));
    let version = parts.next().unwrap_or_default();
    let release = parts.next().unwrap_or_default();
    // Read straight from the components, without joining them first, unless the version holds
    // a (released) `:` of its own and the parts do not line up with the components.
    if version.contains(':') {
        let v = msg.version();
        let mut parts = v.split(':');
        return format!(
            "{}{}",
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default()
        );
    }
    let release = release.split(':').next().unwrap_or_default();
    let mut out = String::with_capacity(version.len() + release.len());
    out.push_str(&version);
    out.push_str(release);
    out
}

/// `s` without surrounding white space, reusing its memory when there is none.
fn trimmed(s: String) -> String {
    if s.trim().len() == s.len() {
        s
    } else {
        s.trim().to_owned()
    }
}

fn translate_with<'a>(
    msg: &Message<'_, 'a>,
    partner: &str,
    mappings: &Mappings,
    shared: &mut Shared<'a>,
    explain: Option<&mut Vec<Explanation>>,
) -> Result<Event, MappingError> {
    let ic = msg.interchange();
    let syntax = match ic.standard() {
        edi::Standard::X12 => Syntax::X12,
        edi::Standard::Edifact => Syntax::Edifact,
    };
    let message_type = trimmed(msg.message_type());
    let version = match syntax {
        Syntax::X12 => trimmed(msg.version()),
        Syntax::Edifact => edifact_version(msg),
    };
    // Only a failed message needs its label.
    let label = || {
        format!(
            "message {} ({} {})",
            msg.index() + 1,
            message_type,
            msg.control_number().trim()
        )
    };
    let fail = |problem: Problem| MappingError {
        message: label(),
        index: msg.index(),
        problems: vec![problem],
    };
    let Some(mapping) = mappings.find(syntax, &message_type, &version) else {
        return Err(fail(Problem {
            field: "message".into(),
            path: "ST/UNH".into(),
            segment: None,
            reason: format!("no mapping for {message_type} version {version:?}"),
        }));
    };
    let body = msg.body();
    shared.index.fill(body);
    let index = &shared.index;
    let segments: Vec<Seg<'_, 'a>> = body
        .iter()
        .enumerate()
        .map(|(i, s)| Seg {
            // The header is segment 1.
            pos: i + 2,
            tag: s.tag(),
            from: index.segments[i],
            to: index.segments[i + 1],
            index,
        })
        .collect();
    let mut cx = Cx {
        mapping,
        syntax,
        text: shared.text,
        decimal: ic.delimiters().decimal(),
        problems: Vec::new(),
        body: &segments,
        levels: Vec::new(),
        explained: explain.is_some().then(Vec::new),
    };
    cx.levels = cx.levels();
    let payload = match mapping.document {
        Document::Order | Document::OrderChange => cx.order().map(|order| {
            if order.purpose.kind == PurposeKind::Cancel {
                Payload::OrderCancelled(order)
            } else if mapping.document == Document::OrderChange {
                Payload::OrderChanged(order)
            } else {
                Payload::OrderCreated(order)
            }
        }),
        Document::OrderResponse => cx.response().map(Payload::OrderResponse),
        Document::InventoryReport => cx.inventory().map(Payload::InventoryReport),
        Document::ShipmentNotice => cx.shipment().map(Payload::ShipmentNotice),
        Document::Invoice => cx.invoice().map(Payload::Invoice),
    };
    if let (Some(out), Some(found)) = (explain, cx.explained.take()) {
        *out = found;
    }
    if !cx.problems.is_empty() {
        return Err(MappingError {
            message: label(),
            index: msg.index(),
            problems: cx.problems,
        });
    }
    let Some(payload) = payload else {
        // Not reached: a document that cannot be made has a problem recorded.
        return Err(fail(Problem {
            field: "message".into(),
            path: "-".into(),
            segment: None,
            reason: "the document could not be made".into(),
        }));
    };
    let source = Source {
        standard: match syntax {
            Syntax::X12 => events::Standard::X12,
            Syntax::Edifact => events::Standard::Edifact,
        },
        version,
        message: message_type,
        sender: shared.sender.clone(),
        receiver: shared.receiver.clone(),
        interchange_control: shared.control.clone(),
        group_control: msg.group().map(|g| trimmed(g.control_number())),
        message_control: trimmed(msg.control_number()),
    };
    Ok(Event::new(partner, source, msg.index() as u32, payload))
}

/// Every element of a message body and the components of every composite, split once: a
/// segment is read many times (each path, each condition), and walking its elements and
/// components from the start for each read was most of the work.
#[derive(Default)]
struct Index<'a> {
    /// The elements of every segment, in order.
    elements: Vec<Element<'a>>,
    /// For each element, where its components are in `components` (of its first repetition,
    /// the only one read); empty for a plain element, its own only component.
    parts: Vec<Range<usize>>,
    components: Vec<Element<'a>>,
    /// Where each segment's elements start in `elements`, and where the last one's end.
    segments: Vec<usize>,
}

impl<'a> Index<'a> {
    fn fill(&mut self, body: &[edi::Segment<'a>]) {
        self.elements.clear();
        self.parts.clear();
        self.components.clear();
        self.segments.clear();
        self.segments.push(0);
        for s in body {
            let first = self.elements.len();
            s.elements_into(&mut self.elements);
            for e in &self.elements[first..] {
                let from = self.components.len();
                if e.plain().is_none()
                    && let Some(first) = e.repetitions().next()
                {
                    first.components_into(&mut self.components);
                }
                self.parts.push(from..self.components.len());
            }
            self.segments.push(self.elements.len());
        }
    }
}

/// A body segment: its position in the message (from 1, the header being 1), its tag, and
/// where its elements are in the message's index.
#[derive(Clone, Copy)]
struct Seg<'i, 'a> {
    pos: usize,
    /// The segment's tag, kept here: compared far more often than anything else is read.
    tag: Tag,
    /// Its elements are `index.elements[from..to]`.
    from: usize,
    to: usize,
    index: &'i Index<'a>,
}

impl<'a> Seg<'_, 'a> {
    fn tag(&self) -> Tag {
        self.tag
    }

    /// The element or component `f` names, in the first repetition.
    fn value(&self, f: &FieldRef) -> Option<Element<'a>> {
        let n = f.element.checked_sub(1)?;
        let k = f.component.unwrap_or(1).checked_sub(1)?;
        let at = self.from + n;
        if at >= self.to {
            return None;
        }
        let parts = self.index.parts.get(at)?;
        if parts.is_empty() {
            return self.index.elements.get(at).copied().filter(|_| k == 0);
        }
        self.index.components.get(parts.clone())?.get(k).copied()
    }

    /// The value `f` names, trimmed, borrowed from the input unless it had to be unescaped or
    /// decoded; empty when the segment has no such element or component.
    fn read(&self, f: &FieldRef, text: Text) -> Cow<'a, str> {
        let value = self.value(f);
        // Most values have nothing to unescape and are text as they stand: valid UTF-8 where
        // the set is UTF-8, ASCII where it reads ASCII as itself.
        if let Some(raw) = value.as_ref().and_then(Element::plain) {
            if text.utf8 {
                if let Ok(s) = std::str::from_utf8(raw) {
                    return Cow::Borrowed(s.trim());
                }
            } else if text.ascii
                && raw.is_ascii()
                && let Ok(s) = std::str::from_utf8(trim_ascii(raw))
            {
                return Cow::Borrowed(s);
            }
        }
        match value.map(|v| v.text(text.charset)) {
            Some(Cow::Borrowed(s)) => Cow::Borrowed(s.trim()),
            Some(Cow::Owned(s)) => Cow::Owned(trimmed(s)),
            None => Cow::Borrowed(""),
        }
    }

    /// Whether the value of `c.field` is one of `c.values`.
    fn holds(&self, c: &Condition, text: Text) -> bool {
        // Qualifiers are short ASCII codes: compared as bytes, nothing decoded or allocated,
        // when the bytes are ASCII and the character set reads ASCII as itself.
        if text.ascii
            && let Some(raw) = self.value(&c.field).and_then(|v| v.plain())
            && raw.is_ascii()
        {
            let raw = trim_ascii(raw);
            // By hand: a slice comparison calls memcmp for a two-letter code.
            return c
                .values
                .iter()
                .any(|w| w.len() == raw.len() && w.bytes().zip(raw).all(|(a, b)| a == *b));
        }
        let v = self.read(&c.field, text);
        c.values.iter().any(|w| *w == *v)
    }

    /// Whether this segment is chosen by `sel`: its tag, and every condition holds.
    fn selected(&self, sel: &Selector, text: Text) -> bool {
        self.tag() == sel.tag.as_str() && sel.conditions.iter().all(|c| self.holds(c, text))
    }
}

/// How an interchange's values are decoded.
#[derive(Clone, Copy)]
struct Text {
    charset: Charset,
    /// The character set decodes every ASCII byte string to itself (borrowed): true of
    /// UTF-8 and of the single-byte sets EDIFACT declares.
    ascii: bool,
    /// The character set decodes valid UTF-8 as itself (borrowed): X12's and UNOW/UNOY.
    utf8: bool,
}

impl Text {
    fn new(charset: Charset) -> Text {
        // Decoders borrow when the whole input is text they read as ASCII, so a set that borrows
        // every ASCII byte unchanged does so for any string of them.
        let all: [u8; 128] = std::array::from_fn(|b| b as u8);
        let ascii = matches!(charset.decode(&all), Cow::Borrowed(s) if s.as_bytes() == all);
        let utf8 = charset == Charset::Auto || charset == Charset::from_syntax_identifier(b"UNOY");
        Text {
            charset,
            ascii,
            utf8,
        }
    }
}

/// `raw` without the white space `str::trim` removes from ASCII text.
fn trim_ascii(raw: &[u8]) -> &[u8] {
    // `char::is_whitespace` in ASCII: tab, line feed, vertical tab, form feed, carriage return
    // and space (`u8::is_ascii_whitespace` leaves out the vertical tab).
    let ws = |b: &u8| matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ');
    let start = raw.iter().position(|b| !ws(b)).unwrap_or(raw.len());
    let end = raw.iter().rposition(|b| !ws(b)).map_or(start, |p| p + 1);
    &raw[start..end]
}

/// The instances of `lp` in `scope`, as ranges of `scope` (in order, never overlapping).
///
/// An instance starts at a segment `lp.start` selects and ends before the next segment with the
/// start's tag (selected or not: a sibling of another kind is not part of this one), a segment
/// not in `lp.segments` (when given), or a segment in `lp.end`.
fn instances(scope: &[Seg<'_, '_>], lp: &LoopSpec, text: Text) -> Vec<Range<usize>> {
    // At most one instance per segment with the start's tag: counted first, so the list is
    // allocated once.
    let starts = scope
        .iter()
        .filter(|s| s.tag == lp.start.tag.as_str())
        .count();
    let mut found = Vec::with_capacity(starts);
    let mut i = 0;
    while i < scope.len() {
        if !scope[i].selected(&lp.start, text) {
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        while i < scope.len() {
            let t = scope[i].tag();
            let member = lp.segments.is_empty() || lp.segments.iter().any(|s| t == s.as_str());
            if t == lp.start.tag.as_str() || !member || lp.end.iter().any(|s| t == s.as_str()) {
                break;
            }
            i += 1;
        }
        found.push(start..i);
    }
    found
}

/// The segments of `scope` outside the ranges `found` (as [`instances`] returns them).
fn outside<'i, 'a>(scope: &[Seg<'i, 'a>], found: &[Range<usize>]) -> Vec<Seg<'i, 'a>> {
    let mut rest = Vec::with_capacity(scope.len());
    let mut at = 0;
    for r in found {
        rest.extend_from_slice(&scope[at..r.start]);
        at = r.end;
    }
    rest.extend_from_slice(&scope[at..]);
    rest
}

/// `digits` read with `places` implied decimal places (X12 `N2`: `12345` is `123.45`).
fn implied(text: &str, places: u8) -> Result<String, String> {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", text.strip_prefix('+').unwrap_or(text)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "invalid decimal {text:?}: expected digits only, with {places} implied decimal \
             places (no decimal mark)"
        ));
    }
    let places = usize::from(places);
    if places == 0 {
        return Ok(format!("{sign}{digits}"));
    }
    let padded = format!("{digits:0>width$}", width = places + 1);
    let (int, frac) = padded.split_at(padded.len() - places);
    Ok(format!("{sign}{int}.{frac}"))
}

/// A value found by a path.
struct Found<'i, 'a> {
    text: Cow<'a, str>,
    seg: Option<Seg<'i, 'a>>,
}

/// A canonical field's name as problems give it (`order_number`, `lines[3].unit`,
/// `items[1].quantities[2].kind`): the parts only, put together when a problem is reported,
/// since almost every message has none.
#[derive(Clone, Copy)]
struct Name {
    /// The list and the item's position in it (`lines`, 3), or an object (`location`).
    outer: Option<(&'static str, Option<usize>)>,
    /// A list inside the item, and the position in it (`quantities`, 2).
    inner: Option<(&'static str, usize)>,
    field: &'static str,
}

impl Name {
    /// A header field.
    fn top(field: &'static str) -> Name {
        Name {
            outer: None,
            inner: None,
            field,
        }
    }

    /// A field of item `n` (from 1) of `list`.
    fn of(list: &'static str, n: usize, field: &'static str) -> Name {
        Name {
            outer: Some((list, Some(n))),
            inner: None,
            field,
        }
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((list, n)) = self.outer {
            f.write_str(list)?;
            if let Some(n) = n {
                write!(f, "[{n}]")?;
            }
            f.write_str(".")?;
        }
        if let Some((list, k)) = self.inner {
            write!(f, "{list}[{k}].")?;
        }
        f.write_str(self.field)
    }
}

/// A hierarchical level (X12 `HL`, EDIFACT `CPS`): body indexes `start..end`, and its parent.
#[derive(Debug, Clone, Copy)]
struct Level {
    start: usize,
    end: usize,
    parent: Option<usize>,
}

/// A message body cut into its scopes (see `mappings/README.md`, *Scopes*).
struct Carved<'b, 'i, 'a> {
    /// The whole body.
    message: &'b [Seg<'i, 'a>],
    /// The whole header, loops included.
    header: Cow<'b, [Seg<'i, 'a>]>,
    /// What is left of the header once the party and reference loops are carved out.
    rest: Vec<Seg<'i, 'a>>,
    parties: Vec<Party>,
    references: Vec<Reference>,
    /// Where lines (and packages) are read: everything after the header.
    detail: Cow<'b, [Seg<'i, 'a>]>,
    /// The instances of the line loop, as ranges of `detail`.
    lines: Vec<Range<usize>>,
    /// Where, in `detail`, what follows the last line starts.
    summary: usize,
}

impl<'i, 'a> Carved<'_, 'i, 'a> {
    /// The instances of the line loop, in order.
    fn lines(&self) -> impl Iterator<Item = &[Seg<'i, 'a>]> + '_ {
        self.lines.iter().map(|r| &self.detail[r.clone()])
    }

    /// What `f` makes of each line instance (given its position, from 1), sized up front.
    fn each_line<T>(&self, mut f: impl FnMut(usize, &[Seg<'i, 'a>]) -> Option<T>) -> Vec<T> {
        let mut out = Vec::with_capacity(self.lines.len());
        out.extend(
            self.lines()
                .enumerate()
                .filter_map(|(i, inst)| f(i + 1, inst)),
        );
        out
    }
}

struct Cx<'m, 'b, 'i, 'a> {
    mapping: &'m MessageMapping,
    syntax: Syntax,
    text: Text,
    decimal: u8,
    problems: Vec<Problem>,
    /// The message body (without its header and trailer segments).
    body: &'b [Seg<'i, 'a>],
    /// The hierarchical levels of the body, in order (empty without `[levels]`).
    levels: Vec<Level>,
    /// Where each value came from, when asked (`--explain`); `None` costs nothing.
    explained: Option<Vec<Explanation>>,
}

fn paths(field: &Field) -> String {
    field
        .paths
        .iter()
        .map(Path::as_str)
        .collect::<Vec<_>>()
        .join(" or ")
}

fn kind_of<K: DeserializeOwned>(name: String) -> Option<K> {
    serde_json::from_value(serde_json::Value::String(name)).ok()
}

impl<'b, 'i, 'a> Cx<'_, 'b, 'i, 'a> {
    fn matches(&self, seg: &Seg<'_, '_>, path: &Path) -> bool {
        // The selector's tag is the field's (checked when the path is parsed).
        Some(seg.tag) == path.segment_tag()
            && path
                .selector
                .as_ref()
                .is_none_or(|sel| sel.conditions.iter().all(|c| seg.holds(c, self.text)))
    }

    fn problem(
        &mut self,
        name: Name,
        f: &Field,
        seg: Option<Seg<'_, '_>>,
        reason: impl Into<String>,
    ) {
        self.problems.push(Problem {
            field: name.to_string(),
            path: paths(f),
            segment: seg.map(|s| format!("{} at segment {}", s.tag(), s.pos)),
            reason: reason.into(),
        });
    }

    // ---- hierarchical levels ----

    /// Cuts the body into levels and links each to its parent; a parent id naming no earlier
    /// level is a problem (the level's values would silently lose their context).
    fn levels(&mut self) -> Vec<Level> {
        let Some(lm) = &self.mapping.levels else {
            return Vec::new();
        };
        let body = self.body;
        let starts: Vec<usize> = body
            .iter()
            .enumerate()
            .filter(|(_, s)| s.tag() == lm.start.as_str())
            .map(|(i, _)| i)
            .collect();
        let mut levels: Vec<Level> = Vec::with_capacity(starts.len());
        let mut ids: Vec<Cow<'a, str>> = Vec::with_capacity(starts.len());
        for (k, &start) in starts.iter().enumerate() {
            let end = starts.get(k + 1).copied().unwrap_or(body.len());
            let seg = body[start];
            let id = lm
                .id
                .as_ref()
                .map(|p| seg.read(&p.field, self.text))
                .unwrap_or_default();
            let parent = match &lm.parent {
                None => k.checked_sub(1),
                Some(p) => {
                    let wanted = seg.read(&p.field, self.text);
                    if wanted.is_empty() {
                        None
                    } else {
                        let found = ids.iter().rposition(|i| *i == wanted);
                        if found.is_none() {
                            self.problems.push(Problem {
                                field: "levels.parent".into(),
                                path: p.as_str().to_owned(),
                                segment: Some(format!("{} at segment {}", seg.tag(), seg.pos)),
                                reason: format!("no level with id {wanted:?} before this one"),
                            });
                        }
                        found
                    }
                }
            };
            levels.push(Level { start, end, parent });
            ids.push(id);
        }
        levels
    }

    /// The level holding body index `idx`, then its parent, grandparent, …
    fn chain(&self, idx: usize) -> impl Iterator<Item = usize> + '_ {
        let first = self
            .levels
            .partition_point(|l| l.start <= idx)
            .checked_sub(1)
            .filter(|&k| self.levels[k].end > idx);
        std::iter::successors(first, |&k| self.levels[k].parent)
    }

    /// The body index of a segment of this message.
    fn index(&self, seg: &Seg<'_, '_>) -> Option<usize> {
        let first = self.body.first()?.pos;
        seg.pos.checked_sub(first)
    }

    /// The segments of the nearest level at or above `scope`'s first segment that `sel` selects.
    fn level_scope(&self, sel: &Selector, scope: &[Seg<'i, 'a>]) -> &'b [Seg<'i, 'a>] {
        let body = self.body;
        let Some(idx) = scope.first().and_then(|s| self.index(s)) else {
            return &[];
        };
        self.chain(idx)
            .map(|k| self.levels[k])
            .find(|l| body[l.start].selected(sel, self.text))
            .map_or(&[], |l| &body[l.start..l.end])
    }

    // ---- reading values ----

    /// The raw value: the first path that finds a non-empty value, else the default; a missing
    /// required value is reported.
    fn find(
        &mut self,
        name: Name,
        f: &Field,
        scope: &[Seg<'i, 'a>],
        position: usize,
    ) -> Option<Found<'i, 'a>> {
        let scope = match &f.level {
            Some(sel) => self.level_scope(sel, scope),
            None => scope,
        };
        for p in &f.paths {
            if let Some(seg) = scope.iter().find(|s| self.matches(s, p)) {
                let text = seg.read(&p.field, self.text);
                if !text.is_empty() {
                    if let Some(explained) = &mut self.explained {
                        explained.push(Explanation {
                            field: name.to_string(),
                            rule: p.as_str().to_string(),
                            segment: Some(format!("{} at segment {}", seg.tag(), seg.pos)),
                            value: text.to_string(),
                        });
                    }
                    return Some(Found {
                        text,
                        seg: Some(*seg),
                    });
                }
            }
        }
        if let Some(d) = &f.default {
            let text = d.replace("{position}", &position.to_string());
            if let Some(explained) = &mut self.explained {
                explained.push(Explanation {
                    field: name.to_string(),
                    rule: "default".into(),
                    segment: None,
                    value: text.clone(),
                });
            }
            return Some(Found {
                text: Cow::Owned(text),
                seg: None,
            });
        }
        if f.required {
            self.problem(name, f, None, "missing");
        }
        None
    }

    /// Every value the paths find, in the order of the segments, duplicates dropped.
    fn find_all(&mut self, name: Name, f: &Field, scope: &[Seg<'i, 'a>]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for seg in scope {
            let value = f
                .paths
                .iter()
                .filter(|p| self.matches(seg, p))
                .map(|p| seg.read(&p.field, self.text))
                .find(|v| !v.is_empty());
            if let Some(v) = value
                && !out.iter().any(|o| *o == *v)
            {
                out.push(v.into_owned());
            }
        }
        if out.is_empty() {
            if let Some(d) = &f.default {
                out.push(d.clone());
            } else if f.required {
                self.problem(name, f, None, "missing");
            }
        }
        out
    }

    fn coded(&self, f: &Field, code: &str) -> Option<String> {
        f.codes
            .as_ref()
            .and_then(|t| self.mapping.codes.get(t))
            .and_then(|t| t.get(code))
            .cloned()
    }

    /// A coded value: the code looked up in the field's table of kinds (`other` when not
    /// listed), the code kept.
    fn kind<K: DeserializeOwned>(
        &mut self,
        name: Name,
        f: Option<&Field>,
        scope: &[Seg<'i, 'a>],
        other: K,
    ) -> Option<(K, String)> {
        let f = f?;
        let found = self.find(name, f, scope, 0)?;
        let kind = self
            .coded(f, &found.text)
            .and_then(kind_of)
            .unwrap_or(other);
        Some((kind, found.text.into_owned()))
    }

    fn text(
        &mut self,
        name: Name,
        f: Option<&Field>,
        scope: &[Seg<'i, 'a>],
        position: usize,
    ) -> Option<String> {
        let f = f?;
        let found = self.find(name, f, scope, position)?;
        Some(
            self.coded(f, &found.text)
                .unwrap_or_else(|| found.text.into_owned()),
        )
    }

    fn date(&mut self, name: Name, f: Option<&Field>, scope: &[Seg<'i, 'a>]) -> Option<Date> {
        let f = f?;
        let found = self.find(name, f, scope, 0)?;
        let t = &*found.text;
        let r = match &f.date {
            Some(DateFormat::Ccyymmdd) => Date::from_ccyymmdd(t),
            Some(DateFormat::Yymmdd) => Date::from_yymmdd(t),
            Some(DateFormat::X12) | None => {
                if t.len() == 6 {
                    Date::from_yymmdd(t)
                } else {
                    Date::from_ccyymmdd(t)
                }
            }
            Some(DateFormat::Edifact { code, default }) => {
                let sent = found.seg.map(|s| s.read(&code.field, self.text));
                let fmt = match sent.as_deref() {
                    Some(c) if !c.is_empty() => c,
                    _ => default.as_str(),
                };
                Date::from_edifact(fmt, t)
            }
        };
        match r {
            Ok(d) => Some(d),
            Err(e) => {
                self.problem(name, f, found.seg, e.to_string());
                None
            }
        }
    }

    fn decimal(&mut self, name: Name, f: Option<&Field>, scope: &[Seg<'i, 'a>]) -> Option<Decimal> {
        let f = f?;
        let found = self.find(name, f, scope, 0)?;
        let text: Cow<'_, str> = if let Some(places) = f.decimals {
            match implied(&found.text, places) {
                Ok(t) => Cow::Owned(t),
                Err(e) => {
                    self.problem(name, f, found.seg, e);
                    return None;
                }
            }
        } else {
            match self.syntax {
                // ISO 9735: the UNA decimal mark, and `.` which every reader must accept.
                Syntax::Edifact => {
                    let mark = char::from(self.decimal);
                    if mark != '.' && found.text.contains(mark) {
                        Cow::Owned(found.text.replace(mark, "."))
                    } else {
                        Cow::Borrowed(&*found.text)
                    }
                }
                Syntax::X12 => {
                    if found.text.contains(',') {
                        self.problem(
                            name,
                            f,
                            found.seg,
                            format!("invalid decimal {:?}: X12 decimals use '.'", found.text),
                        );
                        return None;
                    }
                    Cow::Borrowed(&*found.text)
                }
            }
        };
        match Decimal::parse(&text) {
            Ok(d) => Some(d),
            Err(_) => {
                let e = Decimal::parse(&found.text).err().map_or_else(
                    || format!("invalid decimal {:?}", found.text),
                    |e| e.to_string(),
                );
                self.problem(name, f, found.seg, e);
                None
            }
        }
    }

    /// A unit: the field's table when it has one, else the built-in table of the syntax.
    fn unit(&mut self, name: Name, f: &Field, scope: &[Seg<'i, 'a>], n: usize) -> Option<Unit> {
        let u = self.find(name, f, scope, n)?;
        Some(if f.codes.is_some() {
            Unit {
                code: self.coded(f, &u.text),
                original: u.text.into_owned(),
            }
        } else {
            match self.syntax {
                Syntax::X12 => Unit::from_x12(&u.text),
                Syntax::Edifact => Unit::from_edifact(&u.text),
            }
        })
    }

    // ---- scopes ----

    /// The party of one loop instance; `outer` names it in problems (`parties`, 2).
    fn party(
        &mut self,
        pm: &PartyMapping,
        outer: (&'static str, Option<usize>),
        inst: &[Seg<'i, 'a>],
    ) -> Option<Party> {
        let name = |field| Name {
            outer: Some(outer),
            inner: None,
            field,
        };
        let role_field = &pm.role;
        let role = self.find(name("role"), role_field, inst, 0).map(|r| {
            match self.coded(role_field, &r.text) {
                Some(n) => PartyRole::from_name(&n),
                None => PartyRole::from_name(&r.text),
            }
        })?;
        let address = Address {
            lines: pm
                .address_lines
                .iter()
                .filter_map(|f| self.text(name("address_lines"), Some(f), inst, 0))
                .collect(),
            city: self.text(name("city"), pm.city.as_ref(), inst, 0),
            region: self.text(name("region"), pm.region.as_ref(), inst, 0),
            postal_code: self.text(name("postal_code"), pm.postal_code.as_ref(), inst, 0),
            country: self.text(name("country"), pm.country.as_ref(), inst, 0),
        };
        let empty = address == Address::default();
        Some(Party {
            role,
            id: self.text(name("id"), pm.id.as_ref(), inst, 0),
            id_qualifier: self.text(name("id_qualifier"), pm.id_qualifier.as_ref(), inst, 0),
            name: self.text(name("name"), pm.name.as_ref(), inst, 0),
            address: (!empty).then_some(address),
        })
    }

    /// Splits the body into header and detail, carves the party and reference loops out of the
    /// header, in order, so a segment belongs to one place, and the lines out of the detail.
    fn carve(&mut self) -> Carved<'b, 'i, 'a> {
        let m = self.mapping;
        let body = self.body;
        let text = self.text;
        let (header, detail): (Cow<'b, [Seg<'i, 'a>]>, Cow<'b, [Seg<'i, 'a>]>) = match &m.levels {
            // With levels: the header is what precedes them and the header levels; the other
            // levels are the detail.
            Some(lm) => {
                let first = self.levels.first().map_or(body.len(), |l| l.start);
                let mut header = body[..first].to_vec();
                let mut detail = Vec::new();
                for l in &self.levels {
                    let segs = &body[l.start..l.end];
                    let in_header = lm
                        .header
                        .as_ref()
                        .is_some_and(|h| body[l.start].selected(h, text));
                    if in_header {
                        header.extend_from_slice(segs);
                    } else {
                        detail.extend_from_slice(segs);
                    }
                }
                (Cow::Owned(header), Cow::Owned(detail))
            }
            // Without: the detail starts at the first line or, when there is none, where the
            // summary starts (a segment that ends the line loop).
            None => {
                let lp = &m.lines.r#loop;
                let split = body
                    .iter()
                    .position(|s| s.selected(&lp.start, text))
                    .or_else(|| {
                        body.iter()
                            .position(|s| lp.end.iter().any(|e| s.tag() == e.as_str()))
                    })
                    .unwrap_or(body.len());
                (Cow::Borrowed(&body[..split]), Cow::Borrowed(&body[split..]))
            }
        };

        let mut rest: Vec<Seg<'i, 'a>> = header.to_vec();
        let mut parties = Vec::new();
        for pm in &m.parties {
            let found = instances(&rest, &pm.r#loop, text);
            for r in &found {
                let k = parties.len() + 1;
                let party = self
                    .party(pm, ("parties", Some(k)), &rest[r.clone()])
                    .unwrap_or_else(|| Party {
                        role: PartyRole::from_name("unknown"),
                        id: None,
                        id_qualifier: None,
                        name: None,
                        address: None,
                    });
                parties.push(party);
            }
            rest = outside(&rest, &found);
        }
        let mut references = Vec::new();
        for rm in &m.references {
            let found = instances(&rest, &rm.r#loop, text);
            for r in &found {
                let inst = &rest[r.clone()];
                let n = references.len() + 1;
                let q = self.text(
                    Name::of("references", n, "qualifier"),
                    Some(&rm.qualifier),
                    inst,
                    0,
                );
                let v = self.text(Name::of("references", n, "value"), Some(&rm.value), inst, 0);
                if let (Some(qualifier), Some(value)) = (q, v)
                    && !rm.skip.contains(&qualifier)
                {
                    references.push(Reference { qualifier, value });
                }
            }
            rest = outside(&rest, &found);
        }
        let lines = instances(&detail, &m.lines.r#loop, text);
        // The detail is in message order, so what follows the last line is a suffix of it.
        let summary = lines.last().map_or(0, |r| r.end);
        Carved {
            message: body,
            header,
            rest,
            parties,
            references,
            detail,
            lines,
            summary,
        }
    }

    /// The scope a header field reads.
    fn scope<'c>(c: &'c Carved<'b, 'i, 'a>, f: Option<&Field>) -> &'c [Seg<'i, 'a>] {
        match f.map(|f| f.scope) {
            Some(Scope::Header) => &c.header,
            Some(Scope::Message) => c.message,
            Some(Scope::Summary) => &c.detail[c.summary..],
            Some(Scope::Rest) | None => &c.rest,
        }
    }

    fn header_text(
        &mut self,
        name: &'static str,
        f: Option<&Field>,
        c: &Carved<'b, 'i, 'a>,
    ) -> Option<String> {
        self.text(Name::top(name), f, Self::scope(c, f), 0)
    }

    fn header_date(
        &mut self,
        name: &'static str,
        f: Option<&Field>,
        c: &Carved<'b, 'i, 'a>,
    ) -> Option<Date> {
        self.date(Name::top(name), f, Self::scope(c, f))
    }

    fn header_decimal(
        &mut self,
        name: &'static str,
        f: Option<&Field>,
        c: &Carved<'b, 'i, 'a>,
    ) -> Option<Decimal> {
        self.decimal(Name::top(name), f, Self::scope(c, f))
    }

    fn purpose(&mut self, c: &Carved<'b, 'i, 'a>) -> Purpose {
        let f = self.mapping.header.purpose.as_ref();
        self.kind(
            Name::top("purpose"),
            f,
            Self::scope(c, f),
            PurposeKind::Other,
        )
        .map_or(
            Purpose {
                kind: PurposeKind::Other,
                code: String::new(),
            },
            |(kind, code)| Purpose { kind, code },
        )
    }

    // ---- documents ----

    fn order(&mut self) -> Option<Order> {
        let m = self.mapping;
        let c = self.carve();
        let h = &m.header;
        let order_number = self.header_text("order_number", h.order_number.as_ref(), &c);
        let purpose = self.purpose(&c);
        let order_date = self.header_date("order_date", h.order_date.as_ref(), &c);
        let currency = self.header_text("currency", h.currency.as_ref(), &c);
        let requested_delivery_date = self.header_date(
            "requested_delivery_date",
            h.requested_delivery_date.as_ref(),
            &c,
        );
        let lines = c.each_line(|n, inst| self.line(n, inst));
        Some(Order {
            order_number: order_number?,
            order_date,
            purpose,
            currency,
            requested_delivery_date,
            parties: c.parties,
            references: c.references,
            lines,
        })
    }

    fn response(&mut self) -> Option<OrderResponse> {
        let m = self.mapping;
        let c = self.carve();
        let h = &m.header;
        let order_number = self.header_text("order_number", h.order_number.as_ref(), &c);
        let purpose = self.purpose(&c);
        let status_field = h.status.as_ref();
        let status = self
            .kind(
                Name::top("status"),
                status_field,
                Self::scope(&c, status_field),
                AckKind::Other,
            )
            .map_or(
                AckStatus {
                    kind: AckKind::Other,
                    code: String::new(),
                },
                |(kind, code)| AckStatus { kind, code },
            );
        let order_date = self.header_date("order_date", h.order_date.as_ref(), &c);
        let response_date = self.header_date("response_date", h.response_date.as_ref(), &c);
        let currency = self.header_text("currency", h.currency.as_ref(), &c);
        let lines = c.each_line(|n, inst| self.response_line(n, inst, &status));
        Some(OrderResponse {
            order_number: order_number?,
            order_date,
            response_date,
            purpose,
            status,
            currency,
            parties: c.parties,
            references: c.references,
            lines,
        })
    }

    fn inventory(&mut self) -> Option<InventoryReport> {
        let m = self.mapping;
        let c = self.carve();
        let report_date = self.header_date("report_date", m.header.report_date.as_ref(), &c);
        // The location: the first instance of its loop whose role is found, carved from what
        // the party and reference loops left.
        let mut location = None;
        if let Some(pm) = &m.location {
            for r in instances(&c.rest, &pm.r#loop, self.text) {
                let inst = &c.rest[r];
                let role_found = pm
                    .role
                    .paths
                    .iter()
                    .any(|p| inst.iter().any(|s| self.matches(s, p)));
                if role_found {
                    location = self.party(pm, ("location", None), inst);
                    break;
                }
            }
        }
        let items = c.each_line(|n, inst| Some(self.item(n, inst)));
        Some(InventoryReport {
            report_date: report_date?,
            location,
            items,
        })
    }

    fn shipment(&mut self) -> Option<ShipmentNotice> {
        let m = self.mapping;
        let c = self.carve();
        let h = &m.header;
        let shipment_id = self.header_text("shipment_id", h.shipment_id.as_ref(), &c);
        let ship_date = self.header_date("ship_date", h.ship_date.as_ref(), &c);
        let estimated_delivery_date = self.header_date(
            "estimated_delivery_date",
            h.estimated_delivery_date.as_ref(),
            &c,
        );
        let carrier = Carrier {
            code: self.header_text("carrier_code", h.carrier_code.as_ref(), &c),
            name: self.header_text("carrier_name", h.carrier_name.as_ref(), &c),
            tracking_number: self.header_text("tracking_number", h.tracking_number.as_ref(), &c),
        };
        let carrier =
            (carrier.code.is_some() || carrier.name.is_some() || carrier.tracking_number.is_some())
                .then_some(carrier);
        let order_numbers = match &h.order_numbers {
            Some(f) => self.find_all(Name::top("order_numbers"), f, Self::scope(&c, Some(f))),
            None => Vec::new(),
        };

        // Each package instance: where it starts (body index) and the package.
        let mut packages: Vec<(usize, Package)> = Vec::new();
        if let Some(pm) = &m.packages {
            let found = instances(&c.detail, &pm.r#loop, self.text);
            for (k, r) in found.into_iter().enumerate() {
                let inst = &c.detail[r];
                let id = self.text(
                    Name::of("packages", k + 1, "id"),
                    pm.id.as_ref(),
                    inst,
                    k + 1,
                );
                let start = inst.first().and_then(|s| self.index(s)).unwrap_or_default();
                packages.push((
                    start,
                    Package {
                        id,
                        lines: Vec::new(),
                    },
                ));
            }
        }
        // Lines not in any package: one package with no id, placed where its first line is.
        let mut loose: Option<(usize, Package)> = None;
        for (i, inst) in c.lines().enumerate() {
            let Some(line) = self.shipment_line(i + 1, inst) else {
                continue;
            };
            let at = inst.first().and_then(|s| self.index(s)).unwrap_or_default();
            match self.package_of(at, &packages) {
                Some(k) => packages[k].1.lines.push(line),
                None => loose
                    .get_or_insert_with(|| {
                        (
                            at,
                            Package {
                                id: None,
                                lines: Vec::new(),
                            },
                        )
                    })
                    .1
                    .lines
                    .push(line),
            }
        }
        packages.extend(loose);
        // A level with neither a marking nor goods is not a package (an EDIFACT CPS that only
        // counts the pallets below it).
        packages.retain(|(_, p)| p.id.is_some() || !p.lines.is_empty());
        packages.sort_by_key(|(at, _)| *at);
        Some(ShipmentNotice {
            shipment_id: shipment_id?,
            ship_date,
            estimated_delivery_date,
            carrier,
            order_numbers,
            parties: c.parties,
            references: c.references,
            packages: packages.into_iter().map(|(_, p)| p).collect(),
        })
    }

    /// The package a line at body index `at` goes into: the nearest level above it (its own
    /// first) that starts a package with an id, else the nearest that starts one at all.
    /// Without levels, the nearest package that starts before the line.
    fn package_of(&self, at: usize, packages: &[(usize, Package)]) -> Option<usize> {
        let starting = |start: usize| packages.iter().position(|(s, _)| *s == start);
        if self.mapping.levels.is_none() {
            return packages.iter().rposition(|(s, _)| *s <= at);
        }
        let candidates: Vec<usize> = self
            .chain(at)
            .filter_map(|k| starting(self.levels[k].start))
            .collect();
        candidates
            .iter()
            .copied()
            .find(|&p| packages[p].1.id.is_some())
            .or_else(|| candidates.first().copied())
    }

    fn invoice(&mut self) -> Option<Invoice> {
        let m = self.mapping;
        let c = self.carve();
        let h = &m.header;
        let invoice_number = self.header_text("invoice_number", h.invoice_number.as_ref(), &c);
        let invoice_date = self.header_date("invoice_date", h.invoice_date.as_ref(), &c);
        let type_field = h.invoice_type.as_ref();
        let invoice_type = self
            .kind(
                Name::top("invoice_type"),
                type_field,
                Self::scope(&c, type_field),
                InvoiceKind::Other,
            )
            .map(|(kind, code)| InvoiceType { kind, code });
        let order_number = self.header_text("order_number", h.order_number.as_ref(), &c);
        let currency = self.header_text("currency", h.currency.as_ref(), &c);
        let total = self.header_decimal("total", h.total.as_ref(), &c);
        let subtotal = self.header_decimal("subtotal", h.subtotal.as_ref(), &c);
        let tax = self.header_decimal("tax", h.tax.as_ref(), &c);
        let lines = c.each_line(|n, inst| self.invoice_line(n, inst));
        Some(Invoice {
            invoice_number: invoice_number?,
            invoice_date: invoice_date?,
            invoice_type,
            order_number,
            currency,
            parties: c.parties,
            references: c.references,
            lines,
            totals: InvoiceTotals {
                total: total?,
                subtotal,
                tax,
            },
        })
    }

    // ---- lines ----

    fn product(&mut self, n: usize, inst: &[Seg<'i, 'a>], what: &'static str) -> Product {
        let lm = &self.mapping.lines;
        let name = |f| Name::of(what, n, f);
        let gtin = lm.gtin.as_ref().and_then(|f| {
            let found = self.find(name("gtin"), f, inst, n)?;
            match Gtin::parse(&found.text) {
                Ok(g) => Some(g),
                Err(e) => {
                    self.problem(name("gtin"), f, found.seg, e.to_string());
                    None
                }
            }
        });
        Product {
            gtin,
            vendor_sku: self.text(name("vendor_sku"), lm.vendor_sku.as_ref(), inst, n),
            buyer_sku: self.text(name("buyer_sku"), lm.buyer_sku.as_ref(), inst, n),
            description: self.text(name("description"), lm.description.as_ref(), inst, n),
        }
    }

    /// Line number, quantity and unit price, read the same way for every kind of line.
    fn line_basics(
        &mut self,
        n: usize,
        inst: &[Seg<'i, 'a>],
    ) -> (Option<String>, Option<Quantity>, Option<Decimal>) {
        let lm = &self.mapping.lines;
        let name = |f| Name::of("lines", n, f);
        let line_number = self.text(name("line_number"), lm.line_number.as_ref(), inst, n);
        let value = self.decimal(name("quantity"), lm.quantity.as_ref(), inst);
        let unit = lm
            .unit
            .as_ref()
            .and_then(|f| self.unit(name("unit"), f, inst, n));
        let unit_price = self.decimal(name("unit_price"), lm.unit_price.as_ref(), inst);
        let quantity = match (value, unit) {
            (Some(value), Some(unit)) => Some(Quantity { value, unit }),
            _ => None,
        };
        (line_number, quantity, unit_price)
    }

    fn line(&mut self, n: usize, inst: &[Seg<'i, 'a>]) -> Option<OrderLine> {
        let lm = &self.mapping.lines;
        let name = |f| Name::of("lines", n, f);
        let (line_number, quantity, unit_price) = self.line_basics(n, inst);
        let product = self.product(n, inst, "lines");
        let requested_delivery_date = self.date(
            name("requested_delivery_date"),
            lm.requested_delivery_date.as_ref(),
            inst,
        );
        let change = self
            .kind(name("change"), lm.change.as_ref(), inst, ChangeKind::Other)
            .map(|(kind, code)| LineChange { kind, code });
        Some(OrderLine {
            line_number: line_number?,
            quantity: quantity?,
            unit_price,
            product,
            requested_delivery_date,
            change,
        })
    }

    fn response_line(
        &mut self,
        n: usize,
        inst: &[Seg<'i, 'a>],
        header_status: &AckStatus,
    ) -> Option<ResponseLine> {
        let lm = &self.mapping.lines;
        let name = |f| Name::of("lines", n, f);
        let (line_number, quantity, unit_price) = self.line_basics(n, inst);
        // A line without its own status has the response's.
        let status = self
            .kind(name("status"), lm.status.as_ref(), inst, AckKind::Other)
            .map_or_else(
                || header_status.clone(),
                |(kind, code)| AckStatus { kind, code },
            );
        let product = self.product(n, inst, "lines");
        let scheduled_delivery_date = self.date(
            name("scheduled_delivery_date"),
            lm.scheduled_delivery_date.as_ref(),
            inst,
        );
        Some(ResponseLine {
            line_number: line_number?,
            status,
            quantity: quantity?,
            unit_price,
            product,
            scheduled_delivery_date,
        })
    }

    fn shipment_line(&mut self, n: usize, inst: &[Seg<'i, 'a>]) -> Option<ShipmentLine> {
        let lm = &self.mapping.lines;
        let name = |f| Name::of("lines", n, f);
        let (line_number, quantity, _) = self.line_basics(n, inst);
        let order_number = self.text(name("order_number"), lm.order_number.as_ref(), inst, n);
        let order_line_number = self.text(
            name("order_line_number"),
            lm.order_line_number.as_ref(),
            inst,
            n,
        );
        let product = self.product(n, inst, "lines");
        Some(ShipmentLine {
            line_number,
            order_number,
            order_line_number,
            quantity: quantity?,
            product,
        })
    }

    fn invoice_line(&mut self, n: usize, inst: &[Seg<'i, 'a>]) -> Option<InvoiceLine> {
        let lm = &self.mapping.lines;
        let name = |f| Name::of("lines", n, f);
        let (line_number, quantity, unit_price) = self.line_basics(n, inst);
        let amount = self.decimal(name("amount"), lm.amount.as_ref(), inst);
        let product = self.product(n, inst, "lines");
        Some(InvoiceLine {
            line_number: line_number?,
            quantity: quantity?,
            unit_price: unit_price?,
            amount,
            product,
        })
    }

    fn item(&mut self, n: usize, inst: &[Seg<'i, 'a>]) -> InventoryItem {
        let m = self.mapping;
        let product = self.product(n, inst, "items");
        let mut quantities = Vec::new();
        let mut rest: Cow<'_, [Seg<'i, 'a>]> = Cow::Borrowed(inst);
        for qm in &m.lines.quantities {
            let found = instances(&rest, &qm.r#loop, self.text);
            for r in &found {
                let q = &rest[r.clone()];
                let k = quantities.len() + 1;
                let name = |field| Name {
                    outer: Some(("items", Some(n))),
                    inner: Some(("quantities", k)),
                    field,
                };
                let kind = self.kind(name("kind"), Some(&qm.kind), q, QuantityKind::Other);
                let value = self.decimal(name("value"), Some(&qm.value), q);
                let unit = self.unit(name("unit"), &qm.unit, q, k);
                if let (Some((kind, code)), Some(value), Some(unit)) = (kind, value, unit) {
                    quantities.push(InventoryQuantity {
                        kind,
                        code,
                        value,
                        unit,
                    });
                }
            }
            rest = Cow::Owned(outside(&rest, &found));
        }
        InventoryItem {
            product,
            quantities,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::implied;

    #[test]
    fn implied_decimals_place_the_mark() {
        let ok = |t: &str, p: u8| implied(t, p).ok();
        assert_eq!(ok("12345", 2).as_deref(), Some("123.45"));
        assert_eq!(ok("5", 2).as_deref(), Some("0.05"));
        assert_eq!(ok("05", 2).as_deref(), Some("0.05"));
        assert_eq!(ok("100", 2).as_deref(), Some("1.00"));
        assert_eq!(ok("-12345", 2).as_deref(), Some("-123.45"));
        assert_eq!(ok("+7", 1).as_deref(), Some("0.7"));
        assert_eq!(ok("42", 0).as_deref(), Some("42"));
        for bad in ["123.45", "12,3", "", "-", "1e5", "12 3"] {
            assert!(implied(bad, 2).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            implied("123.45", 2),
            Err(
                "invalid decimal \"123.45\": expected digits only, with 2 implied decimal \
                 places (no decimal mark)"
                    .to_owned()
            )
        );
    }
}
