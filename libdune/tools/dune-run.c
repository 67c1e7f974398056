// SPDX-License-Identifier: MIT
/*
 * dune-run: run an unmodified, dynamically linked program in Dune mode.
 *
 *   dune-run [--lib PATH] [--optional] [--] PROGRAM [ARGS...]
 *   dune-run --check
 *
 * It checks that the kernel offers Dune mode, then executes PROGRAM with
 * LD_PRELOAD=libdune.so and DUNE_RUN=1: libdune's constructor calls
 * dune_init_and_enter() before main() and, if that fails, prints why and
 * exits with status 126 (with --optional, DUNE_RUN_OPTIONAL=1, it runs the
 * program natively instead).  Children that the program executes inherit
 * both variables and run in Dune mode too.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "kvm_dune_abi.h"

#ifndef LIBDUNE_DEFAULT_PATH
#define LIBDUNE_DEFAULT_PATH "/usr/local/lib/libdune.so.0"
#endif

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dune-run [--lib PATH] [--optional] [--] PROGRAM [ARGS...]\n"
		"       dune-run --check\n"
		"Run PROGRAM (dynamically linked) in Dune mode via LD_PRELOAD of libdune.so.\n"
		"  --lib PATH   libdune.so to preload (default: $DUNE_LIB, next to dune-run,\n"
		"               ../lib next to it, or " LIBDUNE_DEFAULT_PATH ")\n"
		"  --optional   run natively if Dune mode is not available\n"
		"  --check      only report whether this kernel offers Dune mode\n");
}

/* The kernel's Dune ABI version, or -errno. */
static int kernel_dune_version(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	r = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_DUNE);
	close(fd);
	return r > 0 ? r : -EOPNOTSUPP;
}

static const char *explain(int err)
{
	switch (-err) {
	case ENOENT:
		return "/dev/kvm does not exist (KVM not loaded, or no virtualisation)";
	case EACCES:
		return "no permission to open /dev/kvm";
	case EOPNOTSUPP:
		return "this kernel's KVM has no Dune mode (KVM_CAP_X86_DUNE)";
	default:
		return strerror(-err);
	}
}

static bool readable(const char *path)
{
	return path && *path && access(path, R_OK) == 0;
}

static const char *find_lib(const char *opt, char *buf, size_t len)
{
	static const char *const rel[] = { "libdune.so.0", "libdune.so", "../lib/libdune.so.0" };
	char self[PATH_MAX];
	ssize_t n;
	size_t i;
	char *slash;

	if (opt)
		return opt;
	if (readable(getenv("DUNE_LIB")))
		return getenv("DUNE_LIB");
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
				if ((size_t)snprintf(buf, len, "%s/%s", self, rel[i]) >= len)
					continue;
				if (readable(buf))
					return buf;
			}
		}
	}
	return LIBDUNE_DEFAULT_PATH;
}

/* PROGRAM as execvp() would find it (NULL if not found). */
static const char *find_program(const char *prog, char *buf, size_t len)
{
	const char *path = getenv("PATH"), *p, *end;

	if (strchr(prog, '/'))
		return prog;
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; ; p = end + 1) {
		end = strchr(p, ':');
		if (!end)
			end = p + strlen(p);
		int n;

		if (end == p)
			n = snprintf(buf, len, "./%s", prog);
		else
			n = snprintf(buf, len, "%.*s/%s", (int)(end - p), p, prog);
		if (n > 0 && (size_t)n < len && access(buf, X_OK) == 0)
			return buf;
		if (!*end)
			return NULL;
	}
}

/* 1: ELF with a program interpreter; 0: ELF without (static); -1: not ELF. */
static int elf_is_dynamic(const char *file)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int fd = open(file, O_RDONLY | O_CLOEXEC), i, r = -1;

	if (fd < 0)
		return -1;
	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64)
		goto out;
	r = 0;
	for (i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), eh.e_phoff + (off_t)i * eh.e_phentsize) !=
		    sizeof(ph))
			break;
		if (ph.p_type == PT_INTERP) {
			r = 1;
			break;
		}
	}
out:
	close(fd);
	return r;
}

int main(int argc, char **argv)
{
	const char *lib_opt = NULL, *lib, *prog, *old;
	char libbuf[PATH_MAX], progbuf[PATH_MAX], *preload;
	bool optional = false, check = false;
	int i, v, dyn;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (!strcmp(argv[i], "--lib") && i + 1 < argc) {
			lib_opt = argv[++i];
		} else if (!strcmp(argv[i], "--optional")) {
			optional = true;
		} else if (!strcmp(argv[i], "--check")) {
			check = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-') {
			usage(stderr);
			return 2;
		} else {
			break;
		}
	}

	v = kernel_dune_version();
	if (check) {
		if (v > 0)
			printf("dune-run: Dune mode available (ABI version %d)\n", v);
		else
			printf("dune-run: Dune mode not available: %s\n", explain(v));
		return v > 0 ? 0 : 1;
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	prog = argv[i];

	if (v <= 0) {
		fprintf(stderr, "dune-run: cannot run %s in Dune mode: %s\n", prog, explain(v));
		if (!optional)
			return 126;
		fprintf(stderr, "dune-run: --optional: running natively\n");
		execvp(prog, &argv[i]);
		fprintf(stderr, "dune-run: cannot execute %s: %s\n", prog, strerror(errno));
		return 127;
	}

	lib = find_lib(lib_opt, libbuf, sizeof(libbuf));
	if (!readable(lib)) {
		fprintf(stderr, "dune-run: cannot read libdune.so at %s (use --lib PATH)\n", lib);
		return 126;
	}
	if (lib[0] != '/') {
		/* LD_PRELOAD needs a path that works from the program's cwd too. */
		if (!realpath(lib, libbuf)) {
			fprintf(stderr, "dune-run: %s: %s\n", lib, strerror(errno));
			return 126;
		}
		lib = libbuf;
	}

	{
		const char *file = find_program(prog, progbuf, sizeof(progbuf));

		if (!file) {
			fprintf(stderr, "dune-run: %s: command not found\n", prog);
			return 127;
		}
		dyn = elf_is_dynamic(file);
		if (dyn == 0) {
			fprintf(stderr,
				"dune-run: %s is statically linked: LD_PRELOAD cannot load "
				"libdune into it.\n"
				"dune-run: link it with libdune.a and call dune_init_and_enter() "
				"instead.\n", prog);
			return 126;
		}
	}

	old = getenv("LD_PRELOAD");
	if (old && *old) {
		size_t n = strlen(lib) + strlen(old) + 2;

		preload = malloc(n);
		if (!preload)
			return 126;
		snprintf(preload, n, "%s:%s", lib, old);
	} else {
		preload = strdup(lib);
	}
	if (!preload || setenv("LD_PRELOAD", preload, 1) || setenv("DUNE_RUN", "1", 1) ||
	    (optional && setenv("DUNE_RUN_OPTIONAL", "1", 1))) {
		fprintf(stderr, "dune-run: cannot set the environment\n");
		return 126;
	}
	execvp(prog, &argv[i]);
	fprintf(stderr, "dune-run: cannot execute %s: %s\n", prog, strerror(errno));
	return 127;
}
