#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Check every patch of the series on its own:
#  1. scripts/checkpatch.pl --strict.  FILE_PATH_CHANGES ("added, moved or
#     deleted file(s), does MAINTAINERS need updating?") is ignored: the
#     series' own MAINTAINERS patch covers every file it adds.
#  2. The kernel builds after each patch, with KVM, KVM_INTEL and KVM_AMD as
#     modules and CONFIG_KVM_DUNE on as soon as it exists (bisectability).
# Works in a separate git worktree (build/series) so build/linux is left
# alone; objects go to $(cache_dir)/obj-series.
#   scripts/series-check.sh [--no-build]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
tree=$top/build/linux
wt=$top/build/series
build=1
[ "${1:-}" = "--no-build" ] && build=0
[ -d "$tree/.git" ] || die "no build/linux: run scripts/kernel-prepare.sh"
mkdir -p "$top/build/logs"

commits=$(git -C "$tree" rev-list --reverse base..HEAD)
[ -n "$commits" ] || die "no patches above base"
fail=0

step "checkpatch --strict on every patch"
for c in $commits; do
	subj=$(git -C "$tree" log -1 --format=%s "$c")
	# spdxcheck.py needs ply: Debian's python3-ply, so Debian's python3 first
	out=$(cd "$tree" && PATH=/usr/bin:$PATH ./scripts/checkpatch.pl --strict --ignore FILE_PATH_CHANGES -q -g "$c" 2>&1) || true
	if [ -n "$out" ]; then
		err "checkpatch: $subj"
		printf '%s\n' "$out" | head -40 >&2
		fail=1
	else
		info "ok  $subj"
	fi
done
done_step

if [ $build = 1 ]; then
	step "build after every patch (modules)"
	git -C "$tree" worktree prune
	[ -d "$wt" ] || git -C "$tree" worktree add -q --detach "$wt" base
	cache=$(cache_dir)
	obj=$cache/obj-series
	mkdir -p "$obj"
	export CCACHE_DIR=$cache/ccache CCACHE_MAXSIZE=5G CCACHE_BASEDIR=$wt CCACHE_NOHASHDIR=1
	export KBUILD_BUILD_TIMESTAMP="2000-01-01" KBUILD_BUILD_USER=kvm-dune KBUILD_BUILD_HOST=kvm-dune
	cc="ccache gcc"
	mk() { make -C "$wt" O="$obj" CC="$cc" HOSTCC="$cc" -j"$(nproc)" "$@"; }
	for c in $commits; do
		subj=$(git -C "$tree" log -1 --format=%s "$c")
		git -C "$wt" checkout -q --detach "$c"
		log=$top/build/logs/series-$(git -C "$tree" log -1 --format=%h "$c").log
		t0=$(date +%s)
		{
			mk tinyconfig
			"$wt/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" \
				"$top/scripts/config/test.config" "$top/.config.fragment" \
				"$top/scripts/config/modules.config"
			mk olddefconfig
			mk bzImage modules
		} >"$log" 2>&1 && r=0 || r=1
		if [ $r = 0 ] && grep -q ': warning:' "$log"; then
			err "build warnings after: $subj"; grep ': warning:' "$log" | head -10 >&2; fail=1
		elif [ $r = 0 ]; then
			info "ok  $subj ($(( $(date +%s) - t0 ))s)"
		else
			err "build fails after: $subj (log: $log)"; grep -E 'error' "$log" | head -10 >&2; fail=1
		fi
	done
	done_step
fi
[ $fail = 0 ] || die "series check failed"
info "series check passed"
