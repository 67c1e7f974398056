# SPDX-License-Identifier: GPL-2.0-only
# Read a console log of the kvm-dune initramfs (scripts/init) and print one
# record a line, tab separated, for scripts/run-suite.sh:
#   INIT    <line>                     /init started
#   PLAN    <n>                        top-level TAP plan
#   RESULT  PASS|FAIL|SKIP <n> <name> <directive>
#   END     <pass> <fail> <skip> <line>
#   SPLAT   <line> <text>              kernel message that is a failure
#   BAD     <line> <text>              TAP we could not make sense of
# Only top-level TAP lines count (each test binary's own output is indented
# with "# " by /init). Splats count only on kernel lines (with a printk time
# stamp), so a test printing "WARNING:" is not one.
{
	sub(/\r+$/, "")
	line = $0
}
line ~ /KVM-DUNE-INIT/ && !init { init = NR; print "INIT\t" NR }
line ~ /^1\.\.[0-9]+/ && !plan_seen {
	plan_seen = 1
	n = line; sub(/^1\.\./, "", n); sub(/[^0-9].*$/, "", n)
	print "PLAN\t" n
}
line ~ /^(not )?ok [0-9]+ - / {
	ok = line !~ /^not /
	rest = line; sub(/^(not )?ok /, "", rest)
	num = rest; sub(/ .*$/, "", num)
	sub(/^[0-9]+ - /, "", rest)
	name = rest; dir = ""
	if (index(rest, " # ")) {
		name = substr(rest, 1, index(rest, " # ") - 1)
		dir = substr(rest, index(rest, " # ") + 3)
	}
	if (!ok)
		res = "FAIL"
	else if (toupper(dir) ~ /^SKIP/)
		res = "SKIP"
	else if (toupper(dir) ~ /^TODO/)
		res = "FAIL"	# an unexpected TODO at top level: treat as failure
	else
		res = "PASS"
	print "RESULT\t" res "\t" num "\t" name "\t" dir
	next
}
match(line, /KVM-DUNE-END [0-9]+ [0-9]+ [0-9]+/) {
	split(substr(line, RSTART, RLENGTH), e, " ")
	print "END\t" e[2] "\t" e[3] "\t" e[4] "\t" NR
	next
}
# Kernel messages: "[    1.234567] ..." (CONFIG_PRINTK_TIME), possibly after
# user output that had no newline yet.
line ~ /\[ *[0-9]+\.[0-9]+\] / {
	if (line ~ /BUG:|WARNING:|Oops|Kernel panic|general protection fault|Call Trace:|possible recursive locking|inconsistent lock state|circular locking|possible circular|KASAN:|UBSAN:|kmemleak: .*suspected memory leak|unreferenced object|RCU stall|self-detected stall|detected stalls|rcu_sched detected|soft lockup|hard LOCKUP|blocked for more than [0-9]+ seconds|list_add corruption|list_del corruption|Bad page state|double fault|stack-protector|Unable to handle kernel/)
		print "SPLAT\t" NR "\t" line
}
