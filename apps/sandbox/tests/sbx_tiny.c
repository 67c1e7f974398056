// SPDX-License-Identifier: MIT
/*
 * A static program without libc, linked at several fixed addresses by the
 * Makefile: at the usual 0x400000 it must run in the sandbox; at 256 GiB
 * (outside every Dune layout window) and at the runtime's own address the
 * sandbox must refuse it.
 */
static long sys3(long nr, long a, long b, long c)
{
	long r;

	__asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return r;
}

void _start(void)
{
	static const char msg[] = "tiny ok\n";

	sys3(1, 1, (long)msg, sizeof(msg) - 1);
	sys3(231, 5, 0, 0);
	for (;;)
		;
}
