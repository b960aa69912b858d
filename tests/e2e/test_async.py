"""Async tasks through real worker processes (issue 4; spec 2.5, 5.6, 11.D):
POST /v1/async-tasks stores the task and answers {"task_id": <uuid4>}; GET
/v1/async-tasks/{id} reports PENDING / STARTED / SUCCESS (result = the worker
response object) / FAILURE (traceback). Also the HTTP errors, task expiry
(--task-expiry-s), the purge of finished tasks (--task-result-ttl-s), the
run-time limit (--task-timeout-s) and retries after a worker dies
(--task-retries).

The helpers at the top (submit, wait_task, create_async_endpoint, ...) are
shared with test_callbacks, test_durability, test_batch and test_cli_flows.
"""
from __future__ import annotations

import json
import os
import re
import signal
import time
import uuid
from typing import Any, Optional
from urllib.parse import quote

import cloudpickle
import pytest
import requests

from artifacts import (PYTORCH_ENV, QUICKSTART_REQUIREMENTS, QUICKSTART_SCHEMA,
                       quickstart_pickle, quickstart_v1_metadata)
from bundles_rt import (PROBE_EXPR, PROBE_SRC, URL_EXPR, URL_SRC, children, create_endpoint,
                        create_v1_bundle, fetch_result, line_of, pickle_bundle, source_file,
                        wait_file, wait_gone, wait_status)
from launch_client import LaunchReplay, compact_json, new_key

TASK_KEYS = {"task_id", "status", "result", "traceback", "status_code"}
UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
RESULT_URL_RE = re.compile(r"^http://127\.0\.0\.1:\d+/\S+$")
TASK_NOT_FOUND = {"detail": "The specified task could not be found."}
ENDPOINT_NOT_FOUND = {"detail": "The specified endpoint could not be found."}
POLL_S = 0.1
TASK_TIMEOUT_S = 20.0
_RANK = {"PENDING": 0, "STARTED": 1, "SUCCESS": 2, "FAILURE": 2}


# ---- helpers (also used by the other issue-4 test files) ---------------------------

def quickstart_bundle(client: LaunchReplay, name: str = "test-bundle") -> str:
    """Spec 11.A: the quick-start v1 bundle (predict(x, y) = 2*x + len(y)); its id."""
    client.create_model_bundle(name, quickstart_pickle("v1-model"), quickstart_v1_metadata(),
                               PYTORCH_ENV, QUICKSTART_REQUIREMENTS, schema=QUICKSTART_SCHEMA)
    return client.get_model_bundle(name)["id"]


def probe_bundle(client: LaunchReplay, name: str = "probe") -> str:
    """bundles_rt's probe: predict(op, value, sleep_s, marker); echo answers with the pid."""
    return create_v1_bundle(client, name, pickle_bundle(PROBE_SRC, PROBE_EXPR))


def create_async_endpoint(client: LaunchReplay, name: str, bundle_name: str, *,
                          min_workers: int = 0, max_workers: int = 1, per_worker: int = 10,
                          wait: bool = True, **extra: Any) -> dict:
    """POST /v1/model-endpoints as the client sends it for an async endpoint
    (extra: post_inference_hooks, default_callback_url, default_callback_auth,
    ...), then (wait=True) polls until READY. Returns the endpoint."""
    bundle_id = client.get_model_bundle(bundle_name)["id"]
    body = {"endpoint_type": "async", "metadata": {}, "memory": "1Gi", "cpus": 1,
            "max_workers": max_workers, "model_bundle_id": bundle_id,
            "min_workers": min_workers, "gpus": 0, "name": name, "per_worker": per_worker,
            "labels": {}, "high_priority": False, **extra}
    client.api.call("POST", "/v1/model-endpoints", body)
    if wait:
        return wait_status(client, name, "READY")
    return client.get_model_endpoint(name)


def task_body(args: Any = None, url: Optional[str] = None, return_pickled: bool = False,
              **extra: Any) -> dict:
    """EndpointPredictV1Request as AsyncEndpoint.predict sends it (spec 11.D):
    args and/or url, return_pickled always, callback_url/callback_auth if given."""
    body: dict = {}
    if args is not None:
        body["args"] = args
    if url is not None:
        body["url"] = url
    body["return_pickled"] = return_pickled
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def post_async(client: LaunchReplay, endpoint_id: str, body: Any) -> requests.Response:
    """POST /v1/async-tasks?model_endpoint_id=ID (the raw answer)."""
    return client.api.request("POST", "/v1/async-tasks", body,
                              query={"model_endpoint_id": endpoint_id})


def submit(client: LaunchReplay, endpoint_id: str, args: Any = None, **kw: Any) -> str:
    """An accepted async task: 200 {"task_id": <uuid4>}; returns the id."""
    body = task_body(args, **kw)
    r = post_async(client, endpoint_id, body)
    assert r.status_code == 200, f"POST /v1/async-tasks {body} -> {r.status_code} {r.text}"
    resp = r.json()
    assert isinstance(resp, dict) and set(resp) == {"task_id"}, resp
    assert UUID4_RE.match(resp["task_id"]), f"not a uuid4: {resp}"
    return resp["task_id"]


def get_task_raw(client: LaunchReplay, task_id: str) -> requests.Response:
    return client.api.request("GET", f"/v1/async-tasks/{quote(task_id, safe='/')}")


def check_task(t: Any, task_id: Optional[str] = None) -> dict:
    """GetAsyncTaskV1Response as the 1.0.0 client can parse it (spec 5.6, 12 #9, #16)."""
    assert isinstance(t, dict) and set(t) == TASK_KEYS, f"bad task shape: {t}"
    if task_id is not None:
        assert t["task_id"] == task_id, t
    assert t["status_code"] is None, t                      # spec 11.D: null for async
    s = t["status"]
    if s in ("PENDING", "STARTED"):
        assert t["result"] is None and t["traceback"] is None, t
    elif s == "SUCCESS":
        assert isinstance(t["result"], dict) and t["result"], \
            f"SUCCESS needs the worker response object (spec 12 #9): {t}"
        assert t["traceback"] is None, t
    elif s == "FAILURE":
        assert t["result"] is None, t
        assert isinstance(t["traceback"], str) and t["traceback"], t
    else:
        raise AssertionError(f"status {s!r} makes the 1.0.0 client raise: {t}")
    return t


def get_task(client: LaunchReplay, task_id: str) -> dict:
    r = get_task_raw(client, task_id)
    assert r.status_code == 200, f"GET task {task_id} -> {r.status_code} {r.text}"
    return check_task(r.json(), task_id)


def wait_task(client: LaunchReplay, task_id: str, timeout: float = TASK_TIMEOUT_S,
              allow_requeue: bool = False) -> tuple:
    """Polls every POLL_S until SUCCESS or FAILURE; returns (final task, the
    statuses seen in order). Statuses only move forward (PENDING -> STARTED ->
    end) unless allow_requeue (a retried task may go back to PENDING)."""
    deadline = time.monotonic() + timeout
    seen: list = []
    while True:
        t = get_task(client, task_id)
        if not seen or seen[-1] != t["status"]:
            if seen and not allow_requeue:
                assert _RANK[t["status"]] >= _RANK[seen[-1]], f"went back: {seen + [t['status']]}"
            if seen and seen[-1] in ("SUCCESS", "FAILURE"):
                raise AssertionError(f"a finished task changed: {seen + [t['status']]}")
            seen.append(t["status"])
        if t["status"] in ("SUCCESS", "FAILURE"):
            return t, seen
        if time.monotonic() >= deadline:
            raise AssertionError(f"task {task_id} not done within {timeout}s: {seen}; last {t}")
        time.sleep(POLL_S)


def task_value(t: dict) -> Any:
    """json.loads of the result string of a SUCCESS task."""
    assert t["status"] == "SUCCESS", f"task failed:\n{t.get('traceback')}"
    assert set(t["result"]) == {"result"} and isinstance(t["result"]["result"], str), t
    return json.loads(t["result"]["result"])


def run_task(client: LaunchReplay, endpoint_id: str, args: Any = None, **kw: Any) -> dict:
    """submit + wait_task; the final task."""
    return wait_task(client, submit(client, endpoint_id, args, **kw))[0]


def worker_pids(server) -> set:
    return {c["pid"] for c in children(server.proc.pid)}


# ---- the quick-start, async -------------------------------------------------------

def test_quickstart_async_predict(server, make_client):
    """Spec 11.B-D: async endpoint with min_workers 0; predict(x=5, y="hello")
    is queued at 0 workers, a worker starts, the task ends SUCCESS with
    {"result": "15"}."""
    client = make_client(server, key="test-api-key-123")
    quickstart_bundle(client)
    client.create_model_endpoint("demo-endpoint", "test-bundle", cpus=1, min_workers=0,
                                 endpoint_type="async", update_if_exists=True,
                                 labels={"team": "MY_TEAM", "product": "launch"})
    ep = wait_status(client, "demo-endpoint", "READY")
    assert ep["deployment_state"]["available_workers"] == 0, ep
    eid = client.get_model_endpoint("demo-endpoint")["id"]             # step 10
    r = post_async(client, eid, {"args": {"x": 5, "y": "hello"}, "return_pickled": False})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    task_id = r.json()["task_id"]
    assert UUID4_RE.match(task_id), r.text
    first = get_task(client, task_id)
    assert first["status"] in ("PENDING", "STARTED", "SUCCESS"), first
    final, seen = wait_task(client, task_id)
    assert final == {"task_id": task_id, "status": "SUCCESS", "result": {"result": "15"},
                     "traceback": None, "status_code": None}, final
    assert seen[-1] == "SUCCESS"
    # A finished task reads the same again, and a second one gets a new id.
    assert get_task(client, task_id) == final
    second = submit(client, eid, {"x": -3, "y": ""})
    assert second != task_id
    assert task_value(wait_task(client, second)[0]) == -6


def test_task_queued_before_ready(server, make_client, file_server):
    """Spec 2.5: a task is accepted while the endpoint is still being built
    (its bundle downloads slowly) and runs once it is ready."""
    client = make_client(server)
    url = file_server.add("/bundles/qs.pkl", quickstart_pickle("v1-model"))
    client.api.call("POST", "/v1/model-bundles", {
        "requirements": [], "packaging_type": "cloudpickle", "name": "slow-bundle",
        "location": url, "env_params": PYTORCH_ENV, "metadata": quickstart_v1_metadata()})
    for f in (server.data_dir / "cache").iterdir():    # downloaded at create (README)
        f.unlink()
    file_server.delay_s["/bundles/qs.pkl"] = 1.5
    ep = create_async_endpoint(client, "early", "slow-bundle", wait=False)
    task_id = submit(client, ep["id"], {"x": 1, "y": "ab"})
    assert client.status("early") != "READY", "the endpoint was ready before the task came"
    assert get_task(client, task_id)["status"] == "PENDING"
    assert task_value(wait_task(client, task_id)[0]) == 4
    assert client.status("early") == "READY"


def test_many_tasks_each_get_their_own_answer(server, make_client):
    client = make_client(server)
    quickstart_bundle(client)
    ep = create_async_endpoint(client, "many", "test-bundle", max_workers=2, per_worker=2)
    ids = {submit(client, ep["id"], {"x": i, "y": "y" * (i % 3)}): i for i in range(30)}
    assert len(ids) == 30
    for task_id, i in ids.items():
        assert task_value(wait_task(client, task_id)[0]) == 2 * i + i % 3, (task_id, i)


def test_return_pickled(server, make_client):
    """return_pickled: result is {"result_url": URL}, a URL that serves the
    cloudpickle of the output to its owner (spec 5.3 rule 5, 12 #17)."""
    client = make_client(server)
    other = make_client(server, key=new_key("other"))
    probe_bundle(client)
    ep = create_async_endpoint(client, "pickled", "probe")
    t = run_task(client, ep["id"], {"op": "pickled", "value": 7}, return_pickled=True)
    assert t["status"] == "SUCCESS", t
    assert set(t["result"]) == {"result_url"}, t
    url = t["result"]["result_url"]
    assert RESULT_URL_RE.match(url) and url.startswith(server.base_url), url
    r = fetch_result(url, client.api_key)
    assert r.status_code == 200, r.text
    out = cloudpickle.loads(r.content)
    double = out.pop("double")
    assert out == {"set": {1, 2, 3}, "tuple": (7, b"bytes"), "model": 42}, out
    assert double(21) == 42
    assert fetch_result(url, other.api_key).status_code == 404


def test_url_input(server, make_client, file_server, tmp_path):
    """url inputs (spec 5.3 rule 1): the raw bytes as the one positional
    argument; http:// and file:// locations."""
    client = make_client(server)
    create_v1_bundle(client, "url-bundle", pickle_bundle(URL_SRC, URL_EXPR))
    ep = create_async_endpoint(client, "url-ep", "url-bundle")
    data = bytes(range(256)) * 8
    http_url = file_server.add("/inputs/a.bin", data)
    path = tmp_path / "in.bin"
    path.write_bytes(b"hello file")
    ids = [submit(client, ep["id"], url=http_url), submit(client, ep["id"], url=f"file://{path}")]
    out = [task_value(wait_task(client, i)[0]) for i in ids]
    assert out[0]["type"] == "bytes" and out[0]["len"] == len(data), out
    assert out[1]["len"] == len(b"hello file") and out[1]["head"] == "hello file", out
    assert file_server.hit_count("/inputs/a.bin") == 1
    # An unreadable url fails the task (not the request).
    t = wait_task(client, submit(client, ep["id"], url=file_server.url("/missing")))[0]
    assert t["status"] == "FAILURE" and file_server.url("/missing") in t["traceback"], t


def test_predict_that_raises(server, make_client):
    """An exception in predict: FAILURE with the Python traceback and
    result null (spec 5.4, 5.6, 11.D); the worker keeps serving."""
    client = make_client(server)
    probe_bundle(client)
    ep = create_async_endpoint(client, "raises", "probe", min_workers=1)
    t = run_task(client, ep["id"], {"op": "raise", "value": "boom"})
    assert t["status"] == "FAILURE" and t["result"] is None and t["status_code"] is None, t
    tb = t["traceback"]
    assert tb.startswith("Traceback (most recent call last):\n"), tb
    line = line_of(PROBE_SRC, 'raise ValueError(f"probe refuses')
    assert f'File "{source_file(PROBE_SRC)}", line {line}, in predict' in tb, tb
    assert tb.rstrip("\n").endswith("ValueError: probe refuses 'boom'"), tb
    # Wrong keyword arguments are a FAILURE too.
    quickstart_bundle(client)
    qs = create_async_endpoint(client, "qs", "test-bundle")
    t = run_task(client, qs["id"], {"x": 5})
    assert t["status"] == "FAILURE" and "TypeError" in t["traceback"], t
    assert task_value(run_task(client, ep["id"], {"op": "echo", "value": 2}))["value"] == 2


# ---- HTTP errors ----------------------------------------------------------------------

def test_http_errors(server, make_client):
    client = make_client(server)
    other = make_client(server, key=new_key("other"))
    probe_bundle(client)
    aep = create_async_endpoint(client, "async-ep", "probe")
    sep = create_endpoint(client, "sync-ep", "probe", min_workers=1)
    body = task_body({"op": "echo", "value": 1})

    # A sync endpoint does not take async tasks.
    r = post_async(client, sep["id"], body)
    assert (r.status_code, r.json()) == (400, {
        "detail": f"Unsupported inference type: Endpoint {sep['id']} is not an async "
                  "endpoint."}), r.text
    # Unknown endpoint, someone else's endpoint.
    for who, eid in ((client, "end_" + "0" * 20), (other, aep["id"])):
        r = post_async(who, eid, body)
        assert (r.status_code, r.json()) == (404, ENDPOINT_NOT_FOUND), r.text
    # Neither url nor args.
    for bad in ({"return_pickled": False}, {"url": None, "args": None, "return_pickled": True}):
        r = post_async(client, aep["id"], bad)
        assert (r.status_code, r.json()) == (
            400, {"detail": "Invalid request: Input needs either url or args."}), r.text
    # model_endpoint_id is required.
    r = client.api.request("POST", "/v1/async-tasks", body)
    assert r.status_code == 422, r.text
    assert ["query", "model_endpoint_id"] in [e["loc"][:2] for e in r.json()["detail"]], r.text

    task_id = submit(client, aep["id"], body["args"])
    # Unknown ids; another owner's task.
    for tid in (str(uuid.uuid4()), "not-a-task-id"):
        r = get_task_raw(client, tid)
        assert (r.status_code, r.json()) == (404, TASK_NOT_FOUND), (tid, r.text)
    r = get_task_raw(other, task_id)
    assert (r.status_code, r.json()) == (404, TASK_NOT_FOUND), r.text
    # Auth is needed.
    r = requests.get(f"{server.base_url}/v1/async-tasks/{task_id}", timeout=10)
    assert r.status_code == 401, r.text
    r = requests.post(f"{server.base_url}/v1/async-tasks",
                      params={"model_endpoint_id": aep["id"]}, json=body, timeout=10)
    assert r.status_code == 401, r.text
    # None of that disturbed the owner's task.
    assert task_value(wait_task(client, task_id)[0])["value"] == 1


# ---- settings: expiry, purge, timeout, retries -------------------------------------

def test_task_expires_when_not_started(start_server, make_client, tmp_path):
    """--task-expiry-s 1: the only worker is busy for 2.5 s, so the task
    queued behind it never starts within 1 s and ends FAILURE "expired"."""
    server = start_server("--task-expiry-s", "1")
    client = make_client(server)
    probe_bundle(client)
    ep = create_async_endpoint(client, "busy", "probe", min_workers=1, max_workers=1,
                               per_worker=1)
    marker = tmp_path / "running"
    slow = submit(client, ep["id"], {"op": "echo", "value": "slow", "sleep_s": 2.5,
                                     "marker": str(marker)})
    wait_file(marker)
    late = submit(client, ep["id"], {"op": "echo", "value": "late"})
    t, seen = wait_task(client, late, timeout=15)
    assert t["status"] == "FAILURE" and "expired" in t["traceback"], t
    assert "STARTED" not in seen, seen
    assert task_value(wait_task(client, slow)[0])["value"] == "slow"
    # The endpoint still serves what arrives when it is free.
    assert task_value(run_task(client, ep["id"], {"op": "echo", "value": 3}))["value"] == 3


def test_finished_tasks_are_purged(start_server, make_client):
    """--task-result-ttl-s 1: a finished task answers 404 about 1 s after it
    ended; a task still running is not purged however old it is."""
    server = start_server("--task-result-ttl-s", "1")
    client = make_client(server)
    probe_bundle(client)
    ep = create_async_endpoint(client, "ttl", "probe", min_workers=1, max_workers=1,
                               per_worker=2)
    long_id = submit(client, ep["id"], {"op": "echo", "value": "long", "sleep_s": 3})
    quick_id = submit(client, ep["id"], {"op": "echo", "value": "quick"})
    quick, _ = wait_task(client, quick_id)
    done_at = time.monotonic()
    assert task_value(quick)["value"] == "quick"
    deadline = done_at + 5
    while True:
        r = get_task_raw(client, quick_id)
        if r.status_code == 404:
            break
        assert r.status_code == 200 and r.json() == quick, r.text
        assert time.monotonic() < deadline, "a task with a 1 s TTL not purged 5 s after it ended"
        time.sleep(POLL_S)
    assert time.monotonic() - done_at >= 0.5, "purged long before its TTL"
    assert r.json() == TASK_NOT_FOUND, r.text
    # Created more than 1 s ago, still running: still there.
    assert get_task(client, long_id)["status"] in ("PENDING", "STARTED")
    assert task_value(wait_task(client, long_id)[0])["value"] == "long"


def test_task_timeout(start_server, make_client):
    """--task-timeout-s 1: a task that runs longer ends FAILURE "timed out"
    well before it would have finished; the endpoint serves the next one."""
    server = start_server("--task-timeout-s", "1")
    client = make_client(server)
    probe_bundle(client)
    ep = create_async_endpoint(client, "slow", "probe", min_workers=1, max_workers=2,
                               per_worker=1)
    t0 = time.monotonic()
    t = run_task(client, ep["id"], {"op": "echo", "value": 0, "sleep_s": 5})
    assert t["status"] == "FAILURE" and "timed out" in t["traceback"], t
    assert time.monotonic() - t0 < 4, "the timeout came only after the task would have ended"
    t = run_task(client, ep["id"], {"op": "echo", "value": 1})
    assert task_value(t)["value"] == 1
    assert time.monotonic() - t0 < 4, "the next task waited for the timed-out one"


def kill_running_worker(marker, timeout: float = 15.0) -> int:
    """Waits for the probe's marker, removes it and SIGKILLs the worker that
    wrote it; returns that pid."""
    pid = int(wait_file(marker, timeout=timeout))
    marker.unlink()
    os.kill(pid, signal.SIGKILL)
    wait_gone(pid)
    return pid


@pytest.mark.parametrize("flags", [(), ("--task-retries", "1")], ids=["default", "retries-1"])
def test_worker_killed_task_is_retried(start_server, make_client, tmp_path, flags):
    """--task-retries 1 (the default): a task whose worker is SIGKILLed runs
    again and ends SUCCESS; killed twice, it ends FAILURE "worker exited:
    signal 9"."""
    server = start_server(*flags)
    client = make_client(server)
    probe_bundle(client)
    ep = create_async_endpoint(client, "retry", "probe", min_workers=1, max_workers=1,
                               per_worker=1)
    marker = tmp_path / "running"
    args = {"op": "echo", "value": "again", "sleep_s": 1.0, "marker": str(marker)}
    task_id = submit(client, ep["id"], args)
    first_pid = kill_running_worker(marker)
    t, _ = wait_task(client, task_id, allow_requeue=True)
    out = task_value(t)
    assert out["value"] == "again" and out["pid"] != first_pid, (out, first_pid)
    assert int(wait_file(marker)) == out["pid"], "the retry ran in the worker that answered"
    marker.unlink()

    task_id = submit(client, ep["id"], args)
    kill_running_worker(marker)
    kill_running_worker(marker)
    t, _ = wait_task(client, task_id, allow_requeue=True)
    assert t["status"] == "FAILURE" and "worker exited: signal 9" in t["traceback"], t
    assert task_value(run_task(client, ep["id"], {"op": "echo", "value": 5}))["value"] == 5


def test_worker_killed_without_retries(start_server, make_client, tmp_path):
    """--task-retries 0: the first worker death fails the task."""
    server = start_server("--task-retries", "0")
    client = make_client(server)
    probe_bundle(client)
    ep = create_async_endpoint(client, "no-retry", "probe", min_workers=1, max_workers=1,
                               per_worker=1)
    marker = tmp_path / "running"
    task_id = submit(client, ep["id"], {"op": "echo", "value": 1, "sleep_s": 3,
                                        "marker": str(marker)})
    pid = kill_running_worker(marker)
    t, _ = wait_task(client, task_id)
    assert t["status"] == "FAILURE" and "worker exited: signal 9" in t["traceback"], t
    assert not marker.exists(), "the task ran again"
    out = task_value(run_task(client, ep["id"], {"op": "echo", "value": 2}))
    assert out["value"] == 2 and out["pid"] != pid
    assert pid not in worker_pids(server)


def test_async_backlog_is_capped(start_server, make_client, tmp_path):
    """--async-backlog-max-bytes: the request bytes of unfinished tasks are
    capped. Past the cap a POST answers 429 at once with a JSON detail;
    once tasks end, new ones are taken again."""
    marker = tmp_path / "running"
    slow_args = {"op": "echo", "value": "slow", "sleep_s": 1.5, "marker": str(marker)}
    size = lambda args: len(compact_json(task_body(args)))          # noqa: E731
    server = start_server("--async-backlog-max-bytes",
                          str(size(slow_args) + 2 * size({"op": "echo", "value": 1})))
    client = make_client(server)
    probe_bundle(client)
    ep = create_async_endpoint(client, "capped", "probe", min_workers=1, max_workers=1,
                               per_worker=1)
    slow = submit(client, ep["id"], slow_args)
    wait_file(marker)
    queued = [submit(client, ep["id"], {"op": "echo", "value": i}) for i in (1, 2)]
    r = post_async(client, ep["id"], task_body({"op": "echo", "value": 3}))
    assert r.status_code == 429, r.text
    assert "async_backlog_max_bytes" in r.json()["detail"], r.text
    server.wait_for_log(lambda line: " WARN async " in line and "task refused" in line,
                        what="the refusal")
    assert task_value(wait_task(client, slow)[0])["value"] == "slow"
    assert [task_value(wait_task(client, t)[0])["value"] for t in queued] == [1, 2]
    # The ended tasks give their bytes back as soon as they are stored.
    deadline = time.monotonic() + 5
    while (r := post_async(client, ep["id"], task_body({"op": "echo", "value": 4}))) \
            .status_code == 429:
        assert time.monotonic() < deadline, r.text
        time.sleep(POLL_S)
    assert r.status_code == 200, r.text
    assert task_value(wait_task(client, r.json()["task_id"])[0])["value"] == 4
