#!/usr/bin/env bash
# edigate's benchmarks, end to end, on a fresh machine:
#   bash bench/run.sh
# 1. installs the peers: a venv in bench/.venv with pydifact, node-x12 in bench/node (npm ci);
# 2. builds edigate-bench and edigate in release;
# 3. generates the orders files (X12 850 and EDIFACT ORDERS, deterministic) into bench/data;
# 4. measures edigate, edifact-rs, the edi crate, pydifact and node-x12 on them, one core;
# 5. writes bench/results/latest.md and latest.json (the tables for bench/README.md);
# 6. runs `edigate serve` and measures interchanges per second end to end and arrival-to-event
#    latency: bench/results/daemon-latest.md and daemon-latest.json;
# 7. moves a 200 MB file each way through a real OpenSSH sshd on loopback with edigate's SFTP
#    client and with OpenSSH's `sftp`: bench/results/sftp-latest.md and sftp-latest.json.
#
# Knobs (environment): SIZES (MB, default "10,200"), PEER_SIZES (sizes the slow Python/Node peers
# run on, default "10"), REPS (timed runs per Rust workload, default 7), PEER_REPS (default 3),
# CPU (the core to pin to, default the last one; CPU=none to not pin), SKIP_PEERS=1 (Rust only),
# SOURCE_REV (what to call the measured source when this is not a git checkout),
# SKIP_PARSER=1 (steps 3-5 not run), SKIP_DAEMON=1 (step 6 not run), DAEMON_FILES (interchanges
# per throughput run, default 5000), DAEMON_RUNS (throughput runs, default 3), DAEMON_RATE
# (files per second in the latency run, default 1000), DAEMON_SECONDS (default 5),
# DAEMON_SCRATCH (where the daemon's data directories go, default the system's temp dir),
# SKIP_SFTP=1 (step 7 not run), SFTP_MB (file size, default 200), SFTP_RUNS (timed transfers
# per client and direction, default 5). CARGO_TARGET_DIR is honoured.
set -euo pipefail

bench=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$bench/.." && pwd)
cd "$root"

SIZES=${SIZES:-10,200}
PEER_SIZES=${PEER_SIZES:-10}
REPS=${REPS:-7}
PEER_REPS=${PEER_REPS:-3}
SKIP_PEERS=${SKIP_PEERS:-0}
SKIP_PARSER=${SKIP_PARSER:-0}
SKIP_DAEMON=${SKIP_DAEMON:-0}
DAEMON_FILES=${DAEMON_FILES:-5000}
DAEMON_RUNS=${DAEMON_RUNS:-3}
DAEMON_RATE=${DAEMON_RATE:-1000}
DAEMON_SECONDS=${DAEMON_SECONDS:-5}
SKIP_SFTP=${SKIP_SFTP:-0}
SFTP_MB=${SFTP_MB:-200}
SFTP_RUNS=${SFTP_RUNS:-5}

peer_args=()
if [ "$SKIP_PEERS" != 1 ] && [ "$SKIP_PARSER" != 1 ]; then
  # Python peer: pydifact, pinned.
  if [ ! -x "$bench/.venv/bin/python" ]; then
    python3 -m venv "$bench/.venv" || {
      echo "python3 -m venv failed; on Debian: apt-get install -y python3-venv" >&2
      exit 1
    }
  fi
  "$bench/.venv/bin/pip" install -q --disable-pip-version-check pydifact==0.2.3
  peer_args+=(--python "$bench/.venv/bin/python")

  # Node peer: node-x12, pinned by bench/node/package-lock.json.
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
  fi
  if [ ! -d "$bench/node/node_modules/node-x12" ] \
    || [ "$bench/node/package-lock.json" -nt "$bench/node/node_modules/.package-lock.json" ]; then
    (cd "$bench/node" && npm ci --silent --no-audit --no-fund)
  fi
  peer_args+=(--node "$(command -v node)")
fi

# The daemon benchmark runs the release `edigate` binary as a child process.
packages=(-p edigate-bench)
if [ "$SKIP_DAEMON" != 1 ]; then
  packages+=(-p edigate)
fi
cargo build --release "${packages[@]}"
target=${CARGO_TARGET_DIR:-$root/target}
exe="$target/release/edigate-bench"

# Which source was measured: the git revision, and whether the measured crates had uncommitted
# changes (the parser: crates/edi; the daemon: any crate).
rev_of() {
  if [ -n "${SOURCE_REV:-}" ]; then
    echo "$SOURCE_REV"
    return
  fi
  local rev
  rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
  if [ -n "$(git -C "$root" status --porcelain -- "$1" 2>/dev/null)" ]; then
    rev="$rev with uncommitted changes in $1"
  fi
  echo "$rev"
}

mkdir -p "$bench/results"
load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
  echo "note: load average is $load; other processes on this machine will slow the runs down" >&2
fi

if [ "$SKIP_PARSER" != 1 ]; then
  "$exe" generate --dir "$bench/data" --sizes "$SIZES"
  source_rev=$(rev_of crates/edi)

  pin=()
  ncpu=$(nproc)
  CPU=${CPU:-$((ncpu - 1))}
  if [ "$CPU" != none ] && command -v taskset >/dev/null 2>&1; then
    pin=(taskset -c "$CPU")
  fi
  "${pin[@]}" "$exe" compare --dir "$bench/data" --sizes "$SIZES" --peer-sizes "$PEER_SIZES" \
    --reps "$REPS" --peer-reps "$PEER_REPS" --bench-dir "$bench" \
    --source "$source_rev" --out "$bench/results/latest" "${peer_args[@]}"
  echo "results: $bench/results/latest.md and latest.json"
fi

if [ "$SKIP_DAEMON" != 1 ]; then
  # Not pinned: the daemon's ingest and delivery threads and this load generator share the
  # whole machine, as a deployed gateway would.
  scratch=()
  if [ -n "${DAEMON_SCRATCH:-}" ]; then
    scratch=(--scratch "$DAEMON_SCRATCH")
  fi
  "$exe" daemon --edigate "$target/release/edigate" --repo "$root" \
    --files "$DAEMON_FILES" --runs "$DAEMON_RUNS" --rate "$DAEMON_RATE" \
    --seconds "$DAEMON_SECONDS" --source "$(rev_of crates)" \
    --out "$bench/results/daemon-latest" "${scratch[@]}"
fi

if [ "$SKIP_SFTP" != 1 ]; then
  # Needs sshd (openssh-server) and sftp (openssh-client); it says so when they are missing.
  "$exe" sftp --size-mb "$SFTP_MB" --runs "$SFTP_RUNS" --source "$(rev_of crates/sftp)" \
    --out "$bench/results/sftp-latest"
fi
