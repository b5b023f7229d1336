//! A real OpenSSH sshd on 127.0.0.1 for one test, the way shared/peers/toolkit/sshd_sftp.sh runs
//! it: fresh host and user keys in a temporary directory, its own config (no system file is
//! touched), `UsePAM no`, `StrictModes no`, key-only login as the account running the tests,
//! `ForceCommand internal-sftp` rooted at `DIR/home` with `inbox/`, `outbox/` and `archive/`.
//!
//! sshd runs in the foreground (`-D`) as our child, so it is stopped by its own pid when the test
//! ends; [`Sshd::kill`] also kills the per-connection processes it forked, by their pids.

#![allow(dead_code)] // each test binary uses its own part of the helper

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sftp::SftpConfig;

const SSHD: &str = "/usr/sbin/sshd";

/// One running sshd.
pub struct Sshd {
    /// Keys, config, log and the SFTP root.
    pub dir: tempfile::TempDir,
    /// The SFTP root (`inbox/`, `outbox/`, `archive/` inside).
    pub home: PathBuf,
    /// The port on 127.0.0.1.
    pub port: u16,
    /// The login name: the account running the tests.
    pub user: String,
    /// The host's public key line (`ssh-ed25519 AAAA… comment`).
    pub host_pub: String,
    /// The client's private key, authorised to log in.
    pub user_key: PathBuf,
    /// With [`Sshd::start_password`]: the account's password, in the file `DIR/password`.
    pub password: Option<String>,
    /// How passwords are taken, for a restart.
    password_method: Option<PasswordMethod>,
    child: Option<Child>,
}

/// How a test server takes passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordMethod {
    /// The `password` method, sshd checking the shadow entry itself (`UsePAM no`).
    Password,
    /// `keyboard-interactive` through PAM's password prompt (`UsePAM yes`, `password` off), as
    /// servers that check passwords through PAM offer it.
    KeyboardInteractive,
}

impl Sshd {
    /// Starts an sshd serving read-write SFTP.
    pub fn start() -> Sshd {
        Sshd::start_with("", None)
    }

    /// Starts an sshd whose SFTP server refuses every change (`internal-sftp -R`).
    pub fn start_read_only() -> Sshd {
        Sshd::start_with("-R", None)
    }

    /// Starts an sshd that takes the account's password (by `method`) and no key; see the
    /// module docs for how, without touching the machine's accounts.
    pub fn start_password(method: PasswordMethod) -> Sshd {
        Sshd::start_with("", Some(method))
    }

    /// Starts an sshd whose `outbox/` is a file system of `bytes` bytes (a tmpfs mounted in the
    /// server's own mount namespace, as with passwords): a partner's full disk. The test sees the
    /// directory through SFTP only.
    pub fn start_small_disk(bytes: u64) -> Sshd {
        SMALL_DISK.with(|d| d.set(Some(bytes)));
        let server = Sshd::start_with("", None);
        SMALL_DISK.with(|d| d.set(None));
        server
    }

    fn start_with(sftp_flags: &str, password: Option<PasswordMethod>) -> Sshd {
        let Material {
            dir,
            home,
            user_key,
            host_pub,
            user,
        } = Material::new();
        let d = dir.path();
        let secret = password.map(|_| make_shadow(d, &user));
        let login = match password {
            None => "PubkeyAuthentication yes\nPasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\nUsePAM no\n"
                .to_string(),
            Some(PasswordMethod::Password) => {
                "PubkeyAuthentication no\nPasswordAuthentication yes\n\
                 KbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin yes\n"
                    .to_string()
            }
            Some(PasswordMethod::KeyboardInteractive) => "PubkeyAuthentication no\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication yes\nUsePAM yes\n\
                 PermitRootLogin yes\n"
                .to_string(),
        };

        // A port found free can be taken before sshd binds it: try a few.
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port();
            let config = d.join("sshd_config");
            fs::write(
                &config,
                format!(
                    "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host\nPidFile {d}/sshd.pid\n\
                     AuthorizedKeysFile {d}/authorized_keys\n{login}\
                     StrictModes no\nAllowTcpForwarding no\nX11Forwarding no\nPermitTTY no\n\
                     Subsystem sftp internal-sftp\nForceCommand internal-sftp {sftp_flags} -d {home}\n",
                    d = d.display(),
                    home = home.display(),
                ),
            )
            .expect("sshd_config");
            let log = d.join("sshd.log");
            let small_disk = SMALL_DISK.with(std::cell::Cell::get);
            let mut command = match (password, small_disk) {
                (Some(_), _) => with_private_shadow(&d.join("shadow")),
                (None, Some(bytes)) => with_small_disk(&home.join("outbox"), bytes),
                (None, None) => Command::new(SSHD),
            };
            let mut child = command
                .arg("-D")
                .arg("-f")
                .arg(&config)
                .arg("-E")
                .arg(&log)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {SSHD}: {e}"));
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Sshd {
                        dir,
                        home,
                        port,
                        user,
                        host_pub,
                        user_key,
                        password: secret,
                        password_method: password,
                        child: Some(child),
                    };
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            last_log = fs::read_to_string(&log).unwrap_or_default();
        }
        panic!("sshd did not start; its log:\n{last_log}");
    }

    /// A client configuration for this server: pinned host key, the user key, the test
    /// directories, a short stability interval and short time limits. `extra` is TOML added to
    /// the top level.
    pub fn config_with(&self, extra: &str) -> SftpConfig {
        let text = format!(
            "host = \"127.0.0.1\"\nport = {port}\nuser = {user:?}\nhost_key = {host:?}\n\
             inbox_dir = \"inbox\"\noutbox_dir = \"outbox\"\nstable_interval_ms = 200\n{extra}\n\
             [auth]\ntype = \"key\"\nprivate_key = {key:?}\n\
             [timeouts]\nconnect_ms = 10000\nrequest_ms = 5000\nkeepalive_ms = 2000\n",
            port = self.port,
            user = self.user,
            host = self.host_pub,
            key = self.user_key.display().to_string(),
        );
        toml::from_str(&text).unwrap_or_else(|e| panic!("test config: {e}\n{text}"))
    }

    /// A client configuration for a [`Sshd::start_password`] server: [`Sshd::config_with`] with
    /// the password read from `DIR/password`.
    pub fn password_config(&self) -> SftpConfig {
        let mut config = self.config();
        config.auth = sftp::AuthConfig::Password {
            password_env: None,
            password_file: Some(self.dir.path().join("password")),
        };
        config
    }

    /// [`Sshd::config_with`] with nothing extra.
    pub fn config(&self) -> SftpConfig {
        self.config_with("")
    }

    /// The host key's SHA-256 fingerprint as `ssh-keygen -lf` prints it.
    pub fn host_fingerprint(&self) -> String {
        fingerprint_of(&self.dir.path().join("host.pub"))
    }

    /// Lets `public_key` (a `.pub` file) log in too.
    pub fn authorize(&self, public_key: &Path) {
        let line = fs::read_to_string(public_key).expect("public key");
        let path = self.dir.path().join("authorized_keys");
        let mut keys = fs::read_to_string(&path).expect("authorized_keys");
        keys.push_str(&line);
        fs::write(path, keys).expect("authorized_keys");
    }

    /// How far sshd's processes have read into `path` (the position of the first descriptor
    /// one of them has open on it, from /proc), or None when none has it open: lets a test act
    /// in the middle of a download.
    pub fn read_position(&self, path: &Path) -> Option<u64> {
        let root = self.child.as_ref()?.id();
        let target = fs::canonicalize(path).ok()?;
        for pid in descendants(root) {
            let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
                continue;
            };
            for fd in fds.flatten() {
                if fs::read_link(fd.path()).ok().as_deref() != Some(target.as_path()) {
                    continue;
                }
                let info = fs::read_to_string(format!(
                    "/proc/{pid}/fdinfo/{}",
                    fd.file_name().to_string_lossy()
                ))
                .ok()?;
                return info
                    .lines()
                    .find_map(|l| l.strip_prefix("pos:"))
                    .and_then(|v| v.trim().parse().ok());
            }
        }
        None
    }

    /// Kills sshd and every process it forked (the per-connection ones), each by its pid, so
    /// connections drop the way they do when a server dies.
    pub fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let mut pids = descendants(child.id());
        pids.push(child.id());
        for pid in pids {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .stderr(Stdio::null())
                .status();
        }
        let _ = child.wait();
    }
}

/// Servers that stop and come back: prepared on a chosen port without running, started there,
/// and restarted with the same keys after [`Sshd::kill`], as a partner's server does after a
/// crash or a reboot.
impl Sshd {
    /// Starts a read-write sshd on `port` (which must be free).
    pub fn start_on(port: u16) -> Sshd {
        let mut sshd = Sshd::prepare_on(port);
        sshd.restart();
        sshd
    }

    /// Everything a server on `port` needs (keys, config, directories), without running it: a
    /// client can be configured for it while nothing listens there yet. [`Sshd::restart`]
    /// starts it.
    pub fn prepare_on(port: u16) -> Sshd {
        let Material {
            dir,
            home,
            user_key,
            host_pub,
            user,
        } = Material::new();
        let d = dir.path();
        fs::write(
            d.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPubkeyAuthentication yes\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 StrictModes no\nAllowTcpForwarding no\nX11Forwarding no\nPermitTTY no\n\
                 Subsystem sftp internal-sftp\nForceCommand internal-sftp -d {home}\n",
                d = d.display(),
                home = home.display(),
            ),
        )
        .expect("sshd_config");
        Sshd {
            dir,
            home,
            port,
            user,
            host_pub,
            user_key,
            password: None,
            password_method: None,
            child: None,
        }
    }

    /// Starts sshd again on the same port with the same keys and configuration (after
    /// [`Sshd::kill`], or the first time after [`Sshd::prepare_on`]). Retries for a while: the
    /// port may be held briefly after the last server on it died.
    pub fn restart(&mut self) {
        self.kill();
        let d = self.dir.path();
        let log = d.join("sshd.log");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let mut command = match self.password_method {
                None => Command::new(SSHD),
                Some(_) => with_private_shadow(&d.join("shadow")),
            };
            let mut child = command
                .arg("-D")
                .arg("-f")
                .arg(d.join("sshd_config"))
                .arg("-E")
                .arg(&log)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {SSHD}: {e}"));
            let started = Instant::now();
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                // Listening, and the listener is this child's (it is still alive).
                if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                    self.child = Some(child);
                    return;
                }
                if started.elapsed() > Duration::from_secs(5) {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(
                Instant::now() < deadline,
                "sshd did not start again on port {}; its log:\n{}",
                self.port,
                fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Writes a random password to `dir/password` and a shadow file `dir/shadow` whose only entry is
/// `user`'s, with that password hashed by `openssl passwd -6` (SHA-512 crypt, which glibc's
/// `crypt` checks); returns the password.
fn make_shadow(dir: &Path, user: &str) -> String {
    let mut bytes = [0u8; 12];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .expect("/dev/urandom");
    // Spaces and punctuation, as real passwords have: nothing may trim or split them.
    let password: String = format!(
        "pw {}-!",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    fs::write(dir.join("password"), format!("{password}\n")).expect("password file");
    let out = Command::new("openssl")
        .args(["passwd", "-6", "-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            if let Some(mut stdin) = child.stdin.take() {
                std::io::Write::write_all(&mut stdin, password.as_bytes())?;
            }
            child.wait_with_output()
        })
        .expect("openssl (the command) must be installed to hash a test password");
    assert!(out.status.success(), "openssl passwd failed");
    let hash = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let shadow = dir.join("shadow");
    fs::write(&shadow, format!("{user}:{hash}:20000:0:99999:7:::\n")).expect("shadow");
    fs::set_permissions(&shadow, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod shadow");
    password
}

thread_local! {
    /// Set while [`Sshd::start_small_disk`] starts its server.
    static SMALL_DISK: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// A command that runs sshd in a private mount namespace with a tmpfs of `bytes` over `dir`.
fn with_small_disk(dir: &Path, bytes: u64) -> Command {
    in_private_mounts(
        &format!("mount -t tmpfs -o size={bytes} edigate-test \"$0\""),
        dir,
    )
}

/// A command that runs what its arguments name (sshd) in a private mount namespace with `shadow`
/// over `/etc/shadow`; see the module docs. The process keeps the pid it started with: `unshare`
/// and the shell each replace themselves (`exec`), so killing the child kills sshd.
fn with_private_shadow(shadow: &Path) -> Command {
    in_private_mounts("mount --bind \"$0\" /etc/shadow", shadow)
}

/// sshd in a mount namespace of its own, after `mount` (a shell command; `$0` is `path`) has
/// run there: nothing the test mounts is seen outside, and the machine's files are untouched.
/// Not root: the mount is made as the namespace's root, and sshd runs as the caller again in a
/// nested user namespace.
fn in_private_mounts(mount: &str, path: &Path) -> Command {
    let mut command = Command::new("unshare");
    if fs::metadata("/proc/self").expect("/proc/self").uid() == 0 {
        let script = format!("{mount} || exit 97; exec \"$@\"");
        command.args([
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            &script,
        ]);
    } else {
        let uid = output(Command::new("id").arg("-u"));
        let gid = output(Command::new("id").arg("-g"));
        let script = format!(
            "{mount} || exit 97; \
             exec unshare --user --map-user={uid} --map-group={gid} -- \"$@\""
        );
        command.args([
            "--user",
            "--map-root-user",
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            &script,
        ]);
    }
    command.arg(path).arg(SSHD);
    command
}

/// Makes an ed25519 key pair at `path` and `path.pub`.
pub fn keygen(path: &Path, comment: &str, passphrase: &str) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", passphrase, "-C", comment, "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("ssh-keygen (openssh-client) must be installed");
    assert!(status.success(), "ssh-keygen failed for {}", path.display());
}

/// The SHA-256 fingerprint of a public key file, by `ssh-keygen -lf`.
pub fn fingerprint_of(public_key: &Path) -> String {
    let line = output(Command::new("ssh-keygen").arg("-lf").arg(public_key));
    line.split_whitespace()
        .nth(1)
        .expect("ssh-keygen -lf prints BITS FINGERPRINT COMMENT (TYPE)")
        .to_string()
}

/// A port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

fn output(command: &mut Command) -> String {
    let out = command.output().expect("run helper command");
    assert!(out.status.success(), "{command:?} failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Every process descended from `root`, read from /proc.
fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
            let ppid = stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().nth(1))
                .and_then(|s| s.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for &(pid, ppid) in &parent_of {
            if ppid == p && !found.contains(&pid) {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    found
}

/// What a test server is made of: a temporary directory with fresh host and user keys, the
/// authorised key, the SFTP root's directories, and the login name.
struct Material {
    dir: tempfile::TempDir,
    home: PathBuf,
    user_key: PathBuf,
    host_pub: String,
    user: String,
}

impl Material {
    fn new() -> Material {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: these tests need a real OpenSSH server. Install Debian's \
             openssh-server (`sh tests/peers/setup.sh` does, and ./scripts/test runs it)."
        );
        let dir = tempfile::tempdir().expect("temporary directory");
        let d = dir.path();
        let home = d.join("home");
        for sub in ["inbox", "outbox", "archive"] {
            fs::create_dir_all(home.join(sub)).expect("mkdir home");
        }
        keygen(&d.join("host"), "edigate-test-host", "");
        let user_key = d.join("user");
        keygen(&user_key, "edigate-test-user", "");
        fs::copy(d.join("user.pub"), d.join("authorized_keys")).expect("authorized_keys");
        let host_pub = fs::read_to_string(d.join("host.pub"))
            .expect("host.pub")
            .trim()
            .to_string();
        if fs::metadata("/proc/self").expect("/proc/self").uid() == 0 {
            // Root's sshd needs its privilege-separation directory.
            fs::create_dir_all("/run/sshd").expect("mkdir /run/sshd");
        }
        let user = output(Command::new("id").arg("-un"));
        Material {
            dir,
            home,
            user_key,
            host_pub,
            user,
        }
    }
}
