//! The `edigate` command as a user runs it: exit statuses, stdout and stderr.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn edigate(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edigate"));
    cmd.args(args)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().expect("edigate runs");
    if let Some(input) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write stdin");
    }
    child.wait_with_output().expect("edigate finishes")
}

const ISA: &str = "ISA*00*          *00*          *ZZ*BUYER          *ZZ*SELLER         *240101*1200*U*00401*000000042*0*P*>~\n";

fn order(body: &str) -> String {
    let n = body.matches('~').count() + 2;
    format!(
        "{ISA}GS*PO*BUYER*SELLER*20240101*1200*7*X*004010~\nST*850*0001~\n{body}SE*{n}*0001~\nGE*1*7~\nIEA*1*000000042~\n"
    )
}

const BODY: &str =
    "BEG*00*SA*PO-1**20240101~\nN1*ST*ACME DC*92*0012~\nPO1*1*10*EA*9.99*VP*SKU1~\nCTT*1~\n";

#[test]
fn parse_prints_the_structure_as_json() {
    let out = edigate(&["parse", "-"], Some(order(BODY).as_bytes()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let ic = &v["interchanges"][0];
    assert_eq!(ic["standard"], "x12");
    assert_eq!(ic["sender"]["id"], "BUYER");
    assert_eq!(ic["control_number"], "000000042");
    let msg = &ic["groups"][0]["messages"][0];
    assert_eq!(msg["type"], "850");
    assert_eq!(msg["segments"][1]["elements"][2], "PO-1");
}

#[test]
fn parse_errors_exit_1_and_name_the_place() {
    let broken = order(BODY).replace("IEA*1*000000042~\n", "");
    let out = edigate(&["parse", "-"], Some(broken.as_bytes()));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no IEA trailer") && err.contains("interchange 1"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("still JSON");
    assert_eq!(v["error"]["interchange"], 1);
    let out = edigate(&["parse", "no/such/file.edi"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn validate_exits_0_when_accepted_and_1_with_codes_when_not() {
    let specs = root().join("tests/data/specs-mini");
    let specs = specs.to_string_lossy();
    let out = edigate(
        &["validate", "--specs", &specs, "-"],
        Some(order(BODY).as_bytes()),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let bad = order(&BODY.replace("BEG*00", "BEG*99"));
    let out = edigate(&["validate", "--specs", &specs, "-"], Some(bad.as_bytes()));
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("BEG01 (353) \"99\""), "{text}");
    assert!(text.contains("invalid code value [AK4/IK4 7]"), "{text}");

    let out = edigate(
        &["validate", "--specs", &specs, "--json", "-"],
        Some(bad.as_bytes()),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let seg = &v["interchanges"][0]["groups"][0]["messages"][0]["segments"][0];
    assert_eq!(seg["tag"], "BEG");
    assert_eq!(seg["elements"][0]["code"], "7");

    let out = edigate(
        &[
            "validate",
            "--specs",
            &specs,
            "--ack",
            "--timestamp",
            "202601020304",
            "-",
        ],
        Some(bad.as_bytes()),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\nAK4*1*353*7*99~\nAK5*R*5~\nAK9*R*1*1*0~\n"),
        "{text}"
    );
    assert!(text.contains("*260102*0304*"), "{text}");

    let out = edigate(
        &["validate", "--specs", "no/such/dir", "-"],
        Some(bad.as_bytes()),
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn translate_prints_one_event_per_message_and_exits_1_on_a_bad_message() {
    let out = edigate(
        &["translate", "deploy/examples/inbound/order-850.x12"],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON event per line"))
        .collect();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "order.created");
    assert_eq!(events[0]["data"]["order_number"], "PO-2026-0042");
    assert_eq!(
        events[0]["data"]["lines"][1]["quantity"]["unit"]["original"],
        "CA"
    );

    // A GTIN with a wrong check digit: the message is reported by field, not translated.
    let input = std::fs::read_to_string(root().join("deploy/examples/inbound/order-850.x12"))
        .expect("example");
    let bad = input.replace("012345678905", "012345678906");
    let out = edigate(&["translate", "-"], Some(bad.as_bytes()));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("gtin") && err.contains("850"), "{err}");
}

#[test]
fn partner_check_accepts_the_examples_and_names_each_partner() {
    let out = edigate(&["partner", "check", "deploy/examples/partners"], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(
        stdout.contains("partner northwind (Northwind Distribution), X12 004010 as 01:123456789"),
        "{stdout}"
    );
}

#[test]
fn partner_check_points_at_the_mistake_and_fails() {
    let dir = std::env::temp_dir().join(format!("edigate-cli-partner-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("typo.toml");
    std::fs::write(
        &bad,
        "[edifact]\nversion = \"D96A\"\npartner = { id = \"5400000000000\" }\nmessages = [\"ORDRES\"]\n",
    )
    .expect("write");
    let out = edigate(
        &["partner", "check", bad.to_str().expect("utf-8 path")],
        None,
    );
    std::fs::remove_dir_all(&dir).expect("cleanup");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("typo.toml:4:13: no mapping for message \"ORDRES\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("help: did you mean \"ORDERS\"?"),
        "{stderr}"
    );
}

#[test]
fn translate_with_partners_applies_the_senders_overrides() {
    let file = "deploy/examples/inbound/order-850-4010.x12";
    let out = edigate(
        &["translate", "--partners", "deploy/examples/partners", file],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let event: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(event["partner"], "northwind");
    assert_eq!(
        event["data"]["lines"][0]["product"]["vendor_sku"],
        "NW-WID-100-12"
    );

    // Without the partner files the same interchange gets the defaults.
    let out = edigate(&["translate", file], None);
    let event: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(event["partner"], "123456789");
    assert_eq!(
        event["data"]["lines"][0]["product"]["vendor_sku"],
        serde_json::Value::Null
    );
}

/// Every segment of an XML rendering as (tag, [(element position, text)]), components and
/// repetitions joined as `a:b` and `a^b`, read back with an XML parser.
fn segments_from_xml(xml: &[u8]) -> Vec<(String, Vec<(usize, String)>)> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(xml);
    let attr = |e: &quick_xml::events::BytesStart<'_>, name: &str| -> String {
        e.try_get_attribute(name)
            .expect("attribute")
            .map(|a| a.unescape_value().expect("value").into_owned())
            .unwrap_or_default()
    };
    let mut out: Vec<(String, Vec<(usize, String)>)> = Vec::new();
    // Open values: (name, position, their own text, their child values by position). Text
    // counts only in a value without children; the rest is indentation.
    type Open = (String, usize, String, Vec<(usize, String)>, char);
    let mut open: Vec<Open> = Vec::new();
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"segment" => {
                out.push((attr(&e, "tag"), Vec::new()));
            }
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if matches!(name.as_str(), "element" | "component" | "repetition") {
                    let pos: usize = attr(&e, "position").parse().expect("position");
                    open.push((name, pos, String::new(), Vec::new(), ':'));
                }
            }
            Event::Text(t) => {
                if let Some(top) = open.last_mut() {
                    top.2.push_str(&t.decode().expect("text"));
                }
            }
            // Entity references come apart from the text around them.
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().expect("char ref") {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().expect("name");
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .expect("a predefined entity")
                            .to_string()
                    }
                };
                if let Some(top) = open.last_mut() {
                    top.2.push_str(&resolved);
                }
            }
            Event::End(e)
                if matches!(e.name().as_ref(), b"element" | b"component" | b"repetition") =>
            {
                let (name, pos, text, children, sep) = open.pop().expect("balanced");
                let value = if children.is_empty() {
                    text
                } else {
                    // Left-out empty children come back as empty places between separators.
                    join_by_position(&children, sep)
                };
                match open.last_mut() {
                    Some(parent) => {
                        parent.4 = if name == "repetition" { '^' } else { ':' };
                        parent.3.push((pos, value));
                    }
                    None => {
                        if let Some(seg) = out.last_mut() {
                            seg.1.push((pos, value));
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    normalise(out)
}

fn join_by_position(children: &[(usize, String)], sep: char) -> String {
    let last = children.iter().map(|(p, _)| *p).max().unwrap_or(0);
    let mut out = String::new();
    for p in 1..=last {
        if p > 1 {
            out.push(sep);
        }
        if let Some((_, t)) = children.iter().find(|(q, _)| *q == p) {
            out.push_str(t);
        }
    }
    out
}

/// Both renderings compared on what they carry: trailing empty places dropped, and values made
/// only of separators (ISA11, ISA16) left out.
fn normalise(mut segs: Vec<(String, Vec<(usize, String)>)>) -> Vec<(String, Vec<(usize, String)>)> {
    for (_, elements) in &mut segs {
        for (_, t) in elements.iter_mut() {
            while t.ends_with([':', '^']) {
                t.pop();
            }
        }
        elements.retain(|(_, t)| !t.trim_matches([':', '^']).is_empty());
    }
    segs
}

/// The same from the JSON rendering, empty elements left out as the XML does.
fn segments_from_json(v: &serde_json::Value) -> Vec<(String, Vec<(usize, String)>)> {
    fn text(e: &serde_json::Value) -> String {
        match e {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(c) => c.iter().map(text).collect::<Vec<_>>().join(":"),
            serde_json::Value::Object(o) => o["repetitions"]
                .as_array()
                .expect("repetitions")
                .iter()
                .map(text)
                .collect::<Vec<_>>()
                .join("^"),
            _ => String::new(),
        }
    }
    fn seg(s: &serde_json::Value) -> (String, Vec<(usize, String)>) {
        let elements = s["elements"].as_array().expect("elements");
        (
            s["tag"].as_str().expect("tag").to_string(),
            elements
                .iter()
                .enumerate()
                .map(|(i, e)| (i + 1, text(e)))
                .collect(),
        )
    }
    let mut out = Vec::new();
    for ic in v["interchanges"].as_array().expect("interchanges") {
        out.push(seg(&ic["header"]));
        for s in ic["service_segments"].as_array().expect("service") {
            out.push(seg(s));
        }
        for g in ic["groups"].as_array().expect("groups") {
            out.push(seg(&g["header"]));
            for m in g["messages"].as_array().expect("messages") {
                out.extend(m["segments"].as_array().expect("segments").iter().map(seg));
            }
            if !g["trailer"].is_null() {
                out.push(seg(&g["trailer"]));
            }
        }
        for m in ic["messages"].as_array().expect("messages") {
            out.extend(m["segments"].as_array().expect("segments").iter().map(seg));
        }
        if !ic["trailer"].is_null() {
            out.push(seg(&ic["trailer"]));
        }
    }
    normalise(out)
}

#[test]
fn parse_as_xml_carries_every_segment_and_value_of_the_json() {
    let mut checked = 0;
    for dir in ["fixtures/x12", "fixtures/edifact", "fixtures/business"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
            .expect("fixtures")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        for file in files {
            let name = file.to_str().expect("utf-8 path");
            let json = edigate(&["parse", "--lenient", name], None);
            let xml = edigate(&["parse", "--lenient", "--format", "xml", name], None);
            assert_eq!(json.status.code(), xml.status.code(), "{name}");
            if !json.status.success() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
            let from_json = segments_from_json(&v);
            let from_xml = segments_from_xml(&xml.stdout);
            assert!(!from_xml.is_empty(), "{name}");
            assert_eq!(from_xml, from_json, "{name}");
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} fixtures compared");
}

#[test]
fn xml_output_escapes_what_xml_reserves() {
    let body = "BEG*00*SA*PO<1&\"2\"**20240101~\nN1*ST*A&B DC*92*0012~\nPO1*1*10*EA*9.99*VP*SKU1~\nCTT*1~\n";
    let out = edigate(
        &["parse", "--format", "xml", "-"],
        Some(order(body).as_bytes()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(
        text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
        "{text}"
    );
    assert!(text.contains("PO&lt;1&amp;"), "{text}");
    let segs = segments_from_xml(text.as_bytes());
    let beg = segs.iter().find(|(t, _)| t == "BEG").expect("BEG");
    assert_eq!(beg.1[2], (3, "PO<1&\"2\"".to_string()));
}

#[test]
fn translate_explain_names_the_rule_and_segment_of_each_field() {
    let file = "deploy/examples/inbound/order-850-4010.x12";
    let out = edigate(
        &[
            "translate",
            "--explain",
            "--partners",
            "deploy/examples/partners",
            file,
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "# deploy/examples/inbound/order-850-4010.x12: interchange 000005120, message 850 0001"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("order_number = \"NW-88213\" <- BEG03 (BEG at segment 2)"),
        "{stderr}"
    );
    // Northwind's override is the rule that found the vendor's item number.
    assert!(
        stderr.contains(
            "lines[1].vendor_sku = \"NW-WID-100-12\" <- PO1[PO106=SK|VN]/PO107 (PO1 at segment 8)"
        ),
        "{stderr}"
    );
    // The event itself is unchanged on stdout.
    let event: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(event["data"]["order_number"], "NW-88213");
}

// ---- XML documents ----

fn xml_fixture(name: &str) -> String {
    std::fs::read_to_string(root().join("fixtures/xml").join(name)).expect("fixture")
}

#[test]
fn translate_reads_xml_told_by_its_first_character() {
    let out = edigate(&["translate", "fixtures/xml/ubl-order.xml"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["type"], "order.created");
    assert_eq!(lines[0]["source"]["standard"], "xml");
    // Without --partner, the partner is the sender the mapping reads.
    assert_eq!(lines[0]["partner"], "4012345000009");

    // From standard input, after a byte order mark and white space, and named with --partner.
    let input = format!("\u{FEFF}\n  {}", xml_fixture("cxml-order-request.xml"));
    let out = edigate(
        &["translate", "-", "--partner", "buyer-gmbh"],
        Some(input.as_bytes()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["partner"], "buyer-gmbh");
    assert_eq!(v["source"]["message"], "OrderRequest");
}

#[test]
fn translate_reports_broken_xml_with_its_byte_offset_and_exits_1() {
    let broken = "<?xml version=\"1.0\"?>\n<Order xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Order-2\"><ID>1</Order>";
    let out = edigate(&["translate", "-"], Some(broken.as_bytes()));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("-: at byte "), "{err}");
    assert!(err.contains("malformed XML"), "{err}");

    let unknown = "<Catalog xmlns=\"urn:example:catalog\"/>";
    let out = edigate(&["translate", "-"], Some(unknown.as_bytes()));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no XML mapping for document {urn:example:catalog}Catalog"),
        "{err}"
    );

    let bad_gtin = xml_fixture("ubl-order.xml").replace(">4006381333931<", ">4006381333932<");
    let out = edigate(&["translate", "-"], Some(bad_gtin.as_bytes()));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("document Order PO-4711: lines[1].gtin (cac:Item/cac:StandardItemIdentification/cbc:ID[@schemeID=0160]) in <ID> at byte "),
        "{err}"
    );
}

#[test]
fn translate_explain_names_the_xml_path_of_each_field() {
    let out = edigate(
        &[
            "translate",
            "--explain",
            "fixtures/xml/ubl-despatch-advice.xml",
        ],
        None,
    );
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("# fixtures/xml/ubl-despatch-advice.xml: document DespatchAdvice"),
        "{err}"
    );
    assert!(
        err.contains("  shipment_id = \"DA-2024-0815\" <- cbc:ID (<ID> at byte "),
        "{err}"
    );
    assert!(
        err.contains(
            "  lines[2].unit = \"H87\" <- cbc:DeliveredQuantity/@unitCode (<DeliveredQuantity> at byte "
        ),
        "{err}"
    );
}

#[test]
fn translate_with_partners_finds_an_xml_sender_by_its_partner_file() {
    // EuroFoods (deploy/examples/partners/eurofoods.toml) sends this order as UBL, to us.
    let order = xml_fixture("ubl-order.xml")
        .replace(
            "<cbc:EndpointID schemeID=\"0088\">4012345000009<",
            "<cbc:EndpointID schemeID=\"0088\">5412345000013<",
        )
        .replace(
            "<cbc:EndpointID schemeID=\"0088\">4098765000003<",
            "<cbc:EndpointID schemeID=\"0088\">4012345000009<",
        );
    let out = edigate(
        &["translate", "--partners", "deploy/examples/partners", "-"],
        Some(order.as_bytes()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["partner"], "eurofoods");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // An unknown sender is said, and the defaults translate the document.
    let out = edigate(
        &[
            "translate",
            "--partners",
            "deploy/examples/partners",
            "fixtures/xml/ubl-order.xml",
        ],
        None,
    );
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no partner file has XML sender 0088:4012345000009"),
        "{err}"
    );
}
