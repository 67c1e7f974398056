// SPDX-License-Identifier: MIT
/*
 * gcbench: a GCBench-like workload (Boehm/Ellis/Kovac: a long-lived tree
 * and array, temporary binary trees of several depths built top-down and
 * bottom-up) run on the collector in gc.c once per dirty-page source:
 * stw (baseline), mprotect, softdirty natively, then dune and dune-tc in
 * Dune mode.  Prints a table; a source that cannot run is reported as
 * "unavailable: <why>".
 *
 *   gcbench [-s SCALE] [-r ROUNDS] [-m METHOD[,METHOD...]]
 *
 * SCALE (default 0) adds to every tree depth and doubles the heap per
 * step: 0 fits an emulator, 4-6 suits real hardware.  Each source runs
 * ROUNDS times (default 3); the fastest round is shown, all must pass.
 *
 * -m broken runs a source that reports no dirty page: the verifier must
 * catch it (exit 1).
 *
 * Exit status: 0 if every available source ran and agreed, 1 if one
 * failed (a reachable object was not marked, live data differ between
 * sources, the long-lived data were damaged), 4 if Dune mode is missing
 * (the native sources still run and are reported).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dune.h"
#include "gc.h"

typedef struct Node {
	struct Node *left, *right;
	long i, j;
} Node;

static int stretch_depth = 12, long_lived_depth = 10, min_depth = 4, max_depth = 10;
static int array_len = 250;	/* doubles: 2000 bytes, the largest class */

static long tree_size(int d)
{
	return (1L << (d + 1)) - 1;
}

/*
 * The mutation that needs the write barrier: every SWAP_EVERY allocations,
 * swap two subtrees of the long-lived tree at the same depth (the tree
 * keeps its shape and contents).  A subtree not yet marked moves under a
 * node that may have been scanned already; only the dirty page of that
 * node tells the collector to look again.
 */
#define SWAP_EVERY	16
static Node *long_lived_root;
static uint64_t rng = 88172645463325252ull, nallocs, nswaps;

static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void swap_subtrees(void)
{
	int depth = 1 + xorshift() % (long_lived_depth - 1);
	Node *a = long_lived_root, *b = long_lived_root, *t;
	uint64_t pa = xorshift(), pb = xorshift();

	for (int k = 0; k < depth - 1; k++) {
		a = (pa >> k) & 1 ? a->right : a->left;
		b = (pb >> k) & 1 ? b->right : b->left;
	}
	if (a == b)
		return;
	t = a->left;
	a->left = b->right;
	b->right = t;
	nswaps++;
}

static Node *new_node(Node *l, Node *r)
{
	Node *n = gc_alloc(sizeof(Node));

	if (long_lived_root && ++nallocs % SWAP_EVERY == 0)
		swap_subtrees();

	n->left = l;
	n->right = r;
	return n;
}

/* top-down: the caller keeps @n reachable */
static void populate(int depth, Node *n)
{
	if (depth <= 0)
		return;
	n->left = new_node(NULL, NULL);
	n->right = new_node(NULL, NULL);
	n->i = depth;
	populate(depth - 1, n->left);
	populate(depth - 1, n->right);
}

/* bottom-up: the partial subtrees live in registered locals */
static Node *make_tree(int depth)
{
	Node *l = NULL, *r = NULL, *n;

	if (depth <= 0)
		return new_node(NULL, NULL);
	GC_ROOT(l);
	GC_ROOT(r);
	l = make_tree(depth - 1);
	r = make_tree(depth - 1);
	n = new_node(l, r);
	n->j = depth;
	gc_root_pop(2);
	return n;
}

static long check_tree(const Node *n, long *sum)
{
	if (!n)
		return 0;
	*sum += n->i * 3 + n->j;
	return 1 + check_tree(n->left, sum) + check_tree(n->right, sum);
}

struct result {
	const char *name;
	int ran, ok;
	char why[200];
	struct gc_stats st;
	uint64_t faults;
	uint64_t total_ns, total_cyc;
	long tree_nodes, tree_sum;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void workload(struct result *res)
{
	Node *temp = NULL, *long_lived = NULL;
	double *array = NULL;
	long sum = 0;

	GC_ROOT(temp);
	GC_ROOT(long_lived);
	GC_ROOT(array);

	temp = make_tree(stretch_depth);	/* stretch the heap */
	temp = NULL;

	long_lived = new_node(NULL, NULL);
	populate(long_lived_depth, long_lived);
	long_lived_root = long_lived;
	array = gc_alloc(array_len * sizeof(double));
	for (int i = 0; i < array_len / 2; i++)
		array[i] = 1.0 / (i + 1);

	for (int d = min_depth; d <= max_depth; d += 2) {
		long iters = 2 * tree_size(stretch_depth) / tree_size(d);

		for (long i = 0; i < iters; i++) {
			temp = new_node(NULL, NULL);
			populate(d, temp);
			temp = NULL;
		}
		for (long i = 0; i < iters; i++) {
			temp = make_tree(d);
			temp = NULL;
		}
	}

	/* everything but the long-lived data is garbage now */
	gc_collect_full();
	res->tree_nodes = check_tree(long_lived, &sum);
	res->tree_sum = sum;
	if (array[100] != 1.0 / 101)
		res->tree_nodes = -1;
	long_lived_root = NULL;
	gc_root_pop(3);
}

static void run(struct gc_dirty_src *src, struct result *res)
{
	uint64_t t0, c0;

	memset(res, 0, sizeof(*res));
	res->name = src->name;
	rng = 88172645463325252ull;
	nallocs = nswaps = 0;
	if (src->probe && src->probe(res->why, sizeof(res->why)) < 0)
		return;
	if (gc_begin(src, res->why, sizeof(res->why)) < 0)
		return;
	res->ran = 1;
	t0 = now_ns();
	c0 = gc_rdtsc();
	workload(res);
	res->total_cyc = gc_rdtsc() - c0;
	res->total_ns = now_ns() - t0;
	res->st = *gc_get_stats();
	res->faults = src->faults;
	gc_end();
}

static void print_row(const struct result *r)
{
	const struct gc_stats *s = &r->st;
	uint64_t n = s->collections ? s->collections : 1;

	if (!r->ran) {
		printf("%-12s unavailable: %s\n", r->name, r->why);
		return;
	}
	printf("%-12s %5lu %10lu %12lu %10lu %12lu %10.2f %12lu %7lu %7lu %7lu  %016lx %s\n",
	       r->name, (unsigned long)s->collections,
	       (unsigned long)(s->pause_ns / n), (unsigned long)(s->pause_cyc / n),
	       (unsigned long)(s->work_ns / n), (unsigned long)(s->work_cyc / n),
	       r->total_ns / 1e6, (unsigned long)r->total_cyc,
	       (unsigned long)s->pages_rescanned, (unsigned long)s->pages_dirty,
	       (unsigned long)r->faults, (unsigned long)s->hash,
	       r->ok ? "ok" : "FAILED");
	fflush(stdout);
}

static int wanted(const char *list, const char *name)
{
	size_t n = strlen(name);

	if (!list)
		return 1;
	for (const char *p = list; (p = strstr(p, name)); p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == 0))
			return 1;
	return 0;
}

struct entry {
	struct gc_dirty_src *src;
	int in_dune;		/* run in Dune mode */
	int skip;		/* not selected */
	char label[24];
	int state;		/* 0 to run, 1 ran (all rounds ok so far), -1 done */
	struct result r;
};

static int scale, rounds = 3, failed, dune_missing, ref = -1;
static long expect_nodes;

/* One more round of @e; keeps the fastest round, stops at the first problem. */
static void round_of(struct entry *e, int k)
{
	struct result t;

	run(e->src, &t);
	t.name = e->label;
	if (!t.ran || t.st.verify_failures || t.tree_nodes != expect_nodes) {
		e->r = t;
		e->state = -1;
		return;
	}
	if (k && (t.st.hash != e->r.st.hash || t.tree_sum != e->r.tree_sum)) {
		t.tree_nodes = -2;	/* rounds disagree */
		e->r = t;
		e->state = -1;
		return;
	}
	if (!k || t.total_ns < e->r.total_ns)
		e->r = t;
	e->state = 1;
}

static void report(struct entry *all, struct entry *e)
{
	struct result *r = &e->r;
	const char *bad = NULL;

	if (!r->ran) {
		print_row(r);
		/* soft-dirty may legitimately be missing; the others may not */
		if (e->src != &gc_src_softdirty)
			failed = 1;
		return;
	}
	if (r->st.verify_failures)
		bad = "reachable objects were not marked";
	else if (r->tree_nodes == -2)
		bad = "rounds disagree on live data";
	else if (r->tree_nodes != expect_nodes)
		bad = "long-lived data damaged";
	else if (r->st.live_objs != (uint64_t)expect_nodes + 1)
		bad = "final collection kept garbage or lost live objects";
	else if (e->src->incremental && ref >= 0 &&
		 (r->st.hash != all[ref].r.st.hash ||
		  r->st.collections != all[ref].r.st.collections ||
		  r->tree_sum != all[ref].r.tree_sum))
		bad = "live data differ from the first incremental source";
	r->ok = !bad;
	if (e->src->incremental && ref < 0 && r->ok)
		ref = e - all;
	print_row(r);
	if (bad) {
		printf("%-12s FAILED: %s (verify failures %lu, tree %ld/%ld nodes, "
		       "live %lu objects)\n", r->name, bad,
		       (unsigned long)r->st.verify_failures, r->tree_nodes,
		       expect_nodes, (unsigned long)r->st.live_objs);
		failed = 1;
	}
}

/* Run the entries of one mode, their rounds interleaved, then report them. */
static void run_group(struct entry *all, int n, int in_dune)
{
	for (int k = 0; k < rounds; k++)
		for (int i = 0; i < n; i++)
			if (all[i].in_dune == in_dune && !all[i].skip && all[i].state >= 0)
				round_of(&all[i], k);
	for (int i = 0; i < n; i++)
		if (all[i].in_dune == in_dune && !all[i].skip)
			report(all, &all[i]);
}

int main(int argc, char **argv)
{
	struct entry all[] = {
		{ .src = &gc_src_stw, .in_dune = 0, .label = "stw" },
		{ .src = &gc_src_mprotect, .in_dune = 0, .label = "mprotect" },
		{ .src = &gc_src_softdirty, .in_dune = 0, .label = "softdirty" },
		{ .src = &gc_src_broken, .in_dune = 0, .label = "broken" },
		{ .src = &gc_src_stw, .in_dune = 1, .label = "stw/D" },
		{ .src = &gc_src_mprotect, .in_dune = 1, .label = "mprotect/D" },
		{ .src = &gc_src_softdirty, .in_dune = 1, .label = "softdirty/D" },
		{ .src = &gc_src_dune, .in_dune = 1, .label = "dune" },
		{ .src = &gc_src_dune_tc, .in_dune = 1, .label = "dune-tc" },
	};
	enum { N = sizeof(all) / sizeof(all[0]) };
	const char *methods = NULL;
	int opt, any_dune = 0;
	size_t heap_bytes;

	while ((opt = getopt(argc, argv, "s:m:r:h")) != -1) {
		switch (opt) {
		case 's': scale = atoi(optarg); break;
		case 'r': rounds = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
		case 'm': methods = optarg; break;
		default:
			fprintf(stderr, "usage: %s [-s SCALE] [-r ROUNDS] [-m METHOD,...]\n"
				"methods: stw mprotect softdirty (native), stw/D mprotect/D "
				"softdirty/D dune dune-tc (Dune mode), broken (must fail)\n",
				argv[0]);
			return 2;
		}
	}
	if (scale < 0 || scale > 10)
		scale = 0;
	stretch_depth += scale;
	long_lived_depth += scale;
	max_depth += scale;
	heap_bytes = (1UL << 20) << scale;
	expect_nodes = tree_size(long_lived_depth);
	setvbuf(stdout, NULL, _IOLBF, 0);

	printf("gcbench: heap %zu KiB, stretch depth %d, long-lived depth %d (%ld nodes), "
	       "temporary depths %d..%d, best of %d rounds\n", heap_bytes >> 10, stretch_depth,
	       long_lived_depth, expect_nodes, min_depth, max_depth, rounds);
	printf("  (/D: in Dune mode; per collection: pause = final re-scan + sweep, "
	       "gc = that plus clearing and incremental slices)\n");
	gc_init(heap_bytes);

	for (int i = 0; i < N; i++) {
		struct entry *e = &all[i];

		e->r.name = e->label;
		/* "broken" (no dirty pages at all) only on request: it must fail */
		if (methods ? !wanted(methods, e->label) : e->src == &gc_src_broken)
			e->skip = 1;
		else if (e->in_dune)
			any_dune = 1;
	}
	printf("%-12s %5s %10s %12s %10s %12s %10s %12s %7s %7s %7s  %-16s\n",
	       "method", "colls", "pause_ns", "pause_cyc", "gc_ns", "gc_cyc",
	       "total_ms", "total_cyc", "rescan", "dirty", "faults", "live-hash");
	run_group(all, N, 0);
	if (any_dune) {
		int e = dune_init_and_enter();

		if (e < 0) {
			dune_missing = 1;
			for (int i = 0; i < N; i++) {
				if (!all[i].in_dune || all[i].skip)
					continue;
				snprintf(all[i].r.why, sizeof(all[i].r.why), "Dune mode: %s%s%s",
					 dune_strerror(e), *dune_last_error() ? ": " : "",
					 dune_last_error());
				print_row(&all[i].r);
			}
		} else {
			run_group(all, N, 1);
		}
	}
	printf("gcbench: %s\n", failed ? "FAILED" : dune_missing ? "ok, but no Dune mode" : "ok");
	return failed ? 1 : dune_missing ? 4 : 0;
}
