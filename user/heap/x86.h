/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small x86-64 instruction decoder: lengths for the common one- and
 * two-byte opcode maps, with the prefixes, REX, ModRM and SIB bytes that
 * tell an instruction's effects (user/heap/place.c decides from them).
 */
#ifndef BPFPROF_HEAP_X86_H
#define BPFPROF_HEAP_X86_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INSN_MAX_LEN 15

#define REG_RSP 4
#define REX_W 8
#define REX_R 4
#define REX_X 2
#define REX_B 1

/* Legacy prefixes seen, as bits. */
enum {
	PFX_66 = 1,    /* operand size */
	PFX_67 = 2,    /* address size */
	PFX_F2 = 4,    /* repne */
	PFX_F3 = 8,    /* rep, and endbr64's mandatory prefix */
	PFX_FSGS = 16, /* 64, 65: segment overrides that mean something in 64-bit mode */
	PFX_BAD = 32,  /* 26, 2e, 36, 3e, f0: uprobes refuse these */
};

enum imm_kind {
	IMM_NONE,
	IMM_8,
	IMM_16,
	IMM_Z,	   /* 16 or 32 bits by operand size */
	IMM_V,	   /* b8-bf: 64 bits with REX.W, else as IMM_Z */
	IMM_MOFFS, /* a0-a3: 64-bit address, 32 with 67 */
	IMM_ENTER, /* c8: 16 + 8 */
	IMM_REL32, /* near call/jmp/jcc: with 66, Intel and AMD disagree */
};

struct insn {
	uint8_t len;
	uint8_t npfx; /* legacy prefix bytes */
	uint8_t pfx;  /* PFX_* */
	uint8_t rex;  /* 0 when none */
	bool twobyte; /* 0f map */
	uint8_t op;
	bool has_modrm;
	uint8_t modrm;
	bool has_sib;
	uint8_t sib;
};

/* The fields of the ModRM byte; the register ones without REX. */
int x86_modrm_mod(const struct insn *in);
int x86_modrm_reg(const struct insn *in);
int x86_modrm_rm(const struct insn *in);

/* Decodes the instruction at code into in; its length, or -1 when not decoded. */
int x86_decode(const uint8_t *code, size_t len, struct insn *in);

/* Length of the instruction at code, or -1 when not decoded (kept for tests and -v). */
int x86_insn_len(const uint8_t *code, size_t len);

#endif
