// SPDX-License-Identifier: Apache-2.0
/*
 * Probe placement from the decoded instructions (heap/x86.c): effects for
 * a short whitelist, and what the kernel emulates, which is taken
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

#include "heap/place.h"
#include "heap/x86.h"

#define WALK_MAX_BYTES 32
#define WALK_MAX_INSNS 8

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
	return x86_modrm_reg(in) | (in->rex & REX_R ? 8 : 0);
}

/*
 * The GPRs written through the r/m operand as a destination.  A store
 * through %rsp may change the return address or stack arguments a probe
 * looks at: it counts as a write of %rsp, never skipped.
 */
static unsigned rm_dest(const struct insn *in, bool byte)
{
	if (x86_modrm_mod(in) == 3)
		return gpr_mask(x86_modrm_rm(in) | (in->rex & REX_B ? 8 : 0), byte, in);
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
			return x86_modrm_reg(in) == 0 ? 0 : -1;
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
		*name = alu_names[x86_modrm_reg(in)];
		if (x86_modrm_reg(in) == 7)
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
		return x86_modrm_reg(in) == 0 ? 0 : -1;
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
		if (x86_modrm_mod(in) == 3)
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
		if (x86_modrm_reg(in) != 0)
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

	while (pos < len && x86_decode(code + pos, len - pos, &in) > 0) {
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

	if (x86_decode(code, len, &in) < 0) {
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
		if (x86_decode(code + off, len - off, &in) < 0)
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
