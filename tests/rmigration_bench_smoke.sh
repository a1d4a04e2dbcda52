#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A tiny run of the benchmarks (make bench): they work and print
# well-formed output. No timing is asserted.

source "$(dirname "$(readlink -f "$0")")/lib.sh"

BENCH=${RMIGRATION_BENCH_KO:-$TOP/tests/modules/rmigration_bench/rmigration_bench.ko}
MB=$TOP/tests/bench/migrate_bench

ktap_print_header
skip_unless_root
skip_unless_module
if [ ! -f "$BENCH" ] || [ ! -x "$MB" ]; then
	ktap_skip_all "benchmark programs not built (make module)"
	exit "$KSFT_SKIP"
fi
ktap_set_plan 3

unload_module 2>/dev/null
load_module
dmesg -C

kernel_bench() {
	local c t n=0
	insmod "$BENCH" iters=20 breakdown=20 || return 1
	for c in rstop_one_cpu stop_core ipi work_on_cpu stop_machine rstop_machine; do
		for t in remote local; do
			dmesg | grep -qE "rmigration_bench: case=$c target=$t label=idle n=20 errors=0 p50=[0-9]+ p90=[0-9]+ p99=[0-9]+ max=[0-9]+$" ||
				{ ktap_print_msg "no result for $c $t"; return 1; }
		done
	done
	# The pair of CPUs 0 and 1: remote only.
	for c in rstop_two_cpus stop_machine_two; do
		dmesg | grep -qE "rmigration_bench: case=$c target=remote label=idle n=20 errors=0 p50=[0-9]+ p90=[0-9]+ p99=[0-9]+ max=[0-9]+$" ||
			{ ktap_print_msg "no result for $c remote"; return 1; }
	done
	for c in rstop_one_cpu stop_core; do
		for t in remote local; do
			dmesg | grep -qE "rmigration_bench: breakdown case=$c target=$t label=idle n=20 call_wake=[0-9]+ wake_in=[0-9]+ in_fn=[0-9]+ fn_done=[0-9]+ done_back=[0-9]+ back_return=[0-9]+ total=[1-9][0-9]*$" ||
				{ ktap_print_msg "no breakdown for $c $t"; return 1; }
		done
	done
	n=$(grep -cE '^sample [a-z_]+ (remote|local) idle [0-9]+$' /sys/kernel/debug/rmigration_bench/samples)
	rmmod rmigration_bench
	[ "$n" = 280 ] || { ktap_print_msg "$n samples, expected 280"; return 1; }
}
ktap_check "in-kernel benchmark: 6 mechanisms x 2 targets, 2 on a pair of CPUs and the stoppers' breakdown, well-formed" kernel_bench

migrate_bench() {
	local out
	out=$(taskset -c 0 "$MB" 10 1 "$(( $(nproc) > 2 ? 2 : 0 ))") || return 1
	[ "$(grep -cE '^sample (rmigration_hook|sched_setaffinity) [0-9]+$' <<<"$out")" = 20 ] &&
	grep -qE '^mech=rmigration_hook n=10 errors=0 misplaced=0 p50=' <<<"$out" &&
	grep -qE '^mech=sched_setaffinity n=10 errors=0 misplaced=0 p50=' <<<"$out" ||
		{ ktap_print_msg "$(grep mech= <<<"$out")"; return 1; }
}
ktap_check "migration benchmark: 10 moves each way, none misplaced" migrate_bench
unload_module
ktap_check "nothing left loaded" [ ! -d /sys/module/rmigration_bench ]
ktap_finished
