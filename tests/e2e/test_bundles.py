"""Model bundles v1 and v2 (spec 2.2, 2.3, 3): create, get, latest, list,
clone-with-changes, and the one store both versions share (spec 3.4)."""
from __future__ import annotations

import json

import pytest

from artifacts import LOAD_PREDICT_FN_SRC, PYTORCH_ENV, QUICKSTART_SCHEMA, write_real_artifact
from shapes import BUNDLE_ID_RE, assert_status_progression, check_bundle_v1, check_bundle_v2, \
    check_validation_error, parse_time, poll

RUNNABLE_IMAGE_UNSUPPORTED = "runnable-image bundles are not supported yet"


@pytest.fixture
def artifact(tmp_path):
    """An absolute path to an artifact file, as a self-hosted user writes one
    (a real quick-start cloudpickle)."""
    return str(write_real_artifact(tmp_path / "artifact.bin"))


@pytest.fixture
def schema_file(tmp_path):
    p = tmp_path / "schema.json"
    p.write_text(json.dumps(QUICKSTART_SCHEMA))
    return "file://" + str(p)


def v1_body(name, location, **extra):
    body = {"requirements": ["numpy"], "packaging_type": "cloudpickle", "name": name,
            "location": location, "env_params": dict(PYTORCH_ENV),
            "metadata": {"load_predict_fn": LOAD_PREDICT_FN_SRC}}
    body.update(extra)
    return body


def v2_cloudpickle_body(name, location, schema_location, **flavor_extra):
    flavor = {"flavor": "cloudpickle_artifact", "requirements": ["numpy"],
              "framework": {"framework_type": "pytorch", "pytorch_image_tag": "1.7.1"},
              "location": location, "load_predict_fn": "def f(m): ...",
              "load_model_fn": "def g(): ..."}
    flavor.update(flavor_extra)
    return {"name": name, "schema_location": schema_location, "flavor": flavor}


def create_v1(client, body):
    resp = client.api.call("POST", "/v1/model-bundles", body)
    assert set(resp) == {"model_bundle_id"}, resp
    assert BUNDLE_ID_RE.match(resp["model_bundle_id"]), resp
    return resp["model_bundle_id"]


def create_v2(client, body):
    resp = client.api.call("POST", "/v2/model-bundles", body)
    assert set(resp) == {"model_bundle_id"}, resp
    assert BUNDLE_ID_RE.match(resp["model_bundle_id"]), resp
    return resp["model_bundle_id"]


def get(client, path, query=None):
    return client.api.request("GET", path, query=query)


def assert_endpoint_fails_as_runnable_image(client, bundle_id, name, endpoint_type="async"):
    """liftoff runs no user containers yet (README): an endpoint on a
    runnable-image bundle ends UPDATE_FAILED and its creation log says why."""
    client.api.call("POST", "/v1/model-endpoints", {
        "endpoint_type": endpoint_type, "metadata": {}, "memory": "8Gi", "cpus": 1,
        "max_workers": 1, "model_bundle_id": bundle_id,
        "min_workers": 1 if endpoint_type == "sync" else 0, "gpus": 0, "name": name,
        "per_worker": 10, "labels": {}, "high_priority": False})
    _, seen = poll(lambda: client.status(name),
                   lambda s: s not in ("UPDATE_PENDING", "UPDATE_IN_PROGRESS"),
                   timeout=10, what=f"{name} build finished")
    assert_status_progression(seen, "UPDATE_FAILED")
    logs = client.read_endpoint_creation_logs(name)
    assert RUNNABLE_IMAGE_UNSUPPORTED in logs, logs


# ---- v1 -------------------------------------------------------------------

def test_v1_create_reads_back_everywhere(client, artifact, schema_file):
    body = v1_body("b1", artifact, app_config={"threshold": 0.5},
                   schema_location=schema_file)
    bid = create_v1(client, body)
    by_id = check_bundle_v1(client.api.call("GET", f"/v1/model-bundles/{bid}"))
    latest = check_bundle_v1(client.get_model_bundle("b1"))
    listed = [check_bundle_v1(b) for b in client.list_model_bundles()]
    assert by_id == latest == listed[0] and len(listed) == 1
    assert by_id["id"] == bid
    assert by_id["name"] == "b1"
    assert by_id["location"] == artifact
    assert by_id["requirements"] == ["numpy"]
    assert by_id["env_params"] == {**PYTORCH_ENV, "tensorflow_version": None, "ecr_repo": None,
                                   "image_tag": None}
    assert by_id["packaging_type"] == "cloudpickle"
    assert by_id["metadata"] == {"load_predict_fn": LOAD_PREDICT_FN_SRC}
    assert by_id["app_config"] == {"threshold": 0.5}
    assert by_id["schema_location"] == schema_file
    assert by_id["model_artifact_ids"] == []
    parse_time(by_id["created_at"])


def test_v1_cloudpickle_reads_back_as_v2_flavor(client, artifact):
    bid = create_v1(client, v1_body("b1", artifact, app_config={"k": "v"},
                                    metadata={"load_predict_fn": "P", "load_model_fn": "L"}))
    v2 = check_bundle_v2(client.get_model_bundle_v2(bid))
    assert v2["flavor"] == {"flavor": "cloudpickle_artifact", "requirements": ["numpy"],
                            "framework": PYTORCH_ENV, "app_config": {"k": "v"},
                            "location": artifact, "load_predict_fn": "P",
                            "load_model_fn": "L"}
    assert v2["metadata"] == {"load_predict_fn": "P", "load_model_fn": "L"}
    assert v2["schema_location"] is None
    # Absent metadata texts become "" (spec 3.4).
    bid2 = create_v1(client, v1_body("b2", artifact, metadata={}))
    f2 = client.get_model_bundle_v2(bid2)["flavor"]
    assert (f2["load_predict_fn"], f2["load_model_fn"]) == ("", "")
    assert f2.get("app_config") is None


def test_v1_zip_and_lira_read_back_as_v2(client, artifact):
    zid = create_v1(client, v1_body("z", artifact, packaging_type="zip", metadata={
        "load_predict_fn_module_path": "m.predict.load_predict_fn",
        "load_model_fn_module_path": "m.model.load_model_fn"}))
    zf = check_bundle_v2(client.get_model_bundle_v2(zid))["flavor"]
    assert zf["flavor"] == "zip_artifact"
    assert zf["load_predict_fn_module_path"] == "m.predict.load_predict_fn"
    assert zf["load_model_fn_module_path"] == "m.model.load_model_fn"
    assert zf["location"] == artifact
    assert check_bundle_v1(client.api.call("GET", f"/v1/model-bundles/{zid}"))[
        "packaging_type"] == "zip"

    lid = create_v1(client, v1_body("l", artifact, packaging_type="lira", metadata={}))
    lf = check_bundle_v2(client.get_model_bundle_v2(lid))["flavor"]
    assert lf["flavor"] == "runnable_image"
    assert (lf["repository"], lf["tag"], lf["command"], lf["protocol"]) == ("", "", [], "http")
    assert lf["readiness_initial_delay_seconds"] == 30
    assert client.api.call("GET", f"/v1/model-bundles/{lid}")["packaging_type"] == "lira"
    # A lira bundle is a runnable image, even with a loadable pickle at its location.
    assert_endpoint_fails_as_runnable_image(client, lid, "lira-endpoint")


@pytest.mark.parametrize("env,framework", [
    ({"framework_type": "tensorflow", "tensorflow_version": "2.3.0"},
     {"framework_type": "tensorflow", "tensorflow_version": "2.3.0"}),
    ({"framework_type": "custom_base_image", "ecr_repo": "repo", "image_tag": "tag"},
     {"framework_type": "custom_base_image", "image_repository": "repo", "image_tag": "tag"}),
], ids=["tensorflow", "custom_base_image"])
def test_v1_env_params_map_to_v2_framework(client, artifact, env, framework):
    bid = create_v1(client, v1_body("b", artifact, env_params=env))
    v1 = check_bundle_v1(client.api.call("GET", f"/v1/model-bundles/{bid}"))
    assert {k: v for k, v in v1["env_params"].items() if v is not None} == env
    assert check_bundle_v2(client.get_model_bundle_v2(bid))["flavor"]["framework"] == framework


# ---- v2 -------------------------------------------------------------------

def test_v2_cloudpickle_reads_back_as_v1(client, artifact, schema_file):
    bid = create_v2(client, {**v2_cloudpickle_body("c", artifact, schema_file,
                                                   app_config={"a": 1}),
                             "metadata": {"team": "x"}})
    v2 = check_bundle_v2(client.get_model_bundle_v2(bid))
    assert v2["metadata"] == {"team": "x"}
    assert v2["schema_location"] == schema_file
    assert v2["flavor"]["app_config"] == {"a": 1}
    v1 = check_bundle_v1(client.api.call("GET", f"/v1/model-bundles/{bid}"))
    assert v1["location"] == artifact
    assert v1["requirements"] == ["numpy"]
    assert v1["packaging_type"] == "cloudpickle"
    assert v1["env_params"]["framework_type"] == "pytorch"
    assert v1["env_params"]["pytorch_image_tag"] == "1.7.1"
    assert v1["app_config"] == {"a": 1}
    assert v1["metadata"] == {"team": "x"}
    assert v1["schema_location"] == schema_file


def test_v2_zip_with_custom_framework_reads_back_as_v1(client, artifact, schema_file):
    bid = create_v2(client, {"name": "z", "schema_location": schema_file, "flavor": {
        "flavor": "zip_artifact", "requirements": ["a==1", "b"],
        "framework": {"framework_type": "custom_base_image", "image_repository": "repo",
                      "image_tag": "t1"},
        "location": artifact, "load_predict_fn_module_path": "p.q.f",
        "load_model_fn_module_path": "p.r.g"}})
    v1 = check_bundle_v1(client.api.call("GET", f"/v1/model-bundles/{bid}"))
    assert v1["packaging_type"] == "zip"
    assert v1["env_params"] == {"framework_type": "custom_base_image", "ecr_repo": "repo",
                                "image_tag": "t1", "pytorch_image_tag": None,
                                "tensorflow_version": None}
    assert v1["requirements"] == ["a==1", "b"]
    assert v1["metadata"] == {}
    f = check_bundle_v2(client.get_model_bundle_v2(bid))["flavor"]
    assert f["load_predict_fn_module_path"] == "p.q.f"


def test_v2_runnable_image_reads_back_as_v1_lira(client, schema_file):
    bid = create_v2(client, {"name": "r", "schema_location": schema_file, "flavor": {
        "flavor": "runnable_image", "repository": "repo", "tag": "t",
        "command": ["python", "serve.py"], "env": {"K": "V"}, "protocol": "http",
        "readiness_initial_delay_seconds": 120}})
    v1 = check_bundle_v1(client.api.call("GET", f"/v1/model-bundles/{bid}"))
    assert v1["location"] == "unused"
    assert v1["requirements"] == []
    assert v1["packaging_type"] == "lira"
    assert v1["app_config"] is None
    assert {k: v for k, v in v1["env_params"].items() if v is not None} == {
        "framework_type": "custom_base_image", "ecr_repo": "repo", "image_tag": "t"}
    f = check_bundle_v2(client.get_model_bundle_v2(bid))["flavor"]
    assert f["command"] == ["python", "serve.py"]
    assert f["env"] == {"K": "V"}
    assert f["readiness_initial_delay_seconds"] == 120
    assert_endpoint_fails_as_runnable_image(client, bid, "image-endpoint", "sync")


def test_v2_triton_image_round_trip(client, schema_file):
    bid = create_v2(client, {"name": "t", "schema_location": schema_file, "flavor": {
        "flavor": "triton_enhanced_runnable_image", "repository": "repo", "tag": "t",
        "command": ["run"], "protocol": "http", "readiness_initial_delay_seconds": 60,
        "triton_model_repository": "s3://m", "triton_num_cpu": 2.5,
        "triton_commit_tag": "abc"}})
    f = check_bundle_v2(client.get_model_bundle_v2(bid))["flavor"]
    assert f["flavor"] == "triton_enhanced_runnable_image"
    assert (f["triton_model_repository"], f["triton_num_cpu"], f["triton_commit_tag"]) == \
        ("s3://m", 2.5, "abc")
    assert f["triton_readiness_initial_delay_seconds"] == 300
    assert check_bundle_v1(client.api.call("GET", f"/v1/model-bundles/{bid}"))[
        "packaging_type"] == "lira"
    assert_endpoint_fails_as_runnable_image(client, bid, "triton-endpoint")


def test_v1_and_v2_share_one_store(client, artifact, schema_file):
    a = create_v1(client, v1_body("shared", artifact))
    b = create_v2(client, v2_cloudpickle_body("shared", artifact, schema_file))
    v1_ids = [check_bundle_v1(x)["id"] for x in client.list_model_bundles()]
    v2_ids = [check_bundle_v2(x)["id"] for x in client.list_model_bundles_v2()]
    assert sorted(v1_ids) == sorted(v2_ids) == sorted([a, b])
    assert client.get_model_bundle("shared")["id"] == b
    assert client.get_latest_model_bundle_v2("shared")["id"] == b
    check_bundle_v2(client.get_latest_model_bundle_v2("shared"))


# ---- list, latest, order --------------------------------------------------

def test_list_filters_by_exact_name_and_orders(client, artifact):
    ids = [create_v1(client, v1_body(n, artifact)) for n in ("m", "m", "m-2", "m")]
    by_name = client.api.call("GET", "/v1/model-bundles", query={"model_name": "m"})
    assert sorted(b["id"] for b in by_name["model_bundles"]) == sorted(ids[0:2] + ids[3:4])
    newest = client.api.call("GET", "/v1/model-bundles",
                             query={"model_name": "m", "order_by": "newest"})["model_bundles"]
    oldest = client.api.call("GET", "/v1/model-bundles",
                             query={"model_name": "m", "order_by": "oldest"})["model_bundles"]
    assert [b["id"] for b in oldest] == [ids[0], ids[1], ids[3]]
    assert [b["id"] for b in newest] == [ids[3], ids[1], ids[0]]
    v2_newest = client.api.call("GET", "/v2/model-bundles",
                                query={"order_by": "newest"})["model_bundles"]
    assert [b["id"] for b in v2_newest] == list(reversed(ids))
    times = [parse_time(b["created_at"]) for b in oldest]
    assert times == sorted(times)
    assert client.api.call("GET", "/v1/model-bundles",
                           query={"model_name": "nope"}) == {"model_bundles": []}
    assert client.api.call("GET", "/v1/model-bundles", query={"model_name": "m-"}) == \
        {"model_bundles": []}


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_list_rejects_unknown_order_by(client, version):
    r = get(client, f"/{version}/model-bundles", {"order_by": "sideways"})
    assert r.status_code == 422, r.text
    check_validation_error(r.json(), ("query", "order_by"))


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_latest_returns_newest_version(client, artifact, version):
    ids = [create_v1(client, v1_body("ver", artifact, metadata={"n": str(i)}))
           for i in range(3)]
    got = client.api.call("GET", f"/{version}/model-bundles/latest", query={"model_name": "ver"})
    assert got["id"] == ids[-1]
    assert got["metadata"] == {"n": "2"}


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_latest_unknown_name_is_404(client, version):
    r = get(client, f"/{version}/model-bundles/latest", {"model_name": "ghost"})
    assert r.status_code == 404, r.text
    assert r.json() == {"detail": "Model Bundle ghost  was not found."}


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_latest_without_model_name_is_422(client, version):
    r = get(client, f"/{version}/model-bundles/latest")
    assert r.status_code == 422, r.text
    check_validation_error(r.json(), ("query", "model_name"))


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_get_unknown_id_is_404(client, version):
    r = get(client, f"/{version}/model-bundles/bun_00000000000000000000")
    assert r.status_code == 404, r.text
    assert r.json() == {"detail": "Model Bundle bun_00000000000000000000  was not found."}


def test_unicode_names_round_trip(client, artifact):
    """Compact UTF-8 JSON (ensure_ascii=False) in, quote()d query out."""
    name = "modèle/日本-€ x"
    bid = create_v1(client, v1_body(name, artifact))
    got = client.get_model_bundle(name)
    assert got["id"] == bid and got["name"] == name
    listed = client.api.call("GET", "/v1/model-bundles", query={"model_name": name})
    assert [b["id"] for b in listed["model_bundles"]] == [bid]


# ---- clone ------------------------------------------------------------------

@pytest.mark.parametrize("version", ["v1", "v2"])
def test_clone_with_new_app_config(client, artifact, version):
    orig = create_v1(client, v1_body("c", artifact, app_config={"old": True},
                                     metadata={"load_predict_fn": "P"}))
    resp = client.api.call("POST", f"/{version}/model-bundles/clone-with-changes",
                           {"original_model_bundle_id": orig, "new_app_config": {"new": 1}})
    assert set(resp) == {"model_bundle_id"} and BUNDLE_ID_RE.match(resp["model_bundle_id"])
    new = resp["model_bundle_id"]
    assert new != orig
    v1 = check_bundle_v1(client.api.call("GET", f"/v1/model-bundles/{new}"))
    assert v1["name"] == "c"
    assert v1["app_config"] == {"new": 1}
    assert v1["metadata"] == {"load_predict_fn": "P", "__cloned_from_bundle_id": orig}
    assert v1["location"] == artifact
    assert v1["env_params"]["pytorch_image_tag"] == PYTORCH_ENV["pytorch_image_tag"]
    v2 = check_bundle_v2(client.get_model_bundle_v2(new))
    assert v2["flavor"]["app_config"] == {"new": 1}
    assert v2["flavor"]["flavor"] == "cloudpickle_artifact"
    assert client.get_model_bundle("c")["id"] == new                  # the newest now
    old = client.api.call("GET", f"/v1/model-bundles/{orig}")
    assert old["app_config"] == {"old": True}                        # original untouched
    assert "__cloned_from_bundle_id" not in old["metadata"]


@pytest.mark.parametrize("new_app_config", [None, {}], ids=["absent", "empty"])
def test_clone_keeps_app_config_without_new_one(client, artifact, new_app_config):
    orig = create_v1(client, v1_body("c", artifact, app_config={"keep": "me"}))
    new = client.clone_model_bundle_with_changes(orig, new_app_config)["model_bundle_id"]
    assert client.api.call("GET", f"/v1/model-bundles/{new}")["app_config"] == {"keep": "me"}
    new2 = client.clone_model_bundle_with_changes_v2(orig, new_app_config)
    assert client.get_model_bundle_v2(new2)["flavor"]["app_config"] == {"keep": "me"}


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_clone_unknown_id_is_404(client, version):
    r = client.api.request("POST", f"/{version}/model-bundles/clone-with-changes",
                           {"original_model_bundle_id": "bun_0000000000000000000x"})
    assert r.status_code == 404, r.text
    assert r.json() == {"detail": "Model Bundle bun_0000000000000000000x  was not found."}


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_clone_without_original_id_is_422(client, version):
    r = client.api.request("POST", f"/{version}/model-bundles/clone-with-changes",
                           {"new_app_config": {}})
    assert r.status_code == 422, r.text
    check_validation_error(r.json(), ("body", "original_model_bundle_id"))


# ---- bad input ------------------------------------------------------------------

@pytest.mark.parametrize("change,loc", [
    ({"name": None}, ("body", "name")),
    ({"name": 5}, ("body", "name")),
    ({"location": None}, ("body", "location")),
    ({"location": ["x"]}, ("body", "location")),
    ({"requirements": None}, ("body", "requirements")),
    ({"requirements": "numpy"}, ("body", "requirements")),
    ({"requirements": [1, 2]}, ("body", "requirements")),
    ({"env_params": None}, ("body", "env_params")),
    ({"env_params": "pytorch"}, ("body", "env_params")),
    ({"env_params": {"framework_type": "jax"}}, ("body", "env_params")),
    ({"env_params": {"framework_type": "pytorch"}}, ("body", "env_params")),
    ({"env_params": {"framework_type": "pytorch", "pytorch_image_tag": ""}},
     ("body", "env_params")),
    ({"env_params": {"framework_type": "tensorflow"}}, ("body", "env_params")),
    ({"env_params": {"framework_type": "custom_base_image", "ecr_repo": "r"}},
     ("body", "env_params")),
    ({"packaging_type": None}, ("body", "packaging_type")),
    ({"packaging_type": "tarball"}, ("body", "packaging_type")),
    ({"metadata": "text"}, ("body", "metadata")),
    ({"app_config": "config.yaml"}, ("body", "app_config")),
    ({"schema_location": 7}, ("body", "schema_location")),
], ids=lambda x: json.dumps(x) if isinstance(x, dict) else None)
def test_v1_create_validation_422(client, artifact, change, loc):
    body = v1_body("bad", artifact)
    for k, v in change.items():
        if v is None:
            del body[k]
        else:
            body[k] = v
    r = client.api.request("POST", "/v1/model-bundles", body)
    assert r.status_code == 422, r.text
    check_validation_error(r.json(), loc)
    assert client.list_model_bundles() == []


@pytest.mark.parametrize("mutate,loc", [
    (lambda b: b.pop("name"), ("body", "name")),
    (lambda b: b.pop("schema_location"), ("body", "schema_location")),
    (lambda b: b.pop("flavor"), ("body", "flavor")),
    (lambda b: b["flavor"].update(flavor="streaming_enhanced_runnable_image"),
     ("body", "flavor")),
    (lambda b: b["flavor"].pop("location"), ("body", "flavor", "location")),
    (lambda b: b["flavor"].pop("load_model_fn"), ("body", "flavor", "load_model_fn")),
    (lambda b: b["flavor"].pop("requirements"), ("body", "flavor", "requirements")),
    (lambda b: b["flavor"].pop("framework"), ("body", "flavor", "framework")),
    (lambda b: b["flavor"]["framework"].pop("pytorch_image_tag"),
     ("body", "flavor", "framework")),
    (lambda b: b.update(metadata=[1]), ("body", "metadata")),
], ids=["no-name", "no-schema_location", "no-flavor", "unknown-flavor", "no-location",
        "no-load_model_fn", "no-requirements", "no-framework", "no-image-tag",
        "metadata-list"])
def test_v2_create_validation_422(client, artifact, schema_file, mutate, loc):
    body = v2_cloudpickle_body("bad", artifact, schema_file)
    mutate(body)
    r = client.api.request("POST", "/v2/model-bundles", body)
    assert r.status_code == 422, r.text
    check_validation_error(r.json(), loc)


def test_v2_runnable_image_protocol_must_be_http(client, schema_file):
    r = client.api.request("POST", "/v2/model-bundles", {
        "name": "r", "schema_location": schema_file, "flavor": {
            "flavor": "runnable_image", "repository": "r", "tag": "t", "command": [],
            "protocol": "grpc"}})
    assert r.status_code == 422, r.text
    check_validation_error(r.json(), ("body", "flavor", "protocol"))


def test_unknown_json_keys_are_ignored(client, artifact, schema_file):
    bid = create_v1(client, {**v1_body("u", artifact), "surprise": {"x": [1]},
                             "id": "bun_fake", "created_at": "yesterday"})
    got = check_bundle_v1(client.api.call("GET", f"/v1/model-bundles/{bid}"))
    assert got["id"] == bid and "surprise" not in got
    body = v2_cloudpickle_body("u2", artifact, schema_file, extra_flavor_key=3)
    body["another"] = True
    create_v2(client, body)


@pytest.mark.parametrize("length", [255, 256, 1000])
def test_long_bundle_names_work_everywhere(client, artifact, length):
    """Bundle names have no format rules (spec 2.2): a long name behaves like
    any other, through create, latest, list and clone."""
    name = "n" * length
    orig = create_v1(client, v1_body(name, artifact))
    assert client.get_model_bundle(name)["id"] == orig
    clone = client.clone_model_bundle_with_changes(orig, {"x": 1})["model_bundle_id"]
    got = client.api.call("GET", f"/v1/model-bundles/{clone}")
    assert got["name"] == name
    assert client.get_model_bundle(name)["id"] == clone
    assert client.get_latest_model_bundle_v2(name)["id"] == clone
    listed = client.api.call("GET", "/v1/model-bundles", query={"model_name": name})
    assert sorted(b["id"] for b in listed["model_bundles"]) == sorted([orig, clone])
