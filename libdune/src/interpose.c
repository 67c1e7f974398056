// SPDX-License-Identifier: MIT
/*
 * Only in libdune.so: the pthread_create() interposer and the DUNE_RUN
 * constructor that dune-run relies on (LD_PRELOAD=libdune.so DUNE_RUN=1).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

dune_pthread_create_fn dune_resolve_real_pthread_create(void)
{
	return (dune_pthread_create_fn)dlsym(RTLD_NEXT, "pthread_create");
}

/*
 * pthread_create() for programs that run with libdune.so.  Programs refer
 * to the versioned glibc symbol (pthread_create@GLIBC_2.34, or @GLIBC_2.2.5
 * when built against glibc < 2.34), and the dynamic linker only binds such
 * a reference to a definition of the same version, so libdune.so defines
 * both (libdune.map); dlsym(RTLD_NEXT) then finds glibc's.
 */
DUNE_API int __libdune_pthread_create_2_2_5(pthread_t *thread,
					    const pthread_attr_t *attr,
						 void *(*start)(void *), void *arg)
{
	return dune_thread_create(thread, attr, start, arg);
}

DUNE_API int __libdune_pthread_create_2_34(pthread_t *thread,
						const pthread_attr_t *attr,
						void *(*start)(void *), void *arg)
{
	return dune_thread_create(thread, attr, start, arg);
}

__asm__(".symver __libdune_pthread_create_2_2_5, pthread_create@GLIBC_2.2.5");
__asm__(".symver __libdune_pthread_create_2_34, pthread_create@@GLIBC_2.34");

static bool env_is(const char *name, const char *val)
{
	const char *v = getenv(name);

	return v && strcmp(v, val) == 0;
}

/*
 * DUNE_RUN=1: enter Dune mode before main().  If that fails, say why and
 * exit with status 126, unless DUNE_RUN_OPTIONAL=1 (then run natively).
 */
__attribute__((constructor)) static void dune_run_constructor(void)
{
	int r;

	if (!env_is("DUNE_RUN", "1"))
		return;
	r = dune_init_and_enter();
	if (r == 0)
		return;
	fprintf(stderr, "dune-run: cannot run %s in Dune mode: %s\n",
		program_invocation_name,
		dune_last_error()[0] ? dune_last_error() : dune_strerror(r));
	if (env_is("DUNE_RUN_OPTIONAL", "1")) {
		fprintf(stderr, "dune-run: DUNE_RUN_OPTIONAL=1: running natively\n");
		return;
	}
	fflush(stderr);
	_exit(126);
}
