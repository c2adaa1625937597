// SPDX-License-Identifier: Apache-2.0
/* x86_insn_len(): instruction lengths, and what it declines to decode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "heap/x86.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct len_case {
	const char *what;
	uint8_t code[16];
	size_t len; /* bytes available, at least the instruction's */
	int want;
};

static void test_insn_len_encodings(void **state)
{
	static const struct len_case cases[] = {
		{ "push %rbp", { 0x55 }, 1, 1 },
		{ "push %r12", { 0x41, 0x54 }, 2, 2 },
		{ "mov %rsp,%rbp", { 0x48, 0x89, 0xe5 }, 3, 3 },
		{ "sub $0x18,%rsp", { 0x48, 0x83, 0xec, 0x18 }, 4, 4 },
		{ "sub $0x1000,%rsp", { 0x48, 0x81, 0xec, 0x00, 0x10, 0x00, 0x00 }, 7, 7 },
		/* SIB with disp8, then with disp32. */
		{ "mov 0x8(%rsp),%rax", { 0x48, 0x8b, 0x44, 0x24, 0x08 }, 5, 5 },
		{ "mov 0x100(%rsp),%rax",
		  { 0x48, 0x8b, 0x84, 0x24, 0x00, 0x01, 0x00, 0x00 },
		  8,
		  8 },
		/* SIB, mod 0, base 5: disp32 and no base. */
		{ "mov 0x12345678,%eax", { 0x8b, 0x04, 0x25, 0x78, 0x56, 0x34, 0x12 }, 7, 7 },
		{ "lea 0x0(,%rcx,4),%rcx", { 0x48, 0x8d, 0x0c, 0x8d, 0, 0, 0, 0 }, 8, 8 },
		/* REX.B does not change when a SIB or a displacement follows. */
		{ "mov (%r12),%eax", { 0x41, 0x8b, 0x04, 0x24 }, 4, 4 },
		{ "mov 0x0(%r13),%eax", { 0x41, 0x8b, 0x45, 0x00 }, 4, 4 },
		{ "mov 0x10(%rip),%rax", { 0x48, 0x8b, 0x05, 0x10, 0, 0, 0 }, 7, 7 },
		{ "cmpb $0x0,0x10(%rip)", { 0x80, 0x3d, 0x10, 0, 0, 0, 0x00 }, 7, 7 },
		{ "movl $0x1,0x8(%rsp)", { 0xc7, 0x44, 0x24, 0x08, 1, 0, 0, 0 }, 8, 8 },
		{ "mov %fs:0x28,%rax", { 0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0, 0, 0 }, 9, 9 },
		/* Immediates: 66 makes imm32 imm16, REX.W makes b8+ imm64. */
		{ "cmp $0x1234,%cx", { 0x66, 0x81, 0xf9, 0x34, 0x12 }, 5, 5 },
		{ "mov $0x1,%eax", { 0xb8, 1, 0, 0, 0 }, 5, 5 },
		{ "mov $0x1,%ax", { 0x66, 0xb8, 1, 0 }, 4, 4 },
		{ "movabs $0x1,%rax", { 0x48, 0xb8, 1, 0, 0, 0, 0, 0, 0, 0 }, 10, 10 },
		{ "movabs 0x1,%eax", { 0xa1, 1, 0, 0, 0, 0, 0, 0, 0 }, 9, 9 },
		{ "addr32 movabs 0x1,%eax", { 0x67, 0xa1, 1, 0, 0, 0 }, 6, 6 },
		{ "test $0x1,%cl", { 0xf6, 0xc1, 0x01 }, 3, 3 },
		{ "test $0x1,%ecx", { 0xf7, 0xc1, 1, 0, 0, 0 }, 6, 6 },
		{ "mul %rsi", { 0x48, 0xf7, 0xe6 }, 3, 3 },
		{ "enter $0x10,$0x0", { 0xc8, 0x10, 0x00, 0x00 }, 4, 4 },
		{ "endbr64", { 0xf3, 0x0f, 0x1e, 0xfa }, 4, 4 },
		{ "je rel32", { 0x0f, 0x84, 1, 0, 0, 0 }, 6, 6 },
		{ "seto %al", { 0x0f, 0x90, 0xc0 }, 3, 3 },
		{ "cs nopw 0x0(%rax,%rax,1)",
		  { 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0 },
		  10,
		  10 },
		/* The TLS call of the general dynamic model: REX.W wins over 66. */
		{ "data16 data16 rex.W call", { 0x66, 0x66, 0x48, 0xe8, 1, 0, 0, 0 }, 8, 8 },
		/* Trailing bytes are not part of the instruction. */
		{ "ret, then more", { 0xc3, 0x55, 0x48 }, 3, 1 },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		int got = x86_insn_len(cases[i].code, cases[i].len);

		if (got != cases[i].want)
			fail_msg("%s: length %d, want %d", cases[i].what, got, cases[i].want);
	}
}

static void test_insn_len_not_decoded(void **state)
{
	static const struct len_case cases[] = {
		{ "vzeroupper (VEX)", { 0xc5, 0xf8, 0x77 }, 3, -1 },
		{ "vpcmpeqb (VEX3)", { 0xc4, 0xe2, 0x7d, 0x00, 0xc1 }, 5, -1 },
		{ "EVEX", { 0x62, 0xf1, 0x7d, 0x48, 0x6f, 0x06 }, 6, -1 },
		{ "pshufb (0f 38)", { 0x66, 0x0f, 0x38, 0x00, 0xc1 }, 5, -1 },
		{ "palignr (0f 3a)", { 0x66, 0x0f, 0x3a, 0x0f, 0xc1, 0x08 }, 6, -1 },
		/* rel16 on AMD, rel32 on Intel: we don't guess. */
		{ "data16 call", { 0x66, 0xe8, 1, 0, 0, 0 }, 6, -1 },
		{ "data16 je rel32", { 0x66, 0x0f, 0x84, 1, 0, 0, 0 }, 7, -1 },
		{ "REX then a prefix", { 0x48, 0x66, 0x90 }, 3, -1 },
		{ "invalid in 64-bit mode (push es)", { 0x06 }, 1, -1 },
		{ "truncated disp32", { 0x48, 0x8b, 0x05, 0x01, 0x02 }, 5, -1 },
		{ "truncated SIB", { 0x48, 0x8b, 0x44 }, 3, -1 },
		{ "truncated imm64", { 0x48, 0xb8, 1, 0, 0, 0, 0, 0, 0 }, 9, -1 },
		{ "prefixes only", { 0x66, 0x66 }, 2, -1 },
		{ "nothing", { 0 }, 0, -1 },
	};
	static const uint8_t too_long[16] = { 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
					      0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x90 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		int got = x86_insn_len(cases[i].code, cases[i].len);

		if (got != cases[i].want)
			fail_msg("%s: length %d, want %d", cases[i].what, got, cases[i].want);
	}
	/* Over 15 bytes is no instruction. */
	assert_int_equal(x86_insn_len(too_long, sizeof(too_long)), -1);
	assert_int_equal(x86_insn_len(too_long + 1, sizeof(too_long) - 1), 15);
	assert_int_equal(x86_insn_len(NULL, 4), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insn_len_encodings),
		cmocka_unit_test(test_insn_len_not_decoded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
