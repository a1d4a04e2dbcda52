#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Draws a timeline of one stop_one_cpu round trip and one migration.

    timeline.py TRACE [-o timeline.png] [--stop CPU:ID] [--pid PID] [--steps]

TRACE is a saved trace in text: the `trace` file of tracefs, or the output
of `trace-cmd report`, holding the rmigration:* events and the scheduler's
sched_switch, sched_waking/sched_wakeup and sched_migrate_task, e.g.

    trace-cmd record -e rmigration -e sched_switch -e sched_waking \\
        -e sched_wakeup -e sched_migrate_task <command>
    trace-cmd report > trace.txt

One lane per CPU, time in microseconds. The round trip (the first work named
"stop_one_cpu hook" queued from another CPU, or --stop CPU:ID) shows the
caller queueing and waking, rmigration/N switched in, the work's run, its
completion and the caller back; the migration (the first one, or --pid)
shows the source CPU's thread, the task leaving the source and arriving on
the destination. --steps prints the numbered steps too.
"""

import argparse
import re
import sys

HEAD = re.compile(
    r"^\s*(?P<comm>.*?)-(?P<pid>\d+)\s+(?:\(\s*[\d-]+\)\s+)?\[(?P<cpu>\d+)\]"
    r"\s+(?:\S+\s+)?(?P<ts>\d+\.\d+):\s+(?P<ev>\w+):\s*(?P<rest>.*)$")
# sched_switch and sched_wakeup as tracefs prints them (key=value), and as
# trace-cmd's sched plugin does ("comm:pid [prio] state ==> comm:pid [prio]").
SWITCH_KV = re.compile(
    r"prev_comm=(?P<pc>.*?) prev_pid=(?P<pp>-?\d+) .*?prev_state=(?P<ps>\S+) ==> "
    r"next_comm=(?P<nc>.*?) next_pid=(?P<np>-?\d+)")
SWITCH_TC = re.compile(
    r"(?P<pc>.*?):(?P<pp>-?\d+) \[-?\d+\] (?P<ps>\S+) ==> (?P<nc>.*?):(?P<np>-?\d+) \[")
WAKE_KV = re.compile(r"comm=(?P<c>.*?) pid=(?P<p>\d+) prio=-?\d+ target_cpu=(?P<cpu>\d+)")
WAKE_TC = re.compile(r"(?P<c>.*?):(?P<p>\d+) \[-?\d+\](?: success=\d+)? CPU:(?P<cpu>\d+)")
KV = re.compile(r"(\w+)=(\S*(?: hook)?)")

COLORS = {
    "caller": "#4c78a8",     # the task that asks: stop_one_cpu's caller, the migration's writer
    "thread": "#e45756",     # rmigration/N
    "moved": "#54a24b",      # the task migrated
    "other": "#c7c7c7",      # anything else
}


class Event:
    """One line of the trace."""

    def __init__(self, m):
        self.comm = m["comm"].strip()
        self.pid = int(m["pid"])
        self.cpu = int(m["cpu"])
        self.ts = float(m["ts"]) * 1e6
        self.name = m["ev"]
        self.rest = m["rest"]
        self.f = {}
        if self.name == "sched_switch":
            s = SWITCH_KV.search(self.rest) or SWITCH_TC.search(self.rest)
            if s:
                self.f = {"prev_comm": s["pc"], "prev_pid": int(s["pp"]),
                          "prev_state": s["ps"], "next_comm": s["nc"],
                          "next_pid": int(s["np"])}
        elif self.name in ("sched_wakeup", "sched_waking", "sched_wakeup_new"):
            s = WAKE_KV.search(self.rest) or WAKE_TC.search(self.rest)
            if s:
                self.f = {"comm": s["c"], "pid": int(s["p"]), "target_cpu": int(s["cpu"])}
        else:
            for k, v in KV.findall(self.rest):
                self.f[k] = int(v) if re.fullmatch(r"-?\d+", v) else v


def parse(path):
    events = []
    with open(path, errors="replace") as f:
        for line in f:
            m = HEAD.match(line)
            if m:
                events.append(Event(m))
    events.sort(key=lambda e: e.ts)
    return events


def first(events, pred, after=None):
    for e in events:
        if (after is None or e.ts >= after) and pred(e):
            return e
    return None


def segments(events, gap_us):
    """The stretches of the trace without a gap of gap_us (tracing off)."""
    segs = []
    for e in events:
        if not segs or e.ts - segs[-1][1] > gap_us:
            segs.append([e.ts, e.ts])
        segs[-1][1] = e.ts
    return segs


def running(events, cpus, gap_us):
    """Per CPU, the intervals [start, end, pid, comm] of each task run.

    Every event says which task runs on its CPU; sched_switch says when that
    changes. Within a stretch of the trace without gaps, the first task seen
    on a CPU ran since the stretch began, the last one until it ends.
    """
    runs = {c: [] for c in cpus}
    for a, b in segments(events, gap_us):
        cur = {}
        for e in events:
            if e.ts < a or e.ts > b:
                continue
            c = e.cpu
            if e.name == "sched_switch" and e.f:
                if c not in cur:
                    cur[c] = [a, None, e.f["prev_pid"], e.f["prev_comm"]]
                cur[c][1] = e.ts
                runs.setdefault(c, []).append(cur[c])
                cur[c] = [e.ts, None, e.f["next_pid"], e.f["next_comm"]]
            elif c not in cur:
                cur[c] = [a, None, e.pid, "swapper" if e.pid == 0 else e.comm]
        for c, r in cur.items():
            r[1] = b
            runs.setdefault(c, []).append(r)
    return runs


class Steps:
    """The numbered steps of one panel."""

    def __init__(self):
        self.items = []

    def add(self, e, text, cpu=None):
        if e is not None:
            self.items.append((e.ts, e.cpu if cpu is None else cpu, text))


def round_trip(events, want):
    """The steps of one stop_one_cpu round trip, and the roles of its tasks."""
    queued = {(e.f.get("cpu"), e.f.get("id")): e
              for e in events if e.name == "rmigration_work_queued"}
    start = None
    for e in events:
        if e.name != "rmigration_work_started":
            continue
        key = (e.f.get("cpu"), e.f.get("id"))
        q = queued.get(key)
        if want:
            if key == want:
                start = e
                break
        elif q and e.f.get("name") == "stop_one_cpu hook" and q.cpu != e.cpu:
            start = e
            break
    if start is None:
        return None
    cpu, wid = start.f["cpu"], start.f["id"]
    same = lambda name: lambda e: e.name == name and e.f.get("cpu") == cpu and e.f.get("id") == wid
    q = first(events, same("rmigration_work_queued"))
    w = first(events, same("rmigration_work_waking"))
    d = first(events, same("rmigration_work_done"))
    if q is None or d is None:
        return None
    thread = start.pid
    st = Steps()
    st.add(q, f"{q.comm} (pid {q.pid}) queues work #{wid} on the list of rmigration/{cpu}")
    if w is not None:
        st.add(w, f"{w.comm} wakes rmigration/{cpu}" if w.f.get("first")
               else f"{w.comm} wakes rmigration/{cpu}, busy with earlier works")
    wk = first(events, lambda e: e.name == "sched_waking" and e.f.get("pid") == thread, q.ts)
    st.add(wk, f"sched_waking: rmigration/{cpu} (from CPU {wk.cpu if wk else '?'})")
    sw = first(events, lambda e: e.name == "sched_switch" and e.cpu == cpu
               and e.f.get("next_pid") == thread, q.ts)
    st.add(sw, f"sched_switch: {sw.f['prev_comm'] if sw else '?'} -> rmigration/{cpu}")
    st.add(start, f"rmigration/{cpu} runs the work ({start.f.get('name') or start.f.get('fn')})")
    st.add(d, f"work #{wid} done (ret={d.f.get('ret')}, {d.f.get('latency_ns', 0) / 1000:.1f} us "
           "after queueing): the caller's completion is signalled")
    out = first(events, lambda e: e.name == "sched_switch" and e.f.get("prev_pid") == q.pid, q.ts)
    if out is not None and out.ts < d.ts:
        st.add(out, f"the caller {q.comm} spun until here, then sleeps "
               f"(state {out.f['prev_state']}): waits for the completion")
    end = d.ts
    back = first(events, lambda e: e.name == "sched_switch" and e.f.get("next_pid") == q.pid, d.ts)
    wake_c = first(events, lambda e: e.name in ("sched_wakeup", "sched_waking")
                   and e.f.get("pid") == q.pid, d.ts)
    if back is not None and (back.ts - d.ts) < 5000:
        if wake_c is not None and wake_c.ts <= back.ts:
            st.add(wake_c, f"{wake_c.name}: the caller {q.comm} woken")
        st.add(back, f"sched_switch: the caller {q.comm} back on CPU {back.cpu}, returns")
        end = back.ts
    else:
        st.add(d, f"the caller {q.comm} spun on CPU {q.cpu} meanwhile: it returns at once", q.cpu)
    sb = first(events, lambda e: e.name == "sched_switch" and e.cpu == cpu
               and e.f.get("prev_pid") == thread, d.ts)
    if sb is not None and sb.ts - end < 0.5 * (end - q.ts) + 20:
        st.add(sb, f"sched_switch: rmigration/{cpu} sleeps, {sb.f['next_comm']} runs")
        end = max(end, sb.ts)
    roles = {q.pid: "caller", thread: "thread"}
    title = (f"stop_one_cpu round trip: {q.comm} on CPU {q.cpu} runs a work on CPU {cpu} "
             f"(work #{wid} of rmigration/{cpu})")
    arrows = []
    if sw is not None:
        arrows.append((w or q, sw, "wake-up"))
    if back is not None and end == back.ts or (back is not None and back.ts <= end):
        arrows.append((d, back, "completion"))
    return title, st, roles, (q.ts, end), arrows


def migration(events, want_pid):
    """The steps of one migration, and the roles of its tasks."""
    r = first(events, lambda e: e.name == "rmigration_migrate_request"
              and (want_pid is None or e.f.get("pid") == want_pid))
    if r is None:
        return None
    pid, src, dst = r.f["pid"], r.f["from"], r.f["to"]
    comm = r.f.get("comm", "?")
    st = Steps()
    st.add(r, f"{r.comm} (pid {r.pid}) asks: move {comm} (pid {pid}) from CPU {src} to CPU {dst}")
    s = first(events, lambda e: e.name == "rmigration_work_started" and e.f.get("cpu") == src
              and e.f.get("name") == "migrate", r.ts)
    if s is None:
        return None
    wid = s.f["id"]
    q = first(events, lambda e: e.name == "rmigration_work_queued" and e.f.get("cpu") == src
              and e.f.get("id") == wid)
    st.add(q, f"work #{wid} queued for rmigration/{src}")
    thread = s.pid
    sw = first(events, lambda e: e.name == "sched_switch" and e.cpu == src
               and e.f.get("next_pid") == thread, r.ts)
    if sw is not None:
        left = "leaves CPU " + str(src) if sw.f["prev_pid"] == pid else "runs"
        st.add(sw, f"sched_switch: rmigration/{src} preempts {sw.f['prev_comm']}"
               + (f" ({comm} {left})" if sw.f["prev_pid"] == pid else ""))
    st.add(s, f"rmigration/{src} runs the work: set_cpus_allowed_ptr({comm}, CPU {dst})")
    mt = first(events, lambda e: e.name == "sched_migrate_task" and e.f.get("pid") == pid, s.ts)
    st.add(mt, f"sched_migrate_task: {comm} moved off CPU {src}'s runqueue to CPU {dst}")
    md = first(events, lambda e: e.name == "rmigration_migrate_done" and e.f.get("pid") == pid, s.ts)
    d = first(events, lambda e: e.name == "rmigration_work_done" and e.f.get("cpu") == src
              and e.f.get("id") == wid)
    if md is not None:
        st.add(md, f"outcome: {comm} was {md.f.get('before')} on CPU {md.f.get('before_cpu')}, "
               f"now on CPU {md.f.get('after_cpu')} (ret={md.f.get('ret')})")
    elif d is not None:
        st.add(d, f"work #{wid} done")
    arrive = first(events, lambda e: e.name == "sched_switch" and e.cpu == dst
                   and e.f.get("next_pid") == pid, (mt or s).ts)
    st.add(arrive, f"sched_switch: {comm} arrives, runs on CPU {dst}")
    ends = [x.ts for x in (md, d, arrive) if x is not None]
    roles = {r.pid: "caller", thread: "thread", pid: "moved"}
    title = (f"migration: {comm} (pid {pid}) moved from CPU {src} to CPU {dst} "
             f"through rmigration/{src}")
    arrows = []
    if mt is not None and arrive is not None:
        arrows.append((mt, arrive, f"{comm} moves"))
    if sw is not None and q is not None:
        arrows.append((q, sw, "wake-up"))
    return title, st, roles, (r.ts, max(ends)), arrows


def draw_panel(ax, tax, events, cpus, panel, gap_us):
    title, st, roles, (t0, t1), arrows = panel
    span = max(t1 - t0, 1.0)
    lo, hi = t0 - 0.05 * span, t1 + 0.09 * span
    runs = running(events, cpus, gap_us)
    lane = {c: i for i, c in enumerate(cpus)}
    for c in cpus:
        y = lane[c]
        for (a, b, pid, comm) in runs.get(c, []):
            a, b = max(a, lo), min(b, hi)
            if b <= a or pid == 0:
                continue
            role = roles.get(pid, "other")
            ax.broken_barh([(a - t0, b - a)], (y - 0.16, 0.32), color=COLORS[role],
                           edgecolor="white", linewidth=0.5)
            if (b - a) > 0.09 * (hi - lo):
                ax.text((a + b) / 2 - t0, y, f"{comm} ({pid})", ha="center", va="center",
                        fontsize=8, color="black" if role == "other" else "white")
    # Numbered markers above the lanes, stacked where they would overlap.
    items = [x for _, x in sorted(enumerate(st.items), key=lambda p: (p[1][0], p[0]))]
    placed = {}
    width = 0.028 * (hi - lo)
    for n, (ts, cpu, _text) in enumerate(items, 1):
        levels = placed.setdefault(cpu, [])
        level = 0
        while any(lv == level and abs(x - ts) < width for x, lv in levels):
            level += 1
        levels.append((ts, level))
        y = lane.get(cpu, 0) - 0.32 - 0.17 * level
        ax.plot([ts - t0, ts - t0], [lane.get(cpu, 0) - 0.18, y + 0.07], color="black",
                linewidth=0.6)
        ax.annotate(str(n), (ts - t0, y), ha="center", va="center", fontsize=7.5,
                    color="white", fontweight="bold",
                    bbox=dict(boxstyle="circle,pad=0.22", fc="black", ec="none"))
    for a, b, label in arrows:
        if a is None or b is None:
            continue
        ax.annotate("", xy=(b.ts - t0, lane[b.cpu]), xytext=(a.ts - t0, lane[a.cpu]),
                    arrowprops=dict(arrowstyle="->", color="#555555", linewidth=1.0,
                                    linestyle="--", connectionstyle="arc3,rad=-0.15"))
        ax.text((a.ts + b.ts) / 2 - t0, (lane[a.cpu] + lane[b.cpu]) / 2, label, fontsize=7.5,
                color="#333333", ha="center", va="center", style="italic",
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85))
    ax.set_yticks(range(len(cpus)), [f"CPU {c}" for c in cpus])
    ax.set_ylim(len(cpus) - 0.5, -0.95)
    ax.set_xlim(lo - t0, hi - t0)
    ax.set_xlabel(f"µs after step 1 (trace clock: {t0 / 1e6:.6f} s)")
    ax.set_title(title, fontsize=10.5, loc="left")
    ax.grid(axis="x", color="#eeeeee")
    ax.set_axisbelow(True)
    lines = [f"{n:>2}  {ts - t0:+9.1f} µs  CPU {cpu}  {text}"
             for n, (ts, cpu, text) in enumerate(items, 1)]
    tax.axis("off")
    tax.text(0.0, 1.0, "\n".join(lines), family="monospace", fontsize=8, va="top", ha="left",
             transform=tax.transAxes)
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("trace")
    ap.add_argument("-o", "--output", default="timeline.png")
    ap.add_argument("--stop", help="the round trip's work: CPU:ID")
    ap.add_argument("--pid", type=int, help="the migrated task's pid")
    ap.add_argument("--steps", action="store_true", help="print the steps too")
    ap.add_argument("--gap", type=float, default=50.0,
                    help="a gap of this many ms without events means tracing was off (50)")
    args = ap.parse_args()

    events = parse(args.trace)
    if not events:
        sys.exit(f"{args.trace}: no trace events")
    want = tuple(int(x) for x in args.stop.split(":")) if args.stop else None
    panels = [p for p in (round_trip(events, want), migration(events, args.pid)) if p]
    if not panels:
        sys.exit(f"{args.trace}: no rmigration round trip or migration (rmigration:* events)")
    cpus = sorted({e.cpu for e in events})

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    fig = plt.figure(figsize=(13, 5.2 * len(panels)))
    gs = fig.add_gridspec(2 * len(panels), 1,
                          height_ratios=[3.0, 1.5] * len(panels), hspace=0.42)
    out = []
    for i, p in enumerate(panels):
        ax = fig.add_subplot(gs[2 * i])
        tax = fig.add_subplot(gs[2 * i + 1])
        out.append(draw_panel(ax, tax, events, cpus, p, args.gap * 1000))
    handles = [Patch(color=COLORS["caller"], label="caller / writer"),
               Patch(color=COLORS["thread"], label="rmigration/N thread"),
               Patch(color=COLORS["moved"], label="migrated task"),
               Patch(color=COLORS["other"], label="other task (blank: idle)")]
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.08, 0.965), ncol=4,
               fontsize=8.5, frameon=False)
    fig.suptitle("rmigration: one CPU stop and one migration, from trace events "
                 "(rmigration:*, sched_switch, sched_waking, sched_migrate_task)",
                 fontsize=11.5, x=0.08, ha="left", y=0.99)
    fig.savefig(args.output, dpi=110, bbox_inches="tight")
    if args.steps:
        for p, lines in zip(panels, out):
            print(p[0])
            print("\n".join(lines))


if __name__ == "__main__":
    main()
