"""url inputs (spec 2.5, 5.3 rule 1): the worker reads the resource and calls
predict_fn(<bytes>) with one positional argument. Locations: file:///abs,
/abs, s3://<bucket>/<key> from /model_bundle_upload, http://. Also what a
request without url and args gets (400)."""
from __future__ import annotations

import hashlib

import pytest

from bundles_rt import (URL_EXPR, URL_SRC, create_endpoint, create_v1_bundle, failure_traceback,
                        pickle_bundle, predict, success_value, sync_request)

DATA = bytes(range(256)) * 40 + b"tail \xff\x00 end"


def expected(data: bytes) -> dict:
    return {"type": "bytes", "len": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "head": data[:16].decode("latin-1")}


@pytest.fixture
def url_endpoint(server, make_client):
    client = make_client(server)
    create_v1_bundle(client, "url-bundle", pickle_bundle(URL_SRC, URL_EXPR))
    ep = create_endpoint(client, "url-ep", "url-bundle", per_worker=2, max_workers=1)
    return client, ep["id"]


def test_url_file_and_absolute_path(url_endpoint, tmp_path):
    client, eid = url_endpoint
    path = tmp_path / "input data.bin"
    path.write_bytes(DATA)
    assert success_value(predict(client, eid, url=f"file://{path}")) == expected(DATA)
    assert success_value(predict(client, eid, url=str(path))) == expected(DATA)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert success_value(predict(client, eid, url=f"file://{empty}")) == expected(b"")


def test_url_s3_upload(url_endpoint):
    """What the client's upload gives (POST /model_bundle_upload, PUT to the
    signed URL): s3://<bucket>/<key>, resolved by the server."""
    client, eid = url_endpoint
    location = client.upload(DATA)
    assert location.startswith("s3://"), location
    assert success_value(predict(client, eid, url=location)) == expected(DATA)


def test_url_http(url_endpoint, file_server):
    client, eid = url_endpoint
    url = file_server.add("/inputs/a.bin", DATA)
    assert success_value(predict(client, eid, url=url)) == expected(DATA)
    assert file_server.hit_count("/inputs/a.bin") == 1
    # A second request downloads again (inputs are not cached as bundles are).
    other = b"another input"
    file_server.add("/inputs/a.bin", other)
    assert success_value(predict(client, eid, url=url)) == expected(other)


def test_url_wins_over_args(url_endpoint, tmp_path):
    """Both set: the worker uses url and ignores args (spec 2.5)."""
    client, eid = url_endpoint
    path = tmp_path / "in.bin"
    path.write_bytes(b"hello")
    assert success_value(predict(client, eid, args={"data": b"ignored".hex()},
                                 url=f"file://{path}")) == expected(b"hello")


def test_unreadable_url_is_a_failure(url_endpoint, tmp_path, file_server):
    """A url that cannot be read fails the task (FAILURE, HTTP 200); the
    worker keeps serving."""
    client, eid = url_endpoint
    missing = tmp_path / "no-such-file.bin"
    tb = failure_traceback(predict(client, eid, url=f"file://{missing}"))
    assert "no-such-file.bin" in tb, tb
    tb = failure_traceback(predict(client, eid, url=file_server.url("/nothing-here")))
    assert file_server.url("/nothing-here") in tb, tb
    assert file_server.hit_count("/nothing-here") >= 1
    path = tmp_path / "ok.bin"
    path.write_bytes(b"ok")
    assert success_value(predict(client, eid, url=str(path))) == expected(b"ok")


@pytest.mark.parametrize("body", [{"return_pickled": False},
                                  {"return_pickled": True},
                                  {"url": None, "args": None, "return_pickled": False}],
                         ids=["absent", "absent-pickled", "null"])
def test_neither_url_nor_args(url_endpoint, body):
    client, eid = url_endpoint
    r = sync_request(client.endpoint, client.api_key, eid, body)
    assert (r.status_code, r.json()) == (
        400, {"detail": "Invalid request: Input needs either url or args."}), r.text
