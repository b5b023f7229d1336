//! `edigate serve` as a separate process, fed real files through its inbox directories: events,
//! acknowledgements and the recorded reason for every file that was not processed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;

use outbox::{MessageState, MessageStateKind, Step};
use support::{Daemon, example, wait_until};

#[test]
fn example_files_become_events_and_acknowledgements() {
    let daemon = Daemon::start("examples", "");
    daemon.drop_file("acme-retail", "po-731.x12", &example("order-850.x12"));
    daemon.drop_file("eurofoods", "orders-0042.edi", &example("order-orders.edi"));
    daemon.drop_file("northwind", "nw-5120.x12", &example("order-850-4010.x12"));

    wait_until("three events and four acknowledgements", || {
        daemon.events().len() == 3 && daemon.outbound_files().len() == 4
    });
    let data = daemon.stop();

    let events = data.events();
    let by_partner = |p: &str| {
        events
            .iter()
            .find(|e| e["partner"] == p)
            .unwrap_or_else(|| panic!("no event for {p}: {events:?}"))
    };
    assert_eq!(by_partner("acme-retail")["type"], "order.created");
    assert_eq!(
        by_partner("acme-retail")["data"]["order_number"],
        "PO-2026-0042"
    );
    assert_eq!(by_partner("eurofoods")["source"]["standard"], "edifact");
    // Northwind's partner file maps its own product qualifier.
    assert_eq!(
        by_partner("northwind")["data"]["lines"][0]["product"]["vendor_sku"],
        "NW-WID-100-12"
    );

    let acks = data.outbound_files();
    let text = |partner: &str, needle: &str| {
        acks.iter()
            .filter(|(p, _, _)| p == partner)
            .any(|(_, _, body)| body.contains(needle))
    };
    // ACME asks for a TA1 (ISA14 = 1) and gets a 999 (its policy), accepted.
    assert!(
        text("acme-retail", "TA1*000000731*261120*0930*A*000~"),
        "{acks:?}"
    );
    assert!(text("acme-retail", "ST*999*0001*005010X231A1~"), "{acks:?}");
    assert!(text("acme-retail", "IK5*A~"), "{acks:?}");
    // Northwind speaks 004010 and gets a 997; EuroFoods a CONTRL.
    assert!(text("northwind", "ST|997|0001"), "{acks:?}");
    assert!(text("northwind", "AK5|A"), "{acks:?}");
    assert!(
        text(
            "eurofoods",
            "UCI+ORD0042+5412345000013:14+4012345000009:14+7'"
        ),
        "{acks:?}"
    );

    let outbox = data.outbox();
    let messages = outbox
        .list_messages(&outbox::MessageFilter::default(), 100)
        .unwrap();
    assert_eq!(messages.len(), 3);
    for m in &messages {
        assert_eq!(m.state, MessageState::Processed, "{m:?}");
        let steps: Vec<String> = outbox
            .trace(m.id)
            .unwrap()
            .iter()
            .map(|t| step_name(&t.step))
            .collect();
        for expected in [
            "received",
            "identified",
            "validated",
            "ack_queued",
            "translated",
            "processed",
        ] {
            assert!(
                steps.contains(&expected.to_string()),
                "{}: {steps:?}",
                m.file_name
            );
        }
    }
}

#[test]
fn bad_input_is_recorded_with_its_reason_and_never_stops_the_gateway() {
    let daemon = Daemon::start(
        "bad-input",
        "[limits]\nmax_file_bytes = 4096\npoll_interval_ms = 20\n",
    );
    let acme = String::from_utf8(example("order-850.x12")).unwrap();

    daemon.drop_file("acme-retail", "a-original.x12", acme.as_bytes());
    wait_until("the original processed", || {
        daemon.outbound_files().len() == 2
    });

    daemon.drop_file("acme-retail", "b-garbage.x12", b"this is not EDI at all\n");
    let stranger = acme.replace("ZZ*ACMERETAIL     *", "ZZ*STRANGER       *");
    daemon.drop_file("acme-retail", "c-stranger.x12", stranger.as_bytes());
    // The same interchange again (same ISA13), under another file name.
    daemon.drop_file("acme-retail", "d-resent.x12", acme.as_bytes());
    let mut big = acme.clone().into_bytes();
    big.extend(std::iter::repeat_n(b'\n', 5000));
    daemon.drop_file("acme-retail", "e-oversized.x12", &big);
    // Northwind's file in ACME's inbox.
    daemon.drop_file(
        "acme-retail",
        "f-wrong-channel.x12",
        &example("order-850-4010.x12"),
    );
    // Still running: a good file afterwards goes through.
    daemon.drop_file("eurofoods", "g-good.edi", &example("order-orders.edi"));

    wait_until("every file finished", || {
        daemon.inbox_is_empty() && daemon.events().len() == 2
    });
    // The resent interchange's TA1 (rejected, note 025).
    wait_until("the duplicate's TA1", || {
        daemon
            .outbound_files()
            .iter()
            .any(|(_, _, body)| body.contains("*R*025~"))
    });
    let data = daemon.stop();
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

    let garbage = reason("b-garbage.x12");
    assert!(
        garbage.contains("file b-garbage.x12 (channel inbox-acme-retail)"),
        "{garbage}"
    );
    assert!(
        garbage.contains("not readable as X12 or EDIFACT"),
        "{garbage}"
    );

    let stranger = reason("c-stranger.x12");
    assert!(
        stranger.contains("interchange 000000731 at offset 0"),
        "{stranger}"
    );
    assert!(
        stranger.contains("no partner file has sender ZZ:STRANGER"),
        "{stranger}"
    );

    let original = by_file("a-original.x12").id;
    assert_eq!(
        by_file("d-resent.x12").state,
        MessageState::Duplicate { of: original }
    );

    let oversized = reason("e-oversized.x12");
    assert!(
        oversized.contains("over the limit of 4096 bytes"),
        "{oversized}"
    );
    let quarantined: Vec<_> = fs::read_dir(data.dir.join("quarantine/inbox-acme-retail"))
        .unwrap()
        .collect();
    assert_eq!(quarantined.len(), 1, "the oversized file is kept");

    let wrong = reason("f-wrong-channel.x12");
    assert!(
        wrong
            .contains("from partner northwind, but the channel is reserved to partner acme-retail"),
        "{wrong}"
    );

    assert_eq!(by_file("g-good.edi").state, MessageState::Processed);
    assert_eq!(
        all.iter()
            .filter(|m| m.state.kind() == MessageStateKind::Received)
            .count(),
        0
    );
    // Every raw file that was read is kept in the spool.
    for m in &all {
        assert!(m.spool_path.exists(), "{m:?}");
    }
}

fn step_name(step: &Step) -> String {
    serde_json::to_value(step).unwrap()["step"]
        .as_str()
        .unwrap()
        .to_string()
}

/// One ACME purchase order per `i`, each its own interchange (ISA13 1000+i, GS06 i).
fn acme_order(i: usize) -> Vec<u8> {
    let acme = String::from_utf8(example("order-850.x12")).unwrap();
    acme.replace("000000731", &format!("{:09}", 1000 + i))
        .replace("*731*X*", &format!("*{i}*X*"))
        .replace("GE*1*731~", &format!("GE*1*{i}~"))
        .replace("PO-2026-0042", &format!("PO-CRASH-{i}"))
        .into_bytes()
}

/// A small deterministic generator, so a failing run can be repeated with its seed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[test]
fn sigkill_at_random_moments_loses_nothing_and_repeats_no_control_number() {
    const ROUNDS: usize = 8;
    const PER_ROUND: usize = 12;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut rng = Lcg(seed);
    let mut data = support::Data::new("crash", "[limits]\npoll_interval_ms = 5\n");
    for round in 0..ROUNDS {
        let daemon = Daemon::start_on(data);
        for k in 0..PER_ROUND {
            let i = round * PER_ROUND + k;
            daemon.drop_file("acme-retail", &format!("po-{i:04}.x12"), &acme_order(i));
            if rng.below(3) == 0 {
                std::thread::sleep(std::time::Duration::from_millis(rng.below(15)));
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(rng.below(120)));
        data = daemon.kill();
    }

    // A last run finishes everything, then stops cleanly.
    let total = ROUNDS * PER_ROUND;
    let daemon = Daemon::start_on(data);
    wait_until("every order's event and two acknowledgements each", || {
        let ids: std::collections::BTreeSet<String> = daemon
            .events()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect();
        daemon.inbox_is_empty() && ids.len() == total && daemon.outbound_files().len() == 2 * total
    });
    let data = daemon.stop();

    // Exactly one distinct event per order (a line may repeat after a crash: same id, same
    // content).
    let mut by_id = std::collections::BTreeMap::new();
    for e in data.events() {
        let id = e["id"].as_str().unwrap().to_string();
        if let Some(prev) = by_id.insert(id.clone(), e.clone()) {
            assert_eq!(prev, e, "seed {seed}: two different events under {id}");
        }
    }
    let mut orders: Vec<String> = by_id
        .values()
        .map(|e| e["data"]["order_number"].as_str().unwrap().to_string())
        .collect();
    orders.sort();
    let mut expected: Vec<String> = (0..total).map(|i| format!("PO-CRASH-{i}")).collect();
    expected.sort();
    assert_eq!(orders, expected, "seed {seed}");

    // One TA1 and one 999 per interchange, and our control numbers 1..=2N, each used once.
    let acks = data.outbound_files();
    let mut numbers = Vec::new();
    for (_, name, body) in &acks {
        let isa13: u64 = body.split('*').nth(13).unwrap().parse().unwrap();
        numbers.push(isa13);
        assert!(name.ends_with(&format!("{isa13:09}.x12")), "{name}");
    }
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (1..=2 * total as u64).collect::<Vec<_>>(),
        "seed {seed}"
    );
    for i in 0..total {
        let ta1 = format!("TA1*{:09}*", 1000 + i);
        let ak1 = format!("AK1*PO*{i}*");
        assert_eq!(
            acks.iter().filter(|(_, _, b)| b.contains(&ta1)).count(),
            1,
            "seed {seed}: {ta1}"
        );
        assert_eq!(
            acks.iter().filter(|(_, _, b)| b.contains(&ak1)).count(),
            1,
            "seed {seed}: {ak1}"
        );
    }

    // Every file received once and processed; nothing failed, quarantined or taken for a
    // duplicate of itself.
    let outbox = data.outbox();
    let all = outbox
        .list_messages(&outbox::MessageFilter::default(), 10_000)
        .unwrap();
    assert_eq!(
        all.len(),
        total,
        "seed {seed}: {:?}",
        all.iter()
            .map(|m| (&m.file_name, &m.state))
            .collect::<Vec<_>>()
    );
    for m in &all {
        assert_eq!(m.state, MessageState::Processed, "seed {seed}: {m:?}");
    }
}

#[test]
fn sigterm_finishes_the_work_in_hand_and_delivers_it() {
    const FILES: usize = 40;
    let daemon = Daemon::start("drain", "");
    for i in 0..FILES {
        daemon.drop_file("acme-retail", &format!("po-{i:04}.x12"), &acme_order(i));
    }
    wait_until("the first files received", || {
        daemon.outbound_files().len() + daemon.events().len() > 0 || !daemon.inbox_is_empty()
    });
    std::thread::sleep(std::time::Duration::from_millis(30));
    let data = daemon.stop();

    let left_in_inbox = fs::read_dir(data.dir.join("inbox/acme-retail"))
        .unwrap()
        .count();
    let outbox = data.outbox();
    let all = outbox
        .list_messages(&outbox::MessageFilter::default(), 1000)
        .unwrap();
    assert_eq!(
        all.len() + left_in_inbox,
        FILES,
        "every file is either taken or still waiting"
    );
    for m in &all {
        assert_eq!(
            m.state,
            MessageState::Processed,
            "nothing left half done: {m:?}"
        );
    }
    // What was taken was delivered before the exit: no delivery pending or in flight.
    let counts = outbox.counts().unwrap();
    for c in &counts {
        assert_eq!((c.pending, c.in_flight), (0, 0), "{c:?}");
    }
    let ids: std::collections::BTreeSet<String> = data
        .events()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), all.len());
    assert_eq!(data.outbound_files().len(), 2 * all.len());
}

/// Files taken from an inbox together are processed as one batch, their outcomes written in one
/// transaction: copies of one interchange among them are told apart inside the batch.
#[test]
fn copies_of_one_interchange_arriving_together_are_processed_once() {
    let daemon = Daemon::start("copies", "[limits]\npoll_interval_ms = 300\n");
    let acme = example("order-850.x12");
    for name in ["a.x12", "b.x12", "c.x12"] {
        daemon.drop_file("acme-retail", name, &acme);
    }
    // One 999 for the first; a rejecting TA1 (025) for each copy.
    wait_until("every file answered", || {
        daemon.inbox_is_empty() && daemon.outbound_files().len() == 4
    });
    let events = daemon.events();
    let data = daemon.stop();
    assert_eq!(events.len(), 1, "{events:?}");
    let outbox = data.outbox();
    let all = outbox
        .list_messages(&outbox::MessageFilter::default(), 10)
        .unwrap();
    let first: Vec<_> = all
        .iter()
        .filter(|m| m.state == MessageState::Processed)
        .collect();
    assert_eq!(first.len(), 1, "{all:?}");
    let copies: Vec<_> = all
        .iter()
        .filter(|m| m.state == (MessageState::Duplicate { of: first[0].id }))
        .collect();
    assert_eq!(copies.len(), 2, "{all:?}");
    let files = data.outbound_files();
    let rejections = files
        .iter()
        .filter(|(_, _, body)| {
            body.starts_with("ISA") && body.contains("TA1*") && body.contains("*R*025~")
        })
        .count();
    assert_eq!(rejections, 2, "{files:?}");
    // Every document has its own interchange number, none skipped.
    let mut numbers: Vec<u64> = files
        .iter()
        .map(|(_, _, body)| body[90..99].parse().unwrap())
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, [1, 2, 3, 4], "{files:?}");
}
