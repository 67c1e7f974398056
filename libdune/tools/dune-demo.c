// SPDX-License-Identifier: MIT
/*
 * dune-demo: what Dune mode gives a process, in four steps.
 *
 *   1. enter Dune mode (guest ring 0, same address space, stack and TLS)
 *   2. a Linux system call made with VMCALL (VMMCALL on AMD)
 *   3. a page fault taken and fixed in-process, through our own page tables
 *   4. a round trip to ring 3 and back through our own syscall handler
 *
 * Exit status: 0 if every step worked, 1 if one failed, 4 (kselftest
 * "skip") if the kernel has no Dune mode.  Built as build/dune-demo,
 * statically linked, so that it runs in a bare initramfs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "dune.h"

#define PAGE 4096UL

static int failures;

static void step(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void step(int ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("dune-demo: ");
	vprintf(fmt, ap);
	printf("  [%s]\n", ok ? "OK" : "FAILED");
	va_end(ap);
	fflush(stdout);
	if (!ok)
		failures++;
}

static unsigned int read_cs(void)
{
	unsigned short cs;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs;
}

static int is_amd(void)
{
	unsigned int a, b, c, d;

	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
	return (b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163) ||	/* AuthenticAMD */
	       (b == 0x6f677948 && d == 0x6e65476e && c == 0x656e6975);	/* HygonGenuine */
}

/* ---- step 3: the page-fault handler ---- */

static char *demo_page;
static volatile uintptr_t pf_addr;
static volatile uint64_t pf_err;

static void on_page_fault(uintptr_t addr, uint64_t err, struct dune_tf *tf)
{
	if ((addr & ~(PAGE - 1)) != (uintptr_t)demo_page)
		dune_fatal_trap(tf);	/* not ours: report and die */
	pf_addr = addr;
	pf_err = err;
	/* fix the cause: make the page present and writable again */
	dune_vm_protect(dune_vm_current(), demo_page, PAGE, DUNE_PERM_R | DUNE_PERM_W);
	/* returning retries the faulting instruction */
}

/* ---- step 4: ring 3 ---- */

#define RING3 __attribute__((section("dune_demo_user"), noinline, used, no_stack_protector))
extern char __start_dune_demo_user[], __stop_dune_demo_user[];

static inline __attribute__((always_inline)) long user_syscall(long nr, long a1)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a1) : "rcx", "r11", "memory");
	return ret;
}

/* Runs at CPL 3: asks for its pid, then exits with (pid == expected) ? 7 : 8. */
RING3 void user_main(long expected_pid)
{
	long pid = user_syscall(SYS_getpid, 0);

	user_syscall(SYS_exit, pid == expected_pid ? 7 : 8);
	for (;;)
		;
}

static volatile long user_calls;

static void on_user_syscall(struct dune_tf *tf)
{
	user_calls++;
	if (tf->rax == SYS_getpid) {
		dune_passthrough_syscall(tf);	/* allowed: ask the kernel */
		return;
	}
	if (tf->rax == SYS_exit)
		dune_ret_from_user((long)tf->rdi);
	tf->rax = (uint64_t)-EPERM;		/* everything else is refused */
}

static long run_in_ring3(long pid)
{
	struct dune_vm *vm = dune_vm_current();
	uintptr_t text = (uintptr_t)__start_dune_demo_user & ~(PAGE - 1);
	uintptr_t text_end = ((uintptr_t)__stop_dune_demo_user + PAGE - 1) & ~(PAGE - 1);
	size_t stack_size = 16 * PAGE;
	char *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct dune_tf tf;

	if (stack == MAP_FAILED)
		return -ENOMEM;
	/* Ring 3 may touch only what is mapped with DUNE_PERM_U: its code and stack. */
	if (dune_vm_protect(vm, (void *)text, text_end - text,
			    DUNE_PERM_R | DUNE_PERM_X | DUNE_PERM_U) ||
	    dune_vm_protect(vm, stack, stack_size, DUNE_PERM_R | DUNE_PERM_W | DUNE_PERM_U))
		return -EFAULT;
	dune_register_syscall_handler(on_user_syscall);
	dune_init_user_tf(&tf, (uintptr_t)user_main, (uintptr_t)stack + stack_size - 8);
	tf.rdi = (uint64_t)pid;
	return dune_jump_to_user(&tf);
}

int main(void)
{
	pid_t pid = getpid();
	unsigned int cs;
	long r;
	uint64_t cr3;
	int v;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("dune-demo: native: pid %d, CS 0x%02x (ring %u)\n", pid, read_cs(), read_cs() & 3);
	v = dune_probe();
	if (v < 0) {
		printf("dune-demo: no Dune mode here: %s\n", dune_last_error()[0] ?
		       dune_last_error() : dune_strerror(v));
		return 4;
	}

	/* 1 */
	r = dune_init_and_enter();
	if (r) {
		step(0, "1. enter Dune mode: %s", dune_last_error()[0] ? dune_last_error() :
		     dune_strerror((int)r));
		return 1;
	}
	cs = read_cs();
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	step(dune_in_guest() && (cs & 3) == 0,
	     "1. entered Dune mode (ABI %d): CS 0x%02x (ring %u), CR3 0x%llx, same stack and TLS",
	     v, cs, cs & 3, (unsigned long long)cr3);

	/* 2 */
	r = dune_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0);
	step(r == pid, "2. getpid() made with %s from ring 0 = %ld (native: %d); "
	     "glibc's SYSCALLs work too: getppid() = %d",
	     is_amd() ? "VMMCALL" : "VMCALL", r, pid, getppid());

	/* 3 */
	demo_page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (demo_page == MAP_FAILED) {
		step(0, "3. mmap: %s", strerror(errno));
	} else {
		dune_register_pgflt_handler(on_page_fault);
		/* 4 KiB leaf, then not present (the host mapping stays as it is) */
		dune_vm_map_pages(dune_vm_current(), demo_page, PAGE,
				  DUNE_PERM_R | DUNE_PERM_W | DUNE_PERM_SMALL);
		dune_vm_protect(dune_vm_current(), demo_page, PAGE, 0);
		demo_page[123] = 42;	/* #PF -> on_page_fault -> retried */
		step(pf_addr == (uintptr_t)demo_page + 123 && demo_page[123] == 42,
		     "3. page fault at %p (error 0x%llx: %s, %s) handled in-process; "
		     "the page was mapped back and the write landed: %d",
		     (void *)pf_addr, (unsigned long long)pf_err,
		     (pf_err & 2) ? "write" : "read", (pf_err & 1) ? "protection" : "not present",
		     demo_page[123]);
	}

	/* 4 */
	r = run_in_ring3(pid);
	step(r == 7 && user_calls == 2 && dune_in_guest(),
	     "4. ring 3 round trip: ring-3 code's SYSCALL getpid went to our handler, "
	     "which passed it to the kernel; its exit(%ld) came back to ring 0 "
	     "(%ld ring-3 system calls)", r, (long)user_calls);

	printf("dune-demo: %s\n", failures ? "SOME STEPS FAILED" : "all steps OK");
	return failures ? 1 : 0;
}
