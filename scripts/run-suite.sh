#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Boot the test kernel on one backend, run a suite, judge the console.
#   scripts/run-suite.sh --backend svm|vmx|kvm [--flavour test|debug]
#       [--suite NAME] [--timeout S] [--test-timeout S] [--mem MB] [--cpus N]
#       [--phys-bits N] [--la57 on|off] [--append "ARGS"] [--extra BIN]...
#       [--kernel BZIMAGE] [--initrd CPIO.GZ] [--inject fail|panic|hang] [--show]
#   scripts/run-suite.sh --parse CONSOLE.LOG [--backend NAME]
#
# Builds the initramfs (scripts/mkinitramfs.sh) unless --initrd is given,
# boots $(cache_dir)/obj-<flavour>/arch/x86/boot/bzImage (scripts/boot.sh),
# then reads the TAP on the console. Prints a line per test and, last, the
# summary "<backend>: N passed, M failed, K skipped".
# Exit 0 only if at least one test ran, all passed or skipped, the end marker
# was printed (no panic, hang or timeout) and the log holds no kernel splat.
# --show prints the tests' console output (from /init's start to its end).
# --parse judges an existing console log without booting (harness tests).
# --inject is a harness self-test hook (see scripts/init); never in the suite.
# Logs: build/logs/<backend>-<flavour>-<suite>.log (+ .emu, .bochs).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

usage() { sed -n '3,20p' "$0" >&2; exit 2; }
backend= flavour=test suite=all timeout= ttimeout= kernel= initrd= inject= parse=
boot_opts=() extras=() append= show=0
while [ $# -gt 0 ]; do
	[ "$1" = --show ] && { show=1; shift; continue; }
	[ $# -ge 2 ] || case "$1" in -h|--help) usage ;; *) err "$1 needs a value"; usage ;; esac
	case "$1" in
	--backend) backend=$2 ;;
	--flavour) flavour=$2 ;;
	--suite) suite=$2 ;;
	--timeout) timeout=$2 ;;
	--test-timeout) ttimeout=$2 ;;
	--mem|--cpus|--phys-bits|--la57) boot_opts+=("$1" "$2") ;;
	--append) append="$append $2" ;;
	--extra) extras+=(--extra "$2") ;;
	--kernel) kernel=$2 ;;
	--initrd) initrd=$2 ;;
	--inject) inject=$2 ;;
	--parse) parse=$2 ;;
	*) err "unknown option $1"; usage ;;
	esac
	shift 2
done
[ -n "$backend" ] || [ -n "$parse" ] || usage
: "${backend:=log}"

logs=$top/build/logs
mkdir -p "$logs"

# --- build and boot ----------------------------------------------------------
if [ -z "$parse" ]; then
	case "$flavour" in test|debug|modules) ;; *) die "unknown flavour $flavour" ;; esac
	case "$backend" in svm|vmx|kvm) ;; *) die "unknown backend $backend (svm, vmx, kvm)" ;; esac
	[ -n "$kernel" ] || kernel=$(cache_dir)/obj-$flavour/arch/x86/boot/bzImage
	[ -f "$kernel" ] || die "no kernel at $kernel: build it first (make kernel, or scripts/build-kernel.sh $flavour)"
	if [ -z "$initrd" ]; then	# one of our own: runs may overlap
		initrd=$(mktemp "$top/build/initramfs.XXXXXX.cpio.gz")
		trap 'rm -f "$initrd"' EXIT
		"$top/scripts/mkinitramfs.sh" "${extras[@]}" "$initrd" ||
			die "initramfs build failed"
	fi
	[ "$suite" = all ] || append="$append dune.suite=$suite"
	# Per-test timeouts (guest seconds). Bochs' guest clock runs at about
	# half the wall clock here: keep a stuck test from eating the whole
	# wall-clock budget. The debug kernel (KASAN, lockdep, ...) is several
	# times slower than the test kernel.
	if [ "$flavour" = debug ]; then
		[ -n "$ttimeout" ] || ttimeout=$([ "$backend" = vmx ] && echo 450 || echo 900)
		case "$backend" in
		vmx) : "${timeout:=6000}" ;;
		*) : "${timeout:=2700}" ;;
		esac
	fi
	[ -n "$ttimeout" ] || [ "$backend" != vmx ] || ttimeout=150
	[ -z "$ttimeout" ] || append="$append dune.timeout=$ttimeout"
	[ -z "$inject" ] || append="$append dune.inject=$inject"
	# build/logs/<backend>-<flavour>-<suite>.log, or .<pid>.log while
	# another run holds that name.
	parse=$logs/$backend-$flavour-$suite.log
	exec {lockfd}>"$parse.lock"
	if ! flock -n "$lockfd"; then
		parse=$logs/$backend-$flavour-$suite.$$.log
		info "another run is using build/logs/$backend-$flavour-$suite.log; this one logs to $(basename "$parse")"
	fi
	step "boot $backend ($flavour kernel, suite $suite; console: build/logs/$(basename "$parse"))"
	brc=0
	"$top/scripts/boot.sh" --backend "$backend" --kernel "$kernel" --initrd "$initrd" \
		--log "$parse" ${timeout:+--timeout "$timeout"} "${boot_opts[@]}" \
		${append:+--append "$append"} &
	bpid=$!
	# If we are stopped, boot.sh stops its emulator.
	trap 'kill -TERM $bpid 2>/dev/null; wait $bpid; exit 130' INT TERM
	wait $bpid || brc=$?
	trap - INT TERM
	done_step
	[ "$brc" -ne 3 ] || die "$backend: the emulator could not be started (see above)"
fi
[ -f "$parse" ] || die "no console log $parse"

# --- judge -------------------------------------------------------------------
log=$parse
recs=$(awk -f "$top/scripts/harness/parse-console.awk" "$log")
field() { printf '%s\n' "$recs" | awk -F'\t' -v k="$1" -v f="$2" '$1 == k { print $f; exit }'; }
if [ $show = 1 ]; then
	tr -d '\r' <"$log" | sed -n '/KVM-DUNE-INIT/,/KVM-DUNE-END/p'
	echo
fi
pass=0 fail=0 skip=0 problems=()
while IFS=$'\t' read -r kind res num name dir; do
	[ "$kind" = RESULT ] || continue
	case "$res" in
	PASS) pass=$((pass + 1)); printf 'PASS  %s\n' "$name" ;;
	SKIP) skip=$((skip + 1)); printf 'SKIP  %s%s\n' "$name" "${dir:+  ($dir)}" ;;
	FAIL) fail=$((fail + 1)); printf 'FAIL  %s%s\n' "$name" "${dir:+  ($dir)}"
		problems+=("test $name: expected exit 0 (or 4 = skip), got ${dir:-a failure}") ;;
	esac
done <<<"$recs"
total=$((pass + fail + skip))
plan=$(field PLAN 2)
end_line=$(printf '%s\n' "$recs" | awk -F'\t' '$1 == "END" { print; exit }')
splats=$(printf '%s\n' "$recs" | awk -F'\t' '$1 == "SPLAT"')

tail_console() {
	echo "---- last 40 console lines ($log) ----"
	tr -d '\r' <"$log" | tail -n 40
	echo "---- end of console ----"
}
show_test_output() {	# the indented output of one test binary
	tr -d '\r' <"$log" | awk -v t="$1" '
		$0 == "# selftests: dune: " t { on = 1 }
		on { print "    " $0 }
		on && $0 ~ /^(not )?ok [0-9]+ - / { exit }'
}

if [ -z "$(field INIT 2)" ]; then
	problems+=("expected /init to start (KVM-DUNE-INIT on the console); it never did: the kernel did not boot to user space")
fi
case "${brc:-}" in
1) problems+=("expected the guest to print its end marker and power off; the emulator stopped without it (see $(basename "$log").emu)") ;;
2) problems+=("expected the run to end within the wall-clock timeout; it did not (hang?)") ;;
esac
if [ -z "$end_line" ]; then
	problems+=("expected the end marker KVM-DUNE-END; none: the run ended early (panic, hang, reboot or timeout)")
else
	read -r _ epass efail eskip _ <<<"$end_line"
	if [ "$epass" != "$pass" ] || [ "$efail" != "$fail" ] || [ "$eskip" != "$skip" ]; then
		problems+=("expected the console's own count ($epass passed, $efail failed, $eskip skipped) to match the TAP lines read ($pass, $fail, $skip)")
	fi
	if [ -n "$plan" ] && [ "$plan" != "$total" ]; then
		problems+=("expected $plan results (TAP plan 1..$plan), read $total")
	fi
fi
if [ "$total" -eq 0 ] && [ -n "$end_line" ]; then
	problems+=("expected at least one test to run; none did")
fi
if [ -n "$splats" ]; then
	problems+=("expected a clean kernel log; found $(printf '%s\n' "$splats" | wc -l) splat line(s)")
fi

if [ ${#problems[@]} -eq 0 ] && [ "$total" -gt 0 ]; then
	echo "$backend: $pass passed, $fail failed, $skip skipped"
	exit 0
fi

echo
echo "==== $backend: FAILED ===="
for p in "${problems[@]}"; do echo "  - $p"; done
while IFS=$'\t' read -r kind res num name dir; do
	[ "$kind" = RESULT ] && [ "$res" = FAIL ] || continue
	echo "---- output of failed test $name ----"
	show_test_output "$name"
done <<<"$recs"
if [ -n "$splats" ]; then
	n=0 shown_to=0
	while IFS=$'\t' read -r _ lno text; do
		[ "$lno" -gt "$shown_to" ] || continue	# inside the last context
		n=$((n + 1))
		[ $n -le 3 ] || { echo "(more splats not shown)"; break; }
		echo "---- kernel splat at console line $lno: $text"
		shown_to=$((lno + 30))
		tr -d '\r' <"$log" | sed -n "$((lno > 5 ? lno - 5 : 1)),${shown_to}p" | sed 's/^/    /'
	done <<<"$splats"
fi
tail_console
if [ "$fail" -eq 0 ]; then	# the run failed without a failing test
	echo "$backend: the run itself failed; counted as 1 failure below"
	fail=1
fi
echo "$backend: $pass passed, $fail failed, $skip skipped"
exit 1
