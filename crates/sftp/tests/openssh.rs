//! The SFTP client against a real OpenSSH sshd on loopback (see `sshd/mod.rs`): host key
//! pinning, authentication, the inbound poll-download-finish cycle, atomic uploads, refused
//! names, and failures that must say whether to retry.

mod sshd;

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sftp::{Error, RemoteFileId, SftpSession, file_name};
use sshd::{PasswordMethod, Sshd, fingerprint_of, free_port, keygen};

async fn connect(config: &sftp::SftpConfig) -> SftpSession {
    SftpSession::connect(config)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"))
}

fn names(files: &[RemoteFileId]) -> Vec<&str> {
    files.iter().map(|f| f.name.as_str()).collect()
}

fn dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Bytes that no compression or pattern could make look right by accident.
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

#[tokio::test]
async fn connects_with_the_pinned_key_or_its_fingerprint() {
    let server = Sshd::start();
    let session = connect(&server.config()).await;
    assert_eq!(session.host_key_fingerprint(), server.host_fingerprint());
    assert!(session.list_inbox().await.expect("list").is_empty());
    assert!(!session.is_closed());
    session.close().await.expect("close");

    let mut by_fingerprint = server.config();
    by_fingerprint.host_key = vec![server.host_fingerprint()];
    let session = connect(&by_fingerprint).await;
    assert_eq!(session.host_key_fingerprint(), server.host_fingerprint());

    // A known_hosts line, and a second pin for a key rollover.
    let other = server.dir.path().join("other");
    keygen(&other, "other", "");
    let other_pub = fs::read_to_string(other.with_extension("pub")).expect("pub");
    let mut rollover = server.config();
    rollover.host_key = vec![
        other_pub,
        format!("[127.0.0.1]:{} {}", server.port, server.host_pub),
    ];
    connect(&rollover).await;
}

#[tokio::test]
async fn a_changed_host_key_is_refused_naming_both_fingerprints() {
    let server = Sshd::start();
    let other = server.dir.path().join("impostor");
    keygen(&other, "impostor", "");
    let mut config = server.config();
    config.host_key = vec![fs::read_to_string(other.with_extension("pub")).expect("pub")];
    let err = SftpSession::connect(&config)
        .await
        .expect_err("a host key that is not pinned must be refused");
    let expected = fingerprint_of(&other.with_extension("pub"));
    match &err {
        Error::HostKeyMismatch {
            expected: pinned,
            offered,
            algorithm,
            ..
        } => {
            assert_eq!(pinned, std::slice::from_ref(&expected));
            assert_eq!(offered, &server.host_fingerprint());
            assert_eq!(algorithm, "ssh-ed25519");
        }
        other => panic!("expected a host key mismatch, got {other:?}"),
    }
    assert!(!err.is_retryable(), "a host key mismatch is not retryable");
    let message = err.to_string();
    assert!(message.contains(&expected), "{message}");
    assert!(message.contains(&server.host_fingerprint()), "{message}");
}

#[tokio::test]
async fn an_unknown_user_key_is_refused_and_not_retryable() {
    let server = Sshd::start();
    let stranger = server.dir.path().join("stranger");
    keygen(&stranger, "stranger", "");
    let mut config = server.config();
    config.auth = sftp::AuthConfig::Key {
        private_key: stranger,
        passphrase_env: None,
        passphrase_file: None,
    };
    let err = SftpSession::connect(&config).await.expect_err("refused");
    assert!(
        matches!(
            err,
            Error::AuthRejected {
                method: "publickey",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn an_encrypted_key_opens_with_its_passphrase_file_only() {
    let server = Sshd::start();
    let key = server.dir.path().join("locked");
    keygen(&key, "locked", "correct horse");
    server.authorize(&key.with_extension("pub"));
    let passphrase = server.dir.path().join("passphrase");
    fs::write(&passphrase, "correct horse\n").expect("write");
    let mut config = server.config();
    config.auth = sftp::AuthConfig::Key {
        private_key: key.clone(),
        passphrase_env: None,
        passphrase_file: Some(passphrase.clone()),
    };
    connect(&config).await;

    fs::write(&passphrase, "wrong horse\n").expect("write");
    let err = SftpSession::connect(&config)
        .await
        .expect_err("wrong passphrase");
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(!err.to_string().contains("horse"), "no secret in: {err}");
    assert!(!err.is_retryable());

    config.auth = sftp::AuthConfig::Key {
        private_key: key,
        passphrase_env: Some("EDIGATE_SFTP_TEST_SURELY_UNSET".into()),
        passphrase_file: None,
    };
    let err = SftpSession::connect(&config)
        .await
        .expect_err("unset variable");
    assert!(
        matches!(&err, Error::Config(m) if m.contains("EDIGATE_SFTP_TEST_SURELY_UNSET")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_server_that_is_down_gives_a_retryable_error() {
    let server = Sshd::start();
    let mut config = server.config();
    config.port = free_port();
    let err = SftpSession::connect(&config)
        .await
        .expect_err("nobody listens");
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn ready_files_are_downloaded_then_deleted() {
    let server = Sshd::start();
    let inbox = server.home.join("inbox");
    fs::write(inbox.join("a.x12"), b"ISA*00*first~").expect("write");
    fs::write(inbox.join("b.edi"), b"UNA:+.? 'UNB+UNOA:2'").expect("write");
    let session = connect(&server.config()).await;

    let ready = session.list_ready().await.expect("list");
    assert_eq!(names(&ready), ["a.x12", "b.edi"]);
    assert_eq!(ready[0].size, 13);
    assert!(ready[0].mtime > 1_600_000_000, "{:?}", ready[0]);

    // Two downloads at once on one session.
    let (a, b) = tokio::join!(session.download("a.x12"), session.download("b.edi"));
    assert_eq!(a.expect("download a"), b"ISA*00*first~");
    assert_eq!(b.expect("download b"), b"UNA:+.? 'UNB+UNOA:2'");

    session.finish("a.x12").await.expect("finish");
    assert_eq!(dir_names(&inbox), ["b.edi"]);
    // Again, as after an answer lost to a crash: nothing to do, no error.
    session.finish("a.x12").await.expect("finish twice");
    session.finish("b.edi").await.expect("finish");
    assert!(dir_names(&inbox).is_empty());
    assert!(session.list_ready().await.expect("list").is_empty());

    let err = session.download("a.x12").await.expect_err("gone");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn finished_files_move_to_the_archive_when_one_is_set() {
    let server = Sshd::start();
    let inbox = server.home.join("inbox");
    let archive = server.home.join("archive");
    fs::write(inbox.join("po.x12"), b"new").expect("write");
    fs::write(archive.join("po.x12"), b"archived yesterday").expect("write");
    let session = connect(&server.config_with("archive_dir = \"archive\"")).await;

    let ready = session.list_ready().await.expect("list");
    assert_eq!(names(&ready), ["po.x12"]);
    assert_eq!(session.download("po.x12").await.expect("download"), b"new");
    session.finish("po.x12").await.expect("archive");
    assert!(dir_names(&inbox).is_empty());
    assert_eq!(fs::read(archive.join("po.x12")).expect("archived"), b"new");
    session.finish("po.x12").await.expect("finish twice");

    // An archive directory that does not exist: the file stays, and the error says so.
    fs::write(inbox.join("late.x12"), b"x").expect("write");
    let session = connect(&server.config_with("archive_dir = \"no/such/dir\"")).await;
    let err = session
        .finish("late.x12")
        .await
        .expect_err("no archive dir");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("no/such/dir/late.x12"), "{err}");
    assert_eq!(dir_names(&inbox), ["late.x12"]);
}

#[tokio::test]
async fn a_growing_file_is_left_until_it_stops_growing() {
    let server = Sshd::start();
    let inbox = server.home.join("inbox");
    fs::write(inbox.join("done.x12"), b"complete").expect("write");
    let growing = inbox.join("big.x12");
    fs::write(&growing, b"").expect("write");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let growing = growing.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut file = fs::OpenOptions::new()
                .append(true)
                .open(growing)
                .expect("open");
            while !stop.load(Ordering::Relaxed) {
                file.write_all(&[b'x'; 100]).expect("append");
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let session = connect(&server.config()).await;
    for _ in 0..2 {
        let ready = session.list_ready().await.expect("list");
        assert_eq!(names(&ready), ["done.x12"], "a growing file was offered");
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer");
    let size = fs::metadata(&growing).expect("stat").len();
    let ready = session.list_ready().await.expect("list");
    let big = ready
        .iter()
        .find(|f| f.name == "big.x12")
        .expect("offered once it stopped growing");
    assert_eq!(big.size, size);
    assert_eq!(
        session.download("big.x12").await.expect("download").len() as u64,
        size
    );
}

#[tokio::test]
async fn ignore_patterns_hidden_files_directories_and_links_are_left_alone() {
    let server = Sshd::start();
    let inbox = server.home.join("inbox");
    for name in [
        "a.x12",
        "b.tmp",
        "c.x12.part",
        ".hidden",
        "d.lock",
        "e.filepart",
    ] {
        fs::write(inbox.join(name), name).expect("write");
    }
    fs::create_dir(inbox.join("sub")).expect("mkdir");
    std::os::unix::fs::symlink("a.x12", inbox.join("link.x12")).expect("symlink");

    let session = connect(&server.config()).await;
    let mut listed = names(&session.list_ready().await.expect("list"))
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    listed.sort();
    assert_eq!(listed, ["a.x12", "d.lock"]);

    // Configured patterns replace the defaults; hidden files stay hidden.
    let session = connect(&server.config_with("ignore = [\"*.lock\", \"?.tmp\"]")).await;
    let mut listed = names(&session.list_ready().await.expect("list"))
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    listed.sort();
    assert_eq!(listed, ["a.x12", "c.x12.part", "e.filepart"]);
}

#[tokio::test]
async fn an_upload_appears_whole_under_its_final_name() {
    let server = Sshd::start();
    let outbox = server.home.join("outbox");
    let session = connect(&server.config()).await;
    let name = file_name(
        "{partner}-{type}-{control}.x12",
        &[
            ("partner", "ACME"),
            ("type", "997"),
            ("control", "000000042"),
        ],
    )
    .expect("name");
    session.upload(&name, b"ISA*first~").await.expect("upload");
    assert_eq!(dir_names(&outbox), [name.as_str()]);
    assert_eq!(fs::read(outbox.join(&name)).expect("read"), b"ISA*first~");

    // The same name again (a retried delivery) replaces the file, leaving nothing else.
    session
        .upload(&name, b"ISA*second~")
        .await
        .expect("upload again");
    assert_eq!(dir_names(&outbox), [name.as_str()]);
    assert_eq!(fs::read(outbox.join(&name)).expect("read"), b"ISA*second~");

    session
        .upload("empty.x12", b"")
        .await
        .expect("empty upload");
    assert_eq!(fs::read(outbox.join("empty.x12")).expect("read"), b"");
    let listed = session.list_outbox().await.expect("list outbox");
    assert_eq!(listed.len(), 2);
}

#[tokio::test]
async fn five_megabytes_go_up_and_come_back_byte_identical() {
    let server = Sshd::start();
    let session = connect(&server.config()).await;
    let bytes = noise(5 * 1024 * 1024 + 123, 0x5eed);

    let started = Instant::now();
    session.upload("big.x12", &bytes).await.expect("upload");
    let up = started.elapsed();
    let landed = fs::read(server.home.join("outbox/big.x12")).expect("read");
    assert!(landed == bytes, "uploaded bytes differ");
    assert_eq!(dir_names(&server.home.join("outbox")), ["big.x12"]);

    fs::rename(
        server.home.join("outbox/big.x12"),
        server.home.join("inbox/big.x12"),
    )
    .expect("move to inbox");
    let started = Instant::now();
    let downloaded = session.download("big.x12").await.expect("download");
    let down = started.elapsed();
    assert!(downloaded == bytes, "downloaded bytes differ");
    let mb = bytes.len() as f64 / 1e6;
    println!(
        "5 MB round trip: upload {:.0} MB/s, download {:.0} MB/s",
        mb / up.as_secs_f64(),
        mb / down.as_secs_f64()
    );
}

#[tokio::test]
async fn names_that_could_leave_the_directory_are_refused() {
    let server = Sshd::start();
    fs::write(server.home.join("secret"), b"not for partners").expect("write");
    let session = connect(&server.config()).await;
    for name in [
        "../secret",
        "../outbox/x",
        "a/b",
        ".hidden",
        "..",
        "",
        "x\\y",
        "a\nb",
    ] {
        let err = session.upload(name, b"x").await.expect_err(name);
        assert!(
            matches!(err, Error::InvalidName { .. }),
            "{name:?}: {err:?}"
        );
        assert!(!err.is_retryable());
        let err = session.download(name).await.expect_err(name);
        assert!(
            matches!(err, Error::InvalidName { .. }),
            "{name:?}: {err:?}"
        );
        let err = session.finish(name).await.expect_err(name);
        assert!(
            matches!(err, Error::InvalidName { .. }),
            "{name:?}: {err:?}"
        );
    }
    assert!(dir_names(&server.home.join("outbox")).is_empty());
    assert_eq!(
        dir_names(&server.home),
        ["archive", "inbox", "outbox", "secret"]
    );
    let err = file_name("{partner}.x12", &[("partner", "../../etc/cron.d/x")]).expect_err("path");
    assert!(matches!(err, Error::Template { .. }), "{err:?}");
}

#[tokio::test]
async fn a_read_only_server_refuses_uploads_for_good() {
    let server = Sshd::start_read_only();
    fs::write(server.home.join("inbox/a.x12"), b"x").expect("write");
    let session = connect(&server.config()).await;
    let err = session
        .upload("ack.x12", b"x")
        .await
        .expect_err("read-only");
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");
    assert!(!err.is_retryable());
    let err = session.finish("a.x12").await.expect_err("read-only");
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");
    assert_eq!(
        session.download("a.x12").await.expect("reading works"),
        b"x"
    );
}

#[tokio::test]
async fn a_full_disk_on_the_server_is_retryable_and_leaves_no_partial_file() {
    let server = Sshd::start_small_disk(256 * 1024);
    let session = connect(&server.config()).await;
    // Room for a small document: the disk works.
    session
        .upload("small.x12", b"ISA*small~")
        .await
        .expect("fits");
    // A document larger than the disk: the write fails part way.
    let big = noise(1024 * 1024, 11);
    let err = session.upload("big.x12", &big).await.expect_err("no space");
    // Space may be freed on the partner's side: worth retrying, not a dead letter.
    assert!(err.is_retryable(), "{err:?}");
    // Neither the final name nor the temporary one is left behind.
    let listed = session.list_outbox().await.expect("list outbox");
    assert_eq!(names(&listed), ["small.x12"], "{err}");
    // The space the failed upload took is free again: another small document goes.
    session
        .upload("after.x12", b"ISA*after~")
        .await
        .expect("fits after");
    let mut after = names(&session.list_outbox().await.expect("list"))
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    after.sort();
    assert_eq!(after, ["after.x12", "small.x12"]);
}

#[tokio::test]
async fn a_server_killed_mid_session_gives_retryable_errors() {
    let mut server = Sshd::start();
    let big = noise(32 * 1024 * 1024, 7);
    fs::write(server.home.join("inbox/big.x12"), &big).expect("write");
    let session = Arc::new(connect(&server.config()).await);
    assert_eq!(
        names(&session.list_inbox().await.expect("list")),
        ["big.x12"]
    );

    let transfer = {
        let session = session.clone();
        tokio::spawn(async move { session.download("big.x12").await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    server.kill();
    match transfer.await.expect("task") {
        Err(e) => assert!(e.is_retryable(), "download cut short: {e:?}"),
        // It may have finished before the kill landed; then it must be whole.
        Ok(bytes) => assert!(bytes == big, "a download that succeeded must be whole"),
    }

    let started = Instant::now();
    let err = session.list_inbox().await.expect_err("the server is gone");
    assert!(err.is_retryable(), "{err:?}");
    assert!(
        matches!(err, Error::ConnectionLost { .. } | Error::Timeout { .. }),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(6), "noticed late");
    let err = session.upload("ack.x12", b"x").await.expect_err("gone");
    assert!(err.is_retryable(), "{err:?}");
    let err = SftpSession::connect(&server.config())
        .await
        .expect_err("down");
    assert!(err.is_retryable(), "{err:?}");
}

#[tokio::test]
async fn a_password_logs_in_by_the_password_method() {
    let server = Sshd::start_password(PasswordMethod::Password);
    let session = connect(&server.password_config()).await;
    assert_eq!(session.host_key_fingerprint(), server.host_fingerprint());
    fs::write(server.home.join("inbox/a.x12"), b"ISA*pw~").expect("write");
    assert_eq!(
        session.download("a.x12").await.expect("download"),
        b"ISA*pw~"
    );
    session.upload("ack.x12", b"ack").await.expect("upload");
    assert_eq!(
        fs::read(server.home.join("outbox/ack.x12")).expect("read"),
        b"ack"
    );
    let log = fs::read_to_string(server.dir.path().join("sshd.log")).expect("sshd log");
    assert!(log.contains("Accepted password for"), "{log}");
}

#[tokio::test]
async fn a_password_logs_in_by_keyboard_interactive_when_the_server_asks_that_way() {
    let server = Sshd::start_password(PasswordMethod::KeyboardInteractive);
    let session = connect(&server.password_config()).await;
    assert!(session.list_inbox().await.expect("list").is_empty());
    session.upload("ack.x12", b"ack").await.expect("upload");
    let log = fs::read_to_string(server.dir.path().join("sshd.log")).expect("sshd log");
    assert!(log.contains("Accepted keyboard-interactive"), "{log}");
}

#[tokio::test]
async fn a_wrong_password_is_refused_by_either_method_without_showing_it() {
    for method in [
        PasswordMethod::Password,
        PasswordMethod::KeyboardInteractive,
    ] {
        let server = Sshd::start_password(method);
        let wrong = "not the password, with spaces";
        fs::write(server.dir.path().join("password"), format!("{wrong}\n")).expect("write");
        let err = SftpSession::connect(&server.password_config())
            .await
            .expect_err("a wrong password must be refused");
        let expected = match method {
            PasswordMethod::Password => "password",
            PasswordMethod::KeyboardInteractive => "keyboard-interactive",
        };
        assert!(
            matches!(err, Error::AuthRejected { method, .. } if method == expected),
            "{method:?}: {err:?}"
        );
        assert!(!err.is_retryable());
        assert!(!err.to_string().contains(wrong), "no secret in: {err}");
        assert!(!format!("{err:?}").contains(wrong), "no secret in: {err:?}");
    }
}

#[tokio::test]
async fn a_password_for_a_server_that_takes_only_keys_says_what_it_takes() {
    let server = Sshd::start();
    fs::write(server.dir.path().join("password"), "anything\n").expect("write");
    let err = SftpSession::connect(&server.password_config())
        .await
        .expect_err("key-only server");
    match &err {
        Error::AuthUnsupported { offered, .. } => {
            assert_eq!(offered, &["publickey".to_string()], "{err}");
        }
        other => panic!("expected AuthUnsupported, got {other:?}"),
    }
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("publickey"), "{err}");
}
