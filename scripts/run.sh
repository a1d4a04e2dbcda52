#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make run: set-up, kernel and module as needed, then a VM with CPUS (4)
# vCPUs that runs the demo (scripts/demo.sh). The guest's kernel console
# goes to out/console-run-DATE-PID.log (see scripts/vm.sh). The trace
# events the demo records go to out/timeline-trace.txt, and their picture
# (scripts/timeline.py) to out/timeline.png.
set -euo pipefail
. "$(dirname "$0")/env.sh"
. "$TOP/scripts/harness.sh"

# take_trace FILE: passes the demo's output on, except the trace between
# its marker lines, which goes to FILE (decoded).
take_trace() {
	local line b64=$1.b64 in=0
	: > "$b64"
	while IFS= read -r line; do
		case $line in
		"---- rmigration timeline trace: gzip, base64 ----") in=1 ;;
		"---- rmigration timeline trace: end ----") in=0 ;;
		*)
			if [ $in = 1 ]; then
				printf '%s\n' "$line" >> "$b64"
			else
				printf '%s\n' "$line"
			fi ;;
		esac
	done
	if [ -s "$b64" ]; then
		base64 -d < "$b64" | gunzip > "$1"
	fi
	rm -f "$b64"
}

kdir=$(progress "building the test kernel" "$TOP/scripts/kernel.sh")
"$TOP/scripts/build.sh"
need_matplotlib
mkdir -p "$TOP/out"
trace=$TOP/out/timeline-trace.txt png=$TOP/out/timeline.png
rm -f "$trace"
log "booting $kdir with ${CPUS:-4} vCPUs (QEMU TCG; about 15 s to the demo)"
VM_NAME=run "$TOP/scripts/vm.sh" "$kdir" "${CPUS:-4}" 600 "scripts/demo.sh" | take_trace "$trace"
[ -s "$trace" ] || die "the demo recorded no trace events ($trace)"
"$VENV/bin/python3" "$TOP/scripts/timeline.py" "$trace" -o "$png"
echo "timeline of one round trip and one migration: $png (trace: $trace)"
