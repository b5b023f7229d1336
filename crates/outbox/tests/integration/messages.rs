//! Inbound message records, traces, and duplicate interchanges.

use std::path::PathBuf;

use outbox::{Error, MessageFilter, MessageId, MessageState, MessageStateKind, NewMessage, Step};

use crate::{T0, open};

fn file(name: &str, at: u64) -> NewMessage {
    NewMessage {
        channel: "dir:inbound".into(),
        file_name: name.into(),
        spool_path: PathBuf::from(format!("/spool/{name}")),
        spool_offset: 0,
        size: 120,
        sha256: "ab".repeat(32),
        received_at: at,
    }
}

#[test]
fn messages_get_contiguous_ids_and_a_trace() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let a = outbox.record_received(file("a.x12", T0)).unwrap();
    let b = outbox.record_received(file("b.x12", T0 + 1)).unwrap();
    assert_eq!((a.to_string().as_str(), b.get()), ("m-000000000001", 2));

    outbox.set_partner(a, "acme", T0 + 10).unwrap();
    outbox.set_partner(a, "acme", T0 + 11).unwrap();
    assert!(matches!(
        outbox.set_partner(a, "globex", T0 + 12),
        Err(Error::PartnerConflict { .. })
    ));
    outbox
        .append_trace(
            a,
            T0 + 20,
            Step::Validated {
                accepted: 2,
                rejected: 1,
            },
            "850 0002 rejected",
        )
        .unwrap();
    outbox
        .set_state(a, MessageState::Processed, T0 + 30, "")
        .unwrap();
    outbox
        .set_state(a, MessageState::Processed, T0 + 31, "again")
        .unwrap();

    let m = outbox.message(a).unwrap().unwrap();
    assert_eq!(m.partner.as_deref(), Some("acme"));
    assert_eq!(m.state, MessageState::Processed);
    assert_eq!(m.updated_at, T0 + 30);
    let steps: Vec<_> = outbox
        .trace(a)
        .unwrap()
        .into_iter()
        .map(|e| (e.at, e.step))
        .collect();
    assert_eq!(
        steps,
        [
            (T0, Step::Received),
            (
                T0 + 10,
                Step::Identified {
                    partner: "acme".into()
                }
            ),
            (
                T0 + 20,
                Step::Validated {
                    accepted: 2,
                    rejected: 1
                }
            ),
            (T0 + 30, Step::Processed),
        ]
    );
    assert!(outbox.trace(b).unwrap().len() == 1);
    assert!(matches!(
        outbox.set_state(MessageId::new(99), MessageState::Processed, T0, ""),
        Err(Error::MessageNotFound(_))
    ));
}

#[test]
fn unfinished_messages_are_pending_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<_> = {
        let outbox = open(dir.path());
        let ids: Vec<_> = (0..4)
            .map(|i| {
                outbox
                    .record_received(file(&format!("{i}.edi"), T0 + i))
                    .unwrap()
            })
            .collect();
        outbox
            .set_state(
                ids[1],
                MessageState::Quarantined {
                    reason: "unknown partner".into(),
                },
                T0 + 9,
                "",
            )
            .unwrap();
        outbox
            .set_state(
                ids[3],
                MessageState::Failed {
                    reason: "spool unreadable".into(),
                },
                T0 + 9,
                "",
            )
            .unwrap();
        ids
        // dropped without an explicit flush: record_received flushed each one
    };
    let outbox = open(dir.path());
    let pending: Vec<_> = outbox
        .pending_messages()
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(pending, [ids[0], ids[2]]);

    // An operator sends a quarantined file round again.
    outbox
        .set_state(ids[1], MessageState::Received, T0 + 20, "partner added")
        .unwrap();
    let pending: Vec<_> = outbox
        .pending_messages()
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(pending, [ids[0], ids[1], ids[2]]);
    assert_eq!(
        outbox.trace(ids[1]).unwrap().last().unwrap().step,
        Step::Requeued
    );
}

#[test]
fn messages_list_newest_first_with_filters() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let ids: Vec<_> = (0..6)
        .map(|i| {
            outbox
                .record_received(file(&format!("{i}"), T0 + i * 100))
                .unwrap()
        })
        .collect();
    for (i, id) in ids.iter().enumerate() {
        outbox
            .set_partner(*id, if i % 2 == 0 { "acme" } else { "globex" }, T0 + 1000)
            .unwrap();
    }
    outbox
        .set_state(
            ids[4],
            MessageState::Duplicate { of: ids[0] },
            T0 + 1000,
            "",
        )
        .unwrap();

    let list = |filter: MessageFilter, limit| -> Vec<MessageId> {
        outbox
            .list_messages(&filter, limit)
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect()
    };
    assert_eq!(list(MessageFilter::default(), 3), [ids[5], ids[4], ids[3]]);
    assert_eq!(
        list(
            MessageFilter {
                partner: Some("acme".into()),
                ..Default::default()
            },
            10
        ),
        [ids[4], ids[2], ids[0]]
    );
    assert_eq!(
        list(
            MessageFilter {
                since: Some(T0 + 250),
                ..Default::default()
            },
            10
        ),
        [ids[5], ids[4], ids[3]]
    );
    let received_acme = MessageFilter {
        partner: Some("acme".into()),
        state: Some(MessageStateKind::Received),
        since: Some(T0 + 100),
        message_type: None,
    };
    assert_eq!(list(received_acme, 10), [ids[2]]);
}

#[test]
fn duplicate_interchanges_inside_and_outside_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let window = 1_000;
    let (m1, m2, m3, m4) = (
        MessageId::new(1),
        MessageId::new(2),
        MessageId::new(3),
        MessageId::new(4),
    );

    assert_eq!(
        outbox
            .check_interchange("acme", "000000042", m1, T0, window)
            .unwrap(),
        None
    );
    // The same file again after a crash is not its own duplicate.
    assert_eq!(
        outbox
            .check_interchange("acme", "000000042", m1, T0 + 10, window)
            .unwrap(),
        None
    );
    let prior = outbox
        .check_interchange("acme", "000000042", m2, T0 + window, window)
        .unwrap()
        .unwrap();
    assert_eq!((prior.message_id, prior.seen_at), (m1, T0));
    // Another partner, or another number, is not a duplicate.
    assert_eq!(
        outbox
            .check_interchange("globex", "000000042", m2, T0 + 5, window)
            .unwrap(),
        None
    );
    assert_eq!(
        outbox
            .check_interchange("acme", "000000043", m2, T0 + 5, window)
            .unwrap(),
        None
    );
    // Past the window (counted from the first sighting) the number is new again, and the new
    // sighting starts a new window.
    assert_eq!(
        outbox
            .check_interchange("acme", "000000042", m3, T0 + window + 1, window)
            .unwrap(),
        None
    );
    let prior = outbox
        .check_interchange("acme", "000000042", m4, T0 + window + 2, window)
        .unwrap()
        .unwrap();
    assert_eq!(prior.message_id, m3);

    // Sightings are kept across reopen, and purged apart from messages.
    drop(outbox);
    let outbox = open(dir.path());
    assert!(
        outbox
            .check_interchange("acme", "000000043", m4, T0 + 6, window)
            .unwrap()
            .is_some()
    );
    assert_eq!(outbox.purge_interchanges(T0 + window).unwrap(), 2);
    assert_eq!(
        outbox
            .check_interchange("acme", "000000043", m4, T0 + 7, window)
            .unwrap(),
        None
    );
    assert!(
        outbox
            .check_interchange("acme", "000000042", m1, T0 + window + 3, window)
            .unwrap()
            .is_some()
    );
}

#[test]
fn a_batch_is_found_again_file_by_file_until_each_is_released() {
    let dir = tempfile::tempdir().unwrap();
    let sha = "ab".repeat(32);
    let first = {
        let outbox = open(dir.path());
        let batch: Vec<NewMessage> = ["a.edi", "b.edi", "c.edi"]
            .iter()
            .map(|n| file(n, T0))
            .collect();
        let recorded = outbox.record_received_or_found(&batch).unwrap();
        assert!(recorded.iter().all(|(_, record)| record.is_some()));
        // One file of the batch is gone from its channel; the others are not.
        outbox
            .mark_files_released(&[("dir:inbound", "b.edi", sha.as_str())])
            .unwrap();
        outbox.flush().unwrap();
        // The same process knows it too: c is still marked, b is not.
        assert_eq!(
            outbox
                .find_unreleased("dir:inbound", "c.edi", &sha)
                .unwrap(),
            Some(recorded[2].0)
        );
        assert_eq!(
            outbox
                .find_unreleased("dir:inbound", "b.edi", &sha)
                .unwrap(),
            None
        );
        recorded
    };
    // After a restart the same three files are in the channel again, with a new one.
    let outbox = open(dir.path());
    let batch: Vec<NewMessage> = ["a.edi", "b.edi", "c.edi", "d.edi"]
        .iter()
        .map(|n| file(n, T0 + 5))
        .collect();
    let again = outbox.record_received_or_found(&batch).unwrap();
    assert_eq!(again[0], (first[0].0, None));
    assert_eq!(again[2], (first[2].0, None));
    // b was released, so this b is a new file; d is new.
    for i in [1, 3] {
        let (id, record) = &again[i];
        assert!(record.as_ref().is_some_and(|m| m.id == *id), "{again:?}");
        assert!(first.iter().all(|(old, _)| old != id));
    }
    assert_eq!(
        outbox
            .find_unreleased("dir:inbound", "c.edi", &sha)
            .unwrap(),
        Some(first[2].0)
    );
    // Releasing a, c and the new files leaves no marker behind.
    let names = ["a.edi", "b.edi", "c.edi", "d.edi"];
    let released: Vec<(&str, &str, &str)> = names
        .iter()
        .map(|n| ("dir:inbound", *n, sha.as_str()))
        .collect();
    outbox.mark_files_released(&released).unwrap();
    for n in names {
        assert_eq!(
            outbox.find_unreleased("dir:inbound", n, &sha).unwrap(),
            None
        );
    }
    assert_eq!(outbox.clear_unreleased().unwrap(), 0);
}

#[test]
fn concurrent_sightings_let_exactly_one_message_through() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let firsts: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (1..=8)
            .map(|i| {
                let outbox = outbox.clone();
                s.spawn(move || {
                    outbox
                        .check_interchange("acme", "7", MessageId::new(i), T0, 60_000)
                        .unwrap()
                        .is_none()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| usize::from(h.join().unwrap()))
            .sum()
    });
    assert_eq!(firsts, 1);
}

#[test]
fn a_recorded_file_is_found_again_until_released() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = {
        let outbox = open(dir.path());
        let a = outbox.record_received(file("a.edi", T0)).unwrap();
        let b = outbox.record_received(file("b.edi", T0 + 1)).unwrap();
        outbox.mark_released(b).unwrap();
        outbox.flush().unwrap();
        (a, b)
    };
    // After a restart: `a` was recorded but its removal from the channel never confirmed.
    let outbox = open(dir.path());
    let sha = "ab".repeat(32);
    assert_eq!(
        outbox
            .find_unreleased("dir:inbound", "a.edi", &sha)
            .unwrap(),
        Some(a)
    );
    assert_eq!(
        outbox
            .find_unreleased("dir:inbound", "b.edi", &sha)
            .unwrap(),
        None
    );
    // Same name, other content, or another channel: not the same file.
    assert_eq!(
        outbox
            .find_unreleased("dir:inbound", "a.edi", &"cd".repeat(32))
            .unwrap(),
        None
    );
    assert_eq!(
        outbox.find_unreleased("dir:other", "a.edi", &sha).unwrap(),
        None
    );
    assert_ne!(a, b);

    // Another channel's markers are not this one's.
    assert_eq!(outbox.clear_unreleased_in("dir:other").unwrap(), 0);
    assert_eq!(outbox.clear_unreleased_in("dir:inbound").unwrap(), 1);
    assert_eq!(outbox.clear_unreleased().unwrap(), 0);
    assert_eq!(
        outbox
            .find_unreleased("dir:inbound", "a.edi", &sha)
            .unwrap(),
        None
    );
    // The message itself is untouched.
    assert_eq!(
        outbox.message(a).unwrap().unwrap().state,
        MessageState::Received
    );
}

#[test]
fn steps_and_the_final_state_are_recorded_together() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let id = outbox.record_received(file("x.edi", T0)).unwrap();
    outbox
        .record_steps(
            id,
            &[
                (
                    T0 + 1,
                    Step::Validated {
                        accepted: 2,
                        rejected: 1,
                    },
                    "one bad".into(),
                ),
                (T0 + 2, Step::Translated { events: 2 }, String::new()),
            ],
            Some((MessageState::Processed, T0 + 3)),
        )
        .unwrap();
    let steps: Vec<Step> = outbox
        .trace(id)
        .unwrap()
        .into_iter()
        .map(|t| t.step)
        .collect();
    assert_eq!(
        steps,
        [
            Step::Received,
            Step::Validated {
                accepted: 2,
                rejected: 1
            },
            Step::Translated { events: 2 },
            Step::Processed
        ]
    );
    let m = outbox.message(id).unwrap().unwrap();
    assert_eq!(m.state, MessageState::Processed);
    assert_eq!(m.updated_at, T0 + 3);
    assert!(outbox.pending_messages().unwrap().is_empty());

    // Entries recorded together and one at a time read back in the order they happened.
    outbox.reopen(id, T0 + 4).unwrap();
    outbox
        .record_steps(
            id,
            &[(T0 + 5, Step::Translated { events: 1 }, String::new())],
            Some((MessageState::Processed, T0 + 6)),
        )
        .unwrap();
    let times: Vec<u64> = outbox.trace(id).unwrap().iter().map(|t| t.at).collect();
    assert_eq!(times, [T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4, T0 + 5, T0 + 6]);
    assert_eq!(outbox.message(id).unwrap().unwrap().trace_len, 7);
}

#[test]
fn messages_are_found_by_the_types_they_held_and_made() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let x12 = outbox.record_received(file("po.x12", T0)).unwrap();
    let edifact = outbox.record_received(file("orders.edi", T0 + 1)).unwrap();
    let junk = outbox.record_received(file("junk", T0 + 2)).unwrap();
    let types = |list: &[&str]| list.iter().map(|t| t.to_string()).collect::<Vec<_>>();
    outbox
        .record_outcome(
            x12,
            &[],
            &types(&["850", "860"]),
            &types(&["order.created", "order.changed"]),
            Some((MessageState::Processed, T0 + 5)),
        )
        .unwrap();
    // Processing again after a crash adds nothing twice.
    outbox
        .record_outcome(x12, &[], &types(&["850"]), &types(&["order.created"]), None)
        .unwrap();
    outbox
        .record_outcome(
            edifact,
            &[],
            &types(&["ORDERS"]),
            &types(&["order.created"]),
            Some((MessageState::Processed, T0 + 6)),
        )
        .unwrap();
    let m = outbox.message(x12).unwrap().unwrap();
    assert_eq!(m.message_types, ["850", "860"]);
    assert_eq!(m.event_types, ["order.created", "order.changed"]);
    assert!(
        outbox
            .message(junk)
            .unwrap()
            .unwrap()
            .message_types
            .is_empty()
    );

    let of_type = |t: &str| -> Vec<MessageId> {
        let filter = MessageFilter {
            message_type: Some(t.into()),
            ..Default::default()
        };
        outbox
            .list_messages(&filter, 10)
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect()
    };
    assert_eq!(of_type("850"), [x12]);
    assert_eq!(of_type("orders"), [edifact], "case is ignored");
    assert_eq!(of_type("order.created"), [edifact, x12]);
    assert_eq!(of_type("order.changed"), [x12]);
    assert!(of_type("856").is_empty());
    assert!(of_type("85").is_empty(), "whole types only");
}

#[test]
fn a_partners_last_arrival_outlives_its_messages() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let early = outbox.record_received(file("a.x12", T0)).unwrap();
    let late = outbox.record_received(file("b.x12", T0 + 500)).unwrap();
    let other = outbox.record_received(file("c.x12", T0 + 100)).unwrap();
    // Identified out of arrival order: the latest arrival counts, not the latest identification.
    outbox.set_partner(late, "acme", T0 + 600).unwrap();
    outbox.set_partner(early, "acme", T0 + 700).unwrap();
    outbox.set_partner(other, "globex", T0 + 800).unwrap();
    let last = outbox.last_received().unwrap();
    assert_eq!(last.get("acme"), Some(&(T0 + 500)));
    assert_eq!(last.get("globex"), Some(&(T0 + 100)));
    assert_eq!(last.len(), 2);

    // Retention removes the records, not the arrival times.
    for id in [early, late, other] {
        outbox
            .set_state(id, MessageState::Processed, T0 + 900, "")
            .unwrap();
    }
    outbox.purge(T0 + 1_000_000).unwrap();
    assert!(outbox.message(late).unwrap().is_none());
    assert_eq!(outbox.last_received().unwrap(), last);
}

#[test]
fn the_creation_time_is_the_first_ones_and_older_stores_are_read_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        let outbox = open(dir.path());
        let a = outbox.record_received(file("a.x12", T0)).unwrap();
        outbox.set_partner(a, "acme", T0 + 1).unwrap();
        assert_eq!(outbox.created_at(T0 + 10).unwrap(), T0 + 10);
        assert_eq!(outbox.created_at(T0 + 99).unwrap(), T0 + 10);
    }
    {
        let outbox = open(dir.path());
        assert_eq!(
            outbox.created_at(T0 + 500).unwrap(),
            T0 + 10,
            "kept on disk"
        );
    }
    // A store as a version before these records left it: messages, no arrival times.
    {
        let db = sled::open(dir.path()).unwrap();
        let meta = db.open_tree("meta").unwrap();
        meta.remove("created_at").unwrap();
        meta.remove("last_received/acme").unwrap();
        db.flush().unwrap();
    }
    let outbox = open(dir.path());
    assert!(outbox.last_received().unwrap().is_empty());
    assert_eq!(outbox.created_at(T0 + 500).unwrap(), T0 + 500);
    assert_eq!(outbox.last_received().unwrap().get("acme"), Some(&T0));
}
