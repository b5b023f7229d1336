#!/usr/bin/env python3
"""pyas2lib as the AS2 partner of crates/as2's tests, over real HTTP on loopback.

  python as2_peer.py serve DIR           AS2 receiver on a free 127.0.0.1 port, printed on stdout as
                                         "port N" once listening; answers a signed sync MDN; saves
                                         each accepted payload as DIR/inbox/<message id> and appends
                                         "<message id> <status> <detail>" to DIR/serve.log. Stop: kill.
                                         (an asynchronous MDN: an empty 200, then the MDN POSTed to
                                         the URL the message named, loopback only)
  python as2_peer.py send DIR URL FILE   posts FILE to URL (loopback only), parses and verifies the
                                         MDN, prints one JSON line {message_id, mic, status, detail}

DIR holds the identities made by as2_certs.sh: this script is "partner" (DIR/partner.pem, password
"test") and its peer is "edigate" (DIR/edigate.cert.pem). Messages are signed (SHA-256) and
encrypted (AES-256-CBC), not compressed. For `send`, the environment may change that:
  AS2_COMPRESS=1     compress too (zlib CMS compressed data, before signing)
  AS2_ASYNC=1        ask for an asynchronous MDN, received on a loopback port of this script's own
  AS2_CONTENT_TYPE   the payload's content type (default application/edi-x12); pyas2lib sends
                     anything but application/octet-stream as canonical MIME text, LF made CRLF
  AS2_ENCRYPT=0      sign only
  AS2_ENCRYPT_TO     encrypt to this certificate instead of edigate's (the wrong-certificate case)
  AS2_SIGN_WITH      sign with this identity file instead of partner.pem (the wrong-signer case)
  AS2_TAMPER=FROM:TO replace the bytes FROM with TO in what is posted, after signing (sign only)

  python as2_peer.py batch DIR           one JSON request per stdin line, one JSON answer per stdout
                                         line, all in this process (no HTTP: the AS2 layer only):
    {"op": "build", "id", "payload", "sign", "enc", "compress", "digest", "mdn", "content_type"}
        pyas2lib builds a message from partner to edigate -> {"headers", "body", "message_id", "mic"}
    {"op": "verify_mdn", "id", "headers", "body"}
        pyas2lib checks edigate's MDN for the message built as "id" -> {"status", "detail"}
    {"op": "parse", "sign", "enc", "compress", "digest", "headers", "body"}
        pyas2lib reads edigate's message (the partnership requiring what it says) and answers
        -> {"status", "detail", "payload", "mdn": {"headers", "body"} or null}
  Bytes travel base64; headers as [[name, value], ...]; "enc" is a pyas2lib cipher name or null;
  "mdn" is "sync", "async" or "none". A request that raises answers {"error": "..."}.
"""
import http.server, json, os, pathlib, queue, sys, threading, urllib.parse, urllib.request
from pyas2lib import as2

from as2_common import loopback, mdn_listener



def parties(d, encrypt=True, sign_with=None, encrypt_to=None, compress=False, mdn_url=None):
    d = pathlib.Path(d)
    key = pathlib.Path(sign_with).read_bytes() if sign_with else (d / "partner.pem").read_bytes()
    own_key = (d / "partner.pem").read_bytes()
    org = as2.Organization(as2_name="partner", sign_key=key, sign_key_pass="test",
                           decrypt_key=own_key, decrypt_key_pass="test", mdn_url=mdn_url)
    verify = (d / "edigate.cert.pem").read_bytes()
    enc = pathlib.Path(encrypt_to).read_bytes() if encrypt_to else verify
    partner = as2.Partner(as2_name="edigate", verify_cert=verify, encrypt_cert=enc, validate_certs=False,
                          compress=compress, sign=True, digest_alg="sha256", encrypt=encrypt,
                          enc_alg="aes_256_cbc", mdn_mode="ASYNC" if mdn_url else "SYNC", mdn_digest_alg="sha256")
    return org, partner


def serve(d):
    d = pathlib.Path(d)
    inbox = d / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    org, partner = parties(d)

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            raw = b"".join(f"{k}: {v}\r\n".encode() for k, v in self.headers.items()) + b"\r\n" + body
            msg = as2.Message()
            status, exc, mdn = msg.parse(raw, find_org_cb=lambda h: org, find_partner_cb=lambda h: partner)
            if status == "processed" and msg.content:
                (inbox / msg.message_id.replace("/", "_")).write_bytes(msg.content)
            detail = f"{exc[0]!r}" if exc and exc[0] else ""
            with open(d / "serve.log", "a") as log:
                log.write(f"{msg.message_id} {status} {detail}\n")
            if mdn is None:
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if mdn.mdn_url:
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if loopback(mdn.mdn_url):
                    req = urllib.request.Request(mdn.mdn_url, data=mdn.content, method="POST",
                                                 headers=dict(mdn.headers))
                    threading.Thread(target=lambda: urllib.request.urlopen(req, timeout=30).read(),
                                     daemon=True).start()
                return
            self.send_response(200)
            for k, v in mdn.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(mdn.content)))
            self.end_headers()
            self.wfile.write(mdn.content)

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), H)
    print(f"port {srv.server_port}", flush=True)
    srv.serve_forever()


def send(d, url, file):
    if not loopback(url):
        sys.exit("send: loopback URLs only")
    mdn_url, mdns = None, None
    if os.environ.get("AS2_ASYNC") == "1":
        mdn_url, mdns = mdn_listener()
    org, partner = parties(d, encrypt=os.environ.get("AS2_ENCRYPT", "1") != "0",
                           sign_with=os.environ.get("AS2_SIGN_WITH"),
                           encrypt_to=os.environ.get("AS2_ENCRYPT_TO"),
                           compress=os.environ.get("AS2_COMPRESS") == "1", mdn_url=mdn_url)
    msg = as2.Message(org, partner)
    payload = pathlib.Path(file).read_bytes()
    ctype = os.environ.get("AS2_CONTENT_TYPE", "application/edi-x12")
    msg.build(payload, filename=os.path.basename(file), subject="EDI", content_type=ctype)
    content = msg.content
    tamper = os.environ.get("AS2_TAMPER")
    if tamper:
        old, new = tamper.split(":", 1)
        assert old.encode() in content, "AS2_TAMPER: bytes not found in the message"
        content = content.replace(old.encode(), new.encode(), 1)
    req = urllib.request.Request(url, data=content, method="POST", headers=dict(msg.headers))
    with urllib.request.urlopen(req, timeout=30) as r:
        mdn_raw = b"".join(f"{k}: {v}\r\n".encode() for k, v in r.headers.items()) + b"\r\n" + r.read()
    if mdn_url:
        mdn_raw = mdns.get(timeout=30)
    status, detail = as2.Mdn().parse(mdn_raw, find_message_cb=lambda mid, rcpt: msg)
    print(json.dumps({"message_id": msg.message_id, "mic": msg.mic.decode() if msg.mic else None,
                      "status": status, "detail": detail}), flush=True)


def batch(d):
    import base64, traceback
    d = pathlib.Path(d)
    own_key = (d / "partner.pem").read_bytes()
    edigate_cert = (d / "edigate.cert.pem").read_bytes()
    built = {}

    def partner_for(req):
        mdn = req.get("mdn", "sync")
        return as2.Partner(as2_name="edigate", verify_cert=edigate_cert, encrypt_cert=edigate_cert,
                           validate_certs=False, compress=req["compress"], sign=req["sign"],
                           digest_alg=req["digest"], encrypt=bool(req["enc"]),
                           enc_alg=req["enc"] or "aes_256_cbc",
                           mdn_mode={"sync": "SYNC", "async": "ASYNC"}.get(mdn),
                           mdn_digest_alg=req["digest"])

    def org():
        # The async MDN URL is only announced: at this layer nothing is posted to it.
        return as2.Organization(as2_name="partner", sign_key=own_key, sign_key_pass="test",
                                decrypt_key=own_key, decrypt_key_pass="test",
                                mdn_url="http://127.0.0.1:9/mdn")

    def raw(req):
        head = b"".join(f"{k}: {v}\r\n".encode() for k, v in req["headers"])
        return head + b"\r\n" + base64.b64decode(req["body"])

    def handle(req):
        op = req["op"]
        if op == "build":
            msg = as2.Message(org(), partner_for(req))
            msg.build(base64.b64decode(req["payload"]), filename="po.x12", subject="EDI",
                      content_type=req.get("content_type", "application/edi-x12"))
            built[req["id"]] = msg
            return {"headers": [[k, v] for k, v in msg.headers.items()],
                    "body": base64.b64encode(msg.content).decode(),
                    "message_id": msg.message_id, "mic": msg.mic.decode() if msg.mic else None}
        if op == "verify_mdn":
            msg = built.pop(req["id"])
            status, detail = as2.Mdn().parse(raw(req), find_message_cb=lambda mid, rcpt: msg)
            return {"status": status, "detail": detail}
        if op == "parse":
            o, p = org(), partner_for(req)
            msg = as2.Message()
            status, exc, mdn = msg.parse(raw(req), find_org_cb=lambda h: o, find_partner_cb=lambda h: p)
            detail = f"{exc[0]!r}" if exc and exc[0] else ""
            return {"status": status, "detail": detail,
                    "payload": base64.b64encode(msg.content).decode() if status == "processed" and msg.content else None,
                    "mdn": None if mdn is None else {"headers": [[k, v] for k, v in mdn.headers.items()],
                                                      "body": base64.b64encode(mdn.content).decode()}}
        raise ValueError(f"unknown op {op!r}")

    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = handle(json.loads(line))
        except Exception as e:  # one failing request must not end the batch
            answer = {"error": f"{e!r}\n{traceback.format_exc()}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "serve":
        serve(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "batch":
        batch(sys.argv[2])
    elif len(sys.argv) >= 5 and sys.argv[1] == "send":
        send(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
