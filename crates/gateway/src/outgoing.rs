//! The outgoing directory: where an ERP that writes files rather than calling the admin API
//! drops the events it sends partners (`DATA/outgoing/` by default).
//!
//! A file holds one event, a JSON array of them, or JSON Lines; each names its partner, or the
//! file sits in a subdirectory named after the partner (`outgoing/acme-retail/resp-1.json`).
//! Every event is queued like `POST /v1/outbound` (written with the partner's mapping,
//! validated, numbered, delivered); only then is the file removed. A file with an event that
//! cannot be sent is moved to `outgoing/failed/` with a `.error` file beside it saying why, for
//! each event, and nothing is lost. The events it did queue are not sent twice when it is put
//! back: each has a key (its own `key` or `id`, else its content).

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::inbox::DirectoryInbox;
use crate::outbound::{OutboundDocuments, OutboundError, OutboundRequest, events_in};

/// Failed files go here, inside the outgoing directory.
const FAILED: &str = "failed";

/// The outgoing directory and what queues its events.
#[derive(Debug)]
pub struct OutgoingDir {
    root: PathBuf,
    documents: OutboundDocuments,
}

impl OutgoingDir {
    /// The directory at `root`, created if missing.
    pub fn open(root: PathBuf, documents: OutboundDocuments) -> std::io::Result<OutgoingDir> {
        fs::create_dir_all(root.join(FAILED))?;
        Ok(OutgoingDir { root, documents })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Queues the events of every file ready in the directory and its partner subdirectories;
    /// returns how many files were taken.
    pub fn poll(&self) -> Result<usize, OutboundError> {
        let mut taken = 0;
        let mut dirs = vec![(self.root.clone(), None)];
        if let Ok(entries) = fs::read_dir(&self.root) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name != FAILED && !name.starts_with('.') && e.path().is_dir() {
                    dirs.push((e.path(), Some(name)));
                }
            }
        }
        for (dir, partner) in dirs {
            let inbox = DirectoryInbox {
                name: "outgoing".into(),
                path: dir.clone(),
                partner: partner.clone(),
            };
            let files = match inbox.ready() {
                Ok(f) => f,
                Err(e) => {
                    tracing::error!(dir = %dir.display(), error = %e, "cannot list the outgoing directory");
                    continue;
                }
            };
            for file in files {
                self.take(&inbox, &file, partner.as_deref())?;
                taken += 1;
            }
        }
        Ok(taken)
    }

    /// Queues one file's events, then removes it (or moves it to `failed/`).
    fn take(
        &self,
        inbox: &DirectoryInbox,
        file: &Path,
        partner: Option<&str>,
    ) -> Result<(), OutboundError> {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = match fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                self.fail(file, &name, &[format!("cannot read it: {e}")]);
                return Ok(());
            }
        };
        let mut problems = Vec::new();
        let mut queued = 0;
        match events_in(&text) {
            Err(e) => problems.push(e),
            Ok(events) => {
                for (n, event) in events.into_iter().enumerate() {
                    let at = format!("event {}", n + 1);
                    match request(event, partner) {
                        Err(e) => problems.push(format!("{at}: {e}")),
                        Ok(req) => match self.documents.queue(&req) {
                            Ok(q) => {
                                queued += 1;
                                tracing::info!(file = %name, partner = %q.partner, message = %q.message, delivery = q.delivery, created = q.created, "outgoing event queued");
                            }
                            // The store failing is not the file's fault: it stays for the next
                            // pass.
                            Err(e @ OutboundError::Outbox(_)) => return Err(e),
                            Err(e) => problems.push(format!("{at}: {e}")),
                        },
                    }
                }
            }
        }
        if problems.is_empty() {
            if let Err(e) = inbox.remove(file) {
                tracing::error!(file = %file.display(), error = %e, "cannot remove a sent outgoing file; it will be read again (its events are not sent twice)");
            }
        } else {
            tracing::error!(file = %name, queued, problems = %problems.join("; "), "outgoing file not sent in full; moved to failed/");
            self.fail(file, &name, &problems);
        }
        Ok(())
    }

    fn fail(&self, file: &Path, name: &str, problems: &[String]) {
        let failed = self.root.join(FAILED);
        let error = failed.join(format!("{name}.error"));
        let mut text = problems.join("\n");
        text.push('\n');
        if let Err(e) = fs::write(&error, text) {
            tracing::error!(file = %error.display(), error = %e, "cannot write the reason a file failed");
        }
        if let Err(e) = fs::rename(file, failed.join(name)) {
            tracing::error!(file = %file.display(), error = %e, "cannot move a failed outgoing file");
        }
    }
}

/// One event as an outbound request: the directory's partner (else the event's), its `type`
/// and `data`, and its `key` or `id` as the key.
fn request(event: Value, partner: Option<&str>) -> Result<OutboundRequest, String> {
    let body = crate::outbound::request_body(event, partner, "put the file in outgoing/PARTNER/")?;
    serde_json::from_value(body).map_err(|e| format!("not an outbound event: {e}"))
}
