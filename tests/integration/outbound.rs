//! Events → EDI: every order response, shipment notice and invoice the project has (fixtures,
//! examples and, when present, the shared corpus) is translated to events, written back as EDI
//! with the same mappings, and the EDI must validate clean under our specs and translate to the
//! same `data`. Written in the other standard too, it validates clean and keeps its meaning.

use std::path::{Path, PathBuf};

use edigate_tests::{files_in, shared_corpus, workspace_root};
use events::{Event, Payload};
use mapping::outbound::{Envelope, compose};
use mapping::spec::Syntax;
use serde_json::Value;
use validate::{Specs, validate};

use crate::mapping::assert_valid_event;

fn specs() -> Specs {
    Specs::load(&workspace_root().join("specs")).expect("specs load")
}

fn envelope(syntax: Syntax, version: &str) -> Envelope {
    let delimiters = match syntax {
        Syntax::X12 => edi::Delimiters::X12_DEFAULT,
        Syntax::Edifact => edi::Delimiters::EDIFACT_DEFAULT,
    };
    let id = |s: &str| match syntax {
        Syntax::X12 => (s.to_owned(), "ZZ".to_owned()),
        Syntax::Edifact => (s.to_owned(), "14".to_owned()),
    };
    Envelope {
        syntax,
        version: version.to_owned(),
        delimiters,
        sender: id("WIDGETCO"),
        receiver: id("ACMERETAIL"),
        application_ids: None,
        date: "20261123".into(),
        time: "1015".into(),
        interchange_control: 907,
        group_control: 55,
        message_control: 1,
        association: None,
        test: false,
    }
}

/// What the project's documents hold that goes out: events of the three outbound types, with
/// the syntax and version they came in.
fn outbound_events(files: &[PathBuf]) -> Vec<(PathBuf, Event)> {
    let mappings = mapping::Mappings::builtin().expect("the built-in mappings load");
    let mut out = Vec::new();
    for f in files {
        let Ok(bytes) = std::fs::read(f) else {
            continue;
        };
        let Ok(ics) = edi::Parser::new().lenient(true).parse(&bytes) else {
            continue;
        };
        for ic in &ics {
            for event in mapping::translate(ic, "acme", &mappings)
                .into_iter()
                .flatten()
            {
                if matches!(
                    event.payload(),
                    Payload::OrderResponse(_) | Payload::ShipmentNotice(_) | Payload::Invoice(_)
                ) {
                    out.push((f.clone(), event));
                }
            }
        }
    }
    out
}

fn syntax_of(event: &Event) -> Syntax {
    match event.source().standard {
        events::Standard::X12 => Syntax::X12,
        events::Standard::Edifact => Syntax::Edifact,
        // The events written back here are read from the EDI fixtures only.
        events::Standard::Xml => panic!("{}: not an EDI event", event.id()),
    }
}

/// Writes `payload`, checks the EDI validates clean, and returns the one event it reads back as.
fn write_and_read_back(payload: &Payload, env: &Envelope, specs: &Specs, what: &str) -> Event {
    let mappings = mapping::Mappings::builtin().expect("the built-in mappings load");
    let bytes = compose(&mappings, payload, env).unwrap_or_else(|e| panic!("{what}: {e}"));
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let ics = edi::parse(&bytes).unwrap_or_else(|e| panic!("{what}: {e}\n{text}"));
    assert_eq!(ics.len(), 1, "{what}: one interchange\n{text}");
    let report = validate(&ics[0], specs);
    assert!(report.is_clean(), "{what}: not clean:\n{text}\n{report:#?}");
    let mut events: Vec<Event> = mapping::translate(&ics[0], "acme", &mappings)
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("{what}: {e}\n{text}")))
        .collect();
    assert_eq!(events.len(), 1, "{what}\n{text}");
    let event = events.remove(0);
    assert_valid_event(&event);
    event
}

fn data(event: &Event) -> Value {
    serde_json::to_value(event).expect("serialises")["data"].clone()
}

fn project_documents() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut files = files_in(&root.join("fixtures/business"));
    files.extend(files_in(&root.join("fixtures/edifact")));
    files.extend(files_in(&root.join("fixtures/x12")));
    files.extend(files_in(&root.join("deploy/examples/inbound")));
    files
}

fn round_trip_all(files: &[PathBuf], specs: &Specs) -> usize {
    let mut n = 0;
    for (file, event) in outbound_events(files) {
        let what = format!("{} ({})", file.display(), event.event_type());
        let syntax = syntax_of(&event);
        let env = envelope(syntax, &event.source().version);
        let back = write_and_read_back(event.payload(), &env, specs, &what);
        assert_eq!(back.event_type(), event.event_type(), "{what}");
        assert_eq!(data(&back), data(&event), "{what}: the data changed");
        n += 1;
    }
    n
}

#[test]
fn every_outbound_document_of_the_project_round_trips_to_the_same_data() {
    let specs = specs();
    let files = project_documents();
    let n = round_trip_all(&files, &specs);
    let kinds: Vec<(Syntax, events::EventType)> = outbound_events(&files)
        .iter()
        .map(|(_, e)| (syntax_of(e), e.event_type()))
        .collect();
    // Every outbound type in both standards is covered by the project's own fixtures.
    for t in [
        events::EventType::OrderResponse,
        events::EventType::ShipmentNotice,
        events::EventType::Invoice,
    ] {
        for s in [Syntax::X12, Syntax::Edifact] {
            assert!(kinds.contains(&(s, t)), "no {s:?} {t} fixture: {kinds:?}");
        }
    }
    assert!(n >= 6, "{n} round trips");
}

#[test]
fn the_corpus_outbound_documents_round_trip_to_the_same_data() {
    let Some(corpus) = shared_corpus() else {
        return;
    };
    let mut files = Vec::new();
    for sub in ["x12", "edifact"] {
        collect(&corpus.join(sub), &mut files);
    }
    let n = round_trip_all(&files, &specs());
    assert!(n >= 3, "{n} round trips from the corpus");
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for f in files_in(dir) {
        out.push(f);
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                collect(&e.path(), out);
            }
        }
    }
}

/// Removes what is coded per standard (codes kept beside their meaning, unit codes as sent,
/// qualifiers): what is left is what the document means.
fn meaning(mut v: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for k in ["code", "original", "id_qualifier", "references"] {
                    map.remove(k);
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

#[test]
fn written_in_the_other_standard_the_document_keeps_its_meaning() {
    let specs = specs();
    let mut n = 0;
    for (file, event) in outbound_events(&project_documents()) {
        let (syntax, version) = match syntax_of(&event) {
            Syntax::X12 => (Syntax::Edifact, "D96A"),
            Syntax::Edifact => (Syntax::X12, "004010"),
        };
        // Reference qualifiers are the partner's own codes of one standard; they do not cross.
        let mut json = serde_json::to_value(&event).expect("serialises");
        json["data"]["references"] = Value::Array(vec![]);
        let payload_of = |json: &Value| -> Payload {
            serde_json::from_value(serde_json::json!({"type": json["type"], "data": json["data"]}))
                .expect("reads back")
        };
        let what = format!("{} as {syntax:?} {version}", file.display());
        // EDIFACT 1229 has no backorder: the line is refused by name, not sent as something
        // else; answered as accepted with changes, it goes.
        let backordered = json["data"]["lines"]
            .as_array()
            .is_some_and(|l| l.iter().any(|l| l["status"]["kind"] == "backordered"));
        if backordered && syntax == Syntax::Edifact {
            let mappings = mapping::Mappings::builtin().expect("loads");
            let err = compose(&mappings, &payload_of(&json), &envelope(syntax, version))
                .expect_err("no 1229 code means backordered")
                .to_string();
            assert!(
                err.contains("lines.status") && err.contains("\"backordered\""),
                "{err}"
            );
            for line in json["data"]["lines"].as_array_mut().into_iter().flatten() {
                if line["status"]["kind"] == "backordered" {
                    line["status"] =
                        serde_json::json!({"kind": "accepted_with_changes", "code": "IC"});
                }
            }
        }
        let payload = payload_of(&json);
        let back = write_and_read_back(&payload, &envelope(syntax, version), &specs, &what);
        let mut expected = json["data"].clone();
        if syntax == Syntax::X12 {
            // The 856 has no number of its own for a notice's line (LIN01 repeats the order's
            // line number): a DESADV line number does not cross.
            if let Some(packages) = expected.get_mut("packages").and_then(Value::as_array_mut) {
                for line in packages.iter_mut().flat_map(|p| {
                    p["lines"]
                        .as_array_mut()
                        .map(|l| l.iter_mut())
                        .into_iter()
                        .flatten()
                }) {
                    line["line_number"] = Value::Null;
                }
            }
            // An 856 says when it was written (BSN03), which reads as the ship date when no
            // DTM 011 gives one: an ASN is sent as the goods leave.
            if expected.get("shipment_id").is_some() && expected["ship_date"].is_null() {
                expected["ship_date"] = Value::String("2026-11-23".into());
            }
            // The 810 has no line amount (it is quantity × price) and no subtotal element.
            if let Some(lines) = expected.get_mut("lines").and_then(Value::as_array_mut) {
                for line in lines.iter_mut().filter(|l| l.get("amount").is_some()) {
                    line["amount"] = Value::Null;
                }
            }
            if let Some(totals) = expected.get_mut("totals") {
                totals["subtotal"] = Value::Null;
            }
        }
        assert_eq!(
            meaning(data(&back)),
            meaning(expected),
            "{what}: the meaning changed"
        );
        n += 1;
    }
    assert!(n >= 6, "{n}");
}

#[test]
fn what_cannot_be_written_is_refused_with_the_field_and_template() {
    let mappings = mapping::Mappings::builtin().expect("loads");
    let (_, event) = outbound_events(&project_documents())
        .into_iter()
        .find(|(_, e)| e.event_type() == events::EventType::Invoice && syntax_of(e) == Syntax::X12)
        .expect("an X12 invoice fixture");
    // TDS01 implies two decimals: a total with three is not rounded, it is refused.
    let mut json = serde_json::to_value(&event).expect("serialises");
    json["data"]["totals"]["total"] = Value::String("10.125".into());
    let payload: Payload =
        serde_json::from_value(serde_json::json!({"type": "invoice", "data": json["data"]}))
            .expect("reads back");
    let err = compose(&mappings, &payload, &envelope(Syntax::X12, "004010"))
        .expect_err("three decimals do not fit TDS01")
        .to_string();
    assert!(
        err.contains("TDS*{total}") && err.contains("10.125"),
        "{err}"
    );

    // No mapping writes inventory reports: said, not guessed.
    let inventory: Payload = serde_json::from_value(serde_json::json!({
        "type": "inventory.report",
        "data": {"report_date": "2026-11-23", "location": null, "items": []}
    }))
    .expect("an inventory report");
    let err = compose(&mappings, &inventory, &envelope(Syntax::X12, "004010"))
        .expect_err("no outbound 846")
        .to_string();
    assert!(
        err.contains("inventory.report") && err.contains("[outbound]"),
        "{err}"
    );
}

#[test]
fn a_bad_outbound_table_is_refused_when_loading_with_what_to_write() {
    let base = std::fs::read_to_string(workspace_root().join("mappings/x12/855.toml"))
        .expect("the 855 mapping");
    let cases = [
        (
            "\"CTT*{count:PO1}\"",
            "\"CTT*{line_total}\"",
            "{line_total} is not a field here",
        ),
        ("\"CTT*{count:PO1}\"", "\"ctt*1\"", "is not a segment tag"),
        (
            "\"CTT*{count:PO1}\"",
            "\"CTT*(1*{order_number}\"",
            "unclosed",
        ),
        (
            "each = \"references\"",
            "each = \"packages\"",
            "collection of shipment notices",
        ),
        (
            "supplier = \"SU\"",
            "supplier = \"BY\"",
            "does not mean \"supplier\"",
        ),
    ];
    for (from, to, expected) in cases {
        assert!(base.contains(from), "{from}");
        let text = base.replacen(from, to, 1);
        let mut m = mapping::Mappings::default();
        let err = m
            .add_toml(Path::new("partner-855.toml"), &text)
            .expect_err(to)
            .to_string();
        assert!(
            err.contains("partner-855.toml") && err.contains(expected),
            "{to}: {err}"
        );
    }
}
