//! Events → EDI: the `[outbound]` table of a mapping file, and the messages it writes.
//!
//! The same file that reads a message also writes it, so a partner's deviations are stated once:
//! the code tables are read backwards (canonical value → the partner's code), implied decimals
//! and date formats come from the inbound field of the same name, and `[outbound]` adds only
//! what reading cannot tell — which segments to write, in which order. The format is
//! documented in `mappings/README.md` (*Writing EDI*).
//!
//! Data flow: [`compose`] picks the mapping for the event's document, syntax and version,
//! [`render_message`] walks the `[outbound]` items top to bottom against the event (each
//! `each` block over a collection of it, `level` blocks numbering HL/CPS levels), and the
//! envelope is written around the segments with the control numbers the caller assigned.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use edi::writer::{DocumentWriter, InterchangeHeader, SegmentBuf, WriteError};
use edi::{Delimiters, Standard};
use events::documents::{Package, Product, ShipmentLine};
use events::{Date, Decimal, Party, PartyRole, Payload, Quantity, Reference, Unit};
use serde::Deserialize;

use crate::spec::{DateFormat, Document, Field, LoadError, Mappings, MessageMapping, Syntax};

/// Why an event could not be written as EDI.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ComposeError {
    /// No loaded mapping writes this document in this syntax and version.
    #[error(
        "no mapping writes {document} as {syntax} {version}: a mapping file for it needs an [outbound] table"
    )]
    NoMapping {
        /// The event type.
        document: String,
        /// `x12` or `edifact`.
        syntax: &'static str,
        /// The version asked for.
        version: String,
    },
    /// A value of the event cannot be written where the mapping puts it.
    #[error("{origin}: [outbound] {template:?}: {field}: {reason}")]
    Value {
        /// The mapping file.
        origin: String,
        /// The segment template being written.
        template: String,
        /// The placeholder.
        field: String,
        /// Why.
        reason: String,
    },
    /// The segments could not be written (a value holds a delimiter X12 cannot escape, …).
    #[error("writing the interchange: {0}")]
    Write(#[from] WriteError),
}

// ---- the table as written ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOutbound {
    segments: Vec<RawItem>,
    #[serde(default)]
    functional_group: Option<String>,
    #[serde(default)]
    codes: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawItem {
    Segment(String),
    Block(RawBlock),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBlock {
    each: Option<String>,
    level: Option<String>,
    when: Option<String>,
    #[serde(default)]
    skip: Vec<String>,
    segments: Vec<RawItem>,
}

// ---- the table, checked ----

/// A checked `[outbound]` table: the segments an event becomes, in message order.
#[derive(Debug, Clone)]
pub struct Outbound {
    items: Vec<Item>,
    /// X12 GS01, the functional identifier code of the group the message travels in.
    functional_group: Option<String>,
    /// Table name → canonical value → the code written for it, where the file's code table
    /// has several codes for one value.
    codes: BTreeMap<String, BTreeMap<String, String>>,
}

impl Outbound {
    /// X12 GS01 for the message (`PR` for an 855, …), when the file names one.
    pub fn functional_group(&self) -> Option<&str> {
        self.functional_group.as_deref()
    }
}

#[derive(Debug, Clone)]
enum Item {
    Segment(Template),
    Block(Block),
}

/// A group of items written once, or once per member of a collection of the event.
#[derive(Debug, Clone)]
struct Block {
    each: Option<Collection>,
    /// Writes a hierarchical level segment first: X12 `HL*id*parent*code`, EDIFACT
    /// `CPS+id+parent`.
    level: Option<String>,
    /// For `each = "references"`: qualifiers not written here (written elsewhere).
    skip: Vec<String>,
    /// Written only when this field has a value (`when = "id"`: a package with an SSCC).
    when: Option<Placeholder>,
    items: Vec<Item>,
}

/// What an `each` block walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Collection {
    Parties,
    References,
    Lines,
    Packages,
    Orders,
}

impl Collection {
    const ALL: [(&'static str, Collection); 5] = [
        ("parties", Collection::Parties),
        ("references", Collection::References),
        ("lines", Collection::Lines),
        ("packages", Collection::Packages),
        ("orders", Collection::Orders),
    ];

    /// The fields a placeholder can name inside a block over this collection.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Collection::Parties => &[
                "role",
                "id",
                "id_qualifier",
                "name",
                "address_lines",
                "city",
                "region",
                "postal_code",
                "country",
            ],
            Collection::References => &["qualifier", "value"],
            Collection::Lines => &[
                "line_number",
                "quantity",
                "unit",
                "unit_price",
                "gtin",
                "vendor_sku",
                "buyer_sku",
                "description",
                "requested_delivery_date",
                "change",
                "status",
                "scheduled_delivery_date",
                "amount",
                "order_number",
                "order_line_number",
            ],
            Collection::Packages => &["id"],
            Collection::Orders => &["order_number"],
        }
    }
}

const HEADER_FIELDS: &[&str] = &[
    "order_number",
    "order_date",
    "purpose",
    "status",
    "response_date",
    "currency",
    "requested_delivery_date",
    "shipment_id",
    "ship_date",
    "estimated_delivery_date",
    "carrier_code",
    "carrier_name",
    "tracking_number",
    "invoice_number",
    "invoice_date",
    "invoice_type",
    "total",
    "subtotal",
    "tax",
];

/// Placeholders every template may use: `{position}` (of the current `each` member, from 1),
/// `{count:TAG}` (segments with that tag written so far in the message), `{now:date}` and
/// `{now:time}` (the interchange's timestamp).
const ALWAYS: &[&str] = &["position", "count", "now"];

/// One segment as written in the file: `BAK*{purpose}*{status}*{order_number}`.
#[derive(Debug, Clone)]
struct Template {
    text: String,
    tag: String,
    elements: Vec<TemplateElement>,
}

#[derive(Debug, Clone)]
enum TemplateElement {
    /// An element; components separated by `:` in the file.
    One(Vec<Vec<Piece>>),
    /// `(…)`: elements written only when every placeholder in them has a value; when one has
    /// none the whole group is left out and what follows moves up (qualifier/value pairs).
    Group(Vec<Vec<Vec<Piece>>>),
}

#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    /// `{a|b}`: the first of these that has a value.
    Value(Vec<Placeholder>),
}

#[derive(Debug, Clone)]
struct Placeholder {
    name: String,
    arg: Option<String>,
}

impl RawOutbound {
    pub(crate) fn check(
        self,
        origin: &std::path::Path,
        syntax: Syntax,
        document: Document,
        tables: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> Result<Outbound, LoadError> {
        let checker = Checker {
            origin,
            syntax,
            document,
        };
        let items = checker.items(self.segments, &[], "segments")?;
        if syntax == Syntax::Edifact && self.functional_group.is_some() {
            return Err(checker.invalid(
                "functional_group",
                "EDIFACT messages travel without a functional group here; remove it",
            ));
        }
        for (name, preferred) in &self.codes {
            let Some(table) = tables.get(name) else {
                return Err(checker.invalid(
                    &format!("codes.{name}"),
                    format!("there is no [codes.{name}] table to prefer codes of"),
                ));
            };
            for (value, code) in preferred {
                if table.get(code) != Some(value) {
                    return Err(checker.invalid(
                        &format!("codes.{name}.{value}"),
                        format!(
                            "{code:?} does not mean {value:?} in [codes.{name}]; write a code that does, or add {code} = {value:?} there"
                        ),
                    ));
                }
            }
        }
        Ok(Outbound {
            items,
            functional_group: self.functional_group,
            codes: self.codes,
        })
    }
}

struct Checker<'a> {
    origin: &'a std::path::Path,
    syntax: Syntax,
    document: Document,
}

impl Checker<'_> {
    fn invalid(&self, field: &str, message: impl Into<String>) -> LoadError {
        LoadError::Invalid {
            path: self.origin.to_path_buf(),
            field: format!("outbound.{field}"),
            message: message.into(),
        }
    }

    fn items(
        &self,
        raw: Vec<RawItem>,
        scopes: &[Collection],
        at: &str,
    ) -> Result<Vec<Item>, LoadError> {
        let mut out = Vec::with_capacity(raw.len());
        for (i, item) in raw.into_iter().enumerate() {
            let at = format!("{at}[{i}]");
            out.push(match item {
                RawItem::Segment(text) => Item::Segment(self.template(&text, scopes, &at)?),
                RawItem::Block(b) => Item::Block(self.block(b, scopes, &at)?),
            });
        }
        Ok(out)
    }

    fn block(&self, b: RawBlock, scopes: &[Collection], at: &str) -> Result<Block, LoadError> {
        let each = match b.each.as_deref() {
            None => None,
            Some(name) => {
                let Some((_, c)) = Collection::ALL.iter().find(|(n, _)| *n == name) else {
                    let names: Vec<_> = Collection::ALL.iter().map(|(n, _)| *n).collect();
                    return Err(self.invalid(
                        &format!("{at}.each"),
                        format!("{name:?}: write one of {}", names.join(", ")),
                    ));
                };
                let fits = match c {
                    Collection::Packages | Collection::Orders => {
                        self.document == Document::ShipmentNotice
                    }
                    _ => true,
                };
                if !fits {
                    return Err(self.invalid(
                        &format!("{at}.each"),
                        format!(
                            "{name:?} is a collection of shipment notices, not of {}",
                            self.document.as_str()
                        ),
                    ));
                }
                Some(*c)
            }
        };
        if !b.skip.is_empty() && each != Some(Collection::References) {
            return Err(self.invalid(
                &format!("{at}.skip"),
                "skip names reference qualifiers: it belongs to each = \"references\"",
            ));
        }
        if let Some(code) = &b.level
            && (code.is_empty() || code.contains(['*', '+', ':', '~', '\'']))
        {
            return Err(self.invalid(
                &format!("{at}.level"),
                format!("{code:?}: write the level code, such as \"S\", \"O\", \"P\", \"I\""),
            ));
        }
        let mut inner = scopes.to_vec();
        inner.extend(each);
        let when = match b.when {
            None => None,
            Some(name) => {
                self.known(&name, None, &inner)
                    .map_err(|why| self.invalid(&format!("{at}.when"), why))?;
                Some(Placeholder { name, arg: None })
            }
        };
        Ok(Block {
            each,
            level: b.level,
            skip: b.skip,
            when,
            items: self.items(b.segments, &inner, &format!("{at}.segments"))?,
        })
    }

    fn template(&self, text: &str, scopes: &[Collection], at: &str) -> Result<Template, LoadError> {
        let bad = |why: String| self.invalid(at, format!("{text:?}: {why}"));
        let sep = match self.syntax {
            Syntax::X12 => '*',
            Syntax::Edifact => '+',
        };
        let parts = split_top(text, sep).map_err(&bad)?;
        let Some((tag, rest)) = parts.split_first() else {
            return Err(bad("empty template".into()));
        };
        let tag_ok = (2..=3).contains(&tag.len())
            && tag.starts_with(|c: char| c.is_ascii_uppercase())
            && tag
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if !tag_ok {
            return Err(bad(format!(
                "{tag:?} is not a segment tag: start with the tag, then `{sep}` and the elements"
            )));
        }
        let mut elements = Vec::with_capacity(rest.len());
        for part in rest {
            if let Some(inner) = part.strip_prefix('(') {
                let Some(inner) = inner.strip_suffix(')') else {
                    return Err(bad(format!("{part:?}: a group ends with `)`")));
                };
                let members = split_top(inner, sep).map_err(&bad)?;
                let mut group = Vec::with_capacity(members.len());
                for m in members {
                    group.push(self.components(m, scopes).map_err(&bad)?);
                }
                elements.push(TemplateElement::Group(group));
            } else {
                elements.push(TemplateElement::One(
                    self.components(part, scopes).map_err(&bad)?,
                ));
            }
        }
        Ok(Template {
            text: text.to_owned(),
            tag: tag.to_string(),
            elements,
        })
    }

    fn components(&self, element: &str, scopes: &[Collection]) -> Result<Vec<Vec<Piece>>, String> {
        split_top(element, ':')?
            .into_iter()
            .map(|c| self.pieces(c, scopes))
            .collect()
    }

    fn pieces(&self, component: &str, scopes: &[Collection]) -> Result<Vec<Piece>, String> {
        let mut out = Vec::new();
        let mut rest = component;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(0) => {
                    let Some(end) = rest.find('}') else {
                        return Err(format!("{rest:?}: a placeholder ends with `}}`"));
                    };
                    let mut alternatives = Vec::new();
                    for inner in rest[1..end].split('|') {
                        let (name, arg) = match inner.split_once(':') {
                            Some((n, a)) => (n, Some(a.to_owned())),
                            None => (inner, None),
                        };
                        self.known(name, arg.as_deref(), scopes)?;
                        alternatives.push(Placeholder {
                            name: name.to_owned(),
                            arg,
                        });
                    }
                    out.push(Piece::Value(alternatives));
                    rest = &rest[end + 1..];
                }
                found => {
                    let end = found.unwrap_or(rest.len());
                    let text = &rest[..end];
                    if text.contains(['}', '(', ')']) {
                        return Err(format!("{text:?}: unbalanced `}}`, `(` or `)`"));
                    }
                    out.push(Piece::Text(text.to_owned()));
                    rest = &rest[end..];
                }
            }
        }
        Ok(out)
    }

    fn known(&self, name: &str, arg: Option<&str>, scopes: &[Collection]) -> Result<(), String> {
        match (name, arg) {
            ("count", Some(tag)) if !tag.is_empty() => return Ok(()),
            ("count", _) => return Err("{count:TAG} names the segment tag to count".into()),
            ("now", Some("date" | "time")) => return Ok(()),
            ("now", _) => return Err("write {now:date} or {now:time}".into()),
            ("position", None) => return Ok(()),
            ("address_lines", Some(n)) if n.parse::<usize>().is_ok_and(|n| n >= 1) => {}
            ("address_lines", _) => {
                return Err("write {address_lines:1}, {address_lines:2}, …".into());
            }
            (_, Some(a)) => return Err(format!("{{{name}}} takes no argument (found {a:?})")),
            _ => {}
        }
        let in_scope = scopes.iter().any(|c| c.fields().contains(&name))
            || (HEADER_FIELDS.contains(&name) && header_has(self.document, name));
        if in_scope {
            return Ok(());
        }
        let mut known: Vec<&str> = HEADER_FIELDS
            .iter()
            .copied()
            .filter(|f| header_has(self.document, f))
            .collect();
        for c in scopes {
            known.extend(c.fields());
        }
        known.extend(ALWAYS);
        Err(format!(
            "{{{name}}} is not a field here; the fields here are {}",
            known.join(", ")
        ))
    }
}

/// Whether a document's header has a field.
fn header_has(document: Document, name: &str) -> bool {
    use Document::*;
    let fields: &[&str] = match document {
        Order | OrderChange => &[
            "order_number",
            "order_date",
            "purpose",
            "currency",
            "requested_delivery_date",
        ],
        OrderResponse => &[
            "order_number",
            "order_date",
            "purpose",
            "status",
            "response_date",
            "currency",
        ],
        ShipmentNotice => &[
            "shipment_id",
            "ship_date",
            "estimated_delivery_date",
            "carrier_code",
            "carrier_name",
            "tracking_number",
        ],
        Invoice => &[
            "invoice_number",
            "invoice_date",
            "invoice_type",
            "order_number",
            "currency",
            "total",
            "subtotal",
            "tax",
        ],
        InventoryReport => &[],
    };
    fields.contains(&name)
}

/// Splits at `sep` outside `{…}` and `(…)`.
fn split_top(text: &str, sep: char) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let (mut braces, mut parens, mut start) = (0i32, 0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '{' => braces += 1,
            '}' => braces -= 1,
            '(' => parens += 1,
            ')' => parens -= 1,
            c if c == sep && braces == 0 && parens == 0 => {
                out.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
        if braces < 0 || parens < 0 {
            return Err(format!("unbalanced `{c}` at column {}", i + 1));
        }
    }
    if braces != 0 || parens != 0 {
        return Err("an unclosed `{` or `(`".into());
    }
    out.push(&text[start..]);
    Ok(out)
}

// ---- writing ----

/// Where the interchange goes and the numbers it carries; the caller assigns the control
/// numbers (the outbox does, in the transaction that queues the document).
#[derive(Debug, Clone)]
pub struct Envelope {
    /// X12 or EDIFACT.
    pub syntax: Syntax,
    /// X12 GS08 (`004010`) or EDIFACT version+release (`D96A`); picks the mapping too.
    pub version: String,
    /// The delimiters to write with.
    pub delimiters: Delimiters,
    /// Our id and qualifier (ISA06/ISA05, UNB S002).
    pub sender: (String, String),
    /// The partner's id and qualifier (ISA08/ISA07, UNB S003).
    pub receiver: (String, String),
    /// X12 GS02 and GS03; the interchange ids when `None`.
    pub application_ids: Option<(String, String)>,
    /// The timestamp written into the envelope: `CCYYMMDD` and `HHMM`.
    pub date: String,
    /// `HHMM`.
    pub time: String,
    /// ISA13 / UNB 0020.
    pub interchange_control: u64,
    /// GS06 (X12 only).
    pub group_control: u64,
    /// ST02 / UNH 0062.
    pub message_control: u64,
    /// EDIFACT UNH S009 0057, e.g. `EAN008` for EANCOM.
    pub association: Option<String>,
    /// ISA15 `T` / UNB 0035 `1`.
    pub test: bool,
}

/// The mapping that writes `payload` in `syntax` and `version`: the last loaded file for its
/// document that has an `[outbound]` table.
pub fn find<'m>(
    mappings: &'m Mappings,
    payload: &Payload,
    syntax: Syntax,
    version: &str,
) -> Option<&'m MessageMapping> {
    let document = document_of(payload);
    mappings.all().iter().rev().find(|m| {
        m.syntax == syntax
            && m.document == document
            && m.outbound.is_some()
            && m.versions.iter().any(|v| version.starts_with(v.as_str()))
    })
}

fn document_of(payload: &Payload) -> Document {
    match payload {
        Payload::OrderCreated(_) | Payload::OrderCancelled(_) => Document::Order,
        Payload::OrderChanged(_) => Document::OrderChange,
        Payload::OrderResponse(_) => Document::OrderResponse,
        Payload::ShipmentNotice(_) => Document::ShipmentNotice,
        Payload::Invoice(_) => Document::Invoice,
        Payload::InventoryReport(_) => Document::InventoryReport,
        _ => Document::InventoryReport,
    }
}

fn syntax_name(syntax: Syntax) -> &'static str {
    match syntax {
        Syntax::X12 => "x12",
        Syntax::Edifact => "edifact",
    }
}

/// One interchange holding `payload` as the partner's EDI, per the mapping for its document,
/// `envelope.syntax` and `envelope.version`.
pub fn compose(
    mappings: &Mappings,
    payload: &Payload,
    envelope: &Envelope,
) -> Result<Vec<u8>, ComposeError> {
    let Some(mapping) = find(mappings, payload, envelope.syntax, &envelope.version) else {
        return Err(ComposeError::NoMapping {
            document: payload.event_type().as_str().to_owned(),
            syntax: syntax_name(envelope.syntax),
            version: envelope.version.clone(),
        });
    };
    let segments = render_message(mapping, payload, envelope)?;
    let e = envelope;
    let standard = match e.syntax {
        Syntax::X12 => Standard::X12,
        Syntax::Edifact => Standard::Edifact,
    };
    let mut w = DocumentWriter::new(standard, e.delimiters);
    match e.syntax {
        Syntax::X12 => {
            // ISA12 is the version of the interchange control structures: 00401 for a 4010
            // group, 00501 for 5010; GS08 carries the full version.
            let isa12 = if e.version.starts_with("0050") {
                "00501"
            } else {
                "00401"
            };
            w.begin_interchange(&InterchangeHeader {
                sender: e.sender.clone(),
                receiver: e.receiver.clone(),
                date: e.date.get(2..).unwrap_or(&e.date).to_owned(),
                time: e.time.clone(),
                control_number: e.interchange_control.to_string(),
                version: isa12.to_owned(),
                ack_requested: false,
                test: e.test,
            })?;
            let (gs02, gs03) = e
                .application_ids
                .clone()
                .unwrap_or_else(|| (e.sender.0.clone(), e.receiver.0.clone()));
            let gs01 = mapping
                .outbound
                .as_ref()
                .and_then(|o| o.functional_group())
                .unwrap_or("ZZ")
                .to_owned();
            let group = e.group_control.to_string();
            w.begin_group(&[
                &gs01, &gs02, &gs03, &e.date, &e.time, &group, "X", &e.version,
            ])?;
            w.begin_message(&mapping.message, &format!("{:04}", e.message_control), &[])?;
        }
        Syntax::Edifact => {
            w.begin_interchange(&InterchangeHeader {
                sender: e.sender.clone(),
                receiver: e.receiver.clone(),
                date: e.date.get(2..).unwrap_or(&e.date).to_owned(),
                time: e.time.clone(),
                control_number: e.interchange_control.to_string(),
                version: "UNOC:3".to_owned(),
                ack_requested: false,
                test: e.test,
            })?;
            let (version, release) = e.version.split_at(e.version.len().min(1));
            let mut identifier = vec![version, release, "UN"];
            if let Some(a) = &e.association {
                identifier.push(a);
            }
            w.begin_message(
                &mapping.message,
                &e.message_control.to_string(),
                &identifier,
            )?;
        }
    }
    for s in &segments {
        w.segment(s)?;
    }
    w.end_message()?;
    if e.syntax == Syntax::X12 {
        w.end_group()?;
    }
    Ok(w.end_interchange()?)
}

/// The body of one message (between ST and SE, or UNH and UNT) for `payload`.
pub fn render_message(
    mapping: &MessageMapping,
    payload: &Payload,
    envelope: &Envelope,
) -> Result<Vec<SegmentBuf>, ComposeError> {
    let Some(outbound) = &mapping.outbound else {
        return Err(ComposeError::NoMapping {
            document: payload.event_type().as_str().to_owned(),
            syntax: syntax_name(mapping.syntax),
            version: envelope.version.clone(),
        });
    };
    let mut r = Renderer {
        mapping,
        envelope,
        payload,
        out: Vec::new(),
        counts: BTreeMap::new(),
        levels: 0,
        lines_written: 0,
    };
    let root = [Frame::Header];
    r.items(&outbound.items, &root, None)?;
    // A line the templates never reach (a shipment line under no order, a file without an
    // `each = "lines"` block) would be dropped without a word; refuse instead.
    let lines = match payload {
        Payload::OrderCreated(o) | Payload::OrderChanged(o) | Payload::OrderCancelled(o) => {
            o.lines.len()
        }
        Payload::OrderResponse(r) => r.lines.len(),
        Payload::ShipmentNotice(s) => s.packages.iter().map(|p| p.lines.len()).sum(),
        Payload::Invoice(i) => i.lines.len(),
        _ => 0,
    };
    if r.lines_written < lines {
        return Err(ComposeError::Value {
            origin: mapping.origin.clone(),
            template: "segments".into(),
            field: "lines".into(),
            reason: format!(
                "{} of the event's {lines} lines would not be written (a shipment line needs an order_number when lines are written per order)",
                lines - r.lines_written
            ),
        });
    }
    Ok(r.out)
}

/// One step of the walk: the event itself, or one member of a collection.
#[derive(Clone)]
enum Frame<'e> {
    Header,
    Party(&'e Party),
    Reference(Cow<'e, Reference>),
    Line(LineView<'e>),
    Package(&'e Package, Vec<&'e ShipmentLine>),
    Order(&'e str),
    Position(usize),
}

/// The fields lines of every document share, borrowed from whichever line it is.
#[derive(Clone)]
struct LineView<'e> {
    line_number: Option<&'e str>,
    quantity: &'e Quantity,
    unit_price: Option<&'e Decimal>,
    product: &'e Product,
    requested_delivery_date: Option<Date>,
    change: Option<(String, &'e str)>,
    status: Option<(String, &'e str)>,
    scheduled_delivery_date: Option<Date>,
    amount: Option<&'e Decimal>,
    order_number: Option<&'e str>,
    order_line_number: Option<&'e str>,
}

impl<'e> LineView<'e> {
    fn plain(quantity: &'e Quantity, product: &'e Product) -> Self {
        LineView {
            line_number: None,
            quantity,
            unit_price: None,
            product,
            requested_delivery_date: None,
            change: None,
            status: None,
            scheduled_delivery_date: None,
            amount: None,
            order_number: None,
            order_line_number: None,
        }
    }

    fn shipment(l: &'e ShipmentLine) -> Self {
        LineView {
            line_number: l.line_number.as_deref(),
            order_number: l.order_number.as_deref(),
            order_line_number: l.order_line_number.as_deref(),
            ..LineView::plain(&l.quantity, &l.product)
        }
    }
}

/// A value of the event, before it is written the partner's way.
enum Value<'e> {
    Text(Cow<'e, str>),
    Date(Date),
    Decimal(&'e Decimal),
    /// A coded value: the canonical kind and the code it arrived with.
    Coded(String, &'e str),
    Role(&'e PartyRole),
    Unit(&'e Unit),
}

/// A kind enum's name as serialised (`accepted_with_changes`).
fn kind_name<K: serde::Serialize>(kind: &K) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

struct Renderer<'m, 'e> {
    mapping: &'m MessageMapping,
    envelope: &'m Envelope,
    payload: &'e Payload,
    out: Vec<SegmentBuf>,
    counts: BTreeMap<String, usize>,
    /// HL / CPS ids handed out so far.
    levels: usize,
    /// Lines written so far.
    lines_written: usize,
}

impl<'m, 'e> Renderer<'m, 'e> {
    fn items(
        &mut self,
        items: &[Item],
        frames: &[Frame<'e>],
        parent_level: Option<usize>,
    ) -> Result<(), ComposeError> {
        for item in items {
            match item {
                Item::Segment(t) => {
                    if let Some(s) = self.segment(t, frames)? {
                        *self.counts.entry(t.tag.clone()).or_default() += 1;
                        self.out.push(s);
                    }
                }
                Item::Block(b) => self.block(b, frames, parent_level)?,
            }
        }
        Ok(())
    }

    fn block(
        &mut self,
        b: &Block,
        frames: &[Frame<'e>],
        parent_level: Option<usize>,
    ) -> Result<(), ComposeError> {
        let members: Vec<Frame<'e>> = match b.each {
            None => vec![],
            Some(c) => self.members(c, frames, &b.skip),
        };
        if b.each.is_none() {
            return self.once(b, frames.to_vec(), parent_level);
        }
        for (i, m) in members.into_iter().enumerate() {
            if matches!(m, Frame::Line(_)) {
                self.lines_written += 1;
            }
            let mut inner = frames.to_vec();
            inner.push(Frame::Position(i + 1));
            inner.push(m);
            self.once(b, inner, parent_level)?;
        }
        Ok(())
    }

    fn once(
        &mut self,
        b: &Block,
        frames: Vec<Frame<'e>>,
        parent_level: Option<usize>,
    ) -> Result<(), ComposeError> {
        if let Some(ph) = &b.when {
            let t = Template {
                text: format!("when = {:?}", ph.name),
                tag: String::new(),
                elements: Vec::new(),
            };
            if self.value(&t, ph, &frames)?.is_none_or(|v| v.is_empty()) {
                return Ok(());
            }
        }
        let mut level = parent_level;
        if let Some(code) = &b.level {
            self.levels += 1;
            let id = self.levels;
            let parent = parent_level.map(|p| p.to_string()).unwrap_or_default();
            let s = match self.mapping.syntax {
                Syntax::X12 => SegmentBuf::new("HL")?
                    .simple(id.to_string())
                    .simple(parent)
                    .simple(code.as_str()),
                Syntax::Edifact => {
                    let s = SegmentBuf::new("CPS")?.simple(id.to_string());
                    if parent.is_empty() {
                        s
                    } else {
                        s.simple(parent)
                    }
                }
            };
            *self.counts.entry(s.tag().as_str().to_owned()).or_default() += 1;
            self.out.push(s);
            level = Some(id);
        }
        self.items(&b.items, &frames, level)
    }

    /// The members of a collection, as seen from where the block stands: lines inside a
    /// package are the package's, packages inside an order are those holding its lines.
    fn members(&self, c: Collection, frames: &[Frame<'e>], skip: &[String]) -> Vec<Frame<'e>> {
        let order = frames.iter().rev().find_map(|f| match f {
            Frame::Order(o) => Some(*o),
            _ => None,
        });
        let package = frames.iter().rev().find_map(|f| match f {
            Frame::Package(_, lines) => Some(lines.clone()),
            _ => None,
        });
        let p = self.payload;
        match c {
            Collection::Parties => {
                let parties = match p {
                    Payload::OrderCreated(o)
                    | Payload::OrderChanged(o)
                    | Payload::OrderCancelled(o) => &o.parties,
                    Payload::OrderResponse(r) => &r.parties,
                    Payload::ShipmentNotice(s) => &s.parties,
                    Payload::Invoice(i) => &i.parties,
                    _ => return vec![],
                };
                parties.iter().map(Frame::Party).collect()
            }
            Collection::References => {
                let refs = match p {
                    Payload::OrderCreated(o)
                    | Payload::OrderChanged(o)
                    | Payload::OrderCancelled(o) => &o.references,
                    Payload::OrderResponse(r) => &r.references,
                    Payload::ShipmentNotice(s) => &s.references,
                    Payload::Invoice(i) => &i.references,
                    _ => return vec![],
                };
                let mut out: Vec<Frame<'e>> = refs
                    .iter()
                    .filter(|r| !skip.contains(&r.qualifier))
                    .map(|r| Frame::Reference(Cow::Borrowed(r)))
                    .collect();
                // A tracking number travels as the carrier's reference (CN); one given only as
                // `tracking_number` is written as one, so it is not lost.
                if let Payload::ShipmentNotice(s) = p
                    && let Some(t) = s.carrier.as_ref().and_then(|c| c.tracking_number.as_ref())
                    && !s.references.iter().any(|r| &r.value == t)
                    && !skip.iter().any(|q| q == "CN")
                {
                    out.push(Frame::Reference(Cow::Owned(Reference {
                        qualifier: "CN".into(),
                        value: t.clone(),
                    })));
                }
                out
            }
            Collection::Lines => match p {
                Payload::OrderCreated(o)
                | Payload::OrderChanged(o)
                | Payload::OrderCancelled(o) => o
                    .lines
                    .iter()
                    .map(|l| {
                        Frame::Line(LineView {
                            line_number: Some(&l.line_number),
                            unit_price: l.unit_price.as_ref(),
                            requested_delivery_date: l.requested_delivery_date,
                            change: l
                                .change
                                .as_ref()
                                .map(|c| (kind_name(&c.kind), c.code.as_str())),
                            ..LineView::plain(&l.quantity, &l.product)
                        })
                    })
                    .collect(),
                Payload::OrderResponse(r) => r
                    .lines
                    .iter()
                    .map(|l| {
                        Frame::Line(LineView {
                            line_number: Some(&l.line_number),
                            unit_price: l.unit_price.as_ref(),
                            status: Some((kind_name(&l.status.kind), l.status.code.as_str())),
                            scheduled_delivery_date: l.scheduled_delivery_date,
                            ..LineView::plain(&l.quantity, &l.product)
                        })
                    })
                    .collect(),
                Payload::Invoice(i) => i
                    .lines
                    .iter()
                    .map(|l| {
                        Frame::Line(LineView {
                            line_number: Some(&l.line_number),
                            unit_price: Some(&l.unit_price),
                            amount: l.amount.as_ref(),
                            ..LineView::plain(&l.quantity, &l.product)
                        })
                    })
                    .collect(),
                Payload::ShipmentNotice(s) => {
                    let lines: Vec<&ShipmentLine> = match package {
                        Some(lines) => lines,
                        None => s.packages.iter().flat_map(|p| &p.lines).collect(),
                    };
                    lines
                        .into_iter()
                        .filter(|l| order.is_none() || l.order_number.as_deref() == order)
                        .map(|l| Frame::Line(LineView::shipment(l)))
                        .collect()
                }
                _ => vec![],
            },
            Collection::Packages => match p {
                Payload::ShipmentNotice(s) => s
                    .packages
                    .iter()
                    .filter_map(|pk| {
                        let lines: Vec<&ShipmentLine> = pk
                            .lines
                            .iter()
                            .filter(|l| order.is_none() || l.order_number.as_deref() == order)
                            .collect();
                        // Inside an order, a package holding none of its lines is not there.
                        (order.is_none() || !lines.is_empty()).then_some(Frame::Package(pk, lines))
                    })
                    .collect(),
                _ => vec![],
            },
            Collection::Orders => match p {
                Payload::ShipmentNotice(s) => {
                    let mut seen: Vec<&'e str> = Vec::new();
                    let from_lines = s
                        .packages
                        .iter()
                        .flat_map(|p| &p.lines)
                        .filter_map(|l| l.order_number.as_deref());
                    for o in s.order_numbers.iter().map(String::as_str).chain(from_lines) {
                        if !seen.contains(&o) {
                            seen.push(o);
                        }
                    }
                    seen.into_iter().map(Frame::Order).collect()
                }
                _ => vec![],
            },
        }
    }

    /// Writes one template, or nothing when it names values and none of them has one.
    fn segment(
        &self,
        t: &Template,
        frames: &[Frame<'e>],
    ) -> Result<Option<SegmentBuf>, ComposeError> {
        let mut elements: Vec<Vec<String>> = Vec::new();
        let (mut named, mut found) = (false, false);
        for e in &t.elements {
            match e {
                TemplateElement::One(components) => {
                    let mut out = Vec::with_capacity(components.len());
                    for c in components {
                        let (text, n, f) = self.component(t, c, frames)?;
                        named |= n;
                        found |= f;
                        out.push(text);
                    }
                    elements.push(out);
                }
                TemplateElement::Group(members) => {
                    let mut group = Vec::with_capacity(members.len());
                    let mut complete = true;
                    for m in members {
                        let mut out = Vec::with_capacity(m.len());
                        for c in m {
                            let (text, n, f) = self.component(t, c, frames)?;
                            named |= n;
                            complete &= !n || f;
                            out.push(text);
                        }
                        group.push(out);
                    }
                    if complete {
                        found = true;
                        elements.extend(group);
                    }
                }
            }
        }
        if named && !found {
            return Ok(None);
        }
        // Trailing empty components and elements are not written.
        for e in &mut elements {
            while e.len() > 1 && e.last().is_some_and(String::is_empty) {
                e.pop();
            }
        }
        while elements
            .last()
            .is_some_and(|e| e.iter().all(String::is_empty))
        {
            elements.pop();
        }
        let mut s = SegmentBuf::new(&t.tag)?;
        for e in elements {
            s = if e.len() == 1 {
                s.simple(e.into_iter().next().unwrap_or_default())
            } else {
                s.composite(e)
            };
        }
        Ok(Some(s))
    }

    /// One component's text, whether it names a value, and whether every value it names has
    /// one.
    fn component(
        &self,
        t: &Template,
        pieces: &[Piece],
        frames: &[Frame<'e>],
    ) -> Result<(String, bool, bool), ComposeError> {
        let mut text = String::new();
        let (mut named, mut all_found) = (false, true);
        for p in pieces {
            match p {
                Piece::Text(s) => text.push_str(s),
                Piece::Value(alternatives) => {
                    named = true;
                    let mut found = None;
                    for ph in alternatives {
                        if let Some(v) = self.value(t, ph, frames)?.filter(|v| !v.is_empty()) {
                            found = Some(v);
                            break;
                        }
                    }
                    match found {
                        Some(v) => text.push_str(&v),
                        None => all_found = false,
                    }
                }
            }
        }
        Ok((text, named, named && all_found))
    }

    fn value(
        &self,
        t: &Template,
        ph: &Placeholder,
        frames: &[Frame<'e>],
    ) -> Result<Option<String>, ComposeError> {
        let name = ph.name.as_str();
        match name {
            "count" => {
                let tag = ph.arg.as_deref().unwrap_or_default();
                return Ok(Some(self.counts.get(tag).copied().unwrap_or(0).to_string()));
            }
            "now" => {
                return Ok(Some(match ph.arg.as_deref() {
                    Some("time") => self.envelope.time.clone(),
                    _ => self.envelope.date.clone(),
                }));
            }
            "position" => {
                let n = frames.iter().rev().find_map(|f| match f {
                    Frame::Position(n) => Some(*n),
                    _ => None,
                });
                return Ok(n.map(|n| n.to_string()));
            }
            _ => {}
        }
        for (depth, frame) in frames.iter().enumerate().rev() {
            if let Some(v) = self.lookup(frame, ph) {
                let scope = frames[..=depth].iter().rev().find_map(|f| match f {
                    Frame::Party(_) => Some("parties"),
                    Frame::Reference(_) => Some("references"),
                    Frame::Line(_) => Some("lines"),
                    Frame::Package(..) => Some("packages"),
                    _ => None,
                });
                return match v {
                    None => Ok(None),
                    Some(v) => self.write(t, scope, name, v).map(Some),
                };
            }
        }
        Ok(None)
    }

    /// The value of a field in one frame: `None` when the frame has no such field, `Some(None)`
    /// when it has the field but no value.
    fn lookup(&self, frame: &Frame<'e>, ph: &Placeholder) -> Option<Option<Value<'e>>> {
        let text = |s: Option<&'e str>| Some(s.map(|s| Value::Text(Cow::Borrowed(s))));
        let name = ph.name.as_str();
        match frame {
            Frame::Position(_) => None,
            Frame::Order(o) => {
                (name == "order_number").then_some(Some(Value::Text(Cow::Borrowed(*o))))
            }
            Frame::Package(p, _) => {
                (name == "id").then(|| p.id.as_deref().map(|s| Value::Text(Cow::Borrowed(s))))
            }
            Frame::Reference(r) => match (name, r) {
                ("qualifier", Cow::Borrowed(r)) => text(Some(&r.qualifier)),
                ("value", Cow::Borrowed(r)) => text(Some(&r.value)),
                ("qualifier", Cow::Owned(r)) => {
                    Some(Some(Value::Text(Cow::Owned(r.qualifier.clone()))))
                }
                ("value", Cow::Owned(r)) => Some(Some(Value::Text(Cow::Owned(r.value.clone())))),
                _ => None,
            },
            Frame::Party(p) => {
                let a = p.address.as_ref();
                match name {
                    "role" => Some(Some(Value::Role(&p.role))),
                    "id" => text(p.id.as_deref()),
                    "id_qualifier" => text(p.id_qualifier.as_deref()),
                    "name" => text(p.name.as_deref()),
                    "address_lines" => {
                        let n = ph
                            .arg
                            .as_deref()
                            .and_then(|a| a.parse::<usize>().ok())
                            .unwrap_or(1);
                        text(
                            a.and_then(|a| a.lines.get(n.saturating_sub(1)))
                                .map(String::as_str),
                        )
                    }
                    "city" => text(a.and_then(|a| a.city.as_deref())),
                    "region" => text(a.and_then(|a| a.region.as_deref())),
                    "postal_code" => text(a.and_then(|a| a.postal_code.as_deref())),
                    "country" => text(a.and_then(|a| a.country.as_deref())),
                    _ => None,
                }
            }
            Frame::Line(l) => match name {
                "line_number" => text(l.line_number),
                "quantity" => Some(Some(Value::Decimal(&l.quantity.value))),
                "unit" => Some(Some(Value::Unit(&l.quantity.unit))),
                "unit_price" => Some(l.unit_price.map(Value::Decimal)),
                "gtin" => text(l.product.gtin.as_ref().map(|g| g.as_str())),
                "vendor_sku" => text(l.product.vendor_sku.as_deref()),
                "buyer_sku" => text(l.product.buyer_sku.as_deref()),
                "description" => text(l.product.description.as_deref()),
                "requested_delivery_date" => Some(l.requested_delivery_date.map(Value::Date)),
                "change" => Some(l.change.as_ref().map(|(k, c)| Value::Coded(k.clone(), c))),
                "status" => Some(l.status.as_ref().map(|(k, c)| Value::Coded(k.clone(), c))),
                "scheduled_delivery_date" => Some(l.scheduled_delivery_date.map(Value::Date)),
                "amount" => Some(l.amount.map(Value::Decimal)),
                "order_number" => text(l.order_number),
                "order_line_number" => text(l.order_line_number),
                _ => None,
            },
            Frame::Header => self.header(name),
        }
    }

    fn header(&self, name: &str) -> Option<Option<Value<'e>>> {
        let text = |s: Option<&'e str>| Some(s.map(|s| Value::Text(Cow::Borrowed(s))));
        match self.payload {
            Payload::OrderCreated(o) | Payload::OrderChanged(o) | Payload::OrderCancelled(o) => {
                match name {
                    "order_number" => text(Some(&o.order_number)),
                    "order_date" => Some(o.order_date.map(Value::Date)),
                    "purpose" => Some(Some(Value::Coded(
                        kind_name(&o.purpose.kind),
                        &o.purpose.code,
                    ))),
                    "currency" => text(o.currency.as_deref()),
                    "requested_delivery_date" => Some(o.requested_delivery_date.map(Value::Date)),
                    _ => None,
                }
            }
            Payload::OrderResponse(r) => match name {
                "order_number" => text(Some(&r.order_number)),
                "order_date" => Some(r.order_date.map(Value::Date)),
                "response_date" => Some(r.response_date.map(Value::Date)),
                "purpose" => Some(Some(Value::Coded(
                    kind_name(&r.purpose.kind),
                    &r.purpose.code,
                ))),
                "status" => Some(Some(Value::Coded(
                    kind_name(&r.status.kind),
                    &r.status.code,
                ))),
                "currency" => text(r.currency.as_deref()),
                _ => None,
            },
            Payload::ShipmentNotice(s) => {
                let carrier = s.carrier.as_ref();
                match name {
                    "shipment_id" => text(Some(&s.shipment_id)),
                    "ship_date" => Some(s.ship_date.map(Value::Date)),
                    "estimated_delivery_date" => Some(s.estimated_delivery_date.map(Value::Date)),
                    "carrier_code" => text(carrier.and_then(|c| c.code.as_deref())),
                    "carrier_name" => text(carrier.and_then(|c| c.name.as_deref())),
                    "tracking_number" => text(carrier.and_then(|c| c.tracking_number.as_deref())),
                    _ => None,
                }
            }
            Payload::Invoice(i) => match name {
                "invoice_number" => text(Some(&i.invoice_number)),
                "invoice_date" => Some(Some(Value::Date(i.invoice_date))),
                "invoice_type" => Some(
                    i.invoice_type
                        .as_ref()
                        .map(|t| Value::Coded(kind_name(&t.kind), &t.code)),
                ),
                "order_number" => text(i.order_number.as_deref()),
                "currency" => text(i.currency.as_deref()),
                "total" => Some(Some(Value::Decimal(&i.totals.total))),
                "subtotal" => Some(i.totals.subtotal.as_ref().map(Value::Decimal)),
                "tax" => Some(i.totals.tax.as_ref().map(Value::Decimal)),
                _ => None,
            },
            _ => None,
        }
    }

    /// The inbound field of the same name, whose code table, date format and implied decimals
    /// say how the partner writes the value.
    fn inbound_field(&self, scope: Option<&str>, name: &str) -> Option<&'m Field> {
        let m = self.mapping;
        match scope {
            Some("parties") => {
                let p = m.parties.first()?;
                match name {
                    "role" => Some(&p.role),
                    _ => None,
                }
            }
            Some("lines") => {
                let l = &m.lines;
                match name {
                    "quantity" => l.quantity.as_ref(),
                    "unit" => l.unit.as_ref(),
                    "unit_price" => l.unit_price.as_ref(),
                    "amount" => l.amount.as_ref(),
                    "status" => l.status.as_ref(),
                    "change" => l.change.as_ref(),
                    "requested_delivery_date" => l.requested_delivery_date.as_ref(),
                    "scheduled_delivery_date" => l.scheduled_delivery_date.as_ref(),
                    _ => None,
                }
            }
            Some(_) => None,
            None => {
                let h = &m.header;
                match name {
                    "order_date" => h.order_date.as_ref(),
                    "purpose" => h.purpose.as_ref(),
                    "status" => h.status.as_ref(),
                    "response_date" => h.response_date.as_ref(),
                    "requested_delivery_date" => h.requested_delivery_date.as_ref(),
                    "ship_date" => h.ship_date.as_ref(),
                    "estimated_delivery_date" => h.estimated_delivery_date.as_ref(),
                    "invoice_date" => h.invoice_date.as_ref(),
                    "invoice_type" => h.invoice_type.as_ref(),
                    "total" => h.total.as_ref(),
                    "subtotal" => h.subtotal.as_ref(),
                    "tax" => h.tax.as_ref(),
                    _ => None,
                }
            }
        }
    }

    /// A value as the partner writes it.
    fn write(
        &self,
        t: &Template,
        scope: Option<&str>,
        name: &str,
        v: Value<'e>,
    ) -> Result<String, ComposeError> {
        let field = self.inbound_field(scope, name);
        let fail = |reason: String| ComposeError::Value {
            origin: self.mapping.origin.clone(),
            template: t.text.clone(),
            field: match scope {
                Some(s) => format!("{s}.{name}"),
                None => name.to_owned(),
            },
            reason,
        };
        let table_name = field.and_then(|f| f.codes.as_deref());
        let table = table_name.and_then(|c| self.mapping.codes.get(c));
        // The file's choice of code for a canonical value, which wins: it is there because the
        // element written takes only some of the table's codes.
        let preferred = |value: &str| -> Option<String> {
            self.mapping
                .outbound
                .as_ref()
                .and_then(|o| o.codes.get(table_name?))
                .and_then(|p| p.get(value))
                .cloned()
        };
        // Else the first code of the table that means it.
        let first = |value: &str| -> Option<String> {
            table?
                .iter()
                .find(|(_, v)| v.as_str() == value)
                .map(|(c, _)| c.clone())
        };
        let reverse = |value: &str| preferred(value).or_else(|| first(value));
        match v {
            Value::Text(s) => Ok(s.into_owned()),
            Value::Date(d) => Ok(match field.and_then(|f| f.date.as_ref()) {
                Some(DateFormat::Yymmdd) => {
                    format!("{:02}{:02}{:02}", d.year() % 100, d.month(), d.day())
                }
                _ => format!("{:04}{:02}{:02}", d.year(), d.month(), d.day()),
            }),
            Value::Decimal(d) => {
                let text = match field.and_then(|f| f.decimals) {
                    Some(places) => implied(d.as_str(), places).map_err(fail)?,
                    None => d.as_str().to_owned(),
                };
                Ok(match self.mapping.syntax {
                    Syntax::Edifact if self.envelope.delimiters.decimal() != b'.' => text.replace(
                        '.',
                        &char::from(self.envelope.delimiters.decimal()).to_string(),
                    ),
                    _ => text,
                })
            }
            Value::Coded(kind, code) => {
                if let Some(c) = preferred(&kind) {
                    return Ok(c);
                }
                let Some(table) = table else {
                    return Ok(code.to_owned());
                };
                // The event's own code, when it means the same here: nothing is changed that
                // need not be.
                if table.get(code).is_some_and(|k| *k == kind) {
                    return Ok(code.to_owned());
                }
                if let Some(c) = first(&kind) {
                    return Ok(c);
                }
                if kind == "other" && !code.is_empty() {
                    return Ok(code.to_owned());
                }
                Err(fail(format!(
                    "no code in the mapping's code table means {kind:?} (the event's code is {code:?}); add one"
                )))
            }
            Value::Role(role) => {
                let name = role.as_str();
                if let Some(c) = reverse(name) {
                    return Ok(c);
                }
                match role {
                    PartyRole::Other(_) => Ok(name.to_owned()),
                    _ => Err(fail(format!(
                        "no code in the mapping's party_role table means {name:?}; add one"
                    ))),
                }
            }
            Value::Unit(unit) => {
                if let (Some(table), Some(code)) = (table, unit.code.as_deref()) {
                    if let Some(c) = preferred(code) {
                        return Ok(c);
                    }
                    if table.get(&unit.original).is_some_and(|c| c == code) {
                        return Ok(unit.original.clone());
                    }
                    if let Some(c) = reverse(code) {
                        return Ok(c);
                    }
                    return Ok(unit.original.clone());
                }
                Ok(match self.mapping.syntax {
                    Syntax::X12 => unit.x12_code().to_owned(),
                    Syntax::Edifact => unit.edifact_code().to_owned(),
                })
            }
        }
    }
}

impl fmt::Debug for Renderer<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Renderer")
            .field("origin", &self.mapping.origin)
            .finish()
    }
}

/// `12.5` with 2 implied decimal places is `1250`; more places than the element holds is an
/// error, never rounded.
fn implied(decimal: &str, places: u8) -> Result<String, String> {
    let (sign, digits) = match decimal.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", decimal),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let frac = frac.trim_end_matches('0');
    let places = usize::from(places);
    if frac.len() > places {
        return Err(format!(
            "{decimal} has more decimal places than the {places} this element implies"
        ));
    }
    let joined = format!("{int}{frac:0<places$}");
    let trimmed = joined.trim_start_matches('0');
    Ok(match trimmed {
        "" => "0".to_owned(),
        t => format!("{sign}{t}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implied_decimals_shift_and_never_round() {
        assert_eq!(implied("123.45", 2).as_deref(), Ok("12345"));
        assert_eq!(implied("12", 2).as_deref(), Ok("1200"));
        assert_eq!(implied("-0.05", 2).as_deref(), Ok("-5"));
        assert_eq!(implied("0", 2).as_deref(), Ok("0"));
        assert_eq!(implied("1.50", 1).as_deref(), Ok("15"));
        assert!(implied("1.234", 2).is_err());
    }

    #[test]
    fn templates_split_outside_placeholders_and_groups() {
        assert_eq!(
            split_top("PO1*{a}*(UK*{b})*{c:d}", '*').expect("splits"),
            vec!["PO1", "{a}", "(UK*{b})", "{c:d}"]
        );
        assert!(split_top("PO1*(UK*{b}", '*').is_err());
        assert!(split_top("PO1*{b}}", '*').is_err());
    }
}
