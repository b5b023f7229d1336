//! Canonical events: the value types hold only valid values, events serialise to the documented
//! JSON and back, ids are deterministic, every example validates against the generated schema,
//! and the checked-in schema (`specs/canonical/event.schema.json`) matches the types.
//!
//! After changing the event types, regenerate the published schema with
//! `EDIGATE_WRITE_SCHEMA=1 cargo test -p edigate-tests --test integration events`.

use edigate_tests::workspace_root;
use events::documents::{
    AckStatus, Carrier, InventoryItem, InventoryQuantity, InvoiceLine, InvoiceTotals, OrderLine,
    Package, Product, Purpose, QuantityKind, ResponseLine, ShipmentLine,
};
use events::{
    Address, Date, Decimal, Event, EventId, EventType, Gtin, InventoryReport, Invoice, Order,
    OrderResponse, Party, PartyRole, Payload, Quantity, Reference, ShipmentNotice, Source,
    Standard, Unit, ValueError,
};
use serde_json::{Value, json};

const SCHEMA_PATH: &str = "specs/canonical/event.schema.json";

fn dec(text: &str) -> Decimal {
    Decimal::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

fn date(text: &str) -> Date {
    Date::from_ccyymmdd(text).unwrap_or_else(|e| panic!("{e}"))
}

fn gtin(text: &str) -> Gtin {
    Gtin::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

fn x12_source(message: &str) -> Source {
    Source {
        standard: Standard::X12,
        version: "004010".into(),
        message: message.into(),
        sender: "ACMEFOODS".into(),
        receiver: "SHOPCO".into(),
        interchange_control: "000000123".into(),
        group_control: Some("123".into()),
        message_control: "0001".into(),
    }
}

fn edifact_source(message: &str) -> Source {
    Source {
        standard: Standard::Edifact,
        version: "D96A".into(),
        message: message.into(),
        sender: "4012345000009".into(),
        receiver: "5412345000013".into(),
        interchange_control: "42".into(),
        group_control: None,
        message_control: "1".into(),
    }
}

fn buyer() -> Party {
    Party {
        role: PartyRole::from_x12("BY"),
        id: Some("0012345000010".into()),
        id_qualifier: Some("UL".into()),
        name: Some("Shop Co".into()),
        address: Some(Address {
            lines: vec!["1 Main St".into()],
            city: Some("Springfield".into()),
            region: Some("IL".into()),
            postal_code: Some("62701".into()),
            country: Some("US".into()),
        }),
    }
}

fn product() -> Product {
    Product {
        gtin: Some(gtin("4000862141404")),
        vendor_sku: Some("V-100".into()),
        buyer_sku: Some("B-7".into()),
        description: Some("Mineral water 12x1l".into()),
    }
}

fn order() -> Order {
    Order {
        order_number: "PO-4711".into(),
        order_date: Some(date("20240229")),
        purpose: Purpose::from_x12("00"),
        currency: Some("USD".into()),
        requested_delivery_date: Some(date("20240307")),
        parties: vec![
            buyer(),
            Party {
                role: PartyRole::from_x12("ST"),
                id: Some("0012345000027".into()),
                id_qualifier: Some("UL".into()),
                name: None,
                address: None,
            },
        ],
        references: vec![Reference {
            qualifier: "IA".into(),
            value: "998877".into(),
        }],
        lines: vec![OrderLine {
            line_number: "1".into(),
            quantity: Quantity {
                value: dec("12.50"),
                unit: Unit::from_x12("CA"),
            },
            unit_price: Some(dec("3.10")),
            product: product(),
            requested_delivery_date: None,
            change: None,
        }],
    }
}

fn order_event() -> Event {
    Event::new("acme", x12_source("850"), 0, Payload::OrderCreated(order()))
}

/// One event of every type.
fn examples() -> Vec<Event> {
    let qty = |v: &str, unit: Unit| Quantity {
        value: dec(v),
        unit,
    };
    let changed = Order {
        purpose: Purpose::from_x12("04"),
        ..order()
    };
    let cancelled = Order {
        purpose: Purpose::from_edifact("1"),
        lines: vec![],
        ..order()
    };
    let response = OrderResponse {
        order_number: "PO-4711".into(),
        order_date: Some(date("20240229")),
        response_date: Some(date("20240301")),
        purpose: Purpose::from_x12("00"),
        status: AckStatus::from_x12_order("AC"),
        currency: Some("USD".into()),
        parties: vec![buyer()],
        references: vec![],
        lines: vec![ResponseLine {
            line_number: "1".into(),
            status: AckStatus::from_x12_line("IB"),
            quantity: qty("10", Unit::from_x12("CA")),
            unit_price: Some(dec("3.10")),
            product: product(),
            scheduled_delivery_date: Some(date("20240310")),
        }],
    };
    let shipment = ShipmentNotice {
        shipment_id: "SH-1".into(),
        ship_date: Some(date("20240305")),
        estimated_delivery_date: Some(date("20240307")),
        carrier: Some(Carrier {
            code: Some("UPSN".into()),
            name: None,
            tracking_number: Some("1Z999".into()),
        }),
        order_numbers: vec!["PO-4711".into()],
        parties: vec![],
        references: vec![],
        packages: vec![Package {
            id: Some("00340123450000000018".into()),
            lines: vec![ShipmentLine {
                line_number: Some("1".into()),
                order_number: Some("PO-4711".into()),
                order_line_number: Some("1".into()),
                quantity: qty("10", Unit::from_edifact("PCE")),
                product: product(),
            }],
        }],
    };
    let invoice = Invoice {
        invoice_number: "INV-9".into(),
        invoice_date: Date::from_edifact("203", "202403081530").unwrap_or_else(|e| panic!("{e}")),
        invoice_type: None,
        order_number: Some("PO-4711".into()),
        currency: Some("EUR".into()),
        parties: vec![],
        references: vec![],
        lines: vec![InvoiceLine {
            line_number: "1".into(),
            quantity: qty("10", Unit::from_edifact("PCE")),
            unit_price: dec("3.10"),
            amount: Some(dec("31.00")),
            product: Product::default(),
        }],
        totals: InvoiceTotals {
            total: dec("36.89"),
            subtotal: Some(dec("31.00")),
            tax: Some(dec("5.89")),
        },
    };
    let inventory = InventoryReport {
        report_date: Date::from_yymmdd("240310").unwrap_or_else(|e| panic!("{e}")),
        location: Some(Party {
            role: PartyRole::from_name("warehouse"),
            id: Some("WH1".into()),
            id_qualifier: None,
            name: None,
            address: None,
        }),
        items: vec![InventoryItem {
            product: product(),
            quantities: vec![
                InventoryQuantity {
                    kind: QuantityKind::OnHand,
                    code: "33".into(),
                    value: dec("120"),
                    unit: Unit::from_x12("EA"),
                },
                InventoryQuantity {
                    kind: QuantityKind::Other,
                    code: "ZZ".into(),
                    value: dec("-3"),
                    unit: Unit::from_x12("XX"),
                },
            ],
        }],
    };
    vec![
        order_event(),
        Event::new("acme", x12_source("860"), 1, Payload::OrderChanged(changed)),
        Event::new(
            "metro",
            edifact_source("ORDERS"),
            0,
            Payload::OrderCancelled(cancelled),
        ),
        Event::new(
            "acme",
            x12_source("855"),
            0,
            Payload::OrderResponse(response),
        ),
        Event::new(
            "metro",
            edifact_source("DESADV"),
            0,
            Payload::ShipmentNotice(shipment),
        ),
        Event::new(
            "metro",
            edifact_source("INVOIC"),
            0,
            Payload::Invoice(invoice),
        ),
        Event::new(
            "acme",
            x12_source("846"),
            0,
            Payload::InventoryReport(inventory),
        ),
    ]
}

#[test]
fn decimal_keeps_exact_text() {
    assert_eq!(dec("12.50").as_str(), "12.50");
    assert_eq!(dec("0,10").as_str(), "0.10");
    for bad in ["1.2.3", "abc", "", "1e3", "12.5 "] {
        let err = Decimal::parse(bad).err();
        assert!(
            matches!(err, Some(ValueError::Decimal { .. })),
            "{bad:?}: {err:?}"
        );
    }
    assert_eq!(
        serde_json::to_string(&dec("12.50")).ok().as_deref(),
        Some("\"12.50\"")
    );
    // A JSON number is refused: amounts never pass through a float.
    assert!(serde_json::from_str::<Decimal>("12.5").is_err());
}

#[test]
fn gtin_is_normalised_and_checked() {
    assert_eq!(gtin("4000862141404").as_str(), "04000862141404");
    assert_eq!(gtin("036000291452").as_str(), "00036000291452");
    assert_eq!(gtin("04000862141404").as_str(), "04000862141404");
    let err = Gtin::parse("4000862141403").err();
    assert_eq!(
        err,
        Some(ValueError::GtinCheckDigit {
            text: "4000862141403".into(),
            expected: 4,
            found: 3
        })
    );
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some("invalid GTIN \"4000862141403\": check digit is 3, expected 4")
    );
    assert!(Gtin::parse("12345").is_err());
    assert!(serde_json::from_str::<Gtin>("\"4000862141403\"").is_err());
}

#[test]
fn dates_are_real_and_iso() {
    assert_eq!(date("20240229").to_string(), "2024-02-29");
    assert!(matches!(
        Date::from_ccyymmdd("20230229"),
        Err(ValueError::Date { .. })
    ));
    let yymmdd = Date::from_yymmdd("240115").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(yymmdd.to_string(), "2024-01-15");
    assert_eq!(
        Date::from_edifact("102", "20240115").ok(),
        Some(yymmdd),
        "format 102 is CCYYMMDD"
    );
    assert_eq!(Date::from_edifact("101", "240115").ok(), Some(yymmdd));
    assert_eq!(serde_json::to_value(yymmdd).ok(), Some(json!("2024-01-15")));
}

#[test]
fn order_event_serialises_to_the_documented_shape() {
    let event = order_event();
    let value = serde_json::to_value(&event).unwrap_or_else(|e| panic!("{e}"));
    let expected = json!({
        // Pinned: changing the id recipe would make every re-sent message look new.
        "id": "evt_0c3d3d15b8d8510cfc04b5e72ad31e4e",
        "type": "order.created",
        "partner": "acme",
        "schema_version": "1",
        "source": {
            "standard": "x12",
            "version": "004010",
            "message": "850",
            "sender": "ACMEFOODS",
            "receiver": "SHOPCO",
            "interchange_control": "000000123",
            "group_control": "123",
            "message_control": "0001"
        },
        "data": {
            "order_number": "PO-4711",
            "order_date": "2024-02-29",
            "purpose": { "kind": "original", "code": "00" },
            "currency": "USD",
            "requested_delivery_date": "2024-03-07",
            "parties": [
                {
                    "role": "buyer",
                    "id": "0012345000010",
                    "id_qualifier": "UL",
                    "name": "Shop Co",
                    "address": {
                        "lines": ["1 Main St"],
                        "city": "Springfield",
                        "region": "IL",
                        "postal_code": "62701",
                        "country": "US"
                    }
                },
                {
                    "role": "ship_to",
                    "id": "0012345000027",
                    "id_qualifier": "UL",
                    "name": null,
                    "address": null
                }
            ],
            "references": [{ "qualifier": "IA", "value": "998877" }],
            "lines": [{
                "line_number": "1",
                "quantity": { "value": "12.50", "unit": { "code": "CS", "original": "CA" } },
                "unit_price": "3.10",
                "product": {
                    "gtin": "04000862141404",
                    "vendor_sku": "V-100",
                    "buyer_sku": "B-7",
                    "description": "Mineral water 12x1l"
                },
                "requested_delivery_date": null,
                "change": null
            }]
        }
    });
    assert_eq!(value, expected);
    let keys: Vec<&str> = value
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        ["id", "type", "partner", "schema_version", "source", "data"]
    );
    let back: Event = serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, event);
    assert_eq!(back.event_type(), EventType::OrderCreated);
}

#[test]
fn every_example_round_trips_and_has_no_floats() {
    let examples = examples();
    let types: Vec<EventType> = examples.iter().map(Event::event_type).collect();
    assert_eq!(types, EventType::ALL);
    for event in examples {
        let text = serde_json::to_string(&event).unwrap_or_else(|e| panic!("{e}"));
        let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(value["type"], event.event_type().as_str());
        assert_no_numbers(&value, "$");
        let back: Event = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(back, event);
    }
}

fn assert_no_numbers(value: &Value, path: &str) {
    match value {
        Value::Number(n) => panic!("{path}: number {n} in an event; decimals must be strings"),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                assert_no_numbers(v, &format!("{path}[{i}]"));
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                assert_no_numbers(v, &format!("{path}.{k}"));
            }
        }
        _ => {}
    }
}

#[test]
fn a_wrong_type_and_data_pairing_is_refused() {
    let mut value = serde_json::to_value(order_event()).unwrap_or_else(|e| panic!("{e}"));
    value["type"] = json!("invoice");
    assert!(serde_json::from_value::<Event>(value.clone()).is_err());
    let schema = generated_schema();
    assert!(!check(&value, &schema, &schema, "$").is_empty());

    let mut value = serde_json::to_value(order_event()).unwrap_or_else(|e| panic!("{e}"));
    value["schema_version"] = json!("2");
    assert!(serde_json::from_value::<Event>(value).is_err());
}

#[test]
fn event_id_is_deterministic_and_uses_every_input() {
    let base = ("acme", "000000123", Some("123"), "0001", 0);
    let id = |(p, i, g, m, pos): (&str, &str, Option<&str>, &str, u32)| {
        EventId::from_parts(p, i, g, m, pos)
    };
    let first = id(base);
    assert_eq!(first, id(base), "same inputs, same id");
    assert_eq!(first, *order_event().id(), "Event::new derives the same id");
    assert_eq!(first, EventId::derive("acme", &x12_source("850"), 0));
    // Standard, version and message type are not inputs: a re-send is the same message.
    assert_eq!(first, EventId::derive("acme", &x12_source("999"), 0));
    let variants = [
        ("metro", "000000123", Some("123"), "0001", 0),
        ("acme", "000000124", Some("123"), "0001", 0),
        ("acme", "000000123", Some("124"), "0001", 0),
        ("acme", "000000123", None, "0001", 0),
        ("acme", "000000123", Some("123"), "0002", 0),
        ("acme", "000000123", Some("123"), "0001", 1),
    ];
    for v in variants {
        assert_ne!(first, id(v), "{v:?} must change the id");
    }
    assert!(first.as_str().starts_with("evt_"));
}

fn generated_schema() -> Value {
    serde_json::to_value(events::schema()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_example_validates_against_the_schema() {
    let schema = generated_schema();
    for event in examples() {
        let value = serde_json::to_value(&event).unwrap_or_else(|e| panic!("{e}"));
        let errors = check(&value, &schema, &schema, "$");
        assert!(errors.is_empty(), "{}: {errors:#?}", event.event_type());
    }
    // And the walker does refuse things: a float amount, a missing field, a short GTIN.
    let good = serde_json::to_value(order_event()).unwrap_or_else(|e| panic!("{e}"));
    let mut bad = good.clone();
    bad["data"]["lines"][0]["unit_price"] = json!(3.1);
    assert!(!check(&bad, &schema, &schema, "$").is_empty());
    let mut bad = good.clone();
    if let Some(data) = bad["data"].as_object_mut() {
        data.remove("order_number");
    }
    assert!(!check(&bad, &schema, &schema, "$").is_empty());
    let mut bad = good;
    bad["data"]["lines"][0]["product"]["gtin"] = json!("4000862141404");
    assert!(!check(&bad, &schema, &schema, "$").is_empty());
}

#[test]
fn published_schema_matches_the_types() {
    let path = workspace_root().join(SCHEMA_PATH);
    let fresh =
        serde_json::to_string_pretty(&events::schema()).unwrap_or_else(|e| panic!("{e}")) + "\n";
    if std::env::var_os("EDIGATE_WRITE_SCHEMA").is_some_and(|v| v == "1") {
        std::fs::write(&path, &fresh).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    let published = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        published == fresh,
        "{SCHEMA_PATH} is out of date with crates/events; regenerate it with \
         `EDIGATE_WRITE_SCHEMA=1 cargo test -p edigate-tests --test integration events` \
         and review the diff (a breaking change also needs a new SCHEMA_VERSION)"
    );
}

/// A small JSON Schema checker for the subset schemars emits. It refuses any keyword it does
/// not know, so a schema change cannot silently go unchecked; patterns are checked by the
/// predicates in [`pattern_matches`], which name every pattern the types use.
fn check(value: &Value, schema: &Value, root: &Value, path: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let Some(obj) = schema.as_object() else {
        if schema == &Value::Bool(false) {
            errors.push(format!("{path}: schema is false"));
        }
        return errors;
    };
    for (keyword, arg) in obj {
        match keyword.as_str() {
            "$schema" | "$defs" | "title" | "description" | "examples" | "format" => {}
            "$ref" => {
                let name = arg
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    .unwrap_or_else(|| panic!("unsupported $ref {arg}"));
                let target = &root["$defs"][name];
                assert!(!target.is_null(), "dangling $ref {name}");
                errors.extend(check(value, target, root, path));
            }
            "type" => {
                let types: Vec<&str> = match arg {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                    _ => panic!("bad type {arg}"),
                };
                let actual = match value {
                    Value::Null => "null",
                    Value::Bool(_) => "boolean",
                    Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
                    Value::Number(_) => "number",
                    Value::String(_) => "string",
                    Value::Array(_) => "array",
                    Value::Object(_) => "object",
                };
                let ok =
                    types.contains(&actual) || (actual == "integer" && types.contains(&"number"));
                if !ok {
                    errors.push(format!("{path}: {actual}, expected {types:?}"));
                }
            }
            "const" if value != arg => errors.push(format!("{path}: {value}, expected {arg}")),
            "const" => {}
            "enum" => {
                if !arg.as_array().is_some_and(|a| a.contains(value)) {
                    errors.push(format!("{path}: {value} not in {arg}"));
                }
            }
            "required" => {
                if let Value::Object(map) = value {
                    for field in arg
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        if !map.contains_key(field) {
                            errors.push(format!("{path}: missing {field}"));
                        }
                    }
                }
            }
            "properties" => {
                if let (Value::Object(map), Some(props)) = (value, arg.as_object()) {
                    for (field, sub) in props {
                        if let Some(v) = map.get(field) {
                            errors.extend(check(v, sub, root, &format!("{path}.{field}")));
                        }
                    }
                }
            }
            "items" => {
                if let Value::Array(items) = value {
                    for (i, v) in items.iter().enumerate() {
                        errors.extend(check(v, arg, root, &format!("{path}[{i}]")));
                    }
                }
            }
            "anyOf" | "oneOf" => {
                let branches = arg.as_array().map(Vec::as_slice).unwrap_or_default();
                let passing = branches
                    .iter()
                    .filter(|b| check(value, b, root, path).is_empty())
                    .count();
                let ok = if keyword == "oneOf" {
                    passing == 1
                } else {
                    passing >= 1
                };
                if !ok {
                    errors.push(format!("{path}: {passing} of {keyword} branches match"));
                }
            }
            "pattern" => {
                if let (Value::String(s), Some(p)) = (value, arg.as_str())
                    && !pattern_matches(p, s)
                {
                    errors.push(format!("{path}: {s:?} does not match {p}"));
                }
            }
            "minLength" => {
                let min = arg.as_u64().unwrap_or(0) as usize;
                if let Value::String(s) = value
                    && s.chars().count() < min
                {
                    errors.push(format!("{path}: shorter than {min}"));
                }
            }
            other => panic!("the test's schema checker does not know {other:?}; teach it"),
        }
    }
    errors
}

fn pattern_matches(pattern: &str, s: &str) -> bool {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    match pattern {
        "^-?[0-9]+(\\.[0-9]+)?$" => {
            let t = s.strip_prefix('-').unwrap_or(s);
            match t.split_once('.') {
                Some((i, f)) => digits(i) && digits(f),
                None => digits(t),
            }
        }
        "^[0-9]{4}-[0-9]{2}-[0-9]{2}$" => {
            let b = s.as_bytes();
            b.len() == 10
                && b[4] == b'-'
                && b[7] == b'-'
                && digits(&s[..4])
                && digits(&s[5..7])
                && digits(&s[8..])
        }
        "^[0-9]{14}$" => s.len() == 14 && digits(s),
        "^evt_[0-9a-f]{32}$" => s.strip_prefix("evt_").is_some_and(|h| {
            h.len() == 32
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }),
        other => panic!("the test's schema checker does not know pattern {other:?}; teach it"),
    }
}
