#!/usr/bin/env python3
"""pyas2lib doing the AS2 benchmark's round, for comparison with crates/as2.

  python as2_bench.py DIR SIZE SECONDS [inprocess|http]

One round: "edigate" builds a message to "partner" (signed SHA-256, encrypted AES-256-CBC,
asking for a signed sync MDN); "partner" parses it and builds the MDN; "edigate" parses and
checks the MDN. `inprocess` (the default) hands the bytes over directly; `http` POSTs the
message over a kept-alive loopback connection to a ThreadingHTTPServer on 127.0.0.1 (a thread
of this process) that answers with the MDN in the response, one message in flight at a time.
Rounds repeat until SECONDS have passed (at least two, after one warm-up); prints one JSON line
{"rounds", "seconds"}. DIR holds the identities made by tests/peers/as2_certs.sh (edigate and
partner, password "test"). The payload is the one the Rust side builds: X12 PO1 lines, CRLF,
SIZE bytes.
"""
import http.client, http.server, json, pathlib, socket, sys, threading, time
from pyas2lib import as2

LINE = b"PO1*1*10*EA*9.99**VP*ITEM-0001*BP*CUST-0001~\r\n"


def payload(size):
    return (LINE * (size // len(LINE) + 1))[:size]


def raw_message(headers, body):
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in headers) + b"\r\n" + body


def serve(pa, from_ed):
    """Starts the "partner" receiver on a free loopback port; returns the server."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the client expects
        disable_nagle_algorithm = True  # small responses must not wait for delayed ACKs

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            rec = as2.Message()
            status, exc, mdn = rec.parse(raw_message(self.headers.items(), body),
                                         find_org_cb=lambda h: pa,
                                         find_partner_cb=lambda h: from_ed)
            assert status == "processed", (status, exc)
            self.send_response(200)
            for k, v in mdn.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(mdn.content)))
            self.end_headers()
            self.wfile.write(mdn.content)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def main(d, size, seconds, mode="inprocess"):
    d = pathlib.Path(d)
    ed_key, pa_key = (d / "edigate.pem").read_bytes(), (d / "partner.pem").read_bytes()
    ed_cert, pa_cert = (d / "edigate.cert.pem").read_bytes(), (d / "partner.cert.pem").read_bytes()
    ed = as2.Organization(as2_name="edigate", sign_key=ed_key, sign_key_pass="test",
                          decrypt_key=ed_key, decrypt_key_pass="test")
    pa = as2.Organization(as2_name="partner", sign_key=pa_key, sign_key_pass="test",
                          decrypt_key=pa_key, decrypt_key_pass="test")
    to_pa = as2.Partner(as2_name="partner", verify_cert=pa_cert, encrypt_cert=pa_cert,
                        validate_certs=False, sign=True, digest_alg="sha256", encrypt=True,
                        enc_alg="aes_256_cbc", mdn_mode="SYNC", mdn_digest_alg="sha256")
    from_ed = as2.Partner(as2_name="edigate", verify_cert=ed_cert, encrypt_cert=ed_cert,
                          validate_certs=False, sign=True, digest_alg="sha256", encrypt=True,
                          enc_alg="aes_256_cbc", mdn_mode="SYNC", mdn_digest_alg="sha256")
    data = payload(size)
    conn = None
    if mode == "http":
        srv = serve(pa, from_ed)
        conn = http.client.HTTPConnection("127.0.0.1", srv.server_address[1], timeout=300)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def http_round_trip():
        msg = as2.Message(ed, to_pa)
        msg.build(data, filename="po.x12", content_type="application/edi-x12")
        conn.request("POST", "/as2", body=msg.content, headers=dict(msg.headers))
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200, resp.status
        status, detail = as2.Mdn().parse(raw_message(resp.getheaders(), body),
                                         find_message_cb=lambda mid, rcpt: msg)
        assert status == "processed", (status, detail)

    def round_trip():
        msg = as2.Message(ed, to_pa)
        msg.build(data, filename="po.x12", content_type="application/edi-x12")
        raw = b"".join(f"{k}: {v}\r\n".encode() for k, v in msg.headers.items()) + b"\r\n" + msg.content
        rec = as2.Message()
        status, exc, mdn = rec.parse(raw, find_org_cb=lambda h: pa, find_partner_cb=lambda h: from_ed)
        assert status == "processed" and rec.content == data, (status, exc)
        mdn_raw = b"".join(f"{k}: {v}\r\n".encode() for k, v in mdn.headers.items()) + b"\r\n" + mdn.content
        status, detail = as2.Mdn().parse(mdn_raw, find_message_cb=lambda mid, rcpt: msg)
        assert status == "processed", (status, detail)

    if mode == "http":
        round_trip = http_round_trip
    elif mode != "inprocess":
        sys.exit(f"unknown mode {mode!r}")
    round_trip()  # warm-up (and, over HTTP, the connection)
    rounds, start = 0, time.perf_counter()
    while rounds < 2 or time.perf_counter() - start < seconds:
        round_trip()
        rounds += 1
    print(json.dumps({"rounds": rounds, "seconds": time.perf_counter() - start}), flush=True)


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), *sys.argv[4:])
