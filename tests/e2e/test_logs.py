"""One log line per request with method, path and status, and never the API
key (nor its Basic encoding) anywhere on stderr."""
from __future__ import annotations

import base64
import re

import pytest
import requests

from artifacts import PYTORCH_ENV, real_artifact
from launch_client import LaunchReplay, basic_auth
from shapes import poll

TIMEOUT = 10
SECRET = "sk-live-SECRET-4f1c9a7e2b"


def secret_forms(key):
    return [key, base64.b64encode(f"{key}:".encode()).decode(), basic_auth(key)]


def wait_for_count(server, n):
    server.wait_for_log(lambda _: len(server.http_log()) >= n, what=f"{n} request lines")


def test_one_line_per_request(server):
    url = server.base_url
    auth = {"Authorization": basic_auth("log-key")}
    calls = [
        ("GET", "/healthz", None, {}, 200, "/healthz"),
        ("GET", "/v1/model-bundles?model_name=x&order_by=newest", None, auth, 200,
         "/v1/model-bundles"),
        ("GET", "/v1/model-bundles", None, {}, 401, "/v1/model-bundles"),
        ("GET", "/no/such/route", None, auth, 404, "/no/such/route"),
        ("DELETE", "/v1/model-bundles", None, auth, 405, "/v1/model-bundles"),
        ("POST", "/v1/model-bundles", b"{", {**auth, "Content-Type": "application/json"}, 422,
         "/v1/model-bundles"),
        ("POST", "/model_bundle_upload", b"{}", auth, 200, "/model_bundle_upload"),
        ("GET", "//v1//model-endpoints", None, auth, 200, "/v1/model-endpoints"),
    ]
    for method, path, data, headers, status, _ in calls:
        r = requests.request(method, url + path, data=data, headers=headers, timeout=TIMEOUT)
        assert r.status_code == status, (path, r.text)
    wait_for_count(server, len(calls))
    logged = server.http_log()
    assert len(logged) == len(calls), logged
    # Lines are written when a request completes, so two requests on two
    # connections may log in either order: compare as multisets.
    want = sorted((m, p, str(s)) for m, _, _, _, s, p in calls)
    assert sorted((x["method"], x["path"], x["status"]) for x in logged) == want, logged
    for line in logged:
        assert float(line["ms"]) >= 0
        assert "?" not in line["path"], line
        if line["path"] == "/healthz" or line["status"] == "401":
            assert line["owner"] == "-", line
        elif line["status"] not in ("404", "405"):
            assert re.fullmatch(r"[0-9a-f]{8}", line["owner"]), line


def test_owner_fingerprint_is_stable_and_distinct(server):
    calls = [("alice-key", "/v1/model-bundles"), ("bob-key", "/v2/model-bundles"),
             ("alice-key", "/v1/model-endpoints")]
    for key, path in calls:
        requests.get(server.base_url + path, auth=(key, ""), timeout=TIMEOUT)
    wait_for_count(server, 3)
    owner = {line["path"]: line["owner"] for line in server.http_log()}
    assert owner["/v1/model-bundles"] == owner["/v1/model-endpoints"] != \
        owner["/v2/model-bundles"], owner
    assert all(re.fullmatch(r"[0-9a-f]{8}", o) for o in owner.values())


@pytest.mark.parametrize("level", ["info", "debug"])
def test_api_key_never_logged(start_server, tmp_path, level):
    srv = start_server("--log-level", level)
    client = LaunchReplay(srv.base_url, SECRET)
    try:
        loc = client.upload(real_artifact())
        client.api.call("POST", "/v1/model-bundles", {
            "requirements": [], "packaging_type": "cloudpickle", "name": "b", "location": loc,
            "env_params": PYTORCH_ENV, "metadata": {}})
        bid = client.get_model_bundle("b")["id"]
        client.api.call("POST", "/v1/model-endpoints", {
            "endpoint_type": "async", "metadata": {}, "memory": "8Gi", "cpus": 1,
            "max_workers": 1, "model_bundle_id": bid, "min_workers": 0, "gpus": 0,
            "name": "e", "per_worker": 10, "labels": {}, "high_priority": False})
        # Let the bundle load, so the runtime's log lines are in what is checked.
        poll(lambda: client.status("e"), lambda s: s == "READY", timeout=TIMEOUT,
             what="endpoint e READY")
        client.read_endpoint_creation_logs("e")
        client.api.request("GET", "/v1/model-bundles/latest")                     # 422
        client.api.request("POST", "/v1/model-bundles", {"name": SECRET})          # 422
        client.api.request("GET", "/v1/model-endpoints/end_00000000000000000000")  # 404
        client.api.request("POST", "/v1/model-bundles",
                           {"name": "b", "location": "/nonexistent/x", "requirements": [],
                            "env_params": PYTORCH_ENV, "packaging_type": "cloudpickle"})  # 400
        client.api.request("GET", "/v1/nowhere")                                   # 404
        client.api.request("PATCH", "/v1/model-bundles")                           # 405
        requests.get(srv.base_url + "/v1/model-bundles",
                     headers={"Authorization": "Bearer " + SECRET}, timeout=TIMEOUT)
        requests.get(srv.base_url + "/v1/model-bundles",
                     headers={"Authorization": "Basic " + SECRET}, timeout=TIMEOUT)
    finally:
        client.close()
    srv.stop()
    text = srv.log_text()
    n = len(srv.http_log())
    assert n >= 13, text
    for form in secret_forms(SECRET) + [SECRET.lower(), SECRET.upper()]:
        assert form not in text, f"{form!r} in logs:\n{text}"


def test_closed_mode_rejected_key_not_logged(start_server, tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("allowed-key-9f8e7d\n")
    srv = start_server("--api-keys", str(keys))
    for key in (SECRET, "allowed-key-9f8e7d"):
        requests.get(srv.base_url + "/v1/model-bundles", auth=(key, ""), timeout=TIMEOUT)
        requests.post(srv.base_url + "/model_bundle_upload", json={}, auth=(key, ""),
                      timeout=TIMEOUT)
    srv.stop()
    text = srv.log_text()
    for key in (SECRET, "allowed-key-9f8e7d"):
        for form in secret_forms(key):
            assert form not in text, f"{form!r} in logs:\n{text}"
    statuses = sorted(int(line["status"]) for line in srv.http_log())
    assert statuses == [200, 200, 401, 401], statuses


def test_upload_tokens_not_logged(server, client):
    resp = client.connection.post("model_bundle_upload")
    token = resp["signedUrl"].split("token=", 1)[1]
    assert 200 <= requests.put(resp["signedUrl"], data=b"x", timeout=TIMEOUT).status_code < 300
    requests.put(resp["signedUrl"], data=b"x", timeout=TIMEOUT)           # 403
    server.stop()
    assert token not in server.log_text()
    lines = [x for x in server.http_log() if x["method"] == "PUT"]
    assert [x["path"] for x in lines] == [f"/upload/{resp['key']}"] * 2
    assert sorted(x["status"] for x in lines) == ["200", "403"]
