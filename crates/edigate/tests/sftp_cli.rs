//! `edigate sftp test` against a real OpenSSH sshd on loopback: a good server passes every step
//! and shows its fingerprint, a changed host key and a read-only server fail the step they
//! break, each with its reason; and `edigate partner check` on outbound file name templates.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../sftp/tests/sshd/mod.rs"]
mod sshd;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ACME: &str = "name = \"ACME Retail\"\n[x12]\nversion = \"005010\"\n\
                    partner = { qualifier = \"ZZ\", id = \"ACMERETAIL\" }\nmessages = [\"850\"]\n";

/// The `[outbound.sftp]`-style settings of `sshd`, pinning `host_key`.
fn server_toml(sshd: &sshd::Sshd, table: &str, host_key: &str) -> String {
    format!(
        "[{table}]\nhost = \"127.0.0.1\"\nport = {port}\nuser = {user:?}\n\
         host_key = {host_key:?}\ninbox_dir = \"inbox\"\noutbox_dir = \"outbox\"\n\
         [{table}.auth]\ntype = \"key\"\nprivate_key = {key:?}\n\
         [{table}.timeouts]\nconnect_ms = 5000\n",
        port = sshd.port,
        user = sshd.user,
        key = sshd.user_key.display().to_string(),
    )
}

/// A partner directory holding `acme-retail.toml` with `sshd` as its outbound server.
fn partners(sshd: &sshd::Sshd, host_key: &str) -> PathBuf {
    let dir = sshd.dir.path().join("partners");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("acme-retail.toml"),
        format!("{ACME}{}", server_toml(sshd, "outbound.sftp", host_key)),
    )
    .unwrap();
    dir
}

fn edigate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_edigate"))
        .args(args)
        .output()
        .unwrap()
}

fn sftp_test(partners: &Path) -> (i32, String) {
    let out = edigate(&[
        "sftp",
        "test",
        "acme-retail",
        "--partners",
        partners.to_str().unwrap(),
    ]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// The line of step `step`, e.g. `ok      host key  SHA256:… matches the pin`.
fn step<'a>(text: &'a str, step: &str) -> &'a str {
    text.lines()
        .find(|l| {
            l.split_whitespace()
                .skip(1)
                .collect::<Vec<_>>()
                .join(" ")
                .starts_with(step)
        })
        .unwrap_or_else(|| panic!("no {step} line in:\n{text}"))
}

#[test]
fn a_good_server_passes_every_step_and_shows_its_fingerprint() {
    let sshd = sshd::Sshd::start();
    fs::write(sshd.home.join("inbox/po-1.x12"), b"ISA*").unwrap();
    fs::write(sshd.home.join("inbox/po-2.x12"), b"ISA*").unwrap();
    let (code, text) = sftp_test(&partners(&sshd, &sshd.host_pub));
    assert_eq!(code, 0, "{text}");
    let fingerprint = sshd.host_fingerprint();
    assert!(
        step(&text, "host key").starts_with("ok")
            && step(&text, "host key").contains(&format!("{fingerprint} matches the pin")),
        "{text}"
    );
    for s in [
        "settings",
        "credentials",
        "connect",
        "login",
        "outbox",
        "write",
    ] {
        assert!(step(&text, s).starts_with("ok"), "{s}: {text}");
    }
    let inbox = step(&text, "inbox");
    assert!(
        inbox.contains("2 files") && inbox.contains("po-1.x12") && inbox.contains("po-2.x12"),
        "{text}"
    );
    assert!(text.contains("all 8 checks passed"), "{text}");
    // Nothing taken from the inbox, nothing left in the outbox.
    assert!(sshd.home.join("inbox/po-1.x12").exists());
    let left: Vec<_> = fs::read_dir(sshd.home.join("outbox")).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_changed_host_key_fails_naming_both_fingerprints() {
    let sshd = sshd::Sshd::start();
    // A pin of another key: the fingerprint of a fresh key pair.
    let other = sshd.dir.path().join("other");
    sshd::keygen(&other, "other", "");
    let pinned = sshd::fingerprint_of(&other.with_extension("pub"));
    let (code, text) = sftp_test(&partners(&sshd, &pinned));
    assert_eq!(code, 1, "{text}");
    let line = step(&text, "host key");
    assert!(line.starts_with("FAILED"), "{text}");
    assert!(line.contains(&sshd.host_fingerprint()), "offered: {text}");
    assert!(line.contains(&pinned), "pinned: {text}");
    assert!(step(&text, "login").starts_with("skipped"), "{text}");
    assert!(step(&text, "write").starts_with("skipped"), "{text}");
}

#[test]
fn a_read_only_server_fails_the_write_check() {
    let sshd = sshd::Sshd::start_read_only();
    let (code, text) = sftp_test(&partners(&sshd, &sshd.host_pub));
    assert_eq!(code, 1, "{text}");
    for s in ["host key", "login", "inbox", "outbox"] {
        assert!(step(&text, s).starts_with("ok"), "{s}: {text}");
    }
    let write = step(&text, "write");
    assert!(
        write.starts_with("FAILED") && write.contains("cannot write to outbox"),
        "{text}"
    );
    assert!(text.contains("1 check failed"), "{text}");
}

#[test]
fn an_inbound_channel_is_tested_from_the_daemon_configuration() {
    let sshd = sshd::Sshd::start();
    let config = sshd.dir.path().join("edigate.toml");
    fs::write(
        &config,
        format!(
            "[[inbound]]\ntype = \"sftp\"\nname = \"acme-sftp\"\n{}",
            server_toml(&sshd, "inbound.server", &sshd.host_fingerprint())
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let out = edigate(&["sftp", "test", "--config", config, "--channel", "acme-sftp"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("inbound channel acme-sftp"), "{text}");

    let out = edigate(&["sftp", "test", "--config", config, "--channel", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SFTP channels: acme-sftp"));
}

#[test]
fn a_partner_without_an_sftp_server_has_nothing_to_test() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("acme-retail.toml"), ACME).unwrap();
    let out = edigate(&[
        "sftp",
        "test",
        "acme-retail",
        "--partners",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not to an SFTP server"));
}

#[test]
fn partner_check_points_at_a_bad_file_name_template() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acme-retail.toml");
    fs::write(
        &file,
        format!("{ACME}[outbound]\nfile_name = \"out/{{partner}}-{{typ}}.x12\"\n"),
    )
    .unwrap();
    let out = edigate(&["partner", "check", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    // The `/` comes first: line 7, column 17.
    assert!(err.contains("acme-retail.toml:7:17: "), "{err}");
    assert!(err.contains("path separator"), "{err}");

    fs::write(
        &file,
        format!("{ACME}[outbound]\nfile_name = \"{{partner}}-{{typ}}.x12\"\n"),
    )
    .unwrap();
    let out = edigate(&["partner", "check", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("acme-retail.toml:7:24: "), "{err}");
    assert!(err.contains("unknown variable {typ}"), "{err}");
    assert!(err.contains("did you mean {type}?"), "{err}");
}

#[test]
fn a_password_from_the_environment_logs_in_and_a_wrong_one_fails_the_login_unshown() {
    let sshd = sshd::Sshd::start_password(sshd::PasswordMethod::Password);
    let password = sshd.password.clone().unwrap();
    let dir = partners(&sshd, &sshd.host_pub);
    let file = dir.join("acme-retail.toml");
    let text = fs::read_to_string(&file).unwrap();
    let key_auth = format!(
        "type = \"key\"\nprivate_key = {:?}\n",
        sshd.user_key.display().to_string()
    );
    assert!(text.contains(&key_auth), "{text}");
    fs::write(
        &file,
        text.replace(
            &key_auth,
            "type = \"password\"\npassword_env = \"ACME_SFTP_PASSWORD\"\n",
        ),
    )
    .unwrap();
    let run = |password: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_edigate"))
            .args(["sftp", "test", "acme-retail", "--partners"])
            .arg(&dir)
            .env("ACME_SFTP_PASSWORD", password)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    };
    let (code, text) = run(&password);
    assert_eq!(code, 0, "{text}");
    assert!(
        step(&text, "credentials").contains("password found"),
        "{text}"
    );
    assert!(!text.contains(&password), "the password shown: {text}");

    let wrong = "wrong horse battery";
    let (code, text) = run(wrong);
    assert_eq!(code, 1, "{text}");
    let login = step(&text, "login");
    assert!(
        login.starts_with("FAILED") && login.contains("refused password authentication"),
        "{text}"
    );
    assert!(!text.contains(wrong), "the password shown: {text}");
}
