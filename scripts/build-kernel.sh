#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Build build/linux out of tree into the cache with ccache.
#   scripts/build-kernel.sh [test|debug|modules]   (default: test)
# test    tinyconfig + scripts/config/test.config + .config.fragment
# debug   test + scripts/config/debug.config (KASAN, lockdep, kmemleak, ...)
# modules test, but with KVM, KVM_INTEL and KVM_AMD as modules (series check)
# Output: $(cache_dir)/obj-<flavour>/arch/x86/boot/bzImage, and the uapi
# headers in $(cache_dir)/headers.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
flavour=${1:-test}
src=$top/build/linux
cache=$(cache_dir)
obj=$cache/obj-$flavour
mkdir -p "$obj" "$cache/ccache" "$top/build/logs"
[ -d "$src/.git" ] || die "build/linux missing: run scripts/kernel-prepare.sh"
export CCACHE_DIR=$cache/ccache CCACHE_MAXSIZE=5G CCACHE_BASEDIR=$src CCACHE_NOHASHDIR=1
export KBUILD_BUILD_TIMESTAMP="2000-01-01" KBUILD_BUILD_USER=kvm-dune KBUILD_BUILD_HOST=kvm-dune
cc="ccache gcc"
command -v ccache >/dev/null || cc=gcc
log=$top/build/logs/kernel-$flavour.log
: > "$log"
mk() { make -C "$src" O="$obj" CC="$cc" HOSTCC="$cc" -j"$(nproc)" "$@"; }

step "configure kernel ($flavour)"
frags=("$top/scripts/config/test.config")
[ "$flavour" = debug ] && frags+=("$top/scripts/config/debug.config")
[ -f "$top/.config.fragment" ] && frags+=("$top/.config.fragment")
[ "$flavour" = modules ] && frags+=("$top/scripts/config/modules.config")
want=$(cat "${frags[@]}" | md5sum | cut -c1-32)
if [ ! -f "$obj/.config" ] || [ "$(cat "$obj/.fragments.md5" 2>/dev/null)" != "$want" ]; then
	mk tinyconfig >"$log" 2>&1
	"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "${frags[@]}" >>"$log" 2>&1
	mk olddefconfig >>"$log" 2>&1
	# Every option asked for must have survived olddefconfig: a debug
	# kernel that quietly lost KASAN would pass every test.
	missing=0
	while read -r line; do
		case "$line" in
		CONFIG_*=*) ;;
		"# CONFIG_"*" is not set") # must not be on
			opt=${line#\# }; opt=${opt%% *}
			! grep -q "^$opt=" "$obj/.config" || { warn "config: $line did not stick"; missing=1; }
			continue ;;
		*) continue ;;
		esac
		grep -qx "$line" "$obj/.config" || { warn "config: $line did not stick"; missing=1; }
	done < <(cat "${frags[@]}")
	[ $missing = 0 ] || die "some options were dropped (see above): fix scripts/config/"
	echo "$want" > "$obj/.fragments.md5"
fi
done_step

step "build kernel ($flavour, log build/logs/kernel-$flavour.log)"
if ! mk bzImage >>"$log" 2>&1; then
	grep -E 'error|Error' "$log" | head -30 >&2
	die "kernel build failed ($flavour): see $log"
fi
[ "$flavour" = modules ] && { mk modules >>"$log" 2>&1 || { grep -E 'error' "$log" | head -30 >&2; die "module build failed"; }; }
done_step

step "install uapi headers"
mk headers_install INSTALL_HDR_PATH="$cache/headers" >>"$log" 2>&1
done_step
echo "$obj/arch/x86/boot/bzImage"
