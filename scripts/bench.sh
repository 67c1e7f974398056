#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Benchmarks: native vs Dune mode, one table.
#   scripts/bench.sh [--backend svm|vmx|kvm] [--mem MB] [--cpus N]
#       [--scale F] [--thp-mb N] [--out FILE] [--extra BIN]...
#
# Builds bench/ (build/bench/dune_bench and dune_bench_libdune, static),
# boots the test kernel on the backend (scripts/run-suite.sh, default svm)
# with the benchmark as the only test, and prints the table the benchmark
# printed on the console, headed by the date and a description of the host.
# --out FILE also writes that to FILE.  --scale multiplies the iteration
# counts, --thp-mb sets the THP region of item 8 (default: 1 GiB when the
# VM has the memory; --mem defaults to 2048 for that).  --extra BIN is
# passed on to scripts/run-suite.sh (another binary in the initramfs).
#
# Exit status 0 when the benchmark ran and measured every item (it never
# judges the numbers); non-zero when the build, the boot or a measurement
# failed.  Console: build/logs/<backend>-test-dune_bench.log; the whole
# run's output: build/logs/bench-<backend>.out.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

usage() { sed -n '3,20p' "$0" >&2; exit 2; }
backend=svm mem=2048 cpus= scale= thpmb= out= more=()
while [ $# -gt 0 ]; do
	[ $# -ge 2 ] || usage
	case "$1" in
	--backend) backend=$2 ;;
	--mem) mem=$2 ;;
	--cpus) cpus=$2 ;;
	--scale) scale=$2 ;;
	--thp-mb) thpmb=$2 ;;
	--out) out=$2 ;;
	--extra) more+=(--extra "$2") ;;
	*) err "unknown option $1"; usage ;;
	esac
	shift 2
done
case "$backend" in svm|vmx|kvm) ;; *) die "unknown backend $backend (svm, vmx, kvm)" ;; esac

kernel=$(cache_dir)/obj-test/arch/x86/boot/bzImage
[ -f "$kernel" ] || die "no test kernel at $kernel: run scripts/build-kernel.sh test (or make kernel)"
[ -f "$(cache_dir)/headers/include/linux/kvm.h" ] ||
	die "no uapi headers in $(cache_dir)/headers: run scripts/build-kernel.sh test"

logs=$top/build/logs
mkdir -p "$logs"
step "build the benchmark (bench/)"
bmake() { make -s -C "$top/bench" HEADERS="$(cache_dir)/headers/include" "$@"; }
bmake dune_bench >"$logs/bench-build.log" 2>&1 ||
	{ tail -30 "$logs/bench-build.log" >&2; die "benchmark build failed: see build/logs/bench-build.log"; }
# The libdune rows use the committed libdune (work in progress in the tree
# stays out); without them the raw rows still stand.
extras=(--extra "$top/build/bench/dune_bench")
librev="not built"
lsrc=$top/build/bench/libdune-src
rm -rf "$lsrc" && mkdir -p "$lsrc"
if git -C "$top" archive HEAD libdune | tar -x -C "$lsrc" &&
   bmake LIBDUNE="$lsrc/libdune" dune_bench_libdune >>"$logs/bench-build.log" 2>&1; then
	extras+=(--extra "$top/build/bench/dune_bench_libdune")
	librev=$(git -C "$top" log -1 --format='%h' -- libdune)
else
	warn "libdune could not be built (build/logs/bench-build.log): no libdune rows"
fi
done_step

append="bench.backend=$backend"
[ -z "$scale" ] || append="$append bench.scale=$scale"
[ -z "$thpmb" ] || append="$append bench.thp_mb=$thpmb"
# Guest-clock timeout for the benchmark binary and wall-clock for the boot:
# Bochs' guest clock runs at about half the wall clock here.
case "$backend" in
vmx) ttimeout=900 wtimeout=1800 ;;
*) ttimeout=900 wtimeout=1200 ;;
esac
run_out=$logs/bench-$backend.out
load0=$(cut -d' ' -f1-3 /proc/loadavg)	# TCG timings suffer from a busy host
step "run on $backend (console: build/logs/$backend-test-dune_bench.log)"
rc=0
"$top/scripts/run-suite.sh" --backend "$backend" --suite dune_bench \
	"${extras[@]}" "${more[@]}" \
	--mem "$mem" ${cpus:+--cpus "$cpus"} --test-timeout "$ttimeout" --timeout "$wtimeout" \
	--append "$append" --show >"$run_out" 2>&1 || rc=$?
done_step

# The table: the benchmark's lines between the markers, less /init's "# ".
table=$(sed -n 's/^# //; /^BENCH-TABLE-BEGIN$/,/^BENCH-TABLE-END$/p' "$run_out" |
	grep -v '^BENCH-TABLE-' || true)
trailer=$(sed -n 's/^# \(MISSING: .*\|NOTE: .*\|bench: [0-9]* measurement.*\)$/\1/p' "$run_out")

host_cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
if grep -qw -e vmx -e svm /proc/cpuinfo; then hwvirt="hardware virtualization available"
else hwvirt="no hardware virtualization"; fi
case "$backend" in
svm) emu="$(qemu-system-x86_64 --version 2>/dev/null | head -1 | sed 's/ *Copyright.*//'), TCG (-cpu max, AMD SVM+NPT emulated), $mem MiB" ;;
vmx) emu="Bochs $(dpkg-query -W -f '${Version}' bochs 2>/dev/null || echo '?') (corei7_skylake_x, VMX+EPT emulated, ips=50M), $mem MiB" ;;
kvm) emu="QEMU -enable-kvm -cpu host (nested KVM), $mem MiB" ;;
esac

report() {
	echo "kvm-dune benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), git $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?') (libdune $librev)"
	echo "host: $host_cpu, $(nproc) cores, $hwvirt; $emu"
	echo "host load average before/after the run: $load0 / $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	printf '%s\n' "$table"
	[ -z "$trailer" ] || { echo; printf '%s\n' "$trailer"; }
}

if [ -z "$table" ]; then
	echo "---- no table on the console; the end of the run's output ($run_out): ----"
	tail -60 "$run_out"
	die "bench on $backend: the benchmark printed no table"
fi
report
[ -z "$out" ] || report >"$out"
if [ "$rc" -ne 0 ]; then
	echo
	grep -E '^(FAIL|PASS|  - |==== )' "$run_out" || true
	die "bench on $backend: the run failed (a measurement could not be made, or the boot failed: see $run_out)"
fi
