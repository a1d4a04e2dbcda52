#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fuzzing of every file the module takes input from: the debugfs hooks and
# the trace parameter. A corpus of malformed inputs, then random bytes and
# random digit strings for a bounded time (FUZZ_SECONDS, default 20). Every
# write must end, in success or an errno, and the system must stay healthy.

source "$(dirname "$(readlink -f "$0")")/lib.sh"

FUZZ_SECONDS=${FUZZ_SECONDS:-20}

ktap_print_header
skip_unless_root
skip_unless_module
ktap_set_plan 5

unload_module 2>/dev/null
mark=$(log_mark)
load_module
FILES=("$DEBUGFS/stop_one_cpu" "$DEBUGFS/nowait" "$DEBUGFS/migrate"
       /sys/module/rmigration/parameters/trace)

# fuzz_write FILE TEXT: one write, which must end within 20 s; prints the
# result. A write that hangs is a failure.
hung=0 total=0 oks=0
fuzz_write() {
	local r
	r=$(timeout 20 bash -c 'printf "%b" "$2" > "$1" 2>&1 && echo ok || echo err' _ "$1" "$2")
	total=$((total + 1))
	case $r in
	ok) oks=$((oks + 1)) ;;
	err) ;;
	*) hung=$((hung + 1)); ktap_print_msg "write to ${1##*/} did not end: $(printf '%q' "$2")" ;;
	esac
}

corpus=('' '\n' ' ' '\t' '\0' '\x00\x01' '\xff\xfe' '-' '--1' '-0' '+0' '0x0' '0b1'
	'1e3' '1.0' '1,2' '1;2' '1 2 3 4 5' '1\n2' '\n1' '1\n\n' '4294967295' '4294967296'
	'18446744073709551616' '99999999999999999999999' '-2147483648' '2147483648 0'
	'0 0' '1 0' '0 1' '1 99999' '1 1 1 1' 'a b' 'pid cpu' '$(reboot)' '%s%n%p'
	"$(printf 'A%.0s' $(seq 63))" "$(printf '9%.0s' $(seq 64))" "$(printf '1 %.0s' $(seq 40))"
	'Y' 'N' 'y' 'n' 'true' 'on' 'off' '2' '1\0garbage')
for f in "${FILES[@]}"; do
	for c in "${corpus[@]}"; do
		fuzz_write "$f" "$c"
	done
done
ktap_print_msg "corpus: $total writes, $oks accepted"
ktap_check "corpus of malformed input: every write ends" [ "$hung" = 0 ]

# Random input until the time is up: bytes, and strings of digits and
# blanks that reach the parser's valid paths (bounded by the hooks' limits).
hung=0 total=0 oks=0
end=$(( $(date +%s) + FUZZ_SECONDS ))
while [ "$(date +%s)" -lt "$end" ]; do
	f=${FILES[RANDOM % ${#FILES[@]}]}
	if [ $((RANDOM % 2)) = 0 ]; then
		in=$(head -c $((RANDOM % 70)) /dev/urandom | od -An -tx1 | tr -s ' \n' ' ' | sed 's/ \([0-9a-f][0-9a-f]\)/\\x\1/g; s/ //g')
	else
		in=$(tr -dc '0-9  \n-' < /dev/urandom | head -c $((1 + RANDOM % 16)))
		# Keep nowait cheap: one work, no sleep, whatever the CPU.
		[ "$f" = "$DEBUGFS/nowait" ] && [ $((RANDOM % 2)) = 0 ] && in="$in 1 0"
	fi
	fuzz_write "$f" "$in"
done
ktap_print_msg "random: $total writes in $FUZZ_SECONDS s, $oks accepted"
ktap_check "random input for $FUZZ_SECONDS s: every write ends" [ "$hung" = 0 ]
echo 0 > /sys/module/rmigration/parameters/trace

healthy() { expect_write "$DEBUGFS/stop_one_cpu" 0 ok && unload_module && load_module && unload_module; }
ktap_check "afterwards the module still works, unloads and reloads" healthy
ktap_check "no file is left behind" [ ! -e "$DEBUGFS" ]

bad=$(log_since "$mark" | grep -E "$BAD_LOG")
if [ -z "$bad" ]; then
	ktap_test_pass "no warning, bug, lockdep, KASAN, hung task or soft lockup in the kernel log"
else
	echo "$bad" | head -20 | while read -r l; do ktap_print_msg "$l"; done
	ktap_test_fail "no warning, bug, lockdep, KASAN, hung task or soft lockup in the kernel log"
fi
ktap_finished
