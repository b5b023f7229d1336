//! Duplicate interchange detection.

use serde::{Deserialize, Serialize};

use crate::Outbox;
use crate::error::Result;
use crate::ids::{MessageId, Millis};
use crate::store::{T, Tx, TxResult, composite_key, decode};

/// The first sighting of an interchange, as [`Outbox::check_interchange`] remembers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorSighting {
    /// The message that brought it.
    pub message_id: MessageId,
    /// When.
    pub seen_at: Millis,
}

impl Outbox {
    /// Claims the interchange `control_number` from `partner` for `message_id`, atomically.
    ///
    /// Returns the earlier sighting when another message brought the same interchange within
    /// `window` milliseconds before `now`: the caller then treats this one as a duplicate. The
    /// first sighting is kept, so the window runs from it and repeats do not extend it. Returns
    /// `None`, and records this sighting, when the interchange is new or its last sighting is
    /// older than the window (a partner reusing numbers after wrapping). A sighting by
    /// `message_id` itself is not a duplicate: that is the same file processed again after a
    /// crash.
    pub fn check_interchange(
        &self,
        partner: &str,
        control_number: &str,
        message_id: MessageId,
        now: Millis,
        window: Millis,
    ) -> Result<Option<PriorSighting>> {
        self.transact(|tx| sighting(tx, partner, control_number, message_id, now, window))
    }

    /// Forgets interchange sightings older than `seen_before`, returning how many. Kept apart from
    /// [`Outbox::purge`] because the duplicate window may outlast message retention. Reads the
    /// whole `interchanges` tree.
    pub fn purge_interchanges(&self, seen_before: Millis) -> Result<usize> {
        let mut old = Vec::new();
        for item in self.tree(T::Interchanges).iter() {
            let (key, value) = item?;
            let sighting: PriorSighting = decode(T::Interchanges, &value)?;
            if sighting.seen_at < seen_before {
                old.push((key, sighting));
            }
        }
        let mut removed = 0;
        for (key, sighting) in old {
            // Compare first: the interchange may have been seen again since the scan.
            let gone = self.transact(|tx| {
                if tx
                    .get_json::<PriorSighting>(T::Interchanges, &key)?
                    .as_ref()
                    == Some(&sighting)
                {
                    tx.remove(T::Interchanges, &key)?;
                    return Ok(true);
                }
                Ok(false)
            })?;
            removed += usize::from(gone);
        }
        Ok(removed)
    }
}

/// [`Outbox::check_interchange`] inside a transaction.
pub(crate) fn sighting(
    tx: &Tx<'_>,
    partner: &str,
    control_number: &str,
    message_id: MessageId,
    now: Millis,
    window: Millis,
) -> TxResult<Option<PriorSighting>> {
    let key = composite_key(&[partner, control_number]);
    if let Some(prior) = tx.get_json::<PriorSighting>(T::Interchanges, &key)? {
        if prior.message_id == message_id {
            return Ok(None);
        }
        if now.saturating_sub(prior.seen_at) <= window {
            return Ok(Some(prior));
        }
    }
    tx.put_json(
        T::Interchanges,
        &key,
        &PriorSighting {
            message_id,
            seen_at: now,
        },
    )?;
    Ok(None)
}
