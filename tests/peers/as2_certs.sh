#!/bin/sh
# Throwaway AS2 identities for crates/as2's tests, made with the openssl CLI only.
#   sh as2_certs.sh DIR [NAME...]      (default names: edigate partner)
# writes, for each NAME:
#   DIR/NAME.pem      private key encrypted with the password "test" (PBES2/AES, which OpenSSL 3
#                     reads without its legacy provider) followed by the self-signed certificate:
#                     what pyas2lib loads
#   DIR/NAME.cert.pem the certificate alone: what the other side encrypts to and verifies with
set -eu
d=${1:?usage: as2_certs.sh DIR [NAME...]}
shift
[ $# -gt 0 ] || set -- edigate partner
mkdir -p "$d"
for n in "$@"; do
  openssl req -x509 -newkey rsa:2048 -sha256 -days 30 -subj "/CN=$n-as2-test" \
    -keyout "$d/$n.key.pem" -out "$d/$n.cert.pem" -passout pass:test 2>/dev/null
  cat "$d/$n.key.pem" "$d/$n.cert.pem" > "$d/$n.pem"
  rm "$d/$n.key.pem"
done
