#!/usr/bin/python3
"""liftoff benchmark driver; run it through bench/run.sh.

Compares liftoff with two Python peers serving the same cloudpickled
reference model (uWSGI + WSGI, uvicorn + FastAPI), then measures liftoff's
cold start and the memory of each extra worker, and writes
docs/benchmarks.md. See docs/benchmarks.md for what each number means.

Runs on Debian's /usr/bin/python3 (python3-requests, python3-cloudpickle).
Everything binds 127.0.0.1. Not run by CI.
"""
import argparse
import base64
import datetime
import json
import math
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import requests

from procfs import (all_ticks, cmdline, cpu_busy, other_ticks, proc_stat, smaps,
                    split_ticks, tree, tree_mem, tree_ticks)
from report import machine, report, sh

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEERS = os.path.join(HERE, "peers")
POST_LUA = os.path.join(HERE, "post.lua")
BODY = {"args": {"x": 5, "y": "hello"}, "return_pickled": False}
API_KEY = "bench"
AUTH = "Basic " + base64.b64encode(f"{API_KEY}:".encode()).decode()
CLK_TCK = os.sysconf("SC_CLK_TCK")
PY = "/usr/bin/python3"

procs = []  # every server we started, stopped at exit


def log(*a):
    print("[bench]", *a, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# servers


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(argv, env=None, stderr_path=None, stop_signal=signal.SIGTERM):
    err = open(stderr_path, "wb") if stderr_path else subprocess.DEVNULL
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                         env=env, start_new_session=True)
    p.stop_signal = stop_signal
    procs.append(p)
    return p


def stop(p):
    if p.poll() is None:
        try:
            os.killpg(p.pid, p.stop_signal)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    # anything left in the session (workers) goes too
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if p in procs:
        procs.remove(p)


def stop_all():
    for p in list(procs):
        stop(p)


def check_answer(resp):
    """None when resp is the reference answer, else a description."""
    if resp.status_code != 200:
        return f"HTTP {resp.status_code}: {resp.text[:200]}"
    try:
        j = resp.json()
    except ValueError:
        return f"not JSON: {resp.text[:200]}"
    if j.get("status") != "SUCCESS" or j.get("result") != {"result": "15"}:
        return f"wrong answer: {resp.text[:200]}"
    return None


def wait_ready(url, headers, proc, timeout=60):
    # a new connection per request: uWSGI's --http-socket closes each one
    t0 = time.time()
    last = None
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            r = requests.post(url, json=BODY, headers=headers, timeout=5)
            if r.status_code == 200:
                return
            last = r.status_code
        except requests.ConnectionError as e:
            last = e
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout}s: {last}")


def verify(url, headers, n=5):
    """Send n requests; return the list of problems (empty when all good)."""
    problems = []
    for _ in range(n):
        r = requests.post(url, json=BODY, headers=headers, timeout=30)
        e = check_answer(r)
        if e:
            problems.append(e)
    return problems


class Liftoff:
    def __init__(self, binary, tmp, name, extra=()):
        self.binary = binary
        self.data = os.path.join(tmp, f"data-{name}")
        self.errpath = os.path.join(tmp, f"liftoff-{name}.stderr")
        argv = [binary, "serve", "--port", "0", "--data-dir", self.data,
                "--log-level", "warn", *extra]
        self.proc = start(argv, stderr_path=self.errpath)
        t0 = time.time()
        self.base = None
        while time.time() - t0 < 30:
            with open(self.errpath) as f:
                m = re.search(r"liftoff listening on (http://\S+)", f.read())
            if m:
                self.base = m.group(1)
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        if not self.base:
            raise RuntimeError("liftoff did not start: " + open(self.errpath).read()[-2000:])
        self.s = requests.Session()
        self.s.auth = (API_KEY, "")
        self.pid = self.proc.pid

    def api(self, method, path, body=None, ok=(200,)):
        r = self.s.request(method, self.base + path, json=body, timeout=30)
        if r.status_code not in ok:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:300]}")
        return r.json()

    def endpoint(self, model, name, min_workers, max_workers, endpoint_type="sync"):
        self.api("POST", "/v1/model-bundles", {
            "name": name, "location": model, "requirements": [],
            "env_params": {"framework_type": "pytorch", "pytorch_image_tag": "x"},
            "packaging_type": "cloudpickle", "metadata": {}})
        bid = self.api("GET", f"/v1/model-bundles/latest?model_name={name}")["id"]
        self.api("POST", "/v1/model-endpoints", {
            "endpoint_type": endpoint_type, "metadata": {}, "memory": "1Gi", "cpus": 1,
            "max_workers": max_workers, "min_workers": min_workers, "per_worker": 1,
            "gpus": 0, "name": name, "model_bundle_id": bid})
        ep = self.wait(name, lambda e: True)
        self.name = name
        self.eid = ep["id"]
        self.url = f"{self.base}/v1/{endpoint_type}-tasks?model_endpoint_id={self.eid}"
        return ep

    def get(self, name=None):
        eps = self.api("GET", f"/v1/model-endpoints?name={name or self.name}")["model_endpoints"]
        return eps[0] if eps else None

    def wait(self, name, pred, timeout=60, interval=0.05):
        t0 = time.time()
        ep = None
        while time.time() - t0 < timeout:
            ep = self.get(name)
            if ep and ep["status"] == "READY" and pred(ep):
                return ep
            if ep and ep["status"] == "UPDATE_FAILED":
                raise RuntimeError(f"endpoint failed: {json.dumps(ep)[:1000]}")
            if self.proc.poll() is not None:
                raise RuntimeError("liftoff exited")
            time.sleep(interval)
        raise RuntimeError(f"endpoint {name} not as wanted after {timeout}s: "
                           f"{json.dumps(ep)[:1000]}")

    def children(self):
        """[(pid, starttime, cmdline)] of the server's child processes."""
        out = []
        for p in tree(self.pid):
            st = proc_stat(p)
            if st and st[0] == self.pid:
                out.append((p, st[2], cmdline(p)))
        return sorted(out, key=lambda x: x[1])


# --------------------------------------------------------------------------
# wrk


def parse_dur_ms(s):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", s)
    v, u = float(m.group(1)), m.group(2)
    return v * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[u]


def parse_wrk(out):
    r = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    r["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in ([\d.]+\w+)", out)
    r["requests"] = int(m.group(1)) if m else 0
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        r[f"p{pct}_ms"] = parse_dur_ms(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    se = [int(x) for x in m.groups()] if m else [0, 0, 0, 0]
    # A server that closes the connection after each answer (uWSGI's
    # --http-socket has no keep-alive) shows up as one read error per
    # request: wrk then reconnects. Count those apart from real errors.
    r["reconnects"] = se[1] if r["requests"] and se[1] >= 0.9 * r["requests"] else 0
    r["socket_errors"] = sum(se) - r["reconnects"]
    m = re.search(r"BENCH_BAD (\d+) BENCH_CHECKED (\d+)", out)
    if m:
        r["bad"], r["checked"] = int(m.group(1)), int(m.group(2))
    return r


def wrk(url, threads, conns, seconds, auth, check=False):
    env = dict(os.environ)
    env.pop("BENCH_AUTH", None)
    if auth:
        env["BENCH_AUTH"] = auth
    env["BENCH_CHECK"] = "1" if check else "0"
    argv = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency",
            "--timeout", "10s", "-s", POST_LUA, url]
    p = subprocess.run(argv, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"wrk failed: {p.stderr}")
    return p.stdout + p.stderr


def measure_once(label, url, root_pid, auth, args, conns):
    """One measured wrk run, with the server's CPU and memory around it."""
    ticks0 = tree_ticks(root_pid)
    split0 = split_ticks(root_pid)
    all0 = all_ticks()
    busy0, irq0 = cpu_busy()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = wrk(url, args.threads, conns, args.duration, auth)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy1, irq1 = cpu_busy()
    all1 = all_ticks()
    ticks1 = tree_ticks(root_pid)
    split1 = split_ticks(root_pid)
    r = parse_wrk(out)
    n = r["requests"] or 1
    wall = args.duration
    server_s = (ticks1 - ticks0) / CLK_TCK
    wrk_s = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    other_s = other_ticks(all0, all1, set(tree(root_pid)) | {os.getpid()}) / CLK_TCK
    r.update({
        "cpu_us_per_req": server_s * 1e6 / n,
        "cpu_split_us": {k: (split1[k] - split0.get(k, 0)) / CLK_TCK * 1e6 / n
                         for k in split1 if split1[k] - split0.get(k, 0) > 0},
        "server_cores": server_s / wall,
        "wrk_cores": wrk_s / wall,
        # whatever else ran on the machine meanwhile (processes other than
        # the server's, wrk and this script)
        "other_cores": other_s / wall,
        "machine_busy_cores": (busy1 - busy0) / CLK_TCK / wall,
        "irq_cores": (irq1 - irq0) / CLK_TCK / wall,
        **tree_mem(root_pid),
    })
    log(f"{label} c={conns}: {r['rps']:.0f} req/s p50 {r['p50_ms']:.2f} ms "
        f"p99 {r['p99_ms']:.2f} ms, {r['cpu_us_per_req']:.0f} us CPU/req, "
        f"PSS {r['pss_kib'] / 1024:.1f} MiB, non2xx {r['non2xx']}, "
        f"other load {r['other_cores']:.2f} cores")
    return r


def summarize(srv, conns, runs, warm):
    """The median of each number over the runs of one cell."""
    med = statistics.median
    last = runs[-1]
    split = {}
    for r in runs:
        for k, v in r["cpu_split_us"].items():
            split.setdefault(k, []).append(v)
    return {
        "server": srv["label"], "conns": conns, "runs": runs, "reps": len(runs),
        "rps": med(r["rps"] for r in runs),
        "rps_min": min(r["rps"] for r in runs), "rps_max": max(r["rps"] for r in runs),
        "p50_ms": med(r["p50_ms"] for r in runs), "p99_ms": med(r["p99_ms"] for r in runs),
        "p99_max_ms": max(r["p99_ms"] for r in runs),
        "cpu_us_per_req": med(r["cpu_us_per_req"] for r in runs),
        "cpu_split_us": {k: med(v) for k, v in split.items()},
        "server_cores": med(r["server_cores"] for r in runs),
        "wrk_cores": med(r["wrk_cores"] for r in runs),
        "other_cores": med(r["other_cores"] for r in runs),
        "other_max_cores": max(r["other_cores"] for r in runs),
        "non2xx": sum(r["non2xx"] for r in runs),
        "socket_errors": sum(r["socket_errors"] for r in runs),
        "reconnects": sum(r["reconnects"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
        "pss_kib": last["pss_kib"], "rss_kib": last["rss_kib"], "nprocs": last["nprocs"],
        "warmup_bad": warm.get("bad", 0), "warmup_checked": warm.get("checked", 0),
        "warmup_non2xx": warm["non2xx"], "warmup_socket_errors": warm["socket_errors"],
        "verify_problems": srv["problems"],
        "note": srv.get("note"),
    }


def start_uwsgi(args, tmp, model):
    port = free_port()
    env = dict(os.environ, BENCH_MODEL=model)
    p = start(["uwsgi", "--http-socket", f"127.0.0.1:{port}", "--plugin", "python3",
               "--wsgi-file", os.path.join(PEERS, "wsgi_app.py"), "--processes", "2",
               "--master", "--disable-logging"],
              env=env, stderr_path=os.path.join(tmp, "uwsgi.stderr"),
              stop_signal=signal.SIGINT)  # SIGTERM makes uWSGI reload
    return {"label": "uWSGI", "url": f"http://127.0.0.1:{port}/v1/sync-tasks", "proc": p,
            "auth": None}


def start_uvicorn(args, tmp, model):
    port = free_port()
    env = dict(os.environ, BENCH_MODEL=model)
    argv = [PY, "-m", "uvicorn", "--app-dir", PEERS, "fastapi_app:app",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
            "--no-access-log", "--log-level", "warning"]
    p = start(argv, env=env, stderr_path=os.path.join(tmp, "uvicorn.stderr"))
    return {"label": "uvicorn", "url": f"http://127.0.0.1:{port}/v1/sync-tasks", "proc": p,
            "auth": None}


def start_liftoff(args, tmp, model, http_threads=None):
    label, extra = "liftoff", []
    if http_threads:
        label, extra = f"liftoff --http-threads {http_threads}", \
            ["--http-threads", str(http_threads)]
    lo = Liftoff(args.bin_copy, tmp, f"throughput{http_threads or ''}", extra)
    lo.endpoint(model, "bench", 2, 2)
    lo.wait("bench", lambda e: e["deployment_state"]["available_workers"] == 2)
    return {"label": label, "url": lo.url, "proc": lo.proc, "auth": AUTH, "lo": lo}


def throughput(args, tmp, model):
    """Start the servers, check their answers, then measure in rounds: each
    round runs every server at each connection count, so that a slow spell of
    the machine hits all of them alike; each cell reports the median over
    the rounds."""
    starters = {"uwsgi": start_uwsgi, "uvicorn": start_uvicorn, "liftoff": start_liftoff,
                "liftoff-t1": lambda a, t, m: start_liftoff(a, t, m, 1)}
    srvs = []
    try:
        for name in args.servers.split(","):
            if name in starters:
                srvs.append(starters[name](args, tmp, model))
        for srv in srvs:
            headers = {"Authorization": srv["auth"]} if srv["auth"] else {}
            wait_ready(srv["url"], headers, srv["proc"])
            srv["problems"] = verify(srv["url"], headers)
            if srv["problems"]:
                log(f"{srv['label']}: WRONG ANSWERS before measuring: {srv['problems'][:3]}")
            if "lo" in srv:
                srv["before"] = srv["lo"].children()
        warm, runs = {}, {}
        for c in args.conns:
            for srv in srvs:
                w = parse_wrk(wrk(srv["url"], args.threads, c, args.warmup, srv["auth"],
                                  check=True))
                warm[(srv["label"], c)] = w
                if w.get("bad") or w["non2xx"]:
                    log(f"{srv['label']} c={c}: {w.get('bad')} wrong answers, "
                        f"{w['non2xx']} non-2xx in the warm-up")
        for rnd in range(args.reps):
            log(f"round {rnd + 1} of {args.reps}")
            for c in args.conns:
                for srv in srvs:
                    runs.setdefault((srv["label"], c), []).append(
                        measure_once(srv["label"], srv["url"], srv["proc"].pid, srv["auth"],
                                     args, c))
        for srv in srvs:
            headers = {"Authorization": srv["auth"]} if srv["auth"] else {}
            srv["problems"] = srv["problems"] + verify(srv["url"], headers)
            if "lo" in srv:
                after = srv["lo"].children()
                if [x[0] for x in srv["before"]] != [x[0] for x in after]:
                    log(f"WARNING: liftoff's processes changed during the runs: "
                        f"{srv['before']} -> {after}")
                    srv["note"] = "worker processes changed during the runs"
        return [summarize(srv, c, runs[(srv["label"], c)], warm[(srv["label"], c)])
                for c in args.conns for srv in srvs]
    finally:
        for srv in srvs:
            stop(srv["proc"])


# --------------------------------------------------------------------------
# liftoff alone: cold start, memory per worker


def pct(values, p):
    """Nearest-rank percentile: the smallest value with at least p% of the
    values at or below it (p99 of 100 values is the 99th, not the largest)."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, math.ceil(p / 100.0 * len(v)) - 1))
    return v[k]


def cold_start(args, tmp, model, zygote=True, tries=100):
    name = "cold" if zygote else "cold-nozygote"
    lo = Liftoff(args.bin_copy, tmp, name,
                 ["--scale-down-idle-s", "0", "--zygote", "true" if zygote else "false"])
    try:
        lo.endpoint(model, "cold", 0, 1)
        s = requests.Session()
        s.headers["Authorization"] = AUTH
        s.headers["Content-Type"] = "application/json"
        body = json.dumps(BODY, separators=(",", ":"))
        times, waits, problems = [], [], []
        # one request first so the connection is open and warm
        lo.wait("cold", lambda e: e["deployment_state"]["available_workers"] == 0,
                interval=0.002)
        s.post(lo.url, data=body, timeout=60)
        for _ in range(tries):
            t0 = time.perf_counter()
            lo.wait("cold", lambda e: e["deployment_state"]["available_workers"] == 0,
                    interval=0.002)
            waits.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            r = s.post(lo.url, data=body, timeout=60)
            times.append((time.perf_counter() - t0) * 1000)
            e = check_answer(r)
            if e:
                problems.append(e)
        # a warm request for reference: same path, worker already there
        res = {
            "zygote": zygote, "tries": tries,
            "p50_ms": pct(times, 50), "p99_ms": pct(times, 99),
            "min_ms": min(times), "max_ms": max(times),
            "mean_ms": statistics.mean(times),
            "scale_down_wait_p50_ms": pct(waits, 50),
            "times_ms": times,
            "problems": problems,
        }
        log(f"cold start (zygote={zygote}, {tries} tries): p50 {res['p50_ms']:.1f} ms "
            f"p99 {res['p99_ms']:.1f} ms max {res['max_ms']:.1f} ms, "
            f"{len(problems)} wrong answers")
        return res
    finally:
        stop(lo.proc)


def worker_memory(args, tmp, model):
    lo = Liftoff(args.bin_copy, tmp, "memory")
    try:
        lo.endpoint(model, "mem", 1, 1)
        lo.wait("mem", lambda e: e["deployment_state"]["available_workers"] == 1)
        time.sleep(0.5)
        procs1 = lo.children()
        tot1 = tree_mem(lo.pid)
        lo.api("PUT", f"/v1/model-endpoints/{lo.eid}", {"min_workers": 5, "max_workers": 5})
        lo.wait("mem", lambda e: e["deployment_state"]["available_workers"] == 5)
        time.sleep(0.5)
        procs5 = lo.children()
        tot5 = tree_mem(lo.pid)

        if len(procs5) != 6 or "zygote" not in procs5[0][2]:
            log(f"WARNING: expected a zygote and 5 workers, found {procs5}")

        def describe(children):
            # the zygote is the oldest child; workers fork from it later
            out = []
            for i, (pid, _, cmd) in enumerate(children):
                s = smaps(pid)
                out.append({
                    "pid": pid, "cmd": cmd.replace(args.bin_copy, "liftoff"),
                    "role": "zygote" if i == 0 and "zygote" in cmd else "worker",
                    "private_kib": s.get("Private_Clean", 0) + s.get("Private_Dirty", 0),
                    "pss_kib": s.get("Pss", 0), "rss_kib": s.get("Rss", 0)})
            return out

        d5 = describe(procs5)
        idle_workers = [w for w in d5 if w["role"] == "worker"]
        # the same workers after each has served requests (5 connections)
        wrk(lo.url, 1, 5, 2, AUTH)
        time.sleep(0.3)
        d5b = describe(lo.children())
        tot5b = tree_mem(lo.pid)
        busy_workers = [w for w in d5b if w["role"] == "worker"]
        server = smaps(lo.pid)
        res = {
            "workers_idle": idle_workers, "workers_after_requests": busy_workers,
            "zygote": [w for w in d5 if w["role"] == "zygote"],
            "server": {"private_kib": server.get("Private_Clean", 0) + server.get("Private_Dirty", 0),
                       "pss_kib": server.get("Pss", 0), "rss_kib": server.get("Rss", 0)},
            "tree_1": tot1, "tree_5": tot5, "tree_5_after_requests": tot5b,
            "pss_delta_per_worker_kib": (tot5["pss_kib"] - tot1["pss_kib"]) / 4,
            "processes_1": [c[2].replace(args.bin_copy, "liftoff") for c in procs1],
        }
        log("memory: idle worker private KiB " +
            ", ".join(str(w["private_kib"]) for w in idle_workers) +
            f"; PSS delta per extra worker {res['pss_delta_per_worker_kib']:.0f} KiB; "
            "after requests " + ", ".join(str(w["private_kib"]) for w in busy_workers))
        return res
    finally:
        stop(lo.proc)


def async_submit(args, tmp, model):
    """liftoff alone: POST /v1/async-tasks at several connection counts. Each
    answer comes once the task's row is committed (one sync per group of
    tasks), while the endpoint's 2 workers run the tasks."""
    lo = Liftoff(args.bin_copy, tmp, "async")
    try:
        lo.endpoint(model, "async", 2, 2, endpoint_type="async")
        lo.wait("async", lambda e: e["deployment_state"]["available_workers"] == 2)
        problems = []
        tid = lo.api("POST", f"/v1/async-tasks?model_endpoint_id={lo.eid}", BODY)["task_id"]
        t0 = time.time()
        while (task := lo.api("GET", f"/v1/async-tasks/{tid}"))["status"] in ("PENDING",
                                                                               "STARTED"):
            if time.time() - t0 > 30:
                break
            time.sleep(0.01)
        if task["status"] != "SUCCESS" or task["result"] != {"result": "15"}:
            problems.append(task)
        rows = []
        for c in args.async_conns:
            runs = [parse_wrk(wrk(lo.url, min(args.threads, c), c, args.duration, AUTH))
                    for _ in range(args.reps)]
            row = {"conns": c, "runs": runs,
                   "rps_min": min(r["rps"] for r in runs), "rps_max": max(r["rps"] for r in runs),
                   "non2xx": sum(r["non2xx"] for r in runs),
                   "socket_errors": sum(r["socket_errors"] for r in runs)}
            for k in ("rps", "p50_ms", "p99_ms"):
                row[k] = statistics.median(r[k] for r in runs)
            log(f"async submit c={c}: {row['rps']:.0f} req/s p50 {row['p50_ms']:.2f} ms "
                f"p99 {row['p99_ms']:.2f} ms, non2xx {row['non2xx']}")
            rows.append(row)
        return {"rows": rows, "problems": problems}
    finally:
        stop(lo.proc)


# --------------------------------------------------------------------------
# report



def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "liftoff"),
                    help="liftoff binary (default build/liftoff; run.sh resolves relative "
                         "paths from the repository root); a copy is benchmarked")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"),
                    help="markdown report to write (default docs/benchmarks.md); "
                         "'-' prints it only")
    ap.add_argument("--duration", type=int, default=8, help="seconds per measured run")
    ap.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per run")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads (-t)")
    ap.add_argument("--conns", default="32,4", help="wrk connection counts")
    ap.add_argument("--cold-tries", type=lambda v: max(1, int(v)), default=100,
                    help="cold starts to time (at least 1)")
    ap.add_argument("--nozygote-tries", type=int, default=20,
                    help="cold starts with --zygote false, for comparison (0: skip)")
    ap.add_argument("--servers", default="uwsgi,uvicorn,liftoff,liftoff-t1",
                    help="which servers to measure; liftoff-t1 is liftoff with "
                         "--http-threads 1 (default: all four)")
    ap.add_argument("--reps", type=int, default=3,
                    help="measured runs per server and connection count (median reported)")
    ap.add_argument("--async-conns", default="1,8,32",
                    help="wrk connection counts for liftoff's async task submission "
                         "('' skips it)")
    ap.add_argument("--json", help="also write the raw results here")
    args = ap.parse_args()
    args.conns = [int(c) for c in args.conns.split(",")]
    args.async_conns = [int(c) for c in args.async_conns.split(",") if c.strip()]
    started = datetime.datetime.now(datetime.timezone.utc)
    t_start = time.time()

    tmp = tempfile.mkdtemp(prefix="liftoff-bench-")
    args.bin_copy = os.path.join(tmp, "liftoff")
    shutil.copy2(os.path.abspath(args.bin), args.bin_copy)
    args.version = sh(f"{args.bin_copy} --version")
    git = sh(f"git -C {ROOT} rev-parse --short HEAD")
    dirty = sh(f"git -C {ROOT} status --porcelain --untracked-files=no")
    args.git = git + (" (with uncommitted changes)" if dirty else "")
    args.rerun = "`meson compile -C build && bench/run.sh` (about 5 minutes; it installs " \
                 "the Debian packages it needs with apt-get)"
    if os.path.abspath(args.bin) != os.path.join(ROOT, "build", "liftoff"):
        args.rerun += f"; this run used `--bin {args.bin}`, a copy of build/liftoff"
    model = os.path.join(tmp, "model.pkl")
    subprocess.run([PY, os.path.join(PEERS, "make_model.py"), model], check=True)
    m = machine()
    log(f"temp dir {tmp}; {m['nproc']} CPUs, load {' '.join(m['loadavg'])}")

    def on_signal(sig, frame):
        stop_all()
        sys.exit(130)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    tp, cold, cold_nz, mem, asy = [], None, None, None, None
    try:
        tp = throughput(args, tmp, model)
        cold = cold_start(args, tmp, model, True, args.cold_tries)
        if args.nozygote_tries:
            cold_nz = cold_start(args, tmp, model, False, args.nozygote_tries)
        mem = worker_memory(args, tmp, model)
        if args.async_conns:
            asy = async_submit(args, tmp, model)
    finally:
        stop_all()

    md = report(args, m, tp, cold, cold_nz, mem, asy, started)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": m, "throughput": tp, "cold": cold,
                       "cold_nozygote": cold_nz, "memory": mem, "async": asy}, f,
                      indent=1)
    if args.out == "-":
        print(md)
    else:
        with open(args.out, "w") as f:
            f.write(md)
        log(f"wrote {args.out}")
    log(f"done in {time.time() - t_start:.0f} s")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
