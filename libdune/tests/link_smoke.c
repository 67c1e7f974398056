// SPDX-License-Identifier: MIT
/*
 * Built as a static program (with -Wl,--wrap=pthread_create), a non-PIE
 * program and a PIE program linked with libdune.so: it links, runs, and
 * (dynamic case) pthread_create resolves to libdune's interposer.
 */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "tap.h"
#include "dune.h"

static void *fn(void *arg)
{
	return arg;
}

int main(void)
{
	pthread_t t;
	void *ret = NULL;
	int p = dune_probe();

	ok(p != 0, "dune_probe: %d (%s)", p, p < 0 ? dune_strerror(p) : "available");
	ok(dune_vm_current() == NULL, "no page table before dune_init");
	is(dune_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0), (long)getpid(), "dune_syscall");
	is(pthread_create(&t, NULL, fn, (void *)0x55), 0, "pthread_create through libdune");
	pthread_join(t, &ret);
	ok(ret == (void *)0x55, "the thread ran");
#ifdef __PIE__
	{
		Dl_info info;

		if (dladdr((void *)&pthread_create, &info) && info.dli_fname)
			ok(strstr(info.dli_fname, "libdune") != NULL,
			   "pthread_create binds to libdune.so (%s)", info.dli_fname);
		else
			ok(1, "pthread_create is linked statically");
	}
#endif
	return tap_done();
}
