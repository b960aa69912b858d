"""Authentication (spec 1) in open and closed mode, and owner scoping: another
key's objects answer 404 exactly like missing ones."""
from __future__ import annotations

import base64
import json

import pytest
import requests

from artifacts import PYTORCH_ENV, real_artifact, write_real_artifact
from launch_client import LaunchReplay, basic_auth, new_key
from shapes import poll

TIMEOUT = 10

# (method, path, needs a JSON body) of routes that need auth.
AUTH_ROUTES = [
    ("GET", "/v1/model-bundles", None),
    ("POST", "/v1/model-bundles", {}),
    ("GET", "/v1/model-bundles/latest?model_name=x", None),
    ("GET", "/v1/model-bundles/bun_00000000000000000000", None),
    ("POST", "/v1/model-bundles/clone-with-changes", {}),
    ("GET", "/v2/model-bundles", None),
    ("POST", "/v2/model-bundles", {}),
    ("GET", "/v2/model-bundles/latest?model_name=x", None),
    ("GET", "/v2/model-bundles/bun_00000000000000000000", None),
    ("POST", "/v2/model-bundles/clone-with-changes", {}),
    ("GET", "/v1/model-endpoints", None),
    ("POST", "/v1/model-endpoints", {}),
    ("GET", "/v1/model-endpoints/end_00000000000000000000", None),
    ("PUT", "/v1/model-endpoints/end_00000000000000000000", {}),
    ("DELETE", "/v1/model-endpoints/end_00000000000000000000", None),
    ("GET", "/v1/model-endpoints-schema.json", None),
    ("GET", "/v1/model-endpoints-api", None),
    ("POST", "/model_bundle_upload", {}),
    ("POST", "/batch_task_input_upload", {}),
    ("POST", "/v1/hosted_inference/model_bundle_upload", {}),
    ("POST", "/v1/hosted_inference/batch_task_input_upload", {}),
    ("GET", "/endpoints/creation_logs/x", {}),
    ("GET", "/v1/hosted_inference/endpoints/creation_logs/x", {}),
]
ROUTE_IDS = [f"{m} {p}" for m, p, _ in AUTH_ROUTES]


def send(server, method, path, body=None, auth=None):
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = auth
    return requests.request(method, server.base_url + path, headers=headers,
                            data=None if body is None else b"{}", timeout=TIMEOUT)


def assert_401(resp, detail):
    assert resp.status_code == 401, f"{resp.status_code} {resp.text}"
    assert resp.json() == {"detail": detail}
    assert resp.headers.get("WWW-Authenticate"), resp.headers


@pytest.mark.parametrize("method,path,body", AUTH_ROUTES, ids=ROUTE_IDS)
def test_no_authorization_header_is_401(server, method, path, body):
    assert_401(send(server, method, path, body), "No authentication was passed in")


@pytest.mark.parametrize("auth", [
    "Basic !!!not-base64!!!",
    "Basic " + base64.b64encode(b"no-colon-here").decode(),
    "Basic",
], ids=["bad-base64", "no-colon", "empty"])
@pytest.mark.parametrize("method,path,body", [AUTH_ROUTES[0], AUTH_ROUTES[11],
                                              AUTH_ROUTES[17], AUTH_ROUTES[21]],
                         ids=[ROUTE_IDS[i] for i in (0, 11, 17, 21)])
def test_malformed_basic_credentials_are_401(server, method, path, body, auth):
    r = send(server, method, path, body, auth)
    assert r.status_code == 401, r.text
    if auth != "Basic":
        assert r.json() == {"detail": "Invalid authentication credentials"}


def test_empty_key_is_401(server):
    r = send(server, "GET", "/v1/model-bundles", auth=basic_auth(""))
    assert r.status_code == 401, r.text
    assert isinstance(r.json()["detail"], str)


def test_password_is_ignored(server, tmp_path):
    key = new_key()
    p = write_real_artifact(tmp_path / "a.bin")
    r = requests.post(server.base_url + "/v1/model-bundles", auth=(key, "whatever-password"),
                      json={"name": "b", "location": str(p), "requirements": [],
                            "env_params": PYTORCH_ENV, "packaging_type": "cloudpickle"},
                      timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    listed = requests.get(server.base_url + "/v1/model-bundles", auth=(key, ""), timeout=TIMEOUT)
    assert [b["name"] for b in listed.json()["model_bundles"]] == ["b"]


@pytest.mark.parametrize("path", ["/healthz", "/healthcheck", "/readyz"])
def test_health_routes_need_no_auth(server, path):
    for auth in (None, "Basic !!!", basic_auth("anyone")):
        r = send(server, "GET", path, auth=auth)
        assert r.status_code == 200, r.text
        assert r.content == b""


@pytest.fixture
def closed_server(start_server, tmp_path):
    keys = tmp_path / "keys.txt"
    keys.write_text("# liftoff API keys\n\n  alpha-key-0001  \nbeta-key-0002\r\n"
                    "# gamma-key-0003\n")
    return start_server("--api-keys", str(keys))


def test_closed_mode_accepts_listed_keys_only(closed_server):
    for key in ("alpha-key-0001", "beta-key-0002"):
        r = send(closed_server, "GET", "/v1/model-bundles", auth=basic_auth(key))
        assert r.status_code == 200, (key, r.text)
    for key in ("gamma-key-0003", "# gamma-key-0003", "alpha-key-000", "ALPHA-KEY-0001",
                "someone-else"):
        assert_401(send(closed_server, "GET", "/v1/model-bundles", auth=basic_auth(key)),
                   "Could not authenticate user")
    assert_401(send(closed_server, "POST", "/model_bundle_upload", {}, basic_auth("nope")),
               "Could not authenticate user")
    assert_401(send(closed_server, "GET", "/v1/model-bundles"),
               "No authentication was passed in")
    r = send(closed_server, "GET", "/v1/model-bundles", auth="Basic %%%")
    assert r.status_code == 401 and r.json() == {"detail": "Invalid authentication credentials"}
    assert send(closed_server, "GET", "/healthz").status_code == 200


def test_closed_mode_quickstart_works_for_a_listed_key(closed_server):
    c = LaunchReplay(closed_server.base_url, "beta-key-0002")
    try:
        location = c.upload(real_artifact())
        assert all(200 <= s < 300 for s in c.put_statuses)
        c.api.call("POST", "/v1/model-bundles", {
            "requirements": [], "packaging_type": "cloudpickle", "name": "b",
            "location": location, "env_params": PYTORCH_ENV, "metadata": {}})
        assert c.get_model_bundle("b")["location"] == location
    finally:
        c.close()


# ---- owner scoping ----------------------------------------------------------------

@pytest.fixture
def owned(server, make_client, tmp_path):
    """Owner A's bundle and READY endpoint, and a client of owner B."""
    a = make_client(server)
    b = make_client(server)
    art = write_real_artifact(tmp_path / "a.pkl")
    bid = a.api.call("POST", "/v1/model-bundles", {
        "requirements": [], "packaging_type": "cloudpickle", "name": "a-bundle",
        "location": f"file://{art}", "env_params": PYTORCH_ENV, "metadata": {}})["model_bundle_id"]
    a.api.call("POST", "/v1/model-endpoints", {
        "endpoint_type": "async", "metadata": {}, "memory": "8Gi", "cpus": 1, "max_workers": 1,
        "model_bundle_id": bid, "min_workers": 0, "gpus": 0, "name": "a-endpoint",
        "per_worker": 10, "labels": {}, "high_priority": False})
    poll(lambda: a.status("a-endpoint"), lambda s: s == "READY", timeout=TIMEOUT,
         what="owner A's endpoint READY")
    eid = a.get_model_endpoint("a-endpoint")["id"]
    return a, b, bid, eid


def test_other_owner_bundles_are_404(owned):
    a, b, bid, _ = owned
    for version in ("v1", "v2"):
        r = b.api.request("GET", f"/{version}/model-bundles/{bid}")
        assert r.status_code == 404 and r.json() == \
            {"detail": f"Model Bundle {bid}  was not found."}, r.text
        r = b.api.request("GET", f"/{version}/model-bundles/latest",
                          query={"model_name": "a-bundle"})
        assert r.status_code == 404 and r.json() == \
            {"detail": "Model Bundle a-bundle  was not found."}, r.text
        r = b.api.request("POST", f"/{version}/model-bundles/clone-with-changes",
                          {"original_model_bundle_id": bid, "new_app_config": {"x": 1}})
        assert r.status_code == 404 and r.json() == \
            {"detail": f"Model Bundle {bid}  was not found."}, r.text
        assert b.api.call("GET", f"/{version}/model-bundles") == {"model_bundles": []}
        assert b.api.call("GET", f"/{version}/model-bundles",
                          query={"model_name": "a-bundle"}) == {"model_bundles": []}
    # Nothing was cloned into A's store either.
    assert [x["id"] for x in a.list_model_bundles()] == [bid]


def test_other_owner_endpoints_are_404(owned):
    a, b, bid, eid = owned
    missing = {"detail": f"Model Endpoint {eid}  was not found."}
    r = b.api.request("GET", f"/v1/model-endpoints/{eid}")
    assert r.status_code == 404 and r.json() == missing, r.text
    r = b.api.request("PUT", f"/v1/model-endpoints/{eid}", {"cpus": 2, "labels": {"x": "y"}})
    assert r.status_code == 404, r.text
    assert r.json() == {"detail": "The specified model endpoint or model bundle was not found."}
    r = b.api.request("DELETE", f"/v1/model-endpoints/{eid}")
    assert r.status_code == 404 and r.json() == missing, r.text
    assert b.api.call("GET", "/v1/model-endpoints") == {"model_endpoints": []}
    assert b.api.call("GET", "/v1/model-endpoints", query={"name": "a-endpoint"}) == \
        {"model_endpoints": []}
    r = b.connection.request("GET", "endpoints/creation_logs/a-endpoint")
    assert r.status_code == 404, r.text
    # B cannot use A's bundle, nor point an endpoint of its own at it.
    body = {"endpoint_type": "async", "metadata": {}, "memory": "8Gi", "cpus": 1,
            "max_workers": 1, "model_bundle_id": bid, "min_workers": 0, "gpus": 0,
            "name": "b-endpoint", "per_worker": 10, "labels": {}, "high_priority": False}
    r = b.api.request("POST", "/v1/model-endpoints", body)
    assert r.status_code == 404 and r.json() == \
        {"detail": "The specified model bundle could not be found."}, r.text
    schema = b.api.call("GET", "/v1/model-endpoints-schema.json")
    assert schema["paths"] == {}
    # A's endpoint is untouched.
    ep = a.get_model_endpoint("a-endpoint")
    assert ep["id"] == eid and ep["resource_state"]["cpus"] == "1" and ep["labels"] == {}
    assert a.status("a-endpoint") == "READY"


def test_other_owner_cannot_move_endpoint_to_its_bundle(owned, tmp_path):
    a, b, _, eid = owned
    art = write_real_artifact(tmp_path / "b.pkl")
    b_bundle = b.api.call("POST", "/v1/model-bundles", {
        "requirements": [], "packaging_type": "cloudpickle", "name": "b-bundle",
        "location": str(art), "env_params": PYTORCH_ENV, "metadata": {}})["model_bundle_id"]
    r = a.api.request("PUT", f"/v1/model-endpoints/{eid}", {"model_bundle_id": b_bundle})
    assert r.status_code == 404, r.text
    assert r.json() == {"detail": "The specified model endpoint or model bundle was not found."}
    assert a.get_model_endpoint("a-endpoint")["bundle_name"] == "a-bundle"


def test_bearer_token_is_a_key_too(server, make_client):
    owner = make_client(server)
    owner.connection.post("model_bundle_upload")
    r = requests.get(server.base_url + "/v1/model-bundles", timeout=TIMEOUT,
                     headers={"Authorization": f"Bearer {owner.api_key}"})
    assert r.status_code == 200, r.text
    r = requests.get(server.base_url + "/v1/model-bundles", timeout=TIMEOUT,
                     headers={"Authorization": "Bearer "})
    assert r.status_code == 401, r.text


def test_bearer_token_in_closed_mode(closed_server):
    r = requests.get(closed_server.base_url + "/v1/model-bundles", timeout=TIMEOUT,
                     headers={"Authorization": "Bearer alpha-key-0001"})
    assert r.status_code == 200, r.text
    r = requests.get(closed_server.base_url + "/v1/model-bundles", timeout=TIMEOUT,
                     headers={"Authorization": "Bearer not-a-key"})
    assert_401(r, "Could not authenticate user")


def test_long_key_is_its_own_owner_in_open_mode(server):
    """Open mode: any non-empty key is accepted as its own owner."""
    key = "k" * 300
    r = send(server, "GET", "/v1/model-bundles", auth=basic_auth(key))
    assert r.status_code == 200, r.text
    r = send(server, "POST", "/model_bundle_upload", {}, auth=basic_auth(key))
    assert r.status_code == 200, r.text


def test_non_ascii_key_is_refused_or_round_trips(server, make_client, tmp_path):
    """Both client stacks send the key latin-1 encoded. The reference decodes
    Basic credentials as ASCII and answers 401 otherwise; a server that
    accepts such a key must still answer valid UTF-8 JSON (the client runs
    json.loads on the raw bytes), e.g. in created_by."""
    c = make_client(server, key="clé-ünïcode")
    art = write_real_artifact(tmp_path / "a.pkl")
    r = c.api.request("POST", "/v1/model-bundles", {
        "requirements": [], "packaging_type": "cloudpickle", "name": "b",
        "location": str(art), "env_params": PYTORCH_ENV, "metadata": {}})
    if r.status_code == 401:
        assert r.json() == {"detail": "Invalid authentication credentials"}
        return
    assert r.status_code == 200, r.text
    bid = r.json()["model_bundle_id"]
    r = c.api.request("POST", "/v1/model-endpoints", {
        "endpoint_type": "async", "metadata": {}, "memory": "8Gi", "cpus": 1, "max_workers": 1,
        "model_bundle_id": bid, "min_workers": 0, "gpus": 0, "name": "e", "per_worker": 10,
        "labels": {}, "high_priority": False})
    assert r.status_code == 200, r.text
    for path in ("/v1/model-endpoints?name=e", "/v1/model-endpoints", "/v1/model-bundles",
                 f"/v1/model-bundles/{bid}", "/v1/model-endpoints-schema.json"):
        r = c.api.request("GET", path)
        assert r.status_code == 200, (path, r.text)
        json.loads(r.content.decode("utf-8"))     # raises on invalid UTF-8
    assert c.get_model_endpoint("e")["created_by"] == "clé-ünïcode"
