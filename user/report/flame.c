// SPDX-License-Identifier: Apache-2.0
/*
 * The flame graph page's data: strings, functions (name, file, kind),
 * locations (their lines, innermost first), label pairs, stacks, then each
 * profile's samples as one flat array of integers:
 *
 *   stack, value (one per sample type)..., nlabels, label...
 *
 * Stacks are a prefix tree of locations from the root: stack i + 1 is
 * (caller stack or 0, location), so a stack shared by many samples, and
 * the callers stacks share, are written once and the page builds its tree
 * once per stack, not per sample.  Tables are shared by the two profiles
 * of a diff, so the page compares their frames by index.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "profile/profile.h"
#include "report/flame.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/util.h"

/* The page's code, embedded by the Makefile (xxd -i of web/). */
extern unsigned char flame_html[], flame_css[], flame_js[];
extern unsigned int flame_html_len, flame_css_len, flame_js_len;

/* Interned byte strings: each distinct key gets the next index. */
struct itab {
	struct hashtab h;
	struct ikey {
		char *data;
		size_t len;
	} * e;
	size_t n, cap;
};

static bool ikey_eq(const void *ctx, size_t idx, const void *key)
{
	const struct itab *t = ctx;
	const struct ikey *k = key;

	return t->e[idx].len == k->len && !memcmp(t->e[idx].data, k->data, k->len);
}

/* The index of key, added when new; -ENOMEM. */
static long itab_add(struct itab *t, const void *data, size_t len)
{
	struct ikey k = { (char *)data, len };
	uint64_t hash = hash_bytes(data, len, 0);
	long found = hashtab__find(&t->h, hash, ikey_eq, t, &k);
	struct ikey *e;
	char *copy;

	if (found >= 0)
		return found;
	e = array_grow(t->e, &t->cap, t->n, sizeof(*e), 256);
	if (!e)
		return -ENOMEM;
	t->e = e;
	if (hashtab__reserve(&t->h, t->n + 1))
		return -ENOMEM;
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, data, len);
	copy[len] = '\0';
	t->e[t->n] = (struct ikey){ copy, len };
	hashtab__insert(&t->h, hash, t->n);
	return (long)t->n++;
}

static void itab_free(struct itab *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->e[i].data);
	free(t->e);
	hashtab__fini(&t->h);
}

/* A growable array of integers. */
struct ivec {
	int64_t *v;
	size_t n, cap;
};

static int ivec_push(struct ivec *a, int64_t x)
{
	int64_t *v = array_grow(a->v, &a->cap, a->n, sizeof(*v), 1024);

	if (!v)
		return -ENOMEM;
	a->v = v;
	a->v[a->n++] = x;
	return 0;
}

struct flame {
	struct itab strings, funcs, locs, labels, stacks;
	struct ivec samples[2];
};

static long str_id(struct flame *f, const char *s)
{
	return itab_add(&f->strings, s, strlen(s));
}

static bool has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* The kind of a frame from its mapping's file (and, for Go, its name). */
static enum flame_kind frame_kind(const struct profile *p, const struct pf_location *loc,
				  const char *function)
{
	static const char *const runtime[] = { "libc.so",     "libc-",	     "libpthread",
					       "ld-linux",    "ld-musl",     "libc.musl",
					       "libstdc++",   "libgcc_s",    "libm.so",
					       "libdl.so",    "librt.so",    "libjemalloc",
					       "libtcmalloc", "libmimalloc", "[vdso]",
					       "[vsyscall]",  "linux-vdso" };
	const struct pf_mapping *m = profile__mapping(p, loc->mapping_id);
	const char *file, *base;
	size_t i;

	if (!m)
		return FLAME_OTHER;
	file = profile__str(p, m->filename);
	if (!strcmp(file, "[kernel.kallsyms]") || has_prefix(file, "[kernel"))
		return FLAME_KERNEL;
	base = path_base(file);
	for (i = 0; i < sizeof(runtime) / sizeof(runtime[0]); i++)
		if (has_prefix(base, runtime[i]))
			return FLAME_RUNTIME;
	if (has_prefix(function, "runtime.") || has_prefix(function, "runtime/"))
		return FLAME_RUNTIME;
	if (strstr(base, ".so") || !*file)
		return FLAME_LIBRARY;
	return FLAME_PROGRAM;
}

/* A location as its key in the shared table: kind, then (function, line) pairs. */
static long location_id(struct flame *f, const struct profile *p, uint64_t id)
{
	const struct pf_location *loc = profile__location(p, id);
	int64_t key[1 + 2 * 64];
	size_t i, n;
	char addr[32];

	if (!loc)
		return -EINVAL;
	n = loc->nlines ? loc->nlines : 1;
	if (n > 64)
		n = 64; /* deeper inline chains are cut, never overrun */
	key[0] = 0;
	for (i = 0; i < n; i++) {
		const struct pf_function *fn =
			i < loc->nlines ? profile__function(p, loc->lines[i].function_id) : NULL;
		const char *name = fn ? profile__str(p, fn->name) : NULL;
		const char *file = fn ? profile__str(p, fn->filename) : "";
		int64_t fkey[3];
		long fid;

		if (!name || !*name) {
			snprintf(addr, sizeof(addr), "0x%" PRIx64, loc->address);
			name = addr;
		}
		fkey[0] = str_id(f, name);
		fkey[1] = str_id(f, file);
		fkey[2] = frame_kind(p, loc, name);
		if (fkey[0] < 0 || fkey[1] < 0)
			return -ENOMEM;
		fid = itab_add(&f->funcs, fkey, sizeof(fkey));
		if (fid < 0)
			return fid;
		key[1 + 2 * i] = fid;
		key[2 + 2 * i] = i < loc->nlines ? loc->lines[i].line : 0;
	}
	return itab_add(&f->locs, key, (1 + 2 * n) * sizeof(key[0]));
}

static long label_id(struct flame *f, const struct profile *p, const struct pf_label *l)
{
	char num[64];
	int64_t key[2];

	if (l->str)
		key[1] = str_id(f, profile__str(p, l->str));
	else {
		const char *unit = profile__str(p, l->num_unit);

		snprintf(num, sizeof(num), "%" PRId64 "%s%s", l->num, *unit ? " " : "", unit);
		key[1] = str_id(f, num);
	}
	key[0] = str_id(f, profile__str(p, l->key));
	if (key[0] < 0 || key[1] < 0)
		return -ENOMEM;
	return itab_add(&f->labels, key, sizeof(key));
}

/* The stack of s in the prefix tree: 0 for no locations, else its id + 1. */
static int stack_id(struct flame *f, const struct profile *p, const struct pf_sample *s,
		    int64_t *stack)
{
	int64_t key[2] = { 0, 0 };
	size_t j;

	for (j = s->nlocations; j-- > 0;) {
		long loc = location_id(f, p, s->location_ids[j]), id;

		if (loc < 0)
			return (int)loc;
		key[1] = loc;
		id = itab_add(&f->stacks, key, sizeof(key));
		if (id < 0)
			return (int)id;
		key[0] = id + 1;
	}
	*stack = key[0];
	return 0;
}

/*
 * p's samples into out; map[i] is the index in p's values of the page's
 * sample type i (n of them).  Samples whose values are all 0 are left out.
 */
static int add_samples(struct flame *f, struct ivec *out, const struct profile *p, const int *map,
		       size_t n)
{
	size_t i, j;
	int err = 0;

	for (i = 0; i < p->nsamples && !err; i++) {
		const struct pf_sample *s = &p->samples[i];
		int64_t stack = 0;
		bool zero = true;

		for (j = 0; j < n; j++)
			zero &= s->values[map[j]] == 0;
		if (zero)
			continue;
		err = stack_id(f, p, s, &stack);
		if (!err)
			err = ivec_push(out, stack);
		for (j = 0; j < n && !err; j++)
			err = ivec_push(out, s->values[map[j]]);
		if (!err)
			err = ivec_push(out, (int64_t)s->nlabels);
		for (j = 0; j < s->nlabels && !err; j++) {
			long id = label_id(f, p, &s->labels[j]);

			err = id < 0 ? (int)id : ivec_push(out, id);
		}
	}
	return err;
}

/* Writes s as a JSON string whose '<', '>' and '&' are escaped; bad UTF-8 becomes U+FFFD. */
static void json_string(FILE *out, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	fputc('"', out);
	while (i < len) {
		unsigned char c = u[i];
		size_t n = 0, k;

		if (c == '"' || c == '\\') {
			fputc('\\', out);
			fputc(c, out);
		} else if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f) {
			fprintf(out, "\\u%04x", c);
		} else if (c < 0x80) {
			fputc(c, out);
		} else {
			uint32_t cp;

			/* Valid UTF-8 goes through as it is; anything else is replaced. */
			if (c >= 0xc2 && c <= 0xdf)
				n = 1, cp = c & 0x1f;
			else if (c >= 0xe0 && c <= 0xef)
				n = 2, cp = c & 0x0f;
			else if (c >= 0xf0 && c <= 0xf4)
				n = 3, cp = c & 0x07;
			else
				cp = 0;
			for (k = 1; k <= n; k++) {
				if (i + k >= len || (u[i + k] & 0xc0) != 0x80) {
					n = 0;
					break;
				}
				cp = cp << 6 | (u[i + k] & 0x3f);
			}
			if (n && ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
				  (n == 3 && (cp < 0x10000 || cp > 0x10ffff))))
				n = 0;
			if (n) {
				fwrite(u + i, 1, n + 1, out);
				i += n;
			} else {
				fputs("\\ufffd", out);
			}
		}
		i++;
	}
	fputc('"', out);
}

static void json_ints(FILE *out, const int64_t *v, size_t n)
{
	size_t i;

	fputc('[', out);
	for (i = 0; i < n; i++)
		fprintf(out, i ? ",%" PRId64 : "%" PRId64, v[i]);
	fputc(']', out);
}

/* For each sample type of p, its index in q's values; -EINVAL when q lacks one. */
static int map_types(const struct profile *p, const struct profile *q, int *map)
{
	size_t i, j;

	for (i = 0; i < p->nsample_types; i++) {
		const char *type = profile__str(p, p->sample_types[i].type);
		const char *unit = profile__str(p, p->sample_types[i].unit);

		map[i] = -1;
		for (j = 0; j < q->nsample_types; j++)
			if (!strcmp(type, profile__str(q, q->sample_types[j].type)) &&
			    !strcmp(unit, profile__str(q, q->sample_types[j].unit)))
				map[i] = (int)j;
		if (map[i] < 0) {
			pr_warn("the base profile has no sample type %s/%s: it cannot be "
				"compared\n",
				type, unit);
			return -EINVAL;
		}
	}
	return 0;
}

static void write_profile(FILE *out, const struct profile *p, const struct ivec *s)
{
	size_t i;

	fputs("{\"types\":[", out);
	for (i = 0; i < p->nsample_types; i++) {
		const char *type = profile__str(p, p->sample_types[i].type);
		const char *unit = profile__str(p, p->sample_types[i].unit);

		fputs(i ? ",[" : "[", out);
		json_string(out, type, strlen(type));
		fputc(',', out);
		json_string(out, unit, strlen(unit));
		fputc(']', out);
	}
	fprintf(out,
		"],\"period\":%" PRId64 ",\"duration\":%" PRId64 ",\"time\":%" PRId64
		",\"samples\":",
		p->period, p->duration_nanos, p->time_nanos);
	json_ints(out, s->v, s->n);
	fputc('}', out);
}

/* The sample type shown first: default_sample_type, else the last (as the top table). */
static int default_type(const struct profile *p)
{
	size_t i;

	if (p->default_sample_type) {
		const char *want = profile__str(p, p->default_sample_type);

		for (i = 0; i < p->nsample_types; i++)
			if (!strcmp(want, profile__str(p, p->sample_types[i].type)))
				return (int)i;
	}
	return p->nsample_types ? (int)p->nsample_types - 1 : 0;
}

static void flame_free(struct flame *f)
{
	itab_free(&f->strings);
	itab_free(&f->funcs);
	itab_free(&f->locs);
	itab_free(&f->labels);
	itab_free(&f->stacks);
	free(f->samples[0].v);
	free(f->samples[1].v);
}

/*
 * A diff is not made here with profile__diff (profile/diff.c): the page
 * shows base and new side by side (the base's own flat and cum, each as a
 * share of its own total, and the base tree matched to the new one path by
 * path), which a subtracted profile no longer holds, so both profiles are
 * written whole and the page subtracts.  Its differences are
 * profile__diff's numbers (new minus base per function, flat and cum).
 * The base's sample types are matched by name here, not by position.
 */
int flame_write_data(FILE *out, const struct profile *p, const struct profile *base)
{
	struct flame f = { 0 };
	int *map = NULL, *ident = NULL;
	size_t i;
	int err = 0;

	if (!p->nsample_types) {
		pr_warn("the profile has no sample types: nothing to draw\n");
		return -EINVAL;
	}
	map = calloc(p->nsample_types, sizeof(*map));
	ident = calloc(p->nsample_types, sizeof(*ident));
	if (!map || !ident) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < p->nsample_types; i++)
		ident[i] = (int)i;
	if (str_id(&f, "") < 0) {
		err = -ENOMEM;
		goto out;
	}
	err = add_samples(&f, &f.samples[0], p, ident, p->nsample_types);
	if (!err && base) {
		err = map_types(p, base, map);
		if (!err)
			err = add_samples(&f, &f.samples[1], base, map, p->nsample_types);
	}
	if (err)
		goto out;

	fputs("{\"version\":1,\"strings\":[", out);
	for (i = 0; i < f.strings.n; i++) {
		if (i)
			fputc(',', out);
		json_string(out, f.strings.e[i].data, f.strings.e[i].len);
	}
	fputs("],\"funcs\":[", out);
	for (i = 0; i < f.funcs.n; i++) {
		const int64_t *k = (const int64_t *)f.funcs.e[i].data;

		fprintf(out, "%s%" PRId64 ",%" PRId64 ",%" PRId64, i ? "," : "", k[0], k[1], k[2]);
	}
	fputs("],\"locs\":[", out);
	for (i = 0; i < f.locs.n; i++) {
		const int64_t *k = (const int64_t *)f.locs.e[i].data;
		size_t n = f.locs.e[i].len / sizeof(*k);

		if (i)
			fputc(',', out);
		json_ints(out, k + 1, n - 1);
	}
	fputs("],\"labels\":[", out);
	for (i = 0; i < f.labels.n; i++) {
		const int64_t *k = (const int64_t *)f.labels.e[i].data;

		fprintf(out, "%s%" PRId64 ",%" PRId64, i ? "," : "", k[0], k[1]);
	}
	fputs("],\"stacks\":[", out);
	for (i = 0; i < f.stacks.n; i++) {
		const int64_t *k = (const int64_t *)f.stacks.e[i].data;

		fprintf(out, "%s%" PRId64 ",%" PRId64, i ? "," : "", k[0], k[1]);
	}
	fputs("],\"profiles\":[", out);
	write_profile(out, p, &f.samples[0]);
	if (base) {
		fputc(',', out);
		write_profile(out, base, &f.samples[1]);
	}
	fprintf(out, "],\"default\":%d}", default_type(p));
	if (ferror(out))
		err = -EIO;
out:
	if (err == -ENOMEM)
		pr_warn("out of memory building the flame graph page\n");
	free(map);
	free(ident);
	flame_free(&f);
	return err;
}

static void html_text(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			fputs("&lt;", out);
		else if (*s == '>')
			fputs("&gt;", out);
		else if (*s == '&')
			fputs("&amp;", out);
		else if (*s == '"')
			fputs("&quot;", out);
		else
			fputc(*s, out);
	}
}

/*
 * The template's parts between its markers: {{TITLE}}, {{CSS}}, {{DATA}} and
 * {{JS}}, each once and in that order.
 */
int flame_write_html(FILE *out, const struct profile *p, const struct profile *base,
		     const char *title)
{
	static const char *const marks[] = { "{{TITLE}}", "{{CSS}}", "{{DATA}}", "{{JS}}" };
	const char *t = (const char *)flame_html, *end = t + flame_html_len;
	size_t i;
	int err = 0;

	for (i = 0; i <= sizeof(marks) / sizeof(marks[0]); i++) {
		const char *m = i < 4 ? memmem(t, end - t, marks[i], strlen(marks[i])) : end;

		if (!m) {
			pr_warn("the flame graph template has no %s\n", marks[i]);
			return -EINVAL;
		}
		fwrite(t, 1, m - t, out);
		if (i == 4)
			break;
		t = m + strlen(marks[i]);
		switch (i) {
		case 0:
			html_text(out, title ? title : "bpfprof");
			break;
		case 1:
			fwrite(flame_css, 1, flame_css_len, out);
			break;
		case 2:
			err = flame_write_data(out, p, base);
			if (err)
				return err;
			break;
		case 3:
			fwrite(flame_js, 1, flame_js_len, out);
			break;
		}
	}
	return ferror(out) ? -EIO : 0;
}

int flame_write_file(const char *path, const struct profile *p, const struct profile *base,
		     const char *title)
{
	size_t len = strlen(path);
	char *tmp = malloc(len + 16);
	FILE *out = NULL;
	int fd, err;

	if (!tmp) {
		pr_warn("out of memory\n");
		return -ENOMEM;
	}
	snprintf(tmp, len + 16, "%s.tmpXXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0 || !(out = fdopen(fd, "w"))) {
		err = -errno;
		pr_warn("cannot write %s: %s\n", path, strerror(-err));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		free(tmp);
		return err;
	}
	fchmod(fd, 0644);
	err = flame_write_html(out, p, base, title);
	if (fclose(out) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		if (err != -EINVAL && err != -ENOMEM)
			pr_warn("cannot write %s: %s\n", path, strerror(-err));
		unlink(tmp);
	}
	free(tmp);
	return err;
}
