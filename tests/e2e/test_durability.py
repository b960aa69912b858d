"""Nothing accepted is lost (issue 4; DESIGN "Async tasks"): a task is stored
before its id is returned, so after a SIGKILL and a restart over the same
data directory every accepted task still answers (200) and ends SUCCESS or
FAILURE (at-least-once: it may run twice), and the callbacks of tasks that
ended before the crash are still delivered."""
from __future__ import annotations

import json
import time

from bundles_rt import alive, wait_file
from callback_receiver import CallbackReceiver
from test_async import (create_async_endpoint, get_task, get_task_raw, probe_bundle,
                        quickstart_bundle, submit, task_value, wait_task, worker_pids)

KEY = "durable-key-123"
TIMEOUT_S = 30


def sigkill_and_restart(server, make_client):
    """SIGKILL (no clean shutdown), then a new process over the same data
    directory; returns a client for it (the port changes)."""
    pids = worker_pids(server)
    server.kill()
    deadline = time.monotonic() + 5
    while any(alive(p) for p in pids):      # workers die with the server
        assert time.monotonic() < deadline, f"workers outlived the server: {pids}"
        time.sleep(0.02)
    server.start()
    return make_client(server, key=KEY)


def wait_all(client, task_ids, timeout=TIMEOUT_S) -> dict:
    """Polls every task until all ended; each GET must be 200. Returns
    {task_id: final task}."""
    deadline = time.monotonic() + timeout
    done: dict = {}
    while True:
        for tid in task_ids:
            if tid not in done:
                t = get_task(client, tid)           # asserts 200 and the shape
                if t["status"] in ("SUCCESS", "FAILURE"):
                    done[tid] = t
        if len(done) == len(task_ids):
            return done
        if time.monotonic() >= deadline:
            left = {tid: get_task(client, tid)["status"] for tid in task_ids if tid not in done}
            raise AssertionError(f"{len(left)} tasks not finished within {timeout}s: "
                                 f"{list(left.items())[:10]}")
        time.sleep(0.1)


def wait_callbacks(rx: CallbackReceiver, task_ids, timeout=TIMEOUT_S) -> dict:
    """Waits until every task id has at least one callback (duplicates
    allowed); returns {task_id: [callback bodies]}."""
    want = set(task_ids)
    deadline = time.monotonic() + timeout
    while True:
        got: dict = {}
        for r in rx.requests:
            assert isinstance(r.json, dict) and "task_id" in r.json, (r.path, r.body)
            got.setdefault(r.json["task_id"], []).append(r.json)
        assert set(got) <= want, f"callbacks for unknown tasks: {set(got) - want}"
        if set(got) == want:
            return got
        if time.monotonic() >= deadline:
            raise AssertionError(f"no callback within {timeout}s for {len(want - set(got))} "
                                 f"of {len(want)} tasks")
        time.sleep(0.1)


def test_sigkill_with_200_tasks_queued(server, make_client):
    """200 tasks of 20 ms on 2 workers, SIGKILL while most still wait,
    restart: all 200 answer, end, and get their callback."""
    client = make_client(server, key=KEY)
    probe_bundle(client)
    with CallbackReceiver() as rx:
        ep = create_async_endpoint(client, "durable", "probe", min_workers=1, max_workers=2,
                                   per_worker=1, post_inference_hooks=["callback"],
                                   default_callback_url=rx.url("/cb"))
        ids = [submit(client, ep["id"], {"op": "echo", "value": i, "sleep_s": 0.02})
               for i in range(200)]
        assert len(set(ids)) == 200
        waiting = [t for t in ids[-10:] if get_task(client, t)["status"] == "PENDING"]
        assert waiting, "every task ended before the kill: nothing was queued"

        client = sigkill_and_restart(server, make_client)
        final = wait_all(client, ids)
        failed = {tid: t["traceback"] for tid, t in final.items() if t["status"] == "FAILURE"}
        # Only the 2 tasks running at the kill may have failed; queued ones run.
        assert len(failed) <= 2, failed
        for i, tid in enumerate(ids):
            if tid not in failed:
                assert task_value(final[tid])["value"] == i, (i, final[tid])

        callbacks = wait_callbacks(rx, ids)
        for i, tid in enumerate(ids):
            for body in callbacks[tid]:
                assert body["status"] in ("SUCCESS", "FAILURE"), body
                if body["status"] == "SUCCESS":
                    assert json.loads(body["result"])["value"] == i, body
            # The last word is the task's final status.
            assert final[tid]["status"] in [b["status"] for b in callbacks[tid]], \
                (final[tid], callbacks[tid])


def test_callback_pending_at_crash_is_delivered_after_restart(server, make_client):
    """The first attempt is answered 500; the server dies before the retry.
    After the restart the callback is delivered all the same."""
    client = make_client(server, key=KEY)
    quickstart_bundle(client)
    with CallbackReceiver() as rx:
        rx.answer_next(500, 1)
        ep = create_async_endpoint(client, "cb-crash", "test-bundle", min_workers=1,
                                   post_inference_hooks=["callback"],
                                   default_callback_url=rx.url("/cb"))
        tid = submit(client, ep["id"], {"x": 5, "y": "hello"})
        [first] = rx.wait_for(1, timeout=TIMEOUT_S)
        killed_at = time.monotonic()
        client = sigkill_and_restart(server, make_client)
        assert first.json == {"task_id": tid, "result": "15", "status": "SUCCESS"}, first.json
        reqs = rx.wait_for(2, timeout=TIMEOUT_S)
        assert all(r.json == first.json for r in reqs), [r.body for r in reqs]
        assert reqs[-1].received_at > killed_at
        assert get_task(client, tid) == {"task_id": tid, "status": "SUCCESS",
                                         "result": {"result": "15"}, "traceback": None,
                                         "status_code": None}


def test_running_queued_and_finished_tasks_survive_sigkill(server, make_client, tmp_path):
    """One task finished, one running (its worker dies with the server), one
    queued behind it: after a SIGKILL and a restart the finished one reads
    the same, the other two end (the queued one SUCCESS), none vanishes."""
    client = make_client(server, key=KEY)
    probe_bundle(client)
    ep = create_async_endpoint(client, "crash", "probe", min_workers=1, max_workers=1,
                               per_worker=1)
    finished = wait_task(client, submit(client, ep["id"], {"op": "echo", "value": "done"}))[0]
    marker = tmp_path / "running"
    running = submit(client, ep["id"], {"op": "echo", "value": "running", "sleep_s": 1.0,
                                        "marker": str(marker)})
    wait_file(marker)
    queued = submit(client, ep["id"], {"op": "echo", "value": "queued"})
    assert get_task(client, running)["status"] == "STARTED"
    assert get_task(client, queued)["status"] == "PENDING"

    client = sigkill_and_restart(server, make_client)
    assert get_task(client, finished["task_id"]) == finished
    final = wait_all(client, [running, queued])
    assert task_value(final[queued])["value"] == "queued"
    if final[running]["status"] == "SUCCESS":
        assert task_value(final[running])["value"] == "running"
    # A clean restart keeps them too.
    server.restart()
    client = make_client(server, key=KEY)
    for tid in (finished["task_id"], running, queued):
        assert get_task_raw(client, tid).status_code == 200
    assert get_task(client, queued) == final[queued]
    # And the store still takes tasks.
    assert task_value(wait_task(client, submit(client, ep["id"], {"op": "echo",
                                                                 "value": 1}))[0])["value"] == 1
