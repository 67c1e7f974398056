// SPDX-License-Identifier: MIT
/*
 * The test program for dune-sandbox: built dynamically linked (PIE), static
 * (non-PIE) and static PIE.  "hello" does ordinary libc work whose output
 * must be the same natively and in the sandbox; the other modes try one
 * thing and print what happened, or do something a sandbox must stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static __thread int tls_counter = 40;

static const char *en(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "?";
}

static void on_usr1(int sig)
{
	(void)sig;
	write(1, "handler ran\n", 12);
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static int hello(int argc, char **argv)
{
	int i, v[8] = { 5, 3, 9, 1, 7, 2, 8, 6 };
	char *small = malloc(100), *big = malloc(4 << 20);
	unsigned long sum = 0;
	char cwd[256];
	FILE *f;

	tls_counter += 2;
	printf("hello from sbx_prog, tls %d\n", tls_counter);
	for (i = 1; i < argc; i++)
		printf("arg %d: %s\n", i, argv[i]);
	if (!small || !big)
		return 10;
	snprintf(small, 100, "%s-%d", "small", 42);
	memset(big, 0x5a, 4 << 20);
	for (i = 0; i < (4 << 20); i += 4096)
		sum += (unsigned char)big[i];
	printf("%s sum %lu\n", small, sum);
	qsort(v, 8, sizeof(int), cmp_int);
	for (i = 0; i < 8; i++)
		printf("%d%c", v[i], i == 7 ? '\n' : ' ');
	printf("float %.3f\n", 3.14159 * 2);
	if (getenv("SBX_FILE")) {
		char line[256];
		int n = 0;

		f = fopen(getenv("SBX_FILE"), "r");
		if (!f) {
			printf("fopen: %s\n", en(errno));
			return 11;
		}
		while (fgets(line, sizeof(line), f))
			n++;
		fclose(f);
		printf("%d lines\n", n);
	}
	printf("cwd %s\n", getcwd(cwd, sizeof(cwd)) ? "ok" : en(errno));
	{
		/* the mmap family on its own memory */
		char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m == MAP_FAILED)
			return 12;
		strcpy(m + 4096, "kept across mremap");
		printf("mprotect ro %s\n", mprotect(m, 1 << 20, PROT_READ) ? en(errno) : "ok");
		printf("mprotect rw %s\n",
		       mprotect(m, 1 << 20, PROT_READ | PROT_WRITE) ? en(errno) : "ok");
		m = mremap(m, 1 << 20, 8 << 20, MREMAP_MAYMOVE);
		if (m == MAP_FAILED)
			return 13;
		m[(8 << 20) - 1] = 1;
		printf("mremap: %s\n", m + 4096);
		printf("munmap %s\n", munmap(m, 8 << 20) ? en(errno) : "ok");
	}
	free(big);
	free(small);
	return 3;
}

static void result(const char *what, long r)
{
	if (r < 0)
		printf("%s: %s\n", what, en(errno));
	else
		printf("%s: ok\n", what);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "hello";
	void *addr = argc > 2 ? (void *)strtoul(argv[2], NULL, 0) : NULL;
	long r;

	if (!strcmp(m, "hello"))
		return hello(argc - 1, argv + 1);
	if (!strcmp(m, "open") && argc > 2) {
		int w = argc > 3 && argv[3][0] == 'w';

		r = open(argv[2], w ? O_WRONLY | O_CREAT | O_TRUNC : O_RDONLY, 0644);
		result("open", r);
		if (r >= 0 && w)
			result("write", write((int)r, "x\n", 2));
		return 0;
	}
	if (!strcmp(m, "mkdir") && argc > 2) {
		result("mkdir", mkdir(argv[2], 0755));
		return 0;
	}
	if (!strcmp(m, "socket")) {
		result("socket", socket(AF_INET, SOCK_STREAM, 0));
		result("socket unix", socket(AF_UNIX, SOCK_STREAM, 0));
		return 0;
	}
	if (!strcmp(m, "fork")) {
		pid_t p = fork();

		if (p == 0)
			_exit(0);
		if (p > 0)
			waitpid(p, NULL, 0);
		result("fork", p);
		return 0;
	}
	if (!strcmp(m, "exec") && argc > 2) {
		/* a descriptor without O_CLOEXEC survives, one with it does not */
		int keep = open("/dev/null", O_RDONLY), gone = open("/dev/null", O_RDONLY | O_CLOEXEC);

		printf("exec: fds %d %d\n", keep, gone);
		fflush(stdout);
		execv(argv[2], argv + 2);
		result("exec", -1);
		return 0;
	}
	if (!strcmp(m, "fds")) {
		/* after exec: which of 3..9 are open */
		int fd;

		printf("open fds:");
		for (fd = 3; fd < 10; fd++)
			if (fcntl(fd, F_GETFD) >= 0)
				printf(" %d", fd);
		printf("\n");
		return 0;
	}
	if (!strcmp(m, "mem") && argc > 2) {
		size_t mb = strtoul(argv[2], NULL, 0);
		char *p = mmap(NULL, mb << 20, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		result("mmap", p == MAP_FAILED ? -1 : 0);
		if (p != MAP_FAILED) {
			memset(p, 1, mb << 20);
			result("munmap", munmap(p, mb << 20));
		}
		p = malloc(mb << 20);
		result("malloc", p ? 0 : -1);
		return 0;
	}
	if (!strcmp(m, "signal")) {
		/* a handler is accepted but never called: SIGUSR1 terminates */
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_usr1;
		result("sigaction", sigaction(SIGUSR1, &sa, NULL));
		sigaction(SIGUSR1, NULL, &sa);
		printf("handler kept: %s\n", sa.sa_handler == on_usr1 ? "yes" : "no");
		fflush(stdout);
		raise(SIGUSR1);
		printf("after raise\n");
		return 0;
	}
	if (!strcmp(m, "wrfsbase")) {
		/*
		 * Point FS at garbage with WRFSBASE, make a system call with no
		 * libc, and see that FS is still the garbage afterwards: the
		 * runtime must neither use it nor lose it.
		 */
		static const char msg[] = "syscall with a garbage FS base: ok\n";
		unsigned long old, now = 0, bad = 0x1000;
		long r;

		if (!(getauxval(AT_HWCAP2) & 2)) {	/* HWCAP2_FSGSBASE */
			printf("no fsgsbase\n");
			return 0;
		}
		__asm__ volatile("rdfsbase %0" : "=r"(old));
		__asm__ volatile("wrfsbase %0" : : "r"(bad));
		__asm__ volatile("syscall" : "=a"(r) : "a"(1L), "D"(1L), "S"(msg),
				 "d"(sizeof(msg) - 1) : "rcx", "r11", "memory");
		__asm__ volatile("rdfsbase %0" : "=r"(now));
		__asm__ volatile("wrfsbase %0" : : "r"(old));
		printf("fs base kept: %s\n", now == bad ? "yes" : "no");
		return r == sizeof(msg) - 1 ? 0 : 1;
	}
	if (!strcmp(m, "read") && addr) {
		printf("reading %p\n", addr);
		fflush(stdout);
		printf("read %lx\n", *(volatile unsigned long *)addr);
		return 0;
	}
	if (!strcmp(m, "deputy") && addr) {
		int fd = open("/dev/zero", O_RDONLY);

		result("write from it", write(1, addr, 8));
		result("read into it", read(fd, addr, 8));
		result("open it", open((const char *)addr, O_RDONLY));
		result("munmap it", munmap((void *)((uintptr_t)addr & ~4095UL), 4096));
		result("mprotect it", mprotect((void *)((uintptr_t)addr & ~4095UL), 4096,
					       PROT_READ | PROT_WRITE));
		result("mmap over it", mmap((void *)((uintptr_t)addr & ~4095UL), 4096,
					    PROT_READ | PROT_WRITE,
					    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
		       MAP_FAILED ? -1 : 0);
		result("close fd 64", close(64));
		/* the kernel ignores the upper 32 bits of a descriptor */
		result("fcntl fd 64 + 2^32", syscall(SYS_fcntl, 64L | (1L << 32), F_GETFD));
		return 0;
	}
	fflush(stdout);
	if (!strcmp(m, "cli"))
		__asm__ volatile("cli");
	else if (!strcmp(m, "hlt"))
		__asm__ volatile("hlt");
	else if (!strcmp(m, "cr3")) {
		unsigned long v;

		__asm__ volatile("mov %%cr3, %0" : "=r"(v));
		printf("cr3 %lx\n", v);
	} else if (!strcmp(m, "vmcall"))
		__asm__ volatile("vmcall" : : "a"(39L));
	else if (!strcmp(m, "vmmcall"))
		__asm__ volatile("vmmcall" : : "a"(39L));
	else {
		fprintf(stderr, "sbx_prog: unknown mode %s\n", m);
		return 2;
	}
	printf("%s: survived\n", m);
	return 0;
}
