"""Fixtures of the end-to-end suite: the real liftoff binary on port 0 over a
fresh data directory, replay clients, and a local http server for http(s)
bundle locations.

Run from the repository root with Debian's interpreter:
    LIFTOFF_BIN=$PWD/build/liftoff /usr/bin/python3 -m pytest -q tests/e2e
"""
from __future__ import annotations

import collections
import http.server
import os
import threading
import time
from pathlib import Path

import pytest

from launch_client import LaunchReplay, new_key
from liftoff_server import LiftoffServer, liftoff_bin


def pytest_configure(config):
    if not os.access(liftoff_bin(), os.X_OK):
        raise pytest.UsageError(f"liftoff binary not found or not executable: {liftoff_bin()} "
                                "(build it with `meson compile -C build` or set LIFTOFF_BIN)")


@pytest.fixture
def start_server(tmp_path):
    """start_server(*args, data_dir=None, env=None) -> a running LiftoffServer.

    Each server gets tmp_path/"data" unless told otherwise. At teardown every
    server still running is stopped with SIGTERM and must exit 0."""
    servers: list[LiftoffServer] = []

    def start(*args: str, data_dir: Path | None = None, env: dict | None = None):
        s = LiftoffServer(data_dir or tmp_path / "data", args, env)
        servers.append(s)
        return s.start()

    yield start
    failures = []
    for s in servers:
        if s.proc is None:
            continue
        if s.proc.poll() is None or not s.stopped_by_test:
            try:
                s.stop()
            except AssertionError as e:   # a crash or a bad exit status
                failures.append(str(e))
        s.kill()
    if failures:
        pytest.fail("liftoff did not stop cleanly:\n" + "\n\n".join(failures), pytrace=False)


@pytest.fixture
def server(start_server) -> LiftoffServer:
    """A liftoff in open mode with default settings."""
    return start_server()


@pytest.fixture
def make_client(tmp_path):
    """make_client(server, key=None, self_hosted=False, trailing_slash=False) -> LaunchReplay."""
    clients = []

    def make(srv: LiftoffServer, key: str | None = None, self_hosted: bool = False,
             trailing_slash: bool = False) -> LaunchReplay:
        endpoint = srv.base_url + ("/" if trailing_slash else "")
        c = LaunchReplay(endpoint, key or new_key(), self_hosted=self_hosted,
                         upload_dir=tmp_path / f"user-uploads-{len(clients)}")
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


@pytest.fixture
def client(server, make_client) -> LaunchReplay:
    """A signed-URL (self_hosted=False) client with a fresh key."""
    return make_client(server)


class FileServer:
    """A local http server for http:// bundle locations; counts hits per path."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.hits: collections.Counter = collections.Counter()
        self.delay_s: dict[str, float] = {}          # path -> seconds to wait before answering
        self._lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                with owner._lock:
                    owner.hits[path] += 1
                    data = owner.files.get(path)
                    delay = owner.delay_s.get(path, 0)
                if delay:
                    time.sleep(delay)
                if data is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def add(self, path: str, data: bytes) -> str:
        with self._lock:
            self.files[path] = data
        return self.url(path)

    def hit_count(self, path: str) -> int:
        with self._lock:
            return self.hits[path]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def file_server():
    fs = FileServer()
    yield fs
    fs.close()
