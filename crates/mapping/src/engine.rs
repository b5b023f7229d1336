//! Translation: one message, its mapping, one event or the list of what went wrong.

use std::fmt;

use edi::{Charset, Interchange, Message, Segment};
use events::documents::{
    AckKind, AckStatus, InventoryItem, InventoryQuantity, InventoryReport, Order, OrderLine,
    OrderResponse, Product, Purpose, PurposeKind, QuantityKind, ResponseLine,
};
use events::{
    Address, Date, Decimal, Event, Gtin, Party, PartyRole, Payload, Quantity, Reference, Source,
    Unit,
};

use crate::path::{FieldRef, Path};
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

/// Translates every message of `ic`: one result per message, in order.
pub fn translate(
    ic: &Interchange<'_>,
    partner: &str,
    mappings: &Mappings,
) -> Vec<Result<Event, MappingError>> {
    ic.messages()
        .map(|m| translate_message(&m, partner, mappings))
        .collect()
}

/// Translates one message.
pub fn translate_message(
    msg: &Message<'_, '_>,
    partner: &str,
    mappings: &Mappings,
) -> Result<Event, MappingError> {
    let ic = msg.interchange();
    let syntax = match ic.standard() {
        edi::Standard::X12 => Syntax::X12,
        edi::Standard::Edifact => Syntax::Edifact,
    };
    let message_type = msg.message_type().trim().to_owned();
    let version = match syntax {
        Syntax::X12 => msg.version().trim().to_owned(),
        Syntax::Edifact => {
            let v = msg.version();
            let mut parts = v.split(':');
            format!(
                "{}{}",
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default()
            )
        }
    };
    let label = format!(
        "message {} ({} {})",
        msg.index() + 1,
        message_type,
        msg.control_number().trim()
    );
    let fail = |problem: Problem| MappingError {
        message: label.clone(),
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
    let segments: Vec<Seg<'_, '_>> = msg
        .segments()
        .iter()
        .enumerate()
        .skip(1)
        .take(msg.body().len())
        .map(|(i, s)| (i + 1, s))
        .collect();
    let mut cx = Cx {
        mapping,
        syntax,
        charset: ic.charset(),
        decimal: ic.delimiters().decimal(),
        problems: Vec::new(),
    };
    let payload = match mapping.document {
        Document::Order => {
            let order = cx.order(&segments);
            Some(if order.purpose.kind == PurposeKind::Cancel {
                Payload::OrderCancelled(order)
            } else {
                Payload::OrderCreated(order)
            })
        }
        Document::OrderResponse => Some(Payload::OrderResponse(cx.response(&segments))),
        Document::InventoryReport => cx.inventory(&segments).map(Payload::InventoryReport),
    };
    if !cx.problems.is_empty() {
        return Err(MappingError {
            message: label,
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
        sender: ic.sender().id,
        receiver: ic.receiver().id,
        interchange_control: ic.control_number().trim().to_owned(),
        group_control: msg.group().map(|g| g.control_number().trim().to_owned()),
        message_control: msg.control_number().trim().to_owned(),
    };
    Ok(Event::new(partner, source, msg.index() as u32, payload))
}

/// A segment and its position in the message (from 1, the header being 1).
type Seg<'i, 'a> = (usize, &'i Segment<'a>);

/// Splits `scope` into the instances of `lp` and the segments outside them.
fn instances<'i, 'a>(
    scope: &[Seg<'i, 'a>],
    lp: &LoopSpec,
) -> (Vec<Vec<Seg<'i, 'a>>>, Vec<Seg<'i, 'a>>) {
    let mut found = Vec::new();
    let mut rest = Vec::new();
    let mut i = 0;
    while i < scope.len() {
        let tag = scope[i].1.tag();
        if tag.as_str() != lp.start {
            rest.push(scope[i]);
            i += 1;
            continue;
        }
        let mut inst = vec![scope[i]];
        i += 1;
        while i < scope.len() {
            let t = scope[i].1.tag();
            let t = t.as_str();
            let member = lp.segments.is_empty() || lp.segments.iter().any(|s| s == t);
            if t == lp.start || !member || lp.end.iter().any(|s| s == t) {
                break;
            }
            inst.push(scope[i]);
            i += 1;
        }
        found.push(inst);
    }
    (found, rest)
}

/// A value found by a path.
struct Found<'i, 'a> {
    text: String,
    seg: Option<Seg<'i, 'a>>,
}

/// A message body cut into its scopes (see `mappings/README.md`, *Scopes*).
struct Carved<'i, 'a> {
    /// The whole header, loops included.
    header: Vec<Seg<'i, 'a>>,
    /// What is left of the header once the party and reference loops are carved out.
    rest: Vec<Seg<'i, 'a>>,
    parties: Vec<Party>,
    references: Vec<Reference>,
    /// The instances of the line loop.
    lines: Vec<Vec<Seg<'i, 'a>>>,
}

struct Cx<'m> {
    mapping: &'m MessageMapping,
    syntax: Syntax,
    charset: Charset,
    decimal: u8,
    problems: Vec<Problem>,
}

fn read(seg: &Segment<'_>, f: &FieldRef, charset: Charset) -> String {
    seg.element(f.element)
        .and_then(|e| e.repetitions().next())
        .and_then(|r| r.component(f.component.unwrap_or(1)))
        .map(|c| c.text(charset).trim().to_owned())
        .unwrap_or_default()
}

fn paths(field: &Field) -> String {
    field
        .paths
        .iter()
        .map(Path::as_str)
        .collect::<Vec<_>>()
        .join(" or ")
}

impl Cx<'_> {
    fn matches(&self, seg: &Segment<'_>, path: &Path) -> bool {
        match &path.selector {
            None => seg.tag().as_str() == path.field.tag,
            Some(sel) => {
                seg.tag().as_str() == sel.tag
                    && sel.conditions.iter().all(|c| {
                        let v = read(seg, &c.field, self.charset);
                        c.values.contains(&v)
                    })
            }
        }
    }

    fn problem(
        &mut self,
        field: &str,
        f: &Field,
        seg: Option<Seg<'_, '_>>,
        reason: impl Into<String>,
    ) {
        self.problems.push(Problem {
            field: field.to_owned(),
            path: paths(f),
            segment: seg.map(|(pos, s)| format!("{} at segment {pos}", s.tag())),
            reason: reason.into(),
        });
    }

    /// The raw value: the first path that finds a non-empty value, else the default; a missing
    /// required value is reported.
    fn find<'i, 'a>(
        &mut self,
        name: &str,
        f: &Field,
        scope: &[Seg<'i, 'a>],
        position: usize,
    ) -> Option<Found<'i, 'a>> {
        for p in &f.paths {
            if let Some(seg) = scope.iter().find(|(_, s)| self.matches(s, p)) {
                let text = read(seg.1, &p.field, self.charset);
                if !text.is_empty() {
                    return Some(Found {
                        text,
                        seg: Some(*seg),
                    });
                }
            }
        }
        if let Some(d) = &f.default {
            return Some(Found {
                text: d.replace("{position}", &position.to_string()),
                seg: None,
            });
        }
        if f.required {
            self.problem(name, f, None, "missing");
        }
        None
    }

    fn coded(&self, f: &Field, code: &str) -> Option<String> {
        f.codes
            .as_ref()
            .and_then(|t| self.mapping.codes.get(t))
            .and_then(|t| t.get(code))
            .cloned()
    }

    fn text(
        &mut self,
        name: &str,
        f: Option<&Field>,
        scope: &[Seg<'_, '_>],
        position: usize,
    ) -> Option<String> {
        let f = f?;
        let found = self.find(name, f, scope, position)?;
        Some(self.coded(f, &found.text).unwrap_or(found.text))
    }

    fn date(&mut self, name: &str, f: Option<&Field>, scope: &[Seg<'_, '_>]) -> Option<Date> {
        let f = f?;
        let found = self.find(name, f, scope, 0)?;
        let t = found.text.as_str();
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
                let fmt = found
                    .seg
                    .map(|(_, s)| read(s, &code.field, self.charset))
                    .filter(|c| !c.is_empty())
                    .unwrap_or_else(|| default.clone());
                Date::from_edifact(&fmt, t)
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

    fn decimal(&mut self, name: &str, f: Option<&Field>, scope: &[Seg<'_, '_>]) -> Option<Decimal> {
        let f = f?;
        let found = self.find(name, f, scope, 0)?;
        let text = match self.syntax {
            // ISO 9735: the UNA decimal mark, and `.` which every reader must accept.
            Syntax::Edifact => found.text.replace(char::from(self.decimal), "."),
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
                found.text.clone()
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

    /// The party of one loop instance.
    fn party(&mut self, pm: &PartyMapping, idx: &str, inst: &[Seg<'_, '_>]) -> Option<Party> {
        let name = |f: &str| format!("{idx}.{f}");
        let role_field = &pm.role;
        let role = self.find(&name("role"), role_field, inst, 0).map(|r| {
            match self.coded(role_field, &r.text) {
                Some(n) => PartyRole::from_name(&n),
                None => PartyRole::from_name(&r.text),
            }
        })?;
        let address = Address {
            lines: pm
                .address_lines
                .iter()
                .filter_map(|f| self.text(&name("address_lines"), Some(f), inst, 0))
                .collect(),
            city: self.text(&name("city"), pm.city.as_ref(), inst, 0),
            region: self.text(&name("region"), pm.region.as_ref(), inst, 0),
            postal_code: self.text(&name("postal_code"), pm.postal_code.as_ref(), inst, 0),
            country: self.text(&name("country"), pm.country.as_ref(), inst, 0),
        };
        let empty = address == Address::default();
        Some(Party {
            role,
            id: self.text(&name("id"), pm.id.as_ref(), inst, 0),
            id_qualifier: self.text(&name("id_qualifier"), pm.id_qualifier.as_ref(), inst, 0),
            name: self.text(&name("name"), pm.name.as_ref(), inst, 0),
            address: (!empty).then_some(address),
        })
    }

    /// Splits the body into header and lines and carves the party and reference loops out of
    /// the header, in order, so a segment belongs to one place.
    fn carve<'i, 'a>(&mut self, body: &[Seg<'i, 'a>]) -> Carved<'i, 'a> {
        let m = self.mapping;
        let first_line = body
            .iter()
            .position(|(_, s)| s.tag().as_str() == m.lines.r#loop.start)
            .unwrap_or(body.len());
        let (header, line_area) = body.split_at(first_line);

        let mut rest: Vec<Seg<'_, '_>> = header.to_vec();
        let mut parties = Vec::new();
        for pm in &m.parties {
            let (found, left) = instances(&rest, &pm.r#loop);
            rest = left;
            for inst in &found {
                let idx = format!("parties[{}]", parties.len() + 1);
                let party = self.party(pm, &idx, inst).unwrap_or_else(|| Party {
                    role: PartyRole::from_name("unknown"),
                    id: None,
                    id_qualifier: None,
                    name: None,
                    address: None,
                });
                parties.push(party);
            }
        }
        let mut references = Vec::new();
        for rm in &m.references {
            let (found, left) = instances(&rest, &rm.r#loop);
            rest = left;
            for inst in &found {
                let n = references.len() + 1;
                let q = self.text(
                    &format!("references[{n}].qualifier"),
                    Some(&rm.qualifier),
                    inst,
                    0,
                );
                let v = self.text(&format!("references[{n}].value"), Some(&rm.value), inst, 0);
                if let (Some(qualifier), Some(value)) = (q, v)
                    && !rm.skip.contains(&qualifier)
                {
                    references.push(Reference { qualifier, value });
                }
            }
        }
        let (lines, _summary) = instances(line_area, &m.lines.r#loop);
        Carved {
            header: header.to_vec(),
            rest,
            parties,
            references,
            lines,
        }
    }

    /// The scope a header field reads.
    fn scope<'c, 'i, 'a>(c: &'c Carved<'i, 'a>, f: Option<&Field>) -> &'c [Seg<'i, 'a>] {
        match f.map(|f| f.scope) {
            Some(Scope::Header) => &c.header,
            _ => &c.rest,
        }
    }

    fn header_text(&mut self, name: &str, f: Option<&Field>, c: &Carved<'_, '_>) -> Option<String> {
        self.text(name, f, Self::scope(c, f), 0)
    }

    fn header_date(&mut self, name: &str, f: Option<&Field>, c: &Carved<'_, '_>) -> Option<Date> {
        self.date(name, f, Self::scope(c, f))
    }

    fn purpose(&mut self, c: &Carved<'_, '_>) -> Purpose {
        let f = self.mapping.header.purpose.as_ref();
        f.and_then(|f| {
            let p = self.find("purpose", f, Self::scope(c, Some(f)), 0)?;
            let kind = self
                .coded(f, &p.text)
                .and_then(|k| serde_json::from_value(serde_json::Value::String(k)).ok())
                .unwrap_or(PurposeKind::Other);
            Some(Purpose { kind, code: p.text })
        })
        .unwrap_or(Purpose {
            kind: PurposeKind::Other,
            code: String::new(),
        })
    }

    /// An ack status: the code looked up in the field's table of ack kinds (`other` when not
    /// listed), the code kept.
    fn status(&mut self, name: &str, f: &Field, scope: &[Seg<'_, '_>]) -> Option<AckStatus> {
        let s = self.find(name, f, scope, 0)?;
        let kind = self
            .coded(f, &s.text)
            .and_then(|k| serde_json::from_value(serde_json::Value::String(k)).ok())
            .unwrap_or(AckKind::Other);
        Some(AckStatus { kind, code: s.text })
    }

    /// A unit: the field's table when it has one, else the built-in table of the syntax.
    fn unit(&mut self, name: &str, f: &Field, scope: &[Seg<'_, '_>], n: usize) -> Option<Unit> {
        let u = self.find(name, f, scope, n)?;
        Some(if f.codes.is_some() {
            Unit {
                code: self.coded(f, &u.text),
                original: u.text,
            }
        } else {
            match self.syntax {
                Syntax::X12 => Unit::from_x12(&u.text),
                Syntax::Edifact => Unit::from_edifact(&u.text),
            }
        })
    }

    fn order(&mut self, body: &[Seg<'_, '_>]) -> Order {
        let m = self.mapping;
        let c = self.carve(body);
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
        let lines = c
            .lines
            .iter()
            .enumerate()
            .filter_map(|(i, inst)| self.line(i + 1, inst))
            .collect();

        Order {
            order_number: order_number.unwrap_or_default(),
            order_date,
            purpose,
            currency,
            requested_delivery_date,
            parties: c.parties,
            references: c.references,
            lines,
        }
    }

    fn response(&mut self, body: &[Seg<'_, '_>]) -> OrderResponse {
        let m = self.mapping;
        let c = self.carve(body);
        let h = &m.header;
        let order_number = self.header_text("order_number", h.order_number.as_ref(), &c);
        let purpose = self.purpose(&c);
        let status = h.status.as_ref().and_then(|f| {
            let scope = Self::scope(&c, Some(f));
            self.status("status", f, scope)
        });
        let status = status.unwrap_or(AckStatus {
            kind: AckKind::Other,
            code: String::new(),
        });
        let order_date = self.header_date("order_date", h.order_date.as_ref(), &c);
        let response_date = self.header_date("response_date", h.response_date.as_ref(), &c);
        let currency = self.header_text("currency", h.currency.as_ref(), &c);
        let lines = c
            .lines
            .iter()
            .enumerate()
            .filter_map(|(i, inst)| self.response_line(i + 1, inst, &status))
            .collect();
        OrderResponse {
            order_number: order_number.unwrap_or_default(),
            order_date,
            response_date,
            purpose,
            status,
            currency,
            parties: c.parties,
            references: c.references,
            lines,
        }
    }

    fn inventory(&mut self, body: &[Seg<'_, '_>]) -> Option<InventoryReport> {
        let m = self.mapping;
        let c = self.carve(body);
        let before = self.problems.len();
        let report_date = self.header_date("report_date", m.header.report_date.as_ref(), &c);
        if report_date.is_none()
            && self.problems.len() == before
            && let Some(f) = &m.header.report_date
        {
            // The event needs the date even when the file forgot `required = true`.
            self.problem("report_date", f, None, "missing");
        }
        // The location: the first instance of its loop whose role is found, carved from what
        // the party and reference loops left.
        let mut location = None;
        if let Some(pm) = &m.location {
            let (found, _) = instances(&c.rest, &pm.r#loop);
            for inst in &found {
                let role_found = pm
                    .role
                    .paths
                    .iter()
                    .any(|p| inst.iter().any(|(_, s)| self.matches(s, p)));
                if role_found {
                    location = self.party(pm, "location", inst);
                    break;
                }
            }
        }
        let items = c
            .lines
            .iter()
            .enumerate()
            .map(|(i, inst)| self.item(i + 1, inst))
            .collect();
        Some(InventoryReport {
            report_date: report_date?,
            location,
            items,
        })
    }

    fn product(&mut self, n: usize, inst: &[Seg<'_, '_>], what: &str) -> Product {
        let lm = &self.mapping.lines;
        let name = |f: &str| format!("{what}[{n}].{f}");
        let gtin = lm.gtin.as_ref().and_then(|f| {
            let found = self.find(&name("gtin"), f, inst, n)?;
            match Gtin::parse(&found.text) {
                Ok(g) => Some(g),
                Err(e) => {
                    self.problem(&name("gtin"), f, found.seg, e.to_string());
                    None
                }
            }
        });
        Product {
            gtin,
            vendor_sku: self.text(&name("vendor_sku"), lm.vendor_sku.as_ref(), inst, n),
            buyer_sku: self.text(&name("buyer_sku"), lm.buyer_sku.as_ref(), inst, n),
            description: self.text(&name("description"), lm.description.as_ref(), inst, n),
        }
    }

    /// Line number, quantity and unit: required by order and response lines.
    fn line_basics(
        &mut self,
        n: usize,
        inst: &[Seg<'_, '_>],
    ) -> (Option<String>, Option<Quantity>, Option<Decimal>) {
        let lm = &self.mapping.lines;
        let name = |f: &str| format!("lines[{n}].{f}");
        let line_number = self.text(&name("line_number"), lm.line_number.as_ref(), inst, n);
        let value = self.decimal(&name("quantity"), lm.quantity.as_ref(), inst);
        let unit = lm
            .unit
            .as_ref()
            .and_then(|f| self.unit(&name("unit"), f, inst, n));
        let unit_price = self.decimal(&name("unit_price"), lm.unit_price.as_ref(), inst);
        let quantity = match (value, unit) {
            (Some(value), Some(unit)) => Some(Quantity { value, unit }),
            _ => None,
        };
        (line_number, quantity, unit_price)
    }

    fn response_line(
        &mut self,
        n: usize,
        inst: &[Seg<'_, '_>],
        header_status: &AckStatus,
    ) -> Option<ResponseLine> {
        let lm = &self.mapping.lines;
        let name = |f: &str| format!("lines[{n}].{f}");
        let (line_number, quantity, unit_price) = self.line_basics(n, inst);
        // A line without its own status has the response's.
        let status = lm
            .status
            .as_ref()
            .and_then(|f| self.status(&name("status"), f, inst))
            .unwrap_or_else(|| header_status.clone());
        let product = self.product(n, inst, "lines");
        let scheduled_delivery_date = self.date(
            &name("scheduled_delivery_date"),
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

    fn item(&mut self, n: usize, inst: &[Seg<'_, '_>]) -> InventoryItem {
        let m = self.mapping;
        let product = self.product(n, inst, "items");
        let mut quantities = Vec::new();
        let mut rest = inst.to_vec();
        for qm in &m.lines.quantities {
            let (found, left) = instances(&rest, &qm.r#loop);
            rest = left;
            for q in &found {
                let k = quantities.len() + 1;
                let name = |f: &str| format!("items[{n}].quantities[{k}].{f}");
                let kind = self.find(&name("kind"), &qm.kind, q, 0);
                let value = self.decimal(&name("value"), Some(&qm.value), q);
                let unit = self.unit(&name("unit"), &qm.unit, q, k);
                if let (Some(kind), Some(value), Some(unit)) = (kind, value, unit) {
                    let meaning = self
                        .coded(&qm.kind, &kind.text)
                        .and_then(|k| serde_json::from_value(serde_json::Value::String(k)).ok())
                        .unwrap_or(QuantityKind::Other);
                    quantities.push(InventoryQuantity {
                        kind: meaning,
                        code: kind.text,
                        value,
                        unit,
                    });
                }
            }
        }
        InventoryItem {
            product,
            quantities,
        }
    }

    fn line(&mut self, n: usize, inst: &[Seg<'_, '_>]) -> Option<OrderLine> {
        let lm = &self.mapping.lines;
        let name = |f: &str| format!("lines[{n}].{f}");
        let (line_number, quantity, unit_price) = self.line_basics(n, inst);
        let product = self.product(n, inst, "lines");
        let requested_delivery_date = self.date(
            &name("requested_delivery_date"),
            lm.requested_delivery_date.as_ref(),
            inst,
        );
        Some(OrderLine {
            line_number: line_number?,
            quantity: quantity?,
            unit_price,
            product,
            requested_delivery_date,
        })
    }
}
