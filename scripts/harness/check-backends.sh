#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Run the suite on several backends with one initramfs, side by side when
# there are cores for it (each emulator uses one), and fail if any fails.
#   scripts/harness/check-backends.sh [--flavour F] [--serial] BACKEND... [-- RUN-SUITE-OPTIONS]
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/scripts/lib.sh"

flavour=test serial=0 backends=() opts=()
while [ $# -gt 0 ]; do
	case "$1" in
	--flavour) flavour=$2; shift 2 ;;
	--serial) serial=1; shift ;;
	--) shift; opts=("$@"); break ;;
	*) backends+=("$1"); shift ;;
	esac
done
[ ${#backends[@]} -gt 0 ] || die "usage: check-backends.sh [--flavour F] [--serial] BACKEND..."
[ "$(nproc)" -ge 2 ] || serial=1

initrd=$top/build/initramfs.cpio.gz
"$top/scripts/mkinitramfs.sh" "$initrd" || die "initramfs build failed"

out=$top/build/logs
mkdir -p "$out"
declare -A pids rcs
t0=$(date +%s)
for b in "${backends[@]}"; do
	o=$out/check-$b-$flavour.out
	cmd=("$top/scripts/run-suite.sh" --backend "$b" --flavour "$flavour" --initrd "$initrd" "${opts[@]}")
	if [ $serial = 1 ]; then
		"${cmd[@]}" 2>&1 | tee "$o"
		rcs[$b]=${PIPESTATUS[0]}
	else
		info "$b: running in the background, output in build/logs/$(basename "$o")"
		"${cmd[@]}" >"$o" 2>&1 &
		pids[$b]=$!
	fi
done
if [ $serial = 0 ]; then
	for b in "${backends[@]}"; do
		wait "${pids[$b]}"
		rcs[$b]=$?
		info "$b: finished after $(( $(date +%s) - t0 ))s (exit ${rcs[$b]})"
	done
	for b in "${backends[@]}"; do
		echo "======== $b ($flavour kernel) ========"
		cat "$out/check-$b-$flavour.out"
	done
fi
rc=0 tp=0 tf=0 ts=0
echo "======== summary ($flavour kernel) ========"
for b in "${backends[@]}"; do
	line=$(grep -E '^[a-z]+: [0-9]+ passed, [0-9]+ failed' "$out/check-$b-$flavour.out" | tail -1)
	read -r p f s < <(echo "$line" | sed -E 's/^[a-z]+: ([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?.*/\1 \2 \4/')
	p=${p:-0} f=${f:-0} s=${s:-0}
	if [ "${rcs[$b]}" != 0 ]; then
		rc=1
		# A backend that failed without a failing test (panic, splat,
		# no tests) still counts as one failure in the total.
		[ "$f" -gt 0 ] || f=1
	fi
	tp=$((tp + p)) tf=$((tf + f)) ts=$((ts + s))
	printf '%-4s %-6s %s\n' "$b" "$([ "${rcs[$b]}" = 0 ] && echo ok || echo FAILED)" "${line:-(no summary: see build/logs/check-$b-$flavour.out)}"
done
echo "total: $tp passed, $tf failed, $ts skipped"
exit $rc
