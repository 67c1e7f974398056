// SPDX-License-Identifier: MIT
/*
 * Descriptor encoding against values computed by hand from the layouts in
 * the Intel SDM vol. 3 (figures 3-8 "Segment Descriptor", 7-4 "Format of TSS
 * and LDT Descriptors in 64-bit Mode", 6-8 "64-Bit IDT Gate Descriptors"),
 * and the IDT stubs that entry.S assembles.
 */
#include <string.h>

#include "tap.h"
#include "internal.h"

static void test_segments(void)
{
	/*
	 * Flat 64-bit ring-0 code: limit 0xfffff, base 0, access byte 0x9b
	 * (P=1 DPL=0 S=1 type=1011 execute/read accessed), flags 0xa (G=1 L=1).
	 */
	is(dune_seg_desc(0, 0xfffff, SEG_TYPE_CODE_XR_A, 0, true, false, true),
	   0x00af9b000000ffffULL, "kernel code64");
	/* Flat ring-0 data: access 0x93, flags 0xc (G=1 D/B=1). */
	is(dune_seg_desc(0, 0xfffff, SEG_TYPE_DATA_RW_A, 0, false, true, true),
	   0x00cf93000000ffffULL, "kernel data");
	/* DPL 3 sets bits 45-46: access 0xf3 and 0xfb. */
	is(dune_seg_desc(0, 0xfffff, SEG_TYPE_DATA_RW_A, 3, false, true, true),
	   0x00cff3000000ffffULL, "user data");
	is(dune_seg_desc(0, 0xfffff, SEG_TYPE_CODE_XR_A, 3, true, false, true),
	   0x00affb000000ffffULL, "user code64");
	/*
	 * base 0x12345678, limit 0xabcde, data, D/B, byte granular:
	 * limit[15:0]=bcde base[23:0]=345678 access=93 flags|limit[19:16]=4a
	 * base[31:24]=12.
	 */
	is(dune_seg_desc(0x12345678, 0xabcde, SEG_TYPE_DATA_RW_A, 0, false, true, false),
	   0x124a93345678bcdeULL, "base and limit split over the descriptor");
}

static void test_tss_desc(void)
{
	uint64_t d[2];

	/*
	 * base 0x123456789abcdef0, limit 0x67: limit[15:0]=0067,
	 * base[23:0]=bcdef0, access 0x89 (P=1 DPL=0 S=0 type=1001 available
	 * 64-bit TSS), limit[19:16]=0, base[31:24]=9a; high quadword
	 * base[63:32]=12345678.
	 */
	dune_tss_desc(d, 0x123456789abcdef0ULL, 0x67);
	is(d[0], 0x9a0089bcdef00067ULL, "TSS descriptor, low quadword");
	is(d[1], 0x0000000012345678ULL, "TSS descriptor, high quadword");
}

static void test_gate(void)
{
	struct dune_idt_gate g;
	/* handler 0x00007f1234567890, selector 8, IST 4, trap gate (0xf), DPL 0 */
	static const unsigned char want[16] = {
		0x90, 0x78,		/* offset[15:0] */
		0x08, 0x00,		/* selector */
		0x04,			/* IST */
		0x8f,			/* P=1 DPL=0 type=1111 */
		0x56, 0x34,		/* offset[31:16] */
		0x12, 0x7f, 0x00, 0x00,	/* offset[63:32] */
		0, 0, 0, 0,
	};
	static const unsigned char want3[16] = {
		0x00, 0x10, 0x08, 0x00, 0x00, 0xee, 0x00, 0x00,	/* interrupt gate, DPL 3 */
		0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,
	};

	is(sizeof(g), (size_t)16, "gate is 16 bytes");
	memset(&g, 0xaa, sizeof(g));
	dune_idt_gate_set(&g, 0x00007f1234567890ULL, 0x08, 4, GATE_TYPE_TRAP, 0);
	ok(!memcmp(&g, want, 16), "trap gate bytes");
	dune_idt_gate_set(&g, 0xffffffff00001000ULL, 0x08, 0, GATE_TYPE_INTR, 3);
	ok(!memcmp(&g, want3, 16), "interrupt gate DPL 3 bytes");
}

static void test_gdt_tss(void)
{
	static struct dune_tss tss __attribute__((aligned(64)));
	uint64_t gdt[GDT_ENTRIES], d[2], ist[7] = { 1, 2, 3, 4, 5, 6, 7 };
	const unsigned char *b = (const unsigned char *)&tss;
	uint64_t v;

	is(sizeof(struct dune_tss), (size_t)104, "TSS is 104 bytes");
	dune_tss_fill(&tss, 0x1122334455667788ULL, ist);
	memcpy(&v, b + 4, 8);
	is(v, 0x1122334455667788ULL, "RSP0 at offset 4");
	memcpy(&v, b + 0x24, 8);
	is(v, 1ULL, "IST1 at offset 0x24");
	memcpy(&v, b + 0x54, 8);
	is(v, 7ULL, "IST7 at offset 0x54");
	ok(b[102] == 104 && b[103] == 0, "I/O map base = 104 (no bitmap)");

	dune_gdt_fill(gdt, &tss);
	is(gdt[0], 0ULL, "GDT null");
	is(gdt[GDT_KERNEL_CS / 8], 0x00af9b000000ffffULL, "GDT 0x08 kernel code64");
	is(gdt[GDT_KERNEL_DS / 8], 0x00cf93000000ffffULL, "GDT 0x10 kernel data");
	is(gdt[GDT_USER32_CS / 8], 0ULL, "GDT 0x18 empty (no compatibility mode)");
	is(gdt[GDT_USER_DS / 8], 0x00cff3000000ffffULL, "GDT 0x20 user data");
	is(gdt[GDT_USER_CS / 8], 0x00affb000000ffffULL, "GDT 0x28 user code64");
	dune_tss_desc(d, (uint64_t)(uintptr_t)&tss, 103);
	ok(gdt[GDT_TSS / 8] == d[0] && gdt[GDT_TSS / 8 + 1] == d[1], "GDT 0x30 TSS");
	is((gdt[GDT_TSS / 8] >> 40) & 0xff, 0x89ULL, "TSS available, present");

	/* SYSCALL: CS = STAR[47:32] = 0x08, SS = +8; SYSRET: CS = STAR[63:48]+16. */
	is(STAR_HIGH & 0xffff, GDT_KERNEL_CS, "STAR syscall CS");
	is(((STAR_HIGH >> 16) + 16) | 3, USER_CS_SEL, "STAR sysret CS");
	is(((STAR_HIGH >> 16) + 8) | 3, USER_DS_SEL, "STAR sysret SS");
	is(USER_CS_SEL, DUNE_USER_CS, "public user CS");
	is(USER_DS_SEL, DUNE_USER_DS, "public user DS");
	ok(!(SYSCALL_MASK & RFLAGS_IF) && !(SYSCALL_MASK & RFLAGS_IOPL) &&
	   (SYSCALL_MASK & 0x100) && (SYSCALL_MASK & 0x400),
	   "SFMASK clears TF and DF but keeps IF and IOPL");
	ok(!(RFLAGS_USER_KEEP & (RFLAGS_IOPL | 0x4000 | 0x20000 | 0x10000)),
	   "ring 3 never gets IOPL, NT, VM or RF");
}

static void test_vectors_and_idt(void)
{
	static struct dune_idt_gate idt[256];
	unsigned int v, bad = 0;

	for (v = 0; v < 32; v++) {
		bool want = v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 ||
			    v == 29 || v == 30;

		if (dune_vector_has_errcode(v) != want)
			bad++;
	}
	is(bad, 0u, "vectors with an error code: 8, 10-14, 17, 21, 29, 30");
	ok(dune_vector_ist(8) == IST_DF && dune_vector_ist(2) == IST_NMI &&
	   dune_vector_ist(18) == IST_MC && dune_vector_ist(14) == IST_TRAMP &&
	   dune_vector_ist(255) == IST_TRAMP, "IST assignment");
	ok(dune_vector_dpl(3) == 3 && dune_vector_dpl(14) == 0 && dune_vector_dpl(128) == 0,
	   "only #BP is reachable with INT from ring 3");

	dune_idt_fill(idt, 0x00005555aaaa0000ULL, 16);
	bad = 0;
	for (v = 0; v < 256; v++) {
		uint64_t off = idt[v].off_lo | ((uint64_t)idt[v].off_mid << 16) |
			       ((uint64_t)idt[v].off_hi << 32);

		if (off != 0x00005555aaaa0000ULL + 16 * v || idt[v].sel != 8 ||
		    idt[v].ist != dune_vector_ist(v) ||
		    idt[v].type_attr != (0x80 | (dune_vector_dpl(v) << 5) | 0xf))
			bad++;
	}
	is(bad, 0u, "256 trap gates at stub + 16 * vector");
}

/* Decode the stubs that entry.S actually assembled. */
static void test_stubs(void)
{
	const unsigned char *s = (const unsigned char *)__dune_trap_stubs;
	uint64_t move = (uint64_t)(uintptr_t)__dune_trap_move, stay = 0;
	unsigned int v, bad_push = 0, bad_jmp = 0;

	for (v = 0; v < 256; v++) {
		const unsigned char *p = s + 16 * v;
		uint64_t target;
		int32_t rel;

		if (!dune_vector_has_errcode(v)) {
			if (p[0] != 0x6a || p[1] != 0x00)
				bad_push++;
			p += 2;
		}
		if (v < 128) {
			if (p[0] != 0x6a || p[1] != v)
				bad_push++;
			p += 2;
		} else {
			uint32_t imm;

			memcpy(&imm, p + 1, 4);
			if (p[0] != 0x68 || imm != v)
				bad_push++;
			p += 5;
		}
		if (p[0] == 0xe9) {
			memcpy(&rel, p + 1, 4);
			target = (uint64_t)(uintptr_t)(p + 5) + (int64_t)rel;
		} else if (p[0] == 0xeb) {
			target = (uint64_t)(uintptr_t)(p + 2) + (int8_t)p[1];
		} else {
			bad_jmp++;
			continue;
		}
		if (v == 2 || v == 8 || v == 18) {
			if (!stay)
				stay = target;
			if (target != stay || target == move)
				bad_jmp++;
		} else if (target != move) {
			bad_jmp++;
		}
	}
	is(bad_push, 0u, "every stub pushes (a zero error code and) its vector");
	is(bad_jmp, 0u, "stubs jump to the move path, #DF/NMI/#MC to the stay path");
	ok((uintptr_t)__dune_trap_move_end > (uintptr_t)__dune_trap_move, "move region marked");
}

int main(void)
{
	test_segments();
	test_tss_desc();
	test_gate();
	test_gdt_tss();
	test_vectors_and_idt();
	test_stubs();
	return tap_done();
}
