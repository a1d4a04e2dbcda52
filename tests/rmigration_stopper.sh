#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The stopper: works run on the CPU asked for, in FIFO order, exactly once;
# -ENOENT for an offline CPU; the exported C API from another module; the
# debugfs hooks and their errors; traces; unload with works pending.

source "$(dirname "$(readlink -f "$0")")/lib.sh"

CLIENT=${RMIGRATION_CLIENT_KO:-$TOP/tests/modules/rmigration_client/rmigration_client.ko}

ktap_print_header
skip_unless_root
skip_unless_module
ktap_set_plan 17

unload_module 2>/dev/null
mark=$(log_mark)
load_module

# The suite is in the module only when KUnit is built in (#[kunit_tests] is
# cfg(CONFIG_KUNIT="y")); it has parameters then, so it shows in sysfs.
if [ -d /sys/module/kunit/parameters ] && [ ! -e /sys/module/kunit/initstate ]; then
	ktap_check "KUnit suite rmigration_parse passes" kunit_suite_ok rmigration_parse "$mark"
else
	ktap_test_skip "KUnit suite rmigration_parse: this kernel has no built-in KUnit (CONFIG_KUNIT), the suite is compiled out"
fi

# Every online CPU: the write succeeds and the record says where it ran.
round_trip_all() {
	local c rec
	for c in $(online_cpus); do
		expect_write "$DEBUGFS/stop_one_cpu" "$c\n" ok || return 1
		read -r rec < "$DEBUGFS/stop_one_cpu"
		[[ $rec =~ ^cpu=$c\ ran_on=$c\ ret=0\ ns=[0-9]+$ ]] ||
			{ ktap_print_msg "record: $rec"; return 1; }
	done
}
ktap_check "stop_one_cpu hook runs a work on every online CPU" round_trip_all

bad_inputs() {
	local ncpu in
	ncpu=$(possible_cpus | wc -l)
	for in in '\n' 'x' '-1' '+1' '1 2' '0x1' '1.5' '99999999999' '4294967296' "$ncpu" '1\n\n' '1\0'; do
		expect_write "$DEBUGFS/stop_one_cpu" "$in" "Invalid argument" || return 1
	done
	# At the input limit (4096 bytes); one byte less is a valid CPU.
	expect_write "$DEBUGFS/stop_one_cpu" "$(printf '%04095d' 1)" ok &&
	expect_write "$DEBUGFS/stop_one_cpu" "$(printf '%04096d' 1)" "Invalid argument"
}
ktap_check "malformed or out-of-range input is refused with EINVAL" bad_inputs

hp=$(hotplug_cpu)
if [ -n "$hp" ] && set_cpu_online "$hp" 0; then
	enoent_before=$(stats_sum 5)
	offline_enoent() { expect_write "$DEBUGFS/stop_one_cpu" "$hp" "No such file or directory"; }
	enoent_counted() {
		[ "$(stats_sum 5)" = $((enoent_before + 1)) ] && grep -qE "^$hp +disabled" "$DEBUGFS/stats"
	}
	ktap_check "offline CPU $hp: -ENOENT" offline_enoent
	ktap_check "stats count the -ENOENT and show CPU $hp disabled" enoent_counted
	if [ -f "$CLIENT" ]; then
		client_offline() { insmod "$CLIENT" offline_cpu="$hp" calls_per_thread=20; }
		ktap_check "C API: offline CPU refuses works, multi-CPU stops too (rmigration_client offline_cpu=$hp)" client_offline
		rmmod rmigration_client 2>/dev/null
	else
		ktap_test_fail "C API: rmigration_client.ko not built"
	fi
	set_cpu_online "$hp" 1
	# Each time the CPU is back, its first work is accepted at once: the
	# stopper is enabled before the online write returns.
	back_online() {
		local i
		expect_write "$DEBUGFS/stop_one_cpu" "$hp" ok || return 1
		for i in $(seq 10); do
			set_cpu_online "$hp" 0 && set_cpu_online "$hp" 1 || return 1
			expect_write "$DEBUGFS/stop_one_cpu" "$hp" ok ||
				{ ktap_print_msg "cycle $i: CPU $hp refused its first work"; return 1; }
		done
	}
	ktap_check "CPU $hp back online: works run there again, at once after each of 10 offline/online cycles" back_online
else
	for i in 1 2 3 4; do ktap_test_skip "hotplug check $i: no CPU can go offline"; done
fi

# The exported API from another module: each check logs ok / not ok.
client_mark=$(log_mark)
if [ -f "$CLIENT" ] && insmod "$CLIENT"; then
	client_ok=1
	rmmod rmigration_client
else
	client_ok=0
fi
while read -r line; do
	case $line in
	*"rmigration_client: ok "*) ktap_print_msg "${line#*rmigration_client: }" ;;
	*"rmigration_client: not ok "*) ktap_print_msg "${line#*rmigration_client: }"; client_ok=0 ;;
	*"rmigration_client:   "*) ktap_print_msg "${line#*rmigration_client: }" ;;
	esac
done < <(log_since "$client_mark")
[ $client_ok = 1 ] && ktap_test_pass "C API from another module: sync, FIFO, nowait, concurrent callers, two-CPU and machine stops" ||
	ktap_test_fail "C API from another module: sync, FIFO, nowait, concurrent callers, two-CPU and machine stops"

# Shell callers pinned to every CPU, all at once; every work accounted for.
concurrent_hooks() {
	local run_before c pids=() n=0 each=25
	run_before=$(stats_sum 4)
	for c in $(online_cpus); do
		taskset -c "$c" bash -c "
			for i in \$(seq $each); do
				for t in $(online_cpus | tr '\n' ' '); do
					echo \$t > $DEBUGFS/stop_one_cpu || exit 1
				done
			done" &
		pids+=($!)
		n=$((n + each * $(online_cpus | wc -l)))
	done
	for p in "${pids[@]}"; do wait "$p" || return 1; done
	[ "$(stats_sum 4)" = $((run_before + n)) ] ||
		{ ktap_print_msg "run count $(stats_sum 4), expected $((run_before + n))"; return 1; }
}
ktap_check "concurrent callers from every CPU: each work runs exactly once" concurrent_hooks

runs_reach() { [ "$(stats_sum 4)" = "$1" ]; }
nowait_runs() {
	local before
	before=$(stats_sum 4)
	expect_write "$DEBUGFS/nowait" "1 20 1000" ok || return 1
	WAIT_S=20 wait_for runs_reach $((before + 20))
}
nowait_refused() {
	expect_write "$DEBUGFS/nowait" "1 20" "Invalid argument" &&
	expect_write "$DEBUGFS/nowait" "1 1001 0" "Invalid argument" &&
	expect_write "$DEBUGFS/nowait" "1 1 200000" "Invalid argument" &&
	expect_write "$DEBUGFS/nowait" "1 11 100000" "Invalid argument"
}
# At most 1 s of sleep pending: 10 works of 100 ms, then one more work
# (written at once, without a fork in between) is refused while any of
# them is pending, and accepted once they have run.
nowait_backlog() {
	local before err
	before=$(stats_sum 4)
	printf '1 10 100000' 2> "$TMP_ERR" > "$DEBUGFS/nowait" ||
		{ ktap_print_msg "first write refused: $(< "$TMP_ERR")"; return 1; }
	printf '0 1 1' 2> "$TMP_ERR" > "$DEBUGFS/nowait" &&
		{ ktap_print_msg "second write accepted"; return 1; }
	read -r err < "$TMP_ERR"
	[[ $err == *"Resource temporarily unavailable" ]] ||
		{ ktap_print_msg "second write: $err"; return 1; }
	WAIT_S=20 wait_for runs_reach $((before + 10)) &&
	expect_write "$DEBUGFS/nowait" "0 1 1" ok &&
	WAIT_S=20 wait_for runs_reach $((before + 11))
}
ktap_check "nowait works all run" nowait_runs
ktap_check "nowait: malformed or over the limits refused with EINVAL" nowait_refused
TMP_ERR=$(mktemp)
ktap_check "nowait: over 1 s of sleep pending refused with EAGAIN, accepted once run" nowait_backlog
rm -f "$TMP_ERR"

# Traces: none by default, the whole story once switched on at run time.
traces() {
	local m
	echo 0 > /sys/module/rmigration/parameters/trace
	m=$(log_mark)
	expect_write "$DEBUGFS/stop_one_cpu" 1 ok || return 1
	if log_since "$m" | grep -q 'rmigration: work #'; then
		ktap_print_msg "trace lines with trace=0"
		return 1
	fi
	echo 1 > /sys/module/rmigration/parameters/trace
	m=$(log_mark)
	expect_write "$DEBUGFS/stop_one_cpu" 1 ok || return 1
	echo 0 > /sys/module/rmigration/parameters/trace
	local id
	id=$(log_since "$m" | sed -n 's/.*rmigration: work #\([0-9]*\) queued by .* on rmigration\/1$/\1/p')
	[ -n "$id" ] || { ktap_print_msg "no queued line"; return 1; }
	log_since "$m" | grep -q "work #$id waking rmigration/1" &&
	log_since "$m" | grep -q "work #$id (stop_one_cpu hook) running on CPU 1 in rmigration/1" &&
	log_since "$m" | grep -qE "work #$id done on CPU 1: ret=0 latency=[0-9]+ ns" ||
		{ log_since "$m" | while read -r l; do ktap_print_msg "$l"; done; return 1; }
}
ktap_check "traces: quiet with trace=0, queued/waking/running/done with trace=1" traces

nonroot_refused() {
	local out
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
		bash -c "echo 1 > $DEBUGFS/stop_one_cpu" 2>&1) && return 1
	ktap_print_msg "as nobody: ${out##*: }"
	return 0
}
ktap_check "non-root writers are refused" nonroot_refused

open_file_pins_module() {
	local rc
	exec 3> "$DEBUGFS/stop_one_cpu"
	rmmod rmigration 2>/dev/null
	rc=$?
	exec 3>&-
	[ $rc != 0 ] && module_loaded
}
ktap_check "an open hook file keeps the module loaded" open_file_pins_module

# Unload while works are queued: they run (before the thread stops) and
# nothing breaks.
unload_pending() {
	local m done_lines
	rmmod rmigration && insmod "$MODULE" trace=1 || return 1
	m=$(log_mark)
	expect_write "$DEBUGFS/nowait" "1 30 2000" ok || return 1
	rmmod rmigration || return 1
	done_lines=$(log_since "$m" | grep -c '(nowait hook)') 
	[ "$done_lines" = 30 ] || { ktap_print_msg "$done_lines of 30 works ran"; return 1; }
	[ ! -e "$DEBUGFS" ] || { ktap_print_msg "$DEBUGFS still there"; return 1; }
}
ktap_check "unload with 30 works pending runs them all, removes the hooks" unload_pending

ktap_check_log "$mark"
unload_module 2>/dev/null
ktap_finished
