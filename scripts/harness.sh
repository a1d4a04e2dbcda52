# SPDX-License-Identifier: GPL-2.0
# Shared by the scripts that boot VMs (vm.sh, check.sh, run.sh, torture.sh):
# progress lines during long steps, and the guest console files. Sourced
# after env.sh, never run.

# progress WHAT COMMAND [ARG...]: runs COMMAND (its output untouched) and,
# every minute it is still running, says so on stderr: a long silent step
# is never mistaken for a hang. (The ticker's stdout is /dev/null so that a
# caller's $(...) does not wait for it.)
progress() {
	local what=$1 start ticker rc
	shift
	start=$(date +%s)
	( while sleep 60; do
		log "$what: still running, $(( ($(date +%s) - start) / 60 )) min so far"
	  done ) >/dev/null &
	ticker=$!
	"$@"
	rc=$?
	kill "$ticker" 2>/dev/null
	wait "$ticker" 2>/dev/null
	return "$rc"
}

# run_file NAME: prints the path of a new file out/NAME-DATE-PID.log for
# one run and points the link out/NAME.log at it. Several runs may share
# the checkout at once: each has its own files. The last 10 of each NAME
# are kept.
run_file() {
	local f
	f=$TOP/out/$1-$(date +%Y%m%d-%H%M%S)-$$.log
	mkdir -p "$TOP/out"
	: > "$f"
	ln -sfn "${f##*/}" "$TOP/out/$1.log"
	ls -t "$TOP/out/$1"-2*.log 2>/dev/null | tail -n +11 | xargs -r rm -f
	echo "$f"
}

# The line vm.sh writes into a console before it forces a panic with an
# NMI: reports after it are the harness's doing, not the test's.
CONSOLE_NMI_MARK='[host] injecting an NMI'

# console_reports FILE [before|after]: the kernel reports
# (tests/kernel-reports) in a guest console, up to the host's NMI, minus the
# lines of the sed range CONSOLE_EXPECTED (a report a test provokes on
# purpose, and checks itself), the boot banners that match them and the
# known kernel issues of
# tests/kernel-reports.known. With "before" (or "after"), only those before
# (or from) the first line rmigration.ko logs: the module cannot have caused
# a report printed before it was ever loaded.
console_reports() {
	local part=${2:-all}
	[ -f "$1" ] || return 0
	sed "/^$(printf '%s' "$CONSOLE_NMI_MARK" | sed 's/[][\.*^$/]/\\&/g')/q" "$1" |
		if [ -n "${CONSOLE_EXPECTED:-}" ]; then sed "${CONSOLE_EXPECTED}d"; else cat; fi |
		case $part in
		before)	sed '/\] rmigration: /,$d' ;;
		after)	sed -n '/\] rmigration: /,$p' ;;
		*)	cat ;;
		esac |
		grep -Ef <(grep -v '^#' "$TOP/tests/kernel-reports") |
		grep -vEf <(grep -v '^#' "$TOP/tests/kernel-reports.boot") |
		grep -vEf <(grep -v '^#' "$TOP/tests/kernel-reports.known") || true
}

# known_reports FILE: the known kernel issues (tests/kernel-reports.known)
# in a guest console, to be shown but not counted.
known_reports() {
	[ -f "$1" ] || return 0
	grep -Ef <(grep -v '^#' "$TOP/tests/kernel-reports.known") "$1" || true
}
