#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs the litmus tests of tests/litmus/ through herd7 and the kernel's
# memory model, on the host (scripts/herd7.sh installs herd7 if needed).
#
# KTAP output. A test, NAME.litmus, passes if herd7 says Never: the
# outcome of its exists clause cannot happen. A mutant,
# NAME-mutant.litmus or NAME-mutant-WHAT.litmus, is the test with one
# ordering weakened, and passes if herd7 says Sometimes: the test
# catches the weakening. A mutant that herd7 says Never fails: the
# ordering it weakens is not needed, and the code or its comment is
# wrong about what it relies on (tests/litmus/README.md, "Findings").
#
#   tests/litmus.sh [FILE.litmus...]   default: every tests/litmus/*.litmus
#
# Exit status: 0 if every test and mutant passed, 1 if not,
# 4 (skip) if herd7 or the kernel's memory model is not available.
set -euo pipefail
shopt -s nullglob
export LC_ALL=C

DIR=$(dirname "$(readlink -f "$0")")
HERD7=$DIR/../scripts/herd7.sh

# secs START: the time since START ($EPOCHREALTIME), in seconds.
secs() {
	local us=$(( ${EPOCHREALTIME/./} - ${1/./} ))

	printf '%d.%02d s' $((us / 1000000)) $((us % 1000000 / 10000))
}

# Each test, then its mutants; mutants without a test last.
if [ $# -eq 0 ]; then
	for t in "$DIR"/litmus/*.litmus; do
		case $t in
		*-mutant.litmus | *-mutant-*.litmus)
			;;
		*)
			set -- "$@" "$t"
			m=${t%.litmus}-mutant
			[ -f "$m.litmus" ] && set -- "$@" "$m.litmus"
			set -- "$@" "$m"-*.litmus
			;;
		esac
	done
	for t in "$DIR"/litmus/*-mutant.litmus "$DIR"/litmus/*-mutant-*.litmus; do
		[ -f "${t%-mutant*}.litmus" ] || set -- "$@" "$t"
	done
fi

# Installs herd7 if needed (its log goes to stderr) and checks that it
# runs with the kernel's model.
if ! info=$("$HERD7") || ! "$HERD7" -version >/dev/null 2>&1; then
	echo "1..0 # SKIP herd7 or the kernel's memory model is not available (scripts/herd7.sh)"
	exit 4
fi

echo "1..$#"
echo "# $info"
pass=0 fail=0 n=0
all=$EPOCHREALTIME
for f in "$@"; do
	n=$((n + 1))
	name=$(basename "$f" .litmus)
	case $name in
	*-mutant | *-mutant-*)	want=Sometimes ;;
	*)			want=Never ;;
	esac
	start=$EPOCHREALTIME
	out=$("$HERD7" "$f" 2>&1) && rc=0 || rc=$?
	took=$(secs "$start")
	# Observation NAME Never|Sometimes|Always POSITIVE NEGATIVE
	obs=$(grep -m1 '^Observation ' <<< "$out" || true)
	read -r _ oname result _ <<< "$obs" || true
	if [ $rc -ne 0 ] || [ -z "$obs" ]; then
		echo "not ok $n $name: herd7 gave no result (exit status $rc)"
		grep -v '^$' <<< "$out" | head -5 | sed 's/^/# /'
		fail=$((fail + 1))
		continue
	fi
	if [ "$oname" != "$name" ]; then
		echo "not ok $n $name: the test inside is named $oname"
		fail=$((fail + 1))
	elif [ "$result" = Never ] && [ $want = Never ]; then
		echo "ok $n $name: Never"
		pass=$((pass + 1))
	elif [ "$result" = Sometimes ] && [ $want = Sometimes ]; then
		echo "ok $n $name: Sometimes (caught)"
		pass=$((pass + 1))
	elif [ $want = Never ]; then
		echo "not ok $n $name: $result"
		fail=$((fail + 1))
	else
		echo "not ok $n $name: $result (not caught)"
		fail=$((fail + 1))
	fi
	echo "# $obs ($took)"
done
echo "# Totals: pass:$pass fail:$fail ($(secs "$all"))"
[ $fail -eq 0 ]
