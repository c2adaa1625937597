/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where to put a uprobe near a function's entry so that the kernel emulates
 * the probed instruction instead of single-stepping it out of line (on
 * Linux 6.18, x86-64: ~0.6 us a hit against ~9.5 us).  A small x86-64
 * decoder walks the first instructions and skips those whose effects it
 * fully understands and that leave the probe's arguments, %rsp and the
 * return address as the caller left them.
 */
#ifndef BPFPROF_HEAP_PLACE_H
#define BPFPROF_HEAP_PLACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Argument registers, System V order, as a bit mask. */
enum { PLACE_RDI = 1, PLACE_RSI = 2, PLACE_RDX = 4, PLACE_RCX = 8, PLACE_R8 = 16, PLACE_R9 = 32 };

struct probe_place {
	uint32_t offset; /* bytes from the function's entry */
	bool emulated;	 /* the instruction at offset is one the kernel emulates */
	char insn[48];	 /* for -v: "jcc rel32", "push %rbp", "test (single-stepped)" */
};

/*
 * Where to put a uprobe on a function whose first len bytes are code.
 * args: the argument registers the probe reads (they must still hold the
 * caller's values at offset).  needs_return: the probe may install a return
 * probe, so %rsp must still point at the return address (nothing before
 * offset may change %rsp).  Returns 0 and fills out (offset 0 when no better
 * place is found, with emulated telling whether the entry itself is
 * emulated), or -EINVAL when code or out is NULL.
 *
 * A jump from elsewhere in the function to a point in (0, offset] (a loop
 * whose head follows a skipped instruction) would hit the probe without a
 * call: offset 0 then.  Pass the whole function (its symbol's size) for
 * that check; it sees the direct jumps as far as the bytes decode, not
 * indirect ones.
 */
int probe_place(const uint8_t *code, size_t len, unsigned args, bool needs_return,
		struct probe_place *out);

/* x86_insn_len(), the decoder's length of one instruction, is in heap/x86.h. */

#endif
