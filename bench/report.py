"""The benchmark's markdown report (docs/benchmarks.md) and machine facts."""
import os
import platform
import subprocess

PY = "/usr/bin/python3"


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])

    def ver(pkg):
        return sh(f"dpkg-query -W -f='${{Version}}' {pkg} 2>/dev/null") or "not installed"

    return {
        "nproc": os.cpu_count(), "cpu": cpu, "mem_gib": mem_kib / 1048576,
        "kernel": platform.release(),
        "debian": sh("cat /etc/debian_version"),
        "versions": {p: ver(p) for p in (
            "uwsgi", "uwsgi-plugin-python3", "uvicorn", "python3-fastapi",
            "python3-starlette", "python3", "python3-cloudpickle", "wrk",
            "python3-uvloop", "python3-httptools")},
        "python": sh(f"{PY} -c 'import sys; print(sys.version.split()[0])'"),
        "uvicorn_impl": sh(f"{PY} -c 'import importlib.util as u; "
                           "print(\"uvloop\" if u.find_spec(\"uvloop\") else \"asyncio\", "
                           "\"httptools\" if u.find_spec(\"httptools\") else \"h11\")'"),
        "loadavg": open("/proc/loadavg").read().split()[:3],
    }


def fmt(v, nd=0):
    return "n/a" if v is None else f"{v:,.{nd}f}"


def ratio(a, b):
    return None if not a or not b else a / b


def report(args, m, tp, cold, cold_nz, mem, asy, started):
    L = []
    w = L.append
    vers = m["versions"]
    w("# liftoff benchmarks\n")
    w("Written by `bench/run.sh` (do not edit by hand; rerun it). The numbers below come from "
      "one machine on one day; see \"Caveats\" before reading much into small differences.\n")
    w(f"- Date: {started.strftime('%Y-%m-%d %H:%M UTC')}")
    w(f"- liftoff: `{args.version}`, tree `{args.git}`")
    w(f"- Machine: {m['nproc']} CPUs ({m['cpu']}), {m['mem_gib']:.1f} GiB memory, "
      f"kernel {m['kernel']}, Debian {m['debian']}; load average before the run "
      f"{' '.join(m['loadavg'])}")
    w(f"- Peers (Debian packages): uwsgi {vers['uwsgi']} with uwsgi-plugin-python3 "
      f"{vers['uwsgi-plugin-python3']}; uvicorn {vers['uvicorn']} (event loop and HTTP parser: "
      f"{m['uvicorn_impl']}) with python3-fastapi {vers['python3-fastapi']} and starlette "
      f"{vers['python3-starlette']}; Python {m['python']} (python3 {vers['python3']}), "
      f"python3-cloudpickle {vers['python3-cloudpickle']}; wrk {vers['wrk']}")
    w(f"- Rerun: {args.rerun}\n")

    w("## Throughput and latency: the reference model behind `POST /v1/sync-tasks`\n")
    w("The Launch quick-start model (`predict(x, y) = 2*x + len(y)`, cloudpickled by "
      "`bench/peers/make_model.py`), the body `{\"args\":{\"x\":5,\"y\":\"hello\"},"
      "\"return_pickled\":false}`, the answer "
      "`{\"status\":\"SUCCESS\",\"result\":{\"result\":\"15\"},...}`, on 127.0.0.1. "
      "Each server runs 2 model processes: uWSGI `--processes 2 --master` "
      "(`bench/peers/wsgi_app.py`), uvicorn `--workers 2` (`bench/peers/fastapi_app.py`), "
      "liftoff an endpoint with min_workers = max_workers = 2, per_worker 1 (and its "
      "zygote, and 2 HTTP threads in the server process, the default). The row "
      "`liftoff --http-threads 1` is the same endpoint on a server with 1 HTTP thread, "
      "for comparison: the targets below are judged on the default. All servers run at "
      "the same time, idle but for the one under load.\n")
    w(f"Load: `wrk -t{args.threads} -cC -d{args.duration}s --latency -s bench/post.lua URL`, "
      f"C = {' and '.join(str(c) for c in args.conns)}, "
      f"after a {args.warmup} s warm-up run per server and connection count whose every "
      f"answer is checked. The measured runs go in {args.reps} rounds, each round running "
      "every server at every connection count (so a slow spell of the machine hits all "
      "servers alike); each cell is the **median over the rounds** (req/s range: the "
      "lowest and highest run). CPU per request is "
      "utime+stime (and cutime+cstime) of the server's whole process tree from "
      "`/proc/PID/stat` over the measured run, divided by the requests wrk completed. Memory "
      "is the sum over the process tree after the run, from `/proc/PID/smaps_rollup`. "
      "\"Other load\" is the CPU time of every other process on the machine (kernel "
      "threads included, wrk and this script excluded) over the run, in cores.\n")
    for c in args.conns:
        rows = [r for r in tp if r["conns"] == c]
        w(f"### {c} connections\n")
        w("| server | req/s | req/s range | p50 ms | p99 ms | CPU µs/req | server cores | "
          "wrk cores | other load | PSS MiB | RSS MiB | procs | errors |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for r in rows:
            errs = []
            if r["non2xx"]:
                errs.append(f"{r['non2xx']} non-2xx")
            if r["socket_errors"]:
                errs.append(f"{r['socket_errors']} socket errors")
            if r["reconnects"]:
                errs.append("none (a new connection per request, see below)")
            if r["warmup_bad"] or r["warmup_non2xx"]:
                errs.append(f"warm-up: {r['warmup_bad']} wrong of {r['warmup_checked']}")
            if r["verify_problems"]:
                errs.append(f"{len(r['verify_problems'])} wrong of 5 checked")
            if r.get("note"):
                errs.append(r["note"])
            w(f"| {r['server']} | {fmt(r['rps'])} | {fmt(r['rps_min'])}–{fmt(r['rps_max'])} | "
              f"{fmt(r['p50_ms'], 2)} | "
              f"{fmt(r['p99_ms'], 2)} | {fmt(r['cpu_us_per_req'])} | {r['server_cores']:.2f} | "
              f"{r['wrk_cores']:.2f} | {r['other_cores']:.2f} | "
              f"{r['pss_kib'] / 1024:.1f} | "
              f"{r['rss_kib'] / 1024:.1f} | {r['nprocs']} | {', '.join(errs) or 'none'} |")
        w("")
    w("### Where the CPU per request goes\n")
    w("CPU µs per request split by part: the server's first process by thread name "
      "(liftoff: `MHD-worker` are the HTTP threads, `MHD-single` the one HTTP thread of "
      "`--http-threads 1`, `liftoff` the runtime event loop and the main thread; uWSGI: "
      "the master; uvicorn: the supervisor) and all its child "
      "processes together (the model processes; liftoff's zygote included).\n")
    w("| server | connections | split (µs/req) |")
    w("|---|---:|---|")
    for r in tp:
        parts = sorted(r.get("cpu_split_us", {}).items(), key=lambda kv: -kv[1])
        w(f"| {r['server']} | {r['conns']} | " +
          ", ".join(f"{k.replace('main:', '')} {v:.0f}" for k, v in parts) + " |")
    w("")
    by = {(r["server"], r["conns"]): r for r in tp}
    w("### Ratios (liftoff / peer)\n")
    w("| liftoff | connections | req/s vs uWSGI | p99 vs uWSGI | req/s vs uvicorn | "
      "p99 vs uvicorn |")
    w("|---|---:|---:|---:|---:|---:|")
    variants = [lab for lab in dict.fromkeys(r["server"] for r in tp)
                if lab.startswith("liftoff")]
    for lab in variants:
        for c in args.conns:
            lo, uw, uv = by.get((lab, c)), by.get(("uWSGI", c)), by.get(("uvicorn", c))
            if not lo:
                continue
            cells = []
            for peer in (uw, uv):
                for k in ("rps", "p99_ms"):
                    q = ratio(lo[k], peer[k]) if peer else None
                    cells.append("n/a" if q is None else f"{q:.2f}")
            w(f"| {lab} | {c} | " + " | ".join(cells) + " |")
    w("\nFor req/s higher is better for liftoff; for p99 lower is better.\n")

    w("## liftoff cold start\n")
    w(f"An endpoint with min_workers 0, max_workers 1 on a server started with "
      f"`--scale-down-idle-s 0`. {cold['tries']} tries of: poll `GET /v1/model-endpoints?name=` "
      "until `available_workers` is 0, then time one `POST /v1/sync-tasks` from send to answer "
      "(python-requests, a kept-alive connection). The request starts a worker (forked from "
      "the endpoint's zygote), runs the model and answers.\n")
    w("| workers from | tries | p50 ms | p99 ms | min ms | max ms | wrong answers |")
    w("|---|---:|---:|---:|---:|---:|---:|")
    for cs, lab in ((cold, "zygote (default)"), (cold_nz, "`--zygote false` (fresh process)")):
        if cs:
            w(f"| {lab} | {cs['tries']} | {cs['p50_ms']:.1f} | {cs['p99_ms']:.1f} | "
              f"{cs['min_ms']:.1f} | {cs['max_ms']:.1f} | {len(cs['problems'])} |")
    w("")
    w(f"Between tries the idle worker was stopped and reported gone "
      f"{cold['scale_down_wait_p50_ms']:.0f} ms (p50) after the answer.\n")

    w("## liftoff memory per extra worker\n")
    w("An endpoint with min_workers = max_workers = 1, then updated with `PUT` to 5 and "
      "waited for until `available_workers` is 5. Private memory is "
      "Private_Clean + Private_Dirty of each worker process (memory no other process "
      "shares); the PSS delta is (PSS of the server's whole process tree with 5 workers "
      "- with 1) / 4. Measured idle, right after the workers start, and again after "
      "each has served requests (2 s of `wrk -c5`).\n")
    idle = mem["workers_idle"]
    busy = mem["workers_after_requests"]
    w("| | private KiB per worker | PSS KiB per worker | RSS KiB per worker |")
    w("|---|---|---|---|")
    w("| idle | " + ", ".join(str(x["private_kib"]) for x in idle) + " | " +
      ", ".join(str(x["pss_kib"]) for x in idle) + " | " +
      ", ".join(str(x["rss_kib"]) for x in idle) + " |")
    w("| after requests | " + ", ".join(str(x["private_kib"]) for x in busy) + " | " +
      ", ".join(str(x["pss_kib"]) for x in busy) + " | " +
      ", ".join(str(x["rss_kib"]) for x in busy) + " |")
    w("")
    z = mem["zygote"][0] if mem["zygote"] else None
    w(f"- PSS delta per extra worker: **{mem['pss_delta_per_worker_kib'] / 1024:.2f} MiB** "
      f"(tree PSS {mem['tree_1']['pss_kib'] / 1024:.1f} MiB with 1 worker, "
      f"{mem['tree_5']['pss_kib'] / 1024:.1f} MiB with 5, "
      f"{mem['tree_5_after_requests']['pss_kib'] / 1024:.1f} MiB after requests)")
    if z:
        w(f"- The zygote: private {z['private_kib']} KiB, PSS {z['pss_kib']} KiB, "
          f"RSS {z['rss_kib']} KiB; the server process: private "
          f"{mem['server']['private_kib']} KiB, RSS {mem['server']['rss_kib']} KiB")
    w("")

    if asy:
        w("## liftoff async task submission\n")
        w("`POST /v1/async-tasks` with the same body to an async endpoint with 2 workers, "
          f"`wrk -tT -cC -d{args.duration}s` (T = min({args.threads}, C)), {args.reps} runs per "
          "row, median. Each answer (the task id) is sent once the task's row is committed "
          "to SQLite with a sync, so this measures how many tasks the server accepts durably "
          "per second while its workers run them. New tasks that arrive while a commit is "
          "under way are committed together in the next one.\n")
        w("| connections | req/s | req/s range | p50 ms | p99 ms | errors |")
        w("|---:|---:|---:|---:|---:|---|")
        for r in asy["rows"]:
            errs = [f"{r[k]} {k.replace('_', ' ')}" for k in ("non2xx", "socket_errors")
                    if r[k]]
            w(f"| {r['conns']} | {fmt(r['rps'])} | {fmt(r['rps_min'])}–{fmt(r['rps_max'])} | "
              f"{fmt(r['p50_ms'], 2)} | {fmt(r['p99_ms'], 2)} | {', '.join(errs) or 'none'} |")
        w("")
        if asy["problems"]:
            w(f"A task sent before the runs did not end as expected: {asy['problems'][0]}\n")
        else:
            w("A task sent before the runs ended `SUCCESS` with `{\"result\": \"15\"}`.\n")

    # targets
    lo32, uw32 = by.get(("liftoff", 32)), by.get(("uWSGI", 32))
    w("## The issue's targets\n")
    w("| target | measured | verdict |")
    w("|---|---|---|")
    if lo32 and uw32:
        ok = lo32["rps"] >= uw32["rps"] and lo32["p99_ms"] <= uw32["p99_ms"] \
            and not lo32["non2xx"] and not lo32["warmup_bad"]
        w(f"| at 32 connections, req/s ≥ uWSGI's and p99 ≤ uWSGI's | "
          f"{lo32['rps']:,.0f} vs {uw32['rps']:,.0f} req/s "
          f"({lo32['rps'] / uw32['rps']:.2f}×); p99 {lo32['p99_ms']:.2f} vs "
          f"{uw32['p99_ms']:.2f} ms | {'met' if ok else 'not met'} |")
    ok = cold["p99_ms"] < 50
    w(f"| cold start under 50 ms | p50 {cold['p50_ms']:.1f} ms, p99 {cold['p99_ms']:.1f} ms "
      f"| {'met' if ok else ('not met (p50 under, p99 over)' if cold['p50_ms'] < 50 else 'not met')}"
      f" (judged on p99) |")
    worst = max(x["private_kib"] for x in idle) if idle else None
    worst_b = max(x["private_kib"] for x in busy) if busy else None
    ok = worst is not None and worst < 4096
    w(f"| under 4 MiB private memory per extra worker | idle: at most {worst / 1024:.2f} MiB "
      f"per worker, PSS delta {mem['pss_delta_per_worker_kib'] / 1024:.2f} MiB; after "
      f"requests: at most {worst_b / 1024:.2f} MiB | {'met' if ok else 'not met'}"
      f"{'' if not ok or worst_b < 4096 else ' idle, not met after requests'} |")
    w("")

    w("## Caveats\n")
    w(f"- The machine has {m['nproc']} CPUs and wrk runs on the same machine: wrk "
      f"(`-t{args.threads}` for every server) takes a large share of the CPU (the \"wrk "
      "cores\" column), so req/s here is lower than the servers could do alone and "
      "depends on how cheaply each one answers. All servers get the same wrk settings.")
    w("- \"Other load\" is CPU used by other processes during the measurement (median "
      "over the rounds). Where it is above ~0.1 cores, something else competed for the "
      "2 CPUs and that cell is less trustworthy: rerun when the machine is quiet. On a "
      "virtual machine, neighbours on the host can slow a run without showing here; the "
      "req/s range shows how much the rounds disagreed.")
    w(f"- Medians of {args.reps} runs per cell; p99 varies more than req/s between runs.")
    w("- PSS splits each shared page among all the processes on the machine that map it, "
      "including those of the other servers (running at the same time) and of anything "
      "else using the same libpython: tree PSS totals move with what else runs. RSS "
      "counts shared pages whole in every process. Per-worker private memory is the "
      "number that does not depend on other processes.")
    w("- The peers answer the same JSON as liftoff but skip auth; liftoff checks HTTP basic "
      "auth on every request.")
    w("- uWSGI's `--http-socket` has no keep-alive: it closes the connection after each "
      "answer and wrk opens a new one (wrk counts these as read errors; they are not "
      "failures). So uWSGI pays a TCP connect per request, and its req/s includes that. "
      "Its keep-alive mode (`--http11-socket`) is no fairer: a sync worker then keeps one "
      "connection to itself, and 30 of 32 connections starve.")
    w("- uvicorn uses uvloop and httptools (Debian's python3-uvloop, python3-httptools), "
      "as `uvicorn[standard]` does; the FastAPI route reads the raw body (no pydantic "
      "model).")
    w("")
    return "\n".join(L)


# --------------------------------------------------------------------------
