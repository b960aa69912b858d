"""Races a real client mix can produce: parallel creates of one name, parallel
PUTs to one signed URL, a delete or an update right behind a create."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from artifacts import PYTORCH_ENV, write_real_artifact
from launch_client import LaunchReplay, put_signed_url
from shapes import assert_status_progression, poll

TIMEOUT = 10
PARALLEL = 8


def make_bundle(client, tmp_path, name="b"):
    art = write_real_artifact(tmp_path / f"{name}.pkl")
    return client.api.call("POST", "/v1/model-bundles", {
        "requirements": [], "packaging_type": "cloudpickle", "name": name,
        "location": str(art), "env_params": PYTORCH_ENV, "metadata": {}})["model_bundle_id"]


def endpoint_body(name, bid, **extra):
    return {"endpoint_type": "async", "metadata": {}, "memory": "8Gi", "cpus": 1,
            "max_workers": 1, "model_bundle_id": bid, "min_workers": 0, "gpus": 0,
            "name": name, "per_worker": 10, "labels": {}, "high_priority": False, **extra}


def run_together(fn, n=PARALLEL):
    barrier = threading.Barrier(n)

    def go(i):
        barrier.wait(timeout=TIMEOUT)
        return fn(i)
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(go, range(n)))


def test_parallel_creates_of_one_name(server, client, tmp_path):
    bid = make_bundle(client, tmp_path)

    def create(i):
        c = LaunchReplay(server.base_url, client.api_key)
        try:
            return c.api.request("POST", "/v1/model-endpoints",
                                 endpoint_body("same", bid, cpus=i + 1))
        finally:
            c.close()
    results = run_together(create)
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [400] * (PARALLEL - 1), [(r.status_code, r.text) for r in results]
    for r in results:
        if r.status_code == 400:
            assert r.json() == {"detail": "The specified model endpoint already exists."}
    eps = client.list_model_endpoints()
    assert len(eps) == 1
    winner = [i for i, r in enumerate(results) if r.status_code == 200][0]
    assert eps[0]["resource_state"]["cpus"] == str(winner + 1)


def test_parallel_puts_to_one_signed_url(client):
    resp = client.connection.post("model_bundle_upload")
    results = run_together(lambda i: put_signed_url(resp["signedUrl"], bytes([i]) * 50_000))
    codes = sorted(r.status_code for r in results)
    assert codes[0] == 200 and codes[1:] == [403] * (PARALLEL - 1), codes
    loc = f"s3://{resp['bucket']}/{resp['key']}"
    client.api.call("POST", "/v1/model-bundles", {
        "requirements": [], "packaging_type": "cloudpickle", "name": "b", "location": loc,
        "env_params": PYTORCH_ENV, "metadata": {}})


def test_parallel_clients_of_many_owners(server, tmp_path):
    """Each owner sees exactly its own objects under parallel load."""
    art = write_real_artifact(tmp_path / "a.pkl")

    def owner(i):
        c = LaunchReplay(server.base_url, f"owner-{i}")
        try:
            for j in range(3):
                c.api.call("POST", "/v1/model-bundles", {
                    "requirements": [], "packaging_type": "cloudpickle", "name": f"b{i}",
                    "location": str(art), "env_params": PYTORCH_ENV,
                    "metadata": {"j": str(j)}})
            bid = c.get_model_bundle(f"b{i}")["id"]
            c.api.call("POST", "/v1/model-endpoints", endpoint_body(f"e{i}", bid))
            return ([b["name"] for b in c.list_model_bundles()],
                    [e["name"] for e in c.list_model_endpoints()],
                    c.get_model_bundle(f"b{i}")["metadata"])
        finally:
            c.close()
    for i, (bundles, endpoints, meta) in enumerate(run_together(owner)):
        assert bundles == [f"b{i}"] * 3
        assert endpoints == [f"e{i}"]
        assert meta == {"j": "2"}


def test_delete_right_after_create_stays_deleted(client, tmp_path):
    bid = make_bundle(client, tmp_path)
    for i in range(5):
        client.api.call("POST", "/v1/model-endpoints", endpoint_body(f"short-{i}", bid))
        eid = client.get_model_endpoint(f"short-{i}")["id"]
        assert client.api.call("DELETE", f"/v1/model-endpoints/{eid}") == {"deleted": True}
    poll(client.list_model_endpoints, lambda eps: eps == [], timeout=TIMEOUT,
         what="all deleted endpoints gone")
    # Late build events of the deleted generations must not bring anything back.
    for _ in range(10):
        assert client.list_model_endpoints() == []


def test_update_right_after_create_wins(client, tmp_path):
    bid = make_bundle(client, tmp_path)
    client.api.call("POST", "/v1/model-endpoints", endpoint_body("quick", bid))
    eid = client.get_model_endpoint("quick")["id"]
    for cpus in (2, 3, 4):
        client.api.call("PUT", f"/v1/model-endpoints/{eid}", {"cpus": cpus})
    status, seen = poll(lambda: client.status("quick"), lambda s: s == "READY",
                        timeout=TIMEOUT, what="READY after updates")
    assert_status_progression(seen)
    assert client.get_model_endpoint("quick")["resource_state"]["cpus"] == "4"


def test_many_requests_in_parallel_all_answered(server):
    def get(i):
        return requests.get(server.base_url + ("/healthz" if i % 2 else "/v1/model-bundles"),
                            auth=(f"k{i % 3}", ""), timeout=TIMEOUT).status_code
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(get, range(200)))
    assert codes == [200] * 200
    server.wait_for_log(lambda _: len(server.http_log()) >= 200, what="200 request lines")
