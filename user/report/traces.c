// SPDX-License-Identifier: Apache-2.0
/*
 * Every sample's stack with its value and labels, in the shape of
 * `go tool pprof -traces`: the profile's header lines, then per sample a
 * separator, its string labels, its numeric labels (each group sorted as
 * printed lines), and its frames leaf first, the value beside the leaf.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "profile/diff.h"
#include "profile/profile.h"
#include "report/report.h"
#include "util/util.h"

#define SEPARATOR "-----------+-------------------------------------------------------"

struct unit_def {
	const char *name;	    /* as printed */
	const char *const *aliases; /* lower case */
	double factor;		    /* in the type's base unit */
};

static const char *const b_al[] = { "b", "byte", NULL },
			 *const kb_al[] = { "kb", "kbyte", "kilobyte", NULL },
			 *const mb_al[] = { "mb", "mbyte", "megabyte", NULL },
			 *const gb_al[] = { "gb", "gbyte", "gigabyte", NULL },
			 *const tb_al[] = { "tb", "tbyte", "terabyte", NULL },
			 *const pb_al[] = { "pb", "pbyte", "petabyte", NULL },
			 *const ns_al[] = { "ns", "nanosecond", NULL },
			 *const us_al[] = { "μs", "us", "microsecond", NULL },
			 *const ms_al[] = { "ms", "millisecond", NULL },
			 *const s_al[] = { "s", "sec", "second", NULL },
			 *const h_al[] = { "hour", "hr", NULL };

static const struct unit_def memory_units[] = {
	{ "B", b_al, 1 },
	{ "kB", kb_al, 1024.0 },
	{ "MB", mb_al, 1048576.0 },
	{ "GB", gb_al, 1073741824.0 },
	{ "TB", tb_al, 1099511627776.0 },
	{ "PB", pb_al, 1125899906842624.0 },
	{ NULL, NULL, 0 },
};

static const struct unit_def time_units[] = {
	{ "ns", ns_al, 1 }, { "us", us_al, 1e3 },    { "ms", ms_al, 1e6 },
	{ "s", s_al, 1e9 }, { "hrs", h_al, 3600e9 }, { NULL, NULL, 0 },
};

/* The unit of types named by unit (pprof's sniffing: lower case, a plural 's' off). */
static const struct unit_def *sniff(const struct unit_def *types, const char *unit)
{
	char u[32];
	size_t n = strlen(unit), i;
	const char *const *a;

	if (n >= sizeof(u))
		return NULL;
	for (i = 0; i <= n; i++)
		u[i] = (unit[i] >= 'A' && unit[i] <= 'Z') ? unit[i] - 'A' + 'a' : unit[i];
	if (n > 2 && u[n - 1] == 's')
		u[n - 1] = '\0';
	for (; types->name; types++)
		for (a = types->aliases; *a; a++)
			if (!strcmp(*a, u))
				return types;
	return NULL;
}

void report_scaled_label(char *buf, size_t len, int64_t value, const char *unit)
{
	static const struct unit_def *const types[] = { memory_units, time_units };
	const struct unit_def *from = NULL, *u, *best = NULL;
	const char *suffix = "";
	double v = value < 0 ? -(double)value : (double)value;
	char num[48];
	size_t t;

	for (t = 0; t < 2 && !from; t++) {
		from = sniff(types[t], unit);
		if (!from)
			continue;
		v *= from->factor;
		for (u = types[t]; u->name; u++)
			if ((!best || u->factor >= best->factor) && v / u->factor >= 1.0)
				best = u;
		if (!best) /* below the smallest unit: the type's default */
			best = types[t] == memory_units ? &memory_units[0] : &time_units[3];
		v /= best->factor;
		suffix = best->name;
	}
	snprintf(num, sizeof(num), "%.2f", value < 0 ? -v : v);
	t = strlen(num);
	if (t > 3 && !strcmp(num + t - 3, ".00"))
		num[t - 3] = '\0';
	if (!strcmp(num, "0") || !strcmp(num, "-0"))
		snprintf(buf, len, "0");
	else
		snprintf(buf, len, "%s%s", num, suffix);
}

/* pprof's percentage: "  100%", "12.34%", or two significant digits below 1%. */
static void percentage(char *buf, size_t len, double value, double total)
{
	double r = total != 0 ? fabs(value / total) * 100 : 0;

	if (r >= 99.95 && r <= 100.05)
		snprintf(buf, len, "  100%%");
	else if (r >= 1.0)
		snprintf(buf, len, "%5.2f%%", r);
	else
		snprintf(buf, len, "%5.2g%%", r);
}

/* The header lines pprof prints above a report of p (its ProfileLabels). */
int report_header(FILE *out, const struct profile *p, int si)
{
	const char *unit = profile__str(p, p->sample_types[si].unit);
	char dur[48], tot[48], ratio[24] = "", when[64];
	int64_t total = profile__diff_total(p, si);
	size_t i;

	if (p->nmappings) {
		const char *file = profile__str(p, p->mappings[0].filename);

		if (*file)
			fprintf(out, "File: %s\n", path_base(file));
		if (*profile__str(p, p->mappings[0].build_id))
			fprintf(out, "Build ID: %s\n", profile__str(p, p->mappings[0].build_id));
	}
	for (i = 0; i < p->ncomments; i++)
		if (profile__str(p, p->comments[i])[0] != '#')
			fprintf(out, "%s\n", profile__str(p, p->comments[i]));
	fprintf(out, "Type: %s\n", profile__str(p, p->sample_types[si].type));
	if (p->time_nanos) {
		time_t t = (time_t)(p->time_nanos / 1000000000);
		struct tm tm;

		if (localtime_r(&t, &tm) &&
		    strftime(when, sizeof(when), "%b %-d, %Y at %-I:%M%P (%Z)", &tm))
			fprintf(out, "Time: %s\n", when);
	}
	if (p->duration_nanos) {
		report_scaled_label(dur, sizeof(dur), p->duration_nanos, "nanoseconds");
		report_scaled_label(tot, sizeof(tot), total, unit);
		if (sniff(time_units, unit) && total) {
			char pc[16];

			percentage(pc, sizeof(pc), (double)total * sniff(time_units, unit)->factor,
				   (double)p->duration_nanos);
			snprintf(ratio, sizeof(ratio), "(%s)", pc);
		}
		fprintf(out, "Duration: %s, Total samples = %s %s\n", dur, tot, ratio);
	}
	return ferror(out) ? -EIO : 0;
}

/* The unit pprof gives numeric label key: the first one a sample names, else guessed from key. */
static const char *label_unit(const struct profile *p, int64_t key)
{
	const char *k = profile__str(p, key);
	size_t i, j;

	for (i = 0; i < p->nsamples; i++)
		for (j = 0; j < p->samples[i].nlabels; j++) {
			const struct pf_label *l = &p->samples[i].labels[j];

			if (l->key == key && !l->str && l->num_unit &&
			    *profile__str(p, l->num_unit))
				return profile__str(p, l->num_unit);
		}
	return !strcmp(k, "alignment") || !strcmp(k, "request") ? "bytes" : k;
}

/* Label units, looked up once per key: profiles have a handful of keys. */
struct unit_cache {
	int64_t keys[32];
	const char *units[32];
	size_t n;
};

static const char *cached_unit(struct unit_cache *c, const struct profile *p, int64_t key)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->keys[i] == key)
			return c->units[i];
	if (c->n == sizeof(c->keys) / sizeof(c->keys[0]))
		return label_unit(p, key);
	c->keys[c->n] = key;
	c->units[c->n] = label_unit(p, key);
	return c->units[c->n++];
}

static int cmp_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * One line per key ("%10s:  v1 v2"), the values of a key in the sample's
 * order, sorted as strings; numeric labels when numeric.  Returns the number
 * of lines (malloc'd in lines) or -ENOMEM.
 */
static int label_lines(const struct profile *p, const struct pf_sample *s, bool numeric,
		       struct unit_cache *uc, char **lines)
{
	size_t i, j, n = 0;

	for (i = 0; i < s->nlabels; i++) {
		const struct pf_label *l = &s->labels[i];
		char *line = NULL, val[64];
		size_t len = 0;
		FILE *f;
		bool seen = false;

		if ((l->str == 0) != numeric)
			continue;
		for (j = 0; j < i && !seen; j++)
			seen = s->labels[j].key == l->key && (s->labels[j].str == 0) == numeric;
		if (seen)
			continue;
		f = open_memstream(&line, &len);
		if (!f)
			goto nomem;
		fprintf(f, "%10s: ", profile__str(p, l->key));
		for (j = i; j < s->nlabels; j++) {
			const struct pf_label *m = &s->labels[j];

			if (m->key != l->key || (m->str == 0) != numeric)
				continue;
			if (numeric)
				report_scaled_label(val, sizeof(val), m->num,
						    cached_unit(uc, p, m->key));
			fprintf(f, " %s", numeric ? val : profile__str(p, m->str));
		}
		if (fclose(f) || !line)
			goto nomem;
		/* pprof puts two spaces after the colon, one between values. */
		lines[n++] = line;
	}
	qsort(lines, n, sizeof(*lines), cmp_lines);
	return (int)n;
nomem:
	while (n)
		free(lines[--n]);
	return -ENOMEM;
}

/* A frame as pprof names it at function granularity. */
static const char *frame(const struct profile *p, const struct pf_location *loc, size_t l,
			 char *buf, size_t len)
{
	const struct pf_function *f =
		l < loc->nlines ? profile__function(p, loc->lines[l].function_id) : NULL;
	const struct pf_mapping *m;
	const char *file;

	if (f && *profile__str(p, f->name))
		return profile__str(p, f->name);
	m = profile__mapping(p, loc->mapping_id);
	file = m ? profile__str(p, m->filename) : "";
	if (!*file)
		return "<unknown>";
	snprintf(buf, len, "[%s]", path_base(file));
	return buf;
}

int report_traces(FILE *out, const struct profile *p, int si)
{
	const char *unit;
	struct unit_cache uc = { .n = 0 };
	char **lines = NULL, value[48], name[320];
	size_t i, j, l, maxl = 1;
	int n, k, err;

	if (si < 0 || (size_t)si >= p->nsample_types)
		return -EINVAL;
	unit = profile__str(p, p->sample_types[si].unit);
	err = report_header(out, p, si);
	for (i = 0; i < p->nsamples; i++)
		if (p->samples[i].nlabels > maxl)
			maxl = p->samples[i].nlabels;
	lines = malloc(maxl * sizeof(*lines));
	if (!lines)
		return -ENOMEM;
	for (i = 0; i < p->nsamples && !err; i++) {
		const struct pf_sample *s = &p->samples[i];
		bool first = true;

		if (!s->nlocations)
			continue;
		fprintf(out, "%s\n", SEPARATOR);
		for (k = 0; k < 2 && !err; k++) {
			n = label_lines(p, s, k == 1, &uc, lines);
			if (n < 0)
				err = n;
			while (n > 0) {
				fprintf(out, "%s\n", lines[0]);
				free(lines[0]);
				memmove(lines, lines + 1, --n * sizeof(*lines));
			}
		}
		report_scaled_label(value, sizeof(value), s->values[si], unit);
		for (j = 0; j < s->nlocations && !err; j++) {
			const struct pf_location *loc = profile__location(p, s->location_ids[j]);
			size_t nl;

			if (!loc) {
				err = -EINVAL;
				break;
			}
			nl = loc->nlines ? loc->nlines : 1;
			for (l = 0; l < nl; l++) {
				fprintf(out, "%10s   %s%s\n", first ? value : "",
					frame(p, loc, l, name, sizeof(name)),
					l + 1 < nl ? " (inline)" : "");
				first = false;
			}
		}
	}
	free(lines);
	if (!err)
		fprintf(out, "%s\n", SEPARATOR);
	if (!err && ferror(out))
		err = -EIO;
	return err;
}
