"""FastAPI peer for the liftoff benchmark: the reference model behind
POST /v1/sync-tasks, loaded once per worker process at import.

    BENCH_MODEL=/abs/model.pkl /usr/bin/python3 -m uvicorn \
        --app-dir bench/peers fastapi_app:app --host 127.0.0.1 --port PORT \
        --workers 2 --no-access-log --log-level warning

The handler reads the body as raw JSON (no pydantic request model) and
returns pre-encoded bytes: the cheapest idiomatic FastAPI route, so the
peer is not slowed by validation that liftoff does not do either.
"""
import json
import os
import sys

from fastapi import FastAPI, Request, Response

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_loader  # noqa: E402

PREDICT = model_loader.load_predict_fn()
app = FastAPI()


@app.post("/v1/sync-tasks")
async def sync_task(request: Request):
    try:
        req = json.loads(await request.body())
    except ValueError:
        req = None
    code, obj = model_loader.run(PREDICT, req)
    return Response(content=model_loader.encode(obj), status_code=code,
                    media_type="application/json")
