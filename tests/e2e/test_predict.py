"""Sync predictions through real worker processes (issue 3): the docs'
bundles (spec 4.1, 4.2, 5.2), failures inside the user's code (5.3, 5.4),
return_pickled (5.3 rule 5) and the HTTP errors of POST /v1/sync-tasks (2.5)."""
from __future__ import annotations

import io
import json
import re
import zipfile

import cloudpickle

from artifacts import (LOAD_MODEL_FN_SRC, LOAD_PREDICT_FN_SRC, PYTORCH_ENV, QUICKSTART_REQUIREMENTS,
                       QUICKSTART_SCHEMA, quickstart_pickle, quickstart_v1_metadata)
from bundles_rt import (APP_CONFIG_EXPR, APP_CONFIG_FIXED_SRC, APP_CONFIG_SCHEMA,
                        APP_CONFIG_SRC, PROBE_EXPR, PROBE_SRC, PYTORCH_TAG, create_endpoint,
                        create_v1_bundle, failure_traceback, fetch_result, line_of,
                        pickle_bundle, predict, predict_value, source_file, success_value,
                        sync_request, zip_dirs)
from launch_client import new_key
from shapes import check_bundle_v1, check_bundle_v2

RESULT_URL_RE = re.compile(r"^(?P<base>http://127\.0\.0\.1:\d+)/v1/results/"
                           r"(?P<id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")


def quickstart_typeerror(args: dict) -> str:
    """Python's own TypeError text for calling the quick-start predict_fn with args."""
    ns: dict = {}
    exec(LOAD_PREDICT_FN_SRC, ns)
    try:
        ns["my_load_predict_fn"](lambda x: x * 2)(**args)
    except TypeError as e:
        return f"TypeError: {e}"
    raise AssertionError(f"{args} did not raise")


def deploy_probe(client, name="probe-ep", **kw):
    create_v1_bundle(client, "probe", pickle_bundle(PROBE_SRC, PROBE_EXPR))
    return create_endpoint(client, name, "probe", **kw)


# ---- the docs' examples ----------------------------------------------------------

def test_quickstart_v1_model_predicts_15(server, make_client):
    """Spec 11.A + E: create_model_bundle(model=my_model, ...) with signed-URL
    uploads, a sync endpoint with the client defaults, predict(x=5, y="hello")."""
    client = make_client(server)
    sent = client.create_model_bundle("test-bundle", quickstart_pickle("v1-model"),
                                      quickstart_v1_metadata(), PYTORCH_ENV,
                                      QUICKSTART_REQUIREMENTS, schema=QUICKSTART_SCHEMA)
    assert sent["location"].startswith("s3://"), sent
    ep = create_endpoint(client, "demo-sync", "test-bundle", min_workers=1, max_workers=1,
                         per_worker=10)
    assert ep["deployment_state"]["available_workers"] == 1, ep
    r = sync_request(server.base_url, client.api_key, ep["id"],
                     {"args": {"x": 5, "y": "hello"}, "return_pickled": False})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    assert r.json() == {"status": "SUCCESS", "result": {"result": "15"}, "traceback": None,
                        "status_code": 200}
    assert predict_value(client, ep["id"], {"x": -3, "y": ""}) == -6


def test_v2_callable_with_load_model_fn(server, make_client):
    """create_model_bundle_from_callable_v2 (load_model_fn() then
    load_predict_fn(model), config None), uploaded the self-hosted way."""
    client = make_client(server, self_hosted=True)
    bundle_id = client.create_model_bundle_from_callable_v2(
        "test-bundle", quickstart_pickle("load-model-fn"), LOAD_PREDICT_FN_SRC,
        LOAD_MODEL_FN_SRC, QUICKSTART_SCHEMA, QUICKSTART_REQUIREMENTS, PYTORCH_TAG)
    assert check_bundle_v2(client.get_model_bundle_v2(bundle_id))["flavor"]["location"] \
        .startswith("file:///")
    ep = create_endpoint(client, "demo-v2", "test-bundle")
    assert predict(client, ep["id"], {"x": 5, "y": "hello"}) == {
        "status": "SUCCESS", "result": {"result": "15"}, "traceback": None, "status_code": 200}
    assert predict_value(client, ep["id"], {"x": 100, "y": "ab"}) == 202


ZIP_MODEL_PY = '''import json
import os

_HERE = os.path.dirname(os.path.abspath(__file__))


def load_model_fn(config):
    with open(os.path.join(_HERE, "data", "weights.json")) as f:
        weights = json.load(f)
    scale = config["scale"] if config is not None else weights["scale"]
    return {"scale": scale, "offset": weights["offset"], "config_seen": config}
'''
ZIP_PREDICT_PY = '''from my_module2.helpers import word_length


def load_predict_fn(config, model):
    def predict(x, y):
        return {"value": model["scale"] * x + model["offset"] + word_length(y),
                "load_model_fn_config": model["config_seen"], "load_predict_fn_config": config}

    return predict
'''
ZIP_HELPERS_PY = '''def word_length(y):
    return len(y)
'''


def write_zip_tree(root):
    """my_module1 (a package with a sub-package and a data file) and
    my_module2, in two different parent folders, as base_paths."""
    m1 = root / "src" / "my_module1"
    (m1 / "sub" / "data").mkdir(parents=True)
    (m1 / "__init__.py").write_text("")
    (m1 / "sub" / "__init__.py").write_text("")
    (m1 / "sub" / "model.py").write_text(ZIP_MODEL_PY)
    (m1 / "sub" / "data" / "weights.json").write_text('{"scale": 2, "offset": 100}')
    (m1 / "predict.py").write_text(ZIP_PREDICT_PY)
    m2 = root / "lib" / "my_module2"
    m2.mkdir(parents=True)
    (m2 / "__init__.py").write_text("")
    (m2 / "helpers.py").write_text(ZIP_HELPERS_PY)
    return [m1, m2]


def test_zip_bundles_from_dirs(server, make_client, tmp_path):
    """Spec 4.2 + 5.2: the zip built as the client does; dotted module
    paths; load_model_fn(config) and load_predict_fn(config, model) always
    get the config, None included. v2 from_dirs with an app_config, and the
    v1 from_dirs (packaging_type zip) without one."""
    client = make_client(server)
    data = zip_dirs(write_zip_tree(tmp_path))
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert sorted(names) == ["my_module1/__init__.py", "my_module1/predict.py",
                             "my_module1/sub/__init__.py", "my_module1/sub/data/weights.json",
                             "my_module1/sub/model.py", "my_module2/__init__.py",
                             "my_module2/helpers.py"]
    requirements = "\npytest==7.2.1\nnumpy\n".splitlines()   # the docs' requirements.txt
    paths = {"load_predict_fn_module_path": "my_module1.predict.load_predict_fn",
             "load_model_fn_module_path": "my_module1.sub.model.load_model_fn"}

    # v2: create_model_bundle_from_dirs_v2(..., app_config={"scale": 3})
    location = client.upload(data)
    schema_location = client.upload(json.dumps(QUICKSTART_SCHEMA).encode())
    v2 = client.api.call("POST", "/v2/model-bundles", {
        "name": "zip-v2", "schema_location": schema_location,
        "flavor": {"flavor": "zip_artifact", "requirements": requirements,
                   "framework": {"framework_type": "pytorch", "pytorch_image_tag": PYTORCH_TAG},
                   "app_config": {"scale": 3}, "location": location, **paths}})["model_bundle_id"]
    assert check_bundle_v2(client.get_model_bundle_v2(v2))["flavor"]["flavor"] == "zip_artifact"

    # v1: create_model_bundle_from_dirs(...), no app_config
    client.api.call("POST", "/v1/model-bundles", {
        "requirements": requirements, "packaging_type": "zip", "name": "zip-v1",
        "location": client.upload(data), "env_params": PYTORCH_ENV, "metadata": paths})
    assert check_bundle_v1(client.get_model_bundle("zip-v1"))["packaging_type"] == "zip"

    ep2 = create_endpoint(client, "zip-v2-ep", "zip-v2")
    ep1 = create_endpoint(client, "zip-v1-ep", "zip-v1")
    assert predict_value(client, ep2["id"], {"x": 5, "y": "hello"}) == {
        "value": 3 * 5 + 100 + 5, "load_model_fn_config": {"scale": 3},
        "load_predict_fn_config": {"scale": 3}}
    assert predict_value(client, ep1["id"], {"x": 5, "y": "hello"}) == {
        "value": 2 * 5 + 100 + 5, "load_model_fn_config": None, "load_predict_fn_config": None}


def test_app_config_single_batched_and_clone(server, make_client):
    """The docs' "Configuring Model Bundles" example: one pickle, two
    app_configs, load_model_fn(app_config) and load_predict_fn(app_config,
    model). As printed, the batched mode fails inside the user's code (a docs
    bug, see bundles_rt.APP_CONFIG_FIXED_SRC), which still shows that the
    config reached both functions; the fixed code answers the batch. Then the
    v1 clone-with-changes gives a bundle with a new app_config."""
    client = make_client(server)

    def create(name, src, app_config):
        return client.create_model_bundle_from_callable_v2(
            name, pickle_bundle(src, APP_CONFIG_EXPR),
            "def my_load_predict_fn(app_config, model): ...",
            "def my_load_model_fn(app_config): ...", APP_CONFIG_SCHEMA, QUICKSTART_REQUIREMENTS,
            PYTORCH_TAG, app_config=app_config)

    create("test-bundle-single", APP_CONFIG_SRC, {"mode": "single"})
    create("test-bundle-batched", APP_CONFIG_SRC, {"mode": "batched"})
    fixed = create("fixed-bundle", APP_CONFIG_FIXED_SRC, {"mode": "single"})
    ep_single = create_endpoint(client, "ep-single", "test-bundle-single")
    ep_batched = create_endpoint(client, "ep-batched", "test-bundle-batched")
    ep_fixed = create_endpoint(client, "ep-fixed", "fixed-bundle")

    assert predict_value(client, ep_single["id"], {"x": 5, "y": "hello"}) == 15
    # single mode asserts its input types: a batch fails there.
    tb = failure_traceback(predict(client, ep_single["id"], {"x": [5], "y": ["hello"]}))
    assert "assert isinstance(x, int) and isinstance(y, str)" in tb and "AssertionError" in tb, tb
    # batched mode: load_predict_fn took the batched branch and load_model_fn
    # returned my_model_batched.
    tb = failure_traceback(predict(client, ep_batched["id"],
                                   {"x": [5, 1, 0], "y": ["hello", "", "ab"]}))
    assert "result.append(model(x_i) + len(y_i))" in tb, tb
    assert ", in my_model_batched\n" in tb, tb
    assert tb.rstrip("\n").endswith("TypeError: 'int' object is not iterable"), tb

    assert predict_value(client, ep_fixed["id"], {"x": 5, "y": "hello"}) == 15
    clone = client.clone_model_bundle_with_changes(fixed, {"mode": "batched"})["model_bundle_id"]
    assert clone != fixed
    latest = check_bundle_v1(client.get_model_bundle("fixed-bundle"))
    assert latest["id"] == clone and latest["app_config"] == {"mode": "batched"}, latest
    ep_clone = create_endpoint(client, "ep-clone", "fixed-bundle")
    assert predict_value(client, ep_clone["id"], {"x": [5, 1, 0], "y": ["hello", "", "ab"]}) \
        == [15, 2, 2]
    # The original keeps its app_config.
    assert predict_value(client, ep_fixed["id"], {"x": 1, "y": "a"}) == 3


def test_bundle_behind_a_slow_download(server, make_client, file_server):
    """An http:// bundle location that takes a while to download: no worker
    may start before the artifact is there; the endpoint becomes READY and
    predicts (spec 2.7: the server reads http(s) locations)."""
    client = make_client(server)
    url = file_server.add("/bundles/slow.pkl", quickstart_pickle("v1-model"))
    client.api.call("POST", "/v1/model-bundles", {
        "requirements": QUICKSTART_REQUIREMENTS, "packaging_type": "cloudpickle",
        "name": "slow-bundle", "location": url, "env_params": PYTORCH_ENV,
        "metadata": quickstart_v1_metadata()})
    # Creating the bundle downloaded it into cache/ (README); without that
    # copy the deployment downloads it again, slowly.
    for f in (server.data_dir / "cache").iterdir():
        f.unlink()
    file_server.delay_s["/bundles/slow.pkl"] = 0.6
    ep = create_endpoint(client, "slow-ep", "slow-bundle", min_workers=2, max_workers=2)
    assert file_server.hit_count("/bundles/slow.pkl") == 2
    assert ep["deployment_state"]["available_workers"] == 2, ep
    assert predict_value(client, ep["id"], {"x": 5, "y": "hello"}) == 15


def test_result_is_python_json_dumps(server, make_client):
    """result.result is exactly json.dumps(output): default separators,
    ensure_ascii escapes, key order kept (spec 5.3 rule 6)."""
    client = make_client(server)
    ep = deploy_probe(client)
    value = {"z": [1, 2.5, None, True, -0.1], "a": "h\u00e9llo \u2713 \U0001f600", "m": {}}
    resp = predict(client, ep["id"], {"op": "echo", "value": value})
    text = resp["result"]["result"]
    out = json.loads(text)
    assert out["value"] == value and list(out) == ["value", "model", "pid", "max", "count"], out
    assert text == json.dumps(out), text
    assert '"a": "h\\u00e9llo \\u2713 \\ud83d\\ude00"' in text, text


# ---- failures in the user's code -------------------------------------------------

def test_predict_that_raises(server, make_client):
    """An exception: HTTP 200, FAILURE, status_code 500, the traceback text
    with the exception and the user's source line (spec 5.4, 5.5)."""
    client = make_client(server)
    ep = deploy_probe(client)
    first = success_value(predict(client, ep["id"], {"op": "echo", "value": 1}))
    tb = failure_traceback(predict(client, ep["id"], {"op": "raise", "value": "boom"}))
    assert tb.startswith("Traceback (most recent call last):\n"), tb
    line = line_of(PROBE_SRC, 'raise ValueError(f"probe refuses')
    assert f'File "{source_file(PROBE_SRC)}", line {line}, in predict' in tb, tb
    assert 'raise ValueError(f"probe refuses {value!r}")' in tb, tb
    assert tb.rstrip("\n").endswith("ValueError: probe refuses 'boom'"), tb
    # The worker survives a user exception.
    again = success_value(predict(client, ep["id"], {"op": "echo", "value": 2}))
    assert again["pid"] == first["pid"] and again["value"] == 2 and again["model"] == 4


def test_missing_and_extra_arguments(server, make_client):
    """args are keyword arguments: a missing or unexpected one is Python's
    own TypeError, as a FAILURE (spec 5.3 rule 2)."""
    client = make_client(server)
    client.create_model_bundle("test-bundle", quickstart_pickle("v1-model"),
                               quickstart_v1_metadata(), PYTORCH_ENV, QUICKSTART_REQUIREMENTS)
    ep = create_endpoint(client, "demo", "test-bundle")
    for args in ({"x": 5}, {}, {"x": 5, "y": "hello", "z": 1}):
        want = quickstart_typeerror(args)
        assert ("missing" in want) or ("unexpected keyword argument 'z'" in want), want
        tb = failure_traceback(predict(client, ep["id"], args))
        assert want in tb, (args, want, tb)
    # args that are not an object cannot be keyword arguments.
    tb = failure_traceback(predict(client, ep["id"], [5, "hello"]))
    assert "TypeError" in tb and "mapping" in tb, tb
    assert predict_value(client, ep["id"], {"x": 5, "y": "hello"}) == 15


def test_unserializable_output(server, make_client):
    """A set is not JSON: FAILURE with json's own TypeError text."""
    client = make_client(server)
    ep = deploy_probe(client)
    tb = failure_traceback(predict(client, ep["id"], {"op": "set"}))
    assert "TypeError: Object of type set is not JSON serializable" in tb, tb
    assert success_value(predict(client, ep["id"], {"op": "echo", "value": 3}))["value"] == 3


def test_return_pickled(server, make_client):
    """return_pickled: result is {"result_url": URL}; the URL serves the
    cloudpickle of the output to its owner only (spec 5.3 rule 5, 12 #17)."""
    client = make_client(server)
    other = make_client(server, key=new_key("other"))
    ep = deploy_probe(client)
    resp = predict(client, ep["id"], {"op": "pickled", "value": 7}, return_pickled=True)
    assert resp["status"] == "SUCCESS", resp
    assert set(resp["result"]) == {"result_url"}, resp
    url = resp["result"]["result_url"]
    m = RESULT_URL_RE.match(url)
    assert m and m["base"] == server.base_url, url
    r = fetch_result(url, client.api_key)
    assert r.status_code == 200, r.text
    out = cloudpickle.loads(r.content)       # a lambda inside: needs cloudpickle importable
    double = out.pop("double")
    assert out == {"set": {1, 2, 3}, "tuple": (7, b"bytes"), "model": 42}, out
    assert double(21) == 42
    # Someone else's key does not see it.
    r = fetch_result(url, other.api_key)
    assert r.status_code == 404, (r.status_code, r.text)
    # A JSON-able output is pickled too, under a new URL.
    resp2 = predict(client, ep["id"], {"op": "echo", "value": 5}, return_pickled=True)
    url2 = resp2["result"]["result_url"]
    assert url2 != url and RESULT_URL_RE.match(url2), resp2
    out2 = cloudpickle.loads(fetch_result(url2, client.api_key).content)
    assert out2["value"] == 5 and out2["model"] == 10, out2


# ---- HTTP errors -----------------------------------------------------------------

def test_async_endpoint_and_wrong_owner(server, make_client):
    """400 for an async endpoint; 404 for someone else's endpoint or an
    unknown id (spec 2.5)."""
    client = make_client(server)
    other = make_client(server, key=new_key("other"))
    ep = deploy_probe(client, "sync-ep")
    aep = create_endpoint(client, "async-ep", "probe", min_workers=0, endpoint_type="async")
    body = {"args": {"op": "echo", "value": 1}, "return_pickled": False}
    r = sync_request(server.base_url, client.api_key, aep["id"], body)
    assert (r.status_code, r.json()) == (400, {"detail": "Unsupported inference type: Endpoint "
                                                         f"{aep['id']} does not serve sync "
                                                         "tasks."}), r.text
    for key, eid in ((other.api_key, ep["id"]), (client.api_key, "end_" + "0" * 20)):
        r = sync_request(server.base_url, key, eid, body)
        assert (r.status_code, r.json()) == (
            404, {"detail": "The specified endpoint could not be found."}), r.text
    # The owner still gets answers.
    assert success_value(predict(client, ep["id"], body["args"]))["value"] == 1
