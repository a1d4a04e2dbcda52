#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Torture: works queued (sync and nowait) to random CPUs by several
# writers, random CPUs going offline and online, busy and sleeping tasks
# migrated between random CPUs, and the module unloaded and reloaded, all at
# once, for a bounded time or until the targets are reached. The load runs
# in tests/torture/torture_load (no fork per operation), the reloads here.
#
# Every queued work must be accounted for exactly once: the module's own
# counters (logged at each unload, after the threads have run what was
# queued) must show as many works run as queued, and must agree with what
# the writers saw. Every migration's outcome is checked in /proc.
#
# Parameters (environment): TORTURE_SECONDS (60), TORTURE_WORKERS (4),
# TORTURE_HOTPLUG (200 cycles), TORTURE_RELOADS (50), TORTURE_MIGRATIONS
# (10000), TORTURE_RELOAD_S (3 s between reloads).

source "$(dirname "$(readlink -f "$0")")/lib.sh"

SECONDS_MAX=${TORTURE_SECONDS:-60}
WORKERS=${TORTURE_WORKERS:-4}
HOTPLUG_MAX=${TORTURE_HOTPLUG:-200}
RELOADS_MAX=${TORTURE_RELOADS:-50}
MIGRATIONS_MAX=${TORTURE_MIGRATIONS:-10000}
RELOAD_S=${TORTURE_RELOAD_S:-3}

ktap_print_header
skip_unless_root
skip_unless_module
LOAD=$TESTS_DIR/torture/torture_load
if [ ! -x "$LOAD" ]; then
	ktap_skip_all "$LOAD not built (make module)"
	exit "$KSFT_SKIP"
fi
ktap_set_plan 7

W=$(mktemp -d /tmp/rmigration-torture.XXXXXX)
ncpus=$(possible_cpus | wc -l)
hp_cpus=($(for c in $(possible_cpus); do
	[ -f "/sys/devices/system/cpu/cpu$c/online" ] && echo "$c"; done))
ktap_print_msg "torture: ${SECONDS_MAX} s at most, $WORKERS workers, $ncpus CPUs" \
	"(hotpluggable: ${hp_cpus[*]:-none}); targets: $HOTPLUG_MAX hotplug cycles," \
	"$RELOADS_MAX reloads, $MIGRATIONS_MAX migrations"

unload_module 2>/dev/null
mark=$(log_mark)
[ -w /sys/kernel/debug/kmemleak ] && echo clear > /sys/kernel/debug/kmemleak
load_module || { ktap_exit_fail_msg "module does not load"; }

stop() { [ -e "$W/stop" ]; }

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
		insmod "$MODULE" || { echo "insmod failed" >> "$W/errors"; break; }
		n=$((n + 1))
		echo $n > "$W/reloads"
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
for t in "${tasks[@]}"; do
	a=$(cpus_allowed "$t")
	if [[ $a =~ ^[0-9]+$ ]] && ! WAIT_S=3 wait_for bash -c "[ \"\$(cut -d' ' -f39 /proc/$t/stat)\" = $a ]"; then
		echo "pid $t allowed $a, on $(stat_field "$t" 39)" >> "$W/errors"
		misplaced=$((misplaced + 1))
	fi
done
kill "${tasks[@]}" 2>/dev/null
wait 2>/dev/null
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
read -r m_ok m_refused m_absent m_bad < "$W/migrate.out"
read -r cycles busy < "$W/hotplug.out"	# empty without hotpluggable CPUs
: "${m_ok:=0}" "${m_refused:=0}" "${m_absent:=0}" "${m_bad:=1}" "${cycles:=0}" "${busy:=0}"
reloads=$(cat "$W/reloads" 2>/dev/null || echo 0)

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
ktap_print_msg "writers: sync $s_ok ok / $s_enoent -ENOENT, nowait $n_ok ok / $n_enoent -ENOENT" \
	"/ $n_full -EAGAIN (backlog full)," \
	"$absent while unloaded, $other other errors"
ktap_print_msg "migrations: $m_ok ok, $m_refused refused (offline CPU), $m_absent while unloaded," \
	"$m_bad wrong; $misplaced tasks misplaced at the end"
ktap_print_msg "module: $q works queued, $r run, $e refused (-ENOENT); migration works $mw, refused $mr"
[ -f "$W/errors" ] && head -20 "$W/errors" | while read -r l; do ktap_print_msg "error: $l"; done

ran() { [ "$q" -gt 0 ] && [ "$m_ok" -gt 0 ] && [ "$loads" -gt 1 ] && { [ ${#hp_cpus[@]} = 0 ] || [ "$cycles" -gt 0 ]; }; }
ktap_check "the load ran: works, migrations, reloads and hotplug all happened" ran
ktap_check "every queued work ran exactly once ($r of $q)" [ "$r" = "$q" ]
# One "unloaded:" line per load: a missing one (the log lost it) would
# look like lost works.
agree() {
	[ "$loads" = $((reloads + 1)) ] ||
		{ ktap_print_msg "$loads unload lines for $((reloads + 1)) loads"; return 1; }
	[ "$q" = $((s_ok + n_ok + mw)) ] && [ "$e" = $((s_enoent + n_enoent + mr)) ]
}
ktap_check "module and writers agree: queued = ok + migration works, -ENOENT = refused" agree
ktap_check "no write failed with an unexpected error" [ "$other" = 0 ]
ktap_check "every migration's outcome matches /proc" [ "$m_bad" = 0 -a "$misplaced" = 0 ]

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
