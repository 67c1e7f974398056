// SPDX-License-Identifier: GPL-2.0-only
/*
 * libdune "hello": a process enters Dune mode with dune_init_and_enter(),
 * uses stdio and other system calls from guest ring 0, and its exit status
 * (exit(), _exit(), the atexit handlers) reaches its parent as natively.
 *
 * Built twice: statically linked against libdune.a (dune_lib_hello) and as
 * a dynamically linked PIE against libdune.so (dune_lib_hello_pie).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "dune_lib_util.h"

static int atexit_fd = -1;

static void say_goodbye(void)
{
	dprintf(atexit_fd, "atexit handler in ring %d\n", dune_in_guest() ? 0 : 3);
}

/*
 * Fork a child with its stdout on a pipe; the child enters Dune mode and
 * runs @body(@arg), which ends the process.  Returns the child's output
 * and *status its wait status.
 */
static char *run_child(void (*body)(int), int arg, int *status)
{
	static char buf[4096];
	size_t len = 0;
	ssize_t n;
	int fds[2];
	pid_t pid;

	if (pipe(fds))
		return NULL;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return NULL;
	if (pid == 0) {
		int r;

		close(fds[0]);
		dup2(fds[1], 1);
		close(fds[1]);
		r = dune_init_and_enter();
		if (r) {
			fprintf(stderr, "child: %s\n", dune_last_error());
			_exit(99);
		}
		body(arg);
		_exit(98);	/* not reached */
	}
	close(fds[1]);
	while (len < sizeof(buf) - 1 && (n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fds[0]);
	if (waitpid(pid, status, 0) != pid)
		return NULL;
	return buf;
}

static unsigned int read_cs(void)
{
	unsigned short cs;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs;
}

static void hello_exit(int code)
{
	unsigned int cs = read_cs();

	atexit_fd = 1;
	atexit(say_goodbye);
	printf("hello from Dune mode: ring %u, CS 0x%02x, pid %d\n", cs & 3, cs, getpid());
	/* stdout is a pipe: the line stays buffered until exit() flushes it. */
	exit(code);
}

static void hello_underscore_exit(int code)
{
	dprintf(1, "about to _exit(%d)\n", code);
	_exit(code);
}

static void hello_exit_group_raw(int code)
{
	dprintf(1, "raw exit_group(%d)\n", code);
	syscall(SYS_exit_group, code);
}

TEST(exit_flushes_stdio_and_propagates_status)
{
	int status;
	char *out = run_child(hello_exit, 42, &status);

	ASSERT_NE(NULL, out);
	TH_LOG("child said: %s", out);
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("wait status 0x%x", status);
	EXPECT_EQ(42, WEXITSTATUS(status));
	EXPECT_NE(NULL, strstr(out, "hello from Dune mode: ring 0, CS 0x08"));
	EXPECT_NE(NULL, strstr(out, "atexit handler in ring 0"));
}

TEST(underscore_exit_status)
{
	int status;
	char *out = run_child(hello_underscore_exit, 7, &status);

	ASSERT_NE(NULL, out);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(7, WEXITSTATUS(status));
	EXPECT_STREQ("about to _exit(7)\n", out);
}

TEST(raw_exit_group_status)
{
	int status;
	char *out = run_child(hello_exit_group_raw, 201, &status);

	ASSERT_NE(NULL, out);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(201, WEXITSTATUS(status));
	EXPECT_STREQ("raw exit_group(201)\n", out);
}

TEST_F(dune, printf_and_system_calls)
{
	struct timespec ts;
	char buf[64];
	int fds[2];
	pid_t pid = (pid_t)syscall(SYS_getpid);

	printf("# printf from guest ring 0 (pid %d)\n", pid);
	fflush(stdout);
	EXPECT_EQ(pid, getpid());
	ASSERT_EQ(0, pipe(fds));
	ASSERT_EQ(5, write(fds[1], "hello", 5));
	ASSERT_EQ(5, read(fds[0], buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "hello", 5));
	errno = 0;
	EXPECT_EQ(-1, open("/nonexistent/dune_lib_hello", O_RDONLY));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(0, clock_gettime(CLOCK_MONOTONIC, &ts));
	snprintf(buf, sizeof(buf), "%d %s %.3f", 42, "is", 42.0);
	EXPECT_STREQ("42 is 42.000", buf);
}

DUNE_LIB_MAIN
