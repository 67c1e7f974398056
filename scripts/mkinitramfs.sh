#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Build the test initramfs.
#   scripts/mkinitramfs.sh [--extra BIN]... [--headers DIR] OUT.cpio.gz
#
# Contents: busybox-static with its applet links, scripts/init as /init, the
# sandbox's test (apps/sandbox: /tests/sandbox_test, last in "all", with
# dune-sandbox and its test programs in /tests/sandbox/), the
# Dune selftests (tools/testing/selftests/dune, built statically against the
# patched uapi headers, except the PIE variants, which are dynamically linked
# and bring their shared libraries and ELF interpreter along), the suite
# lists (/tests/suites/NAME, one binary a line; "all" = every test in the
# selftests Makefile's order, others from scripts/harness/suites/) and
# /tests/settings.
#
# --extra BIN   also put BIN into /tests and at the end of the suite "all"
#               (static or dynamic; for one-off experiments)
# --headers DIR uapi headers (default: $(cache_dir)/headers, from
#               scripts/build-kernel.sh)
#
# The archive is written with the kernel's own usr/gen_init_cpio (compiled
# from build/linux into the cache), so no root and no mknod are needed, and
# all timestamps are fixed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

extras=()
headers=$(cache_dir)/headers
out=
while [ $# -gt 0 ]; do
	case "$1" in
	--extra) extras+=("$(readlink -f "$2")"); shift 2 ;;
	--headers) headers=$2; shift 2 ;;
	-h|--help) sed -n '3,20p' "$0"; exit 0 ;;
	-*) die "mkinitramfs: unknown option $1" ;;
	*) out=$1; shift ;;
	esac
done
[ -n "$out" ] || die "usage: scripts/mkinitramfs.sh [--extra BIN]... OUT.cpio.gz"
case "$out" in /*) ;; *) out=$PWD/$out ;; esac

src=$top/build/linux
ksft=$src/tools/testing/selftests
testsrc=$top/tools/testing/selftests/dune
objdir=$top/build/obj/selftests-dune
busybox=$(command -v busybox || true)

[ -f "$ksft/kselftest.h" ] || die "$ksft/kselftest.h missing: run scripts/kernel-prepare.sh"
[ -f "$headers/include/linux/kvm.h" ] ||
	die "no uapi headers in $headers: run scripts/build-kernel.sh (it installs them)"
[ -n "$busybox" ] || die "busybox not found: apt-get install busybox-static"
if readelf -lW "$busybox" 2>/dev/null | grep -q 'Requesting program interpreter'; then
	die "$busybox is not statically linked: apt-get install busybox-static"
fi

# --- host tools --------------------------------------------------------------
gen_cpio=$(cache_dir)/tools/gen_init_cpio
if [ ! -x "$gen_cpio" ] || [ "$src/usr/gen_init_cpio.c" -nt "$gen_cpio" ]; then
	mkdir -p "$(dirname "$gen_cpio")"
	gcc -O2 -o "$gen_cpio" "$src/usr/gen_init_cpio.c" ||
		die "could not build gen_init_cpio from $src/usr/gen_init_cpio.c"
fi

# --- tests -------------------------------------------------------------------
step "build selftests (tools/testing/selftests/dune)"
mkdir -p "$objdir" "$top/build/logs"
# Several runs may share the build directory: one builder at a time.
exec {lockfd}>"$objdir/.lock"
flock "$lockfd"
# The Makefile does not know the headers: rebuild everything when they are
# other headers, or newer, than at the last build.
stamp=$objdir/.headers
if [ "$(cat "$stamp" 2>/dev/null)" != "$headers" ] ||
   [ -n "$(find "$headers/include" -newer "$stamp" -print -quit)" ]; then
	rm -rf "${objdir:?}"/*
	echo "$headers" >"$stamp"
fi
mkd() {
	make -C "$testsrc" KSFT_DIR="$ksft" KHDR_DIR="$headers/include" \
		OUTPUT="$objdir" "$@"
}
if ! mkd >"$top/build/logs/selftests.log" 2>&1; then
	grep -E 'error|Error' "$top/build/logs/selftests.log" | head -30 >&2
	die "selftest build failed: see build/logs/selftests.log"
fi
read -r -a tests < <(mkd -s print-tests)
[ ${#tests[@]} -gt 0 ] || die "the selftests Makefile lists no tests"
done_step

step "build apps/sandbox (dune-sandbox and its test)"
sbxdir=$top/apps/sandbox
if ! make -C "$sbxdir" >"$top/build/logs/sandbox-build.log" 2>&1; then
	grep -E 'error|Error' "$top/build/logs/sandbox-build.log" | head -30 >&2
	die "apps/sandbox build failed: see build/logs/sandbox-build.log"
fi
done_step

# --- archive spec ------------------------------------------------------------
step "assemble initramfs $(basename "$out")"
mkdir -p "$top/build"
work=$(mktemp -d "$top/build/initramfs.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/files"
spec=$work/spec
: >"$spec"
declare -A have

add_dir() {	# add_dir /path: the directory and its parents
	local d=$1
	[ "$d" = / ] || [ -n "${have[$d]:-}" ] && return 0
	add_dir "$(dirname "$d")"
	echo "dir $d 0755 0 0" >>"$spec"
	have[$d]=1
}
add_file() {	# add_file /name-in-archive host-file [mode]
	local name=$1 file=$2 mode=${3:-}
	[ -n "${have[$name]:-}" ] && return 0
	[ -f "$file" ] || die "initramfs: $file (for $name) is missing"
	[ -n "$mode" ] || mode=$(stat -Lc '%a' "$file")
	add_dir "$(dirname "$name")"
	echo "file $name $file $mode 0 0" >>"$spec"
	have[$name]=1
}
add_link() {	# add_link /name target
	[ -n "${have[$1]:-}" ] && return 0
	add_dir "$(dirname "$1")"
	echo "slink $1 $2 0777 0 0" >>"$spec"
	have[$1]=1
}
is_dynamic() {
	readelf -lW "$1" 2>/dev/null | grep -q 'Requesting program interpreter'
}
# A dynamically linked program: the program, its ELF interpreter and every
# shared library ldd resolves, each at the path the loader will look for it
# (contents dereferenced, so /lib -> usr/lib style links do not matter).
add_dynamic() {	# add_dynamic /name-in-archive host-file
	local name=$1 file=$2 interp lib
	add_file "$name" "$file" 0755
	interp=$(readelf -lW "$file" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
	[ -n "$interp" ] || die "$file: no ELF interpreter"
	add_file "$interp" "$(readlink -f "$interp")" 0755
	while read -r lib; do
		add_file "$lib" "$(readlink -f "$lib")" 0755
		# A library found through a RUNPATH may sit under a directory the
		# guest mounts over (the checkout in /tmp, say): put it in the
		# loader's default directory as well.
		case "$lib" in
		/lib/*|/usr/lib/*|/lib64/*) ;;
		*) add_file "/lib/x86_64-linux-gnu/$(basename "$lib")" "$(readlink -f "$lib")" 0755 ;;
		esac
	done < <(ldd "$file" | sed -n 's/.*=> \(\/[^ ]*\) (0x.*/\1/p')
	ldd "$file" | grep -q 'not found' && die "$file: ldd cannot resolve: $(ldd "$file" | grep 'not found')"
	return 0
}
add_program() {	# add_program /name-in-archive host-file: static or dynamic
	if is_dynamic "$2"; then
		add_dynamic "$1" "$2"
	else
		add_file "$1" "$2" 0755
	fi
}

# Base system: busybox and its applets, the init, the mount points.
add_file /bin/busybox "$busybox" 0755
while read -r applet; do
	case "$applet" in ""|bin/busybox) continue ;; esac
	add_link "/$applet" /bin/busybox
done < <("$busybox" --list-full)
add_file /init "$top/scripts/init" 0755
for d in /dev /proc /sys /tmp /run /mnt /root /etc; do add_dir $d; done
# Before /init mounts devtmpfs the kernel needs a console here; /init makes
# the fd links again on top of devtmpfs.
echo "nod /dev/console 0600 0 0 c 5 1" >>"$spec"
echo "nod /dev/null 0666 0 0 c 1 3" >>"$spec"
add_link /dev/stdin /proc/self/fd/0
add_link /dev/stdout /proc/self/fd/1
add_link /dev/stderr /proc/self/fd/2
add_link /dev/fd /proc/self/fd
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/files/passwd"
printf 'root:x:0:\n' >"$work/files/group"
add_file /etc/passwd "$work/files/passwd" 0644
add_file /etc/group "$work/files/group" 0644

# Tests and suites.
: >"$work/files/suite-all"
mkdir -p "$work/files/tests"
for t in "${tests[@]}"; do
	strip -o "$work/files/tests/$t" "$objdir/$t"
	add_program "/tests/$t" "$work/files/tests/$t"
	echo "$t" >>"$work/files/suite-all"
done
# The sandbox: its test (in "all") finds dune-sandbox and the test
# programs in /tests/sandbox/.
mkdir -p "$work/files/sandbox"
for f in dune-sandbox sbx_prog sbx_prog_static sbx_prog_static_pie sbx_tiny sbx_tiny_far \
	sbx_tiny_clash sandbox_test; do
	strip -o "$work/files/sandbox/$f" "$sbxdir/build/$f"
done
for f in dune-sandbox sbx_prog sbx_prog_static sbx_prog_static_pie sbx_tiny sbx_tiny_far \
	sbx_tiny_clash; do
	add_program "/tests/sandbox/$f" "$work/files/sandbox/$f"
done
add_program /tests/sandbox_test "$work/files/sandbox/sandbox_test"
echo sandbox_test >>"$work/files/suite-all"
for x in "${extras[@]}"; do
	add_program "/tests/$(basename "$x")" "$x"
	echo "$(basename "$x")" >>"$work/files/suite-all"
done
add_file /tests/suites/all "$work/files/suite-all" 0644
for s in "$top"/scripts/harness/suites/*; do
	[ -f "$s" ] || continue
	complete=1
	while read -r t; do
		case "$t" in ""|\#*) continue ;; esac
		grep -qx "$t" "$work/files/suite-all" || { complete=0; missing=$t; }
	done <"$s"
	# A suite of programs given with --extra (e.g. dune-demo for make run)
	# is only there when they are: leave it out otherwise.  run-suite.sh
	# fails clearly on a suite the initramfs does not have.
	if [ $complete = 0 ]; then
		info "suite $(basename "$s") left out: $missing is not in this initramfs"
		continue
	fi
	add_file "/tests/suites/$(basename "$s")" "$s" 0644
done
add_file /tests/settings "$testsrc/settings" 0644

"$gen_cpio" -t 946684800 "$spec" >"$work/initramfs.cpio"
gzip -9n <"$work/initramfs.cpio" >"$work/out.cpio.gz"
mv "$work/out.cpio.gz" "$out"
info "$(wc -l <"$work/files/suite-all") test(s): $(tr '\n' ' ' <"$work/files/suite-all")"
info "$(du -h "$out" | cut -f1) $out"
done_step
