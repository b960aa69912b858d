"""Model endpoints (spec 2.4, 6): create, list, get, update, delete, the
status machine, creation logs."""
from __future__ import annotations

import json
import os

import pytest

from artifacts import PYTORCH_ENV, not_a_pickle, real_artifact, write_real_artifact
from shapes import (ENDPOINT_ID_RE, UUID_RE, assert_status_progression, check_endpoint,
                    check_validation_error, parse_time, poll)

READY_TIMEOUT_S = 10


@pytest.fixture
def bundle(client, tmp_path):
    """A v1 bundle of the client's owner over a file:// artifact (a real,
    loadable cloudpickle); returns its id."""
    p = write_real_artifact(tmp_path / "bundle.pkl")
    resp = client.api.call("POST", "/v1/model-bundles", {
        "requirements": [], "packaging_type": "cloudpickle", "name": "bundle",
        "location": f"file://{p}", "env_params": PYTORCH_ENV, "metadata": {}})
    return resp["model_bundle_id"]


def client_body(ep_name, bundle_id, **changes):
    """Exactly what create_model_endpoint sends (spec 11.B step 8): no storage."""
    body = {"endpoint_type": "async", "metadata": {}, "memory": "8Gi", "cpus": 1,
            "max_workers": 1, "model_bundle_id": bundle_id, "min_workers": 0, "gpus": 0,
            "name": ep_name, "per_worker": 10, "labels": {"team": "MY_TEAM", "product": "launch"},
            "high_priority": False}
    for k, v in changes.items():
        if v is None:
            body.pop(k, None)
        else:
            body[k] = v
    return body


def create(client, body):
    r = client.api.request("POST", "/v1/model-endpoints", body)
    assert r.status_code == 200, r.text
    resp = r.json()
    assert set(resp) == {"endpoint_creation_task_id"} and \
        UUID_RE.match(resp["endpoint_creation_task_id"]), resp
    return resp


def by_name(client, name):
    eps = client.api.call("GET", "/v1/model-endpoints", query={"name": name})["model_endpoints"]
    assert len(eps) == 1, eps
    return check_endpoint(eps[0])


def wait_status(client, name, final="READY"):
    last, seen = poll(lambda: by_name(client, name)["status"],
                      lambda s: s not in ("UPDATE_PENDING", "UPDATE_IN_PROGRESS"),
                      timeout=READY_TIMEOUT_S, what=f"{name} build finished")
    assert_status_progression(seen, final)
    return by_name(client, name)


def test_create_with_exact_client_body_becomes_ready(client, bundle):
    create(client, client_body("ep", bundle))
    first = by_name(client, "ep")
    assert first["status"] in ("UPDATE_PENDING", "UPDATE_IN_PROGRESS", "READY"), first
    ep = wait_status(client, "ep")
    assert ENDPOINT_ID_RE.match(ep["id"])
    assert ep["id"] == first["id"]
    assert ep["bundle_name"] == "bundle"
    assert ep["labels"] == {"team": "MY_TEAM", "product": "launch"}
    assert ep["destination"] == f"launch-endpoint-id-{ep['id']}"
    assert ep["created_by"] == client.api_key
    rs = ep["resource_state"]
    assert (rs["cpus"], rs["gpus"], rs["memory"]) == ("1", 0, "8Gi")
    assert rs["storage"] is None or isinstance(rs["storage"], str)
    ds = ep["deployment_state"]
    assert (ds["min_workers"], ds["max_workers"], ds["per_worker"]) == (0, 1, 10)
    assert ds["available_workers"] in (0, None)
    got = check_endpoint(client.api.call("GET", f"/v1/model-endpoints/{ep['id']}"))
    assert got == ep


def test_labels_are_optional(client, bundle):
    create(client, client_body("nolabels", bundle, labels=None))
    ep = wait_status(client, "nolabels")
    assert ep["labels"] in ({}, None)
    create(client, client_body("emptylabels", bundle, labels={}))
    assert wait_status(client, "emptylabels")["labels"] in ({}, None)


@pytest.mark.parametrize("gpu_type", [
    "nvidia-a100", "nvidia-ampere-a100", "nvidia-tesla-t4", "nvidia-ampere-a10",
    "nvidia-ampere-a100e", "nvidia-hopper-h100", "nvidia-hopper-h100-1g20gb",
    "nvidia-hopper-h100-3g40gb"])
def test_gpu_type_spellings_accepted(client, bundle, gpu_type):
    create(client, client_body("gpu", bundle, gpus=1, gpu_type=gpu_type))
    ep = wait_status(client, "gpu")
    assert ep["resource_state"]["gpus"] == 1
    assert ep["resource_state"]["gpu_type"] == gpu_type


@pytest.mark.parametrize("changes,needle", [
    ({"gpus": 1}, "gpu"),                                    # gpus > 0 needs a gpu_type
    ({"gpus": 0, "gpu_type": "nvidia-tesla-t4"}, "gpu"),     # gpu_type needs gpus > 0
    ({"min_workers": 3, "max_workers": 2}, "worker"),
    ({"max_workers": 251}, "worker"),
    ({"cpus": "lots"}, "cpus"),
    ({"cpus": 0}, "cpus"),
    ({"cpus": "-1"}, "cpus"),
    ({"memory": "eight gigs"}, "memory"),
    ({"storage": "0Gi"}, "storage"),
    ({"metadata": {"_CONVERTED_FROM_ARTIFACT_LIKE": True}}, "_CONVERTED_FROM_ARTIFACT_LIKE"),
], ids=["gpus-without-type", "type-without-gpus", "max<min", "max>250", "cpus-text",
        "cpus-zero", "cpus-negative", "memory-text", "storage-zero", "reserved-metadata"])
def test_create_bad_settings_400(client, bundle, changes, needle):
    r = client.api.request("POST", "/v1/model-endpoints", client_body("bad", bundle, **changes))
    assert r.status_code == 400, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and needle.lower() in detail.lower(), detail
    assert client.list_model_endpoints() == []


@pytest.mark.parametrize("changes,loc", [
    ({"name": None}, ("body", "name")),
    ({"name": "x" * 64}, ("body", "name")),
    ({"name": 12}, ("body", "name")),
    ({"model_bundle_id": None}, ("body", "model_bundle_id")),
    ({"endpoint_type": None}, ("body", "endpoint_type")),
    ({"endpoint_type": "batch"}, ("body", "endpoint_type")),
    ({"metadata": None}, ("body", "metadata")),
    ({"cpus": None}, ("body", "cpus")),
    ({"cpus": [1]}, ("body", "cpus")),
    ({"gpus": None}, ("body", "gpus")),
    ({"gpus": -1}, ("body", "gpus")),
    ({"gpus": 1.5}, ("body", "gpus")),
    ({"gpus": "1"}, ("body", "gpus")),
    ({"memory": None}, ("body", "memory")),
    ({"min_workers": None}, ("body", "min_workers")),
    ({"min_workers": -1}, ("body", "min_workers")),
    ({"max_workers": None}, ("body", "max_workers")),
    ({"per_worker": None}, ("body", "per_worker")),
    ({"per_worker": 0}, ("body", "per_worker")),
    ({"labels": {"team": 1}}, ("body", "labels")),
    ({"labels": ["team"]}, ("body", "labels")),
    ({"gpus": 1, "gpu_type": "nvidia-voodoo"}, ("body", "gpu_type")),
    ({"high_priority": "yes"}, ("body", "high_priority")),
    ({"post_inference_hooks": "callback"}, ("body", "post_inference_hooks")),
    ({"default_callback_url": "ftp://x"}, ("body", "default_callback_url")),
    ({"default_callback_auth": {"kind": "basic", "username": "u"}},
     ("body", "default_callback_auth")),
], ids=lambda x: json.dumps(x) if isinstance(x, dict) else None)
def test_create_validation_422(client, bundle, changes, loc):
    r = client.api.request("POST", "/v1/model-endpoints", client_body("bad", bundle, **changes))
    assert r.status_code == 422, r.text
    check_validation_error(r.json(), loc)
    assert client.list_model_endpoints() == []


def test_name_of_63_characters_is_accepted(client, bundle):
    create(client, client_body("n" * 63, bundle))
    assert by_name(client, "n" * 63)["name"] == "n" * 63


def test_name_limit_counts_characters_not_bytes(client, bundle):
    """max length 63 is a pydantic constr: characters. The client sends UTF-8."""
    name = "é" * 63                       # 63 characters, 126 bytes
    create(client, client_body(name, bundle))
    assert by_name(client, name)["name"] == name
    r = client.api.request("POST", "/v1/model-endpoints", client_body("é" * 64, bundle))
    assert r.status_code == 422, r.text


def test_duplicate_name_is_400_per_owner(client, bundle, server, make_client, tmp_path):
    create(client, client_body("dup", bundle))
    r = client.api.request("POST", "/v1/model-endpoints", client_body("dup", bundle))
    assert r.status_code == 400, r.text
    assert r.json() == {"detail": "The specified model endpoint already exists."}
    assert len(client.list_model_endpoints()) == 1
    # Names are unique per owner only.
    other = make_client(server)
    p = write_real_artifact(tmp_path / "other.pkl")
    bid = other.api.call("POST", "/v1/model-bundles", {
        "requirements": [], "packaging_type": "cloudpickle", "name": "b", "location": str(p),
        "env_params": PYTORCH_ENV, "metadata": {}})["model_bundle_id"]
    create(other, client_body("dup", bid))
    assert by_name(other, "dup")["id"] != by_name(client, "dup")["id"]


def test_unknown_bundle_is_404(client):
    r = client.api.request("POST", "/v1/model-endpoints",
                           client_body("ep", "bun_00000000000000000000"))
    assert r.status_code == 404, r.text
    assert r.json() == {"detail": "The specified model bundle could not be found."}


def test_quantities_read_back_as_strings(client, bundle):
    create(client, client_body("q1", bundle, cpus=0.5, memory=1073741824, storage=20))
    rs = by_name(client, "q1")["resource_state"]
    assert (rs["cpus"], rs["memory"], rs["storage"]) == ("0.5", "1073741824", "20")
    create(client, client_body("q2", bundle, cpus="500m", memory="512Mi", storage="20Gi"))
    rs = by_name(client, "q2")["resource_state"]
    assert (rs["cpus"], rs["memory"], rs["storage"]) == ("500m", "512Mi", "20Gi")


def test_optional_fields_read_back(client, bundle):
    auth = {"kind": "basic", "username": "u", "password": "p"}
    create(client, client_body("opt", bundle, post_inference_hooks=["callback"],
                               default_callback_url="https://example.com/cb",
                               default_callback_auth=auth, metadata={"k": "v"},
                               optimize_costs=True))
    ep = by_name(client, "opt")
    assert ep["post_inference_hooks"] == ["callback"]
    assert ep["default_callback_url"] == "https://example.com/cb"
    assert ep["metadata"] == {"k": "v"}
    assert ep["resource_state"]["optimize_costs"] is True
    assert ep["default_callback_auth"] in (auth, {"kind": "basic", "username": "u"},
                                           {**auth, "password": None})


# ---- list ----------------------------------------------------------------------

def test_list_by_name_is_exact(client, bundle):
    for n in ("alpha", "alpha-2", "beta"):
        create(client, client_body(n, bundle))
    assert [e["name"] for e in client.api.call(
        "GET", "/v1/model-endpoints", query={"name": "alpha"})["model_endpoints"]] == ["alpha"]
    r = client.api.request("GET", "/v1/model-endpoints", query={"name": "alph"})
    assert r.status_code == 200 and r.json() == {"model_endpoints": []}
    r = client.api.request("GET", "/v1/model-endpoints", query={"name": "nothing-here"})
    assert r.status_code == 200 and r.json() == {"model_endpoints": []}
    names = sorted(check_endpoint(e)["name"] for e in client.list_model_endpoints())
    assert names == ["alpha", "alpha-2", "beta"]


def test_list_order_by(client, bundle):
    for n in ("b", "c", "a"):
        create(client, client_body(n, bundle))

    def names(order):
        return [e["name"] for e in client.api.call(
            "GET", "/v1/model-endpoints", query={"order_by": order})["model_endpoints"]]
    assert names("oldest") == ["b", "c", "a"]
    assert names("newest") == ["a", "c", "b"]
    assert sorted(names("alphabetical")) == ["a", "b", "c"]     # accepted (spec 2.4)
    r = client.api.request("GET", "/v1/model-endpoints", query={"order_by": "random"})
    assert r.status_code == 422, r.text
    check_validation_error(r.json(), ("query", "order_by"))


def test_query_and_path_parameters_are_percent_decoded(client, bundle):
    create(client, client_body("with space+plus", bundle))
    ep = by_name(client, "with space+plus")            # ?name=with%20space%2Bplus
    r = client.api.request("GET", "/v1/model-endpoints/" + "".join(f"%{b:02X}" for b in
                                                                     ep["id"].encode()))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == ep["id"]
    r = client.connection.request("GET", "endpoints/creation_logs/with%20space%2Bplus")
    assert r.status_code == 200, r.text
    assert isinstance(r.json()["content"], str)


# ---- get -----------------------------------------------------------------------

def test_get_unknown_id_is_404(client):
    r = client.api.request("GET", "/v1/model-endpoints/end_00000000000000000000")
    assert r.status_code == 404, r.text
    assert r.json() == {"detail": "Model Endpoint end_00000000000000000000  was not found."}


# ---- update ----------------------------------------------------------------------

def test_update_merges(client, bundle, tmp_path):
    create(client, client_body("up", bundle, labels={"team": "t", "product": "p"},
                               metadata={"m": "1"}))
    before = wait_status(client, "up")
    p = write_real_artifact(tmp_path / "bundle2.pkl", kind="load-model-fn")
    b2 = client.api.call("POST", "/v1/model-bundles", {
        "requirements": [], "packaging_type": "cloudpickle", "name": "bundle-two",
        "location": str(p), "env_params": PYTORCH_ENV, "metadata": {}})["model_bundle_id"]
    resp = client.api.call("PUT", f"/v1/model-endpoints/{before['id']}", {
        "labels": {"product": "p2", "extra": "e"}, "cpus": "2", "max_workers": 4,
        "model_bundle_id": b2, "name": "renamed", "endpoint_type": "sync",
        "memory": None, "unknown_key": 1})
    assert UUID_RE.match(resp["endpoint_creation_task_id"]), resp
    after = wait_status(client, "up")
    assert after["id"] == before["id"]
    assert after["name"] == "up"                         # immutable
    assert after["endpoint_type"] == "async"             # immutable
    assert after["labels"] == {"team": "t", "product": "p2", "extra": "e"}
    assert after["metadata"] == {"m": "1"}
    assert after["bundle_name"] == "bundle-two"
    assert after["resource_state"]["cpus"] == "2"
    assert after["resource_state"]["memory"] == "8Gi"    # null keeps the value
    assert after["deployment_state"]["max_workers"] == 4
    assert after["deployment_state"]["min_workers"] == 0
    assert after["created_at"] == before["created_at"]
    assert parse_time(after["last_updated_at"]) >= parse_time(before["last_updated_at"])
    assert client.api.call("GET", "/v1/model-endpoints", query={"name": "renamed"}) == \
        {"model_endpoints": []}


def test_update_with_empty_body_keeps_everything(client, bundle):
    create(client, client_body("same", bundle))
    before = wait_status(client, "same")
    client.api.call("PUT", f"/v1/model-endpoints/{before['id']}", {})
    after = wait_status(client, "same")
    for k in ("resource_state", "deployment_state", "labels", "bundle_name", "metadata"):
        assert after[k] == before[k], k


def test_update_errors(client, bundle):
    create(client, client_body("ue", bundle))
    ep = wait_status(client, "ue")
    path = f"/v1/model-endpoints/{ep['id']}"
    nf = {"detail": "The specified model endpoint or model bundle was not found."}
    r = client.api.request("PUT", path, {"model_bundle_id": "bun_00000000000000000000"})
    assert r.status_code == 404 and r.json() == nf, r.text
    r = client.api.request("PUT", "/v1/model-endpoints/end_00000000000000000000", {"cpus": 2})
    assert r.status_code == 404, r.text
    r = client.api.request("PUT", path, {"min_workers": 5})            # 5 > max 1 after merge
    assert r.status_code == 400, r.text
    r = client.api.request("PUT", path, {"gpus": 2})                   # no gpu_type
    assert r.status_code == 400, r.text
    r = client.api.request("PUT", path, {"per_worker": 0})
    assert r.status_code == 422, r.text
    check_validation_error(r.json(), ("body", "per_worker"))
    r = client.api.request("PUT", path, {"cpus": {"n": 1}})
    assert r.status_code == 422, r.text
    check_validation_error(r.json(), ("body", "cpus"))
    # Nothing of the refused updates stuck.
    after = by_name(client, "ue")
    assert after["resource_state"] == ep["resource_state"]
    assert after["deployment_state"] == ep["deployment_state"]
    assert after["bundle_name"] == "bundle"


def test_update_to_gpus_with_both_spellings(client, bundle):
    create(client, client_body("g", bundle))
    ep = wait_status(client, "g")
    for spelling in ("nvidia-a100", "nvidia-ampere-a100"):
        client.api.call("PUT", f"/v1/model-endpoints/{ep['id']}",
                        {"gpus": 1, "gpu_type": spelling})
        rs = wait_status(client, "g")["resource_state"]
        assert (rs["gpus"], rs["gpu_type"]) == (1, spelling)


# ---- delete ----------------------------------------------------------------------

def test_delete_then_gone(client, bundle):
    create(client, client_body("del", bundle))
    ep = wait_status(client, "del")
    r = client.api.request("DELETE", f"/v1/model-endpoints/{ep['id']}")
    assert r.status_code == 200, r.text
    assert r.json() == {"deleted": True}
    poll(lambda: client.api.call("GET", "/v1/model-endpoints",
                                 query={"name": "del"})["model_endpoints"],
         lambda eps: eps == [], timeout=READY_TIMEOUT_S, what="deleted endpoint leaves the list")
    assert client.list_model_endpoints() == []
    poll(lambda: client.api.request("GET", f"/v1/model-endpoints/{ep['id']}").status_code,
         lambda s: s == 404, timeout=READY_TIMEOUT_S, what="deleted endpoint 404")
    r = client.api.request("DELETE", f"/v1/model-endpoints/{ep['id']}")
    assert r.status_code == 404, r.text
    assert r.json() == {"detail": f"Model Endpoint {ep['id']}  was not found."}
    r = client.api.request("PUT", f"/v1/model-endpoints/{ep['id']}", {"cpus": 2})
    assert r.status_code == 404, r.text
    # The name is free again.
    create(client, client_body("del", bundle))
    again = wait_status(client, "del")
    assert again["id"] != ep["id"]


def test_delete_unknown_is_404(client):
    r = client.api.request("DELETE", "/v1/model-endpoints/end_00000000000000000000")
    assert r.status_code == 404, r.text
    assert r.json() == {"detail": "Model Endpoint end_00000000000000000000  was not found."}


# ---- build failures -------------------------------------------------------------------

def assert_never_ready(server, endpoint_id):
    """No build of the endpoint was ever logged READY (README, Logs): a
    poller could have seen it, however briefly."""
    statuses = server.deploy_statuses(endpoint_id)
    assert "UPDATE_FAILED" in statuses and "READY" not in statuses, \
        f"logged statuses of {endpoint_id}: {statuses}\n{server.log_text()}"


@pytest.mark.parametrize("spoil", ["deleted", "replaced-by-a-directory"])
def test_deleted_artifact_makes_update_failed(server, client, tmp_path, spoil):
    art = write_real_artifact(tmp_path / "vanishing.pkl")
    bid = client.api.call("POST", "/v1/model-bundles", {
        "requirements": [], "packaging_type": "cloudpickle", "name": "vanishing",
        "location": f"file://{art}", "env_params": PYTORCH_ENV,
        "metadata": {}})["model_bundle_id"]
    os.unlink(art)
    if spoil == "replaced-by-a-directory":       # unreadable as a file (root reads any mode)
        art.mkdir()
    create(client, client_body("broken", bid))
    ep = wait_status(client, "broken", final="UPDATE_FAILED")
    assert ep["status"] == "UPDATE_FAILED"
    logs = client.read_endpoint_creation_logs("broken")
    assert isinstance(logs, str) and str(art) in logs, logs     # says what it could not read
    ds = ep["deployment_state"]
    assert ds is None or ds["available_workers"] in (0, None), ds
    assert_never_ready(server, ep["id"])
    # Put the artifact back and update: the rebuild succeeds.
    if art.is_dir():
        art.rmdir()
    write_real_artifact(art)
    client.api.call("PUT", f"/v1/model-endpoints/{ep['id']}", {"cpus": 2})
    assert wait_status(client, "broken")["status"] == "READY"


def test_deleted_uploaded_artifact_makes_update_failed(server, client):
    """The same with a signed-URL upload (s3:// location): the artifact is
    removed from the server's blob folder behind its back."""
    before = {p for p in server.data_dir.rglob("*") if p.is_file()}
    location = client.upload(real_artifact(4096))
    new_files = [p for p in server.data_dir.rglob("*")
                 if p.is_file() and p not in before and p.stat().st_size == 4096]
    assert len(new_files) == 1, new_files
    bid = client.api.call("POST", "/v1/model-bundles", {
        "requirements": [], "packaging_type": "cloudpickle", "name": "b", "location": location,
        "env_params": PYTORCH_ENV, "metadata": {}})["model_bundle_id"]
    new_files[0].unlink()
    create(client, client_body("broken", bid))
    ep = wait_status(client, "broken", final="UPDATE_FAILED")
    assert ep["status"] == "UPDATE_FAILED"
    logs = client.read_endpoint_creation_logs("broken")
    assert location in logs, logs
    assert_never_ready(server, ep["id"])


@pytest.mark.parametrize("data,requirements,needles", [
    (not_a_pickle(), [], ["Traceback", "UnpicklingError"]),
    (None, ["liftoff-made-up-package-0b9e"], ["Traceback", "liftoff-made-up-package-0b9e"]),
    (None, ["numpy", "pytest==0.0.1"], ["Traceback", "pytest"]),
], ids=["not-a-pickle", "requirement-not-installed", "requirement-wrong-version"])
def test_unloadable_bundle_makes_update_failed(server, client, tmp_path, data, requirements,
                                               needles):
    """READY means the bundle was loaded (README): a bundle that cannot be
    loaded ends UPDATE_FAILED, with the Python traceback in the creation log."""
    p = tmp_path / "bad.pkl"
    p.write_bytes(real_artifact() if data is None else data)
    bid = client.api.call("POST", "/v1/model-bundles", {
        "requirements": requirements, "packaging_type": "cloudpickle", "name": "bad",
        "location": str(p), "env_params": PYTORCH_ENV, "metadata": {}})["model_bundle_id"]
    create(client, client_body("bad", bid))
    ep = wait_status(client, "bad", final="UPDATE_FAILED")
    logs = client.read_endpoint_creation_logs("bad")
    for needle in needles:
        assert needle in logs, logs
    assert_never_ready(server, ep["id"])


def test_available_workers_counts_loaded_workers(client, bundle):
    create(client, client_body("w0", bundle))
    create(client, client_body("w1", bundle, min_workers=1, max_workers=2))
    assert wait_status(client, "w0")["deployment_state"]["available_workers"] == 0
    ds = wait_status(client, "w1")["deployment_state"]
    assert (ds["min_workers"], ds["max_workers"], ds["available_workers"]) == (1, 2, 1), ds


# ---- creation logs ---------------------------------------------------------------

@pytest.mark.parametrize("prefix", ["", "v1/hosted_inference/"])
def test_creation_logs(client, bundle, prefix):
    create(client, client_body("logs", bundle))
    wait_status(client, "logs")
    r = client.connection.request("GET", f"{prefix}endpoints/creation_logs/logs")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"content"} and isinstance(body["content"], str)
    r = client.connection.request("GET", f"{prefix}endpoints/creation_logs/nope")
    assert r.status_code == 404, r.text
    assert isinstance(r.json()["detail"], str)


def test_creation_logs_of_a_name_with_slashes(client, bundle):
    """The legacy client puts the name into the path unescaped."""
    name = "team/project/ep"
    create(client, client_body(name, bundle))
    wait_status(client, name)                       # ?name=team/project/ep
    assert isinstance(client.read_endpoint_creation_logs(name), str)
    r = client.connection.request("GET", f"v1/hosted_inference/endpoints/creation_logs/{name}")
    assert r.status_code == 200, r.text
    r = client.connection.request("GET", "endpoints/creation_logs/team/project")
    assert r.status_code == 404, r.text


def test_update_null_keeps_callback_settings(client, bundle):
    auth = {"kind": "basic", "username": "u", "password": "p"}
    create(client, client_body("cb", bundle, post_inference_hooks=["callback"],
                               default_callback_url="https://example.com/cb",
                               default_callback_auth=auth))
    ep = wait_status(client, "cb")
    client.api.call("PUT", f"/v1/model-endpoints/{ep['id']}", {
        "default_callback_url": None, "default_callback_auth": None,
        "post_inference_hooks": None, "labels": None, "metadata": None})
    after = wait_status(client, "cb")
    for k in ("default_callback_url", "default_callback_auth", "post_inference_hooks",
              "labels", "metadata"):
        assert after[k] == ep[k], k
    client.api.call("PUT", f"/v1/model-endpoints/{ep['id']}",
                    {"default_callback_url": "http://other.example/x"})
    assert wait_status(client, "cb")["default_callback_url"] == "http://other.example/x"
