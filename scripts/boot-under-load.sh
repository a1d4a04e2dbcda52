#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boots the make run demo VM again and again under heavy host load, to
# catch a stall at boot: a nice -n 19 kernel build (defconfig, -j4, in a
# throw-away directory) runs all along, and the VMs boot two at a time
# (each is the other's "second VM"). Prints one line per VM (exit status,
# seconds to the command's start in the guest, seconds in all, console
# file) and a summary; writes them to out/boot-under-load-DATE-PID.log.
#
#   flock -x /tmp/rmigration-quiet.lock scripts/boot-under-load.sh [BOOTS] [TIMEOUT]
#
# BOOTS (20) VMs, each stopped after TIMEOUT (300) s; no new round starts
# after 22 minutes. It holds the lock exclusively (the load would skew
# anything else), so its VMs are started without it.
set -euo pipefail
. "$(dirname "$0")/env.sh"
. "$TOP/scripts/harness.sh"

boots=${1:-20} limit=${2:-300}
kdir=$("$TOP/scripts/kernel.sh")
"$TOP/scripts/build.sh"
src=$(kernel_src) || die "no kernel source: run scripts/setup.sh"
report=$(run_file boot-under-load)
tmp=$(mktemp -d /tmp/rmigration-load.XXXXXX)
load=
cleanup() {
	# The load runs in its own process group (setsid): stop all of it.
	[ -z "$load" ] || kill -- -"$load" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

say() { echo "$*" | tee -a "$report"; }

setsid nice -n 19 bash -c "make -s -C '$src' O='$tmp/build' defconfig >/dev/null &&
	make -s -C '$src' O='$tmp/build' -j4 >/dev/null 2>&1" &
load=$!
say "# load: nice -n 19 make -j4 (defconfig) in $tmp/build, process group $load; $boots boots, $limit s each"
sleep 20
say "# host load average after 20 s: $(cut -d' ' -f1-3 /proc/loadavg)"

# boot NAME: one demo VM; writes "NAME rc start_s total_s console" to $tmp/NAME.
boot() {
	local name=$1 t0 rc console started hms
	console=$(run_file "console-$name")
	t0=$(date +%s)
	set +e
	VM_NAME=$name VM_CONSOLE=$console "$TOP/scripts/vm.sh" "$kdir" 4 "$limit" scripts/demo.sh \
		> "$tmp/$name.out" 2>&1
	rc=$?
	set -e
	started=-
	hms=$(grep -m1 'rmigration-vm: .* running: ' "$console" | cut -d' ' -f1)
	[ -z "$hms" ] || started=$(( $(date -d "$hms" +%s) - t0 ))
	echo "$name rc=$rc start=${started}s total=$(( $(date +%s) - t0 ))s $console" > "$tmp/$name"
}

t_start=$(date +%s)
n=0
while [ "$n" -lt "$boots" ] && [ $(( $(date +%s) - t_start )) -lt 1320 ]; do
	a=load-$((n + 1)) b=load-$((n + 2))
	boot "$a" & pa=$!
	boot "$b" & pb=$!
	wait "$pa" "$pb" || true
	say "$(cat "$tmp/$a") load=$(cut -d' ' -f1 /proc/loadavg)"
	say "$(cat "$tmp/$b")"
	for v in "$a" "$b"; do
		grep -q 'rc=0 ' "$tmp/$v" || { say "# $v output:"; sed 's/^/#   /' "$tmp/$v.out" | tail -n 60 | tee -a "$report"; }
	done
	n=$((n + 2))
done

ok=$(grep -c ' rc=0 ' "$report" || true)
say "# $n boots in $(( $(date +%s) - t_start )) s: $ok finished the demo, $((n - ok)) did not"
say "# load still running at the end: $(kill -0 "$load" 2>/dev/null && echo yes || echo no)"
