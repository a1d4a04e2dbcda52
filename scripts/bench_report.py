#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turns the raw output of scripts/bench.sh into results.csv, table.md and
bench.png (latency CDFs per mechanism), and prints the table.

    bench_report.py OUT_DIR        reads OUT_DIR/raw-*vcpus.txt
"""
import csv
import glob
import os
import re
import sys

KERNEL_CASES = ["rstop_one_cpu", "ipi", "work_on_cpu", "stop_machine"]
MECHS = ["rmigration_hook", "sched_setaffinity"]


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) * p // 100, len(v) - 1)]


def parse(path):
    """Samples of one raw file: {(case, target, label): [ns]}, and header facts."""
    samples, facts = {}, {}
    for line in open(path):
        line = line.strip()
        m = re.match(r"^bench vcpus=(\d+) kernel=(\S+)", line)
        if m:
            facts["vcpus"], facts["kernel"] = int(m.group(1)), m.group(2)
        m = re.match(r"^bench memory per CPU: (.*)", line)
        if m:
            facts["memory"] = m.group(1)
        m = re.match(r"^sample (\S+) (remote|local) (\S+) (\d+)$", line)
        if m:
            samples.setdefault((m.group(1), m.group(2), m.group(3)), []).append(int(m.group(4)))
            continue
        m = re.match(r"^sample (\S+) (\d+)$", line)
        if m:
            samples.setdefault((m.group(1), "remote", "busy task"), []).append(int(m.group(2)))
        m = re.match(r"^case=(\S+) .* errors=(\d+)", line)
        if m and m.group(2) != "0":
            facts.setdefault("errors", []).append(line)
        m = re.match(r"^mech=(\S+) .* errors=(\d+) misplaced=(\d+)", line)
        if m:
            facts.setdefault("moves", {})[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return samples, facts


def us(ns):
    return f"{ns / 1000:.1f}"


def main():
    out = sys.argv[1]
    runs = []
    for path in sorted(glob.glob(os.path.join(out, "raw-*vcpus.txt")),
                       key=lambda p: int(re.search(r"raw-(\d+)", p).group(1))):
        samples, facts = parse(path)
        if samples:
            runs.append((facts, samples))
    if not runs:
        sys.exit("no benchmark results in " + out)

    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["vcpus", "mechanism", "target", "label", "ns"])
        for facts, samples in runs:
            for (case, target, label), values in sorted(samples.items()):
                for v in values:
                    w.writerow([facts["vcpus"], case, target, label, v])

    lines = []
    for facts, s in runs:
        lines.append(f"### {facts['vcpus']} vCPUs, kernel {facts.get('kernel', '?')}")
        lines.append("")
        lines.append("| mechanism | target | p50 µs | p90 µs | p99 µs | max µs | n |")
        lines.append("|---|---|---:|---:|---:|---:|---:|")
        for case in KERNEL_CASES:
            for target, label in [("remote", "idle"), ("remote", "busy"), ("local", "idle")]:
                v = s.get((case, target, label))
                if v:
                    lines.append(f"| {case} | {target} CPU, {label} | {us(pct(v, 50))} | "
                                 f"{us(pct(v, 90))} | {us(pct(v, 99))} | {us(max(v))} | {len(v)} |")
        for mech in MECHS:
            v = s.get((mech, "remote", "busy task"))
            if v:
                lines.append(f"| {mech} (move a busy task) | CPU 1 <-> 2 (1 <-> 0 on 2 vCPUs) | {us(pct(v, 50))} | "
                             f"{us(pct(v, 90))} | {us(pct(v, 99))} | {us(max(v))} | {len(v)} |")
        lines.append("")

        def ratio(a, b, p):
            if a and b:
                return pct(a, p) / pct(b, p)
            return float("nan")

        r1 = ratio(s.get(("rstop_one_cpu", "remote", "idle")), s.get(("ipi", "remote", "idle")), 50)
        r2 = ratio(s.get(("rstop_one_cpu", "remote", "busy")), s.get(("work_on_cpu", "remote", "busy")), 99)
        r3 = ratio(s.get(("rmigration_hook", "remote", "busy task")),
                   s.get(("sched_setaffinity", "remote", "busy task")), 50)
        lines.append(f"- p50 rstop_one_cpu / IPI, remote idle: **{r1:.2f}x** (target <= 1.5x)")
        lines.append(f"- p99 rstop_one_cpu / work_on_cpu, remote busy: **{r2:.2f}x** (target <= 0.5x)")
        lines.append(f"- p50 migrate hook / sched_setaffinity: **{r3:.2f}x** (target <= 1.1x)")
        if "memory" in facts:
            lines.append(f"- memory per CPU: {facts['memory']}")
        for mech, (errors, misplaced) in facts.get("moves", {}).items():
            if errors or misplaced:
                lines.append(f"- {mech}: {errors} errors, {misplaced} moves not on the destination")
        for e in facts.get("errors", []):
            lines.append(f"- errors: {e}")
        lines.append("")
    table = "\n".join(lines)
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(table)
    print(table)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("remote", "idle", KERNEL_CASES, "remote CPU idle"),
              ("remote", "busy", KERNEL_CASES, "remote CPU running a CPU-bound task"),
              ("remote", "busy task", MECHS, "moving a busy task between two CPUs")]
    fig, axes = plt.subplots(len(runs), 3, figsize=(15, 3.6 * len(runs)), squeeze=False)
    for row, (facts, s) in enumerate(runs):
        for col, (target, label, cases, title) in enumerate(panels):
            ax = axes[row][col]
            for case in cases:
                v = sorted(s.get((case, target, label), []))
                if v:
                    ax.plot([x / 1000 for x in v], [(i + 1) / len(v) for i in range(len(v))], label=case)
            ax.set_xscale("log")
            ax.set_xlabel("latency (µs, log)")
            ax.set_ylabel("CDF")
            ax.set_title(f"{facts['vcpus']} vCPUs: {title}", fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
    fig.suptitle("rmigration vs the kernel's mechanisms (QEMU TCG, no KVM: compare ratios, not absolute times)")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "bench.png"), dpi=90)


if __name__ == "__main__":
    main()
