// SPDX-License-Identifier: Apache-2.0
/* x86-64 instruction lengths and fields (see x86.h). */
#include <errno.h>
#include <string.h>

#include "heap/x86.h"

int x86_modrm_mod(const struct insn *in)
{
	return in->modrm >> 6;
}

int x86_modrm_reg(const struct insn *in)
{
	return (in->modrm >> 3) & 7;
}

int x86_modrm_rm(const struct insn *in)
{
	return in->modrm & 7;
}

static int legacy_prefix(uint8_t b)
{
	switch (b) {
	case 0x66:
		return PFX_66;
	case 0x67:
		return PFX_67;
	case 0xf2:
		return PFX_F2;
	case 0xf3:
		return PFX_F3;
	case 0x64:
	case 0x65:
		return PFX_FSGS;
	case 0x26:
	case 0x2e:
	case 0x36:
	case 0x3e:
	case 0xf0:
		return PFX_BAD;
	}
	return 0;
}

/* Operands of a one-byte opcode; -1 for invalid in 64-bit mode, VEX/EVEX, or not handled. */
static int onebyte_operands(uint8_t op, bool *modrm, enum imm_kind *imm)
{
	*modrm = false;
	*imm = IMM_NONE;
	if (op < 0x40) {
		/* The ALU rows: r/m forms, then al/ax,imm; 6 and 7 are prefixes or invalid. */
		switch (op & 7) {
		case 0 ... 3:
			*modrm = true;
			return 0;
		case 4:
			*imm = IMM_8;
			return 0;
		case 5:
			*imm = IMM_Z;
			return 0;
		}
		return -1;
	}
	switch (op) {
	case 0x50 ... 0x5f: /* push, pop */
	case 0x6c ... 0x6f: /* ins, outs */
	case 0x90 ... 0x99:
	case 0x9b ... 0x9f:
	case 0xa4 ... 0xa7:
	case 0xaa ... 0xaf:
	case 0xc3:
	case 0xc9:
	case 0xcb:
	case 0xcc:
	case 0xcf:
	case 0xd7:
	case 0xec ... 0xef:
	case 0xf1:
	case 0xf4:
	case 0xf5:
	case 0xf8 ... 0xfd:
		return 0;
	case 0x63:
	case 0x84 ... 0x8e:
	case 0xd0 ... 0xd3:
	case 0xd8 ... 0xdf:
	case 0xfe:
	case 0xff:
		*modrm = true;
		return 0;
	case 0x8f: /* pop r/m; reg != 0 is AMD's XOP, checked by the caller */
		*modrm = true;
		return 0;
	case 0x68:
	case 0xa9:
		*imm = IMM_Z;
		return 0;
	case 0x6a:
	case 0x70 ... 0x7f:
	case 0xa8:
	case 0xb0 ... 0xb7:
	case 0xcd:
	case 0xe0 ... 0xe7:
	case 0xeb:
		*imm = IMM_8;
		return 0;
	case 0x69:
	case 0x81:
	case 0xc7: /* mov r/m,imm; c7 f8 is xbegin, same shape */
		*modrm = true;
		*imm = IMM_Z;
		return 0;
	case 0x6b:
	case 0x80:
	case 0x83:
	case 0xc0:
	case 0xc1:
	case 0xc6: /* mov r/m,imm8; c6 f8 is xabort, same shape */
		*modrm = true;
		*imm = IMM_8;
		return 0;
	case 0xa0 ... 0xa3:
		*imm = IMM_MOFFS;
		return 0;
	case 0xb8 ... 0xbf:
		*imm = IMM_V;
		return 0;
	case 0xc2:
	case 0xca:
		*imm = IMM_16;
		return 0;
	case 0xc8:
		*imm = IMM_ENTER;
		return 0;
	case 0xe8:
	case 0xe9:
		*imm = IMM_REL32;
		return 0;
	case 0xf6: /* the immediate of test /0 (and its alias /1) is added by the caller */
	case 0xf7:
		*modrm = true;
		return 0;
	}
	/* 60-62 (62 is EVEX), 82, 9a, c4/c5 (VEX), ce, d4-d6, ea. */
	return -1;
}

/* Operands of a 0f xx opcode; -1 for 0f 38/0f 3a, 3DNow! and the rest we leave alone. */
static int twobyte_operands(uint8_t op, bool *modrm, enum imm_kind *imm)
{
	*modrm = false;
	*imm = IMM_NONE;
	switch (op) {
	case 0x05 ... 0x09: /* syscall, clts, sysret, invd, wbinvd */
	case 0x0b:	    /* ud2 */
	case 0x0e:
	case 0x30 ... 0x37: /* wrmsr, rdtsc, rdmsr, rdpmc, sysenter, sysexit, getsec */
	case 0x77:	    /* emms */
	case 0xa0 ... 0xa2: /* push/pop fs, cpuid */
	case 0xa8 ... 0xaa:
	case 0xc8 ... 0xcf: /* bswap */
		return 0;
	case 0x00 ... 0x03:
	case 0x0d:
	case 0x10 ... 0x1f: /* SSE moves, prefetch, hint nops, endbr */
	case 0x20 ... 0x23:
	case 0x28 ... 0x2f:
	case 0x40 ... 0x6f: /* cmovcc, SSE */
	case 0x74 ... 0x76:
	case 0x7c ... 0x7f:
	case 0x90 ... 0x9f: /* setcc */
	case 0xa3:
	case 0xa5:
	case 0xab:
	case 0xad ... 0xb9: /* ..., cmpxchg, movzx, popcnt */
	case 0xbb ... 0xc1: /* bsf, bsr, movsx, xadd */
	case 0xc3:
	case 0xc7:
	case 0xd0 ... 0xff:
		*modrm = true;
		return 0;
	case 0x70 ... 0x73:
	case 0xa4:
	case 0xac:
	case 0xba:
	case 0xc2:
	case 0xc4 ... 0xc6:
		*modrm = true;
		*imm = IMM_8;
		return 0;
	case 0x80 ... 0x8f:
		*imm = IMM_REL32;
		return 0;
	}
	return -1;
}

/* Bytes of ModRM, SIB and displacement from code[0] (the ModRM byte), or -1 past len. */
static int modrm_bytes(const uint8_t *code, size_t len, struct insn *in)
{
	int n = 1, mod, rm;

	if (len < 1)
		return -1;
	in->has_modrm = true;
	in->modrm = code[0];
	mod = x86_modrm_mod(in);
	rm = x86_modrm_rm(in);
	if (mod == 3)
		return 1;
	if (rm == 4) {
		/* SIB; a base of 5 with mod 0 means disp32 and no base. */
		if (len < 2)
			return -1;
		in->has_sib = true;
		in->sib = code[1];
		n++;
		if (mod == 0 && (in->sib & 7) == 5)
			n += 4;
	} else if (mod == 0 && rm == 5) {
		n += 4; /* rip-relative disp32 */
	}
	if (mod == 1)
		n += 1;
	else if (mod == 2)
		n += 4;
	return n;
}

static int imm_bytes(enum imm_kind imm, const struct insn *in)
{
	bool wide = in->rex & REX_W;

	switch (imm) {
	case IMM_NONE:
		return 0;
	case IMM_8:
		return 1;
	case IMM_16:
		return 2;
	case IMM_Z:
		return (in->pfx & PFX_66) && !wide ? 2 : 4;
	case IMM_V:
		if (wide)
			return 8;
		return (in->pfx & PFX_66) ? 2 : 4;
	case IMM_MOFFS:
		return (in->pfx & PFX_67) ? 4 : 8;
	case IMM_ENTER:
		return 3;
	case IMM_REL32:
		/* 66 makes it rel16 on AMD, not on Intel; REX.W overrides 66 on both. */
		return (in->pfx & PFX_66) && !wide ? -1 : 4;
	}
	return -1;
}

/* Decodes the instruction at code into in; its length, or -1. */
int x86_decode(const uint8_t *code, size_t len, struct insn *in)
{
	size_t max = len < INSN_MAX_LEN ? len : INSN_MAX_LEN, i = 0;
	enum imm_kind imm;
	bool modrm;
	int n, p;

	memset(in, 0, sizeof(*in));
	while (i < max && (p = legacy_prefix(code[i]))) {
		in->pfx |= p;
		in->npfx++;
		i++;
	}
	/* One REX, right before the opcode; anything else is an encoding we don't trust. */
	if (i < max && (code[i] & 0xf0) == 0x40) {
		in->rex = code[i++];
		if (i < max && ((code[i] & 0xf0) == 0x40 || legacy_prefix(code[i])))
			return -1;
	}
	if (i >= max)
		return -1;
	if (code[i] == 0x0f) {
		in->twobyte = true;
		if (++i >= max)
			return -1;
		in->op = code[i++];
		if (twobyte_operands(in->op, &modrm, &imm) < 0)
			return -1;
	} else {
		in->op = code[i++];
		if (onebyte_operands(in->op, &modrm, &imm) < 0)
			return -1;
	}
	if (modrm) {
		n = modrm_bytes(code + i, max - i, in);
		if (n < 0)
			return -1;
		i += n;
		if (!in->twobyte && in->op == 0x8f && x86_modrm_reg(in) != 0)
			return -1; /* XOP */
		if (!in->twobyte && (in->op == 0xf6 || in->op == 0xf7) && x86_modrm_reg(in) < 2)
			imm = in->op == 0xf6 ? IMM_8 : IMM_Z;
	}
	n = imm_bytes(imm, in);
	if (n < 0 || i + n > max)
		return -1;
	in->len = i + n;
	return in->len;
}

int x86_insn_len(const uint8_t *code, size_t len)
{
	struct insn in;

	if (!code)
		return -1;
	return x86_decode(code, len, &in);
}
