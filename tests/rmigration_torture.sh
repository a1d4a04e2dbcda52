#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Torture: works queued (sync and nowait) to random CPUs by several
# writers, two-CPU stops of random pairs (in either order), machine stops
# with random cpulists, swaps of busy and sleeping tasks, random CPUs going
# offline and online, busy and sleeping tasks migrated between random CPUs,
# the module unloaded and reloaded, and busy loops at the threads' own
# policy and priority (SCHED_FIFO 99) for 2 to 4 s on a CPU that stays
# online, all at once, for a bounded time or until the targets are reached.
# The load runs in tests/torture/torture_load (no fork per operation), the
# reloads here.
#
# Every queued work must be accounted for exactly once: the module's own
# counters (logged at each unload, after the threads have run what was
# queued) must show as many works run as queued, and must agree with what
# the writers saw: one work per one-CPU stop and migration work, two per
# two-CPU stop, one per stopped CPU per machine stop (read back from the
# hook). A swap queues two works per attempt and retries, up to 3 attempts,
# unseen by the writer: its works are what is left, and must lie between
# 2 and 6 per swap that ended in ok or -EAGAIN, plus 0 to 4 per swap that
# ended in -ENOENT or -EINVAL. Every migration's and swap's outcome is
# checked in /proc. A busy loop keeps the works of its CPU waiting: every
# stall report in the log must have its end.
#
# Parameters (environment): TORTURE_SECONDS (60), TORTURE_WORKERS (4),
# TORTURE_TWO_WRITERS (2 writers of two-CPU stops), TORTURE_HOTPLUG (200
# cycles), TORTURE_RELOADS (50), TORTURE_MIGRATIONS (10000),
# TORTURE_RELOAD_S (3 s between reloads), TORTURE_HOGS (1: busy loops on;
# 0: off), TORTURE_STALL_MS (the module's stall_timeout_ms, 1000).

source "$(dirname "$(readlink -f "$0")")/lib.sh"

SECONDS_MAX=${TORTURE_SECONDS:-60}
WORKERS=${TORTURE_WORKERS:-4}
TWO_WRITERS=${TORTURE_TWO_WRITERS:-2}
HOTPLUG_MAX=${TORTURE_HOTPLUG:-200}
RELOADS_MAX=${TORTURE_RELOADS:-50}
MIGRATIONS_MAX=${TORTURE_MIGRATIONS:-10000}
RELOAD_S=${TORTURE_RELOAD_S:-3}
HOGS=${TORTURE_HOGS:-1}
STALL_MS=${TORTURE_STALL_MS:-1000}

ktap_print_header
skip_unless_root
skip_unless_module
LOAD=$TESTS_DIR/torture/torture_load
if [ ! -x "$LOAD" ]; then
	ktap_skip_all "$LOAD not built (make module)"
	exit "$KSFT_SKIP"
fi
ktap_set_plan 8

W=$(mktemp -d /tmp/rmigration-torture.XXXXXX)
ncpus=$(possible_cpus | wc -l)
hp_cpus=($(for c in $(possible_cpus); do
	[ -f "/sys/devices/system/cpu/cpu$c/online" ] && echo "$c"; done))
fixed_cpus=($(for c in $(possible_cpus); do
	[ -f "/sys/devices/system/cpu/cpu$c/online" ] || echo "$c"; done))
ktap_print_msg "torture: ${SECONDS_MAX} s at most, $WORKERS workers, $TWO_WRITERS two-CPU," \
	"1 machine stop and 1 swap writers, $ncpus CPUs" \
	"(hotpluggable: ${hp_cpus[*]:-none}); targets: $HOTPLUG_MAX hotplug cycles," \
	"$RELOADS_MAX reloads, $MIGRATIONS_MAX migrations"

unload_module 2>/dev/null
mark=$(log_mark)
[ -w /sys/kernel/debug/kmemleak ] && echo clear > /sys/kernel/debug/kmemleak
load_module stall_timeout_ms="$STALL_MS" || { ktap_exit_fail_msg "module does not load"; }

stop() { [ -e "$W/stop" ]; }

# Should the script be killed: no SCHED_FIFO 99 loop or task of ours is
# left to spin in the VM.
cleanup() {
	local h
	{
		touch "$W/stop"
		kill -9 $(jobs -p)
		read -r h < "$W/hog" && kill -9 "$h"
		kill -9 "${tasks[@]}" "${swapped[@]}"
	} 2>/dev/null
}
trap cleanup EXIT

# Reloads. rmmod fails while a hook file is open, so the load holds off
# (DIR/pause) until the module is gone; it then meets absent hook files
# until insmod.
reloader() {
	local n=0 i
	while ! stop && [ $n -lt "$RELOADS_MAX" ]; do
		sleep "$RELOAD_S"
		touch "$W/pause"
		for i in $(seq 100); do
			rmmod rmigration 2>/dev/null && break
			stop && break
			sleep 0.05
		done
		rm -f "$W/pause"
		module_loaded && continue
		sleep 0.2
		insmod "$MODULE" stall_timeout_ms="$STALL_MS" || { echo "insmod failed" >> "$W/errors"; break; }
		n=$((n + 1))
		echo $n > "$W/reloads"
	done
}

# Busy loops at SCHED_FIFO 99, the threads' own policy and priority: one
# at a time for 2 to 4 s, every 5 to 10 s, on a CPU that cannot go offline
# (else on a random online one: a loop whose CPU goes offline loses its
# affinity, and a pinned thread then preempts it, so it stops starving
# anyone). The
# works of that CPU wait meanwhile (a stall report once one waited
# stall_timeout_ms, $STALL_MS ms), multi-CPU stops with it too, and a reload waits
# for its thread; a CPU going offline moves the loop elsewhere.
hogger() {
	local n=0 c hog on
	while ! stop; do
		sleep $((5 + RANDOM % 6))
		stop && break
		if [ ${#fixed_cpus[@]} -gt 0 ]; then
			c=${fixed_cpus[RANDOM % ${#fixed_cpus[@]}]}
		else
			mapfile -t on < <(online_cpus)
			c=${on[RANDOM % ${#on[@]}]}
		fi
		taskset -c "$c" chrt -f 99 bash -c 'while :; do :; done' </dev/null >/dev/null 2>&1 &
		hog=$!
		echo "$hog" > "$W/hog"
		# Timed from when it spins: two execs take a while under load.
		if WAIT_S=10 wait_for rt_loop_spins "$hog" "$c"; then
			sleep $((2 + RANDOM % 3))
			n=$((n + 1))
			echo $n > "$W/hogs"
			echo "$c" >> "$W/hog_cpus"
		fi
		kill -9 "$hog"
		wait "$hog" 2>/dev/null
		rm -f "$W/hog"
	done
}

# Two busy and two sleeping tasks to migrate (more busy loops would starve
# the shells under emulation). Where a task runs must follow its mask.
tasks=()
for c in $(online_cpus | head -2); do
	taskset -c "$c" bash -c 'while :; do :; done' </dev/null >/dev/null 2>&1 &
	tasks+=($!)
	taskset -c "$c" bash -c 'while :; do sleep 0.1; done' </dev/null >/dev/null 2>&1 &
	tasks+=($!)
done
# The swaps' own tasks, so that the migrations' checks and theirs do not
# meet: a busy one (niced, not to starve the shells) and two sleeping ones,
# on different CPUs where there are enough.
swapped=()
s_cpus=($(online_cpus | tail -3))
taskset -c "${s_cpus[0]}" nice -n 19 bash -c 'while :; do :; done' </dev/null >/dev/null 2>&1 &
swapped+=($!)
for c in "${s_cpus[@]:1}" "${s_cpus[0]}"; do
	[ ${#swapped[@]} -lt 3 ] || break
	taskset -c "$c" bash -c 'while :; do sleep 0.1; done' </dev/null >/dev/null 2>&1 &
	swapped+=($!)
done
sleep 0.5

# The load: writers of sync and nowait works, the hotplug and the
# migrations (tests/torture/torture_load.c), and the reloads.
start=$(date +%s)
pids=()
for i in $(seq "$WORKERS"); do
	kind=sync
	[ $((i % 2)) = 1 ] || kind=nowait
	"$LOAD" queue "$W" $kind "$ncpus" > "$W/$kind.$i" &
	pids+=($!)
done
"$LOAD" hotplug "$W" "$HOTPLUG_MAX" "${hp_cpus[@]}" > "$W/hotplug.out" & hpid=$!
reloader & rpid=$!
"$LOAD" migrate "$W" "$ncpus" "$MIGRATIONS_MAX" "${tasks[@]}" > "$W/migrate.out" & mpid=$!
# The multi-CPU stops and the swaps (one writer each of machine stops and
# swaps: they read the hook back, which shows the last call of anyone).
for i in $(seq "$TWO_WRITERS"); do
	"$LOAD" two "$W" "$ncpus" > "$W/two.$i" &
	pids+=($!)
done
"$LOAD" machine "$W" "$ncpus" > "$W/machine.out" &
pids+=($!)
"$LOAD" swap "$W" "$ncpus" "${swapped[@]}" > "$W/swap.out" &
pids+=($!)
if [ "$HOGS" = 1 ]; then
	hogger &
	pids+=($!)
fi

# Run until the time is up or the hotplug, reload and migration targets are
# all reached.
while [ $(( $(date +%s) - start )) -lt "$SECONDS_MAX" ]; do
	kill -0 $hpid 2>/dev/null || kill -0 $rpid 2>/dev/null || kill -0 $mpid 2>/dev/null || break
	sleep 1
done
touch "$W/stop"
wait "${pids[@]}" $hpid $rpid $mpid
elapsed=$(( $(date +%s) - start ))
for c in $(possible_cpus); do cpu_online "$c" || set_cpu_online "$c" 1; done

# Final placement of the busy tasks: on the CPU their mask allows.
misplaced=0
for t in "${tasks[@]}" "${swapped[@]}"; do
	a=$(cpus_allowed "$t")
	if [[ $a =~ ^[0-9]+$ ]] && ! WAIT_S=3 wait_for bash -c "[ \"\$(cut -d' ' -f39 /proc/$t/stat)\" = $a ]"; then
		echo "pid $t allowed $a, on $(stat_field "$t" 39)" >> "$W/errors"
		misplaced=$((misplaced + 1))
	fi
done
kill "${tasks[@]}" "${swapped[@]}" 2>/dev/null
wait 2>/dev/null
tasks=() swapped=()
unload_module

# What the writers saw.
s_ok=0 s_enoent=0 n_ok=0 n_enoent=0 n_full=0 absent=0 other=0
for f in "$W"/sync.* "$W"/nowait.*; do
	[ -f "$f" ] || continue
	if ! read -r ok enoent full ab ot < "$f"; then
		echo "writer ${f##*/} said nothing (did it die?)" >> "$W/errors"
		other=$((other + 1))
		continue
	fi
	case $f in
	*sync.*) s_ok=$((s_ok + ok)) s_enoent=$((s_enoent + enoent)) ;;
	*) n_ok=$((n_ok + ok)) n_enoent=$((n_enoent + enoent)) n_full=$((n_full + full)) ;;
	esac
	absent=$((absent + ab)) other=$((other + ot))
done
t_ok=0 t_enoent=0 t_absent=0 t_other=0
for f in "$W"/two.*; do
	[ -f "$f" ] || continue
	if ! read -r ok enoent ab ot < "$f"; then
		echo "writer ${f##*/} said nothing (did it die?)" >> "$W/errors"
		t_other=$((t_other + 1))
		continue
	fi
	t_ok=$((t_ok + ok)) t_enoent=$((t_enoent + enoent))
	t_absent=$((t_absent + ab)) t_other=$((t_other + ot))
done
if ! read -r ma_ok ma_enoent ma_absent ma_other ma_works < "$W/machine.out"; then
	echo "the machine stop writer said nothing (did it die?)" >> "$W/errors"
fi
: "${ma_ok:=0}" "${ma_enoent:=0}" "${ma_absent:=0}" "${ma_other:=1}" "${ma_works:=0}"
if ! read -r sw_ok sw_eagain sw_enoent sw_einval sw_absent sw_bad < "$W/swap.out"; then
	echo "the swap writer said nothing (did it die?)" >> "$W/errors"
fi
: "${sw_ok:=0}" "${sw_eagain:=0}" "${sw_enoent:=0}" "${sw_einval:=0}" "${sw_absent:=0}" "${sw_bad:=1}"
read -r m_ok m_refused m_absent m_bad < "$W/migrate.out"
read -r cycles busy < "$W/hotplug.out"	# empty without hotpluggable CPUs
: "${m_ok:=0}" "${m_refused:=0}" "${m_absent:=0}" "${m_bad:=1}" "${cycles:=0}" "${busy:=0}"
reloads=$(cat "$W/reloads" 2>/dev/null || echo 0)
hogs=$(cat "$W/hogs" 2>/dev/null || echo 0)
hog_cpus=$(sort -n "$W/hog_cpus" 2>/dev/null | uniq -c | while read -r k c; do echo "$c x$k"; done | paste -sd,)
stalls=$(log_since "$mark" | grep -cE 'rmigration: rmigration/[0-9]+ stalled for')
stall_ends=$(log_since "$mark" | grep -cE 'rmigration: rmigration/[0-9]+ stall ended after')

# What the module counted, summed over its loads.
q=0 r=0 e=0 mw=0 mr=0 loads=0
while read -r line; do
	[[ $line =~ unloaded:\ ([0-9]+)\ works\ queued,\ ([0-9]+)\ run,\ ([0-9]+)\ refused.*\ ([0-9]+)\ works,\ ([0-9]+)\ refused ]] || continue
	q=$((q + BASH_REMATCH[1])) r=$((r + BASH_REMATCH[2])) e=$((e + BASH_REMATCH[3]))
	mw=$((mw + BASH_REMATCH[4])) mr=$((mr + BASH_REMATCH[5]))
	loads=$((loads + 1))
done < <(log_since "$mark")

ktap_print_msg "ran $elapsed s: $loads module loads ($reloads reloads), $cycles hotplug cycles" \
	"($busy offline attempts refused)"
ktap_print_msg "busy loops: $hogs of 2 to 4 s at SCHED_FIFO 99 (CPU: ${hog_cpus:-none}); stall reports: $stalls, ended: $stall_ends"
ktap_print_msg "writers: sync $s_ok ok / $s_enoent -ENOENT, nowait $n_ok ok / $n_enoent -ENOENT" \
	"/ $n_full -EAGAIN (backlog full)," \
	"$absent while unloaded, $other other errors"
ktap_print_msg "migrations: $m_ok ok, $m_refused refused (offline CPU), $m_absent while unloaded," \
	"$m_bad wrong; $misplaced tasks misplaced at the end"
# The swaps' works: what is left of the works queued (see the top).
sw_works=$((q - s_ok - n_ok - mw - 2 * t_ok - ma_works))
sw_lo=$((2 * (sw_ok + sw_eagain)))
sw_hi=$((6 * (sw_ok + sw_eagain) + 4 * (sw_enoent + sw_einval)))
ktap_print_msg "multi-CPU stops: two-CPU $t_ok ok / $t_enoent -ENOENT, machine $ma_ok ok" \
	"($ma_works works) / $ma_enoent -ENOENT, $((t_absent + ma_absent)) while unloaded," \
	"$((t_other + ma_other)) other errors"
ktap_print_msg "swaps: $sw_ok ok / $sw_eagain -EAGAIN / $sw_enoent -ENOENT / $sw_einval -EINVAL" \
	"(tasks on one CPU), $sw_absent while unloaded, $sw_bad wrong"
ktap_print_msg "module: $q works queued, $r run, $e refused (-ENOENT); migration works $mw, refused $mr;" \
	"swap works $sw_works (expected $sw_lo to $sw_hi)"
[ -f "$W/errors" ] && head -20 "$W/errors" | while read -r l; do ktap_print_msg "error: $l"; done

ran() {
	[ "$q" -gt 0 ] && [ "$m_ok" -gt 0 ] && [ "$loads" -gt 1 ] &&
		[ "$t_ok" -gt 0 ] && [ "$ma_ok" -gt 0 ] && [ "$sw_ok" -gt 0 ] &&
		{ [ ${#hp_cpus[@]} = 0 ] || [ "$cycles" -gt 0 ]; }
}
ktap_check "the load ran: works, two-CPU and machine stops, swaps, migrations, reloads and hotplug all happened" ran
ktap_check "every queued work ran exactly once ($r of $q)" [ "$r" = "$q" ]
# One "unloaded:" line per load: a missing one (the log lost it) would
# look like lost works.
agree() {
	[ "$loads" = $((reloads + 1)) ] ||
		{ ktap_print_msg "$loads unload lines for $((reloads + 1)) loads"; return 1; }
	[ "$sw_works" -ge "$sw_lo" ] && [ "$sw_works" -le "$sw_hi" ] && [ $((sw_works % 2)) = 0 ] ||
		{ ktap_print_msg "swap works $sw_works: not even or not within $sw_lo to $sw_hi"; return 1; }
	[ "$e" = $((s_enoent + n_enoent + mr)) ]
}
ktap_check "module and writers agree: queued = ok + migration works + multi-CPU works, -ENOENT = refused" agree
ktap_check "no write failed with an unexpected error" [ $((other + t_other + ma_other)) = 0 ]
ktap_check "every migration's and swap's outcome matches /proc" [ "$m_bad" = 0 -a "$sw_bad" = 0 -a "$misplaced" = 0 ]
# Three loops of 2 to 4 s on a CPU that stays online, with writers to every
# CPU: works wait there over the bound (1 s), and are reported.
hogs_ok() {
	[ "$HOGS" = 0 ] && return 0
	[ "$hogs" -gt 0 ] && [ "$stalls" = "$stall_ends" ] || return 1
	[ "$hogs" -lt 3 ] || [ ${#fixed_cpus[@]} = 0 ] || [ "$stalls" -gt 0 ]
}
ktap_check "busy loops ran ($hogs); they caused stall reports, and every one ended ($stalls reports, $stall_ends ends)" hogs_ok

ktap_check_log "$mark"

if [ -w /sys/kernel/debug/kmemleak ]; then
	echo scan > /sys/kernel/debug/kmemleak
	sleep 1
	echo scan > /sys/kernel/debug/kmemleak
	leaks=$(grep -c '^unreferenced object' /sys/kernel/debug/kmemleak)
	ours=$(grep -c 'rmigration' /sys/kernel/debug/kmemleak)
	ktap_print_msg "kmemleak: $leaks unreferenced objects, $ours lines naming rmigration"
	[ "$ours" = 0 ] || grep -B2 -A12 rmigration /sys/kernel/debug/kmemleak | head -30 |
		while read -r l; do ktap_print_msg "$l"; done
	ktap_check "kmemleak finds nothing of rmigration after unload" [ "$ours" = 0 ]
else
	ktap_test_skip "kmemleak: not in this kernel (CONFIG_DEBUG_KMEMLEAK)"
fi
rm -rf "$W"
ktap_finished
