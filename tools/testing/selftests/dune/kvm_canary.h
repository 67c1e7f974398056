/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The canary's guest code, in kvm_canary.c's top-level asm: labels, not
 * C objects.
 */
#ifndef SELFTESTS_DUNE_KVM_CANARY_H
#define SELFTESTS_DUNE_KVM_CANARY_H

extern const unsigned char canary_guest[], canary_guest_hcall[],
	canary_guest_report[], canary_guest_end[];

#endif /* SELFTESTS_DUNE_KVM_CANARY_H */
