//! The delivery state machine against a plain in-memory model: random operations, reopens and
//! clock moves, and after every step the states, the due list and the counts must agree.

use std::collections::BTreeMap;

use outbox::{
    DeliveryId, DeliveryState, DeliveryStateKind, Error, FailOutcome, Outbox, RetryPolicy,
};
use proptest::prelude::*;

use crate::{T0, new_delivery};

const DESTINATIONS: [&str; 3] = ["partner:acme", "partner:globex", "sink:jsonl"];
const LEASE: u64 = 1_000;
const POLICY: RetryPolicy = RetryPolicy {
    base: 100,
    max_delay: 800,
    max_attempts: 3,
    max_age: 5_000,
    jitter: 0.0,
};

#[derive(Clone, Debug)]
enum Op {
    Enqueue {
        dest: usize,
        key: u8,
        variant: u8,
        delay: u64,
    },
    Claim(usize),
    Complete(usize),
    Fail(usize),
    Retry(usize),
    Drop(usize),
    Extend(usize),
    /// Handed over without a claim, delivered.
    HandOver(usize),
    /// Handed over without a claim, refused.
    HandOverFailed(usize),
    RequeueExpired,
    Purge {
        age: u64,
    },
    Reopen,
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..DESTINATIONS.len(), 0..8u8, 0..2u8, prop_oneof![Just(0u64), 0..3_000u64])
            .prop_map(|(dest, key, variant, delay)| Op::Enqueue { dest, key, variant, delay }),
        4 => any::<usize>().prop_map(Op::Claim),
        2 => any::<usize>().prop_map(Op::Complete),
        3 => any::<usize>().prop_map(Op::Fail),
        1 => any::<usize>().prop_map(Op::Retry),
        1 => any::<usize>().prop_map(Op::Drop),
        1 => any::<usize>().prop_map(Op::Extend),
        2 => any::<usize>().prop_map(Op::HandOver),
        2 => any::<usize>().prop_map(Op::HandOverFailed),
        1 => Just(Op::RequeueExpired),
        1 => (0..4_000u64).prop_map(|age| Op::Purge { age }),
        1 => Just(Op::Reopen),
        3 => (0..2_000u64).prop_map(Op::Advance),
    ]
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum S {
    Pending(u64),
    InFlight { claimed: u64, lease_until: u64 },
    Delivered(u64),
    Dead(u64),
    Dropped(u64),
}

impl S {
    fn kind(&self) -> DeliveryStateKind {
        match self {
            S::Pending(_) => DeliveryStateKind::Pending,
            S::InFlight { .. } => DeliveryStateKind::InFlight,
            S::Delivered(_) => DeliveryStateKind::Delivered,
            S::Dead(_) => DeliveryStateKind::Dead,
            S::Dropped(_) => DeliveryStateKind::Dropped,
        }
    }

    fn matches(&self, real: &DeliveryState) -> bool {
        match (self, real) {
            (S::Pending(a), DeliveryState::Pending { due_at }) => a == due_at,
            (
                S::InFlight {
                    claimed,
                    lease_until: l,
                },
                DeliveryState::InFlight {
                    claimed_at,
                    lease_until,
                },
            ) => claimed == claimed_at && l == lease_until,
            (S::Delivered(a), DeliveryState::Delivered { at })
            | (S::Dead(a), DeliveryState::Dead { at, .. })
            | (S::Dropped(a), DeliveryState::Dropped { at }) => a == at,
            _ => false,
        }
    }
}

#[derive(Clone, Debug)]
struct D {
    dest: usize,
    key: u8,
    payload: Vec<u8>,
    state: S,
    attempts: u32,
    cycle: u64,
}

/// What an operation is expected to answer.
#[derive(Debug, PartialEq)]
enum Answer {
    Done,
    Id(u64, bool),
    Claimed(Option<u64>),
    Fail(FailOutcome),
    Bool(bool),
    Ids(Vec<u64>),
    InvalidState,
    KeyConflict,
    NotTaken,
}

#[derive(Default)]
struct Model {
    now: u64,
    next_id: u64,
    live: BTreeMap<u64, D>,
    purged: Vec<u64>,
}

impl Model {
    /// Operations name a delivery by position, so shrinking keeps them meaningful.
    fn pick(&self, i: usize) -> Option<u64> {
        if self.live.is_empty() {
            None
        } else {
            self.live.keys().nth(i % self.live.len()).copied()
        }
    }

    fn apply(&mut self, op: &Op) -> Option<Answer> {
        let now = self.now;
        Some(match *op {
            Op::Enqueue {
                dest,
                key,
                variant,
                delay,
            } => {
                let payload = format!("payload {key} {variant}").into_bytes();
                if let Some((&id, d)) = self.live.iter().find(|(_, d)| d.key == key) {
                    if d.payload == payload {
                        Answer::Id(id, false)
                    } else {
                        Answer::KeyConflict
                    }
                } else {
                    self.next_id += 1;
                    let d = D {
                        dest,
                        key,
                        payload,
                        state: S::Pending(now + delay),
                        attempts: 0,
                        cycle: now,
                    };
                    self.live.insert(self.next_id, d);
                    Answer::Id(self.next_id, true)
                }
            }
            Op::Claim(i) => {
                let id = self.pick(i)?;
                let d = self.live.get_mut(&id)?;
                let claimable = match d.state {
                    S::Pending(due) => due <= now,
                    S::InFlight { lease_until, .. } => lease_until <= now,
                    _ => false,
                };
                if claimable {
                    d.attempts += 1;
                    d.state = S::InFlight {
                        claimed: now,
                        lease_until: now + LEASE,
                    };
                    Answer::Claimed(Some(id))
                } else {
                    Answer::Claimed(None)
                }
            }
            Op::Complete(i) => {
                let d = self.live.get_mut(&self.pick(i)?)?;
                match d.state {
                    S::InFlight { .. } => {
                        d.state = S::Delivered(now);
                        Answer::Done
                    }
                    S::Delivered(_) => Answer::Done,
                    _ => Answer::InvalidState,
                }
            }
            Op::Fail(i) => {
                let d = self.live.get_mut(&self.pick(i)?)?;
                if d.state.kind() != DeliveryStateKind::InFlight {
                    return Some(Answer::InvalidState);
                }
                fail(d, now)
            }
            Op::HandOver(i) => {
                let d = self.live.get_mut(&self.pick(i)?)?;
                match d.state {
                    S::Pending(due) if due <= now => {
                        d.attempts += 1;
                        d.state = S::Delivered(now);
                        Answer::Bool(true)
                    }
                    _ => Answer::Bool(false),
                }
            }
            Op::HandOverFailed(i) => {
                let d = self.live.get_mut(&self.pick(i)?)?;
                match d.state {
                    S::Pending(due) if due <= now => {
                        d.attempts += 1;
                        fail(d, now)
                    }
                    _ => Answer::NotTaken,
                }
            }
            Op::Retry(i) => {
                let d = self.live.get_mut(&self.pick(i)?)?;
                match d.state {
                    S::Pending(_) | S::Dead(_) => {
                        d.state = S::Pending(now);
                        d.attempts = 0;
                        d.cycle = now;
                        Answer::Done
                    }
                    _ => Answer::InvalidState,
                }
            }
            Op::Drop(i) => {
                let d = self.live.get_mut(&self.pick(i)?)?;
                match d.state {
                    S::Pending(_) | S::Dead(_) => {
                        d.state = S::Dropped(now);
                        Answer::Done
                    }
                    S::Dropped(_) => Answer::Done,
                    _ => Answer::InvalidState,
                }
            }
            Op::Extend(i) => {
                let d = self.live.get_mut(&self.pick(i)?)?;
                match d.state {
                    S::InFlight { claimed, .. } => {
                        d.state = S::InFlight {
                            claimed,
                            lease_until: now + LEASE,
                        };
                        Answer::Bool(true)
                    }
                    _ => Answer::Bool(false),
                }
            }
            Op::RequeueExpired => {
                let mut expired: Vec<(u64, u64)> = Vec::new();
                for (&id, d) in &mut self.live {
                    if let S::InFlight { lease_until, .. } = d.state
                        && lease_until <= now
                    {
                        expired.push((lease_until, id));
                        d.state = S::Pending(now);
                    }
                }
                expired.sort();
                Answer::Ids(expired.into_iter().map(|(_, id)| id).collect())
            }
            Op::Purge { age } => {
                let cutoff = now.saturating_sub(age);
                let gone: Vec<u64> = self
                    .live
                    .iter()
                    .filter(|(_, d)| matches!(d.state, S::Delivered(at) | S::Dropped(at) if at < cutoff))
                    .map(|(&id, _)| id)
                    .collect();
                for id in &gone {
                    self.live.remove(id);
                    self.purged.push(*id);
                }
                Answer::Ids(gone)
            }
            Op::Reopen => {
                for d in self.live.values_mut() {
                    if let S::InFlight { claimed, .. } = d.state {
                        d.state = S::Pending(claimed);
                    }
                }
                Answer::Done
            }
            Op::Advance(ms) => {
                self.now += ms;
                Answer::Done
            }
        })
    }
}

/// A failed attempt of `d`: due again after the backoff, or dead when attempts or age are spent.
fn fail(d: &mut D, now: u64) -> Answer {
    if d.attempts >= POLICY.max_attempts || now - d.cycle >= POLICY.max_age {
        d.state = S::Dead(now);
        Answer::Fail(FailOutcome::Dead)
    } else {
        let delay = (100u64 << (d.attempts - 1)).min(800);
        d.state = S::Pending(now + delay);
        Answer::Fail(FailOutcome::RetryAt(now + delay))
    }
}

fn answer<T>(result: outbox::Result<T>, ok: impl FnOnce(T) -> Answer) -> Answer {
    match result {
        Ok(v) => ok(v),
        Err(Error::InvalidState { .. }) => Answer::InvalidState,
        Err(Error::KeyConflict { .. }) => Answer::KeyConflict,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn run(
    dir: &std::path::Path,
    outbox: &mut Option<Outbox>,
    model: &Model,
    op: &Op,
    target: Option<u64>,
) -> Answer {
    let now = model.now;
    let db = outbox.as_ref().unwrap();
    let id = || DeliveryId::new(target.unwrap());
    match *op {
        Op::Enqueue {
            dest,
            key,
            variant,
            delay,
        } => {
            let new =
                new_delivery(DESTINATIONS[dest], &format!("key-{key}"), now).due_at(now + delay);
            let payload = format!("payload {key} {variant}").into_bytes();
            answer(db.enqueue(new, &payload), |e| {
                Answer::Id(e.delivery.id.get(), e.created)
            })
        }
        Op::Claim(_) => answer(db.claim(id(), now, LEASE), |c| {
            if let Some(c) = &c {
                assert_eq!(c.payload, model.live[&c.delivery.id.get()].payload);
            }
            Answer::Claimed(c.map(|c| c.delivery.id.get()))
        }),
        Op::Complete(_) => answer(db.complete(id(), now), |_| Answer::Done),
        Op::Fail(_) => answer(db.fail(id(), "refused", now, &POLICY), Answer::Fail),
        Op::HandOver(_) | Op::HandOverFailed(_) => {
            // What a sender read: the delivery's due time when it is due now; else a read that
            // is out of date by the time it is settled.
            let read = db.delivery(id()).unwrap().and_then(|d| match d.state {
                DeliveryState::Pending { due_at } if due_at <= now => Some(due_at),
                _ => None,
            });
            let due_at = read.unwrap_or(u64::MAX);
            if matches!(op, Op::HandOver(_)) {
                answer(db.complete_unclaimed_many(&[(id(), due_at)], now), |m| {
                    Answer::Bool(m == [true])
                })
            } else {
                answer(
                    db.fail_unclaimed(id(), due_at, "refused", now, &POLICY),
                    |o| o.map_or(Answer::NotTaken, Answer::Fail),
                )
            }
        }
        Op::Retry(_) => answer(db.retry(id(), now), |_| Answer::Done),
        Op::Drop(_) => answer(db.drop(id(), now), |_| Answer::Done),
        Op::Extend(_) => answer(db.extend(id(), now, LEASE), Answer::Bool),
        Op::RequeueExpired => answer(db.requeue_expired(now), |ids| {
            Answer::Ids(ids.iter().map(|i| i.get()).collect())
        }),
        Op::Purge { age } => answer(db.purge(now.saturating_sub(age)), |p| {
            let mut ids: Vec<u64> = p.deliveries.iter().map(|d| d.id.get()).collect();
            ids.sort();
            Answer::Ids(ids)
        }),
        Op::Reopen => {
            *outbox = None;
            *outbox = Some(Outbox::open(dir).unwrap());
            Answer::Done
        }
        Op::Advance(_) => Answer::Done,
    }
}

fn compare(outbox: &Outbox, model: &Model) -> Result<(), TestCaseError> {
    for (&id, d) in &model.live {
        let real = outbox.delivery(DeliveryId::new(id)).unwrap();
        let real = real.ok_or_else(|| TestCaseError::fail(format!("delivery {id} is missing")))?;
        prop_assert!(
            d.state.matches(&real.state),
            "delivery {id}: model {:?}, store {:?}",
            d.state,
            real.state
        );
        prop_assert_eq!(d.attempts, real.attempts, "attempts of {}", id);
        prop_assert_eq!(d.cycle, real.cycle_started_at);
        prop_assert_eq!(DESTINATIONS[d.dest], real.destination.as_str());
    }
    for &id in &model.purged {
        prop_assert!(
            outbox.delivery(DeliveryId::new(id)).unwrap().is_none(),
            "purged {id} is back"
        );
    }

    let mut due: Vec<(u64, u64)> = model
        .live
        .iter()
        .filter_map(|(&id, d)| match d.state {
            S::Pending(t) if t <= model.now => Some((t, id)),
            _ => None,
        })
        .collect();
    due.sort();
    let expected: Vec<u64> = due.iter().map(|&(_, id)| id).collect();
    let real: Vec<u64> = outbox
        .due(model.now, usize::MAX)
        .unwrap()
        .iter()
        .map(|d| d.id.get())
        .collect();
    prop_assert_eq!(&expected, &real, "due at {}", model.now);
    let first_three: Vec<u64> = outbox
        .due(model.now, 3)
        .unwrap()
        .iter()
        .map(|d| d.id.get())
        .collect();
    prop_assert_eq!(&expected[..expected.len().min(3)], &first_three[..]);
    let next = model
        .live
        .values()
        .filter_map(|d| {
            if let S::Pending(t) = d.state {
                Some(t)
            } else {
                None
            }
        })
        .min();
    prop_assert_eq!(next, outbox.next_due().unwrap());

    let counts = outbox.counts().unwrap();
    for (i, dest) in DESTINATIONS.iter().enumerate() {
        let real = counts.iter().find(|c| c.destination == *dest);
        for kind in DeliveryStateKind::ALL {
            let want = model
                .live
                .values()
                .filter(|d| d.dest == i && d.state.kind() == kind)
                .count() as u64;
            prop_assert_eq!(want, real.map_or(0, |c| c.get(kind)), "{} {}", dest, kind);
        }
        let in_flight = model
            .live
            .values()
            .filter(|d| d.dest == i && d.state.kind() == DeliveryStateKind::InFlight);
        prop_assert_eq!(in_flight.count() as u64, outbox.in_flight(dest).unwrap());
    }
    prop_assert!(
        counts
            .iter()
            .all(|c| DESTINATIONS.contains(&c.destination.as_str()))
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, max_shrink_iters: 500, ..ProptestConfig::default() })]

    #[test]
    fn deliveries_behave_like_the_model(ops in proptest::collection::vec(op(), 1..80)) {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Some(Outbox::open(dir.path()).unwrap());
        let mut model = Model { now: T0, ..Model::default() };
        for op in &ops {
            let target = match *op {
                Op::Claim(i) | Op::Complete(i) | Op::Fail(i) | Op::Retry(i) | Op::Drop(i) | Op::Extend(i)
                | Op::HandOver(i) | Op::HandOverFailed(i) => {
                    match model.pick(i) {
                        Some(id) => Some(id),
                        None => continue,
                    }
                }
                _ => None,
            };
            let real = run(dir.path(), &mut outbox, &model, op, target);
            let expected = model.apply(op).unwrap();
            prop_assert_eq!(expected, real, "after {:?}", op);
            compare(outbox.as_ref().unwrap(), &model)?;
        }
    }
}
