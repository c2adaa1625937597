// SPDX-License-Identifier: Apache-2.0
/* A library loaded by nofp_chain with dlopen, built without frame pointers. */
#define NOINLINE __attribute__((noinline, noclone))

volatile unsigned long lib_sink;

NOINLINE unsigned long lib_leaf(unsigned long x)
{
	for (int i = 0; i < 2000000; i++)
		x = x * 6364136223846793005UL + 1442695040888963407UL;
	return x;
}

NOINLINE unsigned long lib_middle(unsigned long x)
{
	unsigned long r = lib_leaf(x + 1);

	lib_sink = r;
	return r ^ x;
}

NOINLINE unsigned long lib_entry(unsigned long x)
{
	unsigned long r = lib_middle(x + 1);

	lib_sink = r;
	return r ^ x;
}
