//! AS2 messages per second: one round is building a signed (SHA-256) and encrypted (AES-256-CBC)
//! message asking for a signed sync MDN, receiving it, building the MDN and reading the MDN —
//! both parties in this process. pyas2lib does the same round in one Python process
//! (`bench/peers/as2_bench.py`) on the same payload, in the same run; the figures and their
//! ratios go to `bench/results/as2-latest.md`.
//!
//! `cargo bench -p edigate-as2 --bench as2_roundtrip`; needs `sh tests/peers/setup.sh`.
//! `AS2_BENCH_SECONDS` (default 3) is the time spent per case and implementation.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use as2::{
    Certificate, Encryption, Identity, MdnRequest, MdnStatus, Outgoing, Receiver, build, build_mdn,
    read_mdn, receive,
};

/// The payload the Python side builds too: X12 PO1 lines, CRLF, `size` bytes.
fn payload(size: usize) -> Vec<u8> {
    let line = b"PO1*1*10*EA*9.99**VP*ITEM-0001*BP*CUST-0001~\r\n";
    line.iter().copied().cycle().take(size).collect()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Parties {
    edigate: Identity,
    edigate_cert: Certificate,
    partner: Identity,
    partner_cert: Certificate,
}

fn load(dir: &Path, name: &str) -> (Identity, Certificate) {
    let pem = std::fs::read(dir.join(format!("{name}.pem"))).expect("identity");
    let cert = std::fs::read(dir.join(format!("{name}.cert.pem"))).expect("certificate");
    (
        Identity::from_pem(&pem, &pem, Some(b"test")).expect("identity"),
        Certificate::from_pem(&cert).expect("certificate"),
    )
}

fn round_trip(p: &Parties, data: &[u8]) {
    let msg = build(
        data,
        &Outgoing {
            from: "edigate",
            to: "partner",
            content_type: "application/edi-x12",
            filename: Some("po.x12"),
            subject: None,
            sign: Some(&p.edigate),
            encrypt: Some((&p.partner_cert, Encryption::Aes256Cbc)),
            mdn: MdnRequest::Sync {
                to: "edi@example.invalid".into(),
                signed: true,
            },
        },
    )
    .expect("build");
    let r = Receiver {
        own: &p.partner,
        partner: &p.edigate_cert,
        require_encryption: true,
        require_signature: true,
    };
    let rec = receive(&msg.headers, &msg.body, &r).expect("receive");
    assert!(rec.outcome.as_ref().is_ok_and(|p| p.data == data));
    let mdn = build_mdn(&rec, &p.partner, "partner").expect("mdn");
    let report = read_mdn(&mdn.headers, &mdn.body, &p.partner_cert, &msg, true).expect("read");
    assert_eq!(report.status, MdnStatus::Processed);
}

/// Rounds per second over at least `secs` and two rounds.
fn ours(p: &Parties, data: &[u8], secs: f64) -> (u64, f64) {
    round_trip(p, data); // warm-up
    let start = Instant::now();
    let mut rounds = 0u64;
    while rounds < 2 || start.elapsed() < Duration::from_secs_f64(secs) {
        round_trip(p, data);
        rounds += 1;
    }
    (rounds, start.elapsed().as_secs_f64())
}

fn pyas2lib(dir: &Path, size: usize, secs: f64) -> (u64, f64) {
    let py = root().join("tests/peers/.venv/bin/python");
    let out = Command::new(&py)
        .arg(root().join("bench/peers/as2_bench.py"))
        .arg(dir)
        .arg(size.to_string())
        .arg(secs.to_string())
        .output()
        .expect("run bench/peers/as2_bench.py with tests/peers/.venv (sh tests/peers/setup.sh)");
    assert!(
        out.status.success(),
        "as2_bench.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("as2_bench.py JSON");
    (
        v["rounds"].as_u64().expect("rounds"),
        v["seconds"].as_f64().expect("seconds"),
    )
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_default();
    let rev = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root())
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let openssl = Command::new("openssl")
        .arg("version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!(
        "{cpu}, {cores} cores; load average {load} at the start; {openssl}; edigate source {rev}"
    )
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it as a test: one quick round.
    let quick = !std::env::args().any(|a| a == "--bench");
    let secs: f64 = std::env::var("AS2_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let dir = tempfile::tempdir().expect("tempdir");
    let status = Command::new("sh")
        .arg(root().join("tests/peers/as2_certs.sh"))
        .arg(dir.path())
        .status()
        .expect("tests/peers/as2_certs.sh");
    assert!(status.success());
    let (edigate, edigate_cert) = load(dir.path(), "edigate");
    let (partner, partner_cert) = load(dir.path(), "partner");
    let parties = Parties {
        edigate,
        edigate_cert,
        partner,
        partner_cert,
    };
    if quick {
        round_trip(&parties, &payload(1024));
        return;
    }
    let header = machine();
    let mut rows = Vec::new();
    for (label, size) in [("1 KB", 1024usize), ("10 MB", 10 << 20)] {
        let data = payload(size);
        let (n, t) = ours(&parties, &data, secs);
        let (pn, pt) = pyas2lib(dir.path(), size, secs);
        let (rate, prate) = (n as f64 / t, pn as f64 / pt);
        println!(
            "{label}: edigate {rate:.2} msg/s ({n} rounds), pyas2lib {prate:.2} msg/s ({pn} rounds), ratio {:.1}",
            rate / prate
        );
        rows.push(format!(
            "| {label} | {rate:.2} | {n} in {t:.1} s | {prate:.2} | {pn} in {pt:.1} s | **{:.1}** |",
            rate / prate
        ));
    }
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let md = format!(
        "# AS2 messages per second\n\n\
One round, both parties in one process: build a message signed with SHA-256 and encrypted with \
AES-256-CBC (RSA 2048 keys) asking for a signed sync MDN, receive it (decrypt, verify, MIC), build \
the signed MDN, read and check the MDN. edigate (`crates/as2`, OpenSSL 3) against pyas2lib doing \
the same round in one Python process (`bench/peers/as2_bench.py`), on the same payload \
(X12 `PO1` lines, CRLF), in the same run, about {secs} s per case each.\n\n\
Measured {date} on {header}.\n\n\
| payload | edigate msg/s | edigate rounds | pyas2lib msg/s | pyas2lib rounds | edigate ÷ pyas2lib |\n\
|---|---:|---|---:|---|---:|\n{}\n\n\
Reproduce: `cargo bench -p edigate-as2 --bench as2_roundtrip` (`AS2_BENCH_SECONDS=N` per case).\n",
        rows.join("\n")
    );
    let out = root().join("bench/results/as2-latest.md");
    std::fs::write(&out, md).expect("write bench/results/as2-latest.md");
    println!("wrote {}", out.display());
}
