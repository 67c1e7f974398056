#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Export the commits of build/linux above tag 'base' to patches/ as
# 'git format-patch' output with stable names and contents: no commit
# hashes, a fixed date, no version signature.  patches/0000-cover-letter.patch
# is written by hand and kept.
#
# Before exporting, the files the project carries into the series (the
# selftests under tools/testing/selftests/dune and the Documentation) are
# synced into build/linux by scripts/sync-carried.sh, so the series always
# has the project's current copies.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
tree=$top/build/linux
[ -d "$tree/.git" ] || die "no build/linux"
[ -z "$(git -C "$tree" status --porcelain --untracked-files=no)" ] ||
	die "build/linux has uncommitted changes: commit them first"

[ "${1:-}" = "--no-sync" ] || "$top/scripts/sync-carried.sh"

step "export patches"
tmp=$(mktemp -d)
git -C "$tree" format-patch -q --zero-commit --no-signature --no-numbered \
	--subject-prefix=PATCH -o "$tmp" base..HEAD
n=0
for p in "$tmp"/*.patch; do
	[ -e "$p" ] || continue
	sed -i 's/^Date: .*/Date: Sat, 1 Jan 2000 00:00:00 +0000/' "$p"
	n=$((n + 1))
done
find "$top/patches" -name '[0-9][0-9][0-9][1-9]-*.patch' -delete
find "$top/patches" -name '00[1-9][0-9]-*.patch' -delete
cp "$tmp"/*.patch "$top/patches/" 2>/dev/null || true
rm -rf "$tmp"

# The cover letter: the hand-written text with the series' shortlog and
# diffstat filled in.
python3 - "$top/scripts/carried/cover-letter.in" "$top/patches/0000-cover-letter.patch" \
	"$n" "$(git -C "$tree" shortlog --no-merges base..HEAD | sed 's/^$//')" \
	"$(git -C "$tree" diff --stat=72 base HEAD)" <<'PY'
import sys
src, dst, n, shortlog, diffstat = sys.argv[1:]
s = open(src).read()
s = s.replace('@N@', '%02d' % int(n)).replace('@SHORTLOG@', shortlog.strip('\n'))
s = s.replace('@DIFFSTAT@', diffstat.strip('\n'))
open(dst, 'w').write(s)
PY
info "$n patches in patches/"
done_step
