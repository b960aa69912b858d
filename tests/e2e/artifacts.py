"""Bundle artifacts for the tests: the quick-start model as a real cloudpickle
made by Debian's /usr/bin/python3 (the interpreter liftoff's workers use),
its schema upload (spec 4.3), and the metadata the client sends with it.

liftoff loads a bundle before its endpoint is READY (a zygote unpickles it,
spec 5.2), so every test that expects READY uploads real_artifact() bytes, on
every upload path (signed URL, file://, plain path, http://).
not_a_pickle() is for tests that want a load to fail.

The functions are defined in a `python3 -c` script, i.e. in __main__, so
cloudpickle pickles them by value, as the client's globals_copy does: the
worker can unpickle them without importing any test module.
"""
from __future__ import annotations

import functools
import json
import subprocess

PYTHON = "/usr/bin/python3"
PICKLE_TIMEOUT_S = 30

MY_MODEL_SRC = '''def my_model(x):
    return x * 2
'''

LOAD_PREDICT_FN_SRC = '''def my_load_predict_fn(model):
    def returns_model_of_x_plus_len_of_y(x: int, y: str) -> int:
        """MyRequestSchema -> MyResponseSchema"""
        assert isinstance(x, int) and isinstance(y, str)
        return model(x) + len(y)

    return returns_model_of_x_plus_len_of_y
'''

LOAD_MODEL_FN_SRC = '''def my_load_model_fn():
    return my_model
'''

# What the client uploads for request_schema/response_schema (spec 4.3).
QUICKSTART_SCHEMA = {
    "ResponseSchema": {"title": "MyResponseSchema", "type": "integer"},
    "RequestSchema": {"title": "MyRequestSchema", "type": "object",
                      "properties": {"x": {"title": "X", "type": "integer"},
                                     "y": {"title": "Y", "type": "string"}},
                      "required": ["x", "y"]},
}

PYTORCH_ENV = {"framework_type": "pytorch",
               "pytorch_image_tag": "1.7.1-cuda11.0-cudnn8-runtime"}
QUICKSTART_REQUIREMENTS = ["pytest==7.2.1", "numpy"]

_PICKLE_SCRIPT = MY_MODEL_SRC + LOAD_PREDICT_FN_SRC + LOAD_MODEL_FN_SRC + '''
import sys
import cloudpickle

kind = sys.argv[1]
size = int(sys.argv[2]) if len(sys.argv) > 2 else 0
if kind == "v1-model":
    obj = {"model": my_model, "load_predict_fn": my_load_predict_fn}
elif kind == "load-model-fn":
    obj = {"load_model_fn": my_load_model_fn, "load_predict_fn": my_load_predict_fn}
else:
    raise SystemExit("unknown kind " + kind)
data = cloudpickle.dumps(obj)
if size:
    # Pad to exactly `size` bytes with an extra dict entry the loader ignores.
    pad = size - len(data)
    for _ in range(8):
        if pad < 0:
            raise SystemExit(f"a {kind} pickle needs more than {size} bytes")
        obj["padding"] = b"-" * pad
        data = cloudpickle.dumps(obj)
        if len(data) == size:
            break
        pad += size - len(data)
    else:
        raise SystemExit(f"cannot pad a {kind} pickle to {size} bytes")
sys.stdout.buffer.write(data)
'''

# Spec 5.2 (cloudpickle, config None) and 5.3 (args, return_pickled false).
_PREDICT_SCRIPT = '''
import json
import sys
import cloudpickle

with open(sys.argv[1], "rb") as f:
    bundle = cloudpickle.load(f)
config = None
if "model" in bundle:
    model = bundle["model"]
else:
    model = bundle["load_model_fn"]() if config is None else bundle["load_model_fn"](config)
predict_fn = (bundle["load_predict_fn"](model) if config is None
              else bundle["load_predict_fn"](config, model))
args = json.loads(sys.argv[2])
print(json.dumps({"result": json.dumps(predict_fn(**args))}))
'''


@functools.lru_cache(maxsize=None)
def quickstart_pickle(kind: str = "v1-model") -> bytes:
    """cloudpickle.dumps of the quick-start bundle dict.

    kind "v1-model": {"model": my_model, "load_predict_fn": ...} (spec 11.A, v1);
    kind "load-model-fn": {"load_model_fn": ..., "load_predict_fn": ...} (v2 callable).
    """
    return _make_pickle(kind, 0)


@functools.lru_cache(maxsize=None)
def _make_pickle(kind: str, size: int) -> bytes:
    args = [PYTHON, "-c", _PICKLE_SCRIPT, kind] + ([str(size)] if size else [])
    proc = subprocess.run(args, capture_output=True, timeout=PICKLE_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert proc.stdout, "empty pickle"
    assert not size or len(proc.stdout) == size, (size, len(proc.stdout))
    return proc.stdout


def real_artifact(size: int | None = None, kind: str = "v1-model") -> bytes:
    """Artifact bytes a liftoff worker can load: the quick-start cloudpickle
    (see quickstart_pickle for the kinds). With size, it is exactly that many
    bytes long: the bundle dict gets an extra "padding" entry, which the
    loader of spec 5.2 ignores. Use it for any upload that must reach READY."""
    return _make_pickle(kind, size or 0)


def write_real_artifact(path, size: int | None = None, kind: str = "v1-model"):
    """Writes real_artifact() to path (a self-hosted user's upload); returns path."""
    path.write_bytes(real_artifact(size, kind))
    return path


def not_a_pickle(size: int = 64) -> bytes:
    """Bytes that are not a pickle (nor a zip): a load of them must fail
    (UnpicklingError: invalid load key) and the endpoint end UPDATE_FAILED."""
    data = opaque_artifact(size)
    assert data[0] not in (0x80, ord("P")), "must not look like a pickle or a zip"
    return data


def run_quickstart_predict(pickle_path: str, args: dict) -> dict:
    """Loads a pickle the way the reference worker does and predicts once;
    returns the worker response object, e.g. {"result": "15"}."""
    proc = subprocess.run([PYTHON, "-c", _PREDICT_SCRIPT, pickle_path, json.dumps(args)],
                          capture_output=True, timeout=PICKLE_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return json.loads(proc.stdout)


def quickstart_v1_metadata() -> dict:
    return {"load_predict_fn": LOAD_PREDICT_FN_SRC}


def opaque_artifact(size: int = 64) -> bytes:
    """Arbitrary bytes, for what treats artifacts as opaque blobs (uploads,
    bundle records). An endpoint over them ends UPDATE_FAILED, never READY."""
    return bytes((i * 37 + 11) % 256 for i in range(size))
