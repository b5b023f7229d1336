//! Against pyas2lib, a real AS2 implementation, over HTTP on loopback: the crate sends to
//! pyas2lib's receiver and checks its MDN; pyas2lib sends to a small axum server that reads with
//! the crate and answers with the crate's MDN, which pyas2lib verifies.
//!
//! Needs `sh tests/peers/setup.sh` (pyas2lib in tests/peers/.venv); fails when it is missing.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use as2::{
    Encryption, MdnRequest, MdnStatus, Outgoing, Receiver, build, build_mdn, read_mdn, receive,
};
use common::{certificate, identity, make_certs, repo_root};

const X12_LF: &[u8] = b"ISA*00*          *00*          *ZZ*PARTNER        *ZZ*EDIGATE        *240101*1200*U*00401*000000001*0*P*>~\nGS*PO*PARTNER*EDIGATE*20240101*1200*1*X*004010~\nST*850*0001~\nBEG*00*SA*PO1**20240101~\nSE*3*0001~\nGE*1*1~\nIEA*1*000000001~\n";

fn python() -> PathBuf {
    let py = repo_root().join("tests/peers/.venv/bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import pyas2lib.as2"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "pyas2lib is not installed in tests/peers/.venv: run `sh tests/peers/setup.sh`"
    );
    py
}

fn peer_script() -> PathBuf {
    repo_root().join("tests/peers/as2_peer.py")
}

/// pyas2lib's receiver, killed when dropped.
struct Serve {
    child: Child,
    url: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path) -> Serve {
    let mut child = Command::new(python())
        .arg(peer_script())
        .arg("serve")
        .arg(dir)
        .stdout(Stdio::piped())
        // pyas2lib logs a traceback for every message it refuses; kept for failure messages.
        .stderr(std::fs::File::create(dir.join("serve.stderr")).expect("serve.stderr"))
        .spawn()
        .expect("start as2_peer.py serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read port");
    let port = line
        .trim()
        .strip_prefix("port ")
        .unwrap_or_else(|| panic!("serve said {line:?}"))
        .to_string();
    Serve {
        child,
        url: format!("http://127.0.0.1:{port}/as2"),
    }
}

/// Sends `payload` with the crate to pyas2lib; returns the MDN's report and what pyas2lib saved.
fn send_to_pyas2lib(
    dir: &Path,
    content_type: &str,
    (signer, encrypt_to): (&str, &str),
    payload: &[u8],
    async_mdn: Option<&MdnSink>,
) -> (as2::MdnReport, Option<Vec<u8>>, String) {
    let srv = serve(dir);
    let own = identity(dir, signer);
    let partner = certificate(dir, "partner");
    let recipient = certificate(dir, encrypt_to);
    let msg = build(
        payload,
        &Outgoing {
            from: "edigate",
            to: "partner",
            content_type,
            filename: Some("po.x12"),
            subject: Some("EDI"),
            sign: Some(&own),
            encrypt: Some((&recipient, Encryption::Aes256Cbc)),
            mdn: match async_mdn {
                None => MdnRequest::Sync {
                    to: "edi@example.invalid".into(),
                    signed: true,
                },
                Some(sink) => MdnRequest::Async {
                    to: "edi@example.invalid".into(),
                    signed: true,
                    url: sink.url.clone(),
                },
            },
        },
    )
    .expect("build");
    let client = reqwest::blocking::Client::new();
    let mut req = client.post(&srv.url).body(msg.body.clone());
    for (k, v) in &msg.headers {
        req = req.header(k, v);
    }
    let resp = req.send().expect("POST to pyas2lib");
    assert!(resp.status().is_success(), "HTTP {}", resp.status());
    let headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut body = resp.bytes().expect("MDN body").to_vec();
    let mut headers = headers;
    if let Some(sink) = async_mdn {
        assert!(
            body.is_empty(),
            "no MDN in the response when an async one was asked for"
        );
        (headers, body) = sink
            .mdns
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("an asynchronous MDN within 30 s");
        // An async MDN arrives on its own: the Original-Message-ID says which message it answers.
        assert_eq!(
            as2::mdn_original_message_id(&headers, &body).expect("original id"),
            msg.message_id
        );
    }
    let report = read_mdn(&headers, &body, &partner, &msg, true).expect("read MDN");
    let saved = std::fs::read(dir.join("inbox").join(&msg.message_id)).ok();
    let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default()
        + &std::fs::read_to_string(dir.join("serve.stderr")).unwrap_or_default();
    (report, saved, log)
}

#[test]
fn crate_to_pyas2lib_signed_encrypted_x12_and_octet_stream() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_certs(dir.path(), &["edigate", "partner"]);
    for ct in ["application/edi-x12", "application/octet-stream"] {
        let (report, saved, log) =
            send_to_pyas2lib(dir.path(), ct, ("edigate", "partner"), X12_LF, None);
        assert_eq!(
            report.status,
            MdnStatus::Processed,
            "{ct}: {report:?}\n{log}"
        );
        assert!(report.signed, "pyas2lib's MDN is signed");
        assert!(report.returned_mic.is_some());
        assert_eq!(
            saved.as_deref(),
            Some(X12_LF),
            "{ct}: pyas2lib got the payload byte for byte"
        );
    }
}

#[test]
fn crate_to_pyas2lib_wrong_certificate_is_a_decryption_failure_in_the_mdn() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_certs(dir.path(), &["edigate", "partner", "stranger"]);
    let (report, saved, log) = send_to_pyas2lib(
        dir.path(),
        "application/edi-x12",
        ("edigate", "stranger"),
        X12_LF,
        None,
    );
    assert_eq!(
        report.status,
        MdnStatus::Failed("processed/error: decryption-failed".into()),
        "{report:?}\n{log}"
    );
    assert!(saved.is_none());
}

#[test]
fn crate_to_pyas2lib_wrong_signer_is_refused_in_the_mdn() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_certs(dir.path(), &["edigate", "partner", "stranger"]);
    let (report, saved, log) = send_to_pyas2lib(
        dir.path(),
        "application/edi-x12",
        ("stranger", "partner"),
        X12_LF,
        None,
    );
    assert_eq!(
        report.status,
        MdnStatus::Failed("processed/error: authentication-failed".into()),
        "{report:?}\n{log}"
    );
    assert!(saved.is_none());
}

/// Serves `app` on a free loopback port in a thread of its own; stops when the sender is dropped.
fn spawn_axum(app: axum::Router) -> (u16, tokio::sync::oneshot::Sender<()>) {
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
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .expect("serve");
        });
    });
    (port_rx.recv().expect("server port"), tx)
}

type HttpMessage = (Vec<(String, String)>, Vec<u8>);

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

/// Where pyas2lib POSTs asynchronous MDNs.
struct MdnSink {
    url: String,
    mdns: std::sync::mpsc::Receiver<HttpMessage>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

fn mdn_sink() -> MdnSink {
    let (tx, rx) = std::sync::mpsc::channel::<HttpMessage>();
    let tx = Arc::new(Mutex::new(tx));
    let app = axum::Router::new().route(
        "/mdn",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| async move {
                let _ = tx
                    .lock()
                    .expect("lock")
                    .send((fields(&headers), body.to_vec()));
                axum::http::StatusCode::OK
            },
        ),
    );
    let (port, shutdown) = spawn_axum(app);
    MdnSink {
        url: format!("http://127.0.0.1:{port}/mdn"),
        mdns: rx,
        _shutdown: shutdown,
    }
}

#[test]
fn crate_to_pyas2lib_with_an_asynchronous_mdn() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_certs(dir.path(), &["edigate", "partner"]);
    let sink = mdn_sink();
    let (report, saved, log) = send_to_pyas2lib(
        dir.path(),
        "application/edi-x12",
        ("edigate", "partner"),
        X12_LF,
        Some(&sink),
    );
    assert_eq!(report.status, MdnStatus::Processed, "{report:?}\n{log}");
    assert!(report.signed);
    assert_eq!(saved.as_deref(), Some(X12_LF));
}

// --- pyas2lib sends to the crate ---------------------------------------------------------------

struct Server {
    url: String,
    received: Arc<Mutex<Vec<as2::Reception>>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

struct State {
    own: as2::Identity,
    partner: as2::Certificate,
    received: Arc<Mutex<Vec<as2::Reception>>>,
}

async fn as2_endpoint(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let fields: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let r = Receiver {
        own: &state.own,
        partner: &state.partner,
        require_encryption: false,
        require_signature: true,
    };
    let rec = match receive(&fields, &body, &r) {
        Ok(rec) => rec,
        Err(e) => return (axum::http::StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let mdn = build_mdn(&rec, &state.own, "edigate").expect("build MDN");
    let async_url = rec.mdn.as_ref().and_then(|m| m.async_url.clone());
    state.received.lock().expect("lock").push(rec);
    if let Some(url) = async_url {
        // An asynchronous MDN: acknowledge the POST, then deliver the MDN on a connection of its own.
        std::thread::spawn(move || {
            let client = reqwest::blocking::Client::new();
            let mut req = client.post(&url).body(mdn.body);
            for (k, v) in &mdn.headers {
                req = req.header(k, v);
            }
            let resp = req.send().expect("POST the async MDN");
            assert!(
                resp.status().is_success(),
                "async MDN: HTTP {}",
                resp.status()
            );
        });
        return axum::http::StatusCode::OK.into_response();
    }
    let mut resp = axum::http::Response::builder().status(200);
    for (k, v) in &mdn.headers {
        resp = resp.header(k.as_str(), v.as_str());
    }
    resp.body(axum::body::Body::from(mdn.body))
        .expect("response")
        .into_response()
}

fn crate_server(dir: &Path) -> Server {
    let received = Arc::new(Mutex::new(Vec::new()));
    let state = Arc::new(State {
        own: identity(dir, "edigate"),
        partner: certificate(dir, "partner"),
        received: received.clone(),
    });
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let app = axum::Router::new()
                .route("/as2", axum::routing::post(as2_endpoint))
                // AS2 payloads are often larger than axum's 2 MB default.
                .layer(axum::extract::DefaultBodyLimit::max(64 << 20))
                .with_state(state);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            port_tx
                .send(listener.local_addr().expect("addr").port())
                .expect("send port");
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .expect("serve");
        });
    });
    let port = port_rx.recv().expect("server port");
    Server {
        url: format!("http://127.0.0.1:{port}/as2"),
        received,
        _shutdown: tx,
    }
}

/// pyas2lib's `send` of `payload` to our server, with `env`; returns its JSON verdict line.
fn pyas2lib_sends(dir: &Path, url: &str, payload: &[u8], env: &[(&str, String)]) -> String {
    let file = dir.join("po.x12");
    std::fs::write(&file, payload).expect("write payload");
    let out = Command::new(python())
        .arg(peer_script())
        .arg("send")
        .arg(dir)
        .arg(url)
        .arg(&file)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("run as2_peer.py send");
    assert!(
        out.status.success(),
        "as2_peer.py send: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn json_field<'a>(json: &'a str, name: &str) -> Option<&'a str> {
    // The verdict line is flat JSON with string or null values; enough to read one field.
    let key = format!("\"{name}\": ");
    let rest = &json[json.find(&key)? + key.len()..];
    let rest = rest.strip_prefix('"')?;
    Some(&rest[..rest.find('"')?])
}

#[test]
fn pyas2lib_to_crate_signed_encrypted_x12_and_octet_stream() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_certs(dir.path(), &["edigate", "partner"]);
    let srv = crate_server(dir.path());
    for ct in ["application/edi-x12", "application/octet-stream"] {
        let verdict = pyas2lib_sends(
            dir.path(),
            &srv.url,
            X12_LF,
            &[("AS2_CONTENT_TYPE", ct.to_string())],
        );
        assert_eq!(
            json_field(&verdict, "status"),
            Some("processed"),
            "{ct}: {verdict}"
        );
        let rec = srv
            .received
            .lock()
            .expect("lock")
            .pop()
            .expect("a reception");
        assert!(rec.signed && rec.encrypted, "{rec:?}");
        let payload = rec.outcome.expect("accepted");
        assert_eq!(payload.content_type, ct);
        // pyas2lib sends anything but octet-stream as MIME text: LF arrives as CRLF.
        let expected: Vec<u8> = if ct == "application/octet-stream" {
            X12_LF.to_vec()
        } else {
            String::from_utf8_lossy(X12_LF)
                .replace('\n', "\r\n")
                .into_bytes()
        };
        assert_eq!(payload.data, expected, "{ct}");
        assert_eq!(
            rec.mic.map(|m| m.digest),
            json_field(&verdict, "mic").map(str::to_string),
            "{ct}: same MIC"
        );
    }
}

#[test]
fn pyas2lib_to_crate_compressed_signed_encrypted() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_certs(dir.path(), &["edigate", "partner"]);
    let srv = crate_server(dir.path());
    for ct in ["application/edi-x12", "application/octet-stream"] {
        let verdict = pyas2lib_sends(
            dir.path(),
            &srv.url,
            X12_LF,
            &[
                ("AS2_COMPRESS", "1".into()),
                ("AS2_CONTENT_TYPE", ct.into()),
            ],
        );
        assert_eq!(
            json_field(&verdict, "status"),
            Some("processed"),
            "{ct}: {verdict}"
        );
        let rec = srv
            .received
            .lock()
            .expect("lock")
            .pop()
            .expect("a reception");
        assert!(rec.signed && rec.encrypted && rec.compressed, "{rec:?}");
        let data = rec.outcome.expect("accepted").data;
        assert_eq!(
            String::from_utf8_lossy(&data)
                .replace("\r\n", "\n")
                .as_bytes(),
            X12_LF,
            "{ct}"
        );
        assert_eq!(
            rec.mic.map(|m| m.digest),
            json_field(&verdict, "mic").map(str::to_string),
            "{ct}"
        );
    }
}

#[test]
fn pyas2lib_to_crate_with_an_asynchronous_mdn() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_certs(dir.path(), &["edigate", "partner"]);
    let srv = crate_server(dir.path());
    let verdict = pyas2lib_sends(dir.path(), &srv.url, X12_LF, &[("AS2_ASYNC", "1".into())]);
    assert_eq!(
        json_field(&verdict, "status"),
        Some("processed"),
        "{verdict}"
    );
    let rec = srv
        .received
        .lock()
        .expect("lock")
        .pop()
        .expect("a reception");
    assert!(
        rec.mdn
            .as_ref()
            .is_some_and(|m| m.signed && m.async_url.is_some()),
        "{rec:?}"
    );
}

fn assert_refused(verdict: &str, code: &str) {
    assert_eq!(
        json_field(verdict, "status"),
        Some("processed/error"),
        "{verdict}"
    );
    assert_eq!(json_field(verdict, "detail"), Some(code), "{verdict}");
}

#[test]
fn pyas2lib_to_crate_tampered_payload_is_an_integrity_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_certs(dir.path(), &["edigate", "partner"]);
    let srv = crate_server(dir.path());
    let verdict = pyas2lib_sends(
        dir.path(),
        &srv.url,
        X12_LF,
        &[
            ("AS2_ENCRYPT", "0".into()),
            ("AS2_TAMPER", "BEG*00*SA*PO1:BEG*00*SA*PO2".into()),
        ],
    );
    assert_refused(&verdict, "integrity-check-failed");
}

#[test]
fn pyas2lib_to_crate_wrong_certificates_fail_decryption_and_authentication() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_certs(dir.path(), &["edigate", "partner", "stranger"]);
    let srv = crate_server(dir.path());
    let stranger_cert = dir.path().join("stranger.cert.pem").display().to_string();
    let verdict = pyas2lib_sends(
        dir.path(),
        &srv.url,
        X12_LF,
        &[("AS2_ENCRYPT_TO", stranger_cert)],
    );
    assert_refused(&verdict, "decryption-failed");
    let stranger_key = dir.path().join("stranger.pem").display().to_string();
    let verdict = pyas2lib_sends(
        dir.path(),
        &srv.url,
        X12_LF,
        &[("AS2_SIGN_WITH", stranger_key)],
    );
    assert_refused(&verdict, "authentication-failed");
}
