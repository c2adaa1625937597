// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/kernel.h"
#include "util/bsearch.h"
#include "util/log.h"
#include "util/util.h"

/*
 * kallsyms has a few hundred thousand lines: names go into one growing
 * arena, and the symbols hold offsets into it until loading is done and the
 * arena stops moving.
 */
struct raw_ksym {
	uint64_t addr;
	uint32_t name;	 /* arena offset */
	uint32_t module; /* arena offset, or NO_MODULE */
	uint32_t seq;	 /* line order, to keep sorting deterministic */
	uint8_t rank;	 /* preference among symbols at one address; lower wins */
};

#define NO_MODULE UINT32_MAX

/* A name that lost its address to a preferred one: still found by name. */
struct ksym_alias {
	uint64_t addr;
	const char *name;
};

struct ksyms {
	struct ksym *syms; /* sorted by addr, one per address */
	size_t n;
	char *arena;
	struct ksym_alias *aliases;
	size_t naliases;
};

struct loader {
	struct raw_ksym *raw;
	size_t n, cap;
	char *arena;
	size_t used, size;
	uint32_t last_module; /* modules come in runs: store each run's name once */
};

static int arena_add(struct loader *ld, const char *s, size_t len, uint32_t *off)
{
	if (ld->used + len + 1 > ld->size) {
		size_t size = ld->size ? ld->size * 2 : 1 << 20;
		char *arena;

		while (size < ld->used + len + 1)
			size *= 2;
		if (size > UINT32_MAX)
			return -E2BIG;
		arena = realloc(ld->arena, size);
		if (!arena)
			return -ENOMEM;
		ld->arena = arena;
		ld->size = size;
	}
	memcpy(ld->arena + ld->used, s, len);
	ld->arena[ld->used + len] = '\0';
	*off = ld->used;
	ld->used += len + 1;
	return 0;
}

/*
 * Several names often share one address (_text, _stext, ...; a function and
 * its weak alias).  Prefer global over weak over local, then names that do
 * not start with '_', as perf does.
 */
static uint8_t sym_rank(char type, const char *name)
{
	uint8_t rank = type == 'T' ? 0 : type == 'W' || type == 'w' ? 2 : 4;

	return rank + (name[0] == '_');
}

static int add_line(struct loader *ld, char *line)
{
	char *type, *name, *module, *end;
	struct raw_ksym *r;
	uint64_t addr;
	int err;

	errno = 0;
	addr = strtoull(line, &end, 16);
	if (errno || end == line || *end != ' ')
		return -EINVAL;
	type = end + 1;
	if (!type[0] || type[1] != ' ' || !type[2])
		return -EINVAL;
	if (type[0] != 't' && type[0] != 'T' && type[0] != 'w' && type[0] != 'W')
		return 0;
	name = type + 2;
	module = strchr(name, '\t');
	if (module)
		*module++ = '\0';

	r = array_grow(ld->raw, &ld->cap, ld->n, sizeof(*r), 4096);
	if (!r)
		return -ENOMEM;
	ld->raw = r;
	r = &ld->raw[ld->n];
	r->addr = addr;
	r->seq = ld->n;
	r->rank = sym_rank(type[0], name);
	r->module = NO_MODULE;
	err = arena_add(ld, name, strlen(name), &r->name);
	if (err)
		return err;
	if (module && module[0] == '[') {
		size_t len = strcspn(module + 1, "]");

		if (ld->last_module != NO_MODULE &&
		    !strncmp(ld->arena + ld->last_module, module + 1, len) &&
		    ld->arena[ld->last_module + len] == '\0') {
			r->module = ld->last_module;
		} else {
			err = arena_add(ld, module + 1, len, &r->module);
			if (err)
				return err;
			ld->last_module = r->module;
		}
	}
	ld->n++;
	return 0;
}

static int raw_cmp(const void *a, const void *b)
{
	const struct raw_ksym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return 0;
}

static int read_all(FILE *f, struct loader *ld)
{
	size_t linecap = 0, lineno = 0;
	char *line = NULL;
	ssize_t len;
	int err = 0;

	while ((len = getline(&line, &linecap, f)) >= 0) {
		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		err = add_line(ld, line);
		if (err) {
			if (err == -EINVAL)
				pr_warn("kallsyms line %zu malformed: %s\n", lineno, line);
			break;
		}
	}
	if (!err && ferror(f))
		err = -EIO;
	free(line);
	return err;
}

/* Sorts, keeps the preferred symbol of each address and resolves the offsets. */
static int finish(struct loader *ld, struct ksyms *ks)
{
	size_t i;

	qsort(ld->raw, ld->n, sizeof(*ld->raw), raw_cmp);
	ks->syms = malloc((ld->n ? ld->n : 1) * sizeof(*ks->syms));
	ks->aliases = malloc((ld->n ? ld->n : 1) * sizeof(*ks->aliases));
	if (!ks->syms || !ks->aliases)
		return -ENOMEM;
	/* Give back the doubling slack before pointers into the arena exist. */
	ks->arena = realloc(ld->arena, ld->used ? ld->used : 1);
	if (!ks->arena)
		return -ENOMEM;
	ld->arena = NULL;
	for (i = 0; i < ld->n; i++) {
		const struct raw_ksym *r = &ld->raw[i];
		struct ksym *k = &ks->syms[ks->n];

		if (ks->n && ks->syms[ks->n - 1].addr == r->addr) {
			ks->aliases[ks->naliases++] = (struct ksym_alias){
				.addr = r->addr,
				.name = ks->arena + r->name,
			};
			continue;
		}
		k->addr = r->addr;
		k->name = ks->arena + r->name;
		k->module = r->module == NO_MODULE ? NULL : ks->arena + r->module;
		ks->n++;
	}
	return 0;
}

struct ksyms *ksyms__load(const char *path)
{
	struct loader ld = { .last_module = NO_MODULE };
	struct ksyms *ks = NULL;
	FILE *f;
	int err;

	f = fopen(path, "re");
	if (!f) {
		err = -errno;
		pr_debug("cannot open %s: %s\n", path, strerror(-err));
		goto cleanup;
	}
	err = read_all(f, &ld);
	if (err)
		goto cleanup;
	if (!ld.n) {
		err = -ENOENT;
		goto cleanup;
	}
	/* Sorted, the highest address is zero only when all are: kptr_restrict hides them. */
	ks = calloc(1, sizeof(*ks));
	if (!ks) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = finish(&ld, ks);
	if (err)
		goto cleanup;
	if (ks->syms[ks->n - 1].addr == 0) {
		pr_debug("%s: all addresses are zero (kptr_restrict)\n", path);
		err = -EACCES;
	}
cleanup:
	if (f)
		fclose(f);
	free(ld.raw);
	free(ld.arena);
	if (err) {
		ksyms__free(ks);
		errno = -err;
		return NULL;
	}
	return ks;
}

const struct ksym *ksyms__find(const struct ksyms *ks, uint64_t addr)
{
	/* The last symbol whose address is <= addr. */
	return bsearch_last_le(ks->syms, ks->n, addr, addr);
}

void ksyms__range(const struct ksyms *ks, uint64_t *lo, uint64_t *hi)
{
	*lo = ks->n ? ks->syms[0].addr : 0;
	*hi = ks->n ? ks->syms[ks->n - 1].addr : 0;
}

static const char *name_of(const struct ksyms *ks, size_t idx, uint64_t *addr)
{
	if (idx < ks->n) {
		*addr = ks->syms[idx].addr;
		return ks->syms[idx].name;
	}
	*addr = ks->aliases[idx - ks->n].addr;
	return ks->aliases[idx - ks->n].name;
}

/*
 * The first of equal names wins: the preferred symbol, then aliases by
 * address.  A scan: a capture asks for a name or two (offcpu's scheduler
 * bounds), and an index of every name would keep 2 MB for them.
 */
int ksyms__addr(struct ksyms *ks, const char *name, uint64_t *addr)
{
	size_t i, total = ks->n + ks->naliases;
	uint64_t a;

	for (i = 0; i < total; i++) {
		if (!strcmp(name_of(ks, i, &a), name)) {
			*addr = a;
			return 0;
		}
	}
	return -ENOENT;
}

void ksyms__free(struct ksyms *ks)
{
	if (!ks)
		return;
	free(ks->aliases);
	free(ks->syms);
	free(ks->arena);
	free(ks);
}
