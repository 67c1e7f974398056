// SPDX-License-Identifier: MIT
/*
 * sandbox_test: runs dune-sandbox on real programs and on programs that
 * misbehave, and checks what comes out.  TAP on stdout; exit 0 if every
 * test passed, 1 if one failed, 4 (skip) where the kernel has no Dune mode.
 *
 * Finds dune-sandbox and the test programs (sbx_prog, sbx_prog_static,
 * sbx_prog_static_pie) next to itself or in ./sandbox/ beside it, or in
 * $SBX_DIR.  busybox applets run from /bin/busybox when it exists.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dune.h>

static char dir[4096], sandbox[4200], tmp[256];
static int tests, failed;

struct run {
	char out[65536], err[65536];
	int status;
};

static void ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tests++;
	if (!cond)
		failed++;
	printf("%s %d - ", cond ? "ok" : "not ok", tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void diag_run(const char *what, const struct run *r)
{
	const char *p;

	printf("# %s: status 0x%x (%s %d)\n", what, r->status,
	       WIFSIGNALED(r->status) ? "signal" : "exit",
	       WIFSIGNALED(r->status) ? WTERMSIG(r->status) : WEXITSTATUS(r->status));
	printf("# stdout:\n#   ");
	for (p = r->out; *p; p++)
		printf(*p == '\n' ? "\n#   " : "%c", *p);
	printf("\n# stderr:\n#   ");
	for (p = r->err; *p; p++)
		printf(*p == '\n' ? "\n#   " : "%c", *p);
	printf("\n");
}

/* Run argv (NULL-terminated), capture stdout/stderr, at most 120 s. */
static void run(struct run *r, char *const argv[])
{
	int o[2], e[2];
	size_t no = 0, ne = 0;
	time_t start = time(NULL);
	pid_t pid;

	memset(r, 0, sizeof(*r));
	if (pipe(o) || pipe(e)) {
		r->status = -1;
		return;
	}
	pid = fork();
	if (pid == 0) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		close(o[0]);
		close(e[0]);
		close(o[1]);
		close(e[1]);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	for (;;) {
		struct pollfd p[2] = { { o[0], POLLIN, 0 }, { e[0], POLLIN, 0 } };
		int open_fds = 0, i;

		if (poll(p, 2, 1000) < 0 && errno != EINTR)
			break;
		for (i = 0; i < 2; i++) {
			char *buf = i ? r->err : r->out;
			size_t *n = i ? &ne : &no;
			ssize_t k;

			if (p[i].fd < 0)
				continue;
			if (!(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			k = read(p[i].fd, buf + *n, sizeof(r->out) - 1 - *n);
			if (k <= 0) {
				close(i ? e[0] : o[0]);
				if (i)
					e[0] = -1;
				else
					o[0] = -1;
			} else {
				*n += (size_t)k;
			}
		}
		open_fds = (o[0] >= 0) + (e[0] >= 0);
		if (!open_fds)
			break;
		if (time(NULL) - start > 120) {
			kill(pid, SIGKILL);
			break;
		}
	}
	if (o[0] >= 0)
		close(o[0]);
	if (e[0] >= 0)
		close(e[0]);
	waitpid(pid, &r->status, 0);
}

#define ARGV(...) ((char *const[]){ __VA_ARGS__, NULL })

static bool exited(const struct run *r, int code)
{
	return WIFEXITED(r->status) && WEXITSTATUS(r->status) == code;
}

static bool killed_by(const struct run *r, int sig)
{
	return WIFSIGNALED(r->status) && WTERMSIG(r->status) == sig;
}

/* native vs sandboxed: same stdout and status */
static void same(const char *name, char *const native[], char *const boxed[])
{
	static struct run a, b;
	bool good;

	run(&a, native);
	run(&b, boxed);
	good = a.status == b.status && !strcmp(a.out, b.out) && a.out[0];
	ok(good, "%s: same output and status natively and in the sandbox", name);
	if (!good) {
		diag_run("native", &a);
		diag_run("sandboxed", &b);
	}
}

/* expect: status check, stdout contains @out, stderr contains @err */
static void expect(const char *name, char *const argv[], int code, int sig,
		   const char *out, const char *err)
{
	static struct run r;
	bool good;

	run(&r, argv);
	good = (sig ? killed_by(&r, sig) : exited(&r, code)) &&
	       (!out || strstr(r.out, out)) && (!err || strstr(r.err, err));
	ok(good, "%s", name);
	if (!good) {
		printf("# expected %s %d, stdout with \"%s\", stderr with \"%s\"\n",
		       sig ? "signal" : "exit", sig ? sig : code, out ? out : "", err ? err : "");
		diag_run("got", &r);
	}
}

static void expect_signal_or(const char *name, char *const argv[], int sig1, int sig2,
			     const char *err)
{
	static struct run r;
	bool good;

	run(&r, argv);
	good = (killed_by(&r, sig1) || killed_by(&r, sig2)) && strstr(r.err, err) &&
	       !strstr(r.out, "survived");
	ok(good, "%s", name);
	if (!good) {
		printf("# expected signal %d or %d and \"%s\" on stderr\n", sig1, sig2, err);
		diag_run("got", &r);
	}
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* The lowest PT_LOAD address of the (static, non-PIE) runtime. */
static unsigned long runtime_address(void)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int fd = open(sandbox, O_RDONLY), i;
	unsigned long a = 0;

	if (fd < 0)
		return 0;
	if (pread(fd, &eh, sizeof(eh), 0) == (ssize_t)sizeof(eh) && eh.e_type == ET_EXEC)
		for (i = 0; i < eh.e_phnum; i++)
			if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) ==
			    (ssize_t)sizeof(ph) && ph.p_type == PT_LOAD) {
				a = ph.p_vaddr + 0x40;	/* inside its ELF header */
				break;
			}
	close(fd);
	return a;
}

static int find_dir(const char *argv0)
{
	char self[4096], *slash;
	ssize_t n;
	const char *env = getenv("SBX_DIR");

	if (env) {
		snprintf(dir, sizeof(dir), "%s", env);
	} else {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0)
			snprintf(self, sizeof(self), "%s", argv0);
		else
			self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
		snprintf(dir, sizeof(dir), "%s", slash ? self : ".");
	}
	snprintf(sandbox, sizeof(sandbox), "%s/dune-sandbox", dir);
	if (access(sandbox, X_OK)) {
		strncat(dir, "/sandbox", sizeof(dir) - strlen(dir) - 1);
		snprintf(sandbox, sizeof(sandbox), "%s/dune-sandbox", dir);
	}
	return access(sandbox, X_OK);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static char *p(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

int main(int argc, char **argv)
{
	char *prog = NULL, *prog_s, *prog_sp, *pol_bad, *pol_paths, *addr, *input;
	const char *bb = "/bin/busybox";
	int r = dune_probe();

	(void)argc;
	if (r < 0) {
		printf("1..0 # SKIP no Dune mode: %s\n", dune_strerror(r));
		return 4;
	}
	if (find_dir(argv[0])) {
		printf("1..0 # SKIP dune-sandbox not found next to %s\n", argv[0]);
		return 4;
	}
	/* the test programs must be readable under the default policy */
	prog = p("%s/sbx_prog", dir);
	prog_s = p("%s/sbx_prog_static", dir);
	prog_sp = p("%s/sbx_prog_static_pie", dir);
	snprintf(tmp, sizeof(tmp), "/tmp/sbx_test.%d", getpid());
	mkdir(tmp, 0755);
	input = p("%s/input.txt", tmp);
	write_file(input, "pear\napple\nfig\nbanana\ncherry\n");
	setenv("SBX_FILE", input, 1);

	/* ---- real programs: same output as natively ---- */
	if (access(bb, X_OK) == 0) {
		same("busybox echo", ARGV((char *)bb, "echo", "hello", "sandbox"),
		     ARGV(sandbox, (char *)bb, "echo", "hello", "sandbox"));
		same("busybox cat", ARGV((char *)bb, "cat", input),
		     ARGV(sandbox, (char *)bb, "cat", input));
		same("busybox ls", ARGV((char *)bb, "ls", "-a", tmp),
		     ARGV(sandbox, (char *)bb, "ls", "-a", tmp));
		same("busybox wc", ARGV((char *)bb, "wc", input),
		     ARGV(sandbox, (char *)bb, "wc", input));
		same("busybox sort", ARGV((char *)bb, "sort", input),
		     ARGV(sandbox, (char *)bb, "sort", input));
		same("busybox sha256sum", ARGV((char *)bb, "sha256sum", input),
		     ARGV(sandbox, (char *)bb, "sha256sum", input));
		same("busybox sh builtins and exit status",
		     ARGV((char *)bb, "sh", "-c", "echo in-sh; exit 7"),
		     ARGV(sandbox, (char *)bb, "sh", "-c", "echo in-sh; exit 7"));
	} else {
		ok(1, "# SKIP no %s", bb);
	}
	same("dynamically linked C program", ARGV(prog, "hello", "a b", "c"),
	     ARGV(sandbox, prog, "hello", "a b", "c"));
	same("static non-PIE C program", ARGV(prog_s, "hello", "x"),
	     ARGV(sandbox, prog_s, "hello", "x"));
	same("static PIE C program", ARGV(prog_sp, "hello", "y"),
	     ARGV(sandbox, prog_sp, "hello", "y"));

	same("static program without libc", ARGV(p("%s/sbx_tiny", dir)),
	     ARGV(sandbox, p("%s/sbx_tiny", dir)));

	/* execve: emulated, the new image loaded inside the sandbox */
	if (access(bb, X_OK) == 0)
		same("execve from a dynamic program into static busybox",
		     ARGV(prog, "exec", (char *)bb, "echo", "after", "exec"),
		     ARGV(sandbox, prog, "exec", (char *)bb, "echo", "after", "exec"));
	same("execve from a static program into a dynamic one (exit status 3)",
	     ARGV(prog_s, "exec", prog, "hello", "z"),
	     ARGV(sandbox, prog_s, "exec", prog, "hello", "z"));
	same("execve closes O_CLOEXEC descriptors only",
	     ARGV(prog_sp, "exec", prog, "fds"), ARGV(sandbox, prog_sp, "exec", prog, "fds"));

	/* ---- what the loader refuses ---- */
	expect("a non-PIE program outside the layout windows is refused, exit 126",
	       ARGV(sandbox, p("%s/sbx_tiny_far", dir)), 126, 0, NULL,
	       "outside the Dune layout windows");
	expect("a non-PIE program over the runtime's addresses is refused, exit 126",
	       ARGV(sandbox, p("%s/sbx_tiny_clash", dir)), 126, 0, NULL,
	       "overlap the sandbox runtime's memory");

	/* ---- what the policy refuses ---- */
	expect("forbidden open (/proc/self/maps) fails with EPERM",
	       ARGV(sandbox, prog, "open", "/proc/self/maps"), 0, 0, "open: EPERM", NULL);
	expect("forbidden open for writing (/tmp, read-only by default) fails with EPERM",
	       ARGV(sandbox, prog, "open", p("%s/new", tmp), "w"), 0, 0, "open: EPERM", NULL);
	ok(access(p("%s/new", tmp), F_OK) != 0, "... and did not create the file");
	expect("socket with network off fails with EPERM",
	       ARGV(sandbox, prog, "socket"), 0, 0, "socket: EPERM", NULL);
	expect("socket with --network works (AF_INET), AF_UNIX is still refused",
	       ARGV(sandbox, "--network", prog, "socket"), 0, 0,
	       "socket: ok\nsocket unix: EPERM", NULL);
	expect("fork fails with EPERM", ARGV(sandbox, prog, "fork"), 0, 0, "fork: EPERM", NULL);
	expect("memory cap: 128 MiB under a 64 MiB cap fails with ENOMEM",
	       ARGV(sandbox, "--memory", "64M", prog, "mem", "128"), 0, 0,
	       "mmap: ENOMEM\nmalloc: ENOMEM", NULL);
	expect("memory cap, static program (brk, then mmap): 128 MiB under 64 MiB is ENOMEM",
	       ARGV(sandbox, "--memory", "64M", prog_s, "mem", "128"), 0, 0,
	       "mmap: ENOMEM\nmalloc: ENOMEM", NULL);
	expect("a signal handler is accepted and reported but never called",
	       ARGV(sandbox, prog, "signal"), 0, SIGUSR1,
	       "sigaction: ok\nhandler kept: yes\n", NULL);
	expect("memory cap: 16 MiB under a 64 MiB cap works",
	       ARGV(sandbox, "--memory", "64M", prog, "mem", "16"), 0, 0,
	       "mmap: ok\nmunmap: ok\nmalloc: ok", NULL);

	/* paths: a writable directory, symlink and ".." escapes */
	mkdir(p("%s/in", tmp), 0755);
	mkdir(p("%s/out", tmp), 0755);
	write_file(p("%s/out/secret", tmp), "secret\n");
	symlink(p("%s/out/secret", tmp), p("%s/in/esc", tmp));
	symlink(p("%s/out/new", tmp), p("%s/in/wesc", tmp));
	pol_paths = p("%s/paths.policy", tmp);
	write_file(pol_paths, p("allow all\npath /lib /lib64 /usr %s\npath-write %s/in\n"
				"memory 256M # comment\n", dir, tmp));
	expect("path-write: a file in the writable directory can be created",
	       ARGV(sandbox, "--policy", pol_paths, prog, "open", p("%s/in/file", tmp), "w"),
	       0, 0, "open: ok\nwrite: ok", NULL);
	expect("path-write: mkdir inside works",
	       ARGV(sandbox, "--policy", pol_paths, prog, "mkdir", p("%s/in/d", tmp)),
	       0, 0, "mkdir: ok", NULL);
	expect("path: mkdir outside is EPERM",
	       ARGV(sandbox, "--policy", pol_paths, prog, "mkdir", p("%s/out/d", tmp)),
	       0, 0, "mkdir: EPERM", NULL);
	expect("symlink out of the allowed tree: reading through it is EPERM",
	       ARGV(sandbox, "--policy", pol_paths, prog, "open", p("%s/in/esc", tmp)),
	       0, 0, "open: EPERM", NULL);
	expect("\"..\" out of the allowed tree is EPERM",
	       ARGV(sandbox, "--policy", pol_paths, prog, "open", p("%s/in/../out/secret", tmp)),
	       0, 0, "open: EPERM", NULL);
	expect("execve of a program outside the allowed paths is EPERM",
	       ARGV(sandbox, "--policy", pol_paths, prog, "exec", "/bin/busybox", "true"),
	       0, 0, "exec: EPERM", NULL);
	write_file(p("%s/in/script", tmp), "#!/bin/sh\necho script\n");
	chmod(p("%s/in/script", tmp), 0755);
	expect("execve of a script is ENOEXEC (only ELF programs)",
	       ARGV(sandbox, "--policy", pol_paths, prog, "exec", p("%s/in/script", tmp)),
	       0, 0, "exec: ENOEXEC", NULL);
	expect("symlink out of the allowed tree: creating through it is EPERM",
	       ARGV(sandbox, "--policy", pol_paths, prog, "open", p("%s/in/wesc", tmp), "w"),
	       0, 0, "open: EPERM", NULL);
	ok(access(p("%s/out/new", tmp), F_OK) != 0, "... and did not create the target");

	/* ---- programs that attack the runtime ---- */
	addr = p("0x%lx", runtime_address());
	expect("reading the runtime's memory kills the program with a report",
	       ARGV(sandbox, prog, "read", addr), 0, SIGSEGV, NULL, "not its memory");
	expect("system calls on runtime memory (confused deputy) fail: EFAULT/EPERM/EBADF",
	       ARGV(sandbox, prog, "deputy", addr), 0, 0,
	       "write from it: EFAULT\nread into it: EFAULT\nopen it: EFAULT\n"
	       "munmap it: EPERM\nmprotect it: EPERM\nmmap over it: EPERM\n"
	       "close fd 64: EBADF\nfcntl fd 64 + 2^32: EBADF", NULL);
	expect_signal_or("cli kills the program with a report",
			 ARGV(sandbox, prog, "cli"), SIGSEGV, SIGSEGV, "privileged instruction CLI");
	expect_signal_or("hlt kills the program with a report",
			 ARGV(sandbox, prog, "hlt"), SIGSEGV, SIGSEGV, "privileged instruction HLT");
	expect_signal_or("mov %cr3 kills the program with a report",
			 ARGV(sandbox, prog, "cr3"), SIGSEGV, SIGSEGV, "control register");
	expect_signal_or("VMCALL kills the program with a report",
			 ARGV(sandbox, prog_s, "vmcall"), SIGILL, SIGSEGV, "VMCALL");
	expect_signal_or("VMMCALL kills the program with a report",
			 ARGV(sandbox, prog_s, "vmmcall"), SIGILL, SIGSEGV, "VMMCALL");

	printf("# FSGSBASE for user space: %s\n", getauxval(AT_HWCAP2) & 2 ? "yes" :
	       "no (the WRFSBASE test only compares 'no fsgsbase')");
	same("ring 3 with a garbage FS base (WRFSBASE) across a system call",
	     ARGV(prog, "wrfsbase"), ARGV(sandbox, prog, "wrfsbase"));

	/* ---- the runtime's own checks ---- */
	pol_bad = p("%s/bad.policy", tmp);
	write_file(pol_bad, "allow all\n\nnetwork maybe\n");
	expect("a bad policy line is reported as file:line, exit 126",
	       ARGV(sandbox, "--policy", pol_bad, prog), 126, 0, NULL,
	       p("%s:3: 'network' takes 'on' or 'off'", pol_bad));
	write_file(p("%s/bad.elf", tmp), "\177ELF\2\1\1\0\0\0\0\0\0\0\0\0\2\0\076\0");
	chmod(p("%s/bad.elf", tmp), 0755);
	expect("a truncated ELF file is refused, exit 126",
	       ARGV(sandbox, p("%s/bad.elf", tmp)), 126, 0, NULL, "refused");
	expect("--log prints one line per decision",
	       ARGV(sandbox, "--log", prog, "open", "/proc/self/maps"), 0, 0, "open: EPERM",
	       "\"/proc/self/maps\" = -EPERM [refused: path not allowed by the policy]");

	expect("--log escapes control characters in the program's paths",
	       ARGV(sandbox, "--log", prog, "open", "/tmp/a\nforged: line"), 0, 0, "open: ENOENT",
	       "\"/tmp/a\\x0aforged: line\" = -ENOENT [forwarded]");

	nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	printf("1..%d\n", tests);
	printf("# %d passed, %d failed\n", tests - failed, failed);
	return failed ? 1 : 0;
}
