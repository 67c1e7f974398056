// SPDX-License-Identifier: GPL-2.0-only
/*
 * A program a user would write, run natively and under dune-run: the output
 * and the exit status must be the same, byte for byte.
 *
 * Built only as dune_lib_pool_pie (dynamically linked, so that dune-run can
 * preload libdune.so).  With "--child" it is the program: a pool of four
 * pthreads takes 240 jobs from a queue guarded by a mutex and two condition
 * variables; a POSIX timer (timer_create, SIGALRM, SA_RESTART) ticks every
 * 2 ms meanwhile and interrupts the futex waits; each worker counts its jobs
 * in a thread-local counter; a forked child computes a number and exits with
 * it; a semaphore wait is interrupted by a signal without SA_RESTART and
 * fails with EINTR, as POSIX says.  It prints only what does not depend on
 * scheduling and exits with a status computed from the results.  On stderr
 * it says which ring the main thread and the workers ran in.
 *
 * dune-run is the real one if it is found (next to the libdune build, or
 * $DUNE_RUN_BIN), else the copy of its code linked into this test.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <sys/wait.h>

#include "dune_lib_util.h"

int dune_run_tool_main(int argc, char **argv);	/* libdune/tools/dune-run.c */

#ifndef LIBDUNE_BUILD_DIR
#define LIBDUNE_BUILD_DIR ""
#endif

/* ---- the program ---- */

#define WORKERS		4
#define JOBS		240
#define QUEUE_LEN	16

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t all_done = PTHREAD_COND_INITIALIZER;
static int queue[QUEUE_LEN], head, count, finished_jobs, closed;
static uint64_t results[JOBS];
static int worker_jobs[WORKERS], worker_ring[WORKERS];
static sig_atomic_t ticks, usr1_seen;	/* the handlers count */
static __thread int my_jobs;

static void on_tick(int sig)
{
	ticks++;
}

static void on_usr1(int sig)
{
	usr1_seen++;
}

static int ring(void)
{
	unsigned short cs;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs & 3;
}

/* A job: the number of steps of a few Collatz sequences, and a hash. */
static uint64_t work(int job)
{
	uint64_t h = 1469598103934665603ULL, n;
	int i;

	for (i = 0; i < 40; i++) {
		uint64_t steps = 0;

		for (n = (uint64_t)job * 40 + i + 1; n != 1; steps++)
			n = (n & 1) ? 3 * n + 1 : n / 2;
		h = (h ^ steps) * 1099511628211ULL;
	}
	return h;
}

static void *worker(void *arg)
{
	int id = (int)(long)arg;

	worker_ring[id] = ring();
	for (;;) {
		int job;

		pthread_mutex_lock(&lock);
		while (!count && !closed)
			pthread_cond_wait(&not_empty, &lock);
		if (!count) {
			pthread_mutex_unlock(&lock);
			break;
		}
		job = queue[head];
		head = (head + 1) % QUEUE_LEN;
		count--;
		pthread_cond_signal(&not_full);
		pthread_mutex_unlock(&lock);

		results[job] = work(job);
		my_jobs++;

		pthread_mutex_lock(&lock);
		if (++finished_jobs == JOBS)
			pthread_cond_signal(&all_done);
		pthread_mutex_unlock(&lock);
	}
	worker_jobs[id] = my_jobs;
	return NULL;
}

static int primes_below(int n)
{
	int i, d, c = 0;

	for (i = 2; i < n; i++) {
		for (d = 2; d * d <= i && i % d; d++)
			;
		c += d * d > i;
	}
	return c;
}

static sem_t sem;
static int sem_result, sem_errno, sem_waiting;

static void *sem_waiter(void *arg)
{
	WRITE_ONCE(sem_waiting, 1);
	sem_result = sem_wait(&sem);
	sem_errno = errno;
	return NULL;
}

static int program(void)
{
	struct sigaction tick = { .sa_handler = on_tick, .sa_flags = SA_RESTART };
	struct sigaction usr1 = { .sa_handler = on_usr1 };	/* no SA_RESTART */
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM };
	struct itimerspec its = { .it_interval = { .tv_nsec = 2000000 },
				  .it_value = { .tv_nsec = 2000000 } };
	pthread_t t[WORKERS], sw;
	uint64_t sum = 0;
	timer_t timer;
	int i, total = 0, status, expect;
	pid_t pid;

	if (sigaction(SIGALRM, &tick, NULL) || sigaction(SIGUSR1, &usr1, NULL) ||
	    timer_create(CLOCK_MONOTONIC, &sev, &timer) || timer_settime(timer, 0, &its, NULL)) {
		perror("setup");
		return 1;
	}
	for (i = 0; i < WORKERS; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)(long)i))
			return 1;

	/* The producer: blocks on not_full while the workers catch up. */
	for (i = 0; i < JOBS; i++) {
		pthread_mutex_lock(&lock);
		while (count == QUEUE_LEN)
			pthread_cond_wait(&not_full, &lock);
		queue[(head + count) % QUEUE_LEN] = i;
		count++;
		pthread_cond_signal(&not_empty);
		pthread_mutex_unlock(&lock);
	}

	/* A child computes a number while the pool works, and exits with it. */
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0)
		_exit(primes_below(2000) & 0xff);

	pthread_mutex_lock(&lock);
	while (finished_jobs < JOBS)
		pthread_cond_wait(&all_done, &lock);
	closed = 1;
	pthread_cond_broadcast(&not_empty);
	pthread_mutex_unlock(&lock);
	for (i = 0; i < WORKERS; i++) {
		pthread_join(t[i], NULL);
		total += worker_jobs[i];
	}
	for (i = 0; i < JOBS; i++)
		sum = sum * 31 + results[i];
	printf("jobs: %d done by %d workers, thread-local counts add up to %d\n",
	       finished_jobs, WORKERS, total);
	for (i = 0; i < JOBS; i += 40)
		printf("job %3d: %016llx\n", i, (unsigned long long)results[i]);
	printf("checksum %016llx\n", (unsigned long long)sum);

	if (waitpid(pid, &status, 0) != pid)
		return 1;
	expect = primes_below(2000) & 0xff;
	printf("child: exit status %d, expected %d\n", WIFEXITED(status) ?
	       WEXITSTATUS(status) : -1, expect);

	/* The timer goes on until it has ticked at least 20 times. */
	while (READ_ONCE(ticks) < 20)
		pause();
	timer_delete(timer);
	printf("timer: at least 20 ticks\n");

	/* A semaphore wait interrupted by a signal without SA_RESTART: EINTR. */
	sem_init(&sem, 0, 0);
	pthread_create(&sw, NULL, sem_waiter, NULL);
	while (!READ_ONCE(sem_waiting))
		sched_yield();
	for (i = 0; i < 1000 && !READ_ONCE(usr1_seen); i++) {
		struct timespec ts = { .tv_nsec = 5000000 };

		nanosleep(&ts, NULL);
		if (!READ_ONCE(usr1_seen))
			pthread_kill(sw, SIGUSR1);
	}
	pthread_join(sw, NULL);
	printf("sem_wait: %d %s\n", sem_result, sem_errno == EINTR ? "EINTR" : "?");

	fprintf(stderr, "rings: main %d, workers %d %d %d %d\n", ring(), worker_ring[0],
		worker_ring[1], worker_ring[2], worker_ring[3]);
	return (int)(sum % 100) + 10;
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

static int run(char *const argv[], struct result *r)
{
	char errpath[] = "/tmp/dune_lib_pool.XXXXXX";
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

static char self_path[PATH_MAX];
static char lib_path[PATH_MAX];

/* The libdune.so this test is linked with, as the loader mapped it. */
static void find_lib_path(struct __test_metadata *_metadata)
{
	char line[PATH_MAX + 128], *path;
	FILE *maps = fopen("/proc/self/maps", "r");

	ASSERT_NE(NULL, maps);
	lib_path[0] = '\0';
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

TEST(worker_pool_same_output_native_and_under_dune_run)
{
	static struct result native, dune;
	const char *tool = real_dune_run();
	char *const nargv[] = { self_path, "--child", NULL };
	char *const dargv_real[] = { (char *)tool, "--lib", lib_path, "--", self_path,
				     "--child", NULL };
	char *const dargv_copy[] = { self_path, "--dune-run", "--lib", lib_path, "--", self_path,
				     "--child", NULL };
	ssize_t n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);

	ASSERT_GT(n, 0);
	self_path[n] = '\0';
	find_lib_path(_metadata);

	ASSERT_EQ(0, run(nargv, &native));
	ASSERT_EQ(0, run(tool ? dargv_real : dargv_copy, &dune));
	TH_LOG("native: status %#x, stderr: %s", native.status, native.err);
	TH_LOG("dune-run: status %#x, stderr: %s", dune.status, dune.err);
	ASSERT_TRUE(WIFEXITED(native.status) && WEXITSTATUS(native.status) >= 10)
		TH_LOG("the program failed natively");
	EXPECT_EQ(native.status, dune.status);
	EXPECT_STREQ("rings: main 3, workers 3 3 3 3\n", native.err);
	EXPECT_STREQ("rings: main 0, workers 0 0 0 0\n", dune.err);
	/* What the native run must have printed, whatever the scheduling. */
	EXPECT_NE(NULL, strstr(native.out,
			       "jobs: 240 done by 4 workers, thread-local counts add up to 240\n"));
	EXPECT_NE(NULL, strstr(native.out, "child: exit status 47, expected 47\n"));
	EXPECT_NE(NULL, strstr(native.out, "timer: at least 20 ticks\nsem_wait: -1 EINTR\n"));
	EXPECT_STREQ(native.out, dune.out);
	TH_LOG("output (%zu bytes):\n%s", strlen(dune.out), dune.out);
}

int main(int argc, char **argv)
{
	int r;

	if (argc >= 2 && !strcmp(argv[1], "--child"))
		return program();
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
