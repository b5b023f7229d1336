//! Messages finished together: plans made outside the store, written in one transaction.

use std::path::PathBuf;

use outbox::{
    AggregateUpdates, BuildError, CounterKey, CounterKind, Error, Finish, Lookahead, MessageId,
    MessageState, NewDelivery, NewMessage, Outbound, Outbox, Planned, Sighting, Step,
};

use crate::{T0, open};

const DAY: u64 = 86_400_000;

fn received(outbox: &Outbox, name: &str) -> MessageId {
    outbox
        .record_received(NewMessage {
            channel: "dir:inbound".into(),
            file_name: name.into(),
            spool_path: PathBuf::from(format!("/spool/{name}")),
            spool_offset: 0,
            size: 100,
            sha256: "cd".repeat(32),
            received_at: T0,
        })
        .unwrap()
}

fn no_aggregates() -> AggregateUpdates<'static> {
    AggregateUpdates {
        updates: &[],
        at: T0,
        apply: &|_, _| Ok(Vec::new()),
    }
}

/// Finishing `id` as processed, answered with `outbound` and nothing else.
fn processed<'a>(id: MessageId, outbound: &'a [Outbound<'a>]) -> Finish<'a> {
    Finish {
        id,
        trace: &[],
        sightings: &[],
        outbound,
        message_types: &[],
        event_types: &[],
        state: Some((MessageState::Processed, T0 + 20, "")),
        deliveries: &[],
        aggregates: no_aggregates(),
    }
}

/// What processing one interchange of `id` plans: its partner, its claim as `lookahead` sees
/// it, and an acknowledgement.
struct Planned1 {
    trace: Vec<Planned>,
    sightings: Vec<Sighting>,
}

fn plan(lookahead: &mut Lookahead<'_>, id: MessageId, control: &str) -> Planned1 {
    let prior = lookahead
        .sighting("acme", control, id, T0 + 10, DAY)
        .unwrap();
    Planned1 {
        trace: vec![
            Planned::Identified {
                partner: "acme".into(),
                at: T0 + 10,
            },
            Planned::Outbound {
                index: 0,
                at: T0 + 11,
                detail: "functional".into(),
            },
        ],
        sightings: vec![Sighting {
            partner: "acme".into(),
            control: control.into(),
            at: T0 + 10,
            window: DAY,
            duplicate_of: prior.map(|p| p.message_id),
        }],
    }
}

/// The delivery of message `id`'s acknowledgement.
fn ack_delivery(id: MessageId) -> NewDelivery {
    NewDelivery::new(
        "partner:acme",
        format!("ack:{id}:0:functional"),
        "application/edi-x12",
        T0,
    )
    .message(id)
}

fn ack<'a>(new: &'a NewDelivery, build: &'a outbox::BuildFn<'a>) -> Outbound<'a> {
    Outbound {
        partner: "acme",
        counters: COUNTERS,
        new,
        build,
        prebuilt: None,
    }
}

const COUNTERS: &[CounterKey] = &[];

/// The acknowledgement `new`, numbered from `counters` and built by [`render`].
fn numbered<'a>(counters: &'a [CounterKey], new: &'a NewDelivery) -> Outbound<'a> {
    Outbound {
        counters,
        ..ack(new, &render)
    }
}

fn isa13() -> Vec<CounterKey> {
    vec![CounterKey::new("outbound", CounterKind::Isa13)]
}

fn render(numbers: &[u64]) -> Result<Vec<u8>, BuildError> {
    Ok(format!("ISA*{:09}~", numbers.first().copied().unwrap_or(0)).into_bytes())
}

#[test]
fn a_batch_claims_numbers_and_traces_in_order_and_sees_its_own_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let ids: Vec<MessageId> = ["a", "b", "c"]
        .iter()
        .map(|n| received(&outbox, n))
        .collect();
    // b repeats a's interchange: the plan sees a's claim before anything is written.
    let mut lookahead = Lookahead::new(&outbox);
    let plans: Vec<Planned1> = ids
        .iter()
        .zip(["000000001", "000000001", "000000002"])
        .map(|(&id, control)| plan(&mut lookahead, id, control))
        .collect();
    assert_eq!(plans[1].sightings[0].duplicate_of, Some(ids[0]));
    assert_eq!(plans[2].sightings[0].duplicate_of, None);

    let counters = isa13();
    let deliveries: Vec<NewDelivery> = ids.iter().map(|&id| ack_delivery(id)).collect();
    let outbound: Vec<Vec<Outbound<'_>>> = deliveries
        .iter()
        .map(|new| vec![numbered(&counters, new)])
        .collect();
    let states = [
        MessageState::Processed,
        MessageState::Duplicate { of: ids[0] },
        MessageState::Processed,
    ];
    let finishes: Vec<Finish<'_>> = ids
        .iter()
        .enumerate()
        .map(|(i, &id)| Finish {
            trace: &plans[i].trace,
            sightings: &plans[i].sightings,
            state: Some((states[i].clone(), T0 + 20, "")),
            ..processed(id, &outbound[i])
        })
        .collect();
    let finished = outbox.finish_messages(&finishes).unwrap();

    // Numbers in the batch's order, each document built from its own.
    let numbers: Vec<u64> = finished
        .iter()
        .map(|f| f.outbound[0].as_ref().unwrap().delivery.numbers[0].value)
        .collect();
    assert_eq!(numbers, [1, 2, 3]);
    for (f, n) in finished.iter().zip(&numbers) {
        let id = f.outbound[0].as_ref().unwrap().delivery.id;
        let payload = outbox.payload(id).unwrap().unwrap();
        assert_eq!(payload, format!("ISA*{n:09}~").into_bytes());
    }
    for (i, &id) in ids.iter().enumerate() {
        let m = outbox.message(id).unwrap().unwrap();
        assert_eq!(m.partner.as_deref(), Some("acme"));
        assert_eq!(m.state, states[i]);
        let steps: Vec<Step> = outbox
            .trace(id)
            .unwrap()
            .into_iter()
            .map(|e| e.step)
            .collect();
        assert!(
            matches!(
                steps.as_slice(),
                [
                    Step::Received,
                    Step::Identified { .. },
                    Step::AckQueued { control_number, .. },
                    _,
                ] if *control_number == numbers[i].to_string()
            ),
            "{steps:?}"
        );
    }
    assert_eq!(outbox.pending_messages().unwrap(), []);
    // The second one was a duplicate: the first still holds the interchange.
    let prior = outbox
        .check_interchange("acme", "000000001", ids[2], T0 + 30, DAY)
        .unwrap();
    assert_eq!(prior.map(|p| p.message_id), Some(ids[0]));
}

#[test]
fn a_verdict_that_no_longer_holds_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let a = received(&outbox, "a");
    let mut lookahead = Lookahead::new(&outbox);
    let planned = plan(&mut lookahead, a, "000000007");
    assert_eq!(planned.sightings[0].duplicate_of, None);
    // Another message claims the interchange before the plan is written.
    let b = received(&outbox, "b");
    assert!(
        outbox
            .check_interchange("acme", "000000007", b, T0 + 5, DAY)
            .unwrap()
            .is_none()
    );
    let counters = isa13();
    let delivery = ack_delivery(a);
    let outbound = [numbered(&counters, &delivery)];
    let finish = Finish {
        trace: &planned.trace,
        sightings: &planned.sightings,
        ..processed(a, &outbound)
    };
    let err = outbox.finish_messages(&[finish]).unwrap_err();
    assert!(matches!(err, Error::Stale(_)), "{err}");
    // Nothing of it: no number spent, no partner, still pending.
    assert_eq!(outbox.counter("acme", &counters[0]).unwrap(), None);
    let m = outbox.message(a).unwrap().unwrap();
    assert_eq!((m.partner, m.state), (None, MessageState::Received));
    assert_eq!(outbox.pending_messages().unwrap().len(), 2);
}

#[test]
fn one_failing_message_fails_the_whole_batch() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let a = received(&outbox, "a");
    let b = received(&outbox, "b");
    outbox.set_partner(b, "globex", T0 + 1).unwrap();
    let trace = [Planned::Identified {
        partner: "acme".into(),
        at: T0 + 10,
    }];
    let counters = isa13();
    let delivery = ack_delivery(a);
    let failing = |_: &[u64]| -> Result<Vec<u8>, BuildError> { Err("no".into()) };
    let outbound = [numbered(&counters, &delivery)];
    let finish = |id, outbound| Finish {
        trace: &trace,
        ..processed(id, outbound)
    };
    // b already belongs to another partner.
    let err = outbox
        .finish_messages(&[finish(a, &outbound[..]), finish(b, &[])])
        .unwrap_err();
    assert!(matches!(err, Error::PartnerConflict { .. }), "{err}");
    // A document that cannot be built.
    let broken = [Outbound {
        counters: &counters,
        ..ack(&delivery, &failing)
    }];
    let err = outbox.finish_messages(&[finish(a, &broken)]).unwrap_err();
    assert!(matches!(err, Error::Build(_)), "{err}");
    assert_eq!(outbox.counter("acme", &counters[0]).unwrap(), None);
    // Alone, the good one goes through.
    outbox.finish_messages(&[finish(a, &outbound)]).unwrap();
    assert_eq!(
        outbox.message(a).unwrap().unwrap().state,
        MessageState::Processed
    );
    assert_eq!(outbox.counter("acme", &counters[0]).unwrap(), Some(1));
}

#[test]
fn a_document_queued_before_is_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let a = received(&outbox, "a");
    let counters = isa13();
    let delivery = ack_delivery(a);
    let trace = [Planned::Outbound {
        index: 0,
        at: T0 + 11,
        detail: "functional".into(),
    }];
    let outbound = [numbered(&counters, &delivery)];
    let finish = |state| Finish {
        trace: &trace,
        state: Some((state, T0 + 20, "")),
        ..processed(a, &outbound)
    };
    let first = outbox
        .finish_messages(&[finish(MessageState::Processed)])
        .unwrap();
    assert!(first[0].outbound[0].as_ref().is_some_and(|q| q.created));
    // Processed again (an operator's reprocessing): the acknowledgement is not sent twice.
    outbox.reopen(a, T0 + 30).unwrap();
    let again = outbox
        .finish_messages(&[finish(MessageState::Processed)])
        .unwrap();
    assert!(again[0].outbound[0].is_none());
    assert_eq!(outbox.counter("acme", &counters[0]).unwrap(), Some(1));
    let acks = outbox
        .trace(a)
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.step, Step::AckQueued { .. }))
        .count();
    assert_eq!(acks, 1);
}

#[test]
fn a_message_lists_its_deliveries_however_they_were_queued() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    // A delivery naming a message the store does not hold yet is indexed apart (as every
    // delivery was by earlier versions); the message recorded next is that one.
    let early = outbox
        .enqueue(
            NewDelivery::new("sink:events", "event:early", "application/json", T0)
                .message(MessageId::new(1)),
            b"{}",
        )
        .unwrap()
        .delivery
        .id;
    let a = received(&outbox, "a");
    assert_eq!(a, MessageId::new(1));
    let event = NewDelivery::new("sink:events", "event:a", "application/json", T0).message(a);
    let events = [(event, b"{\"n\":1}".to_vec())];
    let counters = isa13();
    let delivery = ack_delivery(a);
    let outbound = [numbered(&counters, &delivery)];
    let finish = Finish {
        deliveries: &events,
        ..processed(a, &outbound)
    };
    let finished = outbox.finish_messages(&[finish]).unwrap();
    let ack_id = finished[0].outbound[0].as_ref().unwrap().delivery.id;
    // Queued later on its own: the stored record learns of it.
    let resent = outbox
        .enqueue(
            NewDelivery::new("partner:acme", "resend:a", "application/edi-x12", T0 + 40).message(a),
            b"ISA~",
        )
        .unwrap()
        .delivery
        .id;

    let record = outbox.message(a).unwrap().unwrap();
    assert_eq!(record.deliveries.len(), 3, "{:?}", record.deliveries);
    assert!(!record.deliveries.contains(&early));
    let listed: Vec<_> = outbox
        .list_deliveries(
            &outbox::DeliveryFilter {
                message_id: Some(a),
                ..Default::default()
            },
            usize::MAX,
        )
        .unwrap()
        .into_iter()
        .map(|d| (d.id, d.key))
        .collect();
    let keys: Vec<&str> = listed.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "event:early",
            "event:a",
            &format!("ack:{a}:0:functional"),
            "resend:a"
        ]
    );
    assert_eq!(listed[2].0, ack_id);
    assert_eq!(listed[3].0, resent);

    // Retention keeps the message while any of its deliveries, listed either way, is left.
    let deliver = |id, at| {
        outbox.claim(id, at, 1_000).unwrap().unwrap();
        outbox.complete(id, at + 1).unwrap();
    };
    for (id, _) in &listed[1..] {
        deliver(*id, T0 + 50);
    }
    let purged = outbox.purge(T0 + 100).unwrap();
    assert_eq!(purged.deliveries.len(), 3);
    assert!(purged.messages.is_empty(), "{:?}", purged.messages);
    deliver(early, T0 + 60);
    let purged = outbox.purge(T0 + 100).unwrap();
    assert_eq!(purged.deliveries.len(), 1);
    assert_eq!(
        purged.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
        [a]
    );
}

#[test]
fn an_optimistic_plan_that_missed_an_earlier_sighting_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let a = received(&outbox, "a");
    let b = received(&outbox, "b");
    let finish_alone = |id, planned: &Planned1, state| {
        outbox.finish_messages(&[Finish {
            trace: &planned.trace[..1],
            sightings: &planned.sightings,
            state: Some((state, T0 + 20, "")),
            ..processed(id, &[])
        }])
    };
    let first = plan(&mut Lookahead::optimistic(&outbox), a, "000000042");
    finish_alone(a, &first, MessageState::Processed).unwrap();

    // b repeats a's interchange; a plan that reads nothing takes it as first seen.
    let mut optimistic = Lookahead::optimistic(&outbox);
    let guessed = plan(&mut optimistic, b, "000000042");
    assert_eq!(guessed.sightings[0].duplicate_of, None);
    // Within the plan, claims are still seen.
    assert!(
        optimistic
            .sighting("acme", "000000042", a, T0 + 10, DAY)
            .unwrap()
            .is_some()
    );
    let err = finish_alone(b, &guessed, MessageState::Processed).unwrap_err();
    assert!(matches!(err, Error::Stale(_)), "{err}");
    assert_eq!(outbox.message(b).unwrap().unwrap().partner, None);

    // Planned again with reads, it is the duplicate it is.
    let read = plan(&mut Lookahead::new(&outbox), b, "000000042");
    assert_eq!(read.sightings[0].duplicate_of, Some(a));
    finish_alone(b, &read, MessageState::Duplicate { of: a }).unwrap();
    assert_eq!(
        outbox.message(b).unwrap().unwrap().state,
        MessageState::Duplicate { of: a }
    );
}

/// Finishes messages `ids`, each answered with its acknowledgement built ahead as `prebuilt`;
/// returns the documents queued.
fn finish_prebuilt(
    outbox: &Outbox,
    counters: &[CounterKey],
    ids: &[MessageId],
    prebuilt: &[(Vec<u64>, Vec<u8>)],
) -> Vec<String> {
    let deliveries: Vec<NewDelivery> = ids.iter().map(|&id| ack_delivery(id)).collect();
    let outbound: Vec<[Outbound<'_>; 1]> = deliveries
        .iter()
        .zip(prebuilt)
        .map(|(new, (numbers, payload))| {
            [Outbound {
                prebuilt: Some((numbers.as_slice(), payload.as_slice())),
                ..numbered(counters, new)
            }]
        })
        .collect();
    let finishes: Vec<Finish<'_>> = ids
        .iter()
        .zip(&outbound)
        .map(|(&id, outbound)| processed(id, outbound))
        .collect();
    outbox
        .finish_messages(&finishes)
        .unwrap()
        .into_iter()
        .map(|f| {
            let id = f.outbound[0].as_ref().unwrap().delivery.id;
            String::from_utf8(outbox.payload(id).unwrap().unwrap()).unwrap()
        })
        .collect()
}

#[test]
fn documents_built_from_the_expected_numbers_are_taken_unless_the_numbers_moved() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let counters = isa13();
    outbox.set_counter("acme", &counters[0], 41).unwrap();
    // Built ahead, marked so that the test sees which document was queued.
    let ahead = |lookahead: &mut Lookahead<'_>, n: usize| -> Vec<(Vec<u64>, Vec<u8>)> {
        (0..n)
            .map(|_| {
                let numbers = lookahead.numbers("acme", &counters).unwrap();
                let payload = format!("AHEAD*{:09}~", numbers[0]).into_bytes();
                (numbers, payload)
            })
            .collect()
    };

    let ids: Vec<MessageId> = ["a", "b"].iter().map(|n| received(&outbox, n)).collect();
    let prebuilt = ahead(&mut Lookahead::optimistic(&outbox), 2);
    assert_eq!(prebuilt[0].0, [42]);
    assert_eq!(prebuilt[1].0, [43]);
    assert_eq!(
        finish_prebuilt(&outbox, &counters, &ids, &prebuilt),
        ["AHEAD*000000042~", "AHEAD*000000043~"]
    );

    // Numbers taken by someone else between planning and finishing: built again, in order.
    let ids: Vec<MessageId> = ["c", "d"].iter().map(|n| received(&outbox, n)).collect();
    let prebuilt = ahead(&mut Lookahead::new(&outbox), 2);
    assert_eq!(prebuilt[0].0, [44]);
    outbox
        .enqueue_outbound(
            "acme",
            &counters,
            NewDelivery::new("partner:acme", "other", "application/edi-x12", T0),
            render,
        )
        .unwrap();
    assert_eq!(
        finish_prebuilt(&outbox, &counters, &ids, &prebuilt),
        ["ISA*000000045~", "ISA*000000046~"]
    );
}

#[test]
fn a_transaction_that_failed_after_taking_numbers_leaves_them_to_the_next_document() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let counters = isa13();
    let failing = |_: &[u64]| -> Result<Vec<u8>, BuildError> { Err("no".into()) };
    let a = received(&outbox, "a");
    let delivery = ack_delivery(a);
    let broken = [Outbound {
        counters: &counters,
        ..ack(&delivery, &failing)
    }];
    let finish = processed(a, &broken);
    assert!(matches!(
        outbox.finish_messages(&[finish]),
        Err(Error::Build(_))
    ));
    assert_eq!(outbox.counter("acme", &counters[0]).unwrap(), None);
    // Whatever planning now expects, the next document gets number 1.
    let mut lookahead = Lookahead::optimistic(&outbox);
    let expected = lookahead.numbers("acme", &counters).unwrap();
    let payload = format!("AHEAD*{:09}~", expected[0]).into_bytes();
    let queued = finish_prebuilt(&outbox, &counters, &[a], &[(expected.clone(), payload)]);
    assert_eq!(queued.len(), 1);
    assert!(
        queued[0].ends_with("000000001~"),
        "{queued:?} (expected {expected:?})"
    );
    assert_eq!(outbox.counter("acme", &counters[0]).unwrap(), Some(1));
    // And planning has caught up.
    assert_eq!(
        Lookahead::optimistic(&outbox)
            .numbers("acme", &counters)
            .unwrap(),
        [2]
    );
}
