//! Aggregates kept beside the records: figures a report reads instead of walking documents
//! (the gateway's partner insights). Two trees of the fixed set, so that a message's figures
//! are written in the transaction that finishes it:
//!
//! | tree | key | value |
//! |---|---|---|
//! | `aggregates` | the caller's key | the caller's bytes |
//! | `aggregates_applied` | the caller's id of an update | when it was applied (u64 ms, big endian) |
//!
//! Retention ([`Outbox::purge`]) never touches the aggregates: they outlive the records they
//! were made from. The markers of applied updates go with those records
//! ([`Outbox::purge_aggregate_markers`]), since nothing can apply them again once the records
//! are gone.

use crate::store::{T, Tx, TxResult};
use crate::{Error, Millis, Outbox, Result};

/// Aggregate updates made in the transaction that finishes a message
/// ([`Outbox::finish_message_with`]): each `(once, keys)` as in [`Outbox::apply_aggregate`],
/// `apply` computing update `index`'s values.
pub struct AggregateUpdates<'a> {
    /// Each update's id and keys.
    pub updates: &'a [(&'a [u8], &'a [Vec<u8>])],
    /// When they are applied (their markers go with retention).
    pub at: Millis,
    /// The new values of update `index`'s keys from their stored ones.
    pub apply: &'a AggregateFn<'a, String>,
}

/// Computes update `index`'s new values from its keys' stored ones (`None` where absent).
pub type AggregateFn<'f, E> =
    dyn Fn(usize, &[Option<&[u8]>]) -> std::result::Result<Vec<Vec<u8>>, E> + 'f;

/// Per update, whether it was applied now; and the updates left out, by index, with why.
pub(crate) type Applied = (Vec<bool>, Vec<(usize, String)>);

/// What to do when an update cannot be computed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnFailure {
    /// Abort the transaction.
    Abort,
    /// Leave that update out (unmarked) and go on: figures must never stop a message.
    Skip,
}

/// Applies `updates` in `tx`, in order; returns per update whether it was applied now, and the
/// failures left out (with [`OnFailure::Skip`]).
pub(crate) fn apply_in<E: std::fmt::Display>(
    tx: &Tx<'_>,
    updates: &[(&[u8], &[Vec<u8>])],
    now: Millis,
    on_failure: OnFailure,
    f: &AggregateFn<'_, E>,
) -> TxResult<Applied> {
    let mut done = Vec::with_capacity(updates.len());
    let mut failed = Vec::new();
    for (index, (once, keys)) in updates.iter().enumerate() {
        if tx.get(T::AggregatesApplied, once)?.is_some() {
            done.push(false);
            continue;
        }
        let stored = keys
            .iter()
            .map(|k| tx.get(T::Aggregates, k))
            .collect::<TxResult<Vec<_>>>()?;
        let views: Vec<Option<&[u8]>> = stored.iter().map(|v| v.as_deref()).collect();
        let new = f(index, &views).map_err(|e| e.to_string()).and_then(|new| {
            if new.len() == keys.len() {
                Ok(new)
            } else {
                Err(format!(
                    "an aggregate update gave {} values for {} keys",
                    new.len(),
                    keys.len()
                ))
            }
        });
        let new = match (new, on_failure) {
            (Ok(new), _) => new,
            (Err(e), OnFailure::Abort) => return Err(Error::Invalid(e).into()),
            (Err(e), OnFailure::Skip) => {
                failed.push((index, e));
                done.push(false);
                continue;
            }
        };
        for (k, v) in keys.iter().zip(new) {
            tx.put(T::Aggregates, k, &v)?;
        }
        tx.put(T::AggregatesApplied, once, &now.to_be_bytes())?;
        done.push(true);
    }
    Ok((done, failed))
}

impl Outbox {
    /// Applies one update to the aggregates under `keys`, once per `once`: in one transaction,
    /// reads their stored values (`None` where absent), calls `f` with them, writes what it
    /// returns (one value per key, in order) and marks `once` applied. An update whose `once`
    /// was applied before changes nothing (a replayed or reprocessed document is not counted
    /// twice); returns whether this call applied it. `f` may run more than once.
    ///
    /// Durable with the next flush, like a trace entry: a crash before then loses an update
    /// whose document is processed again anyway.
    pub fn apply_aggregate<E: std::fmt::Display>(
        &self,
        once: &[u8],
        keys: &[Vec<u8>],
        now: Millis,
        f: impl Fn(&[Option<&[u8]>]) -> std::result::Result<Vec<Vec<u8>>, E>,
    ) -> Result<bool> {
        let applied = self.apply_aggregates(&[(once, keys)], now, |_, stored| f(stored))?;
        Ok(applied.first().copied().unwrap_or(false))
    }

    /// [`Outbox::apply_aggregate`] for several updates in one transaction, in order: `f` gets
    /// each update's index and its keys' values, an earlier update's writes included. One
    /// failing update aborts them all. Returns, per update, whether it was applied now.
    pub fn apply_aggregates<E: std::fmt::Display>(
        &self,
        updates: &[(&[u8], &[Vec<u8>])],
        now: Millis,
        f: impl Fn(usize, &[Option<&[u8]>]) -> std::result::Result<Vec<Vec<u8>>, E>,
    ) -> Result<Vec<bool>> {
        self.transact(|tx| apply_in(tx, updates, now, OnFailure::Abort, &f).map(|(done, _)| done))
    }

    /// Forgets which updates were applied before `older_than` (what [`Outbox::purge`] removes
    /// with its records): a document whose message retention removed can no longer be processed
    /// or replayed again, so its marker only takes room. Returns how many went.
    pub fn purge_aggregate_markers(&self, older_than: Millis) -> Result<usize> {
        let applied = self.tree(T::AggregatesApplied);
        let mut removed = 0;
        for entry in applied.iter() {
            let (key, value) = entry?;
            let at = <[u8; 8]>::try_from(value.as_ref()).map(u64::from_be_bytes);
            if at.is_ok_and(|at| at < older_than) {
                applied.remove(key)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Every aggregate whose key starts with `prefix`, in key order.
    pub fn aggregates(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.tree(T::Aggregates)
            .scan_prefix(prefix)
            .map(|r| {
                r.map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .map_err(Error::Storage)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(stored: &[Option<&[u8]>]) -> std::result::Result<Vec<Vec<u8>>, String> {
        Ok(stored
            .iter()
            .map(|v| {
                let n = v.map_or(0, |b| b[0]);
                vec![n + 1]
            })
            .collect())
    }

    #[test]
    fn an_update_is_applied_once_and_survives_a_purge_and_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let keys = vec![b"d/a".to_vec(), b"d/b".to_vec()];
        {
            let outbox = Outbox::open(dir.path()).unwrap();
            assert!(outbox.apply_aggregate(b"ev1", &keys, 10, add).unwrap());
            assert!(!outbox.apply_aggregate(b"ev1", &keys, 10, add).unwrap());
            assert!(outbox.apply_aggregate(b"ev2", &keys[..1], 20, add).unwrap());
            outbox.purge(u64::MAX).unwrap();
            outbox.flush().unwrap();
        }
        let outbox = Outbox::open(dir.path()).unwrap();
        let all = outbox.aggregates(b"d/").unwrap();
        assert_eq!(
            all,
            vec![(keys[0].clone(), vec![2]), (keys[1].clone(), vec![1])]
        );
        assert!(outbox.aggregates(b"x").unwrap().is_empty());
        // A failing update changes nothing.
        let failed = outbox.apply_aggregate(b"ev3", &keys, 30, |_| Err::<Vec<Vec<u8>>, _>("no"));
        assert!(failed.is_err());
        assert!(outbox.apply_aggregate(b"ev3", &keys[..1], 30, add).unwrap());
        // Several at once: in order, each seeing the one before, a repeat skipped.
        let batch = outbox
            .apply_aggregates(
                &[
                    (b"ev5".as_slice(), &keys[..1]),
                    (b"ev1".as_slice(), &keys[..1]),
                    (b"ev6".as_slice(), &keys[..1]),
                ],
                40,
                |_, stored| add(stored),
            )
            .unwrap();
        assert_eq!(batch, [true, false, true]);
        assert_eq!(outbox.aggregates(b"d/a").unwrap()[0].1, vec![5]);
        // Too few values for the keys is refused.
        assert!(
            outbox
                .apply_aggregate(b"ev4", &keys, 50, |_| Ok::<_, String>(vec![]))
                .is_err()
        );
        // Markers go with retention; the aggregates stay.
        assert_eq!(
            outbox.purge_aggregate_markers(30).unwrap(),
            2,
            "ev1 and ev2"
        );
        assert!(outbox.apply_aggregate(b"ev1", &keys[..1], 60, add).unwrap());
        assert!(!outbox.apply_aggregate(b"ev3", &keys[..1], 60, add).unwrap());
        assert_eq!(outbox.aggregates(b"d/a").unwrap()[0].1, vec![6]);
    }

    #[test]
    fn a_message_finishes_with_its_figures_and_a_failing_one_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let id = outbox
            .record_received(crate::NewMessage {
                channel: "dir:in".into(),
                file_name: "a.x12".into(),
                spool_path: "/spool/a".into(),
                spool_offset: 0,
                size: 1,
                sha256: "ab".repeat(32),
                received_at: 1,
            })
            .unwrap();
        let keys = vec![b"d/a".to_vec()];
        let updates: Vec<(&[u8], &[Vec<u8>])> = vec![(b"good", &keys), (b"bad", &keys)];
        let apply = |index: usize, stored: &[Option<&[u8]>]| {
            if index == 1 {
                Err("cannot".to_string())
            } else {
                add(stored)
            }
        };
        let finished = outbox
            .finish_message_with(
                id,
                &[],
                &[],
                &[],
                Some((crate::MessageState::Processed, 5)),
                &[],
                &AggregateUpdates {
                    updates: &updates,
                    at: 5,
                    apply: &apply,
                },
            )
            .unwrap();
        assert_eq!(finished.aggregate_failures, vec![(1, "cannot".to_string())]);
        assert_eq!(
            outbox.message(id).unwrap().unwrap().state,
            crate::MessageState::Processed
        );
        assert_eq!(outbox.aggregates(b"d/a").unwrap()[0].1, vec![1]);
        // The good one is marked applied, the bad one is not.
        assert!(!outbox.apply_aggregate(b"good", &keys, 6, add).unwrap());
        assert!(outbox.apply_aggregate(b"bad", &keys, 6, add).unwrap());
    }
}
