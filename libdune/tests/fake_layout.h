/* SPDX-License-Identifier: MIT */
/* A 3-window layout like the kernel's, for the host tests. */
#ifndef LIBDUNE_TESTS_FAKE_LAYOUT_H
#define LIBDUNE_TESTS_FAKE_LAYOUT_H

#include <string.h>
#include "internal.h"

#define GiB (1ULL << 30)
#define MiB (1ULL << 20)

#define LOW_HVA		0x0ULL
#define LOW_GPA		0x0ULL
#define LOW_SIZE	(4 * GiB)
#define MMAP_HVA	0x7f0000000000ULL
#define MMAP_GPA	(4 * GiB)
#define MMAP_SIZE	(8 * GiB)
#define STACK_HVA	0x7fffc0000000ULL
#define STACK_GPA	(12 * GiB)
#define STACK_SIZE	(DUNE_USER_ADDR_LIMIT - STACK_HVA)	/* 1 GiB - 4 KiB */

static inline void fake_layout(struct kvm_dune_layout *l)
{
	memset(l, 0, sizeof(*l));
	l->nr_windows = 3;
	l->gpa_bits = 36;
	l->windows[0] = (struct kvm_dune_window){ LOW_HVA, LOW_GPA, LOW_SIZE,
						  KVM_DUNE_WINDOW_LOW, 0 };
	l->windows[1] = (struct kvm_dune_window){ MMAP_HVA, MMAP_GPA, MMAP_SIZE,
						  KVM_DUNE_WINDOW_MMAP, 0 };
	l->windows[2] = (struct kvm_dune_window){ STACK_HVA, STACK_GPA, STACK_SIZE,
						  KVM_DUNE_WINDOW_STACK, 0 };
}

#endif
