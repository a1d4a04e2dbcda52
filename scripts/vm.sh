#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boots a kernel tree in a virtme-ng VM under QEMU TCG and runs a command in
# it as root; prints what the command prints and returns its exit status.
#
#   [VM_NAME=NAME] [VM_CONSOLE=FILE] [VM_APPEND=ARGS] [VM_MEMORY=SIZE] [VM_TSC=OPT]
#   scripts/vm.sh KDIR CPUS TIMEOUT COMMAND
#
# VM_APPEND adds to the guest kernel's command line (e.g. debugfs=off).
# VM_MEMORY is the guest's memory (default 2G; 66 vCPUs want 3G).
# VM_TSC is the guest's tsc= option (default reliable, see below).
# The guest sees the host's / read-only over 9p (so the module and the tests
# are used from this checkout) with throw-away writable /tmp.
#
# The guest's kernel console goes to FILE, by default a new
# out/console-NAME-DATE-PID.log (NAME: VM_NAME, default vm-CPUSvcpus;
# out/console-NAME.log links to the latest), apart from the output: every
# message, with the host's time and the guest's; its path is printed at
# start. After a
# minute without output, a line says the VM still runs and what its
# console said last. A guest that has not finished after TIMEOUT seconds
# is stopped, and the exit status is 124:
#  - a quarter of TIMEOUT (at most 60 s) before, a watchdog in the guest
#    (scripts/vm-guest.sh) writes the running test and the tasks' kernel
#    stacks to the console;
#  - at TIMEOUT, the host adds each vCPU's state from QEMU's monitor to the
#    console, then injects an NMI: the guest kernel panics, printing its
#    tasks and held locks, and QEMU exits;
#  - the guest's last 30 console lines before those dumps, the blocked
#    tasks and the console's path are printed.
# At the end, kernel reports found in the console (tests/kernel-reports)
# are printed; the caller decides what they mean (scripts/check.sh counts
# them as a failure).
# /dev/kvm exists on some machines without working (guests hang), so KVM is
# used only with RMIGRATION_KVM=1.
set -euo pipefail
. "$(dirname "$0")/env.sh"
. "$TOP/scripts/harness.sh"

[ $# -eq 4 ] || die "usage: $0 KDIR CPUS TIMEOUT COMMAND"
kdir=$1 cpus=$2 limit=$3 cmd=$4
# The command goes base64-encoded, twice (here and by vng), on the guest
# kernel's command line, 2048 bytes in all on x86 with vng's own options:
# a stock suite's command of 762 bytes overflowed it, and the guest died
# at boot before its console could end QEMU (687 bytes had booted).
[ ${#cmd} -le 700 ] ||
	die "the guest command is ${#cmd} bytes, over 700: with vng's options it would not fit the guest kernel's command line (2048 bytes)"
name=${VM_NAME:-vm-${cpus}vcpus}
console=${VM_CONSOLE:-$(run_file "console-$name")}

kvm=(--disable-kvm)
# One host thread for all vCPUs (TCG's round-robin), unless
# RMIGRATION_TCG_THREAD=multi (one per vCPU, as make bench runs): with a
# thread per vCPU, QEMU (7.2 often, 10.0 seldom) lets a vCPU run stale
# code after another vCPU patched a static branch or static call, and the
# guest dies in "Oops: int3" (README, "The VM").
accel="-accel tcg,thread=${RMIGRATION_TCG_THREAD:-single}"
[ "${RMIGRATION_KVM:-0}" = 1 ] && kvm=() accel=

tmp=$(mktemp -d /tmp/rmigration-vm.XXXXXX)
watcher=
cleanup() {
	[ -z "$watcher" ] || kill "$watcher" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

start=$(date +%s)
deadline=$((start + limit))
margin=$((limit / 4 < 60 ? limit / 4 : 60))
echo "$start" > "$tmp/last-output"

# host_note TEXT: a line of the host's in the console.
host_note() { printf '[host] %s (%s)\n' "$*" "$(date +%T)" >> "$console"; }

printf '[host] VM %s: %s, %s vCPUs, timeout %s s, started %s; %s\n' \
	"$name" "$kdir" "$cpus" "$limit" "$(date '+%F %T %Z')" \
	"$("$QEMU" --version | head -n 1)" > "$console"
log "VM $name: $cpus vCPUs, timeout $limit s; guest console: $console"

monitor() {
	"$VENV/bin/python3" "$TOP/scripts/qemu-monitor.py" "$tmp/monitor.sock" \
		"$kdir/System.map" "$@" 2>&1
}

qemu_pid() {
	local pid comm
	read -r pid 2>/dev/null < "$tmp/qemu.pid" || return 1
	read -r comm 2>/dev/null < "/proc/$pid/comm" || return 1
	[[ $comm == qemu* ]] && echo "$pid"
}

# At the deadline: what QEMU can tell of a guest that may be too stuck to
# tell anything, then an NMI (unknown_nmi_panic: the guest panics and
# prints panic_sys_info), then QEMU is stopped if it has not exited.
on_timeout() {
	local state pid i
	touch "$tmp/timed-out"
	log "VM $name: no result after $limit s: stopping it"
	if ! grep -q 'rmigration-vm: watchdog: dump done' "$console"; then
		log "the guest's watchdog did not finish its dump: the guest is too stuck to run it, or never got that far"
		host_note "the guest's watchdog did not finish its dump"
	fi
	host_note "vCPU state from QEMU's monitor"
	state=$(monitor vcpus "info registers -a")
	printf '%s\n' "$state" >> "$console"
	log "vCPUs, from QEMU's monitor:"
	sed -n '/^(qemu) vcpus/,/^(qemu) /p' <<<"$state" | grep -v '^(qemu) ' |
		while IFS= read -r l; do log "  $l"; done
	host_note "${CONSOLE_NMI_MARK#\[host\] }: the guest kernel panics and prints its tasks and held locks"
	monitor nmi >> "$console"
	for ((i = 0; i < 60; i++)); do
		pid=$(qemu_pid) || break
		sleep 1
	done
	if pid=$(qemu_pid); then
		host_note "no panic within 60 s of the NMI: stopping QEMU"
		kill "$pid"
	fi
}

# Progress and deadline, beside the VM. A guest that panicked reboots,
# which ends QEMU; one whose panic hangs (printing the tasks may wait for a
# lock the dying CPU holds) is stopped 30 s after the panic.
watch() {
	local now last pid panicked=
	while sleep 1; do
		[ -e "$tmp/done" ] && return
		now=$(date +%s)
		if [ "$now" -ge "$deadline" ]; then
			on_timeout
			return
		fi
		if [ -z "$panicked" ] && grep -q -m1 'Kernel panic - not syncing' "$console"; then
			panicked=$now
		fi
		if [ -n "$panicked" ] && [ $((now - panicked)) -ge 30 ] && pid=$(qemu_pid); then
			host_note "the guest panicked 30 s ago and QEMU still runs: stopping it"
			kill "$pid"
			return
		fi
		read -r last < "$tmp/last-output" || last=$now
		if [ $((now - last)) -ge 60 ]; then
			log "VM $name: $((now - start)) s of $limit, no output for $((now - last)) s; console: $(tail -n 20 "$console" | awk 'NF > 3' | tail -n 1 | tr -cd '[:print:]' | cut -c1-110)"
			echo "$now" > "$tmp/last-output"
		fi
	done
}

# vng prints \r\n: lines are passed on one by one, without the \r, as they
# come (no buffering), and the time of the last one noted for watch (once
# a second at most). It must keep up with a burst (a benchmark prints
# 12,000 lines at once): while the pipe is full, the guest's console
# holds the rest, and a guest that powers off then loses it (a shell loop
# reading byte by byte lost the last 100 kB of a benchmark's output).
relay() {
	perl -e '
		$| = 1;
		my ($file, $noted) = (shift, 0);
		while (my $line = <STDIN>) {
			$line =~ s/\r?\n?$/\n/;
			print $line;
			next if time == $noted;
			$noted = time;
			if (open(my $f, ">", $file)) {
				print $f "$noted\n";
			}
		}' "$tmp/last-output"
}

watch &
watcher=$!

# The console: vng --verbose sends it to its stderr (and not to /dev/null),
# with every message (ignore_loglevel) and /dev/kmsg writes not rate-limited
# for the watchdog; each line gets the host's time. The command's own
# stderr goes to its stdout (vm-guest.sh). The command is base64-encoded:
# it may hold any character. vng needs a terminal-less stdin; QEMU reopens
# stdout by path, so its output goes through a pipe, never straight into a
# file. timeout is the last resort should on_timeout itself get stuck.
# QEMU is bookworm-backports' (scripts/setup.sh), with its own data
# files first. An Oops panics the guest (oops=panic), and a panic ends
# QEMU (vng's panic=-1 and -no-reboot), so a dead guest ends the run in
# seconds; watch() stops QEMU if a panic itself hangs. tsc=reliable: no
# clocksource watchdog. Its cross-CPU skew check, run with interrupts off,
# hung guests at boot under TCG (CPU 0 in watchdog_check_skew() waiting
# for a CPU already in stop_machine() with interrupts off, both for
# good; README).
set +e
timeout -k 10 $((limit + 150)) "$VNG" --run "$kdir" "${kvm[@]}" --force-9p \
	--qemu "$QEMU" --cpus "$cpus" --memory "${VM_MEMORY:-2G}" --user root --cwd "$TOP" --verbose \
	--append "ignore_loglevel printk.devkmsg=on tsc=${VM_TSC:-reliable} oops=panic unknown_nmi_panic panic_sys_info=tasks,locks${VM_APPEND:+ $VM_APPEND}" \
	--exec "$TOP/scripts/vm-guest.sh $deadline $limit $margin $(printf %s "$cmd" | base64 -w0)" \
	--qemu-opts="-L $QEMU_ROOT/usr/share/qemu $accel -monitor unix:$tmp/monitor.sock,server=on,wait=off -pidfile $tmp/qemu.pid" \
	</dev/null 2> >(perl -MPOSIX -ne 'BEGIN { $| = 1 } s/\r//g; print strftime("%T ", localtime), $_' >> "$console") |
	relay
rc=${PIPESTATUS[0]}
set -e
touch "$tmp/done"
wait "$watcher" || true
watcher=
wait $! 2>/dev/null || true	# the console's last lines

if [ -e "$tmp/timed-out" ]; then
	rc=124
	# What the guest printed last by itself, before the dumps; then the
	# blocked tasks from the watchdog's dump.
	cut=$(grep -nE -m1 'rmigration-vm: watchdog: the host stops|^\[host\] (the guest|vCPU)' "$console" | cut -d: -f1)
	log "the last 30 lines of the guest console before the dumps:"
	head -n "$(( ${cut:-0} > 1 ? cut - 1 : $(wc -l < "$console") ))" "$console" | tail -n 30 | sed 's/^/  | /' >&2
	if grep -q 'rmigration-vm: watchdog: blocked' "$console"; then
		log "blocked tasks, from the guest's watchdog:"
		sed -n '/rmigration-vm: watchdog: blocked/,/rmigration-vm: watchdog: all tasks/p' "$console" |
			head -n 40 | sed 's/^/  | /' >&2
	fi
	log "VM $name did not finish within $limit s; the whole guest console: $console"
elif [ "$rc" = 255 ] || ! grep -q 'rmigration-vm: .* running: ' "$console"; then
	# A panic, or the command never started (QEMU or vng failed).
	log "VM $name ended with status $rc; the last 30 lines of the guest console:"
	tail -n 30 "$console" | sed 's/^/  | /' >&2
	log "the whole guest console: $console"
fi
reports=$(console_reports "$console")
if [ -n "$reports" ]; then
	log "kernel reports in the guest console ($console):"
	head -n 10 <<<"$reports" | sed 's/^/  | /' >&2
fi
exit "$rc"
