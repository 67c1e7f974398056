// SPDX-License-Identifier: MIT
/*
 * Host unit tests of dune-sandbox's policy parser and path checks
 * (policy.c), with a stand-in system-call table.  TAP; exit 1 on failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sandbox.h"

/* the stand-in table: read (0), socket (41, network), fork (57, never) */
static const struct { const char *name; int nr; unsigned int flags; } tab[] = {
	{ "read", 0, 0 }, { "socket", 41, SBX_SYS_NET }, { "fork", 57, SBX_SYS_NEVER },
};

int sbx_sys_lookup(const char *name, int *nr, unsigned int *flags)
{
	unsigned int i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (!strcmp(tab[i].name, name)) {
			*nr = tab[i].nr;
			*flags = tab[i].flags;
			return 0;
		}
	return -1;
}

int sbx_sys_entry(int i, int *nr, unsigned int *flags)
{
	if (i < 0 || i >= (int)(sizeof(tab) / sizeof(tab[0])))
		return -1;
	*nr = tab[i].nr;
	*flags = tab[i].flags;
	return 0;
}

static int n, failed;

static void ok(int cond, const char *what, const char *detail)
{
	n++;
	if (!cond)
		failed++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", n, what);
	if (!cond && detail)
		printf("# %s\n", detail);
}

static void norm(const char *base, const char *in, const char *want)
{
	char out[SBX_PATH_MAX], what[512], detail[SBX_PATH_MAX + 64];
	int r = sbx_path_normalise(base, in, out, sizeof(out));

	snprintf(what, sizeof(what), "normalise '%s' (base %s) -> '%s'", in, base ? base : "-",
		 want);
	snprintf(detail, sizeof(detail), "got %s (r=%d)", r ? "an error" : out, r);
	ok(r == 0 && !strcmp(out, want), what, detail);
}

/* parse @text; @err_want NULL: must succeed, else the message must be it */
static void parse(struct sbx_policy *p, const char *text, const char *err_want)
{
	char err[512] = "", what[600], detail[700];
	int r;

	sbx_policy_init(p);
	r = sbx_policy_parse(p, "t.policy", text, err, sizeof(err));
	snprintf(what, sizeof(what), "policy %s: %s", err_want ? "error" : "parses",
		 err_want ? err_want : text);
	for (char *c = what; *c; c++)
		if (*c == '\n')
			*c = '|';
	snprintf(detail, sizeof(detail), "r=%d, message '%s'", r, err);
	ok(err_want ? (r == -1 && !strcmp(err, err_want)) : r == 0, what, detail);
}

int main(void)
{
	struct sbx_policy p;
	char big[SBX_PATH_MAX + 10];
	char out[SBX_PATH_MAX];
	uint64_t sz;

	norm(NULL, "/a/b/../c/./d//e/", "/a/c/d/e");
	norm(NULL, "/../../etc", "/etc");
	norm(NULL, "/", "/");
	norm(NULL, "/a/..", "/");
	norm("/tmp/x", "../y/./z", "/tmp/y/z");
	norm("/tmp", "..", "/");
	norm("/", "a/b", "/a/b");
	norm(NULL, "/a/...b/..c", "/a/...b/..c");
	memset(big, 'a', sizeof(big));
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	ok(sbx_path_normalise(NULL, big, out, sizeof(out)) < 0, "an over-long path is an error",
	   NULL);
	ok(sbx_path_normalise(NULL, "rel", out, sizeof(out)) < 0,
	   "a relative path without a base is an error", NULL);

	parse(&p, "path /tmp/sbx /usr\npath-write /tmp/sbx/out\n", NULL);
	ok(sbx_path_allowed(&p, "/tmp/sbx", SBX_ACC_READ), "prefix itself allowed", NULL);
	ok(sbx_path_allowed(&p, "/tmp/sbx/a/b", SBX_ACC_READ), "below the prefix allowed", NULL);
	ok(!sbx_path_allowed(&p, "/tmp/sbxother", SBX_ACC_READ),
	   "prefix matches only at a component boundary", NULL);
	ok(!sbx_path_allowed(&p, "/tmp", SBX_ACC_READ), "the prefix's parent is not allowed", NULL);
	ok(!sbx_path_allowed(&p, "/tmp/sbx/a", SBX_ACC_WRITE), "a read prefix does not allow writes",
	   NULL);
	ok(sbx_path_allowed(&p, "/tmp/sbx/out/f", SBX_ACC_WRITE), "a write prefix allows writes",
	   NULL);
	ok(sbx_path_allowed(&p, "/tmp/sbx/out/f", SBX_ACC_READ), "a write prefix allows reads",
	   NULL);
	ok(!sbx_path_allowed(&p, "relative", SBX_ACC_READ), "a relative path is never allowed", NULL);

	parse(&p, "path /\n", NULL);
	ok(sbx_path_allowed(&p, "/anything/at/all", SBX_ACC_READ), "'/' allows everything", NULL);

	parse(&p, "allow all\ndeny read\n# comment\n\n  network on  # trailing\nmemory 64M\nlog on\n",
	      NULL);
	ok(!p.allow[0] && p.allow[41] && !p.allow[57], "allow all, deny read: read denied, "
	   "socket allowed, fork never", NULL);
	ok(p.network && p.log && p.memory == (64ULL << 20), "network on, log on, memory 64M", NULL);
	parse(&p, "default\n", NULL);
	ok(p.allow[0] && !p.network && p.memory == (1ULL << 30) &&
	   sbx_path_allowed(&p, "/usr/lib/x", SBX_ACC_READ) &&
	   !sbx_path_allowed(&p, "/tmp/x", SBX_ACC_WRITE), "'default' is the built-in policy", NULL);

	parse(&p, "allow read\nbogus x\n", "t.policy:2: unknown directive 'bogus'");
	parse(&p, "allow fork\n", "t.policy:1: 'fork' can never be allowed: the sandbox cannot "
	      "contain it (see Documentation/apps-sandbox.rst)");
	parse(&p, "allow nosuchcall\n",
	      "t.policy:1: unknown system call 'nosuchcall' (not in the runtime's table)");
	parse(&p, "allow\n", "t.policy:1: 'allow' needs at least one system call name");
	parse(&p, "path tmp\n", "t.policy:1: path prefix 'tmp' is not absolute");
	parse(&p, "path\n", "t.policy:1: 'path' needs at least one absolute path");
	parse(&p, "network yes\n", "t.policy:1: 'network' takes 'on' or 'off'");
	parse(&p, "log on off\n", "t.policy:1: 'log' takes 'on' or 'off'");
	parse(&p, "\n\nmemory 12Q\n", "t.policy:3: 'memory' takes one size of at least 1M "
	      "(bytes, or with a K, M or G suffix)");
	parse(&p, "memory 1K\n", "t.policy:1: 'memory' takes one size of at least 1M "
	      "(bytes, or with a K, M or G suffix)");
	parse(&p, "default extra\n", "t.policy:1: 'default' takes no argument");

	ok(sbx_parse_size("2G", &sz) == 0 && sz == (2ULL << 30), "size 2G", NULL);
	ok(sbx_parse_size("-1", &sz) < 0 && sbx_parse_size("", &sz) < 0 &&
	   sbx_parse_size("99999999999999999999", &sz) < 0 && sbx_parse_size("1T", &sz) < 0,
	   "bad sizes are errors", NULL);

	printf("1..%d\n", n);
	printf("# %d passed, %d failed\n", n - failed, failed);
	return failed ? 1 : 0;
}
