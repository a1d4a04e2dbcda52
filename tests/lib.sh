# SPDX-License-Identifier: GPL-2.0
#
# Shared by the rmigration kselftests (sourced): KTAP output, the module,
# its threads, /proc readers and the kernel log health check.

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$TESTS_DIR/.." && pwd)
MODULE=${RMIGRATION_KO:-$TOP/rmigration.ko}

for KTAP_HELPERS in "${KTAP_HELPERS:-}" \
	"$TESTS_DIR/../kselftest/ktap_helpers.sh" \
	"${KDIR:-/nonexistent}/source/tools/testing/selftests/kselftest/ktap_helpers.sh" \
	"${KDIR:-/nonexistent}/tools/testing/selftests/kselftest/ktap_helpers.sh"; do
	[ -f "$KTAP_HELPERS" ] && break
done
if [ ! -f "$KTAP_HELPERS" ]; then
	echo "1..0 # SKIP ktap_helpers.sh not found (set KDIR or KTAP_HELPERS)"
	exit 4
fi
# shellcheck source=/dev/null
source "$KTAP_HELPERS"

# Lines of the kernel log that mean something went wrong in the kernel:
# tests/kernel-reports, which the host also checks the guest console with.
BAD_LOG=$(grep -v '^#' "$TESTS_DIR/kernel-reports" | paste -sd'|')
# Known reports of the kernel itself, shown but not counted (see the file).
KNOWN_LOG=$(grep -v '^#' "$TESTS_DIR/kernel-reports.known" | paste -sd'|')

# ktap_check_log MARK: a test that the kernel log since MARK holds none of
# BAD_LOG; prints the first offending lines.
ktap_check_log() {
	local bad desc="no warning, bug, lockdep, KASAN, hung task or soft lockup in the kernel log"
	bad=$(log_since "$1" | grep -E "$BAD_LOG")
	if [ -n "$KNOWN_LOG" ]; then
		grep -E "$KNOWN_LOG" <<<"$bad" | head -5 | while read -r l; do
			ktap_print_msg "known kernel issue, not counted (tests/kernel-reports.known): $l"
		done
		bad=$(grep -vE "$KNOWN_LOG" <<<"$bad")
	fi
	if [ -z "$bad" ]; then
		ktap_test_pass "$desc"
	else
		echo "$bad" | head -20 | while read -r l; do ktap_print_msg "$l"; done
		ktap_test_fail "$desc"
	fi
}

# The kernel log lines after a mark: log_mark writes a unique line to the
# log and prints its id, log_since ID prints what came after it. (Line
# counts would break once the ring buffer is full and wraps.)
log_mark() {
	local id="rmigration-test-mark-$$-$RANDOM$RANDOM"
	echo "$id" > /dev/kmsg
	echo "$id"
}
log_since() { dmesg | sed -n "/$1\$/,\$p" | tail -n +2; }

skip_unless_root() {
	if [ "$(id -u)" != 0 ]; then
		ktap_skip_all "must run as root"
		exit "$KSFT_SKIP"
	fi
}

skip_unless_module() {
	if [ ! -f "$MODULE" ]; then
		ktap_skip_all "$MODULE not built (make module)"
		exit "$KSFT_SKIP"
	fi
}

# skip_unless_cpus MIN [WHERE]: skips the whole test unless MIN CPUs or
# more are online (WHERE: where to find them); sets the array cpus to the
# online CPUs, ascending.
skip_unless_cpus() {
	mapfile -t cpus < <(online_cpus)
	if [ "${#cpus[@]}" -lt "$1" ]; then
		ktap_skip_all "needs $1 online CPUs, ${#cpus[@]} online${2:+ ($2)}"
		exit "$KSFT_SKIP"
	fi
}

module_loaded() { [ -d /sys/module/rmigration ]; }

# rt_loop_spins PID CPU: the busy loop PID, started as "taskset -c CPU
# chrt -f 99 bash -c ...", spins: it is bash at SCHED_FIFO 99 (before its
# execs the job is a copy of the test's shell, also named bash), runnable,
# on CPU, and it has not slept for 200 ms while its user time grew. (A
# bash that has just exec'ed may still sleep for a page of its binary or
# libraries; a CPU on which the loop sleeps is not held.)
rt_loop_spins() {
	local comm nv1 nv2 ut1 ut2
	read -r comm 2>/dev/null < "/proc/$1/comm" && [ "$comm" = bash ] &&
		[ "$(stat_field "$1" 41)" = 1 ] && [ "$(stat_field "$1" 40)" = 99 ] || return 1
	nv1=$(status_field "$1" voluntary_ctxt_switches) && ut1=$(stat_field "$1" 14) || return 1
	sleep 0.2
	nv2=$(status_field "$1" voluntary_ctxt_switches) && ut2=$(stat_field "$1" 14) || return 1
	[ "$nv1" = "$nv2" ] && [ "$ut2" -gt "$ut1" ] &&
		[ "$(stat_field "$1" 3)" = R ] && on_cpu "$1" "$2"
}

# test_module NAME: the .ko of tests/modules/NAME, built beside $MODULE.
test_module() { echo "$(dirname "$MODULE")/tests/modules/$1/$1.ko"; }

load_module() {
	module_loaded || insmod "$MODULE" "$@"
}

unload_module() {
	! module_loaded || rmmod rmigration
}

# CPUs: possible ones, and whether one is online.
possible_cpus() {
	local c
	for c in /sys/devices/system/cpu/cpu[0-9]*; do
		echo "${c##*cpu}"
	done | sort -n
}

cpu_online() {
	local f=/sys/devices/system/cpu/cpu$1/online v
	[ -f "$f" ] || return 0
	read -r v < "$f" && [ "$v" = 1 ]
}

online_cpus() {
	local c
	for c in $(possible_cpus); do
		cpu_online "$c" && echo "$c"
	done
}

set_cpu_online() {
	echo "$2" > "/sys/devices/system/cpu/cpu$1/online"
}

# The highest-numbered CPU that can be taken offline.
hotplug_cpu() {
	local c
	for c in $(possible_cpus | sort -rn); do
		[ -f "/sys/devices/system/cpu/cpu$c/online" ] && { echo "$c"; return 0; }
	done
	return 1
}

# Readers of /proc use shell builtins only: a fork and exec per process
# costs a lot under TCG.

# Pids of the tasks whose name is $1.
pids_named() {
	local f name
	for f in /proc/[0-9]*/comm; do
		read -r name 2>/dev/null < "$f" || continue
		[ "$name" = "$1" ] && { f=${f#/proc/}; echo "${f%/comm}"; }
	done
	return 0
}

# Number of rmigration/N threads.
thread_count() {
	local f name n=0
	for f in /proc/[0-9]*/comm; do
		read -r name 2>/dev/null < "$f" || continue
		case $name in rmigration/*) n=$((n + 1)) ;; esac
	done
	echo "$n"
}

# Field $2 of /proc/$1/stat (1-based, as in proc(5)): 3 state, 39 processor,
# 40 rt_priority, 41 policy.
stat_field() {
	local s
	read -r s 2>/dev/null < "/proc/$1/stat" || return 1
	s=${s##*) }	# fields 3 and on: the name before may hold spaces
	local f=($s)
	echo "${f[$(( $2 - 3 ))]}"
}

# status_field PID KEY: the value of KEY in /proc/PID/status.
status_field() {
	local k v
	while read -r k v; do
		[ "$k" = "$2:" ] && { echo "$v"; return 0; }
	done 2>/dev/null < "/proc/$1/status"
	return 1
}

# Cpus_allowed_list of task $1.
cpus_allowed() {
	local k v
	while read -r k v; do
		[ "$k" = Cpus_allowed_list: ] && { echo "$v"; return 0; }
	done < "/proc/$1/status"
	return 1
}

# on_cpu PID CPU: PID runs (or last ran) on CPU.
on_cpu() { [ "$(stat_field "$1" 39)" = "$2" ]; }

# allowed_only PID CPUS: the Cpus_allowed_list of PID is CPUS.
allowed_only() { [ "$(cpus_allowed "$1")" = "$2" ]; }

# started PID CPU: taskset has set the affinity of PID and exec'ed bash.
started() {
	local name
	read -r name < "/proc/$1/comm" && [ "$name" = bash ] && allowed_only "$1" "$2"
}

# free_pid: a pid no task has.
free_pid() {
	local p
	read -r p < /proc/sys/kernel/pid_max
	p=$((p - 1))
	while [ -e "/proc/$p" ]; do p=$((p - 1)); done
	echo "$p"
}

# Runs "$@" until it succeeds, for at most $WAIT_S seconds (default 10).
wait_for() {
	local end=$((SECONDS + ${WAIT_S:-10}))
	while :; do
		"$@" && return 0
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

DEBUGFS=/sys/kernel/debug/rmigration

# write_result FILE TEXT: writes TEXT (printf %b escapes) to FILE in one
# write(2) and prints "ok", the error of the write, e.g. "Invalid argument",
# or "open: ERROR" if FILE could not be opened.
write_result() {
	local err
	if err=$( { printf '%b' "$2" > "$1"; } 2>&1); then
		echo ok
	elif [[ $err == *"write error"* ]]; then
		echo "${err##*: }"
	else
		echo "open: ${err##*: }"
	fi
}

# expect_write FILE TEXT RESULT: write_result gives RESULT.
expect_write() {
	local got
	got=$(write_result "$1" "$2")
	[ "$got" = "$3" ] || { ktap_print_msg "write '$2' to ${1##*/}: '$got', expected '$3'"; return 1; }
}

# The KTAP result of KUnit suite $1 in the kernel log since mark $2.
kunit_suite_ok() {
	log_since "$2" | grep -qE "^\[ *[0-9.]+\] ok [0-9]+ $1\$"
}

# stat_sum COLUMN: the sum of a column of the stats file over all CPUs
# (3 queued, 4 run, 5 enoent).
stats_sum() {
	local n=0 line f
	while read -r line; do
		f=($line)
		[[ ${f[0]} =~ ^[0-9]+$ ]] && n=$((n + f[$1 - 1]))
	done < "$DEBUGFS/stats"
	echo "$n"
}

# ktap_check DESCRIPTION COMMAND [ARG...]: a test that passes if COMMAND
# succeeds (ktap_test_result, with the arguments kept whole).
ktap_check() {
	local desc=$1
	shift
	if "$@"; then
		ktap_test_pass "$desc"
	else
		ktap_test_fail "$desc"
	fi
}
