/* SPDX-License-Identifier: MIT */
/*
 * dune-sandbox: run an untrusted x86-64 Linux program in ring 3 of a Dune
 * process whose ring 0 is this runtime.  See Documentation/apps-sandbox.rst.
 */
#ifndef SANDBOX_H
#define SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dune.h>

#define SBX_PAGE	4096UL
#define SBX_PAGE_DOWN(x)	((uint64_t)(x) & ~(SBX_PAGE - 1))
#define SBX_PAGE_UP(x)		(((uint64_t)(x) + SBX_PAGE - 1) & ~(SBX_PAGE - 1))
#define SBX_PATH_MAX	4096
#define SBX_MAX_PREFIXES 64

/* ---- policy.c ---- */

/* Syscall classes the policy speaks about besides allow/deny */
#define SBX_NR_MAX	512

struct sbx_policy {
	unsigned char allow[SBX_NR_MAX];	/* by syscall number */
	char *read_prefix[SBX_MAX_PREFIXES];	/* path: open for reading, stat, exec */
	int n_read;
	char *write_prefix[SBX_MAX_PREFIXES];	/* path-write: also create/write/remove */
	int n_write;
	bool network;
	bool log;
	uint64_t memory;			/* bytes the program may own */
};

extern const char sbx_default_policy[];

/* Parse @text (named @name in messages) into @p, on top of what it holds.
 * Returns 0, or -1 with a "name:line: what" message in @err. */
int sbx_policy_parse(struct sbx_policy *p, const char *name, const char *text,
		     char *err, size_t errlen);
void sbx_policy_init(struct sbx_policy *p);
int sbx_parse_size(const char *s, uint64_t *out);

/* Access classes for path checks */
#define SBX_ACC_READ	1
#define SBX_ACC_WRITE	2
/* Is absolute, normalised @path allowed for @acc?  (prefix at a component
 * boundary; write prefixes also allow reading) */
bool sbx_path_allowed(const struct sbx_policy *p, const char *path, int acc);
/* Lexically normalise @path (relative to absolute @base if not absolute)
 * into @out: no "." or ".." components, no double slashes.  -ENAMETOOLONG. */
int sbx_path_normalise(const char *base, const char *path, char *out, size_t outlen);

/* ---- syscall table (syscalls.c) ---- */

#define SBX_SYS_NET	0x1	/* governed by "network" */
#define SBX_SYS_NEVER	0x2	/* refused whatever the policy says */

/* Look up @name in the runtime's table: 0 and its number and flags, or -1. */
int sbx_sys_lookup(const char *name, int *nr, unsigned int *flags);
/* The @i-th entry of the table: 0, or -1 past its end. */
int sbx_sys_entry(int i, int *nr, unsigned int *flags);
const char *sbx_sys_name(long nr);

/* ---- runtime state (main.c) ---- */

struct sbx {
	struct sbx_policy pol;
	struct dune_vm *vm;
	int log_fd;			/* -1: no log */
	int runtime_fds[16];
	int n_runtime_fds;
	uint64_t owned;			/* bytes of program-owned memory */
	uint64_t brk_base, brk_cur, brk_max;	/* emulated brk region */
	uint64_t user_fs;
	const char *prog;
};

extern struct sbx sbx;

void sbx_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sbx_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sbx_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
bool sbx_is_runtime_fd(long fd);

/* ---- mem.c ---- */

/* Does the program own every page of [va, va+len) with at least @perm
 * (DUNE_PERM_R/W/X; 0: just owned)?  len 0 is true. */
bool sbx_owned(uint64_t va, uint64_t len, int perm);
/* How many bytes from @va (at most @len) the program owns with @perm. */
uint64_t sbx_owned_prefix(uint64_t va, uint64_t len, int perm);
/* Does the program own none of the pages of [va, va+len)? */
bool sbx_none_owned(uint64_t va, uint64_t len);
/* Is [va, va+len) inside one layout window? */
bool sbx_in_window(uint64_t va, uint64_t len);
/* Give the program [va, va+len) with PROT_* @prot (counts it if new). */
int sbx_grant(uint64_t va, uint64_t len, int prot, bool count);
/* Take [va, va+len) back: ring 0 only again. */
int sbx_revoke(uint64_t va, uint64_t len);
int sbx_prot_to_perm(int prot);
long sbx_mmap(long addr, long len, long prot, long flags, long fd, long off);
long sbx_munmap(long addr, long len);
long sbx_mprotect(long addr, long len, long prot);
long sbx_mremap(long old, long olen, long nlen, long flags, long naddr);
long sbx_madvise(long addr, long len, long advice);
long sbx_brk(long addr);
int sbx_brk_init(uint64_t size);
/* execve: unmap all the program's memory and its brk region, reserve a
 * fresh one.  Returns 0 or -errno. */
int sbx_release_all(void);

/* ---- loader.c ---- */

struct sbx_image {
	uint64_t entry;		/* where ring 3 starts */
	uint64_t phdr, phnum;	/* AT_PHDR, AT_PHNUM */
	uint64_t at_entry;	/* AT_ENTRY */
};

/* Load @path (and its ELF interpreter) and build the initial stack.
 * *rsp receives the ring-3 stack pointer.  Prints a message and returns -1
 * on failure. */
int sbx_load(const char *path, char *const argv[], char *const envp[],
	     struct sbx_image *img, uint64_t *rsp);

/* Would sbx_load() take @path?  0, -ENOEXEC (refused, with a message),
 * -EACCES (interpreter not allowed) or -errno from open. */
int sbx_check_exec(const char *path);

/* ---- syscalls.c ---- */

void sbx_syscall(struct dune_tf *tf);
long sbx_raw(long nr, long a1, long a2, long a3, long a4, long a5, long a6);

#endif
