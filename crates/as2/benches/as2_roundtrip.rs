//! AS2 messages per second, measured two ways; pyas2lib (`bench/peers/as2_bench.py`) does the
//! same work on the same payload in the same run, and the figures and their ratios go to
//! `bench/results/as2-latest.md`.
//!
//! - Over loopback HTTP: a client builds a signed (SHA-256) and encrypted (AES-256-CBC) message
//!   asking for a signed sync MDN and POSTs it on a kept-alive connection to a receiver on
//!   127.0.0.1, which reads it and answers with the MDN in the response; the client reads the
//!   MDN. One message in flight at a time, so both implementations are measured latency-bound.
//! - In process: the same build, receive, MDN and read, with no HTTP in between.
//!
//! `cargo bench -p edigate-as2 --bench as2_roundtrip`; needs `sh tests/peers/setup.sh`.
//! `AS2_BENCH_SECONDS` (default 3) is the time spent per case and implementation.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
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

fn outgoing(p: &Parties, data: &[u8]) -> as2::OutgoingMessage {
    build(
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
    .expect("build")
}

fn round_trip(p: &Parties, data: &[u8]) {
    let msg = outgoing(p, data);
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

/// The receiving party of the HTTP measurement: "partner", reading what "edigate" sends.
struct ReceiverState {
    own: Identity,
    sender: Certificate,
}

fn fields(headers: &axum::http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Reads the POSTed message and answers with its MDN, the way an AS2 endpoint does for a sync MDN.
async fn as2_endpoint(
    axum::extract::State(state): axum::extract::State<Arc<ReceiverState>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let r = Receiver {
        own: &state.own,
        partner: &state.sender,
        require_encryption: true,
        require_signature: true,
    };
    let rec = receive(&fields(&headers), &body, &r).expect("receive");
    assert!(rec.outcome.is_ok(), "{:?}", rec.outcome.err());
    let mdn = build_mdn(&rec, &state.own, "partner").expect("mdn");
    let mut resp = mdn.body.into_response();
    for (k, v) in &mdn.headers {
        resp.headers_mut().insert(
            axum::http::HeaderName::try_from(k.as_str()).expect("MDN header name"),
            axum::http::HeaderValue::try_from(v.as_str()).expect("MDN header value"),
        );
    }
    resp
}

/// Serves the AS2 receiver on a free loopback port, on a runtime in a thread of its own; stops
/// when the sender is dropped.
fn spawn_receiver(state: ReceiverState) -> (String, tokio::sync::oneshot::Sender<()>) {
    use axum::serve::ListenerExt;
    let app = axum::Router::new()
        .route("/as2", axum::routing::post(as2_endpoint))
        // 10 MB payloads grow by base64 and CMS overhead past axum's default 2 MB limit.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(Arc::new(state));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            port_tx
                .send(listener.local_addr().expect("addr").port())
                .expect("send port");
            // Small responses must not wait for delayed ACKs; pyas2lib's side sets the same.
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .expect("serve");
        });
    });
    let port = port_rx.recv().expect("receiver port");
    (format!("http://127.0.0.1:{port}/as2"), tx)
}

/// One round over HTTP: build, POST, and read the MDN the receiver answered with.
fn http_round_trip(p: &Parties, client: &reqwest::blocking::Client, url: &str, data: &[u8]) {
    let msg = outgoing(p, data);
    let mut req = client.post(url).body(msg.body.clone());
    for (k, v) in &msg.headers {
        req = req.header(k, v);
    }
    let resp = req.send().expect("POST to the loopback receiver");
    assert!(resp.status().is_success(), "HTTP {}", resp.status());
    let headers = fields(resp.headers());
    let body = resp.bytes().expect("MDN body");
    let report = read_mdn(&headers, &body, &p.partner_cert, &msg, true).expect("read");
    assert_eq!(report.status, MdnStatus::Processed);
}

/// Rounds of `round` per second over at least `secs` and two rounds.
fn rate(secs: f64, mut round: impl FnMut()) -> (u64, f64) {
    round(); // warm-up (and, over HTTP, the connection)
    let start = Instant::now();
    let mut rounds = 0u64;
    while rounds < 2 || start.elapsed() < Duration::from_secs_f64(secs) {
        round();
        rounds += 1;
    }
    (rounds, start.elapsed().as_secs_f64())
}

/// pyas2lib's rounds and seconds for the same case; `mode` is `inprocess` or `http`.
fn pyas2lib(dir: &Path, mode: &str, size: usize, secs: f64) -> (u64, f64) {
    let py = root().join("tests/peers/.venv/bin/python");
    let out = Command::new(&py)
        .arg(root().join("bench/peers/as2_bench.py"))
        .arg(dir)
        .arg(size.to_string())
        .arg(secs.to_string())
        .arg(mode)
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
    let (own, _) = load(dir.path(), "partner");
    let (url, _shutdown) = spawn_receiver(ReceiverState {
        own,
        sender: parties.edigate_cert.clone(),
    });
    // One client, one kept-alive connection, one message in flight at a time.
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(300))
        .tcp_nodelay(true)
        .pool_max_idle_per_host(1)
        .build()
        .expect("HTTP client");
    if quick {
        round_trip(&parties, &payload(1024));
        http_round_trip(&parties, &client, &url, &payload(1024));
        return;
    }
    let header = machine();
    let (mut http_rows, mut local_rows) = (Vec::new(), Vec::new());
    for (label, size) in [("1 KB", 1024usize), ("10 MB", 10 << 20)] {
        let data = payload(size);
        let mb = size as f64 / 1e6;
        let (n, t) = rate(secs, || http_round_trip(&parties, &client, &url, &data));
        let (pn, pt) = pyas2lib(dir.path(), "http", size, secs);
        http_rows.push(row("HTTP", label, mb, (n, t), (pn, pt)));
        let (n, t) = rate(secs, || round_trip(&parties, &data));
        let (pn, pt) = pyas2lib(dir.path(), "inprocess", size, secs);
        local_rows.push(row("in process", label, mb, (n, t), (pn, pt)));
    }
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let table = "| payload | edigate msg/s | edigate MB/s | edigate rounds | pyas2lib msg/s | pyas2lib MB/s | pyas2lib rounds | edigate ÷ pyas2lib |\n\
|---|---:|---:|---|---:|---:|---|---:|";
    let md = format!(
        "# AS2 messages per second\n\n\
Messages signed with SHA-256 and encrypted with AES-256-CBC (RSA 2048 keys), each asking for a \
signed sync MDN. edigate (`crates/as2`, OpenSSL 3) against pyas2lib doing the same work \
(`bench/peers/as2_bench.py`), on the same payload (X12 `PO1` lines, CRLF) and the same keys, in \
the same run, about {secs} s per case each. MB/s counts payload bytes (10^6 bytes per MB).\n\n\
Measured {date} on {header}.\n\n\
## Over loopback HTTP\n\n\
One round: the client builds the message and POSTs it over a kept-alive connection to a receiver \
on 127.0.0.1, which receives it (decrypt, verify, MIC) and answers with the signed MDN in the \
HTTP response; the client reads and checks the MDN. One message in flight at a time, so both \
sides are measured latency-bound the same way. edigate: an axum (tokio) receiver calling \
`as2::receive` and `as2::build_mdn`, a reqwest client calling `as2::build` and `as2::read_mdn`. \
pyas2lib: a `ThreadingHTTPServer` receiver calling `Message.parse`, an `http.client` client \
calling `Message.build` and `Mdn.parse`, in one Python process.\n\n\
{table}\n{}\n\n\
## In process\n\n\
The same round with both parties in one process and no HTTP: build, receive, build the MDN, \
read the MDN.\n\n\
{table}\n{}\n\n\
Reproduce: `cargo bench -p edigate-as2 --bench as2_roundtrip` (`AS2_BENCH_SECONDS=N` per case).\n",
        http_rows.join("\n"),
        local_rows.join("\n")
    );
    let out = root().join("bench/results/as2-latest.md");
    std::fs::write(&out, md).expect("write bench/results/as2-latest.md");
    println!("wrote {}", out.display());
}

/// One table row, printed as it is measured too.
fn row(how: &str, label: &str, mb: f64, (n, t): (u64, f64), (pn, pt): (u64, f64)) -> String {
    let (rate, prate) = (n as f64 / t, pn as f64 / pt);
    println!(
        "{how}, {label}: edigate {rate:.2} msg/s ({n} rounds), pyas2lib {prate:.2} msg/s ({pn} rounds), ratio {:.1}",
        rate / prate
    );
    format!(
        "| {label} | {rate:.2} | {:.2} | {n} in {t:.1} s | {prate:.2} | {:.2} | {pn} in {pt:.1} s | **{:.1}** |",
        rate * mb,
        prate * mb,
        rate / prate
    )
}
