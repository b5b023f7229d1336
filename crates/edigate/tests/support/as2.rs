//! The AS2 peer of the daemon tests: pyas2lib driven by tests/peers/as2_daemon_peer.py, with
//! throwaway identities.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use super::root;

/// The Python of the test peers, checked to import pyas2lib.
pub fn python() -> PathBuf {
    let p = root().join("tests/peers/.venv/bin/python");
    assert!(
        p.exists(),
        "pyas2lib is not installed: run `sh tests/peers/setup.sh` (expected {})",
        p.display()
    );
    let ok = Command::new(&p)
        .args(["-c", "import pyas2lib.as2"])
        .status()
        .unwrap();
    assert!(
        ok.success(),
        "pyas2lib does not import in {}: run `sh tests/peers/setup.sh`",
        p.display()
    );
    p
}

/// The script that plays the partner.
pub fn peer_script() -> PathBuf {
    root().join("tests/peers/as2_daemon_peer.py")
}

/// Throwaway identities: edigate (ours), partner, and a stranger nobody trusts, with the
/// passphrase of our key in `passphrase`.
pub fn certificates(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("edigate-as2-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    let status = Command::new("sh")
        .arg(root().join("tests/peers/as2_certs.sh"))
        .arg(&dir)
        .args(["edigate", "partner", "stranger"])
        .status()
        .unwrap();
    assert!(status.success(), "as2_certs.sh failed");
    fs::write(dir.join("passphrase"), "test\n").unwrap();
    dir
}
