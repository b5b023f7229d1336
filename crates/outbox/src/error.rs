//! The crate's one error type.

use crate::deliveries::DeliveryStateKind;
use crate::ids::{DeliveryId, MessageId};

/// What went wrong, and whose fault it is: the disk ([`Error::Storage`], [`Error::Corrupt`]), the
/// caller's request ([`Error::MessageNotFound`], [`Error::InvalidState`], [`Error::KeyConflict`],
/// …) or the caller's document builder ([`Error::Build`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// sled failed: I/O, or its own corruption checks.
    #[error("outbox storage: {0}")]
    Storage(#[from] sled::Error),
    /// Another process (or another open [`crate::Outbox`] in this one) holds the directory.
    #[error("outbox {0:?} is in use by another process")]
    Locked(std::path::PathBuf),
    /// A stored record or index key could not be read back. Written by this crate, so this means
    /// the database was written by an incompatible version or damaged.
    #[error("outbox: corrupt record in tree {tree}: {detail}")]
    Corrupt {
        /// The sled tree holding the record.
        tree: &'static str,
        /// What could not be decoded.
        detail: String,
    },
    /// A record could not be serialised (a spool path that is not UTF-8, for instance).
    #[error("outbox: cannot encode record: {0}")]
    Encode(String),
    /// No message record has this id (never recorded, or purged).
    #[error("message {0} not found")]
    MessageNotFound(MessageId),
    /// No delivery has this id (never enqueued, or purged).
    #[error("delivery {0} not found")]
    DeliveryNotFound(DeliveryId),
    /// The idempotency key is already taken by a delivery whose payload differs from the one
    /// offered: the caller built two different documents under one id.
    #[error(
        "idempotency key {key:?} already belongs to delivery {existing} with a different payload"
    )]
    KeyConflict {
        /// The idempotency key.
        key: String,
        /// The delivery that holds it.
        existing: DeliveryId,
    },
    /// The message already has a different partner.
    #[error("message {id} is already identified as partner {existing:?}, not {requested:?}")]
    PartnerConflict {
        /// The message.
        id: MessageId,
        /// The partner recorded first.
        existing: String,
        /// The partner asked for now.
        requested: String,
    },
    /// The operation does not apply to a delivery in its current state (completing one that is
    /// not in flight, dropping one that is being sent, …).
    #[error("delivery {id} is {state}: cannot {operation}")]
    InvalidState {
        /// The delivery.
        id: DeliveryId,
        /// Its state when the operation was tried.
        state: DeliveryStateKind,
        /// The operation refused.
        operation: &'static str,
    },
    /// The message is still being processed; it cannot be processed again yet.
    #[error("message {0} is still being processed")]
    NotFinished(MessageId),
    /// The caller's document builder failed; no control number was consumed.
    #[error("building the outbound document failed: {0}")]
    Build(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// What processing read ahead of a transaction changed before the transaction ran (another
    /// message claimed the same interchange meanwhile): plan again.
    #[error("outbox: planned on a state that changed: {0}")]
    Stale(String),
    /// An argument is out of range (an empty destination, a counter maximum of 0, …).
    #[error("outbox: invalid argument: {0}")]
    Invalid(String),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

// Lets transaction closures use `?` on this crate's errors: they abort the transaction and come
// back out of `transaction` unchanged.
impl From<Error> for sled::transaction::ConflictableTransactionError<Error> {
    fn from(e: Error) -> Self {
        sled::transaction::ConflictableTransactionError::Abort(e)
    }
}
