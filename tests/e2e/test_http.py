"""Transport rules (spec 0, 2.0): JSON bodies, 422/404/405/413 answers, body
on GET, duplicate slashes, keep-alive, content types."""
from __future__ import annotations

import json
import socket

import pytest
import requests

from artifacts import PYTORCH_ENV
from launch_client import basic_auth, new_key
from shapes import check_validation_error

TIMEOUT = 10
JSON_POSTS = ["/v1/model-bundles", "/v2/model-bundles", "/v1/model-bundles/clone-with-changes",
              "/v2/model-bundles/clone-with-changes", "/v1/model-endpoints"]


def raw(server, method, path, data=None, key=None, headers=None):
    h = {"Authorization": basic_auth(key or "http-test-key")}
    if data is not None:
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    return requests.request(method, server.base_url + path, data=data, headers=h,
                            timeout=TIMEOUT)


@pytest.mark.parametrize("path", JSON_POSTS)
@pytest.mark.parametrize("data", [b"{", b"{\"name\": }", b"not json", b"\xff\xfe{}",
                                  b"{\"a\":1}garbage"],
                         ids=["truncated", "bad-value", "text", "bad-utf8", "trailing"])
def test_malformed_json_is_422(server, path, data):
    r = raw(server, "POST", path, data)
    assert r.status_code == 422, r.text
    check_validation_error(r.json(), ("body",))


@pytest.mark.parametrize("path", JSON_POSTS)
@pytest.mark.parametrize("data", [b"[]", b"\"text\"", b"42", b"null"])
def test_non_object_json_is_422(server, path, data):
    r = raw(server, "POST", path, data)
    assert r.status_code == 422, r.text
    check_validation_error(r.json(), ("body",))


@pytest.mark.parametrize("path", JSON_POSTS)
def test_empty_body_is_422(server, path):
    r = raw(server, "POST", path, b"")
    assert r.status_code == 422, r.text
    check_validation_error(r.json(), ("body",))


def test_put_endpoint_malformed_json_is_422(server):
    r = raw(server, "PUT", "/v1/model-endpoints/end_00000000000000000000", b"{oops")
    assert r.status_code == 422, r.text            # body validation comes first
    check_validation_error(r.json(), ("body",))


def test_unknown_route_is_404(server):
    for method, path in [("GET", "/"), ("GET", "/v1"), ("GET", "/v3/model-bundles"),
                         ("GET", "/v1/model-bundles/x/y"), ("POST", "/v1/nothing"),
                         ("GET", "/v1/async-tasks-ish"), ("DELETE", "/upload"),
                         ("GET", "/v1/model-endpoints/a/b/c")]:
        for key in ("k", None):
            h = {} if key else {"Authorization": ""}
            r = requests.request(method, server.base_url + path, timeout=TIMEOUT,
                                 headers={"Authorization": basic_auth(key)} if key else h)
            assert r.status_code == 404, (method, path, r.status_code, r.text)
            assert r.json() == {"detail": "Not Found"}, (method, path)


@pytest.mark.parametrize("method,path", [
    ("DELETE", "/v1/model-bundles"), ("PUT", "/v1/model-bundles"),
    ("PATCH", "/v1/model-endpoints/end_00000000000000000000"),
    ("POST", "/v1/model-endpoints/end_00000000000000000000"),
    ("DELETE", "/v2/model-bundles/latest"), ("POST", "/healthz"),
    ("GET", "/model_bundle_upload"), ("PUT", "/batch_task_input_upload"),
    ("POST", "/endpoints/creation_logs/x"), ("GET", "/upload/bundles/abc"),
    ("POST", "/v1/model-endpoints-schema.json"),
])
def test_wrong_method_is_405(server, method, path):
    for key in ("k", None):
        r = requests.request(method, server.base_url + path, timeout=TIMEOUT,
                             headers={"Authorization": basic_auth(key)} if key else {})
        assert r.status_code == 405, (r.status_code, r.text)
        assert r.json() == {"detail": "Method Not Allowed"}


def test_body_on_get_is_accepted(server, tmp_path):
    """The legacy Connection sends {} on GET; other GETs must accept a body too."""
    p = tmp_path / "a"
    p.write_bytes(b"a")
    key = new_key()
    requests.post(server.base_url + "/v1/model-bundles", auth=(key, ""), timeout=TIMEOUT,
                  json={"name": "b", "location": str(p), "requirements": [],
                        "env_params": PYTORCH_ENV, "packaging_type": "cloudpickle"})
    for path in ("/v1/model-bundles", "/v2/model-bundles", "/v1/model-bundles/latest?model_name=b",
                 "/v1/model-endpoints", "/v1/model-endpoints?name=x",
                 "/v1/model-endpoints-schema.json", "/healthz"):
        for body in (b"{}", b"{\"ignored\": [1, 2]}", b"garbage"):
            r = requests.get(server.base_url + path, data=body, auth=(key, ""), timeout=TIMEOUT,
                             headers={"Content-Type": "application/json"})
            assert r.status_code == 200, (path, body, r.text)


@pytest.mark.parametrize("path", ["//v1/model-bundles", "/v1//model-bundles",
                                  "//v1//model-bundles", "/v1/model-bundles//"])
def test_duplicate_slashes_collapse(server, path):
    r = raw(server, "GET", path)
    assert r.status_code == 200, r.text
    assert r.json() == {"model_bundles": []}


def test_duplicate_slashes_on_legacy_routes(server):
    r = requests.post(server.base_url + "//model_bundle_upload", json={}, auth=("k", ""),
                      timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    assert {"signedUrl", "bucket", "key"} <= r.json().keys()


def test_responses_are_json_with_content_length(server):
    for method, path, data in [("GET", "/v1/model-bundles", None),
                               ("GET", "/nowhere", None),
                               ("POST", "/v1/model-bundles", b"{"),
                               ("DELETE", "/v1/model-bundles", None)]:
        r = raw(server, method, path, data)
        assert r.headers["Content-Type"].startswith("application/json"), (path, r.headers)
        assert int(r.headers["Content-Length"]) == len(r.content)
    r = requests.get(server.base_url + "/v1/model-bundles", timeout=TIMEOUT)
    assert r.headers["Content-Type"].startswith("application/json")


def test_keep_alive_serves_many_requests_on_one_connection(server):
    """HTTP/1.1 keep-alive with Content-Length, as urllib3's pool uses it."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as s:
        f = s.makefile("rb")
        auth = basic_auth("keepalive")
        for i in range(5):
            body = b"{}" if i % 2 else b""
            req = (f"GET /v1/model-bundles HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n"
                   f"Accept: application/json\r\n"
                   + (f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                      if body else "") + "\r\n").encode() + body
            s.sendall(req)
            status = f.readline()
            assert status.startswith(b"HTTP/1.1 200"), status
            length = None
            while True:
                line = f.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                assert not (name.lower() == "connection" and "close" in value.lower()), line
            assert length is not None
            assert f.read(length) == b'{"model_bundles":[]}'


# ---- body limits (--max-body-bytes 1024) -------------------------------------

@pytest.fixture
def small_server(start_server):
    return start_server("--max-body-bytes", "1024")


def padded_bundle_body(size, location="/nonexistent"):
    """A v1 create body of exactly size bytes (compact JSON)."""
    import json
    base = {"name": "b", "location": location, "requirements": [],
            "env_params": PYTORCH_ENV, "packaging_type": "cloudpickle", "pad": ""}
    n = len(json.dumps(base, separators=(",", ":")))
    base["pad"] = "p" * (size - n)
    data = json.dumps(base, separators=(",", ":")).encode()
    assert len(data) == size
    return data


@pytest.mark.parametrize("path", JSON_POSTS)
def test_body_over_limit_is_413(small_server, path):
    r = raw(small_server, "POST", path, padded_bundle_body(1025))
    assert r.status_code == 413, r.text
    assert isinstance(r.json()["detail"], str)
    r = raw(small_server, "POST", path, padded_bundle_body(50_000))
    assert r.status_code == 413, r.text


def test_body_at_limit_is_processed(small_server, tmp_path):
    p = tmp_path / "a"
    p.write_bytes(b"a")
    r = raw(small_server, "POST", "/v1/model-bundles", padded_bundle_body(1024, str(p)))
    assert r.status_code == 200, r.text


def test_chunked_body_over_limit_is_413(small_server):
    def chunks():
        for _ in range(10):
            yield b" " * 300
        yield b"{}"
    r = requests.post(small_server.base_url + "/v1/model-bundles", data=chunks(),
                      headers={"Content-Type": "application/json",
                               "Authorization": basic_auth("k")}, timeout=TIMEOUT)
    assert r.status_code == 413, r.text


def test_server_still_serves_after_413(small_server):
    assert raw(small_server, "POST", "/v1/model-bundles",
               padded_bundle_body(4096)).status_code == 413
    assert raw(small_server, "GET", "/v1/model-bundles").status_code == 200


def test_error_bodies_are_json_detail(server):
    for method, path, data, status in [
            ("GET", "/v1/model-bundles/latest", None, 422),
            ("GET", "/nowhere", None, 404),
            ("PATCH", "/v1/model-bundles", None, 405),
            ("GET", "/v1/model-endpoints/end_00000000000000000000", None, 404)]:
        r = raw(server, method, path, data)
        assert r.status_code == status, (path, r.text)
        assert "detail" in r.json()


@pytest.mark.parametrize("path,body", [
    ("/v1/model-bundles", b'{"name":"bad\xff\xfename","location":"/x","requirements":[],'
                          b'"env_params":{"framework_type":"pytorch","pytorch_image_tag":"t"},'
                          b'"packaging_type":"cloudpickle"}'),
    ("/v1/model-bundles", b'{"name":"ok","location":"/x","requirements":["num\xc3py"],'
                          b'"env_params":{"framework_type":"pytorch","pytorch_image_tag":"t"},'
                          b'"packaging_type":"cloudpickle","metadata":{"k":"\xed\xa0\x80"}}'),
    ("/v1/model-endpoints", b'{"name":"e\x80","model_bundle_id":"bun_x","endpoint_type":"async",'
                            b'"metadata":{},"cpus":1,"gpus":0,"memory":"1Gi","min_workers":0,'
                            b'"max_workers":1,"per_worker":1}'),
], ids=["bundle-name", "requirements-and-metadata", "endpoint-name"])
def test_invalid_utf8_inside_json_strings_is_422(server, tmp_path, path, body):
    """JSON text must be UTF-8 (RFC 8259); the reference's json.loads refuses
    other bytes. Stored, they would come back in every list answer, which the
    client parses with json.loads on the raw bytes: one bad create would make
    the owner's lists unreadable."""
    art = tmp_path / "x"
    art.write_bytes(b"x")
    body = body.replace(b'"/x"', f'"{art}"'.encode())
    key = new_key()
    if b"bun_x" in body:                        # a real bundle of this owner
        good = raw(server, "POST", "/v1/model-bundles", json.dumps({
            "name": "good", "location": str(art), "requirements": [],
            "env_params": PYTORCH_ENV, "packaging_type": "cloudpickle"}).encode(), key=key)
        body = body.replace(b"bun_x", good.json()["model_bundle_id"].encode())
    r = raw(server, "POST", path, body, key=key)
    assert r.status_code == 422, r.content
    check_validation_error(r.json(), ("body",))
    for list_path in ("/v1/model-bundles", "/v2/model-bundles", "/v1/model-endpoints"):
        listed = raw(server, "GET", list_path, key=key)
        assert listed.status_code == 200
        listed.content.decode("utf-8")          # what the client's json.loads needs


def test_keep_alive_survives_error_answers(server):
    """Refusals without a body (401, 404, 405, 422 on a query) keep the
    connection, as urllib3's pool expects."""
    requests_ = [("GET", "/v1/model-bundles", None, 401), ("GET", "/nope", "k", 404),
                 ("DELETE", "/v1/model-bundles", "k", 405),
                 ("GET", "/v1/model-bundles/latest", "k", 422),
                 ("GET", "/v1/model-bundles", "k", 200)]
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as s:
        f = s.makefile("rb")
        for method, path, key, status in requests_:
            auth = f"Authorization: {basic_auth(key)}\r\n" if key else ""
            s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}\r\n".encode())
            line = f.readline()
            assert line.startswith(f"HTTP/1.1 {status}".encode()), (path, line)
            length, close = None, False
            while True:
                h = f.readline()
                if h in (b"\r\n", b""):
                    break
                name, _, value = h.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                if name.lower() == "connection" and "close" in value.lower():
                    close = True
            assert not close, (method, path, status)
            f.read(length or 0)


def test_head_is_answered_like_get_without_body(server):
    r = requests.head(server.base_url + "/healthz", timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == b""
    r = requests.head(server.base_url + "/v1/model-bundles", auth=("k", ""), timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == b""
