// SPDX-License-Identifier: MIT
/*
 * dune-sandbox [--policy FILE] [--log] [--memory SIZE] [--network]
 *              [--print-policy] [--] PROGRAM [ARGS...]
 *
 * Runs PROGRAM (a static or dynamically linked x86-64 ELF program) in ring
 * 3 of this process, which enters Dune mode and stays in ring 0 as the
 * sandbox runtime: every system call of the program comes here and is
 * checked against the policy, every fault or privileged instruction ends
 * the program with a report.  See Documentation/apps-sandbox.rst.
 *
 * Exit status: the program's, or the signal that ended it; 126 when the
 * sandbox cannot start (no Dune mode, a refused program, a bad policy).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "sandbox.h"

struct sbx sbx = { .log_fd = -1 };
static int err_fd = 2;

extern char **environ;

bool sbx_is_runtime_fd(long fd)
{
	int i;

	/* the kernel takes descriptors as unsigned int: ignore the upper bits */
	for (i = 0; i < sbx.n_runtime_fds; i++)
		if ((unsigned int)sbx.runtime_fds[i] == (unsigned int)fd)
			return true;
	return false;
}

/* Formatting into a static buffer: no malloc in the trap paths. */
static void vreport(const char *prefix, const char *fmt, va_list ap)
{
	static char buf[SBX_PATH_MAX + 512];
	int n = snprintf(buf, sizeof(buf), "%s", prefix);

	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	sbx_raw(SYS_write, sbx.log_fd >= 0 ? sbx.log_fd : err_fd, (long)buf, n, 0, 0, 0);
}

void sbx_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("dune-sandbox: ", fmt, ap);
	va_end(ap);
}

/* A message from the runtime, always (not only with "log on"). */
void sbx_msg(const char *fmt, ...)
{
	va_list ap;
	int fd = sbx.log_fd;

	sbx.log_fd = err_fd;
	va_start(ap, fmt);
	vreport("dune-sandbox: ", fmt, ap);
	va_end(ap);
	sbx.log_fd = fd;
}

/* End the process as a native fault would: with the signal, default action. */
static void die_signal(int sig) __attribute__((noreturn));
static void die_signal(int sig)
{
	struct { unsigned long handler, flags, restorer, mask; } sa = { 0, 0, 0, 0 };
	unsigned long set = 1UL << (sig - 1);

	sbx_raw(SYS_rt_sigaction, sig, (long)&sa, 0, 8, 0, 0);
	sbx_raw(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&set, 0, 8, 0, 0);
	sbx_raw(SYS_tgkill, sbx_raw(SYS_getpid, 0, 0, 0, 0, 0, 0),
		sbx_raw(SYS_gettid, 0, 0, 0, 0, 0, 0), sig, 0, 0, 0);
	for (;;)
		sbx_raw(SYS_exit_group, 128 + sig, 0, 0, 0, 0, 0);
}

void sbx_die(const char *fmt, ...)
{
	va_list ap;
	char pre[SBX_PATH_MAX + 64];

	snprintf(pre, sizeof(pre), "dune-sandbox: killed %s: ", sbx.prog ? sbx.prog : "the program");
	va_start(ap, fmt);
	vreport(pre, fmt, ap);
	va_end(ap);
	die_signal(SIGSYS);
}

/* ---- ring-3 faults ---- */

static const char *insn_name(uint64_t rip)
{
	const unsigned char *b = (const unsigned char *)rip;

	if (!sbx_owned(rip, 3, DUNE_PERM_R))
		return NULL;
	if (b[0] == 0x0f && b[1] == 0x01 && b[2] == 0xc1)
		return "VMCALL (a hypercall: ring 3 may not make one)";
	if (b[0] == 0x0f && b[1] == 0x01 && b[2] == 0xd9)
		return "VMMCALL (a hypercall: ring 3 may not make one)";
	if (b[0] == 0xfa)
		return "privileged instruction CLI";
	if (b[0] == 0xfb)
		return "privileged instruction STI";
	if (b[0] == 0xf4)
		return "privileged instruction HLT";
	if (b[0] == 0x0f && (b[1] == 0x20 || b[1] == 0x22))
		return "privileged instruction MOV to or from a control register";
	if (b[0] == 0x0f && (b[1] == 0x30 || b[1] == 0x32))
		return "privileged instruction WRMSR/RDMSR";
	if (b[0] == 0x0f && b[1] == 0x01 && (b[2] & 0x38) <= 0x18 && b[2] < 0xc0)
		return "privileged instruction LGDT/LIDT/SGDT/SIDT";
	if (b[0] == 0xcd && b[1] == 0x80)
		return "INT 0x80 (32-bit system calls are not supported)";
	if (b[0] == 0xe4 || b[0] == 0xe5 || b[0] == 0xe6 || b[0] == 0xe7 ||
	    b[0] == 0xec || b[0] == 0xed || b[0] == 0xee || b[0] == 0xef)
		return "privileged instruction IN/OUT";
	return NULL;
}

static int vector_signal(unsigned int v)
{
	switch (v) {
	case 0: case 16: case 19: return SIGFPE;
	case 1: case 3: return SIGTRAP;
	case 6: return SIGILL;
	case 17: return SIGBUS;
	default: return SIGSEGV;
	}
}

static void ring3_killed(struct dune_tf *tf, const char *what) __attribute__((noreturn));
static void ring3_killed(struct dune_tf *tf, const char *what)
{
	int sig = vector_signal((unsigned int)tf->vector);

	sbx_log("killed %s: %s at rip 0x%lx (rsp 0x%lx); ending it with signal %d (%s)",
		sbx.prog, what, (unsigned long)tf->rip, (unsigned long)tf->rsp, sig, strsignal(sig));
	die_signal(sig);
}

static void on_pgflt(uintptr_t addr, uint64_t fec, struct dune_tf *tf)
{
	static char what[256];
	const char *acc = (fec & 0x10) ? "executing" : (fec & 2) ? "writing" : "reading";

	if ((tf->cs & 3) != 3) {
		sbx_log("runtime bug: page fault in ring 0 at 0x%lx", (unsigned long)addr);
		dune_fatal_trap(tf);
	}
	if (sbx_owned(addr, 1, 0))
		snprintf(what, sizeof(what), "page fault %s 0x%lx, a page of its own that does "
			 "not allow it", acc, (unsigned long)addr);
	else
		snprintf(what, sizeof(what), "page fault %s 0x%lx, which is not its memory (the "
			 "sandbox runtime's, or unmapped)", acc, (unsigned long)addr);
	ring3_killed(tf, what);
}

static void on_trap(struct dune_tf *tf)
{
	static char what[256];
	static const char *const names[32] = {
		"divide error", "debug trap", "NMI", "breakpoint (INT3)", "overflow", "bound range",
		"invalid opcode", "device not available", "double fault", "?", "invalid TSS",
		"segment not present", "stack fault", "general protection fault", "page fault", "?",
		"x87 floating-point error", "alignment check", "machine check", "SIMD floating-point "
		"error", "virtualization exception", "control protection fault",
	};
	unsigned int v = (unsigned int)tf->vector;
	const char *insn;

	if ((tf->cs & 3) != 3)
		dune_fatal_trap(tf);
	insn = (v == 6 || v == 13) ? insn_name(tf->rip) : NULL;
	snprintf(what, sizeof(what), "%s (vector %u)%s%s", v < 32 && names[v] ? names[v] : "trap",
		 v, insn ? ": " : "", insn ? insn : "");
	ring3_killed(tf, what);
}

/* ---- setup ---- */

static void usage(FILE *f)
{
	fprintf(f, "usage: dune-sandbox [--policy FILE] [--log] [--memory SIZE] [--network]\n"
		   "                    [--print-policy] [--] PROGRAM [ARGS...]\n"
		   "Runs PROGRAM in ring 3 of a Dune process, checking its system calls\n"
		   "against the policy (built-in default, or FILE).\n");
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || n > (1 << 20) || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		errno = EFBIG;
		return NULL;
	}
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[n] = '\0';
	fclose(f);
	return buf;
}

/* PROGRAM as execvp would find it, absolute and normalised. */
static int find_program(const char *name, char *out)
{
	char cwd[SBX_PATH_MAX], cand[SBX_PATH_MAX];
	const char *path = getenv("PATH"), *p;

	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	if (strchr(name, '/'))
		return sbx_path_normalise(cwd, name, out, SBX_PATH_MAX);
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; *p;) {
		const char *e = strchr(p, ':');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		snprintf(cand, sizeof(cand), "%.*s/%s", (int)n, p, name);
		if (access(cand, X_OK) == 0)
			return sbx_path_normalise(cwd, cand, out, SBX_PATH_MAX);
		p += n + (e ? 1 : 0);
	}
	return -ENOENT;
}

/* Which descriptors are open (0..255), as a bitmap. */
static void open_fds(unsigned char map[256])
{
	int fd;

	for (fd = 0; fd < 256; fd++)
		map[fd] = fcntl(fd, F_GETFD) >= 0;
}

int main(int argc, char **argv)
{
	static char prog[SBX_PATH_MAX], real[SBX_PATH_MAX];
	unsigned char before[256], after[256];
	int fillers[64], nfill = 0, i, r, fd;
	const char *policy_file = NULL, *mem = NULL;
	bool log = false, net = false, print = false;
	struct sbx_image img;
	struct dune_tf tf;
	uint64_t rsp;
	char err[512];

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (!strcmp(argv[i], "--policy") && i + 1 < argc) {
			policy_file = argv[++i];
		} else if (!strcmp(argv[i], "--memory") && i + 1 < argc) {
			mem = argv[++i];
		} else if (!strcmp(argv[i], "--log")) {
			log = true;
		} else if (!strcmp(argv[i], "--network")) {
			net = true;
		} else if (!strcmp(argv[i], "--print-policy")) {
			print = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "dune-sandbox: unknown option %s\n", argv[i]);
			usage(stderr);
			return 126;
		}
	}
	if (print) {
		fputs(sbx_default_policy, stdout);
		return 0;
	}
	if (i >= argc) {
		usage(stderr);
		return 126;
	}

	/* the policy */
	sbx_policy_init(&sbx.pol);
	if (policy_file) {
		char *text = read_file(policy_file);

		if (!text) {
			fprintf(stderr, "dune-sandbox: %s: %s\n", policy_file, strerror(errno));
			return 126;
		}
		r = sbx_policy_parse(&sbx.pol, policy_file, text, err, sizeof(err));
		free(text);
	} else {
		r = sbx_policy_parse(&sbx.pol, "<built-in policy>", sbx_default_policy, err,
				     sizeof(err));
	}
	if (r) {
		fprintf(stderr, "dune-sandbox: %s\n", err);
		return 126;
	}
	if (log)
		sbx.pol.log = true;
	if (net)
		sbx.pol.network = true;
	if (mem && (sbx_parse_size(mem, &sbx.pol.memory) || sbx.pol.memory < (1 << 20))) {
		fprintf(stderr, "dune-sandbox: --memory %s: not a size of at least 1M\n", mem);
		return 126;
	}

	/* the program: found like execvp, readable under the policy */
	r = find_program(argv[i], prog);
	if (r) {
		fprintf(stderr, "dune-sandbox: %s: %s\n", argv[i], strerror(-r));
		return 127;
	}
	if (!realpath(prog, real)) {
		fprintf(stderr, "dune-sandbox: %s: %s\n", prog, strerror(errno));
		return 127;
	}
	if (!sbx_path_allowed(&sbx.pol, prog, SBX_ACC_READ) ||
	    !sbx_path_allowed(&sbx.pol, real, SBX_ACC_READ)) {
		fprintf(stderr, "dune-sandbox: %s: refused: not readable under the policy\n", prog);
		return 126;
	}
	sbx.prog = prog;

	/*
	 * Enter Dune mode.  The runtime's descriptors (the Dune VM, a copy of
	 * stderr for reports) are kept out of the program's way: low numbers
	 * are filled first, so they land at 64 and above, and the program's
	 * system calls may not name them.
	 */
	open_fds(before);
	for (fd = 0; fd < 64 && nfill < 64; fd++)
		if (!before[fd]) {
			int f = open("/dev/null", O_RDONLY | O_CLOEXEC);

			if (f < 0)
				break;
			fillers[nfill++] = f;
		}
	r = dune_init_and_enter();
	if (r) {
		fprintf(stderr, "dune-sandbox: cannot enter Dune mode: %s\n",
			dune_last_error()[0] ? dune_last_error() : dune_strerror(r));
		return 126;
	}
	err_fd = fcntl(2, F_DUPFD_CLOEXEC, 64);
	if (err_fd < 0)
		err_fd = fcntl(open("/dev/null", O_WRONLY | O_CLOEXEC), F_DUPFD_CLOEXEC, 64);
	if (sbx.pol.log)
		sbx.log_fd = err_fd;
	for (i--, fd = 0; fd < nfill; fd++)
		close(fillers[fd]);
	i++;
	open_fds(after);
	for (fd = 0; fd < 256; fd++)
		if (after[fd] && !before[fd] && sbx.n_runtime_fds < 16)
			sbx.runtime_fds[sbx.n_runtime_fds++] = fd;

	sbx.vm = dune_vm_current();
	dune_register_syscall_handler(sbx_syscall);
	dune_register_pgflt_handler(on_pgflt);
	for (fd = 0; fd < 32; fd++)
		if (fd != 14)
			dune_register_intr_handler(fd, on_trap);

	if (sbx_brk_init(sbx.pol.memory < (1ULL << 30) ? sbx.pol.memory : (1ULL << 30))) {
		fprintf(stderr, "dune-sandbox: cannot reserve the program's brk region\n");
		return 126;
	}
	if (sbx_load(prog, argv + i, environ, &img, &rsp))
		return 126;
	if (sbx.pol.log)
		sbx_log("starting %s at 0x%lx (stack 0x%lx), %lu KiB of %lu KiB memory used", prog,
			(unsigned long)img.entry, (unsigned long)rsp,
			(unsigned long)(sbx.owned >> 10), (unsigned long)(sbx.pol.memory >> 10));
	fflush(NULL);

	/* ring 3 starts with FS 0 until its ld.so or libc sets one */
	dune_set_user_fs(0);
	dune_init_user_tf(&tf, img.entry, rsp);
	dune_jump_to_user(&tf);
	sbx_log("the program returned to the runtime unexpectedly");
	return 126;
}
