//! Where deliveries end: event sinks (JSON Lines files, standard output, HTTP webhooks) and
//! partners' outbound directories.
//!
//! Delivery is at least once: a crash after a write and before the outbox records it means the
//! write happens again. Every event carries its deterministic id, so consumers deduplicate on it;
//! an outbound document is rewritten under the same file name.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Mutex;

use crate::config::SinkConfig;
use crate::spool::write_atomically;
use crate::webhook::WebhookSink;

/// From how many files a round of outbound documents is made durable with one sync of their
/// file system rather than one per file.
const SYNC_FILE_SYSTEM_FROM: usize = 16;

/// Why a delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// An I/O error, worth retrying.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: io::Error,
    },
    /// The destination is not configured (any more): retrying will not help until it is.
    #[error("no destination {0:?} is configured")]
    UnknownDestination(String),
    /// The receiver could not be reached, did not answer in time, or answered that it cannot
    /// take the delivery now (HTTP 408, 429, 5xx): worth retrying.
    #[error("{what}: {message}")]
    Unavailable {
        /// What was being done.
        what: String,
        /// What happened.
        message: String,
    },
    /// The receiver refused the delivery (an HTTP 4xx other than 408 and 429, an SMTP 5xx): it
    /// will refuse the same request again, so retrying cannot succeed.
    #[error("{what}: rejected by the receiver: {message}")]
    Rejected {
        /// What was being done.
        what: String,
        /// The HTTP status (or, for a mail, the SMTP reply code).
        status: u16,
        /// The status and the start of the receiver's answer.
        message: String,
    },
    /// The payload cannot be sent by this sink as it is (an event without a usable `id`): the
    /// same bytes would fail again.
    #[error("{0}")]
    Unsendable(String),
}

impl DeliveryError {
    /// The same error once more, for each delivery of a batch that failed together.
    pub(crate) fn again(&self) -> DeliveryError {
        match self {
            DeliveryError::Io { what, source } => DeliveryError::Io {
                what: what.clone(),
                source: io::Error::new(source.kind(), source.to_string()),
            },
            other => DeliveryError::Unavailable {
                what: "delivering a batch".into(),
                message: other.to_string(),
            },
        }
    }

    /// True when retrying the same delivery cannot succeed, so it belongs in the dead letters at
    /// once; false for failures that may pass on a later attempt.
    pub fn is_permanent(&self) -> bool {
        match self {
            DeliveryError::Rejected { .. } | DeliveryError::Unsendable(_) => true,
            // An unknown destination can come back with the configuration.
            DeliveryError::Io { .. }
            | DeliveryError::UnknownDestination(_)
            | DeliveryError::Unavailable { .. } => false,
        }
    }
}

/// One event sink.
#[derive(Debug)]
pub enum Sink {
    /// JSON Lines, one file per UTC day.
    Jsonl {
        /// The sink's name.
        name: String,
        /// The directory.
        dir: PathBuf,
        /// Appends are serialised so lines never interleave.
        lock: Mutex<()>,
    },
    /// Standard output.
    Stdout {
        /// The sink's name.
        name: String,
    },
    /// An HTTP endpoint, one POST per event.
    Webhook(Box<WebhookSink>),
}

impl Sink {
    /// Builds a sink from its configuration (creating its directory, reading a webhook's secret
    /// and building its HTTP client). A webhook configuration that is wrong is an
    /// [`io::ErrorKind::InvalidInput`] error carrying a [`crate::webhook::OpenError`].
    pub fn from_config(config: &SinkConfig) -> io::Result<Sink> {
        Ok(match config {
            SinkConfig::Jsonl { name, path } => {
                fs::create_dir_all(path)?;
                Sink::Jsonl {
                    name: name.clone(),
                    dir: path.clone(),
                    lock: Mutex::new(()),
                }
            }
            SinkConfig::Stdout { name } => Sink::Stdout { name: name.clone() },
            SinkConfig::Webhook {
                name,
                url,
                secret_env,
                timeout_ms,
                headers,
            } => Sink::Webhook(Box::new(
                WebhookSink::open(name, url, secret_env.as_deref(), *timeout_ms, headers)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
            )),
        })
    }

    /// The sink's name.
    pub fn name(&self) -> &str {
        match self {
            Sink::Jsonl { name, .. } | Sink::Stdout { name } => name,
            Sink::Webhook(w) => w.name(),
        }
    }

    /// The outbox destination of this sink's deliveries.
    pub fn destination(&self) -> String {
        format!("sink:{}", self.name())
    }

    /// Delivers one event (its JSON, without a line break).
    pub fn deliver(&self, event_json: &[u8]) -> Result<(), DeliveryError> {
        self.deliver_event(None, event_json)
    }

    /// Delivers one event as the outbox delivery `delivery`, which sinks that can pass it on
    /// (the webhook's `Edigate-Delivery` header) do.
    pub fn deliver_with_id(
        &self,
        delivery: outbox::DeliveryId,
        event_json: &[u8],
    ) -> Result<(), DeliveryError> {
        self.deliver_event(Some(delivery), event_json)
    }

    /// Appends events to a JSON Lines sink, one line each, in one write and one sync: what a
    /// delivery round hands a JSON Lines sink at once. Other sinks take them one by one.
    pub fn deliver_lines(&self, events: &[&[u8]]) -> Result<(), DeliveryError> {
        let Sink::Jsonl { dir, lock, .. } = self else {
            return events.iter().try_for_each(|e| self.deliver_event(None, e));
        };
        let path = dir.join(format!("events-{}.jsonl", crate::clock::utc_date()));
        let io = |source| DeliveryError::Io {
            what: format!("appending to {}", path.display()),
            source,
        };
        let mut lines = Vec::with_capacity(events.iter().map(|e| e.len() + 1).sum());
        for e in events {
            lines.extend_from_slice(e);
            lines.push(b'\n');
        }
        // The append is serialised so lines never interleave; the sync is not, so deliveries
        // running side by side share the file system's commits.
        let file = {
            let _guard = lock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(io)?;
            f.write_all(&lines).map_err(io)?;
            f
        };
        file.sync_data().map_err(io)
    }

    fn deliver_event(
        &self,
        delivery: Option<outbox::DeliveryId>,
        event_json: &[u8],
    ) -> Result<(), DeliveryError> {
        match self {
            Sink::Jsonl { .. } => self.deliver_lines(&[event_json]),
            Sink::Stdout { .. } => {
                let mut out = io::stdout().lock();
                out.write_all(event_json)
                    .and_then(|()| out.write_all(b"\n"))
                    .and_then(|()| out.flush())
                    .map_err(|source| DeliveryError::Io {
                        what: "writing to standard output".into(),
                        source,
                    })
            }
            Sink::Webhook(w) => w.deliver(delivery, event_json),
        }
    }
}

/// A partner's outbound directory.
#[derive(Debug, Clone)]
pub struct OutboundDirectory {
    /// The directory.
    pub dir: PathBuf,
}

impl OutboundDirectory {
    /// Writes one document under `file_name`, atomically. The name comes from the gateway
    /// (never from input), and is checked again here: a plain file name, nothing else.
    pub fn deliver(&self, file_name: &str, bytes: &[u8]) -> Result<(), DeliveryError> {
        check_file_name(file_name)?;
        let path = self.dir.join(file_name);
        write_atomically(&path, bytes).map_err(|source| DeliveryError::Io {
            what: format!("writing {}", path.display()),
            source,
        })
    }

    /// Writes a round's documents, each atomically, with one directory sync for the whole
    /// round instead of one per file: every document is written under a temporary name, then
    /// they are synced, `parallel_syncs` at a time (once all are written, so on a journalling
    /// file system one commit carries many), renamed into place, and the directory is synced
    /// once (their names durable). One thread creating and renaming in the directory keeps
    /// parallel workers from queueing on its lock. The result of each document, in order; a failed directory sync fails
    /// every document of the round (each is written again on its retry, under the same name).
    pub fn deliver_many(
        &self,
        files: &[(String, &[u8])],
        parallel_syncs: usize,
    ) -> Vec<Result<(), DeliveryError>> {
        let io = |what: String| move |source| DeliveryError::Io { what, source };
        if let Err(e) =
            fs::create_dir_all(&self.dir).map_err(io(format!("creating {}", self.dir.display())))
        {
            return files.iter().map(|_| Err(e.again())).collect();
        }
        let mut results: Vec<Result<(), DeliveryError>> = Vec::with_capacity(files.len());
        let mut written = Vec::with_capacity(files.len());
        for (index, (name, bytes)) in files.iter().enumerate() {
            let tmp = self.dir.join(format!(".{name}.part"));
            let result = check_file_name(name).and_then(|()| {
                File::create(&tmp)
                    .and_then(|mut f| f.write_all(bytes).map(|()| f))
                    .map_err(io(format!("writing {}", tmp.display())))
            });
            match result {
                Ok(file) => {
                    written.push((index, file, tmp, self.dir.join(name)));
                    results.push(Ok(()));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        // Many files at once: one sync of their file system makes them all durable with one
        // journal commit, where a sync per file commits again and again.
        #[cfg(target_os = "linux")]
        if written.len() >= SYNC_FILE_SYSTEM_FROM {
            let synced = File::open(&self.dir)
                .and_then(|dir| rustix::fs::syncfs(&dir).map_err(std::io::Error::from))
                .map_err(io(format!(
                    "syncing the file system of {}",
                    self.dir.display()
                )));
            let synced = written
                .iter()
                .map(|_| synced.as_ref().map(|_| ()).map_err(DeliveryError::again))
                .collect();
            return self.place(&written, synced, results);
        }
        // The syncs run side by side: each waits on the device, and none takes the directory's
        // lock.
        let per_thread = written.len().div_ceil(parallel_syncs.max(1)).max(1);
        let synced: Vec<Result<(), DeliveryError>> = std::thread::scope(|scope| {
            let threads: Vec<_> = written
                .chunks(per_thread)
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .map(|(_, file, tmp, _)| {
                                file.sync_data()
                                    .map_err(io(format!("syncing {}", tmp.display())))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            threads
                .into_iter()
                .flat_map(|t| {
                    t.join().unwrap_or_else(|_| {
                        vec![Err(DeliveryError::Unavailable {
                            what: "syncing a round of documents".into(),
                            message: "a sync thread panicked".into(),
                        })]
                    })
                })
                .collect()
        });
        self.place(&written, synced, results)
    }

    /// Renames each synced file of a round into place and syncs the directory once (their
    /// names durable); a file whose sync failed stays under its temporary name.
    fn place(
        &self,
        written: &[(usize, File, PathBuf, PathBuf)],
        synced: Vec<Result<(), DeliveryError>>,
        mut results: Vec<Result<(), DeliveryError>>,
    ) -> Vec<Result<(), DeliveryError>> {
        let io = |what: String| move |source| DeliveryError::Io { what, source };
        let mut renamed = Vec::with_capacity(written.len());
        for ((index, _, tmp, path), sync) in written.iter().zip(synced) {
            let done = sync.and_then(|()| {
                fs::rename(tmp, path).map_err(io(format!(
                    "renaming {} to {}",
                    tmp.display(),
                    path.display()
                )))
            });
            match done {
                Ok(()) => renamed.push(*index),
                Err(e) => results[*index] = Err(e),
            }
        }
        if renamed.is_empty() {
            return results;
        }
        if let Err(e) =
            crate::spool::sync_dir(&self.dir).map_err(io(format!("syncing {}", self.dir.display())))
        {
            for index in renamed {
                results[index] = Err(e.again());
            }
        }
        results
    }
}

/// The name comes from the gateway (never from input), and is checked again here: a plain file
/// name, nothing else.
fn check_file_name(file_name: &str) -> Result<(), DeliveryError> {
    if file_name.is_empty() || file_name.starts_with('.') || file_name.contains(['/', '\\', '\0']) {
        return Err(DeliveryError::Io {
            what: format!("refusing the file name {file_name:?}"),
            source: io::Error::from(io::ErrorKind::InvalidInput),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_of_documents_is_written_whole_and_a_bad_name_refused_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = OutboundDirectory {
            dir: dir.path().join("acme"),
        };
        let files: Vec<(String, &[u8])> = vec![
            ("a.x12".into(), b"ISA*a~"),
            ("../escape.x12".into(), b"ISA*b~"),
            ("c.x12".into(), b"ISA*c~"),
        ];
        let results = out.deliver_many(&files, 2);
        assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
        assert!(results[1].is_err(), "a path is refused");
        let mut names: Vec<String> = fs::read_dir(&out.dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["a.x12", "c.x12"], "no temporary file is left");
        assert_eq!(fs::read(out.dir.join("c.x12")).expect("c"), b"ISA*c~");
        // Written again (a retry after a crash): the same names, the new contents.
        let again = out.deliver_many(&[("a.x12".into(), b"ISA*a2~".as_slice())], 4);
        assert!(again[0].is_ok());
        assert_eq!(fs::read(out.dir.join("a.x12")).expect("a"), b"ISA*a2~");
        assert!(!dir.path().join("escape.x12").exists());
    }

    #[test]
    fn jsonl_appends_one_line_per_event() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sink = Sink::from_config(&SinkConfig::Jsonl {
            name: "events".into(),
            path: dir.path().to_path_buf(),
        })
        .expect("sink");
        sink.deliver(br#"{"id":"a"}"#).expect("deliver");
        sink.deliver(br#"{"id":"b"}"#).expect("deliver");
        let file = fs::read_dir(dir.path())
            .expect("dir")
            .next()
            .expect("one file")
            .expect("entry")
            .path();
        assert_eq!(
            fs::read_to_string(file).expect("read"),
            "{\"id\":\"a\"}\n{\"id\":\"b\"}\n"
        );
    }

    #[test]
    fn outbound_names_cannot_leave_the_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = OutboundDirectory {
            dir: dir.path().join("acme"),
        };
        out.deliver("ack-000000001.x12", b"ISA").expect("deliver");
        assert_eq!(
            fs::read(dir.path().join("acme/ack-000000001.x12")).expect("read"),
            b"ISA"
        );
        for bad in ["../x", "a/b", ".hidden", ""] {
            assert!(out.deliver(bad, b"x").is_err(), "{bad}");
        }
    }
}
