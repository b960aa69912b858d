"""Helpers for the runtime tests (issue 3): bundles that really run in
liftoff's worker processes, deployment, sync predictions and a look at the
server's child processes.

Bundles are cloudpickled by Debian's /usr/bin/python3 (the interpreter the
workers embed) from a real source file written below a temporary folder and
run as __main__: cloudpickle then pickles the functions by value, as the
client's globals_copy does, so a worker never needs a test module, and the
code objects name a file that exists, so a worker's traceback shows the
user's source lines (the file stays until the test session ends).
"""
from __future__ import annotations

import atexit
import functools
import hashlib
import io
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any, Callable, Optional

import requests

from artifacts import PYTORCH_ENV
from launch_client import GeneratedApi, LaunchReplay, basic_auth
from shapes import check_endpoint

PYTHON = "/usr/bin/python3"
PICKLE_TIMEOUT_S = 30
READY_TIMEOUT_S = 20
PREDICT_TIMEOUT_S = 30
PYTORCH_TAG = PYTORCH_ENV["pytorch_image_tag"]

_SRC_DIR = Path(tempfile.mkdtemp(prefix="liftoff-e2e-bundle-src-"))
atexit.register(shutil.rmtree, _SRC_DIR, True)

# ---- bundle sources ----------------------------------------------------------

# The docs' "Configuring Model Bundles" example, as the user writes it.
APP_CONFIG_SRC = '''from typing import List, Union


def my_load_predict_fn(app_config, model):
    def returns_model_of_x_plus_len_of_y(x: Union[int, List[int]], y: Union[str, List[str]]) -> Union[int, List[int]]:
        """MyRequestSchema -> MyResponseSchema"""
        if app_config["mode"] == "single":
            assert isinstance(x, int) and isinstance(y, str)
            return model(x) + len(y)

        result = []
        for x_i, y_i in zip(x, y):
            result.append(model(x_i) + len(y_i))
        return result

    return returns_model_of_x_plus_len_of_y


def my_load_model_fn(app_config):
    def my_model_single(x: int):
        return x * 2

    def my_model_batched(x: List[int]):
        return [my_model_single(x_i) for x_i in x]

    if app_config["mode"] == "single":
        return my_model_single

    return my_model_batched
'''
# The docs' batched branch calls model(x_i) on the batched model, which
# iterates over an int: as printed, the batched bundle always fails with
# "TypeError: 'int' object is not iterable". The same code with the loop
# fixed, for the tests that need a working batched bundle:
APP_CONFIG_FIXED_SRC = APP_CONFIG_SRC.replace(
    """        for x_i, y_i in zip(x, y):
            result.append(model(x_i) + len(y_i))""",
    """        for m_i, y_i in zip(model(x), y):
            result.append(m_i + len(y_i))""")
assert APP_CONFIG_FIXED_SRC != APP_CONFIG_SRC
APP_CONFIG_EXPR = '{"load_model_fn": my_load_model_fn, "load_predict_fn": my_load_predict_fn}'
APP_CONFIG_SCHEMA = {
    "RequestSchema": {"title": "MyRequestSchema", "anyOf": [
        {"$ref": "#/components/schemas/MyRequestSchemaSingle"},
        {"$ref": "#/components/schemas/MyRequestSchemaBatched"}]},
    "ResponseSchema": {"title": "MyResponseSchema",
                       "anyOf": [{"type": "integer"},
                                 {"type": "array", "items": {"type": "integer"}}]},
    "MyRequestSchemaSingle": {"title": "MyRequestSchemaSingle", "type": "object",
                              "properties": {"x": {"type": "integer"}, "y": {"type": "string"}},
                              "required": ["x", "y"]},
    "MyRequestSchemaBatched": {"title": "MyRequestSchemaBatched", "type": "object",
                               "properties": {"x": {"type": "array"}, "y": {"type": "array"}},
                               "required": ["x", "y"]},
}

# A bundle of probes. predict(op, ...) does what op names; every answer
# carries the worker's pid. It also records how many predictions ran at once
# in this worker process ("max"), guarded by a lock made at load time.
PROBE_SRC = '''import os
import threading
import time


def probe_model(x):
    return x * 2


def probe_load_predict_fn(model):
    lock = threading.Lock()
    state = {"running": 0, "max": 0, "count": 0}

    def predict(op="echo", value=None, sleep_s=0.0, marker=None):
        with lock:
            state["running"] += 1
            state["count"] += 1
            state["max"] = max(state["max"], state["running"])
        try:
            if marker:
                with open(marker, "w") as f:
                    f.write(str(os.getpid()))
            if sleep_s:
                time.sleep(sleep_s)
            if op == "raise":
                raise ValueError(f"probe refuses {value!r}")
            if op == "set":
                return {1, 2, 3}
            if op == "exit":
                os._exit(value)
            if op == "pickled":
                return {"set": {1, 2, 3}, "tuple": (value, b"bytes"), "model": model(21),
                        "double": lambda v: v * 2}
            return {"value": value, "model": model(value) if isinstance(value, int) else None,
                    "pid": os.getpid(), "max": state["max"], "count": state["count"]}
        finally:
            with lock:
                state["running"] -= 1

    return predict
'''
PROBE_EXPR = '{"model": probe_model, "load_predict_fn": probe_load_predict_fn}'

# For url inputs: the single positional argument is the raw bytes.
URL_SRC = '''import hashlib


def url_load_predict_fn(model):
    def predict(data):
        return {"type": type(data).__name__, "len": len(data),
                "sha256": hashlib.sha256(data).hexdigest(), "head": data[:16].decode("latin-1")}

    return predict
'''
URL_EXPR = '{"model": None, "load_predict_fn": url_load_predict_fn}'

# load_model_fn(config) / load_predict_fn(config, model): answers with the
# app_config's version, so the tests can tell generations apart.
VERSIONED_SRC = '''import os
import time


def versioned_load_model_fn(app_config):
    return {"version": app_config["version"]}


def versioned_load_predict_fn(app_config, model):
    def predict(i, sleep_s=0.0):
        if sleep_s:
            time.sleep(sleep_s)
        return {"version": model["version"], "i": i, "pid": os.getpid()}

    return predict
'''
VERSIONED_EXPR = ('{"load_model_fn": versioned_load_model_fn, '
                  '"load_predict_fn": versioned_load_predict_fn}')

BROKEN_LOAD_SRC = '''def broken_load_model_fn():
    raise RuntimeError("cannot load the weights from /nowhere/weights.bin")


def broken_load_predict_fn(model):
    return lambda **kw: kw
'''
BROKEN_LOAD_EXPR = ('{"load_model_fn": broken_load_model_fn, '
                    '"load_predict_fn": broken_load_predict_fn}')


def source_file(src: str) -> Path:
    """The file the bundle's functions come from (they name it as co_filename)."""
    return _SRC_DIR / f"bundle_{hashlib.sha256(src.encode()).hexdigest()[:16]}.py"


@functools.lru_cache(maxsize=None)
def pickle_bundle(src: str, expr: str) -> bytes:
    """cloudpickle.dumps(eval(expr)) after running src as __main__ in /usr/bin/python3."""
    path = source_file(src)
    path.write_text(src)
    script = (f"import runpy, sys, cloudpickle\n"
              f"g = runpy.run_path({str(path)!r}, run_name='__main__')\n"
              f"sys.stdout.buffer.write(cloudpickle.dumps(eval({expr!r}, g)))\n")
    proc = subprocess.run([PYTHON, "-c", script], capture_output=True, timeout=PICKLE_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert proc.stdout, "empty pickle"
    return proc.stdout


def line_of(src: str, needle: str) -> int:
    """1-based number of the line of src that contains needle."""
    for i, line in enumerate(src.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in the source")


def zip_dirs(base_paths: list) -> bytes:
    """The client's _zip_directories: ZipFile(path, "w") (ZIP_STORED), file
    entries only, arcname = relpath(file, join(base_path, ".."))."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for base in base_paths:
            base = str(base)
            for root, _, files in os.walk(base):
                for name in files:
                    full = os.path.join(root, name)
                    zf.write(filename=full,
                             arcname=os.path.relpath(full, os.path.join(base, "..")))
    return buf.getvalue()


# ---- bundles and endpoints -------------------------------------------------------

def create_v1_bundle(client: LaunchReplay, name: str, pickled: bytes, *,
                     requirements: Optional[list] = None, app_config: Optional[dict] = None,
                     metadata: Optional[dict] = None) -> str:
    """v1 create_model_bundle (cloudpickle); returns the new bundle's id."""
    client.create_model_bundle(name, pickled, metadata or {}, PYTORCH_ENV,
                               requirements if requirements is not None else [],
                               app_config=app_config)
    return client.get_model_bundle(name)["id"]


def create_endpoint(client: LaunchReplay, name: str, bundle_name: str, *, min_workers: int = 1,
                    max_workers: int = 1, per_worker: int = 1, endpoint_type: str = "sync",
                    wait: bool = True) -> dict:
    """create_model_endpoint, then (wait=True) waits for READY; returns the endpoint."""
    client.create_model_endpoint(name, bundle_name, cpus=1, memory="1Gi",
                                 min_workers=min_workers, max_workers=max_workers,
                                 per_worker=per_worker, endpoint_type=endpoint_type)
    if wait:
        return wait_status(client, name, "READY")
    return check_endpoint(client.get_model_endpoint(name))


def wait_status(client: LaunchReplay, name: str, want: str,
                timeout: float = READY_TIMEOUT_S, fail_on: Optional[set] = None) -> dict:
    """Polls until the endpoint's status is want. A status in fail_on
    (default: the other of READY and UPDATE_FAILED) fails at once, with the
    creation logs."""
    deadline = time.monotonic() + timeout
    if fail_on is None:
        fail_on = {"READY", "UPDATE_FAILED"} - {want}
    last = None
    while True:
        last = client.get_model_endpoint(name)
        assert last is not None, f"endpoint {name} is gone"
        if last["status"] == want:
            return check_endpoint(last)
        if last["status"] in fail_on:
            raise AssertionError(f"{name} is {last['status']}, wanted {want}; creation logs:\n"
                                 f"{client.read_endpoint_creation_logs(name)}")
        if time.monotonic() >= deadline:
            raise AssertionError(f"{name} not {want} within {timeout}s: {last}; creation logs:\n"
                                 f"{client.read_endpoint_creation_logs(name)}")
        time.sleep(0.05)


def wait_endpoint(client: LaunchReplay, name: str, until: Callable[[dict], bool],
                  timeout: float = 10.0, what: str = "condition") -> dict:
    """Polls GET ?name= until until(endpoint) holds; returns that endpoint."""
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        ep = client.get_model_endpoint(name)
        seen.append(ep)
        if ep is not None and until(ep):
            return ep
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not reached within {timeout}s; last: {seen[-3:]}")
        time.sleep(0.05)


def wait_log(client: LaunchReplay, name: str, text: str, timeout: float = 5.0) -> str:
    """Polls the endpoint's creation logs until they contain text; returns them."""
    deadline = time.monotonic() + timeout
    while True:
        logs = client.read_endpoint_creation_logs(name)
        if text in logs:
            return logs
        if time.monotonic() >= deadline:
            raise AssertionError(f"{text!r} not in the creation logs of {name} within "
                                 f"{timeout}s:\n{logs}")
        time.sleep(0.05)


def workers(ep: dict) -> tuple:
    ds = ep["deployment_state"] or {}
    return ds.get("available_workers"), ds.get("unavailable_workers")


# ---- predictions -----------------------------------------------------------------

def sync_request(base_url: str, key: str, endpoint_id: str, body: Any,
                 timeout: float = PREDICT_TIMEOUT_S) -> requests.Response:
    """POST /v1/sync-tasks as the generated client sends it, on its own
    connection (safe from any thread)."""
    api = GeneratedApi(base_url, key)
    try:
        req = requests.Request("POST", f"{base_url}/v1/sync-tasks",
                               params={"model_endpoint_id": endpoint_id},
                               data=json.dumps(body, separators=(",", ":")).encode(),
                               headers={"Accept": "application/json",
                                        "Content-Type": "application/json",
                                        "User-Agent": "OpenAPI-Generator/1.1.0/python",
                                        "Authorization": basic_auth(key)})
        return api.session.send(api.session.prepare_request(req), timeout=timeout)
    finally:
        api.close()


def predict(client: LaunchReplay, endpoint_id: str, args: Optional[dict] = None,
            url: Optional[str] = None, return_pickled: bool = False) -> dict:
    """SyncEndpoint.predict: the parsed 200 answer (SUCCESS or FAILURE)."""
    body: dict = {}
    if url is not None:
        body["url"] = url
    if args is not None:
        body["args"] = args
    body["return_pickled"] = return_pickled
    r = sync_request(client.endpoint, client.api_key, endpoint_id, body)
    assert r.status_code == 200, f"{body} -> {r.status_code} {r.text}"
    return check_sync_response(r.json())


def check_sync_response(resp: dict) -> dict:
    """SyncEndpointPredictV1Response: exactly its four keys, consistent."""
    assert isinstance(resp, dict) and set(resp) == {"status", "result", "traceback",
                                                    "status_code"}, resp
    if resp["status"] == "SUCCESS":
        assert resp["traceback"] is None and resp["status_code"] == 200, resp
        assert isinstance(resp["result"], dict), resp
    else:
        assert resp["status"] == "FAILURE", resp
        assert resp["result"] is None and resp["status_code"] == 500, resp
        assert isinstance(resp["traceback"], str) and resp["traceback"], resp
    return resp


def success_value(resp: dict) -> Any:
    """The output of a SUCCESS answer: json.loads of result.result (a string)."""
    assert resp["status"] == "SUCCESS", f"prediction failed:\n{resp.get('traceback')}"
    assert set(resp["result"]) == {"result"}, resp
    assert isinstance(resp["result"]["result"], str), resp
    return json.loads(resp["result"]["result"])


def predict_value(client: LaunchReplay, endpoint_id: str, args: dict) -> Any:
    return success_value(predict(client, endpoint_id, args))


def failure_traceback(resp: dict) -> str:
    assert resp["status"] == "FAILURE", f"expected a FAILURE: {resp}"
    return resp["traceback"]


class Background:
    """Runs fn() in a thread; result() re-raises what it raised."""

    def __init__(self, fn: Callable[[], Any]):
        self._fn = fn
        self._value = None
        self._error: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self._value = self._fn()
        except BaseException as e:  # handed to result()
            self._error = e

    def done(self) -> bool:
        return not self.thread.is_alive()

    def result(self, timeout: float = PREDICT_TIMEOUT_S) -> Any:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"still running after {timeout}s"
        if self._error is not None:
            raise self._error
        return self._value


def wait_file(path: Path, timeout: float = 10.0) -> str:
    """Waits until path exists and is not empty; returns its text."""
    deadline = time.monotonic() + timeout
    while True:
        if path.exists():
            text = path.read_text()
            if text:
                return text
        if time.monotonic() >= deadline:
            raise AssertionError(f"{path} not written within {timeout}s")
        time.sleep(0.02)


# ---- processes -------------------------------------------------------------------

def children(pid: int) -> list:
    """The live (non-zombie) children of pid: [{"pid", "cmdline", "start"}],
    oldest first."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        state, ppid, start = fields[0], int(fields[1]), int(fields[19])
        if ppid != pid or state == "Z":
            continue
        out.append({"pid": int(entry), "start": start,
                    "cmdline": cmdline.replace(b"\0", b" ").decode(errors="replace").strip()})
    return sorted(out, key=lambda c: (c["start"], c["pid"]))


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


def wait_gone(pid: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() >= deadline:
            raise AssertionError(f"process {pid} still alive after {timeout}s")
        time.sleep(0.02)


def fetch_result(url: str, key: str) -> requests.Response:
    """GET of a result_url with the key's basic auth, as a user would."""
    return requests.get(url, headers={"Authorization": basic_auth(key)}, timeout=PREDICT_TIMEOUT_S)
