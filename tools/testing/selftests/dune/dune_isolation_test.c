// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dune mode isolation guarantees: seccomp filters (RET_ERRNO, RET_KILL_PROCESS,
 * filters installed from the guest) apply to VMCALL system calls; without
 * access to /dev/kvm there is nothing to enter; no kernel address and not
 * the host's LSTAR is visible to the process (uAPI structures, the guest's
 * own MSRs and descriptor tables, /proc files of a Dune process); CPU
 * exceptions in the guest (#DE #DB #BP #UD #GP #PF #AC, ring 0 and ring 3)
 * go to the guest's IDT and never reach the host.
 */
#include <ctype.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "dune_test.h"

/* ------------------------------------------------------------------------ */
/* seccomp */

static struct sock_fprog deny_getppid(uint32_t action, struct sock_filter *f)
{
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, action),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = 4, .filter = f };

	memcpy(f, insns, sizeof(insns));
	return prog;
}

static uint32_t filter_action;
static struct sock_filter guest_filter[4];
static struct sock_fprog guest_prog;

static void install_in_child(struct dune_vm *vm)
{
	struct sock_filter f[4];
	struct sock_fprog prog = deny_getppid(filter_action, f);

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
		_exit(80);
}

static void guest_getppid_status(void)
{
	long r = gsys0(SYS_getppid);

	/* 0: ENOTSUP as the filter said; 1: anything else (ran, or other errno) */
	guest_exit(r == -ENOTSUP && gsys0(SYS_getpid) == dune_native_pid ? 0 : 1);
}

TEST(seccomp_errno_with_its_own_errno)
{
	if (no_dune(_metadata))
		return;
	filter_action = SECCOMP_RET_ERRNO | ENOTSUP;
	dune_child_hook = install_in_child;
	EXPECT_TRUE(exited_with(_metadata, dune_run_child(guest_getppid_status, false), 0));
	dune_child_hook = NULL;
}

TEST(seccomp_kill_process_on_vmcall)
{
	if (no_dune(_metadata))
		return;
	filter_action = SECCOMP_RET_KILL_PROCESS;
	dune_child_hook = install_in_child;
	/* The VMCALL never returns: the whole process dies of SIGSYS. */
	EXPECT_TRUE(killed_by(_metadata, dune_run_child(guest_getppid_status, false), SIGSYS));
	dune_child_hook = NULL;
}

static void guest_installs_filter(void)
{
	long r;

	/* A filter installed from Dune mode applies to the next VMCALLs. */
	if (gsys3(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0) ||
	    gsys3(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, (long)&guest_prog))
		guest_exit(2);
	r = gsys0(SYS_getppid);
	guest_exit(r == -ENOTSUP ? 0 : 1);
}

TEST(seccomp_filter_installed_from_the_guest)
{
	if (no_dune(_metadata))
		return;
	guest_prog = deny_getppid(SECCOMP_RET_ERRNO | ENOTSUP, guest_filter);
	EXPECT_TRUE(exited_with(_metadata, dune_run_child(guest_installs_filter, false), 0))
		TH_LOG("2: installing the filter failed, 1: getppid was not denied");
}

/* ------------------------------------------------------------------------ */
/* /dev/kvm access */

TEST(no_permission_on_dev_kvm_no_vm)
{
	struct stat st;
	int status;
	pid_t pid;

	if (no_dune(_metadata))
		return;
	ASSERT_EQ(0, stat("/dev/kvm", &st));
	ASSERT_EQ(0, chmod("/dev/kvm", 0600));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* Not root, not the owner, no group or other permission */
		if (setgid(65534) || setuid(65534))
			_exit(2);
		if (open("/dev/kvm", O_RDWR) >= 0 || errno != EACCES)
			_exit(3);
		if (open("/dev/kvm", O_RDONLY) >= 0 || errno != EACCES)
			_exit(4);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	chmod("/dev/kvm", st.st_mode & 07777);
	EXPECT_TRUE(exited_with(_metadata, status, 0))
		TH_LOG("3/4: /dev/kvm opened (or not with EACCES) without permission");
}

/* ------------------------------------------------------------------------ */
/* No kernel addresses, no host LSTAR */

static uint64_t host_lstar;	/* entry_SYSCALL_64, from /proc/kallsyms */

static uint64_t kernel_symbol(const char *name)
{
	char line[256], sym[128], type;
	unsigned long long addr;
	uint64_t found = 0;
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx %c %127s", &addr, &type, sym) == 3 && !strcmp(sym, name)) {
			found = addr;
			break;
		}
	fclose(f);
	return found;
}

static bool kernel_address(uint64_t v)
{
	/* The vsyscall page is a fixed part of the x86-64 ABI, not a leak. */
	if (v >= 0xffffffffff600000ULL && v <= 0xffffffffff601000ULL)
		return false;
	/* The kernel half, but not the last page (negative errnos) */
	return (v >= 0xffff800000000000ULL && v < 0xfffffffffffff000ULL) ||
	       (host_lstar && v == host_lstar);
}

/* Every number of 8 digits or more in @text, as hex and (all digits) decimal */
static const char *find_kernel_address(const char *text)
{
	static char bad[48];
	const char *p = text;

	while (*p) {
		const char *start = p, *q;
		bool digits = true;
		char tok[24];
		uint64_t v;
		int n;

		if (p[0] == '0' && p[1] == 'x')
			p += 2;
		for (q = p; isxdigit((unsigned char)*q); q++)
			digits &= isdigit((unsigned char)*q) != 0;
		n = q - p;
		if (n >= 8 && n <= 20) {
			memcpy(tok, p, n);
			tok[n] = 0;
			v = n <= 16 ? strtoull(tok, NULL, 16) : 0;
			if (!kernel_address(v) && digits) {
				errno = 0;
				v = strtoull(tok, NULL, 10);
				if (errno)
					v = 0;
			}
			if (kernel_address(v)) {
				snprintf(bad, sizeof(bad), "%s", tok);
				return bad;
			}
		}
		p = q > start ? q : start + 1;
	}
	return NULL;
}

static int leak_pipe[2];
static uint64_t guest_msrs[8];
static uint8_t guest_dt[2][10];

static uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return lo | (uint64_t)hi << 32;
}

static void read_guest_msrs(int base)
{
	guest_msrs[base + 0] = rdmsr(0xc0000082);	/* LSTAR */
	guest_msrs[base + 1] = rdmsr(0xc0000081);	/* STAR */
	guest_msrs[base + 2] = rdmsr(0xc0000084);	/* SFMASK */
	guest_msrs[base + 3] = rdmsr(0xc0000102);	/* KERNEL_GS_BASE */
}

/* Reads its MSRs and descriptor tables, then blocks in a VMCALL read. */
static void guest_blocks(void)
{
	char c;

	read_guest_msrs(0);
	asm volatile("sgdt %0; sidt %1" : "=m"(guest_dt[0]), "=m"(guest_dt[1]));
	gsys0(SYS_getpid);
	read_guest_msrs(4);	/* after a VMCALL: still the guest's own */
	gsys3(SYS_write, leak_pipe[1], (long)guest_msrs, sizeof(guest_msrs));
	gsys3(SYS_write, leak_pipe[1], (long)guest_dt, sizeof(guest_dt));
	gsys3(SYS_read, leak_pipe[0] + 100, (long)&c, 1);	/* see the test */
	guest_exit(0);
}

static void move_block_fd(struct dune_vm *vm)
{
	/* The guest blocks reading fd leak_pipe[0] + 100: a pipe nobody writes */
	int p[2];

	if (pipe(p) || dup2(p[0], leak_pipe[0] + 100) < 0)
		_exit(81);
}

static char *slurp(const char *path, size_t *len)
{
	static char buf[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	*len = 0;
	if (fd < 0)
		return NULL;
	while ((n = read(fd, buf + *len, sizeof(buf) - 1 - *len)) > 0)
		*len += n;
	close(fd);
	buf[*len] = 0;
	return buf;
}

TEST(no_kernel_address_or_host_lstar_visible)
{
	static const char *const files[] = {
		"stat", "status", "syscall", "maps", "wchan", "stack", "sched", "io",
		"personality", "limits", "auxv", "smaps_rollup",
	};
	uint64_t msrs[8];
	uint8_t dt[2][10];
	unsigned int i, j;
	pid_t pid;
	int status;

	if (no_dune(_metadata))
		return;
	host_lstar = kernel_symbol("entry_SYSCALL_64");
	TH_LOG("host LSTAR (entry_SYSCALL_64) %s",
	       host_lstar ? "found in /proc/kallsyms" : "unknown: checking kernel addresses only");
	ASSERT_EQ(0, pipe(leak_pipe));
	dune_child_hook = move_block_fd;
	pid = dune_start_child(guest_blocks, false);
	dune_child_hook = NULL;
	ASSERT_LT(0, pid);

	/* What the guest sees of its own state */
	ASSERT_EQ(sizeof(msrs), read(leak_pipe[0], msrs, sizeof(msrs)));
	ASSERT_EQ(sizeof(dt), read(leak_pipe[0], dt, sizeof(dt)));
	for (i = 0; i < 8; i++) {
		/* STAR, LSTAR, SFMASK, KERNEL_GS_BASE start at 0: the guest's own */
		EXPECT_EQ(0, msrs[i]) TH_LOG("guest MSR %u (%s) = %#llx", i % 4,
					     i < 4 ? "at entry" : "after a VMCALL",
					     (unsigned long long)msrs[i]);
	}
	for (i = 0; i < 2; i++) {
		uint64_t base;

		memcpy(&base, &dt[i][2], 8);
		EXPECT_FALSE(kernel_address(base))
			TH_LOG("guest %s base %#llx", i ? "IDTR" : "GDTR",
			       (unsigned long long)base);
	}

	/* What /proc says of the process while it blocks in a VMCALL */
	usleep(100000);
	for (i = 0; i < ARRAY_SIZE(files); i++) {
		char path[64];
		size_t len;
		const char *text, *bad;

		snprintf(path, sizeof(path), "/proc/%d/%s", pid, files[i]);
		text = slurp(path, &len);
		if (!text)
			continue;
		if (!strcmp(files[i], "auxv")) {
			for (j = 0; j + 8 <= len; j += 8) {
				uint64_t v;

				memcpy(&v, text + j, 8);
				EXPECT_FALSE(kernel_address(v))
					TH_LOG("%s word %u: %#llx", path, j / 8,
					       (unsigned long long)v);
			}
			continue;
		}
		bad = find_kernel_address(text);
		EXPECT_EQ(NULL, bad) TH_LOG("%s shows %s", path, bad);
	}
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
}

static struct kvm_dune_enter left_cfg;
static alignas(16) uint8_t hlt_stack[4096];

static void guest_hlt(void)
{
	asm volatile("hlt");
}

static void guest_triple(void)
{
	asm volatile("ud2");
}

static void check_words(struct __test_metadata *_metadata, const char *what,
			const void *p, size_t size)
{
	uint64_t v;
	size_t i;

	for (i = 0; i + 8 <= size; i += 8) {
		memcpy(&v, (const char *)p + i, 8);
		EXPECT_FALSE(kernel_address(v))
			TH_LOG("%s, word %zu: %#llx", what, i / 8, (unsigned long long)v);
	}
}

TEST(structures_read_back_hold_no_kernel_address)
{
	void (*fns[2])(void) = { guest_hlt, guest_triple };
	struct kvm_dune_layout l;
	struct kvm_dune_enter e;
	struct dune_vm vm;
	unsigned int i;

	if (no_dune(_metadata))
		return;
	host_lstar = kernel_symbol("entry_SYSCALL_64");
	for (i = 0; i < 2; i++) {
		int status, fds[2];
		pid_t pid;

		ASSERT_EQ(0, pipe(fds));
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			/* KVM_DUNE_GET_LAYOUT, then the structure after leaving */
			if (dune_vm_create(&vm) || dune_build_page_tables(&vm))
				_exit(1);
			dune_init_config(&vm, &left_cfg, fns[i], hlt_stack, sizeof(hlt_stack));
			if (dune_enter(&vm, &left_cfg))
				_exit(2);
			if (write(fds[1], &vm.layout, sizeof(vm.layout)) != sizeof(vm.layout) ||
			    write(fds[1], &left_cfg, sizeof(left_cfg)) != sizeof(left_cfg))
				_exit(3);
			_exit(0);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(exited_with(_metadata, status, 0));
		ASSERT_EQ(sizeof(l), read(fds[0], &l, sizeof(l)));
		ASSERT_EQ(sizeof(e), read(fds[0], &e, sizeof(e)));
		EXPECT_EQ(i ? KVM_DUNE_EXIT_SHUTDOWN : KVM_DUNE_EXIT_HLT, e.exit_reason);
		check_words(_metadata, "KVM_DUNE_GET_LAYOUT", &l, sizeof(l));
		check_words(_metadata, "the enter structure after leaving", &e, sizeof(e));
		close(fds[0]);
		close(fds[1]);
	}
}

/* ------------------------------------------------------------------------ */
/* Exceptions go to the guest's IDT, in ring 0 and in ring 3 */

static int exc_vector;
static alignas(16) uint8_t user_stack[8192];
static alignas(8) uint8_t misaligned[16];

static void raise_exception(void)
{
	switch (exc_vector) {
	case 0: {	/* #DE */
		uint32_t zero = 0;
		uint32_t a = 1, d = 0;

		asm volatile("divl %2" : "+a"(a), "+d"(d) : "r"(zero));
		break;
	}
	case 1:		/* #DB: single step */
		asm volatile("pushfq; orq $0x100, (%%rsp); popfq; nop" ::: "memory");
		break;
	case 3:		/* #BP */
		asm volatile("int3");
		break;
	case 6:		/* #UD */
		asm volatile("ud2");
		break;
	case 13:	/* #GP: a non-canonical address */
		guest_read64(0x8000000000000000ULL);
		break;
	case 14:	/* #PF: between the windows, not in the guest's page tables */
		guest_read64(0x0000700000000000ULL);
		break;
	case 17:	/* #AC: RFLAGS.AC and a misaligned access (CPL 3 only) */
		asm volatile("pushfq; orq $0x40000, (%%rsp); popfq\n"
			     "movl (%0), %%eax" : : "r"(misaligned + 1) : "rax", "memory");
		break;
	}
}

static void user_raise(void)
{
	raise_exception();
	/* No exception: #UD is not it (exit 106 would be wrong for others) */
	for (;;)
		asm volatile("ud2");
}

static void guest_ring0_exception(void)
{
	raise_exception();
	guest_exit(1);
}

static void guest_ring3_exception(void)
{
	uint8_t idtr[10];	/* the limit, then the base (not aligned) */
	struct dune_idt_entry *idt;

	/* INT3 from ring 3 needs a DPL 3 gate, as in any OS */
	asm volatile("sidt %0" : "=m"(idtr));
	idt = (struct dune_idt_entry *)guest_read64((uint64_t)&idtr[2]);
	idt[3].type = 0xee;
	guest_load_tr();
	guest_jump_to_user(user_raise, user_stack + sizeof(user_stack));
}

TEST(exceptions_reach_the_guest_idt)
{
	static const int vectors[] = { 0, 1, 3, 6, 13, 14, 17 };
	unsigned int i, ring;
	char report[160];

	if (no_dune(_metadata))
		return;
	for (ring = 0; ring < 2; ring++) {
		for (i = 0; i < ARRAY_SIZE(vectors); i++) {
			int status;

			if (vectors[i] == 17 && ring == 0)
				continue;	/* #AC is a CPL 3 check */
			exc_vector = vectors[i];
			status = dune_run_child(ring ? guest_ring3_exception :
						       guest_ring0_exception, true);
			if (vectors[i] == 17 && WIFEXITED(status) &&
			    WEXITSTATUS(status) == EXC_EXIT(6)) {
				/* went on to the UD2 after it: no alignment check at all */
				TH_LOG("%s",
				       "#AC: this CPU (emulator) does no alignment checking; not tested");
				continue;
			}
			snprintf(report, sizeof(report),
				 "vector %d in ring %d: expected the guest's handler (exit %d), got status %#x%s",
				 vectors[i], ring ? 3 : 0, EXC_EXIT(vectors[i]), status,
				 WIFSIGNALED(status) ? ": it reached the host" : "");
			EXPECT_TRUE(exited_with(_metadata, status, EXC_EXIT(vectors[i])))
				TH_LOG("%s", report);
		}
	}
}

TEST_HARNESS_MAIN
