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
//! Markers cannot be looked up inside a transaction (sled's cannot scan), and a read outside
//! one waits for whatever transaction runs; so the outbox keeps what it knows of each channel's
//! markers in memory ([`Known`]): a channel's markers are read from the store the first time
//! they are needed, and every change after that goes through here too.

use std::collections::{BTreeMap, HashMap, HashSet};

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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Marked {
    file: String,
    sha256: String,
    id: MessageId,
}

/// A file as a channel names it: its name and the SHA-256 of its bytes.
type FileKey = (String, String);

/// A channel's markers as stored: each key with the files it marks (one for an earlier
/// version's marker).
type ChannelMarkers = BTreeMap<Vec<u8>, Vec<Marked>>;

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

#[cfg(test)]
fn file_key(channel: &str, file_name: &str, sha256: &str) -> Vec<u8> {
    let mut key = vec![IX_UNRELEASED];
    key.extend(composite_key(&[channel, file_name, sha256]));
    key
}

/// What the outbox knows of the markers: the channels read so far, each with its markers.
#[derive(Default)]
pub(crate) struct Known(HashMap<String, ChannelMarkers>);

impl Known {
    /// `channel`'s markers, read from the store if this is the first time.
    fn channel(&mut self, outbox: &Outbox, channel: &str) -> Result<&mut ChannelMarkers> {
        if !self.0.contains_key(channel) {
            let stored = read_channel(outbox, channel)?;
            self.0.insert(channel.to_owned(), stored);
        }
        self.0
            .get_mut(channel)
            .ok_or_else(|| Error::Invalid("a channel's markers vanished".into()))
    }

    /// Adds markers just committed, to the channels already read (the others will find them
    /// when they are read).
    fn add(&mut self, new: NewMarkers) {
        for (channel, files) in new.by_channel {
            if let (Some(known), Some(first)) = (self.0.get_mut(&channel), files.first()) {
                known.insert(batch_key(&channel, first.id), files);
            }
        }
    }
}

/// Every marker of `channel` in the store.
fn read_channel(outbox: &Outbox, channel: &str) -> Result<ChannelMarkers> {
    let tree = outbox.tree(T::MessageIndex);
    let mut found = ChannelMarkers::new();
    for item in tree.scan_prefix(channel_prefix(IX_UNRELEASED_BATCH, channel)) {
        let (key, value) = item?;
        let files: Vec<Marked> = crate::store::decode(T::MessageIndex, &value)?;
        found.insert(key.to_vec(), files);
    }
    for item in tree.scan_prefix(channel_prefix(IX_UNRELEASED, channel)) {
        let (key, value) = item?;
        let (_, rest) = split_composite(T::MessageIndex, &key[1..])?;
        let (file, rest) = split_composite(T::MessageIndex, rest)?;
        let (sha256, _) = split_composite(T::MessageIndex, rest)?;
        let id = MessageId::new(read_u64(T::MessageIndex, &value)?);
        found.insert(key.to_vec(), vec![Marked { file, sha256, id }]);
    }
    Ok(found)
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

    /// Writes them in `tx`; once it commits, [`Outbox::remember_markers`] them.
    pub(crate) fn write(&self, tx: &Tx<'_>) -> TxResult<()> {
        for (channel, files) in &self.by_channel {
            if let Some(first) = files.first() {
                tx.put_json(T::MessageIndex, &batch_key(channel, first.id), files)?;
            }
        }
        Ok(())
    }
}

impl Outbox {
    /// Runs `f` with what the outbox knows of the markers, locked.
    pub(crate) fn with_markers<A>(&self, f: impl FnOnce(&mut Known) -> Result<A>) -> Result<A> {
        let mut known = self
            .markers
            .lock()
            .map_err(|_| Error::Invalid("the receipt marker lock is poisoned".into()))?;
        f(&mut known)
    }

    /// Takes markers just committed into what the outbox knows.
    pub(crate) fn remember_markers(&self, new: NewMarkers) -> Result<()> {
        self.with_markers(|known| {
            known.add(new);
            Ok(())
        })
    }

    /// Records `batch` as [`Outbox::record_received_or_found`] does, with the markers locked:
    /// `record` gets each channel's marked files, (name, hash) → message id, and returns what
    /// it recorded with the markers it wrote.
    pub(crate) fn record_marked<A>(
        &self,
        batch: &[NewMessage],
        record: impl FnOnce(&HashMap<String, HashMap<FileKey, MessageId>>) -> Result<(A, NewMarkers)>,
    ) -> Result<A> {
        self.with_markers(|known| {
            let mut marked = HashMap::new();
            for new in batch {
                if !marked.contains_key(&new.channel) {
                    let files: HashMap<FileKey, MessageId> = known
                        .channel(self, &new.channel)?
                        .values()
                        .flatten()
                        .map(|f| ((f.file.clone(), f.sha256.clone()), f.id))
                        .collect();
                    marked.insert(new.channel.clone(), files);
                }
            }
            let (recorded, new) = record(&marked)?;
            known.add(new);
            Ok(recorded)
        })
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
        self.with_markers(|known| {
            Ok(known
                .channel(self, channel)?
                .values()
                .flatten()
                .find(|f| f.file == file_name && f.sha256 == sha256)
                .map(|f| f.id))
        })
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
        // Per channel, the (name, hash) pairs released: a batch's marker is looked up file by
        // file against them.
        let mut by_channel: BTreeMap<&str, HashSet<(&str, &str)>> = BTreeMap::new();
        for &(channel, file, sha256) in files {
            by_channel
                .entry(channel)
                .or_default()
                .insert((file, sha256));
        }
        self.with_markers(|known| {
            let mut batch = sled::Batch::default();
            // What the markers become once the write is done: `None` for those removed.
            type Change<'c> = (&'c str, Vec<u8>, Option<Vec<Marked>>);
            let mut changed: Vec<Change<'_>> = Vec::new();
            for (channel, released) in by_channel {
                for (key, files) in known.channel(self, channel)?.iter() {
                    let is_released =
                        |f: &Marked| released.contains(&(f.file.as_str(), f.sha256.as_str()));
                    let gone = files.iter().filter(|f| is_released(f)).count();
                    if gone == 0 {
                        continue;
                    }
                    if gone == files.len() {
                        batch.remove(key.as_slice());
                        changed.push((channel, key.clone(), None));
                    } else {
                        // Only a batch's marker holds more than one file.
                        let left: Vec<Marked> =
                            files.iter().filter(|f| !is_released(f)).cloned().collect();
                        batch.insert(key.as_slice(), crate::store::encode(&left)?);
                        changed.push((channel, key.clone(), Some(left)));
                    }
                }
            }
            if changed.is_empty() {
                return Ok(());
            }
            self.tree(T::MessageIndex).apply_batch(batch)?;
            for (channel, key, left) in changed {
                let markers = known.channel(self, channel)?;
                match left {
                    Some(left) => markers.insert(key, left),
                    None => markers.remove(&key),
                };
            }
            Ok(())
        })
    }

    /// Removes every receipt marker: called once every channel has been read after a start, when
    /// any file still marked has been found (or is gone for good).
    pub fn clear_unreleased(&self) -> Result<usize> {
        self.with_markers(|known| {
            let removed = self.clear_markers(&[vec![IX_UNRELEASED_BATCH], vec![IX_UNRELEASED]]);
            // Read again when next needed (an empty store, unless files came meanwhile).
            known.0.clear();
            removed
        })
    }

    /// Removes the receipt markers of one channel, once that channel has been read after a
    /// start (channels are read by different loops, each at its own pace).
    pub fn clear_unreleased_in(&self, channel: &str) -> Result<usize> {
        self.with_markers(|known| {
            let removed = self.clear_markers(&[
                channel_prefix(IX_UNRELEASED_BATCH, channel),
                channel_prefix(IX_UNRELEASED, channel),
            ]);
            known.0.remove(channel);
            removed
        })
    }

    /// Removes the markers under `prefixes`; returns how many files they marked.
    fn clear_markers(&self, prefixes: &[Vec<u8>]) -> Result<usize> {
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
        let mark_as_before = || {
            let key = file_key("dir:in", "old.edi", &sha);
            let id = MessageId::new(9).key();
            outbox.tree(T::MessageIndex).insert(key, &id).unwrap();
        };
        let find = |channel: &str| outbox.find_unreleased(channel, "old.edi", &sha).unwrap();
        mark_as_before();
        assert_eq!(find("dir:in"), Some(MessageId::new(9)));
        assert_eq!(find("dir:other"), None);
        outbox
            .mark_files_released(&[("dir:in", "old.edi", &sha)])
            .unwrap();
        assert_eq!(find("dir:in"), None);
        mark_as_before();
        assert_eq!(outbox.clear_unreleased_in("dir:in").unwrap(), 1);
        let left = outbox.tree(T::MessageIndex).scan_prefix([IX_UNRELEASED]);
        assert_eq!(left.count(), 0);
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
