#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Inside the VM (scripts/bench.sh boots it): RUNS times, the in-kernel
# benchmark with the target CPU idle (then the step breakdown of the
# stoppers, the participants' stretches on their CPUs in machine stops and
# the caller's CPU time per one-CPU round trip), then with a CPU-bound
# normal task on it (then the same but the breakdown), then the migration
# benchmark. Prints raw lines for scripts/bench_report.py; "bench run=N"
# starts the lines of run N.
#
#   bench-guest.sh ITERS MOVES MIGRATE_BENCH_BINARY [RUNS [BREAKDOWN [CASES]]]
#
# BREAKDOWN: round trips (or stops) of each series with probes on the
# scheduler's tracepoints: the breakdown, the stretches and the CPU time.
# CASES: the in-kernel cases to run, comma-separated (default: all).
# BENCH_CASE_MS (environment): the in-kernel benchmark stops a case and
# target after that many ms, with fewer round trips (default: no limit).
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
iters=$1 moves=$2 mb=$3 runs=${4:-3} breakdown=${5:-300} cases=${6:-}
BENCH=$TOP/tests/modules/rmigration_bench/rmigration_bench.ko

echo "bench vcpus=$(nproc) kernel=$(uname -r)"
echo "bench clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
insmod "$TOP/rmigration.ko" || exit 1
grep -E '^memory' /sys/kernel/debug/rmigration/stats | sed 's/^/bench /'

kbench() {
	insmod "$BENCH" iters="$iters" ${cases:+cases=$cases} ${BENCH_CASE_MS:+case_ms=$BENCH_CASE_MS} "$@" || return 1
	dmesg -c | sed -n 's/.*rmigration_bench: //p'
	cat /sys/kernel/debug/rmigration_bench/samples
	rmmod rmigration_bench
}
dmesg -C
for r in $(seq "$runs"); do
	echo "bench run=$r"
	kbench label=idle breakdown="$breakdown" hold="$breakdown" cputime="$breakdown"
	taskset -c 1 bash -c 'while :; do :; done' </dev/null >/dev/null 2>&1 &
	hog=$!
	sleep 0.5
	kbench label=busy hold="$breakdown" cputime="$breakdown"
	kill $hog
	wait 2>/dev/null
	# The caller on CPU 0, the task moved between CPUs 1 and 2 (1 and 0 with 2 vCPUs).
	[ "$moves" -gt 0 ] && taskset -c 0 "$mb" "$moves" 1 "$(( $(nproc) > 2 ? 2 : 0 ))"
done
rmmod rmigration
echo "bench end"
