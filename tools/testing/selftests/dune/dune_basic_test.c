// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dune mode basics, raw ioctls: capability and VM type, the layout, entering,
 * VMCALL system calls, exit status, ring 3, host faults, seccomp, bad input.
 */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "dune_test.h"

TEST(capability_and_vm_type)
{
	int fd = open("/dev/kvm", O_RDWR);
	long types;

	if (fd < 0)
		SKIP(return, "no /dev/kvm");
	EXPECT_EQ(KVM_DUNE_ABI_VERSION, ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_DUNE));
	types = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_VM_TYPES);
	EXPECT_TRUE(types & (1 << KVM_X86_DUNE_VM)) TH_LOG("KVM_CAP_VM_TYPES = %#lx", types);
	EXPECT_TRUE(types & (1 << KVM_X86_DEFAULT_VM));
	close(fd);
}

static bool in_window(struct dune_vm *vm, const void *p)
{
	return dune_window_of(vm, (uint64_t)p);
}

TEST(layout)
{
	struct dune_vm vm;
	unsigned int i;
	uint64_t total = 0;
	void *heap, *map;
	int local;

	if (no_dune(_metadata))
		return;
	ASSERT_EQ(0, dune_vm_create(&vm));
	ASSERT_GE(vm.layout.nr_windows, 2);
	ASSERT_LE(vm.layout.nr_windows, KVM_DUNE_MAX_WINDOWS);
	ASSERT_GE(vm.layout.gpa_bits, 34);
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0, vm.layout.reserved[i]);

	for (i = 0; i < vm.layout.nr_windows; i++) {
		struct kvm_dune_window *w = &vm.layout.windows[i];

		TH_LOG("window %u: kind %u hva %#llx gpa %#llx size %#llx", i, w->kind,
		       (unsigned long long)w->hva, (unsigned long long)w->gpa,
		       (unsigned long long)w->size);
		EXPECT_EQ(0, w->hva % SZ_1G);
		EXPECT_EQ(0, w->gpa % SZ_1G);
		EXPECT_NE(0, w->size);
		EXPECT_EQ(0, w->size % PAGE_SZ);
		EXPECT_LE(w->gpa + w->size, 1ULL << vm.layout.gpa_bits);
		/*
		 * Guest paging is 4-level: below 1 << 47.  (With 4-level host
		 * paging the user address limit 0x7ffffffff000 ends it first.)
		 */
		EXPECT_LE(w->hva + w->size, 1ULL << 47);
		EXPECT_TRUE(w->kind >= KVM_DUNE_WINDOW_LOW && w->kind <= KVM_DUNE_WINDOW_STACK);
		EXPECT_EQ(0, w->flags);
		if (i) {
			struct kvm_dune_window *p = &vm.layout.windows[i - 1];

			EXPECT_LE(p->hva + p->size, w->hva);
			EXPECT_LE(p->gpa + p->size, w->gpa);
		}
		total += w->size;
	}
	/* The classic layout: 4 GiB per window at least (12 GiB in all). */
	EXPECT_GE(total, 12 * SZ_1G - PAGE_SZ);
	for (i = vm.layout.nr_windows; i < KVM_DUNE_MAX_WINDOWS; i++)
		EXPECT_EQ(0, vm.layout.windows[i].size);

	heap = malloc(64);
	map = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_TRUE(in_window(&vm, (void *)dune_vm_create)) TH_LOG("text %p", dune_vm_create);
	EXPECT_TRUE(in_window(&vm, (void *)&dune_is_amd)) TH_LOG("data %p", (void *)&dune_is_amd);
	EXPECT_TRUE(in_window(&vm, heap)) TH_LOG("heap %p", heap);
	EXPECT_TRUE(in_window(&vm, map)) TH_LOG("mmap %p", map);
	EXPECT_TRUE(in_window(&vm, &local)) TH_LOG("stack %p", &local);
	munmap(map, PAGE_SZ);
	free(heap);
}

static int pipe_wr;
static const char hello[] = "hello from Dune mode\n";

static void guest_ids(void)
{
	long pid = gsys0(SYS_getpid), tid = gsys0(SYS_gettid);
	long n = gsys3(SYS_write, pipe_wr, (long)hello, sizeof(hello) - 1);

	/* 7: all three as natively */
	guest_exit((pid == dune_native_pid) | (tid == dune_native_tid) << 1 |
		   (n == sizeof(hello) - 1) << 2);
}

TEST(vmcall_getpid_gettid_write)
{
	char buf[64] = {};
	int fds[2];

	if (no_dune(_metadata))
		return;
	ASSERT_EQ(0, pipe(fds));
	pipe_wr = fds[1];
	ASSERT_TRUE(exited_with(_metadata, dune_run_child(guest_ids, false), 7));
	close(fds[1]);
	ASSERT_EQ(sizeof(hello) - 1, read(fds[0], buf, sizeof(buf) - 1));
	EXPECT_STREQ(hello, buf);
	close(fds[0]);
}

static void guest_exit42(void)
{
	guest_exit(42);
}

TEST(exit_status)
{
	if (no_dune(_metadata))
		return;
	ASSERT_TRUE(exited_with(_metadata, dune_run_child(guest_exit42, false), 42));
}

static void guest_pid_check(void)
{
	long pid = gsys0(SYS_getpid), tid = gsys0(SYS_gettid);

	guest_exit(pid == tid && pid == gsys0(SYS_getpid) ? 0 : 1);
}

TEST(getpid_equals_native)
{
	if (no_dune(_metadata))
		return;
	ASSERT_TRUE(exited_with(_metadata, dune_run_child(guest_pid_check, false), 0));
}

static alignas(16) uint8_t user_stack[8192];

static void user_vmcall(void)
{
	/* Ring 3 may not make host system calls: this must be #UD. */
	gsys1(SYS_exit_group, 13);
	for (;;)
		;
}

static void guest_ring3(void)
{
	guest_load_tr();
	guest_jump_to_user(user_vmcall, user_stack + sizeof(user_stack));
}

TEST(ring3_vmcall_is_ud)
{
	if (no_dune(_metadata))
		return;
	ASSERT_TRUE(exited_with(_metadata, dune_run_child(guest_ring3, true), EXC_EXIT(6)));
}

static void guest_ud2(void)
{
	asm volatile("ud2");
	guest_exit(1);
}

TEST(exception_reaches_guest_idt)
{
	if (no_dune(_metadata))
		return;
	ASSERT_TRUE(exited_with(_metadata, dune_run_child(guest_ud2, true), EXC_EXIT(6)));
}

static uint64_t fault_addr;
static int fault_write;
static int report_fd;

static void segv_handler(int sig, siginfo_t *si, void *ctx)
{
	uint64_t r[2] = { (uint64_t)si->si_addr, si->si_code };

	(void)sig;
	(void)ctx;
	if (write(report_fd, r, sizeof(r)) != sizeof(r))
		_exit(2);
	_exit(0);
}

static void guest_touch(void)
{
	if (fault_write)
		guest_write64(fault_addr, 1);
	else
		guest_read64(fault_addr);
	guest_exit(3);	/* no fault: wrong */
}

static void check_segv(struct __test_metadata *_metadata, void *addr, int write_access,
		       int code)
{
	struct sigaction sa = { .sa_sigaction = segv_handler, .sa_flags = SA_SIGINFO };
	uint64_t r[2];
	int fds[2];

	ASSERT_EQ(0, pipe(fds));
	report_fd = fds[1];
	fault_addr = (uint64_t)addr;
	fault_write = write_access;
	ASSERT_EQ(0, sigaction(SIGSEGV, &sa, NULL));
	ASSERT_TRUE(exited_with(_metadata, dune_run_child(guest_touch, false), 0));
	ASSERT_EQ(sizeof(r), read(fds[0], r, sizeof(r)));
	EXPECT_EQ((uint64_t)addr, r[0]) TH_LOG("si_addr %#llx, expected %p",
					       (unsigned long long)r[0], addr);
	EXPECT_EQ(code, (int)r[1]);
	close(fds[0]);
	close(fds[1]);
}

TEST(sigsegv_unmapped)
{
	char *p;

	if (no_dune(_metadata))
		return;
	p = mmap(NULL, 3 * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap(p + PAGE_SZ, PAGE_SZ));
	check_segv(_metadata, p + PAGE_SZ + 64, 0, SEGV_MAPERR);
}

TEST(sigsegv_write_readonly)
{
	char *p;

	if (no_dune(_metadata))
		return;
	p = mmap(NULL, PAGE_SZ, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	guest_read64((uint64_t)p);
	check_segv(_metadata, p + 8, 1, SEGV_ACCERR);
}

TEST(sigsegv_prot_none)
{
	char *p;

	if (no_dune(_metadata))
		return;
	p = mmap(NULL, PAGE_SZ, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	check_segv(_metadata, p, 0, SEGV_ACCERR);
}

static void guest_getppid(void)
{
	long r = gsys0(SYS_getppid);

	/* Denied with EPERM by the filter; getpid still allowed. */
	guest_exit(r == -EPERM && gsys0(SYS_getpid) > 0 ? 0 : 1);
}

TEST(seccomp_applies_to_vmcall)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = 4, .filter = f };
	int status;
	pid_t pid;

	if (no_dune(_metadata))
		return;
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
			_exit(80);
		/* glibc's getppid() cannot fail, so it sets no errno */
		if (syscall(SYS_getppid) != -1 || errno != EPERM)
			_exit(81);
		status = dune_run_child(guest_getppid, false);
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 82);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(exited_with(_metadata, status, 0));
}

/*
 * seccomp RET_KILL_THREAD ends a thread of a multi-threaded process inside
 * its KVM_DUNE_ENTER, in do_exit().  The VM reference that the ioctl holds
 * must still go when the process has gone: KVM's debugfs directory of the
 * VM ("<pid>-<fd>") disappears with the VM.
 */
static struct dune_vm kill_vm;
static alignas(16) uint8_t kill_stack[16384];

static void guest_killed_by_seccomp(void)
{
	gsys0(SYS_getppid);
	guest_exit(1);
}

static void *kill_thread_fn(void *p)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_THREAD),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = 4, .filter = f };
	struct kvm_dune_enter cfg;

	/* This thread's filter only (no TSYNC). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
		return (void *)1;
	dune_init_config(&kill_vm, &cfg, guest_killed_by_seccomp, kill_stack,
			 sizeof(kill_stack));
	dune_enter(&kill_vm, &cfg);
	return (void *)2;
}

static bool vm_debugfs_dir(pid_t pid)
{
	char prefix[32];
	struct dirent *d;
	bool found = false;
	DIR *dir;

	snprintf(prefix, sizeof(prefix), "%d-", pid);
	dir = opendir("/sys/kernel/debug/kvm");
	if (!dir)
		return false;
	while ((d = readdir(dir)))
		if (!strncmp(d->d_name, prefix, strlen(prefix)))
			found = true;
	closedir(dir);
	return found;
}

TEST(seccomp_kill_thread_frees_vm)
{
	int status, i;
	pid_t pid;

	if (no_dune(_metadata))
		return;
	if (access("/sys/kernel/debug/kvm", F_OK))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	if (access("/sys/kernel/debug/kvm", F_OK))
		SKIP(return, "no /sys/kernel/debug/kvm to watch the VM with");
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		pthread_t t;
		void *ret;

		if (dune_vm_create(&kill_vm) || dune_build_page_tables(&kill_vm))
			_exit(80);
		if (!vm_debugfs_dir(getpid()))
			_exit(81);
		if (pthread_create(&t, NULL, kill_thread_fn, NULL) ||
		    pthread_join(t, &ret))
			_exit(82);
		/* The thread died in Dune mode; the process goes on. */
		if (ret)
			_exit(83);
		close(kill_vm.vm_fd);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(exited_with(_metadata, status, 0));
	/* The VM is freed from a work item once the mm has gone. */
	for (i = 0; i < 100 && vm_debugfs_dir(pid); i++)
		usleep(20000);
	EXPECT_FALSE(vm_debugfs_dir(pid))
		TH_LOG("the VM of pid %d is still there 2 s after the process ended", pid);
}

/*
 * With a seccomp filter the kernel makes each VMCALL system call from task
 * work after the ENTER ioctl has returned (a filter may end the thread in
 * place).  Run all of dune_process_test (signals, restarts, EINTR, threads,
 * execve, FPU) again under a filter that allows everything.
 */
TEST(process_semantics_under_seccomp)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = 1, .filter = f };
	char self[4096], prog_path[4200], log[] = "/tmp/dune_seccomp_XXXXXX";
	int status, fd;
	ssize_t n;
	pid_t pid;

	if (no_dune(_metadata))
		return;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	ASSERT_GT(n, 0);
	self[n] = 0;
	snprintf(prog_path, sizeof(prog_path), "%.*s/dune_process_test",
		 (int)(strrchr(self, '/') - self), self);
	if (access(prog_path, X_OK))
		SKIP(return, "dune_process_test is not in this test's directory");
	fd = mkstemp(log);
	ASSERT_GE(fd, 0);
	unlink(log);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
			_exit(80);
		execl(prog_path, prog_path, (char *)NULL);
		_exit(81);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		char buf[8192], *line, *save;

		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = 0;
		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			if (strstr(line, "not ok") || strstr(line, "Expected") ||
			    strstr(line, "FAIL"))
				TH_LOG("%s", line);
	}
	close(fd);
	EXPECT_TRUE(exited_with(_metadata, status, 0))
		TH_LOG("dune_process_test under an allow-all seccomp filter");
}

/* Bad input: nothing is entered, a clear errno comes back. */
TEST(bad_config)
{
	static alignas(16) uint8_t stack[4096];
	struct kvm_dune_enter cfg, good;
	struct dune_vm vm;
	unsigned int i;

	if (no_dune(_metadata))
		return;
	ASSERT_EQ(0, dune_vm_create(&vm));
	ASSERT_EQ(0, dune_build_page_tables(&vm));
	dune_init_config(&vm, &good, guest_exit42, stack, sizeof(stack));

#define BAD(field, value) do {						\
		cfg = good;						\
		cfg.field = value;					\
		EXPECT_EQ(-EINVAL, dune_enter(&vm, &cfg)) TH_LOG(#field " = " #value); \
	} while (0)
	BAD(flags, 1);
	BAD(flags, 0x80000000);
	BAD(exit_reason, 1);
	BAD(exit_info[1], 1);
	for (i = 0; i < 8; i++)
		BAD(reserved[i], 1);
	BAD(gdt.padding[0], 1);
	BAD(idt.padding[2], 1);
	BAD(regs.rip, 0x0000800000000000ULL);
	BAD(regs.rip, 0x8000000000000000ULL);
	BAD(regs.rsp, 0x0001000000000000ULL);
	BAD(regs.rflags, 0x200);		/* bit 1 clear */
	BAD(regs.rflags, 0x20202);		/* VM */
	BAD(regs.rflags, 0x80000202ULL);	/* reserved */
	BAD(cr3, good.cr3 | 0x800);
	BAD(cr3, good.cr3 + 1);
	BAD(cr3, 1ULL << 51);
	BAD(gdt.base, 0x0000900000000000ULL);
#undef BAD
}

TEST(refused_ioctls)
{
	struct kvm_userspace_memory_region mr = {
		.slot = 20, .guest_phys_addr = 1ULL << 40, .memory_size = PAGE_SZ,
	};
	struct kvm_dune_enter cfg = {};
	struct kvm_dune_layout l;
	struct dune_vm vm;
	void *mem;
	int fd;

	if (no_dune(_metadata))
		return;
	ASSERT_EQ(0, dune_vm_create(&vm));
	mem = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	mr.userspace_addr = (uint64_t)mem;

	/* Memslots and vCPUs belong to the kernel. */
	EXPECT_EQ(-1, ioctl(vm.vm_fd, KVM_SET_USER_MEMORY_REGION, &mr));
	EXPECT_EQ(EPERM, errno);
	mr.slot = 0;
	mr.memory_size = 0;
	EXPECT_EQ(-1, ioctl(vm.vm_fd, KVM_SET_USER_MEMORY_REGION, &mr));
	EXPECT_EQ(EPERM, errno) TH_LOG("deleting a Dune memslot");
	EXPECT_EQ(-1, ioctl(vm.vm_fd, KVM_CREATE_VCPU, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, ioctl(vm.vm_fd, KVM_CREATE_IRQCHIP, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, ioctl(vm.vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000));
	EXPECT_EQ(EPERM, errno);

	/* One Dune VM per process. */
	EXPECT_EQ(-1, ioctl(vm.kvm_fd, KVM_CREATE_VM, KVM_X86_DUNE_VM));
	EXPECT_EQ(EEXIST, errno);

	/* Dune ioctls on an ordinary VM, and on /dev/kvm. */
	fd = ioctl(vm.kvm_fd, KVM_CREATE_VM, KVM_X86_DEFAULT_VM);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(-1, ioctl(fd, KVM_DUNE_ENTER, &cfg));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(fd, KVM_DUNE_GET_LAYOUT, &l));
	EXPECT_EQ(ENOTTY, errno);
	close(fd);
	/* /dev/kvm answers EINVAL to every ioctl it does not know */
	EXPECT_EQ(-1, ioctl(vm.kvm_fd, KVM_DUNE_ENTER, &cfg));
	EXPECT_EQ(EINVAL, errno);

	/* Bad pointers. */
	EXPECT_EQ(-1, ioctl(vm.vm_fd, KVM_DUNE_ENTER, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(vm.vm_fd, KVM_DUNE_GET_LAYOUT, (void *)8));
	EXPECT_EQ(EFAULT, errno);
}

TEST(other_mm_gets_eio)
{
	struct kvm_dune_enter cfg = {};
	struct kvm_dune_layout l;
	struct dune_vm vm;
	int status;
	pid_t pid;

	if (no_dune(_metadata))
		return;
	ASSERT_EQ(0, dune_vm_create(&vm));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		if (ioctl(vm.vm_fd, KVM_DUNE_GET_LAYOUT, &l) != -1 || errno != EIO)
			_exit(1);
		if (ioctl(vm.vm_fd, KVM_DUNE_ENTER, &cfg) != -1 || errno != EIO)
			_exit(2);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(exited_with(_metadata, status, 0));
}

TEST_HARNESS_MAIN
