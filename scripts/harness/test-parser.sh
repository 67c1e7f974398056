#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Host-side tests of the console judge (scripts/run-suite.sh --parse) on
# made-up console logs: passing, failing, skipped, panicking, splatting runs.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

# expect NAME WANT-EXIT WANT-SUMMARY-REGEX < console-log
expect() {
	local name=$1 want=$2 re=$3 out rc
	cat >"$tmp/$name.log"
	out=$("$top/scripts/run-suite.sh" --parse "$tmp/$name.log" --backend t 2>&1)
	rc=$?
	if [ "$rc" = "$want" ] && grep -Eq "$re" <<<"$out"; then
		pass=$((pass + 1)); echo "ok $((pass + fail)) - $name"
	else
		fail=$((fail + 1)); echo "not ok $((pass + fail)) - $name"
		echo "# expected exit $want and /$re/, got exit $rc:"
		sed 's/^/#   /' <<<"$out"
	fi
}

head_ok() {
	printf '[    0.000000] Linux version 6.12.0 (kvm-dune@kvm-dune)\r\n'
	printf 'KVM-DUNE-INIT\r\nTAP version 13\r\n# cpu flags: svm npt\r\n'
}

echo "TAP version 13"
echo "1..10"

{ head_ok; cat <<'EOF'
1..2
# selftests: dune: a
# TAP version 13
# ok 1 inner
ok 1 - a
# selftests: dune: b
ok 2 - b # SKIP
KVM-DUNE-END 1 0 1
EOF
} >"$tmp/in"; expect pass-and-skip 0 '^t: 1 passed, 0 failed, 1 skipped$' <"$tmp/in"

{ head_ok; cat <<'EOF'
1..2
# selftests: dune: a
# not ok 1 inner thing broke
ok 1 - a
# selftests: dune: b
# not ok 3 the detail
not ok 2 - b # exit=1
KVM-DUNE-END 1 1 0
EOF
} >"$tmp/in"; expect one-failure 1 'test b: expected exit 0.*got exit=1' <"$tmp/in"

{ head_ok; cat <<'EOF'
1..1
# selftests: dune: a
[   12.345678] Kernel panic - not syncing: sysrq triggered crash
EOF
} >"$tmp/in"; expect panic-no-end-marker 1 'expected the end marker' <"$tmp/in"
expect failed-run-counts-as-failure 1 '^t: 0 passed, 1 failed, 0 skipped$' <"$tmp/in"

{ head_ok; cat <<'EOF'
1..1
# selftests: dune: a
[    5.000000] ------------[ cut here ]------------
[    5.000001] WARNING: CPU: 0 PID: 1 at arch/x86/kvm/x86.c:100 foo+0x1/0x2
[    5.000002] Call Trace:
ok 1 - a
KVM-DUNE-END 1 0 0
EOF
} >"$tmp/in"; expect warning-splat 1 'found 2 splat line' <"$tmp/in"

{ head_ok; cat <<'EOF'
1..1
# selftests: dune: a
# WARNING: this is the test's own output, not a splat
# BUG: neither is this
ok 1 - a
KVM-DUNE-END 1 0 0
EOF
} >"$tmp/in"; expect test-output-is-no-splat 0 '^t: 1 passed, 0 failed' <"$tmp/in"

{ head_ok; cat <<'EOF'
1..0 # no suite or test named 'x'
KVM-DUNE-END 0 1 0
EOF
} >"$tmp/in"; expect no-tests 1 'expected at least one test|console.s own count' <"$tmp/in"

{ head_ok; cat <<'EOF'
1..3
ok 1 - a
ok 2 - b
KVM-DUNE-END 2 0 0
EOF
} >"$tmp/in"; expect plan-mismatch 1 'expected 3 results' <"$tmp/in"

printf '[    1.0] Linux version\r\n[    2.000000] Kernel panic - not syncing: VFS: Unable to mount root fs\r\n' >"$tmp/in"
expect no-init 1 'never did' <"$tmp/in"

{ head_ok; cat <<'EOF'
1..1
[   30.000000] rcu: INFO: rcu_sched self-detected stall on CPU
ok 1 - a
KVM-DUNE-END 1 0 0
EOF
} >"$tmp/in"; expect rcu-stall 1 'splat' <"$tmp/in"

echo "# harness parser: $pass passed, $fail failed"
[ $fail = 0 ]
