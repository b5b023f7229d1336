//! Control numbers: assigned with the enqueue, contiguous, never reused.

use std::collections::BTreeSet;

use outbox::{CounterKey, CounterKind, Enqueued, Error, Options, Outbox};

use crate::{T0, new_delivery, open};

fn isa() -> CounterKey {
    CounterKey::new("outbound", CounterKind::Isa13)
}

fn render(n: &[u64]) -> Result<Vec<u8>, String> {
    Ok(format!("ISA*{:09}~GS*{}~", n[0], n.get(1).copied().unwrap_or(0)).into_bytes())
}

fn send(outbox: &Outbox, partner: &str, key: &str) -> Enqueued {
    let counters = [isa(), CounterKey::new("outbound", CounterKind::Gs06)];
    outbox
        .enqueue_outbound(
            partner,
            &counters,
            new_delivery(&format!("partner:{partner}"), key, T0),
            render,
        )
        .unwrap()
}

#[test]
fn numbers_are_contiguous_per_partner_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let outbox = open(dir.path());
        for i in 0..5 {
            let e = send(&outbox, "acme", &format!("a{i}"));
            assert!(e.created);
            let values: Vec<_> = e.delivery.numbers.iter().map(|n| n.value).collect();
            assert_eq!(values, [i + 1, i + 1]);
            assert_eq!(
                outbox.payload(e.delivery.id).unwrap().unwrap(),
                render(&values).unwrap()
            );
        }
        assert_eq!(send(&outbox, "globex", "g0").delivery.numbers[0].value, 1);
        // A different purpose is a different counter.
        let acks = [CounterKey::new("ack", CounterKind::Isa13)];
        let e = outbox
            .enqueue_outbound(
                "acme",
                &acks,
                new_delivery("partner:acme", "ack0", T0),
                render,
            )
            .unwrap();
        assert_eq!(e.delivery.numbers[0].value, 1);
    }
    let outbox = open(dir.path());
    assert_eq!(outbox.counter("acme", &isa()).unwrap(), Some(5));
    assert_eq!(outbox.counter("initech", &isa()).unwrap(), None);
    let numbers: Vec<_> = (5..10)
        .map(|i| send(&outbox, "acme", &format!("a{i}")).delivery.numbers[0].value)
        .collect();
    assert_eq!(numbers, [6, 7, 8, 9, 10]);
}

#[test]
fn numbers_are_spent_only_when_the_delivery_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    send(&outbox, "acme", "doc-1");

    // The builder fails: nothing stored, nothing spent.
    let failed = outbox.enqueue_outbound(
        "acme",
        &[isa()],
        new_delivery("partner:acme", "doc-2", T0),
        |_: &[u64]| Err::<Vec<u8>, _>("mapping failed"),
    );
    assert!(matches!(failed, Err(Error::Build(_))));
    assert_eq!(outbox.delivery_by_key("doc-2").unwrap(), None);

    // The key is taken by a document that did not come from these counters.
    outbox
        .enqueue(new_delivery("partner:acme", "doc-3", T0), b"plain")
        .unwrap();
    let taken = outbox.enqueue_outbound(
        "acme",
        &[isa()],
        new_delivery("partner:acme", "doc-3", T0),
        render,
    );
    assert!(matches!(taken, Err(Error::KeyConflict { .. })));

    // The same document again (a retry after a crash): rebuilt from its own numbers, no new one.
    let again = send(&outbox, "acme", "doc-1");
    assert!(!again.created);
    assert_eq!(again.delivery.numbers[0].value, 1);
    // Under the same key, a builder that now renders other bytes is a conflict.
    let changed = outbox.enqueue_outbound(
        "acme",
        &[isa(), CounterKey::new("outbound", CounterKind::Gs06)],
        new_delivery("partner:acme", "doc-1", T0),
        |n: &[u64]| Ok::<_, String>(format!("changed {n:?}").into_bytes()),
    );
    assert!(matches!(changed, Err(Error::KeyConflict { .. })));
    // And an empty key is refused before anything happens.
    assert!(matches!(send_result(&outbox, ""), Err(Error::Invalid(_))));

    assert_eq!(outbox.counter("acme", &isa()).unwrap(), Some(1));
    assert_eq!(send(&outbox, "acme", "doc-4").delivery.numbers[0].value, 2);
}

fn send_result(outbox: &Outbox, key: &str) -> outbox::Result<Enqueued> {
    outbox.enqueue_outbound(
        "acme",
        &[isa()],
        new_delivery("partner:acme", key, T0),
        render,
    )
}

#[test]
fn a_counter_listed_twice_gives_consecutive_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let st = CounterKey::new("outbound", CounterKind::St02);
    let e = outbox
        .enqueue_outbound(
            "acme",
            &[isa(), st.clone(), st.clone(), st.clone()],
            new_delivery("p", "k", T0),
            |n: &[u64]| Ok::<_, String>(format!("{n:?}").into_bytes()),
        )
        .unwrap();
    let values: Vec<_> = e.delivery.numbers.iter().map(|n| n.value).collect();
    assert_eq!(values, [1, 1, 2, 3]);
    assert_eq!(outbox.counter("acme", &st).unwrap(), Some(3));
}

#[test]
fn counters_wrap_to_one_after_their_maximum() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open_with(
        dir.path(),
        Options::default().counter_max(CounterKind::St02, 3),
    )
    .unwrap();
    let st = [CounterKey::new("outbound", CounterKind::St02)];
    let values: Vec<_> = (0..5)
        .map(|i| {
            let e = outbox
                .enqueue_outbound(
                    "acme",
                    &st,
                    new_delivery("p", &format!("st{i}"), T0),
                    render,
                )
                .unwrap();
            e.delivery.numbers[0].value
        })
        .collect();
    assert_eq!(values, [1, 2, 3, 1, 2]);

    outbox.set_counter("acme", &isa(), 999_999_998).unwrap();
    assert!(matches!(
        outbox.set_counter("acme", &isa(), 1_000_000_000),
        Err(Error::Invalid(_))
    ));
    let values: Vec<_> = (0..3)
        .map(|i| send(&outbox, "acme", &format!("isa{i}")).delivery.numbers[0].value)
        .collect();
    assert_eq!(values, [999_999_999, 1, 2]);
    drop(outbox);

    let zero = Outbox::open_with(
        dir.path(),
        Options::default().counter_max(CounterKind::Gs06, 0),
    );
    assert!(matches!(zero, Err(Error::Invalid(_))));
}

#[test]
fn concurrent_enqueues_never_share_a_number() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let (threads, per_thread) = (4, 40);
    let numbers: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let outbox = outbox.clone();
                s.spawn(move || {
                    (0..per_thread)
                        .map(|i| {
                            let e = send(&outbox, "acme", &format!("t{t}-{i}"));
                            let values: Vec<_> =
                                e.delivery.numbers.iter().map(|n| n.value).collect();
                            // Both counters moved in the same transaction.
                            assert_eq!(values[0], values[1]);
                            values[0]
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let distinct: BTreeSet<_> = numbers.iter().copied().collect();
    assert_eq!(distinct.len(), numbers.len(), "a number was assigned twice");
    assert_eq!(distinct, (1..=threads * per_thread).collect());
}
