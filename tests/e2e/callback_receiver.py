"""A local receiver for callbacks (spec section 7), for the end-to-end tests.

CallbackReceiver is a threaded HTTP(S) server on 127.0.0.1 (port 0) that
records every POST it gets and answers 200, unless told to answer another
status (to test retries) or to hold requests (to test timeouts). With
tls=make_certs(tmp_path) it serves HTTPS and requires a client certificate
signed by the test CA, as an mTLS callback receiver would.

    rx = CallbackReceiver()
    rx.answer_next(503, count=2)          # two failures, then 200 again
    ... liftoff posts to rx.url() ...
    [first, second, third] = rx.wait_for(3, timeout=10)
    assert third.json["task_id"] == task_id
    rx.close()

Every wait is bounded; nothing here imports pytest.
"""
from __future__ import annotations

import http.server
import json
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

TLS_HANDSHAKE_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 30.0
CERT_DAYS = 2


@dataclass(frozen=True)
class CertSet:
    """Files made by make_certs, all PEM: a test CA, a server certificate for
    127.0.0.1 and localhost, and a client certificate (CN=liftoff-client),
    both signed by the CA. client_cert_pem and client_key_pem are the client
    files' text, as a CallbackAuth {"kind":"mtls","cert":..,"key":..} holds it."""
    dir: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    client_cert_pem: str
    client_key_pem: str
    client_cn: str


@dataclass
class CallbackRequest:
    """One POST as the receiver saw it. headers has lower-case names (values
    of a repeated header are joined with ", "); json is None when the body
    is not valid JSON; client_cn and client_subject are set only over TLS."""
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any
    client_cn: Optional[str] = None
    client_subject: Optional[dict[str, str]] = None
    received_at: float = field(default_factory=time.monotonic)


def _openssl(*args: str, cwd: Path) -> None:
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {r.stderr.strip()}")


def _new_cert(cwd: Path, name: str, subject: str, exts: list[str],
              ca: Optional[tuple[str, str]] = None) -> None:
    """name.key (EC P-256) and name.crt: self-signed without ca, else signed by
    ca = (cert, key). OpenSSL 3's `req -x509 -CA` does both in one command."""
    args = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-noenc", "-keyout", f"{name}.key", "-out", f"{name}.crt",
            "-subj", subject, "-days", str(CERT_DAYS)]
    if ca is not None:
        args += ["-CA", ca[0], "-CAkey", ca[1]]
    for e in exts:
        args += ["-addext", e]
    _openssl(*args, cwd=cwd)


def make_certs(tmpdir, client_cn: str = "liftoff-client") -> CertSet:
    """Creates a test CA, a server certificate (subjectAltName IP:127.0.0.1,
    DNS:localhost) and a client certificate (CN=client_cn) in tmpdir with
    Debian's openssl command line. EC keys, so it takes a few milliseconds.
    A second call in another directory gives an unrelated CA, whose client
    certificate a receiver from the first set must refuse."""
    d = Path(tmpdir)
    d.mkdir(parents=True, exist_ok=True)
    _new_cert(d, "ca", "/CN=liftoff test CA",
              ["basicConstraints=critical,CA:TRUE",
               "keyUsage=critical,keyCertSign,cRLSign"])
    ca = ("ca.crt", "ca.key")
    _new_cert(d, "server", "/CN=127.0.0.1",
              ["basicConstraints=critical,CA:FALSE",
               "keyUsage=critical,digitalSignature",
               "extendedKeyUsage=serverAuth",
               "subjectAltName=IP:127.0.0.1,DNS:localhost"], ca)
    _new_cert(d, "client", f"/CN={client_cn}",
              ["basicConstraints=critical,CA:FALSE",
               "keyUsage=critical,digitalSignature",
               "extendedKeyUsage=clientAuth"], ca)
    return CertSet(dir=d, ca_cert=d / "ca.crt", ca_key=d / "ca.key",
                   server_cert=d / "server.crt", server_key=d / "server.key",
                   client_cert=d / "client.crt", client_key=d / "client.key",
                   client_cert_pem=(d / "client.crt").read_text(),
                   client_key_pem=(d / "client.key").read_text(),
                   client_cn=client_cn)


def _subject(cert: Optional[dict]) -> Optional[dict[str, str]]:
    if not cert:
        return None
    return {k: v for rdn in cert.get("subject", ()) for (k, v) in rdn}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format, *args):   # quiet: tests look at .requests
        pass

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass                            # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_POST(self):
        body = self._read_body()
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        headers: dict[str, str] = {}
        for k, v in self.headers.items():
            k = k.lower()
            headers[k] = f"{headers[k]}, {v}" if k in headers else v
        peer = None
        if isinstance(self.connection, ssl.SSLSocket):
            peer = _subject(self.connection.getpeercert())
        req = CallbackRequest(path=self.path, headers=headers, body=body, json=parsed,
                              client_cn=(peer or {}).get("commonName"), client_subject=peer)
        status, delay_s = self.server.owner._record(req)
        if delay_s > 0 and self.server.owner._closing.wait(delay_s):
            self.close_connection = True                # closed while stalled: no answer
            return
        out = json.dumps({"ok": 200 <= status < 300}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def _not_allowed(self):
        self.send_response(405)
        self.send_header("Allow", "POST")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_PUT = do_DELETE = do_PATCH = _not_allowed


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    owner: "CallbackReceiver"

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the connection's own thread, so a
        # slow or refused client never holds up accept().
        request.settimeout(TLS_HANDSHAKE_TIMEOUT_S)
        ctx = self.owner._ssl_ctx
        if ctx is None:
            request.settimeout(READ_TIMEOUT_S)
            super().finish_request(request, client_address)
            return
        try:
            tls = ctx.wrap_socket(request, server_side=True)   # detaches request
        except (ssl.SSLError, OSError) as e:
            self.owner._tls_failure(e)
            return
        try:
            tls.settimeout(READ_TIMEOUT_S)
            super().finish_request(tls, client_address)
        finally:
            self.shutdown_request(tls)

    def handle_error(self, request, client_address):
        pass            # a client that hangs up early is not the receiver's failure


class CallbackReceiver:
    """Records the POSTs sent to it; see the module docstring.

    tls: a CertSet to serve HTTPS with its server certificate, requiring a
    client certificate signed by its CA (ssl.CERT_REQUIRED). Handshakes that
    fail (no or foreign client certificate) are not requests: they are
    counted in tls_failures instead."""

    def __init__(self, tls: Optional[CertSet] = None):
        self.tls = tls
        self._ssl_ctx: Optional[ssl.SSLContext] = None
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls.server_cert, tls.server_key)
            ctx.load_verify_locations(cafile=str(tls.ca_cert))
            ctx.verify_mode = ssl.CERT_REQUIRED
            self._ssl_ctx = ctx
        self._cond = threading.Condition()
        self._requests: list[CallbackRequest] = []
        self._plan: list[tuple[int, float]] = []     # (status, delay_s), first is next
        self._tls_failures: list[str] = []
        self._closing = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"callback-receiver-{self.port}", daemon=True)
        self._thread.start()

    # ---- use -------------------------------------------------------------

    def url(self, path: str = "/cb") -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def answer_next(self, status: int, count: int = 1) -> None:
        """The next count POSTs get status (then 200 again)."""
        with self._cond:
            self._plan += [(status, 0.0)] * count

    def stall_next(self, seconds: float, count: int = 1, status: int = 200) -> None:
        """The next count POSTs are recorded at once but answered (with status)
        only after seconds, so a sender with a shorter timeout gives up. close()
        ends a stall early, without answering."""
        with self._cond:
            self._plan += [(status, float(seconds))] * count

    @property
    def requests(self) -> list[CallbackRequest]:
        """A copy of the POSTs recorded so far, in order of arrival."""
        with self._cond:
            return list(self._requests)

    @property
    def tls_failures(self) -> list[str]:
        """The errors of refused TLS handshakes so far."""
        with self._cond:
            return list(self._tls_failures)

    def wait_for(self, n: int, timeout: float = 10.0) -> list[CallbackRequest]:
        """Waits until at least n POSTs arrived and returns them all (a copy).
        Raises AssertionError, listing what did arrive, after timeout seconds."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._requests) >= n, timeout):
                got = [(r.path, r.body[:200]) for r in self._requests]
                raise AssertionError(f"callback receiver {self.url('')}: expected {n} "
                                     f"request(s) within {timeout}s, got {len(got)}: {got}")
            return list(self._requests)

    def wait_tls_failures(self, n: int, timeout: float = 10.0) -> list[str]:
        """Like wait_for, for refused TLS handshakes."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._tls_failures) >= n, timeout):
                raise AssertionError(f"expected {n} refused TLS handshake(s) within {timeout}s, "
                                     f"got {self._tls_failures}")
            return list(self._tls_failures)

    def close(self) -> None:
        """Stops serving and frees the port; stalled requests end unanswered.
        Safe to call twice."""
        if self._closing.is_set():
            return
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "CallbackReceiver":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- called from handler threads ---------------------------------------

    def _record(self, req: CallbackRequest) -> tuple[int, float]:
        with self._cond:
            self._requests.append(req)
            plan = self._plan.pop(0) if self._plan else (200, 0.0)
            self._cond.notify_all()
            return plan

    def _tls_failure(self, e: Exception) -> None:
        with self._cond:
            self._tls_failures.append(f"{type(e).__name__}: {e}")
            self._cond.notify_all()


def silent_listener() -> tuple[socket.socket, str]:
    """A TCP socket on 127.0.0.1 that accepts connections (the kernel's
    backlog does) but never reads or answers: for timeouts before any HTTP.
    Returns the socket (close it when done) and an http URL pointing at it."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s, f"http://127.0.0.1:{s.getsockname()[1]}/cb"
