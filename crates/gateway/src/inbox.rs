//! Directory channels: files a partner (or a transfer program) puts in a local directory.
//!
//! A file is taken when it is a regular file whose name does not mark it as unfinished
//! (`.name`, `*.part`, `*.tmp`, `*.filepart`): writers that cannot rename into place should
//! write under such a name first. A taken file is removed only after its bytes are in the spool
//! and recorded, so a crash at any point leaves it either in the inbox or safely received.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::spool::sync_dir;

/// One inbox directory.
#[derive(Debug, Clone)]
pub struct DirectoryInbox {
    /// The channel's name.
    pub name: String,
    /// The directory.
    pub path: PathBuf,
    /// The only partner allowed to send through it, when set.
    pub partner: Option<String>,
}

impl DirectoryInbox {
    /// Creates the directory when missing.
    pub fn open(name: String, path: PathBuf, partner: Option<String>) -> io::Result<Self> {
        fs::create_dir_all(&path)?;
        Ok(DirectoryInbox {
            name,
            path,
            partner,
        })
    }

    /// Files ready to be taken, oldest first.
    pub fn ready(&self) -> io::Result<Vec<PathBuf>> {
        let mut files: Vec<(SystemTime, PathBuf)> = Vec::new();
        for entry in fs::read_dir(&self.path)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if is_unfinished(&name) {
                continue;
            }
            let meta = match entry.metadata() {
                Ok(m) => m,
                // Removed between listing and looking: someone else's business.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            if meta.is_file() {
                files.push((
                    meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    entry.path(),
                ));
            }
        }
        files.sort();
        Ok(files.into_iter().map(|(_, p)| p).collect())
    }

    /// Acknowledges receipt of `file`: removes it. Durable after [`DirectoryInbox::sync`].
    pub fn remove(&self, file: &Path) -> io::Result<()> {
        match fs::remove_file(file) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Makes the removals so far durable.
    pub fn sync(&self) -> io::Result<()> {
        sync_dir(&self.path)
    }
}

fn is_unfinished(name: &str) -> bool {
    name.starts_with('.')
        || [".part", ".tmp", ".filepart", ".partial"]
            .iter()
            .any(|s| name.ends_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfinished_files_are_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inbox = DirectoryInbox::open("t".into(), dir.path().join("in"), None).expect("open");
        for name in ["a.x12", ".b.x12", "c.x12.part", "d.tmp", "e.edi"] {
            fs::write(inbox.path.join(name), b"x").expect("write");
        }
        fs::create_dir(inbox.path.join("sub")).expect("mkdir");
        let mut names: Vec<String> = inbox
            .ready()
            .expect("list")
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        names.sort();
        assert_eq!(names, ["a.x12", "e.edi"]);
        inbox.remove(&inbox.path.join("a.x12")).expect("remove");
        inbox
            .remove(&inbox.path.join("a.x12"))
            .expect("removing twice is fine");
        inbox.sync().expect("sync");
        assert_eq!(inbox.ready().expect("list").len(), 1);
    }
}
