// SPDX-License-Identifier: MIT
/* A program that knows nothing of libdune: prints where pthread_create binds. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

int main(void)
{
	Dl_info info;

	if (dladdr((void *)&pthread_create, &info) && info.dli_fname)
		printf("pthread_create in %s\n", info.dli_fname);
	return 0;
}
