"""Bundle loading inside a liftoff worker (spec 5.2), embedded in the binary.

load(spec) returns the predict callable. It runs once per worker process (or
once per zygote, whose forks inherit the result). The hot path, calling the
callable and converting JSON, is in C.
"""
import importlib
import importlib.metadata
import os
import re
import shutil
import sys
import zipfile

_NAME_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _parse_requirement(line):
    """Returns (name, specifier or None, applies) for one requirement line."""
    try:
        from packaging.requirements import Requirement
    except ImportError:  # packaging missing: check the name only
        m = _NAME_RE.match(line)
        if not m:
            raise ValueError("cannot parse")
        return m.group(1), None, True
    req = Requirement(line)
    applies = req.marker is None or req.marker.evaluate()
    return req.name, (req.specifier if str(req.specifier) else None), applies


def check_requirements(requirements):
    """Raises RuntimeError naming every requirement that is not installed."""
    unmet = []
    for raw in requirements or []:
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        try:
            name, spec, applies = _parse_requirement(line)
        except Exception:
            unmet.append(f"{line} (cannot parse)")
            continue
        if not applies:
            continue
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            unmet.append(f"{line} (not installed)")
            continue
        if spec is not None and not spec.contains(version, prereleases=True):
            unmet.append(f"{line} (installed: {version})")
    if unmet:
        raise RuntimeError("unmet requirements: " + ", ".join(unmet))


def _import_path(dotted):
    module, _, attr = dotted.rpartition(".")
    if not module:
        raise ImportError(f"'{dotted}' is not a dotted module path")
    return getattr(importlib.import_module(module), attr)


def _extract_zip(path, target):
    """Extracts the zip at path into target once; concurrent workers race safely."""
    if os.path.isdir(target):
        return
    tmp = f"{target}.tmp.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(path) as zf:
        zf.extractall(tmp)  # zipfile drops absolute paths and '..' parts
    try:
        os.rename(tmp, target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not os.path.isdir(target):
            raise


def _load_zip(spec, config):
    target = os.path.join(spec["data_dir"], "bundles", spec["bundle_id"])
    os.makedirs(os.path.dirname(target), exist_ok=True)
    _extract_zip(spec["path"], target)
    if target not in sys.path:
        sys.path.insert(0, target)
    os.chdir(target)
    load_model_fn = _import_path(spec["load_model_fn_module_path"])
    load_predict_fn = _import_path(spec["load_predict_fn_module_path"])
    model = load_model_fn(config)
    return load_predict_fn(config, model)


def _load_cloudpickle(spec, config):
    import cloudpickle

    with open(spec["path"], "rb") as f:
        bundle = cloudpickle.load(f)
    if isinstance(bundle, dict):
        if "model" in bundle:
            model = bundle["model"]
        elif "load_model_fn" in bundle:
            if config is None:
                model = bundle["load_model_fn"]()
            else:
                model = bundle["load_model_fn"](config)
        else:
            raise ValueError("Need to specify either 'model' or 'load_model_fn'")
        if config is None:
            return bundle["load_predict_fn"](model)
        return bundle["load_predict_fn"](config, model)
    if hasattr(bundle, "init"):
        bundle.init(config)
    return bundle


def load(spec):
    check_requirements(spec.get("requirements"))
    config = spec.get("app_config")
    if spec["kind"] == "zip":
        predict = _load_zip(spec, config)
    else:
        predict = _load_cloudpickle(spec, config)
    if not callable(predict):
        raise TypeError(f"the bundle's predict function is not callable: {type(predict).__name__}")
    return predict


def save_pickled(output, path):
    """Writes cloudpickle.dumps(output) to path atomically."""
    import cloudpickle

    data = cloudpickle.dumps(output)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def freeze():
    """Called in a zygote before forking: keep shared pages shared."""
    import gc

    gc.collect()
    gc.freeze()
