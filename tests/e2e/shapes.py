"""Checks of response shapes (spec 2.2, 2.3, 2.4) and of polling helpers."""
from __future__ import annotations

import datetime as dt
import re
import time
from typing import Callable

BUNDLE_ID_RE = re.compile(r"^bun_[0-9a-v]{20}$")
ENDPOINT_ID_RE = re.compile(r"^end_[0-9a-v]{20}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

ENDPOINT_STATUSES = {"READY", "UPDATE_PENDING", "UPDATE_IN_PROGRESS", "UPDATE_FAILED",
                     "DELETE_IN_PROGRESS"}
FLAVORS = {"cloudpickle_artifact", "zip_artifact", "runnable_image",
           "triton_enhanced_runnable_image"}

V1_BUNDLE_KEYS = {"id", "name", "location", "requirements", "env_params", "packaging_type",
                  "metadata", "app_config", "created_at", "model_artifact_ids",
                  "schema_location"}
ENV_PARAMS_KEYS = {"framework_type", "pytorch_image_tag", "tensorflow_version", "ecr_repo",
                   "image_tag"}
V2_BUNDLE_KEYS = {"id", "name", "metadata", "created_at", "model_artifact_ids",
                  "schema_location", "flavor"}
ENDPOINT_KEYS = {"id", "name", "endpoint_type", "destination", "deployment_name", "metadata",
                 "bundle_name", "status", "post_inference_hooks", "default_callback_url",
                 "default_callback_auth", "labels", "aws_role", "results_s3_bucket",
                 "created_by", "created_at", "last_updated_at", "deployment_state",
                 "resource_state", "num_queued_items", "public_inference"}


def parse_time(text: str) -> dt.datetime:
    assert isinstance(text, str), text
    t = dt.datetime.fromisoformat(text)
    assert t.tzinfo is not None, f"datetime without a time zone: {text}"
    return t


def _str_or_none(v) -> bool:
    return v is None or isinstance(v, str)


def check_bundle_v1(b: dict) -> dict:
    """ModelBundleV1Response: every key present, optional ones may be null."""
    assert isinstance(b, dict), b
    missing = V1_BUNDLE_KEYS - b.keys()
    assert not missing, f"v1 bundle lacks {sorted(missing)}: {b}"
    assert BUNDLE_ID_RE.match(b["id"]), b["id"]
    assert isinstance(b["name"], str)
    assert isinstance(b["location"], str)
    assert isinstance(b["requirements"], list) and all(isinstance(r, str)
                                                      for r in b["requirements"])
    env = b["env_params"]
    assert isinstance(env, dict), env
    assert ENV_PARAMS_KEYS <= env.keys(), f"env_params lacks keys: {env}"
    assert env["framework_type"] in ("pytorch", "tensorflow", "custom_base_image"), env
    for k in ENV_PARAMS_KEYS - {"framework_type"}:
        assert _str_or_none(env[k]), env
    assert b["packaging_type"] in ("cloudpickle", "zip", "lira"), b["packaging_type"]
    assert isinstance(b["metadata"], dict)
    assert b["app_config"] is None or isinstance(b["app_config"], dict)
    parse_time(b["created_at"])
    assert isinstance(b["model_artifact_ids"], list)
    assert _str_or_none(b["schema_location"])
    return b


def check_framework(fw: dict) -> None:
    t = fw.get("framework_type")
    if t == "pytorch":
        assert isinstance(fw.get("pytorch_image_tag"), str), fw
    elif t == "tensorflow":
        assert isinstance(fw.get("tensorflow_version"), str), fw
    elif t == "custom_base_image":
        assert isinstance(fw.get("image_repository"), str), fw
        assert isinstance(fw.get("image_tag"), str), fw
    else:
        raise AssertionError(f"bad framework {fw}")


def check_flavor(f: dict) -> None:
    """The client parses flavors strictly, discriminated by "flavor"."""
    assert isinstance(f, dict), f
    assert f.get("flavor") in FLAVORS, f
    if f["flavor"] in ("cloudpickle_artifact", "zip_artifact"):
        assert isinstance(f.get("requirements"), list), f
        check_framework(f.get("framework"))
        assert isinstance(f.get("location"), str), f
        keys = (("load_predict_fn", "load_model_fn") if f["flavor"] == "cloudpickle_artifact"
                else ("load_predict_fn_module_path", "load_model_fn_module_path"))
        for k in keys:
            assert isinstance(f.get(k), str), (k, f)
        assert f.get("app_config") is None or isinstance(f["app_config"], dict), f
    else:
        for k in ("repository", "tag"):
            assert isinstance(f.get(k), str), (k, f)
        assert isinstance(f.get("command"), list), f
        assert f.get("protocol") == "http", f
        if f["flavor"] == "triton_enhanced_runnable_image":
            assert isinstance(f.get("triton_model_repository"), str), f
            assert isinstance(f.get("triton_num_cpu"), (int, float)), f
            assert isinstance(f.get("triton_commit_tag"), str), f


def check_bundle_v2(b: dict) -> dict:
    assert isinstance(b, dict), b
    missing = V2_BUNDLE_KEYS - b.keys()
    assert not missing, f"v2 bundle lacks {sorted(missing)}: {b}"
    assert BUNDLE_ID_RE.match(b["id"]), b["id"]
    assert isinstance(b["name"], str)
    assert isinstance(b["metadata"], dict)
    parse_time(b["created_at"])
    assert isinstance(b["model_artifact_ids"], list)
    assert _str_or_none(b["schema_location"])
    check_flavor(b["flavor"])
    return b


def check_endpoint(e: dict) -> dict:
    """GetModelEndpointV1Response (spec 2.4)."""
    assert isinstance(e, dict), e
    missing = ENDPOINT_KEYS - e.keys()
    assert not missing, f"endpoint lacks {sorted(missing)}: {e}"
    assert ENDPOINT_ID_RE.match(e["id"]), e["id"]
    assert isinstance(e["name"], str)
    assert e["endpoint_type"] in ("async", "sync"), e["endpoint_type"]
    assert isinstance(e["destination"], str)
    assert _str_or_none(e["deployment_name"])
    assert e["metadata"] is None or isinstance(e["metadata"], dict)
    assert isinstance(e["bundle_name"], str)
    assert e["status"] in ENDPOINT_STATUSES, e["status"]
    assert e["post_inference_hooks"] is None or isinstance(e["post_inference_hooks"], list)
    assert _str_or_none(e["default_callback_url"])
    assert e["labels"] is None or isinstance(e["labels"], dict)
    assert _str_or_none(e["aws_role"]) and _str_or_none(e["results_s3_bucket"])
    assert isinstance(e["created_by"], str)
    created, updated = parse_time(e["created_at"]), parse_time(e["last_updated_at"])
    assert updated >= created, e
    ds = e["deployment_state"]
    if ds is not None:
        for k in ("min_workers", "max_workers", "per_worker"):
            assert type(ds.get(k)) is int, (k, ds)
        for k in ("available_workers", "unavailable_workers"):
            assert ds.get(k) is None or type(ds[k]) is int, (k, ds)
    rs = e["resource_state"]
    if rs is not None:
        # cpus, memory and storage are strings (CLI text-prompt defaults); gpus an int.
        assert isinstance(rs.get("cpus"), str), rs
        assert isinstance(rs.get("memory"), str), rs
        assert rs.get("storage") is None or isinstance(rs["storage"], str), rs
        assert type(rs.get("gpus")) is int, rs
        assert _str_or_none(rs.get("gpu_type")), rs
    assert e["num_queued_items"] is None or type(e["num_queued_items"]) is int
    assert e["public_inference"] is None or isinstance(e["public_inference"], bool)
    return e


def check_validation_error(body: dict, loc_prefix: tuple = ()) -> list:
    """A 422 body: {"detail": [{"loc": [...], "msg": str, "type": str}, ...]}.
    With loc_prefix, some error's loc must start with it."""
    assert isinstance(body, dict) and isinstance(body.get("detail"), list), body
    assert body["detail"], body
    for err in body["detail"]:
        assert isinstance(err.get("loc"), list) and err["loc"], err
        assert all(isinstance(p, (str, int)) for p in err["loc"]), err
        assert err["loc"][0] in ("body", "query", "path"), err
        assert isinstance(err.get("msg"), str) and isinstance(err.get("type"), str), err
    if loc_prefix:
        locs = [tuple(err["loc"][:len(loc_prefix)]) for err in body["detail"]]
        assert tuple(loc_prefix) in locs, f"no error at {loc_prefix}: {body}"
    return body["detail"]


def poll(fn: Callable[[], object], until: Callable[[object], bool], timeout: float = 10.0,
         interval: float = 0.05, what: str = "condition"):
    """Calls fn until until(value) holds; returns (value, every value seen)."""
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        value = fn()
        seen.append(value)
        if until(value):
            return value, seen
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not reached within {timeout}s; last values: "
                                 f"{seen[-5:]}")
        time.sleep(interval)


ALLOWED_BUILD_ORDER = ["UPDATE_PENDING", "UPDATE_IN_PROGRESS", "READY"]


def assert_status_progression(statuses: list, final: str = "READY") -> None:
    """Statuses seen while polling may only move forward through
    UPDATE_PENDING -> UPDATE_IN_PROGRESS -> final."""
    order = ALLOWED_BUILD_ORDER[:-1] + [final]
    ranks = []
    for s in statuses:
        assert s in order, f"unexpected status {s} in {statuses}"
        ranks.append(order.index(s))
    assert ranks == sorted(ranks), f"status went backwards: {statuses}"
    assert statuses[-1] == final, statuses
