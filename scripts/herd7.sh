#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# herd7, the simulator of the Linux-kernel memory model
# (tools/memory-model/), for the litmus tests of tests/litmus/.
#
#   scripts/herd7.sh              installs it if needed; prints its version
#   scripts/herd7.sh ARG...       installs it if needed; runs herd7 ARG...
#                                 with the kernel tree's model:
#                                 -I tools/memory-model -conf linux-kernel.cfg
#   scripts/herd7.sh --root       installs it if needed; prints where
#
# Debian sid's herdtools7 needs glibc >= 2.42, newer than bookworm's and
# trixie's: it is unpacked (dpkg -x, never installed) under
# $CACHE/tools/herd7 with sid's libc6 and libgmp10 beside it, and run
# through that loader. The packages come through the private apt
# configuration of scripts/env.sh (private_apt, apt_unpack). Pinned
# versions; if sid no longer has one, its version is taken and said.
# Nothing outside $CACHE is written. The model is the kernel tree's
# (kernel_src, unpacked by scripts/setup.sh).
set -euo pipefail
. "$(dirname "$0")/env.sh"

HERD7_ROOT=$TOOLS/herd7
HERD7_PKGS=(herdtools7=7.58-2 libc6=2.43-7 libgmp10=2:6.3.0+dfsg-5+b2)
LIBDIR=$HERD7_ROOT/usr/lib/x86_64-linux-gnu

run_herd7() {
	"$LIBDIR/ld-linux-x86-64.so.2" --library-path "$LIBDIR" \
		"$HERD7_ROOT/usr/bin/herd7" \
		-set-libdir "$HERD7_ROOT/usr/share/herdtools7/herd" "$@"
}

# sid_version PKG=VERSION: PKG=VERSION if sid has that version (or it
# was downloaded before), else PKG=(sid's version), said on stderr.
sid_version() {
	local p=${1%%=*} v=${1#*=} have
	have=$(apt-cache "${APT_OPTS[@]}" madison "$p" |
		awk -F' *[|] *' '$3 ~ /debian sid\// {print $2}')
	if grep -qxF -- "$v" <<< "$have" ||
	   compgen -G "$APT_DIR/archives/${p}_${v//:/%3a}_*.deb" >/dev/null; then
		echo "$p=$v"
		return 0
	fi
	have=$(head -1 <<< "$have")
	[ -n "$have" ] || die "$p is not in sid"
	log "$p $v is gone from sid: taking sid's $have"
	echo "$p=$have"
}

# The versions are written once herd7 ran from its new place.
install_herd7() {
	[ -f "$HERD7_ROOT/.versions" ] && return 0
	private_apt
	local pkgs=() pv
	for pv in "${HERD7_PKGS[@]}"; do
		pkgs+=("$(sid_version "$pv")")
	done
	log "downloading ${pkgs[*]} (sid), unpacking them under $HERD7_ROOT"
	rm -rf "$HERD7_ROOT.new"
	apt_unpack "$HERD7_ROOT.new" "${pkgs[@]}" || die "could not download ${pkgs[*]}"
	rm -rf "$HERD7_ROOT" && mv "$HERD7_ROOT.new" "$HERD7_ROOT"
	run_herd7 -version >/dev/null || die "herd7 does not run from $HERD7_ROOT"
	printf '%s\n' "${pkgs[@]}" > "$HERD7_ROOT/.versions"
}

mkdir -p "$TOOLS"
install_herd7

case "${1:-}" in
"")
	printf 'herd7 %s (%s) in %s\n' "$(run_herd7 -version | head -1)" \
		"$(paste -sd' ' "$HERD7_ROOT/.versions")" "$HERD7_ROOT"
	;;
--root)
	echo "$HERD7_ROOT"
	;;
*)
	src=$(kernel_src) || die "no kernel tree in $KSRC_ROOT (scripts/setup.sh)"
	# herd7 finds linux-kernel.cfg's .bell, .cat and .def by -I.
	run_herd7 -I "$src/tools/memory-model" -conf linux-kernel.cfg "$@"
	;;
esac
