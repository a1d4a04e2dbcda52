#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A tiny run of the benchmarks (make bench): they work and print
# well-formed output. No timing is asserted, only what holds by
# construction: an interrupts-off window lies within a stretch on the
# CPU, the caller's CPU time within the round trip's wall time.

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
ktap_set_plan 5

unload_module 2>/dev/null
load_module
dmesg -C

# One load of the benchmark: its log lines (without the prefix) and samples.
bench_log=
bench_samples=
if insmod "$BENCH" iters=20 breakdown=20 hold=20 cputime=20; then
	bench_log=$(dmesg | sed -n 's/.*rmigration_bench: //p')
	bench_samples=$(cat /sys/kernel/debug/rmigration_bench/samples)
	rmmod rmigration_bench
fi

# field NAME LINE: the value of NAME=value in LINE.
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<" $2"; }

kernel_bench() {
	local c t n
	[ -n "$bench_log" ] || { ktap_print_msg "the benchmark did not load"; return 1; }
	for c in rstop_one_cpu stop_core ipi work_on_cpu stop_machine rstop_machine; do
		for t in remote local; do
			grep -qE "^case=$c target=$t label=idle n=20 errors=0 p50=[0-9]+ p90=[0-9]+ p99=[0-9]+ max=[0-9]+$" <<<"$bench_log" ||
				{ ktap_print_msg "no result for $c $t"; return 1; }
		done
	done
	# The pair of CPUs 0 and 1: remote only.
	for c in rstop_two_cpus stop_machine_two; do
		grep -qE "^case=$c target=remote label=idle n=20 errors=0 p50=[0-9]+ p90=[0-9]+ p99=[0-9]+ max=[0-9]+$" <<<"$bench_log" ||
			{ ktap_print_msg "no result for $c remote"; return 1; }
	done
	for c in rstop_one_cpu stop_core; do
		for t in remote local; do
			grep -qE "^breakdown case=$c target=$t label=idle n=20 call_wake=[0-9]+ wake_in=[0-9]+ in_fn=[0-9]+ fn_done=[0-9]+ done_back=[0-9]+ back_return=[0-9]+ total=[1-9][0-9]*$" <<<"$bench_log" ||
				{ ktap_print_msg "no breakdown for $c $t"; return 1; }
		done
	done
	n=$(grep -cE '^sample [a-z_]+ (remote|local) idle [0-9]+$' <<<"$bench_samples")
	[ "$n" = 280 ] || { ktap_print_msg "$n samples, expected 280"; return 1; }
}
ktap_check "in-kernel benchmark: 6 mechanisms x 2 targets, 2 on a pair of CPUs and the stoppers' breakdown, well-formed" kernel_bench

# Per machine stop, the longest stretch of any participant's stopper thread
# on its CPU, every CPU a participant; where the kernel has the irq_disable
# and irq_enable tracepoints, the longest interrupts-off window of those
# threads, which lies within a stretch.
hold_figure() {
	local c line irqs hold_ns irqs_ns cpus
	cpus=$(nproc)
	[ -n "$bench_log" ] || { ktap_print_msg "the benchmark did not load"; return 1; }
	grep -E '^(hold|irqsoff) ' <<<"$bench_log" | while read -r line; do ktap_print_msg "$line"; done
	for c in rstop_machine stop_machine; do
		line=$(grep -E "^hold case=$c target=remote label=idle n=20 cpus=$cpus missed=0 p50=[1-9][0-9]* max=[1-9][0-9]*$" <<<"$bench_log") ||
			{ ktap_print_msg "no hold figure for $c: $(grep "^hold case=$c " <<<"$bench_log")"; return 1; }
		hold_ns=$(grep -cE "^hold $c remote idle [1-9][0-9]*$" <<<"$bench_samples")
		[ "$hold_ns" = 20 ] || { ktap_print_msg "$hold_ns hold samples of $c, expected 20"; return 1; }
		if grep -q '^hold: no irq_disable/irq_enable tracepoints' <<<"$bench_log"; then
			! printf '%s\n' "$bench_log" "$bench_samples" | grep -q '^irqsoff ' ||
				{ ktap_print_msg "interrupts-off windows without their tracepoints"; return 1; }
			continue
		fi
		irqs=$(grep -E "^irqsoff case=$c target=remote label=idle n=20 p50=[1-9][0-9]* max=[1-9][0-9]*$" <<<"$bench_log") ||
			{ ktap_print_msg "no interrupts-off figure for $c"; return 1; }
		if [ "$(field p50 "$irqs")" -gt "$(field p50 "$line")" ] || [ "$(field max "$irqs")" -gt "$(field max "$line")" ]; then
			ktap_print_msg "$c: interrupts off longer than on the CPU: $irqs, $line"
			return 1
		fi
		irqs_ns=$(grep -cE "^irqsoff $c remote idle [1-9][0-9]*$" <<<"$bench_samples")
		[ "$irqs_ns" = 20 ] || { ktap_print_msg "$irqs_ns interrupts-off samples of $c, expected 20"; return 1; }
	done
}
ktap_check "machine stops: each participant's longest stretch on its CPU (and interrupts-off window), ours and the kernel's, well-formed" hold_figure

# Per one-CPU round trip to CPU 1, the caller's CPU time: no more than the
# round trip's wall time, sample by sample.
cputime_figure() {
	local c line n
	[ -n "$bench_log" ] || { ktap_print_msg "the benchmark did not load"; return 1; }
	grep -E '^cputime ' <<<"$bench_log" | while read -r line; do ktap_print_msg "$line"; done
	for c in rstop_one_cpu stop_core; do
		line=$(grep -E "^cputime case=$c target=remote label=idle n=20 wall_p50=[1-9][0-9]* p50=[1-9][0-9]* p99=[0-9]+ max=[0-9]+ mean=[1-9][0-9]* exec_mean=[1-9][0-9]*$" <<<"$bench_log") ||
			{ ktap_print_msg "no caller CPU time for $c: $(grep "^cputime case=$c " <<<"$bench_log")"; return 1; }
		[ "$(field p50 "$line")" -le "$(field wall_p50 "$line")" ] ||
			{ ktap_print_msg "$c: more CPU time than wall time: $line"; return 1; }
		n=$(awk -v c="$c" '$1 == "cputime" && $2 == c && $3 == "remote" && $4 == "idle" &&
			$5 ~ /^[0-9]+$/ && $6 ~ /^[1-9][0-9]*$/ && $5 + 0 <= $6 + 0 && NF == 6 { n++ } END { print n + 0 }' <<<"$bench_samples")
		[ "$n" = 20 ] || { ktap_print_msg "$n well-formed CPU time samples of $c, expected 20"; return 1; }
	done
}
ktap_check "one-CPU stoppers: the caller's CPU time per round trip, ours and the kernel's, well-formed" cputime_figure

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
