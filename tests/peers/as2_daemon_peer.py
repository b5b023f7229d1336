#!/usr/bin/env python3
"""pyas2lib as the AS2 partner of the running daemon (crates/edigate/tests/daemon_as2.rs), on loopback.

  python as2_daemon_peer.py serve DIR    AS2 receiver on a free 127.0.0.1 port, printed on stdout as
                                         "port N" once listening. Answers the MDN each message asks
                                         for (sync in the response; async: an empty 200, then the MDN
                                         POSTed to the message's URL, loopback only). Saves accepted
                                         payloads as DIR/inbox/<message id>; appends one JSON line per
                                         request to DIR/serve.log: {message_id, status, detail, answer, enc_alg, digest_alg,
                                         compressed} (the last three as pyas2lib read the message).
  python as2_daemon_peer.py send DIR URL FILE
                                         posts FILE to URL as the partner, reads and verifies the MDN,
                                         prints one JSON line per post: {message_id, mic, status,
                                         detail, attempt}.
  python as2_daemon_peer.py matrix DIR URL FILE
                                         in one process, every combination of {signed, unsigned} x
                                         {aes128, aes256, 3des, plain} x {compressed, uncompressed} x
                                         {sha1, sha256, sha512} x {sync, async, no MDN} (144), each
                                         carrying FILE (an X12 interchange) with its own control
                                         numbers and BEG03 (PO-MX-NNN): all are posted to URL, then
                                         their MDNs awaited (async ones on a loopback port of this
                                         script's own) and verified. One JSON line per combination:
                                         {name, po, message_id, http, status, detail, mdn, mdn_signed,
                                         signature_verified, mic, mdn_mic, mic_verified}. Unsigned
                                         messages ask for an unsigned MDN (pyas2lib has no MIC then).

DIR holds the identities made by as2_certs.sh: this script is DIR/partner.pem (password "test"), its
peer DIR/edigate.cert.pem. AS2 names: AS2_FROM (default "partner") and AS2_TO (default "edigate").

send, from the environment:
  AS2_ASYNC=1          ask for an asynchronous MDN, received on a loopback port of this script's own
  AS2_ENCRYPT=0        do not encrypt;  AS2_SIGN=0  do not sign (and ask for an unsigned MDN)
  AS2_ENCRYPT_TO=F     encrypt to certificate F instead (the wrong-certificate case)
  AS2_SIGN_WITH=F      sign with identity F instead (the wrong-signer case)
  AS2_TAMPER=FROM:TO   replace the bytes FROM with TO in the posted body, after signing
  AS2_CONTENT_TYPE     the payload's content type (default application/edi-x12)
  AS2_POSTS=N          post the very same message (same Message-ID, same bytes) N times (default 1)
  AS2_RETRY_S=S        while a post fails (connection refused or reset, no answer), post the same
                       message again every 0.3 s for up to S seconds (what AS2 senders do)
serve, from the environment (N counts requests from the first):
  AS2_SERVE_FAIL_FIRST=N      answer HTTP 500 to the first N messages, without reading them
  AS2_SERVE_BAD_MIC_FIRST=N   the MDN of the first N messages returns a wrong MIC
  AS2_SERVE_NO_MDN_FIRST=N    send no asynchronous MDN for the first N messages
  AS2_SERVE_LATE_FIRST=N      send the asynchronous MDN of the first N messages only after
                              AS2_SERVE_LATE_MS milliseconds (default 3000)
"""
import http.server, json, os, pathlib, queue, re, sys, threading, time, urllib.error, urllib.parse, urllib.request
from pyas2lib import as2

from as2_common import loopback, mdn_listener, raw_request



def parties(d, sign=True, encrypt=True, sign_with=None, encrypt_to=None, mdn_url=None):
    d = pathlib.Path(d)
    key = pathlib.Path(sign_with).read_bytes() if sign_with else (d / "partner.pem").read_bytes()
    own_key = (d / "partner.pem").read_bytes()
    org = as2.Organization(as2_name=os.environ.get("AS2_FROM", "partner"), sign_key=key, sign_key_pass="test",
                           decrypt_key=own_key, decrypt_key_pass="test", mdn_url=mdn_url)
    verify = (d / "edigate.cert.pem").read_bytes()
    enc = pathlib.Path(encrypt_to).read_bytes() if encrypt_to else verify
    partner = as2.Partner(as2_name=os.environ.get("AS2_TO", "edigate"), verify_cert=verify, encrypt_cert=enc,
                          validate_certs=False, compress=False, sign=sign, digest_alg="sha256",
                          encrypt=encrypt, enc_alg="aes_256_cbc", mdn_mode="ASYNC" if mdn_url else "SYNC",
                          mdn_digest_alg="sha256" if sign else None)
    return org, partner



def serve(d):
    d = pathlib.Path(d)
    inbox = d / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    counts = {"n": 0}
    lock = threading.Lock()
    fail_first = int(os.environ.get("AS2_SERVE_FAIL_FIRST", "0"))
    bad_mic_first = int(os.environ.get("AS2_SERVE_BAD_MIC_FIRST", "0"))
    no_mdn_first = int(os.environ.get("AS2_SERVE_NO_MDN_FIRST", "0"))
    late_first = int(os.environ.get("AS2_SERVE_LATE_FIRST", "0"))
    late_s = int(os.environ.get("AS2_SERVE_LATE_MS", "3000")) / 1000

    def log(entry):
        with lock, open(d / "serve.log", "a") as f:
            f.write(json.dumps(entry) + "\n")

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                counts["n"] += 1
                n = counts["n"]
            if n <= fail_first:
                log({"message_id": self.headers.get("Message-ID"), "status": "http-500", "detail": "", "answer": "500"})
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            org, partner = parties(d)
            msg = as2.Message()
            status, exc, mdn = msg.parse(raw_request(self, body), find_org_cb=lambda h: org,
                                         find_partner_cb=lambda h: partner)
            if status == "processed" and msg.content:
                (inbox / msg.message_id.replace("/", "_")).write_bytes(msg.content)
            detail = f"{exc[0]!r}" if exc and exc[0] else ""
            answer = "none"
            if mdn is not None and n <= bad_mic_first and msg.mic:
                msg.mic = b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
                mdn = as2.Mdn(mdn_mode=mdn.mdn_mode, digest_alg=mdn.digest_alg, mdn_url=mdn.mdn_url)
                mdn.build(message=msg, status=status)
                answer = "bad-mic"
            if mdn is None:
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif mdn.mdn_url:
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if n <= no_mdn_first:
                    answer = "async-withheld"
                elif loopback(mdn.mdn_url):
                    answer = answer if answer != "none" else "async"
                    delay = late_s if n <= late_first else 0
                    if delay:
                        answer = "async-late"
                    req = urllib.request.Request(mdn.mdn_url, data=mdn.content, method="POST",
                                                 headers=dict(mdn.headers))

                    def post(req=req, delay=delay):
                        time.sleep(delay)
                        urllib.request.urlopen(req, timeout=30).read()

                    threading.Thread(target=post, daemon=True).start()
            else:
                answer = answer if answer != "none" else "sync"
                self.send_response(200)
                for k, v in mdn.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(mdn.content)))
                self.end_headers()
                self.wfile.write(mdn.content)
            log({"message_id": msg.message_id, "status": status, "detail": detail, "answer": answer,
                 "enc_alg": msg.enc_alg, "digest_alg": msg.digest_alg, "compressed": msg.compressed})

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    print(f"port {srv.server_port}", flush=True)
    srv.serve_forever()


def send(d, url, file):
    if not loopback(url):
        sys.exit("send: loopback URLs only")
    mdn_url, mdns = None, None
    if os.environ.get("AS2_ASYNC") == "1":
        mdn_url, mdns = mdn_listener()
    sign = os.environ.get("AS2_SIGN", "1") != "0"
    org, partner = parties(d, sign=sign, encrypt=os.environ.get("AS2_ENCRYPT", "1") != "0",
                           sign_with=os.environ.get("AS2_SIGN_WITH"),
                           encrypt_to=os.environ.get("AS2_ENCRYPT_TO"), mdn_url=mdn_url)
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
    retry_until = time.time() + float(os.environ.get("AS2_RETRY_S", "0"))
    for attempt in range(1, int(os.environ.get("AS2_POSTS", "1")) + 1):
        while True:
            req = urllib.request.Request(url, data=content, method="POST", headers=dict(msg.headers))
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    code = r.status
                    mdn_raw = raw_request(r, r.read())
                break
            except urllib.error.HTTPError as e:
                code, mdn_raw = e.code, b""
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException) as e:
                if time.time() >= retry_until:
                    print(json.dumps({"message_id": msg.message_id, "status": "unreachable",
                                      "detail": repr(e), "attempt": attempt}), flush=True)
                    return
                time.sleep(0.3)
        if code != 200:
            print(json.dumps({"message_id": msg.message_id, "status": f"http-{code}", "detail": "",
                              "attempt": attempt}), flush=True)
            continue
        if mdn_url:
            try:
                mdn_raw = mdns.get(timeout=30)
            except queue.Empty:
                print(json.dumps({"message_id": msg.message_id, "status": "no-async-mdn", "detail": "",
                                  "attempt": attempt}), flush=True)
                continue
        status, detail = as2.Mdn().parse(mdn_raw, find_message_cb=lambda mid, rcpt: msg)
        returned = re.search(rb"Received-Content-MIC:\s*([^,\r\n]+)", mdn_raw, re.IGNORECASE)
        mdn_id = re.search(rb"^Message-ID:\s*(\S+)", mdn_raw, re.IGNORECASE | re.MULTILINE)
        print(json.dumps({"message_id": msg.message_id, "mic": msg.mic.decode() if msg.mic else None,
                          "mdn_mic": returned.group(1).decode().strip() if returned else None,
                          "mdn_id": mdn_id.group(1).decode() if mdn_id else None,
                          "status": status, "detail": detail, "attempt": attempt,
                          "signed": b"application/pkcs7-signature" in mdn_raw}), flush=True)


def distinct_x12(data, n):
    """FILE with interchange, group and set control numbers and the PO number (BEG03) of its own."""
    text = data.decode("latin-1")
    sep, term = text[3], text[105]
    numbers = {"ISA": (13, f"{n:09d}"), "IEA": (2, f"{n:09d}"), "GS": (6, str(n)), "GE": (2, str(n)),
               "ST": (2, f"{n:04d}"), "SE": (2, f"{n:04d}"), "BEG": (3, f"PO-MX-{n:03d}")}
    out = []
    for seg in text.split(term):
        body = seg.lstrip()
        lead = seg[:len(seg) - len(body)]
        els = body.split(sep)
        if els[0] in numbers:
            i, v = numbers[els[0]]
            els[i] = v
        out.append(lead + sep.join(els))
    return term.join(out).encode("latin-1")


def payload_entity(data, filename):
    """The payload MIME entity pyas2lib.Message.build makes of DATA, in canonical (CRLF) form."""
    from email import encoders, message as email_message
    from pyas2lib.utils import canonicalize
    entity = email_message.Message()
    entity.set_payload(data)
    entity.set_type("application/edi-x12")
    encoders.encode_7or8bit(entity)
    entity.add_header("Content-Disposition", "attachment", filename=filename)
    del entity["MIME-Version"]
    return canonicalize(entity)


def matrix(d, url, file):
    import base64, hashlib
    from concurrent.futures import ThreadPoolExecutor
    if not loopback(url):
        sys.exit("matrix: loopback URLs only")
    d = pathlib.Path(d)
    own_key = (d / "partner.pem").read_bytes()
    edigate_cert = (d / "edigate.cert.pem").read_bytes()
    template = pathlib.Path(file).read_bytes()
    mdn_url, async_mdns = mdn_listener()
    org = as2.Organization(as2_name=os.environ.get("AS2_FROM", "partner"), sign_key=own_key,
                           sign_key_pass="test", decrypt_key=own_key, decrypt_key_pass="test",
                           mdn_url=mdn_url)
    combos = []
    for sign in (True, False):
        for enc in ("aes_128_cbc", "aes_256_cbc", "tripledes_192_cbc", None):
            for compress in (True, False):
                for digest in ("sha1", "sha256", "sha512"):
                    for mdn in ("sync", "async", "none"):
                        combos.append((sign, enc, compress, digest, mdn))
    results, messages, entities = {}, {}, {}
    for n, (sign, enc, compress, digest, mdn) in enumerate(combos, start=1):
        name = "/".join([
            "signed" if sign else "unsigned",
            {"aes_128_cbc": "aes128", "aes_256_cbc": "aes256", "tripledes_192_cbc": "3des", None: "plain"}[enc],
            "compressed" if compress else "uncompressed", digest, f"{mdn}-mdn"])
        partner = as2.Partner(as2_name=os.environ.get("AS2_TO", "edigate"), verify_cert=edigate_cert,
                              encrypt_cert=edigate_cert, validate_certs=False, compress=compress, sign=sign,
                              digest_alg=digest, encrypt=enc is not None, enc_alg=enc or "aes_256_cbc",
                              mdn_mode={"sync": "SYNC", "async": "ASYNC"}.get(mdn),
                              mdn_digest_alg=digest if sign else None)
        msg = as2.Message(org, partner)
        payload = distinct_x12(template, n)
        msg.build(payload, filename=f"po-mx-{n:03d}.x12", subject="EDI", content_type="application/edi-x12")
        messages[msg.message_id] = msg
        if enc or compress:
            entities[msg.message_id] = payload_entity(payload, f"po-mx-{n:03d}.x12")
        else:
            # Neither enveloped nor compressed: RFC 4130 section 7.3.1 puts the MIC over the
            # content alone, without header fields (the HTTP body as pyas2lib wrote it).
            entities[msg.message_id] = msg.content
        results[msg.message_id] = {"name": name, "po": f"PO-MX-{n:03d}", "message_id": msg.message_id,
                                   "mdn": mdn, "http": None, "status": None, "detail": None,
                                   "mdn_signed": False, "signature_verified": False,
                                   "mic": msg.mic.decode() if msg.mic else None, "mdn_mic": None,
                                   "mic_verified": False}

    def verify(raw, expected=None):
        """Reads an MDN with pyas2lib, which checks the signature of a signed MDN (a bad one is
        "failed/Failure") and the returned MIC against its own ("processed/warning" if they differ)."""
        mdn = as2.Mdn()
        status, detail = mdn.parse(raw, find_message_cb=lambda mid, rcpt: messages.get(mid))
        mid = getattr(mdn, "orig_message_id", None)
        if mid not in results or (expected and mid != expected):
            return None
        r = results[mid]
        returned = re.search(rb"Received-Content-MIC:\s*([^,\r\n]+)", raw, re.IGNORECASE)
        signed = re.search(rb"multipart/signed", raw.split(b"\r\n\r\n", 1)[0], re.IGNORECASE) is not None
        r.update(status=status, detail=detail, mdn_signed=signed,
                 mdn_mic=returned.group(1).decode().strip() if returned else None)
        r["signature_verified"] = signed and status == "processed"
        if r["mic"] is None and returned:
            # Unsigned, pyas2lib has no MIC of its own: recomputed here over the payload entity as
            # the receiver finds it (decrypted, decompressed), what edigate's as2 crate returns.
            alg = re.search(rb"Received-Content-MIC:[^,\r\n]*,\s*([\w-]+)", raw, re.IGNORECASE)
            alg = alg.group(1).decode().lower().replace("-", "") if alg else "sha256"
            r["mic_expected"] = base64.b64encode(hashlib.new(alg, entities[mid]).digest()).decode()
            r["mic_verified"] = r["mdn_mic"] == r["mic_expected"] and status == "processed"
        else:
            r["mic_verified"] = r["mic"] is not None and r["mdn_mic"] == r["mic"] and status == "processed"
        return mid

    def post(msg):
        r = results[msg.message_id]
        req = urllib.request.Request(url, data=msg.content, method="POST", headers=dict(msg.headers))
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                r["http"] = resp.status
                raw = raw_request(resp, resp.read())
        except urllib.error.HTTPError as e:
            r["http"], r["status"] = e.code, f"http-{e.code}"
            return
        except Exception as e:  # one failing post must not end the matrix
            r["status"], r["detail"] = "unreachable", repr(e)
            return
        if r["mdn"] == "sync" and verify(raw, msg.message_id) is None:
            r["status"] = "mdn-for-another-message"
        elif r["mdn"] == "none":
            r["status"] = "no-mdn" if not raw.split(b"\r\n\r\n", 1)[1] else "unexpected-mdn"

    # A few posts at once, as AS2 senders do; the daemon answers each on its own.
    with ThreadPoolExecutor(max_workers=int(os.environ.get("AS2_MATRIX_PARALLEL", "4"))) as pool:
        list(pool.map(post, messages.values()))
    waiting = {mid for mid, r in results.items() if r["mdn"] == "async" and r["http"] == 200}
    deadline = time.time() + float(os.environ.get("AS2_MATRIX_WAIT_S", "30"))
    while waiting and time.time() < deadline:
        try:
            raw = async_mdns.get(timeout=max(0.01, deadline - time.time()))
        except queue.Empty:
            break
        waiting.discard(verify(raw))
    for mid in waiting:
        results[mid]["status"] = "no-async-mdn"
    for r in results.values():
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    import http.client
    if len(sys.argv) >= 3 and sys.argv[1] == "serve":
        serve(sys.argv[2])
    elif len(sys.argv) >= 5 and sys.argv[1] == "send":
        send(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) >= 5 and sys.argv[1] == "matrix":
        matrix(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
