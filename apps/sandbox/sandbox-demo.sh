#!/bin/sh
# SPDX-License-Identifier: MIT
# make run-sandbox: dune-sandbox in the test VM, a few commands and what
# they print.  Exit 0 if each did what it should, 4 without Dune mode.
S=/tests/sandbox/dune-sandbox
P=/tests/sandbox/sbx_prog
fail=0
show() { echo; echo "\$ $*"; "$@"; echo "[exit status $?]"; }
[ -e /dev/kvm ] || { echo "no /dev/kvm: skip"; exit 4; }

show $S /bin/busybox echo "hello from ring 3"
show $S /bin/busybox sha256sum /etc/passwd
show $S $P hello "a dynamically linked program"
show $S --log $P open /proc/self/maps 2>&1 | grep -E 'open|maps|exit'
show $S $P socket
show $S $P fork
show $S $P exec /bin/busybox echo "execve is emulated: this is busybox, still in ring 3"
show $S $P read 0x30000040
show $S $P vmcall

[ "$($S /bin/busybox echo ok)" = ok ] || fail=1
$S $P open /proc/self/maps | grep -q 'open: EPERM' || fail=1
$S $P vmcall 2>/dev/null && fail=1
echo
[ $fail = 0 ] && echo "sandbox demo: all as expected" || echo "sandbox demo: something was off"
exit $fail
