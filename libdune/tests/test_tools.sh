#!/bin/sh
# SPDX-License-Identifier: MIT
# dune-run and the DUNE_RUN constructor of libdune.so, on this host (TAP).
B=${1:-build}
n=0; failed=0
t() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi; }

$B/dune-run --check >/dev/null 2>&1; rc=$?
if [ $rc -eq 0 ]; then have_dune=1; else have_dune=0; fi
[ $rc -eq 0 ] || [ $rc -eq 1 ]; t $? "dune-run --check exits 0 or 1 (got $rc)"

out=$(LD_PRELOAD=$PWD/$B/libdune.so $B/tests/preload_probe)
echo "$out" | grep -q libdune; t $? "LD_PRELOAD interposes pthread_create ($out)"

$B/dune-run --help | grep -q usage; t $? "dune-run --help"
$B/dune-run >/dev/null 2>&1; [ $? -eq 2 ]; t $? "dune-run without a program: exit 2"

if [ $have_dune -eq 0 ]; then
	err=$($B/dune-run $B/tests/preload_probe 2>&1); rc=$?
	[ $rc -eq 126 ]; t $? "dune-run without Dune mode: exit 126"
	echo "$err" | grep -q "cannot run"; t $? "... with a clear message: $err"
	out=$($B/dune-run --optional $B/tests/preload_probe 2>/dev/null); rc=$?
	[ $rc -eq 0 ]; t $? "dune-run --optional runs natively"
	err=$(DUNE_RUN=1 LD_PRELOAD=$PWD/$B/libdune.so $B/tests/preload_probe 2>&1); rc=$?
	[ $rc -eq 126 ]; t $? "DUNE_RUN=1 constructor: exit 126 when entry fails"
	echo "$err" | grep -q "cannot run .* in Dune mode"; t $? "... and says why: $err"
	out=$(DUNE_RUN=1 DUNE_RUN_OPTIONAL=1 LD_PRELOAD=$PWD/$B/libdune.so \
		$B/tests/preload_probe 2>/dev/null); rc=$?
	[ $rc -eq 0 ]; t $? "DUNE_RUN_OPTIONAL=1 continues natively"
	$B/tests/guest_selftest >/dev/null 2>&1; rc=$?
	[ $rc -eq 4 ]; t $? "guest_selftest skips (exit 4) without Dune mode"
else
	echo "# Dune mode available: the failure-path checks are skipped"
	$B/tests/guest_selftest; t $? "guest_selftest in Dune mode"
fi
err=$($B/dune-run --optional $B/tests/link_static 2>&1); rc=$?
if [ $have_dune -eq 1 ]; then
	[ $rc -eq 126 ]; t $? "dune-run refuses a static program"
	echo "$err" | grep -q "statically linked"; t $? "... and says why"
fi

echo "1..$n"
echo "$((n - failed)) passed, $failed failed"
[ $failed -eq 0 ]
