#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Boot a kernel + initramfs in an emulator, console to a log file.
#   scripts/boot.sh --backend svm|vmx|kvm --kernel BZIMAGE --initrd CPIO.GZ
#                   --log FILE [--timeout S] [--mem MB] [--cpus N]
#                   [--phys-bits N] [--la57 on|off] [--append "ARGS"]
#
# svm  QEMU TCG, -cpu max: AMD SVM + NPT (single-threaded TCG)
# vmx  Bochs 2.7, corei7_skylake_x: Intel VMX + EPT, booted from an isolinux
#      ISO; Bochs is stopped by this script once the run is over
# kvm  QEMU -enable-kvm -cpu host, for hosts with real (nested) virtualization
#
# The serial console goes to FILE, the emulator's own output to FILE.emu.
# The run is over when the console shows the end marker (KVM-DUNE-END), when
# the emulator exits (power-off; QEMU also exits on the reboot that a panic
# triggers, -no-reboot), when a panic or a second boot shows on the console,
# or after the wall-clock timeout. No emulator process outlives this script.
#
# Exit status: 0 end marker seen, 1 ended without it (panic, crash, power
# off early), 2 wall-clock timeout, 3 usage or setup error.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

usage() { sed -n '3,21p' "$0" >&2; exit 3; }
backend= kernel= initrd= log= timeout= mem=1024 cpus=2 physbits= la57= append=
while [ $# -gt 0 ]; do
	[ $# -ge 2 ] || case "$1" in -h|--help) usage ;; *) err "$1 needs a value"; usage ;; esac
	case "$1" in
	--backend) backend=$2 ;;
	--kernel) kernel=$2 ;;
	--initrd) initrd=$2 ;;
	--log) log=$2 ;;
	--timeout) timeout=$2 ;;
	--mem) mem=$2 ;;
	--cpus) cpus=$2 ;;
	--phys-bits) physbits=$2 ;;
	--la57) la57=$2 ;;
	--append) append=$2 ;;
	*) err "unknown option $1"; usage ;;
	esac
	shift 2
done
[ -n "$backend" ] && [ -n "$kernel" ] && [ -n "$initrd" ] && [ -n "$log" ] || usage
[ -f "$kernel" ] || { err "kernel $kernel not found (make kernel)"; exit 3; }
[ -f "$initrd" ] || { err "initramfs $initrd not found (make initramfs)"; exit 3; }
case "$la57" in ""|on|off) ;; *) err "--la57 on|off"; exit 3 ;; esac
case "$backend" in
svm|kvm) : "${timeout:=900}" ;;
vmx) : "${timeout:=2400}" ;;
*) err "unknown backend '$backend' (svm, vmx or kvm)"; exit 3 ;;
esac

mkdir -p "$(dirname "$log")"
log=$(readlink -f "$log")
work=$(mktemp -d "$top/build/boot.$backend.XXXXXX" 2>/dev/null || mktemp -d)
: >"$log"
: >"$log.emu"

# Kernel command line shared by all backends: serial console, any oops is a
# panic, a panic reboots at once (which ends QEMU with -no-reboot).
cmdline="console=ttyS0,115200 panic=-1 oops=panic rdinit=/init"

case "$backend" in
svm|kvm)
	command -v qemu-system-x86_64 >/dev/null ||
		{ err "qemu-system-x86_64 not found: apt-get install qemu-system-x86"; exit 3; }
	if [ "$backend" = svm ]; then
		cpu=max
		accel=(-accel tcg,thread=single)
		# TCG passes the host TSC through unscaled: pin the guest's TSC
		# rate to the host's, measured (KVM_DUNE_TSC_KHZ overrides).
		khz=${KVM_DUNE_TSC_KHZ:-}
		if [ -z "$khz" ]; then
			tool=$(cache_dir)/tools/tsc-khz
			if [ ! -x "$tool" ] || [ "$top/scripts/harness/tsc-khz.c" -nt "$tool" ]; then
				mkdir -p "$(dirname "$tool")"
				gcc -O2 -o "$tool" "$top/scripts/harness/tsc-khz.c"
			fi
			khz=$("$tool")
		fi
		cmdline="$cmdline tsc_early_khz=$khz"
	else
		[ -r /dev/kvm ] && [ -w /dev/kvm ] || { err "backend kvm: /dev/kvm not usable"; exit 3; }
		# Some sandboxes offer a /dev/kvm without VMX/SVM (e.g. PVM),
		# which cannot run an unmodified kernel.
		grep -qw -e vmx -e svm /proc/cpuinfo || [ -n "${KVM_DUNE_FORCE_KVM:-}" ] ||
			{ err "backend kvm: the host CPU shows no vmx/svm flag (KVM_DUNE_FORCE_KVM=1 to try anyway)"; exit 3; }
		cpu=host
		accel=(-enable-kvm)
	fi
	[ -z "$physbits" ] || cpu="$cpu,phys-bits=$physbits"
	[ -z "$la57" ] || cpu="$cpu,la57=$la57"
	cmdline="$cmdline $append"
	emu=(qemu-system-x86_64 "${accel[@]}" -cpu "$cpu" -M pc -m "$mem" -smp "$cpus"
	     -nodefaults -display none -no-reboot -serial "file:$log"
	     -kernel "$kernel" -initrd "$initrd" -append "$cmdline")
	;;
vmx)
	command -v bochs >/dev/null || { err "bochs not found: apt-get install bochs bochsbios vgabios bochs-sdl"; exit 3; }
	command -v genisoimage >/dev/null || { err "genisoimage not found: apt-get install genisoimage"; exit 3; }
	isolinux=/usr/lib/ISOLINUX/isolinux.bin
	ldlinux=/usr/lib/syslinux/modules/bios/ldlinux.c32
	[ -f $isolinux ] && [ -f $ldlinux ] ||
		{ err "isolinux missing: apt-get install isolinux syslinux-common"; exit 3; }
	[ -z "$physbits" ] || warn "vmx: --phys-bits is fixed by the Bochs CPU model, ignored"
	[ "$la57" != on ] || warn "vmx: corei7_skylake_x has no LA57, --la57 on ignored"
	ips=50000000
	# B3: clearcpuid=xsavec,xsaves or Linux turns XSAVE off (bad CPUID 0xD).
	cmdline="$cmdline tsc_early_khz=$((ips / 1000)) clearcpuid=xsavec,xsaves $append"
	iso=$work/iso
	mkdir -p "$iso/isolinux" "$iso/boot"
	cp $isolinux $ldlinux "$iso/isolinux/"
	cp "$kernel" "$iso/boot/bzimage"
	cp "$initrd" "$iso/boot/initrd.gz"
	sed -e "s|@CMDLINE@|$cmdline|" "$top/scripts/harness/isolinux.cfg.in" >"$iso/isolinux/isolinux.cfg"
	sed -i -e 's|/boot/bzImage|/boot/bzimage|' "$iso/isolinux/isolinux.cfg"
	genisoimage -quiet -R -l -o "$work/boot.iso" -b isolinux/isolinux.bin \
		-c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table "$iso" \
		>>"$log.emu" 2>&1 || { err "genisoimage failed: see $log.emu"; exit 3; }
	rm -rf "$iso"
	sed -e "s|@CPUS@|$cpus|g; s|@IPS@|$ips|g; s|@IPS_KHZ@|$((ips / 1000))|g; s|@MEM@|$mem|g" \
	    -e "s|@ISO@|$work/boot.iso|g; s|@SERIAL@|$log|g; s|@BXLOG@|$log.bochs|g" \
		"$top/scripts/harness/bochsrc.in" >"$work/bochsrc"
	: >"$log.bochs"
	echo c >"$work/bochs.rc"	# the Debian build starts in its debugger
	emu=(env SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy
	     bochs -q -f "$work/bochsrc" -rc "$work/bochs.rc")
	;;
esac

pid=
stop_emulator() {
	[ -n "$pid" ] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	pid=
}
cleanup() { stop_emulator; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

info "boot $backend: ${emu[*]}"
info "cmdline: $cmdline"
t0=$(date +%s)
"${emu[@]}" </dev/null >>"$log.emu" 2>&1 &
pid=$!

status= why= seen_end=
end_re='KVM-DUNE-END [0-9]+ [0-9]+ [0-9]+'
while :; do
	now=$(date +%s)
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid" 2>/dev/null && erc=0 || erc=$?
		pid=
		if grep -Eq "$end_re" "$log"; then
			status=0 why="end marker seen, emulator exited ($erc)"
		else
			status=1 why="emulator exited (status $erc) without the end marker"
		fi
		break
	fi
	if [ -z "$seen_end" ] && grep -Eq "$end_re" "$log"; then
		seen_end=$now	# give the guest time to print the rest and power off
	fi
	if [ -n "$seen_end" ] && [ $((now - seen_end)) -ge 15 ]; then
		stop_emulator
		status=0 why="end marker seen; emulator stopped by the harness"
		break
	fi
	if [ -z "$seen_end" ] && grep -q 'Kernel panic - not syncing' "$log"; then
		sleep 3	# let the panic message reach the log
		stop_emulator
		status=1 why="kernel panic"
		break
	fi
	if [ "$(grep -c 'Linux version ' "$log")" -gt 1 ]; then
		stop_emulator
		status=1 why="the machine rebooted (second boot banner)"
		break
	fi
	if [ $((now - t0)) -ge "$timeout" ]; then
		stop_emulator
		status=2 why="wall-clock timeout ($timeout s)"
		break
	fi
	sleep 1
done
info "boot $backend: $why after $(( $(date +%s) - t0 )) s"
exit "$status"
