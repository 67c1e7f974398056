// SPDX-License-Identifier: MIT
/*
 * The Dune VM's memory layout: a few windows of the process's address space,
 * each mapped at a guest-physical address.  guest-physical = gpa + (va - hva)
 * inside a window; nothing else is reachable.
 */
#include <errno.h>
#include <stdio.h>

#include "internal.h"

static int why_fail(char *why, size_t whylen, const char *msg, unsigned int i)
{
	if (why && whylen)
		snprintf(why, whylen, "window %u: %s", i, msg);
	return -EPROTO;
}

/*
 * Check the kernel's promises (Documentation/libdune.rst): windows 1 GiB
 * aligned in hva and gpa, sizes multiples of 1 GiB except that the topmost
 * may end at the user address limit, sorted by hva, no overlap in hva or
 * gpa, all below 1 << gpa_bits.  With 4-level paging the kernel clamps the
 * top window at 0x7ffffffff000; with 5-level paging its limit is higher and
 * a window may end at 2^47, which is as far as libdune's tables reach.
 */
int dune_layout_check(const struct kvm_dune_layout *l, char *why, size_t whylen)
{
	unsigned int i, j;

	if (why && whylen)
		why[0] = '\0';
	if (l->nr_windows == 0 || l->nr_windows > KVM_DUNE_MAX_WINDOWS) {
		if (why && whylen)
			snprintf(why, whylen, "bad window count %u", l->nr_windows);
		return -EPROTO;
	}
	if (l->gpa_bits < 32 || l->gpa_bits > 52) {
		if (why && whylen)
			snprintf(why, whylen, "bad gpa_bits %u", l->gpa_bits);
		return -EPROTO;
	}

	for (i = 0; i < l->nr_windows; i++) {
		const struct kvm_dune_window *w = &l->windows[i];
		uint64_t gpa_end;
		bool last = i == l->nr_windows - 1;

		if (w->size == 0)
			return why_fail(why, whylen, "empty", i);
		if (w->hva & (DUNE_WINDOW_ALIGN - 1))
			return why_fail(why, whylen, "hva not 1 GiB aligned", i);
		if (w->gpa & (DUNE_WINDOW_ALIGN - 1))
			return why_fail(why, whylen, "gpa not 1 GiB aligned", i);
		if (w->hva >= DUNE_VA_LIMIT || w->size > DUNE_VA_LIMIT - w->hva)
			return why_fail(why, whylen, "ends above 2^47 (4-level paging)", i);
		if (w->size & (DUNE_WINDOW_ALIGN - 1)) {
			if (!last || w->hva + w->size != DUNE_USER_ADDR_LIMIT)
				return why_fail(why, whylen,
						"size not a multiple of 1 GiB", i);
		}
		if (w->gpa >= (1ULL << l->gpa_bits))
			return why_fail(why, whylen, "gpa beyond gpa_bits", i);
		gpa_end = w->gpa + w->size;
		if (gpa_end < w->gpa || gpa_end > (1ULL << l->gpa_bits))
			return why_fail(why, whylen, "gpa range beyond gpa_bits", i);
		if (i > 0) {
			const struct kvm_dune_window *p = &l->windows[i - 1];

			if (w->hva < p->hva + p->size)
				return why_fail(why, whylen,
						"not sorted by hva or overlaps the previous", i);
		}
		for (j = 0; j < i; j++) {
			const struct kvm_dune_window *o = &l->windows[j];

			if (w->gpa < o->gpa + o->size && o->gpa < w->gpa + w->size)
				return why_fail(why, whylen, "gpa range overlaps another", i);
		}
	}
	return 0;
}

const struct kvm_dune_window *dune_layout_find_va(const struct kvm_dune_layout *l,
						  uint64_t va)
{
	unsigned int i;

	for (i = 0; i < l->nr_windows && i < KVM_DUNE_MAX_WINDOWS; i++) {
		const struct kvm_dune_window *w = &l->windows[i];

		if (va >= w->hva && va - w->hva < w->size)
			return w;
	}
	return NULL;
}

int dune_layout_va_to_pa(const struct kvm_dune_layout *l, uint64_t va, uint64_t *pa)
{
	const struct kvm_dune_window *w = dune_layout_find_va(l, va);

	if (!w)
		return -EFAULT;
	*pa = w->gpa + (va - w->hva);
	return 0;
}

int dune_layout_pa_to_va(const struct kvm_dune_layout *l, uint64_t pa, uint64_t *va)
{
	unsigned int i;

	for (i = 0; i < l->nr_windows && i < KVM_DUNE_MAX_WINDOWS; i++) {
		const struct kvm_dune_window *w = &l->windows[i];

		if (pa >= w->gpa && pa - w->gpa < w->size) {
			*va = w->hva + (pa - w->gpa);
			return 0;
		}
	}
	return -EFAULT;
}

uint64_t dune_layout_contig(const struct kvm_dune_layout *l, uint64_t va)
{
	const struct kvm_dune_window *w = dune_layout_find_va(l, va);

	return w ? w->hva + w->size - va : 0;
}
