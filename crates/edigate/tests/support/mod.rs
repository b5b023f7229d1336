//! Running `edigate serve` in a test: a data directory of its own, the example partners, inboxes
//! to drop files into, and what it wrote, read back after it stops.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::Read;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub mod as2;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// An example inbound file's bytes.
pub fn example(name: &str) -> Vec<u8> {
    fs::read(root().join("deploy/examples/inbound").join(name)).unwrap()
}

/// Polls `done` until it holds, failing the test after 30 seconds.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A test's data directory, with the daemon's configuration in it.
pub struct Data {
    /// The data directory.
    pub dir: PathBuf,
    /// The configuration file.
    pub config: PathBuf,
}

impl Data {
    /// A fresh data directory for `name` and a configuration with `extra` appended.
    pub fn new(name: &str, extra: &str) -> Data {
        let dir =
            std::env::temp_dir().join(format!("edigate-daemon-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let config = dir.join("edigate.toml");
        let root = root();
        let mut text = format!(
            "data_dir = {:?}\nspecs_dir = {:?}\n",
            dir.join("data"),
            root.join("specs"),
        );
        // A test may bring its own partner files.
        if !extra.contains("partners_dir") {
            text.push_str(&format!(
                "partners_dir = {:?}\n",
                root.join("deploy/examples/partners")
            ));
        }
        // The test's own settings first: top-level keys in them must come before any table.
        text.push_str(extra);
        text.push('\n');
        if !extra.contains("[limits]") {
            text.push_str("[limits]\npoll_interval_ms = 20\n");
        }
        // Tests run side by side: each daemon's admin API on a port of its own.
        if !extra.contains("[admin]") {
            text.push_str("[admin]\nlisten = \"127.0.0.1:0\"\n");
        }
        fs::write(&config, text).unwrap();
        Data {
            dir: dir.join("data"),
            config,
        }
    }

    /// Every event line written so far.
    pub fn events(&self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        if let Ok(entries) = fs::read_dir(self.dir.join("events")) {
            for e in entries.flatten() {
                let text = fs::read_to_string(e.path()).unwrap_or_default();
                // A line being written may be incomplete; only whole lines count.
                for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
                    out.push(serde_json::from_str(line.trim_end()).expect("an event per line"));
                }
            }
        }
        out
    }

    /// Every outbound document: (partner directory, file name, content).
    pub fn outbound_files(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        if let Ok(partners) = fs::read_dir(self.dir.join("outbound")) {
            for p in partners.flatten() {
                let partner = p.file_name().to_string_lossy().into_owned();
                for f in fs::read_dir(p.path()).unwrap().flatten() {
                    let name = f.file_name().to_string_lossy().into_owned();
                    if name.starts_with('.') {
                        continue;
                    }
                    out.push((
                        partner.clone(),
                        name,
                        fs::read_to_string(f.path()).unwrap_or_default(),
                    ));
                }
            }
        }
        out.sort();
        out
    }

    /// Whether every inbox is empty.
    pub fn inbox_is_empty(&self) -> bool {
        fs::read_dir(self.dir.join("inbox"))
            .map(|dirs| {
                dirs.flatten().all(|d| {
                    fs::read_dir(d.path())
                        .map(|mut f| f.next().is_none())
                        .unwrap_or(true)
                })
            })
            .unwrap_or(true)
    }

    /// Writes a file into a partner's inbox the way a transfer program should: under a
    /// temporary name, then renamed.
    pub fn drop_file(&self, partner: &str, name: &str, bytes: &[u8]) {
        let inbox = self.dir.join("inbox").join(partner);
        fs::create_dir_all(&inbox).unwrap();
        let tmp = inbox.join(format!("{name}.part"));
        fs::File::create(&tmp).unwrap().write_all(bytes).unwrap();
        fs::rename(&tmp, inbox.join(name)).unwrap();
    }

    /// The daemon's outbox; only while no daemon runs (sled is single-process).
    pub fn outbox(&self) -> outbox::Outbox {
        outbox::Outbox::open(self.dir.join("db")).expect("outbox opens once the daemon stopped")
    }
}

/// A running `edigate serve`.
pub struct Daemon {
    child: Option<Child>,
    data: Data,
    log: PathBuf,
}

impl std::ops::Deref for Daemon {
    type Target = Data;
    fn deref(&self) -> &Data {
        &self.data
    }
}

impl Daemon {
    /// Starts a daemon on a fresh data directory.
    pub fn start(name: &str, extra: &str) -> Daemon {
        Daemon::start_on(Data::new(name, extra))
    }

    /// Starts a daemon on an existing data directory.
    pub fn start_on(data: Data) -> Daemon {
        Daemon::start_with_env(data, &[])
    }

    /// Starts a daemon on an existing data directory with extra environment variables.
    pub fn start_with_env(data: Data, env: &[(&str, &str)]) -> Daemon {
        let log = data.dir.with_extension("log");
        let runs = |log: &Path| {
            fs::read_to_string(log).map_or(0, |l| l.matches("edigate is running").count())
        };
        let before = runs(&log);
        let child = Command::new(env!("CARGO_BIN_EXE_edigate"))
            .args(["serve", "--config"])
            .arg(&data.config)
            .env("EDIGATE_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(
                fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .unwrap(),
            )
            .spawn()
            .expect("edigate serve starts");
        let mut daemon = Daemon {
            child: Some(child),
            data,
            log,
        };
        // A daemon that stopped at start (a port taken, a configuration refused) says why in
        // its log: shown at once rather than after a timeout. A loaded machine running many
        // daemons side by side may take a while to start one.
        let start = Instant::now();
        while runs(&daemon.log) <= before {
            if let Some(status) = daemon
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                daemon.child = None;
                panic!("the daemon exited at start ({status}):\n{}", daemon.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(90),
                "timed out waiting for the daemon to start:\n{}",
                daemon.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then waits for a clean exit (status 0) and hands the data directory back.
    pub fn stop(mut self) -> Data {
        let mut child = self.child.take().expect("running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let start = Instant::now();
        let exit = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no clean stop within 30 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(exit.success(), "exit {exit:?}:\n{}", self.log());
        self.take_data()
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(mut self) -> Data {
        let mut child = self.child.take().expect("running");
        child.kill().unwrap();
        child.wait().unwrap();
        self.take_data()
    }

    fn take_data(&mut self) -> Data {
        Data {
            dir: self.data.dir.clone(),
            config: self.data.config.clone(),
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Daemon {
    /// The admin API's base URL, from the address the daemon logs once it listens (a config
    /// with `[admin] listen = "127.0.0.1:0"` gets a free port).
    pub fn admin_url(&self) -> String {
        let mut url = None;
        wait_until("the admin API to listen", || {
            url = strip_ansi(&self.log())
                .lines()
                .rfind(|l| l.contains("admin API listening"))
                .and_then(|l| l.split_whitespace().find_map(|w| w.strip_prefix("addr=")))
                .map(|addr| format!("http://{addr}"));
            url.is_some()
        });
        url.unwrap()
    }
}

/// The text without terminal colour codes (the human log format has them).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters, ended by a letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A webhook receiver on loopback that answers 503 until `accept` is set, then 200.
pub fn webhook_receiver() -> (String, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    let accept = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&accept);
    std::thread::spawn(move || {
        // Bounded: the test sends a handful of events.
        for stream in listener.incoming().take(200) {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then as much body as Content-Length says.
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request);
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        break;
                    }
                }
            }
            let status = if flag.load(Ordering::SeqCst) {
                "200 OK"
            } else {
                "503 Service Unavailable"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (url, accept)
}

/// Runs `edigate ARGS --admin ADMIN --token TOKEN` (the caller's own `EDIGATE_ADMIN` and
/// `EDIGATE_TOKEN` out of the way), checks that it succeeded, and returns what it printed.
pub fn admin_cli(admin: &str, token: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_edigate"))
        .args(args)
        .args(["--admin", admin, "--token", token])
        .env_remove("EDIGATE_ADMIN")
        .env_remove("EDIGATE_TOKEN")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "edigate {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// One HTTP/1.1 request to the admin API at `admin`, written by hand (`token` as the bearer,
/// if any): the whole response, head and body.
pub fn admin_request(admin: &str, method: &str, path: &str, token: Option<&str>) -> String {
    let addr = admin.strip_prefix("http://").unwrap();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// `GET /metrics` on the daemon's admin API with `token`: the whole HTTP response.
pub fn metrics(daemon: &Daemon, token: &str) -> String {
    admin_request(&daemon.admin_url(), "GET", "/metrics", Some(token))
}

/// A loopback port free a moment ago, for a listener a test configures.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A CA and a server certificate for 127.0.0.1 signed by it, made with the openssl command in
/// `dir`: (CA certificate, server certificate, server key).
pub fn test_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs (sh tests/peers/setup.sh installs it)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=edigate test CA",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    );
    fs::write(
        dir.join("server.ext"),
        "subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

/// Every delivery (up to a thousand) the outbox holds for `destination` (`partner:ID`,
/// `as2-mdn:ID`, `sink:NAME`).
pub fn deliveries_to(outbox: &outbox::Outbox, destination: &str) -> Vec<outbox::Delivery> {
    outbox
        .list_deliveries(
            &outbox::DeliveryFilter {
                destination: Some(destination.into()),
                ..Default::default()
            },
            1000,
        )
        .unwrap()
}
