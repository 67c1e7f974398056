# SPDX-License-Identifier: GPL-2.0-only
# Shared helpers for the kvm-dune scripts: progress lines with timings.
_step_name=""
_step_t0=0
info() { printf '  %s\n' "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
err()  { printf 'ERROR: %s\n' "$*" >&2; }
die()  { err "$*"; exit 1; }
step() { _step_name=$*; _step_t0=$(date +%s); printf '==> %s\n' "$*" >&2; }
done_step() { printf '<== %s (%ss)\n' "$_step_name" "$(( $(date +%s) - _step_t0 ))" >&2; }
cache_dir() { echo "${KVM_DUNE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kvm-dune}"; }
