"""The official CLI's flows (spec 9; `scale-launch` 1.0.0), replayed request
by request and parsed the way the CLI parses them: endpoints list / get /
edit / creation-logs / delete, tasks send (GET ?name= three times, then the
endpoint's predict: async POST and polling, or sync POST) and batch-jobs get
(duration must be a number of seconds)."""
from __future__ import annotations

import datetime as dt
import time
from typing import Any, Optional

from bundles_rt import create_endpoint, wait_status
from callback_receiver import CallbackReceiver
from launch_client import ApiError, LaunchReplay
from test_async import UUID4_RE, check_task, create_async_endpoint, quickstart_bundle
from test_batch import batch_async_request, check_job

POLL_S = 0.1            # the client sleeps 2 s between polls; the tests need not
TIMEOUT_S = 20.0
CLI_JOB_STATUSES = {"PENDING", "RUNNING", "SUCCESS", "FAILURE", "CANCELLED", "UNDEFINED"}


def model_endpoint(d: dict) -> dict:
    """ModelEndpoint.from_dict: name is required; the fields the CLI prints."""
    assert isinstance(d.get("name"), str), d
    return {k: d.get(k) for k in ("name", "id", "bundle_name", "status", "resource_state",
                                  "deployment_state", "metadata", "endpoint_type", "configs",
                                  "destination", "post_inference_hooks",
                                  "default_callback_url")}


def get_model_endpoint(client: LaunchReplay, name: str) -> Optional[dict]:
    """client.get_model_endpoint(name): GET ?name=, element [0] or None."""
    eps = client.api.call("GET", "/v1/model-endpoints", query={"name": name})["model_endpoints"]
    return model_endpoint(eps[0]) if eps else None


def status(client: LaunchReplay, name: str) -> Optional[str]:
    """Endpoint.status(): GET ?name= again; an empty list raises."""
    ep = get_model_endpoint(client, name)
    if ep is None:
        raise ValueError(f"Could not update model endpoint view for endpoint {name}")
    return ep["status"]


def not_none_or_empty(**kwargs: Any) -> dict:
    """The CLI's _dict_not_none_or_empty."""
    return {k: v for k, v in kwargs.items() if v is not None and v != "" and v != []}


def cli_endpoint_rows(client: LaunchReplay) -> list:
    """`endpoints list`: list_model_endpoints (async first, then sync) as EndpointRow tuples."""
    eps = [model_endpoint(e) for e in client.api.call("GET", "/v1/model-endpoints")
           ["model_endpoints"]]
    eps = ([e for e in eps if e["endpoint_type"] == "async"] +
           [e for e in eps if e["endpoint_type"] == "sync"])
    rows = []
    for e in eps:
        ds, rs = e["deployment_state"] or {}, e["resource_state"] or {}
        rows.append((e["id"], e["name"], e["bundle_name"], e["status"], e["endpoint_type"],
                     str(ds.get("min_workers", "")), str(ds.get("max_workers", "")),
                     str(ds.get("available_workers", "")), str(ds.get("unavailable_workers", "")),
                     str(rs.get("gpus", "0")), str(e["metadata"] or {})))
    return rows


def cli_edit(client: LaunchReplay, name: str, hooks: list, default_callback_url: str) -> dict:
    """`endpoints edit NAME`, accepting every prompt's default (the current
    bundle, resources and worker counts) except the hooks checkbox and the
    default callback URL. Returns the PUT body."""
    me = get_model_endpoint(client, name)
    bundles = client.api.call("GET", "/v1/model-bundles")["model_bundles"]
    assert any(b["name"] == me["bundle_name"] for b in bundles), bundles
    assert me["status"] == "READY", me
    rs = not_none_or_empty(**(me["resource_state"] or {}))
    ds = not_none_or_empty(**(me["deployment_state"] or {}))
    kwargs = not_none_or_empty(
        model_bundle="", cpus=rs.get("cpus", ""), memory=rs.get("memory", ""),
        storage=rs.get("storage", ""), gpus=int(str(rs.get("gpus", ""))),
        min_workers=int(str(ds.get("min_workers", ""))),
        max_workers=int(str(ds.get("max_workers", ""))),
        per_worker=int(str(ds.get("per_worker", ""))), gpu_type="",
        post_inference_hooks=hooks, default_callback_url=default_callback_url)
    # edit_model_endpoint(model_endpoint=<object with an id>, **kwargs)
    body = {k: kwargs[k] for k in ("cpus", "gpus", "max_workers", "memory", "min_workers",
                                   "per_worker", "post_inference_hooks",
                                   "default_callback_url", "storage") if k in kwargs}
    assert isinstance(body["cpus"], str) and isinstance(body["memory"], str), body
    resp = client.api.call("PUT", f"/v1/model-endpoints/{me['id']}", body)
    assert isinstance(resp.get("endpoint_creation_task_id"), str), resp
    return body


def tasks_send(client: LaunchReplay, name: str, request: dict) -> dict:
    """`tasks send NAME -r JSON`: GET ?name=, status() twice, then predict
    with args=JSON and return_pickled=false. Returns the EndpointResponse
    fields the CLI prints."""
    me = get_model_endpoint(client, name)
    assert status(client, name) is not None
    assert status(client, name) == "READY"
    endpoint_id = get_model_endpoint(client, name)["id"]          # _async/_sync_request
    body = {"return_pickled": False, "args": request}
    if me["endpoint_type"] == "async":
        task_id = client.api.call("POST", "/v1/async-tasks", body,
                                  query={"model_endpoint_id": endpoint_id})["task_id"]
        deadline = time.monotonic() + TIMEOUT_S
        while True:                                                # future.get()
            resp = check_task(client.api.call("GET", f"/v1/async-tasks/{task_id}"), task_id)
            if resp["status"] not in ("PENDING", "STARTED"):
                break
            assert time.monotonic() < deadline, resp
            time.sleep(POLL_S)
        if resp["status"] == "SUCCESS":
            return {"status": "SUCCESS", "result": resp.get("result", {}).get("result"),
                    "result_url": resp.get("result", {}).get("result_url"), "traceback": None}
        assert resp["status"] == "FAILURE", f"Unrecognized status: {resp}"
        return {"status": "FAILURE", "result": None, "result_url": None,
                "traceback": resp.get("traceback")}
    raw = client.api.call("POST", "/v1/sync-tasks", body, query={"model_endpoint_id": endpoint_id})
    raw = {k: v for k, v in raw.items() if v is not None}
    return {"status": raw.get("status"), "result": raw.get("result", {}).get("result"),
            "result_url": raw.get("result", {}).get("result_url"),
            "traceback": raw.get("traceback")}


def batch_jobs_get(client: LaunchReplay, job_id: str) -> dict:
    """`batch-jobs get JOB_ID`: the raw dict, printed with timedelta(seconds=duration)."""
    job = client.api.call("GET", f"/v1/batch-jobs/{job_id}")
    printed = [f"status: {job['status']}", f"result: {job['result']}",
               f"duration: {dt.timedelta(seconds=job['duration'])}",
               f"# tasks pending: {job['num_tasks_pending']}",
               f"# tasks completed: {job['num_tasks_completed']}"]
    assert all(printed)
    assert job["status"] in CLI_JOB_STATUSES, job
    return check_job(job)


# ---- tests ----------------------------------------------------------------------------------

def test_endpoint_commands_and_async_tasks_send(server, make_client):
    """list, get, edit (turning on the callback hook with a default URL),
    tasks send on the async endpoint (its callback arrives), creation-logs,
    delete."""
    client = make_client(server)
    quickstart_bundle(client)
    ep = create_async_endpoint(client, "cli-async", "test-bundle", min_workers=0)
    with CallbackReceiver() as rx:
        # endpoints list
        [row] = cli_endpoint_rows(client)
        assert row[:7] == (ep["id"], "cli-async", "test-bundle", "READY", "async", "0", "1"), row
        assert row[9] == "0" and row[10] == "{}", row

        # endpoints get
        me = get_model_endpoint(client, "cli-async")
        assert me["post_inference_hooks"] in (None, []) and me["default_callback_url"] is None

        # endpoints edit
        body = cli_edit(client, "cli-async", ["callback"], rx.url("/cli"))
        assert body["cpus"] == "1" and body["memory"] == "1Gi", body
        wait_status(client, "cli-async", "READY")
        me = get_model_endpoint(client, "cli-async")
        assert me["post_inference_hooks"] == ["callback"], me
        assert me["default_callback_url"] == rx.url("/cli"), me
        assert me["resource_state"]["cpus"] == "1" and me["resource_state"]["memory"] == "1Gi"
        assert (me["deployment_state"]["min_workers"], me["deployment_state"]["max_workers"],
                me["deployment_state"]["per_worker"]) == (0, 1, 10), me

        # tasks send (async): success, then a failure
        out = tasks_send(client, "cli-async", {"x": 5, "y": "hello"})
        assert out == {"status": "SUCCESS", "result": "15", "result_url": None,
                       "traceback": None}, out
        [cb] = rx.wait_for(1, timeout=TIMEOUT_S)
        assert cb.path == "/cli" and cb.json["result"] == "15", (cb.path, cb.json)
        assert cb.json["status"] == "SUCCESS" and UUID4_RE.match(cb.json["task_id"]), cb.json
        assert "authorization" not in cb.headers, cb.headers
        out = tasks_send(client, "cli-async", {"x": 5})
        assert out["status"] == "FAILURE" and "TypeError" in out["traceback"], out

    # endpoints creation-logs
    logs = client.read_endpoint_creation_logs("cli-async")
    assert isinstance(logs, str) and logs, logs

    # endpoints delete
    assert client.delete_model_endpoint("cli-async") is True
    deadline = time.monotonic() + TIMEOUT_S
    while get_model_endpoint(client, "cli-async") is not None:
        assert time.monotonic() < deadline, "deleted endpoint still listed"
        time.sleep(POLL_S)
    assert cli_endpoint_rows(client) == []


def test_sync_tasks_send(server, make_client):
    client = make_client(server)
    quickstart_bundle(client)
    create_endpoint(client, "cli-sync", "test-bundle", min_workers=1)
    out = tasks_send(client, "cli-sync", {"x": 5, "y": "hello"})
    assert out == {"status": "SUCCESS", "result": "15", "result_url": None,
                   "traceback": None}, out


def test_batch_jobs_get(server, make_client):
    """`batch-jobs get` while the job runs and after: always a numeric
    duration; it stops growing once the job is done."""
    client = make_client(server)
    quickstart_bundle(client)
    job_id = batch_async_request(client, "test-bundle",
                                 inputs=[{"x": i, "y": "abc"} for i in range(20)])
    deadline = time.monotonic() + TIMEOUT_S * 2
    seen = []
    while True:
        job = batch_jobs_get(client, job_id)
        seen.append(job)
        if job["status"] in ("SUCCESS", "FAILURE", "CANCELLED"):
            break
        assert time.monotonic() < deadline, seen[-3:]
        time.sleep(POLL_S)
    assert job["status"] == "SUCCESS", job
    assert job["num_tasks_completed"] == 20 and job["num_tasks_pending"] == 0, job
    assert job["duration"] > 0, job
    time.sleep(0.3)
    assert batch_jobs_get(client, job_id)["duration"] == job["duration"]
    durations = [j["duration"] for j in seen]
    assert durations == sorted(durations), durations
    try:
        batch_jobs_get(client, "bat_" + "0" * 20)
    except ApiError as e:
        assert e.status == 404 and e.json() == {
            "detail": "The specified batch job could not be found."}, e.text
    else:
        raise AssertionError("an unknown batch job was found")
