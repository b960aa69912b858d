"""Batch jobs (issue 4; spec 2.6, 8): the client's CSV (id,args as base64
JSON, or id,url), uploaded through /batch_task_input_upload or written by a
self-hosted user, run through a temporary pool of the bundle; GET reports
status, duration (a JSON number) and progress; the result file lists one
row per input, in input order, as JSON lines or a pickle; PUT cancels; a
malformed CSV fails the job; a SIGKILLed server resumes the rows not done."""
from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import io
import json
import pickle
import re
import time
from typing import Any, Optional

import requests

from bundles_rt import (URL_EXPR, URL_SRC, alive, children, create_v1_bundle, fetch_result,
                        pickle_bundle)
from launch_client import LaunchReplay, new_key
from test_async import probe_bundle, quickstart_bundle

JOB_ID_RE = re.compile(r"^bat_[0-9a-v]{20}$")
JOB_KEYS = {"status", "result", "duration", "num_tasks_pending", "num_tasks_completed"}
ROW_KEYS = {"task_id", "status", "result", "traceback", "status_code", "id"}
JOB_STATUSES = {"PENDING", "RUNNING", "SUCCESS", "FAILURE", "CANCELLED"}
ENDED = ("SUCCESS", "FAILURE", "CANCELLED")
JOB_NOT_FOUND = {"detail": "The specified batch job could not be found."}
BUNDLE_NOT_FOUND = {"detail": "The specified model bundle could not be found."}
JOB_TIMEOUT_S = 60.0
_ORDER = {"PENDING": 0, "RUNNING": 1, "SUCCESS": 2, "FAILURE": 2, "CANCELLED": 2}


# ---- the client's side (spec 8.1) ------------------------------------------------------

def inputs_csv(inputs: list) -> str:
    """make_batch_input_dict_file: id,args with args = base64(json.dumps(input))."""
    f = io.StringIO()
    writer = csv.DictWriter(f, fieldnames=["id", "args"])
    writer.writeheader()
    for i, args in enumerate(inputs):
        writer.writerow({"id": i, "args": base64.b64encode(json.dumps(args).encode("utf-8"))
                         .decode("utf-8")})
    return f.getvalue()


def urls_csv(urls: list) -> str:
    """make_batch_input_file: id,url."""
    f = io.StringIO()
    writer = csv.DictWriter(f, fieldnames=["id", "url"])
    writer.writeheader()
    for i, url in enumerate(urls):
        writer.writerow({"id": i, "url": url})
    return f.getvalue()


def batch_async_request(client: LaunchReplay, model_bundle: str, *, inputs: Optional[list] = None,
                        urls: Optional[list] = None, csv_text: Optional[str] = None,
                        serialization_format: str = "JSON", labels: Optional[dict] = None,
                        **resources: Any) -> str:
    """LaunchClient.batch_async_request: builds the CSV (or takes csv_text
    as is), uploads it (signed URL, or a file:// location when self-hosted),
    resolves the bundle by name and POSTs /v1/batch-jobs with the non-None
    fields. Returns the job id."""
    if csv_text is None:
        csv_text = urls_csv(urls) if urls else inputs_csv(inputs)
    input_path = client.upload(csv_text.encode("utf-8"), route="batch_task_input_upload")
    bundle_id = client.get_model_bundle(model_bundle)["id"]
    body = {"model_bundle_id": bundle_id, "input_path": input_path,
            "serialization_format": serialization_format,
            "resource_requests": {k: v for k, v in resources.items() if v is not None}}
    if labels is not None:
        body["labels"] = labels
    resp = client.api.call("POST", "/v1/batch-jobs", body)
    assert isinstance(resp, dict) and set(resp) == {"job_id"}, resp
    assert JOB_ID_RE.match(resp["job_id"]), resp
    return resp["job_id"]


def get_batch_raw(client: LaunchReplay, job_id: str) -> requests.Response:
    return client.api.request("GET", f"/v1/batch-jobs/{job_id}")


def check_job(job: Any) -> dict:
    """GetBatchJobV1Response as the 1.0.0 client and CLI read it (extra keys,
    such as what went wrong, are allowed: the client returns the raw dict)."""
    assert isinstance(job, dict) and not JOB_KEYS - set(job), job
    assert job["status"] in JOB_STATUSES, job
    d = job["duration"]
    assert isinstance(d, (int, float)) and not isinstance(d, bool) and d >= 0, job
    dt.timedelta(seconds=d)                                  # what `batch-jobs get` does
    for k in ("num_tasks_pending", "num_tasks_completed"):
        assert job[k] is None or (type(job[k]) is int and job[k] >= 0), job
    if job["status"] in ("PENDING", "RUNNING"):
        assert job["result"] is None, job
    if job["status"] == "PENDING":
        assert job["num_tasks_pending"] is None and job["num_tasks_completed"] is None, job
    if job["status"] == "SUCCESS":
        assert isinstance(job["result"], str) and job["result"], job
    return job


def get_batch(client: LaunchReplay, job_id: str) -> dict:
    r = get_batch_raw(client, job_id)
    assert r.status_code == 200, f"GET batch job {job_id} -> {r.status_code} {r.text}"
    return check_job(r.json())


def wait_batch(client: LaunchReplay, job_id: str, until=ENDED,
               timeout: float = JOB_TIMEOUT_S) -> tuple:
    """Polls until the status is in until; returns (job, statuses seen).
    Statuses only move forward and the duration never shrinks."""
    deadline = time.monotonic() + timeout
    seen: list = []
    last = None
    while True:
        job = get_batch(client, job_id)
        if last is not None:
            assert job["duration"] >= last["duration"] - 1e-3, (last, job)
        if not seen or seen[-1] != job["status"]:
            assert not seen or _ORDER[job["status"]] >= _ORDER[seen[-1]], seen + [job["status"]]
            assert not seen or seen[-1] not in ENDED, seen + [job["status"]]
            seen.append(job["status"])
        last = job
        if job["status"] in until:
            return job, seen
        if time.monotonic() >= deadline:
            raise AssertionError(f"batch job {job_id} not {until} within {timeout}s: {job}")
        time.sleep(0.1)


def put_cancel(client: LaunchReplay, job_id: str, cancel: bool = True) -> requests.Response:
    return client.api.request("PUT", f"/v1/batch-jobs/{job_id}", {"cancel": cancel})


def result_rows(client: LaunchReplay, job: dict, fmt: str = "JSON") -> list:
    """Fetches the result file with the owner's key and parses it."""
    r = fetch_result(job["result"], client.api_key)
    assert r.status_code == 200, f"GET {job['result']} -> {r.status_code} {r.text[:300]}"
    if fmt == "PICKLE":
        rows = pickle.loads(r.content)
        assert isinstance(rows, list), type(rows)
        return rows
    text = r.content.decode("utf-8")
    assert text and not text.endswith("\n"), "JSON lines, no trailing newline"
    return [json.loads(line) for line in text.split("\n")]


def check_row(row: Any, i: int) -> dict:
    """One result row: the async-task response plus the CSV id (spec 8.2 step 6)."""
    assert isinstance(row, dict) and set(row) == ROW_KEYS, row
    assert row["id"] == str(i), (i, row)
    assert isinstance(row["task_id"], str) and row["task_id"], row
    assert row["status_code"] is None, row
    if row["status"] == "SUCCESS":
        assert isinstance(row["result"], dict) and set(row["result"]) == {"result"}, row
        assert isinstance(row["result"]["result"], str) and row["traceback"] is None, row
    else:
        assert row["status"] == "FAILURE", row
        assert row["result"] is None and isinstance(row["traceback"], str), row
    return row


def row_value(row: dict) -> Any:
    assert row["status"] == "SUCCESS", row
    return json.loads(row["result"]["result"])


# ---- tests --------------------------------------------------------------------------------

def test_thousand_rows_in_input_order(server, make_client):
    """1,000 args rows, exactly as the client builds and uploads them; some
    fail inside predict. Every row comes back once, in input order, with its
    own result; the job counts all 1,000 as completed."""
    client = make_client(server)
    other = make_client(server, key=new_key("other"))
    quickstart_bundle(client)
    inputs = [{"x": i} if i % 97 == 5 else {"x": i, "y": "y" * (i % 4)} for i in range(1000)]
    csv_text = inputs_csv(inputs)
    assert csv_text.startswith("id,args\r\n0,") and csv_text.endswith("\r\n")
    job_id = batch_async_request(client, "test-bundle", inputs=inputs, labels={"team": "t",
                                                                               "product": "p"},
                                 cpus=1, memory="1Gi", max_workers=2, per_worker=10)
    job, seen = wait_batch(client, job_id)
    assert job["status"] == "SUCCESS", job
    assert (job["num_tasks_pending"], job["num_tasks_completed"]) == (0, 1000), job
    rows = result_rows(client, job)
    assert len(rows) == 1000
    assert len({row["task_id"] for row in rows}) == 1000
    for i, row in enumerate(rows):
        check_row(row, i)
        if i % 97 == 5:
            assert row["status"] == "FAILURE" and "TypeError" in row["traceback"], row
        else:
            assert row_value(row) == 2 * i + i % 4, (i, row)
    # Finished: the duration stops; the result is the owner's; cancel changes nothing.
    time.sleep(0.3)
    again = get_batch(client, job_id)
    assert again == job, (again, job)
    assert fetch_result(job["result"], other.api_key).status_code == 404
    assert put_cancel(client, job_id).status_code == 200
    assert get_batch(client, job_id)["status"] == "SUCCESS"


def test_pickle_format_with_url_rows(server, make_client, file_server):
    """serialization_format PICKLE: a pickle of the list of row dicts. url
    rows (id,url), and a self-hosted user's file:// input path."""
    client = make_client(server, self_hosted=True)
    create_v1_bundle(client, "url-bundle", pickle_bundle(URL_SRC, URL_EXPR))
    blobs = [f"input {i} ".encode() * (i + 1) for i in range(5)]
    urls = [file_server.add(f"/in/{i}.bin", b) for i, b in enumerate(blobs)]
    urls.append(file_server.url("/in/missing.bin"))
    job_id = batch_async_request(client, "url-bundle", urls=urls, serialization_format="PICKLE")
    job, _ = wait_batch(client, job_id)
    assert job["status"] == "SUCCESS", job
    rows = result_rows(client, job, "PICKLE")
    assert len(rows) == 6
    for i, row in enumerate(rows):
        check_row(row, i)
    for i, b in enumerate(blobs):
        assert row_value(rows[i]) == {"type": "bytes", "len": len(b),
                                      "sha256": hashlib.sha256(b).hexdigest(),
                                      "head": b[:16].decode("latin-1")}, rows[i]
    assert rows[5]["status"] == "FAILURE" and urls[5] in rows[5]["traceback"], rows[5]


def test_cancel(server, make_client):
    """PUT {"cancel": false} changes nothing; {"cancel": true} answers
    {"success": true}, the job is CANCELLED, stays so, and its workers stop."""
    client = make_client(server)
    probe_bundle(client)
    inputs = [{"op": "echo", "value": i, "sleep_s": 0.25} for i in range(40)]
    job_id = batch_async_request(client, "probe", inputs=inputs, max_workers=1, per_worker=1)
    job, _ = wait_batch(client, job_id, until=("RUNNING",) + ENDED, timeout=20)
    assert job["status"] == "RUNNING", job
    r = put_cancel(client, job_id, cancel=False)
    assert (r.status_code, r.json()) == (200, {"success": True}), r.text
    assert get_batch(client, job_id)["status"] == "RUNNING"
    r = put_cancel(client, job_id)
    assert (r.status_code, r.json()) == (200, {"success": True}), r.text
    job, _ = wait_batch(client, job_id, timeout=5)
    assert job["status"] == "CANCELLED", job
    done = job["num_tasks_completed"]
    deadline = time.monotonic() + 10
    while children(server.proc.pid):
        assert time.monotonic() < deadline, f"batch workers left: {children(server.proc.pid)}"
        time.sleep(0.05)
    time.sleep(0.5)
    later = get_batch(client, job_id)
    assert later["status"] == "CANCELLED", later
    if isinstance(done, int) and isinstance(later["num_tasks_completed"], int):
        assert later["num_tasks_completed"] <= done + 1, (job, later)
        assert later["num_tasks_completed"] < 40, later
    assert put_cancel(client, job_id).status_code == 200
    assert get_batch(client, job_id)["status"] == "CANCELLED"


def test_malformed_csv_fails_the_job(server, make_client):
    client = make_client(server)
    quickstart_bundle(client)
    good = base64.b64encode(json.dumps({"x": 1, "y": "a"}).encode()).decode()
    not_json = base64.b64encode(b'{"x": 1, "y": ').decode()
    bad_csvs = {
        "bad base64": f"id,args\r\n0,{good}\r\n1,%%%not base64%%%\r\n2,{good}\r\n",
        "args not JSON": f"id,args\r\n0,{good}\r\n1,{not_json}\r\n",
        "neither args nor url": "id,input\r\n0,abc\r\n1,def\r\n",
    }
    jobs = {what: batch_async_request(client, "test-bundle", csv_text=text, max_workers=1)
            for what, text in bad_csvs.items()}
    for what, job_id in jobs.items():
        job, _ = wait_batch(client, job_id, timeout=20)
        assert job["status"] == "FAILURE", (what, job)


def test_http_errors(server, make_client):
    client = make_client(server)
    other = make_client(server, key=new_key("other"))
    bundle_id = quickstart_bundle(client)
    input_path = client.upload(inputs_csv([{"x": 1, "y": ""}]).encode(),
                               route="batch_task_input_upload")
    body = {"model_bundle_id": bundle_id, "input_path": input_path,
            "serialization_format": "JSON", "resource_requests": {}}
    # Unknown bundle; someone else's bundle.
    for who, bid in ((client, "bun_" + "0" * 20), (other, bundle_id)):
        r = who.api.request("POST", "/v1/batch-jobs", {**body, "model_bundle_id": bid})
        assert (r.status_code, r.json()) == (404, BUNDLE_NOT_FOUND), r.text
    # Required fields and the format enum.
    for bad, loc in (({k: v for k, v in body.items() if k != "input_path"}, "input_path"),
                     ({k: v for k, v in body.items() if k != "model_bundle_id"},
                      "model_bundle_id"),
                     ({**body, "serialization_format": "XML"}, "serialization_format")):
        r = client.api.request("POST", "/v1/batch-jobs", bad)
        assert r.status_code == 422, r.text
        assert ["body", loc] in [e["loc"][:2] for e in r.json()["detail"]], r.text
    # labels are optional (spec 12 #4): the 1.0.0 client omits them.
    job_id = client.api.call("POST", "/v1/batch-jobs", body)["job_id"]
    assert JOB_ID_RE.match(job_id), job_id
    for who, jid in ((client, "bat_" + "0" * 20), (other, job_id)):
        r = get_batch_raw(who, jid)
        assert (r.status_code, r.json()) == (404, JOB_NOT_FOUND), r.text
        r = put_cancel(who, jid)
        assert (r.status_code, r.json()) == (404, JOB_NOT_FOUND), r.text
    r = client.api.request("PUT", f"/v1/batch-jobs/{job_id}", {})
    assert r.status_code == 422, r.text
    r = requests.get(f"{server.base_url}/v1/batch-jobs/{job_id}", timeout=10)
    assert r.status_code == 401, r.text
    job, _ = wait_batch(client, job_id)
    assert job["status"] == "SUCCESS", job
    [row] = result_rows(client, job)
    assert row_value(check_row(row, 0)) == 2


def test_sigkill_resumes_the_rows_not_done(server, make_client):
    """SIGKILL in the middle of a job; after a restart it goes on and ends
    SUCCESS with every row once, in order. The rows done before the crash
    were not all run again: their results still name the old worker."""
    key = new_key("resume")
    client = make_client(server, key=key)
    probe_bundle(client)
    inputs = [{"op": "echo", "value": i, "sleep_s": 0.05} for i in range(60)]
    job_id = batch_async_request(client, "probe", inputs=inputs, max_workers=1, per_worker=1)
    deadline = time.monotonic() + 20
    while True:
        job = get_batch(client, job_id)
        assert job["status"] in ("PENDING", "RUNNING"), job
        if (job["num_tasks_completed"] or 0) >= 10:
            break
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    done_before = job["num_tasks_completed"]
    old_pids = {c["pid"] for c in children(server.proc.pid)}
    server.kill()
    deadline = time.monotonic() + 5
    while any(alive(p) for p in old_pids):
        assert time.monotonic() < deadline, old_pids
        time.sleep(0.02)
    server.start()
    client = make_client(server, key=key)
    job, _ = wait_batch(client, job_id)
    assert job["status"] == "SUCCESS", job
    assert job["num_tasks_completed"] == 60, job
    rows = result_rows(client, job)
    assert len(rows) == 60
    values = [row_value(check_row(row, i)) for i, row in enumerate(rows)]
    assert [v["value"] for v in values] == list(range(60))
    kept = sum(1 for v in values if v["pid"] in old_pids)
    assert kept >= done_before // 2, \
        f"{done_before} rows were done before the kill, only {kept} kept their results"
    assert any(v["pid"] not in old_pids for v in values), "nothing ran after the restart"
