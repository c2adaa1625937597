// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/diff.h"
#include "profile/profile.h"
#include "report/report.h"
#include "util/hash.h"
#include "util/util.h"

struct acc {
	int64_t flat, cum;
	size_t last_sample; /* sample index + 1 that last added to cum */
	const char *name;
};

/* The last component of the file of loc's mapping; NULL without a mapping. */
static const char *mapping_base(const struct profile *p, const struct pf_location *loc)
{
	const struct pf_mapping *m = profile__mapping(p, loc->mapping_id);

	return m ? path_base(profile__str(p, m->filename)) : NULL;
}

/* Whether loc was named from a runtime's perf map or jitdump (its mapping's file). */
static bool is_jit(const struct profile *p, const struct pf_location *loc)
{
	const char *base = mapping_base(p, loc);
	size_t len;

	if (!base)
		return false;
	len = strlen(base);
	return (len > 9 && !strncmp(base, "perf-", 5) && !strcmp(base + len - 4, ".map")) ||
	       (len > 9 && !strncmp(base, "jit-", 4) && !strcmp(base + len - 5, ".dump"));
}

/*
 * A location without lines is named by its address, as pprof does.  With
 * mark, a function of generated code is marked " [jit]" (in buf).
 */
static const char *frame_name(const struct profile *p, const struct pf_location *loc, size_t line,
			      char *buf, size_t len, bool mark)
{
	const struct pf_function *f;

	if (line < loc->nlines) {
		f = profile__function(p, loc->lines[line].function_id);
		if (f && mark && is_jit(p, loc)) {
			snprintf(buf, len, "%s [jit]", profile__str(p, f->name));
			return buf;
		}
		if (f)
			return profile__str(p, f->name);
	}
	snprintf(buf, len, "0x%" PRIx64, loc->address);
	return buf;
}

/* One accumulator per distinct function name. */
struct accs {
	struct acc *a;
	size_t n, cap;
	struct hashtab index; /* indexes a by name */
};

static bool acc_eq(const void *ctx, size_t idx, const void *key)
{
	const struct accs *t = ctx;

	return strcmp(t->a[idx].name, key) == 0;
}

static struct acc *acc_get(struct accs *t, const char *name)
{
	uint64_t hash = hash_bytes(name, strlen(name), 0);
	struct acc *a;
	long found;
	char *copy;

	found = hashtab__find(&t->index, hash, acc_eq, t, name);
	if (found >= 0)
		return &t->a[found];
	a = array_grow(t->a, &t->cap, t->n, sizeof(*a), 256);
	if (!a)
		return NULL;
	t->a = a;
	if (hashtab__reserve(&t->index, t->n + 1))
		return NULL;
	copy = strdup(name);
	if (!copy)
		return NULL;
	t->a[t->n] = (struct acc){ .name = copy };
	/* Cannot fail: room was reserved above. */
	hashtab__insert(&t->index, hash, t->n);
	return &t->a[t->n++];
}

static int cmp_rows(const void *a, const void *b)
{
	const struct report_row *x = a, *y = b;

	if (x->flat != y->flat)
		return x->flat > y->flat ? -1 : 1;
	if (x->cum != y->cum)
		return x->cum > y->cum ? -1 : 1;
	return strcmp(x->name, y->name);
}

static bool is_kernel(const struct profile *p, const struct pf_location *loc)
{
	const struct pf_mapping *m = profile__mapping(p, loc->mapping_id);

	return m && !strcmp(profile__str(p, m->filename), "[kernel.kallsyms]");
}

/*
 * The C and C++ runtime's own files: glibc's libc and libpthread, its dynamic
 * loader, musl, libstdc++ and the malloc libraries (their frames sit between
 * a program and its allocations or locks).
 */
static bool is_libc(const struct profile *p, const struct pf_location *loc)
{
	static const char *const prefixes[] = { "libc.so",    "libc-",	     "libpthread",
						"ld-linux",   "ld-musl",     "libc.musl",
						"libstdc++",  "libjemalloc", "libtcmalloc",
						"libmimalloc" };
	const char *base = mapping_base(p, loc);
	size_t i;

	if (!base)
		return false;
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(base, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

static bool skipped(const struct profile *p, const struct pf_location *loc, enum report_skip skip)
{
	return skip != REPORT_SKIP_NONE &&
	       (is_kernel(p, loc) || (skip >= REPORT_SKIP_KERNEL_LIBC && is_libc(p, loc)));
}

/*
 * The first location of s to report: past the frames skip names, but not
 * past the first user frame when no other is left.
 */
static size_t first_location(const struct profile *p, const struct pf_sample *s,
			     enum report_skip skip)
{
	const struct pf_location *loc;
	size_t i, first_user = 0;
	bool user_seen = false;

	for (i = 0; skip != REPORT_SKIP_NONE && i < s->nlocations; i++) {
		loc = profile__location(p, s->location_ids[i]);
		if (skip == REPORT_SKIP_ALLOCATOR && i == 0 && s->nlocations > 1) {
			first_user = 1;
			user_seen = true;
			continue;
		}
		if (!loc)
			continue;
		if (!skipped(p, loc, skip))
			return i;
		if (!user_seen && !is_kernel(p, loc)) {
			first_user = i;
			user_seen = true;
		}
	}
	return first_user;
}

static int add_sample(struct accs *t, const struct profile *p, size_t si, int64_t v,
		      enum report_skip skip)
{
	const struct pf_sample *s = &p->samples[si];
	const struct pf_location *loc;
	char buf[1024];
	struct acc *a;
	size_t i, l;
	bool leaf = true;

	for (i = first_location(p, s, skip); i < s->nlocations; i++) {
		loc = profile__location(p, s->location_ids[i]);
		if (!loc)
			return -EINVAL;
		for (l = 0; l < (loc->nlines ? loc->nlines : 1); l++) {
			a = acc_get(t, frame_name(p, loc, l, buf, sizeof(buf), true));
			if (!a)
				return -ENOMEM;
			if (leaf)
				a->flat += v;
			leaf = false;
			/* Recursion: a function counts once per sample in cum. */
			if (a->last_sample != si + 1) {
				a->cum += v;
				a->last_sample = si + 1;
			}
		}
	}
	return 0;
}

static int functions(const struct profile *p, int si, enum report_skip skip,
		     struct report_row **rows, int64_t *total)
{
	struct accs t = { 0 };
	struct report_row *r = NULL;
	size_t i;
	int err = 0;

	*total = 0;
	if (si < 0 || (size_t)si >= p->nsample_types)
		return -EINVAL;
	for (i = 0; i < p->nsamples && !err; i++) {
		int64_t v = p->samples[i].values[si];

		*total += v;
		if (v)
			err = add_sample(&t, p, i, v, skip);
	}
	if (!err && t.n) {
		r = malloc(t.n * sizeof(*r));
		if (!r)
			err = -ENOMEM;
	}
	for (i = 0; i < t.n; i++) {
		if (r)
			r[i] = (struct report_row){ t.a[i].name, t.a[i].flat, t.a[i].cum };
		else
			free((char *)t.a[i].name);
	}
	free(t.a);
	hashtab__fini(&t.index);
	if (err)
		return err;
	if (r)
		qsort(r, t.n, sizeof(*r), cmp_rows);
	*rows = r;
	return t.n;
}

int report_functions(const struct profile *p, int si, struct report_row **rows, int64_t *total)
{
	return functions(p, si, REPORT_SKIP_NONE, rows, total);
}

static void trim_number(char *buf, size_t len, double v, const char *suffix)
{
	char num[32], *dot, *end;

	snprintf(num, sizeof(num), "%.2f", v);
	dot = strchr(num, '.');
	if (dot) {
		end = num + strlen(num) - 1;
		while (end > dot && *end == '0')
			*end-- = '\0';
		if (end == dot)
			*end = '\0';
	}
	snprintf(buf, len, "%s%s", num, suffix);
}

void report_format_value(char *buf, size_t len, int64_t v, const char *unit)
{
	static const struct {
		const char *unit;
		double scale;
		const char *suffix;
	} scales[] = {
		{ "nanoseconds", 3600e9, "hrs" },
		{ "nanoseconds", 60e9, "mins" },
		{ "nanoseconds", 1e9, "s" },
		{ "nanoseconds", 1e6, "ms" },
		{ "nanoseconds", 1e3, "us" },
		{ "nanoseconds", 1, "ns" },
		{ "bytes", 1099511627776.0, "TB" },
		{ "bytes", 1073741824.0, "GB" },
		{ "bytes", 1048576.0, "MB" },
		{ "bytes", 1024.0, "kB" },
		{ "bytes", 1, "B" },
	};
	double a = v < 0 ? -(double)v : (double)v;
	size_t i;

	for (i = 0; i < sizeof(scales) / sizeof(scales[0]); i++) {
		if (strcmp(unit, scales[i].unit))
			continue;
		if (a >= scales[i].scale || scales[i].scale == 1 || v == 0) {
			if (v == 0)
				snprintf(buf, len, "0");
			else
				trim_number(buf, len, v / scales[i].scale, scales[i].suffix);
			return;
		}
	}
	snprintf(buf, len, "%" PRId64, v);
}

int report_default_index(const struct profile *p)
{
	int i;

	if (p->default_sample_type) {
		i = profile__sample_type_index(p, profile__str(p, p->default_sample_type));
		if (i >= 0)
			return i;
	}
	return (int)p->nsample_types - 1;
}

static double pct(int64_t v, int64_t total)
{
	return total ? 100.0 * (double)v / (double)total : 0.0;
}

/* A value, with its sign when the table is of differences. */
static void format_cell(char *buf, size_t len, int64_t v, const char *unit, bool delta)
{
	char num[32];

	report_format_value(num, sizeof(num), v, unit);
	snprintf(buf, len, "%s%s", delta && v > 0 ? "+" : "", num);
}

/*
 * The table of rows[0..n) of nrows, as pprof -top prints it; a table of
 * differences shows signs.  Frees the rows.
 */
static void print_rows(FILE *out, struct report_row *rows, int nrows, int n, int64_t total,
		       const char *unit, bool delta)
{
	char flat[40], cum[40], tot[32], shown[40];
	int64_t sum = 0;
	int i;

	if (n <= 0 || n > nrows)
		n = nrows;
	for (i = 0; i < n; i++)
		sum += rows[i].flat;
	format_cell(shown, sizeof(shown), sum, unit, delta);
	report_format_value(tot, sizeof(tot), total, unit);
	fprintf(out,
		delta ? "Showing nodes accounting for %s, %+.2f%% of %s total\n"
		      : "Showing nodes accounting for %s, %.2f%% of %s total\n",
		shown, pct(sum, total), tot);
	if (n < nrows)
		fprintf(out, "Showing top %d nodes out of %d\n", n, nrows);
	if (delta)
		fprintf(out, "%10s %7s %7s %10s %7s\n", "flat", "flat%", "sum%", "cum", "cum%");
	else
		fprintf(out, "%10s %6s %6s %10s %6s\n", "flat", "flat%", "sum%", "cum", "cum%");
	sum = 0;
	for (i = 0; i < n; i++) {
		sum += rows[i].flat;
		format_cell(flat, sizeof(flat), rows[i].flat, unit, delta);
		format_cell(cum, sizeof(cum), rows[i].cum, unit, delta);
		fprintf(out,
			delta ? "%10s %+6.2f%% %+6.2f%% %10s %+6.2f%%  %s\n"
			      : "%10s %5.2f%% %5.2f%% %10s %5.2f%%  %s\n",
			flat, pct(rows[i].flat, total), pct(sum, total), cum,
			pct(rows[i].cum, total), rows[i].name);
	}
	for (i = 0; i < nrows; i++)
		free((char *)rows[i].name);
	free(rows);
}

int report_top(FILE *out, const struct profile *p, int si, int n, enum report_skip skip)
{
	struct report_row *rows = NULL;
	int64_t total;
	int nrows;

	nrows = functions(p, si, skip, &rows, &total);
	if (nrows < 0)
		return nrows;
	print_rows(out, rows, nrows, n, total, profile__str(p, p->sample_types[si].unit), false);
	return 0;
}

/* Appends name to buf at *len as a folded frame: ';' separates frames, so none is kept in it. */
static int fold_frame(char **buf, size_t *cap, size_t *len, const char *name)
{
	size_t n = strlen(name), i;
	char *grown;

	if (*len + n + 2 > *cap) {
		size_t c = (*len + n + 2) * 2;

		grown = realloc(*buf, c);
		if (!grown)
			return -ENOMEM;
		*buf = grown;
		*cap = c;
	}
	if (*len)
		(*buf)[(*len)++] = ';';
	for (i = 0; i < n; i++)
		(*buf)[(*len)++] = name[i] == ';' ? ':' : name[i] == '\n' ? ' ' : name[i];
	(*buf)[*len] = '\0';
	return 0;
}

/* The stack of s root first, inlined functions after the function they were inlined into. */
static int fold_sample(const struct profile *p, const struct pf_sample *s, char **buf, size_t *cap)
{
	const struct pf_location *loc;
	size_t i, l, len = 0;
	char addr[24];
	int err = 0;

	for (i = s->nlocations; i-- > 0 && !err;) {
		loc = profile__location(p, s->location_ids[i]);
		if (!loc)
			return -EINVAL;
		for (l = loc->nlines ? loc->nlines : 1; l-- > 0 && !err;)
			err = fold_frame(buf, cap, &len,
					 frame_name(p, loc, l, addr, sizeof(addr), false));
	}
	if (!err && !len)
		err = fold_frame(buf, cap, &len, "[no stack]");
	return err;
}

static int cmp_stacks(const void *a, const void *b)
{
	return strcmp(((const struct acc *)a)->name, ((const struct acc *)b)->name);
}

/* Adds every stack of p to t, folded: its value to flat, or to cum when as_base. */
static int fold_profile(struct accs *t, const struct profile *p, int si, bool as_base, char **buf,
			size_t *cap)
{
	struct acc *a;
	size_t i;
	int err = 0;

	if (si < 0 || (size_t)si >= p->nsample_types)
		return -EINVAL;
	for (i = 0; i < p->nsamples && !err; i++) {
		int64_t v = p->samples[i].values[si];

		if (!v)
			continue;
		err = fold_sample(p, &p->samples[i], buf, cap);
		if (err)
			break;
		a = acc_get(t, *buf);
		if (!a)
			return -ENOMEM;
		if (as_base)
			a->cum += v;
		else
			a->flat += v;
	}
	return err;
}

/* Folded stacks of new (and base): "stack NEW" lines, or "stack BASE NEW" with a base. */
static int folded(FILE *out, const struct profile *base, int bsi, const struct profile *p, int si)
{
	struct accs t = { 0 };
	size_t i, cap = 0;
	char *buf = NULL;
	int err;

	err = fold_profile(&t, p, si, false, &buf, &cap);
	if (!err && base)
		err = fold_profile(&t, base, bsi, true, &buf, &cap);
	if (!err && t.n)
		qsort(t.a, t.n, sizeof(*t.a), cmp_stacks);
	for (i = 0; i < t.n; i++) {
		if (!err && !base)
			fprintf(out, "%s %" PRId64 "\n", t.a[i].name, t.a[i].flat);
		else if (!err)
			fprintf(out, "%s %" PRId64 " %" PRId64 "\n", t.a[i].name, t.a[i].cum,
				t.a[i].flat);
		free((char *)t.a[i].name);
	}
	free(t.a);
	hashtab__fini(&t.index);
	free(buf);
	return err;
}

int report_folded(FILE *out, const struct profile *p, int si)
{
	return folded(out, NULL, 0, p, si);
}

int report_folded_diff(FILE *out, const struct profile *base, int bsi, const struct profile *p,
		       int si)
{
	return folded(out, base, bsi, p, si);
}

static int64_t abs64(int64_t v)
{
	return v < 0 ? -v : v;
}

/* As pprof sorts -top: absolute flat, then name, then absolute cum. */
static int cmp_diff_rows(const void *a, const void *b)
{
	const struct report_row *x = a, *y = b;
	int c;

	if (abs64(x->flat) != abs64(y->flat))
		return abs64(x->flat) > abs64(y->flat) ? -1 : 1;
	c = strcmp(x->name, y->name);
	if (c)
		return c;
	if (abs64(x->cum) != abs64(y->cum))
		return abs64(x->cum) > abs64(y->cum) ? -1 : 1;
	return 0;
}

int report_diff_top(FILE *out, const struct profile *diff, int si, int n)
{
	struct report_row *rows = NULL;
	int64_t total, ignored;
	int nrows, i, kept = 0;

	nrows = functions(diff, si, REPORT_SKIP_NONE, &rows, &ignored);
	if (nrows < 0)
		return nrows;
	/* Functions whose changes cancel out did not change. */
	for (i = 0; i < nrows; i++) {
		if (rows[i].flat || rows[i].cum)
			rows[kept++] = rows[i];
		else
			free((char *)rows[i].name);
	}
	nrows = kept;
	if (nrows)
		qsort(rows, nrows, sizeof(*rows), cmp_diff_rows);
	total = profile__diff_total(diff, si);
	print_rows(out, rows, nrows, n, total, profile__str(diff, diff->sample_types[si].unit),
		   true);
	return 0;
}
