"""Runs the real liftoff binary for the end-to-end tests.

A LiftoffServer starts `liftoff serve --port 0 --data-dir DIR ...`, takes the
real port from the first stderr line (which must be exactly
`liftoff listening on http://127.0.0.1:PORT`), keeps reading the rest of
stderr in a background thread so tests can look at the log lines, and stops
the process with SIGTERM, expecting exit status 0. Every wait is bounded.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Optional

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO_ROOT / "build" / "liftoff"

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
RUN_TIMEOUT_S = 10.0
LISTEN_RE = re.compile(r"^liftoff listening on http://127\.0\.0\.1:(\d+)$")
# `... INFO http method=GET path=/v1/... status=200 ms=0.12 owner=<8 hex or ->`
HTTP_LOG_RE = re.compile(
    r"\bINFO http method=(?P<method>\S+) path=(?P<path>\S+) status=(?P<status>\d+) "
    r"ms=(?P<ms>\d+(?:\.\d+)?) owner=(?P<owner>[0-9a-f]{8}|-)(?P<rest>.*)$")
# `... INFO deploy endpoint=end_... generation=1 status=READY` (README, Logs)
DEPLOY_STATUS_RE = re.compile(
    r"\bdeploy endpoint=(?P<endpoint>\S+) generation=(?P<generation>\d+) "
    r"status=(?P<status>[A-Z_]+)$")


def liftoff_bin() -> str:
    """The binary under test: $LIFTOFF_BIN, else build/liftoff of this repository."""
    return os.environ.get("LIFTOFF_BIN") or str(DEFAULT_BIN)


class LiftoffServer:
    """One liftoff process over one data directory; restartable."""

    def __init__(self, data_dir: Path, args: Iterable[str] = (), env: Optional[dict] = None):
        self.data_dir = Path(data_dir)
        self.args = list(args)
        self.env = env
        self.proc: Optional[subprocess.Popen] = None
        self.port: Optional[int] = None
        self._lines: list[str] = []          # every stderr line of every run, in order
        self._run_start = 0                  # index in _lines where this run began
        self._cond = threading.Condition()
        self._reader: Optional[threading.Thread] = None
        self._eof = False
        self.stopped_by_test = False        # set by stop()/kill(); a crash leaves it False

    # ---- lifecycle -------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self.port is not None, "server not started"
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def command(self) -> list[str]:
        return [liftoff_bin(), "serve", "--port", "0", "--data-dir", str(self.data_dir),
                *self.args]

    def start(self) -> "LiftoffServer":
        assert not self.running, "already running"
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("LIFTOFF_") and k != "LIFTOFF_BIN":
                del env[k]               # only what the test asks for
        if self.env:
            env.update(self.env)
        with self._cond:
            self._run_start = len(self._lines)
            self._eof = False
        self.stopped_by_test = False
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env=env)
        self._reader = threading.Thread(target=self._read_stderr, args=(self.proc,),
                                        daemon=True)
        self._reader.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        with self._cond:
            while len(self._lines) == self._run_start and not self._eof:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            first = self._lines[self._run_start] if len(self._lines) > self._run_start else None
        if first is None:
            self.kill()
            raise AssertionError(f"liftoff wrote no first stderr line within {START_TIMEOUT_S}s "
                                 f"(exit status {self.proc.returncode}); stderr:\n{self.log_text()}")
        m = LISTEN_RE.match(first)
        if not m:
            self.kill()
            raise AssertionError(f"first stderr line is not the listening line: {first!r}\n"
                                 f"stderr:\n{self.log_text()}")
        self.port = int(m.group(1))
        assert 0 < self.port < 65536
        return self

    def _read_stderr(self, proc: subprocess.Popen) -> None:
        for raw in proc.stderr:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            with self._cond:
                self._lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Sends sig and waits; asserts the server was still alive and exits 0."""
        assert self.proc is not None, "server never started"
        self.stopped_by_test = True
        alive = self.proc.poll() is None
        if alive:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"liftoff did not exit within {STOP_TIMEOUT_S}s of "
                                 f"signal {sig}; stderr:\n{self.log_text()}")
        self._join_reader()
        assert alive, f"liftoff had already exited (status {rc}) before it was stopped; " \
                      f"stderr:\n{self.log_text()}"
        assert rc == 0, f"liftoff exited with status {rc} after signal {sig}; " \
                        f"stderr:\n{self.log_text()}"
        return rc

    def restart(self) -> "LiftoffServer":
        """SIGTERM (exit 0 asserted), then a new process over the same data dir."""
        self.stop()
        return self.start()

    def kill(self) -> None:
        self.stopped_by_test = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass
        self._join_reader()

    def _join_reader(self) -> None:
        if self._reader is not None:
            self._reader.join(timeout=STOP_TIMEOUT_S)
            if not self._reader.is_alive() and self.proc is not None and self.proc.stderr:
                self.proc.stderr.close()

    # ---- logs ------------------------------------------------------------

    def lines(self, all_runs: bool = False) -> list[str]:
        with self._cond:
            return list(self._lines if all_runs else self._lines[self._run_start:])

    def log_text(self, all_runs: bool = True) -> str:
        return "\n".join(self.lines(all_runs))

    def http_log(self, all_runs: bool = False) -> list[dict]:
        """The per-request log lines of this run, parsed."""
        out = []
        for line in self.lines(all_runs):
            m = HTTP_LOG_RE.search(line)
            if m:
                out.append(m.groupdict())
        return out

    def deploy_statuses(self, endpoint_id: str, all_runs: bool = False) -> list[str]:
        """Every status the server logged for one endpoint's builds, in order."""
        out = []
        for line in self.lines(all_runs):
            m = DEPLOY_STATUS_RE.search(line)
            if m and m["endpoint"] == endpoint_id:
                out.append(m["status"])
        return out

    def wait_for_log(self, pred: Callable[[str], bool], timeout: float = 5.0,
                     what: str = "a matching log line") -> str:
        """Waits until some stderr line of this run satisfies pred; returns it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self._lines[self._run_start:]:
                    if pred(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    break
                self._cond.wait(left)
        raise AssertionError(f"no log line: {what} within {timeout}s; stderr:\n{self.log_text()}")

    def wait_for_http_log(self, method: str, path: str, status: Optional[int] = None,
                          timeout: float = 5.0) -> dict:
        def pred(line: str) -> bool:
            m = HTTP_LOG_RE.search(line)
            return bool(m and m["method"] == method and m["path"] == path and
                        (status is None or int(m["status"]) == status))
        line = self.wait_for_log(pred, timeout, f"http {method} {path} status={status}")
        return HTTP_LOG_RE.search(line).groupdict()


def run_liftoff(args: list[str], env: Optional[dict] = None,
                timeout: float = RUN_TIMEOUT_S) -> subprocess.CompletedProcess:
    """Runs liftoff to completion (for start-up errors); kills it on timeout."""
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith("LIFTOFF_") or k == "LIFTOFF_BIN"}
    if env:
        full_env.update(env)
    proc = subprocess.Popen([liftoff_bin(), *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=STOP_TIMEOUT_S)
        raise AssertionError(f"liftoff {args} still running after {timeout}s; "
                             f"stderr: {err.decode(errors='replace')!r}")
    return subprocess.CompletedProcess(proc.args, proc.returncode,
                                       out.decode("utf-8", errors="replace"),
                                       err.decode("utf-8", errors="replace"))
