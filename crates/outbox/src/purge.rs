//! Retention.

use crate::Outbox;
use crate::deliveries::{self, Delivery, DeliveryState, DeliveryStateKind};
use crate::error::Result;
use crate::ids::{DeliveryId, MessageId, Millis};
use crate::messages::{IX_RECEIVED, Message, received_key, trace_key};
use crate::store::{T, index_key, u64_at};

/// Records per purge transaction: large enough to be quick, small enough not to hold sled's
/// transaction lock for long.
const BATCH: usize = 256;

/// What [`Outbox::purge`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    /// The message records removed: the daemon deletes their spool files.
    pub messages: Vec<Message>,
    /// The deliveries removed, payloads and idempotency keys with them.
    pub deliveries: Vec<Delivery>,
}

impl Outbox {
    /// Removes what is finished and older than `older_than`: deliveries delivered or dropped
    /// before it, and finished messages received before it that have no deliveries left (a
    /// message with a dead delivery stays, so its trace is there when an operator looks). Pending,
    /// in-flight and dead deliveries and unfinished messages are never removed. Once a delivery is
    /// gone its idempotency key is free again. Flushed.
    pub fn purge(&self, older_than: Millis) -> Result<Purged> {
        let mut purged = Purged::default();
        // Delivered ones have no index (see `deliveries::index_entry`): they are read in id
        // order, that is creation order, up to the first created after `older_than`, which
        // cannot have been delivered before it. Those read and kept (pending, dead, delivered
        // later) are few, and read again by the next purge. Earlier versions indexed delivered
        // ones too: those entries are read as well.
        let mut ids = Vec::new();
        for item in self.tree(T::Deliveries).iter() {
            let (key, value) = item?;
            let d = deliveries::decode_record(&value)?;
            if d.created_at >= older_than {
                break;
            }
            if matches!(d.state, DeliveryState::Delivered { at } if at < older_than) {
                ids.push(DeliveryId::new(u64_at(T::Deliveries, &key, 0)?));
            }
        }
        for kind in [DeliveryStateKind::Delivered, DeliveryStateKind::Dropped] {
            let tag = kind.tag();
            for key in self
                .tree(T::ByState)
                .range(index_key(Some(tag), &[])..index_key(Some(tag), &[older_than]))
                .keys()
            {
                ids.push(DeliveryId::new(u64_at(T::ByState, &key?, 9)?));
            }
        }
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(BATCH) {
            purged.deliveries.extend(self.transact(|tx| {
                let mut removed = Vec::new();
                for &id in chunk {
                    let Some(bytes) = tx.get(T::Deliveries, &id.key())? else {
                        continue;
                    };
                    let d = deliveries::decode_record(&bytes)?;
                    let finished_at = match d.state {
                        DeliveryState::Delivered { at } | DeliveryState::Dropped { at } => at,
                        _ => continue,
                    };
                    if finished_at < older_than {
                        deliveries::remove(tx, &d)?;
                        removed.push(d);
                    }
                }
                Ok(removed)
            })?);
        }

        let mut candidates = Vec::new();
        for key in self
            .tree(T::MessageIndex)
            .range(index_key(Some(IX_RECEIVED), &[])..index_key(Some(IX_RECEIVED), &[older_than]))
            .keys()
        {
            let id = MessageId::new(u64_at(T::MessageIndex, &key?, 9)?);
            let mut left = false;
            for delivery in self.deliveries_of(id)? {
                if self.tree(T::Deliveries).contains_key(delivery.key())? {
                    left = true;
                    break;
                }
            }
            if !left {
                candidates.push(id);
            }
        }
        for chunk in candidates.chunks(BATCH) {
            purged.messages.extend(self.transact(|tx| {
                let mut removed = Vec::new();
                for &id in chunk {
                    let Some(m) = tx.get_json::<Message>(T::Messages, &id.key())? else {
                        continue;
                    };
                    if !m.state.is_finished() || m.received_at >= older_than {
                        continue;
                    }
                    for seq in 0..m.trace_len {
                        tx.remove(T::Trace, &trace_key(id, seq))?;
                    }
                    tx.remove(T::MessageIndex, &received_key(&m))?;
                    tx.remove(T::Messages, &id.key())?;
                    removed.push(m);
                }
                Ok(removed)
            })?);
        }
        self.flush()?;
        Ok(purged)
    }
}
