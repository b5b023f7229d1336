//! `edigate serve` fed XML documents: a UBL order from a partner that names its XML identity
//! becomes an event; broken, unknown and stranger documents are recorded with their reason; a
//! document sent twice is a duplicate.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;

use outbox::MessageState;
use support::{Daemon, root, wait_until};

/// The fixture order, as sent by EuroFoods (`deploy/examples/partners/eurofoods.toml`: `[xml]`
/// GLN 5412345000013, addressed to us, 4012345000009).
fn eurofoods_order(id: &str) -> Vec<u8> {
    fs::read_to_string(root().join("fixtures/xml/ubl-order.xml"))
        .unwrap()
        .replace(
            "<cbc:EndpointID schemeID=\"0088\">4012345000009<",
            "<cbc:EndpointID schemeID=\"0088\">5412345000013<",
        )
        .replace(
            "<cbc:EndpointID schemeID=\"0088\">4098765000003<",
            "<cbc:EndpointID schemeID=\"0088\">4012345000009<",
        )
        .replace(
            "<cbc:ID>PO-4711</cbc:ID>",
            &format!("<cbc:ID>{id}</cbc:ID>"),
        )
        .replace("6f1c2b8e-3d4a-4f0e-9a51-7c2d8e4b1a90", id)
        .into_bytes()
}

#[test]
fn xml_documents_become_events_or_are_recorded_with_their_reason() {
    let daemon = Daemon::start("xml", "[limits]\npoll_interval_ms = 20\n");
    daemon.drop_file("eurofoods", "a-order.xml", &eurofoods_order("PO-X1"));
    wait_until("the order's event", || daemon.events().len() == 1);

    daemon.drop_file(
        "eurofoods",
        "b-broken.xml",
        b"<?xml version=\"1.0\"?>\n<Order xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Order-2\"><ID>",
    );
    let stranger = fs::read(root().join("fixtures/xml/ubl-order.xml")).unwrap();
    daemon.drop_file("eurofoods", "c-stranger.xml", &stranger);
    daemon.drop_file("eurofoods", "d-again.xml", &eurofoods_order("PO-X1"));
    daemon.drop_file("eurofoods", "e-second.xml", &eurofoods_order("PO-X2"));
    wait_until("every file finished", || {
        daemon.inbox_is_empty() && daemon.events().len() == 2
    });
    // Give a wrongly queued third event the time to show up.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let data = daemon.stop();

    let events = data.events();
    assert_eq!(events.len(), 2, "{events:?}");
    for (event, id) in events.iter().zip(["PO-X1", "PO-X2"]) {
        assert_eq!(event["partner"], "eurofoods");
        assert_eq!(event["type"], "order.created");
        assert_eq!(event["source"]["standard"], "xml");
        assert_eq!(event["data"]["order_number"], id);
    }

    let outbox = data.outbox();
    let all = outbox
        .list_messages(&outbox::MessageFilter::default(), 100)
        .unwrap();
    let by_file = |name: &str| {
        all.iter()
            .find(|m| m.file_name == name)
            .unwrap_or_else(|| panic!("no message for {name}: {all:?}"))
    };
    let reason = |name: &str| match &by_file(name).state {
        MessageState::Quarantined { reason } => reason.clone(),
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(by_file("a-order.xml").state, MessageState::Processed);
    assert_eq!(by_file("a-order.xml").partner.as_deref(), Some("eurofoods"));
    assert_eq!(by_file("a-order.xml").message_types, ["Order"]);
    assert_eq!(by_file("a-order.xml").event_types, ["order.created"]);
    // The stranger's document type is recorded although it was not processed.
    assert_eq!(by_file("c-stranger.xml").message_types, ["Order"]);
    let broken = reason("b-broken.xml");
    assert!(
        broken
            .contains("file b-broken.xml (channel inbox-eurofoods): not readable as XML: at byte "),
        "{broken}"
    );
    let stranger = reason("c-stranger.xml");
    assert!(
        stranger.contains("XML document Order: no partner file has XML sender 0088:4012345000009"),
        "{stranger}"
    );
    // EuroFoods rejects duplicates: the same document id again is the first message's repeat.
    assert_eq!(
        by_file("d-again.xml").state,
        MessageState::Duplicate {
            of: by_file("a-order.xml").id
        }
    );
    assert_eq!(by_file("e-second.xml").state, MessageState::Processed);
}
