//! Retention: what is finished and older than the configured time leaves the gateway — message
//! records and their traces, delivered and dropped deliveries with their payloads, interchange
//! control numbers past every partner's duplicate window, and spool segments no remaining message
//! refers to.
//!
//! Nothing unfinished is ever removed: a message still being processed, a delivery pending, in
//! flight or dead, and the message a dead delivery belongs to all stay until an operator acts.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use outbox::{MessageFilter, Millis, Outbox};

use crate::Error;

/// What one sweep removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    /// Message records removed.
    pub messages: usize,
    /// Deliveries removed.
    pub deliveries: usize,
    /// Interchange control numbers forgotten.
    pub interchanges: usize,
    /// Spool segments (and quarantined files) deleted.
    pub spool_files: Vec<PathBuf>,
}

/// Removes what finished before `keep_before`, and control numbers first seen before
/// `forget_interchanges_before`; then deletes the spool files that only removed messages used.
pub fn sweep(
    outbox: &Outbox,
    spool_root: &Path,
    keep_before: Millis,
    forget_interchanges_before: Millis,
) -> Result<Swept, Error> {
    let purged = outbox.purge(keep_before)?;
    let interchanges = outbox.purge_interchanges(forget_interchanges_before)?;
    // AS2 Message-IDs are remembered as long as interchange control numbers are.
    outbox.purge_inbound_references(forget_interchanges_before)?;
    // What was counted in the partner insights is remembered as long as its records are.
    outbox.purge_aggregate_markers(keep_before)?;

    // A segment holds many files: it can go only when no message left refers to it.
    let candidates: BTreeSet<PathBuf> = purged
        .messages
        .iter()
        .map(|m| m.spool_path.clone())
        .collect();
    let mut spool_files = Vec::new();
    if !candidates.is_empty() {
        let still_used: BTreeSet<PathBuf> = outbox
            .list_messages(&MessageFilter::default(), usize::MAX)?
            .into_iter()
            .map(|m| m.spool_path)
            .collect();
        for path in candidates.difference(&still_used) {
            // Only files the gateway wrote: the spool and its quarantine beside it.
            let ours = path.starts_with(spool_root)
                || spool_root
                    .parent()
                    .is_some_and(|data| path.starts_with(data.join("quarantine")));
            if !ours {
                continue;
            }
            match std::fs::remove_file(path) {
                Ok(()) => spool_files.push(path.clone()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(Error::io(format!("removing {}", path.display()), e));
                }
            }
        }
    }
    let swept = Swept {
        messages: purged.messages.len(),
        deliveries: purged.deliveries.len(),
        interchanges,
        spool_files,
    };
    if swept != Swept::default() {
        tracing::info!(
            messages = swept.messages,
            deliveries = swept.deliveries,
            interchanges = swept.interchanges,
            spool_files = swept.spool_files.len(),
            "retention sweep"
        );
    }
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::Spool;
    use outbox::{MessageState, NewDelivery, NewMessage};

    const DAY: u64 = 24 * 3_600_000;
    const T0: u64 = 1_700_000_000_000;

    #[test]
    fn finished_and_old_goes_with_the_segments_only_it_used() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outbox = Outbox::open(dir.path().join("db")).expect("outbox");
        let spool = Spool::open(&dir.path().join("spool")).expect("spool");

        // Segment A: two old files, both processed. Segment B: one old file, one recent one.
        let mut seg_a = spool.segment().expect("segment");
        let a1 = seg_a.add(b"old one").expect("add");
        let a2 = seg_a.add(b"old two").expect("add");
        seg_a.commit().expect("commit");
        let mut seg_b = spool.segment().expect("segment");
        let b1 = seg_b.add(b"old three").expect("add");
        let b2 = seg_b.add(b"recent").expect("add");
        seg_b.commit().expect("commit");

        let record = |s: &crate::spool::Spooled, at: u64| {
            let id = outbox
                .record_received(NewMessage {
                    channel: "inbox".into(),
                    file_name: "f".into(),
                    spool_path: s.path.clone(),
                    spool_offset: s.offset,
                    size: s.size,
                    sha256: s.sha256.clone(),
                    received_at: at,
                })
                .expect("record");
            outbox
                .set_state(id, MessageState::Processed, at, "")
                .expect("state");
            id
        };
        record(&a1, T0);
        record(&a2, T0);
        record(&b1, T0);
        let recent = record(&b2, T0 + 40 * DAY);
        // A delivered event, old enough to go.
        let d = outbox
            .enqueue(
                NewDelivery::new("sink:events", "e1", "application/json", T0),
                b"{}",
            )
            .expect("enqueue");
        let claimed = outbox.claim(d.delivery.id, T0, 1_000).expect("claim");
        assert!(claimed.is_some());
        outbox.complete(d.delivery.id, T0 + 1).expect("complete");
        outbox
            .check_interchange("acme", "000000001", recent, T0, DAY)
            .expect("sighting");

        let swept = sweep(&outbox, spool.root(), T0 + 30 * DAY, T0 + 30 * DAY).expect("sweep");
        assert_eq!(swept.messages, 3);
        assert_eq!(swept.deliveries, 1);
        assert_eq!(swept.interchanges, 1);
        assert_eq!(
            swept.spool_files,
            vec![a1.path.clone()],
            "B is still used by the recent one"
        );
        assert!(!a1.path.exists());
        assert_eq!(
            spool
                .get(&b2.path, b2.offset, b2.size, &b2.sha256)
                .expect("kept"),
            b"recent"
        );
        let left = outbox
            .list_messages(&MessageFilter::default(), 10)
            .expect("list");
        assert_eq!(left.iter().map(|m| m.id).collect::<Vec<_>>(), vec![recent]);

        // Nothing more to do the second time.
        let again = sweep(&outbox, spool.root(), T0 + 30 * DAY, T0 + 30 * DAY).expect("sweep");
        assert_eq!(again, Swept::default());
    }
}
