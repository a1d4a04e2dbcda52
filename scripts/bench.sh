#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: the benchmarks, in VMs of 2, 4 and 8 vCPUs (BENCH_VCPUS):
# rmigration against the kernel's stopper on one CPU, IPIs, work_on_cpu()
# and stop_machine() in the kernel (BENCH_ITERS round trips per case), the
# step breakdown of both stoppers, the longest stretch a participant of a
# machine stop stays on its CPU and the caller's CPU time per one-CPU
# round trip, ours and the kernel's (BENCH_BREAKDOWN round trips or stops
# each), and the migrate hook against sched_setaffinity(2) (BENCH_MOVES
# moves), each BENCH_RUNS (3) times per VM. BENCH_CASES: only these
# in-kernel cases, comma-separated; BENCH_CASE_MS (20000): a case and
# target of the in-kernel benchmark stops after that many ms even with
# fewer than BENCH_ITERS round trips (0: no limit), which bounds the run
# when a stop takes seconds; BENCH_MOVES=0: no migration benchmark. Writes
# out/bench/: the raw output, results.csv, table.md and bench.png; prints
# the table.
#
# Other load on the host skews the figures: the runs hold
# /tmp/rmigration-quiet.lock exclusively (other VM runs may hold it shared).
# The VMs run one host thread per vCPU (RMIGRATION_TCG_THREAD=multi, see
# scripts/vm.sh), so that the vCPUs really run in parallel.
set -euo pipefail
. "$(dirname "$0")/env.sh"

out=$TOP/out/bench
mkdir -p "$out"
kdir=$("$TOP/scripts/kernel.sh")
"$TOP/scripts/build.sh"
need_matplotlib
rm -f "$out"/raw-*.txt
for n in ${BENCH_VCPUS:-2 4 8}; do
	log "benchmark on $n vCPUs"
	flock -x /tmp/rmigration-quiet.lock env RMIGRATION_TCG_THREAD=multi "$TOP/scripts/vm.sh" "$kdir" "$n" 1800 \
		"BENCH_CASE_MS=${BENCH_CASE_MS-20000} tests/bench/bench-guest.sh ${BENCH_ITERS:-1000} ${BENCH_MOVES:-1000} $TOP/tests/bench/migrate_bench ${BENCH_RUNS:-3} ${BENCH_BREAKDOWN:-300} ${BENCH_CASES:-}" |
		tr -d '\r' > "$out/raw-${n}vcpus.txt"
	grep -q '^bench end' "$out/raw-${n}vcpus.txt" || die "the $n-vCPU run did not finish: $out/raw-${n}vcpus.txt"
done
"$VENV/bin/python3" "$TOP/scripts/bench_report.py" "$out"
