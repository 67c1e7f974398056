// SPDX-License-Identifier: MIT
/* Layout validation and translation edge cases. */
#include <errno.h>

#include "tap.h"
#include "fake_layout.h"

static int check(const struct kvm_dune_layout *l)
{
	char why[128];

	return dune_layout_check(l, why, sizeof(why));
}

static void test_translation(void)
{
	struct kvm_dune_layout l;
	uint64_t pa, va;

	fake_layout(&l);
	is(check(&l), 0, "the 3-window layout is valid");

	/* window starts and ends */
	ok(!dune_layout_va_to_pa(&l, 0, &pa) && pa == 0, "va 0 -> pa 0");
	ok(!dune_layout_va_to_pa(&l, LOW_SIZE - 1, &pa) && pa == LOW_SIZE - 1,
	   "last byte of LOW");
	is(dune_layout_va_to_pa(&l, LOW_SIZE, &pa), -EFAULT, "first byte after LOW");
	is(dune_layout_va_to_pa(&l, MMAP_HVA - 1, &pa), -EFAULT, "byte before MMAP");
	ok(!dune_layout_va_to_pa(&l, MMAP_HVA, &pa) && pa == MMAP_GPA, "first byte of MMAP");
	ok(!dune_layout_va_to_pa(&l, MMAP_HVA + MMAP_SIZE - 1, &pa) &&
	   pa == MMAP_GPA + MMAP_SIZE - 1, "last byte of MMAP");
	is(dune_layout_va_to_pa(&l, MMAP_HVA + MMAP_SIZE, &pa), -EFAULT, "after MMAP");
	ok(!dune_layout_va_to_pa(&l, STACK_HVA, &pa) && pa == STACK_GPA, "first byte of STACK");

	/* the top window ends at the user address limit, not on 1 GiB */
	ok(!dune_layout_va_to_pa(&l, 0x7fffffffe000ULL, &pa) &&
	   pa == STACK_GPA + (0x7fffffffe000ULL - STACK_HVA), "last page below the limit");
	ok(!dune_layout_va_to_pa(&l, 0x7fffffffefffULL, &pa) &&
	   pa == STACK_GPA + STACK_SIZE - 1, "last byte below the limit");
	is(dune_layout_va_to_pa(&l, DUNE_USER_ADDR_LIMIT, &pa), -EFAULT,
	   "the user address limit itself");
	is(dune_layout_va_to_pa(&l, 0x7fffffffffffULL, &pa), -EFAULT, "top of the lower half");
	is(dune_layout_va_to_pa(&l, 0xffff800000000000ULL, &pa), -EFAULT, "kernel half");

	/* inverse */
	ok(!dune_layout_pa_to_va(&l, MMAP_GPA + 0x1234, &va) && va == MMAP_HVA + 0x1234,
	   "pa -> va in MMAP");
	ok(!dune_layout_pa_to_va(&l, STACK_GPA + STACK_SIZE - 1, &va) &&
	   va == DUNE_USER_ADDR_LIMIT - 1, "pa -> va at the top");
	is(dune_layout_pa_to_va(&l, STACK_GPA + STACK_SIZE, &va), -EFAULT,
	   "pa just above the top window");
	is(dune_layout_pa_to_va(&l, 16 * GiB, &va), -EFAULT, "pa outside every window");

	/* contiguous runs */
	is(dune_layout_contig(&l, 0), LOW_SIZE, "run from va 0");
	is(dune_layout_contig(&l, MMAP_HVA + MMAP_SIZE - 4096), 4096ULL, "run at MMAP end");
	is(dune_layout_contig(&l, 0x7fffffffe000ULL), 4096ULL, "run at the top");
	is(dune_layout_contig(&l, LOW_SIZE), 0ULL, "no run in a gap");
	ok(dune_layout_find_va(&l, STACK_HVA + 5) == &l.windows[2], "find_va: STACK");
	ok(dune_layout_find_va(&l, LOW_SIZE + 5) == NULL, "find_va: gap");
}

static void test_invalid(void)
{
	struct kvm_dune_layout l;

	fake_layout(&l);
	l.nr_windows = 0;
	is(check(&l), -EPROTO, "no windows");
	fake_layout(&l);
	l.nr_windows = KVM_DUNE_MAX_WINDOWS + 1;
	is(check(&l), -EPROTO, "too many windows");
	fake_layout(&l);
	l.gpa_bits = 60;
	is(check(&l), -EPROTO, "gpa_bits 60");
	fake_layout(&l);
	l.windows[1].hva += 2 * MiB;
	is(check(&l), -EPROTO, "hva not 1 GiB aligned");
	fake_layout(&l);
	l.windows[1].gpa += 4096;
	is(check(&l), -EPROTO, "gpa not 1 GiB aligned");
	fake_layout(&l);
	l.windows[0].size = GiB + 4096;
	is(check(&l), -EPROTO, "odd size in a window that is not the top one");
	fake_layout(&l);
	l.windows[2].size = STACK_SIZE - 4096;
	is(check(&l), -EPROTO, "odd size in the top window not ending at the limit");
	fake_layout(&l);
	l.windows[2].size = 2 * GiB;
	is(check(&l), -EPROTO, "top window past 2^47");
	fake_layout(&l);
	l.windows[2].size = GiB;
	is(check(&l), 0, "top window ending at 2^47 (host with 5-level paging)");
	fake_layout(&l);
	l.windows[0].size = 0;
	is(check(&l), -EPROTO, "empty window");
	fake_layout(&l);
	l.windows[1].hva = 2 * GiB;
	is(check(&l), -EPROTO, "overlap in hva");
	fake_layout(&l);
	{
		struct kvm_dune_window t = l.windows[0];

		l.windows[0] = l.windows[1];
		l.windows[1] = t;
	}
	is(check(&l), -EPROTO, "not sorted by hva");
	fake_layout(&l);
	l.windows[2].gpa = 4 * GiB + GiB;
	is(check(&l), -EPROTO, "overlap in gpa");
	fake_layout(&l);
	l.windows[2].gpa = (1ULL << 36) - GiB + GiB;
	is(check(&l), -EPROTO, "gpa beyond gpa_bits");
	fake_layout(&l);
	l.windows[1].gpa = (1ULL << 36) - 4 * GiB;
	is(check(&l), -EPROTO, "gpa range crosses gpa_bits");

	/* one window covering exactly up to the limit from a 1 GiB boundary */
	fake_layout(&l);
	l.nr_windows = 1;
	l.windows[0] = (struct kvm_dune_window){ 0x7fff00000000ULL, 0,
		DUNE_USER_ADDR_LIMIT - 0x7fff00000000ULL, KVM_DUNE_WINDOW_STACK, 0 };
	is(check(&l), 0, "a single top window ending at the limit");
}

int main(void)
{
	test_translation();
	test_invalid();
	return tap_done();
}
