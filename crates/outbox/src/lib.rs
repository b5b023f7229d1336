//! The routing daemon's durable store, on sled 0.34: what came in, what was already seen, which
//! control numbers went out, and what still has to be delivered.
//!
//! The roles:
//!
//! - **Inbound messages** ([`Message`]): one record per file written to the spool, made by
//!   [`Outbox::record_received`] before the channel is told the file arrived. A message has a
//!   [`MessageState`] and an append-only trace of [`TraceEntry`]s; messages still
//!   [`MessageState::Received`] after a crash come back from [`Outbox::pending_messages`].
//! - **Duplicate interchanges**: [`Outbox::check_interchange`] claims a (partner, control
//!   number) and returns the earlier [`PriorSighting`] when it was already seen within a window.
//! - **Control numbers**: per (partner, [`CounterKey`]) counters, assigned by
//!   [`Outbox::enqueue_outbound`] in the same transaction that stores the document built from
//!   them. A number is spent only when its document is stored, so the numbers a partner receives
//!   are contiguous and never repeat.
//! - **Deliveries** ([`Delivery`]): payloads waiting to go to a destination (a sink or a partner's
//!   channel), each under an idempotency key, with retries ([`RetryPolicy`]) and leases.
//! - **Finishing messages**: [`Outbox::finish_messages`] writes what processing a batch of
//!   messages worked out — partners, duplicate claims, acknowledgements with their control
//!   numbers, events, aggregates, traces, final states — in one transaction (see [`Finish`]).
//! - **Retention**: [`Outbox::purge`] removes finished records older than a cut-off.
//!
//! # Trees
//!
//! A fixed set, whatever the number of partners or messages. Numbers in keys are 8-byte big
//! endian, so keys sort by them; strings in composite keys carry a 4-byte length.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `meta` | sequence name · `last_received/` partner · `created_at` | last message / delivery id · a partner's latest arrival · when the store was made |
//! | `messages` | message id | [`Message`] (JSON), its deliveries' ids included |
//! | `message_index` | `p` id · `r` received-at id · `U` channel, first message id · `d` message id delivery id · `u` channel, file, hash | empty (`U`: a batch's files, names, hashes and ids, JSON; `u`: message id) |
//! | `trace` | message id, 4-byte step number | [`TraceEntry`] (JSON) |
//! | `interchanges` | partner, control number | [`PriorSighting`] (JSON) |
//! | `counters` | partner, purpose, kind | last number assigned |
//! | `deliveries` | delivery id | byte 0, the length of the [`Delivery`] record (4 bytes), the record (JSON), the payload bytes |
//! | `payloads` | delivery id | the payload of a delivery stored by an earlier version (whose record is JSON alone) |
//! | `due` | due time, delivery id | empty: pending deliveries in the order they fall due |
//! | `by_state` | state tag, time, delivery id | empty: in-flight by lease end; dead, dropped, awaiting a receipt by time (delivered ones are read in id order; earlier versions indexed them too) |
//! | `keys` | idempotency key | delivery id |
//! | `counts` | destination, state tag | number of deliveries |
//! | `receipts` | `i`/`a` partner, reference · `s`/`b` delivery id · `r` reference · `e` delivery id, number | inbound reference (JSON) / our answer · a transmission (JSON) / its body · delivery id · a receipt's raw bytes |
//!
//! Besides them, two trees of aggregates ([`Outbox::apply_aggregate`]): the aggregates outlive
//! retention; which updates were applied is forgotten with the records
//! ([`Outbox::purge_aggregate_markers`]).
//!
//! `p` lists the messages not yet finished, `r` orders messages by arrival for listings and
//! purges, `U` marks a batch of files recorded but not yet confirmed gone from their channel
//! ([`Outbox::find_unreleased`]). A message's record lists its deliveries. Stores written by
//! earlier versions may also hold `d` (a message's delivery, for a delivery whose message is not
//! stored) and `u` (one file's marker) entries; both are still read.
//!
//! # Deliveries
//!
//! | from | operation | to |
//! |---|---|---|
//! | — | [`Outbox::enqueue`], [`Outbox::enqueue_outbound`] | `Pending { due_at }` |
//! | `Pending`, once due | [`Outbox::claim`] (one attempt) | `InFlight { claimed_at, lease_until }` |
//! | `InFlight` | [`Outbox::complete`] | `Delivered { at }` |
//! | `InFlight` | [`Outbox::fail`], attempts and age left | `Pending`, due after a backoff |
//! | `InFlight` | [`Outbox::fail`], none left | `Dead { reason, at }` |
//! | `InFlight`, lease over | [`Outbox::requeue_expired`] / [`Outbox::claim`] | `Pending` due now / `InFlight` |
//! | `InFlight` | [`Outbox::open`] after a crash | `Pending`, due when it was claimed |
//! | `Pending`, `Dead` | [`Outbox::retry`] (attempts start over) | `Pending`, due now |
//! | `Pending`, `Dead` | [`Outbox::drop`] | `Dropped { at }` |
//! | `Pending`, once due, handed over at once | [`Outbox::complete_unclaimed_many`] | `Delivered { at }` |
//! | `Pending`, once due, handed over at once | [`Outbox::fail_unclaimed`] | `Pending` after a backoff, or `Dead` |
//! | `InFlight` | [`Outbox::await_receipt`] | `AwaitingReceipt { sent_at, until }` |
//! | `AwaitingReceipt`, `Pending`, `Dead` | [`Outbox::confirm_receipt`] | `Delivered { at }` |
//! | `AwaitingReceipt`, past `until` | [`Outbox::expire_awaited`] | `Pending` after a backoff, or `Dead` |
//! | `Delivered`, `Dropped` | [`Outbox::purge`] | removed |
//!
//! A sender that hands a delivery over at once, in the thread that read it (a local file, a JSON
//! Lines append), needs no lease: it settles the pending delivery directly, and a crash before
//! then leaves it pending, to be delivered again.
//!
//! Leases and the put-back on open make delivery at-least-once: a sender that dies after sending
//! but before [`Outbox::complete`] is on disk sends again, which is why each delivery carries its
//! idempotency key to the receiver.
//!
//! # Transactions and durability
//!
//! Every state change is one sled transaction over all the trees it touches, so an index never
//! disagrees with its record, even after a crash. Transaction closures may run more than once and
//! do nothing outside the database but note, in memory, the last control number each counter
//! assigned: a hint planning uses to render documents ahead, which every transaction checks (see
//! [`Lookahead::numbers`]). The operations whose success the daemon reports to the
//! outside — [`Outbox::record_received`], [`Outbox::enqueue`], [`Outbox::enqueue_outbound`],
//! [`Outbox::complete`] — flush to disk before returning, as do the operator's actions
//! ([`Outbox::retry`], [`Outbox::drop`], [`Outbox::set_counter`], [`Outbox::purge`]). The rest
//! reach the disk with the next flush, by sled's own every half second, or by [`Outbox::flush`];
//! a crash before then loses only steps that are repeated anyway (a claim, a failed attempt, a
//! trace entry of a message that is then processed again). With [`Options::group_commit`] the
//! first four leave the flush to the caller, who flushes once per batch before acting on it.
//!
//! ```
//! use outbox::{CounterKey, CounterKind, NewDelivery, Outbox};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let outbox = Outbox::open(dir.path()).unwrap();
//! let now = 1_700_000_000_000;
//! let counters = [CounterKey::new("ack", CounterKind::Isa13)];
//! let delivery = NewDelivery::new("partner:acme:ack", "ack-1", "application/edi-x12", now);
//! let queued = outbox
//!     .enqueue_outbound("acme", &counters, delivery, |n: &[u64]| {
//!         Ok::<_, std::fmt::Error>(format!("ISA*...*{:09}~", n[0]).into_bytes())
//!     })
//!     .unwrap();
//! assert_eq!(queued.delivery.numbers[0].value, 1);
//! let due = outbox.due(now, 10).unwrap();
//! assert_eq!(due[0].id, queued.delivery.id);
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod acknowledgements;
mod aggregates;
pub use aggregates::{AggregateFn, AggregateUpdates};
mod counters;
mod dedup;
mod deliveries;
mod error;
mod finish;
pub use finish::{Finish, Lookahead, Outbound, Planned, Sighting};
mod ids;
mod messages;
mod purge;
mod receipts;
mod retry;
mod store;
mod unreleased;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use sled::Transactional;
use sled::transaction::{TransactionError, TransactionalTree};

pub use acknowledgements::{AckOutcome, Acknowledgement};
pub use counters::{AssignedNumber, CounterKey, CounterKind};
pub use dedup::PriorSighting;
pub use deliveries::{
    BuildError, BuildFn, Claimed, Delivery, DeliveryFilter, DeliveryState, DeliveryStateKind,
    DestinationCounts, Enqueued, NewDelivery,
};
pub use error::{Error, Result};
pub use ids::{DeliveryId, MessageId, Millis, ParseIdError};
pub use messages::{
    Finished, Message, MessageFilter, MessageState, MessageStateKind, NewMessage, Step, TraceEntry,
};
pub use purge::Purged;
pub use receipts::{Arrival, InboundReference, Receipt, ReceiptVerdict, Transmission};
pub use retry::{FailOutcome, RetryPolicy};

use store::{NAMES, T, Tx, TxResult};

/// How to open an [`Outbox`].
#[derive(Clone, Debug)]
pub struct Options {
    counter_max: BTreeMap<CounterKind, u64>,
    cache_capacity: u64,
    group_commit: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            counter_max: BTreeMap::new(),
            cache_capacity: 64 * 1024 * 1024,
            group_commit: false,
        }
    }
}

impl Options {
    /// Sets the largest number a counter of `kind` assigns before wrapping to 1, in place of
    /// [`CounterKind::default_max`] (a partner whose ST02 must stay four digits: 9999).
    pub fn counter_max(mut self, kind: CounterKind, max: u64) -> Self {
        self.counter_max.insert(kind, max);
        self
    }

    /// Sets sled's page cache size in bytes (64 MiB unless set).
    pub fn cache_capacity(mut self, bytes: u64) -> Self {
        self.cache_capacity = bytes;
        self
    }

    /// Group commit: the operations that flush by default ([`Outbox::record_received`],
    /// [`Outbox::enqueue`], [`Outbox::enqueue_outbound`], [`Outbox::complete`]) leave the flush
    /// to the caller, who promises to call [`Outbox::flush`] before anything they did is made
    /// known outside — one flush for a whole batch of files or deliveries instead of one each.
    pub fn group_commit(mut self, on: bool) -> Self {
        self.group_commit = on;
        self
    }

    pub(crate) fn max_for(&self, kind: CounterKind) -> u64 {
        self.counter_max
            .get(&kind)
            .copied()
            .unwrap_or(kind.default_max())
    }
}

/// How long [`Outbox::open`] waits for the directory lock.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// Opens sled, waiting a little for its lock: sled's I/O threads let go of the lock file a moment
/// after the last handle of a database is dropped, so a reopen in the same process (a restart of
/// the daemon's runtime, every test that reopens) can find it still held.
fn open_db(path: &Path, options: &Options) -> Result<sled::Db> {
    let config = sled::Config::new()
        .path(path)
        .cache_capacity(options.cache_capacity);
    let started = Instant::now();
    loop {
        match config.open() {
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                if started.elapsed() >= LOCK_WAIT {
                    return Err(Error::Locked(path.to_owned()));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return Ok(other?),
        }
    }
}

/// The store. Cheap to clone: clones share one database, and any number of threads may use it.
///
/// One process at a time: sled locks the directory, so a second [`Outbox::open`] of the same path
/// fails with [`Error::Locked`] until every clone of the first is dropped.
#[derive(Clone)]
pub struct Outbox {
    db: sled::Db,
    trees: Arc<[sled::Tree]>,
    options: Arc<Options>,
    /// What this process knows of the receipt markers, locked while they are read and changed
    /// (see `unreleased`).
    markers: Arc<std::sync::Mutex<unreleased::Known>>,
    /// The last number each counter assigned, as far as this process saw: what planning expects
    /// without reading the store (see `counters::Hints`).
    counter_hints: Arc<counters::Hints>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Outbox {
    /// Opens (creating if needed) the store in directory `path` with default [`Options`].
    ///
    /// Deliveries left in flight by a crash are put back to pending, due at the time they were
    /// claimed (so at once, ahead of later ones): their sender may or may not have finished.
    pub fn open(path: impl AsRef<Path>) -> Result<Outbox> {
        Outbox::open_with(path, Options::default())
    }

    /// Opens the store with `options`; see [`Outbox::open`].
    pub fn open_with(path: impl AsRef<Path>, options: Options) -> Result<Outbox> {
        if let Some((kind, _)) = options.counter_max.iter().find(|(_, max)| **max == 0) {
            return Err(Error::Invalid(format!(
                "the maximum of counter {kind} must be at least 1"
            )));
        }
        let db = open_db(path.as_ref(), &options)?;
        let trees = NAMES
            .iter()
            .map(|name| db.open_tree(name))
            .collect::<Result<Vec<_>, _>>()?;
        let outbox = Outbox {
            db,
            trees: trees.into(),
            options: Arc::new(options),
            markers: Arc::default(),
            counter_hints: Arc::default(),
        };
        outbox.recover_in_flight()?;
        Ok(outbox)
    }

    /// Writes everything changed so far to disk, and returns once it is there.
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    /// Where an operation's effect must be durable before the caller may act on it: a flush,
    /// unless the caller took that duty over with [`Options::group_commit`].
    pub(crate) fn commit_point(&self) -> Result<()> {
        if self.options.group_commit {
            Ok(())
        } else {
            self.flush()
        }
    }

    /// The size of the database files in bytes, for monitoring (sled reclaims space lazily).
    pub fn size_on_disk(&self) -> Result<u64> {
        Ok(self.db.size_on_disk()?)
    }

    pub(crate) fn tree(&self, t: T) -> &sled::Tree {
        &self.trees[t as usize]
    }

    /// Runs `f` as one transaction over every tree. `f` may run more than once, and must not
    /// touch the outbox other than through its [`Tx`]: sled holds a global lock meanwhile.
    pub(crate) fn transact<A>(&self, f: impl Fn(&Tx<'_>) -> TxResult<A>) -> Result<A> {
        let trees: &[sled::Tree] = &self.trees;
        trees
            .transaction(|view: &Vec<TransactionalTree>| f(&Tx(view)))
            .map_err(|e| match e {
                TransactionError::Abort(e) => e,
                TransactionError::Storage(e) => Error::Storage(e),
            })
    }

    pub(crate) fn get_json<V: DeserializeOwned>(&self, t: T, key: &[u8]) -> Result<Option<V>> {
        match self.tree(t).get(key)? {
            Some(bytes) => Ok(Some(store::decode(t, &bytes)?)),
            None => Ok(None),
        }
    }
}
