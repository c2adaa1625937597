// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bpfprof/types.h"
#include "symbolize/jit.h"
#include "unwind/jitcode.h"

/* One function of generated code with a table: rows relative to start, the last "no CFI". */
struct jfunc {
	uint64_t start, size;
	struct unwind_row *rows;
	uint32_t n;
};

struct jitcode {
	struct jitdump jd;
	struct jfunc *f; /* sorted by start, not overlapping */
	size_t n, cap;
	size_t rows;
	bool changed;
	struct jitcode_stats stats;
};

static void jc_load(void *ctx, uint64_t addr, uint64_t size, const unsigned char *eh,
		    size_t eh_size)
{
	jitcode__load(ctx, addr, size, eh, eh_size);
}

static void jc_move(void *ctx, uint64_t old_addr, uint64_t new_addr, uint64_t size)
{
	jitcode__move(ctx, old_addr, new_addr, size);
}

static void clear(struct jitcode *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->f[i].rows);
	c->changed |= c->n > 0;
	c->n = 0;
	c->rows = 0;
}

static void jc_reset(void *ctx)
{
	clear(ctx);
}

static const struct jitdump_ops jitcode_ops = {
	.load = jc_load,
	.move = jc_move,
	.reset = jc_reset,
};

struct jitcode *jitcode__new(void)
{
	struct jitcode *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->jd.ops = &jitcode_ops;
	c->jd.ops_ctx = c;
	return c;
}

void jitcode__free(struct jitcode *c)
{
	if (!c)
		return;
	clear(c);
	free(c->f);
	jitdump__fini(&c->jd);
	free(c);
}

/* The first function ending after addr (ends are sorted as starts are). */
static size_t first_after(const struct jitcode *c, uint64_t addr)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->f[mid].start + c->f[mid].size <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Forgets the functions overlapping [lo, hi): code was loaded or moved over them. */
static void remove_range(struct jitcode *c, uint64_t lo, uint64_t hi)
{
	size_t i = first_after(c, lo), j;

	for (j = i; j < c->n && c->f[j].start < hi; j++) {
		free(c->f[j].rows);
		c->rows -= c->f[j].n;
		c->stats.replaced++;
	}
	if (j == i)
		return;
	memmove(&c->f[i], &c->f[j], (c->n - j) * sizeof(*c->f));
	c->n -= j - i;
	c->changed = true;
}

/* Adds f where its start sorts (its range is free). */
static int insert(struct jitcode *c, const struct jfunc *f)
{
	size_t i;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct jfunc *grown = realloc(c->f, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		c->f = grown;
		c->cap = cap;
	}
	i = first_after(c, f->start);
	memmove(&c->f[i + 1], &c->f[i], (c->n - i) * sizeof(*c->f));
	c->f[i] = *f;
	c->n++;
	c->rows += f->n;
	c->changed = true;
	return 0;
}

/*
 * The rows of the code only: a rule past its end (an FDE longer than the
 * code) would sort after the next function's start.  Ends with "no CFI".
 */
static void clip(struct unwind_table *t, uint64_t size)
{
	while (t->n && t->rows[t->n - 1].pc >= size)
		t->n--;
	if (t->n && t->rows[t->n - 1].cfa == UNWIND_NONE)
		return;
	/* n < the table's room: at least one row was cut, or the last one is not "none". */
	t->rows[t->n++] = (struct unwind_row){ .pc = (uint32_t)size, .cfa = UNWIND_NONE };
}

void jitcode__load(struct jitcode *c, uint64_t addr, uint64_t size, const unsigned char *eh,
		   size_t eh_size)
{
	struct unwind_table t;
	struct jfunc f;
	int err;

	c->stats.loads++;
	if (!size || addr + size < addr)
		return;
	remove_range(c, addr, addr + size);
	if (!eh)
		return; /* no table: frame pointers there */
	/* The runtime put the .eh_frame right after the code, at the next 8 bytes. */
	err = unwind_table__from_eh_frame(eh, eh_size, addr + ((size + 7) & ~7ULL), addr, size, &t);
	if (err) {
		if (err != -ENOMEM)
			c->stats.bad_tables++;
		return;
	}
	if (t.rows[t.n - 1].cfa != UNWIND_NONE || t.rows[t.n - 1].pc >= size) {
		/* Room for the closing row. */
		struct unwind_row *rows = realloc(t.rows, (t.n + 1) * sizeof(*rows));

		if (!rows) {
			unwind_table__free(&t);
			return;
		}
		t.rows = rows;
	}
	clip(&t, size);
	if (t.n < 2 || c->rows + t.n > JITCODE_MAX_ROWS) {
		c->stats.dropped += t.n >= 2;
		c->stats.bad_tables += t.n < 2;
		unwind_table__free(&t);
		return;
	}
	f = (struct jfunc){ .start = addr, .size = size, .rows = t.rows, .n = (uint32_t)t.n };
	if (insert(c, &f))
		unwind_table__free(&t);
}

void jitcode__move(struct jitcode *c, uint64_t old_addr, uint64_t new_addr, uint64_t size)
{
	size_t i = first_after(c, old_addr);
	struct jfunc f;

	if (!size || new_addr + size < new_addr)
		return;
	if (i < c->n && c->f[i].start == old_addr) {
		f = c->f[i];
		memmove(&c->f[i], &c->f[i + 1], (c->n - i - 1) * sizeof(*c->f));
		c->n--;
		c->rows -= f.n;
		remove_range(c, new_addr, new_addr + f.size);
		f.start = new_addr;
		if (insert(c, &f))
			free(f.rows);
		c->changed = true;
		return;
	}
	/* Code without a table moved over described code: that is gone. */
	remove_range(c, new_addr, new_addr + size);
}

int jitcode__read(struct jitcode *c, const char *root, const char *path)
{
	int err;

	c->changed = false;
	err = jitdump__read_in(&c->jd, root, path, NULL);
	if (err)
		return err;
	return c->changed;
}

int jitcode__table(struct jitcode *c, jitcode_keep_fn keep, void *ctx, uint64_t *base,
		   struct unwind_table *out)
{
	size_t i, j, n = 0, rows = 0;
	bool have_base = false;
	uint64_t off;
	int k;

	memset(out, 0, sizeof(*out));
	/* Forget what was unmapped, and count the rows of what stays. */
	for (i = 0; i < c->n; i++) {
		k = keep(ctx, c->f[i].start, c->f[i].start + c->f[i].size);
		if (k < 0) {
			free(c->f[i].rows);
			c->rows -= c->f[i].n;
			continue;
		}
		c->f[n++] = c->f[i];
		if (k > 0)
			rows += c->f[n - 1].n;
	}
	c->n = n;
	if (!rows)
		return -ENOENT;
	out->rows = malloc(rows * sizeof(*out->rows));
	if (!out->rows)
		return -ENOMEM;
	for (i = 0; i < c->n; i++) {
		const struct jfunc *f = &c->f[i];

		if (keep(ctx, f->start, f->start + f->size) <= 0)
			continue;
		if (!have_base) {
			*base = f->start & ~0xffffULL;
			have_base = true;
		}
		if (f->start + f->size - *base > UINT32_MAX)
			break; /* sorted: every one after is farther */
		off = f->start - *base;
		for (j = 0; j < f->n; j++) {
			struct unwind_row r = f->rows[j];

			r.pc += (uint32_t)off;
			/* A function starting where the one before ends: its rule wins. */
			if (out->n && out->rows[out->n - 1].pc == r.pc)
				out->n--;
			out->rows[out->n++] = r;
		}
		out->nfdes++;
	}
	return 0;
}

void jitcode__stats(const struct jitcode *c, struct jitcode_stats *out)
{
	*out = c->stats;
	out->funcs = c->n;
	out->rows = c->rows;
}
