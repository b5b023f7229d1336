//! Mapping EDI to canonical events: the path language, the default mapping files, the same
//! order as X12 850 and EDIFACT ORDERS giving the same data, per-message errors, the schema, and
//! the shared corpus's orders.

use edigate_tests::{shared_corpus, workspace_root};
use events::documents::PurposeKind;
use events::{Event, EventType, Payload};
use mapping::path::{FieldRef, Path};
use mapping::{MappingError, Mappings};
use serde_json::{Value, json};

// ---- the path language ----

fn field(tag: &str, element: usize, component: Option<usize>) -> FieldRef {
    FieldRef {
        tag: tag.into(),
        element,
        component,
    }
}

#[test]
fn paths_parse_into_the_ast() {
    let p = Path::parse("BEG03").expect("BEG03");
    assert_eq!(p.selector, None);
    assert_eq!(p.field, field("BEG", 3, None));

    let p = Path::parse("DTM01-2").expect("DTM01-2");
    assert_eq!(p.field, field("DTM", 1, Some(2)));

    let p = Path::parse("N1[N101=ST]/N104").expect("N1 selector");
    let sel = p.selector.clone().expect("selector");
    assert_eq!(sel.tag, "N1");
    assert_eq!(sel.conditions.len(), 1);
    assert_eq!(sel.conditions[0].field, field("N1", 1, None));
    assert_eq!(sel.conditions[0].values, ["ST"]);
    assert_eq!(p.field, field("N1", 4, None));
    assert_eq!(p.tag(), "N1");

    let p = Path::parse("DTM[DTM01-1=137|4]/DTM01-2").expect("alternatives");
    let sel = p.selector.clone().expect("selector");
    assert_eq!(sel.conditions[0].field, field("DTM", 1, Some(1)));
    assert_eq!(sel.conditions[0].values, ["137", "4"]);
    assert_eq!(p.field, field("DTM", 1, Some(2)));

    let p = Path::parse("PO1[PO106=EN,PO108=VN]/PO107").expect("two conditions");
    assert_eq!(p.selector.as_ref().expect("selector").conditions.len(), 2);
    assert_eq!(p.field, field("PO1", 7, None));
    assert_eq!(p.to_string(), "PO1[PO106=EN,PO108=VN]/PO107");
}

#[test]
fn invalid_paths_say_where_and_what() {
    let cases = [
        (
            "",
            "invalid path \"\" at column 1: empty path: write a field such as BEG03 or DTM01-2",
        ),
        (
            "beg03",
            "invalid path \"beg03\" at column 1: expected a field: a segment tag and a two-digit element number, e.g. BEG03 or N104",
        ),
        (
            "BEG00",
            "invalid path \"BEG00\" at column 4: the element number is two digits from 01, e.g. BEG03",
        ),
        (
            "DTM01-",
            "invalid path \"DTM01-\" at column 7: expected a component number from 1 after '-', e.g. DTM01-2",
        ),
        (
            "N1[N101=ST/N104",
            "invalid path \"N1[N101=ST/N104\" at column 11: expected ',' or ']' after a condition",
        ),
        (
            "N1[N101]/N104",
            "invalid path \"N1[N101]/N104\" at column 8: expected '=' and a value after N101",
        ),
        (
            "N1[N101=]/N104",
            "invalid path \"N1[N101=]/N104\" at column 9: expected a value for N101",
        ),
        (
            "N1[N101=ST]/N304",
            "invalid path \"N1[N101=ST]/N304\" at column 13: the field names segment N3 but the selector chose N1",
        ),
        (
            "N1[N301=ST]/N104",
            "invalid path \"N1[N301=ST]/N104\" at column 4: the condition names segment N3 but the selector is N1",
        ),
        (
            "N1[N101=ST]",
            "invalid path \"N1[N101=ST]\" at column 12: expected '/' and a field of N1 after the selector, e.g. N1[…]/N102",
        ),
        (
            "BEG03 x",
            "invalid path \"BEG03 x\" at column 6: unexpected text after the field",
        ),
    ];
    for (path, message) in cases {
        let err = Path::parse(path).expect_err(path);
        assert_eq!(err.to_string(), message, "{path}");
    }
}

// ---- mapping files ----

fn defaults() -> Mappings {
    Mappings::load(&workspace_root().join("mappings")).expect("mappings/ loads")
}

#[test]
fn default_mappings_load_and_match_the_builtin_copy() {
    let dir = defaults();
    let builtin = Mappings::builtin().expect("builtin mappings load");
    assert_eq!(dir.orders().len(), 2);
    assert_eq!(builtin.orders().len(), 2);
    use mapping::spec::Syntax;
    for (syntax, message, version) in [
        (Syntax::X12, "850", "004010"),
        (Syntax::X12, "850", "004010VICS"),
        (Syntax::X12, "850", "005010"),
        (Syntax::Edifact, "ORDERS", "D96A"),
        (Syntax::Edifact, "ORDERS", "D01B"),
    ] {
        assert!(
            dir.find(syntax, message, version).is_some(),
            "{message} {version}"
        );
    }
    assert!(dir.find(Syntax::X12, "850", "003010").is_none());
    assert!(dir.find(Syntax::Edifact, "IFTMIN", "D96A").is_none());
}

#[test]
fn a_bad_mapping_file_is_refused_with_file_and_field() {
    let text =
        std::fs::read_to_string(workspace_root().join("mappings/x12/850.toml")).expect("850.toml");
    let broken = text.replace(
        "order_number = { path = \"BEG03\"",
        "order_number = { path = \"BEG3\"",
    );
    let err = Mappings::default()
        .add_toml(std::path::Path::new("broken.toml"), &broken)
        .expect_err("bad path");
    assert_eq!(
        err.to_string(),
        "broken.toml: order_number: invalid path \"BEG3\" at column 3: the element number is \
         two digits from 01, e.g. BEG03"
    );
    let unknown_table = text.replace("codes = \"purpose\"", "codes = \"purposes\"");
    let err = Mappings::default()
        .add_toml(std::path::Path::new("broken.toml"), &unknown_table)
        .expect_err("unknown table");
    assert_eq!(
        err.to_string(),
        "broken.toml: purpose: no code table [codes.purposes] in this file"
    );
    let bad_kind = text.replace("\"01\" = \"cancel\"", "\"01\" = \"cancelled\"");
    let err = Mappings::default()
        .add_toml(std::path::Path::new("broken.toml"), &bad_kind)
        .expect_err("bad purpose kind");
    assert!(
        err.to_string().contains("maps \"01\" to \"cancelled\""),
        "{err}"
    );
}

// ---- one order, two syntaxes ----

/// An X12 interchange around `sets` (each `ST`…`SE`, segments separated by `~`).
fn x12(version: &str, sets: &[String]) -> String {
    format!(
        "ISA*00*          *00*          *ZZ*BUYERCO        *ZZ*SELLERCO       *240301*1200*^*00501*000000101*0*P*>~\
         GS*PO*BUYERCO*SELLERCO*20240301*1200*101*X*{version}~{}GE*{}*101~IEA*1*000000101~",
        sets.concat(),
        sets.len()
    )
}

/// An X12 transaction set: `ST`, `body`, `SE` with the right count.
fn x12_set(control: &str, body: &str) -> String {
    let count = body.matches('~').count() + 2;
    format!("ST*850*{control}~{body}SE*{count}*{control}~")
}

const X12_ORDER: &str = "BEG*00*SA*PO-4711**20240301~\
CUR*BY*EUR~\
REF*CT*CONTRACT-9~\
DTM*002*20240315~\
N1*BY*Buyer GmbH*UL*4012345000009~\
N3*Hauptstrasse 1~\
N4*Berlin**10115*DE~\
N1*ST*Central Warehouse*UL*4012345000016~\
N3*Lagerweg 5~\
N4*Hamburg**20095*DE~\
PO1*1*10*EA*2.50**EN*4006381333931*VN*SKU-1~\
PID*F****Blue pen~\
PO1*2*24.5*PC*0.75**EN*4012345678901*VN*SKU-2~\
PID*F****Red pencil~\
CTT*2~";

/// The same order as EDIFACT ORDERS D96A, with `,` as the decimal mark (UNA).
fn edifact(bgm_function: &str, body_tail: &str) -> String {
    let body = format!(
        "BGM+220+PO-4711+{bgm_function}'\
DTM+137:20240301:102'\
DTM+2:202403151200:203'\
RFF+CT:CONTRACT-9'\
NAD+BY+4012345000009::9++Buyer GmbH+Hauptstrasse 1+Berlin++10115+DE'\
NAD+DP+4012345000016::9++Central Warehouse+Lagerweg 5+Hamburg++20095+DE'\
CUX+2:EUR:9'\
{body_tail}UNS+S'"
    );
    let count = body.matches('\'').count() + 2;
    format!(
        "UNA:+,? 'UNB+UNOC:3+BUYERCO:ZZ+SELLERCO:ZZ+240301:1200+101'\
         UNH+0001+ORDERS:D:96A:UN'{body}UNT+{count}+0001'UNZ+1+101'"
    )
}

const EDIFACT_LINES: &str = "LIN+1++4006381333931:EN'\
PIA+1+SKU-1:SA'\
IMD+F++:::Blue pen'\
QTY+21:10:EA'\
PRI+AAA:2,50'\
LIN+2++4012345678901:EN'\
PIA+1+SKU-2:SA'\
IMD+F++:::Red pencil'\
QTY+21:24,5:PCE'\
PRI+AAA:0,75'";

fn translate(input: &str) -> Vec<Result<Event, MappingError>> {
    let ics = edi::Parser::new()
        .lenient(true)
        .parse(input.as_bytes())
        .unwrap_or_else(|e| panic!("fixture does not parse: {e}"));
    assert_eq!(ics.len(), 1);
    mapping::translate(&ics[0], "acme", &defaults())
}

fn one_event(input: &str) -> Event {
    let mut results = translate(input);
    assert_eq!(results.len(), 1);
    results
        .remove(0)
        .unwrap_or_else(|e| panic!("translation failed: {e}"))
}

fn data(event: &Event) -> Value {
    serde_json::to_value(event).expect("serialises")["data"].clone()
}

/// The data with the partner's own codes (kept as sent, so they differ between syntaxes)
/// removed: purpose code, party id qualifiers, original units.
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

#[test]
fn the_same_order_in_x12_and_edifact_gives_the_same_data() {
    let x = one_event(&x12("005010", &[x12_set("0001", X12_ORDER)]));
    let e = one_event(&edifact("9", EDIFACT_LINES));
    assert_eq!(x.event_type(), EventType::OrderCreated);
    assert_eq!(e.event_type(), EventType::OrderCreated);
    assert_eq!(x.partner(), "acme");
    assert_eq!(x.source().version, "005010");
    assert_eq!(x.source().message, "850");
    assert_eq!(x.source().group_control.as_deref(), Some("101"));
    assert_eq!(e.source().version, "D96A");
    assert_eq!(e.source().message, "ORDERS");
    assert_eq!(e.source().sender, "BUYERCO");
    assert_eq!(e.source().message_control, "0001");
    assert_eq!(e.source().group_control, None);

    let xd = data(&x);
    let ed = data(&e);
    let expected = json!({
        "order_number": "PO-4711",
        "order_date": "2024-03-01",
        "purpose": {"kind": "original", "code": null},
        "currency": "EUR",
        "requested_delivery_date": "2024-03-15",
        "parties": [
            {"role": "buyer", "id": "4012345000009", "id_qualifier": null, "name": "Buyer GmbH",
             "address": {"lines": ["Hauptstrasse 1"], "city": "Berlin", "region": null,
                         "postal_code": "10115", "country": "DE"}},
            {"role": "ship_to", "id": "4012345000016", "id_qualifier": null, "name": "Central Warehouse",
             "address": {"lines": ["Lagerweg 5"], "city": "Hamburg", "region": null,
                         "postal_code": "20095", "country": "DE"}}
        ],
        "references": [{"qualifier": "CT", "value": "CONTRACT-9"}],
        "lines": [
            {"line_number": "1",
             "quantity": {"value": "10", "unit": {"code": "EA", "original": null}},
             "unit_price": "2.50",
             "product": {"gtin": "04006381333931", "vendor_sku": "SKU-1", "buyer_sku": null,
                         "description": "Blue pen"},
             "requested_delivery_date": null, "change": null},
            {"line_number": "2",
             "quantity": {"value": "24.5", "unit": {"code": "H87", "original": null}},
             "unit_price": "0.75",
             "product": {"gtin": "04012345678901", "vendor_sku": "SKU-2", "buyer_sku": null,
                         "description": "Red pencil"},
             "requested_delivery_date": null, "change": null}
        ]
    });
    assert_eq!(without_partner_codes(xd.clone()), expected);
    assert_eq!(without_partner_codes(ed.clone()), expected);

    // The partner's codes, kept beside their meaning.
    assert_eq!(xd["purpose"], json!({"kind": "original", "code": "00"}));
    assert_eq!(ed["purpose"], json!({"kind": "original", "code": "9"}));
    assert_eq!(xd["parties"][0]["id_qualifier"], "UL");
    assert_eq!(ed["parties"][0]["id_qualifier"], "9");
    assert_eq!(
        xd["lines"][1]["quantity"]["unit"],
        json!({"code": "H87", "original": "PC"})
    );
    assert_eq!(
        ed["lines"][1]["quantity"]["unit"],
        json!({"code": "H87", "original": "PCE"})
    );
    assert_eq!(
        xd["lines"][0]["quantity"]["unit"],
        json!({"code": "EA", "original": "EA"})
    );

    // The typed view agrees with the JSON.
    let Payload::OrderCreated(order) = e.payload() else {
        panic!("not an order.created payload");
    };
    assert_eq!(order.lines[1].quantity.value.as_str(), "24.5");
    assert_eq!(
        order.lines[0].product.gtin.as_ref().map(|g| g.as_str()),
        Some("04006381333931")
    );
}

#[test]
fn x12_004010_uses_the_same_mapping() {
    let x = one_event(&x12("004010", &[x12_set("0001", X12_ORDER)]));
    assert_eq!(x.source().version, "004010");
    assert_eq!(data(&x)["order_number"], "PO-4711");
}

#[test]
fn edifact_d01b_uses_the_same_mapping() {
    let text = edifact("9", EDIFACT_LINES).replace("ORDERS:D:96A:UN", "ORDERS:D:01B:UN");
    let e = one_event(&text);
    assert_eq!(e.source().version, "D01B");
    assert_eq!(data(&e)["lines"][1]["unit_price"], "0.75");
}

#[test]
fn purpose_cancel_gives_order_cancelled() {
    let body = X12_ORDER.replace("BEG*00*", "BEG*01*");
    let x = one_event(&x12("005010", &[x12_set("0001", &body)]));
    assert_eq!(x.event_type(), EventType::OrderCancelled);
    let Payload::OrderCancelled(order) = x.payload() else {
        panic!("not an order.cancelled payload");
    };
    assert_eq!(order.purpose.kind, PurposeKind::Cancel);
    assert_eq!(order.purpose.code, "01");

    let e = one_event(&edifact("1", EDIFACT_LINES));
    assert_eq!(e.event_type(), EventType::OrderCancelled);
    assert_eq!(data(&e)["purpose"], json!({"kind": "cancel", "code": "1"}));
}

#[test]
fn errors_are_per_message_and_name_the_field() {
    let bad_gtin = X12_ORDER.replace("4006381333931", "4006381333932");
    let no_number = X12_ORDER.replace("BEG*00*SA*PO-4711*", "BEG*00*SA**");
    let input = x12(
        "005010",
        &[
            x12_set("0001", X12_ORDER),
            x12_set("0002", &bad_gtin),
            x12_set("0003", &no_number),
        ],
    );
    let results = translate(&input);
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok(), "the good message still translates");

    let err = results[1].as_ref().expect_err("bad GTIN");
    assert_eq!(err.index, 1);
    assert_eq!(err.problems.len(), 1);
    let p = &err.problems[0];
    assert_eq!(p.field, "lines[1].gtin");
    assert!(
        p.path.starts_with("PO1[PO106=UP|EN|UK|EN13]/PO107"),
        "{}",
        p.path
    );
    assert_eq!(p.segment.as_deref(), Some("PO1 at segment 12"));
    assert_eq!(
        p.reason,
        "invalid GTIN \"4006381333932\": check digit is 2, expected 1"
    );
    assert!(
        err.to_string()
            .starts_with("message 2 (850 0002): lines[1].gtin ("),
        "{err}"
    );

    let err = results[2].as_ref().expect_err("missing BEG03");
    assert_eq!(err.message, "message 3 (850 0003)");
    assert_eq!(err.problems.len(), 1);
    assert_eq!(
        err.to_string(),
        "message 3 (850 0003): order_number (BEG03): missing"
    );
}

#[test]
fn edifact_errors_name_the_field_too() {
    let lines = EDIFACT_LINES
        .replace("4012345678901", "4012345678902")
        .replace("DTM+2:202403151200:203", "DTM+2:202402301200:203");
    let input = edifact("9", &lines).replace("DTM+2:202403151200:203", "DTM+2:202402301200:203");
    let results = translate(&input);
    let err = results[0].as_ref().expect_err("two problems");
    let text: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
    assert_eq!(err.problems.len(), 2, "{text:?}");
    assert_eq!(
        text[0],
        "requested_delivery_date (DTM[DTM01-1=2]/DTM01-2 or DTM[DTM01-1=64]/DTM01-2) in DTM at \
         segment 4: invalid date \"20240230\": no such day in the calendar"
    );
    assert!(
        text[1].starts_with("lines[2].gtin (LIN[LIN03-2=EN|SRV|UP]/LIN03-1 or")
            && text[1].ends_with(
                "in LIN at segment 14: invalid GTIN \"4012345678902\": check digit is 2, expected 1"
            ),
        "{}",
        text[1]
    );
}

#[test]
fn a_message_without_a_mapping_is_an_error_not_a_gap() {
    let input = x12("003010", &[x12_set("0001", X12_ORDER)]);
    let results = translate(&input);
    let err = results[0].as_ref().expect_err("no 003010 mapping");
    assert_eq!(
        err.to_string(),
        "message 1 (850 0001): message (ST/UNH): no mapping for 850 version \"003010\""
    );
}

// ---- the published schema ----

/// Checks `value` against the parts of JSON Schema the published schema uses (`$ref`, `type`,
/// `const`, `enum`, `required`, `properties`, `items`, `anyOf`, `oneOf`, `minLength`).
/// `pattern` is left to the types: reading the event back (below) runs the same checks.
fn schema_errors(value: &Value, schema: &Value, root: &Value, at: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/$defs/");
        errs.extend(schema_errors(value, &root["$defs"][name], root, at));
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        if !types.contains(&actual) {
            errs.push(format!("{at}: {actual} is not {types:?}"));
        }
    }
    if let Some(c) = schema.get("const")
        && c != value
    {
        errs.push(format!("{at}: {value} is not {c}"));
    }
    if let Some(Value::Array(e)) = schema.get("enum")
        && !e.contains(value)
    {
        errs.push(format!("{at}: {value} is not one of {e:?}"));
    }
    if let (Some(min), Some(s)) = (
        schema.get("minLength").and_then(Value::as_u64),
        value.as_str(),
    ) && (s.chars().count() as u64) < min
    {
        errs.push(format!("{at}: shorter than {min}"));
    }
    if let Value::Object(obj) = value {
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(k) = r.as_str()
                && !obj.contains_key(k)
            {
                errs.push(format!("{at}: missing {k}"));
            }
        }
        if let Some(Value::Object(props)) = schema.get("properties") {
            for (k, s) in props {
                if let Some(v) = obj.get(k) {
                    errs.extend(schema_errors(v, s, root, &format!("{at}.{k}")));
                }
            }
        }
    }
    if let (Value::Array(items), Some(s)) = (value, schema.get("items")) {
        for (i, v) in items.iter().enumerate() {
            errs.extend(schema_errors(v, s, root, &format!("{at}[{i}]")));
        }
    }
    if let Some(Value::Array(any)) = schema.get("anyOf")
        && !any
            .iter()
            .any(|s| schema_errors(value, s, root, at).is_empty())
    {
        errs.push(format!("{at}: matches none of anyOf"));
    }
    if let Some(Value::Array(one)) = schema.get("oneOf") {
        let n = one
            .iter()
            .filter(|s| schema_errors(value, s, root, at).is_empty())
            .count();
        if n != 1 {
            errs.push(format!("{at}: matches {n} of oneOf, not 1"));
        }
    }
    errs
}

pub(crate) fn assert_valid_event(event: &Event) {
    let path = workspace_root().join("specs/canonical/event.schema.json");
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .expect("schema is JSON");
    let json = serde_json::to_value(event).expect("serialises");
    let errs = schema_errors(&json, &schema, &schema, "$");
    assert!(errs.is_empty(), "{errs:#?}");
    let back: Event = serde_json::from_value(json).expect("reads back through the value types");
    assert_eq!(&back, event);
}

#[test]
fn translated_events_validate_against_the_published_schema() {
    assert_valid_event(&one_event(&x12("005010", &[x12_set("0001", X12_ORDER)])));
    assert_valid_event(&one_event(&edifact("9", EDIFACT_LINES)));
    assert_valid_event(&one_event(&edifact("1", EDIFACT_LINES)));
    // The checker does catch a wrong document.
    let mut json = serde_json::to_value(one_event(&edifact("9", EDIFACT_LINES))).expect("json");
    json["data"]["lines"][0]["quantity"]["value"] = json!(10);
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("specs/canonical/event.schema.json"))
            .expect("schema"),
    )
    .expect("schema is JSON");
    assert!(!schema_errors(&json, &schema, &schema, "$").is_empty());
}

// ---- the shared corpus ----

fn corpus_events(rel: &str) -> Option<Vec<Result<Event, MappingError>>> {
    let dir = shared_corpus()?;
    let path = dir.join(rel);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let ics = edi::Parser::new()
        .lenient(true)
        .parse(&bytes)
        .unwrap_or_else(|e| panic!("{rel}: {e}"));
    let m = defaults();
    Some(
        ics.iter()
            .flat_map(|ic| mapping::translate(ic, "corpus", &m))
            .collect(),
    )
}

fn corpus_orders(rel: &str) -> Option<Vec<Value>> {
    let results = corpus_events(rel)?;
    assert!(!results.is_empty(), "{rel}: no messages");
    Some(
        results
            .into_iter()
            .map(|r| {
                let event = r.unwrap_or_else(|e| panic!("{rel}: {e}"));
                assert_valid_event(&event);
                data(&event)
            })
            .collect(),
    )
}

#[test]
fn corpus_x12_orders_translate() {
    let Some(v) = corpus_orders("x12/nodex12-850.edi") else {
        return;
    };
    assert_eq!(v.len(), 1);
    let d = &v[0];
    assert_eq!(d["order_number"], "08292233294");
    assert_eq!(d["order_date"], "2010-11-27");
    assert_eq!(d["requested_delivery_date"], "2010-12-14");
    assert_eq!(d["parties"][0]["role"], "ship_to");
    assert_eq!(d["parties"][0]["id"], "0003947268292");
    assert_eq!(d["parties"][0]["address"]["city"], "SOLON");
    assert_eq!(
        d["references"],
        json!([{"qualifier": "DP", "value": "038"}, {"qualifier": "PS", "value": "R"}])
    );
    let lines = d["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), 6);
    assert_eq!(
        lines[0]["quantity"],
        json!({"value": "120", "unit": {"code": "EA", "original": "EA"}})
    );
    assert_eq!(lines[0]["unit_price"], "9.25");
    assert_eq!(lines[0]["product"]["vendor_sku"], "AB3542");
    assert_eq!(lines[0]["product"]["buyer_sku"], "065322-117");
    assert_eq!(lines[5]["product"]["description"], "ORANGE WIDGET");

    let Some(v) = corpus_orders("x12/nodex12-850_2.edi") else {
        return;
    };
    assert_eq!(v[0]["order_number"], "08292233294");

    // PO101 is absent: the line's position is its number (documented in mappings/README.md);
    // `KI` has no Rec 20 mapping, so the code is null and the original kept.
    let Some(v) = corpus_orders("x12/nodex12-850_3.edi") else {
        return;
    };
    let d = &v[0];
    assert_eq!(d["requested_delivery_date"], "2016-05-02");
    assert_eq!(d["parties"][0]["role"], "supplier");
    assert_eq!(d["lines"][0]["line_number"], "1");
    assert_eq!(
        d["lines"][0]["quantity"],
        json!({"value": "1", "unit": {"code": null, "original": "KI"}})
    );

    let Some(v) = corpus_orders("x12/x12types-004010_850.edi") else {
        return;
    };
    let d = &v[0];
    assert_eq!(d["order_number"], "A99999-01");
    assert_eq!(d["order_date"], "1997-02-14");
    assert_eq!(d["parties"][0]["role"], "bill_to");
    assert_eq!(
        d["lines"][0]["quantity"],
        json!({"value": "16", "unit": {"code": "CS", "original": "CA"}})
    );
    // UA (U.P.C./EAN case code 2-5-5) carries no check digit, so it is not read as a GTIN.
    assert_eq!(d["lines"][0]["product"]["gtin"], Value::Null);
}

#[test]
fn corpus_edifact_orders_translate() {
    let Some(v) = corpus_orders("edifact/pydifact-order.edi") else {
        return;
    };
    let d = &v[0];
    assert_eq!(d["order_number"], "801715918011");
    assert_eq!(d["order_date"], "2015-08-03");
    assert_eq!(d["requested_delivery_date"], "2015-08-06");
    let roles: Vec<&str> = d["parties"]
        .as_array()
        .expect("parties")
        .iter()
        .filter_map(|p| p["role"].as_str())
        .collect();
    assert_eq!(roles, ["supplier", "buyer", "ship_to"]);
    assert_eq!(d["parties"][1]["id"], "8711576000012");
    assert_eq!(
        d["references"],
        json!([{"qualifier": "PD", "value": "50515"}])
    );
    assert_eq!(d["lines"][0]["product"]["gtin"], "05020436373085");
    assert_eq!(d["lines"][1]["product"]["gtin"], "05020436373108");
    // QTY without a unit: the EANCOM default, pieces (documented in the mapping file).
    assert_eq!(
        d["lines"][0]["quantity"],
        json!({"value": "8", "unit": {"code": "H87", "original": "PCE"}})
    );

    let Some(v) = corpus_orders("edifact/pydifact-order2.edi") else {
        return;
    };
    let d = &v[0];
    assert_eq!(d["order_number"], "PO123456");
    assert_eq!(d["order_date"], "2025-03-22");
    assert_eq!(d["lines"][0]["unit_price"], "25.00");
    assert_eq!(d["lines"][0]["product"]["buyer_sku"], "ABC123");
}

#[test]
fn a_corpus_order_with_a_broken_gtin_is_reported() {
    // The corpus's GTINs are all valid; damage one the way a typo would and the message must
    // fail, naming the field, instead of passing the number on.
    let Some(dir) = shared_corpus() else {
        return;
    };
    let text =
        std::fs::read_to_string(dir.join("edifact/pydifact-order.edi")).expect("corpus file");
    let broken = text.replace("5020436373108", "5020436373109");
    let results = translate(&broken);
    let err = results[0].as_ref().expect_err("broken GTIN");
    assert_eq!(err.problems.len(), 1);
    assert_eq!(err.problems[0].field, "lines[2].gtin");
    assert_eq!(
        err.problems[0].reason,
        "invalid GTIN \"5020436373109\": check digit is 9, expected 8"
    );
}
