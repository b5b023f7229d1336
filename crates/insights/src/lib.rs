//! Partner insights: what the stream of documents says about each trading partner — volume and
//! its trend, share of business, delivery dates kept, responsiveness, file quality — and early
//! warnings when a partner goes quiet or orders less than it used to.
//!
//! The roles:
//!
//! - [`Observation`]: one thing the gateway saw (a canonical event either way, a validated file,
//!   an acknowledgement of ours), reduced to what the aggregates need.
//! - [`record`]: the aggregates — a [`DayStats`] per partner and day (every field a sum, so days
//!   add up to any window) and an [`OrderTrack`] per partner and order (the dates a shipment is
//!   judged against) — under [`Key`]s a store sorts by partner and day, and [`update`], the pure
//!   function that applies an observation to them. The store (the gateway's sled outbox) applies
//!   each observation once, by its id.
//! - [`report`]: a window of days summed per partner, ranked by order value, with the trend and
//!   the early warnings ([`Thresholds`]).
//! - [`html`]: the report as one self-contained HTML page with its charts.
//!
//! Nothing here depends on a partner: order values, dates and numbers come from the canonical
//! events.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod amount;
pub mod day;
pub mod html;
pub mod record;
pub mod report;

pub use amount::Amount;
pub use day::Day;
pub use record::{DayStats, Detail, Direction, Key, Observation, Observed, OrderTrack, update};
pub use report::{Context, History, PartnerReport, Report, Thresholds, Warning, WarningKind};

/// What can go wrong reading stored aggregates.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A stored record or key is not what this version writes.
    #[error("stored insights are corrupt: {0}")]
    Corrupt(String),
}
