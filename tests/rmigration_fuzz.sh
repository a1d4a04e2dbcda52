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
	"$(printf '%04095d' 1)" "$(printf '%04096d' 1)" "$(printf '0,%.0s' $(seq 2047))0"
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
# Built and written with shell builtins only (forks are slow under
# emulation); the whole phase runs under a watchdog: a write that does not
# end makes it time out.
random_phase() {
	local end=$((SECONDS + $1)) n=0 ok=0 f in b len i digits='0123456789  -'
	while [ $SECONDS -lt $end ]; do
		f=${FILES[RANDOM % ${#FILES[@]}]}
		in= len=$((RANDOM % 70))
		if [ $((RANDOM % 2)) = 0 ]; then
			for ((i = 0; i < len; i++)); do
				printf -v b '\\x%02x' $((RANDOM % 256))
				in+=$b
			done
		else
			for ((i = 0; i <= len % 16; i++)); do
				in+=${digits:RANDOM % ${#digits}:1}
			done
			# Keep nowait cheap: one work, no sleep, whatever the CPU.
			[ "$f" = "$DEBUGFS/nowait" ] && [ $((RANDOM % 2)) = 0 ] && in+=" 1 0"
		fi
		{ printf '%b' "$in" > "$f"; } 2>/dev/null && ok=$((ok + 1))
		n=$((n + 1))
	done
	echo "$n $ok"
}
export -f random_phase
export DEBUGFS
res=$(FILES_LIST="${FILES[*]}" timeout $((FUZZ_SECONDS + 120)) \
	bash -c 'FILES=($FILES_LIST); random_phase '"$FUZZ_SECONDS")
rc=$?
read -r total oks <<<"$res"
ktap_print_msg "random: ${total:-0} writes in $FUZZ_SECONDS s, ${oks:-0} accepted"
ktap_check "random input for $FUZZ_SECONDS s: every write ends" [ "$rc" = 0 ]
echo 0 > /sys/module/rmigration/parameters/trace

healthy() { expect_write "$DEBUGFS/stop_one_cpu" 0 ok && unload_module && load_module && unload_module; }
ktap_check "afterwards the module still works, unloads and reloads" healthy
ktap_check "no file is left behind" [ ! -e "$DEBUGFS" ]

ktap_check_log "$mark"
ktap_finished
