// SPDX-License-Identifier: MIT
/*
 * The runtime's ELF loader.  It maps only a static executable (non-PIE
 * inside a layout window, or static PIE anywhere) or, for a dynamically
 * linked program, its ELF interpreter (ld.so), which is then started as if
 * run explicitly ("ld.so --argv0 ARGV0 PROGRAM ARGS...") and loads the
 * program and its libraries itself, in ring 3, through the checked system
 * calls.  Every header field that the mapping depends on is validated; the
 * file is mapped with host mmap (file-backed, MAP_PRIVATE) and granted to
 * ring 3 with the segment's permissions.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "sandbox.h"

#define MAX_PHDRS	64
#define MAX_LOADS	16
#define MAX_SPAN	(1ULL << 32)
#define STACK_SIZE	(8UL << 20)
#define VA_LIMIT	(1ULL << 47)

struct elf {
	const char *path;
	int fd;
	uint64_t size;
	Elf64_Ehdr eh;
	Elf64_Phdr ph[MAX_PHDRS];
	char interp[SBX_PATH_MAX];
	bool has_interp;
	uint64_t lo, hi;	/* page-aligned span of the PT_LOADs */
	uint64_t bias;
};

static int bad(const struct elf *e, const char *what)
{
	sbx_msg("%s: refused: %s", e->path, what);
	return -1;
}

static bool add_ok(uint64_t a, uint64_t b, uint64_t limit)
{
	return a + b >= a && a + b <= limit;
}

/* Read and validate the headers of e->path (already open as e->fd). */
static int elf_check(struct elf *e)
{
	struct stat st;
	uint64_t prev_end = 0;
	int i, nload = 0, ninterp = 0;
	bool entry_ok = false, phdr_ok = false;
	uint64_t phdr_off, phdr_len;

	if (fstat(e->fd, &st) || !S_ISREG(st.st_mode))
		return bad(e, "not a regular file");
	e->size = (uint64_t)st.st_size;
	if (pread(e->fd, &e->eh, sizeof(e->eh), 0) != (ssize_t)sizeof(e->eh))
		return bad(e, "shorter than an ELF header");
	if (memcmp(e->eh.e_ident, ELFMAG, SELFMAG))
		return bad(e, "not an ELF file (bad magic)");
	if (e->eh.e_ident[EI_CLASS] != ELFCLASS64 || e->eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    e->eh.e_ident[EI_VERSION] != EV_CURRENT || e->eh.e_version != EV_CURRENT)
		return bad(e, "not a 64-bit little-endian ELF version 1 file");
	if (e->eh.e_ident[EI_OSABI] != ELFOSABI_SYSV && e->eh.e_ident[EI_OSABI] != ELFOSABI_GNU)
		return bad(e, "OS ABI is not System V or GNU/Linux");
	if (e->eh.e_machine != EM_X86_64)
		return bad(e, "not an x86-64 program");
	if (e->eh.e_type != ET_EXEC && e->eh.e_type != ET_DYN)
		return bad(e, "not an executable or a position-independent executable");
	if (e->eh.e_ehsize != sizeof(Elf64_Ehdr))
		return bad(e, "e_ehsize is not 64");
	if (e->eh.e_phentsize != sizeof(Elf64_Phdr))
		return bad(e, "e_phentsize is not 56");
	if (e->eh.e_phnum == 0 || e->eh.e_phnum > MAX_PHDRS)
		return bad(e, "no program headers, or more than 64");
	phdr_off = e->eh.e_phoff;
	phdr_len = (uint64_t)e->eh.e_phnum * sizeof(Elf64_Phdr);
	if (!add_ok(phdr_off, phdr_len, e->size))
		return bad(e, "program headers beyond the end of the file");
	if (pread(e->fd, e->ph, phdr_len, (off_t)phdr_off) != (ssize_t)phdr_len)
		return bad(e, "cannot read the program headers");

	for (i = 0; i < e->eh.e_phnum; i++) {
		const Elf64_Phdr *p = &e->ph[i];

		if (p->p_type == PT_INTERP) {
			if (ninterp++)
				return bad(e, "more than one PT_INTERP");
			if (p->p_filesz < 2 || p->p_filesz > SBX_PATH_MAX ||
			    !add_ok(p->p_offset, p->p_filesz, e->size))
				return bad(e, "PT_INTERP has a bad size or offset");
			if (pread(e->fd, e->interp, p->p_filesz, (off_t)p->p_offset) !=
			    (ssize_t)p->p_filesz)
				return bad(e, "cannot read PT_INTERP");
			if (e->interp[p->p_filesz - 1] != '\0' ||
			    strlen(e->interp) != p->p_filesz - 1 || e->interp[0] != '/')
				return bad(e, "PT_INTERP is not one absolute, NUL-terminated path");
			e->has_interp = true;
			continue;
		}
		if (p->p_type != PT_LOAD)
			continue;
		if (++nload > MAX_LOADS)
			return bad(e, "more than 16 PT_LOAD segments");
		if (p->p_flags & ~(uint32_t)(PF_R | PF_W | PF_X))
			return bad(e, "PT_LOAD has unknown flag bits");
		if (p->p_filesz > p->p_memsz)
			return bad(e, "PT_LOAD p_filesz is larger than p_memsz");
		if (!add_ok(p->p_offset, p->p_filesz, e->size))
			return bad(e, "PT_LOAD reaches beyond the end of the file");
		if (!add_ok(p->p_vaddr, p->p_memsz, VA_LIMIT))
			return bad(e, "PT_LOAD is not inside the user address space");
		if (p->p_align > 1 && (p->p_align & (p->p_align - 1)))
			return bad(e, "PT_LOAD p_align is not a power of two");
		if ((p->p_vaddr & (SBX_PAGE - 1)) != (p->p_offset & (SBX_PAGE - 1)))
			return bad(e, "PT_LOAD p_vaddr and p_offset differ modulo the page size");
		if (nload > 1 && p->p_vaddr < prev_end)
			return bad(e, "PT_LOAD segments overlap or are not in ascending order");
		prev_end = p->p_vaddr + p->p_memsz;
		if (nload == 1)
			e->lo = SBX_PAGE_DOWN(p->p_vaddr);
		e->hi = SBX_PAGE_UP(prev_end);
		if ((p->p_flags & PF_X) && e->eh.e_entry >= p->p_vaddr &&
		    e->eh.e_entry < p->p_vaddr + p->p_memsz)
			entry_ok = true;
		if (phdr_off >= p->p_offset && phdr_off + phdr_len <= p->p_offset + p->p_filesz)
			phdr_ok = true;
	}
	if (!nload)
		return bad(e, "no PT_LOAD segment");
	if (e->hi - e->lo > MAX_SPAN)
		return bad(e, "PT_LOAD segments span more than 4 GiB");
	if (!entry_ok)
		return bad(e, "the entry point is not inside an executable PT_LOAD segment");
	if (!phdr_ok)
		return bad(e, "the program headers are not inside a loaded segment");
	if (e->eh.e_type == ET_DYN && e->lo != 0)
		return bad(e, "a position-independent executable whose first PT_LOAD is not at 0");
	return 0;
}

static int prot_of(uint32_t f)
{
	return (f & PF_R ? PROT_READ : 0) | (f & PF_W ? PROT_WRITE : 0) | (f & PF_X ? PROT_EXEC : 0);
}

static uint64_t max_align(const struct elf *e)
{
	uint64_t a = SBX_PAGE;
	int i;

	for (i = 0; i < e->eh.e_phnum; i++)
		if (e->ph[i].p_type == PT_LOAD && e->ph[i].p_align > a)
			a = e->ph[i].p_align;
	return a > (2UL << 20) ? (2UL << 20) : a;
}

/* Map e's PT_LOAD segments; the whole span becomes the program's. */
static int elf_map(struct elf *e)
{
	uint64_t span = e->hi - e->lo, base;
	long r;
	int i;

	if (sbx.owned + span > sbx.pol.memory)
		return bad(e, "larger than the policy's memory cap");
	if (e->eh.e_type == ET_EXEC) {
		if (!sbx_in_window(e->lo, span)) {
			sbx_msg("%s: refused: a non-PIE static executable at 0x%lx-0x%lx, which is "
				"outside the Dune layout windows (see Documentation/apps-sandbox.rst)",
				e->path, (unsigned long)e->lo, (unsigned long)e->hi);
			return -1;
		}
		r = sbx_raw(SYS_mmap, (long)e->lo, (long)span, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (r == -EEXIST || (r >= 0 && (uint64_t)r != e->lo)) {
			sbx_msg("%s: refused: its fixed addresses 0x%lx-0x%lx overlap the sandbox "
				"runtime's memory", e->path, (unsigned long)e->lo, (unsigned long)e->hi);
			return -1;
		}
		if (r < 0)
			return bad(e, "cannot reserve its address range");
		e->bias = 0;
	} else {
		uint64_t align = max_align(e);

		r = sbx_raw(SYS_mmap, 0, (long)(span + align), PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (r < 0)
			return bad(e, "cannot reserve address space for it");
		base = ((uint64_t)r + align - 1) & ~(align - 1);
		if (base > (uint64_t)r)
			sbx_raw(SYS_munmap, r, (long)(base - (uint64_t)r), 0, 0, 0, 0);
		if ((uint64_t)r + span + align > base + span)
			sbx_raw(SYS_munmap, (long)(base + span),
				(long)((uint64_t)r + span + align - base - span), 0, 0, 0, 0);
		if (!sbx_in_window(base, span))
			return bad(e, "mmap put it outside the Dune layout windows");
		e->bias = base;
	}
	for (i = 0; i < e->eh.e_phnum; i++) {
		const Elf64_Phdr *p = &e->ph[i];
		uint64_t start, fend, mend, fpage_end;
		int prot;

		if (p->p_type != PT_LOAD || p->p_memsz == 0)
			continue;
		prot = prot_of(p->p_flags);
		start = SBX_PAGE_DOWN(e->bias + p->p_vaddr);
		fend = e->bias + p->p_vaddr + p->p_filesz;
		mend = SBX_PAGE_UP(e->bias + p->p_vaddr + p->p_memsz);
		fpage_end = SBX_PAGE_UP(fend);
		if (p->p_filesz) {
			r = sbx_raw(SYS_mmap, (long)start, (long)(fpage_end - start),
				    prot | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, e->fd,
				    (long)SBX_PAGE_DOWN(p->p_offset));
			if (r < 0)
				return bad(e, "cannot map a segment");
			/* the rest of the last file page is bss: zero it */
			if (p->p_memsz > p->p_filesz && fpage_end > fend)
				memset((void *)fend, 0, fpage_end - fend);
		} else {
			fpage_end = start;
		}
		if (mend > fpage_end) {
			r = sbx_raw(SYS_mmap, (long)fpage_end, (long)(mend - fpage_end),
				    prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			if (r < 0)
				return bad(e, "cannot map a segment's bss");
		}
		if (sbx_raw(SYS_mprotect, (long)start, (long)(mend - start), prot, 0, 0, 0))
			return bad(e, "cannot protect a segment");
	}
	/*
	 * Now (ring 0 wrote the bss tails through its own mapping) the whole
	 * span becomes the program's, gaps inaccessible, segments with their
	 * permissions.
	 */
	if (sbx_grant(e->lo + e->bias, span, PROT_NONE, true))
		return bad(e, "cannot map it in the guest page table");
	for (i = 0; i < e->eh.e_phnum; i++) {
		const Elf64_Phdr *p = &e->ph[i];
		uint64_t start = SBX_PAGE_DOWN(e->bias + p->p_vaddr);
		uint64_t mend = SBX_PAGE_UP(e->bias + p->p_vaddr + p->p_memsz);

		if (p->p_type != PT_LOAD || p->p_memsz == 0)
			continue;
		if (sbx_grant(start, mend - start, prot_of(p->p_flags), false))
			return bad(e, "cannot map a segment in the guest page table");
	}
	return 0;
}

/* 0, -ENOEXEC (refused, with a message) or -errno from open */
static int elf_open(struct elf *e, const char *path, bool quiet_open)
{
	int err;

	memset(e, 0, sizeof(*e));
	e->path = path;
	e->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (e->fd < 0) {
		err = errno;
		if (!quiet_open)
			sbx_msg("%s: %s", path, strerror(err));
		return -err;
	}
	if (elf_check(e)) {
		close(e->fd);
		return -ENOEXEC;
	}
	return 0;
}

static int interp_allowed(const struct elf *prog)
{
	char norm[SBX_PATH_MAX];

	if (sbx_path_normalise("/", prog->interp, norm, sizeof(norm)) ||
	    !sbx_path_allowed(&sbx.pol, norm, SBX_ACC_READ)) {
		sbx_msg("%s: refused: its ELF interpreter %s is not readable under the policy",
			prog->path, prog->interp);
		return -EACCES;
	}
	return 0;
}

static int interp_ok(const struct elf *interp)
{
	if (interp->eh.e_type != ET_DYN || interp->has_interp)
		return bad(interp, "an ELF interpreter must be a position-independent "
			   "executable without an interpreter of its own");
	return 0;
}

int sbx_check_exec(const char *path)
{
	static struct elf e, ie;
	int r = elf_open(&e, path, true);

	if (r)
		return r;
	close(e.fd);
	if (!e.has_interp)
		return 0;
	r = interp_allowed(&e);
	if (r)
		return r;
	r = elf_open(&ie, e.interp, false);
	if (r)
		return -ENOEXEC;
	close(ie.fd);
	return interp_ok(&ie) ? -ENOEXEC : 0;
}

static uint64_t phdr_addr(const struct elf *e)
{
	int i;

	for (i = 0; i < e->eh.e_phnum; i++) {
		const Elf64_Phdr *p = &e->ph[i];

		if (p->p_type == PT_LOAD && e->eh.e_phoff >= p->p_offset &&
		    e->eh.e_phoff < p->p_offset + p->p_filesz)
			return e->bias + p->p_vaddr + (e->eh.e_phoff - p->p_offset);
	}
	return 0;
}

/* ---- the initial stack ---- */

struct stk {
	uint64_t lo, sp;	/* strings grow down from the top */
};

static uint64_t push_bytes(struct stk *s, const void *p, size_t n)
{
	if (s->sp - s->lo < n + 4096)
		return 0;
	s->sp -= n;
	memcpy((void *)s->sp, p, n);
	return s->sp;
}

static uint64_t push_str(struct stk *s, const char *str)
{
	return push_bytes(s, str, strlen(str) + 1);
}

int sbx_load(const char *path, char *const argv[], char *const envp[],
	     struct sbx_image *img, uint64_t *rsp)
{
	static struct elf prog, interp;
	struct elf *run;
	const char *argv_out[4096];
	uint64_t argp[4096], envp_u[4096], auxv[64];
	int argc = 0, envc = 0, nav = 0, i, n;
	struct stk s;
	long r;
	uint64_t execfn, platform, random, *sp, words;
	unsigned char rnd[16];

	if (elf_open(&prog, path, false))
		return -1;
	run = &prog;
	if (prog.has_interp) {
		close(prog.fd);
		if (interp_allowed(&prog))
			return -1;
		if (elf_open(&interp, prog.interp, false))
			return -1;
		if (interp_ok(&interp)) {
			close(interp.fd);
			return -1;
		}
		run = &interp;
		/* ld.so loads the program: "ld.so --argv0 ARGV0 PROGRAM ARGS..." */
		argv_out[argc++] = prog.interp;
		argv_out[argc++] = "--argv0";
		argv_out[argc++] = argv[0];
		argv_out[argc++] = path;
		for (i = 1; argv[i] && argc < 4000; i++)
			argv_out[argc++] = argv[i];
	} else {
		for (i = 0; argv[i] && argc < 4000; i++)
			argv_out[argc++] = argv[i];
	}
	if (argv[i])
		return bad(&prog, "too many arguments");
	if (elf_map(run)) {
		close(run->fd);
		return -1;
	}
	close(run->fd);

	/* the stack: program memory, read-write */
	if (sbx.owned + STACK_SIZE > sbx.pol.memory)
		return bad(&prog, "the policy's memory cap leaves no room for the stack");
	r = sbx_raw(SYS_mmap, 0, STACK_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r < 0 || !sbx_in_window((uint64_t)r, STACK_SIZE) ||
	    sbx_grant((uint64_t)r, STACK_SIZE, PROT_READ | PROT_WRITE, true))
		return bad(&prog, "cannot allocate its stack");
	s.lo = (uint64_t)r;
	s.sp = (uint64_t)r + STACK_SIZE;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return bad(&prog, "getrandom failed");
	random = push_bytes(&s, rnd, sizeof(rnd));
	platform = push_str(&s, "x86_64");
	execfn = push_str(&s, path);
	for (i = 0; i < argc; i++)
		if (!(argp[i] = push_str(&s, argv_out[i])))
			return bad(&prog, "arguments too large for the stack");
	for (n = 0; envp[n] && envc < 4000; n++)
		if (!(envp_u[envc++] = push_str(&s, envp[n])))
			return bad(&prog, "environment too large for the stack");
	if (!random || !platform || !execfn)
		return bad(&prog, "arguments too large for the stack");

#define AUX(t, v) do { auxv[nav++] = (t); auxv[nav++] = (v); } while (0)
	AUX(AT_PHDR, phdr_addr(run));
	AUX(AT_PHENT, sizeof(Elf64_Phdr));
	AUX(AT_PHNUM, run->eh.e_phnum);
	AUX(AT_PAGESZ, SBX_PAGE);
	AUX(AT_BASE, 0);
	AUX(AT_FLAGS, 0);
	AUX(AT_ENTRY, run->bias + run->eh.e_entry);
	AUX(AT_UID, getuid());
	AUX(AT_EUID, geteuid());
	AUX(AT_GID, getgid());
	AUX(AT_EGID, getegid());
	AUX(AT_SECURE, 0);
	AUX(AT_CLKTCK, getauxval(AT_CLKTCK) ? getauxval(AT_CLKTCK) : 100);
	AUX(AT_HWCAP, getauxval(AT_HWCAP));
	AUX(AT_HWCAP2, getauxval(AT_HWCAP2));
	if (getauxval(AT_MINSIGSTKSZ))
		AUX(AT_MINSIGSTKSZ, getauxval(AT_MINSIGSTKSZ));
	AUX(AT_PLATFORM, platform);
	AUX(AT_RANDOM, random);
	AUX(AT_EXECFN, execfn);
	/* no AT_SYSINFO_EHDR: the vDSO is the runtime's (ring-0) memory */
	AUX(AT_NULL, 0);
#undef AUX

	words = 1 + (uint64_t)argc + 1 + (uint64_t)envc + 1 + (uint64_t)nav;
	s.sp = (s.sp - words * 8) & ~15UL;
	if (s.sp < s.lo + 4096)
		return bad(&prog, "arguments too large for the stack");
	sp = (uint64_t *)s.sp;
	*sp++ = (uint64_t)argc;
	for (i = 0; i < argc; i++)
		*sp++ = argp[i];
	*sp++ = 0;
	for (i = 0; i < envc; i++)
		*sp++ = envp_u[i];
	*sp++ = 0;
	memcpy(sp, auxv, (size_t)nav * 8);

	img->entry = run->bias + run->eh.e_entry;
	img->at_entry = img->entry;
	img->phdr = phdr_addr(run);
	img->phnum = run->eh.e_phnum;
	*rsp = s.sp;
	return 0;
}
