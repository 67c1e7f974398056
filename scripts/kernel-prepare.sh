#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Prepare build/linux: a git tree whose tag 'base' is the pristine Linux 6.12
# source (Debian's linux-source-6.12, or $LINUX_SRC) with patches/*.patch
# applied on top by 'git am'.  Idempotent: an existing tree whose base
# matches is reset to base and the series re-applied (use --keep to leave
# an existing tree with commits alone).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

tree=$top/build/linux
keep=0
[ "${1:-}" = "--keep" ] && keep=1
want=$(cat "$top/patches/BASE")

if [ ! -d "$tree/.git" ]; then
	step "kernel source"
	mkdir -p "$top/build"
	if [ -n "${LINUX_SRC:-}" ]; then
		info "copying $LINUX_SRC"
		rm -rf "$tree.tmp"; mkdir -p "$tree.tmp"
		(cd "$LINUX_SRC" && git ls-files -z 2>/dev/null | xargs -0 cp --parents -t "$tree.tmp" 2>/dev/null) ||
			cp -a "$LINUX_SRC/." "$tree.tmp/"
	else
		tarball=/usr/src/linux-source-6.12.tar.xz
		if [ ! -f "$tarball" ]; then
			info "installing linux-source-6.12"
			apt-get install -y linux-source-6.12 >/dev/null
		fi
		rm -rf "$tree.tmp"; mkdir -p "$tree.tmp"
		tar -C "$tree.tmp" --strip-components=1 -xf "$tarball"
	fi
	have=$(make -s -C "$tree.tmp" kernelversion)
	[ "$have" = "$want" ] || warn "kernel source is $have, patches/BASE says $want"
	(
		cd "$tree.tmp"
		git init -q -b master .
		git config user.name "kvm-dune developers"; git config user.email "kvm-dune@localhost"
		git config core.autocrlf false
		git add -A -f . >/dev/null
		GIT_COMMITTER_DATE="2000-01-01T00:00:00Z" git commit -q --date="2000-01-01T00:00:00Z" -m "Linux $have (pristine)"
		git tag base
	)
	mv "$tree.tmp" "$tree"
	done_step
elif [ $keep = 1 ]; then
	info "build/linux exists, --keep: leaving it alone"
	exit 0
fi

cd "$tree"
have=$(make -s kernelversion)
[ "$have" = "$want" ] || warn "build/linux base is $have, patches/BASE says $want"
step "apply series"
git am --abort >/dev/null 2>&1 || true
git reset -q --hard base
git clean -qfdx
n=0
for p in "$top"/patches/[0-9]*.patch; do
	[ -e "$p" ] || continue
	grep -q '^diff --git' "$p" || continue	# cover letter
	if ! git am -q --keep-cr "$p" >/dev/null 2>"$top/build/am.err"; then
		err "patch does not apply: $(basename "$p")"
		cat "$top/build/am.err" >&2
		git am --show-current-patch=diff 2>/dev/null | head -40 >&2 || true
		git am --abort >/dev/null 2>&1 || true
		exit 1
	fi
	n=$((n + 1))
done
info "$n patches applied on $(git describe --tags --always base)"
done_step
