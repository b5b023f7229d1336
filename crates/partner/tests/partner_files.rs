//! Partner files as people write them: the examples load and identify their own interchanges,
//! overrides change translation, and every mistake is named with its line, column and a fix.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

use partner::{
    Diagnostic, DuplicateAction, Exchange, FunctionalAck, Identified, IdentifiedXml, Partner,
    Partners, Ta1Policy,
};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn examples() -> Partners {
    Partners::load(&root().join("deploy/examples/partners")).unwrap()
}

fn inbound(name: &str) -> Vec<u8> {
    fs::read(root().join("deploy/examples/inbound").join(name)).unwrap()
}

/// The problems of one file's text, which must not load.
fn problems(name: &str, text: &str) -> Vec<Diagnostic> {
    match Partner::from_toml(Path::new(name), text) {
        Ok(p) => panic!("{name} loaded but should not: {p:?}"),
        Err(e) => e.0,
    }
}

const GOOD_X12: &str = r#"name = "Test"
[x12]
version = "005010"
partner = { qualifier = "ZZ", id = "SENDER" }
messages = ["850"]
"#;

#[test]
fn example_partners_load_with_their_settings() {
    let partners = examples();
    let ids: Vec<&str> = partners.all().iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["acme-retail", "eurofoods", "northwind"]);

    let acme = partners.get("acme-retail").unwrap();
    let Exchange::X12(x) = &acme.exchange else {
        panic!("acme is X12")
    };
    assert_eq!(x.functional_ack, FunctionalAck::Ack999);
    assert_eq!(x.ta1, Ta1Policy::OnError);
    assert_eq!(acme.duplicates.action, DuplicateAction::Reject);
    assert_eq!(acme.duplicates.window_days, 30);

    let northwind = partners.get("northwind").unwrap();
    let Exchange::X12(x) = &northwind.exchange else {
        panic!("northwind is X12")
    };
    assert_eq!(x.partner.gs.as_deref(), Some("NORTHWINDDIST"));
    assert_eq!(x.ta1, Ta1Policy::Never);
    assert_eq!(northwind.duplicates.action, DuplicateAction::Flag);

    let euro = partners.get("eurofoods").unwrap();
    assert!(matches!(euro.exchange, Exchange::Edifact(_)));
    assert_eq!(euro.exchange.version(), "D96A");
    let xml = euro.xml.as_ref().unwrap();
    assert_eq!(
        (xml.partner.qualifier.as_deref(), xml.partner.id.as_str()),
        (Some("0088"), "5412345000013")
    );
    assert!(partners.get("acme-retail").unwrap().xml.is_none());
}

#[test]
fn example_interchanges_identify_their_partner() {
    let partners = examples();
    for (file, expected) in [
        ("order-850.x12", "acme-retail"),
        ("order-850-4010.x12", "northwind"),
        ("order-orders.edi", "eurofoods"),
    ] {
        let bytes = inbound(file);
        let ics = edi::Parser::new().parse(&bytes).unwrap();
        match partners.identify(&ics[0]) {
            Identified::Partner(p) => assert_eq!(p.id, expected, "{file}"),
            other => panic!("{file}: {other:?}"),
        }
    }
}

#[test]
fn unknown_sender_and_wrong_receiver_are_told_apart() {
    let partners = examples();
    let acme = String::from_utf8(inbound("order-850.x12")).unwrap();

    let stranger = acme.replace("ZZ*ACMERETAIL     *", "ZZ*STRANGER       *");
    let ics = edi::Parser::new().parse(stranger.as_bytes()).unwrap();
    match partners.identify(&ics[0]) {
        Identified::Unknown { sender } => assert_eq!(sender.id, "STRANGER"),
        other => panic!("{other:?}"),
    }

    let elsewhere = acme.replace("ZZ*WIDGETCO       *", "ZZ*OTHERCO        *");
    let ics = edi::Parser::new().parse(elsewhere.as_bytes()).unwrap();
    match partners.identify(&ics[0]) {
        Identified::NotForUs { partner, receiver } => {
            assert_eq!(partner.id, "acme-retail");
            assert_eq!(receiver.id, "OTHERCO");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn overrides_change_only_what_they_state() {
    let partners = examples();
    let bytes = inbound("order-850-4010.x12");
    let ics = edi::Parser::new().parse(&bytes).unwrap();

    let with = |m: &mapping::Mappings| {
        let event = mapping::translate(&ics[0], "northwind", m)
            .remove(0)
            .unwrap();
        serde_json::to_value(&event).unwrap()
    };
    let defaults = with(&mapping::Mappings::builtin().unwrap());
    let northwind = with(&partners.get("northwind").unwrap().mappings);

    let line = &northwind["data"]["lines"][0];
    assert_eq!(line["product"]["vendor_sku"], "NW-WID-100-12");
    assert_eq!(line["quantity"]["unit"]["code"], "CS");
    assert_eq!(line["quantity"]["unit"]["original"], "CS");
    let default_line = &defaults["data"]["lines"][0];
    assert_eq!(
        default_line["product"]["vendor_sku"],
        serde_json::Value::Null
    );
    assert_eq!(
        default_line["quantity"]["unit"]["code"],
        serde_json::Value::Null
    );
    // Everything the override does not mention is the default's.
    assert_eq!(line["product"]["gtin"], default_line["product"]["gtin"]);
    assert_eq!(northwind["data"]["parties"], defaults["data"]["parties"]);
    assert_eq!(
        northwind["data"]["lines"][1]["quantity"]["unit"]["code"],
        "EA"
    );
}

#[test]
fn the_id_defaults_to_the_file_name() {
    let p = Partner::from_toml(Path::new("dir/globex.toml"), GOOD_X12).unwrap();
    assert_eq!(p.id, "globex");
    assert_eq!(p.name, "Test");
}

#[test]
fn an_unknown_key_is_named_with_its_line_and_a_suggestion() {
    let text = GOOD_X12.replace("messages", "mesages");
    let all = problems("p.toml", &text);
    assert_eq!(all.len(), 1, "{all:?}");
    let d = &all[0];
    assert_eq!(d.line, 5, "{d}");
    assert!(d.message.contains("mesages"), "{d}");
    assert_eq!(d.hint.as_deref(), Some("did you mean `messages`?"), "{d}");
}

#[test]
fn a_bad_policy_value_lists_the_choices() {
    let text = format!("{GOOD_X12}ta1 = \"sometimes\"\n");
    let d = &problems("p.toml", &text)[0];
    assert_eq!(d.line, 6, "{d}");
    let hint = d.hint.as_deref().unwrap_or("");
    assert!(
        hint.contains("`always`") && hint.contains("`on_error`"),
        "{d}"
    );
}

#[test]
fn semantic_problems_are_all_reported_at_their_values() {
    let text = r#"
[x12]
version = "004010"
partner = { qualifier = "ZZZ", id = "A-VERY-LONG-SENDER-ID" }
messages = ["0850", "855"]
ack = "999"
"#;
    let all = problems("p.toml", text);
    let lines: Vec<usize> = all.iter().map(|d| d.line).collect();
    assert_eq!(lines, [4, 4, 5, 6], "{all:#?}");
    assert!(all[0].message.contains("two letters"), "{}", all[0]);
    assert!(all[1].message.contains("1 to 15"), "{}", all[1]);
    assert_eq!(all[2].column, 13, "{}", all[2]);
    assert!(
        all[2]
            .hint
            .as_deref()
            .unwrap()
            .starts_with("did you mean \"850\"?"),
        "{}",
        all[2]
    );
    assert!(
        all[3].message.contains("999 is defined from 005010"),
        "{}",
        all[3]
    );
}

#[test]
fn an_unknown_version_lists_the_known_ones() {
    let text = GOOD_X12.replace("005010", "003040");
    let all = problems("p.toml", &text);
    assert_eq!(all[0].line, 3, "{}", all[0]);
    let hint = all[0].hint.as_deref().unwrap();
    assert!(
        hint.contains("004010") && hint.contains("005010"),
        "{}",
        all[0]
    );
}

#[test]
fn both_syntaxes_or_neither_is_refused() {
    let both = format!(
        "{GOOD_X12}[edifact]\nversion = \"D96A\"\npartner = {{ id = \"X\" }}\nmessages = []\n"
    );
    let d = &problems("p.toml", &both)[0];
    assert!(d.message.contains("both [x12] and [edifact]"), "{d}");
    assert_eq!(d.line, 6, "{d}");
    let d = &problems("p.toml", "name = \"x\"\n")[0];
    assert!(d.message.contains("neither"), "{d}");
}

#[test]
fn an_override_of_a_mapping_that_does_not_exist_gets_a_suggestion() {
    let text = format!("{GOOD_X12}\n[mappings.\"X12/850\".header]\norder_number = \"BEG03\"\n");
    let d = &problems("p.toml", &text)[0];
    assert_eq!(d.line, 7, "{d}");
    assert!(d.message.contains("no built-in mapping \"X12/850\""), "{d}");
    assert_eq!(
        d.hint.as_deref(),
        Some("did you mean [mappings.\"x12/850\"]?")
    );

    let text =
        format!("{GOOD_X12}\n[mappings.\"edifact/ORDERS\".header]\norder_number = \"BGM02\"\n");
    let d = &problems("p.toml", &text)[0];
    assert!(d.message.contains("other syntax"), "{d}");
}

#[test]
fn a_bad_path_in_an_override_points_at_its_line() {
    let text =
        format!("{GOOD_X12}\n[mappings.\"x12/850\".header]\ncurrency = \"CUR[CUR01=BY/CUR02\"\n");
    let d = &problems("p.toml", &text)[0];
    assert_eq!(d.line, 8, "{d}");
    assert!(d.message.contains("currency"), "{d}");
    assert!(d.message.contains("CUR[CUR01=BY/CUR02"), "{d}");
}

#[test]
fn an_unknown_key_in_an_override_points_at_its_line() {
    let text =
        format!("{GOOD_X12}\n[mappings.\"x12/850\".header]\ncurency = \"CUR[CUR01=BY]/CUR02\"\n");
    let d = &problems("p.toml", &text)[0];
    assert_eq!(d.line, 8, "{d}");
    assert!(d.message.contains("curency"), "{d}");
    assert_eq!(d.hint.as_deref(), Some("did you mean `currency`?"), "{d}");
}

#[test]
fn an_override_naming_a_missing_code_table_is_refused() {
    let text = format!(
        "{GOOD_X12}\n[mappings.\"x12/850\".lines]\nunit = {{ path = \"PO103\", codes = \"units\" }}\n"
    );
    let d = &problems("p.toml", &text)[0];
    assert_eq!(d.line, 8, "{d}");
    assert!(d.message.contains("units"), "{d}");
}

/// Loads a partners directory holding `a.toml` and `b.toml`, which must be refused.
fn load_pair(a: &str, b: &str) -> partner::LoadError {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.toml"), a).unwrap();
    fs::write(dir.path().join("b.toml"), b).unwrap();
    Partners::load(dir.path()).unwrap_err()
}

#[test]
fn two_files_with_one_identity_are_refused() {
    let err = load_pair(GOOD_X12, GOOD_X12);
    assert_eq!(err.0.len(), 1, "{err}");
    assert!(err.0[0].path.ends_with("b.toml"), "{err}");
    assert!(err.0[0].message.contains("already a's"), "{err}");
}

#[test]
fn outbound_is_a_directory_or_an_sftp_server_not_both() {
    let sftp = "[outbound.sftp]\nhost = \"sftp.example\"\nuser = \"u\"\nhost_key = \"SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\"\n\
                inbox_dir = \"in\"\noutbox_dir = \"out\"\n[outbound.sftp.auth]\ntype = \"key\"\n\
                private_key = \"/k\"\n";
    let p = Partner::from_toml(Path::new("p.toml"), &format!("{GOOD_X12}{sftp}")).unwrap();
    match &p.outbound {
        partner::Outbound::Sftp(server) => assert_eq!(server.outbox_dir, "out"),
        other => panic!("{other:?}"),
    }
    let both = format!(
        "{GOOD_X12}{}",
        sftp.replace(
            "[outbound.sftp]\n",
            "[outbound]\ndirectory = \"x\"\n[outbound.sftp]\n"
        )
    );
    let d = &problems("p.toml", &both)[0];
    assert!(
        d.message.contains("both a directory and an SFTP server"),
        "{d}"
    );
}

#[test]
fn the_outbound_file_name_defaults_to_the_names_documents_always_had() {
    let p = Partner::from_toml(Path::new("p.toml"), GOOD_X12).unwrap();
    assert_eq!(p.outbound_file_name, partner::DEFAULT_FILE_NAME);
    assert_eq!(p.outbound_file_name, "{kind}-{control}.{ext}");
    for p in examples().all() {
        assert_eq!(p.outbound_file_name, partner::DEFAULT_FILE_NAME, "{}", p.id);
    }
}

#[test]
fn an_outbound_file_name_template_is_kept_for_directories_and_sftp_alike() {
    let template = "{partner}-{type}-{control}-{timestamp}.{ext}";
    let dir = format!("{GOOD_X12}[outbound]\nfile_name = \"{template}\"\ndirectory = \"x\"\n");
    let p = Partner::from_toml(Path::new("p.toml"), &dir).unwrap();
    assert_eq!(p.outbound_file_name, template);
    assert!(matches!(p.outbound, partner::Outbound::Directory(_)));

    let sftp = format!(
        "{GOOD_X12}[outbound]\nfile_name = \"{{{{x}}}}{template}\"\n[outbound.sftp]\n\
         host = \"sftp.example\"\nuser = \"u\"\n\
         host_key = \"SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\"\n\
         inbox_dir = \"in\"\noutbox_dir = \"out\"\n[outbound.sftp.auth]\ntype = \"key\"\n\
         private_key = \"/k\"\n"
    );
    let p = Partner::from_toml(Path::new("p.toml"), &sftp).unwrap();
    assert_eq!(p.outbound_file_name, format!("{{{{x}}}}{template}"));
    assert!(matches!(p.outbound, partner::Outbound::Sftp(_)));
    let names: Vec<&str> = partner::FILE_NAME_VARIABLES
        .iter()
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(
        names,
        ["partner", "type", "kind", "control", "timestamp", "ext"]
    );
}

#[test]
fn an_unknown_variable_in_the_file_name_is_pointed_at_with_a_suggestion() {
    // Line 7, and the column of `{contrl}` inside the string.
    let text = format!("{GOOD_X12}[outbound]\nfile_name = \"{{partner}}-{{contrl}}.x12\"\n");
    let all = problems("p.toml", &text);
    assert_eq!(all.len(), 1, "{all:?}");
    let d = &all[0];
    assert_eq!((d.line, d.column), (7, 24), "{d}");
    assert!(d.message.contains("unknown variable {contrl}"), "{d}");
    let hint = d.hint.as_deref().unwrap_or("");
    assert!(hint.contains("did you mean {control}?"), "{d}");
    assert!(hint.contains("{timestamp}"), "{d}");
    assert!(d.to_string().starts_with("p.toml:7:24: "), "{d}");
}

#[test]
fn a_path_in_the_file_name_is_refused_where_it_is() {
    for (template, column) in [
        ("acks/{type}-{control}.{ext}", 18),
        ("{partner}/../{control}.x12", 23),
        ("a\\\\b-{control}.x12", 14),
    ] {
        let text = format!("{GOOD_X12}[outbound]\nfile_name = \"{template}\"\n");
        let all = problems("p.toml", &text);
        assert_eq!(all.len(), 1, "{template}: {all:?}");
        let d = &all[0];
        assert_eq!(d.line, 7, "{d}");
        assert!(d.message.contains("path separator"), "{d}");
        if !template.contains('\\') {
            assert_eq!(d.column, column, "{d}");
        }
    }
}

#[test]
fn other_unusable_file_names_are_refused_too() {
    for template in [".{control}.x12", "{control", "{control}}x", "", "a\\tb"] {
        let text = format!("{GOOD_X12}[outbound]\nfile_name = \"{template}\"\n");
        let all = problems("p.toml", &text);
        assert_eq!(all.len(), 1, "{template:?}: {all:?}");
        assert_eq!(all[0].line, 7, "{}", all[0]);
    }
}

/// An EDIFACT partner that also sends UBL: the buyer of `fixtures/xml/`, by its GLN (`0088`).
const XML_PARTNER: &str = r#"name = "Buyer GmbH"
[edifact]
version = "D96A"
partner = { id = "4012345000009", qualifier = "14" }
messages = ["ORDERS"]
[xml]
partner = { qualifier = "0088", id = "4012345000009" }
us = { qualifier = "0088", id = "4098765000003" }
[mappings."xml/ubl-Order".lines]
buyer_sku = "cac:Item/cac:SellersItemIdentification/cbc:ID"
"#;

fn xml_fixture(name: &str) -> Vec<u8> {
    fs::read(root().join("fixtures/xml").join(name)).unwrap()
}

#[test]
fn an_xml_document_identifies_its_partner_by_the_sender_its_mapping_reads() {
    let buyer = Partner::from_toml(Path::new("buyer.toml"), XML_PARTNER).unwrap();
    let xml = buyer.xml.as_ref().unwrap();
    assert_eq!(xml.partner.qualifier.as_deref(), Some("0088"));
    let partners = Partners::from_partners(vec![buyer]);

    let bytes = xml_fixture("ubl-order.xml");
    let defaults = mapping::Mappings::builtin().unwrap();
    let doc = mapping::xml::read(&bytes, &defaults).unwrap();
    let sender = doc.sender().unwrap();
    let receiver = doc.receiver().unwrap();
    let who = partners.identify_xml(
        (sender.qualifier.as_deref(), &sender.id),
        Some((receiver.qualifier.as_deref(), &receiver.id)),
    );
    let IdentifiedXml::Partner(p) = who else {
        panic!("{who:?}")
    };
    assert_eq!(p.id, "buyer");

    // The partner's override of the UBL mapping applies to its documents.
    let doc = mapping::xml::read(&bytes, &p.mappings).unwrap();
    let event = doc.translate(&p.id).unwrap();
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["data"]["lines"][0]["product"]["buyer_sku"], "SKU-1");

    // Another scheme is another id; another receiver is not us.
    assert!(matches!(
        partners.identify_xml((Some("0060"), "4012345000009"), None),
        IdentifiedXml::Unknown
    ));
    assert!(matches!(
        partners.identify_xml(
            (Some("0088"), "4012345000009"),
            Some((Some("0088"), "4000000000000"))
        ),
        IdentifiedXml::NotForUs(_)
    ));
}

#[test]
fn two_files_with_one_xml_identity_are_refused() {
    let other = XML_PARTNER.replace(
        "partner = { id = \"4012345000009\", qualifier = \"14\" }",
        "partner = { id = \"4099999000007\", qualifier = \"14\" }",
    );
    let err = load_pair(XML_PARTNER, &other);
    assert_eq!(err.0.len(), 1, "{err}");
    assert!(err.0[0].path.ends_with("b.toml"), "{err}");
    assert!(err.0[0].message.contains("already a's"), "{err}");
}

#[test]
fn expect_within_is_a_duration_and_optional() {
    let ok = |value: &str| {
        let text = format!("expect_within = {value}\n{GOOD_X12}");
        Partner::from_toml(Path::new("p.toml"), &text)
            .unwrap()
            .expect_within
    };
    assert_eq!(ok("\"24h\""), Some(std::time::Duration::from_secs(86_400)));
    assert_eq!(ok("\"90s\""), Some(std::time::Duration::from_secs(90)));
    assert_eq!(
        ok("\" 2d \""),
        Some(std::time::Duration::from_secs(172_800))
    );
    assert_eq!(ok("\"1w\""), Some(std::time::Duration::from_secs(604_800)));
    assert_eq!(ok("\"30m\""), Some(std::time::Duration::from_secs(1_800)));
    let none = Partner::from_toml(Path::new("p.toml"), GOOD_X12).unwrap();
    assert_eq!(none.expect_within, None);
    for p in examples().all() {
        assert_eq!(p.expect_within, None, "{}", p.id);
    }
}

#[test]
fn a_bad_expect_within_is_pointed_at_with_the_form_to_write() {
    for (value, says) in [
        ("\"24\"", "has no unit"),
        ("\"1y\"", "is not a duration"),
        ("\"h\"", "is not a duration"),
        ("\"0h\"", "no time at all"),
        ("\"99999999999999999999w\"", "is not a duration"),
        ("\"999999999999999w\"", "too long"),
        ("24", "a duration in quotes, not integer 24"),
    ] {
        let text = format!(
            "name = \"Test\"\nexpect_within = {value}\n[x12]\nversion = \"005010\"\npartner = {{ qualifier = \"ZZ\", id = \"SENDER\" }}\nmessages = [\"850\"]\n"
        );
        let all = problems("partners/p.toml", &text);
        assert_eq!(all.len(), 1, "{value}: {all:?}");
        let d = &all[0];
        assert_eq!((d.line, d.column), (2, 17), "{value}: {d}");
        assert!(d.message.contains(says), "{value}: {d}");
        assert!(
            d.hint
                .as_deref()
                .unwrap_or("")
                .contains("expect_within = \"24h\""),
            "{d}"
        );
        let shown = d.to_string();
        assert!(shown.starts_with("partners/p.toml:2:17: "), "{shown}");
    }
}

#[test]
fn outbound_email_is_checked_and_kept_alone() {
    let mail = "[outbound.email]\nto = [\"edi@acme.example\", \"ops@acme.example\"]\n\
                from = \"edi@us.example\"\nhost = \"smtp.us.example\"\ntls = \"tls\"\n\
                user = \"edigate\"\npassword_env = \"SMTP_PASSWORD\"\n";
    let p = Partner::from_toml(Path::new("p.toml"), &format!("{GOOD_X12}{mail}")).unwrap();
    match &p.outbound {
        partner::Outbound::Email(m) => {
            assert_eq!(m.to, ["edi@acme.example", "ops@acme.example"]);
            assert_eq!(m.port(), 465);
            assert_eq!(m.subject, partner::email::DEFAULT_SUBJECT);
        }
        other => panic!("{other:?}"),
    }
    let both = format!(
        "{GOOD_X12}{}",
        mail.replace(
            "[outbound.email]\n",
            "[outbound]\ndirectory = \"x\"\n[outbound.email]\n"
        )
    );
    let d = &problems("p.toml", &both)[0];
    assert!(d.message.contains("also a directory"), "{d}");
    let clear = format!(
        "{GOOD_X12}{}",
        mail.replace("tls = \"tls\"", "tls = \"none\"")
    );
    let d = &problems("p.toml", &clear)[0];
    assert!(d.message.contains("without TLS"), "{d}");
    let subject = format!("{GOOD_X12}{mail}subject = \"EDI {{nope}}\"\n");
    let d = &problems("p.toml", &subject)[0];
    assert!(d.message.contains("unknown variable {nope}"), "{d}");
    assert!(d.message.starts_with("[outbound.email]"), "{d}");
}

#[test]
fn inbound_email_senders_are_checked_where_they_are_written() {
    let text = format!(
        "{GOOD_X12}[inbound.email]\nfrom = [\"EDI@Acme.example\", \"orders@acme.example\"]\n"
    );
    let p = Partner::from_toml(Path::new("p.toml"), &text).unwrap();
    assert_eq!(p.inbound_email, ["edi@acme.example", "orders@acme.example"]);
    let partners = Partners::from_partners(vec![p]);
    assert!(partners.by_email_sender(" edi@ACME.example").is_some());
    assert!(partners.by_email_sender("someone@acme.example").is_none());

    let bad = format!("{GOOD_X12}[inbound.email]\nfrom = [\"edi@acme.example\", \"Bob <b@c>\"]\n");
    let d = &problems("p.toml", &bad)[0];
    assert_eq!((d.line, d.column), (7, 29), "{d}");
    assert!(d.message.starts_with("[inbound.email] from:"), "{d}");
    let empty = format!("{GOOD_X12}[inbound.email]\nfrom = []\n");
    let d = &problems("p.toml", &empty)[0];
    assert!(d.message.contains("no sender address"), "{d}");
    let unknown = format!("{GOOD_X12}[inbound.email]\nsender = [\"a@b\"]\n");
    let d = &problems("p.toml", &unknown)[0];
    assert_eq!(d.line, 7, "{d}");
    assert!(d.message.contains("sender"), "{d}");
}

#[test]
fn two_files_with_one_sender_address_are_refused() {
    let other = GOOD_X12.replace("SENDER", "OTHER");
    let err = load_pair(
        &format!("{GOOD_X12}[inbound.email]\nfrom = [\"edi@shared.example\"]\n"),
        &format!("{other}[inbound.email]\nfrom = [\"EDI@shared.example\"]\n"),
    );
    assert_eq!(err.0.len(), 1, "{err}");
    assert!(err.0[0].path.ends_with("b.toml"), "{err}");
    assert!(err.0[0].message.contains("already a's"), "{err}");
}

#[test]
fn an_as2_partnership_reads_its_certificates_mdn_mode_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let cert = as2::Identity::generate("ACMEAS2", 30)
        .unwrap()
        .certificate()
        .to_pem()
        .unwrap();
    fs::write(dir.path().join("acme.pem"), cert).unwrap();
    let text = format!(
        "{GOOD_X12}[as2]\nid = \"ACMEAS2\"\nus = \"WIDGETCO\"\ncertificates = [\"acme.pem\"]\n\
         url = \"https://as2.acme.example/as2\"\nmdn = \"async\"\nmax_body_bytes = 1000\n"
    );
    let file = dir.path().join("acme.toml");
    let p = Partner::from_toml(&file, &text).unwrap();
    let as2 = p.as2.unwrap();
    assert_eq!(as2.mdn, partner::As2MdnMode::Async);
    assert_eq!(as2.max_body_bytes, Some(1000));
    assert_eq!(as2.certificates.len(), 1);
    assert!(as2.sign && as2.encrypt);

    let wrong = text.replace("\"async\"", "\"later\"");
    let e = Partner::from_toml(&file, &wrong).unwrap_err().to_string();
    assert!(e.contains("later"), "{e}");

    let both = format!(
        "{text}[outbound.email]\nto = [\"edi@acme.example\"]\nfrom = \"edi@widgetco.example\"\n\
         host = \"127.0.0.1\"\ntls = \"none\"\n"
    );
    let e = Partner::from_toml(&file, &both).unwrap_err().to_string();
    assert!(e.contains("[as2] has a url"), "{e}");
}

#[test]
fn an_as2_partnership_names_its_cipher_digest_compression_and_canonicalization() {
    let dir = tempfile::tempdir().unwrap();
    let cert = as2::Identity::generate("ACMEAS2", 30)
        .unwrap()
        .certificate()
        .to_pem()
        .unwrap();
    fs::write(dir.path().join("acme.pem"), cert).unwrap();
    let file = dir.path().join("acme.toml");
    let plain = format!(
        "{GOOD_X12}[as2]\nid = \"ACMEAS2\"\nus = \"WIDGETCO\"\ncertificates = [\"acme.pem\"]\n"
    );
    let defaults = Partner::from_toml(&file, &plain).unwrap().as2.unwrap();
    assert_eq!(defaults.encryption, as2::Encryption::Aes256Cbc);
    assert_eq!(defaults.digest, as2::Digest::Sha256);
    assert!(!defaults.compress);
    assert_eq!(
        defaults.canonicalization,
        partner::As2Canonicalization::Lenient
    );

    let chosen = format!(
        "{plain}encryption = \"3des\"\ndigest = \"sha-512\"\ncompress = true\n\
         canonicalization = \"strict\"\n"
    );
    let s = Partner::from_toml(&file, &chosen).unwrap().as2.unwrap();
    assert_eq!(s.encryption, as2::Encryption::TripleDesCbc);
    assert_eq!(s.digest, as2::Digest::Sha512);
    assert!(s.compress);
    assert_eq!(s.canonicalization, partner::As2Canonicalization::Strict);
    assert_eq!(s.canonicalization.to_as2(), as2::Canonicalization::Strict);

    let bad = format!("{plain}encryption = \"rot13\"\ndigest = \"md5\"\n");
    let found = problems(file.to_str().unwrap(), &bad);
    let cipher = found
        .iter()
        .find(|d| d.message.contains("rot13"))
        .expect("the cipher named");
    assert_eq!(cipher.line, 10, "{cipher}");
    assert!(cipher.to_string().contains("aes256-cbc"), "{cipher}");
    let digest = found
        .iter()
        .find(|d| d.message.contains("md5"))
        .expect("the digest named");
    assert_eq!(digest.line, 11, "{digest}");
}
