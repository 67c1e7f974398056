// SPDX-License-Identifier: GPL-2.0-only
/*
 * Ring 3 under libdune: untrusted code runs at CPL 3 on pages mapped with
 * DUNE_PERM_U; its SYSCALLs reach the ring-0 syscall handler, which passes
 * allowed ones to the kernel and refuses the others; its access to a
 * supervisor page, a privileged instruction and VMCALL/VMMCALL are caught
 * by the ring-0 handlers; dune_jump_to_user() returns what the handler
 * says.
 *
 * The ring-3 code is ordinary C in a section of its own ("dune_ring3"),
 * which the test maps user-accessible; it uses no libc, no TLS and no data
 * outside the pages it is given.
 */
#include <fcntl.h>
#include <sys/syscall.h>

#include "dune_lib_util.h"

#define RING3 __attribute__((section("dune_ring3"), noinline, used, \
			      no_stack_protector, aligned(64)))

static RING3 long r3_syscall3(long nr, long a1, long a2, long a3)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3)
			 : "rcx", "r11", "memory");
	return ret;
}

/* What ring 3 sees and reports; lives on a user page. */
struct shared {
	long getpid_ret;
	long write_ret;
	long open_ret;
	long reached;
	long secret_value;
	long after_fault;
	int pipe_w;
	char msg[32];
	long msglen;
	char path[64];
	long *secret;
	long fs_word, fs_other_word;	/* what ring 3's FS base points at */
	long fs_before, fs_after;	/* %fs:0 read by ring 3 */
};

RING3 void ring3_main(struct shared *s)
{
	s->getpid_ret = r3_syscall3(SYS_getpid, 0, 0, 0);
	s->write_ret = r3_syscall3(SYS_write, s->pipe_w, (long)s->msg, s->msglen);
	/* forbidden: must not create the file */
	s->open_ret = r3_syscall3(SYS_open, (long)s->path, O_CREAT | O_WRONLY, 0600);
	s->reached = 1;
	s->secret_value = READ_ONCE(*s->secret);	/* supervisor page: #PF */
	s->after_fault = 1;
	r3_syscall3(SYS_exit, 0, 0, 0);
	for (;;)
		;
}

RING3 void ring3_exit_with(long code)
{
	r3_syscall3(SYS_exit, code, 0, 0);
	for (;;)
		;
}

RING3 void ring3_hlt(void)
{
	__asm__ volatile("hlt");
	r3_syscall3(SYS_exit, 1, 0, 0);
	for (;;)
		;
}

RING3 void ring3_cli_then_read_cr3(void)
{
	__asm__ volatile("cli");
	r3_syscall3(SYS_exit, 2, 0, 0);
	for (;;)
		;
}

RING3 void ring3_vmcall(long amd)
{
	if (amd)
		__asm__ volatile("vmmcall" : : "a"(39L));
	else
		__asm__ volatile("vmcall" : : "a"(39L));
	r3_syscall3(SYS_exit, 3, 0, 0);
	for (;;)
		;
}

/* %fs:0 before and after a system call whose handler moves ring 3's FS base */
RING3 void ring3_read_fs(struct shared *s)
{
	long v;

	__asm__ volatile("movq %%fs:0, %0" : "=r"(v));
	s->fs_before = v;
	r3_syscall3(SYS_getpid, 0, 0, 0);
	__asm__ volatile("movq %%fs:0, %0" : "=r"(v));
	s->fs_after = v;
	r3_syscall3(SYS_exit, 0, 0, 0);
	for (;;)
		;
}

/* Point FS somewhere else with WRFSBASE, then make a system call. */
RING3 void ring3_wrfsbase(struct shared *s)
{
	__asm__ volatile("wrfsbase %0" : : "r"(0xdead0000UL));
	r3_syscall3(SYS_getpid, 0, 0, 0);
	r3_syscall3(SYS_exit, 0, 0, 0);
	for (;;)
		;
}

/* ---- ring 0 side ---- */

static struct shared *sh;
static char *ustack;
#define USTACK_SIZE (64 * 1024)
static long supervisor_secret = 0x5ec2e7;
static long syscalls_seen, refused_nr, gp_seen, ud_seen;
static uintptr_t fault_addr;
static uint64_t fault_err, fault_cs;
/* ring3_own_fs_base: the handler's view of its own TLS, and the new FS base */
static __thread long tls_marker = 0x600d;
static long handler_tls;
static uint64_t fs_switch_to;

static void sys_handler(struct dune_tf *tf)
{
	syscalls_seen++;
	switch (tf->rax) {
	case SYS_getpid:
		handler_tls = tls_marker;	/* ring 0's FS base is back */
		if (fs_switch_to) {
			if (dune_set_user_fs(fs_switch_to))
				handler_tls = -1;
		}
		dune_passthrough_syscall(tf);
		break;
	case SYS_write:
		if ((int)tf->rdi != sh->pipe_w) {
			tf->rax = (uint64_t)-EBADF;
			break;
		}
		dune_passthrough_syscall(tf);
		break;
	case SYS_exit:
		dune_ret_from_user((long)tf->rdi);
	default:
		refused_nr = (long)tf->rax;
		tf->rax = (uint64_t)-EPERM;
	}
}

static void pgflt(uintptr_t addr, uint64_t err, struct dune_tf *tf)
{
	if ((tf->cs & 3) != 3)
		dune_fatal_trap(tf);
	fault_addr = addr;
	fault_err = err;
	fault_cs = tf->cs;
	dune_ret_from_user(-EFAULT);
}

static void gp_handler(struct dune_tf *tf)
{
	if ((tf->cs & 3) != 3)
		dune_fatal_trap(tf);
	gp_seen++;
	dune_ret_from_user(-1000 - 13);
}

static void ud_handler(struct dune_tf *tf)
{
	if ((tf->cs & 3) != 3)
		dune_fatal_trap(tf);
	ud_seen++;
	dune_ret_from_user(-1000 - 6);
}

static int is_amd(void)
{
	unsigned int a, b, c, d;

	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
	return (b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163) ||	/* AuthenticAMD */
	       (b == 0x6f677948 && d == 0x6e65476e && c == 0x656e6975);	/* HygonGenuine */
}

static void setup_ring3(struct __test_metadata *_metadata)
{
	uintptr_t start = (uintptr_t)__start_dune_ring3 & ~(PAGE_SZ - 1);
	uintptr_t end = ((uintptr_t)__stop_dune_ring3 + PAGE_SZ - 1) & ~(PAGE_SZ - 1);
	struct dune_vm *vm = dune_vm_current();

	/* the ring-3 text: user, read, execute */
	ASSERT_EQ(0, dune_vm_protect(vm, (void *)start, end - start,
				     DUNE_PERM_R | DUNE_PERM_X | DUNE_PERM_U));
	ustack = dune_lib_map(USTACK_SIZE);
	sh = (struct shared *)dune_lib_map(PAGE_SZ);
	ASSERT_NE(MAP_FAILED, ustack);
	ASSERT_NE(MAP_FAILED, sh);
	ASSERT_EQ(0, dune_vm_protect(vm, ustack, USTACK_SIZE, RW | DUNE_PERM_U));
	ASSERT_EQ(0, dune_vm_protect(vm, sh, PAGE_SZ, RW | DUNE_PERM_U));
	ASSERT_EQ(0, dune_register_syscall_handler(sys_handler));
	ASSERT_EQ(0, dune_register_pgflt_handler(pgflt));
	ASSERT_EQ(0, dune_register_intr_handler(13, gp_handler));
	ASSERT_EQ(0, dune_register_intr_handler(6, ud_handler));
}

/* Run @fn(@arg) at CPL 3 on the user stack. */
static long run_ring3(void *fn, long arg)
{
	struct dune_tf tf;

	/* as after a call: RSP + 8 aligned to 16 */
	dune_init_user_tf(&tf, (uintptr_t)fn, (uintptr_t)ustack + USTACK_SIZE - 8);
	tf.rdi = (uint64_t)arg;
	return dune_jump_to_user(&tf);
}

TEST_F(dune, ring3_syscalls_policy_and_supervisor_page)
{
	static const char msg[] = "hello from ring 3\n";
	char buf[64] = { 0 };
	int fds[2];
	long r;

	setup_ring3(_metadata);
	ASSERT_EQ(0, pipe(fds));
	sh->pipe_w = fds[1];
	memcpy(sh->msg, msg, sizeof(msg));
	sh->msglen = (long)strlen(msg);
	snprintf(sh->path, sizeof(sh->path), "/tmp/dune_lib_ring3.%d", getpid());
	unlink(sh->path);
	sh->secret = &supervisor_secret;

	r = run_ring3(ring3_main, (long)sh);

	EXPECT_EQ(-EFAULT, r);
	EXPECT_EQ(getpid(), sh->getpid_ret);
	EXPECT_EQ(sh->msglen, sh->write_ret);
	ASSERT_EQ(sh->msglen, read(fds[0], buf, sizeof(buf) - 1));
	EXPECT_STREQ(msg, buf);
	EXPECT_EQ(-EPERM, sh->open_ret);
	EXPECT_EQ(SYS_open, refused_nr);
	EXPECT_EQ(-1, access(sh->path, F_OK)) TH_LOG("ring 3 created %s", sh->path);
	EXPECT_EQ(1, sh->reached);
	EXPECT_EQ(3, syscalls_seen);
	/* the supervisor page was not read */
	EXPECT_EQ((uintptr_t)&supervisor_secret, fault_addr);
	EXPECT_EQ(0, sh->secret_value);
	EXPECT_EQ(0, sh->after_fault);
	EXPECT_EQ(0x5 /* P | U */, fault_err & 0x7);
	EXPECT_EQ(DUNE_USER_CS, fault_cs);
	/* back in ring 0 */
	EXPECT_TRUE(dune_in_guest());
}

TEST_F(dune, ring3_exit_code_and_repeated_round_trips)
{
	long i;

	setup_ring3(_metadata);
	for (i = 0; i < 50; i++)
		ASSERT_EQ(i * 3 + 1, run_ring3(ring3_exit_with, i * 3 + 1));
	EXPECT_EQ(50, syscalls_seen);
}

TEST_F(dune, ring3_privileged_instructions_fault)
{
	setup_ring3(_metadata);
	EXPECT_EQ(-1013, run_ring3(ring3_hlt, 0));
	EXPECT_EQ(1, gp_seen);
	EXPECT_EQ(-1013, run_ring3(ring3_cli_then_read_cr3, 0));
	EXPECT_EQ(2, gp_seen);
	/* the vendor's hypercall instruction at CPL 3 is #UD (no host call) */
	EXPECT_EQ(-1006, run_ring3(ring3_vmcall, is_amd()));
	EXPECT_EQ(1, ud_seen);
	EXPECT_EQ(0, syscalls_seen);
	EXPECT_TRUE(dune_in_guest());
}

TEST_F(dune, ring3_own_fs_base)
{
	uint64_t fs = 0;

	setup_ring3(_metadata);
	ASSERT_EQ(-ENOENT, dune_get_user_fs(&fs));
	EXPECT_EQ(-EINVAL, dune_set_user_fs(1ULL << 47));
	sh->fs_word = 0x7e57f5;
	sh->fs_other_word = 0xf5f5;
	ASSERT_EQ(0, dune_set_user_fs((uintptr_t)&sh->fs_word));
	fs_switch_to = (uintptr_t)&sh->fs_other_word;

	EXPECT_EQ(0, run_ring3(ring3_read_fs, (long)sh));

	/* ring 3 read through its own FS base, ring 0 kept its TLS */
	EXPECT_EQ(0x7e57f5, sh->fs_before);
	EXPECT_EQ(0x600d, handler_tls);
	EXPECT_EQ(0xf5f5, sh->fs_after) TH_LOG("the FS base set in the handler was not used");
	EXPECT_EQ(0x600d, tls_marker);
	ASSERT_EQ(0, dune_get_user_fs(&fs));
	EXPECT_EQ((uintptr_t)&sh->fs_other_word, fs);
	EXPECT_EQ(2, syscalls_seen);
	EXPECT_TRUE(dune_in_guest());
}

/*
 * Without an FS base of its own ring 3 runs on ring 0's, but what it does
 * with WRFSBASE must not reach ring 0: the handler's TLS is intact.
 */
TEST_F(dune, ring3_wrfsbase_does_not_reach_ring0)
{
	uint64_t cr4;

	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	if (!(cr4 & (1UL << 16)))
		SKIP(return, "CR4.FSGSBASE is clear: ring 3 cannot use WRFSBASE");
	setup_ring3(_metadata);
	handler_tls = 0;
	EXPECT_EQ(0, run_ring3(ring3_wrfsbase, (long)sh));
	EXPECT_EQ(0x600d, handler_tls) TH_LOG("the handler ran on ring 3's FS base");
	EXPECT_EQ(2, syscalls_seen);
	EXPECT_EQ(0x600d, tls_marker);
	EXPECT_TRUE(dune_in_guest());
}

DUNE_LIB_MAIN
