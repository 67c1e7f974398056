// SPDX-License-Identifier: MIT
/*
 * Threads created after entry.  A thread in Dune mode that makes a clone
 * system call gets a child that starts on the host side (the kernel starts
 * it from the guest's registers after the VMCALL, natively).  So libdune
 * wraps the start routine of pthread_create(): the new thread calls
 * dune_enter() (same VM, same page table) before it runs the caller's
 * function.  Should a kernel ever start the child in Dune mode already, the
 * wrapper notices (CS has RPL 0) and only sets up libdune's per-thread
 * state.
 *
 * How pthread_create() gets wrapped: libdune.so interposes it (interpose.c);
 * a static program links with -Wl,--wrap=pthread_create, which routes it to
 * __wrap_pthread_create (thread_wrap.c); anyone may call
 * dune_pthread_create().
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

dune_pthread_create_fn dune_real_pthread_create;
static int auto_enter = 1;

/* Defined by interpose.c in libdune.so only. */
extern dune_pthread_create_fn dune_resolve_real_pthread_create(void)
	__attribute__((weak, visibility("hidden")));

static dune_pthread_create_fn real_create(void)
{
	dune_pthread_create_fn fn = __atomic_load_n(&dune_real_pthread_create,
						    __ATOMIC_ACQUIRE);

	if (fn)
		return fn;
	if (dune_resolve_real_pthread_create)
		fn = dune_resolve_real_pthread_create();
	if (!fn)
		fn = pthread_create;
	__atomic_store_n(&dune_real_pthread_create, fn, __ATOMIC_RELEASE);
	return fn;
}

struct start_arg {
	void *(*start)(void *);
	void *arg;
};

static void *dune_thread_start(void *p)
{
	struct start_arg sa = *(struct start_arg *)p;
	int r;

	free(p);
	if (dune_cpu_in_ring0())
		r = dune_tls_entered ? 0 : dune_thread_setup_in_guest();
	else
		r = dune_enter();
	if (r) {
		dune_raw_puts("libdune: a new thread could not enter Dune mode: ");
		dune_raw_puts(dune_last_error()[0] ? dune_last_error() : dune_strerror(r));
		dune_raw_puts("\n");
		abort();
	}
	return sa.start(sa.arg);
}

int dune_thread_create(pthread_t *thread, const pthread_attr_t *attr,
		       void *(*start)(void *), void *arg)
{
	dune_pthread_create_fn fn = real_create();
	struct start_arg *sa;
	int r;

	if (!__atomic_load_n(&auto_enter, __ATOMIC_RELAXED) || !dune_cpu_in_ring0() ||
	    !dune_state.initialized)
		return fn(thread, attr, start, arg);
	sa = malloc(sizeof(*sa));
	if (!sa)
		return EAGAIN;
	sa->start = start;
	sa->arg = arg;
	r = fn(thread, attr, dune_thread_start, sa);
	if (r)
		free(sa);
	return r;
}

DUNE_API int dune_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
				 void *(*start)(void *), void *arg)
{
	return dune_thread_create(thread, attr, start, arg);
}

DUNE_API void dune_set_thread_auto_enter(int on)
{
	__atomic_store_n(&auto_enter, !!on, __ATOMIC_RELAXED);
}
