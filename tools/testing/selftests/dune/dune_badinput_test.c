// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dune mode under bad input from the guest and from user space: every case
 * gets a clear errno, exit reason, exception or signal, and the host stays
 * healthy (the harness fails the run on any kernel splat).  The list of
 * cases, with those in dune_basic_test, is in BAD_INPUT.
 */
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "dune_test.h"

/* dune_util's child exits 93 after printing the exit reason when it leaves. */
#define LEFT_DUNE_MODE	93

static long syscall_nr, native_err;

/* The guest gets what the same call gets natively ("bad number"). */
static void guest_bad_nr(void)
{
	guest_exit(gsys0(syscall_nr) == -native_err ? 0 : 1);
}

static void check_bad_nr(struct __test_metadata *_metadata, long nr)
{
	syscall_nr = nr;
	errno = 0;
	ASSERT_EQ(-1, syscall(nr)) TH_LOG("system call number %#lx", nr);
	native_err = errno;
	EXPECT_TRUE(exited_with(_metadata, dune_run_child(guest_bad_nr, false), 0))
		TH_LOG("system call number %#lx", nr);
}

TEST(out_of_range_syscall_numbers)
{
	if (no_dune(_metadata))
		return;
	/* The first number past the table, and others no table has. */
	check_bad_nr(_metadata, __NR_mseal + 1);
	check_bad_nr(_metadata, 1000);
	check_bad_nr(_metadata, -1);
	check_bad_nr(_metadata, 0x40000000 | 39);	/* x32 getpid */
	check_bad_nr(_metadata, 0x7fffffffffffffffL);
}

static int vm_fd_for_guest;
static struct kvm_dune_enter nested_cfg;

static void guest_enter_again(void)
{
	long r = gsys3(SYS_ioctl, vm_fd_for_guest, KVM_DUNE_ENTER, (long)&nested_cfg);

	/* The thread is in Dune mode already. */
	guest_exit(r == -EBUSY ? 0 : 1);
}

static void find_vm_fd(struct dune_vm *vm)
{
	vm_fd_for_guest = vm->vm_fd;
}

TEST(enter_twice_from_the_guest)
{
	if (no_dune(_metadata))
		return;
	dune_child_hook = find_vm_fd;
	EXPECT_TRUE(exited_with(_metadata, dune_run_child(guest_enter_again, false), 0));
	dune_child_hook = NULL;
}

static void guest_triple_fault(void)
{
	/* No IDT: #UD becomes #GP, #DF, then a triple fault. */
	asm volatile("ud2");
	guest_exit(1);
}

TEST(triple_fault_leaves_dune_mode)
{
	if (no_dune(_metadata))
		return;
	EXPECT_TRUE(exited_with(_metadata, dune_run_child(guest_triple_fault, false),
				LEFT_DUNE_MODE));
}

static void guest_hlt(void)
{
	asm volatile("hlt");
	guest_exit(1);
}

TEST(hlt_leaves_dune_mode)
{
	if (no_dune(_metadata))
		return;
	EXPECT_TRUE(exited_with(_metadata, dune_run_child(guest_hlt, false), LEFT_DUNE_MODE));
}

static void guest_bad_gdt(void)
{
	uint8_t gdtr[10] = {};	/* limit 0, base 0 */

	/* An empty GDT, then a segment load: #GP with no IDT, triple fault. */
	asm volatile("lgdt %0\n"
		     "mov %1, %%ds" : : "m"(gdtr), "r"(GDT_KERNEL_DS) : "memory");
	guest_exit(1);
}

TEST(bad_gdt_leaves_dune_mode)
{
	if (no_dune(_metadata))
		return;
	EXPECT_TRUE(exited_with(_metadata, dune_run_child(guest_bad_gdt, false), LEFT_DUNE_MODE));
}

static void guest_port_io(void)
{
	asm volatile("outb %%al, $0x80" : : "a"(0));
	guest_exit(1);
}

TEST(port_io_is_gp)
{
	if (no_dune(_metadata))
		return;
	EXPECT_TRUE(exited_with(_metadata, dune_run_child(guest_port_io, true), EXC_EXIT(13)));
}

static void guest_port_in(void)
{
	uint8_t v;

	asm volatile("inb $0x71, %0" : "=a"(v));
	guest_exit(v);
}

TEST(port_in_is_gp)
{
	if (no_dune(_metadata))
		return;
	EXPECT_TRUE(exited_with(_metadata, dune_run_child(guest_port_in, true), EXC_EXIT(13)));
}

static void guest_bad_msr(void)
{
	uint32_t lo, hi;

	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xdeadbeef));
	guest_exit(1);
}

TEST(unknown_msr_is_gp)
{
	if (no_dune(_metadata))
		return;
	EXPECT_TRUE(exited_with(_metadata, dune_run_child(guest_bad_msr, true), EXC_EXIT(13)));
}

static void guest_wrong_hypercall(void)
{
	/* The other vendor's instruction is #UD, never rewritten by KVM. */
	if (dune_is_amd)
		asm volatile("vmcall" : : "a"(39L) : "memory");
	else
		asm volatile("vmmcall" : : "a"(39L) : "memory");
	guest_exit(1);
}

TEST(other_vendor_hypercall_is_ud)
{
	if (no_dune(_metadata))
		return;
	EXPECT_TRUE(exited_with(_metadata, dune_run_child(guest_wrong_hypercall, true),
				EXC_EXIT(6)));
}

static uint64_t outside_va, outside_gpa;

static void guest_touch_outside(void)
{
	guest_read64(outside_va);
	guest_exit(1);
}

/* A 2 MiB guest page whose guest-physical address is past every window. */
static void map_outside(struct dune_vm *vm)
{
	const struct kvm_dune_window *w = &vm->layout.windows[vm->layout.nr_windows - 1];

	outside_gpa = (w->gpa + w->size + SZ_1G - 1) & ~(SZ_1G - 1);
	outside_va = 0x100000000000ULL;
	if (outside_gpa >= (1ULL << vm->layout.gpa_bits) || dune_window_of(vm, outside_va) ||
	    dune_map_2m(vm, outside_va, outside_gpa))
		_exit(60);
}

TEST(access_outside_windows_is_sigsegv)
{
	int status;

	if (no_dune(_metadata))
		return;
	dune_child_hook = map_outside;
	status = dune_run_child(guest_touch_outside, false);
	dune_child_hook = NULL;
	EXPECT_TRUE(killed_by(_metadata, status, SIGSEGV));
}

TEST(null_pointer_is_sigsegv)
{
	if (no_dune(_metadata))
		return;
	outside_va = 0;	/* in the LOW window, but not mapped in the mm */
	EXPECT_TRUE(killed_by(_metadata, dune_run_child(guest_touch_outside, false), SIGSEGV));
}

static void guest_spin(void)
{
	for (;;)
		asm volatile("pause");
}

TEST(sigkill_while_running)
{
	int status;
	pid_t pid;

	if (no_dune(_metadata))
		return;
	pid = dune_start_child(guest_spin, false);
	ASSERT_LT(0, pid);
	usleep(200000);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(killed_by(_metadata, status, SIGKILL));
}

TEST(sigstop_sigcont_sigterm_while_running)
{
	int status;
	pid_t pid;

	if (no_dune(_metadata))
		return;
	pid = dune_start_child(guest_spin, false);
	ASSERT_LT(0, pid);
	usleep(100000);
	ASSERT_EQ(0, kill(pid, SIGSTOP));
	ASSERT_EQ(pid, waitpid(pid, &status, WUNTRACED));
	EXPECT_TRUE(WIFSTOPPED(status));
	ASSERT_EQ(0, kill(pid, SIGCONT));
	usleep(100000);
	ASSERT_EQ(0, kill(pid, SIGTERM));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(killed_by(_metadata, status, SIGTERM));
}

static void guest_close_vm_and_go_on(void)
{
	/* Closing the VM's fd while in Dune mode: the thread goes on. */
	long r = gsys1(SYS_close, vm_fd_for_guest);

	guest_exit(r == 0 && gsys0(SYS_getpid) > 0 ? 0 : 1);
}

TEST(vm_fd_closed_while_running)
{
	if (no_dune(_metadata))
		return;
	dune_child_hook = find_vm_fd;
	EXPECT_TRUE(exited_with(_metadata, dune_run_child(guest_close_vm_and_go_on, false), 0));
	dune_child_hook = NULL;
}

static int send_fd(int sock, int fd)
{
	char buf[CMSG_SPACE(sizeof(int))] = {};
	char data = 'f';
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = buf, .msg_controllen = sizeof(buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char buf[CMSG_SPACE(sizeof(int))] = {};
	char data;
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = buf, .msg_controllen = sizeof(buf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

TEST(vm_fd_passed_to_another_process)
{
	struct kvm_dune_enter cfg = {};
	struct kvm_dune_layout l;
	int sv[2], status;
	pid_t pid;

	if (no_dune(_metadata))
		return;
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* Another process creates a Dune VM and sends us its fd. */
		struct dune_vm vm;

		if (dune_vm_create(&vm) || send_fd(sv[1], vm.vm_fd))
			_exit(1);
		pause();
		_exit(0);
	}
	{
		int fd = recv_fd(sv[0]);

		ASSERT_LE(0, fd);
		EXPECT_EQ(-1, ioctl(fd, KVM_DUNE_GET_LAYOUT, &l));
		EXPECT_EQ(EIO, errno);
		EXPECT_EQ(-1, ioctl(fd, KVM_DUNE_ENTER, &cfg));
		EXPECT_EQ(EIO, errno);
		close(fd);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

TEST(no_access_to_dev_kvm_cannot_enter)
{
	int status;
	pid_t pid;

	if (no_dune(_metadata))
		return;
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* Without permission on /dev/kvm there is no VM to enter. */
		if (setgid(65534) || setuid(65534))
			_exit(2);
		_exit(open("/dev/kvm", O_RDWR) < 0 && errno == EACCES ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(exited_with(_metadata, status, 0));
}

TEST(many_vms_and_exits_no_leak)
{
	int i, status;

	if (no_dune(_metadata))
		return;
	/* Create, enter and exit in fresh processes, over and over. */
	for (i = 0; i < 50; i++) {
		status = dune_run_child(guest_bad_nr, false);
		ASSERT_TRUE(WIFEXITED(status)) TH_LOG("round %d: status %#x", i, status);
	}
}

TEST_HARNESS_MAIN
