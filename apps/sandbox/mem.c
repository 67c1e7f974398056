// SPDX-License-Identifier: MIT
/*
 * The program's memory.  The guest page table is the ownership record: a
 * page belongs to the program iff its leaf carries DUNE_PERM_U.  Everything
 * else in the layout windows (the runtime, libdune, the vDSO, free address
 * space) is mapped ring-0 only, as dune_init() left it.  Every change the
 * program makes to its memory goes through here and keeps the host mapping
 * and the guest page table in step; the owned bytes are counted against the
 * policy's memory cap.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "sandbox.h"

#define RING0_PERM	(DUNE_PERM_R | DUNE_PERM_W | DUNE_PERM_X)

static struct dune_window windows[8];
static int nwindows = -1;

bool sbx_in_window(uint64_t va, uint64_t len)
{
	int i;

	if (nwindows < 0) {
		nwindows = dune_get_layout(windows, 8, NULL);
		if (nwindows > 8)
			nwindows = 8;
	}
	if (len == 0 || va + len < va)
		return false;
	for (i = 0; i < nwindows; i++)
		if (va >= windows[i].va && va + len <= windows[i].va + windows[i].size)
			return true;
	return false;
}

static uint64_t leaf_size(int level)
{
	return 1ULL << (12 + 9 * level);
}

/* Walk the pages of [va, va+len): @fn(perm) on every leaf; stop on false. */
static bool all_pages(uint64_t va, uint64_t len, bool (*fn)(int perm, int want), int want)
{
	uint64_t p, end;

	if (len == 0)
		return true;
	if (va + len < va || va + len > (1ULL << 47))
		return false;
	p = SBX_PAGE_DOWN(va);
	end = va + len;
	while (p < end) {
		dune_pte_t *pte;
		int level, perm;
		uint64_t step;

		if (dune_vm_lookup(sbx.vm, (void *)p, &pte, &level)) {
			if (!fn(-1, want))
				return false;
			p += SBX_PAGE;
			continue;
		}
		perm = (dune_pte_get(pte) & DUNE_PTE_MAPPED) ? 0 : -1;
		if (perm == 0 && dune_vm_translate(sbx.vm, (void *)p, NULL, &perm))
			perm = -1;
		if (!fn(perm, want))
			return false;
		step = leaf_size(level);
		p = (p & ~(step - 1)) + step;
	}
	return true;
}

static bool owned_with(int perm, int want)
{
	return perm >= 0 && (perm & DUNE_PERM_U) && (perm & want) == want;
}

static bool not_owned(int perm, int want)
{
	(void)want;
	return perm < 0 || !(perm & DUNE_PERM_U);
}

bool sbx_owned(uint64_t va, uint64_t len, int perm)
{
	return all_pages(va, len, owned_with, perm);
}

uint64_t sbx_owned_prefix(uint64_t va, uint64_t len, int perm)
{
	uint64_t n = 0, p = SBX_PAGE_DOWN(va);

	if (va + len < va)
		len = ~va;
	while (n < len) {
		uint64_t chunk = p + SBX_PAGE - (va + n);

		if (!sbx_owned(p, 1, perm))
			break;
		n += chunk;
		p += SBX_PAGE;
	}
	return n < len ? n : len;
}

bool sbx_none_owned(uint64_t va, uint64_t len)
{
	return all_pages(va, len, not_owned, 0);
}

int sbx_prot_to_perm(int prot)
{
	int perm = 0;

	if (prot & (PROT_READ | PROT_WRITE | PROT_EXEC))
		perm |= DUNE_PERM_R;
	if (prot & PROT_WRITE)
		perm |= DUNE_PERM_W;
	if (prot & PROT_EXEC)
		perm |= DUNE_PERM_X;
	return perm;
}

static int grant_perm(uint64_t va, uint64_t len, int perm, bool count)
{
	int r = dune_vm_map_pages(sbx.vm, (void *)va, len, perm | DUNE_PERM_U);

	if (r)
		return r;
	if (count)
		sbx.owned += len;
	return 0;
}

int sbx_grant(uint64_t va, uint64_t len, int prot, bool count)
{
	return grant_perm(va, len, sbx_prot_to_perm(prot), count);
}

int sbx_revoke(uint64_t va, uint64_t len)
{
	return dune_vm_map_pages(sbx.vm, (void *)va, len, RING0_PERM);
}

static bool over_cap(uint64_t more)
{
	return sbx.owned + more < sbx.owned || sbx.owned + more > sbx.pol.memory;
}

#define MAP_OK_FLAGS (MAP_SHARED | MAP_PRIVATE | MAP_SHARED_VALIDATE | MAP_FIXED | \
		      MAP_ANONYMOUS | MAP_NORESERVE | MAP_POPULATE | MAP_STACK | \
		      MAP_FIXED_NOREPLACE | MAP_DENYWRITE | MAP_EXECUTABLE)

long sbx_mmap(long addr, long len, long prot, long flags, long fd, long off)
{
	uint64_t a = (uint64_t)addr, rlen;
	long kflags = flags, r;
	bool fresh = true;

	if ((flags & ~(long)MAP_OK_FLAGS) || (prot & ~(long)(PROT_READ | PROT_WRITE | PROT_EXEC)))
		return -EINVAL;
	if (!(flags & MAP_ANONYMOUS) && sbx_is_runtime_fd(fd))
		return -EBADF;
	if (len <= 0 || (uint64_t)len > (1ULL << 46))
		return -EINVAL;
	rlen = SBX_PAGE_UP(len);
	if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
		if (a & (SBX_PAGE - 1))
			return -EINVAL;
		if (!sbx_in_window(a, rlen))
			return -ENOMEM;
		if (sbx_owned(a, rlen, 0)) {
			fresh = false;
		} else if (sbx_none_owned(a, rlen)) {
			/* never replace what is not the program's */
			kflags = (flags & ~(long)MAP_FIXED) | MAP_FIXED_NOREPLACE;
		} else {
			return -EPERM;
		}
	}
	if (fresh && over_cap(rlen))
		return -ENOMEM;
	r = sbx_raw(SYS_mmap, addr, len, prot, kflags, fd, off);
	if (r == -EEXIST && !(flags & MAP_FIXED_NOREPLACE))
		return -EPERM;		/* the runtime's memory is there */
	if (r < 0)
		return r;
	if (((flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) && (uint64_t)r != a) ||
	    !sbx_in_window((uint64_t)r, rlen)) {
		/* outside the guest's reach (or the kernel ignored NOREPLACE) */
		sbx_raw(SYS_munmap, r, len, 0, 0, 0, 0);
		return -ENOMEM;
	}
	if (grant_perm((uint64_t)r, rlen, sbx_prot_to_perm((int)prot), fresh)) {
		sbx_raw(SYS_munmap, r, len, 0, 0, 0, 0);
		sbx_revoke((uint64_t)r, rlen);
		return -ENOMEM;
	}
	return r;
}

long sbx_munmap(long addr, long len)
{
	uint64_t rlen;
	long r;

	if ((addr & (long)(SBX_PAGE - 1)) || len <= 0)
		return -EINVAL;
	rlen = SBX_PAGE_UP(len);
	if (!sbx_owned((uint64_t)addr, rlen, 0))
		return -EPERM;
	r = sbx_raw(SYS_munmap, addr, len, 0, 0, 0, 0);
	if (r == 0) {
		sbx_revoke((uint64_t)addr, rlen);
		sbx.owned -= rlen;
	}
	return r;
}

long sbx_mprotect(long addr, long len, long prot)
{
	uint64_t rlen;
	long r;

	if (prot & ~(long)(PROT_READ | PROT_WRITE | PROT_EXEC))
		return -EINVAL;
	if (addr & (long)(SBX_PAGE - 1))
		return -EINVAL;
	if (len == 0)
		return 0;
	if (len < 0)
		return -ENOMEM;
	rlen = SBX_PAGE_UP(len);
	if (!sbx_owned((uint64_t)addr, rlen, 0))
		return -EPERM;
	r = sbx_raw(SYS_mprotect, addr, len, prot, 0, 0, 0);
	if (r == 0 && sbx_grant((uint64_t)addr, rlen, (int)prot, false))
		return -ENOMEM;
	return r;
}

long sbx_mremap(long old, long olen, long nlen, long flags, long naddr)
{
	uint64_t ro, rn;
	int perm = 0;
	long r;

	(void)naddr;
	if (flags & ~(long)MREMAP_MAYMOVE)
		return -EPERM;		/* MREMAP_FIXED, MREMAP_DONTUNMAP */
	if ((old & (long)(SBX_PAGE - 1)) || olen <= 0 || nlen <= 0 ||
	    (uint64_t)nlen > (1ULL << 46))
		return -EINVAL;
	ro = SBX_PAGE_UP(olen);
	rn = SBX_PAGE_UP(nlen);
	if (!sbx_owned((uint64_t)old, ro, 0) ||
	    dune_vm_translate(sbx.vm, (void *)old, NULL, &perm))
		return -EPERM;
	perm &= DUNE_PERM_R | DUNE_PERM_W | DUNE_PERM_X;
	if (rn > ro && over_cap(rn - ro))
		return -ENOMEM;
	r = sbx_raw(SYS_mremap, old, olen, nlen, flags, 0, 0);
	if (r < 0)
		return r;
	if (r == old) {
		if (rn < ro) {
			sbx_revoke((uint64_t)old + rn, ro - rn);
			sbx.owned -= ro - rn;
		} else if (rn > ro) {
			if (!sbx_in_window((uint64_t)old, rn) ||
			    grant_perm((uint64_t)old + ro, rn - ro, perm, true)) {
				sbx_raw(SYS_mremap, old, nlen, olen, 0, 0, 0);
				return -ENOMEM;
			}
		}
		return r;
	}
	/* moved: the old range is gone */
	sbx_revoke((uint64_t)old, ro);
	sbx.owned -= ro;
	if (!sbx_in_window((uint64_t)r, rn) || grant_perm((uint64_t)r, rn, perm, true)) {
		sbx_raw(SYS_munmap, r, nlen, 0, 0, 0, 0);
		return -ENOMEM;
	}
	return r;
}

long sbx_madvise(long addr, long len, long advice)
{
	if (addr & (long)(SBX_PAGE - 1))
		return -EINVAL;
	if (len < 0)
		return -EINVAL;
	if (len && !sbx_owned((uint64_t)addr, SBX_PAGE_UP(len), 0))
		return -EPERM;
	return sbx_raw(SYS_madvise, addr, len, advice, 0, 0, 0);
}

/*
 * brk: the runtime shares the mm, so the real program break is the
 * runtime's heap.  The program gets a break of its own in a reserved,
 * inaccessible region; growing it makes pages read-write and the
 * program's, shrinking takes them back.
 */
int sbx_brk_init(uint64_t size)
{
	long r = sbx_raw(SYS_mmap, 0, (long)size, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (r < 0)
		return (int)r;
	if (!sbx_in_window((uint64_t)r, size))
		return -ENOMEM;
	sbx.brk_base = sbx.brk_cur = (uint64_t)r;
	sbx.brk_max = size;
	return 0;
}

long sbx_brk(long addr)
{
	uint64_t a = (uint64_t)addr, old_end, new_end;

	if (a < sbx.brk_base || a > sbx.brk_base + sbx.brk_max)
		return (long)sbx.brk_cur;
	old_end = SBX_PAGE_UP(sbx.brk_cur);
	new_end = SBX_PAGE_UP(a);
	if (new_end > old_end) {
		if (over_cap(new_end - old_end))
			return (long)sbx.brk_cur;
		if (sbx_raw(SYS_mprotect, (long)old_end, (long)(new_end - old_end),
			    PROT_READ | PROT_WRITE, 0, 0, 0))
			return (long)sbx.brk_cur;
		if (sbx_grant(old_end, new_end - old_end, PROT_READ | PROT_WRITE, true)) {
			sbx_raw(SYS_mprotect, (long)old_end, (long)(new_end - old_end),
				PROT_NONE, 0, 0, 0);
			return (long)sbx.brk_cur;
		}
	} else if (new_end < old_end) {
		sbx_revoke(new_end, old_end - new_end);
		sbx.owned -= old_end - new_end;
		sbx_raw(SYS_madvise, (long)new_end, (long)(old_end - new_end), MADV_DONTNEED, 0, 0, 0);
		sbx_raw(SYS_mprotect, (long)new_end, (long)(old_end - new_end), PROT_NONE, 0, 0, 0);
	}
	sbx.brk_cur = a;
	return addr;
}

/* ---- execve: the program's memory goes away ---- */

struct ranges {
	uint64_t (*r)[2];
	size_t n, cap;
	bool oom;
};

static int collect_owned(void *arg, uintptr_t va, dune_pte_t *pte, int level)
{
	struct ranges *rs = arg;
	dune_pte_t e = dune_pte_get(pte);
	uint64_t sz = leaf_size(level);

	if (!(e & DUNE_PTE_MAPPED) || !(e & DUNE_PTE_U))
		return 0;
	if (rs->n && rs->r[rs->n - 1][1] == va) {
		rs->r[rs->n - 1][1] += sz;
		return 0;
	}
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? 2 * rs->cap : 256;
		void *p = realloc(rs->r, cap * sizeof(rs->r[0]));

		if (!p) {
			rs->oom = true;
			return 1;
		}
		rs->r = p;
		rs->cap = cap;
	}
	rs->r[rs->n][0] = va;
	rs->r[rs->n][1] = va + sz;
	rs->n++;
	return 0;
}

int sbx_release_all(void)
{
	struct ranges rs = { NULL, 0, 0, false };
	size_t i;
	int w;

	sbx_in_window(0, 0);	/* loads the layout */
	for (w = 0; w < nwindows; w++)
		dune_vm_walk(sbx.vm, (void *)windows[w].va,
			     (void *)(windows[w].va + windows[w].size), collect_owned, &rs);
	if (rs.oom) {
		free(rs.r);
		return -ENOMEM;
	}
	for (i = 0; i < rs.n; i++) {
		sbx_raw(SYS_munmap, (long)rs.r[i][0], (long)(rs.r[i][1] - rs.r[i][0]), 0, 0, 0, 0);
		sbx_revoke(rs.r[i][0], rs.r[i][1] - rs.r[i][0]);
	}
	free(rs.r);
	sbx.owned = 0;
	/* a fresh brk region */
	sbx_raw(SYS_munmap, (long)sbx.brk_base, (long)sbx.brk_max, 0, 0, 0, 0);
	return sbx_brk_init(sbx.brk_max);
}
