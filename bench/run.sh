#!/usr/bin/env bash
# edigate's parser benchmark, end to end, on a fresh machine:
#   bash bench/run.sh
# 1. installs the peers: a venv in bench/.venv with pydifact, node-x12 in bench/node (npm ci);
# 2. builds edigate-bench in release;
# 3. generates the orders files (X12 850 and EDIFACT ORDERS, deterministic) into bench/data;
# 4. measures edigate, edifact-rs, the edi crate, pydifact and node-x12 on them, one core;
# 5. writes bench/results/latest.md and latest.json (the tables for bench/README.md).
#
# Knobs (environment): SIZES (MB, default "10,200"), PEER_SIZES (sizes the slow Python/Node peers
# run on, default "10"), REPS (timed runs per Rust workload, default 7), PEER_REPS (default 3),
# CPU (the core to pin to, default the last one; CPU=none to not pin), SKIP_PEERS=1 (Rust only),
# SOURCE_REV (what to call the measured parser source when this is not a git checkout).
set -euo pipefail

bench=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$bench/.." && pwd)
cd "$root"

SIZES=${SIZES:-10,200}
PEER_SIZES=${PEER_SIZES:-10}
REPS=${REPS:-7}
PEER_REPS=${PEER_REPS:-3}
SKIP_PEERS=${SKIP_PEERS:-0}

peer_args=()
if [ "$SKIP_PEERS" != 1 ]; then
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

cargo build --release -p edigate-bench
exe="$root/target/release/edigate-bench"

"$exe" generate --dir "$bench/data" --sizes "$SIZES"

# Which parser was measured: the git revision, and whether crates/edi had uncommitted changes.
if [ -n "${SOURCE_REV:-}" ]; then
  source_rev=$SOURCE_REV
else
  source_rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
  if [ -n "$(git -C "$root" status --porcelain -- crates/edi 2>/dev/null)" ]; then
    source_rev="$source_rev with uncommitted changes in crates/edi"
  fi
fi

pin=()
ncpu=$(nproc)
CPU=${CPU:-$((ncpu - 1))}
if [ "$CPU" != none ] && command -v taskset >/dev/null 2>&1; then
  pin=(taskset -c "$CPU")
fi
load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
  echo "note: load average is $load; other processes on this machine will slow the runs down" >&2
fi

mkdir -p "$bench/results"
"${pin[@]}" "$exe" compare --dir "$bench/data" --sizes "$SIZES" --peer-sizes "$PEER_SIZES" \
  --reps "$REPS" --peer-reps "$PEER_REPS" --bench-dir "$bench" \
  --source "$source_rev" --out "$bench/results/latest" "${peer_args[@]}"
echo "results: $bench/results/latest.md and latest.json"
