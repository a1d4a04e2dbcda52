#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The module on a distribution's kernel (scripts/stock.sh suite runs it on
# Debian's): built for this very kernel (vermagic), loads with every symbol
# resolved, taints the kernel only as out-of-tree and unsigned (O, E), and
# unloads, with nothing in the kernel log.

source "$(dirname "$(readlink -f "$0")")/lib.sh"

ktap_print_header
skip_unless_root
skip_unless_module
ktap_set_plan 5

unload_module 2>/dev/null
mark=$(log_mark)

# The vermagic of the kernel's own modules, when it has some: "RELEASE SMP
# preempt mod_unload" and the like.
vermagic_matches() {
	local ours ref theirs
	ours=$(modinfo -F vermagic "$MODULE")
	ktap_print_msg "vermagic: $ours"
	ref=$(find "/lib/modules/$(uname -r)/kernel" -name '*.ko*' 2>/dev/null | head -1)
	if [ -n "$ref" ]; then
		theirs=$(modinfo -F vermagic "$ref")
		[ "$ours" = "$theirs" ] ||
			{ ktap_print_msg "${ref##*/}: $theirs"; return 1; }
	fi
	[[ $ours == "$(uname -r) "* ]]
}
ktap_check "vermagic is this kernel's ($(uname -r))" vermagic_matches

# Taint flags (/proc/sys/kernel/tainted): O is bit 12, E bit 13.
read -r taint_before < /proc/sys/kernel/tainted
ktap_check "module loads" load_module

no_unknown_symbol() {
	! log_since "$mark" | grep -E 'Unknown symbol|disagrees about version|invalid module format'
}
ktap_check "every symbol resolved (no 'Unknown symbol' in the kernel log)" no_unknown_symbol

only_oe_taint() {
	local t
	read -r t < /proc/sys/kernel/tainted
	ktap_print_msg "tainted: $t before load $taint_before (O = 4096, E = 8192)"
	[ $(( (t & ~(4096 | 8192)) & ~taint_before )) = 0 ]
}
ktap_check "the only new taints are O (out of tree) and E (unsigned)" only_oe_taint

unload_module
ktap_check_log "$mark"
ktap_finished
