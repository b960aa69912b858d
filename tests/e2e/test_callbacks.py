"""Callbacks (issue 4; spec 7): with "callback" among an endpoint's
post_inference_hooks, the server POSTs each finished async task to the
task's callback_url, else the endpoint's default_callback_url, with the
task's callback_auth, else the endpoint's default_callback_auth: basic gives
an Authorization header, mtls presents the given PEM certificate (the
receiver's certificate is checked against --callback-ca-file), none sends no
Authorization at all. Up to 3 attempts with backoff until a 2xx; delivery
never changes the task's status. Without the hook nothing is sent."""
from __future__ import annotations

import base64
import json
import time

import pytest

from callback_receiver import CallbackReceiver, make_certs, silent_listener
from test_async import (create_async_endpoint, get_task, probe_bundle, quickstart_bundle,
                        submit, task_value, wait_task)

DELIVERY_TIMEOUT_S = 15


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def answer_next(rx: CallbackReceiver, status: int, count: int) -> None:
    """The receiver's next count POSTs get status, then 200 again."""
    setter = getattr(rx, "answer_next", None) or getattr(rx, "set_status")
    setter(status, count)


def by_task(reqs) -> dict:
    """{task_id: [requests]} of recorded callbacks."""
    out: dict = {}
    for r in reqs:
        assert isinstance(r.json, dict) and "task_id" in r.json, (r.path, r.body)
        out.setdefault(r.json["task_id"], []).append(r)
    return out


def check_post(req) -> None:
    """A callback is a JSON POST."""
    assert req.headers.get("content-type", "").startswith("application/json"), req.headers
    assert isinstance(req.json, dict), req.body


@pytest.fixture
def receiver():
    rx = CallbackReceiver()
    yield rx
    rx.close()


def test_bodies_urls_and_basic_auth(server, make_client, receiver):
    """Default URL and basic auth from the endpoint, a task's own URL and
    auth overriding them; the bodies of a success, a failure and a
    return_pickled success."""
    client = make_client(server)
    quickstart_bundle(client)
    ep = create_async_endpoint(
        client, "cb-basic", "test-bundle", min_workers=1, per_worker=10,
        post_inference_hooks=["callback"], default_callback_url=receiver.url("/default"),
        default_callback_auth={"kind": "basic", "username": "cb-user", "password": "p@ss:word"})
    ok = submit(client, ep["id"], {"x": 5, "y": "hello"})
    own = submit(client, ep["id"], {"x": 1, "y": ""}, callback_url=receiver.url("/own?k=v"),
                 callback_auth={"kind": "basic", "username": "task-user", "password": ""})
    failed = submit(client, ep["id"], {"x": 5})
    pickled = submit(client, ep["id"], {"x": 2, "y": "ab"}, return_pickled=True)
    tasks = {tid: wait_task(client, tid)[0] for tid in (ok, own, failed, pickled)}
    assert tasks[failed]["status"] == "FAILURE", tasks[failed]

    got = by_task(receiver.wait_for(4, timeout=DELIVERY_TIMEOUT_S))
    assert set(got) == {ok, own, failed, pickled}, got
    for tid, reqs in got.items():
        assert len(reqs) == 1, f"{tid} delivered {len(reqs)} times though answered 200"
        check_post(reqs[0])

    r = got[ok][0]
    assert r.path == "/default", r.path
    assert r.json == {"task_id": ok, "result": "15", "status": "SUCCESS"}, r.json
    assert r.headers.get("authorization") == basic("cb-user", "p@ss:word"), r.headers

    r = got[own][0]
    assert r.path == "/own?k=v", r.path
    assert r.json == {"task_id": own, "result": "2", "status": "SUCCESS"}, r.json
    assert r.headers.get("authorization") == basic("task-user", ""), r.headers

    r = got[failed][0]
    assert r.path == "/default", r.path
    assert r.json == {"task_id": failed, "status": "FAILURE",
                      "traceback": tasks[failed]["traceback"]}, r.json
    assert "TypeError" in r.json["traceback"], r.json

    r = got[pickled][0]
    assert r.json == {"task_id": pickled, "status": "SUCCESS",
                      "result_url": tasks[pickled]["result"]["result_url"]}, r.json
    for r in receiver.requests:
        assert not any(client.api_key in v for v in r.headers.values()), r.headers


def test_no_auth_no_header_and_no_hook_no_callback(server, make_client, receiver):
    """No callback auth: no Authorization header (never the API key). The
    hook is matched in any case. An endpoint without the hook sends nothing,
    not even to a task's own callback_url."""
    client = make_client(server)
    probe_bundle(client)
    hooked = create_async_endpoint(client, "hooked", "probe", min_workers=1,
                                   post_inference_hooks=["CALLBACK"],
                                   default_callback_url=receiver.url("/hooked"))
    plain = create_async_endpoint(client, "plain", "probe", min_workers=1,
                                  default_callback_url=receiver.url("/plain"))
    silent = [submit(client, plain["id"], {"op": "echo", "value": 1}),
              submit(client, plain["id"], {"op": "echo", "value": 2},
                     callback_url=receiver.url("/plain-task"),
                     callback_auth={"kind": "basic", "username": "u", "password": "p"})]
    loud = submit(client, hooked["id"], {"op": "echo", "value": 3})
    for tid in silent + [loud]:
        assert wait_task(client, tid)[0]["status"] == "SUCCESS"
    [r] = receiver.wait_for(1, timeout=DELIVERY_TIMEOUT_S)
    check_post(r)
    assert r.path == "/hooked" and r.json["task_id"] == loud, (r.path, r.json)
    assert r.json["status"] == "SUCCESS" and set(r.json) == {"task_id", "status", "result"}
    assert json.loads(r.json["result"])["value"] == 3, r.json
    assert "authorization" not in r.headers, r.headers
    assert not any(client.api_key in v for v in r.headers.values()), r.headers
    # Time for the hook-less tasks' callbacks, were any sent (the hooked one,
    # which ended last, has already arrived).
    time.sleep(1.5)
    assert [q.path for q in receiver.requests] == ["/hooked"], \
        [(q.path, q.body) for q in receiver.requests]


def test_mtls(start_server, make_client, tmp_path):
    """mtls auth: the PEM cert and key are the TLS client certificate; the
    receiver is verified against --callback-ca-file, so one whose CA is not
    in it gets no callback (and its task is still SUCCESS)."""
    certs = make_certs(tmp_path / "trusted")
    foreign = make_certs(tmp_path / "foreign", client_cn="foreign-client")
    server = start_server("--callback-ca-file", str(certs.ca_cert))
    client = make_client(server)
    quickstart_bundle(client)
    with CallbackReceiver(tls=certs) as rx, CallbackReceiver(tls=foreign) as untrusted:
        ep = create_async_endpoint(
            client, "cb-mtls", "test-bundle", min_workers=1,
            post_inference_hooks=["callback"], default_callback_url=rx.url("/mtls"),
            default_callback_auth={"kind": "mtls", "cert": certs.client_cert_pem,
                                   "key": certs.client_key_pem})
        assert rx.url("/mtls").startswith("https://")
        ok = submit(client, ep["id"], {"x": 5, "y": "hello"})
        assert task_value(wait_task(client, ok)[0]) == 15
        [r] = rx.wait_for(1, timeout=DELIVERY_TIMEOUT_S)
        check_post(r)
        assert r.path == "/mtls"
        assert r.json == {"task_id": ok, "result": "15", "status": "SUCCESS"}, r.json
        assert r.client_cn == certs.client_cn, r.client_cn
        assert "authorization" not in r.headers, r.headers

        # The untrusted receiver: liftoff must refuse its certificate.
        bad = submit(client, ep["id"], {"x": 1, "y": "a"}, callback_url=untrusted.url("/x"),
                     callback_auth={"kind": "mtls", "cert": foreign.client_cert_pem,
                                    "key": foreign.client_key_pem})
        assert task_value(wait_task(client, bad)[0]) == 3
        untrusted.wait_tls_failures(1, timeout=DELIVERY_TIMEOUT_S)
        assert untrusted.requests == [], "a callback went to a receiver the CA file does not trust"
        assert get_task(client, bad)["status"] == "SUCCESS"
        assert len(rx.requests) == 1


def test_retries_with_backoff(server, make_client):
    """A receiver that answers 500 twice gets the callback a third time
    (about 1 s, then longer, apart) and answers 200: no fourth. One that
    always fails gets exactly 3 attempts. Both tasks stay SUCCESS."""
    client = make_client(server)
    probe_bundle(client)
    with CallbackReceiver() as flaky, CallbackReceiver() as down:
        answer_next(flaky, 500, 2)
        answer_next(down, 503, 20)
        ep = create_async_endpoint(client, "cb-retry", "probe", min_workers=1,
                                   post_inference_hooks=["callback"],
                                   default_callback_url=flaky.url("/flaky"))
        t1 = submit(client, ep["id"], {"op": "echo", "value": 1})
        t2 = submit(client, ep["id"], {"op": "echo", "value": 2}, callback_url=down.url("/down"))
        assert task_value(wait_task(client, t1)[0])["value"] == 1
        assert task_value(wait_task(client, t2)[0])["value"] == 2

        for rx, tid in ((flaky, t1), (down, t2)):
            reqs = rx.wait_for(3, timeout=DELIVERY_TIMEOUT_S)
            assert [q.json for q in reqs] == [reqs[0].json] * 3, [q.body for q in reqs]
            assert reqs[0].json["task_id"] == tid and reqs[0].json["status"] == "SUCCESS"
            gap1 = reqs[1].received_at - reqs[0].received_at
            gap2 = reqs[2].received_at - reqs[1].received_at
            assert 0.5 <= gap1 <= 4, f"first retry after {gap1:.2f}s, wanted about 1 s"
            assert gap2 >= 0.9 * gap1, f"backoff did not grow: {gap1:.2f}s then {gap2:.2f}s"
        # A 4th attempt would come at least about as long after the 3rd as the
        # 3rd after the 2nd.
        last = max(down.requests[2].received_at, flaky.requests[2].received_at)
        wait = last + 1.2 * (down.requests[2].received_at - down.requests[1].received_at) + 0.3
        time.sleep(max(0.0, wait - time.monotonic()))
        assert len(flaky.requests) == 3, [q.body for q in flaky.requests]
        assert len(down.requests) == 3, [q.body for q in down.requests]
        for tid in (t1, t2):
            assert get_task(client, tid)["status"] == "SUCCESS"


def test_silent_receiver_holds_one_sender(start_server, make_client, receiver):
    """A receiver that takes the connection and never answers holds one
    delivery thread (up to --callback-timeout-s, here a minute); the other
    deliveries go out meanwhile on the other threads (--callback-threads).
    Once it is gone its delivery ends after 3 attempts and the task stays
    SUCCESS."""
    server = start_server("--callback-timeout-s", "60", "--callback-threads", "2")
    client = make_client(server)
    probe_bundle(client)
    ep = create_async_endpoint(client, "cb-silent", "probe", min_workers=1,
                               post_inference_hooks=["callback"],
                               default_callback_url=receiver.url("/fast"))
    silent, silent_url = silent_listener()
    conn = None
    try:
        stuck = submit(client, ep["id"], {"op": "echo", "value": 1}, callback_url=silent_url)
        assert task_value(wait_task(client, stuck)[0])["value"] == 1
        silent.settimeout(DELIVERY_TIMEOUT_S)
        conn, _ = silent.accept()              # the attempt is under way, never answered
        conn.settimeout(DELIVERY_TIMEOUT_S)
        assert conn.recv(65536).startswith(b"POST /cb HTTP/1.1\r\n")
        quick = [submit(client, ep["id"], {"op": "echo", "value": v}) for v in (2, 3)]
        reqs = receiver.wait_for(2, timeout=DELIVERY_TIMEOUT_S)
        assert sorted(r.json["task_id"] for r in reqs) == sorted(quick), [r.body for r in reqs]
        conn.setblocking(False)
        with pytest.raises(BlockingIOError):   # still open: the silent attempt goes on
            conn.recv(1)
    finally:
        if conn is not None:
            conn.close()
        silent.close()
    server.wait_for_log(lambda line: f"task={stuck} given up after 3 attempts" in line,
                        timeout=DELIVERY_TIMEOUT_S, what="the silent delivery given up")
    assert get_task(client, stuck)["status"] == "SUCCESS"
    assert len(receiver.requests) == 2
