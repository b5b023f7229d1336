//! The webhook sink against a real HTTP/1.1 server on loopback, built from configuration text
//! the way `Gateway::open` builds it: what goes over the wire, how it is signed, and how each
//! kind of answer counts (delivered, worth retrying, or refused for good).

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gateway::config::Config;
use gateway::sinks::{DeliveryError, Sink};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Key order, escapes and non-ASCII text as a serialiser might leave them: the body must be
/// these bytes, not a re-serialisation.
const EVENT: &[u8] = br#"{"id":"evt-5f0c2a","partner":"acme-retail","type":"order.received","data":{"po":"4500012345","note":"caf\u00e9 \u2014 10% off","qty":12.50}}"#;

/// The secret's variable. Tests cannot set one (`set_var` is unsafe in edition 2024 and the
/// workspace forbids unsafe code), so they use one cargo sets for every test process and read
/// its value to know the secret.
const SECRET_ENV: &str = "CARGO_MANIFEST_DIR";

fn secret() -> String {
    std::env::var(SECRET_ENV).expect("cargo sets CARGO_MANIFEST_DIR for tests")
}

/// One request as the server read it.
#[derive(Debug)]
struct Seen {
    request_line: String,
    /// Lower-case names; every value, in order.
    headers: BTreeMap<String, Vec<String>>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .and_then(|v| v.first())
            .map(String::as_str)
    }
}

/// Serves one connection per status, in order: reads one request, answers with that status
/// and `body`, closes. Returns the URL to post to and the requests seen.
fn serve(statuses: Vec<(u16, &'static str)>) -> (String, mpsc::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://{}/hooks/edi",
        listener.local_addr().expect("address")
    );
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for (status, body) in statuses {
            let (mut stream, _) = listener.accept().expect("accept");
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .expect("read timeout");
            let seen = read_request(&mut BufReader::new(&stream)).expect("request");
            // The assertions run in the test thread; a test that stopped listening is done.
            let _ = tx.send(seen);
            let answer = format!(
                "HTTP/1.1 {status} Whatever\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(answer.as_bytes()).expect("answer");
        }
    });
    (url, rx)
}

fn read_request(reader: &mut impl BufRead) -> io::Result<Seen> {
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| io::Error::other(format!("bad header line {line:?}")))?;
        headers
            .entry(name.trim().to_ascii_lowercase())
            .or_default()
            .push(value.trim().to_string());
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.first())
        .ok_or_else(|| io::Error::other("no Content-Length"))?
        .parse()
        .map_err(io::Error::other)?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Seen {
        request_line: request_line.trim_end().to_string(),
        headers,
        body,
    })
}

/// The sink of a configuration holding one `[[sinks]]` table (`extra` goes inside it).
fn webhook(url: &str, extra: &str) -> io::Result<Sink> {
    let text = format!("[[sinks]]\ntype = \"webhook\"\nname = \"erp\"\nurl = {url:?}\n{extra}\n");
    let config = Config::from_toml(Path::new("test.toml"), &text).expect("valid configuration");
    let sinks = config.sinks();
    let [sink_config] = sinks.as_slice() else {
        panic!("one sink expected: {sinks:?}");
    };
    Sink::from_config(sink_config)
}

fn signed(url: &str) -> Sink {
    webhook(
        url,
        &format!("secret_env = {SECRET_ENV:?}\nheaders = {{ Authorization = \"Bearer tok-123\" }}"),
    )
    .expect("sink")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// Recomputes the signature as a receiver would, comparing in constant time.
fn signature_verifies(secret: &[u8], seen: &Seen) -> bool {
    let (Some(timestamp), Some(signature)) = (
        seen.header("Edigate-Timestamp"),
        seen.header("Edigate-Signature"),
    ) else {
        return false;
    };
    let Some(hex) = signature.strip_prefix("sha256=") else {
        return false;
    };
    let Some(code) = decode_hex(hex) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(&seen.body);
    mac.verify_slice(&code).is_ok()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

fn next(rx: &mpsc::Receiver<Seen>) -> Seen {
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the server saw a request")
}

#[test]
fn an_event_is_posted_byte_for_byte_with_its_headers_and_a_signature() {
    let (url, rx) = serve(vec![(200, "ok")]);
    let sink = signed(&url);
    let before = unix_now();
    sink.deliver_with_id(outbox::DeliveryId::new(42), EVENT)
        .expect("delivered");
    let after = unix_now();
    let seen = next(&rx);

    assert_eq!(seen.request_line, "POST /hooks/edi HTTP/1.1");
    assert_eq!(seen.body, EVENT);
    assert_eq!(seen.header("Content-Type"), Some("application/json"));
    assert_eq!(seen.header("Edigate-Event-Id"), Some("evt-5f0c2a"));
    assert_eq!(seen.header("Edigate-Delivery"), Some("d-000000000042"));
    assert_eq!(seen.header("Authorization"), Some("Bearer tok-123"));
    let timestamp: u64 = seen
        .header("Edigate-Timestamp")
        .expect("timestamp")
        .parse()
        .expect("unix seconds");
    assert!((before..=after).contains(&timestamp), "{timestamp}");
    let signature = seen.header("Edigate-Signature").expect("signature");
    assert!(signature.starts_with("sha256="), "{signature}");
    assert_eq!(signature.len(), "sha256=".len() + 64, "{signature}");
    // One value of each: extra headers add to the sink's, never duplicate them.
    for name in ["content-type", "edigate-event-id", "edigate-signature"] {
        assert_eq!(seen.headers[name].len(), 1, "{name}");
    }

    assert!(signature_verifies(secret().as_bytes(), &seen));
    assert!(!signature_verifies(b"another secret", &seen));
    let mut tampered_body = Seen {
        request_line: String::new(),
        headers: seen.headers.clone(),
        body: seen.body.clone(),
    };
    tampered_body.body.extend_from_slice(b" ");
    assert!(!signature_verifies(secret().as_bytes(), &tampered_body));
    let mut tampered_time = tampered_body;
    tampered_time.body = seen.body.clone();
    tampered_time.headers.insert(
        "edigate-timestamp".into(),
        vec![(timestamp + 1).to_string()],
    );
    assert!(!signature_verifies(secret().as_bytes(), &tampered_time));
}

#[test]
fn without_a_secret_nothing_is_signed_and_without_a_delivery_id_none_is_sent() {
    let (url, rx) = serve(vec![(204, "")]);
    let sink = webhook(&url, "").expect("sink");
    sink.deliver(EVENT).expect("delivered");
    let seen = next(&rx);
    assert_eq!(seen.body, EVENT);
    assert_eq!(seen.header("Edigate-Event-Id"), Some("evt-5f0c2a"));
    assert!(seen.header("Edigate-Timestamp").is_some());
    assert_eq!(seen.header("Edigate-Signature"), None);
    assert_eq!(seen.header("Edigate-Delivery"), None);
}

#[test]
fn answers_are_delivered_retryable_or_permanent_by_status() {
    let cases: Vec<(u16, &'static str)> = vec![
        (201, ""),
        (503, "down for maintenance"),
        (500, ""),
        (429, "slow down"),
        (408, ""),
        (302, ""),
        (400, "invalid signature"),
        (404, "no such hook"),
        (422, ""),
    ];
    let (url, rx) = serve(cases.clone());
    let sink = signed(&url);
    for (status, body) in cases {
        let result = sink.deliver(EVENT);
        let _ = next(&rx);
        match status {
            200..=299 => assert!(result.is_ok(), "{status}: {result:?}"),
            400..=499 if status != 408 && status != 429 => {
                let e = result.expect_err("refused");
                assert!(e.is_permanent(), "{status}: {e}");
                assert!(
                    matches!(e, DeliveryError::Rejected { status: s, .. } if s == status),
                    "{e:?}"
                );
                let message = e.to_string();
                assert!(message.contains(&status.to_string()), "{message}");
                assert!(message.contains(body), "{message}");
            }
            _ => {
                let e = result.expect_err("failed");
                assert!(!e.is_permanent(), "{status}: {e}");
                assert!(
                    matches!(e, DeliveryError::Unavailable { .. }),
                    "{status}: {e:?}"
                );
                assert!(e.to_string().contains(&status.to_string()), "{e}");
            }
        }
    }
}

#[test]
fn a_receiver_that_never_answers_times_out_as_retryable() {
    // Connections complete in the kernel's backlog; nothing ever reads or answers them.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("address"));
    let sink = webhook(&url, "timeout_ms = 300").expect("sink");
    let started = Instant::now();
    let e = sink.deliver(EVENT).expect_err("timed out");
    let took = started.elapsed();
    assert!(!e.is_permanent(), "{e}");
    assert!(e.to_string().contains("no answer within 300 ms"), "{e}");
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(5),
        "{took:?}"
    );
    drop(listener);
}

#[test]
fn a_refused_connection_is_retryable_and_its_error_shows_no_credentials() {
    // A port that was just free: bound, then released.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port();
    let url = format!("http://hook-user:hook-pass@127.0.0.1:{port}/in?token=query-secret");
    let sink = signed(&url);
    let e = sink.deliver(EVENT).expect_err("refused");
    assert!(!e.is_permanent(), "{e}");
    assert!(matches!(e, DeliveryError::Unavailable { .. }), "{e:?}");
    let message = e.to_string();
    assert!(
        message.contains(&format!("POST to http://127.0.0.1:{port}/in")),
        "{message}"
    );
    assert!(message.to_lowercase().contains("refused"), "{message}");
    for hidden in ["hook-user", "hook-pass", "query-secret", &secret()] {
        assert!(!message.contains(hidden), "{hidden} in {message}");
    }
}

#[test]
fn a_payload_without_an_id_is_refused_for_good_without_a_request() {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port();
    let sink = signed(&format!("http://127.0.0.1:{port}/"));
    for payload in [&br#"{"type":"x"}"#[..], b"not json", br#"{"id":"a\nb"}"#] {
        let e = sink.deliver(payload).expect_err("unsendable");
        assert!(e.is_permanent(), "{e}");
        assert!(matches!(e, DeliveryError::Unsendable(_)), "{e:?}");
    }
}

#[test]
fn debug_output_shows_neither_the_secret_nor_header_values() {
    let sink = signed("https://user:pw@erp.example/hook?k=v");
    let shown = format!("{sink:?}");
    assert!(shown.contains("erp"), "{shown}");
    for hidden in [secret().as_str(), "tok-123", "pw", "k=v"] {
        assert!(!shown.contains(hidden), "{hidden} in {shown}");
    }
}

#[test]
fn bad_configurations_are_refused_when_the_gateway_opens_naming_the_sink() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let unset = "EDIGATE_TEST_WEBHOOK_SECRET_THAT_IS_NOT_SET";
    assert!(std::env::var_os(unset).is_none(), "{unset} is set here");
    let cases = [
        ("url = \"erp.example/hook\"", "url is not a valid URL"),
        ("url = \"ftp://erp.example/\"", "url must be http or https"),
        (
            &format!("url = \"https://erp.example/\"\nsecret_env = {unset:?}") as &str,
            unset,
        ),
        (
            "url = \"https://erp.example/\"\nheaders = { \"Content-Type\" = \"text/plain\" }",
            "the sink sets this header itself",
        ),
        (
            "url = \"https://erp.example/\"\nheaders = { \"Edigate-Event-Id\" = \"x\" }",
            "the sink sets this header itself",
        ),
        (
            "url = \"https://erp.example/\"\nheaders = { \"Bad Name\" = \"x\" }",
            "not a valid header name",
        ),
        (
            "url = \"https://erp.example/\"\ntimeout_ms = 0",
            "timeout_ms must be at least 1",
        ),
    ];
    for (sink, reason) in cases {
        let data = tempfile::tempdir().expect("tempdir");
        let text = format!(
            "data_dir = {:?}\npartners_dir = {:?}\nspecs_dir = {:?}\n\n[[sinks]]\ntype = \"webhook\"\nname = \"erp\"\n{sink}\n",
            data.path(),
            root.join("deploy/examples/partners"),
            root.join("specs"),
        );
        let config = Config::from_toml(Path::new("test.toml"), &text).expect("valid TOML");
        let Err(e) = gateway::Gateway::open(config) else {
            panic!("opened with {sink}");
        };
        let message = e.to_string();
        assert!(message.contains("sink erp"), "{message}");
        assert!(message.contains(reason), "{sink}: {message}");
    }
}

#[test]
fn a_sink_can_be_opened_used_and_dropped_inside_a_tokio_runtime() {
    // As the daemon does: delivery on a blocking thread, the gateway dropped at the end of an
    // async function. reqwest's blocking client panics (debug builds) or stalls if built or
    // dropped on an async thread.
    let (url, rx) = serve(vec![(200, "")]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let sink = std::sync::Arc::new(signed(&url));
        let worker = std::sync::Arc::clone(&sink);
        tokio::task::spawn_blocking(move || worker.deliver(EVENT))
            .await
            .expect("joined")
            .expect("delivered");
        drop(sink);
    });
    assert_eq!(next(&rx).body, EVENT);
}
