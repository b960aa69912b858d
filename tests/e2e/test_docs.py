"""GET /v1/model-endpoints-schema.json (OpenAPI 3.0.2 of the caller's
endpoints) and GET /v1/model-endpoints-api (an HTML page with no external
assets)."""
from __future__ import annotations

import html.parser
import json

import pytest

from artifacts import PYTORCH_ENV, QUICKSTART_SCHEMA, write_real_artifact

NESTED_SCHEMA = {
    "RequestSchema": {"title": "Req", "type": "object",
                      "properties": {"inner": {"$ref": "#/components/schemas/Inner"},
                                     "items": {"type": "array",
                                               "items": {"$ref": "#/components/schemas/Inner"}}},
                      "required": ["inner"]},
    "ResponseSchema": {"title": "Resp", "type": "string"},
    "Inner": {"title": "Inner", "type": "object",
              "properties": {"v": {"title": "V", "type": "integer"}}},
}


def make_bundle(client, tmp_path, name, schema=None):
    art = write_real_artifact(tmp_path / f"{name}.pkl")
    body = {"requirements": [], "packaging_type": "cloudpickle", "name": name,
            "location": str(art), "env_params": PYTORCH_ENV, "metadata": {}}
    if schema is not None:
        s = tmp_path / f"{name}.schema.json"
        s.write_text(json.dumps(schema))
        body["schema_location"] = f"file://{s}"
    return client.api.call("POST", "/v1/model-bundles", body)["model_bundle_id"]


def make_endpoint(client, name, bundle_id, endpoint_type="async"):
    client.api.call("POST", "/v1/model-endpoints", {
        "endpoint_type": endpoint_type, "metadata": {}, "memory": "8Gi", "cpus": 1,
        "max_workers": 1, "model_bundle_id": bundle_id,
        "min_workers": 1 if endpoint_type == "sync" else 0, "gpus": 0, "name": name,
        "per_worker": 10, "labels": {}, "high_priority": False})
    return client.get_model_endpoint(name)["id"]


def all_refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from all_refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from all_refs(v)


def test_schema_json(server, make_client, tmp_path):
    client = make_client(server)
    quick = make_bundle(client, tmp_path, "quick", QUICKSTART_SCHEMA)
    nested = make_bundle(client, tmp_path, "nested", NESTED_SCHEMA)
    bare = make_bundle(client, tmp_path, "bare")
    a = make_endpoint(client, "quick-async", quick)
    s = make_endpoint(client, "nested-sync", nested, "sync")
    b = make_endpoint(client, "bare-async", bare)
    # Someone else's endpoint must not show up.
    other = make_client(server)
    make_endpoint(other, "other-ep", make_bundle(other, tmp_path, "other", QUICKSTART_SCHEMA))

    r = client.api.request("GET", "/v1/model-endpoints-schema.json")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    doc = r.json()
    assert doc["openapi"] == "3.0.2"
    assert doc["info"]["title"] == "Launch Endpoints API Reference"
    assert doc["info"]["version"] == "1.0.0"
    assert set(doc["paths"]) == {f"/v1/async-tasks?model_endpoint_id={a}",
                                 f"/v1/sync-tasks?model_endpoint_id={s}",
                                 f"/v1/async-tasks?model_endpoint_id={b}"}
    for item in doc["paths"].values():
        assert set(item) == {"post"}, item
    schemas = doc["components"]["schemas"]
    # The uploaded schema keys, prefixed with "<endpoint name>-".
    assert schemas["quick-async-RequestSchema"] == QUICKSTART_SCHEMA["RequestSchema"]
    assert schemas["quick-async-ResponseSchema"] == QUICKSTART_SCHEMA["ResponseSchema"]
    assert schemas["nested-sync-Inner"] == NESTED_SCHEMA["Inner"]
    props = schemas["nested-sync-RequestSchema"]["properties"]
    assert props["inner"] == {"$ref": "#/components/schemas/nested-sync-Inner"}
    assert props["items"]["items"] == {"$ref": "#/components/schemas/nested-sync-Inner"}
    for name in ("quick-async", "bare-async"):
        assert f"{name}-EndpointPredictRequest" in schemas
        assert f"{name}-GetAsyncTaskResponse" in schemas
    assert "nested-sync-EndpointPredictRequest" in schemas
    assert "nested-sync-SyncEndpointPredictResponse" in schemas
    # Without an uploaded schema: generic request and response schemas.
    assert "bare-async-RequestSchema" in schemas and "bare-async-ResponseSchema" in schemas
    assert not any(k.startswith("other-ep") for k in schemas)
    # Every $ref resolves inside the document.
    for ref in all_refs(doc):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in schemas, ref


def test_schema_json_empty(client):
    doc = client.api.call("GET", "/v1/model-endpoints-schema.json")
    assert doc["openapi"] == "3.0.2"
    assert doc["paths"] == {}


class AssetFinder(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls = []
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "action", "data", "poster", "srcset") and value:
                self.urls.append((tag, name, value))


def external(url):
    u = url.strip().lower()
    return u.startswith(("http://", "https://", "//"))


@pytest.mark.parametrize("hostile", [False, True])
def test_api_page_has_no_external_assets(server, make_client, tmp_path, hostile):
    client = make_client(server)
    bid = make_bundle(client, tmp_path, "b", QUICKSTART_SCHEMA if not hostile else {
        "RequestSchema": {"title": "</script><script src=\"https://evil.example/x.js\">",
                          "type": "object"},
        "ResponseSchema": {"title": "<img src=\"http://evil.example/y.png\">"}})
    name = "ep" if not hostile else "x</script><img src=http://evil.example/z>"
    make_endpoint(client, name, bid)
    r = client.api.request("GET", "/v1/model-endpoints-api")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/html"), r.headers
    finder = AssetFinder()
    finder.feed(r.text)
    assert "html" in finder.tags
    bad = [u for u in finder.urls if external(u[2])]
    assert not bad, bad
    assert "/v1/model-endpoints-schema.json" in r.text
    if hostile:
        assert finder.tags.count("script") <= 2, finder.tags
        assert "img" not in finder.tags, finder.tags


def test_api_page_needs_auth(server):
    import requests
    r = requests.get(server.base_url + "/v1/model-endpoints-api", timeout=10)
    assert r.status_code == 401
    r = requests.get(server.base_url + "/v1/model-endpoints-schema.json", timeout=10)
    assert r.status_code == 401
