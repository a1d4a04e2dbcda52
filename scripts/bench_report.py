#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turns the raw output of scripts/bench.sh into results.csv, table.md and
bench.png (latency CDFs per mechanism and the step breakdown of a round
trip), and prints the table.

    bench_report.py OUT_DIR        reads OUT_DIR/raw-*vcpus.txt

Each VM repeats the benchmark (runs); a figure in the tables is the median,
over the runs, of that run's percentile, so one noisy run does not decide
a ratio; a max is the max over all runs. Ratios are taken between figures
of the same VM.

results.csv has one row per sample; its last column says of what:
latency (a round trip, or a move of the migration benchmark), hold (per
machine stop, the longest stretch a participant's stopper thread stayed
on its CPU), irqsoff (per machine stop, the longest interrupts-off window
of one), caller_cpu and caller_wall (per one-CPU round trip, the caller's
CPU time and the round trip's wall time).
"""
import csv
import glob
import os
import re
import statistics
import sys

ONE_CPU_CASES = ["rstop_one_cpu", "stop_core", "ipi", "work_on_cpu", "stop_machine"]
# Every online CPU stopped, fn on the remote or the local CPU; then the pair
# of the caller's CPU and the remote one (remote only).
MULTI_CASES = ["rstop_machine", "rstop_two_cpus", "stop_machine_two"]
PAIR_CASES = ["rstop_two_cpus", "stop_machine_two"]
KERNEL_CASES = ONE_CPU_CASES + MULTI_CASES
# Ours against the kernel's, for the multi-CPU stops.
MULTI_PAIRS = [("rstop_machine", "stop_machine", "`rstop_machine` / `stop_machine`", 1.0),
               ("rstop_two_cpus", "stop_machine_two", "`rstop_two_cpus` / `stop_machine` on the two CPUs", None)]
MECHS = ["rmigration_hook", "sched_setaffinity"]
STEPS = ["call_wake", "wake_in", "in_fn", "fn_done", "done_back", "back_return"]
STEP_LABELS = {
    "call_wake": "call -> thread woken",
    "wake_in": "woken -> switched in",
    "in_fn": "switched in -> fn",
    "fn_done": "fn -> caller woken",
    "done_back": "caller woken -> switched in",
    "back_return": "switched in -> returned",
}
HOST_CORES = os.cpu_count() or 2
# The probed figures, ours against the kernel's: the participants' hold in
# a machine stop of every CPU (fn on the remote CPU), and the caller's CPU
# time per one-CPU round trip to the remote CPU.
HOLD_PAIR = ("rstop_machine", "stop_machine")
CPUTIME_PAIR = ("rstop_one_cpu", "stop_core")
PROBED_FIGURES = ["hold", "irqsoff", "caller_cpu", "caller_wall"]


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) * p // 100, len(v) - 1)]


def parse(path):
    """One raw file: samples {(run, case, target, label): [ns]},
    breakdowns {(run, case, target): {step: ns}}, probed
    {(figure, run, case, label): [ns]} (figure: one of PROBED_FIGURES,
    or exec_mean, one value per run) and header facts."""
    samples, breakdowns, probed, facts = {}, {}, {}, {}
    run = 1
    for line in open(path):
        line = line.strip()
        m = re.match(r"^bench vcpus=(\d+) kernel=(\S+)", line)
        if m:
            facts["vcpus"], facts["kernel"] = int(m.group(1)), m.group(2)
        m = re.match(r"^bench clocksource=(\S+)", line)
        if m:
            facts["clocksource"] = m.group(1)
        m = re.match(r"^bench run=(\d+)", line)
        if m:
            run = int(m.group(1))
        m = re.match(r"^bench memory per CPU: (.*)", line)
        if m:
            facts["memory"] = m.group(1)
        m = re.match(r"^smt siblings: (.*)", line)
        if m:
            facts["smt"] = m.group(1)
        m = re.match(r"^sample (\S+) (remote|local) (\S+) (\d+)$", line)
        if m:
            samples.setdefault((run, m.group(1), m.group(2), m.group(3)), []).append(int(m.group(4)))
            continue
        m = re.match(r"^sample (\S+) (\d+)$", line)
        if m:
            samples.setdefault((run, m.group(1), "remote", "busy task"), []).append(int(m.group(2)))
        m = re.match(r"^(hold|irqsoff) (\S+) remote (\S+) (\d+)$", line)
        if m:
            probed.setdefault((m.group(1), run, m.group(2), m.group(3)), []).append(int(m.group(4)))
            continue
        m = re.match(r"^cputime (\S+) remote (\S+) (\d+) (\d+)$", line)
        if m:
            probed.setdefault(("caller_cpu", run, m.group(1), m.group(2)), []).append(int(m.group(3)))
            probed.setdefault(("caller_wall", run, m.group(1), m.group(2)), []).append(int(m.group(4)))
            continue
        m = re.match(r"^cputime case=(\S+) target=remote label=(\S+) .* exec_mean=(\d+)$", line)
        if m:
            probed[("exec_mean", run, m.group(1), m.group(2))] = [int(m.group(3))]
        m = re.match(r"^hold case=\S+ .* missed=(\d+)", line)
        if m and m.group(1) != "0":
            facts.setdefault("errors", []).append(line)
        if re.match(r"^(hold|cputime)(:| case=\S+:) no ", line):
            facts.setdefault("errors", []).append(line)
        m = re.match(r"^breakdown case=(\S+) target=(\S+) label=\S+ n=\d+ (.*) total=(\d+)", line)
        if m:
            steps = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(3))}
            steps["total"] = int(m.group(4))
            breakdowns[(run, m.group(1), m.group(2))] = steps
        m = re.match(r"^case=(\S+) .* errors=(\d+)", line)
        if m and m.group(2) != "0":
            facts.setdefault("errors", []).append(line)
        m = re.match(r"^mech=(\S+) .* errors=(\d+) misplaced=(\d+)", line)
        if m and (m.group(2) != "0" or m.group(3) != "0"):
            facts.setdefault("errors", []).append(line)
    facts["runs"] = max([k[0] for k in samples] + [1])
    return samples, breakdowns, probed, facts


class Vm:
    """The results of one VM: figures are medians over its runs."""

    def __init__(self, path):
        self.samples, self.breakdowns, self.probed, self.facts = parse(path)
        self.vcpus = self.facts.get("vcpus", 0)

    def runs_of(self, case, target, label):
        return [v for (r, c, t, l), v in sorted(self.samples.items())
                if (c, t, l) == (case, target, label)]

    def fig(self, case, target, label, p):
        """Median over the runs of the p-th percentile, in ns (None if absent)."""
        runs = self.runs_of(case, target, label)
        return statistics.median(pct(v, p) for v in runs) if runs else None

    def probed_runs(self, figure, case, label):
        return [v for (f, r, c, l), v in sorted(self.probed.items())
                if (f, c, l) == (figure, case, label) and v]

    def probed_fig(self, figure, case, label, stat):
        """A probed figure in ns: stat is a percentile (the median over the
        runs of each run's), "max" (over all runs) or "mean" (the median
        over the runs of each run's mean); None if absent."""
        runs = self.probed_runs(figure, case, label)
        if not runs:
            return None
        if stat == "max":
            return max(max(v) for v in runs)
        if stat == "mean":
            return statistics.median(statistics.mean(v) for v in runs)
        return statistics.median(pct(v, stat) for v in runs)

    def step(self, case, target, step):
        vals = [b[step] for (r, c, t), b in self.breakdowns.items()
                if (c, t) == (case, target) and step in b]
        return statistics.median(vals) if vals else None

    def title(self):
        over = self.vcpus > HOST_CORES
        return f"{self.vcpus} vCPUs" + (f" (oversubscribed: {HOST_CORES} host cores)" if over else "")


def us(ns):
    return "-" if ns is None else f"{ns / 1000:.1f}"


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt_ratio(r, target=None):
    if r is None:
        return "-"
    s = f"{r:.2f}x"
    if target is not None:
        s = f"**{s}**" if r <= target else f"{s} (miss)"
    return s


def probed_row(name, vms, ours, kernel, label, stats):
    """A table row of probed figures, ours / kernel's: per VM, one cell per
    (figure, stat) of STATS."""
    row = f"| {name} |"
    for vm in vms:
        for figure, stat in stats:
            a, b = vm.probed_fig(figure, ours, label, stat), vm.probed_fig(figure, kernel, label, stat)
            row += f" {us(a)} / {us(b)} µs = {fmt_ratio(ratio(a, b))} |"
    return row


def main():
    out = sys.argv[1]
    vms = []
    for path in sorted(glob.glob(os.path.join(out, "raw-*vcpus.txt")),
                       key=lambda p: int(re.search(r"raw-(\d+)", p).group(1))):
        vm = Vm(path)
        if vm.samples:
            vms.append(vm)
    if not vms:
        sys.exit("no benchmark results in " + out)

    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["vcpus", "run", "mechanism", "target", "label", "ns", "figure"])
        for vm in vms:
            for (run, case, target, label), values in sorted(vm.samples.items()):
                for v in values:
                    w.writerow([vm.vcpus, run, case, target, label, v, "latency"])
            for (figure, run, case, label), values in sorted(vm.probed.items()):
                if figure in PROBED_FIGURES:
                    for v in values:
                        w.writerow([vm.vcpus, run, case, "remote", label, v, figure])

    lines = ["## Against the kernel's stopper on one CPU (`stop_core_cpuslocked`)", "",
             "Ratio ours / kernel's, same VM; target <= 1.0x (stretch <= 0.7x remote idle, p50).", "",
             "| case | " + " | ".join(f"{vm.title()} p50 | p99" for vm in vms) + " |",
             "|---|" + "---:|---:|" * len(vms)]
    for target, label in [("remote", "idle"), ("remote", "busy"), ("local", "idle")]:
        row = f"| {target}, {label} |"
        for vm in vms:
            for p in (50, 99):
                a, b = vm.fig("rstop_one_cpu", target, label, p), vm.fig("stop_core", target, label, p)
                row += f" {us(a)} / {us(b)} µs = {fmt_ratio(ratio(a, b), 1.0)} |"
        lines.append(row)
    lines.append("")
    lines.append("| other ratios (p50 unless said) | " + " | ".join(vm.title() for vm in vms) + " |")
    lines.append("|---|" + "---:|" * len(vms))
    others = [
        ("migrate hook / `sched_setaffinity()`, busy task (target <= 1.1x on 4 vCPUs)",
         lambda vm: ratio(vm.fig("rmigration_hook", "remote", "busy task", 50),
                          vm.fig("sched_setaffinity", "remote", "busy task", 50))),
        ("`rstop_one_cpu` / IPI, remote idle",
         lambda vm: ratio(vm.fig("rstop_one_cpu", "remote", "idle", 50), vm.fig("ipi", "remote", "idle", 50))),
        ("`rstop_one_cpu` / `work_on_cpu`, remote busy, p99",
         lambda vm: ratio(vm.fig("rstop_one_cpu", "remote", "busy", 99),
                          vm.fig("work_on_cpu", "remote", "busy", 99))),
    ]
    for name, f in others:
        lines.append(f"| {name} | " + " | ".join(fmt_ratio(f(vm)) for vm in vms) + " |")
    lines.append("")

    ours, kernel = CPUTIME_PAIR
    if any(vm.probed_runs("caller_cpu", c, "idle") for vm in vms for c in CPUTIME_PAIR):
        lines.append("## The caller's CPU time per one-CPU round trip")
        lines.append("")
        lines.append(f"The calling thread on CPU 0, a round trip to CPU 1, `{ours}` / `{kernel}` "
                     "(ours spins, the kernel's caller sleeps): p50 of the round trip's wall time minus "
                     "the time the caller was switched out (sched_switch probe), and the mean by the "
                     "caller's `sum_exec_runtime` over the series. Ratio ours / kernel's, same VM.")
        lines.append("")
        lines.append("| case | " + " | ".join(f"{vm.title()} p50 | mean (sum_exec_runtime)" for vm in vms) + " |")
        lines.append("|---|" + "---:|---:|" * len(vms))
        for label in ("idle", "busy"):
            lines.append(probed_row(f"remote, {label}", vms, ours, kernel, label,
                                    (("caller_cpu", 50), ("exec_mean", "mean"))))
        lines.append("")

    lines.append("## Multi-CPU stops against the kernel's `stop_machine()`")
    lines.append("")
    lines.append("Ratio ours / kernel's, same VM; target `rstop_machine` / `stop_machine` <= 1.0x. "
                 "`stop_machine` stops every online CPU also when restricted to two.")
    lines.append("")
    lines.append("| case | " + " | ".join(f"{vm.title()} p50 | p99" for vm in vms) + " |")
    lines.append("|---|" + "---:|---:|" * len(vms))
    for ours, kernel, name, goal in MULTI_PAIRS:
        targets = [("remote", "idle"), ("remote", "busy")]
        if ours not in PAIR_CASES:
            targets.append(("local", "idle"))
        for target, label in targets:
            where = ("CPUs 0 + 1" if ours in PAIR_CASES else f"fn {target}") + f", {label}"
            row = f"| {name}, {where} |"
            for vm in vms:
                for p in (50, 99):
                    a, b = vm.fig(ours, target, label, p), vm.fig(kernel, target, label, p)
                    row += f" {us(a)} / {us(b)} µs = {fmt_ratio(ratio(a, b), goal)} |"
            lines.append(row)
    lines.append("")

    ours, kernel = HOLD_PAIR
    if any(vm.probed_runs("hold", c, "idle") for vm in vms for c in HOLD_PAIR):
        lines.append("## A participant's hold on its CPU in a machine stop")
        lines.append("")
        lines.append(f"Every online CPU stopped, fn on the remote CPU, `{ours}` / `{kernel}`: per stop, "
                     "the longest stretch any participant's stopper thread stayed on its CPU (switch-in "
                     "to switch-out: it bounds our participant's preempt-off section and the kernel's "
                     "interrupts-off window from above), and the longest interrupts-off window of one. "
                     "p50 over the stops, max over all. Ratio ours / kernel's, same VM.")
        lines.append("")
        lines.append("| figure | " + " | ".join(f"{vm.title()} p50 | max" for vm in vms) + " |")
        lines.append("|---|" + "---:|---:|" * len(vms))
        for figure, name in (("hold", "on its CPU"), ("irqsoff", "interrupts off")):
            for label in ("idle", "busy"):
                if not any(vm.probed_runs(figure, c, label) for vm in vms for c in HOLD_PAIR):
                    continue
                lines.append(probed_row(f"{name}, {label}", vms, ours, kernel, label,
                                        ((figure, 50), (figure, "max"))))
        lines.append("")

    lines.append("## Where a round trip goes (p50 of each step, µs)")
    lines.append("")
    lines.append("| VM | case | target | " + " | ".join(STEP_LABELS[s] for s in STEPS) + " | total p50 |")
    lines.append("|---|---|---|" + "---:|" * (len(STEPS) + 1))
    for vm in vms:
        for case in ("rstop_one_cpu", "stop_core"):
            for target in ("remote", "local"):
                if vm.step(case, target, "total") is None:
                    continue
                lines.append(f"| {vm.vcpus} | {case} | {target} | "
                             + " | ".join(us(vm.step(case, target, s)) for s in STEPS)
                             + f" | {us(vm.step(case, target, 'total'))} |")
    lines.append("")

    # The same probes on the multi-CPU stops (CPU idle): "thread" is the
    # one of the CPU that runs the function; the caller is preempted by
    # its own CPU's thread, not asleep, so it is rarely woken.
    multi = [(vm, c, t) for vm in vms for c in ("rstop_machine", "stop_machine", "rstop_two_cpus")
             for t in ("remote", "local") if vm.step(c, t, "total") is not None]
    if multi:
        lines.append("## Where a multi-CPU stop goes (p50 of each step, µs)")
        lines.append("")
        lines.append("| VM | case | fn on | call -> its thread woken | woken -> switched in | "
                     "switched in -> fn (rendezvous) | fn -> caller switched in | "
                     "switched in -> returned | total p50 |")
        lines.append("|---|---|---|" + "---:|" * 6)
        for vm, case, target in multi:
            def st(*names):
                vals = [vm.step(case, target, n) for n in names]
                return None if any(v is None for v in vals) else sum(vals)
            lines.append(f"| {vm.vcpus} | {case} | {target} | {us(st('call_wake'))} | {us(st('wake_in'))} | "
                         f"{us(st('in_fn'))} | {us(st('fn_done', 'done_back'))} | {us(st('back_return'))} | "
                         f"{us(vm.step(case, target, 'total'))} |")
        lines.append("")

    for vm in vms:
        f = vm.facts
        lines.append(f"### {vm.title()}, kernel {f.get('kernel', '?')}, {f['runs']} runs, "
                     f"clocksource {f.get('clocksource', '?')}")
        lines.append("")
        lines.append("| mechanism | target | p50 µs | p90 µs | p99 µs | max µs | n |")
        lines.append("|---|---|---:|---:|---:|---:|---:|")
        rows = [(c, t, l, (f"CPU 0 + remote CPU, {l}" if c in PAIR_CASES else f"{t} CPU, {l}"))
                for c in KERNEL_CASES for t, l in [("remote", "idle"), ("remote", "busy"), ("local", "idle")]]
        rows += [(m, "remote", "busy task", "CPU 1 <-> 2 (1 <-> 0 on 2 vCPUs)") for m in MECHS]
        for case, target, label, where in rows:
            runs = vm.runs_of(case, target, label)
            if not runs:
                continue
            name = case + (" (move a busy task)" if label == "busy task" else "")
            lines.append(f"| {name} | {where} | {us(vm.fig(case, target, label, 50))} | "
                         f"{us(vm.fig(case, target, label, 90))} | {us(vm.fig(case, target, label, 99))} | "
                         f"{us(max(max(v) for v in runs))} | {sum(len(v) for v in runs)} |")
        lines.append("")
        probed_rows = [
            ("hold", "longest stretch of a participant on its CPU, per stop", HOLD_PAIR, "every CPU, fn remote"),
            ("irqsoff", "longest interrupts-off window of a participant, per stop", HOLD_PAIR,
             "every CPU, fn remote"),
            ("caller_cpu", "caller's CPU time per round trip", CPUTIME_PAIR, "remote CPU"),
            ("caller_wall", "wall time of those round trips", CPUTIME_PAIR, "remote CPU"),
            ("exec_mean", "caller's sum_exec_runtime per round trip", CPUTIME_PAIR, "remote CPU"),
        ]
        if vm.probed:
            lines.append("| figure | mechanism | target | p50 µs | p99 µs | max µs | mean µs | n |")
            lines.append("|---|---|---|---:|---:|---:|---:|---:|")
            for figure, name, cases, where in probed_rows:
                for case in cases:
                    for label in ("idle", "busy"):
                        runs = vm.probed_runs(figure, case, label)
                        if not runs:
                            continue
                        if figure == "exec_mean":
                            stats = ["-", "-", "-", us(vm.probed_fig(figure, case, label, "mean")), "-"]
                        else:
                            stats = [us(vm.probed_fig(figure, case, label, st)) for st in (50, 99, "max", "mean")]
                            stats.append(str(sum(len(v) for v in runs)))
                        lines.append(f"| {name} | {case} | {where}, {label} | " + " | ".join(stats) + " |")
            lines.append("")
        if "smt" in f:
            lines.append(f"- SMT siblings (the kernel's stopper on one core): {f['smt']}")
        if "memory" in f:
            lines.append(f"- memory per CPU: {f['memory']}")
        for e in f.get("errors", []):
            lines.append(f"- errors: {e}")
        lines.append("")
    table = "\n".join(lines)
    with open(os.path.join(out, "table.md"), "w") as fh:
        fh.write(table)
    print(table)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("remote", "idle", ONE_CPU_CASES, "remote CPU idle"),
              ("remote", "busy", ONE_CPU_CASES, "remote CPU running a CPU-bound task"),
              ("remote", "busy task", MECHS, "moving a busy task between two CPUs")]
    fig, axes = plt.subplots(len(vms), 5, figsize=(25, 3.8 * len(vms)), squeeze=False)
    for row, vm in enumerate(vms):
        for col, (target, label, cases, title) in enumerate(panels):
            ax = axes[row][col]
            for case in cases:
                v = sorted(x for run in vm.runs_of(case, target, label) for x in run)
                if v:
                    ax.plot([x / 1000 for x in v], [(i + 1) / len(v) for i in range(len(v))], label=case)
            ax.set_xscale("log")
            ax.set_xlabel("latency (µs, log)")
            ax.set_ylabel("CDF (all runs)")
            ax.set_title(f"{vm.title()}: {title}", fontsize=9)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7)
        ax = axes[row][3]
        bars = [(c, t) for c in ("rstop_one_cpu", "stop_core") for t in ("remote", "local")
                if vm.step(c, t, "total") is not None]
        for i, (case, target) in enumerate(bars):
            bottom = 0
            for j, s in enumerate(STEPS):
                h = (vm.step(case, target, s) or 0) / 1000
                ax.bar(i, h, bottom=bottom, color=f"C{j}", label=STEP_LABELS[s] if i == 0 else None)
                bottom += h
        ax.set_xticks(range(len(bars)), [f"{'ours' if c == 'rstop_one_cpu' else 'kernel'}\n{t}"
                                          for c, t in bars], fontsize=8)
        ax.set_ylabel("µs (p50 of each step)")
        ax.set_title(f"{vm.title()}: one round trip, step by step", fontsize=9)
        ax.legend(fontsize=6, loc="upper right")
        # The multi-CPU stops, fn on the remote CPU: idle solid, busy dashed.
        ax = axes[row][4]
        for i, case in enumerate(["rstop_machine", "stop_machine"] + PAIR_CASES):
            for label, style in (("idle", "-"), ("busy", "--")):
                v = sorted(x for run in vm.runs_of(case, "remote", label) for x in run)
                if v:
                    ax.plot([x / 1000 for x in v], [(j + 1) / len(v) for j in range(len(v))],
                            style, color=f"C{i}", label=f"{case}, {label}")
        ax.set_xscale("log")
        ax.set_xlabel("latency (µs, log)")
        ax.set_ylabel("CDF (all runs)")
        ax.set_title(f"{vm.title()}: multi-CPU stops, fn on the remote CPU", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6)
    fig.suptitle("rmigration vs the kernel's mechanisms (QEMU TCG, no KVM: compare ratios, not absolute times)")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "bench.png"), dpi=80)


if __name__ == "__main__":
    main()
