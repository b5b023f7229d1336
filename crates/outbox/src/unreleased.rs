//! Receipt markers: files recorded while still in their channel.
//!
//! A channel removes a file only after its record is durable, so a crash in between leaves a
//! file that is found again on the next start. Its marker says it is that message already
//! made, not a new one and not a duplicate interchange. Markers live from the recording
//! transaction until the channel confirms the file gone.
//!
//! Files are recorded in batches, so a batch gets one marker (`message_index` key `U` ·
//! channel · first message id, value: each file's name, hash and id) rather than one per file:
//! two writes per batch instead of two per file on the path every file takes. Stores written by
//! earlier versions may hold per-file markers (`u` · channel, file, hash → message id); they
//! are found and removed the same way.
//!
//! Markers are read outside a transaction (sled's cannot scan) and changed whole, so every
//! change goes through one lock ([`Outbox`]'s `markers`).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::Outbox;
use crate::error::{Error, Result};
use crate::ids::MessageId;
use crate::messages::{Message, NewMessage};
use crate::store::{T, Tx, TxResult, composite_key, read_u64, split_composite};

/// `message_index` prefix of a batch's marker.
pub(crate) const IX_UNRELEASED_BATCH: u8 = b'U';
/// `message_index` prefix of one file's marker, as earlier versions wrote them.
pub(crate) const IX_UNRELEASED: u8 = b'u';

/// One file of a batch's marker.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Marked {
    file: String,
    sha256: String,
    id: MessageId,
}

/// A file as a channel names it: its name and the SHA-256 of its bytes.
type FileKey = (String, String);

fn channel_prefix(tag: u8, channel: &str) -> Vec<u8> {
    let mut key = vec![tag];
    key.extend(composite_key(&[channel]));
    key
}

fn batch_key(channel: &str, first: MessageId) -> Vec<u8> {
    let mut key = channel_prefix(IX_UNRELEASED_BATCH, channel);
    key.extend_from_slice(&first.key());
    key
}

fn file_key(channel: &str, file_name: &str, sha256: &str) -> Vec<u8> {
    let mut key = vec![IX_UNRELEASED];
    key.extend(composite_key(&[channel, file_name, sha256]));
    key
}

/// The markers a recording transaction writes: one per channel of its batch.
#[derive(Default)]
pub(crate) struct NewMarkers {
    by_channel: BTreeMap<String, Vec<Marked>>,
}

impl NewMarkers {
    /// Marks `m`, just recorded, as still in its channel.
    pub(crate) fn add(&mut self, m: &Message) {
        self.by_channel
            .entry(m.channel.clone())
            .or_default()
            .push(Marked {
                file: m.file_name.clone(),
                sha256: m.sha256.clone(),
                id: m.id,
            });
    }

    /// Writes them in `tx`.
    pub(crate) fn write(&self, tx: &Tx<'_>) -> TxResult<()> {
        for (channel, files) in &self.by_channel {
            if let Some(first) = files.first() {
                tx.put_json(T::MessageIndex, &batch_key(channel, first.id), files)?;
            }
        }
        Ok(())
    }
}

/// Every marked file of `channel`: (name, hash) → message id.
fn marked_in(outbox: &Outbox, channel: &str) -> Result<HashMap<FileKey, MessageId>> {
    let tree = outbox.tree(T::MessageIndex);
    let mut found = HashMap::new();
    for item in tree.scan_prefix(channel_prefix(IX_UNRELEASED_BATCH, channel)) {
        let (_, value) = item?;
        let files: Vec<Marked> = crate::store::decode(T::MessageIndex, &value)?;
        for f in files {
            found.insert((f.file, f.sha256), f.id);
        }
    }
    for item in tree.scan_prefix(channel_prefix(IX_UNRELEASED, channel)) {
        let (key, value) = item?;
        let (_, rest) = split_composite(T::MessageIndex, &key[1..])?;
        let (file, rest) = split_composite(T::MessageIndex, rest)?;
        let (sha256, _) = split_composite(T::MessageIndex, rest)?;
        found.insert(
            (file, sha256),
            MessageId::new(read_u64(T::MessageIndex, &value)?),
        );
    }
    Ok(found)
}

impl Outbox {
    /// Runs `f` with the markers locked (see the module's documentation).
    pub(crate) fn with_markers<A>(&self, f: impl FnOnce() -> Result<A>) -> Result<A> {
        let _held = self
            .markers
            .lock()
            .map_err(|_| Error::Invalid("the receipt marker lock is poisoned".into()))?;
        f()
    }

    /// The marked files of every channel in `batch`: channel → (name, hash) → message id.
    pub(crate) fn marked_for(
        &self,
        batch: &[NewMessage],
    ) -> Result<HashMap<String, HashMap<FileKey, MessageId>>> {
        let mut out = HashMap::new();
        for new in batch {
            if !out.contains_key(&new.channel) {
                out.insert(new.channel.clone(), marked_in(self, &new.channel)?);
            }
        }
        Ok(out)
    }

    /// The message recorded for this very file (channel, name and content) whose removal from
    /// the channel was not yet confirmed with [`Outbox::mark_released`]: after a crash between
    /// recording a file and removing it from its channel, the file is found again, and is the
    /// message already made — not a new one, and not a duplicate interchange.
    pub fn find_unreleased(
        &self,
        channel: &str,
        file_name: &str,
        sha256: &str,
    ) -> Result<Option<MessageId>> {
        let marked = self.with_markers(|| marked_in(self, channel))?;
        Ok(marked
            .get(&(file_name.to_owned(), sha256.to_owned()))
            .copied())
    }

    /// The file of message `id` is gone from its channel: the same name and content arriving
    /// later is a new message. Not flushed: a marker that outlives a crash is harmless, as the
    /// file is no longer in the channel to be found again, and [`Outbox::clear_unreleased`]
    /// removes it once the channels have been read after a restart.
    pub fn mark_released(&self, id: MessageId) -> Result<()> {
        let Some(m) = self.message(id)? else {
            return Err(Error::MessageNotFound(id));
        };
        self.mark_files_released(&[(&m.channel, &m.file_name, &m.sha256)])
    }

    /// [`Outbox::mark_released`] for files whose records the caller holds: each one's channel,
    /// name and SHA-256. A batch's marker goes once all its files are released.
    pub fn mark_files_released(&self, files: &[(&str, &str, &str)]) -> Result<()> {
        if files.is_empty() {
            return Ok(());
        }
        let mut by_channel: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
        for &(channel, file, sha256) in files {
            by_channel.entry(channel).or_default().push((file, sha256));
        }
        self.with_markers(|| {
            let tree = self.tree(T::MessageIndex);
            let mut batch = sled::Batch::default();
            for (channel, released) in by_channel {
                let is_released = |file: &str, sha256: &str| {
                    released.iter().any(|&(f, s)| f == file && s == sha256)
                };
                for item in tree.scan_prefix(channel_prefix(IX_UNRELEASED_BATCH, channel)) {
                    let (key, value) = item?;
                    let files: Vec<Marked> = crate::store::decode(T::MessageIndex, &value)?;
                    let left: Vec<&Marked> = files
                        .iter()
                        .filter(|f| !is_released(&f.file, &f.sha256))
                        .collect();
                    if left.is_empty() {
                        batch.remove(key);
                    } else if left.len() < files.len() {
                        batch.insert(key, crate::store::encode(&left)?);
                    }
                }
                for item in tree.scan_prefix(channel_prefix(IX_UNRELEASED, channel)) {
                    let (key, _) = item?;
                    if released
                        .iter()
                        .any(|&(f, s)| key.as_ref() == file_key(channel, f, s).as_slice())
                    {
                        batch.remove(key);
                    }
                }
            }
            tree.apply_batch(batch).map_err(Error::from)
        })
    }

    /// Removes every receipt marker: called once every channel has been read after a start, when
    /// any file still marked has been found (or is gone for good).
    pub fn clear_unreleased(&self) -> Result<usize> {
        self.clear_markers(&[vec![IX_UNRELEASED_BATCH], vec![IX_UNRELEASED]])
    }

    /// Removes the receipt markers of one channel, once that channel has been read after a
    /// start (channels are read by different loops, each at its own pace).
    pub fn clear_unreleased_in(&self, channel: &str) -> Result<usize> {
        self.clear_markers(&[
            channel_prefix(IX_UNRELEASED_BATCH, channel),
            channel_prefix(IX_UNRELEASED, channel),
        ])
    }

    /// Removes the markers under `prefixes`; returns how many files they marked.
    fn clear_markers(&self, prefixes: &[Vec<u8>]) -> Result<usize> {
        self.with_markers(|| {
            let tree = self.tree(T::MessageIndex);
            let mut removed = 0;
            for prefix in prefixes {
                for item in tree.scan_prefix(prefix) {
                    let (key, value) = item?;
                    removed += if key.first() == Some(&IX_UNRELEASED_BATCH) {
                        crate::store::decode::<Vec<Marked>>(T::MessageIndex, &value)?.len()
                    } else {
                        1
                    };
                    tree.remove(key)?;
                }
            }
            Ok(removed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_marked_by_an_earlier_version_is_found_and_released() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let sha = "ef".repeat(32);
        outbox
            .tree(T::MessageIndex)
            .insert(
                file_key("dir:in", "old.edi", &sha),
                &MessageId::new(9).key(),
            )
            .unwrap();
        assert_eq!(
            outbox.find_unreleased("dir:in", "old.edi", &sha).unwrap(),
            Some(MessageId::new(9))
        );
        assert_eq!(
            outbox
                .find_unreleased("dir:other", "old.edi", &sha)
                .unwrap(),
            None
        );
        outbox
            .mark_files_released(&[("dir:in", "old.edi", &sha)])
            .unwrap();
        assert_eq!(
            outbox.find_unreleased("dir:in", "old.edi", &sha).unwrap(),
            None
        );
        outbox
            .tree(T::MessageIndex)
            .insert(
                file_key("dir:in", "old.edi", &sha),
                &MessageId::new(9).key(),
            )
            .unwrap();
        assert_eq!(outbox.clear_unreleased_in("dir:in").unwrap(), 1);
        assert_eq!(
            outbox
                .tree(T::MessageIndex)
                .scan_prefix([IX_UNRELEASED])
                .count(),
            0
        );
    }

    #[test]
    fn a_batch_key_sorts_under_its_channel_only() {
        let a = batch_key("dir:a", MessageId::new(7));
        assert!(a.starts_with(&channel_prefix(IX_UNRELEASED_BATCH, "dir:a")));
        assert!(!a.starts_with(&channel_prefix(IX_UNRELEASED_BATCH, "dir:")));
        assert!(
            !file_key("dir:a", "f", "00")
                .starts_with(&channel_prefix(IX_UNRELEASED_BATCH, "dir:a"))
        );
    }
}
