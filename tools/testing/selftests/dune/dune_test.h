/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the raw Dune kselftests share on top of dune_util.h: the harness and
 * a few checks.  Include it from the test's only .c file.
 */
#ifndef SELFTESTS_DUNE_TEST_H
#define SELFTESTS_DUNE_TEST_H

#include "dune_util.h"
#include "kselftest_harness.h"

/*
 * The harness gives a TEST() 30 s.  Under emulation, a debug kernel (KASAN,
 * lockdep) in Bochs runs some tests ten times slower than that budget was
 * made for; the harness's own per-program timeout still bounds a hang.
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 120

/*
 * Defined by dune_fuzz_test.c's top-level asm: the addresses of its exception
 * stubs (32 that exit with VMCALL, then 32 with VMMCALL); the jumps to the
 * random code with the registers in fuzz_regs[] (ring 0, ring 3); one VMCALL
 * or VMMCALL with every GPR but RSP from f[0..14], all of them stored to
 * f[15..29] afterwards.
 */
extern const uint64_t fuzz_exc_tables[64];
void fuzz_ring0_go(void);
void fuzz_ring3_go(void);
void fuzz_vmcall_frame_i(uint64_t *f);
void fuzz_vmcall_frame_a(uint64_t *f);

/* True (and the test skipped or failed) when Dune mode is not there. */
static inline bool no_dune(struct __test_metadata *_metadata)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	long abi;

	if (fd < 0 && errno == ENOENT)
		SKIP(return true, "no /dev/kvm");
	EXPECT_LE(0, fd) TH_LOG("opening /dev/kvm: %s", strerror(errno));
	if (fd < 0)
		return true;
	abi = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_DUNE);
	close(fd);
	EXPECT_EQ(KVM_DUNE_ABI_VERSION, abi) TH_LOG("KVM_CAP_X86_DUNE missing");
	return abi != KVM_DUNE_ABI_VERSION;
}

/* Did the child exit with @code?  Says what happened if not. */
static inline bool exited_with(struct __test_metadata *_metadata, int status, int code)
{
	EXPECT_TRUE(WIFEXITED(status))
		TH_LOG("expected exit %d, got status %#x (signal %d)",
		       code, status, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	if (!WIFEXITED(status))
		return false;
	EXPECT_EQ(code, WEXITSTATUS(status));
	return WEXITSTATUS(status) == code;
}

/* Was the child killed by @sig? */
static inline bool killed_by(struct __test_metadata *_metadata, int status, int sig)
{
	EXPECT_TRUE(WIFSIGNALED(status))
		TH_LOG("expected signal %d, got status %#x", sig, status);
	if (!WIFSIGNALED(status))
		return false;
	EXPECT_EQ(sig, WTERMSIG(status));
	return WTERMSIG(status) == sig;
}

#endif
