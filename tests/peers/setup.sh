#!/bin/sh
# Puts the peers that edigate's tests compare against (tests/integration/peers.rs) in place:
#   - pydifact, aiosmtpd (the SMTP server of the EDI-by-email tests, run through smtp_sink.py)
#     and pyas2lib (crates/as2's AS2 peer), pinned in requirements.txt, in a venv at
#     tests/peers/.venv
#   - Chromium, headless, which renders the partner report's HTML page in a test
#   - node-x12 and edifact, pinned by node/package-lock.json, in tests/peers/node/node_modules
#   - OpenSSH's sshd and ssh-keygen, which crates/sftp's tests run on loopback as the SFTP server
#     (and openssl, which hashes the password of the password-login tests)
# For a fresh Debian 12 machine, as root or not (apt-get, through sudo when not root, only for
# what is missing: python3-venv, nodejs, npm, openssh-server, chromium). Idempotent, and quick when the
# pinned versions are already installed: then it neither runs pip nor npm.
#
#   sh tests/peers/setup.sh        (from anywhere; the project's test script runs it before cargo test)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv="$here/.venv"
node_dir="$here/node"

say() { printf 'peers: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
  else die "needs root for: $* (run this as root once, or install it yourself)"
  fi
}

apt_updated=
apt_install() {
  say "installing Debian packages: $*"
  if [ -z "$apt_updated" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- Python: pydifact, aiosmtpd, pyas2lib ---------------------------------------------------

# Every "name==version" line of requirements.txt is installed at that version in the venv.
python_ok() {
  [ -x "$venv/bin/python" ] || return 1
  "$venv/bin/python" - "$here/requirements.txt" <<'PY' 2>/dev/null
import re, sys
from importlib.metadata import version, PackageNotFoundError
for line in open(sys.argv[1]):
    m = re.match(r"\s*([A-Za-z0-9_.-]+)==([^\s\\;]+)", line)
    if not m:
        continue
    try:
        if version(m.group(1)) != m.group(2):
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
}

make_venv() {
  rm -rf "$venv"
  command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    # Debian's python3 has no venv/ensurepip without python3-venv.
    rm -rf "$venv"
    apt_install python3-venv
    python3 -m venv "$venv" || /usr/bin/python3 -m venv "$venv"
  fi
}

if python_ok; then
  say "python peers present: $(sed -n 's/^\([A-Za-z0-9_.-]*==[^ ]*\).*/\1/p' "$here/requirements.txt" | paste -sd ' ' -)"
else
  # A venv that cannot run pip (interpreter upgraded or removed, half-made) is rebuilt.
  if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    make_venv
  fi
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input \
    --require-hashes -r "$here/requirements.txt"
  python_ok || die "the pinned Python peers did not install into $venv"
  say "python peers installed in $venv"
fi

# oscrypto 1.3.0 (pyas2lib's crypto) cannot parse a three-part OpenSSL version such as "3.0.19"
# ("Error detecting the version of libcrypto"); the fix is upstream but unreleased, so its
# version regex is widened here (idempotent: the widened regex no longer matches the old one).
for f in "$venv"/lib/python3*/site-packages/oscrypto/_openssl/_libcrypto_c*.py; do
  [ -f "$f" ] || continue
  sed -i 's/\\\\b(\\\\d\\\\.\\\\d\\\\.\\\\d\[a-z\]\*)\\\\b/\\\\b(\\\\d+\\\\.\\\\d+\\\\.\\\\d+[a-z]*)\\\\b/' "$f"
done
"$venv/bin/python" -c "import pyas2lib.as2, oscrypto.asymmetric" 2>/dev/null \
  || die "pyas2lib does not load (the oscrypto patch did not apply?)"

# --- Node: node-x12, edifact ---------------------------------------------------------------------

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  apt_install nodejs npm
fi

# Every package package-lock.json pins is installed at exactly that version.
node_ok() {
  [ -d "$node_dir/node_modules" ] || return 1
  node - "$node_dir" <<'JS' 2>/dev/null
const fs = require('fs'), path = require('path')
const dir = process.argv[2]
const lock = JSON.parse(fs.readFileSync(path.join(dir, 'package-lock.json'), 'utf8'))
for (const [where, meta] of Object.entries(lock.packages || {})) {
  if (!where) continue
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, where, 'package.json'), 'utf8'))
  if (pkg.version !== meta.version) process.exit(1)
}
JS
}

if node_ok; then
  say "node peers present: $(cd "$node_dir" && node -p 'Object.entries(require("./package.json").dependencies).map(([n, v]) => n + "@" + v).join(" ")')"
else
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
  node_ok || die "npm ci did not install what $node_dir/package-lock.json pins"
  say "node peers installed in $node_dir/node_modules"
fi

# --- OpenSSH: the SFTP server of crates/sftp's tests ------------------------------------------

# The tests start /usr/sbin/sshd themselves, with their own config on a free loopback port; the
# system service is not used (and not started where policy-rc.d forbids it).
if [ ! -x /usr/sbin/sshd ] || ! command -v ssh-keygen >/dev/null 2>&1; then
  apt_install openssh-server openssh-client
  [ -x /usr/sbin/sshd ] || die "openssh-server did not install /usr/sbin/sshd"
fi
say "openssh present: $(/usr/sbin/sshd -V 2>&1 | head -n 1)"
# The password-login tests hash a test password with `openssl passwd` and give sshd a private
# /etc/shadow with `unshare` and `mount` (util-linux, mount: on every Debian system).
command -v openssl >/dev/null 2>&1 || apt_install openssl
for tool in unshare mount; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool (util-linux) is missing"
done

# --- Chromium: renders the partner report's HTML page in crates/edigate/tests/insights.rs -------

# Run headless by the test itself (--dump-dom after the page's scripts ran); nothing else uses it.
if ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium
  command -v chromium >/dev/null 2>&1 || die "chromium did not install"
fi
say "chromium present: $(chromium --version 2>/dev/null | head -n 1)"

say "ready"
