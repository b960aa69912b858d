"""/proc readers for the benchmark: CPU ticks and memory of process trees."""
import os
import re


def proc_stat(pid):
    """(ppid, cpu ticks incl. reaped children, starttime, own cpu ticks)
    or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    # rest[0] is field 3 (state); utime=14, stime=15, cutime=16, cstime=17
    ppid = int(rest[1])
    ticks = int(rest[11]) + int(rest[12]) + int(rest[13]) + int(rest[14])
    return ppid, ticks, int(rest[19]), int(rest[11]) + int(rest[12])


def tree(root):
    """pids of root and all its descendants."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st:
                children.setdefault(st[0], []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_ticks(root):
    """CPU ticks (utime+stime, plus cutime+cstime so that children reaped
    during the run still count) of the whole process tree."""
    total = 0
    for p in tree(root):
        st = proc_stat(p)
        if st:
            total += st[1]
    return total


def split_ticks(root):
    """CPU ticks by part: the root process's threads by thread name
    ("main:<comm>"), and "children" for all its descendants."""
    out = {}
    for p in tree(root):
        if p != root:
            st = proc_stat(p)
            if st:
                out["children"] = out.get("children", 0) + st[1]
            continue
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tids:
            try:
                with open(f"/proc/{p}/task/{t}/stat") as f:
                    s = f.read()
            except OSError:
                continue
            rest = s[s.rindex(")") + 2:].split()
            key = "main:" + s[s.index("(") + 1:s.rindex(")")]
            out[key] = out.get(key, 0) + int(rest[11]) + int(rest[12])
    return out


def smaps(pid):
    """smaps_rollup fields in KiB."""
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                m = re.match(r"(\w+):\s+(\d+) kB", line)
                if m:
                    out[m.group(1)] = int(m.group(2))
    except OSError:
        pass
    return out


def tree_mem(root):
    pss = rss = priv = 0
    pids = tree(root)
    for p in pids:
        s = smaps(p)
        pss += s.get("Pss", 0)
        rss += s.get("Rss", 0)
        priv += s.get("Private_Clean", 0) + s.get("Private_Dirty", 0)
    return {"pss_kib": pss, "rss_kib": rss, "private_kib": priv, "nprocs": len(pids)}


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def all_ticks():
    """{pid: (starttime, own utime+stime)} of every process. Reaped
    children's time (cutime) is left out: a parent reaping a long-lived
    child would bring in CPU used long before the run."""
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st:
                out[int(d)] = (st[2], st[3])
    return out


def other_ticks(before, after, exclude):
    """CPU ticks used between two all_ticks() snapshots by processes not in
    exclude (processes started in between count whole; those that ended in
    between are missed)."""
    total = 0
    for pid, (start_t, ticks) in after.items():
        if pid in exclude:
            continue
        b = before.get(pid)
        total += ticks - b[1] if b and b[0] == start_t else ticks
    return max(0, total)


def cpu_busy():
    """(busy, irq) jiffies of the whole machine from /proc/stat: busy is
    user+nice+system+steal, irq is irq+softirq (loopback networking is
    partly accounted there, to no process)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2] + v[7], v[5] + v[6]
