//! `edigate-bench`: generates the benchmark files and measures edigate against its peers on them.
//!
//! ```text
//! edigate-bench generate --dir bench/data --sizes 10,200
//! edigate-bench compare  --dir bench/data --sizes 10,200 --peer-sizes 10 \
//!     --python bench/.venv/bin/python --node node --bench-dir bench --out bench/results/latest
//! edigate-bench memory stream FILE      # child process: prints peak RSS of the streaming path
//! edigate-bench daemon --edigate target/release/edigate --out bench/results/daemon-latest
//! edigate-bench sftp --size-mb 200 --out bench/results/sftp-latest
//! ```
//!
//! The parser comparison runs on one thread; `bench/run.sh` also pins the process (and the peers
//! it starts) to one core with `taskset`. The daemon benchmark ([`daemon`]) runs `edigate serve`
//! as a child process, unpinned: it measures the whole daemon on the whole machine. The SFTP
//! benchmark ([`transfer`]) moves one large file each way through a real sshd on loopback with
//! edigate's client and with OpenSSH's `sftp`.

use std::fmt::Write as _;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use edigate_bench::generate::{self, DEFAULT_SEED, Standard};
use edigate_bench::{mem, work};

/// The allocator the edigate binary runs with, so the in-process figures are what it does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use serde::{Deserialize, Serialize};

mod daemon;
mod transfer;

/// 10⁶ bytes: every MB and MB/s here is decimal.
const MB: f64 = 1e6;

#[derive(Parser)]
#[command(about = "edigate parser benchmark: data generator and peer comparison")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Writes orders-x12-<N>mb.edi and orders-edifact-<N>mb.edi for each size.
    Generate {
        /// Output folder.
        #[arg(long, default_value = "bench/data")]
        dir: PathBuf,
        /// Sizes in MB (10⁶ bytes), comma separated.
        #[arg(long, value_delimiter = ',', default_value = "10,200")]
        sizes: Vec<u64>,
        /// Generator seed.
        #[arg(long, default_value_t = DEFAULT_SEED)]
        seed: u64,
    },
    /// Measures every tool on the generated files and prints (and writes) the tables.
    Compare {
        /// Folder with the generated files.
        #[arg(long, default_value = "bench/data")]
        dir: PathBuf,
        /// File sizes to measure the Rust tools and edigate's memory on.
        #[arg(long, value_delimiter = ',', default_value = "10,200")]
        sizes: Vec<u64>,
        /// File sizes to measure the Python and Node peers on (they are slow).
        #[arg(long, value_delimiter = ',', default_value = "10")]
        peer_sizes: Vec<u64>,
        /// Timed runs per Rust workload on files up to 50 MB (fewer on larger files).
        #[arg(long, default_value_t = 7)]
        reps: usize,
        /// Timed runs for each Python/Node peer.
        #[arg(long, default_value_t = 3)]
        peer_reps: usize,
        /// Python with pydifact installed (skip pydifact if absent).
        #[arg(long)]
        python: Option<PathBuf>,
        /// Node.js binary (skip node-x12 if absent).
        #[arg(long)]
        node: Option<PathBuf>,
        /// The bench/ folder (for peers/ and node/).
        #[arg(long, default_value = "bench")]
        bench_dir: PathBuf,
        /// Write <out>.md and <out>.json.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Which edigate source was measured (run.sh passes the git revision).
        #[arg(long, default_value = "unknown")]
        source: String,
    },
    /// Child process for the memory measurement: runs one path over FILE, prints JSON.
    Memory {
        /// Which path.
        #[arg(value_enum)]
        mode: MemMode,
        /// The file.
        file: PathBuf,
    },
    /// Runs `edigate serve` and measures interchanges per second end to end and the latency
    /// from a file's arrival in the inbox to its event; writes <out>.md and <out>.json.
    Daemon {
        /// The release `edigate` binary [default: $CARGO_TARGET_DIR/release/edigate when
        /// CARGO_TARGET_DIR is set, else target/release/edigate].
        #[arg(long)]
        edigate: Option<PathBuf>,
        /// Interchanges per throughput run.
        #[arg(long, default_value_t = 5000)]
        files: usize,
        /// Throughput runs, each on a fresh data directory and daemon (best and median shown).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Files per second dropped in the latency run.
        #[arg(long, default_value_t = 1000.0)]
        rate: f64,
        /// Seconds of dropping in the latency run.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// The repository root (for deploy/examples/ and specs/).
        #[arg(long, default_value = ".")]
        repo: PathBuf,
        /// Where the data directories go, in a fresh subdirectory [default: the system's temp
        /// directory]; the same file system as a real deployment's data, ideally.
        #[arg(long)]
        scratch: Option<PathBuf>,
        /// Keep the scratch directory (data directories and daemon logs) afterwards.
        #[arg(long)]
        keep: bool,
        /// EDIGATE_LOG for the daemon (its default is info: two lines per file).
        #[arg(long, default_value = "info")]
        log_level: String,
        /// Which edigate source was measured (run.sh passes the git revision).
        #[arg(long, default_value = "unknown")]
        source: String,
        /// Write <out>.md and <out>.json.
        #[arg(long, default_value = "bench/results/daemon-latest")]
        out: PathBuf,
    },
    /// Uploads and downloads one large file through a real OpenSSH sshd on loopback, with
    /// edigate's SFTP client and with OpenSSH's `sftp` in the same run; writes <out>.md and
    /// <out>.json.
    Sftp {
        /// File size in MB (10⁶ bytes).
        #[arg(long, default_value_t = 200)]
        size_mb: u64,
        /// Timed transfers per client and direction (best and median shown).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// OpenSSH's `sftp` client, the peer.
        #[arg(long, default_value = "sftp")]
        sftp_client: PathBuf,
        /// Where the server's directory and the local copies go, in a fresh subdirectory
        /// [default: the system's temp directory].
        #[arg(long)]
        scratch: Option<PathBuf>,
        /// Which edigate source was measured (run.sh passes the git revision).
        #[arg(long, default_value = "unknown")]
        source: String,
        /// Write <out>.md and <out>.json.
        #[arg(long, default_value = "bench/results/sftp-latest")]
        out: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum, Serialize, Deserialize, PartialEq, Eq)]
enum MemMode {
    /// `edi::Reader` over the file: one interchange at a time.
    Stream,
    /// The whole file read into memory and parsed with `edi::parse`.
    Parse,
}

/// One timed workload on one file.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Row {
    file: String,
    bytes: u64,
    tool: String,
    task: String,
    /// Fastest run, in seconds.
    seconds: f64,
    /// Median run, in seconds.
    median_seconds: f64,
    runs: usize,
    /// Speed of the fastest run (the figure compared: other work on the machine only slows a
    /// run down).
    mb_per_s: f64,
    /// Speed of the median run.
    median_mb_per_s: f64,
    segments: u64,
    /// For a peer: which edigate task it is set against, and edigate's speed ratio to it.
    compared_with: Option<String>,
    edigate_ratio: Option<f64>,
}

/// Peak memory of one path on one file.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct MemRow {
    file: String,
    bytes: u64,
    mode: MemMode,
    peak_rss: u64,
    peak_buffered: u64,
    segments: u64,
    seconds: f64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Report {
    date: String,
    machine: String,
    source: String,
    rows: Vec<Row>,
    memory: Vec<MemRow>,
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Generate { dir, sizes, seed } => generate_files(&dir, &sizes, seed),
        Cmd::Compare {
            dir,
            sizes,
            peer_sizes,
            reps,
            peer_reps,
            python,
            node,
            bench_dir,
            out,
            source,
        } => {
            let peers = Peers {
                python,
                node,
                bench_dir,
                reps: peer_reps,
            };
            let run = Run {
                dir,
                sizes,
                peer_sizes,
                reps,
                source,
            };
            compare(&run, &peers, out.as_deref())
        }
        Cmd::Memory { mode, file } => memory_child(mode, &file),
        Cmd::Daemon {
            edigate,
            files,
            runs,
            rate,
            seconds,
            repo,
            scratch,
            keep,
            log_level,
            source,
            out,
        } => {
            let edigate = edigate.unwrap_or_else(|| {
                std::env::var_os("CARGO_TARGET_DIR")
                    .map_or_else(|| PathBuf::from("target"), PathBuf::from)
                    .join("release/edigate")
            });
            daemon::run(&daemon::Options {
                edigate,
                repo,
                files,
                runs,
                rate,
                seconds,
                scratch,
                keep,
                log_level,
                source,
                out,
            })
        }
        Cmd::Sftp {
            size_mb,
            runs,
            sftp_client,
            scratch,
            source,
            out,
        } => transfer::run(&transfer::Options {
            size_mb,
            runs,
            sftp_client,
            scratch,
            source,
            out,
        }),
    }
}

fn generate_files(dir: &Path, sizes: &[u64], seed: u64) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for &size in sizes.iter() {
        for std in [Standard::X12, Standard::Edifact] {
            let path = dir.join(generate::file_name(std, size));
            let out = BufWriter::with_capacity(
                1 << 20,
                File::create(&path).with_context(|| format!("creating {}", path.display()))?,
            );
            let t = Instant::now();
            let st = generate::write(std, out, size * 1_000_000, seed)
                .with_context(|| format!("writing {}", path.display()))?;
            println!(
                "{}: {} bytes, {} interchanges, {} groups, {} messages, {} segments ({:.1} s)",
                path.display(),
                st.bytes,
                st.interchanges,
                st.groups,
                st.messages,
                st.segments,
                t.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

struct Peers {
    python: Option<PathBuf>,
    node: Option<PathBuf>,
    bench_dir: PathBuf,
    reps: usize,
}

/// Output of the Python and Node peer scripts.
#[derive(Deserialize)]
struct PeerOutput {
    tool: String,
    version: String,
    bytes: u64,
    seconds: Vec<f64>,
    segments: u64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Runs `f` once untimed, then at least `reps` times and for at least `min_secs` (at most 1000
/// runs); returns the fastest and the median run in seconds, the number of runs and the tally.
fn time<F: Fn() -> Result<work::Tally>>(
    reps: usize,
    min_secs: f64,
    f: F,
) -> Result<(f64, f64, usize, work::Tally)> {
    let tally = f()?;
    let mut secs = Vec::with_capacity(reps);
    let start = Instant::now();
    while secs.len() < reps || (start.elapsed().as_secs_f64() < min_secs && secs.len() < 1000) {
        let t = Instant::now();
        let again = std::hint::black_box(f()?);
        secs.push(t.elapsed().as_secs_f64());
        if again != tally {
            bail!("workload gave different results on two runs");
        }
    }
    let best = secs.iter().copied().fold(f64::INFINITY, f64::min);
    let runs = secs.len();
    Ok((best, median(secs), runs, tally))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::fs::read_to_string("/proc/cpuinfo").map_or(0, |s| {
        s.lines().filter(|l| l.starts_with("processor")).count()
    });
    let usable = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(0.0, |k| k / 1024.0 / 1024.0);
    format!(
        "{cpu}, {cores} cores ({usable} usable by this run: one thread throughout), \
         {mem_gib:.0} GiB RAM"
    )
}

fn today() -> String {
    Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "unknown date".into(), |s| s.trim().to_string())
}

type Workload = fn(&[u8]) -> Result<work::Tally>;

struct Run {
    dir: PathBuf,
    sizes: Vec<u64>,
    peer_sizes: Vec<u64>,
    reps: usize,
    source: String,
}

fn compare(run: &Run, peers: &Peers, out: Option<&Path>) -> Result<()> {
    let (dir, sizes, peer_sizes, reps) = (&run.dir, &run.sizes, &run.peer_sizes, run.reps);
    let mut report = Report {
        date: today(),
        machine: machine(),
        source: run.source.clone(),
        rows: Vec::new(),
        memory: Vec::new(),
    };
    eprintln!("{} on {}", report.date, report.machine);
    for &size in sizes.iter() {
        for std in [Standard::X12, Standard::Edifact] {
            let name = generate::file_name(std, size);
            let path = dir.join(&name);
            let data = std::fs::read(&path).with_context(|| {
                format!("reading {} (run `edigate-bench generate`)", path.display())
            })?;
            let bytes = data.len() as u64;
            // Keep going for a few seconds, so that the fastest run is one the rest of the
            // machine left alone; fewer runs on large files.
            let (reps, min_secs) = if bytes > 50_000_000 {
                (reps.div_ceil(2).max(1), 5.0)
            } else {
                (reps, 3.0)
            };
            let mut rows: Vec<Row> = Vec::new();
            let mut push = |tool: &str, task: &str, timing: (f64, f64, usize, work::Tally)| {
                let (best, med, runs, tally) = timing;
                let row = Row {
                    file: name.clone(),
                    bytes,
                    tool: tool.into(),
                    task: task.into(),
                    seconds: best,
                    median_seconds: med,
                    runs,
                    mb_per_s: bytes as f64 / MB / best,
                    median_mb_per_s: bytes as f64 / MB / med,
                    segments: tally.segments,
                    compared_with: None,
                    edigate_ratio: None,
                };
                eprintln!(
                    "  {:<22} {:<10} {:<36} {:>9.1} MB/s  {} segments",
                    row.file, row.tool, row.task, row.mb_per_s, row.segments
                );
                rows.push(row);
            };
            let ours: [(&str, Workload); 6] = [
                (TOKENIZE, work::edigate_tokenize),
                (PARSE, work::edigate_parse),
                (PARSE_EACH, work::edigate_parse_each),
                (PARSE_VALUES, work::edigate_parse_values),
                (VALIDATE, work::edigate_validate_ack),
                (TRANSLATE, work::edigate_translate),
            ];
            for (task, f) in ours {
                push("edigate", task, time(reps, min_secs, || f(&data))?);
            }
            // The streaming path over the same bytes in memory: what is measured is the reader,
            // not the disk (the memory check below reads the file).
            let stream = time(reps, min_secs, || work::edigate_stream(&data[..]))?;
            push("edigate", STREAM, stream);
            let theirs: Vec<(&str, &str, Workload)> = match std {
                Standard::Edifact => vec![
                    (
                        "edifact-rs",
                        "tokenize (Tokenizer)",
                        work::edifact_rs_tokenize,
                    ),
                    (
                        "edifact-rs",
                        "parse (from_bytes, streamed)",
                        work::edifact_rs_parse,
                    ),
                    (
                        "edifact-rs",
                        "parse (from_bytes into Vec<Segment>)",
                        work::edifact_rs_parse_collect,
                    ),
                    (
                        "edifact-rs",
                        "parse + read every value",
                        work::edifact_rs_parse_values,
                    ),
                ],
                Standard::X12 => vec![
                    ("edi", "parse (EdiDocument)", work::x12_edi_parse),
                    (
                        "edi",
                        "parse + read every value",
                        work::x12_edi_parse_values,
                    ),
                ],
            };
            for (tool, task, f) in theirs {
                push(tool, task, time(reps, min_secs, || f(&data))?);
            }
            drop(data);
            if peer_sizes.contains(&size) {
                match std {
                    Standard::Edifact => {
                        if let Some(py) = &peers.python {
                            let script = peers.bench_dir.join("peers/pydifact_bench.py");
                            let mut cmd = Command::new(py);
                            cmd.arg(&script);
                            let r = run_peer(cmd, &path, peers.reps, &name)?;
                            eprintln!("  {name:<22} {:<10} {:>9.2} MB/s", r.tool, r.mb_per_s);
                            rows.push(r);
                        }
                    }
                    Standard::X12 => {
                        if let Some(node) = &peers.node {
                            let script = peers.bench_dir.join("node/x12_bench.js");
                            let mut cmd = Command::new(node);
                            cmd.arg(&script);
                            let r = run_peer(cmd, &path, peers.reps, &name)?;
                            eprintln!("  {name:<22} {:<10} {:>9.2} MB/s", r.tool, r.mb_per_s);
                            rows.push(r);
                        }
                    }
                }
            }
            set_ratios(&mut rows);
            report.rows.extend(rows);
            for mode in [MemMode::Stream, MemMode::Parse] {
                let m = memory_of(mode, &path, &name, bytes)?;
                eprintln!(
                    "  {name:<22} memory {:?}: peak RSS {:.1} MB, peak buffered {:.2} MB",
                    m.mode,
                    m.peak_rss as f64 / MB,
                    m.peak_buffered as f64 / MB
                );
                report.memory.push(m);
            }
        }
    }
    let md = markdown(&report);
    println!("{md}");
    if let Some(out) = out {
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(out.with_extension("md"), &md)?;
        std::fs::write(
            out.with_extension("json"),
            serde_json::to_string_pretty(&report)?,
        )?;
    }
    Ok(())
}

const TOKENIZE: &str = "tokenize";
const PARSE: &str = "parse (full model)";
const PARSE_EACH: &str = "parse, one interchange at a time";
const PARSE_VALUES: &str = "parse + read every value";
const STREAM: &str = "stream (Reader, one interchange at a time)";
const VALIDATE: &str = "validate + acknowledge";
const TRANSLATE: &str = "translate to events";

/// Which edigate task a peer's task is set against.
fn counterpart(task: &str) -> &'static str {
    if task.starts_with("tokenize") {
        TOKENIZE
    } else if task.starts_with("parse + read") {
        PARSE_VALUES
    } else {
        PARSE
    }
}

fn set_ratios(rows: &mut [Row]) {
    let ours: Vec<(String, f64)> = rows
        .iter()
        .filter(|r| r.tool == "edigate")
        .map(|r| (r.task.clone(), r.mb_per_s))
        .collect();
    for r in rows.iter_mut().filter(|r| r.tool != "edigate") {
        let against = counterpart(&r.task);
        if let Some((_, speed)) = ours.iter().find(|(t, _)| t == against) {
            r.compared_with = Some(against.to_string());
            r.edigate_ratio = Some(speed / r.mb_per_s);
        }
    }
}

fn run_peer(mut cmd: Command, file: &Path, reps: usize, name: &str) -> Result<Row> {
    cmd.arg(file).arg("--repeat").arg(reps.to_string());
    let out = cmd.output().with_context(|| format!("starting {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .with_context(|| format!("{cmd:?} printed no JSON: {stdout}"))?;
    let p: PeerOutput = serde_json::from_str(line).with_context(|| format!("reading {line}"))?;
    let runs = p.seconds.len();
    let best = p.seconds.iter().copied().fold(f64::INFINITY, f64::min);
    let med = median(p.seconds);
    Ok(Row {
        file: name.to_string(),
        bytes: p.bytes,
        tool: format!("{} {}", p.tool, p.version),
        task: "parse (full model)".into(),
        seconds: best,
        median_seconds: med,
        runs,
        mb_per_s: p.bytes as f64 / MB / best,
        median_mb_per_s: p.bytes as f64 / MB / med,
        segments: p.segments,
        compared_with: None,
        edigate_ratio: None,
    })
}

/// Runs `edigate-bench memory MODE FILE` as a child process and reads what it reports.
fn memory_of(mode: MemMode, path: &Path, name: &str, bytes: u64) -> Result<MemRow> {
    let exe = std::env::current_exe().context("locating edigate-bench")?;
    let mode_arg = match mode {
        MemMode::Stream => "stream",
        MemMode::Parse => "parse",
    };
    let out = Command::new(exe)
        .args(["memory", mode_arg])
        .arg(path)
        .output()
        .context("starting the memory child")?;
    if !out.status.success() {
        bail!(
            "memory child failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let mut m: MemRow = serde_json::from_slice(&out.stdout).context("reading the memory child")?;
    m.file = name.to_string();
    m.bytes = bytes;
    Ok(m)
}

fn memory_child(mode: MemMode, file: &Path) -> Result<()> {
    let t = Instant::now();
    let tally = match mode {
        MemMode::Stream => work::edigate_stream(
            File::open(file).with_context(|| format!("opening {}", file.display()))?,
        )?,
        MemMode::Parse => {
            let data =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            work::edigate_parse(&data)?
        }
    };
    let seconds = t.elapsed().as_secs_f64();
    let row = MemRow {
        file: file.display().to_string(),
        bytes: 0,
        mode,
        peak_rss: mem::peak_rss().context("no VmHWM in /proc/self/status")?,
        peak_buffered: tally.peak_buffered,
        segments: tally.segments,
        seconds,
    };
    println!("{}", serde_json::to_string(&row)?);
    Ok(())
}

fn fmt_ratio(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.0}×")
    } else {
        format!("{r:.1}×")
    }
}

fn speed(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn markdown(rep: &Report) -> String {
    let mut s = String::new();
    // Writing into a String cannot fail.
    let _ = writeln!(
        s,
        "Measured {} on {}; edigate source {}.\n",
        rep.date, rep.machine, rep.source
    );
    let _ = writeln!(
        s,
        "| file | tool | task | MB/s (best) | MB/s (median) | edigate's ratio | runs | segments |"
    );
    let _ = writeln!(s, "|---|---|---|---:|---:|---|---:|---:|");
    for r in &rep.rows {
        let ratio = match (&r.compared_with, r.edigate_ratio) {
            (Some(task), Some(x)) => format!("**{}** (vs edigate {task})", fmt_ratio(x)),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.file,
            r.tool,
            r.task,
            speed(r.mb_per_s),
            speed(r.median_mb_per_s),
            ratio,
            r.runs,
            r.segments
        );
    }
    let _ = writeln!(
        s,
        "\n| file | edigate path | peak RSS (MB) | most bytes the reader held (MB) |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|");
    for m in &rep.memory {
        let path = match m.mode {
            MemMode::Stream => "stream: `Reader` over the file",
            MemMode::Parse => "whole file read, then `parse`",
        };
        let buffered = match m.mode {
            MemMode::Stream => format!("{:.2}", m.peak_buffered as f64 / MB),
            MemMode::Parse => "—".into(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} | {} |",
            m.file,
            path,
            m.peak_rss as f64 / MB,
            buffered
        );
    }
    s.push_str(&targets(rep));
    s
}

/// The issue's targets against the measured figures.
fn targets(rep: &Report) -> String {
    let mut s = String::from("\n| target | measured | met |\n|---|---|---|\n");
    let mut line = |target: &str, measured: Vec<String>, met: bool| {
        let _ = writeln!(
            s,
            "| {target} | {} | {} |",
            measured.join("; "),
            if met { "yes" } else { "**no**" }
        );
    };
    let edigate = |task: &str| -> Vec<&Row> {
        rep.rows
            .iter()
            .filter(|r| r.tool == "edigate" && r.task == task)
            .collect()
    };
    let tok = edigate(TOKENIZE);
    line(
        "tokenize ≥ 1 GB/s",
        tok.iter()
            .map(|r| format!("{} {} MB/s", r.file, speed(r.mb_per_s)))
            .collect(),
        !tok.is_empty() && tok.iter().all(|r| r.mb_per_s >= 1000.0),
    );
    let parse = edigate(PARSE);
    line(
        "full parse ≥ 400 MB/s",
        parse
            .iter()
            .map(|r| format!("{} {} MB/s", r.file, speed(r.mb_per_s)))
            .collect(),
        !parse.is_empty() && parse.iter().all(|r| r.mb_per_s >= 400.0),
    );
    let validate = edigate(VALIDATE);
    line(
        "validate + ack ≥ 200 MB/s",
        validate
            .iter()
            .map(|r| format!("{} {} MB/s", r.file, speed(r.mb_per_s)))
            .collect(),
        !validate.is_empty() && validate.iter().all(|r| r.mb_per_s >= 200.0),
    );
    let translate = edigate(TRANSLATE);
    line(
        "translate ≥ 100 MB/s",
        translate
            .iter()
            .map(|r| format!("{} {} MB/s", r.file, speed(r.mb_per_s)))
            .collect(),
        !translate.is_empty() && translate.iter().all(|r| r.mb_per_s >= 100.0),
    );
    let versus =
        |tool: &str, min: f64, label: &str, line: &mut dyn FnMut(&str, Vec<String>, bool)| {
            for r in rep.rows.iter().filter(|r| r.tool.starts_with(tool)) {
                if let (Some(task), Some(x)) = (&r.compared_with, r.edigate_ratio) {
                    let what = format!(
                        "{}: edigate {task} vs {} {}: {}",
                        r.file,
                        r.tool,
                        r.task,
                        fmt_ratio(x)
                    );
                    line(label, vec![what], x >= min);
                }
            }
        };
    versus("edifact-rs", 3.0, "≥ 3× edifact-rs", &mut line);
    versus("pydifact", 50.0, "≥ 50× pydifact", &mut line);
    let stream: Vec<&MemRow> = rep
        .memory
        .iter()
        .filter(|m| m.mode == MemMode::Stream)
        .collect();
    let (lo, hi) = stream.iter().fold((u64::MAX, 0), |(lo, hi), m| {
        (lo.min(m.peak_rss), hi.max(m.peak_rss))
    });
    let sizes = stream.iter().map(|m| m.bytes).max().unwrap_or(0) as f64
        / stream.iter().map(|m| m.bytes).min().unwrap_or(1).max(1) as f64;
    line(
        "streaming peak memory independent of file size",
        stream
            .iter()
            .map(|m| format!("{} {:.1} MB", m.file, m.peak_rss as f64 / MB))
            .collect(),
        // Files differing in size by more than 4× whose peaks differ by less than 1.5×.
        sizes > 4.0 && (hi as f64) < 1.5 * lo as f64,
    );
    s
}
