#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The project is the source of truth for the files it carries into the
# kernel series: the Dune selftests (tools/testing/selftests/dune), the
# documentation (Documentation/virt/kvm/x86/dune.rst and the api.rst
# sections in Documentation/virt/kvm/api-dune.rst) and the MAINTAINERS entry
# (MAINTAINERS.snippet).  This rebuilds the commits that carry them as the
# last commits of build/linux, from the project's copies.  Edit them in the
# project, not in build/linux.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
tree=$top/build/linux
msgs=$top/scripts/carried
G() { git -C "$tree" "$@"; }
export GIT_AUTHOR_DATE="2000-01-01T00:00:00Z" GIT_COMMITTER_DATE="2000-01-01T00:00:00Z"

subjects=()
for m in "$msgs"/*.txt; do subjects+=("$(head -1 "$m")"); done
is_carried() { local s; for s in "${subjects[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

step "sync carried files into build/linux"
core=$(G rev-parse HEAD)
while is_carried "$(G log -1 --format=%s "$core")"; do core=$(G rev-parse "$core^"); done
G reset -q --hard "$core"

commit() {	# message file, paths
	local msg=$1
	shift
	# -f: Debian's linux-source ships a .gitignore that ignores everything
	G add -A -f -- "$@"
	G diff --cached --quiet || G commit -q -F "$msg"
}

# 1. selftests
dst=$tree/tools/testing/selftests/dune
rm -rf "$dst"; mkdir -p "$dst"
(cd "$top" && git ls-files -co --exclude-standard tools/testing/selftests/dune) | while read -r f; do
	cp "$top/$f" "$tree/$f"
done
mk=$tree/tools/testing/selftests/Makefile
grep -q '^TARGETS += dune$' "$mk" || sed -i '0,/^TARGETS += drivers/s//TARGETS += dune\n&/' "$mk"
commit "$msgs/10-selftests.txt" tools/testing/selftests/dune tools/testing/selftests/Makefile

# 2. documentation
if [ -f "$top/Documentation/virt/kvm/x86/dune.rst" ]; then
	cp "$top/Documentation/virt/kvm/x86/dune.rst" "$tree/Documentation/virt/kvm/x86/dune.rst"
	idx=$tree/Documentation/virt/kvm/x86/index.rst
	grep -q '^   dune$' "$idx" || sed -i 's/^   cpuid$/   cpuid\n   dune/' "$idx"
	if [ -f "$top/Documentation/virt/kvm/api-dune.rst" ]; then
		python3 - "$top/Documentation/virt/kvm/api-dune.rst" "$tree/Documentation/virt/kvm/api.rst" <<'PY'
import sys
frag = open(sys.argv[1]).read()
ioctls, caps = frag.split('.. api-dune: capabilities\n', 1)
ioctls = ioctls.split('.. api-dune: ioctls\n', 1)[1]
p = sys.argv[2]
s = open(p).read()
def before(s, heading, text):
    i = s.index('\n' + heading + '\n') + 1
    return s[:i] + text.strip('\n') + '\n\n' + s[i:]
s = before(s, '.. _kvm_run:', ioctls) if '\n.. _kvm_run:\n' in s else before(s, '5. The kvm_run structure', ioctls)
s = before(s, '9. Known KVM API problems', caps)
open(p, 'w').write(s)
PY
	fi
	commit "$msgs/20-docs.txt" Documentation/virt/kvm
fi

# 3. MAINTAINERS
if [ -f "$top/MAINTAINERS.snippet" ]; then
	python3 - "$top/MAINTAINERS.snippet" "$tree/MAINTAINERS" <<'PY'
import re, sys
snip = open(sys.argv[1]).read().strip('\n').split('\n')
p = sys.argv[2]
lines = open(p).read().split('\n')
title = snip[0]
# An entry is a title line after a blank line, followed by "X:<tab>" lines.
# The file is sorted by title, with a few exceptions: put the entry after
# the one with the greatest title below it.
titles = [i for i in range(101, len(lines) - 1)
          if lines[i - 1] == '' and lines[i] and re.match(r'^[A-Z]:\t', lines[i + 1])
          and lines[i] < title]
if not titles:
    sys.exit('MAINTAINERS: no place for the entry')
i = max(titles, key=lambda i: lines[i])
while lines[i] != '':
    i += 1
lines[i + 1:i + 1] = snip + ['']
open(p, 'w').write('\n'.join(lines))
PY
	commit "$msgs/30-maintainers.txt" MAINTAINERS
fi
info "carried commits rebuilt on $(G log -1 --format=%h "$core")"
done_step
