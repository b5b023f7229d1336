//! The plumbing under every operation: the fixed set of trees, key encodings, JSON records, and
//! a transaction over all trees.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::IVec;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use crate::error::{Error, Result};

/// The trees, in the order of [`NAMES`]. Every transaction spans all of them: sled 0.34 runs
/// transactions one at a time under a global lock anyway, so naming fewer would buy nothing and
/// cost a way to get the set wrong.
#[derive(Clone, Copy, Debug)]
pub(crate) enum T {
    Meta,
    Messages,
    MessageIndex,
    Trace,
    Interchanges,
    Counters,
    Deliveries,
    Payloads,
    Due,
    ByState,
    Keys,
    Counts,
    Receipts,
    Aggregates,
    AggregatesApplied,
}

pub(crate) const NAMES: [&str; 15] = [
    "meta",
    "messages",
    "message_index",
    "trace",
    "interchanges",
    "counters",
    "deliveries",
    "payloads",
    "due",
    "by_state",
    "keys",
    "counts",
    "receipts",
    "aggregates",
    "aggregates_applied",
];

impl T {
    pub(crate) fn name(self) -> &'static str {
        NAMES[self as usize]
    }
}

/// The result of a step inside a transaction closure.
pub(crate) type TxResult<A> = std::result::Result<A, ConflictableTransactionError<Error>>;

/// The transactional view of every tree.
pub(crate) struct Tx<'a>(pub(crate) &'a [TransactionalTree]);

impl Tx<'_> {
    fn tree(&self, t: T) -> &TransactionalTree {
        &self.0[t as usize]
    }

    pub(crate) fn get(&self, t: T, key: &[u8]) -> TxResult<Option<IVec>> {
        Ok(self.tree(t).get(key)?)
    }

    pub(crate) fn get_json<V: DeserializeOwned>(&self, t: T, key: &[u8]) -> TxResult<Option<V>> {
        match self.get(t, key)? {
            Some(bytes) => Ok(Some(decode(t, &bytes)?)),
            None => Ok(None),
        }
    }

    pub(crate) fn put(&self, t: T, key: &[u8], value: &[u8]) -> TxResult<()> {
        self.tree(t).insert(key, value)?;
        Ok(())
    }

    pub(crate) fn put_json<V: Serialize>(&self, t: T, key: &[u8], value: &V) -> TxResult<()> {
        self.put(t, key, &encode(value)?)
    }

    pub(crate) fn remove(&self, t: T, key: &[u8]) -> TxResult<()> {
        self.tree(t).remove(key)?;
        Ok(())
    }

    pub(crate) fn get_u64(&self, t: T, key: &[u8]) -> TxResult<Option<u64>> {
        match self.get(t, key)? {
            Some(bytes) => Ok(Some(read_u64(t, &bytes)?)),
            None => Ok(None),
        }
    }

    /// Adds `delta` to a big-endian counter, removing it when it reaches 0 so that listings
    /// show only live entries.
    pub(crate) fn add_u64(&self, t: T, key: &[u8], delta: i64) -> TxResult<()> {
        let old = self.get_u64(t, key)?.unwrap_or(0);
        let new = old.saturating_add_signed(delta);
        if new == 0 {
            self.remove(t, key)
        } else {
            self.put(t, key, &new.to_be_bytes())
        }
    }

    /// The next number of a sequence kept in the meta tree. Unlike sled's `generate_id`, which
    /// leaps ahead after every restart, this one is contiguous: ids stay short and readable.
    pub(crate) fn next_seq(&self, name: &[u8]) -> TxResult<u64> {
        let next = self.get_u64(T::Meta, name)?.unwrap_or(0) + 1;
        self.put(T::Meta, name, &next.to_be_bytes())?;
        Ok(next)
    }
}

pub(crate) fn encode<V: Serialize>(value: &V) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::Encode(e.to_string()))
}

pub(crate) fn decode<V: DeserializeOwned>(t: T, bytes: &[u8]) -> Result<V> {
    serde_json::from_slice(bytes).map_err(|e| Error::Corrupt {
        tree: t.name(),
        detail: e.to_string(),
    })
}

pub(crate) fn read_u64(t: T, bytes: &[u8]) -> Result<u64> {
    bytes
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| Error::Corrupt {
            tree: t.name(),
            detail: format!("expected 8 bytes, found {}", bytes.len()),
        })
}

/// The 8-byte big-endian number at `offset` of an index key.
pub(crate) fn u64_at(t: T, key: &[u8], offset: usize) -> Result<u64> {
    key.get(offset..).map_or_else(
        || {
            Err(Error::Corrupt {
                tree: t.name(),
                detail: format!("key of {} bytes is too short", key.len()),
            })
        },
        |rest| read_u64(t, rest),
    )
}

/// Concatenates a prefix byte and big-endian numbers: index keys sort by their numbers.
pub(crate) fn index_key(prefix: Option<u8>, numbers: &[u64]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + 8 * numbers.len());
    key.extend(prefix);
    for n in numbers {
        key.extend_from_slice(&n.to_be_bytes());
    }
    key
}

/// Strings joined with a length before each, so no string can run into the next whatever bytes
/// it holds.
pub(crate) fn composite_key(parts: &[&str]) -> Vec<u8> {
    let mut key = Vec::new();
    for part in parts {
        key.extend_from_slice(&(part.len() as u32).to_be_bytes());
        key.extend_from_slice(part.as_bytes());
    }
    key
}

/// Splits the first length-prefixed string off a composite key.
pub(crate) fn split_composite(t: T, key: &[u8]) -> Result<(String, &[u8])> {
    let corrupt = || Error::Corrupt {
        tree: t.name(),
        detail: "bad composite key".into(),
    };
    let len = key
        .get(..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .ok_or_else(corrupt)?;
    let len = u32::from_be_bytes(len) as usize;
    let text = key.get(4..4 + len).ok_or_else(corrupt)?;
    let text = String::from_utf8(text.to_vec()).map_err(|_| corrupt())?;
    Ok((text, &key[4 + len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_keys_do_not_run_together() {
        assert_ne!(composite_key(&["ab", "c"]), composite_key(&["a", "bc"]));
        let key = composite_key(&["acme", "x"]);
        let (first, rest) = split_composite(T::Counts, &key).unwrap();
        assert_eq!(first, "acme");
        assert_eq!(split_composite(T::Counts, rest).unwrap().0, "x");
        assert!(split_composite(T::Counts, &key[..6]).is_err());
    }

    #[test]
    fn index_keys_sort_by_number() {
        assert!(index_key(Some(1), &[255, 9]) < index_key(Some(1), &[256, 0]));
        assert_eq!(u64_at(T::Due, &index_key(None, &[7, 8]), 8).unwrap(), 8);
        assert!(u64_at(T::Due, &[1, 2], 0).is_err());
    }
}
