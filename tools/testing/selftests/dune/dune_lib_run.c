// SPDX-License-Identifier: GPL-2.0-only
/*
 * dune-run: a dynamically linked PIE program runs unmodified in Dune mode
 * (LD_PRELOAD of libdune.so, whose constructor enters before main()) and
 * prints exactly what it prints natively.
 *
 * Built only as dune_lib_run_pie.  The program is this binary itself with
 * "--child": it computes and prints lines with stdio, malloc, qsort, a
 * second thread, a temporary file and floating point, and tells on stderr
 * which ring it ran in.  dune-run is the real one if it is found (next to
 * the libdune build, or $DUNE_RUN_BIN), else the copy of its code that is
 * linked into this test ("--dune-run ARGS"), since the test initramfs
 * carries only the tests.
 */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "dune_lib_util.h"

int dune_run_tool_main(int argc, char **argv);	/* libdune/tools/dune-run.c */

#ifndef LIBDUNE_BUILD_DIR
#define LIBDUNE_BUILD_DIR ""
#endif

/* ---- the child program ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void *collatz_thread(void *arg)
{
	long n = (long)arg, best = 0, best_len = 0, i;

	for (i = 1; i <= n; i++) {
		long len = 0;
		uint64_t x = (uint64_t)i;

		while (x != 1) {
			x = (x & 1) ? 3 * x + 1 : x / 2;
			len++;
		}
		if (len > best_len) {
			best_len = len;
			best = i;
		}
	}
	return (void *)(best << 16 | best_len);
}

static int child_main(void)
{
	uint64_t fib[2] = { 0, 1 }, *v, seed = 1;
	unsigned short cs;
	pthread_t t;
	void *res;
	char line[128];
	FILE *f;
	int i, n, primes = 0;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	fprintf(stderr, "child: ring %d\n", cs & 3);

	for (i = 1; i <= 30; i++) {
		uint64_t nx = fib[0] + fib[1];
		int p = 1, d;

		for (d = 2; d * d <= i; d++)
			if (i % d == 0)
				p = 0;
		primes += p && i > 1;
		printf("%2d fib=%-8llu 1/i=%.6f %s\n", i, (unsigned long long)fib[1], 1.0 / i,
		       p && i > 1 ? "prime" : "");
		fib[0] = fib[1];
		fib[1] = nx;
	}
	printf("primes up to 30: %d\n", primes);

	n = 5000;
	v = malloc(n * sizeof(*v));
	if (!v)
		return 1;
	for (i = 0; i < n; i++)
		v[i] = dune_lib_rand(&seed) % 1000000;
	qsort(v, n, sizeof(*v), cmp_u64);
	printf("sorted %d: min %llu median %llu max %llu\n", n, (unsigned long long)v[0],
	       (unsigned long long)v[n / 2], (unsigned long long)v[n - 1]);
	free(v);

	if (pthread_create(&t, NULL, collatz_thread, (void *)10000L) ||
	    pthread_join(t, &res))
		return 1;
	printf("collatz below 10000: %ld (%ld steps), from a thread\n",
	       (long)res >> 16, (long)res & 0xffff);

	f = tmpfile();
	if (!f)
		return 1;
	for (i = 0; i < 10; i++)
		fprintf(f, "line %d of a temporary file\n", i * i);
	rewind(f);
	n = 0;
	while (fgets(line, sizeof(line), f))
		n += (int)strlen(line);
	fclose(f);
	printf("tmpfile: %d bytes read back\n", n);
	return 0;
}

/* ---- the test ---- */

struct result {
	int status;
	char out[8192];
	char err[4096];
};

static void slurp(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
}

/* Run argv with stdout and stderr captured (stderr to a file: no deadlock). */
static int run(char *const argv[], struct result *r)
{
	char errpath[] = "/tmp/dune_lib_run.XXXXXX";
	int out[2], errfd = mkstemp(errpath);
	pid_t pid;

	if (errfd < 0 || pipe(out))
		return -1;
	unlink(errpath);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(errfd, 2);
		close(out[0]);
		close(out[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	slurp(out[0], r->out, sizeof(r->out));
	close(out[0]);
	if (waitpid(pid, &r->status, 0) != pid)
		return -1;
	lseek(errfd, 0, SEEK_SET);
	slurp(errfd, r->err, sizeof(r->err));
	close(errfd);
	return 0;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static char self_path[PATH_MAX];
static char lib_path[PATH_MAX];

static void find_paths(struct __test_metadata *_metadata)
{
	ssize_t n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
	char line[PATH_MAX + 128], *path;
	FILE *maps;

	ASSERT_GT(n, 0);
	self_path[n] = '\0';
	/* the libdune.so this test is linked with, as the loader mapped it */
	lib_path[0] = '\0';
	maps = fopen("/proc/self/maps", "r");
	ASSERT_NE(NULL, maps);
	while (!lib_path[0] && fgets(line, sizeof(line), maps)) {
		path = strchr(line, '/');
		if (path && strstr(path, "/libdune.so")) {
			path[strcspn(path, "\n")] = '\0';
			ASSERT_NE(NULL, realpath(path, lib_path));
		}
	}
	fclose(maps);
	ASSERT_NE(0, lib_path[0]) TH_LOG("libdune.so is not in /proc/self/maps");
}

/* The real dune-run, if there is one. */
static const char *real_dune_run(void)
{
	static char buf[PATH_MAX];
	const char *env = getenv("DUNE_RUN_BIN");

	if (env && access(env, X_OK) == 0)
		return env;
	snprintf(buf, sizeof(buf), "%s/dune-run", LIBDUNE_BUILD_DIR);
	if (LIBDUNE_BUILD_DIR[0] && access(buf, X_OK) == 0)
		return buf;
	return NULL;
}

TEST(same_output_native_and_under_dune_run)
{
	static struct result native, dune;
	const char *tool = real_dune_run();
	char *const nargv[] = { self_path, "--child", NULL };
	char *const dargv_real[] = { (char *)tool, "--lib", lib_path, "--", self_path,
				     "--child", NULL };
	char *const dargv_copy[] = { self_path, "--dune-run", "--lib", lib_path, "--", self_path,
			       "--child", NULL };

	find_paths(_metadata);
	TH_LOG("dune-run: %s; libdune: %s", tool ? tool : "the copy in this test", lib_path);
	ASSERT_EQ(0, run(nargv, &native));
	ASSERT_EQ(0, run(tool ? dargv_real : dargv_copy, &dune));

	ASSERT_TRUE(WIFEXITED(native.status)) TH_LOG("native: status 0x%x", native.status);
	ASSERT_EQ(0, WEXITSTATUS(native.status)) TH_LOG("native stderr: %s", native.err);
	ASSERT_TRUE(WIFEXITED(dune.status)) TH_LOG("dune-run: status 0x%x, stderr: %s",
						   dune.status, dune.err);
	ASSERT_EQ(0, WEXITSTATUS(dune.status)) TH_LOG("dune-run stderr: %s", dune.err);
	EXPECT_STREQ("child: ring 3\n", native.err);
	EXPECT_STREQ("child: ring 0\n", dune.err);
	EXPECT_GT(strlen(native.out), 100);
	EXPECT_STREQ(native.out, dune.out);
	if (!strcmp(native.out, dune.out))
		TH_LOG("identical output (%zu bytes, %d lines)", strlen(dune.out),
		       count_lines(dune.out));
}

TEST(dune_run_check)
{
	static struct result r;
	const char *tool = real_dune_run();
	char *const argv_real[] = { (char *)tool, "--check", NULL };
	char *const argv_copy[] = { self_path, "--dune-run", "--check", NULL };

	find_paths(_metadata);
	ASSERT_EQ(0, run(tool ? argv_real : argv_copy, &r));
	ASSERT_TRUE(WIFEXITED(r.status));
	EXPECT_EQ(0, WEXITSTATUS(r.status));
	EXPECT_NE(NULL, strstr(r.out, "Dune mode available"));
}

int main(int argc, char **argv)
{
	int r;

	if (argc >= 2 && !strcmp(argv[1], "--child"))
		return child_main();
	if (argc >= 2 && !strcmp(argv[1], "--dune-run")) {
		argv[1] = "dune-run";
		return dune_run_tool_main(argc - 1, argv + 1);
	}
	r = dune_probe();
	if (r < 0) {
		ksft_print_header();
		ksft_exit_skip("no Dune mode: %s\n", dune_last_error());
	}
	return test_harness_run(argc, argv);
}
