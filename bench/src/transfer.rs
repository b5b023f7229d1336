//! `edigate-bench sftp`: how fast edigate's SFTP client (`crates/sftp`) moves one large file each
//! way through a real OpenSSH sshd on loopback, next to OpenSSH's own `sftp` client on the same
//! server, file and machine in the same run, so the result is a ratio.
//!
//! Each transfer is timed from before the connection to after the session is closed, for both
//! clients: a connection per transfer, as the gateway's pollers and the `sftp` command make
//! them. On both sides an upload is written to a temporary name, synced (`fsync@openssh.com`:
//! our client does it whenever the server offers it; `put -f` asks the same of `sftp`) and —
//! ours only — renamed into place, a few milliseconds. A download ends with the bytes in memory
//! (ours, as the gateway then spools them) or written to a local file in the page cache
//! (`sftp`'s `get`). Every transfer is checked byte for byte. Runs alternate between the two
//! clients so a disturbance on the shared machine hits both alike; the best and the median run
//! are reported.

use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;
use sftp::{SftpConfig, SftpSession};

use crate::daemon::{Machine, machine};

/// 10⁶ bytes: every MB and MB/s here is decimal.
const MB: f64 = 1e6;

/// The figure the issue asks of our client, each way.
const TARGET_MB_S: f64 = 200.0;

const SSHD: &str = "/usr/sbin/sshd";

/// What `edigate-bench sftp` runs.
pub struct Options {
    /// File size in MB (10⁶ bytes).
    pub size_mb: u64,
    /// Timed transfers per client and direction.
    pub runs: usize,
    /// OpenSSH's `sftp` client.
    pub sftp_client: PathBuf,
    /// Where the server's files and the local copies go [default: the system's temp directory].
    pub scratch: Option<PathBuf>,
    /// Which edigate source was measured.
    pub source: String,
    /// Write <out>.md and <out>.json.
    pub out: PathBuf,
}

/// One client's transfers in one direction.
#[derive(Debug, Serialize)]
pub struct Series {
    /// `edigate` or `OpenSSH sftp`.
    pub client: String,
    /// `upload` or `download`.
    pub direction: String,
    /// Each run's MB/s, in the order run.
    pub mb_s: Vec<f64>,
    /// The fastest run.
    pub best: f64,
    /// The median run.
    pub median: f64,
}

/// The whole report, as written to <out>.json.
#[derive(Debug, Serialize)]
pub struct Report {
    /// UTC date of the run.
    pub date: String,
    /// The machine.
    pub machine: Machine,
    /// edigate's source revision.
    pub source: String,
    /// The server's version line.
    pub server: String,
    /// The peer's version line.
    pub peer: String,
    /// The cipher each client negotiated, from the server's log.
    pub ciphers: Vec<String>,
    /// Bytes per transfer.
    pub bytes: u64,
    /// Each client and direction.
    pub series: Vec<Series>,
}

/// Runs the benchmark and writes the report.
pub fn run(o: &Options) -> Result<()> {
    let load = fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap_or("unknown")
        .to_string();
    let base = o.scratch.clone().unwrap_or_else(std::env::temp_dir);
    let scratch = base.join(format!("edigate-sftp-bench-{}", std::process::id()));
    fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let result = measure(o, &scratch, load);
    let _ = fs::remove_dir_all(&scratch);
    let report = result?;
    let text = render(&report);
    print!("{text}");
    if let Some(dir) = o.out.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(o.out.with_extension("md"), &text)?;
    fs::write(
        o.out.with_extension("json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    Ok(())
}

fn measure(o: &Options, scratch: &Path, load: String) -> Result<Report> {
    let server = Server::start(scratch)?;
    let bytes = noise((o.size_mb as f64 * MB) as usize, 0x5f7a);
    let local = scratch.join("payload.bin");
    fs::write(&local, &bytes)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let config = server.config()?;
    let name = "bench.bin";
    let inbox_copy = server.home.join("inbox").join(name);
    let outbox_copy = server.home.join("outbox").join(name);

    // One untimed round each, so the page cache, the server's first fork and the allocator are
    // warm for both.
    server.peer_put(&o.sftp_client, None, &local, name)?;
    rt.block_on(upload(&config, name, &bytes))?;
    fs::rename(&outbox_copy, &inbox_copy)?;
    rt.block_on(download(&config, name))?;

    // Ours; the peer as it comes; the peer held to the cipher ours negotiates, when that is
    // another one, so the ratio says something about the clients rather than the ciphers.
    let mut clients = vec![Client::Ours, Client::Peer(None)];
    let mut series = Vec::new();
    for direction in ["upload", "download"] {
        for client in &clients {
            series.push(Series {
                client: client.label(),
                direction: direction.into(),
                mb_s: Vec::new(),
                best: 0.0,
                median: 0.0,
            });
        }
    }
    // The warm-up connected the peer first, then ours.
    let negotiated = server.ciphers_in_order();
    let (peer_cipher, ours) = (negotiated.first(), negotiated.last());
    if let Some(cipher) = ours.filter(|&c| Some(c) != peer_cipher).cloned() {
        let client = Client::Peer(Some(cipher));
        for direction in ["upload", "download"] {
            series.push(Series {
                client: client.label(),
                direction: direction.into(),
                mb_s: Vec::new(),
                best: 0.0,
                median: 0.0,
            });
        }
        clients.push(client);
    }
    let mb = bytes.len() as f64 / MB;
    let slot = |series: &[Series], client: &Client, direction: &str| {
        series
            .iter()
            .position(|x| x.client == client.label() && x.direction == direction)
    };
    for run in 0..o.runs {
        // A different client goes first each run.
        let mut order: Vec<&Client> = clients.iter().collect();
        order.rotate_left(run % clients.len());
        for client in &order {
            let _ = fs::remove_file(&outbox_copy);
            let started = Instant::now();
            match client {
                Client::Ours => rt.block_on(upload(&config, name, &bytes))?,
                Client::Peer(cipher) => {
                    server.peer_put(&o.sftp_client, cipher.as_deref(), &local, name)?;
                }
            }
            let secs = started.elapsed().as_secs_f64();
            check_same(&outbox_copy, &bytes)?;
            if let Some(i) = slot(&series, client, "upload") {
                series[i].mb_s.push(mb / secs);
            }
        }
        fs::rename(&outbox_copy, &inbox_copy)?;
        for client in &order {
            let target = scratch.join("downloaded.bin");
            let _ = fs::remove_file(&target);
            let started = Instant::now();
            let secs = match client {
                Client::Ours => {
                    let got = rt.block_on(download(&config, name))?;
                    let secs = started.elapsed().as_secs_f64();
                    if got != bytes {
                        bail!("our download differs from the file");
                    }
                    secs
                }
                Client::Peer(cipher) => {
                    server.peer_get(&o.sftp_client, cipher.as_deref(), name, &target)?;
                    let secs = started.elapsed().as_secs_f64();
                    check_same(&target, &bytes)?;
                    secs
                }
            };
            if let Some(i) = slot(&series, client, "download") {
                series[i].mb_s.push(mb / secs);
            }
        }
        fs::rename(&inbox_copy, &outbox_copy)?;
    }
    for s in &mut series {
        s.best = s.mb_s.iter().copied().fold(0.0, f64::max);
        s.median = median(&s.mb_s);
    }
    let ciphers = server.ciphers();
    Ok(Report {
        date: utc_date(),
        machine: machine(scratch, load),
        source: o.source.clone(),
        server: version_line(Command::new(SSHD).arg("-V")),
        // `sftp` has no version flag; `ssh` comes from the same OpenSSH package.
        peer: version_line(Command::new("ssh").arg("-V")),
        ciphers,
        bytes: bytes.len() as u64,
        series,
    })
}

async fn upload(config: &SftpConfig, name: &str, bytes: &[u8]) -> Result<()> {
    let session = SftpSession::connect(config).await?;
    session.upload(name, bytes).await?;
    session.close().await?;
    Ok(())
}

async fn download(config: &SftpConfig, name: &str) -> Result<Vec<u8>> {
    let session = SftpSession::connect(config).await?;
    let bytes = session.download(name).await?;
    session.close().await?;
    Ok(bytes)
}

fn check_same(path: &Path, bytes: &[u8]) -> Result<()> {
    let landed = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if landed != bytes {
        bail!("{} differs from the file sent", path.display());
    }
    Ok(())
}

/// Bytes that no compression could shrink.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Who transfers.
enum Client {
    /// edigate's client.
    Ours,
    /// OpenSSH's `sftp`, with its default ciphers or held to one.
    Peer(Option<String>),
}

impl Client {
    fn label(&self) -> String {
        match self {
            Client::Ours => "edigate".into(),
            Client::Peer(None) => "OpenSSH sftp".into(),
            Client::Peer(Some(cipher)) => format!("OpenSSH sftp, {cipher}"),
        }
    }
}

/// An OpenSSH sshd on 127.0.0.1 serving `internal-sftp` from `DIR/home`, key login as the
/// account running the benchmark; stopped (by its pid) when dropped.
struct Server {
    dir: PathBuf,
    home: PathBuf,
    port: u16,
    user: String,
    child: Child,
}

impl Server {
    fn start(scratch: &Path) -> Result<Server> {
        if !Path::new(SSHD).exists() {
            bail!(
                "{SSHD} is missing: install Debian's openssh-server (the benchmark needs a real server)"
            );
        }
        let dir = scratch.join("sshd");
        let home = dir.join("home");
        for sub in ["inbox", "outbox"] {
            fs::create_dir_all(home.join(sub))?;
        }
        for key in ["host", "user"] {
            let status = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(dir.join(key))
                .stdin(Stdio::null())
                .status()
                .context("ssh-keygen (openssh-client) must be installed")?;
            if !status.success() {
                bail!("ssh-keygen failed");
            }
        }
        fs::copy(dir.join("user.pub"), dir.join("authorized_keys"))?;
        if is_root() {
            // Root's sshd needs its privilege-separation directory.
            fs::create_dir_all("/run/sshd")?;
        }
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let config = dir.join("sshd_config");
        fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPubkeyAuthentication yes\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 StrictModes no\nPermitRootLogin prohibit-password\nLogLevel DEBUG1\n\
                 Subsystem sftp internal-sftp\nForceCommand internal-sftp -d {home}\n",
                d = dir.display(),
                home = home.display(),
            ),
        )?;
        let child = Command::new(SSHD)
            .arg("-D")
            .arg("-f")
            .arg(&config)
            .arg("-E")
            .arg(dir.join("sshd.log"))
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("running {SSHD}"))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!(
                    "sshd did not start; its log:\n{}",
                    fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let user = String::from_utf8(Command::new("id").arg("-un").output()?.stdout)?
            .trim()
            .to_string();
        let host_pub = fs::read_to_string(dir.join("host.pub"))?;
        fs::write(
            dir.join("known_hosts"),
            format!("[127.0.0.1]:{port} {host_pub}"),
        )?;
        Ok(Server {
            dir,
            home,
            port,
            user,
            child,
        })
    }

    /// Our client's settings for this server: the host key pinned, the user key.
    fn config(&self) -> Result<SftpConfig> {
        let host_pub = fs::read_to_string(self.dir.join("host.pub"))?;
        let text = format!(
            "host = \"127.0.0.1\"\nport = {}\nuser = {:?}\nhost_key = {:?}\n\
             inbox_dir = \"inbox\"\noutbox_dir = \"outbox\"\n\
             [auth]\ntype = \"key\"\nprivate_key = {:?}\n",
            self.port,
            self.user,
            host_pub.trim(),
            self.dir.join("user").display().to_string(),
        );
        toml::from_str(&text).map_err(|e| anyhow!("client settings: {e}"))
    }

    fn peer_put(
        &self,
        client: &Path,
        cipher: Option<&str>,
        local: &Path,
        name: &str,
    ) -> Result<()> {
        // `-f`: fsync@openssh.com after the transfer, as our upload does.
        self.peer(
            client,
            cipher,
            &format!("put -f {} outbox/{name}\n", quote(local)),
        )
    }

    fn peer_get(
        &self,
        client: &Path,
        cipher: Option<&str>,
        name: &str,
        local: &Path,
    ) -> Result<()> {
        self.peer(
            client,
            cipher,
            &format!("get inbox/{name} {}\n", quote(local)),
        )
    }

    /// Runs `sftp` in batch mode with `commands`, pinned to this server's host key, with its
    /// own defaults but for `cipher` when given.
    fn peer(&self, client: &Path, cipher: Option<&str>, commands: &str) -> Result<()> {
        let mut command = Command::new(client);
        if let Some(cipher) = cipher {
            command.arg("-o").arg(format!("Ciphers={cipher}"));
        }
        let mut child = command
            .args(["-q", "-b", "-", "-P", &self.port.to_string(), "-i"])
            .arg(self.dir.join("user"))
            .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
            .arg("-o")
            .arg(format!(
                "UserKnownHostsFile={}",
                self.dir.join("known_hosts").display()
            ))
            .arg(format!("{}@127.0.0.1", self.user))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("running {}", client.display()))?;
        if let Some(mut stdin) = child.stdin.take() {
            std::io::Write::write_all(&mut stdin, commands.as_bytes())?;
        }
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            e.read_to_string(&mut stderr)?;
        }
        let status = child.wait()?;
        if !status.success() {
            bail!("{} failed ({status}): {stderr}", client.display());
        }
        Ok(())
    }

    /// The ciphers the server's log says were negotiated, each once.
    fn ciphers(&self) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        for c in self.ciphers_in_order() {
            if !seen.contains(&c) {
                seen.push(c);
            }
        }
        seen
    }

    /// The cipher of every connection so far, in order (`client->server` lines of the log).
    fn ciphers_in_order(&self) -> Vec<String> {
        let log = fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default();
        log.lines()
            .filter_map(|line| line.split("client->server cipher: ").nth(1))
            .filter_map(|rest| rest.split_whitespace().next())
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// A path for sftp's batch language, in double quotes.
fn quote(path: &Path) -> String {
    format!("\"{}\"", path.display().to_string().replace('"', "\\\""))
}

fn version_line(command: &mut Command) -> String {
    command
        .output()
        .map(|o| {
            // OpenSSH prints its version to standard error.
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stderr),
                String::from_utf8_lossy(&o.stdout)
            );
            text.lines()
                .find(|l| l.contains("OpenSSH"))
                .unwrap_or("unknown")
                .trim()
                .to_string()
        })
        .unwrap_or_else(|_| "unknown".into())
}

fn utc_date() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn render(r: &Report) -> String {
    let m = &r.machine;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Measured {} on {}, {} cores ({} usable), {:.0} GiB RAM, Linux {}; load average {} at \
         the start; scratch on {}. edigate source {}.\n",
        r.date,
        m.cpu,
        m.cores,
        m.usable,
        m.memory_gib,
        m.kernel,
        m.load_at_start,
        m.filesystem,
        r.source
    );
    let _ = writeln!(
        s,
        "Server {} on 127.0.0.1 (`internal-sftp`); peer client {}; one {:.0} MB file \
         (incompressible) each way, a new connection per transfer; ciphers negotiated: {}.\n",
        r.server,
        r.peer,
        r.bytes as f64 / MB,
        if r.ciphers.is_empty() {
            "not logged".to_string()
        } else {
            r.ciphers.join(", ")
        }
    );
    let _ = writeln!(
        s,
        "| direction | client | MB/s (best) | MB/s (median) | runs (MB/s) | edigate ÷ this client (best) |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---|---:|");
    for direction in ["upload", "download"] {
        let ours = r
            .series
            .iter()
            .find(|x| x.client == "edigate" && x.direction == direction);
        for x in r.series.iter().filter(|x| x.direction == direction) {
            let ratio = match ours {
                Some(o) if x.client != "edigate" && x.best > 0.0 => {
                    format!("**{:.2}**", o.best / x.best)
                }
                _ => String::new(),
            };
            let runs: Vec<String> = x.mb_s.iter().map(|v| format!("{v:.0}")).collect();
            let _ = writeln!(
                s,
                "| {direction} | {} | {:.0} | {:.0} | {} | {ratio} |",
                x.client,
                x.best,
                x.median,
                runs.join(", ")
            );
        }
    }
    let _ = writeln!(s);
    for direction in ["upload", "download"] {
        if let Some(o) = r
            .series
            .iter()
            .find(|x| x.client == "edigate" && x.direction == direction)
        {
            let verdict = if o.best >= TARGET_MB_S {
                "met"
            } else {
                "**not met**"
            };
            let _ = writeln!(
                s,
                "Target ≥ {TARGET_MB_S:.0} MB/s ({direction}): {:.0} MB/s best, {verdict}.",
                o.best
            );
        }
    }
    s
}
