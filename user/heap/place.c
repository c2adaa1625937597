// SPDX-License-Identifier: Apache-2.0
/*
 * A small x86-64 decoder: lengths for the common one- and two-byte opcode
 * maps, effects for a short whitelist.  What the kernel emulates is taken
 * from arch/x86/kernel/uprobes.c as of Linux 6.18:
 *
 * - uprobe_init_insn() refuses any instruction with a 26/2e/36/3e (es, cs,
 *   ss, ds) or f0 (lock) prefix: no probe can go there at all.
 * - branch_setup_xol_ops() emulates jmp rel8 (eb), jmp rel32 (e9), call
 *   rel32 (e8), jcc rel8 (70-7f) and jcc rel32 (0f 80-8f), and refuses
 *   (-ENOTSUPP, the probe fails) any of them with a 66 prefix.  It also
 *   emulates, as a jmp +0, opcode 90 whatever its prefixes and an
 *   instruction whose bytes equal x86_nops[length] (the kernel's own nops,
 *   arch/x86/include/asm/nops.h; 9 to 11 bytes carry a cs prefix and are
 *   refused above).  Other 0f 1f /0 forms are single-stepped on 6.18 (from
 *   6.19 insn_is_nop() accepts any), which costs time but is harmless.
 * - push_setup_xol_ops() emulates push 50-57 alone, or with exactly the
 *   one prefix byte 41 (r8-r15); any other prefix is single-stepped.
 *
 * We claim "emulated" only for the forms listed here without other
 * prefixes (66 90 is x86_nops[2]).  Everything else is single-stepped.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "place.h"

#define WALK_MAX_BYTES 32
#define WALK_MAX_INSNS 8
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

static int modrm_mod(const struct insn *in)
{
	return in->modrm >> 6;
}

static int modrm_reg(const struct insn *in)
{
	return (in->modrm >> 3) & 7;
}

static int modrm_rm(const struct insn *in)
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
	mod = modrm_mod(in);
	rm = modrm_rm(in);
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
static int decode(const uint8_t *code, size_t len, struct insn *in)
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
		if (!in->twobyte && in->op == 0x8f && modrm_reg(in) != 0)
			return -1; /* XOP */
		if (!in->twobyte && (in->op == 0xf6 || in->op == 0xf7) && modrm_reg(in) < 2)
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
	return decode(code, len, &in);
}

/* x86_nops[1..8] of a 64-bit kernel, the nops branch_setup_xol_ops() emulates on 6.18. */
static const char *const kernel_nops[] = {
	"\x90",
	"\x66\x90",
	"\x0f\x1f\x00",
	"\x0f\x1f\x40\x00",
	"\x0f\x1f\x44\x00\x00",
	"\x66\x0f\x1f\x44\x00\x00",
	"\x0f\x1f\x80\x00\x00\x00\x00",
	"\x0f\x1f\x84\x00\x00\x00\x00\x00",
};

static const char *const reg_names[16] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15",
};

static const char *const alu_names[8] = { "add", "or", "adc", "sbb", "and", "sub", "xor", "cmp" };

static bool is_jcc_rel32(const struct insn *in)
{
	return in->twobyte && in->op >= 0x80 && in->op <= 0x8f;
}

static bool is_rel_branch(const struct insn *in)
{
	if (in->twobyte)
		return is_jcc_rel32(in);
	return (in->op >= 0x70 && in->op <= 0x7f) || (in->op >= 0xe0 && in->op <= 0xe3) ||
	       in->op == 0xe8 || in->op == 0xe9 || in->op == 0xeb;
}

/* Is the instruction at code one the kernel emulates?  Names it in name. */
static bool kernel_emulates(const uint8_t *code, const struct insn *in, char *name, size_t size)
{
	if (in->len <= sizeof(kernel_nops) / sizeof(kernel_nops[0]) &&
	    !memcmp(code, kernel_nops[in->len - 1], in->len)) {
		if (in->len == 1)
			snprintf(name, size, "nop");
		else
			snprintf(name, size, "nop (%d bytes)", in->len);
		return true;
	}
	if (in->npfx)
		return false;
	if (!in->twobyte && in->op >= 0x50 && in->op <= 0x57 && (!in->rex || in->rex == 0x41)) {
		snprintf(name, size, "push %%%s", reg_names[(in->op & 7) | (in->rex ? 8 : 0)]);
		return true;
	}
	if (in->rex)
		return false;
	if (is_jcc_rel32(in))
		snprintf(name, size, "jcc rel32");
	else if (in->twobyte)
		return false;
	else if (in->op >= 0x70 && in->op <= 0x7f)
		snprintf(name, size, "jcc rel8");
	else if (in->op == 0xeb)
		snprintf(name, size, "jmp rel8");
	else if (in->op == 0xe9)
		snprintf(name, size, "jmp rel32");
	else if (in->op == 0xe8)
		snprintf(name, size, "call rel32");
	else
		return false;
	return true;
}

/* The 16 GPRs a write to register num touches; without REX, byte registers 4-7 are ah-bh. */
static unsigned gpr_mask(int num, bool byte, const struct insn *in)
{
	if (byte && !in->rex && num >= 4 && num < 8)
		return 1u << num | 1u << (num - 4);
	return 1u << num;
}

static int reg_num(const struct insn *in)
{
	return modrm_reg(in) | (in->rex & REX_R ? 8 : 0);
}

/*
 * The GPRs written through the r/m operand as a destination.  A store
 * through %rsp may change the return address or stack arguments a probe
 * looks at: it counts as a write of %rsp, never skipped.
 */
static unsigned rm_dest(const struct insn *in, bool byte)
{
	if (modrm_mod(in) == 3)
		return gpr_mask(modrm_rm(in) | (in->rex & REX_B ? 8 : 0), byte, in);
	if (in->has_sib && ((in->sib & 7) | (in->rex & REX_B ? 8 : 0)) == REG_RSP)
		return 1u << REG_RSP;
	return 0;
}

/*
 * For an instruction on the whitelist (no control flow, effects fully
 * known), the GPRs it writes into *writes, as a 16-bit mask, and 0; -1 for
 * anything else.
 */
static int whitelist_effects(const struct insn *in, const char **name, unsigned *writes)
{
	uint8_t op = in->op;
	bool byte = !(op & 1);

	*writes = 0;
	*name = NULL;
	if (in->twobyte && op == 0x1e && in->pfx == PFX_F3 && in->npfx == 1 && !in->rex &&
	    in->modrm == 0xfa) {
		*name = "endbr64";
		return 0;
	}
	/* rep/repne change what an opcode means; bad prefixes can't be probed anyway. */
	if (in->pfx & (PFX_F2 | PFX_F3 | PFX_BAD))
		return -1;
	if (in->twobyte) {
		switch (op) {
		case 0x1f:
			*name = "nopl";
			return modrm_reg(in) == 0 ? 0 : -1;
		case 0xb6:
		case 0xb7:
			*name = "movzx";
			*writes = gpr_mask(reg_num(in), false, in);
			return 0;
		case 0xbe:
		case 0xbf:
			*name = "movsx";
			*writes = gpr_mask(reg_num(in), false, in);
			return 0;
		}
		return -1;
	}
	if (op < 0x40 && (op & 7) <= 5) {
		*name = alu_names[op >> 3];
		if (op >> 3 == 7) /* cmp */
			return 0;
		switch (op & 7) {
		case 0:
		case 1:
			*writes = rm_dest(in, byte);
			return 0;
		case 2:
		case 3:
			*writes = gpr_mask(reg_num(in), !(op & 1), in);
			return 0;
		default: /* al/eax, imm */
			*writes = 1;
			return 0;
		}
	}
	switch (op) {
	case 0x80:
	case 0x81:
	case 0x83:
		*name = alu_names[modrm_reg(in)];
		if (modrm_reg(in) == 7)
			return 0;
		*writes = rm_dest(in, op == 0x80);
		return 0;
	case 0x84:
	case 0x85:
	case 0xa8:
	case 0xa9:
		*name = "test";
		return 0;
	case 0xf6:
	case 0xf7:
		*name = "test";
		return modrm_reg(in) == 0 ? 0 : -1;
	case 0x88:
	case 0x89:
		*name = "mov";
		*writes = rm_dest(in, byte);
		return 0;
	case 0x8a:
	case 0x8b:
		*name = "mov";
		*writes = gpr_mask(reg_num(in), byte, in);
		return 0;
	case 0x8d:
		*name = "lea";
		if (modrm_mod(in) == 3)
			return -1;
		*writes = gpr_mask(reg_num(in), false, in);
		return 0;
	case 0x63:
		*name = "movsxd";
		*writes = gpr_mask(reg_num(in), false, in);
		return 0;
	case 0xb0 ... 0xbf:
		*name = "mov";
		*writes = gpr_mask((op & 7) | (in->rex & REX_B ? 8 : 0), op < 0xb8, in);
		return 0;
	case 0xc6:
	case 0xc7:
		*name = "mov";
		if (modrm_reg(in) != 0)
			return -1;
		*writes = rm_dest(in, op == 0xc6);
		return 0;
	}
	return -1;
}

/* The argument registers of args as a mask of GPRs. */
static unsigned arg_gprs(unsigned args)
{
	static const int regs[] = { 7, 6, 2, 1, 8, 9 }; /* rdi, rsi, rdx, rcx, r8, r9 */
	unsigned mask = 0;
	size_t i;

	for (i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		if (args & 1u << i)
			mask |= 1u << regs[i];
	return mask;
}

/* The target of a direct branch, relative to code (where the branch is at pos). */
static long branch_target(const uint8_t *code, size_t pos, const struct insn *in)
{
	const uint8_t *end = code + pos + in->len;
	int32_t rel;

	if (in->twobyte || in->op == 0xe8 || in->op == 0xe9) {
		rel = (int32_t)((uint32_t)end[-4] | (uint32_t)end[-3] << 8 |
				(uint32_t)end[-2] << 16 | (uint32_t)end[-1] << 24);
	} else {
		rel = (int8_t)end[-1];
	}
	return (long)(pos + in->len) + rel;
}

/*
 * Does a direct branch in code[from, len) land in (0, off]?  The probe at
 * off would then also fire for that jump, not only for calls.  Looks as
 * far as the bytes decode.
 */
static bool branch_into(const uint8_t *code, size_t len, size_t from, size_t off)
{
	struct insn in;
	size_t pos = from;
	long target;

	while (pos < len && decode(code + pos, len - pos, &in) > 0) {
		if (is_rel_branch(&in)) {
			target = branch_target(code, pos, &in);
			if (target > 0 && (size_t)target <= off)
				return true;
		}
		pos += in.len;
	}
	return false;
}

/* Describes the (not emulated) entry instruction for -v. */
static void describe_entry(const uint8_t *code, size_t len, char *buf, size_t size)
{
	const char *name;
	unsigned writes;
	struct insn in;

	if (decode(code, len, &in) < 0) {
		snprintf(buf, size, "undecoded (single-stepped)");
		return;
	}
	if ((in.pfx & PFX_BAD) || (is_rel_branch(&in) && (in.pfx & PFX_66))) {
		snprintf(buf, size, "prefixed (refused by uprobes)");
		return;
	}
	if (whitelist_effects(&in, &name, &writes) == 0)
		snprintf(buf, size, "%s (single-stepped)", name);
	else if (in.twobyte)
		snprintf(buf, size, "op 0f %02x (single-stepped)", in.op);
	else
		snprintf(buf, size, "op %02x (single-stepped)", in.op);
}

int probe_place(const uint8_t *code, size_t len, unsigned args, bool needs_return,
		struct probe_place *out)
{
	/*
	 * Nothing on the whitelist writes %rsp (it is always forbidden
	 * below), so %rsp holds the return address wherever the walk stops,
	 * as needs_return asks.
	 */
	unsigned forbidden = arg_gprs(args) | 1u << REG_RSP, writes;
	size_t off = 0;
	const char *name;
	struct insn in;
	int n;

	if (!code || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	for (n = 0; n < WALK_MAX_INSNS && off < WALK_MAX_BYTES; n++) {
		if (decode(code + off, len - off, &in) < 0)
			break;
		if (kernel_emulates(code + off, &in, out->insn, sizeof(out->insn))) {
			if (off && branch_into(code, len, off, off))
				break;
			out->offset = off;
			out->emulated = true;
			return 0;
		}
		if (whitelist_effects(&in, &name, &writes) < 0 || (writes & forbidden))
			break;
		off += in.len;
	}
	out->offset = 0;
	out->emulated = false;
	describe_entry(code, len, out->insn, sizeof(out->insn));
	return 0;
}
