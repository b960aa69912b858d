"""Signed-upload emulation (spec 2.7): POST /model_bundle_upload and
/batch_task_input_upload hand out a one-time unauthenticated PUT target."""
from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest
import requests

from artifacts import PYTORCH_ENV, QUICKSTART_SCHEMA, real_artifact
from launch_client import put_signed_url
from shapes import assert_status_progression, poll

TIMEOUT = 10
UPLOAD_ROUTES = ["model_bundle_upload", "batch_task_input_upload",
                 "v1/hosted_inference/model_bundle_upload",
                 "v1/hosted_inference/batch_task_input_upload"]


def endpoint_body(name, bundle_id):
    return {"endpoint_type": "async", "metadata": {}, "memory": "8Gi", "cpus": 1,
            "max_workers": 1, "model_bundle_id": bundle_id, "min_workers": 0, "gpus": 0,
            "name": name, "per_worker": 10, "labels": {}, "high_priority": False}


def wait_ready(client, name):
    _, seen = poll(lambda: client.status(name),
                   lambda s: s not in ("UPDATE_PENDING", "UPDATE_IN_PROGRESS"),
                   timeout=TIMEOUT, what=f"{name} built")
    assert_status_progression(seen, "READY")


def bundle_body(location, **extra):
    return {"requirements": [], "packaging_type": "cloudpickle", "name": "up",
            "location": location, "env_params": PYTORCH_ENV, "metadata": {}, **extra}


def with_token(url, token):
    parts = urlsplit(url)
    query = "" if token is None else f"token={token}"
    return urlunsplit(parts._replace(query=query))


@pytest.mark.parametrize("route", UPLOAD_ROUTES)
def test_upload_url_shape(server, client, route):
    resp = client.connection.post(route)
    assert set(resp) >= {"signedUrl", "bucket", "key"}, resp
    assert resp["bucket"] == "liftoff"
    assert isinstance(resp["key"], str) and resp["key"]
    m = re.match(rf"^{re.escape(server.base_url)}/upload/(?P<key>[^?]+)\?token=(?P<t>[^&]+)$",
                 resp["signedUrl"])
    assert m, resp["signedUrl"]
    assert m["key"] == resp["key"]
    again = client.connection.post(route)
    assert again["key"] != resp["key"]
    assert parse_qs(urlsplit(again["signedUrl"]).query)["token"] != [m["t"]]


@pytest.mark.parametrize("route", UPLOAD_ROUTES)
def test_upload_then_use_as_location(client, route):
    resp = client.connection.post(route)
    data = real_artifact(100_000)
    r = put_signed_url(resp["signedUrl"], data)
    assert 200 <= r.status_code < 300, r.text
    location = f"s3://{resp['bucket']}/{resp['key']}"
    bid = client.api.call("POST", "/v1/model-bundles", bundle_body(location))["model_bundle_id"]
    assert client.api.call("GET", f"/v1/model-bundles/{bid}")["location"] == location
    # The upload was stored intact: a worker loads it and the endpoint is READY.
    client.api.call("POST", "/v1/model-endpoints", endpoint_body("e", bid))
    wait_ready(client, "e")


def test_uploaded_schema_is_stored_intact(client):
    """The schema JSON sent through the PUT comes back in the endpoints'
    OpenAPI document, byte for byte equal as JSON."""
    loc = client.upload(real_artifact())
    schema_loc = client.upload(json.dumps(QUICKSTART_SCHEMA).encode())
    bid = client.api.call("POST", "/v1/model-bundles",
                          bundle_body(loc, schema_location=schema_loc))["model_bundle_id"]
    client.api.call("POST", "/v1/model-endpoints", {
        "endpoint_type": "async", "metadata": {}, "memory": "8Gi", "cpus": 1, "max_workers": 1,
        "model_bundle_id": bid, "min_workers": 0, "gpus": 0, "name": "s", "per_worker": 10,
        "labels": {}, "high_priority": False})
    schemas = client.api.call("GET", "/v1/model-endpoints-schema.json")["components"]["schemas"]
    assert schemas["s-RequestSchema"] == QUICKSTART_SCHEMA["RequestSchema"]
    assert schemas["s-ResponseSchema"] == QUICKSTART_SCHEMA["ResponseSchema"]


def test_put_is_one_time(client):
    resp = client.connection.post("model_bundle_upload")
    assert 200 <= put_signed_url(resp["signedUrl"], b"first").status_code < 300
    r = put_signed_url(resp["signedUrl"], b"second")
    assert r.status_code == 403, r.text
    assert isinstance(r.json()["detail"], str)


def test_put_needs_the_right_token(client):
    resp = client.connection.post("model_bundle_upload")
    for url in (with_token(resp["signedUrl"], None), with_token(resp["signedUrl"], "0" * 32),
                with_token(resp["signedUrl"], "")):
        r = put_signed_url(url, b"data")
        assert r.status_code == 403, (url, r.text)
    # A wrong token does not use the URL up.
    assert 200 <= put_signed_url(resp["signedUrl"], b"data").status_code < 300
    # Tokens belong to their key.
    other = client.connection.post("model_bundle_upload")
    token = parse_qs(urlsplit(other["signedUrl"]).query)["token"][0]
    r = put_signed_url(with_token(client.connection.post("model_bundle_upload")["signedUrl"],
                                  token), b"x")
    assert r.status_code == 403, r.text


def test_put_to_a_key_never_handed_out_is_403(server):
    r = requests.put(server.base_url + "/upload/bundles/deadbeefdeadbeefdeadbeef?token=abc",
                     data=b"x", timeout=TIMEOUT)
    assert r.status_code == 403, r.text


def test_not_uploaded_location_is_400(client):
    resp = client.connection.post("model_bundle_upload")
    location = f"s3://{resp['bucket']}/{resp['key']}"
    r = client.api.request("POST", "/v1/model-bundles", bundle_body(location))
    assert r.status_code == 400, r.text
    assert location in r.json()["detail"]


def test_put_needs_no_auth_and_ignores_any(client):
    resp = client.connection.post("model_bundle_upload")
    r = requests.put(resp["signedUrl"], data=b"x", auth=("someone-else", ""), timeout=TIMEOUT,
                     headers={"Content-Type": "application/octet-stream"})
    assert 200 <= r.status_code < 300, r.text


@pytest.fixture
def capped_server(start_server):
    return start_server("--max-upload-bytes", "1000")


def test_upload_over_limit_is_413(capped_server, make_client):
    client = make_client(capped_server)
    resp = client.connection.post("model_bundle_upload")
    r = put_signed_url(resp["signedUrl"], b"x" * 1001)
    assert r.status_code == 413, r.text
    # Streamed without a length: refused too.
    resp2 = client.connection.post("model_bundle_upload")
    r = requests.put(resp2["signedUrl"], data=iter([b"y" * 600, b"y" * 600]), timeout=TIMEOUT)
    assert r.status_code == 413, r.text
    loc2 = f"s3://{resp2['bucket']}/{resp2['key']}"
    r = client.api.request("POST", "/v1/model-bundles", bundle_body(loc2))
    assert r.status_code == 400, r.text                 # nothing half-written was kept


def test_upload_at_limit_is_stored(capped_server, make_client):
    client = make_client(capped_server)
    resp = client.connection.post("model_bundle_upload")
    assert 200 <= put_signed_url(resp["signedUrl"], b"z" * 1000).status_code < 300
    location = f"s3://{resp['bucket']}/{resp['key']}"
    client.api.call("POST", "/v1/model-bundles", bundle_body(location))


def test_public_url_is_used_in_signed_urls(start_server, make_client):
    srv = start_server("--public-url", "https://launch.example.com/base/")
    resp = make_client(srv).connection.post("model_bundle_upload")
    assert resp["signedUrl"].startswith("https://launch.example.com/base/upload/"), resp
    assert resp["signedUrl"].startswith(
        f"https://launch.example.com/base/upload/{resp['key']}?token="), resp


def test_expired_upload_url_is_403(start_server, make_client):
    srv = start_server("--upload-token-ttl-s", "1")
    client = make_client(srv)
    fresh = client.connection.post("model_bundle_upload")
    stale = client.connection.post("model_bundle_upload")
    assert 200 <= put_signed_url(fresh["signedUrl"], b"x").status_code < 300
    import time
    time.sleep(1.2)
    r = put_signed_url(stale["signedUrl"], b"x")
    assert r.status_code == 403, r.text
