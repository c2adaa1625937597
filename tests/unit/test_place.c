// SPDX-License-Identifier: Apache-2.0
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "heap/place.h"
#include "heap/x86.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static struct probe_place place(const uint8_t *code, size_t len, unsigned args, bool needs_return)
{
	struct probe_place p;

	assert_int_equal(probe_place(code, len, args, needs_return, &p), 0);
	return p;
}

#define assert_place(code, args, needs_return, off, emul, what)                                    \
	do {                                                                                       \
		struct probe_place p_ = place(code, sizeof(code), args, needs_return);             \
		assert_int_equal(p_.offset, off);                                                  \
		assert_int_equal(p_.emulated, emul);                                               \
		assert_string_equal(p_.insn, what);                                                \
	} while (0)

static void test_glibc_free_prologue(void **state)
{
	/* test %rdi,%rdi; je; push %rbp; lea -0x10(%rdi),%rsi; push %rbx */
	static const uint8_t free_code[] = { 0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf, 0x00, 0x00,
					     0x00, 0x55, 0x48, 0x8d, 0x77, 0xf0, 0x53 };

	assert_place(free_code, PLACE_RDI, false, 3, true, "jcc rel32");
	/* test writes no register: the same with a return probe or more arguments. */
	assert_place(free_code, PLACE_RDI, true, 3, true, "jcc rel32");
	assert_place(free_code, PLACE_RDI | PLACE_RSI | PLACE_R9, true, 3, true, "jcc rel32");
}

static void test_emulated_entry(void **state)
{
	static const uint8_t push_rbp[] = { 0x55, 0x48, 0x89, 0xe5 };
	static const uint8_t push_r12[] = { 0x41, 0x54, 0x55 };
	static const uint8_t call[] = { 0xe8, 0x10, 0x00, 0x00, 0x00 };
	static const uint8_t jmp8[] = { 0xeb, 0x02 };
	/* push with any other prefix is single-stepped, and not skipped either. */
	static const uint8_t push_rex_w[] = { 0x48, 0x55, 0x90 };
	static const uint8_t push_rex[] = { 0x40, 0x55, 0x90 };
	static const uint8_t push_16[] = { 0x66, 0x55, 0x90 };

	assert_place(push_rbp, PLACE_RDI, true, 0, true, "push %rbp");
	assert_place(push_r12, PLACE_RDI, true, 0, true, "push %r12");
	assert_place(call, PLACE_RDI, true, 0, true, "call rel32");
	assert_place(jmp8, PLACE_RDI, true, 0, true, "jmp rel8");
	assert_place(push_rex_w, PLACE_RDI, true, 0, false, "op 55 (single-stepped)");
	assert_place(push_rex, PLACE_RDI, true, 0, false, "op 55 (single-stepped)");
	assert_place(push_16, PLACE_RDI, true, 0, false, "op 55 (single-stepped)");
}

static void test_rsp_is_never_skipped(void **state)
{
	static const uint8_t sub_rsp[] = { 0x48, 0x83, 0xec, 0x18, 0x55 };
	static const uint8_t lea_rsp[] = { 0x48, 0x8d, 0x64, 0x24, 0xf8, 0x55 };
	static const uint8_t mov_esp[] = { 0x89, 0xfc, 0x55 };
	/* A store through %rsp may hit the return address. */
	static const uint8_t store_rsp[] = { 0x48, 0x89, 0x3c, 0x24, 0x55 };
	/* The same store through %rbx is fine. */
	static const uint8_t store_rbx[] = { 0x48, 0x89, 0x3b, 0x55 };

	assert_place(sub_rsp, PLACE_RDI, true, 0, false, "sub (single-stepped)");
	assert_place(sub_rsp, PLACE_RDI, false, 0, false, "sub (single-stepped)");
	assert_place(lea_rsp, PLACE_RDI, true, 0, false, "lea (single-stepped)");
	assert_place(mov_esp, 0, false, 0, false, "mov (single-stepped)");
	assert_place(store_rsp, PLACE_RDI, true, 0, false, "mov (single-stepped)");
	assert_place(store_rbx, PLACE_RDI, true, 3, true, "push %rbp");
}

static void test_endbr64(void **state)
{
	static const uint8_t endbr_push[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0x55 };
	static const uint8_t endbr_sub[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0x48, 0x83, 0xec, 0x18 };

	assert_place(endbr_push, PLACE_RDI | PLACE_RSI, true, 4, true, "push %rbp");
	assert_place(endbr_sub, PLACE_RDI, true, 0, false, "endbr64 (single-stepped)");
}

static void test_argument_writes(void **state)
{
	/* mov %rdi,%rax: reads rdi only. */
	static const uint8_t mov_rdi_rax[] = { 0x48, 0x89, 0xf8, 0x55 };
	/* mov %rdi,%rsi (89 form) and mov %rdi,%rsi (8b form). */
	static const uint8_t mov_rdi_rsi[] = { 0x48, 0x89, 0xfe, 0x55 };
	static const uint8_t mov_rsi_from_rdi[] = { 0x48, 0x8b, 0xf7, 0x55 };
	static const uint8_t xor_edi[] = { 0x31, 0xff, 0x55 };
	/* REX.R and REX.B name r8-r15. */
	static const uint8_t mov_r8_rax[] = { 0x4c, 0x89, 0xc0, 0x55 };
	static const uint8_t mov_rax_r8[] = { 0x49, 0x89, 0xc0, 0x55 };
	static const uint8_t xor_r9d[] = { 0x45, 0x31, 0xc9, 0x55 };
	static const uint8_t mov_imm_r9[] = { 0x41, 0xb9, 1, 0, 0, 0, 0x55 };
	/* Without REX byte register 6 is %dh, with any REX it is %sil. */
	static const uint8_t mov_dh[] = { 0xb6, 0x00, 0x55 };
	static const uint8_t mov_sil[] = { 0x40, 0xb6, 0x00, 0x55 };
	static const uint8_t add_al_dh[] = { 0x00, 0xc6, 0x55 };
	/* The accumulator forms write %rax. */
	static const uint8_t add_eax[] = { 0x05, 1, 0, 0, 0, 0x55 };
	static const uint8_t cmp_edi_imm[] = { 0x81, 0xff, 1, 0, 0, 0, 0x55 };
	static const uint8_t and_edi_imm[] = { 0x83, 0xe7, 0x0f, 0x55 };
	static const uint8_t movzx_edi[] = { 0x0f, 0xb6, 0xff, 0x55 };
	static const uint8_t movsxd_rdi[] = { 0x48, 0x63, 0xff, 0x55 };
	static const uint8_t lea_rdx[] = { 0x48, 0x8d, 0x57, 0x08, 0x55 };

	assert_place(mov_rdi_rax, PLACE_RDI, true, 3, true, "push %rbp");
	assert_place(mov_rdi_rsi, PLACE_RDI, true, 3, true, "push %rbp");
	assert_place(mov_rdi_rsi, PLACE_RDI | PLACE_RSI, true, 0, false, "mov (single-stepped)");
	assert_place(mov_rsi_from_rdi, PLACE_RDI | PLACE_RSI, true, 0, false,
		     "mov (single-stepped)");
	assert_place(xor_edi, PLACE_RDI, true, 0, false, "xor (single-stepped)");
	assert_place(xor_edi, PLACE_RSI, true, 2, true, "push %rbp");
	assert_place(mov_r8_rax, PLACE_R8, true, 3, true, "push %rbp");
	assert_place(mov_rax_r8, PLACE_R8, true, 0, false, "mov (single-stepped)");
	assert_place(mov_rax_r8, PLACE_RDI, true, 3, true, "push %rbp");
	assert_place(xor_r9d, PLACE_R9, true, 0, false, "xor (single-stepped)");
	assert_place(xor_r9d, PLACE_RCX, true, 3, true, "push %rbp");
	assert_place(mov_imm_r9, PLACE_R9, true, 0, false, "mov (single-stepped)");
	assert_place(mov_dh, PLACE_RDX, true, 0, false, "mov (single-stepped)");
	assert_place(mov_dh, PLACE_RSI, true, 0, false, "mov (single-stepped)");
	assert_place(mov_sil, PLACE_RDX, true, 3, true, "push %rbp");
	assert_place(mov_sil, PLACE_RSI, true, 0, false, "mov (single-stepped)");
	assert_place(add_al_dh, PLACE_RDX, true, 0, false, "add (single-stepped)");
	assert_place(add_eax, PLACE_RDI | PLACE_RSI | PLACE_RDX, true, 5, true, "push %rbp");
	assert_place(cmp_edi_imm, PLACE_RDI, true, 6, true, "push %rbp");
	assert_place(and_edi_imm, PLACE_RDI, true, 0, false, "and (single-stepped)");
	assert_place(movzx_edi, PLACE_RDI, true, 0, false, "movzx (single-stepped)");
	assert_place(movsxd_rdi, PLACE_RDI, true, 0, false, "movsxd (single-stepped)");
	assert_place(movsxd_rdi, PLACE_RSI, true, 3, true, "push %rbp");
	assert_place(lea_rdx, PLACE_RDI | PLACE_RSI, true, 4, true, "push %rbp");
	assert_place(lea_rdx, PLACE_RDX, true, 0, false, "lea (single-stepped)");
}

static void test_rip_relative(void **state)
{
	/* mov 0x10(%rip),%rax; je rel32 */
	static const uint8_t mov_jcc[] = {
		0x48, 0x8b, 0x05, 0x10, 0, 0, 0, 0x0f, 0x84, 1, 0, 0, 0
	};
	/* posix_memalign's: cmpb $0x0,0x10(%rip); push %r12 */
	static const uint8_t cmpb_push[] = { 0x80, 0x3d, 0x10, 0, 0, 0, 0x00, 0x41, 0x54 };

	assert_place(mov_jcc, PLACE_RDI | PLACE_RSI, true, 7, true, "jcc rel32");
	assert_place(cmpb_push, PLACE_RDI | PLACE_RSI | PLACE_RDX, true, 7, true, "push %r12");
}

static void test_nops(void **state)
{
	static const uint8_t nopw[] = { 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00 };
	static const uint8_t nopl5[] = { 0x0f, 0x1f, 0x44, 0x00, 0x00, 0x55 };
	static const uint8_t nop[] = { 0x90, 0x55 };
	static const uint8_t xchg_ax[] = { 0x66, 0x90, 0x55 };
	/* Not one of the kernel's nops: single-stepped on 6.18, but skipped. */
	static const uint8_t nopl_disp[] = { 0x0f, 0x1f, 0x40, 0x08, 0x55 };
	/* 41 90 is xchg %eax,%r8d, not a nop. */
	static const uint8_t xchg_r8[] = { 0x41, 0x90, 0x55 };
	/* pause */
	static const uint8_t pause[] = { 0xf3, 0x90, 0x55 };

	assert_place(nopw, PLACE_RDI, true, 0, true, "nop (6 bytes)");
	assert_place(nopl5, PLACE_RDI, true, 0, true, "nop (5 bytes)");
	assert_place(nop, PLACE_RDI, true, 0, true, "nop");
	assert_place(xchg_ax, PLACE_RDI, true, 0, true, "nop (2 bytes)");
	assert_place(nopl_disp, PLACE_RDI, true, 4, true, "push %rbp");
	assert_place(xchg_r8, PLACE_RDI, true, 0, false, "op 90 (single-stepped)");
	assert_place(pause, PLACE_RDI, true, 0, false, "op 90 (single-stepped)");
}

static void test_prefixed_branches(void **state)
{
	/* uprobes refuse a 66 prefix on branches and ds/cs/lock prefixes anywhere. */
	static const uint8_t data16_je8[] = { 0x66, 0x74, 0x05, 0x55 };
	static const uint8_t data16_je32[] = { 0x66, 0x0f, 0x84, 1, 0, 0, 0, 0x55 };
	static const uint8_t ds_je8[] = { 0x3e, 0x74, 0x05, 0x55 };
	static const uint8_t test_then_data16_jcc[] = { 0x48, 0x85, 0xff, 0x66, 0x74, 0x05, 0x55 };

	assert_int_equal(x86_insn_len(data16_je8, sizeof(data16_je8)), 3);
	assert_place(data16_je8, PLACE_RDI, false, 0, false, "prefixed (refused by uprobes)");
	assert_place(data16_je32, PLACE_RDI, false, 0, false, "undecoded (single-stepped)");
	assert_place(ds_je8, PLACE_RDI, false, 0, false, "prefixed (refused by uprobes)");
	assert_place(test_then_data16_jcc, PLACE_RDI, false, 0, false, "test (single-stepped)");
}

static void test_not_understood_stops(void **state)
{
	static const uint8_t vex[] = { 0xc5, 0xf8, 0x77, 0x55 };
	static const uint8_t test_vex[] = { 0x48, 0x85, 0xff, 0xc5, 0xf8, 0x77, 0x55 };
	static const uint8_t ret[] = { 0xc3, 0x55 };
	static const uint8_t call_rax[] = { 0xff, 0xd0, 0x55 };
	static const uint8_t syscall[] = { 0x0f, 0x05, 0x55 };
	static const uint8_t pop_rbx[] = { 0x5b, 0x55 };
	static const uint8_t mul_rsi[] = { 0x48, 0xf7, 0xe6, 0x55 };
	static const uint8_t rep_stos[] = { 0xf3, 0x48, 0xab, 0x55 };
	static const uint8_t lock_add[] = { 0xf0, 0x48, 0x01, 0x03, 0x55 };

	assert_place(vex, PLACE_RDI, true, 0, false, "undecoded (single-stepped)");
	assert_place(test_vex, PLACE_RDI, true, 0, false, "test (single-stepped)");
	assert_place(ret, 0, false, 0, false, "op c3 (single-stepped)");
	assert_place(call_rax, 0, false, 0, false, "op ff (single-stepped)");
	assert_place(syscall, 0, false, 0, false, "op 0f 05 (single-stepped)");
	assert_place(pop_rbx, 0, false, 0, false, "op 5b (single-stepped)");
	assert_place(mul_rsi, 0, false, 0, false, "op f7 (single-stepped)");
	assert_place(rep_stos, 0, false, 0, false, "op ab (single-stepped)");
	assert_place(lock_add, 0, false, 0, false, "prefixed (refused by uprobes)");
}

static void test_truncated(void **state)
{
	static const uint8_t free_code[] = { 0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf, 0x00, 0x00, 0x00 };
	struct probe_place p;

	/* The jcc needs 6 bytes from offset 3. */
	p = place(free_code, 8, PLACE_RDI, false);
	assert_int_equal(p.offset, 0);
	assert_false(p.emulated);
	assert_string_equal(p.insn, "test (single-stepped)");
	p = place(free_code, 9, PLACE_RDI, false);
	assert_int_equal(p.offset, 3);
	p = place(free_code, 2, PLACE_RDI, false);
	assert_int_equal(p.offset, 0);
	assert_string_equal(p.insn, "undecoded (single-stepped)");
	p = place(free_code, 0, PLACE_RDI, false);
	assert_int_equal(p.offset, 0);
	assert_false(p.emulated);
	assert_int_equal(probe_place(NULL, 4, PLACE_RDI, false, &p), -EINVAL);
	assert_int_equal(probe_place(free_code, sizeof(free_code), PLACE_RDI, false, NULL),
			 -EINVAL);
}

static void test_walk_is_capped(void **state)
{
	/* At most 8 instructions: 7 skipped, then push, is found; 8 skipped is too far. */
	static const uint8_t test_rdi[] = { 0x48, 0x85, 0xff };
	static const uint8_t mov_rax[] = { 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t tests[8 * 3 + 1], movabs[4 * 10 + 1];
	int i;

	for (i = 0; i < 8; i++)
		memcpy(tests + 3 * i, test_rdi, sizeof(test_rdi));
	tests[21] = 0x55;
	assert_int_equal(place(tests, 22, PLACE_RDI, true).offset, 21);
	memcpy(tests + 21, test_rdi, sizeof(test_rdi));
	tests[24] = 0x55;
	assert_int_equal(place(tests, 25, PLACE_RDI, true).offset, 0);

	/* Three 10-byte movabs reach offset 30, four reach 40: past 32 bytes. */
	for (i = 0; i < 4; i++)
		memcpy(movabs + 10 * i, mov_rax, sizeof(mov_rax));
	movabs[30] = 0x55;
	assert_int_equal(place(movabs, 31, PLACE_RDI, true).offset, 30);
	movabs[30] = mov_rax[0];
	movabs[40] = 0x55;
	assert_int_equal(place(movabs, 41, PLACE_RDI, true).offset, 0);
}

static void test_jump_back_into_prologue(void **state)
{
	/*
	 * 0: xor %eax,%eax; 2: je 9; 4: inc %rax; 7: jmp 2; 9: ret
	 * A probe at 2 would also fire for every jmp 2.
	 */
	static const uint8_t loop_to_2[] = { 0x31, 0xc0, 0x74, 0x05, 0x48,
					     0xff, 0xc0, 0xeb, 0xf9, 0xc3 };
	/* The same, looping to 0: that hits an entry probe too. */
	static const uint8_t loop_to_0[] = { 0x31, 0xc0, 0x74, 0x05, 0x48,
					     0xff, 0xc0, 0xeb, 0xf7, 0xc3 };

	assert_place(loop_to_2, PLACE_RDI, false, 0, false, "xor (single-stepped)");
	assert_place(loop_to_0, PLACE_RDI, false, 2, true, "jcc rel8");
	/* Not seen when the caller passes only the prologue. */
	assert_int_equal(place(loop_to_2, 4, PLACE_RDI, false).offset, 2);
}

/*
 * The allocator entries of Debian 12's libc6 2.36-9+deb12u14 (x86-64), the
 * instruction boundaries objdump -d prints for their first 40 bytes, and the
 * placement for the arguments bpfprof reads.
 */
struct libc_fn {
	const char *name;
	unsigned args;
	bool needs_return;
	uint8_t code[48];
	size_t len;
	uint8_t starts[16];
	size_t nstarts;
	uint32_t offset;
	bool emulated;
	const char *insn;
};

static const struct libc_fn libc_fns[] = {
	{ "malloc",
	  PLACE_RDI,
	  true,
	  { 0x41, 0x54, 0x55, 0x53, 0x48, 0x89, 0xfb, 0x48, 0x83, 0xec, 0x10,
	    0x80, 0x3d, 0x46, 0x1b, 0x14, 0x00, 0x00, 0x0f, 0x84, 0xf8, 0x01,
	    0x00, 0x00, 0x48, 0x85, 0xdb, 0x0f, 0x88, 0xfd, 0x01, 0x00, 0x00,
	    0x48, 0x8d, 0x43, 0x17, 0x31, 0xed, 0x48, 0x83, 0xf8, 0x1f },
	  43,
	  { 0, 2, 3, 4, 7, 11, 18, 24, 27, 33, 37, 39 },
	  12,
	  0,
	  true,
	  "push %r12" },
	{ "free",
	  PLACE_RDI,
	  false,
	  { 0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf, 0x00, 0x00, 0x00, 0x55, 0x48,
	    0x8d, 0x77, 0xf0, 0x53, 0x48, 0x83, 0xec, 0x18, 0x48, 0x8b, 0x1d,
	    0xd6, 0x9e, 0x13, 0x00, 0x48, 0x8b, 0x47, 0xf8, 0x64, 0x8b, 0x2b,
	    0xa8, 0x02, 0x75, 0x5b, 0x48, 0x8b, 0x15, 0x5c, 0x9e, 0x13, 0x00 },
	  44,
	  { 0, 3, 9, 10, 14, 15, 19, 26, 30, 33, 35, 37 },
	  12,
	  3,
	  true,
	  "jcc rel32" },
	{ "calloc",
	  PLACE_RDI | PLACE_RSI,
	  true,
	  { 0x41, 0x55, 0x48, 0x89, 0xf8, 0x41, 0x54, 0x55, 0x53, 0x48, 0x83,
	    0xec, 0x18, 0x48, 0xf7, 0xe6, 0x48, 0x89, 0xc3, 0x0f, 0x90, 0xc0,
	    0x48, 0x85, 0xdb, 0x0f, 0x88, 0xd9, 0x02, 0x00, 0x00, 0x0f, 0xb6,
	    0xc0, 0x48, 0x85, 0xc0, 0x0f, 0x85, 0xcd, 0x02, 0x00, 0x00 },
	  43,
	  { 0, 2, 5, 7, 8, 9, 13, 16, 19, 22, 25, 31, 34, 37 },
	  14,
	  0,
	  true,
	  "push %r13" },
	{ "realloc",
	  PLACE_RDI | PLACE_RSI,
	  true,
	  { 0x41, 0x57, 0x41, 0x56, 0x41, 0x55, 0x41, 0x54, 0x55, 0x48, 0x89, 0xf5, 0x53, 0x48,
	    0x89, 0xfb, 0x48, 0x83, 0xec, 0x28, 0x80, 0x3d, 0x3d, 0x13, 0x14, 0x00, 0x00, 0x0f,
	    0x84, 0x57, 0x01, 0x00, 0x00, 0x48, 0x85, 0xed, 0x75, 0x22, 0x48, 0x85, 0xdb },
	  41,
	  { 0, 2, 4, 6, 8, 9, 12, 13, 16, 20, 27, 33, 36, 38 },
	  14,
	  0,
	  true,
	  "push %r15" },
	{ "posix_memalign",
	  PLACE_RDI | PLACE_RSI | PLACE_RDX,
	  true,
	  { 0x80, 0x3d, 0x01, 0x02, 0x14, 0x00, 0x00, 0x41, 0x54, 0x49, 0x89, 0xd4, 0x55, 0x48,
	    0x89, 0xfd, 0x53, 0x48, 0x89, 0xf3, 0x74, 0x5a, 0x48, 0x89, 0xda, 0x48, 0xc1, 0xea,
	    0x03, 0x48, 0x8d, 0x42, 0xff, 0x48, 0x21, 0xd0, 0x48, 0x89, 0xda, 0x83, 0xe2, 0x07 },
	  42,
	  { 0, 7, 9, 12, 13, 16, 17, 20, 22, 25, 29, 33, 36, 39 },
	  14,
	  7,
	  true,
	  "push %r12" },
	{ "aligned_alloc",
	  PLACE_RDI | PLACE_RSI,
	  true,
	  { 0x80, 0x3d, 0x71, 0x0e, 0x14, 0x00, 0x00, 0x74, 0x07, 0xe9, 0x32,
	    0xf6, 0xff, 0xff, 0x66, 0x90, 0x48, 0x83, 0xec, 0x18, 0x48, 0x89,
	    0x74, 0x24, 0x08, 0x48, 0x89, 0x3c, 0x24, 0xe8, 0xbe, 0xbc, 0xff,
	    0xff, 0x48, 0x8b, 0x74, 0x24, 0x08, 0x48, 0x8b, 0x3c, 0x24 },
	  43,
	  { 0, 7, 9, 14, 16, 20, 25, 29, 34, 39 },
	  10,
	  7,
	  true,
	  "jcc rel8" },
	{ "memalign",
	  PLACE_RDI | PLACE_RSI,
	  true,
	  { 0x80, 0x3d, 0x71, 0x0e, 0x14, 0x00, 0x00, 0x74, 0x07, 0xe9, 0x32,
	    0xf6, 0xff, 0xff, 0x66, 0x90, 0x48, 0x83, 0xec, 0x18, 0x48, 0x89,
	    0x74, 0x24, 0x08, 0x48, 0x89, 0x3c, 0x24, 0xe8, 0xbe, 0xbc, 0xff,
	    0xff, 0x48, 0x8b, 0x74, 0x24, 0x08, 0x48, 0x8b, 0x3c, 0x24 },
	  43,
	  { 0, 7, 9, 14, 16, 20, 25, 29, 34, 39 },
	  10,
	  7,
	  true,
	  "jcc rel8" },
	{ "valloc",
	  PLACE_RDI,
	  true,
	  { 0x80, 0x3d, 0x31, 0x0e, 0x14, 0x00, 0x00, 0x53, 0x48, 0x89, 0xfb, 0x74, 0x1b, 0x48,
	    0x8b, 0x05, 0x34, 0x98, 0x13, 0x00, 0x48, 0x89, 0xde, 0x5b, 0x48, 0x8b, 0x78, 0x18,
	    0xe9, 0xdf, 0xf5, 0xff, 0xff, 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00 },
	  40,
	  { 0, 7, 8, 11, 13, 20, 23, 24, 28, 33 },
	  10,
	  7,
	  true,
	  "push %rbx" },
	{ "pvalloc",
	  PLACE_RDI,
	  true,
	  { 0x80, 0x3d, 0x01, 0x0e, 0x14, 0x00, 0x00, 0x53, 0x48, 0x89, 0xfb, 0x74, 0x2b, 0x48,
	    0x8b, 0x05, 0x04, 0x98, 0x13, 0x00, 0x48, 0x8b, 0x78, 0x18, 0x48, 0x8d, 0x47, 0xff,
	    0x48, 0x01, 0xd8, 0x72, 0x1e, 0xbe, 0x01, 0x00, 0x00, 0x00, 0x5b, 0x48, 0x29, 0xfe },
	  42,
	  { 0, 7, 8, 11, 13, 20, 24, 28, 31, 33, 38, 39 },
	  12,
	  7,
	  true,
	  "push %rbx" },
	/* mul %rdx writes %rdx, an argument: no better place than the entry. */
	{ "reallocarray",
	  PLACE_RDI | PLACE_RSI | PLACE_RDX,
	  true,
	  { 0x48, 0x89, 0xf0, 0x48, 0xf7, 0xe2, 0x48, 0x89, 0xc6, 0x70, 0x05,
	    0xe9, 0x40, 0xb8, 0xf8, 0xff, 0x48, 0x8b, 0x05, 0xe9, 0x85, 0x13,
	    0x00, 0x64, 0xc7, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x31, 0xc0, 0xc3,
	    0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 },
	  43,
	  { 0, 3, 6, 9, 11, 16, 23, 30, 32, 33 },
	  10,
	  0,
	  false,
	  "mov (single-stepped)" },
};

/* Decodes code[0, 40) and compares the instruction starts with objdump's. */
static void check_boundaries(const struct libc_fn *fn, const uint8_t *code)
{
	size_t off = 0, i = 0;
	int n;

	while (off < 40) {
		n = x86_insn_len(code + off, fn->len - off);
		if (n <= 0)
			fail_msg("%s+%zu: not decoded", fn->name, off);
		if (i >= fn->nstarts || fn->starts[i] != off)
			fail_msg("%s: instruction %zu at %zu, objdump says %d", fn->name, i, off,
				 i < fn->nstarts ? fn->starts[i] : -1);
		off += n;
		i++;
	}
	assert_int_equal(i, fn->nstarts);
	assert_int_equal(off, fn->len);
}

static void check_place(const struct libc_fn *fn, const uint8_t *code, size_t len)
{
	struct probe_place p = place(code, len, fn->args, fn->needs_return);

	if (p.offset != fn->offset || p.emulated != fn->emulated || strcmp(p.insn, fn->insn))
		fail_msg("%s: offset %u emulated %d \"%s\", want %u %d \"%s\"", fn->name, p.offset,
			 p.emulated, p.insn, fn->offset, fn->emulated, fn->insn);
}

static void test_libc_snapshot(void **state)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(libc_fns); i++) {
		check_boundaries(&libc_fns[i], libc_fns[i].code);
		check_place(&libc_fns[i], libc_fns[i].code, libc_fns[i].len);
	}
}

/*
 * The same on the running libc's code, given whole (its symbol's size) as
 * bpfprof would: when it is the build above, its bytes must agree with the
 * snapshot and place the same.
 */
static void test_libc_running(void **state)
{
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	size_t i, same = 0;

	assert_non_null(libc);
	for (i = 0; i < ARRAY_SIZE(libc_fns); i++) {
		const struct libc_fn *fn = &libc_fns[i];
		const uint8_t *code = dlsym(libc, fn->name);
		const ElfW(Sym) *sym = NULL;
		Dl_info info;
		size_t len;

		assert_non_null(code);
		if (!dladdr1(code, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym)
			fail_msg("%s: no symbol size", fn->name);
		len = sym->st_size; /* reallocarray's 33 bytes are followed by padding */
		if (memcmp(code, fn->code, fn->len)) {
			print_message("%s: not the libc of the snapshot, not compared\n", fn->name);
			continue;
		}
		same++;
		check_boundaries(fn, code);
		check_place(fn, code, len);
	}
	dlclose(libc);
	if (!same)
		skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glibc_free_prologue),
		cmocka_unit_test(test_emulated_entry),
		cmocka_unit_test(test_rsp_is_never_skipped),
		cmocka_unit_test(test_endbr64),
		cmocka_unit_test(test_argument_writes),
		cmocka_unit_test(test_rip_relative),
		cmocka_unit_test(test_nops),
		cmocka_unit_test(test_prefixed_branches),
		cmocka_unit_test(test_not_understood_stops),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_walk_is_capped),
		cmocka_unit_test(test_jump_back_into_prologue),
		cmocka_unit_test(test_libc_snapshot),
		cmocka_unit_test(test_libc_running),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
