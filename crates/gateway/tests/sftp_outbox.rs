//! A partner's SFTP destination against a real OpenSSH sshd on loopback: no more uploads at once
//! than the partner's `max_concurrent_uploads`, and an upload cut short by a dying server is a
//! retryable failure that leaves nothing under the final name, then arrives whole when retried.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../sftp/tests/sshd/mod.rs"]
mod sshd;

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gateway::remote::SftpOutbox;
use gateway::sftp_status::SftpStatusBoard;

const DESTINATION: &str = "partner:acme-retail";

/// Bytes that no compression could shrink.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The names in `dir` that are uploads in progress (`.NAME.part`).
fn parts(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.') && n.ends_with(".part"))
                .collect()
        })
        .unwrap_or_default()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Delivers `docs` from one thread each, as the delivery workers do, while a watcher counts the
/// uploads in progress on the server and on the status board; returns the most seen at once by
/// each.
fn deliver_at_once(limit: usize, docs: usize, size: usize) -> (usize, u64) {
    let server = sshd::Sshd::start();
    let config = server.config_with(&format!("max_concurrent_uploads = {limit}"));
    let board = SftpStatusBoard::default();
    let outbox = Arc::new(SftpOutbox::new(DESTINATION.into(), config, board.clone()));
    let rt = runtime();
    let outbox_dir = server.home.join("outbox");
    let done = Arc::new(AtomicBool::new(false));
    let most_on_server = Arc::new(AtomicUsize::new(0));
    let watcher = {
        let (done, most, dir) = (done.clone(), most_on_server.clone(), outbox_dir.clone());
        let board = board.clone();
        std::thread::spawn(move || {
            let mut most_on_board = 0;
            while !done.load(Ordering::SeqCst) {
                most.fetch_max(parts(&dir).len(), Ordering::SeqCst);
                if let Some(link) = board.snapshot().first() {
                    most_on_board = most_on_board.max(link.uploads_in_flight);
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            most_on_board
        })
    };
    let bodies: Vec<Vec<u8>> = (0..docs).map(|i| noise(size, i as u64 + 1)).collect();
    std::thread::scope(|scope| {
        for (i, body) in bodies.iter().enumerate() {
            let outbox = outbox.clone();
            let handle = rt.handle().clone();
            scope.spawn(move || {
                let _rt = handle.enter();
                outbox
                    .deliver(&format!("doc-{i}.x12"), body)
                    .unwrap_or_else(|e| panic!("doc-{i}: {e}"));
            });
        }
    });
    done.store(true, Ordering::SeqCst);
    let most_on_board = watcher.join().unwrap();
    for (i, body) in bodies.iter().enumerate() {
        let landed = fs::read(outbox_dir.join(format!("doc-{i}.x12"))).unwrap();
        assert!(landed == *body, "doc-{i} differs");
    }
    assert!(parts(&outbox_dir).is_empty());
    let link = &board.snapshot()[0];
    assert_eq!(link.max_concurrent_uploads, Some(limit as u64));
    assert_eq!((link.uploads_in_flight, link.consecutive_failures), (0, 0));
    assert!(link.last_upload.is_some() && link.connected);
    (most_on_server.load(Ordering::SeqCst), most_on_board)
}

#[test]
fn uploads_to_a_partner_never_exceed_its_limit() {
    let (on_server, on_board) = deliver_at_once(1, 6, 4 << 20);
    assert_eq!(on_board, 1, "one at a time");
    assert!(on_server <= 1, "{on_server} uploads at once on the server");

    let (on_server, on_board) = deliver_at_once(3, 8, 4 << 20);
    assert!(on_server <= 3, "{on_server} uploads at once on the server");
    // Eight workers waiting: the limit is reached, not just respected.
    assert_eq!(on_board, 3, "uploads at once");
}

#[test]
fn an_upload_cut_short_by_a_dying_server_is_retried_and_arrives_whole_once() {
    let mut server = sshd::Sshd::start();
    let board = SftpStatusBoard::default();
    let outbox = Arc::new(SftpOutbox::new(
        DESTINATION.into(),
        server.config(),
        board.clone(),
    ));
    let rt = runtime();
    let body = Arc::new(noise(96 << 20, 42));
    let outbox_dir = server.home.join("outbox");
    let part = outbox_dir.join(".big.x12.part");

    let upload = {
        let (outbox, body, handle) = (outbox.clone(), body.clone(), rt.handle().clone());
        std::thread::spawn(move || {
            let _rt = handle.enter();
            outbox.deliver("big.x12", &body)
        })
    };
    // Mid-transfer: part of the file is on the server's disk.
    let started = Instant::now();
    while fs::metadata(&part).map_or(0, |m| m.len()) < (1 << 20) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the upload never started"
        );
        assert!(!upload.is_finished(), "the upload ended before the kill");
        std::thread::sleep(Duration::from_millis(2));
    }
    server.kill();
    let err = upload
        .join()
        .unwrap()
        .expect_err("an upload cut short must fail");
    assert!(!err.is_permanent(), "a dying server is retryable: {err}");
    assert!(
        !outbox_dir.join("big.x12").exists(),
        "nothing under the final name"
    );
    let link = &board.snapshot()[0];
    assert_eq!(link.consecutive_failures, 1);
    assert!(!link.connected);
    let error = link.last_error.as_ref().expect("last error");
    assert!(
        error.retryable && error.message.contains("big.x12"),
        "{error:?}"
    );

    server.restart();
    let _rt = rt.enter();
    outbox.deliver("big.x12", &body).expect("the retry");
    let landed = fs::read(outbox_dir.join("big.x12")).unwrap();
    assert!(landed == *body, "the retried upload differs");
    assert!(parts(&outbox_dir).is_empty(), "{:?}", parts(&outbox_dir));
    let link = &board.snapshot()[0];
    assert_eq!(link.consecutive_failures, 0);
    assert!(link.connected && link.last_upload.is_some());
}
