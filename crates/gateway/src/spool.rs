//! The spool: every received file's raw bytes, made durable before anything is acknowledged to
//! the channel it came from.
//!
//! Files received together are written one after another into one append-only segment
//! (`spool/YYYY-MM-DD/<batch>.seg`): written under a temporary name, fsync'd once, renamed into
//! place, and the directory fsync'd. One fsync covers a whole batch, and after a crash a segment
//! is either whole or absent. A message record names its segment, offset and size, and the
//! SHA-256 of its bytes, so what is read back can be checked.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

/// The spool directory.
#[derive(Debug)]
pub struct Spool {
    root: PathBuf,
    /// Makes segment names unique within a process, whatever the clock does.
    sequence: AtomicU64,
}

/// Where one file's bytes are in the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spooled {
    /// The segment.
    pub path: PathBuf,
    /// Where the bytes start in it.
    pub offset: u64,
    /// How many bytes.
    pub size: u64,
    /// SHA-256 of the bytes, lower-case hex.
    pub sha256: String,
}

impl Spooled {
    /// The outbox record of a file so spooled, received now through `channel` as `file_name`.
    pub fn message(self, channel: &str, file_name: &str, received_at: u64) -> outbox::NewMessage {
        outbox::NewMessage {
            channel: channel.to_owned(),
            file_name: file_name.to_owned(),
            spool_path: self.path,
            spool_offset: self.offset,
            size: self.size,
            sha256: self.sha256,
            received_at,
        }
    }
}

/// A segment being written: files are added, then [`Segment::commit`] makes them durable.
#[derive(Debug)]
pub struct Segment {
    tmp: PathBuf,
    path: PathBuf,
    file: io::BufWriter<File>,
    len: u64,
}

impl Spool {
    /// The spool under `root` (created when missing). Segments left half-written by a crash
    /// are removed: nothing in them was ever recorded.
    pub fn open(root: &Path) -> io::Result<Spool> {
        let tmp = root.join("tmp");
        fs::create_dir_all(&tmp)?;
        for entry in fs::read_dir(&tmp)? {
            fs::remove_file(entry?.path())?;
        }
        Ok(Spool {
            root: root.to_path_buf(),
            sequence: AtomicU64::new(0),
        })
    }

    /// Starts a segment.
    pub fn segment(&self) -> io::Result<Segment> {
        let now = time::OffsetDateTime::now_utc();
        let day = format!(
            "{:04}-{:02}-{:02}",
            now.year(),
            u8::from(now.month()),
            now.day()
        );
        let name = format!(
            "{}-{}-{}.seg",
            now.unix_timestamp_nanos(),
            std::process::id(),
            self.sequence.fetch_add(1, Ordering::Relaxed)
        );
        let tmp = self.root.join("tmp").join(&name);
        let path = self.root.join(day).join(name);
        Ok(Segment {
            file: io::BufWriter::new(File::create(&tmp)?),
            tmp,
            path,
            len: 0,
        })
    }

    /// Reads one file's bytes back, checking them against their hash.
    pub fn get(&self, path: &Path, offset: u64, size: u64, sha256: &str) -> io::Result<Vec<u8>> {
        let mut f = File::open(path)?;
        f.seek(SeekFrom::Start(offset))?;
        let len = usize::try_from(size).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
        let mut bytes = vec![0; len];
        f.read_exact(&mut bytes)?;
        if !sha256.is_empty() && hex(&Sha256::digest(&bytes)) != sha256 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "bytes {offset}..{} of {} do not match their recorded SHA-256",
                    offset + size,
                    path.display()
                ),
            ));
        }
        Ok(bytes)
    }

    /// The spool's root.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Segment {
    /// Appends one file; where it will be once the segment is committed.
    pub fn add(&mut self, bytes: &[u8]) -> io::Result<Spooled> {
        self.file.write_all(bytes)?;
        let spooled = Spooled {
            path: self.path.clone(),
            offset: self.len,
            size: bytes.len() as u64,
            sha256: hex(&Sha256::digest(bytes)),
        };
        self.len += bytes.len() as u64;
        Ok(spooled)
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Makes the segment durable under its final name.
    pub fn commit(self) -> io::Result<()> {
        let file = self
            .file
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir)?;
        fs::rename(&self.tmp, &self.path)?;
        sync_dir(dir)
    }

    /// Gives the segment up (nothing in it was recorded).
    pub fn abandon(self) {
        drop(self.file);
        let _ = fs::remove_file(&self.tmp);
    }
}

/// Makes a rename or a new file in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates `dir` and asks the file system to place each directory made in it apart from the
/// rest (on ext4, the Orlov allocator's "top of a hierarchy" flag, `chattr +T`): the files the
/// gateway writes for partners then fill block groups of their own, away from the inboxes
/// where partners' files are dropped and removed. Without a journal, ext4 gives a new file no
/// inode freed in the last minutes and scans past each of them, so files written where many
/// were just removed cost more and more. A file system without the flag ignores the hint.
pub(crate) fn create_spread_dir(dir: &Path) -> io::Result<()> {
    let existed = dir.exists();
    fs::create_dir_all(dir)?;
    #[cfg(target_os = "linux")]
    if !existed {
        use rustix::fs::{IFlags, ioctl_getflags, ioctl_setflags};
        let placed = File::open(dir).and_then(|d| {
            let flags = ioctl_getflags(&d)?;
            ioctl_setflags(&d, flags | IFlags::TOPDIR).map_err(io::Error::from)
        });
        if let Err(e) = placed {
            tracing::debug!(dir = %dir.display(), error = %e, "directory placement hint not taken");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = existed;
    Ok(())
}

/// Writes `bytes` to `path` so a reader never sees a partial file: a temporary name beside it,
/// fsync, rename, fsync of the directory.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.part"));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    sync_dir(dir)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_in_a_segment_read_back_exactly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path()).expect("open");
        let mut seg = spool.segment().expect("segment");
        let a = seg.add(b"abc").expect("add");
        let b = seg.add(b"ISA*00*~").expect("add");
        seg.commit().expect("commit");
        assert_eq!((a.offset, a.size, b.offset, b.size), (0, 3, 3, 8));
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            a.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            spool
                .get(&a.path, a.offset, a.size, &a.sha256)
                .expect("get"),
            b"abc"
        );
        assert_eq!(
            spool
                .get(&b.path, b.offset, b.size, &b.sha256)
                .expect("get"),
            b"ISA*00*~"
        );
        assert!(
            spool.get(&b.path, b.offset, b.size, &a.sha256).is_err(),
            "a hash mismatch is an error"
        );
        assert!(
            fs::read_dir(dir.path().join("tmp"))
                .expect("tmp")
                .next()
                .is_none()
        );
    }

    #[test]
    fn half_written_segments_are_cleared_on_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path()).expect("open");
        let mut seg = spool.segment().expect("segment");
        seg.add(b"lost in a crash").expect("add");
        std::mem::forget(seg);
        assert_eq!(
            fs::read_dir(dir.path().join("tmp")).expect("tmp").count(),
            1
        );
        Spool::open(dir.path()).expect("reopen");
        assert_eq!(
            fs::read_dir(dir.path().join("tmp")).expect("tmp").count(),
            0
        );
    }
}
