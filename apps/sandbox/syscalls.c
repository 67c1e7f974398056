// SPDX-License-Identifier: MIT
/*
 * Ring-3 system calls.  The runtime knows a fixed table of system calls:
 * for each, which arguments are file descriptors, buffers (and where their
 * lengths are), iovecs, fixed-size structures, paths.  A call that is not in
 * the table is refused with ENOSYS; one the policy denies, or that the
 * sandbox can never contain (fork, execve, ptrace, ...), with EPERM.  An
 * allowed call has every pointer checked against the program's memory
 * (owned, and writable for output) and every descriptor against the
 * runtime's own (EBADF), and is then forwarded to the kernel, or emulated
 * (memory, brk, arch_prctl, signals, set_tid_address, ...).  Paths are
 * copied into runtime memory, made absolute and lexically normalised,
 * checked against the policy, and the copy is what the kernel sees.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/futex.h>
#include <linux/openat2.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "sandbox.h"

long sbx_raw(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	return dune_syscall(nr, a1, a2, a3, a4, a5, a6);
}

/* ---- argument kinds ---- */

enum {
	A_ANY,
	A_FD,		/* a descriptor: not one of the runtime's */
	A_DFD,		/* a directory descriptor or AT_FDCWD */
	A_IN,		/* buffer read by the kernel, length in arg[ref] */
	A_OUT,		/* buffer written by the kernel, length in arg[ref] */
	A_PIN,		/* structure of @size bytes read by the kernel */
	A_POUT,		/* ... written */
	A_PINOUT,	/* ... both */
	A_IOV_IN,	/* iovec array, count in arg[ref], buffers read */
	A_IOV_OUT,	/* ... buffers written */
	A_AIN,		/* array of arg[ref] elements of @size bytes, read */
	A_AINOUT,	/* ... read and written */
	A_FDSET,	/* fd_set for select (nfds in arg 0), read and written */
	A_SOCKOUT,	/* buffer written, its length in the socklen_t at arg[ref] */
};
#define A_NULL	0x80	/* may be NULL */

struct aspec {
	unsigned char kind, ref;
	unsigned short size;
};

struct call {
	struct dune_tf *tf;
	const struct sysent *e;
	long a[6];
	char path[SBX_PATH_MAX];	/* the (first) path, as checked */
	const char *note;		/* what was done, for the log */
};

typedef long (*sys_fn)(struct call *c);

struct sysent {
	const char *name;
	int nr;
	unsigned int flags;
	sys_fn fn;		/* NULL: check the arguments and forward */
	struct aspec arg[6];
	const char *why;	/* for SBX_SYS_NEVER */
};

/* ---- checks ---- */

static bool is_runtime_fd(long fd)
{
	return sbx_is_runtime_fd(fd);
}

static long check_args(struct call *c)
{
	int i;

	for (i = 0; i < 6; i++) {
		const struct aspec *s = &c->e->arg[i];
		uint64_t p = (uint64_t)c->a[i], len = 0, n;
		int kind = s->kind & ~A_NULL;
		int perm = DUNE_PERM_R;

		if (kind == A_ANY)
			continue;
		if (kind == A_FD) {
			if (is_runtime_fd(c->a[i]))
				return -EBADF;
			continue;
		}
		if (kind == A_DFD) {
			if ((int)c->a[i] != AT_FDCWD && is_runtime_fd(c->a[i]))
				return -EBADF;
			continue;
		}
		if (p == 0 && (s->kind & A_NULL))
			continue;
		switch (kind) {
		case A_OUT:
			perm |= DUNE_PERM_W;
			/* fall through */
		case A_IN:
			/*
			 * A byte buffer is clamped to the part the program
			 * owns (a short read or write, as a native one may
			 * be when the data ends first); none of it: EFAULT.
			 */
			len = (uint64_t)c->a[s->ref];
			if (len == 0)
				continue;
			n = sbx_owned_prefix(p, len, perm);
			if (n == 0)
				return -EFAULT;
			c->a[s->ref] = (long)n;
			continue;
		case A_POUT:
		case A_PINOUT:
			perm |= DUNE_PERM_W;
			/* fall through */
		case A_PIN:
			len = s->size;
			break;
		case A_AINOUT:
			perm |= DUNE_PERM_W;
			/* fall through */
		case A_AIN:
			n = (uint64_t)c->a[s->ref];
			if (n > (1 << 20))
				return -EINVAL;
			len = n * s->size;
			if (len == 0)
				continue;
			break;
		case A_FDSET:
			n = (uint64_t)c->a[0];
			if (n > 1024)
				return -EINVAL;
			len = (n + 63) / 64 * 8;
			perm |= DUNE_PERM_W;
			if (len == 0)
				continue;
			break;
		case A_SOCKOUT: {
			uint64_t lp = (uint64_t)c->a[s->ref];

			if (!sbx_owned(lp, 4, DUNE_PERM_R | DUNE_PERM_W))
				return -EFAULT;
			len = *(uint32_t *)lp;
			perm |= DUNE_PERM_W;
			if (len == 0)
				continue;
			break;
		}
		case A_IOV_IN:
		case A_IOV_OUT: {
			const struct iovec *iov = (const struct iovec *)p;
			uint64_t cnt = (uint64_t)c->a[s->ref], k;
			int bperm = DUNE_PERM_R | (kind == A_IOV_OUT ? DUNE_PERM_W : 0);

			if (cnt > 1024)
				return -EINVAL;
			if (!sbx_owned(p, cnt * sizeof(*iov), DUNE_PERM_R))
				return -EFAULT;
			for (k = 0; k < cnt; k++)
				if (iov[k].iov_len &&
				    !sbx_owned((uint64_t)iov[k].iov_base, iov[k].iov_len, bperm))
					return -EFAULT;
			continue;
		}
		default:
			return -EINVAL;
		}
		if (!sbx_owned(p, len, perm))
			return -EFAULT;
	}
	return 0;
}

static long fwd(struct call *c)
{
	return sbx_raw(c->e->nr, c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], c->a[5]);
}

/* Copy the program's NUL-terminated string at @u into @buf. */
static long copy_str(uint64_t u, char *buf, size_t len)
{
	size_t n = 0;

	while (n < len) {
		uint64_t page_end = SBX_PAGE_DOWN(u + n) + SBX_PAGE;

		if (!sbx_owned(u + n, 1, DUNE_PERM_R))
			return -EFAULT;
		while (u + n < page_end && n < len) {
			buf[n] = *(const char *)(u + n);
			if (!buf[n])
				return 0;
			n++;
		}
	}
	return -ENAMETOOLONG;
}

/* The absolute path of a descriptor (or the cwd), as the kernel sees it. */
static long fd_path(long fd, char *out, size_t len)
{
	char link[64];
	long r;

	if (fd == AT_FDCWD) {
		r = sbx_raw(SYS_getcwd, (long)out, (long)len, 0, 0, 0, 0);
		return r < 0 ? r : 0;
	}
	if (is_runtime_fd(fd) || fd < 0)
		return -EBADF;
	snprintf(link, sizeof(link), "/proc/self/fd/%ld", fd);
	r = sbx_raw(SYS_readlink, (long)link, (long)out, (long)len - 1, 0, 0, 0);
	if (r < 0)
		return -EBADF;
	out[r] = '\0';
	return 0;
}

/*
 * Files the sandbox refuses whatever the policy says: another process's or
 * its own memory through /proc, and KVM.
 */
static bool forbidden_path(const char *p)
{
	const char *s;

	if (!strcmp(p, "/dev/kvm"))
		return true;
	if (strncmp(p, "/proc/", 6))
		return false;
	/* /proc/PID/mem, /proc/PID/task/TID/mem, map_files */
	s = strrchr(p, '/');
	return !strcmp(s, "/mem") || strstr(p, "/map_files") != NULL;
}

/* The program's path argument @u (relative to @dirfd) -> c->path, checked. */
static long get_path(struct call *c, long dirfd, uint64_t u, int acc, char *out)
{
	char raw[SBX_PATH_MAX], base[SBX_PATH_MAX];
	long r;

	r = copy_str(u, raw, sizeof(raw));
	if (r)
		return r;
	if (!raw[0])
		return -ENOENT;
	if (raw[0] != '/') {
		r = fd_path(dirfd, base, sizeof(base));
		if (r)
			return r;
		if (base[0] != '/')
			return -EPERM;
	}
	if (sbx_path_normalise(raw[0] == '/' ? NULL : base, raw, out, SBX_PATH_MAX))
		return -ENAMETOOLONG;
	if (forbidden_path(out) || !sbx_path_allowed(&sbx.pol, out, acc)) {
		c->note = "refused: path not allowed by the policy";
		return -EPERM;
	}
	return 0;
}

/* After opening @fd for @acc: is what it names really allowed? */
static bool fd_allowed(long fd, int acc)
{
	char real[SBX_PATH_MAX];

	if (fd_path(fd, real, sizeof(real)))
		return false;
	return !forbidden_path(real) && sbx_path_allowed(&sbx.pol, real, acc);
}

/* The longest write prefix that @path is under. */
static const char *write_root(const char *path)
{
	const char *best = NULL;
	size_t bl = 0;
	int i;

	for (i = 0; i < sbx.pol.n_write; i++) {
		const char *w = sbx.pol.write_prefix[i];
		size_t n = strlen(w);

		if ((n == 1 || (!strncmp(w, path, n) && (path[n] == '/' || !path[n]))) && n >= bl) {
			best = w;
			bl = n;
		}
	}
	return best;
}

/*
 * Open @path (absolute, normalised, allowed for writing) with openat2
 * RESOLVE_BENEATH from the write prefix it is under (or from the prefix's
 * parent when it is the prefix itself), so that no symlink or ".." can
 * leave the prefix.  @how: flags and mode.
 */
static long open_beneath(const char *path, uint64_t flags, uint64_t mode)
{
	const char *root = write_root(path);
	char dir[SBX_PATH_MAX];
	const char *rel;
	struct open_how how;
	long dfd, r;
	size_t n;

	if (!root)
		return -EPERM;
	n = strlen(root);
	if (n == 1) {
		snprintf(dir, sizeof(dir), "/");
		rel = path + 1;
	} else if (path[n] == '/') {
		snprintf(dir, sizeof(dir), "%s", root);
		rel = path + n + 1;
	} else {
		const char *slash = strrchr(root, '/');

		snprintf(dir, sizeof(dir), "%.*s", (int)(slash == root ? 1 : slash - root), root);
		rel = slash + 1;
	}
	if (!rel[0])
		rel = ".";
	dfd = sbx_raw(SYS_openat, AT_FDCWD, (long)dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0, 0);
	if (dfd < 0)
		return dfd;
	memset(&how, 0, sizeof(how));
	how.flags = flags;
	how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	r = sbx_raw(SYS_openat2, dfd, (long)rel, (long)&how, sizeof(how), 0, 0);
	sbx_raw(SYS_close, dfd, 0, 0, 0, 0, 0);
	if (r == -EXDEV)
		return -EPERM;	/* a symlink or ".." leaves the prefix */
	return r;
}

/*
 * For calls on a name in a directory (mkdir, unlink, rename, ...): open the
 * parent directory beneath its write prefix and return it, *base the last
 * component.
 */
static long open_parent(char *path, const char **base)
{
	char *slash = strrchr(path, '/');
	long r;

	if (!slash[1])
		return -EPERM;	/* "/" itself */
	*base = slash + 1;
	if (slash == path) {
		if (!sbx_path_allowed(&sbx.pol, "/", SBX_ACC_WRITE))
			return -EPERM;
		return sbx_raw(SYS_openat, AT_FDCWD, (long)"/", O_PATH | O_DIRECTORY | O_CLOEXEC,
			       0, 0, 0);
	}
	*slash = '\0';
	if (!sbx_path_allowed(&sbx.pol, path, SBX_ACC_WRITE)) {
		*slash = '/';
		return -EPERM;
	}
	r = open_beneath(path, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	*slash = '/';
	return r;
}

/* ---- emulated and special calls ---- */

static long do_open_common(struct call *c, long dirfd, uint64_t upath, long flags, long mode)
{
	int acc = SBX_ACC_READ;
	long r;

	if ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC)) ||
	    (flags & O_TMPFILE) == O_TMPFILE)
		acc = SBX_ACC_WRITE;
	r = get_path(c, dirfd, upath, acc, c->path);
	if (r)
		return r;
	if (acc == SBX_ACC_WRITE)
		return open_beneath(c->path, (uint64_t)flags, (uint64_t)mode);
	r = sbx_raw(SYS_openat, AT_FDCWD, (long)c->path, flags, mode, 0, 0);
	if (r >= 0 && !fd_allowed(r, acc)) {
		sbx_raw(SYS_close, r, 0, 0, 0, 0, 0);
		c->note = "refused: the opened file is outside the allowed paths";
		return -EPERM;
	}
	return r;
}

static long sys_open(struct call *c)
{
	return do_open_common(c, AT_FDCWD, (uint64_t)c->a[0], c->a[1], c->a[2]);
}

static long sys_creat(struct call *c)
{
	return do_open_common(c, AT_FDCWD, (uint64_t)c->a[0], O_CREAT | O_WRONLY | O_TRUNC, c->a[1]);
}

static long sys_openat(struct call *c)
{
	if ((int)c->a[0] != AT_FDCWD && is_runtime_fd(c->a[0]))
		return -EBADF;
	return do_open_common(c, c->a[0], (uint64_t)c->a[1], c->a[2], c->a[3]);
}

/* stat-like calls: (dirfd, path, ...) with an AT_EMPTY_PATH fd form */
static long path_read_call(struct call *c, int dfd_arg, int path_arg, long flags)
{
	long r;

	if (dfd_arg >= 0 && (int)c->a[dfd_arg] != AT_FDCWD && is_runtime_fd(c->a[dfd_arg]))
		return -EBADF;
	if ((flags & AT_EMPTY_PATH) && dfd_arg >= 0) {
		char first = 0;

		r = copy_str((uint64_t)c->a[path_arg], &first, 1);
		if (r == 0 && first == '\0')
			return fwd(c);	/* the descriptor itself */
	}
	r = get_path(c, dfd_arg >= 0 ? c->a[dfd_arg] : AT_FDCWD, (uint64_t)c->a[path_arg],
		     SBX_ACC_READ, c->path);
	if (r)
		return r;
	{
		long a[6];

		memcpy(a, c->a, sizeof(a));
		a[path_arg] = (long)c->path;
		if (dfd_arg >= 0)
			a[dfd_arg] = AT_FDCWD;
		return sbx_raw(c->e->nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	}
}

static long sys_stat(struct call *c)		/* stat, lstat, statfs, access, readlink */
{
	long r = check_args(c);

	return r ? r : path_read_call(c, -1, 0, 0);
}

static long sys_fstatat(struct call *c)		/* newfstatat, statx, faccessat2 */
{
	long r = check_args(c);
	long flags = c->e->nr == SYS_newfstatat ? c->a[3] :
		     c->e->nr == SYS_statx ? c->a[2] :
		     c->e->nr == SYS_faccessat2 ? c->a[3] : 0;

	return r ? r : path_read_call(c, 0, 1, flags);
}

static long sys_chdir(struct call *c)
{
	long r = get_path(c, AT_FDCWD, (uint64_t)c->a[0], SBX_ACC_READ, c->path);

	return r ? r : sbx_raw(SYS_chdir, (long)c->path, 0, 0, 0, 0, 0);
}

/* mkdir, unlink, rmdir and their *at forms: on (parent, name) */
static long sys_dirop(struct call *c)
{
	bool at = c->e->nr == SYS_mkdirat || c->e->nr == SYS_unlinkat;
	const char *base;
	long dirfd = at ? c->a[0] : AT_FDCWD, pfd, r;

	if (at && (int)dirfd != AT_FDCWD && is_runtime_fd(dirfd))
		return -EBADF;
	r = get_path(c, dirfd, (uint64_t)c->a[at ? 1 : 0], SBX_ACC_WRITE, c->path);
	if (r)
		return r;
	pfd = open_parent(c->path, &base);
	if (pfd < 0)
		return pfd;
	switch (c->e->nr) {
	case SYS_mkdir:
		r = sbx_raw(SYS_mkdirat, pfd, (long)base, c->a[1], 0, 0, 0);
		break;
	case SYS_mkdirat:
		r = sbx_raw(SYS_mkdirat, pfd, (long)base, c->a[2], 0, 0, 0);
		break;
	case SYS_unlink:
		r = sbx_raw(SYS_unlinkat, pfd, (long)base, 0, 0, 0, 0);
		break;
	case SYS_rmdir:
		r = sbx_raw(SYS_unlinkat, pfd, (long)base, AT_REMOVEDIR, 0, 0, 0);
		break;
	default: /* unlinkat */
		r = sbx_raw(SYS_unlinkat, pfd, (long)base, c->a[2] & AT_REMOVEDIR, 0, 0, 0);
		break;
	}
	sbx_raw(SYS_close, pfd, 0, 0, 0, 0, 0);
	return r;
}

static long sys_rename(struct call *c)
{
	char to[SBX_PATH_MAX];
	const char *b1, *b2;
	long f1 = AT_FDCWD, f2 = AT_FDCWD, flags = 0, p1, p2, r;
	uint64_t u1 = (uint64_t)c->a[0], u2 = (uint64_t)c->a[1];

	if (c->e->nr != SYS_rename) {
		f1 = c->a[0];
		u1 = (uint64_t)c->a[1];
		f2 = c->a[2];
		u2 = (uint64_t)c->a[3];
		flags = c->e->nr == SYS_renameat2 ? c->a[4] : 0;
		if (((int)f1 != AT_FDCWD && is_runtime_fd(f1)) ||
		    ((int)f2 != AT_FDCWD && is_runtime_fd(f2)))
			return -EBADF;
	}
	r = get_path(c, f1, u1, SBX_ACC_WRITE, c->path);
	if (!r)
		r = get_path(c, f2, u2, SBX_ACC_WRITE, to);
	if (r)
		return r;
	p1 = open_parent(c->path, &b1);
	if (p1 < 0)
		return p1;
	p2 = open_parent(to, &b2);
	if (p2 < 0) {
		sbx_raw(SYS_close, p1, 0, 0, 0, 0, 0);
		return p2;
	}
	r = sbx_raw(SYS_renameat2, p1, (long)b1, p2, (long)b2, flags, 0);
	sbx_raw(SYS_close, p1, 0, 0, 0, 0, 0);
	sbx_raw(SYS_close, p2, 0, 0, 0, 0, 0);
	return r;
}

static long sys_symlink(struct call *c)
{
	char target[SBX_PATH_MAX];
	bool at = c->e->nr == SYS_symlinkat;
	long dirfd = at ? c->a[1] : AT_FDCWD, pfd, r;
	const char *base;

	if (at && (int)dirfd != AT_FDCWD && is_runtime_fd(dirfd))
		return -EBADF;
	r = copy_str((uint64_t)c->a[0], target, sizeof(target));
	if (!r)
		r = get_path(c, dirfd, (uint64_t)c->a[at ? 2 : 1], SBX_ACC_WRITE, c->path);
	if (r)
		return r;
	pfd = open_parent(c->path, &base);
	if (pfd < 0)
		return pfd;
	r = sbx_raw(SYS_symlinkat, (long)target, pfd, (long)base, 0, 0, 0);
	sbx_raw(SYS_close, pfd, 0, 0, 0, 0, 0);
	return r;
}

static long sys_utimensat(struct call *c)
{
	const char *base;
	long r = check_args(c), pfd;

	if (r)
		return r;
	if (c->a[1] == 0)
		return fwd(c);		/* futimens(fd) */
	r = get_path(c, c->a[0], (uint64_t)c->a[1], SBX_ACC_WRITE, c->path);
	if (r)
		return r;
	pfd = open_parent(c->path, &base);
	if (pfd < 0)
		return pfd;
	r = sbx_raw(SYS_utimensat, pfd, (long)base, c->a[2], c->a[3] | AT_SYMLINK_NOFOLLOW, 0, 0);
	sbx_raw(SYS_close, pfd, 0, 0, 0, 0, 0);
	return r;
}

static long sys_fchmod(struct call *c)
{
	long fl;

	if (is_runtime_fd(c->a[0]))
		return -EBADF;
	fl = sbx_raw(SYS_fcntl, c->a[0], F_GETFL, 0, 0, 0, 0);
	if (fl < 0)
		return fl;
	if ((fl & O_ACCMODE) == O_RDONLY || (fl & O_PATH)) {
		c->note = "refused: the file was not opened for writing";
		return -EPERM;
	}
	return fwd(c);
}

static long sys_mmap(struct call *c)
{
	return sbx_mmap(c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], c->a[5]);
}

static long sys_munmap(struct call *c)
{
	return sbx_munmap(c->a[0], c->a[1]);
}

static long sys_mprotect(struct call *c)
{
	return sbx_mprotect(c->a[0], c->a[1], c->a[2]);
}

static long sys_mremap(struct call *c)
{
	return sbx_mremap(c->a[0], c->a[1], c->a[2], c->a[3], c->a[4]);
}

static long sys_madvise(struct call *c)
{
	return sbx_madvise(c->a[0], c->a[1], c->a[2]);
}

static long sys_brk(struct call *c)
{
	c->note = "emulated";
	return sbx_brk(c->a[0]);
}

static long sys_owned_range(struct call *c)	/* msync, mincore */
{
	if (c->a[0] & (long)(SBX_PAGE - 1))
		return -EINVAL;
	if (c->a[1] && !sbx_owned((uint64_t)c->a[0], SBX_PAGE_UP(c->a[1]), 0))
		return -ENOMEM;
	if (c->e->nr == SYS_mincore &&
	    !sbx_owned((uint64_t)c->a[2], SBX_PAGE_UP(c->a[1]) / SBX_PAGE,
		       DUNE_PERM_R | DUNE_PERM_W))
		return -EFAULT;
	return fwd(c);
}

static long sys_arch_prctl(struct call *c)
{
	uint64_t v;

	c->note = "emulated";
	switch (c->a[0]) {
	case 0x1002:	/* ARCH_SET_FS */
		if ((uint64_t)c->a[1] >= (1ULL << 47))
			return -EPERM;
		sbx.user_fs = (uint64_t)c->a[1];
		return dune_set_user_fs(sbx.user_fs);
	case 0x1003:	/* ARCH_GET_FS */
		if (!sbx_owned((uint64_t)c->a[1], 8, DUNE_PERM_R | DUNE_PERM_W))
			return -EFAULT;
		if (dune_get_user_fs(&v))
			v = 0;
		*(uint64_t *)c->a[1] = v;
		return 0;
	case 0x1001:	/* ARCH_SET_GS */
	case 0x1004:	/* ARCH_GET_GS */
		c->note = "refused";
		return -EPERM;
	default:
		return -EINVAL;
	}
}

static long sys_set_tid_address(struct call *c)
{
	c->note = "emulated";
	return sbx_raw(SYS_gettid, 0, 0, 0, 0, 0, 0);
}

static long sys_set_robust_list(struct call *c)
{
	c->note = "emulated";
	return c->a[1] == 24 ? 0 : -EINVAL;
}

static long sys_enosys(struct call *c)
{
	c->note = "refused: not supported in the sandbox";
	return -ENOSYS;
}

struct ksigaction {
	uint64_t handler, flags, restorer, mask;
};
static struct ksigaction recorded[65];
static bool has_recorded[65];
static uint64_t altstack[3] = { 0, 2 /* SS_DISABLE */, 0 };

static long sys_rt_sigaction(struct call *c)
{
	long sig = c->a[0];
	struct ksigaction act, old;
	long r = check_args(c);

	if (r)
		return r;
	if (c->a[3] != 8)
		return -EINVAL;
	if (sig < 1 || sig > 64)
		return -EINVAL;
	r = sbx_raw(SYS_rt_sigaction, sig, 0, (long)&old, 8, 0, 0);
	if (r)
		return r;
	if (has_recorded[sig])
		old = recorded[sig];
	if (c->a[1]) {
		memcpy(&act, (void *)c->a[1], sizeof(act));
		if (act.handler == (uint64_t)SIG_DFL || act.handler == (uint64_t)SIG_IGN) {
			/* no code runs: safe to install */
			struct ksigaction k = { act.handler, act.flags & SA_RESTART, 0, act.mask };

			r = sbx_raw(SYS_rt_sigaction, sig, (long)&k, 0, 8, 0, 0);
			if (r)
				return r;
			has_recorded[sig] = false;
		} else {
			if (sig == SIGKILL || sig == SIGSTOP)
				return -EINVAL;
			recorded[sig] = act;
			has_recorded[sig] = true;
			c->note = "emulated: handler recorded, never called";
		}
	}
	if (c->a[2])
		memcpy((void *)c->a[2], &old, sizeof(old));
	return 0;
}

static long sys_sigaltstack(struct call *c)
{
	long r = check_args(c);

	if (r)
		return r;
	c->note = "emulated";
	if (c->a[1])
		memcpy((void *)c->a[1], altstack, sizeof(altstack));
	if (c->a[0])
		memcpy(altstack, (void *)c->a[0], sizeof(altstack));
	return 0;
}

static long sys_kill(struct call *c)
{
	long pid = sbx_raw(SYS_getpid, 0, 0, 0, 0, 0, 0);
	long tid = sbx_raw(SYS_gettid, 0, 0, 0, 0, 0, 0);
	bool ok;

	switch (c->e->nr) {
	case SYS_kill:
		ok = c->a[0] == pid;
		break;
	case SYS_tkill:
		ok = c->a[0] == tid;
		break;
	default:
		ok = c->a[0] == pid && c->a[1] == tid;
	}
	if (!ok) {
		c->note = "refused: signals only to itself";
		return -EPERM;
	}
	return fwd(c);
}

static long sys_prlimit(struct call *c)
{
	long r = check_args(c);

	if (r)
		return r;
	if ((c->a[0] && c->a[0] != sbx_raw(SYS_getpid, 0, 0, 0, 0, 0, 0)) || c->a[2]) {
		c->note = "refused: only its own limits, read-only";
		return -EPERM;
	}
	return fwd(c);
}

static long sys_fcntl(struct call *c)
{
	if (is_runtime_fd(c->a[0]))
		return -EBADF;
	switch (c->a[1]) {
	case F_DUPFD: case F_DUPFD_CLOEXEC: case F_GETFD: case F_SETFD:
	case F_GETFL: case F_SETFL: case F_GETOWN:
	case F_GETPIPE_SZ: case F_SETPIPE_SZ: case F_ADD_SEALS: case F_GET_SEALS:
		return fwd(c);
	case F_GETLK: case F_SETLK: case F_SETLKW:
	case F_OFD_GETLK: case F_OFD_SETLK: case F_OFD_SETLKW:
		if (!sbx_owned((uint64_t)c->a[2], sizeof(struct flock), DUNE_PERM_R | DUNE_PERM_W))
			return -EFAULT;
		return fwd(c);
	default:
		c->note = "refused: fcntl command not supported";
		return -EINVAL;
	}
}

static long sys_ioctl(struct call *c)
{
	uint64_t size = 0;
	int perm = DUNE_PERM_R | DUNE_PERM_W;

	if (is_runtime_fd(c->a[0]))
		return -EBADF;
	switch ((unsigned long)c->a[1]) {
	case TCGETS:
		size = 36;	/* the kernel's struct termios */
		break;
	case TCSETS: case TCSETSW: case TCSETSF:
		size = 36;
		perm = DUNE_PERM_R;
		break;
	case TIOCGWINSZ:
		size = 8;
		break;
	case FIONREAD: case TIOCGPGRP:
		size = 4;
		break;
	case FIONBIO:
		size = 4;
		perm = DUNE_PERM_R;
		break;
	case FIOCLEX: case FIONCLEX:
		break;
	default:
		c->note = "refused: ioctl request not supported";
		return -EPERM;
	}
	if (size && !sbx_owned((uint64_t)c->a[2], size, perm))
		return -EFAULT;
	return fwd(c);
}

static long sys_close_range(struct call *c)
{
	uint64_t lo = (uint64_t)(unsigned int)c->a[0], hi = (uint64_t)(unsigned int)c->a[1];
	int i, j;
	long r = 0;
	int sorted[16], n = sbx.n_runtime_fds;

	if (lo > hi)
		return -EINVAL;
	memcpy(sorted, sbx.runtime_fds, sizeof(int) * (size_t)n);
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
			int t = sorted[j];

			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	/* close the pieces between the runtime's descriptors */
	for (i = 0; i <= n && lo <= hi; i++) {
		uint64_t stop = i < n ? (uint64_t)sorted[i] : hi + 1;

		if (stop < lo)
			continue;
		if (stop > lo)
			r = sbx_raw(SYS_close_range, (long)lo, (long)(stop - 1 < hi ? stop - 1 : hi),
				    c->a[2], 0, 0, 0);
		if (r)
			return r;
		lo = stop + 1;
	}
	return 0;
}

static long sys_futex(struct call *c)
{
	int cmd = (int)c->a[1] & FUTEX_CMD_MASK;

	if (!sbx_owned((uint64_t)c->a[0], 4, DUNE_PERM_R | DUNE_PERM_W))
		return -EFAULT;
	switch (cmd) {
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET:
		if (c->a[3] && !sbx_owned((uint64_t)c->a[3], 16, DUNE_PERM_R))
			return -EFAULT;
		break;
	case FUTEX_WAKE:
	case FUTEX_WAKE_BITSET:
		break;
	case FUTEX_REQUEUE:
	case FUTEX_CMP_REQUEUE:
	case FUTEX_WAKE_OP:
		if (!sbx_owned((uint64_t)c->a[4], 4, DUNE_PERM_R | DUNE_PERM_W))
			return -EFAULT;
		break;
	default:
		return -ENOSYS;
	}
	return fwd(c);
}

static long sys_socket(struct call *c)
{
	long dom = c->a[0];

	if (dom != AF_INET && dom != AF_INET6 &&
	    !(c->e->nr == SYS_socketpair && dom == AF_UNIX)) {
		c->note = "refused: only AF_INET and AF_INET6 sockets";
		return -EPERM;
	}
	if (c->e->nr == SYS_socketpair && !sbx_owned((uint64_t)c->a[3], 8,
						     DUNE_PERM_R | DUNE_PERM_W))
		return -EFAULT;
	return fwd(c);
}

static long sys_pselect6(struct call *c)
{
	long r = check_args(c);
	const uint64_t *ss;

	if (r)
		return r;
	if (c->a[5]) {
		if (!sbx_owned((uint64_t)c->a[5], 16, DUNE_PERM_R))
			return -EFAULT;
		ss = (const uint64_t *)c->a[5];
		if (ss[0] && (ss[1] != 8 || !sbx_owned(ss[0], 8, DUNE_PERM_R)))
			return -EFAULT;
	}
	return fwd(c);
}

/*
 * execve: the new image is loaded inside the sandbox, like the first one.
 * Until the old image is gone every error is returned; after that (a
 * failure to map the new one, which was checked just before) the program
 * is killed, as the kernel does past its point of no return.
 */
#define EXEC_MAX_ARGS	4000
#define EXEC_MAX_BYTES	(1 << 20)

static long copy_strv(uint64_t u, char **out, char **pool, size_t *used)
{
	size_t i;
	long r;

	for (i = 0; u; i++) {
		uint64_t p;

		if (i >= EXEC_MAX_ARGS)
			return -E2BIG;
		if (!sbx_owned(u + i * 8, 8, DUNE_PERM_R))
			return -EFAULT;
		p = *(const uint64_t *)(u + i * 8);
		if (!p)
			break;
		if (*used >= EXEC_MAX_BYTES)
			return -E2BIG;
		r = copy_str(p, *pool + *used, EXEC_MAX_BYTES - *used);
		if (r)
			return r == -ENAMETOOLONG ? -E2BIG : r;
		out[i] = *pool + *used;
		*used += strlen(out[i]) + 1;
	}
	out[i] = NULL;
	return 0;
}

static long sys_execve(struct call *c)
{
	static char *argv[EXEC_MAX_ARGS + 1], *envp[EXEC_MAX_ARGS + 1];
	static char prog[SBX_PATH_MAX];
	static char *pool;
	struct sbx_image img;
	size_t used = 0;
	uint64_t rsp;
	long r, fd;
	int i;

	r = get_path(c, AT_FDCWD, (uint64_t)c->a[0], SBX_ACC_READ, c->path);
	if (r)
		return r;
	/* the file it names must be allowed too (no symlink out) */
	fd = sbx_raw(SYS_openat, AT_FDCWD, (long)c->path, O_PATH | O_CLOEXEC, 0, 0, 0);
	if (fd < 0)
		return fd;
	i = fd_allowed(fd, SBX_ACC_READ);
	sbx_raw(SYS_close, fd, 0, 0, 0, 0, 0);
	if (!i) {
		c->note = "refused: the file is outside the allowed paths";
		return -EPERM;
	}
	if (sbx_raw(SYS_access, (long)c->path, X_OK, 0, 0, 0, 0))
		return -EACCES;
	if (!pool && !(pool = malloc(EXEC_MAX_BYTES)))
		return -ENOMEM;
	r = copy_strv((uint64_t)c->a[1], argv, &pool, &used);
	if (!r)
		r = copy_strv((uint64_t)c->a[2], envp, &pool, &used);
	if (r)
		return r;
	if (!argv[0]) {
		static char empty[] = "";

		argv[0] = empty;	/* as Linux does for an empty argv */
		argv[1] = NULL;
	}
	r = sbx_check_exec(c->path);
	if (r) {
		c->note = "refused: not an ELF program the sandbox can load";
		return r;
	}

	/* the point of no return */
	snprintf(prog, sizeof(prog), "%s", c->path);
	if (sbx_release_all())
		sbx_die("execve %s: cannot release the old image", prog);
	for (i = 0; i < 1024; i++) {
		long fl;

		if (sbx_is_runtime_fd(i))
			continue;
		fl = sbx_raw(SYS_fcntl, i, F_GETFD, 0, 0, 0, 0);
		if (fl >= 0 && (fl & FD_CLOEXEC))
			sbx_raw(SYS_close, i, 0, 0, 0, 0, 0);
	}
	memset(has_recorded, 0, sizeof(has_recorded));
	altstack[0] = 0;
	altstack[1] = 2;	/* SS_DISABLE */
	altstack[2] = 0;
	sbx.user_fs = 0;
	dune_set_user_fs(0);
	sbx.prog = prog;
	if (sbx_load(prog, argv, envp, &img, &rsp))
		sbx_die("execve %s: cannot load the new image", prog);
	dune_init_user_tf(c->tf, img.entry, rsp);
	c->note = "emulated: new image loaded in the sandbox";
	return 0;
}

static long sys_exit(struct call *c)
{
	/* single-threaded: exit is the end of the process */
	sbx_raw(SYS_exit_group, c->a[0], 0, 0, 0, 0, 0);
	return -ENOSYS;
}

static long sys_sigreturn(struct call *c)
{
	(void)c;
	sbx_die("rt_sigreturn without a signal frame (the sandbox never delivers "
		"signals to the program's handlers)");
}

/* ---- the table ---- */

#define S(name, flags, fn, ...) { #name, SYS_##name, flags, fn, { __VA_ARGS__ }, NULL }
#define NEVER(name, why) { #name, SYS_##name, SBX_SYS_NEVER, NULL, { { 0, 0, 0 } }, why }
#define ANY	{ A_ANY, 0, 0 }
#define FD	{ A_FD, 0, 0 }
#define DFD	{ A_DFD, 0, 0 }
#define IN(r)	{ A_IN, r, 0 }
#define OUT(r)	{ A_OUT, r, 0 }
#define INN(r)	{ A_IN | A_NULL, r, 0 }
#define OUTN(r)	{ A_OUT | A_NULL, r, 0 }
#define PIN(s)	{ A_PIN, 0, s }
#define POUT(s)	{ A_POUT, 0, s }
#define PINN(s)	{ A_PIN | A_NULL, 0, s }
#define POUTN(s) { A_POUT | A_NULL, 0, s }
#define PIONN(s) { A_PINOUT | A_NULL, 0, s }
#define IOVI(r)	{ A_IOV_IN, r, 0 }
#define IOVO(r)	{ A_IOV_OUT, r, 0 }
#define AIO(r, s) { A_AINOUT, r, s }
#define AO(r, s) { A_AINOUT, r, s }
#define FDSET	{ A_FDSET | A_NULL, 0, 0 }
#define SOCKN(r) { A_SOCKOUT | A_NULL, r, 0 }
#define NET	SBX_SYS_NET

static const char no_threads[] = "refused, never allowed: its child would run natively, outside the sandbox";
static const char no_exec[] = "refused, never allowed: the sandbox emulates execve, not execveat";
static const char no_host[] = "refused, never allowed: it changes the host process that is also the runtime";
static const char no_link[] = "refused, never allowed: it follows symlinks or makes hard links out of the allowed paths";

static const struct sysent systab[] = {
	S(read, 0, NULL, FD, OUT(2)),
	S(write, 0, NULL, FD, IN(2)),
	S(open, 0, sys_open),
	S(close, 0, NULL, FD),
	S(stat, 0, sys_stat, ANY, POUT(144)),
	S(fstat, 0, NULL, FD, POUT(144)),
	S(lstat, 0, sys_stat, ANY, POUT(144)),
	S(poll, 0, NULL, AIO(1, 8)),
	S(lseek, 0, NULL, FD),
	S(mmap, 0, sys_mmap),
	S(mprotect, 0, sys_mprotect),
	S(munmap, 0, sys_munmap),
	S(brk, 0, sys_brk),
	S(rt_sigaction, 0, sys_rt_sigaction, ANY, PINN(32), POUTN(32)),
	S(rt_sigprocmask, 0, NULL, ANY, INN(3), OUTN(3)),
	S(rt_sigreturn, 0, sys_sigreturn),
	S(ioctl, 0, sys_ioctl),
	S(pread64, 0, NULL, FD, OUT(2)),
	S(pwrite64, 0, NULL, FD, IN(2)),
	S(readv, 0, NULL, FD, IOVO(2)),
	S(writev, 0, NULL, FD, IOVI(2)),
	S(access, 0, sys_stat),
	S(pipe, 0, NULL, POUT(8)),
	S(select, 0, NULL, ANY, FDSET, FDSET, FDSET, PIONN(16)),
	S(sched_yield, 0, NULL),
	S(mremap, 0, sys_mremap),
	S(msync, 0, sys_owned_range),
	S(mincore, 0, sys_owned_range),
	S(madvise, 0, sys_madvise),
	S(dup, 0, NULL, FD),
	S(dup2, 0, NULL, FD, FD),
	S(pause, 0, NULL),
	S(nanosleep, 0, NULL, PIN(16), POUTN(16)),
	S(getitimer, 0, NULL, ANY, POUT(32)),
	S(alarm, 0, NULL),
	S(setitimer, 0, NULL, ANY, PINN(32), POUTN(32)),
	S(getpid, 0, NULL),
	S(sendfile, 0, NULL, FD, FD, PIONN(8)),
	S(socket, NET, sys_socket),
	S(connect, NET, NULL, FD, IN(2)),
	S(accept, NET, NULL, FD, SOCKN(2), PIONN(4)),
	S(sendto, NET, NULL, FD, IN(2), ANY, ANY, INN(5)),
	S(recvfrom, NET, NULL, FD, OUT(2), ANY, ANY, SOCKN(5), PIONN(4)),
	S(shutdown, NET, NULL, FD),
	S(bind, NET, NULL, FD, IN(2)),
	S(listen, NET, NULL, FD),
	S(getsockname, NET, NULL, FD, SOCKN(2), PIONN(4)),
	S(getpeername, NET, NULL, FD, SOCKN(2), PIONN(4)),
	S(socketpair, NET, sys_socket),
	S(setsockopt, NET, NULL, FD, ANY, ANY, IN(4)),
	S(getsockopt, NET, NULL, FD, ANY, ANY, SOCKN(4), PIONN(4)),
	NEVER(clone, no_threads),
	NEVER(fork, no_threads),
	NEVER(vfork, no_threads),
	S(execve, 0, sys_execve),
	S(exit, 0, sys_exit),
	S(wait4, 0, NULL, ANY, POUTN(4), ANY, POUTN(144)),
	S(kill, 0, sys_kill),
	S(uname, 0, NULL, POUT(390)),
	S(fcntl, 0, sys_fcntl),
	S(flock, 0, NULL, FD),
	S(fsync, 0, NULL, FD),
	S(fdatasync, 0, NULL, FD),
	NEVER(truncate, no_link),
	S(ftruncate, 0, NULL, FD),
	S(getdents, 0, NULL, FD, OUT(2)),
	S(getcwd, 0, NULL, OUT(1)),
	S(chdir, 0, sys_chdir),
	S(fchdir, 0, NULL, FD),
	S(rename, 0, sys_rename),
	S(mkdir, 0, sys_dirop),
	S(rmdir, 0, sys_dirop),
	S(creat, 0, sys_creat),
	NEVER(link, no_link),
	S(unlink, 0, sys_dirop),
	S(symlink, 0, sys_symlink),
	S(readlink, 0, sys_stat, ANY, OUT(2)),
	NEVER(chmod, no_link),
	S(fchmod, 0, sys_fchmod),
	NEVER(chown, no_link),
	NEVER(fchown, no_link),
	NEVER(lchown, no_link),
	S(umask, 0, NULL),
	S(gettimeofday, 0, NULL, POUTN(16), POUTN(8)),
	S(getrlimit, 0, NULL, ANY, POUT(16)),
	S(getrusage, 0, NULL, ANY, POUT(144)),
	S(sysinfo, 0, NULL, POUT(112)),
	S(times, 0, NULL, POUTN(32)),
	NEVER(ptrace, no_host),
	S(getuid, 0, NULL),
	S(getgid, 0, NULL),
	S(geteuid, 0, NULL),
	S(getegid, 0, NULL),
	S(getppid, 0, NULL),
	S(getpgrp, 0, NULL),
	S(getgroups, 0, NULL, ANY, AO(0, 4)),
	S(getresuid, 0, NULL, POUT(4), POUT(4), POUT(4)),
	S(getresgid, 0, NULL, POUT(4), POUT(4), POUT(4)),
	S(getpgid, 0, NULL),
	S(getsid, 0, NULL),
	S(rt_sigpending, 0, NULL, OUT(1)),
	S(rt_sigsuspend, 0, NULL, IN(1)),
	S(sigaltstack, 0, sys_sigaltstack, PINN(24), POUTN(24)),
	NEVER(mknod, no_link),
	NEVER(personality, no_host),
	S(statfs, 0, sys_stat, ANY, POUT(120)),
	S(fstatfs, 0, NULL, FD, POUT(120)),
	S(getpriority, 0, NULL),
	NEVER(prctl, no_host),
	S(arch_prctl, 0, sys_arch_prctl),
	NEVER(setrlimit, no_host),
	NEVER(chroot, no_host),
	NEVER(mount, no_host),
	NEVER(umount2, no_host),
	NEVER(iopl, no_host),
	NEVER(ioperm, no_host),
	NEVER(modify_ldt, no_host),
	S(gettid, 0, NULL),
	S(tkill, 0, sys_kill),
	S(time, 0, NULL, POUTN(8)),
	S(futex, 0, sys_futex),
	S(sched_getaffinity, 0, NULL, ANY, ANY, OUT(1)),
	S(getdents64, 0, NULL, FD, OUT(2)),
	S(set_tid_address, 0, sys_set_tid_address),
	S(fadvise64, 0, NULL, FD),
	S(clock_gettime, 0, NULL, ANY, POUT(16)),
	S(clock_getres, 0, NULL, ANY, POUTN(16)),
	S(clock_nanosleep, 0, NULL, ANY, ANY, PIN(16), POUTN(16)),
	S(exit_group, 0, sys_exit),
	S(tgkill, 0, sys_kill),
	S(utimes, 0, sys_enosys),
	S(openat, 0, sys_openat),
	S(mkdirat, 0, sys_dirop),
	NEVER(mknodat, no_link),
	NEVER(fchownat, no_link),
	S(newfstatat, 0, sys_fstatat, DFD, ANY, POUT(144)),
	S(unlinkat, 0, sys_dirop),
	S(renameat, 0, sys_rename),
	NEVER(linkat, no_link),
	S(symlinkat, 0, sys_symlink),
	S(readlinkat, 0, sys_fstatat, DFD, ANY, OUT(3)),
	NEVER(fchmodat, no_link),
	S(faccessat, 0, sys_fstatat, DFD),
	S(pselect6, 0, sys_pselect6, ANY, FDSET, FDSET, FDSET, PIONN(16)),
	S(ppoll, 0, NULL, AIO(1, 8), ANY, PIONN(16), INN(4)),
	NEVER(unshare, no_host),
	S(set_robust_list, 0, sys_set_robust_list),
	S(utimensat, 0, sys_utimensat, DFD, ANY, PINN(32)),
	S(accept4, NET, NULL, FD, SOCKN(2), PIONN(4)),
	S(dup3, 0, NULL, FD, FD),
	S(pipe2, 0, NULL, POUT(8)),
	S(preadv, 0, NULL, FD, IOVO(2)),
	S(pwritev, 0, NULL, FD, IOVI(2)),
	S(prlimit64, 0, sys_prlimit, ANY, ANY, ANY, POUTN(16)),
	NEVER(setns, no_host),
	S(getcpu, 0, NULL, POUTN(4), POUTN(4)),
	NEVER(process_vm_readv, no_host),
	NEVER(process_vm_writev, no_host),
	NEVER(seccomp, no_host),
	S(getrandom, 0, NULL, OUT(1)),
	S(renameat2, 0, sys_rename),
	NEVER(execveat, no_exec),
	S(statx, 0, sys_fstatat, DFD, ANY, ANY, ANY, POUT(256)),
	S(rseq, 0, sys_enosys),
	NEVER(clone3, no_threads),
	S(close_range, 0, sys_close_range),
	S(faccessat2, 0, sys_fstatat, DFD),
	NEVER(pidfd_getfd, no_host),
	NEVER(bpf, no_host),
	NEVER(perf_event_open, no_host),
	NEVER(userfaultfd, no_host),
	NEVER(io_uring_setup, no_host),
	NEVER(kexec_load, no_host),
	NEVER(init_module, no_host),
	NEVER(finit_module, no_host),
	NEVER(pivot_root, no_host),
	NEVER(memfd_secret, no_host),
	NEVER(process_madvise, no_host),
};

#define NSYS ((int)(sizeof(systab) / sizeof(systab[0])))


int sbx_sys_lookup(const char *name, int *nr, unsigned int *flags)
{
	int i;

	for (i = 0; i < NSYS; i++)
		if (!strcmp(systab[i].name, name)) {
			*nr = systab[i].nr;
			*flags = systab[i].flags;
			return 0;
		}
	return -1;
}

int sbx_sys_entry(int i, int *nr, unsigned int *flags)
{
	if (i < 0 || i >= NSYS)
		return -1;
	*nr = systab[i].nr;
	*flags = systab[i].flags;
	return 0;
}

static const struct sysent *by_nr[SBX_NR_MAX];
static bool by_nr_ready;

static const struct sysent *find(long nr)
{
	int i;

	if (!by_nr_ready) {
		for (i = 0; i < NSYS; i++)
			if (systab[i].nr >= 0 && systab[i].nr < SBX_NR_MAX)
				by_nr[systab[i].nr] = &systab[i];
		by_nr_ready = true;
	}
	return nr >= 0 && nr < SBX_NR_MAX ? by_nr[nr] : NULL;
}

const char *sbx_sys_name(long nr)
{
	const struct sysent *e = find(nr);

	return e ? e->name : "?";
}

/* ---- the handler ---- */

static void log_call(const struct call *c, long nr, long ret, const char *decision)
{
	char path[SBX_PATH_MAX + 8] = "";
	char res[64];

	if (c->path[0]) {
		size_t i, n = 0;

		/* the path is the program's: no control characters in the log */
		path[n++] = ' ';
		path[n++] = '"';
		for (i = 0; c->path[i] && n < sizeof(path) - 6; i++) {
			unsigned char ch = (unsigned char)c->path[i];

			if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\')
				n += (size_t)snprintf(path + n, sizeof(path) - n, "\\x%02x", ch);
			else
				path[n++] = (char)ch;
		}
		path[n++] = '"';
		path[n] = '\0';
	}
	if (ret < 0 && ret > -4096 && strerrorname_np((int)-ret))
		snprintf(res, sizeof(res), "-%s", strerrorname_np((int)-ret));
	else
		snprintf(res, sizeof(res), "0x%lx", ret);
	if (c->e)
		sbx_log("%s(0x%lx, 0x%lx, 0x%lx, ...)%s = %s [%s]", c->e->name, c->a[0], c->a[1],
			c->a[2], path, res, decision);
	else
		sbx_log("syscall %ld(0x%lx, 0x%lx, 0x%lx, ...) = %s [%s]", nr, c->a[0], c->a[1],
			c->a[2], res, decision);
}

void sbx_syscall(struct dune_tf *tf)
{
	static struct call c;	/* single-threaded; keeps the ring-0 stack small */
	long nr = (long)tf->rax, ret;
	const char *decision = "forwarded";

	memset(&c, 0, sizeof(c));
	c.tf = tf;
	c.a[0] = (long)tf->rdi;
	c.a[1] = (long)tf->rsi;
	c.a[2] = (long)tf->rdx;
	c.a[3] = (long)tf->r10;
	c.a[4] = (long)tf->r8;
	c.a[5] = (long)tf->r9;
	c.e = find(nr);
	if (!c.e) {
		ret = -ENOSYS;
		decision = "refused: not in the runtime's table";
	} else if (c.e->flags & SBX_SYS_NEVER) {
		ret = -EPERM;
		decision = c.e->why;
	} else if (!sbx.pol.allow[nr]) {
		ret = -EPERM;
		decision = "refused: denied by the policy";
	} else if ((c.e->flags & SBX_SYS_NET) && !sbx.pol.network) {
		ret = -EPERM;
		decision = "refused: network off";
	} else {
		if ((nr == SYS_exit || nr == SYS_exit_group) && sbx.pol.log)
			log_call(&c, nr, 0, "forwarded as exit_group");
		if (c.e->fn)
			ret = c.e->fn(&c);
		else
			ret = check_args(&c);
		if (!c.e->fn && ret == 0)
			ret = fwd(&c);
		else if (!c.e->fn)
			decision = "refused: bad argument";
		if (c.note)
			decision = c.note;
	}
	if (sbx.pol.log)
		log_call(&c, nr, ret, decision);
	tf->rax = (uint64_t)ret;
}
