//! The spool: every received file's raw bytes, made durable before anything is acknowledged to
//! the channel it came from.
//!
//! Files are named by the SHA-256 of their content (`spool/ab/abcd….edi`), so the spool only
//! ever grows by new content and a file received twice is stored once. A write goes to a
//! temporary name, is fsync'd, renamed into place, and the directory is fsync'd: after a crash a
//! spool file is either whole or absent.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The spool directory.
#[derive(Debug, Clone)]
pub struct Spool {
    root: PathBuf,
}

/// A file made durable in the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spooled {
    /// Where it is.
    pub path: PathBuf,
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

impl Spool {
    /// The spool under `root` (created when missing).
    pub fn open(root: &Path) -> io::Result<Spool> {
        fs::create_dir_all(root.join("tmp"))?;
        Ok(Spool {
            root: root.to_path_buf(),
        })
    }

    /// Writes `bytes` durably and returns where they are.
    pub fn put(&self, bytes: &[u8]) -> io::Result<Spooled> {
        let sha256 = hex(&Sha256::digest(bytes));
        let dir = self.root.join(&sha256[..2]);
        let path = dir.join(format!("{sha256}.edi"));
        let spooled = Spooled {
            path: path.clone(),
            sha256,
            size: bytes.len() as u64,
        };
        // Same name, same content: a file already in place needs no second write.
        if path.exists() {
            return Ok(spooled);
        }
        fs::create_dir_all(&dir)?;
        let tmp =
            self.root
                .join("tmp")
                .join(format!("{}.{}.part", spooled.sha256, std::process::id()));
        {
            let mut f = File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, &path)?;
        sync_dir(&dir)?;
        Ok(spooled)
    }

    /// Reads a spooled file back.
    pub fn get(&self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }

    /// The spool's root.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// Makes a rename or a new file in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
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
    fn content_is_stored_once_under_its_hash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path()).expect("open");
        let a = spool.put(b"abc").expect("put");
        let b = spool.put(b"abc").expect("put again");
        assert_eq!(a, b);
        assert_eq!(a.size, 3);
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            a.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(
            a.path.ends_with(
                "ba/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad.edi"
            )
        );
        assert_eq!(spool.get(&a.path).expect("get"), b"abc");
        assert!(
            fs::read_dir(dir.path().join("tmp"))
                .expect("tmp")
                .next()
                .is_none()
        );
    }
}
