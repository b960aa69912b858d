"""Endpoint lifecycle with live workers (issue 3, spec 2.4 PUT/DELETE, 6.3):
an update starts a new generation and drains the old one without failing a
request, unless it keeps the bundle and per_worker and does not lower
max_workers, which resizes the running workers in place; delete drains then
stops the workers; after a restart endpoints come back with their workers."""
from __future__ import annotations

import threading
import time

from bundles_rt import (PROBE_EXPR, PROBE_SRC, VERSIONED_EXPR, VERSIONED_SRC, Background, alive,
                        children, create_endpoint, create_v1_bundle, pickle_bundle, predict,
                        success_value, sync_request, wait_endpoint, wait_file, wait_gone,
                        wait_status, workers)
from liftoff_server import HTTP_LOG_RE


class Load:
    """Threads that post predictions back to back until stop(); every
    answer is kept with the time its request was sent."""

    def __init__(self, server, key, endpoint_id, threads=4, sleep_s=0.02):
        self.records: list = []          # (thread, seq, sent, status, body or text)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True,
                                          args=(t, server.base_url, key, endpoint_id, sleep_s))
                         for t in range(threads)]
        for t in self._threads:
            t.start()

    def _run(self, t, base_url, key, endpoint_id, sleep_s):
        seq = 0
        while not self._stop.is_set():
            sent = time.monotonic()
            try:
                r = sync_request(base_url, key, endpoint_id,
                                 {"args": {"i": t * 100000 + seq, "sleep_s": sleep_s},
                                  "return_pickled": False})
                rec = (t, seq, sent, r.status_code,
                       r.json() if r.status_code == 200 else r.text)
            except Exception as e:  # recorded, and fails the test
                rec = (t, seq, sent, None, repr(e))
            with self._lock:
                self.records.append(rec)
            seq += 1

    def count(self) -> int:
        with self._lock:
            return len(self.records)

    def wait_for(self, pred, timeout=10.0, what="answers"):
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if pred(list(self.records)):
                    return
            assert time.monotonic() < deadline, f"{what} not seen within {timeout}s"
            time.sleep(0.02)

    def stop(self) -> list:
        self._stop.set()
        for t in self._threads:
            t.join(30)
            assert not t.is_alive(), "a load thread hangs"
        return list(self.records)


def version_of(rec) -> int:
    """The bundle version that answered rec; asserts rec is a right SUCCESS."""
    t, seq, _, status, body = rec
    assert status == 200, rec
    assert body["status"] == "SUCCESS" and body["traceback"] is None, rec
    out = success_value(body)
    assert out["i"] == t * 100000 + seq, rec
    assert out["version"] in (1, 2), rec
    return out["version"]


def test_update_under_load_fails_no_request(server, make_client):
    client = make_client(server)
    pickled = pickle_bundle(VERSIONED_SRC, VERSIONED_EXPR)
    v1 = create_v1_bundle(client, "versioned", pickled, app_config={"version": 1})
    ep = create_endpoint(client, "live", "versioned", min_workers=1, max_workers=2,
                         per_worker=2)
    assert success_value(predict(client, ep["id"], {"i": 0}))["version"] == 1
    v2 = client.clone_model_bundle_with_changes(v1, {"version": 2})["model_bundle_id"]

    load = Load(server, client.api_key, ep["id"])
    load.wait_for(lambda recs: len(recs) >= 20, what="20 answers before the update")
    old_pids = {success_value(r[4])["pid"] for r in load.records[:10] if r[3] == 200}

    # 1. A new bundle.
    before = load.count()
    client.api.call("PUT", f"/v1/model-endpoints/{ep['id']}", {"model_bundle_id": v2})
    ready = wait_status(client, "live", "READY")
    ready_at = time.monotonic()
    load.wait_for(lambda recs: sum(1 for r in recs if r[2] > ready_at) >= 20,
                  what="20 answers after the new bundle is READY")
    assert load.count() > before
    for pid in old_pids:
        wait_gone(pid)                      # the old generation drained and stopped

    # 2. A new per_worker (and max_workers).
    client.api.call("PUT", f"/v1/model-endpoints/{ep['id']}", {"per_worker": 3, "max_workers": 3})
    ready2 = wait_status(client, "live", "READY")
    ready2_at = time.monotonic()
    load.wait_for(lambda recs: sum(1 for r in recs if r[2] > ready2_at) >= 20,
                  what="20 answers after the per_worker update")
    records = load.stop()

    versions = [version_of(r) for r in records]     # every answer a right SUCCESS
    assert versions.count(1) >= 20 and versions.count(2) >= 40, (versions.count(1),
                                                                 versions.count(2))
    for rec, v in zip(records, versions):
        if rec[2] > ready_at:
            assert v == 2, f"sent after the new bundle was READY, answered by v1: {rec}"
    # Per thread, once v2 answered, v1 never did again.
    for t in range(4):
        seen = [v for r, v in zip(records, versions) if r[0] == t]
        assert seen == sorted(seen), (t, seen)
    ds = ready2["deployment_state"]
    assert (ds["per_worker"], ds["max_workers"], ds["min_workers"]) == (3, 3, 1), ds
    assert ready["bundle_name"] == "versioned"
    assert success_value(predict(client, ep["id"], {"i": 7}))["version"] == 2


def test_update_of_worker_settings_applies(server, make_client):
    """A PUT of per_worker and min/max_workers starts a new generation that
    runs with the new numbers."""
    client = make_client(server)
    create_v1_bundle(client, "probe", pickle_bundle(PROBE_SRC, PROBE_EXPR))
    ep = create_endpoint(client, "knobs", "probe", min_workers=1, max_workers=1, per_worker=1)

    def burst(n):
        jobs = [Background(lambda i=i: predict(client, ep["id"], {"op": "echo", "value": i,
                                                                 "sleep_s": 0.3}))
                for i in range(n)]
        return [success_value(j.result()) for j in jobs]

    outs = burst(3)
    assert {o["max"] for o in outs} == {1} and len({o["pid"] for o in outs}) == 1, outs
    old_pid = outs[0]["pid"]
    client.api.call("PUT", f"/v1/model-endpoints/{ep['id']}",
                    {"per_worker": 3, "min_workers": 2, "max_workers": 2})
    ready = wait_status(client, "knobs", "READY")
    ds = ready["deployment_state"]
    assert (ds["min_workers"], ds["max_workers"], ds["per_worker"]) == (2, 2, 3), ds
    wait_endpoint(client, "knobs", lambda e: workers(e) == (2, 0), timeout=5,
                  what="2 workers of the new generation")
    wait_gone(old_pid)
    outs = burst(6)
    assert max(o["max"] for o in outs) == 3, outs
    assert len({o["pid"] for o in outs}) == 2 and old_pid not in {o["pid"] for o in outs}, outs


def test_resize_in_place_keeps_the_running_workers(server, make_client):
    """A PUT that keeps the bundle and per_worker and raises min/max_workers
    (as the CLI's `endpoints edit` sends it: every field) resizes the running
    pool: the zygote and the serving worker stay, one more worker is forked,
    and the bundle is not loaded again. Lowering max_workers afterwards takes
    a new generation, which ends within the new limit."""
    client = make_client(server)
    bundle_id = create_v1_bundle(client, "probe", pickle_bundle(PROBE_SRC, PROBE_EXPR))
    ep = create_endpoint(client, "grow", "probe", min_workers=1, max_workers=1, per_worker=1)
    served = success_value(predict(client, ep["id"], {"op": "echo", "value": 1}))["pid"]
    before = {p["pid"] for p in children(server.proc.pid)}
    assert len(before) == 2 and served in before, before     # the zygote and one worker

    client.api.call("PUT", f"/v1/model-endpoints/{ep['id']}", {
        "model_bundle_id": bundle_id, "cpus": "1", "memory": "1Gi", "gpus": 0,
        "min_workers": 2, "max_workers": 3, "per_worker": 1, "labels": {"team": "a"}})
    ready = wait_status(client, "grow", "READY")
    ds = ready["deployment_state"]
    assert (ds["min_workers"], ds["max_workers"], ds["per_worker"]) == (2, 3, 1), ds
    assert ready["labels"] == {"team": "a"}, ready
    wait_endpoint(client, "grow", lambda e: workers(e) == (2, 0), timeout=5,
                  what="2 workers after the resize")
    after = {p["pid"] for p in children(server.proc.pid)}
    assert before < after and len(after) == 3, (before, after)
    logs = client.read_endpoint_creation_logs("grow")
    assert "resizing the running workers in place" in logs and "resized in place" in logs, logs
    assert logs.count("loading the bundle in a zygote") == 1, logs
    assert success_value(predict(client, ep["id"], {"op": "echo", "value": 2}))["value"] == 2

    client.api.call("PUT", f"/v1/model-endpoints/{ep['id']}",
                    {"min_workers": 1, "max_workers": 1})
    wait_status(client, "grow", "READY")
    wait_endpoint(client, "grow", lambda e: workers(e) == (1, 0), timeout=5,
                  what="1 worker of the new generation")
    for pid in after:
        wait_gone(pid)
    logs = client.read_endpoint_creation_logs("grow")
    assert logs.count("loading the bundle in a zygote") == 2, logs
    assert success_value(predict(client, ep["id"], {"op": "echo", "value": 3}))["value"] == 3


def test_delete_drains_then_stops_workers(server, make_client, tmp_path):
    client = make_client(server)
    create_v1_bundle(client, "probe", pickle_bundle(PROBE_SRC, PROBE_EXPR))
    ep = create_endpoint(client, "doomed", "probe", min_workers=2, max_workers=2, per_worker=1)
    assert workers(ep) == (2, 0), ep
    procs = children(server.proc.pid)
    assert len(procs) == 3, procs         # a zygote and two workers
    marker = tmp_path / "running"
    slow = Background(lambda: predict(client, ep["id"], {"op": "echo", "value": "last",
                                                         "sleep_s": 0.8,
                                                         "marker": str(marker)}))
    wait_file(marker)
    assert client.delete_model_endpoint("doomed") is True
    assert not slow.done()
    assert success_value(slow.result())["value"] == "last"
    deadline = time.monotonic() + 5
    while client.get_model_endpoint("doomed") is not None:
        assert time.monotonic() < deadline, "the endpoint is still listed"
        time.sleep(0.05)
    for p in procs:
        wait_gone(p["pid"])
    assert children(server.proc.pid) == []
    r = sync_request(server.base_url, client.api_key, ep["id"],
                     {"args": {"op": "echo"}, "return_pickled": False})
    assert r.status_code == 404, r.text


def test_restart_brings_workers_back(server, make_client):
    client = make_client(server, key="restart-rt-key")
    create_v1_bundle(client, "probe", pickle_bundle(PROBE_SRC, PROBE_EXPR))
    ep = create_endpoint(client, "kept", "probe", min_workers=2, max_workers=2, per_worker=1)
    before = success_value(predict(client, ep["id"], {"op": "echo", "value": 1}))
    old = [p["pid"] for p in children(server.proc.pid)]
    assert len(old) == 3 and before["pid"] in old, old

    t0 = time.monotonic()
    server.stop()                            # SIGTERM; exit status 0 asserted
    stop_s = time.monotonic() - t0
    lines = server.lines()
    stopping = next(i for i, ln in enumerate(lines) if "signal=SIGTERM" in ln)
    late = [ln for ln in lines[stopping:] if "loading the bundle" in ln or "bundle loaded" in ln]
    assert not late, f"processes started while stopping: {late}"
    assert stop_s < 2.5, f"stopping idle workers took {stop_s:.1f}s"
    assert not any(alive(pid) for pid in old), "workers outlived the server"

    server.start()
    client = make_client(server, key="restart-rt-key")
    back = wait_status(client, "kept", "READY")
    assert back["id"] == ep["id"]
    wait_endpoint(client, "kept", lambda e: workers(e) == (2, 0), timeout=5,
                  what="2 workers after the restart")
    after = success_value(predict(client, ep["id"], {"op": "echo", "value": 2}))
    assert after["value"] == 2 and after["model"] == 4
    assert after["pid"] not in old and after["pid"] in {p["pid"] for p in
                                                        children(server.proc.pid)}
    assert any(HTTP_LOG_RE.search(ln) and "/v1/sync-tasks" in ln for ln in server.lines())
