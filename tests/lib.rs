//! Helpers shared by the integration tests: where the fixtures and the shared corpus live.

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The project's own fixtures (`fixtures/`).
pub fn fixtures() -> PathBuf {
    workspace_root().join("fixtures")
}

/// The shared corpus beside the clone (`../shared/corpus`), or `None` with a loud note on
/// stderr: CI always has it, a user's clone may not, and the project's fixtures cover every
/// behaviour on their own.
pub fn shared_corpus() -> Option<PathBuf> {
    let dir = workspace_root().join("../shared/corpus");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "NOTE: {} is absent: the tests that read the shared corpus check nothing here \
             (CI has it beside the clone)",
            dir.display()
        );
        None
    }
}

/// Every regular file in `dir`, sorted.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// pydifact's parse of `file` as JSON (tests/peers/pydifact_dump.py). Panics, saying how to
/// install it, when the peer is missing: a test that needs it never skips silently.
pub fn pydifact_dump(file: &Path) -> Result<serde_json::Value, String> {
    let root = workspace_root().join("tests/peers");
    let python = root.join(".venv/bin/python");
    assert!(
        python.is_file(),
        "pydifact is not installed at {}: run `sh tests/peers/setup.sh` (the README's test command does)",
        python.display()
    );
    let out = std::process::Command::new(&python)
        .arg(root.join("pydifact_dump.py"))
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    if out.status.code() == Some(2) {
        panic!(
            "pydifact is not usable: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
}

/// A fresh scratch directory under the target directory, named for the test.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = workspace_root().join("target/test-scratch").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}
