//! Control number counters.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Outbox;
use crate::error::{Error, Result};
use crate::store::{T, Tx, TxResult, composite_key, read_u64};

/// Which control number a counter assigns. The kind sets the default range: numbers run from 1
/// to [`CounterKind::default_max`] (or the maximum set in [`crate::Options::counter_max`]), then
/// start again at 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CounterKind {
    /// X12 interchange control number (9 digits).
    #[serde(rename = "ISA13")]
    Isa13,
    /// X12 group control number (up to 9 digits).
    #[serde(rename = "GS06")]
    Gs06,
    /// X12 transaction set control number (4 to 9 characters).
    #[serde(rename = "ST02")]
    St02,
    /// EDIFACT interchange control reference (up to 14 characters).
    #[serde(rename = "UNB0020")]
    Unb0020,
    /// EDIFACT group reference number (up to 14 characters).
    #[serde(rename = "UNG0048")]
    Ung0048,
    /// EDIFACT message reference number (up to 14 characters).
    #[serde(rename = "UNH0062")]
    Unh0062,
}

impl CounterKind {
    /// The segment and element it fills, as written in keys and messages: `ISA13`, `UNH0062`, ….
    pub const fn name(self) -> &'static str {
        match self {
            CounterKind::Isa13 => "ISA13",
            CounterKind::Gs06 => "GS06",
            CounterKind::St02 => "ST02",
            CounterKind::Unb0020 => "UNB0020",
            CounterKind::Ung0048 => "UNG0048",
            CounterKind::Unh0062 => "UNH0062",
        }
    }

    /// The largest number the element holds: 999 999 999 for X12, 14 nines for EDIFACT.
    pub const fn default_max(self) -> u64 {
        match self {
            CounterKind::Isa13 | CounterKind::Gs06 | CounterKind::St02 => 999_999_999,
            CounterKind::Unb0020 | CounterKind::Ung0048 | CounterKind::Unh0062 => {
                99_999_999_999_999
            }
        }
    }
}

impl fmt::Display for CounterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One counter of a partner: its purpose (the direction or document family the daemon keeps
/// apart, such as `ack` or `outbound`) and its kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CounterKey {
    /// What the numbers are for; the daemon chooses the names.
    pub purpose: String,
    /// Which control number.
    pub kind: CounterKind,
}

impl CounterKey {
    /// The counter `kind` for `purpose`.
    pub fn new(purpose: impl Into<String>, kind: CounterKind) -> Self {
        CounterKey {
            purpose: purpose.into(),
            kind,
        }
    }

    pub(crate) fn storage_key(&self, partner: &str) -> Vec<u8> {
        composite_key(&[partner, &self.purpose, self.kind.name()])
    }
}

/// A control number assigned to a delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignedNumber {
    /// The counter it came from (of the delivery's partner).
    pub counter: CounterKey,
    /// The number.
    pub value: u64,
}

/// The last number each counter assigned, kept in memory for planning
/// ([`crate::Lookahead::numbers`]) so that it need not read the store, where a read waits for
/// whatever transaction runs. Set inside transactions, so a transaction that is later retried or
/// aborted may leave a counter's hint ahead of the store: a hint is only ever a guess, checked
/// by the transaction that assigns the numbers, and the next assignment sets it right.
#[derive(Default)]
pub(crate) struct Hints(std::sync::Mutex<std::collections::HashMap<Vec<u8>, u64>>);

impl Hints {
    pub(crate) fn get(&self, storage: &[u8]) -> Option<u64> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(storage)
            .copied()
    }

    fn set(&self, storage: &[u8], last: u64) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(storage.to_vec(), last);
    }
}

/// The number a counter whose last number was `last` assigns next: numbers run from 1 to
/// `max`, then start again at 1.
pub(crate) fn next_after(last: u64, max: u64) -> u64 {
    if last >= max { 1 } else { last + 1 }
}

/// Takes the next number of each counter in `keys`, in order; a key listed twice gets two
/// consecutive numbers. Runs inside the caller's transaction, which stores the numbers' use.
pub(crate) fn allocate(
    tx: &Tx<'_>,
    outbox: &Outbox,
    partner: &str,
    keys: &[CounterKey],
) -> TxResult<Vec<u64>> {
    let mut numbers = Vec::with_capacity(keys.len());
    for key in keys {
        let storage = key.storage_key(partner);
        let last = tx.get_u64(T::Counters, &storage)?.unwrap_or(0);
        let next = next_after(last, outbox.options.max_for(key.kind));
        tx.put(T::Counters, &storage, &next.to_be_bytes())?;
        outbox.counter_hints.set(&storage, next);
        numbers.push(next);
    }
    Ok(numbers)
}

impl Outbox {
    /// The last number `partner`'s counter `key` assigned, or `None` if it never has.
    pub fn counter(&self, partner: &str, key: &CounterKey) -> Result<Option<u64>> {
        match self.tree(T::Counters).get(key.storage_key(partner))? {
            Some(bytes) => Ok(Some(read_u64(T::Counters, &bytes)?)),
            None => Ok(None),
        }
    }

    /// Sets the last number `partner`'s counter `key` assigned, so the next is `last + 1`: for
    /// taking over a partner from another system that already used numbers. An operator action,
    /// not part of the daemon's flow; flushed before returning.
    pub fn set_counter(&self, partner: &str, key: &CounterKey, last: u64) -> Result<()> {
        let max = self.options.max_for(key.kind);
        if last > max {
            return Err(Error::Invalid(format!(
                "{last} is above the maximum {max} of counter {}",
                key.kind
            )));
        }
        let storage = key.storage_key(partner);
        self.transact(|tx| tx.put(T::Counters, &storage, &last.to_be_bytes()))?;
        self.counter_hints.set(&storage, last);
        self.flush()
    }
}
