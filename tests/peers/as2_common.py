"""What the AS2 peer scripts (as2_peer.py, as2_daemon_peer.py) share: loopback checks, raw HTTP
messages as pyas2lib parses them, and a loopback listener that collects asynchronous MDNs."""
import http.server, queue, threading, urllib.parse


def loopback(url):
    return urllib.parse.urlparse(url).hostname in ("127.0.0.1", "localhost", "::1")


def raw_request(handler, body):
    """An HTTP request's header fields and body, as one raw message."""
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in handler.headers.items()) + b"\r\n" + body


def mdn_listener():
    """Starts a loopback HTTP server in a thread that answers every POST with an empty 200 and
    queues its raw request; returns (its /mdn URL, the queue)."""
    mdns = queue.Queue()

    class M(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            mdns.put(raw_request(self, body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), M)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_port}/mdn", mdns
