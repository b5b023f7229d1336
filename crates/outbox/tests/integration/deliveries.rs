//! Deliveries: idempotency, leases, retries, recovery after a crash, retention.

use std::path::PathBuf;

use outbox::{
    DeliveryFilter, DeliveryState, DeliveryStateKind, Error, FailOutcome, MessageState, NewMessage,
    RetryPolicy,
};

use crate::{T0, new_delivery, open};

const LEASE: u64 = 30_000;

fn exact(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        base: 1_000,
        max_delay: 8_000,
        max_attempts,
        max_age: 3_600_000,
        jitter: 0.0,
    }
}

#[test]
fn one_key_one_payload() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let first = outbox
        .enqueue(new_delivery("sink:events-jsonl", "evt-1", T0), b"{\"a\":1}")
        .unwrap();
    assert!(first.created);
    let again = outbox
        .enqueue(
            new_delivery("sink:events-jsonl", "evt-1", T0 + 5),
            b"{\"a\":1}",
        )
        .unwrap();
    assert_eq!(
        (again.created, again.delivery.id),
        (false, first.delivery.id)
    );
    let other = outbox.enqueue(
        new_delivery("sink:events-jsonl", "evt-1", T0 + 5),
        b"{\"a\":2}",
    );
    assert!(
        matches!(other, Err(Error::KeyConflict { existing, .. }) if existing == first.delivery.id)
    );
    assert!(matches!(
        outbox.enqueue(new_delivery("", "evt-2", T0), b"x"),
        Err(Error::Invalid(_))
    ));
    assert_eq!(
        outbox
            .list_deliveries(&DeliveryFilter::default(), 10)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        outbox.delivery_by_key("evt-1").unwrap().unwrap().id,
        first.delivery.id
    );

    // Dropped, the key still answers for its document.
    outbox.drop(first.delivery.id, T0 + 6).unwrap();
    assert!(
        !outbox
            .enqueue(
                new_delivery("sink:events-jsonl", "evt-1", T0 + 7),
                b"{\"a\":1}"
            )
            .unwrap()
            .created
    );
}

#[test]
fn in_flight_deliveries_are_pending_again_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = {
        let outbox = open(dir.path());
        let a = outbox
            .enqueue(new_delivery("partner:acme", "a", T0), b"a")
            .unwrap()
            .delivery
            .id;
        let b = outbox
            .enqueue(new_delivery("partner:acme", "b", T0 + 1), b"b")
            .unwrap()
            .delivery
            .id;
        let c = outbox
            .enqueue(new_delivery("partner:acme", "c", T0 + 2), b"c")
            .unwrap()
            .delivery
            .id;
        let claimed = outbox.claim(b, T0 + 100, LEASE).unwrap().unwrap();
        assert_eq!(claimed.payload, b"b");
        outbox.claim(c, T0 + 200, LEASE).unwrap().unwrap();
        outbox.complete(c, T0 + 300).unwrap();
        assert_eq!(outbox.in_flight("partner:acme").unwrap(), 1);
        outbox.flush().unwrap();
        (a, b, c)
    };
    let outbox = open(dir.path());
    let b_now = outbox.delivery(b).unwrap().unwrap();
    assert_eq!(b_now.state, DeliveryState::Pending { due_at: T0 + 100 });
    assert_eq!(b_now.attempts, 1);
    assert_eq!(outbox.in_flight("partner:acme").unwrap(), 0);
    let due: Vec<_> = outbox
        .due(T0 + 1_000, 10)
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(due, [a, b]);
    assert_eq!(
        outbox.delivery(c).unwrap().unwrap().state,
        DeliveryState::Delivered { at: T0 + 300 }
    );
}

#[test]
fn failures_back_off_then_die_and_an_operator_retries() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let id = outbox
        .enqueue(new_delivery("partner:acme", "doc", T0), b"x")
        .unwrap()
        .delivery
        .id;
    let policy = exact(3);
    let mut now = T0;
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        outbox.claim(id, now, LEASE).unwrap().unwrap();
        let outcome = outbox.fail(id, "connection refused", now, &policy).unwrap();
        outcomes.push(outcome);
        if let FailOutcome::RetryAt(t) = outcome {
            assert!(
                outbox.claim(id, t - 1, LEASE).unwrap().is_none(),
                "claimed before due"
            );
            now = t;
        }
    }
    assert_eq!(
        outcomes,
        [
            FailOutcome::RetryAt(T0 + 1_000),
            FailOutcome::RetryAt(T0 + 3_000),
            FailOutcome::Dead
        ]
    );
    let d = outbox.delivery(id).unwrap().unwrap();
    assert!(
        matches!(&d.state, DeliveryState::Dead { reason, at } if reason.contains("3 attempt") && *at == T0 + 3_000)
    );
    assert_eq!(d.last_error.as_deref(), Some("connection refused"));
    assert!(outbox.due(u64::MAX, 10).unwrap().is_empty());
    assert!(matches!(
        outbox.complete(id, now),
        Err(Error::InvalidState {
            state: DeliveryStateKind::Dead,
            ..
        })
    ));
    assert!(matches!(
        outbox.fail(id, "x", now, &policy),
        Err(Error::InvalidState { .. })
    ));

    outbox.retry(id, T0 + 10_000).unwrap();
    let d = outbox.delivery(id).unwrap().unwrap();
    assert_eq!(
        (d.state.clone(), d.attempts, d.cycle_started_at),
        (
            DeliveryState::Pending {
                due_at: T0 + 10_000
            },
            0,
            T0 + 10_000
        )
    );
    outbox.claim(id, T0 + 10_000, LEASE).unwrap().unwrap();
    assert!(matches!(
        outbox.retry(id, T0 + 10_001),
        Err(Error::InvalidState { .. })
    ));
    assert!(matches!(
        outbox.drop(id, T0 + 10_001),
        Err(Error::InvalidState { .. })
    ));
    outbox.complete(id, T0 + 10_002).unwrap();
    outbox.complete(id, T0 + 10_003).unwrap();
    assert_eq!(
        outbox.delivery(id).unwrap().unwrap().state,
        DeliveryState::Delivered { at: T0 + 10_002 }
    );
}

#[test]
fn max_age_kills_and_jitter_only_shortens() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let policy = RetryPolicy {
        base: 10_000,
        max_delay: 10_000,
        max_attempts: 100,
        max_age: 60_000,
        jitter: 0.5,
    };
    let id = outbox
        .enqueue(new_delivery("partner:acme", "doc", T0), b"x")
        .unwrap()
        .delivery
        .id;
    outbox.claim(id, T0, LEASE).unwrap().unwrap();
    let FailOutcome::RetryAt(t) = outbox.fail(id, "timeout", T0, &policy).unwrap() else {
        panic!("dead too soon")
    };
    assert!((T0 + 5_000..=T0 + 10_000).contains(&t), "{t}");
    outbox.claim(id, T0 + 60_000, LEASE).unwrap().unwrap();
    assert_eq!(
        outbox.fail(id, "timeout", T0 + 60_000, &policy).unwrap(),
        FailOutcome::Dead
    );
}

#[test]
fn leases_expire_and_can_be_extended() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let a = outbox
        .enqueue(new_delivery("partner:acme", "a", T0), b"a")
        .unwrap()
        .delivery
        .id;
    let b = outbox
        .enqueue(new_delivery("partner:acme", "b", T0), b"b")
        .unwrap()
        .delivery
        .id;
    outbox.claim(a, T0, 1_000).unwrap().unwrap();
    outbox.claim(b, T0, 1_000).unwrap().unwrap();
    assert!(
        outbox.claim(a, T0 + 999, 1_000).unwrap().is_none(),
        "a live lease was taken"
    );
    assert!(outbox.extend(b, T0 + 900, 5_000).unwrap());
    assert_eq!(outbox.requeue_expired(T0 + 1_000).unwrap(), [a]);
    assert_eq!(
        outbox.delivery(a).unwrap().unwrap().state,
        DeliveryState::Pending { due_at: T0 + 1_000 }
    );
    assert!(outbox.requeue_expired(T0 + 5_899).unwrap().is_empty());
    // An expired lease may also be claimed over directly.
    let again = outbox.claim(b, T0 + 5_900, 1_000).unwrap().unwrap();
    assert_eq!(again.delivery.attempts, 2);
    assert!(!outbox.extend(a, T0 + 5_900, 1_000).unwrap());
}

#[test]
fn counts_and_listings_follow_every_change() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let mut ids = Vec::new();
    for (i, dest) in ["partner:acme", "partner:acme", "partner:acme", "sink:jsonl"]
        .iter()
        .enumerate()
    {
        ids.push(
            outbox
                .enqueue(new_delivery(dest, &format!("k{i}"), T0 + i as u64), b"x")
                .unwrap()
                .delivery
                .id,
        );
    }
    outbox.claim(ids[0], T0 + 10, LEASE).unwrap().unwrap();
    outbox.claim(ids[1], T0 + 10, LEASE).unwrap().unwrap();
    outbox.complete(ids[1], T0 + 11).unwrap();
    outbox.drop(ids[2], T0 + 12).unwrap();

    let counts = outbox.counts().unwrap();
    assert_eq!(counts.len(), 2);
    let acme = counts
        .iter()
        .find(|c| c.destination == "partner:acme")
        .unwrap();
    assert_eq!(
        (
            acme.pending,
            acme.in_flight,
            acme.delivered,
            acme.dead,
            acme.dropped
        ),
        (0, 1, 1, 0, 1)
    );
    assert_eq!(acme.get(DeliveryStateKind::InFlight), 1);
    let sink = counts
        .iter()
        .find(|c| c.destination == "sink:jsonl")
        .unwrap();
    assert_eq!(sink.pending, 1);
    assert_eq!(outbox.in_flight("partner:acme").unwrap(), 1);
    assert_eq!(outbox.in_flight("nowhere").unwrap(), 0);

    let list = |filter: DeliveryFilter| -> Vec<_> {
        outbox
            .list_deliveries(&filter, 10)
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect()
    };
    assert_eq!(
        list(DeliveryFilter::default()),
        [ids[3], ids[2], ids[1], ids[0]]
    );
    assert_eq!(
        list(DeliveryFilter {
            state: Some(DeliveryStateKind::Dropped),
            ..Default::default()
        }),
        [ids[2]]
    );
    assert_eq!(
        list(DeliveryFilter {
            state: Some(DeliveryStateKind::Pending),
            ..Default::default()
        }),
        [ids[3]]
    );
    assert_eq!(
        list(DeliveryFilter {
            destination: Some("partner:acme".into()),
            ..Default::default()
        }),
        [ids[2], ids[1], ids[0]]
    );
    assert_eq!(outbox.next_due().unwrap(), Some(T0 + 3));
}

#[test]
fn purge_removes_only_what_is_finished_and_old() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let file = |name: &str, at| NewMessage {
        channel: "dir".into(),
        file_name: name.into(),
        spool_path: PathBuf::from(name),
        spool_offset: 0,
        size: 1,
        sha256: String::new(),
        received_at: at,
    };
    let done = outbox.record_received(file("done", T0)).unwrap();
    let stuck = outbox.record_received(file("stuck", T0)).unwrap();
    let unfinished = outbox.record_received(file("unfinished", T0)).unwrap();
    let recent = outbox.record_received(file("recent", T0 + 50_000)).unwrap();
    for m in [done, stuck, recent] {
        outbox
            .set_state(m, MessageState::Processed, T0 + 1, "")
            .unwrap();
    }
    let delivered = outbox
        .enqueue(new_delivery("d", "delivered", T0).message(done), b"1")
        .unwrap()
        .delivery
        .id;
    let dead = outbox
        .enqueue(new_delivery("d", "dead", T0).message(stuck), b"2")
        .unwrap()
        .delivery
        .id;
    let dropped = outbox
        .enqueue(new_delivery("d", "dropped", T0), b"3")
        .unwrap()
        .delivery
        .id;
    let late = outbox
        .enqueue(new_delivery("d", "late", T0), b"4")
        .unwrap()
        .delivery
        .id;
    let pending = outbox
        .enqueue(new_delivery("d", "pending", T0), b"5")
        .unwrap()
        .delivery
        .id;
    outbox.claim(delivered, T0, LEASE).unwrap();
    outbox.complete(delivered, T0 + 100).unwrap();
    outbox.claim(dead, T0, LEASE).unwrap();
    assert_eq!(
        outbox.fail(dead, "no", T0 + 100, &exact(1)).unwrap(),
        FailOutcome::Dead
    );
    outbox.drop(dropped, T0 + 100).unwrap();
    outbox.claim(late, T0, LEASE).unwrap();
    outbox.complete(late, T0 + 20_000).unwrap();
    assert_eq!(outbox.deliveries_for(done).unwrap().len(), 1);

    let purged = outbox.purge(T0 + 10_000).unwrap();
    let mut gone: Vec<_> = purged.deliveries.iter().map(|d| d.id).collect();
    gone.sort();
    assert_eq!(gone, [delivered, dropped]);
    let messages: Vec<_> = purged
        .messages
        .iter()
        .map(|m| (m.id, m.spool_path.clone()))
        .collect();
    assert_eq!(messages, [(done, PathBuf::from("done"))]);

    assert_eq!(outbox.delivery(delivered).unwrap(), None);
    assert_eq!(outbox.payload(delivered).unwrap(), None);
    assert_eq!(outbox.message(done).unwrap(), None);
    assert!(outbox.trace(done).unwrap().is_empty());
    assert!(outbox.deliveries_for(done).unwrap().is_empty());
    for id in [dead, late, pending] {
        assert!(outbox.delivery(id).unwrap().is_some());
    }
    for m in [stuck, unfinished, recent] {
        assert!(outbox.message(m).unwrap().is_some());
    }
    let acme = &outbox.counts().unwrap()[0];
    assert_eq!(
        (acme.pending, acme.delivered, acme.dead, acme.dropped),
        (1, 1, 1, 0)
    );
    // The purged key is free for a new document.
    assert!(
        outbox
            .enqueue(new_delivery("d", "delivered", T0 + 10_001), b"new")
            .unwrap()
            .created
    );
    assert_eq!(
        outbox.purge(T0 + 10_000).unwrap(),
        outbox::Purged::default()
    );
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path());
    assert!(matches!(
        outbox::Outbox::open(dir.path()),
        Err(Error::Locked(_))
    ));
    drop(first);
    // Once the first is gone the lock is free again (sled lets go of it a moment later).
    open(dir.path());
}

#[test]
fn a_round_claims_and_completes_many_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let a = outbox
        .enqueue(new_delivery("sink:a", "a", T0), b"A")
        .unwrap();
    let b = outbox
        .enqueue(new_delivery("sink:a", "b", T0), b"B")
        .unwrap();
    let later = outbox
        .enqueue(new_delivery("sink:a", "c", T0).due_at(T0 + 60_000), b"C")
        .unwrap();
    let ids = [a.delivery.id, b.delivery.id, later.delivery.id];

    let claimed = outbox.claim_many(&ids, T0, LEASE).unwrap();
    let got: Vec<_> = claimed
        .iter()
        .map(|c| (c.delivery.id, c.payload.clone()))
        .collect();
    assert_eq!(
        got,
        [(ids[0], b"A".to_vec()), (ids[1], b"B".to_vec())],
        "not yet due: left out"
    );
    // Claimed ones are leased: a second round takes nothing.
    assert!(outbox.claim_many(&ids, T0 + 1, LEASE).unwrap().is_empty());

    outbox.complete_many(&ids[..2], T0 + 2).unwrap();
    outbox.complete_many(&ids[..2], T0 + 3).unwrap();
    for id in &ids[..2] {
        assert_eq!(
            outbox.delivery(*id).unwrap().unwrap().state,
            DeliveryState::Delivered { at: T0 + 2 },
            "completing twice keeps the first time"
        );
    }
    // Completing one that was never claimed is refused, and nothing of the batch changes.
    assert!(outbox.complete_many(&[ids[2]], T0 + 4).is_err());
    assert_eq!(
        outbox.delivery(ids[2]).unwrap().unwrap().state.kind(),
        DeliveryStateKind::Pending
    );
}

#[test]
fn a_replay_sends_a_delivered_dead_or_dropped_delivery_again() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let sent = outbox
        .enqueue(new_delivery("sink:a", "sent", T0), b"S")
        .unwrap()
        .delivery
        .id;
    let dropped = outbox
        .enqueue(new_delivery("sink:a", "dropped", T0), b"D")
        .unwrap()
        .delivery
        .id;
    let busy = outbox
        .enqueue(new_delivery("sink:a", "busy", T0), b"B")
        .unwrap()
        .delivery
        .id;
    outbox.claim(sent, T0, LEASE).unwrap().unwrap();
    outbox.complete(sent, T0 + 1).unwrap();
    outbox.drop(dropped, T0 + 1).unwrap();
    outbox.claim(busy, T0, LEASE).unwrap().unwrap();

    for id in [sent, dropped] {
        outbox.redeliver(id, T0 + 10).unwrap();
        let d = outbox.delivery(id).unwrap().unwrap();
        assert_eq!(d.state, DeliveryState::Pending { due_at: T0 + 10 });
        assert_eq!(d.attempts, 0);
    }
    // Due again, with the same payload.
    let due: Vec<_> = outbox
        .due(T0 + 10, 10)
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(due, [sent, dropped]);
    assert_eq!(outbox.payload(sent).unwrap().unwrap(), b"S");
    // One being sent is left alone.
    assert!(matches!(
        outbox.redeliver(busy, T0 + 10),
        Err(Error::InvalidState { .. })
    ));
}
