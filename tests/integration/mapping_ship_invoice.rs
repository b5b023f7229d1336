//! Order changes (X12 860, EDIFACT ORDCHG), shipment notices (X12 856, EDIFACT DESADV) and
//! invoices (X12 810, EDIFACT INVOIC): the business fixtures (`fixtures/business/`) validate clean
//! against the specs and translate field by field into events that validate against the published
//! schema; the same document sent in both syntaxes gives the same data; the hierarchical-level,
//! package and implied-decimal rules of the mapping language; and every such message of the
//! shared corpus translates or is reported field by field.

use std::sync::OnceLock;

use edigate_tests::{files_in, fixtures, shared_corpus, workspace_root};
use events::documents::{ChangeKind, InvoiceKind};
use events::{Event, EventType, Payload};
use mapping::{MappingError, Mappings};
use serde_json::{Value, json};

use crate::mapping::assert_valid_event;

// ---- helpers ----

fn defaults() -> &'static Mappings {
    static M: OnceLock<Mappings> = OnceLock::new();
    M.get_or_init(|| Mappings::load(&workspace_root().join("mappings")).expect("mappings/ loads"))
}

fn specs() -> &'static validate::Specs {
    static S: OnceLock<validate::Specs> = OnceLock::new();
    S.get_or_init(|| validate::Specs::load(&workspace_root().join("specs")).expect("specs/ loads"))
}

fn business(name: &str) -> Vec<u8> {
    let p = fixtures().join("business").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every message of every interchange in `bytes`, translated with `mappings`.
fn translate_with(bytes: &[u8], mappings: &Mappings) -> Vec<Result<Event, MappingError>> {
    let ics = edi::Parser::new()
        .lenient(true)
        .parse(bytes)
        .unwrap_or_else(|e| panic!("does not parse: {e}"));
    ics.iter()
        .flat_map(|ic| mapping::translate(ic, "nordwind", mappings))
        .collect()
}

/// The events of `bytes` with the default mappings, each checked against the published schema.
fn events_of(bytes: &[u8]) -> Vec<Event> {
    translate_with(bytes, defaults())
        .into_iter()
        .map(|r| {
            let event = r.unwrap_or_else(|e| panic!("translation failed: {e}"));
            assert_valid_event(&event);
            event
        })
        .collect()
}

fn one_event(bytes: &[u8]) -> Event {
    let mut v = events_of(bytes);
    assert_eq!(v.len(), 1, "one message expected");
    v.remove(0)
}

fn data(event: &Event) -> Value {
    serde_json::to_value(event).expect("serialises")["data"].clone()
}

fn errors_of(bytes: &[u8]) -> Vec<String> {
    translate_with(bytes, defaults())
        .into_iter()
        .flat_map(|r| match r {
            Ok(_) => Vec::new(),
            Err(e) => e.problems.iter().map(ToString::to_string).collect(),
        })
        .collect()
}

/// An X12 interchange (005010) holding one transaction set `kind` with `body` (segments ending
/// in `~`), in a group with functional id `group`.
fn x12(group: &str, kind: &str, body: &str) -> Vec<u8> {
    let count = body.matches('~').count() + 2;
    format!(
        "ISA*00*          *00*          *ZZ*PENSUPPLIES    *ZZ*NORDWIND       *240305*1430*^*00501*000000900*0*P*>~\
         GS*{group}*PENSUPPLIES*NORDWIND*20240305*1430*900*X*005010~\
         ST*{kind}*0001~{body}SE*{count}*0001~GE*1*900~IEA*1*000000900~"
    )
    .into_bytes()
}

/// An EDIFACT interchange with one message `kind` (`INVOIC:D:96A:UN`) and `body`.
fn edifact(kind: &str, body: &str) -> Vec<u8> {
    let count = body.matches('\'').count() + 2;
    format!(
        "UNA:+.? 'UNB+UNOC:3+4012345000023:14+4012345000009:14+240308:1000+900'\
         UNH+1+{kind}'{body}UNT+{count}+1'UNZ+1+900'"
    )
    .into_bytes()
}

/// A default mapping file's text, changed by `edit` (which must change something), loaded alone.
fn load_edited(file: &str, edit: impl Fn(&str) -> String) -> Result<Mappings, String> {
    let text = std::fs::read_to_string(workspace_root().join("mappings").join(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let edited = edit(&text);
    assert_ne!(edited, text, "the edit of {file} changed nothing");
    let mut m = Mappings::default();
    m.add_toml(std::path::Path::new("edited.toml"), &edited)
        .map(|()| m)
        .map_err(|e| e.to_string())
}

// ---- the fixtures ----

const FIXTURES: [&str; 8] = [
    "edifact_desadv_d01b.edi",
    "edifact_invoic_d96a.edi",
    "edifact_ordchg_d96a.edi",
    "edifact_ordrsp_d96a.edi",
    "x12_810_004010.x12",
    "x12_855_004010.x12",
    "x12_856_005010.x12",
    "x12_860_004010.x12",
];

#[test]
fn business_fixtures_validate_clean_and_are_listed() {
    let found: Vec<String> = files_in(&fixtures().join("business"))
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    assert_eq!(
        found, FIXTURES,
        "fixtures/business/ changed: update FIXTURES"
    );
    let readme = std::fs::read_to_string(fixtures().join("README.md")).expect("README.md");
    for name in FIXTURES {
        assert!(
            readme.contains(&format!("`business/{name}`")),
            "business/{name} is not listed in fixtures/README.md"
        );
        let bytes = business(name);
        let ics = edi::Parser::new()
            .parse(&bytes)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for ic in &ics {
            let report = validate::validate(ic, specs());
            assert!(report.is_clean(), "{name}: {report:#?}");
            for m in report.all_messages() {
                assert!(
                    m.errors.is_empty() && m.segments.is_empty(),
                    "{name}: {m:#?}"
                );
            }
        }
    }
}

#[test]
fn each_fixture_reads_the_same_in_the_other_covered_version() {
    // The mappings cover two versions of each message with one file; the segments they read
    // mean the same in both, so moving a fixture to the other version changes nothing but the
    // source — and it still validates clean there.
    for (name, from, to) in [
        ("x12_860_004010.x12", "*X*004010~", "*X*005010~"),
        ("x12_856_005010.x12", "*X*005010~", "*X*004010~"),
        ("x12_810_004010.x12", "*X*004010~", "*X*005010~"),
        ("edifact_ordchg_d96a.edi", ":D:96A:", ":D:01B:"),
        ("edifact_desadv_d01b.edi", ":D:01B:", ":D:96A:"),
        ("edifact_invoic_d96a.edi", ":D:96A:", ":D:01B:"),
    ] {
        let text = String::from_utf8(business(name)).expect("utf-8");
        assert!(text.contains(from), "{name}");
        let moved = text.replace(from, to);
        for ic in &edi::Parser::new().parse(moved.as_bytes()).expect("parses") {
            let report = validate::validate(ic, specs());
            assert!(report.is_clean(), "{name} as {to}: {report:#?}");
        }
        let before = events_of(text.as_bytes());
        let after = events_of(moved.as_bytes());
        assert_eq!(before.len(), after.len(), "{name}");
        for (b, a) in before.iter().zip(&after) {
            assert_eq!(data(a), data(b), "{name} as {to}");
            assert_ne!(a.source().version, b.source().version);
        }
    }
}

// ---- shipment notices ----

/// The shipment of `x12_856_005010.x12` as the event data: two orders, one carton each, the
/// second carton holding two items.
fn x12_shipment() -> Value {
    json!({
        "shipment_id": "SHP-20240305-01",
        "ship_date": "2024-03-05",
        "estimated_delivery_date": "2024-03-07",
        "carrier": {"code": "DHLC", "name": "DHL Freight", "tracking_number": "JJD0001234567"},
        "order_numbers": ["PO-4711", "PO-4712"],
        "parties": [
            {"role": "ship_from", "id": "4012345000023", "id_qualifier": "UL",
             "name": "Pen Supplies AG",
             "address": {"lines": ["Industriestrasse 7"], "city": "Stuttgart", "region": null,
                         "postal_code": "70173", "country": "DE"}},
            {"role": "ship_to", "id": "4012345000016", "id_qualifier": "UL",
             "name": "Central Warehouse",
             "address": {"lines": ["Lagerweg 5"], "city": "Hamburg", "region": null,
                         "postal_code": "20095", "country": "DE"}}
        ],
        "references": [
            {"qualifier": "BM", "value": "BOL-778899"},
            {"qualifier": "CN", "value": "JJD0001234567"}
        ],
        "packages": [
            {"id": "340123450000000017", "lines": [
                {"line_number": null, "order_number": "PO-4711", "order_line_number": "1",
                 "quantity": {"value": "12", "unit": {"code": "EA", "original": "EA"}},
                 "product": {"gtin": "04006381333931", "vendor_sku": "SKU-1", "buyer_sku": null,
                             "description": "Blue pen"}}
            ]},
            {"id": "340123450000000024", "lines": [
                {"line_number": null, "order_number": "PO-4712", "order_line_number": "1",
                 "quantity": {"value": "24", "unit": {"code": "H87", "original": "PC"}},
                 "product": {"gtin": "04012345678901", "vendor_sku": "SKU-2", "buyer_sku": null,
                             "description": null}},
                {"line_number": null, "order_number": "PO-4712", "order_line_number": "2",
                 "quantity": {"value": "7.50", "unit": {"code": "KGM", "original": "KG"}},
                 "product": {"gtin": "04000862141404", "vendor_sku": "SKU-3", "buyer_sku": null,
                             "description": "Printer paper"}}
            ]}
        ]
    })
}

/// Shipment data without what only one syntax carries or codes its own way: id qualifiers,
/// original units, and line numbers (DESADV numbers its own lines; an 856 has none, its LIN01 is
/// the order's line).
fn shipment_without_partner_codes(mut d: Value) -> Value {
    for p in d["parties"].as_array_mut().expect("parties") {
        p["id_qualifier"] = Value::Null;
    }
    for pk in d["packages"].as_array_mut().expect("packages") {
        for l in pk["lines"].as_array_mut().expect("lines") {
            l["quantity"]["unit"]["original"] = Value::Null;
            l["line_number"] = Value::Null;
        }
    }
    d
}

#[test]
fn x12_856_translates_field_by_field() {
    let event = one_event(&business("x12_856_005010.x12"));
    assert_eq!(event.event_type(), EventType::ShipmentNotice);
    assert_eq!(event.partner(), "nordwind");
    assert_eq!(event.source().message, "856");
    assert_eq!(event.source().version, "005010");
    assert_eq!(event.source().group_control.as_deref(), Some("815"));
    assert_eq!(event.source().message_control, "0001");
    assert_eq!(data(&event), x12_shipment());
    // The typed view: the second carton's SSCC and its exact decimal quantity.
    let Payload::ShipmentNotice(s) = event.payload() else {
        panic!("not a shipment notice");
    };
    assert_eq!(s.packages.len(), 2);
    assert_eq!(s.packages[1].id.as_deref(), Some("340123450000000024"));
    assert_eq!(s.packages[1].lines[1].quantity.value.as_str(), "7.50");
}

#[test]
fn the_same_shipment_in_x12_and_desadv_gives_the_same_data() {
    let x = one_event(&business("x12_856_005010.x12"));
    let e = one_event(&business("edifact_desadv_d01b.edi"));
    assert_eq!(e.event_type(), EventType::ShipmentNotice);
    assert_eq!(e.source().message, "DESADV");
    assert_eq!(e.source().version, "D01B");
    assert_eq!(e.source().group_control, None);
    let (xd, ed) = (data(&x), data(&e));
    assert_eq!(
        shipment_without_partner_codes(ed.clone()),
        shipment_without_partner_codes(xd)
    );
    // What the DESADV codes its own way, kept as sent.
    assert_eq!(ed["parties"][0]["id_qualifier"], "9");
    let lines = |d: &Value| -> Vec<Value> {
        d["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .flat_map(|p| p["lines"].as_array().expect("lines").clone())
            .collect()
    };
    let el = lines(&ed);
    assert_eq!(
        el.iter()
            .map(|l| l["line_number"].clone())
            .collect::<Vec<_>>(),
        [json!("1"), json!("2"), json!("3")]
    );
    assert_eq!(
        el[1]["quantity"]["unit"],
        json!({"code": "H87", "original": "PCE"})
    );
    assert_eq!(
        el[2]["quantity"]["unit"],
        json!({"code": "KGM", "original": "KGM"})
    );
}

/// An 856 body: a shipment level with `rest` below it.
fn shipment_body(rest: &str) -> String {
    format!("BSN*00*SHP-9*20240305*1430*0001~HL*1**S~TD5**2*DHLC~DTM*011*20240305~{rest}CTT*9~")
}

#[test]
fn items_go_into_the_nearest_marked_pack_and_loose_items_share_one_package() {
    // A pallet (T) holding a carton (P) with an item, and a second order whose item is not
    // packed at all.
    let body = shipment_body(
        "HL*2*1*O~PRF*PO-1~\
         HL*3*2*T~MAN*GM*340123450000000031~\
         HL*4*3*P~MAN*GM*340123450000000017~\
         HL*5*4*I~LIN*1*EN*4006381333931~SN1**2*EA~\
         HL*6*1*O~PRF*PO-2~\
         HL*7*6*I~LIN*7*EN*4012345678901~SN1**5*EA~",
    );
    let event = one_event(&x12("SH", "856", &body));
    let d = data(&event);
    assert_eq!(d["order_numbers"], json!(["PO-1", "PO-2"]));
    let packages = d["packages"].as_array().expect("packages");
    let ids: Vec<&Value> = packages.iter().map(|p| &p["id"]).collect();
    assert_eq!(
        ids,
        [
            &json!("340123450000000031"),
            &json!("340123450000000017"),
            &Value::Null
        ]
    );
    // The pallet is listed without lines: its goods are in the carton.
    assert_eq!(packages[0]["lines"], json!([]));
    assert_eq!(packages[1]["lines"][0]["order_number"], "PO-1");
    assert_eq!(packages[2]["lines"][0]["order_number"], "PO-2");
    assert_eq!(packages[2]["lines"][0]["order_line_number"], "7");
    assert_eq!(packages[2]["lines"][0]["quantity"]["value"], "5");
}

#[test]
fn packs_without_a_marking_are_packages_of_their_own() {
    let body = shipment_body(
        "HL*2*1*O~PRF*PO-1~\
         HL*3*2*P~HL*4*3*I~LIN*1*EN*4006381333931~SN1**2*EA~\
         HL*5*2*P~HL*6*5*I~LIN*2*EN*4012345678901~SN1**3*EA~",
    );
    let d = data(&one_event(&x12("SH", "856", &body)));
    let packages = d["packages"].as_array().expect("packages");
    assert_eq!(packages.len(), 2, "{d:#}");
    for (p, qty) in packages.iter().zip(["2", "3"]) {
        assert_eq!(p["id"], Value::Null);
        assert_eq!(p["lines"][0]["quantity"]["value"], qty);
    }
}

#[test]
fn without_parent_ids_a_level_reads_the_nearest_level_before_it() {
    // A partner that leaves HL02 empty: with `parent` taken out of [levels], an item finds its
    // order and its carton as the nearest such levels before it.
    let flat = load_edited("x12/856.toml", |t| t.replace("parent = \"HL02\"\n", ""))
        .expect("the file without parent loads");
    let body = shipment_body(
        "HL*2**O~PRF*PO-1~HL*3**P~MAN*GM*340123450000000017~\
         HL*4**I~LIN*1*EN*4006381333931~SN1**2*EA~\
         HL*5**O~PRF*PO-2~HL*6**P~MAN*GM*340123450000000024~\
         HL*7**I~LIN*1*EN*4012345678901~SN1**3*EA~",
    );
    let results = translate_with(&x12("SH", "856", &body), &flat);
    let event = results[0].as_ref().unwrap_or_else(|e| panic!("{e}"));
    let d = data(event);
    assert_eq!(d["packages"][0]["id"], "340123450000000017");
    assert_eq!(d["packages"][0]["lines"][0]["order_number"], "PO-1");
    assert_eq!(d["packages"][1]["id"], "340123450000000024");
    assert_eq!(d["packages"][1]["lines"][0]["order_number"], "PO-2");

    // With the default mapping every level of that message is a root (HL02 empty): the items
    // are found under no carton and no order, so they are loose and orderless, and the
    // cartons are listed empty.
    let d = data(&one_event(&x12("SH", "856", &body)));
    let packages = d["packages"].as_array().expect("packages");
    let ids: Vec<&Value> = packages.iter().map(|p| &p["id"]).collect();
    assert_eq!(
        ids,
        [
            &json!("340123450000000017"),
            &Value::Null,
            &json!("340123450000000024")
        ]
    );
    assert_eq!(packages[0]["lines"], json!([]));
    assert_eq!(packages[1]["lines"][0]["order_number"], Value::Null);
    assert_eq!(packages[1]["lines"].as_array().map(Vec::len), Some(2));
}

#[test]
fn a_parent_id_naming_no_level_is_reported() {
    let body = shipment_body("HL*2*1*O~PRF*PO-1~HL*3*9*I~LIN*1*EN*4006381333931~SN1**2*EA~");
    assert_eq!(
        errors_of(&x12("SH", "856", &body)),
        ["levels.parent (HL02) in HL at segment 8: no level with id \"9\" before this one"]
    );
}

#[test]
fn shipment_errors_name_the_field() {
    let body = shipment_body("HL*2*1*O~PRF*PO-1~HL*3*2*I~LIN*1*EN*4006381333932~SN1**2~")
        .replace("BSN*00*SHP-9*", "BSN*00**");
    let errors = errors_of(&x12("SH", "856", &body));
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert_eq!(errors[0], "shipment_id (BSN02): missing");
    assert!(
        errors[1].starts_with("lines[1].unit (SN103): missing"),
        "{}",
        errors[1]
    );
    assert!(
        errors[2].starts_with("lines[1].gtin (LIN[LIN02=UP|EN|UK|EN13]/LIN03 or")
            && errors[2].ends_with(
                "in LIN at segment 9: invalid GTIN \"4006381333932\": check digit is 2, expected 1"
            ),
        "{}",
        errors[2]
    );
}

// ---- invoices ----

fn x12_invoice() -> Value {
    json!({
        "invoice_number": "INV-2024-0815",
        "invoice_date": "2024-03-08",
        "invoice_type": {"kind": "invoice", "code": "DI"},
        "order_number": "PO-4711",
        "currency": "EUR",
        "parties": [
            {"role": "seller", "id": "4012345000023", "id_qualifier": "UL",
             "name": "Pen Supplies AG",
             "address": {"lines": ["Industriestrasse 7"], "city": "Stuttgart", "region": null,
                         "postal_code": "70173", "country": "DE"}},
            {"role": "bill_to", "id": "4012345000009", "id_qualifier": "UL",
             "name": "Nordwind Handel GmbH",
             "address": {"lines": ["Hauptstrasse 1"], "city": "Berlin", "region": null,
                         "postal_code": "10115", "country": "DE"}}
        ],
        "references": [{"qualifier": "IA", "value": "5512"}],
        "lines": [
            {"line_number": "1",
             "quantity": {"value": "12", "unit": {"code": "EA", "original": "EA"}},
             "unit_price": "2.50", "amount": null,
             "product": {"gtin": "04006381333931", "vendor_sku": "SKU-1", "buyer_sku": null,
                         "description": "Blue pen"}},
            {"line_number": "2",
             "quantity": {"value": "24", "unit": {"code": "H87", "original": "PC"}},
             "unit_price": "0.75", "amount": null,
             "product": {"gtin": "04012345678901", "vendor_sku": "SKU-2", "buyer_sku": null,
                         "description": null}},
            {"line_number": "3",
             "quantity": {"value": "7.5", "unit": {"code": "KGM", "original": "KG"}},
             "unit_price": "4.00", "amount": null,
             "product": {"gtin": "04000862141404", "vendor_sku": "SKU-3", "buyer_sku": null,
                         "description": "Printer paper"}}
        ],
        // TDS01 "9282" has two implied decimal places.
        "totals": {"total": "92.82", "subtotal": null, "tax": "14.82"}
    })
}

/// Invoice data without the partner's codes (type code, id qualifiers, original units) and
/// without what only INVOIC states: the lines' total (MOA 79) and line amounts (MOA 203).
fn invoice_without_partner_codes(mut d: Value) -> Value {
    d["invoice_type"]["code"] = Value::Null;
    d["totals"]["subtotal"] = Value::Null;
    for p in d["parties"].as_array_mut().expect("parties") {
        p["id_qualifier"] = Value::Null;
    }
    for l in d["lines"].as_array_mut().expect("lines") {
        l["quantity"]["unit"]["original"] = Value::Null;
        l["amount"] = Value::Null;
    }
    d
}

#[test]
fn x12_810_translates_field_by_field() {
    let event = one_event(&business("x12_810_004010.x12"));
    assert_eq!(event.event_type(), EventType::Invoice);
    assert_eq!(event.source().message, "810");
    assert_eq!(event.source().version, "004010");
    assert_eq!(data(&event), x12_invoice());
}

#[test]
fn the_same_invoice_in_x12_and_invoic_gives_the_same_data() {
    let x = one_event(&business("x12_810_004010.x12"));
    let e = one_event(&business("edifact_invoic_d96a.edi"));
    assert_eq!(e.event_type(), EventType::Invoice);
    assert_eq!(e.source().version, "D96A");
    let (xd, ed) = (data(&x), data(&e));
    assert_eq!(
        invoice_without_partner_codes(ed.clone()),
        invoice_without_partner_codes(xd)
    );
    assert_eq!(
        ed["invoice_type"],
        json!({"kind": "invoice", "code": "380"})
    );
    assert_eq!(
        ed["totals"],
        json!({"total": "92.82", "subtotal": "78.00", "tax": "14.82"})
    );
    let amounts: Vec<&Value> = ed["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| &l["amount"])
        .collect();
    assert_eq!(amounts, [&json!("30.00"), &json!("18.00"), &json!("30.00")]);
    assert_eq!(ed["parties"][1]["id_qualifier"], "9");
}

#[test]
fn implied_decimals_are_placed_and_a_sent_mark_is_refused() {
    let body = |tds: &str, big07: &str| {
        format!("BIG*20240308*CM-7**PO-4711***{big07}~IT1*1*1*EA*15.00~TDS*{tds}~CTT*1~")
    };
    // A credit memo: negative amounts keep their sign, short ones gain leading zeros.
    let d = data(&one_event(&x12("IN", "810", &body("-1500", "CR"))));
    assert_eq!(
        d["invoice_type"],
        json!({"kind": "credit_note", "code": "CR"})
    );
    assert_eq!(d["totals"]["total"], "-15.00");
    let d = data(&one_event(&x12("IN", "810", &body("5", "ZZ"))));
    assert_eq!(d["totals"]["total"], "0.05");
    // An unlisted type code is `other`, the code kept.
    assert_eq!(d["invoice_type"], json!({"kind": "other", "code": "ZZ"}));
    // "92.82" in an N2 field would be read as 0.93 by a lenient reader, or as 92.82 by one that
    // guesses: it is an error either way.
    assert_eq!(
        errors_of(&x12("IN", "810", &body("92.82", "DI"))),
        [
            "total (TDS01) in TDS at segment 4: invalid decimal \"92.82\": expected digits only, \
          with 2 implied decimal places (no decimal mark)"
        ]
    );
}

#[test]
fn an_invoic_credit_note_says_so() {
    let text = String::from_utf8(business("edifact_invoic_d96a.edi")).expect("utf-8");
    let d = data(&one_event(text.replace("BGM+380+", "BGM+381+").as_bytes()));
    assert_eq!(
        d["invoice_type"],
        json!({"kind": "credit_note", "code": "381"})
    );
}

#[test]
fn invoice_errors_name_the_field() {
    // No date, no price on line 1, no TDS at all.
    let errors = errors_of(&x12(
        "IN",
        "810",
        "BIG**INV-1~IT1*1*2*EA~IT1*2*1*EA*3.00~CTT*2~",
    ));
    assert_eq!(
        errors,
        [
            "invoice_date (BIG01): missing",
            "total (TDS01): missing",
            "lines[1].unit_price (IT104): missing",
        ]
    );
    let errors = errors_of(&edifact(
        "INVOIC:D:96A:UN",
        "BGM+380+INV-1+9'DTM+137:20240230:102'LIN+1++4006381333931:EN'QTY+47:1'UNS+S'MOA+79:5.00'",
    ));
    assert_eq!(
        errors,
        [
            "invoice_date (DTM[DTM01-1=3]/DTM01-2 or DTM[DTM01-1=137]/DTM01-2) in DTM at \
             segment 3: invalid date \"20240230\": no such day in the calendar",
            "total (MOA[MOA01-1=77]/MOA01-2 or MOA[MOA01-1=86]/MOA01-2 or \
             MOA[MOA01-1=39]/MOA01-2 or MOA[MOA01-1=9]/MOA01-2): missing",
            "lines[1].unit_price (PRI[PRI01-1=AAA]/PRI01-2 or PRI[PRI01-1=AAB]/PRI01-2): missing",
        ]
    );
}

// ---- order changes ----

fn x12_change() -> Value {
    json!({
        "order_number": "PO-4711",
        "order_date": "2024-03-01",
        "purpose": {"kind": "change", "code": "04"},
        "currency": "EUR",
        "requested_delivery_date": "2024-03-18",
        "parties": [
            {"role": "buyer", "id": "4012345000009", "id_qualifier": "UL",
             "name": "Nordwind Handel GmbH", "address": null},
            {"role": "ship_to", "id": "4012345000016", "id_qualifier": "UL",
             "name": "Central Warehouse",
             "address": {"lines": ["Lagerweg 5"], "city": "Hamburg", "region": null,
                         "postal_code": "20095", "country": "DE"}}
        ],
        "references": [{"qualifier": "CT", "value": "CONTRACT-9"}],
        "lines": [
            {"line_number": "1",
             "quantity": {"value": "12", "unit": {"code": "EA", "original": "EA"}},
             "unit_price": "2.50",
             "product": {"gtin": "04006381333931", "vendor_sku": "SKU-1", "buyer_sku": null,
                         "description": "Blue pen"},
             "requested_delivery_date": null,
             "change": {"kind": "change", "code": "QI"}},
            {"line_number": "2",
             "quantity": {"value": "0", "unit": {"code": "H87", "original": "PC"}},
             "unit_price": "0.75",
             "product": {"gtin": "04012345678901", "vendor_sku": "SKU-2", "buyer_sku": null,
                         "description": null},
             "requested_delivery_date": null,
             "change": {"kind": "delete", "code": "DI"}},
            {"line_number": "3",
             "quantity": {"value": "7.5", "unit": {"code": "KGM", "original": "KG"}},
             "unit_price": "4.00",
             "product": {"gtin": "04000862141404", "vendor_sku": "SKU-3", "buyer_sku": null,
                         "description": "Printer paper"},
             "requested_delivery_date": "2024-03-20",
             "change": {"kind": "add", "code": "AI"}}
        ]
    })
}

fn change_without_partner_codes(mut d: Value) -> Value {
    d["purpose"]["code"] = Value::Null;
    for p in d["parties"].as_array_mut().expect("parties") {
        p["id_qualifier"] = Value::Null;
    }
    for l in d["lines"].as_array_mut().expect("lines") {
        l["quantity"]["unit"]["original"] = Value::Null;
        l["change"]["code"] = Value::Null;
    }
    d
}

#[test]
fn x12_860_translates_field_by_field() {
    let events = events_of(&business("x12_860_004010.x12"));
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].event_type(), EventType::OrderChanged);
    assert_eq!(events[0].source().message, "860");
    assert_eq!(data(&events[0]), x12_change());
    let Payload::OrderChanged(order) = events[0].payload() else {
        panic!("not order.changed");
    };
    let kinds: Vec<Option<ChangeKind>> = order
        .lines
        .iter()
        .map(|l| l.change.as_ref().map(|c| c.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            Some(ChangeKind::Change),
            Some(ChangeKind::Delete),
            Some(ChangeKind::Add)
        ]
    );
    // BCH01 01: the whole order is cancelled.
    assert_eq!(events[1].event_type(), EventType::OrderCancelled);
    let d = data(&events[1]);
    assert_eq!(d["order_number"], "PO-4712");
    assert_eq!(d["purpose"], json!({"kind": "cancel", "code": "01"}));
    assert_eq!(d["order_date"], "2024-03-02");
    assert_eq!(d["lines"], json!([]));
}

#[test]
fn the_same_change_in_x12_and_ordchg_gives_the_same_data() {
    let x = events_of(&business("x12_860_004010.x12"));
    let e = events_of(&business("edifact_ordchg_d96a.edi"));
    assert_eq!(e.len(), 2);
    assert_eq!(e[0].event_type(), EventType::OrderChanged);
    assert_eq!(e[1].event_type(), EventType::OrderCancelled);
    for (x, e) in x.iter().zip(&e) {
        assert_eq!(
            change_without_partner_codes(data(e)),
            change_without_partner_codes(data(x))
        );
    }
    let ed = data(&e[0]);
    assert_eq!(ed["purpose"], json!({"kind": "change", "code": "4"}));
    let codes: Vec<&Value> = ed["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| &l["change"])
        .collect();
    assert_eq!(
        codes,
        [
            &json!({"kind": "change", "code": "3"}),
            &json!({"kind": "delete", "code": "2"}),
            &json!({"kind": "add", "code": "1"})
        ]
    );
    assert_eq!(
        data(&e[1])["purpose"],
        json!({"kind": "cancel", "code": "1"})
    );
}

// ---- the mapping files ----

#[test]
fn the_new_mappings_are_built_in_and_found() {
    use mapping::spec::{Document, Syntax};
    let builtin = Mappings::builtin().expect("builtin mappings load");
    for (syntax, message, versions, doc) in [
        (
            Syntax::X12,
            "860",
            ["004010", "005010"],
            Document::OrderChange,
        ),
        (
            Syntax::X12,
            "856",
            ["004010", "005010"],
            Document::ShipmentNotice,
        ),
        (Syntax::X12, "810", ["004010", "005010"], Document::Invoice),
        (
            Syntax::Edifact,
            "ORDCHG",
            ["D96A", "D01B"],
            Document::OrderChange,
        ),
        (
            Syntax::Edifact,
            "DESADV",
            ["D96A", "D01B"],
            Document::ShipmentNotice,
        ),
        (
            Syntax::Edifact,
            "INVOIC",
            ["D96A", "D01B"],
            Document::Invoice,
        ),
    ] {
        for version in versions {
            for m in [defaults(), &builtin] {
                let found = m
                    .find(syntax, message, version)
                    .unwrap_or_else(|| panic!("{message} {version}"));
                assert_eq!(found.document, doc, "{message} {version}");
            }
        }
    }
    let names: Vec<&str> = mapping::builtin_sources().iter().map(|(n, _)| *n).collect();
    for name in [
        "x12/860.toml",
        "x12/856.toml",
        "x12/810.toml",
        "edifact/ORDCHG.toml",
        "edifact/DESADV.toml",
        "edifact/INVOIC.toml",
    ] {
        assert!(names.contains(&name), "{name} is not built in");
    }
}

#[test]
fn the_new_options_are_checked_when_a_file_is_loaded() {
    let err =
        |file: &str, edit: &dyn Fn(&str) -> String| load_edited(file, edit).expect_err("refused");
    assert_eq!(
        err("x12/856.toml", &|t| t.replace(
            "[levels]\nstart = \"HL\"\nid = \"HL01\"\nparent = \"HL02\"\nheader = \"HL[HL03=S]\"\n",
            ""
        )),
        "edited.toml: lines.order_number: `level` needs [levels]: which segment starts a level \
         and how it names its parent"
    );
    assert_eq!(
        err("x12/856.toml", &|t| t
            .replace("id = \"HL01\"", "id = \"LIN01\"")),
        "edited.toml: levels.id: \"LIN01\": write a field of the level's start segment HL, e.g. HL01"
    );
    assert_eq!(
        err("x12/856.toml", &|t| t
            .replace("start = \"HL[HL03=I]\"", "start = \"HL[HL03=I\"")),
        "edited.toml: lines.loop: invalid path \"HL[HL03=I\" at column 10: expected ',' or ']' \
         after a condition"
    );
    assert_eq!(
        err("x12/856.toml", &|t| t.replace(
            "shipment_id = { path = \"BSN02\", required = true }",
            ""
        )),
        "edited.toml: shipment_id: missing: event \"shipment.notice\" needs it"
    );
    assert_eq!(
        err("x12/810.toml", &|t| t.replace(
            "invoice_number = { path = \"BIG02\",",
            "invoice_number = { path = \"BIG02\", decimals = 2,"
        )),
        "edited.toml: invoice_number: `decimals` is only for amounts and quantities"
    );
    assert_eq!(
        err("x12/810.toml", &|t| t.replace(
            "unit_price = { path = \"IT104\",",
            "unit_price = { path = \"IT104\", scope = \"summary\","
        )),
        "edited.toml: lines.unit_price: `scope` is only for header fields"
    );
    assert_eq!(
        err("x12/810.toml", &|t| t
            .replace("CR = \"credit_note\"", "CR = \"credit\"")),
        "edited.toml: invoice_type: [codes.invoice_type] maps \"CR\" to \"credit\", which is not \
         a valid value here"
    );
    assert_eq!(
        err("x12/850.toml", &|t| t.replace(
            "unit_price = \"PO104\"",
            "unit_price = \"PO104\"\nchange = { path = \"PO102\", codes = \"purpose\" }"
        )),
        "edited.toml: lines.change: not a field of event \"order\""
    );
    assert_eq!(
        err("x12/860.toml", &|t| t.replace(
            "change = { path = \"POC02\", codes = \"change\", required = true }",
            "change = \"POC02\""
        )),
        "edited.toml: lines.change: needs `codes`: the table that gives the code's meaning"
    );
}

// ---- the shared corpus ----

/// The message types these mappings cover.
const TYPES: [&str; 6] = ["856", "810", "860", "DESADV", "INVOIC", "ORDCHG"];

/// The default mappings, each file also applied to the older and newer directories the corpus
/// samples are in. The segments and elements the files read mean the same there; the test uses
/// them so the real samples exercise the mappings, while the defaults keep to the versions the
/// specs cover (a sample in another version is answered "no mapping", checked below).
fn widened() -> Mappings {
    let mut m = Mappings::default();
    for (name, text) in mapping::builtin_sources() {
        let text = text
            .replace(
                "versions = [\"004010\", \"005010\"]",
                "versions = [\"002040\", \"004010\", \"004060\", \"005010\"]",
            )
            .replace(
                "versions = [\"D96A\", \"D01B\"]",
                "versions = [\"D93A\", \"D96A\", \"D97A\", \"D97B\", \"D00A\", \"D01B\", \"D03B\"]",
            );
        m.add_toml(std::path::Path::new(name), &text)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    m
}

#[test]
fn corpus_shipments_invoices_and_changes_translate_or_are_reported() {
    let Some(dir) = shared_corpus() else {
        return;
    };
    let wide = widened();
    let mut seen = 0;
    let mut translated = 0;
    let mut other_version = 0;
    // file → one line per message: "OK" or the problem fields.
    let mut outcomes: Vec<(String, String)> = Vec::new();
    for sub in ["x12", "edifact", "malformed"] {
        for path in files_in(&dir.join(sub)) {
            let name = format!(
                "{sub}/{}",
                path.file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            );
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            // Malformed samples may hold no readable interchange; the others must parse.
            for ic in edi::Parser::new()
                .lenient(true)
                .interchanges(&bytes)
                .flatten()
            {
                for msg in ic.messages() {
                    if !TYPES.contains(&msg.message_type().trim()) {
                        continue;
                    }
                    seen += 1;
                    let mut result = mapping::translate_message(&msg, "corpus", defaults());
                    if let Err(e) = &result
                        && e.problems.iter().any(|p| p.field == "message")
                    {
                        assert_eq!(e.problems.len(), 1, "{name}: {e}");
                        assert!(
                            e.problems[0].reason.starts_with("no mapping for "),
                            "{name}: {e}"
                        );
                        other_version += 1;
                        result = mapping::translate_message(&msg, "corpus", &wide);
                    }
                    let outcome = match result {
                        Ok(event) => {
                            assert_valid_event(&event);
                            translated += 1;
                            "OK".to_owned()
                        }
                        Err(e) => {
                            // Reported by field: what is missing or wrong in the sample.
                            for p in &e.problems {
                                assert_ne!(p.field, "message", "{name}: {e}");
                            }
                            let fields: Vec<&str> =
                                e.problems.iter().map(|p| p.field.as_str()).collect();
                            fields.join(",")
                        }
                    };
                    outcomes.push((name.clone(), outcome));
                }
            }
        }
    }
    let outcome = |file: &str| -> Vec<&str> {
        outcomes
            .iter()
            .filter(|(n, _)| n == file)
            .map(|(_, o)| o.as_str())
            .collect()
    };
    // Pinned so that a change in the corpus or the mappings is seen here.
    assert_eq!(
        (seen, translated, other_version),
        (72, 29, 62),
        "{outcomes:#?}"
    );
    assert_eq!(outcome("x12/staedi-simple810.edi"), ["OK", "OK"]);
    assert_eq!(
        outcome("x12/staedi-invoice810_po850_dual.edi"),
        ["OK", "OK"]
    );
    assert_eq!(outcome("x12/x12types-005010_860.edi"), ["OK"]);
    assert_eq!(outcome("x12/edifabric-810_Valid.edi"), ["OK"]);
    assert_eq!(outcome("edifact/edifabric-EANCOM_INVOIC_D01B.edi"), ["OK"]);
    assert_eq!(outcome("edifact/smooks-INVOIC_D03B_UNA.edi"), ["OK"]);
    assert_eq!(outcome("malformed/edinet-x12_810_short_isa.edi"), ["OK"]);
    // The samples' UPCs have wrong check digits: reported, never passed on.
    assert_eq!(
        outcome("x12/nodex12-856.edi"),
        ["lines[1].gtin,lines[2].gtin"]
    );
    // No BGM at all.
    assert_eq!(
        outcome("edifact/edinet-Issue203_INVOIC_D01B.edi"),
        ["invoice_number"]
    );
    // QTY 12 (despatch) instead of 47 (invoiced), and no PRI.
    assert_eq!(
        outcome("edifact/edifabric-INVOIC_D00A.edi"),
        ["lines[1].quantity,lines[1].unit_price"]
    );
    // DTM+137:199910060000:102 — twelve digits in format 102.
    assert_eq!(
        outcome("edifact/pydifact-invoice1.edi"),
        ["invoice_date,lines[1].quantity"]
    );
}

#[test]
fn corpus_856_reads_its_levels() {
    // The 856 samples are 004060 (outside the default mappings, see above) and carry UPCs with
    // wrong check digits; read through the widened mappings with the UPC qualifier blanked out,
    // the rest of the hierarchy must come through.
    let Some(dir) = shared_corpus() else {
        return;
    };
    let text = std::fs::read_to_string(dir.join("x12/nodex12-856.edi")).expect("corpus file");
    let results = translate_with(text.replace("*UP*", "*ZZ*").as_bytes(), &widened());
    let event = results[0].as_ref().unwrap_or_else(|e| panic!("{e}"));
    assert_valid_event(event);
    let d = data(event);
    assert_eq!(d["shipment_id"], "829716");
    assert_eq!(d["ship_date"], "2011-12-06");
    assert_eq!(
        d["carrier"],
        json!({"code": "XXXX", "name": "XXXX", "tracking_number": "5787970539"})
    );
    assert_eq!(d["order_numbers"], json!(["99999817"]));
    let roles: Vec<&Value> = d["parties"]
        .as_array()
        .expect("parties")
        .iter()
        .map(|p| &p["role"])
        .collect();
    assert_eq!(roles, [&json!("SH"), &json!("OB"), &json!("ship_from")]);
    // Items directly under the order: one package without an id.
    let packages = d["packages"].as_array().expect("packages");
    assert_eq!(packages.len(), 1);
    assert_eq!(packages[0]["id"], Value::Null);
    let lines = packages[0]["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["order_number"], "99999817");
    assert_eq!(lines[0]["product"]["vendor_sku"], "87787D");
    assert_eq!(lines[0]["product"]["description"], "BLUE WIDGET");
    assert_eq!(
        lines[1]["quantity"],
        json!({"value": "6", "unit": {"code": "EA", "original": "EA"}})
    );
}

#[test]
fn invoice_kind_values_are_the_documented_ones() {
    // The names the code tables may use, as the schema publishes them.
    let names: Vec<String> = [
        InvoiceKind::Invoice,
        InvoiceKind::CreditNote,
        InvoiceKind::DebitNote,
        InvoiceKind::Other,
    ]
    .iter()
    .map(|k| {
        serde_json::to_value(k)
            .expect("json")
            .as_str()
            .unwrap_or_default()
            .to_owned()
    })
    .collect();
    assert_eq!(names, ["invoice", "credit_note", "debit_note", "other"]);
}
