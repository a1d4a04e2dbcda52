#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Splits the moves of tests/bench/migrate-steps.sh's trace into steps and
prints the median of each, per mechanism (µs):

  enter -> thread woken      the system call, until the stopper thread of
                             the task's CPU is being woken
  woken -> switched in       that thread's wake-up
  switched in -> moved       until sched_migrate_task of the moved task
  moved -> thread out        the rest of the work, the thread's exit
  thread out -> exit         until the system call returns
  enter -> exit              the whole system call

and how many of the moves had the caller sleep (switched out).

usage: migrate_steps.py TRACE
"""
import re
import statistics
import sys

EVENT = re.compile(r"^\s*(\S+)-(\d+)\s+\[(\d+)\] \S+\s+([\d.]+): (\w+): (.*)")
THREAD = re.compile(r"r?migration/\d+$")


def moves(lines):
    """Each system call of migrate_bench, with the times of its steps."""
    events = [m for m in map(EVENT.match, lines) if m]
    callers = [int(m[2]) for m in events if m[1] == "migrate_bench" and m[5] == "sys_enter"]
    if not callers:
        return
    caller = max(set(callers), key=callers.count)
    cur = None
    for m in events:
        pid, t, kind, rest = int(m[2]), float(m[4]) * 1e6, m[5], m[6]
        if kind == "sys_enter" and pid == caller:
            nr = int(re.search(r"NR (\d+)", rest)[1])
            cur = {"mech": "rmigration_hook" if nr == 1 else "sched_setaffinity", "enter": t}
        elif cur is None:
            continue
        elif kind == "sched_waking":
            comm = re.search(r"comm=(\S+)", rest)[1]
            if THREAD.match(comm) and "wake" not in cur:
                cur.update(wake=t, thread=comm)
        elif kind == "sched_switch":
            nxt, prev = re.search(r"next_comm=(\S+)", rest)[1], re.search(r"prev_comm=(\S+)", rest)[1]
            if prev == "migrate_bench" and int(re.search(r"prev_pid=(\d+)", rest)[1]) == caller:
                cur["slept"] = True
            if nxt == cur.get("thread") and "in" not in cur:
                cur["in"] = t
            elif prev == cur.get("thread") and "in" in cur and "out" not in cur:
                cur["out"] = t
        elif kind == "sched_migrate_task" and "in" in cur and "moved" not in cur:
            cur["moved"] = t
        elif kind == "sys_exit" and pid == caller:
            cur["exit"] = t
            yield cur
            cur = None


STEPS = [("enter -> thread woken", "enter", "wake"), ("woken -> switched in", "wake", "in"),
         ("switched in -> moved", "in", "moved"), ("moved -> thread out", "moved", "out"),
         ("thread out -> exit", "out", "exit"), ("enter -> exit", "enter", "exit")]


def main():
    lines = open(sys.argv[1]).read().split("\n")
    if "=== trace" in lines:
        lines = lines[lines.index("=== trace"):]
    by = {}
    for mv in moves(lines):
        by.setdefault(mv["mech"], []).append(mv)
    print("| mechanism | moves (complete) | caller slept | " + " | ".join(s[0] for s in STEPS) + " |")
    print("|---|---:|---:|" + "---:|" * len(STEPS))
    for mech, mvs in sorted(by.items()):
        ok = [m for m in mvs if all(k in m for k in ("wake", "in", "moved", "out", "exit"))]
        if not ok:
            continue
        cells = [f"{statistics.median(m[b] - m[a] for m in ok):.1f}" for _, a, b in STEPS]
        slept = sum(1 for m in ok if m.get("slept"))
        print(f"| {mech} | {len(mvs)} ({len(ok)}) | {slept} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
