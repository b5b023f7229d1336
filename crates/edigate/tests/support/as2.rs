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

/// What the peer script printed, one JSON line per message, once it exited well (`what` names
/// the command for the failure message).
pub fn peer_lines(what: &str, out: &std::process::Output) -> Vec<serde_json::Value> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pyas2lib {what} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Runs the peer script's `command` (`send`, `matrix`, …) with `file` against the daemon at
/// `url`; one JSON line per message.
pub fn run_peer(
    command: &str,
    certs: &std::path::Path,
    url: &str,
    file: &std::path::Path,
    env: &[(&str, &str)],
) -> Vec<serde_json::Value> {
    let out = Command::new(python())
        .arg(peer_script())
        .arg(command)
        .arg(certs)
        .arg(url)
        .arg(file)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    peer_lines(command, &out)
}
