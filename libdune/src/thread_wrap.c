// SPDX-License-Identifier: MIT
/*
 * Only in libdune.a, as its own archive member: linking with
 * -Wl,--wrap=pthread_create turns the program's pthread_create calls into
 * calls of __wrap_pthread_create, which pulls this object in; its reference
 * to __real_pthread_create is then glibc's pthread_create.  Without --wrap
 * nothing refers to this object and it stays out of the program.
 */
#include "internal.h"

extern int __real_pthread_create(pthread_t *, const pthread_attr_t *,
				 void *(*)(void *), void *);

__attribute__((constructor)) static void dune_wrap_init(void)
{
	__atomic_store_n(&dune_real_pthread_create, __real_pthread_create, __ATOMIC_RELEASE);
}

DUNE_API int __wrap_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
				   void *(*start)(void *), void *arg)
{
	if (!__atomic_load_n(&dune_real_pthread_create, __ATOMIC_ACQUIRE))
		dune_wrap_init();
	return dune_thread_create(thread, attr, start, arg);
}
