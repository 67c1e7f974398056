// SPDX-License-Identifier: MIT
/*
 * Descriptor encoding: GDT code/data segments, the 64-bit TSS descriptor and
 * IDT gates, following the layouts in the Intel SDM, vol. 3, ch. 3 and 6
 * (AMD APM vol. 2 ch. 4 and 8 agree).  Pure functions, unit-tested on the host.
 */
#include <string.h>

#include "internal.h"

/*
 * A code or data segment descriptor (S = 1):
 *   0..15 limit[15:0]    16..39 base[23:0]   40..43 type   44 S
 *   45..46 DPL  47 P     48..51 limit[19:16] 52 AVL  53 L  54 D/B  55 G
 *   56..63 base[31:24]
 */
uint64_t dune_seg_desc(uint32_t base, uint32_t limit, unsigned int type,
		       unsigned int dpl, bool code64, bool db, bool gran)
{
	uint64_t d = 0;

	d |= (uint64_t)(limit & 0xffff);
	d |= (uint64_t)(base & 0xffffff) << 16;
	d |= (uint64_t)(type & 0xf) << 40;
	d |= 1ULL << 44;			/* S: code or data */
	d |= (uint64_t)(dpl & 3) << 45;
	d |= 1ULL << 47;			/* P */
	d |= (uint64_t)((limit >> 16) & 0xf) << 48;
	if (code64)
		d |= 1ULL << 53;
	if (db)
		d |= 1ULL << 54;
	if (gran)
		d |= 1ULL << 55;
	d |= (uint64_t)((base >> 24) & 0xff) << 56;
	return d;
}

/*
 * The 16-byte system descriptor of an available 64-bit TSS (type 9, S = 0,
 * DPL 0): the low quadword as above, the high one holds base[63:32].
 */
void dune_tss_desc(uint64_t out[2], uint64_t base, uint32_t limit)
{
	uint64_t d = 0;

	d |= (uint64_t)(limit & 0xffff);
	d |= (base & 0xffffff) << 16;
	d |= (uint64_t)SEG_TYPE_TSS_AVAIL << 40;
	d |= 1ULL << 47;			/* P */
	d |= (uint64_t)((limit >> 16) & 0xf) << 48;
	d |= ((base >> 24) & 0xff) << 56;
	out[0] = d;
	out[1] = base >> 32;
}

/*
 * A 64-bit IDT gate: offset[15:0], selector, IST (bits 0..2 of byte 4), type
 * (4 bits), DPL, P, offset[31:16], offset[63:32], 4 reserved bytes.
 */
void dune_idt_gate_set(struct dune_idt_gate *g, uint64_t handler, uint16_t sel,
		       unsigned int ist, unsigned int type, unsigned int dpl)
{
	g->off_lo = handler & 0xffff;
	g->sel = sel;
	g->ist = ist & 7;
	g->type_attr = (type & 0xf) | ((dpl & 3) << 5) | 0x80;
	g->off_mid = (handler >> 16) & 0xffff;
	g->off_hi = handler >> 32;
	g->reserved = 0;
}

/*
 * libdune's GDT:
 *   0x00 null, 0x08 kernel code64, 0x10 kernel data, 0x18 empty (there is no
 *   32-bit user code: ring 3 cannot enter compatibility mode), 0x20 user
 *   data, 0x28 user code64, 0x30 TSS (two slots).
 * STAR[63:48] = 0x1b makes SYSRET use 0x2b/0x23, and STAR[47:32] = 0x08
 * makes SYSCALL use 0x08/0x10.  Descriptors are created accessed so that
 * the CPU never writes to the GDT when it loads them.
 */
void dune_gdt_fill(uint64_t gdt[GDT_ENTRIES], const struct dune_tss *tss)
{
	memset(gdt, 0, GDT_ENTRIES * sizeof(gdt[0]));
	gdt[GDT_KERNEL_CS / 8] = dune_seg_desc(0, 0xfffff, SEG_TYPE_CODE_XR_A, 0,
					       true, false, true);
	gdt[GDT_KERNEL_DS / 8] = dune_seg_desc(0, 0xfffff, SEG_TYPE_DATA_RW_A, 0,
					       false, true, true);
	gdt[GDT_USER_DS / 8] = dune_seg_desc(0, 0xfffff, SEG_TYPE_DATA_RW_A, 3,
					     false, true, true);
	gdt[GDT_USER_CS / 8] = dune_seg_desc(0, 0xfffff, SEG_TYPE_CODE_XR_A, 3,
					     true, false, true);
	dune_tss_desc(&gdt[GDT_TSS / 8], (uint64_t)(uintptr_t)tss,
		      sizeof(struct dune_tss) - 1);
}

/* A TSS without I/O bitmap (iomap_base beyond the limit: no ports at CPL 3). */
void dune_tss_fill(struct dune_tss *tss, uint64_t rsp0, const uint64_t ist_tops[7])
{
	int i;

	memset(tss, 0, sizeof(*tss));
	tss->rsp[0] = rsp0;
	for (i = 0; i < 7; i++)
		tss->ist[i] = ist_tops[i];
	tss->iomap_base = sizeof(struct dune_tss);
}

bool dune_vector_has_errcode(unsigned int vector)
{
	switch (vector) {
	case 8: case 10: case 11: case 12: case 13: case 14:
	case 17: case 21: case 29: case 30:
		return true;
	default:
		return false;
	}
}

/*
 * #DF, NMI and #MC get stacks of their own.  Every other vector arrives on a
 * small trampoline stack and is moved at once to the interrupted stack (below
 * its red zone) or, from ring 3, to the ring-0 stack: see entry.S.
 */
unsigned int dune_vector_ist(unsigned int vector)
{
	switch (vector) {
	case 8:
		return IST_DF;
	case 2:
		return IST_NMI;
	case 18:
		return IST_MC;
	default:
		return IST_TRAMP;
	}
}

/* INT3 may be used from ring 3; any other INT n from ring 3 raises #GP. */
unsigned int dune_vector_dpl(unsigned int vector)
{
	return vector == 3 ? 3 : 0;
}

/*
 * Trap gates keep RFLAGS.IF as it was (1): Dune guests get no external
 * interrupts, and an emulator bug stalls the host while a guest runs with
 * IF = 0.
 */
void dune_idt_fill(struct dune_idt_gate idt[256], uint64_t stubs, unsigned int stride)
{
	unsigned int v;

	for (v = 0; v < 256; v++)
		dune_idt_gate_set(&idt[v], stubs + (uint64_t)v * stride, GDT_KERNEL_CS,
				  dune_vector_ist(v), GATE_TYPE_TRAP, dune_vector_dpl(v));
}
