//! The outbox's integration tests: one binary, a module per area.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on any error")]

mod counters;
mod crash;
mod deliveries;
mod finish;
mod messages;
mod model;

use std::path::Path;

use outbox::{NewDelivery, Outbox};

/// A moment to start test clocks from (2023-11-14).
pub const T0: u64 = 1_700_000_000_000;

/// Opens the outbox in `dir`.
pub fn open(dir: &Path) -> Outbox {
    Outbox::open(dir).unwrap()
}

/// A JSON delivery due at `now`.
pub fn new_delivery(destination: &str, key: &str, now: u64) -> NewDelivery {
    NewDelivery::new(destination, key, "application/json", now)
}
