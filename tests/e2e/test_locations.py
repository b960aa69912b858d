"""Bundle locations (spec 2.7): s3://liftoff/KEY, file:///abs, /abs and
http(s):// URLs (downloaded once, then cached); an unreadable location is 400
with the location in the detail."""
from __future__ import annotations

import json

import pytest

from artifacts import (PYTORCH_ENV, QUICKSTART_SCHEMA, not_a_pickle, real_artifact,
                       write_real_artifact)
from shapes import assert_status_progression, poll

TIMEOUT = 10


def v1(location, name="loc", **extra):
    return {"requirements": [], "packaging_type": "cloudpickle", "name": name,
            "location": location, "env_params": PYTORCH_ENV, "metadata": {}, **extra}


def endpoint_body(name, bundle_id):
    return {"endpoint_type": "async", "metadata": {}, "memory": "8Gi", "cpus": 1,
            "max_workers": 1, "model_bundle_id": bundle_id, "min_workers": 0, "gpus": 0,
            "name": name, "per_worker": 10, "labels": {}, "high_priority": False}


def final_status(client, name):
    status, seen = poll(lambda: client.status(name),
                        lambda s: s in ("READY", "UPDATE_FAILED"), timeout=TIMEOUT,
                        what=f"{name} built")
    assert_status_progression(seen, status)
    return status


def test_local_forms_are_accepted(client, tmp_path):
    art = tmp_path / "dir with space" / "a.pkl"
    art.parent.mkdir()
    write_real_artifact(art)
    for i, location in enumerate([
            str(art), f"file://{art}", f"file://localhost{art}",
            "file://" + str(art).replace(" ", "%20")]):
        r = client.api.request("POST", "/v1/model-bundles", v1(location, f"b{i}"))
        assert r.status_code == 200, (location, r.text)
        bid = r.json()["model_bundle_id"]
        assert client.api.call("GET", f"/v1/model-bundles/{bid}")["location"] == location
        client.api.call("POST", "/v1/model-endpoints", endpoint_body(f"e{i}", bid))
        assert final_status(client, f"e{i}") == "READY", location


@pytest.mark.parametrize("make_location", [
    lambda d: f"file://{d}/missing.pkl",
    lambda d: f"{d}/missing.pkl",
    lambda d: str(d),                          # a directory
    lambda d: "relative/path.pkl",
    lambda d: "s3://liftoff/bundles/never-uploaded",
    lambda d: "s3://some-other-bucket/key",
    lambda d: "s3://liftoff/../../etc/passwd",
    lambda d: "gs://bucket/key",
    lambda d: "file://otherhost/etc/hostname",
], ids=["file-missing", "path-missing", "directory", "relative", "s3-not-uploaded",
        "s3-foreign-bucket", "s3-escape", "unknown-scheme", "file-remote-host"])
def test_unreadable_location_is_400(client, tmp_path, make_location):
    location = make_location(tmp_path)
    r = client.api.request("POST", "/v1/model-bundles", v1(location))
    assert r.status_code == 400, r.text
    assert location in r.json()["detail"], r.text
    assert client.list_model_bundles() == []


def test_unreadable_schema_location_is_400(client, tmp_path):
    art = tmp_path / "a.pkl"
    art.write_bytes(b"a")
    missing = f"file://{tmp_path}/no-schema.json"
    r = client.api.request("POST", "/v1/model-bundles", v1(str(art), schema_location=missing))
    assert r.status_code == 400, r.text
    assert missing in r.json()["detail"]
    r = client.api.request("POST", "/v2/model-bundles", {
        "name": "v2", "schema_location": missing, "flavor": {
            "flavor": "cloudpickle_artifact", "requirements": [], "location": str(art),
            "framework": PYTORCH_ENV, "load_predict_fn": "", "load_model_fn": ""}})
    assert r.status_code == 400, r.text
    assert missing in r.json()["detail"]
    r = client.api.request("POST", "/v2/model-bundles", {
        "name": "v2", "schema_location": str(art), "flavor": {
            "flavor": "cloudpickle_artifact", "requirements": [],
            "location": f"{tmp_path}/gone.pkl",
            "framework": PYTORCH_ENV, "load_predict_fn": "", "load_model_fn": ""}})
    assert r.status_code == 400, r.text
    assert f"{tmp_path}/gone.pkl" in r.json()["detail"]


def test_http_location_is_downloaded_once(client, file_server):
    url = file_server.add("/models/quick.pkl", real_artifact(10_000))
    schema_url = file_server.add("/models/schema.json", json.dumps(QUICKSTART_SCHEMA).encode())
    bid = client.api.call("POST", "/v1/model-bundles",
                          v1(url, schema_location=schema_url))["model_bundle_id"]
    assert client.api.call("GET", f"/v1/model-bundles/{bid}")["location"] == url
    # Another bundle naming the same URL, an endpoint build and a rebuild: no more downloads.
    bid2 = client.api.call("POST", "/v2/model-bundles", {
        "name": "again", "schema_location": schema_url, "flavor": {
            "flavor": "cloudpickle_artifact", "requirements": [], "location": url,
            "framework": PYTORCH_ENV, "load_predict_fn": "", "load_model_fn": ""}}
    )["model_bundle_id"]
    client.api.call("POST", "/v1/model-endpoints", endpoint_body("h", bid))
    assert final_status(client, "h") == "READY"
    eid = client.get_model_endpoint("h")["id"]
    client.api.call("PUT", f"/v1/model-endpoints/{eid}", {"model_bundle_id": bid2})
    assert final_status(client, "h") == "READY"
    schemas = client.api.call("GET", "/v1/model-endpoints-schema.json")["components"]["schemas"]
    assert schemas["h-RequestSchema"] == QUICKSTART_SCHEMA["RequestSchema"]
    assert file_server.hit_count("/models/quick.pkl") == 1
    assert file_server.hit_count("/models/schema.json") == 1


def test_http_location_cache_survives_restart(server, make_client, file_server):
    client = make_client(server, key="restart-http-key")
    url = file_server.add("/m.pkl", real_artifact())
    bid = client.api.call("POST", "/v1/model-bundles", v1(url))["model_bundle_id"]
    client.api.call("POST", "/v1/model-endpoints", endpoint_body("h", bid))
    assert final_status(client, "h") == "READY"
    server.restart()
    client = make_client(server, key="restart-http-key")
    assert final_status(client, "h") == "READY"
    client.api.call("POST", "/v1/model-bundles", v1(url))
    assert file_server.hit_count("/m.pkl") == 1


def test_http_location_errors_are_400(client, file_server):
    missing = file_server.url("/nope.pkl")
    r = client.api.request("POST", "/v1/model-bundles", v1(missing))
    assert r.status_code == 400, r.text
    assert missing in r.json()["detail"]
    # A failed download is not cached: once the file exists, it works.
    file_server.add("/nope.pkl", b"now here")
    r = client.api.request("POST", "/v1/model-bundles", v1(missing))
    assert r.status_code == 200, r.text
    closed = "http://127.0.0.1:9/closed-port.pkl"
    r = client.api.request("POST", "/v1/model-bundles", v1(closed))
    assert r.status_code == 400, r.text
    assert closed in r.json()["detail"]


def test_http_download_over_upload_limit_is_refused(start_server, make_client, file_server):
    srv = start_server("--max-upload-bytes", "1000")
    client = make_client(srv)
    url = file_server.add("/big.pkl", b"b" * 5000)
    r = client.api.request("POST", "/v1/model-bundles", v1(url))
    assert r.status_code in (400, 413), r.text
    assert url in r.json()["detail"]
    assert client.list_model_bundles() == []


def test_long_http_location_is_downloaded_once(client, file_server):
    """A long URL (signed URLs carry long query strings) is the same URL at
    bundle creation and at deployment."""
    url = file_server.add("/signed.pkl", real_artifact()) + "?X-Signature=" + "s" * 5000
    bid = client.api.call("POST", "/v1/model-bundles", v1(url))["model_bundle_id"]
    assert client.api.call("GET", f"/v1/model-bundles/{bid}")["location"] == url
    client.api.call("POST", "/v1/model-endpoints", endpoint_body("h", bid))
    assert final_status(client, "h") == "READY"
    assert file_server.hit_count("/signed.pkl") == 1


def test_status_is_visible_while_building(server, client, file_server):
    """While the artifact download of a build is slow, the endpoint shows
    UPDATE_PENDING or UPDATE_IN_PROGRESS with destination UNKNOWN, the server
    keeps answering, and the endpoint then becomes READY by itself."""
    url = file_server.add("/slow.pkl", real_artifact())
    bid = client.api.call("POST", "/v1/model-bundles", v1(url))["model_bundle_id"]
    for f in (server.data_dir / "cache").iterdir():     # README: cache/ holds downloads
        f.unlink()
    file_server.delay_s["/slow.pkl"] = 1.5
    client.api.call("POST", "/v1/model-endpoints", endpoint_body("slow", bid))
    ep = client.get_model_endpoint("slow")
    assert ep["status"] in ("UPDATE_PENDING", "UPDATE_IN_PROGRESS"), ep["status"]
    assert ep["destination"] == "UNKNOWN", ep
    import time
    t0 = time.monotonic()
    assert client.api.call("GET", "/v1/model-bundles/" + bid)["id"] == bid
    assert client.read_endpoint_creation_logs("slow") is not None
    assert time.monotonic() - t0 < 1.0, "the server stalled behind a download"
    assert final_status(client, "slow") == "READY"
    ep = client.get_model_endpoint("slow")
    assert ep["destination"] == f"launch-endpoint-id-{ep['id']}"
    assert file_server.hit_count("/slow.pkl") == 2


def test_unloadable_artifact_behind_a_slow_download_never_becomes_ready(server, client,
                                                                        file_server):
    """READY means the bundle was loaded, also for min_workers 0 (README): an
    endpoint must not turn READY while its artifact is still downloading, and
    an artifact that is not a pickle ends UPDATE_FAILED once it arrives."""
    url = file_server.add("/slow-bad.pkl", not_a_pickle())
    bid = client.api.call("POST", "/v1/model-bundles", v1(url))["model_bundle_id"]
    for f in (server.data_dir / "cache").iterdir():     # README: cache/ holds downloads
        f.unlink()
    file_server.delay_s["/slow-bad.pkl"] = 0.5
    client.api.call("POST", "/v1/model-endpoints", endpoint_body("slow", bid))
    assert final_status(client, "slow") == "UPDATE_FAILED"
    assert "UnpicklingError" in client.read_endpoint_creation_logs("slow")
    eid = client.get_model_endpoint("slow")["id"]
    assert "READY" not in server.deploy_statuses(eid), server.log_text()
    assert file_server.hit_count("/slow-bad.pkl") == 2
