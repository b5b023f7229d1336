//! Partners gone quiet: a partner file's `expect_within` says how long the partner may go
//! without sending anything; past that, `edigate status` warns and the
//! [`crate::telemetry::PARTNER_SILENT`] gauge is 1.
//!
//! A partner has sent something when a file's envelope named it (whatever became of the file
//! afterwards): the outbox keeps each partner's latest such arrival apart from the message
//! records, so retention does not make a partner look silent. A partner that never sent is
//! measured from when the data directory's outbox was created, so a new installation does not
//! warn about every partner on its first start.

use outbox::{Millis, Outbox};
use serde::{Deserialize, Serialize};

/// A partner whose silence is watched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Watch {
    /// Its id.
    pub partner: String,
    /// Its display name.
    pub name: String,
    /// How long it may go without sending, in milliseconds.
    pub expect_within_ms: Millis,
}

impl Watch {
    /// The watches of every partner with `expect_within`.
    pub fn all(partners: &partner::Partners) -> Vec<Watch> {
        partners
            .all()
            .iter()
            .filter_map(|p| {
                let within = p.expect_within?;
                Some(Watch {
                    partner: p.id.clone(),
                    name: p.name.clone(),
                    expect_within_ms: u64::try_from(within.as_millis()).unwrap_or(u64::MAX),
                })
            })
            .collect()
    }
}

/// How long a watched partner has been quiet, and whether that is too long.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quiet {
    /// The partner's id.
    pub partner: String,
    /// Its display name.
    pub name: String,
    /// How long it may go without sending, in milliseconds (`expect_within`).
    pub expect_within_ms: Millis,
    /// When its latest file arrived; `None` when it never sent one to this gateway.
    pub last_received: Option<Millis>,
    /// Since when it has been quiet: `last_received`, else when the gateway's outbox was
    /// created.
    pub quiet_since: Millis,
    /// How long it has been quiet, in milliseconds.
    pub quiet_for_ms: Millis,
    /// Whether that is longer than `expect_within`.
    pub silent: bool,
}

/// Each watched partner's quiet time at `now`, in the order of `watches`.
pub fn quiet(outbox: &Outbox, watches: &[Watch], now: Millis) -> Result<Vec<Quiet>, outbox::Error> {
    if watches.is_empty() {
        return Ok(Vec::new());
    }
    let last = outbox.last_received()?;
    let created = outbox.created_at(now)?;
    Ok(watches
        .iter()
        .map(|w| {
            let last_received = last.get(&w.partner).copied();
            let quiet_since = last_received.unwrap_or(created);
            let quiet_for_ms = now.saturating_sub(quiet_since);
            Quiet {
                partner: w.partner.clone(),
                name: w.name.clone(),
                expect_within_ms: w.expect_within_ms,
                last_received,
                quiet_since,
                quiet_for_ms,
                silent: quiet_for_ms > w.expect_within_ms,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use outbox::NewMessage;

    fn watch(partner: &str, ms: Millis) -> Watch {
        Watch {
            partner: partner.into(),
            name: partner.to_uppercase(),
            expect_within_ms: ms,
        }
    }

    #[test]
    fn quiet_is_measured_from_the_last_file_or_the_outboxs_creation() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let t0 = 1_700_000_000_000;
        assert_eq!(outbox.created_at(t0).unwrap(), t0);
        let id = outbox
            .record_received(NewMessage {
                channel: "inbox".into(),
                file_name: "po.x12".into(),
                spool_path: "spool/x".into(),
                spool_offset: 0,
                size: 1,
                sha256: String::new(),
                received_at: t0 + 1_000,
            })
            .unwrap();
        outbox.set_partner(id, "acme", t0 + 1_001).unwrap();
        let watches = [watch("acme", 5_000), watch("globex", 5_000)];

        let at = |now| quiet(&outbox, &watches, now).unwrap();
        let early = at(t0 + 4_000);
        assert_eq!(early[0].last_received, Some(t0 + 1_000));
        assert_eq!(early[0].quiet_for_ms, 3_000);
        assert_eq!(early[1].last_received, None);
        assert_eq!(early[1].quiet_since, t0);
        assert!(early.iter().all(|q| !q.silent));

        let later = at(t0 + 5_500);
        assert!(!later[0].silent, "acme sent 4.5 s ago");
        assert!(
            later[1].silent,
            "globex never sent, and the gateway is 5.5 s old"
        );
        assert_eq!(later[1].name, "GLOBEX");

        // Exactly the window is not yet too long.
        assert!(!at(t0 + 6_000)[0].silent);
        assert!(at(t0 + 6_001)[0].silent);
        assert!(quiet(&outbox, &[], t0).unwrap().is_empty());
    }
}
