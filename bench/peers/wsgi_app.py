"""WSGI peer for the liftoff benchmark: the reference model behind
POST /v1/sync-tasks, loaded once at import (uWSGI forks its workers from
the master after loading, unless --lazy-apps).

    BENCH_MODEL=/abs/model.pkl uwsgi --http-socket 127.0.0.1:PORT \
        --plugin python3 --wsgi-file bench/peers/wsgi_app.py \
        --processes 2 --master --disable-logging
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_loader  # noqa: E402

PREDICT = model_loader.load_predict_fn()


def application(environ, start_response):
    if environ.get("REQUEST_METHOD") != "POST" or \
            environ.get("PATH_INFO") != "/v1/sync-tasks":
        body = b'{"detail":"Not Found"}'
        start_response("404 Not Found", [("Content-Type", "application/json"),
                                         ("Content-Length", str(len(body)))])
        return [body]
    try:
        n = int(environ.get("CONTENT_LENGTH") or 0)
        req = json.loads(environ["wsgi.input"].read(n))
    except ValueError:
        req = None
    code, obj = model_loader.run(PREDICT, req)
    body = model_loader.encode(obj)
    start_response("200 OK" if code == 200 else "400 Bad Request",
                   [("Content-Type", "application/json"),
                    ("Content-Length", str(len(body)))])
    return [body]
