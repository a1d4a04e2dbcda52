#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds rmigration.ko (and the test modules under tests/) against the test
# kernel, or against KDIR if set. Prints nothing but errors and warnings.
#
#   scripts/build.sh [clean]        CLIPPY=1 runs clippy on the Rust code too
set -euo pipefail
. "$(dirname "$0")/env.sh"

kdir=$("$TOP/scripts/kernel.sh")
mk=(make -s -C "$kdir" BINDGEN="$BINDGEN" ${CLIPPY:+CLIPPY=1})

if [ "${1:-}" = clean ]; then
	"${mk[@]}" M="$TOP" clean
	for d in "$TOP"/tests/modules/*/; do
		[ -f "$d/Kbuild" ] && "${mk[@]}" M="${d%/}" clean
	done
	exit 0
fi

"${mk[@]}" M="$TOP" modules
for d in "$TOP"/tests/modules/*/; do
	[ -f "$d/Kbuild" ] || continue
	"${mk[@]}" M="${d%/}" KBUILD_EXTRA_SYMBOLS="$TOP/Module.symvers" modules
done
