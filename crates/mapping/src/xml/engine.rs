//! Evaluating XML paths over a read document and making the canonical event.

use events::documents::{
    AckKind, AckStatus, Carrier, ChangeKind, Invoice, InvoiceKind, InvoiceLine, InvoiceTotals,
    InvoiceType, LineChange, Order, OrderLine, OrderResponse, Package, Product, Purpose,
    PurposeKind, ResponseLine, ShipmentLine, ShipmentNotice,
};
use events::{Address, Date, Decimal, Gtin, Party, PartyRole, Payload, Quantity, Reference, Unit};
use serde::de::DeserializeOwned;

use super::doc::Doc;
use super::path::{Step, XmlPath};
use super::spec::{XmlField, XmlGroup, XmlMapping};
use crate::engine::{Explanation, Problem};
use crate::spec::Document;

/// Calls `f` with each value `path` finds from `scope`, in document order, until it returns
/// `true`; returns whether it did.
pub(crate) fn each(
    doc: &Doc,
    scope: u32,
    path: &XmlPath,
    f: &mut dyn FnMut(u32, &str) -> bool,
) -> bool {
    if path.absolute {
        let Some((first, rest)) = path.steps.split_first() else {
            return false;
        };
        // The root is the only element at the top.
        return step_matches(doc, 0, first) && walk(doc, 0, rest, path, f);
    }
    walk(doc, scope, &path.steps, path, f)
}

fn walk(
    doc: &Doc,
    at: u32,
    steps: &[Step],
    path: &XmlPath,
    f: &mut dyn FnMut(u32, &str) -> bool,
) -> bool {
    let Some((step, rest)) = steps.split_first() else {
        let value = match &path.attribute {
            Some(a) => match doc.attribute(at, a) {
                Some(v) => v,
                None => return false,
            },
            None => doc.text(at),
        };
        return f(at, value);
    };
    doc.children(at)
        .any(|c| step_matches(doc, c, step) && walk(doc, c, rest, path, f))
}

fn step_matches(doc: &Doc, node: u32, step: &Step) -> bool {
    doc.name(node) == Some(&step.name)
        && step.conditions.iter().all(|c| {
            each(doc, node, &c.test, &mut |_, v| {
                c.values.iter().any(|w| w.as_str() == v)
            })
        })
}

/// Every element `path` (an element path) reaches from `scope`, in document order.
pub(crate) fn elements(doc: &Doc, scope: u32, path: &XmlPath) -> Vec<u32> {
    let mut out = Vec::new();
    each(doc, scope, path, &mut |n, _| {
        out.push(n);
        false
    });
    out
}

/// A value found: its text and the element it came from (none for a fixed value or default).
struct Found {
    text: String,
    node: Option<u32>,
}

pub(crate) struct Cx<'m, 'd> {
    pub mapping: &'m XmlMapping,
    pub doc: &'d Doc,
    pub problems: Vec<Problem>,
    pub explained: Option<Vec<Explanation>>,
}

/// The line group, borrowed from the mapping rather than from the context that holds it.
fn lines_of(m: &XmlMapping) -> &XmlGroup {
    &m.lines
}

fn kind_of<K: DeserializeOwned>(name: &str) -> Option<K> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

/// The date in an `xs:date` or `xs:dateTime`: `YYYY-MM-DD`, then nothing, a time or a zone.
fn iso_date(text: &str) -> Result<Date, String> {
    let day = text.get(..10).unwrap_or(text);
    let rest = text.get(10..).unwrap_or("");
    let well_formed = rest.is_empty() || rest.starts_with(['T', 'Z', '+', '-']);
    if !well_formed {
        return Err(format!(
            "invalid date {text:?}: expected YYYY-MM-DD, optionally with a time or time zone"
        ));
    }
    Date::parse(day).map_err(|e| e.to_string())
}

/// A UN/ECE Recommendation 20 code as UBL and cXML send it: 2–3 upper-case letters or digits.
fn rec20(code: &str) -> Unit {
    let valid = (2..=3).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    Unit {
        code: valid.then(|| code.to_owned()),
        original: code.to_owned(),
    }
}

impl<'m> Cx<'m, '_> {
    fn at(&self, node: u32) -> String {
        let name = self.doc.name(node).map_or("?", |n| n.local.as_str());
        let offset = self.doc.nodes.get(node as usize).map_or(0, |n| n.offset);
        format!("<{name}> at byte {offset}")
    }

    fn problem(&mut self, name: &str, f: &XmlField, node: Option<u32>, reason: impl Into<String>) {
        let segment = node.map(|n| self.at(n));
        self.problems.push(Problem {
            field: name.to_owned(),
            path: f.describe(),
            segment,
            reason: reason.into(),
        });
    }

    fn explain(&mut self, name: &str, rule: &str, node: Option<u32>, value: &str) {
        if self.explained.is_none() {
            return;
        }
        let segment = node.map(|n| self.at(n));
        if let Some(e) = &mut self.explained {
            e.push(Explanation {
                field: name.to_owned(),
                rule: rule.to_owned(),
                segment,
                value: value.to_owned(),
            });
        }
    }

    /// The raw value: a fixed value, else the first path that finds a non-empty value, else
    /// the default; a missing required value is reported.
    fn find(&mut self, name: &str, f: &XmlField, scope: u32, position: usize) -> Option<Found> {
        if let Some(v) = &f.value {
            self.explain(name, "value", None, v);
            return Some(Found {
                text: v.clone(),
                node: None,
            });
        }
        for p in &f.paths {
            let mut found = None;
            each(self.doc, scope, p, &mut |n, v| {
                if v.is_empty() {
                    return false;
                }
                found = Some((n, v.to_owned()));
                true
            });
            if let Some((node, text)) = found {
                self.explain(name, p.as_str(), Some(node), &text);
                return Some(Found {
                    text,
                    node: Some(node),
                });
            }
        }
        if let Some(d) = &f.default {
            let text = d.replace("{position}", &position.to_string());
            self.explain(name, "default", None, &text);
            return Some(Found { text, node: None });
        }
        if f.required {
            self.problem(name, f, None, "missing");
        }
        None
    }

    fn coded(&self, f: &XmlField, code: &str) -> Option<String> {
        f.codes
            .as_ref()
            .and_then(|t| self.mapping.codes.get(t))
            .and_then(|t| t.get(code))
            .cloned()
    }

    fn text(&mut self, name: &str, f: Option<&XmlField>, scope: u32, n: usize) -> Option<String> {
        let f = f?;
        let found = self.find(name, f, scope, n)?;
        Some(self.coded(f, &found.text).unwrap_or(found.text))
    }

    fn kind<K: DeserializeOwned>(
        &mut self,
        name: &str,
        f: Option<&XmlField>,
        scope: u32,
        other: K,
    ) -> Option<(K, String)> {
        let f = f?;
        let found = self.find(name, f, scope, 0)?;
        let kind = self
            .coded(f, &found.text)
            .and_then(|k| kind_of(&k))
            .unwrap_or(other);
        Some((kind, found.text))
    }

    fn date(&mut self, name: &str, f: Option<&XmlField>, scope: u32) -> Option<Date> {
        let f = f?;
        let found = self.find(name, f, scope, 0)?;
        match iso_date(&found.text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.problem(name, f, found.node, e);
                None
            }
        }
    }

    fn decimal(&mut self, name: &str, f: Option<&XmlField>, scope: u32) -> Option<Decimal> {
        let f = f?;
        let found = self.find(name, f, scope, 0)?;
        // xs:decimal has `.` as its only mark; a comma is a sender's mistake, never guessed at.
        if found.text.contains(',') {
            self.problem(
                name,
                f,
                found.node,
                format!("invalid decimal {:?}: XML decimals use '.'", found.text),
            );
            return None;
        }
        match Decimal::parse(&found.text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.problem(name, f, found.node, e.to_string());
                None
            }
        }
    }

    fn unit(&mut self, name: &str, f: Option<&XmlField>, scope: u32, n: usize) -> Option<Unit> {
        let f = f?;
        let u = self.find(name, f, scope, n)?;
        Some(if f.codes.is_some() {
            Unit {
                code: self.coded(f, &u.text),
                original: u.text,
            }
        } else {
            rec20(&u.text)
        })
    }

    fn header(&self, name: &str) -> Option<&'m XmlField> {
        self.mapping.header.get(name)
    }

    // ---- groups ----

    /// The instances of a loop, from the document element.
    fn instances(&self, g: &XmlGroup, scope: u32) -> Vec<u32> {
        elements(self.doc, scope, &g.r#loop)
    }

    fn parties(&mut self, root: u32) -> Vec<Party> {
        let m = self.mapping;
        let mut out = Vec::new();
        for g in &m.parties {
            for inst in self.instances(g, root) {
                let k = out.len() + 1;
                let name = |f: &str| format!("parties[{k}].{f}");
                let Some(role) = g.get("role").and_then(|f| {
                    let r = self.find(&name("role"), f, inst, 0)?;
                    Some(match self.coded(f, &r.text) {
                        Some(n) => PartyRole::from_name(&n),
                        None => PartyRole::from_name(&r.text),
                    })
                }) else {
                    continue;
                };
                let address = Address {
                    lines: g
                        .address_lines
                        .iter()
                        .filter_map(|f| self.text(&name("address_lines"), Some(f), inst, 0))
                        .collect(),
                    city: self.text(&name("city"), g.get("city"), inst, 0),
                    region: self.text(&name("region"), g.get("region"), inst, 0),
                    postal_code: self.text(&name("postal_code"), g.get("postal_code"), inst, 0),
                    country: self.text(&name("country"), g.get("country"), inst, 0),
                };
                let empty = address == Address::default();
                out.push(Party {
                    role,
                    id: self.text(&name("id"), g.get("id"), inst, 0),
                    id_qualifier: self.text(&name("id_qualifier"), g.get("id_qualifier"), inst, 0),
                    name: self.text(&name("name"), g.get("name"), inst, 0),
                    address: (!empty).then_some(address),
                });
            }
        }
        out
    }

    fn references(&mut self, root: u32) -> Vec<Reference> {
        let m = self.mapping;
        let mut out = Vec::new();
        let mut n = 0;
        for g in &m.references {
            for inst in self.instances(g, root) {
                n += 1;
                let q = self.text(
                    &format!("references[{n}].qualifier"),
                    g.get("qualifier"),
                    inst,
                    0,
                );
                let v = self.text(&format!("references[{n}].value"), g.get("value"), inst, 0);
                if let (Some(qualifier), Some(value)) = (q, v)
                    && !g.skip.contains(&qualifier)
                {
                    out.push(Reference { qualifier, value });
                }
            }
        }
        out
    }

    /// Each line instance (with its position from 1) and what `f` makes of it.
    fn lines<T>(
        &mut self,
        scope: u32,
        mut f: impl FnMut(&mut Self, usize, u32) -> Option<T>,
    ) -> Vec<T> {
        let insts = self.instances(&self.mapping.lines, scope);
        insts
            .into_iter()
            .enumerate()
            .filter_map(|(i, inst)| f(self, i + 1, inst))
            .collect()
    }

    fn product(&mut self, n: usize, inst: u32) -> Product {
        let l = lines_of(self.mapping);
        let name = |f: &str| format!("lines[{n}].{f}");
        let gtin = l.get("gtin").and_then(|f| {
            let found = self.find(&name("gtin"), f, inst, n)?;
            match Gtin::parse(&found.text) {
                Ok(g) => Some(g),
                Err(e) => {
                    self.problem(&name("gtin"), f, found.node, e.to_string());
                    None
                }
            }
        });
        Product {
            gtin,
            vendor_sku: self.text(&name("vendor_sku"), l.get("vendor_sku"), inst, n),
            buyer_sku: self.text(&name("buyer_sku"), l.get("buyer_sku"), inst, n),
            description: self.text(&name("description"), l.get("description"), inst, n),
        }
    }

    fn basics(
        &mut self,
        n: usize,
        inst: u32,
    ) -> (Option<String>, Option<Quantity>, Option<Decimal>) {
        let l = lines_of(self.mapping);
        let name = |f: &str| format!("lines[{n}].{f}");
        let line_number = self.text(&name("line_number"), l.get("line_number"), inst, n);
        let value = self.decimal(&name("quantity"), l.get("quantity"), inst);
        let unit = self.unit(&name("unit"), l.get("unit"), inst, n);
        let unit_price = self.decimal(&name("unit_price"), l.get("unit_price"), inst);
        let quantity = match (value, unit) {
            (Some(value), Some(unit)) => Some(Quantity { value, unit }),
            _ => None,
        };
        (line_number, quantity, unit_price)
    }

    fn purpose(&mut self, root: u32) -> Purpose {
        let f = self.mapping.header.get("purpose");
        self.kind("purpose", f, root, PurposeKind::Other).map_or(
            Purpose {
                kind: PurposeKind::Other,
                code: String::new(),
            },
            |(kind, code)| Purpose { kind, code },
        )
    }

    // ---- documents ----

    pub(crate) fn payload(&mut self, root: u32) -> Option<Payload> {
        let m = self.mapping;
        match m.document {
            Document::Order | Document::OrderChange => self.order(root).map(|o| {
                if o.purpose.kind == PurposeKind::Cancel {
                    Payload::OrderCancelled(o)
                } else if m.document == Document::OrderChange {
                    Payload::OrderChanged(o)
                } else {
                    Payload::OrderCreated(o)
                }
            }),
            Document::OrderResponse => self.response(root).map(Payload::OrderResponse),
            Document::ShipmentNotice => self.shipment(root).map(Payload::ShipmentNotice),
            Document::Invoice => self.invoice(root).map(Payload::Invoice),
            // Refused when the file is loaded.
            Document::InventoryReport => None,
        }
    }

    fn order(&mut self, root: u32) -> Option<Order> {
        let order_number = self.text("order_number", self.header("order_number"), root, 0);
        let purpose = self.purpose(root);
        let order_date = self.date("order_date", self.header("order_date"), root);
        let currency = self.text("currency", self.header("currency"), root, 0);
        let requested_delivery_date = self.date(
            "requested_delivery_date",
            self.header("requested_delivery_date"),
            root,
        );
        let parties = self.parties(root);
        let references = self.references(root);
        let lines = self.lines(root, |cx, n, inst| {
            let l = lines_of(cx.mapping);
            let (line_number, quantity, unit_price) = cx.basics(n, inst);
            let product = cx.product(n, inst);
            let requested_delivery_date = cx.date(
                &format!("lines[{n}].requested_delivery_date"),
                l.get("requested_delivery_date"),
                inst,
            );
            let change = cx
                .kind(
                    &format!("lines[{n}].change"),
                    l.get("change"),
                    inst,
                    ChangeKind::Other,
                )
                .map(|(kind, code)| LineChange { kind, code });
            Some(OrderLine {
                line_number: line_number?,
                quantity: quantity?,
                unit_price,
                product,
                requested_delivery_date,
                change,
            })
        });
        Some(Order {
            order_number: order_number?,
            order_date,
            purpose,
            currency,
            requested_delivery_date,
            parties,
            references,
            lines,
        })
    }

    fn response(&mut self, root: u32) -> Option<OrderResponse> {
        let order_number = self.text("order_number", self.header("order_number"), root, 0);
        let purpose = self.purpose(root);
        let status = self
            .kind("status", self.header("status"), root, AckKind::Other)
            .map_or(
                AckStatus {
                    kind: AckKind::Other,
                    code: String::new(),
                },
                |(kind, code)| AckStatus { kind, code },
            );
        let order_date = self.date("order_date", self.header("order_date"), root);
        let response_date = self.date("response_date", self.header("response_date"), root);
        let currency = self.text("currency", self.header("currency"), root, 0);
        let parties = self.parties(root);
        let references = self.references(root);
        let lines = self.lines(root, |cx, n, inst| {
            let l = lines_of(cx.mapping);
            let (line_number, quantity, unit_price) = cx.basics(n, inst);
            // A line without its own status has the response's.
            let line_status = cx
                .kind(
                    &format!("lines[{n}].status"),
                    l.get("status"),
                    inst,
                    AckKind::Other,
                )
                .map_or_else(|| status.clone(), |(kind, code)| AckStatus { kind, code });
            let product = cx.product(n, inst);
            let scheduled_delivery_date = cx.date(
                &format!("lines[{n}].scheduled_delivery_date"),
                l.get("scheduled_delivery_date"),
                inst,
            );
            Some(ResponseLine {
                line_number: line_number?,
                status: line_status,
                quantity: quantity?,
                unit_price,
                product,
                scheduled_delivery_date,
            })
        });
        Some(OrderResponse {
            order_number: order_number?,
            order_date,
            response_date,
            purpose,
            status,
            currency,
            parties,
            references,
            lines,
        })
    }

    fn shipment_line(&mut self, n: usize, inst: u32) -> Option<ShipmentLine> {
        let l = lines_of(self.mapping);
        let (line_number, quantity, _) = self.basics(n, inst);
        let order_number = self.text(
            &format!("lines[{n}].order_number"),
            l.get("order_number"),
            inst,
            n,
        );
        let order_line_number = self.text(
            &format!("lines[{n}].order_line_number"),
            l.get("order_line_number"),
            inst,
            n,
        );
        let product = self.product(n, inst);
        Some(ShipmentLine {
            line_number,
            order_number,
            order_line_number,
            quantity: quantity?,
            product,
        })
    }

    fn shipment(&mut self, root: u32) -> Option<ShipmentNotice> {
        let m = self.mapping;
        let shipment_id = self.text("shipment_id", self.header("shipment_id"), root, 0);
        let ship_date = self.date("ship_date", self.header("ship_date"), root);
        let estimated_delivery_date = self.date(
            "estimated_delivery_date",
            self.header("estimated_delivery_date"),
            root,
        );
        let carrier = Carrier {
            code: self.text("carrier_code", self.header("carrier_code"), root, 0),
            name: self.text("carrier_name", self.header("carrier_name"), root, 0),
            tracking_number: self.text("tracking_number", self.header("tracking_number"), root, 0),
        };
        let carrier =
            (carrier.code.is_some() || carrier.name.is_some() || carrier.tracking_number.is_some())
                .then_some(carrier);
        let mut order_numbers: Vec<String> = Vec::new();
        if let Some(f) = self.header("order_numbers") {
            for p in &f.paths {
                each(self.doc, root, p, &mut |_, v| {
                    if !v.is_empty() && !order_numbers.iter().any(|o| o == v) {
                        order_numbers.push(v.to_owned());
                    }
                    false
                });
            }
            if order_numbers.is_empty()
                && let Some(v) = f.value.clone().or_else(|| f.default.clone())
            {
                order_numbers.push(v);
            }
        }
        let parties = self.parties(root);
        let references = self.references(root);
        // Lines inside each package when the file says where packages are; otherwise all in
        // one package with no id.
        let mut packages = Vec::new();
        let mut n = 0;
        match &m.packages {
            Some(pg) => {
                for (k, pkg) in self.instances(pg, root).into_iter().enumerate() {
                    let id =
                        self.text(&format!("packages[{}].id", k + 1), pg.get("id"), pkg, k + 1);
                    let mut lines = Vec::new();
                    for inst in self.instances(&m.lines, pkg) {
                        n += 1;
                        lines.extend(self.shipment_line(n, inst));
                    }
                    if id.is_some() || !lines.is_empty() {
                        packages.push(Package { id, lines });
                    }
                }
            }
            None => {
                let lines = self.lines(root, |cx, n, inst| cx.shipment_line(n, inst));
                if !lines.is_empty() {
                    packages.push(Package { id: None, lines });
                }
            }
        }
        Some(ShipmentNotice {
            shipment_id: shipment_id?,
            ship_date,
            estimated_delivery_date,
            carrier,
            order_numbers,
            parties,
            references,
            packages,
        })
    }

    fn invoice(&mut self, root: u32) -> Option<Invoice> {
        let invoice_number = self.text("invoice_number", self.header("invoice_number"), root, 0);
        let invoice_date = self.date("invoice_date", self.header("invoice_date"), root);
        let invoice_type = self
            .kind(
                "invoice_type",
                self.header("invoice_type"),
                root,
                InvoiceKind::Other,
            )
            .map(|(kind, code)| InvoiceType { kind, code });
        let order_number = self.text("order_number", self.header("order_number"), root, 0);
        let currency = self.text("currency", self.header("currency"), root, 0);
        let total = self.decimal("total", self.header("total"), root);
        let subtotal = self.decimal("subtotal", self.header("subtotal"), root);
        let tax = self.decimal("tax", self.header("tax"), root);
        let parties = self.parties(root);
        let references = self.references(root);
        let lines = self.lines(root, |cx, n, inst| {
            let (line_number, quantity, unit_price) = cx.basics(n, inst);
            let amount = cx.decimal(
                &format!("lines[{n}].amount"),
                cx.mapping.lines.get("amount"),
                inst,
            );
            let product = cx.product(n, inst);
            Some(InvoiceLine {
                line_number: line_number?,
                quantity: quantity?,
                unit_price: unit_price?,
                amount,
                product,
            })
        });
        Some(Invoice {
            invoice_number: invoice_number?,
            invoice_date: invoice_date?,
            invoice_type,
            order_number,
            currency,
            parties,
            references,
            lines,
            totals: InvoiceTotals {
                total: total?,
                subtotal,
                tax,
            },
        })
    }

    /// A source field, empty when the mapping does not say or the document has none.
    pub(crate) fn source(&mut self, name: &str, root: u32) -> Option<String> {
        let f = self.mapping.source.get(name)?;
        let found = self.find(&format!("source.{name}"), f, root, 0)?;
        Some(found.text)
    }
}

#[cfg(test)]
mod tests {
    use super::{iso_date, rec20};

    #[test]
    fn dates_are_the_date_part_of_xs_date_and_datetime() {
        for ok in [
            "2024-03-01",
            "2024-03-01Z",
            "2024-03-01+01:00",
            "2024-03-01T12:00:00-08:00",
        ] {
            assert_eq!(
                iso_date(ok).map(|d| d.to_string()),
                Ok("2024-03-01".into()),
                "{ok}"
            );
        }
        for bad in ["20240301", "2024-02-30", "2024-03-01 12:00", "", "2024-3-1"] {
            assert!(iso_date(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn units_are_rec20_codes_as_sent() {
        assert_eq!(rec20("H87").code.as_deref(), Some("H87"));
        assert_eq!(rec20("EA").code.as_deref(), Some("EA"));
        assert_eq!(rec20("each").code, None);
        assert_eq!(rec20("each").original, "each");
    }
}
