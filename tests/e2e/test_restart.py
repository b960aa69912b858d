"""A SIGTERM in the middle: after a restart over the same data directory
everything is still there and endpoints become READY again."""
from __future__ import annotations

from artifacts import (LOAD_MODEL_FN_SRC, LOAD_PREDICT_FN_SRC, PYTORCH_ENV, QUICKSTART_REQUIREMENTS,
                       QUICKSTART_SCHEMA, quickstart_pickle, quickstart_v1_metadata,
                       write_real_artifact)
from shapes import assert_status_progression, check_endpoint, poll

TIMEOUT = 10
KEY = "restart-key-123"


def wait_ready(client, name):
    status, seen = poll(lambda: client.status(name),
                        lambda s: s in ("READY", "UPDATE_FAILED"), timeout=TIMEOUT,
                        what=f"{name} built")
    assert_status_progression(seen, "READY")


def snapshot(client):
    return {
        "v1": sorted(client.list_model_bundles(), key=lambda b: b["id"]),
        "v2": sorted(client.list_model_bundles_v2(), key=lambda b: b["id"]),
        "endpoints": sorted(({k: v for k, v in e.items()
                              if k not in ("status", "last_updated_at", "destination")}
                             for e in client.list_model_endpoints()), key=lambda e: e["id"]),
    }


def test_restart_keeps_everything(server, make_client):
    client = make_client(server, key=KEY)
    client.create_model_bundle("test-bundle", quickstart_pickle("v1-model"),
                               quickstart_v1_metadata(), PYTORCH_ENV, QUICKSTART_REQUIREMENTS,
                               schema=QUICKSTART_SCHEMA)
    v2_id = client.create_model_bundle_from_callable_v2(
        "v2-bundle", quickstart_pickle("load-model-fn"), LOAD_PREDICT_FN_SRC, LOAD_MODEL_FN_SRC,
        QUICKSTART_SCHEMA, ["numpy"], "1.7.1-cuda11.0-cudnn8-runtime")
    client.create_model_endpoint("demo-endpoint", "test-bundle", cpus=1, min_workers=0,
                                 endpoint_type="async",
                                 labels={"team": "MY_TEAM", "product": "launch"})
    client.create_model_endpoint("demo-sync", "v2-bundle")
    wait_ready(client, "demo-endpoint")
    wait_ready(client, "demo-sync")
    doomed = client.get_model_endpoint("demo-sync")["id"]
    assert client.delete_model_endpoint("demo-sync") is True
    poll(lambda: client.get_model_endpoint("demo-sync"), lambda e: e is None, timeout=TIMEOUT,
         what="deleted endpoint gone")
    before = snapshot(client)
    logs_before = client.read_endpoint_creation_logs("demo-endpoint")
    schema_before = client.api.call("GET", "/v1/model-endpoints-schema.json")

    server.restart()                         # SIGTERM (exit 0 asserted), same data dir
    client = make_client(server, key=KEY)
    wait_ready(client, "demo-endpoint")
    after = snapshot(client)
    assert after == before
    ep = check_endpoint(client.get_model_endpoint("demo-endpoint"))
    assert ep["labels"] == {"team": "MY_TEAM", "product": "launch"}
    assert client.get_model_bundle("v2-bundle")["id"] == v2_id
    assert client.read_endpoint_creation_logs("demo-endpoint").startswith(logs_before)
    assert client.api.call("GET", "/v1/model-endpoints-schema.json") == schema_before
    r = client.api.request("GET", f"/v1/model-endpoints/{doomed}")
    assert r.status_code == 404, r.text
    # The store still takes writes after the restart.
    client.create_model_endpoint("demo-sync", "v2-bundle")
    wait_ready(client, "demo-sync")


def test_restart_right_after_an_update(server, make_client, tmp_path):
    client = make_client(server, key=KEY)
    art = write_real_artifact(tmp_path / "a.pkl")
    client.api.call("POST", "/v1/model-bundles", {
        "requirements": [], "packaging_type": "cloudpickle", "name": "b",
        "location": f"file://{art}", "env_params": PYTORCH_ENV, "metadata": {}})
    client.create_model_endpoint("ep", "b", cpus=1, min_workers=0, endpoint_type="async")
    eid = client.get_model_endpoint("ep")["id"]
    client.api.call("PUT", f"/v1/model-endpoints/{eid}", {"cpus": 4, "max_workers": 2,
                                                          "labels": {"new": "label"}})
    server.restart()                         # possibly before the rebuild finished
    client = make_client(server, key=KEY)
    wait_ready(client, "ep")
    ep = client.get_model_endpoint("ep")
    assert ep["id"] == eid
    assert ep["resource_state"]["cpus"] == "4"
    assert ep["deployment_state"]["max_workers"] == 2
    assert ep["labels"] == {"new": "label"}


def test_restart_with_failed_endpoint_recovers_when_artifact_returns(server, make_client,
                                                                      tmp_path):
    client = make_client(server, key=KEY)
    art = write_real_artifact(tmp_path / "a.pkl")
    client.api.call("POST", "/v1/model-bundles", {
        "requirements": [], "packaging_type": "cloudpickle", "name": "b",
        "location": str(art), "env_params": PYTORCH_ENV, "metadata": {}})
    art.unlink()
    client.create_model_endpoint("ep", "b", cpus=1, min_workers=0, endpoint_type="async")
    status, seen = poll(lambda: client.status("ep"),
                        lambda s: s not in ("UPDATE_PENDING", "UPDATE_IN_PROGRESS"),
                        timeout=TIMEOUT, what="build finished")
    assert_status_progression(seen, "UPDATE_FAILED")
    assert str(art) in client.read_endpoint_creation_logs("ep")
    write_real_artifact(art)
    server.restart()
    client = make_client(server, key=KEY)
    wait_ready(client, "ep")
    logs = client.read_endpoint_creation_logs("ep")
    assert "server restarted: retrying the build\n" in logs, logs
    assert logs.index("retrying the build") < logs.rindex("endpoint is ready"), logs


def test_restart_twice_in_a_row_with_no_requests(server, make_client):
    server.restart()
    server.restart()
    assert make_client(server).list_model_bundles() == []
    lines = server.lines(all_runs=True)
    assert sum(1 for line in lines if line.startswith("liftoff listening on ")) == 3
    assert not any(" ERROR " in line for line in lines), server.log_text()


def test_restart_right_after_a_delete(server, make_client, tmp_path):
    client = make_client(server, key=KEY)
    art = write_real_artifact(tmp_path / "a.pkl")
    client.api.call("POST", "/v1/model-bundles", {
        "requirements": [], "packaging_type": "cloudpickle", "name": "b",
        "location": str(art), "env_params": PYTORCH_ENV, "metadata": {}})
    client.create_model_endpoint("gone", "b", cpus=1, min_workers=0, endpoint_type="async")
    client.create_model_endpoint("kept", "b", cpus=1, min_workers=0, endpoint_type="async")
    assert client.delete_model_endpoint("gone") is True
    server.restart()
    client = make_client(server, key=KEY)
    poll(client.list_model_endpoints, lambda eps: [e["name"] for e in eps] == ["kept"],
         timeout=TIMEOUT, what="only 'kept' left after restart")
    wait_ready(client, "kept")
    client.create_model_endpoint("gone", "b", cpus=1, min_workers=0, endpoint_type="async")
    wait_ready(client, "gone")
