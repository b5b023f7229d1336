//! Shared by the test binaries: throwaway identities made with the openssl CLI.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use as2::{Certificate, Identity};

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Identities `names` in `dir` (key + certificate PEM, password "test"), as pyas2lib loads them.
pub fn make_certs(dir: &Path, names: &[&str]) {
    let status = Command::new("sh")
        .arg(repo_root().join("tests/peers/as2_certs.sh"))
        .arg(dir)
        .args(names)
        .status()
        .expect("run tests/peers/as2_certs.sh (needs the openssl CLI)");
    assert!(status.success(), "as2_certs.sh failed");
}

/// The identity `name` made by [`make_certs`].
pub fn identity(dir: &Path, name: &str) -> Identity {
    let pem = std::fs::read(dir.join(format!("{name}.pem"))).expect("read identity");
    Identity::from_pem(&pem, &pem, Some(b"test")).expect("load identity")
}

/// The certificate of `name` made by [`make_certs`].
pub fn certificate(dir: &Path, name: &str) -> Certificate {
    let pem = std::fs::read(dir.join(format!("{name}.cert.pem"))).expect("read certificate");
    Certificate::from_pem(&pem).expect("load certificate")
}
