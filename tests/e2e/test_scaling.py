"""Workers and autoscaling (issue 3): per_worker is a hard limit on
concurrent predictions in one worker; desired workers =
ceil((in flight + queued) / per_worker) within [min_workers, max_workers];
idle workers above that stop after --scale-down-idle-s; a sync endpoint with
min_workers 0 starts a worker on its first request; a full queue answers 429
and a request past --sync-timeout-s answers 408 (spec 2.4 deployment_state,
2.5 errors)."""
from __future__ import annotations

import time

from bundles_rt import (PROBE_EXPR, PROBE_SRC, Background, children, create_endpoint,
                        create_v1_bundle, pickle_bundle, predict, success_value, sync_request,
                        wait_endpoint, wait_file, workers)


def deploy_probe(client, name="probe-ep", **kw):
    create_v1_bundle(client, "probe", pickle_bundle(PROBE_SRC, PROBE_EXPR))
    return create_endpoint(client, name, "probe", **kw)


def echo(client, eid, value=None, sleep_s=0.0, marker=None):
    args = {"op": "echo", "value": value, "sleep_s": sleep_s}
    if marker is not None:
        args["marker"] = str(marker)
    return predict(client, eid, args)


def worker_pids(server) -> set:
    """The server's children that are not a zygote: each endpoint here has
    one zygote, the oldest child."""
    kids = children(server.proc.pid)
    assert all("zygote" in k["cmdline"] for k in kids), kids
    return {k["pid"] for k in kids[1:]}


def test_per_worker_never_exceeded(start_server, make_client):
    """12 concurrent requests on per_worker=2, max_workers=2: no worker ever
    runs more than 2 at once, both workers serve, each runs 2 at once."""
    server = start_server("--scale-down-idle-s", "1")
    client = make_client(server)
    ep = deploy_probe(client, min_workers=1, max_workers=2, per_worker=2)
    jobs = [Background(lambda i=i: echo(client, ep["id"], i, sleep_s=0.3)) for i in range(12)]
    outs = [success_value(j.result()) for j in jobs]
    assert sorted(o["value"] for o in outs) == list(range(12))
    pids = {o["pid"] for o in outs}
    assert len(pids) == 2, outs
    assert max(o["max"] for o in outs) == 2, outs   # never more, and threads were used
    assert pids <= {k["pid"] for k in children(server.proc.pid)}
    per_pid = {p: max(o["count"] for o in outs if o["pid"] == p) for p in pids}
    assert sum(per_pid.values()) == 12, per_pid


def test_scale_up_under_load_then_down_when_idle(start_server, make_client):
    server = start_server("--scale-down-idle-s", "1")
    client = make_client(server)
    ep = deploy_probe(client, min_workers=1, max_workers=3, per_worker=1)
    assert workers(ep) == (1, 0), ep
    assert ep["deployment_state"]["min_workers"] == 1
    assert ep["deployment_state"]["max_workers"] == 3
    assert len(worker_pids(server)) == 1
    jobs = [Background(lambda i=i: echo(client, ep["id"], i, sleep_s=1.2)) for i in range(6)]
    # 6 requests, 1 each: the endpoint grows to max_workers; 3 wait meanwhile.
    wait_endpoint(client, "probe-ep",
                  lambda e: workers(e)[0] == 3 and e["num_queued_items"] == 3, timeout=3,
                  what="3 available workers and 3 queued requests")
    assert len(worker_pids(server)) == 3
    outs = [success_value(j.result()) for j in jobs]
    assert len({o["pid"] for o in outs}) == 3 and all(o["max"] == 1 for o in outs), outs
    # Idle: back to min_workers after about --scale-down-idle-s.
    t0 = time.monotonic()
    idle = wait_endpoint(client, "probe-ep", lambda e: workers(e) == (1, 0), timeout=5,
                         what="back to 1 worker")
    assert idle["num_queued_items"] == 0, idle
    assert time.monotonic() - t0 >= 0.5, "workers stopped before they were idle for 1 s"
    deadline = time.monotonic() + 3
    while len(worker_pids(server)) != 1:
        assert time.monotonic() < deadline, children(server.proc.pid)
        time.sleep(0.05)
    assert success_value(echo(client, ep["id"], 99))["value"] == 99


def test_scale_from_zero(start_server, make_client):
    """min_workers 0 on a sync endpoint: READY with no worker; the first
    request starts one and succeeds; idle, it goes back to 0."""
    server = start_server("--scale-down-idle-s", "1")
    client = make_client(server)
    ep = deploy_probe(client, min_workers=0, max_workers=2, per_worker=1)
    assert ep["status"] == "READY" and workers(ep)[0] == 0, ep
    assert worker_pids(server) == set()
    first = success_value(echo(client, ep["id"], 1))
    assert first["value"] == 1 and first["pid"] in worker_pids(server)
    assert workers(client.get_model_endpoint("probe-ep"))[0] == 1
    wait_endpoint(client, "probe-ep", lambda e: workers(e) == (0, 0), timeout=5,
                  what="back to 0 workers")
    deadline = time.monotonic() + 3
    while worker_pids(server):
        assert time.monotonic() < deadline, children(server.proc.pid)
        time.sleep(0.05)
    again = success_value(echo(client, ep["id"], 2))
    assert again["value"] == 2 and again["pid"] != first["pid"]


def test_full_queue_answers_429(start_server, make_client, tmp_path):
    server = start_server("--queue-max", "1")
    client = make_client(server)
    ep = deploy_probe(client, min_workers=1, max_workers=1, per_worker=1)
    marker = tmp_path / "running"
    running = Background(lambda: echo(client, ep["id"], "first", sleep_s=1.0, marker=marker))
    wait_file(marker)
    queued = Background(lambda: echo(client, ep["id"], "second"))
    wait_endpoint(client, "probe-ep", lambda e: e["num_queued_items"] == 1, timeout=3,
                  what="one queued request")
    r = sync_request(server.base_url, client.api_key, ep["id"],
                     {"args": {"op": "echo", "value": "third"}, "return_pickled": False})
    assert r.status_code == 429, (r.status_code, r.text)
    assert isinstance(r.json().get("detail"), str), r.text
    assert success_value(running.result())["value"] == "first"
    assert success_value(queued.result())["value"] == "second"
    assert success_value(echo(client, ep["id"], "fourth"))["value"] == "fourth"


def test_timeout_answers_408(start_server, make_client, tmp_path):
    """Running past --sync-timeout-s, or waiting past it in the queue: 408."""
    server = start_server("--sync-timeout-s", "1")
    client = make_client(server)
    ep = deploy_probe(client, min_workers=1, max_workers=1, per_worker=1)
    marker = tmp_path / "running"
    body = {"args": {"op": "echo", "value": "slow", "sleep_s": 2.0, "marker": str(marker)},
            "return_pickled": False}
    t0 = time.monotonic()
    slow = Background(lambda: sync_request(server.base_url, client.api_key, ep["id"], body))
    wait_file(marker)
    waiting = sync_request(server.base_url, client.api_key, ep["id"],
                           {"args": {"op": "echo", "value": "queued"}, "return_pickled": False})
    r = slow.result()
    assert (r.status_code, r.json()) == (408, {"detail": "Request timed out."}), r.text
    assert (waiting.status_code, waiting.json()) == (408, {"detail": "Request timed out."}), \
        waiting.text
    assert time.monotonic() - t0 < 1.9, "the 408 came only after the prediction finished"
    # The endpoint still serves once the slow prediction is over.
    assert success_value(echo(client, ep["id"], "after"))["value"] == "after"
