"""Spec section 11 A-C, request by request, in both upload modes:
self_hosted=False (POST /model_bundle_upload + PUT to the signed URL, location
s3://bucket/key) and self_hosted=True (the test writes the artifact itself and
passes a file:// location)."""
from __future__ import annotations

import json

import pytest

from artifacts import (LOAD_MODEL_FN_SRC, LOAD_PREDICT_FN_SRC, PYTORCH_ENV, QUICKSTART_REQUIREMENTS,
                       QUICKSTART_SCHEMA, quickstart_pickle, quickstart_v1_metadata,
                       real_artifact, run_quickstart_predict)
from shapes import (BUNDLE_ID_RE, ENDPOINT_ID_RE, UUID_RE, assert_status_progression,
                    check_bundle_v1, check_bundle_v2, check_endpoint, poll)

MODES = [pytest.param(False, id="signed-url"), pytest.param(True, id="self-hosted")]
READY_TIMEOUT_S = 10


def wait_ready(client, name, final="READY"):
    final_status, seen = poll(lambda: client.status(name),
                              lambda s: s in ("READY", "UPDATE_FAILED"),
                              timeout=READY_TIMEOUT_S, what=f"{name} leaving UPDATE_*")
    assert_status_progression(seen, final)
    return seen


def check_location(client, location):
    if client.self_hosted:
        assert location.startswith("file:///"), location
    else:
        assert location.startswith("s3://"), location
        # The PUT status is not checked by the client, but it must have stored the upload.
        assert all(200 <= s < 300 for s in client.put_statuses), client.put_statuses


@pytest.mark.parametrize("self_hosted", MODES)
def test_quickstart_v1_async_endpoint(server, make_client, self_hosted):
    client = make_client(server, key="test-api-key-123", self_hosted=self_hosted)

    # A. create_model_bundle (v1): uploads, then POST /v1/model-bundles.
    sent = client.create_model_bundle(
        "test-bundle", quickstart_pickle("v1-model"), quickstart_v1_metadata(), PYTORCH_ENV,
        QUICKSTART_REQUIREMENTS, schema=QUICKSTART_SCHEMA)
    check_location(client, sent["location"])
    check_location(client, sent["schema_location"])

    # B. create_model_endpoint(..., update_if_exists=True) on a new name.
    assert client.get_model_endpoint("demo-endpoint") is None            # 6: 200 []
    bundle = check_bundle_v1(client.get_model_bundle("test-bundle"))      # 7
    assert bundle["name"] == "test-bundle"
    assert bundle["location"] == sent["location"]
    assert bundle["schema_location"] == sent["schema_location"]
    assert bundle["requirements"] == QUICKSTART_REQUIREMENTS
    assert bundle["env_params"] == {**PYTORCH_ENV, "tensorflow_version": None,
                                    "ecr_repo": None, "image_tag": None}
    assert bundle["packaging_type"] == "cloudpickle"
    assert bundle["metadata"] == quickstart_v1_metadata()
    assert bundle["app_config"] is None
    assert bundle["model_artifact_ids"] == []
    resp = client.create_model_endpoint(                                  # 8 (no storage)
        "demo-endpoint", "test-bundle", cpus=1, min_workers=0, endpoint_type="async",
        update_if_exists=True, labels={"team": "MY_TEAM", "product": "launch"})
    assert UUID_RE.match(resp["endpoint_creation_task_id"]), resp

    # C. get_model_endpoint + status() until READY.
    wait_ready(client, "demo-endpoint")
    ep = check_endpoint(client.get_model_endpoint("demo-endpoint"))
    assert ENDPOINT_ID_RE.match(ep["id"])
    assert ep["name"] == "demo-endpoint"
    assert ep["endpoint_type"] == "async"
    assert ep["status"] == "READY"
    assert ep["bundle_name"] == "test-bundle"
    assert ep["destination"] == f"launch-endpoint-id-{ep['id']}"
    assert ep["metadata"] == {}
    assert ep["labels"] == {"team": "MY_TEAM", "product": "launch"}
    assert ep["created_by"] == "test-api-key-123"
    assert ep["post_inference_hooks"] is None
    assert ep["default_callback_url"] is None
    assert ep["deployment_state"]["min_workers"] == 0
    assert ep["deployment_state"]["max_workers"] == 1
    assert ep["deployment_state"]["per_worker"] == 10
    assert ep["deployment_state"]["available_workers"] == 0     # spec 6.3
    rs = ep["resource_state"]
    assert (rs["cpus"], rs["gpus"], rs["memory"], rs["gpu_type"]) == ("1", 0, "8Gi", None)
    assert ep["public_inference"] in (False, None)
    assert [e["name"] for e in client.list_model_endpoints()] == ["demo-endpoint"]


@pytest.mark.parametrize("self_hosted", MODES)
def test_quickstart_v2_callable_sync_endpoint(server, make_client, self_hosted):
    client = make_client(server, self_hosted=self_hosted)
    bundle_id = client.create_model_bundle_from_callable_v2(
        "test-bundle", quickstart_pickle("load-model-fn"), LOAD_PREDICT_FN_SRC,
        LOAD_MODEL_FN_SRC, QUICKSTART_SCHEMA, ["numpy"], "1.7.1-cuda11.0-cudnn8-runtime")
    assert BUNDLE_ID_RE.match(bundle_id), bundle_id

    v2 = check_bundle_v2(client.get_model_bundle_v2(bundle_id))
    flavor = v2["flavor"]
    assert flavor["flavor"] == "cloudpickle_artifact"
    check_location(client, flavor["location"])
    assert flavor["framework"] == {"framework_type": "pytorch",
                                   "pytorch_image_tag": "1.7.1-cuda11.0-cudnn8-runtime"}
    assert flavor["load_predict_fn"] == LOAD_PREDICT_FN_SRC
    assert flavor["load_model_fn"] == LOAD_MODEL_FN_SRC
    assert flavor["requirements"] == ["numpy"]
    assert v2["metadata"] == {}

    # The client resolves the name through v1 even for a v2-created bundle (spec 12 #18).
    v1 = check_bundle_v1(client.get_model_bundle("test-bundle"))
    assert v1["id"] == bundle_id
    assert v1["location"] == flavor["location"]
    assert v1["requirements"] == ["numpy"]
    assert v1["packaging_type"] == "cloudpickle"
    assert v1["env_params"] == {"framework_type": "pytorch",
                                "pytorch_image_tag": "1.7.1-cuda11.0-cudnn8-runtime",
                                "tensorflow_version": None, "ecr_repo": None, "image_tag": None}
    assert v1["app_config"] is None
    assert v1["schema_location"] == v2["schema_location"]

    # E. a sync endpoint with the client's defaults (cpus 3, 8Gi, 1..1 workers).
    client.create_model_endpoint("demo-sync", "test-bundle")
    wait_ready(client, "demo-sync")
    ep = check_endpoint(client.get_model_endpoint("demo-sync"))
    assert ep["endpoint_type"] == "sync"
    assert ep["destination"] == "launch-endpoint-id-" + ep["id"].replace("_", "-")
    assert ep["resource_state"]["cpus"] == "3"
    assert ep["resource_state"]["memory"] == "8Gi"
    assert ep["labels"] == {}
    ds = ep["deployment_state"]                     # READY: min_workers loaded workers
    assert (ds["min_workers"], ds["max_workers"], ds["available_workers"]) == (1, 1, 1), ds


@pytest.mark.parametrize("self_hosted", MODES)
def test_quickstart_update_if_exists_then_delete(server, make_client, self_hosted):
    client = make_client(server, self_hosted=self_hosted)
    client.create_model_bundle("test-bundle", quickstart_pickle("v1-model"),
                               quickstart_v1_metadata(), PYTORCH_ENV, QUICKSTART_REQUIREMENTS,
                               schema=QUICKSTART_SCHEMA)
    client.create_model_endpoint("demo-endpoint", "test-bundle", cpus=1, min_workers=0,
                                 endpoint_type="async", update_if_exists=True,
                                 labels={"team": "MY_TEAM", "product": "launch"})
    wait_ready(client, "demo-endpoint")
    first = client.get_model_endpoint("demo-endpoint")

    # A new bundle version, then create_model_endpoint again: the update path
    # (GET ?name=, GET latest, GET ?name=, PUT without labels or endpoint_type).
    client.create_model_bundle("test-bundle", quickstart_pickle("v1-model"),
                               quickstart_v1_metadata(), PYTORCH_ENV, QUICKSTART_REQUIREMENTS,
                               schema=QUICKSTART_SCHEMA)
    newest = client.get_model_bundle("test-bundle")["id"]
    resp = client.create_model_endpoint("demo-endpoint", "test-bundle", cpus=2, memory="4Gi",
                                        min_workers=0, max_workers=3, endpoint_type="async",
                                        update_if_exists=True)
    assert UUID_RE.match(resp["endpoint_creation_task_id"]), resp
    wait_ready(client, "demo-endpoint")
    ep = check_endpoint(client.get_model_endpoint("demo-endpoint"))
    assert ep["id"] == first["id"]
    assert ep["resource_state"]["cpus"] == "2"
    assert ep["resource_state"]["memory"] == "4Gi"
    assert ep["deployment_state"]["max_workers"] == 3
    assert ep["labels"] == {"team": "MY_TEAM", "product": "launch"}   # kept
    assert ep["endpoint_type"] == "async"
    assert ep["created_at"] == first["created_at"]
    # The endpoint has no model_bundle_id field; its build log names the bundle (README).
    assert newest in client.read_endpoint_creation_logs("demo-endpoint")
    assert client.api.call("GET", f"/v1/model-endpoints/{ep['id']}")["bundle_name"] == \
        "test-bundle"

    # F. delete: GET ?name= then DELETE.
    assert client.delete_model_endpoint("demo-endpoint") is True
    poll(lambda: client.get_model_endpoint("demo-endpoint"), lambda e: e is None,
         timeout=READY_TIMEOUT_S, what="endpoint gone after delete")
    assert client.list_model_endpoints() == []


def test_quickstart_with_trailing_slash_endpoint(server, make_client):
    """endpoint="http://host:port/" makes the generated client send //v1/... and
    the legacy Connection //model_bundle_upload: duplicate slashes collapse."""
    client = make_client(server, trailing_slash=True)
    client.create_model_bundle("test-bundle", quickstart_pickle("v1-model"),
                               quickstart_v1_metadata(), PYTORCH_ENV, QUICKSTART_REQUIREMENTS,
                               schema=QUICKSTART_SCHEMA)
    client.create_model_endpoint("demo-endpoint", "test-bundle", cpus=1, min_workers=0,
                                 endpoint_type="async")
    wait_ready(client, "demo-endpoint")
    assert isinstance(client.read_endpoint_creation_logs("demo-endpoint"), str)
    paths = {(r["method"], r["path"]) for r in server.http_log()}
    assert ("POST", "/model_bundle_upload") in paths
    assert ("POST", "/v1/model-bundles") in paths


def test_quickstart_creation_logs(server, client):
    client.create_model_bundle("test-bundle", quickstart_pickle("v1-model"),
                               quickstart_v1_metadata(), PYTORCH_ENV, QUICKSTART_REQUIREMENTS)
    client.create_model_endpoint("demo-endpoint", "test-bundle", cpus=1, min_workers=0,
                                 endpoint_type="async")
    wait_ready(client, "demo-endpoint")
    logs = client.read_endpoint_creation_logs("demo-endpoint")
    assert isinstance(logs, str) and logs


def test_quickstart_pickle_helper_predicts_15(tmp_path):
    """The artifact helper makes a real quick-start cloudpickle with
    /usr/bin/python3: loaded per spec 5.2, predict(x=5, y="hello") gives 15."""
    for kind in ("v1-model", "load-model-fn"):
        path = tmp_path / f"{kind}.pkl"
        path.write_bytes(quickstart_pickle(kind))
        assert run_quickstart_predict(str(path), {"x": 5, "y": "hello"}) == {"result": "15"}
        # real_artifact(size): the same bundle padded to an exact size still loads.
        padded = tmp_path / f"{kind}-4096.pkl"
        padded.write_bytes(real_artifact(4096, kind))
        assert padded.stat().st_size == 4096
        assert run_quickstart_predict(str(padded), {"x": 5, "y": "hello"}) == {"result": "15"}
    assert real_artifact() == quickstart_pickle("v1-model")
    assert json.loads(json.dumps(QUICKSTART_SCHEMA)) == QUICKSTART_SCHEMA
