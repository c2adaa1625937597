// SPDX-License-Identifier: Apache-2.0
/*
 * A static flame graph as one SVG file: the merged stacks of a profile as a
 * tree (root at the bottom, callees above, children by name, widths by
 * value), a rectangle per frame wide enough to see, its name clipped to the
 * width, a <title> tooltip, colours by kind of code with a legend.  For a
 * difference (profile/diff.h, base samples marked) widths are the new
 * profile's and colours say growth (red) or shrink (green), as on the
 * flame graph page (report/flame.c), whose kinds and colours these are.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/diff.h"
#include "profile/profile.h"
#include "report/report.h"
#include "util/hash.h"
#include "util/strpool.h"
#include "util/util.h"

#define SVG_WIDTH 1200.0
#define SVG_PAD 10.0
#define FRAME_H 16.0
#define FONT_PX 12
#define CHAR_W 7.2 /* a 12 px monospace glyph */
#define MIN_W 0.1  /* frames narrower than this are not drawn */
#define TOP_H 44.0 /* title and subtitle */
#define LEGEND_H 28.0

enum kind { K_PROGRAM, K_LIBRARY, K_RUNTIME, K_KERNEL, K_MARKER, K__N };

static const char *const kind_names[K__N] = { "program", "shared library", "runtime", "kernel",
					      "marker" };

struct node {
	const char *name;
	size_t parent, first_child, next_sibling; /* 0: none (node 0 is the root) */
	int64_t value;				  /* cum, of the new profile */
	int64_t base;				  /* cum of the base's samples (a difference) */
	enum kind kind;
};

struct tree {
	const struct profile *p;
	struct node *n;
	size_t len, cap;
	struct hashtab index; /* (parent, name) -> node */
	struct strpool *names;
	int depth;
};

struct node_key {
	size_t parent;
	const char *name;
};

static uint64_t key_hash(size_t parent, const char *name)
{
	return hash_bytes(name, strlen(name), hash_u64(parent));
}

static bool node_eq(const void *ctx, size_t idx, const void *key)
{
	const struct tree *t = ctx;
	const struct node_key *k = key;

	return t->n[idx].parent == k->parent && !strcmp(t->n[idx].name, k->name);
}

static long child(struct tree *t, size_t parent, const char *name, enum kind kind)
{
	struct node_key k = { parent, name };
	uint64_t h = key_hash(parent, name);
	long i = hashtab__find(&t->index, h, node_eq, t, &k);
	const char *pooled;

	if (i >= 0)
		return i;
	if (t->len == t->cap) {
		size_t cap = t->cap * 2;
		struct node *n = realloc(t->n, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		t->n = n;
		t->cap = cap;
	}
	pooled = strpool__add(t->names, name);
	if (!pooled || hashtab__insert(&t->index, h, t->len))
		return -ENOMEM;
	t->n[t->len] = (struct node){ .name = pooled, .parent = parent, .kind = kind };
	t->n[t->len].next_sibling = t->n[parent].first_child;
	t->n[parent].first_child = t->len;
	return (long)t->len++;
}

/* The C and C++ runtime's files (Go's runtime is told by its functions' names). */
static bool runtime_file(const char *base)
{
	static const char *const prefixes[] = { "libc.so",   "libc-",	   "ld-linux",	"ld-musl",
						"libc.musl", "libpthread", "libstdc++", "libgcc_s",
						"libm.so",   "libdl.so",   "librt.so",	"[vdso]" };
	size_t i;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(base, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

static enum kind kind_of(const struct profile *p, const struct pf_location *loc, const char *name)
{
	const struct pf_mapping *m = profile__mapping(p, loc->mapping_id);
	const char *file = m ? profile__str(p, m->filename) : "";

	if (!strncmp(file, "[kernel", 7))
		return K_KERNEL;
	if (!m && !loc->address && name[0] == '[')
		return K_MARKER; /* [lost user stack: ...], [truncated], [no stack] */
	if (!strncmp(name, "runtime.", 8) || runtime_file(path_base(file)))
		return K_RUNTIME;
	if (m && m != p->mappings && strstr(path_base(file), ".so"))
		return K_LIBRARY;
	return K_PROGRAM;
}

static const char *frame_name(const struct profile *p, const struct pf_location *loc, size_t l,
			      char *buf, size_t len)
{
	const struct pf_function *f =
		l < loc->nlines ? profile__function(p, loc->lines[l].function_id) : NULL;

	if (f && *profile__str(p, f->name))
		return profile__str(p, f->name);
	snprintf(buf, len, "0x%" PRIx64, loc->address);
	return buf;
}

static int add_sample(struct tree *t, const struct pf_sample *s, int64_t v, bool base)
{
	const struct profile *p = t->p;
	size_t at = 0, i, l, nl;
	int depth = 0;
	char buf[32];
	long c;

	for (i = s->nlocations; i-- > 0;) {
		const struct pf_location *loc = profile__location(p, s->location_ids[i]);

		if (!loc)
			return -EINVAL;
		nl = loc->nlines ? loc->nlines : 1;
		for (l = nl; l-- > 0;) {
			const char *name = frame_name(p, loc, l, buf, sizeof(buf));

			c = child(t, at, name, kind_of(p, loc, name));
			if (c < 0)
				return (int)c;
			at = (size_t)c;
			if (base)
				t->n[at].base += v;
			else
				t->n[at].value += v;
			depth++;
		}
	}
	if (depth > t->depth)
		t->depth = depth;
	return 0;
}

static int build(struct tree *t, const struct profile *p, int si, bool diff)
{
	size_t i;
	int err = 0;

	t->p = p;
	t->cap = 1024;
	t->n = calloc(t->cap, sizeof(*t->n));
	t->names = strpool__new();
	if (!t->n || !t->names)
		return -ENOMEM;
	t->n[0] = (struct node){ .name = "all", .kind = K_MARKER };
	t->len = 1;
	for (i = 0; i < p->nsamples && !err; i++) {
		const struct pf_sample *s = &p->samples[i];
		int64_t v = s->values[si];
		bool base = diff && profile__is_base_sample(p, s);

		if (!v)
			continue;
		/* A base sample holds the base's value negated. */
		if (base)
			v = -v;
		if (base)
			t->n[0].base += v;
		else
			t->n[0].value += v;
		err = add_sample(t, s, v, base);
	}
	return err;
}

static void tree_free(struct tree *t)
{
	free(t->n);
	hashtab__fini(&t->index);
	strpool__free(t->names);
}

/*
 * Writes s as XML character data: markup escaped, control characters and
 * bytes that are not UTF-8 as '?'; at most max characters, the last two of
 * a longer string replaced by "..".  Returns the characters written.
 */
static size_t xml_text(FILE *out, const char *s, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t chars = 0, total = 0, i, n;

	for (i = 0; u[i]; total++) {
		n = u[i] < 0x80		? 1
		    : (u[i] >> 5) == 6	? 2
		    : (u[i] >> 4) == 14 ? 3
		    : (u[i] >> 3) == 30 ? 4
					: 1;
		for (size_t j = 1; j < n; j++)
			if ((u[i + j] & 0xc0) != 0x80)
				n = 1;
		i += n;
	}
	for (i = 0; u[i] && chars < max; chars++) {
		if (total > max && chars + 2 >= max) {
			fputs("..", out);
			chars += 2;
			break;
		}
		n = u[i] < 0x80		? 1
		    : (u[i] >> 5) == 6	? 2
		    : (u[i] >> 4) == 14 ? 3
		    : (u[i] >> 3) == 30 ? 4
					: 0;
		for (size_t j = 1; j < n; j++)
			if ((u[i + j] & 0xc0) != 0x80)
				n = 0;
		if (n == 0 || (n == 1 && u[i] < 0x20 && u[i] != '\t')) {
			fputc('?', out);
			i++;
			continue;
		}
		switch (u[i]) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&apos;", out);
			break;
		default:
			fwrite(u + i, 1, n, out);
		}
		i += n;
	}
	return chars;
}

struct render {
	FILE *out;
	const struct tree *t;
	const char *unit;
	int64_t total;	   /* the root's value: the width */
	int64_t max_delta; /* the largest absolute change, for colours */
	bool diff;
	double scale; /* pixels per unit of value */
	double bottom;
};

static void colour(const struct render *r, const struct node *n, char *buf, size_t len)
{
	uint64_t h = hash_bytes(n->name, strlen(n->name), 0);
	double v = (double)(h & 0xffff) / 65535.0;
	int64_t d;
	double a;

	if (r->diff) {
		d = n->value - n->base;
		a = r->max_delta ? (double)(d < 0 ? -d : d) / (double)r->max_delta : 0;
		/* White for no change, to saturated red (growth) or green (shrink). */
		int c = (int)lround(255 - 200 * a);

		if (d > 0)
			snprintf(buf, len, "rgb(255,%d,%d)", c, c);
		else if (d < 0)
			snprintf(buf, len, "rgb(%d,255,%d)", c, c);
		else
			snprintf(buf, len, "rgb(245,245,245)");
		return;
	}
	switch (n->kind) {
	case K_PROGRAM: /* red */
		snprintf(buf, len, "rgb(%u,%u,%u)", (unsigned)(215 + 40 * v) % 256u,
			 (unsigned)(70 + 60 * v) % 256u, (unsigned)(50 + 40 * v) % 256u);
		break;
	case K_LIBRARY: /* yellow */
		snprintf(buf, len, "rgb(%u,%u,%u)", (unsigned)(205 + 40 * v) % 256u,
			 (unsigned)(195 + 40 * v) % 256u, (unsigned)(60 + 40 * v) % 256u);
		break;
	case K_RUNTIME: /* blue */
		snprintf(buf, len, "rgb(%u,%u,%u)", (unsigned)(90 + 50 * v) % 256u,
			 (unsigned)(160 + 50 * v) % 256u, (unsigned)(220 + 35 * v) % 256u);
		break;
	case K_KERNEL: /* orange */
		snprintf(buf, len, "rgb(%u,%u,%u)", (unsigned)(240 + 15 * v) % 256u,
			 (unsigned)(150 + 40 * v) % 256u, (unsigned)(30 + 40 * v) % 256u);
		break;
	default:
		snprintf(buf, len, "rgb(190,190,190)");
	}
}

static double pct(int64_t v, int64_t total)
{
	return total ? 100.0 * (double)v / (double)total : 0;
}

static void tooltip(const struct render *r, const struct node *n)
{
	char v[48], b[48], d[48];

	xml_text(r->out, n->name, SIZE_MAX);
	report_scaled_label(v, sizeof(v), n->value, r->unit);
	if (!r->diff) {
		fprintf(r->out, " (%s, %.2f%%)", v, pct(n->value, r->total));
		return;
	}
	report_scaled_label(b, sizeof(b), n->base, r->unit);
	report_scaled_label(d, sizeof(d), n->value - n->base, r->unit);
	fprintf(r->out, " (new %s, base %s, change %s%s, %+.2f%% of the base&apos;s total)", v, b,
		n->value > n->base ? "+" : "", d, pct(n->value - n->base, r->t->n[0].base));
}

static int cmp_names(const void *a, const void *b, void *ctx)
{
	const struct tree *t = ctx;

	return strcmp(t->n[*(const size_t *)a].name, t->n[*(const size_t *)b].name);
}

/* Draws node i at x (its left edge) and depth, then its children left to right. */
static int draw(const struct render *r, size_t i, double x, int depth)
{
	const struct node *n = &r->t->n[i];
	double w = (double)n->value * r->scale, y = r->bottom - (depth + 1) * FRAME_H;
	size_t nc = 0, c, *kids;
	char fill[48];
	int err = 0;

	if (n->value <= 0 || w < MIN_W)
		return 0;
	colour(r, n, fill, sizeof(fill));
	fprintf(r->out, "<g><title>");
	tooltip(r, n);
	fprintf(r->out,
		"</title><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
		"rx=\"2\"/>",
		x, y, w, FRAME_H - 1, fill);
	if ((w - 6) / CHAR_W >= 3) {
		fprintf(r->out, "<text x=\"%.1f\" y=\"%.1f\">", x + 3, y + FRAME_H - 5);
		xml_text(r->out, n->name, (size_t)((w - 6) / CHAR_W));
		fprintf(r->out, "</text>");
	}
	fprintf(r->out, "</g>\n");
	for (c = n->first_child; c; c = r->t->n[c].next_sibling)
		nc++;
	if (!nc)
		return 0;
	kids = malloc(nc * sizeof(*kids));
	if (!kids)
		return -ENOMEM;
	nc = 0;
	for (c = n->first_child; c; c = r->t->n[c].next_sibling)
		kids[nc++] = c;
	qsort_r(kids, nc, sizeof(*kids), cmp_names, (void *)r->t);
	for (c = 0; c < nc && !err; c++) {
		err = draw(r, kids[c], x, depth + 1);
		x += (double)r->t->n[kids[c]].value * r->scale;
	}
	free(kids);
	return err;
}

static void legend(const struct render *r, double y)
{
	static const struct node samples[] = {
		{ .name = "program", .kind = K_PROGRAM },
		{ .name = "shared library", .kind = K_LIBRARY },
		{ .name = "runtime", .kind = K_RUNTIME },
		{ .name = "kernel", .kind = K_KERNEL },
	};
	double x = SVG_PAD;
	char fill[48];
	size_t i;

	if (r->diff) {
		fprintf(r->out,
			"<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"14\" "
			"fill=\"rgb(255,55,55)\"/>"
			"<text x=\"%.1f\" y=\"%.1f\">grew</text>"
			"<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"14\" "
			"fill=\"rgb(55,255,55)\"/>"
			"<text x=\"%.1f\" y=\"%.1f\">shrank (widths: the new profile)</text>\n",
			x, y, x + 18, y + 11, x + 80, y, x + 98, y + 11);
		return;
	}
	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		struct node n = samples[i];

		n.name = "";
		colour(r, &n, fill, sizeof(fill));
		fprintf(r->out,
			"<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"14\" fill=\"%s\"/>"
			"<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
			x, y, fill, x + 18, y + 11, kind_names[samples[i].kind]);
		x += 140;
	}
}

/* The depth of the deepest frame below node i wide enough to draw (i at depth). */
static int visible_depth(const struct tree *t, size_t i, int depth, double scale)
{
	int max = depth, d;
	size_t c;

	for (c = t->n[i].first_child; c; c = t->n[c].next_sibling) {
		if (t->n[c].value <= 0 || (double)t->n[c].value * scale < MIN_W)
			continue;
		d = visible_depth(t, c, depth + 1, scale);
		if (d > max)
			max = d;
	}
	return max;
}

static void max_delta(const struct tree *t, int64_t *max)
{
	size_t i;

	for (i = 1; i < t->len; i++) {
		int64_t d = t->n[i].value - t->n[i].base;

		if (d < 0)
			d = -d;
		if (d > *max)
			*max = d;
	}
}

int report_svg(FILE *out, const struct profile *p, int si, bool diff)
{
	struct tree t = { 0 };
	struct render r = { .out = out, .t = &t, .diff = diff };
	char tot[48], b[48], d[48];
	const char *type;
	double height;
	int err;

	if (si < 0 || (size_t)si >= p->nsample_types)
		return -EINVAL;
	err = build(&t, p, si, diff);
	if (err) {
		tree_free(&t);
		return err;
	}
	r.unit = profile__str(p, p->sample_types[si].unit);
	type = profile__str(p, p->sample_types[si].type);
	r.total = t.n[0].value;
	r.scale = r.total > 0 ? (SVG_WIDTH - 2 * SVG_PAD) / (double)r.total : 0;
	if (diff)
		max_delta(&t, &r.max_delta);
	/* As tall as the frames drawn, not as the deepest stack. */
	t.depth = r.total > 0 ? visible_depth(&t, 0, 0, r.scale) : 0;
	height = TOP_H + (t.depth + 1) * FRAME_H + LEGEND_H + SVG_PAD;
	r.bottom = TOP_H + (t.depth + 1) * FRAME_H;
	fprintf(out,
		"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" "
		"height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n"
		"<style>text { font-family: monospace; font-size: %dpx; fill: #000; } "
		".title { font-size: 17px; text-anchor: middle; } "
		"g:hover rect { stroke: #000; stroke-width: 0.5; }</style>\n"
		"<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" fill=\"#fdfdf8\"/>\n",
		SVG_WIDTH, height, SVG_WIDTH, height, FONT_PX);
	report_scaled_label(tot, sizeof(tot), r.total, r.unit);
	fprintf(out, "<text class=\"title\" x=\"%.0f\" y=\"22\">", SVG_WIDTH / 2);
	xml_text(out, type, 64);
	if (!diff) {
		fprintf(out, ": total %s</text>\n", tot);
	} else {
		report_scaled_label(b, sizeof(b), t.n[0].base, r.unit);
		report_scaled_label(d, sizeof(d), r.total - t.n[0].base, r.unit);
		fprintf(out, ": new %s, base %s, change %s%s</text>\n", tot, b,
			r.total > t.n[0].base ? "+" : "", d);
	}
	if (r.total <= 0)
		fprintf(out, "<text x=\"%.0f\" y=\"%.0f\">no samples</text>\n", SVG_PAD,
			TOP_H + FRAME_H);
	else
		err = draw(&r, 0, SVG_PAD, 0);
	legend(&r, r.bottom + 8);
	fprintf(out, "</svg>\n");
	tree_free(&t);
	if (!err && ferror(out))
		err = -EIO;
	return err;
}
