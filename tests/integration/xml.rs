//! XML partners: UBL 2.1 and cXML documents through the XML mapping files — the same order as
//! X12 850, EDIFACT ORDERS, UBL Order and cXML OrderRequest giving the same data, namespaces
//! matched by URI whatever the prefixes, errors with byte offsets (never a panic) on broken
//! documents, and paths refused when a mapping file is loaded.

use edigate_tests::{files_in, fixtures};
use events::{Event, EventType, Standard};
use mapping::Mappings;
use mapping::xml::{self, XmlError};
use serde_json::{Value, json};

use crate::mapping::assert_valid_event;

fn defaults() -> Mappings {
    Mappings::builtin().expect("the built-in mappings load")
}

fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures().join("xml").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn translate_xml(input: &[u8], mappings: &Mappings) -> Event {
    let doc = xml::read(input, mappings).unwrap_or_else(|e| panic!("does not read: {e}"));
    doc.translate("acme")
        .unwrap_or_else(|e| panic!("does not translate: {e}"))
}

fn data(event: &Event) -> Value {
    serde_json::to_value(event).expect("serialises")["data"].clone()
}

/// The data without the partner's own codes, which differ between syntaxes by design.
fn without_partner_codes(mut data: Value) -> Value {
    data["purpose"]["code"] = Value::Null;
    for p in data["parties"].as_array_mut().expect("parties") {
        p["id_qualifier"] = Value::Null;
    }
    for l in data["lines"].as_array_mut().expect("lines") {
        l["quantity"]["unit"]["original"] = Value::Null;
    }
    data
}

// ---- one order, four syntaxes ----

/// Order PO-4711 (the order of `mapping.rs`, with the seller and the bill-to party a UBL Order
/// and a cXML OrderRequest always carry) as an X12 850.
const X12_ORDER: &str = "ISA*00*          *00*          *ZZ*BUYERCO        *ZZ*SELLERCO       *240301*1200*^*00501*000000101*0*P*>~\
GS*PO*BUYERCO*SELLERCO*20240301*1200*101*X*005010~\
ST*850*0001~\
BEG*00*SA*PO-4711**20240301~\
CUR*BY*EUR~\
REF*CT*CONTRACT-9~\
DTM*002*20240315~\
N1*BY*Buyer GmbH*UL*4012345000009~N3*Hauptstrasse 1~N4*Berlin**10115*DE~\
N1*SE*Pen Supplies AG*UL*4098765000003~N3*Industriestrasse 7~N4*Munich**80331*DE~\
N1*ST*Central Warehouse*UL*4012345000016~N3*Lagerweg 5~N4*Hamburg**20095*DE~\
N1*BT*Buyer GmbH Accounts Payable*UL*4012345000023~N3*Hauptstrasse 1~N4*Berlin**10115*DE~\
PO1*1*10*EA*2.50**EN*4006381333931*VN*SKU-1~\
PID*F****Blue pen~\
PO1*2*24.5*PC*0.75**EN*4012345678901*VN*SKU-2~\
PID*F****Red pencil~\
CTT*2~\
SE*23*0001~GE*1*101~IEA*1*000000101~";

/// The same order as EDIFACT ORDERS D96A, with `,` as the decimal mark.
const EDIFACT_ORDER: &str = "UNA:+,? 'UNB+UNOC:3+BUYERCO:ZZ+SELLERCO:ZZ+240301:1200+101'\
UNH+0001+ORDERS:D:96A:UN'\
BGM+220+PO-4711+9'\
DTM+137:20240301:102'\
DTM+2:202403151200:203'\
RFF+CT:CONTRACT-9'\
NAD+BY+4012345000009::9++Buyer GmbH+Hauptstrasse 1+Berlin++10115+DE'\
NAD+SE+4098765000003::9++Pen Supplies AG+Industriestrasse 7+Munich++80331+DE'\
NAD+DP+4012345000016::9++Central Warehouse+Lagerweg 5+Hamburg++20095+DE'\
NAD+IV+4012345000023::9++Buyer GmbH Accounts Payable+Hauptstrasse 1+Berlin++10115+DE'\
CUX+2:EUR:9'\
LIN+1++4006381333931:EN'PIA+1+SKU-1:SA'IMD+F++:::Blue pen'QTY+21:10:EA'PRI+AAA:2,50'\
LIN+2++4012345678901:EN'PIA+1+SKU-2:SA'IMD+F++:::Red pencil'QTY+21:24,5:PCE'PRI+AAA:0,75'\
UNS+S'UNT+23+0001'UNZ+1+101'";

fn edi_event(input: &str) -> Event {
    let ics = edi::Parser::new()
        .parse(input.as_bytes())
        .unwrap_or_else(|e| panic!("fixture does not parse: {e}"));
    assert_eq!(ics.len(), 1);
    let mut results = mapping::translate(&ics[0], "acme", &defaults());
    assert_eq!(results.len(), 1);
    results
        .remove(0)
        .unwrap_or_else(|e| panic!("translation failed: {e}"))
}

#[test]
fn the_same_order_as_x12_edifact_ubl_and_cxml_gives_the_same_data() {
    let m = defaults();
    let x12 = edi_event(X12_ORDER);
    let edifact = edi_event(EDIFACT_ORDER);
    let ubl = translate_xml(&fixture("ubl-order.xml"), &m);
    let cxml = translate_xml(&fixture("cxml-order-request.xml"), &m);
    for e in [&x12, &edifact, &ubl, &cxml] {
        assert_eq!(e.event_type(), EventType::OrderCreated);
        assert_valid_event(e);
    }
    let expected = without_partner_codes(data(&x12));
    // The X12 order is the reference: check it is the order meant, not an accident.
    assert_eq!(expected["order_number"], "PO-4711");
    assert_eq!(expected["parties"].as_array().map(Vec::len), Some(4));
    assert_eq!(expected["lines"][1]["quantity"]["value"], "24.5");
    assert_eq!(without_partner_codes(data(&edifact)), expected, "EDIFACT");
    assert_eq!(without_partner_codes(data(&ubl)), expected, "UBL");
    assert_eq!(without_partner_codes(data(&cxml)), expected, "cXML");

    // The partner's codes, kept as sent.
    let (u, c) = (data(&ubl), data(&cxml));
    assert_eq!(u["purpose"], json!({"kind": "original", "code": "Order"}));
    assert_eq!(c["purpose"], json!({"kind": "original", "code": "new"}));
    assert_eq!(u["parties"][0]["id_qualifier"], "0088");
    assert_eq!(c["parties"][0]["id_qualifier"], "GLN");
    assert_eq!(
        u["lines"][1]["quantity"]["unit"],
        json!({"code": "H87", "original": "H87"})
    );

    // Where each came from.
    assert_eq!(ubl.source().standard, Standard::Xml);
    assert_eq!(ubl.source().message, "Order");
    assert_eq!(ubl.source().version, "2.1");
    assert_eq!(ubl.source().sender, "4012345000009");
    assert_eq!(ubl.source().receiver, "4098765000003");
    assert_eq!(
        ubl.source().interchange_control,
        "6f1c2b8e-3d4a-4f0e-9a51-7c2d8e4b1a90"
    );
    assert_eq!(ubl.source().message_control, "PO-4711");
    assert_eq!(cxml.source().message, "OrderRequest");
    assert_eq!(cxml.source().version, "1.2.050");
    assert_eq!(
        cxml.source().interchange_control,
        "1709290800.4711@buyer.example"
    );
    assert_ne!(ubl.id(), cxml.id(), "different documents, different ids");
}

#[test]
fn cxml_delete_and_ubl_order_cancellation_cancel_the_order() {
    let m = defaults();
    let text = String::from_utf8(fixture("cxml-order-request.xml")).expect("UTF-8");
    let deleted = text.replace("type=\"new\"", "type=\"delete\"");
    assert_ne!(deleted, text);
    let e = translate_xml(deleted.as_bytes(), &m);
    assert_eq!(e.event_type(), EventType::OrderCancelled);
    assert_eq!(
        data(&e)["purpose"],
        json!({"kind": "cancel", "code": "delete"})
    );

    let e = translate_xml(&fixture("ubl-order-cancellation.xml"), &m);
    assert_eq!(e.event_type(), EventType::OrderCancelled);
    let d = data(&e);
    assert_eq!(d["order_number"], "PO-4711");
    assert_eq!(d["lines"], json!([]));
    assert_eq!(d["references"], json!([]));
    assert_eq!(e.source().message_control, "CAN-4711-1");
}

#[test]
fn response_shipment_and_invoice_documents_translate() {
    let m = defaults();
    let e = translate_xml(&fixture("ubl-order-response.xml"), &m);
    assert_eq!(e.event_type(), EventType::OrderResponse);
    let d = data(&e);
    assert_eq!(
        d["status"],
        json!({"kind": "accepted_with_changes", "code": "CA"})
    );
    assert_eq!(
        d["lines"][0]["status"],
        json!({"kind": "accepted", "code": "5"})
    );
    assert_eq!(
        d["lines"][1]["status"],
        json!({"kind": "other", "code": "3"})
    );
    assert_eq!(d["lines"][1]["scheduled_delivery_date"], "2024-03-20");
    assert_eq!(e.source().sender, "4098765000003");

    let e = translate_xml(&fixture("ubl-despatch-advice.xml"), &m);
    assert_eq!(e.event_type(), EventType::ShipmentNotice);
    let d = data(&e);
    assert_eq!(d["shipment_id"], "DA-2024-0815");
    assert_eq!(d["ship_date"], "2024-03-12");
    assert_eq!(d["order_numbers"], json!(["PO-4711"]));
    assert_eq!(d["carrier"]["tracking_number"], "00340434161094042557");
    assert_eq!(d["packages"][0]["id"], Value::Null);
    assert_eq!(
        d["packages"][0]["lines"][1]["product"]["gtin"],
        "04012345678901"
    );
    assert_eq!(e.source().sender, "4098765000003");

    let e = translate_xml(&fixture("ubl-invoice.xml"), &m);
    assert_eq!(e.event_type(), EventType::Invoice);
    let d = data(&e);
    assert_eq!(
        d["totals"],
        json!({"total": "51.62", "subtotal": "43.38", "tax": "8.24"})
    );
    assert_eq!(d["invoice_type"], json!({"kind": "invoice", "code": "380"}));
    assert_eq!(d["lines"][1]["amount"], "18.38");
    // The name comes from the legal entity when the party has no PartyName.
    assert_eq!(d["parties"][0]["name"], "Pen Supplies AG");
}

// ---- namespaces ----

#[test]
fn namespaces_are_matched_by_uri_not_by_the_senders_prefixes() {
    let m = defaults();
    let text = String::from_utf8(fixture("ubl-order.xml")).expect("UTF-8");
    let reference = data(&translate_xml(text.as_bytes(), &m));

    // Other prefixes for the same URIs, and the document's own namespace under a prefix.
    let renamed = text
        .replace("cac:", "agg:")
        .replace("xmlns:cac=", "xmlns:agg=")
        .replace("cbc:", "basic:")
        .replace("xmlns:cbc=", "xmlns:basic=")
        .replace("<Order xmlns=", "<o:Order xmlns:o=")
        .replace("</Order>", "</o:Order>");
    assert!(renamed.contains("<basic:ID>PO-4711</basic:ID>"));
    assert_eq!(data(&translate_xml(renamed.as_bytes(), &m)), reference);

    // The prefixes the mapping file uses, bound to other URIs: nothing the mapping reads.
    let wrong = text.replace(
        "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
        "urn:example:not-ubl",
    );
    let doc = xml::read(wrong.as_bytes(), &m).expect("reads: the root is still an Order");
    let err = doc
        .translate("acme")
        .expect_err("cbc: is another namespace here");
    let text = err.to_string();
    assert!(text.contains("order_number (cbc:ID): missing"), "{text}");
}

// ---- errors ----

#[test]
fn broken_documents_are_errors_with_a_byte_offset() {
    let m = defaults();
    let cases: &[(&[u8], &str)] = &[
        (b"", "no root element"),
        (b"   \n", "no root element"),
        (b"<Order xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Order-2\"><ID>1</ID>", "ends inside"),
        (b"<Order xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Order-2\"><b></Order>", "malformed XML"),
        (b"<x:Order/>", "prefix \"x\" is not declared"),
        (b"<Order>&bogus;</Order>", "no XML mapping for document Order"),
        (b"\xFF\xFE<\x00a\x00/\x00>\x00", "UTF-16"),
        (b"<a>caf\xE9</a>", "not UTF-8"),
        (b"<a/><b/>", "no XML mapping for document a"),
        (b"<Order xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Order-2\">&bogus;</Order>", "entity &bogus;"),
        (b"<Order xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Order-2\"/><Order/>", "a second root element"),
        (b"<Order xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Order-2\"/>trailing", "text outside the root"),
        (b"<cXML><Request><ConfirmationRequest/></Request></cXML>", "none of cXML/Request/OrderRequest"),
    ];
    for (input, expected) in cases {
        let err = xml::read(input, &m).expect_err(&String::from_utf8_lossy(input));
        let text = err.to_string();
        assert!(text.starts_with("at byte "), "{text}");
        assert!(
            text.contains(expected),
            "{:?}: {text}",
            String::from_utf8_lossy(input)
        );
    }
    let err = xml::read(b"<a>caf\xE9</a>", &m).expect_err("latin-1");
    assert!(
        matches!(err, XmlError::Encoding { offset: 6, .. }),
        "{err:?}"
    );
    let err = xml::read(b"<Foo xmlns='urn:x'/>", &m).expect_err("unknown");
    assert!(
        matches!(&err, XmlError::UnknownDocument { found, .. } if found == "{urn:x}Foo"),
        "{err:?}"
    );
}

#[test]
fn a_bad_value_is_reported_by_field_path_and_offset() {
    let m = defaults();
    let text = String::from_utf8(fixture("ubl-order.xml")).expect("UTF-8");
    let bad = text
        .replace(">4006381333931<", ">4006381333932<")
        .replace(">24.5<", ">24,5<")
        .replace("<cbc:IssueDate>2024-03-01<", "<cbc:IssueDate>01.03.2024<");
    let doc = xml::read(bad.as_bytes(), &m).expect("well-formed");
    let err = doc.translate("acme").expect_err("three bad values");
    let fields: Vec<&str> = err.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        ["order_date", "lines[1].gtin", "lines[2].quantity"],
        "{err}"
    );
    let gtin = &err.problems[1];
    assert_eq!(
        gtin.path,
        "cac:Item/cac:StandardItemIdentification/cbc:ID[@schemeID=0160]"
    );
    let at = bad.find(">4006381333932<").expect("there") - "<cbc:ID schemeID=\"0160\"".len();
    assert_eq!(
        gtin.segment.as_deref(),
        Some(&*format!("<ID> at byte {at}"))
    );
    assert!(gtin.reason.contains("check digit"), "{err}");
}

#[test]
fn explain_names_the_xml_path_of_every_field() {
    let m = defaults();
    let input = fixture("ubl-order.xml");
    let doc = xml::read(&input, &m).expect("reads");
    let (result, explained) = doc.translate_explained("acme");
    result.expect("translates");
    let lines: Vec<String> = explained.iter().map(ToString::to_string).collect();
    let text = String::from_utf8(input).expect("UTF-8");
    let at = text.find("<cbc:ID>PO-4711").expect("there");
    assert!(
        lines.contains(&format!(
            "order_number = \"PO-4711\" <- cbc:ID (<ID> at byte {at})"
        )),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"purpose = \"Order\" <- value".to_owned()),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l
            .starts_with("lines[2].unit = \"H87\" <- cbc:Quantity/@unitCode (<Quantity> at byte ")),
        "{lines:#?}"
    );
}

/// Prefixes of every fixture, and many single-byte mutations of it: an error or an event, never
/// a panic; a document cut before its root element ends is always an error.
#[test]
fn truncated_and_mutated_documents_never_panic() {
    let m = defaults();
    let docs = files_in(&fixtures().join("xml"));
    assert!(docs.len() >= 5, "{docs:?}");
    for path in docs {
        let input = std::fs::read(&path).expect("read");
        let name = path.display();
        let root_end = input.iter().rposition(|&b| b == b'>').expect("a tag");
        // Every cut in the prolog and the first elements, then every fifth: the same code
        // paths, at a fifth of the cost.
        for cut in (0..root_end).filter(|c| *c < 400 || c % 5 == 0) {
            let prefix = &input[..cut];
            let outcome = xml::read(prefix, &m).map(|d| d.translate("fuzz"));
            match outcome {
                Err(XmlError::Malformed { offset, .. })
                | Err(XmlError::Encoding { offset, .. })
                | Err(XmlError::UnknownDocument { offset, .. }) => {
                    assert!(offset <= cut as u64, "{name} cut at {cut}: offset {offset}")
                }
                Err(e) => panic!("{name} cut at {cut}: unexpected error {e}"),
                Ok(_) => panic!("{name} cut at {cut} before the root ends was read"),
            }
        }
        // Deterministic pseudo-random mutations (a linear congruential generator).
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as usize
        };
        let bytes = [
            b'<', b'>', b'&', b'"', b'/', b':', b'=', b'x', b' ', 0x00, 0xFF, 0xC3,
        ];
        for _ in 0..2000 {
            let mut mutated = input.clone();
            let at = next() % mutated.len();
            match next() % 3 {
                0 => mutated[at] = bytes[next() % bytes.len()],
                1 => {
                    mutated.remove(at);
                }
                _ => mutated.insert(at, bytes[next() % bytes.len()]),
            }
            if let Ok(doc) = xml::read(&mutated, &m) {
                // Whatever it says, it says it without panicking, and a made event is valid.
                if let Ok(event) = doc.translate("fuzz") {
                    let json = serde_json::to_value(&event).expect("serialises");
                    assert!(json["data"].is_object(), "{name}");
                }
            }
        }
    }
}

#[test]
fn a_skipped_subtree_is_still_checked_for_well_formedness() {
    let m = defaults();
    let text = String::from_utf8(fixture("ubl-invoice.xml")).expect("UTF-8");
    // The signature is not something any path reads, but a broken one is a broken document.
    let broken = text.replace("</sig:SignatureValue>", "</sig:SignatureValu>");
    assert_ne!(broken, text);
    let err = xml::read(broken.as_bytes(), &m).expect_err("mismatched end tag");
    let at = broken.find("</sig:SignatureValu>").expect("there") as u64;
    match err {
        XmlError::Malformed { offset, .. } => assert!(offset >= at, "{offset} < {at}"),
        other => panic!("{other}"),
    }
}

#[test]
fn a_large_order_reads_in_one_pass() {
    // 5000 lines, every one found and in order; the time bound is loose and only catches a
    // reader or evaluator that blows up with the document's size.
    let mut text = String::from(
        "<Order xmlns='urn:oasis:names:specification:ubl:schema:xsd:Order-2' \
         xmlns:cac='urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2' \
         xmlns:cbc='urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2'>\
         <cbc:ID>BIG-1</cbc:ID><cbc:IssueDate>2024-03-01</cbc:IssueDate>",
    );
    for i in 1..=5000 {
        text.push_str(&format!(
            "<cac:OrderLine><cac:LineItem><cbc:ID>{i}</cbc:ID>\
             <cbc:Quantity unitCode='EA'>{i}</cbc:Quantity>\
             <cac:Item><cbc:Name>Item {i}</cbc:Name></cac:Item></cac:LineItem></cac:OrderLine>\n"
        ));
    }
    text.push_str("</Order>");
    let started = std::time::Instant::now();
    let d = data(&translate_xml(text.as_bytes(), &defaults()));
    let lines = d["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), 5000);
    assert_eq!(lines[4999]["product"]["description"], "Item 5000");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}

// ---- mapping files ----

const UBL_NS: &str = "[namespaces]\n\
ord = \"urn:oasis:names:specification:ubl:schema:xsd:Order-2\"\n\
cac = \"urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2\"\n\
cbc = \"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2\"\n";

fn xml_file(header: &str, lines: &str) -> String {
    format!(
        "syntax = \"xml\"\ndocument = \"ord:Order\"\nevent = \"order\"\n{UBL_NS}\n\
         [header]\n{header}\n[lines]\n{lines}\n[codes.purpose]\nOrder = \"original\"\n"
    )
}

const GOOD_HEADER: &str =
    "order_number = \"cbc:ID\"\npurpose = { value = \"Order\", codes = \"purpose\" }";
const GOOD_LINES: &str = "loop = \"cac:OrderLine/cac:LineItem\"\nline_number = \"cbc:ID\"\n\
quantity = \"cbc:Quantity\"\nunit = \"cbc:Quantity/@unitCode\"";

#[test]
fn bad_xml_mapping_files_are_refused_with_file_field_and_column() {
    let load = |text: &str| {
        Mappings::default()
            .add_toml(std::path::Path::new("broken.toml"), text)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    assert_eq!(load(&xml_file(GOOD_HEADER, GOOD_LINES)), Ok(()));
    let cases = [
        (
            xml_file(
                GOOD_HEADER,
                &format!(
                    "{GOOD_LINES}\ngtin = \"cac:Item/cac:StandardItemIdentification/cbc:ID[@schemeID=0160\""
                ),
            ),
            "broken.toml: lines.gtin: invalid path \"cac:Item/cac:StandardItemIdentification/cbc:ID[@schemeID=0160\" at column 62: expected ',' or ']' after a condition",
        ),
        (
            xml_file(
                GOOD_HEADER,
                &format!("{GOOD_LINES}\nvendor_sku = \"ubl:Item/cbc:ID\""),
            ),
            "broken.toml: lines.vendor_sku: invalid path \"ubl:Item/cbc:ID\" at column 1: prefix \"ubl\" is not bound: add ubl = \"namespace URI\" to [namespaces]",
        ),
        (
            xml_file(
                &format!("{GOOD_HEADER}\nship_date = \"cbc:IssueDate\""),
                GOOD_LINES,
            ),
            "broken.toml: ship_date: not a field of event \"order\"",
        ),
        (
            xml_file(
                &format!("{GOOD_HEADER}\norder_nummer = \"cbc:ID\""),
                GOOD_LINES,
            ),
            "broken.toml: order_nummer: unknown field: write one of order_number, purpose, order_date, currency, requested_delivery_date",
        ),
        (
            xml_file("order_number = \"cbc:ID\"", GOOD_LINES),
            "broken.toml: purpose: missing: event \"order\" needs it",
        ),
        (
            xml_file(
                "order_number = \"cbc:ID\"\npurpose = \"cbc:OrderTypeCode\"",
                GOOD_LINES,
            ),
            "broken.toml: purpose: needs `codes`: the table that gives the code's meaning",
        ),
        (
            xml_file(
                GOOD_HEADER,
                &GOOD_LINES.replace("\"cac:OrderLine/cac:LineItem\"", "\"cac:OrderLine/@id\""),
            ),
            "broken.toml: lines.loop: \"cac:OrderLine/@id\": a loop is an element path",
        ),
        (
            xml_file(
                "order_number = { path = \"cbc:ID\", value = \"X\" }\npurpose = { value = \"Order\", codes = \"purpose\" }",
                GOOD_LINES,
            ),
            "broken.toml: order_number: give `path` or `value`, not both",
        ),
        (
            xml_file(GOOD_HEADER, GOOD_LINES)
                .replace("event = \"order\"", "event = \"inventory.report\""),
            "broken.toml: event: \"inventory.report\": write one of",
        ),
    ];
    for (text, expected) in cases {
        let err = load(&text).expect_err(expected);
        assert!(
            err.starts_with(expected),
            "expected {expected}\n     got {err}"
        );
    }
}

#[test]
fn a_directory_mapping_overrides_the_builtin_one_for_the_same_document() {
    let mut m = defaults();
    // A partner whose buyer SKU is in the line's note.
    let custom = xml_file(
        GOOD_HEADER,
        &format!("{GOOD_LINES}\nbuyer_sku = \"cbc:Note\"\ndescription = \"cac:Item/cbc:Name\""),
    );
    m.add_toml(std::path::Path::new("partner-order.toml"), &custom)
        .expect("loads");
    let text = String::from_utf8(fixture("ubl-order.xml")).expect("UTF-8");
    let with_note = text.replace(
        "<cbc:ID>1</cbc:ID>",
        "<cbc:ID>1</cbc:ID><cbc:Note>B-77</cbc:Note>",
    );
    let doc = xml::read(with_note.as_bytes(), &m).expect("reads");
    assert_eq!(doc.mapping().origin, "partner-order.toml");
    let d = data(&doc.translate("acme").expect("translates"));
    assert_eq!(d["lines"][0]["product"]["buyer_sku"], "B-77");
    // What the override does not say, it does not read.
    assert_eq!(d["parties"], json!([]));
}

#[test]
fn packages_hold_the_lines_read_inside_them() {
    let mut m = defaults();
    let mapping = "syntax = \"xml\"\ndocument = \"da:DespatchAdvice\"\nevent = \"shipment.notice\"\n\
[namespaces]\n\
da = \"urn:oasis:names:specification:ubl:schema:xsd:DespatchAdvice-2\"\n\
cac = \"urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2\"\n\
cbc = \"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2\"\n\
[header]\nshipment_id = \"cbc:ID\"\n\
[packages]\nloop = \"cac:Shipment/cac:TransportHandlingUnit\"\nid = \"cbc:ID[@schemeID=SSCC]\"\n\
[lines]\nloop = \"cac:HandlingUnitDespatchLine\"\nline_number = \"cbc:ID\"\n\
quantity = \"cbc:DeliveredQuantity\"\nunit = \"cbc:DeliveredQuantity/@unitCode\"\n";
    m.add_toml(std::path::Path::new("handling-units.toml"), mapping)
        .expect("loads");
    let doc = "<DespatchAdvice xmlns='urn:oasis:names:specification:ubl:schema:xsd:DespatchAdvice-2' \
xmlns:cac='urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2' \
xmlns:cbc='urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2'>\
<cbc:ID>DA-9</cbc:ID><cac:Shipment><cbc:ID>1</cbc:ID>\
<cac:TransportHandlingUnit><cbc:ID schemeID='SSCC'>340123450000000014</cbc:ID>\
<cac:HandlingUnitDespatchLine><cbc:ID>1</cbc:ID><cbc:DeliveredQuantity unitCode='EA'>10</cbc:DeliveredQuantity></cac:HandlingUnitDespatchLine>\
<cac:HandlingUnitDespatchLine><cbc:ID>2</cbc:ID><cbc:DeliveredQuantity unitCode='EA'>5</cbc:DeliveredQuantity></cac:HandlingUnitDespatchLine>\
</cac:TransportHandlingUnit>\
<cac:TransportHandlingUnit><cbc:ID schemeID='SSCC'>340123450000000021</cbc:ID>\
<cac:HandlingUnitDespatchLine><cbc:ID>3</cbc:ID><cbc:DeliveredQuantity unitCode='KGM'>2.5</cbc:DeliveredQuantity></cac:HandlingUnitDespatchLine>\
</cac:TransportHandlingUnit></cac:Shipment></DespatchAdvice>";
    let e = translate_xml(doc.as_bytes(), &m);
    assert_valid_event(&e);
    let d = data(&e);
    let packages: Vec<(String, Vec<String>)> = d["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap_or("-").to_owned(),
                p["lines"]
                    .as_array()
                    .expect("lines")
                    .iter()
                    .map(|l| l["line_number"].as_str().unwrap_or("-").to_owned())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        packages,
        [
            (
                "340123450000000014".to_owned(),
                vec!["1".to_owned(), "2".to_owned()]
            ),
            ("340123450000000021".to_owned(), vec!["3".to_owned()]),
        ]
    );
}

#[test]
fn xml_is_told_from_edi_by_its_first_character() {
    assert!(xml::looks_like_xml(b"<?xml version='1.0'?><a/>"));
    assert!(xml::looks_like_xml(b"\xEF\xBB\xBF\r\n  <a/>"));
    assert!(!xml::looks_like_xml(X12_ORDER.as_bytes()));
    assert!(!xml::looks_like_xml(EDIFACT_ORDER.as_bytes()));
    assert!(!xml::looks_like_xml(b""));
}

#[test]
fn the_sender_is_the_party_the_mapping_names() {
    let m = defaults();
    let input = fixture("ubl-order.xml");
    let doc = xml::read(&input, &m).expect("reads");
    let sender = doc.sender().expect("a sender");
    assert_eq!(
        (sender.qualifier.as_deref(), sender.id.as_str()),
        (Some("0088"), "4012345000009")
    );
    assert_eq!(sender.to_string(), "0088:4012345000009");
    let input = fixture("cxml-order-request.xml");
    let doc = xml::read(&input, &m).expect("reads");
    assert_eq!(
        doc.receiver().map(|r| r.to_string()).as_deref(),
        Some("GLN:4098765000003")
    );
}
