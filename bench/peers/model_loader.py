"""Load a Launch cloudpickle bundle the way the reference worker does.

Shared by the peer apps (wsgi_app.py, fastapi_app.py) so that they run the
same model with the same semantics as liftoff's workers (launch-api.md 5.2,
5.3): unpickle the bundle, build predict_fn, then answer
{"status":"SUCCESS","result":{"result":json.dumps(predict_fn(**args))},
 "traceback":null,"status_code":200}.

The bundle path comes from the BENCH_MODEL environment variable.
"""
import json
import os

import cloudpickle


def load_predict_fn(path=None):
    path = path or os.environ["BENCH_MODEL"]
    with open(path, "rb") as f:
        bundle = cloudpickle.load(f)
    if not isinstance(bundle, dict):
        if hasattr(bundle, "init"):
            bundle.init(None)
        return bundle
    if "model" in bundle:
        model = bundle["model"]
    elif "load_model_fn" in bundle:
        model = bundle["load_model_fn"]()
    else:
        raise ValueError("Need to specify either 'model' or 'load_model_fn'")
    return bundle["load_predict_fn"](model)


def run(predict_fn, request):
    """request: the parsed JSON body. Returns (http status, response dict)."""
    if not isinstance(request, dict) or not isinstance(request.get("args"), dict):
        return 400, {"detail": "Invalid request: args must be an object"}
    try:
        output = predict_fn(**request["args"])
    except Exception as e:  # the reference answers 200 with status FAILURE
        return 200, {"status": "FAILURE", "result": None, "traceback": repr(e),
                     "status_code": 500}
    return 200, {"status": "SUCCESS", "result": {"result": json.dumps(output)},
                 "traceback": None, "status_code": 200}


def encode(obj):
    """Compact JSON, as liftoff answers."""
    return json.dumps(obj, separators=(",", ":")).encode()
