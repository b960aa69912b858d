"""A replay of what the official `scale-launch` 1.0.0 client sends (spec
sections 0, 2.7, 6.4 and 11), without importing it.

Two stacks, as in the real client:
- GeneratedApi: the generated OpenAPI client (urllib3) for every /v1 and /v2
  route: URL = endpoint + "/v1/...", compact UTF-8 JSON (ensure_ascii=False),
  Content-Type/Accept application/json, User-Agent OpenAPI-Generator/1.1.0/python,
  no body and no Content-Length on GET and DELETE, query values quoted with
  urllib.parse.quote (safe "/"), keep-alive connections.
- LegacyConnection: python-requests for model_bundle_upload,
  batch_task_input_upload and endpoints/creation_logs/{name}: URL =
  f"{endpoint}/{route}", always the JSON body {} (GET too).
Both send HTTP Basic with username = API key and an empty password.

LaunchReplay strings these together the way LaunchClient's methods do.
"""
from __future__ import annotations

import base64
import json
import os
import uuid
from pathlib import Path
from typing import Any, Optional
from urllib.parse import quote

import requests

# The generated client sets no timeout; a test must never hang, so we do.
HTTP_TIMEOUT_S = 30
USER_AGENT = "OpenAPI-Generator/1.1.0/python"


class ApiError(Exception):
    """A non-2xx answer; the real client raises on those too."""

    def __init__(self, resp: requests.Response):
        self.response = resp
        self.status = resp.status_code
        self.text = resp.text
        super().__init__(f"{resp.request.method} {resp.request.url} -> {resp.status_code} "
                         f"{resp.text[:500]}")

    def json(self) -> Any:
        return json.loads(self.text)


def basic_auth(api_key: str, password: str = "") -> str:
    """What both stacks send: urllib3's make_headers and requests' HTTPBasicAuth
    encode "user:password" as latin-1 before base64."""
    raw = f"{api_key}:{password}".encode("latin-1")
    return "Basic " + base64.b64encode(raw).decode("ascii")


def compact_json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def query_string(query: Optional[dict]) -> str:
    if not query:
        return ""
    return "?" + "&".join(f"{quote(str(k), safe='/')}={quote(str(v), safe='/')}"
                          for k, v in query.items())


def check(resp: requests.Response) -> requests.Response:
    if not 200 <= resp.status_code < 300:
        raise ApiError(resp)
    return resp


class GeneratedApi:
    """The generated OpenAPI client's transport."""

    def __init__(self, endpoint: str, api_key: str):
        self.host = endpoint            # exactly as the user gave it
        self.api_key = api_key
        self.session = requests.Session()
        self.session.headers.clear()    # urllib3 adds no Accept-Encoding/Connection of its own

    def request(self, method: str, path: str, body: Any = None, query: Optional[dict] = None,
                headers: Optional[dict] = None) -> requests.Response:
        url = self.host + path + query_string(query)
        h = {"Accept": "application/json", "Content-Type": "application/json",
             "User-Agent": USER_AGENT, "Authorization": basic_auth(self.api_key)}
        if headers:
            h.update(headers)
        req = requests.Request(method, url, data=None if body is None else compact_json(body),
                               headers=h)
        prepared = self.session.prepare_request(req)
        if body is None:
            prepared.headers.pop("Content-Length", None)
        return self.session.send(prepared, timeout=HTTP_TIMEOUT_S)

    def call(self, method: str, path: str, body: Any = None,
             query: Optional[dict] = None) -> Any:
        """request() for a 2xx answer, parsed with json.loads as the client does."""
        return json.loads(check(self.request(method, path, body, query)).content)

    def close(self) -> None:
        self.session.close()


class LegacyConnection:
    """The legacy python-requests Connection. (The real one also retries on
    503/504/520/524 after 1, 3 and 9 s and waits up to 120 s; the tests want a
    refusal to show at once, so neither is replayed.)"""

    def __init__(self, endpoint: str, api_key: str):
        self.endpoint = endpoint
        self.api_key = api_key

    def request(self, method: str, route: str) -> requests.Response:
        return requests.request(method, f"{self.endpoint}/{route}", json={},
                                headers={"Content-Type": "application/json"},
                                auth=(self.api_key, ""), timeout=HTTP_TIMEOUT_S)

    def post(self, route: str) -> Any:
        return json.loads(check(self.request("POST", route)).content)

    def get(self, route: str) -> Any:
        return json.loads(check(self.request("GET", route)).content)


def put_signed_url(signed_url: str, data: bytes) -> requests.Response:
    """The client's PUT of an artifact: no auth, no Content-Type, status unchecked."""
    return requests.put(signed_url, data=data, timeout=HTTP_TIMEOUT_S)


class LaunchReplay:
    """LaunchClient(api_key, endpoint, self_hosted), request for request.

    With self_hosted=True the test plays the user's bundle_location_fn and
    upload_bundle_fn: it writes each artifact below upload_dir itself and
    hands the server a file:// location.
    """

    def __init__(self, endpoint: str, api_key: str, self_hosted: bool = False,
                 upload_dir: Optional[Path] = None):
        self.endpoint = endpoint
        self.api_key = api_key
        self.self_hosted = self_hosted
        self.upload_dir = Path(upload_dir) if upload_dir else None
        if self_hosted:
            assert self.upload_dir is not None, "self_hosted needs an upload_dir"
            self.upload_dir.mkdir(parents=True, exist_ok=True)
        self.api = GeneratedApi(endpoint, api_key)
        self.connection = LegacyConnection(endpoint, api_key)
        self.put_statuses: list[int] = []   # what the signed-URL PUTs answered (unchecked)

    def close(self) -> None:
        self.api.close()

    # ---- uploads (spec 2.7) ------------------------------------------------

    def upload(self, data: bytes, route: str = "model_bundle_upload") -> str:
        """Uploads one artifact; returns the location string the client uses."""
        if self.self_hosted:
            path = self.upload_dir / f"{uuid.uuid4().hex}"   # bundle_location_fn()
            path.write_bytes(data)                            # upload_bundle_fn()
            return f"file://{path}"
        resp = self.connection.post(route)
        for k in ("signedUrl", "bucket", "key"):
            assert isinstance(resp.get(k), str), f"{route} answer lacks {k}: {resp}"
        self.put_statuses.append(put_signed_url(resp["signedUrl"], data).status_code)
        return f"s3://{resp['bucket']}/{resp['key']}"

    # ---- bundles -------------------------------------------------------------

    def create_model_bundle(self, model_bundle_name: str, pickled: bytes, metadata: dict,
                            env_params: dict, requirements: list,
                            schema: Optional[dict] = None,
                            app_config: Optional[dict] = None) -> dict:
        """v1 create_model_bundle (spec 11.A steps 1-5). Returns the request body;
        the real client ignores the response."""
        location = self.upload(pickled)
        schema_location = self.upload(json.dumps(schema).encode()) if schema else None
        body = {"requirements": requirements, "packaging_type": "cloudpickle",
                "name": model_bundle_name, "location": location, "env_params": env_params,
                "metadata": metadata}
        if app_config is not None:
            body["app_config"] = app_config
        if schema_location is not None:
            body["schema_location"] = schema_location
        self.api.call("POST", "/v1/model-bundles", body)
        return body

    def create_model_bundle_from_callable_v2(self, model_bundle_name: str, pickled: bytes,
                                             load_predict_fn_src: str, load_model_fn_src: str,
                                             schema: dict, requirements: list,
                                             pytorch_image_tag: str,
                                             app_config: Optional[dict] = None) -> str:
        """v2 create (spec 11.A alternative); the response is parsed."""
        location = self.upload(pickled)
        schema_location = self.upload(json.dumps(schema).encode())
        flavor = {"flavor": "cloudpickle_artifact", "requirements": requirements,
                  "framework": {"pytorch_image_tag": pytorch_image_tag,
                                "framework_type": "pytorch"},
                  "load_model_fn": load_model_fn_src, "location": location,
                  "load_predict_fn": load_predict_fn_src}
        if app_config is not None:
            flavor["app_config"] = app_config
        resp = self.api.call("POST", "/v2/model-bundles",
                             {"flavor": flavor, "name": model_bundle_name,
                              "schema_location": schema_location})
        assert isinstance(resp.get("model_bundle_id"), str), resp
        return resp["model_bundle_id"]

    def get_model_bundle(self, name: str) -> dict:
        return self.api.call("GET", "/v1/model-bundles/latest", query={"model_name": name})

    def list_model_bundles(self) -> list:
        return self.api.call("GET", "/v1/model-bundles")["model_bundles"]

    def clone_model_bundle_with_changes(self, bundle_id: str, app_config: Optional[dict]) -> dict:
        body = {"original_model_bundle_id": bundle_id}
        if app_config is not None:
            body["new_app_config"] = app_config
        return self.api.call("POST", "/v1/model-bundles/clone-with-changes", body)

    def get_model_bundle_v2(self, bundle_id: str) -> dict:
        return self.api.call("GET", f"/v2/model-bundles/{quote(bundle_id, safe='/')}")

    def get_latest_model_bundle_v2(self, name: str) -> dict:
        return self.api.call("GET", "/v2/model-bundles/latest", query={"model_name": name})

    def list_model_bundles_v2(self) -> list:
        return self.api.call("GET", "/v2/model-bundles")["model_bundles"]

    def clone_model_bundle_with_changes_v2(self, bundle_id: str,
                                           new_app_config: Optional[dict]) -> str:
        body = {"original_model_bundle_id": bundle_id}
        if new_app_config is not None:
            body["new_app_config"] = new_app_config
        resp = self.api.call("POST", "/v2/model-bundles/clone-with-changes", body)
        assert isinstance(resp.get("model_bundle_id"), str), resp
        return resp["model_bundle_id"]

    # ---- endpoints (spec 6.4, 11.B-C) ---------------------------------------

    def _endpoints_named(self, name: str) -> list:
        return self.api.call("GET", "/v1/model-endpoints", query={"name": name})["model_endpoints"]

    def get_model_endpoint(self, name: str) -> Optional[dict]:
        eps = self._endpoints_named(name)
        return eps[0] if eps else None

    def status(self, name: str) -> str:
        eps = self._endpoints_named(name)
        if not eps:
            raise ValueError(f"endpoint {name} not found")
        return eps[0]["status"]

    def list_model_endpoints(self) -> list:
        return self.api.call("GET", "/v1/model-endpoints")["model_endpoints"]

    def create_model_endpoint(self, endpoint_name: str, model_bundle: str, cpus: Any = 3,
                              memory: Any = "8Gi", storage: Any = None, gpus: int = 0,
                              min_workers: int = 1, max_workers: int = 1, per_worker: int = 10,
                              gpu_type: Optional[str] = None, endpoint_type: str = "sync",
                              high_priority: bool = False, labels: Optional[dict] = None,
                              post_inference_hooks: Optional[list] = None,
                              default_callback_url: Optional[str] = None,
                              update_if_exists: bool = False) -> dict:
        """Returns {"endpoint_creation_task_id": ...} of the POST or PUT."""
        existing = self.get_model_endpoint(endpoint_name)                       # step 6
        if existing is not None:
            if not update_if_exists:
                raise ValueError(f"Endpoint {endpoint_name} already exists")
            return self.edit_model_endpoint(endpoint_name, model_bundle, cpus=cpus,
                                            memory=memory, storage=storage, gpus=gpus,
                                            min_workers=min_workers, max_workers=max_workers,
                                            per_worker=per_worker, gpu_type=gpu_type,
                                            high_priority=high_priority,
                                            default_callback_url=default_callback_url)
        bundle_id = self.get_model_bundle(model_bundle)["id"]                   # step 7
        body = {"endpoint_type": endpoint_type, "metadata": {}, "memory": memory, "cpus": cpus,
                "max_workers": max_workers, "model_bundle_id": bundle_id,
                "min_workers": min_workers, "gpus": gpus, "name": endpoint_name,
                "per_worker": per_worker, "labels": labels or {},
                "high_priority": high_priority}
        for k, v in (("storage", storage), ("gpu_type", gpu_type),
                     ("post_inference_hooks", post_inference_hooks),
                     ("default_callback_url", default_callback_url)):
            if v is not None:
                body[k] = v
        return self.api.call("POST", "/v1/model-endpoints", body)               # step 8

    def edit_model_endpoint(self, endpoint_name: str, model_bundle: Optional[str] = None,
                            **fields: Any) -> dict:
        body = {k: v for k, v in fields.items() if v is not None}
        if model_bundle is not None:
            body["model_bundle_id"] = self.get_model_bundle(model_bundle)["id"]
        endpoint = self.get_model_endpoint(endpoint_name)
        if endpoint is None:
            raise ValueError(f"endpoint {endpoint_name} not found")
        return self.api.call("PUT", f"/v1/model-endpoints/{endpoint['id']}", body)

    def delete_model_endpoint(self, name: str) -> bool:
        endpoint = self.get_model_endpoint(name)
        if endpoint is None:
            raise ValueError(f"endpoint {name} not found")
        return self.api.call("DELETE", f"/v1/model-endpoints/{endpoint['id']}")["deleted"]

    def read_endpoint_creation_logs(self, name: str) -> str:
        return self.connection.get(f"endpoints/creation_logs/{name}")["content"]


def new_key(prefix: str = "key") -> str:
    """A fresh API key (each is its own owner in open mode)."""
    return f"{prefix}-{os.urandom(8).hex()}"
